//! What a root task's link must be for the sel4rs start code to run it,
//! checked on the ELF file before it boots ([`check_root_task`]; the host
//! runner `sel4-run` refuses a root task that fails it) and, for the part
//! that can only be seen at run time, by the start code itself
//! ([`MIN_IMAGE_BASE`]).
//!
//! seL4 maps the root task's segments at their link addresses (x86_64), or
//! the sel4rs loader places them at their link address or, for a
//! position-independent image, at another one (aarch64, riscv64). So:
//! - the image must start at [`MIN_IMAGE_BASE`] or above: an image linked
//!   at 0 (what `x86_64-unknown-none` gives without an `--image-base`) puts
//!   its first page at address 0, null pointers then read its headers
//!   instead of faulting;
//! - a position-independent image (`ET_DYN`) must be a static PIE: a
//!   dynamic section (the start code finds its relocations there), no
//!   dynamic linker (`PT_INTERP`), and only the machine's relative
//!   relocation (and `NONE`) in `DT_RELA`, and packed relative relocations
//!   in `DT_RELR`: the start code applies nothing else (no `DT_REL`);
//! - the ELF header and program headers must be in a loaded segment (the
//!   start code reads them to relocate and to find `PT_TLS`), the entry
//!   point in an executable one, and `PT_TLS` well-formed.

use crate::{Elf, Error, Machine, ET_DYN, PT_INTERP, PT_LOAD};
use core::fmt;

/// The lowest address a root task's image may start at: below it nothing
/// may be mapped, so that a null pointer (plus an offset of up to 64 KiB)
/// faults. The project links root tasks at [`LINK_BASE`].
pub const MIN_IMAGE_BASE: u64 = 0x1_0000;

/// The image base the project links root tasks at (`--image-base` of the
/// link settings in `cmake/sel4-rust.cmake` and `.cargo/config.toml`).
pub const LINK_BASE: u64 = 0x40_0000;

/// `p_flags` bit: executable.
pub const PF_X: u32 = 1;

/// How a root task was linked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkKind {
    /// A static PIE (`ET_DYN`) with this many relative relocations; it runs
    /// at any page-aligned address.
    StaticPie {
        /// Number of relative relocations (`DT_RELA` and `DT_RELR`).
        relocations: usize,
        /// How many of them are packed (`DT_RELR`).
        packed: usize,
    },
    /// A fixed-address executable (`ET_EXEC`); it runs at its link address
    /// only.
    Fixed,
}

/// A root task that passed [`check_root_task`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RootTaskLink {
    /// Its machine.
    pub machine: Machine,
    /// How it was linked.
    pub kind: LinkKind,
    /// `[base, end)`: the page-rounded range of its `PT_LOAD` segments.
    pub base: u64,
    /// End of that range (exclusive).
    pub end: u64,
    /// Entry point (link-time address).
    pub entry: u64,
}

/// Why a root task cannot run (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkProblem {
    /// Not an ELF64 file the crate can read (or its segments are broken).
    Elf(Error),
    /// The image starts below [`MIN_IMAGE_BASE`].
    BelowMinimumBase {
        /// The page-rounded lowest `PT_LOAD` address.
        base: u64,
    },
    /// No `PT_LOAD` segment holds the ELF header (file offset 0).
    HeadersNotLoaded,
    /// The entry point is not in an executable `PT_LOAD` segment.
    EntryNotInCode {
        /// The entry point (`e_entry`).
        entry: u64,
    },
    /// `ET_DYN` with a `PT_INTERP`: a dynamically linked program.
    DynamicLinker,
    /// `ET_DYN` without a dynamic section: its relocations are missing.
    NoDynamicSection,
    /// `DT_REL` entries (these machines use `DT_RELA`).
    RelTable,
    /// A relocation other than the machine's relative or none type, or a
    /// malformed relocation table.
    Relocations(Error),
    /// A malformed `PT_TLS` segment.
    Tls(Error),
}

impl fmt::Display for LinkProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            LinkProblem::Elf(e) => write!(f, "not a root task ELF: {e}"),
            LinkProblem::BelowMinimumBase { base } => write!(
                f,
                "linked at {base:#x}, below {MIN_IMAGE_BASE:#x}: its first page would be mapped at \
                 {base:#x}, so null pointers would read the image instead of faulting"
            ),
            LinkProblem::HeadersNotLoaded => write!(
                f,
                "no PT_LOAD segment holds the ELF header and program headers, which the start \
                 code reads"
            ),
            LinkProblem::EntryNotInCode { entry } => write!(
                f,
                "the entry point {entry:#x} is not in an executable PT_LOAD segment"
            ),
            LinkProblem::DynamicLinker => write!(
                f,
                "position-independent with a dynamic linker (PT_INTERP): not a static PIE"
            ),
            LinkProblem::NoDynamicSection => write!(
                f,
                "position-independent (ET_DYN) without a dynamic section: its relocations are \
                 missing"
            ),
            LinkProblem::RelTable => write!(
                f,
                "DT_REL relocations: the start code applies relative relocations in DT_RELA and \
                 DT_RELR only"
            ),
            LinkProblem::Relocations(e) => write!(
                f,
                "{e}: the start code applies the machine's relative relocations only"
            ),
            LinkProblem::Tls(e) => write!(f, "{e}"),
        }
    }
}

/// Checks that `data` is a root task the start code can run (see the
/// module documentation); the caller checks that its machine is the
/// kernel's.
pub fn check_root_task(data: &[u8]) -> Result<RootTaskLink, LinkProblem> {
    let elf = Elf::parse(data).map_err(LinkProblem::Elf)?;
    elf.check_segments(true).map_err(LinkProblem::Elf)?;
    let (base, end) = elf.load_range().map_err(LinkProblem::Elf)?;
    if base < MIN_IMAGE_BASE {
        return Err(LinkProblem::BelowMinimumBase { base });
    }
    let loads = || elf.program_headers().filter(|p| p.p_type == PT_LOAD);
    let headers_end = elf
        .header()
        .e_phoff
        .saturating_add(u64::from(elf.header().e_phnum) * u64::from(elf.header().e_phentsize));
    if !loads().any(|p| p.p_offset == 0 && p.p_filesz >= headers_end) {
        return Err(LinkProblem::HeadersNotLoaded);
    }
    let entry = elf.header().e_entry;
    let in_code = loads().any(|p| {
        p.p_flags & PF_X != 0 && entry >= p.p_vaddr && p.vaddr_end().is_some_and(|e| entry < e)
    });
    if !in_code {
        return Err(LinkProblem::EntryNotInCode { entry });
    }
    elf.tls().map_err(LinkProblem::Tls)?;

    let machine = elf.machine();
    let dynamic = elf.dynamic().map_err(LinkProblem::Relocations)?;
    let pie = elf.header().e_type == ET_DYN;
    if pie && elf.find(PT_INTERP).is_some() {
        return Err(LinkProblem::DynamicLinker);
    }
    let relocations = match dynamic {
        None if pie => return Err(LinkProblem::NoDynamicSection),
        None => (0, 0),
        Some(d) => {
            if d.rel.is_some() && d.rel_size > 0 {
                return Err(LinkProblem::RelTable);
            }
            let mut n = 0;
            for r in elf.relocations().map_err(LinkProblem::Relocations)? {
                let t = r.r_type();
                if t == machine.relative_type() {
                    n += 1;
                } else if t != machine.none_type() {
                    return Err(LinkProblem::Relocations(Error::UnsupportedRelocation {
                        machine,
                        r_type: t,
                        offset: r.r_offset,
                    }));
                }
            }
            (
                n,
                elf.packed_relocations().map_err(LinkProblem::Relocations)?,
            )
        }
    };
    let (relocations, packed) = (relocations.0 + relocations.1, relocations.1);
    let kind = if pie {
        LinkKind::StaticPie {
            relocations,
            packed,
        }
    } else {
        LinkKind::Fixed
    };
    Ok(RootTaskLink {
        machine,
        kind,
        base,
        end,
        entry,
    })
}
