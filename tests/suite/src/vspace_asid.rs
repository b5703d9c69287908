//! ASID pools (seL4test VSPACE0002): ASIDControl_MakePool makes a pool
//! from a page-sized untyped; assigning it to a VSpace that has an ASID
//! already fails with InvalidCapability, to a new one it succeeds (and the
//! new VSpace can then hold mappings). Through the `sel4` crate's
//! arch-neutral ASID operations, on every architecture.

use sel4::{AsidControlOps, AsidPoolOps, Cap, Slot, TableLevel};
use sel4_sys::{InvocationError, ObjectType};
use sel4_test_harness::kernel::{self, ASID_CONTROL, DEPTH, ROOT_CNODE, ROOT_VSPACE};
use sel4_test_harness::{sel4_test, Ctx, TestResult};

use crate::vspace::{expect_inv, map_table, VSPACE_ROOT};

#[sel4_test(sel4test = "VSPACE0002")]
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
    let control: Cap<sel4::AsidControl> = Cap::from_cptr(ASID_CONTROL);
    control.make_pool(
        Cap::from_cptr(ut),
        Slot {
            root: Cap::from_cptr(ROOT_CNODE),
            index: pool,
            depth: DEPTH as _,
        },
    )?;
    let pool: Cap<sel4::AsidPool> = Cap::from_cptr(pool);
    expect_inv(
        pool.assign(Cap::from_cptr(ROOT_VSPACE)),
        InvocationError::InvalidCapability { argument: 1 },
        "assigning the root VSpace, which has an ASID",
    )?;
    let vspace = ctx.create(VSPACE_ROOT, 0)?;
    pool.assign(Cap::from_cptr(vspace))?;
    // With its ASID the new VSpace takes a translation table.
    let level: TableLevel = sel4::vspace::TABLE_LEVELS[0];
    let table = ctx.create(level.object_type(), 0)?;
    map_table(level, table, vspace, 0x10_0000_0000)?;
    Ok(())
}
