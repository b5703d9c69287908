//! The root task's initial capabilities, typed: the slots the kernel fills
//! before the root task starts (`seL4_RootCNodeCapSlots` of the kernel's
//! `bootinfo_types.h`, through the generated `sys::init_caps`). Only the
//! capabilities this kernel hands out are here (`IO_PORT_CONTROL` from seL4
//! 10 on, `IO_PORT` before; `SCHED_CONTEXT` on MCS kernels).
//!
//! ```no_run
//! use sel4::prelude::*;
//! // the root task's own thread and CSpace
//! sel4::init::TCB.set_priority(sel4::init::TCB, 100)?;
//! let slot = sel4::init::CNODE.slot(0x100);
//! # Ok::<(), sel4::InvocationError>(())
//! ```

use crate::{cap_type, sys, AsidControl, AsidPool, Cap, Granule, VSpaceRoot, Word};

const fn cap<T: crate::CapType>(slot: usize) -> Cap<T> {
    Cap::from_cptr(slot as Word)
}

use sys::init_caps as slots;

/// The root task's thread.
pub const TCB: Cap<cap_type::TCB> = cap(slots::CapInitThreadTCB);
/// The root task's CSpace root: one CNode whose guard fills the word, so
/// its slot `i` has the address `i`.
pub const CNODE: Cap<cap_type::CNode> = cap(slots::CapInitThreadCNode);
/// The root task's VSpace root.
pub const VSPACE: Cap<VSpaceRoot> = cap(slots::CapInitThreadVSpace);
/// The IRQ control capability: makes interrupt handlers.
pub const IRQ_CONTROL: Cap<cap_type::IRQControl> = cap(slots::CapIRQControl);
/// The ASID control capability: makes ASID pools.
pub const ASID_CONTROL: Cap<AsidControl> = cap(slots::CapASIDControl);
/// The root task's ASID pool.
pub const ASID_POOL: Cap<AsidPool> = cap(slots::CapInitThreadASIDPool);
/// The frame that holds bootinfo.
pub const BOOT_INFO_FRAME: Cap<Granule> = cap(slots::CapBootInfoFrame);
/// The frame of the root task's IPC buffer.
pub const IPC_BUFFER: Cap<Granule> = cap(slots::CapInitThreadIPCBuffer);
/// The domain capability: sets threads' scheduling domains.
pub const DOMAIN: Cap<cap_type::DomainSet> = cap(slots::CapDomain);

#[cfg(target_arch = "x86_64")]
crate::sel4_cfg_if! { init_cap CapIOSpace {
    /// The IOMMU space (a null capability without IOMMU support).
    pub const IO_SPACE: Cap<cap_type::X86IOSpace> = cap(slots::CapIOSpace);
} }

#[cfg(target_arch = "x86_64")]
crate::sel4_cfg_if! { kernel >= 10 && init_cap CapIOPortControl {
    /// The I/O port control capability (x86, seL4 10+): issues capabilities
    /// for port ranges.
    pub const IO_PORT_CONTROL: Cap<cap_type::X86IOPortControl> = cap(slots::CapIOPortControl);
} else {
    crate::sel4_cfg_if! { kernel >= 10 { } else {
        crate::sel4_cfg_if! { init_cap CapIOPort {
            /// The capability for every I/O port (x86, seL4 5.x).
            pub const IO_PORT: Cap<cap_type::X86IOPort> = cap(slots::CapIOPort);
        } }
    } }
} }

crate::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
    /// The root task's scheduling context (MCS kernels).
    pub const SCHED_CONTEXT: Cap<cap_type::SchedContext> = cap(slots::CapInitThreadSC);
} }

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_the_kernels() {
        assert_eq!(TCB.cptr(), 1);
        assert_eq!(CNODE.cptr(), 2);
        assert_eq!(VSPACE.cptr(), 3);
        assert_eq!(IRQ_CONTROL.cptr(), 4);
        assert_eq!(BOOT_INFO_FRAME.cptr(), 9);
        assert_eq!(IPC_BUFFER.cptr(), 10);
    }
}
