//! Thread-local variables with initial values, for tests of the TLS block
//! each thread gets (seL4test TLS0001, TLS0002, TLS0006).
//!
//! Stable Rust has no `#[thread_local]`, so these variables are defined
//! here in assembly: [`DATA_INIT`] in `.tdata`, six zero words in `.tbss`
//! and a 32-bit counter starting at [`COUNTER_INIT`] in `.tdata`. The
//! accessors read and write the calling thread's copy through the thread
//! pointer (the local-exec TLS model: x86_64 the FS base, aarch64
//! `tpidr_el0`, riscv64 `tp`), as sel4-sys and the runtime reach their own
//! thread-local words. The variables and the address computation are in
//! assembly, one file per architecture in `tls/`; the accesses are here.

use sel4_sys::Word;

/// Number of words in each array.
pub const WORDS: usize = 6;
/// The `.tdata` array's initial values (sel4test's `data_array`).
pub const DATA_INIT: [Word; WORDS] = [1, 2, 3, 4, 5, 6];
/// The counter's initial value (sel4test's `INITIAL_TLS_VALUE`).
pub const COUNTER_INIT: u32 = 42;

#[cfg_attr(target_arch = "aarch64", path = "tls/aarch64.rs")]
#[cfg_attr(target_arch = "riscv64", path = "tls/riscv64.rs")]
#[cfg_attr(target_arch = "x86_64", path = "tls/x86_64.rs")]
#[macro_use]
mod arch;

/// The address of the calling thread's `.tdata` array.
fn tdata() -> usize {
    tls_addr!("sel4rs_probe_tdata")
}

/// The address of the calling thread's `.tbss` array.
fn tbss() -> usize {
    tls_addr!("sel4rs_probe_tbss")
}

/// The address of the calling thread's counter.
fn tcounter() -> usize {
    tls_addr!("sel4rs_probe_tcounter")
}

/// The address of word `i` of the calling thread's `array`; `None` for an
/// index out of range.
fn word_addr(array: Array, i: usize) -> Option<*mut Word> {
    if i >= WORDS {
        return None;
    }
    let base = match array {
        Array::Data => tdata(),
        Array::Bss => tbss(),
    };
    Some((base as *mut Word).wrapping_add(i))
}

// SAFETY (of every access below): the runtime points the thread pointer at
// this thread's TLS block, laid out from the image's PT_TLS
// (start/src/tls.rs), which contains both arrays (8-byte aligned) and the
// counter (4-byte aligned); an index below WORDS keeps an access inside its
// array. Only this thread uses its copy, and no Rust reference covers it.

/// Word `i` (< [`WORDS`]) of the calling thread's `array`; `None` for an
/// index out of range.
pub fn get(array: Array, i: usize) -> Option<Word> {
    let p = word_addr(array, i)?;
    // SAFETY: an 8-byte read inside this thread's array (see above).
    Some(unsafe { p.read_volatile() })
}

/// Sets word `i` (< [`WORDS`]) of the calling thread's `array`; `false`
/// (and nothing written) for an index out of range.
pub fn set(array: Array, i: usize, v: Word) -> bool {
    let Some(p) = word_addr(array, i) else {
        return false;
    };
    // SAFETY: an 8-byte write inside this thread's array (see above).
    unsafe { p.write_volatile(v) };
    true
}

/// The calling thread's counter.
pub fn counter() -> u32 {
    // SAFETY: a 4-byte read of this thread's counter (see above).
    unsafe { (tcounter() as *const u32).read_volatile() }
}

/// Adds 1 to the calling thread's counter with an atomic read-modify-write
/// (x86_64 a locked instruction, aarch64 an exclusive load and store loop,
/// riscv64 an AMO); returns the new value (sel4test's
/// `__sync_add_and_fetch`).
pub fn counter_add_atomic() -> u32 {
    // SAFETY: the counter is a valid, 4-byte aligned u32 of this thread
    // (see above), accessed atomically here and by no other thread.
    let c = unsafe { core::sync::atomic::AtomicU32::from_ptr(tcounter() as *mut u32) };
    c.fetch_add(1, core::sync::atomic::Ordering::SeqCst)
        .wrapping_add(1)
}

/// Adds 1 to the calling thread's counter with a plain load and store;
/// returns the new value (sel4test's `++tls_value`).
pub fn counter_inc() -> u32 {
    let p = tcounter() as *mut u32;
    // SAFETY: a 4-byte read and write of this thread's counter (see above).
    unsafe {
        let v = p.read_volatile().wrapping_add(1);
        p.write_volatile(v);
        v
    }
}

/// Which thread-local array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Array {
    /// The `.tdata` one (initially [`DATA_INIT`]).
    Data,
    /// The `.tbss` one (initially zero).
    Bss,
}

/// Everything the calling thread sees in its thread-local variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    pub data: [Word; WORDS],
    pub bss: [Word; WORDS],
    pub counter: u32,
}

/// The calling thread's variables now.
pub fn snapshot() -> Snapshot {
    let mut s = Snapshot {
        data: [0; WORDS],
        bss: [0; WORDS],
        counter: counter(),
    };
    for i in 0..WORDS {
        s.data[i] = get(Array::Data, i).unwrap_or_default();
        s.bss[i] = get(Array::Bss, i).unwrap_or_default();
    }
    s
}

/// What a thread sees before it changes anything.
pub const INITIAL: Snapshot = Snapshot {
    data: DATA_INIT,
    bss: [0; WORDS],
    counter: COUNTER_INIT,
};
