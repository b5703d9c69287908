//! sel4test's inter-address-space tests, with processes of the framework
//! in place of sel4utils' helper processes: IPC1001-IPC1004 (`ipc.c`,
//! `test_ipc_pair` with `inter_as`) and PAGEFAULT1001-PAGEFAULT1004
//! (`faults.c`, `test_fault` with `inter_as`). Both sides are processes
//! made from `tests/process-test`, each in its own CSpace and VSpace, given
//! the endpoint (and, for a fault handler, the faulter's TCB) explicitly.
//!
//! Priorities: sel4test's helpers run at 98-102 around 100 below the test;
//! here the same offsets around [`PRIO`] (above the harness, which polls),
//! while the test thread starts them from the highest priority, so that
//! none runs before the test waits.

use alloc::format;

use process_test::{f, faults as fk};
use sel4_rootserver::objects::Objects;
use sel4_rootserver::process::{receive_event, Process, ProcessBuilder, ProcessEvent, SlotLayout};
use sel4_rootserver::{cnode::ALL_RIGHTS, Endpoint, Owned};
use sel4_test_harness::{ensure_eq, sel4_test, Ctx, Failure, TestResult, HARNESS_PRIORITY};

use crate::processes::{image, PRIO};
use crate::util::{fw, set_priority};

/// Slot of the endpoint in the helper processes' CSpaces: the first after
/// the main thread's block of the component layout.
const EP_SLOT: u64 = SlotLayout::COMPONENT.first_thread + SlotLayout::COMPONENT.thread_slots;
/// Slot of the faulter's TCB in the fault handler's CSpace.
const TCB_SLOT: u64 = EP_SLOT + 1;

const SLOTS: usize = 200;

fn pe(what: &'static str) -> impl Fn(sel4_rootserver::process::ProcessError) -> Failure {
    move |e| Failure::fail(format!("{what}: {e}"))
}

fn destroy(objs: &mut Objects, p: Process) -> TestResult {
    p.destroy(objs)
        .map_err(|r| Failure::fail(format!("destroying {}: {}", r.handle.name(), r.error)))
}

/// Runs the test thread at the highest priority for the body, so that the
/// processes it starts run only once it waits; then back to the harness's.
fn at_top<R>(ctx: &Ctx, body: impl FnOnce() -> Result<R, Failure>) -> Result<R, Failure> {
    set_priority(ctx.own_tcb(), 255)?;
    let r = body();
    set_priority(ctx.own_tcb(), HARNESS_PRIORITY)?;
    r
}

/// Waits for the exits of the processes with badges 1 and 2: their codes.
fn two_exits(report: &Owned<Endpoint>) -> Result<[u64; 2], Failure> {
    let mut codes = [None, None];
    while codes.iter().any(Option::is_none) {
        match receive_event(report.cap()) {
            ProcessEvent::Exited {
                badge: b @ 1..=2,
                code,
            } => codes[b as usize - 1] = Some(code),
            other => return Err(Failure::fail(format!("expected two exits, got {other:?}"))),
        }
    }
    Ok([codes[0].unwrap_or(0), codes[1].unwrap_or(0)])
}

/// sel4test's `test_ipc_pair(env, fa, fb, inter_as = true)`: a sender `fa`
/// at priorities 98..=102 and a waiter `fb` at 100 (relative), each side
/// started first, messages of every length 0..=120 words checked word by
/// word.
fn ipc_pair(ctx: &mut Ctx, fa: u64, fb: u64) -> TestResult {
    let mut objs = ctx.objects(SLOTS)?;
    let report = objs.create::<Endpoint>()?;
    let ep = objs.create::<Endpoint>()?;
    let mut start_number: u64 = 0xabbacafe;
    let waiter_prio = PRIO;
    for sender_prio in PRIO - 2..=PRIO + 2 {
        for sender_first in [false, true] {
            let nbwait_should_wait = u64::from(sender_prio < waiter_prio);
            let helper = |name, func, prio, badge| {
                image(name, func, &[EP_SLOT, start_number, nbwait_should_wait])
                    .priority(prio)
                    .grant(EP_SLOT, &ep, ALL_RIGHTS)
                    .report_endpoint(&report, badge)
                    .fault_endpoint(&report, badge)
                    .suspended()
            };
            let mut a = helper("ipc-a", fa, sender_prio, 1)
                .spawn(&mut objs)
                .map_err(pe("spawn a"))?;
            let mut b = helper("ipc-b", fb, waiter_prio, 2)
                .spawn(&mut objs)
                .map_err(pe("spawn b"))?;
            let codes = at_top(ctx, || {
                if sender_first {
                    b.start().map_err(pe("start b"))?;
                    a.start().map_err(pe("start a"))?;
                } else {
                    a.start().map_err(pe("start a"))?;
                    b.start().map_err(pe("start b"))?;
                }
                two_exits(&report)
            })?;
            destroy(&mut objs, a)?;
            destroy(&mut objs, b)?;
            ensure_eq!(
                codes,
                [process_test::SUCCESS; 2],
                "sender at {sender_prio}, waiter at {waiter_prio}, sender first: {sender_first}"
            );
            start_number = start_number.wrapping_add(0x71717171);
        }
    }
    objs.delete(ep).map_err(fw("delete"))?;
    Ok(())
}

/// IPC1001: inter-AS seL4_Send + seL4_Recv.
#[sel4_test(timeout_ms = 60000, sel4test = "IPC1001")]
fn ipc1001_send_recv_inter_as(ctx: &mut Ctx) -> TestResult {
    ipc_pair(ctx, f::SEND, f::WAIT)
}

/// IPC1002: inter-AS seL4_Call + seL4_ReplyRecv.
#[sel4_test(timeout_ms = 60000, sel4test = "IPC1002")]
fn ipc1002_call_replyrecv_inter_as(ctx: &mut Ctx) -> TestResult {
    ipc_pair(ctx, f::CALL, f::REPLY_WAIT)
}

/// IPC1003: inter-AS seL4_Send + seL4_Reply + seL4_Recv (a Call answered
/// with Reply, then Recv).
#[sel4_test(timeout_ms = 60000, sel4test = "IPC1003")]
fn ipc1003_call_reply_and_recv_inter_as(ctx: &mut Ctx) -> TestResult {
    ipc_pair(ctx, f::CALL, f::REPLY_AND_WAIT)
}

/// IPC1004: inter-AS seL4_NBSend + seL4_Recv (the waiter waits only when
/// it runs first, at a higher priority than the sender).
#[sel4_test(timeout_ms = 60000, sel4test = "IPC1004")]
fn ipc1004_nbsend_recv_inter_as(ctx: &mut Ctx) -> TestResult {
    ipc_pair(ctx, f::NBSEND, f::NBWAIT)
}

/// sel4test's `test_fault(env, kind, inter_as = true)`: a faulter process
/// and a fault handler process (given the fault endpoint and the
/// faulter's TCB), with the endpoint badged or not, the faulter restarted
/// or not, and the faulter at priorities 100..=102 against the handler at
/// 101 (relative). The handler checks the fault message (label, length,
/// IP, address, the registers), repairs the faulter through its TCB and,
/// with restart, replies; the faulter then checks the repaired value.
fn fault_pair(ctx: &mut Ctx, kind: u64) -> TestResult {
    let mut objs = ctx.objects(SLOTS)?;
    let report = objs.create::<Endpoint>()?;
    for badged in [false, true] {
        let fault_ep = objs.create::<Endpoint>()?;
        let badge = if badged { fk::EXPECTED_BADGE } else { 0 };
        for restart in [false, true] {
            let flags = if badged { fk::BADGED } else { 0 } | if restart { fk::RESTART } else { 0 };
            for prio in PRIO - 1..=PRIO + 1 {
                let faulter = image("faulter", f::CAUSE_FAULT, &[kind])
                    .priority(prio)
                    .fault_endpoint(&fault_ep, badge)
                    .report_endpoint(&report, 1)
                    .suspended()
                    .spawn(&mut objs)
                    .map_err(pe("spawn the faulter"))?;
                let faulter_tcb = faulter
                    .tcb_handle(0)
                    .ok_or_else(|| Failure::fail("the faulter has no thread"))?;
                let handler: ProcessBuilder<'_> = image(
                    "handler",
                    f::HANDLE_FAULT,
                    &[EP_SLOT, TCB_SLOT, kind, flags],
                )
                .priority(PRIO + 1)
                .grant(EP_SLOT, &fault_ep, ALL_RIGHTS)
                .grant(TCB_SLOT, faulter_tcb, ALL_RIGHTS)
                .report_endpoint(&report, 2)
                .fault_endpoint(&report, 2)
                .suspended();
                let mut handler = handler.spawn(&mut objs).map_err(pe("spawn the handler"))?;
                let mut faulter = faulter;
                let (handler_code, faulter_code) = at_top(ctx, || {
                    handler.start().map_err(pe("start the handler"))?;
                    faulter.start().map_err(pe("start the faulter"))?;
                    let mut h = None;
                    let mut fc = None;
                    while h.is_none() || (restart && fc.is_none()) {
                        match receive_event(report.cap()) {
                            ProcessEvent::Exited { badge: 2, code } => h = Some(code),
                            ProcessEvent::Exited { badge: 1, code } => fc = Some(code),
                            other => {
                                return Err(Failure::fail(format!("expected exits, got {other:?}")))
                            }
                        }
                    }
                    Ok((h.unwrap_or(u64::MAX), fc))
                })?;
                destroy(&mut objs, handler)?;
                destroy(&mut objs, faulter)?;
                let what = format!("badged {badged}, restart {restart}, faulter at {prio}");
                ensure_eq!(
                    handler_code,
                    0,
                    "the handler's failed checks (bits), {what}"
                );
                if restart {
                    ensure_eq!(
                        faulter_code,
                        Some(process_test::SUCCESS),
                        "the faulter after the restart, {what}"
                    );
                }
            }
        }
        objs.delete(fault_ep).map_err(fw("delete"))?;
    }
    Ok(())
}

/// PAGEFAULT1001: read page fault (inter-AS).
#[sel4_test(timeout_ms = 60000, sel4test = "PAGEFAULT1001")]
fn pagefault1001_read_fault_inter_as(ctx: &mut Ctx) -> TestResult {
    fault_pair(ctx, fk::READ)
}

/// PAGEFAULT1002: write page fault (inter-AS).
#[sel4_test(timeout_ms = 60000, sel4test = "PAGEFAULT1002")]
fn pagefault1002_write_fault_inter_as(ctx: &mut Ctx) -> TestResult {
    fault_pair(ctx, fk::WRITE)
}

/// PAGEFAULT1003: execute page fault (inter-AS).
#[sel4_test(timeout_ms = 60000, sel4test = "PAGEFAULT1003")]
fn pagefault1003_execute_fault_inter_as(ctx: &mut Ctx) -> TestResult {
    fault_pair(ctx, fk::INSTRUCTION)
}

/// PAGEFAULT1004: unknown system call (inter-AS).
#[sel4_test(timeout_ms = 60000, sel4test = "PAGEFAULT1004")]
fn pagefault1004_unknown_syscall_inter_as(ctx: &mut Ctx) -> TestResult {
    fault_pair(ctx, fk::BAD_SYSCALL)
}
