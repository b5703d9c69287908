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
    let json: serde_json::Value = serde_json::from_str(&fs::read_to_string(json).unwrap()).unwrap();
    assert_eq!(json["success"], true);
    let one = &json["boots"][0]["tests"][0];
    assert_eq!(
        (&one["name"], &one["outcome"], &one["micros"]),
        (&"fake::one".into(), &"pass".into(), &1234.into())
    );
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
    let json: serde_json::Value = serde_json::from_str(&fs::read_to_string(json).unwrap()).unwrap();
    assert_eq!(json["success"], false);
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
    let json: serde_json::Value = serde_json::from_str(&fs::read_to_string(json).unwrap()).unwrap();
    assert_eq!(
        (&json["passed"], &json["failed"], &json["skipped"]),
        (&3.into(), &0.into(), &0.into())
    );
    assert_eq!(json["boots"][0]["image"], "tests-fake");

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
        "for a in \"$@\"; do echo \"arg: $a\"; done\necho '##sel4rs test-end ipc::a pass 1'\necho '##sel4rs result pass'\nexit 1\n",
    );
    let r = run(&[&"--filter", &"ipc::a,b", &img]);
    assert_eq!(r.code, Some(0));
    assert!(r
        .out
        .contains("arg: mon:stdio\narg: -fw_cfg\narg: name=opt/sel4rs/filter,string=ipc::a,,b\n"));
}

#[test]
fn fw_cfg_files_are_passed_with_absolute_paths() {
    let root = scratch("fw-cfg");
    let img = image(
        &root,
        "img",
        "for a in \"$@\"; do echo \"arg: $a\"; done\necho '##sel4rs result pass'\nexit 1\n",
    );
    let data = root.join("figures.txt");
    fs::write(&data, "x").unwrap();
    let abs = data.canonicalize().unwrap();
    let r = run(&[&"--fw-cfg", &format!("bench-c={}", data.display()), &img]);
    assert_eq!(r.code, Some(0));
    let want = format!(
        "arg: -fw_cfg\narg: name=opt/sel4rs/bench-c,file={}\n",
        abs.display()
    );
    assert!(r.out.contains(&want), "{}", r.out);
    // A missing file and a bad name are usage errors.
    let r = run(&[&"--fw-cfg", &"bench-c=/no/such/file", &img]);
    assert_eq!(r.code, Some(2));
    let r = run(&[&"--fw-cfg", &"a/b=x", &img]);
    assert_eq!(r.code, Some(2));
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
    assert!(r.out.contains(
        "could not start QEMU: /nonexistent/qemu-system-x86_64 not found: install QEMU (Debian \
         package qemu-system-x86) or put /nonexistent/qemu-system-x86_64 on PATH"
    ));
    assert_eq!(last_line(&r.out), "0 passed, 1 failed");
    // The same through an image folder whose qemu-binary is missing.
    let root = scratch("noqemu");
    let img = image(&root, "img", PASS_BODY);
    fs::write(img.join("qemu-args"), "-kernel\nkernel32.elf\n").unwrap();
    fs::write(img.join("qemu-binary"), "qemu-system-aarch64\n").unwrap();
    let r = Command::new(BIN)
        .arg(&img)
        .env("PATH", root.join("empty-path"))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&r.stdout);
    assert_eq!(r.status.code(), Some(1), "{out}");
    assert!(
        out.contains(
            "qemu-system-aarch64 not found: install QEMU (Debian package qemu-system-arm)"
        ),
        "{out}"
    );
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
        vec!["--filter", "", "x"],
        vec!["--filter=,", "x"],
    ] {
        let o = Command::new(BIN).args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
    }
    let o = Command::new(BIN).arg("--help").output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("Usage: sel4-run"));
    // An empty filter names the option and the fix.
    let o = Command::new(BIN)
        .args(["--filter", "", "x"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--filter") && err.contains("leave --filter out"),
        "{err}"
    );
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

#[test]
fn filter_that_matches_nothing_fails() {
    let root = scratch("filter-none");
    // The root task ran no test (none matched) and said pass.
    let img = image(
        &root,
        "img",
        "echo 'sel4test: no test matches the selection'\necho '##sel4rs summary 0 0 0'\necho '##sel4rs result pass'\nexit 1\n",
    );
    let r = run(&[&"--filter", &"nothing", &img]);
    assert_eq!(r.code, Some(1));
    assert!(r.out.contains("== img: passed\n"));
    assert!(r
        .out
        .contains("== FAILED: --filter \"nothing\" matches no test\n"));
    assert_eq!(last_line(&r.out), "0 passed, 1 failed");
    // Without the filter the same boot is one passed test.
    let r = run(&[&img]);
    assert_eq!(r.code, Some(0));
    assert_eq!(last_line(&r.out), "1 passed, 0 failed");
}

/// Output without a newline is split in linear time and a line keeps at
/// most MAX_LINE bytes: 300 MB in one line (before: the buffer was
/// rescanned on every read, and 22.8 MB took 60 s).
#[test]
fn a_300_mb_line_is_cut_quickly_in_bounded_memory() {
    let root = scratch("longline");
    let body =
        "head -c 300000000 /dev/zero | tr '\\0' a\necho\necho '##sel4rs result pass'\nexit 1\n";
    let img = image(&root, "img", body);
    let r = run(&[&"--quiet", &"--timeout", &"120", &img]);
    assert_eq!(r.code, Some(0));
    assert!(r.elapsed < Duration::from_secs(60), "took {:?}", r.elapsed);
    let max = sel4_runner::MAX_LINE;
    assert!(
        r.out.contains(&format!(
            "sel4-run: a line longer than {max} bytes: the runner kept its first {max} bytes and dropped {}",
            300_000_000 - max
        )),
        "{}",
        &r.out[..r.out.len().min(2000)]
    );
    // The largest child (the runner) stayed far below the line's size.
    // SAFETY: getrusage(2) fills the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) }, 0);
    let kib = u.ru_maxrss;
    assert!(kib < 150 * 1024, "a child used {kib} KiB");
}

#[test]
fn sigkill_of_the_runner_kills_qemu_and_its_children() {
    use std::io::{BufRead, BufReader};
    let root = scratch("sigkill");
    let pids = root.join("pids");
    let body = format!(
        "sleep 1000 &\necho $! >> {p}\nsh -c 'sleep 1001' &\necho $! >> {p}\necho $$ >> {p}\necho ready\nwait\n",
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
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    child.kill().unwrap(); // SIGKILL: no handler of the runner runs
    child.wait().unwrap();
    let pids = read_pids(&pids);
    assert_eq!(pids.len(), 3);
    let start = Instant::now();
    while pids.iter().any(|&p| alive(p)) && start.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(50));
    }
    for p in pids {
        assert!(!alive(p), "process {p} survived the runner's SIGKILL");
    }
}

/// A fake kernel stage in `root` whose configuration has `printing`.
fn stage_manifest(root: &Path, printing: bool) -> String {
    let src = root.join("kernel-src");
    fs::create_dir_all(&src).unwrap();
    let cfg = root.join(format!("gen_config-{printing}.json"));
    fs::write(
        &cfg,
        format!("{{\"PRINTING\": {printing}, \"DEBUG_BUILD\": false, \"KERNEL_MCS\": false}}"),
    )
    .unwrap();
    serde_json::json!({
        "version": "16.0.0", "build_system": "cmake", "arch": "x86", "sel4_arch": "x86_64",
        "plat": "pc99", "source_dir": src, "build_dir": root, "install_dir": null,
        "config": [cfg],
    })
    .to_string()
}

/// A release kernel without printing says nothing: the boot is judged by
/// QEMU's exit status, and the runner says so.
#[test]
fn kernel_without_debug_console_is_judged_by_exit_status() {
    let root = scratch("noprint");
    let silent_pass = image(&root, "pass", "exit 1\n");
    fs::write(
        silent_pass.join("sel4-kernel.json"),
        stage_manifest(&root, false),
    )
    .unwrap();
    let r = run(&[&silent_pass]);
    assert_eq!(r.code, Some(0));
    assert!(r.out.contains(
        "== pass: passed (the kernel has no debug console (KernelPrinting off): judged by QEMU's exit status alone)\n"
    ));
    assert_eq!(last_line(&r.out), "1 passed, 0 failed");

    let silent_fail = image(&root, "fail", "exit 3\n");
    fs::write(
        silent_fail.join("sel4-kernel.json"),
        stage_manifest(&root, false),
    )
    .unwrap();
    let r = run(&[&silent_fail]);
    assert_eq!(r.code, Some(1));
    assert!(r.out.contains("== fail: FAILED: QEMU exited with status 3 (isa-debug-exit 1: failure) (the kernel has no debug console"));

    // With printing on, silence is a missing result line.
    let printing = image(&root, "printing", "exit 1\n");
    fs::write(
        printing.join("sel4-kernel.json"),
        stage_manifest(&root, true),
    )
    .unwrap();
    let r = run(&[&printing]);
    assert_eq!(r.code, Some(1));
    assert!(r
        .out
        .contains("== printing: FAILED: no result line (QEMU exited with status 1)\n"));

    // A manifest that does not load is named when it matters.
    let broken = image(&root, "broken", "exit 1\n");
    fs::write(broken.join("sel4-kernel.json"), "{").unwrap();
    let r = run(&[&broken]);
    assert_eq!(r.code, Some(1));
    assert!(
        r.out
            .contains("the kernel's configuration could not be read"),
        "{}",
        r.out
    );
}
