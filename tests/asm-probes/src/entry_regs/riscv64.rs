//! The riscv64 entry-register routine: start a thread at
//! [`super::entry`] with the registers of [`expected`]: every general
//! register but the instruction pointer holds `0x100 + i` (`i` the
//! register's word in the kernel's `seL4_UserContext`). The routine checks
//! each register against its value (subtracting it and testing for 0) and
//! executes an all-zero (illegal) instruction at [`super::report_site`]
//! with A0 = 0 when all matched, or the value of the first that did not.

use super::{entry, BASE};
use sel4_sys::{UserContext, Word};

/// The register the routine reports its result in (A0), by its name in
/// the kernel's `seL4_UserContext`.
pub(super) const RESULT_REGISTER: &str = "a0";

macro_rules! entry_regs_asm {
    ($($r:ident),*) => {
        core::arch::global_asm!(
            ".pushsection .text.sel4rs_probe_entry_regs, \"ax\", @progbits",
            ".p2align 4",
            ".global sel4rs_probe_entry_regs",
            ".type sel4rs_probe_entry_regs, @function",
            "sel4rs_probe_entry_regs:",
            $(concat!("addi ", stringify!($r), ", ", stringify!($r), ", -{", stringify!($r), "}"),
              concat!("bnez ", stringify!($r), ", sel4rs_er_fail_", stringify!($r)),)*
            "li a0, 0",
            "j sel4rs_probe_entry_regs_report",
            $(concat!("sel4rs_er_fail_", stringify!($r), ":"),
              concat!("li a0, {", stringify!($r), "}"),
              "j sel4rs_probe_entry_regs_report",)*
            ".global sel4rs_probe_entry_regs_report",
            "sel4rs_probe_entry_regs_report:",
            ".4byte 0",
            "j sel4rs_probe_entry_regs_report",
            ".size sel4rs_probe_entry_regs, . - sel4rs_probe_entry_regs",
            ".popsection",
            $($r = const BASE + (core::mem::offset_of!(UserContext, $r) / 8) as Word,)*
        );
    };
}

entry_regs_asm!(
    ra, sp, gp, tp, t0, t1, t2, s0, s1, a0, a1, a2, a3, a4, a5, a6, a7, s2, s3, s4, s5, s6, s7, s8,
    s9, s10, s11, t3, t4, t5, t6
);

/// The registers to start the thread with: PC = [`entry`], every other
/// word `0x100 + its index`.
pub fn expected() -> UserContext {
    let mut w = [0; UserContext::WORDS];
    for (i, x) in w.iter_mut().enumerate() {
        *x = BASE + i as Word;
    }
    let mut c = UserContext::from_words(w);
    c.pc = entry();
    c
}
