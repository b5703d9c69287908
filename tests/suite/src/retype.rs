//! Untyped retype: every object type, sizes, fan-out, alignment, device
//! untyped.

use sel4_sys::{Error, InvocationLabel, ObjectType};
use sel4_test_harness::kernel::{self, invoke};
use sel4_test_harness::{ensure, ensure_eq, sel4_test, skip, Ctx, TestResult};

use crate::util::{cap_type, expect_err, tag};

fn check_type(ctx: &mut Ctx, ty: ObjectType, size_bits: usize, expected: u64) -> TestResult {
    let s = ctx.create(ty, size_bits)?;
    ensure_eq!(cap_type(s)?, expected, "cap type of a new {:?}", ty);
    Ok(())
}

#[sel4_test]
fn retype_tcb(ctx: &mut Ctx) -> TestResult {
    check_type(ctx, ObjectType::TCBObject, 0, tag::THREAD)
}

#[sel4_test]
fn retype_endpoint(ctx: &mut Ctx) -> TestResult {
    check_type(ctx, ObjectType::EndpointObject, 0, tag::ENDPOINT)
}

#[sel4_test]
fn retype_notification(ctx: &mut Ctx) -> TestResult {
    check_type(ctx, ObjectType::NotificationObject, 0, tag::NOTIFICATION)
}

#[sel4_test]
fn retype_cnode_sizes(ctx: &mut Ctx) -> TestResult {
    for bits in [1usize, 4, 8, 12] {
        check_type(ctx, ObjectType::CapTableObject, bits, tag::CNODE)?;
    }
    Ok(())
}

#[sel4_test]
fn retype_untyped_sizes(ctx: &mut Ctx) -> TestResult {
    for bits in [4usize, 5, 12, 20] {
        check_type(ctx, ObjectType::UntypedObject, bits, tag::UNTYPED)?;
    }
    Ok(())
}

#[sel4_test]
fn retype_frames(ctx: &mut Ctx) -> TestResult {
    check_type(ctx, ObjectType::X86_4K, 0, tag::FRAME)?;
    check_type(ctx, ObjectType::X86_LargePageObject, 0, tag::FRAME)
}

#[sel4_test]
fn retype_paging_structures(ctx: &mut Ctx) -> TestResult {
    check_type(ctx, ObjectType::X86_PageTableObject, 0, tag::PAGE_TABLE)?;
    check_type(
        ctx,
        ObjectType::X86_PageDirectoryObject,
        0,
        tag::PAGE_DIRECTORY,
    )?;
    check_type(ctx, ObjectType::X86_PDPTObject, 0, tag::PDPT)?;
    check_type(ctx, ObjectType::X64_PML4Object, 0, tag::PML4)
}

#[sel4_test]
fn retype_huge_page_needs_a_gigabyte(ctx: &mut Ctx) -> TestResult {
    let slot = ctx.slot()?;
    match ctx.extra_untyped(30) {
        Some((ut, _, _)) => {
            kernel::retype(ut, ObjectType::X64_HugePageObject as usize, 0, slot, 1)?;
            ensure_eq!(cap_type(slot)?, tag::FRAME);
        }
        None => {
            // Our budget is smaller than 1 GiB: the kernel must say so.
            let r = kernel::retype(
                ctx.untyped(),
                ObjectType::X64_HugePageObject as usize,
                0,
                slot,
                1,
            );
            expect_err(
                r,
                Error::NotEnoughMemory,
                "a huge page from a small untyped",
            )?;
        }
    }
    Ok(())
}

#[sel4_test]
fn retype_fan_out_limit(ctx: &mut Ctx) -> TestResult {
    let limit = sel4_sys::config::RETYPE_FAN_OUT_LIMIT;
    let first = ctx.slots(limit + 1)?;
    let r = kernel::retype(
        ctx.untyped(),
        ObjectType::EndpointObject as usize,
        0,
        first,
        limit + 1,
    );
    let e = expect_err(r, Error::RangeError, "one object past the fan-out limit")?;
    ensure_eq!(e.detail[0], 1);
    ensure_eq!(e.detail[1], limit as u64);
    kernel::retype(
        ctx.untyped(),
        ObjectType::EndpointObject as usize,
        0,
        first,
        limit,
    )?;
    ensure_eq!(cap_type(first)?, tag::ENDPOINT);
    ensure_eq!(cap_type(first + limit as u64 - 1)?, tag::ENDPOINT);
    ensure_eq!(cap_type(first + limit as u64)?, tag::NULL);
    Ok(())
}

#[sel4_test(sel4test_partly = "RETYPE0000")]
fn retype_count_zero_is_range_error(ctx: &mut Ctx) -> TestResult {
    let s = ctx.slot()?;
    let r = kernel::retype(ctx.untyped(), ObjectType::EndpointObject as usize, 0, s, 0);
    expect_err(r, Error::RangeError, "retype of 0 objects")?;
    Ok(())
}

#[sel4_test]
fn retype_untyped_size_limits(ctx: &mut Ctx) -> TestResult {
    let s = ctx.slot()?;
    let r = kernel::retype(ctx.untyped(), ObjectType::UntypedObject as usize, 3, s, 1);
    let e = expect_err(r, Error::InvalidArgument, "an untyped below MinUntypedBits")?;
    ensure_eq!(e.detail[0], 1, "the size argument is the invalid one");
    let r = kernel::retype(ctx.untyped(), ObjectType::UntypedObject as usize, 63, s, 1);
    expect_err(r, Error::RangeError, "an untyped above MaxUntypedBits")?;
    Ok(())
}

#[sel4_test(sel4test_partly = "RETYPE0001")]
fn retype_too_big_is_not_enough_memory(ctx: &mut Ctx) -> TestResult {
    let s = ctx.slot()?;
    let bits = ctx.budget_bits() + 1;
    let r = kernel::retype(
        ctx.untyped(),
        ObjectType::UntypedObject as usize,
        bits,
        s,
        1,
    );
    expect_err(
        r,
        Error::NotEnoughMemory,
        "an untyped bigger than its parent",
    )?;
    Ok(())
}

#[sel4_test(sel4test_partly = "RETYPE0002")]
fn retype_exhausts_untyped(ctx: &mut Ctx) -> TestResult {
    let child = ctx.slot()?;
    kernel::retype(
        ctx.untyped(),
        ObjectType::UntypedObject as usize,
        13,
        child,
        1,
    )?;
    let f = ctx.slots(3)?;
    kernel::retype(child, ObjectType::X86_4K as usize, 0, f, 1)?;
    kernel::retype(child, ObjectType::X86_4K as usize, 0, f + 1, 1)?;
    let r = kernel::retype(child, ObjectType::X86_4K as usize, 0, f + 2, 1);
    let e = expect_err(r, Error::NotEnoughMemory, "a third page from 8 KiB")?;
    ensure_eq!(e.detail[0], 0, "bytes left in the untyped");
    Ok(())
}

#[sel4_test(sel4test_partly = "RETYPE0000")]
fn retype_into_occupied_slot_is_delete_first(ctx: &mut Ctx) -> TestResult {
    let s = ctx.create(ObjectType::EndpointObject, 0)?;
    let r = kernel::retype(ctx.untyped(), ObjectType::EndpointObject as usize, 0, s, 1);
    expect_err(r, Error::DeleteFirst, "retype onto a cap")?;
    Ok(())
}

#[sel4_test]
fn retype_invalid_type_is_invalid_argument(ctx: &mut Ctx) -> TestResult {
    let s = ctx.slot()?;
    let r = kernel::retype(ctx.untyped(), ObjectType::ObjectTypeCount + 5, 0, s, 1);
    let e = expect_err(r, Error::InvalidArgument, "object type out of range")?;
    ensure_eq!(e.detail[0], 0, "the invalid argument is the first");
    Ok(())
}

#[sel4_test]
fn retype_aligns_objects(ctx: &mut Ctx) -> TestResult {
    // An endpoint first, then a page and a large page: each new object
    // starts at a multiple of its own size.
    ctx.create(ObjectType::EndpointObject, 0)?;
    let page = ctx.create(ObjectType::X86_4K, 0)?;
    let large = ctx.create(ObjectType::X86_LargePageObject, 0)?;
    let p = invoke(page, InvocationLabel::X86PageGetAddress, &[], &[])?.mrs[0];
    let l = invoke(large, InvocationLabel::X86PageGetAddress, &[], &[])?.mrs[0];
    ensure_eq!(p % 4096, 0, "page at {p:#x}");
    ensure_eq!(l % (2 << 20), 0, "large page at {l:#x}");
    ensure!(l > p, "objects are allocated upwards in the untyped");
    Ok(())
}

#[sel4_test]
fn retype_into_child_cnode(ctx: &mut Ctx) -> TestResult {
    let node = ctx.create(ObjectType::CapTableObject, 4)?;
    kernel::retype_into(
        ctx.untyped(),
        ObjectType::NotificationObject as usize,
        0,
        node,
        14,
        2,
    )?;
    let r = kernel::retype_into(
        ctx.untyped(),
        ObjectType::NotificationObject as usize,
        0,
        node,
        15,
        2,
    );
    expect_err(
        r,
        Error::RangeError,
        "a window past the end of a 16-slot CNode",
    )?;
    Ok(())
}

#[sel4_test]
fn retype_device_untyped_frame_only(ctx: &mut Ctx) -> TestResult {
    let Some((ut, bits, paddr)) = ctx.device_untyped(12) else {
        skip!("no device untyped of 4 KiB or more");
    };
    let s = ctx.slot()?;
    let r = kernel::retype(ut, ObjectType::TCBObject as usize, 0, s, 1);
    expect_err(r, Error::InvalidArgument, "a TCB from device memory")?;
    kernel::retype(ut, ObjectType::X86_4K as usize, 0, s, 1)?;
    ensure_eq!(cap_type(s)?, tag::FRAME);
    let a = invoke(s, InvocationLabel::X86PageGetAddress, &[], &[])?.mrs[0];
    ensure_eq!(
        a,
        paddr,
        "first frame of device untyped 2^{bits} at {paddr:#x}"
    );
    Ok(())
}

#[sel4_test]
fn untyped_objects_are_zeroed_sizes(ctx: &mut Ctx) -> TestResult {
    // Every fixed-size kernel object size the kernel reports is a power
    // of two no smaller than 16 bytes: check the generated constants.
    use sel4_sys::consts;
    for (name, bits) in [
        ("TCB", consts::TCBBits),
        ("Endpoint", consts::EndpointBits),
        ("Notification", consts::NotificationBits),
        ("Page", consts::PageBits),
        ("PageTable", consts::PageTableBits),
        ("Slot", consts::SlotBits),
    ] {
        ensure!((4..=12).contains(&bits), "{name} bits {bits}");
    }
    // Fill a 2^TCBBits untyped with one TCB: nothing more fits.
    let child = ctx.slot()?;
    kernel::retype(
        ctx.untyped(),
        ObjectType::UntypedObject as usize,
        consts::TCBBits,
        child,
        1,
    )?;
    let s = ctx.slots(2)?;
    kernel::retype(child, ObjectType::TCBObject as usize, 0, s, 1)?;
    let r = kernel::retype(child, ObjectType::EndpointObject as usize, 0, s + 1, 1);
    expect_err(
        r,
        Error::NotEnoughMemory,
        "anything after a TCB in a TCB-sized untyped",
    )?;
    Ok(())
}
