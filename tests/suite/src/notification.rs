//! Notifications: signal, wait, poll, badges, bound notifications.

use sel4_sys::{Error, InvocationLabel, ObjectType};
use sel4_test_harness::kernel::invoke;
use sel4_test_harness::{ensure_eq, sel4_test, Ctx, TestResult};

use crate::util::{badged, expect_err, notification};

/// Poll of a notification with nothing pending returns 0 at once: when it
/// was never signalled, and when its signals were taken by a Wait; a
/// pending signal it does return (so the 0 is Poll's answer, not a call
/// that did nothing), and takes it.
#[sel4_test]
fn poll_without_signal_is_zero(ctx: &mut Ctx) -> TestResult {
    let n = notification(ctx)?;
    let b = badged(ctx, n, 0b10)?;
    ensure_eq!(sel4_sys::poll(n), 0, "never signalled");
    sel4_sys::signal(b);
    ensure_eq!(sel4_sys::wait(n), 0b10, "Wait takes the signal");
    ensure_eq!(sel4_sys::poll(n), 0, "after the Wait took it");
    sel4_sys::signal(b);
    ensure_eq!(sel4_sys::poll(n), 0b10, "a pending signal");
    ensure_eq!(sel4_sys::poll(n), 0, "after the Poll took it");
    Ok(())
}

#[sel4_test]
fn signal_then_poll(ctx: &mut Ctx) -> TestResult {
    let n = notification(ctx)?;
    let b = badged(ctx, n, 0x100)?;
    sel4_sys::signal(b);
    ensure_eq!(sel4_sys::poll(n), 0x100);
    ensure_eq!(sel4_sys::poll(n), 0, "poll clears the word");
    Ok(())
}

#[sel4_test]
fn badges_are_ored(ctx: &mut Ctx) -> TestResult {
    let n = notification(ctx)?;
    let a = badged(ctx, n, 0b001)?;
    let b = badged(ctx, n, 0b100)?;
    sel4_sys::signal(a);
    sel4_sys::signal(b);
    sel4_sys::signal(a);
    ensure_eq!(sel4_sys::poll(n), 0b101);
    Ok(())
}

#[sel4_test]
fn wait_after_signal_does_not_block(ctx: &mut Ctx) -> TestResult {
    let n = notification(ctx)?;
    let b = badged(ctx, n, 7)?;
    sel4_sys::signal(b);
    ensure_eq!(sel4_sys::wait(n), 7);
    Ok(())
}

#[sel4_test]
fn separate_notifications_are_independent(ctx: &mut Ctx) -> TestResult {
    let n1 = notification(ctx)?;
    let n2 = notification(ctx)?;
    let b1 = badged(ctx, n1, 1)?;
    sel4_sys::signal(b1);
    ensure_eq!(sel4_sys::poll(n2), 0);
    ensure_eq!(sel4_sys::poll(n1), 1);
    Ok(())
}

#[sel4_test]
fn bind_twice_is_illegal(ctx: &mut Ctx) -> TestResult {
    let tcb = ctx.create(ObjectType::TCBObject, 0)?;
    let n = notification(ctx)?;
    let m = notification(ctx)?;
    invoke(tcb, InvocationLabel::TCBBindNotification, &[n], &[])?;
    let r = invoke(tcb, InvocationLabel::TCBBindNotification, &[m], &[]);
    expect_err(r, Error::IllegalOperation, "binding a second notification")?;
    invoke(tcb, InvocationLabel::TCBUnbindNotification, &[], &[])?;
    let r = invoke(tcb, InvocationLabel::TCBUnbindNotification, &[], &[]);
    expect_err(r, Error::IllegalOperation, "unbinding with nothing bound")?;
    invoke(tcb, InvocationLabel::TCBBindNotification, &[m], &[])?;
    Ok(())
}

#[sel4_test]
fn notification_binds_to_one_tcb(ctx: &mut Ctx) -> TestResult {
    let t1 = ctx.create(ObjectType::TCBObject, 0)?;
    let t2 = ctx.create(ObjectType::TCBObject, 0)?;
    let n = notification(ctx)?;
    invoke(t1, InvocationLabel::TCBBindNotification, &[n], &[])?;
    let r = invoke(t2, InvocationLabel::TCBBindNotification, &[n], &[]);
    expect_err(r, Error::IllegalOperation, "a notification bound twice")?;
    Ok(())
}
