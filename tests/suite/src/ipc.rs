//! IPC on endpoints between threads: call and reply, send and receive,
//! the non-blocking variants, badges, capability transfer and long
//! messages through the IPC buffer.
//!
//! Partner threads come from the framework (`sel4_rootserver::thread`) at
//! its default priority (254, above the test thread), so a partner that
//! waits is already blocked when the test sends.

use alloc::vec::Vec;
use sel4_rootserver::thread::spawn;
use sel4_sys::{MessageInfo, MSG_MAX_LENGTH};
use sel4_test_harness::kernel::{self, rights};
use sel4_test_harness::{ensure, ensure_eq, sel4_test, Ctx, TestResult};

use crate::util::{badged, endpoint, fw, notification, tag, OBJECT_SLOTS};

#[sel4_test(sel4test_partly = "IPC0002")]
fn call_and_reply_carry_label_and_words(ctx: &mut Ctx) -> TestResult {
    let ep = endpoint(ctx)?;
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let server = spawn(&mut objs, move || {
        let r = sel4_sys::recv_regs(ep);
        let m = r.mrs;
        sel4_sys::reply_regs(
            MessageInfo::new(r.info.get_label() + 100, 0, 0, 3),
            [m[0] + m[1], m[2] * 2, m[3] ^ 0xff, 0],
        );
        (r.info.get_label(), r.info.get_length(), r.badge)
    })
    .map_err(fw("spawn"))?;
    let reply = sel4_sys::call_regs(ep, MessageInfo::new(7, 0, 0, 4), [1, 2, 3, 4]);
    let (label, len, badge) = server.join(&mut objs).map_err(fw("join"))?;
    ensure_eq!((label, len, badge), (7, 4, 0), "what the server got");
    ensure_eq!(reply.info.get_label(), 107, "reply label");
    ensure_eq!(reply.info.get_length(), 3, "reply length");
    ensure_eq!(&reply.mrs[..3], &[3, 6, 4 ^ 0xff], "reply words");
    Ok(())
}

#[sel4_test]
fn call_blocks_until_reply(ctx: &mut Ctx) -> TestResult {
    let ep = endpoint(ctx)?;
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let done = alloc::sync::Arc::new(core::sync::atomic::AtomicBool::new(false));
    let d2 = done.clone();
    let client = spawn(&mut objs, move || {
        let r = sel4_sys::call_regs(ep, MessageInfo::new(1, 0, 0, 1), [41, 0, 0, 0]);
        d2.store(true, core::sync::atomic::Ordering::SeqCst);
        r.mrs[0]
    })
    .map_err(fw("spawn"))?;
    // The client (higher priority) has called and is now blocked.
    let r = sel4_sys::recv_regs(ep);
    ensure_eq!(r.mrs[0], 41);
    for _ in 0..5 {
        sel4_sys::yield_now();
    }
    ensure!(
        !done.load(core::sync::atomic::Ordering::SeqCst),
        "the caller ran on before the reply"
    );
    sel4_sys::reply_regs(MessageInfo::new(0, 0, 0, 1), [42, 0, 0, 0]);
    ensure_eq!(client.join(&mut objs).map_err(fw("join"))?, 42);
    ensure!(done.load(core::sync::atomic::Ordering::SeqCst));
    Ok(())
}

/// A Reply with no caller to answer goes nowhere: once the first Reply has
/// used the reply capability (SaveCaller then finds none), a second Reply
/// returns and is lost, also while the caller is blocked in its next call
/// (which this thread has not received yet): that call gets the answer sent
/// after it was received, not the stray one. A thread that never received
/// a call replies to nobody too.
#[sel4_test]
fn reply_without_caller_does_nothing(ctx: &mut Ctx) -> TestResult {
    sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
        let _ = ctx;
        crate::util::no_save_caller()
    } else {
        reply_without_caller(ctx)
    } }
}

sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {} else {
/// [`reply_without_caller_does_nothing`] on kernels with CNode_SaveCaller.
fn reply_without_caller(ctx: &mut Ctx) -> TestResult {
    let ep = endpoint(ctx)?;
    let saved = ctx.slot()?;
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    // Never received a call: nothing to answer.
    sel4_sys::reply_regs(MessageInfo::new(4, 0, 0, 1), [44, 0, 0, 0]);
    // Above this thread: each call blocks it until answered.
    let client = spawn(&mut objs, move || {
        let mut got = Vec::new();
        for i in 0..2u64 {
            let r = sel4_sys::call_regs(ep, MessageInfo::new(1, 0, 0, 1), [i, 0, 0, 0]);
            got.push((r.info.get_label(), r.mrs[0]));
        }
        got
    })
    .map_err(fw("spawn"))?;
    let r = sel4_sys::recv_regs(ep);
    ensure_eq!(r.mrs[0], 0, "the first call");
    sel4_sys::reply_regs(MessageInfo::new(5, 0, 0, 1), [55, 0, 0, 0]);
    // The client has made its second call and waits in it.
    kernel::invoke(
        kernel::ROOT_CNODE,
        sel4_sys::InvocationLabel::CNodeSaveCaller,
        &[],
        &[saved, kernel::DEPTH],
    )?;
    ensure!(
        crate::util::is_empty(saved)?,
        "a reply capability left after the reply"
    );
    sel4_sys::reply_regs(MessageInfo::new(6, 0, 0, 1), [66, 0, 0, 0]);
    let r = sel4_sys::recv_regs(ep);
    ensure_eq!(r.mrs[0], 1, "the second call");
    sel4_sys::reply_regs(MessageInfo::new(7, 0, 0, 1), [77, 0, 0, 0]);
    ensure_eq!(
        client.join(&mut objs).map_err(fw("join"))?,
        alloc::vec![(5, 55), (7, 77)],
        "the answers the client got"
    );
    Ok(())
}
} }

#[sel4_test(sel4test_partly = "IPC0001")]
fn send_then_recv_delivers_message(ctx: &mut Ctx) -> TestResult {
    let ep = endpoint(ctx)?;
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let rx = spawn(&mut objs, move || {
        let r = sel4_sys::recv_regs(ep);
        (r.info.get_label(), r.info.get_length(), r.mrs)
    })
    .map_err(fw("spawn"))?;
    sel4_sys::send_regs(ep, MessageInfo::new(0x321, 0, 0, 2), [9, 8, 7, 6]);
    let (label, len, mrs) = rx.join(&mut objs).map_err(fw("join"))?;
    ensure_eq!((label, len), (0x321, 2));
    ensure_eq!(&mrs[..2], &[9, 8]);
    Ok(())
}

#[sel4_test]
fn send_blocks_until_received(ctx: &mut Ctx) -> TestResult {
    let ep = endpoint(ctx)?;
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let sent = alloc::sync::Arc::new(core::sync::atomic::AtomicBool::new(false));
    let s2 = sent.clone();
    let tx = spawn(&mut objs, move || {
        sel4_sys::send_regs(ep, MessageInfo::new(3, 0, 0, 1), [33, 0, 0, 0]);
        s2.store(true, core::sync::atomic::Ordering::SeqCst);
    })
    .map_err(fw("spawn"))?;
    ensure!(
        !sent.load(core::sync::atomic::Ordering::SeqCst),
        "Send returned without a receiver"
    );
    let r = sel4_sys::recv_regs(ep);
    ensure_eq!((r.info.get_label(), r.mrs[0]), (3, 33));
    tx.join(&mut objs).map_err(fw("join"))?;
    ensure!(sent.load(core::sync::atomic::Ordering::SeqCst));
    Ok(())
}

#[sel4_test(sel4test_partly = "IPC0004")]
fn nb_send_reaches_waiting_receiver_only(ctx: &mut Ctx) -> TestResult {
    let ep = endpoint(ctx)?;
    // Nobody waits: dropped.
    sel4_sys::nb_send_regs(ep, MessageInfo::new(1, 0, 0, 1), [111, 0, 0, 0]);
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let rx = spawn(&mut objs, move || {
        let r = sel4_sys::recv_regs(ep);
        (r.info.get_label(), r.mrs[0])
    })
    .map_err(fw("spawn"))?;
    // The receiver waits now: delivered.
    sel4_sys::nb_send_regs(ep, MessageInfo::new(2, 0, 0, 1), [222, 0, 0, 0]);
    ensure_eq!(
        rx.join(&mut objs).map_err(fw("join"))?,
        (2, 222),
        "the receiver must get the second message, the first was dropped"
    );
    Ok(())
}

#[sel4_test(sel4test_partly = "NBWAIT0001")]
fn nb_recv_takes_a_blocked_sender(ctx: &mut Ctx) -> TestResult {
    let ep = endpoint(ctx)?;
    let r = sel4_sys::nb_recv_regs(ep);
    ensure_eq!(
        (r.info.get_label(), r.info.get_length(), r.badge),
        (0, 0, 0),
        "nothing pending"
    );
    let b = badged(ctx, ep, 0x5a)?;
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let tx = spawn(&mut objs, move || {
        sel4_sys::send_regs(b, MessageInfo::new(4, 0, 0, 1), [44, 0, 0, 0]);
    })
    .map_err(fw("spawn"))?;
    let r = sel4_sys::nb_recv_regs(ep);
    ensure_eq!((r.info.get_label(), r.mrs[0], r.badge), (4, 44, 0x5a));
    tx.join(&mut objs).map_err(fw("join"))?;
    let r = sel4_sys::nb_recv_regs(ep);
    ensure_eq!(r.info.get_label(), 0, "nothing pending afterwards");
    Ok(())
}

#[sel4_test]
fn badges_identify_senders(ctx: &mut Ctx) -> TestResult {
    let ep = endpoint(ctx)?;
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let mut senders = Vec::new();
    for badge in [0x11u64, 0x22, 0x33] {
        let b = badged(ctx, ep, badge)?;
        senders.push(
            spawn(&mut objs, move || {
                sel4_sys::send_regs(b, MessageInfo::new(0, 0, 0, 1), [badge, 0, 0, 0]);
            })
            .map_err(fw("spawn"))?,
        );
    }
    for _ in 0..3 {
        let r = sel4_sys::recv_regs(ep);
        ensure_eq!(r.badge, r.mrs[0], "badge of the message");
    }
    for s in senders {
        s.join(&mut objs).map_err(fw("join"))?;
    }
    Ok(())
}

/// Receiver side of a capability transfer: receives into `slot` of the
/// root CNode; returns (extra caps, unwrapped mask, badge word 0, label).
fn receive_cap(ep: u64, slot: u64) -> (u64, u64, u64, u64) {
    sel4_sys::ipc_buffer().set_receive_fields(sel4_sys::ReceiveFields {
        cnode: kernel::ROOT_CNODE,
        index: slot,
        depth: kernel::DEPTH,
    });
    let r = sel4_sys::recv_regs(ep);
    let w0 = sel4_sys::ipc_buffer().cap_or_badge(0);
    (
        r.info.get_extra_caps(),
        r.info.get_caps_unwrapped(),
        w0,
        r.info.get_label(),
    )
}

fn send_cap(ep: u64, cap: u64) {
    sel4_sys::ipc_buffer().set_caps(&[cap]);
    sel4_sys::send_regs(ep, MessageInfo::new(9, 0, 1, 0), [0; 4]);
}

#[sel4_test]
fn cap_transfer_gives_receiver_a_working_cap(ctx: &mut Ctx) -> TestResult {
    let ep = endpoint(ctx)?;
    let ntfn = notification(ctx)?;
    let signaller = badged(ctx, ntfn, 0x40)?;
    let slot = ctx.slot()?;
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let rx = spawn(&mut objs, move || receive_cap(ep, slot)).map_err(fw("spawn"))?;
    send_cap(ep, signaller);
    let (extra, unwrapped, _, label) = rx.join(&mut objs).map_err(fw("join"))?;
    ensure_eq!((extra, unwrapped, label), (1, 0, 9));
    ensure_eq!(crate::util::cap_type(slot)?, tag::NOTIFICATION);
    // The transferred copy keeps its badge.
    sel4_sys::signal(slot);
    ensure_eq!(sel4_sys::poll(ntfn), 0x40);
    // The sender's cap is still there (transfer copies).
    ensure_eq!(crate::util::cap_type(signaller)?, tag::NOTIFICATION);
    Ok(())
}

#[sel4_test]
fn cap_to_own_endpoint_is_unwrapped(ctx: &mut Ctx) -> TestResult {
    let ep = endpoint(ctx)?;
    let b = badged(ctx, ep, 0x77)?;
    let slot = ctx.slot()?;
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let rx = spawn(&mut objs, move || receive_cap(ep, slot)).map_err(fw("spawn"))?;
    send_cap(ep, b);
    let (extra, unwrapped, w0, _) = rx.join(&mut objs).map_err(fw("join"))?;
    ensure_eq!(
        (extra, unwrapped, w0),
        (1, 1, 0x77),
        "badge arrives instead of the cap"
    );
    ensure!(
        crate::util::is_empty(slot)?,
        "nothing stored in the receive slot"
    );
    Ok(())
}

#[sel4_test(sel4test_partly = "IPCRIGHTS0003")]
fn cap_transfer_needs_grant_right(ctx: &mut Ctx) -> TestResult {
    let ep = endpoint(ctx)?;
    let no_grant = ctx.slot()?;
    kernel::cnode_mint(no_grant, ep, rights::RW, 0)?;
    let ntfn = notification(ctx)?;
    let slot = ctx.slot()?;
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let rx = spawn(&mut objs, move || receive_cap(ep, slot)).map_err(fw("spawn"))?;
    send_cap(no_grant, ntfn);
    let (extra, _, _, label) = rx.join(&mut objs).map_err(fw("join"))?;
    ensure_eq!(label, 9, "the message arrives");
    ensure_eq!(extra, 0, "but without the capability");
    ensure!(crate::util::is_empty(slot)?, "receive slot stays empty");
    Ok(())
}

#[sel4_test]
fn long_message_through_ipc_buffer(ctx: &mut Ctx) -> TestResult {
    let ep = endpoint(ctx)?;
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let n = MSG_MAX_LENGTH;
    let server = spawn(&mut objs, move || {
        let r = sel4_sys::recv_regs(ep);
        let len = r.info.get_length() as usize;
        let b = sel4_sys::ipc_buffer();
        let mut got = alloc::vec![0u64; len];
        let in_regs = len.min(4);
        got[..in_regs].copy_from_slice(&r.mrs[..in_regs]);
        if len > 4 {
            b.read_msgs(4, &mut got[4..]);
        }
        for (i, w) in got.iter().enumerate() {
            b.set_msg(i, w * 3);
        }
        let reply = MessageInfo::new(0, 0, 0, len as u64);
        let mrs = [b.msg(0), b.msg(1), b.msg(2), b.msg(3)];
        sel4_sys::reply_regs(reply, mrs);
        got
    })
    .map_err(fw("spawn"))?;
    let words: Vec<u64> = (0..n as u64).map(|i| 0x1000 + i * 7).collect();
    sel4_sys::ipc_buffer().write_msgs(0, &words);
    let info = sel4_sys::call(ep, MessageInfo::new(1, 0, 0, n as u64));
    let got = server.join(&mut objs).map_err(fw("join"))?;
    ensure_eq!(got.len(), n, "words the server got");
    ensure!(got == words, "server saw different words");
    ensure_eq!(info.get_length() as usize, n, "reply length");
    let mut back = alloc::vec![0u64; n];
    sel4_sys::ipc_buffer().read_msgs(0, &mut back);
    for i in 0..n {
        ensure_eq!(back[i], words[i] * 3, "reply word {i}");
    }
    Ok(())
}

#[sel4_test]
fn message_length_is_capped_at_max(ctx: &mut Ctx) -> TestResult {
    let ep = endpoint(ctx)?;
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let rx = spawn(&mut objs, move || {
        let r = sel4_sys::recv_regs(ep);
        r.info.get_length()
    })
    .map_err(fw("spawn"))?;
    // 127 is the largest length the message info can hold.
    sel4_sys::send(ep, MessageInfo::new(1, 0, 0, 127));
    let len = rx.join(&mut objs).map_err(fw("join"))?;
    ensure_eq!(len as usize, MSG_MAX_LENGTH, "length the receiver sees");
    Ok(())
}

#[sel4_test(sel4test_partly = "IPCRIGHTS0001")]
fn endpoint_without_write_right_refuses_messages(ctx: &mut Ctx) -> TestResult {
    let ep = endpoint(ctx)?;
    let read_only = ctx.slot()?;
    kernel::cnode_mint(read_only, ep, rights::READ, 0)?;
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let rx = spawn(&mut objs, move || {
        let r = sel4_sys::recv_regs(ep);
        (r.info.get_label(), r.mrs[0])
    })
    .map_err(fw("spawn"))?;
    // A receiver waits, yet neither a send nor a call gets through a cap
    // without write right: the call gets an error reply, the send is
    // dropped silently (a send has nowhere to report the error).
    sel4_sys::send_regs(read_only, MessageInfo::new(1, 0, 0, 1), [1, 0, 0, 0]);
    let r = sel4_sys::call_regs(read_only, MessageInfo::new(2, 0, 0, 1), [2, 0, 0, 0]);
    ensure_eq!(
        r.info.get_label(),
        sel4_sys::Error::InvalidCapability as u64,
        "call through a read-only cap"
    );
    sel4_sys::send_regs(ep, MessageInfo::new(3, 0, 0, 1), [3, 0, 0, 0]);
    ensure_eq!(
        rx.join(&mut objs).map_err(fw("join"))?,
        (3, 3),
        "the receiver gets only the message sent with write right"
    );
    Ok(())
}
