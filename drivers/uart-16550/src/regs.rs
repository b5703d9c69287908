//! The 16550's registers and how a driver reaches them: [`Registers`],
//! with [`PortRegisters`] (x86 I/O ports, one port per register) and
//! [`MmioRegisters`] (memory-mapped, registers `1 << shift` bytes apart,
//! 8- or 32-bit accesses: QEMU virt's ns16550a on riscv64 has shift 0,
//! many SoCs shift 2 with 32-bit accesses).

use sel4_device::{Mmio, MmioError, PortIo};

/// A register by its index (its offset on a PC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reg {
    /// Receive buffer (read) / transmit holding (write); divisor latch low
    /// while LCR.DLAB is set.
    Data = 0,
    /// Interrupt enable; divisor latch high while LCR.DLAB is set.
    Ier = 1,
    /// Interrupt identification (read) / FIFO control (write).
    IirFcr = 2,
    /// Line control.
    Lcr = 3,
    /// Modem control.
    Mcr = 4,
    /// Line status.
    Lsr = 5,
    /// Modem status.
    Msr = 6,
    /// Scratch.
    Scr = 7,
}

impl Reg {
    /// Every register, by index.
    pub const ALL: [Reg; 8] = [
        Reg::Data,
        Reg::Ier,
        Reg::IirFcr,
        Reg::Lcr,
        Reg::Mcr,
        Reg::Lsr,
        Reg::Msr,
        Reg::Scr,
    ];

    /// The register's index (0..8).
    pub const fn index(self) -> u8 {
        self as u8
    }
}

/// Interrupt enable bits.
pub mod ier {
    /// Received data available (and character timeout with FIFOs).
    pub const RX_DATA: u8 = 1 << 0;
    /// Transmit holding register empty.
    pub const THR_EMPTY: u8 = 1 << 1;
    /// Receiver line status.
    pub const LINE_STATUS: u8 = 1 << 2;
    /// Modem status.
    pub const MODEM_STATUS: u8 = 1 << 3;
}

/// Interrupt identification.
pub mod iir {
    /// Set when no interrupt is pending.
    pub const NONE_PENDING: u8 = 1 << 0;
    /// The cause field (bits 1..=3).
    pub const CAUSE_MASK: u8 = 0b1110;
    /// Modem status changed.
    pub const MODEM_STATUS: u8 = 0b0000;
    /// Transmit holding register empty.
    pub const THR_EMPTY: u8 = 0b0010;
    /// Received data at the trigger level.
    pub const RX_DATA: u8 = 0b0100;
    /// Receiver line status (overrun, parity, framing, break).
    pub const LINE_STATUS: u8 = 0b0110;
    /// Character timeout: data in the FIFO below the trigger level and
    /// nothing arrived for four character times.
    pub const RX_TIMEOUT: u8 = 0b1100;
    /// FIFOs enabled (bits 6 and 7).
    pub const FIFO_ENABLED: u8 = 0b1100_0000;
}

/// FIFO control bits.
pub mod fcr {
    /// Enable the FIFOs.
    pub const ENABLE: u8 = 1 << 0;
    /// Clear the receive FIFO.
    pub const CLEAR_RX: u8 = 1 << 1;
    /// Clear the transmit FIFO.
    pub const CLEAR_TX: u8 = 1 << 2;
}

/// Line control bits.
pub mod lcr {
    /// Divisor latch access.
    pub const DLAB: u8 = 1 << 7;
    /// Break.
    pub const BREAK: u8 = 1 << 6;
}

/// Modem control bits.
pub mod mcr {
    /// Data terminal ready.
    pub const DTR: u8 = 1 << 0;
    /// Request to send.
    pub const RTS: u8 = 1 << 1;
    /// OUT2: on PCs it gates the UART's interrupt line to the interrupt
    /// controller.
    pub const OUT2: u8 = 1 << 3;
    /// Loopback.
    pub const LOOPBACK: u8 = 1 << 4;
}

/// Line status bits.
pub mod lsr {
    /// Data ready.
    pub const DATA_READY: u8 = 1 << 0;
    /// Overrun: a byte was lost.
    pub const OVERRUN: u8 = 1 << 1;
    /// Parity error.
    pub const PARITY: u8 = 1 << 2;
    /// Framing error.
    pub const FRAMING: u8 = 1 << 3;
    /// Break received.
    pub const BREAK: u8 = 1 << 4;
    /// Transmit holding register (FIFO) empty.
    pub const THR_EMPTY: u8 = 1 << 5;
    /// Transmitter empty (shift register too).
    pub const TX_EMPTY: u8 = 1 << 6;
    /// An error in the receive FIFO.
    pub const FIFO_ERROR: u8 = 1 << 7;
    /// Every receive error bit.
    pub const ERRORS: u8 = OVERRUN | PARITY | FRAMING | BREAK;
}

/// Reads and writes the UART's registers. Methods take `&self`: a
/// register access has no state in the driver, so a console can write
/// from several threads (its lock orders the bytes).
pub trait Registers {
    /// What an access can fail with.
    type Error: core::fmt::Debug;
    /// Reads `reg`.
    fn read(&self, reg: Reg) -> Result<u8, Self::Error>;
    /// Writes `value` to `reg`.
    fn write(&self, reg: Reg, value: u8) -> Result<(), Self::Error>;
}

impl<R: Registers + ?Sized> Registers for &R {
    type Error = R::Error;
    fn read(&self, reg: Reg) -> Result<u8, Self::Error> {
        (**self).read(reg)
    }
    fn write(&self, reg: Reg, value: u8) -> Result<(), Self::Error> {
        (**self).write(reg, value)
    }
}

/// The UART at I/O port `base` (registers at `base..base + 8`), through
/// any [`PortIo`] (on seL4, `sel4_device::IoPorts` for those ports).
#[derive(Debug, Clone, Copy)]
pub struct PortRegisters<P> {
    ports: P,
    base: u16,
}

impl<P: PortIo> PortRegisters<P> {
    /// The UART at `base`.
    pub const fn new(ports: P, base: u16) -> PortRegisters<P> {
        PortRegisters { ports, base }
    }

    /// The base port.
    pub const fn base(&self) -> u16 {
        self.base
    }

    /// The port access.
    pub fn ports(&self) -> &P {
        &self.ports
    }
}

impl<P: PortIo> Registers for PortRegisters<P> {
    type Error = P::Error;
    fn read(&self, reg: Reg) -> Result<u8, P::Error> {
        self.ports
            .in8(self.base.wrapping_add(u16::from(reg.index())))
    }
    fn write(&self, reg: Reg, value: u8) -> Result<(), P::Error> {
        self.ports
            .out8(self.base.wrapping_add(u16::from(reg.index())), value)
    }
}

/// How wide each MMIO register access is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessWidth {
    /// Byte accesses.
    Byte,
    /// 32-bit accesses (the register is the low byte).
    Word,
}

/// A memory-mapped UART: register `i` at byte offset `offset + (i << shift)`.
#[derive(Debug, Clone, Copy)]
pub struct MmioRegisters<M> {
    mmio: M,
    offset: usize,
    shift: u8,
    width: AccessWidth,
}

impl<M: Mmio> MmioRegisters<M> {
    /// The UART at `offset` in `mmio`, registers `1 << shift` bytes apart,
    /// accessed `width` wide.
    pub const fn new(mmio: M, offset: usize, shift: u8, width: AccessWidth) -> MmioRegisters<M> {
        MmioRegisters {
            mmio,
            offset,
            shift,
            width,
        }
    }

    fn at(&self, reg: Reg) -> usize {
        self.offset + ((reg.index() as usize) << self.shift)
    }
}

impl<M: Mmio> Registers for MmioRegisters<M> {
    type Error = MmioError;
    fn read(&self, reg: Reg) -> Result<u8, MmioError> {
        match self.width {
            AccessWidth::Byte => self.mmio.read8(self.at(reg)),
            AccessWidth::Word => Ok(self.mmio.read32(self.at(reg))? as u8),
        }
    }
    fn write(&self, reg: Reg, value: u8) -> Result<(), MmioError> {
        match self.width {
            AccessWidth::Byte => self.mmio.write8(self.at(reg), value),
            AccessWidth::Word => self.mmio.write32(self.at(reg), u32::from(value)),
        }
    }
}
