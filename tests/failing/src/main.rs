//! sel4test-failing: tests that fail on purpose, between tests that pass.
//! The run must report the failure and still complete the rest; the host
//! runs it with `sel4-run --expect-fail` (the boot fails as it should).
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
