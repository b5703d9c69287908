//! Untyped retype: every object type, sizes, fan-out, alignment, device
//! untyped.

use sel4_sys::{Error, ObjectType};
use sel4_test_harness::kernel;
use sel4_test_harness::kernel::{rights, ROOT_VSPACE};
use sel4_test_harness::{ensure, ensure_eq, sel4_test, skip, Ctx, Failure, TestResult};

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
    check_type(ctx, crate::util::GRANULE, 0, tag::FRAME)?;
    check_type(ctx, crate::util::LARGE_PAGE, 0, tag::FRAME)
}

/// Every translation table level and the VSpace root retype into their
/// capability types (x86_64: PDPT, page directory, page table and PML4;
/// aarch64 and riscv64: every level is a page table, and the root is a
/// VSpace on aarch64, a page table on riscv64).
#[sel4_test]
fn retype_paging_structures(ctx: &mut Ctx) -> TestResult {
    for level in sel4::vspace::TABLE_LEVELS {
        // x86_64: a PDPT translates 39 bits, a page directory 30.
        let expected = match (cfg!(target_arch = "x86_64"), level.span_bits()) {
            (true, 39) => tag::PDPT,
            (true, 30) => tag::PAGE_DIRECTORY,
            _ => tag::PAGE_TABLE,
        };
        check_type(ctx, level.object_type(), 0, expected)?;
    }
    check_type(ctx, crate::vspace::VSPACE_ROOT, 0, tag::VSPACE_ROOT)
}

/// The 1 GiB frame object (x86_64 `X64_HugePageObject`, aarch64
/// `ARM_HugePageObject`, riscv64 `RISCV_Giga_Page`).
#[cfg(target_arch = "x86_64")]
const HUGE_PAGE: ObjectType = ObjectType::X64_HugePageObject;
#[cfg(target_arch = "aarch64")]
const HUGE_PAGE: ObjectType = ObjectType::ARM_HugePageObject;
#[cfg(target_arch = "riscv64")]
const HUGE_PAGE: ObjectType = ObjectType::RISCV_Giga_Page;

#[sel4_test]
fn retype_huge_page_needs_a_gigabyte(ctx: &mut Ctx) -> TestResult {
    let slot = ctx.slot()?;
    match ctx.extra_untyped(30) {
        Some((ut, _, _)) => {
            kernel::retype(ut, HUGE_PAGE as usize, 0, slot, 1)?;
            ensure_eq!(cap_type(slot)?, tag::FRAME);
        }
        None => {
            // Our budget is smaller than 1 GiB: the kernel must say so.
            let r = kernel::retype(ctx.untyped(), HUGE_PAGE as usize, 0, slot, 1);
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
    let e = expect_err(r, Error::RangeError, "an untyped above MaxUntypedBits")?;
    // seL4 10+ names the range up to seL4_MaxUntypedBits, 5.x up to
    // wordBits - 3.
    let max = if sel4_sys::KERNEL_VERSION_MAJOR >= 10 {
        sel4_sys::consts::MaxUntypedBits
    } else {
        sel4_sys::config::WORD_SIZE - 3
    };
    ensure_eq!((e.detail[0], e.detail[1]), (0, max as u64), "the range");
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
    kernel::retype(child, crate::util::GRANULE as usize, 0, f, 1)?;
    kernel::retype(child, crate::util::GRANULE as usize, 0, f + 1, 1)?;
    let r = kernel::retype(child, crate::util::GRANULE as usize, 0, f + 2, 1);
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
    let page = ctx.create(crate::util::GRANULE, 0)?;
    let large = ctx.create(crate::util::LARGE_PAGE, 0)?;
    let p = crate::util::frame_paddr(page)?;
    let l = crate::util::frame_paddr(large)?;
    ensure_eq!(p % 4096, 0, "page at {p:#x}");
    ensure_eq!(l % (2 << 20), 0, "large page at {l:#x}");
    ensure!(l > p, "objects are allocated upwards in the untyped");
    Ok(())
}

#[sel4_test]
fn retype_into_child_cnode(ctx: &mut Ctx) -> TestResult {
    let node = ctx.create(ObjectType::CapTableObject, 4)?;
    let notifications = |offset, count| {
        kernel::retype_into(
            ctx.untyped(),
            ObjectType::NotificationObject as usize,
            0,
            node,
            offset,
            count,
        )
    };
    notifications(14, 2)?;
    // Slots 14 and 15 are taken now.
    for offset in [14, 15] {
        expect_err(
            notifications(offset, 1),
            Error::DeleteFirst,
            "a notification onto one made there",
        )?;
    }
    let e = expect_err(
        notifications(15, 2),
        Error::RangeError,
        "a window past the end of a 16-slot CNode",
    )?;
    ensure_eq!(
        (e.detail[0], e.detail[1]),
        (1, 1),
        "the window's range from offset 15"
    );
    let e = expect_err(
        notifications(16, 1),
        Error::RangeError,
        "an offset past the end of a 16-slot CNode",
    )?;
    ensure_eq!((e.detail[0], e.detail[1]), (0, 15), "the offset's range");
    Ok(())
}

#[sel4_test]
fn retype_device_untyped_frame_only(ctx: &mut Ctx) -> TestResult {
    let Some((ut, bits, paddr)) = ctx.device_untyped(12) else {
        skip!("no device untyped of 4 KiB or more");
    };
    let s = ctx.slot()?;
    let r = kernel::retype(ut, ObjectType::TCBObject as usize, 0, s, 1);
    let e = expect_err(r, Error::InvalidArgument, "a TCB from device memory")?;
    ensure_eq!(e.detail[0], 1, "the object type's size argument is named");
    kernel::retype(ut, crate::util::GRANULE as usize, 0, s, 1)?;
    ensure_eq!(cap_type(s)?, tag::FRAME);
    let a = crate::util::frame_paddr(s)?;
    ensure_eq!(
        a,
        paddr,
        "first frame of device untyped 2^{bits} at {paddr:#x}"
    );
    Ok(())
}

/// The kernel's object sizes are powers of two between 16 bytes and a
/// page, and a TCB takes an untyped of `TCBBits` whole.
#[sel4_test]
fn a_tcb_fills_an_untyped_of_tcb_bits(ctx: &mut Ctx) -> TestResult {
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
    let e = expect_err(
        r,
        Error::NotEnoughMemory,
        "anything after a TCB in a TCB-sized untyped",
    )?;
    ensure_eq!(e.detail[0], 0, "bytes left in the untyped");
    Ok(())
}

/// Memory that a retype hands out again starts clean. The first objects of
/// an untyped are a frame written through a mapping, a notification with
/// a signal pending and a TCB with registers written; revoking the untyped
/// deletes them all, and the same objects made again (the frame at the
/// same physical address) keep none of it: the frame reads 0 where the
/// value was written, the notification polls 0, the TCB's registers read
/// 0. (Memory is read through `sel4-asm-probes`' access at
/// `FAULT_VADDR`, where this test maps the frame.)
#[sel4_test]
fn untyped_objects_are_zeroed(ctx: &mut Ctx) -> TestResult {
    use crate::util::{badged, is_empty, read_regs, write_regs};
    use sel4::FrameOps;
    use sel4_asm_probes::fault::{self, BAD_MAGIC, FAULT_VADDR, GOOD_MAGIC};
    // x86_64: the frame registers and the general ones to r15; aarch64
    // and riscv64: all of them, the thread-pointer ones included. Word 2
    // (x86_64 rflags, aarch64 spsr) reads back with the bits the kernel
    // forces.
    let regs_n: usize = if cfg!(target_arch = "x86_64") {
        18
    } else {
        sel4::UserContext::WORDS
    };
    let flags_word = if cfg!(target_arch = "riscv64") {
        None
    } else {
        Some(2)
    };
    let ut = ctx.create(ObjectType::UntypedObject, 16)?;
    crate::vspace::paging_for(ctx, ROOT_VSPACE, FAULT_VADDR)?;
    let first = ctx.slots(3)?;
    let (frame, ntfn, tcb) = (first, first + 1, first + 2);
    let make = || -> Result<u64, Failure> {
        for (slot, ty) in [
            (frame, crate::util::GRANULE),
            (ntfn, ObjectType::NotificationObject),
            (tcb, ObjectType::TCBObject),
        ] {
            kernel::retype(ut, ty as usize, 0, slot, 1)?;
        }
        crate::vspace::map_page(frame, ROOT_VSPACE, FAULT_VADDR & !0xfff, rights::RW)?;
        Ok(sel4::Cap::<sel4::Granule>::from_cptr(frame).paddr()?)
    };
    let paddr = make()?;
    ensure_eq!(fault::read(BAD_MAGIC), 0, "a new frame");
    fault::write(GOOD_MAGIC);
    ensure_eq!(fault::read(BAD_MAGIC), GOOD_MAGIC, "the value written");
    let signal = badged(ctx, ntfn, 0x77)?;
    sel4_sys::signal(signal);
    let regs: alloc::vec::Vec<u64> = (0..regs_n as u64).map(|i| 0x1000 + i).collect();
    write_regs(tcb, false, &regs)?;
    ensure_eq!(read_regs(tcb, regs_n)?[3], 0x1003, "register 3 written");

    // Revoking the untyped deletes every object made from it (and the
    // badged copy, and the frame's mapping).
    kernel::cnode_revoke(ut)?;
    for slot in [frame, ntfn, tcb, signal] {
        ensure!(is_empty(slot)?, "slot {slot:#x} survived the revoke");
    }
    let again = make()?;
    ensure_eq!(again, paddr, "the new frame's physical address");
    ensure_eq!(
        fault::read(BAD_MAGIC),
        0,
        "the new frame where the old one held {GOOD_MAGIC:#x}"
    );
    ensure_eq!(sel4_sys::poll(ntfn), 0, "the new notification");
    let regs = read_regs(tcb, regs_n)?;
    ensure!(
        regs.iter()
            .enumerate()
            .all(|(i, &r)| r == 0 || Some(i) == flags_word),
        "the new TCB's registers (the flags word aside): {regs:x?}"
    );
    crate::vspace::unmap_page(frame)?;
    Ok(())
}

/// The same over a whole frame, through the framework's safe view: a page
/// of an untyped of the test's own, filled with 0xa5 through a view; the
/// untyped reclaimed (the frame deleted) and a page made there again, at
/// the same physical address: every byte of it reads 0.
#[sel4_test]
fn a_reused_frame_reads_zero_in_every_byte(ctx: &mut Ctx) -> TestResult {
    use sel4::Granule;
    use sel4_rootserver::memory::frame_paddr;
    use sel4_rootserver::vspace::{Cache, RO, RW};
    fn refused<H>(r: sel4_rootserver::Refused<H>) -> Failure {
        Failure::fail(alloc::format!("refused: {}", r.error))
    }
    let bits = sel4_sys::consts::PageBits as u8;
    let mut objs = ctx.objects(crate::util::OBJECT_SLOTS)?;
    let ut = objs.create_untyped(12)?;
    let frame = objs.create_in::<Granule>(&ut)?;
    let paddr = frame_paddr(frame.cap()).map_err(crate::util::fw("GetAddress"))?;
    let mut v = objs
        .map_view(frame, bits, RW, Cache::Default)
        .map_err(refused)?;
    v.bytes_mut()
        .ok_or_else(|| Failure::fail("a new frame's view is exclusive"))?
        .fill(0xa5);
    ensure_eq!(v.read::<u8>(4095).map_err(crate::util::dbg("read"))?, 0xa5);
    let frame = objs.unmap_view(v).map_err(refused)?;
    ensure_eq!(objs.reclaim(&ut)?, 1, "the reclaim deleted the frame");
    objs.delete(frame).map_err(refused)?;
    let again = objs.create_in::<Granule>(&ut)?;
    ensure_eq!(
        frame_paddr(again.cap()).map_err(crate::util::fw("GetAddress"))?,
        paddr,
        "the new frame's physical address"
    );
    let v = objs
        .map_view(again, bits, RO, Cache::Default)
        .map_err(refused)?;
    let bytes = v
        .bytes()
        .ok_or_else(|| Failure::fail("a new frame's view is exclusive"))?;
    let dirty = bytes.iter().filter(|&&b| b != 0).count();
    ensure_eq!(dirty, 0, "bytes of the new frame that are not 0");
    let again = objs.unmap_view(v).map_err(refused)?;
    objs.delete(again).map_err(refused)?;
    objs.delete(ut).map_err(refused)?;
    Ok(())
}
