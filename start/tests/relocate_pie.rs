//! Relocates real position-independent images at a base other than their
//! link base with the same asm routine `_start` runs on itself, and checks
//! the result word for word against an independent Rust implementation
//! (sel4-elf-reloc).
//!
//! Images: a static PIE built here with the host C compiler, and, when the
//! environment variable SEL4RS_PIE_IMAGE names one, a root server image
//! (the project's test script passes hello's PIE build).

use sel4_elf_reloc::{load_segments, relocate, Elf};
use std::path::{Path, PathBuf};
use std::process::Command;

const PAGE: usize = 4096;

/// A page-aligned buffer: the image must sit at a page-aligned address, as
/// it would when loaded.
struct Image {
    buf: Vec<u8>,
    off: usize,
    len: usize,
}

impl Image {
    fn new(len: usize) -> Image {
        let buf = vec![0u8; len + PAGE];
        let off = (PAGE - (buf.as_ptr() as usize % PAGE)) % PAGE;
        Image { buf, off, len }
    }
    fn bytes(&mut self) -> &mut [u8] {
        &mut self.buf[self.off..self.off + self.len]
    }
    fn addr(&self) -> u64 {
        self.buf.as_ptr() as u64 + self.off as u64
    }
}

fn build_c_pie(dir: &Path) -> PathBuf {
    build_c_pie_with(dir, &[])
}

/// The test PIE, with `extra` link flags (`-z pack-relative-relocs`: its
/// relative relocations in DT_RELR).
fn build_c_pie_with(dir: &Path, extra: &[&str]) -> PathBuf {
    let src = dir.join("t.c");
    std::fs::write(
        &src,
        r#"
int a = 1, b = 2, c = 3;
static int d[4] = {4, 5, 6, 7};
int *table[] = { &a, &b, &c, &d[0], &d[3], 0 };
const char *names[] = { "alpha", "beta" };
void _start(void) { for (;;) {} }
"#,
    )
    .unwrap();
    let out = dir.join(format!("t{}.elf", extra.len()));
    let st = Command::new("cc")
        .args(["-nostdlib", "-static-pie", "-fPIE", "-O1"])
        .args(extra)
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .status()
        .expect("cc (gcc) is needed to build the test PIE: install gcc");
    assert!(st.success(), "cc failed to build a static PIE");
    out
}

/// Loads `elf` at a page-aligned address that differs from its link base,
/// relocates one copy with the asm routine and one with sel4-elf-reloc, and
/// compares them. Returns how many relocations the asm applied.
fn check(elf: &[u8]) -> isize {
    let parsed = Elf::parse(elf).expect("test image is a valid ELF");
    let (lo, hi) = parsed
        .load_range()
        .expect("test image has PT_LOAD segments");
    let size = (hi - lo) as usize;
    let mut asm_img = Image::new(size);
    let mut rust_img = Image::new(size);
    let info = load_segments(elf, asm_img.bytes()).unwrap();
    load_segments(elf, rust_img.bytes()).unwrap();
    let pristine = asm_img.bytes().to_vec();
    assert_ne!(
        asm_img.addr(),
        info.link_base,
        "test needs a load base different from the link base"
    );

    let dyn_vaddr = parsed.find(2).expect("test image has PT_DYNAMIC").p_vaddr;
    let dynamic = asm_img.addr() + (dyn_vaddr - info.link_base);
    // SAFETY: the buffer holds a complete, writable memory image of `elf`
    // with its ELF header at offset 0 and its dynamic section at `dynamic`.
    let n = unsafe { sel4_start::self_relocate(asm_img.addr() as *const u8, dynamic as *const u8) };
    assert!(n >= 0, "asm relocator failed with {n}");

    let rust_base = rust_img.addr();
    let m = relocate(rust_img.bytes(), info.link_base, rust_base).expect("rust relocator");

    // Compare: same count, and the same words once the different bases are
    // accounted for.
    assert_eq!(
        n as usize, m,
        "asm and rust relocators applied different counts"
    );
    let delta_asm = asm_img.addr().wrapping_sub(info.link_base);
    let delta_rust = rust_base.wrapping_sub(info.link_base);
    let a = asm_img.bytes().to_vec();
    let r = rust_img.bytes().to_vec();
    let mut changed = 0;
    for i in (0..size).step_by(8) {
        let w = |v: &[u8]| u64::from_le_bytes(v[i..i + 8].try_into().unwrap());
        if w(&a) != w(&pristine) || w(&r) != w(&pristine) {
            changed += 1;
            assert_eq!(
                w(&a).wrapping_sub(delta_asm),
                w(&r).wrapping_sub(delta_rust),
                "word at image offset {i:#x} differs"
            );
        }
    }
    assert!(changed > 0 || n == 0);
    n
}

#[test]
fn asm_relocator_matches_rust_on_a_c_static_pie() {
    let dir = std::env::temp_dir().join(format!("sel4rs-start-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let elf = std::fs::read(build_c_pie(&dir)).unwrap();
    let n = check(&elf);
    // Five pointers in `table`, two in `names`: at least those are relocated.
    assert!(n >= 7, "expected at least 7 relocations, got {n}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn asm_relocator_matches_rust_on_a_packed_c_static_pie() {
    let dir = std::env::temp_dir().join(format!("sel4rs-start-relr-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let elf = std::fs::read(build_c_pie_with(&dir, &["-Wl,-z,pack-relative-relocs"])).unwrap();
    let parsed = Elf::parse(&elf).unwrap();
    let d = parsed.dynamic().unwrap().expect("a dynamic section");
    assert!(
        d.relr.is_some() && d.relr_size > 0,
        "the linker put no DT_RELR table in the packed test PIE"
    );
    let n = check(&elf);
    assert!(n >= 7, "expected at least 7 relocations, got {n}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A RELR table whose first entry is a bitmap has no address to start
/// at: the routine refuses it (-1) instead of writing near address 0.
#[test]
fn asm_relocator_refuses_a_relr_table_starting_with_a_bitmap() {
    let dir = std::env::temp_dir().join(format!("sel4rs-start-relr-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut elf = std::fs::read(build_c_pie_with(&dir, &["-Wl,-z,pack-relative-relocs"])).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let parsed = Elf::parse(&elf).unwrap();
    let relr = parsed.dynamic().unwrap().unwrap().relr.unwrap();
    let (lo, hi) = parsed.load_range().unwrap();
    // The file offset of the table: the PT_LOAD holding it.
    let seg = parsed
        .program_headers()
        .find(|p| p.p_type == 1 && relr >= p.p_vaddr && relr < p.p_vaddr + p.p_filesz)
        .expect("the RELR table is in a loaded segment");
    let off = (relr - seg.p_vaddr + seg.p_offset) as usize;
    elf[off..off + 8].copy_from_slice(&3u64.to_le_bytes());
    let mut img = Image::new((hi - lo) as usize);
    load_segments(&elf, img.bytes()).unwrap();
    let parsed = Elf::parse(&elf).unwrap();
    let dyn_vaddr = parsed.find(2).unwrap().p_vaddr;
    let dynamic = img.addr() + (dyn_vaddr - lo);
    // SAFETY: as in `check`: a complete, writable memory image.
    let n = unsafe { sel4_start::self_relocate(img.addr() as *const u8, dynamic as *const u8) };
    assert_eq!(n, -1);
}

#[test]
fn asm_relocator_without_dynamic_section_does_nothing() {
    let mut img = Image::new(PAGE);
    // SAFETY: with a null dynamic pointer the routine returns at once.
    let n = unsafe { sel4_start::self_relocate(img.bytes().as_ptr(), core::ptr::null()) };
    assert_eq!(n, 0);
}

#[test]
#[ignore = "needs SEL4RS_PIE_IMAGE (a root server PIE); run by scripts/test-all.sh"]
fn asm_relocator_matches_rust_on_the_root_server_image() {
    let path =
        std::env::var("SEL4RS_PIE_IMAGE").expect("set SEL4RS_PIE_IMAGE to a root server PIE image");
    let elf = std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    let n = check(&elf);
    assert!(
        n > 0,
        "a Rust root server PIE has relocations (vtables, string tables)"
    );
}
