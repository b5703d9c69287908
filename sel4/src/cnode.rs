//! CNode slots and the operations on them.

use crate::{cap_type, Cap, CapData, CapRights, CapType, Result, Word, WORD_BITS};

/// The width of a CNode depth (bits of a capability address to resolve),
/// the same in every operation that takes one.
pub type Depth = u8;

/// A slot of a CSpace: the CNode capability the lookup starts from
/// (`root`), the capability address in it (`index`) and how many bits of
/// that address to resolve (`depth`).
///
/// The root task's CSpace is one CNode whose guard fills the word, so its
/// slot `i` is `init::CNODE.slot(i)` (depth [`WORD_BITS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Slot {
    /// The CNode the lookup starts from.
    pub root: Cap<cap_type::CNode>,
    /// The capability address, resolved from `root`.
    pub index: Word,
    /// Bits of `index` to resolve.
    pub depth: Depth,
}

impl Slot {
    /// The slot at `index`, resolving `depth` bits from `root`.
    pub const fn new(root: Cap<cap_type::CNode>, index: Word, depth: Depth) -> Slot {
        Slot { root, index, depth }
    }

    /// The capability in this slot claimed as a `T`, named by its index.
    /// That name is valid for the current thread when `root` is its CSpace
    /// root and `depth` is [`WORD_BITS`] (the root task's slots).
    pub const fn cap<T: CapType>(self) -> Cap<T> {
        Cap::from_cptr(self.index)
    }

    /// `CNode_Copy`: a copy of the capability in `src` with `rights` (at
    /// most those of the source) into this empty slot.
    pub fn copy_from(self, src: Slot, rights: CapRights) -> Result<()> {
        self.root.cnode_copy(
            self.index,
            self.depth,
            src.root,
            src.index,
            src.depth,
            rights.into_sys(),
        )
    }

    /// `CNode_Mint`: a copy of the capability in `src` with `rights` and
    /// `data` (a badge for an unbadged endpoint or notification
    /// capability, a guard for a CNode capability) into this empty slot.
    pub fn mint_from(self, src: Slot, rights: CapRights, data: CapData) -> Result<()> {
        self.root.cnode_mint(
            self.index,
            self.depth,
            src.root,
            src.index,
            src.depth,
            rights.into_sys(),
            data.sys(),
        )
    }

    /// `CNode_Move`: moves the capability in `src` into this empty slot.
    pub fn move_from(self, src: Slot) -> Result<()> {
        self.root
            .cnode_move(self.index, self.depth, src.root, src.index, src.depth)
    }

    /// `CNode_Mutate`: moves the capability in `src` into this empty slot,
    /// changing its data to `data` (a CNode's guard; the kernel refuses to
    /// change an endpoint's or notification's badge this way).
    pub fn mutate_from(self, src: Slot, data: CapData) -> Result<()> {
        self.root.cnode_mutate(
            self.index,
            self.depth,
            src.root,
            src.index,
            src.depth,
            data.sys(),
        )
    }

    /// `CNode_Rotate`: the capability in `pivot` moves into this (empty)
    /// slot with data `data`, and the one in `src` moves into `pivot` with
    /// `pivot_data`.
    pub fn rotate_from(
        self,
        data: CapData,
        pivot: Slot,
        pivot_data: CapData,
        src: Slot,
    ) -> Result<()> {
        self.root.cnode_rotate(
            self.index,
            self.depth,
            data.sys(),
            pivot.root,
            pivot.index,
            pivot.depth,
            pivot_data.sys(),
            src.root,
            src.index,
            src.depth,
        )
    }

    /// `CNode_Delete`: empties the slot.
    pub fn delete(self) -> Result<()> {
        self.root.cnode_delete(self.index, self.depth)
    }

    /// `CNode_Revoke`: deletes every capability derived from the one in
    /// this slot.
    pub fn revoke(self) -> Result<()> {
        self.root.cnode_revoke(self.index, self.depth)
    }

    /// `CNode_CancelBadgedSends`: aborts the pending sends of the badge of
    /// the endpoint capability in this slot.
    pub fn cancel_badged_sends(self) -> Result<()> {
        self.root.cnode_cancel_badged_sends(self.index, self.depth)
    }
}

/// Slots of a CNode.
pub trait CNodeOps {
    /// Slot `index` at full depth ([`WORD_BITS`]): the root task's slot
    /// `index` when this is its CSpace root.
    fn slot(self, index: Word) -> Slot;
    /// The slot that `index` names, resolving `depth` bits.
    fn slot_at(self, index: Word, depth: Depth) -> Slot;
    /// The slot of `cap`, named at full depth from this CNode (the current
    /// thread's CSpace root).
    fn slot_of<T: CapType>(self, cap: Cap<T>) -> Slot;
}

impl CNodeOps for Cap<cap_type::CNode> {
    fn slot(self, index: Word) -> Slot {
        Slot::new(self, index, WORD_BITS)
    }

    fn slot_at(self, index: Word, depth: Depth) -> Slot {
        Slot::new(self, index, depth)
    }

    fn slot_of<T: CapType>(self, cap: Cap<T>) -> Slot {
        Slot::new(self, cap.cptr(), WORD_BITS)
    }
}

crate::sel4_cfg_if! { label CNodeSaveCaller {
    impl Slot {
        /// `CNode_SaveCaller` (non-MCS kernels): moves the current thread's
        /// reply capability into this empty slot.
        pub fn save_caller(self) -> Result<()> {
            self.root.cnode_save_caller(self.index, self.depth)
        }
    }
} }
