//! Links the loader at its fixed address with the linker script of the
//! target architecture (`link-<arch>.ld`). Other targets (the host, for
//! workspace-wide checks) build a stub that says how to build it.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os != "none" {
        return;
    }
    let script = match arch.as_str() {
        "aarch64" => "link-aarch64.ld",
        "riscv64" => "link-riscv64.ld",
        other => panic!(
            "sel4-loader runs on aarch64 and riscv64 only (target arch {other}): \
             build it with --target aarch64-unknown-none or riscv64gc-unknown-none-elf"
        ),
    };
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let path = dir.join(script);
    println!("cargo:rerun-if-changed={}", path.display());
    println!("cargo:rustc-link-arg-bins=-T{}", path.display());
    println!("cargo:rustc-link-arg-bins=-zmax-page-size=4096");
    // Linked at its run address, never as a PIE, whatever RUSTFLAGS or a
    // .cargo/config.toml (the repository's holds the root tasks' static-PIE
    // flags for this target) ask for: these arguments come after theirs.
    println!("cargo:rustc-link-arg-bins=--no-pie");
}
