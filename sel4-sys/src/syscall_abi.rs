//! The syscall ABI in terms of the kernel's `UserContext`: which of its
//! registers carry the syscall number, the capability, the message info and
//! the message registers of a syscall, as indices into
//! [`UserContext::NAMES`] and [`UserContext::words`].
//!
//! The registers are named once, by the architecture's module next to the
//! inline asm that uses them ([`names`], `arch::syscall_abi`); the indices
//! come from the kernel's own `seL4_UserContext` (generated from its
//! interface files), looked up at compile time: a name the kernel's struct
//! does not have fails the build.

use crate::{Regs, UserContext, Word, REGISTER_MRS};

pub use crate::arch::syscall_abi as names;
pub use crate::arch::syscall_abi::SYSCALL_INSN_BYTES;

/// The register with the syscall number.
pub const SYSCALL: usize = crate::user_context_word(names::SYSCALL);
/// The register with the capability in, the badge out.
pub const CAP: usize = crate::user_context_word(names::CAP);
/// The register with the message info.
pub const INFO: usize = crate::user_context_word(names::INFO);
/// The registers with message registers 0 to 3.
pub const MRS: [usize; REGISTER_MRS] = {
    let mut r = [0; REGISTER_MRS];
    let mut i = 0;
    while i < REGISTER_MRS {
        r[i] = crate::user_context_word(names::MRS[i]);
        i += 1;
    }
    r
};
/// MCS kernels: the register with the reply object capability.
pub const REPLY: usize = crate::user_context_word(names::REPLY);
/// MCS kernels: the register with the destination of `NBSendRecv`.
pub const NBSR_DEST: usize = crate::user_context_word(names::NBSR_DEST);
/// The register that holds the stack pointer while a thread is in a
/// syscall (see [`names::SYSCALL_SP`]).
pub const SYSCALL_SP: usize = crate::user_context_word(names::SYSCALL_SP);
/// The registers the kernel writes a reply into: the badge, the message
/// info and the message registers, in that order.
pub const REPLY_REGISTERS: [usize; 2 + REGISTER_MRS] = {
    let mut r = [CAP, INFO, 0, 0, 0, 0];
    let mut i = 0;
    while i < REGISTER_MRS {
        r[2 + i] = MRS[i];
        i += 1;
    }
    r
};

/// Writes syscall `sys` with `regs` (capability, message info, message
/// registers) into the syscall registers of `ctx`, as the inline asm of
/// [`crate::arch::syscall`] loads them; the other registers stay as they
/// are.
pub fn set_syscall(ctx: &mut UserContext, sys: isize, regs: &Regs) {
    let mut w = ctx.words();
    w[SYSCALL] = sys as Word;
    w[CAP] = regs.cap_or_badge;
    w[INFO] = regs.info;
    for (&i, &mr) in MRS.iter().zip(&regs.mr) {
        w[i] = mr;
    }
    *ctx = UserContext::from_words(w);
}

/// The syscall number and the syscall registers (capability or badge,
/// message info, message registers) of `ctx`.
pub fn syscall_of(ctx: &UserContext) -> (Word, Regs) {
    let w = ctx.words();
    let mut regs = Regs {
        cap_or_badge: w[CAP],
        info: w[INFO],
        mr: [0; REGISTER_MRS],
    };
    for (mr, &i) in regs.mr.iter_mut().zip(&MRS) {
        *mr = w[i];
    }
    (w[SYSCALL], regs)
}
