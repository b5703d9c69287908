//! Bound notifications (seL4test binding.c, BIND0001-BIND0004): a thread
//! bound to a notification gets its signals while it waits on an
//! endpoint or on the notification itself, whatever the priorities of
//! the waiter and the signaller.

use sel4_sys::{InvocationLabel, MessageInfo, Word};
use sel4_test_harness::kernel::invoke;
use sel4_test_harness::{ensure_eq, sel4_test, Ctx, TestResult};

use crate::support::{helper, join, lift, slots_for, TEST_TOP};
use crate::util::{badged, endpoint, notification};

/// How many messages each sender sends (sel4test's NUM_RUNS).
const RUNS: usize = 10;
/// Badge of the notification's signals (sel4test's ASYNC).
const ASYNC: Word = 1;
/// Badge of the endpoint's messages (sel4test's SYNC).
const SYNC: Word = 2;

fn bind(tcb: Word, ntfn: Word) -> TestResult {
    invoke(tcb, InvocationLabel::TCBBindNotification, &[ntfn], &[])?;
    Ok(())
}

fn unbind(tcb: Word) -> TestResult {
    invoke(tcb, InvocationLabel::TCBUnbindNotification, &[], &[])?;
    Ok(())
}

/// seL4_Send of an empty message `RUNS` times (on a notification: a
/// signal).
fn sender(cap: Word, runs: usize) {
    for _ in 0..runs {
        sel4_sys::send_regs(cap, MessageInfo::new(0, 0, 0, 0), [0; 4]);
    }
}

#[sel4_test(sel4test = "BIND0001")]
fn bound_thread_receiving_on_endpoint_gets_signals_and_messages(ctx: &mut Ctx) -> TestResult {
    let ep = endpoint(ctx)?;
    let ntfn = notification(ctx)?;
    let ntfn_b = badged(ctx, ntfn, ASYNC)?;
    let ep_b = badged(ctx, ep, SYNC)?;
    let me = ctx.own_tcb();
    lift(ctx)?;
    bind(me, ntfn)?;
    let mut objs = ctx.objects(slots_for(2))?;
    // Below this thread: each signal or message wakes it before the next.
    let a = helper(&mut objs, TEST_TOP - 10, move || sender(ntfn_b, RUNS))?;
    let s = helper(&mut objs, TEST_TOP - 10, move || sender(ep_b, RUNS))?;
    let (mut signals, mut messages, mut other) = (0, 0, alloc::vec::Vec::new());
    for _ in 0..2 * RUNS {
        let r = sel4_sys::recv_regs(ep);
        match r.badge {
            ASYNC => signals += 1,
            SYNC => messages += 1,
            b => other.push(b),
        }
    }
    unbind(me)?;
    join(&mut objs, a)?;
    join(&mut objs, s)?;
    ensure_eq!(
        other,
        alloc::vec::Vec::<Word>::new(),
        "badges of neither sender"
    );
    ensure_eq!(
        (signals, messages),
        (RUNS, RUNS),
        "(signals, messages) received"
    );
    Ok(())
}

#[sel4_test(sel4test = "BIND0002")]
fn bound_thread_waiting_on_its_notification_gets_signals(ctx: &mut Ctx) -> TestResult {
    let ntfn = notification(ctx)?;
    let ntfn_b = badged(ctx, ntfn, ASYNC)?;
    let me = ctx.own_tcb();
    lift(ctx)?;
    bind(me, ntfn)?;
    let mut objs = ctx.objects(slots_for(1))?;
    let a = helper(&mut objs, TEST_TOP - 10, move || sender(ntfn_b, RUNS))?;
    let mut got = alloc::vec::Vec::new();
    for _ in 0..RUNS {
        got.push(sel4_sys::wait(ntfn));
    }
    unbind(me)?;
    join(&mut objs, a)?;
    ensure_eq!(got, alloc::vec![ASYNC; RUNS], "badges received");
    Ok(())
}

/// A waiter bound to a notification waits on it; a sender signals it once
/// (seL4_Send on the notification). Both end whatever their priorities.
fn bound_waiter_and_sender(ctx: &mut Ctx, waiter_prio: u8, sender_prio: u8) -> TestResult {
    let ntfn = notification(ctx)?;
    let ntfn_b = badged(ctx, ntfn, 0x30)?;
    lift(ctx)?;
    let mut objs = ctx.objects(slots_for(2))?;
    // Started bound (the binding is set before it runs: this thread is
    // above it).
    let w = helper(&mut objs, waiter_prio, move || sel4_sys::wait(ntfn))?;
    bind(w.tcb().cptr(), ntfn)?;
    let s = helper(&mut objs, sender_prio, move || sender(ntfn_b, 1))?;
    ensure_eq!(join(&mut objs, w)?, 0x30, "the waiter's badge");
    join(&mut objs, s)?;
    Ok(())
}

#[sel4_test(sel4test = "BIND0003")]
fn bound_waiter_above_sender(ctx: &mut Ctx) -> TestResult {
    // The waiter (higher) waits first, then the sender signals.
    bound_waiter_and_sender(ctx, TEST_TOP - 10, TEST_TOP - 11)
}

#[sel4_test(sel4test = "BIND0004")]
fn bound_waiter_below_sender(ctx: &mut Ctx) -> TestResult {
    // The sender (higher) signals first, then the waiter waits.
    bound_waiter_and_sender(ctx, TEST_TOP - 11, TEST_TOP - 10)
}
