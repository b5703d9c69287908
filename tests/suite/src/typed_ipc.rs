//! The framework's typed IPC (`sel4_ipc::message!`, `protocol!`,
//! `sel4_rootserver::ipc::{Client, Server}`): encoding and decoding, and a
//! server that answers malformed requests with an error and keeps serving.

use alloc::vec::Vec;
use sel4_rootserver::ipc::{
    self, wire_label, Client, Control, DecodeError, EncodeError, ErrorReply, IpcError, Message,
    ReceivedCap, ReceivedCaps, ReplyError, SendCap, Server, ERROR_LABEL,
};
use sel4_rootserver::sys::{CPtr, InvocationError, MessageInfo, ReceiveFields};
use sel4_rootserver::thread::spawn;
use sel4_rootserver::{Cap, Endpoint, Notification};
use sel4_test_harness::kernel::{self, ROOT_CNODE};
use sel4_test_harness::{ensure, ensure_eq, fail, sel4_test, Ctx, Failure, TestResult};

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
        /// Signals the transferred capability (a notification), if any,
        /// and leaves it to the server (which deletes it and re-arms its
        /// receive slot); answers how many capabilities arrived.
        SignalBack = 7,
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

/// A Calc server on `ep`; returns how many requests it served and the
/// capabilities of every request that carried some. `Whoami` keeps a
/// transferred capability (the server then accepts no more);
/// `SignalBack` signals it and leaves it to the server.
fn serve_calc(ep: Cap<Endpoint>, recv_slot: u64) -> (u64, Vec<ReceivedCaps>) {
    let server: Server<Calc> = Server::new(ep);
    server.set_receive_slot(Some(recv_slot));
    let mut served = 0;
    let mut seen = Vec::new();
    server.serve(|badge, req, caps| {
        served += 1;
        if !caps.is_empty() {
            seen.push(*caps);
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
            Request::Whoami => {
                caps.take_transferred();
                Control::Reply(Answer { value: badge })
            }
            Request::SignalBack => {
                if let Some(slot) = caps.transferred() {
                    Cap::<Notification>::from_cptr(slot).signal();
                }
                Control::Reply(Answer {
                    value: caps.len() as u64,
                })
            }
            Request::Stop => Control::ReplyAndStop(Answer { value: served }),
        }
    });
    (served, seen)
}

/// Whether `slot` is empty, on any kernel (copying a capability into an
/// occupied slot fails with DeleteFirst).
fn slot_is_empty(slot: CPtr) -> Result<bool, Failure> {
    match kernel::cnode_copy(slot, ROOT_CNODE, kernel::rights::ALL) {
        Ok(_) => {
            kernel::cnode_delete(slot)?;
            Ok(true)
        }
        Err(e) if e.error == Some(sel4_sys::Error::DeleteFirst) => Ok(false),
        Err(e) => Err(Failure::fail(alloc::format!("probing slot {slot:#x}: {e}"))),
    }
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
        client.call_raw(wire_label(1234), &[1]),
        Err(IpcError::Remote(ErrorReply::UnknownLabel(1234)))
    );
    ensure_eq!(
        client.call_raw(wire_label(1), &[1, 2, 3]),
        Err(IpcError::Remote(ErrorReply::WrongLength {
            label: 1,
            expected: 2,
            got: 3
        }))
    );
    ensure_eq!(
        client.call_raw(wire_label(3), &[5]),
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
    let (_, seen) = h.join(&mut objs).map_err(fw("join"))?;
    ensure_eq!(seen.len(), 1, "requests with capabilities: {seen:?}");
    ensure_eq!(seen[0].get(0), Some(ReceivedCap::Transferred(slot)));
    ensure_eq!(seen[0].len(), 1);
    sel4_sys::signal(slot);
    ensure_eq!(sel4_sys::poll(ntfn), 0x600, "the transferred cap signals");
    Ok(())
}

/// A server without a receive slot does not write the receive fields in
/// `Server::serve` (issue 11: nothing to check on its usual request). When
/// other code of its thread left them naming an empty slot, a capability
/// sent with a request lands there: the server deletes it before the
/// handler runs, the handler sees none, and the server's (empty) fields
/// are written, so the next one is not transferred at all.
#[sel4_test]
fn server_without_a_slot_deletes_a_capability_that_stale_fields_let_in(
    ctx: &mut Ctx,
) -> TestResult {
    let ep = endpoint(ctx)?;
    let stale = ctx.slot()?;
    let ntfn = notification(ctx)?;
    let sig = badged(ctx, ntfn, 0x700)?;
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let epc: Cap<Endpoint> = Cap::from_cptr(ep);
    let h = spawn(&mut objs, move || {
        let b = sel4_sys::ipc_buffer();
        b.set_receive_fields(ReceiveFields {
            cnode: ROOT_CNODE,
            index: stale,
            depth: kernel::DEPTH,
        });
        let server: Server<Calc> = Server::new(epc);
        let mut seen = Vec::new();
        server.serve(|_, req, caps| {
            seen.push(caps.len());
            match req {
                Request::Stop => Control::ReplyAndStop(Answer { value: 0 }),
                _ => Control::Reply(Answer {
                    value: caps.len() as u64,
                }),
            }
        });
        (seen, b.receive_fields())
    })
    .map_err(fw("spawn"))?;
    let client: Client<Calc> = Client::new(epc);
    let sigc: Cap<Notification> = Cap::from_cptr(sig);
    // A request in registers first (the server's fast loop), then two with
    // a capability.
    ensure_eq!(
        client.call(&Request::Whoami).map_err(dbg("whoami"))?.value,
        0
    );
    for i in 0..2 {
        let r = client
            .call_with_cap(&Request::SignalBack, sigc)
            .map_err(dbg("call with cap"))?;
        ensure_eq!(r.value, 0, "capabilities the handler saw (request {i})");
    }
    client.call(&Request::Stop).map_err(dbg("stop"))?;
    let (seen, fields) = h.join(&mut objs).map_err(fw("join"))?;
    ensure_eq!(seen, [0, 0, 0, 0]);
    ensure!(
        slot_is_empty(stale)?,
        "the capability the stale receive fields let in is still in their slot"
    );
    ensure_eq!(
        fields,
        ReceiveFields::default(),
        "the server's receive fields after a capability landed elsewhere"
    );
    Ok(())
}

/// How a test sends a capability: `U` a badged copy of the server's own
/// endpoint (the kernel unwraps it into its badge), `T` a badged
/// notification (transferred into the server's receive slot).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    U,
    T,
}

/// Issue 7, item 1: every mix of 0 to 3 unwrapped and transferred
/// capabilities, in every order. The handler sees each one the kernel
/// passed on (the badges, and at most one transferred capability: the
/// kernel stops at a second one to transfer), the transferred one works,
/// and the receive slot takes the next one every time (before the fix, an
/// unwrapped first capability hid the transfer and the full slot refused
/// every later one).
#[sel4_test]
fn every_mix_of_unwrapped_and_transferred_caps_arrives(ctx: &mut Ctx) -> TestResult {
    let ep = endpoint(ctx)?;
    let slot = ctx.slot()?;
    let ntfn = notification(ctx)?;
    let sig = badged(ctx, ntfn, 0x10)?;
    let mut unwrap = [0; 3];
    for (i, u) in unwrap.iter_mut().enumerate() {
        *u = badged(ctx, ep, 0x70 + i as u64)?;
    }
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let epc: Cap<Endpoint> = Cap::from_cptr(ep);
    let h = spawn(&mut objs, move || serve_calc(epc, slot)).map_err(fw("spawn"))?;
    let client: Client<Calc> = Client::new(epc);
    let mut expected_seen = Vec::new();
    for n in 0..=3usize {
        for mask in 0..(1u32 << n) {
            let kinds: Vec<Kind> = (0..n)
                .map(|i| {
                    if mask & (1 << i) != 0 {
                        Kind::T
                    } else {
                        Kind::U
                    }
                })
                .collect();
            let caps: Vec<SendCap> = kinds
                .iter()
                .enumerate()
                .map(|(i, k)| match k {
                    Kind::U => Cap::<Endpoint>::from_cptr(unwrap[i]).into(),
                    Kind::T => Cap::<Notification>::from_cptr(sig).into(),
                })
                .collect();
            let mut expected = Vec::new();
            let mut transferred = false;
            for (i, k) in kinds.iter().enumerate() {
                match k {
                    Kind::U => expected.push(ReceivedCap::Unwrapped {
                        badge: 0x70 + i as u64,
                    }),
                    Kind::T if !transferred => {
                        transferred = true;
                        expected.push(ReceivedCap::Transferred(slot));
                    }
                    Kind::T => break,
                }
            }
            let r = client
                .call_with_caps(&Request::SignalBack, &caps)
                .map_err(dbg("call with caps"))?;
            ensure_eq!(
                r.value,
                expected.len() as u64,
                "capabilities the handler saw for {kinds:?}"
            );
            let bits = sel4_sys::poll(ntfn);
            ensure_eq!(
                bits,
                if transferred { 0x10 } else { 0 },
                "signal through the transferred capability for {kinds:?}"
            );
            if !expected.is_empty() {
                expected_seen.push((kinds, expected));
            }
        }
    }
    client.call(&Request::Stop).map_err(dbg("stop"))?;
    let (served, seen) = h.join(&mut objs).map_err(fw("join"))?;
    ensure_eq!(served, 16);
    ensure_eq!(seen.len(), expected_seen.len());
    for (got, (kinds, want)) in seen.iter().zip(&expected_seen) {
        let got: Vec<ReceivedCap> = got.iter().collect();
        ensure!(
            got == *want,
            "{kinds:?}: the handler saw {got:?}, want {want:?}"
        );
    }
    ensure!(
        slot_is_empty(slot)?,
        "the server left a capability in its receive slot"
    );
    Ok(())
}

/// Issue 7, item 2: requests that do not decode but carry a capability get
/// their error reply; the capability is deleted (not kept in the receive
/// slot), and the next transfer lands in the same slot.
#[sel4_test]
fn malformed_request_with_cap_keeps_the_receive_slot(ctx: &mut Ctx) -> TestResult {
    let ep = endpoint(ctx)?;
    let slot = ctx.slot()?;
    let ntfn = notification(ctx)?;
    let sig = badged(ctx, ntfn, 0x20)?;
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let epc: Cap<Endpoint> = Cap::from_cptr(ep);
    let h = spawn(&mut objs, move || serve_calc(epc, slot)).map_err(fw("spawn"))?;
    let client: Client<Calc> = Client::new(epc);
    let sigc: SendCap = Cap::<Notification>::from_cptr(sig).into();
    let bad = [
        (wire_label(1234), ErrorReply::UnknownLabel(1234)),
        (
            wire_label(1),
            ErrorReply::WrongLength {
                label: 1,
                expected: 2,
                got: 3,
            },
        ),
        (2, ErrorReply::ReservedLabel(2)),
        (ERROR_LABEL, ErrorReply::ReservedLabel(ERROR_LABEL)),
    ];
    for (wire, reply) in bad {
        let r = client.call_raw_with_caps(wire, &[1, 2, 3], &[sigc]);
        ensure_eq!(r, Err(IpcError::Remote(reply)), "wire label {wire:#x}");
        ensure!(
            slot_is_empty(slot)?,
            "the capability of a malformed request (wire label {wire:#x}) is still in the slot"
        );
        let r = client
            .call_with_caps(&Request::SignalBack, &[sigc])
            .map_err(dbg("good request after a malformed one"))?;
        ensure_eq!(r.value, 1, "caps after wire label {wire:#x}");
        ensure_eq!(sel4_sys::poll(ntfn), 0x20, "transfer after {wire:#x}");
    }
    client.call(&Request::Stop).map_err(dbg("stop"))?;
    let (served, seen) = h.join(&mut objs).map_err(fw("join"))?;
    ensure_eq!(
        served,
        bad.len() as u64 + 1,
        "malformed requests reached the handler"
    );
    ensure_eq!(seen.len(), bad.len());
    ensure!(
        slot_is_empty(slot)?,
        "a capability left in the receive slot"
    );
    Ok(())
}

ipc::message! {
    /// A response shaped like the kernel's answers: label 0 with no word,
    /// label 2 (InvalidCapability) with one (the capability's number).
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub enum Small {
        Zero = 0,
        One = 1,
        Two { argument: u64 } = 2,
    }
}

ipc::protocol!(pub Probe: Request => Small);

/// Issue 7, item 3: when the kernel answers a call itself (the capability
/// was deleted, has no send right, or is no endpoint), the client gets
/// `IpcError::Kernel`, never a response, even for a response type with
/// variants numbered like the kernel's answers.
#[sel4_test]
fn kernel_answers_are_errors_not_responses(ctx: &mut Ctx) -> TestResult {
    let ep = endpoint(ctx)?;
    let copy = badged(ctx, ep, 9)?;
    kernel::cnode_delete(copy)?;
    let deleted: Client<Probe> = Client::new(Cap::from_cptr(copy));
    ensure_eq!(
        deleted.call(&Request::Whoami),
        Err(IpcError::Kernel(InvocationError::InvalidCapability {
            argument: 0
        })),
        "call through a deleted endpoint capability"
    );
    let never: Client<Probe> = Client::new(Cap::from_cptr(ctx.slot()?));
    ensure_eq!(
        never.call(&Request::Add { a: 1, b: 2 }),
        Err(IpcError::Kernel(InvocationError::InvalidCapability {
            argument: 0
        })),
        "call through an empty slot"
    );
    let read_only = ctx.slot()?;
    kernel::cnode_mint(read_only, ep, kernel::rights::READ, 0)?;
    let ro: Client<Probe> = Client::new(Cap::from_cptr(read_only));
    ensure_eq!(
        ro.call(&Request::Whoami),
        Err(IpcError::Kernel(InvocationError::InvalidCapability {
            argument: 0
        })),
        "call through an endpoint capability without the send right"
    );
    // A notification: the kernel signals it and answers with success.
    let ntfn = notification(ctx)?;
    let n: Client<Probe> = Client::new(Cap::from_cptr(ntfn));
    ensure_eq!(
        n.call(&Request::Whoami),
        Err(IpcError::Kernel(InvocationError::Unknown(0))),
        "call through a notification capability"
    );
    Ok(())
}

/// A reply that carries a capability (framework servers never send one)
/// is refused, and the capability the kernel put into the caller's receive
/// slot (armed, as a server on the same thread would leave it) is deleted.
#[sel4_test]
fn reply_with_a_capability_is_refused_and_the_cap_deleted(ctx: &mut Ctx) -> TestResult {
    let ep = endpoint(ctx)?;
    let ntfn = notification(ctx)?;
    let slot = ctx.slot()?;
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let h = spawn(&mut objs, move || {
        let r = sel4_sys::recv_regs(ep);
        sel4_sys::ipc_buffer().set_caps(&[ntfn]);
        sel4_sys::reply_regs(MessageInfo::new(wire_label(0), 0, 1, 0), [0; 4]);
        r.info.get_label()
    })
    .map_err(fw("spawn"))?;
    let b = sel4_sys::ipc_buffer();
    b.set_receive_fields(ReceiveFields {
        cnode: ROOT_CNODE,
        index: slot,
        depth: kernel::DEPTH,
    });
    let c: Client<Probe> = Client::new(Cap::from_cptr(ep));
    let r = c.call(&Request::Whoami);
    b.set_receive_fields(ReceiveFields::default());
    let label = h.join(&mut objs).map_err(fw("join"))?;
    ensure_eq!(label, wire_label(5), "the request's wire label");
    ensure_eq!(
        r,
        Err(IpcError::BadReply(ReplyError::CarriedCapabilities {
            count: 1
        }))
    );
    ensure!(
        slot_is_empty(slot)?,
        "the capability the reply carried is still in the receive slot"
    );
    Ok(())
}

/// More capabilities than a message carries, or a wire label wider than
/// the kernel's, are encode errors, not a truncated message.
#[sel4_test]
fn too_many_caps_and_wide_labels_are_refused(ctx: &mut Ctx) -> TestResult {
    let ep = endpoint(ctx)?;
    let c: Client<Calc> = Client::new(Cap::from_cptr(ep));
    let e: SendCap = Cap::<Endpoint>::from_cptr(ep).into();
    ensure_eq!(
        c.call_with_caps(&Request::Whoami, &[e, e, e, e]),
        Err(IpcError::Encode(EncodeError::TooManyCaps { got: 4 }))
    );
    ensure_eq!(
        c.call_raw(1 << 20, &[]),
        Err(IpcError::Encode(EncodeError::LabelOutOfRange {
            wire: 1 << 20
        }))
    );
    match c.call_raw_with_caps(wire_label(5), &[], &[e, e, e, e]) {
        Err(IpcError::Encode(EncodeError::TooManyCaps { got: 4 })) => Ok(()),
        other => fail!("four capabilities, raw: {other:?}"),
    }
}

/// A request whose message info looks like what a server passes to its
/// receive (the label the server once used for that, the reply it just
/// sent, all `capsUnwrapped` bits) is answered like any other, never taken
/// for a bound notification's wake-up (before, a client that sent the old
/// label with an empty message hung in its call).
#[sel4_test]
fn requests_that_look_like_wake_ups_are_answered(ctx: &mut Ctx) -> TestResult {
    let ep = endpoint(ctx)?;
    let slot = ctx.slot()?;
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let epc: Cap<Endpoint> = Cap::from_cptr(ep);
    let h = spawn(&mut objs, move || serve_calc(epc, slot)).map_err(fw("spawn"))?;
    let old_sentinel = ERROR_LABEL - 1;
    let client: Client<Calc> = Client::new(epc);
    for info in [
        MessageInfo::new(old_sentinel, 0, 0, 0),
        MessageInfo::new(old_sentinel, 7, 0, 0),
        MessageInfo::new(0, 7, 0, 0),
        MessageInfo::new(ERROR_LABEL, 7, 0, ErrorReply::WORDS as u64),
    ] {
        let r = sel4_sys::call_regs(ep, info, [0; 4]);
        ensure_eq!(r.info.get_label(), ERROR_LABEL, "answer to {info:?}");
        // The server's reply to a good request, sent back to it with the
        // bits a server adds to the reply it passes to ReplyRecv.
        let ok = client
            .call(&Request::Add { a: 1, b: 1 })
            .map_err(dbg("add"))?;
        ensure_eq!(ok.value, 2);
        let echo = MessageInfo::new(wire_label(1), 7, 0, 1);
        let r = sel4_sys::call_regs(ep, echo, [2, 0, 0, 0]);
        ensure_eq!(r.info.get_label(), ERROR_LABEL, "answer to {echo:?}");
    }
    client.call(&Request::Stop).map_err(dbg("stop"))?;
    h.join(&mut objs).map_err(fw("join"))?;
    Ok(())
}
