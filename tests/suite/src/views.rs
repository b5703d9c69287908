//! Memory through mappings, safely: `Objects::map_view` / `new_view` and
//! the `View` handle (exclusive views as slices, shared views through
//! volatile accesses), and what `Objects` refuses while a view lives.

use sel4_rootserver::cnode::ALL_RIGHTS;
use sel4_rootserver::cspace::CSpace;
use sel4_rootserver::memory::{frame_paddr, UntypedDesc, UntypedPool};
use sel4_rootserver::objects::Objects;
use sel4_rootserver::vspace::{self, Cache, VSpace, LARGE_WINDOW_START, RO, RW};
use sel4_rootserver::{Error, Owned, View, ViewError};
use sel4_sys::{consts, ObjectType};
use sel4_test_harness::{ensure, ensure_eq, kernel, sel4_test, Ctx, Failure, TestResult};

use crate::util::{fw, OBJECT_SLOTS};

const GIB: u64 = 1 << 30;
const PAGE: usize = 4096;

/// An `Objects` over `slots` slots of the test and a `2^bits`-byte untyped
/// of the test's budget, with a GiB of its own in both parts of the root
/// task's mapping window (4 KiB and 2 MiB frames), so that it can map large
/// frames too. The windows are the last GiB of each part, which the
/// harness's `Ctx::objects_over_untyped` (counting up from the start) does
/// not reach in one test.
fn objects_with_large_window(ctx: &mut Ctx, slots: usize, bits: usize) -> Result<Objects, Failure> {
    let ut = ctx.create(ObjectType::UntypedObject, bits)?;
    let probe = ctx.slot()?;
    kernel::retype(ut, crate::util::GRANULE as usize, 0, probe, 1)?;
    let paddr = frame_paddr(sel4_rootserver::Cap::from_cptr(probe)).map_err(fw("GetAddress"))?;
    kernel::cnode_delete(probe)?;
    let pool = UntypedPool::from_untypeds([(
        ut,
        UntypedDesc {
            paddr,
            size_bits: bits as u8,
            is_device: false,
        },
    )])
    .map_err(fw("pool"))?;
    let small = LARGE_WINDOW_START - GIB;
    let large = vspace::WINDOW_END - GIB;
    let first = ctx.slots(slots)?;
    Ok(Objects::from_parts(
        CSpace::with_slots(first, first + slots as u64),
        pool,
        VSpace::with_windows((small, small + GIB), (large, large + GIB)),
    ))
}

fn refused<H>(r: sel4_rootserver::Refused<H>) -> Failure {
    Failure::fail(alloc::format!("refused: {}", r.error))
}

/// sel4test's `touch_data`: 16 samples spread over the frame hold `old`,
/// then `new` once written.
fn touch(v: &mut View, old: u8, new: u8) -> TestResult {
    let step = v.len() / 16;
    for i in 0..16 {
        let at = i * step;
        let bytes = v
            .bytes_mut()
            .ok_or_else(|| Failure::fail("a fresh frame's view is exclusive"))?;
        ensure_eq!(bytes[at], old, "byte {at:#x} before the write");
        bytes[at] = new;
        ensure_eq!(bytes[at], new, "byte {at:#x} after the write");
        // The volatile path sees the slice's write.
        ensure_eq!(v.read::<u8>(at).map_err(fw("read"))?, new);
    }
    Ok(())
}

/// Maps the view's frame again where it is mapped (sel4test maps it a
/// second time with Page_Map; seL4 5.x has Page_Remap for that and refuses
/// Page_Map on a mapped frame).
fn remap(v: &View) -> TestResult {
    // `X86PageRemap` exists in seL4 5.x only: the name needs a version
    // guard (sel4_cfg_if! refuses names the configured kernel's tree lacks).
    sel4_sys::sel4_cfg_if! {
        kernel >= 10 {
            let r = sel4::FrameOps::map(
                v.frame(),
                sel4::Cap::from_cptr(kernel::ROOT_VSPACE),
                v.vaddr(),
                sel4::CapRights::ALL,
                sel4::VmAttributes::DEFAULT,
            );
        } else {
            let all = sel4_sys::CapRights(kernel::rights::ALL);
            let attr = sel4_sys::X86_VMAttributes::Default_VMAttributes;
            sel4_sys::sel4_cfg_if! {
                label X86PageRemap {
                    let r = v.frame().x86_page_remap(kernel::ROOT_VSPACE, all, attr);
                } else {
                    let r = v.frame().x86_page_map(kernel::ROOT_VSPACE, v.vaddr(), all, attr);
                }
            }
        }
    }
    r.map_err(fw("mapping the frame again at the same address"))?;
    Ok(())
}

/// One frame size of FRAMEEXPORTS0001: frames until memory runs out, each
/// mapped, touched, remapped at the same address (X86_Page_Map on the
/// mapped frame), touched again and unmapped. Returns how many frames.
fn exports_of_size(objs: &mut Objects, size_bits: u8) -> Result<usize, Failure> {
    let mut frames: alloc::vec::Vec<Owned<sel4::Granule>> = alloc::vec::Vec::new();
    loop {
        let frame = if size_bits as usize == consts::PageBits {
            objs.create::<sel4::Granule>()
        } else {
            objs.create_large_page()
        };
        let frame = match frame {
            Ok(f) => f,
            Err(Error::Alloc(_)) => break,
            Err(e) => return Err(Failure::fail(alloc::format!("creating a frame: {e}"))),
        };
        let mut v = match objs.map_view(frame, size_bits, RW, Cache::Default) {
            Ok(v) => v,
            // Out of memory for a paging structure: done too.
            Err(r) if matches!(r.error, Error::Alloc(_)) => {
                frames.push(r.handle);
                break;
            }
            Err(r) => {
                return Err(Failure::fail(alloc::format!(
                    "mapping a frame: {}",
                    r.error
                )))
            }
        };
        ensure_eq!(v.len(), 1usize << size_bits);
        touch(&mut v, 0, b'U')?;
        remap(&v)?;
        touch(&mut v, b'U', b'V')?;
        frames.push(objs.unmap_view(v).map_err(refused)?);
    }
    Ok(frames.len())
}

/// FRAMEEXPORTS0001: every kind of frame the kernel exports (4 KiB, 2 MiB)
/// can be mapped and read and written through the mapping, until memory
/// runs out.
#[sel4_test(timeout_ms = 60000, sel4test = "FRAMEEXPORTS0001")]
fn frameexports0001_read_write_every_frame_size(ctx: &mut Ctx) -> TestResult {
    let mut small = objects_with_large_window(ctx, 400, 20)?;
    let n4k = exports_of_size(&mut small, consts::PageBits as u8)?;
    ensure!(n4k > 200, "only {n4k} 4 KiB frames out of 1 MiB");
    drop(small);
    let mut large = objects_with_large_window(ctx, 64, 23)?;
    let n2m = exports_of_size(&mut large, consts::LargePageBits as u8)?;
    ensure!(n2m >= 2, "only {n2m} 2 MiB frames out of 8 MiB");
    sel4_rootserver::println!("FRAMEEXPORTS0001: {n4k} 4 KiB frames, {n2m} 2 MiB frames touched");
    Ok(())
}

#[sel4_test]
fn view_bytes_survive_unmap_and_map_again(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let mut v = objs.new_view()?;
    ensure!(v.is_exclusive() && v.is_writable());
    ensure_eq!(v.len(), PAGE);
    let bytes = v.bytes_mut().ok_or_else(|| Failure::fail("no slice"))?;
    ensure!(bytes.iter().all(|&b| b == 0), "a fresh frame is zeroed");
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = (i * 7 + 3) as u8;
    }
    ensure_eq!(
        v.read::<u64>(8).map_err(fw("read"))?,
        u64::from_le_bytes(core::array::from_fn(|k| ((8 + k) * 7 + 3) as u8))
    );
    let frame = objs.unmap_view(v).map_err(refused)?;
    // The same frame at another address: the bytes are the frame's.
    let v = objs
        .map_view(frame, consts::PageBits as u8, RO, Cache::Default)
        .map_err(refused)?;
    let bytes = v.bytes().ok_or_else(|| Failure::fail("no slice"))?;
    for (i, &b) in bytes.iter().enumerate() {
        ensure_eq!(b, (i * 7 + 3) as u8, "byte {i}");
    }
    let frame = objs.unmap_view(v).map_err(refused)?;
    objs.delete(frame).map_err(fw("delete"))?;
    Ok(())
}

/// One frame, two capabilities, two mappings: the views are shared (no
/// slices: each mapping can change the other's bytes), and writes through
/// one are seen through the other.
#[sel4_test]
fn view_two_caps_of_one_frame_see_each_other(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let f = objs.create::<sel4::Granule>()?;
    let f2 = objs.copy(&f, ALL_RIGHTS)?;
    let pa = frame_paddr(f.cap()).map_err(fw("GetAddress"))?;
    ensure_eq!(frame_paddr(f2.cap()).map_err(fw("GetAddress"))?, pa);
    let bits = consts::PageBits as u8;
    let mut a = objs
        .map_view(f, bits, RW, Cache::Default)
        .map_err(refused)?;
    let mut b = objs
        .map_view(f2, bits, RW, Cache::Default)
        .map_err(refused)?;
    ensure!(a.vaddr() != b.vaddr());
    ensure!(
        !a.is_exclusive() && !b.is_exclusive(),
        "two capabilities: shared views"
    );
    ensure!(
        a.bytes().is_none() && b.bytes_mut().is_none(),
        "shared views give no slices"
    );
    for i in 0..64usize {
        let val = 0x1111_2222_3333_0000u64 + i as u64;
        a.write::<u64>(i * 64, val).map_err(fw("write a"))?;
        ensure_eq!(
            b.read::<u64>(i * 64).map_err(fw("read b"))?,
            val,
            "word {i} through b"
        );
        b.write::<u32>(i * 64 + 8, i as u32)
            .map_err(fw("write b"))?;
        ensure_eq!(a.read::<u32>(i * 64 + 8).map_err(fw("read a"))?, i as u32);
    }
    b.copy_in(1000, b"shared bytes").map_err(fw("copy_in"))?;
    let mut out = [0u8; 12];
    a.copy_out(1000, &mut out).map_err(fw("copy_out"))?;
    ensure_eq!(&out, b"shared bytes");
    let f = objs.unmap_view(a).map_err(refused)?;
    let f2 = objs.unmap_view(b).map_err(refused)?;
    objs.delete(f2).map_err(fw("delete"))?;
    // One capability left: its view is exclusive again, the bytes still there.
    let v = objs
        .map_view(f, bits, RO, Cache::Default)
        .map_err(refused)?;
    ensure!(v.is_exclusive());
    ensure_eq!(
        &v.bytes().ok_or_else(|| Failure::fail("no slice"))?[1000..1012],
        b"shared bytes"
    );
    let f = objs.unmap_view(v).map_err(refused)?;
    objs.delete(f).map_err(fw("delete"))?;
    Ok(())
}

/// While a view lives, `Objects` refuses everything that would unmap its
/// frame; afterwards the same calls work.
#[sel4_test]
fn view_pins_its_mapping(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    // A copy mapped in a view: revoking the original would delete it.
    let f = objs.create::<sel4::Granule>()?;
    let copy = objs.copy(&f, ALL_RIGHTS)?;
    let mut v = objs
        .map_view(copy, consts::PageBits as u8, RW, Cache::Default)
        .map_err(refused)?;
    v.write::<u64>(0, 42).map_err(fw("write"))?;
    ensure!(
        matches!(objs.unmap(v.vaddr()), Err(Error::Check(_))),
        "unmap of a view's address"
    );
    ensure!(
        matches!(objs.revoke(&f), Err(Error::Check(_))),
        "revoke that deletes the view's frame"
    );
    ensure_eq!(v.read::<u64>(0).map_err(fw("read"))?, 42, "still mapped");
    let copy = objs.unmap_view(v).map_err(refused)?;
    ensure_eq!(objs.revoke(&f)?, 1);
    objs.delete(copy).map_err(fw("delete"))?;
    objs.delete(f).map_err(fw("delete"))?;
    // A frame of an untyped of the caller: no reclaim, no delete of the
    // untyped while the view lives.
    let ut = objs.create_untyped(16)?;
    let frame = objs.create_in::<sel4::Granule>(&ut)?;
    let v = objs
        .map_view(frame, consts::PageBits as u8, RW, Cache::Default)
        .map_err(refused)?;
    ensure!(
        matches!(objs.reclaim(&ut), Err(Error::Check(_))),
        "reclaim under a view"
    );
    let ut = match objs.delete(ut) {
        Err(r) if matches!(r.error, Error::Check(_)) => r.handle,
        other => {
            return Err(Failure::fail(alloc::format!(
                "delete of the untyped under a view: {other:?}"
            )))
        }
    };
    let frame = objs.unmap_view(v).map_err(refused)?;
    ensure_eq!(objs.reclaim(&ut)?, 1);
    objs.delete(frame).map_err(fw("delete"))?;
    objs.delete(ut).map_err(fw("delete"))?;
    Ok(())
}

#[sel4_test]
fn view_checks_every_access(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let f = objs.create::<sel4::Granule>()?;
    let mut v = objs
        .map_view(f, consts::PageBits as u8, RO, Cache::Default)
        .map_err(refused)?;
    ensure!(!v.is_writable() && v.is_exclusive());
    ensure!(
        v.bytes().is_some() && v.bytes_mut().is_none(),
        "read-only: no mutable slice"
    );
    ensure_eq!(v.write::<u8>(0, 1), Err(ViewError::ReadOnly));
    ensure_eq!(v.copy_in(0, b"x"), Err(ViewError::ReadOnly));
    ensure_eq!(v.fill(0, 1, 0), Err(ViewError::ReadOnly));
    ensure_eq!(
        v.read::<u64>(PAGE - 4),
        Err(ViewError::OutOfRange {
            offset: PAGE - 4,
            len: 8,
            size: PAGE
        })
    );
    ensure_eq!(
        v.read::<u32>(2),
        Err(ViewError::Misaligned {
            offset: 2,
            align: 4
        })
    );
    ensure!(matches!(
        v.copy_out(usize::MAX, &mut [0u8; 2]),
        Err(ViewError::OutOfRange { .. })
    ));
    ensure_eq!(v.read::<u64>(PAGE - 8).map_err(fw("read"))?, 0);
    // A view without read rights is refused, and the frame comes back.
    let f = objs.unmap_view(v).map_err(refused)?;
    let f = match objs.map_view(
        f,
        consts::PageBits as u8,
        sel4_sys::CapRights(0b01),
        Cache::Default,
    ) {
        Err(r) if matches!(r.error, Error::Check(_)) => r.handle,
        other => {
            return Err(Failure::fail(alloc::format!(
                "a write-only view: {other:?}"
            )))
        }
    };
    // Uncached: shared (volatile only), even with one capability.
    let mut v = objs
        .map_view(f, consts::PageBits as u8, RW, Cache::Uncached)
        .map_err(refused)?;
    ensure!(!v.is_exclusive() && v.bytes().is_none());
    v.write::<u16>(6, 0xbeef).map_err(fw("write"))?;
    ensure_eq!(v.read::<u16>(6).map_err(fw("read"))?, 0xbeef);
    // Another Objects does not take it.
    let mut other = ctx.objects(8)?;
    let v = match other.unmap_view(v) {
        Err(r) if matches!(r.error, Error::NotOwner { .. }) => r.handle,
        other => {
            return Err(Failure::fail(alloc::format!(
                "unmap_view by another Objects: {other:?}"
            )))
        }
    };
    let f = objs.unmap_view(v).map_err(refused)?;
    objs.delete(f).map_err(fw("delete"))?;
    Ok(())
}
