//! The FPU in threads (seL4test FPU0000, FPU0001): a calculation on the
//! FPU gives the IEEE result (the bits computed on the host, and on
//! x86_64 the soft-float one), also in four threads of one priority that
//! the timer preempts in the middle of their calculations.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use sel4_asm_probes::fpu::{calculate, calculate_soft, EXPECTED_BITS};
use sel4_test_harness::{ensure, ensure_eq, sel4_test, Ctx, TestResult};

use crate::support::{helper, join, lift, slots_for, TEST_TOP};

/// sel4test's fpu_calculation rounds.
const ROUNDS: u64 = 10_000;

#[sel4_test(sel4test = "FPU0000")]
fn fpu_calculation_is_exact() -> TestResult {
    for (rounds, bits) in EXPECTED_BITS {
        ensure_eq!(
            calculate(rounds),
            bits,
            "bits of the FPU's result, {rounds} rounds"
        );
        ensure_eq!(
            calculate_soft(rounds),
            bits,
            "bits of the Rust f64 result, {rounds} rounds"
        );
    }
    ensure_eq!(
        calculate(ROUNDS),
        calculate_soft(ROUNDS),
        "bits of the FPU's result and the Rust f64 one"
    );
    Ok(())
}

#[sel4_test(sel4test = "FPU0001", timeout_ms = 60_000)]
fn fpu_threads_preempted_mid_calculation(ctx: &mut Ctx) -> TestResult {
    // Four threads at one priority repeat the calculation; a shared counter
    // shows when one was preempted in the middle of it (another thread
    // finished a calculation meanwhile). Like sel4test, the runs get longer
    // until there were at least 20 such preemptions.
    const THREADS: usize = 4;
    let expected = calculate_soft(ROUNDS);
    ensure_eq!(expected, EXPECTED_BITS[1].1, "the reference result");
    lift(ctx)?;
    let mut objs = ctx.objects(slots_for(THREADS))?;
    let mut repeats = 1u64;
    loop {
        let counter = Arc::new(AtomicU64::new(0));
        let mut hs = Vec::new();
        for _ in 0..THREADS {
            let c = counter.clone();
            hs.push(helper(&mut objs, TEST_TOP - 10, move || {
                let (mut preempted, mut wrong) = (0u64, 0u64);
                for _ in 0..repeats {
                    let before = c.load(Ordering::SeqCst);
                    if calculate(ROUNDS) != expected {
                        wrong += 1;
                    }
                    if c.load(Ordering::SeqCst) != before {
                        preempted += 1;
                    }
                    c.fetch_add(1, Ordering::SeqCst);
                }
                (preempted, wrong)
            })?);
        }
        let mut preempted = 0;
        for h in hs {
            let (p, wrong) = join(&mut objs, h)?;
            ensure_eq!(
                wrong,
                0,
                "calculations with a wrong result ({repeats} each)"
            );
            preempted += p;
        }
        if preempted >= 20 {
            return Ok(());
        }
        repeats *= 2;
        ensure!(
            repeats <= 1 << 12,
            "fewer than 20 preemptions mid-calculation in {repeats} calculations per thread"
        );
    }
}
