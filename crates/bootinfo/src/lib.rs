//! Parse the seL4 boot information frame (`seL4_BootInfo`) from bytes.
//!
//! The root task gets a pointer to `seL4_BootInfo`; the runtime turns the
//! bootinfo page (plus the extra bootinfo pages that follow it, if any) into a
//! byte slice and hands it to [`BootInfo::parse`] together with the
//! [`Layout`] of the kernel it was built for. Everything is read with explicit
//! little-endian loads at known offsets, so the packed, unaligned 5.x layout
//! and the naturally aligned 12.x+ layout go through the same code.
//!
//! Layouts (checked with `offsetof` against the C headers of the kernels; the
//! 12.x+ structure has no architecture-dependent field, and aarch64 and
//! riscv64 give the same offsets as x86_64, checked with the cross compilers
//! against seL4 16.0.0's installed libsel4 for qemu-arm-virt and
//! qemu-riscv-virt):
//!
//! | field | 5.0.0 x86_64 (packed) | 12.x-16.0.0 x86_64, aarch64, riscv64 | same, MCS |
//! | --- | --- | --- | --- |
//! | extraLen, nodeID, numNodes, numIOPTLevels, ipcBuffer | 0, 8, 16, 24, 32 | same | same |
//! | empty .. extraBIPages (six `{start, end}` word pairs) | 40 .. 120 | same | same |
//! | initThreadCNodeSizeBits | 136 (u8) | 136 (word) | 136 (word) |
//! | initThreadDomain | 137 (word) | 144 | 144 |
//! | archInfo (TSC MHz) | 145 | - | - |
//! | schedcontrol | - | - | 152 |
//! | untyped | 153 | 152 | 168 |
//! | untypedList | 169, 12-byte entries | 168, 16-byte entries | 184, 16-byte entries |
//!
//! Nothing here panics on bad input: [`BootInfo::parse`] checks every length,
//! region and extra chunk up front and returns an [`Error`].
#![no_std]
#![forbid(unsafe_code)]

use core::fmt;

#[cfg(test)]
mod tests;

/// Size of the bootinfo frame on x86, Arm and RISC-V (`seL4_BootInfoFrameSize`).
/// Extra bootinfo chunks begin this many bytes after the start of the frame.
pub const BOOTINFO_FRAME_SIZE: usize = 4096;

/// One field of the structure: byte offset and width (1, 2, 4 or 8 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// Byte offset from the start of `seL4_BootInfo`.
    pub offset: usize,
    /// Width in bytes (1, 2, 4 or 8).
    pub size: usize,
}

/// Layout of one `seL4_UntypedDesc` entry in `untypedList`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UntypedEntryFormat {
    /// Size of one entry in bytes (the array stride).
    pub size: usize,
    /// Offset of `paddr` (a word) inside the entry.
    pub paddr: usize,
    /// Offset of `sizeBits` (u8) inside the entry.
    pub size_bits: usize,
    /// Offset of `isDevice` (u8) inside the entry.
    pub is_device: usize,
}

/// Byte offsets of every `seL4_BootInfo` field for one kernel version,
/// architecture and configuration. Add a new arch or config by filling one of
/// these in and using [`Layout::Custom`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Offsets {
    /// `sizeof(seL4_Word)`: 8 on 64-bit, 4 on 32-bit kernels.
    pub word_size: usize,
    /// Size of the bootinfo frame; the extra bootinfo chunks start here.
    pub frame_size: usize,
    /// Offset of `extraLen` (word).
    pub extra_len: usize,
    /// Offset of `nodeID` (word).
    pub node_id: usize,
    /// Offset of `numNodes` (word).
    pub num_nodes: usize,
    /// Offset of `numIOPTLevels` (word).
    pub num_io_pt_levels: usize,
    /// Offset of `ipcBuffer` (a pointer, word).
    pub ipc_buffer: usize,
    /// Offset of the `empty` slot region (two words: start, end).
    pub empty: usize,
    /// Offset of the `sharedFrames` slot region.
    pub shared_frames: usize,
    /// Offset of the `userImageFrames` slot region.
    pub user_image_frames: usize,
    /// Offset of the `userImagePaging` slot region.
    pub user_image_paging: usize,
    /// Offset of the `ioSpaceCaps` slot region.
    pub io_space_caps: usize,
    /// Offset of the `extraBIPages` slot region.
    pub extra_bi_pages: usize,
    /// `initThreadCNodeSizeBits`: a u8 in 5.x, a word from 11.x on.
    pub init_thread_cnode_size_bits: Field,
    /// Offset of `initThreadDomain` (word).
    pub init_thread_domain: usize,
    /// `archInfo` (TSC frequency in MHz on x86), 5.x only.
    pub arch_info: Option<usize>,
    /// `schedcontrol` slot region, MCS kernels only.
    pub schedcontrol: Option<usize>,
    /// Offset of the `untyped` slot region.
    pub untyped: usize,
    /// Offset of `untypedList`, the array of `seL4_UntypedDesc`.
    pub untyped_list: usize,
    /// Layout of one `untypedList` entry.
    pub untyped_entry: UntypedEntryFormat,
    /// `CONFIG_MAX_NUM_BOOTINFO_UNTYPED_CAPS` when known. `None`: as many
    /// entries as fit into `frame_size` bytes.
    pub max_untypeds: Option<usize>,
}

const W: usize = 8;

/// seL4 5.x, x86_64: `SEL4_PACKED` structure, unaligned fields.
pub const OFFSETS_SEL4_V5_X86_64: Offsets = Offsets {
    word_size: W,
    frame_size: BOOTINFO_FRAME_SIZE,
    extra_len: 0,
    node_id: 8,
    num_nodes: 16,
    num_io_pt_levels: 24,
    ipc_buffer: 32,
    empty: 40,
    shared_frames: 56,
    user_image_frames: 72,
    user_image_paging: 88,
    io_space_caps: 104,
    extra_bi_pages: 120,
    init_thread_cnode_size_bits: Field {
        offset: 136,
        size: 1,
    },
    init_thread_domain: 137,
    arch_info: Some(145),
    schedcontrol: None,
    untyped: 153,
    untyped_list: 169,
    // {paddr: word, padding1: u8, padding2: u8, sizeBits: u8, isDevice: u8}, packed
    untyped_entry: UntypedEntryFormat {
        size: 12,
        paddr: 0,
        size_bits: 10,
        is_device: 11,
    },
    max_untypeds: None,
};

/// seL4 12.x-16.0.0, x86_64, non-MCS: natural alignment.
pub const OFFSETS_SEL4_V12_X86_64: Offsets = Offsets {
    word_size: W,
    frame_size: BOOTINFO_FRAME_SIZE,
    extra_len: 0,
    node_id: 8,
    num_nodes: 16,
    num_io_pt_levels: 24,
    ipc_buffer: 32,
    empty: 40,
    shared_frames: 56,
    user_image_frames: 72,
    user_image_paging: 88,
    io_space_caps: 104,
    extra_bi_pages: 120,
    init_thread_cnode_size_bits: Field {
        offset: 136,
        size: W,
    },
    init_thread_domain: 144,
    arch_info: None,
    schedcontrol: None,
    untyped: 152,
    untyped_list: 168,
    // {paddr: word, sizeBits: u8, isDevice: u8, padding[6]}
    untyped_entry: UntypedEntryFormat {
        size: 16,
        paddr: 0,
        size_bits: 8,
        is_device: 9,
    },
    max_untypeds: None,
};

/// seL4 12.x-16.0.0, x86_64, MCS: `schedcontrol` sits before `untyped`.
pub const OFFSETS_SEL4_V12_X86_64_MCS: Offsets = Offsets {
    schedcontrol: Some(152),
    untyped: 168,
    untyped_list: 184,
    ..OFFSETS_SEL4_V12_X86_64
};

/// seL4 12.x-16.0.0, aarch64, non-MCS: the same offsets as x86_64.
pub const OFFSETS_SEL4_V12_AARCH64: Offsets = OFFSETS_SEL4_V12_X86_64;
/// seL4 12.x-16.0.0, aarch64, MCS.
pub const OFFSETS_SEL4_V12_AARCH64_MCS: Offsets = OFFSETS_SEL4_V12_X86_64_MCS;
/// seL4 12.x-16.0.0, riscv64, non-MCS: the same offsets as x86_64.
pub const OFFSETS_SEL4_V12_RISCV64: Offsets = OFFSETS_SEL4_V12_X86_64;
/// seL4 12.x-16.0.0, riscv64, MCS.
pub const OFFSETS_SEL4_V12_RISCV64_MCS: Offsets = OFFSETS_SEL4_V12_X86_64_MCS;

/// The seL4 architectures (`KernelSel4Arch`) with known layouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sel4Arch {
    /// `x86_64`.
    X86_64,
    /// `aarch64`.
    Aarch64,
    /// `riscv64`.
    Riscv64,
}

impl Sel4Arch {
    /// The kernel's name for it (`x86_64`, `aarch64`, `riscv64`).
    pub const fn name(self) -> &'static str {
        match self {
            Sel4Arch::X86_64 => "x86_64",
            Sel4Arch::Aarch64 => "aarch64",
            Sel4Arch::Riscv64 => "riscv64",
        }
    }
}

/// Which `seL4_BootInfo` layout the bytes follow.
// `Custom` is big (a table of offsets) but the enum is passed around rarely;
// keeping it `Copy` and allocation-free matters more.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// seL4 5.x, x86_64 (packed structure).
    Sel4V5X86_64,
    /// seL4 12.x to 16.0.0, x86_64, non-MCS.
    Sel4V12X86_64,
    /// seL4 12.x to 16.0.0, x86_64, MCS (`schedcontrol` present).
    Sel4V12X86_64Mcs,
    /// seL4 12.x to 16.0.0, aarch64, non-MCS.
    Sel4V12Aarch64,
    /// seL4 12.x to 16.0.0, aarch64, MCS.
    Sel4V12Aarch64Mcs,
    /// seL4 12.x to 16.0.0, riscv64, non-MCS.
    Sel4V12Riscv64,
    /// seL4 12.x to 16.0.0, riscv64, MCS.
    Sel4V12Riscv64Mcs,
    /// Any other arch/version/config.
    Custom(Offsets),
}

impl Layout {
    /// The field offsets of this layout.
    pub const fn offsets(&self) -> Offsets {
        match self {
            Layout::Sel4V5X86_64 => OFFSETS_SEL4_V5_X86_64,
            Layout::Sel4V12X86_64 => OFFSETS_SEL4_V12_X86_64,
            Layout::Sel4V12X86_64Mcs => OFFSETS_SEL4_V12_X86_64_MCS,
            Layout::Sel4V12Aarch64 => OFFSETS_SEL4_V12_AARCH64,
            Layout::Sel4V12Aarch64Mcs => OFFSETS_SEL4_V12_AARCH64_MCS,
            Layout::Sel4V12Riscv64 => OFFSETS_SEL4_V12_RISCV64,
            Layout::Sel4V12Riscv64Mcs => OFFSETS_SEL4_V12_RISCV64_MCS,
            Layout::Custom(o) => *o,
        }
    }

    /// The layout for a kernel major version on x86_64, if known.
    /// 5 -> [`Layout::Sel4V5X86_64`]; 12..=16 -> [`Layout::Sel4V12X86_64`]
    /// or [`Layout::Sel4V12X86_64Mcs`].
    pub const fn for_x86_64(major: u32, mcs: bool) -> Option<Layout> {
        match (major, mcs) {
            (5, false) => Some(Layout::Sel4V5X86_64),
            (12..=16, false) => Some(Layout::Sel4V12X86_64),
            (12..=16, true) => Some(Layout::Sel4V12X86_64Mcs),
            _ => None,
        }
    }

    /// The layout for a kernel major version on an architecture, if known:
    /// x86_64 as [`Layout::for_x86_64`]; aarch64 and riscv64 for 12..=16
    /// (the project builds them from seL4 12.x-16.0.0 trees only).
    pub const fn for_arch(arch: Sel4Arch, major: u32, mcs: bool) -> Option<Layout> {
        match (arch, major, mcs) {
            (Sel4Arch::X86_64, _, _) => Layout::for_x86_64(major, mcs),
            (Sel4Arch::Aarch64, 12..=16, false) => Some(Layout::Sel4V12Aarch64),
            (Sel4Arch::Aarch64, 12..=16, true) => Some(Layout::Sel4V12Aarch64Mcs),
            (Sel4Arch::Riscv64, 12..=16, false) => Some(Layout::Sel4V12Riscv64),
            (Sel4Arch::Riscv64, 12..=16, true) => Some(Layout::Sel4V12Riscv64Mcs),
            _ => None,
        }
    }

    /// The same layout, limited to `max` untyped descriptors
    /// (`CONFIG_MAX_NUM_BOOTINFO_UNTYPED_CAPS` of the kernel). Returns a
    /// [`Layout::Custom`].
    pub const fn with_max_untypeds(self, max: usize) -> Layout {
        let mut o = self.offsets();
        o.max_untypeds = Some(max);
        Layout::Custom(o)
    }

    /// The largest untyped count these offsets accept: the configured maximum
    /// if known, and never more entries than fit in the bootinfo frame.
    pub const fn max_untypeds(&self) -> usize {
        let o = self.offsets();
        let fit = if o.frame_size > o.untyped_list && o.untyped_entry.size > 0 {
            (o.frame_size - o.untyped_list) / o.untyped_entry.size
        } else {
            0
        };
        match o.max_untypeds {
            Some(m) if m < fit => m,
            _ => fit,
        }
    }
}

/// A range of slots in the root CNode, `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub struct SlotRegion {
    /// First slot of the region.
    pub start: usize,
    /// First slot after the region.
    pub end: usize,
}

impl SlotRegion {
    /// Number of slots (0 if `end < start`, which [`BootInfo::parse`] rejects).
    pub const fn len(&self) -> usize {
        self.end.saturating_sub(self.start)
    }

    /// Whether the region has no slots.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `slot` lies in the region.
    pub const fn contains(&self, slot: usize) -> bool {
        self.start <= slot && slot < self.end
    }

    /// Slot `i` of the region, if inside it.
    pub const fn get(&self, i: usize) -> Option<usize> {
        if i < self.len() {
            Some(self.start + i)
        } else {
            None
        }
    }
}

/// One `seL4_UntypedDesc`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UntypedDesc {
    /// Physical address of the memory (`paddr`).
    pub paddr: u64,
    /// The memory is `2^size_bits` bytes (`sizeBits`).
    pub size_bits: u8,
    /// Device memory (MMIO, not RAM: no kernel objects from it)
    /// (`isDevice`).
    pub is_device: bool,
}

impl UntypedDesc {
    /// `2^size_bits` (saturating at `u64::MAX` for size_bits >= 64).
    pub const fn size_bytes(&self) -> u64 {
        if self.size_bits >= 64 {
            u64::MAX
        } else {
            1u64 << self.size_bits
        }
    }

    /// One past the last physical address (saturating).
    pub const fn end(&self) -> u64 {
        self.paddr.saturating_add(self.size_bytes())
    }
}

/// Identifier of an extra bootinfo chunk (a global namespace across arches:
/// `SEL4_BOOTINFO_HEADER_*`). 5.0.0 defines 0 and 1, 12.x-16.0.0 define 0-6.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExtraChunkId {
    /// 0: padding, no content.
    Padding,
    /// 1: `seL4_X86_BootInfo_VBE` (the VESA BIOS Extensions information).
    X86Vbe,
    /// 2: `seL4_X86_BootInfo_mmap_t` (multiboot memory map).
    X86MbMmap,
    /// 3: ACPI RSDP.
    X86AcpiRsdp,
    /// 4: multiboot2 framebuffer info.
    X86Framebuffer,
    /// 5: TSC frequency in MHz (a u32).
    X86TscFreq,
    /// 6: flattened device tree.
    Fdt,
    /// An identifier this crate does not know (a later kernel's).
    Unknown(u64),
}

impl ExtraChunkId {
    /// The identifier with this raw value.
    pub const fn from_raw(id: u64) -> Self {
        match id {
            0 => Self::Padding,
            1 => Self::X86Vbe,
            2 => Self::X86MbMmap,
            3 => Self::X86AcpiRsdp,
            4 => Self::X86Framebuffer,
            5 => Self::X86TscFreq,
            6 => Self::Fdt,
            n => Self::Unknown(n),
        }
    }

    /// The raw value (the chunk header's `id` word).
    pub const fn raw(&self) -> u64 {
        match self {
            Self::Padding => 0,
            Self::X86Vbe => 1,
            Self::X86MbMmap => 2,
            Self::X86AcpiRsdp => 3,
            Self::X86Framebuffer => 4,
            Self::X86TscFreq => 5,
            Self::Fdt => 6,
            Self::Unknown(n) => *n,
        }
    }
}

/// One extra bootinfo chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtraChunk<'a> {
    /// What the chunk holds (its header's `id`).
    pub id: ExtraChunkId,
    /// Offset of the chunk's header from the start of the extra region
    /// (that is, from `frame_size` bytes after the start of the bootinfo).
    pub offset: usize,
    /// The chunk's content, without the `{id, len}` header.
    pub data: &'a [u8],
}

/// Which slot region a [`Error::BadRegion`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionName {
    /// `empty`.
    Empty,
    /// `sharedFrames`.
    SharedFrames,
    /// `userImageFrames`.
    UserImageFrames,
    /// `userImagePaging`.
    UserImagePaging,
    /// `ioSpaceCaps`.
    IoSpaceCaps,
    /// `extraBIPages`.
    ExtraBiPages,
    /// `schedcontrol` (MCS).
    SchedControl,
    /// `untyped`.
    Untyped,
}

impl RegionName {
    /// The kernel's field name (`sharedFrames`, ...).
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::SharedFrames => "sharedFrames",
            Self::UserImageFrames => "userImageFrames",
            Self::UserImagePaging => "userImagePaging",
            Self::IoSpaceCaps => "ioSpaceCaps",
            Self::ExtraBiPages => "extraBIPages",
            Self::SchedControl => "schedcontrol",
            Self::Untyped => "untyped",
        }
    }
}

/// Why bytes are not a valid `seL4_BootInfo` of the given layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The bytes end before the fixed fields or the untyped list end.
    TooShort {
        /// Bytes the layout needs.
        needed: usize,
        /// Bytes given.
        actual: usize,
    },
    /// The layout itself is unusable (word size not 1/2/4/8, a field past the
    /// untyped list, ...).
    BadLayout,
    /// A slot region has `start > end`.
    BadRegion {
        /// Which region.
        region: RegionName,
        /// Its `start` word.
        start: u64,
        /// Its `end` word.
        end: u64,
    },
    /// `untyped.end - untyped.start` exceeds what the layout allows
    /// (configured maximum or what fits in the frame).
    TooManyUntypeds {
        /// `untyped.end - untyped.start`.
        count: u64,
        /// The most entries the layout allows.
        max: usize,
    },
    /// An untyped descriptor has `sizeBits` >= the word width or its range
    /// wraps around the address space.
    BadUntyped {
        /// Index of the entry in `untypedList`.
        index: usize,
        /// Its `paddr`.
        paddr: u64,
        /// Its `sizeBits`.
        size_bits: u8,
    },
    /// A word value does not fit in a `usize` on this machine.
    ValueTooLarge {
        /// Byte offset of the word in the bootinfo.
        offset: usize,
        /// The value read.
        value: u64,
    },
    /// `extraLen` > 0 but the bytes do not reach `frame_size + extraLen`.
    ExtraTruncated {
        /// The bootinfo's `extraLen`.
        extra_len: u64,
        /// Bytes given after `frame_size`.
        available: usize,
    },
    /// Fewer bytes than a chunk header remain before `extraLen`.
    ExtraHeaderTruncated {
        /// Offset of the header from the start of the extra region.
        offset: usize,
    },
    /// A chunk's `len` is smaller than its header or runs past `extraLen`.
    BadExtraChunkLen {
        /// Offset of the chunk's header from the start of the extra region.
        offset: usize,
        /// The chunk's `id` word.
        id: u64,
        /// The chunk's `len` word (header included).
        len: u64,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::TooShort { needed, actual } => {
                write!(f, "bootinfo too short: need {needed} bytes, have {actual}")
            }
            Error::BadLayout => write!(f, "unusable bootinfo layout description"),
            Error::BadRegion { region, start, end } => write!(
                f,
                "bootinfo slot region {} has start {start:#x} > end {end:#x}",
                region.as_str()
            ),
            Error::TooManyUntypeds { count, max } => write!(
                f,
                "bootinfo claims {count} untypeds, the layout allows at most {max}"
            ),
            Error::BadUntyped {
                index,
                paddr,
                size_bits,
            } => write!(
                f,
                "untyped descriptor {index} is invalid (paddr {paddr:#x}, sizeBits {size_bits})"
            ),
            Error::ValueTooLarge { offset, value } => write!(
                f,
                "bootinfo word at offset {offset} ({value:#x}) does not fit in usize"
            ),
            Error::ExtraTruncated {
                extra_len,
                available,
            } => write!(
                f,
                "extraLen is {extra_len} but only {available} bytes follow the bootinfo frame"
            ),
            Error::ExtraHeaderTruncated { offset } => write!(
                f,
                "extra bootinfo: chunk header at offset {offset} runs past extraLen"
            ),
            Error::BadExtraChunkLen { offset, id, len } => write!(
                f,
                "extra bootinfo: chunk at offset {offset} (id {id}) has bad length {len}"
            ),
        }
    }
}

/// Read a little-endian unsigned integer of `size` bytes (1, 2, 4 or 8).
#[inline]
fn read_le(bytes: &[u8], offset: usize, size: usize) -> Option<u64> {
    // One fixed-size read per width (no copy of a run-time length).
    fn at<const N: usize>(bytes: &[u8], offset: usize) -> Option<[u8; N]> {
        bytes.get(offset..offset.checked_add(N)?)?.try_into().ok()
    }
    Some(match size {
        8 => u64::from_le_bytes(at(bytes, offset)?),
        4 => u64::from(u32::from_le_bytes(at(bytes, offset)?)),
        2 => u64::from(u16::from_le_bytes(at(bytes, offset)?)),
        1 => u64::from(*bytes.get(offset)?),
        _ => return None,
    })
}

fn to_usize(value: u64, offset: usize) -> Result<usize, Error> {
    usize::try_from(value).map_err(|_| Error::ValueTooLarge { offset, value })
}

/// A parsed, validated view of a `seL4_BootInfo` (and its extra chunks):
/// the one bootinfo type of the framework.
///
/// A runtime may keep resources of the bootinfo for itself before the
/// application sees it: slots at the start of the empty region
/// ([`BootInfo::reserve_empty_slots`]) and one untyped
/// ([`BootInfo::take_untyped`]). The accessors [`BootInfo::empty`],
/// [`BootInfo::untyped`], [`BootInfo::untypeds`] and the untyped counts
/// and totals then leave those out, consistently; the `kernel_*`
/// accessors give the regions and the untyped list as the kernel wrote
/// them.
#[derive(Clone, Copy, Debug)]
pub struct BootInfo<'a> {
    bytes: &'a [u8],
    /// The untyped list's bytes (checked at parse: `untyped.len()` entries).
    untyped_list: &'a [u8],
    /// The layout's untyped entry format and word size: all a view reads
    /// after the parse (not the whole `Offsets`, which every move of the
    /// view would copy).
    untyped_entry: UntypedEntryFormat,
    word_size: usize,
    extra: &'a [u8],
    extra_len: usize,
    node_id: usize,
    num_nodes: usize,
    num_io_pt_levels: usize,
    ipc_buffer: usize,
    empty: SlotRegion,
    shared_frames: SlotRegion,
    user_image_frames: SlotRegion,
    user_image_paging: SlotRegion,
    io_space_caps: SlotRegion,
    extra_bi_pages: SlotRegion,
    schedcontrol: Option<SlotRegion>,
    init_thread_cnode_size_bits: usize,
    init_thread_domain: usize,
    arch_info: Option<u64>,
    untyped: SlotRegion,
    /// Slots at the start of `empty` kept by a runtime.
    reserved_empty: usize,
    /// Index of the untyped a runtime took; the last untyped's capability
    /// now sits in its slot.
    taken_untyped: Option<usize>,
}

impl<'a> BootInfo<'a> {
    /// How many bytes the caller should pass to [`BootInfo::parse`]: the
    /// bootinfo frame plus `extraLen` bytes of extra bootinfo. Reads only
    /// `extraLen` (the first word), so `head` can be the first page alone.
    pub fn total_len(head: &[u8], layout: Layout) -> Result<usize, Error> {
        let o = layout.offsets();
        let extra_len = read_le(head, o.extra_len, o.word_size).ok_or(Error::TooShort {
            needed: o.extra_len + o.word_size,
            actual: head.len(),
        })?;
        let extra_len = to_usize(extra_len, o.extra_len)?;
        if extra_len == 0 {
            return Ok(o.frame_size);
        }
        o.frame_size
            .checked_add(extra_len)
            .ok_or(Error::ValueTooLarge {
                offset: o.extra_len,
                value: extra_len as u64,
            })
    }

    /// Parse and validate. `bytes` starts at the bootinfo frame; when
    /// `extraLen` > 0 it must also hold the extra bootinfo that follows the
    /// frame (`frame_size + extraLen` bytes in all, see [`BootInfo::total_len`]).
    pub fn parse(bytes: &'a [u8], layout: Layout) -> Result<Self, Error> {
        Self::parse_inner(bytes, layout, true)
    }

    /// Like [`BootInfo::parse`] but ignores the extra bootinfo (the view then
    /// has no extra chunks); `bytes` needs only reach the end of the untyped
    /// list.
    pub fn parse_without_extra(bytes: &'a [u8], layout: Layout) -> Result<Self, Error> {
        Self::parse_inner(bytes, layout, false)
    }

    fn parse_inner(bytes: &'a [u8], layout: Layout, with_extra: bool) -> Result<Self, Error> {
        let o = layout.offsets();
        let ws = o.word_size;
        if !matches!(ws, 1 | 2 | 4 | 8)
            || !matches!(o.init_thread_cnode_size_bits.size, 1 | 2 | 4 | 8)
            || o.untyped_entry.size == 0
            || o.untyped_entry.paddr.saturating_add(ws) > o.untyped_entry.size
            || o.untyped_entry.size_bits >= o.untyped_entry.size
            || o.untyped_entry.is_device >= o.untyped_entry.size
        {
            return Err(Error::BadLayout);
        }
        // Every fixed field must lie below the untyped list; then one length
        // check covers them all.
        let fixed_end = o.untyped_list;
        let region_fields = [
            o.empty,
            o.shared_frames,
            o.user_image_frames,
            o.user_image_paging,
            o.io_space_caps,
            o.extra_bi_pages,
            o.untyped,
        ];
        let word_fields = [
            o.extra_len,
            o.node_id,
            o.num_nodes,
            o.num_io_pt_levels,
            o.ipc_buffer,
            o.init_thread_domain,
        ];
        let fits = |off: usize, size: usize| off.checked_add(size).is_some_and(|e| e <= fixed_end);
        if !region_fields.iter().all(|&f| fits(f, 2 * ws))
            || !word_fields.iter().all(|&f| fits(f, ws))
            || !fits(
                o.init_thread_cnode_size_bits.offset,
                o.init_thread_cnode_size_bits.size,
            )
            || !o.arch_info.map_or(true, |f| fits(f, ws))
            || !o.schedcontrol.map_or(true, |f| fits(f, 2 * ws))
        {
            return Err(Error::BadLayout);
        }
        if bytes.len() < fixed_end {
            return Err(Error::TooShort {
                needed: fixed_end,
                actual: bytes.len(),
            });
        }

        // In bounds from here on: checked above.
        let word = |off: usize| read_le(bytes, off, ws).unwrap_or(0);
        let uword = |off: usize| to_usize(word(off), off);
        let region = |off: usize, name: RegionName| -> Result<SlotRegion, Error> {
            let start = word(off);
            let end = word(off + ws);
            if start > end {
                return Err(Error::BadRegion {
                    region: name,
                    start,
                    end,
                });
            }
            Ok(SlotRegion {
                start: to_usize(start, off)?,
                end: to_usize(end, off + ws)?,
            })
        };

        let extra_len = uword(o.extra_len)?;
        // One loop for the fixed regions (one copy of the checks, not six).
        let mut regions = [SlotRegion::default(); 6];
        for (r, (off, name)) in regions.iter_mut().zip([
            (o.empty, RegionName::Empty),
            (o.shared_frames, RegionName::SharedFrames),
            (o.user_image_frames, RegionName::UserImageFrames),
            (o.user_image_paging, RegionName::UserImagePaging),
            (o.io_space_caps, RegionName::IoSpaceCaps),
            (o.extra_bi_pages, RegionName::ExtraBiPages),
        ]) {
            *r = region(off, name)?;
        }
        let [empty, shared_frames, user_image_frames, user_image_paging, io_space_caps, extra_bi_pages] =
            regions;
        let schedcontrol = match o.schedcontrol {
            Some(off) => Some(region(off, RegionName::SchedControl)?),
            None => None,
        };

        // The untyped list: count against the layout's maximum, then bytes.
        let untyped_start = word(o.untyped);
        let untyped_end = word(o.untyped + ws);
        if untyped_start > untyped_end {
            return Err(Error::BadRegion {
                region: RegionName::Untyped,
                start: untyped_start,
                end: untyped_end,
            });
        }
        let count = untyped_end - untyped_start;
        let max = layout.max_untypeds();
        if count > max as u64 {
            return Err(Error::TooManyUntypeds { count, max });
        }
        let untyped = SlotRegion {
            start: to_usize(untyped_start, o.untyped)?,
            end: to_usize(untyped_end, o.untyped + ws)?,
        };
        // count <= max <= frame_size / entry size: no overflow.
        let list_end = o.untyped_list + count as usize * o.untyped_entry.size;
        if bytes.len() < list_end {
            return Err(Error::TooShort {
                needed: list_end,
                actual: bytes.len(),
            });
        }
        let word_bits = (ws * 8) as u32;
        let untyped_list = &bytes[o.untyped_list..list_end];
        let list = Untypeds {
            list: untyped_list,
            format: o.untyped_entry,
            word_size: ws,
            front: 0,
            back: count as usize,
            swap: None,
        };
        for index in 0..count as usize {
            let d = list.get(index);
            let word_max = if word_bits >= 64 {
                u64::MAX
            } else {
                (1u64 << word_bits) - 1
            };
            let bad = u32::from(d.size_bits) >= word_bits
                || d.paddr
                    .checked_add(d.size_bytes() - 1)
                    .map_or(true, |last| last > word_max);
            if bad {
                return Err(Error::BadUntyped {
                    index,
                    paddr: d.paddr,
                    size_bits: d.size_bits,
                });
            }
        }

        // Extra bootinfo chunks.
        let extra: &'a [u8] = if with_extra && extra_len > 0 {
            let available = bytes.len().saturating_sub(o.frame_size);
            let end = o.frame_size.checked_add(extra_len);
            match end.and_then(|e| bytes.get(o.frame_size..e)) {
                Some(e) => e,
                None => {
                    return Err(Error::ExtraTruncated {
                        extra_len: extra_len as u64,
                        available,
                    })
                }
            }
        } else {
            &[]
        };
        validate_extra(extra, ws)?;

        Ok(BootInfo {
            bytes,
            untyped_list,
            untyped_entry: o.untyped_entry,
            word_size: ws,
            extra,
            extra_len,
            node_id: uword(o.node_id)?,
            num_nodes: uword(o.num_nodes)?,
            num_io_pt_levels: uword(o.num_io_pt_levels)?,
            ipc_buffer: uword(o.ipc_buffer)?,
            empty,
            shared_frames,
            user_image_frames,
            user_image_paging,
            io_space_caps,
            extra_bi_pages,
            schedcontrol,
            init_thread_cnode_size_bits: to_usize(
                read_le(
                    bytes,
                    o.init_thread_cnode_size_bits.offset,
                    o.init_thread_cnode_size_bits.size,
                )
                .unwrap_or(0),
                o.init_thread_cnode_size_bits.offset,
            )?,
            init_thread_domain: uword(o.init_thread_domain)?,
            arch_info: o.arch_info.map(word),
            untyped,
            reserved_empty: 0,
            taken_untyped: None,
        })
    }

    /// Leaves the first `n` slots of the empty region out of
    /// [`BootInfo::empty`] (a runtime keeps them for its own objects; at
    /// most the whole region). Returns the slots left out, as the kernel
    /// numbered them.
    pub fn reserve_empty_slots(&mut self, n: usize) -> SlotRegion {
        let e = self.empty;
        self.reserved_empty = n.min(e.len());
        SlotRegion {
            start: e.start,
            end: e.start + self.reserved_empty,
        }
    }

    /// Slots at the start of the kernel's empty region that
    /// [`BootInfo::empty`] leaves out.
    pub fn reserved_empty_slots(&self) -> SlotRegion {
        let e = self.empty;
        SlotRegion {
            start: e.start,
            end: e.start + self.reserved_empty,
        }
    }

    /// Records that a runtime took untyped `index` (of the kernel's list)
    /// for itself and moved the capability of the kernel's *last* untyped
    /// into the freed slot: from then on [`BootInfo::untyped`] has one slot
    /// less and each descriptor of [`BootInfo::untypeds`] matches the
    /// capability in its slot. Returns the taken descriptor; `None` (and
    /// nothing changes) if `index` is out of range or an untyped was taken
    /// already.
    pub fn take_untyped(&mut self, index: usize) -> Option<UntypedDesc> {
        if self.taken_untyped.is_some() {
            return None;
        }
        let desc = self.kernel_untypeds().nth(index)?;
        self.taken_untyped = Some(index);
        Some(desc)
    }

    /// The untyped a runtime took ([`BootInfo::take_untyped`]): its index
    /// in the kernel's list and its descriptor.
    pub fn taken_untyped(&self) -> Option<(usize, UntypedDesc)> {
        let i = self.taken_untyped?;
        Some((i, self.kernel_untypeds().nth(i)?))
    }

    /// The bytes this view was parsed from.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// `extraLen`: bytes of extra bootinfo after the frame.
    pub fn extra_len(&self) -> usize {
        self.extra_len
    }

    /// `nodeID`: the core this bootinfo is for (0 on uniprocessor kernels).
    pub fn node_id(&self) -> usize {
        self.node_id
    }

    /// `numNodes`: number of cores the kernel runs on.
    pub fn num_nodes(&self) -> usize {
        self.num_nodes
    }

    /// `numIOPTLevels`: levels of the IOMMU page tables (0 without an
    /// IOMMU).
    pub fn num_io_pt_levels(&self) -> usize {
        self.num_io_pt_levels
    }

    /// Address of the initial thread's IPC buffer.
    pub fn ipc_buffer(&self) -> usize {
        self.ipc_buffer
    }

    /// Empty slots of the root CNode the application may use (the
    /// kernel's empty region without the slots a runtime reserved).
    pub fn empty(&self) -> SlotRegion {
        SlotRegion {
            start: self.empty.start + self.reserved_empty,
            end: self.empty.end,
        }
    }

    /// The empty region as the kernel wrote it (a runtime's reserved slots
    /// included).
    pub fn kernel_empty(&self) -> SlotRegion {
        self.empty
    }

    /// `sharedFrames`: frames shared between cores (unused by the kernels
    /// here: empty).
    pub fn shared_frames(&self) -> SlotRegion {
        self.shared_frames
    }

    /// `userImageFrames`: the frames of the root task's image, in address
    /// order.
    pub fn user_image_frames(&self) -> SlotRegion {
        self.user_image_frames
    }

    /// `userImagePaging`: the paging structures that map the image.
    pub fn user_image_paging(&self) -> SlotRegion {
        self.user_image_paging
    }

    /// `ioSpaceCaps`: IOMMU space capabilities (empty without an IOMMU).
    pub fn io_space_caps(&self) -> SlotRegion {
        self.io_space_caps
    }

    /// `extraBIPages`: frames of the extra bootinfo pages.
    pub fn extra_bi_pages(&self) -> SlotRegion {
        self.extra_bi_pages
    }

    /// `schedcontrol` (MCS layouts only).
    pub fn schedcontrol(&self) -> Option<SlotRegion> {
        self.schedcontrol
    }

    /// The root CNode has `2^init_thread_cnode_size_bits` slots.
    pub fn init_thread_cnode_size_bits(&self) -> usize {
        self.init_thread_cnode_size_bits
    }

    /// `initThreadDomain`: the scheduling domain of the initial thread.
    pub fn init_thread_domain(&self) -> usize {
        self.init_thread_domain
    }

    /// `archInfo`: the TSC frequency in MHz (seL4 5.x on x86 only; `None` for
    /// layouts without the field). 12.x+ report it in an extra chunk instead:
    /// see [`BootInfo::extra_tsc_mhz`].
    pub fn tsc_mhz(&self) -> Option<u64> {
        self.arch_info
    }

    /// The TSC frequency in MHz from the `X86TscFreq` extra chunk (12.x+).
    pub fn extra_tsc_mhz(&self) -> Option<u32> {
        let c = self.find_extra_chunk(ExtraChunkId::X86TscFreq)?;
        let b: [u8; 4] = c.data.get(..4)?.try_into().ok()?;
        Some(u32::from_le_bytes(b))
    }

    /// The slots holding the untyped caps the application may use; its
    /// length is the number of descriptors (one less than the kernel's when
    /// a runtime took one: [`BootInfo::take_untyped`]).
    pub fn untyped(&self) -> SlotRegion {
        let u = self.untyped;
        SlotRegion {
            start: u.start,
            end: u.end - usize::from(self.taken_untyped.is_some()),
        }
    }

    /// Number of untyped descriptors (`untyped().len()`).
    pub fn untyped_count(&self) -> usize {
        self.untyped().len()
    }

    /// The untyped descriptors the application may use, in slot order
    /// (descriptor `i` describes the cap in slot `untyped().start + i`).
    pub fn untypeds(&self) -> Untypeds<'a> {
        let mut u = self.kernel_untypeds();
        if let Some(taken) = self.taken_untyped {
            // The last entry's capability sits in the taken one's slot.
            u.back -= 1;
            u.swap = Some((taken, u.back));
        }
        u
    }

    /// The untyped slots as the kernel wrote them (a taken untyped
    /// included).
    pub fn kernel_untyped(&self) -> SlotRegion {
        self.untyped
    }

    /// The untyped descriptors in the kernel's order (before a runtime
    /// took one and moved the last capability into its slot).
    pub fn kernel_untypeds(&self) -> Untypeds<'a> {
        let n = self.untyped.len();
        Untypeds {
            list: self.untyped_list,
            format: self.untyped_entry,
            word_size: self.word_size,
            front: 0,
            back: n,
            swap: None,
        }
    }

    /// Descriptor `index`, if in range.
    pub fn untyped_desc(&self, index: usize) -> Option<UntypedDesc> {
        self.untypeds().nth(index)
    }

    /// Total bytes of RAM (non-device) untypeds.
    pub fn ram_bytes(&self) -> u64 {
        self.untyped_totals(false).1
    }

    /// Total bytes of device untypeds.
    pub fn device_bytes(&self) -> u64 {
        self.untyped_totals(true).1
    }

    /// Number of RAM (non-device) untypeds.
    pub fn ram_untyped_count(&self) -> usize {
        self.untyped_totals(false).0
    }

    /// Number of device untypeds.
    pub fn device_untyped_count(&self) -> usize {
        self.untyped_totals(true).0
    }

    /// Number and total bytes of the device (or RAM) untypeds: one walk
    /// of the list behind the four methods above (not inlined into each
    /// caller: a root task's size, issue 11).
    #[inline(never)]
    fn untyped_totals(&self, device: bool) -> (usize, u64) {
        self.untypeds()
            .filter(|d| d.is_device == device)
            .fold((0, 0u64), |(n, b), d| {
                (n + 1, b.saturating_add(d.size_bytes()))
            })
    }

    /// The extra bootinfo region (empty if `extraLen` is 0 or the view was
    /// made by [`BootInfo::parse_without_extra`]).
    pub fn extra_bytes(&self) -> &'a [u8] {
        self.extra
    }

    /// The extra bootinfo chunks, padding chunks (id 0) skipped.
    pub fn extra_chunks(&self) -> ExtraChunks<'a> {
        ExtraChunks {
            data: self.extra,
            offset: 0,
            word_size: self.word_size,
            skip_padding: true,
        }
    }

    /// All extra bootinfo chunks, padding included.
    pub fn all_extra_chunks(&self) -> ExtraChunks<'a> {
        ExtraChunks {
            skip_padding: false,
            ..self.extra_chunks()
        }
    }

    /// The first chunk with this id.
    pub fn find_extra_chunk(&self, id: ExtraChunkId) -> Option<ExtraChunk<'a>> {
        self.all_extra_chunks().find(|c| c.id == id)
    }
}

/// Walk the chunk list once; afterwards [`ExtraChunks`] cannot fail.
fn validate_extra(extra: &[u8], ws: usize) -> Result<(), Error> {
    let header = 2 * ws;
    let mut offset = 0usize;
    while offset < extra.len() {
        let remaining = extra.len() - offset;
        if remaining < header {
            return Err(Error::ExtraHeaderTruncated { offset });
        }
        let id = read_le(extra, offset, ws).unwrap_or(0);
        let len = read_le(extra, offset + ws, ws).unwrap_or(0);
        if id == ExtraChunkId::Padding.raw() && len >= header as u64 && len > remaining as u64 {
            // seL4 12.x and 13.0.0 (x86) end the list with a padding chunk
            // whose length runs to the end of the extra bootinfo pages, past
            // extraLen (extraLen counts only its header): that chunk is the
            // last one and is cut at extraLen.
            return Ok(());
        }
        if len < header as u64 || len > remaining as u64 {
            return Err(Error::BadExtraChunkLen { offset, id, len });
        }
        offset += len as usize;
    }
    Ok(())
}

/// Iterator over untyped descriptors.
#[derive(Clone, Debug)]
pub struct Untypeds<'a> {
    list: &'a [u8],
    format: UntypedEntryFormat,
    word_size: usize,
    front: usize,
    back: usize,
    /// `(i, j)`: position `i` reads entry `j` (a runtime's taken untyped,
    /// replaced by the last one).
    swap: Option<(usize, usize)>,
}

impl Untypeds<'_> {
    /// The list entry describing position `i`.
    fn entry_of(&self, i: usize) -> usize {
        match self.swap {
            Some((at, last)) if at == i => last,
            _ => i,
        }
    }

    #[inline]
    fn get(&self, i: usize) -> UntypedDesc {
        // The entry's bytes once (the list holds whole entries: checked
        // when the view was made), then its fields from them.
        let base = i * self.format.size;
        let entry = self.list.get(base..base + self.format.size).unwrap_or(&[]);
        UntypedDesc {
            paddr: read_le(entry, self.format.paddr, self.word_size).unwrap_or(0),
            size_bits: entry.get(self.format.size_bits).copied().unwrap_or(0),
            is_device: entry.get(self.format.is_device).is_some_and(|&b| b != 0),
        }
    }
}

impl Iterator for Untypeds<'_> {
    type Item = UntypedDesc;

    #[inline]
    fn next(&mut self) -> Option<UntypedDesc> {
        if self.front >= self.back {
            return None;
        }
        let d = self.get(self.entry_of(self.front));
        self.front += 1;
        Some(d)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.back - self.front;
        (n, Some(n))
    }

    fn nth(&mut self, n: usize) -> Option<UntypedDesc> {
        self.front = self.front.saturating_add(n).min(self.back);
        self.next()
    }
}

impl DoubleEndedIterator for Untypeds<'_> {
    fn next_back(&mut self) -> Option<UntypedDesc> {
        if self.front >= self.back {
            return None;
        }
        self.back -= 1;
        Some(self.get(self.entry_of(self.back)))
    }
}

impl ExactSizeIterator for Untypeds<'_> {}

/// Iterator over extra bootinfo chunks (validated by [`BootInfo::parse`]).
#[derive(Clone, Debug)]
pub struct ExtraChunks<'a> {
    data: &'a [u8],
    offset: usize,
    word_size: usize,
    skip_padding: bool,
}

impl<'a> Iterator for ExtraChunks<'a> {
    type Item = ExtraChunk<'a>;

    fn next(&mut self) -> Option<ExtraChunk<'a>> {
        loop {
            let ws = self.word_size;
            let offset = self.offset;
            let id = read_le(self.data, offset, ws)?;
            let len = read_le(self.data, offset.checked_add(ws)?, ws)?;
            let len = usize::try_from(len).ok()?;
            let mut end = offset.checked_add(len)?;
            if id == ExtraChunkId::Padding.raw() && len >= 2 * ws && end > self.data.len() {
                // A final padding chunk longer than extraLen (12.x, 13.0.0):
                // cut at extraLen, as validation allowed.
                end = self.data.len();
            }
            if len < 2 * ws || end > self.data.len() {
                // Cannot happen after validation; stop rather than loop.
                self.offset = self.data.len();
                return None;
            }
            self.offset = end;
            let id = ExtraChunkId::from_raw(id);
            if self.skip_padding && id == ExtraChunkId::Padding {
                continue;
            }
            return Some(ExtraChunk {
                id,
                offset,
                data: &self.data[offset + 2 * ws..end],
            });
        }
    }
}
