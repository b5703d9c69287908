//! The x86_64 entry-register routine: start a thread at
//! [`super::entry`] with [`EXPECTED`] in its registers (and the carry flag
//! set). It compares each register with the expected value, then executes
//! `ud2` at [`super::report_site`] with RAX = 0 when all matched, or the
//! number of the first register that did not (see [`NAMES`]); the handler
//! reads RAX (TCB_ReadRegisters).

use sel4_sys::Word;

/// The values the thread must start with, in seL4_UserContext order
/// after RIP: rsp, rflags, rax, rbx, rcx, rdx, rsi, rdi, rbp, r8-r15
/// (sel4test's). Of RFLAGS only the carry flag (bit 0) is checked.
pub const EXPECTED: [Word; 17] = [
    0x4, 0x1, 0xa, 0xb, 0xc, 0xd, 0x5, 0x2, 0x3, 0x88, 0x99, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
];

/// What each result number means (RAX at the report).
pub const NAMES: [&str; 18] = [
    "all registers as written",
    "rflags (carry flag clear)",
    "rax",
    "rbx",
    "rcx",
    "rdx",
    "rsi",
    "rdi",
    "rbp",
    "rsp",
    "r8",
    "r9",
    "r10",
    "r11",
    "r12",
    "r13",
    "r14",
    "r15",
];

core::arch::global_asm!(
    ".pushsection .text.sel4rs_probe_entry_regs, \"ax\", @progbits",
    ".p2align 4",
    ".global sel4rs_probe_entry_regs",
    ".type sel4rs_probe_entry_regs, @function",
    "sel4rs_probe_entry_regs:",
    "jb 20f",
    "mov eax, 1",
    "jmp 90f",
    "20:",
    "cmp rax, 0xa",
    "je 21f",
    "mov eax, 2",
    "jmp 90f",
    "21:",
    "mov eax, 3",
    "cmp rbx, 0xb",
    "jne 90f",
    "mov eax, 4",
    "cmp rcx, 0xc",
    "jne 90f",
    "mov eax, 5",
    "cmp rdx, 0xd",
    "jne 90f",
    "mov eax, 6",
    "cmp rsi, 0x5",
    "jne 90f",
    "mov eax, 7",
    "cmp rdi, 0x2",
    "jne 90f",
    "mov eax, 8",
    "cmp rbp, 0x3",
    "jne 90f",
    "mov eax, 9",
    "cmp rsp, 0x4",
    "jne 90f",
    "mov eax, 10",
    "cmp r8, 0x88",
    "jne 90f",
    "mov eax, 11",
    "cmp r9, 0x99",
    "jne 90f",
    "mov eax, 12",
    "cmp r10, 0x10",
    "jne 90f",
    "mov eax, 13",
    "cmp r11, 0x11",
    "jne 90f",
    "mov eax, 14",
    "cmp r12, 0x12",
    "jne 90f",
    "mov eax, 15",
    "cmp r13, 0x13",
    "jne 90f",
    "mov eax, 16",
    "cmp r14, 0x14",
    "jne 90f",
    "mov eax, 17",
    "cmp r15, 0x15",
    "jne 90f",
    "xor eax, eax",
    "90:",
    ".global sel4rs_probe_entry_regs_report",
    "sel4rs_probe_entry_regs_report:",
    "ud2",
    "jmp 90b",
    ".size sel4rs_probe_entry_regs, . - sel4rs_probe_entry_regs",
    ".popsection",
);
