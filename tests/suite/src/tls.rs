//! Thread-local variables with initial values (seL4test tls.c, TLS0001,
//! TLS0002, TLS0006): the root task's initial thread and every thread the
//! framework starts see `.tdata` with its initial values and `.tbss`
//! zeroed, each in its own copy, also while other threads change theirs.
//! The variables are defined in `sel4-asm-probes` (stable Rust has no
//! `#[thread_local]`).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use sel4_asm_probes::tls::{self, Array, Snapshot, INITIAL, WORDS};
use sel4_sys::{MessageInfo, Word};
use sel4_test_harness::{ensure_eq, sel4_test, Ctx, Failure, TestResult};

use crate::support::{helper, join, lift, slots_for, TEST_TOP};
use crate::util::endpoint;

/// What the root task's initial thread saw, recorded by `main` before the
/// harness starts.
static ROOT_THREAD: spin::Once<Snapshot> = spin::Once::new();

/// Records the initial thread's thread-local variables (call from `main`,
/// on the initial thread, before anything else changes them).
pub fn record_root_thread() {
    ROOT_THREAD.call_once(tls::snapshot);
}

#[sel4_test(sel4test = "TLS0001")]
fn root_thread_sees_initial_tls_values() -> TestResult {
    let Some(root) = ROOT_THREAD.get() else {
        return Err(Failure::fail(
            "main did not record the initial thread's TLS",
        ));
    };
    ensure_eq!(*root, INITIAL, "the root task's initial thread");
    ensure_eq!(tls::snapshot(), INITIAL, "the test's own thread");
    Ok(())
}

/// TLS0002's helper: checks the initial values, writes its own, tells
/// the test, waits for the go, and checks its values are still its own.
fn own_values(helper: Word, done: Word, start: Word) -> Result<(), String> {
    let seen = tls::snapshot();
    if seen != INITIAL {
        return Err(format!("initial values {seen:?}"));
    }
    for i in 0..WORDS {
        tls::set(Array::Bss, i, i as Word + helper);
        tls::set(Array::Data, i, helper * WORDS as Word + i as Word);
    }
    sel4_sys::send_regs(done, MessageInfo::new(0, 0, 0, 0), [0; 4]);
    sel4_sys::recv_regs(start);
    for i in 0..WORDS {
        let (b, d) = (tls::get(Array::Bss, i), tls::get(Array::Data, i));
        if b != Some(i as Word + helper) || d != Some(helper * WORDS as Word + i as Word) {
            return Err(format!(
                "word {i}: bss {b:?}, data {d:?} after the other threads wrote theirs"
            ));
        }
    }
    Ok(())
}

#[sel4_test(sel4test = "TLS0002")]
fn threads_have_their_own_tls(ctx: &mut Ctx) -> TestResult {
    let done = endpoint(ctx)?;
    let start = endpoint(ctx)?;
    lift(ctx)?;
    let mut objs = ctx.objects(slots_for(4))?;
    let mut hs = Vec::new();
    for h in 0..4 {
        hs.push(helper(&mut objs, TEST_TOP - 10, move || {
            own_values(h, done, start)
        })?);
    }
    for _ in 0..4 {
        sel4_sys::recv_regs(done);
    }
    ensure_eq!(
        tls::snapshot(),
        INITIAL,
        "this thread's own variables, after the helpers wrote theirs"
    );
    for _ in 0..4 {
        sel4_sys::send_regs(start, MessageInfo::new(0, 0, 0, 0), [0; 4]);
    }
    for (i, h) in hs.into_iter().enumerate() {
        join(&mut objs, h)?.map_err(|e| Failure::fail(format!("helper {i}: {e}")))?;
    }
    Ok(())
}

/// sel4test's TLS_INCREMENT_ITERATIONS.
const ITERATIONS: u32 = 10_000;
/// Counts between yields.
const YIELD_EVERY: u32 = 500;

/// TLS0006's thread: counts its own counter up, atomically and then not,
/// while the others (at the same priority) count theirs; it yields every
/// [`YIELD_EVERY`] counts so that the threads interleave (sel4test relies
/// on timer preemption, which a fast thread may not meet).
fn count_own() -> Result<(), String> {
    let first = tls::counter();
    if first != tls::COUNTER_INIT {
        return Err(format!("the counter started at {first}"));
    }
    let mut last = first;
    for i in 0..ITERATIONS {
        if i % YIELD_EVERY == 0 {
            sel4_sys::yield_now();
        }
        let next = tls::counter_add_atomic();
        if next != last + 1 {
            return Err(format!("atomic increment: {last} then {next}"));
        }
        last = next;
    }
    for i in 0..ITERATIONS {
        if i % YIELD_EVERY == 0 {
            sel4_sys::yield_now();
        }
        let next = tls::counter_inc();
        if next != last + 1 {
            return Err(format!("increment: {last} then {next}"));
        }
        last = next;
    }
    let end = tls::counter();
    if end != first + 2 * ITERATIONS {
        return Err(format!("the counter ended at {end}"));
    }
    Ok(())
}

#[sel4_test(sel4test = "TLS0006")]
fn parallel_threads_count_their_own_tls(ctx: &mut Ctx) -> TestResult {
    lift(ctx)?;
    let mut objs = ctx.objects(slots_for(8))?;
    let mut hs = Vec::new();
    for _ in 0..8 {
        hs.push(helper(&mut objs, TEST_TOP - 10, count_own)?);
    }
    for (i, h) in hs.into_iter().enumerate() {
        join(&mut objs, h)?.map_err(|e| Failure::fail(format!("thread {i}: {e}")))?;
    }
    ensure_eq!(
        tls::counter(),
        tls::COUNTER_INIT,
        "this thread's own counter"
    );
    Ok(())
}
