//! Cross-check of the generators against a real kernel build.
//!
//! Needs `SEL4_KERNEL=<stage folder>`; ignored by a plain `cargo test`.  Run:
//!   SEL4_KERNEL=/path/to/stage cargo test -p sel4-gen --test cross_check -- --ignored
//! Without SEL4_KERNEL the tests fail (they never pass silently).
//!
//! Compared: every syscall number and every invocation label (and the
//! `n*InvocationLabels` markers) against the C enums of the headers the kernel
//! build generated from the same XML files, also name by name for the ones the
//! framework relies on, with the kernel's configuration deciding which exist
//! (debug syscalls, VT-x and IOMMU labels, MCS numbering), and the x86_64
//! ABI constants.  Every path comes from the stage named by SEL4_KERNEL.
//! The generated methods: one per XML method
//! the kernel build enabled (per interface), and, when the stage has
//! libsel4's own generated stubs (`sel4_client.h`, CMake builds), the same
//! label, extra-cap count and message length for every one.  The generated
//! Rust source is also compiled (host `rustc --test`, with tests that call
//! real generated methods against a recording shim, and
//! `x86_64-unknown-none` when that target exists).

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use common::SHIM_COMMON;
use sel4_gen::cheader::enum_values;
use sel4_gen::kernel_config::GeneratedHeaders;
use sel4_gen::{Stage, Tables};

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

/// The values of the kernel build's own generated headers, by name:
/// syscalls (`Call`, without `seL4_Sys`/`Sys`), invocation labels and the
/// `n*InvocationLabels` markers.
fn header_values(stage: &Stage, t: &Tables) -> (BTreeMap<String, i128>, BTreeMap<String, i128>) {
    let h = GeneratedHeaders::discover(stage).unwrap_or_else(|e| panic!("{e}"));
    let sys = enum_values(&[&read(&h.syscall)], &t.config)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .filter_map(|(n, v)| {
            let n = n.strip_prefix("seL4_").unwrap_or(&n).to_string();
            n.strip_prefix("Sys").map(|s| (s.to_string(), v))
        })
        .collect();
    let texts = [
        read(&h.invocation),
        read(&h.sel4_arch_invocation),
        read(&h.arch_invocation),
    ];
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let labels = enum_values(&refs, &t.config)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .collect();
    (sys, labels)
}

/// The values the framework relies on, name by name, against the kernel
/// build's own headers (so a config that moves them, such as VT-x for the
/// x86 labels or MCS for the syscall numbers, moves the expectation too),
/// and which of them exist, against the kernel's configuration.
#[test]
#[ignore = "needs a kernel stage: SEL4_KERNEL=<stage> cargo test -p sel4-gen --test cross_check -- --ignored"]
fn named_values_match_the_kernel_headers() {
    let stage = stage();
    let t = tables(&stage);
    let (c_sys, c_labels) = header_values(&stage, &t);
    let cfg = |n: &str| t.config.is_enabled(n);
    let mcs = cfg("CONFIG_KERNEL_MCS");
    let major = stage.version_major().unwrap();

    // Syscalls: present exactly when the configuration has them, with the
    // header's number.
    let syscalls: &[(&str, bool)] = &[
        ("Call", true),
        ("ReplyRecv", true),
        ("Send", true),
        ("NBSend", true),
        ("Recv", true),
        ("Reply", !mcs),
        ("Yield", true),
        ("NBRecv", true),
        ("Wait", mcs),
        ("NBSendRecv", mcs),
        ("DebugPutChar", cfg("CONFIG_PRINTING")),
        ("DebugHalt", cfg("CONFIG_DEBUG_BUILD")),
        ("DebugCapIdentify", cfg("CONFIG_DEBUG_BUILD")),
        ("DebugNameThread", cfg("CONFIG_DEBUG_BUILD")),
    ];
    for &(name, present) in syscalls {
        let c = c_sys.get(name).copied();
        assert_eq!(
            c.is_some(),
            present,
            "syscall {name}: in the kernel's header: {c:?}; the configuration says present: {present}"
        );
        assert_eq!(
            sys(&t, name).map(i128::from),
            c,
            "syscall {name}: generated number against the kernel's header"
        );
    }

    // Invocation labels the framework uses (x86_64), and the markers.
    let mut labels = vec![
        "InvalidInvocation",
        "UntypedRetype",
        "TCBReadRegisters",
        "TCBWriteRegisters",
        "TCBConfigure",
        "TCBSetPriority",
        "TCBSetIPCBuffer",
        "TCBSetSpace",
        "TCBSuspend",
        "TCBResume",
        "TCBBindNotification",
        "TCBUnbindNotification",
        "CNodeRevoke",
        "CNodeDelete",
        "CNodeCopy",
        "CNodeMint",
        "CNodeMove",
        "CNodeMutate",
        "CNodeRotate",
        "IRQIssueIRQHandler",
    ];
    if stage.sel4_arch == "x86_64" {
        labels.extend([
            "X86PDPTMap",
            "X86PageDirectoryMap",
            "X86PageTableMap",
            "X86PageMap",
            "X86PageUnmap",
            "X86PageGetAddress",
            "X86ASIDControlMakePool",
            "X86ASIDPoolAssign",
            "X86IOPortIn8",
            "X86IOPortOut8",
            "X86IOPortOut32",
        ]);
        // seL4 5.x hands out the I/O port capability at boot instead.
        if major >= 10 {
            labels.push("X86IOPortControlIssue");
        }
    }
    for name in labels {
        let c = c_labels.get(name).copied();
        assert!(
            c.is_some(),
            "invocation label {name}: not in the kernel's headers"
        );
        assert_eq!(
            label(&t, name).map(|v| v as i128),
            c,
            "invocation label {name}: generated value against the kernel's header"
        );
    }
    for (marker, got) in [
        ("nInvocationLabels", t.invocations.n_generic),
        ("nSeL4ArchInvocationLabels", t.invocations.n_sel4_arch),
        ("nArchInvocationLabels", t.invocations.n_arch),
    ] {
        assert_eq!(
            Some(got as i128),
            c_labels.get(marker).copied(),
            "marker {marker}: generated value against the kernel's header"
        );
    }
    // Labels that exist only in some configurations (seL4 5.x has the
    // IOMMU methods whatever the configuration).
    for (name, present) in [
        ("X86PageMapEPT", cfg("CONFIG_VTX")),
        ("X86IOPageTableMap", major < 10 || cfg("CONFIG_IOMMU")),
    ] {
        if stage.sel4_arch != "x86_64" {
            break;
        }
        assert_eq!(
            c_labels.contains_key(name),
            present,
            "invocation label {name} in the kernel's headers against the configuration"
        );
        assert_eq!(
            label(&t, name).map(|v| v as i128),
            c_labels.get(name).copied(),
            "invocation label {name}: generated value against the kernel's header"
        );
    }

    // Errors, object types, bitfields, and the constants of the x86_64 ABI.
    assert_eq!(
        t.errors.first().map(|e| (e.0.as_str(), e.1)),
        Some(("NoError", 0))
    );
    assert_eq!(
        t.object_types.first().map(|e| e.0.as_str()),
        Some("UntypedObject")
    );
    assert!(t.bitfields.iter().any(|b| b.name == "seL4_MessageInfo"));
    assert!(t.bitfields.iter().any(|b| b.name == "seL4_CapRights"));
    if stage.sel4_arch == "x86_64" {
        assert!(
            t.object_types.iter().any(|o| o.0 == "X86_4K"),
            "object type X86_4K"
        );
        for (name, v) in [
            ("PageBits", 12),
            ("MsgMaxLength", 120),
            ("MsgMaxExtraCaps", 3),
        ] {
            assert_eq!(t.constants.get(name), Some(&v), "constant {name}");
        }
    }
    eprintln!(
        "cross-check: seL4 {} (MCS {mcs}, debug {}, printing {}, VT-x {}, IOMMU {}): named syscalls and labels agree with the kernel's headers",
        stage.version,
        cfg("CONFIG_DEBUG_BUILD"),
        cfg("CONFIG_PRINTING"),
        cfg("CONFIG_VTX"),
        cfg("CONFIG_IOMMU"),
    );
}

/// The no_std shim's invocations (the output only has to compile).
const SHIM_NOSTD: &str = r#"
pub mod invocation {
    pub struct Reply;
    impl Reply {
        pub fn word(&self, _i: usize) -> crate::Word {
            0
        }
    }
    pub fn call(
        _service: crate::CPtr,
        label: crate::InvocationLabel,
        _caps: &[crate::CPtr],
        _words: &[crate::Word],
    ) -> core::result::Result<Reply, crate::InvocationError> {
        core::result::Result::Err(crate::InvocationError(label as crate::Word))
    }
}
"#;

/// The host shim records each invocation so that the tests below can check
/// the marshalling of the real generated methods.
const SHIM_HOST: &str = r#"
pub mod invocation {
    use std::cell::RefCell;
    thread_local! {
        pub static LAST: RefCell<Option<(crate::CPtr, usize, Vec<u64>, Vec<u64>)>> = RefCell::new(None);
        pub static REPLY: RefCell<Vec<u64>> = RefCell::new(vec![0; 128]);
    }
    pub struct Reply(Vec<u64>);
    impl Reply {
        pub fn word(&self, i: usize) -> crate::Word {
            self.0[i]
        }
    }
    pub fn call(
        service: crate::CPtr,
        label: crate::InvocationLabel,
        caps: &[crate::CPtr],
        words: &[crate::Word],
    ) -> core::result::Result<Reply, crate::InvocationError> {
        LAST.with(|l| *l.borrow_mut() = Some((service, label as usize, caps.to_vec(), words.to_vec())));
        Ok(Reply(REPLY.with(|r| r.borrow().clone())))
    }
    pub fn last() -> (crate::CPtr, usize, Vec<u64>, Vec<u64>) {
        LAST.with(|l| l.borrow_mut().take()).expect("an invocation")
    }
    pub fn set_reply(words: &[u64]) {
        REPLY.with(|r| {
            let mut r = r.borrow_mut();
            r.iter_mut().for_each(|w| *w = 0);
            r[..words.len()].copy_from_slice(words);
        });
    }
}

#[test]
fn marshal_cnode_copy_caps_and_five_words() {
    let cn: Cap<cap_type::CNode> = Cap::from_cptr(2);
    cn.cnode_copy(5, 64, Cap::from_cptr(3), 7, 0xff, CapRights(0xf)).unwrap();
    let (svc, label, caps, words) = invocation::last();
    assert_eq!(svc, 2);
    assert_eq!(label, InvocationLabel::CNodeCopy as usize);
    assert_eq!(caps, [3]);
    assert_eq!(words, [5, 64, 7, 0xff, 0xf]);
}

#[test]
fn marshal_untyped_retype() {
    let u: Cap<cap_type::Untyped> = Cap::from_cptr(9);
    u.untyped_retype(ObjectType::TCBObject as Word, 0, Cap::from_cptr(2), 0, 0, 100, 1).unwrap();
    let (_, label, caps, words) = invocation::last();
    assert_eq!(label, InvocationLabel::UntypedRetype as usize);
    assert_eq!(caps, [2]);
    assert_eq!(words, [ObjectType::TCBObject as Word, 0, 0, 0, 100, 1]);
}

#[test]
fn marshal_packs_bools_and_bytes_into_one_word() {
    let t: Cap<cap_type::TCB> = Cap::from_cptr(1);
    t.tcb_copy_registers(Cap::from_cptr(4), true, false, true, true, 0x5).unwrap();
    let (_, label, caps, words) = invocation::last();
    assert_eq!(label, InvocationLabel::TCBCopyRegisters as usize);
    assert_eq!(caps, [4]);
    // bools at bits 0..4, the seL4_Uint8 aligned to bit 8
    assert_eq!(words, [0b1101 | (0x5 << 8)]);
}

#[test]
fn marshal_struct_spills_past_the_registers() {
    let t: Cap<cap_type::TCB> = Cap::from_cptr(1);
    let mut regs = UserContext::default();
    regs.rip = 0x1000;
    regs.rsp = 0x2000;
    regs.r15 = 0xf15;
    t.tcb_write_registers(true, 0, 3, &regs).unwrap();
    let (_, label, caps, words) = invocation::last();
    assert_eq!(label, InvocationLabel::TCBWriteRegisters as usize);
    assert!(caps.is_empty());
    assert_eq!(words.len(), 2 + UserContext::WORDS);
    assert_eq!(&words[..4], &[1, 3, 0x1000, 0x2000]);
    assert_eq!(words[2 + 17], 0xf15);
}

#[test]
fn user_context_names_and_words_in_message_order() {
    // The names and the order of the kernel's struct (x86_64: rip, rsp,
    // rflags, rax, ...), and words/from_words inverse of each other.
    assert_eq!(UserContext::NAMES.len(), UserContext::WORDS);
    assert_eq!(&UserContext::NAMES[..4], &["rip", "rsp", "rflags", "rax"]);
    assert_eq!(UserContext::NAMES[17], "r15");
    let mut w = [0 as Word; UserContext::WORDS];
    for (i, x) in w.iter_mut().enumerate() {
        *x = 100 + i as Word;
    }
    let c = UserContext::from_words(w);
    assert_eq!((c.rip, c.rsp, c.rax, c.r15), (100, 101, 103, 117));
    assert_eq!(c.words(), w);
}

#[test]
fn unmarshal_outputs() {
    let p: Cap<cap_type::X86Page> = Cap::from_cptr(11);
    invocation::set_reply(&[0xabc000]);
    assert_eq!(p.x86_page_get_address().unwrap(), 0xabc000);
    let (_, label, _, words) = invocation::last();
    assert_eq!(label, InvocationLabel::X86PageGetAddress as usize);
    assert!(words.is_empty());

    let io: Cap<cap_type::X86IOPort> = Cap::from_cptr(12);
    invocation::set_reply(&[0x1ff]);
    assert_eq!(io.x86_io_port_in8(0x60).unwrap(), 0xff);
    assert_eq!(invocation::last().3, [0x60]);

    let t: Cap<cap_type::TCB> = Cap::from_cptr(1);
    let all: Vec<u64> = (1..=UserContext::WORDS as u64).collect();
    invocation::set_reply(&all);
    let r = t.tcb_read_registers(false, 0, UserContext::WORDS as Word).unwrap();
    assert_eq!((r.rip, r.rsp, r.rflags, r.rax), (1, 2, 3, 4));
    assert_eq!(r.r15, 18);
    assert_eq!(invocation::last().3, [0, UserContext::WORDS as u64]);
}

#[test]
fn cap_markers() {
    assert_eq!(<cap_type::TCB as CapType>::OBJECT_TYPE, Some(ObjectType::TCBObject));
    assert_eq!(<cap_type::CNode as CapType>::OBJECT_TYPE, Some(ObjectType::CapTableObject));
    assert_eq!(<cap_type::X86Page as CapType>::OBJECT_TYPE, Some(ObjectType::X86_4K));
    assert_eq!(<cap_type::IRQHandler as CapType>::OBJECT_TYPE, None);
    assert_eq!(<cap_type::X86Page as FixedSize>::SIZE_BITS, 12);
    assert_eq!(<cap_type::TCB as FixedSize>::SIZE_BITS, consts::TCBBits);
    assert_eq!(FaultLabel::VMFault.name(), "VMFault");
    assert_eq!(FaultLabel::from_usize(1), Some(FaultLabel::CapFault));
}
"#;

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
        format!("include!(\"generated.rs\");\n{SHIM_COMMON}{SHIM_HOST}{HOST_TESTS}"),
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
        format!("#![no_std]\ninclude!(\"generated.rs\");\n{SHIM_COMMON}{SHIM_NOSTD}"),
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

/// The generated methods per interface, read back from the emitted source.
fn generated_methods(src: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut cur: Option<String> = None;
    for line in src.lines() {
        if let Some(rest) = line.strip_prefix("impl crate::Cap<cap_type::") {
            cur = rest.split('>').next().map(str::to_string);
        } else if line == "}" {
            cur = None;
        } else if let (Some(c), Some(rest)) = (&cur, line.trim().strip_prefix("pub fn ")) {
            let name = rest.split('(').next().unwrap().to_string();
            out.entry(c.clone()).or_default().push(name);
        }
    }
    out
}

#[test]
#[ignore = "needs a kernel stage: SEL4_KERNEL=<stage> cargo test -p sel4-gen --test cross_check -- --ignored"]
fn generated_methods_match_the_enabled_xml_methods() {
    let stage = stage();
    let t = tables(&stage);
    let files = stage.files().unwrap_or_else(|e| panic!("{e}"));
    let h = GeneratedHeaders::discover(&stage).unwrap_or_else(|e| panic!("{e}"));
    // enabled method ids, as the kernel build's own invocation headers list them
    let texts = [
        read(&h.invocation),
        read(&h.sel4_arch_invocation),
        read(&h.arch_invocation),
    ];
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let enabled: Vec<String> = enum_values(&refs, &t.config)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    // expected: per interface marker, the distinct method names of the XML
    // whose id the kernel enabled (a name written twice for two configs,
    // like TCB_Configure, counts once)
    let mut expected: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for p in [
        &files.interface_generic,
        &files.interface_sel4_arch,
        &files.interface_arch,
    ] {
        let text = read(p);
        let doc = roxmltree::Document::parse(&text).unwrap();
        for itf in doc.descendants().filter(|n| n.has_tag_name("interface")) {
            let iname = itf.attribute("name").unwrap();
            let marker = iname.strip_prefix("seL4_").unwrap().replace('_', "");
            for m in itf.descendants().filter(|n| n.has_tag_name("method")) {
                if !enabled.iter().any(|e| e == m.attribute("id").unwrap()) {
                    continue;
                }
                let c = format!(
                    "{}_{}",
                    iname.strip_prefix("seL4_").unwrap(),
                    m.attribute("name").unwrap()
                );
                let rust = sel4_gen::api::method_name(&c);
                let v = expected.entry(marker.clone()).or_default();
                if !v.contains(&rust) {
                    v.push(rust);
                }
            }
        }
    }
    let src = sel4_gen::emit(&t);
    let mut got = generated_methods(&src);
    for v in got.values_mut().chain(expected.values_mut()) {
        v.sort();
    }
    let counts = |m: &BTreeMap<String, Vec<String>>| -> Vec<(String, usize)> {
        m.iter().map(|(k, v)| (k.clone(), v.len())).collect()
    };
    eprintln!("methods per interface: {:?}", counts(&got));
    assert_eq!(counts(&got), counts(&expected));
    assert_eq!(got, expected);
    assert_eq!(
        got.values().map(Vec::len).sum::<usize>(),
        t.invocations.labels.len() - 1,
        "one method per enabled invocation label"
    );
}

/// libsel4's own generated stubs (`interfaces/sel4_client.h`, made by the
/// kernel's syscall_stub_gen.py), when the stage has them (CMake builds):
/// every function's label, extra caps and message length must equal ours.
#[test]
#[ignore = "needs a kernel stage: SEL4_KERNEL=<stage> cargo test -p sel4-gen --test cross_check -- --ignored"]
fn marshalling_matches_libsel4_stubs() {
    let stage = stage();
    let t = tables(&stage);
    let cands: Vec<PathBuf> = [stage.install_dir.clone(), Some(stage.build_dir.clone())]
        .into_iter()
        .flatten()
        .map(|d| d.join("libsel4/include/interfaces/sel4_client.h"))
        .collect();
    let Some(client) = cands.iter().find(|p| p.is_file()) else {
        // 5.x make builds do not build libsel4: check the counts we know
        assert_eq!(
            stage.build_system,
            sel4_gen::kernel_config::BuildSystem::Make
        );
        let m = t
            .methods
            .iter()
            .find(|m| m.c_name() == "CNode_Mint")
            .unwrap();
        let p = sel4_gen::api::plan(m, &t.types).unwrap();
        assert_eq!((p.caps.len(), p.words.len()), (1, 6));
        return;
    };
    // keep the conditionals, function heads and message info lines, then
    // evaluate the conditionals against the config
    let text = read(client);
    let mut kept = String::new();
    for l in text.lines() {
        let tl = l.trim_start();
        if (tl.starts_with("#if")
            || tl.starts_with("#elif")
            || tl.starts_with("#else")
            || tl.starts_with("#endif"))
            || (l.starts_with("seL4_") && l.contains('('))
            || tl.starts_with("seL4_MessageInfo_t tag = seL4_MessageInfo_new(")
        {
            kept.push_str(l);
            kept.push('\n');
        }
    }
    let pp = sel4_gen::cpp::preprocess(&kept, &t.config).unwrap_or_else(|e| panic!("{e}"));
    let mut c: BTreeMap<String, (String, usize, usize)> = BTreeMap::new();
    let mut cur: Option<String> = None;
    for l in pp.text.lines() {
        if l.starts_with("seL4_") {
            cur = Some(l.split('(').next().unwrap()["seL4_".len()..].to_string());
        } else if let Some(rest) = l
            .trim()
            .strip_prefix("seL4_MessageInfo_t tag = seL4_MessageInfo_new(")
        {
            let args: Vec<String> = rest
                .trim_end_matches(");")
                .split(',')
                .map(|s| s.trim().to_string())
                .collect();
            let name = cur.take().expect("a function head before its message info");
            c.insert(
                name,
                (
                    args[0].clone(),
                    args[2].parse().unwrap(),
                    args[3].parse().unwrap(),
                ),
            );
        }
    }
    let mut ours: BTreeMap<String, (String, usize, usize)> = BTreeMap::new();
    for m in &t.methods {
        let p = sel4_gen::api::plan(m, &t.types).unwrap();
        ours.insert(m.c_name(), (m.id.clone(), p.caps.len(), p.words.len()));
    }
    eprintln!("{} stubs compared with {}", c.len(), client.display());
    assert!(c.len() > 30, "too few stubs read from {}", client.display());
    assert_eq!(ours, c);
}
