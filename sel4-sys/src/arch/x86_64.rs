//! x86_64 `syscall` entry, as the seL4 kernel expects it (both 5.x and 12+).
//!
//! RDX = syscall number, RDI = capability in / badge out, RSI = message info
//! in / out, R10, R8, R9, R15 = message registers 0 to 3. The kernel
//! clobbers RCX and R11 and comes back with RSP = 0, so RSP is kept in R14
//! (which the kernel restores) across the instruction. libsel4 uses RBX for
//! that, which Rust inline asm cannot name. MCS kernels also read R12 (the
//! reply object capability) and R13 (the NBSendRecv destination):
//! [`syscall_mcs`].

use crate::Word;

/// Registers of one syscall: what goes in and what the kernel gives back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Regs {
    /// RDI: destination or source capability in, badge out.
    pub cap_or_badge: Word,
    /// RSI: message info.
    pub info: Word,
    /// R10, R8, R9, R15: message registers 0 to 3.
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
    pub const SYSCALL: &str = "rdx";
    /// The capability in, the badge out.
    pub const CAP: &str = "rdi";
    /// The message info, in and out.
    pub const INFO: &str = "rsi";
    /// Message registers 0 to 3.
    pub const MRS: [&str; super::REGISTER_MRS] = ["r10", "r8", "r9", "r15"];
    /// MCS kernels: the reply object capability (`syscall_mcs`).
    pub const REPLY: &str = "r12";
    /// MCS kernels: the destination of `NBSendRecv` (`syscall_mcs`).
    pub const NBSR_DEST: &str = "r13";
    /// What holds the stack pointer while a thread is in a syscall:
    /// R14: the kernel comes back from a syscall with RSP = 0 and does not save it, so the asm keeps RSP in R14 (which the kernel saves and restores) across the instruction.
    pub const SYSCALL_SP: &str = "r14";
    /// Bytes of the system call instruction (`syscall`): what moves the
    /// instruction pointer of a thread blocked in a syscall past it.
    pub const SYSCALL_INSN_BYTES: Word = 2;
}

/// Word of an `UnknownSyscall` fault message with the status register
/// (RFLAGS).
pub(crate) const UNKNOWN_SYSCALL_FLAGS: Option<usize> = Some(crate::consts::UnknownSyscall_FLAGS);
/// Word of a `UserException` fault message with the status register.
pub(crate) const USER_EXCEPTION_FLAGS: Option<usize> = Some(crate::consts::UserException_FLAGS);

/// The exception class of a `UserException`'s number: the x86 vector
/// (6 #UD invalid opcode, 3 #BP breakpoint).
pub(crate) fn exception_kind(number: Word) -> crate::ExceptionKind {
    match number {
        6 => crate::ExceptionKind::UndefinedInstruction,
        3 => crate::ExceptionKind::Breakpoint,
        n => crate::ExceptionKind::Other(n),
    }
}

/// The access of a `VMFault` from its fault status, the page-fault error
/// code (bit 1 a write, bit 4 an instruction fetch).
pub(crate) fn vm_access(fsr: Word) -> crate::VmAccess {
    if fsr & 0x10 != 0 {
        crate::VmAccess::Execute
    } else if fsr & 0x2 != 0 {
        crate::VmAccess::Write
    } else {
        crate::VmAccess::Read
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
    crate::trace::syscall_entered();
    // SAFETY: the asm saves RSP in R14 around `syscall` (the kernel returns
    // with RSP = 0 and restores R14), declares every register the kernel may
    // change, and does not touch the stack itself. Memory is not marked
    // `nomem` because the kernel reads and writes the IPC buffer.
    unsafe {
        core::arch::asm!(
            "mov r14, rsp",
            "syscall",
            "mov rsp, r14",
            in("rdx") sys,
            inout("rdi") regs.cap_or_badge,
            inout("rsi") regs.info,
            inout("r10") regs.mr[0],
            inout("r8") regs.mr[1],
            inout("r9") regs.mr[2],
            inout("r15") regs.mr[3],
            out("r14") _,
            out("rcx") _,
            out("r11") _,
            options(nostack),
        );
    }
}

/// A syscall that passes the capability and the message info only and
/// gives nothing back: `Send` of an empty message, i.e. `Signal` (libsel4's
/// `x64_sys_send_null`). The message registers are not passed: with length
/// 0 the kernel reads none of them, and it returns to the sender with every
/// register as it was but RCX, R11 (and RSP, kept in R14), as libsel4
/// relies on too. Saves the four register loads a full [`syscall`] needs.
///
/// # Safety
/// As [`syscall`]; `info` must have length 0 (and no capabilities) unless
/// the message registers are meant to be read as they are.
#[inline(always)]
pub unsafe fn syscall_send_null(sys: isize, cap: Word, info: Word) {
    crate::trace::syscall_entered();
    // SAFETY: as `syscall`, with fewer operands: the kernel changes none of
    // the registers not named here on this path.
    unsafe {
        core::arch::asm!(
            "mov r14, rsp",
            "syscall",
            "mov rsp, r14",
            in("rdx") sys,
            in("rdi") cap,
            in("rsi") info,
            out("r14") _,
            out("rcx") _,
            out("r11") _,
            options(nostack),
        );
    }
}

/// A receive-type syscall (`Recv`, `NBRecv` on a notification: `Wait`,
/// `Poll`; on MCS kernels their own `Wait`, `NBWait`) that passes the
/// capability only and takes back badge, message info and message
/// registers (libsel4's `x64_sys_recv`): the kernel does not read the
/// message info or message registers of a receive (nor, for MCS `Wait` and
/// `NBWait`, a reply object in R12), so they are not loaded. Registers the
/// kernel leaves alone (a notification's wake-up writes the badge only)
/// come back as whatever this thread had in them.
///
/// # Safety
/// As [`syscall`].
#[inline(always)]
pub unsafe fn syscall_recv(sys: isize, src: Word) -> Regs {
    let mut r = Regs {
        cap_or_badge: src,
        ..Regs::default()
    };
    crate::trace::syscall_entered();
    // SAFETY: as `syscall`; every register the kernel may write on return
    // from a receive is an output.
    unsafe {
        core::arch::asm!(
            "mov r14, rsp",
            "syscall",
            "mov rsp, r14",
            in("rdx") sys,
            inout("rdi") src => r.cap_or_badge,
            lateout("rsi") r.info,
            lateout("r10") r.mr[0],
            lateout("r8") r.mr[1],
            lateout("r9") r.mr[2],
            lateout("r15") r.mr[3],
            out("r14") _,
            out("rcx") _,
            out("r11") _,
            options(nostack),
        );
    }
    r
}

/// Performs one syscall of the MCS API with every argument register in and
/// out, plus R12 = `reply` (the reply object capability of Recv, NBRecv,
/// ReplyRecv and NBSendRecv, and the destination of NBSendWait) and R13 =
/// `nbsr_dest` (the destination of NBSendRecv).
///
/// # Safety
/// As for [`syscall`].
#[inline(always)]
pub unsafe fn syscall_mcs(sys: isize, regs: &mut Regs, reply: Word, nbsr_dest: Word) {
    crate::trace::syscall_entered();
    // SAFETY: as in `syscall`; R12 and R13 are inputs the kernel reads (it
    // restores them, but they are declared clobbered all the same).
    unsafe {
        core::arch::asm!(
            "mov r14, rsp",
            "syscall",
            "mov rsp, r14",
            in("rdx") sys,
            inout("rdi") regs.cap_or_badge,
            inout("rsi") regs.info,
            inout("r10") regs.mr[0],
            inout("r8") regs.mr[1],
            inout("r9") regs.mr[2],
            inout("r15") regs.mr[3],
            inout("r12") reply => _,
            inout("r13") nbsr_dest => _,
            out("r14") _,
            out("rcx") _,
            out("r11") _,
            options(nostack),
        );
    }
}

/// Sets this thread's TLS base (FS base) with `wrfsbase`.
///
/// # Safety
/// The kernel must have enabled user-mode `wrfsbase` (CR4.FSGSBASE, seL4's
/// `FSGSBASE_INST` configuration), and `tp` must point at a thread control
/// block laid out for x86_64 TLS variant II (first word: its own address).
#[inline(always)]
pub unsafe fn write_fs_base(tp: usize) {
    // SAFETY: as documented above; `wrfsbase` only changes the FS base.
    unsafe {
        core::arch::asm!("wrfsbase {}", in(reg) tp, options(nostack, preserves_flags));
    }
}

/// Reads this thread's TLS base (FS base) with `rdfsbase`: only on kernels
/// that enable user-mode `rdfsbase` (`KernelFSGSBase=inst`; elsewhere the
/// instruction faults). [`thread_pointer`] works everywhere.
#[inline(always)]
pub fn read_fs_base() -> usize {
    let tp: usize;
    // SAFETY: `rdfsbase` only reads the FS base; the runtime sets FS base
    // before any Rust code of the root task runs, and it is enabled by the
    // same kernel option that lets the runtime write it.
    unsafe {
        core::arch::asm!("rdfsbase {}", out(reg) tp, options(nostack, nomem, preserves_flags));
    }
    tp
}

/// This thread's thread pointer ([`thread_pointer`]; the name the other
/// architectures give it).
#[inline(always)]
pub fn read_thread_pointer() -> usize {
    thread_pointer()
}

/// This thread's thread pointer, read as the first word of its thread
/// control block (`fs:[0]`, which x86_64 TLS variant II points at itself).
/// Unlike [`read_fs_base`] this needs no user-mode `rdfsbase`, so it works
/// on kernels built with `KernelFSGSBase=msr` too.
#[inline(always)]
pub fn thread_pointer() -> usize {
    let tp: usize;
    // SAFETY: reads one word at FS base. The start code and the runtime set
    // FS base to a thread control block whose first word is its own address
    // before any Rust code of a thread runs.
    unsafe {
        core::arch::asm!(
            "mov {}, qword ptr fs:[0]",
            out(reg) tp,
            options(nostack, readonly, preserves_flags)
        );
    }
    tp
}

/// The time stamp counter, the architecture's free-running counter
/// ([`rdtsc`]); its rate is not in the kernel configuration
/// ([`COUNTER_HZ`] is `None`): measure it (the suite's harness does,
/// against the PIT) or take bootinfo's TSC figure.
#[inline(always)]
pub fn read_counter() -> u64 {
    rdtsc()
}

/// The rate of [`read_counter`] in Hz, when the kernel configuration
/// gives it (not on x86_64: the TSC's rate is measured).
pub const COUNTER_HZ: Option<u64> = None;

/// Reads the time stamp counter.
#[inline(always)]
pub fn rdtsc() -> u64 {
    let lo: u32;
    let hi: u32;
    // SAFETY: `rdtsc` reads a counter and has no other effect.
    unsafe {
        core::arch::asm!("rdtsc", out("eax") lo, out("edx") hi, options(nostack, nomem, preserves_flags));
    }
    (u64::from(hi) << 32) | u64::from(lo)
}

/// Number of SSE registers (xmm0-xmm15) on x86_64.
pub const SSE_REGISTERS: usize = 16;

/// Loads xmm0-xmm15 from `values` (two words per register, low word first).
///
/// For tests of the kernel's FPU context switching. The asm declares the
/// sixteen registers as clobbered, so the compiler keeps nothing of its own
/// in them across the call. What they hold afterwards is what the kernel
/// preserves: the root task's target (`x86_64-unknown-none`) is soft-float,
/// so compiled code does not use them, and [`read_sse`] reads them back as
/// this thread left them unless the kernel lost them.
#[inline(never)]
pub fn write_sse(values: &[u64; 2 * SSE_REGISTERS]) {
    // SAFETY: `movdqu` loads 256 bytes from `values`, a valid, readable
    // array of exactly that size; xmm0-xmm15, the only registers that
    // change, are declared clobbered. The kernel enables SSE (CR4.OSFXSR)
    // for user threads and switches their FPU state.
    unsafe {
        core::arch::asm!(
            "movdqu xmm0, [{p}]",
            "movdqu xmm1, [{p} + 16]",
            "movdqu xmm2, [{p} + 32]",
            "movdqu xmm3, [{p} + 48]",
            "movdqu xmm4, [{p} + 64]",
            "movdqu xmm5, [{p} + 80]",
            "movdqu xmm6, [{p} + 96]",
            "movdqu xmm7, [{p} + 112]",
            "movdqu xmm8, [{p} + 128]",
            "movdqu xmm9, [{p} + 144]",
            "movdqu xmm10, [{p} + 160]",
            "movdqu xmm11, [{p} + 176]",
            "movdqu xmm12, [{p} + 192]",
            "movdqu xmm13, [{p} + 208]",
            "movdqu xmm14, [{p} + 224]",
            "movdqu xmm15, [{p} + 240]",
            p = in(reg) values.as_ptr(),
            out("xmm0") _,
            out("xmm1") _,
            out("xmm2") _,
            out("xmm3") _,
            out("xmm4") _,
            out("xmm5") _,
            out("xmm6") _,
            out("xmm7") _,
            out("xmm8") _,
            out("xmm9") _,
            out("xmm10") _,
            out("xmm11") _,
            out("xmm12") _,
            out("xmm13") _,
            out("xmm14") _,
            out("xmm15") _,
            options(nostack, readonly, preserves_flags),
        );
    }
}

/// Reads xmm0-xmm15 (two words per register, low word first).
#[inline(never)]
pub fn read_sse() -> [u64; 2 * SSE_REGISTERS] {
    let mut values = [0u64; 2 * SSE_REGISTERS];
    // SAFETY: `movdqu` stores 256 bytes into `values`, a valid, writable
    // array of exactly that size; the registers are only read.
    unsafe {
        core::arch::asm!(
            "movdqu [{p}], xmm0",
            "movdqu [{p} + 16], xmm1",
            "movdqu [{p} + 32], xmm2",
            "movdqu [{p} + 48], xmm3",
            "movdqu [{p} + 64], xmm4",
            "movdqu [{p} + 80], xmm5",
            "movdqu [{p} + 96], xmm6",
            "movdqu [{p} + 112], xmm7",
            "movdqu [{p} + 128], xmm8",
            "movdqu [{p} + 144], xmm9",
            "movdqu [{p} + 160], xmm10",
            "movdqu [{p} + 176], xmm11",
            "movdqu [{p} + 192], xmm12",
            "movdqu [{p} + 208], xmm13",
            "movdqu [{p} + 224], xmm14",
            "movdqu [{p} + 240], xmm15",
            p = in(reg) values.as_mut_ptr(),
            options(nostack, preserves_flags),
        );
    }
    values
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
                concat!("mov {0}, qword ptr fs:[", $sym, "@TPOFF + ", $off, "]"),
                out(reg) v,
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
                concat!("mov qword ptr fs:[", $sym, "@TPOFF + ", $off, "], {0}"),
                in(reg) v,
                options(nostack, preserves_flags),
            );
        }
    }};
}
