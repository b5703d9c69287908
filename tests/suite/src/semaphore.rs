//! Kernel-backed semaphores and condition variables
//! (`sel4_runtime::sync::{Semaphore, Condvar}`): waiters block in the
//! kernel, no release or notify is lost (also when several signals to one
//! notification merge into one), permits bound concurrency, a killed
//! waiter takes no permit with it.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering::SeqCst};

use sel4_rootserver::objects::Objects;
use sel4_rootserver::thread::ThreadBuilder;
use sel4_rootserver::{Cap, Notification};
use sel4_runtime::sync::{Condvar, Mutex, Semaphore};
use sel4_test_harness::{ensure, ensure_eq, fail, sel4_test, Ctx, Failure, TestResult};

use crate::util::{fw, OBJECT_SLOTS};

/// Above the test thread (which runs at the harness's priority): a thread
/// spawned here runs at once and the test goes on when it blocks.
const ABOVE: u8 = sel4_test_harness::HARNESS_PRIORITY as u8 + 10;

fn notification(objs: &mut Objects) -> Result<Cap<Notification>, Failure> {
    Ok(objs
        .create::<Notification>()
        .map_err(fw("notification"))?
        .cap())
}

#[sel4_test]
fn semaphore_acquire_blocks_until_release(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let sem = Arc::new(Semaphore::new(notification(&mut objs)?, 0));
    let done = Arc::new(AtomicU32::new(0));
    let (s, d) = (sem.clone(), done.clone());
    let waiter = ThreadBuilder::new()
        .priority(ABOVE)
        .spawn(&mut objs, move || {
            s.acquire();
            d.store(1, SeqCst);
        })
        .map_err(fw("spawn"))?;
    // The waiter ran first (higher priority) and blocks in the kernel.
    ensure_eq!(done.load(SeqCst), 0, "acquired without a permit");
    ensure_eq!(sem.waiters(), 1);
    sem.release();
    // The release woke it, and it ran before this thread went on.
    ensure_eq!(done.load(SeqCst), 1, "the release did not wake the waiter");
    waiter.join(&mut objs).map_err(fw("join"))?;
    ensure_eq!(sem.available(), 0);
    Ok(())
}

#[sel4_test]
fn semaphore_try_acquire_takes_only_free_permits(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let sem = Semaphore::new(notification(&mut objs)?, 2);
    ensure!(sem.try_acquire());
    ensure!(sem.try_acquire());
    ensure!(!sem.try_acquire(), "a third permit out of two");
    ensure_eq!(sem.available(), 0);
    sem.release();
    ensure_eq!(sem.available(), 1);
    ensure!(sem.try_acquire());
    Ok(())
}

/// Six threads through a semaphore of two permits, yielding while inside:
/// never more than two inside at once. (At the harness's priority: it
/// polls the test thread there, so nothing below would run.)
#[sel4_test(timeout_ms = 20000)]
fn semaphore_permits_bound_concurrency(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let sem = Arc::new(Semaphore::new(notification(&mut objs)?, 2));
    let inside = Arc::new(AtomicU32::new(0));
    let most = Arc::new(AtomicU32::new(0));
    let mut threads = Vec::new();
    for _ in 0..6 {
        let (s, i, m) = (sem.clone(), inside.clone(), most.clone());
        threads.push(
            ThreadBuilder::new()
                .priority(sel4_test_harness::HARNESS_PRIORITY as u8)
                .spawn(&mut objs, move || {
                    for _ in 0..20 {
                        s.acquire();
                        let now = i.fetch_add(1, SeqCst) + 1;
                        m.fetch_max(now, SeqCst);
                        for _ in 0..3 {
                            sel4_sys::yield_now();
                        }
                        i.fetch_sub(1, SeqCst);
                        s.release();
                        sel4_sys::yield_now();
                    }
                })
                .map_err(fw("spawn"))?,
        );
    }
    for t in threads {
        t.join(&mut objs).map_err(fw("join"))?;
    }
    let m = most.load(SeqCst);
    ensure!(m <= 2, "{m} threads were inside a semaphore of 2 permits");
    ensure!(m >= 1);
    ensure_eq!(sem.available(), 2, "every permit came back");
    Ok(())
}

/// Two waiters are taken off the notification (suspended), two releases
/// signal it while nobody waits, so the kernel keeps one pending signal for
/// both; resumed, the waiters wait again. The first takes the signal and a
/// token, sees one more token and passes the wake-up on: the second wakes
/// too. (Without that relay the second waiter would block for good.)
#[sel4_test(timeout_ms = 5000)]
fn semaphore_merged_signals_wake_every_waiter(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let sem = Arc::new(Semaphore::new(notification(&mut objs)?, 0));
    let woken = Arc::new(AtomicU32::new(0));
    let mut threads = Vec::new();
    for _ in 0..2 {
        let (s, w) = (sem.clone(), woken.clone());
        threads.push(
            ThreadBuilder::new()
                .priority(ABOVE)
                .spawn(&mut objs, move || {
                    s.acquire();
                    w.fetch_add(1, SeqCst);
                })
                .map_err(fw("spawn"))?,
        );
    }
    ensure_eq!(sem.waiters(), 2);
    for t in &threads {
        t.tcb().tcb_suspend().map_err(fw("suspend"))?;
    }
    sem.release();
    sem.release();
    ensure_eq!(woken.load(SeqCst), 0, "woken while suspended");
    // Resumed, each redoes its Wait; both run before this thread goes on
    // (higher priority).
    for t in &threads {
        t.tcb().tcb_resume().map_err(fw("resume"))?;
    }
    ensure_eq!(
        woken.load(SeqCst),
        2,
        "a release was lost when its signal merged with another"
    );
    for t in threads {
        t.join(&mut objs).map_err(fw("join"))?;
    }
    Ok(())
}

/// A waiter killed while it waits: the next release's permit goes to the
/// next thread that asks, without waiting.
#[sel4_test(timeout_ms = 5000)]
fn semaphore_killed_waiter_takes_no_permit(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let sem = Arc::new(Semaphore::new(notification(&mut objs)?, 0));
    let s = sem.clone();
    let waiter = ThreadBuilder::new()
        .priority(ABOVE)
        .spawn(&mut objs, move || s.acquire())
        .map_err(fw("spawn"))?;
    ensure_eq!(sem.waiters(), 1);
    let _report = waiter.kill(&mut objs);
    sem.release();
    ensure_eq!(sem.available(), 1, "the permit went to the dead waiter");
    // This thread would block for good if it had (the harness's time limit
    // would fail the test).
    sem.acquire();
    sem.release();
    ensure!(sem.try_acquire(), "the permit is free again");
    Ok(())
}

#[sel4_test(timeout_ms = 5000)]
fn condvar_wait_unlocks_and_notify_wakes(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let pair = Arc::new((
        Mutex::new(notification(&mut objs)?, 0u64),
        Condvar::new(notification(&mut objs)?),
    ));
    let p = pair.clone();
    let waiter = ThreadBuilder::new()
        .priority(ABOVE)
        .spawn(&mut objs, move || {
            let (m, cv) = &*p;
            let g = m.lock().ok()?;
            let g = cv.wait_while(g, |v| *v == 0).ok()?;
            Some(*g)
        })
        .map_err(fw("spawn"))?;
    let (m, cv) = &*pair;
    ensure_eq!(cv.waiters(), 1);
    {
        // The waiter holds no lock while it waits.
        let mut g = match m.try_lock() {
            Some(Ok(g)) => g,
            _ => fail!("the mutex is held while its waiter waits"),
        };
        *g = 42;
        cv.notify_one();
        ensure_eq!(cv.waiters(), 0);
    }
    match waiter.join(&mut objs).map_err(fw("join"))? {
        Some(v) => ensure_eq!(v, 42, "the waiter saw the value set before the notify"),
        None => fail!("the waiter could not lock"),
    }
    Ok(())
}

/// One notify wakes one waiter: two waiters each take a ticket; one ticket
/// and one notify let exactly one through.
#[sel4_test(timeout_ms = 5000)]
fn condvar_notify_one_wakes_one(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let pair = Arc::new((
        Mutex::new(notification(&mut objs)?, 0u32),
        Condvar::new(notification(&mut objs)?),
    ));
    let through = Arc::new(AtomicU32::new(0));
    let mut threads = Vec::new();
    for _ in 0..2 {
        let (p, t) = (pair.clone(), through.clone());
        threads.push(
            ThreadBuilder::new()
                .priority(ABOVE)
                .spawn(&mut objs, move || {
                    let (m, cv) = &*p;
                    let mut g = cv
                        .wait_while(m.lock().ok()?, |tickets| *tickets == 0)
                        .ok()?;
                    *g -= 1;
                    t.fetch_add(1, SeqCst);
                    Some(())
                })
                .map_err(fw("spawn"))?,
        );
    }
    let (m, cv) = &*pair;
    ensure_eq!(cv.waiters(), 2);
    for round in 1..=2 {
        *m.lock().map_err(|_| Failure::fail("lock"))? += 1;
        cv.notify_one();
        // The woken waiter runs (higher priority) once the lock is free.
        ensure_eq!(through.load(SeqCst), round, "after {} notify_one", round);
        ensure_eq!(cv.waiters(), 2 - u64::from(round));
    }
    for t in threads {
        ensure!(t.join(&mut objs).map_err(fw("join"))?.is_some());
    }
    Ok(())
}

#[sel4_test(timeout_ms = 5000)]
fn condvar_notify_all_wakes_every_waiter(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let pair = Arc::new((
        Mutex::new(notification(&mut objs)?, false),
        Condvar::new(notification(&mut objs)?),
    ));
    let through = Arc::new(AtomicU32::new(0));
    let mut threads = Vec::new();
    for _ in 0..4 {
        let (p, t) = (pair.clone(), through.clone());
        threads.push(
            ThreadBuilder::new()
                .priority(ABOVE)
                .spawn(&mut objs, move || {
                    let (m, cv) = &*p;
                    let _g = cv.wait_while(m.lock().ok()?, |go| !*go).ok()?;
                    t.fetch_add(1, SeqCst);
                    Some(())
                })
                .map_err(fw("spawn"))?,
        );
    }
    let (m, cv) = &*pair;
    ensure_eq!(cv.waiters(), 4);
    *m.lock().map_err(|_| Failure::fail("lock"))? = true;
    cv.notify_all();
    for t in threads {
        ensure!(t.join(&mut objs).map_err(fw("join"))?.is_some());
    }
    ensure_eq!(through.load(SeqCst), 4);
    ensure_eq!(cv.waiters(), 0);
    Ok(())
}

/// A bounded queue (Mutex + two Condvars) between two producers and two
/// consumers at different priorities (none below the harness's, which
/// polls the test thread there): every item arrives exactly once.
#[sel4_test(timeout_ms = 30000)]
fn condvar_bounded_queue_loses_nothing(ctx: &mut Ctx) -> TestResult {
    const ITEMS: u64 = 500;
    const CAPACITY: usize = 4;
    struct Queue {
        items: alloc::collections::VecDeque<u64>,
    }
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let q = Arc::new((
        Mutex::new(
            notification(&mut objs)?,
            Queue {
                items: alloc::collections::VecDeque::new(),
            },
        ),
        Condvar::new(notification(&mut objs)?), // not empty
        Condvar::new(notification(&mut objs)?), // not full
    ));
    let sum = Arc::new(AtomicU64::new(0));
    let count = Arc::new(AtomicU64::new(0));
    let prio = sel4_test_harness::HARNESS_PRIORITY as u8;
    let mut threads = Vec::new();
    for (k, p) in [(0u64, prio), (1, prio + 5)] {
        let q = q.clone();
        threads.push(
            ThreadBuilder::new()
                .priority(p)
                .spawn(&mut objs, move || {
                    let (m, not_empty, not_full) = &*q;
                    for i in 0..ITEMS {
                        let mut g = not_full
                            .wait_while(m.lock().ok()?, |q| q.items.len() >= CAPACITY)
                            .ok()?;
                        g.items.push_back(k * ITEMS + i + 1);
                        drop(g);
                        not_empty.notify_one();
                    }
                    Some(())
                })
                .map_err(fw("spawn producer"))?,
        );
    }
    for p in [prio + 3, prio] {
        let (q, s, c) = (q.clone(), sum.clone(), count.clone());
        threads.push(
            ThreadBuilder::new()
                .priority(p)
                .spawn(&mut objs, move || {
                    let (m, not_empty, not_full) = &*q;
                    for _ in 0..ITEMS {
                        let mut g = not_empty
                            .wait_while(m.lock().ok()?, |q| q.items.is_empty())
                            .ok()?;
                        let v = g.items.pop_front()?;
                        drop(g);
                        not_full.notify_one();
                        s.fetch_add(v, SeqCst);
                        c.fetch_add(1, SeqCst);
                    }
                    Some(())
                })
                .map_err(fw("spawn consumer"))?,
        );
    }
    for t in threads {
        ensure!(
            t.join(&mut objs).map_err(fw("join"))?.is_some(),
            "a thread could not lock or found the queue empty after its wait"
        );
    }
    let n = 2 * ITEMS;
    ensure_eq!(count.load(SeqCst), n);
    ensure_eq!(sum.load(SeqCst), n * (n + 1) / 2, "every item exactly once");
    Ok(())
}
