//! riscv64 `ecall` entry, as the seL4 kernel expects it (12.x-16.0.0).
//!
//! A7 = syscall number, A0 = capability in / badge out, A1 = message info in
//! / out, A2-A5 = message registers 0 to 3. The kernel saves and restores
//! every other register (the stack pointer included), so nothing else is
//! clobbered. (MCS kernels also use A6 for the reply capability and T0 for
//! the NBSendRecv destination: [`syscall_mcs`].)

use crate::Word;

/// Registers of one syscall: what goes in and what the kernel gives back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Regs {
    /// A0: destination or source capability in, badge out.
    pub cap_or_badge: Word,
    /// A1: message info.
    pub info: Word,
    /// A2-A5: message registers 0 to 3.
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
    pub const SYSCALL: &str = "a7";
    /// The capability in, the badge out.
    pub const CAP: &str = "a0";
    /// The message info, in and out.
    pub const INFO: &str = "a1";
    /// Message registers 0 to 3.
    pub const MRS: [&str; super::REGISTER_MRS] = ["a2", "a3", "a4", "a5"];
    /// MCS kernels: the reply object capability (`syscall_mcs`).
    pub const REPLY: &str = "a6";
    /// MCS kernels: the destination of `NBSendRecv` (`syscall_mcs`).
    pub const NBSR_DEST: &str = "t0";
    /// What holds the stack pointer while a thread is in a syscall:
    /// SP itself: the kernel saves and restores it.
    pub const SYSCALL_SP: &str = "sp";
    /// Bytes of the system call instruction (`ecall`): what moves the
    /// instruction pointer of a thread blocked in a syscall past it.
    pub const SYSCALL_INSN_BYTES: Word = 4;
}

/// Word of an `UnknownSyscall` fault message with the status register
/// (none: riscv fault messages carry no status register).
pub(crate) const UNKNOWN_SYSCALL_FLAGS: Option<usize> = None;
/// Word of a `UserException` fault message with the status register.
pub(crate) const USER_EXCEPTION_FLAGS: Option<usize> = None;

/// The exception class of a `UserException`'s number, `scause` (2 an
/// illegal instruction, 3 a breakpoint).
pub(crate) fn exception_kind(number: Word) -> crate::ExceptionKind {
    match number {
        2 => crate::ExceptionKind::UndefinedInstruction,
        3 => crate::ExceptionKind::Breakpoint,
        n => crate::ExceptionKind::Other(n),
    }
}

/// The access of a `VMFault` from its fault status, `scause`
/// (instruction page or access fault 12 or 1, store 15 or 7, load 13 or
/// 5).
pub(crate) fn vm_access(fsr: Word) -> crate::VmAccess {
    match fsr {
        12 | 1 => crate::VmAccess::Execute,
        15 | 7 => crate::VmAccess::Write,
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
    // SAFETY: `ecall` enters the kernel, which restores every register it
    // does not return a value in; the operands name all of those. Memory is
    // not marked `nomem` because the kernel reads and writes the IPC buffer.
    unsafe {
        core::arch::asm!(
            "ecall",
            in("a7") sys,
            inout("a0") regs.cap_or_badge,
            inout("a1") regs.info,
            inout("a2") regs.mr[0],
            inout("a3") regs.mr[1],
            inout("a4") regs.mr[2],
            inout("a5") regs.mr[3],
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
/// out, plus A6 = `reply` (the reply object capability of Recv, NBRecv,
/// ReplyRecv and NBSendRecv, and the destination of NBSendWait) and T0 =
/// `nbsr_dest` (the destination of NBSendRecv).
///
/// # Safety
/// As for [`syscall`].
#[inline(always)]
pub unsafe fn syscall_mcs(sys: isize, regs: &mut Regs, reply: Word, nbsr_dest: Word) {
    // SAFETY: as in `syscall`; A6 and T0 are inputs the kernel reads
    // (declared clobbered all the same).
    unsafe {
        core::arch::asm!(
            "ecall",
            in("a7") sys,
            inout("a0") regs.cap_or_badge,
            inout("a1") regs.info,
            inout("a2") regs.mr[0],
            inout("a3") regs.mr[1],
            inout("a4") regs.mr[2],
            inout("a5") regs.mr[3],
            inout("a6") reply => _,
            inout("t0") nbsr_dest => _,
            options(nostack),
        );
    }
}

/// Loads the thread pointer (`tp`, which the kernel saves and restores as
/// an ordinary register).
///
/// # Safety
/// `tp` must point at a TLS block laid out for riscv (TLS variant I without
/// a TCB, `sel4_start::tls`), valid for as long as the thread uses
/// thread-locals.
#[inline(always)]
pub unsafe fn write_thread_pointer(tp: usize) {
    // SAFETY: as documented above; only `tp` changes, which compiled code
    // never uses for anything but TLS.
    unsafe {
        core::arch::asm!("mv tp, {}", in(reg) tp, options(nostack, nomem, preserves_flags));
    }
}

/// Reads the thread pointer (`tp`).
#[inline(always)]
pub fn read_thread_pointer() -> usize {
    let tp: usize;
    // SAFETY: reading a register has no effect.
    unsafe {
        core::arch::asm!("mv {}, tp", out(reg) tp, options(nostack, nomem, preserves_flags));
    }
    tp
}

/// The rate of [`read_counter`] in Hz: the platform's timer
/// (`timebase-frequency`), `CONFIG_TIMER_FREQUENCY` of the kernel
/// configuration.
pub const COUNTER_HZ: Option<u64> = Some(crate::config::TIMER_FREQUENCY as u64);

/// Reads the real-time counter CSR (`rdtime`, the `time` counter at
/// [`COUNTER_HZ`]).
#[inline(always)]
pub fn read_counter() -> u64 {
    let v: u64;
    // SAFETY: reading the time CSR has no effect.
    unsafe {
        core::arch::asm!("rdtime {}", out(reg) v, options(nostack, nomem, preserves_flags));
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
                concat!("lui {t}, %tprel_hi(", $sym, ")"),
                concat!("add {t}, {t}, tp, %tprel_add(", $sym, ")"),
                concat!("addi {t}, {t}, %tprel_lo(", $sym, ")"),
                concat!("ld {v}, ", $off, "({t})"),
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
                concat!("lui {t}, %tprel_hi(", $sym, ")"),
                concat!("add {t}, {t}, tp, %tprel_add(", $sym, ")"),
                concat!("addi {t}, {t}, %tprel_lo(", $sym, ")"),
                concat!("sd {v}, ", $off, "({t})"),
                t = out(reg) _,
                v = in(reg) v,
                options(nostack, preserves_flags),
            );
        }
    }};
}
