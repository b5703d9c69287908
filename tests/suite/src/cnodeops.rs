//! CNode invocations, case by case as seL4test's cnodeops.c checks them
//! (CNODEOP0001-CNODEOP0009): each operation's success and its errors
//! (an occupied destination, an empty source, a rotate onto itself),
//! with the slots' contents checked after each. The caps moved around
//! are TCB caps, so that two slots can be shown to hold the same object.

use sel4_sys::{Error, InvocationLabel, ObjectType, Word};
use sel4_test_harness::kernel::{self, invoke, rights, DEPTH, ROOT_CNODE};
use sel4_test_harness::{ensure, sel4_test, Ctx, Failure, TestResult};

use crate::util::{endpoint, expect_err, is_empty, read_regs, write_regs};

/// A cap to move around (sel4test's get_cap: a new TCB).
fn cap(ctx: &mut Ctx) -> Result<Word, Failure> {
    ctx.create(ObjectType::TCBObject, 0)
}

/// Do the caps in `a` and `b` name the same TCB? (sel4test's
/// are_tcbs_distinct: an instruction pointer written through one is read
/// through the other.)
fn same_tcb(a: Word, b: Word) -> Result<bool, Failure> {
    let mut regs = read_regs(a, 1)?;
    for ip in [0x1111, 0x2222] {
        regs[0] = ip;
        write_regs(a, false, &regs)?;
        if read_regs(b, 1)?[0] != ip {
            return Ok(false);
        }
    }
    Ok(true)
}

fn full(slot: Word) -> Result<bool, Failure> {
    Ok(!is_empty(slot)?)
}

#[sel4_test(sel4test = "CNODEOP0001")]
fn cnode_copy_cases(ctx: &mut Ctx) -> TestResult {
    let (src, dest) = (cap(ctx)?, ctx.slot()?);
    ensure!(is_empty(dest)?);
    kernel::cnode_copy(dest, src, rights::ALL)?;
    ensure!(same_tcb(src, dest)?, "the copy names the same TCB");

    let (src, dest) = (cap(ctx)?, cap(ctx)?);
    expect_err(
        kernel::cnode_copy(dest, src, rights::ALL),
        Error::DeleteFirst,
        "copy onto a cap",
    )?;

    // The destination is checked first: an empty source onto a cap.
    let (src, dest) = (ctx.slot()?, cap(ctx)?);
    expect_err(
        kernel::cnode_copy(dest, src, rights::ALL),
        Error::DeleteFirst,
        "copy of an empty slot onto a cap",
    )?;

    let (src, dest) = (ctx.slot()?, ctx.slot()?);
    expect_err(
        kernel::cnode_copy(dest, src, rights::ALL),
        Error::FailedLookup,
        "copy of an empty slot",
    )?;
    ensure!(is_empty(dest)?);
    Ok(())
}

#[sel4_test(sel4test = "CNODEOP0002")]
fn cnode_delete_cases(ctx: &mut Ctx) -> TestResult {
    let slot = cap(ctx)?;
    kernel::cnode_delete(slot)?;
    ensure!(is_empty(slot)?, "deleted");
    let slot = ctx.slot()?;
    kernel::cnode_delete(slot)?;
    ensure!(
        is_empty(slot)?,
        "deleting an empty slot succeeds and leaves it empty"
    );
    Ok(())
}

#[sel4_test(sel4test = "CNODEOP0003")]
fn cnode_mint_cases(ctx: &mut Ctx) -> TestResult {
    let (src, dest) = (cap(ctx)?, ctx.slot()?);
    kernel::cnode_mint(dest, src, rights::ALL, 0)?;
    ensure!(same_tcb(src, dest)?, "the minted cap names the same TCB");

    let (src, dest) = (cap(ctx)?, cap(ctx)?);
    expect_err(
        kernel::cnode_mint(dest, src, rights::ALL, 0),
        Error::DeleteFirst,
        "mint onto a cap",
    )?;
    ensure!(!same_tcb(src, dest)?, "the destination keeps its own TCB");

    let (src, dest) = (ctx.slot()?, ctx.slot()?);
    expect_err(
        kernel::cnode_mint(dest, src, rights::ALL, 0),
        Error::FailedLookup,
        "mint from an empty slot",
    )?;
    ensure!(is_empty(dest)?);
    Ok(())
}

#[sel4_test(sel4test = "CNODEOP0004")]
fn cnode_move_cases(ctx: &mut Ctx) -> TestResult {
    let (src, dest) = (cap(ctx)?, ctx.slot()?);
    kernel::cnode_move(dest, src)?;
    ensure!(is_empty(src)?, "a move empties the source");
    ensure!(full(dest)?, "and fills the destination");

    let (src, dest) = (ctx.slot()?, ctx.slot()?);
    expect_err(
        kernel::cnode_move(dest, src),
        Error::FailedLookup,
        "move from an empty slot",
    )?;
    ensure!(is_empty(dest)?, "the destination stays empty");

    let (src, dest) = (cap(ctx)?, cap(ctx)?);
    expect_err(
        kernel::cnode_move(dest, src),
        Error::DeleteFirst,
        "move onto a cap",
    )?;
    ensure!(full(src)? && full(dest)?, "both caps stay");
    ensure!(!same_tcb(src, dest)?, "each in its slot");
    Ok(())
}

#[sel4_test(sel4test = "CNODEOP0005")]
fn cnode_mutate_cases(ctx: &mut Ctx) -> TestResult {
    let (src, dest) = (cap(ctx)?, ctx.slot()?);
    kernel::cnode_mutate(dest, src, 0)?;
    ensure!(is_empty(src)?, "a mutate empties the source");
    ensure!(full(dest)?, "and fills the destination");

    let (src, dest) = (cap(ctx)?, cap(ctx)?);
    expect_err(
        kernel::cnode_mutate(dest, src, 0),
        Error::DeleteFirst,
        "mutate onto a cap",
    )?;
    ensure!(full(src)? && full(dest)?, "both caps stay");

    let (src, dest) = (ctx.slot()?, ctx.slot()?);
    expect_err(
        kernel::cnode_mutate(dest, src, 0),
        Error::FailedLookup,
        "mutate of an empty slot",
    )?;
    ensure!(is_empty(src)? && is_empty(dest)?, "both slots stay empty");
    Ok(())
}

fn cancel_badged_sends(slot: Word) -> kernel::KResult {
    invoke(
        ROOT_CNODE,
        InvocationLabel::CNodeCancelBadgedSends,
        &[],
        &[slot, DEPTH],
    )
}

#[sel4_test(sel4test = "CNODEOP0006")]
fn cnode_cancel_badged_sends_cases(ctx: &mut Ctx) -> TestResult {
    let ep = endpoint(ctx)?;
    cancel_badged_sends(ep)?;
    ensure!(full(ep)?, "the endpoint cap stays");
    let slot = ctx.slot()?;
    expect_err(
        cancel_badged_sends(slot),
        Error::IllegalOperation,
        "CancelBadgedSends of an empty slot",
    )?;
    ensure!(is_empty(slot)?);
    Ok(())
}

#[sel4_test(sel4test = "CNODEOP0007")]
fn cnode_revoke_cases(ctx: &mut Ctx) -> TestResult {
    let slot = cap(ctx)?;
    kernel::cnode_revoke(slot)?;
    ensure!(full(slot)?, "revoke keeps the cap itself");
    let slot = ctx.slot()?;
    kernel::cnode_revoke(slot)?;
    ensure!(is_empty(slot)?, "revoking an empty slot succeeds");
    Ok(())
}

#[sel4_test(sel4test = "CNODEOP0008")]
fn cnode_rotate_cases(ctx: &mut Ctx) -> TestResult {
    // src -> pivot, pivot -> dest.
    let (src, pivot, dest) = (cap(ctx)?, cap(ctx)?, ctx.slot()?);
    let (src_copy, pivot_copy) = (ctx.slot()?, ctx.slot()?);
    kernel::cnode_copy(src_copy, src, rights::ALL)?;
    kernel::cnode_copy(pivot_copy, pivot, rights::ALL)?;
    kernel::cnode_rotate(dest, 0, pivot, 0, src)?;
    ensure!(is_empty(src)?, "the source is empty");
    ensure!(
        same_tcb(pivot, src_copy)?,
        "the pivot slot holds the source's cap"
    );
    ensure!(
        same_tcb(dest, pivot_copy)?,
        "the destination holds the pivot's cap"
    );

    let (src, pivot, dest) = (cap(ctx)?, cap(ctx)?, cap(ctx)?);
    expect_err(
        kernel::cnode_rotate(dest, 0, pivot, 0, src),
        Error::DeleteFirst,
        "rotate onto a cap",
    )?;
    ensure!(full(src)? && full(pivot)? && full(dest)?, "all three stay");

    // Destination = source: the two caps swap.
    let (src, pivot) = (cap(ctx)?, cap(ctx)?);
    let (src_copy, pivot_copy) = (ctx.slot()?, ctx.slot()?);
    kernel::cnode_copy(src_copy, src, rights::ALL)?;
    kernel::cnode_copy(pivot_copy, pivot, rights::ALL)?;
    kernel::cnode_rotate(src, 0, pivot, 0, src)?;
    ensure!(
        same_tcb(src, pivot_copy)?,
        "the source slot holds the pivot's cap"
    );
    ensure!(
        same_tcb(pivot, src_copy)?,
        "the pivot slot holds the source's cap"
    );

    // Pivot = source: refused.
    let (src, dest) = (cap(ctx)?, ctx.slot()?);
    expect_err(
        kernel::cnode_rotate(dest, 0, src, 0, src),
        Error::IllegalOperation,
        "rotate with the pivot the source",
    )?;
    ensure!(full(src)? && is_empty(dest)?, "nothing moved");

    let (src, pivot, dest) = (ctx.slot()?, ctx.slot()?, ctx.slot()?);
    expect_err(
        kernel::cnode_rotate(dest, 0, pivot, 0, src),
        Error::FailedLookup,
        "rotate of empty slots",
    )?;
    ensure!(is_empty(src)? && is_empty(pivot)? && is_empty(dest)?);
    Ok(())
}

#[sel4_test(sel4test = "CNODEOP0009")]
fn cnode_save_caller_cases(ctx: &mut Ctx) -> TestResult {
    sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
        let _ = ctx;
        crate::util::no_save_caller()
    } else {
        cnode_save_caller_cases_inner(ctx)
    } }
}

sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {} else {
    use crate::util::{fw, OBJECT_SLOTS};
    use sel4_sys::MessageInfo;
    use sel4_test_harness::ensure_eq;

    fn save_caller(slot: Word) -> kernel::KResult {
        invoke(
            ROOT_CNODE,
            InvocationLabel::CNodeSaveCaller,
            &[],
            &[slot, DEPTH],
        )
    }

    fn cnode_save_caller_cases_inner(ctx: &mut Ctx) -> TestResult {
        // No caller: saving succeeds and leaves the slot empty.
        let slot = ctx.slot()?;
        save_caller(slot)?;
        ensure!(is_empty(slot)?, "nothing to save");
        // Into an occupied slot: refused, the cap stays.
        let slot = cap(ctx)?;
        expect_err(
            save_caller(slot),
            Error::DeleteFirst,
            "SaveCaller onto a cap",
        )?;
        ensure!(full(slot)?);
        // With a caller (seL4test leaves this as a TODO): the saved reply cap
        // answers the caller, once.
        let ep = endpoint(ctx)?;
        let saved = ctx.slot()?;
        let mut objs = ctx.objects(OBJECT_SLOTS)?;
        let client = sel4_rootserver::thread::spawn(&mut objs, move || {
            let r = sel4_sys::call_regs(ep, MessageInfo::new(1, 0, 0, 1), [41, 0, 0, 0]);
            (r.info.get_label(), r.mrs[0])
        })
        .map_err(fw("spawn"))?;
        let r = sel4_sys::recv_regs(ep);
        ensure_eq!(r.mrs[0], 41);
        save_caller(saved)?;
        ensure!(full(saved)?, "the reply cap is saved");
        // The thread's own reply slot is empty now: Reply goes nowhere.
        sel4_sys::reply_regs(MessageInfo::new(9, 0, 0, 1), [9, 0, 0, 0]);
        sel4_sys::send_regs(saved, MessageInfo::new(5, 0, 0, 1), [42, 0, 0, 0]);
        ensure_eq!(
            client.join(&mut objs).map_err(fw("join"))?,
            (5, 42),
            "the client's reply"
        );
        ensure!(is_empty(saved)?, "a reply cap is used up by the reply");
        Ok(())
    }
} }
