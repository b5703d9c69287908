//! `JoinHandle::kill` of a thread that is inside the allocator or inside
//! `println!`: the kill waits for it to leave the runtime (it stops itself
//! there), so the heap and the console lock are never left held.

use alloc::vec::Vec;
use sel4_rootserver::thread::ThreadBuilder;
use sel4_test_harness::{ensure, sel4_test, Ctx, TestResult, HARNESS_PRIORITY};

use crate::util::{fw, OBJECT_SLOTS};

/// An allocating thread killed after a varying time, 40 times; after each
/// kill the heap serves this thread and a new one.
#[sel4_test(timeout_ms = 20000)]
fn kill_inside_the_allocator_does_not_hang(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let (mut inside, trials) = (0, 40u64);
    for trial in 0..trials {
        let h = ThreadBuilder::new()
            .priority(HARNESS_PRIORITY as u8)
            .spawn(&mut objs, move || {
                let mut blocks: Vec<Vec<u8>> = Vec::new();
                let mut i = trial;
                loop {
                    blocks.push(alloc::vec![i as u8; 16 + (i % 700) as usize]);
                    if blocks.len() > 48 {
                        blocks.clear();
                    }
                    i = i
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407)
                        >> 7;
                }
            })
            .map_err(fw("spawn"))?;
        // Same priority: the victim runs until its time slice ends.
        for _ in 0..(1 + trial % 3) {
            sel4_sys::yield_now();
        }
        if h.kill(&mut objs).waited_for_runtime {
            inside += 1;
        }
        let v: Vec<u64> = (0..256).map(|x| x * trial).collect();
        ensure!(v[255] == 255 * trial, "the heap serves after kill {trial}");
    }
    let h = sel4_rootserver::thread::spawn(&mut objs, || alloc::vec![1u8; 4096].len())
        .map_err(fw("spawn after"))?;
    ensure!(h.join(&mut objs).map_err(fw("join after"))? == 4096);
    sel4_rootserver::println!(
        "kill: {trials} kills of an allocating thread, {inside} found it inside the runtime"
    );
    // Otherwise no kill came inside the allocator, the case this test is
    // about (about 9 in 10 do).
    ensure!(inside > 0, "no kill found the thread inside the allocator");
    Ok(())
}

/// A printing thread killed after a varying time; after each kill this
/// thread prints.
#[sel4_test(timeout_ms = 20000)]
fn kill_inside_println_does_not_hang(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let (mut inside, trials) = (0, 12u64);
    for trial in 0..trials {
        let h = ThreadBuilder::new()
            .priority(HARNESS_PRIORITY as u8)
            .spawn(&mut objs, move || {
                // Digits without a newline: one line per victim.
                let mut i = trial;
                loop {
                    sel4_rootserver::print!("{}", i % 10);
                    i += 1;
                }
            })
            .map_err(fw("spawn"))?;
        sel4_sys::yield_now();
        if h.kill(&mut objs).waited_for_runtime {
            inside += 1;
        }
        sel4_rootserver::println!();
        sel4_rootserver::println!();
        sel4_rootserver::println!("kill: the test prints after kill {trial}");
    }
    sel4_rootserver::println!(
        "kill: {trials} kills of a printing thread, {inside} found it inside the runtime"
    );
    // Otherwise no kill came inside println! (about 8 in 10 do).
    ensure!(inside > 0, "no kill found the thread inside println!");
    Ok(())
}
