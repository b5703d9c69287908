//! MCS kernels: the budget and period of a component's threads come from
//! the description (`mcs = { budget_us, period_us }`).

use probe_proto::{CtlRequest, CtlResponse};
use sel4_rootserver::println;
use sel4_test_harness::{ensure, fail, sel4_test, skip, Ctx, TestResult};

use crate::rig::{next, order_only, rig, set_priority, TEST_PRIORITY};
use crate::system::PLAN;

/// The spinner's priority in the description: the test thread measures at
/// the same priority, so that without the budget the two would share the
/// processor round robin (about half each).
const SPINNER_PRIORITY: u64 = 215;

/// `spinner` (2 ms of every 10 ms in the description) spins at the test
/// thread's priority; the test thread counts the time it does not get. Both
/// loops make an empty system call per round (see probe-client: the kernel
/// charges and releases budgets at its entries; under QEMU's -icount the
/// timer interrupt alone comes late to a loop that never enters it).
/// The spinner's share must be near its budget's 20 %; with the framework's
/// default round-robin scheduling context (budget = period) it would be
/// near 50 %.
#[sel4_test(timeout_ms = 120000)]
fn mcs_budget_from_the_description_limits_a_spinning_component(ctx: &mut Ctx) -> TestResult {
    if !sel4_rootserver::sched::MCS {
        skip!("seL4 without MCS has no scheduling contexts: the description's `mcs` table has no effect there");
    }
    let spinner = PLAN
        .components
        .iter()
        .find(|c| c.name == "spinner")
        .ok_or_else(|| sel4_test_harness::Failure::fail("no `spinner` in the plan"))?;
    let m = spinner
        .mcs
        .ok_or_else(|| sel4_test_harness::Failure::fail("the plan lost spinner's `mcs` table"))?;
    ensure!(spinner.priority as u64 == SPINNER_PRIORITY);
    let mut r = rig(ctx, 256, 23, false)?;
    r.start("spinner")?;
    let ctl = r.ctl("ctl4")?;
    ensure!(matches!(next(&ctl)?, CtlRequest::Ready { .. }));
    order_only(&ctl, CtlResponse::Spin);

    let mhz = ctx.machine().tsc_mhz.max(1);
    // A gap longer than this in the test thread's loop is time the
    // processor spent elsewhere (the loop itself takes well under 1 us).
    let gap = 20 * mhz;
    let window = 20 * m.period_us * mhz;
    set_priority(ctx, SPINNER_PRIORITY)?;
    let start = sel4_sys::arch::read_counter();
    let (mut last, mut lost) = (start, 0u64);
    loop {
        // The same empty system call as the spinner's (the kernel releases
        // the spinner's next refill at a kernel entry, see probe-client).
        empty_syscall();
        let now = sel4_sys::arch::read_counter();
        if now - last > gap {
            lost += now - last;
        }
        last = now;
        if now - start >= window {
            break;
        }
    }
    set_priority(ctx, TEST_PRIORITY)?;
    let total = last - start;
    let share = lost * 1000 / total;
    let want = m.budget_us * 1000 / m.period_us;
    println!(
        "figure: spinner ({} us of every {} us) took {}.{}% of {} ms at the test thread's priority",
        m.budget_us,
        m.period_us,
        share / 10,
        share % 10,
        total / mhz / 1000
    );
    if let Err(e) = r.sup.stop(&mut r.objs, "spinner") {
        fail!("stopping the spinner: {e}");
    }
    ensure!(
        share >= want / 2 && share <= want + want / 2,
        "the spinner took {}.{}% of the processor; its budget gives it {}.{}% (round robin without it: about 50%)",
        share / 10,
        share % 10,
        want / 10,
        want % 10
    );
    r.finish(ctx)
}

/// A valid system call that changes nothing (the time the test thread's
/// scheduling context consumed; a refused one would make a debug kernel
/// print, which takes longer than the gap on riscv64).
fn empty_syscall() {
    sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
        if let Some(sc) = sel4_runtime::thread::current_sched_context() {
            let sc: sel4_sys::Cap<sel4_sys::cap_type::SchedContext> = sel4_sys::Cap::from_cptr(sc);
            let _ = sc.sched_context_consumed();
        }
    } else {
        sel4_sys::yield_now();
    } }
}
