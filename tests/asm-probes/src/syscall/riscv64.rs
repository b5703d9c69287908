//! The riscv64 routines of the syscall register probe and the stack
//! alignment probe, in assembly only (the safe wrappers are
//! `syscall.rs`'s [`crate::syscall_probe`] and `stack.rs`'s
//! [`crate::stack_misalignment`]).
//!
//! `ecall` takes its registers as sel4-sys's syscall ABI
//! (`sel4_sys::syscall_abi`) says; a syscall with a reply writes A0-A5
//! back, and the kernel restores every other register, the stack pointer
//! included.

use sel4_sys::UserContext;

/// The fields of the context the probe does not load or store (the
/// instruction pointer): 0 in both contexts of a [`crate::Probed`].
pub(super) const NOT_PROBED: &[&str] = &["pc"];

macro_rules! syscall_probe_asm {
    ($($r:ident),*) => {
        core::arch::global_asm!(
            ".pushsection .text.sel4rs_probe_syscall, \"ax\", @progbits",
            ".p2align 4",
            ".global sel4rs_probe_syscall",
            ".type sel4rs_probe_syscall, @function",
            // void sel4rs_probe_syscall(UserContext *before, UserContext *after):
            // saves RA, GP, TP, S0-S11 and `after`; writes the stack
            // pointer into before->sp; loads every general register from
            // `before` (A0 last); `ecall`; stores every general register
            // and the stack pointer into `after`; restores.
            "sel4rs_probe_syscall:",
            "addi sp, sp, -128",
            "sd ra, 0(sp)",
            "sd gp, 8(sp)",
            "sd tp, 16(sp)",
            "sd s0, 24(sp)",
            "sd s1, 32(sp)",
            "sd s2, 40(sp)",
            "sd s3, 48(sp)",
            "sd s4, 56(sp)",
            "sd s5, 64(sp)",
            "sd s6, 72(sp)",
            "sd s7, 80(sp)",
            "sd s8, 88(sp)",
            "sd s9, 96(sp)",
            "sd s10, 104(sp)",
            "sd s11, 112(sp)",
            "sd a1, 120(sp)",
            "sd sp, {sp}(a0)",
            $(concat!("ld ", stringify!($r), ", {", stringify!($r), "}(a0)"),)*
            "ld a0, {a0}(a0)",
            "ecall",
            "addi sp, sp, -16",
            "sd a0, 0(sp)",
            "ld a0, 136(sp)",
            $(concat!("sd ", stringify!($r), ", {", stringify!($r), "}(a0)"),)*
            "addi a1, sp, 16",
            "sd a1, {sp}(a0)",
            "ld a1, 0(sp)",
            "sd a1, {a0}(a0)",
            "addi sp, sp, 16",
            "ld ra, 0(sp)",
            "ld gp, 8(sp)",
            "ld tp, 16(sp)",
            "ld s0, 24(sp)",
            "ld s1, 32(sp)",
            "ld s2, 40(sp)",
            "ld s3, 48(sp)",
            "ld s4, 56(sp)",
            "ld s5, 64(sp)",
            "ld s6, 72(sp)",
            "ld s7, 80(sp)",
            "ld s8, 88(sp)",
            "ld s9, 96(sp)",
            "ld s10, 104(sp)",
            "ld s11, 112(sp)",
            "addi sp, sp, 128",
            "ret",
            ".size sel4rs_probe_syscall, . - sel4rs_probe_syscall",
            ".popsection",
            sp = const core::mem::offset_of!(UserContext, sp),
            a0 = const core::mem::offset_of!(UserContext, a0),
            $($r = const core::mem::offset_of!(UserContext, $r),)*
        );
    };
}

syscall_probe_asm!(
    ra, gp, tp, t0, t1, t2, s0, s1, a1, a2, a3, a4, a5, a6, a7, s2, s3, s4, s5, s6, s7, s8, s9,
    s10, s11, t3, t4, t5, t6
);

core::arch::global_asm!(
    ".pushsection .text.sel4rs_probe_stack, \"ax\", @progbits",
    ".p2align 4",
    ".global sel4rs_probe_stack_alignment",
    ".type sel4rs_probe_stack_alignment, @function",
    // u64 sel4rs_probe_stack_alignment(void): SP mod 16 (the RISC-V psABI
    // keeps SP 16-byte aligned).
    "sel4rs_probe_stack_alignment:",
    "andi a0, sp, 15",
    "ret",
    ".size sel4rs_probe_stack_alignment, . - sel4rs_probe_stack_alignment",
    ".popsection",
);
