//! Threads in the root task's address space.
//!
//! [`spawn`] (or [`ThreadBuilder`]) runs a Rust closure on a new TCB with
//! its own stack, TLS block (from the image's `PT_TLS`) and IPC buffer, at a
//! chosen priority. [`JoinHandle::join`] returns the closure's result, or
//! [`ThreadError::Panicked`] / [`ThreadError::Faulted`] when the thread
//! panicked or faulted; joining (or [`JoinHandle::kill`]) tears the thread
//! down: TCB and endpoint deleted, stack and IPC buffer frames unmapped and
//! their memory and slots given back, TLS block freed.
//!
//! Memory: the stack is fresh 4 KiB frames of RAM mapped through the
//! [`VSpace`](crate::vspace::VSpace) with one unmapped guard page below it, so a stack overflow is
//! a VM fault at the guard page (reported on the thread's fault endpoint
//! like any other fault). The stack's frame capabilities are kept in
//! CNodes of the [`Objects`] ([`PARK_RADIX`](crate::objects::PARK_RADIX)), not in root CNode slots, so a
//! thread costs three root slots (TCB, event endpoint, IPC buffer frame)
//! whatever its stack size. The IPC buffer is a fresh frame mapped through
//! the `VSpace`; the TLS block comes from the heap.
//!
//! Each thread has an *event endpoint*: the kernel sends its faults there
//! (unless a shared [`FaultHandler`](crate::fault::FaultHandler) was given)
//! and the runtime's trampoline sends the thread's exit there.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use sel4_runtime::thread as rt;
use sel4_sys::{CPtr, Fault, InvocationError, Word};

use crate::fault::{poll_event, receive_event, Event, FaultHandler};
use crate::objects::Objects;
use crate::objects::Region;
use crate::{Cap, Endpoint, Error, Notification, Owned, TCB};

/// Highest priority (seL4_MaxPrio); the root task runs at it.
pub const MAX_PRIORITY: u8 = 255;
/// Default stack size of a new thread.
pub const DEFAULT_STACK_SIZE: usize = 64 * 1024;
const PAGE: usize = 4096;
/// Unmapped pages below each thread's stack.
pub const STACK_GUARD_PAGES: usize = 1;

/// Why a thread could not be created, or how it ended other than by
/// returning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThreadError {
    /// Creating an object or a capability slot failed.
    Resources(Error),
    /// A TCB invocation failed while setting the thread up.
    Setup {
        step: &'static str,
        error: InvocationError,
    },
    /// The image's TLS segment cannot be laid out.
    Tls(sel4_start::tls::TlsError),
    /// The thread panicked; its panic message.
    Panicked { message: String },
    /// The thread faulted; the decoded fault message.
    Faulted(Box<Fault>),
    /// The thread ended abnormally (a panic inside its panic handling, or
    /// no closure found): the runtime's exit word.
    Aborted { status: Word },
    /// The IPC buffer page is not inside the image (no frame capability).
    /// Not produced any more (IPC buffers are fresh frames); kept so that
    /// code matching on it still builds.
    NoFrameForIpcBuffer { vaddr: usize },
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
            ThreadError::Panicked { message } => write!(f, "thread panicked: {message}"),
            ThreadError::Faulted(fault) => write!(f, "thread faulted: {fault}"),
            ThreadError::Aborted { status } => write!(f, "thread aborted (status {status})"),
            ThreadError::NoFrameForIpcBuffer { vaddr } => {
                write!(f, "no frame capability for the IPC buffer at {vaddr:#x}")
            }
            ThreadError::TlsBaseFix(e) => write!(f, "setting the initial TLS base: {e:?}"),
        }
    }
}

/// Options of a new thread.
#[derive(Clone, Copy)]
pub struct ThreadBuilder<'h> {
    priority: u8,
    stack_size: usize,
    fault_handler: Option<(&'h FaultHandler, Word)>,
    mcp: Option<u8>,
}

impl Default for ThreadBuilder<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'h> ThreadBuilder<'h> {
    /// Priority [`MAX_PRIORITY`] - 1, a [`DEFAULT_STACK_SIZE`] stack,
    /// faults reported to the joiner.
    pub fn new() -> ThreadBuilder<'h> {
        ThreadBuilder {
            priority: MAX_PRIORITY - 1,
            stack_size: DEFAULT_STACK_SIZE,
            fault_handler: None,
            mcp: None,
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

    /// Sends the thread's faults to a shared handler, badged with `badge`,
    /// instead of to the joiner. The joiner then only learns of the thread's
    /// end when it returns or panics; the handler decides what happens to a
    /// faulted thread (typically [`JoinHandle::kill`]).
    pub fn fault_handler(mut self, handler: &'h FaultHandler, badge: Word) -> Self {
        self.fault_handler = Some((handler, badge));
        self
    }

    /// Starts `f` on a new thread.
    pub fn spawn<F, R>(self, objs: &mut Objects, f: F) -> Result<JoinHandle<R>, ThreadError>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
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

/// A running thread; join it to get its result.
pub struct JoinHandle<R> {
    id: u64,
    tcb: Owned<TCB>,
    events: Owned<Endpoint>,
    fault_ep: Option<Owned<Endpoint>>,
    result: Arc<spin::Mutex<Option<R>>>,
    panic: Arc<spin::Mutex<Option<String>>>,
    memory: Memory,
}

/// What a thread has in memory: its stack (guard pages, then frames), its
/// IPC buffer page and its TLS block.
struct Memory {
    stack: Option<Region>,
    ipc_buffer: Option<u64>,
    _tls: Vec<u8>,
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

struct Parts {
    tcb: Option<Owned<TCB>>,
    events: Option<Owned<Endpoint>>,
    fault_ep: Option<Owned<Endpoint>>,
}

impl Parts {
    fn release(&mut self, objs: &mut Objects) {
        if let Some(t) = self.tcb.take() {
            let _ = t.tcb_suspend();
            let _ = objs.delete(t);
        }
        if let Some(e) = self.fault_ep.take() {
            let _ = objs.delete(e);
        }
        if let Some(e) = self.events.take() {
            let _ = objs.delete(e);
        }
    }
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
    let tls = rt::tls_image().map_err(ThreadError::Tls)?;
    let mut tls_area = alloc::vec![0u8; tls.area_size()];
    let tp = tls.init_block(&mut tls_area).map_err(ThreadError::Tls)?;
    let mut memory = Memory {
        stack: None,
        ipc_buffer: None,
        _tls: tls_area,
    };
    let mut parts = Parts {
        tcb: None,
        events: None,
        fault_ep: None,
    };
    let r = (|| {
        let pages = b.stack_size.max(PAGE).div_ceil(PAGE);
        memory.stack = Some(objs.map_region(STACK_GUARD_PAGES, pages)?);
        let (frame, ipc_addr) = objs.map_new_page()?;
        memory.ipc_buffer = Some(ipc_addr);
        let tcb = objs.create::<TCB>()?;
        let tcb = parts.tcb.insert(tcb).cap();
        let events = objs.create::<Endpoint>()?;
        let events = parts.events.insert(events).cap();
        let fault_ep = match b.fault_handler {
            Some((h, badge)) => {
                let e = objs.mint(h.endpoint_owned(), badge)?;
                parts.fault_ep.insert(e).cap()
            }
            None => events,
        };
        Ok::<_, ThreadError>((tcb, events, fault_ep, frame, ipc_addr as usize))
    })();
    let (tcb, events, fault_ep, frame, ipc_addr) = match r {
        Ok(v) => v,
        Err(e) => {
            parts.release(objs);
            memory.release(objs);
            return Err(e);
        }
    };
    let stack_top = memory.stack.as_ref().map_or(0, |s| s.top()) as usize;

    let result: Arc<spin::Mutex<Option<R>>> = Arc::new(spin::Mutex::new(None));
    let panic: Arc<spin::Mutex<Option<String>>> = Arc::new(spin::Mutex::new(None));
    let (r2, p2) = (result.clone(), panic.clone());
    let id = rt::register(rt::ThreadSpec {
        main: Box::new(move || {
            let v = f();
            *r2.lock() = Some(v);
        }),
        on_panic: Box::new(move |m| *p2.lock() = Some(m)),
    });
    let (Some(tcb_owned), Some(events_owned)) = (parts.tcb.take(), parts.events.take()) else {
        unreachable!("both were made above")
    };
    let handle = JoinHandle {
        id,
        tcb: tcb_owned,
        events: events_owned,
        fault_ep: parts.fault_ep.take(),
        result,
        panic,
        memory,
    };
    let regs = rt::EntryRegs::new(id, stack_top, tp, ipc_addr, tcb.cptr(), events.cptr());
    let setup = (|| {
        let cspace = crate::cnode::root();
        let vspace = sel4_sys::init_caps::CapInitThreadVSpace as CPtr;
        let authority = Cap::<TCB>::from_cptr(sel4_runtime::bootinfo::INIT_THREAD_TCB);
        // The new thread starts in the runtime's trampoline with its stack,
        // start block and TLS base set.
        let mut ctx = sel4_sys::UserContext {
            rip: regs.rip,
            rsp: regs.rsp,
            rcx: regs.rcx,
            rdx: regs.rdx,
            rsi: regs.rsi,
            rdi: regs.rdi,
            r8: regs.r8,
            ..Default::default()
        };
        // seL4 10+ (the kernels with TCB_SetTLSBase) take plain words for
        // CSpace/VSpace data and an authority for priorities; 5.x takes
        // seL4_CapData_t and the caller's own MCP.
        sel4_sys::sel4_cfg_if! {
            kernel >= 10 && label TCBSetTLSBase {
                tcb.tcb_set_space(fault_ep.cptr(), cspace, 0, vspace, 0)
                    .map_err(step("TCB_SetSpace"))?;
                if let Some(mcp) = b.mcp {
                    tcb.tcb_set_mc_priority(authority, Word::from(mcp))
                        .map_err(step("TCB_SetMCPriority"))?;
                }
                tcb.tcb_set_priority(authority, Word::from(b.priority))
                    .map_err(step("TCB_SetPriority"))?;
                ctx.fs_base = tp as Word;
            } else {
                let none = sel4_sys::CapData::default();
                tcb.tcb_set_space(fault_ep.cptr(), cspace, none, Cap::from_cptr(vspace), none)
                    .map_err(step("TCB_SetSpace"))?;
                let _ = authority;
                if let Some(mcp) = b.mcp {
                    tcb.tcb_set_mc_priority(mcp).map_err(step("TCB_SetMCPriority"))?;
                }
                tcb.tcb_set_priority(b.priority).map_err(step("TCB_SetPriority"))?;
                ctx.tls_base = tp as Word;
            }
        }
        tcb.tcb_set_ipc_buffer(ipc_addr as Word, frame.cptr())
            .map_err(step("TCB_SetIPCBuffer"))?;
        tcb.tcb_write_registers(false, 0, sel4_sys::UserContext::WORDS as Word, &ctx)
            .map_err(step("TCB_WriteRegisters"))?;
        sel4_sys::sel4_cfg_if! {
            kernel >= 10 && label TCBSetTLSBase {
                tcb.tcb_set_tls_base(tp as Word).map_err(step("TCB_SetTLSBase"))?;
            }
        }
        tcb.tcb_resume().map_err(step("TCB_Resume"))?;
        Ok::<(), ThreadError>(())
    })();
    match setup {
        Ok(()) => Ok(handle),
        Err(e) => {
            handle.teardown(objs);
            Err(e)
        }
    }
}

impl<R> JoinHandle<R> {
    /// The runtime's id of the thread.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The thread's TCB.
    pub fn tcb(&self) -> Cap<TCB> {
        self.tcb.cap()
    }

    /// The thread's stack `[low, high)` (mapped frames; the guard page is
    /// right below `low`).
    pub fn stack(&self) -> core::ops::Range<usize> {
        match &self.memory.stack {
            Some(r) => (r.start as usize + r.guard_pages * PAGE)..r.top() as usize,
            None => 0..0,
        }
    }

    /// The unmapped guard page(s) below the thread's stack: a stack
    /// overflow is a VM fault at an address in this range.
    pub fn stack_guard(&self) -> core::ops::Range<usize> {
        match &self.memory.stack {
            Some(r) => r.start as usize..r.start as usize + r.guard_pages * PAGE,
            None => 0..0,
        }
    }

    /// The address of the thread's IPC buffer.
    pub fn ipc_buffer(&self) -> usize {
        self.memory.ipc_buffer.unwrap_or(0) as usize
    }

    /// Waits for the thread to end, then tears it down.
    pub fn join(self, objs: &mut Objects) -> Result<R, ThreadError> {
        let outcome = loop {
            match receive_event(self.events.cap()) {
                Event::Exit { status, .. } => break self.exit_outcome(status),
                Event::Fault { fault, .. } => break Err(ThreadError::Faulted(Box::new(fault))),
                // Not from this thread's kernel or runtime: ignore.
                Event::Other { .. } => continue,
            }
        };
        self.teardown(objs);
        outcome
    }

    /// Does not wait: when the thread has ended (returned, panicked or
    /// faulted), tears it down and returns what [`JoinHandle::join`] would
    /// (`Ok`); otherwise gives the handle back (`Err`). Something else
    /// sent to the thread's event endpoint is consumed and ignored.
    #[allow(clippy::result_large_err)]
    pub fn try_join(self, objs: &mut Objects) -> Result<Result<R, ThreadError>, JoinHandle<R>> {
        let outcome = loop {
            match poll_event(self.events.cap()) {
                None => return Err(self),
                Some(Event::Exit { status, .. }) => break self.exit_outcome(status),
                Some(Event::Fault { fault, .. }) => {
                    break Err(ThreadError::Faulted(Box::new(fault)))
                }
                Some(Event::Other { .. }) => continue,
            }
        };
        self.teardown(objs);
        Ok(outcome)
    }

    fn exit_outcome(&self, status: Word) -> Result<R, ThreadError> {
        match status {
            rt::EXIT_RETURNED => self
                .result
                .lock()
                .take()
                .ok_or(ThreadError::Aborted { status }),
            rt::EXIT_PANICKED => Err(ThreadError::Panicked {
                message: self.panic.lock().take().unwrap_or_default(),
            }),
            _ => Err(ThreadError::Aborted { status }),
        }
    }

    /// Stops the thread wherever it is and tears it down.
    pub fn kill(self, objs: &mut Objects) {
        self.teardown(objs);
    }

    fn teardown(self, objs: &mut Objects) {
        let JoinHandle {
            id,
            tcb,
            events,
            fault_ep,
            mut memory,
            ..
        } = self;
        let mut parts = Parts {
            tcb: Some(tcb),
            events: Some(events),
            fault_ep,
        };
        parts.release(objs);
        rt::unregister(id);
        // The TCB is gone: its stack, IPC buffer and TLS block can go.
        memory.release(objs);
    }
}

/// seL4 5.x: before a second thread runs, a helper thread tells the kernel
/// the initial thread's TLS base (see `sel4_runtime::thread`).
fn fix_initial_tls_base(objs: &mut Objects) -> Result<(), ThreadError> {
    let ntfn: Owned<Notification> = objs.create()?;
    let n = ntfn.cptr();
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
    rt::wait_for_initial_tls_fix(n);
    let r = helper.join(objs);
    let _ = objs.delete(ntfn);
    r?.map_err(ThreadError::TlsBaseFix)
}
