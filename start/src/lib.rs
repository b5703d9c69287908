//! The first code of a seL4 program: a root task, which the kernel starts,
//! or a process, which a loader (`sel4_rootserver::process`) starts.
//!
//! `_start` (in `global_asm!`, per architecture) tells the two apart by the
//! stack pointer, which the kernel leaves 0 for the root task and the
//! loader sets for a process (start contract, `sel4_component_env::start`):
//! - a **root task** (stack pointer 0) gets the static stack the entry
//!   macro defines ([`stack!`]), applies the image's relative relocations
//!   for the address it runs at (`self_relocate`), and calls the runtime;
//! - a **process** (x86_64) keeps the stack, relocations and TLS block the
//!   loader set up: the loader applied the relocations with the same ELF
//!   model (`sel4-elf-reloc`), laid out the TLS block and set FS base, so
//!   the start code only aligns the stack and calls the runtime.
//!
//! Either way the runtime's `__sel4rs_runtime_entry` gets a [`StartInfo`].
//! Thread-local storage is the runtime's business: the root task's initial
//! TLS block is laid out by the runtime from its own image with
//! `sel4-elf-reloc` (the same code that lays out a process's blocks).
#![cfg_attr(not(test), no_std)]

#[cfg(target_arch = "x86_64")]
#[path = "arch/x86_64.rs"]
mod arch;

#[cfg(target_arch = "aarch64")]
#[path = "arch/aarch64.rs"]
mod arch;

#[cfg(target_arch = "riscv64")]
#[path = "arch/riscv64.rs"]
mod arch;

pub use arch::self_relocate;

/// Bytes of the root task's static stack (the one `_start` of a root task
/// switches to).
pub const INITIAL_STACK_SIZE: usize = 256 * 1024;

/// Which kind of program `_start` found itself in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Kind {
    /// Started by the kernel: `arg` is the bootinfo address.
    RootTask = 0,
    /// Started by a loader under the start contract: `arg` is the
    /// start-info page's address.
    Process = 1,
}

/// What the start code found, handed to the runtime.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub struct StartInfo {
    /// The first argument register as the program was started with: the
    /// bootinfo address (root task) or the start-info page's (process).
    pub arg: usize,
    /// Result of self-relocation: number of relocations applied (0 for a
    /// process: its loader relocated it), or a negative [`RelocStatus`]
    /// code.
    pub relocation: isize,
    /// Address the image's ELF header was loaded at.
    pub image_start: usize,
    /// Root task or process.
    pub kind: Kind,
}

/// Defines the static stack `_start` gives a root task (`__sel4rs_stack_top`):
/// `stack!(sel4_start::INITIAL_STACK_SIZE)` in a root task's entry macro,
/// `stack!(0)` in a process's (whose loader gives it a stack: no bytes of
/// its image go to a stack it never uses). Exactly one per program.
#[macro_export]
macro_rules! stack {
    ($bytes:expr) => {
        ::core::arch::global_asm!(
            ".pushsection .bss.sel4rs_stack,\"aw\",%nobits",
            ".p2align 12",
            ".globl __sel4rs_stack_top",
            ".hidden __sel4rs_stack_top",
            ".skip {bytes}",
            "__sel4rs_stack_top:",
            ".popsection",
            bytes = const $bytes,
        );
    };
}

/// Negative codes of [`self_relocate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(isize)]
pub enum RelocStatus {
    /// A relocation type other than the architecture's RELATIVE or NONE
    /// (R_X86_64_RELATIVE, R_AARCH64_RELATIVE, R_RISCV_RELATIVE).
    UnsupportedType = -1,
    /// The image has a dynamic section but no program header for it.
    NoDynamicHeader = -2,
    /// No PT_LOAD segment maps the ELF header, so the load offset is
    /// unknown (aarch64 and riscv64, which find the dynamic section through
    /// the program headers).
    NoHeaderSegment = -3,
}

impl RelocStatus {
    /// Decodes a negative result of [`self_relocate`].
    pub fn from_code(code: isize) -> Option<Self> {
        match code {
            -1 => Some(Self::UnsupportedType),
            -2 => Some(Self::NoDynamicHeader),
            -3 => Some(Self::NoHeaderSegment),
            _ => None,
        }
    }
}

#[cfg(target_os = "none")]
mod entry {
    use super::*;

    extern "Rust" {
        /// Defined by the runtime's entry macro.
        fn __sel4rs_runtime_entry(info: &StartInfo) -> !;
    }

    extern "C" {
        static __ehdr_start: u8;
    }

    /// Called by `_start` once the stack is set and relocations are done.
    #[no_mangle]
    extern "C" fn __sel4rs_rust_start(arg: usize, relocation: isize, kind: usize) -> ! {
        let info = StartInfo {
            arg,
            relocation,
            image_start: core::ptr::addr_of!(__ehdr_start) as usize,
            kind: if kind == Kind::Process as usize {
                Kind::Process
            } else {
                Kind::RootTask
            },
        };
        // SAFETY: the runtime's entry macro defines this entry; it never
        // returns.
        unsafe { __sel4rs_runtime_entry(&info) }
    }
}
