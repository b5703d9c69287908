//! Threads created by the root task in its own address space: the control
//! block the runtime keeps for each, the entry trampoline, the kill
//! protocol, the registry of detached threads, and the panic path of a
//! non-initial thread.
//!
//! The root server (`sel4-rootserver::thread`) creates the TCB, the stack
//! and the IPC buffer; the runtime makes the rest ([`Thread::new`]: the
//! control block, the TLS block from the image's `PT_TLS`, the heap
//! account) and starts and stops the TCB itself ([`Thread::start`],
//! [`Thread::stop`]), so it knows when the thread can no longer run.
//!
//! # Control block
//! Each thread's thread-local word points at its control block (the
//! initial thread's is a static): its id, its heap account, the locks it
//! holds and the one it waits for ([`crate::sync`]), its kill request and
//! its *critical-section* depth. The block lives as long as the thread can
//! run: the thread holds a reference to it, dropped only by
//! [`Thread::stop`] once the TCB is suspended, and the spawner's handle
//! holds another, so dropping the handle never frees what the thread uses.
//!
//! # Ending
//! The trampoline runs the closure and reports the end with a message of
//! label [`EXIT_LABEL`] on the thread's exit endpoint (word 0: one of the
//! `EXIT_*` codes), then suspends itself. A panic goes to the thread's
//! panic callback instead of ending the system, and an allocation refused
//! by the thread's heap limit or for lack of memory ends the thread with
//! [`EXIT_HEAP_LIMIT`] or [`EXIT_OUT_OF_MEMORY`] (the details in
//! [`Thread::exit_failure`]).
//!
//! # Kill protocol
//! Inside the runtime (allocator, console, registry) a thread is in a
//! *critical section*: it may hold a runtime lock, and stopping it there
//! would leave the lock held and the heap half-updated. So:
//! 1. the killer sets the thread's kill request ([`Thread::request_kill`]);
//! 2. if the thread is outside the runtime, it will not enter it any more
//!    (entering checks the request and stops the thread instead); the
//!    killer suspends it ([`Thread::stop`]);
//! 3. if it is inside, it stops itself when it leaves the runtime: it
//!    sends [`EXIT_KILLED`] on its exit endpoint and suspends itself. The
//!    killer waits for that message (blocked in the kernel, so the thread
//!    gets the CPU whatever the priorities), then calls [`Thread::stop`].
//!
//! Both sides use sequentially consistent atomics (request, then look at
//! the depth; enter, then look at the request), so at least one of them
//! sees the other. Runtime critical sections are short, call no user code
//! and do not block except to wait for a runtime lock; before a thread
//! enters one, the runtime touches the stack 4 KiB below the stack
//! pointer, so a stack overflow faults there, outside. A thread suspended
//! by a raw `TCB_Suspend` inside the runtime is the one case a kill waits
//! for (until it is resumed): use `JoinHandle::kill`, not the TCB, to stop
//! framework threads.
//!
//! [`Thread::stop`] then releases what the stopped thread held: every lock
//! on its held list is released and poisoned, and it is withdrawn from the
//! lock it waited for ([`crate::sync`]).
//!
//! # MCS kernels
//! The spawner gives each thread a scheduling context and a reply object
//! ([`Thread::set_scheduling`]); the trampoline records the reply object
//! for the thread's receives (`sel4_sys::mcs::set_thread_reply`), and
//! [`current_sched_context`] and [`current_reply`] name them (the initial
//! thread's: the kernel's initial scheduling context and the reply object
//! the runtime makes before `main`). A thread that is to become a passive
//! server gets the handshake's notification ([`Thread::set_passive`],
//! [`take_passive_handshake`], [`passive_wake`]). The kill protocol and the
//! locks are the same on every kernel: notifications, and the exit report
//! is a send.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;
use core::ptr;
use core::sync::atomic::{
    AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering::SeqCst,
};
use sel4_sys::{cap_type, CPtr, Cap, InvocationError, MessageInfo, UserContext, Word};

use crate::heap::{self, AllocFailure, AllocFailureKind, HeapReport};
use crate::sync::{RawMutex, RuntimeLock};

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
/// Exit word: the thread found no closure to run (it was taken back).
pub const EXIT_NOT_STARTED: Word = 3;
/// Exit word: the thread stopped itself on a kill request, on leaving
/// the runtime.
pub const EXIT_KILLED: Word = 4;
/// Exit word: an allocation exceeded the thread's heap limit.
pub const EXIT_HEAP_LIMIT: Word = 5;
/// Exit word: an allocation found no memory (the heap, less the reserve
/// kept for the threads above this one, was used up).
pub const EXIT_OUT_OF_MEMORY: Word = 6;

/// Bytes of stack below the stack pointer that the runtime touches before
/// it enters a critical section: a stack overflow faults there, before a
/// runtime lock is taken. Runtime critical sections use less than this.
pub const STACK_PROBE: usize = 4032;

type Main = Box<dyn FnOnce() + Send>;
type OnPanic = Box<dyn FnOnce(String) + Send>;

/// The runtime's state of one thread (module documentation).
pub struct Control {
    id: u64,
    /// The TCB the runtime started the thread on, and its exit endpoint.
    tcb: AtomicU64,
    exit_ep: AtomicU64,
    kill_requested: AtomicBool,
    critical: AtomicU32,
    panicking: AtomicBool,
    /// The lock it waits for (an application lock), if any.
    waiting_on: AtomicPtr<RawMutex>,
    /// First of the application locks it holds.
    held: AtomicPtr<RawMutex>,
    /// Heap account (`None`: the initial thread, charged to the root account).
    account: Option<heap::Account>,
    level: u8,
    main: AtomicPtr<Main>,
    on_panic: AtomicPtr<OnPanic>,
    /// The TLS block (owned; the thread reaches it through its thread
    /// pointer only).
    tls: AtomicPtr<u8>,
    tls_len: usize,
    thread_pointer: usize,
    state: AtomicU8,
    /// Why an allocation failure ended the thread.
    exit_failure: crate::sync::SetOnce<AllocFailure>,
    /// MCS kernels: the thread's reply object and scheduling context (0:
    /// none), and the notification of the passive-server handshake (0:
    /// not to become passive; see [`take_passive_handshake`]).
    reply: AtomicU64,
    sched_context: AtomicU64,
    passive_go: AtomicU64,
    passive_wake: AtomicU64,
}

const STATE_NEW: u8 = 0;
const STATE_STARTED: u8 = 1;
const STATE_STOPPED: u8 = 2;

// Per-thread word in the image's TLS template: the control block's address
// (0 on the initial thread, whose block is `INITIAL`).
core::arch::global_asm!(
    ".section .tbss,\"awT\",%nobits",
    ".p2align 3",
    ".globl __sel4rs_thread_control",
    ".type __sel4rs_thread_control,%object",
    ".size __sel4rs_thread_control,8",
    "__sel4rs_thread_control:",
    ".zero 8",
    ".text",
);

// Both through the architecture's local-exec TLS access of sel4-sys: every
// thread has its static TLS block (the start code's for the initial
// thread, the runtime's for the others) and its thread pointer before any
// Rust code runs on it.
fn control_word() -> usize {
    sel4_sys::__tls_read_word!("__sel4rs_thread_control", "0") as usize
}

fn set_control_word(v: usize) {
    sel4_sys::__tls_write_word!("__sel4rs_thread_control", "0", v as Word);
}

/// The initial thread's control block: all zeros (`.bss`, not 176 bytes of
/// `.data` in every image); the program's entry sets its non-zero fields
/// first thing ([`init_initial`]).
static INITIAL: Control = Control::zeroed();
static NEXT_ID: AtomicU64 = AtomicU64::new(1);
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// The calling thread's control block.
pub(crate) fn current() -> &'static Control {
    match control_word() {
        0 => &INITIAL,
        // SAFETY: a non-zero word is the address the trampoline stored: the
        // thread's control block, which lives while the thread can run
        // (the thread's own reference is dropped only once it is stopped).
        p => unsafe { &*(p as *const Control) },
    }
}

/// Id of the calling thread: 0 for the initial thread.
pub fn current_id() -> u64 {
    current().id
}

/// The initial thread's scheduling context: the kernel's initial
/// capability (MCS kernels), none (0) on the others.
const INITIAL_SCHED_CONTEXT: u64 = sel4_sys::sel4_cfg_if! {
    kernel >= 11 && config KERNEL_MCS {
        sel4_sys::init_caps::CapInitThreadSC as u64
    } else {
        0
    }
};

#[allow(dead_code)] // MCS kernels only
pub(crate) fn set_initial_reply(reply: CPtr) {
    INITIAL.reply.store(reply, SeqCst);
}

pub use crate::bootinfo::sched_control;

/// The calling thread's own scheduling context (MCS kernels): the kernel's
/// initial one for the initial thread, the one its spawner gave it
/// ([`Thread::set_scheduling`]) for the others. `None` on other kernels.
pub fn current_sched_context() -> Option<CPtr> {
    Some(current().sched_context.load(SeqCst)).filter(|&c| c != 0)
}

/// The calling thread's reply object (MCS kernels; the one sel4-sys's
/// receives use), `None` on other kernels.
pub fn current_reply() -> Option<CPtr> {
    Some(current().reply.load(SeqCst)).filter(|&c| c != 0)
}

/// MCS kernels: the notification the calling thread's scheduling context
/// is bound to while the thread is a passive server (its spawner signals
/// it when it joins the thread, which gives the thread that scheduling
/// context back), `None` for other threads.
pub fn passive_wake() -> Option<CPtr> {
    Some(current().passive_wake.load(SeqCst)).filter(|&c| c != 0)
}

/// Takes the calling thread's passive-server handshake, once: the
/// notification to wait on before the thread's first receive as a server
/// and the endpoint to report on (its exit endpoint), if its spawner asked
/// for the thread to become passive ([`Thread::set_passive`]).
pub fn take_passive_handshake() -> Option<(CPtr, CPtr)> {
    let ctl = current();
    if ctl.passive_go.load(core::sync::atomic::Ordering::Relaxed) == 0 {
        return None;
    }
    match ctl.passive_go.swap(0, SeqCst) {
        0 => None,
        go => Some((go, ctl.exit_ep.load(SeqCst))),
    }
}

/// Label of the message a thread that is to become passive sends on its
/// event endpoint when it is ready (initialised, about to receive); the
/// spawner (`sel4_rootserver::thread`) waits for it.
pub const PASSIVE_READY_LABEL: u64 = 0xE_C0DF;

/// The server's side of `sel4_rootserver::thread::ThreadBuilder::passive`, at its first receive
/// on `ep`: if the thread is to become passive, waits for the spawner's
/// signal, then reports ready on its event endpoint and receives in one
/// system call (MCS: `NBSendRecv` with the reply object `reply`), so that
/// it is blocked in the receive before its spawner takes its scheduling
/// context; otherwise `None` (receive as usual). `mark` turns a message
/// info into the one passed to the receive (see `crate::ipc`);
/// returns it with what the kernel returned.
#[inline]
pub(crate) fn passive_first_receive(
    ep: CPtr,
    mark: impl Fn(sel4_sys::MessageInfo) -> sel4_sys::MessageInfo,
    reply: CPtr,
) -> Option<(sel4_sys::MessageInfo, sel4_sys::Received)> {
    let (go, events) = take_passive_handshake()?;
    sel4_sys::wait(go);
    let ready = sel4_sys::MessageInfo::new(PASSIVE_READY_LABEL, 0, 0, 0);
    let none = [0; sel4_sys::REGISTER_MRS];
    sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
        // The message-info register carries the ready message in and,
        // when a bound notification wakes the receive, back out.
        let sent = mark(ready);
        Some((sent, sel4_sys::mcs::nb_send_recv_regs(events, sent, none, ep, reply)))
    } else {
        let _ = reply;
        sel4_sys::send_regs(events, ready, none);
        let sent = mark(sel4_sys::MessageInfo::new(0, 0, 0, 0));
        Some((sent, sel4_sys::recv_with_info(ep, sent)))
    } }
}

/// Number of threads started and not yet stopped.
pub fn live_threads() -> usize {
    LIVE.load(SeqCst)
}

/// A critical section of the calling thread (module documentation): while
/// one is open, the thread is not stopped by a kill.
pub(crate) struct Critical<'a> {
    ctl: &'a Control,
}

/// Reads the stack [`STACK_PROBE`] bytes below the stack pointer (a stack
/// overflow faults here, in the guard page).
#[inline(always)]
fn probe_stack() {
    crate::arch::probe_stack::<STACK_PROBE>();
}

impl Control {
    const fn zeroed() -> Control {
        Control {
            id: 0,
            tcb: AtomicU64::new(0),
            exit_ep: AtomicU64::new(0),
            kill_requested: AtomicBool::new(false),
            critical: AtomicU32::new(0),
            panicking: AtomicBool::new(false),
            waiting_on: AtomicPtr::new(ptr::null_mut()),
            held: AtomicPtr::new(ptr::null_mut()),
            account: None,
            level: 0,
            main: AtomicPtr::new(ptr::null_mut()),
            on_panic: AtomicPtr::new(ptr::null_mut()),
            tls: AtomicPtr::new(ptr::null_mut()),
            tls_len: 0,
            thread_pointer: 0,
            state: AtomicU8::new(STATE_NEW),
            exit_failure: crate::sync::SetOnce::new(),
            reply: AtomicU64::new(0),
            sched_context: AtomicU64::new(0),
            passive_go: AtomicU64::new(0),
            passive_wake: AtomicU64::new(0),
        }
    }

    /// Marks the block as that of a thread already running on `tcb` with
    /// the initial scheduling context: the initial thread's, and a thread
    /// a loader started ([`adopt_current`]).
    fn start_on(&self, tcb: CPtr) {
        self.tcb.store(tcb, SeqCst);
        self.state.store(STATE_STARTED, SeqCst);
        self.sched_context.store(INITIAL_SCHED_CONTEXT, SeqCst);
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    pub(crate) fn account(&self) -> Option<&heap::Account> {
        self.account.as_ref()
    }

    pub(crate) fn panicking(&self) -> bool {
        self.panicking.load(SeqCst)
    }

    /// Enters a critical section; stops the thread instead when it has a
    /// kill request and was outside.
    pub(crate) fn enter(&self) -> Critical<'_> {
        probe_stack();
        let prev = self.critical.fetch_add(1, SeqCst);
        if prev == 0 && self.kill_requested.load(SeqCst) {
            self.critical.fetch_sub(1, SeqCst);
            self.stop_killed();
        }
        Critical { ctl: self }
    }

    fn stop_killed(&self) -> ! {
        finish(self, EXIT_KILLED)
    }

    /// Records the application lock the thread waits for (its word is in
    /// an `Arc`: the record keeps a count on it), or none.
    pub(crate) fn set_waiting_on(&self, m: *const RawMutex) {
        if !m.is_null() {
            // SAFETY: application lock words live in an `Arc` (sync::Mutex),
            // alive here (the caller borrows it).
            unsafe { Arc::increment_strong_count(m) };
        }
        let old = self.waiting_on.swap(m as *mut RawMutex, SeqCst);
        if !old.is_null() {
            // SAFETY: the count taken when `old` was recorded.
            unsafe { Arc::decrement_strong_count(old as *const RawMutex) };
        }
    }

    /// Puts an application lock (its word in an `Arc`) on the thread's
    /// held list, with a count on it.
    pub(crate) fn push_held(&self, m: &RawMutex) {
        // SAFETY: as in `set_waiting_on`.
        unsafe { Arc::increment_strong_count(m as *const RawMutex) };
        m.set_next_held(self.held.load(SeqCst));
        self.held
            .store(m as *const RawMutex as *mut RawMutex, SeqCst);
    }

    /// Unlinks `m` from the held list; whether it was on it (the caller
    /// then gives up the list's count).
    pub(crate) fn remove_held(&self, m: &RawMutex) -> bool {
        let target = m as *const RawMutex as *mut RawMutex;
        let mut cur = self.held.load(SeqCst);
        if cur == target {
            self.held.store(m.next_held(), SeqCst);
            m.set_next_held(ptr::null_mut());
            return true;
        }
        while !cur.is_null() {
            // SAFETY: every entry of the list is a lock word the list holds
            // a count on, so it is alive.
            let c = unsafe { &*cur };
            let next = c.next_held();
            if next == target {
                c.set_next_held(m.next_held());
                m.set_next_held(ptr::null_mut());
                return true;
            }
            cur = next;
        }
        false
    }

    /// Releases (poisoned) the locks of a thread that no longer runs, and
    /// withdraws it from the lock it waited for; returns how many it held.
    fn release_locks(&self) -> usize {
        let w = self.waiting_on.swap(ptr::null_mut(), SeqCst);
        if !w.is_null() {
            // SAFETY: the lock word the thread waited for; the record holds
            // a count on its `Arc`, given up here.
            unsafe {
                (*w).release_after_death(false);
                Arc::decrement_strong_count(w as *const RawMutex);
            }
        }
        let mut n = 0;
        let mut cur = self.held.swap(ptr::null_mut(), SeqCst);
        while !cur.is_null() {
            // SAFETY: as above, for the locks the thread held (the list
            // holds a count on each).
            unsafe {
                let m = &*cur;
                cur = m.next_held();
                m.release_after_death(true);
                Arc::decrement_strong_count(m as *const RawMutex);
            }
            n += 1;
        }
        n
    }

    fn take_main(&self) -> Option<Main> {
        let p = self.main.swap(ptr::null_mut(), SeqCst);
        // SAFETY: a non-null pointer came from `Box::into_raw` in
        // `Thread::new` and the swap hands it to one caller only.
        (!p.is_null()).then(|| *unsafe { Box::from_raw(p) })
    }

    fn take_on_panic(&self) -> Option<OnPanic> {
        let p = self.on_panic.swap(ptr::null_mut(), SeqCst);
        // SAFETY: as in `take_main`.
        (!p.is_null()).then(|| *unsafe { Box::from_raw(p) })
    }
}

impl Drop for Critical<'_> {
    fn drop(&mut self) {
        if self.ctl.critical.fetch_sub(1, SeqCst) == 1 && self.ctl.kill_requested.load(SeqCst) {
            self.ctl.stop_killed();
        }
    }
}

impl Drop for Control {
    fn drop(&mut self) {
        drop(self.take_main());
        drop(self.take_on_panic());
        let tls = self.tls.swap(ptr::null_mut(), SeqCst);
        if !tls.is_null() {
            // SAFETY: `Thread::new` made this pointer with `Box::into_raw`
            // of a boxed slice of `tls_len` bytes; the thread that used it
            // is stopped (the control block is dropped only then).
            drop(unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(tls, self.tls_len)) });
        }
    }
}

/// Reports the end on the exit endpoint and suspends the thread. Only
/// syscalls after the send: the joiner may delete the thread's memory as
/// soon as it has the message.
fn finish(ctl: &Control, status: Word) -> ! {
    let tcb = Cap::<cap_type::TCB>::from_cptr(ctl.tcb.load(SeqCst));
    let exit_ep = ctl.exit_ep.load(SeqCst);
    let info = MessageInfo::new(EXIT_LABEL, 0, 0, 1);
    sel4_sys::send_regs(exit_ep, info, [status, 0, 0, 0]);
    loop {
        // No words and no capabilities: registers only, no IPC buffer.
        let _ = tcb.tcb_suspend();
        sel4_sys::yield_now();
    }
}

/// What a new thread runs, and where its panic message goes.
pub struct ThreadSpec {
    /// The closure the thread runs.
    pub main: Box<dyn FnOnce() + Send>,
    /// Called with the panic message when `main` panics.
    pub on_panic: Box<dyn FnOnce(String) + Send>,
    /// Most bytes of heap the thread may hold at once.
    pub heap_limit: usize,
}

/// Why [`Thread::new`] or [`Thread::start`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadError {
    /// The image's TLS segment cannot be laid out.
    Tls(sel4_elf_reloc::Error),
    /// No heap for the thread's control block or account.
    NoHeap,
    /// The thread was started already.
    AlreadyStarted,
    /// A TCB invocation failed.
    Kernel {
        /// The set-up step that failed (names the invocation).
        step: &'static str,
        /// What the kernel returned.
        error: InvocationError,
    },
}

/// How a kill goes on ([`Thread::request_kill`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillProgress {
    /// The thread is outside the runtime and will not enter it: stop it
    /// now ([`Thread::stop`]).
    StopNow,
    /// The thread is inside the runtime: wait for its exit message
    /// ([`EXIT_KILLED`], or another end if it ended meanwhile), then stop
    /// it.
    WaitForExit,
}

/// What [`Thread::stop`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped {
    /// Application locks the thread held (released, poisoned).
    pub locks_released: usize,
}

/// The spawner's handle to the runtime side of a thread.
pub struct Thread {
    ctl: Arc<Control>,
}

impl Thread {
    /// A control block, TLS block and heap account for a new thread (not
    /// started). Its heap reserve level is one below the caller's.
    pub fn new(spec: ThreadSpec) -> Result<Thread, ThreadError> {
        crate::panic::use_thread_panic();
        let tls = tls_image().map_err(ThreadError::Tls)?;
        let mut area = alloc::vec![0u8; tls.area_size()].into_boxed_slice();
        let tp = tls.init_block(&mut area).map_err(ThreadError::Tls)?;
        let tls_len = area.len();
        let level = current().level.saturating_add(1);
        let account = heap::Account::new(spec.heap_limit, level).ok_or(ThreadError::NoHeap)?;
        let id = NEXT_ID.fetch_add(1, SeqCst);
        account.set_owner(id);
        let main = Box::into_raw(Box::new(spec.main));
        let on_panic = Box::into_raw(Box::new(spec.on_panic));
        let ctl = Control {
            id,
            tcb: AtomicU64::new(0),
            exit_ep: AtomicU64::new(0),
            kill_requested: AtomicBool::new(false),
            critical: AtomicU32::new(0),
            panicking: AtomicBool::new(false),
            waiting_on: AtomicPtr::new(ptr::null_mut()),
            held: AtomicPtr::new(ptr::null_mut()),
            account: Some(account),
            level,
            main: AtomicPtr::new(main),
            on_panic: AtomicPtr::new(on_panic),
            tls: AtomicPtr::new(Box::into_raw(area) as *mut u8),
            tls_len,
            thread_pointer: tp,
            state: AtomicU8::new(STATE_NEW),
            exit_failure: crate::sync::SetOnce::new(),
            reply: AtomicU64::new(0),
            sched_context: AtomicU64::new(0),
            passive_go: AtomicU64::new(0),
            passive_wake: AtomicU64::new(0),
        };
        Ok(Thread { ctl: Arc::new(ctl) })
    }

    /// The thread's id (never 0: 0 is the initial thread).
    pub fn id(&self) -> u64 {
        self.ctl.id
    }

    /// The thread pointer of its TLS block.
    pub fn thread_pointer(&self) -> usize {
        self.ctl.thread_pointer
    }

    /// MCS kernels, before [`Thread::start`]: the thread's reply object
    /// (its receives on endpoints name it: `sel4_sys::mcs::thread_reply`)
    /// and its scheduling context (bound to the TCB by the spawner), both
    /// capabilities in the root task's CSpace that the spawner keeps until
    /// the thread is stopped.
    pub fn set_scheduling(&self, reply: CPtr, sched_context: CPtr) {
        self.ctl.reply.store(reply, SeqCst);
        self.ctl.sched_context.store(sched_context, SeqCst);
    }

    /// Before [`Thread::start`]: the thread is to become a passive server.
    /// Its first receive as a server (`sel4_rootserver::ipc::Server`)
    /// waits on `go` first, then reports on its exit endpoint and receives
    /// in one system call, so that its spawner can take its scheduling
    /// context away once it blocks (see `sel4_rootserver::thread`). MCS
    /// kernels: `wake` (or 0) is the notification its scheduling context
    /// is bound to from then on ([`passive_wake`]).
    pub fn set_passive(&self, go: CPtr, wake: CPtr) {
        self.ctl.passive_go.store(go, SeqCst);
        self.ctl.passive_wake.store(wake, SeqCst);
    }

    /// Starts the thread on `tcb` (set up already: CSpace, VSpace, IPC
    /// buffer `ipc_buffer`, priority, fault endpoint) with its stack below
    /// `stack_top`; its end is reported on `exit_ep`. Writes the registers
    /// (the trampoline, the stack, the TLS base) and resumes the TCB.
    pub fn start(
        &self,
        tcb: Cap<cap_type::TCB>,
        exit_ep: CPtr,
        stack_top: usize,
        ipc_buffer: usize,
    ) -> Result<(), ThreadError> {
        if self
            .ctl
            .state
            .compare_exchange(STATE_NEW, STATE_STARTED, SeqCst, SeqCst)
            .is_err()
        {
            return Err(ThreadError::AlreadyStarted);
        }
        self.ctl.tcb.store(tcb.cptr(), SeqCst);
        self.ctl.exit_ep.store(exit_ep, SeqCst);
        // The thread's own reference to its control block, dropped by
        // `stop` once it no longer runs.
        let own = Arc::into_raw(self.ctl.clone());
        let tp = self.ctl.thread_pointer as Word;
        // The trampoline with its three arguments, the stack, the TLS base
        // (per architecture: registers and stack alignment of its C ABI).
        let ctx = crate::arch::entry_context(
            thread_entry as *const () as usize,
            stack_top,
            [own as usize as Word, tp, ipc_buffer as Word],
            tp,
        );
        let step = |step: &'static str| move |error| ThreadError::Kernel { step, error };
        let r = (|| {
            tcb.tcb_write_registers(false, 0, UserContext::WORDS as Word, &ctx)
                .map_err(step("TCB_WriteRegisters"))?;
            sel4_sys::sel4_cfg_if! {
                kernel >= 10 && label TCBSetTLSBase {
                    tcb.tcb_set_tls_base(tp).map_err(step("TCB_SetTLSBase"))?;
                }
            }
            tcb.tcb_resume().map_err(step("TCB_Resume"))
        })();
        match r {
            Ok(()) => {
                LIVE.fetch_add(1, SeqCst);
                Ok(())
            }
            Err(e) => {
                // Not running: take the thread's reference back.
                let _ = tcb.tcb_suspend();
                // SAFETY: `own` came from `Arc::into_raw` above and the
                // thread never started, so nothing else uses it.
                drop(unsafe { Arc::from_raw(own) });
                self.ctl.state.store(STATE_STOPPED, SeqCst);
                Err(e)
            }
        }
    }

    /// Asks the thread to stop (module documentation: kill protocol).
    pub fn request_kill(&self) -> KillProgress {
        self.ctl.kill_requested.store(true, SeqCst);
        if self.ctl.critical.load(SeqCst) == 0 {
            KillProgress::StopNow
        } else {
            KillProgress::WaitForExit
        }
    }

    /// Whether the thread is inside the runtime right now (allocator,
    /// console, registry).
    pub fn in_runtime(&self) -> bool {
        self.ctl.critical.load(SeqCst) > 0
    }

    /// Suspends the thread's TCB, then releases what it held (module
    /// documentation). Call it once the thread has ended or after
    /// [`Thread::request_kill`] said so. Idempotent.
    pub fn stop(&self) -> Result<Stopped, ThreadError> {
        match self.ctl.state.load(SeqCst) {
            STATE_NEW => {
                self.ctl.state.store(STATE_STOPPED, SeqCst);
                return Ok(Stopped { locks_released: 0 });
            }
            STATE_STOPPED => return Ok(Stopped { locks_released: 0 }),
            _ => {}
        }
        let tcb = Cap::<cap_type::TCB>::from_cptr(self.ctl.tcb.load(SeqCst));
        tcb.tcb_suspend().map_err(|error| ThreadError::Kernel {
            step: "TCB_Suspend",
            error,
        })?;
        if self
            .ctl
            .state
            .compare_exchange(STATE_STARTED, STATE_STOPPED, SeqCst, SeqCst)
            .is_err()
        {
            return Ok(Stopped { locks_released: 0 });
        }
        LIVE.fetch_sub(1, SeqCst);
        let locks_released = self.ctl.release_locks();
        // The thread does not run any more: drop its own reference.
        // SAFETY: `start` leaked exactly one reference for the thread (the
        // state moved from STARTED to STOPPED once, here).
        drop(unsafe { Arc::from_raw(Arc::as_ptr(&self.ctl)) });
        Ok(Stopped { locks_released })
    }

    /// The thread's heap account: bytes it allocated that are still
    /// allocated (whoever holds them now), its peak, live blocks.
    pub fn heap(&self) -> HeapReport {
        self.ctl
            .account
            .as_ref()
            .map(heap::Account::report)
            .unwrap_or_default()
    }

    /// The allocation failure that ended the thread ([`EXIT_HEAP_LIMIT`],
    /// [`EXIT_OUT_OF_MEMORY`]).
    pub fn exit_failure(&self) -> Option<AllocFailure> {
        self.ctl.exit_failure.get().copied()
    }
}

impl Drop for Thread {
    fn drop(&mut self) {
        // A thread that never started will not: its closures go now (the
        // control block's Drop does it when the last reference goes).
        if self.ctl.state.load(SeqCst) == STATE_NEW {
            self.ctl.state.store(STATE_STOPPED, SeqCst);
        }
    }
}

extern "C" fn thread_entry(ctl: *const Control, thread_pointer: usize, ipc_buffer: usize) -> ! {
    // SAFETY: the runtime laid out this thread's TLS block at
    // `thread_pointer` (sel4_elf_reloc's layout, the architecture's variant) and
    // gave the kernel the same TLS base.
    unsafe { crate::arch::load_own_thread_pointer(thread_pointer) };
    // SAFETY: `ipc_buffer` is the buffer the spawner gave the kernel for
    // this TCB, mapped read-write and used by this thread only.
    unsafe { sel4_sys::set_ipc_buffer(ipc_buffer) };
    set_control_word(ctl as usize);
    let ctl = current();
    sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
        sel4_sys::mcs::set_thread_reply(ctl.reply.load(SeqCst));
    } }
    let status = match ctl.take_main() {
        Some(main) => {
            main();
            EXIT_RETURNED
        }
        None => EXIT_NOT_STARTED,
    };
    // Drop the panic callback (it may own heap memory) before reporting;
    // locks still held (a guard forgotten) are released, poisoned.
    drop(ctl.take_on_panic());
    ctl.release_locks();
    finish(ctl, status)
}

/// A fixed buffer that formats without the heap (for the panic path).
struct StackText<const N: usize> {
    buf: [u8; N],
    len: usize,
    overflow: bool,
}

impl<const N: usize> core::fmt::Write for StackText<N> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let b = s.as_bytes();
        if self.len + b.len() > N {
            self.overflow = true;
            return Err(core::fmt::Error);
        }
        self.buf[self.len..self.len + b.len()].copy_from_slice(b);
        self.len += b.len();
        Ok(())
    }
}

/// Whether a panic's message is the one of the alloc crate's error
/// handler for an allocation of `size` bytes.
fn is_alloc_failure_message(info: &core::panic::PanicInfo<'_>, size: usize) -> bool {
    use core::fmt::Write;
    let mut got = StackText::<96> {
        buf: [0; 96],
        len: 0,
        overflow: false,
    };
    let mut want = StackText::<96> {
        buf: [0; 96],
        len: 0,
        overflow: false,
    };
    let _ = write!(got, "{}", info.message());
    let _ = write!(want, "memory allocation of {size} bytes failed");
    !got.overflow && !want.overflow && got.buf[..got.len] == want.buf[..want.len]
}

/// The panic path of a non-initial thread: hands the message to the
/// thread's callback and ends the thread. Returns only on the initial
/// thread (id 0), whose panics end the system.
pub(crate) fn on_panic(info: &core::panic::PanicInfo<'_>) {
    let ctl = current();
    if ctl.id == 0 {
        return;
    }
    if ctl.panicking.swap(true, SeqCst) {
        ctl.release_locks();
        finish(ctl, EXIT_DOUBLE_PANIC);
    }
    // An allocation the heap refused, reported by the alloc crate's error
    // handler: a typed end.
    let failure = ctl.account.as_ref().and_then(heap::Account::last_failure);
    if let Some(f) = failure.filter(|f| is_alloc_failure_message(info, f.requested)) {
        let _ = ctl.exit_failure.set(f);
        crate::println!("thread {}: {f}", ctl.id);
        ctl.release_locks();
        let status = match f.kind {
            AllocFailureKind::Limit => EXIT_HEAP_LIMIT,
            AllocFailureKind::OutOfMemory => EXIT_OUT_OF_MEMORY,
        };
        finish(ctl, status);
    }
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
    crate::println!("thread {} panicked: {message}", ctl.id);
    if let Some(cb) = ctl.take_on_panic() {
        cb(message);
    }
    ctl.release_locks();
    finish(ctl, EXIT_PANICKED)
}

// ---------------------------------------------------------------------
// Registry of detached threads

/// One detached thread: what its spawner keeps of it until it ends.
struct DetachedNode {
    key: u64,
    remains: Box<dyn Any + Send>,
    next: Option<Box<DetachedNode>>,
}

static REGISTRY: RuntimeLock<Option<Box<DetachedNode>>> = RuntimeLock::new(None);

/// Binds the registry's lock to its notification (runtime start).
pub(crate) fn bind_registry(ntfn: Cap<cap_type::Notification>) -> bool {
    REGISTRY.bind(ntfn)
}

/// Keeps what a detached thread uses (`remains`, owned by the spawner's
/// allocator instance `key`) until [`take_detached`] hands it back.
pub fn detach(key: u64, remains: Box<dyn Any + Send>) {
    // Allocated before the lock: inside it only pointers move.
    let mut node = Box::new(DetachedNode {
        key,
        remains,
        next: None,
    });
    if let Ok(mut head) = REGISTRY.lock() {
        node.next = head.take();
        *head = Some(node);
        return;
    }
    // Cannot happen (the registry is only taken here and below, never
    // re-entered): keep the remains alive for good rather than free
    // memory a thread may use.
    core::mem::forget(node);
}

/// Takes back every detached thread of the allocator instance `key`.
pub fn take_detached(key: u64) -> Vec<Box<dyn Any + Send>> {
    let mut mine: Option<Box<DetachedNode>> = None;
    if let Ok(mut head) = REGISTRY.lock() {
        let mut rest: Option<Box<DetachedNode>> = None;
        let mut cur = head.take();
        while let Some(mut n) = cur {
            cur = n.next.take();
            if n.key == key {
                n.next = mine.take();
                mine = Some(n);
            } else {
                n.next = rest.take();
                rest = Some(n);
            }
        }
        *head = rest;
    }
    let mut out = Vec::new();
    while let Some(mut n) = mine {
        mine = n.next.take();
        out.push(n.remains);
    }
    out
}

/// Number of detached threads not yet taken back.
pub fn detached_count() -> usize {
    let mut n = 0;
    if let Ok(head) = REGISTRY.lock() {
        let mut cur = head.as_ref();
        while let Some(node) = cur {
            n += 1;
            cur = node.next.as_ref();
        }
    }
    n
}

// ---------------------------------------------------------------------
// The image's TLS template and the initial thread's TLS base on seL4 5.x

static INITIAL_TP: AtomicUsize = AtomicUsize::new(0);
static IMAGE_START: AtomicUsize = AtomicUsize::new(0);

/// Records the initial thread's thread pointer and the image's load address
/// (called by the runtime's entry).
pub(crate) fn set_initial_thread_pointer(tp: usize, image_start: usize) {
    INITIAL_TP.store(tp, SeqCst);
    IMAGE_START.store(image_start, SeqCst);
}

/// Records the image's load address before anything reads the image's
/// headers (the root task's entry, which lays out its TLS from them).
pub(crate) fn record_image_start(image_start: usize) {
    IMAGE_START.store(image_start, SeqCst);
}

/// Sets the initial thread's control block up: its TCB in this program's
/// CSpace (a process's own, from its start-info page; a root task's is the
/// kernel's initial slot), started, with the initial scheduling context.
/// The program's entry calls it before anything reads the block.
pub(crate) fn init_initial(tcb: CPtr) {
    INITIAL.start_on(tcb);
}

/// Gives the calling thread, which a loader started (a process's
/// additional thread), a control block of its own: a fresh id (so that the
/// runtime's locks tell it from the others), no heap limit (charged to the
/// process's account), `tcb` its TCB in the process's CSpace. It lives as
/// long as the process.
pub(crate) fn adopt_current(tcb: CPtr) {
    crate::panic::use_thread_panic();
    let mut ctl = Control::zeroed();
    ctl.id = NEXT_ID.fetch_add(1, SeqCst);
    ctl.start_on(tcb);
    let ctl: &'static Control = Box::leak(Box::new(ctl));
    LIVE.fetch_add(1, SeqCst);
    set_control_word(ctl as *const Control as usize);
}

/// Marks the calling thread as panicking; whether it was already.
pub(crate) fn current_panicking() -> bool {
    current().panicking.swap(true, SeqCst)
}

/// The calling thread's TCB, if the runtime knows it.
pub(crate) fn current_tcb() -> Option<CPtr> {
    Some(current().tcb.load(SeqCst)).filter(|&t| t != 0)
}

/// A process's initial thread got its TLS base from its loader (in its
/// saved context on every kernel): no fix is needed.
pub(crate) fn initial_tls_base_is_set() {
    #[cfg(target_arch = "x86_64")]
    crate::arch::initial_tls::mark_done();
}

/// Address the image's ELF header (its first page) was loaded at: the
/// first page that bootinfo's `userImageFrames` capabilities cover.
pub fn image_start() -> usize {
    IMAGE_START.load(SeqCst)
}

static OWN_IMAGE: crate::sync::SetOnce<Option<crate::own_image::OwnImage>> =
    crate::sync::SetOnce::new();

/// This image's headers (read at start from `image_start`; `None` if they
/// do not parse).
pub(crate) fn own_image() -> Option<crate::own_image::OwnImage> {
    OWN_IMAGE.get_or_set(|| {
        // SAFETY: `image_start` is the loaded ELF header of this image
        // (recorded by the runtime's entry from the start code's
        // `__ehdr_start`); it and the program headers are in the
        // image's first loadable segment, mapped and never written
        // after relocation, for the program's life.
        unsafe { crate::own_image::read(image_start()) }.ok()
    })
}

/// The image's TLS template, to lay out TLS blocks for new threads.
pub fn tls_image() -> Result<crate::own_image::ImageTls, sel4_elf_reloc::Error> {
    own_image()
        .ok_or(sel4_elf_reloc::Error::NoLoadSegments)?
        .tls()
}

/// The initial thread's thread pointer (recorded by the start code; the
/// TLS base fix of seL4 5.x on x86_64 needs it).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) fn initial_thread_pointer() -> usize {
    INITIAL_TP.load(SeqCst)
}

/// Why the initial thread's TLS base could not be set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsFixError {
    /// [`wait_for_initial_tls_fix`] was called on another thread.
    NotInitialThread,
    /// The initial thread is not waiting in [`wait_for_initial_tls_fix`]
    /// (or is not blocked there yet).
    NotWaiting,
    /// Another wait or fix is under way.
    Busy,
    /// TCB_ReadRegisters or TCB_WriteRegisters failed.
    Kernel(InvocationError),
}

/// Whether the kernel must still be told the initial thread's TLS base
/// before a second thread runs (seL4 5.x on x86_64 only; see there), and
/// how: the initial thread waits in [`wait_for_initial_tls_fix`] while a
/// helper thread calls [`fix_initial_tls_base`].
#[cfg(target_arch = "x86_64")]
pub use crate::arch::initial_tls::{
    fix_initial_tls_base, initial_tls_base_needs_fix, initial_tls_fix_cycles,
    wait_for_initial_tls_fix,
};
#[cfg(not(target_arch = "x86_64"))]
pub use kept_tls::{
    fix_initial_tls_base, initial_tls_base_needs_fix, initial_tls_fix_cycles,
    wait_for_initial_tls_fix,
};

/// aarch64 and riscv64: the kernel saves the TLS register (`tpidr_el0`,
/// `tp`) on every kernel entry, so the initial thread's own write holds
/// and there is nothing to fix; the functions behave as on x86_64 kernels
/// that need no fix.
#[cfg(not(target_arch = "x86_64"))]
mod kept_tls {
    use super::TlsFixError;
    use sel4_sys::{cap_type, Cap};

    /// Never: the kernel keeps the initial thread's TLS base.
    pub fn initial_tls_base_needs_fix() -> bool {
        false
    }

    /// None: no fix is made at start.
    pub fn initial_tls_fix_cycles() -> Option<u64> {
        None
    }

    /// On the initial thread: returns at once (no fix is needed).
    pub fn wait_for_initial_tls_fix(ntfn: Cap<cap_type::Notification>) -> Result<(), TlsFixError> {
        let _ = ntfn;
        if super::current_id() != 0 {
            return Err(TlsFixError::NotInitialThread);
        }
        Ok(())
    }

    /// Refuses (no wait is under way) and signals `ntfn`, so that a wait
    /// that comes later returns at once.
    pub fn fix_initial_tls_base(ntfn: Cap<cap_type::Notification>) -> Result<(), TlsFixError> {
        ntfn.signal();
        Err(TlsFixError::NotWaiting)
    }
}

/// Deliberate faults, for tests of fault handling. Each one stops the
/// calling thread with a fault message to its fault endpoint; none of them
/// touches memory the program uses. Only with the runtime's `test-support`
/// feature (tests of fault handling enable it; a root task does not need
/// it).
#[cfg(feature = "test-support")]
pub mod provoke {
    /// Addresses the runtime and the framework never map: below the image
    /// (linked at 4 MiB). Only a raw capability operation could map
    /// something there.
    pub fn never_mapped() -> core::ops::Range<usize> {
        0..core::cmp::min(super::image_start(), 0x40_0000)
    }

    fn check(addr: usize) {
        let r = never_mapped();
        assert!(
            r.contains(&addr),
            "provoke: {addr:#x} is not in the range the runtime keeps unmapped ({r:x?})"
        );
    }

    /// Reads the word at `addr`, which must lie in [`never_mapped`] (a
    /// panic otherwise): a VM fault on a data read.
    pub fn read_unmapped(addr: usize) -> u64 {
        check(addr);
        crate::arch::provoke::read(addr)
    }

    /// Writes a word at `addr`, which must lie in [`never_mapped`]: a VM
    /// fault on a data write.
    pub fn write_unmapped(addr: usize) {
        check(addr);
        crate::arch::provoke::write(addr)
    }

    /// Jumps to `addr`, which must lie in [`never_mapped`]: a VM fault on
    /// an instruction fetch.
    pub fn execute_unmapped(addr: usize) {
        check(addr);
        crate::arch::provoke::execute(addr)
    }

    /// Which part of the image [`write_image`] writes to.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum ImagePart {
        /// A function's code.
        Text,
        /// A constant (`.rodata`).
        ReadOnlyData,
        /// A pointer that the start code relocated (RELRO, `.data.rel.ro`).
        Relro,
    }

    static RODATA_PROBE: [u64; 2] = [0x5e14_2020_0000_0001, 2];
    static RELRO_PROBE: &[u64; 2] = &RODATA_PROBE;
    /// A function's address, read from one place (function pointers to
    /// the same function may differ between codegen units).
    static TEXT_PROBE: fn(ImagePart) -> usize = image_address;

    /// The address [`write_image`] writes to for `part`.
    pub fn image_address(part: ImagePart) -> usize {
        match part {
            ImagePart::Text => {
                let f = core::hint::black_box(&TEXT_PROBE);
                *f as *const () as usize
            }
            ImagePart::ReadOnlyData => &RODATA_PROBE as *const [u64; 2] as usize,
            ImagePart::Relro => &RELRO_PROBE as *const &[u64; 2] as usize,
        }
    }

    /// The image is not mapped read-only (the runtime could not protect
    /// it at start), so [`write_image`] did not write.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct NotProtected;

    /// Writes one byte of the image, the value it already holds, at
    /// [`image_address`]: a VM fault (write to a read-only page) when the
    /// runtime protected the image at start, as it does on every kernel
    /// that lets it; otherwise nothing is written and `Err` comes back.
    pub fn write_image(part: ImagePart) -> Result<(), NotProtected> {
        let addr = image_address(part);
        if !crate::image::is_read_only(addr) {
            return Err(NotProtected);
        }
        // SAFETY: `addr` is a byte of the image, mapped read-only (checked
        // above): the store faults and the thread stops.
        unsafe { crate::arch::provoke::rewrite_byte(addr) };
        Ok(())
    }

    /// Executes an undefined instruction: x86_64 `ud2` (an invalid-opcode
    /// user exception, vector 6), aarch64 `udf #0` (exception class 0),
    /// riscv64 `unimp` (illegal instruction, scause 2).
    pub fn undefined_instruction() {
        crate::arch::provoke::undefined_instruction()
    }

    /// Divides by zero (a divide-error user exception, vector 0). x86_64
    /// only: an integer division by zero does not trap on aarch64 and
    /// riscv64.
    #[cfg(target_arch = "x86_64")]
    pub fn divide_by_zero() {
        crate::arch::provoke::divide_by_zero()
    }

    /// Executes a privileged instruction: x86_64 `hlt` (a general-protection
    /// user exception, vector 13), aarch64 a read of `sctlr_el1` (undefined
    /// at EL0, exception class 0), riscv64 a read of `sstatus` (illegal
    /// instruction, scause 2).
    pub fn privileged_instruction() {
        crate::arch::provoke::privileged_instruction()
    }

    /// Executes a breakpoint instruction: x86_64 `int3` (vector 3), aarch64
    /// `brk #0` (exception class 0x3c), riscv64 `ebreak` (scause 3).
    pub fn breakpoint() {
        crate::arch::provoke::breakpoint()
    }

    /// Makes a syscall with a number the kernel does not have.
    pub fn unknown_syscall(number: isize) {
        let mut regs = sel4_sys::Regs::default();
        // SAFETY: the kernel treats an unknown syscall number as an
        // UnknownSyscall fault of the caller; no memory is involved.
        unsafe { sel4_sys::arch::syscall(number, &mut regs) }
    }
}
