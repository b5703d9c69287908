//! Thread-local variables with initial values, for tests of the TLS block
//! each thread gets (seL4test TLS0001, TLS0002, TLS0006).
//!
//! Stable Rust has no `#[thread_local]`, so these variables are defined
//! here in assembly: [`DATA_INIT`] in `.tdata`, six zero words in `.tbss`
//! and a 32-bit counter starting at [`COUNTER_INIT`] in `.tdata`. The
//! accessors read and write the calling thread's copy through the thread
//! pointer (the local-exec TLS model: x86_64 the FS base, aarch64
//! `tpidr_el0`, riscv64 `tp`; one file per architecture in `tls/`), as
//! sel4-sys and the runtime reach their own thread-local words.

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
mod arch;

pub use arch::{counter, counter_add_atomic, counter_inc, get, set};

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
