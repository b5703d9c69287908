//! Untyped memory: a pool over bootinfo's untypeds that creates kernel
//! objects into fresh slots of the root CSpace, finds device memory by
//! physical address, accounts for what is used, and gets memory back by
//! revoking.
//!
//! The bookkeeping (which untyped, at which offset) is
//! [`sel4_alloc::UntypedAllocator`], which follows the kernel's retype rule;
//! this module performs the retypes it plans and undoes a plan the kernel
//! refuses.

use alloc::vec::Vec;

pub use sel4_alloc::MemoryKind;
use sel4_alloc::{CarveStep, IdMap, Placement, Untyped as UntypedDesc, UntypedAllocator};
use sel4_sys::{consts, CPtr, ObjectType};

use crate::cap::{cap_type, CNode, Cap, CapType, FixedSize, Untyped};
use crate::cspace::CSpace;
use crate::error::{Error, Result};
use crate::untyped::{Destination, UntypedExt};
use crate::BootInfo;

/// Memory totals of one kind, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub total: u64,
    pub used: u64,
    pub free: u64,
}

/// The root task's untyped memory.
#[derive(Debug)]
pub struct UntypedPool {
    alloc: UntypedAllocator,
    /// Slot of every object the pool made -> the untyped it came from
    /// (constant-time lookups for slots of the root CNode).
    objects: IdMap<CPtr>,
}

impl UntypedPool {
    /// Every untyped of bootinfo, all free.
    pub fn new(bootinfo: &BootInfo) -> Result<UntypedPool> {
        let first = bootinfo.untyped().start as u64;
        Self::from_untypeds(bootinfo.untypeds().enumerate().map(|(i, u)| UntypedDesc {
            id: first + i as u64,
            paddr: u.paddr,
            size_bits: u.size_bits,
            is_device: u.is_device,
        }))
    }

    /// A pool with no untypeds (add them with [`UntypedPool::add_untyped`]).
    pub fn empty() -> UntypedPool {
        UntypedPool {
            alloc: UntypedAllocator::new(),
            objects: IdMap::new(),
        }
    }

    /// A pool over the given untyped capabilities (ids are their slots).
    pub fn from_untypeds(untypeds: impl IntoIterator<Item = UntypedDesc>) -> Result<UntypedPool> {
        let mut alloc = UntypedAllocator::new();
        for u in untypeds {
            alloc.add(u)?;
        }
        Ok(UntypedPool {
            alloc,
            objects: IdMap::new(),
        })
    }

    /// The bookkeeping (per-untyped usage, lookups).
    pub fn allocator(&self) -> &UntypedAllocator {
        &self.alloc
    }

    /// Totals of RAM or device memory.
    pub fn usage(&self, kind: MemoryKind) -> Usage {
        Usage {
            total: self.alloc.total_bytes(kind),
            used: self.alloc.used_bytes(kind),
            free: self.alloc.free_bytes(kind),
        }
    }

    /// Performs the retype a placement planned, into `count` fresh
    /// contiguous slots; undoes the plan and frees the slots on failure.
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
        for k in 0..p.count as u64 {
            self.objects.insert(first + k, p.untyped);
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
    pub fn create_raw(
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

    /// Creates one object of the fixed-size kind `T` from RAM.
    pub fn create<T: FixedSize>(&mut self, cspace: &mut CSpace) -> Result<Cap<T>> {
        let s = self.create_raw(cspace, T::TYPE, 0, T::SIZE_BITS, 1, MemoryKind::Ram)?;
        Ok(Cap::from_cptr(s))
    }

    /// Creates `n` objects of kind `T` with one retype (from one untyped,
    /// into contiguous slots).
    pub fn create_many<T: FixedSize>(
        &mut self,
        cspace: &mut CSpace,
        n: usize,
    ) -> Result<Vec<Cap<T>>> {
        let s = self.create_raw(cspace, T::TYPE, 0, T::SIZE_BITS, n, MemoryKind::Ram)?;
        Ok((0..n as u64).map(|i| Cap::from_cptr(s + i)).collect())
    }

    /// Creates one object of kind `T` from the untyped `untyped` (one the
    /// pool knows), wherever the pool's policy would put it otherwise.
    pub fn create_in<T: FixedSize>(
        &mut self,
        cspace: &mut CSpace,
        untyped: Cap<Untyped>,
    ) -> Result<Cap<T>> {
        let p = self
            .alloc
            .alloc_from(untyped.cptr(), T::SIZE_BITS as u8, 1)?;
        let s = self.retype(cspace, &p, T::TYPE, 0)?;
        Ok(Cap::from_cptr(s))
    }

    /// Creates a CNode of `2^radix` slots.
    pub fn create_cnode(&mut self, cspace: &mut CSpace, radix: u8) -> Result<Cap<CNode>> {
        let bits = radix as usize + consts::SlotBits;
        let s = self.create_raw(
            cspace,
            ObjectType::CapTableObject,
            radix as usize,
            bits,
            1,
            MemoryKind::Ram,
        )?;
        Ok(Cap::from_cptr(s))
    }

    /// Creates an untyped of `2^size_bits` bytes of RAM, carved from a
    /// larger one (registered in the pool, so it also serves later
    /// requests unless the caller uses it directly).
    pub fn create_untyped(&mut self, cspace: &mut CSpace, size_bits: u8) -> Result<Cap<Untyped>> {
        let p = self.alloc.alloc(size_bits, MemoryKind::Ram)?;
        let s = self.retype(cspace, &p, ObjectType::UntypedObject, size_bits as usize)?;
        self.alloc.add_children(&p, s)?;
        Ok(Cap::from_cptr(s))
    }

    /// Creates a 2 MiB frame of RAM.
    pub fn create_large_page(&mut self, cspace: &mut CSpace) -> Result<Cap<cap_type::X86Page>> {
        let s = self.create_raw(
            cspace,
            ObjectType::X86_LargePageObject,
            0,
            consts::LargePageBits,
            1,
            MemoryKind::Ram,
        )?;
        Ok(Cap::from_cptr(s))
    }

    /// A frame of `2^size_bits` bytes (4 KiB or 2 MiB) at the physical
    /// address `paddr` (device memory, usually): the untyped that covers
    /// it is split into smaller untypeds until one is exactly the frame.
    pub fn frame_at(
        &mut self,
        cspace: &mut CSpace,
        paddr: u64,
        size_bits: usize,
    ) -> Result<Cap<cap_type::X86Page>> {
        let ty = if size_bits == consts::PageBits {
            ObjectType::X86_4K
        } else if size_bits == consts::LargePageBits {
            ObjectType::X86_LargePageObject
        } else {
            return Err(Error::Check("frame_at: size must be 4 KiB or 2 MiB"));
        };
        loop {
            match self.alloc.carve_step(paddr, size_bits as u8)? {
                CarveStep::Ready { untyped } => {
                    let p = self.alloc.alloc_from(untyped, size_bits as u8, 1)?;
                    let s = self.retype(cspace, &p, ty, 0)?;
                    return Ok(Cap::from_cptr(s));
                }
                CarveStep::Split { placement } => {
                    let s = self.retype(
                        cspace,
                        &placement,
                        ObjectType::UntypedObject,
                        placement.size_bits as usize,
                    )?;
                    self.alloc.add_children(&placement, s)?;
                }
            }
        }
    }

    /// A 4 KiB device frame at `paddr`.
    pub fn device_frame(
        &mut self,
        cspace: &mut CSpace,
        paddr: u64,
    ) -> Result<Cap<cap_type::X86Page>> {
        self.frame_at(cspace, paddr, consts::PageBits)
    }

    /// Gets back all memory of the untyped `untyped` (a bootinfo untyped or
    /// one carved by the pool): revokes it (the kernel deletes every object
    /// and child untyped made from it), frees the slots those were in and
    /// resets the bookkeeping, so the memory can be retyped again. Returns
    /// how many slots were freed. Capabilities to those objects that the
    /// caller still holds name empty (later reused) slots afterwards.
    pub fn reclaim(&mut self, cspace: &mut CSpace, untyped: Cap<Untyped>) -> Result<usize> {
        let id = untyped.cptr();
        if self.alloc.get(id).is_none() {
            return Err(sel4_alloc::AllocError::UnknownUntyped { id }.into());
        }
        cspace.revoke(untyped)?;
        let mut gone = self.alloc.reclaim(id)?;
        gone.push(id);
        let slots: Vec<CPtr> = self
            .objects
            .iter()
            .filter(|(_, u)| gone.contains(u))
            .map(|(s, _)| s)
            .collect();
        for &s in &slots {
            cspace.free_slot(s)?;
            self.objects.remove(s);
        }
        Ok(slots.len())
    }

    /// Deletes an object the pool made (at the slot the pool put it, or
    /// where [`UntypedPool::moved`] said it went) and frees its slot. When
    /// the last object of an untyped goes, the kernel and the pool start
    /// that untyped from offset 0 again.
    pub fn destroy<T: CapType>(&mut self, cspace: &mut CSpace, cap: Cap<T>) -> Result<()> {
        let slot = cap.cptr();
        let ut = self
            .objects
            .get(slot)
            .ok_or(sel4_alloc::AllocError::SlotNotAllocated { slot })?;
        self.destroy_owned(cspace, cap, ut)
    }

    /// Deletes the capability and frees its slot: as
    /// [`UntypedPool::destroy`] for an object the pool made, as
    /// [`CSpace::delete`] for any other (one lookup for both).
    #[inline]
    pub(crate) fn delete_any<T: CapType>(
        &mut self,
        cspace: &mut CSpace,
        cap: Cap<T>,
    ) -> Result<()> {
        match self.objects.get(cap.cptr()) {
            Some(ut) => self.destroy_owned(cspace, cap, ut),
            None => cspace.delete(cap),
        }
    }

    /// [`UntypedPool::destroy`] of the object at `cap`, made from the
    /// untyped `ut`.
    #[inline]
    fn destroy_owned<T: CapType>(
        &mut self,
        cspace: &mut CSpace,
        cap: Cap<T>,
        ut: CPtr,
    ) -> Result<()> {
        let slot = cap.cptr();
        let carved = self.alloc.get(slot).map(|u| u.used);
        if carved.is_some_and(|used| used != 0) {
            // A carved untyped with objects of its own: revoke it first.
            return Err(Error::Kernel(sel4_sys::InvocationError::RevokeFirst));
        }
        cspace.delete(cap)?;
        self.objects.remove(slot);
        if carved.is_some() {
            self.alloc.remove(slot)?;
        } else {
            self.alloc.free_objects(ut, 1)?;
        }
        Ok(())
    }

    /// Tells the pool that the object at `from` now lives at `to` (after
    /// [`CSpace::move_cap`] or a rotate), so that [`UntypedPool::destroy`]
    /// and [`UntypedPool::reclaim`] find it.
    pub fn moved(&mut self, from: CPtr, to: CPtr) -> Result<()> {
        let ut = self
            .objects
            .remove(from)
            .ok_or(sel4_alloc::AllocError::SlotNotAllocated { slot: from })?;
        self.objects.insert(to, ut);
        Ok(())
    }

    /// Whether the object at `slot` was made by the pool (and is still in
    /// its slot bookkeeping).
    pub fn owns(&self, slot: CPtr) -> bool {
        self.objects.contains(slot)
    }

    /// The untyped the object at `slot` was made from, if the pool made it.
    pub fn untyped_of<T: CapType>(&self, cap: Cap<T>) -> Option<Cap<Untyped>> {
        self.objects.get(cap.cptr()).map(Cap::from_cptr)
    }

    /// Takes the object at `slot` out of the pool's slot bookkeeping (its
    /// capability is moved to a place the pool does not track, such as a
    /// CNode of the caller's); returns the untyped it came from, to give to
    /// [`UntypedPool::object_deleted`] once the object is deleted.
    pub fn detach(&mut self, slot: CPtr) -> Result<CPtr> {
        if self.alloc.get(slot).is_some() {
            return Err(Error::Check("a carved untyped cannot leave the pool"));
        }
        self.objects
            .remove(slot)
            .ok_or(sel4_alloc::AllocError::SlotNotAllocated { slot }.into())
    }

    /// Records that an object made from `untyped` and [detached](UntypedPool::detach)
    /// was deleted (when the last object of an untyped goes, the kernel and
    /// the pool start it from offset 0 again).
    pub fn object_deleted(&mut self, untyped: CPtr) -> Result<()> {
        Ok(self.alloc.free_objects(untyped, 1)?)
    }

    /// Adds an untyped whose memory is all free (one the caller carved or
    /// got elsewhere; its id is its slot).
    pub fn add_untyped(&mut self, untyped: UntypedDesc) -> Result<()> {
        Ok(self.alloc.add(untyped)?)
    }

    /// The kind of memory an untyped is, if the pool knows it.
    pub fn kind_of<T: CapType>(&self, cap: Cap<T>) -> Option<MemoryKind> {
        self.alloc.get(cap.cptr()).map(|u| {
            if u.untyped.is_device {
                MemoryKind::Device
            } else {
                MemoryKind::Ram
            }
        })
    }
}

/// The physical address of a frame (`X86_Page_GetAddress`).
///
/// seL4 5.x answers with the address in the first message register but a
/// message length of 0; the generated method reads the register whatever
/// the length says, as libsel4 does, so this works on every version.
pub fn frame_paddr(frame: Cap<cap_type::X86Page>) -> Result<u64> {
    Ok(frame.x86_page_get_address()?)
}
