//! CancelBadgedSends (seL4test endpoints.c, CANCEL_BADGED_SENDS_0001/0002):
//! revoking a badged endpoint cap and cancelling its badge aborts exactly
//! the sends with that badge, and deletes the caps derived from it.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use sel4_sys::{Error, InvocationLabel, MessageInfo, Word};
use sel4_test_harness::kernel::{self, invoke, rights, DEPTH, ROOT_CNODE};
use sel4_test_harness::{ensure_eq, sel4_test, Ctx, Failure, TestResult};

use crate::support::{helper, join, lift, slots_for, HELPER_LOW, TEST_TOP};
use crate::util::endpoint;

/// sel4test's NUM_BADGED_CLIENTS.
const CLIENTS: usize = 32;

fn cancel_badged_sends(slot: Word) -> TestResult {
    invoke(
        ROOT_CNODE,
        InvocationLabel::CNodeCancelBadgedSends,
        &[],
        &[slot, DEPTH],
    )?;
    Ok(())
}

/// A badged cap of `ep` (badge `badge`) and a copy derived from it.
fn badged_and_derived(ctx: &mut Ctx, ep: Word, badge: Word) -> Result<(Word, Word), Failure> {
    let badged = ctx.slot()?;
    kernel::cnode_mint(badged, ep, rights::ALL, badge)?;
    let derived = ctx.slot()?;
    kernel::cnode_copy(derived, badged, rights::ALL)?;
    Ok((badged, derived))
}

/// A thread at the lowest helper priority that answers every call on
/// `ep` with an empty reply: calling it lets every higher helper run
/// until it blocks (sel4test's bouncer).
fn bouncer(ep: Word) -> impl FnOnce() + Send + 'static {
    move || {
        sel4_sys::recv_regs(ep);
        loop {
            sel4_sys::reply_recv_regs(ep, MessageInfo::new(0, 0, 0, 0), [0; 4]);
        }
    }
}

fn bounce(ep: Word) {
    sel4_sys::call_regs(ep, MessageInfo::new(0, 0, 0, 0), [0; 4]);
}

/// Not started / between its calls / its second call failed.
const UNSET: u64 = u64::MAX;

#[sel4_test(sel4test = "CANCEL_BADGED_SENDS_0001", timeout_ms = 30_000)]
fn cancel_badged_sends_aborts_only_that_badge(ctx: &mut Ctx) -> TestResult {
    let ep = endpoint(ctx)?;
    let bounce_ep = endpoint(ctx)?;
    let mut caps = Vec::new();
    for i in 0..CLIENTS {
        caps.push(badged_and_derived(ctx, ep, i as Word + 200)?);
    }
    lift(ctx)?;
    let mut objs = ctx.objects(slots_for(CLIENTS + 1))?;
    let b = helper(&mut objs, HELPER_LOW, bouncer(bounce_ep))?;
    let done: Arc<Vec<AtomicU64>> = Arc::new((0..CLIENTS).map(|_| AtomicU64::new(UNSET)).collect());
    let mut senders = Vec::new();
    for (i, &(_, derived)) in caps.iter().enumerate() {
        let d = done.clone();
        let msg = i as Word + 100;
        senders.push(helper(&mut objs, TEST_TOP - 10, move || {
            // The first call is answered with !msg.
            let r = sel4_sys::call_regs(derived, MessageInfo::new(0, 0, 0, 1), [msg, 0, 0, 0]);
            if (r.info.get_length(), r.mrs[0]) != (1, !msg) {
                return Err(alloc::format!("first reply {:?}", r));
            }
            d[i].store(0, Ordering::SeqCst);
            // The second is cancelled, restarted, and fails: the derived
            // cap it calls through has been revoked.
            let r = sel4_sys::call_regs(derived, MessageInfo::new(0, 0, 0, 1), [msg, 0, 0, 0]);
            d[i].store(1, Ordering::SeqCst);
            if r.info.get_label() != Error::InvalidCapability as Word {
                return Err(alloc::format!("second call's reply {:?}", r));
            }
            Ok(())
        })?);
    }
    // Let the senders run: each calls and blocks.
    bounce(bounce_ep);
    for _ in 0..CLIENTS {
        let r = sel4_sys::recv_regs(ep);
        ensure_eq!(r.info.get_length(), 1);
        ensure_eq!(r.mrs[0], r.badge - 100, "message word of badge {}", r.badge);
        sel4_sys::reply_regs(MessageInfo::new(0, 0, 0, 1), [!r.mrs[0], 0, 0, 0]);
    }
    bounce(bounce_ep);
    let state = |d: &Arc<Vec<AtomicU64>>| {
        d.iter()
            .map(|a| a.load(Ordering::SeqCst))
            .collect::<Vec<_>>()
    };
    ensure_eq!(
        state(&done),
        alloc::vec![0; CLIENTS],
        "every sender waits in its second call"
    );
    for (i, &(badged, _)) in caps.iter().enumerate() {
        kernel::cnode_revoke(badged)?;
        cancel_badged_sends(badged)?;
        bounce(bounce_ep);
        let want: Vec<u64> = (0..CLIENTS).map(|j| u64::from(j <= i)).collect();
        ensure_eq!(state(&done), want, "after cancelling badge {}", i + 200);
    }
    for (i, s) in senders.into_iter().enumerate() {
        join(&mut objs, s)?.map_err(|e| Failure::fail(alloc::format!("sender {i}: {e}")))?;
    }
    b.kill(&mut objs);
    Ok(())
}

#[sel4_test(sel4test = "CANCEL_BADGED_SENDS_0002", timeout_ms = 30_000)]
fn cancel_badged_sends_deletes_derived_caps(ctx: &mut Ctx) -> TestResult {
    // Each helper, when called on its own endpoint, calls the main
    // endpoint through its derived badged cap and replies whether that
    // call got through. Revoking and cancelling badge i stops helper i's
    // calls, and only that helper's.
    let ep = endpoint(ctx)?;
    let mut helpers = Vec::new();
    for i in 0..CLIENTS {
        let (badged, derived) = badged_and_derived(ctx, ep, i as Word + 200)?;
        helpers.push((endpoint(ctx)?, badged, derived));
    }
    lift(ctx)?;
    let mut objs = ctx.objects(slots_for(CLIENTS + 1))?;
    let replier = helper(&mut objs, TEST_TOP - 10, bouncer(ep))?;
    let mut threads = Vec::new();
    for &(sync_ep, _, derived) in &helpers {
        threads.push(helper(&mut objs, TEST_TOP - 10, move || {
            sel4_sys::recv_regs(sync_ep);
            loop {
                let r = sel4_sys::call_regs(derived, MessageInfo::new(0, 0, 0, 0), [0; 4]);
                let ok = Word::from(r.info.get_label() != Error::InvalidCapability as Word);
                sel4_sys::reply_recv_regs(sync_ep, MessageInfo::new(0, 0, 0, 1), [ok, 0, 0, 0]);
            }
        })?);
    }
    // Runs helpers `from..`; returns whether each one's call got through.
    let run = |helpers: &[(Word, Word, Word)], from: usize| -> Vec<Word> {
        helpers[from..]
            .iter()
            .map(|&(sync_ep, _, _)| {
                sel4_sys::call_regs(sync_ep, MessageInfo::new(0, 0, 0, 0), [0; 4]).mrs[0]
            })
            .collect()
    };
    ensure_eq!(
        run(&helpers, 0),
        alloc::vec![1; CLIENTS],
        "every helper's call gets through"
    );
    for i in 0..CLIENTS {
        kernel::cnode_revoke(helpers[i].1)?;
        cancel_badged_sends(helpers[i].1)?;
        // Helper i's call fails from now on, the later ones' still get
        // through (the earlier ones are checked again at the end: each
        // failed call makes the kernel log a line).
        let mut want = alloc::vec![1; CLIENTS - i];
        want[0] = 0;
        ensure_eq!(
            run(&helpers, i),
            want,
            "helpers {i}.. after revoking and cancelling badge {}",
            i + 200
        );
    }
    ensure_eq!(
        run(&helpers, 0),
        alloc::vec![0; CLIENTS],
        "no helper's call gets through"
    );
    for t in threads {
        t.kill(&mut objs);
    }
    replier.kill(&mut objs);
    Ok(())
}
