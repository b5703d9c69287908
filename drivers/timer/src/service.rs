//! The timer service: one hardware timer shared by every thread.
//!
//! The state (the [`Schedule`] of pending timeouts and the hardware timer)
//! is behind a kernel-backed lock (`sel4_runtime::sync::Mutex`): a thread
//! that adds a timeout earlier than every pending one programs the timer
//! itself, under the lock. The service's own thread ([`TimerService::run`],
//! at a priority above its users) waits for the timer's interrupt,
//! acknowledges it, takes the timeouts that are due by the clock, arms the
//! timer for the next one and signals the targets (after releasing the
//! lock, so a woken thread of higher priority does not block on it).
//!
//! Deadlines are on the [`Clock`] (the TSC, nanoseconds). The hardware
//! timer only wakes the service; whether a timeout is due is decided by
//! the clock, so an interrupt that comes early (a timer of coarser
//! resolution, a longer timeout armed in steps) just arms the timer again
//! for the rest, and none fires before its deadline.
//!
//! Users:
//! - [`Timer`] (`Clone`, for any thread): one-shot and periodic timeouts
//!   delivered as signals on a notification capability the caller gives
//!   (its badge says which timeout), cancelling them;
//! - [`Sleeper`] (one per thread, with a notification of its own):
//!   [`Sleeper::sleep`], [`Sleeper::wait_with_timeout`] on its
//!   notification, [`Sleeper::recv_with_timeout`] on an endpoint (the
//!   notification bound to the thread), and `embedded_hal::delay::DelayNs`.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::num::NonZeroU64;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use core::time::Duration;

use sel4::{cap_type, Cap};
use sel4_device::{IrqHandler, OneShotTimer};
use sel4_runtime::sync::{LockError, Mutex, MutexGuard};
use sel4_sys::MessageInfo;

use crate::clock::{Clock, Instant};
use crate::schedule::{Expired, Schedule, TimeoutId};

/// A notification capability.
pub type Notification = Cap<cap_type::Notification>;

/// What the timer service can fail with.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimerError {
    /// Programming the hardware timer failed (its driver's error).
    Hardware(String),
    /// Acknowledging the interrupt failed.
    Irq(sel4_device::IrqError),
    /// The service has stopped: nothing will expire any more.
    Stopped,
    /// The lock over the service's state could not be taken.
    Lock(&'static str),
}

impl core::fmt::Display for TimerError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TimerError::Hardware(e) => write!(f, "the hardware timer failed: {e}"),
            TimerError::Irq(e) => write!(f, "the timer's interrupt: {e}"),
            TimerError::Stopped => write!(f, "the timer service has stopped"),
            TimerError::Lock(e) => write!(f, "the timer service's lock: {e}"),
        }
    }
}

/// Counters of the service.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServiceStats {
    /// Interrupts the service handled.
    pub interrupts: u64,
    /// Of those, interrupts after which no timeout was due (an early
    /// wake-up: the timer was armed again for the rest).
    pub early: u64,
    /// Timeouts that expired (signals sent).
    pub expired: u64,
    /// Periods of periodic timeouts that went by unsignalled because the
    /// service woke more than a period late.
    pub missed: u64,
    /// Times the hardware timer was armed.
    pub armed: u64,
}

#[derive(Default)]
struct Counters {
    interrupts: AtomicU64,
    early: AtomicU64,
    expired: AtomicU64,
    missed: AtomicU64,
    armed: AtomicU64,
}

impl Counters {
    fn get(&self) -> ServiceStats {
        ServiceStats {
            interrupts: self.interrupts.load(SeqCst),
            early: self.early.load(SeqCst),
            expired: self.expired.load(SeqCst),
            missed: self.missed.load(SeqCst),
            armed: self.armed.load(SeqCst),
        }
    }
}

struct State<T> {
    timer: T,
    schedule: Schedule<Notification>,
    /// The deadline the hardware is armed for, if any.
    armed: Option<u64>,
}

struct Inner<T> {
    clock: Clock,
    state: Mutex<State<T>>,
    stop: AtomicBool,
    stopped: AtomicBool,
    kick: Notification,
    counters: Counters,
}

fn lock<T>(m: &Mutex<T>) -> Result<MutexGuard<'_, T>, TimerError> {
    match m.lock() {
        Ok(g) => Ok(g),
        // A user thread died while it held the lock (between two plain
        // updates of the schedule): the schedule is still consistent.
        Err(LockError::Poisoned(g)) => {
            m.clear_poison();
            Ok(g)
        }
        Err(LockError::WouldDeadlock) => Err(TimerError::Lock("locked twice by one thread")),
        Err(LockError::NoNotification { .. }) => Err(TimerError::Lock("no notification")),
    }
}

impl<T: OneShotTimer> Inner<T> {
    /// Arms the hardware for the earliest deadline (or disarms it).
    fn rearm(&self, s: &mut State<T>, now: u64) -> Result<(), TimerError> {
        match s.schedule.next_deadline() {
            None => {
                if s.armed.take().is_some() {
                    s.timer
                        .disarm()
                        .map_err(|e| TimerError::Hardware(format!("{e:?}")))?;
                }
            }
            Some(d) => {
                s.timer
                    .arm(d.saturating_sub(now).max(1))
                    .map_err(|e| TimerError::Hardware(format!("{e:?}")))?;
                s.armed = Some(d);
                self.counters.armed.fetch_add(1, SeqCst);
            }
        }
        Ok(())
    }

    fn add(
        &self,
        deadline: u64,
        period: Option<NonZeroU64>,
        target: Notification,
    ) -> Result<TimeoutId, TimerError> {
        if self.stopped.load(SeqCst) {
            return Err(TimerError::Stopped);
        }
        let mut s = lock(&self.state)?;
        let id = s.schedule.add(deadline, period, target);
        // Arm only when this one comes first (the hardware is armed for an
        // earlier deadline otherwise, and the service re-arms after it).
        if s.armed.is_none_or(|a| deadline < a) {
            let now = self.clock.now().as_nanos();
            self.rearm(&mut s, now)?;
        }
        Ok(id)
    }

    fn cancel(&self, id: TimeoutId) -> Result<bool, TimerError> {
        let mut s = lock(&self.state)?;
        let was = s.schedule.cancel(id).is_some();
        if s.schedule.is_empty() && s.armed.is_some() {
            let now = self.clock.now().as_nanos();
            self.rearm(&mut s, now)?;
        }
        Ok(was)
    }

    /// After an interrupt: takes what is due, arms for the next.
    fn expire(&self, fired: &mut Vec<Expired<Notification>>) -> Result<(), TimerError> {
        let mut s = lock(&self.state)?;
        let now = self.clock.now().as_nanos();
        s.armed = None;
        s.schedule.expire(now, fired);
        if s.schedule.is_empty() {
            // Nothing left: disarm the timer that just fired, whatever the
            // bookkeeping says, so that a level-triggered output (the Arm
            // generic timer's stays up while it is enabled and past its
            // count) drops instead of interrupting again at once.
            return s
                .timer
                .disarm()
                .map_err(|e| TimerError::Hardware(format!("{e:?}")));
        }
        self.rearm(&mut s, now)
    }
}

/// What the service needs from the kernel.
///
/// - `irq`: the timer's interrupt handler, bound to `wake` with the badge
///   `irq_badge`;
/// - `wake`: the service thread's notification; `kick`: a capability to it
///   with another badge (for [`Timer::stop`]);
/// - `lock`: a notification for the lock over the service's state.
pub struct Resources {
    /// The timer's interrupt handler.
    pub irq: IrqHandler,
    /// The badge the interrupt arrives with on `wake`.
    pub irq_badge: u64,
    /// The service thread's notification.
    pub wake: Notification,
    /// `wake` with a badge other than `irq_badge`.
    pub kick: Notification,
    /// For the state's lock.
    pub lock: Notification,
}

/// The service's interrupt thread (module documentation).
pub struct TimerService<T> {
    inner: Arc<Inner<T>>,
    irq: IrqHandler,
    irq_badge: u64,
    wake: Notification,
}

impl<T: OneShotTimer + Send + 'static> TimerService<T> {
    /// The service over `timer` (disarmed first), with deadlines on
    /// `clock`; returns its interrupt thread's part and the handle for
    /// users.
    pub fn new(
        mut timer: T,
        clock: Clock,
        res: Resources,
    ) -> Result<(TimerService<T>, Timer), TimerError> {
        timer
            .disarm()
            .map_err(|e| TimerError::Hardware(format!("{e:?}")))?;
        let inner = Arc::new(Inner {
            clock,
            state: Mutex::new(
                res.lock,
                State {
                    timer,
                    schedule: Schedule::new(),
                    armed: None,
                },
            ),
            stop: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            kick: res.kick,
            counters: Counters::default(),
        });
        let timer = Timer {
            engine: inner.clone(),
        };
        Ok((
            TimerService {
                inner,
                irq: res.irq,
                irq_badge: res.irq_badge,
                wake: res.wake,
            },
            timer,
        ))
    }

    /// Serves the interrupt until [`Timer::stop`]; returns the counters.
    /// Run it on a thread of its own, above the threads that use the
    /// timer. When it ends (stopped or failed), every pending timeout is
    /// signalled once, so that no waiter blocks for good; later requests
    /// get [`TimerError::Stopped`].
    pub fn run(self) -> Result<ServiceStats, TimerError> {
        let r = self.serve();
        self.inner.stopped.store(true, SeqCst);
        if let Ok(mut s) = lock(&self.inner.state) {
            let _ = s.timer.disarm();
            s.armed = None;
            let mut all = Vec::new();
            s.schedule.expire(u64::MAX, &mut all);
            let ids: Vec<TimeoutId> = all.iter().map(|e| e.id).collect();
            for id in ids {
                s.schedule.cancel(id);
            }
            drop(s);
            for e in all {
                e.target.signal();
            }
        }
        r.map(|()| self.inner.counters.get())
    }

    fn serve(&self) -> Result<(), TimerError> {
        // Let the first interrupt in.
        self.irq.ack().map_err(TimerError::Irq)?;
        let mut fired = Vec::new();
        loop {
            let badges = self.wake.wait();
            if self.inner.stop.load(SeqCst) {
                return Ok(());
            }
            if badges & self.irq_badge == 0 {
                continue;
            }
            let c = &self.inner.counters;
            c.interrupts.fetch_add(1, SeqCst);
            // The timer's output stays up until it is armed again: the
            // acknowledgement comes first, so the next edge is not lost.
            self.irq.ack().map_err(TimerError::Irq)?;
            self.inner.expire(&mut fired)?;
            if fired.is_empty() {
                c.early.fetch_add(1, SeqCst);
            }
            for e in fired.drain(..) {
                c.expired.fetch_add(1, SeqCst);
                c.missed.fetch_add(e.missed, SeqCst);
                e.target.signal();
            }
        }
    }
}

/// The handle to the service for any thread (`Clone`).
#[derive(Clone)]
pub struct Timer {
    engine: Arc<dyn Engine>,
}

trait Engine: Send + Sync {
    fn clock(&self) -> Clock;
    fn add(
        &self,
        deadline: u64,
        period: Option<NonZeroU64>,
        target: Notification,
    ) -> Result<TimeoutId, TimerError>;
    fn cancel(&self, id: TimeoutId) -> Result<bool, TimerError>;
    fn stop(&self);
    fn stats(&self) -> ServiceStats;
    fn pending(&self) -> usize;
    fn stopped(&self) -> bool;
}

impl<T: OneShotTimer + Send> Engine for Inner<T> {
    fn clock(&self) -> Clock {
        self.clock
    }
    fn add(
        &self,
        deadline: u64,
        period: Option<NonZeroU64>,
        target: Notification,
    ) -> Result<TimeoutId, TimerError> {
        Inner::add(self, deadline, period, target)
    }
    fn cancel(&self, id: TimeoutId) -> Result<bool, TimerError> {
        Inner::cancel(self, id)
    }
    fn stop(&self) {
        self.stop.store(true, SeqCst);
        self.kick.signal();
    }
    fn stats(&self) -> ServiceStats {
        self.counters.get()
    }
    fn pending(&self) -> usize {
        lock(&self.state).map(|s| s.schedule.len()).unwrap_or(0)
    }
    fn stopped(&self) -> bool {
        self.stopped.load(SeqCst)
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Timer {
    /// The clock deadlines are on.
    pub fn clock(&self) -> Clock {
        self.engine.clock()
    }

    /// Now.
    pub fn now(&self) -> Instant {
        self.engine.clock().now()
    }

    /// Signals `target` (a badged notification capability) once, at
    /// `deadline`.
    pub fn oneshot_at(
        &self,
        deadline: Instant,
        target: Notification,
    ) -> Result<TimeoutId, TimerError> {
        self.engine.add(deadline.as_nanos(), None, target)
    }

    /// Signals `target` once, `after` from now.
    pub fn oneshot(&self, after: Duration, target: Notification) -> Result<TimeoutId, TimerError> {
        self.oneshot_at(self.now() + after, target)
    }

    /// Signals `target` every `period` from now (on a fixed grid: a late
    /// wake-up does not shift the later ones), until cancelled. A zero
    /// period is taken as one nanosecond.
    pub fn periodic(
        &self,
        period: Duration,
        target: Notification,
    ) -> Result<TimeoutId, TimerError> {
        let p = NonZeroU64::new(nanos(period)).unwrap_or(NonZeroU64::MIN);
        self.engine.add(
            self.now().as_nanos().saturating_add(p.get()),
            Some(p),
            target,
        )
    }

    /// Cancels a timeout: `true` when it was still pending (it will not
    /// signal any more), `false` when it had expired (a one-shot that
    /// signalled already) or was cancelled before.
    pub fn cancel(&self, id: TimeoutId) -> Result<bool, TimerError> {
        self.engine.cancel(id)
    }

    /// Timeouts pending.
    pub fn pending(&self) -> usize {
        self.engine.pending()
    }

    /// Stops the service (its thread returns from [`TimerService::run`]).
    pub fn stop(&self) {
        self.engine.stop()
    }

    /// Whether the service has stopped.
    pub fn is_stopped(&self) -> bool {
        self.engine.stopped()
    }

    /// The service's counters.
    pub fn stats(&self) -> ServiceStats {
        self.engine.stats()
    }
}

/// How a [`Sleeper::wait_with_timeout`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wake {
    /// The badges of the signals that came (the timeout's own excluded).
    pub badges: u64,
    /// Whether the timeout expired (signals may have come too).
    pub timed_out: bool,
}

/// How a [`Sleeper::recv_with_timeout`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recv {
    /// A message: its info, the sender's badge, the first message words.
    Message(sel4_sys::Received),
    /// Signals on the thread's notification (their badges) before the
    /// deadline.
    Signal(u64),
    /// The deadline came first.
    TimedOut,
}

/// A thread's use of the timer service: sleeping and waiting with a
/// timeout on its own notification. The notification is the thread's
/// alone to wait on (others may signal it, with badges other than
/// `timeout_badge`); a signal that comes during a [`Sleeper::sleep`] is
/// kept and reported by the next wait.
pub struct Sleeper {
    timer: Timer,
    wait: Notification,
    timeout: Notification,
    bit: u64,
    pending: u64,
    spin_ns: u64,
}

/// The message info a receive passes in: every `capsUnwrapped` bit and no
/// capability, which the kernel never delivers with a message; a bound
/// notification's wake-up leaves it as it was.
const WAKE_MARK: MessageInfo = MessageInfo::new(0, MessageInfo::CAPS_UNWRAPPED_MASK, 0, 0);

/// How long before a delay's end [`Sleeper`]'s `DelayNs` stops sleeping and
/// spins on the clock (the service's wake-up latency under QEMU is tens of
/// microseconds; spinning the rest makes delays both short and exact).
pub const DEFAULT_SPIN_NS: u64 = 100_000;

impl Sleeper {
    /// `wait`: the thread's notification (an unbadged capability);
    /// `timeout`: a capability to it with the badge `timeout_badge` (one bit
    /// no other signaller uses), which the service signals.
    pub fn new(
        timer: Timer,
        wait: Notification,
        timeout: Notification,
        timeout_badge: u64,
    ) -> Sleeper {
        Sleeper {
            timer,
            wait,
            timeout,
            bit: timeout_badge,
            pending: 0,
            spin_ns: DEFAULT_SPIN_NS,
        }
    }

    /// The service handle.
    pub fn timer(&self) -> &Timer {
        &self.timer
    }

    /// Sets how long before a `DelayNs` delay's end it spins instead of
    /// sleeping.
    pub fn set_spin_ns(&mut self, ns: u64) {
        self.spin_ns = ns;
    }

    /// Whether a wake-up with `w` is the timeout of `deadline`: its bit,
    /// and the clock past the deadline (a bit without that is a stale one,
    /// from a timeout that expired after an earlier wait ended).
    fn timed_out(&self, w: u64, deadline: Instant) -> bool {
        w & self.bit != 0 && self.timer.now() >= deadline
    }

    /// Waits on the notification until a signal comes or `timeout` has
    /// passed.
    pub fn wait_with_timeout(&mut self, timeout: Duration) -> Result<Wake, TimerError> {
        self.wait_until(self.timer.now() + timeout)
    }

    /// Waits on the notification until a signal comes or `deadline`.
    pub fn wait_until(&mut self, deadline: Instant) -> Result<Wake, TimerError> {
        if self.pending != 0 {
            return Ok(Wake {
                badges: core::mem::take(&mut self.pending),
                timed_out: false,
            });
        }
        let id = self.timer.oneshot_at(deadline, self.timeout)?;
        loop {
            let w = self.wait.wait();
            let badges = w & !self.bit;
            let timed_out = self.timed_out(w, deadline);
            if badges != 0 || timed_out {
                if !timed_out {
                    // If it expired meanwhile, its bit comes later: the
                    // clock tells it apart then.
                    self.timer.cancel(id)?;
                }
                return Ok(Wake { badges, timed_out });
            }
            if self.timer.engine.stopped() {
                // The service signalled every pending timeout as it ended.
                return Err(TimerError::Stopped);
            }
        }
    }

    /// Sleeps for `d`.
    pub fn sleep(&mut self, d: Duration) -> Result<(), TimerError> {
        self.sleep_until(self.timer.now() + d)
    }

    /// Sleeps until `deadline`; signals that come meanwhile are kept for
    /// the next wait.
    pub fn sleep_until(&mut self, deadline: Instant) -> Result<(), TimerError> {
        let kept = core::mem::take(&mut self.pending);
        let mut others = 0;
        while self.timer.now() < deadline {
            let w = self.wait_until(deadline)?;
            others |= w.badges;
            if w.timed_out {
                break;
            }
        }
        self.pending = kept | others;
        Ok(())
    }

    /// Receives on `ep` until a message comes, the thread's notification is
    /// signalled, or `timeout` has passed. The Sleeper's notification must
    /// be bound to the calling thread (`TCB_BindNotification`), which is
    /// how a signal (the timeout's among them) ends a receive.
    pub fn recv_with_timeout(
        &mut self,
        ep: Cap<cap_type::Endpoint>,
        timeout: Duration,
    ) -> Result<Recv, TimerError> {
        if self.pending != 0 {
            return Ok(Recv::Signal(core::mem::take(&mut self.pending)));
        }
        let deadline = self.timer.now() + timeout;
        let id = self.timer.oneshot_at(deadline, self.timeout)?;
        loop {
            let r = sel4_sys::recv_with_info(ep.cptr(), WAKE_MARK);
            if r.info != WAKE_MARK {
                self.timer.cancel(id)?;
                return Ok(Recv::Message(r));
            }
            let w = r.badge;
            let others = w & !self.bit;
            if self.timed_out(w, deadline) {
                if others != 0 {
                    self.pending = others;
                }
                return Ok(Recv::TimedOut);
            }
            if others != 0 {
                self.timer.cancel(id)?;
                return Ok(Recv::Signal(others));
            }
            if self.timer.engine.stopped() {
                return Err(TimerError::Stopped);
            }
        }
    }
}

/// `delay_ns` sleeps through the service until shortly before the end
/// (`set_spin_ns`), then spins on the clock: at least the delay asked, as
/// the trait requires, and close to it. If the service has stopped it
/// spins all the way.
impl embedded_hal::delay::DelayNs for Sleeper {
    fn delay_ns(&mut self, ns: u32) {
        let deadline = self.timer.now() + Duration::from_nanos(u64::from(ns));
        if u64::from(ns) > self.spin_ns {
            let wake = Instant(deadline.as_nanos() - self.spin_ns);
            let _ = self.sleep_until(wake);
        }
        let clock = self.timer.clock();
        while clock.now() < deadline {
            core::hint::spin_loop();
        }
    }
}

/// A delay that only spins on the clock (no service needed; it keeps the
/// CPU for the whole delay).
#[derive(Debug, Clone, Copy)]
pub struct SpinDelay {
    clock: Clock,
}

impl SpinDelay {
    /// Spinning on `clock`.
    pub const fn new(clock: Clock) -> SpinDelay {
        SpinDelay { clock }
    }
}

impl embedded_hal::delay::DelayNs for SpinDelay {
    fn delay_ns(&mut self, ns: u32) {
        let deadline = self.clock.now() + Duration::from_nanos(u64::from(ns));
        while self.clock.now() < deadline {
            core::hint::spin_loop();
        }
    }
}
