//! The 8254 programmable interval timer of PCs (and QEMU's q35): three
//! 16-bit counters clocked at [`PIT_HZ`] (1.193182 MHz).
//!
//! - Channel 0 drives IRQ 0 (IOAPIC pin 2 on q35 and most PCs): [`Pit`]
//!   programs it as a one-shot ([`Pit::oneshot`], mode 0: the output rises
//!   once, when the count runs out) or a periodic timer ([`Pit::periodic`],
//!   mode 2, the rate generator), and stops it ([`Pit::stop`]).
//! - Channel 2 is gated by bit 0 of port 0x61 and its output is readable
//!   at bit 5 of the same port: [`Pit::measure`] counts a stretch of PIT
//!   time against any other counter (the TSC), which calibrates it.
//!
//! One programming spans at most 65536 PIT ticks (54.9 ms); longer
//! timeouts are chains of them: `Pit` implements
//! `sel4_device::OneShotTimer`, whose users re-arm for the rest. The ports (0x40..=0x43, and 0x61 for channel 2) come in
//! through `sel4_device::PortIo`; nothing here calls the kernel.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(test)]
extern crate std;

use sel4_device::{OneShotTimer, PortIo};

/// The PIT's input clock, in Hz.
pub const PIT_HZ: u64 = 1_193_182;

/// Channel 0's data port.
pub const CHANNEL0: u16 = 0x40;
/// Channel 2's data port.
pub const CHANNEL2: u16 = 0x42;
/// The mode/command port.
pub const COMMAND: u16 = 0x43;
/// The ports of channels 0 to 2 and the command port.
pub const PORTS: (u16, u16) = (0x40, 0x43);
/// System control port B: channel 2's gate (bit 0), the speaker (bit 1),
/// channel 2's output (bit 5).
pub const PORT_B: u16 = 0x61;

/// The longest count: 65536 (written as 0).
pub const MAX_TICKS: u32 = 0x1_0000;

/// Command bytes (channel, access lobyte/hibyte, mode, binary).
pub mod command {
    // Bits: channel (7..6), access (5..4: 11 = low byte then high byte),
    // mode (3..1), BCD (0).
    /// Channel 0, lobyte/hibyte, mode 0 (interrupt on terminal count).
    pub const CH0_ONESHOT: u8 = 0x30;
    /// Channel 0, lobyte/hibyte, mode 2 (rate generator).
    pub const CH0_PERIODIC: u8 = 0x34;
    /// Channel 2, lobyte/hibyte, mode 0.
    pub const CH2_ONESHOT: u8 = 0xb0;
    /// Latch channel 0's count.
    pub const CH0_LATCH: u8 = 0x00;
}

/// PIT ticks for at least `ns` nanoseconds (rounded up), at least 1;
/// `None` beyond [`MAX_TICKS`].
pub const fn ticks_for_ns(ns: u64) -> Option<u32> {
    // ceil(ns * PIT_HZ / 1e9), in 128 bits (no overflow for any u64).
    let t = ((ns as u128) * (PIT_HZ as u128)).div_ceil(1_000_000_000);
    if t > MAX_TICKS as u128 {
        None
    } else if t == 0 {
        Some(1)
    } else {
        Some(t as u32)
    }
}

/// Nanoseconds of `ticks` PIT ticks (rounded down).
pub const fn ns_for_ticks(ticks: u64) -> u64 {
    ((ticks as u128) * 1_000_000_000 / PIT_HZ as u128) as u64
}

/// The longest one programming lasts, in nanoseconds (54.9 ms).
pub const MAX_NS: u64 = ns_for_ticks(MAX_TICKS as u64);

/// The count register value for `ticks` (65536 is written as 0).
const fn count_value(ticks: u32) -> u16 {
    if ticks >= MAX_TICKS {
        0
    } else {
        ticks as u16
    }
}

/// Why a programming was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PitError<E> {
    /// A port access failed.
    Port(E),
    /// A count of 0 or above [`MAX_TICKS`].
    BadCount(u32),
    /// Channel 2's output did not rise within the given number of polls
    /// (no PIT, or the gate port is not wired to it).
    NoOutput,
}

/// The PIT behind `ports` (0x40..=0x43) and optionally `port_b` (0x61,
/// for [`Pit::measure`]).
#[derive(Debug, Clone, Copy)]
pub struct Pit<P, B = P> {
    ports: P,
    port_b: Option<B>,
}

impl<P: PortIo, B: PortIo<Error = P::Error>> Pit<P, B> {
    /// The PIT; channel 2 needs `port_b`.
    pub const fn new(ports: P, port_b: Option<B>) -> Pit<P, B> {
        Pit { ports, port_b }
    }

    fn out(&self, port: u16, v: u8) -> Result<(), PitError<P::Error>> {
        self.ports.out8(port, v).map_err(PitError::Port)
    }

    fn load(&self, cmd: u8, data: u16, ticks: u32) -> Result<(), PitError<P::Error>> {
        if ticks == 0 || ticks > MAX_TICKS {
            return Err(PitError::BadCount(ticks));
        }
        let c = count_value(ticks);
        self.out(COMMAND, cmd)?;
        self.out(data, c as u8)?;
        self.out(data, (c >> 8) as u8)
    }

    /// Channel 0 raises its output (IRQ 0) once, `ticks` PIT ticks from
    /// now (1..=[`MAX_TICKS`]).
    pub fn oneshot(&self, ticks: u32) -> Result<(), PitError<P::Error>> {
        self.load(command::CH0_ONESHOT, CHANNEL0, ticks)
    }

    /// Channel 0 pulses its output (IRQ 0) every `ticks` PIT ticks
    /// (2..=[`MAX_TICKS`]; a rate generator cannot divide by 1).
    pub fn periodic(&self, ticks: u32) -> Result<(), PitError<P::Error>> {
        if ticks < 2 {
            return Err(PitError::BadCount(ticks));
        }
        self.load(command::CH0_PERIODIC, CHANNEL0, ticks)
    }

    /// Stops channel 0: mode 0 without a count holds its output low, so no
    /// interrupt comes.
    pub fn stop(&self) -> Result<(), PitError<P::Error>> {
        self.out(COMMAND, command::CH0_ONESHOT)
    }

    /// Channel 0's current count (latched, then low and high byte).
    pub fn count(&self) -> Result<u16, PitError<P::Error>> {
        self.out(COMMAND, command::CH0_LATCH)?;
        let lo = self.ports.in8(CHANNEL0).map_err(PitError::Port)?;
        let hi = self.ports.in8(CHANNEL0).map_err(PitError::Port)?;
        Ok(u16::from(lo) | (u16::from(hi) << 8))
    }

    /// Runs channel 2 for `ticks` PIT ticks and returns how far `counter`
    /// advanced meanwhile (read once after the start and once when the
    /// output rose), polling the output at most `max_polls` times. The
    /// speaker stays off. `counter` is the TSC for a calibration: its
    /// frequency is `advance * PIT_HZ / ticks` (see [`rate_hz`]).
    pub fn measure(
        &self,
        ticks: u32,
        max_polls: u64,
        mut counter: impl FnMut() -> u64,
    ) -> Result<u64, PitError<P::Error>> {
        let b = self.port_b.as_ref().ok_or(PitError::NoOutput)?;
        if ticks == 0 || ticks > MAX_TICKS {
            return Err(PitError::BadCount(ticks));
        }
        // Gate low (stops channel 2), speaker off.
        let v = b.in8(PORT_B).map_err(PitError::Port)?;
        b.out8(PORT_B, v & !0b11).map_err(PitError::Port)?;
        self.load(command::CH2_ONESHOT, CHANNEL2, ticks)?;
        // Gate high: the count starts.
        b.out8(PORT_B, (v & !0b10) | 0b01).map_err(PitError::Port)?;
        let start = counter();
        for _ in 0..max_polls {
            if b.in8(PORT_B).map_err(PitError::Port)? & 0x20 != 0 {
                let end = counter();
                b.out8(PORT_B, v & !0b11).map_err(PitError::Port)?;
                return Ok(end.wrapping_sub(start));
            }
        }
        b.out8(PORT_B, v & !0b11).map_err(PitError::Port)?;
        Err(PitError::NoOutput)
    }
}

impl<P: PortIo, B: PortIo<Error = P::Error>> Pit<P, B> {
    /// Measures `counter`'s rate against the PIT's crystal: `rounds` runs
    /// of [`Pit::measure`] over `ticks` PIT ticks each; the smallest
    /// advance (the run least delayed by the polling) gives the rate in Hz.
    pub fn calibrate(
        &self,
        ticks: u32,
        rounds: u32,
        max_polls: u64,
        mut counter: impl FnMut() -> u64,
    ) -> Result<u64, PitError<P::Error>> {
        let mut best = u64::MAX;
        for _ in 0..rounds.max(1) {
            best = best.min(self.measure(ticks, max_polls, &mut counter)?);
        }
        Ok(rate_hz(best, ticks))
    }
}

/// The rate of a counter that advanced `advance` while the PIT counted
/// `ticks`: `advance * PIT_HZ / ticks`, rounded to the nearest Hz.
pub const fn rate_hz(advance: u64, ticks: u32) -> u64 {
    if ticks == 0 {
        return 0;
    }
    (((advance as u128) * (PIT_HZ as u128) + ticks as u128 / 2) / ticks as u128) as u64
}

/// One step of a timeout on the PIT: how many ticks to program for a
/// timeout `remaining_ns` away (at most [`MAX_TICKS`]: a longer one is
/// re-armed for the rest when this one fires).
pub const fn step_ticks(remaining_ns: u64) -> u32 {
    match ticks_for_ns(remaining_ns) {
        Some(t) => t,
        None => MAX_TICKS,
    }
}

impl<P: PortIo, B: PortIo<Error = P::Error>> OneShotTimer for Pit<P, B> {
    type Error = PitError<P::Error>;

    fn max_ns(&self) -> u64 {
        MAX_NS
    }

    fn resolution_ns(&self) -> u64 {
        ns_for_ticks(1)
    }

    fn arm(&mut self, ns: u64) -> Result<u64, Self::Error> {
        let t = step_ticks(ns);
        self.oneshot(t)?;
        Ok(ns_for_ticks(u64::from(t)))
    }

    fn disarm(&mut self) -> Result<(), Self::Error> {
        self.stop()
    }
}

#[cfg(test)]
mod tests;
