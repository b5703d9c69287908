//! Kernel-backed locks (`sel4_runtime::sync`): a waiter blocks in the
//! kernel instead of spinning (so a higher-priority waiter cannot starve a
//! lower-priority holder), the owner is recorded, a thread that locks a lock
//! it holds is told so, and a lock whose holder panicked, faulted or was
//! killed is released, poisoned; a killed waiter does not take the lock
//! with it.

use alloc::sync::Arc;
use sel4_rootserver::objects::Objects;
use sel4_rootserver::thread::{ThreadBuilder, ThreadError};
use sel4_rootserver::{Cap, Notification};
use sel4_runtime::sync::{LockError, Mutex};
use sel4_runtime::thread::provoke;
use sel4_test_harness::{ensure, ensure_eq, fail, sel4_test, Ctx, Failure, TestResult};

use crate::util::{fw, OBJECT_SLOTS};

/// A notification for a lock (its handle is left to the harness, which
/// revokes the test's memory afterwards).
fn notification(objs: &mut Objects) -> Result<Cap<Notification>, Failure> {
    Ok(objs
        .create::<Notification>()
        .map_err(fw("notification"))?
        .cap())
}

fn lock<T>(m: &Mutex<T>) -> Result<sel4_runtime::sync::MutexGuard<'_, T>, Failure> {
    m.lock()
        .map_err(|e| Failure::fail(alloc::format!("lock: {e}")))
}

/// A low-priority holder and a high-priority waiter: with a spinning lock
/// the waiter would keep the holder from ever running (a hang); here the
/// waiter blocks, the holder finishes and hands the lock over.
#[sel4_test(timeout_ms = 5000)]
fn higher_priority_waiter_blocks_until_lower_priority_holder_unlocks(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let m = Arc::new(Mutex::new(notification(&mut objs)?, 0u64));
    let held = notification(&mut objs)?;
    let (m1, m2) = (m.clone(), m.clone());
    // The holder at the harness's priority (the harness polls the test
    // thread at it, so nothing below it would run), the waiter above.
    let low = ThreadBuilder::new()
        .priority(sel4_test_harness::HARNESS_PRIORITY as u8)
        .spawn(&mut objs, move || {
            let mut g = m1.lock().ok()?;
            held.signal();
            // Keep it a while, giving the CPU away: only lower-priority
            // work runs meanwhile (the test and the waiter are blocked).
            for _ in 0..200 {
                sel4_sys::yield_now();
            }
            *g += 1;
            Some(())
        })
        .map_err(fw("spawn holder"))?;
    held.wait();
    let high = ThreadBuilder::new()
        .priority(250)
        .spawn(&mut objs, move || {
            let mut g = m2.lock().ok()?;
            *g += 10;
            Some((*g, m2.owner()))
        })
        .map_err(fw("spawn waiter"))?;
    let high_id = high.id();
    let (value, owner) = match high.join(&mut objs).map_err(fw("join waiter"))? {
        Some(v) => v,
        None => fail!("the waiter could not lock"),
    };
    ensure!(
        low.join(&mut objs).map_err(fw("join holder"))?.is_some(),
        "the holder could not lock"
    );
    ensure_eq!(value, 11, "the waiter ran after the holder's update");
    ensure_eq!(
        owner,
        Some(high_id),
        "owner recorded while the waiter held it"
    );
    ensure_eq!(*lock(&m)?, 11);
    ensure_eq!(m.owner(), None, "free after the guard went");
    Ok(())
}

#[sel4_test]
fn locking_a_held_lock_again_is_an_error_not_a_deadlock(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let m = Mutex::new(notification(&mut objs)?, ());
    let g = lock(&m)?;
    ensure!(
        matches!(m.lock(), Err(LockError::WouldDeadlock)),
        "second lock by the holder"
    );
    ensure_eq!(m.owner(), Some(sel4_runtime::thread::current_id()));
    ensure!(m.try_lock().is_none(), "try_lock while held");
    drop(g);
    ensure!(m.try_lock().is_some(), "try_lock when free");
    Ok(())
}

#[sel4_test]
fn contended_lock_without_notification_is_an_error(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let m = Arc::new(Mutex::unbound(0u32));
    let g = lock(&m)?;
    let m2 = m.clone();
    let h = sel4_rootserver::thread::spawn(&mut objs, move || match m2.lock() {
        Err(LockError::NoNotification { owner }) => owner,
        _ => None,
    })
    .map_err(fw("spawn"))?;
    let owner = h.join(&mut objs).map_err(fw("join"))?;
    ensure_eq!(owner, Some(sel4_runtime::thread::current_id()));
    drop(g);
    // Bound now: the same contention waits.
    ensure!(m.bind(notification(&mut objs)?), "bind");
    ensure!(!m.bind(notification(&mut objs)?), "bound only once");
    Ok(())
}

#[sel4_test]
fn lock_of_a_panicked_holder_is_released_poisoned(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let m = Arc::new(Mutex::new(notification(&mut objs)?, 5u32));
    let m2 = m.clone();
    let h = sel4_rootserver::thread::spawn(&mut objs, move || {
        let mut g = m2.lock().ok();
        if let Some(g) = g.as_mut() {
            **g = 6;
        }
        panic!("holding the lock");
    })
    .map_err(fw("spawn"))?;
    match h.join(&mut objs) {
        Err(ThreadError::Panicked { .. }) => {}
        other => fail!("join gave {other:?}"),
    }
    ensure!(m.is_poisoned(), "poisoned");
    ensure_eq!(m.owner(), None, "released");
    match m.lock() {
        Err(LockError::Poisoned(g)) => ensure_eq!(*g, 6, "the data as the holder left it"),
        other => fail!("lock gave {other:?}"),
    }
    m.clear_poison();
    ensure_eq!(*lock(&m)?, 6);
    Ok(())
}

#[sel4_test]
fn lock_of_a_faulted_holder_is_released_when_it_is_joined(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let m = Arc::new(Mutex::new(notification(&mut objs)?, 0u32));
    let m2 = m.clone();
    let h = sel4_rootserver::thread::spawn(&mut objs, move || {
        let _g = m2.lock();
        provoke::read_unmapped(0x7000);
    })
    .map_err(fw("spawn"))?;
    let joined = h.join_report(&mut objs);
    ensure!(
        matches!(joined.result, Err(ThreadError::Faulted(_))),
        "join gave {:?}",
        joined.result
    );
    ensure_eq!(
        joined.report.locks_released,
        1,
        "locks released at the join"
    );
    ensure!(
        matches!(m.lock(), Err(LockError::Poisoned(_))),
        "the lock works, poisoned"
    );
    Ok(())
}

/// A holder blocked for good (waiting for a signal that never comes) with
/// a waiter behind it: killing the holder releases the lock to the waiter.
#[sel4_test]
fn killing_the_holder_hands_the_lock_to_the_waiter(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let m = Arc::new(Mutex::new(notification(&mut objs)?, 0u32));
    let held = notification(&mut objs)?;
    let never = notification(&mut objs)?;
    let m1 = m.clone();
    let holder = sel4_rootserver::thread::spawn(&mut objs, move || {
        let _g = m1.lock();
        held.signal();
        never.wait();
    })
    .map_err(fw("spawn holder"))?;
    held.wait();
    let m2 = m.clone();
    let waiter = sel4_rootserver::thread::spawn(&mut objs, move || match m2.lock() {
        Err(LockError::Poisoned(mut g)) => {
            *g += 1;
            true
        }
        _ => false,
    })
    .map_err(fw("spawn waiter"))?;
    // Let the waiter block on the lock.
    for _ in 0..20 {
        sel4_sys::yield_now();
    }
    ensure_eq!(m.raw().waiters(), 1, "one waiter");
    let report = holder.kill(&mut objs);
    ensure_eq!(report.locks_released, 1, "the kill released the lock");
    ensure!(
        waiter.join(&mut objs).map_err(fw("join waiter"))?,
        "the waiter got the lock, poisoned"
    );
    ensure_eq!(m.raw().waiters(), 0);
    Ok(())
}

/// A waiter killed while it waits (or just after the lock was handed to
/// it) does not keep the lock: the next thread gets it.
#[sel4_test]
fn a_killed_waiter_does_not_take_the_lock_with_it(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let m = Arc::new(Mutex::new(notification(&mut objs)?, 0u32));
    for round in 0..10u32 {
        let g = lock(&m)?;
        let m2 = m.clone();
        let waiter = ThreadBuilder::new()
            .spawn(&mut objs, move || {
                let _g = m2.lock();
            })
            .map_err(fw("spawn waiter"))?;
        for _ in 0..5 {
            sel4_sys::yield_now();
        }
        if round % 2 == 1 {
            // Killed while it waits; then the holder unlocks.
            let _ = waiter.kill(&mut objs);
            drop(g);
        } else {
            // The unlock hands the lock to the waiter and wakes it, but it
            // is killed before it runs (same priority as the test, which
            // does not yield).
            drop(g);
            let _ = waiter.kill(&mut objs);
        }
        ensure_eq!(m.raw().waiters(), 0, "round {round}: waiter withdrawn");
        match m.lock() {
            Ok(_) | Err(LockError::Poisoned(_)) => {}
            Err(e) => fail!("round {round}: {e}"),
        }
        m.clear_poison();
    }
    Ok(())
}

/// A guard forgotten, then the lock moved and dropped: later locking and
/// unlocking on this thread (which walks its list of held locks) is fine,
/// since the list holds the lock word itself, not the moved `Mutex`.
#[sel4_test]
fn a_forgotten_guard_survives_moving_and_dropping_the_lock(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let m = Mutex::new(notification(&mut objs)?, 1u32);
    core::mem::forget(lock(&m)?);
    let moved = alloc::boxed::Box::new(m);
    ensure_eq!(moved.owner(), Some(sel4_runtime::thread::current_id()));
    let other = Mutex::new(notification(&mut objs)?, 2u32);
    ensure_eq!(*lock(&other)?, 2);
    drop(moved);
    let junk: alloc::vec::Vec<u64> = (0..512).collect();
    let third = Mutex::new(notification(&mut objs)?, 3u32);
    ensure_eq!(*lock(&third)?, 3);
    ensure_eq!(junk[511], 511);
    Ok(())
}
