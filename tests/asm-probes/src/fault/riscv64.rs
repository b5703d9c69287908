//! The riscv64 fault sites: the value lives in A0 (the return register,
//! which the unknown-syscall fault message carries too), the address in
//! T0; an all-zero instruction word is the undefined instruction (the
//! RISC-V ISA reserves it as illegal) and T1 keeps the stack pointer while
//! SP holds the marker.

use sel4_sys::Word;

/// The address the memory-fault probes touch: in the lower half of Sv39's
/// 39 bits (below the kernel's `seL4_UserTop`, 256 GiB; sel4test's 64-bit
/// `BAD_VADDR` is beyond it), with bits set above bit 32 so that a fault
/// message that cuts the address to 32 bits shows, and away from the root
/// task's windows (heap growth from 64 GiB, mappings from 128 GiB).
pub const FAULT_VADDR: Word = 0x1E_DCBA_7650;

/// The probes' value register, by its name in the kernel's
/// `seL4_UserContext` (A0).
pub const VALUE_REGISTER: &str = "a0";

/// The register in which [`super::undefined_instruction`] keeps the
/// stack pointer while the stack pointer holds the marker (T1).
pub const KEPT_SP_REGISTER: &str = "t1";

/// The word of an `UnknownSyscall` fault message with the register
/// [`super::bad_syscall`] keeps its value in (A0).
pub const UNKNOWN_SYSCALL_VALUE: usize = sel4_sys::consts::UnknownSyscall_A0;

core::arch::global_asm!(
    ".pushsection .text.sel4rs_probe_fault, \"ax\", @progbits",
    // u32 read(u32 val): A0 = val; A0 = *(u32 *)FAULT_VADDR; return A0.
    ".p2align 4",
    ".global sel4rs_probe_read_fault",
    ".type sel4rs_probe_read_fault, @function",
    "sel4rs_probe_read_fault:",
    "li t0, {vaddr}",
    ".global sel4rs_probe_read_fault_ip",
    "sel4rs_probe_read_fault_ip:",
    "lw a0, 0(t0)",
    ".global sel4rs_probe_read_fault_restart",
    "sel4rs_probe_read_fault_restart:",
    "ret",
    // u32 write(u32 val): *(u32 *)FAULT_VADDR = A0; return A0.
    ".p2align 4",
    ".global sel4rs_probe_write_fault",
    ".type sel4rs_probe_write_fault, @function",
    "sel4rs_probe_write_fault:",
    "li t0, {vaddr}",
    ".global sel4rs_probe_write_fault_ip",
    "sel4rs_probe_write_fault_ip:",
    "sw a0, 0(t0)",
    ".global sel4rs_probe_write_fault_restart",
    "sel4rs_probe_write_fault_restart:",
    "ret",
    // u32 exec(u32 val): jump to FAULT_VADDR (RA, the return address,
    // untouched); return A0 when restarted after the jump.
    ".p2align 4",
    ".global sel4rs_probe_exec_fault",
    ".type sel4rs_probe_exec_fault, @function",
    "sel4rs_probe_exec_fault:",
    "li t0, {vaddr}",
    "jr t0",
    ".global sel4rs_probe_exec_fault_restart",
    "sel4rs_probe_exec_fault_restart:",
    "ret",
    // u32 bad_syscall(u32 val, u64 number): `ecall` with A7 = number and
    // A0 = val; return A0.
    ".p2align 4",
    ".global sel4rs_probe_bad_syscall",
    ".type sel4rs_probe_bad_syscall, @function",
    "sel4rs_probe_bad_syscall:",
    "mv a7, a1",
    ".global sel4rs_probe_bad_syscall_ip",
    "sel4rs_probe_bad_syscall_ip:",
    "ecall",
    ".global sel4rs_probe_bad_syscall_restart",
    "sel4rs_probe_bad_syscall_restart:",
    "ret",
    // u32 undefined_instruction(u32 val, u64 sp_marker): SP = sp_marker
    // (the original SP kept in T1); an illegal instruction; after a
    // restart SP comes back from T1; return A0.
    ".p2align 4",
    ".global sel4rs_probe_ud",
    ".type sel4rs_probe_ud, @function",
    "sel4rs_probe_ud:",
    "mv t1, sp",
    "mv sp, a1",
    ".global sel4rs_probe_ud_ip",
    "sel4rs_probe_ud_ip:",
    ".4byte 0",
    ".global sel4rs_probe_ud_restart",
    "sel4rs_probe_ud_restart:",
    "mv sp, t1",
    "ret",
    ".popsection",
    vaddr = const FAULT_VADDR,
);
