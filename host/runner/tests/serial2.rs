//! `sel4-run --serial2-*` against a fake "QEMU" (a Python script) that
//! connects to the runner's socket like QEMU's `-serial unix:<path>` and
//! plays the guest's second serial port.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_sel4-run");

fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("fake-serial2")
        .join(format!("{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

/// The guest: prints the boot line, connects to the socket given as the
/// last `-serial unix:...`, and then, by `FAKE_MODE`:
/// - `echo`: echoes every byte until a line `quit`, then reports pass;
/// - `corrupt`: the same, with byte 5 of its output changed;
/// - `short`: the same, without the last byte;
/// - `ready`: checks that nothing arrives before it prints `fake: ready`
///   (after a pause), then echoes;
/// - `absent`: never connects.
const FAKE: &str = r###"
import os, socket, sys, time
args = sys.argv[1:]
path = None
for i, a in enumerate(args):
    if a == "-serial" and args[i + 1].startswith("unix:"):
        path = args[i + 1][5:].replace(",,", ",")
mode = os.environ.get("FAKE_MODE", "echo")
print("##sel4rs boot fake-serial kernel=5.0.0 arch=x86_64 config=debug", flush=True)
if mode == "absent" or path is None:
    print("##sel4rs result pass", flush=True)
    sys.exit(1)
s = socket.socket(socket.AF_UNIX)
s.connect(path)
if mode == "ready":
    time.sleep(0.3)
    s.setblocking(False)
    try:
        early = s.recv(1)
    except BlockingIOError:
        early = b""
    s.setblocking(True)
    if early:
        print("##sel4rs result fail data before ready", flush=True)
        sys.exit(3)
    print("fake: ready", flush=True)
out = bytearray()
buf = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    out += d
    buf += d
    if b"quit\n" in buf:
        break
    buf = buf[-8:]
if mode == "corrupt":
    out[5] ^= 0xff
if mode == "short":
    out = out[:-1]
s.sendall(bytes(out))
s.shutdown(socket.SHUT_WR)
time.sleep(0.1)
print("##sel4rs result pass", flush=True)
sys.exit(1)
"###;

fn image(root: &Path, serials: &str) -> PathBuf {
    let d = root.join("img");
    fs::create_dir_all(&d).unwrap();
    fs::write(d.join("fake.py"), FAKE).unwrap();
    fs::write(
        d.join("qemu-args"),
        format!("python3\nfake.py\n-m\n512\n{serials}"),
    )
    .unwrap();
    d
}

struct Run {
    code: Option<i32>,
    out: String,
    elapsed: Duration,
}

fn run(mode: &str, args: &[&dyn AsRef<std::ffi::OsStr>]) -> Run {
    let start = Instant::now();
    let o = Command::new(BIN)
        .args(args.iter().map(|a| a.as_ref()))
        .env("FAKE_MODE", mode)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let r = Run {
        code: o.status.code(),
        out: String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
        elapsed: start.elapsed(),
    };
    eprintln!("---- sel4-run ({mode}) {:?}\n{}", r.code, r.out);
    r
}

fn have_python() -> bool {
    Command::new("python3")
        .arg("-c")
        .arg("import socket")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn input(root: &Path, n: usize) -> (PathBuf, Vec<u8>) {
    let mut data: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
    data.extend_from_slice(b"\nquit\n");
    let p = root.join("input");
    fs::write(&p, &data).unwrap();
    (p, data)
}

#[test]
fn echo_matches_expect() {
    if !have_python() {
        eprintln!("skipped: no python3 for the fake QEMU");
        return;
    }
    let root = scratch("echo");
    let img = image(&root, "-serial\nmon:stdio\n");
    let (inp, data) = input(&root, 100_000);
    let log = root.join("guest-out");
    let r = run(
        "echo",
        &[
            &"--timeout",
            &"30",
            &"--serial2-input",
            &inp,
            &"--serial2-expect",
            &inp,
            &"--serial2-log",
            &log,
            &img,
        ],
    );
    assert_eq!(r.code, Some(0), "{}", r.out);
    assert!(r.out.contains(&format!(
        "sent {} bytes, received {} bytes",
        data.len(),
        data.len()
    )));
    assert!(r
        .out
        .contains(&format!("as expected ({} bytes)", data.len())));
    assert_eq!(fs::read(&log).unwrap(), data);
}

#[test]
fn a_different_byte_fails_the_boot() {
    if !have_python() {
        return;
    }
    let root = scratch("corrupt");
    let img = image(&root, "-serial\nmon:stdio\n");
    let (inp, _) = input(&root, 1000);
    let r = run(
        "corrupt",
        &[
            &"--timeout",
            &"30",
            &"--serial2-input",
            &inp,
            &"--serial2-expect",
            &inp,
            &img,
        ],
    );
    assert_eq!(r.code, Some(1));
    assert!(
        r.out.contains("differs from the expected bytes at byte 5"),
        "{}",
        r.out
    );
    assert!(r.out.contains("FAILED"));
}

#[test]
fn a_missing_byte_fails_the_boot() {
    if !have_python() {
        return;
    }
    let root = scratch("short");
    let img = image(&root, "-serial\nmon:stdio\n");
    let (inp, data) = input(&root, 1000);
    let r = run(
        "short",
        &[
            &"--timeout",
            &"30",
            &"--serial2-input",
            &inp,
            &"--serial2-expect",
            &inp,
            &img,
        ],
    );
    assert_eq!(r.code, Some(1));
    assert!(
        r.out.contains(&format!(
            "the guest sent {} bytes, {} expected",
            data.len() - 1,
            data.len()
        )),
        "{}",
        r.out
    );
}

#[test]
fn input_waits_for_the_marker() {
    if !have_python() {
        return;
    }
    let root = scratch("ready");
    let img = image(&root, "-serial\nmon:stdio\n");
    let (inp, _) = input(&root, 500);
    let r = run(
        "ready",
        &[
            &"--timeout",
            &"30",
            &"--serial2-input",
            &inp,
            &"--serial2-expect",
            &inp,
            &"--serial2-after",
            &"fake: ready",
            &img,
        ],
    );
    assert_eq!(r.code, Some(0), "{}", r.out);
    // Without the marker the input goes at once: the fake sees it early.
    let r = run(
        "ready",
        &[&"--timeout", &"30", &"--serial2-input", &inp, &img],
    );
    assert_eq!(r.code, Some(1));
    assert!(r.out.contains("data before ready"), "{}", r.out);
}

#[test]
fn the_rate_limits_sending() {
    if !have_python() {
        return;
    }
    let root = scratch("rate");
    let img = image(&root, "-serial\nmon:stdio\n");
    let (inp, data) = input(&root, 3000);
    let r = run(
        "echo",
        &[
            &"--timeout",
            &"30",
            &"--serial2-input",
            &inp,
            &"--serial2-expect",
            &inp,
            &"--serial2-rate",
            &"10000",
            &img,
        ],
    );
    assert_eq!(r.code, Some(0), "{}", r.out);
    // 3006 bytes at 10,000 bytes/s: the last chunk (100 bytes) is due
    // after 0.29 s at the earliest.
    let floor = Duration::from_secs_f64((data.len() - 100) as f64 / 10_000.0);
    assert!(r.elapsed >= floor, "{:?} < {floor:?}", r.elapsed);
}

#[test]
fn the_image_must_give_exactly_one_port_before_the_channel() {
    if !have_python() {
        return;
    }
    let root = scratch("ports");
    let (inp, _) = input(&root, 10);
    let img = image(&root, "-serial\nmon:stdio\n-serial\npty\n");
    let r = run("echo", &[&"--serial2-input", &inp, &img]);
    assert_eq!(r.code, Some(1));
    assert!(r.out.contains("give 2 serial ports"), "{}", r.out);
    assert!(r.out.contains("exactly one before it"), "{}", r.out);
}

#[test]
fn a_guest_that_never_connects_fails() {
    if !have_python() {
        return;
    }
    let root = scratch("absent");
    let img = image(&root, "-serial\nmon:stdio\n");
    let (inp, _) = input(&root, 10);
    let r = run(
        "absent",
        &[&"--timeout", &"30", &"--serial2-input", &inp, &img],
    );
    assert_eq!(r.code, Some(1));
    assert!(r.out.contains("QEMU never connected"), "{}", r.out);
}

#[test]
fn a_missing_input_file_is_a_usage_error() {
    let root = scratch("nofile");
    let img = image(&root, "-serial\nmon:stdio\n");
    let r = run("echo", &[&"--serial2-input", &root.join("nope"), &img]);
    assert_eq!(r.code, Some(2));
    assert!(r.out.contains("--serial2-input"), "{}", r.out);
}
