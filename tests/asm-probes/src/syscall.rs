//! The aarch64 and riscv64 syscall register probe (x86_64 has its own,
//! over the registers its syscall ABI keeps: `x86_64.rs`): one syscall with
//! magic values in every general register of the kernel's
//! `seL4_UserContext`, returning every register before and after, compared
//! by the field names there. The routine is in the architecture's file
//! (`syscall/<arch>.rs`), in assembly only; the syscall registers are
//! sel4-sys's syscall ABI (`sel4_sys::syscall_abi`).

use sel4_sys::{Regs, Syscall, UserContext};

#[cfg_attr(target_arch = "aarch64", path = "syscall/aarch64.rs")]
#[cfg_attr(target_arch = "riscv64", path = "syscall/riscv64.rs")]
mod arch;

/// The magic values the register probes load (sel4test's pattern:
/// `0xdeadbeefdead0000 + register index`).
pub const MAGIC: sel4_sys::Word = 0xdead_beef_dead_0000;

/// The arguments of one probed syscall (aarch64 and riscv64: the
/// registers of `sel4_sys::Regs`).
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probed {
    pub before: sel4_sys::UserContext,
    pub after: sel4_sys::UserContext,
}

/// A context with `MAGIC + i` in word `i`, 0 in the fields named in
/// `zero`.
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

extern "C" {
    fn sel4rs_probe_syscall(before: *mut UserContext, after: *mut UserContext);
}

/// Performs the syscall `sys` once with `args`, with `MAGIC + i` in every
/// other general register (`i` the register's word in the kernel's
/// `seL4_UserContext`), and returns every register before and after (the
/// stack pointer included).
///
/// The caller checks which ones the kernel kept: all of them for a
/// syscall without a reply, all but `sel4_sys::syscall_abi::REPLY_REGISTERS`
/// for one with a reply.
pub fn syscall_probe(sys: Syscall, args: SyscallArgs) -> Probed {
    let mut before = magic_context(arch::NOT_PROBED);
    let regs = Regs {
        cap_or_badge: args.cap,
        info: args.info,
        mr: args.mr,
    };
    sel4_sys::syscall_abi::set_syscall(&mut before, sys as isize, &regs);
    let mut after = UserContext::default();
    // SAFETY: the syscall number comes from the `Syscall` enum (this
    // kernel's own syscall.xml) and the other registers are plain words,
    // which the kernel checks as it checks any syscall's arguments; the
    // only memory the kernel touches is this thread's IPC buffer, which no
    // Rust reference covers during the call. The routine saves and
    // restores every callee-saved register on the stack (aarch64 also X18
    // and the link register; riscv64 RA, GP and TP, which nothing between
    // its loads and stores uses), the kernel keeps the stack pointer
    // across the syscall instruction, the routine changes the
    // caller-saved registers otherwise (as a C function may), and writes
    // only `before.sp` and `*after`, two contexts exclusively borrowed
    // here.
    unsafe { sel4rs_probe_syscall(&mut before, &mut after) };
    Probed { before, after }
}
