//! The x86_64 thread-local variables and accessors: local-exec accesses
//! through the FS base (variant II TLS, `sym@TPOFF`).

use super::{Array, WORDS};
use sel4_sys::Word;

core::arch::global_asm!(
    ".pushsection .tdata.sel4rs_probe_tls, \"awT\", @progbits",
    ".p2align 3",
    ".global sel4rs_probe_tdata",
    ".type sel4rs_probe_tdata, @tls_object",
    ".size sel4rs_probe_tdata, 48",
    "sel4rs_probe_tdata:",
    ".quad 1, 2, 3, 4, 5, 6",
    ".global sel4rs_probe_tcounter",
    ".type sel4rs_probe_tcounter, @tls_object",
    ".size sel4rs_probe_tcounter, 4",
    "sel4rs_probe_tcounter:",
    ".long 42",
    ".popsection",
    ".pushsection .tbss.sel4rs_probe_tls, \"awT\", @nobits",
    ".p2align 3",
    ".global sel4rs_probe_tbss",
    ".type sel4rs_probe_tbss, @tls_object",
    ".size sel4rs_probe_tbss, 48",
    "sel4rs_probe_tbss:",
    ".zero 48",
    ".popsection",
);

/// Word `i` (< [`WORDS`]) of the calling thread's `array`; `None` for an
/// index out of range.
pub fn get(array: Array, i: usize) -> Option<Word> {
    if i >= WORDS {
        return None;
    }
    let v: Word;
    // SAFETY: the runtime points FS base at this thread's TLS block, laid
    // out from the image's PT_TLS (start/src/tls.rs), which contains both
    // arrays; `i < WORDS` keeps the 8-byte read inside the array. Only this
    // thread uses its copy.
    unsafe {
        match array {
            Array::Data => core::arch::asm!(
                "mov {v}, qword ptr fs:[{i} * 8 + sel4rs_probe_tdata@TPOFF]",
                i = in(reg) i, v = out(reg) v, options(nostack, readonly, preserves_flags)),
            Array::Bss => core::arch::asm!(
                "mov {v}, qword ptr fs:[{i} * 8 + sel4rs_probe_tbss@TPOFF]",
                i = in(reg) i, v = out(reg) v, options(nostack, readonly, preserves_flags)),
        }
    }
    Some(v)
}

/// Sets word `i` (< [`WORDS`]) of the calling thread's `array`; `false`
/// (and nothing written) for an index out of range.
pub fn set(array: Array, i: usize, v: Word) -> bool {
    if i >= WORDS {
        return false;
    }
    // SAFETY: as for `get`, an 8-byte write inside this thread's array.
    unsafe {
        match array {
            Array::Data => core::arch::asm!(
                "mov qword ptr fs:[{i} * 8 + sel4rs_probe_tdata@TPOFF], {v}",
                i = in(reg) i, v = in(reg) v, options(nostack, preserves_flags)),
            Array::Bss => core::arch::asm!(
                "mov qword ptr fs:[{i} * 8 + sel4rs_probe_tbss@TPOFF], {v}",
                i = in(reg) i, v = in(reg) v, options(nostack, preserves_flags)),
        }
    }
    true
}

/// The calling thread's counter.
pub fn counter() -> u32 {
    let v: u32;
    // SAFETY: a 4-byte read of this thread's counter in its TLS block (see
    // `get`).
    unsafe {
        core::arch::asm!(
            "mov {v:e}, dword ptr fs:[sel4rs_probe_tcounter@TPOFF]",
            v = out(reg) v, options(nostack, readonly, preserves_flags));
    }
    v
}

/// Adds 1 to the calling thread's counter with `lock xadd`; returns the
/// new value (sel4test's `__sync_add_and_fetch`).
pub fn counter_add_atomic() -> u32 {
    let mut v: u32 = 1;
    // SAFETY: a locked 4-byte read-modify-write of this thread's counter
    // (see `get`); changes the flags, which are not preserved.
    unsafe {
        core::arch::asm!(
            "lock xadd dword ptr fs:[sel4rs_probe_tcounter@TPOFF], {v:e}",
            v = inout(reg) v, options(nostack));
    }
    v.wrapping_add(1)
}

/// Adds 1 to the calling thread's counter with a plain load and store;
/// returns the new value (sel4test's `++tls_value`).
pub fn counter_inc() -> u32 {
    let v: u32;
    // SAFETY: a 4-byte read and write of this thread's counter (see `get`).
    unsafe {
        core::arch::asm!(
            "mov {v:e}, dword ptr fs:[sel4rs_probe_tcounter@TPOFF]",
            "add {v:e}, 1",
            "mov dword ptr fs:[sel4rs_probe_tcounter@TPOFF], {v:e}",
            v = out(reg) v, options(nostack));
    }
    v
}
