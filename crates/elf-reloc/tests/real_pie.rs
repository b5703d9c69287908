//! Build real static PIEs with the host toolchain (gcc + GNU ld, and rustc +
//! lld for the root servers' targets x86_64-unknown-none, aarch64-unknown-none
//! and riscv64gc-unknown-none-elf), load them at a base other than their link
//! base, relocate, and check every pointer slot against the symbol addresses
//! `nm` reports.

use sel4_elf_reloc::*;
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sel4-elf-reloc-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e} (is the toolchain installed?)"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Symbol name -> address, from `nm`.
fn symbols(elf: &Path) -> HashMap<String, u64> {
    run(Command::new("nm").arg(elf))
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let addr = u64::from_str_radix(it.next()?, 16).ok()?;
            let _kind = it.next()?;
            Some((it.next()?.to_string(), addr))
        })
        .collect()
}

/// Number of relative relocations (`R_X86_64_RELATIVE`, ...) according to
/// `readelf -r`.
fn readelf_relative_count(elf: &Path, name: &str) -> usize {
    run(Command::new("readelf").arg("-rW").arg(elf))
        .lines()
        .filter(|l| l.split_whitespace().any(|w| w == name))
        .count()
}

fn rd(img: &[u8], off: u64) -> u64 {
    let o = off as usize;
    u64::from_le_bytes(img[o..o + 8].try_into().unwrap())
}

struct Checked {
    link_base: u64,
    count: usize,
}

/// Load `path`, relocate it to `load_base`, check the pointer table at symbol
/// `table` holds `expected` (link-time values) shifted by the load bias.
fn load_and_check(path: &Path, table: &str, expected: &[u64], load_base: u64) -> Checked {
    let elf = fs::read(path).unwrap();
    let syms = symbols(path);
    let e = Elf::parse(&elf).unwrap();
    // GNU ld marks a static PIE with a non-zero base ET_EXEC; it still has
    // PT_DYNAMIC and its relative relocations.
    assert!(matches!(e.header().e_type, ET_DYN | ET_EXEC));
    assert!(e.find(PT_DYNAMIC).is_some());
    let (link_base, end) = e.load_range().unwrap();

    let mut img = vec![0x5au8; (end - link_base) as usize + 4096];
    let info = load_segments(&elf, &mut img).unwrap();
    assert_eq!(info.link_base, link_base);
    img.truncate(info.size);
    let pristine = img.clone();

    let count = relocate(&mut img, link_base, load_base).unwrap();

    // Page by page from the file, as a loader of another program builds
    // it: the same bytes as the whole image relocated in place.
    assert_eq!(e.check_relocations().unwrap(), count);
    let mut page = vec![0xa5u8; 4096];
    for p in (link_base..end).step_by(4096) {
        e.fill(p, &mut page).unwrap();
        e.relocate_window(load_base, p, &mut page).unwrap();
        let off = (p - link_base) as usize;
        assert_eq!(&page[..], &img[off..off + 4096], "page {p:#x}");
    }
    // The symbol table agrees with nm.
    assert_eq!(e.symbol(table).unwrap(), Some(syms[table]));
    assert_eq!(e.symbol("no_such_symbol_here").unwrap(), None);

    // The count: every relative relocation of the machine, as the file
    // view, readelf and DT_RELACOUNT (if present) see it.
    let machine = e.machine();
    let relas: Vec<Rela> = e.relocations().unwrap().collect();
    let relative = relas
        .iter()
        .filter(|r| r.r_type() == machine.relative_type())
        .count();
    assert!(relative > 0);
    assert_eq!(count, relative);
    assert_eq!(
        count,
        readelf_relative_count(path, machine.reloc_type_name(machine.relative_type()))
    );
    let d = e.dynamic().unwrap().unwrap();
    if let Some(n) = d.rela_count {
        assert_eq!(count as u64, n, "DT_RELACOUNT");
    }

    // The pointer table.
    let bias = load_base.wrapping_sub(link_base);
    let table = syms[table] - link_base;
    for (i, &want) in expected.iter().enumerate() {
        let got = rd(&img, table + 8 * i as u64);
        assert_eq!(
            got,
            want.wrapping_add(bias),
            "slot {i}: got {got:#x}, link value {want:#x}, bias {bias:#x}"
        );
    }
    // Every relocated slot holds addend + bias; nothing else changed.
    for r in &relas {
        let off = r.r_offset - link_base;
        assert_eq!(rd(&img, off), (r.r_addend as u64).wrapping_add(bias));
    }
    let touched: Vec<u64> = relas.iter().map(|r| r.r_offset - link_base).collect();
    for (i, (a, b)) in img.iter().zip(&pristine).enumerate() {
        if a != b {
            let i = i as u64;
            assert!(
                touched.iter().any(|&t| (t..t + 8).contains(&i)),
                "byte {i:#x} changed outside a relocation slot"
            );
        }
    }
    // Relocating a fresh copy to its link base gives the link values.
    let mut same = pristine.clone();
    assert_eq!(relocate(&mut same, link_base, link_base), Ok(count));
    for (i, &want) in expected.iter().enumerate() {
        assert_eq!(rd(&same, table + 8 * i as u64), want);
    }
    Checked { link_base, count }
}

const C_SRC: &str = r#"
int a = 1;
long b[4] = { 1, 2, 3, 4 };
char c[10];
static int s;
__thread long tv = 7;
__thread int tb[5];
void f(void) {}
void *table[] = { &a, &b[2], &c[3], (void *)f, &s, &table[1] };
void *get_s(void) { return &s; }
void _start(void) { for (;;) { __asm__ volatile("" :: "r"(table)); } }
"#;

fn build_c(dir: &Path, extra: &[&str]) -> PathBuf {
    let src = dir.join("t.c");
    fs::write(&src, C_SRC).unwrap();
    let out = dir.join("t.elf");
    run(Command::new("cc")
        .args(["-nostdlib", "-static-pie", "-fPIE", "-O1", "-o"])
        .arg(&out)
        .arg(&src)
        .args(extra));
    out
}

fn c_expected(path: &Path) -> Vec<u64> {
    let s = symbols(path);
    vec![
        s["a"],
        s["b"] + 16,
        s["c"] + 3,
        s["f"],
        s["s"],
        s["table"] + 8,
    ]
}

#[test]
fn gcc_static_pie() {
    let dir = tmpdir("gcc");
    let path = build_c(&dir, &[]);
    let expected = c_expected(&path);
    let c = load_and_check(&path, "table", &expected, 0x7f00_1234_5000);
    assert_eq!(c.link_base, 0);
    assert_eq!(c.count, 6);

    // PT_TLS: tv (8 bytes, = 7) in .tdata, tb (int[5], 16-aligned) in .tbss
    let elf = fs::read(&path).unwrap();
    let t = TlsTemplate::from_image(&elf).unwrap().expect("PT_TLS");
    assert_eq!(t.filesz, 8);
    assert!(t.memsz >= 8 + 20, "{t:?}");
    assert!(t.align.is_power_of_two() && t.align >= 8);
    let mut img = vec![0u8; 0x10_0000];
    let info = load_segments(&elf, &mut img).unwrap();
    let img = &img[..info.size];
    assert_eq!(
        t.init_data(img, info.link_base).unwrap(),
        7i64.to_le_bytes()
    );
    // the loaded image carries the headers too
    assert_eq!(TlsTemplate::from_image(img).unwrap(), Some(t));
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn gcc_static_pie_at_0x400000() {
    let dir = tmpdir("gcc-base");
    let path = build_c(&dir, &["-Wl,-Ttext-segment=0x400000"]);
    let expected = c_expected(&path);
    let c = load_and_check(&path, "table", &expected, 0x1000_0000);
    assert_eq!(c.link_base, 0x40_0000);
    // below the link base: negative bias
    load_and_check(&path, "table", &expected, 0x20_0000);
    fs::remove_dir_all(dir).unwrap();
}

const RUST_SRC: &str = r#"
#![no_std]
#![no_main]

#[no_mangle]
pub static A: u32 = 1;
#[no_mangle]
pub static mut B: [u64; 4] = [1, 2, 3, 4];

#[repr(C)]
pub struct Table {
    a: &'static u32,
    b2: *const u64,
    f: extern "C" fn() -> !,
    s: &'static str,
}
unsafe impl Sync for Table {}

#[no_mangle]
pub static TABLE: Table = Table {
    a: &A,
    b2: (&raw const B).cast::<u64>().wrapping_add(2),
    f: _start,
    s: "hello",
};

#[no_mangle]
pub extern "C" fn _start() -> ! {
    loop {
        unsafe { core::ptr::read_volatile(&TABLE.b2) };
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}
"#;

fn build_rust(dir: &Path, extra: &[&str]) -> PathBuf {
    build_rust_for(dir, "x86_64-unknown-none", extra)
}

fn build_rust_for(dir: &Path, target: &str, extra: &[&str]) -> PathBuf {
    let installed = run(Command::new("rustup").args(["target", "list", "--installed"]));
    assert!(
        installed.lines().any(|l| l.trim() == target),
        "rustup target {target} is not installed: run scripts/setup.sh \
         (or rustup target add {target})"
    );
    let src = dir.join("r.rs");
    fs::write(&src, RUST_SRC).unwrap();
    let out = dir.join("r.elf");
    run(Command::new("rustc")
        .args([
            "--edition",
            "2021",
            "--target",
            target,
            "-C",
            "panic=abort",
            "-C",
            "opt-level=1",
            "--crate-type",
            "bin",
            "-o",
        ])
        .arg(&out)
        .arg(&src)
        .args(extra));
    out
}

fn rust_expected(path: &Path, elf: &[u8]) -> Vec<u64> {
    let s = symbols(path);
    // Slot 3 is the &str's pointer: take it from its RELATIVE addend, or
    // (a packed DT_RELR relocation, whose addend is the slot's link-time
    // value) from the slot in the file.
    let e = Elf::parse(elf).unwrap();
    let str_slot = s["TABLE"] + 24;
    let str_ptr = match e.relocations().unwrap().find(|r| r.r_offset == str_slot) {
        Some(r) => r.r_addend as u64,
        None => {
            assert!(
                e.packed_relocations().unwrap() > 0,
                "relocation for the &str"
            );
            let b = e.file_bytes_at(str_slot, 8).expect("the slot in the file");
            u64::from_le_bytes(b.try_into().unwrap())
        }
    };
    let hello = e.file_bytes_at(str_ptr, 5).expect("string in the file");
    assert_eq!(hello, b"hello");
    vec![s["A"], s["B"] + 16, s["_start"], str_ptr]
}

#[test]
fn rustc_x86_64_unknown_none_pie() {
    let dir = tmpdir("rustc");
    let path = build_rust(&dir, &[]);
    let elf = fs::read(&path).unwrap();
    let expected = rust_expected(&path, &elf);
    let c = load_and_check(&path, "TABLE", &expected, 0x5555_0000_0000);
    assert!(c.count >= 4);
    assert!(TlsTemplate::from_image(&elf).unwrap().is_none());
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn rustc_pie_at_0x400000() {
    // The project's root servers: static PIE with image base 0x400000.
    let dir = tmpdir("rustc-base");
    let path = build_rust(&dir, &["-C", "link-arg=--image-base=0x400000"]);
    let elf = fs::read(&path).unwrap();
    let expected = rust_expected(&path, &elf);
    let c = load_and_check(&path, "TABLE", &expected, 0x80_0000);
    assert_eq!(c.link_base, 0x40_0000);
    load_and_check(&path, "TABLE", &expected, 0x1000);
    // rust-lld gives code, read-only data and writable data pages of their
    // own: no page is writable and executable, and the entry is in code.
    let e = Elf::parse(&elf).unwrap();
    let pages: Vec<PageFlags> = e.pages().unwrap().collect();
    assert!(pages.iter().any(|p| p.executable()));
    assert!(pages.iter().any(|p| p.writable()));
    assert!(pages
        .iter()
        .all(|p| p.readable() && !(p.writable() && p.executable())));
    let entry = e.header().e_entry;
    assert!(pages
        .iter()
        .any(|p| p.executable() && (p.vaddr..p.vaddr + 4096).contains(&entry)));
    fs::remove_dir_all(dir).unwrap();
}

/// The link flags of the project's aarch64 and riscv64 root servers (their
/// targets have no PIE default: cmake/sel4-rust.cmake passes the same).
const PIE_FLAGS: [&str; 10] = [
    "-C",
    "relocation-model=pie",
    "-C",
    "link-arg=-pie",
    "-C",
    "link-arg=--no-dynamic-linker",
    "-C",
    "link-arg=-zmax-page-size=4096",
    "-C",
    "link-arg=--image-base=0x400000",
];

fn rustc_pie_other_arch(target: &str, machine: Machine, name: &str) {
    let dir = tmpdir(name);
    let path = build_rust_for(&dir, target, &PIE_FLAGS);
    let elf = fs::read(&path).unwrap();
    let e = Elf::parse(&elf).unwrap();
    assert_eq!(e.machine(), machine);
    assert_eq!(e.header().e_type, ET_DYN);
    let expected = rust_expected(&path, &elf);
    let c = load_and_check(&path, "TABLE", &expected, 0x1000_0000);
    assert_eq!(c.link_base, 0x40_0000);
    assert!(c.count >= 4);
    // below the link base: negative bias
    load_and_check(&path, "TABLE", &expected, 0x1000);
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn rustc_aarch64_unknown_none_pie() {
    rustc_pie_other_arch("aarch64-unknown-none", Machine::Aarch64, "rustc-aarch64");
}

#[test]
fn rustc_riscv64gc_unknown_none_elf_pie() {
    rustc_pie_other_arch(
        "riscv64gc-unknown-none-elf",
        Machine::Riscv,
        "rustc-riscv64",
    );
}

/// The link check on what rustc and lld make with and without the
/// project's link settings.
#[test]
fn link_check_of_real_links() {
    let dir = tmpdir("link-check");
    let check = |target: &str, flags: &[&str]| {
        let path = build_rust_for(&dir, target, flags);
        check_root_task(&fs::read(&path).unwrap())
    };
    // x86_64-unknown-none's own defaults: a static PIE linked at 0.
    assert_eq!(
        check("x86_64-unknown-none", &[]),
        Err(LinkProblem::BelowMinimumBase { base: 0 })
    );
    // The project's settings.
    let l = check("x86_64-unknown-none", &PIE_FLAGS).unwrap();
    assert_eq!((l.machine, l.base), (Machine::X86_64, 0x40_0000));
    assert!(matches!(l.kind, LinkKind::StaticPie { relocations, packed: 0 } if relocations >= 4));
    // Packed relative relocations (DT_RELR), which the start code applies
    // too: the same number, all of them packed.
    let mut packed = PIE_FLAGS.to_vec();
    packed.extend(["-C", "link-arg=-zpack-relative-relocs"]);
    let p = check("x86_64-unknown-none", &packed).unwrap();
    let LinkKind::StaticPie { relocations: n, .. } = l.kind else {
        panic!("{l:?}")
    };
    assert_eq!(
        p.kind,
        LinkKind::StaticPie {
            relocations: n,
            packed: n
        }
    );
    // The static variant (cmake/sel4-rust.cmake's LINK static).
    let l = check(
        "x86_64-unknown-none",
        &[
            "-C",
            "relocation-model=static",
            "-C",
            "link-arg=--image-base=0x400000",
        ],
    )
    .unwrap();
    assert_eq!((l.kind, l.base), (LinkKind::Fixed, 0x40_0000));
    for (target, machine) in [
        ("aarch64-unknown-none", Machine::Aarch64),
        ("riscv64gc-unknown-none-elf", Machine::Riscv),
    ] {
        let l = check(target, &PIE_FLAGS).unwrap();
        assert_eq!((l.machine, l.base), (machine, 0x40_0000));
        assert!(
            matches!(l.kind, LinkKind::StaticPie { .. }),
            "{target}: {l:?}"
        );
    }
    fs::remove_dir_all(dir).unwrap();
}
