//! Support for threads created by the root task in its own address space:
//! the entry trampoline a new thread starts in, per-thread TLS words, and
//! the panic path of a non-initial thread.
//!
//! The root server (`sel4-rootserver::thread`) creates the TCB, the stack,
//! the TLS block and the IPC buffer, [`register`]s the thread's closure here
//! and starts the TCB at [`entry_point`] with the registers of
//! [`EntryRegs`]. The trampoline loads the thread pointer and the IPC
//! buffer, runs the closure, and reports the end with a message of label
//! [`EXIT_LABEL`] on the thread's exit endpoint (word 0: [`EXIT_RETURNED`]
//! or [`EXIT_PANICKED`]), then suspends itself. A panic on such a thread
//! hands the message to the thread's panic callback instead of ending the
//! system.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::String;
use sel4_sys::{cap_type, CPtr, Cap, MessageInfo, UserContext, Word};

/// Label of the message a thread sends on its exit endpoint when it ends.
/// Kernel fault messages use small labels (the fault type), so this one
/// cannot be taken for a fault.
pub const EXIT_LABEL: u64 = 0xE_C0DE;
/// Exit word: the closure returned.
pub const EXIT_RETURNED: Word = 0;
/// Exit word: the closure panicked (the message went to the panic callback).
pub const EXIT_PANICKED: Word = 1;
/// Exit word: the thread panicked while handling its own panic.
pub const EXIT_DOUBLE_PANIC: Word = 2;
/// Exit word: the trampoline found no closure registered for the thread.
pub const EXIT_NOT_REGISTERED: Word = 3;

/// What a new thread runs, and where its panic message goes.
pub struct ThreadSpec {
    /// The closure the thread runs.
    pub main: Box<dyn FnOnce() + Send>,
    /// Called with the panic message when `main` panics.
    pub on_panic: Box<dyn FnOnce(String) + Send>,
}

struct Entry {
    main: Option<Box<dyn FnOnce() + Send>>,
    on_panic: Box<dyn FnOnce(String) + Send>,
}

static REGISTRY: spin::Mutex<BTreeMap<u64, Entry>> = spin::Mutex::new(BTreeMap::new());
static NEXT_ID: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(1);

/// Registers a thread's closure; returns the thread's id (never 0: 0 is the
/// initial thread).
pub fn register(spec: ThreadSpec) -> u64 {
    let id = NEXT_ID.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    REGISTRY.lock().insert(
        id,
        Entry {
            main: Some(spec.main),
            on_panic: spec.on_panic,
        },
    );
    id
}

/// Forgets a thread's closure and panic callback (for a thread torn down
/// before it ended on its own). Returns whether anything was registered.
pub fn unregister(id: u64) -> bool {
    let e = REGISTRY.lock().remove(&id);
    e.is_some()
}

/// The registers a new thread starts with (System V argument registers of
/// the trampoline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryRegs {
    /// RIP: [`entry_point`].
    pub rip: Word,
    /// RSP: 16-byte aligned stack top minus 8 (as after a `call`).
    pub rsp: Word,
    /// RDI: thread id from [`register`].
    pub rdi: Word,
    /// RSI: thread pointer (TLS block laid out by `sel4_start::tls`).
    pub rsi: Word,
    /// RDX: IPC buffer address.
    pub rdx: Word,
    /// RCX: the thread's own TCB capability (for suspending itself).
    pub rcx: Word,
    /// R8: the exit endpoint capability (badged as the spawner wants).
    pub r8: Word,
}

impl EntryRegs {
    /// Registers for a thread with the given stack top (any alignment; it
    /// is aligned down to 16).
    pub fn new(
        id: u64,
        stack_top: usize,
        thread_pointer: usize,
        ipc_buffer: usize,
        tcb: CPtr,
        exit_ep: CPtr,
    ) -> EntryRegs {
        EntryRegs {
            rip: entry_point() as Word,
            rsp: ((stack_top & !15) - 8) as Word,
            rdi: id,
            rsi: thread_pointer as Word,
            rdx: ipc_buffer as Word,
            rcx: tcb,
            r8: exit_ep,
        }
    }
}

/// Address of the trampoline new threads start at.
pub fn entry_point() -> usize {
    thread_entry as *const () as usize
}

// Per-thread words in the image's TLS template: id (0 = initial thread),
// own TCB, exit endpoint, panicking flag.
core::arch::global_asm!(
    ".section .tbss,\"awT\",@nobits",
    ".p2align 3",
    ".globl __sel4rs_thread_words",
    ".type __sel4rs_thread_words,@object",
    ".size __sel4rs_thread_words,32",
    "__sel4rs_thread_words:",
    ".zero 32",
    ".text",
);

macro_rules! tls_word {
    ($get:ident, $set:ident, $off:literal) => {
        fn $get() -> Word {
            let v: Word;
            // SAFETY: reads a word of this thread's static TLS block: every
            // thread has one (the start code's for the initial thread, the
            // spawner's for the others) before any Rust code runs on it.
            unsafe {
                core::arch::asm!(
                    concat!("mov {0}, qword ptr fs:[__sel4rs_thread_words@TPOFF + ", $off, "]"),
                    out(reg) v,
                    options(nostack, readonly, preserves_flags),
                );
            }
            v
        }
        fn $set(v: Word) {
            // SAFETY: writes a word of this thread's static TLS block (see
            // the getter).
            unsafe {
                core::arch::asm!(
                    concat!("mov qword ptr fs:[__sel4rs_thread_words@TPOFF + ", $off, "], {0}"),
                    in(reg) v,
                    options(nostack, preserves_flags),
                );
            }
        }
    };
}
tls_word!(get_id, set_id, 0);
tls_word!(get_tcb, set_tcb, 8);
tls_word!(get_exit_ep, set_exit_ep, 16);
tls_word!(get_panicking, set_panicking, 24);

/// Id of the calling thread: 0 for the initial thread.
pub fn current_id() -> u64 {
    get_id()
}

/// Reports the end on the exit endpoint and suspends the thread. Only
/// syscalls after the send: the joiner may delete the thread's memory as
/// soon as it has the message.
fn finish(tcb: CPtr, exit_ep: CPtr, status: Word) -> ! {
    let info = MessageInfo::new(EXIT_LABEL, 0, 0, 1);
    sel4_sys::send_regs(exit_ep, info, [status, 0, 0, 0]);
    let tcb = Cap::<cap_type::TCB>::from_cptr(tcb);
    loop {
        // No words and no capabilities: registers only, no IPC buffer.
        let _ = tcb.tcb_suspend();
        sel4_sys::yield_now();
    }
}

extern "C" fn thread_entry(
    id: u64,
    thread_pointer: usize,
    ipc_buffer: usize,
    tcb: CPtr,
    exit_ep: CPtr,
) -> ! {
    sel4_sys::sel4_cfg_if! {
        config FSGSBASE_INST {
            // SAFETY: the spawner laid out this thread's TLS block at
            // `thread_pointer` (sel4_start::tls) and the kernel allows
            // user-mode wrfsbase in this configuration. The spawner also
            // gave the kernel the same TLS base, so both agree.
            unsafe { sel4_sys::arch::write_fs_base(thread_pointer) };
        } else {
            // The spawner set the TLS base through the TCB.
            let _ = thread_pointer;
        }
    }
    // SAFETY: `ipc_buffer` is the buffer the spawner gave the kernel for
    // this TCB, mapped read-write and used by this thread only.
    unsafe { sel4_sys::set_ipc_buffer(ipc_buffer) };
    set_id(id);
    set_tcb(tcb);
    set_exit_ep(exit_ep);
    let main = REGISTRY.lock().get_mut(&id).and_then(|e| e.main.take());
    let status = match main {
        Some(main) => {
            main();
            EXIT_RETURNED
        }
        None => EXIT_NOT_REGISTERED,
    };
    // Drop the panic callback (it may own heap memory) before reporting.
    let entry = REGISTRY.lock().remove(&id);
    drop(entry);
    finish(tcb, exit_ep, status)
}

/// The panic path of a non-initial thread: hands the message to the
/// thread's callback and ends the thread. Returns only on the initial
/// thread (id 0), whose panics end the system.
pub(crate) fn on_panic(info: &core::panic::PanicInfo<'_>) {
    let id = get_id();
    if id == 0 {
        return;
    }
    let (tcb, exit_ep) = (get_tcb(), get_exit_ep());
    if get_panicking() != 0 {
        finish(tcb, exit_ep, EXIT_DOUBLE_PANIC);
    }
    set_panicking(1);
    let message = match info.location() {
        Some(l) => alloc::format!(
            "{} at {}:{}:{}",
            info.message(),
            l.file(),
            l.line(),
            l.column()
        ),
        None => alloc::format!("{}", info.message()),
    };
    crate::println!("thread {id} panicked: {message}");
    let entry = REGISTRY.lock().remove(&id);
    if let Some(e) = entry {
        (e.on_panic)(message);
    }
    finish(tcb, exit_ep, EXIT_PANICKED)
}

static INITIAL_TP: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);
static RESUME_IP: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);
static INITIAL_TLS_FIXED: core::sync::atomic::AtomicBool =
    core::sync::atomic::AtomicBool::new(false);

static IMAGE_START: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

/// Records the initial thread's thread pointer and the image's load address
/// (called by the start code).
pub(crate) fn set_initial_thread_pointer(tp: usize, image_start: usize) {
    INITIAL_TP.store(tp, core::sync::atomic::Ordering::Relaxed);
    IMAGE_START.store(image_start, core::sync::atomic::Ordering::Relaxed);
}

/// Address the image's ELF header (its first page) was loaded at: the
/// first page that bootinfo's `userImageFrames` capabilities cover.
pub fn image_start() -> usize {
    IMAGE_START.load(core::sync::atomic::Ordering::Relaxed)
}

/// The image's TLS template, to lay out TLS blocks for new threads.
pub fn tls_image() -> Result<sel4_start::tls::TlsImage, sel4_start::tls::TlsError> {
    let ehdr = image_start();
    // SAFETY: `ehdr` is the loaded ELF header of this image (recorded by
    // the start code from `__ehdr_start`); it and the program headers are
    // in the image's first loadable segment, mapped for the program's life.
    let phdrs = unsafe { sel4_start::tls::program_headers(ehdr) };
    sel4_start::tls::TlsImage::from_phdrs(phdrs, ehdr)
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
/// TCB_SetTLSBase save FS base on every switch and need nothing.
pub fn initial_tls_base_needs_fix() -> bool {
    sel4_sys::sel4_cfg_if! {
        kernel >= 10 && label TCBSetTLSBase {
            false
        } else {
            !INITIAL_TLS_FIXED.load(core::sync::atomic::Ordering::Acquire)
        }
    }
}

/// On the initial thread: waits on `ntfn` until the helper thread has set
/// its TLS base ([`fix_initial_tls_base`]) and signalled `ntfn`.
pub fn wait_for_initial_tls_fix(ntfn: CPtr) {
    let resume = RESUME_IP.as_ptr();
    // SAFETY: a Recv on a notification, with rsp kept in r14 as in every
    // syscall of sel4-sys; the address of the instruction after `syscall`
    // is stored in RESUME_IP (a static the helper reads) first. The helper
    // rewrites this thread's registers with the values the kernel saved at
    // the syscall, except rip = that address, rsp = r14 and TLS_BASE, so
    // the thread continues here with its registers intact.
    unsafe {
        core::arch::asm!(
            "lea rax, [rip + 3f]",
            "mov qword ptr [{resume}], rax",
            "mov r14, rsp",
            "syscall",
            "3:",
            "mov rsp, r14",
            resume = in(reg) resume,
            in("rdx") sel4_sys::Syscall::Recv as isize,
            inout("rdi") ntfn => _,
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
}

/// Why the helper could not set the initial thread's TLS base.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsFixError {
    /// The initial thread is not waiting in [`wait_for_initial_tls_fix`].
    NotWaiting,
    /// TCB_ReadRegisters or TCB_WriteRegisters failed.
    Kernel(sel4_sys::InvocationError),
}

/// On a helper thread, while the initial thread waits in
/// [`wait_for_initial_tls_fix`] on `ntfn`: sets the initial thread's TLS_BASE
/// register to its thread pointer, then wakes it (also on failure).
pub fn fix_initial_tls_base(ntfn: CPtr) -> Result<(), TlsFixError> {
    let r = write_initial_tls_base();
    if r.is_ok() {
        INITIAL_TLS_FIXED.store(true, core::sync::atomic::Ordering::Release);
    }
    sel4_sys::signal(ntfn);
    r
}

fn write_initial_tls_base() -> Result<(), TlsFixError> {
    let resume = RESUME_IP.load(core::sync::atomic::Ordering::Relaxed);
    if resume == 0 {
        return Err(TlsFixError::NotWaiting);
    }
    let tcb = Cap::<cap_type::TCB>::from_cptr(sel4_sys::init_caps::CapInitThreadTCB as CPtr);
    let words = UserContext::WORDS as Word;
    let mut ctx = tcb
        .tcb_read_registers(false, 0, words)
        .map_err(TlsFixError::Kernel)?;
    if ctx.r14 == 0 {
        return Err(TlsFixError::NotWaiting);
    }
    ctx.rip = resume as Word;
    ctx.rsp = ctx.r14;
    let tp = INITIAL_TP.load(core::sync::atomic::Ordering::Relaxed) as Word;
    sel4_sys::sel4_cfg_if! {
        kernel >= 10 && label TCBSetTLSBase { ctx.fs_base = tp; } else { ctx.tls_base = tp; }
    }
    tcb.tcb_write_registers(false, 0, words, &ctx)
        .map_err(TlsFixError::Kernel)
}

/// Deliberate faults, for tests of fault handling. Each one stops the
/// calling thread with a fault message to its fault endpoint.
pub mod provoke {
    /// Reads the word at `addr` (a VM fault when it is not mapped).
    pub fn read_address(addr: usize) -> u64 {
        // SAFETY: a volatile read meant to fault; when `addr` is mapped it
        // only reads a word, which has no other effect.
        unsafe { core::ptr::read_volatile(addr as *const u64) }
    }

    /// Executes `ud2` (an invalid-opcode user exception).
    pub fn undefined_instruction() {
        // SAFETY: `ud2` raises #UD, which the kernel turns into a
        // UserException fault message; it touches no memory.
        unsafe { core::arch::asm!("ud2", options(nostack, nomem)) }
    }

    /// Makes a syscall with a number the kernel does not have.
    pub fn unknown_syscall(number: isize) {
        let mut regs = sel4_sys::Regs::default();
        // SAFETY: the kernel treats an unknown syscall number as an
        // UnknownSyscall fault of the caller; no memory is involved.
        unsafe { sel4_sys::arch::syscall(number, &mut regs) }
    }
}
