//! What the clients of a server see when it restarts or stops: a call in
//! flight or queued for the dead instance gets an error naming the new
//! generation (never a hang: without the supervisor's reply stub the
//! client would stay blocked and the test would run into its time limit);
//! the next call works; a stopped server's callers are answered and later
//! calls fail at once; a server started again serves again.

use probe_proto::{op, result, CtlRequest, CtlResponse, RELEASE_CRASH};
use sel4_rootserver::supervisor::{Action, Happening, State};
use sel4_sys::Fault;
use sel4_test_harness::{ensure, ensure_eq, fail, sel4_test, Ctx, TestResult};

use crate::rig::{let_run, next, order, order_only, rig};

const SERVER: usize = 1;
const CLIENT1: usize = 2;

fn echo(
    ctl: &sel4_rootserver::ipc::Server<probe_proto::Ctl>,
    arg: u64,
) -> Result<CtlRequest, sel4_test_harness::Failure> {
    order(ctl, CtlResponse::CallSvc { op: op::ECHO, arg })
}

#[sel4_test(timeout_ms = 60000)]
fn a_call_in_flight_to_a_server_that_faults_returns_restarted(ctx: &mut Ctx) -> TestResult {
    let mut r = rig(ctx, 256, 23, true)?;
    r.start("server")?;
    r.start("client1")?;
    let ctl = r.ctl("ctl1")?;
    ensure!(matches!(next(&ctl)?, CtlRequest::Ready { generation: 0 }));
    ensure_eq!(
        echo(&ctl, 41)?,
        CtlRequest::Done {
            kind: result::OK,
            a: 42,
            b: 0
        }
    );
    // The server faults while it holds the client's call.
    order_only(
        &ctl,
        CtlResponse::CallSvc {
            op: op::CRASH,
            arg: 0,
        },
    );
    match r.step() {
        Happening::Faulted {
            component,
            fault: Fault::VmFault { .. },
            then,
            ..
        } => {
            ensure_eq!(component, SERVER);
            ensure_eq!(
                then,
                Action::Restart {
                    generation: 1,
                    delay_ms: 0
                }
            );
        }
        other => fail!("expected the server's fault, got {other:?}"),
    }
    // The call in flight came back with the new generation: the dead
    // instance's thread answered it through its reply capability.
    ensure_eq!(
        next(&ctl)?,
        CtlRequest::Done {
            kind: result::RESTARTED,
            a: 1,
            b: 0
        }
    );
    ensure_eq!(r.sup.stats().stubs_run, 1);
    // The next call goes to the new instance.
    ensure_eq!(
        echo(&ctl, 7)?,
        CtlRequest::Done {
            kind: result::OK,
            a: 8,
            b: 1
        }
    );
    ensure_eq!(r.sup.generation("server"), Some((1, 1)));
    r.finish(ctx)
}

#[sel4_test(timeout_ms = 60000)]
fn a_call_queued_for_the_dead_instance_returns_restarted(ctx: &mut Ctx) -> TestResult {
    let mut r = rig(ctx, 256, 23, true)?;
    r.start("server")?;
    r.start("client1")?;
    r.start("client2")?;
    let (ctl1, ctl2) = (r.ctl("ctl1")?, r.ctl("ctl2")?);
    // (One request at a time: the test thread holds one caller to answer.)
    ensure!(matches!(next(&ctl1)?, CtlRequest::Ready { .. }));
    // client1's call keeps the server busy (it waits for `release`) ...
    order_only(
        &ctl1,
        CtlResponse::CallSvc {
            op: op::BLOCK,
            arg: 5,
        },
    );
    let_run(ctx)?;
    // ... so client2's call waits on the endpoint, made to instance 0.
    ensure!(matches!(next(&ctl2)?, CtlRequest::Ready { .. }));
    order_only(
        &ctl2,
        CtlResponse::CallSvc {
            op: op::ECHO,
            arg: 9,
        },
    );
    let_run(ctx)?;
    // The server crashes in client1's call: `release` signalled with the
    // crash bit (a badged copy: the supervisor's own capability has no
    // badge bits).
    let release = r
        .sup
        .notification("release")
        .ok_or_else(|| sel4_test_harness::Failure::fail("no notification `release`"))?;
    let crash = r
        .objs
        .mint(release, RELEASE_CRASH)
        .map_err(|e| sel4_test_harness::Failure::fail(alloc::format!("mint: {e}")))?;
    crash.signal();
    match r.step() {
        Happening::Faulted {
            component, then, ..
        } => {
            ensure_eq!(component, SERVER);
            ensure_eq!(
                then,
                Action::Restart {
                    generation: 1,
                    delay_ms: 0
                }
            );
        }
        other => fail!("expected the server's fault, got {other:?}"),
    }
    ensure_eq!(
        next(&ctl1)?,
        CtlRequest::Done {
            kind: result::RESTARTED,
            a: 1,
            b: 0
        },
        "the call in flight"
    );
    // client1 goes on with the new instance (its next request then waits
    // unanswered: the test thread answers one caller at a time).
    ensure_eq!(
        echo(&ctl1, 2)?,
        CtlRequest::Done {
            kind: result::OK,
            a: 3,
            b: 1
        }
    );
    // client2's call was queued with the old generation's badge: the new
    // instance did not serve it.
    ensure_eq!(
        next(&ctl2)?,
        CtlRequest::Done {
            kind: result::RESTARTED,
            a: 1,
            b: 0
        },
        "the call queued for the dead instance"
    );
    ensure_eq!(
        echo(&ctl2, 1)?,
        CtlRequest::Done {
            kind: result::OK,
            a: 2,
            b: 1
        }
    );
    let _ = r.objs.delete(crash);
    r.finish(ctx)
}

#[sel4_test(timeout_ms = 60000)]
fn a_stopped_server_answers_its_callers_and_starts_again(ctx: &mut Ctx) -> TestResult {
    let mut r = rig(ctx, 256, 23, true)?;
    r.start("server")?;
    r.start("client1")?;
    let ctl = r.ctl("ctl1")?;
    ensure!(matches!(next(&ctl)?, CtlRequest::Ready { .. }));
    order_only(
        &ctl,
        CtlResponse::CallSvc {
            op: op::BLOCK,
            arg: 1,
        },
    );
    let_run(ctx)?;
    // Stopped at run time while it holds client1's call.
    r.sup
        .stop(&mut r.objs, "server")
        .map_err(|e| sel4_test_harness::Failure::fail(alloc::format!("stop: {e}")))?;
    ensure_eq!(r.sup.state("server"), Some(State::Stopped));
    ensure_eq!(
        next(&ctl)?,
        CtlRequest::Done {
            kind: result::STOPPED,
            a: 0,
            b: 0
        },
        "the call in flight"
    );
    // Its clients' capabilities are gone: a call fails at once.
    ensure_eq!(
        echo(&ctl, 3)?,
        CtlRequest::Done {
            kind: result::STOPPED,
            a: 0,
            b: 0
        },
        "a call to the stopped server"
    );
    // Started again from its image: a new generation serves.
    r.start("server")?;
    ensure_eq!(r.sup.state("server"), Some(State::Running));
    ensure_eq!(
        echo(&ctl, 3)?,
        CtlRequest::Done {
            kind: result::OK,
            a: 4,
            b: 1
        },
        "a call after the start"
    );
    r.finish(ctx)
}

#[sel4_test(timeout_ms = 60000)]
fn exit_and_stop_policy_are_reported_and_its_resources_come_back(ctx: &mut Ctx) -> TestResult {
    let mut r = rig(ctx, 256, 23, true)?;
    r.start("server")?;
    r.start("client1")?;
    let ctl = r.ctl("ctl1")?;
    ensure!(matches!(next(&ctl)?, CtlRequest::Ready { .. }));
    // A return from main is reported with its code.
    order_only(&ctl, CtlResponse::Exit { code: 17 });
    match r.step() {
        Happening::Exited { component, code } => {
            ensure_eq!((component, code), (CLIENT1, 17));
        }
        other => fail!("expected client1's exit, got {other:?}"),
    }
    ensure_eq!(r.sup.state("client1"), Some(State::Exited(17)));
    // Started again (from its image): it asks for orders again.
    r.start("client1")?;
    ensure!(matches!(next(&ctl)?, CtlRequest::Ready { .. }));
    ensure_eq!(
        echo(&ctl, 10)?,
        CtlRequest::Done {
            kind: result::OK,
            a: 11,
            b: 0
        }
    );
    r.finish(ctx)
}
