//! The root task's CSpace: a slot allocator over bootinfo's empty slots and
//! typed CNode operations that hand out and take back slots, plus CNodes
//! created from untyped memory with slots of their own.
//!
//! The root task's CSpace is one CNode whose guard fills the word, so a
//! capability pointer is a slot index and every path has the word's depth
//! ([`depth`]). A new CNode of radix `r` sits in one of those slots; its own
//! slots are addressed by invoking the new CNode with an index of depth `r`
//! (its capability has no guard). [`ChildCNode::mint_as_cspace_root`] gives
//! a copy with the guard that makes the same slots reachable at full depth,
//! which is what a thread that gets the CNode as its CSpace root needs.

use sel4_alloc::SlotAllocator;
use sel4_sys::{CPtr, CapRights, InvocationLabel, Word};

use crate::cap::{CNode, Cap, CapType};
use crate::error::{Error, Result};
use crate::memory::UntypedPool;
use crate::untyped::Destination;
use crate::BootInfo;

/// Depth that resolves a slot index of the root task's CSpace.
pub fn depth() -> u8 {
    sel4_sys::config::WORD_SIZE as u8
}

fn badge_arg<B: TryFrom<u64>>(badge: u64) -> Result<B> {
    badge.try_into().map_err(|_| Error::BadgeTooLarge { badge })
}

/// The capability data word that sets a CNode capability's guard to
/// `guard` of `guard_size` bits (seL4 5.x: `seL4_CapData_Guard`; later
/// kernels: `seL4_CNode_CapData`).
pub fn guard_data(guard: u64, guard_size: u8) -> Word {
    if sel4_sys::KERNEL_VERSION_MAJOR < 7 {
        // seL4_CapData_t went away in seL4 7.0.0.
        // tag Guard = 1 at bit 31, GuardBits at 8..26, GuardSize at 2..8.
        (1 << 31) | ((guard & 0x3_ffff) << 8) | ((guard_size as u64 & 0x3f) << 2)
    } else {
        // guard at 6..64, guardSize at 0..6.
        (guard << 6) | (guard_size as u64 & 0x3f)
    }
}

/// The root task's CSpace, with an allocator over its free slots.
#[derive(Debug)]
pub struct CSpace {
    root: Cap<CNode>,
    slots: SlotAllocator,
}

impl CSpace {
    /// The root CNode with bootinfo's empty slots (the runtime's own slots
    /// excluded) as free slots.
    pub fn new(bootinfo: &BootInfo) -> CSpace {
        let e = bootinfo.empty();
        CSpace::with_slots(e.start as u64, e.end as u64)
    }

    /// The root CNode with the free slots `[start, end)`.
    pub fn with_slots(start: u64, end: u64) -> CSpace {
        CSpace {
            root: crate::cnode::root(),
            slots: SlotAllocator::new(start, end),
        }
    }

    /// The root CNode.
    pub fn root(&self) -> Cap<CNode> {
        self.root
    }

    /// The slot allocator (counts, ranges).
    pub fn slots(&self) -> &SlotAllocator {
        &self.slots
    }

    /// Takes a free slot.
    #[inline]
    pub fn alloc_slot(&mut self) -> Result<CPtr> {
        Ok(self.slots.alloc()?)
    }

    /// Takes `n` contiguous free slots; returns the first.
    #[inline]
    pub fn alloc_slots(&mut self, n: usize) -> Result<CPtr> {
        Ok(self.slots.alloc_range(n)?)
    }

    /// Returns an (empty) slot to the allocator. Freeing a slot twice is
    /// an error.
    #[inline]
    pub fn free_slot(&mut self, slot: CPtr) -> Result<()> {
        Ok(self.slots.free(slot)?)
    }

    /// Returns `n` slots from `first`.
    pub fn free_slots(&mut self, first: CPtr, n: usize) -> Result<()> {
        Ok(self.slots.free_range(first, n)?)
    }

    /// Runs `op` on a fresh slot; gives the slot back if `op` fails.
    fn with_new_slot(&mut self, op: impl FnOnce(CPtr) -> Result<()>) -> Result<CPtr> {
        let slot = self.alloc_slot()?;
        match op(slot) {
            Ok(()) => Ok(slot),
            Err(e) => {
                self.slots.free(slot)?;
                Err(e)
            }
        }
    }

    /// Frees the slot of a capability that was moved or deleted, if the
    /// allocator manages it (initial capabilities are not).
    fn release(&mut self, slot: CPtr) -> Result<()> {
        let (start, end) = self.slots.range();
        if (start..end).contains(&slot) {
            self.slots.free(slot)?;
        }
        Ok(())
    }

    /// `CNode_Copy` into a fresh slot, with `rights`.
    pub fn copy<T: CapType>(&mut self, src: Cap<T>, rights: CapRights) -> Result<Cap<T>> {
        let (root, d) = (self.root, depth());
        let slot = self
            .with_new_slot(|dest| Ok(root.cnode_copy(dest, d, root, src.cptr(), d, rights)?))?;
        Ok(Cap::from_cptr(slot))
    }

    /// `CNode_Mint` into a fresh slot, with `rights` and `badge`.
    pub fn mint<T: CapType>(
        &mut self,
        src: Cap<T>,
        rights: CapRights,
        badge: u64,
    ) -> Result<Cap<T>> {
        let (root, d) = (self.root, depth());
        let b = badge_arg(badge)?;
        let slot = self.with_new_slot(|dest| {
            Ok(root.cnode_mint(dest, d, root, src.cptr(), d, rights, b)?)
        })?;
        Ok(Cap::from_cptr(slot))
    }

    /// `CNode_Move` into a fresh slot; the source slot is freed.
    pub fn move_cap<T: CapType>(&mut self, src: Cap<T>) -> Result<Cap<T>> {
        let (root, d) = (self.root, depth());
        let slot =
            self.with_new_slot(|dest| Ok(root.cnode_move(dest, d, root, src.cptr(), d)?))?;
        self.release(src.cptr())?;
        Ok(Cap::from_cptr(slot))
    }

    /// `CNode_Mutate` into a fresh slot: a move that changes the
    /// capability's data word `data` (raw: for a CNode the guard, see
    /// [`guard_data`]; the kernel refuses to change the badge of an
    /// endpoint or notification this way, with `IllegalOperation`). The
    /// source slot is freed.
    pub fn mutate<T: CapType>(&mut self, src: Cap<T>, data: Word) -> Result<Cap<T>> {
        let (root, d) = (self.root, depth());
        let slot = self.with_new_slot(|dest| {
            // Raw call: seL4 5.x types the word as seL4_CapData_t, later
            // kernels as a plain word; the message is the same.
            sel4_sys::invocation::call(
                root.cptr(),
                InvocationLabel::CNodeMutate,
                &[root.cptr()],
                &[dest, d as Word, src.cptr(), d as Word, data],
            )?;
            Ok(())
        })?;
        self.release(src.cptr())?;
        Ok(Cap::from_cptr(slot))
    }

    /// `CNode_Rotate`: the capability in `pivot` moves to a fresh slot
    /// (its data word updated with `dest_badge`), the one in `src` moves
    /// into `pivot`'s slot (with `pivot_badge`), and `src`'s slot is freed.
    /// Returns the new names of both: (old pivot, old src). As with
    /// [`CSpace::mutate`], the kernel refuses endpoint and notification
    /// capabilities (their badge cannot change in place); frames, untypeds
    /// and CNodes (data 0: no change) rotate.
    pub fn rotate<T: CapType, U: CapType>(
        &mut self,
        pivot: Cap<T>,
        dest_badge: u64,
        src: Cap<U>,
        pivot_badge: u64,
    ) -> Result<(Cap<T>, Cap<U>)> {
        let (root, d) = (self.root, depth());
        let db = badge_arg(dest_badge)?;
        let pb = badge_arg(pivot_badge)?;
        let slot = self.with_new_slot(|dest| {
            Ok(root.cnode_rotate(dest, d, db, root, pivot.cptr(), d, pb, root, src.cptr(), d)?)
        })?;
        self.release(src.cptr())?;
        Ok((Cap::from_cptr(slot), Cap::from_cptr(pivot.cptr())))
    }

    /// `CNode_Delete`, then frees the slot. Deleting a capability whose
    /// slot was already freed is an error ([`sel4_alloc::AllocError::SlotNotAllocated`]).
    #[inline]
    pub fn delete<T: CapType>(&mut self, cap: Cap<T>) -> Result<()> {
        let slot = cap.cptr();
        let (start, end) = self.slots.range();
        let ours = (start..end).contains(&slot);
        if ours && !self.slots.is_allocated(slot) {
            return Err(sel4_alloc::AllocError::SlotNotAllocated { slot }.into());
        }
        self.root.cnode_delete(slot, depth())?;
        if ours {
            self.slots.free(slot)?;
        }
        Ok(())
    }

    /// `CNode_Revoke`: deletes every capability derived from `cap` (the
    /// caller frees the slots those were in; see
    /// [`UntypedPool::reclaim`](crate::memory::UntypedPool::reclaim) for
    /// untyped memory).
    pub fn revoke<T: CapType>(&self, cap: Cap<T>) -> Result<()> {
        Ok(self.root.cnode_revoke(cap.cptr(), depth())?)
    }

    /// A new CNode of `2^radix` slots from untyped memory, in a fresh slot
    /// of the root CNode.
    pub fn create_cnode(&mut self, pool: &mut UntypedPool, radix: u8) -> Result<ChildCNode> {
        let cap = pool.create_cnode(self, radix)?;
        Ok(ChildCNode {
            cap,
            radix,
            slots: SlotAllocator::new(0, 1u64 << radix),
        })
    }
}

/// A CNode created by the root task, with an allocator over its slots.
/// Its capability lives in the root CNode (no guard): its slots are
/// `(cap, index, radix)`.
#[derive(Debug)]
pub struct ChildCNode {
    cap: Cap<CNode>,
    radix: u8,
    slots: SlotAllocator,
}

impl ChildCNode {
    /// The capability to the CNode (in the root CNode).
    pub fn cap(&self) -> Cap<CNode> {
        self.cap
    }

    /// log2 of the number of slots.
    pub fn radix(&self) -> u8 {
        self.radix
    }

    /// The slot allocator (counts).
    pub fn slots(&self) -> &SlotAllocator {
        &self.slots
    }

    /// Takes a free slot (an index into this CNode).
    pub fn alloc_slot(&mut self) -> Result<u64> {
        Ok(self.slots.alloc()?)
    }

    /// Takes `n` contiguous free slots.
    pub fn alloc_slots(&mut self, n: usize) -> Result<u64> {
        Ok(self.slots.alloc_range(n)?)
    }

    /// Returns an (empty) slot.
    pub fn free_slot(&mut self, index: u64) -> Result<()> {
        Ok(self.slots.free(index)?)
    }

    /// Where `Untyped_Retype` puts objects to land in this CNode (`offset`
    /// is then the index).
    pub fn destination(&self) -> Destination {
        Destination {
            root: self.cap,
            node_index: 0,
            node_depth: 0,
        }
    }

    /// Copies `src` (a capability of the root CSpace) into a fresh slot of
    /// this CNode; returns the index.
    pub fn copy_in<T: CapType>(
        &mut self,
        cspace: &CSpace,
        src: Cap<T>,
        rights: CapRights,
    ) -> Result<u64> {
        let i = self.alloc_slot()?;
        let r = self
            .cap
            .cnode_copy(i, self.radix, cspace.root(), src.cptr(), depth(), rights);
        if let Err(e) = r {
            self.slots.free(i)?;
            return Err(e.into());
        }
        Ok(i)
    }

    /// Moves the capability at `index` into a fresh slot of the root
    /// CSpace, claimed as a `T`; frees `index`.
    pub fn move_out<T: CapType>(&mut self, cspace: &mut CSpace, index: u64) -> Result<Cap<T>> {
        if !self.slots.is_allocated(index) {
            return Err(sel4_alloc::AllocError::SlotNotAllocated { slot: index }.into());
        }
        let (root, d, me, radix) = (cspace.root(), depth(), self.cap, self.radix);
        let slot = cspace.with_new_slot(|dest| Ok(root.cnode_move(dest, d, me, index, radix)?))?;
        self.slots.free(index)?;
        Ok(Cap::from_cptr(slot))
    }

    /// Moves `src` (a capability of the root CSpace, in a slot `cspace`
    /// allocated) into a fresh slot of this CNode and frees its root slot;
    /// returns the index. On failure nothing moved.
    pub fn move_in<T: CapType>(&mut self, cspace: &mut CSpace, src: Cap<T>) -> Result<u64> {
        let i = self.alloc_slot()?;
        let r = self
            .cap
            .cnode_move(i, self.radix, cspace.root(), src.cptr(), depth());
        if let Err(e) = r {
            self.slots.free(i)?;
            return Err(e.into());
        }
        cspace.release(src.cptr())?;
        Ok(i)
    }

    /// Deletes the capability at `index` and frees the slot.
    pub fn delete(&mut self, index: u64) -> Result<()> {
        if !self.slots.is_allocated(index) {
            return Err(sel4_alloc::AllocError::SlotNotAllocated { slot: index }.into());
        }
        self.cap.cnode_delete(index, self.radix)?;
        Ok(self.slots.free(index)?)
    }

    /// A copy of this CNode's capability, in a fresh slot of the root
    /// CSpace, whose guard (`word size - radix` zero bits) makes slot `i`
    /// reachable as the full-depth capability pointer `i`: what a thread
    /// needs when this CNode is its CSpace root.
    pub fn mint_as_cspace_root(&self, cspace: &mut CSpace) -> Result<Cap<CNode>> {
        let (root, d, me) = (cspace.root(), depth(), self.cap);
        let guard_size = depth() - self.radix;
        let data = guard_data(0, guard_size);
        let slot = cspace.with_new_slot(|dest| {
            // The generated `cnode_mint` takes a badge; the guard is the
            // same message word with CNode capability data.
            sel4_sys::invocation::call(
                root.cptr(),
                InvocationLabel::CNodeMint,
                &[root.cptr()],
                &[
                    dest,
                    d as Word,
                    me.cptr(),
                    d as Word,
                    crate::cnode::ALL_RIGHTS.0,
                    data,
                ],
            )?;
            Ok(())
        })?;
        Ok(Cap::from_cptr(slot))
    }
}
