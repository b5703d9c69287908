//! Test inputs: the object sizes of the seL4 5.0.0 x86_64 kernel the test
//! command builds (its `seL4_*Bits` constants; `sel4-system`'s kernel
//! cross-check test compares them with a real stage), and a workspace's
//! package names.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use sel4_sysdesc::model::Arch;
use sel4_sysdesc::{KernelFacts, Options, Source};

pub fn facts() -> KernelFacts {
    let consts: BTreeMap<String, i128> = [
        ("PageBits", 12),
        ("WordBits", 64),
        ("PageTableBits", 12),
        ("PageDirBits", 12),
        ("PDPTBits", 12),
        ("PML4Bits", 12),
        ("TCBBits", 11),
        ("EndpointBits", 4),
        ("NotificationBits", 5),
        ("SlotBits", 5),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    KernelFacts::from_constants("5.0.0", Arch::X86_64, false, &consts, 28).unwrap()
}

pub fn options() -> Options {
    let pkgs: BTreeSet<String> = ["kv-server", "kv-client", "logger", "worker"]
        .into_iter()
        .map(String::from)
        .collect();
    Options {
        packages: Some((pkgs, "tests/Cargo.toml".into())),
        kernel: Some(facts()),
        images: BTreeMap::new(),
        ..Options::default()
    }
}

pub fn source(path: &str, text: &str) -> Source {
    Source::new(path, text)
}
