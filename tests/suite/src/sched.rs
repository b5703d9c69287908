//! Scheduling: the highest priority runs first, a lower one waits, yield
//! round-robins between equal priorities.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};
use sel4_rootserver::thread::ThreadBuilder;
use sel4_test_harness::{ensure, ensure_eq, sel4_test, Ctx, TestResult, HARNESS_PRIORITY};

use crate::util::{fw, set_priority, OBJECT_SLOTS};

type Log = Arc<spin::Mutex<Vec<u8>>>;

#[sel4_test(sel4test_partly = "SCHED0004")]
fn higher_priority_runs_first(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let me = ctx.own_tcb();
    // Above everything while the threads are made, so none runs yet.
    set_priority(me, 255)?;
    let log: Log = Arc::new(spin::Mutex::new(Vec::new()));
    let mut hs = Vec::new();
    for (id, prio) in [(1u8, 210u8), (2, 230), (3, 220), (4, 240)] {
        let l = log.clone();
        hs.push(
            ThreadBuilder::new()
                .priority(prio)
                .spawn(&mut objs, move || l.lock().push(id))
                .map_err(fw("spawn"))?,
        );
    }
    let before = log.lock().clone();
    // Back to the harness's priority: all four run now, highest first.
    set_priority(me, sel4_test_harness::HARNESS_PRIORITY)?;
    for h in hs {
        h.join(&mut objs).map_err(fw("join"))?;
    }
    ensure_eq!(
        before,
        Vec::<u8>::new(),
        "ran before the creator lowered itself"
    );
    ensure_eq!(*log.lock(), alloc::vec![4u8, 2, 3, 1], "order of the runs");
    Ok(())
}

#[sel4_test(sel4test_partly = "SCHED0020")]
fn lower_priority_waits_until_raised(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let ran = Arc::new(AtomicBool::new(false));
    let r2 = ran.clone();
    let h = ThreadBuilder::new()
        .priority(HARNESS_PRIORITY as u8 - 50)
        .spawn(&mut objs, move || r2.store(true, Ordering::SeqCst))
        .map_err(fw("spawn"))?;
    for _ in 0..100 {
        sel4_sys::yield_now();
    }
    ensure!(
        !ran.load(Ordering::SeqCst),
        "a lower priority thread ran while this one was runnable"
    );
    set_priority(h.tcb().cptr(), HARNESS_PRIORITY + 20)?;
    // seL4 5.x reschedules at the next kernel exit that chooses a thread
    // (here the yield); later kernels switch at once. Either way it runs
    // before this thread gets the CPU back.
    sel4_sys::yield_now();
    ensure!(
        ran.load(Ordering::SeqCst),
        "raised above this thread, it must have run before this one"
    );
    h.join(&mut objs).map_err(fw("join"))?;
    Ok(())
}

#[sel4_test]
fn yield_round_robins_equal_priorities(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let me = ctx.own_tcb();
    set_priority(me, 255)?;
    let log: Log = Arc::new(spin::Mutex::new(Vec::new()));
    let mut hs = Vec::new();
    for id in [1u8, 2, 3] {
        let l = log.clone();
        hs.push(
            ThreadBuilder::new()
                .priority(220)
                .spawn(&mut objs, move || {
                    for _ in 0..40 {
                        l.lock().push(id);
                        sel4_sys::yield_now();
                    }
                })
                .map_err(fw("spawn"))?,
        );
    }
    set_priority(me, HARNESS_PRIORITY)?;
    for h in hs {
        h.join(&mut objs).map_err(fw("join"))?;
    }
    let log = log.lock().clone();
    ensure_eq!(log.len(), 120);
    // The order the three start in is the kernel's (a resumed thread goes
    // to the head of its queue), but then each yield sends the thread to
    // the back: the log repeats with period 3, all three in each period. A
    // timer preemption between an entry and its yield can shift the order
    // once; more than two breaks are not round-robin.
    let mut first = log[..3].to_vec();
    first.sort_unstable();
    ensure_eq!(
        first,
        alloc::vec![1u8, 2, 3],
        "each thread once in the first round: {log:?}"
    );
    let breaks = log.windows(4).filter(|w| w[3] != w[0]).count();
    ensure!(breaks <= 2, "not round-robin ({breaks} breaks): {log:?}");
    Ok(())
}
