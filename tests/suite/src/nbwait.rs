//! Non-blocking receive with a bound notification (seL4test NBWAIT0001):
//! NBRecv on an empty endpoint and Poll on an empty notification return
//! at once with badge 0; a signal of the bound notification arrives
//! through Poll and through NBRecv on the endpoint, once; a blocked
//! sender's message arrives through NBRecv, once.

use sel4_sys::{InvocationLabel, MessageInfo, Word};
use sel4_test_harness::kernel::invoke;
use sel4_test_harness::{ensure_eq, sel4_test, Ctx, TestResult};

use crate::support::{helper, join, lift, slots_for, TEST_TOP};
use crate::util::{badged, endpoint, notification, set_priority};

#[sel4_test(sel4test = "NBWAIT0001")]
fn nb_recv_and_poll(ctx: &mut Ctx) -> TestResult {
    let ep = endpoint(ctx)?;
    let ntfn = notification(ctx)?;
    let ep_b = badged(ctx, ep, 1)?;
    let ntfn_b = badged(ctx, ntfn, 2)?;
    let me = ctx.own_tcb();
    invoke(me, InvocationLabel::TCBBindNotification, &[ntfn], &[])?;
    ensure_eq!(
        sel4_sys::nb_recv_regs(ep).badge,
        0,
        "NBRecv of an empty endpoint"
    );
    ensure_eq!(sel4_sys::poll(ntfn), 0, "Poll of an empty notification");
    sel4_sys::signal(ntfn_b);
    ensure_eq!(sel4_sys::poll(ntfn), 2, "Poll after a signal");
    ensure_eq!(sel4_sys::poll(ntfn), 0, "Poll again");
    sel4_sys::signal(ntfn_b);
    ensure_eq!(
        sel4_sys::nb_recv_regs(ep).badge,
        2,
        "NBRecv on the endpoint gets the bound notification's signal"
    );
    ensure_eq!(sel4_sys::nb_recv_regs(ep).badge, 0, "NBRecv again");
    lift(ctx)?;
    let mut objs = ctx.objects(slots_for(1))?;
    let h = helper(&mut objs, TEST_TOP, move || {
        sel4_sys::send_regs(ep_b, MessageInfo::new(0, 0, 0, 1), [0xdead_beef, 0, 0, 0]);
    })?;
    // Below the sender now: it runs at once and blocks in its send.
    set_priority(me, Word::from(TEST_TOP - 1))?;
    let r = sel4_sys::nb_recv_regs(ep);
    ensure_eq!(
        (r.badge, r.info.get_length(), r.mrs[0]),
        (1, 1, 0xdead_beef),
        "NBRecv of the blocked sender's message"
    );
    ensure_eq!(sel4_sys::nb_recv_regs(ep).badge, 0, "NBRecv again");
    join(&mut objs, h)?;
    invoke(me, InvocationLabel::TCBUnbindNotification, &[], &[])?;
    Ok(())
}
