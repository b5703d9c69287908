//! IPC between two threads as seL4test's ipc.c drives it (IPC0001-0004):
//! every message length from 0 to seL4_MsgMaxLength, with the sender
//! from two priorities below the receiver to two above and both start
//! orders; and a caller suspended in the middle of its Call (IPC0010).

use alloc::format;
use alloc::string::String;
use sel4_sys::{InvocationLabel, MessageInfo, Word, MSG_MAX_LENGTH};
use sel4_test_harness::kernel::invoke;
use sel4_test_harness::{ensure_eq, sel4_test, Ctx, Failure, TestResult};

use crate::support::{helper, join, lift, slots_for, TEST_TOP};
use crate::util::endpoint;

/// One side of a pair: (endpoint, first message word, should an NBRecv
/// side wait) -> what went wrong, if anything.
type Side = fn(Word, Word, bool) -> Result<(), String>;

/// The priority of the receiving side (sel4test's 100).
const WAITER: u8 = TEST_TOP - 20;

fn lengths() -> impl Iterator<Item = usize> {
    0..=MSG_MAX_LENGTH
}

fn fill(len: usize, seed: &mut Word) {
    for i in 0..len {
        sel4_sys::set_mr(i, *seed);
        *seed = seed.wrapping_add(1);
    }
}

/// Checks that the received message has `len` words counting up from
/// `seed`.
fn check(info: MessageInfo, len: usize, seed: &mut Word, what: &str) -> Result<(), String> {
    if info.get_length() as usize != len {
        return Err(format!(
            "{what}: length {} instead of {len}",
            info.get_length()
        ));
    }
    for i in 0..len {
        let w = sel4_sys::get_mr(i);
        if w != *seed {
            return Err(format!(
                "{what} of length {len}: word {i} is {w:#x}, not {seed:#x}"
            ));
        }
        *seed = seed.wrapping_add(1);
    }
    Ok(())
}

fn send_side(ep: Word, mut seed: Word, _: bool) -> Result<(), String> {
    for len in lengths() {
        fill(len, &mut seed);
        sel4_sys::send(ep, MessageInfo::new(0, 0, 0, len as Word));
    }
    Ok(())
}

fn nb_send_side(ep: Word, mut seed: Word, _: bool) -> Result<(), String> {
    for len in lengths() {
        fill(len, &mut seed);
        sel4_sys::nb_send(ep, MessageInfo::new(0, 0, 0, len as Word));
    }
    Ok(())
}

fn call_side(ep: Word, mut seed: Word, _: bool) -> Result<(), String> {
    for len in lengths() {
        fill(len, &mut seed);
        let info = sel4_sys::call(ep, MessageInfo::new(0, 0, 0, len as Word));
        check(info, len, &mut seed, "reply")?;
    }
    Ok(())
}

fn recv_side(ep: Word, mut seed: Word, _: bool) -> Result<(), String> {
    for len in lengths() {
        let (info, _) = sel4_sys::recv(ep);
        check(info, len, &mut seed, "message")?;
    }
    Ok(())
}

fn nb_recv_side(ep: Word, seed: Word, should_wait: bool) -> Result<(), String> {
    // The sender's NBSends reach this side only when it waits already:
    // when it runs first (a higher priority than the sender).
    if should_wait {
        recv_side(ep, seed, true)
    } else {
        Ok(())
    }
}

/// Receives each message and answers it with as many words, continuing
/// the count; `reply_recv` uses ReplyRecv, otherwise Reply then Recv.
fn serve(ep: Word, mut seed: Word, reply_recv: bool) -> Result<(), String> {
    let mut reply = MessageInfo::new(0, 0, 0, 0);
    for (n, len) in lengths().enumerate() {
        let info = if n == 0 {
            sel4_sys::recv(ep).0
        } else if reply_recv {
            sel4_sys::reply_recv(ep, reply).0
        } else {
            sel4_sys::reply(reply);
            sel4_sys::recv(ep).0
        };
        check(info, len, &mut seed, "call")?;
        fill(len, &mut seed);
        reply = MessageInfo::new(0, 0, 0, len as Word);
    }
    sel4_sys::reply(reply);
    Ok(())
}

fn reply_recv_side(ep: Word, seed: Word, _: bool) -> Result<(), String> {
    serve(ep, seed, true)
}

fn reply_then_recv_side(ep: Word, seed: Word, _: bool) -> Result<(), String> {
    serve(ep, seed, false)
}

/// sel4test's test_ipc_pair on one core: `a` (the sender) from two
/// priorities below `b` (the receiver) to two above, each started before
/// and after the other.
fn ipc_pair(ctx: &mut Ctx, a: Side, b: Side) -> TestResult {
    let ep = endpoint(ctx)?;
    lift(ctx)?;
    let mut objs = ctx.objects(slots_for(2))?;
    let mut seed: Word = 0xabba_cafe;
    for sender in WAITER - 2..=WAITER + 2 {
        let should_wait = sender < WAITER;
        for sender_first in [false, true] {
            // Started threads wait for this one to block; among equal
            // priorities the order of the start decides who runs first.
            let start = |objs: &mut _, side: Side, prio| {
                helper(objs, prio, move || side(ep, seed, should_wait))
            };
            let (ha, hb) = if sender_first {
                let ha = start(&mut objs, a, sender)?;
                (ha, start(&mut objs, b, WAITER)?)
            } else {
                let hb = start(&mut objs, b, WAITER)?;
                (start(&mut objs, a, sender)?, hb)
            };
            let what = format!(
                "sender at {sender}, receiver at {WAITER}, sender started first: {sender_first}"
            );
            join(&mut objs, ha)?.map_err(|e| Failure::fail(format!("{what}: sender: {e}")))?;
            join(&mut objs, hb)?.map_err(|e| Failure::fail(format!("{what}: receiver: {e}")))?;
            seed = seed.wrapping_add(0x7171_7171);
        }
    }
    Ok(())
}

#[sel4_test(sel4test = "IPC0001")]
fn send_and_recv_every_length_and_priority(ctx: &mut Ctx) -> TestResult {
    ipc_pair(ctx, send_side, recv_side)
}

#[sel4_test(sel4test = "IPC0002")]
fn call_and_reply_recv_every_length_and_priority(ctx: &mut Ctx) -> TestResult {
    ipc_pair(ctx, call_side, reply_recv_side)
}

#[sel4_test(sel4test = "IPC0003")]
fn call_and_reply_then_recv_every_length_and_priority(ctx: &mut Ctx) -> TestResult {
    ipc_pair(ctx, call_side, reply_then_recv_side)
}

#[sel4_test(sel4test = "IPC0004")]
fn nb_send_and_recv_every_length_and_priority(ctx: &mut Ctx) -> TestResult {
    ipc_pair(ctx, nb_send_side, nb_recv_side)
}

#[sel4_test(sel4test = "IPC0010")]
fn caller_suspended_in_the_middle_of_a_call(ctx: &mut Ctx) -> TestResult {
    let ep = endpoint(ctx)?;
    let saved = ctx.slot()?;
    lift(ctx)?;
    let mut objs = ctx.objects(slots_for(1))?;
    let h = helper(&mut objs, TEST_TOP - 20, move || {
        let mut n: Word = 0;
        loop {
            sel4_sys::call_regs(ep, MessageInfo::new(7, 0, 0, 1), [n, 0, 0, 0]);
            n += 1;
        }
    })?;
    let tcb = h.tcb().cptr();
    let r = sel4_sys::recv_regs(ep);
    ensure_eq!((r.info.get_label(), r.mrs[0]), (7, 0), "the first call");
    invoke(tcb, InvocationLabel::TCBSuspend, &[], &[])?;
    // Suspending the caller cancels its call: the reply capability this
    // thread got with the message is gone.
    reply_gone(saved, "after the caller was suspended")?;
    invoke(tcb, InvocationLabel::TCBResume, &[], &[])?;
    // Resumed, it makes the same call again (the kernel restarts it; on MCS
    // kernels this also shows that the reply above did not reach it).
    let r = sel4_sys::recv_regs(ep);
    ensure_eq!(
        (r.info.get_label(), r.mrs[0]),
        (7, 0),
        "the call again after the resume"
    );
    sel4_sys::reply_regs(MessageInfo::new(0, 0, 0, 0), [0; 4]);
    let r = sel4_sys::recv_regs(ep);
    ensure_eq!(r.mrs[0], 1, "after the reply, its next call");
    invoke(tcb, InvocationLabel::TCBSuspend, &[], &[])?;
    reply_gone(saved, "after the second suspend")?;
    if crate::util::MCS {
        invoke(tcb, InvocationLabel::TCBResume, &[], &[])?;
        let r = sel4_sys::recv_regs(ep);
        ensure_eq!(
            (r.info.get_label(), r.mrs[0]),
            (7, 1),
            "the second call again: the reply after the suspend reached nobody"
        );
        invoke(tcb, InvocationLabel::TCBSuspend, &[], &[])?;
    }
    h.kill(&mut objs);
    Ok(())
}

/// Checks that the caller of this thread's last receive is no longer
/// linked to it. Non-MCS kernels: the reply capability is gone (what
/// CNode_SaveCaller into `saved` finds). MCS kernels (no SaveCaller):
/// replies through the reply object, which must reach nobody; the test's
/// next receive shows it (the caller repeats its call).
fn reply_gone(saved: Word, what: &str) -> TestResult {
    sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
        let _ = (saved, what);
        sel4_sys::reply_regs(MessageInfo::new(0x5ad, 0, 0, 1), [0x5ad, 0, 0, 0]);
    } else {
        invoke(
            sel4_test_harness::kernel::ROOT_CNODE,
            InvocationLabel::CNodeSaveCaller,
            &[],
            &[saved, sel4_test_harness::kernel::DEPTH],
        )?;
        sel4_test_harness::ensure!(
            crate::util::is_empty(saved)?,
            "no reply capability left {what}"
        );
    } }
    Ok(())
}
