//! Cross-check of the generators against a real kernel build.
//!
//! Needs `SEL4_KERNEL=<stage folder>`; ignored by a plain `cargo test`.  Run:
//!   SEL4_KERNEL=/path/to/stage cargo test -p sel4-gen --test cross_check -- --ignored
//! Without SEL4_KERNEL the tests fail (they never pass silently).
//!
//! Compared: every syscall number and every invocation label (and the
//! `n*InvocationLabels` markers) against the C enums of the headers the kernel
//! build generated from the same XML files, and the values recorded in
//! shared/notes/kernel-facts.md.  The generated Rust source is also compiled
//! (host `rustc --test`, and `x86_64-unknown-none` when that target exists).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use sel4_gen::cheader::enum_values;
use sel4_gen::kernel_config::GeneratedHeaders;
use sel4_gen::{Config, Stage, Tables, Value};

fn stage() -> Stage {
    let dir = std::env::var_os("SEL4_KERNEL").unwrap_or_else(|| {
        panic!(
            "SEL4_KERNEL is not set: this cross-check needs a kernel stage (the folder with \
             sel4-kernel.json made by a kernel build); run it as \
             SEL4_KERNEL=<stage> cargo test -p sel4-gen --test cross_check -- --ignored"
        )
    });
    Stage::load(PathBuf::from(dir)).unwrap_or_else(|e| panic!("SEL4_KERNEL: {e}"))
}

fn read(p: &std::path::Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn tables(stage: &Stage) -> Tables {
    sel4_gen::collect(stage).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
#[ignore = "needs a kernel stage: SEL4_KERNEL=<stage> cargo test -p sel4-gen --test cross_check -- --ignored"]
fn syscalls_and_labels_match_the_kernel_headers() {
    let stage = stage();
    let t = tables(&stage);
    let h = GeneratedHeaders::discover(&stage).unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "cross-check: seL4 {} ({}) headers {:?}",
        stage.version,
        stage.dir.display(),
        h.all()
    );

    // syscalls: `SysCall = -1` (kernel) or `seL4_SysCall = -1` (libsel4)
    let sys = enum_values(&[&read(&h.syscall)], &t.config).unwrap_or_else(|e| panic!("{e}"));
    let c_sys: BTreeMap<String, i128> = sys
        .into_iter()
        .filter_map(|(n, v)| {
            let n = n.strip_prefix("seL4_").unwrap_or(&n).to_string();
            n.strip_prefix("Sys").map(|s| (s.to_string(), v))
        })
        .collect();
    let gen_sys: BTreeMap<String, i128> = t
        .syscalls
        .enabled()
        .map(|s| (s.name.clone(), s.number as i128))
        .collect();
    assert!(
        !c_sys.is_empty(),
        "no syscalls read from {}",
        h.syscall.display()
    );
    assert_eq!(
        gen_sys,
        c_sys,
        "syscall numbers differ from {}",
        h.syscall.display()
    );

    // invocation labels
    let texts = [
        read(&h.invocation),
        read(&h.sel4_arch_invocation),
        read(&h.arch_invocation),
    ];
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let inv = enum_values(&refs, &t.config).unwrap_or_else(|e| panic!("{e}"));
    let mut c_labels = BTreeMap::new();
    let mut markers = BTreeMap::new();
    for (n, v) in inv {
        if n.starts_with('n') && n.ends_with("InvocationLabels") {
            markers.insert(n, v as usize);
        } else {
            assert!(
                c_labels.insert(n.clone(), v as usize).is_none(),
                "{n} twice"
            );
        }
    }
    let gen_labels: BTreeMap<String, usize> = t.invocations.labels.iter().cloned().collect();
    assert_eq!(
        gen_labels.len(),
        t.invocations.labels.len(),
        "duplicate generated label"
    );
    assert_eq!(
        gen_labels, c_labels,
        "invocation labels differ from the kernel headers"
    );
    assert_eq!(
        markers.get("nInvocationLabels"),
        Some(&t.invocations.n_generic)
    );
    assert_eq!(
        markers.get("nSeL4ArchInvocationLabels"),
        Some(&t.invocations.n_sel4_arch)
    );
    assert_eq!(
        markers.get("nArchInvocationLabels"),
        Some(&t.invocations.n_arch)
    );
    eprintln!(
        "cross-check: {} syscalls and {} invocation labels agree with the kernel's headers",
        gen_sys.len(),
        gen_labels.len()
    );
}

fn label(t: &Tables, n: &str) -> Option<usize> {
    t.invocations.get(n)
}

fn sys(t: &Tables, n: &str) -> Option<i64> {
    t.syscalls.number(n)
}

#[test]
#[ignore = "needs a kernel stage: SEL4_KERNEL=<stage> cargo test -p sel4-gen --test cross_check -- --ignored"]
fn values_from_kernel_facts() {
    let stage = stage();
    let t = tables(&stage);
    let major = stage.version_major().unwrap();
    for (i, n) in [
        "Call",
        "ReplyRecv",
        "Send",
        "NBSend",
        "Recv",
        "Reply",
        "Yield",
        "NBRecv",
    ]
    .iter()
    .enumerate()
    {
        assert_eq!(sys(&t, n), Some(-1 - i as i64), "{n}");
    }
    let debug = t.config.is_enabled("CONFIG_DEBUG_BUILD");
    let on = |v: i64| if debug { Some(v) } else { None };
    match major {
        5 => {
            assert_eq!(sys(&t, "DebugPutChar"), on(-9));
            assert_eq!(sys(&t, "DebugHalt"), on(-10));
            assert_eq!(sys(&t, "DebugCapIdentify"), on(-11));
            assert_eq!(sys(&t, "DebugSnapshot"), on(-12));
            assert_eq!(sys(&t, "DebugNameThread"), on(-13));
            if !t.config.is_defined("CONFIG_VTX") {
                assert_eq!(label(&t, "X86IOPortOut8"), Some(47));
            }
        }
        16 => {
            let printing = t.config.is_enabled("CONFIG_PRINTING");
            assert_eq!(sys(&t, "DebugPutChar"), printing.then_some(-9));
            assert_eq!(sys(&t, "DebugDumpScheduler"), printing.then_some(-10));
            assert_eq!(sys(&t, "DebugHalt"), on(-11));
            assert_eq!(sys(&t, "DebugNameThread"), on(-14));
            assert_eq!(label(&t, "UntypedRetype"), Some(1));
            assert_eq!(label(&t, "CNodeCopy"), Some(20));
            // kernel-facts.md's 47/51 are for an IOMMU kernel (X64_verified):
            // three IOMMU methods (X86IOPageTableMap/Unmap, X86PageMapIO)
            // come before them.
            let iommu = t.config.is_defined("CONFIG_IOMMU");
            let off = if iommu { 0 } else { 3 };
            assert_eq!(label(&t, "X86IOPortControlIssue"), Some(47 - off));
            assert_eq!(label(&t, "X86IOPortOut8"), Some(51 - off));
            // and the generator gives exactly 47/51 for the same kernel with IOMMU on
            let mut cfg: Config = t.config.clone();
            cfg.insert("CONFIG_IOMMU", Value::Bool(true));
            let files = stage.files().unwrap();
            let t2 = sel4_gen::collect_with(&stage, &files, cfg).unwrap();
            assert_eq!(label(&t2, "X86IOPortControlIssue"), Some(47));
            assert_eq!(label(&t2, "X86IOPortOut8"), Some(51));
        }
        other => eprintln!("cross-check: no kernel-facts values recorded for seL4 {other}"),
    }
    // common to both versions on x86_64
    assert_eq!(t.constants.get("PageBits"), Some(&12));
    assert_eq!(t.constants.get("MsgMaxLength"), Some(&120));
    assert_eq!(t.constants.get("MsgMaxExtraCaps"), Some(&3));
    assert_eq!(
        t.errors.first().map(|e| (e.0.as_str(), e.1)),
        Some(("NoError", 0))
    );
    assert_eq!(
        t.object_types.first().map(|e| e.0.as_str()),
        Some("UntypedObject")
    );
    assert!(t.object_types.iter().any(|o| o.0 == "X86_4K"));
    assert!(t.bitfields.iter().any(|b| b.name == "seL4_MessageInfo"));
    assert!(t.bitfields.iter().any(|b| b.name == "seL4_CapRights"));
}

const HOST_TESTS: &str = r#"
#[test]
fn message_info_round_trip() {
    let m = MessageInfo::new(0x1234, 1, 2, 100);
    assert_eq!(m.get_label(), 0x1234);
    assert_eq!(m.get_caps_unwrapped(), 1);
    assert_eq!(m.get_extra_caps(), 2);
    assert_eq!(m.get_length(), 100);
    assert_eq!(m.0, (0x1234 << 12) | (1 << 9) | (2 << 7) | 100);
    let mut m2 = m;
    m2.set_length(3);
    assert_eq!(m2.get_length(), 3);
    assert_eq!(m2.get_label(), 0x1234);
}
#[test]
#[should_panic]
fn message_info_mask_is_checked() {
    let _ = MessageInfo::new(0, 0, 0, 128);
}
#[test]
fn enums() {
    use core::convert::TryFrom;
    assert_eq!(Syscall::Call as isize, -1);
    assert_eq!(Syscall::try_from(-1isize), Ok(Syscall::Call));
    assert_eq!(Syscall::Call.name(), "Call");
    assert_eq!(InvocationLabel::from_usize(0), Some(InvocationLabel::InvalidInvocation));
    assert_eq!(Error::try_from(0usize), Ok(Error::NoError));
    assert_eq!(Error::try_from(Error::NumErrors), Err(Error::NumErrors));
    assert_eq!(ObjectType::try_from(0usize), Ok(ObjectType::UntypedObject));
    assert_eq!(ObjectType::ALL.len(), ObjectType::ObjectTypeCount);
    assert_eq!(InvocationLabel::ALL.len(), InvocationLabel::nArchInvocationLabels);
    assert_eq!(consts::PageBits, 12);
    assert_eq!(KERNEL_VERSION_MAJOR, KERNEL_VERSION.split('.').next().unwrap().parse::<u32>().unwrap());
    let _ = syscall_opt::CALL.unwrap();
    let _ = config::WORD_SIZE;
}
"#;

#[test]
#[ignore = "needs a kernel stage: SEL4_KERNEL=<stage> cargo test -p sel4-gen --test cross_check -- --ignored"]
fn generated_source_compiles_and_works() {
    let stage = stage();
    let src = sel4_gen::generate(&stage).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        src,
        sel4_gen::generate(&stage).unwrap(),
        "output is not deterministic"
    );
    let dir = std::env::temp_dir().join(format!("sel4-gen-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("generated.rs"), &src).unwrap();
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());

    // host test binary
    std::fs::write(
        dir.join("host.rs"),
        format!("include!(\"generated.rs\");\n{HOST_TESTS}"),
    )
    .unwrap();
    let out = Command::new(&rustc)
        .args([
            "--edition",
            "2021",
            "--test",
            "-D",
            "warnings",
            "host.rs",
            "-o",
            "host-tests",
        ])
        .current_dir(&dir)
        .output()
        .expect("run rustc");
    assert!(
        out.status.success(),
        "rustc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = Command::new(dir.join("host-tests")).output().unwrap();
    assert!(
        run.status.success(),
        "generated code tests failed:\n{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );

    // no_std, the root servers' target
    std::fs::write(
        dir.join("nostd.rs"),
        "#![no_std]\nmod generated { include!(\"generated.rs\"); }\npub use generated::*;\n",
    )
    .unwrap();
    let out = Command::new(&rustc)
        .args([
            "--edition",
            "2021",
            "--crate-type",
            "lib",
            "--target",
            "x86_64-unknown-none",
            "-D",
            "warnings",
            "nostd.rs",
            "-o",
            "libnostd.rlib",
        ])
        .current_dir(&dir)
        .output()
        .expect("run rustc");
    let err = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() && err.contains("can't find crate for `core`") {
        eprintln!("cross-check: target x86_64-unknown-none not installed; no_std build skipped");
    } else {
        assert!(out.status.success(), "rustc (x86_64-unknown-none): {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
