//! The component runtime: binds the generated descriptors to values.

use core::sync::atomic::{AtomicBool, Ordering};

use sel4_component_env::{
    ClientCap, DeviceRegion, IoPortRange, IrqCap, Protocol, Runtime, ServerCap, SharedRegion,
    SignalCap, Slot, WaitCap,
};
use sel4_sys::{cap_type, Cap, InvocationError, Word};

use crate::channel::{Client, Server};
use crate::memory::{DeviceFrames, SharedRo, SharedRw};

/// The component runtime ([`sel4_component_env::Runtime`]): turns each
/// descriptor of the environment into the value the component uses. There
/// is one per component ([`Rt::take`]), so every capability and mapping is
/// bound once: the values own what they name.
pub struct Rt {
    _once: (),
}

static TAKEN: AtomicBool = AtomicBool::new(false);

impl Rt {
    /// The runtime, the first time (the entry macro takes it).
    pub fn take() -> Option<Rt> {
        (!TAKEN.swap(true, Ordering::SeqCst)).then_some(Rt { _once: () })
    }
}

/// Why a capability could not be bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindError {
    /// The generated module has no capabilities for this component (its
    /// name from the start-info page is not one of the crate's).
    UnknownComponent,
    /// A mapping lies outside the user address space or is misaligned.
    BadRegion {
        /// The mapping's first address.
        vaddr: u64,
        /// Its size in bytes.
        size: u64,
    },
    /// An I/O port range with `last < first`, or any range on an
    /// architecture without I/O ports (aarch64, riscv64).
    BadPorts {
        /// The range's first port.
        first: u16,
        /// Its last port.
        last: u16,
    },
}

impl core::fmt::Display for BindError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BindError::UnknownComponent => write!(
                f,
                "the generated environment has no component named `{}`: rebuild the system from its description",
                crate::name()
            ),
            BindError::BadRegion { vaddr, size } => {
                write!(f, "region of {size:#x} bytes at {vaddr:#x} is not a mapping the plan makes")
            }
            BindError::BadPorts { first, last } if cfg!(target_arch = "x86_64") => {
                write!(f, "I/O ports {first:#x}..={last:#x}")
            }
            BindError::BadPorts { first, last } => write!(
                f,
                "I/O ports {first:#x}..={last:#x}: this architecture has none (map the device's registers as a region)"
            ),
        }
    }
}

/// The right to signal a notification.
#[derive(Debug)]
pub struct Signal {
    cap: Cap<cap_type::Notification>,
    /// The badge bits the waiter sees.
    pub badge: Word,
}

impl Signal {
    /// Signals the notification.
    #[inline]
    pub fn signal(&self) {
        self.cap.signal();
    }
}

/// The right to wait on a notification.
#[derive(Debug)]
pub struct Wait {
    cap: Cap<cap_type::Notification>,
    desc: WaitCap,
}

impl Wait {
    /// Blocks until the notification is signalled; the badge bits that were
    /// set (the sources: [`WaitCap::sources_in`]).
    #[inline]
    pub fn wait(&self) -> Word {
        self.cap.wait()
    }

    /// The bits set now, without blocking (0: none).
    #[inline]
    pub fn poll(&self) -> Word {
        self.cap.poll()
    }

    /// What signals it.
    pub fn descriptor(&self) -> &WaitCap {
        &self.desc
    }
}

/// An x86 I/O port range: accesses outside it are refused before the
/// kernel is asked.
#[derive(Debug)]
pub struct IoPorts {
    #[cfg(target_arch = "x86_64")]
    cap: Cap<cap_type::X86IOPort>,
    range: IoPortRange,
}

/// An I/O port access outside the range, or refused by the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub enum PortError {
    OutOfRange { port: u16, width: u16 },
    Kernel(InvocationError),
}

// The kernel's argument types differ between versions (seL4 5.x takes a
// u16 port): conversions that are no-ops on one are needed on another.
#[allow(clippy::useless_conversion)]
impl IoPorts {
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    fn check(&self, port: u16, width: u16) -> Result<(), PortError> {
        if self.range.contains(port, width) {
            Ok(())
        } else {
            Err(PortError::OutOfRange { port, width })
        }
    }

    /// Reads a byte from `port` (which must lie in the component's range).
    #[cfg(target_arch = "x86_64")]
    pub fn in8(&self, port: u16) -> Result<u8, PortError> {
        self.check(port, 1)?;
        self.cap
            .x86_io_port_in8(port.into())
            .map_err(PortError::Kernel)
    }

    /// Writes `value` to `port` (which must lie in the component's range).
    #[cfg(target_arch = "x86_64")]
    pub fn out8(&self, port: u16, value: u8) -> Result<(), PortError> {
        self.check(port, 1)?;
        self.cap
            .x86_io_port_out8(port.into(), value.into())
            .map_err(PortError::Kernel)
    }

    /// The range.
    pub fn range(&self) -> IoPortRange {
        self.range
    }
}

/// An interrupt: its signals arrive on the notification of the
/// descriptor's [`IrqCap::notification`] (a [`Wait`] of this component)
/// with its badge bits; acknowledge each before the next can come.
#[derive(Debug)]
pub struct Irq {
    handler: Cap<cap_type::IRQHandler>,
    desc: IrqCap,
}

impl Irq {
    /// Acknowledges the interrupt.
    pub fn ack(&self) -> Result<(), InvocationError> {
        self.handler.irq_handler_ack()
    }

    /// Its badge bits on the notification.
    pub fn badge(&self) -> Word {
        self.desc.badge
    }
}

fn cap<T: sel4_sys::CapType>(slot: Slot) -> Cap<T> {
    Cap::from_cptr(slot)
}

impl Runtime for Rt {
    type Error = BindError;
    type Client<P: Protocol> = Client<P>;
    type Server<P: Protocol> = Server<P>;
    type Signal = Signal;
    type Wait = Wait;
    type SharedRo = SharedRo;
    type SharedRw = SharedRw;
    type Device = DeviceFrames;
    type IoPorts = IoPorts;
    type Irq = Irq;

    fn component_name(&self) -> &str {
        crate::name()
    }

    fn unknown_component(&mut self) -> BindError {
        BindError::UnknownComponent
    }

    fn client<P: Protocol>(&mut self, c: &ClientCap<P>) -> Result<Client<P>, BindError> {
        Ok(Client::new(cap(c.slot), c.server))
    }

    fn server<P: Protocol>(&mut self, c: &ServerCap<P>) -> Result<Server<P>, BindError> {
        Ok(Server::new(cap(c.slot), c.clients))
    }

    fn signal(&mut self, c: &SignalCap) -> Result<Signal, BindError> {
        Ok(Signal {
            cap: cap(c.slot),
            badge: c.badge,
        })
    }

    fn wait(&mut self, c: &WaitCap) -> Result<Wait, BindError> {
        Ok(Wait {
            cap: cap(c.slot),
            desc: *c,
        })
    }

    fn shared_ro(&mut self, r: &SharedRegion) -> Result<SharedRo, BindError> {
        SharedRo::bind(r)
    }

    fn shared_rw(&mut self, r: &SharedRegion) -> Result<SharedRw, BindError> {
        SharedRw::bind(r)
    }

    fn device(&mut self, r: &DeviceRegion) -> Result<DeviceFrames, BindError> {
        DeviceFrames::bind(r)
    }

    fn io_ports(&mut self, r: &IoPortRange) -> Result<IoPorts, BindError> {
        if r.last < r.first || !cfg!(target_arch = "x86_64") {
            return Err(BindError::BadPorts {
                first: r.first,
                last: r.last,
            });
        }
        Ok(IoPorts {
            #[cfg(target_arch = "x86_64")]
            cap: cap(r.slot),
            range: *r,
        })
    }

    fn irq(&mut self, i: &IrqCap) -> Result<Irq, BindError> {
        Ok(Irq {
            handler: cap(i.handler),
            desc: *i,
        })
    }
}
