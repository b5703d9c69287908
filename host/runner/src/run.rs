//! Running one boot: QEMU in its own process group (with a watchdog in it
//! that kills the group when the runner dies), output read line by line
//! with a bound on a line's length, a timeout, Ctrl-C handling.

use crate::analyse::{format_secs, Analyser, BootReport, Echo, Ending, KernelInfo};
use std::ffi::OsString;
use std::fs;
use std::io::{self, Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
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

/// A copy of the kernel stage's manifest in a boot image folder: the
/// runner reads the kernel's configuration through it (a kernel without a
/// debug console is judged by QEMU's exit status alone).
pub const KERNEL_MANIFEST_FILE: &str = "sel4-kernel.json";

/// The fw_cfg file through which the root task reads the test filter.
pub const FILTER_FW_CFG: &str = "opt/sel4rs/filter";

/// The longest line the runner keeps (newline included): the rest of a
/// longer line is dropped (and counted), so output without newlines cannot
/// fill the runner's memory.
pub const MAX_LINE: usize = 64 * 1024;

/// Lines in flight between a reader thread and the runner (with
/// [`MAX_LINE`], a bound on the memory they take).
const CHANNEL_LINES: usize = 256;

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
    /// The kernel's configuration, from the image folder's
    /// [`KERNEL_MANIFEST_FILE`] (unknown for a command line).
    pub kernel: KernelInfo,
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
    /// A host-side channel to the guest's second serial port
    /// ([`crate::serial2`]).
    pub serial2: Option<crate::serial2::Loaded>,
}

impl Default for BootOptions {
    fn default() -> Self {
        BootOptions {
            timeout: Duration::from_secs(60),
            quiet: false,
            filter: None,
            crash_grace: CRASH_GRACE,
            serial2: None,
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
    let kernel = kernel_info(&abs_dir);
    Ok(QemuCommand {
        program,
        args: lines.map(OsString::from).collect(),
        cwd: Some(abs_dir),
        default_name,
        kernel,
    })
}

/// What the image folder's [`KERNEL_MANIFEST_FILE`] says about the kernel
/// (through the stage's configuration files it names).
pub fn kernel_info(dir: &Path) -> KernelInfo {
    let file = dir.join(KERNEL_MANIFEST_FILE);
    let text = match fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return KernelInfo::default(),
        Err(e) => {
            return KernelInfo {
                problem: Some(format!("{}: {e}", file.display())),
                ..KernelInfo::default()
            }
        }
    };
    let stage = kernel_config::Stage::from_json(dir, &text).and_then(|s| {
        let c = s.config()?;
        Ok((s, c))
    });
    match stage {
        Ok((s, c)) => KernelInfo {
            version: Some(s.version),
            printing: Some(c.is_enabled("CONFIG_PRINTING")),
            debug_build: Some(c.is_enabled("CONFIG_DEBUG_BUILD")),
            problem: None,
        },
        Err(e) => KernelInfo {
            problem: Some(format!("{}: {e}", file.display())),
            ..KernelInfo::default()
        },
    }
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
                kernel: KernelInfo::default(),
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

/// The Debian package that has `program` (by its file name), for the
/// message when it is missing.
pub fn qemu_package(program: &str) -> Option<&'static str> {
    let name = Path::new(program).file_name()?.to_str()?;
    Some(match name {
        "qemu-system-x86_64" | "qemu-system-i386" => "qemu-system-x86",
        "qemu-system-aarch64" | "qemu-system-arm" => "qemu-system-arm",
        "qemu-system-riscv64" | "qemu-system-riscv32" => "qemu-system-misc",
        _ => return None,
    })
}

/// Why `program` could not be started, for the report: a missing program
/// is named with the package to install.
pub fn start_error(program: &str, e: &io::Error) -> String {
    if e.kind() == io::ErrorKind::NotFound {
        match qemu_package(program) {
            Some(pkg) => format!(
                "{program} not found: install QEMU (Debian package {pkg}) or put {program} on PATH"
            ),
            None => format!("{program} not found ({e})"),
        }
    } else {
        format!("{program}: {e}")
    }
}

// ---- signals and process groups ----

/// The process group of the QEMU that runs now (0: none).
static CURRENT_GROUP: AtomicI32 = AtomicI32::new(0);
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static HANDLERS: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_sig: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
    let g = CURRENT_GROUP.load(Ordering::SeqCst);
    if g > 0 {
        // SAFETY: kill(2) is async-signal-safe and takes plain integers; a
        // group that no longer exists only makes it fail with ESRCH.
        unsafe { libc::kill(-g, libc::SIGKILL) };
    }
}

/// Makes Ctrl-C (SIGINT), SIGTERM and SIGHUP kill the QEMU group that runs
/// and mark the run as interrupted ([`interrupted`]). QEMU has its own
/// process group, so the terminal's Ctrl-C does not reach it by itself.
pub fn install_signal_handlers() {
    if HANDLERS.swap(true, Ordering::SeqCst) {
        return;
    }
    let h = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: signal(2) with a valid signal number and the address of
        // an `extern "C" fn(c_int)` that only touches atomics and calls
        // kill(2), both async-signal-safe.
        unsafe { libc::signal(sig, h) };
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
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
    }
}

/// The shell command of the watchdog: it waits until its standard input
/// (a pipe whose only writer is the runner) ends, which happens when the
/// runner exits or dies in any way (SIGKILL included), then kills its own
/// process group, QEMU's.
const WATCHDOG: &str = "read _ ; kill -s KILL 0";

/// A process in QEMU's group that kills the group when the runner dies.
/// PR_SET_PDEATHSIG (set on QEMU too) reaches only the runner's direct
/// child; this reaches QEMU's own children as well.
struct Watchdog {
    child: Child,
    /// The pipe's write end: dropping it (or the runner's death) wakes the
    /// watchdog.
    _pipe: OwnedFd,
}

impl Watchdog {
    fn start(pgid: i32) -> io::Result<Watchdog> {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: pipe2(2) writes two descriptors into the array it is
        // given; O_CLOEXEC keeps them out of every later child (QEMUs of
        // later boots must not hold this pipe open).
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both descriptors were just created and are owned here.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let child = Command::new("sh")
            .args(["-c", WATCHDOG])
            .stdin(Stdio::from(read))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(pgid)
            .spawn()?;
        Ok(Watchdog {
            child,
            _pipe: write,
        })
    }

    /// Reaps the watchdog after the group was killed.
    fn reap(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One piece of a reader's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// A whole line, newline included (the last one may lack it).
    Line(Vec<u8>),
    /// The first [`MAX_LINE`] bytes of a longer line.
    Cut(Vec<u8>),
    /// The end of a cut line: how many bytes of it were dropped.
    CutEnd(u64),
}

/// Splits a byte stream into lines in linear time (each byte is looked at
/// once), keeping at most `max` bytes of any line.
#[derive(Debug)]
pub struct LineSplitter {
    max: usize,
    buf: Vec<u8>,
    /// Dropping the rest of a cut line: bytes dropped so far.
    skipping: Option<u64>,
}

impl LineSplitter {
    /// A splitter that keeps at most `max` (>= 1) bytes of a line.
    pub fn new(max: usize) -> LineSplitter {
        LineSplitter {
            max: max.max(1),
            buf: Vec::new(),
            skipping: None,
        }
    }

    /// Bytes held for the current line.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// Feeds `data`; `out` gets each finished piece and returns false to
    /// stop early (the rest of `data` is then ignored).
    pub fn push(&mut self, mut data: &[u8], out: &mut dyn FnMut(Piece) -> bool) -> bool {
        while !data.is_empty() {
            if let Some(dropped) = self.skipping {
                match data.iter().position(|&b| b == b'\n') {
                    Some(i) => {
                        self.skipping = None;
                        data = &data[i + 1..];
                        if !out(Piece::CutEnd(dropped + i as u64)) {
                            return false;
                        }
                    }
                    None => {
                        self.skipping = Some(dropped + data.len() as u64);
                        return true;
                    }
                }
                continue;
            }
            let room = self.max - self.buf.len();
            let look = &data[..data.len().min(room)];
            match look.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    self.buf.extend_from_slice(&data[..=i]);
                    data = &data[i + 1..];
                    if !out(Piece::Line(std::mem::take(&mut self.buf))) {
                        return false;
                    }
                }
                None => {
                    self.buf.extend_from_slice(look);
                    data = &data[look.len()..];
                    if self.buf.len() == self.max {
                        self.skipping = Some(0);
                        if !out(Piece::Cut(std::mem::take(&mut self.buf))) {
                            return false;
                        }
                    }
                }
            }
        }
        true
    }

    /// The end of the stream: the last partial line, or the end of a cut
    /// one.
    pub fn finish(self, out: &mut dyn FnMut(Piece) -> bool) {
        if let Some(dropped) = self.skipping {
            out(Piece::CutEnd(dropped));
        } else if !self.buf.is_empty() {
            out(Piece::Line(self.buf));
        }
    }
}

enum Msg {
    Piece(Piece),
    Eof,
}

/// Reads `r` and sends its lines ([`LineSplitter`] with [`MAX_LINE`]).
fn reader<R: Read + Send + 'static>(mut r: R, tx: mpsc::SyncSender<Msg>) {
    thread::spawn(move || {
        let mut split = LineSplitter::new(MAX_LINE);
        let mut chunk = vec![0u8; 64 * 1024];
        let mut send = |p: Piece| tx.send(Msg::Piece(p)).is_ok();
        loop {
            match r.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => {
                    if !split.push(&chunk[..n], &mut send) {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        split.finish(&mut send);
        let _ = tx.send(Msg::Eof);
    });
}

/// Where the runner writes: the terminal (readable form) and the log file
/// (raw copy of QEMU's output).
pub struct Sinks<'a> {
    pub out: &'a mut dyn Write,
    pub log: Option<&'a mut dyn Write>,
}

fn spawn(cmd: &QemuCommand, opts: &BootOptions, extra: &[OsString]) -> io::Result<Child> {
    let mut c = Command::new(&cmd.program);
    c.args(&cmd.args);
    if let Some(f) = &opts.filter {
        c.args(filter_args(f));
    }
    c.args(extra);
    if let Some(d) = &cmd.cwd {
        c.current_dir(d);
    }
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    // SAFETY: the pre-exec closure runs in the forked child before exec and
    // only calls prctl(2), which is async-signal-safe and allocates nothing.
    unsafe {
        // QEMU dies with the runner, even when the runner is SIGKILLed (its
        // own children are the watchdog's: see `Watchdog`).
        c.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
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
    analyser.set_kernel(cmd.kernel.clone());
    analyser.set_filtered(opts.filter.is_some());
    if interrupted() {
        return analyser.finish(Ending::Interrupted);
    }
    // The channel to the second serial port: the image's arguments must
    // give the first one (the console) and no second.
    let mut channel = None;
    let mut extra = Vec::new();
    if let Some(loaded) = &opts.serial2 {
        let ports = crate::serial2::serial_ports_in(&cmd.args);
        if ports != 1 {
            let msg = format!(
                "--serial2-*: QEMU's arguments give {ports} serial ports; the channel needs exactly \
                 one before it (the console, -serial mon:stdio), so that it becomes the second"
            );
            let _ = writeln!(sinks.out, "sel4-run: {msg}");
            return analyser.finish(Ending::NotStarted(msg));
        }
        match crate::serial2::Channel::open(loaded.clone()) {
            Ok(c) => {
                extra.extend(c.qemu_args());
                channel = Some(c);
            }
            Err(e) => {
                let msg = format!("--serial2-*: could not make the socket: {e}");
                let _ = writeln!(sinks.out, "sel4-run: {msg}");
                return analyser.finish(Ending::NotStarted(msg));
            }
        }
    }
    let mut child = match spawn(cmd, opts, &extra) {
        Ok(c) => c,
        Err(e) => {
            let msg = start_error(&cmd.program.to_string_lossy(), &e);
            let _ = writeln!(sinks.out, "sel4-run: could not start QEMU: {msg}");
            return analyser.finish(Ending::NotStarted(msg));
        }
    };
    let pgid = child.id() as i32;
    CURRENT_GROUP.store(pgid, Ordering::SeqCst);
    // A signal that came between the check above and the store.
    if interrupted() {
        kill_group(pgid);
    }
    // Fails only when QEMU's group is already gone (QEMU exited at once).
    let watchdog = Watchdog::start(pgid).ok();

    let (tx, rx) = mpsc::sync_channel(CHANNEL_LINES);
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
            Ok(Msg::Piece(Piece::Line(bytes) | Piece::Cut(bytes))) => {
                if let Some(log) = sinks.log.as_mut() {
                    let _ = log.write_all(&bytes);
                    if !bytes.ends_with(b"\n") {
                        let _ = log.write_all(b"\n");
                    }
                }
                let line = String::from_utf8_lossy(&bytes);
                if let Some(c) = channel.as_mut() {
                    c.console_line(&line);
                }
                for echo in analyser.feed(&line) {
                    show(sinks, opts, echo);
                }
                if analyser.fatal() && crash_deadline.is_none() {
                    crash_deadline = Some(Instant::now() + opts.crash_grace);
                }
            }
            Ok(Msg::Piece(Piece::CutEnd(dropped))) => {
                let note = format!(
                    "sel4-run: a line longer than {MAX_LINE} bytes: the runner kept its first \
                     {MAX_LINE} bytes and dropped {dropped}"
                );
                if let Some(log) = sinks.log.as_mut() {
                    let _ = writeln!(log, "[{note}]");
                }
                show(sinks, opts, Echo::Alert(note));
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
    // The group is dead (killed after QEMU exited): reap the watchdog.
    if let Some(w) = watchdog {
        w.reap();
    }

    if let Some(c) = channel {
        let r = c.finish();
        for n in r.notes {
            show(sinks, opts, Echo::Info(n));
        }
        for p in r.problems {
            analyser.add_problem(p);
        }
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
