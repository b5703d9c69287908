//! `cfg(bench_c_process)` when the build embeds the C process image
//! (`SEL4RS_EMBED_BENCH_C_PROCESS`, set by CMake's
//! `sel4rs_rootserver(... EMBED bench-c-process)` where
//! `sel4rs_c_process()` builds it: non-MCS seL4 5.x and 13.0.0-16.0.0).
//! Without it the inter-process line says `c=-` and why.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(bench_c_process)");
    println!("cargo::rerun-if-env-changed=SEL4RS_EMBED_BENCH_C_PROCESS");
    if std::env::var_os("SEL4RS_EMBED_BENCH_C_PROCESS").is_some_and(|p| !p.is_empty()) {
        println!("cargo::rustc-cfg=bench_c_process");
    }
}
