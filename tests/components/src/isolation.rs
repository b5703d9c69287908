//! Isolation between components: a component invoking a slot it was not
//! given, reading another component's memory, writing its own code.

use alloc::format;

use probe_proto::{result, CtlRequest, CtlResponse};
use sel4_rootserver::supervisor::{Action, Happening};
use sel4_sys::{Fault, LookupFailure};
use sel4_test_harness::{ensure, ensure_eq, fail, sel4_test, Ctx, TestResult};

use crate::rig::{next, order, order_only, rig};
use crate::system::PLAN;

const CLIENT1: usize = 2;

#[sel4_test(timeout_ms = 60000)]
fn invoking_a_slot_not_given_is_refused_or_a_lookup_failure(ctx: &mut Ctx) -> TestResult {
    let mut r = rig(ctx, 256, 23, true)?;
    ensure_eq!(PLAN.component_index("client1"), Some(CLIENT1));
    r.start("server")?;
    r.start("client1")?;
    let ctl = r.ctl("ctl1")?;
    ensure!(matches!(next(&ctl)?, CtlRequest::Ready { generation: 0 }));
    // A slot of its own CSpace it was given nothing in: the kernel answers
    // the call with InvalidCapability.
    let c = &PLAN.components[CLIENT1];
    let empty = c.free_start;
    match order(&ctl, CtlResponse::InvokeSlot { slot: empty })? {
        CtlRequest::Done {
            kind: result::LABEL,
            a,
            ..
        } => ensure_eq!(
            a,
            sel4_sys::Error::InvalidCapability as u64,
            "invoking its empty slot {empty}"
        ),
        other => fail!("invoking its empty slot: {other:?}"),
    }
    // The server's endpoint is in the server's CSpace only: the slot
    // number the server has it at means nothing here (an empty slot too).
    let server_slot = PLAN.components[1]
        .caps
        .iter()
        .find_map(|c| match *c {
            sel4_component_env::plan::CapPlan::Server { slot, .. } => Some(slot),
            _ => None,
        })
        .ok_or_else(|| sel4_test_harness::Failure::fail("the server has no server end"))?;
    let own = c.caps.iter().any(|x| match *x {
        sel4_component_env::plan::CapPlan::Client { slot, .. } => slot == server_slot,
        _ => false,
    });
    if !own {
        match order(&ctl, CtlResponse::InvokeSlot { slot: server_slot })? {
            CtlRequest::Done {
                kind: result::LABEL,
                a,
                ..
            } => ensure_eq!(a, sel4_sys::Error::InvalidCapability as u64),
            other => fail!("invoking the server's slot number: {other:?}"),
        }
    }
    // A capability pointer beyond its CSpace: a lookup failure, which the
    // kernel delivers as a capability fault to the supervisor.
    let beyond = 1u64 << (c.cspace_bits + 4);
    order_only(&ctl, CtlResponse::InvokeSlot { slot: beyond });
    match r.step() {
        Happening::Faulted {
            component,
            fault:
                Fault::CapFault {
                    addr,
                    lookup_failure,
                    ..
                },
            then,
            ..
        } => {
            ensure_eq!(component, CLIENT1);
            ensure_eq!(addr, beyond, "the fault names the capability pointer");
            // The slot index beyond the CNode's bits fails its guard.
            ensure!(
                matches!(lookup_failure, LookupFailure::GuardMismatch { .. }),
                "a lookup failure: {lookup_failure:?}"
            );
            // client1's policy.
            ensure_eq!(then, Action::Stop);
        }
        other => fail!("expected client1's capability fault, got {other:?}"),
    }
    r.finish(ctx)
}

/// The address range `[start, end)` each component of the plan maps,
/// without the image.
fn mapped(c: &sel4_component_env::plan::ComponentPlan, addr: u64) -> bool {
    let mut ranges = alloc::vec![
        (c.start_info, c.start_info + 4096),
        (c.heap_start, c.heap_start + c.heap_size)
    ];
    for t in c.threads {
        ranges.push((t.stack_bottom, t.stack_bottom + t.stack_size));
        ranges.push((t.ipc_buffer, t.ipc_buffer + 4096));
    }
    ranges.iter().any(|&(s, e)| (s..e).contains(&addr))
}

#[sel4_test(timeout_ms = 60000)]
fn reading_another_components_memory_faults(ctx: &mut Ctx) -> TestResult {
    let mut r = rig(ctx, 256, 23, true)?;
    let server = &PLAN.components[1];
    let client = &PLAN.components[CLIENT1];
    // An address of the server's (its IPC buffer page) that the client has
    // nothing mapped at: the layouts differ by their heaps.
    let target = server.threads[0].ipc_buffer;
    ensure!(
        mapped(server, target) && !mapped(client, target),
        "{target:#x}"
    );
    r.start("server")?;
    r.start("client1")?;
    let ctl = r.ctl("ctl1")?;
    ensure!(matches!(next(&ctl)?, CtlRequest::Ready { .. }));
    // Its own heap reads (zeros).
    match order(
        &ctl,
        CtlResponse::ReadAddr {
            addr: client.heap_start + client.heap_size - 8,
        },
    )? {
        CtlRequest::Done {
            kind: result::VALUE,
            ..
        } => {}
        other => fail!("reading its own heap: {other:?}"),
    }
    order_only(&ctl, CtlResponse::ReadAddr { addr: target });
    match r.step() {
        Happening::Faulted {
            component,
            fault: Fault::VmFault { addr, .. },
            ..
        } => {
            ensure_eq!(component, CLIENT1);
            // seL4 5.x reports 32 bits of a fault address.
            ensure_eq!(
                addr & 0xffff_ffff,
                target & 0xffff_ffff,
                "a VM fault at the server's address"
            );
        }
        other => fail!("expected client1's VM fault, got {other:?}"),
    }
    r.finish(ctx)
}

#[sel4_test(timeout_ms = 60000)]
fn writing_its_own_code_faults(ctx: &mut Ctx) -> TestResult {
    let mut r = rig(ctx, 256, 23, true)?;
    r.start("server")?;
    r.start("client1")?;
    let ctl = r.ctl("ctl1")?;
    ensure!(matches!(next(&ctl)?, CtlRequest::Ready { .. }));
    order_only(&ctl, CtlResponse::WriteText);
    match r.step() {
        Happening::Faulted {
            component,
            fault: Fault::VmFault { addr, ip, .. },
            ..
        } => {
            ensure_eq!(component, CLIENT1);
            let p = &PLAN.components[CLIENT1];
            let _ = p;
            // The write is to code: the image's range, below AUTO_BASE.
            ensure!(
                (sel4_component_env::layout::IMAGE_BASE..sel4_component_env::layout::AUTO_BASE)
                    .contains(&addr),
                "{}",
                format!("fault at {addr:#x} (ip {ip:#x}) is not in the image")
            );
        }
        other => fail!("expected client1's VM fault, got {other:?}"),
    }
    r.finish(ctx)
}
