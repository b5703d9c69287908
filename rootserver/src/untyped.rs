//! Retyping untyped memory into kernel objects, over the generated
//! `Cap<Untyped>::untyped_retype`.

use sel4_sys::ObjectType;

use crate::cap::{CNode, Cap, FixedSize, Untyped};
use crate::error::Result;

/// Where new capabilities go: a CNode capability and the path to the
/// target CNode in its CSpace.
#[derive(Debug, Clone, Copy)]
pub struct Destination {
    /// A capability to the CNode that receives the new capabilities.
    pub root: Cap<CNode>,
    /// Index of the target CNode in `root`'s CSpace (0 with depth 0 for
    /// `root` itself).
    pub node_index: u64,
    /// Bits to resolve `node_index`.
    pub node_depth: u64,
}

impl Destination {
    /// The root task's own root CNode.
    pub fn root_cnode() -> Destination {
        Destination {
            root: crate::cnode::root(),
            node_index: 0,
            node_depth: 0,
        }
    }
}

/// Retyping for `Cap<Untyped>`.
pub trait UntypedExt {
    /// `Untyped_Retype`: creates `count` objects of `ty` (with `size_bits`
    /// for variable-size types) into the slots `[slot, slot + count)` of
    /// `dest`.
    fn retype_raw(
        self,
        ty: ObjectType,
        size_bits: usize,
        dest: Destination,
        slot: u64,
        count: usize,
    ) -> Result<()>;

    /// Creates one fixed-size object of kind `T` at `slot` of the root CNode.
    fn retype<T: FixedSize>(self, slot: u64) -> Result<Cap<T>>;
}

impl UntypedExt for Cap<Untyped> {
    #[inline]
    fn retype_raw(
        self,
        ty: ObjectType,
        size_bits: usize,
        dest: Destination,
        slot: u64,
        count: usize,
    ) -> Result<()> {
        Ok(self.untyped_retype(
            ty as u64,
            size_bits as u64,
            dest.root,
            dest.node_index,
            dest.node_depth,
            slot,
            count as u64,
        )?)
    }

    fn retype<T: FixedSize>(self, slot: u64) -> Result<Cap<T>> {
        self.retype_raw(T::TYPE, 0, Destination::root_cnode(), slot, 1)?;
        Ok(Cap::from_cptr(slot))
    }
}
