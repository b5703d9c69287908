//! Tests on hand-built ELF images. See `tests/real_pie.rs` for binaries built
//! by the host toolchain.
extern crate std;

use super::*;
use std::string::ToString;
use std::vec;
use std::vec::Vec;

const LINK: u64 = 0x40_0000;

fn put(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

fn put_phdr(b: &mut [u8], i: usize, p: &ProgramHeader) {
    let o = 64 + i * PHDR_SIZE;
    b[o..o + 4].copy_from_slice(&p.p_type.to_le_bytes());
    b[o + 4..o + 8].copy_from_slice(&p.p_flags.to_le_bytes());
    put(b, o + 8, p.p_offset);
    put(b, o + 16, p.p_vaddr);
    put(b, o + 24, p.p_paddr);
    put(b, o + 32, p.p_filesz);
    put(b, o + 40, p.p_memsz);
    put(b, o + 48, p.p_align);
}

fn ph(p_type: u32, off: u64, vaddr: u64, filesz: u64, memsz: u64, align: u64) -> ProgramHeader {
    ProgramHeader {
        p_type,
        p_flags: 4,
        p_offset: off,
        p_vaddr: vaddr,
        p_paddr: vaddr,
        p_filesz: filesz,
        p_memsz: memsz,
        p_align: align,
    }
}

fn header(b: &mut [u8], e_type: u16, phnum: u16) {
    b[..4].copy_from_slice(b"\x7fELF");
    b[4] = ELFCLASS64;
    b[5] = ELFDATA2LSB;
    b[6] = EV_CURRENT;
    b[16..18].copy_from_slice(&e_type.to_le_bytes());
    b[18..20].copy_from_slice(&EM_X86_64.to_le_bytes());
    b[20..24].copy_from_slice(&1u32.to_le_bytes());
    put(b, 24, LINK + 0x1100); // entry
    put(b, 32, 64); // phoff
    b[52..54].copy_from_slice(&64u16.to_le_bytes());
    b[54..56].copy_from_slice(&(PHDR_SIZE as u16).to_le_bytes());
    b[56..58].copy_from_slice(&phnum.to_le_bytes());
}

const RELA_OFF: usize = 0x200;
const DYN_OFF: usize = 0x400;

/// A hand-made static PIE linked at 0x400000:
/// - LOAD 0: file 0..0x1000 at 0x400000 (headers, .rela.dyn at +0x200,
///   .dynamic at +0x400)
/// - LOAD 1: file 0x1000..0x1100 at 0x401000, memsz 0x2000 (.data, .tdata,
///   .bss)
/// - TLS: 0x401080, filesz 0x10, memsz 0x40, align 16
///
/// Relocations: three R_X86_64_RELATIVE (slots 0x401000, 0x401008, 0x401010)
/// and one R_X86_64_NONE.
fn sample(relas: &[(u64, u64, i64)], dyn_extra: &[(u64, u64)]) -> Vec<u8> {
    let mut b = vec![0u8; 0x1100];
    let phdrs = [
        ph(PT_PHDR, 64, LINK + 64, 5 * 56, 5 * 56, 8),
        ph(PT_LOAD, 0, LINK, 0x1000, 0x1000, 0x1000),
        ph(PT_LOAD, 0x1000, LINK + 0x1000, 0x100, 0x2000, 0x1000),
        ph(
            PT_DYNAMIC,
            DYN_OFF as u64,
            LINK + DYN_OFF as u64,
            0x100,
            0x100,
            8,
        ),
        ph(PT_TLS, 0x1080, LINK + 0x1080, 0x10, 0x40, 16),
    ];
    header(&mut b, ET_DYN, phdrs.len() as u16);
    for (i, p) in phdrs.iter().enumerate() {
        put_phdr(&mut b, i, p);
    }
    for (i, &(off, info, addend)) in relas.iter().enumerate() {
        let o = RELA_OFF + i * 24;
        put(&mut b, o, off);
        put(&mut b, o + 8, info);
        put(&mut b, o + 16, addend as u64);
    }
    let mut dynamic = vec![
        (DT_RELA, LINK + RELA_OFF as u64),
        (DT_RELASZ, 24 * relas.len() as u64),
        (DT_RELAENT, 24),
        (DT_RELACOUNT, 3),
    ];
    dynamic.extend_from_slice(dyn_extra);
    dynamic.push((DT_NULL, 0));
    for (i, &(t, v)) in dynamic.iter().enumerate() {
        put(&mut b, DYN_OFF + i * 16, t);
        put(&mut b, DYN_OFF + i * 16 + 8, v);
    }
    // .data: leave zeros in the slots (lld style: addends only in RELA)
    b[0x1080..0x1090].copy_from_slice(b"tls-init-bytes!!");
    b
}

fn default_relas() -> Vec<(u64, u64, i64)> {
    vec![
        (
            LINK + 0x1000,
            R_X86_64_RELATIVE as u64,
            (LINK + 0x1080) as i64,
        ),
        (LINK + 0x1008, R_X86_64_RELATIVE as u64, LINK as i64),
        (0, R_X86_64_NONE as u64, 0),
        (
            LINK + 0x1010,
            R_X86_64_RELATIVE as u64,
            (LINK + 0x2ff8) as i64,
        ),
    ]
}

fn loaded(elf: &[u8]) -> Vec<u8> {
    let mut img = vec![0xeeu8; 0x3000];
    let info = load_segments(elf, &mut img).unwrap();
    assert_eq!(info.link_base, LINK);
    img.truncate(info.size);
    img
}

#[test]
fn parses_headers() {
    let elf = sample(&default_relas(), &[]);
    let e = Elf::parse(&elf).unwrap();
    assert_eq!(e.header().e_type, ET_DYN);
    assert_eq!(e.header().e_entry, LINK + 0x1100);
    let kinds: Vec<_> = e.program_headers().map(|p| p.kind()).collect();
    assert_eq!(
        kinds,
        [
            SegmentKind::Phdr,
            SegmentKind::Load,
            SegmentKind::Load,
            SegmentKind::Dynamic,
            SegmentKind::Tls
        ]
    );
    assert_eq!(e.program_headers().len(), 5);
    assert_eq!(e.load_range(), Ok((LINK, LINK + 0x3000)));
    let d = e.dynamic().unwrap().unwrap();
    assert_eq!(d.rela, Some(LINK + 0x200));
    assert_eq!(d.rela_size, 96);
    assert_eq!(d.rela_ent, Some(24));
    assert_eq!(d.rela_count, Some(3));
    let relas: Vec<_> = e.relocations().unwrap().collect();
    assert_eq!(relas.len(), 4);
    assert_eq!(relas[0].r_type(), R_X86_64_RELATIVE);
    assert_eq!(relas[0].r_sym(), 0);
    assert_eq!(relas[2].r_type(), R_X86_64_NONE);
    assert_eq!(relas[3].r_addend, (LINK + 0x2ff8) as i64);
}

#[test]
fn tls_template() {
    let elf = sample(&default_relas(), &[]);
    let t = TlsTemplate::from_image(&elf).unwrap().unwrap();
    assert_eq!(
        t,
        TlsTemplate {
            vaddr: LINK + 0x1080,
            filesz: 0x10,
            memsz: 0x40,
            align: 16
        }
    );
    assert_eq!(t.bss_len(), 0x30);
    let img = loaded(&elf);
    // the loaded image works too: it starts with the ELF header
    assert_eq!(TlsTemplate::from_image(&img).unwrap(), Some(t));
    assert_eq!(t.init_data(&img, LINK).unwrap(), b"tls-init-bytes!!");
    assert_eq!(t.init_data(&img, LINK + 0x5000), Err(Error::BadTls));
    // No file bytes: an empty slice wherever it is (lld gives a .tbss-only
    // PT_TLS an address outside every segment).
    let e = Elf::parse(&elf).unwrap();
    assert_eq!(e.file_bytes_at(LINK + 0x7_0000, 0), Some(&[][..]));
    // A template at an address that is no multiple of its alignment: the
    // linker's offsets would be off.
    let mut odd = elf.clone();
    let vaddr_at = 64 + 4 * 56 + 16;
    odd[vaddr_at..vaddr_at + 8].copy_from_slice(&(LINK + 0x1088).to_le_bytes());
    assert_eq!(TlsTemplate::from_image(&odd), Err(Error::BadTls));
    // no PT_TLS
    let mut elf2 = elf.clone();
    elf2[64 + 4 * 56] = 0x55; // p_type of the TLS header -> unknown
    assert_eq!(TlsTemplate::from_image(&elf2), Ok(None));
    // filesz > memsz, bad alignment
    let mut bad = elf.clone();
    put(&mut bad, 64 + 4 * 56 + 32, 0x50);
    assert_eq!(TlsTemplate::from_image(&bad), Err(Error::BadTls));
    let mut bad = elf.clone();
    put(&mut bad, 64 + 4 * 56 + 48, 24);
    assert_eq!(TlsTemplate::from_image(&bad), Err(Error::BadTls));
    // align 0 means 1
    let mut a0 = elf;
    put(&mut a0, 64 + 4 * 56 + 48, 0);
    assert_eq!(TlsTemplate::from_image(&a0).unwrap().unwrap().align, 1);
}

#[test]
fn loads_segments() {
    let elf = sample(&default_relas(), &[]);
    let mut dst = vec![0xeeu8; 0x4000];
    let info = load_segments(&elf, &mut dst).unwrap();
    assert_eq!(
        info,
        LoadInfo {
            link_base: LINK,
            size: 0x3000,
            entry: LINK + 0x1100
        }
    );
    assert_eq!(&dst[..0x1000], &elf[..0x1000]);
    assert_eq!(&dst[0x1000..0x1100], &elf[0x1000..0x1100]);
    assert!(dst[0x1100..0x3000].iter().all(|&b| b == 0), "bss zeroed");
    assert!(
        dst[0x3000..].iter().all(|&b| b == 0xee),
        "past the image untouched"
    );
    let mut small = vec![0u8; 0x2fff];
    assert_eq!(
        load_segments(&elf, &mut small),
        Err(Error::DstTooSmall {
            needed: 0x3000,
            actual: 0x2fff
        })
    );
}

#[test]
fn relocates_at_other_base() {
    let elf = sample(&default_relas(), &[]);
    let mut img = loaded(&elf);
    let before = img.clone();
    let load = 0x7f12_3456_7000u64;
    let n = relocate(&mut img, LINK, load).unwrap();
    assert_eq!(n, 3);
    let bias = load - LINK;
    let rd = |img: &[u8], o: usize| u64::from_le_bytes(img[o..o + 8].try_into().unwrap());
    assert_eq!(rd(&img, 0x1000), LINK + 0x1080 + bias);
    assert_eq!(rd(&img, 0x1008), LINK + bias);
    assert_eq!(rd(&img, 0x1010), LINK + 0x2ff8 + bias);
    // nothing else changed
    let changed: Vec<_> = (0..img.len()).filter(|&i| img[i] != before[i]).collect();
    assert!(changed.iter().all(|&i| (0x1000..0x1018).contains(&i)));

    // loaded at its link address: slots get their link values
    let mut img = loaded(&elf);
    assert_eq!(relocate(&mut img, LINK, LINK), Ok(3));
    assert_eq!(rd(&img, 0x1008), LINK);

    // loaded below the link address (negative bias)
    let mut img = loaded(&elf);
    assert_eq!(relocate(&mut img, LINK, 0x1000), Ok(3));
    assert_eq!(rd(&img, 0x1000), 0x1000 + 0x1080);
}

#[test]
fn rejects_other_relocation_types() {
    let mut relas = default_relas();
    relas.push((LINK + 0x1018, (5u64 << 32) | 1, 0)); // R_X86_64_64 against sym 5
    let elf = sample(&relas, &[]);
    let mut img = loaded(&elf);
    let before = img.clone();
    let err = relocate(&mut img, LINK, 0x1000_0000).unwrap_err();
    assert_eq!(
        err,
        Error::UnsupportedRelocation {
            machine: Machine::X86_64,
            r_type: 1,
            offset: LINK + 0x1018
        }
    );
    assert!(err.to_string().contains("R_X86_64_64"), "{err}");
    assert_eq!(img, before, "no partial relocation");
    // the same through the file view
    let e = Elf::parse(&elf).unwrap();
    assert_eq!(e.relocations().unwrap().last().unwrap().r_type(), 1);

    let elf = sample(&[(LINK + 0x1000, 7, 0)], &[]);
    let err = relocate(&mut loaded(&elf), LINK, 0).unwrap_err();
    assert!(err.to_string().contains("R_X86_64_JUMP_SLOT"), "{err}");
}

#[test]
fn rejects_bad_tables() {
    // slot outside the image
    let elf = sample(&[(LINK + 0x2ffc, 8, 0)], &[]);
    assert_eq!(
        relocate(&mut loaded(&elf), LINK, 0),
        Err(Error::RelocationOutOfImage {
            offset: LINK + 0x2ffc
        })
    );
    let elf = sample(&[(3, 8, 0)], &[]);
    assert_eq!(
        relocate(&mut loaded(&elf), LINK, 0),
        Err(Error::RelocationOutOfImage { offset: 3 })
    );
    // DT_RELAENT, DT_RELASZ
    let elf = sample(&default_relas(), &[(DT_RELAENT, 16)]);
    assert_eq!(
        relocate(&mut loaded(&elf), LINK, 0),
        Err(Error::BadRelaEnt(16))
    );
    let elf = sample(&default_relas(), &[(DT_RELASZ, 25)]);
    assert_eq!(
        relocate(&mut loaded(&elf), LINK, 0),
        Err(Error::BadRelaSize(25))
    );
    // table outside the image
    let elf = sample(&default_relas(), &[(DT_RELASZ, 0x10_0008)]);
    assert!(matches!(
        relocate(&mut loaded(&elf), LINK, 0),
        Err(Error::RelocTableOutOfRange { .. })
    ));
    let elf = sample(&default_relas(), &[(DT_RELA, u64::MAX - 4)]);
    assert!(matches!(
        relocate(&mut loaded(&elf), LINK, 0),
        Err(Error::RelocTableOutOfRange { .. })
    ));
    // DT_REL is not for x86_64
    let elf = sample(&default_relas(), &[(DT_REL, LINK), (DT_RELSZ, 16)]);
    assert_eq!(
        relocate(&mut loaded(&elf), LINK, 0),
        Err(Error::UnsupportedDynamic { tag: DT_REL })
    );
    // wrong link base, no ELF header
    let elf = sample(&default_relas(), &[]);
    assert_eq!(
        relocate(&mut loaded(&elf), LINK + 0x1000, 0),
        Err(Error::LinkBaseMismatch {
            expected: LINK,
            given: LINK + 0x1000
        })
    );
    let mut img = loaded(&elf);
    img[0] = 0;
    assert_eq!(relocate(&mut img, LINK, 0), Err(Error::NoElfHeaderInImage));
    assert_eq!(relocate(&mut [], LINK, 0), Err(Error::NoElfHeaderInImage));
    assert_eq!(
        relocate(&mut img[..10], LINK, 0),
        Err(Error::NoElfHeaderInImage)
    );
}

#[test]
fn no_dynamic_means_nothing_to_do() {
    let mut elf = sample(&default_relas(), &[]);
    elf[64 + 3 * 56] = 0x55; // PT_DYNAMIC -> unknown type
    let mut img = loaded(&elf);
    assert_eq!(relocate(&mut img, LINK, 0x1234_0000), Ok(0));
    // dynamic without DT_RELA
    let elf = sample(&[], &[]);
    let mut img = loaded(&elf);
    assert_eq!(relocate(&mut img, LINK, 0x1234_0000), Ok(0));
}

#[test]
fn relr() {
    // link values in the slots, DT_RELR table at 0x400300:
    // address 0x401020, then bitmap with bits for +0 and +16 after it
    // (slots 0x401028 and 0x401038), then an address 0x401040.
    let table: [u64; 3] = [LINK + 0x1020, (1 << 1) | (1 << 3) | 1, LINK + 0x1040];
    let mut elf = sample(
        &[],
        &[(DT_RELR, LINK + 0x300), (DT_RELRSZ, 24), (DT_RELRENT, 8)],
    );
    for (i, v) in table.iter().enumerate() {
        put(&mut elf, 0x300 + 8 * i, *v);
    }
    for (slot, v) in [
        (0x1020, LINK + 0x10),
        (0x1028, LINK + 0x20),
        (0x1030, 77),
        (0x1038, LINK + 0x30),
        (0x1040, LINK + 0x40),
    ] {
        put(&mut elf, slot, v);
    }
    let mut img = loaded(&elf);
    assert_eq!(relocate(&mut img, LINK, 0x1000_0000), Ok(4));
    let rd = |o: usize| u64::from_le_bytes(img[o..o + 8].try_into().unwrap());
    let bias = 0x1000_0000 - LINK;
    assert_eq!(rd(0x1020), LINK + 0x10 + bias);
    assert_eq!(rd(0x1028), LINK + 0x20 + bias);
    assert_eq!(rd(0x1030), 77);
    assert_eq!(rd(0x1038), LINK + 0x30 + bias);
    assert_eq!(rd(0x1040), LINK + 0x40 + bias);

    // bitmap first
    let mut elf = sample(&[], &[(DT_RELR, LINK + 0x300), (DT_RELRSZ, 8)]);
    put(&mut elf, 0x300, 3);
    assert_eq!(relocate(&mut loaded(&elf), LINK, 0), Err(Error::BadRelr));
    let elf = sample(&[], &[(DT_RELR, LINK + 0x300), (DT_RELRSZ, 12)]);
    assert_eq!(
        relocate(&mut loaded(&elf), LINK, 0),
        Err(Error::BadRelrSize(12))
    );
}

#[test]
fn rejects_bad_headers() {
    let good = sample(&default_relas(), &[]);
    let mut dst = vec![0u8; 0x4000];
    let check = |f: &dyn Fn(&mut Vec<u8>), want: Error| {
        let mut b = good.clone();
        f(&mut b);
        assert_eq!(Elf::parse(&b).err(), Some(want));
    };
    check(&|b| b[0] = b'X', Error::BadMagic);
    check(&|b| b[4] = 1, Error::NotElf64);
    check(&|b| b[5] = 2, Error::NotLittleEndian);
    check(&|b| b[6] = 0, Error::BadVersion(0));
    check(&|b| b[18] = 3, Error::WrongMachine(3));
    check(&|b| b[16] = 1, Error::BadType(1));
    check(&|b| b[54] = 32, Error::BadPhEntSize(32));
    check(
        &|b| put(b, 32, 0x1100 - 100),
        Error::TooShort {
            needed: 0x1100 - 100 + 5 * 56,
            actual: 0x1100,
        },
    );
    check(
        &|b| put(b, 32, u64::MAX - 10),
        Error::TooShort {
            needed: u64::MAX,
            actual: 0x1100,
        },
    );
    check(
        &|b| b.truncate(63),
        Error::TooShort {
            needed: 64,
            actual: 63,
        },
    );
    assert_eq!(
        Elf::parse(&[]).err(),
        Some(Error::TooShort {
            needed: 64,
            actual: 0
        })
    );

    // segment-level problems surface in load_segments
    let mut b = good.clone();
    put(&mut b, 64 + 2 * 56 + 32, 0x3000); // LOAD 1 filesz > memsz
    assert_eq!(
        load_segments(&b, &mut dst),
        Err(Error::FileSizeExceedsMemSize { index: 2 })
    );
    let mut b = good.clone();
    put(&mut b, 64 + 2 * 56 + 8, 0x1080); // LOAD 1 p_offset: past the file end
    assert_eq!(
        load_segments(&b, &mut dst),
        Err(Error::SegmentOutOfFile { index: 2 })
    );
    let mut b = good.clone();
    put(&mut b, 64 + 2 * 56 + 16, u64::MAX - 0x100); // LOAD 1 vaddr overflow
    assert_eq!(
        load_segments(&b, &mut dst),
        Err(Error::AddressOverflow { index: 2 })
    );
    let mut b = good.clone();
    b[64 + 56] = 0x55;
    b[64 + 2 * 56] = 0x55; // no PT_LOAD left
    assert_eq!(load_segments(&b, &mut dst), Err(Error::NoLoadSegments));
}

/// Random corruption never panics (parse, load, relocate, TLS).
#[test]
fn never_panics() {
    let mut relr_elf = sample(
        &default_relas(),
        &[(DT_RELR, LINK + 0x380), (DT_RELRSZ, 16), (DT_RELRENT, 8)],
    );
    put(&mut relr_elf, 0x380, LINK + 0x1020);
    put(&mut relr_elf, 0x388, u64::MAX);
    let bases = [sample(&default_relas(), &[]), relr_elf];
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut dst = vec![0u8; 0x4000];
    for round in 0..4000 {
        let mut b = bases[round % 2].clone();
        for _ in 0..(rand() % 6 + 1) {
            // mostly hit the headers and the tables
            let lim = if rand() % 4 == 0 { b.len() } else { 0x500 };
            let i = (rand() % lim as u64) as usize;
            if rand() % 3 == 0 && i + 8 <= b.len() {
                put(&mut b, i & !7, rand() >> (rand() % 64));
            } else {
                b[i] = rand() as u8;
            }
        }
        if rand() % 8 == 0 {
            let n = (rand() % b.len() as u64) as usize;
            b.truncate(n);
        }
        if let Ok(e) = Elf::parse(&b) {
            let _ = e.program_headers().count();
            let _ = e.load_range();
            let _ = e.tls();
            if let Ok(r) = e.relocations() {
                let _ = r.count();
            }
        }
        let _ = TlsTemplate::from_image(&b);
        if let Ok(info) = load_segments(&b, &mut dst) {
            let img = &mut dst[..info.size];
            let _ = relocate(img, info.link_base, rand());
            let _ = relocate(img, rand(), rand());
        }
        let _ = relocate(&mut b, LINK, rand());
    }
}

#[test]
fn names() {
    assert_eq!(reloc_type_name(8), "R_X86_64_RELATIVE");
    assert_eq!(reloc_type_name(37), "R_X86_64_IRELATIVE");
    assert_eq!(reloc_type_name(999), "unknown");
}

/// The sample image for another machine: `e_machine` and the relocation
/// types of the RELA table rewritten.
fn sample_for(machine: Machine, types: [u32; 4]) -> Vec<u8> {
    let relas: Vec<_> = default_relas()
        .into_iter()
        .zip(types)
        .map(|((off, _, addend), t)| (off, u64::from(t), addend))
        .collect();
    let mut elf = sample(&relas, &[]);
    elf[18..20].copy_from_slice(&machine.e_machine().to_le_bytes());
    elf
}

#[test]
fn relocates_aarch64_and_riscv64_images() {
    for machine in [Machine::Aarch64, Machine::Riscv] {
        let (rel, none) = (machine.relative_type(), machine.none_type());
        let elf = sample_for(machine, [rel, rel, none, rel]);
        assert_eq!(Elf::parse(&elf).unwrap().machine(), machine);
        let mut img = loaded(&elf);
        let load = 0x1000_0000u64;
        assert_eq!(relocate(&mut img, LINK, load), Ok(3), "{machine:?}");
        let rd = |o: usize| u64::from_le_bytes(img[o..o + 8].try_into().unwrap());
        assert_eq!(rd(0x1000), load + 0x1080);
        assert_eq!(rd(0x1008), load);
        assert_eq!(rd(0x1010), load + 0x2ff8);

        // The x86_64 relative type means something else on these machines.
        let elf = sample_for(machine, [R_X86_64_RELATIVE, rel, none, rel]);
        let mut img = loaded(&elf);
        let before = img.clone();
        let err = relocate(&mut img, LINK, load).unwrap_err();
        assert_eq!(
            err,
            Error::UnsupportedRelocation {
                machine,
                r_type: R_X86_64_RELATIVE,
                offset: LINK + 0x1000
            }
        );
        assert_eq!(img, before, "no partial relocation");
    }
    // And the other way round, with the names in the message.
    let elf = sample_for(Machine::X86_64, [R_AARCH64_RELATIVE, 8, 0, 8]);
    let err = relocate(&mut loaded(&elf), LINK, 0).unwrap_err();
    assert!(err.to_string().contains("1027 (unknown)"), "{err}");
    let elf = sample_for(Machine::Aarch64, [R_AARCH64_RELATIVE, 257, 0, 1027]);
    let err = relocate(&mut loaded(&elf), LINK, 0).unwrap_err();
    assert!(err.to_string().contains("R_AARCH64_ABS64"), "{err}");
    let elf = sample_for(Machine::Riscv, [2, 3, 0, 3]);
    let err = relocate(&mut loaded(&elf), LINK, 0).unwrap_err();
    assert!(err.to_string().contains("R_RISCV_64"), "{err}");
}

#[test]
fn machines() {
    for m in [Machine::X86_64, Machine::Aarch64, Machine::Riscv] {
        assert_eq!(Machine::from_e_machine(m.e_machine()), Some(m));
        assert_eq!(
            m.reloc_type_name(m.relative_type()),
            match m {
                Machine::X86_64 => "R_X86_64_RELATIVE",
                Machine::Aarch64 => "R_AARCH64_RELATIVE",
                Machine::Riscv => "R_RISCV_RELATIVE",
            }
        );
    }
    assert_eq!(Machine::from_e_machine(40), None); // EM_ARM (32-bit)
    assert!(Error::WrongMachine(40)
        .to_string()
        .contains("EM_AARCH64 (183)"));
}

// ------------------------------------------- loading page by page (load.rs)

/// Sets program header `i`'s flags in a built file.
fn set_flags(b: &mut [u8], i: usize, flags: u32) {
    let o = 64 + i * PHDR_SIZE + 4;
    b[o..o + 4].copy_from_slice(&flags.to_le_bytes());
}

#[test]
fn pages_carry_the_union_of_their_segments_flags() {
    let mut elf = sample(&default_relas(), &[]);
    set_flags(&mut elf, 1, PF_R | PF_X);
    set_flags(&mut elf, 2, PF_R | PF_W);
    let e = Elf::parse(&elf).unwrap();
    let pages: Vec<PageFlags> = e.pages().unwrap().collect();
    assert_eq!(
        pages,
        [
            PageFlags {
                vaddr: LINK,
                flags: PF_R | PF_X,
                file: true,
            },
            PageFlags {
                vaddr: LINK + 0x1000,
                flags: PF_R | PF_W,
                file: true,
            },
            // .bss only (the file bytes end at 0x401100).
            PageFlags {
                vaddr: LINK + 0x2000,
                flags: PF_R | PF_W,
                file: false,
            },
        ]
    );
    assert!(pages[0].executable() && !pages[0].writable());
    // Data starting inside the code's last page makes that page W+X.
    let mut elf = sample(&default_relas(), &[]);
    set_flags(&mut elf, 1, PF_R | PF_X);
    let mut data = ph(PT_LOAD, 0x1000, LINK + 0xf00, 0x100, 0x2000, 0x1000);
    data.p_flags = PF_R | PF_W;
    put_phdr(&mut elf, 2, &data);
    let e = Elf::parse(&elf).unwrap();
    assert_eq!(
        e.pages().err(),
        Some(Error::WritableAndExecutable { vaddr: LINK })
    );
    // One segment asking for both.
    let mut elf = sample(&default_relas(), &[]);
    set_flags(&mut elf, 2, PF_R | PF_W | PF_X);
    let e = Elf::parse(&elf).unwrap();
    assert_eq!(
        e.pages().err(),
        Some(Error::WritableAndExecutable {
            vaddr: LINK + 0x1000
        })
    );
}

/// Builds the image window by window from the file and compares it with
/// the whole image relocated in place.
fn windows_match(elf: &[u8], load_base: u64, window: usize) {
    let mut whole = loaded(elf);
    relocate(&mut whole, LINK, load_base).unwrap();
    let e = Elf::parse(elf).unwrap();
    e.check_relocations().unwrap();
    let mut at = 0;
    while at < whole.len() {
        let len = window.min(whole.len() - at);
        let mut buf = vec![0x77u8; len];
        e.fill(LINK + at as u64, &mut buf).unwrap();
        e.relocate_window(load_base, LINK + at as u64, &mut buf)
            .unwrap();
        assert_eq!(&buf[..], &whole[at..at + len], "window at {at:#x}+{len}");
        at += len;
    }
}

#[test]
fn windows_relocated_from_the_file_match_the_whole_image() {
    let elf = sample(&default_relas(), &[]);
    for base in [LINK, 0x1000_0000, 0x7f00_0000_0000, 0x1000] {
        windows_match(&elf, base, 4096);
        // Windows that cut relocation slots in two.
        windows_match(&elf, base, 12);
        windows_match(&elf, base, 5);
    }
    // RELR too (slot values come from the file).
    let table: [u64; 2] = [LINK + 0x1020, (1 << 1) | (1 << 3) | 1];
    let mut elf = sample(
        &[],
        &[(DT_RELR, LINK + 0x300), (DT_RELRSZ, 16), (DT_RELRENT, 8)],
    );
    for (i, v) in table.iter().enumerate() {
        put(&mut elf, 0x300 + 8 * i, *v);
    }
    for (slot, v) in [(0x1020, LINK + 0x10), (0x1028, LINK + 0x20), (0x1038, 5)] {
        put(&mut elf, slot, v);
    }
    windows_match(&elf, 0x2000_0000, 4096);
    windows_match(&elf, 0x2000_0000, 3);
}

#[test]
fn relocation_slots_must_lie_in_a_segment() {
    let mut relas = default_relas();
    relas.push((LINK + 0x5000, R_X86_64_RELATIVE as u64, 0));
    let elf = sample(&relas, &[]);
    let e = Elf::parse(&elf).unwrap();
    assert_eq!(
        e.check_relocations(),
        Err(Error::RelocationOutOfImage {
            offset: LINK + 0x5000
        })
    );
    let mut relas = default_relas();
    relas.push((LINK + 0x1008, 1, 0)); // R_X86_64_64
    let elf = sample(&relas, &[]);
    let e = Elf::parse(&elf).unwrap();
    assert!(matches!(
        e.check_relocations(),
        Err(Error::UnsupportedRelocation { r_type: 1, .. })
    ));
    let good = sample(&default_relas(), &[]);
    assert_eq!(Elf::parse(&good).unwrap().check_relocations(), Ok(3));
}

#[test]
fn tls_layout_uses_the_linkers_offsets() {
    // align 16, memsz 0x40: the block is the 0x40 bytes below tp.
    let t = TlsTemplate {
        vaddr: LINK + 0x1080,
        filesz: 0x10,
        memsz: 0x40,
        align: 16,
    };
    let area = 0x7000_0000u64;
    let l = t.layout(area, 0x1000).unwrap();
    assert_eq!(l.tp % 16, 0);
    assert_eq!(l.tp - l.block, 0x40);
    assert!(l.tp + TLS_TCB_SIZE <= area + 0x1000);
    let mut buf = vec![0xeeu8; 0x1000];
    let init = b"tls-init-bytes!!";
    l.write(init, &mut buf).unwrap();
    let b = (l.block - area) as usize;
    let tp = (l.tp - area) as usize;
    assert_eq!(&buf[b..b + 16], init);
    assert!(buf[b + 16..tp].iter().all(|&x| x == 0));
    assert_eq!(&buf[tp..tp + 8], &l.tp.to_le_bytes());
    assert!(buf[tp + 8..tp + 64].iter().all(|&x| x == 0));
    // Bytes below the block are not touched.
    assert!(buf[..b].iter().all(|&x| x == 0xee));
    // align 8, memsz 40: x86_64 linkers place variables at offset - 40
    // (memsz rounded to the segment's alignment, not to 16).
    let t8 = TlsTemplate {
        vaddr: 0,
        filesz: 0,
        memsz: 40,
        align: 8,
    };
    let l = t8.layout(area, 0x100).unwrap();
    assert_eq!(l.tp - l.block, 40);
    assert_eq!(l.tp % 16, 0);
    // Every alignment, the area just large enough.
    for align in [1u64, 2, 8, 16, 64, 4096] {
        let t = TlsTemplate {
            vaddr: 0,
            filesz: 3,
            memsz: 100,
            align,
        };
        for start in [area, area + 8, area + 0xff8] {
            let l = t.layout(start, t.area_size()).unwrap();
            assert!(l.block >= start && l.tp % align == 0);
            let mut buf = vec![0u8; t.area_size() as usize];
            l.write(&[1, 2, 3], &mut buf).unwrap();
        }
    }
    assert!(matches!(
        t.layout(area, 0x40),
        Err(Error::TlsAreaTooSmall { .. })
    ));
    // Initialisation bytes longer than the block are refused, not written
    // over the thread pointer.
    let l = t.layout(area, 0x1000).unwrap();
    let mut buf = vec![0u8; 0x1000];
    assert_eq!(l.write(&[7u8; 0x48], &mut buf), Err(Error::BadTls));
}

/// Appends a section header table with a symbol table to a built file.
fn with_symbols(mut b: Vec<u8>, syms: &[(&str, u64, u16)]) -> Vec<u8> {
    let mut strtab = vec![0u8];
    let mut symtab = vec![0u8; 24]; // the null symbol
    for &(name, value, shndx) in syms {
        let off = strtab.len() as u32;
        strtab.extend_from_slice(name.as_bytes());
        strtab.push(0);
        let mut s = [0u8; 24];
        s[0..4].copy_from_slice(&off.to_le_bytes());
        s[6..8].copy_from_slice(&shndx.to_le_bytes());
        s[8..16].copy_from_slice(&value.to_le_bytes());
        symtab.extend_from_slice(&s);
    }
    let sym_off = b.len() as u64;
    b.extend_from_slice(&symtab);
    let str_off = b.len() as u64;
    b.extend_from_slice(&strtab);
    let shoff = b.len() as u64;
    // null section, .symtab (link 2), .strtab
    let mut sh = vec![0u8; 64 * 3];
    let mut section = |i: usize, ty: u32, off: u64, size: u64, link: u32| {
        let o = i * 64;
        sh[o + 4..o + 8].copy_from_slice(&ty.to_le_bytes());
        sh[o + 24..o + 32].copy_from_slice(&off.to_le_bytes());
        sh[o + 32..o + 40].copy_from_slice(&size.to_le_bytes());
        sh[o + 40..o + 44].copy_from_slice(&link.to_le_bytes());
    };
    section(1, 2, sym_off, symtab.len() as u64, 2);
    section(2, 3, str_off, strtab.len() as u64, 0);
    b.extend_from_slice(&sh);
    put(&mut b, 40, shoff);
    b[58..60].copy_from_slice(&64u16.to_le_bytes());
    b[60..62].copy_from_slice(&3u16.to_le_bytes());
    b
}

#[test]
fn symbols_are_found_by_name() {
    let elf = with_symbols(
        sample(&default_relas(), &[]),
        &[
            ("main", LINK + 0x100, 1),
            ("undefined", 0, 0),
            ("worker", LINK + 0x180, 1),
        ],
    );
    let e = Elf::parse(&elf).unwrap();
    assert_eq!(e.symbol("main"), Ok(Some(LINK + 0x100)));
    assert_eq!(e.symbol("worker"), Ok(Some(LINK + 0x180)));
    assert_eq!(e.symbol("undefined"), Ok(None));
    assert_eq!(e.symbol("mai"), Ok(None));
    // No section headers: no symbols, not an error.
    let plain = sample(&default_relas(), &[]);
    assert_eq!(Elf::parse(&plain).unwrap().symbol("main"), Ok(None));
    // A section table past the end of the file is an error.
    let mut bad = elf.clone();
    put(&mut bad, 40, elf.len() as u64 + 10);
    assert_eq!(
        Elf::parse(&bad).unwrap().symbol("main"),
        Err(Error::BadSectionHeaders)
    );
}

#[test]
fn loader_functions_never_panic() {
    // Random corruption of a file with symbols and relocations: every
    // loader function returns, whatever the bytes.
    let base = with_symbols(sample(&default_relas(), &[]), &[("main", LINK, 1)]);
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..3000 {
        let mut b = base.clone();
        for _ in 0..(next() % 6 + 1) {
            let i = (next() as usize) % b.len();
            b[i] = next() as u8;
        }
        if let Ok(e) = Elf::parse(&b) {
            // A corrupt size can make a segment span 2^50 pages: look at
            // the first ones only (each step is bounded).
            let _ = e.pages().map(|p| p.take(64).count());
            let mut w = vec![0u8; 4096];
            let _ = e.fill(LINK, &mut w);
            let _ = e.check_relocations();
            let _ = e.relocate_window(0x1234_5000, LINK + 0x1000, &mut w);
            let _ = e.symbol("main");
            if let Ok(Some(t)) = e.tls() {
                if let Ok(l) = t.layout(0x1000_0000, 0x2000) {
                    let mut area = vec![0u8; 0x2000];
                    let init = vec![0u8; (t.filesz as usize).min(0x100)];
                    let _ = l.write(&init, &mut area);
                }
            }
        }
    }
}

fn tls_t(filesz: u64, memsz: u64, align: u64) -> TlsTemplate {
    TlsTemplate {
        vaddr: 0,
        filesz,
        memsz,
        align,
    }
}

#[test]
fn aarch64_block_follows_a_16_byte_tcb() {
    // lld: a local-exec access to TLS offset o reads tp + align_up(16,
    // align) + o.
    for align in [16u64, 32, 64] {
        let t = tls_t(4, 40, align);
        let area = 0x9000_0008u64;
        let len = t.area_size_for(TlsVariant::Aarch64);
        let l = t.layout_for(TlsVariant::Aarch64, area, len).unwrap();
        assert_eq!(l.tp % align, 0);
        assert_eq!(l.block, l.tp + 16u64.next_multiple_of(align));
        let mut buf = vec![0xaau8; len as usize];
        l.write(&[1, 2, 3, 4], &mut buf).unwrap();
        let (tp, b) = ((l.tp - area) as usize, (l.block - area) as usize);
        assert!(buf[tp..tp + 16].iter().all(|&x| x == 0), "zeroed TCB");
        assert_eq!(&buf[b..b + 4], &[1, 2, 3, 4]);
        assert!(buf[b + 4..b + 40].iter().all(|&x| x == 0));
        assert_eq!(buf[b + 2], 3, "TLS offset 2 reads byte 3");
    }
}

#[test]
fn riscv_block_starts_at_the_thread_pointer() {
    let t = tls_t(4, 40, 32);
    let area = 0x8000_0004u64;
    let len = t.area_size_for(TlsVariant::Riscv);
    let l = t.layout_for(TlsVariant::Riscv, area, len).unwrap();
    assert_eq!((l.tp % 32, l.block), (0, l.tp));
    let mut buf = vec![0xaau8; len as usize];
    l.write(&[9, 8, 7, 6], &mut buf).unwrap();
    let tp = (l.tp - area) as usize;
    assert_eq!(&buf[tp..tp + 4], &[9, 8, 7, 6]);
    assert!(buf[tp + 4..tp + 64].iter().all(|&x| x == 0), "tbss to 64");
    // Nothing outside the block is touched.
    assert!(buf[..tp].iter().all(|&x| x == 0xaa));
}

#[test]
fn tls_area_size_is_enough_at_any_alignment_in_every_variant() {
    for v in [TlsVariant::X86_64, TlsVariant::Aarch64, TlsVariant::Riscv] {
        for align in [1u64, 8, 16, 64, 256] {
            let t = tls_t(3, 100, align);
            let need = t.area_size_for(v);
            for start in [0x1000u64, 0x1001, 0x1008, 0x100f, 0x1010, 0x103f, 0x10ff] {
                let l = t
                    .layout_for(v, start, need)
                    .unwrap_or_else(|e| panic!("{v:?} align {align} start {start:#x}: {e}"));
                assert!(l.block >= start && l.block + l.block_size <= start + need);
                assert_eq!(l.tp % align.max(16), 0);
                let mut buf = vec![0u8; need as usize];
                l.write(&[1, 2, 3], &mut buf).unwrap();
            }
            assert!(matches!(
                t.layout_for(v, 0x1000, 8),
                Err(Error::TlsAreaTooSmall { .. })
            ));
        }
    }
    assert_eq!(TlsVariant::of(Machine::Aarch64), TlsVariant::Aarch64);
    assert_eq!(TlsVariant::X86_64.tcb_size(), TLS_TCB_SIZE);
}

/// lld's x86_64 thread-pointer offset of a TLS variable at offset `o` of
/// the segment is `o - align_up(p_memsz, p_align)`: with p_align 8 and a
/// size that is no multiple of 16, rounding the block to 16 (what the old
/// start code did) would move every variable by 8 bytes.
#[test]
fn x86_64_block_is_rounded_to_the_segments_own_alignment() {
    let t = tls_t(16, 40, 8);
    let l = t.layout(0x5000, 0x200).unwrap();
    assert_eq!(l.tp - l.block, 40);
    let init: Vec<u8> = (1..=16).collect();
    let mut buf = vec![0xaau8; 0x200];
    l.write(&init, &mut buf).unwrap();
    let tp = (l.tp - 0x5000) as usize;
    let off = |o: usize| tp + o - 40;
    assert_eq!((buf[off(0)], buf[off(15)]), (1, 16));
    assert!(buf[off(16)..tp].iter().all(|&b| b == 0), ".tbss");
}

/// `sample` with its second PT_LOAD (which holds the entry point) executable.
fn runnable(relas: &[(u64, u64, i64)], dyn_extra: &[(u64, u64)]) -> Vec<u8> {
    let mut elf = sample(relas, dyn_extra);
    set_phdr_u32(&mut elf, 2, 4, 4 | link::PF_X);
    elf
}

/// Writes a 32-bit field of program header `i` at byte `field`.
fn set_phdr_u32(elf: &mut [u8], i: usize, field: usize, v: u32) {
    let o = 64 + i * PHDR_SIZE + field;
    elf[o..o + 4].copy_from_slice(&v.to_le_bytes());
}

/// Writes a 64-bit field of program header `i` at byte `field`.
fn set_phdr_u64(elf: &mut [u8], i: usize, field: usize, v: u64) {
    put(elf, 64 + i * PHDR_SIZE + field, v);
}

#[test]
fn root_task_link_check() {
    let good = runnable(&default_relas(), &[]);
    assert_eq!(
        check_root_task(&good),
        Ok(RootTaskLink {
            machine: Machine::X86_64,
            kind: LinkKind::StaticPie {
                relocations: 3,
                packed: 0
            },
            base: LINK,
            end: LINK + 0x3000,
            entry: LINK + 0x1100,
        })
    );

    // Linked at 0 (x86_64-unknown-none without --image-base), or just
    // below the minimum; the minimum itself passes this check (moving the
    // first segment alone leaves the relocation table outside the image).
    for (base, ok) in [(0, false), (0x1000, false), (MIN_IMAGE_BASE, true)] {
        let mut elf = good.clone();
        set_phdr_u64(&mut elf, 1, 16, base);
        let r = check_root_task(&elf);
        if ok {
            assert!(
                !matches!(r, Err(LinkProblem::BelowMinimumBase { .. })),
                "{base:#x}: {r:?}"
            );
        } else {
            assert_eq!(r, Err(LinkProblem::BelowMinimumBase { base }));
            let msg = r.unwrap_err().to_string();
            assert!(msg.contains("null pointers"), "{msg}");
        }
    }

    // Not executable where the entry point is.
    let elf = sample(&default_relas(), &[]);
    assert_eq!(
        check_root_task(&elf),
        Err(LinkProblem::EntryNotInCode {
            entry: LINK + 0x1100
        })
    );

    // A dynamic linker (PT_PHDR turned into PT_INTERP).
    let mut elf = good.clone();
    set_phdr_u32(&mut elf, 0, 0, PT_INTERP);
    assert_eq!(check_root_task(&elf), Err(LinkProblem::DynamicLinker));

    // ET_DYN without PT_DYNAMIC: relocations missing; the same as ET_EXEC
    // is a fixed-address image.
    let mut elf = good.clone();
    set_phdr_u32(&mut elf, 3, 0, PT_NOTE);
    assert_eq!(check_root_task(&elf), Err(LinkProblem::NoDynamicSection));
    elf[16..18].copy_from_slice(&ET_EXEC.to_le_bytes());
    assert_eq!(check_root_task(&elf).map(|l| l.kind), Ok(LinkKind::Fixed));

    // Packed relative relocations (DT_RELR): counted with the others; an
    // address outside the image or a table that starts with a bitmap is
    // refused.
    let mut elf = runnable(
        &default_relas(),
        &[(DT_RELR, LINK + 0x300), (DT_RELRSZ, 16), (DT_RELRENT, 8)],
    );
    put(&mut elf, 0x300, LINK + 0x1010);
    put(&mut elf, 0x308, 0b111);
    assert_eq!(
        check_root_task(&elf).map(|l| l.kind),
        Ok(LinkKind::StaticPie {
            relocations: 3 + 3,
            packed: 3
        })
    );
    put(&mut elf, 0x300, LINK + 0x3000);
    assert_eq!(
        check_root_task(&elf),
        Err(LinkProblem::Relocations(Error::RelocationOutOfImage {
            offset: LINK + 0x3000
        }))
    );
    put(&mut elf, 0x300, 0b11);
    assert_eq!(
        check_root_task(&elf),
        Err(LinkProblem::Relocations(Error::BadRelr))
    );
    // DT_REL relocations.
    let elf = runnable(&default_relas(), &[(DT_REL, LINK + 0x300), (DT_RELSZ, 16)]);
    assert_eq!(check_root_task(&elf), Err(LinkProblem::RelTable));

    // A relocation the start code does not apply (R_X86_64_64).
    let mut relas = default_relas();
    relas[1].1 = 1;
    let r = check_root_task(&runnable(&relas, &[]));
    assert_eq!(
        r,
        Err(LinkProblem::Relocations(Error::UnsupportedRelocation {
            machine: Machine::X86_64,
            r_type: 1,
            offset: LINK + 0x1008
        }))
    );
    assert!(r.unwrap_err().to_string().contains("R_X86_64_64"));

    // The headers outside every PT_LOAD.
    let mut elf = good.clone();
    set_phdr_u64(&mut elf, 1, 8, 0x100);
    assert_eq!(check_root_task(&elf), Err(LinkProblem::HeadersNotLoaded));

    // A PT_TLS with an alignment that is no power of two.
    let mut elf = good.clone();
    set_phdr_u64(&mut elf, 4, 48, 3);
    assert_eq!(check_root_task(&elf), Err(LinkProblem::Tls(Error::BadTls)));

    // aarch64 and riscv64 relative relocations.
    for (m, rel, none) in [
        (Machine::Aarch64, R_AARCH64_RELATIVE, R_AARCH64_NONE),
        (Machine::Riscv, R_RISCV_RELATIVE, R_RISCV_NONE),
    ] {
        let mut elf = sample_for(m, [rel, rel, none, rel]);
        set_phdr_u32(&mut elf, 2, 4, 4 | link::PF_X);
        let l = check_root_task(&elf).unwrap();
        assert_eq!(
            (l.machine, l.kind),
            (
                m,
                LinkKind::StaticPie {
                    relocations: 3,
                    packed: 0
                }
            )
        );
    }

    // Not an ELF, and every truncation of a good one: an error, no panic.
    assert_eq!(
        check_root_task(b"#!/bin/sh\n"),
        Err(LinkProblem::Elf(Error::BadMagic))
    );
    for n in 0..good.len() {
        assert!(check_root_task(&good[..n]).is_err(), "{n}");
    }
}

/// GNU ld gives a PT_TLS of `.tbss` only (no file bytes) the file offset
/// its address would have, which can lie past the end of the file (a C
/// program whose only thread-local is libsel4's `__sel4_ipc_buffer`): a
/// segment without file bytes has nothing to read, wherever its offset.
#[test]
fn segments_without_file_bytes_may_have_any_offset() {
    let mut elf = sample(&default_relas(), &[]);
    // PT_TLS (program header 4): filesz 0 at an offset past the file end.
    put(&mut elf, 64 + 4 * 56 + 8, 0x2000);
    put(&mut elf, 64 + 4 * 56 + 32, 0);
    let e = Elf::parse(&elf).unwrap();
    assert!(e.pages().is_ok(), "{:?}", e.pages().err());
    let mut dst = vec![0u8; 0x4000];
    assert!(load_segments(&elf, &mut dst).is_ok());
    // A PT_LOAD without file bytes (a .bss-only segment) likewise.
    let mut elf = sample(&default_relas(), &[]);
    put(&mut elf, 64 + 2 * 56 + 8, 0x5000);
    put(&mut elf, 64 + 2 * 56 + 32, 0);
    let e = Elf::parse(&elf).unwrap();
    assert!(e.pages().is_ok(), "{:?}", e.pages().err());
    assert!(load_segments(&elf, &mut dst).is_ok());
    // With file bytes, the offset must still be inside the file.
    put(&mut elf, 64 + 2 * 56 + 32, 1);
    assert_eq!(
        load_segments(&elf, &mut dst),
        Err(Error::SegmentOutOfFile { index: 2 })
    );
}

/// A loader runs images of its own machine only: `expect_machine` passes
/// the image's machine and names the others with the target to build for.
#[test]
fn expect_machine_refuses_other_machines() {
    let all = [Machine::X86_64, Machine::Aarch64, Machine::Riscv];
    for image in all {
        let bytes = sample_for(image, [R_AARCH64_RELATIVE, 8, 0, 8]);
        let elf = Elf::parse(&bytes).unwrap();
        for expected in all {
            let r = elf.expect_machine(expected);
            if image == expected {
                assert_eq!(r, Ok(()));
            } else {
                let e = r.unwrap_err();
                assert_eq!(e, Error::OtherMachine { image, expected });
                let m = e.to_string();
                assert!(
                    m.contains(image.name()) && m.contains(expected.rust_targets()),
                    "{m}"
                );
            }
        }
    }
    assert_eq!(Machine::NATIVE, Machine::X86_64, "host tests run on x86_64");
    assert_eq!(
        Machine::Riscv.rust_targets(),
        "--target riscv64gc-unknown-none-elf"
    );
}
