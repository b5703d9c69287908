//! sel4test: the seL4test-style suite of the framework.
//!
//! Every `#[sel4_test]` in the modules below runs isolated under the
//! harness (`sel4-test-harness`) and is reported on the serial protocol;
//! run it with `sel4-run build/images/sel4test` (`--filter <text>` for a
//! subset, `--shards <n>` to split it over several boots).
#![no_std]
#![no_main]
#![forbid(unsafe_code)]
// Helpers of the tests that are x86_64 only (their `arch` option) are not
// used on aarch64 and riscv64.
#![cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]

extern crate alloc;

mod asid;
mod bind;
mod cancel_badged_sends;
mod cnode;
mod cnodeops;
mod console;
mod cspace;
mod domains;
mod faults;
mod fpu;
mod fpu_flags;
mod fpu_threads;
mod frames;
mod framework;
mod heap;
mod image;
mod interas;
mod interrupts;
mod ioports;
mod ipc;
mod ipc_pairs;
mod ipc_rights;
mod kill;
mod mcs_faults;
mod mcs_framework;
mod mcs_ipc;
mod mcs_sched;
mod mcs_sched_context;
mod mcs_util;
mod nbwait;
mod notification;
mod pagefault;
mod processes;
mod regressions;
mod retype;
mod sched;
mod scheduler;
mod sel4test_ids;
mod semaphore;
mod soundness;
mod stack;
mod support;
mod sync;
mod syscall_regs;
mod syscalls;
mod tcb;
mod tcb_spaces;
mod threads;
mod timer;
mod tls;
mod typed_ipc;
mod untyped_retype;
mod util;
mod views;
mod vspace;
mod vspace_asid;

use sel4_rootserver::{entry, BootInfo};
use sel4_test_harness::{collect_tests, RunError};

entry!(main);

fn main(bootinfo: &BootInfo) -> Result<(), RunError> {
    // TLS0001 checks what the initial thread sees, before anything runs.
    tls::record_root_thread();
    sel4_test_harness::run(bootinfo, collect_tests!())
}
