//! Stack overflows: a thread that overflows its stack faults in the guard
//! page below it, and the join recognises the fault as a stack overflow.
//! The fault address compares exactly with `JoinHandle::stack_guard` on
//! every kernel (stacks lie below 4 GiB; seL4 5.0.0 reports only the low
//! 32 bits of a fault address).

use alloc::vec::Vec;
use sel4_rootserver::thread::{spawn, ThreadBuilder, ThreadError};
use sel4_runtime::thread::provoke;
use sel4_sys::Fault;
use sel4_test_harness::{ensure, ensure_eq, fail, sel4_test, Ctx, TestResult};

use crate::util::{fw, OBJECT_SLOTS};

/// Recurses `depth` times with a 256-byte frame.
fn recurse(depth: u64) -> u64 {
    let frame = core::hint::black_box([depth; 32]);
    if depth == 0 {
        return frame[0];
    }
    recurse(depth - 1).wrapping_add(core::hint::black_box(frame[3]))
}

#[sel4_test(timeout_ms = 30000)]
fn forty_stack_overflows_are_all_recognised(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let sizes = [8 * 1024, 16 * 1024, 32 * 1024, 64 * 1024, 12 * 1024];
    let mut recognised = 0;
    let mut batch = Vec::new();
    for i in 0..40usize {
        let h = ThreadBuilder::new()
            .stack_size(sizes[i % sizes.len()])
            .spawn(&mut objs, || recurse(u64::MAX))
            .map_err(fw("spawn"))?;
        batch.push((h.stack_guard(), h));
        if batch.len() < 8 && i != 39 {
            continue;
        }
        for (guard, h) in batch.drain(..) {
            ensure!(guard.end <= 1 << 32, "guard {guard:x?} below 4 GiB");
            match h.join(&mut objs) {
                Err(ThreadError::StackOverflow(f)) => match *f {
                    Fault::VmFault { addr, .. } if guard.contains(&(addr as usize)) => {
                        recognised += 1
                    }
                    other => fail!("overflow {i}: fault {other:?} outside the guard {guard:x?}"),
                },
                other => fail!("overflow {i}: join gave {other:?}"),
            }
        }
    }
    ensure_eq!(recognised, 40);
    sel4_rootserver::println!("stack: {recognised} of 40 overflows recognised as stack overflows");
    Ok(())
}

#[sel4_test]
fn other_vm_faults_are_not_stack_overflows(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let h = spawn(&mut objs, || provoke::read_unmapped(0x5000)).map_err(fw("spawn"))?;
    match h.join(&mut objs) {
        Err(ThreadError::Faulted(f)) => ensure!(matches!(*f, Fault::VmFault { addr: 0x5000, .. })),
        other => fail!("join gave {other:?}"),
    }
    Ok(())
}
