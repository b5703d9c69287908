//! VSpace: paging-structure creation, map, unmap, remap, rights. What a
//! mapping reaches is read and written with `sel4-asm-probes`' accesses
//! at `FAULT_VADDR` (from the test's thread, or from a new thread when the
//! access may fault).
#![cfg_attr(not(target_arch = "x86_64"), allow(unused_imports))]

#[cfg(target_arch = "x86_64")]
use sel4_asm_probes::fault::{self, BAD_MAGIC, FAULT_VADDR, GOOD_MAGIC};
#[cfg(target_arch = "x86_64")]
use sel4_sys::{CPtr, Error, FaultLabel, InvocationLabel, MessageInfo, ObjectType};
#[cfg(target_arch = "x86_64")]
use sel4_test_harness::kernel::{invoke, rights, KResult, ROOT_ASID_POOL, ROOT_VSPACE};
use sel4_test_harness::{ensure, ensure_eq, fail, sel4_test, Ctx, Failure, TestResult};

#[cfg(target_arch = "x86_64")]
use crate::util::expect_err;

#[cfg(target_arch = "x86_64")]
/// A region of the root VSpace that nothing else maps (PML4 entry 1).
pub const BASE: u64 = 0x80_0000_0000;

#[cfg(target_arch = "x86_64")]
pub fn map_pdpt(pdpt: CPtr, vspace: CPtr, vaddr: u64) -> KResult {
    invoke(pdpt, InvocationLabel::X86PDPTMap, &[vspace], &[vaddr, 0])
}
#[cfg(target_arch = "x86_64")]
pub fn map_pd(pd: CPtr, vspace: CPtr, vaddr: u64) -> KResult {
    invoke(
        pd,
        InvocationLabel::X86PageDirectoryMap,
        &[vspace],
        &[vaddr, 0],
    )
}
#[cfg(target_arch = "x86_64")]
pub fn map_pt(pt: CPtr, vspace: CPtr, vaddr: u64) -> KResult {
    invoke(pt, InvocationLabel::X86PageTableMap, &[vspace], &[vaddr, 0])
}
#[cfg(target_arch = "x86_64")]
pub fn map_page(frame: CPtr, vspace: CPtr, vaddr: u64, r: u64) -> KResult {
    invoke(
        frame,
        InvocationLabel::X86PageMap,
        &[vspace],
        &[vaddr, r, 0],
    )
}
#[cfg(target_arch = "x86_64")]
pub fn unmap_page(frame: CPtr) -> KResult {
    invoke(frame, InvocationLabel::X86PageUnmap, &[], &[])
}

#[cfg(target_arch = "x86_64")]
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

#[cfg(target_arch = "x86_64")]
/// Where the tests below map a frame to read and write it: the page of
/// `sel4-asm-probes`' `FAULT_VADDR`, which its probes read and write (a
/// 32-bit word at `FAULT_VADDR`, offset 0x650 in the page).
const PROBE_PAGE: u64 = FAULT_VADDR & !0xfff;

#[cfg(target_arch = "x86_64")]
/// What a thread's access to `FAULT_VADDR` ended in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// It went through: the value read, or the value written.
    Done(u32),
    /// A VM fault: the address the kernel reported and the error code.
    Fault { addr: u64, fsr: u64 },
}

#[cfg(target_arch = "x86_64")]
/// Page-fault error code bits (x86): page present, write access, user.
const PRESENT: u64 = 1;
#[cfg(target_arch = "x86_64")]
const WRITE: u64 = 2;
#[cfg(target_arch = "x86_64")]
const USER: u64 = 4;

#[cfg(target_arch = "x86_64")]
/// A raw thread's body: reads (`write` 0) or writes `GOOD_MAGIC` at
/// `FAULT_VADDR`, then sends what it read or wrote on `done` and parks.
extern "C" fn access(write: u64, done: u64, park: u64) -> ! {
    let v = if write == 0 {
        fault::read(BAD_MAGIC)
    } else {
        fault::write(GOOD_MAGIC)
    };
    sel4_sys::send_regs(done, MessageInfo::new(0, 0, 0, 1), [u64::from(v), 0, 0, 0]);
    loop {
        sel4_sys::wait(park);
    }
}

#[cfg(target_arch = "x86_64")]
/// Reads or writes `FAULT_VADDR` from a new thread (above this one, so it
/// has done so when this returns) whose fault endpoint is the endpoint it
/// reports on: a fault is not this thread's.
fn access_from_a_thread(ctx: &mut Ctx, write: bool) -> Result<Access, Failure> {
    let ep = crate::util::endpoint(ctx)?;
    let park = crate::util::notification(ctx)?;
    let t = crate::util::raw_thread(ctx, ep, 250)?;
    crate::support::start_raw3(
        &t,
        access as *const () as usize as u64,
        u64::from(write),
        ep,
        park,
    )?;
    let r = sel4_sys::nb_recv_regs(ep);
    if r.info.get_label() == FaultLabel::VMFault as u64 {
        return Ok(Access::Fault {
            addr: r.mrs[sel4_sys::consts::VMFault_Addr],
            fsr: r.mrs[sel4_sys::consts::VMFault_FSR],
        });
    }
    if (r.info.get_label(), r.info.get_length()) != (0, 1) {
        return Err(Failure::fail(alloc::format!(
            "the accessing thread sent {:?}",
            r.info
        )));
    }
    Ok(Access::Done(r.mrs[0] as u32))
}

#[cfg(target_arch = "x86_64")]
/// The fault address as the kernel reports it: seL4 5.x cuts it to 32 bits
/// (its handleVMFault keeps the address in a uint32_t).
fn reported(addr: u64) -> u64 {
    if sel4_sys::KERNEL_VERSION_MAJOR < 10 {
        addr & 0xffff_ffff
    } else {
        addr
    }
}

#[cfg(target_arch = "x86_64")]
/// Checks that a write from a thread to `FAULT_VADDR` faults as a write to
/// a page mapped without the write right.
fn write_is_refused(ctx: &mut Ctx, what: &str) -> TestResult {
    match access_from_a_thread(ctx, true)? {
        Access::Fault { addr, fsr } => {
            ensure_eq!(addr, reported(FAULT_VADDR), "{what}: fault address");
            ensure_eq!(
                fsr & (PRESENT | WRITE | USER),
                PRESENT | WRITE | USER,
                "{what}: a user write to a present page (error code {fsr:#x})"
            );
        }
        Access::Done(v) => fail!("{what}: the write of {v:#x} went through"),
    }
    Ok(())
}

#[cfg(target_arch = "x86_64")]
/// The FailedLookup detail of a mapping whose paging structure at a level
/// is missing: not the source, a missing capability, the bits left.
fn missing_level(r: KResult, bits_left: u64, what: &str) -> TestResult {
    let e = expect_err(r, Error::FailedLookup, what)?;
    ensure_eq!(
        e.detail,
        [0, 2, bits_left],
        "{what}: (source, lookup failure type + 1, bits left)"
    );
    Ok(())
}

/// A page maps only where the paging structures cover its address, and the
/// kernel names the first level that is missing (a FailedLookup with the
/// bits left: 39 without a PDPT, 30 without a page directory, 21 without a
/// page table). With all three it maps, and the address then reaches that
/// frame: a value written there is read back, another frame mapped there
/// instead reads its own (zeroed) contents, and the first one mapped back
/// holds the value still.
#[sel4_test(
    arch = "x86_64",
    arch_reason = "the test invokes the x86 paging structures (PML4, PDPT, page directory, page table) by their labels; not ported to aarch64 and riscv64 yet"
)]
fn paging_structures_then_map(ctx: &mut Ctx) -> TestResult {
    let f = ctx.create(crate::util::GRANULE, 0)?;
    let g = ctx.create(crate::util::GRANULE, 0)?;
    let map_f = || map_page(f, ROOT_VSPACE, PROBE_PAGE, rights::RW);
    missing_level(map_f(), 39, "with no paging structure")?;
    let pdpt = ctx.create(ObjectType::X86_PDPTObject, 0)?;
    map_pdpt(pdpt, ROOT_VSPACE, PROBE_PAGE)?;
    missing_level(map_f(), 30, "with a PDPT only")?;
    let pd = ctx.create(ObjectType::X86_PageDirectoryObject, 0)?;
    map_pd(pd, ROOT_VSPACE, PROBE_PAGE)?;
    missing_level(map_f(), 21, "with a PDPT and a page directory")?;
    let pt = ctx.create(ObjectType::X86_PageTableObject, 0)?;
    map_pt(pt, ROOT_VSPACE, PROBE_PAGE)?;
    map_f()?;
    ensure_eq!(fault::write(GOOD_MAGIC), GOOD_MAGIC);
    ensure_eq!(fault::read(BAD_MAGIC), GOOD_MAGIC, "read back");
    unmap_page(f)?;
    map_page(g, ROOT_VSPACE, PROBE_PAGE, rights::RW)?;
    ensure_eq!(fault::read(BAD_MAGIC), 0, "the other frame");
    unmap_page(g)?;
    map_f()?;
    ensure_eq!(fault::read(BAD_MAGIC), GOOD_MAGIC, "the first frame again");
    unmap_page(f)?;
    Ok(())
}

#[sel4_test(
    arch = "x86_64",
    arch_reason = "the test invokes the x86 paging structures (PML4, PDPT, page directory, page table) by their labels; not ported to aarch64 and riscv64 yet"
)]
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

#[sel4_test(
    arch = "x86_64",
    arch_reason = "the test invokes the x86 paging structures (PML4, PDPT, page directory, page table) by their labels; not ported to aarch64 and riscv64 yet"
)]
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

/// A page mapped onto an address that maps one already: seL4 10+ replaces
/// the mapping (the address then reaches the new frame), seL4 5.x refuses
/// with DeleteFirst (it still reaches the old one).
#[sel4_test(
    arch = "x86_64",
    arch_reason = "the test invokes the x86 paging structures (PML4, PDPT, page directory, page table) by their labels; not ported to aarch64 and riscv64 yet"
)]
fn map_onto_mapped_address(ctx: &mut Ctx) -> TestResult {
    paging_for(ctx, ROOT_VSPACE, PROBE_PAGE)?;
    let f = ctx.create(crate::util::GRANULE, 0)?;
    let g = ctx.create(crate::util::GRANULE, 0)?;
    map_page(f, ROOT_VSPACE, PROBE_PAGE, rights::RW)?;
    fault::write(GOOD_MAGIC);
    let r = map_page(g, ROOT_VSPACE, PROBE_PAGE, rights::RW);
    if sel4_sys::KERNEL_VERSION_MAJOR >= 10 {
        ensure!(r.is_ok(), "seL4 10+ maps a page over a page: {r:?}");
        ensure_eq!(
            fault::read(BAD_MAGIC),
            0,
            "the address reaches the new frame"
        );
    } else {
        expect_err(r, Error::DeleteFirst, "a page onto a page (seL4 5.x)")?;
        ensure_eq!(
            fault::read(BAD_MAGIC),
            GOOD_MAGIC,
            "the address still reaches the first frame"
        );
    }
    Ok(())
}

/// Unmapping takes the page away: a thread's read at the address then
/// faults (page not present), another frame can be mapped there (and reads
/// its own contents), and the unmapped frame can be mapped elsewhere.
#[sel4_test(
    arch = "x86_64",
    arch_reason = "the test invokes the x86 paging structures (PML4, PDPT, page directory, page table) by their labels; not ported to aarch64 and riscv64 yet"
)]
fn unmap_then_map_elsewhere(ctx: &mut Ctx) -> TestResult {
    paging_for(ctx, ROOT_VSPACE, PROBE_PAGE)?;
    let f = ctx.create(crate::util::GRANULE, 0)?;
    let g = ctx.create(crate::util::GRANULE, 0)?;
    map_page(f, ROOT_VSPACE, PROBE_PAGE, rights::RW)?;
    fault::write(GOOD_MAGIC);
    unmap_page(f)?;
    match access_from_a_thread(ctx, false)? {
        Access::Fault { addr, fsr } => {
            ensure_eq!(addr, reported(FAULT_VADDR), "fault address");
            ensure_eq!(
                fsr & (PRESENT | WRITE),
                0,
                "a read of a page not present (error code {fsr:#x})"
            );
        }
        Access::Done(v) => fail!("read {v:#x} through the unmapped page"),
    }
    map_page(g, ROOT_VSPACE, PROBE_PAGE, rights::RW)?;
    ensure_eq!(fault::read(BAD_MAGIC), 0, "the other frame at the address");
    // The same page table covers this address too.
    map_page(f, ROOT_VSPACE, PROBE_PAGE + 0x5000, rights::RW)?;
    unmap_page(g)?;
    unmap_page(f)?;
    Ok(())
}

/// Unmapping a frame that is not mapped changes nothing: seL4 10+ answers
/// with success; seL4 5.0.0 returns from the invocation without replying
/// (it does not set the Restart state), so the caller gets its own message
/// info back (label X86PageUnmap, no error code). Either way the frame
/// maps afterwards.
#[sel4_test(
    arch = "x86_64",
    arch_reason = "the test invokes the x86 paging structures (PML4, PDPT, page directory, page table) by their labels; not ported to aarch64 and riscv64 yet"
)]
fn unmap_unmapped_frame(ctx: &mut Ctx) -> TestResult {
    let f = ctx.create(crate::util::GRANULE, 0)?;
    let r = unmap_page(f);
    if sel4_sys::KERNEL_VERSION_MAJOR >= 10 {
        ensure!(r.is_ok(), "unmapping an unmapped frame: {r:?}");
    } else {
        match r {
            Err(e) => ensure_eq!(
                e.code,
                InvocationLabel::X86PageUnmap as u64,
                "5.x: the caller's own label back"
            ),
            Ok(v) => fail!("5.x replied to the unmap: {v:?}"),
        }
    }
    paging_for(ctx, ROOT_VSPACE, PROBE_PAGE)?;
    map_page(f, ROOT_VSPACE, PROBE_PAGE, rights::RW)?;
    ensure_eq!(fault::write(GOOD_MAGIC), GOOD_MAGIC);
    ensure_eq!(fault::read(BAD_MAGIC), GOOD_MAGIC, "the frame is mapped");
    unmap_page(f)?;
    Ok(())
}

#[sel4_test(
    arch = "x86_64",
    arch_reason = "the test invokes the x86 paging structures (PML4, PDPT, page directory, page table) by their labels; not ported to aarch64 and riscv64 yet"
)]
fn mapped_frame_cannot_map_elsewhere(ctx: &mut Ctx) -> TestResult {
    paging_for(ctx, ROOT_VSPACE, BASE)?;
    let f = ctx.create(crate::util::GRANULE, 0)?;
    map_page(f, ROOT_VSPACE, BASE, rights::RW)?;
    let r = map_page(f, ROOT_VSPACE, BASE + 0x1000, rights::RW);
    // seL4 10+: the address is the invalid argument (0); 5.x: the frame
    // cap is the invalid capability (0).
    let expected = if sel4_sys::KERNEL_VERSION_MAJOR >= 10 {
        Error::InvalidArgument
    } else {
        Error::InvalidCapability
    };
    let e = expect_err(r, expected, "one frame cap at two addresses")?;
    ensure_eq!(e.detail[0], 0, "the argument or capability named");
    Ok(())
}

#[sel4_test(
    arch = "x86_64",
    arch_reason = "the test invokes the x86 paging structures (PML4, PDPT, page directory, page table) by their labels; not ported to aarch64 and riscv64 yet"
)]
fn map_misaligned_is_alignment_error(ctx: &mut Ctx) -> TestResult {
    paging_for(ctx, ROOT_VSPACE, BASE)?;
    let f = ctx.create(crate::util::GRANULE, 0)?;
    expect_err(
        map_page(f, ROOT_VSPACE, BASE + 0x800, rights::RW),
        Error::AlignmentError,
        "a page at a 2 KiB boundary",
    )?;
    Ok(())
}

/// A 2 MiB page maps at a 2 MiB boundary straight into a page directory
/// (no page table), and covers the whole 2 MiB: `FAULT_VADDR`, 0x187650
/// bytes past the boundary, reads and writes it.
#[sel4_test(
    arch = "x86_64",
    arch_reason = "the test invokes the x86 paging structures (PML4, PDPT, page directory, page table) by their labels; not ported to aarch64 and riscv64 yet"
)]
fn map_large_page_in_page_directory(ctx: &mut Ctx) -> TestResult {
    let base = FAULT_VADDR & !((2 << 20) - 1);
    let pdpt = ctx.create(ObjectType::X86_PDPTObject, 0)?;
    map_pdpt(pdpt, ROOT_VSPACE, base)?;
    let pd = ctx.create(ObjectType::X86_PageDirectoryObject, 0)?;
    map_pd(pd, ROOT_VSPACE, base)?;
    let large = ctx.create(crate::util::LARGE_PAGE, 0)?;
    expect_err(
        map_page(large, ROOT_VSPACE, base + 0x1000, rights::RW),
        Error::AlignmentError,
        "a 2 MiB page at a 4 KiB boundary",
    )?;
    map_page(large, ROOT_VSPACE, base, rights::RW)?;
    ensure_eq!(fault::read(BAD_MAGIC), 0, "a new large page");
    ensure_eq!(fault::write(GOOD_MAGIC), GOOD_MAGIC);
    ensure_eq!(fault::read(BAD_MAGIC), GOOD_MAGIC, "read back");
    unmap_page(large)?;
    Ok(())
}

/// A frame mapped without the write right reads but cannot be written: a
/// write faults at the address (a user write to a present page) and leaves
/// the frame as it was. Both ways to map read-only: asking for the read
/// right only, and asking for read and write through a frame cap without
/// the write right (the kernel masks the rights asked with the cap's).
#[sel4_test(
    arch = "x86_64",
    arch_reason = "the test invokes the x86 paging structures (PML4, PDPT, page directory, page table) by their labels; not ported to aarch64 and riscv64 yet"
)]
fn map_read_only_frame(ctx: &mut Ctx) -> TestResult {
    paging_for(ctx, ROOT_VSPACE, PROBE_PAGE)?;
    let f = ctx.create(crate::util::GRANULE, 0)?;
    map_page(f, ROOT_VSPACE, PROBE_PAGE, rights::RW)?;
    fault::write(GOOD_MAGIC);
    unmap_page(f)?;
    map_page(f, ROOT_VSPACE, PROBE_PAGE, rights::READ)?;
    ensure_eq!(
        fault::read(BAD_MAGIC),
        GOOD_MAGIC,
        "read-only mapping: read"
    );
    write_is_refused(ctx, "read-only mapping")?;
    ensure_eq!(
        fault::read(BAD_MAGIC),
        GOOD_MAGIC,
        "read-only mapping: unchanged"
    );
    unmap_page(f)?;
    let ro = ctx.slot()?;
    sel4_test_harness::kernel::cnode_mint(ro, f, rights::READ, 0)?;
    map_page(ro, ROOT_VSPACE, PROBE_PAGE, rights::RW)?;
    ensure_eq!(fault::read(BAD_MAGIC), GOOD_MAGIC, "read-only cap: read");
    write_is_refused(ctx, "read and write asked through a read-only cap")?;
    ensure_eq!(
        fault::read(BAD_MAGIC),
        GOOD_MAGIC,
        "read-only cap: unchanged"
    );
    unmap_page(ro)?;
    Ok(())
}

#[sel4_test(
    sel4test_partly = "VSPACE0002",
    arch = "x86_64",
    arch_reason = "the test invokes the x86 paging structures (PML4, PDPT, page directory, page table) by their labels; not ported to aarch64 and riscv64 yet"
)]
fn new_vspace_needs_asid(ctx: &mut Ctx) -> TestResult {
    let pml4 = ctx.create(ObjectType::X64_PML4Object, 0)?;
    let pdpt = ctx.create(ObjectType::X86_PDPTObject, 0)?;
    // A PML4 without an ASID is no valid VSpace root: the second
    // capability of the invocation is the invalid one.
    let e = expect_err(
        map_pdpt(pdpt, pml4, BASE),
        Error::InvalidCapability,
        "mapping into a VSpace without an ASID",
    )?;
    ensure_eq!(e.detail[0], 1, "the invalid capability");
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
    let e = expect_err(r, Error::InvalidCapability, "assigning an ASID twice")?;
    ensure_eq!(e.detail[0], 1, "the VSpace is the invalid capability");
    Ok(())
}

#[sel4_test(
    arch = "x86_64",
    arch_reason = "the test invokes the x86 paging structures (PML4, PDPT, page directory, page table) by their labels; not ported to aarch64 and riscv64 yet"
)]
fn page_address_is_stable_across_mapping(ctx: &mut Ctx) -> TestResult {
    paging_for(ctx, ROOT_VSPACE, BASE)?;
    let f = ctx.create(crate::util::GRANULE, 0)?;
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
