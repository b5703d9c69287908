//! A thread entry point that checks the registers it starts with, for
//! `TCB_WriteRegisters` (seL4test's REGRESSIONS0001 and its
//! `test_registers` in regressions.S).
//!
//! The routine (in assembly, in the architecture's file
//! `entry_regs/<arch>.rs`, with the values it expects) compares every
//! register with its value and reports at [`report_site`], an undefined
//! instruction, with the result in the return register: 0 when all
//! matched, else which did not. It uses no memory, so the stack pointer
//! may hold any value; the undefined instruction delivers a user
//! exception to the thread's fault endpoint, where the handler reads the
//! result (TCB_ReadRegisters).

use sel4_sys::Word;

#[cfg_attr(target_arch = "aarch64", path = "entry_regs/aarch64.rs")]
#[cfg_attr(target_arch = "riscv64", path = "entry_regs/riscv64.rs")]
#[cfg_attr(target_arch = "x86_64", path = "entry_regs/x86_64.rs")]
mod arch;

pub use arch::*;

extern "C" {
    fn sel4rs_probe_entry_regs();
    fn sel4rs_probe_entry_regs_report();
}

/// The entry point (a value for a thread's instruction pointer; not a
/// function to call).
pub fn entry() -> Word {
    sel4rs_probe_entry_regs as *const () as usize as Word
}

/// The address of the undefined instruction that reports the result.
pub fn report_site() -> Word {
    sel4rs_probe_entry_regs_report as *const () as usize as Word
}

/// aarch64 and riscv64: the value of the register at word `i` of the
/// context, `BASE + i` (and the result naming it).
#[cfg(not(target_arch = "x86_64"))]
const BASE: Word = 0x100;

/// aarch64 and riscv64: the routine's result in the reported context (in
/// the register of `arch::RESULT_REGISTER`).
#[cfg(not(target_arch = "x86_64"))]
pub fn result(c: &sel4_sys::UserContext) -> Word {
    c.words()[const { sel4_sys::user_context_word(arch::RESULT_REGISTER) }]
}

/// aarch64 and riscv64: what a result means, all registers as expected
/// or which one was not.
#[cfg(not(target_arch = "x86_64"))]
pub fn describe(result: Word) -> &'static str {
    match result {
        0 => "all registers as written",
        r => (r.checked_sub(BASE))
            .and_then(|i| sel4_sys::UserContext::NAMES.get(i as usize).copied())
            .unwrap_or("an unknown result"),
    }
}
