//! Generates `$OUT_DIR/generated.rs` (syscall numbers, invocation labels,
//! errors, object types, constants, config, bitfield types) from the kernel
//! stage named by `SEL4_KERNEL`, with `sel4-gen`.  See docs/design.md.

use std::path::{Path, PathBuf};

const HOWTO: &str = "set SEL4_KERNEL to the absolute path of a kernel stage (the folder with \
                     sel4-kernel.json): a built one (scripts/boot-example.sh or cmake leave \
                     build/sel4-registry/kernel, see README), or, for cargo check/clippy/doc and \
                     rust-analyzer without building a kernel, the manifest-only stage that \
                     scripts/dev-stage.sh prints";

fn main() {
    println!("cargo:rerun-if-env-changed=SEL4_KERNEL");
    println!("cargo:rerun-if-changed=build.rs");
    let stage_dir = match std::env::var_os("SEL4_KERNEL") {
        Some(s) if !s.is_empty() => PathBuf::from(s),
        _ => panic!("SEL4_KERNEL is not set: {HOWTO}"),
    };
    if !stage_dir.is_absolute() {
        panic!(
            "SEL4_KERNEL={} is not an absolute path: {HOWTO}",
            stage_dir.display()
        );
    }
    // rebuild when the manifest appears or changes, even if loading fails now
    let manifest = stage_dir.join(sel4_gen::kernel_config::MANIFEST_NAME);
    println!("cargo:rerun-if-changed={}", manifest.display());
    let tables = sel4_gen::Stage::load(&stage_dir)
        .and_then(|stage| sel4_gen::collect(&stage))
        .unwrap_or_else(|e| {
            panic!(
                "SEL4_KERNEL={} is not a usable kernel stage: {e}; {HOWTO}",
                stage_dir.display()
            )
        });
    for input in tables.inputs.iter().filter(|p| **p != manifest) {
        println!("cargo:rerun-if-changed={}", input.display());
    }
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let out = out_dir.join("generated.rs");
    write_if_changed(&out, &sel4_gen::emit(&tables));
}

fn write_if_changed(path: &Path, text: &str) {
    if std::fs::read_to_string(path).ok().as_deref() == Some(text) {
        return;
    }
    std::fs::write(path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}
