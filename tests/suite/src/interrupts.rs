//! Interrupts through `sel4-device`: handlers for IOAPIC pins and MSIs,
//! the errors that name what is wrong (a vector or a pin taken, a bad pin,
//! no such IOAPIC, a bad PCI address, no IRQ control capability), delivery
//! to a notification with the handler's badge, acknowledgement, and two
//! interrupts (the PIT on pin 2, the RTC on pin 8) on one notification
//! told apart by badge.
//!
//! seL4test's own interrupt tests (INTERRUPT0002-0006) need an MCS kernel
//! and SMPIRQ0001 several cores: none applies to the non-MCS single-core
//! kernels here (docs/sel4test-coverage.md).
#![cfg_attr(not(target_arch = "x86_64"), allow(unused_imports))]

#[cfg(target_arch = "x86_64")]
use alloc::format;
#[cfg(target_arch = "x86_64")]
use core::time::Duration;

#[cfg(target_arch = "x86_64")]
use sel4_device::{IrqControl, IrqError, IrqSource, Polarity, Trigger};
#[cfg(target_arch = "x86_64")]
use sel4_pit::Pit;
#[cfg(target_arch = "x86_64")]
use sel4_rootserver::{DeviceError, Notification};
#[cfg(target_arch = "x86_64")]
use sel4_sys::{cap_type, Cap, Word};
use sel4_test_harness::{ensure, ensure_eq, fail, sel4_test, Ctx, Failure, TestResult};
#[cfg(target_arch = "x86_64")]
use sel4_timer::{Clock, Source};

#[cfg(target_arch = "x86_64")]
use crate::util::{fw, OBJECT_SLOTS};

#[cfg(target_arch = "x86_64")]
/// A pin nothing on QEMU's q35 drives (ISA IRQ 13, the old FPU error line).
const QUIET_PIN: u32 = 13;

#[cfg(target_arch = "x86_64")]
fn pin(p: u32) -> IrqSource {
    IrqSource::IoApic {
        ioapic: 0,
        pin: p,
        trigger: Trigger::Edge,
        polarity: Polarity::High,
    }
}

#[cfg(target_arch = "x86_64")]
fn irq_err(r: Result<impl core::fmt::Debug, DeviceError>) -> Result<IrqError, Failure> {
    match r {
        Err(DeviceError::Irq(e)) => Ok(e),
        Err(e) => Err(Failure::fail(format!(
            "expected an interrupt error, got {e}"
        ))),
        Ok(v) => Err(Failure::fail(format!("expected an error, got {v:?}"))),
    }
}

#[cfg(target_arch = "x86_64")]
fn clock(ctx: &Ctx) -> Result<Clock, Failure> {
    Clock::from_hz(ctx.machine().tsc_hz, Source::Measured)
        .ok_or_else(|| Failure::fail("no TSC frequency"))
}

#[cfg(target_arch = "x86_64")]
/// Spins for `d` on the clock (no timer service here: these tests drive
/// the timer hardware themselves).
fn spin(clock: Clock, d: Duration) {
    let end = clock.now() + d;
    while clock.now() < end {}
}

/// The kernel's vector range, as `IrqControl` learns it: the largest
/// vector works, one more is refused (by the kernel too, with that range).
#[sel4_test(
    arch = "x86_64",
    arch_reason = "IOAPIC pins and MSIs are x86 interrupt sources (the GIC of aarch64 and the PLIC of riscv64 number interrupts differently; sel4-device has no driver for them yet)"
)]
fn irq_vector_range_is_the_kernels(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let mut irqs = IrqControl::root();
    let max = irqs.vector_max().map_err(fw("the vector range"))?;
    ensure!(max >= 100, "vector range 0..={max}");
    let h = objs
        .irq_handler_at(&mut irqs, pin(QUIET_PIN), max)
        .map_err(fw("the largest vector"))?;
    ensure_eq!(h.vector(), max);
    let e = irq_err(objs.irq_handler_at(&mut irqs, pin(QUIET_PIN + 1), max + 1))?;
    ensure_eq!(
        e,
        IrqError::VectorOutOfRange {
            vector: max + 1,
            max
        }
    );
    // the kernel says the same
    let slot = objs.alloc_slot().map_err(fw("slot"))?;
    let r = sel4::arch::X86IrqControlOps::get_ioapic(
        sel4::init::IRQ_CONTROL,
        sel4::CNodeOps::slot(sel4::init::CNODE, slot.cptr()),
        0,
        Word::from(QUIET_PIN + 1),
        false,
        false,
        Word::from(max + 1),
    );
    ensure_eq!(
        r,
        Err(sel4_sys::InvocationError::RangeError {
            min: 0,
            max: Word::from(max)
        })
    );
    objs.delete_irq_handler(&mut irqs, h)
        .map_err(fw("delete"))?;
    Ok(())
}

#[sel4_test(
    arch = "x86_64",
    arch_reason = "IOAPIC pins and MSIs are x86 interrupt sources (the GIC of aarch64 and the PLIC of riscv64 number interrupts differently; sel4-device has no driver for them yet)"
)]
fn irq_control_missing_is_named(ctx: &mut Ctx) -> TestResult {
    let empty = ctx.slot()?;
    let dest = ctx.slot()?;
    let mut irqs = IrqControl::new(Cap::<cap_type::IRQControl>::from_cptr(empty));
    ensure_eq!(irqs.vector_max(), Err(IrqError::NoIrqControl));
    let mut irqs = IrqControl::new(Cap::<cap_type::IRQControl>::from_cptr(empty));
    let r = irqs.get(
        pin(QUIET_PIN),
        sel4::CNodeOps::slot(sel4::init::CNODE, dest),
    );
    ensure_eq!(r.map(|_| ()), Err(IrqError::NoIrqControl));
    ensure!(format!("{}", IrqError::NoIrqControl).contains("IRQ_CONTROL"));
    Ok(())
}

/// A vector has one handler: a second `IrqControl` (which does not know
/// the first one's vectors) is refused by the kernel (`RevokeFirst`), and
/// its automatic choice skips the vector.
#[sel4_test(
    arch = "x86_64",
    arch_reason = "IOAPIC pins and MSIs are x86 interrupt sources (the GIC of aarch64 and the PLIC of riscv64 number interrupts differently; sel4-device has no driver for them yet)"
)]
fn irq_vector_taken(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let mut a = IrqControl::root();
    let mut b = IrqControl::root();
    let h = objs
        .irq_handler_at(&mut a, pin(QUIET_PIN), 5)
        .map_err(fw("vector 5"))?;
    let e = irq_err(objs.irq_handler_at(&mut b, pin(QUIET_PIN + 1), 5))?;
    ensure_eq!(e, IrqError::VectorTaken { vector: 5 });
    let g = objs
        .irq_handler(&mut b, pin(QUIET_PIN + 1))
        .map_err(fw("any vector"))?;
    ensure!(g.vector() != 5, "vector 5 handed out twice");
    // once deleted, the vector is free again
    objs.delete_irq_handler(&mut a, h).map_err(fw("delete"))?;
    let h = objs
        .irq_handler_at(&mut b, pin(QUIET_PIN + 2), 5)
        .map_err(fw("vector 5 again"))?;
    objs.delete_irq_handler(&mut b, h).map_err(fw("delete"))?;
    objs.delete_irq_handler(&mut b, g).map_err(fw("delete"))?;
    Ok(())
}

/// A pin routed by a handler is not routed again by the same
/// `IrqControl` (the kernel would move it to the new vector, silently
/// taking it from the first handler); deleting the handler frees it.
#[sel4_test(
    arch = "x86_64",
    arch_reason = "IOAPIC pins and MSIs are x86 interrupt sources (the GIC of aarch64 and the PLIC of riscv64 number interrupts differently; sel4-device has no driver for them yet)"
)]
fn irq_pin_taken(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let mut irqs = IrqControl::root();
    let h = objs
        .irq_handler(&mut irqs, pin(QUIET_PIN))
        .map_err(fw("handler"))?;
    let e = irq_err(objs.irq_handler(&mut irqs, pin(QUIET_PIN)))?;
    ensure_eq!(
        e,
        IrqError::PinTaken {
            ioapic: 0,
            pin: QUIET_PIN,
            vector: h.vector()
        }
    );
    ensure!(format!("{e}").contains("delete it first"));
    objs.delete_irq_handler(&mut irqs, h)
        .map_err(fw("delete"))?;
    let h = objs
        .irq_handler(&mut irqs, pin(QUIET_PIN))
        .map_err(fw("handler again"))?;
    objs.delete_irq_handler(&mut irqs, h)
        .map_err(fw("delete"))?;
    Ok(())
}

/// A pin the IOAPIC does not have, an IOAPIC that does not exist (QEMU's
/// q35: one IOAPIC of 24 pins), a PCI function out of range.
#[sel4_test(
    arch = "x86_64",
    arch_reason = "IOAPIC pins and MSIs are x86 interrupt sources (the GIC of aarch64 and the PLIC of riscv64 number interrupts differently; sel4-device has no driver for them yet)"
)]
fn irq_bad_pin_ioapic_and_pci_address(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let mut irqs = IrqControl::root();
    let e = irq_err(objs.irq_handler(&mut irqs, pin(24)))?;
    ensure_eq!(
        e,
        IrqError::BadPin {
            ioapic: 0,
            pin: 24,
            pins: 24
        }
    );
    let e = irq_err(objs.irq_handler(
        &mut irqs,
        IrqSource::IoApic {
            ioapic: 1,
            pin: 3,
            trigger: Trigger::Edge,
            polarity: Polarity::High,
        },
    ))?;
    ensure_eq!(
        e,
        IrqError::NoSuchIoapic {
            ioapic: 1,
            count: 1
        }
    );
    let e = irq_err(objs.irq_handler(
        &mut irqs,
        IrqSource::Msi {
            bus: 0,
            dev: 32,
            func: 0,
            handle: 0,
        },
    ))?;
    ensure_eq!(
        e,
        IrqError::BadPciAddress {
            bus: 0,
            dev: 32,
            func: 0
        }
    );
    // none of the refused ones kept a vector or a slot
    ensure!(irqs.vectors().is_empty());
    Ok(())
}

/// An MSI handler: the kernel records the PCI function (the device would
/// be programmed with the vector); errors as for IOAPIC handlers.
#[sel4_test(
    arch = "x86_64",
    arch_reason = "IOAPIC pins and MSIs are x86 interrupt sources (the GIC of aarch64 and the PLIC of riscv64 number interrupts differently; sel4-device has no driver for them yet)"
)]
fn irq_msi_handler(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let mut irqs = IrqControl::root();
    let msi = IrqSource::Msi {
        bus: 0,
        dev: 31,
        func: 2,
        handle: 7,
    };
    let h = objs
        .irq_handler(&mut irqs, msi)
        .map_err(fw("MSI handler"))?;
    ensure_eq!(h.source(), msi);
    let v = h.vector();
    let mut other = IrqControl::root();
    let e = irq_err(objs.irq_handler_at(&mut other, msi, v))?;
    ensure_eq!(e, IrqError::VectorTaken { vector: v });
    objs.delete_irq_handler(&mut irqs, h)
        .map_err(fw("delete"))?;
    Ok(())
}

/// The handler's slot must be empty.
#[sel4_test(
    arch = "x86_64",
    arch_reason = "IOAPIC pins and MSIs are x86 interrupt sources (the GIC of aarch64 and the PLIC of riscv64 number interrupts differently; sel4-device has no driver for them yet)"
)]
fn irq_destination_slot_in_use(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let mut irqs = IrqControl::root();
    let n = objs.create::<Notification>().map_err(fw("notification"))?;
    let r = irqs.get(
        pin(QUIET_PIN),
        sel4::CNodeOps::slot(sel4::init::CNODE, n.cptr()),
    );
    ensure_eq!(r.map(|_| ()), Err(IrqError::SlotInUse));
    ensure!(
        irqs.vectors().is_empty(),
        "a refused handler kept its vector"
    );
    Ok(())
}

/// The PIT's interrupt (IRQ 0, IOAPIC pin 2) reaches its notification with
/// the handler's badge; without an acknowledgement the next one does not
/// come; after it, it does.
#[sel4_test(
    timeout_ms = 10_000,
    arch = "x86_64",
    arch_reason = "IOAPIC pins and MSIs are x86 interrupt sources (the GIC of aarch64 and the PLIC of riscv64 number interrupts differently; sel4-device has no driver for them yet)"
)]
fn irq_pit_delivered_with_its_badge(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let clock = clock(ctx)?;
    let mut irqs = IrqControl::root();
    let ports = objs.io_ports(0x40, 0x43).map_err(fw("PIT ports"))?;
    let pit: Pit<_> = Pit::new(ports.get(), None);
    let irq = objs
        .irq_handler(&mut irqs, IrqSource::isa(0))
        .map_err(fw("IRQ 0"))?;
    let n = objs.create::<Notification>().map_err(fw("notification"))?;
    let badged = objs.mint(&n, 0b100).map_err(fw("mint"))?;
    irq.bind(badged.cap()).map_err(fw("bind"))?;
    // No edge of an earlier user of the PIT may count: stop it, then take
    // what the IOAPIC kept while the pin was masked (QEMU delivers it at the
    // acknowledgement, and a second edge latched meanwhile comes right
    // after the first: the notification would be set again after the wait
    // below, which the unacknowledged check would take for an interrupt
    // through a masked pin).
    pit.stop()
        .map_err(|e| Failure::fail(format!("PIT: {e:?}")))?;
    for _ in 0..4 {
        irq.ack().map_err(fw("ack"))?;
        spin(clock, Duration::from_millis(1));
        if n.cap().poll() == 0 {
            break;
        }
    }
    let oneshot = |ms: u32| {
        pit.oneshot(sel4_pit::ticks_for_ns(u64::from(ms) * 1_000_000).unwrap_or(1))
            .map_err(|e| Failure::fail(format!("PIT: {e:?}")))
    };
    oneshot(2)?;
    ensure_eq!(n.cap().wait(), 0b100, "the interrupt's badge");
    // not acknowledged: the next expiry stays masked
    oneshot(2)?;
    spin(clock, Duration::from_millis(20));
    ensure_eq!(
        n.cap().poll(),
        0,
        "an interrupt came before the acknowledgement"
    );
    irq.ack().map_err(fw("ack"))?;
    // (QEMU's IOAPIC delivers the edge it kept while masked now; hardware
    // may not: take it if it came.)
    spin(clock, Duration::from_millis(1));
    let _ = n.cap().poll();
    oneshot(2)?;
    ensure_eq!(
        n.cap().wait(),
        0b100,
        "the interrupt after the acknowledgement"
    );
    pit.stop()
        .map_err(|e| Failure::fail(format!("PIT: {e:?}")))?;
    irq.unbind().map_err(fw("unbind"))?;
    objs.delete_irq_handler(&mut irqs, irq)
        .map_err(fw("delete"))?;
    Ok(())
}

#[cfg(target_arch = "x86_64")]
/// CMOS RTC registers (ports 0x70/0x71).
struct Rtc {
    ports: sel4_device::IoPorts,
}

#[cfg(target_arch = "x86_64")]
impl Rtc {
    fn write(&self, reg: u8, v: u8) -> Result<(), Failure> {
        use sel4_device::PortIo;
        // bit 7 of the index keeps NMIs off while the RTC is addressed
        self.ports.out8(0x70, 0x80 | reg).map_err(fw("RTC"))?;
        self.ports.out8(0x71, v).map_err(fw("RTC"))
    }
    fn read(&self, reg: u8) -> Result<u8, Failure> {
        use sel4_device::PortIo;
        self.ports.out8(0x70, 0x80 | reg).map_err(fw("RTC"))?;
        self.ports.in8(0x71).map_err(fw("RTC"))
    }
}

/// Two interrupts on one notification, told apart by badge: the PIT (pin
/// 2, badge 0b01, one-shots of 3 ms) and the RTC's periodic interrupt (pin
/// 8, badge 0b10, 1024 Hz). Each wake-up names the interrupts that came;
/// each is acknowledged on its own (and the RTC's register C read).
#[sel4_test(
    timeout_ms = 20_000,
    arch = "x86_64",
    arch_reason = "IOAPIC pins and MSIs are x86 interrupt sources (the GIC of aarch64 and the PLIC of riscv64 number interrupts differently; sel4-device has no driver for them yet)"
)]
fn irq_two_sources_on_one_notification(ctx: &mut Ctx) -> TestResult {
    const PIT_BIT: Word = 0b01;
    const RTC_BIT: Word = 0b10;
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let mut irqs = IrqControl::root();
    let pit_ports = objs.io_ports(0x40, 0x43).map_err(fw("PIT ports"))?;
    let rtc_ports = objs.io_ports(0x70, 0x71).map_err(fw("RTC ports"))?;
    let pit: Pit<_> = Pit::new(pit_ports.get(), None);
    let rtc = Rtc {
        ports: rtc_ports.get(),
    };
    let n = objs.create::<Notification>().map_err(fw("notification"))?;
    let pit_irq = objs
        .irq_handler(&mut irqs, IrqSource::isa(0))
        .map_err(fw("IRQ 0"))?;
    let rtc_irq = objs
        .irq_handler(&mut irqs, IrqSource::isa(8))
        .map_err(fw("IRQ 8"))?;
    pit_irq
        .bind(objs.mint(&n, PIT_BIT).map_err(fw("mint"))?.cap())
        .map_err(fw("bind"))?;
    rtc_irq
        .bind(objs.mint(&n, RTC_BIT).map_err(fw("mint"))?.cap())
        .map_err(fw("bind"))?;
    pit_irq.ack().map_err(fw("ack"))?;
    rtc_irq.ack().map_err(fw("ack"))?;
    // RTC: rate 6 (1024 Hz) in register A, periodic interrupts on in B.
    let a = rtc.read(0x0a)?;
    rtc.write(0x0a, (a & 0xf0) | 6)?;
    let b = rtc.read(0x0b)?;
    rtc.write(0x0b, b | 0x40)?;
    rtc.read(0x0c)?;
    let three_ms = sel4_pit::ticks_for_ns(3_000_000).unwrap_or(1);
    pit.oneshot(three_ms)
        .map_err(|e| Failure::fail(format!("PIT: {e:?}")))?;
    let (mut pits, mut rtcs, mut both) = (0u32, 0u32, 0u32);
    for _ in 0..10_000 {
        let w = n.cap().wait();
        ensure!(w & !(PIT_BIT | RTC_BIT) == 0, "unknown badge bits {w:#x}");
        if w == PIT_BIT | RTC_BIT {
            both += 1;
        }
        if w & PIT_BIT != 0 {
            pits += 1;
            pit_irq.ack().map_err(fw("ack"))?;
            pit.oneshot(three_ms)
                .map_err(|e| Failure::fail(format!("PIT: {e:?}")))?;
        }
        if w & RTC_BIT != 0 {
            rtcs += 1;
            rtc.read(0x0c)?; // the RTC lowers its line once C is read
            rtc_irq.ack().map_err(fw("ack"))?;
        }
        if pits >= 5 && rtcs >= 5 {
            break;
        }
    }
    rtc.write(0x0b, b & !0x40)?;
    rtc.read(0x0c)?;
    rtc.write(0x0a, a)?;
    pit.stop()
        .map_err(|e| Failure::fail(format!("PIT: {e:?}")))?;
    if pits < 5 || rtcs < 5 {
        fail!("in 10000 wake-ups: {pits} from the PIT, {rtcs} from the RTC");
    }
    sel4_rootserver::println!(
        "interrupts: {pits} PIT and {rtcs} RTC interrupts on one notification ({both} wake-ups carried both badges)"
    );
    objs.delete_irq_handler(&mut irqs, pit_irq)
        .map_err(fw("delete"))?;
    objs.delete_irq_handler(&mut irqs, rtc_irq)
        .map_err(fw("delete"))?;
    Ok(())
}
