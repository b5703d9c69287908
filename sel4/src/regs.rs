//! A thread's saved registers ([`UserContext`], the kernel's
//! `seL4_UserContext` of this architecture) by meaning: instruction
//! pointer, stack pointer, the first argument registers of the C calling
//! convention and the TLS base, so that code which starts or inspects a
//! thread names no architecture's registers.

use crate::{UserContext, Word};

/// Arch-neutral access to a thread's saved registers.
pub trait Registers {
    /// The instruction pointer (x86_64 `rip`, aarch64 and riscv64 `pc`).
    fn pc(&self) -> Word;
    /// Sets the instruction pointer.
    fn set_pc(&mut self, pc: Word);
    /// The stack pointer (x86_64 `rsp`, aarch64 and riscv64 `sp`).
    fn sp(&self) -> Word;
    /// Sets the stack pointer.
    fn set_sp(&mut self, sp: Word);
    /// Argument register `i` of the C calling convention (`i` <
    /// [`ARG_REGISTERS`]: x86_64 rdi, rsi, rdx, rcx; aarch64 x0-x3; riscv64
    /// a0-a3); `None` for a higher `i`.
    fn arg(&self, i: usize) -> Option<Word>;
    /// Sets argument register `i`; `false` (nothing set) for `i` >=
    /// [`ARG_REGISTERS`].
    fn set_arg(&mut self, i: usize, value: Word) -> bool;
    /// Sets the TLS base the kernel loads for the thread (x86_64 FS base,
    /// aarch64 `tpidr_el0` or `tpidrro_el0` by `KernelArmTLSReg`, riscv64
    /// `tp`).
    fn set_tls_base(&mut self, tls_base: Word);
}

/// How many argument registers [`Registers::arg`] names.
pub const ARG_REGISTERS: usize = 4;

impl Registers for UserContext {
    fn pc(&self) -> Word {
        crate::arch::regs::pc(self)
    }
    fn set_pc(&mut self, pc: Word) {
        crate::arch::regs::set_pc(self, pc)
    }
    fn sp(&self) -> Word {
        crate::arch::regs::sp(self)
    }
    fn set_sp(&mut self, sp: Word) {
        crate::arch::regs::set_sp(self, sp)
    }
    fn arg(&self, i: usize) -> Option<Word> {
        let a = crate::arch::regs::args(self);
        a.get(i).copied()
    }
    fn set_arg(&mut self, i: usize, value: Word) -> bool {
        match crate::arch::regs::args_mut(self).get_mut(i) {
            Some(r) => {
                **r = value;
                true
            }
            None => false,
        }
    }
    fn set_tls_base(&mut self, tls_base: Word) {
        crate::arch::set_tls_register(self, tls_base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_by_meaning() {
        let mut c = UserContext::default();
        c.set_pc(0x1000);
        c.set_sp(0x2000);
        for i in 0..ARG_REGISTERS {
            assert!(c.set_arg(i, 10 + i as Word));
        }
        assert!(!c.set_arg(ARG_REGISTERS, 1));
        assert_eq!((c.pc(), c.sp()), (0x1000, 0x2000));
        for i in 0..ARG_REGISTERS {
            assert_eq!(c.arg(i), Some(10 + i as Word));
        }
        assert_eq!(c.arg(ARG_REGISTERS), None);
        // (a register named twice would have lost a value: all are distinct)
    }
}
