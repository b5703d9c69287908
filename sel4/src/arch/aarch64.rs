//! aarch64: the arch-neutral names of [`crate::vspace`].
//!
//! The VSpace root is a `seL4_ARM_VSpace` (the level-0 table of a 48-bit
//! address space; level 1 of a 40-bit one on hypervisor kernels with a
//! 40-bit physical address range, `seL4_VSpaceIndexBits` 10). Below it the
//! translation tables of levels 1 to 3 ([`TableLevel`]) are all
//! `seL4_ARM_PageTable` objects: the kernel places a table at the first
//! level a mapping of its address lacks. To give each level a [`Table`]
//! kind as on the other architectures, this module has one marker per
//! level ([`TableL1`], [`TableL2`], [`TableL3`]), each a name for an
//! `seL4_ARM_PageTable` capability. Frames are 4 KiB ([`Granule`]),
//! 2 MiB ([`LargePage`]) and 1 GiB ([`HugePage`]), all `seL4_ARM_Page`
//! capabilities to the kernel.

use crate::vspace::{AsidControlOps, AsidPoolOps, Frame, Table};
use crate::{
    cap_type, sys, CPtr, Cap, CapRights, CapType, FixedSize, ObjectType, Result, Slot, UserContext,
    Word,
};

/// The root of a VSpace.
pub type VSpaceRoot = cap_type::ARMVSpace;
/// The smallest frame: 4 KiB.
pub type Granule = cap_type::ARMPage;
/// The ASID control capability.
pub type AsidControl = cap_type::ARMASIDControl;
/// An ASID pool.
pub type AsidPool = cap_type::ARMASIDPool;

/// log2 of the [`Granule`] size.
pub const GRANULE_BITS: usize = sys::consts::PageBits;

/// A 2 MiB frame (`seL4_ARM_LargePageObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct LargePage;

impl CapType for LargePage {
    const NAME: &'static str = "LargePage";
    const OBJECT_TYPE: Option<ObjectType> = Some(ObjectType::ARM_LargePageObject);
}

impl FixedSize for LargePage {
    const TYPE: ObjectType = ObjectType::ARM_LargePageObject;
    const SIZE_BITS: usize = sys::consts::LargePageBits;
}

/// A 1 GiB frame (`seL4_ARM_HugePageObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct HugePage;

impl CapType for HugePage {
    const NAME: &'static str = "HugePage";
    const OBJECT_TYPE: Option<ObjectType> = Some(ObjectType::ARM_HugePageObject);
}

impl FixedSize for HugePage {
    const TYPE: ObjectType = ObjectType::ARM_HugePageObject;
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
            const OBJECT_TYPE: Option<ObjectType> = Some(ObjectType::ARM_PageTableObject);
        }

        impl FixedSize for $name {
            const TYPE: ObjectType = ObjectType::ARM_PageTableObject;
            const SIZE_BITS: usize = sys::consts::PageTableBits;
        }

        impl Table for $name {
            const LEVEL: TableLevel = TableLevel::$level;
        }
    };
}

table_marker!(
    /// An `seL4_ARM_PageTable` used at level 1 (entries of 1 GiB; not
    /// used below a 40-bit root).
    TableL1,
    Level1
);
table_marker!(
    /// An `seL4_ARM_PageTable` used at level 2 (entries of 2 MiB).
    TableL2,
    Level2
);
table_marker!(
    /// An `seL4_ARM_PageTable` used at level 3 (entries of 4 KiB granules).
    TableL3,
    Level3
);

/// The translation tables below the VSpace root, by their Arm level (the
/// root is level 0, or level 1 with a 40-bit root).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TableLevel {
    /// Level 1: 512 GiB of address space in entries of 1 GiB.
    Level1,
    /// Level 2: 1 GiB in entries of 2 MiB.
    Level2,
    /// Level 3: 2 MiB of granules.
    Level3,
}

/// Levels below the root: three under a 9-bit (48-bit address space)
/// root, two under a 10-bit one.
const LEVELS_BELOW_ROOT: usize = if sys::consts::VSpaceIndexBits == sys::consts::PageTableIndexBits
{
    3
} else {
    2
};

/// Every level below the root, from the root down.
pub const TABLE_LEVELS: [TableLevel; LEVELS_BELOW_ROOT] = {
    let all = [TableLevel::Level1, TableLevel::Level2, TableLevel::Level3];
    let mut out = [TableLevel::Level3; LEVELS_BELOW_ROOT];
    let mut i = 0;
    while i < LEVELS_BELOW_ROOT {
        out[i] = all[3 - LEVELS_BELOW_ROOT + i];
        i += 1;
    }
    out
};

// The levels and the root translate the whole address space: 48 bits under
// a 9-bit root, 40 under a 10-bit one (checked at every build).
const _: () = {
    let top = TABLE_LEVELS[0].span_bits() as usize + sys::consts::VSpaceIndexBits;
    assert!(
        (LEVELS_BELOW_ROOT == 3 && top == 48) || (LEVELS_BELOW_ROOT == 2 && top == 40),
        "aarch64: the table levels do not cover the address space"
    );
    assert!(TABLE_LEVELS[LEVELS_BELOW_ROOT - 1].span_bits() as usize == sys::consts::LargePageBits);
};

impl TableLevel {
    /// The object type of a table of this level (`seL4_ARM_PageTableObject`
    /// for all of them).
    pub const fn object_type(self) -> ObjectType {
        ObjectType::ARM_PageTableObject
    }

    /// log2 of the table's size in bytes.
    pub const fn size_bits(self) -> usize {
        sys::consts::PageTableBits
    }

    /// Bits of virtual address one table of this level translates (level 3:
    /// 21, 512 granules of 4 KiB).
    pub const fn span_bits(self) -> u32 {
        let below = match self {
            TableLevel::Level1 => 2,
            TableLevel::Level2 => 1,
            TableLevel::Level3 => 0,
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
        Cap::<cap_type::ARMPageTable>::from_cptr(table).arm_page_table_map(
            vspace.cptr(),
            vaddr,
            attrs.into_sys(),
        )
    }

    /// Unmaps the table `table` of this level.
    pub fn unmap(self, table: CPtr) -> Result<()> {
        Cap::<cap_type::ARMPageTable>::from_cptr(table).arm_page_table_unmap()
    }
}

/// Cacheability and execute permission of a mapping
/// (`seL4_ARM_VMAttributes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VmAttributes(sys::ARM_VMAttributes);

impl Default for VmAttributes {
    fn default() -> VmAttributes {
        VmAttributes::DEFAULT
    }
}

impl VmAttributes {
    /// Cacheable, as ordinary memory, executable.
    pub const DEFAULT: VmAttributes = VmAttributes(sys::ARM_VMAttributes::Default_VMAttributes);
    /// Not cached (device memory).
    pub const UNCACHED: VmAttributes = VmAttributes(sys::ARM_VMAttributes(0));
    /// Cacheable and never executable.
    pub const DEFAULT_EXECUTE_NEVER: VmAttributes = VmAttributes(sys::ARM_VMAttributes(
        sys::ARM_VMAttributes::Default_VMAttributes.0 | sys::ARM_VMAttributes::ExecuteNever.0,
    ));

    /// The same mapping, never executable (`ExecuteNever` added).
    pub const fn execute_never(self) -> VmAttributes {
        VmAttributes(sys::ARM_VMAttributes(
            self.0 .0 | sys::ARM_VMAttributes::ExecuteNever.0,
        ))
    }

    /// The kernel's value.
    pub const fn into_sys(self) -> sys::ARM_VMAttributes {
        self.0
    }
}

/// Whether `ty` is a frame's object type (4 KiB, 2 MiB, 1 GiB).
pub fn is_frame_type(ty: ObjectType) -> bool {
    ty == <Granule as FixedSize>::TYPE
        || ty == <LargePage as FixedSize>::TYPE
        || ty == <HugePage as FixedSize>::TYPE
}

fn page(frame: CPtr) -> Cap<cap_type::ARMPage> {
    Cap::from_cptr(frame)
}

pub(crate) fn frame_map(
    frame: CPtr,
    vspace: Cap<VSpaceRoot>,
    vaddr: Word,
    rights: CapRights,
    attrs: VmAttributes,
) -> Result<()> {
    page(frame).arm_page_map(vspace.cptr(), vaddr, rights.into_sys(), attrs.into_sys())
}

pub(crate) fn frame_unmap(frame: CPtr) -> Result<()> {
    page(frame).arm_page_unmap()
}

pub(crate) fn frame_paddr(frame: CPtr) -> Result<Word> {
    page(frame).arm_page_get_address()
}

/// The TLS base in a saved context: `tpidr_el0` (`KernelArmTLSReg=tpidru`,
/// writable from user mode) or `tpidrro_el0` (`tpidruro`).
pub(crate) fn set_tls_register(regs: &mut UserContext, tls_base: Word) {
    crate::sel4_cfg_if! { config ARM_TLS_REG_TPIDRU {
        regs.tpidr_el0 = tls_base;
    } else {
        regs.tpidrro_el0 = tls_base;
    } }
}

impl AsidControlOps for Cap<AsidControl> {
    fn make_pool(self, untyped: Cap<cap_type::Untyped>, dest: Slot) -> Result<()> {
        self.arm_asid_control_make_pool(untyped, dest.root, dest.index, dest.depth)
    }
}

impl AsidPoolOps for Cap<AsidPool> {
    fn assign(self, vspace: Cap<VSpaceRoot>) -> Result<()> {
        self.arm_asid_pool_assign(vspace.cptr())
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
        [c.x0, c.x1, c.x2, c.x3]
    }
    pub(crate) fn args_mut(c: &mut UserContext) -> [&mut Word; 4] {
        [&mut c.x0, &mut c.x1, &mut c.x2, &mut c.x3]
    }
}

/// The traits of this architecture, for `sel4::prelude` (none yet).
pub mod prelude {}
