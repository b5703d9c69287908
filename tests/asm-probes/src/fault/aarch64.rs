//! The aarch64 fault sites: the value lives in W0 (X0, the return
//! register, which the unknown-syscall fault message carries too), the
//! address in X1; `udf #0` is the undefined instruction and X9 keeps the
//! stack pointer while SP holds the marker.

use sel4_sys::Word;

/// The address the memory-fault probes touch: sel4test's 64-bit
/// `BAD_VADDR` (in the lower 48 bits that a 4-level aarch64 VSpace
/// translates), with bits set above bit 32 so that a fault message that
/// cuts the address to 32 bits shows.
pub const FAULT_VADDR: Word = 0x7EDC_BA98_7650;

/// The probes' value register, by its name in the kernel's
/// `seL4_UserContext` (X0).
pub const VALUE_REGISTER: &str = "x0";

/// The register in which [`super::undefined_instruction`] keeps the
/// stack pointer while the stack pointer holds the marker (X9).
pub const KEPT_SP_REGISTER: &str = "x9";

/// The word of an `UnknownSyscall` fault message with the register
/// [`super::bad_syscall`] keeps its value in (X0).
pub const UNKNOWN_SYSCALL_VALUE: usize = sel4_sys::consts::UnknownSyscall_X0;

core::arch::global_asm!(
    ".pushsection .text.sel4rs_probe_fault, \"ax\", %progbits",
    // X1 = FAULT_VADDR, 16 bits at a time.
    ".macro sel4rs_fault_vaddr reg",
    "movz \\reg, #{a0}",
    "movk \\reg, #{a1}, lsl #16",
    "movk \\reg, #{a2}, lsl #32",
    "movk \\reg, #{a3}, lsl #48",
    ".endm",
    // u32 read(u32 val): W0 = val; W0 = *(u32 *)FAULT_VADDR; return W0.
    ".p2align 4",
    ".global sel4rs_probe_read_fault",
    ".type sel4rs_probe_read_fault, %function",
    "sel4rs_probe_read_fault:",
    "sel4rs_fault_vaddr x1",
    ".global sel4rs_probe_read_fault_ip",
    "sel4rs_probe_read_fault_ip:",
    "ldr w0, [x1]",
    ".global sel4rs_probe_read_fault_restart",
    "sel4rs_probe_read_fault_restart:",
    "ret",
    // u32 write(u32 val): *(u32 *)FAULT_VADDR = W0; return W0.
    ".p2align 4",
    ".global sel4rs_probe_write_fault",
    ".type sel4rs_probe_write_fault, %function",
    "sel4rs_probe_write_fault:",
    "sel4rs_fault_vaddr x1",
    ".global sel4rs_probe_write_fault_ip",
    "sel4rs_probe_write_fault_ip:",
    "str w0, [x1]",
    ".global sel4rs_probe_write_fault_restart",
    "sel4rs_probe_write_fault_restart:",
    "ret",
    // u32 exec(u32 val): jump to FAULT_VADDR (X30, the return address,
    // untouched); return W0 when restarted after the jump.
    ".p2align 4",
    ".global sel4rs_probe_exec_fault",
    ".type sel4rs_probe_exec_fault, %function",
    "sel4rs_probe_exec_fault:",
    "sel4rs_fault_vaddr x1",
    "br x1",
    ".global sel4rs_probe_exec_fault_restart",
    "sel4rs_probe_exec_fault_restart:",
    "ret",
    // u32 bad_syscall(u32 val, u64 number): `svc #0` with X7 = number and
    // W0 = val; return W0.
    ".p2align 4",
    ".global sel4rs_probe_bad_syscall",
    ".type sel4rs_probe_bad_syscall, %function",
    "sel4rs_probe_bad_syscall:",
    "mov x7, x1",
    ".global sel4rs_probe_bad_syscall_ip",
    "sel4rs_probe_bad_syscall_ip:",
    "svc #0",
    ".global sel4rs_probe_bad_syscall_restart",
    "sel4rs_probe_bad_syscall_restart:",
    "ret",
    // u32 undefined_instruction(u32 val, u64 sp_marker): SP = sp_marker
    // (the original SP kept in X9); `udf #0`; after a restart SP comes
    // back from X9; return W0.
    ".p2align 4",
    ".global sel4rs_probe_ud",
    ".type sel4rs_probe_ud, %function",
    "sel4rs_probe_ud:",
    "mov x9, sp",
    "mov sp, x1",
    ".global sel4rs_probe_ud_ip",
    "sel4rs_probe_ud_ip:",
    "udf #0",
    ".global sel4rs_probe_ud_restart",
    "sel4rs_probe_ud_restart:",
    "mov sp, x9",
    "ret",
    ".purgem sel4rs_fault_vaddr",
    ".popsection",
    a0 = const FAULT_VADDR & 0xffff,
    a1 = const (FAULT_VADDR >> 16) & 0xffff,
    a2 = const (FAULT_VADDR >> 32) & 0xffff,
    a3 = const (FAULT_VADDR >> 48) & 0xffff,
);
