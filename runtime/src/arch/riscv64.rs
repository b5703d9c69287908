//! riscv64 parts of the runtime: the initial thread's thread pointer, the
//! register state a new thread starts with, the stack probe, the remapping
//! of image pages, the instructions of the fault provokers, and ending
//! QEMU.
//!
//! The TLS register is `tp`, an ordinary register that the kernel saves
//! and restores with the others, so a thread's own write holds across
//! switches and no TLS base needs fixing afterwards (unlike x86_64 on seL4
//! 5.x).

use sel4_sys::{InvocationError, UserContext, Word};

/// Loads the initial thread's thread pointer (`tp`, an ordinary register the
/// kernel saves and restores).
///
/// # Safety
/// `tp` must point at a TLS block laid out for this image
/// (`sel4_start::tls`, variant I).
pub(crate) unsafe fn set_thread_pointer(tp: usize) -> Result<(), sel4_sys::InvocationError> {
    // SAFETY: per the contract.
    unsafe { sel4_sys::arch::write_thread_pointer(tp) };
    Ok(())
}

// Semihosting call: a0 = operation, a1 = parameter block. The RISC-V
// semihosting trap is the uncompressed sequence `slli zero, zero, 0x1f;
// ebreak; srai zero, zero, 7`, all three in one page (hence the 16-byte
// alignment). QEMU handles it itself when started with
// `-semihosting-config enable=on,userspace=on` (from U-mode only with
// `userspace=on`); without it `ebreak` is a breakpoint exception, which the
// kernel reports as a fault of this thread.
#[cfg(feature = "test-protocol")]
core::arch::global_asm!(
    ".pushsection .text.sel4rs_semihosting,\"ax\",@progbits",
    ".globl __sel4rs_semihosting_call",
    ".type __sel4rs_semihosting_call,@function",
    ".p2align 4",
    "__sel4rs_semihosting_call:",
    ".option push",
    ".option norvc",
    ".option norelax",
    "    slli zero, zero, 0x1f",
    "    ebreak",
    "    srai zero, zero, 7",
    ".option pop",
    "    ret",
    ".size __sel4rs_semihosting_call, . - __sel4rs_semihosting_call",
    ".popsection",
);

#[cfg(feature = "test-protocol")]
extern "C" {
    fn __sel4rs_semihosting_call(op: usize, param: *const usize) -> usize;
}

/// Performs a semihosting call.
#[cfg(feature = "test-protocol")]
pub(crate) fn semihosting_call(op: usize, param: &[usize]) -> usize {
    // SAFETY: the host only reads the parameter block, which is a valid
    // slice for the duration of the call; the trampoline follows the C
    // calling convention.
    unsafe { __sel4rs_semihosting_call(op, param.as_ptr()) }
}

/// The registers a new thread starts with: at `entry` (an `extern "C"`
/// function of three arguments that never returns) with `args` in a0-a2,
/// the stack pointer 16-byte aligned below `stack_top`, no frame pointer
/// and no return address (s0, ra = 0), and the thread pointer `tp`. `gp`
/// stays 0: the image is linked without relaxation against it.
pub(crate) fn entry_context(
    entry: usize,
    stack_top: usize,
    args: [Word; 3],
    tp: Word,
) -> UserContext {
    UserContext {
        pc: entry as Word,
        sp: (stack_top & !15) as Word,
        a0: args[0],
        a1: args[1],
        a2: args[2],
        tp,
        ..Default::default()
    }
}

/// First thing a new thread does: loads its own thread pointer, the value
/// its saved context already has (so this changes nothing; it keeps the
/// entry the same on every architecture).
///
/// # Safety
/// `tp` must point at the thread's TLS block (variant I).
#[inline(always)]
pub(crate) unsafe fn load_own_thread_pointer(tp: usize) {
    // SAFETY: per the contract.
    unsafe { sel4_sys::arch::write_thread_pointer(tp) };
}

/// Reads one word `OFF` bytes below the stack pointer (the stack probe of
/// `crate::thread`).
#[inline(always)]
pub(crate) fn probe_stack<const OFF: usize>() {
    // SAFETY: reads one word below the stack pointer, inside the thread's
    // stack when at least `OFF` bytes are left (the stack is mapped
    // contiguously above its guard page), else in the guard page: a VM
    // fault, reported like any stack overflow. Nothing is written; the
    // value is discarded.
    unsafe {
        core::arch::asm!(
            "li {t}, {off}",
            "sub {t}, sp, {t}",
            "ld {t}, 0({t})",
            t = out(reg) _,
            off = const OFF,
            options(nostack, readonly, preserves_flags),
        );
    }
}

/// Maps the image page `frame` at `vaddr` read-only, executable or not
/// (`crate::image`): `RISCV_Page_Map` of a frame at the address it is
/// mapped at replaces the entry and runs `sfence.vma` (`updatePTE`), so
/// pages the relocation wrote need no unmap first.
pub(crate) fn protect_page(
    frame: sel4_sys::CPtr,
    vaddr: usize,
    executable: bool,
    _written: bool,
) -> Result<crate::image::Remapped, InvocationError> {
    use sel4::FrameOps;
    let attrs = if executable {
        sel4::VmAttributes::DEFAULT
    } else {
        sel4::VmAttributes::DEFAULT_EXECUTE_NEVER
    };
    sel4_sys::Cap::<sel4::Granule>::from_cptr(frame)
        .map(
            sel4::init::VSPACE,
            vaddr as Word,
            sel4::CapRights::READ,
            attrs,
        )
        .map(|()| crate::image::Remapped::InPlace)
}

/// The instructions of `crate::thread::provoke`; the callers check the
/// addresses. Every exception other than a page or access fault reaches
/// the kernel as a UserException whose number is `scause` (2: illegal
/// instruction, 3: breakpoint).
#[cfg(feature = "test-support")]
pub(crate) mod provoke {
    /// Reads the word at `addr` (nothing is mapped there).
    pub(crate) fn read(addr: usize) -> u64 {
        let v: u64;
        // SAFETY: reads a word at an address nothing is mapped at (the
        // caller checks): a load page fault, the thread stops with a VM
        // fault. Nothing is written.
        unsafe {
            core::arch::asm!("ld {v}, 0({a})", a = in(reg) addr, v = out(reg) v,
                options(nostack, readonly, preserves_flags));
        }
        v
    }

    /// Writes a word at `addr` (nothing is mapped there).
    pub(crate) fn write(addr: usize) {
        // SAFETY: writes at an address nothing is mapped at (the caller
        // checks): the thread stops with a VM fault before anything
        // changes.
        unsafe {
            core::arch::asm!("sd zero, 0({a})", a = in(reg) addr,
                options(nostack, preserves_flags));
        }
    }

    /// Jumps to `addr` (nothing is mapped there).
    pub(crate) fn execute(addr: usize) {
        // SAFETY: jumps and links to an address nothing is mapped at (the
        // caller checks): an instruction page fault, the thread stops
        // before anything runs there. `ra` and the caller-saved registers
        // are declared clobbered.
        unsafe {
            core::arch::asm!("jalr ra, 0({a})", a = in(reg) addr, clobber_abi("C"));
        }
    }

    /// Reads the byte at `addr` and stores it back unchanged.
    ///
    /// # Safety
    /// `addr` must be a byte of the image mapped read-only (the store
    /// faults; were it writable, the byte would keep its value, but another
    /// thread could be writing it).
    pub(crate) unsafe fn rewrite_byte(addr: usize) {
        // SAFETY: per the contract.
        unsafe {
            core::arch::asm!(
                "lbu {b}, 0({a})",
                "sb {b}, 0({a})",
                a = in(reg) addr,
                b = out(reg) _,
                options(nostack, preserves_flags),
            );
        }
    }

    /// `unimp`: an illegal instruction (scause 2).
    pub(crate) fn undefined_instruction() {
        // SAFETY: `unimp` raises an illegal-instruction exception, which
        // the kernel turns into a UserException fault; no memory is
        // involved.
        unsafe { core::arch::asm!("unimp", options(nostack, nomem)) }
    }

    /// Reads `sstatus`, a supervisor register: illegal in user mode
    /// (scause 2).
    pub(crate) fn privileged_instruction() {
        // SAFETY: in U-mode the read raises an illegal-instruction
        // exception before anything is read; no memory is involved.
        unsafe {
            core::arch::asm!("csrr {t}, sstatus", t = out(reg) _, options(nostack, nomem));
        }
    }

    /// `ebreak` (alone, so not a semihosting call): a breakpoint exception
    /// (scause 3).
    pub(crate) fn breakpoint() {
        // SAFETY: `ebreak` raises a breakpoint exception, which the kernel
        // reports as a UserException fault; it touches no memory.
        unsafe { core::arch::asm!("ebreak", options(nostack, nomem)) }
    }
}

// The reply stub of a process (`crate::process::REPLY_STUB_SYMBOL`: a
// `Reply` syscall from the registers the supervisor wrote, then an
// undefined instruction that tells the supervisor it is done).
// SAFETY: nothing in the program calls it; the supervisor points a
// suspended thread of the process at it, with the syscall's registers
// written. It touches no stack and no memory, and never returns.
#[cfg(target_os = "none")]
core::arch::global_asm!(
    ".pushsection .text.__sel4rs_reply_stub,\"ax\",@progbits",
    ".globl __sel4rs_reply_stub",
    ".type __sel4rs_reply_stub,@function",
    "__sel4rs_reply_stub:",
    "    ecall",
    "    unimp",
    ".size __sel4rs_reply_stub, . - __sel4rs_reply_stub",
    ".popsection",
);
