//! `sel4-run` with root task ELFs (the cargo runner): real ELFs built here
//! by rustc for x86_64-unknown-none (one with the project's link settings,
//! one with the target's defaults, which link at 0), a fake kernel stage
//! whose `qemu-machine` names a shell script as "QEMU".

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

const BIN: &str = env!("CARGO_BIN_EXE_sel4-run");
const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("root-task")
        .join(format!("{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

const SRC: &str = r#"
#![no_std]
#![no_main]
static A: u64 = 7;
#[no_mangle]
pub static P: &u64 = &A;
#[no_mangle]
pub extern "C" fn _start() -> ! {
    loop {
        unsafe { core::ptr::read_volatile(&P) };
    }
}
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}
"#;

/// A root task ELF linked with `flags`.
fn build(name: &str, flags: &[&str]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("root-task-elfs")
        .join(format!("{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let src = dir.join(format!("{name}.rs"));
    fs::write(&src, SRC).unwrap();
    let out = dir.join(name);
    let o = Command::new("rustc")
        .args([
            "--edition",
            "2021",
            "--target",
            "x86_64-unknown-none",
            "-C",
            "panic=abort",
            "-C",
            "opt-level=1",
            "--crate-type",
            "bin",
            "-o",
        ])
        .arg(&out)
        .arg(&src)
        .args(flags)
        .output()
        .expect("rustc");
    assert!(
        o.status.success(),
        "rustc (is the target x86_64-unknown-none installed? scripts/setup.sh): {}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// Linked as the project links root tasks (.cargo/config.toml).
fn good_elf() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        build(
            "good",
            &[
                "-C",
                "relocation-model=pie",
                "-C",
                "link-arg=--image-base=0x400000",
                "-C",
                "link-arg=-zmax-page-size=4096",
            ],
        )
    })
    .clone()
}

/// Linked with the target's defaults: a static PIE at address 0.
fn base0_elf() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| build("base0", &[])).clone()
}

/// A kernel stage for `sel4_arch` whose QEMU is a script that checks its
/// boot files against `elf`, leaves `ran` in the stage and passes.
fn stage(root: &Path, sel4_arch: &str, elf: &Path) -> PathBuf {
    let s = root.join("stage");
    fs::create_dir_all(&s).unwrap();
    let autoconf = Path::new(REPO)
        .join("kernel-config/sel4-5/x86_64-pc99/autoconf.h")
        .canonicalize()
        .unwrap();
    fs::write(
        s.join("sel4-kernel.json"),
        format!(
            r#"{{"version": "5.0.0", "build_system": "make", "arch": "x86",
               "sel4_arch": "{sel4_arch}", "plat": "pc99", "source_dir": "{src}",
               "build_dir": "{src}", "install_dir": null, "config": ["{autoconf}"]}}"#,
            src = s.display(),
            autoconf = autoconf.display()
        ),
    )
    .unwrap();
    fs::write(s.join("kernel.elf"), b"kernel64").unwrap();
    fs::write(s.join("kernel32.elf"), b"kernel32").unwrap();
    let script = s.join("qemu.sh");
    fs::write(
        &script,
        format!(
            r###"#!/bin/sh
touch "{stage}/ran"
[ "$*" = "-machine q35 -kernel kernel32.elf -initrd rootserver.elf" ] || {{ echo "bad arguments: $*"; exit 9; }}
cmp -s kernel32.elf "{stage}/kernel32.elf" || {{ echo "kernel32.elf is not the stage's"; exit 9; }}
cmp -s rootserver.elf "{elf}" || {{ echo "rootserver.elf is not the root task"; exit 9; }}
[ -f sel4-kernel.json ] || {{ echo "no sel4-kernel.json"; exit 9; }}
echo "##sel4rs boot good kernel=5.0.0 arch=x86_64 config=pc99"
echo "##sel4rs result pass"
exit 1
"###,
            stage = s.display(),
            elf = elf.display()
        ),
    )
    .unwrap();
    fs::write(
        s.join("qemu-machine"),
        format!("sh\n{}\n-machine\nq35\n", script.display()),
    )
    .unwrap();
    s
}

struct Run {
    code: Option<i32>,
    out: String,
}

fn run(args: &[&dyn AsRef<std::ffi::OsStr>], sel4_kernel: Option<&Path>) -> Run {
    let mut c = Command::new(BIN);
    c.args(args.iter().map(|a| a.as_ref()))
        .stdin(Stdio::null())
        .env_remove("SEL4_KERNEL")
        .env_remove("SEL4RS_LOADER");
    if let Some(k) = sel4_kernel {
        c.env("SEL4_KERNEL", k);
    }
    let o = c.output().unwrap();
    let r = Run {
        code: o.status.code(),
        out: String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
    };
    eprintln!("---- sel4-run {:?}\n{}", r.code, r.out);
    r
}

/// A copy of `elf` in `dir` (each test writes its own boot folder).
fn copy_elf(elf: &Path, dir: &Path, name: &str) -> PathBuf {
    let d = dir.join("release");
    fs::create_dir_all(&d).unwrap();
    let p = d.join(name);
    fs::copy(elf, &p).unwrap();
    p
}

#[test]
fn boots_a_root_task_elf_with_the_stage_of_sel4_kernel() {
    let root = scratch("boots");
    let elf = copy_elf(&good_elf(), &root, "my-server");
    let s = stage(&root, "x86_64", &elf);
    let r = run(&[&elf], Some(&s));
    assert_eq!(r.code, Some(0));
    assert!(r.out.contains("x86_64 static PIE"), "{}", r.out);
    assert!(r.out.contains("image 0x400000.."), "{}", r.out);
    assert!(r.out.contains("link ok; seL4 5.0.0 (x86_64)"), "{}", r.out);
    assert!(r.out.contains("== good: passed"), "{}", r.out);
    let boot = root.join("release/sel4-boot/my-server");
    for f in [
        "qemu-args",
        "kernel32.elf",
        "rootserver.elf",
        "sel4-kernel.json",
    ] {
        assert!(boot.join(f).is_file(), "{f}");
    }
    assert_eq!(
        fs::read_to_string(boot.join("qemu-args")).unwrap(),
        format!(
            "sh\n{}\n-machine\nq35\n-kernel\nkernel32.elf\n-initrd\nrootserver.elf\n",
            s.join("qemu.sh").display()
        )
    );
    assert!(!boot.join("qemu-binary").exists());
    // The folder boots again on its own.
    let r = run(&[&boot], None);
    assert_eq!(r.code, Some(0));
}

#[test]
fn stage_option_and_options_after_the_elf() {
    // cargo run -- <args> puts them after the ELF.
    let root = scratch("option");
    let elf = copy_elf(&good_elf(), &root, "t");
    let s = stage(&root, "x86_64", &elf);
    let r = run(&[&elf, &"--stage", &s, &"--timeout", &"30"], None);
    assert_eq!(r.code, Some(0));
    assert!(s.join("ran").exists());
    // The run address is for the loader's architectures.
    let r = run(
        &[&elf, &"--stage", &s, &"--user-vaddr", &"0x10000000"],
        None,
    );
    assert_eq!(r.code, Some(1));
    assert!(r.out.contains("--user-vaddr is for aarch64 and riscv64"));
}

#[test]
fn a_root_task_linked_at_0_is_refused_and_never_boots() {
    let root = scratch("base0");
    let elf = copy_elf(&base0_elf(), &root, "my-server");
    let s = stage(&root, "x86_64", &elf);
    let r = run(&[&elf], Some(&s));
    assert_eq!(r.code, Some(1));
    assert!(
        r.out.contains("refusing to boot")
            && r.out.contains("linked at 0x0, below 0x10000")
            && r.out.contains("null pointers"),
        "{}",
        r.out
    );
    assert!(r
        .out
        .contains("fix: link root tasks with the sel4rs link settings"));
    assert!(r.out.contains(".cargo/config.toml"));
    assert!(!s.join("ran").exists(), "QEMU ran");
    assert!(!root.join("release/sel4-boot").exists());
}

#[test]
fn check_link_only() {
    let root = scratch("check");
    let good = copy_elf(&good_elf(), &root, "good");
    let bad = copy_elf(&base0_elf(), &root, "bad");
    let r = run(&[&"--check-link", &good], None);
    assert_eq!(r.code, Some(0));
    assert!(r.out.contains("good: x86_64 static PIE") && r.out.contains("link ok"));
    let r = run(&[&"--check-link", &good, &bad], None);
    assert_eq!(r.code, Some(1));
    assert!(r.out.contains("linked at 0x0"));
    // Against a stage of another architecture.
    let s = stage(&root, "aarch64", &good);
    let r = run(&[&"--check-link", &"--stage", &s, &good], None);
    assert_eq!(r.code, Some(1));
    assert!(
        r.out
            .contains("built for x86_64, the kernel stage is for aarch64")
            && r.out.contains("--target aarch64-unknown-none")
            && r.out.contains("or use a kernel stage for x86_64"),
        "{}",
        r.out
    );
    let r = run(&[&"--check-link", &"--", &"qemu"], None);
    assert_eq!(r.code, Some(2));
}

#[test]
fn another_architecture_is_refused() {
    let root = scratch("arch");
    let elf = copy_elf(&good_elf(), &root, "t");
    let s = stage(&root, "aarch64", &elf);
    let r = run(&[&elf], Some(&s));
    assert_eq!(r.code, Some(1));
    assert!(r
        .out
        .contains("built for x86_64, the kernel stage is for aarch64"));
    assert!(!s.join("ran").exists());
}

#[test]
fn a_stage_is_needed_and_must_be_bootable() {
    let root = scratch("stage");
    let elf = copy_elf(&good_elf(), &root, "t");
    // None given.
    let r = run(&[&elf], None);
    assert_eq!(r.code, Some(2));
    assert!(r.out.contains("--stage <dir>") && r.out.contains("SEL4_KERNEL"));
    // Not a stage.
    let r = run(&[&elf, &"--stage", &root.join("nothing")], None);
    assert_eq!(r.code, Some(1));
    assert!(r.out.contains("no such folder"), "{}", r.out);
    // Manifest-only (scripts/dev-stage.sh): no kernel.
    let s = stage(&root, "x86_64", &elf);
    fs::remove_file(s.join("kernel.elf")).unwrap();
    let r = run(&[&elf], Some(&s));
    assert_eq!(r.code, Some(1));
    assert!(r.out.contains("has no kernel.elf") && r.out.contains("manifest-only"));
    // No QEMU machine (a stage of an older glue).
    fs::write(s.join("kernel.elf"), b"k").unwrap();
    fs::remove_file(s.join("qemu-machine")).unwrap();
    let r = run(&[&elf], Some(&s));
    assert_eq!(r.code, Some(1));
    assert!(r.out.contains("qemu-machine") && r.out.contains("rebuild the stage"));
    assert!(!s.join("ran").exists());
}

#[test]
fn neither_folder_nor_elf() {
    let root = scratch("neither");
    let f = root.join("notes.txt");
    fs::write(&f, "hello").unwrap();
    let r = run(&[&f], None);
    assert_eq!(r.code, Some(2));
    assert!(r.out.contains("not a boot image folder") && r.out.contains("nor a root task ELF"));
}
