//! CNode operations on the root task's CSpace.

use sel4_sys::InvocationLabel;

use crate::cap::{invoke, CNode, Cap, CapType};
use crate::error::Result;

/// Every right: write, read, grant, grant-reply (the last is ignored by
/// kernels that do not have it).
pub const ALL_RIGHTS: u64 = 0xf;

impl Cap<CNode> {
    /// The root task's root CNode.
    pub fn root() -> Cap<CNode> {
        Cap::from_cptr(sel4_runtime::bootinfo::INIT_THREAD_CNODE)
    }

    fn depth() -> u64 {
        sel4_sys::config::WORD_SIZE as u64
    }

    /// seL4_CNode_Mint: a copy of `src` at `dest` with `rights` and `badge`.
    pub fn mint<T: CapType>(
        self,
        dest: u64,
        src: Cap<T>,
        rights: u64,
        badge: u64,
    ) -> Result<Cap<T>> {
        let d = Self::depth();
        invoke(
            self.cptr(),
            InvocationLabel::CNodeMint,
            &[self.cptr()],
            &[dest, d, src.cptr(), d, rights, badge],
        )?;
        Ok(Cap::from_cptr(dest))
    }

    /// seL4_CNode_Copy: a copy of `src` at `dest` with `rights`.
    pub fn copy<T: CapType>(self, dest: u64, src: Cap<T>, rights: u64) -> Result<Cap<T>> {
        let d = Self::depth();
        invoke(
            self.cptr(),
            InvocationLabel::CNodeCopy,
            &[self.cptr()],
            &[dest, d, src.cptr(), d, rights],
        )?;
        Ok(Cap::from_cptr(dest))
    }

    /// seL4_CNode_Delete: empties the slot.
    pub fn delete(self, slot: u64) -> Result<()> {
        invoke(
            self.cptr(),
            InvocationLabel::CNodeDelete,
            &[],
            &[slot, Self::depth()],
        )
        .map(|_| ())
    }

    /// seL4_CNode_Revoke: deletes every capability derived from the one in
    /// `slot`.
    pub fn revoke(self, slot: u64) -> Result<()> {
        invoke(
            self.cptr(),
            InvocationLabel::CNodeRevoke,
            &[],
            &[slot, Self::depth()],
        )
        .map(|_| ())
    }
}
