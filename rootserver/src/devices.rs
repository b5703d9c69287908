//! Device resources for the root task, in slots [`Objects`] owns: I/O port
//! ranges and interrupt handlers, as the typed values of `sel4-device`
//! that drivers take.
//!
//! ```ignore
//! use sel4_rootserver::device::{IrqControl, IrqSource};
//! let mut irqs = IrqControl::root();                      // the root task's IRQ control capability
//! let com2 = objs.io_ports(0x2f8, 0x2ff)?;                 // DeviceCap<X86IOPort, IoPorts>
//! let irq = objs.irq_handler(&mut irqs, IrqSource::isa(3))?;
//! let ntfn = objs.create::<Notification>()?;
//! let badged = objs.mint(&ntfn, 0b1)?;                     // this interrupt's badge bit
//! irq.bind(badged.cap())?;
//! irq.ack()?;                                              // let the first one in
//! // ... sel4_device::irq::wait(ntfn.cap()).contains(0b1) ...
//! objs.delete_irq_handler(&mut irqs, irq)?;                // the vector and the pin are free again
//! ```
//!
//! A [`DeviceCap`] is the owned capability with its typed value: it
//! dereferences to the value (`IoPorts`, `IrqHandler`, both `Copy` names to
//! hand to a driver or a thread), and goes back through
//! [`Objects::delete`] ([`DeviceCap::into_owned`]) or, for a handler,
//! [`Objects::delete_irq_handler`], which also clears the `IrqControl`'s
//! record of its vector and pin.

use core::ops::Deref;

use sel4::CNodeOps;

use sel4_device::{IoPorts, IrqControl, IrqError, IrqHandler, IrqSource, PortError, PortRange};

use crate::cap::{cap_type, CapType, Owned};
use crate::error::Error;
use crate::objects::Objects;

/// An owned device capability and its typed value.
#[must_use = "a device capability keeps its slot (and a handler its vector) until it is given back"]
pub struct DeviceCap<T: CapType, D> {
    owned: Owned<T>,
    device: D,
}

impl<T: CapType, D: Copy> DeviceCap<T, D> {
    /// The typed value (a `Copy` name: hand it to a driver or a thread).
    pub fn get(&self) -> D {
        self.device
    }

    /// The owned capability.
    pub fn owned(&self) -> &Owned<T> {
        &self.owned
    }

    /// The owned capability, to give back with [`Objects::delete`].
    pub fn into_owned(self) -> Owned<T> {
        self.owned
    }
}

impl<T: CapType, D> Deref for DeviceCap<T, D> {
    type Target = D;
    fn deref(&self) -> &D {
        &self.device
    }
}

impl<T: CapType, D: core::fmt::Debug> core::fmt::Debug for DeviceCap<T, D> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DeviceCap")
            .field("slot", &self.owned.cptr())
            .field("device", &self.device)
            .finish()
    }
}

/// A capability for a range of I/O ports.
pub type PortsCap = DeviceCap<cap_type::X86IOPort, IoPorts>;
/// An interrupt handler capability.
pub type IrqCap = DeviceCap<cap_type::IRQHandler, IrqHandler>;

/// An error of a device operation: the framework's [`Error`]s (slots,
/// memory, the kernel) and the device layer's. A type of its own, not
/// variants of [`Error`], so that a root task without devices links none
/// of the device errors' text (3.1 KiB of `hello`, docs/design.md
/// "Size"); `?` turns every framework error into one, so a root task with
/// devices returns `DeviceResult` from `main`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeviceError {
    /// The framework or the kernel refused (the error says which).
    Framework(Error),
    /// An I/O port range was refused (out of range, issued already, ...).
    Port(PortError),
    /// An interrupt operation was refused (vector or pin taken, bad pin,
    /// no IRQ control capability, ...).
    Irq(IrqError),
}

/// Result of a device operation.
pub type DeviceResult<T> = core::result::Result<T, DeviceError>;

impl From<Error> for DeviceError {
    fn from(e: Error) -> DeviceError {
        DeviceError::Framework(e)
    }
}

impl From<crate::InvocationError> for DeviceError {
    fn from(e: crate::InvocationError) -> DeviceError {
        DeviceError::Framework(e.into())
    }
}

impl From<crate::AllocError> for DeviceError {
    fn from(e: crate::AllocError) -> DeviceError {
        DeviceError::Framework(e.into())
    }
}

impl From<sel4::DataTooWide> for DeviceError {
    fn from(e: sel4::DataTooWide) -> DeviceError {
        DeviceError::Framework(e.into())
    }
}

impl From<PortError> for DeviceError {
    fn from(e: PortError) -> DeviceError {
        DeviceError::Port(e)
    }
}

impl From<IrqError> for DeviceError {
    fn from(e: IrqError) -> DeviceError {
        DeviceError::Irq(e)
    }
}

impl core::fmt::Display for DeviceError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DeviceError::Framework(e) => e.fmt(f),
            DeviceError::Port(e) => e.fmt(f),
            DeviceError::Irq(e) => e.fmt(f),
        }
    }
}

impl Objects {
    /// A capability for the ports `first..=last` in a new slot: seL4 10+
    /// issues it from the I/O port control capability (each port once:
    /// [`PortError::AlreadyIssued`] otherwise); seL4 5.x copies its
    /// capability for every port, and the `IoPorts` checks keep accesses
    /// in the range.
    pub fn io_ports(&mut self, first: u16, last: u16) -> DeviceResult<PortsCap> {
        let range = PortRange::new(first, last)?;
        let slot = self.alloc_slot()?;
        match IoPorts::issue(range, sel4::init::CNODE.slot(slot.cptr())) {
            Ok(device) => Ok(DeviceCap {
                owned: self.adopt(slot),
                device,
            }),
            Err(e) => {
                self.free_slot(slot).map_err(|r| r.error)?;
                Err(e.into())
            }
        }
    }

    /// An interrupt handler for `source` from `irqs`, at the lowest free
    /// vector, in a new slot. Bind it to a (badged) notification and
    /// acknowledge it once to let the first interrupt in.
    pub fn irq_handler(
        &mut self,
        irqs: &mut IrqControl,
        source: IrqSource,
    ) -> DeviceResult<IrqCap> {
        let slot = self.alloc_slot()?;
        match irqs.get(source, sel4::init::CNODE.slot(slot.cptr())) {
            Ok(device) => Ok(DeviceCap {
                owned: self.adopt(slot),
                device,
            }),
            Err(e) => {
                self.free_slot(slot).map_err(|r| r.error)?;
                Err(e.into())
            }
        }
    }

    /// The same at the vector `vector`.
    pub fn irq_handler_at(
        &mut self,
        irqs: &mut IrqControl,
        source: IrqSource,
        vector: u32,
    ) -> DeviceResult<IrqCap> {
        let slot = self.alloc_slot()?;
        match irqs.get_at(source, vector, sel4::init::CNODE.slot(slot.cptr())) {
            Ok(device) => Ok(DeviceCap {
                owned: self.adopt(slot),
                device,
            }),
            Err(e) => {
                self.free_slot(slot).map_err(|r| r.error)?;
                Err(e.into())
            }
        }
    }

    /// Deletes an interrupt handler (the kernel frees its vector and masks
    /// the interrupt) and clears `irqs`' record of its vector and pin.
    pub fn delete_irq_handler(
        &mut self,
        irqs: &mut IrqControl,
        handler: IrqCap,
    ) -> DeviceResult<()> {
        let h = handler.get();
        self.delete(handler.into_owned()).map_err(|r| r.error)?;
        irqs.release(h);
        Ok(())
    }
}
