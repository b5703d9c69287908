//! startup: how long the start code and the runtime take before `main`, in
//! instructions (the image runs under QEMU's `-icount shift=0`, where the
//! time stamp counter counts instructions; the figures repeat from boot to
//! boot):
//!
//! ```text
//! startup _start->first_kernel_call=<n> _start->main=<n> kernel_calls_before_main=<n>
//! ```
//!
//! `_start->first_kernel_call` is user code only (relocation, TLS, bootinfo,
//! the runtime's set-up up to its first system call); `_start->main`
//! includes the kernel's instructions for the system calls the runtime
//! makes before `main` (its objects, the read-only image, the boot line).
//! Built with the runtime's feature `startup-trace`, which only this image
//! uses (it adds a counter to every system call).
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use sel4_rootserver::{entry, println, BootInfo};

entry!(main);

/// Why the figures could not be read.
#[derive(Debug)]
pub struct NoFigures;

impl core::fmt::Display for NoFigures {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("no start-up figures (built without the runtime's feature startup-trace?)")
    }
}

fn main(_: &BootInfo) -> Result<(), NoFigures> {
    let f = sel4_runtime::startup::figures().ok_or(NoFigures)?;
    if !(f.start < f.first_syscall && f.first_syscall < f.main) {
        println!("startup: figures out of order: {f:?}");
        return Err(NoFigures);
    }
    println!(
        "startup _start->first_kernel_call={} _start->main={} kernel_calls_before_main={}",
        f.first_syscall - f.start,
        f.main - f.start,
        f.syscalls_before_main
    );
    Ok(())
}
