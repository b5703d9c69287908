//! The register-level driver: probe, configuration, polled transmit and
//! receive, interrupt control. Everything takes `&self` (the registers
//! have the state), so a console may share one `Uart` between threads
//! under its own lock.

use core::fmt;

use embedded_hal_nb::nb;

use crate::config::{Config, ConfigError};
use crate::regs::{fcr, iir, lcr, lsr, mcr, Reg, Registers};

/// Bytes the transmit FIFO holds: written in one go after the holding
/// register reports empty.
pub const FIFO_DEPTH: usize = 16;

/// Line status reads a polled transmit or flush makes before it gives up
/// on a UART that never empties ([`UartError::Stuck`]): far more than a
/// FIFO needs at the slowest standard rate.
pub const SPIN_LIMIT: u32 = 1 << 22;

/// A receive error the line status reported (the bits of `lsr::ERRORS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineError(pub u8);

impl LineError {
    /// A byte was lost: the receiver was not read in time.
    pub const fn overrun(self) -> bool {
        self.0 & lsr::OVERRUN != 0
    }
    /// A parity error.
    pub const fn parity(self) -> bool {
        self.0 & lsr::PARITY != 0
    }
    /// A framing error (wrong baud rate or line settings, or noise).
    pub const fn framing(self) -> bool {
        self.0 & lsr::FRAMING != 0
    }
    /// A break.
    pub const fn is_break(self) -> bool {
        self.0 & lsr::BREAK != 0
    }
}

/// What a UART operation can fail with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UartError<E> {
    /// A register access failed (e.g. an I/O port outside the capability's
    /// range).
    Access(E),
    /// No UART answers at these registers (the scratch register does not
    /// keep a value): on QEMU a serial port exists only for each `-serial`
    /// option (COM2 needs a second one).
    NotPresent,
    /// The configuration cannot be programmed.
    Config(ConfigError),
    /// The line status reports a receive error.
    Line(LineError),
    /// The transmitter did not empty within [`SPIN_LIMIT`] status reads.
    Stuck,
}

impl<E> From<ConfigError> for UartError<E> {
    fn from(e: ConfigError) -> Self {
        UartError::Config(e)
    }
}

impl<E: fmt::Debug> fmt::Display for UartError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UartError::Access(e) => write!(f, "UART register access failed: {e:?}"),
            UartError::NotPresent => write!(
                f,
                "no 16550 UART answers at these registers (on QEMU, each serial port needs a \
                 -serial option: COM2 is the second)"
            ),
            UartError::Config(e) => write!(f, "{e}"),
            UartError::Line(e) => write!(f, "receive error, line status {:#04x}", e.0),
            UartError::Stuck => write!(f, "the UART's transmitter does not empty"),
        }
    }
}

/// Why the UART interrupts (its interrupt identification register).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// Nothing pending.
    None,
    /// Received data at the trigger level.
    RxData,
    /// Data in the receive FIFO, below the trigger level, for a while.
    RxTimeout,
    /// The transmit holding register (FIFO) is empty.
    ThrEmpty,
    /// A receive error or break.
    LineStatus,
    /// A modem line changed.
    ModemStatus,
    /// A value the 16550 does not define.
    Unknown(u8),
}

impl Cause {
    /// Decodes the interrupt identification register.
    pub const fn from_iir(v: u8) -> Cause {
        if v & iir::NONE_PENDING != 0 {
            return Cause::None;
        }
        match v & iir::CAUSE_MASK {
            iir::RX_DATA => Cause::RxData,
            iir::RX_TIMEOUT => Cause::RxTimeout,
            iir::THR_EMPTY => Cause::ThrEmpty,
            iir::LINE_STATUS => Cause::LineStatus,
            iir::MODEM_STATUS => Cause::ModemStatus,
            _ => Cause::Unknown(v),
        }
    }
}

/// A 16550 UART (register level).
#[derive(Debug, Clone, Copy)]
pub struct Uart<R> {
    regs: R,
}

impl<R: Registers> Uart<R> {
    /// The UART behind `regs` (nothing is touched yet).
    pub const fn new(regs: R) -> Uart<R> {
        Uart { regs }
    }

    /// The register access.
    pub fn regs(&self) -> &R {
        &self.regs
    }

    fn read(&self, r: Reg) -> Result<u8, UartError<R::Error>> {
        self.regs.read(r).map_err(UartError::Access)
    }

    fn write(&self, r: Reg, v: u8) -> Result<(), UartError<R::Error>> {
        self.regs.write(r, v).map_err(UartError::Access)
    }

    /// Whether a UART answers: the scratch register keeps two patterns and
    /// the line status is not all ones (a bus with nothing on it).
    pub fn probe(&self) -> Result<(), UartError<R::Error>> {
        for pattern in [0x5a, 0xa5] {
            self.write(Reg::Scr, pattern)?;
            if self.read(Reg::Scr)? != pattern {
                return Err(UartError::NotPresent);
            }
        }
        if self.read(Reg::Lsr)? == 0xff {
            return Err(UartError::NotPresent);
        }
        Ok(())
    }

    /// Probes and programs the UART: interrupts off, the divisor, the line
    /// settings, FIFOs on and cleared, DTR, RTS and OUT2 (which lets the
    /// interrupt reach the interrupt controller on PCs); then drains stale
    /// status. Nothing is programmed when the configuration is refused.
    pub fn init(&self, config: &Config) -> Result<(), UartError<R::Error>> {
        let divisor = config.divisor()?;
        self.probe()?;
        self.write(Reg::Ier, 0)?;
        self.write(Reg::Lcr, lcr::DLAB)?;
        self.write(Reg::Data, divisor as u8)?;
        self.write(Reg::Ier, (divisor >> 8) as u8)?;
        self.write(Reg::Lcr, config.lcr())?;
        self.write(Reg::IirFcr, config.fcr())?;
        self.write(Reg::Mcr, mcr::DTR | mcr::RTS | mcr::OUT2)?;
        // Stale state from before: line status, a byte, the interrupt
        // identification and the modem status.
        self.read(Reg::Lsr)?;
        self.read(Reg::Data)?;
        self.read(Reg::IirFcr)?;
        self.read(Reg::Msr)?;
        Ok(())
    }

    /// Sets the interrupt enable register (bits of [`ier`]).
    pub fn set_interrupts(&self, enable: u8) -> Result<(), UartError<R::Error>> {
        self.write(Reg::Ier, enable)
    }

    /// The interrupt enable register.
    pub fn interrupts(&self) -> Result<u8, UartError<R::Error>> {
        self.read(Reg::Ier)
    }

    /// The line status register (bits of [`lsr`]); reading it clears the
    /// error bits.
    pub fn line_status(&self) -> Result<u8, UartError<R::Error>> {
        self.read(Reg::Lsr)
    }

    /// The pending interrupt's cause (reading it acknowledges a
    /// transmit-empty interrupt).
    pub fn cause(&self) -> Result<Cause, UartError<R::Error>> {
        Ok(Cause::from_iir(self.read(Reg::IirFcr)?))
    }

    /// Reads the receive buffer without looking at the line status (the
    /// caller saw data ready).
    pub fn read_data(&self) -> Result<u8, UartError<R::Error>> {
        self.read(Reg::Data)
    }

    /// Writes the transmit holding register without looking at the line
    /// status (the caller saw room).
    pub fn write_data(&self, b: u8) -> Result<(), UartError<R::Error>> {
        self.write(Reg::Data, b)
    }

    /// A received byte, if one is ready. A receive error the line status
    /// reports comes first, as [`UartError::Line`] (the byte it concerns,
    /// if any, is the next read).
    pub fn try_read(&self) -> nb::Result<u8, UartError<R::Error>> {
        let s = self.line_status()?;
        if s & lsr::ERRORS != 0 {
            return Err(nb::Error::Other(UartError::Line(LineError(
                s & lsr::ERRORS,
            ))));
        }
        if s & lsr::DATA_READY == 0 {
            return Err(nb::Error::WouldBlock);
        }
        Ok(self.read_data()?)
    }

    /// Sends a byte if the transmit holding register has room.
    pub fn try_write(&self, b: u8) -> nb::Result<(), UartError<R::Error>> {
        if self.line_status()? & lsr::THR_EMPTY == 0 {
            return Err(nb::Error::WouldBlock);
        }
        Ok(self.write_data(b)?)
    }

    /// Waits (polling the line status, at most [`SPIN_LIMIT`] reads) until
    /// the transmit holding register is empty.
    fn wait_thr_empty(&self) -> Result<(), UartError<R::Error>> {
        for _ in 0..SPIN_LIMIT {
            if self.line_status()? & lsr::THR_EMPTY != 0 {
                return Ok(());
            }
        }
        Err(UartError::Stuck)
    }

    /// Sends every byte of `bytes`, polling: waits for an empty FIFO, then
    /// fills it ([`FIFO_DEPTH`] bytes). For consoles and early output; a
    /// program that has more to do than wait uses the interrupt-driven
    /// [`crate::serial`].
    pub fn write_blocking(&self, bytes: &[u8]) -> Result<(), UartError<R::Error>> {
        for chunk in bytes.chunks(FIFO_DEPTH) {
            self.wait_thr_empty()?;
            for &b in chunk {
                self.write_data(b)?;
            }
        }
        Ok(())
    }

    /// Waits (polling) until everything sent has left the transmitter.
    pub fn flush_blocking(&self) -> Result<(), UartError<R::Error>> {
        for _ in 0..SPIN_LIMIT {
            if self.line_status()? & lsr::TX_EMPTY != 0 {
                return Ok(());
            }
        }
        Err(UartError::Stuck)
    }

    /// Clears both FIFOs (keeping the configuration's trigger level).
    pub fn clear_fifos(&self, config: &Config) -> Result<(), UartError<R::Error>> {
        self.write(Reg::IirFcr, config.fcr() | fcr::CLEAR_RX | fcr::CLEAR_TX)
    }
}

impl<R: Registers> From<R> for Uart<R> {
    fn from(regs: R) -> Uart<R> {
        Uart::new(regs)
    }
}

// ---- traits: core::fmt, embedded-io, embedded-hal-nb (polled) ----

impl<R: Registers> fmt::Write for Uart<R> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.write_blocking(s.as_bytes()).map_err(|_| fmt::Error)
    }
}

impl<E: fmt::Debug> embedded_io::Error for UartError<E> {
    fn kind(&self) -> embedded_io::ErrorKind {
        match self {
            UartError::NotPresent => embedded_io::ErrorKind::NotFound,
            UartError::Config(_) => embedded_io::ErrorKind::InvalidInput,
            UartError::Stuck => embedded_io::ErrorKind::TimedOut,
            _ => embedded_io::ErrorKind::Other,
        }
    }
}

impl<E: fmt::Debug> embedded_hal_nb::serial::Error for UartError<E> {
    fn kind(&self) -> embedded_hal_nb::serial::ErrorKind {
        use embedded_hal_nb::serial::ErrorKind;
        match self {
            UartError::Line(l) if l.overrun() => ErrorKind::Overrun,
            UartError::Line(l) if l.parity() => ErrorKind::Parity,
            UartError::Line(l) if l.framing() => ErrorKind::FrameFormat,
            UartError::Line(_) => ErrorKind::Noise,
            _ => ErrorKind::Other,
        }
    }
}

impl<R: Registers> embedded_io::ErrorType for Uart<R> {
    type Error = UartError<R::Error>;
}

/// Polled output: `write` sends the whole buffer, waiting for room.
impl<R: Registers> embedded_io::Write for Uart<R> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.write_blocking(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        self.flush_blocking()
    }
}

impl<R: Registers> embedded_io::ReadReady for Uart<R> {
    fn read_ready(&mut self) -> Result<bool, Self::Error> {
        Ok(self.line_status()? & lsr::DATA_READY != 0)
    }
}

impl<R: Registers> embedded_io::WriteReady for Uart<R> {
    fn write_ready(&mut self) -> Result<bool, Self::Error> {
        Ok(self.line_status()? & lsr::THR_EMPTY != 0)
    }
}

impl<R: Registers> embedded_hal_nb::serial::ErrorType for Uart<R> {
    type Error = UartError<R::Error>;
}

impl<R: Registers> embedded_hal_nb::serial::Read<u8> for Uart<R> {
    fn read(&mut self) -> nb::Result<u8, Self::Error> {
        self.try_read()
    }
}

impl<R: Registers> embedded_hal_nb::serial::Write<u8> for Uart<R> {
    fn write(&mut self, word: u8) -> nb::Result<(), Self::Error> {
        self.try_write(word)
    }
    fn flush(&mut self) -> nb::Result<(), Self::Error> {
        if self.line_status()? & lsr::TX_EMPTY != 0 {
            Ok(())
        } else {
            Err(nb::Error::WouldBlock)
        }
    }
}
