//! memory-demo: exercises `cspace`, `memory` and `vspace` of the root
//! server crate on the running kernel, failure paths included. Every check
//! All of them run on the CSpace, pool and VSpace that one
//! `objects::Objects` owns (the one owner of the root task's resources).
//! Every check is a plain function that returns an error when the system does not
//! behave as expected; `main` runs them in order.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::vec::Vec;

use sel4_rootserver::cnode::{depth, guard_data, ALL_RIGHTS};
use sel4_rootserver::memory::{frame_paddr, MemoryKind};
use sel4_rootserver::objects::Objects;
use sel4_rootserver::sys::{consts, InvocationError, ObjectType};
use sel4_rootserver::thread::spawn;
use sel4_rootserver::untyped::Destination;
use sel4_rootserver::vspace::{Cache, LARGE_PAGE_SIZE, PAGE_SIZE, RW, WINDOW_END, WINDOW_START};
use sel4_rootserver::CapData;
use sel4_rootserver::{
    cap_type, entry, heap, println, AllocError, BootInfo, Cap, Endpoint, Error, FixedSize, Granule,
    Notification, Owned, UntypedExt,
};

entry!(main);

/// Fails with `what` unless `ok`.
fn ensure(ok: bool, what: &'static str) -> Result<(), Error> {
    if ok {
        Ok(())
    } else {
        println!("memory-demo: FAILED: {what}");
        Err(Error::Check(what))
    }
}

/// Expects `r` to be an error and returns it.
fn expect_err<T>(r: Result<T, Error>, what: &'static str) -> Result<Error, Error> {
    match r {
        Ok(_) => {
            println!("memory-demo: FAILED: {what}: succeeded");
            Err(Error::Check(what))
        }
        Err(e) => {
            println!("  expected error ({what}): {e}");
            Ok(e)
        }
    }
}

/// Slot allocation: alloc, free, reuse, exhaustion, and a handle of
/// another owner refused (a double free cannot be written: giving a slot
/// back consumes its handle).
pub fn check_slots(objs: &mut Objects) -> Result<(), Error> {
    let before = objs.cspace().slots().used();
    let a = objs.alloc_slot()?;
    let b = objs.alloc_slot()?;
    let a_slot = a.cptr();
    objs.free_slot(a)?;
    let a = objs.alloc_slot()?;
    ensure(a.cptr() == a_slot, "a freed slot is reused")?;
    objs.free_slot(b)?;
    objs.free_slot(a)?;
    let run = objs.alloc_range(16)?;
    objs.free_range(run)?;
    ensure(
        objs.cspace().slots().used() == before,
        "slot count back to the start",
    )?;
    // Objects over two slots, carved out of ours, runs dry.
    let two = objs.alloc_range(2)?;
    let mut small = Objects::new(two.start(), two.end(), Vec::new());
    let x = small.alloc_slot()?;
    let y = small.alloc_slot()?;
    let e = expect_err(small.alloc_slot(), "slots exhausted")?;
    ensure(
        matches!(
            e,
            Error::Alloc(AllocError::SlotsExhausted {
                requested: 1,
                available: 0
            })
        ),
        "exhaustion error",
    )?;
    // A slot of `small` given to `objs`: refused, and the handle comes back.
    let slot_x = x.cptr();
    let refused = match objs.free_slot(x) {
        Ok(()) => return Err(Error::Check("another owner's slot was taken")),
        Err(r) => r,
    };
    println!("  expected error (another owner's slot): {refused}");
    ensure(
        refused.error == Error::NotOwner { slot: slot_x },
        "another owner's slot is refused",
    )?;
    small.free_slot(refused.handle)?;
    small.free_slot(y)?;
    drop(small);
    objs.free_range(two)?;
    println!(
        "check_slots: ok ({} slots free)",
        objs.cspace().slots().available()
    );
    Ok(())
}

/// Copy, mint, move, mutate, rotate, delete, revoke on notifications.
pub fn check_cnode_ops(objs: &mut Objects) -> Result<(), Error> {
    let used0 = objs.cspace().slots().used();
    let n: Owned<Notification> = objs.create()?;
    let badged = objs.mint(&n, 0x5)?;
    ensure(n.poll() == 0, "fresh notification is clear")?;
    badged.signal();
    ensure(
        n.poll() == 0x5,
        "signal through the minted copy carries its badge",
    )?;
    // Move: the badged capability changes slots, the old slot is freed.
    let mut moved = badged;
    let old = moved.cptr();
    objs.move_cap(&mut moved)?;
    ensure(
        !objs.cspace().slots().is_allocated(old) && moved.cptr() != old,
        "move frees the source slot",
    )?;
    moved.signal();
    ensure(n.poll() == 0x5, "moved capability still signals")?;
    // Mutate cannot badge a notification: the kernel refuses, and the
    // slot taken for the result goes back.
    let mut plain = objs.copy(&n, ALL_RIGHTS)?;
    let used = objs.cspace().slots().used();
    let e = expect_err(
        objs.mutate(&mut plain, CapData::badge(0x30)?),
        "mutate a notification's badge",
    )?;
    ensure(
        e == Error::Kernel(InvocationError::IllegalOperation),
        "mutate of a badge is illegal",
    )?;
    ensure(
        objs.cspace().slots().used() == used,
        "failed mutate keeps no slot",
    )?;
    let mutated = plain;
    // Rotate: pivot -> new slot, src -> pivot's slot, src's slot freed.
    // Frames (endpoints and notifications cannot be rotated: the kernel
    // would have to re-badge them in place).
    let mut fa = objs.create::<Granule>()?;
    let mut fb = objs.create::<Granule>()?;
    let (pa, pb) = (frame_paddr(fa.cap())?, frame_paddr(fb.cap())?);
    let (fa_slot, fb_slot) = (fa.cptr(), fb.cptr());
    objs.rotate(&mut fa, 0, &mut fb, 0)?;
    let (old_pivot, old_src) = (fa, fb);
    ensure(old_src.cptr() == fa_slot, "src moved into the pivot's slot")?;
    ensure(
        frame_paddr(old_pivot.cap())? == pa,
        "old pivot in its new slot",
    )?;
    ensure(
        frame_paddr(old_src.cap())? == pb,
        "old src in the pivot's slot",
    )?;
    ensure(
        !objs.cspace().slots().is_allocated(fb_slot),
        "rotate frees src's slot",
    )?;
    ensure(
        objs.pool().owns(old_pivot.cptr()) && objs.pool().owns(old_src.cptr()),
        "the pool follows the rotated frames",
    )?;
    let mut n = n;
    let mut nb = badged_copy(objs, &n)?;
    let e = expect_err(
        objs.rotate(&mut n, 1, &mut nb, 2),
        "rotate notifications with badges",
    )?;
    ensure(
        e == Error::Kernel(InvocationError::IllegalOperation),
        "rotating notifications is illegal",
    )?;
    objs.delete(old_src)?;
    objs.delete(old_pivot)?;
    // Revoke: the copies derived from `n` go away (the kernel refuses to
    // copy from their now empty slots).
    let gone = objs.revoke(&n)?;
    ensure(gone == 3, "revoke deletes the three copies of n")?;
    let e = expect_err(objs.copy(&moved, ALL_RIGHTS), "copy from a revoked slot")?;
    ensure(
        matches!(
            e,
            Error::Kernel(InvocationError::FailedLookup { source: true, .. })
        ),
        "revoked slot is empty",
    )?;
    // Their slots are empty now, but still ours: give them back.
    for c in [moved, mutated, nb] {
        objs.delete(c)?;
    }
    // Wrong capability type: a frame named as an untyped. (Not a
    // notification: any invocation of a notification is a signal.)
    let page = objs.create::<Granule>()?;
    let fake: Cap<cap_type::Untyped> = page.cast();
    let slot = objs.alloc_slot()?;
    let e = expect_err(
        fake.retype_raw(
            ObjectType::EndpointObject,
            0,
            Destination::root_cnode(),
            slot.cptr(),
            1,
        ),
        "retype through a frame",
    )?;
    ensure(
        e == Error::Kernel(InvocationError::IllegalOperation),
        "the kernel refuses a retype on a frame",
    )?;
    objs.free_slot(slot)?;
    objs.delete(page)?;
    objs.delete(n)?;
    ensure(objs.cspace().slots().used() == used0, "all slots back")?;
    println!("check_cnode_ops: ok");
    Ok(())
}

/// A badged copy of `n` (badge 2) in a fresh slot.
fn badged_copy(objs: &mut Objects, n: &Owned<Notification>) -> Result<Owned<Notification>, Error> {
    objs.mint(n, 2)
}

/// A CNode from untyped, its slots, and its guard for full-depth use.
pub fn check_child_cnode(objs: &mut Objects) -> Result<(), Error> {
    let child = objs.create_cnode(4)?;
    let radix = objs.child_radix(&child).unwrap_or(0);
    let n: Owned<Notification> = objs.create()?;
    let badged = objs.mint(&n, 0x9)?;
    let i = objs.copy_into(&child, &badged, ALL_RIGHTS)?;
    // An endpoint made from an untyped of our own, moved into the child
    // CNode.
    let ut = objs.create_untyped(12)?;
    let ep = objs.create_in::<Endpoint>(&ut)?;
    let ep = objs.move_into(&child, ep)?;
    // The guarded copy resolves slot i at full depth, as a thread whose
    // CSpace root it is would.
    let guarded = objs.mint_cspace_root(&child)?;
    let k = objs.alloc_child_slot(&child)?;
    guarded.cnode_copy(
        k.index(),
        depth(),
        guarded.cap(),
        i.index(),
        depth(),
        ALL_RIGHTS,
    )?;
    // Without the guard the same full-depth lookup fails.
    let e = expect_err(
        child
            .cnode_copy(
                k.index() + 1,
                depth(),
                child.cap(),
                i.index(),
                depth(),
                ALL_RIGHTS,
            )
            .map_err(Error::from),
        "full-depth lookup without a guard",
    )?;
    ensure(
        matches!(e, Error::Kernel(InvocationError::FailedLookup { .. })),
        "guardless lookup",
    )?;
    // Mutate sets the same guard on a plain copy of the child's cap.
    let mut mutated = objs.copy(&child, ALL_RIGHTS)?;
    objs.mutate(&mut mutated, guard_data(0, depth() - radix)?)?;
    mutated.cnode_delete(k.index(), depth())?;
    mutated.cnode_copy(
        k.index(),
        depth(),
        mutated.cap(),
        i.index(),
        depth(),
        ALL_RIGHTS,
    )?;
    objs.delete(mutated)?;
    let back: Owned<Notification> = objs.move_out(k.recast())?;
    back.signal();
    ensure(
        n.poll() == 0x9,
        "the capability copied through the guarded CNode",
    )?;
    objs.delete_child(i)?;
    ensure(
        objs.child_slots(&child).map(|s| s.used()) == Some(1),
        "only the endpoint is left in the child",
    )?;
    // Reclaiming the untyped deletes the endpoint (the kernel empties its
    // child slot); giving the handle back frees the slot.
    let gone = objs.reclaim(&ut)?;
    ensure(gone == 1, "the reclaim deleted the endpoint")?;
    objs.delete_child(ep)?;
    ensure(
        objs.child_slots(&child).map(|s| s.used()) == Some(0),
        "child CNode empty",
    )?;
    let page = objs.create_in::<Granule>(&ut)?;
    let usage = objs.pool().allocator().get(ut.cptr());
    println!(
        "  page after reclaim at {:#x}, untyped {:?}",
        frame_paddr(page.cap())?,
        usage
    );
    ensure(
        usage.map(|u| u.untyped.paddr) == Some(frame_paddr(page.cap())?),
        "the untyped's memory is whole again",
    )?;
    objs.delete(page)?;
    objs.delete(ut)?;
    objs.delete(n)?;
    for c in [
        back.recast::<cap_type::Null>(),
        badged.recast(),
        guarded.recast(),
    ] {
        objs.delete(c)?;
    }
    objs.delete(child)?;
    println!("check_child_cnode: ok (radix {radix})");
    Ok(())
}

/// Exhausts a small untyped, revokes it, and retypes it again.
pub fn check_untyped_reclaim(objs: &mut Objects) -> Result<(), Error> {
    let ram0 = objs.pool().usage(MemoryKind::Ram);
    let ut = objs.create_untyped(14)?; // 16 KiB: four pages
    let slots0 = objs.cspace().slots().used();
    let mut frames = Vec::new();
    let err = loop {
        match objs.create_in::<Granule>(&ut) {
            Ok(f) => frames.push(f),
            Err(e) => break e,
        }
    };
    println!("  expected error (untyped exhausted): {err}");
    ensure(frames.len() == 4, "four pages in 16 KiB")?;
    ensure(
        matches!(
            err,
            Error::Alloc(AllocError::UntypedFull {
                size_bits: 12,
                free: 0,
                ..
            })
        ),
        "exhaustion names the size",
    )?;
    // The kernel agrees: a retype of one more page fails.
    let slot = objs.alloc_slot()?;
    let e = expect_err(
        ut.retype_raw(
            <Granule as FixedSize>::TYPE,
            0,
            Destination::root_cnode(),
            slot.cptr(),
            1,
        ),
        "kernel retype from a full untyped",
    )?;
    ensure(
        matches!(
            e,
            Error::Kernel(InvocationError::NotEnoughMemory { available: 0 })
        ),
        "kernel says not enough memory",
    )?;
    // Revoke: the frames are deleted, the memory free; their handles give
    // the slots back.
    let freed = objs.reclaim(&ut)?;
    ensure(freed == 4, "four capabilities deleted")?;
    ensure(
        objs.pool().allocator().get(ut.cptr()).map(|u| u.used) == Some(0),
        "watermark reset",
    )?;
    for f in frames {
        objs.delete(f)?;
    }
    ensure(
        objs.cspace().slots().used() == slots0 + 1,
        "slot count after reclaim",
    )?;
    // And the kernel retypes the same memory again, from its base.
    let page = objs.create_in::<Granule>(&ut)?;
    let base = objs
        .pool()
        .allocator()
        .get(ut.cptr())
        .map(|u| u.untyped.paddr);
    ensure(
        Some(frame_paddr(page.cap())?) == base,
        "the first page is at the untyped's base again",
    )?;
    objs.reclaim(&ut)?;
    objs.delete(page)?;
    // All 16 KiB in one object: only possible if the revoke really gave
    // everything back.
    ut.retype_raw(
        ObjectType::UntypedObject,
        14,
        Destination::root_cnode(),
        slot.cptr(),
        1,
    )?;
    objs.free_slot(slot)?;
    objs.delete(ut)?;
    // Too large for any untyped.
    let e = expect_err(objs.create_untyped(40), "2^40 bytes of RAM")?;
    ensure(
        matches!(
            e,
            Error::Alloc(AllocError::UntypedExhausted { size_bits: 40, .. })
        ),
        "exhaustion names 2^40",
    )?;
    let ram1 = objs.pool().usage(MemoryKind::Ram);
    println!(
        "check_untyped_reclaim: ok (RAM used {} -> {} bytes of {})",
        ram0.used, ram1.used, ram1.total
    );
    Ok(())
}

/// A device frame at a physical address, mapped uncached.
pub fn check_device_frame(objs: &mut Objects) -> Result<(), Error> {
    let dev = objs
        .pool()
        .allocator()
        .iter()
        .filter(|u| u.untyped.is_device && u.untyped.size_bits >= 16 && u.used == 0)
        .min_by_key(|u| (u.untyped.size_bits, u.untyped.paddr))
        .ok_or(Error::Check("no device untyped of 64 KiB or more"))?;
    // A page in the middle, not at the start: needs carving.
    let paddr = dev.untyped.paddr + (1u64 << (dev.untyped.size_bits - 1)) + 3 * PAGE_SIZE;
    let used0 = objs.pool().usage(MemoryKind::Device).used;
    let f = objs.device_frame(paddr)?;
    let got = frame_paddr(f.cap())?;
    println!(
        "  device untyped {:#x}: 2^{} bytes at {:#x}; frame at {:#x}, kernel says {:#x}",
        dev.id, dev.untyped.size_bits, dev.untyped.paddr, paddr, got
    );
    ensure(got == paddr, "device frame at the asked physical address")?;
    ensure(
        objs.pool().usage(MemoryKind::Device).used == used0 + PAGE_SIZE,
        "device accounting counts one page",
    )?;
    let e = expect_err(objs.device_frame(paddr), "the same device frame twice")?;
    ensure(
        matches!(e, Error::Alloc(AllocError::PhysInUse { .. })),
        "device frame in use",
    )?;
    let next = objs.device_frame(paddr + PAGE_SIZE)?;
    ensure(
        frame_paddr(next.cap())? == paddr + PAGE_SIZE,
        "neighbouring frame",
    )?;
    let v = objs.map(&f, consts::PageBits as u8, RW, Cache::Uncached)?;
    println!("  mapped uncached at {v:#x}");
    objs.unmap(v)?;
    println!("check_device_frame: ok");
    Ok(())
}

/// Mapping, unmapping, fixed addresses, paging structures, large pages.
pub fn check_vspace(objs: &mut Objects) -> Result<(), Error> {
    let f = objs.create::<Granule>()?;
    let a = objs.map(&f, consts::PageBits as u8, RW, Cache::Default)?;
    ensure(
        objs.vspace().tables_created() >= 2,
        "paging structures created for the window",
    )?;
    // A frame capability maps once.
    let e = expect_err(
        objs.map(&f, consts::PageBits as u8, RW, Cache::Default),
        "map a mapped frame",
    )?;
    ensure(
        matches!(e, Error::Kernel(_)),
        "kernel refuses the second mapping",
    )?;
    ensure(
        objs.vspace().window().used_bytes() == PAGE_SIZE,
        "failed map gives its range back",
    )?;
    // Unmap, then map the same frame at a fixed address 3 GiB further up
    // (a new PDPT entry: new page directory and page table).
    objs.unmap(a)?;
    let e = expect_err(objs.unmap(a), "unmap twice")?;
    ensure(
        matches!(e, Error::Alloc(AllocError::VirtNotAllocated { .. })),
        "unmap twice",
    )?;
    let t1 = objs.vspace().tables_created();
    let fixed = WINDOW_START + (3 << 30) + 0x5000;
    objs.map_at(&f, consts::PageBits as u8, fixed, RW, Cache::Default)?;
    ensure(
        objs.vspace().tables_created() >= t1 + 2,
        "directory and table created",
    )?;
    let e = expect_err(
        objs.map_at(&f, consts::PageBits as u8, fixed, RW, Cache::Default),
        "map at a taken address",
    )?;
    ensure(
        matches!(e, Error::Alloc(AllocError::VirtInUse { .. })),
        "address taken",
    )?;
    // Deleting a mapped frame unmaps it and frees its address.
    objs.delete(f)?;
    ensure(
        objs.vspace().mapping(fixed).is_none() && objs.vspace().window().used_bytes() == 0,
        "deleting a mapped frame forgets its mapping",
    )?;
    // A 2 MiB page.
    let big = objs.create_large_page()?;
    let b = objs.map(&big, consts::LargePageBits as u8, RW, Cache::Default)?;
    ensure(b % LARGE_PAGE_SIZE == 0, "large page aligned")?;
    objs.unmap(b)?;
    // The window's last 2 MiB frame is in the user address space (riscv64
    // Sv39: the kernel's user top is 4 KiB below 256 GiB).
    let last = WINDOW_END - LARGE_PAGE_SIZE;
    objs.map_at(&big, consts::LargePageBits as u8, last, RW, Cache::Default)?;
    objs.unmap(last)?;
    objs.delete(big)?;
    // Eight fresh pages in a row.
    let r = objs.map_new_pages(8, RW)?;
    println!(
        "check_vspace: ok (page at {a:#x}, fixed {fixed:#x}, large {b:#x}, 8 pages at {r:#x}, {} paging structures)",
        objs.vspace().tables_created()
    );
    Ok(())
}

/// Grows the heap beyond its static area and uses the new memory.
pub fn check_heap_growth(objs: &mut Objects) -> Result<(), Error> {
    let (used0, free0) = heap::usage();
    // More than the static heap has free: 1.25 times its free bytes.
    let want = free0 + free0 / 4;
    let added = objs.grow_heap(want)?;
    let (used1, free1) = heap::usage();
    ensure(
        added >= want && used1 + free1 == used0 + free0 + added,
        "the heap grew by the frames",
    )?;
    // A block larger than the static heap's free space: it must come from
    // the grown part.
    let n = want / 8;
    let mut v: Vec<u64> = Vec::new();
    v.try_reserve_exact(n)
        .map_err(|_| Error::Check("allocation in the grown heap"))?;
    v.extend((0..n as u64).map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15)));
    let addr = v.as_ptr() as usize;
    ensure(
        (heap::GROWTH_WINDOW_START..heap::GROWTH_WINDOW_START + heap::GROWTH_WINDOW_SIZE)
            .contains(&addr),
        "the large block lies in the growth window",
    )?;
    let ok = v
        .iter()
        .enumerate()
        .all(|(i, &x)| x == (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    ensure(ok, "the grown heap holds what was written")?;
    drop(v);
    println!(
        "check_heap_growth: ok (+{added} bytes; used {used0} -> {used1}, free {free0} -> {free1}; block at {addr:#x})"
    );
    Ok(())
}

/// `Objects` and its parts are one set of allocators: an object made
/// through `Objects` takes a slot of its CSpace and memory of its pool, a
/// thread's stack and IPC buffer come from its VSpace's window, and joining
/// the thread gives all of it back.
pub fn check_one_owner(objs: &mut Objects) -> Result<(), Error> {
    let slots0 = objs.cspace().slots().used();
    let n: Owned<Notification> = objs.create()?;
    ensure(
        objs.cspace().slots().is_allocated(n.cptr()),
        "an object of Objects is in a slot of its CSpace",
    )?;
    ensure(
        objs.pool().owns(n.cptr()),
        "an object of Objects is in its pool's bookkeeping",
    )?;
    // The same slot allocator: a slot taken from the CSpace is not handed
    // out again by Objects.
    let s = objs.alloc_slot()?;
    let n2: Owned<Notification> = objs.create()?;
    ensure(
        n2.cptr() != s.cptr(),
        "Objects and its CSpace share one allocator",
    )?;
    objs.free_slot(s)?;
    objs.delete(n2)?;
    objs.delete(n)?;
    ensure(
        objs.cspace().slots().used() == slots0,
        "deleting through Objects frees the slots",
    )?;
    // Warm-up: paging structures for the window stay once created.
    spawn(objs, || 0u8)
        .map_err(|_| Error::Check("spawn"))?
        .join(objs)
        .map_err(|_| Error::Check("join"))?;
    let slots1 = objs.cspace().slots().used();
    let window1 = objs.vspace().window().used_bytes();
    let reserved1 = objs.vspace().reserve_window().used_bytes();
    let h = spawn(objs, || sel4_rootserver::sys::ipc_buffer_addr() as u64)
        .map_err(|_| Error::Check("spawn"))?;
    let (lo, hi) = objs.vspace().window().window();
    let (rlo, rhi) = objs.vspace().reserve_window().window();
    let stack = h.stack();
    ensure(
        (rlo..rhi).contains(&(stack.start as u64)) && (lo..hi).contains(&(h.ipc_buffer() as u64)),
        "the thread's stack is in the VSpace's reserve window, its IPC buffer in its window",
    )?;
    ensure(
        objs.vspace().window().used_bytes() > window1
            && objs.vspace().reserve_window().used_bytes() > reserved1,
        "a running thread holds part of the windows",
    )?;
    let ipc = h.ipc_buffer() as u64;
    let seen = h.join(objs).map_err(|_| Error::Check("join"))?;
    ensure(seen == ipc, "the thread runs on its IPC buffer")?;
    ensure(
        objs.cspace().slots().used() == slots1
            && objs.vspace().window().used_bytes() == window1
            && objs.vspace().reserve_window().used_bytes() == reserved1,
        "join gives the thread's slots and addresses back",
    )?;
    println!("check_one_owner: ok (stack {stack:x?}, IPC buffer {ipc:#x})");
    Ok(())
}

fn main(bootinfo: &BootInfo) -> Result<(), Error> {
    let mut objs = Objects::try_from_bootinfo(bootinfo)?;
    let ram = objs.pool().usage(MemoryKind::Ram);
    let dev = objs.pool().usage(MemoryKind::Device);
    println!(
        "memory-demo: {} free slots, RAM {} MiB, device {} MiB",
        objs.cspace().slots().available(),
        ram.total >> 20,
        dev.total >> 20
    );
    check_one_owner(&mut objs)?;
    check_slots(&mut objs)?;
    check_cnode_ops(&mut objs)?;
    check_child_cnode(&mut objs)?;
    check_untyped_reclaim(&mut objs)?;
    check_device_frame(&mut objs)?;
    check_vspace(&mut objs)?;
    check_heap_growth(&mut objs)?;
    // Threads still work after all of that, on the same allocators.
    check_one_owner(&mut objs)?;
    let ram = objs.pool().usage(MemoryKind::Ram);
    println!(
        "memory-demo: all checks passed; RAM used {} KiB, {} slots used",
        ram.used >> 10,
        objs.cspace().slots().used()
    );
    Ok(())
}
