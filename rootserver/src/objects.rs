//! [`Objects`], the owner of the root task's resources: its CSpace, its
//! untyped memory and its VSpace, and the memory of the threads it runs
//! (stacks parked in CNodes of its own, IPC buffers). It is the one API
//! for capabilities: creating objects, copying, minting, moving, deleting
//! and revoking capabilities, CNodes of its own, and mapping frames.
//!
//! # Ownership
//!
//! Everything `Objects` makes is handed out as an owned handle
//! ([`Owned<T>`], [`ChildCap<T>`], [`Slot`]; see [`crate::cap`]). The
//! calls that give a slot back consume the handle ([`Objects::delete`],
//! [`Objects::delete_child`], [`Objects::move_into`],
//! [`Objects::move_out`], [`Objects::free_slot`]); those that move a
//! capability update the handle in place ([`Objects::move_cap`],
//! [`Objects::mutate`], [`Objects::rotate`]). A call that fails gives the
//! handle back ([`Refused`]) or leaves it as it was. Handles of another
//! `Objects` are refused ([`Error::NotOwner`]).
//!
//! # How memory comes back
//!
//! An object's memory is free again when its last capability is gone: the
//! original and every copy or badged copy made through `Objects` (the
//! kernel resets an untyped only then). Deleting the original of an object
//! that still has copies leaves the object alive. [`Objects::revoke`]
//! deletes the copies the kernel counts as derived from a capability;
//! deleting a CNode made by [`Objects::create_cnode`] or an untyped made by
//! [`Objects::create_untyped`] revokes it first, so that the CNode (with
//! its contents) or the untyped's objects are gone with it. Capabilities
//! the kernel deleted that way leave their handles naming empty slots:
//! deleting those handles gives the slots back.

use alloc::vec::Vec;
use sel4_alloc::{AllocError, SlotAllocator, UntypedDesc};
use sel4_sys::{consts, CPtr, CapRights, ObjectType, Word};

use crate::cap::{cap_type, new_owner, CNode, Cap, CapType, ChildCap, FixedSize, Owned, OwnerId};
use crate::cap::{Slot, SlotRange, Untyped};
use crate::cnode::{self, SlotRef, ALL_RIGHTS};
use crate::cspace::CSpace;
use crate::error::{Error, Result};
use crate::memory::{MemoryKind, UntypedPool};
use crate::untyped::{Destination, UntypedExt};
use crate::view::View;
use crate::vspace::{self, Cache, VSpace, OBJECTS_WINDOW_END, OBJECTS_WINDOW_START};
use crate::BootInfo;
use sel4::{AsidControlOps, AsidPoolOps, CapData};

const PAGE: usize = 4096;
/// log2 of the slots of each CNode that holds stack frame capabilities.
pub const PARK_RADIX: u8 = 8;
/// [`Objects::new`] divides the objects window among the first
/// 2^`SHARE_BITS` slots of the root CNode (256 KiB of addresses per slot,
/// 512 KiB on a 2^12-slot root CNode); instances over slots beyond get no
/// window (threads fail to spawn with a window error).
pub const SHARE_BITS: u32 = 13;
/// Smallest untyped (log2 bytes) that [`Objects::new`] carves at a time out
/// of the untypeds it was given.
pub const CHUNK_BITS: u8 = 17;
/// The largest radix of a CNode of [`Objects::create_cnode`].
pub const MAX_CNODE_RADIX: u8 = 32;

/// A consuming call failed: the error, and the handle it was given back.
#[derive(Debug)]
pub struct Refused<H> {
    /// Why it failed.
    pub error: Error,
    /// The handle, unchanged (it still owns what it owned).
    pub handle: H,
}

impl<H> From<Refused<H>> for Error {
    fn from(r: Refused<H>) -> Error {
        r.error
    }
}

impl<H> core::fmt::Display for Refused<H> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.error.fmt(f)
    }
}

/// A CNode made by [`Objects::create_cnode`] (or for thread stacks), with
/// an allocator over its slots.
#[derive(Debug)]
struct ChildNode {
    /// Root CNode slot of its (original) capability.
    slot: CPtr,
    radix: u8,
    slots: SlotAllocator,
    owner: OwnerId,
}

impl ChildNode {
    fn at(&self, index: u64) -> SlotRef {
        SlotRef::child(Cap::from_cptr(self.slot), index, self.radix)
    }

    fn key(&self, index: u64) -> u64 {
        child_key(self.owner, index)
    }
}

/// The bookkeeping key of slot `index` of the child CNode `owner` (root
/// CNode slots are their own keys, all below 2^32).
fn child_key(owner: OwnerId, index: u64) -> u64 {
    ((owner as u64) << 32) | index
}

/// The root task's resources: its CSpace (one slot allocator), its untyped
/// memory (one bookkeeping of where objects are and which capabilities
/// name them) and its VSpace (one allocator of virtual ranges and the
/// paging structures). See the [module documentation](self) for the
/// ownership rules.
pub struct Objects {
    cspace: CSpace,
    pool: UntypedPool,
    vspace: VSpace,
    /// Untypeds given to [`Objects::new`] without their size: carved into
    /// pool untypeds of at least 2^[`CHUNK_BITS`] bytes when the pool runs
    /// dry (the kernel places them, so the caller may keep retyping from
    /// them too).
    opaque: Vec<Cap<Untyped>>,
    /// The chunks carved from them.
    chunks: Vec<CPtr>,
    /// CNodes of [`Objects::create_cnode`] and park CNodes.
    children: Vec<ChildNode>,
    /// Owners (ids) of the CNodes that hold stack frames.
    parks: Vec<OwnerId>,
    /// Distinguishes this instance from every other (for the threads it
    /// detached).
    instance: u64,
    /// ASID pools [`Objects::assign_asid`] made when the others were full.
    asid_pools: Vec<AsidPool>,
}

/// An ASID pool made by [`Objects::create_asid_pool`]: the pool and the
/// 4 KiB untyped it occupies. VSpaces assigned from it lose their ASID
/// when it is deleted ([`Objects::delete_asid_pool`]).
#[derive(Debug)]
#[must_use = "an ASID pool keeps its untyped until Objects::delete_asid_pool gives it back"]
pub struct AsidPool {
    pool: Owned<sel4::AsidPool>,
    untyped: Owned<Untyped>,
}

impl AsidPool {
    /// The pool's capability.
    pub fn cap(&self) -> Cap<sel4::AsidPool> {
        self.pool.cap()
    }
}

static NEXT_INSTANCE: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(1);

/// Dropping `Objects` deletes what it holds itself and nobody else has a
/// handle to: frames it mapped of its own (thread IPC buffers,
/// [`Objects::map_new_pages`]), the CNodes that hold thread stacks (which
/// unmaps them), the paging structures it created inside its windows, and
/// the untypeds it carved or split. Drop it only when none of its threads
/// runs any more. What was handed out stays (handles of this `Objects` are
/// refused by any other).
impl Drop for Objects {
    fn drop(&mut self) {
        // Detached threads of this instance can no longer be torn down
        // here: forget them (what the runtime keeps for a thread that may
        // still run stays alive).
        crate::thread::forget_detached(self.instance);
        for p in self.asid_pools.drain(..) {
            let _ = cnode::delete(SlotRef::root(p.pool.cptr()));
            let _ = cnode::revoke(SlotRef::root(p.untyped.cptr()));
            let _ = cnode::delete(SlotRef::root(p.untyped.cptr()));
        }
        let owned: Vec<CPtr> = self
            .vspace
            .mappings()
            .filter(|(_, m)| m.owned)
            .map(|(_, m)| m.frame.cptr())
            .collect();
        for f in owned {
            let _ = cnode::delete(SlotRef::root(f));
        }
        for p in self.parks.drain(..) {
            if let Some(c) = self.children.iter().find(|c| c.owner == p) {
                let _ = cnode::revoke(SlotRef::root(c.slot));
                let _ = cnode::delete(SlotRef::root(c.slot));
            }
        }
        for t in self.vspace.window_tables() {
            let _ = cnode::delete(SlotRef::root(t));
        }
        let spares: Vec<CPtr> = self.pool.allocator().spares().collect();
        for s in spares {
            let _ = cnode::delete(SlotRef::root(s));
        }
        for &s in self.pool.split_untypeds().iter().chain(&self.chunks) {
            let _ = cnode::delete(SlotRef::root(s));
        }
    }
}

/// A stack frame whose capability lives in one of the `Objects`' CNodes.
pub(crate) struct ParkedFrame {
    park: OwnerId,
    index: u64,
}

/// A reserved range of the VSpace: guard pages, then parked frames.
pub(crate) struct Region {
    pub(crate) start: u64,
    pub(crate) guard_pages: usize,
    pub(crate) frames: Vec<ParkedFrame>,
}

impl Region {
    pub(crate) fn top(&self) -> u64 {
        self.start + ((self.guard_pages + self.frames.len()) * PAGE) as u64
    }
}

/// What [`Objects`] answers when an operation would unmap a [`View`]'s
/// frame.
const VIEW_IN_THE_WAY: Error = Error::Check(
    "a View maps a frame this would unmap or delete: give it back with Objects::unmap_view first",
);

fn untyped_exhausted(e: &Error) -> Option<u8> {
    match e {
        Error::Alloc(AllocError::UntypedExhausted { size_bits, .. }) => Some(*size_bits),
        _ => None,
    }
}

impl Objects {
    /// The root task's CSpace (bootinfo's empty slots), all of bootinfo's
    /// untypeds and its VSpace. An untyped the bookkeeping refuses (none
    /// does on a sane bootinfo) is left out with a warning, and if the
    /// image reached the mapping window (see [`VSpace::new`]) the window is
    /// left empty, so that threads fail to spawn with an error; use
    /// [`Objects::try_from_bootinfo`] to get those as errors instead. Make
    /// one: two would hand out the same slots and memory.
    #[must_use = "Objects owns the root task's free slots and untyped memory"]
    pub fn from_bootinfo(bootinfo: &BootInfo) -> Objects {
        let vspace = VSpace::new(bootinfo).unwrap_or_else(|e| {
            log::warn!("no mapping window for threads: {e}");
            VSpace::with_windows((0, 0), (0, 0))
        });
        Objects::from_parts(
            CSpace::new(bootinfo),
            UntypedPool::new_lenient(bootinfo),
            vspace,
        )
    }

    /// As [`Objects::from_bootinfo`], with errors for an untyped the
    /// bookkeeping refuses or an image that reaches the mapping window.
    pub fn try_from_bootinfo(bootinfo: &BootInfo) -> Result<Objects> {
        Ok(Objects::from_parts(
            CSpace::new(bootinfo),
            UntypedPool::new(bootinfo)?,
            VSpace::new(bootinfo)?,
        ))
    }

    /// Takes ownership of a CSpace, an untyped pool and a VSpace (whose
    /// slots, memory and windows nothing else uses).
    #[must_use = "Objects owns the slots and memory it was given"]
    pub fn from_parts(cspace: CSpace, pool: UntypedPool, vspace: VSpace) -> Objects {
        Objects {
            cspace,
            pool,
            vspace,
            opaque: Vec::new(),
            chunks: Vec::new(),
            children: Vec::new(),
            parks: Vec::new(),
            instance: NEXT_INSTANCE.fetch_add(1, core::sync::atomic::Ordering::Relaxed),
            asid_pools: Vec::new(),
        }
    }

    /// A number no other `Objects` of this run has (threads detached from
    /// this instance are torn down by this instance only).
    pub fn instance(&self) -> u64 {
        self.instance
    }

    /// Root CNode slots `[first_slot, end_slot)` and the given untypeds,
    /// whose sizes need not be known: memory is carved out of them (the
    /// kernel places it, so the caller may go on retyping from them too)
    /// in untypeds of at least 2^[`CHUNK_BITS`] bytes that the pool then
    /// manages. Virtual addresses for stacks and IPC buffers come from the
    /// share of [`OBJECTS_WINDOW_START`]..[`OBJECTS_WINDOW_END`] that
    /// belongs to the slots `[first_slot, end_slot)`, so instances over
    /// disjoint slot ranges never collide. For a part of the root task that
    /// owns only some slots and memory, such as one test of a test harness;
    /// nothing else may use those slots.
    #[must_use = "Objects owns the slots and memory it was given"]
    pub fn new(first_slot: u64, end_slot: u64, untypeds: Vec<Cap<Untyped>>) -> Objects {
        // Slots beyond 2^SHARE_BITS get an empty window (16.0.0's root
        // CNode has 2^19 slots: a share of 2^-19 of the window would be
        // 4 KiB, too small for a stack).
        let bits = core::cmp::min(sel4_sys::config::ROOT_CNODE_SIZE_BITS as u32, SHARE_BITS);
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

    /// The CSpace (slot counts).
    pub fn cspace(&self) -> &CSpace {
        &self.cspace
    }

    /// The untyped memory and the bookkeeping of what was made from it.
    pub fn pool(&self) -> &UntypedPool {
        &self.pool
    }

    /// The VSpace (windows, mappings, paging structures).
    pub fn vspace(&self) -> &VSpace {
        &self.vspace
    }

    fn owner(&self) -> OwnerId {
        self.cspace.owner()
    }

    fn owned<T: CapType>(&self, slot: CPtr) -> Owned<T> {
        Owned::new(slot, self.owner())
    }

    /// The slot of a handle of this `Objects`.
    #[inline(always)]
    fn check<T: CapType>(&self, cap: &Owned<T>) -> Result<CPtr> {
        let slot = cap.cptr();
        if cap.owner() != self.owner() || !self.cspace.owns(slot) {
            return Err(Error::NotOwner { slot });
        }
        Ok(slot)
    }

    /// The child CNode a handle of `owner` belongs to.
    fn child_of(&self, owner: OwnerId, index: u64) -> Result<usize> {
        self.children
            .iter()
            .position(|c| c.owner == owner && c.slots.is_allocated(index))
            .ok_or(Error::NotOwner { slot: index })
    }

    /// The child CNode whose capability is `node`.
    fn child_by_cap(&self, node: &Owned<CNode>) -> Result<usize> {
        let slot = self.check(node)?;
        self.children
            .iter()
            .position(|c| c.slot == slot)
            .ok_or(Error::Check("not a CNode made by Objects::create_cnode"))
    }

    // ------------------------------------------------------------ slots

    /// A free slot of the root CNode.
    pub fn alloc_slot(&mut self) -> Result<Slot> {
        Ok(Slot::new(self.cspace.alloc_slot()?, self.owner()))
    }

    /// Gives a slot back, deleting first whatever the kernel put into it
    /// (a capability received by IPC, say).
    pub fn free_slot(&mut self, slot: Slot) -> core::result::Result<(), Refused<Slot>> {
        let s = slot.cptr();
        if slot.owner() != self.owner() || !self.cspace.owns(s) {
            return Err(Refused {
                error: Error::NotOwner { slot: s },
                handle: slot,
            });
        }
        let r = cnode::delete(SlotRef::root(s)).and_then(|()| {
            // A capability put there by hand is not tracked; this keeps
            // the bookkeeping right if one was anyway.
            self.slot_emptied(s)?;
            self.cspace.free_slot(s)
        });
        r.map_err(|error| Refused {
            error,
            handle: slot,
        })
    }

    /// `n` contiguous free slots of the root CNode.
    pub fn alloc_range(&mut self, n: usize) -> Result<SlotRange> {
        Ok(SlotRange::new(self.cspace.alloc_slots(n)?, n, self.owner()))
    }

    /// Gives back slots of [`Objects::alloc_range`] (they must be empty:
    /// the range was handed to someone who owns what is in it).
    pub fn free_range(&mut self, range: SlotRange) -> core::result::Result<(), Refused<SlotRange>> {
        let ok = range.owner() == self.owner()
            && (range.start()..range.end()).all(|s| self.cspace.owns(s));
        if !ok {
            return Err(Refused {
                error: Error::NotOwner {
                    slot: range.start(),
                },
                handle: range,
            });
        }
        match self.cspace.free_slots(range.start(), range.len()) {
            Ok(()) => Ok(()),
            Err(error) => Err(Refused {
                error,
                handle: range,
            }),
        }
    }

    /// The capability the kernel put into `slot` (an IPC receive, a raw
    /// invocation) as an owned handle, claimed as a `T`. Nothing tracks its
    /// object: it is the caller's to know what it is.
    pub fn adopt<T: CapType>(&mut self, slot: Slot) -> Owned<T> {
        Owned::new(slot.cptr(), slot.owner())
    }

    // ------------------------------------------------------ memory

    /// Runs `op`; when it fails for lack of untyped memory and untypeds
    /// given to [`Objects::new`] can still give some, carves a chunk and
    /// runs `op` again.
    #[inline]
    fn with_memory<R>(&mut self, mut op: impl FnMut(&mut Objects) -> Result<R>) -> Result<R> {
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
        mut op: impl FnMut(&mut Objects) -> Result<R>,
    ) -> Result<R> {
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
    fn carve_chunk(&mut self, min_bits: u8) -> Result<bool> {
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
                        let desc = UntypedDesc {
                            paddr,
                            size_bits: bits,
                            is_device: false,
                        };
                        self.pool.add_untyped(slot, desc)?;
                        self.chunks.push(slot);
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
    #[inline(always)]
    pub fn create<T: FixedSize>(&mut self) -> Result<Owned<T>> {
        // In line when the allocator's answer is the untyped of the last
        // such request (the usual case), else out of line.
        let mut failed = None;
        match self.pool.create_last::<T>(&mut self.cspace, &mut failed) {
            Some(s) => Ok(self.owned(s)),
            None => self.create_missed::<T>(failed),
        }
    }

    /// [`Objects::create`] when the short path made nothing: the error it
    /// met, or (none) the allocator has to search.
    #[inline(never)]
    fn create_missed<T: FixedSize>(&mut self, failed: Option<Error>) -> Result<Owned<T>> {
        if let Some(e) = failed {
            return Err(e);
        }
        let s = self.with_memory(|o| o.pool.create::<T>(&mut o.cspace))?;
        Ok(self.owned(s))
    }

    /// Creates `n` objects of kind `T` with one retype (from one untyped,
    /// into contiguous slots).
    pub fn create_many<T: FixedSize>(&mut self, n: usize) -> Result<Vec<Owned<T>>> {
        let s = self.with_memory(|o| {
            o.pool
                .create_raw(&mut o.cspace, T::TYPE, 0, T::SIZE_BITS, n, MemoryKind::Ram)
        })?;
        Ok((0..n as u64).map(|i| self.owned(s + i)).collect())
    }

    /// Creates a 2 MiB frame of RAM.
    pub fn create_large_page(&mut self) -> Result<Owned<sel4::Granule>> {
        let s = self.with_memory(|o| {
            o.pool.create_raw(
                &mut o.cspace,
                <sel4::LargePage as FixedSize>::TYPE,
                0,
                <sel4::LargePage as FixedSize>::SIZE_BITS,
                1,
                MemoryKind::Ram,
            )
        })?;
        Ok(self.owned(s))
    }

    /// Creates an untyped of `2^size_bits` bytes of RAM that belongs to the
    /// caller: the pool places nothing else in it. Create objects in it
    /// with [`Objects::create_in`] (or retype from it by hand: its
    /// bookkeeping is then the caller's), get all of it back with
    /// [`Objects::reclaim`]; deleting it reclaims it first.
    pub fn create_untyped(&mut self, size_bits: u8) -> Result<Owned<Untyped>> {
        if let Some(s) = self.pool.take_spare(size_bits) {
            return Ok(self.owned(s));
        }
        let s = self.with_memory(|o| o.pool.create_untyped(&mut o.cspace, size_bits))?;
        Ok(self.owned(s))
    }

    /// Gives back an untyped of [`Objects::create_untyped`] for reuse:
    /// reclaims it (everything made from it is gone) and keeps it whole as
    /// a spare, whose bytes count as free and which the next
    /// [`Objects::create_untyped`] of its size gets. Unlike
    /// [`Objects::delete`], this leaves no hole in the untyped it was
    /// carved from (the kernel reuses an untyped's memory only once
    /// everything made from it is gone, so deleting a carved untyped while
    /// its neighbours live frees nothing the pool could place again). The
    /// spare keeps its slot; dropping `Objects` deletes it.
    pub fn recycle_untyped(
        &mut self,
        untyped: Owned<Untyped>,
    ) -> core::result::Result<(), Refused<Owned<Untyped>>> {
        let r = self
            .reserved_untyped(&untyped)
            .and_then(|u| self.reclaim_slot(u).map(|_| u))
            .and_then(|u| self.pool.release_untyped(u));
        match r {
            Ok(()) => Ok(()),
            Err(error) => Err(Refused {
                error,
                handle: untyped,
            }),
        }
    }

    /// Creates one object of kind `T` in the caller's untyped `untyped`
    /// (one of [`Objects::create_untyped`]).
    pub fn create_in<T: FixedSize>(&mut self, untyped: &Owned<Untyped>) -> Result<Owned<T>> {
        let u = self.reserved_untyped(untyped)?;
        let s = self
            .pool
            .create_in(&mut self.cspace, u, T::TYPE, 0, T::SIZE_BITS)?;
        Ok(self.owned(s))
    }

    /// A translation table of `level` (the `sel4` crate's arch-neutral
    /// levels) in the caller's untyped `untyped`, as
    /// [`Objects::create_in`]: on aarch64 and riscv64 every level is one
    /// object type, so the level is not a type of its own there.
    pub fn create_table_in(
        &mut self,
        untyped: &Owned<Untyped>,
        level: sel4::TableLevel,
    ) -> Result<Owned<cap_type::Null>> {
        let u = self.reserved_untyped(untyped)?;
        let s = self.pool.create_in(
            &mut self.cspace,
            u,
            level.object_type(),
            0,
            level.size_bits(),
        )?;
        Ok(self.owned(s))
    }

    /// The slot of a handle to an untyped of [`Objects::create_untyped`].
    fn reserved_untyped(&self, untyped: &Owned<Untyped>) -> Result<CPtr> {
        let u = self.check(untyped)?;
        if !self.pool.allocator().get(u).is_some_and(|u| u.reserved) {
            return Err(Error::Check(
                "create_in needs an untyped of Objects::create_untyped",
            ));
        }
        Ok(u)
    }

    /// As [`Objects::create_cnode`], in the caller's untyped `untyped` (one
    /// of [`Objects::create_untyped`]): reclaiming the untyped destroys the
    /// CNode with what is in it.
    pub fn create_cnode_in(&mut self, untyped: &Owned<Untyped>, radix: u8) -> Result<Owned<CNode>> {
        if radix == 0 || radix > MAX_CNODE_RADIX {
            return Err(Error::Check("CNode radix out of 1..=32"));
        }
        let u = self.reserved_untyped(untyped)?;
        let bits = radix as usize + consts::SlotBits;
        let s = self.pool.create_in(
            &mut self.cspace,
            u,
            ObjectType::CapTableObject,
            radix as usize,
            bits,
        )?;
        self.children.push(ChildNode {
            slot: s,
            radix,
            slots: SlotAllocator::new(0, 1u64 << radix),
            owner: new_owner(),
        });
        Ok(self.owned(s))
    }

    sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
        /// A scheduling context of `2^size_bits` bytes (at least
        /// `seL4_MinSchedContextBits`), not configured: a thread bound to it
        /// does not run until it has a budget. MCS kernels; see
        /// [`Objects::create_sched_context`](crate::sched) for a configured one.
        pub fn create_sched_context_object(
            &mut self,
            size_bits: usize,
        ) -> Result<Owned<cap_type::SchedContext>> {
            Self::check_sched_context_bits(size_bits)?;
            let s = self.with_memory(|o| {
                o.pool.create_raw(
                    &mut o.cspace,
                    ObjectType::SchedContextObject,
                    size_bits,
                    size_bits,
                    1,
                    MemoryKind::Ram,
                )
            })?;
            Ok(self.owned(s))
        }

        /// As [`Objects::create_sched_context_object`], in the caller's
        /// untyped `untyped` (one of [`Objects::create_untyped`]).
        pub fn create_sched_context_object_in(
            &mut self,
            untyped: &Owned<Untyped>,
            size_bits: usize,
        ) -> Result<Owned<cap_type::SchedContext>> {
            Self::check_sched_context_bits(size_bits)?;
            let u = self.reserved_untyped(untyped)?;
            let s = self.pool.create_in(
                &mut self.cspace,
                u,
                ObjectType::SchedContextObject,
                size_bits,
                size_bits,
            )?;
            Ok(self.owned(s))
        }
    } }

    sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
        /// A scheduling context's size must lie in
        /// `seL4_MinSchedContextBits..=seL4_MaxUntypedBits`.
        fn check_sched_context_bits(size_bits: usize) -> Result<()> {
            if (consts::MinSchedContextBits..=consts::MaxUntypedBits).contains(&size_bits) {
                Ok(())
            } else {
                Err(Error::Check(
                    "scheduling context size out of seL4_MinSchedContextBits..=seL4_MaxUntypedBits",
                ))
            }
        }
    } }

    /// A CNode of `2^radix` slots, whose slots this `Objects` hands out
    /// ([`Objects::copy_into`], [`Objects::move_into`], ...). Deleting it
    /// revokes it first: the CNode and what is in it are gone.
    pub fn create_cnode(&mut self, radix: u8) -> Result<Owned<CNode>> {
        if radix == 0 || radix > MAX_CNODE_RADIX {
            return Err(Error::Check("CNode radix out of 1..=32"));
        }
        let bits = radix as usize + consts::SlotBits;
        let s = self.with_memory(|o| {
            o.pool.create_raw(
                &mut o.cspace,
                ObjectType::CapTableObject,
                radix as usize,
                bits,
                1,
                MemoryKind::Ram,
            )
        })?;
        self.children.push(ChildNode {
            slot: s,
            radix,
            slots: SlotAllocator::new(0, 1u64 << radix),
            owner: new_owner(),
        });
        Ok(self.owned(s))
    }

    /// A new ASID pool (`ASIDControl_MakePool` on a fresh untyped of the
    /// pool's size): room for the ASIDs of 2^(ASIDPoolBits - word size
    /// bits) VSpaces. The kernel has room for a few pools only (8 on
    /// x86_64, one of them the root task's): when they are all made it
    /// answers `DeleteFirst`.
    pub fn create_asid_pool(&mut self) -> Result<AsidPool> {
        let untyped = self.create_untyped(consts::ASIDPoolBits as u8)?;
        let made = self.cspace.with_new_slot(|dest| {
            let ctl: Cap<sel4::AsidControl> =
                Cap::from_cptr(sel4_sys::init_caps::CapASIDControl as CPtr);
            Ok(ctl.make_pool(
                untyped.cap(),
                sel4::Slot::new(cnode::root(), dest, cnode::depth()),
            )?)
        });
        match made {
            Ok(slot) => Ok(AsidPool {
                pool: self.owned(slot),
                untyped,
            }),
            Err(e) => {
                let _ = self.delete(untyped);
                Err(e)
            }
        }
    }

    /// Deletes an ASID pool of [`Objects::create_asid_pool`] and gives its
    /// memory back. The VSpaces assigned from it lose their ASIDs (their
    /// threads fault on their next memory access).
    pub fn delete_asid_pool(
        &mut self,
        pool: AsidPool,
    ) -> core::result::Result<(), Refused<AsidPool>> {
        let r = self
            .check(&pool.pool)
            .and_then(|_| self.check(&pool.untyped));
        if let Err(error) = r {
            return Err(Refused {
                error,
                handle: pool,
            });
        }
        let AsidPool { pool, untyped } = pool;
        // Deleting the untyped reclaims it first: the kernel deletes the
        // pool (a child of the untyped) with it.
        match self.delete(untyped) {
            Ok(()) => {
                // The pool's slot is empty now: only the allocator's bit.
                let slot = pool.cptr();
                let _ = self.slot_emptied(slot);
                let _ = self.cspace.free_slot(slot);
                Ok(())
            }
            Err(Refused { error, handle }) => Err(Refused {
                error,
                handle: AsidPool {
                    pool,
                    untyped: handle,
                },
            }),
        }
    }

    /// How many ASID pools [`Objects::assign_asid`] made because the others
    /// were full.
    pub fn asid_pools_made(&self) -> usize {
        self.asid_pools.len()
    }

    /// Assigns `vspace` (a new VSpace root) an ASID: from `pool` if given,
    /// otherwise from the root task's initial pool or one this `Objects`
    /// made before, making a new pool when those are full. The ASID is
    /// free again when the VSpace root is deleted.
    pub fn assign_asid(
        &mut self,
        vspace: &Owned<sel4::VSpaceRoot>,
        pool: Option<&AsidPool>,
    ) -> Result<()> {
        let v = self.check(vspace)?;
        if let Some(p) = pool {
            self.check(&p.pool)?;
            return Ok(p.pool.assign(Cap::from_cptr(v))?);
        }
        let initial: Cap<sel4::AsidPool> =
            Cap::from_cptr(sel4_sys::init_caps::CapInitThreadASIDPool as CPtr);
        let full = |r: core::result::Result<(), sel4_sys::InvocationError>| match r {
            Err(sel4_sys::InvocationError::DeleteFirst) => Ok(false),
            Err(e) => Err(Error::Kernel(e)),
            Ok(()) => Ok(true),
        };
        if full(initial.assign(Cap::from_cptr(v)))? {
            return Ok(());
        }
        for p in &self.asid_pools {
            if full(p.pool.assign(Cap::from_cptr(v)))? {
                return Ok(());
            }
        }
        let p = self.create_asid_pool()?;
        let r = p.pool.assign(Cap::from_cptr(v));
        self.asid_pools.push(p);
        Ok(r?)
    }

    /// A frame of `2^size_bits` bytes (4 KiB or 2 MiB) at the physical
    /// address `paddr` (device memory, usually). The kernel's answer is
    /// checked: [`Error::FrameMismatch`] if the frame is elsewhere (the
    /// memory was retyped behind the framework's back).
    pub fn frame_at(&mut self, paddr: u64, size_bits: usize) -> Result<Owned<sel4::Granule>> {
        let s = self.pool.frame_at(&mut self.cspace, paddr, size_bits)?;
        Ok(self.owned(s))
    }

    /// A 4 KiB device frame at `paddr`.
    pub fn device_frame(&mut self, paddr: u64) -> Result<Owned<sel4::Granule>> {
        self.frame_at(paddr, consts::PageBits)
    }

    /// Gets back all memory of the caller's untyped `untyped` (one of
    /// [`Objects::create_untyped`]): revokes it, so the kernel deletes
    /// every object made from it and every capability to those, and resets
    /// its bookkeeping. Returns how many capabilities went; their handles
    /// name empty slots now (delete them to give the slots back).
    pub fn reclaim(&mut self, untyped: &Owned<Untyped>) -> Result<usize> {
        let u = self.check(untyped)?;
        self.reclaim_slot(u)
    }

    fn reclaim_slot(&mut self, u: CPtr) -> Result<usize> {
        let pinned = self.vspace.view_frames().any(|f| self.pool.made_from(f, u));
        if pinned {
            return Err(VIEW_IN_THE_WAY);
        }
        let gone = self.pool.reclaim(u)?;
        for &k in &gone {
            self.vspace.forget_frame(k);
        }
        // CNodes made in it are gone, and with them what was in them
        // (copies of objects from elsewhere included).
        let mut c = 0;
        while c < self.children.len() {
            if gone.contains(&self.children[c].slot) {
                let node = self.children.swap_remove(c);
                self.pool.caps_gone(|k| k >> 32 == node.owner as u64)?;
                self.parks.retain(|&p| p != node.owner);
            } else {
                c += 1;
            }
        }
        Ok(gone.len())
    }

    // ------------------------------------------------ capabilities

    /// Refuses to copy an untyped the pool manages (a copy would retype
    /// the same memory behind its back).
    fn refuse_untyped(&self, slot: CPtr) -> Result<()> {
        if self.pool.is_untyped(slot) {
            return Err(Error::Check(
                "an untyped the pool manages is not copied (use create_in)",
            ));
        }
        Ok(())
    }

    /// Bookkeeping after the capability in root slot `from` moved to root
    /// slot `to`.
    fn slot_moved(&mut self, from: CPtr, to: CPtr) -> Result<()> {
        self.pool.cap_moved(from, to)?;
        self.vspace.frame_moved(from, to);
        for c in self.children.iter_mut().filter(|c| c.slot == from) {
            c.slot = to;
        }
        Ok(())
    }

    /// Bookkeeping after the capability in root slot `slot` was deleted.
    #[inline]
    fn slot_emptied(&mut self, slot: CPtr) -> Result<()> {
        self.pool.cap_gone(slot)?;
        self.vspace.forget_frame(slot);
        Ok(())
    }

    /// `CNode_Copy` of `src` into a fresh slot, with `rights`.
    pub fn copy<T: CapType>(&mut self, src: &Owned<T>, rights: CapRights) -> Result<Owned<T>> {
        self.derive(src, rights, None)
    }

    /// A badged copy of `src` (all rights) in a fresh slot (`CNode_Mint`).
    #[inline]
    pub fn mint<T: CapType>(&mut self, src: &Owned<T>, badge: Word) -> Result<Owned<T>> {
        self.derive(src, ALL_RIGHTS, Some(badge))
    }

    /// `CNode_Mint` of `src` into a fresh slot, with `rights` and `badge`.
    pub fn mint_with<T: CapType>(
        &mut self,
        src: &Owned<T>,
        rights: CapRights,
        badge: Word,
    ) -> Result<Owned<T>> {
        self.derive(src, rights, Some(badge))
    }

    #[inline]
    fn derive<T: CapType>(
        &mut self,
        src: &Owned<T>,
        rights: CapRights,
        badge: Option<Word>,
    ) -> Result<Owned<T>> {
        let s = self.check(src)?;
        self.refuse_untyped(s)?;
        let from = SlotRef::root(s);
        let dest = self.cspace.with_new_slot(|d| match badge {
            Some(b) => cnode::mint(SlotRef::root(d), from, rights, b),
            None => cnode::copy(SlotRef::root(d), from, rights),
        })?;
        self.pool.cap_derived(s, dest, badge)?;
        Ok(self.owned(dest))
    }

    /// Moves the capability to a fresh slot (`CNode_Move`); `cap` names the
    /// new slot afterwards, the old one is free. On failure nothing
    /// changed.
    pub fn move_cap<T: CapType>(&mut self, cap: &mut Owned<T>) -> Result<()> {
        self.relocate(cap, None)
    }

    /// `CNode_Mutate` into a fresh slot: a move that changes the
    /// capability's data word `data` (for a CNode: its guard, see
    /// [`cnode::guard_data`]; the kernel refuses to change the badge of an
    /// endpoint or notification this way, with `IllegalOperation`). `cap`
    /// names the new slot afterwards; on failure nothing changed.
    pub fn mutate<T: CapType>(&mut self, cap: &mut Owned<T>, data: CapData) -> Result<()> {
        self.relocate(cap, Some(data))
    }

    fn relocate<T: CapType>(&mut self, cap: &mut Owned<T>, data: Option<CapData>) -> Result<()> {
        let s = self.check(cap)?;
        self.refuse_untyped(s)?;
        let from = SlotRef::root(s);
        let dest = self.cspace.with_new_slot(|d| match data {
            Some(w) => cnode::mutate(SlotRef::root(d), from, w),
            None => cnode::move_(SlotRef::root(d), from),
        })?;
        self.slot_moved(s, dest)?;
        self.cspace.free_slot(s)?;
        *cap = self.owned(dest);
        Ok(())
    }

    /// `CNode_Rotate`: the capability of `pivot` moves to a fresh slot (its
    /// data word updated with `dest_badge`), that of `src` moves into
    /// `pivot`'s old slot (with `pivot_badge`), and `src`'s old slot is
    /// freed; both handles name their capability's new slot afterwards. The
    /// kernel refuses endpoint and notification capabilities (their badge
    /// cannot change in place); frames, untypeds and CNodes (data 0: no
    /// change) rotate. On failure nothing changed.
    pub fn rotate<T: CapType, U: CapType>(
        &mut self,
        pivot: &mut Owned<T>,
        dest_badge: Word,
        src: &mut Owned<U>,
        pivot_badge: Word,
    ) -> Result<()> {
        let p = self.check(pivot)?;
        let s = self.check(src)?;
        self.refuse_untyped(p)?;
        self.refuse_untyped(s)?;
        if p == s {
            return Err(Error::Check("rotate: pivot and src are the same slot"));
        }
        let dest = self.cspace.with_new_slot(|d| {
            cnode::rotate(
                SlotRef::root(d),
                dest_badge,
                SlotRef::root(p),
                pivot_badge,
                SlotRef::root(s),
            )
        })?;
        self.slot_moved(p, dest)?;
        self.slot_moved(s, p)?;
        self.cspace.free_slot(s)?;
        *pivot = self.owned(dest);
        *src = self.owned(p);
        Ok(())
    }

    /// Deletes the capability and gives its slot back. When it was the
    /// last capability of an object made here, the object's memory is free
    /// again. A CNode of [`Objects::create_cnode`] or an untyped of
    /// [`Objects::create_untyped`] is revoked first (see the module
    /// documentation). A mapped frame is unmapped.
    #[inline(always)]
    pub fn delete<T: CapType>(
        &mut self,
        cap: Owned<T>,
    ) -> core::result::Result<(), Refused<Owned<T>>> {
        let mut failed = None;
        if self.delete_short(&cap, &mut failed) {
            return Ok(());
        }
        self.delete_missed(cap, failed)
    }

    /// The short path of [`Objects::delete`], in line: a capability of
    /// this `Objects` (owner) that its pool tracks in a root slot, the only
    /// one of an object that is no untyped, CNode or frame. The pool's
    /// record stands for the check that this CSpace handed the slot out
    /// (`Objects::check`): every root slot the pool tracks is one (it
    /// forgets a capability before its slot is given back). What is left
    /// of `delete_other` for such an object: the kernel's delete, the
    /// pool's bookkeeping, the slot. `true` when done; `false` with the
    /// error in `failed`, or with `failed` untouched when the capability is
    /// not such a one. (No `Result`: an error returned alongside success
    /// makes the compiler merge the two on the short path.)
    #[inline(always)]
    fn delete_short<T: CapType>(&mut self, cap: &Owned<T>, failed: &mut Option<Error>) -> bool {
        if cap.owner() != self.owner() {
            return false;
        }
        let slot = cap.cptr();
        let deleted = self
            .pool
            .delete_sole_plain(slot, || cnode::delete(SlotRef::root(slot)));
        let r = match deleted {
            Some(r) => r.and_then(|()| self.cspace.free_slot(slot)),
            None => return false,
        };
        match r {
            Ok(()) => true,
            Err(e) => {
                *failed = Some(e);
                false
            }
        }
    }

    /// [`Objects::delete`] when the short path did not delete: the error
    /// it met, or (none) a capability of another kind.
    #[inline(never)]
    fn delete_missed<T: CapType>(
        &mut self,
        cap: Owned<T>,
        failed: Option<Error>,
    ) -> core::result::Result<(), Refused<Owned<T>>> {
        let r = match failed {
            Some(e) => Err(e),
            None => self.delete_other(&cap),
        };
        r.map_err(|error| Refused { error, handle: cap })
    }

    /// [`Objects::delete`] of a capability of any kind.
    #[inline(never)]
    fn delete_other<T: CapType>(&mut self, cap: &Owned<T>) -> Result<()> {
        let slot = self.check(cap)?;
        if self.pool.is_untyped(slot) {
            self.reclaim_slot(slot)?;
        }
        if let Some(c) = self.children.iter().position(|c| c.slot == slot) {
            return self.delete_cnode(c);
        }
        cnode::delete(SlotRef::root(slot))?;
        self.slot_emptied(slot)?;
        self.cspace.free_slot(slot)
    }

    /// Revokes and deletes the child CNode `c`; forgets what was in it.
    fn delete_cnode(&mut self, c: usize) -> Result<()> {
        let slot = self.children[c].slot;
        cnode::revoke(SlotRef::root(slot))?;
        for k in self.pool.cap_revoked(slot) {
            self.vspace.forget_frame(k);
        }
        cnode::delete(SlotRef::root(slot))?;
        let node = self.children.swap_remove(c);
        self.slot_emptied(slot)?;
        // The CNode is gone, and with it every capability in it.
        self.pool.caps_gone(|k| k >> 32 == node.owner as u64)?;
        self.parks.retain(|&p| p != node.owner);
        self.cspace.free_slot(slot)
    }

    /// `CNode_Revoke`: deletes the capabilities the kernel counts as
    /// derived from `cap` (for an object's original capability: every
    /// copy; for a badged copy: its own copies); `cap` stays. For an
    /// untyped of [`Objects::create_untyped`], as [`Objects::reclaim`].
    /// Returns how many capabilities made here went; their handles name
    /// empty slots now.
    pub fn revoke<T: CapType>(&mut self, cap: &Owned<T>) -> Result<usize> {
        let slot = self.check(cap)?;
        if self.pool.is_untyped(slot) {
            return self.reclaim_slot(slot);
        }
        let preview = self.pool.registry().revoke_preview(slot);
        if self.vspace.view_frames().any(|f| preview.contains(&f)) {
            return Err(VIEW_IN_THE_WAY);
        }
        cnode::revoke(SlotRef::root(slot))?;
        let gone = self.pool.cap_revoked(slot);
        for &k in &gone {
            self.vspace.forget_frame(k);
        }
        Ok(gone.len())
    }

    // ---------------------------------------------------- child CNodes

    /// The slot allocator of a CNode of [`Objects::create_cnode`].
    pub fn child_slots(&self, node: &Owned<CNode>) -> Option<&SlotAllocator> {
        let c = self.child_by_cap(node).ok()?;
        Some(&self.children[c].slots)
    }

    /// A free slot of the CNode `node` (one of [`Objects::create_cnode`]),
    /// as an owned handle claimed as `Null`, for a raw invocation to fill
    /// ([`ChildCap::recast`] then claims what is there).
    pub fn alloc_child_slot(&mut self, node: &Owned<CNode>) -> Result<ChildCap<cap_type::Null>> {
        let c = self.child_by_cap(node)?;
        let child = &mut self.children[c];
        let i = child.slots.alloc()?;
        Ok(ChildCap::new(i, child.owner))
    }

    /// Copies `src` into a fresh slot of the CNode `node` (one of
    /// [`Objects::create_cnode`]), with `rights`.
    pub fn copy_into<T: CapType>(
        &mut self,
        node: &Owned<CNode>,
        src: &Owned<T>,
        rights: CapRights,
    ) -> Result<ChildCap<T>> {
        self.derive_into(node, src, rights, None)
    }

    /// A badged copy of `src` in a fresh slot of the CNode `node`.
    pub fn mint_into<T: CapType>(
        &mut self,
        node: &Owned<CNode>,
        src: &Owned<T>,
        rights: CapRights,
        badge: Word,
    ) -> Result<ChildCap<T>> {
        self.derive_into(node, src, rights, Some(badge))
    }

    /// Copies `src` into slot `index` of the CNode `node` (one of
    /// [`Objects::create_cnode`]), which must be free, with `rights`.
    pub fn copy_into_at<T: CapType>(
        &mut self,
        node: &Owned<CNode>,
        index: u64,
        src: &Owned<T>,
        rights: CapRights,
    ) -> Result<ChildCap<T>> {
        self.derive_into_at(node, Some(index), src, rights, None)
    }

    /// A badged copy of `src` in slot `index` of the CNode `node`, which
    /// must be free.
    pub fn mint_into_at<T: CapType>(
        &mut self,
        node: &Owned<CNode>,
        index: u64,
        src: &Owned<T>,
        rights: CapRights,
        badge: Word,
    ) -> Result<ChildCap<T>> {
        self.derive_into_at(node, Some(index), src, rights, Some(badge))
    }

    fn derive_into<T: CapType>(
        &mut self,
        node: &Owned<CNode>,
        src: &Owned<T>,
        rights: CapRights,
        badge: Option<Word>,
    ) -> Result<ChildCap<T>> {
        self.derive_into_at(node, None, src, rights, badge)
    }

    fn derive_into_at<T: CapType>(
        &mut self,
        node: &Owned<CNode>,
        at: Option<u64>,
        src: &Owned<T>,
        rights: CapRights,
        badge: Option<Word>,
    ) -> Result<ChildCap<T>> {
        let c = self.child_by_cap(node)?;
        let s = self.check(src)?;
        self.refuse_untyped(s)?;
        let child = &mut self.children[c];
        let i = match at {
            Some(i) => {
                child.slots.claim(i)?;
                i
            }
            None => child.slots.alloc()?,
        };
        let (to, from) = (child.at(i), SlotRef::root(s));
        let r = match badge {
            Some(b) => cnode::mint(to, from, rights, b),
            None => cnode::copy(to, from, rights),
        };
        if let Err(e) = r {
            child.slots.free(i)?;
            return Err(e);
        }
        let (key, owner) = (child.key(i), child.owner);
        self.pool.cap_derived(s, key, badge)?;
        Ok(ChildCap::new(i, owner))
    }

    /// Moves `cap` into a fresh slot of the CNode `node` (one of
    /// [`Objects::create_cnode`]) and frees its root slot. A CNode of
    /// [`Objects::create_cnode`] stays in the root CNode.
    pub fn move_into<T: CapType>(
        &mut self,
        node: &Owned<CNode>,
        cap: Owned<T>,
    ) -> core::result::Result<ChildCap<T>, Refused<Owned<T>>> {
        match self.move_into_inner(node, &cap) {
            Ok(c) => Ok(c),
            Err(error) => Err(Refused { error, handle: cap }),
        }
    }

    /// Moves `cap` into slot `index` of the CNode `node` (one of
    /// [`Objects::create_cnode`]), which must be free, and frees its root
    /// slot: for capabilities the kernel does not copy (a reply object's).
    pub fn move_into_at<T: CapType>(
        &mut self,
        node: &Owned<CNode>,
        index: u64,
        cap: Owned<T>,
    ) -> core::result::Result<ChildCap<T>, Refused<Owned<T>>> {
        match self.move_into_inner_at(node, Some(index), &cap) {
            Ok(c) => Ok(c),
            Err(error) => Err(Refused { error, handle: cap }),
        }
    }

    fn move_into_inner<T: CapType>(
        &mut self,
        node: &Owned<CNode>,
        cap: &Owned<T>,
    ) -> Result<ChildCap<T>> {
        self.move_into_inner_at(node, None, cap)
    }

    fn move_into_inner_at<T: CapType>(
        &mut self,
        node: &Owned<CNode>,
        at: Option<u64>,
        cap: &Owned<T>,
    ) -> Result<ChildCap<T>> {
        let c = self.child_by_cap(node)?;
        let s = self.check(cap)?;
        self.refuse_untyped(s)?;
        if self.children.iter().any(|c| c.slot == s) {
            return Err(Error::Check(
                "a CNode of create_cnode stays in the root CNode",
            ));
        }
        if self.vspace.is_mapped(s) {
            return Err(Error::Check("unmap the frame before moving it out"));
        }
        let (key, owner, i) = self.move_to_child(c, s, at)?;
        self.slot_moved_out(s, key)?;
        Ok(ChildCap::new(i, owner))
    }

    /// Moves the capability in root slot `s` into slot `at` (a fresh one
    /// if `None`) of child `c`; returns (key, owner, index).
    fn move_to_child(&mut self, c: usize, s: CPtr, at: Option<u64>) -> Result<(u64, OwnerId, u64)> {
        let child = &mut self.children[c];
        let i = match at {
            Some(i) => {
                child.slots.claim(i)?;
                i
            }
            None => child.slots.alloc()?,
        };
        if let Err(e) = cnode::move_(child.at(i), SlotRef::root(s)) {
            child.slots.free(i)?;
            return Err(e);
        }
        Ok((child.key(i), child.owner, i))
    }

    /// Bookkeeping after the capability in root slot `s` (not a mapped
    /// frame) moved to the child slot `key`.
    fn slot_moved_out(&mut self, s: CPtr, key: u64) -> Result<()> {
        self.pool.cap_moved(s, key)?;
        self.cspace.free_slot(s)
    }

    /// Moves a capability out of a child CNode into a fresh slot of the
    /// root CNode.
    pub fn move_out<T: CapType>(
        &mut self,
        cap: ChildCap<T>,
    ) -> core::result::Result<Owned<T>, Refused<ChildCap<T>>> {
        match self.move_out_inner(&cap) {
            Ok(o) => Ok(o),
            Err(error) => Err(Refused { error, handle: cap }),
        }
    }

    fn move_out_inner<T: CapType>(&mut self, cap: &ChildCap<T>) -> Result<Owned<T>> {
        let c = self.child_of(cap.owner(), cap.index())?;
        let from = self.children[c].at(cap.index());
        let key = self.children[c].key(cap.index());
        let dest = self
            .cspace
            .with_new_slot(|d| cnode::move_(SlotRef::root(d), from))?;
        self.pool.cap_moved(key, dest)?;
        self.children[c].slots.free(cap.index())?;
        Ok(self.owned(dest))
    }

    /// Deletes a capability in a child CNode and frees its slot (with the
    /// bookkeeping of [`Objects::delete`]).
    pub fn delete_child<T: CapType>(
        &mut self,
        cap: ChildCap<T>,
    ) -> core::result::Result<(), Refused<ChildCap<T>>> {
        match self.delete_in_child(cap.owner(), cap.index()) {
            Ok(()) => Ok(()),
            Err(error) => Err(Refused { error, handle: cap }),
        }
    }

    fn delete_in_child(&mut self, owner: OwnerId, index: u64) -> Result<()> {
        let c = self.child_of(owner, index)?;
        cnode::delete(self.children[c].at(index))?;
        self.pool.cap_gone(self.children[c].key(index))?;
        Ok(self.children[c].slots.free(index)?)
    }

    /// A copy of the CNode `node` (one of [`Objects::create_cnode`]) in a
    /// fresh root slot, with the guard (`word size - radix` zero bits) that
    /// makes its slot `i` reachable as the full-depth capability pointer
    /// `i`: what a thread that gets the CNode as its CSpace root needs.
    pub fn mint_cspace_root(&mut self, node: &Owned<CNode>) -> Result<Owned<CNode>> {
        let c = self.child_by_cap(node)?;
        let (slot, radix) = (self.children[c].slot, self.children[c].radix);
        let data = cnode::guard_data(0, cnode::depth() - radix)?;
        let dest = self.cspace.with_new_slot(|d| {
            cnode::mint_data(SlotRef::root(d), SlotRef::root(slot), ALL_RIGHTS, data)
        })?;
        self.pool.cap_derived(slot, dest, None)?;
        Ok(self.owned(dest))
    }

    /// The radix of a CNode of [`Objects::create_cnode`].
    pub fn child_radix(&self, node: &Owned<CNode>) -> Option<u8> {
        let c = self.child_by_cap(node).ok()?;
        Some(self.children[c].radix)
    }

    // ---------------------------------------------------------- VSpace

    /// Maps `frame` (of `2^size_bits` bytes: 4 KiB or 2 MiB) at a free
    /// address of the VSpace's window, aligned to its size; returns the
    /// address. The frame stays the caller's; deleting or moving it
    /// updates the mapping (deleting unmaps it).
    pub fn map(
        &mut self,
        frame: &Owned<sel4::Granule>,
        size_bits: u8,
        rights: CapRights,
        cache: Cache,
    ) -> Result<u64> {
        let f = Cap::from_cptr(self.check(frame)?);
        self.with_memory(|o| {
            o.vspace.map(
                &mut o.pool,
                &mut o.cspace,
                f,
                size_bits,
                rights,
                cache,
                false,
            )
        })
    }

    /// Maps `frame` at `vaddr`, which must be free in the window's part
    /// for the frame's size.
    pub fn map_at(
        &mut self,
        frame: &Owned<sel4::Granule>,
        size_bits: u8,
        vaddr: u64,
        rights: CapRights,
        cache: Cache,
    ) -> Result<()> {
        let f = Cap::from_cptr(self.check(frame)?);
        self.with_memory(|o| {
            o.vspace.map_at(
                &mut o.pool,
                &mut o.cspace,
                f,
                size_bits,
                vaddr,
                rights,
                cache,
            )
        })
    }

    /// Unmaps what is mapped at `vaddr`: a frame of the caller stays the
    /// caller's (mappable again); a page of [`Objects::map_new_pages`] is
    /// deleted.
    pub fn unmap(&mut self, vaddr: u64) -> Result<()> {
        if self.vspace.mapping(vaddr).is_some_and(|m| m.view) {
            return Err(VIEW_IN_THE_WAY);
        }
        let m = self.vspace.unmap(vaddr)?;
        if m.owned {
            self.pool.delete(&mut self.cspace, m.frame.cptr())?;
        }
        Ok(())
    }

    /// Maps `n` fresh 4 KiB frames of RAM at consecutive addresses of the
    /// window; returns the first address. [`Objects::unmap`] deletes them
    /// one by one.
    pub fn map_new_pages(&mut self, n: usize, rights: CapRights) -> Result<u64> {
        self.with_memory(|o| {
            o.vspace
                .map_new_pages(&mut o.pool, &mut o.cspace, n, rights)
        })
    }

    /// Maps `frame` (4 KiB or 2 MiB, `size_bits`) at a free address of the
    /// window, readable (and writable if `rights` says so), and returns a
    /// [`View`] that owns the frame and its mapping: its bytes are safe to
    /// use while it lives (see [`crate::view`] for when a view is exclusive
    /// and when shared). On failure the frame comes back unchanged.
    pub fn map_view(
        &mut self,
        frame: Owned<sel4::Granule>,
        size_bits: u8,
        rights: CapRights,
        cache: Cache,
    ) -> core::result::Result<View, Refused<Owned<sel4::Granule>>> {
        const READ: u64 = 0b10;
        const WRITE: u64 = 0b01;
        if rights.0 & READ == 0 {
            return Err(Refused {
                error: Error::Check("a view needs a readable mapping (rights with read)"),
                handle: frame,
            });
        }
        let vaddr = match self.map(&frame, size_bits, rights, cache) {
            Ok(v) => v,
            Err(error) => {
                return Err(Refused {
                    error,
                    handle: frame,
                })
            }
        };
        // Cannot fail: the mapping was just recorded.
        let _ = self.vspace.set_view(vaddr, true);
        let slot = frame.cptr();
        let ram = self
            .pool
            .untyped_of(slot)
            .and_then(|u| self.pool.kind_of(u.cptr()))
            == Some(MemoryKind::Ram);
        let exclusive = cache == Cache::Default && ram && self.pool.registry().caps_of(slot) == 1;
        Ok(View::new(
            frame,
            vaddr,
            1usize << size_bits,
            rights.0 & WRITE != 0,
            exclusive,
            self.owner(),
        ))
    }

    /// A fresh 4 KiB frame of RAM (zeroed by the kernel) as an exclusive,
    /// writable [`View`].
    pub fn new_view(&mut self) -> Result<View> {
        let frame = self.create::<sel4::Granule>()?;
        match self.map_view(frame, consts::PageBits as u8, vspace::RW, Cache::Default) {
            Ok(v) => Ok(v),
            Err(Refused { error, handle }) => {
                let _ = self.delete(handle);
                Err(error)
            }
        }
    }

    /// Unmaps a [`View`]'s frame and gives the frame back (mappable again,
    /// or to delete). A view of another `Objects` is refused.
    pub fn unmap_view(
        &mut self,
        view: View,
    ) -> core::result::Result<Owned<sel4::Granule>, Refused<View>> {
        if view.owner() != self.owner() {
            return Err(Refused {
                error: Error::NotOwner { slot: view.cptr() },
                handle: view,
            });
        }
        let vaddr = view.vaddr();
        if let Err(error) = self.vspace.set_view(vaddr, false) {
            return Err(Refused {
                error,
                handle: view,
            });
        }
        match self.vspace.unmap(vaddr) {
            Ok(_) => Ok(view.into_frame()),
            Err(error) => {
                let _ = self.vspace.set_view(vaddr, true);
                Err(Refused {
                    error,
                    handle: view,
                })
            }
        }
    }

    /// Gives the heap at least `bytes` more now (rounded up to 2 MiB
    /// frames, which the runtime retypes itself from untyped memory of this
    /// pool and maps in its growth window); returns the bytes added. Takes
    /// no slot of the root CNode for good: limited by memory only.
    pub fn grow_heap(&mut self, bytes: usize) -> Result<usize> {
        self.vspace
            .grow_heap(&mut self.pool, &mut self.cspace, bytes)
    }

    /// Gives the heap `bytes` (rounded up to 2 MiB) of untyped memory of
    /// this pool without mapping it yet: the runtime grows the heap from it
    /// when free space runs low (at thread spawns, joins and kills).
    pub fn reserve_heap(&mut self, bytes: usize) -> Result<()> {
        self.vspace
            .reserve_heap(&mut self.pool, &mut self.cspace, bytes)
    }

    /// A fresh 4 KiB frame of RAM mapped read-write at a free address of the
    /// VSpace's window; returns the frame and the address.
    pub(crate) fn map_new_page(&mut self) -> Result<(Cap<sel4::Granule>, u64)> {
        let frame = self.with_memory(|o| o.pool.create::<sel4::Granule>(&mut o.cspace))?;
        let f = Cap::from_cptr(frame);
        let r = self.with_memory(|o| {
            o.vspace.map(
                &mut o.pool,
                &mut o.cspace,
                f,
                consts::PageBits as u8,
                vspace::RW,
                Cache::Default,
                true,
            )
        });
        match r {
            Ok(vaddr) => Ok((f, vaddr)),
            Err(e) => {
                let _ = self.pool.delete(&mut self.cspace, frame);
                Err(e)
            }
        }
    }

    /// Unmaps a page of [`Objects::map_new_page`] and deletes its frame.
    pub(crate) fn unmap_page(&mut self, vaddr: u64) -> Result<()> {
        self.unmap(vaddr)
    }

    /// Reserves `guard_pages + pages` pages of the VSpace and maps fresh
    /// frames of RAM read-write at the last `pages` of them; the frames'
    /// capabilities go to the park CNodes.
    pub(crate) fn map_region(&mut self, guard_pages: usize, pages: usize) -> Result<Region> {
        let start = self.vspace.reserve(((guard_pages + pages) * PAGE) as u64)?;
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

    fn map_parked_page(&mut self, start: u64, vaddr: u64) -> Result<ParkedFrame> {
        let frame = self.with_memory(|o| o.pool.create::<sel4::Granule>(&mut o.cspace))?;
        let mapped = self.with_memory(|o| {
            o.vspace.map_reserved(
                &mut o.pool,
                &mut o.cspace,
                Cap::from_cptr(frame),
                start,
                vaddr,
                vspace::RW,
                Cache::Default,
            )
        });
        match mapped.and_then(|()| self.park(frame)) {
            Ok(p) => Ok(p),
            Err(e) => {
                // Deleting the capability also unmaps the frame.
                let _ = self.pool.delete(&mut self.cspace, frame);
                Err(e)
            }
        }
    }

    /// Moves a frame's capability made by the pool into a park CNode.
    fn park(&mut self, frame: CPtr) -> Result<ParkedFrame> {
        let park = self.parks.iter().find_map(|&p| {
            self.children
                .iter()
                .position(|c| c.owner == p && c.slots.available() > 0)
        });
        let c = match park {
            Some(c) => c,
            None => {
                // The handle stays inside: parks are the Objects' own.
                let node = self.create_cnode(PARK_RADIX)?;
                let c = self.child_by_cap(&node)?;
                self.parks.push(self.children[c].owner);
                c
            }
        };
        let (key, owner, index) = self.move_to_child(c, frame, None)?;
        self.pool.cap_moved(frame, key)?;
        self.cspace.free_slot(frame)?;
        Ok(ParkedFrame { park: owner, index })
    }

    /// Deletes the parked frames of a region (which unmaps them), gives
    /// their memory back and releases the range. Goes on after an error
    /// and returns the first.
    pub(crate) fn unmap_region(&mut self, region: Region) -> Result<()> {
        let mut first = Ok(());
        for f in region.frames {
            let r = self.delete_in_child(f.park, f.index);
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
        .retype_raw(
            <sel4::Granule as FixedSize>::TYPE,
            0,
            Destination::root_cnode(),
            tmp,
            1,
        )
        .is_ok()
    {
        let frame: Cap<sel4::Granule> = Cap::from_cptr(tmp);
        paddr = crate::memory::frame_paddr(frame).unwrap_or(0);
        let _ = cnode::delete(SlotRef::root(tmp));
    }
    let _ = cspace.free_slot(tmp);
    paddr
}
