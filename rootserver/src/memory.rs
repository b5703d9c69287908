//! Untyped memory: a pool over the root task's untypeds that creates
//! kernel objects into fresh slots of the root CSpace, finds device memory
//! by physical address, accounts for what is used, and knows when memory
//! comes back.
//!
//! The bookkeeping is in `sel4_alloc`: [`UntypedAllocator`] (which untyped,
//! at which offset; it follows the kernel's retype rule) and
//! [`CapRegistry`] (which capabilities name each object the pool made,
//! copies and badged copies included: the memory of an object counts as
//! free only when its last capability is gone, which is when the kernel
//! reuses it). This module performs the retypes the allocator plans and
//! undoes a plan the kernel refuses; [`Objects`](crate::objects::Objects)
//! tells it about every copy, move and deletion.

use alloc::vec::Vec;

use sel4_alloc::{AllocError, CapRegistry, CarveStep, ObjectKind, Placement, UntypedAllocator};
pub use sel4_alloc::{MemoryKind, UntypedDesc};
use sel4_sys::{consts, CPtr, ObjectType};

use crate::cap::{Cap, FixedSize, Untyped};
use crate::cnode::{self, SlotRef};
use crate::cspace::CSpace;
use crate::error::{Error, Result};
use crate::untyped::{Destination, UntypedExt};
use crate::BootInfo;

/// Memory totals of one kind, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Bytes of the untypeds of this kind.
    pub total: u64,
    /// Bytes taken by objects (and alignment padding), or reserved for an
    /// owner ([`Objects::create_untyped`](crate::objects::Objects::create_untyped)).
    pub used: u64,
    /// Bytes the pool can still hand out.
    pub free: u64,
}

/// How the kernel derives capabilities to objects of type `ty`.
pub(crate) fn object_kind(ty: ObjectType) -> ObjectKind {
    match ty {
        ObjectType::EndpointObject | ObjectType::NotificationObject => ObjectKind::Badged,
        ObjectType::UntypedObject => ObjectKind::Untyped,
        _ => ObjectKind::Other,
    }
}

/// The registry class ([`CapRegistry::created_class`]) of an object that
/// needs nothing but a `CNode_Delete` and the bookkeeping of its slot and
/// memory when a capability to it goes: not an untyped (reclaimed first),
/// not a CNode (one of `Objects::create_cnode` is revoked first), not a
/// frame (it may be mapped). [`crate::objects::Objects::delete`] takes a
/// short path for the only capability of such an object.
pub(crate) const CLASS_PLAIN: u8 = 0;
/// The class of every other object.
pub(crate) const CLASS_OTHER: u8 = 1;

/// The registry class of objects of type `ty`.
pub(crate) fn object_class(ty: ObjectType) -> u8 {
    let special = matches!(ty, ObjectType::UntypedObject | ObjectType::CapTableObject)
        || sel4::vspace::is_frame_type(ty);
    if special {
        CLASS_OTHER
    } else {
        CLASS_PLAIN
    }
}

/// The root task's untyped memory and what was made from it.
#[derive(Debug)]
pub struct UntypedPool {
    alloc: UntypedAllocator,
    caps: CapRegistry,
    /// Untypeds the pool split off to reach a physical address
    /// ([`UntypedPool::frame_at`]); their capabilities are the pool's own.
    split: Vec<CPtr>,
}

impl UntypedPool {
    /// Every untyped of bootinfo, all free; an error for one the
    /// bookkeeping refuses.
    pub fn new(bootinfo: &BootInfo) -> Result<UntypedPool> {
        let mut pool = UntypedPool::empty();
        pool.add_bootinfo(bootinfo, true)?;
        Ok(pool)
    }

    /// As [`UntypedPool::new`], leaving out (with a warning) an untyped the
    /// bookkeeping refuses.
    pub(crate) fn new_lenient(bootinfo: &BootInfo) -> UntypedPool {
        let mut pool = UntypedPool::empty();
        // Cannot fail: errors are only logged.
        let _ = pool.add_bootinfo(bootinfo, false);
        pool
    }

    /// Adds bootinfo's untypeds (ids are their slots): the one place where
    /// bootinfo's descriptors become the pool's.
    fn add_bootinfo(&mut self, bootinfo: &BootInfo, strict: bool) -> Result<()> {
        let first = bootinfo.untyped().start as u64;
        for (i, u) in bootinfo.untypeds().enumerate() {
            let id = first + i as u64;
            if let Err(e) = self.alloc.add(id, u) {
                if strict {
                    return Err(e.into());
                }
                log::warn!("untyped {id:#x} left out: {e}");
            }
        }
        Ok(())
    }

    /// A pool with no untypeds.
    pub fn empty() -> UntypedPool {
        UntypedPool {
            alloc: UntypedAllocator::new(),
            caps: CapRegistry::new(),
            split: Vec::new(),
        }
    }

    /// A pool over the given untyped capabilities: (slot, descriptor). The
    /// caller gives them to the pool and retypes from none of them
    /// otherwise.
    pub fn from_untypeds(
        untypeds: impl IntoIterator<Item = (CPtr, UntypedDesc)>,
    ) -> Result<UntypedPool> {
        let mut pool = UntypedPool::empty();
        for (id, u) in untypeds {
            pool.alloc.add(id, u)?;
        }
        Ok(pool)
    }

    /// The untyped bookkeeping (per-untyped usage, lookups).
    pub fn allocator(&self) -> &UntypedAllocator {
        &self.alloc
    }

    /// The capabilities to objects the pool made, copies included.
    pub fn registry(&self) -> &CapRegistry {
        &self.caps
    }

    /// Totals of RAM or device memory.
    pub fn usage(&self, kind: MemoryKind) -> Usage {
        Usage {
            total: self.alloc.total_bytes(kind),
            used: self.alloc.used_bytes(kind),
            free: self.alloc.free_bytes(kind),
        }
    }

    /// Whether the capability in `slot` names an object the pool made (the
    /// original or a copy made through the framework).
    pub fn owns(&self, slot: CPtr) -> bool {
        self.caps.contains(slot)
    }

    /// The untyped the object named by the capability in `slot` was made
    /// from, if the pool made it.
    pub fn untyped_of(&self, slot: CPtr) -> Option<Cap<Untyped>> {
        self.caps.untyped_of(slot).map(Cap::from_cptr)
    }

    /// Whether the object named by the capability in `slot` was made from
    /// the untyped `untyped` or from an untyped carved out of it (at any
    /// depth): whether revoking `untyped` would delete it.
    pub fn made_from(&self, slot: CPtr, untyped: CPtr) -> bool {
        let mut u = self.caps.untyped_of(slot);
        while let Some(id) = u {
            if id == untyped {
                return true;
            }
            u = self.alloc.get(id).and_then(|e| e.parent);
        }
        false
    }

    /// The kind of memory of the untyped in `slot`, if the pool manages it.
    pub fn kind_of(&self, slot: CPtr) -> Option<MemoryKind> {
        self.alloc.get(slot).map(|u| {
            if u.untyped.is_device {
                MemoryKind::Device
            } else {
                MemoryKind::Ram
            }
        })
    }

    /// Whether `slot` holds an untyped the pool manages (bootinfo's, carved
    /// ones, reserved ones).
    pub(crate) fn is_untyped(&self, slot: CPtr) -> bool {
        self.alloc.contains(slot)
    }

    /// Adds an untyped whose memory is all free.
    pub(crate) fn add_untyped(&mut self, id: CPtr, untyped: UntypedDesc) -> Result<()> {
        Ok(self.alloc.add(id, untyped)?)
    }

    /// Performs the retype a placement planned, into `count` fresh
    /// contiguous slots, and records the new objects; undoes the plan and
    /// frees the slots on failure.
    #[inline]
    fn retype(
        &mut self,
        cspace: &mut CSpace,
        p: &Placement,
        ty: ObjectType,
        size_arg: usize,
    ) -> Result<CPtr> {
        let slots = if p.count == 1 {
            cspace.alloc_slot()
        } else {
            cspace.alloc_slots(p.count)
        };
        let first = match slots {
            Ok(s) => s,
            Err(e) => return Err(self.no_slots(p, e)),
        };
        let ut: Cap<Untyped> = Cap::from_cptr(p.untyped);
        if let Err(e) = ut.retype_raw(ty, size_arg, Destination::root_cnode(), first, p.count) {
            return Err(self.retype_refused(cspace, p, ty, first, e));
        }
        let (kind, class) = (object_kind(ty), object_class(ty));
        for k in 0..p.count as u64 {
            // Cannot fail: the slots were free, so nothing tracks them.
            self.caps.created_class(first + k, p.untyped, kind, class)?;
        }
        Ok(first)
    }

    /// [`UntypedPool::retype`] found no slots: undoes the plan; the error
    /// to return.
    #[cold]
    #[inline(never)]
    fn no_slots(&mut self, p: &Placement, e: Error) -> Error {
        match self.alloc.rollback(p) {
            Ok(()) => e,
            Err(r) => r.into(),
        }
    }

    /// The kernel refused [`UntypedPool::retype`]'s retype into the slots
    /// from `first`: undoes the plan and frees the slots; the error to
    /// return.
    #[cold]
    #[inline(never)]
    fn retype_refused(
        &mut self,
        cspace: &mut CSpace,
        p: &Placement,
        ty: ObjectType,
        first: CPtr,
        e: Error,
    ) -> Error {
        log::warn!(
            "retype of {} x {:?} (2^{} bytes) from untyped {:#x} at {:#x} failed: {}",
            p.count,
            ty,
            p.size_bits,
            p.untyped,
            p.paddr,
            e
        );
        if let Err(r) = self.alloc.rollback(p) {
            return r.into();
        }
        if let Err(r) = cspace.free_slots(first, p.count) {
            return r;
        }
        e
    }

    /// Creates `count` objects of `ty` (`size_arg` is the retype's size
    /// argument; `size_bits` the object's size in bytes, log2) from one
    /// untyped of `kind`; returns the first of `count` contiguous slots.
    #[inline]
    pub(crate) fn create_raw(
        &mut self,
        cspace: &mut CSpace,
        ty: ObjectType,
        size_arg: usize,
        size_bits: usize,
        count: usize,
        kind: MemoryKind,
    ) -> Result<CPtr> {
        let p = self.alloc.alloc_many(size_bits as u8, count, kind)?;
        self.retype(cspace, &p, ty, size_arg)
    }

    /// Creates one fixed-size object of kind `T` from RAM.
    #[inline]
    pub(crate) fn create<T: FixedSize>(&mut self, cspace: &mut CSpace) -> Result<CPtr> {
        let mut failed = None;
        match self.create_last::<T>(cspace, &mut failed) {
            Some(s) => Ok(s),
            None => match failed {
                Some(e) => Err(e),
                None => self.create_raw(cspace, T::TYPE, 0, T::SIZE_BITS, 1, MemoryKind::Ram),
            },
        }
    }

    /// [`UntypedPool::create`] in the untyped of the last request for such
    /// an object when that is still the allocator's answer
    /// ([`UntypedAllocator::plan_last`]): the slot of the object. `None`
    /// when it made nothing: with the error in `failed`, or with `failed`
    /// untouched when that untyped is no longer the answer (or there is
    /// none; then the allocator has to search). The short path of
    /// `Objects::create`, all in line: the steps of
    /// [`UntypedPool::retype`] for one object. (Only the slot comes back:
    /// an error returned alongside it would make the compiler merge the
    /// two and unpack the slot again on the short path.)
    #[inline(always)]
    pub(crate) fn create_last<T: FixedSize>(
        &mut self,
        cspace: &mut CSpace,
        failed: &mut Option<Error>,
    ) -> Option<CPtr> {
        // The object is placed in the allocator once the kernel made it,
        // so a failure has nothing to undo there.
        let place = self.alloc.plan_last(T::SIZE_BITS as u8, MemoryKind::Ram)?;
        let untyped = place.untyped();
        let slot = match cspace.alloc_slot() {
            Ok(s) => s,
            Err(e) => {
                *failed = Some(e);
                return None;
            }
        };
        let ut: Cap<Untyped> = Cap::from_cptr(untyped);
        if let Err(e) = ut.retype_raw(T::TYPE, 0, Destination::root_cnode(), slot, 1) {
            *failed = Some(Self::retype_one_refused(cspace, untyped, T::TYPE, slot, e));
            return None;
        }
        place.place();
        // Checked although it cannot fail (the slot was free, and the
        // registry forgets a capability before its slot is given back):
        // the test is the one that keeps the registry's count of entries
        // right, and a broken invariant shows as an error, not as a lost
        // record.
        let (kind, class) = (object_kind(T::TYPE), object_class(T::TYPE));
        if !self.caps.try_created(slot, untyped, kind, class) {
            *failed = Some(AllocError::SlotInUse { slot }.into());
            return None;
        }
        Some(slot)
    }

    /// The kernel refused [`UntypedPool::create_last`]'s retype into
    /// `slot`: frees the slot; the error to return.
    #[cold]
    #[inline(never)]
    fn retype_one_refused(
        cspace: &mut CSpace,
        untyped: u64,
        ty: ObjectType,
        slot: CPtr,
        e: Error,
    ) -> Error {
        log::warn!("retype of a {ty:?} from untyped {untyped:#x} failed: {e}");
        match cspace.free_slot(slot) {
            Ok(()) => e,
            Err(r) => r,
        }
    }

    /// Deletes the capability in `slot` with `delete` (the kernel's
    /// `CNode_Delete`) when it is the only capability of an object of
    /// [`CLASS_PLAIN`], and records that its object is gone (its memory
    /// counts as free). `None` (and `delete` not run) when it is not such
    /// a capability; `Some(Err)` when `delete` failed (nothing recorded).
    #[inline(always)]
    pub(crate) fn delete_sole_plain(
        &mut self,
        slot: CPtr,
        delete: impl FnOnce() -> Result<()>,
    ) -> Option<Result<()>> {
        let u = match self.caps.delete_sole(slot, CLASS_PLAIN, delete)? {
            Ok(u) => u,
            Err(e) => return Some(Err(e)),
        };
        Some(self.alloc.free_objects(u, 1).map_err(Error::from))
    }

    /// Creates one object of `ty` (size `2^size_bits` bytes) from the
    /// untyped `untyped`, wherever the pool's policy would put it otherwise.
    pub(crate) fn create_in(
        &mut self,
        cspace: &mut CSpace,
        untyped: CPtr,
        ty: ObjectType,
        size_arg: usize,
        size_bits: usize,
    ) -> Result<CPtr> {
        let p = self.alloc.alloc_from(untyped, size_bits as u8, 1)?;
        self.retype(cspace, &p, ty, size_arg)
    }

    /// Creates an untyped of `2^size_bits` bytes of RAM carved from a larger
    /// one, reserved for the caller: the pool places nothing else in it.
    pub(crate) fn create_untyped(&mut self, cspace: &mut CSpace, size_bits: u8) -> Result<CPtr> {
        let p = self.alloc.alloc(size_bits, MemoryKind::Ram)?;
        let s = self.retype(cspace, &p, ObjectType::UntypedObject, size_bits as usize)?;
        self.alloc.add_children(&p, s)?;
        self.alloc.reserve(s)?;
        Ok(s)
    }

    /// A spare untyped of `2^size_bits` bytes of RAM, reserved for the
    /// caller again (see [`UntypedAllocator::release`]).
    pub(crate) fn take_spare(&mut self, size_bits: u8) -> Option<CPtr> {
        self.alloc.take_spare(size_bits, MemoryKind::Ram)
    }

    /// Keeps the reclaimed, reserved untyped `untyped` as a spare.
    pub(crate) fn release_untyped(&mut self, untyped: CPtr) -> Result<()> {
        Ok(self.alloc.release(untyped)?)
    }

    /// A frame of `2^size_bits` bytes (4 KiB or 2 MiB) at the physical
    /// address `paddr` (device memory, usually): the untyped that covers it
    /// is split into smaller untypeds until one is exactly the frame. The
    /// kernel's answer is checked: a frame that is not at `paddr` (the
    /// untyped was retyped from behind the pool's back) is deleted again
    /// and reported as [`Error::FrameMismatch`].
    pub(crate) fn frame_at(
        &mut self,
        cspace: &mut CSpace,
        paddr: u64,
        size_bits: usize,
    ) -> Result<CPtr> {
        let ty = if size_bits == consts::PageBits {
            <sel4::Granule as FixedSize>::TYPE
        } else if size_bits == consts::LargePageBits {
            <sel4::LargePage as FixedSize>::TYPE
        } else {
            return Err(Error::Check("frame_at: size must be 4 KiB or 2 MiB"));
        };
        if let Some(u) = self.alloc.untyped_at(paddr).filter(|u| u.reserved) {
            // Its owner's memory.
            return Err(AllocError::PhysInUse { paddr, id: u.id }.into());
        }
        let slot = loop {
            match self.alloc.carve_step(paddr, size_bits as u8)? {
                CarveStep::Ready { untyped } => {
                    let p = self.alloc.alloc_from(untyped, size_bits as u8, 1)?;
                    break self.retype(cspace, &p, ty, 0)?;
                }
                CarveStep::Split { placement } => {
                    let s = self.retype(
                        cspace,
                        &placement,
                        ObjectType::UntypedObject,
                        placement.size_bits as usize,
                    )?;
                    self.alloc.add_children(&placement, s)?;
                    self.split
                        .extend((0..placement.count as u64).map(|k| s + k));
                }
            }
        };
        let got = frame_paddr(Cap::from_cptr(slot));
        match got {
            Ok(got) if got == paddr => Ok(slot),
            other => {
                self.delete(cspace, slot)?;
                Err(match other {
                    Ok(got) => Error::FrameMismatch { wanted: paddr, got },
                    Err(e) => e,
                })
            }
        }
    }

    /// Gets back all memory of the untyped `untyped` (a reserved one):
    /// revokes it (the kernel deletes every object and child untyped made
    /// from it, and every copy of their capabilities) and resets the
    /// bookkeeping, so the memory can be retyped again. Returns the slots
    /// whose capabilities the revocation deleted (their owners still hold
    /// them: deleting an empty slot is a no-op for the kernel).
    pub(crate) fn reclaim(&mut self, untyped: CPtr) -> Result<Vec<CPtr>> {
        let u = self
            .alloc
            .get(untyped)
            .ok_or(AllocError::UnknownUntyped { id: untyped })?;
        if !u.reserved {
            return Err(Error::Check(
                "only an untyped of Objects::create_untyped can be reclaimed",
            ));
        }
        cnode::revoke(SlotRef::root(untyped))?;
        let mut gone = self.alloc.reclaim(untyped)?;
        gone.push(untyped);
        Ok(self.caps.forget_untypeds(&gone))
    }

    /// Records that the capability in `slot` (of the root CSpace or a child
    /// CNode: any registry key) is gone; when it was the last of its
    /// object, the object's memory is free again (for a carved untyped, the
    /// untyped leaves the bookkeeping).
    #[inline]
    pub(crate) fn cap_gone(&mut self, key: u64) -> Result<()> {
        if let Some((kind, Some(u))) = self.caps.deleted_kind(key) {
            // Only a capability to an untyped can name one of the
            // allocator's untypeds (the pool registers every untyped it
            // retypes with that kind).
            if kind == ObjectKind::Untyped && self.alloc.contains(key) {
                self.untyped_gone(key)?;
            } else {
                self.alloc.free_objects(u, 1)?;
            }
        }
        Ok(())
    }

    /// A carved untyped, whose last capability was in `key`, is gone.
    #[cold]
    fn untyped_gone(&mut self, key: u64) -> Result<()> {
        self.split.retain(|&s| s != key);
        self.alloc.remove(key)?;
        Ok(())
    }

    /// Records capabilities that the kernel deleted with a CNode that was
    /// destroyed: every key for which `gone` holds.
    pub(crate) fn caps_gone(&mut self, gone: impl FnMut(u64) -> bool) -> Result<()> {
        for u in self.caps.forget_slots(gone) {
            self.alloc.free_objects(u, 1)?;
        }
        Ok(())
    }

    /// Records that the capability in `key` left the capabilities this
    /// pool tracks for good (moved where it never comes back from, such as
    /// the runtime's own CNode): the object's memory stays used.
    pub(crate) fn cap_given_away(&mut self, key: u64) {
        let _ = self.caps.forget_slots(|k| k == key);
    }

    /// Records a copy of `src` into `dest` (`badge` for a mint).
    pub(crate) fn cap_derived(&mut self, src: u64, dest: u64, badge: Option<u64>) -> Result<()> {
        self.caps.derived(src, dest, badge)?;
        Ok(())
    }

    /// Records a move of `from` to `to`.
    pub(crate) fn cap_moved(&mut self, from: u64, to: u64) -> Result<()> {
        self.caps.moved(from, to)?;
        Ok(())
    }

    /// Records a revocation of `key`; returns the keys it emptied.
    pub(crate) fn cap_revoked(&mut self, key: u64) -> Vec<u64> {
        self.caps.revoked(key)
    }

    /// Deletes the capability in the root CNode slot `slot` and frees the
    /// slot, with the bookkeeping of [`UntypedPool::cap_gone`].
    pub(crate) fn delete(&mut self, cspace: &mut CSpace, slot: CPtr) -> Result<()> {
        cnode::delete(SlotRef::root(slot))?;
        self.cap_gone(slot)?;
        cspace.free_slot(slot)
    }

    /// The untypeds the pool split off for [`UntypedPool::frame_at`].
    pub(crate) fn split_untypeds(&self) -> &[CPtr] {
        &self.split
    }
}

/// The physical address of a frame (`Page_GetAddress`).
///
/// seL4 5.x answers with the address in the first message register but a
/// message length of 0; the generated method reads the register whatever
/// the length says, as libsel4 does, so this works on every version.
pub fn frame_paddr(frame: Cap<sel4::Granule>) -> Result<u64> {
    Ok(sel4::FrameOps::paddr(frame)?)
}
