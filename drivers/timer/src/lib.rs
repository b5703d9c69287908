//! Time for seL4 programs.
//!
//! - [`Clock`]: a monotonic clock in nanoseconds from the TSC (read with
//!   `rdtsc`, no system call), its frequency from bootinfo
//!   ([`Clock::from_bootinfo`]: seL4 5.x `archInfo`, 12+ the TSC extra
//!   chunk) or measured against another timer (the PIT driver's
//!   `Pit::measure`).
//! - [`Schedule`]: pending timeouts by deadline, one-shot or periodic (the
//!   service's bookkeeping, tested on the host).
//! - the timer service (target): [`TimerService`] over any
//!   `sel4_device::OneShotTimer`, shared by every thread through
//!   [`Timer`] (timeouts delivered as notifications) and [`Sleeper`]
//!   (sleep, waits with a timeout on a notification or an endpoint,
//!   `embedded_hal::delay::DelayNs`); [`SpinDelay`] delays without it.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod clock;
pub mod schedule;
#[cfg(all(target_os = "none", target_arch = "x86_64"))]
pub mod service;

pub use clock::{Clock, Instant, Source};
pub use schedule::{Expired, Schedule, TimeoutId};
#[cfg(all(target_os = "none", target_arch = "x86_64"))]
pub use service::{
    Recv, Resources, ServiceStats, Sleeper, SpinDelay, Timer, TimerError, TimerService, Wake,
};
