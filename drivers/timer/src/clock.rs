//! Converting counter ticks (the TSC) to nanoseconds and back, with a
//! multiplier and a shift computed once (one 128-bit multiplication per
//! conversion, no division), and where the counter's frequency comes from.

use core::fmt;
use core::ops::{Add, Sub};
use core::time::Duration;

/// A point in time: nanoseconds on a [`Clock`] (since its counter's zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(pub u64);

impl Instant {
    /// Nanoseconds.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// The time from `earlier` to `self` (zero when `earlier` is later).
    pub const fn since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// `self + d`, saturating.
    pub fn after(self, d: Duration) -> Instant {
        Instant(
            self.0
                .saturating_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
        )
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        self.after(d)
    }
}

impl Sub for Instant {
    type Output = Duration;
    fn sub(self, earlier: Instant) -> Duration {
        self.since(earlier)
    }
}

/// Where a clock's frequency came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Bootinfo's TSC frequency (whole MHz: seL4 5.x `archInfo`, 12+ the
    /// `X86_TSC_FREQ` extra bootinfo chunk).
    Bootinfo,
    /// Measured against another timer (the PIT's crystal).
    Measured,
    /// Given by the program.
    Given,
    /// The kernel configuration's counter frequency (`TIMER_FREQUENCY`).
    Config,
}

/// A counter of known frequency, read as nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    hz: u64,
    mult: u64,
    shift: u32,
    source: Source,
}

impl Clock {
    /// A clock for a counter of `hz` ticks per second; `None` for 0.
    pub const fn from_hz(hz: u64, source: Source) -> Option<Clock> {
        if hz == 0 {
            return None;
        }
        // The largest shift whose multiplier 1e9 * 2^shift / hz fits in 63
        // bits: the finest conversion without overflow.
        let mut shift = 63u32;
        loop {
            let m = (1_000_000_000u128 << shift) / hz as u128;
            if m < (1u128 << 63) || shift == 0 {
                return Some(Clock {
                    hz,
                    mult: m as u64,
                    shift,
                    source,
                });
            }
            shift -= 1;
        }
    }

    /// A clock for a counter of `mhz` MHz.
    pub const fn from_mhz(mhz: u64, source: Source) -> Option<Clock> {
        match mhz.checked_mul(1_000_000) {
            Some(hz) => Clock::from_hz(hz, source),
            None => None,
        }
    }

    /// The TSC as bootinfo gives it (seL4 5.x: `archInfo`; 12+: the
    /// `X86_TSC_FREQ` extra chunk), in whole MHz; `None` when it gives none.
    pub fn from_bootinfo(bi: &sel4_bootinfo::BootInfo<'_>) -> Option<Clock> {
        let mhz = bi
            .tsc_mhz()
            .filter(|&m| m > 0)
            .or_else(|| bi.extra_tsc_mhz().map(u64::from).filter(|&m| m > 0))?;
        Clock::from_mhz(mhz, Source::Bootinfo)
    }

    /// Ticks per second.
    pub const fn hz(&self) -> u64 {
        self.hz
    }

    /// Where the frequency came from.
    pub const fn source(&self) -> Source {
        self.source
    }

    /// Nanoseconds of `ticks` (rounded down).
    pub const fn ticks_to_ns(&self, ticks: u64) -> u64 {
        let ns = ((ticks as u128) * (self.mult as u128)) >> self.shift;
        if ns > u64::MAX as u128 {
            u64::MAX
        } else {
            ns as u64
        }
    }

    /// Ticks for at least `ns` nanoseconds (rounded up).
    pub const fn ns_to_ticks(&self, ns: u64) -> u64 {
        let t = ((ns as u128) * (self.hz as u128)).div_ceil(1_000_000_000);
        if t > u64::MAX as u128 {
            u64::MAX
        } else {
            t as u64
        }
    }

    /// The instant of counter value `ticks`.
    pub const fn instant(&self, ticks: u64) -> Instant {
        Instant(self.ticks_to_ns(ticks))
    }

    /// The difference from `other` in parts per million (how far two
    /// calibrations of one counter disagree).
    pub fn ppm_from(&self, other: &Clock) -> i64 {
        let d = self.hz as i128 - other.hz as i128;
        (d * 1_000_000 / other.hz as i128) as i64
    }
}

impl fmt::Display for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:06} MHz ({:?})",
            self.hz / 1_000_000,
            self.hz % 1_000_000,
            self.source
        )
    }
}

/// Reading the counter: the TSC on x86_64 (the kernel lets user mode run
/// `rdtsc`), the generic timer's virtual count on aarch64 (`cntvct_el0`,
/// with `KernelArmExportVCNTUser`), `time` on riscv64; no system call.
#[cfg(target_os = "none")]
impl Clock {
    /// The counter now.
    pub fn ticks() -> u64 {
        sel4_sys::arch::read_counter()
    }

    /// Now, on this clock.
    pub fn now(&self) -> Instant {
        self.instant(Clock::ticks())
    }

    /// The counter at the kernel configuration's rate (aarch64 and
    /// riscv64: `TIMER_FREQUENCY`); `None` where the configuration gives
    /// none (x86_64: use [`Clock::from_bootinfo`] or a measurement) or the
    /// kernel keeps the counter from user mode.
    pub fn from_config() -> Option<Clock> {
        sel4_sys::arch::COUNTER_HZ.and_then(|hz| Clock::from_hz(hz, Source::Config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;

    #[test]
    fn conversions_at_common_rates() {
        for hz in [
            1u64,
            1_193_182,
            100_000_000,
            2_527_000_000,
            3_999_999_999,
            u64::MAX,
        ] {
            let c = Clock::from_hz(hz, Source::Given).unwrap();
            // one second of ticks is one second, to within a nanosecond
            // (the multiplier is rounded down)
            if hz >= 1000 {
                let s = c.ticks_to_ns(hz);
                assert!((999_999_999..=1_000_000_000).contains(&s), "{hz}: {s}");
            }
            // ns -> ticks -> ns never comes out short
            for ns in [1u64, 999, 1_000_000, 1_000_000_000, 3_600_000_000_000] {
                let t = c.ns_to_ticks(ns);
                assert!(
                    t == u64::MAX || (t as u128) * 1_000_000_000 >= (ns as u128) * hz as u128,
                    "{hz} Hz, {ns} ns: {t} ticks"
                );
            }
        }
        assert!(Clock::from_hz(0, Source::Given).is_none());
    }

    #[test]
    fn an_hour_at_2527_mhz_is_exact_to_a_microsecond() {
        let c = Clock::from_mhz(2527, Source::Bootinfo).unwrap();
        let hour = 2_527_000_000u64 * 3600;
        let ns = c.ticks_to_ns(hour);
        assert!(ns.abs_diff(3_600_000_000_000) < 1000, "{ns}");
    }

    #[test]
    fn large_counts_do_not_overflow() {
        let c = Clock::from_mhz(3000, Source::Given).unwrap();
        // 2^64 ticks at 3 GHz: 195 years
        let ns = c.ticks_to_ns(u64::MAX);
        let exact = ((u64::MAX as u128) * 1_000_000_000 / 3_000_000_000) as u64;
        assert!(
            exact - ns < 10,
            "{ns} vs {exact}: the multiplier rounds down"
        );
        assert_eq!(c.ns_to_ticks(u64::MAX), u64::MAX);
    }

    #[test]
    fn ppm_between_calibrations() {
        let boot = Clock::from_mhz(2527, Source::Bootinfo).unwrap();
        let measured = Clock::from_hz(2_527_253_000, Source::Measured).unwrap();
        assert_eq!(measured.ppm_from(&boot), 100);
        assert_eq!(format!("{measured}"), "2527.253000 MHz (Measured)");
    }

    #[test]
    fn instants() {
        let a = Instant(1_000);
        let b = a + Duration::from_micros(2);
        assert_eq!(b, Instant(3_000));
        assert_eq!(b - a, Duration::from_nanos(2_000));
        assert_eq!(a - b, Duration::ZERO);
        assert_eq!(
            Instant(u64::MAX - 1).after(Duration::from_secs(1)),
            Instant(u64::MAX)
        );
    }
}
