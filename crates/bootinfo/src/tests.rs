extern crate std;

use super::*;
use std::vec;
use std::vec::Vec;

const MIB: u64 = 1 << 20;

fn put(buf: &mut [u8], off: usize, size: usize, v: u64) {
    buf[off..off + size].copy_from_slice(&v.to_le_bytes()[..size]);
}

fn put_region(buf: &mut [u8], off: usize, r: (u64, u64)) {
    put(buf, off, 8, r.0);
    put(buf, off + 8, 8, r.1);
}

/// Everything needed to write a bootinfo image; offsets come from the test's
/// own copy of the C layout (not from the crate's tables) where it matters.
struct Image {
    extra_len: u64,
    node_id: u64,
    num_nodes: u64,
    num_io_pt_levels: u64,
    ipc_buffer: u64,
    empty: (u64, u64),
    shared_frames: (u64, u64),
    user_image_frames: (u64, u64),
    user_image_paging: (u64, u64),
    io_space_caps: (u64, u64),
    extra_bi_pages: (u64, u64),
    cnode_bits: u64,
    domain: u64,
    tsc: u64,
    schedcontrol: (u64, u64),
    untyped: (u64, u64),
    list: Vec<UntypedDesc>,
    extra: Vec<u8>,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    V5,
    V12,
    V12Mcs,
}

impl Image {
    fn build(&self, kind: Kind) -> Vec<u8> {
        let mut b = vec![0u8; 4096 + self.extra.len()];
        put(&mut b, 0, 8, self.extra_len);
        put(&mut b, 8, 8, self.node_id);
        put(&mut b, 16, 8, self.num_nodes);
        put(&mut b, 24, 8, self.num_io_pt_levels);
        put(&mut b, 32, 8, self.ipc_buffer);
        put_region(&mut b, 40, self.empty);
        put_region(&mut b, 56, self.shared_frames);
        put_region(&mut b, 72, self.user_image_frames);
        put_region(&mut b, 88, self.user_image_paging);
        put_region(&mut b, 104, self.io_space_caps);
        put_region(&mut b, 120, self.extra_bi_pages);
        let (list_off, stride) = match kind {
            Kind::V5 => {
                // packed: u8 cnode bits, then unaligned words
                put(&mut b, 136, 1, self.cnode_bits);
                put(&mut b, 137, 8, self.domain);
                put(&mut b, 145, 8, self.tsc);
                put_region(&mut b, 153, self.untyped);
                (169, 12)
            }
            Kind::V12 => {
                put(&mut b, 136, 8, self.cnode_bits);
                put(&mut b, 144, 8, self.domain);
                put_region(&mut b, 152, self.untyped);
                (168, 16)
            }
            Kind::V12Mcs => {
                put(&mut b, 136, 8, self.cnode_bits);
                put(&mut b, 144, 8, self.domain);
                put_region(&mut b, 152, self.schedcontrol);
                put_region(&mut b, 168, self.untyped);
                (184, 16)
            }
        };
        for (i, d) in self.list.iter().enumerate() {
            let e = list_off + i * stride;
            put(&mut b, e, 8, d.paddr);
            if kind == Kind::V5 {
                // {paddr, padding1, padding2, sizeBits, isDevice}; poison the pads
                b[e + 8] = 0xaa;
                b[e + 9] = 0xbb;
                b[e + 10] = d.size_bits;
                b[e + 11] = d.is_device as u8;
            } else {
                b[e + 8] = d.size_bits;
                b[e + 9] = d.is_device as u8;
                b[e + 10..e + 16].fill(0xcc);
            }
        }
        b[4096..].copy_from_slice(&self.extra);
        b
    }
}

fn chunk(id: u64, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&id.to_le_bytes());
    v.extend_from_slice(&(16 + data.len() as u64).to_le_bytes());
    v.extend_from_slice(data);
    v
}

fn ut(paddr: u64, size_bits: u8, is_device: bool) -> UntypedDesc {
    UntypedDesc {
        paddr,
        size_bits,
        is_device,
    }
}

/// 30 RAM untypeds, about 510 MiB; 107 device untypeds.
fn v5_untypeds() -> Vec<UntypedDesc> {
    let mut v = Vec::new();
    // device: the low 1 MiB holes and the PCI hole etc, 107 of them
    for i in 0..107u64 {
        v.push(ut(0x2000_0000 + i * (1 << 24), 12 + (i % 13) as u8, true));
    }
    // RAM: 256+128+64+32+16+8+4+1 MiB, plus 22 x 32 KiB
    let mut addr = 0x0100_0000u64;
    for bits in [28u8, 27, 26, 25, 24, 23, 22, 20] {
        v.push(ut(addr, bits, false));
        addr += 1 << bits;
    }
    for i in 0..22u64 {
        v.push(ut(0x0010_0000 + i * 0x8000, 15, false));
    }
    v
}

fn v5_image() -> Image {
    let list = v5_untypeds();
    assert_eq!(list.len(), 137);
    let mut extra = chunk(0, &[]);
    // 5.0.0: one page of extra bootinfo, a padding chunk covering all of it
    extra.resize(4096, 0);
    put(&mut extra, 8, 8, 4096);
    Image {
        extra_len: 4096,
        node_id: 0,
        num_nodes: 1,
        num_io_pt_levels: 0,
        ipc_buffer: 0x4a_6000,
        empty: (173, 4096),
        shared_frames: (0, 0),
        user_image_frames: (13, 30),
        user_image_paging: (30, 36),
        io_space_caps: (0, 0),
        extra_bi_pages: (12, 13),
        cnode_bits: 12,
        domain: 0,
        tsc: 2793,
        schedcontrol: (0, 0),
        untyped: (36, 173),
        list,
        extra,
    }
}

fn v16_image() -> Image {
    let mut list = Vec::new();
    let mut addr = 0x0040_0000u64;
    for i in 0..34u64 {
        let bits = 12 + (i % 16) as u8;
        list.push(ut(addr, bits, false));
        addr += 1 << bits;
    }
    for i in 0..65u64 {
        list.push(ut(0x1_0000_0000 + (i << 30), 30, true));
    }
    // multiboot mmap chunk: u32 mmap_length + 2 packed 24-byte entries
    let mut mmap = Vec::new();
    mmap.extend_from_slice(&48u32.to_le_bytes());
    for (base, len, ty) in [(0u64, 0x9fc00u64, 1u32), (0x10_0000, 0x1fee_0000, 1)] {
        mmap.extend_from_slice(&20u32.to_le_bytes());
        mmap.extend_from_slice(&base.to_le_bytes());
        mmap.extend_from_slice(&len.to_le_bytes());
        mmap.extend_from_slice(&ty.to_le_bytes());
    }
    let mut extra = chunk(2, &mmap);
    extra.extend(chunk(
        3,
        b"RSD PTR \x00\x01\x02\x03\x04\x05\x06\x07\x08\x09",
    ));
    extra.extend(chunk(5, &3000u32.to_le_bytes()));
    extra.extend(chunk(77, &[1, 2, 3]));
    Image {
        extra_len: extra.len() as u64,
        node_id: 0,
        num_nodes: 1,
        num_io_pt_levels: 0,
        ipc_buffer: 0x4b_1000,
        empty: (0x8a, 0x80000),
        shared_frames: (0, 0),
        user_image_frames: (0x10, 0x20),
        user_image_paging: (0x20, 0x27),
        io_space_caps: (0, 0),
        extra_bi_pages: (0xf, 0x10),
        cnode_bits: 19,
        domain: 0,
        tsc: 0,
        schedcontrol: (0, 0),
        untyped: (0x27, 0x8a),
        list,
        extra,
    }
}

#[test]
fn layout_tables_match_c_offsets() {
    // Values from offsetof() on the real headers (5.0.0 libsel4, 16.0.0
    // installed libsel4 with and without CONFIG_KERNEL_MCS).
    let v5 = Layout::Sel4V5X86_64.offsets();
    assert_eq!(
        (v5.init_thread_cnode_size_bits, v5.init_thread_domain),
        (
            Field {
                offset: 136,
                size: 1
            },
            137
        )
    );
    assert_eq!(
        (v5.arch_info, v5.untyped, v5.untyped_list),
        (Some(145), 153, 169)
    );
    assert_eq!(
        (v5.untyped_entry.size, v5.untyped_entry.size_bits),
        (12, 10)
    );
    let v12 = Layout::Sel4V12X86_64.offsets();
    assert_eq!(
        (v12.init_thread_domain, v12.untyped, v12.untyped_list),
        (144, 152, 168)
    );
    assert_eq!(v12.arch_info, None);
    let mcs = Layout::Sel4V12X86_64Mcs.offsets();
    assert_eq!(
        (mcs.schedcontrol, mcs.untyped, mcs.untyped_list),
        (Some(152), 168, 184)
    );
    assert_eq!(Layout::Sel4V5X86_64.max_untypeds(), (4096 - 169) / 12);
    assert_eq!(Layout::Sel4V12X86_64.max_untypeds(), (4096 - 168) / 16);
    assert_eq!(
        Layout::Sel4V12X86_64.with_max_untypeds(230).max_untypeds(),
        230
    );
    assert_eq!(Layout::for_x86_64(5, false), Some(Layout::Sel4V5X86_64));
    assert_eq!(Layout::for_x86_64(16, false), Some(Layout::Sel4V12X86_64));
    assert_eq!(Layout::for_x86_64(13, true), Some(Layout::Sel4V12X86_64Mcs));
    assert_eq!(Layout::for_x86_64(9, false), None);
}

#[test]
fn aarch64_and_riscv64_layouts_match_c_offsets() {
    // offsetof() and sizeof() compiled with aarch64-linux-gnu-gcc and
    // riscv64-linux-gnu-gcc against seL4 16.0.0's installed libsel4
    // (qemu-arm-virt / qemu-riscv-virt, 230 bootinfo untypeds, non-MCS):
    // both gave the same numbers.
    let measured = [
        ("nodeID", 8),
        ("numNodes", 16),
        ("numIOPTLevels", 24),
        ("ipcBuffer", 32),
        ("empty", 40),
        ("sharedFrames", 56),
        ("userImageFrames", 72),
        ("userImagePaging", 88),
        ("ioSpaceCaps", 104),
        ("extraBIPages", 120),
        ("initThreadCNodeSizeBits", 136),
        ("initThreadDomain", 144),
        ("untyped", 152),
        ("untypedList", 168),
    ];
    for layout in [Layout::Sel4V12Aarch64, Layout::Sel4V12Riscv64] {
        let o = layout.offsets();
        let ours = [
            o.node_id,
            o.num_nodes,
            o.num_io_pt_levels,
            o.ipc_buffer,
            o.empty,
            o.shared_frames,
            o.user_image_frames,
            o.user_image_paging,
            o.io_space_caps,
            o.extra_bi_pages,
            o.init_thread_cnode_size_bits.offset,
            o.init_thread_domain,
            o.untyped,
            o.untyped_list,
        ];
        for ((name, want), got) in measured.iter().zip(ours) {
            assert_eq!(got, *want, "{layout:?} {name}");
        }
        assert_eq!(o.extra_len, 0);
        assert_eq!(o.init_thread_cnode_size_bits.size, 8);
        // sizeof(seL4_UntypedDesc) 16, sizeBits at 8, isDevice at 9
        assert_eq!(
            (
                o.untyped_entry.size,
                o.untyped_entry.size_bits,
                o.untyped_entry.is_device
            ),
            (16, 8, 9)
        );
        // sizeof(seL4_BootInfo) = 3848 with 230 untypeds
        let l = layout.with_max_untypeds(230);
        assert_eq!(
            l.offsets().untyped_list + 230 * l.offsets().untyped_entry.size,
            3848
        );
        assert_eq!(o.arch_info, None);
        assert_eq!(o.schedcontrol, None);
    }
    for layout in [Layout::Sel4V12Aarch64Mcs, Layout::Sel4V12Riscv64Mcs] {
        let o = layout.offsets();
        assert_eq!(
            (o.schedcontrol, o.untyped, o.untyped_list),
            (Some(152), 168, 184)
        );
    }
    use Sel4Arch::*;
    assert_eq!(
        Layout::for_arch(Aarch64, 16, false),
        Some(Layout::Sel4V12Aarch64)
    );
    assert_eq!(
        Layout::for_arch(Aarch64, 13, true),
        Some(Layout::Sel4V12Aarch64Mcs)
    );
    assert_eq!(
        Layout::for_arch(Riscv64, 12, false),
        Some(Layout::Sel4V12Riscv64)
    );
    assert_eq!(
        Layout::for_arch(Riscv64, 16, true),
        Some(Layout::Sel4V12Riscv64Mcs)
    );
    assert_eq!(Layout::for_arch(Aarch64, 5, false), None);
    assert_eq!(Layout::for_arch(Riscv64, 17, false), None);
    assert_eq!(
        Layout::for_arch(X86_64, 5, false),
        Some(Layout::Sel4V5X86_64)
    );
    assert_eq!(
        Layout::for_arch(X86_64, 16, true),
        Some(Layout::Sel4V12X86_64Mcs)
    );
    assert_eq!(Aarch64.name(), "aarch64");
}

#[test]
fn parses_aarch64_bootinfo() {
    // The 16.0.0 image, read with the aarch64 layout (same bytes).
    let img = v16_image();
    let bytes = img.build(Kind::V12);
    let a = BootInfo::parse(&bytes, Layout::Sel4V12Aarch64).unwrap();
    let x = BootInfo::parse(&bytes, Layout::Sel4V12X86_64).unwrap();
    assert_eq!(a.untyped(), x.untyped());
    assert_eq!(a.untyped_count(), x.untyped_count());
    assert_eq!(a.empty(), x.empty());
    assert_eq!(a.ipc_buffer(), x.ipc_buffer());
}

#[test]
fn parses_sel4_5_0_0() {
    let img = v5_image();
    let bytes = img.build(Kind::V5);
    assert_eq!(BootInfo::total_len(&bytes, Layout::Sel4V5X86_64), Ok(8192));
    let bi = BootInfo::parse(&bytes, Layout::Sel4V5X86_64).unwrap();
    assert_eq!(bi.extra_len(), 4096);
    assert_eq!(bi.node_id(), 0);
    assert_eq!(bi.num_nodes(), 1);
    assert_eq!(bi.num_io_pt_levels(), 0);
    assert_eq!(bi.ipc_buffer(), 0x4a_6000);
    assert_eq!(
        bi.empty(),
        SlotRegion {
            start: 173,
            end: 4096
        }
    );
    assert_eq!(bi.empty().len(), 4096 - 173);
    assert_eq!(bi.shared_frames().len(), 0);
    assert!(bi.shared_frames().is_empty());
    assert_eq!(bi.user_image_frames(), SlotRegion { start: 13, end: 30 });
    assert_eq!(bi.user_image_paging(), SlotRegion { start: 30, end: 36 });
    assert_eq!(bi.io_space_caps(), SlotRegion { start: 0, end: 0 });
    assert_eq!(bi.extra_bi_pages(), SlotRegion { start: 12, end: 13 });
    assert_eq!(bi.schedcontrol(), None);
    assert_eq!(bi.init_thread_cnode_size_bits(), 12);
    assert_eq!(bi.init_thread_domain(), 0);
    assert_eq!(bi.tsc_mhz(), Some(2793));
    assert_eq!(
        bi.untyped(),
        SlotRegion {
            start: 36,
            end: 173
        }
    );
    assert_eq!(bi.untyped_count(), 137);
    assert_eq!(bi.untypeds().len(), 137);
    let got: Vec<_> = bi.untypeds().collect();
    assert_eq!(got, img.list);
    assert_eq!(bi.untyped_desc(136), Some(img.list[136]));
    assert_eq!(bi.untyped_desc(137), None);
    assert_eq!(bi.untypeds().next_back(), img.list.last().copied());
    assert_eq!(bi.ram_untyped_count(), 30);
    assert_eq!(bi.device_untyped_count(), 107);
    let ram = bi.ram_bytes();
    assert_eq!(ram, 509 * MIB + 22 * 0x8000);
    assert!((505 * MIB..=512 * MIB).contains(&ram));
    let dev: u64 = img
        .list
        .iter()
        .filter(|d| d.is_device)
        .map(|d| 1u64 << d.size_bits)
        .sum();
    assert_eq!(bi.device_bytes(), dev);
    // only a padding chunk
    assert_eq!(bi.extra_chunks().count(), 0);
    let all: Vec<_> = bi.all_extra_chunks().collect();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].id, ExtraChunkId::Padding);
    assert_eq!(all[0].data.len(), 4096 - 16);
    assert_eq!(bi.extra_tsc_mhz(), None);
}

#[test]
fn parses_sel4_16_0_0() {
    let img = v16_image();
    let bytes = img.build(Kind::V12);
    let bi = BootInfo::parse(&bytes, Layout::Sel4V12X86_64).unwrap();
    assert_eq!(bi.extra_len(), img.extra.len());
    assert_eq!(
        BootInfo::total_len(&bytes[..4096], Layout::Sel4V12X86_64),
        Ok(4096 + img.extra.len())
    );
    assert_eq!(bi.ipc_buffer(), 0x4b_1000);
    assert_eq!(
        bi.empty(),
        SlotRegion {
            start: 0x8a,
            end: 0x80000
        }
    );
    assert_eq!(bi.init_thread_cnode_size_bits(), 19);
    assert_eq!(bi.tsc_mhz(), None);
    assert_eq!(bi.extra_tsc_mhz(), Some(3000));
    assert_eq!(bi.untyped_count(), 99);
    assert_eq!(bi.untypeds().collect::<Vec<_>>(), img.list);
    assert_eq!(bi.ram_untyped_count(), 34);
    assert_eq!(bi.device_untyped_count(), 65);
    assert_eq!(bi.device_bytes(), 65 << 30);
    assert_eq!(bi.untyped().get(0), Some(0x27));
    let chunks: Vec<_> = bi.extra_chunks().collect();
    let ids: Vec<_> = chunks.iter().map(|c| c.id).collect();
    assert_eq!(
        ids,
        [
            ExtraChunkId::X86MbMmap,
            ExtraChunkId::X86AcpiRsdp,
            ExtraChunkId::X86TscFreq,
            ExtraChunkId::Unknown(77)
        ]
    );
    assert_eq!(chunks[0].offset, 0);
    assert_eq!(chunks[0].data.len(), 4 + 48);
    assert_eq!(&chunks[1].data[..8], b"RSD PTR ");
    assert_eq!(chunks[3].data, &[1, 2, 3]);
    assert_eq!(ExtraChunkId::Unknown(77).raw(), 77);
    for n in 0..8 {
        assert_eq!(ExtraChunkId::from_raw(n).raw(), n);
    }
    // Without extra: only the frame needed.
    let bi = BootInfo::parse_without_extra(&bytes[..4096], Layout::Sel4V12X86_64).unwrap();
    assert_eq!(bi.extra_chunks().count(), 0);
    assert_eq!(bi.untyped_count(), 99);
    // The v5 parser must not accept this as-is with the same meaning.
    assert_ne!(
        BootInfo::parse(&bytes, Layout::Sel4V5X86_64).map(|b| b.untyped_count()),
        Ok(99)
    );
}

#[test]
fn parses_mcs() {
    let mut img = v16_image();
    img.schedcontrol = (0x8a, 0x8b);
    img.empty = (0x8b, 0x80000);
    let bytes = img.build(Kind::V12Mcs);
    let bi = BootInfo::parse(&bytes, Layout::Sel4V12X86_64Mcs).unwrap();
    assert_eq!(
        bi.schedcontrol(),
        Some(SlotRegion {
            start: 0x8a,
            end: 0x8b
        })
    );
    assert_eq!(bi.untypeds().collect::<Vec<_>>(), img.list);
}

#[test]
fn no_extra() {
    let mut img = v16_image();
    img.extra.clear();
    img.extra_len = 0;
    let bytes = img.build(Kind::V12);
    assert_eq!(bytes.len(), 4096);
    assert_eq!(BootInfo::total_len(&bytes, Layout::Sel4V12X86_64), Ok(4096));
    let bi = BootInfo::parse(&bytes, Layout::Sel4V12X86_64).unwrap();
    assert_eq!(bi.extra_chunks().count(), 0);
    // the frame need not be complete: the list end is enough
    let end = 168 + 99 * 16;
    assert!(BootInfo::parse(&bytes[..end], Layout::Sel4V12X86_64).is_ok());
    assert_eq!(
        BootInfo::parse(&bytes[..end - 1], Layout::Sel4V12X86_64).unwrap_err(),
        Error::TooShort {
            needed: end,
            actual: end - 1
        }
    );
}

#[test]
fn too_short() {
    let bytes = v5_image().build(Kind::V5);
    for n in [0, 1, 8, 100, 168] {
        assert_eq!(
            BootInfo::parse(&bytes[..n], Layout::Sel4V5X86_64).unwrap_err(),
            Error::TooShort {
                needed: 169,
                actual: n
            }
        );
    }
    assert!(BootInfo::total_len(&bytes[..7], Layout::Sel4V5X86_64).is_err());
    let list_end = 169 + 137 * 12;
    assert_eq!(
        BootInfo::parse_without_extra(&bytes[..list_end - 3], Layout::Sel4V5X86_64).unwrap_err(),
        Error::TooShort {
            needed: list_end,
            actual: list_end - 3
        }
    );
}

#[test]
fn too_many_untypeds() {
    let mut img = v5_image();
    img.untyped = (36, 36 + 400);
    let bytes = img.build(Kind::V5);
    assert_eq!(
        BootInfo::parse(&bytes, Layout::Sel4V5X86_64).unwrap_err(),
        Error::TooManyUntypeds {
            count: 400,
            max: 327
        }
    );
    // huge count must not overflow anything
    img.untyped = (0, u64::MAX);
    let bytes = img.build(Kind::V5);
    assert!(matches!(
        BootInfo::parse(&bytes, Layout::Sel4V5X86_64),
        Err(Error::TooManyUntypeds { .. })
    ));
    // configured maximum
    let img = v5_image();
    let bytes = img.build(Kind::V5);
    let l = Layout::Sel4V5X86_64.with_max_untypeds(100);
    assert_eq!(
        BootInfo::parse(&bytes, l).unwrap_err(),
        Error::TooManyUntypeds {
            count: 137,
            max: 100
        }
    );
    assert!(BootInfo::parse(&bytes, Layout::Sel4V5X86_64.with_max_untypeds(230)).is_ok());
}

/// Each fixed region is read from its own field and named by its own
/// name when it is inverted (the parser reads them in one loop).
#[test]
fn every_fixed_region_read_and_named() {
    type Field = fn(&mut Image) -> &mut (u64, u64);
    let fields: [(Field, RegionName); 6] = [
        (|i| &mut i.empty, RegionName::Empty),
        (|i| &mut i.shared_frames, RegionName::SharedFrames),
        (|i| &mut i.user_image_frames, RegionName::UserImageFrames),
        (|i| &mut i.user_image_paging, RegionName::UserImagePaging),
        (|i| &mut i.io_space_caps, RegionName::IoSpaceCaps),
        (|i| &mut i.extra_bi_pages, RegionName::ExtraBiPages),
    ];
    for (field, name) in fields {
        let mut img = v16_image();
        *field(&mut img) = (0x31, 0x30);
        assert_eq!(
            BootInfo::parse(&img.build(Kind::V12), Layout::Sel4V12X86_64).unwrap_err(),
            Error::BadRegion {
                region: name,
                start: 0x31,
                end: 0x30
            },
            "{name:?}"
        );
    }
    let mut img = v16_image();
    for (n, (field, _)) in fields.iter().enumerate() {
        *field(&mut img) = (0x100 * n as u64, 0x100 * n as u64 + n as u64 + 1);
    }
    let bytes = img.build(Kind::V12);
    let bi = BootInfo::parse(&bytes, Layout::Sel4V12X86_64).unwrap();
    let got = [
        bi.empty(),
        bi.shared_frames(),
        bi.user_image_frames(),
        bi.user_image_paging(),
        bi.io_space_caps(),
        bi.extra_bi_pages(),
    ];
    for (n, r) in got.iter().enumerate() {
        assert_eq!(
            (r.start, r.end),
            (0x100 * n, 0x100 * n + n + 1),
            "region {n}"
        );
    }
}

#[test]
fn bad_regions() {
    let mut img = v5_image();
    img.user_image_paging = (40, 30);
    assert_eq!(
        BootInfo::parse(&img.build(Kind::V5), Layout::Sel4V5X86_64).unwrap_err(),
        Error::BadRegion {
            region: RegionName::UserImagePaging,
            start: 40,
            end: 30
        }
    );
    let mut img = v16_image();
    img.untyped = (0x8a, 0x27);
    assert_eq!(
        BootInfo::parse(&img.build(Kind::V12), Layout::Sel4V12X86_64).unwrap_err(),
        Error::BadRegion {
            region: RegionName::Untyped,
            start: 0x8a,
            end: 0x27
        }
    );
    let mut img = v16_image();
    img.schedcontrol = (5, 4);
    assert!(matches!(
        BootInfo::parse(&img.build(Kind::V12Mcs), Layout::Sel4V12X86_64Mcs),
        Err(Error::BadRegion {
            region: RegionName::SchedControl,
            ..
        })
    ));
}

#[test]
fn bad_untyped() {
    let mut img = v16_image();
    img.list[5].size_bits = 64;
    assert_eq!(
        BootInfo::parse(&img.build(Kind::V12), Layout::Sel4V12X86_64).unwrap_err(),
        Error::BadUntyped {
            index: 5,
            paddr: img.list[5].paddr,
            size_bits: 64
        }
    );
    let mut img = v16_image();
    img.list[7] = ut(u64::MAX - 0xfff, 13, false);
    assert!(matches!(
        BootInfo::parse(&img.build(Kind::V12), Layout::Sel4V12X86_64),
        Err(Error::BadUntyped { index: 7, .. })
    ));
}

#[test]
fn bad_extra_chunks() {
    let l = Layout::Sel4V12X86_64;
    let with_extra = |extra: Vec<u8>, extra_len: u64| {
        let mut img = v16_image();
        img.extra = extra;
        img.extra_len = extra_len;
        img.build(Kind::V12)
    };
    // extraLen beyond the bytes given
    let b = with_extra(chunk(5, &[0; 4]), 100);
    assert_eq!(
        BootInfo::parse(&b, l).unwrap_err(),
        Error::ExtraTruncated {
            extra_len: 100,
            available: 20
        }
    );
    // ... but parse_without_extra does not care
    assert!(BootInfo::parse_without_extra(&b, l).is_ok());
    // huge extraLen
    let b = with_extra(chunk(5, &[0; 4]), u64::MAX);
    assert!(matches!(
        BootInfo::parse(&b, l),
        Err(Error::ExtraTruncated { .. })
    ));
    assert!(BootInfo::total_len(&b, l).is_err());
    // zero length chunk (would loop forever)
    let mut c = chunk(1, &[0; 8]);
    put(&mut c, 8, 8, 0);
    let b = with_extra(c, 24);
    assert_eq!(
        BootInfo::parse(&b, l).unwrap_err(),
        Error::BadExtraChunkLen {
            offset: 0,
            id: 1,
            len: 0
        }
    );
    // length smaller than the header
    let mut c = chunk(5, &[0; 4]);
    put(&mut c, 8, 8, 8);
    let b = with_extra(c, 20);
    assert!(matches!(
        BootInfo::parse(&b, l),
        Err(Error::BadExtraChunkLen { len: 8, .. })
    ));
    // length past extraLen (second chunk)
    let mut c = chunk(5, &[0; 4]);
    let mut c2 = chunk(2, &[0; 8]);
    put(&mut c2, 8, 8, 1000);
    c.extend(c2);
    let n = c.len() as u64;
    let b = with_extra(c, n);
    assert_eq!(
        BootInfo::parse(&b, l).unwrap_err(),
        Error::BadExtraChunkLen {
            offset: 20,
            id: 2,
            len: 1000
        }
    );
    // a tail too short for a header
    let mut c = chunk(5, &[0; 4]);
    c.extend([0u8; 7]);
    let n = c.len() as u64;
    let b = with_extra(c, n);
    assert_eq!(
        BootInfo::parse(&b, l).unwrap_err(),
        Error::ExtraHeaderTruncated { offset: 20 }
    );
}

#[test]
fn bad_layout_is_an_error() {
    let mut o = OFFSETS_SEL4_V12_X86_64;
    o.word_size = 3;
    let b = v16_image().build(Kind::V12);
    assert_eq!(
        BootInfo::parse(&b, Layout::Custom(o)).unwrap_err(),
        Error::BadLayout
    );
    let mut o = OFFSETS_SEL4_V12_X86_64;
    o.init_thread_domain = 4000;
    assert_eq!(
        BootInfo::parse(&b, Layout::Custom(o)).unwrap_err(),
        Error::BadLayout
    );
    let mut o = OFFSETS_SEL4_V12_X86_64;
    o.untyped_entry.size = 0;
    assert_eq!(
        BootInfo::parse(&b, Layout::Custom(o)).unwrap_err(),
        Error::BadLayout
    );
    assert_eq!(Layout::Custom(o).max_untypeds(), 0);
}

#[test]
fn custom_32_bit_layout() {
    // A made-up 32-bit packed layout, to show words of 4 bytes work.
    let o = Offsets {
        word_size: 4,
        frame_size: 4096,
        extra_len: 0,
        node_id: 4,
        num_nodes: 8,
        num_io_pt_levels: 12,
        ipc_buffer: 16,
        empty: 20,
        shared_frames: 28,
        user_image_frames: 36,
        user_image_paging: 44,
        io_space_caps: 52,
        extra_bi_pages: 60,
        init_thread_cnode_size_bits: Field {
            offset: 68,
            size: 4,
        },
        init_thread_domain: 72,
        arch_info: None,
        schedcontrol: None,
        untyped: 76,
        untyped_list: 84,
        untyped_entry: UntypedEntryFormat {
            size: 8,
            paddr: 0,
            size_bits: 4,
            is_device: 5,
        },
        max_untypeds: Some(50),
    };
    let mut b = vec![0u8; 4096 + 12];
    put(&mut b, 0, 4, 12);
    put(&mut b, 16, 4, 0x1234_5000);
    put(&mut b, 20, 4, 30);
    put(&mut b, 24, 4, 4096);
    put(&mut b, 68, 4, 12);
    put(&mut b, 76, 4, 20);
    put(&mut b, 80, 4, 22);
    put(&mut b, 84, 4, 0x8000_0000);
    b[88] = 31;
    put(&mut b, 92, 4, 0xf000_0000);
    b[96] = 28;
    b[97] = 1;
    put(&mut b, 4096, 4, 6);
    put(&mut b, 4100, 4, 12);
    put(&mut b, 4104, 4, 0xdead);
    let bi = BootInfo::parse(&b, Layout::Custom(o)).unwrap();
    assert_eq!(bi.ipc_buffer(), 0x1234_5000);
    assert_eq!(bi.empty().len(), 4096 - 30);
    assert_eq!(
        bi.untypeds().collect::<Vec<_>>(),
        [ut(0x8000_0000, 31, false), ut(0xf000_0000, 28, true)]
    );
    let c: Vec<_> = bi.extra_chunks().collect();
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].id, ExtraChunkId::Fdt);
    assert_eq!(c[0].data, &0xdeadu32.to_le_bytes());
    // 0xf000_0000 + 2^29 wraps a 32-bit address space
    b[96] = 29;
    assert!(matches!(
        BootInfo::parse(&b, Layout::Custom(o)),
        Err(Error::BadUntyped { index: 1, .. })
    ));
}

/// Every prefix, and many corrupted copies, of valid images parse to Ok or
/// Err without panicking.
#[test]
fn never_panics() {
    let layouts = [
        Layout::Sel4V5X86_64,
        Layout::Sel4V12X86_64,
        Layout::Sel4V12X86_64Mcs,
    ];
    let images = [
        v5_image().build(Kind::V5),
        v16_image().build(Kind::V12),
        v16_image().build(Kind::V12Mcs),
    ];
    for img in &images {
        for n in (0..img.len()).step_by(7) {
            for l in layouts {
                let _ = BootInfo::parse(&img[..n], l);
                let _ = BootInfo::total_len(&img[..n], l);
            }
        }
    }
    let mut seed = 0x1234_5678_9abc_def0u64;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..3000 {
        let mut img = images[(rand() % 3) as usize].clone();
        for _ in 0..(rand() % 8 + 1) {
            let i = (rand() % img.len() as u64) as usize;
            img[i] = rand() as u8;
        }
        // sometimes smash a length/count word to something extreme
        if rand() % 4 == 0 {
            let off = [0usize, 152, 160, 4104, 153, 161][(rand() % 6) as usize];
            put(&mut img, off, 8, rand());
        }
        for l in layouts {
            if let Ok(bi) = BootInfo::parse(&img, l) {
                let _ = bi.untypeds().count();
                let _ = bi.all_extra_chunks().count();
                let _ = (bi.ram_bytes(), bi.device_bytes(), bi.extra_tsc_mhz());
            }
        }
    }
}

#[test]
fn error_display() {
    use std::string::ToString;
    let e = Error::TooManyUntypeds {
        count: 400,
        max: 327,
    };
    assert_eq!(
        e.to_string(),
        "bootinfo claims 400 untypeds, the layout allows at most 327"
    );
    let e = Error::BadRegion {
        region: RegionName::Empty,
        start: 5,
        end: 4,
    };
    assert!(e.to_string().contains("empty"));
}

#[test]
fn padding_chunk_past_extra_len_ends_the_list() {
    // seL4 12.x and 13.0.0 on x86: extraLen counts the chunks plus one
    // header, and the final padding chunk's length runs to the end of the
    // extra bootinfo page, past extraLen.
    let l = Layout::Sel4V12X86_64;
    let mut extra = chunk(2, &[7; 24]);
    extra.extend(chunk(5, &2000u32.to_le_bytes()));
    let used = extra.len() as u64;
    extra.extend(chunk(0, &[]));
    put(&mut extra, used as usize + 8, 8, 4096 - used);
    let mut img = v16_image();
    img.extra_len = extra.len() as u64;
    img.extra = extra;
    let b = img.build(Kind::V12);
    let bi = BootInfo::parse(&b, l).unwrap();
    assert_eq!(bi.extra_tsc_mhz(), Some(2000));
    let ids: Vec<_> = bi.all_extra_chunks().map(|c| c.id).collect();
    assert_eq!(
        ids,
        [
            ExtraChunkId::from_raw(2),
            ExtraChunkId::from_raw(5),
            ExtraChunkId::Padding
        ]
    );
    let pad = bi.all_extra_chunks().last().unwrap();
    assert_eq!(pad.data.len(), 0);
    assert_eq!(bi.extra_chunks().count(), 2);
    // Only padding may run past extraLen: the same length on another id is
    // an error.
    let mut extra = chunk(5, &2000u32.to_le_bytes());
    let used = extra.len() as u64;
    extra.extend(chunk(3, &[]));
    put(&mut extra, used as usize + 8, 8, 4096 - used);
    let mut img = v16_image();
    img.extra_len = extra.len() as u64;
    img.extra = extra;
    let b = img.build(Kind::V12);
    assert_eq!(
        BootInfo::parse(&b, l).unwrap_err(),
        Error::BadExtraChunkLen {
            offset: used as usize,
            id: 3,
            len: 4096 - used
        }
    );
}

#[test]
fn reserved_slots_and_a_taken_untyped_are_left_out_consistently() {
    let img = v5_image();
    let bytes = img.build(Kind::V5);
    let mut bi = BootInfo::parse(&bytes, Layout::Sel4V5X86_64).unwrap();
    let ram_before = bi.ram_bytes();
    // Slots: the first 10 of the empty region.
    assert_eq!(
        bi.reserve_empty_slots(10),
        SlotRegion {
            start: 173,
            end: 183
        }
    );
    assert_eq!(
        bi.empty(),
        SlotRegion {
            start: 183,
            end: 4096
        }
    );
    assert_eq!(
        bi.kernel_empty(),
        SlotRegion {
            start: 173,
            end: 4096
        }
    );
    assert_eq!(bi.reserved_empty_slots().len(), 10);
    // An untyped in the middle: the last one's capability takes its slot.
    let taken = bi.take_untyped(110).unwrap();
    assert_eq!(taken, img.list[110]);
    assert_eq!(bi.taken_untyped(), Some((110, img.list[110])));
    assert_eq!(bi.take_untyped(111), None, "one untyped only");
    assert_eq!(
        bi.untyped(),
        SlotRegion {
            start: 36,
            end: 172
        }
    );
    assert_eq!(
        bi.kernel_untyped(),
        SlotRegion {
            start: 36,
            end: 173
        }
    );
    assert_eq!(bi.untyped_count(), 136);
    let mut expect = img.list.clone();
    expect.swap_remove(110);
    let got: Vec<_> = bi.untypeds().collect();
    assert_eq!(got, expect);
    let back: Vec<_> = bi.untypeds().rev().collect();
    assert_eq!(back, expect.iter().rev().copied().collect::<Vec<_>>());
    assert_eq!(bi.untyped_desc(110), Some(img.list[136]));
    assert_eq!(bi.untyped_desc(136), None);
    assert_eq!(bi.kernel_untypeds().len(), 137);
    assert_eq!(bi.ram_bytes(), ram_before - taken.size_bytes());
    assert_eq!(bi.ram_untyped_count(), 29);
}

#[test]
fn taking_the_last_untyped_and_reserving_too_much() {
    let img = v5_image();
    let bytes = img.build(Kind::V5);
    let mut bi = BootInfo::parse(&bytes, Layout::Sel4V5X86_64).unwrap();
    assert_eq!(bi.take_untyped(137), None, "out of range");
    assert_eq!(bi.taken_untyped(), None);
    assert_eq!(bi.take_untyped(136), Some(img.list[136]));
    let got: Vec<_> = bi.untypeds().collect();
    assert_eq!(got, img.list[..136]);
    // More than the region: all of it, nothing left.
    assert_eq!(bi.reserve_empty_slots(10_000).len(), 4096 - 173);
    assert!(bi.empty().is_empty());
}
