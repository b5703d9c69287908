//! Retyping untyped memory into kernel objects.

use crate::{cap_type, sys, CNodeOps, Cap, Depth, FixedSize, ObjectType, Result, Slot, Word};

/// What to make of untyped memory: an object type and, for the kinds whose
/// size is chosen at creation, that size.
///
/// ```no_run
/// use sel4::{cap_type, Blueprint};
/// let tcb = Blueprint::of::<cap_type::TCB>();
/// let cnode = Blueprint::cnode(10); // 1024 slots
/// assert_eq!(cnode.object_size_bits(), 10 + sel4::sys::consts::SlotBits);
/// # let _ = tcb;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Blueprint {
    ty: ObjectType,
    size_bits: usize,
}

impl Blueprint {
    /// An object of the fixed-size kind `T` (TCB, endpoint, notification,
    /// frames and translation tables).
    pub const fn of<T: FixedSize>() -> Blueprint {
        Blueprint {
            ty: T::TYPE,
            size_bits: 0,
        }
    }

    /// Untyped memory of `2^size_bits` bytes.
    pub const fn untyped(size_bits: usize) -> Blueprint {
        Blueprint {
            ty: ObjectType::UntypedObject,
            size_bits,
        }
    }

    /// A CNode of `2^slot_bits` slots.
    pub const fn cnode(slot_bits: Depth) -> Blueprint {
        Blueprint {
            ty: ObjectType::CapTableObject,
            size_bits: slot_bits as usize,
        }
    }

    /// Any object type with the size argument of `Untyped_Retype`
    /// (ignored by the kernel for fixed-size types).
    pub const fn new(ty: ObjectType, size_bits: usize) -> Blueprint {
        Blueprint { ty, size_bits }
    }

    /// The object type.
    pub const fn object_type(self) -> ObjectType {
        self.ty
    }

    /// The size argument of `Untyped_Retype`.
    pub const fn size_bits(self) -> usize {
        self.size_bits
    }

    /// log2 of the object's size in bytes: `size_bits` for untyped memory
    /// (and MCS scheduling contexts), the slots of a CNode times the slot
    /// size, the fixed size of the other kinds given by [`Blueprint::of`].
    pub fn object_size_bits(self) -> usize {
        match self.ty {
            ObjectType::CapTableObject => self.size_bits + sys::consts::SlotBits,
            _ => self.size_bits.max(fixed_size_bits(self.ty).unwrap_or(0)),
        }
    }
}

/// The size of the fixed-size kinds of this crate, by object type.
fn fixed_size_bits(ty: ObjectType) -> Option<usize> {
    use crate::vspace::TABLE_LEVELS;
    fn of<T: FixedSize>(ty: ObjectType) -> Option<usize> {
        (T::TYPE == ty).then_some(T::SIZE_BITS)
    }
    of::<cap_type::TCB>(ty)
        .or_else(|| of::<cap_type::Endpoint>(ty))
        .or_else(|| of::<cap_type::Notification>(ty))
        .or_else(|| of::<crate::Granule>(ty))
        .or_else(|| of::<crate::LargePage>(ty))
        .or_else(|| of::<crate::VSpaceRoot>(ty))
        .or_else(|| {
            TABLE_LEVELS
                .into_iter()
                .find(|l| l.object_type() == ty)
                .map(|l| l.size_bits())
        })
}

/// Where `Untyped_Retype` puts the new capabilities: the slots from
/// `offset` on of the CNode that `node` names (`node.depth` 0: `node.root`
/// itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Destination {
    /// The destination CNode's capability, as a slot path.
    pub node: Slot,
    /// The first slot of the destination CNode to fill.
    pub offset: Word,
}

impl Destination {
    /// Slots of `cnode` itself from `offset` on. For the root task's CSpace
    /// root, the new capability in slot `offset` has the address `offset`.
    pub fn in_cnode(cnode: Cap<cap_type::CNode>, offset: Word) -> Destination {
        Destination {
            node: cnode.slot_at(0, 0),
            offset,
        }
    }
}

/// Operations on untyped memory.
pub trait UntypedOps {
    /// `Untyped_Retype`: `count` objects of `blueprint` into the empty
    /// slots `[dest.offset, dest.offset + count)` of the destination CNode.
    fn retype_objects(self, blueprint: Blueprint, dest: Destination, count: Word) -> Result<()>;

    /// One object of the fixed-size kind `T` into slot `slot` of `cnode`,
    /// returned as its capability named by `slot` (its address when `cnode`
    /// is the caller's CSpace root, as the root task's CNode is).
    fn retype_one<T: FixedSize>(self, cnode: Cap<cap_type::CNode>, slot: Word) -> Result<Cap<T>>;
}

impl UntypedOps for Cap<cap_type::Untyped> {
    fn retype_objects(self, blueprint: Blueprint, dest: Destination, count: Word) -> Result<()> {
        self.untyped_retype(
            blueprint.ty as Word,
            blueprint.size_bits as Word,
            dest.node.root,
            dest.node.index,
            Word::from(dest.node.depth),
            dest.offset,
            count,
        )
    }

    fn retype_one<T: FixedSize>(self, cnode: Cap<cap_type::CNode>, slot: Word) -> Result<Cap<T>> {
        self.retype_objects(Blueprint::of::<T>(), Destination::in_cnode(cnode, slot), 1)?;
        Ok(Cap::from_cptr(slot))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_sizes() {
        assert_eq!(Blueprint::untyped(20).object_size_bits(), 20);
        assert_eq!(
            Blueprint::cnode(4).object_size_bits(),
            4 + sys::consts::SlotBits
        );
        assert_eq!(
            Blueprint::of::<cap_type::TCB>().object_size_bits(),
            sys::consts::TCBBits
        );
        assert_eq!(
            Blueprint::of::<crate::Granule>().object_size_bits(),
            crate::vspace::GRANULE_BITS
        );
        assert_eq!(
            Blueprint::of::<crate::LargePage>().object_size_bits(),
            <crate::LargePage as FixedSize>::SIZE_BITS
        );
        assert_eq!(Blueprint::of::<crate::Granule>().size_bits(), 0);
        let d = Destination::in_cnode(Cap::from_cptr(2), 7);
        assert_eq!((d.node.index, d.node.depth, d.offset), (0, 0, 7));
    }
}
