//! The harness's seL4test names: selecting tests by the seL4test ID they
//! cover, and counting the IDs a suite covers.

use sel4_test_harness::coverage::{Coverage, IdOutcome};
use sel4_test_harness::select::{Selection, Shard};
use sel4_test_harness::{ensure, ensure_eq, sel4_test, Ctx, TestDef, TestResult};
use sel4_test_protocol::Outcome;

fn nothing(_: &mut Ctx) -> TestResult {
    Ok(())
}

const fn def(
    name: &'static str,
    ids: &'static [&'static str],
    partly: &'static [&'static str],
) -> TestDef {
    TestDef {
        module: "sel4test::m",
        name,
        func: nothing,
        timeout_ms: 0,
        sel4test: ids,
        sel4test_partly: partly,
        file: file!(),
        line: line!(),
    }
}

#[sel4_test]
fn filter_selects_by_sel4test_id() -> TestResult {
    let s = Selection::new(Some("CNODEOP0009"), None);
    ensure!(s.selects_test("cnodeops::save_caller", &["CNODEOP0009"], 0));
    ensure!(!s.selects_test("cnodeops::mint", &["CNODEOP0003"], 1));
    ensure!(
        !s.selects("cnodeops::save_caller", 0),
        "without its IDs, a test is selected by name only"
    );
    // Case does not matter for IDs; a prefix selects a group.
    let s = Selection::new(Some("cnodeop000"), None);
    ensure!(s.selects_test("x::y", &["CNODEOP0003"], 0));
    ensure!(s.selects_test("x::z", &["SYSCALL0001", "CNODEOP0008"], 0));
    ensure!(!s.selects_test("x::w", &["SYSCALL0001"], 0));
    // Names and IDs mix in one filter; the shard still applies.
    let s = Selection::new(Some("ipc::, BIND0001"), Some(Shard { index: 1, count: 2 }));
    ensure!(s.selects_test("ipc::call", &[], 0));
    ensure!(s.selects_test("bind::x", &["BIND0001"], 2));
    ensure!(!s.selects_test("bind::x", &["BIND0001"], 1), "other shard");
    ensure!(!s.selects_test("bind::y", &["BIND0002"], 0));
    Ok(())
}

static TESTS: [TestDef; 5] = [
    def("a", &["IPC0001", "IPC0002"], &[]),
    def("b", &["IPC0002"], &["PAGEFAULT0001"]),
    def("c", &[], &["IPC0001", "TLS0002"]),
    def("d", &["FPU0003"], &[]),
    def("e", &[], &[]),
];

#[sel4_test]
fn coverage_counts_distinct_ids() -> TestResult {
    let c = Coverage::of(&TESTS);
    ensure_eq!(c.covered, ["FPU0003", "IPC0001", "IPC0002"]);
    ensure_eq!(
        c.partly,
        ["PAGEFAULT0001", "TLS0002"],
        "an ID that one test covers in full is not listed as partly covered"
    );
    ensure_eq!(Coverage::of(&TESTS[4..]), Coverage::default());
    Ok(())
}

#[sel4_test]
fn coverage_outcome_needs_every_test_of_an_id() -> TestResult {
    let c = Coverage::of(&TESTS);
    let p = Some(Outcome::Pass);
    let all_pass = [p, p, p, p, p];
    ensure_eq!(
        c.outcomes(&TESTS, &all_pass),
        [
            ("FPU0003", IdOutcome::Passed),
            ("IPC0001", IdOutcome::Passed),
            ("IPC0002", IdOutcome::Passed),
        ]
    );
    // IPC0002 has two tests: one not run leaves it not run, one failed
    // fails it; a skip (does not apply to this kernel) is reported apart.
    let o = c.outcomes(&TESTS, &[p, None, p, Some(Outcome::Skip), p]);
    ensure_eq!(o[2], ("IPC0002", IdOutcome::NotRun));
    ensure_eq!(o[0], ("FPU0003", IdOutcome::Skipped));
    let o = c.outcomes(&TESTS, &[p, Some(Outcome::Fail), None, None, None]);
    ensure_eq!(o[2], ("IPC0002", IdOutcome::Failed));
    ensure_eq!(
        o[1],
        ("IPC0001", IdOutcome::Passed),
        "c covers it only in part"
    );
    Ok(())
}
