use super::*;

#[test]
fn demangles_legacy_and_v0_without_the_hash() {
    assert_eq!(
        demangle("_ZN4core3fmt5write17h0123456789abcdefE"),
        "core::fmt::write"
    );
    assert_eq!(
        demangle("_ZN60_$LT$alloc..string..String$u20$as$u20$core..fmt..Display$GT$3fmt17h0123456789abcdefE"),
        "<alloc::string::String as core::fmt::Display>::fmt"
    );
    assert_eq!(
        demangle("_ZN44_$LT$$RF$T$u20$as$u20$core..fmt..Display$GT$3fmt17h0123456789abcdefE"),
        "<&T as core::fmt::Display>::fmt"
    );
    // v0 (the precompiled core's)
    assert_eq!(
        demangle("_RNvMsa_NtCsg3SjgaGcPXb_4core3fmtNtB5_9Formatter3pad"),
        "<core::fmt::Formatter>::pad"
    );
    // not mangled, or malformed: as it is
    assert_eq!(demangle("memcpy"), "memcpy");
    assert_eq!(demangle("_ZN99toolong"), "_ZN99toolong");
}

#[test]
fn crates_of_paths_and_impls() {
    assert_eq!(crate_of("core::fmt::write"), "core");
    assert_eq!(crate_of("sel4_runtime::console::write_fmt"), "sel4_runtime");
    assert_eq!(
        crate_of("<alloc::string::String as core::fmt::Display>::fmt"),
        "alloc"
    );
    // a primitive's impl: the trait's crate
    assert_eq!(crate_of("<u64 as core::fmt::Display>::fmt"), "core");
    assert_eq!(crate_of("<&u32 as sel4::Foo>::bar"), "sel4");
    assert_eq!(
        crate_of("<&mut hello::X as core::fmt::Write>::write_str"),
        "hello"
    );
    assert_eq!(
        crate_of("<sel4_runtime::Text<[u8; 4]> as core::fmt::Write>::write_str"),
        "sel4_runtime"
    );
    assert_eq!(crate_of("<[u8]>::copy_from_slice"), "core");
    assert_eq!(crate_of("_start"), "[no crate]");
}

/// The test binary itself: an ELF64 little-endian file with symbols.
#[cfg(all(
    target_os = "linux",
    target_endian = "little",
    target_pointer_width = "64"
))]
#[test]
fn reads_its_own_test_binary() {
    let data = std::fs::read("/proc/self/exe").expect("own binary");
    let elf = Elf::parse(&data).expect("parses");
    let text = elf
        .sections
        .iter()
        .find(|s| s.name == ".text")
        .expect(".text");
    assert!(text.is_alloc() && text.size > 0);
    assert!(!elf.symbols.is_empty());
    let crates = by_crate(&elf);
    assert!(crates.get("core").is_some_and(|c| c.code > 0), "{crates:?}");
    let r = report("self", &elf, 1234, 32768, 3);
    assert!(
        r.starts_with("size self stripped=1234 target=32768\n"),
        "{r}"
    );
    assert!(r.contains(".text"));
}

#[test]
fn rejects_what_is_no_elf64() {
    assert_eq!(Elf::parse(b"hello"), Err(Error::NotElf64("no ELF magic")));
    let mut h = vec![0u8; 64];
    h[..4].copy_from_slice(b"\x7fELF");
    h[4] = 1;
    assert_eq!(Elf::parse(&h), Err(Error::NotElf64("not 64-bit")));
    h[4] = 2;
    h[5] = 1;
    h[0x28] = 0xff; // section headers past the end
    h[0x3a] = 64;
    h[0x3c] = 1;
    assert_eq!(Elf::parse(&h), Err(Error::Truncated("section headers")));
}
