//! Threads in the root task's address space, and [`Objects`], the owner of
//! the root task's resources.
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
//! [`VSpace`] with one unmapped guard page below it, so a stack overflow is
//! a VM fault at the guard page (reported on the thread's fault endpoint
//! like any other fault). The stack's frame capabilities are kept in
//! CNodes of the `Objects` ([`PARK_RADIX`]), not in root CNode slots, so a
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
use sel4_alloc::{AllocError, Untyped as UntypedDesc};
use sel4_runtime::thread as rt;
use sel4_sys::{consts, CPtr, Fault, InvocationError, ObjectType, Word};

use crate::cap::cap_type;
use crate::cnode::ALL_RIGHTS;
use crate::cspace::{CSpace, ChildCNode};
use crate::fault::{poll_event, receive_event, Event, FaultHandler};
use crate::memory::UntypedPool;
use crate::untyped::Destination;
use crate::vspace::{self, Cache, VSpace, OBJECTS_WINDOW_END, OBJECTS_WINDOW_START};
use crate::{BootInfo, Cap, CapType, Endpoint, Error, FixedSize, Notification};
use crate::{Untyped, UntypedExt, TCB};

/// Highest priority (seL4_MaxPrio); the root task runs at it.
pub const MAX_PRIORITY: u8 = 255;
/// Default stack size of a new thread.
pub const DEFAULT_STACK_SIZE: usize = 64 * 1024;
const PAGE: usize = 4096;
/// Unmapped pages below each thread's stack.
pub const STACK_GUARD_PAGES: usize = 1;
/// log2 of the slots of each CNode that holds stack frame capabilities.
pub const PARK_RADIX: u8 = 8;
/// Smallest untyped (log2 bytes) that [`Objects::new`] carves at a time out
/// of the untypeds it was given.
pub const CHUNK_BITS: u8 = 17;

/// The root task's resources: its CSpace (one slot allocator), its untyped
/// memory (one bookkeeping of where objects are) and its VSpace (one
/// allocator of virtual ranges and the paging structures). Everything the
/// framework creates (objects, badged copies, threads with their stacks and
/// IPC buffers) goes through them; use [`Objects::cspace_mut`],
/// [`Objects::pool_mut`], [`Objects::vspace_mut`] (or
/// [`Objects::parts_mut`]) for the rest, so that nothing else hands out the
/// same slots or memory.
pub struct Objects {
    cspace: CSpace,
    pool: UntypedPool,
    vspace: VSpace,
    /// Untypeds given to [`Objects::new`] without their size: carved into
    /// pool untypeds of at least 2^[`CHUNK_BITS`] bytes when the pool runs
    /// dry (the kernel places them, so the caller may keep retyping from
    /// them too).
    opaque: Vec<Cap<Untyped>>,
    /// CNodes holding the frame capabilities of thread stacks.
    parks: Vec<ChildCNode>,
    /// Paging structures the VSpace created while mapping thread stacks
    /// and IPC buffers.
    thread_tables: Vec<CPtr>,
}

/// Dropping `Objects` deletes what it created for threads and keeps for
/// later ones: the CNodes that hold stack frames (which unmaps any stack
/// still mapped) and the paging structures created for stacks and IPC
/// buffers, so that once every thread is joined, no slot of its range is
/// left occupied by the thread machinery. Drop it only when none of its
/// threads runs any more. Objects and mappings handed to the caller stay.
impl Drop for Objects {
    fn drop(&mut self) {
        let (root, depth) = (self.cspace.root(), crate::cspace::depth());
        for p in self.parks.drain(..) {
            let _ = root.cnode_delete(p.cap().cptr(), depth);
        }
        // Lowest levels (created last) first.
        for t in self.thread_tables.drain(..).rev() {
            let _ = root.cnode_delete(t, depth);
        }
    }
}

/// A stack frame whose capability lives in one of the `Objects`' CNodes.
struct ParkedFrame {
    park: usize,
    index: u64,
    untyped: CPtr,
}

/// A reserved range of the VSpace: guard pages, then parked frames.
struct Region {
    start: u64,
    guard_pages: usize,
    frames: Vec<ParkedFrame>,
}

impl Region {
    fn top(&self) -> u64 {
        self.start + ((self.guard_pages + self.frames.len()) * PAGE) as u64
    }
}

/// The `Objects` variants of the allocators' exhaustion errors.
fn simple(e: Error) -> Error {
    match e {
        Error::Alloc(AllocError::SlotsExhausted { .. }) => Error::SlotsExhausted,
        Error::Alloc(AllocError::UntypedExhausted { size_bits, .. }) => Error::UntypedExhausted {
            size_bits: size_bits as usize,
        },
        e => e,
    }
}

fn untyped_exhausted(e: &Error) -> Option<u8> {
    match e {
        Error::Alloc(AllocError::UntypedExhausted { size_bits, .. }) => Some(*size_bits),
        Error::UntypedExhausted { size_bits } => Some(*size_bits as u8),
        _ => None,
    }
}

impl Objects {
    /// The root task's CSpace (bootinfo's empty slots), all of bootinfo's
    /// untypeds and its VSpace. An untyped the bookkeeping refuses (none
    /// does on a sane bootinfo) is left out with a warning, and if the
    /// image reached the mapping window (see [`VSpace::new`]) the window is
    /// left empty, so that threads fail to spawn with an error; use
    /// [`Objects::try_from_bootinfo`] to get those as errors instead.
    pub fn from_bootinfo(bootinfo: &BootInfo) -> Objects {
        let first = bootinfo.untyped().start as u64;
        let mut pool = UntypedPool::empty();
        for (i, u) in bootinfo.untypeds().enumerate() {
            let d = UntypedDesc {
                id: first + i as u64,
                paddr: u.paddr,
                size_bits: u.size_bits,
                is_device: u.is_device,
            };
            if let Err(e) = pool.add_untyped(d) {
                log::warn!("untyped {:#x} left out: {e}", d.id);
            }
        }
        let vspace = VSpace::new(bootinfo).unwrap_or_else(|e| {
            log::warn!("no mapping window for threads: {e}");
            VSpace::with_windows((0, 0), (0, 0))
        });
        Objects::from_parts(CSpace::new(bootinfo), pool, vspace)
    }

    /// As [`Objects::from_bootinfo`], with errors for an untyped the
    /// bookkeeping refuses or an image that reaches the mapping window.
    pub fn try_from_bootinfo(bootinfo: &BootInfo) -> Result<Objects, Error> {
        Ok(Objects::from_parts(
            CSpace::new(bootinfo),
            UntypedPool::new(bootinfo)?,
            VSpace::new(bootinfo)?,
        ))
    }

    /// Takes ownership of a CSpace, an untyped pool and a VSpace.
    pub fn from_parts(cspace: CSpace, pool: UntypedPool, vspace: VSpace) -> Objects {
        Objects {
            cspace,
            pool,
            vspace,
            opaque: Vec::new(),
            parks: Vec::new(),
            thread_tables: Vec::new(),
        }
    }

    /// Root CNode slots `[first_slot, end_slot)` and the given untypeds,
    /// whose sizes need not be known: memory is carved out of them (the
    /// kernel places it, so the caller may go on retyping from them too)
    /// in untypeds of at least 2^[`CHUNK_BITS`] bytes that the pool then
    /// manages. Virtual addresses for stacks and IPC buffers come from the
    /// share of [`OBJECTS_WINDOW_START`]..[`OBJECTS_WINDOW_END`] that
    /// belongs to the slots `[first_slot, end_slot)`, so instances over
    /// disjoint slot ranges never collide. `image_frames` is no longer used
    /// (IPC buffers are fresh frames); it is kept for compatibility. For a
    /// part of the root task that owns only some slots and memory, such as
    /// one test of a test harness.
    pub fn new(
        first_slot: u64,
        end_slot: u64,
        untypeds: Vec<Cap<Untyped>>,
        image_frames: CPtr,
    ) -> Objects {
        let _ = image_frames;
        let bits = sel4_sys::config::ROOT_CNODE_SIZE_BITS as u32;
        let share = ((OBJECTS_WINDOW_END - OBJECTS_WINDOW_START) >> bits) & !(PAGE as u64 - 1);
        let at = |slot: u64| {
            slot.saturating_mul(share)
                .saturating_add(OBJECTS_WINDOW_START)
                .min(OBJECTS_WINDOW_END)
        };
        let vspace = VSpace::with_windows((at(first_slot), at(end_slot)), (0, 0));
        let pool = UntypedPool::empty();
        let mut o = Objects::from_parts(CSpace::with_slots(first_slot, end_slot), pool, vspace);
        o.opaque = untypeds;
        o
    }

    /// The CSpace (slot allocator) everything here goes through.
    pub fn cspace(&self) -> &CSpace {
        &self.cspace
    }

    /// The CSpace, to allocate slots or operate on capabilities.
    pub fn cspace_mut(&mut self) -> &mut CSpace {
        &mut self.cspace
    }

    /// The untyped memory bookkeeping.
    pub fn pool(&self) -> &UntypedPool {
        &self.pool
    }

    /// The untyped memory, to create objects of any kind.
    pub fn pool_mut(&mut self) -> &mut UntypedPool {
        &mut self.pool
    }

    /// The VSpace (virtual ranges, mappings).
    pub fn vspace(&self) -> &VSpace {
        &self.vspace
    }

    /// The VSpace, to map frames.
    pub fn vspace_mut(&mut self) -> &mut VSpace {
        &mut self.vspace
    }

    /// All three at once, for the calls that take several of them
    /// (`pool.create(cspace)`, `vspace.map(pool, cspace, ..)`).
    pub fn parts_mut(&mut self) -> (&mut CSpace, &mut UntypedPool, &mut VSpace) {
        (&mut self.cspace, &mut self.pool, &mut self.vspace)
    }

    /// A free slot of the root CNode.
    pub fn alloc_slot(&mut self) -> Result<u64, Error> {
        self.cspace.alloc_slot().map_err(simple)
    }

    /// Returns a slot (it must be empty).
    pub fn free_slot(&mut self, slot: u64) {
        let _ = self.cspace.free_slot(slot);
    }

    /// Runs `op`; when it fails for lack of untyped memory and untypeds
    /// given to [`Objects::new`] can still give some, carves a chunk and
    /// runs `op` again.
    #[inline]
    fn with_memory<R>(
        &mut self,
        mut op: impl FnMut(&mut Objects) -> Result<R, Error>,
    ) -> Result<R, Error> {
        match op(self) {
            Ok(r) => Ok(r),
            Err(e) => self.retry_with_memory(e, op),
        }
    }

    /// [`Objects::with_memory`] after `op` failed with `e`.
    #[cold]
    #[inline(never)]
    fn retry_with_memory<R>(
        &mut self,
        mut e: Error,
        mut op: impl FnMut(&mut Objects) -> Result<R, Error>,
    ) -> Result<R, Error> {
        loop {
            match untyped_exhausted(&e) {
                Some(bits) if !self.opaque.is_empty() => {
                    if !self.carve_chunk(bits)? {
                        return Err(e);
                    }
                }
                _ => return Err(e),
            }
            match op(self) {
                Ok(r) => return Ok(r),
                Err(x) => e = x,
            }
        }
    }

    /// Carves an untyped of at least 2^`min_bits` bytes (2^[`CHUNK_BITS`]
    /// if there is room) out of the first given untyped with room and
    /// gives it to the pool. Returns whether it found room.
    fn carve_chunk(&mut self, min_bits: u8) -> Result<bool, Error> {
        let min_bits = min_bits.max(sel4_alloc::MIN_UNTYPED_BITS);
        let slot = self.cspace.alloc_slot()?;
        for i in 0..self.opaque.len() {
            let ut = self.opaque[i];
            let mut bits = min_bits.max(CHUNK_BITS);
            loop {
                let r = ut.retype_raw(
                    ObjectType::UntypedObject,
                    bits as usize,
                    Destination::root_cnode(),
                    slot,
                    1,
                );
                match r {
                    Ok(()) => {
                        let paddr = chunk_paddr(&mut self.cspace, slot, bits);
                        self.pool.add_untyped(UntypedDesc {
                            id: slot,
                            paddr,
                            size_bits: bits,
                            is_device: false,
                        })?;
                        return Ok(true);
                    }
                    Err(_) if bits > min_bits => bits -= 1,
                    Err(_) => break,
                }
            }
        }
        self.cspace.free_slot(slot)?;
        Ok(false)
    }

    /// Creates a fixed-size kernel object.
    pub fn create<T: FixedSize>(&mut self) -> Result<Cap<T>, Error> {
        self.with_memory(|o| o.pool.create::<T>(&mut o.cspace))
            .map_err(simple)
    }

    /// A badged copy of `cap` in a new slot.
    pub fn mint<T: CapType>(&mut self, cap: Cap<T>, badge: Word) -> Result<Cap<T>, Error> {
        self.cspace.mint(cap, ALL_RIGHTS, badge).map_err(simple)
    }

    /// Deletes the capability and frees its slot (and, for an object made
    /// here, gives its memory back to the bookkeeping).
    pub fn delete<T: CapType>(&mut self, cap: Cap<T>) -> Result<(), Error> {
        self.pool.delete_any(&mut self.cspace, cap)
    }

    /// A fresh 4 KiB frame of RAM mapped read-write at a free address of the
    /// VSpace's window; returns the frame and the address.
    fn map_new_page(&mut self) -> Result<(Cap<cap_type::X86Page>, u64), Error> {
        let frame: Cap<cap_type::X86Page> = self.create()?;
        let tables = self.vspace.tables().len();
        let r = self.with_memory(|o| {
            o.vspace.map(
                &mut o.pool,
                &mut o.cspace,
                frame,
                consts::PageBits as u8,
                vspace::RW,
                Cache::Default,
            )
        });
        self.note_tables(tables);
        match r {
            Ok(vaddr) => Ok((frame, vaddr)),
            Err(e) => {
                let _ = self.pool.destroy(&mut self.cspace, frame);
                Err(simple(e))
            }
        }
    }

    /// Unmaps a page of [`Objects::map_new_page`] and destroys its frame.
    fn unmap_page(&mut self, vaddr: u64) -> Result<(), Error> {
        let frame = self.vspace.unmap(vaddr)?;
        self.pool.destroy(&mut self.cspace, frame)
    }

    /// Reserves `guard_pages + pages` pages of the VSpace and maps fresh
    /// frames of RAM read-write at the last `pages` of them; the frames'
    /// capabilities go to the park CNodes.
    fn map_region(&mut self, guard_pages: usize, pages: usize) -> Result<Region, Error> {
        let start = self
            .vspace
            .reserve(((guard_pages + pages) * PAGE) as u64)
            .map_err(simple)?;
        let mut region = Region {
            start,
            guard_pages,
            frames: Vec::with_capacity(pages),
        };
        for i in 0..pages {
            let vaddr = start + ((guard_pages + i) * PAGE) as u64;
            match self.map_parked_page(start, vaddr) {
                Ok(f) => region.frames.push(f),
                Err(e) => {
                    let _ = self.unmap_region(region);
                    return Err(e);
                }
            }
        }
        Ok(region)
    }

    fn map_parked_page(&mut self, start: u64, vaddr: u64) -> Result<ParkedFrame, Error> {
        let frame: Cap<cap_type::X86Page> = self.create()?;
        let tables = self.vspace.tables().len();
        let mapped = self.with_memory(|o| {
            o.vspace.map_reserved(
                &mut o.pool,
                &mut o.cspace,
                frame,
                start,
                vaddr,
                vspace::RW,
                Cache::Default,
            )
        });
        self.note_tables(tables);
        match mapped.and_then(|()| self.park(frame)) {
            Ok(p) => Ok(p),
            Err(e) => {
                // Deleting the capability also unmaps the frame.
                let _ = self.pool.destroy(&mut self.cspace, frame);
                Err(simple(e))
            }
        }
    }

    /// Records the paging structures the VSpace created after it had
    /// `before` of them (for [`Drop`]).
    fn note_tables(&mut self, before: usize) {
        let new = self.vspace.tables().get(before..).unwrap_or(&[]);
        self.thread_tables.extend_from_slice(new);
    }

    /// Moves a frame's capability made by the pool into a park CNode.
    fn park(&mut self, frame: Cap<cap_type::X86Page>) -> Result<ParkedFrame, Error> {
        let park = match self.parks.iter().position(|c| c.slots().available() > 0) {
            Some(p) => p,
            None => {
                let c = self.with_memory(|o| o.cspace.create_cnode(&mut o.pool, PARK_RADIX))?;
                self.parks.push(c);
                self.parks.len() - 1
            }
        };
        let untyped = self
            .pool
            .untyped_of(frame)
            .ok_or(Error::Check("a stack frame the pool did not make"))?
            .cptr();
        let index = self.parks[park].move_in(&mut self.cspace, frame)?;
        // Cannot fail: the pool made the frame (checked above).
        self.pool.detach(frame.cptr())?;
        Ok(ParkedFrame {
            park,
            index,
            untyped,
        })
    }

    /// Deletes the parked frames of a region (which unmaps them), gives
    /// their memory back and releases the range. Goes on after an error
    /// and returns the first.
    fn unmap_region(&mut self, region: Region) -> Result<(), Error> {
        let mut first = Ok(());
        for f in region.frames {
            let r = self.parks[f.park]
                .delete(f.index)
                .and_then(|()| self.pool.object_deleted(f.untyped));
            if first.is_ok() {
                first = r;
            }
        }
        let r = self.vspace.release(region.start);
        first.and(r)
    }
}

/// The physical address of a freshly carved untyped of 2^`bits` bytes at
/// `slot`: its first 4 KiB, retyped into a frame and deleted again (the
/// untyped has no children then, so the kernel starts it from offset 0
/// again at its next retype). 0 when it is smaller than a page or the
/// kernel refuses (the address only matters for finding memory by physical
/// address, which nobody does for these).
fn chunk_paddr(cspace: &mut CSpace, slot: CPtr, bits: u8) -> u64 {
    if (bits as usize) < consts::PageBits {
        return 0;
    }
    let Ok(tmp) = cspace.alloc_slot() else {
        return 0;
    };
    let ut: Cap<Untyped> = Cap::from_cptr(slot);
    let mut paddr = 0;
    if ut
        .retype_raw(ObjectType::X86_4K, 0, Destination::root_cnode(), tmp, 1)
        .is_ok()
    {
        let frame: Cap<cap_type::X86Page> = Cap::from_cptr(tmp);
        paddr = crate::memory::frame_paddr(frame).unwrap_or(0);
        let _ = cspace.root().cnode_delete(tmp, crate::cspace::depth());
    }
    let _ = cspace.free_slot(tmp);
    paddr
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
    tcb: Cap<TCB>,
    events: Cap<Endpoint>,
    fault_ep: Option<Cap<Endpoint>>,
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
    let handle = JoinHandle {
        id,
        tcb,
        events,
        fault_ep: parts.fault_ep,
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
            label TCBSetTLSBase {
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
            label TCBSetTLSBase {
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
        self.tcb
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

    /// Does not wait: when the thread has ended (returned, panicked or
    /// faulted), tears it down and returns what [`JoinHandle::join`] would
    /// (`Ok`); otherwise gives the handle back (`Err`). Something else
    /// sent to the thread's event endpoint is consumed and ignored.
    #[allow(clippy::result_large_err)]
    pub fn try_join(self, objs: &mut Objects) -> Result<Result<R, ThreadError>, JoinHandle<R>> {
        let outcome = loop {
            match poll_event(self.events) {
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

    fn teardown(mut self, objs: &mut Objects) {
        let mut parts = Parts {
            tcb: Some(self.tcb),
            events: Some(self.events),
            fault_ep: self.fault_ep,
        };
        parts.release(objs);
        rt::unregister(self.id);
        // The TCB is gone: its stack, IPC buffer and TLS block can go.
        self.memory.release(objs);
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
