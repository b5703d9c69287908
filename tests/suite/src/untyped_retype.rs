//! Untyped_Retype case by case as seL4test's inc_untyped.c checks it
//! (RETYPE0000-0002): counts and offsets against the destination CNode's
//! size and the fan-out limit, occupied destinations, objects too large
//! for the untyped, and an untyped used up exactly.

use sel4_sys::consts::{MaxUntypedBits, SlotBits, TCBBits};
use sel4_sys::{Error, InvocationLabel, ObjectType, Word};
use sel4_test_harness::kernel::{self, invoke, ROOT_CNODE};
use sel4_test_harness::{ensure, ensure_eq, sel4_test, Ctx, Failure, TestResult};

use crate::util::expect_err;

/// A new untyped of `2^bits` bytes carved from the test's budget.
fn untyped(ctx: &mut Ctx, bits: usize) -> Result<Word, Failure> {
    ctx.create(ObjectType::UntypedObject, bits)
}

#[sel4_test(sel4test = "RETYPE0000")]
fn retype_counts_and_offsets(ctx: &mut Ctx) -> TestResult {
    const RADIX: u64 = 2;
    const SLOTS: u64 = 1 << RADIX;
    let cnode = ctx.create(ObjectType::CapTableObject, RADIX as usize)?;
    let ut = untyped(ctx, TCBBits + 3)?;
    let tcbs = |offset: u64, count: u64| {
        kernel::retype_into(
            ut,
            ObjectType::TCBObject as usize,
            0,
            cnode,
            offset,
            count as usize,
        )
    };
    let e = expect_err(tcbs(1, 0), Error::RangeError, "count 0")?;
    ensure_eq!(
        (e.detail[0], e.detail[1]),
        (1, sel4_sys::config::RETYPE_FAN_OUT_LIMIT as Word),
        "the range the kernel reports for the count"
    );
    expect_err(
        tcbs(SLOTS - 1, 2),
        Error::RangeError,
        "two objects into the last slot",
    )?;
    for i in 0..SLOTS {
        tcbs(i, 1)?;
    }
    expect_err(
        tcbs(SLOTS, 2),
        Error::RangeError,
        "an offset past the CNode",
    )?;
    for i in 0..SLOTS {
        expect_err(tcbs(i, 1), Error::DeleteFirst, "onto an object")?;
    }
    for i in 0..SLOTS {
        invoke(cnode, InvocationLabel::CNodeDelete, &[], &[i, RADIX])?;
    }
    expect_err(tcbs(0, 1 << 31), Error::RangeError, "2^31 objects")?;
    expect_err(
        tcbs(0, SLOTS + 1),
        Error::RangeError,
        "more objects than slots",
    )?;
    tcbs(0, SLOTS - 1)?;
    for i in 0..SLOTS {
        let r = tcbs(i, 1);
        if i == SLOTS - 1 {
            r?;
        } else {
            expect_err(r, Error::DeleteFirst, "onto an object")?;
        }
    }
    Ok(())
}

#[sel4_test(sel4test = "RETYPE0001")]
fn retype_nothing_larger_than_the_untyped(ctx: &mut Ctx) -> TestResult {
    let bits = 13;
    let ut = untyped(ctx, bits)?;
    let dest = ctx.slot()?;
    let cnode = |radix: usize| {
        kernel::retype_into(
            ut,
            ObjectType::CapTableObject as usize,
            radix,
            ROOT_CNODE,
            dest,
            1,
        )
    };
    for more in (1..=40).rev() {
        let radix = bits - SlotBits + more;
        // A size past any untyped's is a RangeError: seL4 10+ checks the
        // object's size (radix + SlotBits) against seL4_MaxUntypedBits, 5.x
        // the size argument (the radix), naming the range up to
        // wordBits - 3. Any smaller size does not fit this untyped, whose
        // 2^bits bytes are all free.
        let r = cnode(radix);
        let what = alloc::format!("a CNode {more} bits larger than the untyped (radix {radix})");
        let range = if sel4_sys::KERNEL_VERSION_MAJOR >= 10 {
            (radix + SlotBits > MaxUntypedBits).then_some(MaxUntypedBits)
        } else {
            (radix > MaxUntypedBits).then_some(sel4_sys::config::WORD_SIZE - 3)
        };
        match range {
            Some(max) => {
                let e = expect_err(r, Error::RangeError, &what)?;
                ensure_eq!(
                    (e.detail[0], e.detail[1]),
                    (0, max as Word),
                    "{what}: the range"
                );
            }
            None => {
                let e = expect_err(r, Error::NotEnoughMemory, &what)?;
                ensure_eq!(e.detail[0], 1 << bits, "{what}: the bytes free");
            }
        }
        ensure!(crate::util::is_empty(dest)?);
    }
    cnode(bits - SlotBits)?;
    ensure!(
        !crate::util::is_empty(dest)?,
        "a CNode of the untyped's size"
    );
    Ok(())
}

#[sel4_test(sel4test = "RETYPE0002")]
fn retype_pages_until_the_untyped_is_full(ctx: &mut Ctx) -> TestResult {
    let slots = ctx.slots(17)?;
    let ut = untyped(ctx, 16)?;
    let page = |slot: Word, count: usize| {
        kernel::retype(ut, crate::util::GRANULE as usize, 0, slot, count)
    };
    for i in 0..16 {
        page(slots + i, 1)?;
    }
    expect_err(
        page(slots + 16, 1024 * 1024),
        Error::RangeError,
        "2^20 pages",
    )?;
    expect_err(page(slots, 8), Error::DeleteFirst, "onto a page")?;
    expect_err(
        page(slots + 16, 1),
        Error::NotEnoughMemory,
        "a 17th page in 64 KiB",
    )?;
    Ok(())
}
