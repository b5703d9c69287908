//! CNode operations on the root task's CSpace, over the generated
//! `Cap<CNode>` methods, with a full-depth path for every slot.

use sel4_sys::CapRights;

use crate::cap::{CNode, Cap, CapType};
use crate::error::{Error, Result};

/// Every right: write, read, grant, grant-reply (kernels without
/// grant-reply ignore that bit).
pub const ALL_RIGHTS: CapRights = CapRights(0xf);

/// Depth that resolves a slot index of the root task's single-level CSpace.
pub fn depth() -> u8 {
    sel4_sys::config::WORD_SIZE as u8
}

/// The root task's root CNode.
pub fn root() -> Cap<CNode> {
    Cap::from_cptr(sel4_runtime::bootinfo::INIT_THREAD_CNODE)
}

/// Copies and moves capabilities between slots of one CNode (the root
/// task's CSpace, addressed at full depth).
pub trait CNodeExt {
    /// `CNode_Mint`: a copy of `src` at `dest` with `rights` and `badge`.
    fn mint<T: CapType>(
        self,
        dest: u64,
        src: Cap<T>,
        rights: CapRights,
        badge: u64,
    ) -> Result<Cap<T>>;
    /// `CNode_Copy`: a copy of `src` at `dest` with `rights`.
    fn copy<T: CapType>(self, dest: u64, src: Cap<T>, rights: CapRights) -> Result<Cap<T>>;
    /// `CNode_Move`: moves `src` to `dest`.
    fn move_cap<T: CapType>(self, dest: u64, src: Cap<T>) -> Result<Cap<T>>;
    /// `CNode_Delete`: empties the slot.
    fn delete(self, slot: u64) -> Result<()>;
    /// `CNode_Revoke`: deletes every capability derived from the one in `slot`.
    fn revoke(self, slot: u64) -> Result<()>;
}

impl CNodeExt for Cap<CNode> {
    fn mint<T: CapType>(
        self,
        dest: u64,
        src: Cap<T>,
        rights: CapRights,
        badge: u64,
    ) -> Result<Cap<T>> {
        let d = depth();
        // seL4 5.x takes the badge as seL4_CapData_t, later kernels as a word
        #[allow(clippy::useless_conversion)]
        let b = badge
            .try_into()
            .map_err(|_| Error::BadgeTooLarge { badge })?;
        self.cnode_mint(dest, d, self, src.cptr(), d, rights, b)?;
        Ok(Cap::from_cptr(dest))
    }

    fn copy<T: CapType>(self, dest: u64, src: Cap<T>, rights: CapRights) -> Result<Cap<T>> {
        let d = depth();
        self.cnode_copy(dest, d, self, src.cptr(), d, rights)?;
        Ok(Cap::from_cptr(dest))
    }

    fn move_cap<T: CapType>(self, dest: u64, src: Cap<T>) -> Result<Cap<T>> {
        let d = depth();
        self.cnode_move(dest, d, self, src.cptr(), d)?;
        Ok(Cap::from_cptr(dest))
    }

    fn delete(self, slot: u64) -> Result<()> {
        Ok(self.cnode_delete(slot, depth())?)
    }

    fn revoke(self, slot: u64) -> Result<()> {
        Ok(self.cnode_revoke(slot, depth())?)
    }
}
