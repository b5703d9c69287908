//! aarch64 parts of the runtime: the initial thread's thread pointer, the
//! register state a new thread starts with, the stack probe, the remapping
//! of image pages, the instructions of the fault provokers, and ending
//! QEMU.
//!
//! The TLS register is `tpidr_el0` (`KernelArmTLSReg=tpidru`, the default):
//! user mode writes it, and the kernel saves it on every kernel entry and
//! loads it on every exit (`arm_save_thread_id`/`arm_load_thread_id`), so a
//! thread's own write holds across switches and no TLS base needs fixing
//! afterwards (unlike x86_64 on seL4 5.x). With `tpidruro` the register is
//! `tpidrro_el0`, read-only at EL0, and set through the TCB.

use sel4_sys::{InvocationError, UserContext, Word};

/// Loads the initial thread's thread pointer.
///
/// # Safety
/// `tp` must point at a TLS block and TCB laid out for this image
/// (`sel4_start::tls`, variant I).
pub(crate) unsafe fn set_thread_pointer(tp: usize) -> Result<(), sel4_sys::InvocationError> {
    sel4_sys::sel4_cfg_if! {
        config ARM_TLS_REG_TPIDRU {
            // SAFETY: with `KernelArmTLSReg=tpidru` the TLS register is
            // tpidr_el0, writable from EL0 and saved by the kernel on every
            // switch; `tp` is valid per the contract.
            unsafe { sel4_sys::arch::write_thread_pointer(tp) };
            Ok(())
        } else {
            // tpidrro_el0 is read-only at EL0: the kernel sets it. The
            // invocation travels in registers only: the IPC buffer's address
            // lives in TLS, which is not usable yet.
            sel4_sys::Cap::<sel4_sys::cap_type::TCB>::from_cptr(crate::bootinfo::INIT_THREAD_TCB)
                .tcb_set_tls_base(tp as sel4_sys::Word)
        }
    }
}

// Semihosting call: x0 = operation, x1 = parameter block; `hlt #0xf000` is
// the AArch64 semihosting trap. QEMU handles it itself when started with
// `-semihosting-config enable=on,userspace=on` (from EL0 only with
// `userspace=on`); without it the instruction is an undefined-instruction
// exception, which the kernel reports as a fault of this thread.
#[cfg(feature = "test-protocol")]
core::arch::global_asm!(
    ".pushsection .text.sel4rs_semihosting,\"ax\",%progbits",
    ".globl __sel4rs_semihosting_call",
    ".type __sel4rs_semihosting_call,%function",
    ".p2align 2",
    "__sel4rs_semihosting_call:",
    "    hlt #0xf000",
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
/// function of three arguments that never returns) with `args` in x0-x2,
/// the stack pointer 16-byte aligned below `stack_top`, no frame pointer
/// and no return address (x29, x30 = 0), and the TLS base `tp` in the
/// TLS register of the saved context. SPSR stays 0: the kernel makes it
/// EL0 with interrupts on.
pub(crate) fn entry_context(
    entry: usize,
    stack_top: usize,
    args: [Word; 3],
    tp: Word,
) -> UserContext {
    let mut ctx = UserContext {
        pc: entry as Word,
        sp: (stack_top & !15) as Word,
        x0: args[0],
        x1: args[1],
        x2: args[2],
        ..Default::default()
    };
    sel4_sys::sel4_cfg_if! {
        config ARM_TLS_REG_TPIDRU { ctx.tpidr_el0 = tp; } else { ctx.tpidrro_el0 = tp; }
    }
    ctx
}

/// First thing a new thread does: loads its own thread pointer
/// (`tpidr_el0`), the value the spawner also gave the kernel; with
/// `tpidruro` the kernel loads it.
///
/// # Safety
/// `tp` must point at the thread's TCB and TLS block (variant I).
#[inline(always)]
pub(crate) unsafe fn load_own_thread_pointer(tp: usize) {
    sel4_sys::sel4_cfg_if! {
        config ARM_TLS_REG_TPIDRU {
            // SAFETY: per the contract.
            unsafe { sel4_sys::arch::write_thread_pointer(tp) };
        } else {
            let _ = tp;
        }
    }
}

/// Reads one word `OFF` bytes below the stack pointer (the stack probe of
/// `crate::thread`; `OFF` < 4096).
#[inline(always)]
pub(crate) fn probe_stack<const OFF: usize>() {
    // SAFETY: reads one word below the stack pointer, inside the thread's
    // stack when at least `OFF` bytes are left (the stack is mapped
    // contiguously above its guard page), else in the guard page: a VM
    // fault, reported like any stack overflow. Nothing is written; the
    // value is discarded.
    unsafe {
        core::arch::asm!(
            "sub {t}, sp, #{off}",
            "ldr {t}, [{t}]",
            t = out(reg) _,
            off = const OFF,
            options(nostack, readonly, preserves_flags),
        );
    }
}

/// Maps the image page `frame` at `vaddr` read-only, executable or not
/// (`crate::image`): `ARM_Page_Map` of a frame at the address it is mapped
/// at replaces the entry and, because the old entry was valid, invalidates
/// its TLB entry for the address space (`performPageInvocationMap`:
/// `invalidateTLBByASIDVA`), so pages the relocation wrote need no unmap
/// first.
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
/// addresses. Every exception other than an abort or `svc` reaches the
/// kernel's undefined-instruction path, which sends a UserException whose
/// number is the syndrome register (ESR_EL1; its class in bits 26-31).
#[cfg(feature = "test-support")]
pub(crate) mod provoke {
    /// Reads the word at `addr` (nothing is mapped there).
    pub(crate) fn read(addr: usize) -> u64 {
        let v: u64;
        // SAFETY: reads a word at an address nothing is mapped at (the
        // caller checks): a data abort, the thread stops with a VM fault.
        // Nothing is written.
        unsafe {
            core::arch::asm!("ldr {v}, [{a}]", a = in(reg) addr, v = out(reg) v,
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
            core::arch::asm!("str xzr, [{a}]", a = in(reg) addr,
                options(nostack, preserves_flags));
        }
    }

    /// Branches to `addr` (nothing is mapped there).
    pub(crate) fn execute(addr: usize) {
        // SAFETY: branches with link to an address nothing is mapped at
        // (the caller checks): an instruction abort, the thread stops
        // before anything runs there. x30 and the caller-saved registers
        // are declared clobbered.
        unsafe {
            core::arch::asm!("blr {a}", a = in(reg) addr, clobber_abi("C"));
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
                "ldrb {b:w}, [{a}]",
                "strb {b:w}, [{a}]",
                a = in(reg) addr,
                b = out(reg) _,
                options(nostack, preserves_flags),
            );
        }
    }

    /// `udf #0`: a permanently undefined instruction (exception class 0).
    pub(crate) fn undefined_instruction() {
        // SAFETY: `udf` raises an undefined-instruction exception, which
        // the kernel turns into a UserException fault; no memory is
        // involved.
        unsafe { core::arch::asm!("udf #0", options(nostack, nomem)) }
    }

    /// Reads `sctlr_el1`, an EL1 register: undefined at EL0 (exception
    /// class 0).
    pub(crate) fn privileged_instruction() {
        // SAFETY: at EL0 the read raises an undefined-instruction
        // exception before anything is read; no memory is involved.
        unsafe {
            core::arch::asm!("mrs {t}, sctlr_el1", t = out(reg) _, options(nostack, nomem));
        }
    }

    /// `brk #0`: a breakpoint exception (exception class 0x3c).
    pub(crate) fn breakpoint() {
        // SAFETY: `brk` raises a breakpoint exception, which the kernel
        // reports as a UserException fault; it touches no memory.
        unsafe { core::arch::asm!("brk #0", options(nostack, nomem)) }
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
    ".pushsection .text.__sel4rs_reply_stub,\"ax\",%progbits",
    ".globl __sel4rs_reply_stub",
    ".type __sel4rs_reply_stub,%function",
    "__sel4rs_reply_stub:",
    "    svc #0",
    "    udf #0",
    ".size __sel4rs_reply_stub, . - __sel4rs_reply_stub",
    ".popsection",
);
