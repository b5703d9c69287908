//! Host tests: payload round trips and damage, placement plans on
//! hand-built ELF images, page tables walked back.
extern crate std;

use crate::pagetable::{translate, Format, Half, MapError, PageTables, Table, GIB, MIB2};
use crate::payload::{self, build, checksum, Contents, Kind, Payload, PayloadError};
use crate::plan::{Plan, PlanError};
use crate::{Arch, Region};
use sel4_elf_reloc::{EM_AARCH64, EM_RISCV, EM_X86_64, ET_DYN, ET_EXEC, PT_LOAD};
use std::string::ToString;
use std::vec;
use std::vec::Vec;

/// A minimal ELF64 with the given PT_LOAD segments (vaddr, paddr, filesz,
/// memsz); file contents are the byte `fill`.
fn elf(
    e_machine: u16,
    e_type: u16,
    entry: u64,
    segs: &[(u64, u64, u64, u64)],
    fill: u8,
) -> Vec<u8> {
    let phoff = 64u64;
    let data_off = 0x1000u64;
    let total: u64 = segs.iter().map(|s| s.2).sum();
    let mut b = vec![0u8; (data_off + total) as usize];
    b[..4].copy_from_slice(b"\x7fELF");
    b[4] = 2;
    b[5] = 1;
    b[6] = 1;
    b[16..18].copy_from_slice(&e_type.to_le_bytes());
    b[18..20].copy_from_slice(&e_machine.to_le_bytes());
    b[20..24].copy_from_slice(&1u32.to_le_bytes());
    b[24..32].copy_from_slice(&entry.to_le_bytes());
    b[32..40].copy_from_slice(&phoff.to_le_bytes());
    b[52..54].copy_from_slice(&64u16.to_le_bytes());
    b[54..56].copy_from_slice(&56u16.to_le_bytes());
    b[56..58].copy_from_slice(&(segs.len() as u16).to_le_bytes());
    let mut off = data_off;
    for (i, &(vaddr, paddr, filesz, memsz)) in segs.iter().enumerate() {
        let o = (phoff as usize) + i * 56;
        b[o..o + 4].copy_from_slice(&PT_LOAD.to_le_bytes());
        b[o + 8..o + 16].copy_from_slice(&off.to_le_bytes());
        b[o + 16..o + 24].copy_from_slice(&vaddr.to_le_bytes());
        b[o + 24..o + 32].copy_from_slice(&paddr.to_le_bytes());
        b[o + 32..o + 40].copy_from_slice(&filesz.to_le_bytes());
        b[o + 40..o + 48].copy_from_slice(&memsz.to_le_bytes());
        b[o + 48..o + 56].copy_from_slice(&0x1000u64.to_le_bytes());
        b[off as usize..(off + filesz) as usize].fill(fill);
        off += filesz;
    }
    b
}

const KV: u64 = 0xffff_ff80_4000_0000;
const KP: u64 = 0x4000_0000;

/// An aarch64 kernel like seL4 16.0.0's qemu-arm-virt build: one segment
/// at 0xffffff8040000000 / 0x40000000, 0x240000 bytes in memory.
fn a64_kernel() -> Vec<u8> {
    elf(
        EM_AARCH64,
        ET_EXEC,
        KV,
        &[(KV, KP, 0x30000, 0x240000)],
        0x11,
    )
}

/// A root server linked at 0x400000: text, data, bss.
fn a64_user(e_type: u16) -> Vec<u8> {
    elf(
        EM_AARCH64,
        e_type,
        0x408f84,
        &[
            (0x400000, 0x400000, 0x4000, 0x4000),
            (0x405000, 0x405000, 0x2000, 0x2000),
            (0x408000, 0x408000, 0x100, 0x445000),
        ],
        0x22,
    )
}

const A64_RAM: [Region; 1] = [Region::new(0x4000_0000, 0x8000_0000)];

fn contents<'a>(
    kernel: &'a [u8],
    user: &'a [u8],
    dtb: &'a [u8],
    ram: &'a [Region],
) -> Contents<'a> {
    Contents {
        arch: Arch::Aarch64,
        kernel,
        rootserver: user,
        dtb: Some(dtb),
        memory: ram,
        user_vaddr: None,
    }
}

fn packed(c: &Contents<'_>) -> Vec<u8> {
    let mut out = vec![0xeeu8; c.size() + 100];
    let n = build(c, &mut out).unwrap();
    assert_eq!(n, c.size());
    out.truncate(n);
    out
}

#[test]
fn payload_round_trip() {
    let (k, u, dtb) = (a64_kernel(), a64_user(ET_DYN), vec![0xd0u8; 0x1234]);
    let mut c = contents(&k, &u, &dtb, &A64_RAM);
    c.user_vaddr = Some(0x1000_0000);
    let bytes = packed(&c);
    let p = Payload::parse(&bytes, Arch::Aarch64).unwrap();
    assert_eq!(p.kernel, &k[..]);
    assert_eq!(p.rootserver, &u[..]);
    assert_eq!(p.dtb, Some(&dtb[..]));
    assert_eq!(p.memory.iter().collect::<Vec<_>>(), A64_RAM);
    assert_eq!(p.user_vaddr, Some(0x1000_0000));
    assert_eq!(p.total_len, bytes.len() as u64);
    // Trailing bytes after the payload are ignored.
    let mut longer = bytes.clone();
    longer.extend_from_slice(&[1, 2, 3]);
    assert!(Payload::parse(&longer, Arch::Aarch64).is_ok());
    // Optional entries absent.
    let c = Contents {
        dtb: None,
        user_vaddr: None,
        ..c
    };
    let bytes = packed(&c);
    let p = Payload::parse(&bytes, Arch::Aarch64).unwrap();
    assert_eq!((p.dtb, p.user_vaddr), (None, None));
}

#[test]
fn payload_damage_is_detected() {
    let (k, u, dtb) = (a64_kernel(), a64_user(ET_DYN), vec![0xd0u8; 100]);
    let c = contents(&k, &u, &dtb, &A64_RAM);
    let good = packed(&c);
    let parse = |b: &[u8]| Payload::parse(b, Arch::Aarch64).map(|_| ());

    assert_eq!(
        parse(&good[..50]),
        Err(PayloadError::Truncated {
            needed: 64,
            available: 50
        })
    );
    assert!(matches!(
        parse(&good[..good.len() - 1]),
        Err(PayloadError::Truncated { .. })
    ));
    assert_eq!(parse(&[0u8; 100]), Err(PayloadError::NoMagic));
    assert_eq!(parse(&[]), Err(PayloadError::NoMagic));
    // Any flipped byte after the header breaks the checksum.
    for at in [64, 100, 0x1000 + 64, good.len() - 1] {
        let mut b = good.clone();
        b[at] ^= 0x40;
        assert!(
            matches!(parse(&b), Err(PayloadError::Checksum { .. })),
            "byte {at}"
        );
    }
    let mut b = good.clone();
    b[8] = 2;
    assert_eq!(parse(&b), Err(PayloadError::Version(2)));
    assert_eq!(
        Payload::parse(&good, Arch::Riscv64).map(|_| ()),
        Err(PayloadError::WrongArch {
            payload: Arch::Aarch64,
            loader: Arch::Riscv64
        })
    );
    // Entry table damage, with the checksum made to match again.
    let reseal = |b: &mut Vec<u8>| {
        let sum = checksum(&b[64..]);
        b[24..32].copy_from_slice(&sum.to_le_bytes());
    };
    let mut b = good.clone();
    b[64..68].copy_from_slice(&2u32.to_le_bytes()); // kernel entry -> second root server
    reseal(&mut b);
    assert_eq!(parse(&b), Err(PayloadError::Duplicate(Kind::RootServer)));
    let mut b = good.clone();
    b[64..68].copy_from_slice(&99u32.to_le_bytes());
    reseal(&mut b);
    assert_eq!(parse(&b), Err(PayloadError::UnknownKind(99)));
    let mut b = good.clone();
    b[64 + 16..64 + 24].copy_from_slice(&u64::MAX.to_le_bytes()); // kernel length
    reseal(&mut b);
    assert_eq!(
        parse(&b),
        Err(PayloadError::EntryOutOfRange { kind: Kind::Kernel })
    );
    let mut b = good.clone();
    b[12..16].copy_from_slice(&1u32.to_le_bytes()); // only the kernel entry left
    assert_eq!(parse(&b), Err(PayloadError::Missing(Kind::RootServer)));
    // Errors read as sentences that say what to do.
    assert!(PayloadError::NoMagic.to_string().contains("sel4-mkimage"));
}

#[test]
fn memory_regions_are_checked() {
    let (k, u) = (a64_kernel(), a64_user(ET_DYN));
    for bad in [
        &[Region::new(0x2000, 0x1000)][..],
        &[Region::new(0x1000, 0x1800)][..],
        &[Region::new(0x4000, 0x8000), Region::new(0x1000, 0x2000)][..],
        &[Region::new(0x1000, 0x4000), Region::new(0x3000, 0x8000)][..],
        &[][..],
    ] {
        let c = contents(&k, &u, &[], bad);
        assert_eq!(
            Payload::parse(&packed(&c), Arch::Aarch64).map(|_| ()),
            Err(PayloadError::BadMemory),
            "{bad:?}"
        );
    }
    let two = [Region::new(0x1000, 0x4000), Region::new(0x4000, 0x8000)];
    let c = contents(&k, &u, &[], &two);
    assert_eq!(
        Payload::parse(&packed(&c), Arch::Aarch64)
            .unwrap()
            .memory
            .len(),
        2
    );
}

#[test]
fn build_refuses_a_small_buffer() {
    let (k, u) = (a64_kernel(), a64_user(ET_DYN));
    let c = contents(&k, &u, &[], &A64_RAM);
    let mut out = vec![0u8; c.size() - 1];
    assert_eq!(
        build(&c, &mut out),
        Err(PayloadError::BufferTooSmall {
            needed: c.size(),
            available: c.size() - 1
        })
    );
}

#[test]
fn checksum_sees_length_and_order() {
    assert_ne!(checksum(&[0; 8]), checksum(&[0; 16]));
    assert_ne!(checksum(&[1, 2]), checksum(&[2, 1]));
    assert_ne!(checksum(&[0; 3]), checksum(&[0; 4]));
    assert_eq!(checksum(b"abcdefghij"), checksum(b"abcdefghij"));
}

const LOADER: Region = Region::new(0x7000_0000, 0x7100_0000);

fn plan_for(c: &Contents<'_>) -> Result<Plan, PlanError> {
    let bytes = packed(c);
    let p = Payload::parse(&bytes, c.arch).unwrap();
    Plan::new(&p, LOADER)
}

#[test]
fn plan_like_sel4_elfloader() {
    let (k, u, dtb) = (a64_kernel(), a64_user(ET_DYN), vec![0xd0u8; 0x1234]);
    let c = contents(&k, &u, &dtb, &A64_RAM);
    let plan = plan_for(&c).unwrap();
    // kernel at its physical address, the DTB on the next page, the root
    // server on the page after the DTB
    assert_eq!(plan.kernel.phys, Region::new(KP, KP + 0x240000));
    assert_eq!(plan.kernel.entry, KV);
    assert_eq!(plan.kernel_offset(), KV - KP);
    assert_eq!(plan.dtb, Region::new(KP + 0x240000, KP + 0x240000 + 0x1234));
    let ui = KP + 0x242000;
    assert_eq!(plan.user.phys, Region::new(ui, ui + 0x44d000));
    assert_eq!((plan.user.link_base, plan.user.vaddr), (0x400000, 0x400000));
    assert_eq!(plan.user.entry, 0x408f84);
    assert_eq!(plan.ram, A64_RAM[0]);
    assert_eq!(
        plan.kernel_args(),
        [
            ui,
            ui + 0x44d000,
            ui - 0x400000,
            0x408f84,
            KP + 0x240000,
            0x1234
        ]
    );
    // Without a device tree the user image follows the kernel directly.
    let c = Contents { dtb: None, ..c };
    let plan = plan_for(&c).unwrap();
    assert_eq!(plan.user.phys.start, KP + 0x240000);
    assert_eq!(plan.kernel_args()[4..], [0, 0]);
}

#[test]
fn plan_runs_a_pie_root_server_elsewhere() {
    let (k, u) = (a64_kernel(), a64_user(ET_DYN));
    let mut c = contents(&k, &u, &[], &A64_RAM);
    c.user_vaddr = Some(0x1000_0000);
    let plan = plan_for(&c).unwrap();
    assert_eq!(plan.user.vaddr, 0x1000_0000);
    assert_eq!(plan.user.entry, 0x1000_8f84);
    assert_eq!(
        plan.pv_offset(),
        plan.user.phys.start.wrapping_sub(0x1000_0000)
    );
    // below the link address: a negative shift
    c.user_vaddr = Some(0x1000);
    assert_eq!(plan_for(&c).unwrap().user.entry, 0x1000 + 0x8f84);
    c.user_vaddr = Some(0x1000_0010);
    assert_eq!(
        plan_for(&c),
        Err(PlanError::UserVaddrAlignment(0x1000_0010))
    );
    // A static root server runs only at its link address.
    let s = a64_user(ET_EXEC);
    let mut c = contents(&k, &s, &[], &A64_RAM);
    c.user_vaddr = Some(0x400000);
    assert!(plan_for(&c).is_ok());
    c.user_vaddr = Some(0x1000_0000);
    assert_eq!(
        plan_for(&c),
        Err(PlanError::NotRelocatable {
            link: 0x400000,
            requested: 0x1000_0000
        })
    );
}

#[test]
fn plan_refuses_what_cannot_boot() {
    let (k, u) = (a64_kernel(), a64_user(ET_DYN));
    // kernel outside RAM
    let ram = [Region::new(0x8000_0000, 0xc000_0000)];
    let c = contents(&k, &u, &[], &ram);
    assert!(matches!(
        plan_for(&c),
        Err(PlanError::KernelNotInRam { .. })
    ));
    // root server does not fit in the region
    let ram = [Region::new(0x4000_0000, 0x4040_0000)];
    let c = contents(&k, &u, &[], &ram);
    assert!(matches!(plan_for(&c), Err(PlanError::DoesNotFit { .. })));
    // the root server would overwrite the loader
    let big = elf(
        EM_AARCH64,
        ET_DYN,
        0x400000,
        &[(0x400000, 0x400000, 0x1000, 0x3000_0000)],
        1,
    );
    let c = contents(&k, &big, &[], &A64_RAM);
    match plan_for(&c) {
        Err(
            e @ PlanError::OverlapsLoader {
                what: "the root server",
                ..
            },
        ) => {
            assert!(e.to_string().contains("overwrite the loader"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    // wrong machines
    let x86 = elf(
        EM_X86_64,
        ET_DYN,
        0x400000,
        &[(0x400000, 0x400000, 0x10, 0x10)],
        1,
    );
    let c = contents(&k, &x86, &[], &A64_RAM);
    assert_eq!(
        plan_for(&c),
        Err(PlanError::Machine {
            what: "root server ELF",
            e_machine: EM_X86_64
        })
    );
    let rv = elf(EM_RISCV, ET_EXEC, KV, &[(KV, KP, 0x10, 0x10)], 1);
    let c = contents(&rv, &u, &[], &A64_RAM);
    assert!(matches!(
        plan_for(&c),
        Err(PlanError::Machine {
            what: "kernel ELF",
            ..
        })
    ));
    // kernel segments with different offsets, kernel not ET_EXEC
    let odd = elf(
        EM_AARCH64,
        ET_EXEC,
        KV,
        &[
            (KV, KP, 0x1000, 0x1000),
            (KV + 0x2000, KP + 0x3000, 0x1000, 0x1000),
        ],
        1,
    );
    let c = contents(&odd, &u, &[], &A64_RAM);
    assert_eq!(plan_for(&c), Err(PlanError::KernelOffsets));
    let dynk = elf(EM_AARCH64, ET_DYN, KV, &[(KV, KP, 0x10, 0x10)], 1);
    let c = contents(&dynk, &u, &[], &A64_RAM);
    assert_eq!(plan_for(&c), Err(PlanError::KernelType(ET_DYN)));
    // garbage instead of an ELF
    let c = contents(&k, &[0u8; 100], &[], &A64_RAM);
    assert!(matches!(
        plan_for(&c),
        Err(PlanError::Elf {
            what: "root server ELF",
            ..
        })
    ));
}

#[test]
fn plan_for_riscv64_virt() {
    // seL4 16.0.0 qemu-riscv-virt: kernel at 0xffffffff80200000 / 0x80200000,
    // RAM [0x80200000, 0x140000000).
    let k = elf(
        EM_RISCV,
        ET_EXEC,
        0xffff_ffff_8020_0000,
        &[(0xffff_ffff_8020_0000, 0x8020_0000, 0x20000, 0x230000)],
        3,
    );
    let u = elf(
        EM_RISCV,
        ET_DYN,
        0x407f66,
        &[(0x400000, 0x400000, 0x100, 0x44f000)],
        4,
    );
    let ram = [Region::new(0x8020_0000, 0x1_4000_0000)];
    let c = Contents {
        arch: Arch::Riscv64,
        kernel: &k,
        rootserver: &u,
        dtb: Some(&[7u8; 0x2000]),
        memory: &ram,
        user_vaddr: None,
    };
    let bytes = packed(&c);
    let p = Payload::parse(&bytes, Arch::Riscv64).unwrap();
    let plan = Plan::new(&p, Region::new(0xc000_0000, 0xc100_0000)).unwrap();
    assert_eq!(plan.kernel.phys.start, 0x8020_0000);
    assert_eq!(plan.kernel_offset(), 0xffff_ffff_0000_0000);
    assert_eq!(plan.dtb, Region::new(0x8043_0000, 0x8043_2000));
    assert_eq!(plan.user.phys.start, 0x8043_2000);
}

fn pool(n: usize) -> Vec<Table> {
    vec![Table([0xdead; 512]); n]
}

#[test]
fn aarch64_boot_tables() {
    let mut t = pool(8);
    let base = 0x7010_0000;
    let mut pt = PageTables::new(Format::Aarch64, &mut t, base).unwrap();
    pt.map_boot(&A64_RAM, KV - KP).unwrap();
    // identity and kernel window, both as one 1 GiB block each
    for va in [0x4000_0000u64, 0x4123_4567, 0x7fff_ffff] {
        assert_eq!(pt.translate(va), Some(va));
        assert_eq!(pt.translate(va + (KV - KP)), Some(va));
    }
    assert_eq!(pt.translate(0x3fff_ffff), None);
    assert_eq!(pt.translate(0x8000_0000), None);
    assert_eq!(pt.translate(0x0900_0000), None, "no device memory");
    assert_eq!(pt.used(), 4, "two roots, one level-1 table each");
    assert_eq!(pt.root(Half::Lower), base);
    assert_eq!(pt.root(Half::Upper), base + 4096);
    let _ = pt;
    // The descriptors, bit for bit: L0[0] -> table 2; L1[1] = 1 GiB block at
    // 0x40000000 with AttrIndx 4 and AF (as seL4's loader for one core).
    assert_eq!(t[0].0[0], (base + 2 * 4096) | 0b11);
    assert_eq!(t[2].0[1], 0x4000_0411); // AF (bit 10), AttrIndx 4 (bits 4:2), block (0b01)
    assert!(
        t[0].0[1..].iter().all(|&e| e == 0),
        "pool tables are cleared"
    );
    // upper half: L0[0x1ff] (bits 47:39 of 0xffffff80...) -> table 3, L1[1]
    assert_eq!(t[1].0[0x1ff], (base + 3 * 4096) | 0b11);
    assert_eq!(t[3].0[1], t[2].0[1]);
    assert_eq!(
        translate(Format::Aarch64, &t, base, KV + 0x1000),
        Some(KP + 0x1000)
    );
}

#[test]
fn sv39_boot_tables() {
    let mut t = pool(4);
    let base = 0xc010_0000;
    let ram = [Region::new(0x8020_0000, 0x1_4000_0000)];
    let mut pt = PageTables::new(Format::Sv39, &mut t, base).unwrap();
    pt.map_boot(&ram, 0xffff_ffff_0000_0000).unwrap();
    for pa in [
        0x8020_0000u64,
        0x8765_4321,
        0xbfff_ffff,
        0xc000_0000,
        0x1_3fff_ffff,
    ] {
        assert_eq!(pt.translate(pa), Some(pa), "identity {pa:#x}");
    }
    // kernel window: only below 4 GiB (above, the window address would wrap)
    for pa in [0x8020_0000u64, 0x8040_1234, 0xffff_ffff] {
        assert_eq!(
            pt.translate(pa + 0xffff_ffff_0000_0000),
            Some(pa),
            "window {pa:#x}"
        );
    }
    assert_eq!(pt.translate(0xffff_ffff_8000_0000), None, "OpenSBI's 2 MiB");
    assert_eq!(pt.translate(0x8000_0000), None);
    let _ = pt;
    // 0x80200000 is not 1 GiB aligned: the first GiB goes in 2 MiB pages
    // under a level-1 table; 0xc0000000 and 0x100000000 are gigapages.
    let gigapage = |pa: u64| ((pa >> 12) << 10) | 0xcf;
    assert_eq!(t[0].0[3], gigapage(0xc000_0000));
    assert_eq!(t[0].0[4], gigapage(0x1_0000_0000));
    let l1 = ((t[0].0[2] >> 10) << 12) - base;
    assert_eq!(t[0].0[2] & 0x3ff, 1, "a table entry: V only");
    assert_eq!(t[(l1 / 4096) as usize].0[1], gigapage(0x8020_0000));
}

#[test]
fn mapping_errors() {
    let mut t = pool(2);
    let mut pt = PageTables::new(Format::Aarch64, &mut t, 0).unwrap();
    assert_eq!(
        pt.map(0x1000, 0x1000, MIB2),
        Err(MapError::Misaligned {
            va: 0x1000,
            pa: 0x1000,
            size: MIB2
        })
    );
    assert_eq!(
        pt.map(0x0001_0000_0000_0000, 0, MIB2),
        Err(MapError::BadVirtual {
            va: 0x0001_0000_0000_0000
        })
    );
    // a third table is needed for the first mapping
    assert_eq!(pt.map(0, 0, MIB2), Err(MapError::PoolExhausted));
    let mut t = pool(4);
    let mut pt = PageTables::new(Format::Aarch64, &mut t, 0).unwrap();
    pt.map(0, 0, GIB).unwrap();
    pt.map(0, 0, GIB).unwrap(); // the same again is fine
    assert_eq!(pt.map(0, GIB, GIB), Err(MapError::Conflict { va: 0 }));
    // a 2 MiB block inside an existing 1 GiB block
    assert_eq!(
        pt.map(MIB2, MIB2, MIB2),
        Err(MapError::Conflict { va: MIB2 })
    );
    assert!(PageTables::new(Format::Aarch64, &mut pool(1), 0).is_err());
    let mut t = pool(3);
    let mut pt = PageTables::new(Format::Sv39, &mut t, 0).unwrap();
    assert_eq!(
        pt.map(0x40_0000_0000, 0, GIB),
        Err(MapError::BadVirtual { va: 0x40_0000_0000 }),
        "Sv39 addresses are 39-bit sign-extended"
    );
    // a range that runs from the lower into the invalid middle
    assert!(pt.map(0x3f_c000_0000, 0, 2 * GIB).is_err());
}

#[test]
fn payload_constants() {
    assert_eq!(payload::HEADER_SIZE % 8, 0);
    assert_eq!(Arch::from_name("aarch64"), Some(Arch::Aarch64));
    assert_eq!(Arch::from_name("x86_64"), None);
}
