//! CNode operations: copy, mint, move, mutate, rotate, delete, revoke,
//! badges and rights.

use sel4_sys::{Error, InvocationLabel, ObjectType};
use sel4_test_harness::kernel::{self, invoke, rights, DEPTH, ROOT_CNODE};
use sel4_test_harness::{ensure, ensure_eq, sel4_test, Ctx, TestResult};

use crate::util::{badged, cap_type, cnode_guard_data, expect_err, is_empty, notification, tag};

#[sel4_test(sel4test_partly = "CNODEOP0001")]
fn copy_makes_a_working_cap(ctx: &mut Ctx) -> TestResult {
    let n = notification(ctx)?;
    let b = badged(ctx, n, 0x11)?;
    let c = ctx.slot()?;
    kernel::cnode_copy(c, b, rights::ALL)?;
    ensure_eq!(cap_type(c)?, tag::NOTIFICATION);
    sel4_sys::signal(c);
    ensure_eq!(sel4_sys::poll(n), 0x11, "a copy keeps the badge");
    Ok(())
}

#[sel4_test(sel4test_partly = "CNODEOP0001")]
fn copy_into_occupied_slot_is_delete_first(ctx: &mut Ctx) -> TestResult {
    let n = notification(ctx)?;
    let m = notification(ctx)?;
    expect_err(
        kernel::cnode_copy(m, n, rights::ALL),
        Error::DeleteFirst,
        "copy onto a cap",
    )?;
    // The destination still names its own notification: a signal through
    // it does not reach the source's.
    let mb = badged(ctx, m, 0x2)?;
    sel4_sys::signal(mb);
    ensure_eq!(sel4_sys::poll(n), 0, "the source's notification");
    ensure_eq!(sel4_sys::poll(m), 0x2, "the destination's notification");
    Ok(())
}

#[sel4_test(sel4test_partly = "CNODEOP0001")]
fn copy_from_empty_slot_fails_lookup(ctx: &mut Ctx) -> TestResult {
    let empty = ctx.slot()?;
    let dest = ctx.slot()?;
    let e = expect_err(
        kernel::cnode_copy(dest, empty, rights::ALL),
        Error::FailedLookup,
        "copy of nothing",
    )?;
    // The source, a missing capability with the whole depth left.
    ensure_eq!(
        e.detail,
        [1, 2, 64],
        "(source, lookup failure type + 1, bits left)"
    );
    ensure!(is_empty(dest)?, "the destination stays empty");
    Ok(())
}

#[sel4_test(sel4test_partly = "CNODEOP0003")]
fn mint_sets_badge(ctx: &mut Ctx) -> TestResult {
    let n = notification(ctx)?;
    let b = badged(ctx, n, 0x40)?;
    sel4_sys::signal(b);
    ensure_eq!(sel4_sys::poll(n), 0x40);
    Ok(())
}

#[sel4_test]
fn mint_of_badged_cap_is_illegal(ctx: &mut Ctx) -> TestResult {
    let n = notification(ctx)?;
    let b = badged(ctx, n, 1)?;
    let d = ctx.slot()?;
    expect_err(
        kernel::cnode_mint(d, b, rights::ALL, 2),
        Error::IllegalOperation,
        "re-badging a badged cap",
    )?;
    Ok(())
}

#[sel4_test]
fn mint_without_write_cannot_signal(ctx: &mut Ctx) -> TestResult {
    let n = notification(ctx)?;
    let ro = ctx.slot()?;
    kernel::cnode_mint(ro, n, rights::READ, 0x8)?;
    sel4_sys::signal(ro);
    ensure_eq!(
        sel4_sys::poll(n),
        0,
        "a read-only notification cap must not signal"
    );
    let rw = badged(ctx, n, 0x8)?;
    sel4_sys::signal(rw);
    ensure_eq!(sel4_sys::poll(n), 0x8);
    Ok(())
}

#[sel4_test]
fn copy_cannot_add_rights(ctx: &mut Ctx) -> TestResult {
    let n = notification(ctx)?;
    let ro = ctx.slot()?;
    kernel::cnode_mint(ro, n, rights::READ, 0x3)?;
    let again = ctx.slot()?;
    kernel::cnode_copy(again, ro, rights::ALL)?;
    sel4_sys::signal(again);
    ensure_eq!(
        sel4_sys::poll(n),
        0,
        "rights of a copy are masked by the source's"
    );
    Ok(())
}

#[sel4_test(sel4test_partly = "CNODEOP0004")]
fn move_empties_source(ctx: &mut Ctx) -> TestResult {
    let n = notification(ctx)?;
    let b = badged(ctx, n, 0x5)?;
    let d = ctx.slot()?;
    kernel::cnode_move(d, b)?;
    ensure!(is_empty(b)?, "source slot still holds a cap after Move");
    ensure_eq!(cap_type(d)?, tag::NOTIFICATION);
    sel4_sys::signal(d);
    ensure_eq!(sel4_sys::poll(n), 0x5, "a moved cap keeps its badge");
    Ok(())
}

#[sel4_test(sel4test_partly = "CNODEOP0004")]
fn move_into_occupied_slot_is_delete_first(ctx: &mut Ctx) -> TestResult {
    let n = notification(ctx)?;
    let m = notification(ctx)?;
    expect_err(
        kernel::cnode_move(m, n),
        Error::DeleteFirst,
        "move onto a cap",
    )?;
    ensure_eq!(
        cap_type(n)?,
        tag::NOTIFICATION,
        "a failed move must leave the source"
    );
    Ok(())
}

#[sel4_test]
fn mutate_notification_with_badge_is_illegal(ctx: &mut Ctx) -> TestResult {
    let n = notification(ctx)?;
    let d = ctx.slot()?;
    expect_err(
        kernel::cnode_mutate(d, n, 3),
        Error::IllegalOperation,
        "mutating a badge in",
    )?;
    Ok(())
}

#[sel4_test(sel4test_partly = "CNODEOP0005")]
fn mutate_sets_cnode_guard(ctx: &mut Ctx) -> TestResult {
    let radix = 4u64;
    let node = ctx.create(ObjectType::CapTableObject, radix as usize)?;
    let n = notification(ctx)?;
    // Without a guard, a 64-bit lookup in a 4-bit CNode fails.
    let r = invoke(
        node,
        InvocationLabel::CNodeCopy,
        &[ROOT_CNODE],
        &[3, DEPTH, n, DEPTH, rights::ALL],
    );
    expect_err(
        r,
        Error::FailedLookup,
        "depth-64 lookup in an unguarded 16-slot CNode",
    )?;
    let guarded = ctx.slot()?;
    kernel::cnode_mutate(guarded, node, cnode_guard_data(0, 64 - radix))?;
    ensure!(is_empty(node)?, "Mutate moves the cap");
    invoke(
        guarded,
        InvocationLabel::CNodeCopy,
        &[ROOT_CNODE],
        &[3, DEPTH, n, DEPTH, rights::ALL],
    )?;
    // The copy is there: copying onto it again fails.
    let r = invoke(
        guarded,
        InvocationLabel::CNodeCopy,
        &[ROOT_CNODE],
        &[3, DEPTH, n, DEPTH, rights::ALL],
    );
    expect_err(r, Error::DeleteFirst, "second copy into slot 3")?;
    Ok(())
}

#[sel4_test(sel4test_partly = "CNODEOP0008")]
fn rotate_moves_two_caps(ctx: &mut Ctx) -> TestResult {
    let tcb = ctx.create(ObjectType::TCBObject, 0)?;
    let node = ctx.create(ObjectType::CapTableObject, 2)?;
    let dest = ctx.slot()?;
    // pivot (the TCB) goes to dest, src (the CNode) goes to pivot.
    kernel::cnode_rotate(dest, 0, tcb, 0, node)?;
    ensure_eq!(cap_type(dest)?, tag::THREAD);
    ensure_eq!(cap_type(tcb)?, tag::CNODE);
    ensure!(is_empty(node)?, "rotate must empty the source");
    Ok(())
}

#[sel4_test(sel4test_partly = "CNODEOP0008")]
fn rotate_into_occupied_dest_is_delete_first(ctx: &mut Ctx) -> TestResult {
    let a = ctx.create(ObjectType::TCBObject, 0)?;
    let b = ctx.create(ObjectType::CapTableObject, 2)?;
    let c = ctx.create(ObjectType::CapTableObject, 2)?;
    expect_err(
        kernel::cnode_rotate(c, 0, a, 0, b),
        Error::DeleteFirst,
        "rotate onto a cap",
    )?;
    ensure_eq!(
        (cap_type(a)?, cap_type(b)?, cap_type(c)?),
        (tag::THREAD, tag::CNODE, tag::CNODE),
        "nothing moved"
    );
    Ok(())
}

#[sel4_test(sel4test = "CNODEOP0002")]
fn delete_empties_slot(ctx: &mut Ctx) -> TestResult {
    let n = notification(ctx)?;
    let c = ctx.slot()?;
    kernel::cnode_copy(c, n, rights::ALL)?;
    kernel::cnode_delete(c)?;
    ensure!(is_empty(c)?);
    ensure_eq!(
        cap_type(n)?,
        tag::NOTIFICATION,
        "deleting a copy keeps the original"
    );
    // Deleting an empty slot is not an error.
    kernel::cnode_delete(c)?;
    Ok(())
}

#[sel4_test(sel4test_partly = "CNODEOP0007")]
fn revoke_deletes_derived_caps(ctx: &mut Ctx) -> TestResult {
    let n = notification(ctx)?;
    let copies = [badged(ctx, n, 1)?, badged(ctx, n, 2)?, badged(ctx, n, 4)?];
    kernel::cnode_revoke(n)?;
    for c in copies {
        ensure!(is_empty(c)?, "slot {c} survived the revoke");
    }
    ensure_eq!(
        cap_type(n)?,
        tag::NOTIFICATION,
        "revoke keeps the cap itself"
    );
    Ok(())
}

#[sel4_test]
fn revoke_untyped_allows_reuse(ctx: &mut Ctx) -> TestResult {
    let child = ctx.slot()?;
    kernel::retype(
        ctx.untyped(),
        ObjectType::UntypedObject as usize,
        14,
        child,
        1,
    )?;
    let frames = ctx.slots(4)?;
    kernel::retype(child, crate::util::GRANULE as usize, 0, frames, 4)?;
    let more = ctx.slot()?;
    expect_err(
        kernel::retype(child, crate::util::GRANULE as usize, 0, more, 1),
        Error::NotEnoughMemory,
        "a full 16 KiB untyped",
    )?;
    kernel::cnode_revoke(child)?;
    ensure!(
        is_empty(frames)?,
        "revoking the untyped deletes its objects"
    );
    kernel::retype(child, crate::util::GRANULE as usize, 0, frames, 4)?;
    Ok(())
}

#[sel4_test(sel4test_partly = "CNODEOP0006")]
fn cancel_badged_sends_on_notification_is_illegal(ctx: &mut Ctx) -> TestResult {
    let n = notification(ctx)?;
    let b = badged(ctx, n, 1)?;
    let r = invoke(
        ROOT_CNODE,
        InvocationLabel::CNodeCancelBadgedSends,
        &[],
        &[b, DEPTH],
    );
    expect_err(
        r,
        Error::IllegalOperation,
        "CancelBadgedSends on a notification",
    )?;
    let ep = crate::util::endpoint(ctx)?;
    let be = badged(ctx, ep, 9)?;
    invoke(
        ROOT_CNODE,
        InvocationLabel::CNodeCancelBadgedSends,
        &[],
        &[be, DEPTH],
    )?;
    Ok(())
}

#[sel4_test]
fn index_beyond_cnode_fails_lookup(ctx: &mut Ctx) -> TestResult {
    let bits = ctx.machine().cnode_size_bits as u32;
    let beyond = 1u64 << bits;
    let n = notification(ctx)?;
    let r = kernel::cnode_copy(beyond, n, rights::ALL);
    let e = expect_err(r, Error::FailedLookup, "slot index past the root CNode")?;
    // The index's bit above the radix lies in the root CNode's guard (all
    // the bits above its radix, 0): a guard mismatch with the whole depth
    // left, for the destination.
    ensure_eq!(
        e.detail,
        [0, 4, 64],
        "(source, lookup failure type + 1, bits left)"
    );
    Ok(())
}

#[sel4_test]
fn cnode_slot_count_matches_radix(ctx: &mut Ctx) -> TestResult {
    let node = ctx.create(ObjectType::CapTableObject, 3)?;
    let n = notification(ctx)?;
    let guarded = ctx.slot()?;
    kernel::cnode_mutate(guarded, node, cnode_guard_data(0, 61))?;
    for i in 0..8u64 {
        invoke(
            guarded,
            InvocationLabel::CNodeCopy,
            &[ROOT_CNODE],
            &[i, DEPTH, n, DEPTH, rights::ALL],
        )?;
    }
    let r = invoke(
        guarded,
        InvocationLabel::CNodeCopy,
        &[ROOT_CNODE],
        &[8, DEPTH, n, DEPTH, rights::ALL],
    );
    // Index 8 puts a 1 into the 61 guard bits, whose guard is 0: a guard
    // mismatch (detail: the destination, GuardMismatch + 1, 64 bits left,
    // guard found 1, 61 bits of it).
    let e = expect_err(
        r,
        Error::FailedLookup,
        "a cap at index 8 of an 8-slot CNode",
    )?;
    ensure_eq!(
        e.detail,
        [0, 4, 64],
        "(source, lookup failure type + 1, bits left)"
    );
    Ok(())
}
