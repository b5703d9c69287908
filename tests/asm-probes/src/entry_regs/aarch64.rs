//! The aarch64 entry-register routine: start a thread at
//! [`super::entry`] with the registers of [`expected`]: every general
//! register and SP hold `0x100 + i` (`i` the register's word in the
//! kernel's `seL4_UserContext`) and SPSR has the carry flag set. The
//! routine checks the carry flag, then each register against its value,
//! and executes `udf #0` at [`super::report_site`] with X0 = 0 when all
//! matched, or the value of the first that did not.

use super::{entry, BASE};
use sel4_sys::{UserContext, Word};

/// The register the routine reports its result in (X0), by its name in
/// the kernel's `seL4_UserContext`.
pub(super) const RESULT_REGISTER: &str = "x0";

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
