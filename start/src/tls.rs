//! Thread-local storage from the image's `PT_TLS` segment, laid out as the
//! architecture's ELF TLS ABI wants it ([`TlsVariant`]):
//! - x86_64, variant II: the TLS block ends at the thread pointer, and the
//!   word at the thread pointer holds its own address;
//! - aarch64, variant I: the thread pointer (`tpidr_el0`) points at a
//!   16-byte thread control block, the TLS block follows at the TCB size
//!   rounded up to the block's alignment;
//! - riscv64, variant I without a TCB: the TLS block starts at the thread
//!   pointer (`tp`).
//!
//! These are the offsets the linker (lld) bakes into local-exec TLS accesses.
//! The layout code is plain Rust over slices, tested on the host for every
//! variant; it serves the initial thread here and every thread the runtime
//! creates later.

/// ELF program header, 64-bit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Phdr {
    /// Segment type (`PT_LOAD`, `PT_TLS`, ...).
    pub p_type: u32,
    /// Segment permissions (`PF_R`, `PF_W`, `PF_X`).
    pub p_flags: u32,
    /// Offset of the segment's bytes in the file.
    pub p_offset: u64,
    /// Virtual address of the segment's first byte (link-time).
    pub p_vaddr: u64,
    /// Physical address (unused here).
    pub p_paddr: u64,
    /// Bytes of the segment in the file.
    pub p_filesz: u64,
    /// Bytes of the segment in memory (the rest after `p_filesz` is zero).
    pub p_memsz: u64,
    /// Alignment of the segment in memory and in the file (a power of
    /// two; 0 or 1: none).
    pub p_align: u64,
}

/// A loadable segment.
pub const PT_LOAD: u32 = 1;
/// The dynamic section (relocations of a position-independent image).
pub const PT_DYNAMIC: u32 = 2;
/// The program header table itself.
pub const PT_PHDR: u32 = 6;
/// The thread-local storage template.
pub const PT_TLS: u32 = 7;
/// The part of the writable segment that is read-only after relocation.
pub const PT_GNU_RELRO: u32 = 0x6474_e552;
/// Segment flag: executable.
pub const PF_X: u32 = 1;
/// Segment flag: writable.
pub const PF_W: u32 = 2;
/// Segment flag: readable.
pub const PF_R: u32 = 4;

/// Least alignment of a thread pointer (the ABI's stack-guard and TCB
/// words, and SSE-aligned TLS data, want 16).
pub const TP_ALIGN: usize = 16;

/// Bytes reserved at the thread pointer for the thread control block on
/// x86_64 (the self pointer and room for ABI words such as the stack guard
/// at 0x28).
pub const TCB_SIZE: usize = 64;

/// Size of the thread control block at the thread pointer on aarch64 (two
/// words, what the linker assumes: `tcbSize` in lld).
pub const AARCH64_TCB_SIZE: usize = 16;

/// Where the TLS block sits relative to the thread pointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVariant {
    /// Variant II (x86_64): block right below the thread pointer, a
    /// [`TCB_SIZE`]-byte TCB at it whose first word is its own address.
    X86_64,
    /// Variant I (aarch64): a [`AARCH64_TCB_SIZE`]-byte TCB at the thread
    /// pointer, the block after it at `tp + align_up(16, align)`.
    Aarch64,
    /// Variant I (riscv): the block starts at the thread pointer.
    Riscv,
}

impl TlsVariant {
    /// The variant of the architecture this crate is compiled for (x86_64
    /// for host builds on anything else, which only run tests).
    pub const NATIVE: TlsVariant = if cfg!(target_arch = "aarch64") {
        TlsVariant::Aarch64
    } else if cfg!(any(target_arch = "riscv64", target_arch = "riscv32")) {
        TlsVariant::Riscv
    } else {
        TlsVariant::X86_64
    };
}

/// Why a TLS block could not be set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsError {
    /// The TLS segment's alignment is not a power of two.
    BadAlignment(u64),
    /// The TLS segment's file size exceeds its memory size.
    BadSize {
        /// The segment's `p_filesz`.
        filesz: u64,
        /// The segment's `p_memsz`.
        memsz: u64,
    },
    /// The area given for the block is too small.
    AreaTooSmall {
        /// Bytes the block needs with its TCB and alignment slack.
        needed: usize,
        /// Bytes the area has.
        available: usize,
    },
    /// No loadable segment maps the ELF header, so addresses cannot be
    /// translated to where the image runs.
    NoHeaderSegment,
    /// The TLS segment's address is not a multiple of its alignment, which
    /// the local-exec offsets of the linker do not account for here.
    MisalignedTemplate {
        /// The TLS segment's `p_vaddr`.
        vaddr: u64,
        /// The TLS segment's `p_align`.
        align: u64,
    },
}

impl core::fmt::Display for TlsError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TlsError::BadAlignment(a) => write!(f, "PT_TLS alignment {a} is not a power of two"),
            TlsError::BadSize { filesz, memsz } => {
                write!(f, "PT_TLS file size {filesz} exceeds memory size {memsz}")
            }
            TlsError::AreaTooSmall { needed, available } => {
                write!(
                    f,
                    "TLS block needs {needed} bytes, only {available} available"
                )
            }
            TlsError::NoHeaderSegment => write!(f, "no PT_LOAD segment maps the ELF header"),
            TlsError::MisalignedTemplate { vaddr, align } => {
                write!(
                    f,
                    "PT_TLS at {vaddr:#x} is not aligned to its alignment {align}"
                )
            }
        }
    }
}

/// Where a loaded image's TLS template is and how big and aligned its
/// blocks are: plain numbers from the program headers (no memory is read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsSegment {
    /// Run-time address of the initialised part (`.tdata`).
    pub template: usize,
    /// Bytes of `.tdata`.
    pub filesz: usize,
    /// Bytes of `.tdata` plus `.tbss`.
    pub memsz: usize,
    /// Alignment of the block (`p_align`, at least 1).
    pub align: usize,
}

/// The TLS template of a loaded image, ready to lay out blocks: the
/// template's bytes and the block's size and alignment, checked when it
/// is made (fields private, so every `TlsImage` is a valid one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsImage {
    template: &'static [u8],
    memsz: usize,
    align: usize,
}

/// Reads the program headers of the image whose ELF header is at `ehdr`.
///
/// # Safety
/// `ehdr` must be the address of a mapped ELF64 header whose program header
/// table is mapped too, and both must stay mapped and unchanged for `'static`.
pub unsafe fn program_headers(ehdr: usize) -> &'static [Phdr] {
    // SAFETY: per the contract, the header fields at these offsets
    // (e_phoff at 32, e_phentsize at 54, e_phnum at 56) are readable.
    unsafe {
        let phoff = core::ptr::read_unaligned((ehdr + 32) as *const u64) as usize;
        let phnum = core::ptr::read_unaligned((ehdr + 56) as *const u16) as usize;
        let phentsize = core::ptr::read_unaligned((ehdr + 54) as *const u16) as usize;
        if phentsize != core::mem::size_of::<Phdr>() {
            return &[];
        }
        core::slice::from_raw_parts((ehdr + phoff) as *const Phdr, phnum)
    }
}

/// Difference between where the image runs and where it was linked, given
/// the run-time address of its ELF header.
pub fn load_offset(phdrs: &[Phdr], ehdr_runtime: usize) -> Option<usize> {
    phdrs
        .iter()
        .find(|p| p.p_type == PT_LOAD && p.p_offset == 0)
        .map(|p| ehdr_runtime.wrapping_sub(p.p_vaddr as usize))
}

impl TlsSegment {
    /// Finds the TLS segment; an image without `PT_TLS` gets an empty one.
    pub fn from_phdrs(phdrs: &[Phdr], ehdr_runtime: usize) -> Result<TlsSegment, TlsError> {
        let Some(tls) = phdrs.iter().find(|p| p.p_type == PT_TLS) else {
            return Ok(TlsSegment {
                template: 0,
                filesz: 0,
                memsz: 0,
                align: 1,
            });
        };
        let offset = load_offset(phdrs, ehdr_runtime).ok_or(TlsError::NoHeaderSegment)?;
        if tls.p_align != 0 && !tls.p_align.is_power_of_two() {
            return Err(TlsError::BadAlignment(tls.p_align));
        }
        if tls.p_filesz > tls.p_memsz {
            return Err(TlsError::BadSize {
                filesz: tls.p_filesz,
                memsz: tls.p_memsz,
            });
        }
        if tls.p_align > 1 && tls.p_vaddr % tls.p_align != 0 {
            return Err(TlsError::MisalignedTemplate {
                vaddr: tls.p_vaddr,
                align: tls.p_align,
            });
        }
        Ok(TlsSegment {
            template: (tls.p_vaddr as usize).wrapping_add(offset),
            filesz: tls.p_filesz as usize,
            memsz: tls.p_memsz as usize,
            align: core::cmp::max(tls.p_align as usize, 1),
        })
    }
}

impl TlsImage {
    /// A TLS image from its template bytes (`.tdata`), the block's size
    /// (`.tdata` plus `.tbss`) and alignment (`p_align`: a power of two).
    /// The block is rounded up to exactly this alignment, as the linker
    /// does when it computes the thread-pointer offsets of TLS variables
    /// (rounding to anything larger would move every variable); the thread
    /// pointer itself is aligned to at least 16 ([`TP_ALIGN`]).
    pub fn new(template: &'static [u8], memsz: usize, align: usize) -> Result<TlsImage, TlsError> {
        if !align.is_power_of_two() {
            return Err(TlsError::BadAlignment(align as u64));
        }
        if template.len() > memsz {
            return Err(TlsError::BadSize {
                filesz: template.len() as u64,
                memsz: memsz as u64,
            });
        }
        Ok(TlsImage {
            template,
            memsz,
            align,
        })
    }

    /// The TLS image of the loaded image whose program headers are `phdrs`
    /// and whose ELF header runs at `ehdr_runtime`.
    ///
    /// # Safety
    /// `phdrs` must be the program headers of that image, loaded at
    /// `ehdr_runtime`: its `PT_TLS` template must be mapped, readable and
    /// unchanged for `'static`.
    pub unsafe fn from_loaded_image(
        phdrs: &[Phdr],
        ehdr_runtime: usize,
    ) -> Result<TlsImage, TlsError> {
        let seg = TlsSegment::from_phdrs(phdrs, ehdr_runtime)?;
        let template: &'static [u8] = if seg.filesz == 0 {
            &[]
        } else {
            // SAFETY: per the contract, the template is mapped for 'static.
            unsafe { core::slice::from_raw_parts(seg.template as *const u8, seg.filesz) }
        };
        TlsImage::new(template, seg.memsz, seg.align)
    }

    /// Bytes of `.tdata`.
    pub fn filesz(&self) -> usize {
        self.template.len()
    }

    /// Bytes of `.tdata` plus `.tbss`.
    pub fn memsz(&self) -> usize {
        self.memsz
    }

    /// Alignment of the block (the segment's `p_align`).
    pub fn align(&self) -> usize {
        self.align
    }

    /// Alignment of the thread pointer: the block's, but at least
    /// [`TP_ALIGN`].
    fn tp_align(&self) -> usize {
        self.align.max(TP_ALIGN)
    }

    /// Bytes an area needs, in the worst case of alignment, for this block
    /// on this architecture.
    pub fn area_size(&self) -> usize {
        self.area_size_for(TlsVariant::NATIVE)
    }

    /// Bytes an area needs, in the worst case of alignment, for this block
    /// in the given layout.
    pub fn area_size_for(&self, variant: TlsVariant) -> usize {
        let block = self.memsz.next_multiple_of(self.align);
        let tp_align = self.tp_align();
        match variant {
            TlsVariant::X86_64 => block + TCB_SIZE + tp_align,
            TlsVariant::Aarch64 => AARCH64_TCB_SIZE.next_multiple_of(self.align) + block + tp_align,
            TlsVariant::Riscv => block + tp_align,
        }
    }

    /// Lays out a TLS block (and TCB) inside `area` for this architecture,
    /// copies the template into it and returns the thread pointer.
    pub fn init_block(&self, area: &mut [u8]) -> Result<usize, TlsError> {
        self.init_block_for(TlsVariant::NATIVE, area)
    }

    /// Lays out the block in `area` as `variant` wants it, copies the
    /// template into it and returns the thread pointer (an address inside
    /// `area`).
    pub fn init_block_for(&self, variant: TlsVariant, area: &mut [u8]) -> Result<usize, TlsError> {
        let base = area.as_ptr() as usize;
        let end = base + area.len();
        let too_small = TlsError::AreaTooSmall {
            needed: self.area_size_for(variant),
            available: area.len(),
        };
        let block_size = self.memsz.next_multiple_of(self.align);
        // (thread pointer, offset of the block from `base`, bytes of TCB
        // at the thread pointer)
        let (tp, start, tcb) = match variant {
            TlsVariant::X86_64 => {
                if end < TCB_SIZE {
                    return Err(too_small);
                }
                let tp = (end - TCB_SIZE) & !(self.tp_align() - 1);
                if tp < base + block_size {
                    return Err(too_small);
                }
                (tp, tp - block_size - base, TCB_SIZE)
            }
            TlsVariant::Aarch64 | TlsVariant::Riscv => {
                let tcb = if variant == TlsVariant::Aarch64 {
                    AARCH64_TCB_SIZE
                } else {
                    0
                };
                let gap = tcb.next_multiple_of(self.align);
                let tp = base.next_multiple_of(self.tp_align());
                if tp + gap + block_size > end {
                    return Err(too_small);
                }
                (tp, tp + gap - base, tcb)
            }
        };
        let tp_off = tp - base;
        let t = self.template;
        area[start..start + t.len()].copy_from_slice(t);
        area[start + t.len()..start + block_size].fill(0);
        area[tp_off..tp_off + tcb].fill(0);
        if variant == TlsVariant::X86_64 {
            area[tp_off..tp_off + 8].copy_from_slice(&(tp as u64).to_le_bytes());
        }
        Ok(tp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls_phdr(vaddr: u64, filesz: u64, memsz: u64, align: u64) -> Phdr {
        Phdr {
            p_type: PT_TLS,
            p_vaddr: vaddr,
            p_filesz: filesz,
            p_memsz: memsz,
            p_align: align,
            ..Default::default()
        }
    }

    fn load_phdr(vaddr: u64) -> Phdr {
        Phdr {
            p_type: PT_LOAD,
            p_vaddr: vaddr,
            p_offset: 0,
            ..Default::default()
        }
    }

    #[test]
    fn no_tls_segment_gives_empty_block_with_self_pointer() {
        let seg = TlsSegment::from_phdrs(&[load_phdr(0x400000)], 0x400000).unwrap();
        assert_eq!(seg.memsz, 0);
        let img = TlsImage::new(&[], seg.memsz, seg.align).unwrap();
        let mut area = vec![0xAAu8; 256];
        let tp = img.init_block_for(TlsVariant::X86_64, &mut area).unwrap();
        let off = tp - area.as_ptr() as usize;
        assert_eq!(tp % 16, 0);
        assert_eq!(
            u64::from_le_bytes(area[off..off + 8].try_into().unwrap()),
            tp as u64
        );
    }

    #[test]
    fn template_is_translated_by_load_offset() {
        let phdrs = [load_phdr(0x400000), tls_phdr(0x401000, 8, 24, 8)];
        let seg = TlsSegment::from_phdrs(&phdrs, 0x10_0000_0000).unwrap();
        assert_eq!(seg.template, 0x10_0000_0000 + 0x1000);
        assert_eq!(seg.align, 8);
    }

    #[test]
    fn block_ends_at_thread_pointer_with_tdata_then_zeroed_tbss() {
        static TEMPLATE: [u8; 4] = [1, 2, 3, 4];
        let template = TEMPLATE;
        let img = TlsImage::new(&TEMPLATE, 40, 32).unwrap();
        let mut area = vec![0xAAu8; 512];
        let tp = img.init_block_for(TlsVariant::X86_64, &mut area).unwrap();
        let base = area.as_ptr() as usize;
        assert_eq!(tp % 32, 0);
        let block = tp - base - 64; // memsz 40 rounded up to the alignment 32
        assert_eq!(&area[block..block + 4], &template);
        assert!(area[block + 4..tp - base].iter().all(|&b| b == 0));
        assert_eq!(
            u64::from_le_bytes(area[tp - base..tp - base + 8].try_into().unwrap()),
            tp as u64
        );
        // A variable at TLS offset -64 + 2 from the thread pointer reads byte 3.
        assert_eq!(area[tp - base - 64 + 2], 3);
    }

    #[test]
    fn too_small_area_is_an_error() {
        let img = TlsImage::new(&[], 4096, 16).unwrap();
        let mut area = vec![0u8; 1024];
        for v in [TlsVariant::X86_64, TlsVariant::Aarch64, TlsVariant::Riscv] {
            assert!(matches!(
                img.init_block_for(v, &mut area),
                Err(TlsError::AreaTooSmall { .. })
            ));
        }
    }

    #[test]
    fn bad_alignment_and_size_are_errors() {
        let phdrs = [load_phdr(0), tls_phdr(0x1000, 8, 8, 3)];
        assert_eq!(
            TlsSegment::from_phdrs(&phdrs, 0),
            Err(TlsError::BadAlignment(3))
        );
        let phdrs = [load_phdr(0), tls_phdr(0x1000, 16, 8, 8)];
        assert!(matches!(
            TlsSegment::from_phdrs(&phdrs, 0),
            Err(TlsError::BadSize { .. })
        ));
        let phdrs = [tls_phdr(0x1000, 8, 8, 8)];
        assert_eq!(
            TlsSegment::from_phdrs(&phdrs, 0),
            Err(TlsError::NoHeaderSegment)
        );
    }

    #[test]
    fn tls_image_checks_what_it_is_made_of() {
        static T: [u8; 8] = [0; 8];
        assert_eq!(
            TlsImage::new(&T, 4, 16),
            Err(TlsError::BadSize {
                filesz: 8,
                memsz: 4
            })
        );
        assert_eq!(TlsImage::new(&T, 8, 24), Err(TlsError::BadAlignment(24)));
        let img = TlsImage::new(&T, 64, 8).unwrap();
        assert_eq!((img.filesz(), img.memsz(), img.align()), (8, 64, 8));
    }

    static T4: [u8; 4] = [1, 2, 3, 4];

    #[test]
    fn aarch64_block_follows_a_16_byte_tcb() {
        // lld: a local-exec access to TLS offset o reads tp + align_up(16,
        // align) + o.
        for align in [16usize, 32, 64] {
            let img = TlsImage::new(&T4, 40, align).unwrap();
            let mut area = vec![0xAAu8; 1024];
            let base = area.as_ptr() as usize;
            let tp = img.init_block_for(TlsVariant::Aarch64, &mut area).unwrap();
            assert_eq!(tp % align, 0);
            let t = tp - base;
            let block = t + 16usize.next_multiple_of(align);
            assert!(area[t..t + 16].iter().all(|&b| b == 0), "zeroed TCB");
            assert_eq!(&area[block..block + 4], &T4);
            assert!(area[block + 4..block + 40].iter().all(|&b| b == 0));
            assert_eq!(area[block + 2], 3, "TLS offset 2 reads byte 3");
            assert!(block + 40 <= img.area_size_for(TlsVariant::Aarch64) + t);
        }
    }

    #[test]
    fn riscv_block_starts_at_the_thread_pointer() {
        static T: [u8; 4] = [9, 8, 7, 6];
        let img = TlsImage::new(&T, 40, 32).unwrap();
        let mut area = vec![0xAAu8; 256];
        let base = area.as_ptr() as usize;
        let tp = img.init_block_for(TlsVariant::Riscv, &mut area).unwrap();
        assert_eq!(tp % 32, 0);
        let t = tp - base;
        assert_eq!(&area[t..t + 4], &T);
        assert!(
            area[t + 4..t + 64].iter().all(|&b| b == 0),
            "tbss rounded up to 64"
        );
        assert_eq!(area[t + 3], 6, "TLS offset 3 reads byte 4 of the template");
    }

    #[test]
    fn area_size_is_enough_at_any_alignment() {
        // Whatever the area's own alignment, an area of area_size() bytes
        // holds the block.
        static T3: [u8; 3] = [1, 2, 3];
        for v in [TlsVariant::X86_64, TlsVariant::Aarch64, TlsVariant::Riscv] {
            for align in [16usize, 64, 256] {
                let img = TlsImage::new(&T3, 100, align).unwrap();
                let need = img.area_size_for(v);
                let mut big = vec![0u8; need + 512];
                for shift in [0usize, 1, 8, 15, 16, 17, 63, 255] {
                    let area = &mut big[shift..shift + need];
                    img.init_block_for(v, area)
                        .unwrap_or_else(|e| panic!("{v:?} align {align} shift {shift}: {e}"));
                }
            }
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn native_variant_is_the_host_one_in_tests() {
        assert_eq!(TlsVariant::NATIVE, TlsVariant::X86_64);
        let img = TlsImage::new(&[], 8, 16).unwrap();
        let mut a = vec![0u8; img.area_size()];
        let mut b = vec![0u8; img.area_size()];
        let tp_a = img.init_block(&mut a).unwrap() - a.as_ptr() as usize;
        let tp_b = img.init_block_for(TlsVariant::X86_64, &mut b).unwrap() - b.as_ptr() as usize;
        assert_eq!(tp_a, tp_b);
    }

    /// lld's x86_64 thread-pointer offset of a TLS variable at offset `o`
    /// of the segment is `o - align_up(p_memsz, p_align)`: with p_align 8
    /// and a size that is no multiple of 16, rounding the block to 16 would
    /// move every variable by 8 bytes.
    #[test]
    fn x86_64_block_is_rounded_to_the_segments_own_alignment() {
        static T: [u8; 16] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
        let memsz = 40; // 16 bytes of .tdata, 24 of .tbss
        let img = TlsImage::new(&T, memsz, 8).unwrap();
        let mut area = vec![0xAAu8; 512];
        let tp = img.init_block_for(TlsVariant::X86_64, &mut area).unwrap();
        assert_eq!(tp % TP_ALIGN, 0);
        let t = tp - area.as_ptr() as usize;
        let tpoff = |o: usize| t + o - memsz.next_multiple_of(8);
        assert_eq!(area[tpoff(0)], 1, "first .tdata byte");
        assert_eq!(area[tpoff(15)], 16, "last .tdata byte");
        assert!(area[tpoff(16)..tpoff(40)].iter().all(|&b| b == 0), ".tbss");
    }

    #[test]
    fn misaligned_template_is_an_error() {
        let phdrs = [load_phdr(0), tls_phdr(0x1008, 8, 8, 16)];
        assert_eq!(
            TlsSegment::from_phdrs(&phdrs, 0),
            Err(TlsError::MisalignedTemplate {
                vaddr: 0x1008,
                align: 16
            })
        );
    }
}
