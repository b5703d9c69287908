//! Running one boot: QEMU in its own process group, output read line by
//! line, a timeout, Ctrl-C handling.

use crate::analyse::{format_secs, Analyser, BootReport, Echo, Ending};
use std::ffi::OsString;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// The name of the file in a boot image folder that holds QEMU's command line.
pub const QEMU_ARGS_FILE: &str = "qemu-args";

/// Read for the program when `qemu-args` starts with an option.
pub const QEMU_BINARY_FILE: &str = "qemu-binary";

/// The program when `qemu-args` starts with an option and there is no
/// `qemu-binary`.
pub const DEFAULT_QEMU: &str = "qemu-system-x86_64";

/// The fw_cfg file through which the root task reads the test filter.
pub const FILTER_FW_CFG: &str = "opt/sel4rs/filter";

/// How long the runner waits, after a fatal kernel message, for the rest
/// of the kernel's report before it kills QEMU.
pub const CRASH_GRACE: Duration = Duration::from_millis(1000);

/// How long the runner waits for the output pipes to close once QEMU is
/// gone (a process outside the group may hold them).
const DRAIN_GRACE: Duration = Duration::from_millis(1500);

const POLL: Duration = Duration::from_millis(20);

/// What to boot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A boot image folder with a `qemu-args` file.
    ImageDir(PathBuf),
    /// A command line given after `--` (program first).
    Command(Vec<OsString>),
}

/// A QEMU command ready to spawn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QemuCommand {
    pub program: OsString,
    pub args: Vec<OsString>,
    /// Where QEMU runs (the image folder), `None` for the runner's own.
    pub cwd: Option<PathBuf>,
    /// The boot's name when it sends no `boot` line.
    pub default_name: String,
}

/// Options of one boot.
#[derive(Clone, Debug)]
pub struct BootOptions {
    pub timeout: Duration,
    /// Don't show console lines that are not protocol lines.
    pub quiet: bool,
    /// Passed to the root task through fw_cfg.
    pub filter: Option<String>,
    pub crash_grace: Duration,
}

impl Default for BootOptions {
    fn default() -> Self {
        BootOptions {
            timeout: Duration::from_secs(60),
            quiet: false,
            filter: None,
            crash_grace: CRASH_GRACE,
        }
    }
}

/// Reads `qemu-args` of an image folder: one argument per line, the first
/// is the program. Empty lines are skipped. A program given as a relative
/// path with a `/` is taken relative to the folder; a bare name is looked
/// up in `PATH`. QEMU runs in the folder, so relative paths in the
/// arguments are relative to it. A `qemu-args` whose first line is an
/// option (`-...`) holds arguments only: the program is then the first line
/// of `qemu-binary` if there is one, else `qemu-system-x86_64`.
pub fn read_image_dir(dir: &Path) -> io::Result<QemuCommand> {
    let file = dir.join(QEMU_ARGS_FILE);
    let text = fs::read_to_string(&file)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", file.display())))?;
    let lines = text
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.is_empty());
    let mut lines = lines.peekable();
    let abs_dir = dir.canonicalize()?;
    let from_file;
    let program = match lines.peek() {
        // Tolerated: arguments only, the program in `qemu-binary` (or the
        // default QEMU).
        Some(first) if first.starts_with('-') => {
            from_file = fs::read_to_string(dir.join(QEMU_BINARY_FILE)).unwrap_or_default();
            from_file
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or(DEFAULT_QEMU)
        }
        Some(_) => lines.next().unwrap(),
        None => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{}: empty (the first line is the QEMU program)",
                    file.display()
                ),
            ))
        }
    };
    let program = if program.contains('/') && !Path::new(program).is_absolute() {
        abs_dir.join(program).into_os_string()
    } else {
        OsString::from(program)
    };
    let default_name = abs_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "boot".to_string());
    Ok(QemuCommand {
        program,
        args: lines.map(OsString::from).collect(),
        cwd: Some(abs_dir),
        default_name,
    })
}

/// Builds the QEMU command of a target.
pub fn qemu_command(target: &Target) -> io::Result<QemuCommand> {
    match target {
        Target::ImageDir(dir) => read_image_dir(dir),
        Target::Command(argv) => {
            let (program, args) = argv.split_first().ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, "empty command after --")
            })?;
            Ok(QemuCommand {
                program: program.clone(),
                args: args.to_vec(),
                cwd: None,
                default_name: command_name(argv),
            })
        }
    }
}

/// A name for a boot given as a command: the root task given with
/// `-initrd`, else the program's file name.
fn command_name(argv: &[OsString]) -> String {
    let base = |s: &str| {
        Path::new(s)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| s.to_string())
    };
    if let Some(i) = argv.iter().position(|a| a == "-initrd") {
        if let Some(v) = argv.get(i + 1) {
            let v = v.to_string_lossy();
            let first = v.split(',').next().unwrap_or("");
            let first = first.split(' ').next().unwrap_or("");
            if !first.is_empty() {
                return base(first);
            }
        }
    }
    base(&argv[0].to_string_lossy())
}

/// The QEMU arguments that pass `filter` to the root task
/// (`-fw_cfg name=opt/sel4rs/filter,string=<filter>`, commas doubled as
/// QEMU's option syntax wants).
pub fn filter_args(filter: &str) -> [OsString; 2] {
    [
        OsString::from("-fw_cfg"),
        OsString::from(format!(
            "name={FILTER_FW_CFG},string={}",
            filter.replace(',', ",,")
        )),
    ]
}

// ---- signals and process groups (libc is linked by std anyway) ----

extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
    fn signal(signum: i32, handler: usize) -> usize;
    #[cfg(target_os = "linux")]
    fn prctl(option: i32, ...) -> i32;
}

const SIGHUP: i32 = 1;
const SIGINT: i32 = 2;
const SIGKILL: i32 = 9;
const SIGTERM: i32 = 15;
#[cfg(target_os = "linux")]
const PR_SET_PDEATHSIG: i32 = 1;

/// The process group of the QEMU that runs now (0: none).
static CURRENT_GROUP: AtomicI32 = AtomicI32::new(0);
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static HANDLERS: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_sig: i32) {
    INTERRUPTED.store(true, Ordering::SeqCst);
    let g = CURRENT_GROUP.load(Ordering::SeqCst);
    if g > 0 {
        // SAFETY: kill(2) is async-signal-safe and takes plain integers; a
        // group that no longer exists only makes it fail with ESRCH.
        unsafe { kill(-g, SIGKILL) };
    }
}

/// Makes Ctrl-C (SIGINT), SIGTERM and SIGHUP kill the QEMU group that runs
/// and mark the run as interrupted ([`interrupted`]). QEMU has its own
/// process group, so the terminal's Ctrl-C does not reach it by itself.
pub fn install_signal_handlers() {
    if HANDLERS.swap(true, Ordering::SeqCst) {
        return;
    }
    let h = on_signal as extern "C" fn(i32) as usize;
    // SAFETY: signal(2) with a valid signal number and the address of an
    // `extern "C" fn(i32)` that only touches atomics and calls kill(2),
    // both async-signal-safe.
    unsafe {
        signal(SIGINT, h);
        signal(SIGTERM, h);
        signal(SIGHUP, h);
    }
}

/// A signal asked the runner to stop.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Kills every process of group `pgid`.
fn kill_group(pgid: i32) {
    if pgid > 0 {
        // SAFETY: kill(2) takes plain integers; `pgid` is the process group
        // of a QEMU this runner started (a vanished group gives ESRCH).
        unsafe { kill(-pgid, SIGKILL) };
    }
}

enum Msg {
    Line(Vec<u8>),
    Eof,
}

/// Reads `r` and sends complete lines (and the last partial one at EOF).
fn reader<R: Read + Send + 'static>(mut r: R, tx: mpsc::Sender<Msg>) {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            match r.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    while let Some(i) = buf.iter().position(|&b| b == b'\n') {
                        let rest = buf.split_off(i + 1);
                        let line = std::mem::replace(&mut buf, rest);
                        if tx.send(Msg::Line(line)).is_err() {
                            return;
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        if !buf.is_empty() {
            let _ = tx.send(Msg::Line(buf));
        }
        let _ = tx.send(Msg::Eof);
    });
}

/// Where the runner writes: the terminal (readable form) and the log file
/// (raw copy of QEMU's output).
pub struct Sinks<'a> {
    pub out: &'a mut dyn Write,
    pub log: Option<&'a mut dyn Write>,
}

fn spawn(cmd: &QemuCommand, opts: &BootOptions) -> io::Result<Child> {
    let mut c = Command::new(&cmd.program);
    c.args(&cmd.args);
    if let Some(f) = &opts.filter {
        c.args(filter_args(f));
    }
    if let Some(d) = &cmd.cwd {
        c.current_dir(d);
    }
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    #[cfg(target_os = "linux")]
    // SAFETY: the pre-exec closure runs in the forked child before exec and
    // only calls prctl(2), which is async-signal-safe and allocates nothing.
    unsafe {
        // QEMU dies with the runner, even when the runner is SIGKILLed.
        c.pre_exec(|| {
            prctl(PR_SET_PDEATHSIG, SIGKILL as std::ffi::c_ulong);
            Ok(())
        });
    }
    c.spawn()
}

fn show(sinks: &mut Sinks<'_>, opts: &BootOptions, echo: Echo) {
    let text = match echo {
        Echo::Raw(s) if opts.quiet => {
            let _ = s;
            return;
        }
        Echo::Raw(s) | Echo::Alert(s) | Echo::Info(s) => s,
    };
    let _ = writeln!(sinks.out, "{text}");
    let _ = sinks.out.flush();
}

/// Runs one boot to its end and analyses it. Prints console lines and
/// results to `sinks.out` as they arrive; does not print the final
/// verdict (see [`crate::verdict_line`]).
pub fn run_boot(cmd: &QemuCommand, opts: &BootOptions, sinks: &mut Sinks<'_>) -> BootReport {
    let mut analyser = Analyser::new(&cmd.default_name);
    if interrupted() {
        return analyser.finish(Ending::Interrupted);
    }
    let mut child = match spawn(cmd, opts) {
        Ok(c) => c,
        Err(e) => {
            let msg = format!("{}: {e}", cmd.program.to_string_lossy());
            let _ = writeln!(sinks.out, "sel4-run: could not start {msg}");
            return analyser.finish(Ending::NotStarted(msg));
        }
    };
    let pgid = child.id() as i32;
    CURRENT_GROUP.store(pgid, Ordering::SeqCst);
    // A signal that came between the check above and the store.
    if interrupted() {
        kill_group(pgid);
    }

    let (tx, rx) = mpsc::channel();
    reader(child.stdout.take().unwrap(), tx.clone());
    reader(child.stderr.take().unwrap(), tx);

    let start = Instant::now();
    let deadline = start + opts.timeout;
    let mut open_pipes = 2;
    let mut exited: Option<(Instant, std::process::ExitStatus)> = None;
    // Why the runner killed QEMU, if it did.
    let mut killed: Option<Ending> = None;
    let mut crash_deadline: Option<Instant> = None;

    loop {
        let now = Instant::now();
        if exited.is_none() && killed.is_none() {
            if interrupted() {
                kill_group(pgid);
                killed = Some(Ending::Interrupted);
            } else if now >= deadline {
                kill_group(pgid);
                let _ = writeln!(
                    sinks.out,
                    "sel4-run: timeout after {}{}: killing QEMU",
                    format_secs(opts.timeout),
                    analyser
                        .current_test()
                        .map(|t| format!(" while running test {t}"))
                        .unwrap_or_default()
                );
                killed = Some(Ending::TimedOut(opts.timeout));
            } else if crash_deadline.is_some_and(|d| now >= d) {
                kill_group(pgid);
                let _ = writeln!(sinks.out, "sel4-run: the kernel crashed: killing QEMU");
                killed = Some(Ending::KilledAfterCrash);
            }
        }
        if let Some((t, _)) = exited {
            if open_pipes == 0 || now.duration_since(t) >= DRAIN_GRACE {
                break;
            }
        }

        match rx.recv_timeout(POLL) {
            Ok(Msg::Line(bytes)) => {
                if let Some(log) = sinks.log.as_mut() {
                    let _ = log.write_all(&bytes);
                    if !bytes.ends_with(b"\n") {
                        let _ = log.write_all(b"\n");
                    }
                }
                let line = String::from_utf8_lossy(&bytes);
                for echo in analyser.feed(&line) {
                    show(sinks, opts, echo);
                }
                if analyser.fatal() && crash_deadline.is_none() {
                    crash_deadline = Some(Instant::now() + opts.crash_grace);
                }
            }
            Ok(Msg::Eof) => open_pipes -= 1,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => open_pipes = 0,
        }

        if exited.is_none() {
            match child.try_wait() {
                Ok(Some(status)) => {
                    // Leftovers of the group (QEMU's own children, if any).
                    kill_group(pgid);
                    CURRENT_GROUP.store(0, Ordering::SeqCst);
                    exited = Some((Instant::now(), status));
                }
                Ok(None) => {}
                Err(_) => {
                    kill_group(pgid);
                    CURRENT_GROUP.store(0, Ordering::SeqCst);
                    let status = child.wait().unwrap_or_else(|_| ExitStatusExt::from_raw(0));
                    exited = Some((Instant::now(), status));
                }
            }
        }
    }
    if let Some(log) = sinks.log.as_mut() {
        let _ = log.flush();
    }

    let (_, status) = exited.expect("loop ends after exit");
    let ending = match killed {
        Some(k) => k,
        None => match (status.code(), status.signal()) {
            (Some(c), _) => Ending::Exited(c),
            (None, Some(s)) if interrupted() => {
                let _ = s;
                Ending::Interrupted
            }
            (None, Some(s)) => Ending::Signalled(s),
            (None, None) => Ending::Signalled(0),
        },
    };
    analyser.finish(ending)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sel4-run-unit-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn image_dir_with_program_line() {
        let d = tmp("prog");
        fs::write(
            d.join(QEMU_ARGS_FILE),
            "qemu-system-x86_64\r\n-kernel\r\nkernel32.elf\r\n\r\n",
        )
        .unwrap();
        let c = read_image_dir(&d).unwrap();
        assert_eq!(c.program, "qemu-system-x86_64");
        assert_eq!(c.args, ["-kernel", "kernel32.elf"]);
        assert_eq!(c.cwd.as_deref(), Some(d.canonicalize().unwrap().as_path()));
        assert_eq!(c.default_name, d.file_name().unwrap().to_string_lossy());

        fs::write(d.join(QEMU_ARGS_FILE), "bin/qemu\n-m\n512\n").unwrap();
        let c = read_image_dir(&d).unwrap();
        assert_eq!(
            PathBuf::from(&c.program),
            d.canonicalize().unwrap().join("bin/qemu")
        );
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn image_dir_with_arguments_only() {
        let d = tmp("argsonly");
        fs::write(d.join(QEMU_ARGS_FILE), "-machine\nq35\n").unwrap();
        let c = read_image_dir(&d).unwrap();
        assert_eq!(c.program, DEFAULT_QEMU);
        assert_eq!(c.args, ["-machine", "q35"]);
        fs::write(
            d.join(QEMU_BINARY_FILE),
            "/opt/qemu/bin/qemu-system-x86_64\n",
        )
        .unwrap();
        let c = read_image_dir(&d).unwrap();
        assert_eq!(c.program, "/opt/qemu/bin/qemu-system-x86_64");
        fs::write(d.join(QEMU_ARGS_FILE), "\n\n").unwrap();
        assert!(read_image_dir(&d).is_err());
        fs::remove_dir_all(&d).unwrap();
        assert!(read_image_dir(&d).is_err());
    }

    #[test]
    fn filter_escapes_commas() {
        assert_eq!(
            filter_args("a,b"),
            ["-fw_cfg", "name=opt/sel4rs/filter,string=a,,b"].map(OsString::from)
        );
    }

    #[test]
    fn command_names() {
        let v = |s: &[&str]| s.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            command_name(&v(&["/usr/bin/qemu-system-x86_64"])),
            "qemu-system-x86_64"
        );
        assert_eq!(
            command_name(&v(&[
                "qemu",
                "-kernel",
                "k",
                "-initrd",
                "/a/b/tests-ipc.elf"
            ])),
            "tests-ipc.elf"
        );
        assert_eq!(
            command_name(&v(&["qemu", "-initrd", "/a/root.elf arg1,/a/other"])),
            "root.elf"
        );
    }
}
