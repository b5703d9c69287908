//! The x86_64 thread-local variables and the local-exec address of the
//! calling thread's copy: the thread pointer (FS base, variant II TLS)
//! plus `sym@TPOFF`.

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

/// The address of the calling thread's copy of `$sym`: the thread pointer
/// (the first word of the thread control block FS points at, x86_64 TLS
/// variant II) plus the symbol's `TPOFF` offset.
macro_rules! tls_addr {
    ($sym:literal) => {{
        let t: usize;
        // SAFETY: reads the word at FS base, which the start code and the
        // runtime point at this thread's control block (whose first word is
        // its own address) before any Rust code of the thread runs, and adds
        // the symbol's offset.
        unsafe {
            core::arch::asm!(
                "mov {t}, qword ptr fs:[0]",
                concat!("lea {t}, [{t} + ", $sym, "@TPOFF]"),
                t = out(reg) t,
                options(nostack, readonly, preserves_flags),
            );
        }
        t
    }};
}
