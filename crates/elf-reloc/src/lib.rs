//! ELF64 little-endian x86_64, aarch64 and riscv64: program headers, PT_TLS,
//! and relative relocations applied for any load address.
//!
//! Two views of a program are used:
//! - the *file*: the ELF bytes as linked ([`Elf::parse`], [`load_segments`]);
//! - the *image*: the program as laid out in memory, index 0 = the lowest
//!   PT_LOAD vaddr rounded down to [`PAGE_SIZE`] (what [`load_segments`]
//!   produces and what the kernel maps). [`relocate`] works on the image, so
//!   `_start` can use it on itself, and reads the ELF header and program
//!   headers from the image's first page (both linkers place them in the first
//!   PT_LOAD of a static PIE).
//!
//! Only what a static PIE needs is supported: the machine's relative
//! relocation (`R_X86_64_RELATIVE`, `R_AARCH64_RELATIVE`, `R_RISCV_RELATIVE`)
//! and its `NONE` type in `DT_RELA`, plus `DT_RELR` packed relative
//! relocations. Any other relocation type is an error that names it. No input
//! makes these functions panic.
#![no_std]
#![forbid(unsafe_code)]

use core::fmt;
use core::ops::Range;

pub mod link;
pub use link::{check_root_task, LinkKind, LinkProblem, RootTaskLink, MIN_IMAGE_BASE};

/// Size of a page: segments are mapped and protected in units of it.
pub const PAGE_SIZE: u64 = 4096;

/// `e_ident[EI_CLASS]` of a 64-bit ELF file.
pub const ELFCLASS64: u8 = 2;
/// `e_ident[EI_DATA]` of a little-endian ELF file.
pub const ELFDATA2LSB: u8 = 1;
/// `e_ident[EI_VERSION]` (and `e_version`): the current ELF version.
pub const EV_CURRENT: u8 = 1;
/// `e_type` of an executable linked for a fixed address.
pub const ET_EXEC: u16 = 2;
/// `e_type` of a shared object or position-independent executable.
pub const ET_DYN: u16 = 3;
/// `e_machine` of x86_64.
pub const EM_X86_64: u16 = 62;
/// `e_machine` of aarch64.
pub const EM_AARCH64: u16 = 183;
/// `e_machine` of RISC-V.
pub const EM_RISCV: u16 = 243;

/// Bytes of an ELF64 file header.
pub const EHDR_SIZE: usize = 64;
/// Bytes of an ELF64 program header.
pub const PHDR_SIZE: usize = 56;
/// Bytes of an `Elf64_Dyn` entry.
pub const DYN_SIZE: usize = 16;
/// Bytes of an `Elf64_Rela` entry.
pub const RELA_SIZE: usize = 24;

/// Segment type: unused program header.
pub const PT_NULL: u32 = 0;
/// Segment type: loadable segment.
pub const PT_LOAD: u32 = 1;
/// Segment type: the dynamic section.
pub const PT_DYNAMIC: u32 = 2;
/// Segment type: the program interpreter's path.
pub const PT_INTERP: u32 = 3;
/// Segment type: notes.
pub const PT_NOTE: u32 = 4;
/// Segment type: the program header table itself.
pub const PT_PHDR: u32 = 6;
/// Segment type: the thread-local storage template.
pub const PT_TLS: u32 = 7;
/// Segment type: the `.eh_frame_hdr` unwind table.
pub const PT_GNU_EH_FRAME: u32 = 0x6474_e550;
/// Segment type: the stack's permissions (no contents).
pub const PT_GNU_STACK: u32 = 0x6474_e551;
/// Segment type: the part of the writable data that is read-only after relocation.
pub const PT_GNU_RELRO: u32 = 0x6474_e552;

/// Dynamic tag: end of the dynamic section.
pub const DT_NULL: u64 = 0;
/// Dynamic tag: address of the RELA relocation table.
pub const DT_RELA: u64 = 7;
/// Dynamic tag: bytes of the RELA table.
pub const DT_RELASZ: u64 = 8;
/// Dynamic tag: bytes of one RELA entry.
pub const DT_RELAENT: u64 = 9;
/// Dynamic tag: address of the REL relocation table.
pub const DT_REL: u64 = 17;
/// Dynamic tag: bytes of the REL table.
pub const DT_RELSZ: u64 = 18;
/// Dynamic tag: bytes of one REL entry.
pub const DT_RELENT: u64 = 19;
/// Dynamic tag: relocations may write to read-only segments.
pub const DT_TEXTREL: u64 = 22;
/// Dynamic tag: bytes of the RELR (packed relative relocation) table.
pub const DT_RELRSZ: u64 = 35;
/// Dynamic tag: address of the RELR table.
pub const DT_RELR: u64 = 36;
/// Dynamic tag: bytes of one RELR entry.
pub const DT_RELRENT: u64 = 37;
/// Dynamic tag: how many leading RELA entries are relative relocations.
pub const DT_RELACOUNT: u64 = 0x6fff_fff9;
/// Dynamic tag: how many leading REL entries are relative relocations.
pub const DT_RELCOUNT: u64 = 0x6fff_fffa;

/// x86_64 relocation type: none.
pub const R_X86_64_NONE: u32 = 0;
/// x86_64 relocation type: base + addend.
pub const R_X86_64_RELATIVE: u32 = 8;
/// aarch64 relocation type: none.
pub const R_AARCH64_NONE: u32 = 0;
/// aarch64 relocation type: base + addend.
pub const R_AARCH64_RELATIVE: u32 = 1027;
/// RISC-V relocation type: none.
pub const R_RISCV_NONE: u32 = 0;
/// RISC-V relocation type: base + addend.
pub const R_RISCV_RELATIVE: u32 = 3;

/// The machines this crate knows (`e_machine`), each with its relative
/// relocation type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Machine {
    /// x86_64 (`EM_X86_64`).
    X86_64,
    /// aarch64 (`EM_AARCH64`).
    Aarch64,
    /// RISC-V (64-bit: this crate reads ELFCLASS64 only).
    Riscv,
}

impl Machine {
    /// The machine of the architecture this crate is compiled for (x86_64
    /// elsewhere than on aarch64 and riscv64).
    pub const NATIVE: Machine = if cfg!(target_arch = "aarch64") {
        Machine::Aarch64
    } else if cfg!(target_arch = "riscv64") {
        Machine::Riscv
    } else {
        Machine::X86_64
    };

    /// The machine's name, for messages.
    pub const fn name(self) -> &'static str {
        match self {
            Machine::X86_64 => "x86_64",
            Machine::Aarch64 => "aarch64",
            Machine::Riscv => "riscv64",
        }
    }

    /// The Rust targets that build seL4 programs for the machine, for
    /// messages.
    pub const fn rust_targets(self) -> &'static str {
        match self {
            Machine::X86_64 => "--target x86_64-unknown-none",
            Machine::Aarch64 => "--target aarch64-unknown-none",
            Machine::Riscv => "--target riscv64gc-unknown-none-elf",
        }
    }

    /// The machine of an `e_machine` value, if known.
    pub const fn from_e_machine(e_machine: u16) -> Option<Machine> {
        match e_machine {
            EM_X86_64 => Some(Machine::X86_64),
            EM_AARCH64 => Some(Machine::Aarch64),
            EM_RISCV => Some(Machine::Riscv),
            _ => None,
        }
    }

    /// The `e_machine` value of the machine.
    pub const fn e_machine(self) -> u16 {
        match self {
            Machine::X86_64 => EM_X86_64,
            Machine::Aarch64 => EM_AARCH64,
            Machine::Riscv => EM_RISCV,
        }
    }

    /// The relocation type that stores `load offset + addend`.
    pub const fn relative_type(self) -> u32 {
        match self {
            Machine::X86_64 => R_X86_64_RELATIVE,
            Machine::Aarch64 => R_AARCH64_RELATIVE,
            Machine::Riscv => R_RISCV_RELATIVE,
        }
    }

    /// The relocation type that does nothing.
    pub const fn none_type(self) -> u32 {
        match self {
            Machine::X86_64 => R_X86_64_NONE,
            Machine::Aarch64 => R_AARCH64_NONE,
            Machine::Riscv => R_RISCV_NONE,
        }
    }

    /// The psABI name of a relocation type of this machine, for messages.
    pub const fn reloc_type_name(self, r_type: u32) -> &'static str {
        match self {
            Machine::X86_64 => reloc_type_name(r_type),
            Machine::Aarch64 => match r_type {
                0 => "R_AARCH64_NONE",
                257 => "R_AARCH64_ABS64",
                1024 => "R_AARCH64_COPY",
                1025 => "R_AARCH64_GLOB_DAT",
                1026 => "R_AARCH64_JUMP_SLOT",
                1027 => "R_AARCH64_RELATIVE",
                1028 => "R_AARCH64_TLS_DTPMOD",
                1029 => "R_AARCH64_TLS_DTPREL",
                1030 => "R_AARCH64_TLS_TPREL",
                1031 => "R_AARCH64_TLSDESC",
                1032 => "R_AARCH64_IRELATIVE",
                _ => "unknown",
            },
            Machine::Riscv => match r_type {
                0 => "R_RISCV_NONE",
                1 => "R_RISCV_32",
                2 => "R_RISCV_64",
                3 => "R_RISCV_RELATIVE",
                4 => "R_RISCV_COPY",
                5 => "R_RISCV_JUMP_SLOT",
                6 => "R_RISCV_TLS_DTPMOD32",
                7 => "R_RISCV_TLS_DTPMOD64",
                8 => "R_RISCV_TLS_DTPREL32",
                9 => "R_RISCV_TLS_DTPREL64",
                10 => "R_RISCV_TLS_TPREL32",
                11 => "R_RISCV_TLS_TPREL64",
                58 => "R_RISCV_IRELATIVE",
                _ => "unknown",
            },
        }
    }
}

/// The psABI name of an x86_64 relocation type, for messages.
pub const fn reloc_type_name(r_type: u32) -> &'static str {
    match r_type {
        0 => "R_X86_64_NONE",
        1 => "R_X86_64_64",
        2 => "R_X86_64_PC32",
        3 => "R_X86_64_GOT32",
        4 => "R_X86_64_PLT32",
        5 => "R_X86_64_COPY",
        6 => "R_X86_64_GLOB_DAT",
        7 => "R_X86_64_JUMP_SLOT",
        8 => "R_X86_64_RELATIVE",
        9 => "R_X86_64_GOTPCREL",
        10 => "R_X86_64_32",
        11 => "R_X86_64_32S",
        12 => "R_X86_64_16",
        13 => "R_X86_64_PC16",
        14 => "R_X86_64_8",
        15 => "R_X86_64_PC8",
        16 => "R_X86_64_DTPMOD64",
        17 => "R_X86_64_DTPOFF64",
        18 => "R_X86_64_TPOFF64",
        24 => "R_X86_64_PC64",
        37 => "R_X86_64_IRELATIVE",
        38 => "R_X86_64_RELATIVE64",
        _ => "unknown",
    }
}

/// Everything that can be wrong with the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The bytes end before the ELF header or the program header table.
    TooShort {
        /// Bytes the header or table needs.
        needed: u64,
        /// Bytes given.
        actual: usize,
    },
    /// The file does not start with `\x7fELF`.
    BadMagic,
    /// Not a 64-bit ELF file (`e_ident[EI_CLASS]`).
    NotElf64,
    /// Not a little-endian ELF file (`e_ident[EI_DATA]`).
    NotLittleEndian,
    /// An `e_ident[EI_VERSION]` other than 1: the value.
    BadVersion(u8),
    /// An `e_machine` this crate does not know: the value.
    WrongMachine(u16),
    /// An image of another machine than the one asked for
    /// ([`Elf::expect_machine`]).
    OtherMachine {
        /// The image's machine.
        image: Machine,
        /// The machine the caller runs it on.
        expected: Machine,
    },
    /// Neither ET_EXEC nor ET_DYN.
    BadType(u16),
    /// Program headers smaller than 56 bytes: the `e_phentsize`.
    BadPhEntSize(u16),
    /// Program header `index`: file range past the end of the file.
    SegmentOutOfFile {
        /// Index of the program header.
        index: usize,
    },
    /// Program header `index`: `p_filesz > p_memsz`.
    FileSizeExceedsMemSize {
        /// Index of the program header.
        index: usize,
    },
    /// Program header `index`: `p_vaddr + p_memsz` overflows.
    AddressOverflow {
        /// Index of the program header.
        index: usize,
    },
    /// No PT_LOAD segment: nothing to load.
    NoLoadSegments,
    /// [`load_segments`]: the destination is smaller than the image.
    DstTooSmall {
        /// Bytes the image needs.
        needed: u64,
        /// Bytes the destination has.
        actual: usize,
    },
    /// [`relocate`]: the image does not start with an ELF header.
    NoElfHeaderInImage,
    /// [`relocate`]: `link_base` is not the page-rounded lowest PT_LOAD vaddr.
    LinkBaseMismatch {
        /// The page-rounded lowest PT_LOAD vaddr.
        expected: u64,
        /// The `link_base` given.
        given: u64,
    },
    /// The dynamic section is not inside the image (or file).
    DynamicOutOfRange {
        /// Its address (link-time).
        vaddr: u64,
        /// Its size in bytes.
        size: u64,
    },
    /// A dynamic tag this crate does not handle (DT_REL: x86_64 uses RELA).
    UnsupportedDynamic {
        /// The tag.
        tag: u64,
    },
    /// DT_RELAENT is not the size of an `Elf64_Rela`: the value.
    BadRelaEnt(u64),
    /// DT_RELASZ is not a multiple of the entry size: the value.
    BadRelaSize(u64),
    /// DT_RELRENT is not 8: the value.
    BadRelrEnt(u64),
    /// DT_RELRSZ is not a multiple of 8: the value.
    BadRelrSize(u64),
    /// DT_RELR starts with a bitmap entry, so there is no address to apply it to.
    BadRelr,
    /// The relocation table is not inside the image (or file).
    RelocTableOutOfRange {
        /// Its address (link-time).
        vaddr: u64,
        /// Its size in bytes.
        size: u64,
    },
    /// A relocation type other than the machine's RELATIVE / NONE.
    UnsupportedRelocation {
        /// The image's machine.
        machine: Machine,
        /// The relocation type.
        r_type: u32,
        /// Where it would write (link-time address).
        offset: u64,
    },
    /// A relocation writes outside the image.
    RelocationOutOfImage {
        /// Where it would write (link-time address).
        offset: u64,
    },
    /// PT_TLS with `p_filesz > p_memsz`, a non-power-of-two alignment, an
    /// address that is not a multiple of it, or an initialisation image
    /// outside the image.
    BadTls,
    /// A page would be writable and executable: the PT_LOAD segments that
    /// share it ask for both (or one segment does).
    WritableAndExecutable {
        /// The page's link-time address.
        vaddr: u64,
    },
    /// The section header table or a symbol table is outside the file or
    /// malformed.
    BadSectionHeaders,
    /// [`TlsTemplate::layout`]: the area cannot hold the TLS block.
    TlsAreaTooSmall {
        /// Bytes the block needs.
        needed: u64,
        /// Bytes the area has.
        available: u64,
    },
}

/// The error type of [`relocate`] (the same enum as everything else).
pub type RelocError = Error;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::TooShort { needed, actual } => {
                write!(f, "ELF too short: need {needed} bytes, have {actual}")
            }
            Error::BadMagic => write!(f, "not an ELF file (bad magic)"),
            Error::NotElf64 => write!(f, "not ELFCLASS64"),
            Error::NotLittleEndian => write!(f, "not little-endian"),
            Error::BadVersion(v) => write!(f, "bad ELF version {v}"),
            Error::WrongMachine(m) => write!(
                f,
                "e_machine {m} is not EM_X86_64 ({EM_X86_64}), EM_AARCH64 ({EM_AARCH64}) or EM_RISCV ({EM_RISCV})"
            ),
            Error::OtherMachine { image, expected } => write!(
                f,
                "the image is for {} but it would run on {}: build it for {} ({})",
                image.name(),
                expected.name(),
                expected.name(),
                expected.rust_targets()
            ),
            Error::BadType(t) => write!(f, "e_type {t} is neither ET_EXEC nor ET_DYN"),
            Error::BadPhEntSize(s) => write!(f, "e_phentsize {s} < {PHDR_SIZE}"),
            Error::SegmentOutOfFile { index } => {
                write!(f, "program header {index}: file range outside the file")
            }
            Error::FileSizeExceedsMemSize { index } => {
                write!(f, "program header {index}: p_filesz > p_memsz")
            }
            Error::AddressOverflow { index } => {
                write!(f, "program header {index}: address range overflows")
            }
            Error::NoLoadSegments => write!(f, "no PT_LOAD segments"),
            Error::DstTooSmall { needed, actual } => write!(
                f,
                "destination too small: image needs {needed} bytes, have {actual}"
            ),
            Error::NoElfHeaderInImage => {
                write!(f, "the loaded image does not start with an ELF header")
            }
            Error::LinkBaseMismatch { expected, given } => write!(
                f,
                "link base {given:#x} given, the image's lowest PT_LOAD page is {expected:#x}"
            ),
            Error::DynamicOutOfRange { vaddr, size } => write!(
                f,
                "dynamic section {vaddr:#x}+{size:#x} is outside the image"
            ),
            Error::UnsupportedDynamic { tag } => write!(f, "unsupported dynamic tag {tag}"),
            Error::BadRelaEnt(v) => write!(f, "DT_RELAENT is {v}, expected {RELA_SIZE}"),
            Error::BadRelaSize(v) => {
                write!(f, "DT_RELASZ {v} is not a multiple of {RELA_SIZE}")
            }
            Error::BadRelrEnt(v) => write!(f, "DT_RELRENT is {v}, expected 8"),
            Error::BadRelrSize(v) => write!(f, "DT_RELRSZ {v} is not a multiple of 8"),
            Error::BadRelr => write!(f, "DT_RELR table starts with a bitmap"),
            Error::RelocTableOutOfRange { vaddr, size } => write!(
                f,
                "relocation table {vaddr:#x}+{size:#x} is outside the image"
            ),
            Error::UnsupportedRelocation {
                machine,
                r_type,
                offset,
            } => write!(
                f,
                "unsupported relocation type {r_type} ({}) at {offset:#x}",
                machine.reloc_type_name(r_type)
            ),
            Error::RelocationOutOfImage { offset } => {
                write!(f, "relocation at {offset:#x} is outside the image")
            }
            Error::BadTls => write!(f, "malformed PT_TLS segment"),
            Error::WritableAndExecutable { vaddr } => write!(
                f,
                "page {vaddr:#x} would be writable and executable (its segments ask for both; \
                 link so that code and writable data never share a page, e.g. -z separate-code)"
            ),
            Error::BadSectionHeaders => write!(f, "malformed section headers or symbol table"),
            Error::TlsAreaTooSmall { needed, available } => write!(
                f,
                "the TLS block needs {needed} bytes, the area has {available}"
            ),
        }
    }
}

fn rd_u16(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(off..off.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn rd_u32(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(off..off.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn rd_u64(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(off..off.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// `[start - base, start - base + len)` as indices into a buffer of `buf_len`
/// bytes, if it fits.
/// The file bytes of segment `p` in a file of `file_len` bytes; an empty
/// range for a segment without file bytes, whatever its offset (GNU ld
/// gives a `.tbss`-only PT_TLS the offset its address would have, which
/// may lie past the end of the file).
fn file_range(p: &ProgramHeader, file_len: usize) -> Option<Range<usize>> {
    if p.p_filesz == 0 {
        return Some(0..0);
    }
    sub_range(0, p.p_offset, p.p_filesz, file_len)
}

fn sub_range(base: u64, start: u64, len: u64, buf_len: usize) -> Option<Range<usize>> {
    let off = start.checked_sub(base)?;
    let end = off.checked_add(len)?;
    if end > buf_len as u64 {
        return None;
    }
    Some(off as usize..end as usize)
}

const fn page_down(v: u64) -> u64 {
    v & !(PAGE_SIZE - 1)
}

/// The ELF file header (the fields this crate uses, and a few more).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileHeader {
    /// Object file type (`ET_EXEC`, `ET_DYN`).
    pub e_type: u16,
    /// Machine (`EM_X86_64`, ...).
    pub e_machine: u16,
    /// ELF version (1).
    pub e_version: u32,
    /// Entry point (link-time virtual address).
    pub e_entry: u64,
    /// File offset of the program header table.
    pub e_phoff: u64,
    /// File offset of the section header table (0: none).
    pub e_shoff: u64,
    /// Processor-specific flags.
    pub e_flags: u32,
    /// Bytes of this header.
    pub e_ehsize: u16,
    /// Bytes of one program header.
    pub e_phentsize: u16,
    /// Number of program headers.
    pub e_phnum: u16,
    /// Bytes of one section header.
    pub e_shentsize: u16,
    /// Number of section headers.
    pub e_shnum: u16,
    /// Section header index of the section name string table.
    pub e_shstrndx: u16,
}

/// Segment types, for matching; the raw value is [`ProgramHeader::p_type`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegmentKind {
    /// `PT_NULL`.
    Null,
    /// `PT_LOAD`.
    Load,
    /// `PT_DYNAMIC`.
    Dynamic,
    /// `PT_INTERP`.
    Interp,
    /// `PT_NOTE`.
    Note,
    /// `PT_PHDR`.
    Phdr,
    /// `PT_TLS`.
    Tls,
    /// `PT_GNU_EH_FRAME`.
    GnuEhFrame,
    /// `PT_GNU_STACK`.
    GnuStack,
    /// `PT_GNU_RELRO`.
    GnuRelro,
    /// Any other type: the value.
    Other(u32),
}

/// One ELF64 program header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ProgramHeader {
    /// Segment type (`PT_*`).
    pub p_type: u32,
    /// Permissions (`PF_R`, `PF_W`, `PF_X`).
    pub p_flags: u32,
    /// File offset of the segment's bytes.
    pub p_offset: u64,
    /// Virtual address of its first byte (link-time).
    pub p_vaddr: u64,
    /// Physical address (not used).
    pub p_paddr: u64,
    /// Bytes in the file.
    pub p_filesz: u64,
    /// Bytes in memory (after `p_filesz`: zero).
    pub p_memsz: u64,
    /// Alignment (a power of two; 0 or 1: none).
    pub p_align: u64,
}

impl ProgramHeader {
    /// The segment's type, for matching.
    pub const fn kind(&self) -> SegmentKind {
        match self.p_type {
            PT_NULL => SegmentKind::Null,
            PT_LOAD => SegmentKind::Load,
            PT_DYNAMIC => SegmentKind::Dynamic,
            PT_INTERP => SegmentKind::Interp,
            PT_NOTE => SegmentKind::Note,
            PT_PHDR => SegmentKind::Phdr,
            PT_TLS => SegmentKind::Tls,
            PT_GNU_EH_FRAME => SegmentKind::GnuEhFrame,
            PT_GNU_STACK => SegmentKind::GnuStack,
            PT_GNU_RELRO => SegmentKind::GnuRelro,
            t => SegmentKind::Other(t),
        }
    }

    fn from_bytes(b: &[u8]) -> Option<Self> {
        Some(ProgramHeader {
            p_type: rd_u32(b, 0)?,
            p_flags: rd_u32(b, 4)?,
            p_offset: rd_u64(b, 8)?,
            p_vaddr: rd_u64(b, 16)?,
            p_paddr: rd_u64(b, 24)?,
            p_filesz: rd_u64(b, 32)?,
            p_memsz: rd_u64(b, 40)?,
            p_align: rd_u64(b, 48)?,
        })
    }

    /// `p_vaddr + p_memsz`, if it does not overflow.
    pub const fn vaddr_end(&self) -> Option<u64> {
        self.p_vaddr.checked_add(self.p_memsz)
    }
}

/// A parsed ELF64 header (x86_64, aarch64 or riscv64) with a bounds-checked
/// program header table.
/// Works on the file, and on a loaded image whose first bytes are the ELF
/// header and program headers.
#[derive(Clone, Copy, Debug)]
pub struct Elf<'a> {
    data: &'a [u8],
    header: FileHeader,
    machine: Machine,
}

impl<'a> Elf<'a> {
    /// Parses and checks the header and program header table of `data`.
    pub fn parse(data: &'a [u8]) -> Result<Self, Error> {
        if data.len() < 4 || data[..4] != *b"\x7fELF" {
            return Err(if data.len() < 4 {
                Error::TooShort {
                    needed: EHDR_SIZE as u64,
                    actual: data.len(),
                }
            } else {
                Error::BadMagic
            });
        }
        if data.len() < EHDR_SIZE {
            return Err(Error::TooShort {
                needed: EHDR_SIZE as u64,
                actual: data.len(),
            });
        }
        if data[4] != ELFCLASS64 {
            return Err(Error::NotElf64);
        }
        if data[5] != ELFDATA2LSB {
            return Err(Error::NotLittleEndian);
        }
        if data[6] != EV_CURRENT {
            return Err(Error::BadVersion(data[6]));
        }
        let r16 = |o| rd_u16(data, o).unwrap_or(0);
        let r32 = |o| rd_u32(data, o).unwrap_or(0);
        let r64 = |o| rd_u64(data, o).unwrap_or(0);
        let header = FileHeader {
            e_type: r16(16),
            e_machine: r16(18),
            e_version: r32(20),
            e_entry: r64(24),
            e_phoff: r64(32),
            e_shoff: r64(40),
            e_flags: r32(48),
            e_ehsize: r16(52),
            e_phentsize: r16(54),
            e_phnum: r16(56),
            e_shentsize: r16(58),
            e_shnum: r16(60),
            e_shstrndx: r16(62),
        };
        let Some(machine) = Machine::from_e_machine(header.e_machine) else {
            return Err(Error::WrongMachine(header.e_machine));
        };
        if header.e_type != ET_EXEC && header.e_type != ET_DYN {
            return Err(Error::BadType(header.e_type));
        }
        if header.e_phnum > 0 {
            if (header.e_phentsize as usize) < PHDR_SIZE {
                return Err(Error::BadPhEntSize(header.e_phentsize));
            }
            let table = u64::from(header.e_phnum) * u64::from(header.e_phentsize);
            let end = header.e_phoff.saturating_add(table);
            if end > data.len() as u64 {
                return Err(Error::TooShort {
                    needed: end,
                    actual: data.len(),
                });
            }
        }
        Ok(Elf {
            data,
            header,
            machine,
        })
    }

    /// The machine (`e_machine`), which selects the relocation types.
    pub fn machine(&self) -> Machine {
        self.machine
    }

    /// `Ok` if the image is for `expected` (a loader's check before it
    /// runs the image on its own machine: [`Machine::NATIVE`]),
    /// [`Error::OtherMachine`] otherwise.
    pub fn expect_machine(&self, expected: Machine) -> Result<(), Error> {
        if self.machine == expected {
            Ok(())
        } else {
            Err(Error::OtherMachine {
                image: self.machine,
                expected,
            })
        }
    }

    /// The file header.
    pub fn header(&self) -> &FileHeader {
        &self.header
    }

    /// The bytes the view was parsed from.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// All program headers, in table order.
    pub fn program_headers(&self) -> ProgramHeaders<'a> {
        ProgramHeaders {
            data: self.data,
            phoff: self.header.e_phoff as usize,
            entsize: self.header.e_phentsize as usize,
            index: 0,
            count: self.header.e_phnum as usize,
        }
    }

    /// The first program header of type `p_type`.
    pub fn find(&self, p_type: u32) -> Option<ProgramHeader> {
        self.program_headers().find(|p| p.p_type == p_type)
    }

    /// Checks every PT_LOAD (and PT_TLS, PT_DYNAMIC) for `filesz <= memsz`
    /// and no address overflow; with `in_file`, also that its file bytes
    /// exist.
    fn check_segments(&self, in_file: bool) -> Result<(), Error> {
        for (index, p) in self.program_headers().enumerate() {
            if !matches!(p.p_type, PT_LOAD | PT_TLS | PT_DYNAMIC) {
                continue;
            }
            if p.p_filesz > p.p_memsz {
                return Err(Error::FileSizeExceedsMemSize { index });
            }
            if p.vaddr_end().is_none() {
                return Err(Error::AddressOverflow { index });
            }
            if in_file && file_range(&p, self.data.len()).is_none() {
                return Err(Error::SegmentOutOfFile { index });
            }
        }
        Ok(())
    }

    /// `[base, end)`: the lowest PT_LOAD vaddr rounded down to a page and the
    /// highest PT_LOAD end rounded up to a page. `end - base` is the image
    /// size.
    pub fn load_range(&self) -> Result<(u64, u64), Error> {
        let mut lo = u64::MAX;
        let mut hi = 0u64;
        let mut any = false;
        for (index, p) in self.program_headers().enumerate() {
            if p.p_type != PT_LOAD {
                continue;
            }
            any = true;
            let end = p.vaddr_end().ok_or(Error::AddressOverflow { index })?;
            lo = lo.min(p.p_vaddr);
            hi = hi.max(end);
        }
        if !any {
            return Err(Error::NoLoadSegments);
        }
        let base = page_down(lo);
        let end = hi
            .checked_add(PAGE_SIZE - 1)
            .map(page_down)
            .ok_or(Error::AddressOverflow { index: 0 })?;
        Ok((base, end))
    }

    /// The PT_TLS template, if any.
    pub fn tls(&self) -> Result<Option<TlsTemplate>, Error> {
        let Some(p) = self.find(PT_TLS) else {
            return Ok(None);
        };
        let align = if p.p_align == 0 { 1 } else { p.p_align };
        // The linker's thread-pointer offsets assume a template at a
        // multiple of its alignment.
        if p.p_filesz > p.p_memsz
            || !align.is_power_of_two()
            || p.vaddr_end().is_none()
            || p.p_vaddr % align != 0
        {
            return Err(Error::BadTls);
        }
        Ok(Some(TlsTemplate {
            vaddr: p.p_vaddr,
            filesz: p.p_filesz,
            memsz: p.p_memsz,
            align,
        }))
    }

    /// The dynamic section read from the file (via PT_DYNAMIC's p_offset).
    pub fn dynamic(&self) -> Result<Option<DynamicInfo>, Error> {
        let Some(p) = self.find(PT_DYNAMIC) else {
            return Ok(None);
        };
        let r = sub_range(0, p.p_offset, p.p_filesz, self.data.len()).ok_or(
            Error::DynamicOutOfRange {
                vaddr: p.p_vaddr,
                size: p.p_filesz,
            },
        )?;
        Ok(Some(DynamicInfo::parse(&self.data[r])))
    }

    /// File bytes backing `[vaddr, vaddr + size)`, found through the PT_LOAD
    /// segment that contains it.
    pub fn file_bytes_at(&self, vaddr: u64, size: u64) -> Option<&'a [u8]> {
        // No bytes are anywhere (a `.tbss`-only PT_TLS has no file part,
        // and the linker may give it an address outside every segment).
        if size == 0 {
            return Some(&[]);
        }
        let end = vaddr.checked_add(size)?;
        self.program_headers()
            .filter(|p| p.p_type == PT_LOAD)
            .find_map(|p| {
                let seg_end = p.p_vaddr.checked_add(p.p_filesz)?;
                if vaddr < p.p_vaddr || end > seg_end {
                    return None;
                }
                let off = p.p_offset.checked_add(vaddr - p.p_vaddr)?;
                let r = sub_range(0, off, size, self.data.len())?;
                Some(&self.data[r])
            })
    }

    /// The DT_RELA entries, read from the file.
    pub fn relocations(&self) -> Result<Relas<'a>, Error> {
        let Some(d) = self.dynamic()? else {
            return Ok(Relas { table: &[] });
        };
        let Some(rela) = d.rela else {
            return Ok(Relas { table: &[] });
        };
        d.check_rela()?;
        let table = self
            .file_bytes_at(rela, d.rela_size)
            .ok_or(Error::RelocTableOutOfRange {
                vaddr: rela,
                size: d.rela_size,
            })?;
        Ok(Relas { table })
    }

    /// How many words the packed relative relocation table (`DT_RELR`, from
    /// `-z pack-relative-relocs`) relocates, read from the file, each one
    /// checked to lie in the loaded image (0 without a table).
    pub fn packed_relocations(&self) -> Result<usize, Error> {
        let Some(d) = self.dynamic()? else {
            return Ok(0);
        };
        let Some(relr) = d.relr.filter(|_| d.relr_size > 0) else {
            return Ok(0);
        };
        d.check()?;
        let mut table =
            self.file_bytes_at(relr, d.relr_size)
                .ok_or(Error::RelocTableOutOfRange {
                    vaddr: relr,
                    size: d.relr_size,
                })?;
        let (lo, hi) = self.load_range()?;
        let mut n = 0;
        let len = table.len();
        walk_relr(
            &mut table,
            0..len,
            |t, j| rd_u64(t, j),
            |_, a| {
                if a < lo || a.checked_add(8).map_or(true, |e| e > hi) {
                    return Err(Error::RelocationOutOfImage { offset: a });
                }
                n += 1;
                Ok(())
            },
        )?;
        Ok(n)
    }
}

/// Iterator over program headers (bounds checked by [`Elf::parse`]).
#[derive(Clone, Debug)]
pub struct ProgramHeaders<'a> {
    data: &'a [u8],
    phoff: usize,
    entsize: usize,
    index: usize,
    count: usize,
}

impl Iterator for ProgramHeaders<'_> {
    type Item = ProgramHeader;

    fn next(&mut self) -> Option<ProgramHeader> {
        if self.index >= self.count {
            return None;
        }
        let off = self
            .phoff
            .checked_add(self.index.checked_mul(self.entsize)?)?;
        self.index += 1;
        ProgramHeader::from_bytes(self.data.get(off..off.checked_add(PHDR_SIZE)?)?)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.count - self.index;
        (n, Some(n))
    }
}

impl ExactSizeIterator for ProgramHeaders<'_> {}

/// The relocation-related entries of a dynamic section.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct DynamicInfo {
    /// DT_RELA: link-time vaddr of the RELA table.
    pub rela: Option<u64>,
    /// DT_RELASZ (0 if absent).
    pub rela_size: u64,
    /// DT_RELAENT.
    pub rela_ent: Option<u64>,
    /// DT_RELACOUNT: how many leading entries are relative relocations.
    pub rela_count: Option<u64>,
    /// DT_REL / DT_RELSZ (not used on x86_64, aarch64 and riscv64; non-empty
    /// is an error).
    pub rel: Option<u64>,
    /// DT_RELSZ (0 if absent).
    pub rel_size: u64,
    /// DT_RELR / DT_RELRSZ / DT_RELRENT (packed relative relocations).
    pub relr: Option<u64>,
    /// DT_RELRSZ (0 if absent).
    pub relr_size: u64,
    /// DT_RELRENT.
    pub relr_ent: Option<u64>,
    /// DT_TEXTREL present: relocations write to read-only segments.
    pub textrel: bool,
}

impl DynamicInfo {
    /// Read `{d_tag, d_val}` pairs until DT_NULL or the end of `bytes`.
    pub fn parse(bytes: &[u8]) -> DynamicInfo {
        let mut d = DynamicInfo::default();
        for e in bytes.chunks_exact(DYN_SIZE) {
            let tag = rd_u64(e, 0).unwrap_or(DT_NULL);
            let val = rd_u64(e, 8).unwrap_or(0);
            match tag {
                DT_NULL => break,
                DT_RELA => d.rela = Some(val),
                DT_RELASZ => d.rela_size = val,
                DT_RELAENT => d.rela_ent = Some(val),
                DT_RELACOUNT => d.rela_count = Some(val),
                DT_REL => d.rel = Some(val),
                DT_RELSZ => d.rel_size = val,
                DT_RELR => d.relr = Some(val),
                DT_RELRSZ => d.relr_size = val,
                DT_RELRENT => d.relr_ent = Some(val),
                DT_TEXTREL => d.textrel = true,
                _ => {}
            }
        }
        d
    }

    fn check_rela(&self) -> Result<(), Error> {
        if let Some(ent) = self.rela_ent {
            if ent != RELA_SIZE as u64 {
                return Err(Error::BadRelaEnt(ent));
            }
        }
        if self.rela_size % RELA_SIZE as u64 != 0 {
            return Err(Error::BadRelaSize(self.rela_size));
        }
        Ok(())
    }

    fn check(&self) -> Result<(), Error> {
        if self.rel.is_some() && self.rel_size > 0 {
            return Err(Error::UnsupportedDynamic { tag: DT_REL });
        }
        self.check_rela()?;
        if let Some(ent) = self.relr_ent {
            if ent != 8 {
                return Err(Error::BadRelrEnt(ent));
            }
        }
        if self.relr_size % 8 != 0 {
            return Err(Error::BadRelrSize(self.relr_size));
        }
        Ok(())
    }
}

/// One Elf64_Rela.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rela {
    /// Where the relocation writes (link-time address).
    pub r_offset: u64,
    /// Symbol index (high 32 bits) and relocation type (low 32 bits).
    pub r_info: u64,
    /// The constant added.
    pub r_addend: i64,
}

impl Rela {
    /// The relocation type (low 32 bits of `r_info`).
    pub const fn r_type(&self) -> u32 {
        self.r_info as u32
    }

    /// The symbol index (high 32 bits of `r_info`).
    pub const fn r_sym(&self) -> u32 {
        (self.r_info >> 32) as u32
    }

    fn from_bytes(b: &[u8]) -> Option<Rela> {
        Some(Rela {
            r_offset: rd_u64(b, 0)?,
            r_info: rd_u64(b, 8)?,
            r_addend: rd_u64(b, 16)? as i64,
        })
    }
}

/// Iterator over a RELA table.
#[derive(Clone, Debug)]
pub struct Relas<'a> {
    table: &'a [u8],
}

impl Iterator for Relas<'_> {
    type Item = Rela;

    fn next(&mut self) -> Option<Rela> {
        let (e, rest) = self.table.split_at_checked(RELA_SIZE)?;
        self.table = rest;
        Rela::from_bytes(e)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.table.len() / RELA_SIZE;
        (n, Some(n))
    }
}

impl ExactSizeIterator for Relas<'_> {}

/// The PT_TLS segment: the initialisation image is `filesz` bytes at `vaddr`,
/// followed by `memsz - filesz` zero bytes; the block is `align`-aligned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlsTemplate {
    /// Link-time address of the initialisation image.
    pub vaddr: u64,
    /// Bytes of the initialisation image.
    pub filesz: u64,
    /// Bytes of the whole block (the rest zero).
    pub memsz: u64,
    /// A power of two, at least 1.
    pub align: u64,
}

impl TlsTemplate {
    /// PT_TLS of the ELF whose header starts `image` (the file, or a loaded
    /// image whose first page holds the ELF and program headers).
    /// `Ok(None)` if there is no PT_TLS.
    pub fn from_image(image: &[u8]) -> Result<Option<TlsTemplate>, Error> {
        Elf::parse(image)?.tls()
    }

    /// The initialisation bytes inside a loaded image (index 0 = `link_base`).
    pub fn init_data<'b>(&self, image: &'b [u8], link_base: u64) -> Result<&'b [u8], Error> {
        let r = sub_range(link_base, self.vaddr, self.filesz, image.len()).ok_or(Error::BadTls)?;
        Ok(&image[r])
    }

    /// Bytes of zero fill after the initialisation image.
    pub const fn bss_len(&self) -> u64 {
        self.memsz.saturating_sub(self.filesz)
    }
}

/// What [`load_segments`] laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadInfo {
    /// Link vaddr of `dst[0]`: lowest PT_LOAD vaddr rounded down to a page.
    pub link_base: u64,
    /// Bytes of `dst` used (to the page-rounded end of the highest segment).
    pub size: usize,
    /// `e_entry` (a link-time address).
    pub entry: u64,
}

/// Lay out the PT_LOAD segments of `elf` in `dst` as they are in memory:
/// `dst[0]` is the lowest PT_LOAD vaddr rounded down to a page. Zeroes
/// `dst[..size]`, then copies each segment's `p_filesz` bytes (the rest of
/// `p_memsz` stays zero).
pub fn load_segments(elf: &[u8], dst: &mut [u8]) -> Result<LoadInfo, Error> {
    let e = Elf::parse(elf)?;
    e.check_segments(true)?;
    let (base, end) = e.load_range()?;
    let size = end - base;
    if size > dst.len() as u64 {
        return Err(Error::DstTooSmall {
            needed: size,
            actual: dst.len(),
        });
    }
    let size = size as usize;
    dst[..size].fill(0);
    for (index, p) in e.program_headers().enumerate() {
        if p.p_type != PT_LOAD {
            continue;
        }
        let src = file_range(&p, elf.len()).ok_or(Error::SegmentOutOfFile { index })?;
        let to =
            sub_range(base, p.p_vaddr, p.p_filesz, size).ok_or(Error::AddressOverflow { index })?;
        dst[to].copy_from_slice(&elf[src]);
    }
    Ok(LoadInfo {
        link_base: base,
        size,
        entry: e.header.e_entry,
    })
}

/// Apply the relative relocations of a loaded image that was linked for
/// `link_base` (the vaddr of `image[0]`) and sits at `load_base`: every
/// relative relocation (`R_X86_64_RELATIVE`, `R_AARCH64_RELATIVE`,
/// `R_RISCV_RELATIVE`, by the ELF header's machine) slot becomes
/// `addend + (load_base - link_base)` and every
/// DT_RELR slot gets `load_base - link_base` added. Returns how many slots were
/// written. The ELF header and program headers are read from the start of the
/// image; all entries are checked before the first write, so an error leaves
/// the image untouched.
pub fn relocate(image: &mut [u8], link_base: u64, load_base: u64) -> Result<usize, RelocError> {
    let (machine, dynamic) = {
        let e = match Elf::parse(image) {
            Ok(e) => e,
            Err(Error::BadMagic) => return Err(Error::NoElfHeaderInImage),
            Err(Error::TooShort { .. }) if image.len() < EHDR_SIZE => {
                return Err(Error::NoElfHeaderInImage)
            }
            Err(err) => return Err(err),
        };
        e.check_segments(false)?;
        let (base, _) = e.load_range()?;
        if base != link_base {
            return Err(Error::LinkBaseMismatch {
                expected: base,
                given: link_base,
            });
        }
        match e.find(PT_DYNAMIC) {
            Some(p) => (e.machine(), (p.p_vaddr, p.p_memsz)),
            None => return Ok(0),
        }
    };
    relocate_with_dynamic(image, machine, link_base, load_base, dynamic.0, dynamic.1)
}

/// Like [`relocate`], for a caller that knows where the dynamic section is
/// (e.g. from the `_DYNAMIC` symbol): `dynamic_vaddr` is its link-time address,
/// `dynamic_size` an upper bound of its size (entries are read up to DT_NULL).
pub fn relocate_with_dynamic(
    image: &mut [u8],
    machine: Machine,
    link_base: u64,
    load_base: u64,
    dynamic_vaddr: u64,
    dynamic_size: u64,
) -> Result<usize, RelocError> {
    let r = sub_range(link_base, dynamic_vaddr, dynamic_size, image.len()).ok_or(
        Error::DynamicOutOfRange {
            vaddr: dynamic_vaddr,
            size: dynamic_size,
        },
    )?;
    let d = DynamicInfo::parse(&image[r]);
    relocate_with_info(image, machine, link_base, load_base, &d)
}

/// Apply the relocations described by `d` (see [`relocate`]).
pub fn relocate_with_info(
    image: &mut [u8],
    machine: Machine,
    link_base: u64,
    load_base: u64,
    d: &DynamicInfo,
) -> Result<usize, RelocError> {
    d.check()?;
    let rela = match d.rela {
        Some(v) if d.rela_size > 0 => sub_range(link_base, v, d.rela_size, image.len()).ok_or(
            Error::RelocTableOutOfRange {
                vaddr: v,
                size: d.rela_size,
            },
        )?,
        _ => 0..0,
    };
    let relr = match d.relr {
        Some(v) if d.relr_size > 0 => sub_range(link_base, v, d.relr_size, image.len()).ok_or(
            Error::RelocTableOutOfRange {
                vaddr: v,
                size: d.relr_size,
            },
        )?,
        _ => 0..0,
    };
    let bias = load_base.wrapping_sub(link_base);
    let (none, relative) = (machine.none_type(), machine.relative_type());

    // Pass 1: check everything.
    let len = image.len();
    let slot = |offset: u64| {
        sub_range(link_base, offset, 8, len).ok_or(Error::RelocationOutOfImage { offset })
    };
    for e in image[rela.clone()].chunks_exact(RELA_SIZE) {
        let r = Rela::from_bytes(e).ok_or(Error::BadRelaSize(d.rela_size))?;
        match r.r_type() {
            t if t == none => {}
            t if t == relative => {
                slot(r.r_offset)?;
            }
            t => {
                return Err(Error::UnsupportedRelocation {
                    machine,
                    r_type: t,
                    offset: r.r_offset,
                })
            }
        }
    }
    walk_relr(image, relr.clone(), read_entry, |_, a| slot(a).map(drop))?;

    // Pass 2: apply. Entries are re-read and re-checked, in case a
    // relocation rewrote the table itself.
    let mut count = 0usize;
    let mut i = rela.start;
    while i + RELA_SIZE <= rela.end {
        let r = Rela::from_bytes(&image[i..i + RELA_SIZE]).ok_or(Error::BadRelaSize(0))?;
        i += RELA_SIZE;
        match r.r_type() {
            t if t == none => {}
            t if t == relative => {
                let s = slot(r.r_offset)?;
                let v = (r.r_addend as u64).wrapping_add(bias);
                image[s].copy_from_slice(&v.to_le_bytes());
                count += 1;
            }
            t => {
                return Err(Error::UnsupportedRelocation {
                    machine,
                    r_type: t,
                    offset: r.r_offset,
                })
            }
        }
    }
    walk_relr(image, relr, read_entry, |image, a| {
        let s = slot(a)?;
        let old = rd_u64(image, s.start).unwrap_or(0);
        image[s].copy_from_slice(&old.wrapping_add(bias).to_le_bytes());
        count += 1;
        Ok(())
    })?;
    Ok(count)
}

/// Reads the table entry at byte offset `j` of an image.
fn read_entry(image: &mut [u8], j: usize) -> Option<u64> {
    rd_u64(image, j)
}

/// Calls `f` with every address the DT_RELR table at byte offsets `table`
/// of `ctx` relocates (entries read with `read`). Entries are read one at a
/// time, so `f` may write to `ctx` (an image whose table it relocates).
pub(crate) fn walk_relr<C: ?Sized>(
    ctx: &mut C,
    table: Range<usize>,
    read: impl Fn(&mut C, usize) -> Option<u64>,
    mut f: impl FnMut(&mut C, u64) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut next: Option<u64> = None;
    let mut j = table.start;
    while j.checked_add(8).is_some_and(|e| e <= table.end) {
        let entry = read(ctx, j).ok_or(Error::BadRelr)?;
        j += 8;
        if entry & 1 == 0 {
            // An address: relocate it; a bitmap may follow.
            f(ctx, entry)?;
            next = Some(entry.wrapping_add(8));
        } else {
            // A bitmap: bit k (k >= 1) relocates next + (k - 1) * 8.
            let base = next.ok_or(Error::BadRelr)?;
            let mut bits = entry >> 1;
            let mut k = 0u64;
            while bits != 0 {
                if bits & 1 != 0 {
                    f(ctx, base.wrapping_add(k * 8))?;
                }
                bits >>= 1;
                k += 1;
            }
            next = Some(base.wrapping_add(63 * 8));
        }
    }
    Ok(())
}

mod load;
mod tls;
pub use load::{PageFlags, Pages, PF_R, PF_W, PF_X};
pub use tls::{TlsLayout, TlsVariant, AARCH64_TCB_SIZE, TLS_TCB_SIZE, TP_ALIGN};

#[cfg(test)]
mod tests;
