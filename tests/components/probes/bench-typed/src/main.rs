//! The typed server of the IPC bench between components
//! (tests/components/bench): answers every ping through its typed channel.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use probe_proto::{BenchRequest, BenchResponse};
use sel4_component::Control;

sel4_component::include_env!();
sel4_component::entry!(main);

fn main(env: Env) {
    env.bench
        .serve(|_, BenchRequest::Ping { x }, _| Control::Reply(BenchResponse::Pong { x: x + 1 }));
}
