//! Device resources as typed values, for drivers and the programs that
//! start them: no driver logic here.
//!
//! - [`ports`]: a range of x86 I/O ports ([`PortRange`]); [`IoPorts`], the
//!   capability with its range, refuses an access outside it before the
//!   kernel is called; [`PortIo`] is what port drivers are written against.
//! - [`irq`]: interrupt handlers for IOAPIC pins (trigger, polarity) and
//!   MSIs from the IRQ control capability ([`IrqControl`]: vectors, pins,
//!   errors that name the fix), bound to notifications by badge
//!   ([`IrqHandler`]), acknowledged after servicing.
//! - [`mmio`]: [`Mmio`], what drivers of memory-mapped devices are written
//!   against; whatever maps a device frame provides it, as a
//!   [`MappedMmio`] (checked volatile accesses to the mapped registers).
//! - [`timer`]: [`OneShotTimer`], what a timer service needs from timer
//!   hardware.
//! - [`event`]: [`Signal`], [`Wait`], [`Acknowledge`]: the kernel's
//!   wake-ups as traits, so that driver logic that blocks and wakes is
//!   tested on the host with fakes.
//!
//! The kernel-facing types ([`IoPorts`], [`IrqControl`], [`IrqHandler`])
//! exist on the target only (they need a kernel stage); the checks, the
//! bookkeeping and the traits build and are tested on the host too.
//!
//! Where resources come from: the root task issues them itself
//! (`sel4_rootserver::Objects::io_ports`, `Objects::irq_handler`); a
//! component will get them from its system description.
#![no_std]
// Unsafe code only in `mmio::MappedMmio` (volatile accesses to mapped
// device registers), which allows it for itself.
#![deny(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod event;
pub mod irq;
pub mod mmio;
pub mod ports;
pub mod timer;

pub use event::{Acknowledge, Signal, Wait};
pub use irq::{Badges, IrqError, IrqSource, Polarity, Trigger};
pub use mmio::{MappedMmio, Mmio, MmioError};
pub use ports::{PortError, PortIo, PortRange, Width};
pub use timer::OneShotTimer;

#[cfg(target_os = "none")]
pub use irq::{IrqControl, IrqHandler};
#[cfg(all(target_os = "none", target_arch = "x86_64"))]
pub use ports::IoPorts;
