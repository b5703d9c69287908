//! A driver for the 16550 UART (the PC serial port, and QEMU's ns16550a on
//! the virt boards).
//!
//! - [`Uart`]: the register level: probe, [`Config`] (baud rate, data
//!   bits, parity, stop bits, FIFO trigger), polled transmit for consoles
//!   and early output, non-blocking receive, interrupt control; it
//!   implements `core::fmt::Write`, `embedded_io::Write` (polled) and the
//!   `embedded_hal_nb::serial` traits.
//! - [`Registers`]: how the driver reaches the registers:
//!   [`PortRegisters`] over any `sel4_device::PortIo` (I/O ports on x86,
//!   `sel4_device::IoPorts` on seL4), [`MmioRegisters`] over any
//!   `sel4_device::Mmio`.
//! - [`serial`]: the interrupt-driven port: a worker that services the
//!   interrupt on a thread of its own, moving received bytes into a ring
//!   buffer and buffered output into the transmit FIFO, and the
//!   [`SerialRx`]/[`SerialTx`] handles that implement `embedded_io::Read`
//!   and `Write` (blocking) and the `embedded_hal_nb::serial` traits
//!   (non-blocking).
//! - [`ring`]: the lock-free byte ring between the two.
//!
//! The driver makes no kernel call itself: registers, notifications and
//! the interrupt's acknowledgement come in through traits (`Registers`,
//! `sel4_device::{Signal, Wait, Acknowledge}`), so all of its logic is
//! tested on the host against a model of the 16550.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod config;
pub mod regs;
pub mod ring;
pub mod serial;
pub mod uart;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;

pub use config::{Config, ConfigError, DataBits, FifoTrigger, Parity, StopBits};
pub use regs::{AccessWidth, MmioRegisters, PortRegisters, Reg, Registers};
pub use serial::{
    serial, SerialConfig, SerialError, SerialParts, SerialRx, SerialTx, Stats, Wiring, Worker,
};
pub use uart::{Cause, LineError, Uart, UartError, FIFO_DEPTH};

/// The PC's serial ports (I/O base, ISA interrupt).
pub mod pc {
    /// COM1: ports 0x3f8..=0x3ff, IRQ 4 (the kernel's debug console when it
    /// prints).
    pub const COM1: (u16, u8) = (0x3f8, 4);
    /// COM2: ports 0x2f8..=0x2ff, IRQ 3.
    pub const COM2: (u16, u8) = (0x2f8, 3);
    /// COM3: ports 0x3e8..=0x3ef, IRQ 4 (shared with COM1).
    pub const COM3: (u16, u8) = (0x3e8, 4);
    /// COM4: ports 0x2e8..=0x2ef, IRQ 3 (shared with COM2).
    pub const COM4: (u16, u8) = (0x2e8, 3);
    /// Registers per port.
    pub const PORTS: u16 = 8;
}
