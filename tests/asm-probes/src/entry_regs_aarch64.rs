//! A thread entry point that checks the registers it starts with, for
//! `TCB_WriteRegisters` (seL4test's REGRESSIONS0001), aarch64.
//!
//! Start a thread at [`entry`] with the registers of [`expected`]: every
//! general register and SP hold `0x100 + i` (`i` the register's word in
//! the kernel's `seL4_UserContext`) and SPSR has the carry flag set. The
//! routine checks the carry flag, then each register against its value,
//! and executes `udf #0` at [`report_site`] with X0 = 0 when all matched,
//! or the value of the first that did not (see [`describe`]). It uses no
//! memory, so SP may hold any value; the undefined instruction delivers a
//! user exception to the thread's fault endpoint, where the handler reads
//! X0 ([`result`]).

use sel4_sys::{UserContext, Word};

/// The value of the register at word `i` of the context: `BASE + i`.
const BASE: Word = 0x100;

/// SPSR's carry flag (C, bit 29).
const CARRY: Word = 1 << 29;

macro_rules! entry_regs_asm {
    ($($r:ident),*) => {
        core::arch::global_asm!(
            ".pushsection .text.sel4rs_probe_entry_regs, \"ax\", %progbits",
            ".p2align 4",
            ".global sel4rs_probe_entry_regs",
            ".type sel4rs_probe_entry_regs, %function",
            "sel4rs_probe_entry_regs:",
            "b.cc sel4rs_er_fail_spsr",
            "cmp sp, #{sp}",
            "b.ne sel4rs_er_fail_sp",
            $(concat!("cmp ", stringify!($r), ", #{", stringify!($r), "}"),
              concat!("b.ne sel4rs_er_fail_", stringify!($r)),)*
            "mov x0, #0",
            "b sel4rs_probe_entry_regs_report",
            "sel4rs_er_fail_spsr:",
            "mov x0, #{spsr}",
            "b sel4rs_probe_entry_regs_report",
            "sel4rs_er_fail_sp:",
            "mov x0, #{sp}",
            "b sel4rs_probe_entry_regs_report",
            $(concat!("sel4rs_er_fail_", stringify!($r), ":"),
              concat!("mov x0, #{", stringify!($r), "}"),
              "b sel4rs_probe_entry_regs_report",)*
            ".global sel4rs_probe_entry_regs_report",
            "sel4rs_probe_entry_regs_report:",
            "udf #0",
            "b sel4rs_probe_entry_regs_report",
            ".size sel4rs_probe_entry_regs, . - sel4rs_probe_entry_regs",
            ".popsection",
            sp = const BASE + (core::mem::offset_of!(UserContext, sp) / 8) as Word,
            spsr = const BASE + (core::mem::offset_of!(UserContext, spsr) / 8) as Word,
            $($r = const BASE + (core::mem::offset_of!(UserContext, $r) / 8) as Word,)*
        );
    };
}

entry_regs_asm!(
    x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11, x12, x13, x14, x15, x16, x17, x18, x19, x20,
    x21, x22, x23, x24, x25, x26, x27, x28, x29, x30
);

extern "C" {
    fn sel4rs_probe_entry_regs();
    fn sel4rs_probe_entry_regs_report();
}

/// The entry point (a value for a thread's PC; not a function to call).
pub fn entry() -> Word {
    sel4rs_probe_entry_regs as *const () as usize as Word
}

/// The address of the undefined instruction that reports the result.
pub fn report_site() -> Word {
    sel4rs_probe_entry_regs_report as *const () as usize as Word
}

/// The registers to start the thread with: PC = [`entry`], SPSR with the
/// carry flag, the thread-pointer registers 0, every other word `0x100 +
/// its index`.
pub fn expected() -> UserContext {
    let mut w = [0; UserContext::WORDS];
    for (i, (x, name)) in w.iter_mut().zip(UserContext::NAMES).enumerate() {
        if name.starts_with('x') || name == "sp" {
            *x = BASE + i as Word;
        }
    }
    let mut c = UserContext::from_words(w);
    c.pc = entry();
    c.spsr = CARRY;
    c
}

/// The routine's result in the reported context (X0).
pub fn result(c: &UserContext) -> Word {
    c.x0
}

/// What a result means: all registers as expected, or which one was not.
pub fn describe(result: Word) -> &'static str {
    match result {
        0 => "all registers as written",
        r => (r.checked_sub(BASE))
            .and_then(|i| UserContext::NAMES.get(i as usize).copied())
            .unwrap_or("an unknown result"),
    }
}
