//! `sel4-system` as a user runs it.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sel4-system"))
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn examples_check_and_generate() {
    for s in ["kv-store", "restart", "shared-ring"] {
        let file = format!("systems/{s}/system.toml");
        let (ok, _, err) = run(&["check", "--no-crate-check", &file]);
        assert!(ok, "{err}");
        assert!(err.contains(": ok ("), "{err}");
    }
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("gen-kv-store");
    let (ok, _, err) = run(&[
        "gen",
        "--no-crate-check",
        "--out",
        out.to_str().unwrap(),
        "systems/kv-store/system.toml",
    ]);
    assert!(ok, "{err}");
    // One module per component crate (client_a and client_b share one).
    for f in [
        "plan.json",
        "kv-store-server.rs",
        "kv-store-logger.rs",
        "kv-store-client.rs",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let (ok, json, _) = run(&["plan", "--no-crate-check", "systems/restart/system.toml"]);
    assert!(ok);
    let plan = sel4_sysdesc::Plan::from_json(&json).unwrap();
    // systems/restart/system.toml: `max_restarts = 40` for `flaky`.
    assert_eq!(plan.component("flaky").unwrap().fault.max_restarts, 40);
}

#[test]
fn crate_check_reads_the_workspace() {
    // The examples' crates are packages of this repository's workspace.
    let (ok, _, err) = run(&["check", "systems/shared-ring/system.toml"]);
    assert!(ok, "{err}");
    // A package the workspace does not have is reported where it is named.
    let (ok, _, err) = run(&["check", "crates/sysdesc/tests/bad/missing-crate.toml"]);
    assert!(!ok);
    assert!(
        err.contains("error: no package `kv-srever` in the workspace of"),
        "{err}"
    );
    assert!(
        err.contains("crates/sysdesc/tests/bad/missing-crate.toml:5:9"),
        "{err}"
    );
    assert!(err.contains("2 error(s)"), "{err}");
}

#[test]
fn bad_file_reports_every_error_and_fails() {
    let (ok, _, err) = run(&[
        "check",
        "--no-crate-check",
        "crates/sysdesc/tests/bad/granted-twice.toml",
    ]);
    assert!(!ok);
    assert_eq!(err.matches("error: ").count(), 5, "{err}");
    assert!(err.contains("= help: "), "{err}");
    let (ok, _, err) = run(&["check"]);
    assert!(!ok && err.contains("usage"), "{err}");
}

/// Object sizes from a real kernel stage match what the host tests assume,
/// and the examples pass with it. Run with SEL4_KERNEL=<stage> (the test
/// command does).
#[test]
#[ignore]
fn kernel_stage_facts() {
    let stage = std::env::var("SEL4_KERNEL").expect("set SEL4_KERNEL to a kernel stage");
    let f = sel4_system_builder::kernel_facts(Path::new(&stage)).unwrap();
    println!("{f:?}");
    assert_eq!(f.page_bits, 12);
    assert_eq!(
        f.paging.iter().map(|l| l.span_bits).collect::<Vec<_>>(),
        [21, 30, 39]
    );
    if f.version.starts_with("5.") {
        assert_eq!(
            (
                f.tcb_bits,
                f.endpoint_bits,
                f.notification_bits,
                f.slot_bits,
                f.endpoint_badge_bits
            ),
            (11, 4, 5, 5, 28)
        );
    }
    for s in ["kv-store", "restart", "shared-ring"] {
        let (ok, _, err) = run(&[
            "check",
            "--no-crate-check",
            "--kernel",
            &stage,
            &format!("systems/{s}/system.toml"),
        ]);
        assert!(ok, "{err}");
    }
}

#[test]
fn c_header_writes_a_components_environment_before_its_elf_exists() {
    let desc = "tests/components/bench/system.toml";
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("c-header/env.h");
    let _ = std::fs::remove_file(&out);
    let (ok, _, err) = run(&[
        "c-header",
        "--no-crate-check",
        "--out",
        out.to_str().unwrap(),
        desc,
    ]);
    assert!(!ok);
    assert!(err.contains("c-header needs --component NAME"), "{err}");
    let (ok, _, err) = run(&[
        "c-header",
        "--no-crate-check",
        "--component",
        "nobody",
        "--out",
        out.to_str().unwrap(),
        desc,
    ]);
    assert!(!ok);
    assert!(
        err.contains("no component `nobody` (components: typed_server"),
        "{err}"
    );
    let (ok, _, err) = run(&[
        "c-header",
        "--no-crate-check",
        "--component",
        "c_server",
        "--out",
        out.to_str().unwrap(),
        desc,
    ]);
    assert!(ok, "{err}");
    let h = std::fs::read_to_string(&out).unwrap();
    assert!(h.contains("#define SEL4RS_CAP_BENCH "), "{h}");
    // The other commands still need the ELF files (not built here).
    let (ok, _, err) = run(&["check", "--no-crate-check", desc]);
    assert!(!ok);
    assert!(
        err.contains("cannot find the ELF file `component-bench-c-server.elf`"),
        "{err}"
    );
}
