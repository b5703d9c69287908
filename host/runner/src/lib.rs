//! `sel4-run`: runs seL4 boot images under QEMU with a timeout, reads the
//! serial protocol of `sel4-test-protocol`, decides pass/fail.
//!
//! - [`analyse`]: the log analyser (no processes; testable on recorded logs)
//! - [`run`]: one boot under QEMU (process group, timeout, Ctrl-C)
//! - this module: the command line, several boots, the summary, JSON.

pub mod analyse;
pub mod run;

pub use analyse::{
    analyse_log, format_micros, Analyser, BootReport, BootResult, Counts, Echo, Ending, TestKind,
    TestResult,
};
pub use run::{qemu_command, read_image_dir, run_boot, BootOptions, QemuCommand, Sinks, Target};
pub use sel4_test_protocol::Outcome;

use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Duration;

pub const USAGE: &str = "\
usage: sel4-run [options] <image-dir>...
       sel4-run [options] --boots <image-dir>...
       sel4-run [options] -- <qemu-program> [qemu-args...]

Runs seL4 boot images under QEMU, one after the other, reads the test
protocol on the serial console and decides pass/fail. An image folder holds
`qemu-args` (one QEMU argument per line, the program first; QEMU runs in the
folder). Several image folders are reported as one suite.

options:
  --timeout <secs>    time limit of each boot (default 60)
  --log <file>        write a copy of QEMU's output to <file>
  --quiet             don't show console lines that are not protocol lines
  --filter <text>     run only tests whose name contains <text> (passed to the
                      root task as -fw_cfg name=opt/sel4rs/filter,string=<text>)
  --expect-fail       the images are meant to fail: succeed when each boot
                      fails (without timing out)
  --json <file>       write the results as JSON to <file>
  --boots             the arguments that follow are image folders (default)
  -h, --help          show this help

exit status: 0 when every boot passed (`##sel4rs result pass`, no failed
test, QEMU exit status 1 = isa-debug-exit 0), 1 when not, 2 on a usage
error, 130 when interrupted.";

/// The parsed command line.
#[derive(Clone, Debug)]
pub struct Options {
    pub targets: Vec<Target>,
    pub timeout: Duration,
    pub log: Option<PathBuf>,
    pub quiet: bool,
    pub filter: Option<String>,
    pub expect_fail: bool,
    pub json: Option<PathBuf>,
}

/// What the command line asks for.
#[derive(Clone, Debug)]
pub enum Cli {
    Run(Options),
    Help,
}

/// Parses the arguments (without the program name).
pub fn parse_args<I: IntoIterator<Item = OsString>>(args: I) -> Result<Cli, String> {
    let mut args = args.into_iter();
    let mut o = Options {
        targets: Vec::new(),
        timeout: Duration::from_secs(60),
        log: None,
        quiet: false,
        filter: None,
        expect_fail: false,
        json: None,
    };
    let mut command: Option<Vec<OsString>> = None;
    while let Some(arg) = args.next() {
        let s = arg.to_string_lossy().into_owned();
        if s == "--" {
            let rest: Vec<OsString> = args.by_ref().collect();
            if rest.is_empty() {
                return Err("-- must be followed by a QEMU command".into());
            }
            command = Some(rest);
            break;
        }
        if !s.starts_with('-') || s == "-" {
            o.targets.push(Target::ImageDir(PathBuf::from(arg)));
            continue;
        }
        let (name, inline) = match s.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(OsString::from(v))),
            _ => (s.clone(), None),
        };
        let mut value = |what: &str| -> Result<OsString, String> {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs {what}"))
        };
        match name.as_str() {
            "-h" | "--help" => return Ok(Cli::Help),
            "--timeout" => {
                let v = value("a number of seconds")?;
                let v = v.to_string_lossy();
                let secs: f64 = v
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s > 0.0 && *s < 1e9)
                    .ok_or_else(|| format!("--timeout: not a positive number of seconds: {v}"))?;
                o.timeout = Duration::from_secs_f64(secs);
            }
            "--log" => o.log = Some(PathBuf::from(value("a file")?)),
            "--json" => o.json = Some(PathBuf::from(value("a file")?)),
            "--filter" => o.filter = Some(value("a text")?.to_string_lossy().into_owned()),
            "--quiet" | "-q" => o.quiet = true,
            "--expect-fail" => o.expect_fail = true,
            "--boots" => {}
            _ => return Err(format!("unknown option {s}")),
        }
        if inline.is_some() && matches!(name.as_str(), "--quiet" | "--expect-fail" | "--boots") {
            return Err(format!("{name} takes no value"));
        }
    }
    if let Some(c) = command {
        if !o.targets.is_empty() {
            return Err("give either image folders or a command after --, not both".into());
        }
        o.targets.push(Target::Command(c));
    }
    if o.targets.is_empty() {
        return Err("no boot image folder (or -- <qemu command>) given".into());
    }
    Ok(Cli::Run(o))
}

/// The result of a whole run (one or several boots).
#[derive(Clone, Debug)]
pub struct RunReport {
    pub boots: Vec<BootReport>,
    pub expect_fail: bool,
}

impl RunReport {
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for b in &self.boots {
            c.add(b.counts());
        }
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
        !self.boots.is_empty() && self.boots.iter().all(|b| self.boot_ok(b))
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
        let mut s = String::new();
        let _ = write!(
            s,
            "{{\"success\":{},\"expect_fail\":{},\"passed\":{},\"failed\":{},\"skipped\":{},\"boots\":[",
            self.success(),
            self.expect_fail,
            c.passed,
            c.failed,
            c.skipped
        );
        for (i, b) in self.boots.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            boot_json(&mut s, b, self.boot_ok(b));
        }
        s.push_str("]}\n");
        s
    }
}

/// Appends `v` as a JSON string.
pub fn json_str(out: &mut String, v: &str) {
    out.push('"');
    for ch in v.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn json_opt_str(out: &mut String, v: Option<&str>) {
    match v {
        Some(v) => json_str(out, v),
        None => out.push_str("null"),
    }
}

fn json_str_list(out: &mut String, v: &[String]) {
    out.push('[');
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_str(out, x);
    }
    out.push(']');
}

fn boot_json(s: &mut String, b: &BootReport, ok: bool) {
    s.push_str("{\"image\":");
    json_str(s, &b.image);
    s.push_str(",\"kernel\":");
    json_opt_str(s, b.kernel.as_deref());
    s.push_str(",\"arch\":");
    json_opt_str(s, b.arch.as_deref());
    s.push_str(",\"config\":");
    json_opt_str(s, b.config.as_deref());
    let _ = write!(s, ",\"passed\":{},\"ok\":{ok}", b.passed());
    s.push_str(",\"result\":");
    match &b.result {
        None => s.push_str("null"),
        Some(BootResult::Pass) => s.push_str("\"pass\""),
        Some(BootResult::Fail(_)) => s.push_str("\"fail\""),
    }
    if let Some(BootResult::Fail(r)) = &b.result {
        s.push_str(",\"result_reason\":");
        json_str(s, r);
    }
    s.push_str(",\"ending\":");
    match &b.ending {
        Ending::Exited(c) => {
            let _ = write!(s, "{{\"kind\":\"exited\",\"status\":{c}}}");
        }
        Ending::Signalled(sig) => {
            let _ = write!(s, "{{\"kind\":\"signalled\",\"signal\":{sig}}}");
        }
        Ending::TimedOut(d) => {
            let _ = write!(s, "{{\"kind\":\"timeout\",\"secs\":{}}}", d.as_secs_f64());
        }
        Ending::KilledAfterCrash => s.push_str("{\"kind\":\"killed_after_crash\"}"),
        Ending::Interrupted => s.push_str("{\"kind\":\"interrupted\"}"),
        Ending::NotStarted(e) => {
            s.push_str("{\"kind\":\"not_started\",\"error\":");
            json_str(s, e);
            s.push('}');
        }
    }
    s.push_str(",\"problems\":");
    json_str_list(s, &b.problems);
    s.push_str(",\"crashes\":");
    json_str_list(s, &b.crashes);
    s.push_str(",\"tests\":[");
    for (i, t) in b.tests.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str("{\"name\":");
        json_str(s, &t.name);
        let _ = write!(s, ",\"outcome\":\"{}\",\"micros\":", t.outcome);
        match t.micros {
            Some(us) => {
                let _ = write!(s, "{us}");
            }
            None => s.push_str("null"),
        }
        let kind = match t.kind {
            TestKind::Reported => "test",
            TestKind::Unfinished => "unfinished",
            TestKind::Boot => "boot",
        };
        let _ = write!(s, ",\"kind\":\"{kind}\",\"reason\":");
        json_str(s, &t.reason);
        s.push('}');
    }
    s.push_str("]}");
}

/// The line printed after each boot: `== hello: passed`,
/// `== hello: FAILED: reason; reason`.
pub fn verdict_line(b: &BootReport, expect_fail: bool) -> String {
    let why = b.problems.join("; ");
    match (b.passed(), expect_fail) {
        (true, false) => format!("== {}: passed", b.image),
        (true, true) => format!("== {}: passed, but it was expected to fail", b.image),
        (false, false) => format!("== {}: FAILED: {why}", b.image),
        (false, true) => format!("== {}: failed as expected: {why}", b.image),
    }
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
    let bopts = BootOptions {
        timeout: o.timeout,
        quiet: o.quiet,
        filter: o.filter.clone(),
        ..BootOptions::default()
    };
    let mut report = RunReport {
        boots: Vec::new(),
        expect_fail: o.expect_fail,
    };
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
                Analyser::new(&name).finish(Ending::NotStarted(e.to_string()))
            }
        };
        // Unfinished tests and the boot entry were not shown yet.
        for t in &b.tests[b.shown..] {
            writeln!(out, "{}", t.display_line())?;
        }
        writeln!(out, "{}", verdict_line(&b, o.expect_fail))?;
        report.boots.push(b);
    }
    if let Some(l) = log.as_mut() {
        l.flush()?;
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
    let o = match parse_args(args) {
        Ok(Cli::Run(o)) => o,
        Ok(Cli::Help) => {
            println!("{USAGE}");
            return 0;
        }
        Err(e) => {
            eprintln!("sel4-run: {e}\n\n{USAGE}");
            return 2;
        }
    };
    for t in &o.targets {
        if let Target::ImageDir(d) = t {
            let f = d.join(run::QEMU_ARGS_FILE);
            if !f.is_file() {
                eprintln!(
                    "sel4-run: {} is not a boot image folder (no {})",
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

        assert!(matches!(args(&["-h"]), Ok(Cli::Help)));
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
        ] {
            assert!(args(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn json_strings() {
        let mut s = String::new();
        json_str(&mut s, "a\"b\\c\nd\u{1}é");
        assert_eq!(s, "\"a\\\"b\\\\c\\nd\\u0001é\"");
    }

    #[test]
    fn exit_codes() {
        let pass = analyse_log("a", "##sel4rs result pass", Ending::Exited(1));
        let fail = analyse_log("b", "##sel4rs result fail x", Ending::Exited(3));
        let hung = analyse_log("c", "", Ending::TimedOut(Duration::from_secs(1)));
        let r = |boots: Vec<BootReport>, expect_fail| RunReport { boots, expect_fail };
        assert_eq!(r(vec![pass.clone()], false).exit_code(), 0);
        assert_eq!(r(vec![pass.clone(), fail.clone()], false).exit_code(), 1);
        assert_eq!(r(vec![fail.clone()], true).exit_code(), 0);
        assert_eq!(r(vec![pass.clone()], true).exit_code(), 1);
        // A timeout is never the expected failure.
        assert_eq!(r(vec![hung], true).exit_code(), 1);
        assert_eq!(r(vec![], false).exit_code(), 1);
        let int = analyse_log("d", "", Ending::Interrupted);
        assert_eq!(r(vec![pass, int], false).exit_code(), 130);
        let json = r(vec![fail], false).to_json();
        assert!(
            json.contains("\"result\":\"fail\",\"result_reason\":\"x\""),
            "{json}"
        );
    }
}
