//! Test support for the seL4test-style suite: the few routines that must
//! be written in assembly, with safe entry points.
//!
//! One module per probe holds its safe wrappers, their safety arguments
//! and what the probe means; the routines themselves are x86_64, aarch64
//! and riscv64 assembly (`global_asm!`), one file per architecture below
//! the probe's module (`fault/<arch>.rs`, `entry_regs/<arch>.rs`,
//! `tls/<arch>.rs`, `syscall/<arch>.rs`; the stack alignment routine in
//! `syscall/<arch>.rs` and `x86_64.rs`). The x86_64 syscall register probe
//! and the stackless spinner (`x86_64.rs`) and the FPU and I/O port
//! probes are their own; on aarch64 and riscv64 the register probe
//! (`syscall.rs`) reports registers in the kernel's `seL4_UserContext`, by
//! its field names.
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

#[cfg(not(target_arch = "x86_64"))]
mod syscall;
#[cfg(not(target_arch = "x86_64"))]
pub use syscall::{syscall_probe, Probed, SyscallArgs, MAGIC};

mod stack;
pub use stack::stack_misalignment;
