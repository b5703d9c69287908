//! Robustness tests: processes. 1,000 processes made, run to their exit
//! and destroyed one after the other, with every figure of the `Objects`
//! they came from (RAM used, slots, capability records, window bytes)
//! checked every 100 cycles and at the end, then the kernel's own view (a
//! retype of the whole untyped). Prints the figures.

use alloc::format;

use process_test::f;
use sel4_rootserver::memory::MemoryKind;
use sel4_rootserver::objects::Objects;
use sel4_rootserver::process::{receive_event, ProcessBuilder, ProcessEvent};
use sel4_rootserver::{println, Endpoint};
use sel4_test_harness::{ensure, ensure_eq, sel4_test, Ctx, Failure, TestResult};

/// The process image (tests/process-test), embedded by the build.
const IMAGE: &[u8] = sel4_rootserver::embedded_elf!(PROCESS_TEST);

/// Cycles of the soak.
pub const CYCLES: u64 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Figures {
    ram_used: u64,
    slots_used: usize,
    caps: usize,
    objects: usize,
    window_used: u64,
}

fn figures(objs: &Objects) -> Figures {
    Figures {
        ram_used: objs.pool().usage(MemoryKind::Ram).used,
        slots_used: objs.cspace().slots().used(),
        caps: objs.pool().registry().len(),
        objects: objs.pool().registry().objects(),
        window_used: objs.vspace().window().used_bytes(),
    }
}

fn cycle(objs: &mut Objects, report: &sel4_rootserver::Owned<Endpoint>, i: u64) -> TestResult {
    let p = ProcessBuilder::new("soak", IMAGE)
        .arg(0, f::RETURN)
        .arg(1, i)
        .generation(i)
        // Above the harness, which polls.
        .priority(220)
        .report_endpoint(report, 1)
        .fault_endpoint(report, 1)
        .spawn(objs)
        .map_err(|e| Failure::fail(format!("cycle {i}: spawn: {e}")))?;
    let ev = receive_event(report.cap());
    p.destroy(objs)
        .map_err(|r| Failure::fail(format!("cycle {i}: destroy: {}", r.error)))?;
    match ev {
        ProcessEvent::Exited { code, .. } if code == i => Ok(()),
        other => Err(Failure::fail(format!("cycle {i}: {other:?}"))),
    }
}

#[sel4_test(timeout_ms = 600000)]
fn process_create_destroy_1000_cycles_lose_nothing(ctx: &mut Ctx) -> TestResult {
    let bits = 23;
    let (mut objs, ut) = ctx.objects_over_untyped(64, bits)?;
    let report = objs.create::<Endpoint>()?;
    // The first process makes what stays: the loader's paging structures
    // in the root task's window, the spare budget untyped.
    cycle(&mut objs, &report, 0)?;
    let before = figures(&objs);
    let start = sel4_sys::arch::rdtsc();
    for i in 1..=CYCLES {
        cycle(&mut objs, &report, i)?;
        if i % 100 == 0 {
            ensure_eq!(figures(&objs), before, "after {i} cycles");
        }
    }
    let micros = ctx.micros_since(start);
    let after = figures(&objs);
    ensure_eq!(after, before);
    println!(
        "processes: {CYCLES} create/start/exit/destroy cycles: {} bytes and {} slots lost (RAM used {} bytes, {} slots, {} capability records before and after), {} us per cycle",
        after.ram_used.abs_diff(before.ram_used),
        after.slots_used.abs_diff(before.slots_used),
        after.ram_used,
        after.slots_used,
        after.caps,
        micros / CYCLES,
    );
    objs.delete(report)
        .map_err(|r| Failure::fail(format!("{}", r.error)))?;
    drop(objs);
    ensure!(
        ctx.untyped_is_whole(ut, bits)?,
        "the kernel still sees something made from the untyped"
    );
    println!("processes: the kernel sees the untyped whole again after {CYCLES} processes");
    Ok(())
}
