//! The image's code and read-only data, mapped read-only at start.
//!
//! The kernel maps the whole initial image writable. Before `main` (after
//! the start code applied the relocations, on the only thread), the
//! runtime maps again, read-only, every page of the image that holds
//! nothing writable: the ELF header and `.rodata` (first `PT_LOAD`),
//! `.text`, and the relocated pointers of `PT_GNU_RELRO` (`.data.rel.ro`,
//! `.got`). A page that also holds writable data (`.data`, `.bss`) stays
//! writable. Code stays executable. A write to a protected page is a VM
//! fault of the writing thread.
//!
//! How, per architecture (`crate::arch`, `protect_page`):
//! - x86_64: seL4 5.x has `X86_Page_Remap`; later kernels change the rights
//!   when `X86_Page_Map` is called for a frame at the address it is mapped
//!   at already. Neither flushes the TLB entry of the page, and a page that
//!   was written (the RELRO pages, by the relocations) may have a writable
//!   entry cached, so RELRO pages are unmapped (which flushes the entry)
//!   and mapped again, read-only, by two system calls in one `asm!` block,
//!   with no code in between that could touch them. Pages that were never
//!   written (code, constants) have no writable entry and are remapped in
//!   place.
//! - aarch64 and riscv64: `ARM_Page_Map` / `RISCV_Page_Map` at the address
//!   the frame is mapped at replaces the entry and flushes it (the ARM
//!   kernel invalidates the address's TLB entry when the old entry was
//!   valid, the RISC-V kernel runs `sfence.vma` after every update), so
//!   every page is remapped in place; pages without code are mapped
//!   execute-never too.
//!
//! The image's frame capabilities stay in the root CNode (bootinfo's
//! `userImageFrames`): a thread that maps one of them writable again
//! undoes this; that takes a capability operation, not `unsafe`.

use sel4_elf_reloc::{ProgramHeader, PF_W, PF_X, PT_GNU_RELRO, PT_LOAD};
use sel4_sys::{CPtr, Cap, InvocationError};

use crate::bootinfo::BootInfo;

const PAGE: usize = 4096;
/// Most read-only ranges recorded.
const MAX_RANGES: usize = 8;

/// What the runtime's protection of the image at start (`protect`) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Protection {
    /// Pages remapped in place (code and constants; on aarch64 and riscv64
    /// the RELRO pages too).
    pub in_place: usize,
    /// RELRO pages unmapped and mapped again (x86_64).
    pub relro: usize,
    ranges: [(usize, usize); MAX_RANGES],
    n: usize,
}

impl Protection {
    /// The read-only ranges `[start, end)`.
    pub fn ranges(&self) -> &[(usize, usize)] {
        self.ranges.get(..self.n).unwrap_or(&[])
    }

    fn add(&mut self, page: usize) {
        if let Some(last) = self.n.checked_sub(1).and_then(|i| self.ranges.get_mut(i)) {
            if last.1 == page {
                last.1 = page + PAGE;
                return;
            }
        }
        if let Some(next) = self.ranges.get_mut(self.n) {
            *next = (page, page + PAGE);
            self.n += 1;
        }
    }
}

/// How `crate::arch::protect_page` made a page read-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Remapped {
    /// One map at the address the frame is mapped at.
    InPlace,
    /// Unmapped (flushing its TLB entry), then mapped (x86_64).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    UnmappedFirst,
}

/// Why the image could not be protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtectError {
    /// A page has no frame capability in bootinfo's `userImageFrames`.
    NoFrame {
        /// The page's virtual address.
        vaddr: usize,
    },
    /// The kernel refused to change a mapping.
    Kernel {
        /// The page whose mapping the kernel refused to change.
        vaddr: usize,
        /// What the kernel returned.
        error: InvocationError,
    },
    /// The program headers do not describe the loaded image.
    NoHeaders,
}

impl core::fmt::Display for ProtectError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ProtectError::NoFrame { vaddr } => {
                write!(f, "no frame capability for the image page at {vaddr:#x}")
            }
            ProtectError::Kernel { vaddr, error } => {
                write!(f, "remapping the image page at {vaddr:#x}: ")?;
                error.fmt(f)
            }
            ProtectError::NoHeaders => {
                write!(f, "the program headers do not describe the loaded image")
            }
        }
    }
}

static PROTECTED: crate::sync::SetOnce<Protection> = crate::sync::SetOnce::new();

/// Whether `addr` lies in a page the runtime mapped read-only at start.
pub fn is_read_only(addr: usize) -> bool {
    PROTECTED
        .get()
        .is_some_and(|p| p.ranges().iter().any(|&(s, e)| (s..e).contains(&addr)))
}

/// What the runtime protected at start, if it could.
pub fn protection() -> Option<Protection> {
    PROTECTED.get().copied()
}

fn overlaps(a: (usize, usize), b: (usize, usize)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

/// Remaps the image's read-only pages (module documentation). Called once,
/// before `main`.
pub(crate) fn protect(bi: &BootInfo) -> Result<Protection, ProtectError> {
    let own = crate::thread::own_image().ok_or(ProtectError::NoHeaders)?;
    let base = crate::thread::image_start();
    let seg = |p: &ProgramHeader| {
        let s = own.runtime_address(p.p_vaddr);
        (s, s + p.p_memsz as usize)
    };
    let relro = own
        .program_headers()
        .find(|p| p.p_type == PT_GNU_RELRO)
        .map(|p| seg(&p));
    // One pass over the loadable segments: the bytes that stay writable
    // (writable segments, RELRO left out), the executable ranges, and the
    // candidate pages (read-only segments, then RELRO).
    let mut writable = [(0usize, 0usize); 8];
    let mut nw = 0;
    let mut executable = [(0usize, 0usize); 4];
    let mut nx = 0;
    let mut candidates = [(0usize, 0usize, false); 8];
    let mut nc = 0;
    for p in own.program_headers().filter(|p| p.p_type == PT_LOAD) {
        let (s, e) = seg(&p);
        if p.p_flags & PF_X != 0 && nx < executable.len() {
            executable[nx] = (s, e);
            nx += 1;
        }
        if p.p_flags & PF_W == 0 {
            if nc < candidates.len() {
                candidates[nc] = (s, e, false);
                nc += 1;
            }
            continue;
        }
        let mut push = |r: (usize, usize)| {
            if r.0 < r.1 && nw < writable.len() {
                writable[nw] = r;
                nw += 1;
            }
        };
        match relro {
            Some((rs, re)) if overlaps((s, e), (rs, re)) => {
                push((s, rs.max(s)));
                push((re.min(e), e));
            }
            _ => push((s, e)),
        }
    }
    if let Some((s, e)) = relro {
        if nc < candidates.len() {
            candidates[nc] = (s, e, true);
            nc += 1;
        }
    }
    let frames = bi.user_image_frames();
    let mut done = Protection::default();
    // `take`, not `[..n]`: the counts never pass the arrays, and no slicing
    // panic is linked for them.
    for &(s, e, is_relro) in candidates.iter().take(nc) {
        let mut page = s & !(PAGE - 1);
        while page < e {
            let range = (page, page + PAGE);
            let stays_writable = writable.iter().take(nw).any(|&w| overlaps(w, range));
            if !stays_writable && !is_read_only_in(&done, page) {
                let index = (page - base) / PAGE;
                let slot = frames
                    .get(index)
                    .ok_or(ProtectError::NoFrame { vaddr: page })?
                    as CPtr;
                let runs_code = executable.iter().take(nx).any(|&x| overlaps(x, range));
                // Written by the relocation: a writable TLB entry may be
                // cached (the architecture decides whether that needs an
                // unmap first).
                let written = is_relro && !runs_code;
                match crate::arch::protect_page(slot, page, runs_code, written) {
                    Ok(Remapped::InPlace) => done.in_place += 1,
                    Ok(Remapped::UnmappedFirst) => done.relro += 1,
                    Err(error) => return Err(ProtectError::Kernel { vaddr: page, error }),
                }
                done.add(page);
            }
            page += PAGE;
        }
    }
    let _ = PROTECTED.set(done);
    Ok(done)
}

fn is_read_only_in(p: &Protection, page: usize) -> bool {
    p.ranges().iter().any(|&(s, e)| (s..e).contains(&page))
}

/// Checks `frame` is the image's frame at `vaddr` (for tests): the one
/// bootinfo lists for that page.
pub fn frame_of(bi: &BootInfo, vaddr: usize) -> Option<Cap<sel4::Granule>> {
    let base = crate::thread::image_start();
    let index = vaddr.checked_sub(base)? / PAGE;
    bi.user_image_frames()
        .get(index)
        .map(|s| Cap::from_cptr(s as CPtr))
}
