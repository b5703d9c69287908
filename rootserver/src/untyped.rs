//! Retyping untyped memory into kernel objects.

use sel4_sys::{InvocationLabel, ObjectType};

use crate::cap::{invoke, Cap, FixedSize, Untyped};
use crate::error::Result;

/// The root CNode capability and its guard depth, where new capabilities go.
#[derive(Debug, Clone, Copy)]
pub struct Destination {
    /// A capability to the CNode that receives the new capabilities.
    pub root: u64,
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
            root: sel4_runtime::bootinfo::INIT_THREAD_CNODE,
            node_index: 0,
            node_depth: 0,
        }
    }
}

impl Cap<Untyped> {
    /// seL4_Untyped_Retype: creates `count` objects of `ty` (with
    /// `size_bits` for variable-size types) into the slots
    /// `[slot, slot + count)` of `dest`.
    pub fn retype_raw(
        self,
        ty: ObjectType,
        size_bits: usize,
        dest: Destination,
        slot: u64,
        count: usize,
    ) -> Result<()> {
        invoke(
            self.cptr(),
            InvocationLabel::UntypedRetype,
            &[dest.root],
            &[
                ty as u64,
                size_bits as u64,
                dest.node_index,
                dest.node_depth,
                slot,
                count as u64,
            ],
        )
        .map(|_| ())
    }

    /// Creates one fixed-size object of type `T` at `slot` of the root CNode.
    pub fn retype<T: FixedSize>(self, slot: u64) -> Result<Cap<T>> {
        self.retype_raw(T::OBJECT_TYPE, 0, Destination::root_cnode(), slot, 1)?;
        Ok(Cap::from_cptr(slot))
    }
}
