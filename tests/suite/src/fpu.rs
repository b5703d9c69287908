//! FPU: each thread's SSE registers (xmm0-xmm15) survive context switches
//! (the kernel switches FPU state lazily on x86).

use alloc::vec::Vec;
use sel4_rootserver::thread::ThreadBuilder;
use sel4_sys::arch::{read_sse, write_sse, SSE_REGISTERS};
use sel4_test_harness::{ensure, ensure_eq, sel4_test, Ctx, TestResult, HARNESS_PRIORITY};

use crate::util::{fw, OBJECT_SLOTS};

fn pattern(seed: u64) -> [u64; 2 * SSE_REGISTERS] {
    let mut p = [0u64; 2 * SSE_REGISTERS];
    for (i, w) in p.iter_mut().enumerate() {
        *w = seed
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .wrapping_add(i as u64 * 0x0101_0101_0101_0101);
    }
    p
}

/// Loads the pattern, then `rounds` times yields (or spins for `spin`
/// TSC cycles) and checks the registers; returns the first round that saw
/// other values, if any.
fn keep_pattern(seed: u64, rounds: u32, spin: u64) -> Option<u32> {
    let p = pattern(seed);
    write_sse(&p);
    for round in 0..rounds {
        if spin == 0 {
            sel4_sys::yield_now();
        } else {
            let start = sel4_sys::arch::rdtsc();
            while sel4_sys::arch::rdtsc().wrapping_sub(start) < spin {
                core::hint::spin_loop();
            }
        }
        if read_sse() != p {
            return Some(round);
        }
    }
    None
}

#[sel4_test(sel4test_partly = "FPU0001")]
fn sse_registers_survive_yields(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let mut hs = Vec::new();
    for seed in [1u64, 2] {
        hs.push(
            ThreadBuilder::new()
                .priority(HARNESS_PRIORITY as u8 + 10)
                .spawn(&mut objs, move || keep_pattern(seed, 300, 0))
                .map_err(fw("spawn"))?,
        );
    }
    for (i, h) in hs.into_iter().enumerate() {
        let r = h.join(&mut objs).map_err(fw("join"))?;
        ensure_eq!(r, None, "thread {i} lost its SSE values in that round");
    }
    Ok(())
}

#[sel4_test(sel4test_partly = "FPU0001")]
fn sse_registers_survive_preemption(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    // Busy threads without yields: only timer preemption switches them.
    let spin = ctx.machine().tsc_mhz * 2_000; // 2 ms per round
    let mut hs = Vec::new();
    for seed in [3u64, 4, 5] {
        hs.push(
            ThreadBuilder::new()
                .priority(HARNESS_PRIORITY as u8 + 10)
                .spawn(&mut objs, move || keep_pattern(seed, 20, spin))
                .map_err(fw("spawn"))?,
        );
    }
    for (i, h) in hs.into_iter().enumerate() {
        let r = h.join(&mut objs).map_err(fw("join"))?;
        ensure_eq!(r, None, "thread {i} lost its SSE values in that round");
    }
    Ok(())
}

#[sel4_test(sel4test_partly = "FPU0000")]
fn own_sse_registers_survive_other_threads(ctx: &mut Ctx) -> TestResult {
    let mine = pattern(6);
    write_sse(&mine);
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let h = ThreadBuilder::new()
        .spawn(&mut objs, || {
            write_sse(&pattern(7));
            read_sse() == pattern(7)
        })
        .map_err(fw("spawn"))?;
    ensure!(
        h.join(&mut objs).map_err(fw("join"))?,
        "the other thread's values"
    );
    ensure!(read_sse() == mine, "the test thread's values changed");
    Ok(())
}
