//! The `sel4-run` binary against fake "QEMU" programs (shell scripts).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_sel4-run");

/// A fresh folder for one test.
fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("fake-qemu")
        .join(format!("{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

fn write_exec(path: &Path, text: &str) {
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// A boot image folder whose "QEMU" is `sh qemu.sh -kernel kernel32.elf
/// ...`; the script fails unless it runs in the folder.
fn image(root: &Path, name: &str, body: &str) -> PathBuf {
    let d = root.join(name);
    fs::create_dir_all(&d).unwrap();
    fs::write(d.join("kernel32.elf"), b"not really a kernel").unwrap();
    let script = format!(
        "#!/bin/sh\n[ -f kernel32.elf ] || {{ echo \"no kernel32.elf in $(pwd)\"; exit 9; }}\n{body}"
    );
    fs::write(d.join("qemu.sh"), script).unwrap();
    fs::write(
        d.join("qemu-args"),
        "sh\nqemu.sh\n-kernel\nkernel32.elf\n-serial\nmon:stdio\n",
    )
    .unwrap();
    d
}

struct Run {
    code: Option<i32>,
    out: String,
    elapsed: Duration,
}

fn run(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Run {
    let start = Instant::now();
    let o: Output = Command::new(BIN)
        .args(args.iter().map(|a| a.as_ref()))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let r = Run {
        code: o.status.code(),
        out: String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
        elapsed: start.elapsed(),
    };
    eprintln!("---- sel4-run {:?}\n{}", r.code, r.out);
    r
}

fn last_line(s: &str) -> &str {
    s.lines().rfind(|l| !l.starts_with('(')).unwrap_or("")
}

const PASS_BODY: &str = r###"
echo "SeaBIOS (version 1.15.0)"
echo "Booting all finished, dropped to user space"
echo "##sel4rs boot tests-fake kernel=5.0.0 arch=x86_64 config=pc99 debug"
echo "##sel4rs test-start fake::one"
echo "##sel4rs test-end fake::one pass 1234"
echo "something on stderr" >&2
echo "##sel4rs test-start fake::two"
echo "##sel4rs test-end fake::two pass 20"
echo "##sel4rs summary 2 0 0"
echo "##sel4rs result pass"
exit 1
"###;

const FAIL_BODY: &str = r###"
echo "##sel4rs boot tests-bad kernel=5.0.0 arch=x86_64 config=pc99"
echo "##sel4rs test-start bad::ok"
echo "##sel4rs test-end bad::ok pass 5"
echo "##sel4rs test-start bad::broken"
echo "##sel4rs test-end bad::broken fail 77 assertion failed: 1 == 2"
echo "##sel4rs summary 1 1 0"
echo "##sel4rs result fail 1 test failed"
exit 3
"###;

#[test]
fn pass() {
    let root = scratch("pass");
    let img = image(&root, "tests-fake", PASS_BODY);
    let json = root.join("out.json");
    let log = root.join("serial.log");
    let r = run(&[&"--log", &log, &"--json", &json, &img]);
    assert_eq!(r.code, Some(0));
    assert!(r.out.contains("SeaBIOS (version 1.15.0)\n"));
    assert!(r.out.contains("something on stderr\n"));
    assert!(r.out.contains("\n  PASS  fake::one  (1.234 ms)\n"));
    assert!(r.out.contains("\n  PASS  fake::two  (0.020 ms)\n"));
    assert!(r.out.contains("== tests-fake: passed\n"));
    assert!(!r.out.contains("##sel4rs"));
    assert_eq!(last_line(&r.out), "2 passed, 0 failed");
    let log = fs::read_to_string(log).unwrap();
    assert!(log.contains("##sel4rs test-end fake::one pass 1234\n"));
    assert!(log.contains("something on stderr\n"));
    let json = fs::read_to_string(json).unwrap();
    assert!(json.starts_with("{\"success\":true,"), "{json}");
    assert!(json.contains("\"name\":\"fake::one\",\"outcome\":\"pass\",\"micros\":1234"));
}

#[test]
fn quiet() {
    let root = scratch("quiet");
    let img = image(&root, "img", PASS_BODY);
    let r = run(&[&"--quiet", &img]);
    assert_eq!(r.code, Some(0));
    assert!(!r.out.contains("SeaBIOS"));
    assert!(r.out.contains("  PASS  fake::one"));
}

#[test]
fn program_relative_to_the_image_folder() {
    let root = scratch("relprog");
    let img = image(&root, "img", PASS_BODY);
    write_exec(
        &img.join("qemu.sh"),
        &fs::read_to_string(img.join("qemu.sh")).unwrap(),
    );
    fs::write(img.join("qemu-args"), "./qemu.sh\n-kernel\nkernel32.elf\n").unwrap();
    // Run from another folder: the program and kernel32.elf are found.
    let mut r = run(&[&img]);
    for _ in 0..3 {
        // Another test's fork may briefly hold the new script open.
        if !r.out.contains("Text file busy") {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
        r = run(&[&img]);
    }
    assert_eq!(r.code, Some(0));
}

#[test]
fn fail() {
    let root = scratch("fail");
    let img = image(&root, "img", FAIL_BODY);
    let json = root.join("out.json");
    let r = run(&[&"--json", &json, &img]);
    assert_eq!(r.code, Some(1));
    assert!(r
        .out
        .contains("\n  FAIL  bad::broken  (0.077 ms) assertion failed: 1 == 2\n"));
    assert!(r.out.contains("== tests-bad: FAILED: result fail: 1 test failed; 1 failed test(s): bad::broken; QEMU exited with status 3 (isa-debug-exit 1: failure)\n"));
    assert_eq!(last_line(&r.out), "1 passed, 1 failed");
    let json = fs::read_to_string(json).unwrap();
    assert!(json.starts_with("{\"success\":false,"));
}

#[test]
fn expect_fail() {
    let root = scratch("expect-fail");
    let bad = image(&root, "bad", FAIL_BODY);
    let good = image(&root, "good", PASS_BODY);
    let r = run(&[&"--expect-fail", &bad]);
    assert_eq!(r.code, Some(0));
    assert!(r.out.contains("failed as expected"));
    let r = run(&[&"--expect-fail", &good]);
    assert_eq!(r.code, Some(1));
    assert!(r.out.contains("passed, but it was expected to fail"));
}

#[test]
fn wrong_exit_status() {
    let root = scratch("exit0");
    let img = image(&root, "img", &PASS_BODY.replace("exit 1", "exit 0"));
    let r = run(&[&img]);
    assert_eq!(r.code, Some(1));
    assert!(r
        .out
        .contains("QEMU exited with status 0 (not isa-debug-exit)"));
    // The tests passed; the boot is counted as the failed test.
    assert!(r
        .out
        .contains("  FAIL  tests-fake  (boot) QEMU exited with status 0"));
    assert_eq!(last_line(&r.out), "2 passed, 1 failed");

    // QEMU's own error exit (status 1) without a result line.
    let img = image(
        &root,
        "img2",
        "echo 'qemu-system-x86_64: -kernel x: No such file' >&2\nexit 1\n",
    );
    let r = run(&[&img]);
    assert_eq!(r.code, Some(1));
    assert!(r
        .out
        .contains("== img2: FAILED: no result line (QEMU exited with status 1)\n"));
    assert_eq!(last_line(&r.out), "0 passed, 1 failed");
}

fn alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // state is the field after the parenthesised name; zombies are dead
        Ok(s) => !s
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

fn read_pids(path: &Path) -> Vec<u32> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect()
}

#[test]
fn timeout_kills_the_group_and_only_it() {
    let root = scratch("timeout");
    let pids = root.join("pids");
    let body = format!(
        r###"
echo "##sel4rs boot tests-hang kernel=5.0.0 arch=x86_64 config=pc99"
echo "##sel4rs test-start hang::forever"
sleep 1000 &
echo $! >> {p}
sh -c 'sleep 1001' &
echo $! >> {p}
echo $$ >> {p}
while :; do sleep 1; done
"###,
        p = pids.display()
    );
    let img = image(&root, "img", &body);
    // A process that looks like QEMU but is not ours: it must survive.
    use std::os::unix::process::CommandExt;
    let mut bystander = Command::new("sleep")
        .arg("1002")
        .process_group(0)
        .spawn()
        .unwrap();
    let r = run(&[&"--timeout", &"1", &img]);
    assert_eq!(r.code, Some(1));
    // The fake QEMU sleeps for 1000 s: ending well before that shows the
    // runner killed it (the margin is wide for a loaded machine).
    assert!(r.elapsed < Duration::from_secs(15), "took {:?}", r.elapsed);
    assert!(r
        .out
        .contains("sel4-run: timeout after 1 s while running test hang::forever: killing QEMU"));
    assert!(r
        .out
        .contains("  FAIL  hang::forever  (unfinished) hung: timeout after 1 s\n"));
    assert!(r.out.contains(
        "== tests-hang: FAILED: timeout after 1 s while running test hang::forever; no result line\n"
    ));
    assert_eq!(last_line(&r.out), "0 passed, 1 failed");
    let pids = read_pids(&pids);
    assert_eq!(pids.len(), 3);
    std::thread::sleep(Duration::from_millis(100));
    for p in pids {
        assert!(!alive(p), "process {p} survived");
    }
    assert!(
        bystander.try_wait().unwrap().is_none(),
        "the bystander was killed"
    );
    bystander.kill().unwrap();
    bystander.wait().unwrap();
}

#[test]
fn fatal_kernel_fault_stops_early() {
    let root = scratch("fault");
    let body = r###"
echo "##sel4rs boot tests-fault kernel=5.0.0 arch=x86_64 config=pc99"
echo "##sel4rs test-start vspace::null_deref"
echo "Caught cap fault in send phase at address 0x0"
echo "while trying to handle:"
echo "vm fault on data at address 0x0 with status 0x6"
echo "in thread 0xffffff801fe08400 \"rootserver\" at address 0x401234"
echo "With stack:"
echo "0x5dbf40: 0x5dbf80"
exec sleep 1000
"###;
    let img = image(&root, "img", body);
    let r = run(&[&"--timeout", &"30", &"--quiet", &img]);
    assert_eq!(r.code, Some(1));
    // Stopped by the fatal fault report, long before the 30 s timeout.
    assert!(r.elapsed < Duration::from_secs(20), "took {:?}", r.elapsed);
    // Kernel reports are shown even with --quiet.
    assert!(r
        .out
        .contains("\nCaught cap fault in send phase at address 0x0\n"));
    assert!(r.out.contains("sel4-run: the kernel crashed: killing QEMU"));
    assert!(r.out.contains("  FAIL  vspace::null_deref  (unfinished) crashed: Caught cap fault in send phase at address 0x0 / while trying to handle: / vm fault on data at address 0x0 with status 0x6 / in thread 0xffffff801fe08400 \"rootserver\" at address 0x401234\n"));
}

#[test]
fn several_boots_are_one_suite() {
    let root = scratch("boots");
    let a = image(&root, "part-1", PASS_BODY);
    let b = image(
        &root,
        "hello",
        "echo 'Hello, world'\necho '##sel4rs result pass'\nexit 1\n",
    );
    let json = root.join("out.json");
    let r = run(&[&"--json", &json, &"--boots", &a, &b]);
    assert_eq!(r.code, Some(0));
    assert!(r.out.contains("== tests-fake: passed\n"));
    // No boot line, no tests: one test named after the folder.
    assert!(r.out.contains("  PASS  hello  (boot)\n== hello: passed\n"));
    assert_eq!(last_line(&r.out), "3 passed, 0 failed");
    let json = fs::read_to_string(json).unwrap();
    assert!(json
        .contains("\"passed\":3,\"failed\":0,\"skipped\":0,\"boots\":[{\"image\":\"tests-fake\""));

    let c = image(&root, "bad", FAIL_BODY);
    let r = run(&[&a, &c, &b]);
    assert_eq!(r.code, Some(1));
    assert_eq!(last_line(&r.out), "4 passed, 1 failed");
}

#[test]
fn filter_is_passed_with_fw_cfg() {
    let root = scratch("filter");
    let img = image(
        &root,
        "img",
        "for a in \"$@\"; do echo \"arg: $a\"; done\necho '##sel4rs result pass'\nexit 1\n",
    );
    let r = run(&[&"--filter", &"ipc::a,b", &img]);
    assert_eq!(r.code, Some(0));
    assert!(r
        .out
        .contains("arg: mon:stdio\narg: -fw_cfg\narg: name=opt/sel4rs/filter,string=ipc::a,,b\n"));
}

#[test]
fn command_after_double_dash() {
    let root = scratch("command");
    let script = root.join("fake-qemu.sh");
    fs::write(&script, PASS_BODY).unwrap();
    let r = run(&[
        &"--timeout=5",
        &"--",
        &"sh",
        &script,
        &"-initrd",
        &"/x/rootserver.elf",
    ]);
    assert_eq!(r.code, Some(0));
    assert_eq!(last_line(&r.out), "2 passed, 0 failed");
    // Without a boot line the name comes from -initrd.
    let r = run(&[
        &"--",
        &"sh",
        &"-c",
        &"exit 1",
        &"-initrd",
        &"/x/rootserver.elf",
    ]);
    assert!(r
        .out
        .contains("== rootserver.elf: FAILED: no result line (QEMU exited with status 1)"));
}

#[test]
fn qemu_not_found() {
    let r = run(&[&"--", &"/nonexistent/qemu-system-x86_64"]);
    assert_eq!(r.code, Some(1));
    assert!(r
        .out
        .contains("could not start QEMU: /nonexistent/qemu-system-x86_64"));
    assert_eq!(last_line(&r.out), "0 passed, 1 failed");
}

#[test]
fn usage_errors() {
    for args in [
        vec![],
        vec!["--timeout", "abc"],
        vec!["--timeout"],
        vec!["--frobnicate", "x"],
        vec!["--"],
        vec!["/nonexistent-image-folder"],
    ] {
        let o = Command::new(BIN).args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
    }
    let o = Command::new(BIN).arg("--help").output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("usage: sel4-run"));
}

#[test]
fn ctrl_c_kills_the_group() {
    use std::io::{BufRead, BufReader};
    let root = scratch("sigint");
    let pids = root.join("pids");
    let body = format!(
        "sleep 1000 &\necho $! >> {p}\necho $$ >> {p}\necho '##sel4rs test-start sig::wait'\necho ready\nwait\n",
        p = pids.display()
    );
    let img = image(&root, "img", &body);
    let mut child = Command::new(BIN)
        .args(["--timeout", "60"])
        .arg(&img)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // The script wrote its pids before this line.
    let first = lines.next().unwrap().unwrap();
    assert_eq!(first, "ready");
    let start = Instant::now();
    let st = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let status = child.wait().unwrap();
    assert!(start.elapsed() < Duration::from_secs(15));
    assert_eq!(status.code(), Some(130), "{rest:#?}");
    assert!(rest
        .iter()
        .any(|l| l == "  FAIL  sig::wait  (unfinished) hung: interrupted"));
    std::thread::sleep(Duration::from_millis(100));
    for p in read_pids(&pids) {
        assert!(!alive(p), "process {p} survived");
    }
}
