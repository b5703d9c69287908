//! Threads that run: created and configured by hand or through the
//! framework, suspend and resume, registers of a live thread, and TLS per
//! thread.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use sel4_rootserver::thread::{spawn, ThreadBuilder, ThreadError};
use sel4_sys::InvocationLabel;
use sel4_test_harness::kernel::invoke;
use sel4_test_harness::{ensure, ensure_eq, fail, sel4_test, Ctx, TestResult, HARNESS_PRIORITY};

use crate::util::{
    endpoint, fw, notification, raw_thread, read_regs, reg, start_raw, write_regs, OBJECT_SLOTS,
};

#[sel4_test]
fn hand_made_thread_signals_with_badge(ctx: &mut Ctx) -> TestResult {
    let ep = endpoint(ctx)?;
    let ready = notification(ctx)?;
    let ready_b = crate::util::badged(ctx, ready, 0b101)?;
    let parked = notification(ctx)?;
    let t = raw_thread(ctx, ep, 250)?;
    start_raw(&t, crate::util::entry_addr(), ready_b, parked)?;
    ensure_eq!(sel4_sys::poll(ready), 0b101, "first signal");
    ensure_eq!(sel4_sys::poll(ready), 0, "nothing more while it waits");
    sel4_sys::signal(parked);
    ensure_eq!(sel4_sys::poll(ready), 0b101, "signal after the wake-up");
    Ok(())
}

#[sel4_test]
fn read_registers_of_blocked_thread(ctx: &mut Ctx) -> TestResult {
    let ep = endpoint(ctx)?;
    let ready = notification(ctx)?;
    let parked = notification(ctx)?;
    let t = raw_thread(ctx, ep, 250)?;
    start_raw(&t, crate::util::entry_addr(), ready, parked)?;
    sel4_sys::wait(ready);
    // It now waits on `parked`, in a Recv syscall (MCS kernels: Wait).
    let regs = read_regs(t.tcb, reg::COUNT)?;
    let (low, high) = t.stack_range();
    // x86_64: the kernel's syscall entry does not save RSP (and its return
    // leaves RSP = 0): for a thread blocked in a syscall, the RSP slot
    // holds what the last interrupt saved, 0 if that came between a
    // syscall's return and sel4-sys restoring RSP from R14 (see
    // syscall_regs::read_registers_of_thread_blocked_in_syscall_has_stale_rsp);
    // R14 holds the stack pointer across sel4-sys's syscalls. aarch64 and
    // riscv64 save the stack pointer itself.
    let sp = regs[reg::SYSCALL_SP];
    ensure!(
        sp > low && sp <= high,
        "the stack pointer kept across the syscall {sp:#x} outside its stack ({low:#x}, {high:#x}]"
    );
    ensure_eq!(
        regs[reg::CAP],
        parked,
        "the capability register holds the cap it waits on"
    );
    let wait = sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
        sel4_sys::Syscall::Wait
    } else {
        sel4_sys::Syscall::Recv
    } };
    ensure_eq!(
        regs[reg::SYSCALL] as i64,
        wait as i64,
        "the syscall number register holds the syscall number"
    );
    ensure!(regs[reg::PC] != 0, "the instruction pointer");
    Ok(())
}

#[sel4_test(sel4test_partly = "REGRESSIONS0001")]
fn write_registers_redirects_thread(ctx: &mut Ctx) -> TestResult {
    let ep = endpoint(ctx)?;
    let first = notification(ctx)?;
    let second = notification(ctx)?;
    let second_b = crate::util::badged(ctx, second, 0x8)?;
    let parked = notification(ctx)?;
    let t = raw_thread(ctx, ep, 250)?;
    start_raw(&t, crate::util::entry_addr(), first, parked)?;
    sel4_sys::wait(first);
    invoke(t.tcb, InvocationLabel::TCBSuspend, &[], &[])?;
    let mut regs = read_regs(t.tcb, reg::COUNT)?;
    regs[reg::PC] = crate::util::entry_addr();
    regs[reg::SP] = t.initial_sp();
    regs[reg::ARG0] = second_b;
    regs[reg::ARG1] = parked;
    write_regs(t.tcb, true, &regs)?;
    ensure_eq!(
        sel4_sys::poll(second),
        0x8,
        "the thread restarted with new registers"
    );
    Ok(())
}

#[sel4_test]
fn suspend_stops_and_resume_continues(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let count = Arc::new(AtomicU64::new(0));
    let c2 = count.clone();
    // Same priority as the test: both take turns through yield.
    let t = ThreadBuilder::new()
        .priority(HARNESS_PRIORITY as u8)
        .spawn(&mut objs, move || loop {
            c2.fetch_add(1, Ordering::SeqCst);
            sel4_sys::yield_now();
        })
        .map_err(fw("spawn"))?;
    let tcb = t.tcb().cptr();
    let mut spins = 0;
    while count.load(Ordering::SeqCst) < 5 && spins < 10_000 {
        sel4_sys::yield_now();
        spins += 1;
    }
    ensure!(count.load(Ordering::SeqCst) >= 5, "the thread did not run");
    invoke(tcb, InvocationLabel::TCBSuspend, &[], &[])?;
    let frozen = count.load(Ordering::SeqCst);
    for _ in 0..50 {
        sel4_sys::yield_now();
    }
    ensure_eq!(count.load(Ordering::SeqCst), frozen, "ran while suspended");
    invoke(tcb, InvocationLabel::TCBResume, &[], &[])?;
    let mut spins = 0;
    while count.load(Ordering::SeqCst) == frozen && spins < 10_000 {
        sel4_sys::yield_now();
        spins += 1;
    }
    ensure!(
        count.load(Ordering::SeqCst) > frozen,
        "did not run after resume"
    );
    t.kill(&mut objs);
    Ok(())
}

#[sel4_test]
fn spawned_thread_returns_value(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let data: Vec<u64> = (1..=10).collect();
    let h =
        spawn(&mut objs, move || data.iter().map(|x| x * x).sum::<u64>()).map_err(fw("spawn"))?;
    ensure_eq!(h.join(&mut objs).map_err(fw("join"))?, 385);
    Ok(())
}

#[sel4_test]
fn spawned_thread_panic_reaches_joiner(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let h = spawn(&mut objs, || -> u8 { panic!("expected panic {}", 31) }).map_err(fw("spawn"))?;
    match h.join(&mut objs) {
        Err(ThreadError::Panicked { message }) => ensure!(
            message.contains("expected panic 31"),
            "panic message {message:?}"
        ),
        other => fail!("join gave {other:?}"),
    }
    Ok(())
}

#[sel4_test]
fn many_threads_one_after_another(ctx: &mut Ctx) -> TestResult {
    // Each join frees the thread's slots and objects' slots: far more
    // threads than the slots given would hold at once.
    let mut objs = ctx.objects(16)?;
    for i in 0..40u64 {
        let h = spawn(&mut objs, move || i * 2).map_err(fw("spawn"))?;
        ensure_eq!(h.join(&mut objs).map_err(fw("join"))?, i * 2);
    }
    Ok(())
}

/// Each thread has its own TLS block (its id, its IPC buffer's address)
/// and thread pointer, and they survive context switches. The thread
/// pointer is read at `fs:[0]`, which needs no user `rdfsbase` (kernels
/// built with `KernelFSGSBase=msr` fault on that instruction).
#[sel4_test]
fn tls_is_per_thread(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let mut handles = Vec::new();
    for _ in 0..4 {
        handles.push(
            ThreadBuilder::new()
                .priority(HARNESS_PRIORITY as u8)
                .spawn(&mut objs, || {
                    let first = (
                        sel4_runtime::thread::current_id(),
                        sel4_sys::ipc_buffer_addr(),
                        sel4_sys::arch::read_thread_pointer(),
                    );
                    for _ in 0..30 {
                        sel4_sys::yield_now();
                        let now = (
                            sel4_runtime::thread::current_id(),
                            sel4_sys::ipc_buffer_addr(),
                            sel4_sys::arch::read_thread_pointer(),
                        );
                        if now != first {
                            return Err((first, now));
                        }
                    }
                    Ok(first)
                })
                .map_err(fw("spawn"))?,
        );
    }
    let mine = (
        sel4_runtime::thread::current_id(),
        sel4_sys::ipc_buffer_addr(),
        sel4_sys::arch::read_thread_pointer(),
    );
    let mut seen = alloc::vec![mine];
    for h in handles {
        match h.join(&mut objs).map_err(fw("join"))? {
            Ok(v) => {
                ensure!(
                    seen.iter().all(|s| s.0 != v.0 && s.1 != v.1 && s.2 != v.2),
                    "thread-local values {v:x?} shared with another thread ({seen:x?})"
                );
                seen.push(v);
            }
            Err((a, b)) => fail!("thread-local values changed from {a:x?} to {b:x?}"),
        }
    }
    ensure_eq!(seen.len(), 5);
    Ok(())
}
