//! Fault sites at known addresses, for fault handlers that check the
//! fault's instruction address and restart the thread after it (as
//! seL4test's PAGEFAULT0001-0005 do with labels in inline asm).
//!
//! Each probe loads a value (`val`) into a register, faults at a known
//! instruction ([`Site::ip`]), and returns that register when it comes
//! back at [`Site::restart`]. A handler that writes a new value into the
//! register and moves the thread's instruction pointer to the restart
//! address (through `TCB_WriteRegisters` or the fault reply) makes the
//! probe return the new value. Without a handler the faulting thread never
//! comes back.
//!
//! The memory faults use [`FAULT_VADDR`], an address in the lower half of
//! the address space that nothing in sel4rs maps (the root task's image,
//! heap and thread stacks are far below it). A task that maps a frame
//! there itself, through its VSpace capability, lets the read or write
//! probe read or write that frame; like any use of that capability, this
//! is outside what Rust's safety covers (see docs/design.md).

//!
//! The routines are in the architecture's file (`fault/<arch>.rs`), with
//! the same symbols and contract on each: the value is in the return
//! register ([`value`], [`set_value`]; on x86_64 the unknown-syscall probe
//! keeps it in RBX, see [`UNKNOWN_SYSCALL_VALUE`]).

use sel4_sys::{UserContext, Word};

#[cfg_attr(target_arch = "aarch64", path = "fault/aarch64.rs")]
#[cfg_attr(target_arch = "riscv64", path = "fault/riscv64.rs")]
#[cfg_attr(target_arch = "x86_64", path = "fault/x86_64.rs")]
mod arch;

pub use arch::{FAULT_VADDR, UNKNOWN_SYSCALL_VALUE};
use arch::{KEPT_SP_REGISTER, VALUE_REGISTER};

/// The value the probes start with (sel4test's `BAD_MAGIC`, `~GOOD_MAGIC`
/// as a 32-bit int).
pub const BAD_MAGIC: u32 = !0x1583_1851;
/// The value a handler puts in (sel4test's `GOOD_MAGIC`).
pub const GOOD_MAGIC: u32 = 0x1583_1851;

/// Where a probe faults and where it may be restarted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Site {
    /// The address of the faulting instruction.
    pub ip: Word,
    /// The address to restart at (right after it).
    pub restart: Word,
}

extern "C" {
    fn sel4rs_probe_read_fault(val: u32) -> u32;
    fn sel4rs_probe_read_fault_ip();
    fn sel4rs_probe_read_fault_restart();
    fn sel4rs_probe_write_fault(val: u32) -> u32;
    fn sel4rs_probe_write_fault_ip();
    fn sel4rs_probe_write_fault_restart();
    fn sel4rs_probe_exec_fault(val: u32) -> u32;
    fn sel4rs_probe_exec_fault_restart();
    fn sel4rs_probe_bad_syscall(val: u32, number: Word) -> u32;
    fn sel4rs_probe_bad_syscall_ip();
    fn sel4rs_probe_bad_syscall_restart();
    fn sel4rs_probe_ud(val: u32, sp_marker: Word) -> u32;
    fn sel4rs_probe_ud_ip();
    fn sel4rs_probe_ud_restart();
}

const VALUE: usize = sel4_sys::user_context_word(VALUE_REGISTER);
const KEPT_SP: usize = sel4_sys::user_context_word(KEPT_SP_REGISTER);

/// The probes' value register in a thread's saved context.
pub fn value(c: &UserContext) -> Word {
    c.words()[VALUE]
}

/// Sets the probes' value register in a saved context.
pub fn set_value(c: &mut UserContext, v: Word) {
    let mut w = c.words();
    w[VALUE] = v;
    *c = UserContext::from_words(w);
}

/// The register in which [`undefined_instruction`] keeps the stack
/// pointer while the stack pointer holds the marker.
pub fn kept_sp(c: &UserContext) -> Word {
    c.words()[KEPT_SP]
}

fn addr(f: unsafe extern "C" fn()) -> Word {
    f as *const () as usize as Word
}

/// Reads 4 bytes at [`FAULT_VADDR`] into the value register (which holds
/// `val` before); returns it.
#[inline(never)]
pub fn read(val: u32) -> u32 {
    // SAFETY: the routine changes two caller-saved registers only (the
    // value register and the one with the address) and reads 4 bytes at
    // FAULT_VADDR, which is no Rust allocation (see the module
    // documentation); unmapped, the thread faults there and comes back
    // only if a handler restarts it at the restart address, where the
    // routine returns like a C function.
    unsafe { sel4rs_probe_read_fault(val) }
}

/// Where [`read`] faults.
pub fn read_site() -> Site {
    Site {
        ip: addr(sel4rs_probe_read_fault_ip),
        restart: addr(sel4rs_probe_read_fault_restart),
    }
}

/// Writes `val` (held in the value register) to the 4 bytes at
/// [`FAULT_VADDR`]; returns the value register.
#[inline(never)]
pub fn write(val: u32) -> u32 {
    // SAFETY: as for `read`, with a 4-byte write to FAULT_VADDR, which no
    // Rust allocation covers.
    unsafe { sel4rs_probe_write_fault(val) }
}

/// Where [`write`] faults.
pub fn write_site() -> Site {
    Site {
        ip: addr(sel4rs_probe_write_fault_ip),
        restart: addr(sel4rs_probe_write_fault_restart),
    }
}

/// Jumps to [`FAULT_VADDR`] with `val` in the value register; returns it
/// when restarted at [`exec_site`]'s restart address.
#[inline(never)]
pub fn exec(val: u32) -> u32 {
    // SAFETY: the routine changes the value register and one other
    // caller-saved register only, keeps the return address, and jumps to
    // FAULT_VADDR, where no code is mapped (nothing in sel4rs maps it):
    // the instruction fetch faults and the thread comes back only if a
    // handler restarts it at the restart address, where the routine
    // returns like a C function with the stack as it was.
    unsafe { sel4rs_probe_exec_fault(val) }
}

/// Where [`exec`] faults ([`FAULT_VADDR`] itself) and where to restart it.
pub fn exec_site() -> Site {
    Site {
        ip: FAULT_VADDR,
        restart: addr(sel4rs_probe_exec_fault_restart),
    }
}

/// Performs the syscall `number` (one the kernel does not know, so that
/// it raises an unknown-syscall fault) with `val` in the register of
/// [`UNKNOWN_SYSCALL_VALUE`]; returns that register when restarted at
/// [`bad_syscall_site`]'s restart address.
#[inline(never)]
pub fn bad_syscall(val: u32, number: Word) -> u32 {
    // SAFETY: x86_64: the routine saves and restores RBX and R12, keeps
    // the stack pointer in R12 across `syscall` (the kernel returns with
    // RSP = 0) and changes RAX, RCX, RDX, R11 (caller-saved); aarch64 and
    // riscv64: it changes the value register and the syscall-number
    // register (caller-saved; the kernel keeps the others). The kernel treats a
    // number it does not know as a fault; a known number is an ordinary
    // syscall with whatever the other registers hold, which the kernel
    // checks as any syscall's arguments (the memory it may touch is this
    // thread's IPC buffer, which no Rust reference covers during the call).
    unsafe { sel4rs_probe_bad_syscall(val, number) }
}

/// Where [`bad_syscall`] faults (its `syscall` instruction) and where to
/// restart it.
pub fn bad_syscall_site() -> Site {
    Site {
        ip: addr(sel4rs_probe_bad_syscall_ip),
        restart: addr(sel4rs_probe_bad_syscall_restart),
    }
}

/// Executes an undefined instruction (x86_64 `ud2`, aarch64 `udf #0`,
/// riscv64 an all-zero word) with `val` in the value register and the
/// stack pointer = `sp_marker` (the fault message reports it); returns the
/// value register when restarted at [`undefined_instruction_site`]'s
/// restart address (which takes the stack pointer back from where the
/// routine kept it, whatever the handler set). On x86_64 RCX holds RFLAGS
/// at the fault.
#[inline(never)]
pub fn undefined_instruction(val: u32, sp_marker: Word) -> u32 {
    // SAFETY: the routine keeps the stack pointer in a register (x86_64:
    // RBX, saved and restored; aarch64 X9, riscv64 T1, caller-saved) while
    // the stack pointer holds the marker (no instruction uses the stack
    // meanwhile: the exception enters the kernel, which does not use the
    // user stack), and after a restart puts it back and returns like a C
    // function; it changes only caller-saved registers. Without a
    // handler that restarts it, the thread does not come back.
    unsafe { sel4rs_probe_ud(val, sp_marker) }
}

/// Where [`undefined_instruction`] faults and where to restart it.
pub fn undefined_instruction_site() -> Site {
    Site {
        ip: addr(sel4rs_probe_ud_ip),
        restart: addr(sel4rs_probe_ud_restart),
    }
}
