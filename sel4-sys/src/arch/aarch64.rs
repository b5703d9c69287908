//! aarch64 `svc #0` entry, as the seL4 kernel expects it (12.x-16.0.0).
//!
//! X7 = syscall number, X0 = capability in / badge out, X1 = message info in
//! / out, X2-X5 = message registers 0 to 3. The kernel saves and restores
//! every other register (the stack pointer included), so nothing else is
//! clobbered. (MCS kernels also use X6 for the reply capability and X8 for
//! the NBSendRecv destination: [`syscall_mcs`].)

use crate::Word;

/// Registers of one syscall: what goes in and what the kernel gives back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Regs {
    /// X0: destination or source capability in, badge out.
    pub cap_or_badge: Word,
    /// X1: message info.
    pub info: Word,
    /// X2-X5: message registers 0 to 3.
    pub mr: [Word; 4],
}

/// Number of message registers passed in CPU registers on this architecture.
pub const REGISTER_MRS: usize = 4;

/// The syscall ABI: the register that carries each part of a syscall, by
/// its name in the kernel's `seL4_UserContext` (which is also the register
/// name the inline asm of this module uses). `crate::syscall_abi` turns
/// them into `UserContext` indices (a compile-time error if the kernel's
/// struct lacks one); `host/sel4-gen/tests/syscall_abi.rs` checks them
/// against the operands of every syscall asm block in this file.
pub mod syscall_abi {
    use crate::Word;

    /// The syscall number.
    pub const SYSCALL: &str = "x7";
    /// The capability in, the badge out.
    pub const CAP: &str = "x0";
    /// The message info, in and out.
    pub const INFO: &str = "x1";
    /// Message registers 0 to 3.
    pub const MRS: [&str; super::REGISTER_MRS] = ["x2", "x3", "x4", "x5"];
    /// MCS kernels: the reply object capability (`syscall_mcs`).
    pub const REPLY: &str = "x6";
    /// MCS kernels: the destination of `NBSendRecv` (`syscall_mcs`).
    pub const NBSR_DEST: &str = "x8";
    /// What holds the stack pointer while a thread is in a syscall:
    /// SP itself: the kernel saves and restores it.
    pub const SYSCALL_SP: &str = "sp";
    /// Bytes of the system call instruction (`svc #0`): what moves the
    /// instruction pointer of a thread blocked in a syscall past it.
    pub const SYSCALL_INSN_BYTES: Word = 4;
}

/// Word of an `UnknownSyscall` fault message with the status register
/// (SPSR).
pub(crate) const UNKNOWN_SYSCALL_FLAGS: Option<usize> = Some(crate::consts::UnknownSyscall_SPSR);
/// Word of a `UserException` fault message with the status register.
pub(crate) const USER_EXCEPTION_FLAGS: Option<usize> = Some(crate::consts::UserException_SPSR);

/// The exception class of a `UserException`'s number, the syndrome
/// (ESR_EL1): its exception class EC, bits 26..32 (0x00 unknown reason:
/// an undefined instruction; 0x3c a `brk`).
pub(crate) fn exception_kind(number: Word) -> crate::ExceptionKind {
    match (number >> 26) & 0x3f {
        0x00 => crate::ExceptionKind::UndefinedInstruction,
        0x3c => crate::ExceptionKind::Breakpoint,
        ec => crate::ExceptionKind::Other(ec),
    }
}

/// The access of a `VMFault` from its fault status, the syndrome
/// (ESR_EL1): an instruction abort (exception class 0x20 or 0x21) is a
/// fetch; a data abort writes when its WnR bit (6) is set.
pub(crate) fn vm_access(fsr: Word) -> crate::VmAccess {
    match (fsr >> 26) & 0x3f {
        0x20 | 0x21 => crate::VmAccess::Execute,
        _ if fsr & (1 << 6) != 0 => crate::VmAccess::Write,
        _ => crate::VmAccess::Read,
    }
}

/// Performs one syscall with every argument register in and out.
///
/// # Safety
/// The caller must make sure that the syscall number and arguments make
/// sense for the kernel: the kernel may read and write this thread's IPC
/// buffer and may block or never return (for example `Recv` on an endpoint
/// nobody sends to).
#[inline(always)]
pub unsafe fn syscall(sys: isize, regs: &mut Regs) {
    // SAFETY: `svc #0` enters the kernel, which restores every register it
    // does not return a value in; the operands name all of those. Memory is
    // not marked `nomem` because the kernel reads and writes the IPC buffer.
    unsafe {
        core::arch::asm!(
            "svc #0",
            in("x7") sys,
            inout("x0") regs.cap_or_badge,
            inout("x1") regs.info,
            inout("x2") regs.mr[0],
            inout("x3") regs.mr[1],
            inout("x4") regs.mr[2],
            inout("x5") regs.mr[3],
            options(nostack),
        );
    }
}

/// `Send` of the capability and message info only (`Signal`): the full
/// [`syscall`] with the message registers 0 (x86_64 has a leaner entry).
///
/// # Safety
/// As [`syscall`].
#[inline(always)]
pub unsafe fn syscall_send_null(sys: isize, cap: Word, info: Word) {
    let mut r = Regs {
        cap_or_badge: cap,
        info,
        mr: [0; REGISTER_MRS],
    };
    // SAFETY: per the contract.
    unsafe { syscall(sys, &mut r) }
}

/// A receive-type syscall passing the capability only: the full
/// [`syscall`] with the other registers 0 (x86_64 has a leaner entry).
///
/// # Safety
/// As [`syscall`].
#[inline(always)]
pub unsafe fn syscall_recv(sys: isize, src: Word) -> Regs {
    let mut r = Regs {
        cap_or_badge: src,
        ..Regs::default()
    };
    // SAFETY: per the contract.
    unsafe { syscall(sys, &mut r) };
    r
}

/// Performs one syscall of the MCS API with every argument register in and
/// out, plus X6 = `reply` (the reply object capability of Recv, NBRecv,
/// ReplyRecv and NBSendRecv, and the destination of NBSendWait) and X8 =
/// `nbsr_dest` (the destination of NBSendRecv).
///
/// # Safety
/// As for [`syscall`].
#[inline(always)]
pub unsafe fn syscall_mcs(sys: isize, regs: &mut Regs, reply: Word, nbsr_dest: Word) {
    // SAFETY: as in `syscall`; X6 and X8 are inputs the kernel reads
    // (declared clobbered all the same).
    unsafe {
        core::arch::asm!(
            "svc #0",
            in("x7") sys,
            inout("x0") regs.cap_or_badge,
            inout("x1") regs.info,
            inout("x2") regs.mr[0],
            inout("x3") regs.mr[1],
            inout("x4") regs.mr[2],
            inout("x5") regs.mr[3],
            inout("x6") reply => _,
            inout("x8") nbsr_dest => _,
            options(nostack),
        );
    }
}

/// Loads the thread pointer (`tpidr_el0`, the kernel's TLS_BASE register
/// with `KernelArmTLSReg=tpidru`, the aarch64 default).
///
/// # Safety
/// `tp` must point at a thread control block and TLS block laid out for
/// aarch64 (TLS variant I, `sel4_start::tls`), valid for as long as the
/// thread uses thread-locals.
#[inline(always)]
pub unsafe fn write_thread_pointer(tp: usize) {
    // SAFETY: as documented above; only tpidr_el0 changes.
    unsafe {
        core::arch::asm!("msr tpidr_el0, {}", in(reg) tp, options(nostack, nomem, preserves_flags));
    }
}

/// Reads the thread pointer (`tpidr_el0`).
#[inline(always)]
pub fn read_thread_pointer() -> usize {
    let tp: usize;
    // SAFETY: reading tpidr_el0 has no effect.
    unsafe {
        core::arch::asm!("mrs {}, tpidr_el0", out(reg) tp, options(nostack, nomem, preserves_flags));
    }
    tp
}

/// The rate of [`read_counter`] in Hz: the generic timer's frequency,
/// `CONFIG_TIMER_FREQUENCY` of the kernel configuration; `None` when the
/// kernel does not let user mode read the counter (build it with
/// `KernelArmExportVCNTUser=ON`, as `kernel-config/cmake/aarch64.cmake`
/// does).
pub const COUNTER_HZ: Option<u64> = crate::sel4_cfg_if! { config EXPORT_VCNT_USER {
    Some(crate::config::TIMER_FREQUENCY as u64)
} else {
    None
} };

/// Reads the virtual counter (`cntvct_el0`), which seL4 lets user mode read
/// when built with `KernelArmExportVCNTUser` ([`COUNTER_HZ`] is `Some`
/// then); on other kernels the read is an undefined-instruction fault.
#[inline(always)]
pub fn read_counter() -> u64 {
    let v: u64;
    // SAFETY: reading the virtual counter has no effect.
    unsafe {
        core::arch::asm!("isb", "mrs {}, cntvct_el0", out(reg) v, options(nostack, nomem, preserves_flags));
    }
    v
}

/// Reads the word at byte `$off` of the thread-local symbol `$sym` (a
/// `.tbss`/`.tdata` symbol of the image) with a local-exec access.
#[doc(hidden)]
#[macro_export]
macro_rules! __tls_read_word {
    ($sym:literal, $off:literal) => {{
        let v: $crate::Word;
        // SAFETY: reads a word of this thread's static TLS block; the start
        // code (or the spawner) sets the thread pointer before any Rust code
        // of the thread runs, and the symbol is in the image's TLS template.
        unsafe {
            core::arch::asm!(
                "mrs {t}, tpidr_el0",
                concat!("add {t}, {t}, #:tprel_hi12:", $sym, ", lsl #12"),
                concat!("add {t}, {t}, #:tprel_lo12_nc:", $sym),
                concat!("ldr {v}, [{t}, #", $off, "]"),
                t = out(reg) _,
                v = out(reg) v,
                options(nostack, readonly, preserves_flags),
            );
        }
        v
    }};
}

/// Writes the word at byte `$off` of the thread-local symbol `$sym`.
#[doc(hidden)]
#[macro_export]
macro_rules! __tls_write_word {
    ($sym:literal, $off:literal, $val:expr) => {{
        let v: $crate::Word = $val;
        // SAFETY: writes a word of this thread's static TLS block (see
        // `__tls_read_word`).
        unsafe {
            core::arch::asm!(
                "mrs {t}, tpidr_el0",
                concat!("add {t}, {t}, #:tprel_hi12:", $sym, ", lsl #12"),
                concat!("add {t}, {t}, #:tprel_lo12_nc:", $sym),
                concat!("str {v}, [{t}, #", $off, "]"),
                t = out(reg) _,
                v = in(reg) v,
                options(nostack, preserves_flags),
            );
        }
    }};
}
