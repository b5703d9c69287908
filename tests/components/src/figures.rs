//! A system of a hundred components (one image) started, each calling the
//! hub once and exiting, and the time to start them (under `-icount
//! shift=0`, cycles are instructions). IPC figures between components are
//! the component bench's (tests/components/bench).

use sel4_rootserver::println;
use sel4_rootserver::supervisor::{Happening, State};
use sel4_test_harness::{ensure, ensure_eq, fail, sel4_test, Ctx, TestResult};

use crate::rig::rig;
use crate::system::PLAN;

/// Fleet components: f000..f099.
const FLEET: usize = 100;

#[sel4_test(timeout_ms = 600000)]
fn a_system_of_a_hundred_components_runs(ctx: &mut Ctx) -> TestResult {
    ensure!(PLAN.components.len() >= FLEET + 6);
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
