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
//! How, per kernel: seL4 5.x has `X86_Page_Remap`; later kernels change
//! the rights when `X86_Page_Map` is called for a frame at the address it
//! is mapped at already. Neither flushes the TLB entry of the page, and a
//! page that was written (the RELRO pages, by the relocations) may have a
//! writable entry cached, so RELRO pages are unmapped (which flushes the
//! entry) and mapped again, read-only, by two system calls in one `asm!`
//! block, with no code in between that could touch them. Pages that were
//! never written (code, constants) have no writable entry and are
//! remapped in place.
//!
//! The image's frame capabilities stay in the root CNode (bootinfo's
//! `userImageFrames`): a thread that maps one of them writable again
//! undoes this; that takes a capability operation, not `unsafe`.

use sel4_start::tls::{Phdr, PF_W, PF_X, PT_GNU_RELRO, PT_LOAD};
use sel4_sys::{cap_type, CPtr, Cap, CapRights, InvocationError, InvocationLabel, Word};

use crate::bootinfo::BootInfo;

const PAGE: usize = 4096;
/// Most read-only ranges recorded.
const MAX_RANGES: usize = 8;

/// What [`protect`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Protection {
    /// Pages of code and constants remapped in place.
    pub in_place: usize,
    /// RELRO pages unmapped and mapped again.
    pub relro: usize,
    ranges: [(usize, usize); MAX_RANGES],
    n: usize,
}

impl Protection {
    /// The read-only ranges `[start, end)`.
    pub fn ranges(&self) -> &[(usize, usize)] {
        &self.ranges[..self.n]
    }

    fn add(&mut self, page: usize) {
        if self.n > 0 && self.ranges[self.n - 1].1 == page {
            self.ranges[self.n - 1].1 = page + PAGE;
        } else if self.n < MAX_RANGES {
            self.ranges[self.n] = (page, page + PAGE);
            self.n += 1;
        }
    }
}

/// Why the image could not be protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtectError {
    /// A page has no frame capability in bootinfo's `userImageFrames`.
    NoFrame { vaddr: usize },
    /// The kernel refused to change a mapping.
    Kernel {
        vaddr: usize,
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
                write!(f, "remapping the image page at {vaddr:#x}: {error}")
            }
            ProtectError::NoHeaders => {
                write!(f, "the program headers do not describe the loaded image")
            }
        }
    }
}

static PROTECTED: spin::Once<Protection> = spin::Once::new();

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
    let phdrs = crate::thread::program_headers();
    let base = crate::thread::image_start();
    let offset = sel4_start::tls::load_offset(phdrs, base).ok_or(ProtectError::NoHeaders)?;
    let seg = |p: &Phdr| {
        let s = (p.p_vaddr as usize).wrapping_add(offset);
        (s, s + p.p_memsz as usize)
    };
    let relro = phdrs.iter().find(|p| p.p_type == PT_GNU_RELRO).map(seg);
    // Bytes that stay writable: writable segments, RELRO left out.
    let mut writable = [(0usize, 0usize); 8];
    let mut nw = 0;
    for p in phdrs
        .iter()
        .filter(|p| p.p_type == PT_LOAD && p.p_flags & PF_W != 0)
    {
        let (s, e) = seg(p);
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
    let executable: [(usize, usize); 4] = {
        let mut x = [(0, 0); 4];
        for (i, p) in phdrs
            .iter()
            .filter(|p| p.p_type == PT_LOAD && p.p_flags & PF_X != 0)
            .take(4)
            .enumerate()
        {
            x[i] = seg(p);
        }
        x
    };
    let frames = bi.raw().user_image_frames();
    let vspace = sel4_sys::init_caps::CapInitThreadVSpace as CPtr;
    let mut done = Protection::default();
    // Candidate pages: read-only segments, then RELRO.
    let mut candidates = [(0usize, 0usize, false); 8];
    let mut nc = 0;
    for p in phdrs
        .iter()
        .filter(|p| p.p_type == PT_LOAD && p.p_flags & PF_W == 0)
    {
        if nc < candidates.len() {
            let (s, e) = seg(p);
            candidates[nc] = (s, e, false);
            nc += 1;
        }
    }
    if let Some((s, e)) = relro {
        if nc < candidates.len() {
            candidates[nc] = (s, e, true);
            nc += 1;
        }
    }
    for &(s, e, is_relro) in &candidates[..nc] {
        let mut page = s & !(PAGE - 1);
        while page < e {
            let range = (page, page + PAGE);
            let stays_writable = writable[..nw].iter().any(|&w| overlaps(w, range));
            if !stays_writable && !is_read_only_in(&done, page) {
                let index = (page - base) / PAGE;
                let slot = frames
                    .get(index)
                    .ok_or(ProtectError::NoFrame { vaddr: page })?
                    as CPtr;
                let frame = Cap::<cap_type::X86Page>::from_cptr(slot);
                let runs_code = executable.iter().any(|&x| overlaps(x, range));
                let r = if is_relro && !runs_code {
                    done.relro += 1;
                    remap_flushing(frame, vspace, page)
                } else {
                    done.in_place += 1;
                    remap_in_place(frame, vspace, page)
                };
                r.map_err(|error| ProtectError::Kernel { vaddr: page, error })?;
                done.add(page);
            }
            page += PAGE;
        }
    }
    PROTECTED.call_once(|| done);
    Ok(done)
}

fn is_read_only_in(p: &Protection, page: usize) -> bool {
    p.ranges().iter().any(|&(s, e)| (s..e).contains(&page))
}

const READ_ONLY: CapRights = CapRights(0b10);

/// Changes the rights of a mapped frame without unmapping it.
fn remap_in_place(
    frame: Cap<cap_type::X86Page>,
    vspace: CPtr,
    vaddr: usize,
) -> Result<(), InvocationError> {
    let attr = sel4_sys::X86_VMAttributes::Default_VMAttributes;
    // seL4 5.x has X86_Page_Remap; later kernels change a mapping's rights
    // when the frame is mapped again at the address it is mapped at.
    sel4_sys::sel4_cfg_if! {
        kernel >= 10 {
            frame.x86_page_map(vspace, vaddr as Word, READ_ONLY, attr)
        } else {
            let _ = vaddr;
            frame.x86_page_remap(vspace, READ_ONLY, attr)
        }
    }
}

/// Unmaps a frame and maps it read-only at the same address, with two
/// `Call`s in one `asm!` block: nothing runs in between that could touch
/// the page (module documentation).
fn remap_flushing(
    frame: Cap<cap_type::X86Page>,
    vspace: CPtr,
    vaddr: usize,
) -> Result<(), InvocationError> {
    // The map's extra capability (the VSpace) goes through the IPC buffer
    // first; the unmap's reply (no words, no capabilities) leaves it there.
    sel4_sys::ipc_buffer().set_caps(&[vspace]);
    let unmap = sel4_sys::MessageInfo::new(InvocationLabel::X86PageUnmap as Word, 0, 0, 0);
    let map = sel4_sys::MessageInfo::new(InvocationLabel::X86PageMap as Word, 0, 1, 3);
    let attr = sel4_sys::X86_VMAttributes::Default_VMAttributes.0;
    // Arguments and replies, on the stack (never read-only).
    let mut io: [Word; 8] = [
        frame.cptr(),
        unmap.0,
        0,
        map.0,
        vaddr as Word,
        READ_ONLY.0,
        attr,
        0,
    ];
    // Two system calls (start-up tracing counts them; nothing otherwise).
    sel4_sys::trace::syscall_entered();
    sel4_sys::trace::syscall_entered();
    // SAFETY: two seL4 `Call`s with the register convention of
    // `sel4_sys::arch::syscall` (rsp kept in r14; rcx, r11 and the message
    // registers rsi, rdi, r10, r8, r9, r15 clobbered; r12 preserved by the
    // kernel): X86_Page_Unmap of `frame`, then X86_Page_Map of it at
    // `vaddr`, read-only, in `vspace` (the extra capability written to the
    // IPC buffer above). Arguments come from `io` and the replies go back
    // to it (8 words on this thread's stack); the page being remapped
    // holds relocated pointers, which no instruction of this block reads.
    // The kernel checks the capabilities; an error comes back in the label.
    unsafe {
        core::arch::asm!(
            "mov r14, rsp",
            "mov rdi, qword ptr [r12]",
            "mov rsi, qword ptr [r12 + 8]",
            "mov rdx, {call}",
            "syscall",
            "mov rsp, r14",
            "mov qword ptr [r12 + 16], rsi",
            "mov rdi, qword ptr [r12]",
            "mov rsi, qword ptr [r12 + 24]",
            "mov r10, qword ptr [r12 + 32]",
            "mov r8, qword ptr [r12 + 40]",
            "mov r9, qword ptr [r12 + 48]",
            "mov rdx, {call}",
            "syscall",
            "mov rsp, r14",
            "mov qword ptr [r12 + 56], rsi",
            call = const sel4_sys::Syscall::Call as isize,
            in("r12") io.as_mut_ptr(),
            out("rdi") _,
            out("rsi") _,
            out("rdx") _,
            out("r10") _,
            out("r8") _,
            out("r9") _,
            out("r15") _,
            out("r14") _,
            out("rcx") _,
            out("r11") _,
            options(nostack),
        );
    }
    for reply in [io[2], io[7]] {
        let label = sel4_sys::MessageInfo(reply).get_label();
        if label != 0 {
            return Err(InvocationError::decode(label, |_| 0));
        }
    }
    Ok(())
}

/// Checks `frame` is the image's frame at `vaddr` (for tests): the one
/// bootinfo lists for that page.
pub fn frame_of(bi: &BootInfo, vaddr: usize) -> Option<Cap<cap_type::X86Page>> {
    let base = crate::thread::image_start();
    let index = vaddr.checked_sub(base)? / PAGE;
    bi.raw()
        .user_image_frames()
        .get(index)
        .map(|s| Cap::from_cptr(s as CPtr))
}
