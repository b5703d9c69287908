//! `sel4-run`: runs seL4 boot images under QEMU with a timeout, reads the
//! serial protocol of `sel4-test-protocol`, decides pass/fail.
//!
//! - [`analyse`]: the log analyser (no processes; testable on recorded logs)
//! - [`run`]: one boot under QEMU (process group, timeout, Ctrl-C)
//! - [`roottask`]: a root task ELF as a target (the cargo runner): link
//!   check, boot image folder from a kernel stage
//! - this module: the command line, several boots, the summary, JSON.

pub mod analyse;
pub mod roottask;
pub mod run;
pub mod serial2;

pub use analyse::{
    analyse_log, format_micros, Analyser, BootReport, BootResult, Counts, Echo, Ending, KernelInfo,
    TestKind, TestResult,
};
pub use roottask::RootTaskOptions;
pub use run::{
    kernel_info, qemu_command, qemu_package, read_image_dir, run_boot, start_error, BootOptions,
    LineSplitter, Piece, QemuCommand, Sinks, Target, MAX_LINE,
};
pub use sel4_test_protocol::Outcome;

use clap::Parser;
use serde_json::{json, Value};
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Duration;

/// What `--help` says after the options.
const AFTER_HELP: &str = "\
An image folder holds `qemu-args` (one QEMU argument per line, the program \
first; QEMU runs in the folder) and, from the CMake glue, `sel4-kernel.json` \
(the kernel's configuration). Several image folders are reported as one suite.

A root task ELF (what `cargo run` passes with `runner = \"sel4-run\"` in \
.cargo/config.toml) is booted with the kernel stage of --stage or \
SEL4_KERNEL: the runner checks its link first (image at 0x10000 or above, a \
static PIE with relative relocations only or a fixed-address executable, the \
stage's architecture) and refuses one that cannot run, then writes a boot \
image folder, <dir of the ELF>/sel4-boot/<name>/, and boots it. aarch64 and \
riscv64 images are packed with the stage's sel4-loader.elf (or --loader).

A boot passes when the root task sent `##sel4rs result pass`, no test failed \
and QEMU exited with status 1 (isa-debug-exit 0). A kernel without a debug \
console (KernelPrinting off) prints nothing: such a boot is judged by QEMU's \
exit status alone. With --filter, a run in which no boot reported a test \
fails (the filter matched nothing).

With --serial2-* the runner attaches a socket to the guest's second serial \
port (QEMU: `-serial unix:<socket>` after the image's own `-serial`), sends \
--serial2-input (after --serial2-after, at --serial2-rate), and compares what \
the guest sends with --serial2-expect byte for byte: a difference fails the \
boot.

exit status: 0 when every boot passed, 1 when not (or a root task ELF was \
refused), 2 on a usage error, 130 when interrupted.";

/// The command line (see `sel4-run --help`).
#[derive(Parser, Debug)]
#[command(
    name = "sel4-run",
    about = "Runs seL4 boot images under QEMU, one after the other, reads the test protocol on \
             the serial console and decides pass/fail.",
    override_usage = "sel4-run [options] <image-dir>...\n       \
                      sel4-run [options] [--stage <dir>] <root-task-elf>...\n       \
                      sel4-run [options] -- <qemu-program> [qemu-args...]",
    after_help = AFTER_HELP
)]
struct Args {
    /// Time limit of each boot, in seconds
    #[arg(long, value_name = "SECS", default_value = "60", value_parser = parse_secs)]
    timeout: Duration,
    /// Write a copy of QEMU's output to FILE
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,
    /// Don't show console lines that are not protocol lines
    #[arg(short, long)]
    quiet: bool,
    /// Run only tests whose name contains TEXT (comma-separated: any of
    /// them), passed to the root task as -fw_cfg name=opt/sel4rs/filter
    #[arg(long, value_name = "TEXT", value_parser = parse_filter)]
    filter: Option<String>,
    /// Pass FILE to the root task as the fw_cfg file opt/sel4rs/NAME
    /// (repeatable; e.g. the bench reads the C baseline's serial log as
    /// `--fw-cfg bench-c=<log>`)
    #[arg(long = "fw-cfg", value_name = "NAME=FILE", value_parser = parse_fw_cfg)]
    fw_cfg: Vec<(String, PathBuf)>,
    /// The images are meant to fail: succeed when each boot fails (without
    /// timing out)
    #[arg(long)]
    expect_fail: bool,
    /// Write the results as JSON to FILE
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Send FILE's bytes to the guest's second serial port (COM2 on
    /// x86_64), attached to a socket of the runner
    #[arg(long, value_name = "FILE")]
    serial2_input: Option<PathBuf>,
    /// The guest must send exactly FILE's bytes on its second serial port
    /// (compared byte for byte after the boot)
    #[arg(long, value_name = "FILE")]
    serial2_expect: Option<PathBuf>,
    /// Save what the guest sends on its second serial port to FILE
    #[arg(long, value_name = "FILE")]
    serial2_log: Option<PathBuf>,
    /// Start sending once a console line contains TEXT (default: at once)
    #[arg(long, value_name = "TEXT")]
    serial2_after: Option<String>,
    /// Send at most BYTES per second (default: as fast as the guest takes
    /// them)
    #[arg(long, value_name = "BYTES", value_parser = parse_rate)]
    serial2_rate: Option<u64>,
    /// The arguments are image folders (the default)
    #[arg(long)]
    boots: bool,
    /// Kernel stage for root task ELFs (default: $SEL4_KERNEL)
    #[arg(long, value_name = "DIR")]
    stage: Option<PathBuf>,
    /// aarch64, riscv64: the sel4rs loader ELF for root task ELFs
    /// (default: $SEL4RS_LOADER, else the stage's sel4-loader.elf)
    #[arg(long, value_name = "ELF")]
    loader: Option<PathBuf>,
    /// aarch64, riscv64: where a position-independent root task runs
    /// (default: its link address)
    #[arg(long, value_name = "ADDR", value_parser = parse_address)]
    user_vaddr: Option<u64>,
    /// Only check the link of the root task ELFs (and their architecture
    /// against the stage, when one is given); boot nothing
    #[arg(long)]
    check_link: bool,
    /// Boot image folders, or root task ELFs
    #[arg(value_name = "IMAGE_DIR")]
    images: Vec<PathBuf>,
    /// A QEMU command line instead of image folders
    #[arg(last = true, value_name = "QEMU_COMMAND")]
    command: Vec<OsString>,
}

fn parse_secs(v: &str) -> Result<Duration, String> {
    v.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0 && *s < 1e9)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("not a positive number of seconds: {v}"))
}

fn parse_rate(v: &str) -> Result<u64, String> {
    v.parse::<u64>()
        .ok()
        .filter(|&r| r > 0)
        .ok_or_else(|| format!("not a positive number of bytes per second: {v}"))
}

fn parse_address(v: &str) -> Result<u64, String> {
    sel4_mkimage::parse_number(v)
        .ok_or_else(|| format!("not an address (decimal or 0x hexadecimal): {v}"))
}

fn parse_filter(v: &str) -> Result<String, String> {
    if v.split(',').all(|p| p.trim().is_empty()) {
        Err(
            "empty: a filter selects the tests whose name contains it; leave --filter out to \
             run every test"
                .to_string(),
        )
    } else {
        Ok(v.to_string())
    }
}

fn parse_fw_cfg(v: &str) -> Result<(String, PathBuf), String> {
    let (name, file) = v
        .split_once('=')
        .ok_or_else(|| format!("{v}: give NAME=FILE (the root task reads opt/sel4rs/NAME)"))?;
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(format!(
            "{name:?}: a fw_cfg name here is letters, digits, '-', '_' or '.'"
        ));
    }
    let path = PathBuf::from(file);
    // QEMU runs in the image folder: make the path absolute here.
    let path = path
        .canonicalize()
        .map_err(|e| format!("--fw-cfg {name}={file}: {e}"))?;
    Ok((name.to_string(), path))
}

/// The parsed command line.
#[derive(Clone, Debug)]
pub struct Options {
    pub targets: Vec<Target>,
    pub timeout: Duration,
    pub log: Option<PathBuf>,
    pub quiet: bool,
    pub filter: Option<String>,
    /// fw_cfg files for the root task: `opt/sel4rs/<name>` and an absolute path.
    pub fw_cfg: Vec<(String, PathBuf)>,
    pub expect_fail: bool,
    pub json: Option<PathBuf>,
    /// The second serial port's channel ([`serial2`]).
    pub serial2: serial2::Serial2Options,
    /// How root task ELFs among the targets are booted.
    pub root_task: RootTaskOptions,
    /// Only check the link of the root task ELFs.
    pub check_link: bool,
}

/// What the command line asks for.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)] // made once per run
pub enum Cli {
    Run(Options),
    /// Help text to print (exit status 0).
    Help(String),
}

/// Parses the arguments (without the program name); `Err` is a usage
/// error's message.
pub fn parse_args<I: IntoIterator<Item = OsString>>(args: I) -> Result<Cli, String> {
    let argv = std::iter::once(OsString::from("sel4-run")).chain(args);
    let a = match Args::try_parse_from(argv) {
        Ok(a) => a,
        Err(e) => {
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp
                | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    Ok(Cli::Help(e.render().to_string()))
                }
                _ => Err(e.render().to_string()),
            }
        }
    };
    let _ = a.boots;
    let mut targets: Vec<Target> = a.images.into_iter().map(Target::ImageDir).collect();
    if !a.command.is_empty() {
        if !targets.is_empty() {
            return Err("give either image folders or a command after --, not both".into());
        }
        targets.push(Target::Command(a.command));
    }
    if targets.is_empty() {
        return Err("no boot image folder, root task ELF (or -- <qemu command>) given".into());
    }
    if a.check_link && targets.iter().any(|t| matches!(t, Target::Command(_))) {
        return Err("--check-link checks root task ELFs, not a command line".into());
    }
    Ok(Cli::Run(Options {
        targets,
        timeout: a.timeout,
        log: a.log,
        quiet: a.quiet,
        filter: a.filter,
        fw_cfg: a.fw_cfg,
        expect_fail: a.expect_fail,
        json: a.json,
        serial2: serial2::Serial2Options {
            input: a.serial2_input,
            expect: a.serial2_expect,
            log: a.serial2_log,
            after: a.serial2_after,
            rate: a.serial2_rate,
        },
        root_task: RootTaskOptions {
            stage: a.stage,
            loader: a.loader,
            user_vaddr: a.user_vaddr,
        },
        check_link: a.check_link,
    }))
}

/// `--check-link`: checks every target (root task ELFs; against the stage
/// when one is given); returns the exit status.
fn check_links(o: &Options) -> i32 {
    let stage = roottask::stage_dir(&o.root_task)
        .ok()
        .map(|d| kernel_config::Stage::load(&d).map(|s| s.sel4_arch));
    let stage_arch = match stage {
        Some(Ok(a)) => Some(a),
        Some(Err(e)) => {
            eprintln!("sel4-run: {e}");
            return 2;
        }
        None => None,
    };
    let mut status = 0;
    for t in &o.targets {
        let Target::ImageDir(p) = t else { continue };
        let result = std::fs::read(p)
            .map_err(|e| format!("cannot read {}: {e}", p.display()))
            .and_then(|bytes| roottask::check_link(p, &bytes, stage_arch.as_deref()));
        match result {
            Ok(link) => println!("sel4-run: {}", roottask::describe(p, &link)),
            Err(e) => {
                eprintln!("sel4-run: {e}");
                status = 1;
            }
        }
    }
    status
}

/// Replaces each root task ELF among the targets by the boot image folder
/// written for it (or says why it cannot boot: exit status 1, or 2 for a
/// missing stage).
fn prepare_root_tasks(o: &mut Options) -> Result<(), i32> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    for t in &mut o.targets {
        let Target::ImageDir(p) = t else { continue };
        if !roottask::is_elf_file(p) {
            continue;
        }
        if let Err(e) = roottask::stage_dir(&o.root_task) {
            eprintln!("sel4-run: {}: {e}", p.display());
            return Err(2);
        }
        match roottask::prepare(p, &o.root_task, &mut out) {
            Ok(dir) => *p = dir,
            Err(e) => {
                eprintln!("sel4-run: {e}");
                return Err(1);
            }
        }
    }
    Ok(())
}

/// The result of a whole run (one or several boots).
#[derive(Clone, Debug)]
pub struct RunReport {
    pub boots: Vec<BootReport>,
    pub expect_fail: bool,
    /// Failures of the run as a whole (each counts as one failed test):
    /// a filter that matched no test.
    pub problems: Vec<String>,
}

impl RunReport {
    /// The report of `boots`; `filter` is the run's test filter.
    pub fn new(boots: Vec<BootReport>, expect_fail: bool, filter: Option<&str>) -> RunReport {
        let mut problems = Vec::new();
        if let Some(f) = filter {
            let reported = boots
                .iter()
                .flat_map(|b| &b.tests)
                .any(|t| t.kind != TestKind::Boot);
            let started = !boots.is_empty()
                && boots
                    .iter()
                    .all(|b| !matches!(b.ending, Ending::NotStarted(_) | Ending::Interrupted));
            if !reported && started {
                problems.push(format!("--filter {f:?} matches no test"));
            }
        }
        // Several boots form one suite split over them: a test that ran in
        // two boots means a boot did not apply its part (the shard).
        if boots.len() > 1 {
            let mut seen: Vec<(&str, &str)> = Vec::new();
            let mut twice: Vec<String> = Vec::new();
            for b in &boots {
                for t in b.tests.iter().filter(|t| t.kind == TestKind::Reported) {
                    match seen.iter().find(|(n, _)| *n == t.name) {
                        Some((_, first)) if *first != b.image => {
                            if twice.len() < 3 {
                                twice.push(format!("{} ({first}, {})", t.name, b.image));
                            } else if twice.len() == 3 {
                                twice.push("...".to_string());
                            }
                        }
                        Some(_) => {}
                        None => seen.push((&t.name, &b.image)),
                    }
                }
            }
            if !twice.is_empty() {
                problems.push(format!(
                    "tests ran in more than one boot of the split suite: {} (each boot runs its \
                     part only: did the root task get its shard, -fw_cfg \
                     name=opt/sel4rs/shard,string=k/n?)",
                    twice.join(", ")
                ));
            }
        }
        RunReport {
            boots,
            expect_fail,
            problems,
        }
    }

    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for b in &self.boots {
            c.add(b.counts());
        }
        c.failed += self.problems.len();
        c
    }

    /// Did this boot do what was expected of it?
    pub fn boot_ok(&self, b: &BootReport) -> bool {
        if self.expect_fail {
            !b.passed()
                && !matches!(
                    b.ending,
                    Ending::TimedOut(_) | Ending::Interrupted | Ending::NotStarted(_)
                )
        } else {
            b.passed()
        }
    }

    pub fn success(&self) -> bool {
        !self.boots.is_empty()
            && self.problems.is_empty()
            && self.boots.iter().all(|b| self.boot_ok(b))
    }

    pub fn interrupted(&self) -> bool {
        self.boots.iter().any(|b| b.ending == Ending::Interrupted)
    }

    /// 0 success, 1 failure, 130 interrupted.
    pub fn exit_code(&self) -> i32 {
        if self.interrupted() {
            130
        } else if self.success() {
            0
        } else {
            1
        }
    }

    /// The results as JSON.
    pub fn to_json(&self) -> String {
        let c = self.counts();
        let v = json!({
            "success": self.success(),
            "expect_fail": self.expect_fail,
            "passed": c.passed,
            "failed": c.failed,
            "skipped": c.skipped,
            "problems": self.problems,
            "boots": self.boots.iter().map(|b| boot_json(b, self.boot_ok(b))).collect::<Vec<_>>(),
        });
        let mut s = v.to_string();
        s.push('\n');
        s
    }
}

fn boot_json(b: &BootReport, ok: bool) -> Value {
    let ending = match &b.ending {
        Ending::Exited(c) => json!({"kind": "exited", "status": c}),
        Ending::Signalled(sig) => json!({"kind": "signalled", "signal": sig}),
        Ending::TimedOut(d) => json!({"kind": "timeout", "secs": d.as_secs_f64()}),
        Ending::KilledAfterCrash => json!({"kind": "killed_after_crash"}),
        Ending::Interrupted => json!({"kind": "interrupted"}),
        Ending::NotStarted(e) => json!({"kind": "not_started", "error": e}),
    };
    let tests: Vec<Value> = b
        .tests
        .iter()
        .map(|t| {
            json!({
                "name": t.name,
                "outcome": t.outcome.to_string(),
                "micros": t.micros,
                "kind": match t.kind {
                    TestKind::Reported => "test",
                    TestKind::Unfinished => "unfinished",
                    TestKind::Boot => "boot",
                },
                "reason": t.reason,
            })
        })
        .collect();
    let mut v = json!({
        "image": b.image,
        "kernel": b.kernel,
        "arch": b.arch,
        "config": b.config,
        "passed": b.passed(),
        "ok": ok,
        "result": match &b.result {
            None => Value::Null,
            Some(BootResult::Pass) => json!("pass"),
            Some(BootResult::Fail(_)) => json!("fail"),
        },
        "ending": ending,
        "problems": b.problems,
        "notes": b.notes,
        "crashes": b.crashes,
        "tests": tests,
    });
    if let Some(BootResult::Fail(r)) = &b.result {
        v["result_reason"] = json!(r);
    }
    v
}

/// The line printed after each boot: `== hello: passed`,
/// `== hello: FAILED: reason; reason`, with how it was judged when that
/// is not the usual way.
pub fn verdict_line(b: &BootReport, expect_fail: bool) -> String {
    let why = b.problems.join("; ");
    let mut s = match (b.passed(), expect_fail) {
        (true, false) => format!("== {}: passed", b.image),
        (true, true) => format!("== {}: passed, but it was expected to fail", b.image),
        (false, false) => format!("== {}: FAILED: {why}", b.image),
        (false, true) => format!("== {}: failed as expected: {why}", b.image),
    };
    if !b.notes.is_empty() {
        s.push_str(&format!(" ({})", b.notes.join("; ")));
    }
    s
}

/// Runs every boot of `o` one after the other, printing to `out`; writes
/// the log and JSON files. Stops early when interrupted.
pub fn run_all(o: &Options, out: &mut dyn Write) -> io::Result<RunReport> {
    let mut log = match &o.log {
        Some(p) => Some(io::BufWriter::new(File::create(p).map_err(|e| {
            io::Error::new(e.kind(), format!("--log {}: {e}", p.display()))
        })?)),
        None => None,
    };
    let serial2 = if o.serial2.enabled() {
        Some(
            o.serial2
                .load()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?,
        )
    } else {
        None
    };
    let bopts = BootOptions {
        timeout: o.timeout,
        quiet: o.quiet,
        filter: o.filter.clone(),
        fw_cfg: o.fw_cfg.clone(),
        serial2,
        ..BootOptions::default()
    };
    let mut boots = Vec::new();
    for t in &o.targets {
        if run::interrupted() {
            break;
        }
        let b = match qemu_command(t) {
            Ok(cmd) => {
                let mut sinks = Sinks {
                    out: &mut *out,
                    log: log.as_mut().map(|l| l as &mut dyn Write),
                };
                run_boot(&cmd, &bopts, &mut sinks)
            }
            Err(e) => {
                let name = match t {
                    Target::ImageDir(d) => d.display().to_string(),
                    Target::Command(c) => c[0].to_string_lossy().into_owned(),
                };
                let mut a = Analyser::new(&name);
                a.set_filtered(o.filter.is_some());
                a.finish(Ending::NotStarted(e.to_string()))
            }
        };
        // Unfinished tests and the boot entry were not shown yet.
        for t in &b.tests[b.shown..] {
            writeln!(out, "{}", t.display_line())?;
        }
        writeln!(out, "{}", verdict_line(&b, o.expect_fail))?;
        boots.push(b);
    }
    if let Some(l) = log.as_mut() {
        l.flush()?;
    }
    let report = RunReport::new(boots, o.expect_fail, o.filter.as_deref());
    for p in &report.problems {
        writeln!(out, "== FAILED: {p}")?;
    }
    writeln!(out, "{}", report.counts())?;
    if o.expect_fail && report.success() {
        writeln!(out, "(--expect-fail: every boot failed as expected)")?;
    }
    out.flush()?;
    if let Some(p) = &o.json {
        std::fs::write(p, report.to_json())
            .map_err(|e| io::Error::new(e.kind(), format!("--json {}: {e}", p.display())))?;
    }
    Ok(report)
}

/// The whole program: parses `args` (without the program name), runs,
/// returns the exit status.
pub fn main_with_args<I: IntoIterator<Item = OsString>>(args: I) -> i32 {
    let mut o = match parse_args(args) {
        Ok(Cli::Run(o)) => o,
        Ok(Cli::Help(h)) => {
            print!("{h}");
            return 0;
        }
        Err(e) => {
            let e = e.trim_end();
            if e.starts_with("error:") {
                eprintln!("sel4-run: {e}");
            } else {
                eprintln!("sel4-run: error: {e}\n\nFor more information, try '--help'.");
            }
            return 2;
        }
    };
    if o.check_link {
        return check_links(&o);
    }
    if let Err(status) = prepare_root_tasks(&mut o) {
        return status;
    }
    for t in &o.targets {
        if let Target::ImageDir(d) = t {
            let f = d.join(run::QEMU_ARGS_FILE);
            if !f.is_file() {
                eprintln!(
                    "sel4-run: {} is not a boot image folder (no {}) nor a root task ELF",
                    d.display(),
                    run::QEMU_ARGS_FILE
                );
                return 2;
            }
        }
    }
    run::install_signal_handlers();
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match run_all(&o, &mut out) {
        Ok(r) => r.exit_code(),
        Err(e) => {
            eprintln!("sel4-run: {e}");
            if run::interrupted() {
                130
            } else {
                2
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Result<Cli, String> {
        parse_args(a.iter().map(OsString::from))
    }

    fn opts(a: &[&str]) -> Options {
        match args(a) {
            Ok(Cli::Run(o)) => o,
            other => panic!("{a:?}: {other:?}"),
        }
    }

    #[test]
    fn command_line() {
        let o = opts(&["img"]);
        assert_eq!(o.targets, [Target::ImageDir("img".into())]);
        assert_eq!(o.timeout, Duration::from_secs(60));
        assert!(!o.quiet && !o.expect_fail && o.filter.is_none());

        let o = opts(&[
            "--timeout",
            "2.5",
            "--log",
            "l",
            "--json=j",
            "--quiet",
            "--filter",
            "ipc::",
            "--expect-fail",
            "--boots",
            "a",
            "b",
        ]);
        assert_eq!(o.timeout, Duration::from_millis(2500));
        assert_eq!(o.log, Some("l".into()));
        assert_eq!(o.json, Some("j".into()));
        assert!(o.quiet && o.expect_fail);
        assert_eq!(o.filter.as_deref(), Some("ipc::"));
        assert_eq!(
            o.targets,
            [Target::ImageDir("a".into()), Target::ImageDir("b".into())]
        );

        // Options may follow the folders.
        let o = opts(&["a", "--timeout=5", "b"]);
        assert_eq!(o.targets.len(), 2);
        assert_eq!(o.timeout, Duration::from_secs(5));

        let o = opts(&["--timeout", "3", "--", "qemu", "--timeout", "x"]);
        assert_eq!(
            o.targets,
            [Target::Command(
                ["qemu", "--timeout", "x"].map(OsString::from).to_vec()
            )]
        );

        // Root task ELFs: the stage, loader and run address; cargo puts the
        // options of `cargo run -- ...` after the ELF.
        let o = opts(&[
            "target/x/release/app",
            "--stage",
            "st",
            "--loader=l.elf",
            "--user-vaddr",
            "0x1000_0000",
            "--check-link",
        ]);
        assert_eq!(
            o.root_task,
            RootTaskOptions {
                stage: Some("st".into()),
                loader: Some("l.elf".into()),
                user_vaddr: Some(0x1000_0000),
            }
        );
        assert!(o.check_link);
        assert_eq!(o.targets, [Target::ImageDir("target/x/release/app".into())]);
        assert!(args(&["--user-vaddr", "ten", "a"]).is_err());
        assert!(args(&["--check-link", "--", "qemu"]).is_err());

        assert!(matches!(args(&["-h"]), Ok(Cli::Help(_))));
        for bad in [
            &[][..],
            &["--timeout", "0", "a"],
            &["--timeout", "-1", "a"],
            &["--timeout", "nan", "a"],
            &["--timeout"],
            &["--log"],
            &["--what", "a"],
            &["--quiet=yes", "a"],
            &["a", "--", "qemu"],
            &["--"],
            &["--filter", "", "a"],
            &["--filter=", "a"],
            &["--filter", " , ", "a"],
        ] {
            assert!(args(bad).is_err(), "{bad:?}");
        }
        let e = args(&["--filter", "", "a"]).unwrap_err();
        assert!(e.contains("--filter") && e.contains("empty"), "{e}");
    }

    #[test]
    fn json_is_json() {
        let text = "##sel4rs test-start a::b\n##sel4rs test-end a::b fail 3 why \"\\ \u{1}é\n##sel4rs result fail x";
        let b = analyse_log("img", text, Ending::Exited(3));
        let j = RunReport::new(vec![b], false, None).to_json();
        let v: Value = serde_json::from_str(&j).unwrap();
        assert_eq!(v["success"], false);
        assert_eq!(v["boots"][0]["tests"][0]["name"], "a::b");
        assert_eq!(v["boots"][0]["tests"][0]["reason"], "why \"\\ \u{1}é");
        assert_eq!(v["boots"][0]["result_reason"], "x");
        assert_eq!(v["boots"][0]["ending"]["status"], 3);
    }

    #[test]
    fn a_filter_that_matches_nothing_fails_the_run() {
        let hello = analyse_log("hello", "##sel4rs result pass", Ending::Exited(1));
        // Without a filter a boot without tests is one passed test.
        let r = RunReport::new(vec![hello.clone()], false, None);
        assert_eq!((r.counts().passed, r.exit_code()), (1, 0));
        // With one, nothing passed: the run fails.
        let mut a = Analyser::new("hello");
        a.set_filtered(true);
        a.feed("##sel4rs result pass");
        let filtered = a.finish(Ending::Exited(1));
        assert!(filtered.tests.is_empty(), "{:?}", filtered.tests);
        let r = RunReport::new(vec![filtered.clone(), filtered], false, Some("nothing"));
        assert_eq!(r.problems, ["--filter \"nothing\" matches no test"]);
        assert_eq!(r.exit_code(), 1);
        assert_eq!(r.counts().to_string(), "0 passed, 1 failed");
        // One boot of a split suite with the match is enough.
        let with = analyse_log(
            "s1",
            "##sel4rs test-end x::y pass 1\n##sel4rs result pass",
            Ending::Exited(1),
        );
        let mut a = Analyser::new("s2");
        a.set_filtered(true);
        a.feed("##sel4rs result pass");
        let r = RunReport::new(vec![with, a.finish(Ending::Exited(1))], false, Some("x::"));
        assert!(r.problems.is_empty());
        assert_eq!(r.exit_code(), 0);
    }

    #[test]
    fn a_test_in_two_boots_of_a_split_suite_fails_the_run() {
        let part = |image: &str, log: &str| analyse_log(image, log, Ending::Exited(1));
        let s1 = part(
            "shard1",
            "##sel4rs boot shard1 kernel=16.0.0 arch=aarch64 config=x\n\
             ##sel4rs test-end a::x pass 1\n##sel4rs test-end a::y pass 1\n##sel4rs result pass",
        );
        let s2 = part(
            "shard2",
            "##sel4rs boot shard2 kernel=16.0.0 arch=aarch64 config=x\n\
             ##sel4rs test-end a::z pass 1\n##sel4rs result pass",
        );
        let r = RunReport::new(vec![s1.clone(), s2], false, None);
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert_eq!(r.exit_code(), 0);
        // The second boot ran everything: its shard was not applied.
        let all = part(
            "shard2",
            "##sel4rs boot shard2 kernel=16.0.0 arch=aarch64 config=x\n\
             ##sel4rs test-end a::x pass 1\n##sel4rs test-end a::y pass 1\n\
             ##sel4rs test-end a::z pass 1\n##sel4rs result pass",
        );
        let r = RunReport::new(vec![s1.clone(), all], false, None);
        assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
        assert!(
            r.problems[0].contains("a::x (shard1, shard2), a::y (shard1, shard2)")
                && r.problems[0].contains("opt/sel4rs/shard"),
            "{}",
            r.problems[0]
        );
        assert_eq!(r.exit_code(), 1);
        // One boot alone is not a split suite.
        assert!(RunReport::new(vec![s1], false, None).problems.is_empty());
    }

    #[test]
    fn exit_codes() {
        let pass = analyse_log("a", "##sel4rs result pass", Ending::Exited(1));
        let fail = analyse_log("b", "##sel4rs result fail x", Ending::Exited(3));
        let hung = analyse_log("c", "", Ending::TimedOut(Duration::from_secs(1)));
        let r = |boots: Vec<BootReport>, expect_fail| RunReport::new(boots, expect_fail, None);
        assert_eq!(r(vec![pass.clone()], false).exit_code(), 0);
        assert_eq!(r(vec![pass.clone(), fail.clone()], false).exit_code(), 1);
        assert_eq!(r(vec![fail.clone()], true).exit_code(), 0);
        assert_eq!(r(vec![pass.clone()], true).exit_code(), 1);
        // A timeout is never the expected failure.
        assert_eq!(r(vec![hung], true).exit_code(), 1);
        assert_eq!(r(vec![], false).exit_code(), 1);
        let int = analyse_log("d", "", Ending::Interrupted);
        assert_eq!(r(vec![pass, int], false).exit_code(), 130);
        let json: Value = serde_json::from_str(&r(vec![fail], false).to_json()).unwrap();
        assert_eq!(json["boots"][0]["result"], "fail");
        assert_eq!(json["boots"][0]["result_reason"], "x");
    }
}
