//! 1,000 restarts of a component (a fault in the middle of a request each
//! time: the caller gets "restarted", the next instance serves), with 0
//! bytes and 0 slots lost: `Objects`' figures after the first restart (the
//! budget kept as a spare untyped, the loader's paging structures in the
//! root task's window) and after the last are the same; at the end the
//! kernel sees the test's untyped whole. Prints the figure and the cost of
//! one restart.

use probe_proto::{op, result, CtlRequest, CtlResponse};
use sel4_rootserver::println;
use sel4_rootserver::supervisor::{Action, Happening};
use sel4_test_harness::{ensure, ensure_eq, fail, sel4_test, Ctx, TestResult};

use crate::rig::{figures, next, order, order_only, rig, Rig};

/// Restarts.
pub const RESTARTS: u64 = 1000;

fn one_restart(
    r: &mut Rig,
    ctl: &sel4_rootserver::ipc::Server<probe_proto::Ctl>,
    g: u64,
) -> TestResult {
    order_only(
        ctl,
        CtlResponse::CallSvc {
            op: op::CRASH,
            arg: 0,
        },
    );
    match r.step() {
        Happening::Faulted {
            component: 1,
            then: Action::Restart { generation, .. },
            ..
        } if generation == g => {}
        other => fail!("restart {g}: {other:?}"),
    }
    match next(ctl)? {
        CtlRequest::Done {
            kind: result::RESTARTED,
            a,
            ..
        } if a == g => Ok(()),
        other => fail!("restart {g}: the client got {other:?}"),
    }
}

#[sel4_test(timeout_ms = 1200000)]
fn a_thousand_restarts_lose_nothing(ctx: &mut Ctx) -> TestResult {
    // Quiet: 1,000 faults would be 3,000 log lines.
    let mut r = rig(ctx, 256, 23, false)?;
    r.start("server")?;
    r.start("client1")?;
    let ctl = r.ctl("ctl1")?;
    ensure!(matches!(next(&ctl)?, CtlRequest::Ready { .. }));
    one_restart(&mut r, &ctl, 1)?;
    let before = figures(&r.objs);
    let start = sel4_sys::arch::read_counter();
    for g in 2..=RESTARTS {
        one_restart(&mut r, &ctl, g)?;
        if g % 100 == 0 {
            ensure_eq!(figures(&r.objs), before, "after {g} restarts");
        }
    }
    let cycles = sel4_sys::arch::read_counter() - start;
    let after = figures(&r.objs);
    ensure_eq!(after, before);
    // The last instance serves.
    match order(
        &ctl,
        CtlResponse::CallSvc {
            op: op::ECHO,
            arg: 1,
        },
    )? {
        CtlRequest::Done {
            kind: result::OK,
            a: 2,
            b,
        } => ensure_eq!(b, RESTARTS),
        other => fail!("after the restarts: {other:?}"),
    }
    let stats = r.sup.stats();
    ensure_eq!(stats.restarts, RESTARTS);
    ensure_eq!(stats.stubs_run, RESTARTS);
    println!(
        "figure: {RESTARTS} restarts of a component: {} bytes and {} slots lost ({} capabilities, {} objects before and after); one restart (fault, caller answered, instance destroyed, image reloaded, started) {} cycles",
        before.ram_used.abs_diff(after.ram_used),
        before.slots_used.abs_diff(after.slots_used),
        after.caps,
        after.objects,
        cycles / (RESTARTS - 1)
    );
    r.finish(ctx)
}
