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

mod cnode;
mod console;
mod faults;
mod fpu;
mod framework;
mod heap;
mod image;
mod ipc;
mod kill;
mod notification;
mod retype;
mod sched;
mod semaphore;
mod soundness;
mod stack;
mod sync;
mod syscalls;
mod tcb;
mod threads;
mod typed_ipc;
mod util;
mod vspace;

use sel4_rootserver::{entry, BootInfo};
use sel4_test_harness::{collect_tests, RunError};

entry!(main);

fn main(bootinfo: &BootInfo) -> Result<(), RunError> {
    sel4_test_harness::run(bootinfo, collect_tests!())
}
