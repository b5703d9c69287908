//! The root task's CSpace as [`Objects`](crate::objects::Objects) sees it:
//! the range of root CNode slots it may hand out and an allocator over
//! them. The capability operations themselves are methods of `Objects`
//! (which keeps the bookkeeping of what is in each slot); the invocations
//! behind them are in [`crate::cnode`].

use sel4_alloc::SlotAllocator;
use sel4_sys::CPtr;

use crate::cap::{new_owner, CNode, Cap, OwnerId};
use crate::error::Result;
use crate::BootInfo;

/// Slots of the root task's root CNode that one owner hands out.
#[derive(Debug)]
pub struct CSpace {
    slots: SlotAllocator,
    owner: OwnerId,
}

impl CSpace {
    /// The root CNode with bootinfo's empty slots (the runtime's own slots
    /// excluded). Give it to one owner only: two allocators over the same
    /// slots would hand each slot out twice.
    pub fn new(bootinfo: &BootInfo) -> CSpace {
        let e = bootinfo.empty();
        CSpace::with_slots(e.start as u64, e.end as u64)
    }

    /// The root CNode with the free slots `[start, end)`: the caller gives
    /// them to this allocator and uses none of them otherwise.
    pub fn with_slots(start: u64, end: u64) -> CSpace {
        CSpace {
            slots: SlotAllocator::new(start, end),
            owner: new_owner(),
        }
    }

    /// The root CNode.
    pub fn root(&self) -> Cap<CNode> {
        crate::cnode::root()
    }

    /// The slot allocator (counts, ranges).
    pub fn slots(&self) -> &SlotAllocator {
        &self.slots
    }

    /// The id that this allocator's handles carry.
    pub(crate) fn owner(&self) -> OwnerId {
        self.owner
    }

    /// Takes a free slot.
    #[inline(always)]
    pub(crate) fn alloc_slot(&mut self) -> Result<CPtr> {
        Ok(self.slots.alloc()?)
    }

    /// Takes `n` contiguous free slots; returns the first.
    #[inline]
    pub(crate) fn alloc_slots(&mut self, n: usize) -> Result<CPtr> {
        Ok(self.slots.alloc_range(n)?)
    }

    /// Returns an (empty) slot. Freeing a slot twice is an error.
    #[inline(always)]
    pub(crate) fn free_slot(&mut self, slot: CPtr) -> Result<()> {
        Ok(self.slots.free(slot)?)
    }

    /// Returns `n` slots from `first`.
    pub(crate) fn free_slots(&mut self, first: CPtr, n: usize) -> Result<()> {
        Ok(self.slots.free_range(first, n)?)
    }

    /// Whether `slot` is handed out by this allocator.
    #[inline(always)]
    pub(crate) fn owns(&self, slot: CPtr) -> bool {
        self.slots.is_allocated(slot)
    }

    /// Runs `op` on a fresh slot; gives the slot back if `op` fails.
    #[inline]
    pub(crate) fn with_new_slot(&mut self, op: impl FnOnce(CPtr) -> Result<()>) -> Result<CPtr> {
        let slot = self.alloc_slot()?;
        match op(slot) {
            Ok(()) => Ok(slot),
            Err(e) => {
                self.slots.free(slot)?;
                Err(e)
            }
        }
    }
}
