//! The server of the `ctl` channels and signaller of `release` in the
//! description; never started: the tests serve its channels and signal
//! its notification themselves (through the supervisor's capabilities).
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

sel4_component::include_env!();
sel4_component::entry!(main);

fn main(_env: Env) {}
