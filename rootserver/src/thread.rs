//! Threads in the root task's address space.
//!
//! [`spawn`] (or [`ThreadBuilder`]) runs a Rust closure on a new TCB with
//! its own stack, TLS block (from the image's `PT_TLS`) and IPC buffer, at a
//! chosen priority. [`JoinHandle::join`] returns the closure's result, or
//! [`ThreadError::Panicked`] / [`ThreadError::Faulted`] when the thread
//! panicked or faulted; joining (or dropping the handle through
//! [`JoinHandle::kill`]) tears the thread down: TCB and endpoint deleted,
//! slots, stack, TLS block and IPC buffer freed.
//!
//! Memory: the stack, the TLS block and the IPC buffer page are taken from
//! the heap (which lives in the image, so the IPC buffer's frame capability
//! is one of bootinfo's `userImageFrames`). The stack therefore has no
//! unmapped guard page below it.
//!
//! Each thread has an *event endpoint*: the kernel sends its faults there
//! (unless a shared [`FaultHandler`](crate::fault::FaultHandler) was given)
//! and the runtime's trampoline sends the thread's exit there.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use sel4_runtime::thread as rt;
use sel4_sys::{invocation, CPtr, Fault, InvocationError, InvocationLabel, Word};

use crate::cnode::{self, CNodeExt, ALL_RIGHTS};
use crate::fault::{receive_event, Event, FaultHandler};
use crate::{BootInfo, Cap, CapType, Endpoint, Error, FixedSize, Notification, SlotAllocator};
use crate::{Untyped, UntypedExt, TCB};

/// Highest priority (seL4_MaxPrio); the root task runs at it.
pub const MAX_PRIORITY: u8 = 255;
/// Default stack size of a new thread.
pub const DEFAULT_STACK_SIZE: usize = 64 * 1024;
const PAGE: usize = 4096;

/// Capability slots and untyped memory for kernel objects: what spawning
/// threads and creating endpoints needs.
pub struct Objects {
    slots: SlotAllocator,
    untypeds: Vec<Cap<Untyped>>,
    image_frames: u64,
}

impl Objects {
    /// All RAM untypeds (largest first) and the empty slots of bootinfo.
    pub fn from_bootinfo(bootinfo: &BootInfo) -> Objects {
        let empty = bootinfo.empty();
        let first = bootinfo.untyped().start as u64;
        let mut ram: Vec<(u64, usize)> = bootinfo
            .untypeds()
            .enumerate()
            .filter(|(_, u)| !u.is_device)
            .map(|(i, u)| (first + i as u64, u.size_bits as usize))
            .collect();
        ram.sort_by_key(|u| core::cmp::Reverse(u.1));
        Objects {
            slots: SlotAllocator::new(empty.start as u64, empty.end as u64),
            untypeds: ram.into_iter().map(|(c, _)| Cap::from_cptr(c)).collect(),
            image_frames: bootinfo.user_image_frames().start as u64,
        }
    }

    /// Root CNode slots `[first_slot, end_slot)` and the given untypeds
    /// (tried in order); `image_frames` is bootinfo's first
    /// `userImageFrames` slot (IPC buffers of new threads are image pages).
    /// For a part of the root task that owns only some slots and memory,
    /// such as one test of a test harness.
    pub fn new(
        first_slot: u64,
        end_slot: u64,
        untypeds: Vec<Cap<Untyped>>,
        image_frames: CPtr,
    ) -> Objects {
        Objects {
            slots: SlotAllocator::new(first_slot, end_slot),
            untypeds,
            image_frames,
        }
    }

    /// A free slot of the root CNode.
    pub fn alloc_slot(&mut self) -> Result<u64, Error> {
        self.slots.alloc().map_err(|_| Error::SlotsExhausted)
    }

    /// Returns a slot (it must be empty).
    pub fn free_slot(&mut self, slot: u64) {
        let _ = self.slots.free(slot);
    }

    /// Creates a fixed-size kernel object from the first untyped with room.
    pub fn create<T: FixedSize>(&mut self) -> Result<Cap<T>, Error> {
        let slot = self.alloc_slot()?;
        let mut last = Error::UntypedExhausted {
            size_bits: T::SIZE_BITS,
        };
        for i in 0..self.untypeds.len() {
            match self.untypeds[i].retype::<T>(slot) {
                Ok(c) => return Ok(c),
                Err(e) => last = e,
            }
        }
        let _ = self.slots.free(slot);
        Err(last)
    }

    /// A badged copy of `cap` in a new slot.
    pub fn mint<T: CapType>(&mut self, cap: Cap<T>, badge: Word) -> Result<Cap<T>, Error> {
        let slot = self.alloc_slot()?;
        cnode::root()
            .mint(slot, cap, ALL_RIGHTS, badge)
            .inspect_err(|_| {
                let _ = self.slots.free(slot);
            })
    }

    /// Deletes the capability and frees its slot.
    pub fn delete<T: CapType>(&mut self, cap: Cap<T>) -> Result<(), Error> {
        cnode::root().delete(cap.cptr())?;
        let _ = self.slots.free(cap.cptr());
        Ok(())
    }

    /// Slot of the frame capability that maps the image page at `vaddr`.
    fn image_frame(&self, vaddr: usize) -> Option<CPtr> {
        let start = rt::image_start();
        if vaddr < start {
            return None;
        }
        Some(self.image_frames + ((vaddr - start) / PAGE) as u64)
    }
}

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

#[repr(C, align(4096))]
struct Page([u8; PAGE]);

/// Options of a new thread.
#[derive(Clone, Copy)]
pub struct ThreadBuilder<'h> {
    priority: u8,
    stack_size: usize,
    fault_handler: Option<(&'h FaultHandler, Word)>,
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
        }
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
    tcb: Cap<TCB>,
    events: Cap<Endpoint>,
    fault_ep: Option<Cap<Endpoint>>,
    result: Arc<spin::Mutex<Option<R>>>,
    panic: Arc<spin::Mutex<Option<String>>>,
    _stack: Vec<u8>,
    _tls: Vec<u8>,
    _ipc_buffer: Box<Page>,
}

struct Parts {
    tcb: Option<Cap<TCB>>,
    events: Option<Cap<Endpoint>>,
    fault_ep: Option<Cap<Endpoint>>,
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
    let stack = alloc::vec![0u8; b.stack_size.max(4096)];
    let stack_top = stack.as_ptr() as usize + stack.len();
    let ipc_buffer = Box::new(Page([0; PAGE]));
    let ipc_addr = &*ipc_buffer as *const Page as usize;
    let frame = objs
        .image_frame(ipc_addr)
        .ok_or(ThreadError::NoFrameForIpcBuffer { vaddr: ipc_addr })?;

    let mut parts = Parts {
        tcb: None,
        events: None,
        fault_ep: None,
    };
    let r = (|| {
        let tcb = objs.create::<TCB>()?;
        parts.tcb = Some(tcb);
        let events = objs.create::<Endpoint>()?;
        parts.events = Some(events);
        let fault_ep = match b.fault_handler {
            Some((h, badge)) => {
                let e = objs.mint(h.endpoint(), badge)?;
                parts.fault_ep = Some(e);
                e
            }
            None => events,
        };
        Ok::<_, ThreadError>((tcb, events, fault_ep))
    })();
    let (tcb, events, fault_ep) = match r {
        Ok(v) => v,
        Err(e) => {
            parts.release(objs);
            return Err(e);
        }
    };

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
    let handle = JoinHandle {
        id,
        tcb,
        events,
        fault_ep: parts.fault_ep,
        result,
        panic,
        _stack: stack,
        _tls: tls_area,
        _ipc_buffer: ipc_buffer,
    };
    let regs = rt::EntryRegs::new(id, stack_top, tp, ipc_addr, tcb.cptr(), events.cptr());
    let setup = (|| {
        let cspace = cnode::root();
        let vspace = sel4_sys::init_caps::CapInitThreadVSpace as CPtr;
        invocation::call(
            tcb.cptr(),
            InvocationLabel::TCBSetSpace,
            &[cspace.cptr(), vspace],
            &[fault_ep.cptr(), 0, 0],
        )
        .map_err(step("TCB_SetSpace"))?;
        invocation::call(
            tcb.cptr(),
            InvocationLabel::TCBSetIPCBuffer,
            &[frame],
            &[ipc_addr as Word],
        )
        .map_err(step("TCB_SetIPCBuffer"))?;
        invocation::call(
            tcb.cptr(),
            InvocationLabel::TCBSetPriority,
            &[sel4_runtime::bootinfo::INIT_THREAD_TCB],
            &[Word::from(b.priority)],
        )
        .map_err(step("TCB_SetPriority"))?;
        // rip, rsp, rflags, rax, rbx, rcx, rdx, rsi, rdi, rbp, r8-r15, then
        // the TLS base (tls_base on 5.x, fs_base on 12+).
        let mut words = [0 as Word; 2 + 19];
        words[1] = 19;
        let ctx = &mut words[2..];
        ctx[0] = regs.rip;
        ctx[1] = regs.rsp;
        ctx[5] = regs.rcx;
        ctx[6] = regs.rdx;
        ctx[7] = regs.rsi;
        ctx[8] = regs.rdi;
        ctx[10] = regs.r8;
        ctx[18] = tp as Word;
        invocation::call(tcb.cptr(), InvocationLabel::TCBWriteRegisters, &[], &words)
            .map_err(step("TCB_WriteRegisters"))?;
        sel4_sys::sel4_cfg_if! {
            label TCBSetTLSBase {
                invocation::call(tcb.cptr(), InvocationLabel::TCBSetTLSBase, &[], &[tp as Word])
                    .map_err(step("TCB_SetTLSBase"))?;
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
        self.tcb
    }

    /// Waits for the thread to end, then tears it down.
    pub fn join(self, objs: &mut Objects) -> Result<R, ThreadError> {
        let outcome = loop {
            match receive_event(self.events) {
                Event::Exit { status, .. } => break self.exit_outcome(status),
                Event::Fault { fault, .. } => break Err(ThreadError::Faulted(Box::new(fault))),
                // Not from this thread's kernel or runtime: ignore.
                Event::Other { .. } => continue,
            }
        };
        self.teardown(objs);
        outcome
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
        let mut parts = Parts {
            tcb: Some(self.tcb),
            events: Some(self.events),
            fault_ep: self.fault_ep,
        };
        parts.release(objs);
        rt::unregister(self.id);
        // Stack, TLS block and IPC buffer are dropped with `self`, after
        // the TCB is gone.
    }
}

/// seL4 5.x: before a second thread runs, a helper thread tells the kernel
/// the initial thread's TLS base (see `sel4_runtime::thread`).
fn fix_initial_tls_base(objs: &mut Objects) -> Result<(), ThreadError> {
    let ntfn: Cap<Notification> = objs.create()?;
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
