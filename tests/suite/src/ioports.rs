//! I/O ports: a thread without a port capability that runs `in` faults
//! (seL4test's IOPORTS1000); port capabilities through `sel4-device`
//! refuse accesses outside their range before the kernel is asked, and
//! seL4 10+ issues each port once.
#![cfg_attr(not(target_arch = "x86_64"), allow(unused_imports))]

#[cfg(target_arch = "x86_64")]
use alloc::format;

#[cfg(target_arch = "x86_64")]
use sel4_asm_probes::ioport;
#[cfg(target_arch = "x86_64")]
use sel4_device::{IoPorts, PortError, PortIo, PortRange};
#[cfg(target_arch = "x86_64")]
use sel4_rootserver::DeviceError;
#[cfg(target_arch = "x86_64")]
use sel4_sys::{FaultLabel, MessageInfo, Word};
use sel4_test_harness::{ensure, ensure_eq, sel4_test, skip, Ctx, Failure, TestResult};

#[cfg(target_arch = "x86_64")]
use crate::support::{lift, start_raw3, TEST_TOP};
#[cfg(target_arch = "x86_64")]
use crate::util::{
    endpoint, fw, notification, raw_thread, read_regs, reg, write_regs, OBJECT_SLOTS,
};

#[cfg(target_arch = "x86_64")]
/// sel4test's stride and range: every 256th port of the 65536.
const PORT_STRIDE: u32 = 256;
#[cfg(target_arch = "x86_64")]
const EXPECTED_FAULTS: u32 = 65536 / PORT_STRIDE;

#[cfg(target_arch = "x86_64")]
/// The faulting thread: reads every 256th port with `in`, counts the
/// reads that came back as 1 (the handler's value), sends the count on
/// `done`, parks on `park`.
extern "C" fn reader(done: Word, park: Word, _: Word) -> ! {
    let mut ones: Word = 0;
    let mut port = 0u32;
    while port < 65536 {
        if ioport::read(port as u16) == 1 {
            ones += 1;
        }
        port += PORT_STRIDE;
    }
    sel4_sys::send_regs(done, MessageInfo::new(0, 0, 0, 1), [ones, 0, 0, 0]);
    loop {
        sel4_sys::wait(park);
    }
}

/// seL4test's "fault if directly using I/O ports": each `in` of a thread
/// without I/O privilege is a user exception at the instruction; the
/// handler sets RAX to 1 and moves the thread past it (TCB_WriteRegisters
/// with resume, as sel4test does), 256 times.
#[sel4_test(
    sel4test = "IOPORTS1000",
    timeout_ms = 30_000,
    arch = "x86_64",
    arch_reason = "I/O ports exist on x86 only"
)]
fn ioports_in_without_a_capability_faults(ctx: &mut Ctx) -> TestResult {
    lift(ctx)?;
    let ep = endpoint(ctx)?;
    let done = endpoint(ctx)?;
    let park = notification(ctx)?;
    let t = raw_thread(ctx, ep, Word::from(TEST_TOP) - 1)?;
    start_raw3(&t, reader as *const () as usize as Word, done, park, 0)?;
    let site = ioport::site();
    let mut faults = 0;
    while faults < EXPECTED_FAULTS {
        let (info, _) = sel4_sys::recv(ep);
        ensure_eq!(
            info.get_label(),
            FaultLabel::UserException as Word,
            "fault {faults}: a user exception"
        );
        let ip = sel4_sys::get_mr(sel4_sys::consts::UserException_FaultIP);
        ensure_eq!(ip, site.ip, "fault {faults}: at the `in` instruction");
        let mut regs = read_regs(t.tcb, reg::COUNT)?;
        regs[3] = 1; // RAX
        regs[reg::PC] = site.restart;
        write_regs(t.tcb, true, &regs)?;
        faults += 1;
    }
    let (_, _) = sel4_sys::recv(done);
    let ones = sel4_sys::get_mr(0);
    ensure_eq!(
        ones,
        Word::from(EXPECTED_FAULTS),
        "reads that returned the handler's value"
    );
    Ok(())
}

#[cfg(target_arch = "x86_64")]
fn port_err(r: Result<impl core::fmt::Debug, DeviceError>) -> Result<PortError, Failure> {
    match r {
        Err(DeviceError::Port(e)) => Ok(e),
        Err(e) => Err(Failure::fail(format!("expected a port error, got {e}"))),
        Ok(v) => Err(Failure::fail(format!("expected an error, got {v:?}"))),
    }
}

/// An access outside the capability's range (or running past its end) is
/// refused before the kernel is called; inside it works (the PIT's
/// counter latch and read).
#[sel4_test(arch = "x86_64", arch_reason = "I/O ports exist on x86 only")]
fn ioports_checked_against_the_range(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let p = objs.io_ports(0x40, 0x43).map_err(fw("ports"))?;
    let ports = p.get();
    ensure_eq!(ports.range(), PortRange::new(0x40, 0x43).unwrap());
    ports.out8(0x43, 0).map_err(fw("latch"))?;
    ports.in8(0x40).map_err(fw("in"))?;
    ports.in8(0x40).map_err(fw("in"))?;
    ensure_eq!(
        ports.in8(0x44),
        Err(PortError::OutOfRange {
            port: 0x44,
            width: 1,
            first: 0x40,
            last: 0x43
        })
    );
    ensure_eq!(
        ports.in16(0x43),
        Err(PortError::OutOfRange {
            port: 0x43,
            width: 2,
            first: 0x40,
            last: 0x43
        }),
        "a 16-bit access that runs past the range"
    );
    ensure!(matches!(
        ports.out32(0x3f, 0),
        Err(PortError::OutOfRange { .. })
    ));
    // A narrower view of the same capability.
    let ch0 = ports
        .narrow(PortRange::new(0x40, 0x40).unwrap())
        .map_err(fw("narrow"))?;
    ensure!(matches!(ch0.in8(0x41), Err(PortError::OutOfRange { .. })));
    ensure!(ports.narrow(PortRange::new(0x3f, 0x40).unwrap()).is_err());
    let e = port_err(objs.io_ports(0x50, 0x4f))?;
    ensure_eq!(
        e,
        PortError::EmptyRange {
            first: 0x50,
            last: 0x4f
        }
    );
    Ok(())
}

/// seL4 10+ hands each port out once: a range that overlaps one issued
/// is refused, and free again once that capability is deleted. (seL4 5.x
/// gives the root task one capability for every port: each range is a
/// copy of it, limited by `IoPorts`' checks alone.)
#[sel4_test(arch = "x86_64", arch_reason = "I/O ports exist on x86 only")]
fn ioports_issued_once(ctx: &mut Ctx) -> TestResult {
    if sel4_sys::KERNEL_VERSION_MAJOR < 10 {
        skip!("seL4 5.x has no I/O port control: every port range is a copy of one capability");
    }
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let a = objs.io_ports(0x70, 0x71).map_err(fw("ports"))?;
    let e = port_err(objs.io_ports(0x71, 0x72))?;
    ensure_eq!(
        e,
        PortError::AlreadyIssued {
            first: 0x71,
            last: 0x72
        }
    );
    objs.delete(a.into_owned())
        .map_err(|r| Failure::fail(format!("{}", r.error)))?;
    let b = objs.io_ports(0x71, 0x72).map_err(fw("after the delete"))?;
    let _ = IoPorts::new(b.get().cap(), PortRange::new(0x71, 0x72).unwrap());
    Ok(())
}
