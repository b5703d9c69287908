//! serial-echo: the second serial port (COM2) through the interrupt-driven
//! 16550 driver. Every byte that arrives goes back out. Two commands, each
//! on a line of its own (and echoed like the rest):
//! - `busy <ms>`: stop reading for `<ms>` milliseconds (spinning, as a busy
//!   program would); input keeps arriving meanwhile and the driver's worker
//!   keeps taking it into the receive ring;
//! - `quit`: flush, print the figures, end (passing).
//!
//! The runner attaches COM2 to a socket and feeds it:
//! `sel4-run --serial2-input=F --serial2-expect=F --serial2-after=COM2-ready
//! build/images/serial-echo` (the output must equal the input). By hand:
//! `build/images/serial-echo/simulate -serial pty` (QEMU names the pty to
//! open, e.g. with `screen`).
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use embedded_hal::delay::DelayNs;
use embedded_io::{Read, Write};
use sel4::TcbOps;
use sel4_device::{IrqControl, IrqSource};
use sel4_rootserver::objects::Objects;
use sel4_rootserver::thread::ThreadBuilder;
use sel4_rootserver::{entry, println, BootInfo, Notification};
use sel4_timer::{Clock, SpinDelay};
use sel4_uart_16550::{pc, serial, PortRegisters, SerialConfig, Uart, Wiring, FIFO_DEPTH};

entry!(main);

/// The badges on the worker's notification.
const IRQ_BADGE: u64 = 1;
const KICK_BADGE: u64 = 2;

/// The worker above the initial thread: a busy main thread must not keep
/// it from the UART.
const WORKER_PRIORITY: u8 = 200;
const MAIN_PRIORITY: u8 = 100;

/// What went wrong.
#[derive(Debug)]
pub struct Error(pub String);

impl<E: core::fmt::Display> From<E> for Error {
    fn from(e: E) -> Error {
        Error(format!("{e}"))
    }
}

fn main(bootinfo: &BootInfo) -> Result<(), Error> {
    let clock = Clock::from_bootinfo(bootinfo)
        .ok_or_else(|| Error("bootinfo gives no TSC frequency".into()))?;
    let mut objs = Objects::try_from_bootinfo(bootinfo)?;
    let mut irqs = IrqControl::root();

    // The resources: COM2's eight ports, its interrupt (ISA IRQ 3), the
    // worker's notification (the interrupt and kicks from the handles,
    // told apart by badge), one notification per direction.
    let (base, isa_irq) = pc::COM2;
    let ports = objs.io_ports(base, base + pc::PORTS - 1)?;
    let irq = objs.irq_handler(&mut irqs, IrqSource::isa(isa_irq))?;
    let wake = objs.create::<Notification>()?;
    let irq_cap = objs.mint(&wake, IRQ_BADGE)?;
    let kick = objs.mint(&wake, KICK_BADGE)?;
    irq.bind(irq_cap.cap())?;
    let rx_ready = objs.create::<Notification>()?;
    let tx_space = objs.create::<Notification>()?;

    let config = SerialConfig::default();
    let uart = Uart::new(PortRegisters::new(ports.get(), base));
    let parts = serial(
        uart,
        config,
        Wiring {
            irq: irq.get(),
            irq_badge: IRQ_BADGE,
            wake: wake.cap(),
            kick: kick.cap(),
            rx: rx_ready.cap(),
            tx: tx_space.cap(),
        },
    )
    .map_err(|e| Error(format!("COM2 at {base:#x}: {e}")))?;
    let worker = parts.worker;
    let worker = ThreadBuilder::new()
        .priority(WORKER_PRIORITY)
        .spawn(&mut objs, move || worker.run())?;
    let (mut rx, mut tx, control) = (parts.rx, parts.tx, parts.control);
    // Below the worker from now on. (After the first spawn: on seL4 5.x
    // the framework tells the kernel the initial thread's TLS base then,
    // and a reschedule before that would reload it as 0.)
    sel4::init::TCB
        .set_priority(sel4::init::TCB, MAIN_PRIORITY)
        .map_err(|e| Error(format!("lowering the initial thread's priority: {e:?}")))?;

    println!(
        "serial-echo: COM2-ready (ports {base:#x}..={:#x}, IRQ {isa_irq}, {} baud 8N1; receive \
         ring {} KiB: a reader may be busy {} ms at the line rate before it is full)",
        base + pc::PORTS - 1,
        config.line.baud,
        rx.capacity() / 1024,
        config.rx_headroom_micros().unwrap_or(0) / 1000
    );

    let mut buf = [0u8; 4096];
    let mut line: Vec<u8> = Vec::new();
    let mut total = 0u64;
    let mut first = None;
    let mut busy_checks = 0u32;
    'echo: loop {
        let n = rx.read(&mut buf)?;
        first.get_or_insert_with(|| clock.now());
        tx.write_all(&buf[..n])?;
        total += n as u64;
        for &b in &buf[..n] {
            if b != b'\n' {
                if line.len() < 32 {
                    line.push(b);
                }
                continue;
            }
            let cmd = core::str::from_utf8(&line).unwrap_or("");
            if cmd == "quit" {
                break 'echo;
            }
            if let Some(ms) = cmd
                .strip_prefix("busy ")
                .and_then(|m| m.parse::<u32>().ok())
            {
                busy(&mut rx, ms, clock)?;
                busy_checks += 1;
            }
            line.clear();
        }
    }
    tx.flush()?;
    let secs = first
        .map(|t| clock.now().since(t).as_secs_f64())
        .unwrap_or(0.0)
        .max(1e-9);
    let stats = rx.stats();
    println!(
        "serial-echo: {total} bytes echoed in {secs:.3} s: {:.1} KiB/s each way ({} interrupts, \
         {} wake-ups, {} overruns, {} ring-full pauses)",
        total as f64 / secs / 1024.0,
        stats.interrupts,
        stats.wakeups,
        stats.overruns,
        stats.rx_pauses
    );
    control.stop();
    let s = worker
        .join(&mut objs)?
        .map_err(|e| Error(format!("the serial worker failed: {e:?}")))?;
    if s.rx_bytes != total || s.tx_bytes != total {
        return Err(Error(format!(
            "the worker moved {} bytes in and {} out, the echo {total}",
            s.rx_bytes, s.tx_bytes
        )));
    }
    if busy_checks > 0 {
        println!("serial-echo: {busy_checks} busy period(s) checked");
    }
    Ok(())
}

/// Stops reading for `ms` milliseconds, then checks that the worker took
/// what arrived meanwhile into the ring: more than the UART's FIFO holds
/// (without the worker, QEMU would have held back all but 16 bytes).
fn busy<K, N>(rx: &mut sel4_uart_16550::SerialRx<K, N>, ms: u32, clock: Clock) -> Result<(), Error>
where
    K: sel4_device::Signal,
    N: sel4_device::Wait,
{
    let before = rx.available();
    let t0 = clock.now();
    SpinDelay::new(clock).delay_ms(ms);
    let took = clock.now().since(t0);
    let after = rx.available();
    let s = rx.stats();
    println!(
        "serial-echo: busy {} ms: {} bytes arrived meanwhile and wait in the ring ({} in all), \
         {} overruns, {} ring-full pauses",
        took.as_millis(),
        after.saturating_sub(before),
        after,
        s.overruns,
        s.rx_pauses
    );
    if after.saturating_sub(before) <= FIFO_DEPTH {
        return Err(Error(format!(
            "while the reader was busy for {} ms only {} bytes reached the ring (the UART's FIFO \
             holds {FIFO_DEPTH}): the worker did not take the input",
            took.as_millis(),
            after.saturating_sub(before)
        )));
    }
    if s.overruns != 0 {
        return Err(Error(format!("{} receive overruns", s.overruns)));
    }
    Ok(())
}
