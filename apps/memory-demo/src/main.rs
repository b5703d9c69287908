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

use sel4_alloc::{AllocError, MemoryKind};
use sel4_rootserver::cnode::ALL_RIGHTS;
use sel4_rootserver::cspace::{depth, guard_data, CSpace};
use sel4_rootserver::memory::{frame_paddr, UntypedPool};
use sel4_rootserver::objects::Objects;
use sel4_rootserver::sys::{consts, InvocationError, ObjectType};
use sel4_rootserver::thread::spawn;
use sel4_rootserver::untyped::Destination;
use sel4_rootserver::vspace::{Cache, VSpace, LARGE_PAGE_SIZE, PAGE_SIZE, RW, WINDOW_START};
use sel4_rootserver::{
    cap_type, entry, heap, println, BootInfo, Cap, Error, Notification, UntypedExt,
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

/// Slot allocation: alloc, free, reuse, double free, exhaustion.
pub fn check_slots(cs: &mut CSpace) -> Result<(), Error> {
    let before = cs.slots().used();
    let a = cs.alloc_slot()?;
    let b = cs.alloc_slot()?;
    cs.free_slot(a)?;
    ensure(cs.alloc_slot()? == a, "a freed slot is reused")?;
    let e = expect_err(
        cs.free_slot(b).and_then(|()| cs.free_slot(b)),
        "double free",
    )?;
    ensure(
        e == Error::Alloc(AllocError::SlotNotAllocated { slot: b }),
        "double free names the slot",
    )?;
    cs.free_slot(a)?;
    let run = cs.alloc_slots(16)?;
    cs.free_slots(run, 16)?;
    ensure(cs.slots().used() == before, "slot count back to the start")?;
    // A CSpace of two slots, carved out of ours, runs dry.
    let two = cs.alloc_slots(2)?;
    let mut small = CSpace::with_slots(two, two + 2);
    small.alloc_slot()?;
    small.alloc_slot()?;
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
    cs.free_slots(two, 2)?;
    println!("check_slots: ok ({} slots free)", cs.slots().available());
    Ok(())
}

/// Copy, mint, move, mutate, rotate, delete, revoke on notifications.
pub fn check_cnode_ops(cs: &mut CSpace, pool: &mut UntypedPool) -> Result<(), Error> {
    let used0 = cs.slots().used();
    let n: Cap<Notification> = pool.create(cs)?;
    let badged = cs.mint(n, ALL_RIGHTS, 0x5)?;
    ensure(n.poll() == 0, "fresh notification is clear")?;
    badged.signal();
    ensure(
        n.poll() == 0x5,
        "signal through the minted copy carries its badge",
    )?;
    // Move: the badged capability changes slots, the old slot is freed.
    let moved = cs.move_cap(badged)?;
    ensure(
        !cs.slots().is_allocated(badged.cptr()),
        "move frees the source slot",
    )?;
    moved.signal();
    ensure(n.poll() == 0x5, "moved capability still signals")?;
    // Mutate cannot badge a notification: the kernel refuses, and the
    // slot taken for the result goes back.
    let plain = cs.copy(n, ALL_RIGHTS)?;
    let used = cs.slots().used();
    let e = expect_err(cs.mutate(plain, 0x30), "mutate a notification's badge")?;
    ensure(
        e == Error::Kernel(InvocationError::IllegalOperation),
        "mutate of a badge is illegal",
    )?;
    ensure(cs.slots().used() == used, "failed mutate keeps no slot")?;
    let mutated = plain;
    // Rotate: pivot -> new slot, src -> pivot's slot, src's slot freed.
    // Frames (endpoints and notifications cannot be rotated: the kernel
    // would have to re-badge them in place).
    let fa = pool.create::<cap_type::X86Page>(cs)?;
    let fb = pool.create::<cap_type::X86Page>(cs)?;
    let (pa, pb) = (frame_paddr(fa)?, frame_paddr(fb)?);
    let (old_pivot, old_src) = cs.rotate(fa, 0, fb, 0)?;
    pool.moved(fa.cptr(), old_pivot.cptr())?;
    pool.moved(fb.cptr(), old_src.cptr())?;
    ensure(
        old_src.cptr() == fa.cptr(),
        "src moved into the pivot's slot",
    )?;
    ensure(frame_paddr(old_pivot)? == pa, "old pivot in its new slot")?;
    ensure(frame_paddr(old_src)? == pb, "old src in the pivot's slot")?;
    ensure(
        !cs.slots().is_allocated(fb.cptr()),
        "rotate frees src's slot",
    )?;
    let nb = badged_copy(cs, n)?;
    let e = expect_err(cs.rotate(n, 1, nb, 2), "rotate notifications with badges")?;
    ensure(
        e == Error::Kernel(InvocationError::IllegalOperation),
        "rotating notifications is illegal",
    )?;
    pool.destroy(cs, old_src)?;
    // Delete: frees the slot; deleting again is a double free.
    pool.destroy(cs, old_pivot)?;
    let e = expect_err(cs.delete(old_pivot), "delete twice")?;
    ensure(
        matches!(e, Error::Alloc(AllocError::SlotNotAllocated { .. })),
        "double delete",
    )?;
    // Revoke: the copies derived from `n` go away (the kernel refuses to
    // copy from their now empty slots).
    cs.revoke(n)?;
    let e = expect_err(cs.copy(moved, ALL_RIGHTS), "copy from a revoked slot")?;
    ensure(
        matches!(
            e,
            Error::Kernel(InvocationError::FailedLookup { source: true, .. })
        ),
        "revoked slot is empty",
    )?;
    // Their slots are empty now, but still ours: free them.
    for c in [moved, mutated, nb] {
        cs.free_slot(c.cptr())?;
    }
    // Wrong capability type: a frame named as an untyped. (Not a
    // notification: any invocation of a notification is a signal.)
    let page = pool.create::<cap_type::X86Page>(cs)?;
    let fake: Cap<cap_type::Untyped> = page.cast();
    let slot = cs.alloc_slot()?;
    let e = expect_err(
        fake.retype_raw(
            ObjectType::EndpointObject,
            0,
            Destination::root_cnode(),
            slot,
            1,
        ),
        "retype through a frame",
    )?;
    ensure(
        e == Error::Kernel(InvocationError::IllegalOperation),
        "the kernel refuses a retype on a frame",
    )?;
    cs.free_slot(slot)?;
    pool.destroy(cs, page)?;
    pool.destroy(cs, n)?;
    ensure(cs.slots().used() == used0, "all slots back")?;
    println!("check_cnode_ops: ok");
    Ok(())
}

/// A badged copy of `n` (badge 2) in a fresh slot.
fn badged_copy(cs: &mut CSpace, n: Cap<Notification>) -> Result<Cap<Notification>, Error> {
    cs.mint(n, ALL_RIGHTS, 2)
}

/// A CNode from untyped, its slots, and its guard for full-depth use.
pub fn check_child_cnode(cs: &mut CSpace, pool: &mut UntypedPool) -> Result<(), Error> {
    let mut child = cs.create_cnode(pool, 4)?;
    let n: Cap<Notification> = pool.create(cs)?;
    let badged = cs.mint(n, ALL_RIGHTS, 0x9)?;
    let i = child.copy_in(cs, badged, ALL_RIGHTS)?;
    // Retype straight into the child CNode.
    let j = child.alloc_slot()?;
    let ut = pool.create_untyped(cs, 12)?;
    ut.retype_raw(ObjectType::EndpointObject, 0, child.destination(), j, 1)?;
    // The guarded copy resolves slot i at full depth, as a thread whose
    // CSpace root it is would.
    let guarded = child.mint_as_cspace_root(cs)?;
    let k = child.alloc_slot()?;
    guarded.cnode_copy(k, depth(), guarded, i, depth(), ALL_RIGHTS)?;
    // Without the guard the same full-depth lookup fails.
    let e = expect_err(
        child
            .cap()
            .cnode_copy(k + 1, depth(), child.cap(), i, depth(), ALL_RIGHTS)
            .map_err(Error::from),
        "full-depth lookup without a guard",
    )?;
    ensure(
        matches!(e, Error::Kernel(InvocationError::FailedLookup { .. })),
        "guardless lookup",
    )?;
    // Mutate sets the same guard on a plain copy of the child's cap.
    let copy = cs.copy(child.cap(), ALL_RIGHTS)?;
    let mutated = cs.mutate(copy, guard_data(0, depth() - child.radix()))?;
    mutated.cnode_delete(k, depth())?;
    mutated.cnode_copy(k, depth(), mutated, i, depth(), ALL_RIGHTS)?;
    cs.delete(mutated)?;
    let back: Cap<Notification> = child.move_out(cs, k)?;
    back.signal();
    ensure(
        n.poll() == 0x9,
        "the capability copied through the guarded CNode",
    )?;
    child.delete(i)?;
    let e = expect_err(child.delete(i), "delete a child slot twice")?;
    ensure(
        matches!(e, Error::Alloc(AllocError::SlotNotAllocated { .. })),
        "child double delete",
    )?;
    ensure(
        child.slots().used() == 1,
        "only the endpoint is left in the child",
    )?;
    // The endpoint was retyped behind the pool's back: revoke its untyped
    // so the pool's bookkeeping is true again, and free its child slot.
    pool.reclaim(cs, ut)?;
    child.free_slot(j)?;
    ensure(child.slots().used() == 0, "child CNode empty")?;
    let page = pool.create_in::<cap_type::X86Page>(cs, ut)?;
    println!(
        "  page after reclaim at {:#x}, untyped {:?}",
        frame_paddr(page)?,
        pool.allocator().get(ut.cptr())
    );
    ensure(
        pool.allocator().get(ut.cptr()).map(|u| u.untyped.paddr) == Some(frame_paddr(page)?),
        "the untyped's memory is whole again",
    )?;
    pool.reclaim(cs, ut)?;
    pool.destroy(cs, n)?;
    for c in [back.cptr(), badged.cptr(), guarded.cptr()] {
        cs.delete(Cap::<cap_type::Null>::from_cptr(c))?;
    }
    println!("check_child_cnode: ok (radix {})", child.radix());
    Ok(())
}

/// Exhausts a small untyped, revokes it, and retypes it again.
pub fn check_untyped_reclaim(cs: &mut CSpace, pool: &mut UntypedPool) -> Result<(), Error> {
    let ram0 = pool.usage(MemoryKind::Ram);
    let ut = pool.create_untyped(cs, 14)?; // 16 KiB: four pages
    let slots0 = cs.slots().used();
    let mut frames = Vec::new();
    let err = loop {
        match pool.create_in::<cap_type::X86Page>(cs, ut) {
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
    let slot = cs.alloc_slot()?;
    let e = expect_err(
        ut.retype_raw(ObjectType::X86_4K, 0, Destination::root_cnode(), slot, 1),
        "kernel retype from a full untyped",
    )?;
    ensure(
        matches!(
            e,
            Error::Kernel(InvocationError::NotEnoughMemory { available: 0 })
        ),
        "kernel says not enough memory",
    )?;
    cs.free_slot(slot)?;
    // Revoke: the frames are deleted, their slots freed, the memory free.
    let freed = pool.reclaim(cs, ut)?;
    ensure(freed == 4, "four slots freed")?;
    ensure(cs.slots().used() == slots0, "slot count after reclaim")?;
    ensure(
        pool.allocator().get(ut.cptr()).map(|u| u.used) == Some(0),
        "watermark reset",
    )?;
    // And the kernel retypes the same memory again, from its base.
    let page = pool.create_in::<cap_type::X86Page>(cs, ut)?;
    let base = pool.allocator().get(ut.cptr()).map(|u| u.untyped.paddr);
    ensure(
        Some(frame_paddr(page)?) == base,
        "the first page is at the untyped's base again",
    )?;
    pool.reclaim(cs, ut)?;
    // All 16 KiB in one object: only possible if the revoke really gave
    // everything back.
    let whole = cs.alloc_slot()?;
    ut.retype_raw(
        ObjectType::UntypedObject,
        14,
        Destination::root_cnode(),
        whole,
        1,
    )?;
    cs.delete(Cap::<cap_type::Untyped>::from_cptr(whole))?;
    // Too large for any untyped.
    let e = expect_err(
        pool.create_raw(cs, ObjectType::UntypedObject, 40, 40, 1, MemoryKind::Ram),
        "2^40 bytes of RAM",
    )?;
    ensure(
        matches!(
            e,
            Error::Alloc(AllocError::UntypedExhausted { size_bits: 40, .. })
        ),
        "exhaustion names 2^40",
    )?;
    let ram1 = pool.usage(MemoryKind::Ram);
    println!(
        "check_untyped_reclaim: ok (RAM used {} -> {} bytes of {})",
        ram0.used, ram1.used, ram1.total
    );
    Ok(())
}

/// A device frame at a physical address, mapped uncached.
pub fn check_device_frame(
    cs: &mut CSpace,
    pool: &mut UntypedPool,
    vs: &mut VSpace,
) -> Result<(), Error> {
    let dev = pool
        .allocator()
        .iter()
        .filter(|u| u.untyped.is_device && u.untyped.size_bits >= 16 && u.used == 0)
        .map(|u| u.untyped)
        .min_by_key(|u| (u.size_bits, u.paddr))
        .ok_or(Error::Check("no device untyped of 64 KiB or more"))?;
    // A page in the middle, not at the start: needs carving.
    let paddr = dev.paddr + (1u64 << (dev.size_bits - 1)) + 3 * PAGE_SIZE;
    let used0 = pool.usage(MemoryKind::Device).used;
    let f = pool.device_frame(cs, paddr)?;
    let got = frame_paddr(f)?;
    println!(
        "  device untyped {:#x}: 2^{} bytes at {:#x}; frame at {:#x}, kernel says {:#x}",
        dev.id, dev.size_bits, dev.paddr, paddr, got
    );
    ensure(got == paddr, "device frame at the asked physical address")?;
    ensure(
        pool.usage(MemoryKind::Device).used == used0 + PAGE_SIZE,
        "device accounting counts one page",
    )?;
    let e = expect_err(pool.device_frame(cs, paddr), "the same device frame twice")?;
    ensure(
        matches!(e, Error::Alloc(AllocError::PhysInUse { .. })),
        "device frame in use",
    )?;
    let next = pool.device_frame(cs, paddr + PAGE_SIZE)?;
    ensure(
        frame_paddr(next)? == paddr + PAGE_SIZE,
        "neighbouring frame",
    )?;
    let v = vs.map(pool, cs, f, consts::PageBits as u8, RW, Cache::Uncached)?;
    println!("  mapped uncached at {v:#x}");
    vs.unmap(v)?;
    println!("check_device_frame: ok");
    Ok(())
}

/// Mapping, unmapping, fixed addresses, paging structures, large pages.
pub fn check_vspace(cs: &mut CSpace, pool: &mut UntypedPool, vs: &mut VSpace) -> Result<(), Error> {
    let f = pool.create::<cap_type::X86Page>(cs)?;
    let a = vs.map(pool, cs, f, consts::PageBits as u8, RW, Cache::Default)?;
    ensure(
        vs.tables_created() >= 2,
        "paging structures created for the window",
    )?;
    // A frame capability maps once.
    let e = expect_err(
        vs.map(pool, cs, f, consts::PageBits as u8, RW, Cache::Default),
        "map a mapped frame",
    )?;
    ensure(
        matches!(e, Error::Kernel(_)),
        "kernel refuses the second mapping",
    )?;
    ensure(
        vs.window().used_bytes() == PAGE_SIZE,
        "failed map gives its range back",
    )?;
    // Unmap, then map the same frame at a fixed address 3 GiB further up
    // (a new PDPT entry: new page directory and page table).
    vs.unmap(a)?;
    let e = expect_err(vs.unmap(a), "unmap twice")?;
    ensure(
        matches!(e, Error::Alloc(AllocError::VirtNotAllocated { .. })),
        "unmap twice",
    )?;
    let t1 = vs.tables_created();
    let fixed = WINDOW_START + (3 << 30) + 0x5000;
    vs.map_at(
        pool,
        cs,
        f,
        consts::PageBits as u8,
        fixed,
        RW,
        Cache::Default,
    )?;
    ensure(vs.tables_created() >= t1 + 2, "directory and table created")?;
    let e = expect_err(
        vs.map_at(
            pool,
            cs,
            f,
            consts::PageBits as u8,
            fixed,
            RW,
            Cache::Default,
        ),
        "map at a taken address",
    )?;
    ensure(
        matches!(e, Error::Alloc(AllocError::VirtInUse { .. })),
        "address taken",
    )?;
    vs.unmap(fixed)?;
    // A 2 MiB page.
    let big = pool.create_large_page(cs)?;
    let b = vs.map(
        pool,
        cs,
        big,
        consts::LargePageBits as u8,
        RW,
        Cache::Default,
    )?;
    ensure(b % LARGE_PAGE_SIZE == 0, "large page aligned")?;
    vs.unmap(b)?;
    // Eight fresh pages in a row.
    let r = vs.map_new_pages(pool, cs, 8, RW)?;
    println!(
        "check_vspace: ok (page at {a:#x}, fixed {fixed:#x}, large {b:#x}, 8 pages at {r:#x}, {} paging structures)",
        vs.tables_created()
    );
    Ok(())
}

/// Grows the heap beyond its static area and uses the new memory.
pub fn check_heap_growth(
    cs: &mut CSpace,
    pool: &mut UntypedPool,
    vs: &mut VSpace,
) -> Result<(), Error> {
    let (used0, free0) = heap::usage();
    // More than the static heap has free: 1.25 times its free bytes.
    let want = free0 + free0 / 4;
    let added = vs.grow_heap(pool, cs, want)?;
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
    let n: Cap<Notification> = objs.create()?;
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
    let s = objs.cspace_mut().alloc_slot()?;
    let n2: Cap<Notification> = objs.create()?;
    ensure(n2.cptr() != s, "Objects and its CSpace share one allocator")?;
    objs.cspace_mut().free_slot(s)?;
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
    {
        let (cs, pool, _) = objs.parts_mut();
        let ram = pool.usage(MemoryKind::Ram);
        let dev = pool.usage(MemoryKind::Device);
        println!(
            "memory-demo: {} free slots, RAM {} MiB, device {} MiB",
            cs.slots().available(),
            ram.total >> 20,
            dev.total >> 20
        );
    }
    check_one_owner(&mut objs)?;
    let (cs, pool, vs) = objs.parts_mut();
    check_slots(cs)?;
    check_cnode_ops(cs, pool)?;
    check_child_cnode(cs, pool)?;
    check_untyped_reclaim(cs, pool)?;
    check_device_frame(cs, pool, vs)?;
    check_vspace(cs, pool, vs)?;
    check_heap_growth(cs, pool, vs)?;
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
