//! A TCB's CSpace must be a CNode (seL4test threads.c, THREADS0004 and
//! THREADS0005): TCB_Configure and TCB_SetSpace with the null cap as
//! CSpace root are refused, and the same calls with the root CNode work.

use sel4_sys::{Error, InvocationLabel, ObjectType, Word};
use sel4_test_harness::kernel::{invoke, KResult, ROOT_CNODE, ROOT_VSPACE};
use sel4_test_harness::{sel4_test, Ctx, TestResult};

use crate::util::expect_err;

/// The null cap's cptr (slot 0 of the root CNode is always empty).
const NULL_CAP: Word = sel4_sys::init_caps::CapNull as Word;

/// TCB_Configure with no fault endpoint, `cspace` as CSpace root, the root
/// VSpace, and no IPC buffer.
fn configure(tcb: Word, cspace: Word) -> KResult {
    sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
        // MCS kernels: cspace data, vspace data, buffer (no fault endpoint).
        invoke(
            tcb,
            InvocationLabel::TCBConfigure,
            &[cspace, ROOT_VSPACE, NULL_CAP],
            &[0, 0, 0],
        )
    } else {
        sel4_sys::sel4_cfg_if! {
            kernel >= 10 && label TCBSetTLSBase {
                // seL4 10+: fault_ep, cspace data, vspace data, buffer.
                invoke(
                    tcb,
                    InvocationLabel::TCBConfigure,
                    &[cspace, ROOT_VSPACE, NULL_CAP],
                    &[0, 0, 0, 0],
                )
            } else {
                // seL4 5.x: fault_ep, priority (priority | mcp << 8), cspace
                // data, vspace data, buffer.
                invoke(
                    tcb,
                    InvocationLabel::TCBConfigure,
                    &[cspace, ROOT_VSPACE, NULL_CAP],
                    &[0, 0, 0, 0, 0],
                )
            }
        }
    } }
}

#[sel4_test(sel4test = "THREADS0004")]
fn configure_with_null_cspace_is_refused(ctx: &mut Ctx) -> TestResult {
    let tcb = ctx.create(ObjectType::TCBObject, 0)?;
    expect_err(
        configure(tcb, NULL_CAP),
        Error::IllegalOperation,
        "Configure with a null CSpace",
    )?;
    configure(tcb, ROOT_CNODE)?;
    Ok(())
}

#[sel4_test(sel4test = "THREADS0005")]
fn set_space_with_null_cspace_is_refused(ctx: &mut Ctx) -> TestResult {
    let tcb = ctx.create(ObjectType::TCBObject, 0)?;
    // No fault endpoint (the null cap: MCS kernels take it as a capability).
    let set_space = |cspace| crate::util::set_space(tcb, NULL_CAP, cspace, ROOT_VSPACE);
    expect_err(
        set_space(NULL_CAP),
        Error::IllegalOperation,
        "SetSpace with a null CSpace",
    )?;
    set_space(ROOT_CNODE)?;
    Ok(())
}
