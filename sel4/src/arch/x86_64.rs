//! x86_64: the arch-neutral names of [`crate::vspace`] and the x86
//! capabilities (I/O ports, IOAPIC and MSI interrupts).
//!
//! The VSpace root is a PML4; below it a PDPT, a page directory and a page
//! table ([`TableLevel`]). Frames are 4 KiB ([`Granule`]), 2 MiB
//! ([`LargePage`]) and, with `CONFIG_HUGE_PAGE`, 1 GiB (`HugePage`); all are
//! `seL4_X86_Page` capabilities to the kernel.

use crate::vspace::{AsidControlOps, AsidPoolOps, Frame, Table};
use crate::{
    cap_type, sys, CPtr, Cap, CapRights, CapType, FixedSize, ObjectType, Result, Slot, UserContext,
    Word,
};

/// The root of a VSpace: a PML4.
pub type VSpaceRoot = cap_type::X64PML4;
/// The smallest frame: 4 KiB.
pub type Granule = cap_type::X86Page;
/// The ASID control capability.
pub type AsidControl = cap_type::X86ASIDControl;
/// An ASID pool.
pub type AsidPool = cap_type::X86ASIDPool;

/// log2 of the [`Granule`] size.
pub const GRANULE_BITS: usize = sys::consts::PageBits;

/// A 2 MiB frame (`seL4_X86_LargePageObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct LargePage;

impl CapType for LargePage {
    const NAME: &'static str = "LargePage";
    const OBJECT_TYPE: Option<ObjectType> = Some(ObjectType::X86_LargePageObject);
}

impl FixedSize for LargePage {
    const TYPE: ObjectType = ObjectType::X86_LargePageObject;
    const SIZE_BITS: usize = sys::consts::LargePageBits;
}

impl Frame for Granule {}
impl Frame for LargePage {}

crate::sel4_cfg_if! { object X64_HugePageObject {
    /// A 1 GiB frame (`seL4_X64_HugePageObject`; kernels with
    /// `CONFIG_HUGE_PAGE`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
    pub struct HugePage;

    impl CapType for HugePage {
        const NAME: &'static str = "HugePage";
        const OBJECT_TYPE: Option<ObjectType> = Some(ObjectType::X64_HugePageObject);
    }

    impl FixedSize for HugePage {
        const TYPE: ObjectType = ObjectType::X64_HugePageObject;
        const SIZE_BITS: usize = sys::consts::HugePageBits;
    }

    impl Frame for HugePage {}
} }

/// The translation tables below the PML4, from the root down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TableLevel {
    /// Page directory pointer table: 512 GiB of address space.
    Pdpt,
    /// Page directory: 1 GiB.
    PageDirectory,
    /// Page table: 2 MiB, of granules.
    PageTable,
}

/// Every level below the root, from the root down.
pub const TABLE_LEVELS: [TableLevel; 3] = [
    TableLevel::Pdpt,
    TableLevel::PageDirectory,
    TableLevel::PageTable,
];

impl Table for cap_type::X86PDPT {
    const LEVEL: TableLevel = TableLevel::Pdpt;
}
impl Table for cap_type::X86PageDirectory {
    const LEVEL: TableLevel = TableLevel::PageDirectory;
}
impl Table for cap_type::X86PageTable {
    const LEVEL: TableLevel = TableLevel::PageTable;
}

impl TableLevel {
    /// The object type of a table of this level.
    pub const fn object_type(self) -> ObjectType {
        match self {
            TableLevel::Pdpt => <cap_type::X86PDPT as FixedSize>::TYPE,
            TableLevel::PageDirectory => <cap_type::X86PageDirectory as FixedSize>::TYPE,
            TableLevel::PageTable => <cap_type::X86PageTable as FixedSize>::TYPE,
        }
    }

    /// log2 of the table's size in bytes.
    pub const fn size_bits(self) -> usize {
        match self {
            TableLevel::Pdpt => <cap_type::X86PDPT as FixedSize>::SIZE_BITS,
            TableLevel::PageDirectory => <cap_type::X86PageDirectory as FixedSize>::SIZE_BITS,
            TableLevel::PageTable => <cap_type::X86PageTable as FixedSize>::SIZE_BITS,
        }
    }

    /// Bits of virtual address one table of this level translates (a page
    /// table 21: 512 granules of 4 KiB).
    pub const fn span_bits(self) -> u32 {
        // each level indexes 9 bits (512 entries of 8 bytes) above the next
        let index_bits = (sys::consts::PageTableBits - 3) as u32;
        let below = match self {
            TableLevel::Pdpt => 2,
            TableLevel::PageDirectory => 1,
            TableLevel::PageTable => 0,
        };
        GRANULE_BITS as u32 + index_bits * (below + 1)
    }

    /// The level a mapping lacks when the kernel's lookup failed with
    /// `MissingCapability { bits_left }`: the table that would translate
    /// those bits. `None` when no level fits.
    pub fn missing(bits_left: Word) -> Option<TableLevel> {
        TABLE_LEVELS
            .into_iter()
            .find(|l| Word::from(l.span_bits()) <= bits_left)
    }

    /// Maps the table `table` of this level into `vspace` at `vaddr`.
    pub fn map(
        self,
        table: CPtr,
        vspace: Cap<VSpaceRoot>,
        vaddr: Word,
        attrs: VmAttributes,
    ) -> Result<()> {
        let a = attrs.into_sys();
        match self {
            TableLevel::Pdpt => {
                Cap::<cap_type::X86PDPT>::from_cptr(table).x86_pdpt_map(vspace, vaddr, a)
            }
            TableLevel::PageDirectory => Cap::<cap_type::X86PageDirectory>::from_cptr(table)
                .x86_page_directory_map(vspace.cptr(), vaddr, a),
            TableLevel::PageTable => Cap::<cap_type::X86PageTable>::from_cptr(table)
                .x86_page_table_map(vspace.cptr(), vaddr, a),
        }
    }

    /// Unmaps the table `table` of this level.
    pub fn unmap(self, table: CPtr) -> Result<()> {
        match self {
            TableLevel::Pdpt => Cap::<cap_type::X86PDPT>::from_cptr(table).x86_pdpt_unmap(),
            TableLevel::PageDirectory => {
                Cap::<cap_type::X86PageDirectory>::from_cptr(table).x86_page_directory_unmap()
            }
            TableLevel::PageTable => {
                Cap::<cap_type::X86PageTable>::from_cptr(table).x86_page_table_unmap()
            }
        }
    }
}

/// Cacheability of a mapping (`seL4_X86_VMAttributes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VmAttributes(sys::X86_VMAttributes);

impl Default for VmAttributes {
    fn default() -> VmAttributes {
        VmAttributes::DEFAULT
    }
}

impl VmAttributes {
    /// Write-back caching, as ordinary memory.
    pub const DEFAULT: VmAttributes = VmAttributes(sys::X86_VMAttributes::Default_VMAttributes);
    /// Not cached (device memory).
    pub const UNCACHED: VmAttributes = VmAttributes(sys::X86_VMAttributes::CacheDisabled);
    /// Write-through caching.
    pub const WRITE_THROUGH: VmAttributes = VmAttributes(sys::X86_VMAttributes::WriteThrough);
    /// Write-combining (frame buffers).
    pub const WRITE_COMBINING: VmAttributes = VmAttributes(sys::X86_VMAttributes::WriteCombining);

    /// The same mapping, never executable: seL4 has no execute-disable
    /// bit in x86 mappings (5.0.0 and 16.0.0 alike), so this is the mapping
    /// itself; every readable x86 page can be executed.
    pub const fn execute_never(self) -> VmAttributes {
        self
    }

    /// The kernel's value.
    pub const fn into_sys(self) -> sys::X86_VMAttributes {
        self.0
    }
}

/// Whether `ty` is a frame's object type (4 KiB, 2 MiB and, on kernels
/// with `CONFIG_HUGE_PAGE`, 1 GiB).
pub fn is_frame_type(ty: ObjectType) -> bool {
    let huge = crate::sel4_cfg_if! { object X64_HugePageObject {
        ty == <HugePage as FixedSize>::TYPE
    } else {
        false
    } };
    huge || ty == <Granule as FixedSize>::TYPE || ty == <LargePage as FixedSize>::TYPE
}

fn page(frame: CPtr) -> Cap<cap_type::X86Page> {
    Cap::from_cptr(frame)
}

pub(crate) fn frame_map(
    frame: CPtr,
    vspace: Cap<VSpaceRoot>,
    vaddr: Word,
    rights: CapRights,
    attrs: VmAttributes,
) -> Result<()> {
    page(frame).x86_page_map(vspace.cptr(), vaddr, rights.into_sys(), attrs.into_sys())
}

pub(crate) fn frame_unmap(frame: CPtr) -> Result<()> {
    page(frame).x86_page_unmap()
}

pub(crate) fn frame_paddr(frame: CPtr) -> Result<Word> {
    page(frame).x86_page_get_address()
}

/// seL4 5.x has no `TCB_SetTLSBase`: the TLS base is a register of the
/// saved context.
pub(crate) fn set_tls_register(regs: &mut UserContext, tls_base: Word) {
    crate::sel4_cfg_if! { kernel >= 10 {
        regs.fs_base = tls_base;
    } else {
        regs.tls_base = tls_base;
    } }
}

impl AsidControlOps for Cap<AsidControl> {
    fn make_pool(self, untyped: Cap<cap_type::Untyped>, dest: Slot) -> Result<()> {
        self.x86_asid_control_make_pool(untyped, dest.root, dest.index, dest.depth)
    }
}

impl AsidPoolOps for Cap<AsidPool> {
    fn assign(self, vspace: Cap<VSpaceRoot>) -> Result<()> {
        self.x86_asid_pool_assign(vspace.cptr())
    }
}

/// Operations on an I/O port range capability.
pub trait IoPortOps {
    /// Reads a byte from `port`.
    fn in8(self, port: u16) -> Result<u8>;
    /// Reads 16 bits from `port`.
    fn in16(self, port: u16) -> Result<u16>;
    /// Reads 32 bits from `port`.
    fn in32(self, port: u16) -> Result<u32>;
    /// Writes a byte to `port`.
    fn out8(self, port: u16, value: u8) -> Result<()>;
    /// Writes 16 bits to `port`.
    fn out16(self, port: u16, value: u16) -> Result<()>;
    /// Writes 32 bits to `port`.
    fn out32(self, port: u16, value: u32) -> Result<()>;
}

impl IoPortOps for Cap<cap_type::X86IOPort> {
    fn in8(self, port: u16) -> Result<u8> {
        self.x86_io_port_in8(port)
    }
    fn in16(self, port: u16) -> Result<u16> {
        self.x86_io_port_in16(port)
    }
    fn in32(self, port: u16) -> Result<u32> {
        self.x86_io_port_in32(port)
    }
    fn out8(self, port: u16, value: u8) -> Result<()> {
        self.x86_io_port_out8(Word::from(port), Word::from(value))
    }
    fn out16(self, port: u16, value: u16) -> Result<()> {
        self.x86_io_port_out16(Word::from(port), Word::from(value))
    }
    fn out32(self, port: u16, value: u32) -> Result<()> {
        self.x86_io_port_out32(Word::from(port), Word::from(value))
    }
}

crate::sel4_cfg_if! { kernel >= 10 && label X86IOPortControlIssue {
    /// Operations on the I/O port control capability (seL4 10+; 5.x hands
    /// the root task one capability for every port, `init::IO_PORT`).
    pub trait IoPortControlOps {
        /// `X86_IOPortControl_Issue`: a capability for the ports
        /// `first..=last` into the empty slot `dest`.
        fn issue(self, first: u16, last: u16, dest: Slot) -> Result<()>;
    }

    impl IoPortControlOps for Cap<cap_type::X86IOPortControl> {
        fn issue(self, first: u16, last: u16, dest: Slot) -> Result<()> {
            self.x86_io_port_control_issue(
                Word::from(first),
                Word::from(last),
                dest.root,
                dest.index,
                dest.depth,
            )
        }
    }
} }

/// x86 interrupts from the IRQ control capability.
pub trait X86IrqControlOps {
    /// `IRQControl_GetIOAPIC`: a handler for pin `pin` of IOAPIC `ioapic`
    /// (`level`: level-triggered, `polarity_low`: active low), delivered at
    /// `vector`, into the empty slot `dest`.
    #[allow(clippy::too_many_arguments)]
    fn get_ioapic(
        self,
        dest: Slot,
        ioapic: Word,
        pin: Word,
        level: bool,
        polarity_low: bool,
        vector: Word,
    ) -> Result<()>;
    /// `IRQControl_GetMSI`: a handler for the MSI of PCI device
    /// `bus:dev.func` (`handle`: the kernel's MSI handle), delivered at
    /// `vector`, into the empty slot `dest`.
    #[allow(clippy::too_many_arguments)]
    fn get_msi(
        self,
        dest: Slot,
        bus: Word,
        dev: Word,
        func: Word,
        handle: Word,
        vector: Word,
    ) -> Result<()>;
}

// seL4 5.x takes these depths as words, later kernels as bytes.
#[allow(clippy::useless_conversion)]
impl X86IrqControlOps for Cap<cap_type::IRQControl> {
    fn get_ioapic(
        self,
        dest: Slot,
        ioapic: Word,
        pin: Word,
        level: bool,
        polarity_low: bool,
        vector: Word,
    ) -> Result<()> {
        self.irq_control_get_ioapic(
            dest.root,
            dest.index,
            dest.depth.into(),
            ioapic,
            pin,
            Word::from(level),
            Word::from(polarity_low),
            vector,
        )
    }

    fn get_msi(
        self,
        dest: Slot,
        bus: Word,
        dev: Word,
        func: Word,
        handle: Word,
        vector: Word,
    ) -> Result<()> {
        self.irq_control_get_msi(
            dest.root,
            dest.index,
            dest.depth.into(),
            bus,
            dev,
            func,
            handle,
            vector,
        )
    }
}

/// The registers of [`crate::regs::Registers`] in this architecture's
/// `UserContext`.
pub(crate) mod regs {
    use crate::{UserContext, Word};

    pub(crate) fn pc(c: &UserContext) -> Word {
        c.rip
    }
    pub(crate) fn set_pc(c: &mut UserContext, v: Word) {
        c.rip = v;
    }
    pub(crate) fn sp(c: &UserContext) -> Word {
        c.rsp
    }
    pub(crate) fn set_sp(c: &mut UserContext, v: Word) {
        c.rsp = v;
    }
    pub(crate) fn args(c: &UserContext) -> [Word; 4] {
        [c.rdi, c.rsi, c.rdx, c.rcx]
    }
    pub(crate) fn args_mut(c: &mut UserContext) -> [&mut Word; 4] {
        [&mut c.rdi, &mut c.rsi, &mut c.rdx, &mut c.rcx]
    }
}

/// The traits of this architecture, for `sel4::prelude`.
pub mod prelude {
    pub use super::{IoPortOps as _, X86IrqControlOps as _};
    crate::sel4_cfg_if! { kernel >= 10 && label X86IOPortControlIssue {
        pub use super::IoPortControlOps as _;
    } }
}
