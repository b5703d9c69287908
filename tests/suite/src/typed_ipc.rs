//! The framework's typed IPC (`sel4_ipc::message!`, `protocol!`,
//! `sel4_rootserver::ipc::{Client, Server}`): encoding and decoding, and a
//! server that answers malformed requests with an error and keeps serving.

use sel4_rootserver::ipc::{
    self, Client, Control, DecodeError, EncodeError, ErrorReply, IpcError, Message, ReceivedCap,
    Server,
};
use sel4_rootserver::thread::spawn;
use sel4_rootserver::{Cap, Endpoint, Notification};
use sel4_test_harness::{ensure, ensure_eq, sel4_test, Ctx, TestResult};

use crate::util::{badged, dbg, endpoint, fw, notification, OBJECT_SLOTS};

ipc::message! {
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub enum Request {
        Add { a: u32, b: u32 } = 1,
        Negate { v: i32 } = 2,
        Flag { on: bool } = 3,
        Sum { values: [u64; 100] } = 4,
        Whoami = 5,
        Stop = 6,
    }
}

ipc::message! {
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub struct Answer { pub value: u64 } = 1;
}

ipc::protocol!(pub Calc: Request => Answer);

#[sel4_test]
fn message_roundtrip_every_field_kind() -> TestResult {
    let mut values = [0u64; 100];
    for (i, v) in values.iter_mut().enumerate() {
        *v = i as u64 * 3;
    }
    let cases = [
        Request::Add { a: u32::MAX, b: 7 },
        Request::Negate { v: -5 },
        Request::Flag { on: true },
        Request::Sum { values },
        Request::Whoami,
    ];
    for req in cases {
        let mut words = [0u64; 120];
        let n = req.encode(&mut words).map_err(dbg("encode"))?;
        let back = Request::decode(req.label(), &words[..n]).map_err(dbg("decode"))?;
        ensure_eq!(back, req);
    }
    let mut words = [0u64; 2];
    ensure_eq!(
        Request::Sum { values }.encode(&mut words),
        Err(EncodeError::BufferTooSmall {
            needed: 100,
            available: 2
        })
    );
    Ok(())
}

#[sel4_test]
fn decode_rejects_bad_messages() -> TestResult {
    ensure_eq!(Request::decode(77, &[]), Err(DecodeError::UnknownLabel(77)));
    ensure_eq!(
        Request::decode(1, &[1]),
        Err(DecodeError::WrongLength {
            label: 1,
            expected: 2,
            got: 1
        })
    );
    ensure_eq!(
        Request::decode(1, &[1, 1 << 40]),
        Err(DecodeError::InvalidValue {
            label: 1,
            index: 1,
            word: 1 << 40
        }),
        "u32 out of range"
    );
    ensure_eq!(
        Request::decode(3, &[2]),
        Err(DecodeError::InvalidValue {
            label: 3,
            index: 0,
            word: 2
        }),
        "bool other than 0 or 1"
    );
    ensure!(
        Request::decode(2, &[(-7i64) as u64]).is_ok(),
        "negative i32"
    );
    ensure!(
        Request::decode(2, &[1 << 40]).is_err(),
        "i32 out of range must be refused"
    );
    Ok(())
}

/// A Calc server on `ep`; returns how many requests it served.
fn serve_calc(ep: Cap<Endpoint>, recv_slot: u64) -> (u64, Option<ReceivedCap>) {
    let server: Server<Calc> = Server::new(ep);
    server.set_receive_slot(Some(recv_slot));
    let mut served = 0;
    let mut cap = None;
    server.serve(|badge, req, c| {
        served += 1;
        if c.is_some() {
            cap = c;
        }
        match req {
            Request::Add { a, b } => Control::Reply(Answer {
                value: u64::from(a) + u64::from(b),
            }),
            Request::Negate { v } => Control::Reply(Answer {
                value: (-i64::from(v)) as u64,
            }),
            Request::Flag { on } => {
                if on {
                    Control::Reply(Answer { value: 1 })
                } else {
                    Control::Refuse(99)
                }
            }
            Request::Sum { values } => Control::Reply(Answer {
                value: values.iter().sum(),
            }),
            Request::Whoami => Control::Reply(Answer { value: badge }),
            Request::Stop => Control::ReplyAndStop(Answer { value: served }),
        }
    });
    (served, cap)
}

#[sel4_test]
fn server_answers_requests(ctx: &mut Ctx) -> TestResult {
    let ep = endpoint(ctx)?;
    let slot = ctx.slot()?;
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let epc: Cap<Endpoint> = Cap::from_cptr(ep);
    let h = spawn(&mut objs, move || serve_calc(epc, slot)).map_err(fw("spawn"))?;
    let client: Client<Calc> = Client::new(epc);
    let r = client
        .call(&Request::Add { a: 40, b: 2 })
        .map_err(dbg("add"))?;
    ensure_eq!(r.value, 42);
    let r = client
        .call(&Request::Negate { v: -9 })
        .map_err(dbg("negate"))?;
    ensure_eq!(r.value, 9);
    let r = client.call(&Request::Flag { on: false });
    ensure_eq!(r, Err(IpcError::Remote(ErrorReply::Refused(99))));
    let r = client.call(&Request::Stop).map_err(dbg("stop"))?;
    let (served, _) = h.join(&mut objs).map_err(fw("join"))?;
    ensure_eq!((served, r.value), (4, 4));
    Ok(())
}

#[sel4_test]
fn malformed_requests_get_errors_and_server_goes_on(ctx: &mut Ctx) -> TestResult {
    let ep = endpoint(ctx)?;
    let slot = ctx.slot()?;
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let epc: Cap<Endpoint> = Cap::from_cptr(ep);
    let h = spawn(&mut objs, move || serve_calc(epc, slot)).map_err(fw("spawn"))?;
    let client: Client<Calc> = Client::new(epc);
    ensure_eq!(
        client.call_raw(1234, &[1]),
        Err(IpcError::Remote(ErrorReply::UnknownLabel(1234)))
    );
    ensure_eq!(
        client.call_raw(1, &[1, 2, 3]),
        Err(IpcError::Remote(ErrorReply::WrongLength {
            label: 1,
            expected: 2,
            got: 3
        }))
    );
    ensure_eq!(
        client.call_raw(3, &[5]),
        Err(IpcError::Remote(ErrorReply::InvalidValue {
            label: 3,
            index: 0,
            word: 5
        }))
    );
    // Still serving.
    let r = client
        .call(&Request::Add { a: 1, b: 2 })
        .map_err(dbg("add"))?;
    ensure_eq!(r.value, 3);
    client.call(&Request::Stop).map_err(dbg("stop"))?;
    let (served, _) = h.join(&mut objs).map_err(fw("join"))?;
    ensure_eq!(served, 2, "malformed requests never reach the handler");
    Ok(())
}

#[sel4_test]
fn long_request_spills_into_ipc_buffer(ctx: &mut Ctx) -> TestResult {
    let ep = endpoint(ctx)?;
    let slot = ctx.slot()?;
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let epc: Cap<Endpoint> = Cap::from_cptr(ep);
    let h = spawn(&mut objs, move || serve_calc(epc, slot)).map_err(fw("spawn"))?;
    let client: Client<Calc> = Client::new(epc);
    let mut values = [0u64; 100];
    for (i, v) in values.iter_mut().enumerate() {
        *v = (i as u64 + 1) * 1000;
    }
    let r = client.call(&Request::Sum { values }).map_err(dbg("sum"))?;
    ensure_eq!(r.value, 5_050_000);
    client.call(&Request::Stop).map_err(dbg("stop"))?;
    h.join(&mut objs).map_err(fw("join"))?;
    Ok(())
}

#[sel4_test]
fn badged_clients_are_told_apart(ctx: &mut Ctx) -> TestResult {
    let ep = endpoint(ctx)?;
    let slot = ctx.slot()?;
    let a = badged(ctx, ep, 0xa1)?;
    let b = badged(ctx, ep, 0xb2)?;
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let epc: Cap<Endpoint> = Cap::from_cptr(ep);
    let h = spawn(&mut objs, move || serve_calc(epc, slot)).map_err(fw("spawn"))?;
    let ca: Client<Calc> = Client::new(Cap::from_cptr(a));
    let cb: Client<Calc> = Client::new(Cap::from_cptr(b));
    ensure_eq!(ca.call(&Request::Whoami).map_err(dbg("a"))?.value, 0xa1);
    ensure_eq!(cb.call(&Request::Whoami).map_err(dbg("b"))?.value, 0xb2);
    ca.call(&Request::Stop).map_err(dbg("stop"))?;
    h.join(&mut objs).map_err(fw("join"))?;
    Ok(())
}

#[sel4_test]
fn request_carries_a_capability(ctx: &mut Ctx) -> TestResult {
    let ep = endpoint(ctx)?;
    let slot = ctx.slot()?;
    let ntfn = notification(ctx)?;
    let sig = badged(ctx, ntfn, 0x600)?;
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let epc: Cap<Endpoint> = Cap::from_cptr(ep);
    let h = spawn(&mut objs, move || serve_calc(epc, slot)).map_err(fw("spawn"))?;
    let client: Client<Calc> = Client::new(epc);
    let sigc: Cap<Notification> = Cap::from_cptr(sig);
    client
        .call_with_cap(&Request::Whoami, sigc)
        .map_err(dbg("call with cap"))?;
    client.call(&Request::Stop).map_err(dbg("stop"))?;
    let (_, cap) = h.join(&mut objs).map_err(fw("join"))?;
    ensure_eq!(cap, Some(ReceivedCap::Transferred(slot)));
    sel4_sys::signal(slot);
    ensure_eq!(sel4_sys::poll(ntfn), 0x600, "the transferred cap signals");
    Ok(())
}
