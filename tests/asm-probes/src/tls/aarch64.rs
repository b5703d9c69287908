//! The aarch64 thread-local variables and the local-exec address of the
//! calling thread's copy, through `tpidr_el0` (variant I TLS; the linker's `tprel` offsets count
//! from the thread pointer, past the 16-byte TCB the start code lays out).

core::arch::global_asm!(
    ".pushsection .tdata.sel4rs_probe_tls, \"awT\", %progbits",
    ".p2align 3",
    ".global sel4rs_probe_tdata",
    ".type sel4rs_probe_tdata, %tls_object",
    ".size sel4rs_probe_tdata, 48",
    "sel4rs_probe_tdata:",
    ".quad 1, 2, 3, 4, 5, 6",
    ".global sel4rs_probe_tcounter",
    ".type sel4rs_probe_tcounter, %tls_object",
    ".size sel4rs_probe_tcounter, 4",
    "sel4rs_probe_tcounter:",
    ".long 42",
    ".popsection",
    ".pushsection .tbss.sel4rs_probe_tls, \"awT\", %nobits",
    ".p2align 3",
    ".global sel4rs_probe_tbss",
    ".type sel4rs_probe_tbss, %tls_object",
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
                "mrs {t}, tpidr_el0",
                concat!("add {t}, {t}, #:tprel_hi12:", $sym, ", lsl #12"),
                concat!("add {t}, {t}, #:tprel_lo12_nc:", $sym),
                t = out(reg) t,
                options(nostack, nomem, preserves_flags),
            );
        }
        t
    }};
}
