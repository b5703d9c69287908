//! The PIT driver against a model of its ports.

use std::cell::RefCell;
use std::vec;
use std::vec::Vec;

use super::*;

/// Records every port write; channel 2's output rises after `rise_after`
/// reads of port 0x61 once its gate is up.
#[derive(Default)]
struct Fake {
    writes: RefCell<Vec<(u16, u8)>>,
    port_b: RefCell<u8>,
    polls: RefCell<u64>,
    rise_after: u64,
    latched: RefCell<Vec<u8>>,
}

impl PortIo for Fake {
    type Error = ();
    fn in8(&self, port: u16) -> Result<u8, ()> {
        match port {
            PORT_B => {
                let v = *self.port_b.borrow();
                if v & 1 != 0 {
                    *self.polls.borrow_mut() += 1;
                    if *self.polls.borrow() > self.rise_after {
                        return Ok(v | 0x20);
                    }
                }
                Ok(v & !0x20)
            }
            CHANNEL0 => Ok(self.latched.borrow_mut().pop().unwrap_or(0)),
            _ => Ok(0),
        }
    }
    fn in16(&self, _: u16) -> Result<u16, ()> {
        Err(())
    }
    fn in32(&self, _: u16) -> Result<u32, ()> {
        Err(())
    }
    fn out8(&self, port: u16, v: u8) -> Result<(), ()> {
        self.writes.borrow_mut().push((port, v));
        if port == PORT_B {
            *self.port_b.borrow_mut() = v;
        }
        Ok(())
    }
    fn out16(&self, _: u16, _: u16) -> Result<(), ()> {
        Err(())
    }
    fn out32(&self, _: u16, _: u32) -> Result<(), ()> {
        Err(())
    }
}

#[test]
fn tick_arithmetic() {
    assert_eq!(ticks_for_ns(0), Some(1));
    assert_eq!(ticks_for_ns(1), Some(1));
    // 1 ms = 1193.182 ticks: rounded up
    assert_eq!(ticks_for_ns(1_000_000), Some(1194));
    assert!(ticks_for_ns(MAX_NS).unwrap() <= MAX_TICKS);
    assert_eq!(
        ticks_for_ns(60_000_000),
        None,
        "60 ms does not fit one count"
    );
    assert_eq!(ns_for_ticks(PIT_HZ), 1_000_000_000);
    assert_eq!(ns_for_ticks(1), 838);
    assert_eq!(MAX_NS, 54_925_401);
    // never early: the programmed ticks cover the request
    for ns in [1u64, 837, 838, 839, 999_999, 1_000_001, 54_925_000] {
        let t = ticks_for_ns(ns).unwrap();
        assert!(
            (t as u128) * 1_000_000_000 >= (ns as u128) * PIT_HZ as u128,
            "{ns} ns -> {t} ticks"
        );
    }
    assert_eq!(step_ticks(10_000_000_000), MAX_TICKS);
    assert_eq!(step_ticks(1_000_000), 1194);
}

#[test]
fn oneshot_programs_mode_0_low_then_high() {
    let f = Fake::default();
    let p: Pit<&Fake> = Pit::new(&f, None);
    p.oneshot(1194).unwrap();
    assert_eq!(
        *f.writes.borrow(),
        vec![(COMMAND, 0x30), (CHANNEL0, 0xaa), (CHANNEL0, 0x04)]
    );
    f.writes.borrow_mut().clear();
    p.oneshot(MAX_TICKS).unwrap();
    assert_eq!(
        *f.writes.borrow(),
        vec![(COMMAND, 0x30), (CHANNEL0, 0), (CHANNEL0, 0)],
        "65536 is written as 0"
    );
    assert_eq!(p.oneshot(0), Err(PitError::BadCount(0)));
    assert_eq!(
        p.oneshot(MAX_TICKS + 1),
        Err(PitError::BadCount(MAX_TICKS + 1))
    );
}

#[test]
fn periodic_programs_mode_2() {
    let f = Fake::default();
    let p: Pit<&Fake> = Pit::new(&f, None);
    p.periodic(11932).unwrap();
    assert_eq!(
        *f.writes.borrow(),
        vec![(COMMAND, 0x34), (CHANNEL0, 0x9c), (CHANNEL0, 0x2e)]
    );
    assert_eq!(p.periodic(1), Err(PitError::BadCount(1)));
}

#[test]
fn stop_leaves_the_count_unwritten() {
    let f = Fake::default();
    let p: Pit<&Fake> = Pit::new(&f, None);
    p.stop().unwrap();
    assert_eq!(*f.writes.borrow(), vec![(COMMAND, 0x30)]);
}

#[test]
fn count_is_latched_then_read_low_high() {
    let f = Fake::default();
    f.latched.borrow_mut().extend([0x12, 0x34]); // popped from the end: 0x34 first
    let p: Pit<&Fake> = Pit::new(&f, None);
    assert_eq!(p.count().unwrap(), 0x1234);
    assert_eq!(*f.writes.borrow(), vec![(COMMAND, 0x00)]);
}

#[test]
fn armed_as_a_oneshot_timer() {
    let f = Fake::default();
    let mut p: Pit<&Fake> = Pit::new(&f, None);
    assert_eq!(p.max_ns(), MAX_NS);
    assert_eq!(p.resolution_ns(), 838);
    let armed = p.arm(1_000_000).unwrap();
    assert!((1_000_000..1_001_000).contains(&armed), "{armed}");
    // a long delay is clamped to one full count
    assert_eq!(p.arm(1_000_000_000).unwrap(), MAX_NS);
    p.disarm().unwrap();
    assert_eq!(f.writes.borrow().last(), Some(&(COMMAND, 0x30)));
}

#[test]
fn measure_gates_channel_2_and_counts() {
    let f = Fake {
        rise_after: 5,
        ..Fake::default()
    };
    *f.port_b.borrow_mut() = 0b1101_0010; // speaker bit set, gate low (bit 5 is the output)
    let p: Pit<&Fake> = Pit::new(&f, Some(&f));
    let mut t = 1000u64;
    let adv = p
        .measure(11932, 100, || {
            t += 250;
            t
        })
        .unwrap();
    assert_eq!(adv, 250, "one read at the start, one when the output rose");
    let w = f.writes.borrow();
    // gate and speaker off, channel 2 mode 0 with the count, gate on
    // (speaker still off), then gate off again
    assert_eq!(w[0], (PORT_B, 0b1101_0000));
    assert_eq!(
        &w[1..4],
        &[(COMMAND, 0xb0), (CHANNEL2, 0x9c), (CHANNEL2, 0x2e)]
    );
    assert_eq!(w[4], (PORT_B, 0b1101_0001));
    assert_eq!(*w.last().unwrap(), (PORT_B, 0b1101_0000));
}

#[test]
fn measure_gives_up_without_an_output() {
    let f = Fake {
        rise_after: u64::MAX,
        ..Fake::default()
    };
    let p: Pit<&Fake> = Pit::new(&f, Some(&f));
    assert_eq!(p.measure(100, 50, || 0), Err(PitError::NoOutput));
    let none: Pit<&Fake> = Pit::new(&f, None);
    assert_eq!(none.measure(100, 50, || 0), Err(PitError::NoOutput));
}

#[test]
fn rate_from_a_measurement() {
    // 2.5 GHz counter over 11932 PIT ticks (10 ms): 25 million cycles
    assert_eq!(rate_hz(25_000_456, 11932), 2_500_007_886);
    assert_eq!(rate_hz(1, 0), 0);
}

#[test]
fn calibrate_takes_the_least_disturbed_run() {
    let f = Fake {
        rise_after: 3,
        ..Fake::default()
    };
    let p: Pit<&Fake> = Pit::new(&f, Some(&f));
    // three runs: the counter advances 1000, 900 (least), 1200 per run
    let steps = RefCell::new(vec![1000u64, 900, 1200].into_iter());
    let mut now = 0u64;
    let mut first = true;
    let hz = p
        .calibrate(1193, 3, 100, || {
            if first {
                first = false;
            } else {
                now += steps.borrow_mut().next().unwrap_or(0);
                first = true;
            }
            now
        })
        .unwrap();
    assert_eq!(hz, rate_hz(900, 1193));
    // 900 counts in 1193 ticks (1 ms): 900 kHz
    assert_eq!(hz, 900_137);
}
