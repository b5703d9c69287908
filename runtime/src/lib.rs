//! Runtime for seL4 root tasks written in Rust.
//!
//! - [`entry!`] turns an ordinary `fn main(bootinfo: &BootInfo)` into the
//!   root task's entry; the start code (`sel4-start`) has set up the stack,
//!   relocations and TLS by then, and the runtime sets the thread pointer,
//!   the IPC buffer, the heap and the logger.
//! - a panic handler that prints location and message, reports the failure
//!   on the serial protocol and stops the system cleanly;
//! - a `log` backend on the kernel's debug console;
//! - a global heap (`linked_list_allocator`) with per-thread accounts and
//!   limits, growing from untyped memory given to it;
//! - kernel-backed locks ([`sync`]), which the heap, the console and the
//!   thread registry use;
//! - the image's code and read-only data mapped read-only at start
//!   ([`image`]).
#![no_std]

extern crate alloc;

// Per-architecture parts (thread pointer, new threads' registers, stack
// probe, image remapping, fault provokers, ending QEMU); the rest is shared.
#[cfg(target_arch = "x86_64")]
#[path = "arch/x86_64.rs"]
mod arch;
#[cfg(target_arch = "aarch64")]
#[path = "arch/aarch64.rs"]
mod arch;
#[cfg(target_arch = "riscv64")]
#[path = "arch/riscv64.rs"]
mod arch;

pub mod bootinfo;
pub mod console;
pub mod cspace;
pub mod exit;
pub mod heap;
pub mod image;
pub mod ipc;
pub mod logger;
mod own_image;
mod panic;
pub mod process;
mod start;
pub mod startup;
pub mod sync;
pub mod thread;

pub use bootinfo::BootInfo;
pub use exit::{exit, ExitCode};
pub use own_image::ImageTls;
#[doc(hidden)]
pub use sel4_start as __start;
pub use sel4_sys as sys;
#[cfg(target_os = "none")]
#[doc(hidden)]
pub use start::__root_task_entry;
#[cfg(target_arch = "x86_64")]
pub use start::root_task_started_at;
pub use start::Termination;

#[doc(hidden)]
pub mod __private {
    pub use crate::start::{Report, ReportDisplay, ReportTermination};
}

/// Declares the root task's main function.
///
/// ```ignore
/// sel4_runtime::entry!(main);
/// fn main(bootinfo: &sel4_runtime::BootInfo) { /* ... */ }
/// ```
///
/// `main` may return `()`, an [`ExitCode`] or `Result<(), E>` with
/// `E: Display` or `E: Debug` (an error with `Display` is reported by its
/// `Display` text, else by its `Debug` form). When it returns, the runtime
/// reports the result on the serial protocol and ends the system (on QEMU:
/// with an exit status for success or failure).
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        // The root task's static stack (a process's comes from its loader).
        $crate::__start::stack!($crate::__start::INITIAL_STACK_SIZE);
        #[no_mangle]
        extern "C" fn __sel4rs_app_entry(info: &$crate::__start::StartInfo) -> ! {
            fn __sel4rs_root_main(bootinfo: &$crate::BootInfo) -> $crate::ExitCode {
                #[allow(unused_imports)]
                use $crate::__private::{ReportDisplay as _, ReportTermination as _};
                (&$crate::__private::Report::new($main(bootinfo))).__sel4rs_report()
            }
            $crate::__root_task_entry(info, __sel4rs_root_main, env!("CARGO_PKG_NAME"))
        }
    };
}
