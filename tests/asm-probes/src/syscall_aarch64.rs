//! The aarch64 syscall register probe and stack alignment probe.
//!
//! `svc #0` takes the syscall number in X7, the capability in X0, the
//! message info in X1 and message registers 0 to 3 in X2-X5 (MCS: the
//! reply object in X6); a syscall with a reply writes X0-X5 back, and the
//! kernel restores every other register, the stack pointer included.

use sel4_sys::{Syscall, UserContext, Word};

use crate::{magic_context, Probed, SyscallArgs};

/// The fields of the context the probe does not load or store (the
/// instruction pointer, the status register and the thread-pointer
/// registers): 0 in both contexts of a [`Probed`].
const NOT_PROBED: &[&str] = &["pc", "spsr", "tpidr_el0", "tpidrro_el0"];

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

extern "C" {
    fn sel4rs_probe_syscall(before: *mut UserContext, after: *mut UserContext);
}

/// Performs the syscall `sys` once with `args`, with `MAGIC + i` in every
/// other general register (X0-X30 but the arguments, `i` the register's
/// word in the kernel's `seL4_UserContext`), and returns every register
/// before and after (the stack pointer included).
///
/// The caller checks which ones the kernel kept: all of them for a
/// syscall without a reply, all but `sel4_sys::syscall_abi::REPLY_REGISTERS` for one with a
/// reply.
pub fn syscall_probe(sys: Syscall, args: SyscallArgs) -> Probed {
    let mut before = magic_context(NOT_PROBED);
    before.x7 = sys as isize as Word;
    before.x0 = args.cap;
    before.x1 = args.info;
    [before.x2, before.x3, before.x4, before.x5] = args.mr;
    let mut after = UserContext::default();
    // SAFETY: the syscall number comes from the `Syscall` enum (this
    // kernel's own syscall.xml) and the other registers are plain words,
    // which the kernel checks as it checks any syscall's arguments; the
    // only memory the kernel touches is this thread's IPC buffer, which no
    // Rust reference covers during the call. The routine saves and
    // restores every callee-saved register, X18 and the link register on
    // the stack (the kernel keeps the stack pointer across `svc`), changes
    // the caller-saved ones (as a C function may), and writes only
    // `before.sp` and `*after`, two contexts exclusively borrowed here.
    unsafe { sel4rs_probe_syscall(&mut before, &mut after) };
    Probed { before, after }
}

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

extern "C" {
    fn sel4rs_probe_stack_alignment() -> u64;
}

/// How many bytes the caller's stack pointer is off the 16-byte alignment
/// AAPCS64 requires (0 when aligned).
#[inline(never)]
pub fn stack_misalignment() -> u64 {
    // SAFETY: the routine reads SP and changes X0 (the return value) only.
    unsafe { sel4rs_probe_stack_alignment() }
}
