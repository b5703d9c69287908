//! The driver against the 16550 model of `fake.rs`.

use std::boxed::Box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;
use std::vec;
use std::vec::Vec;

use embedded_hal_nb::nb;
use embedded_io::{Read, Write};

use crate::fake::{self, Cap, FakeUart, Handler, Irq, Ntfn};
use crate::regs::{ier, lsr, mcr, Reg};
use crate::serial::{serial, SerialConfig, SerialParts, Wiring};
use crate::{Cause, Config, DataBits, Parity, StopBits, Uart, UartError};
#[allow(unused_imports)]
use std::println;

fn pattern(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn init_programs_divisor_line_fifo_and_modem_control() {
    let f = FakeUart::new(None);
    let u = Uart::new(f.clone());
    let c = Config {
        baud: 9600,
        data_bits: DataBits::Seven,
        parity: Parity::Even,
        stop_bits: StopBits::Two,
        ..Config::default()
    };
    u.init(&c).unwrap();
    let s = f.state.lock().unwrap();
    // scratch probe first, then: IER off, DLAB, divisor 12, line, FIFO, MCR
    let w: Vec<(Reg, u8)> = s
        .writes
        .iter()
        .copied()
        .filter(|(r, _)| *r != Reg::Scr)
        .collect();
    assert_eq!(
        w,
        vec![
            (Reg::Ier, 0),
            (Reg::Lcr, 0x80),
            (Reg::Data, 12),
            (Reg::Ier, 0),
            (Reg::Lcr, 0b0001_1110),
            (Reg::IirFcr, 0b1000_0111),
            (Reg::Mcr, mcr::DTR | mcr::RTS | mcr::OUT2),
        ]
    );
    assert_eq!((s.dll, s.dlm), (12, 0));
    assert_eq!(s.ier, 0);
    assert!(s.fifo_on);
    assert_eq!(s.trigger, 8);
}

#[test]
fn init_refuses_a_missing_uart() {
    let u = Uart::new(FakeUart::absent());
    assert_eq!(u.init(&Config::default()), Err(UartError::NotPresent));
}

#[test]
fn an_impossible_baud_rate_programs_nothing() {
    let f = FakeUart::new(None);
    let u = Uart::new(f.clone());
    assert!(matches!(
        u.init(&Config::baud(56_000)),
        Err(UartError::Config(_))
    ));
    assert!(f.state.lock().unwrap().writes.is_empty());
}

#[test]
fn cause_decoding() {
    assert_eq!(Cause::from_iir(0x01), Cause::None);
    assert_eq!(Cause::from_iir(0xc1), Cause::None);
    assert_eq!(Cause::from_iir(0xc4), Cause::RxData);
    assert_eq!(Cause::from_iir(0xcc), Cause::RxTimeout);
    assert_eq!(Cause::from_iir(0x02), Cause::ThrEmpty);
    assert_eq!(Cause::from_iir(0x06), Cause::LineStatus);
    assert_eq!(Cause::from_iir(0x00), Cause::ModemStatus);
    assert_eq!(Cause::from_iir(0x0a), Cause::Unknown(0x0a));
}

/// Polled output never writes more than the FIFO holds, whatever the
/// transmitter's pace.
#[test]
fn polled_write_fills_one_fifo_per_empty() {
    let f = FakeUart::new(None);
    let u = Uart::new(f.clone());
    u.init(&Config::default()).unwrap();
    let data = pattern(1000, 3);
    let wire = f.clone();
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    let t = thread::spawn(move || {
        while !d.load(Ordering::SeqCst) {
            wire.transmit(3);
            thread::yield_now();
        }
        while wire.transmit(16) > 0 {}
    });
    u.write_blocking(&data).unwrap();
    u.flush_blocking().unwrap_or(());
    done.store(true, Ordering::SeqCst);
    t.join().unwrap();
    assert_eq!(f.wire_out(), data);
    assert_eq!(f.state.lock().unwrap().tx_overflows, 0);
}

#[test]
fn polled_read_reports_line_errors_before_data() {
    let f = FakeUart::new(None);
    let mut u = Uart::new(f.clone());
    u.init(&Config::default()).unwrap();
    assert!(matches!(u.try_read(), Err(nb::Error::WouldBlock)));
    f.feed(b"ab");
    f.state.lock().unwrap().errors = lsr::PARITY;
    match u.try_read() {
        Err(nb::Error::Other(UartError::Line(e))) => assert!(e.parity()),
        other => panic!("{other:?}"),
    }
    assert_eq!(embedded_hal_nb::serial::Read::read(&mut u), Ok(b'a'));
    assert_eq!(u.try_read(), Ok(b'b'));
}

#[test]
fn fmt_write_goes_out_polled() {
    let f = FakeUart::new(None);
    let mut u = Uart::new(f.clone());
    u.init(&Config::default()).unwrap();
    let wire = f.clone();
    let t = thread::spawn(move || {
        for _ in 0..10_000 {
            wire.transmit(16);
            thread::yield_now();
        }
    });
    core::fmt::Write::write_fmt(&mut u, format_args!("{} + {} = {}", 2, 2, 4)).unwrap();
    t.join().unwrap();
    assert_eq!(f.wire_out(), b"2 + 2 = 4");
}

// ---- the interrupt-driven port ----

type Parts = SerialParts<FakeUart, Handler, Cap, Cap, Cap>;

struct Rig {
    uart: FakeUart,
    irq: Arc<Irq>,
}

const IRQ_BADGE: u64 = 1;
const KICK_BADGE: u64 = 2;

fn rig(config: SerialConfig, lossy: bool) -> (Rig, Parts) {
    let wake = Ntfn::new();
    let irq = Irq::new(wake.clone(), IRQ_BADGE, lossy);
    let uart = FakeUart::new(Some(irq.clone()));
    let wiring = Wiring {
        irq: Handler(irq.clone()),
        irq_badge: IRQ_BADGE,
        wake: Cap {
            ntfn: wake.clone(),
            badge: 0,
        },
        kick: Cap {
            ntfn: wake,
            badge: KICK_BADGE,
        },
        rx: Cap {
            ntfn: Ntfn::new(),
            badge: 0,
        },
        tx: Cap {
            ntfn: Ntfn::new(),
            badge: 0,
        },
    };
    let parts = serial(Uart::new(uart.clone()), config, wiring).unwrap();
    (Rig { uart, irq }, parts)
}

/// The far end of the line: sends `input` as fast as the receive FIFO
/// takes it (as QEMU's chardev does) and transmits whatever the UART's
/// FIFO holds, until `stop`.
fn far_end(uart: FakeUart, input: Vec<u8>, stop: Arc<AtomicBool>) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut sent = 0;
        while !stop.load(Ordering::SeqCst) {
            if sent < input.len() {
                sent += uart.feed(&input[sent..(sent + 5).min(input.len())]);
            }
            uart.transmit(4);
            thread::yield_now();
        }
    })
}

#[test]
fn echo_through_the_worker() {
    let (rig, p) = rig(SerialConfig::default(), false);
    let SerialParts {
        worker,
        mut rx,
        mut tx,
        control,
    } = p;
    let w = thread::spawn(move || worker.run());
    let input = b"hello\nserial line two\nthird\n".to_vec();
    let stop = Arc::new(AtomicBool::new(false));
    let wire = far_end(rig.uart.clone(), input.clone(), stop.clone());
    let mut got = vec![0u8; input.len()];
    rx.read_exact_blocking(&mut got).unwrap();
    assert_eq!(got, input);
    tx.write_all(&got).unwrap();
    tx.flush().unwrap();
    // flush returned: everything left the FIFO
    assert_eq!(rig.uart.wire_out(), input);
    control.stop();
    let stats = w.join().unwrap().unwrap();
    stop.store(true, Ordering::SeqCst);
    wire.join().unwrap();
    assert_eq!(stats.rx_bytes, input.len() as u64);
    assert_eq!(stats.tx_bytes, input.len() as u64);
    assert!(stats.interrupts > 0);
    assert_eq!(rig.uart.state.lock().unwrap().tx_overflows, 0);
}

/// A mebibyte each way at once, checked byte for byte.
#[test]
fn a_mebibyte_each_way() {
    const N: usize = 1 << 20;
    let (rig, p) = rig(SerialConfig::default(), false);
    let SerialParts {
        worker,
        mut rx,
        mut tx,
        control,
    } = p;
    let w = thread::spawn(move || worker.run());
    let input = pattern(N, 11);
    let output = pattern(N, 12);
    let stop = Arc::new(AtomicBool::new(false));
    let wire = far_end(rig.uart.clone(), input.clone(), stop.clone());
    let out = output.clone();
    let writer = thread::spawn(move || {
        tx.write_all(&out).unwrap();
        tx.flush().unwrap();
        tx
    });
    let mut got = vec![0u8; N];
    rx.read_exact_blocking(&mut got).unwrap();
    let _tx = writer.join().unwrap();
    control.stop();
    let stats = w.join().unwrap().unwrap();
    stop.store(true, Ordering::SeqCst);
    wire.join().unwrap();
    assert!(got == input, "received bytes differ");
    assert!(rig.uart.wire_out() == output, "sent bytes differ");
    assert_eq!(stats.rx_bytes, N as u64);
    assert_eq!(stats.tx_bytes, N as u64);
    assert_eq!(stats.overruns, 0);
}

/// The reader sleeps while 20 KiB arrive into a 4 KiB ring: the worker
/// fills the ring, stops taking receive interrupts, the sender is held
/// back; the reader then gets every byte.
#[test]
fn a_busy_reader_loses_nothing() {
    const N: usize = 20 * 1024;
    let config = SerialConfig {
        rx_buffer: 4096,
        ..SerialConfig::default()
    };
    let (rig, p) = rig(config, false);
    let SerialParts {
        worker,
        mut rx,
        tx: _tx,
        control,
    } = p;
    let w = thread::spawn(move || worker.run());
    let input = pattern(N, 5);
    let stop = Arc::new(AtomicBool::new(false));
    let wire = far_end(rig.uart.clone(), input.clone(), stop.clone());
    // busy: the worker alone moves bytes into the ring meanwhile
    let mut waited = 0;
    while rx.available() < 4096 && waited < 5000 {
        thread::sleep(Duration::from_millis(1));
        waited += 1;
    }
    assert_eq!(
        rx.available(),
        4096,
        "the worker filled the ring while the reader was busy"
    );
    let mut got = vec![0u8; N];
    rx.read_exact_blocking(&mut got).unwrap();
    control.stop();
    let stats = w.join().unwrap().unwrap();
    stop.store(true, Ordering::SeqCst);
    wire.join().unwrap();
    assert!(got == input);
    assert!(stats.rx_pauses > 0, "the ring filled up at least once");
    assert_eq!(stats.overruns, 0);
    assert_eq!(rig.uart.state.lock().unwrap().rx_overruns, 0);
}

/// An interrupt controller that loses edges while the line is masked,
/// and a byte that arrives after the driver's last look but before its
/// acknowledgement: the line rises while masked (no interrupt) and stays
/// up. The far end sends the rest one byte at a time, each only once the
/// FIFO is empty. The pass after the acknowledgement takes the byte, so
/// the FIFO empties, the line drops and the next byte makes a new edge;
/// without that pass the port stalls with the byte in the FIFO.
#[test]
fn bytes_arriving_before_the_acknowledgement_are_not_left_behind() {
    const N: usize = 2000;
    let (rig, p) = rig(SerialConfig::default(), true);
    let SerialParts {
        worker,
        mut rx,
        tx: _tx,
        control,
    } = p;
    let input = pattern(N, 9);
    let next = Arc::new(std::sync::Mutex::new(0usize));
    {
        let (uart, irq, feed, next) = (
            rig.uart.clone(),
            rig.irq.clone(),
            input.clone(),
            next.clone(),
        );
        let mut every = 0u32;
        rig.irq.set_before_ack(Box::new(move || {
            every += 1;
            let mut n = next.lock().unwrap();
            if every.is_multiple_of(3) && irq.is_masked() && *n < feed.len() && uart.rx_len() == 0 {
                *n += uart.feed(&feed[*n..*n + 1]);
            }
        }));
    }
    let w = thread::spawn(move || worker.run());
    let stop = Arc::new(AtomicBool::new(false));
    let sender = {
        let (uart, feed, next, stop) =
            (rig.uart.clone(), input.clone(), next.clone(), stop.clone());
        thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                {
                    let mut n = next.lock().unwrap();
                    if *n < feed.len() && uart.rx_len() == 0 {
                        *n += uart.feed(&feed[*n..*n + 1]);
                    }
                }
                thread::sleep(Duration::from_micros(50));
            }
        })
    };
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let reader = thread::spawn(move || {
        let mut got = vec![0u8; N];
        let r = rx.read_exact_blocking(&mut got);
        let _ = done_tx.send(());
        (r, got)
    });
    let finished = done_rx.recv_timeout(Duration::from_secs(20)).is_ok();
    stop.store(true, Ordering::SeqCst);
    sender.join().unwrap();
    assert!(
        finished,
        "the port stalled with a byte in the FIFO after {} of {N} bytes ({} interrupts, {} edges \
         lost while masked)",
        *next.lock().unwrap(),
        rig.irq.delivered(),
        rig.irq.lost()
    );
    control.stop();
    let (r, got) = reader.join().unwrap();
    r.unwrap();
    w.join().unwrap().unwrap();
    assert!(got == input);
    assert!(rig.irq.lost() > 0, "the window was exercised");
}

#[test]
fn stopping_wakes_a_blocked_reader() {
    let (_rig, p) = rig(SerialConfig::default(), false);
    let SerialParts {
        worker,
        mut rx,
        mut tx,
        control,
    } = p;
    let w = thread::spawn(move || worker.run());
    let reader = thread::spawn(move || {
        let mut b = [0u8; 4];
        rx.read(&mut b)
    });
    thread::sleep(Duration::from_millis(20));
    control.stop();
    assert_eq!(reader.join().unwrap(), Err(crate::SerialError::Stopped));
    w.join().unwrap().unwrap();
    assert!(control.is_stopped());
    assert_eq!(tx.write(b"x"), Err(crate::SerialError::Stopped));
}

/// The transmit interrupt is on only while there is something to send.
#[test]
fn transmit_interrupt_only_while_sending() {
    let (rig, p) = rig(SerialConfig::default(), false);
    let SerialParts {
        worker,
        rx: _rx,
        mut tx,
        control,
    } = p;
    let w = thread::spawn(move || worker.run());
    let stop = Arc::new(AtomicBool::new(false));
    let wire = far_end(rig.uart.clone(), Vec::new(), stop.clone());
    tx.write_all(&pattern(300, 1)).unwrap();
    tx.flush().unwrap();
    // idle: the worker turned the transmit interrupt off again
    let mut ier_now = 0xff;
    for _ in 0..1000 {
        ier_now = rig.uart.state.lock().unwrap().ier;
        if ier_now & ier::THR_EMPTY == 0 {
            break;
        }
        thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(ier_now, ier::RX_DATA);
    control.stop();
    w.join().unwrap().unwrap();
    stop.store(true, Ordering::SeqCst);
    wire.join().unwrap();
    assert_eq!(rig.uart.wire_out(), pattern(300, 1));
}

#[test]
fn headroom_at_the_line_rate() {
    let c = SerialConfig::default();
    // 64 KiB at 11,520 bytes/s
    assert_eq!(c.rx_headroom_micros(), Some(65_536 * 1_000_000 / 11_520));
    let _ = fake::FIFO;
}

/// Bytes the far end forces into a full FIFO (hardware without flow
/// control) are lost in the UART: the worker counts the overrun.
#[test]
fn overruns_are_counted() {
    let (rig, p) = rig(SerialConfig::default(), false);
    let SerialParts {
        worker,
        mut rx,
        tx: _tx,
        control,
    } = p;
    for b in 0..20u8 {
        rig.uart.feed_forced(b);
    }
    let w = thread::spawn(move || worker.run());
    let mut got = vec![0u8; 16];
    rx.read_exact_blocking(&mut got).unwrap();
    assert_eq!(got, (0..16u8).collect::<Vec<_>>());
    control.stop();
    let stats = w.join().unwrap().unwrap();
    assert_eq!(stats.overruns, 1);
    assert_eq!(rig.uart.state.lock().unwrap().rx_overruns, 4);
}

/// A UART behind memory-mapped registers 4 bytes apart, accessed 32 bits
/// wide (as many SoCs place a 16550): the same driver, through
/// `MmioRegisters`, touches the right offsets and nothing outside them.
#[test]
fn mmio_registers_at_their_stride() {
    use crate::{AccessWidth, MmioRegisters};
    use sel4_device::mmio::{check, Mmio, MmioError};
    use std::sync::Mutex;

    /// 64 bytes of registers backed by the 16550 model: a 32-bit access
    /// at 4 * i is register i.
    struct Window {
        uart: FakeUart,
        log: Mutex<Vec<(usize, bool)>>,
    }
    impl Mmio for Window {
        fn size(&self) -> usize {
            64
        }
        fn read8(&self, o: usize) -> Result<u8, MmioError> {
            Err(MmioError::Misaligned {
                offset: o,
                width: 1,
            })
        }
        fn read32(&self, o: usize) -> Result<u32, MmioError> {
            check(o, 4, 32)?;
            self.log.lock().unwrap().push((o, false));
            Ok(u32::from(
                crate::Registers::read(&self.uart, Reg::ALL[o / 4]).unwrap(),
            ))
        }
        fn read16(&self, o: usize) -> Result<u16, MmioError> {
            Err(MmioError::Misaligned {
                offset: o,
                width: 2,
            })
        }
        fn write16(&self, o: usize, _: u16) -> Result<(), MmioError> {
            Err(MmioError::Misaligned {
                offset: o,
                width: 2,
            })
        }
        fn read64(&self, o: usize) -> Result<u64, MmioError> {
            Err(MmioError::Misaligned {
                offset: o,
                width: 8,
            })
        }
        fn write8(&self, o: usize, _: u8) -> Result<(), MmioError> {
            Err(MmioError::Misaligned {
                offset: o,
                width: 1,
            })
        }
        fn write32(&self, o: usize, v: u32) -> Result<(), MmioError> {
            check(o, 4, 32)?;
            self.log.lock().unwrap().push((o, true));
            crate::Registers::write(&self.uart, Reg::ALL[o / 4], v as u8).unwrap();
            Ok(())
        }
        fn write64(&self, o: usize, _: u64) -> Result<(), MmioError> {
            Err(MmioError::Misaligned {
                offset: o,
                width: 8,
            })
        }
    }
    let w = Window {
        uart: FakeUart::new(None),
        log: Mutex::new(Vec::new()),
    };
    let u = Uart::new(MmioRegisters::new(&w, 0, 2, AccessWidth::Word));
    u.init(&Config::baud(38_400)).unwrap();
    let s = w.uart.state.lock().unwrap();
    assert_eq!((s.dll, s.dlm), (3, 0));
    assert_eq!(s.lcr, 0b11);
    drop(s);
    for (o, _) in w.log.lock().unwrap().iter() {
        assert!(o % 4 == 0 && *o < 32, "offset {o}");
    }
    // a byte-wide access where the device wants words is refused
    let b = Uart::new(MmioRegisters::new(&w, 0, 2, AccessWidth::Byte));
    assert!(matches!(
        b.probe(),
        Err(UartError::Access(MmioError::Misaligned { .. }))
    ));
}

/// Loopback: what is written comes back through the receiver, nothing
/// reaches the line, and the modem control register is as before.
#[test]
fn loopback_reads_back_what_it_writes() {
    let u = FakeUart::new(None);
    let uart = Uart::new(&u);
    uart.init(&Config::default()).unwrap();
    u.feed(b"stale");
    let mcr_before = crate::Registers::read(&u, Reg::Mcr).unwrap();
    let mut back = [0u8; 11];
    uart.loopback(b"hello 16550", &mut back).unwrap();
    assert_eq!(&back, b"hello 16550");
    assert_eq!(crate::Registers::read(&u, Reg::Mcr).unwrap(), mcr_before);
    assert!(
        u.wire_out().is_empty(),
        "loopback bytes went out on the line"
    );
}
