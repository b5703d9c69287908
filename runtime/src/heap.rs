//! The global heap: a `linked_list_allocator` heap over a static area (in
//! `.bss`) and a second one in a *growth window*, a range of virtual
//! addresses nothing else uses, which grows 2 MiB at a time from untyped
//! memory given to the runtime ([`add_memory`], [`grow`]).
//!
//! # Per-thread accounts
//! Every block is charged to the thread that allocated it: a 16-byte
//! header before the block names the thread's [`Account`], which counts
//! the bytes and blocks still allocated (whoever frees them later), the
//! peak, and the last allocation it refused. A spawned thread's account
//! has a limit: an allocation beyond it fails (for the alloc crate, with
//! the panic handler: the thread ends with `EXIT_HEAP_LIMIT`), so a
//! runaway thread fails its own allocation instead of eating the heap.
//!
//! A thread's heap is *not isolated*: all threads of the root task share
//! one address space, and a block a dead thread allocated may be in use by
//! live threads (a value it sent, a shared `Arc`), so the runtime cannot
//! free a dead thread's blocks; it reports them instead (the account lives
//! on until the last of its blocks is freed). Isolation needs a process
//! of its own (another VSpace).
//!
//! # Reserve
//! A thread's allocation is refused when it would leave less than
//! [`RESERVE_PER_LEVEL`] times the thread's *level* free (the initial
//! thread is level 0, a thread it spawns level 1, a thread that one spawns
//! level 2, ...). So when a thread exhausts the heap, the thread that
//! spawned it can still allocate to report and tear it down, and the
//! initial thread can always use the last bytes. A panicking thread counts
//! one level up: its panic message is formatted into the band of the
//! reserve its own level keeps.
//!
//! # Growth
//! [`add_memory`] takes an untyped capability of RAM away from the caller
//! (moved into the runtime's own CNode, so no one else can retype or
//! revoke it by that capability) into a reservoir; [`grow`] retypes 2 MiB
//! frames from the reservoir itself and maps them at the top of the
//! growth window, so no frame that anyone else holds a capability to ever
//! becomes heap. Frame capabilities go to the runtime's CNode, not to root
//! CNode slots, so the heap can grow as far as memory and the window
//! (4 GiB) go. [`refill`] grows the heap until [`LOW_WATER`] bytes are
//! free (as far as the memory given goes); the framework calls it when a
//! thread is spawned, joined or killed. An allocation itself never makes a
//! kernel call (it may run while the caller has its IPC buffer in use).

use core::alloc::{GlobalAlloc, Layout};
use core::fmt;
use core::ptr::{self, null_mut, NonNull};

use linked_list_allocator::Heap;
use sel4::vspace::{TableLevel, TABLE_LEVELS};
use sel4::{FrameOps, LargePage, VmAttributes};
use sel4_sys::{
    cap_type, consts, CPtr, Cap, FixedSize, InvocationError, LookupFailure, ObjectType, Word,
};

use crate::sync::RuntimeLock;
use crate::thread;

/// Bytes of the static heap area.
pub const STATIC_HEAP_SIZE: usize = 4 * 1024 * 1024;

/// First address of the heap's growth window: 64 GiB, far above the image
/// (linked at 4 MiB), its IPC buffer and bootinfo.
pub const GROWTH_WINDOW_START: usize = 0x10_0000_0000;
/// Size of the growth window (4 GiB).
pub const GROWTH_WINDOW_SIZE: usize = 0x1_0000_0000;

/// Size of the frames [`grow`] maps (2 MiB large pages).
pub const GROWTH_FRAME_SIZE: usize = 1 << consts::LargePageBits;

/// Bytes a thread of level `n` must leave free: `n * RESERVE_PER_LEVEL`.
pub const RESERVE_PER_LEVEL: usize = 64 * 1024;
/// Deepest level the reserve counts (deeper threads keep this one's).
pub const MAX_RESERVE_LEVEL: u8 = 8;

/// [`refill`] grows the heap when less than this is free.
pub const LOW_WATER: usize = 1024 * 1024;

/// log2 of the slots of the runtime's CNode (heap frames, paging
/// structures of the growth window, donated untypeds).
pub const RUNTIME_CNODE_BITS: u8 = 11;

/// Most untypeds [`add_memory`] keeps at once.
pub const MAX_RESERVOIR: usize = 32;
// one bit per entry in `Growth::exhausted`
const _: () = assert!(MAX_RESERVOIR <= u32::BITS as usize);

/// Bytes of the header before each block.
const HEADER: usize = 16;

#[repr(C, align(4096))]
struct Area([u8; STATIC_HEAP_SIZE]);

static mut AREA: Area = Area([0; STATIC_HEAP_SIZE]);

/// Why an allocation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllocFailureKind {
    // From 1: `None` of an `Option<AllocFailure>` is then the zero byte,
    // so the root account's initial value is all zeros (`.bss`).
    /// It would exceed the thread's heap limit.
    Limit = 1,
    /// The heap has no room (left for this thread: the reserve of the
    /// levels above it is not).
    OutOfMemory = 2,
}

/// An allocation the heap refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllocFailure {
    /// Whether the thread's limit or the heap's room refused it.
    pub kind: AllocFailureKind,
    /// Bytes asked for.
    pub requested: usize,
    /// Bytes the thread held then.
    pub in_use: usize,
    /// The thread's limit.
    pub limit: usize,
    /// Bytes free in the heap then.
    pub free: usize,
}

impl fmt::Display for AllocFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            AllocFailureKind::Limit => write!(
                f,
                "heap limit: {} more bytes asked with {} of {} in use",
                self.requested, self.in_use, self.limit
            ),
            AllocFailureKind::OutOfMemory => write!(
                f,
                "out of heap memory: {} bytes asked, {} free ({} in use by this thread)",
                self.requested, self.free, self.in_use
            ),
        }
    }
}

/// A thread's heap figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HeapReport {
    /// Bytes the thread allocated that are still allocated.
    pub in_use: usize,
    /// The most it held at once.
    pub peak: usize,
    /// Blocks it allocated that are still allocated.
    pub blocks: usize,
    /// Its limit.
    pub limit: usize,
}

/// An account's figures; lives in the heap, touched under the heap lock.
struct AccountData {
    in_use: usize,
    peak: usize,
    blocks: usize,
    limit: usize,
    level: u8,
    /// Handles plus blocks; freed at 0.
    refs: usize,
    owner: u64,
    failure: Option<AllocFailure>,
}

impl AccountData {
    const fn new(limit: usize, level: u8) -> AccountData {
        AccountData {
            in_use: 0,
            peak: 0,
            blocks: 0,
            limit,
            level,
            refs: 1,
            owner: 0,
            failure: None,
        }
    }
}

/// A thread's heap account (a counted reference to it; the account lives
/// on while blocks charged to it exist).
pub struct Account {
    data: NonNull<AccountData>,
}

// SAFETY: the account's data is only read and written with the heap lock
// held.
unsafe impl Send for Account {}
// SAFETY: as above.
unsafe impl Sync for Account {}

/// The runtime's CNode, its scratch slots, and what is in it.
struct Growth {
    /// Root CNode slots: the runtime's CNode, the untyped it keeps for its
    /// own objects, two scratch slots for objects on their way into it.
    cnode: CPtr,
    own_untyped: CPtr,
    scratch: [CPtr; 2],
    /// Next free index of the runtime CNode.
    next_index: usize,
    /// Donated untypeds: (index in the CNode, log2 size).
    reservoir: [(usize, u8); MAX_RESERVOIR],
    /// Bit `k`: `reservoir[k]` is exhausted. (A bit mask, not a `bool`
    /// per entry: a `bool` would give `Option<Growth>` a niche, and
    /// `None` would then be a non-zero byte that puts the whole heap
    /// state into `.data`, 720 bytes of the image file, issue 11.)
    exhausted: u32,
    reservoir_len: usize,
    /// Reservoir bytes not yet retyped (an estimate: the kernel decides).
    reservoir_bytes: usize,
    /// Paging structures created for the window.
    tables: usize,
}

struct Heaps {
    fixed: Heap,
    grown: Heap,
    /// Bytes of the growth window mapped (from its start; a length, not
    /// an address, so that the initial state is all zeros: `.bss`).
    grown_len: usize,
    growth: Option<Growth>,
    /// Frames the heap grew by.
    frames: usize,
}

struct GlobalHeap(RuntimeLock<Heaps>);

#[cfg_attr(target_os = "none", global_allocator)]
static HEAP: GlobalHeap = GlobalHeap(RuntimeLock::new(Heaps {
    fixed: Heap::empty(),
    grown: Heap::empty(),
    grown_len: 0,
    growth: None,
    frames: 0,
}));

/// Header size and alignment of the inner block for `layout`.
fn inner_layout(layout: Layout) -> Option<(Layout, usize)> {
    let align = layout.align().max(HEADER);
    let offset = align.max(HEADER);
    let size = layout.size().checked_add(offset)?;
    Some((Layout::from_size_align(size, align).ok()?, offset))
}

impl Heaps {
    fn free(&self) -> usize {
        self.fixed.free() + self.grown.free()
    }

    fn in_grown(&self, addr: usize) -> bool {
        (GROWTH_WINDOW_START..GROWTH_WINDOW_START + self.grown_len).contains(&addr)
    }

    fn raw_alloc(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        self.fixed
            .allocate_first_fit(layout)
            .or_else(|()| self.grown.allocate_first_fit(layout))
            .ok()
    }

    /// # Safety
    /// `p` came from `raw_alloc` with `layout`.
    unsafe fn raw_free(&mut self, p: NonNull<u8>, layout: Layout) {
        // SAFETY: per the contract, from the heap whose range holds it.
        unsafe {
            if self.in_grown(p.as_ptr() as usize) {
                self.grown.deallocate(p, layout)
            } else {
                self.fixed.deallocate(p, layout)
            }
        }
    }

    /// Drops one reference of an account; frees it at 0.
    ///
    /// # Safety
    /// `a` is a live account (not the root one) with a reference to drop.
    unsafe fn unref(&mut self, a: *mut AccountData) {
        // SAFETY: per the contract; the heap lock is held.
        unsafe {
            (*a).refs -= 1;
            if (*a).refs == 0 {
                self.raw_free(
                    NonNull::new_unchecked(a.cast()),
                    Layout::new::<AccountData>(),
                );
            }
        }
    }
}

/// The initial thread's account (and that of code without a control
/// block); touched only with the heap lock held. It has no limit, no
/// handles (its `refs` are not counted: it is never freed) and no refused
/// allocations (the heap refuses the root account only when it has no
/// room, and records nothing), so its initial value is all zeros (`.bss`,
/// not `.data` in every image).
struct RootAccount(core::cell::UnsafeCell<AccountData>);

// SAFETY: only accessed with the heap lock held.
unsafe impl Sync for RootAccount {}

static ROOT: RootAccount = RootAccount(core::cell::UnsafeCell::new(AccountData {
    in_use: 0,
    peak: 0,
    blocks: 0,
    limit: 0,
    level: 0,
    refs: 0,
    owner: 0,
    failure: None,
}));

fn root_account() -> *mut AccountData {
    ROOT.0.get()
}

/// The account new blocks of the calling thread are charged to.
fn account_of(ctl: &thread::Control) -> *mut AccountData {
    match ctl.account() {
        Some(a) => a.data.as_ptr(),
        None => root_account(),
    }
}

/// Records a refused allocation on a (non-root) account.
///
/// # Safety
/// `a` is a live account; the heap lock is held.
unsafe fn refuse(a: *mut AccountData, kind: AllocFailureKind, requested: usize, free: usize) {
    // SAFETY: per the contract.
    unsafe {
        (*a).failure = Some(AllocFailure {
            kind,
            requested,
            in_use: (*a).in_use,
            limit: (*a).limit,
            free,
        });
    }
}

// SAFETY: both heaps hand out disjoint memory they own; a block is
// returned to the heap whose range holds it (the growth window and the
// static area do not overlap); the header before each block is part of
// the inner block, which the caller never sees. Accounts are read and
// written only with the heap lock held.
unsafe impl GlobalAlloc for GlobalHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ctl = thread::current();
        let Some((inner, offset)) = inner_layout(layout) else {
            return null_mut();
        };
        let Ok(mut h) = self.0.lock() else {
            // Re-entered from a panic inside the allocator: refuse.
            return null_mut();
        };
        let acct = account_of(ctl);
        let is_root = acct == root_account();
        // SAFETY: `acct` is the root account or the thread's live account
        // (its handle lives in the thread's control block); the heap lock
        // is held, and no reference to the account is kept across calls.
        unsafe {
            if !is_root {
                let free = h.free();
                if !ctl.panicking() && (*acct).in_use.saturating_add(layout.size()) > (*acct).limit
                {
                    refuse(acct, AllocFailureKind::Limit, layout.size(), free);
                    return null_mut();
                }
                // A panicking thread may use its own level's band of the
                // reserve (its message, its report): the thread that
                // spawned it, one level up, keeps the rest.
                let level = (*acct).level.min(MAX_RESERVE_LEVEL) as usize;
                let level = if ctl.panicking() {
                    level.saturating_sub(1)
                } else {
                    level
                };
                if free < inner.size().saturating_add(RESERVE_PER_LEVEL * level) {
                    refuse(acct, AllocFailureKind::OutOfMemory, layout.size(), free);
                    return null_mut();
                }
            }
            let Some(base) = h.raw_alloc(inner) else {
                if !is_root {
                    let free = h.free();
                    refuse(acct, AllocFailureKind::OutOfMemory, layout.size(), free);
                }
                return null_mut();
            };
            (*acct).in_use += layout.size();
            (*acct).blocks += 1;
            (*acct).peak = (*acct).peak.max((*acct).in_use);
            if !is_root {
                (*acct).refs += 1;
            }
            // The inner block has `offset >= HEADER` bytes before the
            // caller's block; the header's 16 bytes end where the block
            // starts and are 16-aligned (offset and the inner alignment are
            // multiples of 16).
            let p = base.as_ptr().add(offset);
            ptr::write(p.sub(HEADER) as *mut *mut AccountData, acct);
            p
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ptr.is_null() {
            return;
        }
        let Some((inner, offset)) = inner_layout(layout) else {
            return;
        };
        let Ok(mut h) = self.0.lock() else {
            // Re-entered from a panic inside the allocator: the block is
            // kept (never reused), not freed into a heap mid-update.
            return;
        };
        // SAFETY: `ptr` came from `alloc` with this layout (GlobalAlloc's
        // contract), so the header before it names its account (live: the
        // block holds a reference) and the inner block starts `offset`
        // bytes before it; the heap lock is held.
        unsafe {
            let acct = ptr::read(ptr.sub(HEADER) as *const *mut AccountData);
            (*acct).in_use -= layout.size();
            (*acct).blocks -= 1;
            if acct != root_account() {
                h.unref(acct);
            }
            h.raw_free(NonNull::new_unchecked(ptr.sub(offset)), inner);
        }
    }
}

impl Account {
    /// A new account with `limit` bytes at reserve level `level`; `None`
    /// when the heap has no room for it.
    pub(crate) fn new(limit: usize, level: u8) -> Option<Account> {
        let mut h = HEAP.0.lock().ok()?;
        let p = h
            .raw_alloc(Layout::new::<AccountData>())?
            .cast::<AccountData>();
        // SAFETY: fresh memory of the account's layout.
        unsafe { p.as_ptr().write(AccountData::new(limit, level)) };
        Some(Account { data: p })
    }

    pub(crate) fn set_owner(&self, id: u64) {
        if let Ok(_h) = HEAP.0.lock() {
            // SAFETY: live account; heap lock held.
            unsafe { (*self.data.as_ptr()).owner = id };
        }
    }

    /// The account's figures.
    pub fn report(&self) -> HeapReport {
        match HEAP.0.lock() {
            // SAFETY: live account; heap lock held.
            Ok(_h) => unsafe {
                let a = &*self.data.as_ptr();
                HeapReport {
                    in_use: a.in_use,
                    peak: a.peak,
                    blocks: a.blocks,
                    limit: a.limit,
                }
            },
            Err(_) => HeapReport::default(),
        }
    }

    /// The last allocation the heap refused for this account.
    pub fn last_failure(&self) -> Option<AllocFailure> {
        let _h = HEAP.0.lock().ok()?;
        // SAFETY: live account; heap lock held.
        unsafe { (*self.data.as_ptr()).failure }
    }
}

impl Drop for Account {
    fn drop(&mut self) {
        if let Ok(mut h) = HEAP.0.lock() {
            // SAFETY: this handle holds one reference of a live account.
            unsafe { h.unref(self.data.as_ptr()) };
        }
    }
}

/// Hands the static area to the allocator; called once by the runtime,
/// before any allocation.
pub(crate) fn init() {
    let start = core::ptr::addr_of_mut!(AREA) as *mut u8;
    // SAFETY: the static area is used by nothing else (only the root
    // task's entry calls this, once).
    unsafe { init_region(start as usize, STATIC_HEAP_SIZE) }
}

/// Makes `[start, start + size)` the heap (a process's heap region, which
/// its loader mapped; a root task's static area). The growth window stays
/// unused unless memory is given ([`add_memory`]).
///
/// # Safety
/// Called once, before any allocation, from the initial thread; the range
/// is mapped read-write, zeroed or not, and used by nothing else for the
/// program's life.
pub(crate) unsafe fn init_region(start: usize, size: usize) {
    let mut h = HEAP.0.lock().unwrap_or_else(|_| unreachable!());
    if size == 0 {
        return;
    }
    // SAFETY: per the contract.
    unsafe { h.fixed.init(start as *mut u8, size) };
}

/// Binds the heap lock to its notification (runtime start).
pub(crate) fn bind(ntfn: Cap<cap_type::Notification>) -> bool {
    HEAP.0.bind(ntfn)
}

/// Bytes in use and bytes free in the heap (both parts), headers
/// included.
pub fn usage() -> (usize, usize) {
    match HEAP.0.lock() {
        Ok(h) => (h.fixed.used() + h.grown.used(), h.free()),
        Err(_) => (0, 0),
    }
}

/// The heap's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Bytes in use (headers included).
    pub used: usize,
    /// Bytes free.
    pub free: usize,
    /// Bytes added by growth.
    pub grown: usize,
    /// Bytes of donated untyped memory not yet mapped (an estimate).
    pub reservoir: usize,
    /// The initial thread's account.
    pub root: HeapReport,
}

/// The heap's figures.
pub fn stats() -> Stats {
    match HEAP.0.lock() {
        Ok(h) => Stats {
            used: h.fixed.used() + h.grown.used(),
            free: h.free(),
            grown: h.grown_len,
            reservoir: h.growth.as_ref().map_or(0, |g| g.reservoir_bytes),
            // SAFETY: the heap lock is held.
            root: unsafe {
                let a = &*root_account();
                HeapReport {
                    in_use: a.in_use,
                    peak: a.peak,
                    blocks: a.blocks,
                    limit: usize::MAX,
                }
            },
        },
        Err(_) => Stats::default(),
    }
}

/// The calling thread's account.
pub fn current() -> HeapReport {
    let ctl = thread::current();
    match ctl.account() {
        Some(a) => a.report(),
        None => stats().root,
    }
}

/// The next address [`grow`] maps a frame at (the end of the mapped part of
/// the growth window).
pub fn growth_top() -> usize {
    HEAP.0
        .lock()
        .map_or(GROWTH_WINDOW_START, |h| GROWTH_WINDOW_START + h.grown_len)
}

/// Adds `len` bytes at `start` to the static part of the heap. The region
/// must follow its current end exactly (linked_list_allocator grows at its
/// top); use [`add_memory`] and [`grow`] for memory from untyped.
///
/// # Safety
/// The memory must be mapped, writable, unused by anything else and stay so.
pub unsafe fn extend(start: usize, len: usize) -> Result<(), HeapExtendError> {
    let mut h = HEAP
        .0
        .lock()
        .map_err(|_| HeapExtendError { heap_top: 0, start })?;
    if h.fixed.top() as usize != start {
        return Err(HeapExtendError {
            heap_top: h.fixed.top() as usize,
            start,
        });
    }
    // SAFETY: per the contract, and the region starts at the heap's top.
    unsafe { h.fixed.extend(len) };
    Ok(())
}

/// The region given to [`extend`] does not start at the heap's top.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeapExtendError {
    /// The heap's current top, where the region would have to start (0
    /// when the heap's lock was poisoned).
    pub heap_top: usize,
    /// Where the region given starts.
    pub start: usize,
}

/// Why the heap did not take memory or did not grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrowError {
    /// The runtime has no CNode for heap frames (it could not create its
    /// objects at start).
    NotReady,
    /// The untyped is smaller than one 2 MiB frame.
    TooSmall {
        /// The untyped's size as a power of two (bytes).
        size_bits: u8,
    },
    /// The capability is not an untyped of RAM (the kernel refused a
    /// kernel object from it).
    NotRam(InvocationError),
    /// The reservoir or the runtime's CNode is full.
    Full,
    /// No donated memory is left.
    ReservoirEmpty,
    /// The growth window is full.
    WindowFull,
    /// A kernel invocation failed (the step names it).
    Kernel {
        /// The step that failed (names the invocation).
        step: &'static str,
        /// What the kernel returned.
        error: InvocationError,
    },
}

impl fmt::Display for GrowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GrowError::NotReady => write!(f, "the runtime has no CNode for heap frames"),
            GrowError::TooSmall { size_bits } => write!(
                f,
                "an untyped of 2^{size_bits} bytes is smaller than one 2 MiB heap frame"
            ),
            GrowError::NotRam(e) => write!(f, "not an untyped of RAM: {e}"),
            GrowError::Full => write!(f, "the heap's reservoir or CNode is full"),
            GrowError::ReservoirEmpty => {
                write!(f, "no untyped memory was given to the heap (add_memory)")
            }
            GrowError::WindowFull => write!(f, "the heap's growth window is full"),
            GrowError::Kernel { step, error } => write!(f, "{step}: {error}"),
        }
    }
}

fn root_cnode() -> Cap<cap_type::CNode> {
    Cap::from_cptr(crate::bootinfo::INIT_THREAD_CNODE)
}

const DEPTH: u8 = sel4_sys::config::WORD_SIZE as u8;

fn kernel(step: &'static str) -> impl Fn(InvocationError) -> GrowError {
    move |error| GrowError::Kernel { step, error }
}

impl Growth {
    fn runtime_cnode(&self) -> Cap<cap_type::CNode> {
        Cap::from_cptr(self.cnode)
    }

    /// Moves root slot `slot` into the runtime CNode; returns the index.
    fn park(&mut self, slot: CPtr) -> Result<usize, GrowError> {
        if self.next_index >= 1 << RUNTIME_CNODE_BITS {
            return Err(GrowError::Full);
        }
        let i = self.next_index;
        self.runtime_cnode()
            .cnode_move(i as Word, RUNTIME_CNODE_BITS, root_cnode(), slot, DEPTH)
            .map_err(kernel("CNode_Move (into the runtime's CNode)"))?;
        self.next_index += 1;
        Ok(i)
    }

    /// Moves index `i` of the runtime CNode to root slot `slot`.
    fn unpark(&self, i: usize, slot: CPtr) -> Result<(), GrowError> {
        root_cnode()
            .cnode_move(
                slot,
                DEPTH,
                self.runtime_cnode(),
                i as Word,
                RUNTIME_CNODE_BITS,
            )
            .map_err(kernel("CNode_Move (out of the runtime's CNode)"))
    }

    fn put_back(&self, i: usize, slot: CPtr) -> Result<(), GrowError> {
        self.runtime_cnode()
            .cnode_move(i as Word, RUNTIME_CNODE_BITS, root_cnode(), slot, DEPTH)
            .map_err(kernel("CNode_Move (back into the runtime's CNode)"))
    }

    /// Retypes one object of `ty` (`size_bits` for variable sizes) from the
    /// untyped at root slot `ut` into root slot `dest`.
    fn retype(
        ut: CPtr,
        ty: ObjectType,
        size_bits: usize,
        dest: CPtr,
    ) -> Result<(), InvocationError> {
        Cap::<cap_type::Untyped>::from_cptr(ut).untyped_retype(
            ty as Word,
            size_bits as Word,
            root_cnode(),
            0,
            0,
            dest,
            1,
        )
    }

    /// Creates the translation table of `level` for `vaddr` from the
    /// runtime's own untyped and maps it.
    fn add_table(&mut self, level: TableLevel, vaddr: usize) -> Result<(), GrowError> {
        let s = self.scratch[0];
        Growth::retype(self.own_untyped, level.object_type(), 0, s)
            .map_err(kernel("Untyped_Retype (translation table)"))?;
        if let Err(e) = level.map(s, sel4::init::VSPACE, vaddr as Word, VmAttributes::DEFAULT) {
            let _ = root_cnode().cnode_delete(s, DEPTH);
            return Err(GrowError::Kernel {
                step: "mapping a translation table of the growth window",
                error: e,
            });
        }
        if let Err(e) = self.park(s) {
            // Deleting its only capability unmaps and frees the table.
            let _ = root_cnode().cnode_delete(s, DEPTH);
            return Err(e);
        }
        self.tables += 1;
        Ok(())
    }

    /// A fresh 2 MiB frame from the reservoir, in scratch slot 1.
    fn new_frame(&mut self) -> Result<CPtr, GrowError> {
        let (ut_slot, frame_slot) = (self.scratch[0], self.scratch[1]);
        for k in 0..self.reservoir_len {
            let (index, bits) = self.reservoir[k];
            if self.exhausted & (1 << k) != 0 {
                continue;
            }
            self.unpark(index, ut_slot)?;
            let r = Growth::retype(ut_slot, <LargePage as FixedSize>::TYPE, 0, frame_slot);
            self.put_back(index, ut_slot)?;
            match r {
                Ok(()) => {
                    self.reservoir_bytes = self.reservoir_bytes.saturating_sub(GROWTH_FRAME_SIZE);
                    return Ok(frame_slot);
                }
                Err(InvocationError::NotEnoughMemory { .. }) => {
                    self.exhausted |= 1 << k;
                    self.reservoir_bytes = self
                        .reservoir_bytes
                        .saturating_sub(1usize.checked_shl(bits as u32).unwrap_or(0));
                }
                Err(e) => {
                    return Err(GrowError::Kernel {
                        step: "Untyped_Retype (heap frame)",
                        error: e,
                    })
                }
            }
        }
        Err(GrowError::ReservoirEmpty)
    }
}

/// Maps one more 2 MiB frame at the top of the growth window.
fn grow_one(h: &mut Heaps) -> Result<(), GrowError> {
    let top = GROWTH_WINDOW_START + h.grown_len;
    if top + GROWTH_FRAME_SIZE > GROWTH_WINDOW_START + GROWTH_WINDOW_SIZE {
        return Err(GrowError::WindowFull);
    }
    let g = h.growth.as_mut().ok_or(GrowError::NotReady)?;
    let frame = g.new_frame()?;
    let map = || {
        Cap::<LargePage>::from_cptr(frame).map(
            sel4::init::VSPACE,
            top as Word,
            sel4::CapRights::READ_WRITE,
            VmAttributes::DEFAULT,
        )
    };
    let mut r = map();
    // Translation tables the window lacks: each failed map names the bits
    // the kernel could not translate, which says which level is missing;
    // create that table from the runtime's own untyped and map again (at
    // most once per level).
    for _ in 0..TABLE_LEVELS.len() {
        let Err(InvocationError::FailedLookup {
            lookup_failure: LookupFailure::MissingCapability { bits_left },
            ..
        }) = r
        else {
            break;
        };
        let Some(level) = TableLevel::missing(bits_left) else {
            break;
        };
        if let Err(e) = g.add_table(level, top) {
            // The frame goes: nobody else has a capability to it.
            let _ = root_cnode().cnode_delete(frame, DEPTH);
            return Err(e);
        }
        r = map();
    }
    if let Err(e) = r {
        // The frame goes: nobody else has a capability to it.
        let _ = root_cnode().cnode_delete(frame, DEPTH);
        return Err(GrowError::Kernel {
            step: "Page_Map (heap frame)",
            error: e,
        });
    }
    if let Err(e) = g.park(frame) {
        // Deleting the only capability unmaps and frees the frame.
        let _ = root_cnode().cnode_delete(frame, DEPTH);
        return Err(e);
    }
    if top == GROWTH_WINDOW_START {
        // SAFETY: the kernel just mapped a fresh frame read-write at `top`,
        // retyped by the runtime itself (its only capability is in the
        // runtime's CNode); the window is used by nothing else.
        unsafe { h.grown.init(top as *mut u8, GROWTH_FRAME_SIZE) };
    } else {
        // SAFETY: as above; the frame starts at the grown heap's top.
        unsafe { h.grown.extend(GROWTH_FRAME_SIZE) };
    }
    h.grown_len += GROWTH_FRAME_SIZE;
    h.frames += 1;
    Ok(())
}

/// Records the runtime's CNode and slots (runtime start).
pub(crate) fn set_growth(cnode: CPtr, own_untyped: CPtr, scratch: [CPtr; 2]) {
    if let Ok(mut h) = HEAP.0.lock() {
        h.growth = Some(Growth {
            cnode,
            own_untyped,
            scratch,
            next_index: 0,
            reservoir: [(0, 0); MAX_RESERVOIR],
            exhausted: 0,
            reservoir_len: 0,
            reservoir_bytes: 0,
            tables: 0,
        });
    }
}

/// Gives the heap the untyped memory at `untyped` (2^`size_bits` bytes of
/// RAM, at least 2 MiB): its capability moves into the runtime's CNode
/// (the slot is empty afterwards; free it in your slot allocator) and the
/// heap grows from it later ([`grow`], [`refill`]). Refused, with the
/// capability left where it was, when it is not an untyped of RAM.
pub fn add_memory(untyped: Cap<cap_type::Untyped>, size_bits: u8) -> Result<(), GrowError> {
    if (size_bits as usize) < consts::LargePageBits {
        return Err(GrowError::TooSmall { size_bits });
    }
    let mut h = HEAP.0.lock().map_err(|_| GrowError::NotReady)?;
    let g = h.growth.as_mut().ok_or(GrowError::NotReady)?;
    if g.reservoir_len == MAX_RESERVOIR {
        return Err(GrowError::Full);
    }
    // An untyped of RAM makes a notification; a device untyped, or any
    // other capability, does not (a notification capability "succeeds" by
    // being signalled: the copy below finds the slot empty). The probe is
    // deleted at once.
    let (probe, check) = (g.scratch[1], g.scratch[0]);
    Growth::retype(untyped.cptr(), ObjectType::NotificationObject, 0, probe)
        .map_err(GrowError::NotRam)?;
    let made = root_cnode().cnode_copy(
        check,
        DEPTH,
        root_cnode(),
        probe,
        DEPTH,
        sel4_sys::CapRights(0b11),
    );
    let _ = root_cnode().cnode_delete(check, DEPTH);
    let _ = root_cnode().cnode_delete(probe, DEPTH);
    made.map_err(GrowError::NotRam)?;
    let index = g.park(untyped.cptr())?;
    let n = g.reservoir_len;
    g.reservoir[n] = (index, size_bits);
    g.exhausted &= !(1 << n);
    g.reservoir_len += 1;
    g.reservoir_bytes += 1usize.checked_shl(size_bits as u32).unwrap_or(0);
    Ok(())
}

/// Grows the heap by at least `bytes` (whole 2 MiB frames) from the memory
/// given with [`add_memory`]; returns the bytes added. Stops at the first
/// error, keeping what was added.
pub fn grow(bytes: usize) -> Result<usize, GrowError> {
    let mut h = HEAP.0.lock().map_err(|_| GrowError::NotReady)?;
    let mut added = 0;
    while added < bytes {
        grow_one(&mut h)?;
        added += GROWTH_FRAME_SIZE;
    }
    Ok(added)
}

/// Grows the heap, a frame at a time, until [`LOW_WATER`] bytes are free
/// or the memory given runs out; returns the bytes added (0 when none were
/// needed or none are left).
pub fn refill() -> usize {
    let Ok(mut h) = HEAP.0.lock() else { return 0 };
    let mut added = 0;
    while h.free() < LOW_WATER {
        if grow_one(&mut h).is_err() {
            break;
        }
        added += GROWTH_FRAME_SIZE;
    }
    added
}
