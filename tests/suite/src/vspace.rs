//! VSpace: paging-structure creation, map, unmap, remap, rights.

use sel4_sys::{CPtr, Error, InvocationLabel, ObjectType};
use sel4_test_harness::kernel::{invoke, rights, KResult, ROOT_ASID_POOL, ROOT_VSPACE};
use sel4_test_harness::{ensure, ensure_eq, sel4_test, Ctx, Failure, TestResult};

use crate::util::expect_err;

/// A region of the root VSpace that nothing else maps (PML4 entry 1).
pub const BASE: u64 = 0x80_0000_0000;

pub fn map_pdpt(pdpt: CPtr, vspace: CPtr, vaddr: u64) -> KResult {
    invoke(pdpt, InvocationLabel::X86PDPTMap, &[vspace], &[vaddr, 0])
}
pub fn map_pd(pd: CPtr, vspace: CPtr, vaddr: u64) -> KResult {
    invoke(
        pd,
        InvocationLabel::X86PageDirectoryMap,
        &[vspace],
        &[vaddr, 0],
    )
}
pub fn map_pt(pt: CPtr, vspace: CPtr, vaddr: u64) -> KResult {
    invoke(pt, InvocationLabel::X86PageTableMap, &[vspace], &[vaddr, 0])
}
pub fn map_page(frame: CPtr, vspace: CPtr, vaddr: u64, r: u64) -> KResult {
    invoke(
        frame,
        InvocationLabel::X86PageMap,
        &[vspace],
        &[vaddr, r, 0],
    )
}
pub fn unmap_page(frame: CPtr) -> KResult {
    invoke(frame, InvocationLabel::X86PageUnmap, &[], &[])
}

/// Creates and maps the PDPT, page directory and page table that cover
/// `vaddr` in `vspace`.
pub fn paging_for(ctx: &mut Ctx, vspace: CPtr, vaddr: u64) -> Result<(), Failure> {
    let pdpt = ctx.create(ObjectType::X86_PDPTObject, 0)?;
    map_pdpt(pdpt, vspace, vaddr)?;
    let pd = ctx.create(ObjectType::X86_PageDirectoryObject, 0)?;
    map_pd(pd, vspace, vaddr)?;
    let pt = ctx.create(ObjectType::X86_PageTableObject, 0)?;
    map_pt(pt, vspace, vaddr)?;
    Ok(())
}

#[sel4_test]
fn map_without_page_table_fails_lookup(ctx: &mut Ctx) -> TestResult {
    let f = ctx.create(ObjectType::X86_4K, 0)?;
    let r = map_page(f, ROOT_VSPACE, BASE, rights::RW);
    expect_err(r, Error::FailedLookup, "mapping with no paging structures")?;
    Ok(())
}

#[sel4_test]
fn paging_structures_then_map(ctx: &mut Ctx) -> TestResult {
    paging_for(ctx, ROOT_VSPACE, BASE)?;
    let f = ctx.create(ObjectType::X86_4K, 0)?;
    map_page(f, ROOT_VSPACE, BASE, rights::RW)?;
    let f2 = ctx.create(ObjectType::X86_4K, 0)?;
    map_page(f2, ROOT_VSPACE, BASE + 0x1000, rights::RW)?;
    Ok(())
}

#[sel4_test]
fn map_pdpt_twice_is_delete_first(ctx: &mut Ctx) -> TestResult {
    let a = ctx.create(ObjectType::X86_PDPTObject, 0)?;
    let b = ctx.create(ObjectType::X86_PDPTObject, 0)?;
    map_pdpt(a, ROOT_VSPACE, BASE)?;
    expect_err(
        map_pdpt(b, ROOT_VSPACE, BASE),
        Error::DeleteFirst,
        "a second PDPT",
    )?;
    Ok(())
}

#[sel4_test]
fn map_page_table_twice_is_delete_first(ctx: &mut Ctx) -> TestResult {
    paging_for(ctx, ROOT_VSPACE, BASE)?;
    let pt = ctx.create(ObjectType::X86_PageTableObject, 0)?;
    expect_err(
        map_pt(pt, ROOT_VSPACE, BASE),
        Error::DeleteFirst,
        "a second page table",
    )?;
    Ok(())
}

#[sel4_test]
fn map_onto_mapped_address(ctx: &mut Ctx) -> TestResult {
    paging_for(ctx, ROOT_VSPACE, BASE)?;
    let f = ctx.create(ObjectType::X86_4K, 0)?;
    let g = ctx.create(ObjectType::X86_4K, 0)?;
    map_page(f, ROOT_VSPACE, BASE, rights::RW)?;
    let r = map_page(g, ROOT_VSPACE, BASE, rights::RW);
    if sel4_sys::KERNEL_VERSION_MAJOR >= 10 {
        // Newer kernels replace a 4 KiB mapping in place.
        ensure!(r.is_ok(), "seL4 10+ maps a page over a page: {r:?}");
    } else {
        expect_err(r, Error::DeleteFirst, "a page onto a page (seL4 5.x)")?;
    }
    Ok(())
}

#[sel4_test]
fn unmap_then_map_elsewhere(ctx: &mut Ctx) -> TestResult {
    paging_for(ctx, ROOT_VSPACE, BASE)?;
    let f = ctx.create(ObjectType::X86_4K, 0)?;
    let g = ctx.create(ObjectType::X86_4K, 0)?;
    map_page(f, ROOT_VSPACE, BASE, rights::RW)?;
    unmap_page(f)?;
    // The address is free again, and the frame can go elsewhere.
    map_page(g, ROOT_VSPACE, BASE, rights::RW)?;
    map_page(f, ROOT_VSPACE, BASE + 0x5000, rights::RW)?;
    unmap_page(g)?;
    Ok(())
}

#[sel4_test]
fn unmap_unmapped_frame(ctx: &mut Ctx) -> TestResult {
    let f = ctx.create(ObjectType::X86_4K, 0)?;
    let r = unmap_page(f);
    if sel4_sys::KERNEL_VERSION_MAJOR >= 10 {
        ensure!(r.is_ok(), "unmapping an unmapped frame: {r:?}");
    } else {
        // seL4 5.0.0 returns from this invocation without replying (it
        // does not set the Restart state), so the caller gets its own
        // message info back: label X86PageUnmap, no error code.
        if let Err(e) = r {
            ensure_eq!(
                e.code,
                InvocationLabel::X86PageUnmap as u64,
                "5.x: no reply"
            );
        }
    }
    Ok(())
}

#[sel4_test]
fn mapped_frame_cannot_map_elsewhere(ctx: &mut Ctx) -> TestResult {
    paging_for(ctx, ROOT_VSPACE, BASE)?;
    let f = ctx.create(ObjectType::X86_4K, 0)?;
    map_page(f, ROOT_VSPACE, BASE, rights::RW)?;
    let r = map_page(f, ROOT_VSPACE, BASE + 0x1000, rights::RW);
    let expected = if sel4_sys::KERNEL_VERSION_MAJOR >= 10 {
        Error::InvalidArgument
    } else {
        Error::InvalidCapability
    };
    expect_err(r, expected, "one frame cap at two addresses")?;
    Ok(())
}

#[sel4_test]
fn map_misaligned_is_alignment_error(ctx: &mut Ctx) -> TestResult {
    paging_for(ctx, ROOT_VSPACE, BASE)?;
    let f = ctx.create(ObjectType::X86_4K, 0)?;
    expect_err(
        map_page(f, ROOT_VSPACE, BASE + 0x800, rights::RW),
        Error::AlignmentError,
        "a page at a 2 KiB boundary",
    )?;
    Ok(())
}

#[sel4_test]
fn map_large_page_in_page_directory(ctx: &mut Ctx) -> TestResult {
    let pdpt = ctx.create(ObjectType::X86_PDPTObject, 0)?;
    map_pdpt(pdpt, ROOT_VSPACE, BASE)?;
    let pd = ctx.create(ObjectType::X86_PageDirectoryObject, 0)?;
    map_pd(pd, ROOT_VSPACE, BASE)?;
    let large = ctx.create(ObjectType::X86_LargePageObject, 0)?;
    expect_err(
        map_page(large, ROOT_VSPACE, BASE + 0x1000, rights::RW),
        Error::AlignmentError,
        "a 2 MiB page at a 4 KiB boundary",
    )?;
    map_page(large, ROOT_VSPACE, BASE + (2 << 20), rights::RW)?;
    Ok(())
}

#[sel4_test]
fn map_read_only_frame(ctx: &mut Ctx) -> TestResult {
    paging_for(ctx, ROOT_VSPACE, BASE)?;
    let f = ctx.create(ObjectType::X86_4K, 0)?;
    map_page(f, ROOT_VSPACE, BASE, rights::READ)?;
    // A frame cap without write right maps read-only whatever is asked.
    let g = ctx.create(ObjectType::X86_4K, 0)?;
    let ro = ctx.slot()?;
    sel4_test_harness::kernel::cnode_mint(ro, g, rights::READ, 0)?;
    map_page(ro, ROOT_VSPACE, BASE + 0x1000, rights::RW)?;
    ensure_eq!(crate::util::cap_type(ro)?, crate::util::tag::FRAME);
    Ok(())
}

#[sel4_test(sel4test_partly = "VSPACE0002")]
fn new_vspace_needs_asid(ctx: &mut Ctx) -> TestResult {
    let pml4 = ctx.create(ObjectType::X64_PML4Object, 0)?;
    let pdpt = ctx.create(ObjectType::X86_PDPTObject, 0)?;
    let r = map_pdpt(pdpt, pml4, BASE);
    ensure!(
        r.is_err(),
        "mapping into a VSpace without an ASID succeeded"
    );
    invoke(
        ROOT_ASID_POOL,
        InvocationLabel::X86ASIDPoolAssign,
        &[pml4],
        &[],
    )?;
    map_pdpt(pdpt, pml4, BASE)?;
    let r = invoke(
        ROOT_ASID_POOL,
        InvocationLabel::X86ASIDPoolAssign,
        &[pml4],
        &[],
    );
    ensure!(r.is_err(), "assigning an ASID twice succeeded");
    Ok(())
}

#[sel4_test]
fn page_address_is_stable_across_mapping(ctx: &mut Ctx) -> TestResult {
    paging_for(ctx, ROOT_VSPACE, BASE)?;
    let f = ctx.create(ObjectType::X86_4K, 0)?;
    let before = invoke(f, InvocationLabel::X86PageGetAddress, &[], &[])?.mrs[0];
    map_page(f, ROOT_VSPACE, BASE, rights::RW)?;
    let after = invoke(f, InvocationLabel::X86PageGetAddress, &[], &[])?.mrs[0];
    ensure_eq!(before, after);
    ensure!(
        before != 0 && before % 4096 == 0,
        "frame address {before:#x}"
    );
    Ok(())
}
