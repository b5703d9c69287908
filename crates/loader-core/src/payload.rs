//! The payload the image tool appends to the loader.
//!
//! Layout (all numbers little-endian):
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 8 | magic `sel4rsPL` |
//! | 8 | 4 | format version (1) |
//! | 12 | 4 | number of entries |
//! | 16 | 8 | total length in bytes (header, entries and data) |
//! | 24 | 8 | checksum of bytes `[HEADER_SIZE, total length)` ([`checksum`]) |
//! | 32 | 4 | architecture (1 aarch64, 2 riscv64) |
//! | 36 | 28 | zero |
//! | 64 | 24 each | entries: kind (u32), zero (u32), offset from the payload start (u64), length (u64) |
//!
//! The data of each entry follows the entry table, 8-byte aligned. Kinds
//! ([`Kind`]): the kernel ELF, the root server ELF and the RAM regions once
//! each, the device tree and the root server's run address at most once.
//! The image tool places the payload at the first page boundary after the
//! loader's last segment (its `_end`), where the loader looks for it.

use crate::{Arch, Region};

/// First bytes of a payload.
pub const MAGIC: [u8; 8] = *b"sel4rsPL";
/// The format version this crate reads and writes.
pub const VERSION: u32 = 1;
/// Bytes before the entry table.
pub const HEADER_SIZE: usize = 64;
/// Bytes of one entry.
pub const ENTRY_SIZE: usize = 24;
/// Most entries a payload may have.
pub const MAX_ENTRIES: usize = 16;

/// What an entry holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The kernel ELF, as built.
    Kernel,
    /// The root server ELF.
    RootServer,
    /// The flattened device tree the kernel was configured with.
    DeviceTree,
    /// The platform's RAM, `{start, end}` pairs of u64, sorted and disjoint.
    Memory,
    /// One u64: the virtual address a position-independent root server runs
    /// at (absent: its link address).
    UserVaddr,
}

impl Kind {
    const fn code(self) -> u32 {
        match self {
            Kind::Kernel => 1,
            Kind::RootServer => 2,
            Kind::DeviceTree => 3,
            Kind::Memory => 4,
            Kind::UserVaddr => 5,
        }
    }

    const fn from_code(c: u32) -> Option<Kind> {
        match c {
            1 => Some(Kind::Kernel),
            2 => Some(Kind::RootServer),
            3 => Some(Kind::DeviceTree),
            4 => Some(Kind::Memory),
            5 => Some(Kind::UserVaddr),
            _ => None,
        }
    }

    /// What the entry holds, for messages (`kernel ELF`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Kind::Kernel => "kernel ELF",
            Kind::RootServer => "root server ELF",
            Kind::DeviceTree => "device tree",
            Kind::Memory => "memory regions",
            Kind::UserVaddr => "root server address",
        }
    }
}

/// Why bytes are not a usable payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PayloadError {
    /// No payload magic: the loader image was not packed by the image tool.
    NoMagic,
    /// A format version this loader does not read.
    Version(u32),
    /// The payload claims more bytes than there are.
    Truncated {
        /// Bytes the header or an entry claims.
        needed: u64,
        /// Bytes there are.
        available: u64,
    },
    /// The data does not match the checksum in the header.
    Checksum {
        /// The checksum in the header.
        stored: u64,
        /// The checksum of the data.
        computed: u64,
    },
    /// An architecture code this loader does not know.
    UnknownArch(u32),
    /// The payload was made for another architecture.
    WrongArch {
        /// The payload's architecture.
        payload: Arch,
        /// The loader's.
        loader: Arch,
    },
    /// The header's entry count is above `MAX_ENTRIES`: the count.
    TooManyEntries(u32),
    /// An entry's kind code is not one of [`Kind`]: the code.
    UnknownKind(u32),
    /// An entry's data is outside the payload.
    EntryOutOfRange {
        /// The entry's kind.
        kind: Kind,
    },
    /// Two entries of this kind.
    Duplicate(Kind),
    /// No entry of this (required) kind.
    Missing(Kind),
    /// Memory regions: a length that is not a multiple of 16, an empty or
    /// unsorted, overlapping or unaligned region.
    BadMemory,
    /// The root server address entry is not one 8-byte word.
    BadUserVaddr,
    /// [`build`]: the output buffer is too small.
    BufferTooSmall {
        /// Bytes the payload needs.
        needed: usize,
        /// Bytes the buffer has.
        available: usize,
    },
}

impl core::fmt::Display for PayloadError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            PayloadError::NoMagic => write!(
                f,
                "no payload after the loader (it was not packed: build the boot image with sel4-mkimage)"
            ),
            PayloadError::Version(v) => write!(
                f,
                "payload format version {v}, this loader reads version {VERSION} (rebuild loader and image together)"
            ),
            PayloadError::Truncated { needed, available } => write!(
                f,
                "payload truncated: {needed} bytes claimed, {available} available"
            ),
            PayloadError::Checksum { stored, computed } => write!(
                f,
                "payload checksum mismatch (stored {stored:#018x}, computed {computed:#018x}): the image is corrupt"
            ),
            PayloadError::UnknownArch(a) => write!(f, "payload for unknown architecture code {a}"),
            PayloadError::WrongArch { payload, loader } => write!(
                f,
                "payload for {}, loader for {}",
                payload.name(),
                loader.name()
            ),
            PayloadError::TooManyEntries(n) => {
                write!(f, "payload has {n} entries, at most {MAX_ENTRIES} allowed")
            }
            PayloadError::UnknownKind(k) => write!(f, "payload entry of unknown kind {k}"),
            PayloadError::EntryOutOfRange { kind } => {
                write!(f, "payload entry '{}' lies outside the payload", kind.name())
            }
            PayloadError::Duplicate(k) => write!(f, "payload has two '{}' entries", k.name()),
            PayloadError::Missing(k) => write!(f, "payload has no '{}' entry", k.name()),
            PayloadError::BadMemory => write!(
                f,
                "payload memory regions are malformed (need sorted, disjoint, page-aligned, non-empty {{start, end}} pairs)"
            ),
            PayloadError::BadUserVaddr => {
                write!(f, "payload root server address entry is not one 8-byte word")
            }
            PayloadError::BufferTooSmall { needed, available } => write!(
                f,
                "payload needs {needed} bytes, the buffer has {available}"
            ),
        }
    }
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

/// FNV-1a (64-bit) over the bytes, eight at a time (a little-endian word per
/// step, the tail zero-padded): cheap enough for an emulated CPU with its
/// caches off, and catches truncated or damaged images.
pub fn checksum(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = (h ^ w).wrapping_mul(0x0000_0100_0000_01b3);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^ bytes.len() as u64
}

/// The memory regions of a payload.
#[derive(Clone, Copy, Debug)]
pub struct MemoryRegions<'a> {
    bytes: &'a [u8],
}

impl<'a> MemoryRegions<'a> {
    fn parse(bytes: &'a [u8]) -> Result<Self, PayloadError> {
        if bytes.is_empty() || bytes.len() % 16 != 0 {
            return Err(PayloadError::BadMemory);
        }
        let m = MemoryRegions { bytes };
        let mut prev_end = 0u64;
        for (i, r) in m.iter().enumerate() {
            let aligned = r.start % crate::PAGE_SIZE == 0 && r.end % crate::PAGE_SIZE == 0;
            if r.is_empty() || !aligned || (i > 0 && r.start < prev_end) {
                return Err(PayloadError::BadMemory);
            }
            prev_end = r.end;
        }
        Ok(m)
    }

    /// Number of regions.
    pub fn len(&self) -> usize {
        self.bytes.len() / 16
    }

    /// Whether there are no regions.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The regions, in address order.
    pub fn iter(&self) -> impl Iterator<Item = Region> + 'a {
        self.bytes
            .chunks_exact(16)
            .map(|c| Region::new(rd_u64(c, 0).unwrap_or(0), rd_u64(c, 8).unwrap_or(0)))
    }
}

/// A parsed, checked payload.
#[derive(Clone, Copy, Debug)]
pub struct Payload<'a> {
    /// The architecture the payload is for.
    pub arch: Arch,
    /// The kernel ELF ([`Kind::Kernel`]).
    pub kernel: &'a [u8],
    /// The root server ELF ([`Kind::RootServer`]).
    pub rootserver: &'a [u8],
    /// The device tree ([`Kind::DeviceTree`]), if the payload has one.
    pub dtb: Option<&'a [u8]>,
    /// The platform's RAM ([`Kind::Memory`]).
    pub memory: MemoryRegions<'a>,
    /// Where the root server runs ([`Kind::UserVaddr`]; `None`: at its
    /// link address).
    pub user_vaddr: Option<u64>,
    /// Bytes the payload occupies (header, entries and data).
    pub total_len: u64,
}

/// The total length a payload claims, from its header (for a loader that
/// must know how far its memory extends before trusting the rest).
pub fn claimed_len(bytes: &[u8]) -> Result<u64, PayloadError> {
    if bytes.get(..8) != Some(&MAGIC[..]) {
        return Err(PayloadError::NoMagic);
    }
    rd_u64(bytes, 16).ok_or(PayloadError::Truncated {
        needed: HEADER_SIZE as u64,
        available: bytes.len() as u64,
    })
}

impl<'a> Payload<'a> {
    /// Parses and checks a payload for a loader of architecture `loader`.
    pub fn parse(bytes: &'a [u8], loader: Arch) -> Result<Payload<'a>, PayloadError> {
        let total = claimed_len(bytes)?;
        let truncated = |needed: u64| PayloadError::Truncated {
            needed,
            available: bytes.len() as u64,
        };
        if bytes.len() < HEADER_SIZE {
            return Err(truncated(HEADER_SIZE as u64));
        }
        let version = rd_u32(bytes, 8).unwrap_or(0);
        if version != VERSION {
            return Err(PayloadError::Version(version));
        }
        if total > bytes.len() as u64 || total < HEADER_SIZE as u64 {
            return Err(truncated(total.max(HEADER_SIZE as u64)));
        }
        let bytes = &bytes[..total as usize];
        let stored = rd_u64(bytes, 24).unwrap_or(0);
        let computed = checksum(&bytes[HEADER_SIZE..]);
        if stored != computed {
            return Err(PayloadError::Checksum { stored, computed });
        }
        let arch_code = rd_u32(bytes, 32).unwrap_or(0);
        let arch = Arch::from_code(arch_code).ok_or(PayloadError::UnknownArch(arch_code))?;
        if arch != loader {
            return Err(PayloadError::WrongArch {
                payload: arch,
                loader,
            });
        }
        let count = rd_u32(bytes, 12).unwrap_or(0);
        if count as usize > MAX_ENTRIES {
            return Err(PayloadError::TooManyEntries(count));
        }
        let table_end = HEADER_SIZE + count as usize * ENTRY_SIZE;
        if table_end > bytes.len() {
            return Err(truncated(table_end as u64));
        }
        let mut kernel = None;
        let mut rootserver = None;
        let mut dtb = None;
        let mut memory = None;
        let mut user_vaddr = None;
        for i in 0..count as usize {
            let e = HEADER_SIZE + i * ENTRY_SIZE;
            let code = rd_u32(bytes, e).unwrap_or(0);
            let kind = Kind::from_code(code).ok_or(PayloadError::UnknownKind(code))?;
            let off = rd_u64(bytes, e + 8).unwrap_or(u64::MAX);
            let len = rd_u64(bytes, e + 16).unwrap_or(u64::MAX);
            let data = off
                .checked_add(len)
                .filter(|&end| off >= table_end as u64 && end <= total)
                .map(|end| &bytes[off as usize..end as usize])
                .ok_or(PayloadError::EntryOutOfRange { kind })?;
            let slot = match kind {
                Kind::Kernel => &mut kernel,
                Kind::RootServer => &mut rootserver,
                Kind::DeviceTree => &mut dtb,
                Kind::Memory => &mut memory,
                Kind::UserVaddr => &mut user_vaddr,
            };
            if slot.replace(data).is_some() {
                return Err(PayloadError::Duplicate(kind));
            }
        }
        let user_vaddr = match user_vaddr {
            None => None,
            Some(b) if b.len() == 8 => rd_u64(b, 0),
            Some(_) => return Err(PayloadError::BadUserVaddr),
        };
        Ok(Payload {
            arch,
            kernel: kernel.ok_or(PayloadError::Missing(Kind::Kernel))?,
            rootserver: rootserver.ok_or(PayloadError::Missing(Kind::RootServer))?,
            dtb,
            memory: MemoryRegions::parse(memory.ok_or(PayloadError::Missing(Kind::Memory))?)?,
            user_vaddr,
            total_len: total,
        })
    }
}

/// What goes into a payload ([`build`]).
#[derive(Clone, Copy, Debug)]
pub struct Contents<'a> {
    /// The architecture the payload is for.
    pub arch: Arch,
    /// The kernel ELF.
    pub kernel: &'a [u8],
    /// The root server ELF.
    pub rootserver: &'a [u8],
    /// The device tree, if any.
    pub dtb: Option<&'a [u8]>,
    /// The platform's RAM regions (sorted, disjoint, page aligned).
    pub memory: &'a [Region],
    /// Where the root server runs (`None`: at its link address).
    pub user_vaddr: Option<u64>,
}

impl Contents<'_> {
    fn entries(&self) -> [(Kind, usize); 5] {
        [
            (Kind::Kernel, self.kernel.len()),
            (Kind::RootServer, self.rootserver.len()),
            (Kind::DeviceTree, self.dtb.map_or(usize::MAX, <[u8]>::len)),
            (Kind::Memory, self.memory.len() * 16),
            (
                Kind::UserVaddr,
                if self.user_vaddr.is_some() {
                    8
                } else {
                    usize::MAX
                },
            ),
        ]
    }

    /// Bytes [`build`] writes.
    pub fn size(&self) -> usize {
        let present = self.entries().iter().filter(|e| e.1 != usize::MAX).count();
        let mut size = HEADER_SIZE + present * ENTRY_SIZE;
        for (_, len) in self.entries() {
            if len != usize::MAX {
                size = size.next_multiple_of(8) + len;
            }
        }
        size
    }
}

/// Writes the payload for `c` into `out` (at least [`Contents::size`]
/// bytes); returns the bytes written. The result parses with
/// [`Payload::parse`] whenever the memory regions are well-formed.
pub fn build(c: &Contents<'_>, out: &mut [u8]) -> Result<usize, PayloadError> {
    let size = c.size();
    if out.len() < size {
        return Err(PayloadError::BufferTooSmall {
            needed: size,
            available: out.len(),
        });
    }
    let out = &mut out[..size];
    out.fill(0);
    let entries = c.entries();
    let present = entries.iter().filter(|e| e.1 != usize::MAX).count();
    let mut data_at = HEADER_SIZE + present * ENTRY_SIZE;
    let mut slot = 0;
    for (kind, len) in entries {
        if len == usize::MAX {
            continue;
        }
        data_at = data_at.next_multiple_of(8);
        let e = HEADER_SIZE + slot * ENTRY_SIZE;
        out[e..e + 4].copy_from_slice(&kind.code().to_le_bytes());
        out[e + 8..e + 16].copy_from_slice(&(data_at as u64).to_le_bytes());
        out[e + 16..e + 24].copy_from_slice(&(len as u64).to_le_bytes());
        let dst = &mut out[data_at..data_at + len];
        match kind {
            Kind::Kernel => dst.copy_from_slice(c.kernel),
            Kind::RootServer => dst.copy_from_slice(c.rootserver),
            Kind::DeviceTree => dst.copy_from_slice(c.dtb.unwrap_or(&[])),
            Kind::Memory => {
                for (i, r) in c.memory.iter().enumerate() {
                    dst[16 * i..16 * i + 8].copy_from_slice(&r.start.to_le_bytes());
                    dst[16 * i + 8..16 * i + 16].copy_from_slice(&r.end.to_le_bytes());
                }
            }
            Kind::UserVaddr => dst.copy_from_slice(&c.user_vaddr.unwrap_or(0).to_le_bytes()),
        }
        data_at += len;
        slot += 1;
    }
    out[..8].copy_from_slice(&MAGIC);
    out[8..12].copy_from_slice(&VERSION.to_le_bytes());
    out[12..16].copy_from_slice(&(present as u32).to_le_bytes());
    out[16..24].copy_from_slice(&(size as u64).to_le_bytes());
    out[32..36].copy_from_slice(&c.arch.code().to_le_bytes());
    let sum = checksum(&out[HEADER_SIZE..]);
    out[24..32].copy_from_slice(&sum.to_le_bytes());
    Ok(size)
}
