//! ASID pools: sel4test's VSPACE0003-VSPACE0006 through the framework
//! (`Objects::create_asid_pool`, `Objects::assign_asid`,
//! `ProcessBuilder::asid_pool`).
//!
//! A pool holds 2^(ASIDPoolBits - log2(word bytes)) VSpaces (the pool
//! object is an array of word-sized entries). The kernel has room for
//! 2^(ASID bits - pool index bits) pools, the root task's included: on
//! x86_64 ASIDs have 12 bits, on aarch64 and riscv64 16 (`asidHighBits` +
//! `asidLowBits` of the kernel's `arch/*/64/mode/object/structures.h`;
//! libsel4 names the pool count `seL4_NumASIDPoolsBits` only from seL4 10
//! on, and as a `#define` that the generated tables do not carry, so it is
//! spelled out here: 3 on x86_64, 7 on aarch64 and riscv64). The VSpaces
//! are the architecture's [`sel4::VSpaceRoot`], the tables the `sel4`
//! crate's [`TableLevel`](sel4::TableLevel)s.

use alloc::format;
use alloc::vec::Vec;

use process_test::f;
use sel4_rootserver::memory::MemoryKind;
use sel4_rootserver::objects::{AsidPool, Objects};
use sel4_rootserver::process::{receive_event, ProcessEvent};
use sel4_rootserver::{Endpoint, Error, InvocationError, Owned};
use sel4_sys::consts;
use sel4_test_harness::{ensure, ensure_eq, fail, sel4_test, Ctx, Failure, TestResult};

use crate::processes::image;
use crate::util::fw;

/// VSpaces one pool holds.
const ASID_POOL_SIZE: usize =
    1 << (consts::ASIDPoolBits - (sel4_sys::config::WORD_SIZE / 8).trailing_zeros() as usize);
/// ASID bits of this architecture (see the module documentation).
const ASID_BITS: usize = if cfg!(target_arch = "x86_64") { 12 } else { 16 };
/// Pools the kernel has room for, the root task's included.
const N_ASID_POOLS: usize = 1
    << (ASID_BITS
        - (consts::ASIDPoolBits - (sel4_sys::config::WORD_SIZE / 8).trailing_zeros() as usize));

/// What `Objects` has handed out (RAM, slots, capabilities, objects), to
/// compare before and after.
fn figures(objs: &Objects) -> (u64, usize, usize, usize) {
    (
        objs.pool().usage(MemoryKind::Ram).used,
        objs.cspace().slots().used(),
        objs.pool().registry().len(),
        objs.pool().registry().objects(),
    )
}

fn delete_pools(objs: &mut Objects, pools: Vec<AsidPool>) -> TestResult {
    for p in pools {
        objs.delete_asid_pool(p)
            .map_err(|r| Failure::fail(format!("deleting a pool: {}", r.error)))?;
    }
    Ok(())
}

/// Makes the pools the kernel still has room for (all but the root
/// task's, when no other exists), then the one that does not fit.
fn make_all_pools(objs: &mut Objects) -> Result<(Vec<AsidPool>, Error), Failure> {
    let mut pools = Vec::new();
    loop {
        match objs.create_asid_pool() {
            Ok(p) => pools.push(p),
            Err(e) => return Ok((pools, e)),
        }
        if pools.len() > N_ASID_POOLS {
            return Err(Failure::fail(format!(
                "{} pools made, the kernel has room for {N_ASID_POOLS}",
                pools.len()
            )));
        }
    }
}

/// VSPACE0003: every ASID pool the kernel has room for can be made (all
/// but the root task's), and each takes a VSpace.
#[sel4_test(sel4test = "VSPACE0003")]
fn vspace0003_create_multiple_asid_pools(ctx: &mut Ctx) -> TestResult {
    // Two slots a pool (its untyped and the pool), and room for more.
    let mut objs = ctx.objects(2 * N_ASID_POOLS + 64)?;
    let mut pools = Vec::new();
    for i in 0..N_ASID_POOLS - 1 {
        let p = objs
            .create_asid_pool()
            .map_err(|e| Failure::fail(format!("pool {i}: {e}")))?;
        let pml4 = objs.create::<sel4::VSpaceRoot>()?;
        objs.assign_asid(&pml4, Some(&p))?;
        objs.delete(pml4).map_err(fw("delete"))?;
        pools.push(p);
    }
    ensure_eq!(pools.len(), N_ASID_POOLS - 1);
    delete_pools(&mut objs, pools)
}

/// VSPACE0004: one pool more than the kernel has room for is DeleteFirst;
/// after the pools are deleted, pools can be made again.
#[sel4_test(sel4test = "VSPACE0004")]
fn vspace0004_run_out_of_asid_pools(ctx: &mut Ctx) -> TestResult {
    // Two slots a pool (its untyped and the pool), and room for more.
    let mut objs = ctx.objects(2 * N_ASID_POOLS + 64)?;
    // A first round carves the memory the pools come from (splitting
    // untyped memory for 127 pools on aarch64 and riscv64 leaves more
    // free pieces, each in a slot, than for one): the second round must
    // give back exactly what it took.
    let (pools, _) = make_all_pools(&mut objs)?;
    delete_pools(&mut objs, pools)?;
    let before = figures(&objs);
    let (pools, err) = make_all_pools(&mut objs)?;
    ensure_eq!(
        pools.len(),
        N_ASID_POOLS - 1,
        "pools made before the kernel refused"
    );
    ensure_eq!(err, Error::Kernel(InvocationError::DeleteFirst));
    delete_pools(&mut objs, pools)?;
    ensure_eq!(
        figures(&objs),
        before,
        "deleting the pools gave everything back"
    );
    let p = objs.create_asid_pool()?;
    delete_pools(&mut objs, alloc::vec![p])
}

/// VSPACE0005: a pool takes exactly its size of VSpaces; the next one is
/// DeleteFirst.
#[sel4_test(timeout_ms = 30000, sel4test = "VSPACE0005")]
fn vspace0005_overassign_asid_pool(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(ASID_POOL_SIZE + 64)?;
    let pool = objs.create_asid_pool()?;
    let mut roots: Vec<Owned<sel4::VSpaceRoot>> = Vec::new();
    for i in 0..ASID_POOL_SIZE {
        let r = objs.create::<sel4::VSpaceRoot>()?;
        objs.assign_asid(&r, Some(&pool))
            .map_err(|e| Failure::fail(format!("VSpace {i} of {ASID_POOL_SIZE}: {e}")))?;
        roots.push(r);
    }
    let extra = objs.create::<sel4::VSpaceRoot>()?;
    ensure_eq!(
        objs.assign_asid(&extra, Some(&pool)),
        Err(Error::Kernel(InvocationError::DeleteFirst)),
        "VSpace {} of a pool of {ASID_POOL_SIZE}",
        ASID_POOL_SIZE + 1
    );
    // A VSpace deleted frees its ASID for another.
    let first = roots.remove(0);
    objs.delete(first).map_err(fw("delete"))?;
    objs.assign_asid(&extra, Some(&pool))?;
    roots.push(extra);
    for r in roots {
        objs.delete(r).map_err(fw("delete"))?;
    }
    delete_pools(&mut objs, alloc::vec![pool])
}

/// VSPACE0006: a process in each new pool runs and touches its memory
/// (sel4test's `incr_mem`: writes its number and reads it back).
#[sel4_test(timeout_ms = 30000, sel4test = "VSPACE0006")]
fn vspace0006_processes_in_every_asid_pool(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(2 * N_ASID_POOLS + 160)?;
    let report = objs.create::<Endpoint>()?;
    let mut pools = Vec::new();
    for i in 0..N_ASID_POOLS - 1 {
        let pool = objs
            .create_asid_pool()
            .map_err(|e| Failure::fail(format!("pool {i}: {e}")))?;
        let p = image("incr-mem", f::HEAP_WRITE, &[i as u64 + 0x100])
            .priority(crate::processes::PRIO)
            .asid_pool(&pool)
            .report_endpoint(&report, 1)
            .fault_endpoint(&report, 1)
            .spawn(&mut objs)
            .map_err(|e| Failure::fail(format!("process in pool {i}: {e}")))?;
        let ev = receive_event(report.cap());
        p.destroy(&mut objs)
            .map_err(|r| Failure::fail(format!("{}", r.error)))?;
        match ev {
            ProcessEvent::Exited { code, .. } => ensure_eq!(code, i as u64 + 0x100, "pool {i}"),
            other => fail!("process in pool {i}: {other:?}"),
        }
        pools.push(pool);
    }
    ensure!(pools.len() == N_ASID_POOLS - 1);
    delete_pools(&mut objs, pools)
}

/// `Objects::assign_asid` makes a new pool when the initial one (and the
/// ones it made) are full: more VSpaces than one pool holds all get ASIDs.
#[sel4_test(timeout_ms = 60000)]
fn asid_pools_are_made_when_the_initial_one_fills(ctx: &mut Ctx) -> TestResult {
    let n = ASID_POOL_SIZE + 40;
    let mut objs = ctx.objects(n + 64)?;
    let mut roots: Vec<Owned<sel4::VSpaceRoot>> = Vec::new();
    for i in 0..n {
        let r = objs.create::<sel4::VSpaceRoot>()?;
        objs.assign_asid(&r, None)
            .map_err(|e| Failure::fail(format!("VSpace {i}: {e}")))?;
        roots.push(r);
    }
    ensure!(
        objs.asid_pools_made() >= 1,
        "{n} VSpaces fit the initial pool of {ASID_POOL_SIZE}?"
    );
    // Every one of them works: a page table maps into each.
    for (i, r) in roots.iter().enumerate().step_by(97) {
        // One table of each level, in an untyped of their own that the
        // loop then hands back.
        let u = objs.create_untyped(16)?;
        let mut tables = Vec::new();
        for level in sel4::vspace::TABLE_LEVELS {
            let t = objs.create_table_in(&u, level)?;
            level
                .map(t.cptr(), r.cap(), 0x4000_0000, sel4::VmAttributes::DEFAULT)
                .map_err(|e| Failure::fail(format!("VSpace {i}, {level:?}: {e}")))?;
            tables.push(t);
        }
        objs.reclaim(&u).map_err(fw("reclaim"))?;
        for t in tables {
            objs.delete(t).map_err(fw("delete"))?;
        }
        objs.delete(u).map_err(fw("delete"))?;
    }
    for r in roots {
        objs.delete(r).map_err(fw("delete"))?;
    }
    Ok(())
}
