//! Tests of systems of components (issue 12), on QEMU: the system of
//! `tests/components/system.toml` (probe components built by
//! `sel4-system build`), each test with a supervisor of its own over its
//! plan, over memory of its own (given back and checked at the end).
//!
//! The test thread is every probe client's director: it serves the
//! clients' `ctl` channels itself (through the supervisor's endpoints),
//! orders each step and reads the result; it runs the supervisor's steps
//! in between (faults, restarts). Components run at 210-230, the test
//! thread at 250: a component runs when the test thread blocks, or when it
//! lowers itself for a moment ([`let_run`]).
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

mod budgets;
mod figures;
mod isolation;
mod lifecycle;
mod restarts;

use sel4_rootserver::{entry, BootInfo};
use sel4_test_harness::{collect_tests, RunError};

sel4_rootserver::system_module!();

pub mod rig;

entry!(main);

fn main(bootinfo: &BootInfo) -> Result<(), RunError> {
    sel4_test_harness::run(bootinfo, collect_tests!())
}
