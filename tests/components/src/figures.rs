//! A system of a hundred components (one image) started, each calling the
//! hub once and exiting; and the figures: time to start the hundred, typed
//! IPC between two components against raw syscalls (under `-icount
//! shift=0`, cycles are instructions).

use probe_proto::{result, CtlRequest, CtlResponse};
use sel4_rootserver::println;
use sel4_rootserver::supervisor::{Happening, State};
use sel4_test_harness::{ensure, ensure_eq, fail, sel4_test, Ctx, TestResult};

use crate::rig::{next, order, rig};
use crate::system::PLAN;

/// Fleet components: f000..f099.
const FLEET: usize = 100;

#[sel4_test(timeout_ms = 600000)]
fn a_system_of_a_hundred_components_runs(ctx: &mut Ctx) -> TestResult {
    ensure!(PLAN.components.len() >= FLEET + 8);
    let mut r = rig(ctx, 960, 26, false)?;
    r.start("hub")?;
    let start = sel4_sys::arch::read_counter();
    for i in 0..FLEET {
        r.start(&alloc::format!("f{i:03}"))?;
    }
    let started = sel4_sys::arch::read_counter() - start;
    let mut exited = 0;
    while exited < FLEET {
        match r.step() {
            Happening::Exited { component, code } => {
                ensure_eq!(code, 0, "{} checked in", PLAN.components[component].name);
                exited += 1;
            }
            other => fail!("a fleet component: {other:?}"),
        }
    }
    for i in 0..FLEET {
        ensure_eq!(
            r.sup.state(&alloc::format!("f{i:03}")),
            Some(State::Exited(0))
        );
    }
    ensure_eq!(r.sup.state("hub"), Some(State::Running));
    println!(
        "figure: {FLEET} components (one image) started in {started} cycles ({} per component); all checked in with the hub and exited",
        started / FLEET as u64
    );
    r.finish(ctx)
}

#[sel4_test(timeout_ms = 600000)]
fn typed_ipc_between_components_against_raw(ctx: &mut Ctx) -> TestResult {
    let mut r = rig(ctx, 256, 23, false)?;
    r.start("bench_typed")?;
    r.start("bench_raw")?;
    r.start("bench_client")?;
    let ctl = r.ctl("ctl3")?;
    ensure!(matches!(next(&ctl)?, CtlRequest::Ready { .. }));
    const N: u64 = 10_000;
    match order(&ctl, CtlResponse::Bench { n: N })? {
        CtlRequest::Done {
            kind: result::CYCLES,
            a: typed,
            b: raw,
        } => {
            ensure!(typed > 0 && raw > 0, "every answer checked");
            println!(
                "figure: IPC round trip between two components (separate address spaces): typed {} cycles, raw seL4_Call/ReplyRecv {} cycles ({} calls each; typed/raw {}.{:02})",
                typed / N,
                raw / N,
                N,
                typed / raw,
                (typed * 100 / raw) % 100
            );
        }
        other => fail!("bench: {other:?}"),
    }
    r.finish(ctx)
}
