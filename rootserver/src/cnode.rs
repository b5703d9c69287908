//! The CNode invocations of the framework, in one place: copy, mint, move,
//! mutate, rotate, delete and revoke between any two slots, where a slot
//! is a CNode capability of the root task's CSpace, an index and a depth
//! (`SlotRef`). [`Objects`](crate::objects::Objects) builds its
//! capability API on them; for invocations on bare names, use the generated
//! methods (`Cap<CNode>::cnode_copy`, ...) with [`root`] and [`depth`].
//!
//! The root task's CSpace is one CNode whose guard fills the word, so a
//! capability pointer is a slot index and every path has the word's depth
//! ([`depth`]). A CNode of radix `r` that the root task creates sits in one
//! of those slots; its own slots are addressed by invoking it with an index
//! of depth `r` (its capability has no guard).

use sel4::CapData;
use sel4_sys::CapRights;

use crate::cap::{CNode, Cap};
use crate::error::{Error, Result};

/// Every right: write, read, grant, grant-reply (kernels without
/// grant-reply ignore that bit).
pub const ALL_RIGHTS: CapRights = CapRights(0xf);

/// Depth that resolves a slot index of the root task's single-level CSpace
/// (the word size).
pub fn depth() -> u8 {
    sel4_sys::config::WORD_SIZE as u8
}

/// The root task's root CNode.
pub fn root() -> Cap<CNode> {
    Cap::from_cptr(sel4_runtime::bootinfo::INIT_THREAD_CNODE)
}

/// The capability data that sets a CNode capability's guard to `guard`
/// of `guard_size` bits (seL4 5.x: `seL4_CapData_Guard`; later kernels:
/// `seL4_CNode_CapData`; encoded by the kernel's generated bitfield code
/// in [`sel4::CapData`]). An error names the field that does not fit.
pub fn guard_data(guard: u64, guard_size: u8) -> Result<CapData> {
    CapData::cnode_guard(guard, guard_size).map_err(Error::from)
}

/// A slot: the CNode capability (a name in the root task's CSpace) to
/// invoke, the index in it and the depth that resolves the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SlotRef {
    pub(crate) node: Cap<CNode>,
    pub(crate) index: u64,
    pub(crate) depth: u8,
}

impl SlotRef {
    /// The same slot in the typed kernel API.
    #[inline]
    fn typed(self) -> sel4::Slot {
        sel4::Slot::new(self.node, self.index, self.depth)
    }

    /// Slot `slot` of the root task's CSpace.
    #[inline]
    pub(crate) fn root(slot: u64) -> SlotRef {
        SlotRef {
            node: root(),
            index: slot,
            depth: depth(),
        }
    }

    /// Slot `index` of the CNode of `2^radix` slots whose capability is
    /// `node`.
    #[inline]
    pub(crate) fn child(node: Cap<CNode>, index: u64, radix: u8) -> SlotRef {
        SlotRef {
            node,
            index,
            depth: radix,
        }
    }
}

fn badge_arg<B: TryFrom<u64>>(badge: u64) -> Result<B> {
    badge.try_into().map_err(|_| {
        Error::CapDataTooWide(sel4::DataTooWide {
            what: "badge",
            value: badge,
        })
    })
}

/// `CNode_Copy` of `src` into `dest` with `rights`.
#[inline]
pub(crate) fn copy(dest: SlotRef, src: SlotRef, rights: CapRights) -> Result<()> {
    Ok(dest.node.cnode_copy(
        dest.index, dest.depth, src.node, src.index, src.depth, rights,
    )?)
}

/// `CNode_Mint` of `src` into `dest` with `rights` and `badge`.
#[inline]
pub(crate) fn mint(dest: SlotRef, src: SlotRef, rights: CapRights, badge: u64) -> Result<()> {
    let b = badge_arg(badge)?;
    Ok(dest.node.cnode_mint(
        dest.index, dest.depth, src.node, src.index, src.depth, rights, b,
    )?)
}

/// `CNode_Mint` with capability data (for a CNode: its guard, see
/// [`guard_data`]).
pub(crate) fn mint_data(
    dest: SlotRef,
    src: SlotRef,
    rights: CapRights,
    data: CapData,
) -> Result<()> {
    Ok(dest
        .typed()
        .mint_from(src.typed(), sel4::CapRights::from_sys(rights), data)?)
}

/// `CNode_Move` of `src` into `dest`.
#[inline]
pub(crate) fn move_(dest: SlotRef, src: SlotRef) -> Result<()> {
    Ok(dest
        .node
        .cnode_move(dest.index, dest.depth, src.node, src.index, src.depth)?)
}

/// `CNode_Mutate`: moves `src` into `dest`, changing its data to `data`.
pub(crate) fn mutate(dest: SlotRef, src: SlotRef, data: CapData) -> Result<()> {
    Ok(dest.typed().mutate_from(src.typed(), data)?)
}

/// `CNode_Rotate`: `pivot` moves to `dest` (with `dest_badge`), `src`
/// moves to `pivot` (with `pivot_badge`).
pub(crate) fn rotate(
    dest: SlotRef,
    dest_badge: u64,
    pivot: SlotRef,
    pivot_badge: u64,
    src: SlotRef,
) -> Result<()> {
    let db = badge_arg(dest_badge)?;
    let pb = badge_arg(pivot_badge)?;
    Ok(dest.node.cnode_rotate(
        dest.index,
        dest.depth,
        db,
        pivot.node,
        pivot.index,
        pivot.depth,
        pb,
        src.node,
        src.index,
        src.depth,
    )?)
}

/// `CNode_Delete`: empties the slot (a no-op for an empty one).
#[inline]
pub(crate) fn delete(slot: SlotRef) -> Result<()> {
    Ok(slot.node.cnode_delete(slot.index, slot.depth)?)
}

/// `CNode_Revoke`: deletes the capabilities derived from the one in
/// `slot`.
#[inline]
pub(crate) fn revoke(slot: SlotRef) -> Result<()> {
    Ok(slot.node.cnode_revoke(slot.index, slot.depth)?)
}
