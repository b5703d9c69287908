//! Endpoint rights (seL4test ipc_rights.c, IPCRIGHTS0001-0005): Send needs
//! Write, Recv needs Read, sending a cap needs Grant, Call needs Grant or
//! GrantReply (seL4 10+; Grant alone on 5.x), and a reply may carry a cap
//! only when the receiver's cap had Grant (seL4 10+).
//!
//! seL4test loops over rights values `0..BIT(seL4_MsgExtraCapBits)` (0-3:
//! Write and Read only); these tests take every combination the kernel
//! has (4 bits; 3 on seL4 5.x, which has no GrantReply).

use alloc::format;
use alloc::string::String;
use sel4_rootserver::thread::ThreadBuilder;
use sel4_sys::{FaultLabel, MessageInfo, Word};
use sel4_test_harness::kernel::{self, rights, DEPTH, ROOT_CNODE, ROOT_VSPACE};
use sel4_test_harness::{ensure, ensure_eq, sel4_test, Ctx, Failure, TestResult};

use crate::support::{helper, join, lift, slots_for, HELPER_STACK, TEST_TOP};
use crate::util::{endpoint, fw, is_empty};

const MAGIC1: Word = 42;
const MAGIC2: Word = 0xDEAD_BEEF;
const MAGIC3: Word = 666;

/// Does this kernel have the GrantReply right (seL4 10+)?
fn has_grant_reply() -> bool {
    sel4_sys::KERNEL_VERSION_MAJOR >= 10
}

/// Every rights value of this kernel.
fn all_rights() -> core::ops::Range<Word> {
    if has_grant_reply() {
        0..16
    } else {
        0..8
    }
}

fn can(r: Word, right: Word) -> bool {
    r & right != 0
}

/// A cap to `ep` with rights `r` in `slot` (emptied first).
fn mint(slot: Word, ep: Word, r: Word) -> TestResult {
    kernel::cnode_delete(slot)?;
    kernel::cnode_mint(slot, ep, r, 0)?;
    Ok(())
}

fn msg1(w: Word) -> (MessageInfo, [Word; 4]) {
    (MessageInfo::new(0, 0, 0, 1), [w, 0, 0, 0])
}

// Non-MCS kernels only (MCS kernels have no CNode_SaveCaller).
sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {} else {
    use sel4_sys::InvocationLabel;
    use sel4_test_harness::kernel::invoke;
    use sel4_test_harness::skip;

    /// What the receiving side does with a call (sel4test's modes).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Mode {
        /// Reply.
        Reply,
        /// Save the reply cap (CNode_SaveCaller), then send through it.
        SaveCaller,
        /// The caller calls twice; ReplyRecv answers the first.
        ReplyRecv,
    }

    const MODES: [Mode; 3] = [Mode::Reply, Mode::SaveCaller, Mode::ReplyRecv];

    fn save_caller(slot: Word) -> TestResult {
        invoke(
            ROOT_CNODE,
            InvocationLabel::CNodeSaveCaller,
            &[],
            &[slot, DEPTH],
        )?;
        Ok(())
    }
} }

/// Receives twice on `ep`; the first message must be MAGIC1.
fn check_recv(ep: Word) -> Result<(), String> {
    let r = sel4_sys::recv_regs(ep);
    sel4_sys::recv_regs(ep);
    if r.mrs[0] == MAGIC1 {
        Ok(())
    } else {
        Err(format!("first message word {:#x}", r.mrs[0]))
    }
}

#[sel4_test(sel4test = "IPCRIGHTS0001")]
fn send_needs_write(ctx: &mut Ctx) -> TestResult {
    let ep = endpoint(ctx)?;
    let minted = ctx.slot()?;
    lift(ctx)?;
    let mut objs = ctx.objects(slots_for(1))?;
    for r in all_rights() {
        // Above this thread: it waits before anything is sent.
        let h = helper(&mut objs, TEST_TOP + 2, move || check_recv(ep))?;
        mint(minted, ep, r)?;
        if !can(r, rights::WRITE) {
            // Dropped: a receiver waits, yet it must not get this.
            let (i, m) = msg1(MAGIC2);
            sel4_sys::send_regs(minted, i, m);
        }
        let (i, m) = msg1(MAGIC1);
        sel4_sys::send_regs(ep, i, m);
        sel4_sys::send_regs(ep, i, m);
        join(&mut objs, h)?.map_err(|e| Failure::fail(format!("rights {r:#x}: {e}")))?;
    }
    Ok(())
}

#[sel4_test(sel4test = "IPCRIGHTS0002")]
fn recv_needs_read(ctx: &mut Ctx) -> TestResult {
    let ep = endpoint(ctx)?;
    let fault_ep = endpoint(ctx)?;
    let minted = ctx.slot()?;
    lift(ctx)?;
    let mut objs = ctx.objects(slots_for(1))?;
    for r in all_rights() {
        mint(minted, ep, r)?;
        let h = ThreadBuilder::new()
            .priority(TEST_TOP - 10)
            .stack_size(HELPER_STACK)
            .spawn(&mut objs, move || check_recv(minted))
            .map_err(fw("spawn"))?;
        // Its faults come here (it has not run yet: it is below this
        // thread).
        crate::util::set_space(h.tcb().cptr(), fault_ep, ROOT_CNODE, ROOT_VSPACE)?;
        if can(r, rights::READ) {
            let (i, m) = msg1(MAGIC1);
            sel4_sys::send_regs(ep, i, m);
            sel4_sys::send_regs(ep, i, m);
            join(&mut objs, h)?.map_err(|e| Failure::fail(format!("rights {r:#x}: {e}")))?;
        } else {
            let f = sel4_sys::recv_regs(fault_ep);
            ensure_eq!(
                f.info.get_label(),
                FaultLabel::CapFault as Word,
                "rights {r:#x}: a receive without Read is a cap fault"
            );
            use sel4_sys::consts::{CapFault_Addr, CapFault_InRecvPhase};
            ensure_eq!(
                (f.mrs[CapFault_Addr], f.mrs[CapFault_InRecvPhase]),
                (minted, 1),
                "rights {r:#x}: (address, in receive phase)"
            );
            h.kill(&mut objs);
        }
    }
    Ok(())
}

/// Receives on `ep` into `slot`; the message must be MAGIC1; with a cap
/// (when `should_get_cap`), answers MAGIC2 through that cap and deletes
/// it; then sends MAGIC3 on `ep`.
fn check_recv_cap(ep: Word, slot: Word, should_get_cap: bool) -> Result<(), String> {
    sel4_sys::ipc_buffer().set_receive_fields(sel4_sys::ReceiveFields {
        cnode: ROOT_CNODE,
        index: slot,
        depth: DEPTH,
    });
    let r = sel4_sys::recv_regs(ep);
    if r.mrs[0] != MAGIC1 {
        return Err(format!("message word {:#x}", r.mrs[0]));
    }
    let got = r.info.get_extra_caps() == 1;
    if got != should_get_cap {
        return Err(format!("got a cap: {got}"));
    }
    if got {
        let (i, m) = msg1(MAGIC2);
        sel4_sys::send_regs(slot, i, m);
        kernel::cnode_delete(slot).map_err(|e| format!("deleting the cap: {e}"))?;
    }
    let (i, m) = msg1(MAGIC3);
    sel4_sys::send_regs(ep, i, m);
    Ok(())
}

#[sel4_test(sel4test = "IPCRIGHTS0003")]
fn sending_a_cap_needs_grant(ctx: &mut Ctx) -> TestResult {
    let ep = endpoint(ctx)?;
    let return_ep = endpoint(ctx)?;
    let minted = ctx.slot()?;
    let slot = ctx.slot()?;
    lift(ctx)?;
    let mut objs = ctx.objects(slots_for(1))?;
    for r in all_rights().filter(|&r| can(r, rights::WRITE)) {
        let grant = can(r, rights::GRANT);
        mint(minted, ep, r)?;
        let h = helper(&mut objs, TEST_TOP - 10, move || {
            check_recv_cap(ep, slot, grant)
        })?;
        sel4_sys::ipc_buffer().set_caps(&[return_ep]);
        sel4_sys::send_regs(minted, MessageInfo::new(0, 0, 1, 1), [MAGIC1, 0, 0, 0]);
        if grant {
            ensure_eq!(
                sel4_sys::recv_regs(return_ep).mrs[0],
                MAGIC2,
                "rights {r:#x}: through the sent cap"
            );
        }
        ensure_eq!(sel4_sys::recv_regs(ep).mrs[0], MAGIC3, "rights {r:#x}");
        join(&mut objs, h)?.map_err(|e| Failure::fail(format!("rights {r:#x}: {e}")))?;
        ensure!(
            is_empty(slot)?,
            "rights {r:#x}: the receive slot is empty again"
        );
    }
    Ok(())
}

#[sel4_test(sel4test = "IPCRIGHTS0004", timeout_ms = 20_000)]
fn call_needs_grant_or_grant_reply(ctx: &mut Ctx) -> TestResult {
    sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
        let _ = ctx;
        crate::util::no_save_caller()
    } else {
        call_needs_grant_or_grant_reply_inner(ctx)
    } }
}

sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {} else {
    fn call_needs_grant_or_grant_reply_inner(ctx: &mut Ctx) -> TestResult {
        let ep = endpoint(ctx)?;
        let minted = ctx.slot()?;
        let reply = ctx.slot()?;
        lift(ctx)?;
        let mut objs = ctx.objects(slots_for(1))?;
        for mode in MODES {
            for r in all_rights().filter(|&r| can(r, rights::WRITE)) {
                let what = format!("{mode:?}, rights {r:#x}");
                let may_call = can(r, rights::GRANT) || can(r, rights::GRANT_REPLY);
                kernel::cnode_delete(minted)?;
                kernel::cnode_copy(minted, ep, r)?;
                let twice = mode == Mode::ReplyRecv;
                let h = helper(&mut objs, TEST_TOP - 10, move || {
                    let (i, m) = msg1(MAGIC1);
                    let mut got = sel4_sys::call_regs(minted, i, m);
                    if twice {
                        got = sel4_sys::call_regs(minted, i, m);
                    }
                    // Here only if the calls were answered.
                    sel4_sys::send_regs(minted, i, [got.mrs[0], 0, 0, 0]);
                    got.mrs[0]
                })?;
                let first = sel4_sys::recv_regs(ep);
                ensure_eq!(first.mrs[0], MAGIC1, "{what}: the call arrives");
                if may_call {
                    let (i, m) = msg1(MAGIC2);
                    match mode {
                        Mode::Reply => {
                            sel4_sys::reply_regs(i, m);
                            save_caller(reply)?;
                            ensure!(is_empty(reply)?, "{what}: the reply used up the reply cap");
                        }
                        Mode::SaveCaller => {
                            save_caller(reply)?;
                            ensure!(!is_empty(reply)?, "{what}: a reply cap to save");
                            sel4_sys::send_regs(reply, i, m);
                            ensure!(is_empty(reply)?, "{what}: sending through it used it up");
                        }
                        Mode::ReplyRecv => {
                            let second = sel4_sys::reply_recv_regs(ep, i, [0; 4]);
                            ensure_eq!(second.mrs[0], MAGIC1, "{what}: the second call");
                            sel4_sys::reply_regs(i, m);
                            save_caller(reply)?;
                            ensure!(is_empty(reply)?, "{what}: the reply used up the reply cap");
                        }
                    }
                    ensure_eq!(
                        sel4_sys::recv_regs(ep).mrs[0],
                        MAGIC2,
                        "{what}: the caller got the reply"
                    );
                    ensure_eq!(join(&mut objs, h)?, MAGIC2, "{what}");
                } else {
                    // Without Grant (or GrantReply) the message arrives, but no
                    // reply cap: the caller is left inactive.
                    save_caller(reply)?;
                    ensure!(is_empty(reply)?, "{what}: no reply cap");
                    // With every right, the resumed caller's call (restarted by
                    // the kernel) comes with one.
                    kernel::cnode_delete(minted)?;
                    kernel::cnode_copy(minted, ep, rights::ALL)?;
                    invoke(h.tcb().cptr(), InvocationLabel::TCBResume, &[], &[])?;
                    ensure_eq!(
                        sel4_sys::recv_regs(ep).mrs[0],
                        MAGIC1,
                        "{what}: the restarted call"
                    );
                    save_caller(reply)?;
                    ensure!(!is_empty(reply)?, "{what}: a reply cap with every right");
                    invoke(h.tcb().cptr(), InvocationLabel::TCBSuspend, &[], &[])?;
                    ensure!(
                        is_empty(reply)?,
                        "{what}: suspending the caller deletes its reply cap"
                    );
                    h.kill(&mut objs);
                }
            }
        }
        Ok(())
    }
} }

#[sel4_test(sel4test = "IPCRIGHTS0005", timeout_ms = 20_000)]
fn reply_grant_is_the_receivers_grant(ctx: &mut Ctx) -> TestResult {
    sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
        let _ = ctx;
        crate::util::no_save_caller()
    } else {
        reply_grant_is_the_receivers_grant_inner(ctx)
    } }
}

sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {} else {
    fn reply_grant_is_the_receivers_grant_inner(ctx: &mut Ctx) -> TestResult {
        if !has_grant_reply() {
            skip!(
                "seL4 5.x: a reply may always carry caps (doReplyTransfer grants unconditionally); \
                 the receiver's Grant right decides it from seL4 10 on"
            );
        }
        let ep = endpoint(ctx)?;
        let return_ep = endpoint(ctx)?;
        let minted = ctx.slot()?;
        let reply = ctx.slot()?;
        let slot = ctx.slot()?;
        lift(ctx)?;
        let mut objs = ctx.objects(slots_for(1))?;
        for mode in MODES {
            for r in all_rights().filter(|&r| can(r, rights::READ)) {
                let what = format!("{mode:?}, receiver's rights {r:#x}");
                let grant = can(r, rights::GRANT);
                kernel::cnode_delete(minted)?;
                kernel::cnode_copy(minted, ep, r)?;
                let twice = mode == Mode::ReplyRecv;
                let h = helper(&mut objs, TEST_TOP - 10, move || -> Result<(), String> {
                    sel4_sys::ipc_buffer().set_receive_fields(sel4_sys::ReceiveFields {
                        cnode: ROOT_CNODE,
                        index: slot,
                        depth: DEPTH,
                    });
                    let (i, m) = msg1(MAGIC1);
                    let mut got = sel4_sys::call_regs(ep, i, m);
                    if twice {
                        got = sel4_sys::call_regs(ep, i, m);
                    }
                    if got.mrs[0] != MAGIC2 {
                        return Err(format!("reply word {:#x}", got.mrs[0]));
                    }
                    let has_cap = got.info.get_extra_caps() == 1;
                    if has_cap != grant {
                        return Err(format!("the reply carried a cap: {has_cap}"));
                    }
                    let (i, m) = msg1(MAGIC3);
                    if has_cap {
                        sel4_sys::send_regs(slot, i, m);
                        kernel::cnode_delete(slot).map_err(|e| format!("deleting the cap: {e}"))?;
                    }
                    sel4_sys::send_regs(ep, i, m);
                    Ok(())
                })?;
                let first = sel4_sys::recv_regs(minted);
                ensure_eq!(first.mrs[0], MAGIC1, "{what}: the call arrives");
                let with_cap = MessageInfo::new(0, 0, 1, 1);
                if mode == Mode::SaveCaller {
                    save_caller(reply)?;
                    ensure!(!is_empty(reply)?, "{what}: a reply cap to save");
                    sel4_sys::ipc_buffer().set_caps(&[return_ep]);
                    sel4_sys::send_regs(reply, with_cap, [MAGIC2, 0, 0, 0]);
                    ensure!(is_empty(reply)?, "{what}: sending through it used it up");
                } else {
                    if mode == Mode::ReplyRecv {
                        let second =
                            sel4_sys::reply_recv_regs(minted, MessageInfo::new(0, 0, 0, 1), [0; 4]);
                        ensure_eq!(second.mrs[0], MAGIC1, "{what}: the second call");
                    }
                    sel4_sys::ipc_buffer().set_caps(&[return_ep]);
                    sel4_sys::reply_regs(with_cap, [MAGIC2, 0, 0, 0]);
                }
                if grant {
                    ensure_eq!(
                        sel4_sys::recv_regs(return_ep).mrs[0],
                        MAGIC3,
                        "{what}: through the returned cap"
                    );
                }
                ensure_eq!(sel4_sys::recv_regs(ep).mrs[0], MAGIC3, "{what}");
                join(&mut objs, h)?.map_err(|e| Failure::fail(format!("{what}: {e}")))?;
                ensure!(is_empty(slot)?, "{what}: the receive slot is empty again");
            }
        }
        Ok(())
    }
} }
