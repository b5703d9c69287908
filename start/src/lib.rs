//! The first code of a seL4 root task.
//!
//! `_start` (in `global_asm!`, per architecture) is entered by the kernel with
//! the bootinfo pointer in the first argument register and no stack. It
//! 1. switches to a static stack,
//! 2. applies the image's relative relocations for the address it actually
//!    runs at when the image is position-independent (`self_relocate`),
//! 3. calls [`rust_start`], which lays out the initial thread's TLS block from
//!    the image's `PT_TLS` segment and hands over to the runtime's
//!    `__sel4rs_runtime_entry` with a [`StartInfo`].
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
    /// Result of self-relocation: number of relocations applied, or a
    /// negative [`RelocStatus`] code.
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
}

impl RelocStatus {
    /// Decodes a negative result of [`self_relocate`].
    pub fn from_code(code: isize) -> Option<Self> {
        match code {
            -1 => Some(Self::UnsupportedType),
            -2 => Some(Self::NoDynamicHeader),
            -3 => Some(Self::NoHeaderSegment),
            _ => None,
        }
    }
}

#[cfg(target_os = "none")]
mod entry {
    use super::*;

    extern "Rust" {
        /// Defined by the runtime (`sel4-runtime`).
        fn __sel4rs_runtime_entry(info: &StartInfo) -> !;
    }

    extern "C" {
        static __ehdr_start: u8;
    }

    #[repr(C, align(4096))]
    struct TlsArea([u8; INITIAL_TLS_SIZE]);

    static mut INITIAL_TLS: TlsArea = TlsArea([0; INITIAL_TLS_SIZE]);

    /// Called by `_start` once the stack is set and relocations are done.
    #[no_mangle]
    extern "C" fn __sel4rs_rust_start(bootinfo: usize, relocation: isize) -> ! {
        let image_start = core::ptr::addr_of!(__ehdr_start) as usize;
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
        let (thread_pointer, tls_error) = match image {
            Ok(img) => match img.init_block(&mut area.0) {
                Ok(tp) => (tp, None),
                Err(e) => (0, Some(e)),
            },
            Err(e) => (0, Some(e)),
        };
        let info = StartInfo {
            bootinfo,
            thread_pointer,
            relocation,
            image_start,
            tls_error,
        };
        // SAFETY: the runtime defines this entry; it never returns.
        unsafe { __sel4rs_runtime_entry(&info) }
    }
}
