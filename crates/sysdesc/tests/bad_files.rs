//! Every validation error, one bad description each: the file ends with
//! `# expect: LINE:COL: text` lines naming every error it must produce (at
//! that position, with that text in the message); no other error may appear,
//! and every error must say how to fix it.

mod common;

use std::path::Path;

use sel4_sysdesc::diag::Short;
use sel4_sysdesc::{check, Severity, Source};

fn expectations(text: &str) -> Vec<(usize, usize, String)> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# expect: "))
        .map(|e| {
            let mut parts = e.splitn(3, ':');
            let line = parts.next().unwrap().trim().parse().unwrap();
            let col = parts.next().unwrap().trim().parse().unwrap();
            (line, col, parts.next().unwrap().trim().to_string())
        })
        .collect()
}

fn run(name: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/bad")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let src = Source::new(format!("tests/bad/{name}"), text.clone());
    let out = check(&src, &common::options());
    let errors: Vec<_> = out
        .diagnostics
        .items
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    let all: Vec<String> = errors.iter().map(|d| Short(d, &src).to_string()).collect();
    let expected = expectations(&text);
    assert!(
        !expected.is_empty(),
        "{name}: no expectations; errors:\n{}",
        all.join("\n")
    );
    assert!(out.plan.is_none(), "{name}: a plan despite errors");
    let mut unmatched: Vec<&sel4_sysdesc::Diagnostic> = errors.clone();
    for (line, col, want) in &expected {
        let pos = unmatched
            .iter()
            .position(|d| d.position(&src) == (*line, *col) && d.message.contains(want.as_str()));
        match pos {
            Some(i) => {
                unmatched.remove(i);
            }
            None => panic!(
                "{name}: no error `{want}` at {line}:{col}; errors:\n{}",
                all.join("\n")
            ),
        }
    }
    assert!(
        unmatched.is_empty(),
        "{name}: unexpected errors:\n{}",
        unmatched
            .iter()
            .map(|d| Short(d, &src).to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
    for d in &errors {
        assert!(
            d.help.as_ref().is_some_and(|h| !h.is_empty()),
            "{name}: no fix for `{}`",
            d.message
        );
        let rendered = d.render(&src);
        let (l, c) = d.position(&src);
        assert!(
            rendered.contains(&format!("tests/bad/{name}:{l}:{c}")),
            "{rendered}"
        );
    }
}

macro_rules! bad {
    ($($test:ident => $file:literal,)*) => {$(
        #[test]
        fn $test() {
            run($file);
        }
    )*};
}

bad! {
    component_runtime_checks => "components.toml",
    unknown_component => "unknown-component.toml",
    missing_crate => "missing-crate.toml",
    protocol_mismatch => "protocol-mismatch.toml",
    overlapping_and_oversized_regions => "region-overlap.toml",
    resources_granted_twice => "granted-twice.toml",
    priority_inversion => "priority-inversion.toml",
    over_budget => "over-budget.toml",
    call_cycles => "cycle.toml",
    names_and_duplicates => "names.toml",
    types_and_unknown_keys => "types-and-keys.toml",
    toml_syntax => "syntax.toml",
    notifications_and_irqs => "notifications-irqs.toml",
    fault_and_mcs => "fault-mcs.toml",
}
