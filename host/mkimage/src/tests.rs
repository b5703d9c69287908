use super::*;
use sel4_elf_reloc::{EM_AARCH64, EM_RISCV, ET_DYN};

/// A minimal ELF64 with PT_LOAD segments (vaddr, paddr, filesz, memsz).
fn elf(
    e_machine: u16,
    e_type: u16,
    entry: u64,
    segs: &[(u64, u64, u64, u64)],
    fill: u8,
) -> Vec<u8> {
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
    b[32..40].copy_from_slice(&64u64.to_le_bytes());
    b[52..54].copy_from_slice(&64u16.to_le_bytes());
    b[54..56].copy_from_slice(&56u16.to_le_bytes());
    b[56..58].copy_from_slice(&(segs.len() as u16).to_le_bytes());
    let mut off = data_off;
    for (i, &(vaddr, paddr, filesz, memsz)) in segs.iter().enumerate() {
        let o = 64 + i * 56;
        b[o..o + 4].copy_from_slice(&PT_LOAD.to_le_bytes());
        b[o + 8..o + 16].copy_from_slice(&off.to_le_bytes());
        b[o + 16..o + 24].copy_from_slice(&vaddr.to_le_bytes());
        b[o + 24..o + 32].copy_from_slice(&paddr.to_le_bytes());
        b[o + 32..o + 40].copy_from_slice(&filesz.to_le_bytes());
        b[o + 40..o + 48].copy_from_slice(&memsz.to_le_bytes());
        b[o + 48..o + 56].copy_from_slice(&0x1000u64.to_le_bytes());
        for (j, x) in b[off as usize..(off + filesz) as usize]
            .iter_mut()
            .enumerate()
        {
            *x = fill.wrapping_add(j as u8);
        }
        off += filesz;
    }
    b
}

fn loader() -> Vec<u8> {
    elf(
        EM_AARCH64,
        ET_EXEC,
        0x7000_0000,
        &[
            (0x7000_0000, 0x7000_0000, 0x6b10, 0x6b10),
            (0x7000_6b10, 0x7000_6b10, 0x1640, 0x1640),
            (0x7000_9000, 0x7000_9000, 0, 0x18000),
        ],
        0x33,
    )
}

fn kernel() -> Vec<u8> {
    let v = 0xffff_ff80_4000_0000;
    elf(
        EM_AARCH64,
        ET_EXEC,
        v,
        &[(v, 0x4000_0000, 0x3000, 0x24_0000)],
        0x11,
    )
}

fn user() -> Vec<u8> {
    elf(
        EM_AARCH64,
        ET_DYN,
        0x40_1000,
        &[(0x40_0000, 0x40_0000, 0x2000, 0x44_0000)],
        0x22,
    )
}

const RAM: [Region; 1] = [Region::new(0x4000_0000, 0x8000_0000)];

fn contents<'a>(k: &'a [u8], u: &'a [u8], dtb: &'a [u8]) -> Contents<'a> {
    Contents {
        arch: Arch::Aarch64,
        kernel: k,
        rootserver: u,
        dtb: Some(dtb),
        memory: &RAM,
        user_vaddr: Some(0x1000_0000),
    }
}

#[test]
fn image_is_the_loader_plus_a_payload_segment() {
    let (l, k, u, dtb) = (loader(), kernel(), user(), vec![0xd0u8; 0x900]);
    let (img, plan) = pack(&l, &contents(&k, &u, &dtb)).unwrap();
    let e = Elf::parse(&img).unwrap();
    assert_eq!(e.header().e_entry, 0x7000_0000);
    assert_eq!(e.header().e_machine, EM_AARCH64);
    assert_eq!(e.header().e_shnum, 0);
    let segs: Vec<_> = e.program_headers().collect();
    assert_eq!(segs.len(), 4);
    // the loader's segments, byte for byte, at offsets congruent to vaddr
    let le = Elf::parse(&l).unwrap();
    for (a, b) in segs.iter().zip(le.program_headers()) {
        assert_eq!(
            (a.p_vaddr, a.p_paddr, a.p_filesz, a.p_memsz),
            (b.p_vaddr, b.p_paddr, b.p_filesz, b.p_memsz)
        );
        assert_eq!(a.p_offset % 4096, a.p_vaddr % 4096);
        assert_eq!(
            &img[a.p_offset as usize..(a.p_offset + a.p_filesz) as usize],
            &l[b.p_offset as usize..(b.p_offset + b.p_filesz) as usize]
        );
    }
    // the payload at the first page after the loader's .bss (0x70021000)
    let p = segs[3];
    assert_eq!((p.p_vaddr, p.p_paddr), (0x7002_1000, 0x7002_1000));
    assert_eq!(p.p_offset % 4096, 0);
    let bytes = &img[p.p_offset as usize..(p.p_offset + p.p_filesz) as usize];
    let payload = Payload::parse(bytes, Arch::Aarch64).unwrap();
    assert_eq!(payload.kernel, &k[..]);
    assert_eq!(payload.rootserver, &u[..]);
    assert_eq!(payload.dtb, Some(&dtb[..]));
    assert_eq!(payload.user_vaddr, Some(0x1000_0000));
    // and the plan the loader will follow
    assert_eq!(plan.kernel.phys.start, 0x4000_0000);
    assert_eq!(plan.user.vaddr, 0x1000_0000);
    assert!(describe(&plan).contains("0x10000000"));
}

#[test]
fn what_cannot_boot_is_refused_at_build_time() {
    let (l, k, dtb) = (loader(), kernel(), vec![0u8; 16]);
    // a root server that would run into the loader at 0x70000000
    let big = elf(
        EM_AARCH64,
        ET_DYN,
        0x40_0000,
        &[(0x40_0000, 0x40_0000, 0x10, 0x3000_0000)],
        1,
    );
    let e = pack(&l, &contents(&k, &big, &dtb)).unwrap_err();
    assert!(e.0.contains("would overwrite the loader"), "{e}");
    // a loader for another architecture
    let rv = elf(
        EM_RISCV,
        ET_EXEC,
        0xc000_0000,
        &[(0xc000_0000, 0xc000_0000, 0x10, 0x10)],
        1,
    );
    let e = pack(&rv, &contents(&k, &user(), &dtb)).unwrap_err();
    assert!(e.0.contains("loader ELF is for e_machine 243"), "{e}");
    // a loader that is not linked 1:1
    let skew = elf(
        EM_AARCH64,
        ET_EXEC,
        0x7000_0000,
        &[(0x7000_0000, 0x1000, 0x10, 0x10)],
        1,
    );
    let e = pack(&skew, &contents(&k, &user(), &dtb)).unwrap_err();
    assert!(e.0.contains("linked 1:1"), "{e}");
    // not an ELF at all
    let e = pack(b"hello", &contents(&k, &user(), &dtb)).unwrap_err();
    assert!(e.0.starts_with("loader ELF:"), "{e}");
}

#[test]
fn numbers() {
    assert_eq!(parse_number("0x1000_0000"), Some(0x1000_0000));
    assert_eq!(parse_number("4096"), Some(4096));
    assert_eq!(parse_number("0xg"), None);
    assert_eq!(parse_number(""), None);
}

#[test]
fn a_root_server_the_start_code_cannot_run_is_refused_first() {
    // Linked at 0 (an ET_DYN whose first segment is at address 0): refused
    // before the stage is even read.
    let base0 = elf(EM_AARCH64, ET_DYN, 0x1000, &[(0, 0, 0x2000, 0x2000)], 0x22);
    let e = pack_stage(
        std::path::Path::new("/no/such/stage"),
        &loader(),
        &base0,
        None,
    )
    .unwrap_err();
    assert!(
        e.0.contains("root server: linked at 0x0, below 0x10000")
            && e.0.contains(".cargo/config.toml"),
        "{e}"
    );
}
