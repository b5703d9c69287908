//! Host tests against a model of the PL011 (after QEMU's `hw/char/pl011.c`:
//! 16-entry FIFOs, the flags it reports, divisors and line control kept as
//! written).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::vec::Vec;

use embedded_hal_nb::nb;
use sel4_device::mmio::check;
use sel4_device::{Mmio, MmioError};

use crate::regs::{self, cr, dr, fr, lcr_h};
use crate::{Config, Divisor, Pl011, Pl011Error};

#[derive(Default)]
struct State {
    rx: VecDeque<u32>,
    tx: VecDeque<u8>,
    wire: Vec<u8>,
    regs: Vec<u32>,
    writes: Vec<(usize, u32)>,
    /// Flag reads with the transmitter busy left (then it drains).
    busy_reads: u32,
    /// The transmitter never drains.
    stuck: bool,
}

struct FakePl011(Mutex<State>);

impl Default for FakePl011 {
    fn default() -> FakePl011 {
        FakePl011(Mutex::new(State {
            regs: std::vec![0; regs::SIZE / 4],
            ..State::default()
        }))
    }
}

impl FakePl011 {
    fn feed(&self, v: u32) {
        self.0.lock().unwrap().rx.push_back(v);
    }
    fn wire(&self) -> Vec<u8> {
        let mut s = self.0.lock().unwrap();
        let t: Vec<u8> = s.tx.drain(..).collect();
        s.wire.extend(t);
        s.wire.clone()
    }
    fn writes(&self) -> Vec<(usize, u32)> {
        self.0.lock().unwrap().writes.clone()
    }
}

impl Mmio for FakePl011 {
    fn size(&self) -> usize {
        regs::SIZE
    }
    fn read8(&self, o: usize) -> Result<u8, MmioError> {
        check(o, 1, regs::SIZE)?;
        panic!("the PL011 driver makes 32-bit accesses only (8-bit read at {o:#x})");
    }
    fn read16(&self, o: usize) -> Result<u16, MmioError> {
        check(o, 2, regs::SIZE)?;
        panic!("the PL011 driver makes 32-bit accesses only (16-bit read at {o:#x})");
    }
    fn write16(&self, o: usize, _: u16) -> Result<(), MmioError> {
        check(o, 2, regs::SIZE)?;
        panic!("the PL011 driver makes 32-bit accesses only (16-bit write at {o:#x})");
    }
    fn read32(&self, o: usize) -> Result<u32, MmioError> {
        check(o, 4, regs::SIZE)?;
        let mut s = self.0.lock().unwrap();
        Ok(match o {
            regs::DR => s.rx.pop_front().unwrap_or(0),
            regs::FR => {
                let mut f = 0;
                if s.rx.is_empty() {
                    f |= fr::RXFE;
                }
                if s.stuck {
                    f |= fr::BUSY | fr::TXFF;
                } else if s.busy_reads > 0 {
                    s.busy_reads -= 1;
                    f |= fr::BUSY;
                } else {
                    // Each flag read moves one byte onto the wire.
                    if let Some(b) = s.tx.pop_front() {
                        s.wire.push(b);
                    }
                    if s.tx.len() >= 16 {
                        f |= fr::TXFF;
                    }
                    if s.tx.is_empty() {
                        f |= fr::TXFE;
                    } else {
                        f |= fr::BUSY;
                    }
                }
                f
            }
            _ => s.regs[o / 4],
        })
    }
    fn read64(&self, o: usize) -> Result<u64, MmioError> {
        check(o, 8, regs::SIZE)?;
        panic!("the PL011 driver makes 32-bit accesses only (64-bit read at {o:#x})");
    }
    fn write8(&self, o: usize, _: u8) -> Result<(), MmioError> {
        check(o, 1, regs::SIZE)?;
        panic!("the PL011 driver makes 32-bit accesses only (8-bit write at {o:#x})");
    }
    fn write32(&self, o: usize, v: u32) -> Result<(), MmioError> {
        check(o, 4, regs::SIZE)?;
        let mut s = self.0.lock().unwrap();
        s.writes.push((o, v));
        match o {
            regs::DR => {
                assert!(s.tx.len() < 16, "a byte written into a full transmit FIFO");
                s.tx.push_back(v as u8);
            }
            _ => s.regs[o / 4] = v,
        }
        Ok(())
    }
    fn write64(&self, o: usize, _: u64) -> Result<(), MmioError> {
        check(o, 8, regs::SIZE)?;
        panic!("the PL011 driver makes 32-bit accesses only (64-bit write at {o:#x})");
    }
}

#[test]
fn divisors_round_to_the_nearest_64th() {
    // QEMU virt: 24 MHz; 24e6 / (16 × 115200) = 13.0208 → 13 + 1/64.
    let d = Config {
        baud: 115_200,
        clock_hz: 24_000_000,
    }
    .divisor()
    .unwrap();
    assert_eq!(
        d,
        Divisor {
            integer: 13,
            fraction: 1
        }
    );
    // The TRM's example: 4 MHz, 230400 baud → 1.085 → IBRD 1, FBRD 5.
    let d = Config {
        baud: 230_400,
        clock_hz: 4_000_000,
    }
    .divisor()
    .unwrap();
    assert_eq!(
        d,
        Divisor {
            integer: 1,
            fraction: 5
        }
    );
    // Too fast for the clock, too slow, and zero.
    for (baud, clock_hz) in [(4_000_000, 24_000_000), (1, 24_000_000), (0, 24_000_000)] {
        assert_eq!(
            Config { baud, clock_hz }.divisor(),
            Err(Pl011Error::UnsupportedBaud { baud, clock_hz })
        );
    }
}

#[test]
fn init_disables_then_programs_divisors_before_line_control_then_enables() {
    let f = FakePl011::default();
    f.0.lock().unwrap().busy_reads = 3;
    let u = Pl011::new(&f);
    u.init(&Config {
        baud: 115_200,
        clock_hz: 24_000_000,
    })
    .unwrap();
    assert_eq!(
        f.writes(),
        [
            (regs::CR, 0),
            (regs::LCR_H, 0),
            (regs::IBRD, 13),
            (regs::FBRD, 1),
            (regs::LCR_H, lcr_h::WLEN_8 | lcr_h::FEN),
            (regs::IMSC, 0),
            (regs::ICR, regs::ALL_INTERRUPTS),
            (regs::RSR_ECR, 0),
            (regs::CR, cr::UARTEN | cr::TXE | cr::RXE),
        ]
    );
    // The busy transmitter was waited for before the divisors changed.
    assert_eq!(f.0.lock().unwrap().busy_reads, 0);
    let (d, lcr, control) = u.settings().unwrap();
    assert_eq!((d.integer, d.fraction), (13, 1));
    assert_eq!(lcr, lcr_h::WLEN_8 | lcr_h::FEN);
    assert_eq!(control, cr::UARTEN | cr::TXE | cr::RXE);
}

#[test]
fn a_refused_rate_programs_nothing() {
    let f = FakePl011::default();
    let u = Pl011::new(&f);
    assert!(u
        .init(&Config {
            baud: 0,
            clock_hz: 24_000_000
        })
        .is_err());
    assert!(f.writes().is_empty());
}

#[test]
fn polled_write_waits_for_room_and_everything_arrives() {
    let f = FakePl011::default();
    let mut u = Pl011::new(&f);
    let text: Vec<u8> = (0..100u8).map(|i| b'a' + i % 26).collect();
    u.write_blocking(&text).unwrap();
    core::fmt::Write::write_str(&mut u, "\nline two\n").unwrap();
    let mut want = text.clone();
    want.extend_from_slice(b"\nline two\n");
    assert_eq!(f.wire(), want);
}

#[test]
fn a_stuck_transmitter_is_an_error_not_a_hang() {
    let f = FakePl011::default();
    f.0.lock().unwrap().stuck = true;
    let u = Pl011::new(&f);
    assert_eq!(u.write_blocking(b"x"), Err(Pl011Error::Stuck));
    assert_eq!(u.flush_blocking(), Err(Pl011Error::Stuck));
    assert_eq!(u.try_write(b'x'), Err(nb::Error::WouldBlock));
}

#[test]
fn receive_reports_empty_bytes_and_errors() {
    let f = FakePl011::default();
    let mut u = Pl011::new(&f);
    assert_eq!(u.try_read(), Err(nb::Error::WouldBlock));
    assert!(!embedded_io::ReadReady::read_ready(&mut u).unwrap());
    f.feed(u32::from(b'k'));
    f.feed(u32::from(b'x') | dr::OE);
    f.feed(u32::from(b'y') | dr::FE);
    assert!(embedded_io::ReadReady::read_ready(&mut u).unwrap());
    assert_eq!(embedded_hal_nb::serial::Read::read(&mut u), Ok(b'k'));
    let e = u.try_read().unwrap_err();
    assert_eq!(e, nb::Error::Other(Pl011Error::Line(dr::OE)));
    if let nb::Error::Other(e) = e {
        assert_eq!(
            embedded_hal_nb::serial::Error::kind(&e),
            embedded_hal_nb::serial::ErrorKind::Overrun
        );
    }
    assert_eq!(
        u.try_read(),
        Err(nb::Error::Other(Pl011Error::Line(dr::FE)))
    );
    // Errors are cleared after each.
    assert_eq!(
        f.writes()
            .iter()
            .filter(|(o, _)| *o == regs::RSR_ECR)
            .count(),
        2
    );
    assert_eq!(u.try_read(), Err(nb::Error::WouldBlock));
}

#[test]
fn a_region_too_small_is_an_access_error() {
    struct Small;
    impl Mmio for Small {
        fn size(&self) -> usize {
            0x10
        }
        fn read8(&self, o: usize) -> Result<u8, MmioError> {
            check(o, 1, 0x10).map(|_| 0)
        }
        fn read16(&self, o: usize) -> Result<u16, MmioError> {
            check(o, 2, 0x10).map(|_| 0)
        }
        fn write16(&self, o: usize, _: u16) -> Result<(), MmioError> {
            check(o, 2, 0x10)
        }
        fn read32(&self, o: usize) -> Result<u32, MmioError> {
            check(o, 4, 0x10).map(|_| 0)
        }
        fn read64(&self, o: usize) -> Result<u64, MmioError> {
            check(o, 8, 0x10).map(|_| 0)
        }
        fn write8(&self, o: usize, _: u8) -> Result<(), MmioError> {
            check(o, 1, 0x10)
        }
        fn write32(&self, o: usize, _: u32) -> Result<(), MmioError> {
            check(o, 4, 0x10)
        }
        fn write64(&self, o: usize, _: u64) -> Result<(), MmioError> {
            check(o, 8, 0x10)
        }
    }
    let u = Pl011::new(Small);
    assert!(matches!(
        u.flags(),
        Err(Pl011Error::Access(MmioError::OutOfRange {
            offset: 0x18,
            ..
        }))
    ));
}
