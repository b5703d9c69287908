//! Baud rate and line settings.

use core::fmt;

/// The input clock of a PC UART divided by 16: the baud rate at divisor 1.
pub const PC_BASE_BAUD: u32 = 115_200;

/// Largest deviation from the asked baud rate that is still accepted, in
/// parts per thousand (the usual tolerance of asynchronous serial lines is
/// a few per cent end to end).
pub const MAX_BAUD_ERROR_PERMILLE: u32 = 20;

/// Data bits per character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataBits {
    /// 5 bits.
    Five,
    /// 6 bits.
    Six,
    /// 7 bits.
    Seven,
    /// 8 bits.
    Eight,
}

/// Parity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parity {
    /// None.
    None,
    /// Odd.
    Odd,
    /// Even.
    Even,
    /// Always 1.
    Mark,
    /// Always 0.
    Space,
}

/// Stop bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopBits {
    /// One stop bit.
    One,
    /// Two stop bits (1.5 with five data bits).
    Two,
}

/// Received bytes in the FIFO that raise the receive interrupt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FifoTrigger {
    /// 1 byte: the lowest latency, an interrupt per byte.
    One,
    /// 4 bytes.
    Four,
    /// 8 bytes.
    Eight,
    /// 14 bytes: the fewest interrupts; a character timeout reports fewer.
    Fourteen,
}

impl FifoTrigger {
    /// Bytes in the FIFO at this level.
    pub const fn bytes(self) -> usize {
        match self {
            FifoTrigger::One => 1,
            FifoTrigger::Four => 4,
            FifoTrigger::Eight => 8,
            FifoTrigger::Fourteen => 14,
        }
    }

    const fn bits(self) -> u8 {
        match self {
            FifoTrigger::One => 0b00,
            FifoTrigger::Four => 0b01,
            FifoTrigger::Eight => 0b10,
            FifoTrigger::Fourteen => 0b11,
        }
    }
}

/// Line settings: `Config::default()` is 115200 baud, 8 data bits, no
/// parity, one stop bit (8N1), FIFOs on with an 8-byte trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Baud rate.
    pub baud: u32,
    /// Data bits.
    pub data_bits: DataBits,
    /// Parity.
    pub parity: Parity,
    /// Stop bits.
    pub stop_bits: StopBits,
    /// Receive FIFO trigger level.
    pub fifo_trigger: FifoTrigger,
    /// The baud rate at divisor 1 (the UART's clock / 16).
    pub base_baud: u32,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            baud: 115_200,
            data_bits: DataBits::Eight,
            parity: Parity::None,
            stop_bits: StopBits::One,
            fifo_trigger: FifoTrigger::Eight,
            base_baud: PC_BASE_BAUD,
        }
    }
}

/// Why a configuration was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigError {
    /// No divisor gives this rate within [`MAX_BAUD_ERROR_PERMILLE`].
    UnsupportedBaud {
        /// The rate asked for.
        baud: u32,
        /// The closest rate the UART can do.
        nearest: u32,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ConfigError::UnsupportedBaud { baud, nearest } => write!(
                f,
                "{baud} baud is not reachable with this UART's clock (nearest: {nearest} baud): \
                 choose a rate that divides its base rate"
            ),
        }
    }
}

impl Config {
    /// 8N1 at `baud`.
    pub fn baud(baud: u32) -> Config {
        Config {
            baud,
            ..Config::default()
        }
    }

    /// The divisor latch value for the baud rate: the nearest divisor,
    /// refused when it misses by more than [`MAX_BAUD_ERROR_PERMILLE`].
    pub fn divisor(&self) -> Result<u16, ConfigError> {
        let base = u64::from(self.base_baud);
        let baud = u64::from(self.baud);
        let refuse = |nearest: u64| ConfigError::UnsupportedBaud {
            baud: self.baud,
            nearest: u32::try_from(nearest).unwrap_or(u32::MAX),
        };
        if baud == 0 || base == 0 {
            return Err(refuse(base));
        }
        // Nearest integer divisor, at least 1 and at most 0xffff.
        let d = ((base + baud / 2) / baud).clamp(1, 0xffff);
        // |base / d - baud| <= baud * permille / 1000, in integers.
        let off = base.abs_diff(baud * d);
        if off * 1000 > baud * d * u64::from(MAX_BAUD_ERROR_PERMILLE) {
            return Err(refuse((base + d / 2) / d));
        }
        Ok(d as u16)
    }

    /// The baud rate the divisor gives.
    pub fn actual_baud(&self) -> Result<u32, ConfigError> {
        Ok(self.base_baud / u32::from(self.divisor()?))
    }

    /// The line control register for these settings (DLAB clear).
    pub const fn lcr(&self) -> u8 {
        let data = match self.data_bits {
            DataBits::Five => 0b00,
            DataBits::Six => 0b01,
            DataBits::Seven => 0b10,
            DataBits::Eight => 0b11,
        };
        let stop = match self.stop_bits {
            StopBits::One => 0,
            StopBits::Two => 1 << 2,
        };
        let parity = match self.parity {
            Parity::None => 0,
            Parity::Odd => 0b001 << 3,
            Parity::Even => 0b011 << 3,
            Parity::Mark => 0b101 << 3,
            Parity::Space => 0b111 << 3,
        };
        data | stop | parity
    }

    /// The FIFO control register for these settings (FIFOs on, both
    /// cleared, the trigger level).
    pub const fn fcr(&self) -> u8 {
        crate::regs::fcr::ENABLE
            | crate::regs::fcr::CLEAR_RX
            | crate::regs::fcr::CLEAR_TX
            | (self.fifo_trigger.bits() << 6)
    }

    /// Bits on the wire per character (start, data, parity, stop).
    pub const fn frame_bits(&self) -> u32 {
        let data = match self.data_bits {
            DataBits::Five => 5,
            DataBits::Six => 6,
            DataBits::Seven => 7,
            DataBits::Eight => 8,
        };
        let parity = match self.parity {
            Parity::None => 0,
            _ => 1,
        };
        let stop = match self.stop_bits {
            StopBits::One => 1,
            StopBits::Two => 2,
        };
        1 + data + parity + stop
    }

    /// Characters per second the line carries at this configuration.
    pub fn bytes_per_second(&self) -> Result<u32, ConfigError> {
        Ok(self.actual_baud()? / self.frame_bits())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn divisors_of_the_pc_rates() {
        for (baud, d) in [
            (115_200, 1),
            (57_600, 2),
            (38_400, 3),
            (19_200, 6),
            (9_600, 12),
            (2_400, 48),
            (300, 384),
            (50, 2304),
        ] {
            assert_eq!(Config::baud(baud).divisor(), Ok(d), "{baud}");
            assert_eq!(Config::baud(baud).actual_baud(), Ok(baud));
        }
    }

    #[test]
    fn rates_within_tolerance_round_to_the_nearest_divisor() {
        // 14400: 115200 / 8 exactly; 56000: divisor 2 gives 57600 (2.9 %
        // off: refused); 110: divisor 1047 gives 110.03 (fine).
        assert_eq!(Config::baud(14_400).divisor(), Ok(8));
        assert_eq!(
            Config::baud(56_000).divisor(),
            Err(ConfigError::UnsupportedBaud {
                baud: 56_000,
                nearest: 57_600
            })
        );
        assert_eq!(Config::baud(110).divisor(), Ok(1047));
    }

    #[test]
    fn impossible_rates_are_refused() {
        assert!(Config::baud(0).divisor().is_err());
        assert!(
            Config::baud(230_400).divisor().is_err(),
            "above the base rate"
        );
        assert!(Config::baud(1).divisor().is_err(), "below divisor 0xffff");
        let fast = Config {
            base_baud: 3_000_000,
            ..Config::baud(1_500_000)
        };
        assert_eq!(fast.divisor(), Ok(2));
    }

    #[test]
    fn line_control_bits() {
        assert_eq!(Config::default().lcr(), 0b0000_0011, "8N1");
        let c = Config {
            data_bits: DataBits::Seven,
            parity: Parity::Even,
            stop_bits: StopBits::Two,
            ..Config::default()
        };
        assert_eq!(c.lcr(), 0b0001_1110, "7E2");
        let c = Config {
            data_bits: DataBits::Five,
            parity: Parity::Space,
            ..Config::default()
        };
        assert_eq!(c.lcr(), 0b0011_1000, "5S1");
        assert_eq!(c.frame_bits(), 8);
    }

    #[test]
    fn fifo_control_bits() {
        assert_eq!(Config::default().fcr(), 0b1000_0111);
        let c = Config {
            fifo_trigger: FifoTrigger::Fourteen,
            ..Config::default()
        };
        assert_eq!(c.fcr(), 0b1100_0111);
    }

    #[test]
    fn line_rate() {
        assert_eq!(Config::default().bytes_per_second(), Ok(11_520));
    }
}
