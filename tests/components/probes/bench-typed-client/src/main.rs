//! The typed client of the IPC bench between components
//! (tests/components/bench): `WARMUP` calls, then `N` timed ones to its
//! server through the typed channel, each answer checked; exits with the
//! counter's cycles per timed call (the TSC on x86_64; under `-icount shift=0`,
//! instructions), or 0 after a wrong answer.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use probe_proto::{bench, BenchRequest, BenchResponse};

sel4_component::include_env!();
sel4_component::entry!(main);

fn rounds(env: &Env, from: u64, n: u64) -> bool {
    (from..from + n).all(|i| {
        matches!(
            env.server.call(&BenchRequest::Ping { x: i }),
            Ok(BenchResponse::Pong { x }) if x == i + 1
        )
    })
}

fn main(env: Env) -> u64 {
    if !rounds(&env, 0, bench::WARMUP) {
        return 0;
    }
    let start = sel4_sys::arch::read_counter();
    let ok = rounds(&env, bench::WARMUP, bench::N);
    let cycles = sel4_sys::arch::read_counter() - start;
    if ok {
        cycles / bench::N
    } else {
        0
    }
}
