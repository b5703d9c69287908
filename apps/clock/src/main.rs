//! clock: the timer service on the PIT (x86_64) or the Arm generic timer's
//! physical timer (aarch64), and the clock it keeps time with (the TSC;
//! the generic timer's virtual count).
//!
//! 1. The TSC's frequency: bootinfo's (the kernel's own measurement at
//!    boot, whole MHz) and one measured against the PIT's crystal.
//! 2. The service: the PIT's channel 0 on IRQ 0 (IOAPIC pin 2), served by a
//!    thread above the others; one-shot and periodic timeouts as signals.
//! 3. Accuracy: sleeps, `DelayNs` delays and one-shot timeouts of 1 us to
//!    1 s, requested against observed (minimum, median, maximum); the ticks
//!    of a periodic timeout; waits with a timeout on a notification and on
//!    an endpoint. These are figures to read, not limits: only "never
//!    early" (an end before the deadline) fails the run.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use embedded_hal::delay::DelayNs;
use sel4::TcbOps;
use sel4_rootserver::objects::Objects;
use sel4_rootserver::sys::{self as sel4_sys, MessageInfo};
use sel4_rootserver::thread::ThreadBuilder;
use sel4_rootserver::{entry, println, BootInfo, Endpoint, Notification};
use sel4_timer::{Clock, Recv, Resources, Sleeper, Timer, TimerService};

entry!(main);

const IRQ_BADGE: u64 = 1;
const KICK_BADGE: u64 = 2;
/// The timeout's badge bit on a sleeper's notification (below the 28 bits
/// seL4 5.x badges have).
const TIMEOUT_BIT: u64 = 1 << 27;
const SERVICE_PRIORITY: u8 = 250;
const MAIN_PRIORITY: u8 = 100;

/// What went wrong.
#[derive(Debug)]
pub struct Error(pub String);

impl<E: core::fmt::Display> From<E> for Error {
    fn from(e: E) -> Error {
        Error(format!("{e}"))
    }
}

type Service =
    sel4_rootserver::thread::JoinHandle<Result<sel4_timer::ServiceStats, sel4_timer::TimerError>>;

/// Binds `irq` and starts the service over `hw` on a thread above main.
fn start<T: sel4_device::OneShotTimer + Send + 'static>(
    objs: &mut Objects,
    hw: T,
    clock: Clock,
    irq: sel4_device::IrqHandler,
) -> Result<(Timer, Service), Error> {
    let wake = objs.create::<Notification>()?;
    let irq_cap = objs.mint(&wake, IRQ_BADGE)?;
    let kick = objs.mint(&wake, KICK_BADGE)?;
    let lock = objs.create::<Notification>()?;
    irq.bind(irq_cap.cap())?;
    let (service, timer) = TimerService::new(
        hw,
        clock,
        Resources {
            irq,
            irq_badge: IRQ_BADGE,
            wake: wake.cap(),
            kick: kick.cap(),
            lock: lock.cap(),
        },
    )?;
    let service = ThreadBuilder::new()
        .priority(SERVICE_PRIORITY)
        .spawn(objs, move || service.run())?;
    Ok((timer, service))
}

/// x86_64: the PIT, the TSC measured against it.
#[cfg(target_arch = "x86_64")]
fn hardware(objs: &mut Objects, bootinfo: &BootInfo) -> Result<(Timer, Service), Error> {
    use sel4_device::{IrqControl, IrqSource};
    use sel4_pit::Pit;
    use sel4_timer::Source;
    let mut irqs = IrqControl::root();

    // The PIT: channels 0 to 2 and the command port, and port 0x61 (the
    // gate and output of channel 2, for the calibration).
    let (first, last) = sel4_pit::PORTS;
    let ports = objs.io_ports(first, last)?;
    let port_b = objs.io_ports(sel4_pit::PORT_B, sel4_pit::PORT_B)?;
    let pit = Pit::new(ports.get(), Some(port_b.get()));

    // 1. The TSC.
    let boot = Clock::from_bootinfo(bootinfo);
    let hz = pit
        .calibrate(23_864, 5, 100_000_000, Clock::ticks)
        .map_err(|e| Error(format!("measuring the TSC against the PIT: {e:?}")))?;
    let clock = Clock::from_hz(hz, Source::Measured).ok_or(Error("measured 0 Hz".into()))?;
    match boot {
        Some(b) => println!(
            "clock: TSC {clock} against the PIT (5 x 20 ms); bootinfo says {b} ({:+} ppm)",
            b.ppm_from(&clock)
        ),
        None => println!("clock: TSC {clock} against the PIT; bootinfo gives none"),
    }

    // 2. The service.
    let irq = objs.irq_handler(&mut irqs, IrqSource::isa(0))?;
    let r = start(objs, pit, clock, irq.get())?;
    println!(
        "clock: timer service on the PIT (IRQ 0, IOAPIC pin 2, vector {}); one programming spans at most {} us",
        irq.vector(),
        sel4_pit::MAX_NS / 1000
    );
    Ok(r)
}

/// aarch64: the generic timer's physical timer (its PPI from the device
/// tree), the virtual count at the kernel configuration's frequency.
#[cfg(target_arch = "aarch64")]
fn hardware(objs: &mut Objects, bootinfo: &BootInfo) -> Result<(Timer, Service), Error> {
    use sel4_arm_generic_timer::{physical_timer_irq, GenericTimer, SysRegs};
    use sel4_device::{IrqControl, OneShotTimer};
    let dtb = bootinfo
        .find_extra_chunk(sel4_bootinfo::ExtraChunkId::Fdt)
        .ok_or(Error("no device tree in extra bootinfo".into()))?;
    let fdt = sel4_fdt::Fdt::new(dtb.data)?;
    let ppi = physical_timer_irq(&fdt)?.ok_or(Error(
        "the device tree has no generic timer (arm,armv8-timer)".into(),
    ))?;
    // 1. The counter.
    let clock = Clock::from_config().ok_or(Error(
        "no counter frequency in the kernel configuration".into(),
    ))?;
    println!("clock: the generic timer's virtual count, {clock}");
    // 2. The service.
    let hw = GenericTimer::new(SysRegs::new()?, clock.hz())?;
    let max_us = hw.max_ns() / 1000;
    let slot = objs.alloc_slot()?;
    let irq = IrqControl::root().get(ppi, sel4::CNodeOps::slot(sel4::init::CNODE, slot.cptr()))?;
    let r = start(objs, hw, clock, irq)?;
    println!(
        "clock: timer service on the generic timer's physical timer (PPI, INTID {ppi}); one programming spans at most {max_us} us"
    );
    Ok(r)
}

fn main(bootinfo: &BootInfo) -> Result<(), Error> {
    let mut objs = Objects::try_from_bootinfo(bootinfo)?;
    let (timer, service) = hardware(&mut objs, bootinfo)?;
    // Below the service from now on (after the first spawn: see
    // apps/serial-echo).
    sel4::init::TCB
        .set_priority(sel4::init::TCB, MAIN_PRIORITY)
        .map_err(|e| Error(format!("lowering the initial thread's priority: {e:?}")))?;

    let mut sleeper = new_sleeper(&mut objs, &timer)?;

    // 3a. Accuracy, 1 us to 1 s.
    println!("clock: accuracy under QEMU (requested -> observed: min / median / max)");
    let mut early = 0u32;
    for (req, n) in [
        (Duration::from_micros(1), 20),
        (Duration::from_micros(10), 20),
        (Duration::from_micros(100), 20),
        (Duration::from_millis(1), 20),
        (Duration::from_millis(10), 10),
        (Duration::from_millis(100), 5),
        (Duration::from_secs(1), 3),
    ] {
        let sleeps = sample(&timer, n, || sleeper.sleep(req).map_err(Error::from))?;
        let delays = sample(&timer, n, || {
            sleeper.delay_ns(u32::try_from(req.as_nanos()).unwrap_or(u32::MAX));
            Ok(())
        })?;
        let (n_cap, t_cap) = badged(&mut objs, 1)?;
        let oneshots = sample(&timer, n, || {
            timer.oneshot(req, t_cap)?;
            n_cap.wait();
            Ok(())
        })?;
        for (what, s) in [
            ("sleep", &sleeps),
            ("DelayNs", &delays),
            ("one-shot", &oneshots),
        ] {
            if s.min < req {
                early += 1;
            }
            println!("clock:   {what:9} {:>9} -> {}", show(req), s.line(req));
        }
    }

    // 3b. Ticks of a periodic timeout.
    let (n_cap, t_cap) = badged(&mut objs, 1)?;
    let period = Duration::from_millis(10);
    let start = timer.now();
    let id = timer.periodic(period, t_cap)?;
    let mut last = start;
    let mut gaps = Vec::new();
    let mut late_max = Duration::ZERO;
    for k in 1..=50u32 {
        n_cap.wait();
        let now = timer.now();
        let due = start + period * k;
        if now < due {
            early += 1;
        }
        late_max = late_max.max(now - due);
        gaps.push(now - last);
        last = now;
    }
    timer.cancel(id)?;
    gaps.sort();
    println!(
        "clock: periodic {}: 50 ticks, intervals min {} / median {} / max {}, at most {} after its deadline",
        show(period),
        show(gaps[0]),
        show(gaps[gaps.len() / 2]),
        show(gaps[gaps.len() - 1]),
        show(late_max)
    );

    // 3c. Waits with a timeout.
    let w = sleeper.wait_with_timeout(Duration::from_millis(20))?;
    println!("clock: wait on a notification nobody signals, 20 ms timeout: {w:?}");
    if !w.timed_out {
        return Err(Error(format!("the wait ended without the timeout: {w:?}")));
    }
    let ep = objs.create::<Endpoint>()?;
    let n = sleeper_ntfn(&mut objs)?;
    let mut ep_sleeper = Sleeper::new(timer.clone(), n.0, n.1, TIMEOUT_BIT);
    sel4::init::TCB
        .bind_notification(n.0)
        .map_err(|e| Error(format!("bind: {e:?}")))?;
    let badged_ep = objs.mint(&ep, 0x42)?;
    let mut helper_sleeper = new_sleeper(&mut objs, &timer)?;
    let to = badged_ep.cptr();
    let sender = ThreadBuilder::new()
        .priority(MAIN_PRIORITY + 1)
        .spawn(&mut objs, move || {
            let _ = helper_sleeper.sleep(Duration::from_millis(5));
            sel4_sys::send_regs(to, MessageInfo::new(7, 0, 0, 1), [99, 0, 0, 0]);
        })?;
    let t0 = timer.now();
    let r = ep_sleeper.recv_with_timeout(ep.cap(), Duration::from_secs(1))?;
    let took = timer.now() - t0;
    match r {
        Recv::Message(m) if m.badge == 0x42 && m.mrs[0] == 99 => println!(
            "clock: receive with a 1 s timeout, a message sent after 5 ms: it came after {}",
            show(took)
        ),
        other => return Err(Error(format!("expected the message, got {other:?}"))),
    }
    sender.join(&mut objs)?;
    let t0 = timer.now();
    let r = ep_sleeper.recv_with_timeout(ep.cap(), Duration::from_millis(30))?;
    let took = timer.now() - t0;
    println!(
        "clock: receive with a 30 ms timeout, nobody sends: {r:?} after {}",
        show(took)
    );
    if r != Recv::TimedOut || took < Duration::from_millis(30) {
        return Err(Error(format!("{r:?} after {took:?}")));
    }
    sel4::init::TCB
        .unbind_notification()
        .map_err(|e| Error(format!("unbind: {e:?}")))?;

    timer.stop();
    let stats = service.join(&mut objs)??;
    println!(
        "clock: service: {} interrupts ({} early, re-armed), {} timeouts expired, {} periods missed, timer armed {} times",
        stats.interrupts, stats.early, stats.expired, stats.missed, stats.armed
    );
    if early > 0 {
        return Err(Error(format!(
            "{early} measurements ended before their deadline"
        )));
    }
    Ok(())
}

type NotificationCap = sel4_sys::Cap<sel4_sys::cap_type::Notification>;

/// A notification and a badged copy (for timeouts).
fn badged(objs: &mut Objects, badge: u64) -> Result<(NotificationCap, NotificationCap), Error> {
    let n = objs.create::<Notification>()?;
    let b = objs.mint(&n, badge)?;
    Ok((n.cap(), b.cap()))
}

fn sleeper_ntfn(objs: &mut Objects) -> Result<(NotificationCap, NotificationCap), Error> {
    badged(objs, TIMEOUT_BIT)
}

fn new_sleeper(objs: &mut Objects, timer: &Timer) -> Result<Sleeper, Error> {
    let (n, t) = sleeper_ntfn(objs)?;
    Ok(Sleeper::new(timer.clone(), n, t, TIMEOUT_BIT))
}

/// Observed durations of `n` runs of `f`.
struct Sample {
    min: Duration,
    median: Duration,
    max: Duration,
}

impl Sample {
    fn line(&self, req: Duration) -> String {
        format!(
            "{} / {} / {}  (median {})",
            show(self.min),
            show(self.median),
            show(self.max),
            over(self.median, req)
        )
    }
}

fn sample(
    timer: &Timer,
    n: usize,
    mut f: impl FnMut() -> Result<(), Error>,
) -> Result<Sample, Error> {
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let t0 = timer.now();
        f()?;
        v.push(timer.now() - t0);
    }
    v.sort();
    Ok(Sample {
        min: v[0],
        median: v[v.len() / 2],
        max: v[v.len() - 1],
    })
}

/// A duration with a unit that fits.
fn show(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns < 10_000 {
        format!("{:.2} us", ns as f64 / 1e3)
    } else if ns < 10_000_000 {
        format!("{:.1} us", ns as f64 / 1e3)
    } else {
        format!("{:.3} ms", ns as f64 / 1e6)
    }
}

/// How far `got` is over `req`.
fn over(got: Duration, req: Duration) -> String {
    if got >= req {
        format!("+{}", show(got - req))
    } else {
        format!("-{} EARLY", show(req - got))
    }
}
