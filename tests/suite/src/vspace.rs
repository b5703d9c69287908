//! VSpace: paging-structure creation, map, unmap, remap, rights, on every
//! architecture through the `sel4` crate's arch-neutral names (the
//! [`TableLevel`]s below the [`VSpaceRoot`], frames, ASID pools). What a
//! mapping reaches is read and written with `sel4-asm-probes`' accesses at
//! `FAULT_VADDR` (from the test's thread, or from a new thread when the
//! access may fault).

use sel4::vspace::TABLE_LEVELS;
use sel4::{AsidPoolOps, Cap, FixedSize, FrameOps, TableLevel, VmAttributes};
use sel4_asm_probes::fault::{self, BAD_MAGIC, FAULT_VADDR, GOOD_MAGIC};
use sel4_sys::{
    CPtr, CapRights, Fault, FaultLabel, InvocationError, LookupFailure, MessageInfo, VmAccess,
};
use sel4_test_harness::kernel::{rights, ROOT_ASID_POOL, ROOT_VSPACE};
use sel4_test_harness::{ensure, ensure_eq, fail, sel4_test, Ctx, Failure, TestResult};

/// A region of the root VSpace that nothing else maps: a fresh entry of
/// the VSpace root (x86_64 and aarch64: entry 1, 512 GiB; riscv64 Sv39:
/// 112 GiB, between the heap's growth window and the mapping window).
#[cfg(not(target_arch = "riscv64"))]
pub const BASE: u64 = 0x80_0000_0000;
#[cfg(target_arch = "riscv64")]
pub const BASE: u64 = 0x1C_0000_0000;

/// The result of a mapping invocation.
pub type MapResult = Result<(), InvocationError>;

fn root(vspace: CPtr) -> Cap<sel4::VSpaceRoot> {
    Cap::from_cptr(vspace)
}

/// Maps the table `table` of `level` into `vspace` at `vaddr`.
pub fn map_table(level: TableLevel, table: CPtr, vspace: CPtr, vaddr: u64) -> MapResult {
    level.map(table, root(vspace), vaddr, VmAttributes::DEFAULT)
}

/// Maps the frame `frame` (of any size: the invocation is the same) into
/// `vspace` at `vaddr` with `r` (`kernel::rights` bits).
pub fn map_page(frame: CPtr, vspace: CPtr, vaddr: u64, r: u64) -> MapResult {
    Cap::<sel4::Granule>::from_cptr(frame).map(
        root(vspace),
        vaddr,
        CapRights(r).into(),
        VmAttributes::DEFAULT,
    )
}

/// Unmaps the frame `frame`.
pub fn unmap_page(frame: CPtr) -> MapResult {
    Cap::<sel4::Granule>::from_cptr(frame).unmap()
}

/// The object type of the VSpace root.
pub const VSPACE_ROOT: sel4_sys::ObjectType = <sel4::VSpaceRoot as FixedSize>::TYPE;

/// Creates and maps the translation tables of every level below the root
/// that cover `vaddr` in `vspace` (all of them: `vaddr` must be in a
/// fresh entry of the root).
pub fn paging_for(ctx: &mut Ctx, vspace: CPtr, vaddr: u64) -> Result<(), Failure> {
    for level in TABLE_LEVELS {
        let t = ctx.create(level.object_type(), 0)?;
        map_table(level, t, vspace, vaddr)?;
    }
    Ok(())
}

/// Checks that `r` failed with `expected`.
pub fn expect_inv<T: core::fmt::Debug>(
    r: Result<T, InvocationError>,
    expected: InvocationError,
    what: &str,
) -> TestResult {
    match r {
        Err(e) if e == expected => Ok(()),
        Err(e) => fail!("{what}: expected {expected:?}, got {e:?}"),
        Ok(v) => fail!("{what}: expected {expected:?}, but it succeeded ({v:?})"),
    }
}

/// Where the tests below map a frame to read and write it: the page of
/// `sel4-asm-probes`' `FAULT_VADDR`, which its probes read and write (a
/// 32-bit word at `FAULT_VADDR`, offset 0x650 in the page).
const PROBE_PAGE: u64 = FAULT_VADDR & !0xfff;

/// What a thread's access to `FAULT_VADDR` ended in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// It went through: the value read, or the value written.
    Done(u32),
    /// A VM fault: the address the kernel reported, the access and the
    /// fault status.
    Fault {
        addr: u64,
        access: VmAccess,
        fsr: u64,
    },
}

/// Whether a VM fault's status says that a page was mapped at the address
/// (the access lacked a right) rather than missing: x86_64 the error
/// code's present bit; aarch64 a permission fault (fault status code
/// 0b0011xx of the syndrome) against a translation fault (0b0001xx);
/// riscv64 `None` (its page faults do not tell).
fn page_present(fsr: u64) -> Option<bool> {
    if cfg!(target_arch = "x86_64") {
        Some(fsr & 1 != 0)
    } else if cfg!(target_arch = "aarch64") {
        match fsr & 0x3c {
            0x04 => Some(false),
            0x0c => Some(true),
            _ => None,
        }
    } else {
        None
    }
}

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
        let f = Fault::decode(r.info.get_label(), &r.mrs);
        return match (f, f.vm_access()) {
            (Fault::VmFault { addr, fsr, .. }, Some(access)) => {
                Ok(Access::Fault { addr, access, fsr })
            }
            _ => Err(Failure::fail(alloc::format!(
                "a VM fault message that does not decode: {f:?}"
            ))),
        };
    }
    if (r.info.get_label(), r.info.get_length()) != (0, 1) {
        return Err(Failure::fail(alloc::format!(
            "the accessing thread sent {:?}",
            r.info
        )));
    }
    Ok(Access::Done(r.mrs[0] as u32))
}

/// The fault address as the kernel reports it: seL4 5.x cuts it to 32 bits
/// (its handleVMFault keeps the address in a uint32_t).
fn reported(addr: u64) -> u64 {
    if sel4_sys::KERNEL_VERSION_MAJOR < 10 {
        addr & 0xffff_ffff
    } else {
        addr
    }
}

/// Checks that a write from a thread to `FAULT_VADDR` faults as a write to
/// a page mapped without the write right.
fn write_is_refused(ctx: &mut Ctx, what: &str) -> TestResult {
    match access_from_a_thread(ctx, true)? {
        Access::Fault { addr, access, fsr } => {
            ensure_eq!(addr, reported(FAULT_VADDR), "{what}: fault address");
            ensure_eq!(
                access,
                VmAccess::Write,
                "{what}: the access (status {fsr:#x})"
            );
            if let Some(present) = page_present(fsr) {
                ensure!(present, "{what}: the page is present (status {fsr:#x})");
            }
        }
        Access::Done(v) => fail!("{what}: the write of {v:#x} went through"),
    }
    Ok(())
}

/// The error of a mapping whose translation table at `level` is missing:
/// a failed lookup (not of the source) with the bits left that the
/// missing table would translate.
fn missing_level(r: MapResult, level: TableLevel, what: &str) -> TestResult {
    expect_inv(
        r,
        InvocationError::FailedLookup {
            source: false,
            lookup_failure: LookupFailure::MissingCapability {
                bits_left: u64::from(level.span_bits()),
            },
        },
        what,
    )?;
    ensure_eq!(
        TableLevel::missing(u64::from(level.span_bits())),
        Some(level),
        "{what}: TableLevel::missing"
    );
    Ok(())
}

/// A page maps only where the translation tables cover its address, and
/// the kernel names the first level that is missing (a FailedLookup with
/// the bits left: on x86_64 39 without a PDPT, 30 without a page
/// directory, 21 without a page table; the levels of [`TABLE_LEVELS`] on
/// each architecture). With all of them it maps, and the address then
/// reaches that frame: a value written there is read back, another frame
/// mapped there instead reads its own (zeroed) contents, and the first one
/// mapped back holds the value still.
#[sel4_test]
fn paging_structures_then_map(ctx: &mut Ctx) -> TestResult {
    let f = ctx.create(crate::util::GRANULE, 0)?;
    let g = ctx.create(crate::util::GRANULE, 0)?;
    let map_f = || map_page(f, ROOT_VSPACE, PROBE_PAGE, rights::RW);
    for level in TABLE_LEVELS {
        missing_level(map_f(), level, &alloc::format!("without a {level:?} table"))?;
        let t = ctx.create(level.object_type(), 0)?;
        map_table(level, t, ROOT_VSPACE, PROBE_PAGE)?;
    }
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

/// A second table of the first level below the root at the same address:
/// x86_64 refuses a second PDPT with DeleteFirst (each level is an object
/// type of its own); aarch64 and riscv64 have one page table type, and
/// the kernel maps a page table at the first level the address lacks, so
/// the second one goes one level down (a page then misses the level below
/// that, or maps when there is none).
#[sel4_test]
fn map_pdpt_twice_is_delete_first(ctx: &mut Ctx) -> TestResult {
    let level = TABLE_LEVELS[0];
    let a = ctx.create(level.object_type(), 0)?;
    let b = ctx.create(level.object_type(), 0)?;
    map_table(level, a, ROOT_VSPACE, BASE)?;
    let r = map_table(level, b, ROOT_VSPACE, BASE);
    if cfg!(target_arch = "x86_64") {
        return expect_inv(r, InvocationError::DeleteFirst, "a second PDPT");
    }
    ensure!(r.is_ok(), "a second page table maps a level down: {r:?}");
    let f = ctx.create(crate::util::GRANULE, 0)?;
    let m = map_page(f, ROOT_VSPACE, BASE, rights::RW);
    match TABLE_LEVELS.get(2) {
        Some(&third) => missing_level(m, third, "with the first two levels"),
        None => {
            ensure!(m.is_ok(), "both levels there: the page maps ({m:?})");
            unmap_page(f)?;
            Ok(())
        }
    }
}

/// The same for the last level (x86_64: a page table).
#[sel4_test]
fn map_page_table_twice_is_delete_first(ctx: &mut Ctx) -> TestResult {
    paging_for(ctx, ROOT_VSPACE, BASE)?;
    let level = TABLE_LEVELS[TABLE_LEVELS.len() - 1];
    let pt = ctx.create(level.object_type(), 0)?;
    expect_inv(
        map_table(level, pt, ROOT_VSPACE, BASE),
        InvocationError::DeleteFirst,
        "a second table of the last level",
    )?;
    Ok(())
}

/// Whether this kernel maps a page over a mapped page (replacing the
/// mapping): x86_64 and aarch64 on seL4 10+; seL4 5.x x86 and riscv64
/// (its RISCVPageMap checks that the slot is not valid) refuse with
/// DeleteFirst.
const MAPS_OVER_A_PAGE: bool =
    sel4_sys::KERNEL_VERSION_MAJOR >= 10 && !cfg!(target_arch = "riscv64");

/// A page mapped onto an address that maps one already: x86_64 and aarch64
/// on seL4 10+ replace the mapping (the address then reaches the new
/// frame), seL4 5.x and riscv64 refuse with DeleteFirst (it still reaches
/// the old one).
#[sel4_test]
fn map_onto_mapped_address(ctx: &mut Ctx) -> TestResult {
    paging_for(ctx, ROOT_VSPACE, PROBE_PAGE)?;
    let f = ctx.create(crate::util::GRANULE, 0)?;
    let g = ctx.create(crate::util::GRANULE, 0)?;
    map_page(f, ROOT_VSPACE, PROBE_PAGE, rights::RW)?;
    fault::write(GOOD_MAGIC);
    let r = map_page(g, ROOT_VSPACE, PROBE_PAGE, rights::RW);
    if MAPS_OVER_A_PAGE {
        ensure!(r.is_ok(), "this kernel maps a page over a page: {r:?}");
        ensure_eq!(
            fault::read(BAD_MAGIC),
            0,
            "the address reaches the new frame"
        );
    } else {
        expect_inv(r, InvocationError::DeleteFirst, "a page onto a page")?;
        ensure_eq!(
            fault::read(BAD_MAGIC),
            GOOD_MAGIC,
            "the address still reaches the first frame"
        );
    }
    Ok(())
}

/// Unmapping takes the page away: a thread's read at the address then
/// faults (a read of a page not present), another frame can be mapped
/// there (and reads its own contents), and the unmapped frame can be
/// mapped elsewhere.
#[sel4_test]
fn unmap_then_map_elsewhere(ctx: &mut Ctx) -> TestResult {
    paging_for(ctx, ROOT_VSPACE, PROBE_PAGE)?;
    let f = ctx.create(crate::util::GRANULE, 0)?;
    let g = ctx.create(crate::util::GRANULE, 0)?;
    map_page(f, ROOT_VSPACE, PROBE_PAGE, rights::RW)?;
    fault::write(GOOD_MAGIC);
    unmap_page(f)?;
    match access_from_a_thread(ctx, false)? {
        Access::Fault { addr, access, fsr } => {
            ensure_eq!(addr, reported(FAULT_VADDR), "fault address");
            ensure_eq!(access, VmAccess::Read, "the access (status {fsr:#x})");
            if let Some(present) = page_present(fsr) {
                ensure!(!present, "a page not present (status {fsr:#x})");
            }
        }
        Access::Done(v) => fail!("read {v:#x} through the unmapped page"),
    }
    map_page(g, ROOT_VSPACE, PROBE_PAGE, rights::RW)?;
    ensure_eq!(fault::read(BAD_MAGIC), 0, "the other frame at the address");
    // The same last-level table covers this address too.
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
#[sel4_test]
fn unmap_unmapped_frame(ctx: &mut Ctx) -> TestResult {
    let f = ctx.create(crate::util::GRANULE, 0)?;
    let r = unmap_page(f);
    // seL4 5.x is x86_64 only.
    sel4_sys::sel4_cfg_if! { label X86PageUnmap {
        if sel4_sys::KERNEL_VERSION_MAJOR < 10 {
            let own_label = sel4_sys::InvocationLabel::X86PageUnmap as u64;
            match r {
                Err(InvocationError::Unknown(code)) => {
                    ensure_eq!(code, own_label, "5.x: the caller's own label back")
                }
                other => fail!("5.x replied to the unmap: {other:?}"),
            }
        } else {
            ensure!(r.is_ok(), "unmapping an unmapped frame: {r:?}");
        }
    } else {
        ensure!(r.is_ok(), "unmapping an unmapped frame: {r:?}");
    } }
    paging_for(ctx, ROOT_VSPACE, PROBE_PAGE)?;
    map_page(f, ROOT_VSPACE, PROBE_PAGE, rights::RW)?;
    ensure_eq!(fault::write(GOOD_MAGIC), GOOD_MAGIC);
    ensure_eq!(fault::read(BAD_MAGIC), GOOD_MAGIC, "the frame is mapped");
    unmap_page(f)?;
    Ok(())
}

#[sel4_test]
fn mapped_frame_cannot_map_elsewhere(ctx: &mut Ctx) -> TestResult {
    paging_for(ctx, ROOT_VSPACE, BASE)?;
    let f = ctx.create(crate::util::GRANULE, 0)?;
    map_page(f, ROOT_VSPACE, BASE, rights::RW)?;
    let r = map_page(f, ROOT_VSPACE, BASE + 0x1000, rights::RW);
    // seL4 10+ (and every aarch64 and riscv64 kernel): the address is the
    // invalid argument (0); 5.x: the frame cap is the invalid capability
    // (0).
    let expected = if sel4_sys::KERNEL_VERSION_MAJOR >= 10 {
        InvocationError::InvalidArgument { argument: 0 }
    } else {
        InvocationError::InvalidCapability { argument: 0 }
    };
    expect_inv(r, expected, "one frame cap at two addresses")
}

#[sel4_test]
fn map_misaligned_is_alignment_error(ctx: &mut Ctx) -> TestResult {
    paging_for(ctx, ROOT_VSPACE, BASE)?;
    let f = ctx.create(crate::util::GRANULE, 0)?;
    expect_inv(
        map_page(f, ROOT_VSPACE, BASE + 0x800, rights::RW),
        InvocationError::AlignmentError,
        "a page at a 2 KiB boundary",
    )
}

/// A large page (2 MiB) maps at its boundary straight into a table of the
/// level above the last (no last-level table), and covers the whole
/// range: `FAULT_VADDR`, well past the boundary, reads and writes it.
#[sel4_test]
fn map_large_page_in_page_directory(ctx: &mut Ctx) -> TestResult {
    let large_bits = <sel4::LargePage as FixedSize>::SIZE_BITS;
    let base = FAULT_VADDR & !((1 << large_bits) - 1);
    for level in &TABLE_LEVELS[..TABLE_LEVELS.len() - 1] {
        let t = ctx.create(level.object_type(), 0)?;
        map_table(*level, t, ROOT_VSPACE, base)?;
    }
    ensure_eq!(
        u64::from(TABLE_LEVELS[TABLE_LEVELS.len() - 1].span_bits()),
        large_bits as u64,
        "a large page takes the place of a last-level table"
    );
    let large = ctx.create(crate::util::LARGE_PAGE, 0)?;
    expect_inv(
        map_page(large, ROOT_VSPACE, base + 0x1000, rights::RW),
        InvocationError::AlignmentError,
        "a large page at a 4 KiB boundary",
    )?;
    map_page(large, ROOT_VSPACE, base, rights::RW)?;
    ensure_eq!(fault::read(BAD_MAGIC), 0, "a new large page");
    ensure_eq!(fault::write(GOOD_MAGIC), GOOD_MAGIC);
    ensure_eq!(fault::read(BAD_MAGIC), GOOD_MAGIC, "read back");
    unmap_page(large)?;
    Ok(())
}

/// A frame mapped without the write right reads but cannot be written: a
/// write faults at the address (a write to a present page) and leaves the
/// frame as it was. Both ways to map read-only: asking for the read right
/// only, and asking for read and write through a frame cap without the
/// write right (the kernel masks the rights asked with the cap's).
#[sel4_test]
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

/// A new VSpace root has no ASID: nothing maps into it (the VSpace is the
/// invalid capability, number 1) until an ASID pool assigns it one, and a
/// second assignment is refused the same way.
#[sel4_test(sel4test_partly = "VSPACE0002")]
fn new_vspace_needs_asid(ctx: &mut Ctx) -> TestResult {
    let vspace = ctx.create(VSPACE_ROOT, 0)?;
    let level = TABLE_LEVELS[0];
    let table = ctx.create(level.object_type(), 0)?;
    expect_inv(
        map_table(level, table, vspace, BASE),
        InvocationError::InvalidCapability { argument: 1 },
        "mapping into a VSpace without an ASID",
    )?;
    let pool: Cap<sel4::AsidPool> = Cap::from_cptr(ROOT_ASID_POOL);
    pool.assign(root(vspace))?;
    map_table(level, table, vspace, BASE)?;
    expect_inv(
        pool.assign(root(vspace)),
        InvocationError::InvalidCapability { argument: 1 },
        "assigning an ASID twice",
    )
}

#[sel4_test]
fn page_address_is_stable_across_mapping(ctx: &mut Ctx) -> TestResult {
    paging_for(ctx, ROOT_VSPACE, BASE)?;
    let f = ctx.create(crate::util::GRANULE, 0)?;
    let frame = Cap::<sel4::Granule>::from_cptr(f);
    let before = frame.paddr()?;
    map_page(f, ROOT_VSPACE, BASE, rights::RW)?;
    let after = frame.paddr()?;
    ensure_eq!(before, after);
    ensure!(
        before != 0 && before % 4096 == 0,
        "frame address {before:#x}"
    );
    Ok(())
}
