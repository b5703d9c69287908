//! What a timer service needs from timer hardware: [`OneShotTimer`], a
//! timer that raises its interrupt once after a delay. The PIT driver
//! implements it; an HPET comparator or the local APIC timer would too.

/// A timer that raises its interrupt once, after a delay.
pub trait OneShotTimer {
    /// What programming the timer can fail with.
    type Error: core::fmt::Debug;
    /// The longest delay one arming covers, in nanoseconds: a longer
    /// timeout is armed again for the rest when this one fires.
    fn max_ns(&self) -> u64;
    /// The timer's resolution (one tick), in nanoseconds.
    fn resolution_ns(&self) -> u64;
    /// Arms the timer: its interrupt comes once, at least `ns` nanoseconds
    /// from now (at most [`OneShotTimer::max_ns`]: more is clamped).
    /// Returns the delay armed (rounded up to ticks, or clamped).
    fn arm(&mut self, ns: u64) -> Result<u64, Self::Error>;
    /// Disarms the timer: no interrupt comes.
    fn disarm(&mut self) -> Result<(), Self::Error>;
}
