//! Boot page tables: what the kernel expects to run on when it is entered.
//!
//! Two mappings, both of normal (cacheable) memory, kernel-only, read, write
//! and execute, in 1 GiB or 2 MiB blocks:
//! - the *identity* mapping of the RAM regions, so that the loader keeps
//!   running at the instruction after it turns on the MMU;
//! - the *kernel window*: every RAM address `pa` at `pa + kernel offset`
//!   (the kernel ELF's virtual minus physical address), where the window
//!   address fits the virtual address space, as seL4's own loader maps it.
//!
//! Formats:
//! - [`Format::Aarch64`]: VMSAv8-64, 4 KiB granule, 48-bit addresses, four
//!   levels; two roots (TTBR0_EL1 for the lower half, TTBR1_EL1 for the
//!   upper half). Block attributes: AttrIndx 4 (MAIR entry 4 = normal
//!   write-back memory, the index seL4's `NORMAL` type uses), access flag
//!   set, EL1 read-write, executable, non-shareable (as seL4's own loader
//!   maps for single-core kernels).
//! - [`Format::Sv39`]: RISC-V Sv39, three levels, one root for both halves.
//!   Leaves: V, R, W, X, A and D set (not U, not G).
//!
//! Tables come from a caller-provided pool whose physical address is known,
//! so the same code builds them in the loader (in its `.bss`) and in host
//! tests; [`translate`] walks them back.

use crate::Region;

/// Entries per table (4 KiB tables of 8-byte entries).
pub const ENTRIES: usize = 512;
/// 1 GiB.
pub const GIB: u64 = 1 << 30;
/// 2 MiB.
pub const MIB2: u64 = 1 << 21;

/// One page table.
#[derive(Clone, Copy)]
#[repr(C, align(4096))]
pub struct Table(pub [u64; ENTRIES]);

impl Table {
    /// A table with no valid entry.
    pub const EMPTY: Table = Table([0; ENTRIES]);
}

/// The page table format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// aarch64 stage-1 translation tables, 4 KiB granule.
    Aarch64,
    /// RISC-V Sv39 (three levels, 39-bit virtual addresses).
    Sv39,
}

/// Which root a virtual address goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Half {
    /// aarch64 TTBR0 (addresses below 2^48); the only root on Sv39.
    Lower,
    /// aarch64 TTBR1 (addresses from 0xffff_0000_0000_0000).
    Upper,
}

const AARCH64_VALID: u64 = 1;
const AARCH64_TABLE: u64 = 0b11;
const AARCH64_BLOCK: u64 = 0b01;
/// AttrIndx 4 (MAIR: normal write-back), access flag.
const AARCH64_BLOCK_ATTRS: u64 = (4 << 2) | (1 << 10);
const AARCH64_ADDR_MASK: u64 = 0x0000_ffff_ffff_f000;

const SV39_V: u64 = 1;
const SV39_RWX: u64 = 0b1110;
/// V, R, W, X, A, D.
const SV39_LEAF: u64 = SV39_V | SV39_RWX | (1 << 6) | (1 << 7);

impl Format {
    /// Shift of the address bits each level indexes, root first.
    pub const fn shifts(self) -> &'static [u32] {
        match self {
            Format::Aarch64 => &[39, 30, 21, 12],
            Format::Sv39 => &[30, 21, 12],
        }
    }

    /// The root an address belongs to, if the address is valid at all.
    pub const fn half(self, va: u64) -> Option<Half> {
        match self {
            Format::Aarch64 => {
                if va >> 48 == 0 {
                    Some(Half::Lower)
                } else if va >> 48 == 0xffff {
                    Some(Half::Upper)
                } else {
                    None
                }
            }
            Format::Sv39 => {
                let top = va >> 38;
                if top == 0 || top == (1 << 26) - 1 {
                    Some(Half::Lower)
                } else {
                    None
                }
            }
        }
    }

    fn table_entry(self, pa: u64) -> u64 {
        match self {
            Format::Aarch64 => (pa & AARCH64_ADDR_MASK) | AARCH64_TABLE,
            Format::Sv39 => ((pa >> 12) << 10) | SV39_V,
        }
    }

    fn block_entry(self, pa: u64) -> u64 {
        match self {
            Format::Aarch64 => (pa & AARCH64_ADDR_MASK) | AARCH64_BLOCK_ATTRS | AARCH64_BLOCK,
            Format::Sv39 => ((pa >> 12) << 10) | SV39_LEAF,
        }
    }

    /// Decodes an entry at a level that is not the last: `Some(Ok(table
    /// pa))`, `Some(Err(block pa))`, or `None` when invalid.
    fn decode(self, e: u64) -> Option<Result<u64, u64>> {
        match self {
            Format::Aarch64 => {
                if e & AARCH64_VALID == 0 {
                    None
                } else if e & 0b11 == AARCH64_TABLE {
                    Some(Ok(e & AARCH64_ADDR_MASK))
                } else {
                    Some(Err(e & AARCH64_ADDR_MASK))
                }
            }
            Format::Sv39 => {
                if e & SV39_V == 0 {
                    None
                } else if e & SV39_RWX == 0 {
                    Some(Ok((e >> 10) << 12))
                } else {
                    Some(Err((e >> 10) << 12))
                }
            }
        }
    }

    /// Whether a block may sit at `shift` (1 GiB and 2 MiB blocks here).
    const fn block_allowed(self, shift: u32) -> bool {
        shift == 30 || shift == 21
    }
}

/// Why a mapping could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MapError {
    /// Address or size not a multiple of 2 MiB.
    Misaligned {
        /// Virtual start of the mapping.
        va: u64,
        /// Physical start of the mapping.
        pa: u64,
        /// Its size in bytes.
        size: u64,
    },
    /// The virtual range is not valid in this format.
    BadVirtual {
        /// Virtual start of the mapping.
        va: u64,
    },
    /// More tables are needed than the pool has.
    PoolExhausted,
    /// Part of the range is already mapped, differently.
    Conflict {
        /// The first virtual address already mapped differently.
        va: u64,
    },
}

impl core::fmt::Display for MapError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            MapError::Misaligned { va, pa, size } => write!(
                f,
                "mapping {size:#x} bytes from {va:#x} to {pa:#x}: not 2 MiB aligned"
            ),
            MapError::BadVirtual { va } => {
                write!(f, "{va:#x} is not a valid virtual address range")
            }
            MapError::PoolExhausted => write!(f, "out of boot page tables"),
            MapError::Conflict { va } => write!(f, "{va:#x} is already mapped differently"),
        }
    }
}

/// Tables in a pool: `tables[i]` is at physical address `base + 4096 * i`.
/// Table 0 is the lower root; on aarch64, table 1 is the upper root.
pub struct PageTables<'a> {
    format: Format,
    tables: &'a mut [Table],
    base: u64,
    used: usize,
}

impl<'a> PageTables<'a> {
    /// Takes an all-zero pool; fails when it cannot hold the roots.
    pub fn new(format: Format, tables: &'a mut [Table], base: u64) -> Result<Self, MapError> {
        let roots = match format {
            Format::Aarch64 => 2,
            Format::Sv39 => 1,
        };
        if tables.len() < roots {
            return Err(MapError::PoolExhausted);
        }
        for t in tables.iter_mut() {
            *t = Table::EMPTY;
        }
        Ok(PageTables {
            format,
            tables,
            base,
            used: roots,
        })
    }

    /// The format the tables are built in.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Physical address of the root for `half` (satp / TTBR value without
    /// mode bits).
    pub fn root(&self, half: Half) -> u64 {
        match (self.format, half) {
            (Format::Aarch64, Half::Upper) => self.base + 4096,
            _ => self.base,
        }
    }

    /// Tables in use.
    pub fn used(&self) -> usize {
        self.used
    }

    fn index_of(&self, pa: u64) -> Option<usize> {
        let off = pa.checked_sub(self.base)?;
        let i = (off / 4096) as usize;
        (off % 4096 == 0 && i < self.used).then_some(i)
    }

    /// Maps `[va, va + size)` to `[pa, pa + size)`, normal memory, in the
    /// largest blocks that fit. All three must be multiples of 2 MiB.
    pub fn map(&mut self, va: u64, pa: u64, size: u64) -> Result<(), MapError> {
        if va % MIB2 != 0 || pa % MIB2 != 0 || size % MIB2 != 0 {
            return Err(MapError::Misaligned { va, pa, size });
        }
        if size == 0 {
            return Ok(());
        }
        let last = va
            .checked_add(size - 1)
            .ok_or(MapError::BadVirtual { va })?;
        pa.checked_add(size - 1)
            .ok_or(MapError::BadVirtual { va })?;
        let half = self.format.half(va).ok_or(MapError::BadVirtual { va })?;
        if self.format.half(last) != Some(half) {
            return Err(MapError::BadVirtual { va });
        }
        let mut off = 0;
        while off < size {
            let (v, p) = (va + off, pa + off);
            let step = if v % GIB == 0 && p % GIB == 0 && size - off >= GIB {
                GIB
            } else {
                MIB2
            };
            self.map_block(half, v, p, step)?;
            off += step;
        }
        Ok(())
    }

    fn map_block(&mut self, half: Half, va: u64, pa: u64, size: u64) -> Result<(), MapError> {
        let target = if size == GIB { 30 } else { 21 };
        let mut table = self.index_of(self.root(half)).unwrap_or(0);
        for &shift in self.format.shifts() {
            let i = ((va >> shift) & (ENTRIES as u64 - 1)) as usize;
            let e = self.tables[table].0[i];
            if shift == target {
                debug_assert!(self.format.block_allowed(shift));
                let want = self.format.block_entry(pa);
                return match self.format.decode(e) {
                    None => {
                        self.tables[table].0[i] = want;
                        Ok(())
                    }
                    Some(_) if e == want => Ok(()),
                    Some(_) => Err(MapError::Conflict { va }),
                };
            }
            table = match self.format.decode(e) {
                Some(Ok(next)) => self.index_of(next).ok_or(MapError::Conflict { va })?,
                Some(Err(_)) => return Err(MapError::Conflict { va }),
                None => {
                    if self.used >= self.tables.len() {
                        return Err(MapError::PoolExhausted);
                    }
                    let n = self.used;
                    self.used += 1;
                    self.tables[table].0[i] = self.format.table_entry(self.base + 4096 * n as u64);
                    n
                }
            };
        }
        Err(MapError::Conflict { va })
    }

    /// The physical address `va` maps to, by walking the tables.
    pub fn translate(&self, va: u64) -> Option<u64> {
        translate(self.format, self.tables, self.base, va)
    }

    /// Maps the identity mapping and the kernel window for `ram` (see the
    /// module documentation); `kernel_offset` is kernel virtual minus
    /// physical address. Regions are widened to 2 MiB boundaries.
    pub fn map_boot(&mut self, ram: &[Region], kernel_offset: u64) -> Result<(), MapError> {
        for r in ram {
            let start = crate::align_down(r.start, MIB2);
            let end = crate::align_up(r.end, MIB2).ok_or(MapError::BadVirtual { va: r.end })?;
            self.map(start, start, end - start)?;
        }
        for r in ram {
            let start = crate::align_down(r.start, MIB2);
            let end = crate::align_up(r.end, MIB2).ok_or(MapError::BadVirtual { va: r.end })?;
            // The part of the region whose window address does not wrap
            // around the top of the address space.
            let room = 0u64.wrapping_sub(kernel_offset);
            if kernel_offset != 0 && start >= room {
                continue;
            }
            let end = if kernel_offset != 0 {
                end.min(room)
            } else {
                end
            };
            let va = start.wrapping_add(kernel_offset);
            if self.format.half(va).is_none() {
                continue;
            }
            self.map(va, start, end - start)?;
        }
        Ok(())
    }
}

/// Walks tables (as [`PageTables`] lays them out) to translate `va`.
pub fn translate(format: Format, tables: &[Table], base: u64, va: u64) -> Option<u64> {
    let half = format.half(va)?;
    let root = match (format, half) {
        (Format::Aarch64, Half::Upper) => 1,
        _ => 0,
    };
    let mut table = root;
    for &shift in format.shifts() {
        let i = ((va >> shift) & (ENTRIES as u64 - 1)) as usize;
        let e = tables.get(table)?.0[i];
        match format.decode(e)? {
            Ok(next) if shift > 12 => {
                let off = next.checked_sub(base)?;
                if off % 4096 != 0 {
                    return None;
                }
                table = (off / 4096) as usize;
            }
            Ok(page) => return Some(page | (va & 0xfff)),
            Err(block) if format.block_allowed(shift) || shift == 12 => {
                return Some(block | (va & ((1u64 << shift) - 1)))
            }
            Err(_) => return None,
        }
    }
    None
}
