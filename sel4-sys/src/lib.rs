//! seL4 system calls in pure Rust: no libsel4, no C.
//!
//! The syscall entry is inline asm per architecture (`arch`: x86_64
//! `syscall`, aarch64 `svc #0`, riscv64 `ecall`); the syscall
//! numbers, invocation labels, error codes, object types, constants, the
//! kernel configuration and the bitfield types (message info, cap rights, ...)
//! are generated at build time from the interface files of the kernel named
//! by the `SEL4_KERNEL` environment variable (a kernel stage, see
//! `docs/design.md`), so this crate matches that kernel's version and
//! configuration exactly.
//!
//! The kernel's object API is generated too: one method per method of the
//! interface XML files whose condition holds, on typed capabilities
//! ([`Cap`] with a marker of [`cap_type`]), named after the C function
//! without `seL4_` in snake case, marshalled as libsel4's stubs are:
//!
//! ```ignore
//! let tcb: Cap<cap_type::TCB> = Cap::from_cptr(init_caps::CapInitThreadTCB as CPtr);
//! tcb.tcb_suspend()?;                                  // seL4_TCB_Suspend
//! let paddr = frame.x86_page_get_address()?;           // output words returned
//! cnode.cnode_copy(dest, 64, cnode, src, 64, rights)?; // caps as extra caps
//! ```
//!
//! Errors come back as [`InvocationError`] with the kernel's detail words;
//! fault messages decode with [`Fault::decode`].
//!
//! These methods are exact to the configured kernel's XML, so their
//! signatures change between kernel versions and configurations; the `sel4`
//! crate gives each operation one signature on every supported kernel.
#![no_std]

#[cfg(target_arch = "x86_64")]
#[path = "arch/x86_64.rs"]
pub mod arch;

#[cfg(target_arch = "aarch64")]
#[path = "arch/aarch64.rs"]
pub mod arch;

#[cfg(target_arch = "riscv64")]
#[path = "arch/riscv64.rs"]
pub mod arch;

pub mod cap;
mod fault;
pub mod invocation;
mod ipc_buffer;
pub mod syscall_abi;
mod syscalls;
pub mod trace;

sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
    pub mod mcs;
} }

pub use arch::{Regs, REGISTER_MRS};
pub use cap::{Cap, CapType, FixedSize};
pub use fault::*;
pub use invocation::{InvocationError, LookupFailure, Reply};
pub use ipc_buffer::*;
pub use syscalls::*;

#[allow(
    non_camel_case_types,
    non_upper_case_globals,
    clippy::all,
    dead_code,
    unused_parens
)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/generated.rs"));
}
pub use generated::*;

/// A machine word.
pub type Word = u64;
/// A capability pointer (an address in the thread's CSpace).
pub type CPtr = Word;

/// `a == b` in a constant: for compile-time checks against the kernel's
/// names (`UserContext::NAMES`, `KERNEL_SEL4_ARCH`).
pub const fn const_str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The word (index in [`UserContext::NAMES`] and [`UserContext::words`])
/// of the kernel's `seL4_UserContext` field `name`. In a constant, a name
/// the kernel's struct does not have is a compile-time error.
pub const fn user_context_word(name: &str) -> usize {
    let names = UserContext::NAMES;
    let mut i = 0;
    while i < names.len() {
        if const_str_eq(names[i], name) {
            return i;
        }
        i += 1;
    }
    panic!("a register name the kernel's seL4_UserContext does not have");
}
