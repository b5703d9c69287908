//! Test support for the seL4test-style suite: the few x86_64 routines that
//! must be written in assembly, with safe entry points.
//!
//! The routines are x86_64, aarch64 and riscv64 assembly, one file per
//! architecture (the syscall register probe and the stack alignment probe:
//! `x86_64.rs`, `syscall_aarch64.rs`, `syscall_riscv64.rs`; the fault
//! sites: `fault/<arch>.rs`); on aarch64 and riscv64 the register probe
//! reports registers in the kernel's `seL4_UserContext`, by its field
//! names. The FPU, I/O port, TLS and entry-register probes and the
//! stackless spinner are x86_64 only.
//!
//! The suite itself is `#![forbid(unsafe_code)]`. Some seL4test tests check
//! what only machine code can observe: which registers a syscall keeps
//! (SYSCALL0000-0017), the stack alignment a thread starts with
//! (STACK_ALIGNMENT_001), the exact instruction address of a fault and a
//! restart after it (PAGEFAULT0001-0005). Those routines live here, each
//! behind a safe function whose safety argument is written next to it:
//!
//! - [`syscall_probe`]: one syscall with magic values in every register
//!   the x86_64 seL4 ABI keeps, returning what came back;
//! - [`stack_misalignment`]: how far the caller's stack is from the 16-byte
//!   alignment the SysV ABI promises at a call, with an aligned SSE store;
//! - [`fault`]: fault sites at known addresses (read, write, execute, an
//!   unknown syscall, an undefined instruction) and the addresses to
//!   restart them at;
//! - [`fpu`]: a floating-point calculation on the FPU, with its soft-float
//!   twin (FPU0000, FPU0001);
//! - [`ioport`]: an I/O port read with the `in` instruction at a known
//!   address (IOPORTS1000: user mode has no I/O privilege);
//! - [`tls`]: thread-local variables with initial values (`.tdata`,
//!   `.tbss`) and their accessors (TLS0001-0006);
//! - [`entry_regs`]: a thread entry point that checks every register it
//!   starts with (REGRESSIONS0001);
//! - [`spin_without_stack_then_wait`]: a raw thread's body that leaves its
//!   stack pointer as the kernel's syscall return sets it (0) while the
//!   timer interrupts it, then blocks in a syscall.
//!
//! Only the suite depends on this crate; it is not part of the framework's
//! API (that is `sel4-sys` and up).
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]

#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "riscv64"
)))]
compile_error!("sel4-asm-probes has routines for x86_64, aarch64 and riscv64 only");

#[cfg_attr(target_arch = "aarch64", path = "entry_regs_aarch64.rs")]
#[cfg_attr(target_arch = "riscv64", path = "entry_regs_riscv64.rs")]
pub mod entry_regs;
pub mod fault;
pub mod fpu;
#[cfg(target_arch = "x86_64")]
pub mod ioport;
pub mod tls;

#[cfg(target_arch = "x86_64")]
mod x86_64;
#[cfg(target_arch = "x86_64")]
pub use x86_64::*;

#[cfg(target_arch = "aarch64")]
#[path = "syscall_aarch64.rs"]
mod syscall_arch;
#[cfg(target_arch = "riscv64")]
#[path = "syscall_riscv64.rs"]
mod syscall_arch;
#[cfg(not(target_arch = "x86_64"))]
pub use syscall_arch::{stack_misalignment, syscall_probe};

/// The magic values the register probes load (sel4test's pattern:
/// `0xdeadbeefdead0000 + register index`).
#[cfg(not(target_arch = "x86_64"))]
pub const MAGIC: sel4_sys::Word = 0xdead_beef_dead_0000;

/// The arguments of one probed syscall (aarch64 and riscv64: the
/// registers of `sel4_sys::Regs`).
#[cfg(not(target_arch = "x86_64"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyscallArgs {
    /// The capability (or DebugPutChar's character).
    pub cap: sel4_sys::Word,
    /// The message info.
    pub info: sel4_sys::Word,
    /// Message registers 0 to 3.
    pub mr: [sel4_sys::Word; 4],
}

/// What [`syscall_probe`] saw (aarch64 and riscv64): the registers just
/// before the syscall instruction and just after it, in the kernel's
/// `seL4_UserContext` of the architecture. Fields the probe does not set
/// (the instruction pointer, status and thread-pointer registers where the
/// context has them) are 0 in both.
#[cfg(not(target_arch = "x86_64"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probed {
    pub before: sel4_sys::UserContext,
    pub after: sel4_sys::UserContext,
}

/// A context with `MAGIC + i` in word `i`, 0 in the fields named in
/// `zero`.
#[cfg(not(target_arch = "x86_64"))]
fn magic_context(zero: &[&str]) -> sel4_sys::UserContext {
    use sel4_sys::UserContext;
    let mut w = [0; UserContext::WORDS];
    for (i, (x, name)) in w.iter_mut().zip(UserContext::NAMES).enumerate() {
        if !zero.contains(&name) {
            *x = MAGIC + i as sel4_sys::Word;
        }
    }
    UserContext::from_words(w)
}
