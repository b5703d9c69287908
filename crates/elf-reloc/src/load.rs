//! What a loader needs to build a program's pages one at a time, straight
//! from the file: which pages the PT_LOAD segments cover and with which
//! permissions, their bytes, the relocations that land in any window of
//! the image, symbols, and where a thread's TLS block goes.
//!
//! [`relocate`](crate::relocate) works on a whole loaded image in one
//! buffer (what `_start` does to itself); the functions here let a loader
//! fill each page of another program's memory separately (through a
//! temporary mapping) without an image-sized buffer: [`Elf::fill`] copies
//! the file bytes of a window and [`Elf::relocate_window`] applies the
//! relocations whose slots overlap it. Both read only the file, so the
//! result does not depend on the order in which windows are built.

use core::ops::Range;

use crate::{page_down, rd_u16, rd_u32, rd_u64, sub_range, walk_relr, Elf, Error};
use crate::{PAGE_SIZE, PT_LOAD};

/// Segment flag: executable.
pub const PF_X: u32 = 1;
/// Segment flag: writable.
pub const PF_W: u32 = 2;
/// Segment flag: readable.
pub const PF_R: u32 = 4;

const SHT_SYMTAB: u32 = 2;
const SHT_DYNSYM: u32 = 11;
const SHDR_SIZE: usize = 64;
const SYM_SIZE: usize = 24;

/// The permissions of one page of the image: the union of the flags of the
/// PT_LOAD segments that touch it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageFlags {
    /// The page's link-time address.
    pub vaddr: u64,
    /// `PF_R | PF_W | PF_X` bits.
    pub flags: u32,
    /// Whether some of its bytes come from the file (`p_filesz` part of a
    /// segment); otherwise it is all zeros (`.bss`) unless a relocation
    /// lands in it.
    pub file: bool,
}

impl PageFlags {
    /// Whether the page is readable (`PF_R`).
    pub const fn readable(&self) -> bool {
        self.flags & PF_R != 0
    }
    /// Whether the page is writable (`PF_W`).
    pub const fn writable(&self) -> bool {
        self.flags & PF_W != 0
    }
    /// Whether the page is executable (`PF_X`).
    pub const fn executable(&self) -> bool {
        self.flags & PF_X != 0
    }
}

/// The pages a program's PT_LOAD segments cover, in address order
/// ([`Elf::pages`]). Pages inside the load range that no segment touches
/// are skipped.
#[derive(Clone, Debug)]
pub struct Pages<'e, 'a> {
    elf: &'e Elf<'a>,
    next: u64,
    end: u64,
}

impl Iterator for Pages<'_, '_> {
    type Item = PageFlags;

    fn next(&mut self) -> Option<PageFlags> {
        // The lowest page at or above `next` that a segment covers (gaps
        // are skipped in one step, however large).
        let from = self.next;
        let vaddr = self
            .elf
            .program_headers()
            .filter(|p| p.p_type == PT_LOAD && p.p_memsz > 0)
            .filter_map(|p| {
                let lo = page_down(p.p_vaddr).max(from);
                let hi = p.vaddr_end()?;
                (lo < hi).then_some(lo)
            })
            .min()?;
        if vaddr >= self.end {
            return None;
        }
        self.next = vaddr.saturating_add(PAGE_SIZE);
        let file = self
            .elf
            .program_headers()
            .filter(|p| p.p_type == PT_LOAD && p.p_filesz > 0)
            .any(|p| {
                let end = p.p_vaddr.saturating_add(p.p_filesz);
                p.p_vaddr < vaddr.saturating_add(PAGE_SIZE) && vaddr < end
            });
        Some(PageFlags {
            vaddr,
            flags: self.elf.page_flags(vaddr),
            file,
        })
    }
}

impl<'a> Elf<'a> {
    /// The union of the flags of the PT_LOAD segments that touch the page
    /// at `vaddr` (0 if none does).
    pub fn page_flags(&self, vaddr: u64) -> u32 {
        let page = page_down(vaddr);
        self.program_headers()
            .filter(|p| p.p_type == PT_LOAD && p.p_memsz > 0)
            .filter(|p| {
                let lo = page_down(p.p_vaddr);
                let hi = p.vaddr_end().unwrap_or(u64::MAX);
                lo <= page && page < hi
            })
            .fold(0, |f, p| f | p.p_flags)
    }

    /// The pages of the image with their permissions; an error if a page
    /// would be writable and executable.
    pub fn pages(&self) -> Result<Pages<'_, 'a>, Error> {
        self.check_segments(true)?;
        let (next, end) = self.load_range()?;
        self.check_wx()?;
        Ok(Pages {
            elf: self,
            next,
            end,
        })
    }

    /// No page writable and executable: no segment asks for both, and no
    /// writable segment shares a page with an executable one. Works on the
    /// segments (not page by page), so huge segments cost nothing.
    fn check_wx(&self) -> Result<(), Error> {
        let loads = || {
            self.program_headers()
                .filter(|p| p.p_type == PT_LOAD && p.p_memsz > 0)
        };
        // Page-rounded [lo, hi) of a segment (hi saturates at the top).
        let span = |p: &crate::ProgramHeader| {
            let lo = page_down(p.p_vaddr);
            let hi = p
                .vaddr_end()
                .and_then(|e| e.checked_add(PAGE_SIZE - 1))
                .map_or(u64::MAX, page_down);
            (lo, hi)
        };
        for w in loads().filter(|p| p.p_flags & PF_W != 0) {
            let (wlo, whi) = span(&w);
            for x in loads().filter(|p| p.p_flags & PF_X != 0) {
                let (xlo, xhi) = span(&x);
                let lo = wlo.max(xlo);
                if lo < whi.min(xhi) {
                    return Err(Error::WritableAndExecutable { vaddr: lo });
                }
            }
        }
        Ok(())
    }

    /// Fills `dst`, the image's bytes at link address `vaddr..vaddr +
    /// dst.len()`, from the file: the file bytes of every PT_LOAD segment
    /// that overlaps it, zeros elsewhere (`.bss`, gaps).
    pub fn fill(&self, vaddr: u64, dst: &mut [u8]) -> Result<(), Error> {
        self.check_segments(true)?;
        dst.fill(0);
        let wend = vaddr
            .checked_add(dst.len() as u64)
            .ok_or(Error::AddressOverflow { index: 0 })?;
        for (index, p) in self.program_headers().enumerate() {
            if p.p_type != PT_LOAD || p.p_filesz == 0 {
                continue;
            }
            let fend = p.p_vaddr + p.p_filesz; // checked by check_segments
            let lo = p.p_vaddr.max(vaddr);
            let hi = fend.min(wend);
            if lo >= hi {
                continue;
            }
            let src = sub_range(0, p.p_offset + (lo - p.p_vaddr), hi - lo, self.data.len())
                .ok_or(Error::SegmentOutOfFile { index })?;
            let to = (lo - vaddr) as usize..(hi - vaddr) as usize;
            dst[to].copy_from_slice(&self.data[src]);
        }
        Ok(())
    }

    /// The RELA and RELR tables of the file, checked: every entry is
    /// R_X86_64_RELATIVE or R_X86_64_NONE and its slot lies in the memory
    /// of a PT_LOAD segment. Returns the number of slots relocated.
    pub fn check_relocations(&self) -> Result<usize, Error> {
        let mut n = 0;
        self.for_each_relocation(|slot, _| {
            let in_segment = self.program_headers().any(|p| {
                p.p_type == PT_LOAD
                    && slot >= p.p_vaddr
                    && slot
                        .checked_add(8)
                        .is_some_and(|e| e <= p.p_vaddr + p.p_memsz)
            });
            if !in_segment {
                return Err(Error::RelocationOutOfImage { offset: slot });
            }
            n += 1;
            Ok(())
        })?;
        Ok(n)
    }

    /// Applies the relocations for an image loaded at `load_base` (the
    /// address its lowest page, [`Elf::load_range`]'s start, runs at) to
    /// `dst`, the image's bytes at link address `vaddr..vaddr + dst.len()`
    /// as [`Elf::fill`] left them: every relocated slot that overlaps the
    /// window gets its bytes in it (a slot may straddle two windows).
    /// Returns how many slots overlapped. Check the tables once with
    /// [`Elf::check_relocations`] first.
    pub fn relocate_window(
        &self,
        load_base: u64,
        vaddr: u64,
        dst: &mut [u8],
    ) -> Result<usize, Error> {
        let (link_base, _) = self.load_range()?;
        let bias = load_base.wrapping_sub(link_base);
        let wend = vaddr.saturating_add(dst.len() as u64);
        let mut n = 0;
        self.for_each_relocation(|slot, value| {
            let send = slot.saturating_add(8);
            if send <= vaddr || slot >= wend {
                return Ok(());
            }
            let bytes = value(self)?.wrapping_add(bias).to_le_bytes();
            let lo = slot.max(vaddr);
            let hi = send.min(wend);
            let from = (lo - slot) as usize..(hi - slot) as usize;
            let to = (lo - vaddr) as usize..(hi - vaddr) as usize;
            dst[to].copy_from_slice(&bytes[from]);
            n += 1;
            Ok(())
        })?;
        Ok(n)
    }

    /// Calls `f(slot, value)` for every relocated slot of the file's RELA
    /// and RELR tables, where `value(elf)` is the slot's link-time value
    /// (a RELA entry's addend; for RELR, the file's bytes at the slot).
    #[allow(clippy::type_complexity)]
    fn for_each_relocation(
        &self,
        mut f: impl FnMut(u64, &dyn Fn(&Elf<'a>) -> Result<u64, Error>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let machine = self.machine();
        for r in self.relocations()? {
            let t = r.r_type();
            if t == machine.none_type() {
                continue;
            }
            if t != machine.relative_type() {
                return Err(Error::UnsupportedRelocation {
                    machine,
                    r_type: t,
                    offset: r.r_offset,
                });
            }
            let addend = r.r_addend as u64;
            f(r.r_offset, &move |_| Ok(addend))?;
        }
        let Some(d) = self.dynamic()? else {
            return Ok(());
        };
        d.check()?;
        let Some(relr) = d.relr.filter(|_| d.relr_size > 0) else {
            return Ok(());
        };
        let table = self
            .file_bytes_at(relr, d.relr_size)
            .ok_or(Error::RelocTableOutOfRange {
                vaddr: relr,
                size: d.relr_size,
            })?;
        let read_slot = |e: &Elf<'a>, slot: u64| -> Result<u64, Error> {
            let b = e
                .file_bytes_at(slot, 8)
                .ok_or(Error::RelocationOutOfImage { offset: slot })?;
            rd_u64(b, 0).ok_or(Error::RelocationOutOfImage { offset: slot })
        };
        walk_relr(
            &mut (),
            0..table.len(),
            |_, j| rd_u64(table, j),
            |_, slot| f(slot, &move |e| read_slot(e, slot)),
        )
    }

    /// The value of the symbol `name` in the file's symbol table (or, if it
    /// has none, its dynamic symbol table): a link-time address. `None` if
    /// there is no such defined symbol or no symbol table (a stripped file).
    pub fn symbol(&self, name: &str) -> Result<Option<u64>, Error> {
        let h = self.header();
        if h.e_shoff == 0 || h.e_shnum == 0 {
            return Ok(None);
        }
        if (h.e_shentsize as usize) < SHDR_SIZE {
            return Err(Error::BadSectionHeaders);
        }
        let section = |i: usize| -> Result<Section, Error> {
            let off = (h.e_shoff as usize)
                .checked_add(
                    i.checked_mul(h.e_shentsize as usize)
                        .ok_or(Error::BadSectionHeaders)?,
                )
                .ok_or(Error::BadSectionHeaders)?;
            let b = self
                .data
                .get(off..off.checked_add(SHDR_SIZE).ok_or(Error::BadSectionHeaders)?)
                .ok_or(Error::BadSectionHeaders)?;
            Section::from_bytes(b).ok_or(Error::BadSectionHeaders)
        };
        let count = h.e_shnum as usize;
        let mut table = None;
        for kind in [SHT_SYMTAB, SHT_DYNSYM] {
            for i in 0..count {
                let s = section(i)?;
                if s.sh_type == kind {
                    table = Some(s);
                    break;
                }
            }
            if table.is_some() {
                break;
            }
        }
        let Some(symtab) = table else {
            return Ok(None);
        };
        let strtab = section(symtab.sh_link as usize)?;
        let syms = self.section_bytes(&symtab)?;
        let strs = self.section_bytes(&strtab)?;
        for sym in syms.chunks_exact(SYM_SIZE) {
            let st_name = rd_u32(sym, 0).ok_or(Error::BadSectionHeaders)? as usize;
            let st_shndx = rd_u16(sym, 6).ok_or(Error::BadSectionHeaders)?;
            let st_value = rd_u64(sym, 8).ok_or(Error::BadSectionHeaders)?;
            if st_shndx == 0 || st_name >= strs.len() {
                continue;
            }
            let rest = &strs[st_name..];
            let len = rest.iter().position(|&c| c == 0).unwrap_or(rest.len());
            if &rest[..len] == name.as_bytes() {
                return Ok(Some(st_value));
            }
        }
        Ok(None)
    }

    fn section_bytes(&self, s: &Section) -> Result<&'a [u8], Error> {
        let r: Range<usize> = sub_range(0, s.sh_offset, s.sh_size, self.data.len())
            .ok_or(Error::BadSectionHeaders)?;
        Ok(&self.data[r])
    }
}

/// The fields of a section header the symbol lookup needs.
struct Section {
    sh_type: u32,
    sh_offset: u64,
    sh_size: u64,
    sh_link: u32,
}

impl Section {
    fn from_bytes(b: &[u8]) -> Option<Section> {
        Some(Section {
            sh_type: rd_u32(b, 4)?,
            sh_offset: rd_u64(b, 24)?,
            sh_size: rd_u64(b, 32)?,
            sh_link: rd_u32(b, 40)?,
        })
    }
}
