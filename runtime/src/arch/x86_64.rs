//! x86_64 parts of the runtime: the initial thread's thread pointer, the
//! register state a new thread starts with, the stack probe, the initial
//! thread's TLS base on seL4 5.x, the remapping of image pages, and the
//! instructions of the fault provokers.

use sel4_sys::{cap_type, CPtr, Cap, InvocationError, InvocationLabel, UserContext, Word};

use crate::image::Remapped;

/// Loads the initial thread's thread pointer, the way the configured kernel
/// allows.
///
/// # Safety
/// `tp` must point at a TLS block and TCB laid out for this image
/// (`sel4_start::tls`, variant II).
pub(crate) unsafe fn set_thread_pointer(tp: usize) -> Result<(), InvocationError> {
    sel4_sys::sel4_cfg_if! {
        config FSGSBASE_INST {
            // SAFETY: the kernel enables user-mode wrfsbase in this
            // configuration; `tp` is valid per the contract.
            unsafe { sel4_sys::arch::write_fs_base(tp) };
            Ok(())
        } else {
            // The invocation travels in registers only: the IPC buffer's
            // address lives in TLS, which is not usable yet.
            Cap::<cap_type::TCB>::from_cptr(crate::bootinfo::INIT_THREAD_TCB)
                .tcb_set_tls_base(tp as Word)
        }
    }
}

/// The registers a new thread starts with: at `entry` (an `extern "C"`
/// function of three arguments that never returns) with `args`, the stack
/// pointer 16-byte aligned minus 8 below `stack_top` (as after a `call`),
/// and the TLS base `tp` in the saved context.
pub(crate) fn entry_context(
    entry: usize,
    stack_top: usize,
    args: [Word; 3],
    tp: Word,
) -> UserContext {
    let mut ctx = UserContext {
        rip: entry as Word,
        rsp: ((stack_top & !15) - 8) as Word,
        rdi: args[0],
        rsi: args[1],
        rdx: args[2],
        ..Default::default()
    };
    sel4_sys::sel4_cfg_if! {
        kernel >= 10 && label TCBSetTLSBase { ctx.fs_base = tp; } else { ctx.tls_base = tp; }
    }
    ctx
}

/// First thing a new thread does: loads its own thread pointer where the
/// kernel lets user mode do it (`wrfsbase`); elsewhere the spawner set the
/// TLS base through the TCB.
///
/// # Safety
/// `tp` must point at the thread's TLS block (variant II), the one the
/// spawner gave the kernel.
#[inline(always)]
pub(crate) unsafe fn load_own_thread_pointer(tp: usize) {
    sel4_sys::sel4_cfg_if! {
        config FSGSBASE_INST {
            // SAFETY: per the contract; the kernel allows user-mode
            // wrfsbase in this configuration and was given the same base.
            unsafe { sel4_sys::arch::write_fs_base(tp) };
        } else {
            let _ = tp;
        }
    }
}

/// Reads one word `off` bytes below the stack pointer (the stack probe of
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
            "mov {tmp}, qword ptr [rsp - {off}]",
            tmp = out(reg) _,
            off = const OFF,
            options(nostack, readonly, preserves_flags),
        );
    }
}

/// The initial thread's TLS base on seL4 5.x (see
/// [`initial_tls_base_needs_fix`]).
pub(crate) mod initial_tls {
    use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering::SeqCst};
    use sel4_sys::{cap_type, Cap, UserContext, Word};

    use crate::thread::TlsFixError;

    const FIX_IDLE: u8 = 0;
    const FIX_WAITING: u8 = 1;
    const FIX_WRITING: u8 = 2;
    const FIX_DONE: u8 = 3;
    static TLS_FIX: AtomicU8 = AtomicU8::new(FIX_IDLE);
    /// Addresses of the `syscall` instruction of the initial thread's wait and
    /// of the instruction after it.
    static SYSCALL_IP: AtomicUsize = AtomicUsize::new(0);
    static RESUME_IP: AtomicUsize = AtomicUsize::new(0);

    /// The initial thread's TLS base is in its saved context already (a
    /// process: its loader put it there).
    pub(crate) fn mark_done() {
        TLS_FIX.store(FIX_DONE, SeqCst);
    }

    /// Whether the kernel must still be told the initial thread's TLS base
    /// before a second thread runs.
    ///
    /// seL4 5.x loads FS base from a thread's TLS_BASE register on the way back
    /// to user mode whenever it differs from the value it loaded last, and never
    /// reads FS base back. The initial thread's `wrfsbase` only holds while it is
    /// the only thread; once threads with other TLS bases run, its FS base
    /// would be reset to its TLS_BASE (0). A thread cannot write its own
    /// registers, so a helper thread does it ([`fix_initial_tls_base`]) while
    /// the initial thread waits in [`wait_for_initial_tls_fix`]. Kernels with
    /// TCB_SetTLSBase save FS base on every switch and need nothing. The
    /// runtime makes the fix at start, before `main`, without a second
    /// thread ([`fix_at_start`]), so this is `false` in `main` unless that
    /// failed (the start then stops with a message).
    pub fn initial_tls_base_needs_fix() -> bool {
        sel4_sys::sel4_cfg_if! {
            kernel >= 10 && label TCBSetTLSBase {
                false
            } else {
                TLS_FIX.load(SeqCst) != FIX_DONE
            }
        }
    }

    /// TSC cycles the start-up fix ([`fix_at_start`]) took (0: not made).
    static START_FIX_CYCLES: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

    /// TSC cycles the runtime spent at start giving the kernel the initial
    /// thread's TLS base (`None` when the kernel needs no fix or it was
    /// made otherwise).
    pub fn initial_tls_fix_cycles() -> Option<u64> {
        match START_FIX_CYCLES.load(SeqCst) {
            0 => None,
            c => Some(c),
        }
    }

    /// At start, before `main`, on the only thread (seL4 5.x; nothing to do
    /// on kernels with TCB_SetTLSBase): gives the kernel the initial
    /// thread's TLS base `tp`, so that no thread can ever reset it, without
    /// a second thread. A TCB that never runs gets TLS_BASE = `tp`
    /// (TCB_WriteRegisters), and TCB_CopyRegisters with only the integer
    /// registers copies it into the initial thread: on seL4 5.x x86_64 the
    /// integer registers of CopyRegisters are exactly TLS_BASE (the
    /// kernel's `gpRegisters`), and unlike Read/WriteRegisters,
    /// CopyRegisters may name the caller as its destination. The TCB is
    /// made from the runtime's `untyped` in the scratch `slot` and deleted
    /// again. Four system calls and a TCB's worth (2 KiB) of the runtime's
    /// untyped.
    pub(crate) fn fix_at_start(untyped: Word, slot: Word, tp: Word) -> Result<(), TlsFixError> {
        sel4_sys::sel4_cfg_if! {
            kernel >= 10 && label TCBSetTLSBase {
                let _ = (untyped, slot, tp);
                Ok(())
            } else {
                use sel4_sys::ObjectType;
                let start = sel4_sys::arch::rdtsc();
                if TLS_FIX
                    .compare_exchange(FIX_IDLE, FIX_WRITING, SeqCst, SeqCst)
                    .is_err()
                {
                    return Err(TlsFixError::Busy);
                }
                let root = Cap::<cap_type::CNode>::from_cptr(crate::bootinfo::INIT_THREAD_CNODE);
                let depth = sel4_sys::config::WORD_SIZE as u8;
                let r = Cap::<cap_type::Untyped>::from_cptr(untyped)
                    .untyped_retype(ObjectType::TCBObject as Word, 0, root, 0, 0, slot, 1)
                    .and_then(|()| {
                        let carrier = Cap::<cap_type::TCB>::from_cptr(slot);
                        let ctx = UserContext {
                            tls_base: tp,
                            ..UserContext::default()
                        };
                        let copied = carrier
                            .tcb_write_registers(false, 0, UserContext::WORDS as Word, &ctx)
                            .and_then(|()| {
                                Cap::<cap_type::TCB>::from_cptr(crate::bootinfo::INIT_THREAD_TCB)
                                    .tcb_copy_registers(carrier, false, false, false, true, 0)
                            });
                        let deleted = root.cnode_delete(slot, depth);
                        copied.and(deleted)
                    });
                TLS_FIX.store(if r.is_ok() { FIX_DONE } else { FIX_IDLE }, SeqCst);
                START_FIX_CYCLES.store(sel4_sys::arch::rdtsc().wrapping_sub(start).max(1), SeqCst);
                r.map_err(TlsFixError::Kernel)
            }
        }
    }

    /// On the initial thread: waits on `ntfn` until a helper thread has set
    /// its TLS base ([`fix_initial_tls_base`]) and signalled `ntfn`. Does
    /// nothing when no fix is needed (or it was made already).
    pub fn wait_for_initial_tls_fix(ntfn: Cap<cap_type::Notification>) -> Result<(), TlsFixError> {
        if crate::thread::current_id() != 0 {
            return Err(TlsFixError::NotInitialThread);
        }
        if !initial_tls_base_needs_fix() {
            return Ok(());
        }
        if TLS_FIX
            .compare_exchange(FIX_IDLE, FIX_WAITING, SeqCst, SeqCst)
            .is_err()
        {
            return Err(TlsFixError::Busy);
        }
        let resume = RESUME_IP.as_ptr();
        let syscall_ip = SYSCALL_IP.as_ptr();
        sel4_sys::trace::syscall_entered();
        // SAFETY: a Recv on a notification, with rsp kept in r14 as in every
        // syscall of sel4-sys; the addresses of the `syscall` instruction and
        // of the one after it are stored in SYSCALL_IP and RESUME_IP (statics
        // the helper reads) first. The helper rewrites this thread's registers
        // with the values the kernel saved at the syscall, except rip = the
        // address after it, rsp = r14 and TLS_BASE, and only when it finds this
        // thread blocked at that very syscall, so the thread continues here
        // with its registers intact.
        unsafe {
            core::arch::asm!(
                "lea rax, [rip + 2f]",
                "mov qword ptr [{sys}], rax",
                "lea rax, [rip + 3f]",
                "mov qword ptr [{resume}], rax",
                "mov r14, rsp",
                "2:",
                "syscall",
                "3:",
                "mov rsp, r14",
                resume = in(reg) resume,
                sys = in(reg) syscall_ip,
                in("rdx") sel4_sys::Syscall::Recv as isize,
                inout("rdi") ntfn.cptr() => _,
                out("rsi") _,
                out("rax") _,
                out("rcx") _,
                out("r8") _,
                out("r9") _,
                out("r10") _,
                out("r11") _,
                out("r14") _,
                out("r15") _,
            );
        }
        if TLS_FIX.load(SeqCst) == FIX_DONE {
            Ok(())
        } else {
            // Woken without the fix (the helper failed): back to idle.
            let _ = TLS_FIX.compare_exchange(FIX_WAITING, FIX_IDLE, SeqCst, SeqCst);
            Err(TlsFixError::NotWaiting)
        }
    }

    /// On a helper thread, while the initial thread waits in
    /// [`wait_for_initial_tls_fix`] on `ntfn`: sets the initial thread's
    /// TLS_BASE register to its thread pointer, then signals `ntfn` (also on
    /// failure). Refuses, without touching the initial thread, unless that
    /// thread is blocked in that very wait; a second fix is refused.
    pub fn fix_initial_tls_base(ntfn: Cap<cap_type::Notification>) -> Result<(), TlsFixError> {
        if TLS_FIX
            .compare_exchange(FIX_WAITING, FIX_WRITING, SeqCst, SeqCst)
            .is_err()
        {
            // Not waiting (yet): the signal makes a wait that comes later
            // return at once, with an error, instead of blocking for good.
            ntfn.signal();
            return Err(TlsFixError::NotWaiting);
        }
        let r = write_initial_tls_base();
        TLS_FIX.store(if r.is_ok() { FIX_DONE } else { FIX_WAITING }, SeqCst);
        ntfn.signal();
        r
    }

    fn write_initial_tls_base() -> Result<(), TlsFixError> {
        let resume = RESUME_IP.load(SeqCst) as Word;
        let syscall_ip = SYSCALL_IP.load(SeqCst) as Word;
        let tcb = Cap::<cap_type::TCB>::from_cptr(crate::bootinfo::INIT_THREAD_TCB);
        let words = UserContext::WORDS as Word;
        let mut ctx = tcb
            .tcb_read_registers(false, 0, words)
            .map_err(TlsFixError::Kernel)?;
        // Blocked in the wait's syscall: the kernel reports the syscall
        // instruction (seL4 5.x) or the one after it as rip, and r14 holds
        // the stack pointer saved before it.
        if resume == 0 || !(ctx.rip == syscall_ip || ctx.rip == resume) || ctx.r14 == 0 {
            return Err(TlsFixError::NotWaiting);
        }
        ctx.rip = resume;
        ctx.rsp = ctx.r14;
        let tp = crate::thread::initial_thread_pointer() as Word;
        sel4_sys::sel4_cfg_if! {
            kernel >= 10 && label TCBSetTLSBase { ctx.fs_base = tp; } else { ctx.tls_base = tp; }
        }
        tcb.tcb_write_registers(false, 0, words, &ctx)
            .map_err(TlsFixError::Kernel)
    }
}

/// Maps the image page `frame` at `vaddr` read-only (`crate::image`):
/// `written` pages (RELRO, written by the relocation) may have a writable
/// TLB entry cached, which neither `X86_Page_Remap` (5.x) nor a second
/// `X86_Page_Map` (12+) flushes, so they are unmapped and mapped again by
/// two system calls in one `asm!` block; the others are remapped in place.
/// Code stays executable (x86 mappings have no execute-never attribute).
pub(crate) fn protect_page(
    frame: CPtr,
    vaddr: usize,
    _executable: bool,
    written: bool,
) -> Result<Remapped, InvocationError> {
    let frame = Cap::<cap_type::X86Page>::from_cptr(frame);
    let vspace = sel4_sys::init_caps::CapInitThreadVSpace as CPtr;
    if written {
        remap_flushing(frame, vspace, vaddr).map(|()| Remapped::UnmappedFirst)
    } else {
        remap_in_place(frame, vspace, vaddr).map(|()| Remapped::InPlace)
    }
}

const READ_ONLY: sel4_sys::CapRights = sel4_sys::CapRights(0b10);

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

/// The instructions of `crate::thread::provoke`; the callers check the
/// addresses.
#[cfg(feature = "test-support")]
pub(crate) mod provoke {
    /// Reads the word at `addr` (nothing is mapped there).
    pub(crate) fn read(addr: usize) -> u64 {
        let v: u64;
        // SAFETY: reads a word at an address nothing is mapped at (the
        // caller checks): the thread stops with a VM fault. Nothing is
        // written.
        unsafe {
            core::arch::asm!("mov {v}, qword ptr [{a}]", a = in(reg) addr, v = out(reg) v,
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
            core::arch::asm!("mov qword ptr [{a}], {z}", a = in(reg) addr, z = in(reg) 0u64,
                options(nostack, preserves_flags));
        }
    }

    /// Calls `addr` (nothing is mapped there).
    pub(crate) fn execute(addr: usize) {
        // SAFETY: calls an address nothing is mapped at (the caller
        // checks): the fetch faults and the thread stops before anything
        // runs there.
        unsafe {
            core::arch::asm!("call {a}", a = in(reg) addr, clobber_abi("C"));
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
                "mov {b}, byte ptr [{a}]",
                "mov byte ptr [{a}], {b}",
                a = in(reg) addr,
                b = out(reg_byte) _,
                options(nostack, preserves_flags),
            );
        }
    }

    /// `ud2`: an invalid-opcode user exception (vector 6).
    pub(crate) fn undefined_instruction() {
        // SAFETY: `ud2` raises #UD, which the kernel turns into a
        // UserException fault message; it touches no memory.
        unsafe { core::arch::asm!("ud2", options(nostack, nomem)) }
    }

    /// `div` by zero: a divide-error user exception (vector 0).
    pub(crate) fn divide_by_zero() {
        // SAFETY: `div` by a zero register raises #DE, which the kernel
        // turns into a UserException fault; no memory is involved.
        unsafe {
            core::arch::asm!(
                "xor edx, edx",
                "mov eax, 1",
                "div {z:e}",
                z = in(reg) 0u32,
                out("eax") _,
                out("edx") _,
                options(nostack, nomem),
            )
        }
    }

    /// `hlt`, privileged: a general-protection user exception (vector 13).
    pub(crate) fn privileged_instruction() {
        // SAFETY: `hlt` in user mode raises #GP, a UserException fault; it
        // has no effect in user mode.
        unsafe { core::arch::asm!("hlt", options(nostack, nomem)) }
    }

    /// `int3`: a breakpoint exception (vector 3).
    pub(crate) fn breakpoint() {
        // SAFETY: `int3` raises #BP, which the kernel reports as a fault of
        // the thread; it touches no memory.
        unsafe { core::arch::asm!("int3", options(nostack, nomem)) }
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
    "    syscall",
    "    ud2",
    ".size __sel4rs_reply_stub, . - __sel4rs_reply_stub",
    ".popsection",
);
