//! The x86_64 fault sites: the value lives in EAX (RBX for the unknown
//! syscall, whose fault message carries RBX), the address in RCX.

use sel4_sys::Word;

/// The address the memory-fault probes touch: sel4test's 64-bit
/// `BAD_VADDR`, with bits set above bit 32 so that a fault message that
/// cuts the address to 32 bits shows.
pub const FAULT_VADDR: Word = 0x7EDC_BA98_7650;

/// The probes' value register, by its name in the kernel's
/// `seL4_UserContext` (RAX).
pub const VALUE_REGISTER: &str = "rax";

/// The register in which [`super::undefined_instruction`] keeps the
/// stack pointer while the stack pointer holds the marker (RBX).
pub const KEPT_SP_REGISTER: &str = "rbx";

/// The word of an `UnknownSyscall` fault message with the register
/// [`super::bad_syscall`] keeps its value in (RBX).
pub const UNKNOWN_SYSCALL_VALUE: usize = sel4_sys::consts::UnknownSyscall_RBX;

core::arch::global_asm!(
    ".pushsection .text.sel4rs_probe_fault, \"ax\", @progbits",
    // u32 read(u32 val): EAX = val; EAX = *(u32 *)FAULT_VADDR; return EAX.
    ".p2align 4",
    ".global sel4rs_probe_read_fault",
    ".type sel4rs_probe_read_fault, @function",
    "sel4rs_probe_read_fault:",
    "mov eax, edi",
    "mov rcx, 0x7EDCBA987650",
    ".global sel4rs_probe_read_fault_ip",
    "sel4rs_probe_read_fault_ip:",
    "mov eax, dword ptr [rcx]",
    ".global sel4rs_probe_read_fault_restart",
    "sel4rs_probe_read_fault_restart:",
    "ret",
    // u32 write(u32 val): EAX = val; *(u32 *)FAULT_VADDR = EAX; return EAX.
    ".p2align 4",
    ".global sel4rs_probe_write_fault",
    ".type sel4rs_probe_write_fault, @function",
    "sel4rs_probe_write_fault:",
    "mov eax, edi",
    "mov rcx, 0x7EDCBA987650",
    ".global sel4rs_probe_write_fault_ip",
    "sel4rs_probe_write_fault_ip:",
    "mov dword ptr [rcx], eax",
    ".global sel4rs_probe_write_fault_restart",
    "sel4rs_probe_write_fault_restart:",
    "ret",
    // u32 exec(u32 val): EAX = val; jump to FAULT_VADDR; return EAX (when
    // restarted after the jump).
    ".p2align 4",
    ".global sel4rs_probe_exec_fault",
    ".type sel4rs_probe_exec_fault, @function",
    "sel4rs_probe_exec_fault:",
    "mov eax, edi",
    "mov rcx, 0x7EDCBA987650",
    "jmp rcx",
    ".global sel4rs_probe_exec_fault_restart",
    "sel4rs_probe_exec_fault_restart:",
    "ret",
    // u32 bad_syscall(u32 val, u64 number): EBX = val; `syscall` with
    // RDX = number (RSP kept in R12: the kernel returns with RSP = 0);
    // return EBX.
    ".p2align 4",
    ".global sel4rs_probe_bad_syscall",
    ".type sel4rs_probe_bad_syscall, @function",
    "sel4rs_probe_bad_syscall:",
    "push rbx",
    "push r12",
    "mov ebx, edi",
    "mov rdx, rsi",
    "mov r12, rsp",
    ".global sel4rs_probe_bad_syscall_ip",
    "sel4rs_probe_bad_syscall_ip:",
    "syscall",
    ".global sel4rs_probe_bad_syscall_restart",
    "sel4rs_probe_bad_syscall_restart:",
    "mov rsp, r12",
    "mov eax, ebx",
    "pop r12",
    "pop rbx",
    "ret",
    // u32 undefined_instruction(u32 val, u64 sp_marker): RCX = RFLAGS,
    // EAX = val, RSP = sp_marker (the original RSP kept in RBX); `ud2`;
    // after a restart RSP comes back from RBX; return EAX.
    ".p2align 4",
    ".global sel4rs_probe_ud",
    ".type sel4rs_probe_ud, @function",
    "sel4rs_probe_ud:",
    "push rbx",
    "mov rbx, rsp",
    "pushfq",
    "pop rcx",
    "mov eax, edi",
    "mov rsp, rsi",
    ".global sel4rs_probe_ud_ip",
    "sel4rs_probe_ud_ip:",
    "ud2",
    ".global sel4rs_probe_ud_restart",
    "sel4rs_probe_ud_restart:",
    "mov rsp, rbx",
    "pop rbx",
    "ret",
    ".popsection",
);
