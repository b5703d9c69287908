//! The client of the IPC figures: on the test's order, `n` typed calls to
//! the typed server and `n` raw calls to the raw one, each kind timed with
//! the time stamp counter (under `-icount shift=0`, instructions).
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use probe_proto::{result, BenchRequest, BenchResponse, CtlRequest, CtlResponse};
use sel4_sys::MessageInfo;

sel4_component::include_env!();
sel4_component::entry!(main);

fn typed(env: &Env, n: u64) -> u64 {
    let start = sel4_sys::arch::read_counter();
    for i in 0..n {
        match env.typed.call(&BenchRequest::Ping { x: i }) {
            Ok(BenchResponse::Pong { x }) if x == i + 1 => {}
            _ => return 0,
        }
    }
    sel4_sys::arch::read_counter() - start
}

fn raw(env: &Env, n: u64) -> u64 {
    let ep = env.raw.raw().endpoint().cptr();
    let start = sel4_sys::arch::read_counter();
    for i in 0..n {
        let r = sel4_sys::call_regs(ep, MessageInfo::new(0, 0, 0, 1), [i, 0, 0, 0]);
        if r.mrs[0] != i + 1 {
            return 0;
        }
    }
    sel4_sys::arch::read_counter() - start
}

fn main(env: Env) -> u64 {
    let mut msg = CtlRequest::Ready {
        generation: sel4_component::generation(),
    };
    loop {
        let Ok(order) = env.ctl.call(&msg) else {
            return 99;
        };
        msg = match order {
            CtlResponse::Bench { n } => {
                // Warm up both paths first.
                let _ = (typed(&env, 16), raw(&env, 16));
                let (t, r) = (typed(&env, n), raw(&env, n));
                CtlRequest::Done {
                    kind: result::CYCLES,
                    a: t,
                    b: r,
                }
            }
            CtlResponse::Exit { code } => return code,
            _ => CtlRequest::Done {
                kind: result::OTHER,
                a: 0,
                b: 0,
            },
        };
    }
}
