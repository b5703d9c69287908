//! The first code of a seL4 root task.
//!
//! `_start` (in `global_asm!`, per architecture) is entered by the kernel with
//! the bootinfo pointer in the first argument register and no stack. It
//! 1. switches to a static stack,
//! 2. applies the image's relative relocations for the address it actually
//!    runs at when the image is position-independent (`self_relocate`),
//! 3. calls `__sel4rs_rust_start`, which checks where the image runs
//!    ([`check_placement`]: not below [`MIN_IMAGE_BASE`], pointers relocated)
//!    and, when it may, lays out the initial thread's TLS block from the
//!    image's `PT_TLS` segment; it returns a [`StartInfo`],
//! 4. calls the runtime's `extern "C" fn __sel4rs_runtime_entry(&StartInfo)
//!    -> !` with it.
//!
//! The calls are made from the asm so that they need no relocated data: a
//! call from Rust to a function of another crate may go through the GOT.
//!
//! Setting the thread pointer is left to the runtime: how it is done depends
//! on the kernel's configuration (a user-mode instruction or a TCB
//! invocation), which this crate does not know.
#![cfg_attr(not(test), no_std)]

pub mod tls;

#[cfg(target_arch = "x86_64")]
#[path = "arch/x86_64.rs"]
mod arch;

#[cfg(target_arch = "aarch64")]
#[path = "arch/aarch64.rs"]
mod arch;

#[cfg(target_arch = "riscv64")]
#[path = "arch/riscv64.rs"]
mod arch;

pub use arch::self_relocate;
pub use sel4_elf_reloc::MIN_IMAGE_BASE;

/// The time stamp counter at the first instruction of `_start` (feature
/// `startup-trace`, x86_64; under QEMU's `-icount shift=0` an instruction
/// count), `None` otherwise.
pub fn start_tsc() -> Option<u64> {
    #[cfg(all(target_os = "none", feature = "startup-trace", target_arch = "x86_64"))]
    return Some(START_TSC.load(core::sync::atomic::Ordering::Relaxed));
    #[cfg(not(all(target_os = "none", feature = "startup-trace", target_arch = "x86_64")))]
    None
}

/// Written by `_start` (feature `startup-trace`).
#[cfg(all(target_os = "none", feature = "startup-trace", target_arch = "x86_64"))]
#[export_name = "__sel4rs_start_tsc"]
static START_TSC: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Bytes of stack for the initial thread.
pub const INITIAL_STACK_SIZE: usize = 256 * 1024;
/// Bytes reserved for the initial thread's static TLS block and TCB.
pub const INITIAL_TLS_SIZE: usize = 16 * 1024;

/// What the start code found, handed to the runtime.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub struct StartInfo {
    /// Address of seL4_BootInfo, as the kernel passed it.
    pub bootinfo: usize,
    /// Thread pointer for the initial thread (its TLS block is ready; the
    /// runtime must still load it into the CPU), or 0 on error.
    pub thread_pointer: usize,
    /// Result of self-relocation and of [`check_placement`]: number of
    /// relocations applied, or a negative [`RelocStatus`] code.
    pub relocation: isize,
    /// Address the image's ELF header was loaded at.
    pub image_start: usize,
    /// TLS set-up error, if any.
    pub tls_error: Option<tls::TlsError>,
}

/// Negative codes of [`self_relocate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(isize)]
pub enum RelocStatus {
    /// A relocation type other than the architecture's RELATIVE or NONE
    /// (R_X86_64_RELATIVE, R_AARCH64_RELATIVE, R_RISCV_RELATIVE).
    UnsupportedType = -1,
    /// The image has a dynamic section but no program header for it.
    NoDynamicHeader = -2,
    /// No PT_LOAD segment maps the ELF header, so the load offset is
    /// unknown (aarch64 and riscv64, which find the dynamic section through
    /// the program headers).
    NoHeaderSegment = -3,
    /// The image starts below [`MIN_IMAGE_BASE`] (linked at address 0): the
    /// null page is mapped ([`check_placement`]).
    BelowMinimumBase = -4,
    /// After self-relocation a pointer in the image does not hold the
    /// address it points to where the image runs: its relocations were not
    /// applied ([`check_placement`]).
    NotRelocated = -5,
}

impl RelocStatus {
    /// Decodes a negative result of [`self_relocate`] or [`check_placement`].
    pub fn from_code(code: isize) -> Option<Self> {
        match code {
            -1 => Some(Self::UnsupportedType),
            -2 => Some(Self::NoDynamicHeader),
            -3 => Some(Self::NoHeaderSegment),
            -4 => Some(Self::BelowMinimumBase),
            -5 => Some(Self::NotRelocated),
            _ => None,
        }
    }
}

/// What the runtime prints for [`RelocStatus::BelowMinimumBase`] before it
/// stops (a constant, not a method: it is read before anything else is
/// known to work).
pub const BELOW_MINIMUM_BASE_MESSAGE: &[u8] =
    b"sel4-start: this root task is linked below 0x10000 (at address 0?), so the null page \
      is mapped and null pointers would not fault: stopped. Link it with \
      -C link-arg=--image-base=0x400000 (the sel4rs .cargo/config.toml and \
      cmake/sel4-rust.cmake do; see docs/guide.md)\n";

/// What the runtime prints for [`RelocStatus::NotRelocated`] before it
/// stops.
pub const NOT_RELOCATED_MESSAGE: &[u8] =
    b"sel4-start: the image's pointers do not match the address it runs at (its relocations \
      were not applied): stopped. Link it as a static PIE with DT_RELA relocations \
      (-C relocation-model=pie, no -z pack-relative-relocs; see docs/guide.md)\n";

/// Checks where the image runs, after self-relocation: `relocation` is
/// [`self_relocate`]'s result, `image_start` the address of the ELF header,
/// `pointers_relocated` whether a pointer stored in the image holds the
/// address it points to. Returns `relocation`, or the negative code of the
/// first problem: [`RelocStatus::BelowMinimumBase`],
/// [`RelocStatus::NotRelocated`].
pub const fn check_placement(
    relocation: isize,
    image_start: usize,
    pointers_relocated: bool,
) -> isize {
    if relocation < 0 {
        relocation
    } else if (image_start as u64) < MIN_IMAGE_BASE {
        RelocStatus::BelowMinimumBase as isize
    } else if !pointers_relocated {
        RelocStatus::NotRelocated as isize
    } else {
        relocation
    }
}

#[cfg(target_os = "none")]
mod entry {
    use super::*;

    #[repr(C, align(4096))]
    struct TlsArea([u8; INITIAL_TLS_SIZE]);

    /// The relocation probe: a pointer stored in the image's data (a
    /// relative relocation in a position-independent image, an absolute
    /// address in a fixed one) to `PROBE_TARGET`.
    static PROBE: &u8 = &PROBE_TARGET;
    static PROBE_TARGET: u8 = 0;

    /// Whether the probe holds `PROBE_TARGET`'s address where the image
    /// runs (the address itself is computed PC-relative, which needs no
    /// relocation).
    fn pointers_relocated() -> bool {
        // SAFETY: PROBE is an initialised, aligned static that nothing
        // writes after self-relocation; it is read as a raw pointer (its
        // bytes may not be a valid reference when relocation failed), and
        // volatile so that the compiler reads memory instead of using the
        // initialiser it knows.
        let stored =
            unsafe { core::ptr::read_volatile(core::ptr::addr_of!(PROBE).cast::<*const u8>()) };
        core::ptr::eq(stored, core::ptr::addr_of!(PROBE_TARGET))
    }

    static mut INITIAL_TLS: TlsArea = TlsArea([0; INITIAL_TLS_SIZE]);

    /// What `__sel4rs_rust_start` found, for the runtime.
    static mut START_INFO: core::mem::MaybeUninit<StartInfo> = core::mem::MaybeUninit::uninit();

    /// Called by `_start` once the stack is set and relocations are done,
    /// with the run-time address of the ELF header (`__ehdr_start`, taken
    /// PC-relative by `_start`: a reference from Rust would go through the
    /// GOT, which needs the relocations this code checks). Returns the
    /// [`StartInfo`] that `_start` hands to the runtime's
    /// `extern "C" fn __sel4rs_runtime_entry(&StartInfo) -> !` (called from
    /// the asm: a call from Rust to a function of another crate may also go
    /// through the GOT).
    #[no_mangle]
    extern "C" fn __sel4rs_rust_start(
        bootinfo: usize,
        relocation: isize,
        image_start: usize,
    ) -> *const StartInfo {
        let relocation = check_placement(relocation, image_start, pointers_relocated());
        let (thread_pointer, tls_error) = if relocation < 0 {
            // Nothing more that may need relocated data: the runtime
            // reports the status and stops.
            (0, None)
        } else {
            initial_tls(image_start)
        };
        let info = StartInfo {
            bootinfo,
            thread_pointer,
            relocation,
            image_start,
            tls_error,
        };
        let slot = core::ptr::addr_of_mut!(START_INFO);
        // SAFETY: this runs once, on the initial thread, before anything
        // else reads START_INFO (the runtime reads it after this returns).
        unsafe { (*slot).write(info) }
    }

    /// Lays out the initial thread's TLS block from the image's `PT_TLS`:
    /// its thread pointer, or 0 and the error.
    fn initial_tls(image_start: usize) -> (usize, Option<tls::TlsError>) {
        // SAFETY: the ELF header and program headers are part of the first
        // loadable segment of the image (the linker puts them there and
        // defines `__ehdr_start` only in that case), so they are mapped.
        let phdrs = unsafe { tls::program_headers(image_start) };
        // SAFETY: this runs once, on the initial thread, before anything else
        // uses INITIAL_TLS.
        let area = unsafe { &mut *core::ptr::addr_of_mut!(INITIAL_TLS) };
        // SAFETY: `phdrs` are this image's own program headers, loaded at
        // `image_start`; its TLS template is mapped for the program's life.
        let image = unsafe { tls::TlsImage::from_loaded_image(phdrs, image_start) };
        match image {
            Ok(img) => match img.init_block(&mut area.0) {
                Ok(tp) => (tp, None),
                Err(e) => (0, Some(e)),
            },
            Err(e) => (0, Some(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placement() {
        assert_eq!(check_placement(12, 0x40_0000, true), 12);
        assert_eq!(check_placement(0, MIN_IMAGE_BASE as usize, true), 0);
        for start in [0, 0x1000, MIN_IMAGE_BASE as usize - 1] {
            assert_eq!(
                RelocStatus::from_code(check_placement(3, start, true)),
                Some(RelocStatus::BelowMinimumBase)
            );
        }
        assert_eq!(
            RelocStatus::from_code(check_placement(0, 0x40_0000, false)),
            Some(RelocStatus::NotRelocated)
        );
        // A failed relocation is reported as it is.
        assert_eq!(check_placement(-1, 0, false), -1);
        for code in -5..=-1 {
            assert_eq!(RelocStatus::from_code(code).map(|s| s as isize), Some(code));
        }
    }

    #[test]
    fn messages_name_the_minimum_and_the_fix() {
        let below = core::str::from_utf8(BELOW_MINIMUM_BASE_MESSAGE).unwrap();
        assert!(below.contains(&format!("{MIN_IMAGE_BASE:#x}")), "{below}");
        assert!(below.contains("--image-base=0x400000"));
        assert!(below.ends_with('\n') && NOT_RELOCATED_MESSAGE.ends_with(b"\n"));
    }
}
