//! The log analyser on recorded serial logs (tests/logs/*.log).

use sel4_runner::{analyse_log, Analyser, BootReport, BootResult, Echo, Ending, Outcome, TestKind};
use std::time::Duration;

fn log(name: &str) -> String {
    let p = format!("{}/tests/logs/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn analyse(name: &str, ending: Ending) -> BootReport {
    analyse_log("from-folder", &log(name), ending)
}

fn test<'a>(r: &'a BootReport, name: &str) -> &'a sel4_runner::TestResult {
    r.tests
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no test {name} in {:#?}", r.tests))
}

fn has_problem(r: &BootReport, needle: &str) -> bool {
    r.problems.iter().any(|p| p.contains(needle))
}

#[test]
fn clean_pass() {
    let r = analyse("clean-pass.log", Ending::Exited(1));
    assert!(r.passed(), "{:#?}", r.problems);
    assert_eq!(r.image, "tests-core");
    assert_eq!(r.kernel.as_deref(), Some("5.0.0"));
    assert_eq!(r.arch.as_deref(), Some("x86_64"));
    assert_eq!(r.config.as_deref(), Some("pc99 debug printing"));
    assert_eq!(r.result, Some(BootResult::Pass));
    assert_eq!(r.summary, Some((30, 0, 1)));
    let c = r.counts();
    assert_eq!((c.passed, c.failed, c.skipped), (30, 0, 1));
    assert_eq!(c.to_string(), "30 passed, 0 failed, 1 skipped");
    assert!(r.crashes.is_empty());
    assert!(r.tests.iter().all(|t| t.kind == TestKind::Reported));
    let t = test(&r, "ipc::call_reply");
    assert_eq!(t.outcome, Outcome::Pass);
    assert_eq!(t.micros, Some(18 * 137 + 18 * 18 * 11));
    assert_eq!(t.display_line(), "  PASS  ipc::call_reply  (6.030 ms)");
    let s = test(&r, "vspace::large_pages");
    assert_eq!(
        s.display_line(),
        "  SKIP  vspace::large_pages  (0.000 ms) LargePage not mapped by this config"
    );
}

#[test]
fn clean_pass_needs_the_success_exit_status() {
    let r = analyse("clean-pass.log", Ending::Exited(0));
    assert!(!r.passed());
    assert!(has_problem(
        &r,
        "QEMU exited with status 0 (not isa-debug-exit)"
    ));
    // No test failed: the boot itself is counted as the failed test.
    let b = r.tests.last().unwrap();
    assert_eq!((b.kind, b.outcome), (TestKind::Boot, Outcome::Fail));
    assert_eq!(b.name, "tests-core");
    assert_eq!(r.counts().to_string(), "30 passed, 1 failed, 1 skipped");

    let r = analyse("clean-pass.log", Ending::Exited(3));
    assert!(has_problem(&r, "status 3 (isa-debug-exit 1: failure)"));
    let r = analyse("clean-pass.log", Ending::Signalled(9));
    assert!(has_problem(&r, "killed by signal 9"));
    // QEMU hung after the result line (no isa-debug-exit device).
    let r = analyse("clean-pass.log", Ending::TimedOut(Duration::from_secs(60)));
    assert!(has_problem(
        &r,
        "timeout after 60 s (QEMU did not exit after the result line"
    ));
}

#[test]
fn failed_test() {
    let r = analyse("test-failed.log", Ending::Exited(3));
    assert!(!r.passed());
    let t = test(&r, "ipc::badge");
    assert_eq!(t.outcome, Outcome::Fail);
    assert_eq!(t.micros, Some(377));
    assert_eq!(
        t.display_line(),
        "  FAIL  ipc::badge  (0.377 ms) assertion failed: badge == 0x2a (left: 0x0, right: 0x2a)"
    );
    assert_eq!(r.result, Some(BootResult::Fail("1 test failed".into())));
    assert_eq!(r.counts().to_string(), "3 passed, 1 failed");
    assert!(has_problem(&r, "1 failed test(s): ipc::badge"));
    assert!(has_problem(&r, "result fail: 1 test failed"));
    // No boot entry: the failure is carried by the test.
    assert!(r.tests.iter().all(|t| t.kind == TestKind::Reported));
}

#[test]
fn root_server_fault() {
    // Fed line by line as the runner does: the fault is fatal.
    let text = log("cap-fault.log");
    let mut a = Analyser::new("x");
    let mut alerts = Vec::new();
    for line in text.lines() {
        for e in a.feed(line) {
            if let Echo::Alert(s) = e {
                alerts.push(s);
            }
        }
    }
    assert!(a.fatal());
    assert_eq!(a.current_test(), Some("vspace::null_deref"));
    assert_eq!(alerts.len(), 5, "{alerts:#?}"); // the report up to "With stack:"
    let r = a.finish(Ending::KilledAfterCrash);
    assert!(!r.passed());
    let expected = "Caught cap fault in send phase at address 0x0 / while trying to handle: / \
                    vm fault on data at address 0x0 with status 0x6 / \
                    in thread 0xffffff801fe08400 \"rootserver\" at address 0x401234";
    assert_eq!(r.crashes, vec![expected.to_string()]);
    let t = test(&r, "vspace::null_deref");
    assert_eq!(t.kind, TestKind::Unfinished);
    assert_eq!(t.reason, format!("crashed: {expected}"));
    assert!(t
        .display_line()
        .starts_with("  FAIL  vspace::null_deref  (unfinished) crashed: Caught cap fault"));
    assert!(has_problem(&r, &format!("kernel: {expected}")));
    assert!(has_problem(&r, "test vspace::null_deref did not finish"));
    assert!(has_problem(&r, "no result line"));
    assert_eq!(r.counts().to_string(), "1 passed, 1 failed");
}

#[test]
fn fault_of_another_thread_is_a_failure_but_not_fatal() {
    let text = "##sel4rs test-start fault::child\n\
                Caught cap fault in send phase at address 0x0\n\
                while trying to handle:\n\
                vm fault on data at address 0x10 with status 0x4\n\
                in thread 0xffffff801fe0c400 \"child\" at address 0x402000\n\
                With stack:\n\
                0x600ff0: 0x0\n\
                ##sel4rs test-end fault::child pass 900\n\
                ##sel4rs result pass\n";
    let mut a = Analyser::new("img");
    for l in text.lines() {
        a.feed(l);
    }
    assert!(!a.fatal());
    let r = a.finish(Ending::Exited(1));
    assert!(!r.passed());
    assert_eq!(r.crashes.len(), 1);
    assert!(r.crashes[0].contains("\"child\""));
    // The test passed by its own word; the boot entry carries the failure.
    let b = r.tests.last().unwrap();
    assert_eq!(
        (b.kind, b.outcome, b.name.as_str()),
        (TestKind::Boot, Outcome::Fail, "img")
    );
    assert!(b.reason.contains("kernel: Caught cap fault"));
}

#[test]
fn hang() {
    let r = analyse("hang.log", Ending::TimedOut(Duration::from_secs(30)));
    assert!(!r.passed());
    assert!(r.timed_out());
    assert_eq!(
        r.problems[0],
        "timeout after 30 s while running test notification::wait_forever"
    );
    let t = test(&r, "notification::wait_forever");
    assert_eq!((t.kind, t.outcome), (TestKind::Unfinished, Outcome::Fail));
    assert_eq!(t.reason, "hung: timeout after 30 s");
    assert_eq!(
        t.display_line(),
        "  FAIL  notification::wait_forever  (unfinished) hung: timeout after 30 s"
    );
    assert_eq!(r.counts().to_string(), "1 passed, 1 failed");
    assert_eq!(r.shown, 1); // the unfinished test comes with finish()
}

#[test]
fn hang_with_fractional_timeout() {
    let r = analyse("hang.log", Ending::TimedOut(Duration::from_millis(2500)));
    assert!(r.problems[0].starts_with("timeout after 2.5 s while running test"));
}

#[test]
fn truncated() {
    let r = analyse("truncated.log", Ending::Exited(0));
    assert!(!r.passed());
    assert_eq!(r.result, None);
    assert!(has_problem(&r, "no result line"));
    assert!(has_problem(
        &r,
        "malformed protocol line (unknown line kind): ##sel4rs res"
    ));
    assert!(has_problem(&r, "QEMU exited with status 0"));
    // Both tests passed: the boot is the failed test.
    assert_eq!(r.counts().to_string(), "2 passed, 1 failed");
    let b = r.tests.last().unwrap();
    assert_eq!((b.kind, b.name.as_str()), (TestKind::Boot, "tests-tls"));
    assert!(b.display_line().starts_with("  FAIL  tests-tls  (boot) "));
}

#[test]
fn malformed_lines() {
    let r = analyse("malformed.log", Ending::Exited(1));
    assert!(!r.passed());
    assert_eq!(r.protocol_errors.len(), 3, "{:#?}", r.protocol_errors);
    assert!(r.protocol_errors[0].starts_with(
        "malformed protocol line (unexpected text at end of line): ##sel4rs test-start misc two"
    ));
    assert!(r.protocol_errors[1].starts_with("malformed protocol line (bad outcome"));
    assert!(r.protocol_errors[2].starts_with("malformed protocol line (missing skipped)"));
    // CR LF endings are not part of anything.
    assert!(r.protocol_errors.iter().all(|e| !e.contains('\r')));
    assert_eq!(r.image, "tests-misc");
    assert_eq!(r.result, Some(BootResult::Pass));
    assert_eq!(r.counts().to_string(), "1 passed, 1 failed");
}

#[test]
fn kernel_assertion() {
    let text = log("kernel-assert.log");
    let mut a = Analyser::new("x");
    for l in text.lines() {
        a.feed(l);
    }
    assert!(a.fatal());
    let r = a.finish(Ending::KilledAfterCrash);
    assert_eq!(r.crashes.len(), 2);
    assert!(r.crashes[0].starts_with("seL4 failed assertion"));
    assert_eq!(r.crashes[1], "halting...");
    let t = test(&r, "cspace::revoke_deep");
    assert!(t.reason.starts_with("crashed: seL4 failed assertion"));
}

#[test]
fn boot_without_tests_is_one_test() {
    let r = analyse("hello-pass.log", Ending::Exited(1));
    assert!(r.passed(), "{:#?}", r.problems);
    // No boot line: named after the folder.
    assert_eq!(r.image, "from-folder");
    assert_eq!(r.tests.len(), 1);
    assert_eq!(r.tests[0].kind, TestKind::Boot);
    assert_eq!(r.tests[0].display_line(), "  PASS  from-folder  (boot)");
    assert_eq!(r.counts().to_string(), "1 passed, 0 failed");

    let r = analyse("hello-pass.log", Ending::Exited(3));
    assert_eq!(r.counts().to_string(), "0 passed, 1 failed");
}

#[test]
fn no_output_at_all() {
    let r = analyse_log("img", "", Ending::Exited(1));
    assert!(!r.passed());
    assert_eq!(
        r.problems,
        vec!["no result line (QEMU exited with status 1)".to_string()]
    );
    assert_eq!(r.counts().to_string(), "0 passed, 1 failed");
    let r = analyse_log("img", "", Ending::NotStarted("qemu: not found".into()));
    assert_eq!(
        r.problems,
        vec!["could not start QEMU: qemu: not found".to_string()]
    );
}

#[test]
fn protocol_line_after_garbage_on_the_same_line() {
    let mut a = Analyser::new("img");
    let echo = a.feed("\x1b[2Jjunk##sel4rs result pass");
    assert_eq!(echo, vec![Echo::Raw("\x1b[2Jjunk".into())]);
    assert!(a.has_result());
    let r = a.finish(Ending::Exited(1));
    assert!(r.passed());
}

#[test]
fn result_fail_during_a_test_names_the_test() {
    let text = "##sel4rs test-start mem::oom\n\
                panicked at rootserver/src/alloc.rs:88:9: out of memory\n\
                ##sel4rs result fail panicked at rootserver/src/alloc.rs:88:9: out of memory\n";
    let r = analyse_log("img", text, Ending::Exited(3));
    let t = test(&r, "mem::oom");
    assert_eq!(
        t.reason,
        "crashed: panicked at rootserver/src/alloc.rs:88:9: out of memory"
    );
    assert_eq!(r.shown, 1); // shown live, when the result line came
}

#[test]
fn summary_mismatch_and_sequencing_errors() {
    let text = "##sel4rs test-start a\n\
                ##sel4rs test-start b\n\
                ##sel4rs test-end c pass 1\n\
                ##sel4rs summary 3 0 0\n\
                ##sel4rs result pass\n\
                ##sel4rs result pass\n";
    let r = analyse_log("img", text, Ending::Exited(1));
    assert!(!r.passed());
    assert!(has_problem(&r, "test-start b while a is still running"));
    assert!(has_problem(&r, "test-end c while b is running"));
    assert!(has_problem(&r, "second result line"));
    assert!(has_problem(
        &r,
        "summary (3 passed, 0 failed, 0 skipped) does not match"
    ));
    assert_eq!(test(&r, "a").reason, "no test-end (next test b started)");
    assert_eq!(r.counts().to_string(), "1 passed, 2 failed");
}

#[test]
fn reboot_is_detected() {
    let text = "##sel4rs boot img kernel=5.0.0 arch=x86_64 config=x\n\
                ##sel4rs test-start a\n\
                ##sel4rs boot img kernel=5.0.0 arch=x86_64 config=x\n";
    let r = analyse_log("img", text, Ending::TimedOut(Duration::from_secs(5)));
    assert!(has_problem(
        &r,
        "second boot line (did the machine reboot?)"
    ));
    assert_eq!(
        test(&r, "a").reason,
        "crashed: the machine rebooted during the test"
    );
}

#[test]
fn kernel_without_debug_console_is_judged_by_the_exit_status() {
    let silent = |ending| {
        let mut a = Analyser::new("img");
        a.set_kernel(sel4_runner::KernelInfo {
            printing: Some(false),
            ..Default::default()
        });
        a.feed("SeaBIOS (version 1.16.2)");
        a.finish(ending)
    };
    let r = silent(Ending::Exited(1));
    assert!(r.passed(), "{:?}", r.problems);
    assert_eq!(r.tests.len(), 1);
    assert_eq!(r.tests[0].kind, TestKind::Boot);
    assert!(r.notes[0].contains("no debug console"), "{:?}", r.notes);
    let r = silent(Ending::Exited(3));
    assert_eq!(
        r.problems,
        ["QEMU exited with status 3 (isa-debug-exit 1: failure)"]
    );
    let r = silent(Ending::TimedOut(Duration::from_secs(5)));
    assert_eq!(r.problems, ["timeout after 5 s"]);
    // A kernel that prints, or one not known: silence is a missing result.
    for printing in [Some(true), None] {
        let mut a = Analyser::new("img");
        a.set_kernel(sel4_runner::KernelInfo {
            printing,
            ..Default::default()
        });
        let r = a.finish(Ending::Exited(1));
        assert_eq!(r.problems, ["no result line (QEMU exited with status 1)"]);
        assert!(r.notes.is_empty());
    }
    // Protocol lines of a root task that drives a UART itself are judged
    // as usual.
    let mut a = Analyser::new("img");
    a.set_kernel(sel4_runner::KernelInfo {
        printing: Some(false),
        ..Default::default()
    });
    a.feed("##sel4rs test-end a::b fail 1 broke");
    let r = a.finish(Ending::Exited(1));
    assert!(!r.passed());
    assert!(r.notes.is_empty());
}

#[test]
fn debug_halt_is_fatal() {
    // The start code stopped the root task (here: linked at address 0) and
    // the runtime halted the kernel: QEMU keeps running, so the runner
    // stops it instead of waiting for the timeout.
    let mut a = Analyser::new("my-server");
    a.feed("sel4-start: this root task is linked below 0x10000 (at address 0?), so the null page is mapped and null pointers would not fault: stopped. Link it with -C link-arg=--image-base=0x400000");
    assert!(!a.fatal());
    a.feed("Debug halt syscall from user thread 0xffffff801ffd9200 \"rootserver\"");
    assert!(a.fatal());
    let r = a.finish(Ending::KilledAfterCrash);
    assert!(!r.passed());
    assert_eq!(
        r.crashes,
        ["Debug halt syscall from user thread 0xffffff801ffd9200 \"rootserver\""]
    );
}
