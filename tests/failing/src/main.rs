//! sel4test-failing: tests that fail on purpose, between tests that pass.
//! The run must report each failure (a wrong result, a fault, a panic, a
//! hang) and still complete the rest; the host runs it with
//! `sel4-run --expect-fail` (the boot fails as it should).
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use sel4_rootserver::{entry, BootInfo};
use sel4_sys::{Error, ObjectType};
use sel4_test_harness::kernel;
use sel4_test_harness::{collect_tests, ensure_eq, sel4_test, Ctx, RunError, TestResult};

entry!(main);

fn main(bootinfo: &BootInfo) -> Result<(), RunError> {
    sel4_test_harness::run(bootinfo, collect_tests!())
}

#[sel4_test]
fn passes_before() -> TestResult {
    ensure_eq!(1 + 1, 2);
    Ok(())
}

/// Fails on purpose: expects the wrong error from the kernel.
#[sel4_test]
fn fails_on_purpose(ctx: &mut Ctx) -> TestResult {
    let s = ctx.slot()?;
    let r = kernel::retype(ctx.untyped(), ObjectType::EndpointObject as usize, 0, s, 0);
    ensure_eq!(
        kernel::code(&r),
        Some(Error::NoError),
        "intentional failure: count 0 is a RangeError"
    );
    Ok(())
}

/// Leaks objects and slots on purpose; the next test must not see them.
#[sel4_test]
fn leaks_on_purpose(ctx: &mut Ctx) -> TestResult {
    let first = ctx.slots(16)?;
    kernel::retype(
        ctx.untyped(),
        ObjectType::NotificationObject as usize,
        0,
        first,
        16,
    )?;
    Ok(())
}

/// Passes only if the previous test's leaks were cleaned up.
#[sel4_test]
fn passes_after(ctx: &mut Ctx) -> TestResult {
    let (first, _) = ctx.slot_range();
    ensure_eq!(
        sel4_sys::debug_cap_identify(first).unwrap_or(99),
        0,
        "slot left over from the last test"
    );
    let s = ctx.slots(16)?;
    kernel::retype(
        ctx.untyped(),
        ObjectType::NotificationObject as usize,
        0,
        s,
        16,
    )?;
    Ok(())
}

/// Faults on purpose (reads an unmapped address): the harness reports the
/// VM fault as this test's failure and goes on.
#[sel4_test]
fn faults_on_purpose() -> TestResult {
    let v = sel4_runtime::thread::provoke::read_unmapped(0x10);
    ensure_eq!(v, 0, "an unmapped read returned a value");
    Ok(())
}

/// Passes: the fault of the previous test did not disturb the harness.
#[sel4_test]
fn passes_after_fault(ctx: &mut Ctx) -> TestResult {
    let s = ctx.slot()?;
    kernel::retype(ctx.untyped(), ObjectType::EndpointObject as usize, 0, s, 1)?;
    Ok(())
}

/// Panics on purpose: the panic message becomes this test's failure.
#[sel4_test]
fn panics_on_purpose() -> TestResult {
    let v: alloc::vec::Vec<u32> = alloc::vec![1, 2, 3];
    let i = v.len() + usize::from(v[0] == 1);
    ensure_eq!(v[i], 4, "index {i} should have panicked");
    Ok(())
}

/// Passes: heap and console still work after the panic.
#[sel4_test]
fn passes_after_panic() -> TestResult {
    let v: alloc::vec::Vec<u64> = (0..1000).collect();
    ensure_eq!(v.iter().sum::<u64>(), 499_500);
    Ok(())
}

/// Never ends: the harness stops it after its time limit.
#[sel4_test(timeout_ms = 500)]
fn hangs_on_purpose() -> TestResult {
    let mut n: u64 = 0;
    loop {
        n = core::hint::black_box(n.wrapping_add(1));
    }
}

/// Passes: the hung thread is gone and this one runs.
#[sel4_test]
fn passes_after_hang(ctx: &mut Ctx) -> TestResult {
    let n = ctx.create(ObjectType::NotificationObject, 0)?;
    let b = ctx.slot()?;
    kernel::cnode_mint(b, n, kernel::rights::ALL, 5)?;
    sel4_sys::signal(b);
    ensure_eq!(sel4_sys::poll(n), 5, "badge of the signal");
    Ok(())
}
