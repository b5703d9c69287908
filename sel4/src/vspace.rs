//! Address spaces, arch-neutral: frames ([`Granule`], [`LargePage`], ...),
//! the translation tables below the [`VSpaceRoot`] by [`TableLevel`], VM
//! attributes and ASIDs. Each architecture module (`arch`) gives these
//! names its kinds of capability; code that maps memory uses only the names
//! here.
//!
//! What an architecture module provides (`arch/x86_64.rs`,
//! `arch/aarch64.rs`, `arch/riscv64.rs`; on aarch64 and riscv64 every
//! translation table is one kernel object type, and the module gives each
//! level a marker of its own):
//! - the markers `VSpaceRoot`, `Granule`, `LargePage` (and `HugePage` where
//!   the kernel has it), `AsidControl`, `AsidPool`, with [`Frame`] for the
//!   frames and [`Table`] for each translation table kind, and
//!   `GRANULE_BITS`;
//! - `TableLevel` (from the root down, with `object_type`, `size_bits`,
//!   `span_bits`, `missing`, `map` and `unmap`) and `TABLE_LEVELS`;
//! - `VmAttributes` with `DEFAULT` and `UNCACHED` (and the architecture's
//!   others: `DEFAULT_EXECUTE_NEVER` on aarch64 and riscv64) and
//!   `into_sys`;
//! - `is_frame_type` (whether an object type is one of the frames);
//! - `frame_map`, `frame_unmap`, `frame_paddr` and `set_tls_register` for
//!   this crate, the [`AsidControlOps`] and [`AsidPoolOps`] impls, and a
//!   `prelude` module with its own traits.

use crate::{Cap, CapRights, FixedSize, Result, Slot, Word};

pub use crate::arch::{
    is_frame_type, AsidControl, AsidPool, Granule, LargePage, TableLevel, VSpaceRoot, VmAttributes,
    GRANULE_BITS, TABLE_LEVELS,
};

/// A kind of frame: memory that maps into a VSpace ([`Granule`],
/// [`LargePage`], and on kernels that have them huge pages).
pub trait Frame: FixedSize {}

/// A kind of translation table below the VSpace root, of one
/// [`TableLevel`].
pub trait Table: FixedSize {
    /// The table's level.
    const LEVEL: TableLevel;
}

/// Operations on frames.
pub trait FrameOps {
    /// Maps the frame at `vaddr` (aligned to the frame's size) of `vspace`
    /// with `rights` and `attrs`. Fails with a lookup error naming the bits
    /// left when a translation table on the way is missing (see
    /// [`TableLevel::missing`]).
    fn map(
        self,
        vspace: Cap<VSpaceRoot>,
        vaddr: Word,
        rights: CapRights,
        attrs: VmAttributes,
    ) -> Result<()>;
    /// Unmaps the frame (nothing when it is not mapped).
    fn unmap(self) -> Result<()>;
    /// The frame's physical address.
    fn paddr(self) -> Result<Word>;
}

/// Operations on translation tables.
pub trait TableOps {
    /// Maps the table into `vspace` where it translates `vaddr`.
    fn map(self, vspace: Cap<VSpaceRoot>, vaddr: Word, attrs: VmAttributes) -> Result<()>;
    /// Unmaps the table.
    fn unmap(self) -> Result<()>;
}

impl<T: Frame> FrameOps for Cap<T> {
    fn map(
        self,
        vspace: Cap<VSpaceRoot>,
        vaddr: Word,
        rights: CapRights,
        attrs: VmAttributes,
    ) -> Result<()> {
        crate::arch::frame_map(self.cptr(), vspace, vaddr, rights, attrs)
    }

    fn unmap(self) -> Result<()> {
        crate::arch::frame_unmap(self.cptr())
    }

    fn paddr(self) -> Result<Word> {
        crate::arch::frame_paddr(self.cptr())
    }
}

impl<T: Table> TableOps for Cap<T> {
    fn map(self, vspace: Cap<VSpaceRoot>, vaddr: Word, attrs: VmAttributes) -> Result<()> {
        T::LEVEL.map(self.cptr(), vspace, vaddr, attrs)
    }

    fn unmap(self) -> Result<()> {
        T::LEVEL.unmap(self.cptr())
    }
}

/// Operations on the ASID control capability.
pub trait AsidControlOps {
    /// `ASIDControl_MakePool`: turns `untyped` (of the ASID pool's size)
    /// into an ASID pool whose capability goes into the empty slot `dest`.
    fn make_pool(self, untyped: Cap<crate::cap_type::Untyped>, dest: Slot) -> Result<()>;
}

/// Operations on ASID pools.
pub trait AsidPoolOps {
    /// `ASIDPool_Assign`: gives `vspace` an ASID of this pool (needed
    /// before anything maps into it).
    fn assign(self, vspace: Cap<VSpaceRoot>) -> Result<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_cover_the_address_from_the_root_down() {
        let spans = TABLE_LEVELS.map(TableLevel::span_bits);
        for w in spans.windows(2) {
            assert!(w[0] > w[1], "{spans:?}");
        }
        // the lowest level's table maps granules
        let last = TABLE_LEVELS[TABLE_LEVELS.len() - 1];
        assert!(last.span_bits() > GRANULE_BITS as u32);
        for l in TABLE_LEVELS {
            assert_eq!(TableLevel::missing(Word::from(l.span_bits())), Some(l));
        }
        assert_eq!(TableLevel::missing(0), None);
    }
}
