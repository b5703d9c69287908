//! The first code of a seL4 program: a root task, which the kernel starts,
//! or a process, which a loader (`sel4_rootserver::process`) starts.
//!
//! `_start` (in `global_asm!`, per architecture) tells the two apart by the
//! stack pointer, which the kernel leaves 0 for the root task and the
//! loader sets for a process (start contract, `sel4_component_env::start`):
//! - a **root task** (stack pointer 0) gets the static stack the entry
//!   macro defines ([`stack!`]), applies the image's relative relocations
//!   for the address it runs at (`self_relocate`), and calls the runtime;
//! - a **process** keeps the stack, relocations and TLS block the loader
//!   set up: the loader applied the relocations with the same ELF model
//!   (`sel4-elf-reloc`), laid out the TLS block and set the thread pointer
//!   (FS base, tpidr_el0, tp), so the start code only aligns the stack and
//!   calls the runtime.
//!
//! Either way `_start` then calls `__sel4rs_rust_start`, which checks where
//! the image runs ([`check_placement`]: not below [`MIN_IMAGE_BASE`],
//! pointers relocated) and returns a [`StartInfo`], and calls the runtime's
//! `extern "C" fn __sel4rs_runtime_entry(&StartInfo) -> !` with it (which
//! stops a program whose relocation failed before any call that may need the
//! GOT, then calls the entry macro's `__sel4rs_app_entry`). The calls are
//! made from the asm so that they need no relocated data: a call from Rust to
//! a function of another crate may go through the GOT.
//!
//! Thread-local storage is the runtime's business: the root task's initial
//! TLS block is laid out by the runtime from its own image with
//! `sel4-elf-reloc` (the same code that lays out a process's blocks).
#![cfg_attr(not(test), no_std)]

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

/// Bytes of the root task's static stack (the one `_start` of a root task
/// switches to).
pub const INITIAL_STACK_SIZE: usize = 256 * 1024;

/// Which kind of program `_start` found itself in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Kind {
    /// Started by the kernel: `arg` is the bootinfo address.
    RootTask = 0,
    /// Started by a loader under the start contract: `arg` is the
    /// start-info page's address.
    Process = 1,
}

/// What the start code found, handed to the runtime.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub struct StartInfo {
    /// The first argument register as the program was started with: the
    /// bootinfo address (root task) or the start-info page's (process).
    pub arg: usize,
    /// Result of self-relocation: number of relocations applied (0 for a
    /// process: its loader relocated it), or a negative [`RelocStatus`]
    /// code.
    pub relocation: isize,
    /// Address the image's ELF header was loaded at.
    pub image_start: usize,
    /// Root task or process.
    pub kind: Kind,
}

/// Defines the static stack `_start` gives a root task (`__sel4rs_stack_top`):
/// `stack!(sel4_start::INITIAL_STACK_SIZE)` in a root task's entry macro,
/// `stack!(0)` in a process's (whose loader gives it a stack: no bytes of
/// its image go to a stack it never uses). Exactly one per program.
#[macro_export]
macro_rules! stack {
    ($bytes:expr) => {
        ::core::arch::global_asm!(
            ".pushsection .bss.sel4rs_stack,\"aw\",%nobits",
            ".p2align 12",
            ".globl __sel4rs_stack_top",
            ".hidden __sel4rs_stack_top",
            ".skip {bytes}",
            "__sel4rs_stack_top:",
            ".popsection",
            bytes = const $bytes,
        );
    };
}

/// Negative codes of [`self_relocate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(isize)]
pub enum RelocStatus {
    /// A relocation type other than the architecture's RELATIVE or NONE
    /// (R_X86_64_RELATIVE, R_AARCH64_RELATIVE, R_RISCV_RELATIVE) in
    /// `DT_RELA`, or a packed table (`DT_RELR`) that starts with a bitmap.
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
      were not applied): stopped. Link it as a static PIE with its relative relocations in \
      DT_RELA or DT_RELR (-C relocation-model=pie; see docs/guide.md)\n";

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
        // writes after relocation; it is read as a raw pointer (its bytes
        // may not be a valid reference when relocation failed), and
        // volatile so that the compiler reads memory instead of using the
        // initialiser it knows.
        let stored =
            unsafe { core::ptr::read_volatile(core::ptr::addr_of!(PROBE).cast::<*const u8>()) };
        core::ptr::eq(stored, core::ptr::addr_of!(PROBE_TARGET))
    }

    /// What `__sel4rs_rust_start` found, for the runtime.
    static mut START_INFO: core::mem::MaybeUninit<StartInfo> = core::mem::MaybeUninit::uninit();

    /// Called by `_start` once the stack is set and relocations are done
    /// (by `_start` for a root task, by the loader for a process), with the
    /// first argument register the program was started with, the
    /// relocation result, the run-time address of the ELF header
    /// (`__ehdr_start`, taken PC-relative by `_start`: a reference from
    /// Rust would go through the GOT, which needs the relocations this code
    /// checks) and the [`Kind`]. Returns the [`StartInfo`] that `_start`
    /// hands to the runtime's `extern "C" fn
    /// __sel4rs_runtime_entry(&StartInfo) -> !`.
    #[no_mangle]
    extern "C" fn __sel4rs_rust_start(
        arg: usize,
        relocation: isize,
        image_start: usize,
        kind: usize,
    ) -> *const StartInfo {
        let info = StartInfo {
            arg,
            relocation: check_placement(relocation, image_start, pointers_relocated()),
            image_start,
            kind: if kind == Kind::Process as usize {
                Kind::Process
            } else {
                Kind::RootTask
            },
        };
        let slot = core::ptr::addr_of_mut!(START_INFO);
        // SAFETY: this runs once, on the initial thread, before anything
        // else reads START_INFO (the runtime reads it after this returns).
        unsafe { (*slot).write(info) }
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
