//! seL4 system calls in pure Rust: no libsel4, no C.
//!
//! The syscall entry is inline asm per architecture (`arch`); the syscall
//! numbers, invocation labels, error codes, object types, constants, the
//! kernel configuration and the bitfield types (message info, cap rights, ...)
//! are generated at build time from the interface files of the kernel named
//! by the `SEL4_KERNEL` environment variable (a kernel stage, see
//! `docs/design.md`), so this crate matches that kernel's version and
//! configuration exactly.
#![no_std]

#[cfg(target_arch = "x86_64")]
#[path = "arch/x86_64.rs"]
pub mod arch;

mod ipc_buffer;
mod syscalls;

pub use arch::{Regs, REGISTER_MRS};
pub use ipc_buffer::*;
pub use syscalls::*;

/// A machine word.
pub type Word = u64;
/// A capability pointer (an address in the thread's CSpace).
pub type CPtr = Word;

#[allow(
    non_camel_case_types,
    non_upper_case_globals,
    clippy::all,
    missing_docs,
    dead_code
)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/generated.rs"));
}
pub use generated::*;
