//! ASID pools (seL4test VSPACE0002): ASIDControl_MakePool makes a pool
//! from a page-sized untyped; assigning it to a VSpace that has an ASID
//! already fails with InvalidCapability, to a new one it succeeds (and the
//! new VSpace can then hold mappings).
#![cfg_attr(not(target_arch = "x86_64"), allow(unused_imports))]

#[cfg(target_arch = "x86_64")]
use sel4_sys::{Error, InvocationLabel, ObjectType};
#[cfg(target_arch = "x86_64")]
use sel4_test_harness::kernel::{self, invoke, ASID_CONTROL, DEPTH, ROOT_CNODE, ROOT_VSPACE};
use sel4_test_harness::{ensure_eq, sel4_test, Ctx, TestResult};

#[cfg(target_arch = "x86_64")]
use crate::util::expect_err;

#[sel4_test(
    sel4test = "VSPACE0002",
    arch = "x86_64",
    arch_reason = "the test invokes the x86 ASID and paging labels directly; not ported to aarch64 and riscv64 yet"
)]
fn make_an_asid_pool_and_assign_it(ctx: &mut Ctx) -> TestResult {
    let ut = ctx.slot()?;
    kernel::retype(
        ctx.untyped(),
        ObjectType::UntypedObject as usize,
        sel4_sys::consts::ASIDPoolBits,
        ut,
        1,
    )?;
    let pool = ctx.slot()?;
    invoke(
        ASID_CONTROL,
        InvocationLabel::X86ASIDControlMakePool,
        &[ut, ROOT_CNODE],
        &[pool, DEPTH],
    )?;
    let e = expect_err(
        invoke(
            pool,
            InvocationLabel::X86ASIDPoolAssign,
            &[ROOT_VSPACE],
            &[],
        ),
        Error::InvalidCapability,
        "assigning the root VSpace, which has an ASID",
    )?;
    ensure_eq!(e.detail[0], 1, "the VSpace is the invalid capability");
    let vspace = ctx.create(ObjectType::X64_PML4Object, 0)?;
    invoke(pool, InvocationLabel::X86ASIDPoolAssign, &[vspace], &[])?;
    // With its ASID the new VSpace takes a paging structure.
    let pdpt = ctx.create(ObjectType::X86_PDPTObject, 0)?;
    invoke(
        pdpt,
        InvocationLabel::X86PDPTMap,
        &[vspace],
        &[0x10_0000_0000, 0],
    )?;
    Ok(())
}
