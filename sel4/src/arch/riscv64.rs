//! riscv64: the arch-neutral names of [`crate::vspace`].
//!
//! The VSpace root is an `seL4_RISCV_PageTable` (the top table of Sv39, or
//! of Sv48 with `CONFIG_PT_LEVELS` 4). The translation tables below it
//! ([`TableLevel`], by the RISC-V level: the root of Sv39 is level 2, of
//! Sv48 level 3) are `seL4_RISCV_PageTable` objects too: the kernel places
//! a table at the first level a mapping of its address lacks. To give
//! each level a [`Table`] kind as on the other architectures, this module
//! has one marker per level ([`TableL2`], [`TableL1`], [`TableL0`]), each a
//! name for an `seL4_RISCV_PageTable` capability. Frames are 4 KiB
//! ([`Granule`]), 2 MiB ([`LargePage`], a mega page) and 1 GiB
//! ([`HugePage`], a giga page), all `seL4_RISCV_Page` capabilities to the
//! kernel.

use crate::vspace::{AsidControlOps, AsidPoolOps, Frame, Table};
use crate::{
    cap_type, sys, CPtr, Cap, CapRights, CapType, FixedSize, ObjectType, Result, Slot, UserContext,
    Word,
};

/// The root of a VSpace: a page table.
pub type VSpaceRoot = cap_type::RISCVPageTable;
/// The smallest frame: 4 KiB.
pub type Granule = cap_type::RISCVPage;
/// The ASID control capability.
pub type AsidControl = cap_type::RISCVASIDControl;
/// An ASID pool.
pub type AsidPool = cap_type::RISCVASIDPool;

/// log2 of the [`Granule`] size.
pub const GRANULE_BITS: usize = sys::consts::PageBits;

/// A 2 MiB frame (`seL4_RISCV_Mega_Page`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct LargePage;

impl CapType for LargePage {
    const NAME: &'static str = "LargePage";
    const OBJECT_TYPE: Option<ObjectType> = Some(ObjectType::RISCV_Mega_Page);
}

impl FixedSize for LargePage {
    const TYPE: ObjectType = ObjectType::RISCV_Mega_Page;
    const SIZE_BITS: usize = sys::consts::LargePageBits;
}

/// A 1 GiB frame (`seL4_RISCV_Giga_Page`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct HugePage;

impl CapType for HugePage {
    const NAME: &'static str = "HugePage";
    const OBJECT_TYPE: Option<ObjectType> = Some(ObjectType::RISCV_Giga_Page);
}

impl FixedSize for HugePage {
    const TYPE: ObjectType = ObjectType::RISCV_Giga_Page;
    const SIZE_BITS: usize = sys::consts::HugePageBits;
}

impl Frame for Granule {}
impl Frame for LargePage {}
impl Frame for HugePage {}

macro_rules! table_marker {
    ($(#[$doc:meta])* $name:ident, $level:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name;

        impl CapType for $name {
            const NAME: &'static str = stringify!($name);
            const OBJECT_TYPE: Option<ObjectType> = Some(ObjectType::RISCV_PageTableObject);
        }

        impl FixedSize for $name {
            const TYPE: ObjectType = ObjectType::RISCV_PageTableObject;
            const SIZE_BITS: usize = sys::consts::PageTableBits;
        }

        impl Table for $name {
            const LEVEL: TableLevel = TableLevel::$level;
        }
    };
}

table_marker!(
    /// An `seL4_RISCV_PageTable` used at level 2 (entries of 1 GiB; Sv48
    /// only).
    TableL2,
    Level2
);
table_marker!(
    /// An `seL4_RISCV_PageTable` used at level 1 (entries of 2 MiB).
    TableL1,
    Level1
);
table_marker!(
    /// An `seL4_RISCV_PageTable` used at level 0 (entries of 4 KiB granules).
    TableL0,
    Level0
);

/// The translation tables below the root, by their RISC-V level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TableLevel {
    /// Level 2 (Sv48 only): 512 GiB of address space in entries of 1 GiB.
    Level2,
    /// Level 1: 1 GiB in entries of 2 MiB.
    Level1,
    /// Level 0: 2 MiB of granules.
    Level0,
}

/// Levels below the root: `CONFIG_PT_LEVELS` - 1.
const LEVELS_BELOW_ROOT: usize = sys::config::PT_LEVELS - 1;
const _: () = assert!(
    LEVELS_BELOW_ROOT == 2 || LEVELS_BELOW_ROOT == 3,
    "riscv64 kernels have 3 (Sv39) or 4 (Sv48) page-table levels"
);

/// Every level below the root, from the root down.
pub const TABLE_LEVELS: [TableLevel; LEVELS_BELOW_ROOT] = {
    let all = [TableLevel::Level2, TableLevel::Level1, TableLevel::Level0];
    let mut out = [TableLevel::Level0; LEVELS_BELOW_ROOT];
    let mut i = 0;
    while i < LEVELS_BELOW_ROOT {
        out[i] = all[3 - LEVELS_BELOW_ROOT + i];
        i += 1;
    }
    out
};

// The levels and the root translate the whole address space: 39 bits for
// Sv39, 48 for Sv48 (checked at every build).
const _: () = {
    let top = TABLE_LEVELS[0].span_bits() as usize + sys::consts::PageTableIndexBits;
    assert!(
        (LEVELS_BELOW_ROOT == 2 && top == 39) || (LEVELS_BELOW_ROOT == 3 && top == 48),
        "riscv64: the table levels do not cover the address space"
    );
    assert!(TABLE_LEVELS[LEVELS_BELOW_ROOT - 1].span_bits() as usize == sys::consts::LargePageBits);
};

impl TableLevel {
    /// The object type of a table of this level
    /// (`seL4_RISCV_PageTableObject` for all of them).
    pub const fn object_type(self) -> ObjectType {
        ObjectType::RISCV_PageTableObject
    }

    /// log2 of the table's size in bytes.
    pub const fn size_bits(self) -> usize {
        sys::consts::PageTableBits
    }

    /// Bits of virtual address one table of this level translates (level 0:
    /// 21, 512 granules of 4 KiB).
    pub const fn span_bits(self) -> u32 {
        let below = match self {
            TableLevel::Level2 => 2,
            TableLevel::Level1 => 1,
            TableLevel::Level0 => 0,
        };
        (GRANULE_BITS + sys::consts::PageTableIndexBits * (below + 1)) as u32
    }

    /// The level a mapping lacks when the kernel's lookup failed with
    /// `MissingCapability { bits_left }`: the table that would translate
    /// those bits. `None` when no level fits.
    pub fn missing(bits_left: Word) -> Option<TableLevel> {
        TABLE_LEVELS
            .into_iter()
            .find(|l| Word::from(l.span_bits()) <= bits_left)
    }

    /// Maps the table `table` of this level into `vspace` at `vaddr` (the
    /// kernel puts it at the first level `vaddr` lacks, which is this one
    /// when the levels above exist).
    pub fn map(
        self,
        table: CPtr,
        vspace: Cap<VSpaceRoot>,
        vaddr: Word,
        attrs: VmAttributes,
    ) -> Result<()> {
        Cap::<cap_type::RISCVPageTable>::from_cptr(table).riscv_page_table_map(
            vspace,
            vaddr,
            attrs.into_sys(),
        )
    }

    /// Unmaps the table `table` of this level.
    pub fn unmap(self, table: CPtr) -> Result<()> {
        Cap::<cap_type::RISCVPageTable>::from_cptr(table).riscv_page_table_unmap()
    }
}

/// Execute permission of a mapping (`seL4_RISCV_VMAttributes`; RISC-V
/// page tables have no cacheability bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VmAttributes(sys::RISCV_VMAttributes);

impl Default for VmAttributes {
    fn default() -> VmAttributes {
        VmAttributes::DEFAULT
    }
}

impl VmAttributes {
    /// Executable (the kernel's default).
    pub const DEFAULT: VmAttributes = VmAttributes(sys::RISCV_VMAttributes::Default_VMAttributes);
    /// Device memory: the same as [`VmAttributes::DEFAULT`] here (the
    /// platform's physical memory attributes decide cacheability).
    pub const UNCACHED: VmAttributes = VmAttributes(sys::RISCV_VMAttributes::Default_VMAttributes);
    /// Never executable.
    pub const DEFAULT_EXECUTE_NEVER: VmAttributes =
        VmAttributes(sys::RISCV_VMAttributes::ExecuteNever);

    /// The same mapping, never executable (`ExecuteNever` added).
    pub const fn execute_never(self) -> VmAttributes {
        VmAttributes(sys::RISCV_VMAttributes(
            self.0 .0 | sys::RISCV_VMAttributes::ExecuteNever.0,
        ))
    }

    /// The kernel's value.
    pub const fn into_sys(self) -> sys::RISCV_VMAttributes {
        self.0
    }
}

/// Whether `ty` is a frame's object type (4 KiB, 2 MiB, 1 GiB).
pub fn is_frame_type(ty: ObjectType) -> bool {
    ty == <Granule as FixedSize>::TYPE
        || ty == <LargePage as FixedSize>::TYPE
        || ty == <HugePage as FixedSize>::TYPE
}

fn page(frame: CPtr) -> Cap<cap_type::RISCVPage> {
    Cap::from_cptr(frame)
}

pub(crate) fn frame_map(
    frame: CPtr,
    vspace: Cap<VSpaceRoot>,
    vaddr: Word,
    rights: CapRights,
    attrs: VmAttributes,
) -> Result<()> {
    page(frame).riscv_page_map(vspace, vaddr, rights.into_sys(), attrs.into_sys())
}

pub(crate) fn frame_unmap(frame: CPtr) -> Result<()> {
    page(frame).riscv_page_unmap()
}

pub(crate) fn frame_paddr(frame: CPtr) -> Result<Word> {
    page(frame).riscv_page_get_address()
}

/// The TLS base in a saved context: `tp`, an ordinary register.
pub(crate) fn set_tls_register(regs: &mut UserContext, tls_base: Word) {
    regs.tp = tls_base;
}

impl AsidControlOps for Cap<AsidControl> {
    fn make_pool(self, untyped: Cap<cap_type::Untyped>, dest: Slot) -> Result<()> {
        self.riscv_asid_control_make_pool(untyped, dest.root, dest.index, dest.depth)
    }
}

impl AsidPoolOps for Cap<AsidPool> {
    fn assign(self, vspace: Cap<VSpaceRoot>) -> Result<()> {
        self.riscv_asid_pool_assign(vspace.cptr())
    }
}

/// The registers of [`crate::regs::Registers`] in this architecture's
/// `UserContext`.
pub(crate) mod regs {
    use crate::{UserContext, Word};

    pub(crate) fn pc(c: &UserContext) -> Word {
        c.pc
    }
    pub(crate) fn set_pc(c: &mut UserContext, v: Word) {
        c.pc = v;
    }
    pub(crate) fn sp(c: &UserContext) -> Word {
        c.sp
    }
    pub(crate) fn set_sp(c: &mut UserContext, v: Word) {
        c.sp = v;
    }
    pub(crate) fn args(c: &UserContext) -> [Word; 4] {
        [c.a0, c.a1, c.a2, c.a3]
    }
    pub(crate) fn args_mut(c: &mut UserContext) -> [&mut Word; 4] {
        [&mut c.a0, &mut c.a1, &mut c.a2, &mut c.a3]
    }
}

/// The traits of this architecture, for `sel4::prelude` (none yet).
pub mod prelude {}
