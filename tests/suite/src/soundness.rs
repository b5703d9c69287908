//! Safe code cannot make the framework use freed or foreign memory: a
//! dropped `JoinHandle` detaches its thread (which keeps its TLS block, IPC
//! buffer and exit record), the helper that fixes the initial thread's TLS
//! base on seL4 5.x cannot be run again, and the fault provokers touch only
//! addresses the runtime keeps unmapped.

use alloc::sync::Arc;
use sel4_rootserver::thread::{reap_detached, spawn, ThreadError};
use sel4_rootserver::{Cap, Notification};
use sel4_runtime::sync::Slot;
use sel4_runtime::thread::{self as rt, provoke, TlsFixError};
use sel4_test_harness::{ensure, ensure_eq, fail, sel4_test, Ctx, TestResult};

use crate::util::{fw, OBJECT_SLOTS};

/// `let _ = spawn(..)`: the thread runs on, with its own TLS and IPC
/// buffer, after the handle is gone and the heap has been churned; once
/// it has ended, the next spawn of the same `Objects` tears it down.
#[sel4_test(timeout_ms = 5000)]
fn a_dropped_join_handle_detaches_the_thread(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let go: Cap<Notification> = objs
        .create::<Notification>()
        .map_err(fw("notification"))?
        .cap();
    let out: Arc<Slot<(u64, usize, u64)>> = Arc::new(Slot::new());
    let o2 = out.clone();
    let h = spawn(&mut objs, move || {
        let before = (rt::current_id(), sel4_sys::ipc_buffer_addr());
        go.wait();
        let after = (rt::current_id(), sel4_sys::ipc_buffer_addr());
        let sum: u64 = (0..100u64).sum();
        let _ = o2.put((after.0, after.1, if before == after { sum } else { 0 }));
    })
    .map_err(fw("spawn"))?;
    let (id, ipc) = (h.id(), h.ipc_buffer());
    drop(h);
    ensure_eq!(sel4_rootserver::thread::detached_threads(), 1, "detached");
    // Churn the heap where a freed TLS block would be reused.
    let junk: alloc::vec::Vec<alloc::vec::Vec<u8>> =
        (0..64).map(|i| alloc::vec![0xee; 64 + i]).collect();
    go.signal();
    let mut spins = 0;
    while !out.is_full() && spins < 100_000 {
        sel4_sys::yield_now();
        spins += 1;
    }
    drop(junk);
    match out.take() {
        Some((tid, tipc, sum)) => {
            ensure_eq!(tid, id, "its id (TLS) after the drop");
            ensure_eq!(tipc, ipc, "its IPC buffer after the drop");
            ensure_eq!(sum, 4950, "its TLS did not change meanwhile");
        }
        None => fail!("the detached thread did not finish"),
    }
    ensure_eq!(reap_detached(&mut objs), 1, "torn down once ended");
    ensure_eq!(sel4_rootserver::thread::detached_threads(), 0);
    Ok(())
}

/// After the start-up fix (or on kernels that need none), the helper's
/// function refuses to touch the initial thread, and the wait refuses to
/// run on another thread.
#[sel4_test]
fn the_initial_tls_fix_cannot_be_run_again(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let ntfn: Cap<Notification> = objs
        .create::<Notification>()
        .map_err(fw("notification"))?
        .cap();
    ensure!(!rt::initial_tls_base_needs_fix(), "fixed at start");
    ensure_eq!(rt::fix_initial_tls_base(ntfn), Err(TlsFixError::NotWaiting));
    ensure_eq!(
        rt::wait_for_initial_tls_fix(ntfn),
        Err(TlsFixError::NotInitialThread)
    );
    // The initial thread (the harness) runs on: this thread and a new one
    // still see their own TLS.
    let h = spawn(&mut objs, rt::current_id).map_err(fw("spawn"))?;
    let id = h.id();
    ensure_eq!(h.join(&mut objs).map_err(fw("join"))?, id);
    Ok(())
}

/// The provokers refuse an address that may be mapped (here, a live heap
/// block) instead of reading or writing it.
#[sel4_test]
fn provokers_refuse_addresses_that_may_be_mapped(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let block = alloc::boxed::Box::new(0x1234u64);
    let addr = &*block as *const u64 as usize;
    let h = spawn(&mut objs, move || provoke::write_unmapped(addr)).map_err(fw("spawn"))?;
    match h.join(&mut objs) {
        Err(ThreadError::Panicked { message }) => {
            ensure!(message.contains("not in the range"), "message {message:?}")
        }
        other => fail!("join gave {other:?}"),
    }
    ensure_eq!(*block, 0x1234, "the block is untouched");
    ensure!(
        provoke::never_mapped().end <= sel4_runtime::thread::image_start(),
        "below the image"
    );
    Ok(())
}
