//! Time for seL4 programs.
//!
//! - [`Clock`]: a monotonic clock in nanoseconds from the architecture's
//!   counter, read without a system call: the TSC on x86_64 (`rdtsc`; its
//!   frequency from bootinfo, [`Clock::from_bootinfo`]: seL4 5.x
//!   `archInfo`, 12+ the TSC extra chunk, or measured against another
//!   timer, the PIT driver's `Pit::measure`), the generic timer's virtual
//!   count on aarch64 and `time` on riscv64 (at the kernel configuration's
//!   `TIMER_FREQUENCY`, [`Clock::from_config`]).
//! - [`Schedule`]: pending timeouts by deadline, one-shot or periodic (the
//!   service's bookkeeping, tested on the host).
//! - the timer service (target): [`TimerService`] over any
//!   `sel4_device::OneShotTimer` (the x86 PIT, the Arm generic timer's
//!   physical timer), shared by every thread through
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
#[cfg(target_os = "none")]
pub mod service;

pub use clock::{Clock, Instant, Source};
pub use schedule::{Expired, Schedule, TimeoutId};
#[cfg(target_os = "none")]
pub use service::{
    Recv, Resources, ServiceStats, Sleeper, SpinDelay, Timer, TimerError, TimerService, Wake,
};
