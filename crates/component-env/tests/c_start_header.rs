//! The C view of the start contract (`c/sel4rs_start.h`, used by C
//! programs the loader starts, such as the bench's C process) says what
//! `start.rs` says: every `#define` of the header is checked against the
//! Rust constants and against a page written by `StartInfo::encode`.

use sel4_component_env::start::{self, StartInfo, ThreadInfo};

const HEADER: &str = include_str!("../c/sel4rs_start.h");

/// The header's `#define NAME VALUE` lines (numbers, C suffixes dropped).
fn defines() -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for line in HEADER.lines() {
        let mut words = line.split_whitespace();
        if words.next() != Some("#define") {
            continue;
        }
        let (Some(name), Some(value)) = (words.next(), words.next()) else {
            continue;
        };
        let value = value.trim_end_matches(['U', 'L']);
        let parsed = match value.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16),
            None => value.parse(),
        };
        let v = parsed.unwrap_or_else(|_| panic!("{name}: {value:?} is not a number"));
        out.push((name.to_string(), v));
    }
    out
}

fn define(name: &str) -> u64 {
    defines()
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("c/sel4rs_start.h has no {name}"))
        .1
}

fn word(page: &[u8], off: u64) -> u64 {
    let o = off as usize;
    u64::from_le_bytes(page[o..o + 8].try_into().unwrap())
}

#[test]
fn every_define_is_known_and_matches() {
    let expected: &[(&str, u64)] = &[
        ("SEL4RS_SI_MAGIC", start::MAGIC),
        ("SEL4RS_SI_VERSION", start::VERSION),
        ("SEL4RS_SI_OFF_MAGIC", start::OFF_MAGIC as u64),
        ("SEL4RS_SI_OFF_VERSION", start::OFF_VERSION as u64),
        ("SEL4RS_SI_OFF_REPORT_SLOT", start::OFF_REPORT_SLOT as u64),
        ("SEL4RS_SI_OFF_THREAD_COUNT", start::OFF_THREAD_COUNT as u64),
        ("SEL4RS_SI_OFF_ARGS", start::OFF_ARGS as u64),
        ("SEL4RS_SI_ARGS", start::ARGS as u64),
        ("SEL4RS_SI_OFF_THREADS", start::OFF_THREADS as u64),
        ("SEL4RS_SI_THREAD_BYTES", start::THREAD_WORDS as u64 * 8),
        ("SEL4RS_SI_THREAD_IPC_BUFFER", 16),
        ("SEL4RS_SI_THREAD_TCB_SLOT", 32),
        ("SEL4RS_EXIT_LABEL", start::EXIT_LABEL),
    ];
    let defs = defines();
    for (name, value) in &defs {
        let Some((_, want)) = expected.iter().find(|(n, _)| n == name) else {
            panic!("c/sel4rs_start.h defines {name}, which this test does not check: add it");
        };
        assert_eq!(value, want, "{name}");
    }
    assert_eq!(
        defs.len(),
        expected.len(),
        "a define is missing from the header"
    );
}

#[test]
fn offsets_read_what_encode_wrote() {
    let mut si = StartInfo::new("c").unwrap();
    si.report_slot = 0x1111;
    si.args = [0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27];
    let t = |k: u64| ThreadInfo {
        stack_bottom: 0x100 * k,
        stack_top: 0x100 * k + 1,
        ipc_buffer: 0x100 * k + 2,
        thread_pointer: 0x100 * k + 3,
        tcb_slot: 0x100 * k + 4,
        fault_slot: 0x100 * k + 5,
        entry: 0x100 * k + 6,
        arg: 0x100 * k + 7,
    };
    si.set_thread(0, t(1)).unwrap();
    si.set_thread(1, t(2)).unwrap();
    let mut page = vec![0u8; start::PAGE_SIZE];
    si.encode(&mut page).unwrap();
    assert_eq!(
        word(&page, define("SEL4RS_SI_OFF_MAGIC")),
        define("SEL4RS_SI_MAGIC")
    );
    assert_eq!(
        word(&page, define("SEL4RS_SI_OFF_VERSION")),
        define("SEL4RS_SI_VERSION")
    );
    assert_eq!(word(&page, define("SEL4RS_SI_OFF_REPORT_SLOT")), 0x1111);
    assert_eq!(word(&page, define("SEL4RS_SI_OFF_THREAD_COUNT")), 2);
    for i in 0..define("SEL4RS_SI_ARGS") {
        assert_eq!(word(&page, define("SEL4RS_SI_OFF_ARGS") + 8 * i), 0x20 + i);
    }
    for (i, k) in [(0, 1), (1, 2)] {
        let entry = define("SEL4RS_SI_OFF_THREADS") + i * define("SEL4RS_SI_THREAD_BYTES");
        let at = |off: &str| word(&page, entry + define(off));
        assert_eq!(at("SEL4RS_SI_THREAD_IPC_BUFFER"), t(k).ipc_buffer);
        assert_eq!(at("SEL4RS_SI_THREAD_TCB_SLOT"), t(k).tcb_slot);
    }
}
