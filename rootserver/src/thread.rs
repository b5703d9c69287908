//! Threads in the root task's address space.
//!
//! [`spawn`] (or [`ThreadBuilder`]) runs a Rust closure on a new TCB with
//! its own stack, TLS block (from the image's `PT_TLS`), IPC buffer and
//! heap account, at a chosen priority. [`JoinHandle::join`] returns the
//! closure's result, or a [`ThreadError`] saying how the thread ended
//! otherwise (panic, fault, stack overflow, heap limit, out of memory);
//! joining (or [`JoinHandle::kill`]) tears the thread down: TCB and
//! endpoint deleted, stack and IPC buffer frames unmapped and their memory
//! and slots given back, TLS block and control block freed, the locks it
//! held released (poisoned). [`JoinHandle::join_report`] also says how much
//! heap the thread left allocated.
//!
//! Memory: the stack is fresh 4 KiB frames of RAM mapped through the
//! [`VSpace`](crate::vspace::VSpace) below 4 GiB with one unmapped guard
//! page below it, so a stack overflow is a VM fault in the guard page; the
//! kernel's fault address compares exactly with [`JoinHandle::stack_guard`]
//! on every kernel (seL4 5.x reports only 32 bits of it), and the join
//! reports it as [`ThreadError::StackOverflow`]. The stack's frame
//! capabilities are kept in CNodes of the [`Objects`]
//! ([`PARK_RADIX`](crate::objects::PARK_RADIX)), not in root CNode slots, so
//! a thread costs three root slots (TCB, event endpoint, IPC buffer frame)
//! whatever its stack size. The IPC buffer is a fresh frame mapped through
//! the `VSpace`; the TLS block and the control block belong to the runtime
//! (`sel4_runtime::thread`), which keeps them until the thread is stopped.
//!
//! Each thread has an *event endpoint*: the kernel sends its faults there
//! (unless a shared [`FaultHandler`] was given)
//! and the runtime's trampoline sends the thread's end there.
//!
//! On MCS kernels each thread also has a scheduling context of its own
//! ([`ThreadBuilder::budget`], round robin with the kernel's time slice by
//! default; see [`crate::sched`]) and a reply object for its receives; its
//! fault endpoint is copied into its TCB. [`ThreadBuilder::passive`] makes a
//! passive server (it runs on its clients' scheduling contexts), on every
//! kernel with the same code.
//!
//! # What survives what
//! - a **panic** ends the thread only: its message goes to the joiner
//!   ([`ThreadError::Panicked`]); the locks it held are released (poisoned);
//! - a **fault** stops the thread; the joiner gets the typed fault
//!   ([`ThreadError::Faulted`], [`ThreadError::StackOverflow`]);
//! - an allocation beyond the thread's **heap limit**
//!   ([`ThreadBuilder::heap_limit`], [`DEFAULT_HEAP_LIMIT`]) or for which
//!   the heap has no room ends the thread with [`ThreadError::HeapLimit`] /
//!   [`ThreadError::OutOfMemory`]; the heap keeps a reserve for the threads
//!   above it (`sel4_runtime::heap`), so the joiner goes on;
//! - [`JoinHandle::kill`] stops the thread wherever it is, except inside the
//!   runtime (allocator, console): there it waits until the thread leaves
//!   (the runtime's kill protocol), so no runtime lock is ever left held;
//! - in every case, the heap blocks the thread allocated stay allocated
//!   (no destructors run without unwinding, and in one address space other
//!   threads may still use them): [`JoinHandle::join_report`] counts them.
//!   A thread's heap is not isolated; a separate process is.
//!
//! Dropping a [`JoinHandle`] *detaches* the thread: it runs on with all it
//! uses, and once it has ended, a later [`spawn`], join or kill with the
//! same [`Objects`] (or [`reap_detached`]) tears it down.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use sel4_runtime::heap::{self, HeapReport};
use sel4_runtime::sync::Slot;
use sel4_runtime::thread as rt;
use sel4_sys::{CPtr, Fault, InvocationError, Word};

use crate::fault::{poll_event, receive_event, Event, FaultHandler};
use crate::objects::Objects;
use crate::objects::Region;
use crate::sched::{Budget, ThreadSched};
use crate::{Cap, Endpoint, Error, Notification, Owned, TCB};

/// Highest priority (seL4_MaxPrio); the root task runs at it.
pub const MAX_PRIORITY: u8 = 255;
/// Default stack size of a new thread.
pub const DEFAULT_STACK_SIZE: usize = 64 * 1024;
/// Default heap limit of a new thread: the most heap it may hold at once.
pub const DEFAULT_HEAP_LIMIT: usize = 8 * 1024 * 1024;
const PAGE: usize = 4096;
/// Unmapped pages below each thread's stack.
pub const STACK_GUARD_PAGES: usize = 1;

/// Why a thread could not be created, or how it ended other than by
/// returning.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ThreadError {
    /// Creating an object or a capability slot failed.
    Resources(Error),
    /// A TCB invocation failed while setting the thread up.
    Setup {
        /// The set-up step that failed (names the invocation).
        step: &'static str,
        /// What the kernel returned.
        error: InvocationError,
    },
    /// The image's TLS segment cannot be laid out.
    Tls(sel4_elf_reloc::Error),
    /// The heap has no room for the thread's control block.
    NoHeap,
    /// The thread panicked; its panic message.
    Panicked {
        /// The formatted panic message (empty when none was recorded).
        message: String,
    },
    /// The thread faulted; the decoded fault message.
    Faulted(Box<Fault>),
    /// The thread overflowed its stack: a VM fault in its guard page.
    StackOverflow(Box<Fault>),
    /// An allocation would have exceeded the thread's heap limit.
    HeapLimit {
        /// The thread's heap limit in bytes.
        limit: usize,
        /// Bytes the failed allocation asked for.
        requested: usize,
        /// Bytes the thread had allocated at that moment.
        in_use: usize,
    },
    /// The heap had no room for an allocation of the thread (beyond the
    /// reserve kept for the threads above it).
    OutOfMemory {
        /// Bytes the failed allocation asked for.
        requested: usize,
        /// Bytes the heap had free for this thread at that moment.
        free: usize,
    },
    /// The thread ended abnormally (a panic inside its panic handling, or
    /// no closure found): the runtime's exit word.
    Aborted {
        /// The exit word the runtime reported (see `sel4_runtime::thread`).
        status: Word,
    },
    /// The helper that gives seL4 5.x the initial thread's TLS base failed.
    TlsBaseFix(rt::TlsFixError),
}

impl From<Error> for ThreadError {
    fn from(e: Error) -> ThreadError {
        ThreadError::Resources(e)
    }
}

impl core::fmt::Display for ThreadError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ThreadError::Resources(e) => write!(f, "no resources for a thread: {e}"),
            ThreadError::Setup { step, error } => write!(f, "{step} failed: {error}"),
            ThreadError::Tls(e) => write!(f, "TLS: {e}"),
            ThreadError::NoHeap => write!(f, "no heap for the thread's control block"),
            ThreadError::Panicked { message } => write!(f, "thread panicked: {message}"),
            ThreadError::Faulted(fault) => write!(f, "thread faulted: {fault}"),
            ThreadError::StackOverflow(fault) => write!(f, "thread overflowed its stack: {fault}"),
            ThreadError::HeapLimit {
                limit,
                requested,
                in_use,
            } => write!(
                f,
                "thread exceeded its heap limit of {limit} bytes ({requested} more asked with {in_use} in use)"
            ),
            ThreadError::OutOfMemory { requested, free } => write!(
                f,
                "thread ran out of heap memory ({requested} bytes asked, {free} free)"
            ),
            ThreadError::Aborted { status } => write!(f, "thread aborted (status {status})"),
            ThreadError::TlsBaseFix(e) => write!(f, "setting the initial TLS base: {e:?}"),
        }
    }
}

fn runtime_error(e: rt::ThreadError) -> ThreadError {
    match e {
        rt::ThreadError::Tls(t) => ThreadError::Tls(t),
        rt::ThreadError::NoHeap => ThreadError::NoHeap,
        rt::ThreadError::AlreadyStarted => ThreadError::Aborted {
            status: rt::EXIT_NOT_STARTED,
        },
        rt::ThreadError::Kernel { step, error } => ThreadError::Setup { step, error },
    }
}

/// Options of a new thread.
#[derive(Clone, Copy)]
#[must_use = "a thread builder does nothing until ThreadBuilder::spawn"]
pub struct ThreadBuilder<'h> {
    priority: u8,
    stack_size: usize,
    fault_handler: Option<(&'h FaultHandler, Word)>,
    timeout_handler: Option<(&'h FaultHandler, Word)>,
    mcp: Option<u8>,
    heap_limit: usize,
    budget: Budget,
    passive: bool,
}

impl Default for ThreadBuilder<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'h> ThreadBuilder<'h> {
    /// Priority [`MAX_PRIORITY`] - 1, a [`DEFAULT_STACK_SIZE`] stack, a
    /// [`DEFAULT_HEAP_LIMIT`] heap limit, faults reported to the joiner.
    pub fn new() -> ThreadBuilder<'h> {
        ThreadBuilder {
            priority: MAX_PRIORITY - 1,
            stack_size: DEFAULT_STACK_SIZE,
            fault_handler: None,
            timeout_handler: None,
            mcp: None,
            heap_limit: DEFAULT_HEAP_LIMIT,
            budget: Budget::DEFAULT,
            passive: false,
        }
    }

    /// The thread's maximum controlled priority: the highest priority it
    /// may give itself or threads it creates (at most the root task's).
    /// Without it the thread keeps the kernel's default, 0.
    pub fn mcp(mut self, mcp: u8) -> Self {
        self.mcp = Some(mcp);
        self
    }

    /// The thread's priority (at most the root task's, 255).
    pub fn priority(mut self, priority: u8) -> Self {
        self.priority = priority;
        self
    }

    /// Bytes of stack.
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = bytes;
        self
    }

    /// The most heap the thread may hold at once (`usize::MAX`: as much as
    /// the heap has, less the reserve of the threads above it). An
    /// allocation beyond it ends the thread with
    /// [`ThreadError::HeapLimit`] (or fails, for fallible allocations such
    /// as `Vec::try_reserve`).
    pub fn heap_limit(mut self, bytes: usize) -> Self {
        self.heap_limit = bytes;
        self
    }

    /// Sends the thread's faults to a shared handler, badged with `badge`,
    /// instead of to the joiner. The joiner then only learns of the thread's
    /// end when it returns or panics; the handler decides what happens to a
    /// faulted thread (typically [`JoinHandle::kill`]).
    pub fn fault_handler(mut self, handler: &'h FaultHandler, badge: Word) -> Self {
        self.fault_handler = Some((handler, badge));
        self
    }

    /// MCS kernels: the processor time the thread gets, on a scheduling
    /// context of its own ([`Budget::DEFAULT`]: round robin with the
    /// kernel's time slice). No effect on other kernels (see
    /// [`crate::sched`]).
    pub fn budget(mut self, budget: Budget) -> Self {
        self.budget = budget;
        self
    }

    /// MCS kernels: sends the timeout faults of the thread (a scheduling
    /// context it runs on ran out of budget; `Fault::Timeout`) to a shared
    /// handler, badged with `badge`. Without it the kernel raises none.
    /// Other kernels have no timeout faults.
    pub fn timeout_handler(mut self, handler: &'h FaultHandler, badge: Word) -> Self {
        self.timeout_handler = Some((handler, badge));
        self
    }

    /// Makes the thread a *passive server*: it initialises on its own
    /// scheduling context; its first receive as a server
    /// ([`Server::recv`](crate::ipc::Server::recv),
    /// [`Server::serve`](crate::ipc::Server::serve), ...) tells the spawner,
    /// and from then on (MCS kernels) it has no time of its own: it runs on
    /// the scheduling context a client lends it with each call, until the
    /// reply. [`spawn`](ThreadBuilder::spawn) returns once the thread got
    /// there (or ended before). On other kernels the thread keeps its time
    /// slice; `spawn` waits all the same.
    ///
    /// A passive server answers with [`Server::reply_recv`] or `serve`:
    /// after a reply without a receive ([`Server::reply`], the last reply of
    /// `serve`) it has no time left and waits until it is joined
    /// ([`JoinHandle::join`] gives its scheduling context back, and it
    /// finishes). Its initialisation must not wait for the spawner.
    ///
    /// [`Server::reply_recv`]: crate::ipc::Server::reply_recv
    /// [`Server::reply`]: crate::ipc::Server::reply
    pub fn passive(mut self) -> Self {
        self.passive = true;
        self
    }

    /// Starts `f` on a new thread.
    pub fn spawn<F, R>(self, objs: &mut Objects, f: F) -> Result<JoinHandle<R>, ThreadError>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        reap_detached(objs);
        heap::refill();
        if rt::initial_tls_base_needs_fix() {
            fix_initial_tls_base(objs)?;
        }
        spawn_inner(self, objs, f)
    }
}

/// Starts `f` on a new thread with the default options.
pub fn spawn<F, R>(objs: &mut Objects, f: F) -> Result<JoinHandle<R>, ThreadError>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    ThreadBuilder::new().spawn(objs, f)
}

/// A running thread; join it to get its result. Dropping it detaches the
/// thread (module documentation).
#[must_use = "dropping a JoinHandle detaches the thread: join or kill it to get its result and its resources back"]
pub struct JoinHandle<R> {
    inner: Option<Inner<R>>,
}

struct Inner<R> {
    parts: Parts,
    result: Arc<Slot<R>>,
    panic: Arc<Slot<String>>,
}

/// What a thread has: its runtime side, kernel objects and memory. Kept
/// whole by a detached thread until it is torn down.
struct Parts {
    thread: rt::Thread,
    tcb: Owned<TCB>,
    events: Owned<Endpoint>,
    fault_ep: Option<Owned<Endpoint>>,
    /// Scheduling context, reply object, ... (`crate::sched`).
    sched: ThreadSched,
    /// An event taken from `events` before the join (a passive server
    /// that ended before it was ready).
    early: Option<Event>,
    memory: Memory,
    /// The `Objects` the parts came from ([`objects_key`]).
    key: u64,
}

/// What a thread has in memory: its stack (guard pages, then frames) and
/// its IPC buffer page.
struct Memory {
    stack: Option<Region>,
    ipc_buffer: Option<u64>,
}

impl Memory {
    fn release(&mut self, objs: &mut Objects) {
        if let Some(r) = self.stack.take() {
            if let Err(e) = objs.unmap_region(r) {
                log::warn!("freeing a thread's stack: {e}");
            }
        }
        if let Some(v) = self.ipc_buffer.take() {
            if let Err(e) = objs.unmap_page(v) {
                log::warn!("freeing a thread's IPC buffer: {e}");
            }
        }
    }
}

/// Identifies an [`Objects`] among all instances of the run.
fn objects_key(objs: &Objects) -> u64 {
    objs.instance()
}

/// What a join or kill found besides the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Report {
    /// The thread's heap account when it was torn down: `in_use` bytes it
    /// allocated are still allocated (returned to the joiner, shared with
    /// other threads, or left behind by a thread that did not end
    /// normally; the runtime cannot free those).
    pub heap: HeapReport,
    /// Locks the thread held when it was stopped (released, poisoned).
    pub locks_released: usize,
    /// The kill found the thread inside the runtime and waited for it to
    /// leave.
    pub waited_for_runtime: bool,
}

/// A joined thread: how it ended, and the report.
#[derive(Debug)]
pub struct Joined<R> {
    /// The closure's return value, or how the thread ended instead.
    pub result: Result<R, ThreadError>,
    /// What was released when the thread's resources were reclaimed.
    pub report: Report,
}

impl Parts {
    /// Stops the thread, releases what it held, deletes its objects and
    /// frees its memory.
    fn teardown(mut self, objs: &mut Objects) -> Report {
        let mut report = Report::default();
        match self.thread.stop() {
            Ok(s) => report.locks_released = s.locks_released,
            Err(e) => log::warn!("stopping thread {}: {e:?}", self.thread.id()),
        }
        report.heap = self.thread.heap();
        let _ = objs.delete(self.tcb);
        self.sched.release(objs);
        if let Some(e) = self.fault_ep {
            let _ = objs.delete(e);
        }
        let _ = objs.delete(self.events);
        // The thread is stopped and its TCB gone: its stack and IPC buffer
        // can go; its TLS and control block go with `thread`.
        self.memory.release(objs);
        drop(self.thread);
        heap::refill();
        report
    }

    /// Whether a detached thread has ended (returned, panicked, faulted).
    fn ended(&self) -> bool {
        if self.early.is_some() {
            return true;
        }
        self.wake();
        loop {
            match poll_event(self.events.cap()) {
                None => return false,
                Some(Event::Exit { .. }) | Some(Event::Fault { .. }) => return true,
                Some(Event::Other { .. }) => continue,
            }
        }
    }
}

impl Parts {
    /// A passive server gets its scheduling context back: it finishes
    /// what follows its last reply (MCS; nothing otherwise).
    fn wake(&self) {
        if let Some(w) = self.sched.wake() {
            sel4_sys::signal(w);
        }
    }

    /// The next event of the thread: the one taken early, or one from its
    /// event endpoint (blocking).
    fn next_event(&mut self) -> Event {
        match self.early.take() {
            Some(e) => e,
            None => receive_event(self.events.cap()),
        }
    }

    /// The same without blocking.
    fn poll_event(&mut self) -> Option<Event> {
        match self.early.take() {
            Some(e) => Some(e),
            None => poll_event(self.events.cap()),
        }
    }
}

/// Tears down the detached threads of `objs` that have ended; returns how
/// many. [`spawn`], joins and kills do it too.
pub fn reap_detached(objs: &mut Objects) -> usize {
    let key = objects_key(objs);
    let mut n = 0;
    for remains in rt::take_detached(key) {
        match remains.downcast::<Parts>() {
            Ok(parts) => {
                if parts.ended() {
                    parts.teardown(objs);
                    n += 1;
                } else {
                    rt::detach(key, parts);
                }
            }
            Err(other) => rt::detach(key, other),
        }
    }
    n
}

fn step(step: &'static str) -> impl Fn(InvocationError) -> ThreadError {
    move |error| ThreadError::Setup { step, error }
}

fn spawn_inner<F, R>(
    b: ThreadBuilder<'_>,
    objs: &mut Objects,
    f: F,
) -> Result<JoinHandle<R>, ThreadError>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let result: Arc<Slot<R>> = Arc::new(Slot::new());
    let panic: Arc<Slot<String>> = Arc::new(Slot::new());
    let (r2, p2) = (result.clone(), panic.clone());
    let thread = rt::Thread::new(rt::ThreadSpec {
        main: Box::new(move || {
            let v = f();
            let _ = r2.put(v);
        }),
        on_panic: Box::new(move |m| {
            let _ = p2.put(m);
        }),
        heap_limit: b.heap_limit,
    })
    .map_err(runtime_error)?;
    let mut memory = Memory {
        stack: None,
        ipc_buffer: None,
    };
    let mut tcb_slot: Option<Owned<TCB>> = None;
    let mut events_slot: Option<Owned<Endpoint>> = None;
    let mut fault_slot: Option<Owned<Endpoint>> = None;
    let mut sched: Option<ThreadSched> = None;
    let r = (|| {
        let pages = b.stack_size.max(PAGE).div_ceil(PAGE);
        memory.stack = Some(objs.map_region(STACK_GUARD_PAGES, pages)?);
        let (frame, ipc_addr) = objs.map_new_page()?;
        memory.ipc_buffer = Some(ipc_addr);
        let tcb = tcb_slot.insert(objs.create::<TCB>()?).cap();
        let events = events_slot.insert(objs.create::<Endpoint>()?).cap();
        let fault_ep = match b.fault_handler {
            Some((h, badge)) => fault_slot
                .insert(objs.mint(h.endpoint_owned(), badge)?)
                .cap(),
            None => events,
        };
        sched = Some(ThreadSched::create(
            objs,
            &b.budget,
            b.passive,
            b.timeout_handler,
        )?);
        Ok::<_, ThreadError>((tcb, events, fault_ep, frame, ipc_addr as usize))
    })();
    let (tcb, events, fault_ep, frame, ipc_addr) = match r {
        Ok(v) => v,
        Err(e) => {
            if let Some(t) = tcb_slot {
                let _ = objs.delete(t);
            }
            if let Some(mut s) = sched {
                s.release(objs);
            }
            for c in [fault_slot, events_slot].into_iter().flatten() {
                let _ = objs.delete(c);
            }
            memory.release(objs);
            return Err(e);
        }
    };
    let (Some(tcb_owned), Some(events_owned), Some(sched)) = (tcb_slot, events_slot, sched) else {
        unreachable!("all three were made above")
    };
    let stack_top = memory.stack.as_ref().map_or(0, |s| s.top()) as usize;
    let parts = Parts {
        thread,
        tcb: tcb_owned,
        events: events_owned,
        fault_ep: fault_slot,
        sched,
        early: None,
        memory,
        key: objects_key(objs),
    };
    let setup = (|| {
        let cspace = crate::cnode::root();
        let vspace = sel4_sys::init_caps::CapInitThreadVSpace as CPtr;
        let authority = Cap::<TCB>::from_cptr(sel4_runtime::bootinfo::INIT_THREAD_TCB);
        // seL4 10+ (the kernels with TCB_SetTLSBase) take plain words for
        // CSpace/VSpace data and an authority for priorities; 5.x takes
        // seL4_CapData_t and the caller's own MCP.
        sel4_sys::sel4_cfg_if! {
            kernel >= 10 && label TCBSetTLSBase {
                // MCS kernels copy the fault endpoint capability into the
                // TCB here; the others keep its address.
                tcb.tcb_set_space(fault_ep.cptr(), cspace, 0, vspace, 0)
                    .map_err(step("TCB_SetSpace"))?;
            } else {
                let none = sel4_sys::CapData::default();
                tcb.tcb_set_space(fault_ep.cptr(), cspace, none, Cap::from_cptr(vspace), none)
                    .map_err(step("TCB_SetSpace"))?;
            }
        }
        // Priorities; on MCS kernels also the scheduling context (bound
        // here), the fault and timeout endpoints.
        parts
            .sched
            .bind(tcb, authority, b.mcp.unwrap_or(0), b.priority, fault_ep)
            .map_err(|(step, error)| ThreadError::Setup { step, error })?;
        let (reply, sc) = parts.sched.runtime_caps();
        parts.thread.set_scheduling(reply, sc);
        if let Some(go) = &parts.sched.go {
            parts
                .thread
                .set_passive(go.cptr(), parts.sched.wake().unwrap_or(0));
        }
        tcb.tcb_set_ipc_buffer(ipc_addr as Word, frame.cptr())
            .map_err(step("TCB_SetIPCBuffer"))?;
        // The runtime writes the registers (its trampoline, the stack, the
        // TLS base) and resumes the TCB.
        parts
            .thread
            .start(tcb, events.cptr(), stack_top, ipc_addr)
            .map_err(runtime_error)
    })();
    let mut parts = parts;
    let go = parts.sched.go.as_ref().map(|g| g.cap());
    let setup = setup.and_then(|()| match go {
        Some(go) => passive_handshake(&mut parts, go),
        None => Ok(()),
    });
    match setup {
        Ok(()) => Ok(JoinHandle {
            inner: Some(Inner {
                parts,
                result,
                panic,
            }),
        }),
        Err(e) => {
            parts.teardown(objs);
            Err(e)
        }
    }
}

/// The spawner's side of making a thread passive
/// ([`ThreadBuilder::passive`]): signals `go` and waits on the thread's
/// event endpoint in one system call (MCS: `NBSendWait`; so the thread's
/// report can only come while the spawner waits), until the thread is
/// ready (blocked in its first receive as a server), then takes its
/// scheduling context away. A thread that ends or faults first keeps its
/// event for the join.
fn passive_handshake(parts: &mut Parts, go: Cap<Notification>) -> Result<(), ThreadError> {
    let events = parts.events.cap();
    let first = sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
        crate::fault::decode_event(sel4_sys::mcs::nb_send_wait_regs(
            go.cptr(),
            sel4_sys::MessageInfo::new(0, 0, 0, 0),
            [0; sel4_sys::REGISTER_MRS],
            events.cptr(),
        ))
    } else {
        {
            sel4_sys::signal(go.cptr());
            receive_event(events)
        }
    } };
    let mut event = first;
    loop {
        match event {
            Event::Other { label, .. } if label == crate::sched::PASSIVE_READY_LABEL => {
                return parts
                    .sched
                    .make_passive(parts.tcb.cap())
                    .map_err(|(step, error)| ThreadError::Setup { step, error });
            }
            Event::Other { .. } => event = receive_event(events),
            e => {
                parts.early = Some(e);
                return Ok(());
            }
        }
    }
}

impl<R> Inner<R> {
    fn exit_outcome(self, status: Word) -> (Result<R, ThreadError>, Parts) {
        let Inner {
            parts,
            result,
            panic,
        } = self;
        let r = match status {
            rt::EXIT_RETURNED => result.take().ok_or(ThreadError::Aborted { status }),
            rt::EXIT_PANICKED => Err(ThreadError::Panicked {
                message: panic.take().unwrap_or_default(),
            }),
            rt::EXIT_HEAP_LIMIT | rt::EXIT_OUT_OF_MEMORY => match parts.thread.exit_failure() {
                Some(f) if f.kind == heap::AllocFailureKind::Limit => Err(ThreadError::HeapLimit {
                    limit: f.limit,
                    requested: f.requested,
                    in_use: f.in_use,
                }),
                Some(f) => Err(ThreadError::OutOfMemory {
                    requested: f.requested,
                    free: f.free,
                }),
                None => Err(ThreadError::Aborted { status }),
            },
            _ => Err(ThreadError::Aborted { status }),
        };
        (r, parts)
    }

    fn fault_outcome(self, fault: Fault) -> (Result<R, ThreadError>, Parts) {
        let e = if is_stack_overflow(&self.parts, &fault) {
            ThreadError::StackOverflow(Box::new(fault))
        } else {
            ThreadError::Faulted(Box::new(fault))
        };
        (Err(e), self.parts)
    }
}

/// The guard page(s) of a thread's stack.
fn guard_of(parts: &Parts) -> core::ops::Range<usize> {
    match &parts.memory.stack {
        Some(r) => r.start as usize..r.start as usize + r.guard_pages * PAGE,
        None => 0..0,
    }
}

/// Whether `fault` is a stack overflow of the thread: a data access in its
/// guard page with the stack pointer in the guard page or the stack. The
/// stacks lie below 4 GiB, where seL4 5.x's 32-bit fault addresses are
/// exact; the stack pointer rules out an access elsewhere whose low 32
/// bits happen to fall in the guard page.
fn is_stack_overflow(parts: &Parts, fault: &Fault) -> bool {
    let Fault::VmFault {
        addr,
        prefetch_fault: false,
        ..
    } = *fault
    else {
        return false;
    };
    let guard = guard_of(parts);
    let top = parts.memory.stack.as_ref().map_or(0, |s| s.top()) as usize;
    if !guard.contains(&(addr as usize)) {
        return false;
    }
    let words = sel4_sys::UserContext::WORDS as Word;
    match parts.tcb.tcb_read_registers(false, 0, words) {
        Ok(ctx) => (guard.start..=top).contains(&(sel4::Registers::sp(&ctx) as usize)),
        Err(_) => true,
    }
}

impl<R> JoinHandle<R> {
    fn inner(&self) -> &Inner<R> {
        self.inner
            .as_ref()
            .unwrap_or_else(|| unreachable!("a JoinHandle is consumed by join, kill or drop"))
    }

    fn take(mut self) -> Inner<R> {
        self.inner
            .take()
            .unwrap_or_else(|| unreachable!("a JoinHandle is consumed by join, kill or drop"))
    }

    /// The runtime's id of the thread.
    pub fn id(&self) -> u64 {
        self.inner().parts.thread.id()
    }

    /// The thread's TCB. Suspending or deleting it by hand bypasses the
    /// runtime: a thread stopped that way inside the runtime keeps the
    /// runtime's lock it holds (use [`JoinHandle::kill`]).
    pub fn tcb(&self) -> Cap<TCB> {
        self.inner().parts.tcb.cap()
    }

    /// The thread's stack `[low, high)` (mapped frames; the guard page is
    /// right below `low`).
    pub fn stack(&self) -> core::ops::Range<usize> {
        match &self.inner().parts.memory.stack {
            Some(r) => (r.start as usize + r.guard_pages * PAGE)..r.top() as usize,
            None => 0..0,
        }
    }

    /// The unmapped guard page(s) below the thread's stack: a stack
    /// overflow is a VM fault at an address in this range, as the kernel
    /// reports it (stacks are below 4 GiB, so seL4 5.x's 32-bit fault
    /// addresses compare exactly too).
    pub fn stack_guard(&self) -> core::ops::Range<usize> {
        guard_of(&self.inner().parts)
    }

    /// Whether `fault`, a fault of this thread (from a shared
    /// [`FaultHandler`]), is a stack overflow (see
    /// [`ThreadError::StackOverflow`]).
    pub fn is_stack_overflow(&self, fault: &Fault) -> bool {
        is_stack_overflow(&self.inner().parts, fault)
    }

    sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
        /// The thread's own scheduling context (MCS kernels): the one the
        /// framework made and bound ([`ThreadBuilder::budget`]; bound to
        /// its wake notification instead once a passive server waits).
        /// Unbinding it by hand stops the thread until it gets one again
        /// (a join waits for a thread that can no longer run).
        pub fn sched_context(&self) -> Cap<crate::cap::cap_type::SchedContext> {
            Cap::from_cptr(
                self.inner()
                    .parts
                    .sched
                    .sched_context_cptr()
                    .unwrap_or_else(|| unreachable!("every thread has one on MCS kernels")),
            )
        }

        /// The thread's reply object (MCS kernels): the one its receives
        /// on endpoints name (`sel4_sys::mcs::thread_reply`).
        pub fn reply_object(&self) -> Cap<crate::cap::cap_type::Reply> {
            Cap::from_cptr(
                self.inner()
                    .parts
                    .sched
                    .reply_cptr()
                    .unwrap_or_else(|| unreachable!("every thread has one on MCS kernels")),
            )
        }
    } }

    /// The address of the thread's IPC buffer.
    pub fn ipc_buffer(&self) -> usize {
        self.inner().parts.memory.ipc_buffer.unwrap_or(0) as usize
    }

    /// The thread's heap account now.
    pub fn heap(&self) -> HeapReport {
        self.inner().parts.thread.heap()
    }

    /// Whether the thread is inside the runtime (allocator, console) now.
    pub fn in_runtime(&self) -> bool {
        self.inner().parts.thread.in_runtime()
    }

    /// Waits for the thread to end, then tears it down.
    pub fn join(self, objs: &mut Objects) -> Result<R, ThreadError> {
        self.join_report(objs).result
    }

    /// [`JoinHandle::join`], with what the thread left behind.
    #[must_use = "the thread's result is in Joined::result"]
    pub fn join_report(self, objs: &mut Objects) -> Joined<R> {
        let mut inner = self.take();
        inner.parts.wake();
        let (result, parts) = loop {
            match inner.parts.next_event() {
                Event::Exit { status, .. } => break inner.exit_outcome(status),
                Event::Fault { fault, .. } => break inner.fault_outcome(fault),
                // Not from this thread's kernel or runtime: ignore.
                Event::Other { .. } => continue,
            }
        };
        let report = parts.teardown(objs);
        reap_detached(objs);
        Joined { result, report }
    }

    /// Does not wait: when the thread has ended (returned, panicked or
    /// faulted), tears it down and returns what [`JoinHandle::join`] would
    /// (`Ok`); otherwise gives the handle back (`Err`). Something else
    /// sent to the thread's event endpoint is consumed and ignored.
    #[allow(clippy::result_large_err)]
    pub fn try_join(self, objs: &mut Objects) -> Result<Result<R, ThreadError>, JoinHandle<R>> {
        let mut this = self;
        let parts = &mut this
            .inner
            .as_mut()
            .unwrap_or_else(|| unreachable!("a JoinHandle is consumed by join, kill or drop"))
            .parts;
        parts.wake();
        let event = loop {
            match parts.poll_event() {
                None => return Err(this),
                Some(Event::Other { .. }) => continue,
                Some(e) => break e,
            }
        };
        let inner = this.take();
        let (result, parts) = match event {
            Event::Exit { status, .. } => inner.exit_outcome(status),
            Event::Fault { fault, .. } => inner.fault_outcome(fault),
            Event::Other { .. } => unreachable!("skipped above"),
        };
        parts.teardown(objs);
        reap_detached(objs);
        Ok(result)
    }

    /// Stops the thread wherever it is (waiting, when it is inside the
    /// runtime, until it leaves: module documentation) and tears it down.
    pub fn kill(self, objs: &mut Objects) -> Report {
        let mut inner = self.take();
        let waited = match inner.parts.thread.request_kill() {
            rt::KillProgress::StopNow => false,
            rt::KillProgress::WaitForExit => {
                // It stops itself on leaving the runtime and says so on its
                // event endpoint (or it ended or faulted meanwhile).
                inner.parts.wake();
                loop {
                    match inner.parts.next_event() {
                        Event::Exit { .. } | Event::Fault { .. } => break,
                        Event::Other { .. } => continue,
                    }
                }
                true
            }
        };
        let mut report = inner.parts.teardown(objs);
        report.waited_for_runtime = waited;
        reap_detached(objs);
        report
    }
}

impl<R> Drop for JoinHandle<R> {
    /// Detaches the thread: it keeps everything it uses until it has ended
    /// and a later spawn, join or kill with the same `Objects` (or
    /// [`reap_detached`]) tears it down.
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            let key = inner.parts.key;
            rt::detach(key, Box::new(inner.parts));
        }
    }
}

impl<R> core::fmt::Debug for JoinHandle<R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match &self.inner {
            Some(i) => write!(f, "JoinHandle(thread {})", i.parts.thread.id()),
            None => write!(f, "JoinHandle(consumed)"),
        }
    }
}

/// seL4 5.x: the initial thread's TLS base must be in its TCB before any
/// other thread with another TLS base runs: a thread of the root task, or
/// one of a process (`crate::process`). Does nothing when no fix is needed.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // used by `process`
pub(crate) fn ensure_initial_tls_base(objs: &mut Objects) -> Result<(), ThreadError> {
    if rt::initial_tls_base_needs_fix() {
        fix_initial_tls_base(objs)?;
    }
    Ok(())
}

/// seL4 5.x: before a second thread runs, a helper thread tells the kernel
/// the initial thread's TLS base (see `sel4_runtime::thread`).
fn fix_initial_tls_base(objs: &mut Objects) -> Result<(), ThreadError> {
    let ntfn: Owned<Notification> = objs.create()?;
    let n = ntfn.cap();
    // Below the root task's priority: it runs only once the initial thread
    // waits.
    let helper = spawn_inner(
        ThreadBuilder::new().priority(MAX_PRIORITY - 1),
        objs,
        move || rt::fix_initial_tls_base(n),
    );
    let helper = match helper {
        Ok(h) => h,
        Err(e) => {
            let _ = objs.delete(ntfn);
            return Err(e);
        }
    };
    let waited = rt::wait_for_initial_tls_fix(n);
    let r = helper.join(objs);
    let _ = objs.delete(ntfn);
    waited.map_err(ThreadError::TlsBaseFix)?;
    r?.map_err(ThreadError::TlsBaseFix)
}

/// Forgets the detached threads of the `Objects` instance `key` (when it
/// is dropped): nothing is torn down (the objects may be gone already);
/// what the runtime keeps for a thread that may still run stays alive.
pub(crate) fn forget_detached(key: u64) {
    drop(rt::take_detached(key));
}

/// The threads of the root task, as the runtime counts them.
pub fn live_threads() -> usize {
    rt::live_threads()
}

/// Detached threads not yet torn down (of every `Objects`).
pub fn detached_threads() -> usize {
    rt::detached_count()
}
