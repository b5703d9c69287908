//! Counting which seL4test tests a suite covers.
//!
//! A test names the seL4test tests whose behaviour it checks with
//! `#[sel4_test(sel4test = "ID")]` (in full, alone or together with the
//! other tests that name the same ID) or `sel4test_partly = "ID"` (in
//! part). An ID is covered when at least one test names it with
//! `sel4test`; an ID named only with `sel4test_partly` is covered in part.
//! On one boot, a covered ID is checked when every test that names it ran
//! and passed.

use alloc::vec::Vec;

use crate::TestDef;

/// What a boot did with the tests of one covered ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdOutcome {
    /// Every test naming the ID ran and passed.
    Passed,
    /// A test naming it failed.
    Failed,
    /// None failed, but one was skipped (it does not apply to this kernel).
    Skipped,
    /// None failed or skipped, but one was not selected on this boot.
    NotRun,
}

/// The seL4test IDs a set of tests covers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Coverage {
    /// IDs covered (sorted, each once).
    pub covered: Vec<&'static str>,
    /// IDs covered only in part (sorted, each once, none of `covered`).
    pub partly: Vec<&'static str>,
}

impl Coverage {
    /// The coverage of `tests`.
    pub fn of(tests: &[TestDef]) -> Coverage {
        let mut covered: Vec<&'static str> = tests
            .iter()
            .flat_map(|t| t.sel4test.iter().copied())
            .collect();
        covered.sort_unstable();
        covered.dedup();
        let mut partly: Vec<&'static str> = tests
            .iter()
            .flat_map(|t| t.sel4test_partly.iter().copied())
            .filter(|id| covered.binary_search(id).is_err())
            .collect();
        partly.sort_unstable();
        partly.dedup();
        Coverage { covered, partly }
    }

    /// The outcome of each covered ID on one boot, given each test's
    /// outcome (`None`: not run; in the order of `tests`).
    pub fn outcomes(
        &self,
        tests: &[TestDef],
        results: &[Option<sel4_test_protocol::Outcome>],
    ) -> Vec<(&'static str, IdOutcome)> {
        use sel4_test_protocol::Outcome;
        self.covered
            .iter()
            .map(|&id| {
                let mut worst = IdOutcome::Passed;
                for (t, r) in tests.iter().zip(results) {
                    if !t.sel4test.contains(&id) {
                        continue;
                    }
                    let o = match r {
                        Some(Outcome::Pass) => IdOutcome::Passed,
                        Some(Outcome::Fail) => IdOutcome::Failed,
                        Some(Outcome::Skip) => IdOutcome::Skipped,
                        None => IdOutcome::NotRun,
                    };
                    worst = worse(worst, o);
                }
                (id, worst)
            })
            .collect()
    }
}

fn rank(o: IdOutcome) -> u8 {
    match o {
        IdOutcome::Passed => 0,
        IdOutcome::NotRun => 1,
        IdOutcome::Skipped => 2,
        IdOutcome::Failed => 3,
    }
}

fn worse(a: IdOutcome, b: IdOutcome) -> IdOutcome {
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}
