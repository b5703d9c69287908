//! The interrupt-driven serial port.
//!
//! [`serial`] splits a configured UART into three parts:
//! - a [`Worker`], which owns the UART and its interrupt and runs on a
//!   thread of its own, at a priority above the threads that use the port
//!   ([`Worker::run`]). Each time it wakes (the interrupt, or a kick from a
//!   handle) it *services* the UART: received bytes go from the receive
//!   FIFO into the receive ring, buffered output from the transmit ring
//!   into the transmit FIFO (16 bytes per empty FIFO), until the UART has
//!   nothing pending; then it acknowledges the interrupt and looks once
//!   more (a byte that came in between is not left behind);
//! - a [`SerialRx`], which reads from the receive ring and blocks on a
//!   notification the worker signals when bytes arrive;
//! - a [`SerialTx`], which writes into the transmit ring (blocking while
//!   it is full) and kicks the worker.
//!
//! **Nothing is lost at the documented rate.** The receive FIFO holds 16
//! bytes; the worker empties it on every receive interrupt (the trigger
//! level, or a character timeout) into the ring, which holds
//! [`SerialConfig::rx_buffer`] bytes. A reader may be busy for as long as
//! the ring takes to fill: `rx_buffer / bytes_per_second` seconds
//! (`Config::bytes_per_second`: 11,520 bytes/s at 115200 8N1, so 5.7 s
//! for the default 64 KiB). When the ring is full the worker stops taking
//! receive interrupts and the bytes stay in the FIFO: under QEMU the
//! emulated UART then holds the sender back (nothing is lost at any
//! rate); on hardware without flow control the FIFO overruns and
//! [`Stats::overruns`] counts it. The worker takes the interrupt again as
//! soon as the reader has made room.
//!
//! The notifications and the interrupt come in as [`Wiring`]; on seL4 they
//! are `Cap<Notification>`s and an `IrqHandler` (see the guide's chapter
//! "Writing a driver").

use alloc::sync::Arc;
use core::fmt;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};

use embedded_hal_nb::nb;
use sel4_device::{Acknowledge, Signal, Wait};

use crate::config::Config;
use crate::regs::{ier, lsr, Registers};
use crate::ring::{self, Consumer, Producer};
use crate::uart::{Cause, Uart, UartError, FIFO_DEPTH};

/// Sizes of the rings and the line settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SerialConfig {
    /// Line settings.
    pub line: Config,
    /// Bytes the receive ring holds (rounded up to a power of two).
    pub rx_buffer: usize,
    /// Bytes the transmit ring holds (rounded up to a power of two).
    pub tx_buffer: usize,
}

impl Default for SerialConfig {
    fn default() -> SerialConfig {
        SerialConfig {
            line: Config::default(),
            rx_buffer: 64 * 1024,
            tx_buffer: 16 * 1024,
        }
    }
}

impl SerialConfig {
    /// How long a reader may leave the port unread before the receive
    /// ring is full, at the line's rate, in microseconds.
    pub fn rx_headroom_micros(&self) -> Option<u64> {
        let rate = u64::from(self.line.bytes_per_second().ok()?);
        let cap = self.rx_buffer.max(2).next_power_of_two() as u64;
        Some(cap * 1_000_000 / rate.max(1))
    }
}

/// The wake-ups a serial port needs.
///
/// - `irq`: the UART's interrupt handler, bound to the worker's
///   notification with the badge `irq_badge`;
/// - `wake`: the worker's notification (the interrupt and kicks arrive
///   there); `kick`: a capability to the same notification with another
///   badge, which the handles signal;
/// - `rx`: the notification a reader blocks on until bytes arrive; `tx`:
///   the one a writer blocks on until there is room (or the output is
///   out). Each of these two is signalled by the worker and waited on by
///   one handle: a capability that can do both (an unbadged one).
pub struct Wiring<I, W, K, N> {
    /// The interrupt handler.
    pub irq: I,
    /// The badge the interrupt arrives with on `wake`.
    pub irq_badge: u64,
    /// The worker's notification.
    pub wake: W,
    /// Signals the worker's notification (not with `irq_badge`).
    pub kick: K,
    /// Received bytes are ready.
    pub rx: N,
    /// Room in the transmit ring, or the output went out.
    pub tx: N,
}

/// Counters of a serial port (since [`serial`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes received into the ring.
    pub rx_bytes: u64,
    /// Bytes handed to the transmitter.
    pub tx_bytes: u64,
    /// Receive overruns the line status reported (bytes lost in the UART).
    pub overruns: u64,
    /// Parity errors.
    pub parity_errors: u64,
    /// Framing errors.
    pub framing_errors: u64,
    /// Breaks received.
    pub breaks: u64,
    /// Times the receive ring was full and the worker stopped taking
    /// receive interrupts until the reader made room.
    pub rx_pauses: u64,
    /// Times the worker woke (interrupts and kicks).
    pub wakeups: u64,
    /// Of those, with the interrupt's badge.
    pub interrupts: u64,
}

#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    stopped: AtomicBool,
    rx_paused: AtomicBool,
    /// The transmit ring and FIFO are empty (as the worker last saw).
    tx_idle: AtomicBool,
    rx_bytes: AtomicU64,
    tx_bytes: AtomicU64,
    overruns: AtomicU64,
    parity_errors: AtomicU64,
    framing_errors: AtomicU64,
    breaks: AtomicU64,
    rx_pauses: AtomicU64,
    wakeups: AtomicU64,
    interrupts: AtomicU64,
}

impl Shared {
    fn stats(&self) -> Stats {
        Stats {
            rx_bytes: self.rx_bytes.load(SeqCst),
            tx_bytes: self.tx_bytes.load(SeqCst),
            overruns: self.overruns.load(SeqCst),
            parity_errors: self.parity_errors.load(SeqCst),
            framing_errors: self.framing_errors.load(SeqCst),
            breaks: self.breaks.load(SeqCst),
            rx_pauses: self.rx_pauses.load(SeqCst),
            wakeups: self.wakeups.load(SeqCst),
            interrupts: self.interrupts.load(SeqCst),
        }
    }

    fn line_errors(&self, s: u8) {
        if s & lsr::OVERRUN != 0 {
            self.overruns.fetch_add(1, SeqCst);
        }
        if s & lsr::PARITY != 0 {
            self.parity_errors.fetch_add(1, SeqCst);
        }
        if s & lsr::FRAMING != 0 {
            self.framing_errors.fetch_add(1, SeqCst);
        }
        if s & lsr::BREAK != 0 {
            self.breaks.fetch_add(1, SeqCst);
        }
    }
}

/// What the handles of a port can fail with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SerialError {
    /// The worker has stopped (asked to, or its UART or interrupt failed):
    /// nothing more arrives or goes out.
    Stopped,
}

impl fmt::Display for SerialError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SerialError::Stopped => write!(
                f,
                "the serial worker has stopped: nothing more arrives or goes out"
            ),
        }
    }
}

impl embedded_io::Error for SerialError {
    fn kind(&self) -> embedded_io::ErrorKind {
        embedded_io::ErrorKind::BrokenPipe
    }
}

impl embedded_hal_nb::serial::Error for SerialError {
    fn kind(&self) -> embedded_hal_nb::serial::ErrorKind {
        embedded_hal_nb::serial::ErrorKind::Other
    }
}

/// Why the worker stopped other than on request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerError<E, A> {
    /// A register access failed.
    Uart(UartError<E>),
    /// Acknowledging the interrupt failed.
    Ack(A),
}

/// What [`serial`] returns.
pub struct SerialParts<R, I, W, K, N> {
    /// Run it on a thread of its own ([`Worker::run`]).
    pub worker: Worker<R, I, W, N>,
    /// The receiving side.
    pub rx: SerialRx<K, N>,
    /// The sending side.
    pub tx: SerialTx<K, N>,
    /// Stops the worker and reads the counters.
    pub control: Control<K>,
}

/// What [`serial`] returns, or the error of the UART's set-up.
pub type SerialResult<R, I, W, K, N> =
    Result<SerialParts<R, I, W, K, N>, UartError<<R as Registers>::Error>>;

/// Configures `uart` (probe, line settings, FIFOs) with its receive
/// interrupt on, and splits it into the worker and the handles.
pub fn serial<R, I, W, K, N>(
    uart: Uart<R>,
    config: SerialConfig,
    wiring: Wiring<I, W, K, N>,
) -> SerialResult<R, I, W, K, N>
where
    R: Registers,
    I: Acknowledge,
    W: Wait,
    K: Signal + Clone,
    N: Signal + Wait + Clone,
{
    uart.init(&config.line)?;
    uart.set_interrupts(ier::RX_DATA)?;
    let (rx_p, rx_c) = ring::ring(config.rx_buffer);
    let (tx_p, tx_c) = ring::ring(config.tx_buffer);
    let shared = Arc::new(Shared::default());
    shared.tx_idle.store(true, SeqCst);
    Ok(SerialParts {
        worker: Worker {
            uart,
            irq: wiring.irq,
            irq_badge: wiring.irq_badge,
            wake: wiring.wake,
            rx: rx_p,
            tx: tx_c,
            rx_ready: wiring.rx.clone(),
            tx_space: wiring.tx.clone(),
            shared: shared.clone(),
            ier: ier::RX_DATA,
            trigger: config.line.fifo_trigger.bytes(),
        },
        rx: SerialRx {
            ring: rx_c,
            ready: wiring.rx,
            kick: wiring.kick.clone(),
            shared: shared.clone(),
        },
        tx: SerialTx {
            ring: tx_p,
            space: wiring.tx,
            kick: wiring.kick.clone(),
            shared: shared.clone(),
        },
        control: Control {
            kick: wiring.kick,
            shared,
        },
    })
}

/// The part that services the UART (module documentation).
pub struct Worker<R, I, W, N> {
    uart: Uart<R>,
    irq: I,
    irq_badge: u64,
    wake: W,
    rx: Producer,
    tx: Consumer,
    rx_ready: N,
    tx_space: N,
    shared: Arc<Shared>,
    /// The interrupt enable register as last written.
    ier: u8,
    /// Bytes in the receive FIFO when it reports data at the trigger level.
    trigger: usize,
}

/// Rounds of one service pass at most (each round drains the FIFO and
/// refills the transmitter): a UART that keeps reporting work is left for
/// the next wake-up rather than served forever.
const SERVICE_ROUNDS: usize = 64;

impl<R, I, W, N> Worker<R, I, W, N>
where
    R: Registers,
    I: Acknowledge,
    W: Wait,
    N: Signal,
{
    /// Services the UART until asked to stop ([`Control::stop`]); returns
    /// the counters. A failing register access or acknowledgement ends it
    /// with the error. Either way the handles' waiters are woken and get
    /// [`SerialError::Stopped`] from then on.
    pub fn run(mut self) -> Result<Stats, WorkerError<R::Error, I::Error>> {
        let r = self.serve();
        let _ = self.uart.set_interrupts(0);
        self.shared.stopped.store(true, SeqCst);
        self.rx_ready.signal();
        self.tx_space.signal();
        r.map(|()| self.shared.stats())
    }

    fn serve(&mut self) -> Result<(), WorkerError<R::Error, I::Error>> {
        // Let the first interrupt in (acknowledging an unmasked interrupt
        // changes nothing).
        self.irq.ack().map_err(WorkerError::Ack)?;
        while !self.shared.stop.load(SeqCst) {
            let badges = self.wake.wait();
            self.shared.wakeups.fetch_add(1, SeqCst);
            self.service().map_err(WorkerError::Uart)?;
            if badges & self.irq_badge != 0 {
                self.shared.interrupts.fetch_add(1, SeqCst);
                self.irq.ack().map_err(WorkerError::Ack)?;
                // What arrived while the interrupt was masked.
                self.service().map_err(WorkerError::Uart)?;
            }
        }
        Ok(())
    }

    fn set_ier(&mut self, v: u8) -> Result<(), UartError<R::Error>> {
        if v != self.ier {
            self.uart.set_interrupts(v)?;
            self.ier = v;
        }
        Ok(())
    }

    /// One service pass (module documentation): receive, transmit, until
    /// the UART reports nothing pending. When it reports received data at
    /// the trigger level, that many bytes are in the FIFO: they are read
    /// without a line status read each (half the register accesses for
    /// bulk input); the rest byte by byte while the line status says data
    /// is ready.
    pub fn service(&mut self) -> Result<(), UartError<R::Error>> {
        let mut cause = self.uart.cause()?;
        for _ in 0..SERVICE_ROUNDS {
            // Receive.
            if self.shared.rx_paused.load(SeqCst) && self.rx.free() >= self.rx.capacity() / 4 {
                self.shared.rx_paused.store(false, SeqCst);
                self.set_ier(self.ier | ier::RX_DATA)?;
            }
            let mut got = 0u64;
            let paused = self.shared.rx_paused.load(SeqCst);
            if !paused && cause == Cause::RxData {
                for _ in 0..self.trigger.min(self.rx.free()) {
                    let b = self.uart.read_data()?;
                    self.rx.push(b);
                    got += 1;
                }
            }
            let mut s = self.uart.line_status()?;
            self.shared.line_errors(s);
            if !paused {
                while s & lsr::DATA_READY != 0 {
                    if self.rx.is_full() {
                        self.shared.rx_paused.store(true, SeqCst);
                        self.shared.rx_pauses.fetch_add(1, SeqCst);
                        self.set_ier(self.ier & !ier::RX_DATA)?;
                        break;
                    }
                    let b = self.uart.read_data()?;
                    self.rx.push(b);
                    got += 1;
                    s = self.uart.line_status()?;
                    self.shared.line_errors(s);
                }
            }
            if got > 0 {
                self.shared.rx_bytes.fetch_add(got, SeqCst);
                self.rx_ready.signal();
            }
            // Transmit.
            if s & lsr::THR_EMPTY != 0 {
                let n = if self.tx.is_empty() {
                    0
                } else {
                    // Not idle from before the ring is read: a flush that
                    // finds the ring empty then waits for the FIFO too.
                    self.shared.tx_idle.store(false, SeqCst);
                    let mut chunk = [0u8; FIFO_DEPTH];
                    let n = self.tx.pop_slice(&mut chunk);
                    for &b in &chunk[..n] {
                        self.uart.write_data(b)?;
                    }
                    n
                };
                if n > 0 {
                    self.shared.tx_bytes.fetch_add(n as u64, SeqCst);
                    self.set_ier(self.ier | ier::THR_EMPTY)?;
                    self.tx_space.signal();
                } else {
                    self.set_ier(self.ier & !ier::THR_EMPTY)?;
                    if !self.shared.tx_idle.swap(true, SeqCst) {
                        self.tx_space.signal();
                    }
                }
            }
            // Anything still pending? (Reading the identification also
            // acknowledges a transmit-empty interrupt, which the next round
            // answers by refilling.) Nothing: the interrupt line is down,
            // and whatever comes next raises it again.
            cause = self.uart.cause()?;
            match cause {
                Cause::None => return Ok(()),
                Cause::ModemStatus => {
                    self.uart
                        .regs()
                        .read(crate::regs::Reg::Msr)
                        .map_err(UartError::Access)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }
}

/// Stops the worker and reads the counters; `Clone`.
#[derive(Clone)]
pub struct Control<K> {
    kick: K,
    shared: Arc<Shared>,
}

impl<K: Signal> Control<K> {
    /// Asks the worker to stop (it stops at its next wake-up, which this
    /// causes).
    pub fn stop(&self) {
        self.shared.stop.store(true, SeqCst);
        self.kick.signal();
    }

    /// Whether the worker has stopped.
    pub fn is_stopped(&self) -> bool {
        self.shared.stopped.load(SeqCst)
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }
}

/// The receiving side of a serial port.
pub struct SerialRx<K, N> {
    ring: Consumer,
    ready: N,
    kick: K,
    shared: Arc<Shared>,
}

impl<K: Signal, N: Wait> SerialRx<K, N> {
    /// Takes what has arrived, up to `buf.len()` bytes, without waiting;
    /// `Ok(0)` when nothing has.
    pub fn try_read(&mut self, buf: &mut [u8]) -> Result<usize, SerialError> {
        let n = self.ring.pop_slice(buf);
        if n > 0 {
            if self.shared.rx_paused.load(SeqCst) {
                // The worker stopped receiving for want of room: there is
                // some now.
                self.kick.signal();
            }
            return Ok(n);
        }
        if self.shared.stopped.load(SeqCst) && !buf.is_empty() {
            return Err(SerialError::Stopped);
        }
        Ok(0)
    }

    /// Bytes waiting in the ring.
    pub fn available(&self) -> usize {
        self.ring.len()
    }

    /// The ring's size.
    pub fn capacity(&self) -> usize {
        self.ring.capacity()
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// Reads until `buf` is full.
    pub fn read_exact_blocking(&mut self, buf: &mut [u8]) -> Result<(), SerialError> {
        let mut done = 0;
        while done < buf.len() {
            done += embedded_io::Read::read(self, &mut buf[done..])?;
        }
        Ok(())
    }
}

impl<K, N> embedded_io::ErrorType for SerialRx<K, N> {
    type Error = SerialError;
}

/// Blocks until at least one byte has arrived; returns what fits.
impl<K: Signal, N: Wait> embedded_io::Read for SerialRx<K, N> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, SerialError> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let n = self.try_read(buf)?;
            if n > 0 {
                return Ok(n);
            }
            // The worker signals after it filled the ring; a signal between
            // the look above and this wait stays pending.
            self.ready.wait();
        }
    }
}

impl<K: Signal, N: Wait> embedded_io::ReadReady for SerialRx<K, N> {
    fn read_ready(&mut self) -> Result<bool, SerialError> {
        if self.ring.is_empty() && self.shared.stopped.load(SeqCst) {
            return Err(SerialError::Stopped);
        }
        Ok(!self.ring.is_empty())
    }
}

impl<K, N> embedded_hal_nb::serial::ErrorType for SerialRx<K, N> {
    type Error = SerialError;
}

impl<K: Signal, N: Wait> embedded_hal_nb::serial::Read<u8> for SerialRx<K, N> {
    fn read(&mut self) -> nb::Result<u8, SerialError> {
        let mut b = [0u8];
        match self.try_read(&mut b)? {
            0 => Err(nb::Error::WouldBlock),
            _ => Ok(b[0]),
        }
    }
}

/// The sending side of a serial port.
pub struct SerialTx<K, N> {
    ring: Producer,
    space: N,
    kick: K,
    shared: Arc<Shared>,
}

impl<K: Signal, N: Wait> SerialTx<K, N> {
    /// Puts as much of `buf` into the transmit ring as fits, without
    /// waiting; returns how many bytes.
    pub fn try_write(&mut self, buf: &[u8]) -> Result<usize, SerialError> {
        if self.shared.stopped.load(SeqCst) {
            return Err(SerialError::Stopped);
        }
        let n = self.ring.push_slice(buf);
        if n > 0 {
            self.kick.signal();
        }
        Ok(n)
    }

    /// Whether everything written has been handed to the UART and its
    /// transmit FIFO is empty.
    pub fn is_idle(&self) -> bool {
        self.ring.is_empty() && self.shared.tx_idle.load(SeqCst)
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }
}

impl<K, N> embedded_io::ErrorType for SerialTx<K, N> {
    type Error = SerialError;
}

/// `write` blocks while the ring is full; `flush` until the transmit FIFO
/// has sent everything written.
impl<K: Signal, N: Wait> embedded_io::Write for SerialTx<K, N> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, SerialError> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let n = self.try_write(buf)?;
            if n > 0 {
                return Ok(n);
            }
            self.space.wait();
        }
    }

    fn flush(&mut self) -> Result<(), SerialError> {
        loop {
            if self.is_idle() {
                return Ok(());
            }
            if self.shared.stopped.load(SeqCst) {
                return Err(SerialError::Stopped);
            }
            self.kick.signal();
            self.space.wait();
        }
    }
}

impl<K: Signal, N: Wait> embedded_io::WriteReady for SerialTx<K, N> {
    fn write_ready(&mut self) -> Result<bool, SerialError> {
        if self.shared.stopped.load(SeqCst) {
            return Err(SerialError::Stopped);
        }
        Ok(!self.ring.is_full())
    }
}

impl<K: Signal, N: Wait> fmt::Write for SerialTx<K, N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        embedded_io::Write::write_all(self, s.as_bytes()).map_err(|_| fmt::Error)
    }
}

impl<K, N> embedded_hal_nb::serial::ErrorType for SerialTx<K, N> {
    type Error = SerialError;
}

impl<K: Signal, N: Wait> embedded_hal_nb::serial::Write<u8> for SerialTx<K, N> {
    fn write(&mut self, word: u8) -> nb::Result<(), SerialError> {
        match self.try_write(&[word])? {
            0 => Err(nb::Error::WouldBlock),
            _ => Ok(()),
        }
    }
    fn flush(&mut self) -> nb::Result<(), SerialError> {
        if self.is_idle() {
            return Ok(());
        }
        if self.shared.stopped.load(SeqCst) {
            return Err(nb::Error::Other(SerialError::Stopped));
        }
        self.kick.signal();
        Err(nb::Error::WouldBlock)
    }
}
