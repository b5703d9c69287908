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

use sel4_sys::{CapRights, InvocationLabel, Word};

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

/// A slot: the CNode capability (a name in the root task's CSpace) to
/// invoke, the index in it and the depth that resolves the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SlotRef {
    pub(crate) node: Cap<CNode>,
    pub(crate) index: u64,
    pub(crate) depth: u8,
}

impl SlotRef {
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
    badge.try_into().map_err(|_| Error::BadgeTooLarge { badge })
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

/// `CNode_Mint` with a raw capability data word (for a CNode: its guard,
/// see [`guard_data`]).
pub(crate) fn mint_data(dest: SlotRef, src: SlotRef, rights: CapRights, data: Word) -> Result<()> {
    // Raw call: the generated `cnode_mint` takes a badge; the guard is the
    // same message word with CNode capability data.
    sel4_sys::invocation::call(
        dest.node.cptr(),
        InvocationLabel::CNodeMint,
        &[src.node.cptr()],
        &[
            dest.index,
            dest.depth as Word,
            src.index,
            src.depth as Word,
            rights.0,
            data,
        ],
    )?;
    Ok(())
}

/// `CNode_Move` of `src` into `dest`.
#[inline]
pub(crate) fn move_(dest: SlotRef, src: SlotRef) -> Result<()> {
    Ok(dest
        .node
        .cnode_move(dest.index, dest.depth, src.node, src.index, src.depth)?)
}

/// `CNode_Mutate`: moves `src` into `dest`, changing its data word `data`.
pub(crate) fn mutate(dest: SlotRef, src: SlotRef, data: Word) -> Result<()> {
    // Raw call: seL4 5.x types the word as seL4_CapData_t, later kernels as
    // a plain word; the message is the same.
    sel4_sys::invocation::call(
        dest.node.cptr(),
        InvocationLabel::CNodeMutate,
        &[src.node.cptr()],
        &[
            dest.index,
            dest.depth as Word,
            src.index,
            src.depth as Word,
            data,
        ],
    )?;
    Ok(())
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
