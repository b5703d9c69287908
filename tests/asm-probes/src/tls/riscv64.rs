//! The riscv64 thread-local variables and accessors: local-exec accesses
//! through `tp` (variant I TLS; the linker's `tprel` offsets count from
//! the thread pointer, at the start of the TLS block).

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
    ".word 42",
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

/// The address of the calling thread's copy of `$sym`.
macro_rules! tls_addr {
    ($sym:literal) => {{
        let t: usize;
        // SAFETY: reads the thread pointer and adds the symbol's offset in
        // the TLS block (no memory access).
        unsafe {
            core::arch::asm!(
                concat!("lui {t}, %tprel_hi(", $sym, ")"),
                concat!("add {t}, {t}, tp, %tprel_add(", $sym, ")"),
                concat!("addi {t}, {t}, %tprel_lo(", $sym, ")"),
                t = out(reg) t,
                options(nostack, nomem, preserves_flags),
            );
        }
        t
    }};
}

fn array_addr(array: Array) -> usize {
    match array {
        Array::Data => tls_addr!("sel4rs_probe_tdata"),
        Array::Bss => tls_addr!("sel4rs_probe_tbss"),
    }
}

/// Word `i` (< [`WORDS`]) of the calling thread's `array`; `None` for an
/// index out of range.
pub fn get(array: Array, i: usize) -> Option<Word> {
    if i >= WORDS {
        return None;
    }
    let a = array_addr(array) + i * 8;
    let v: Word;
    // SAFETY: the runtime points tp at this thread's TLS block, laid out
    // from the image's PT_TLS (start/src/tls.rs), which contains both
    // arrays; `i < WORDS` keeps the 8-byte read inside the array. Only this
    // thread uses its copy.
    unsafe {
        core::arch::asm!(
            "ld {v}, 0({a})",
            a = in(reg) a, v = out(reg) v,
            options(nostack, readonly, preserves_flags));
    }
    Some(v)
}

/// Sets word `i` (< [`WORDS`]) of the calling thread's `array`; `false`
/// (and nothing written) for an index out of range.
pub fn set(array: Array, i: usize, v: Word) -> bool {
    if i >= WORDS {
        return false;
    }
    let a = array_addr(array) + i * 8;
    // SAFETY: as for `get`, an 8-byte write inside this thread's array.
    unsafe {
        core::arch::asm!(
            "sd {v}, 0({a})",
            a = in(reg) a, v = in(reg) v,
            options(nostack, preserves_flags));
    }
    true
}

/// The calling thread's counter.
pub fn counter() -> u32 {
    let t = tls_addr!("sel4rs_probe_tcounter");
    let v: u32;
    // SAFETY: a 4-byte read of this thread's counter in its TLS block (see
    // `get`).
    unsafe {
        core::arch::asm!(
            "lwu {v}, 0({t})",
            t = in(reg) t, v = out(reg) v,
            options(nostack, readonly, preserves_flags));
    }
    v
}

/// Adds 1 to the calling thread's counter with `amoadd.w`; returns the new
/// value (sel4test's `__sync_add_and_fetch`).
pub fn counter_add_atomic() -> u32 {
    let t = tls_addr!("sel4rs_probe_tcounter");
    let old: u32;
    // SAFETY: a 4-byte atomic read-modify-write of this thread's counter
    // (see `get`).
    unsafe {
        core::arch::asm!(
            "amoadd.w.aqrl {old}, {one}, 0({t})",
            t = in(reg) t, one = in(reg) 1u32, old = out(reg) old,
            options(nostack, preserves_flags));
    }
    old.wrapping_add(1)
}

/// Adds 1 to the calling thread's counter with a plain load and store;
/// returns the new value (sel4test's `++tls_value`).
pub fn counter_inc() -> u32 {
    let t = tls_addr!("sel4rs_probe_tcounter");
    let v: u32;
    // SAFETY: a 4-byte read and write of this thread's counter (see `get`).
    unsafe {
        core::arch::asm!(
            "lwu {v}, 0({t})",
            "addiw {v}, {v}, 1",
            "sw {v}, 0({t})",
            t = in(reg) t, v = out(reg) v,
            options(nostack, preserves_flags));
    }
    v
}
