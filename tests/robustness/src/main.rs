//! The robustness stage of the test command: the framework attacked as a
//! careless or hostile program would, each test bounded in time and each
//! ending with a check that the system still serves (cap transfer still
//! works, no byte or slot lost, later threads still run). The figures each
//! test prints (requests, cycles, trials, bytes) go to the serial log.
//!
//! - `ipc`: request storms against typed servers;
//! - `memory`: create/delete soaks and exhaustion of slots, memory, heap;
//! - `threads`: fault storms and kill/panic/fault at random points;
//! - `processes`: 1,000 processes made and destroyed, nothing lost.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

mod ipc;
mod memory;
mod processes;
mod threads;

use sel4_rootserver::{entry, BootInfo};
use sel4_test_harness::{collect_tests, RunError};

entry!(main);

fn main(bootinfo: &BootInfo) -> Result<(), RunError> {
    sel4_test_harness::run(bootinfo, collect_tests!())
}
