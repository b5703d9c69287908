//! The runtime of a program that runs as a *process*: started by a loader
//! (`sel4_rootserver::process`) under the start contract of
//! `sel4_component_env::start` instead of by the kernel with bootinfo.
//!
//! It is the same runtime as a root task's (heap with accounts, kernel-backed
//! locks, console, logger, panic handler, typed IPC), set up from what the
//! loader gave the process rather than from bootinfo:
//! - the stack, the relocations and the initial thread's TLS block and
//!   thread pointer are the loader's (the start code keeps them);
//! - the heap is the heap region of the start-info page (no static area, no
//!   growth: the process has no untyped memory);
//! - the locks of the heap, the console and the thread registry use the
//!   notifications in the layout's runtime slots (`StartInfo::lock_slots`;
//!   without them the locks work as long as they are not contended, i.e.
//!   for a single-threaded process);
//! - the CSpace root is the process's own CNode (guarded: a slot index is a
//!   full-word capability pointer);
//! - the image is not remapped: the loader mapped each segment with its own
//!   rights;
//! - the end goes to the supervisor: [`exit`] sends an exit report with the
//!   code, a panic prints its message and sends a panic report, each on the
//!   report capability, then the thread suspends itself. Nothing ends the
//!   machine and nothing speaks the serial test protocol (only the root
//!   task does).
//!
//! A component's own entry macro (`sel4-component`) calls
//! [`__process_entry`]; its `main` gets the start-info page through
//! [`start_info`].

use core::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering::SeqCst};

use sel4_component_env::start::{self as contract, ThreadInfo};
use sel4_sys::{cap_type, Cap, MessageInfo};

/// Whether this program runs as a process (set once, at start).
static MODE: AtomicU8 = AtomicU8::new(MODE_ROOT_TASK);
const MODE_ROOT_TASK: u8 = 0;
const MODE_PROCESS: u8 = 1;

static PAGE: AtomicUsize = AtomicUsize::new(0);
static REPORT_SLOT: AtomicU64 = AtomicU64::new(0);
static TCB_SLOT: AtomicU64 = AtomicU64::new(0);

/// Whether this program is a process (started under the start contract)
/// rather than a root task.
pub fn is_process() -> bool {
    MODE.load(SeqCst) == MODE_PROCESS
}

/// The start-info page the loader mapped (read-only for the process's
/// life, written by the loader only before the process starts). `None` in
/// a root task.
pub fn start_info() -> Option<&'static [u8]> {
    let page = PAGE.load(SeqCst);
    if page == 0 {
        return None;
    }
    // SAFETY: the address the loader passed in the start contract: one
    // page mapped read-only for the process's life; the loader writes it
    // only before the process runs.
    Some(unsafe { core::slice::from_raw_parts(page as *const u8, contract::PAGE_SIZE) })
}

/// A header word of the start-info page (`contract::OFF_*`), 0 if none.
pub fn start_info_word(off: usize) -> u64 {
    start_info()
        .and_then(|p| contract::word_from_page(p, off).ok())
        .unwrap_or(0)
}

/// Thread `index`'s entry of the start-info page.
pub fn thread_info(index: usize) -> Option<ThreadInfo> {
    contract::thread_from_page(start_info()?, index).ok()
}

/// The process's name (from its start-info page; "" in a root task).
pub fn name() -> &'static str {
    let Some(page) = start_info() else {
        return "";
    };
    let len = contract::word_from_page(page, contract::OFF_NAME_LEN).unwrap_or(0) as usize;
    let bytes = &page[contract::OFF_NAME..contract::OFF_NAME + len.min(contract::NAME_MAX)];
    core::str::from_utf8(bytes).unwrap_or("")
}

/// The instance number of this process (0 for the first; a restart gets
/// the next number).
pub fn generation() -> u64 {
    start_info_word(contract::OFF_GENERATION)
}

/// Sends the exit report with `code` and stops the calling thread (the
/// supervisor then ends the process). In a root task: ends the system
/// (success for 0).
pub fn exit(code: u64) -> ! {
    if !is_process() {
        crate::exit::exit(if code == 0 {
            crate::ExitCode::Success
        } else {
            crate::ExitCode::Failure
        });
    }
    let report = REPORT_SLOT.load(SeqCst);
    if report != 0 {
        let info = MessageInfo::new(contract::EXIT_LABEL, 0, 0, 1);
        sel4_sys::send_regs(report, info, [code, 0, 0, 0]);
    }
    stop_thread()
}

/// Reports a panic message on the report capability and stops the calling
/// thread (process mode).
pub(crate) fn report_panic(message: &str) -> ! {
    let report = REPORT_SLOT.load(SeqCst);
    if report != 0 && sel4_sys::ipc_buffer_addr() != 0 {
        let mut words = [0u64; contract::REPORT_WORDS];
        let n = contract::encode_panic(message, &mut words);
        for (i, w) in words[..n].iter().enumerate() {
            sel4_sys::set_mr(i, *w);
        }
        sel4_sys::send(
            report,
            MessageInfo::new(contract::PANIC_LABEL, 0, 0, n as u64),
        );
    }
    stop_thread()
}

/// Suspends the calling thread for good (its own TCB if the layout gave
/// it, else it yields forever: the supervisor stops it on the report).
pub(crate) fn stop_thread() -> ! {
    let tcb = crate::thread::current_tcb().unwrap_or(TCB_SLOT.load(SeqCst));
    loop {
        if tcb != 0 {
            let _ = Cap::<cap_type::TCB>::from_cptr(tcb).tcb_suspend();
        }
        sel4_sys::yield_now();
    }
}

fn fault_now() -> ! {
    // No report capability known yet: an undefined instruction tells the
    // supervisor (a fault of this thread, with its address).
    // SAFETY: an undefined instruction: the thread stops with a user
    // exception fault; no memory or register the program relies on changes.
    unsafe {
        #[cfg(target_arch = "x86_64")]
        core::arch::asm!("ud2", options(nostack, nomem));
        #[cfg(target_arch = "aarch64")]
        core::arch::asm!("udf #0", options(nostack, nomem));
        #[cfg(target_arch = "riscv64")]
        core::arch::asm!("unimp", options(nostack, nomem));
    }
    loop {
        sel4_sys::yield_now();
    }
}

/// Symbol of the reply stub in every process image of this runtime: where
/// the supervisor makes a thread of a faulted server answer the caller
/// whose reply capability it holds (non-MCS kernels keep that capability in
/// the thread's TCB, where only the thread can use it). The supervisor
/// writes the thread's registers for a `Reply` syscall (the syscall number,
/// the message info and up to four message words, no IPC buffer needed),
/// points its instruction pointer here and resumes it: the syscall
/// instruction answers the caller (or does nothing when the thread holds
/// no reply capability) and the undefined instruction after it tells the
/// supervisor the thread is done (a user exception at the address after
/// the syscall). No stack, no memory, no TLS: it works whatever state the
/// faulted thread left behind. Each architecture's stub is in its
/// `arch` module (x86_64 `syscall; ud2`, aarch64 `svc #0; udf #0`,
/// riscv64 `ecall; unimp`).
pub const REPLY_STUB_SYMBOL: &str = "__sel4rs_reply_stub";
/// Symbol of the entry of a process's additional threads.
pub const THREAD_ENTRY_SYMBOL: &str = "__sel4rs_process_thread";

static THREAD_MAIN: crate::sync::SetOnce<ThreadMain> = crate::sync::SetOnce::new();

/// What an additional thread of a process runs: its index (1, 2, ...) and
/// the argument word its creator gave.
pub type ThreadMain = fn(usize, u64);

/// Entry of a process's additional threads (start contract: the first
/// four argument registers hold the start-info page, the thread's index,
/// its IPC buffer and its argument; stack and TLS set by the loader). Runs the `ThreadMain`
/// the process registered with [`__process_entry`]; the thread stops when
/// it returns (a thread without one reports a panic).
#[no_mangle]
extern "C" fn __sel4rs_process_thread(
    _page: usize,
    index: usize,
    ipc_buffer: usize,
    arg: u64,
) -> ! {
    // SAFETY: the start contract: `ipc_buffer` is this thread's, mapped
    // read-write and given to the kernel for its TCB; the thread pointer is
    // set.
    unsafe { sel4_sys::set_ipc_buffer(ipc_buffer) };
    set_reply(index as u64);
    let tcb = thread_info(index).map_or(0, |t| t.tcb_slot);
    // Its own control block (id, held locks), so that the runtime's locks
    // tell it from the other threads.
    crate::thread::adopt_current(tcb);
    match THREAD_MAIN.get() {
        None => panic!("thread {index} started, but the program registered no thread function"),
        Some(f) => f(index, arg),
    }
    stop_thread()
}

/// MCS kernels: names the reply object the loader put in thread
/// `index`'s block (`sel4_component_env::slot::REPLY`) as the one its
/// receives on endpoints use; nothing on other kernels.
fn set_reply(index: u64) {
    sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
        sel4_sys::mcs::set_thread_reply(sel4_component_env::slot::thread(
            index,
            sel4_component_env::slot::REPLY,
        ));
    } else {
        let _ = index;
    } }
}

/// The reply stub's address: each arch module's `global_asm!` defines
/// `__sel4rs_reply_stub` (its syscall instruction, then a trap); naming it
/// here keeps it in the image.
#[cfg(target_os = "none")]
fn reply_stub() -> usize {
    extern "C" {
        fn __sel4rs_reply_stub();
    }
    __sel4rs_reply_stub as *const () as usize
}

/// The process's start (called by a component's entry macro through the
/// start code): sets the runtime up from the start-info page (module
/// documentation), then runs `main` and reports its exit code. `threads`
/// runs the process's additional threads.
#[doc(hidden)]
pub fn __process_entry(
    info: &sel4_start::StartInfo,
    main: fn() -> u64,
    threads: Option<ThreadMain>,
) -> ! {
    #[cfg(target_os = "none")]
    core::hint::black_box(reply_stub());
    core::hint::black_box(__sel4rs_process_thread as *const () as usize);
    if let Some(t) = threads {
        let _ = THREAD_MAIN.set(t);
    }
    if info.kind != sel4_start::Kind::Process || info.relocation < 0 {
        fault_now();
    }
    crate::panic::use_process_panic();
    MODE.store(MODE_PROCESS, SeqCst);
    let page_addr = info.arg;
    PAGE.store(page_addr, SeqCst);
    let Some(page) = start_info() else {
        fault_now()
    };
    let Ok(t0) = contract::thread_from_page(page, 0) else {
        fault_now()
    };
    // SAFETY: the loader gave the kernel this page as thread 0's IPC
    // buffer (start contract), mapped read-write and used by this thread
    // only; the thread pointer (TLS) is set, so the buffer's address can be
    // stored.
    unsafe { sel4_sys::set_ipc_buffer(t0.ipc_buffer as usize) };
    set_reply(0);
    REPORT_SLOT.store(start_info_word(contract::OFF_REPORT_SLOT), SeqCst);
    TCB_SLOT.store(t0.tcb_slot, SeqCst);
    crate::thread::set_initial_thread_pointer(t0.thread_pointer as usize, info.image_start);
    crate::thread::init_initial(t0.tcb_slot);
    crate::thread::initial_tls_base_is_set();
    let cnode = start_info_word(contract::OFF_CNODE_SLOT);
    if cnode != 0 {
        crate::cspace::set_root(cnode);
    }
    let heap_start = start_info_word(contract::OFF_HEAP_START) as usize;
    let heap_size = start_info_word(contract::OFF_HEAP_SIZE) as usize;
    // SAFETY: the loader mapped the heap region read-write for this
    // process alone (start contract); this runs once, before any
    // allocation, on the only thread.
    unsafe { crate::heap::init_region(heap_start, heap_size) };
    let locks = start_info_word(contract::OFF_LOCK_SLOTS);
    if locks != 0 {
        let n = |i: u64| Cap::<cap_type::Notification>::from_cptr(locks + i);
        crate::heap::bind(n(contract::LOCK_HEAP));
        crate::console::bind(n(contract::LOCK_CONSOLE));
        crate::thread::bind_registry(n(contract::LOCK_REGISTRY));
    }
    crate::logger::init(log::LevelFilter::Info);
    let code = main();
    exit(code)
}
