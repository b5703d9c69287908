//! The aarch64 routines of the syscall register probe and the stack
//! alignment probe, in assembly only (the safe wrappers are
//! `syscall.rs`'s [`crate::syscall_probe`] and `stack.rs`'s
//! [`crate::stack_misalignment`]).
//!
//! `svc #0` takes its registers as sel4-sys's syscall ABI
//! (`sel4_sys::syscall_abi`) says; a syscall with a reply writes X0-X5
//! back, and the kernel restores every other register, the stack pointer
//! included.

use sel4_sys::UserContext;

/// The fields of the context the probe does not load or store (the
/// instruction pointer, the status register and the thread-pointer
/// registers): 0 in both contexts of a [`crate::Probed`].
pub(super) const NOT_PROBED: &[&str] = &["pc", "spsr", "tpidr_el0", "tpidrro_el0"];

macro_rules! syscall_probe_asm {
    ($($r:ident),*) => {
        core::arch::global_asm!(
            ".pushsection .text.sel4rs_probe_syscall, \"ax\", %progbits",
            ".p2align 4",
            ".global sel4rs_probe_syscall",
            ".type sel4rs_probe_syscall, %function",
            // void sel4rs_probe_syscall(UserContext *before, UserContext *after):
            // saves the callee-saved registers, X18 and `after`; writes the
            // stack pointer into before->sp; loads every general register
            // from `before` (X0 last); `svc #0`; stores every general
            // register and the stack pointer into `after`; restores.
            "sel4rs_probe_syscall:",
            "stp x29, x30, [sp, #-16]!",
            "stp x27, x28, [sp, #-16]!",
            "stp x25, x26, [sp, #-16]!",
            "stp x23, x24, [sp, #-16]!",
            "stp x21, x22, [sp, #-16]!",
            "stp x19, x20, [sp, #-16]!",
            "stp x1, x18, [sp, #-16]!",
            "mov x9, sp",
            "str x9, [x0, #{sp}]",
            $(concat!("ldr ", stringify!($r), ", [x0, #{", stringify!($r), "}]"),)*
            "ldr x0, [x0, #{x0}]",
            "svc #0",
            "str x0, [sp, #-16]!",
            "ldr x0, [sp, #16]",
            $(concat!("str ", stringify!($r), ", [x0, #{", stringify!($r), "}]"),)*
            "add x1, sp, #16",
            "str x1, [x0, #{sp}]",
            "ldr x1, [sp], #16",
            "str x1, [x0, #{x0}]",
            "ldp x1, x18, [sp], #16",
            "ldp x19, x20, [sp], #16",
            "ldp x21, x22, [sp], #16",
            "ldp x23, x24, [sp], #16",
            "ldp x25, x26, [sp], #16",
            "ldp x27, x28, [sp], #16",
            "ldp x29, x30, [sp], #16",
            "ret",
            ".size sel4rs_probe_syscall, . - sel4rs_probe_syscall",
            ".popsection",
            sp = const core::mem::offset_of!(UserContext, sp),
            x0 = const core::mem::offset_of!(UserContext, x0),
            $($r = const core::mem::offset_of!(UserContext, $r),)*
        );
    };
}

syscall_probe_asm!(
    x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11, x12, x13, x14, x15, x16, x17, x18, x19, x20, x21,
    x22, x23, x24, x25, x26, x27, x28, x29, x30
);

core::arch::global_asm!(
    ".pushsection .text.sel4rs_probe_stack, \"ax\", %progbits",
    ".p2align 4",
    ".global sel4rs_probe_stack_alignment",
    ".type sel4rs_probe_stack_alignment, %function",
    // u64 sel4rs_probe_stack_alignment(void): SP mod 16 (AAPCS64: 0 at
    // every public interface; the hardware's SP alignment check faults on
    // an SP-relative access with a misaligned SP).
    "sel4rs_probe_stack_alignment:",
    "mov x0, sp",
    "and x0, x0, #15",
    "ret",
    ".size sel4rs_probe_stack_alignment, . - sel4rs_probe_stack_alignment",
    ".popsection",
);
