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
pub mod exit;
pub mod heap;
pub mod image;
pub mod logger;
#[cfg(target_os = "none")]
mod panic;
mod start;
pub mod startup;
pub mod sync;
pub mod thread;

pub use bootinfo::BootInfo;
pub use exit::{exit, ExitCode};
pub use sel4_sys as sys;
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
        #[no_mangle]
        fn __sel4rs_app_main(bootinfo: &$crate::BootInfo) -> $crate::ExitCode {
            #[allow(unused_imports)]
            use $crate::__private::{ReportDisplay as _, ReportTermination as _};
            (&$crate::__private::Report::new($main(bootinfo))).__sel4rs_report()
        }
        #[no_mangle]
        static __SEL4RS_APP_NAME: &str = env!("CARGO_PKG_NAME");
    };
}
