//! Threads (TCB objects): configure, priorities, registers.
//!
//! Most of these tests work on TCBs that never run; the priority and
//! suspend tests start one (registers only, see `util::raw_thread`) to see
//! what the invocation did. Threads that run are tested in `threads`.

use alloc::vec::Vec;
use sel4_sys::{Error, InvocationLabel, ObjectType};
use sel4_test_harness::kernel::{invoke, KResult, ROOT_CNODE, ROOT_TCB, ROOT_VSPACE};
use sel4_test_harness::{ensure, ensure_eq, sel4_test, skip, Ctx, Failure, TestResult};

use crate::support::{lift, TEST_TOP};
use crate::util::{
    badged, endpoint, entry_addr, expect_err, notification, raw_thread, reg, start_raw,
};

/// Registers every x86_64 seL4 version has first in seL4_UserContext:
/// rip, rsp, rflags, rax, rbx, rcx, rdx, rsi, rdi, rbp, r8-r15.
const COMMON_REGS: usize = 18;

fn read_regs(tcb: u64, count: usize) -> Result<Vec<u64>, Failure> {
    let r = invoke(
        tcb,
        InvocationLabel::TCBReadRegisters,
        &[],
        &[0, count as u64],
    )?;
    // The first words of the reply come back in registers, the rest in
    // the IPC buffer.
    let n = r.info.get_length() as usize;
    ensure_eq!(n, count, "reply length of ReadRegisters");
    let mut regs = r.mrs[..count.min(4)].to_vec();
    if count > 4 {
        regs.resize(count, 0);
        sel4_sys::ipc_buffer().read_msgs(4, &mut regs[4..count]);
    }
    Ok(regs)
}

fn write_regs(tcb: u64, regs: &[u64]) -> KResult {
    let mut args = alloc::vec![0u64, regs.len() as u64];
    args.extend_from_slice(regs);
    invoke(tcb, InvocationLabel::TCBWriteRegisters, &[], &args)
}

fn set_priority(tcb: u64, prio: u64) -> KResult {
    sel4_sys::sel4_cfg_if! {
        kernel >= 9 && label TCBSetSchedParams {
            if sel4_sys::KERNEL_VERSION_MAJOR >= 10 {
                return invoke(tcb, InvocationLabel::TCBSetPriority, &[ROOT_TCB], &[prio]);
            }
        }
    }
    invoke(tcb, InvocationLabel::TCBSetPriority, &[], &[prio])
}

#[sel4_test]
fn write_then_read_registers(ctx: &mut Ctx) -> TestResult {
    let tcb = ctx.create(ObjectType::TCBObject, 0)?;
    let regs: Vec<u64> = (0..COMMON_REGS as u64).map(|i| 0x1000 + i * 0x11).collect();
    write_regs(tcb, &regs)?;
    let back = read_regs(tcb, COMMON_REGS)?;
    for (i, (w, r)) in regs.iter().zip(back.iter()).enumerate() {
        if i == 2 {
            // rflags: the kernel keeps the bits a user may not set.
            continue;
        }
        ensure_eq!(*w, *r, "register {i}");
    }
    Ok(())
}

#[sel4_test]
fn fresh_tcb_registers_are_zero(ctx: &mut Ctx) -> TestResult {
    let tcb = ctx.create(ObjectType::TCBObject, 0)?;
    let regs = read_regs(tcb, COMMON_REGS)?;
    ensure_eq!(regs[0], 0, "rip");
    ensure_eq!(regs[1], 0, "rsp");
    ensure!(
        regs[3..].iter().all(|&r| r == 0),
        "general registers {regs:x?}"
    );
    Ok(())
}

#[sel4_test]
fn read_too_many_registers_is_range_error(ctx: &mut Ctx) -> TestResult {
    let tcb = ctx.create(ObjectType::TCBObject, 0)?;
    let r = invoke(tcb, InvocationLabel::TCBReadRegisters, &[], &[0, 1000]);
    let e = expect_err(r, Error::RangeError, "reading 1000 registers")?;
    ensure_eq!(
        (e.detail[0], e.detail[1]),
        (1, sel4_sys::UserContext::WORDS as u64),
        "the range of register counts (1 to the words of seL4_UserContext)"
    );
    Ok(())
}

#[sel4_test]
fn copy_registers_between_tcbs(ctx: &mut Ctx) -> TestResult {
    let a = ctx.create(ObjectType::TCBObject, 0)?;
    let b = ctx.create(ObjectType::TCBObject, 0)?;
    let regs: Vec<u64> = (0..COMMON_REGS as u64).map(|i| 0xabc0 + i).collect();
    write_regs(a, &regs)?;
    // dest b, source a: suspend_source=0, resume_target=0, transfer_frame=1,
    // transfer_integer=1, arch_flags=0.
    invoke(b, InvocationLabel::TCBCopyRegisters, &[a], &[0b1100])?;
    let back = read_regs(b, COMMON_REGS)?;
    for i in (0..COMMON_REGS).filter(|&i| i != 2) {
        // rflags aside: the kernel keeps the bits a user may not set.
        ensure_eq!(back[i], regs[i], "register {i} copied");
    }
    ensure_eq!(
        read_regs(a, COMMON_REGS)?,
        back,
        "the source keeps its registers"
    );
    Ok(())
}

/// The priority a new TCB gets before it starts decides when it runs: above
/// this thread's (raised to TEST_TOP), it runs before the start returns;
/// below it, only once this thread blocks. Of two SetPriority calls the
/// second counts.
#[sel4_test]
fn set_priority_on_new_tcb(ctx: &mut Ctx) -> TestResult {
    let ready = notification(ctx)?;
    let parked = notification(ctx)?;
    lift(ctx)?;
    let (above, below) = (u64::from(TEST_TOP) + 1, u64::from(TEST_TOP) - 1);
    for (badge, first, last) in [(0x1, below, above), (0x2, above, below)] {
        let signal = badged(ctx, ready, badge)?;
        // No fault endpoint; raw_thread gives it priority 0 first.
        let t = raw_thread(ctx, 0, 0)?;
        set_priority(t.tcb, first)?;
        set_priority(t.tcb, last)?;
        start_raw(&t, entry_addr(), signal, parked)?;
        let at_once = sel4_sys::poll(ready);
        if last == above {
            ensure_eq!(
                at_once,
                badge,
                "priority {first} then {last}: ran at its start"
            );
        } else {
            ensure_eq!(
                at_once,
                0,
                "priority {first} then {last}: ran before this thread blocked"
            );
            ensure_eq!(
                sel4_sys::wait(ready),
                badge,
                "priority {first} then {last}: runs once this thread blocks"
            );
        }
    }
    Ok(())
}

#[sel4_test]
fn priority_above_mcp_is_refused(ctx: &mut Ctx) -> TestResult {
    if sel4_sys::KERNEL_VERSION_MAJOR < 10 {
        skip!("seL4 5.x: SetPriority has no authority argument (the caller's MCP applies)");
    }
    let weak = ctx.create(ObjectType::TCBObject, 0)?;
    let target = ctx.create(ObjectType::TCBObject, 0)?;
    // A new TCB has MCP 0: as authority it allows priority 0 only.
    invoke(target, InvocationLabel::TCBSetPriority, &[weak], &[0])?;
    let r = invoke(target, InvocationLabel::TCBSetPriority, &[weak], &[10]);
    let e = expect_err(r, Error::RangeError, "priority 10 with an MCP-0 authority")?;
    ensure_eq!(
        (e.detail[0], e.detail[1]),
        (0, 0),
        "the range of priorities (up to the authority's MCP)"
    );
    Ok(())
}

#[sel4_test]
fn set_mcp_then_use_as_authority(ctx: &mut Ctx) -> TestResult {
    if sel4_sys::KERNEL_VERSION_MAJOR < 10 {
        skip!("seL4 5.x: SetPriority/SetMCPriority have no authority argument");
    }
    let auth = ctx.create(ObjectType::TCBObject, 0)?;
    let target = ctx.create(ObjectType::TCBObject, 0)?;
    invoke(auth, InvocationLabel::TCBSetMCPriority, &[ROOT_TCB], &[50])?;
    invoke(target, InvocationLabel::TCBSetPriority, &[auth], &[50])?;
    let r = invoke(target, InvocationLabel::TCBSetPriority, &[auth], &[51]);
    let e = expect_err(r, Error::RangeError, "priority above the authority's MCP")?;
    ensure_eq!(
        (e.detail[0], e.detail[1]),
        (0, 50),
        "the range of priorities (up to the authority's MCP)"
    );
    Ok(())
}

#[sel4_test(sel4test_partly = "THREADS0005")]
fn set_space_needs_a_cnode(ctx: &mut Ctx) -> TestResult {
    let tcb = ctx.create(ObjectType::TCBObject, 0)?;
    let ep = endpoint(ctx)?;
    crate::util::set_space(tcb, ep, ROOT_CNODE, ROOT_VSPACE)?;
    let r = crate::util::set_space(tcb, ep, ep, ROOT_VSPACE);
    expect_err(r, Error::IllegalOperation, "an endpoint as CSpace root")?;
    Ok(())
}

#[sel4_test]
fn set_ipc_buffer_must_be_aligned(ctx: &mut Ctx) -> TestResult {
    let tcb = ctx.create(ObjectType::TCBObject, 0)?;
    let frame = ctx.create(crate::util::GRANULE, 0)?;
    let r = invoke(
        tcb,
        InvocationLabel::TCBSetIPCBuffer,
        &[frame],
        &[0x10_0000_0100],
    );
    expect_err(
        r,
        Error::AlignmentError,
        "an IPC buffer at a 256-byte boundary",
    )?;
    invoke(
        tcb,
        InvocationLabel::TCBSetIPCBuffer,
        &[frame],
        &[0x10_0000_0400],
    )?;
    Ok(())
}

/// Suspending a TCB that never ran succeeds, also twice, and keeps it
/// stopped: given registers (not resumed) and a priority above this
/// thread's, it does not run after the suspends; Resume then starts it at
/// those registers at once.
#[sel4_test]
fn suspend_unstarted_tcb(ctx: &mut Ctx) -> TestResult {
    let ready = notification(ctx)?;
    let parked = notification(ctx)?;
    let signal = badged(ctx, ready, 0x4)?;
    lift(ctx)?;
    let t = raw_thread(ctx, 0, u64::from(TEST_TOP) + 1)?;
    let mut regs = [0u64; reg::COUNT];
    regs[reg::PC] = entry_addr();
    regs[reg::SP] = t.initial_sp();
    regs[reg::ARG0] = signal;
    regs[reg::ARG1] = parked;
    crate::util::write_regs(t.tcb, false, &regs)?;
    invoke(t.tcb, InvocationLabel::TCBSuspend, &[], &[])?;
    invoke(t.tcb, InvocationLabel::TCBSuspend, &[], &[])?;
    sel4_sys::yield_now();
    ensure_eq!(sel4_sys::poll(ready), 0, "the suspended thread ran");
    invoke(t.tcb, InvocationLabel::TCBResume, &[], &[])?;
    ensure_eq!(
        sel4_sys::poll(ready),
        0x4,
        "resumed (above this thread), it ran at once from its registers"
    );
    Ok(())
}
