//! A driver for the Arm PrimeCell PL011 UART (QEMU virt's console UART on
//! aarch64, at the address the device tree's `/chosen` `stdout-path`
//! names; `sel4_fdt::Fdt::stdout_serial` reads it).
//!
//! - [`Pl011`]: the register level over any [`sel4_device::Mmio`]:
//!   [`Pl011::init`] (baud divisor from the UART's clock, 8N1, FIFOs),
//!   polled transmit for consoles, non-blocking receive with the line
//!   errors the data register reports. It implements the same traits as
//!   the 16550 driver (`sel4-uart-16550`): `core::fmt::Write`,
//!   `embedded_io::{Write, ReadReady, WriteReady}` and the
//!   `embedded_hal_nb::serial` traits.
//! - [`regs`]: register offsets and bits.
//!
//! The driver makes no kernel call: the registers come in through `Mmio`
//! (on seL4 a `sel4_device::MappedMmio` over the mapped device frame), so
//! all of its logic is tested on the host against a model of the PL011.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(test)]
extern crate std;

#[cfg(test)]
mod tests;

use core::fmt;

use embedded_hal_nb::nb;
use sel4_device::{Mmio, MmioError};

/// Register offsets and bits (PL011 TRM, DDI 0183).
pub mod regs {
    /// Data: write sends, read receives (bits 8..=11: the byte's errors).
    pub const DR: usize = 0x00;
    /// Receive status / error clear.
    pub const RSR_ECR: usize = 0x04;
    /// Flags.
    pub const FR: usize = 0x18;
    /// Integer baud divisor.
    pub const IBRD: usize = 0x24;
    /// Fractional baud divisor (64ths).
    pub const FBRD: usize = 0x28;
    /// Line control (write after IBRD/FBRD: it latches them).
    pub const LCR_H: usize = 0x2c;
    /// Control.
    pub const CR: usize = 0x30;
    /// Interrupt mask set/clear.
    pub const IMSC: usize = 0x38;
    /// Interrupt clear.
    pub const ICR: usize = 0x44;
    /// Bytes of the register block.
    pub const SIZE: usize = 0x1000;

    /// Flag bits.
    pub mod fr {
        /// Transmitting (or the transmit FIFO not empty).
        pub const BUSY: u32 = 1 << 3;
        /// Receive FIFO empty.
        pub const RXFE: u32 = 1 << 4;
        /// Transmit FIFO full.
        pub const TXFF: u32 = 1 << 5;
        /// Transmit FIFO empty.
        pub const TXFE: u32 = 1 << 7;
    }
    /// Data register error bits (above the byte).
    pub mod dr {
        /// Framing error.
        pub const FE: u32 = 1 << 8;
        /// Parity error.
        pub const PE: u32 = 1 << 9;
        /// Break.
        pub const BE: u32 = 1 << 10;
        /// Overrun.
        pub const OE: u32 = 1 << 11;
        /// Every error bit.
        pub const ERRORS: u32 = FE | PE | BE | OE;
    }
    /// Line control bits.
    pub mod lcr_h {
        /// FIFOs enabled.
        pub const FEN: u32 = 1 << 4;
        /// 8 data bits (WLEN = 0b11).
        pub const WLEN_8: u32 = 0b11 << 5;
    }
    /// Control bits.
    pub mod cr {
        /// UART enabled.
        pub const UARTEN: u32 = 1 << 0;
        /// Transmit enabled.
        pub const TXE: u32 = 1 << 8;
        /// Receive enabled.
        pub const RXE: u32 = 1 << 9;
    }
    /// Every interrupt bit (ICR, IMSC).
    pub const ALL_INTERRUPTS: u32 = 0x7ff;
}

use regs::{cr, dr, fr, lcr_h};

/// Flag reads a polled transmit or flush makes before it gives up on a UART
/// that never drains ([`Pl011Error::Stuck`]).
pub const SPIN_LIMIT: u32 = 1 << 22;

/// Baud rate and the UART's reference clock: what the divisors come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Baud rate.
    pub baud: u32,
    /// The UART's reference clock (UARTCLK) in Hz: the device tree's
    /// `clocks` (QEMU virt: 24 MHz).
    pub clock_hz: u32,
}

/// The baud divisor registers for a configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Divisor {
    /// IBRD (1..=0xffff).
    pub integer: u16,
    /// FBRD (0..64).
    pub fraction: u8,
}

impl Config {
    /// IBRD/FBRD: UARTCLK / (16 × baud) in 64ths, rounded to nearest.
    pub fn divisor(&self) -> Result<Divisor, Pl011Error> {
        let refuse = Pl011Error::UnsupportedBaud {
            baud: self.baud,
            clock_hz: self.clock_hz,
        };
        if self.baud == 0 {
            return Err(refuse);
        }
        // 64 × clock / (16 × baud) = 4 × clock / baud, rounded.
        let d64 = (8 * u64::from(self.clock_hz) / u64::from(self.baud)).div_ceil(2);
        let integer = d64 >> 6;
        if integer == 0 || integer > 0xffff {
            return Err(refuse);
        }
        Ok(Divisor {
            integer: integer as u16,
            fraction: (d64 & 0x3f) as u8,
        })
    }
}

/// What a PL011 operation can fail with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Pl011Error {
    /// A register access was refused (the mapped region is too small or
    /// an offset is wrong).
    Access(MmioError),
    /// No divisor reaches this baud rate with this clock.
    UnsupportedBaud {
        /// The rate asked for.
        baud: u32,
        /// The UART's clock.
        clock_hz: u32,
    },
    /// A received byte came with errors (bits of [`regs::dr`]).
    Line(u32),
    /// The transmitter did not drain within [`SPIN_LIMIT`] flag reads.
    Stuck,
}

impl From<MmioError> for Pl011Error {
    fn from(e: MmioError) -> Self {
        Pl011Error::Access(e)
    }
}

impl fmt::Display for Pl011Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Pl011Error::Access(e) => write!(f, "PL011 register access refused: {e}"),
            Pl011Error::UnsupportedBaud { baud, clock_hz } => write!(
                f,
                "{baud} baud is not reachable with a {clock_hz} Hz PL011 clock (divisor must be \
                 1..=65535): check the device tree's clock or choose another rate"
            ),
            Pl011Error::Line(e) => write!(f, "receive error, data register error bits {e:#x}"),
            Pl011Error::Stuck => write!(f, "the PL011's transmitter does not drain"),
        }
    }
}

/// A PL011 UART (register level). Every method takes `&self`: the state is
/// in the registers, so a console may share one under its own lock.
#[derive(Debug)]
pub struct Pl011<M> {
    mmio: M,
}

impl<M: Mmio> Pl011<M> {
    /// The UART whose registers `mmio` reaches (nothing is touched yet).
    pub const fn new(mmio: M) -> Pl011<M> {
        Pl011 { mmio }
    }

    /// The register access.
    pub fn mmio(&self) -> &M {
        &self.mmio
    }

    fn read(&self, reg: usize) -> Result<u32, Pl011Error> {
        Ok(self.mmio.read32(reg)?)
    }

    fn write(&self, reg: usize, v: u32) -> Result<(), Pl011Error> {
        Ok(self.mmio.write32(reg, v)?)
    }

    /// The flag register (bits of [`regs::fr`]).
    pub fn flags(&self) -> Result<u32, Pl011Error> {
        self.read(regs::FR)
    }

    /// Programs the UART: disables it, waits until what it was sending has
    /// gone, sets the divisors and 8N1 with FIFOs, masks and clears every
    /// interrupt, clears the receive errors and enables it with transmit
    /// and receive. Nothing is programmed when the baud rate is refused.
    pub fn init(&self, config: &Config) -> Result<(), Pl011Error> {
        let d = config.divisor()?;
        self.write(regs::CR, 0)?;
        self.wait_idle()?;
        // Turning FEN off flushes the transmit FIFO.
        self.write(regs::LCR_H, 0)?;
        self.write(regs::IBRD, u32::from(d.integer))?;
        self.write(regs::FBRD, u32::from(d.fraction))?;
        self.write(regs::LCR_H, lcr_h::WLEN_8 | lcr_h::FEN)?;
        self.write(regs::IMSC, 0)?;
        self.write(regs::ICR, regs::ALL_INTERRUPTS)?;
        self.write(regs::RSR_ECR, 0)?;
        self.write(regs::CR, cr::UARTEN | cr::TXE | cr::RXE)?;
        Ok(())
    }

    /// The divisors, line control and control registers as the UART holds
    /// them (to check what [`Pl011::init`] programmed).
    pub fn settings(&self) -> Result<(Divisor, u32, u32), Pl011Error> {
        Ok((
            Divisor {
                integer: self.read(regs::IBRD)? as u16,
                fraction: (self.read(regs::FBRD)? & 0x3f) as u8,
            },
            self.read(regs::LCR_H)?,
            self.read(regs::CR)?,
        ))
    }

    fn wait_idle(&self) -> Result<(), Pl011Error> {
        for _ in 0..SPIN_LIMIT {
            if self.flags()? & fr::BUSY == 0 {
                return Ok(());
            }
        }
        Err(Pl011Error::Stuck)
    }

    /// A received byte, if one is ready; a byte received with errors is
    /// consumed and reported as [`Pl011Error::Line`].
    pub fn try_read(&self) -> nb::Result<u8, Pl011Error> {
        if self.flags()? & fr::RXFE != 0 {
            return Err(nb::Error::WouldBlock);
        }
        let v = self.read(regs::DR)?;
        if v & dr::ERRORS != 0 {
            self.write(regs::RSR_ECR, 0)?;
            return Err(nb::Error::Other(Pl011Error::Line(v & dr::ERRORS)));
        }
        Ok(v as u8)
    }

    /// Sends a byte if the transmit FIFO has room.
    pub fn try_write(&self, b: u8) -> nb::Result<(), Pl011Error> {
        if self.flags()? & fr::TXFF != 0 {
            return Err(nb::Error::WouldBlock);
        }
        Ok(self.write(regs::DR, u32::from(b))?)
    }

    /// Sends every byte of `bytes`, polling the FIFO's room (at most
    /// [`SPIN_LIMIT`] flag reads per byte).
    pub fn write_blocking(&self, bytes: &[u8]) -> Result<(), Pl011Error> {
        for &b in bytes {
            let mut sent = false;
            for _ in 0..SPIN_LIMIT {
                match self.try_write(b) {
                    Ok(()) => {
                        sent = true;
                        break;
                    }
                    Err(nb::Error::WouldBlock) => {}
                    Err(nb::Error::Other(e)) => return Err(e),
                }
            }
            if !sent {
                return Err(Pl011Error::Stuck);
            }
        }
        Ok(())
    }

    /// Waits (polling) until everything sent has left the transmitter.
    pub fn flush_blocking(&self) -> Result<(), Pl011Error> {
        self.wait_idle()
    }
}

// ---- traits: core::fmt, embedded-io, embedded-hal-nb (polled) ----

impl<M: Mmio> fmt::Write for Pl011<M> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.write_blocking(s.as_bytes()).map_err(|_| fmt::Error)
    }
}

impl embedded_io::Error for Pl011Error {
    fn kind(&self) -> embedded_io::ErrorKind {
        match self {
            Pl011Error::Access(_) | Pl011Error::UnsupportedBaud { .. } => {
                embedded_io::ErrorKind::InvalidInput
            }
            Pl011Error::Line(_) => embedded_io::ErrorKind::InvalidData,
            Pl011Error::Stuck => embedded_io::ErrorKind::TimedOut,
        }
    }
}

impl embedded_hal_nb::serial::Error for Pl011Error {
    fn kind(&self) -> embedded_hal_nb::serial::ErrorKind {
        use embedded_hal_nb::serial::ErrorKind;
        match *self {
            Pl011Error::Line(e) if e & dr::OE != 0 => ErrorKind::Overrun,
            Pl011Error::Line(e) if e & dr::PE != 0 => ErrorKind::Parity,
            Pl011Error::Line(e) if e & dr::FE != 0 => ErrorKind::FrameFormat,
            _ => ErrorKind::Other,
        }
    }
}

impl<M: Mmio> embedded_io::ErrorType for Pl011<M> {
    type Error = Pl011Error;
}

impl<M: Mmio> embedded_io::Write for Pl011<M> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Pl011Error> {
        self.write_blocking(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Pl011Error> {
        self.flush_blocking()
    }
}

impl<M: Mmio> embedded_io::ReadReady for Pl011<M> {
    fn read_ready(&mut self) -> Result<bool, Pl011Error> {
        Ok(self.flags()? & fr::RXFE == 0)
    }
}

impl<M: Mmio> embedded_io::WriteReady for Pl011<M> {
    fn write_ready(&mut self) -> Result<bool, Pl011Error> {
        Ok(self.flags()? & fr::TXFF == 0)
    }
}

impl<M: Mmio> embedded_hal_nb::serial::ErrorType for Pl011<M> {
    type Error = Pl011Error;
}

impl<M: Mmio> embedded_hal_nb::serial::Read<u8> for Pl011<M> {
    fn read(&mut self) -> nb::Result<u8, Pl011Error> {
        self.try_read()
    }
}

impl<M: Mmio> embedded_hal_nb::serial::Write<u8> for Pl011<M> {
    fn write(&mut self, b: u8) -> nb::Result<(), Pl011Error> {
        self.try_write(b)
    }
    fn flush(&mut self) -> nb::Result<(), Pl011Error> {
        if self.flags()? & fr::BUSY != 0 {
            return Err(nb::Error::WouldBlock);
        }
        Ok(())
    }
}
