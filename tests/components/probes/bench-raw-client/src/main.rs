//! The raw client of the IPC bench between components
//! (tests/components/bench): the typed client's loop with raw syscalls
//! (`seL4_Call` of the request's wire label and word), to a server that
//! answers with raw syscalls; exits with the cycles per timed call, or 0
//! after a wrong answer.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use probe_proto::bench;
use sel4_sys::MessageInfo;

sel4_component::include_env!();
sel4_component::entry!(main);

fn rounds(ep: u64, from: u64, n: u64) -> bool {
    (from..from + n).all(|i| {
        let r = sel4_sys::call_regs(ep, MessageInfo::new(bench::PING, 0, 0, 1), [i, 0, 0, 0]);
        r.mrs[0] == i + 1
    })
}

fn main(env: Env) -> u64 {
    let ep = env.server.raw().endpoint().cptr();
    if !rounds(ep, 0, bench::WARMUP) {
        return 0;
    }
    let start = sel4_sys::arch::read_counter();
    let ok = rounds(ep, bench::WARMUP, bench::N);
    let cycles = sel4_sys::arch::read_counter() - start;
    if ok {
        cycles / bench::N
    } else {
        0
    }
}
