use super::*;
use std::vec::Vec;

/// Records the register writes.
#[derive(Debug, Default)]
struct Fake {
    writes: Vec<(&'static str, u32)>,
    ctl: u32,
}

impl Registers for &mut Fake {
    fn write_tval(&mut self, ticks: u32) {
        self.writes.push(("tval", ticks));
    }
    fn write_ctl(&mut self, ctl: u32) {
        self.writes.push(("ctl", ctl));
        self.ctl = ctl;
    }
    fn read_ctl(&self) -> u32 {
        self.ctl
    }
}

const QEMU_HZ: u64 = 62_500_000;

#[test]
fn arming_rounds_up_to_ticks_and_enables_after_the_count() {
    let mut f = Fake::default();
    let mut t = GenericTimer::new(&mut f, QEMU_HZ).unwrap();
    // 16 ns a tick at 62.5 MHz.
    assert_eq!(t.resolution_ns(), 16);
    assert_eq!(t.arm(1_000_000).unwrap(), 1_000_000);
    assert_eq!(t.arm(17).unwrap(), 32);
    // Zero is one tick (the interrupt still comes).
    assert_eq!(t.arm(0).unwrap(), 16);
    t.disarm().unwrap();
    let _ = t;
    assert_eq!(
        f.writes,
        [
            ("ctl", 0),
            ("ctl", 0),
            ("tval", 62_500),
            ("ctl", CTL_ENABLE),
            ("ctl", 0),
            ("tval", 2),
            ("ctl", CTL_ENABLE),
            ("ctl", 0),
            ("tval", 1),
            ("ctl", CTL_ENABLE),
            ("ctl", 0),
        ]
    );
}

#[test]
fn long_delays_are_clamped_to_the_down_count() {
    let mut f = Fake::default();
    let mut t = GenericTimer::new(&mut f, QEMU_HZ).unwrap();
    let max = t.max_ns();
    // 2^31 - 1 ticks at 62.5 MHz: 34.359738352 s.
    assert_eq!(max, 34_359_738_352);
    let armed = t.arm(100_000_000_000).unwrap();
    assert!(armed >= max && armed < max + 16, "{armed}");
    let _ = t;
    assert!(f.writes.contains(&("tval", MAX_TVAL)));
}

#[test]
fn a_zero_frequency_is_refused() {
    let mut f = Fake::default();
    assert_eq!(
        GenericTimer::new(&mut f, 0).unwrap_err(),
        TimerError::NoFrequency
    );
}

/// QEMU virt's timer node: secure, non-secure physical, virtual and
/// hypervisor PPIs 13, 14, 11, 10.
fn virt_dtb(interrupts: &[u32]) -> Vec<u8> {
    // A minimal tree: header, structure and strings blocks.
    let mut strings = Vec::new();
    let mut off = |name: &str| {
        let o = strings.len() as u32;
        strings.extend_from_slice(name.as_bytes());
        strings.push(0);
        o
    };
    let (compatible, ints) = (off("compatible"), off("interrupts"));
    let mut s: Vec<u8> = Vec::new();
    let w = |s: &mut Vec<u8>, v: u32| s.extend_from_slice(&v.to_be_bytes());
    let pad = |s: &mut Vec<u8>| {
        while !s.len().is_multiple_of(4) {
            s.push(0)
        }
    };
    w(&mut s, 1);
    s.extend_from_slice(b"\0\0\0\0");
    w(&mut s, 1);
    s.extend_from_slice(b"timer\0");
    pad(&mut s);
    let c = b"arm,armv8-timer\0arm,armv7-timer\0";
    w(&mut s, 3);
    w(&mut s, c.len() as u32);
    w(&mut s, compatible);
    s.extend_from_slice(c);
    pad(&mut s);
    w(&mut s, 3);
    w(&mut s, (interrupts.len() * 4) as u32);
    w(&mut s, ints);
    for &i in interrupts {
        w(&mut s, i);
    }
    w(&mut s, 2);
    w(&mut s, 2);
    w(&mut s, 9);
    let mut d = Vec::new();
    let total = 40 + s.len() + strings.len();
    for v in [
        sel4_fdt::MAGIC,
        total as u32,
        40,
        (40 + s.len()) as u32,
        40,
        17,
        16,
        0,
        strings.len() as u32,
        s.len() as u32,
    ] {
        d.extend_from_slice(&v.to_be_bytes());
    }
    d.extend_from_slice(&s);
    d.extend_from_slice(&strings);
    d
}

#[test]
fn the_physical_timer_interrupt_comes_from_the_device_tree() {
    let dtb = virt_dtb(&[1, 13, 0x104, 1, 14, 0x104, 1, 11, 0x104, 1, 10, 0x104]);
    let fdt = Fdt::new(&dtb).unwrap();
    assert_eq!(physical_timer_irq(&fdt).unwrap(), Some(30));
    // Not a PPI, or too few entries: none.
    let dtb = virt_dtb(&[1, 13, 0x104, 0, 14, 0x104]);
    assert_eq!(physical_timer_irq(&Fdt::new(&dtb).unwrap()).unwrap(), None);
    let dtb = virt_dtb(&[1, 13, 0x104]);
    assert_eq!(physical_timer_irq(&Fdt::new(&dtb).unwrap()).unwrap(), None);
}
