//! The heap of threads: every block is charged to the thread that
//! allocated it, a join reports what a thread left allocated (a thread
//! that faults or panics frees nothing: no unwinding, and other threads may
//! use its blocks), a per-thread limit stops a runaway thread, a reserve
//! keeps the threads above it working, and the heap grows from untyped
//! memory in 2 MiB frames without using root CNode slots.

use alloc::vec::Vec;
use sel4_rootserver::thread::{spawn, ThreadBuilder, ThreadError};
use sel4_runtime::heap::{self, GrowError};
use sel4_runtime::thread::provoke;
use sel4_test_harness::{ensure, ensure_eq, fail, sel4_test, Ctx, TestResult};

use crate::util::{fw, OBJECT_SLOTS};

const BLOCK: usize = 64 * 1024;

#[sel4_test]
fn a_join_reports_the_heap_a_thread_returned(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let h = spawn(&mut objs, || alloc::vec![7u8; 100_000]).map_err(fw("spawn"))?;
    let joined = h.join_report(&mut objs);
    let v = joined.result.map_err(fw("join"))?;
    ensure_eq!(v.len(), 100_000);
    let r = joined.report.heap;
    ensure_eq!(
        r.in_use,
        100_000,
        "the returned block is still the thread's"
    );
    ensure_eq!(r.blocks, 1);
    ensure!(r.peak >= 100_000, "peak {}", r.peak);
    Ok(())
}

/// 20 threads each hold 64 KiB and fault: each join reports its 64 KiB,
/// and the heap goes on serving.
#[sel4_test(timeout_ms = 20000)]
fn twenty_faulted_threads_report_the_heap_they_hold(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let mut left = 0;
    for i in 0..20u8 {
        let h = spawn(&mut objs, move || {
            let v = alloc::vec![i; BLOCK];
            core::hint::black_box(&v);
            provoke::read_unmapped(0x6000);
            drop(v);
        })
        .map_err(fw("spawn"))?;
        let j = h.join_report(&mut objs);
        ensure!(
            matches!(j.result, Err(ThreadError::Faulted(_))),
            "thread {i}: {:?}",
            j.result
        );
        ensure_eq!(j.report.heap.in_use, BLOCK, "thread {i} holds its block");
        left += j.report.heap.in_use;
    }
    ensure_eq!(left, 20 * BLOCK);
    let v = alloc::vec![1u8; 1 << 20];
    ensure!(v[12345] == 1, "a 1 MiB block after the faults");
    let h = spawn(&mut objs, || {
        alloc::vec![2u8; 256 * 1024]
            .iter()
            .map(|&b| b as u64)
            .sum::<u64>()
    })
    .map_err(fw("spawn after"))?;
    ensure_eq!(h.join(&mut objs).map_err(fw("join after"))?, 512 * 1024);
    sel4_rootserver::println!(
        "heap: 20 faulted threads left {left} bytes allocated ({} KiB each); the heap serves on",
        left / 20 / 1024
    );
    Ok(())
}

#[sel4_test(timeout_ms = 5000)]
fn a_runaway_thread_stops_at_its_heap_limit(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    const LIMIT: usize = 256 * 1024;
    let h = ThreadBuilder::new()
        .heap_limit(LIMIT)
        .spawn(&mut objs, || {
            let mut v: Vec<alloc::boxed::Box<[u8]>> = Vec::with_capacity(64);
            loop {
                v.push(alloc::vec![1u8; 16 * 1024].into_boxed_slice());
            }
        })
        .map_err(fw("spawn"))?;
    let j = h.join_report(&mut objs);
    match j.result {
        Err(ThreadError::HeapLimit {
            limit,
            requested,
            in_use,
        }) => {
            ensure_eq!(limit, LIMIT);
            ensure_eq!(requested, 16 * 1024);
            ensure!(
                in_use + requested > LIMIT && in_use <= LIMIT,
                "in use {in_use}"
            );
        }
        other => fail!("join gave {other:?}"),
    }
    ensure!(j.report.heap.in_use <= LIMIT, "{:?}", j.report.heap);
    Ok(())
}

/// A thread with no limit takes every byte it can get (fallible
/// allocations, 64 KiB blocks, then 64-byte ones to the last bytes above
/// its reserve), then panics: its panic message still gets formatted (it
/// may use its level's band of the reserve), and the test thread, the
/// runtime and new threads go on.
#[sel4_test(timeout_ms = 20000)]
fn a_thread_that_fills_the_heap_then_panics_leaves_the_rest_working(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let free0 = heap::usage().1;
    let h = ThreadBuilder::new()
        .heap_limit(usize::MAX)
        .spawn(&mut objs, || {
            let mut blocks: Vec<Vec<u8>> = Vec::new();
            // Room for the small blocks, taken before the heap is full.
            let mut small: Vec<Vec<u8>> = Vec::new();
            if small.try_reserve_exact(4096).is_err() {
                panic!("no room for the small blocks' list");
            }
            loop {
                let mut b: Vec<u8> = Vec::new();
                if b.try_reserve_exact(BLOCK).is_err() || blocks.try_reserve(1).is_err() {
                    break;
                }
                b.resize(BLOCK, 0x5a);
                blocks.push(b);
            }
            while small.len() < small.capacity() {
                let mut b: Vec<u8> = Vec::new();
                if b.try_reserve_exact(64).is_err() {
                    break;
                }
                small.push(b);
            }
            panic!(
                "filled the heap with {} blocks and {} small ones",
                blocks.len(),
                small.len()
            );
        })
        .map_err(fw("spawn"))?;
    let j = h.join_report(&mut objs);
    match &j.result {
        Err(ThreadError::Panicked { message }) => {
            ensure!(message.contains("filled the heap"), "message {message:?}")
        }
        other => fail!("join gave {other:?}"),
    }
    let held = j.report.heap.in_use;
    ensure!(
        held + BLOCK + 4 * heap::RESERVE_PER_LEVEL > free0,
        "the thread took the heap ({held} of {free0} free)"
    );
    // This thread (one level up) still allocates; so does a new thread.
    let v = alloc::vec![3u8; 32 * 1024];
    ensure!(v[100] == 3);
    let h = spawn(&mut objs, || alloc::vec![4u8; 16 * 1024].len()).map_err(fw("spawn after"))?;
    ensure_eq!(h.join(&mut objs).map_err(fw("join after"))?, 16 * 1024);
    sel4_rootserver::println!(
        "heap: a thread filled {held} bytes of {free0} free and panicked; the heap grew to {} bytes free",
        heap::usage().1
    );
    Ok(())
}

/// The same with infallible allocations: the thread ends with a typed
/// out-of-memory error.
#[sel4_test(timeout_ms = 20000)]
fn a_thread_that_runs_out_of_heap_ends_with_a_typed_error(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let h = ThreadBuilder::new()
        .heap_limit(usize::MAX)
        .spawn(&mut objs, || {
            let mut blocks: Vec<alloc::boxed::Box<[u8]>> = Vec::with_capacity(4096);
            loop {
                blocks.push(alloc::vec![9u8; BLOCK].into_boxed_slice());
            }
        })
        .map_err(fw("spawn"))?;
    let j = h.join_report(&mut objs);
    match j.result {
        Err(ThreadError::OutOfMemory { requested, free }) => {
            ensure_eq!(requested, BLOCK);
            ensure!(free < BLOCK + 4 * heap::RESERVE_PER_LEVEL, "free {free}");
        }
        other => fail!("join gave {other:?}"),
    }
    let v = alloc::vec![3u8; 32 * 1024];
    ensure!(v[100] == 3);
    Ok(())
}

/// The heap grows by 24 MiB (more than the root CNode has slots for in
/// 4 KiB pages on seL4 5.0.0) from the memory the harness gave it, and a
/// 6 MiB block (larger than the static heap) lands in the grown part.
#[sel4_test(timeout_ms = 10000)]
fn the_heap_grows_beyond_the_root_cnode_slots(ctx: &mut Ctx) -> TestResult {
    let _ = ctx;
    let s0 = heap::stats();
    let want = 24 << 20;
    if s0.reservoir < want {
        sel4_test_harness::skip!("the heap's reservoir has {} bytes", s0.reservoir);
    }
    let added = heap::grow(want)
        .map_err(|e| sel4_test_harness::Failure::fail(alloc::format!("grow: {e}")))?;
    let s1 = heap::stats();
    ensure_eq!(added, want);
    ensure_eq!(s1.grown - s0.grown, want, "the growth window's mapped part");
    let n = 6 << 20;
    let mut v: Vec<u8> = Vec::new();
    ensure!(v.try_reserve_exact(n).is_ok(), "a 6 MiB block");
    v.resize(n, 0xa5);
    let a = v.as_ptr() as usize;
    ensure!(
        (heap::GROWTH_WINDOW_START..heap::GROWTH_WINDOW_START + heap::GROWTH_WINDOW_SIZE)
            .contains(&a),
        "block at {a:#x} in the growth window"
    );
    ensure!(v.iter().all(|&b| b == 0xa5), "it holds what was written");
    sel4_rootserver::println!(
        "heap: grew by {} MiB in 2 MiB frames (root CNode slots: none), block at {a:#x}",
        added >> 20
    );
    Ok(())
}

/// What the heap takes: untyped RAM of at least 2 MiB; a smaller one,
/// device memory or another capability is refused and stays the caller's.
#[sel4_test]
fn the_heap_takes_only_untyped_ram(ctx: &mut Ctx) -> TestResult {
    let ntfn = crate::util::notification(ctx)?;
    let small = ctx.slot()?;
    sel4_test_harness::kernel::retype(
        ctx.untyped(),
        sel4_sys::ObjectType::UntypedObject as usize,
        20,
        small,
        1,
    )?;
    ensure!(
        matches!(
            heap::add_memory(sel4_sys::Cap::from_cptr(small), 20),
            Err(GrowError::TooSmall { size_bits: 20 })
        ),
        "a 1 MiB untyped"
    );
    let r = heap::add_memory(sel4_sys::Cap::from_cptr(ntfn), 21);
    ensure!(
        matches!(r, Err(GrowError::NotRam(_))),
        "a notification: {r:?}"
    );
    ensure_eq!(
        crate::util::cap_type(ntfn)?,
        crate::util::tag::NOTIFICATION,
        "still the caller's"
    );
    if let Some((dev, bits, _)) = ctx.device_untyped(21) {
        ensure!(
            matches!(
                heap::add_memory(sel4_sys::Cap::from_cptr(dev), bits as u8),
                Err(GrowError::NotRam(_))
            ),
            "device memory"
        );
        ensure_eq!(
            crate::util::cap_type(dev)?,
            crate::util::tag::UNTYPED,
            "still the caller's"
        );
    }
    Ok(())
}
