//! The log analyser: reads the serial output of one boot, line by line, and
//! decides what happened. It knows nothing about processes; the runner feeds
//! it lines as they arrive and tells it at the end how QEMU ended. Recorded
//! logs can be analysed with [`analyse_log`].

use sel4_test_protocol::{parse, Line, Outcome, MARKER};
use std::fmt;
use std::time::Duration;

/// The QEMU exit status that means success: isa-debug-exit with value 0
/// (QEMU exits with `(v << 1) | 1`).
pub const SUCCESS_EXIT_STATUS: i32 = 1;

/// Kernel messages after which the system is dead: the runner stops QEMU
/// shortly after seeing one of them.
const FATAL_MARKERS: &[&str] = &[
    "halting...",
    "Kernel panic",
    "KERNEL PANIC",
    "seL4 root server abort",
    "seL4 called fail",
    "seL4 failed assertion",
    "Kernel init failed",
    // seL4_DebugHalt (the runtime's stop when it cannot start, or cannot
    // end QEMU): the kernel halts the machine, QEMU keeps running.
    "Debug halt syscall from user thread",
];

/// How many lines after `Caught ...` belong to the kernel's fault report
/// (`while trying to handle:`, the second fault, `in thread ...`).
const FAULT_REPORT_LINES: usize = 4;

/// Where a [`TestResult`] came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestKind {
    /// The root task sent a `test-end` line.
    Reported,
    /// The test started but never ended (the boot hung, crashed or
    /// ended); always a failure.
    Unfinished,
    /// Not a test of the root task: the boot itself, counted as one test
    /// when the boot reported no tests, or when it failed outside any test.
    Boot,
}

/// One test's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestResult {
    pub name: String,
    pub outcome: Outcome,
    /// As measured by the root task; `None` for unfinished and boot entries.
    pub micros: Option<u64>,
    /// Empty when there is none.
    pub reason: String,
    pub kind: TestKind,
}

impl TestResult {
    /// The readable one-line form: `  PASS  name  (1.234 ms)`,
    /// `  FAIL  name  (1.234 ms) reason`, `  FAIL  name  (unfinished) hung: ...`,
    /// `  FAIL  image  (boot) reason`.
    pub fn display_line(&self) -> String {
        let word = match self.outcome {
            Outcome::Pass => "PASS",
            Outcome::Fail => "FAIL",
            Outcome::Skip => "SKIP",
        };
        let time = match (self.micros, self.kind) {
            (Some(us), _) => format_micros(us),
            (None, TestKind::Boot) => "boot".to_string(),
            (None, _) => "unfinished".to_string(),
        };
        let mut s = format!("  {word}  {}  ({time})", self.name);
        if !self.reason.is_empty() {
            s.push(' ');
            s.push_str(&self.reason);
        }
        s
    }
}

/// `1234` -> `1.234 ms`.
pub fn format_micros(us: u64) -> String {
    format!("{}.{:03} ms", us / 1000, us % 1000)
}

/// `60 s`, `2.5 s`.
pub fn format_secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if d.subsec_nanos() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{s:.1} s")
    }
}

/// What the runner knows of the kernel of a boot (from the image folder's
/// copy of the kernel stage's manifest); every field `None` when unknown.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KernelInfo {
    /// The kernel's version.
    pub version: Option<String>,
    /// `KernelPrinting`: the kernel has a debug console (`seL4_DebugPutChar`).
    pub printing: Option<bool>,
    /// `KernelDebugBuild`.
    pub debug_build: Option<bool>,
    /// Why the configuration could not be read, when the image has a
    /// manifest that did not load.
    pub problem: Option<String>,
}

/// How QEMU ended (told to the analyser by the runner).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ending {
    /// QEMU exited by itself with this status.
    Exited(i32),
    /// QEMU was killed by a signal that the runner did not send.
    Signalled(i32),
    /// The runner killed QEMU after this timeout.
    TimedOut(Duration),
    /// The runner killed QEMU after the kernel reported a fatal error.
    KilledAfterCrash,
    /// The runner was interrupted (Ctrl-C, SIGTERM) and killed QEMU.
    Interrupted,
    /// QEMU could not be started.
    NotStarted(String),
}

/// The root task's `result` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BootResult {
    Pass,
    Fail(String),
}

/// Counts of test outcomes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

impl Counts {
    pub fn add(&mut self, other: Counts) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.skipped += other.skipped;
    }
}

impl fmt::Display for Counts {
    /// `N passed, N failed` with `, N skipped` when any.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} passed, {} failed", self.passed, self.failed)?;
        if self.skipped > 0 {
            write!(f, ", {} skipped", self.skipped)?;
        }
        Ok(())
    }
}

/// Everything known about one boot once it is over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootReport {
    /// From the `boot` line, else the name the runner gave (folder name).
    pub image: String,
    pub kernel: Option<String>,
    pub arch: Option<String>,
    pub config: Option<String>,
    /// In the order they ended, with unfinished and boot entries.
    pub tests: Vec<TestResult>,
    pub result: Option<BootResult>,
    /// The root task's own `summary` line, if any.
    pub summary: Option<(u32, u32, u32)>,
    /// Kernel crash reports (fault reports, panics), one entry each.
    pub crashes: Vec<String>,
    /// Malformed or out-of-place protocol lines.
    pub protocol_errors: Vec<String>,
    pub ending: Ending,
    /// Why the boot failed; empty when it passed.
    pub problems: Vec<String>,
    /// How the boot was judged when that is not the usual way (a kernel
    /// without a debug console is judged by QEMU's exit status alone).
    pub notes: Vec<String>,
    /// `tests[..shown]` were already shown by [`Analyser::feed`]; the rest
    /// (tests that never ended, the boot entry) came with `finish`.
    pub shown: usize,
}

impl BootReport {
    /// The boot passed: `result pass` seen (or, for a kernel without a
    /// debug console, nothing expected), no test failed, QEMU exited with
    /// status 1, no kernel crash, no protocol error.
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }

    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for t in &self.tests {
            match t.outcome {
                Outcome::Pass => c.passed += 1,
                Outcome::Fail => c.failed += 1,
                Outcome::Skip => c.skipped += 1,
            }
        }
        c
    }

    pub fn timed_out(&self) -> bool {
        matches!(self.ending, Ending::TimedOut(_))
    }
}

/// What the runner should show for one line of serial output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Echo {
    /// Ordinary console output, shown as is unless `--quiet`.
    Raw(String),
    /// Console output that matters (a kernel crash report), always shown.
    Alert(String),
    /// The runner's readable form of a protocol line, always shown.
    Info(String),
}

#[derive(Debug, Default)]
struct FaultReport {
    lines: Vec<String>,
    /// Still reading the lines that follow `Caught ...`.
    open: bool,
}

/// Incremental analyser of one boot's serial output.
#[derive(Debug)]
pub struct Analyser {
    default_name: String,
    boot: Option<(String, String, String, String)>,
    tests: Vec<TestResult>,
    current: Option<String>,
    result: Option<BootResult>,
    summary: Option<(u32, u32, u32)>,
    crashes: Vec<String>,
    fault: FaultReport,
    fatal: bool,
    protocol_errors: Vec<String>,
    /// A protocol line was seen (well-formed or not).
    protocol_seen: bool,
    kernel: KernelInfo,
    /// The run selects tests with a filter: a boot without tests is then
    /// no passed test of its own.
    filtered: bool,
    /// Problems found outside the console ([`Analyser::add_problem`]).
    external: Vec<String>,
}

/// Splits `line` at the protocol marker: (text before it, protocol part).
/// The marker must be followed by a space, a tab or the end of the line.
fn split_marker(line: &str) -> Option<(&str, &str)> {
    let mut from = 0;
    while let Some(i) = line[from..].find(MARKER) {
        let at = from + i;
        let after = &line[at + MARKER.len()..];
        if after.is_empty() || after.starts_with([' ', '\t']) {
            return Some((&line[..at], &line[at..]));
        }
        from = at + MARKER.len();
    }
    None
}

fn is_fault_start(line: &str) -> bool {
    match line.find("Caught ") {
        Some(i) => {
            let rest = &line[i..];
            rest.contains(" fault")
                || rest.contains("exception")
                || rest.contains("unknown syscall")
        }
        None => false,
    }
}

impl Analyser {
    /// `default_name` names the boot when it sends no `boot` line.
    pub fn new(default_name: &str) -> Analyser {
        Analyser {
            default_name: default_name.to_string(),
            boot: None,
            tests: Vec::new(),
            current: None,
            result: None,
            summary: None,
            crashes: Vec::new(),
            fault: FaultReport::default(),
            fatal: false,
            protocol_errors: Vec::new(),
            protocol_seen: false,
            kernel: KernelInfo::default(),
            filtered: false,
            external: Vec::new(),
        }
    }

    /// A problem found outside the console (e.g. the second serial port's
    /// check): the boot fails with it.
    pub fn add_problem(&mut self, problem: String) {
        self.external.push(problem);
    }

    /// What is known of the boot's kernel (see [`KernelInfo`]).
    pub fn set_kernel(&mut self, kernel: KernelInfo) {
        self.kernel = kernel;
    }

    /// The run selects tests with a filter (see [`Analyser::finish`]).
    pub fn set_filtered(&mut self, filtered: bool) {
        self.filtered = filtered;
    }

    /// The kernel reported something the system does not survive (a panic,
    /// `halting...`, a fault of the root task): the runner should stop QEMU
    /// soon (after a short grace to collect the rest of the report).
    pub fn fatal(&self) -> bool {
        self.fatal
    }

    /// The test that is running (started, not ended).
    pub fn current_test(&self) -> Option<&str> {
        self.current.as_deref()
    }

    /// The root task sent its result line.
    pub fn has_result(&self) -> bool {
        self.result.is_some()
    }

    /// The image name (from the `boot` line, else the default).
    pub fn image(&self) -> &str {
        self.boot
            .as_ref()
            .map(|b| b.0.as_str())
            .unwrap_or(&self.default_name)
    }

    /// Feeds one line of output (line ending optional); returns what to show.
    pub fn feed(&mut self, line: &str) -> Vec<Echo> {
        let line = line.trim_end_matches(['\n', '\r']);
        let mut out = Vec::new();
        match split_marker(line) {
            None => self.console_line(line, &mut out),
            Some((before, proto)) => {
                if !before.trim().is_empty() {
                    self.console_line(before, &mut out);
                }
                self.protocol_line(proto, &mut out);
            }
        }
        out
    }

    fn close_fault(&mut self) {
        if self.fault.open {
            self.fault.open = false;
            let text = self.fault.lines.join(" / ");
            self.crashes.push(text);
        }
    }

    fn console_line(&mut self, line: &str, out: &mut Vec<Echo>) {
        if is_fault_start(line) {
            self.close_fault();
            self.fault = FaultReport {
                lines: vec![line.trim().to_string()],
                open: true,
            };
            out.push(Echo::Alert(line.to_string()));
            return;
        }
        if self.fault.open {
            let t = line.trim();
            if t.starts_with("With stack") || t.is_empty() {
                self.close_fault();
                out.push(Echo::Alert(line.to_string()));
                return;
            }
            self.fault.lines.push(t.to_string());
            if t.starts_with("in thread") && t.contains("\"rootserver\"") {
                self.fatal = true;
            }
            if self.fault.lines.len() > FAULT_REPORT_LINES {
                self.close_fault();
            }
            out.push(Echo::Alert(line.to_string()));
            return;
        }
        if FATAL_MARKERS.iter().any(|m| line.contains(m)) {
            self.fatal = true;
            self.crashes.push(line.trim().to_string());
            out.push(Echo::Alert(line.to_string()));
            return;
        }
        out.push(Echo::Raw(line.to_string()));
    }

    fn protocol_error(&mut self, msg: String, out: &mut Vec<Echo>) {
        out.push(Echo::Alert(format!("sel4-run: {msg}")));
        self.protocol_errors.push(msg);
    }

    /// Ends the running test as a failure (it never sent test-end).
    fn abandon_current(&mut self, reason: String) {
        if let Some(name) = self.current.take() {
            self.tests.push(TestResult {
                name,
                outcome: Outcome::Fail,
                micros: None,
                reason,
                kind: TestKind::Unfinished,
            });
        }
    }

    fn protocol_line(&mut self, text: &str, out: &mut Vec<Echo>) {
        // A protocol line ends a kernel fault report.
        self.close_fault();
        self.protocol_seen = true;
        let line = match parse(text) {
            Some(Ok(line)) => line,
            Some(Err(e)) => {
                self.protocol_error(format!("malformed protocol line ({e}): {text}"), out);
                return;
            }
            None => unreachable!("split_marker found the marker"),
        };
        match line {
            Line::Boot {
                image,
                kernel,
                arch,
                config,
            } => {
                if self.boot.is_some() || !self.tests.is_empty() || self.current.is_some() {
                    self.protocol_error(
                        format!("second boot line (did the machine reboot?): {text}"),
                        out,
                    );
                    self.abandon_current("crashed: the machine rebooted during the test".into());
                    return;
                }
                self.boot = Some((
                    image.to_string(),
                    kernel.to_string(),
                    arch.to_string(),
                    config.to_string(),
                ));
                let mut s = format!("== boot {image}: seL4 {kernel} {arch}");
                if !config.is_empty() {
                    s.push_str(", ");
                    s.push_str(config);
                }
                out.push(Echo::Info(s));
            }
            Line::TestStart { name } => {
                if let Some(cur) = self.current.clone() {
                    self.protocol_error(
                        format!("test-start {name} while {cur} is still running"),
                        out,
                    );
                    self.abandon_current(format!("no test-end (next test {name} started)"));
                    out.push(Echo::Info(self.tests.last().unwrap().display_line()));
                }
                self.current = Some(name.to_string());
            }
            Line::TestEnd {
                name,
                outcome,
                micros,
                reason,
            } => {
                if let Some(cur) = self.current.clone() {
                    if cur != name {
                        self.protocol_error(format!("test-end {name} while {cur} is running"), out);
                        self.abandon_current(format!("no test-end (test-end of {name} came)"));
                        out.push(Echo::Info(self.tests.last().unwrap().display_line()));
                    }
                }
                // A test-end without a test-start is fine (skipped tests).
                self.current = None;
                let r = TestResult {
                    name: name.to_string(),
                    outcome,
                    micros: Some(micros),
                    reason: reason.to_string(),
                    kind: TestKind::Reported,
                };
                out.push(Echo::Info(r.display_line()));
                self.tests.push(r);
            }
            Line::Summary {
                passed,
                failed,
                skipped,
            } => {
                self.summary = Some((passed, failed, skipped));
            }
            Line::ResultPass | Line::ResultFail { .. } => {
                if self.result.is_some() {
                    self.protocol_error(format!("second result line: {text}"), out);
                    return;
                }
                let result = match line {
                    Line::ResultFail { reason } => BootResult::Fail(reason.to_string()),
                    _ => BootResult::Pass,
                };
                if let Some(cur) = self.current.clone() {
                    match &result {
                        BootResult::Fail(r) if !r.is_empty() => {
                            self.abandon_current(format!("crashed: {r}"))
                        }
                        BootResult::Fail(_) => {
                            self.abandon_current("crashed: result fail during the test".into())
                        }
                        BootResult::Pass => {
                            self.protocol_error(format!("result pass while {cur} is running"), out);
                            self.abandon_current("no test-end before result pass".into());
                        }
                    }
                    out.push(Echo::Info(self.tests.last().unwrap().display_line()));
                }
                self.result = Some(result);
            }
        }
    }

    /// Ends the analysis: `ending` says how QEMU ended.
    pub fn finish(mut self, ending: Ending) -> BootReport {
        self.close_fault();
        let shown = self.tests.len();
        let mut problems = Vec::new();

        // What stopped the boot, and the test that was running then.
        let running = self.current.clone();
        let while_running = match &running {
            Some(t) => format!(" while running test {t}"),
            None => String::new(),
        };
        match &ending {
            Ending::TimedOut(d) => {
                let mut p = format!("timeout after {}{while_running}", format_secs(*d));
                if running.is_none() && self.result.is_some() {
                    p.push_str(
                        " (QEMU did not exit after the result line: is isa-debug-exit configured?)",
                    );
                }
                problems.push(p);
            }
            Ending::Interrupted => problems.push(format!("interrupted{while_running}")),
            Ending::NotStarted(e) => problems.push(format!("could not start QEMU: {e}")),
            _ => {}
        }
        for c in &self.crashes {
            problems.push(format!("kernel: {c}"));
        }
        if let Some(name) = running {
            let reason = if let Some(c) = self.crashes.first() {
                format!("crashed: {c}")
            } else {
                match &ending {
                    Ending::TimedOut(d) => format!("hung: timeout after {}", format_secs(*d)),
                    Ending::Interrupted => "hung: interrupted".to_string(),
                    Ending::Exited(s) => {
                        format!(
                            "crashed: QEMU exited ({}) during the test",
                            describe_status(*s)
                        )
                    }
                    Ending::Signalled(sig) => {
                        format!("crashed: QEMU was killed by signal {sig} during the test")
                    }
                    Ending::KilledAfterCrash => "crashed".to_string(),
                    Ending::NotStarted(_) => "not run".to_string(),
                }
            };
            if !matches!(ending, Ending::TimedOut(_) | Ending::Interrupted) {
                problems.push(format!("test {name} did not finish"));
            }
            self.abandon_current(reason);
        }
        for e in &self.protocol_errors {
            problems.push(format!("protocol: {e}"));
        }
        problems.append(&mut self.external);
        // A kernel without a debug console prints nothing (unless the root
        // task drives a UART of its own): QEMU's exit status is all there
        // is to judge by.
        let mut notes = Vec::new();
        let silent = !self.protocol_seen && self.kernel.printing == Some(false);
        if silent {
            notes.push(
                "the kernel has no debug console (KernelPrinting off): judged by QEMU's exit \
                 status alone"
                    .to_string(),
            );
        }
        match &self.result {
            None if silent => {}
            None => match &ending {
                Ending::NotStarted(_) => {}
                Ending::Exited(s) => {
                    let mut p = format!("no result line (QEMU exited with status {s})");
                    if let Some(k) = &self.kernel.problem {
                        p.push_str(&format!(
                            "; the kernel's configuration could not be read ({k})"
                        ));
                    }
                    problems.push(p)
                }
                _ => problems.push("no result line".to_string()),
            },
            Some(BootResult::Fail(r)) if r.is_empty() => problems.push("result fail".into()),
            Some(BootResult::Fail(r)) => problems.push(format!("result fail: {r}")),
            Some(BootResult::Pass) => {}
        }
        let failed: Vec<&str> = self
            .tests
            .iter()
            .filter(|t| t.outcome == Outcome::Fail && t.kind == TestKind::Reported)
            .map(|t| t.name.as_str())
            .collect();
        if !failed.is_empty() {
            let mut p = format!("{} failed test(s): ", failed.len());
            p.push_str(&failed[..failed.len().min(5)].join(", "));
            if failed.len() > 5 {
                p.push_str(", ...");
            }
            problems.push(p);
        }
        if let Some((p, f, s)) = self.summary {
            let seen = |o: Outcome| {
                self.tests
                    .iter()
                    .filter(|t| t.kind == TestKind::Reported && t.outcome == o)
                    .count()
            };
            let (sp, sf, ss) = (
                seen(Outcome::Pass),
                seen(Outcome::Fail),
                seen(Outcome::Skip),
            );
            if (p as usize, f as usize, s as usize) != (sp, sf, ss) {
                problems.push(format!(
                    "the root task's summary ({p} passed, {f} failed, {s} skipped) does not match \
                     the test-end lines ({sp} passed, {sf} failed, {ss} skipped)"
                ));
            }
        }
        match &ending {
            Ending::Exited(s) if *s != SUCCESS_EXIT_STATUS => {
                problems.push(format!("QEMU exited with {}", describe_status(*s)))
            }
            Ending::Signalled(sig) => problems.push(format!("QEMU was killed by signal {sig}")),
            _ => {}
        }

        // The boot as a test: when it reported none, or when it failed
        // and no test carries the failure.
        let image = self.image().to_string();
        // With a filter, a boot that reported no test passed nothing: it
        // is no test of its own unless it failed (the run reports that the
        // filter matched nothing).
        let any_failed = self.tests.iter().any(|t| t.outcome == Outcome::Fail);
        let boot_entry = if self.tests.is_empty() {
            !(self.filtered && problems.is_empty())
        } else {
            !problems.is_empty() && !any_failed
        };
        if boot_entry {
            let passed = problems.is_empty();
            self.tests.push(TestResult {
                name: image.clone(),
                outcome: if passed { Outcome::Pass } else { Outcome::Fail },
                micros: None,
                reason: problems.join("; "),
                kind: TestKind::Boot,
            });
        }

        let (kernel, arch, config) = match self.boot {
            Some((_, k, a, c)) => (Some(k), Some(a), Some(c)),
            None => (None, None, None),
        };
        BootReport {
            image,
            kernel,
            arch,
            config,
            tests: self.tests,
            result: self.result,
            summary: self.summary,
            crashes: self.crashes,
            protocol_errors: self.protocol_errors,
            ending,
            problems,
            notes,
            shown,
        }
    }
}

/// `status 1 (isa-debug-exit 0: success)`, `status 3 (isa-debug-exit 1)`,
/// `status 0 (not isa-debug-exit)`.
pub fn describe_status(s: i32) -> String {
    if s == SUCCESS_EXIT_STATUS {
        "status 1 (isa-debug-exit 0: success)".to_string()
    } else if s == 3 {
        "status 3 (isa-debug-exit 1: failure)".to_string()
    } else if s > 1 && s & 1 == 1 {
        format!("status {s} (isa-debug-exit {})", s >> 1)
    } else {
        format!("status {s} (not isa-debug-exit)")
    }
}

/// Analyses a recorded log of one boot.
pub fn analyse_log(default_name: &str, log: &str, ending: Ending) -> BootReport {
    let mut a = Analyser::new(default_name);
    for line in log.lines() {
        a.feed(line);
    }
    a.finish(ending)
}
