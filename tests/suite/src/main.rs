//! sel4test: the seL4test-style suite of the framework.
//!
//! Every `#[sel4_test]` in the modules below runs isolated under the
//! harness (`sel4-test-harness`) and is reported on the serial protocol;
//! run it with `sel4-run build/images/sel4test` (`--filter <text>` for a
//! subset, `--shards <n>` to split it over several boots).
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

mod asid;
mod cnode;
mod faults;
mod fpu;
mod framework;
mod interas;
mod ipc;
mod notification;
mod processes;
mod retype;
mod sched;
mod syscalls;
mod tcb;
mod threads;
mod typed_ipc;
mod util;
mod views;
mod vspace;

use sel4_rootserver::{entry, BootInfo};
use sel4_test_harness::{collect_tests, RunError};

entry!(main);

fn main(bootinfo: &BootInfo) -> Result<(), RunError> {
    sel4_test_harness::run(bootinfo, collect_tests!())
}
