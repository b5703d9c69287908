use alloc::vec::Vec;

use crate::*;

// ---------------------------------------------------------------- slots

#[test]
fn slots_lowest_first_and_reuse() {
    let mut s = SlotAllocator::new(10, 14);
    assert_eq!(s.capacity(), 4);
    assert_eq!(s.alloc(), Ok(10));
    assert_eq!(s.alloc(), Ok(11));
    assert_eq!(s.alloc(), Ok(12));
    assert_eq!(s.used(), 3);
    assert_eq!(s.free(11), Ok(()));
    assert_eq!(s.alloc(), Ok(11), "a freed slot is reused first");
    assert_eq!(s.alloc(), Ok(13));
    assert_eq!(s.available(), 0);
}

#[test]
fn slots_exhaustion_names_the_request() {
    let mut s = SlotAllocator::new(0, 2);
    s.alloc().unwrap();
    s.alloc().unwrap();
    assert_eq!(
        s.alloc(),
        Err(AllocError::SlotsExhausted {
            requested: 1,
            available: 0
        })
    );
    let mut e = SlotAllocator::new(5, 5);
    assert_eq!(e.capacity(), 0);
    assert!(e.alloc().is_err());
    let backwards = SlotAllocator::new(9, 3);
    assert_eq!(backwards.capacity(), 0);
}

#[test]
fn slots_double_free_and_out_of_range() {
    let mut s = SlotAllocator::new(100, 200);
    let a = s.alloc().unwrap();
    assert_eq!(s.free(a), Ok(()));
    assert_eq!(s.free(a), Err(AllocError::SlotNotAllocated { slot: a }));
    assert_eq!(s.used(), 0, "a double free changes no count");
    assert_eq!(
        s.free(99),
        Err(AllocError::SlotOutOfRange {
            slot: 99,
            start: 100,
            end: 200
        })
    );
    assert!(matches!(
        s.free(200),
        Err(AllocError::SlotOutOfRange { .. })
    ));
    assert_eq!(s.free(150), Err(AllocError::SlotNotAllocated { slot: 150 }));
}

#[test]
fn slots_refused_frees_without_a_spare_slot() {
    // No spare slot (the allocation since the last free took it): the
    // in-line path of `free` refuses what the general one refuses.
    let mut s = SlotAllocator::new(100, 200);
    let a = s.alloc().unwrap();
    s.free(a).unwrap();
    assert_eq!(s.alloc(), Ok(a));
    for (slot, e) in [
        (150, AllocError::SlotNotAllocated { slot: 150 }),
        (
            99,
            AllocError::SlotOutOfRange {
                slot: 99,
                start: 100,
                end: 200,
            },
        ),
        (
            200,
            AllocError::SlotOutOfRange {
                slot: 200,
                start: 100,
                end: 200,
            },
        ),
        (
            u64::MAX,
            AllocError::SlotOutOfRange {
                slot: u64::MAX,
                start: 100,
                end: 200,
            },
        ),
    ] {
        assert_eq!(s.free(slot), Err(e));
    }
    assert_eq!(s.used(), 1, "a refused free changes no count");
    assert!(s.is_allocated(a));
    // A slot past the end of a range that ends inside a bitmap word.
    let mut s = SlotAllocator::new(0, 70);
    assert_eq!(s.alloc(), Ok(0));
    assert!(matches!(s.free(70), Err(AllocError::SlotOutOfRange { .. })));
    assert_eq!(s.free(0), Ok(()));
    assert_eq!(s.free(0), Err(AllocError::SlotNotAllocated { slot: 0 }));
}

#[test]
fn slots_range_contiguous_across_words() {
    let mut s = SlotAllocator::new(0, 300);
    // Fill 0..70 except a hole at 5 (too small for 4).
    for _ in 0..70 {
        s.alloc().unwrap();
    }
    s.free(5).unwrap();
    let r = s.alloc_range(4).unwrap();
    assert_eq!(r, 70);
    for k in 70..74 {
        assert!(s.is_allocated(k));
    }
    assert_eq!(s.used(), 69 + 4);
    // A run that crosses a 64-bit word boundary and skips full words.
    let r2 = s.alloc_range(100).unwrap();
    assert_eq!(r2, 74);
    assert_eq!(s.alloc(), Ok(5), "the hole is still there for one slot");
    // Not enough contiguous slots although enough in total.
    let mut t = SlotAllocator::new(0, 10);
    for _ in 0..10 {
        t.alloc().unwrap();
    }
    for k in [1, 3, 5, 7, 9] {
        t.free(k).unwrap();
    }
    assert_eq!(t.available(), 5);
    assert_eq!(
        t.alloc_range(2),
        Err(AllocError::SlotsExhausted {
            requested: 2,
            available: 5
        })
    );
    assert!(t.alloc_range(0).is_err());
    assert!(t.alloc_range(6).is_err());
    assert_eq!(t.alloc_range(1), Ok(1));
}

#[test]
fn slots_free_range_is_all_or_nothing() {
    let mut s = SlotAllocator::new(0, 64);
    let r = s.alloc_range(8).unwrap();
    s.free(r + 3).unwrap();
    assert_eq!(
        s.free_range(r, 8),
        Err(AllocError::SlotNotAllocated { slot: r + 3 })
    );
    assert_eq!(s.used(), 7, "nothing freed by the failed free_range");
    s.claim(r + 3).unwrap();
    assert_eq!(s.claim(r + 3), Err(AllocError::SlotInUse { slot: r + 3 }));
    assert_eq!(s.free_range(r, 8), Ok(()));
    assert_eq!(s.used(), 0);
    assert!(matches!(
        s.free_range(60, 8),
        Err(AllocError::SlotNotAllocated { slot: 60 })
    ));
    s.alloc_range(64).unwrap();
    assert!(matches!(
        s.free_range(60, 8),
        Err(AllocError::SlotOutOfRange { slot: 64, .. })
    ));
}

#[test]
fn slots_large_range_like_sel4_16() {
    let mut s = SlotAllocator::new(0x8b, 0x80000);
    let a = s.alloc_range(256).unwrap();
    assert_eq!(a, 0x8b);
    let mut n = 256;
    while s.alloc().is_ok() {
        n += 1;
    }
    assert_eq!(n, 0x80000 - 0x8b);
    s.free_range(a, 256).unwrap();
    assert_eq!(s.alloc_range(256), Ok(a));
}

// -------------------------------------------------------------- untyped

fn ut(paddr: u64, size_bits: u8, is_device: bool) -> UntypedDesc {
    UntypedDesc {
        paddr,
        size_bits,
        is_device,
    }
}

#[test]
fn untyped_follows_kernel_alignment_rule() {
    let mut a = UntypedAllocator::new();
    a.add(1, ut(0x10_0000, 16, false)).unwrap(); // 64 KiB
                                                 // An endpoint-sized object (16 bytes) then a page: the page is aligned
                                                 // up to 4 KiB, wasting the rest of the first page.
    let ep = a.alloc(4, MemoryKind::Ram).unwrap();
    assert_eq!((ep.untyped, ep.paddr, ep.offset), (1, 0x10_0000, 0));
    let pg = a.alloc(12, MemoryKind::Ram).unwrap();
    assert_eq!(pg.offset, 0x1000);
    assert_eq!(pg.paddr, 0x10_1000);
    assert_eq!(pg.consumed(), 0x2000 - 0x10);
    let u = a.get(1).unwrap();
    assert_eq!((u.used, u.free), (0x2000, 0xe000));
    // Three TCB-sized (2 KiB) objects in one retype: contiguous.
    let tcbs = a.alloc_many(11, 3, MemoryKind::Ram).unwrap();
    assert_eq!(tcbs.offset, 0x2000);
    assert_eq!(tcbs.object_paddr(2), 0x10_2000 + 2 * 0x800);
    // Then a 16 KiB object: aligned to 16 KiB.
    let big = a.alloc(14, MemoryKind::Ram).unwrap();
    assert_eq!(big.offset, 0x4000);
}

#[test]
fn untyped_exhaustion_names_the_size() {
    let mut a = UntypedAllocator::new();
    a.add(1, ut(0x0, 12, false)).unwrap();
    a.add(2, ut(0x100_0000, 20, true)).unwrap();
    assert_eq!(
        a.alloc(13, MemoryKind::Ram),
        Err(AllocError::UntypedExhausted {
            size_bits: 13,
            count: 1,
            device: false
        })
    );
    // Device memory is not used for RAM requests, nor the reverse.
    let d = a.alloc(12, MemoryKind::Device).unwrap();
    assert_eq!(d.untyped, 2);
    let r = a.alloc(12, MemoryKind::Ram).unwrap();
    assert_eq!(r.untyped, 1);
    let err = a.alloc(4, MemoryKind::Ram).unwrap_err();
    assert_eq!(
        err,
        AllocError::UntypedExhausted {
            size_bits: 4,
            count: 1,
            device: false
        }
    );
    assert_eq!(
        alloc::format!("{err}"),
        "no RAM untyped memory for 1 object(s) of 2^4 bytes"
    );
    assert_eq!(
        a.alloc_from(1, 4, 1),
        Err(AllocError::UntypedFull {
            id: 1,
            size_bits: 4,
            count: 1,
            free: 0
        })
    );
    assert!(matches!(
        a.alloc_many(12, 0, MemoryKind::Ram),
        Err(AllocError::BadObjectSize { .. })
    ));
    assert!(matches!(
        a.alloc(64, MemoryKind::Ram),
        Err(AllocError::BadObjectSize { .. })
    ));
    assert!(matches!(
        a.alloc_many(62, 4, MemoryKind::Ram),
        Err(AllocError::BadObjectSize { .. })
    ));
    assert_eq!(
        a.alloc_from(7, 4, 1),
        Err(AllocError::UnknownUntyped { id: 7 })
    );
}

#[test]
fn untyped_best_fit_and_many_in_one() {
    let mut a = UntypedAllocator::new();
    a.add(1, ut(0x0, 20, false)).unwrap();
    a.add(2, ut(0x20_0000, 14, false)).unwrap();
    a.add(3, ut(0x30_0000, 12, false)).unwrap();
    // A page goes to the smallest untyped it fits.
    assert_eq!(a.alloc(12, MemoryKind::Ram).unwrap().untyped, 3);
    assert_eq!(a.alloc(12, MemoryKind::Ram).unwrap().untyped, 2);
    // Four pages do not fit in 2 any more (three left): they go to 1.
    let p = a.alloc_many(12, 4, MemoryKind::Ram).unwrap();
    assert_eq!((p.untyped, p.count), (1, 4));
    assert_eq!(a.alloc_many(12, 3, MemoryKind::Ram).unwrap().untyped, 2);
}

#[test]
fn untyped_ties_go_to_the_lowest_id_whatever_the_order_added() {
    let mut a = UntypedAllocator::new();
    // Same size, added in decreasing id order (carved children, or an
    // untyped given back by the caller, can arrive in any order).
    a.add(0x30, ut(0x1_0000, 12, false)).unwrap();
    a.add(0x10, ut(0x2_0000, 12, false)).unwrap();
    a.add(0x20, ut(0x3_0000, 12, false)).unwrap();
    assert_eq!(a.alloc(4, MemoryKind::Ram).unwrap().untyped, 0x10);
    // 0x10 would pad 16 bytes to align 32: the unpadded ones win, the
    // lowest id first.
    assert_eq!(a.alloc(5, MemoryKind::Ram).unwrap().untyped, 0x20);
    // 64 bytes: 0x10 pads 48, 0x20 32, 0x30 (still empty) none.
    assert_eq!(a.alloc(6, MemoryKind::Ram).unwrap().untyped, 0x30);
    // 128 bytes: 0x10 pads 112, 0x20 96, 0x30 (watermark 64) 64: every
    // one pads, the least padding wins over the lower ids.
    assert_eq!(a.alloc(7, MemoryKind::Ram).unwrap().untyped, 0x30);
    // 256 and 512 bytes: 0x30 (watermarks 256 and 512) pads nothing.
    assert_eq!(a.alloc(8, MemoryKind::Ram).unwrap().untyped, 0x30);
    assert_eq!(a.alloc(9, MemoryKind::Ram).unwrap().untyped, 0x30);
    // Watermark of 0x30 to 2064.
    assert_eq!(a.alloc_from(0x30, 10, 1).unwrap().offset, 1024);
    assert_eq!(a.alloc_from(0x30, 4, 1).unwrap().offset, 2048);
    // 1 KiB: 0x10 pads 1008, 0x20 992, 0x30 1008.
    assert_eq!(a.alloc(10, MemoryKind::Ram).unwrap().untyped, 0x20);
}

#[test]
fn untyped_bad_and_duplicate() {
    let mut a = UntypedAllocator::new();
    assert!(matches!(
        a.add(1, ut(0x1008, 13, false)),
        Err(AllocError::BadUntyped { .. })
    ));
    assert!(matches!(
        a.add(1, ut(0, 3, false)),
        Err(AllocError::BadUntyped { .. })
    ));
    a.add(1, ut(0x2000, 13, false)).unwrap();
    assert_eq!(
        a.add(1, ut(0x4000, 12, false)),
        Err(AllocError::DuplicateUntyped { id: 1 })
    );
    assert_eq!(a.len(), 1);
}

#[test]
fn untyped_rollback() {
    let mut a = UntypedAllocator::new();
    a.add(1, ut(0, 16, false)).unwrap();
    let p1 = a.alloc(12, MemoryKind::Ram).unwrap();
    let p2 = a.alloc(12, MemoryKind::Ram).unwrap();
    assert_eq!(
        a.rollback(&p1),
        Err(AllocError::StalePlacement { id: 1 }),
        "only the latest placement can be undone"
    );
    a.rollback(&p2).unwrap();
    assert_eq!(a.rollback(&p2), Err(AllocError::StalePlacement { id: 1 }));
    assert_eq!(a.get(1).unwrap().used, 0x1000);
    // Undoing restores the state: the same placement comes again.
    assert_eq!(a.alloc(12, MemoryKind::Ram).unwrap(), p2);
}

#[test]
fn untyped_carve_children_and_reclaim() {
    let mut a = UntypedAllocator::new();
    a.add(1, ut(0x40_0000, 22, false)).unwrap(); // 4 MiB
    let total = a.total_bytes(MemoryKind::Ram);
    assert_eq!(total, 4 << 20);
    // Carve four 1 MiB untypeds into slots 100..104.
    let p = a.alloc_from(1, 20, 4).unwrap();
    a.add_children(&p, 100).unwrap();
    assert_eq!(a.len(), 5);
    assert_eq!(a.get(102).unwrap().untyped.paddr, 0x60_0000);
    assert_eq!(a.get(102).unwrap().parent, Some(1));
    assert_eq!(a.free_bytes(MemoryKind::Ram), total, "children are free");
    assert_eq!(
        a.add_children(&p, 103),
        Err(AllocError::DuplicateUntyped { id: 103 })
    );
    // The parent is full, its children take allocations.
    let q = a.alloc(12, MemoryKind::Ram).unwrap();
    assert_eq!(q.untyped, 100);
    // A grandchild.
    let g = a.alloc_from(103, 16, 2).unwrap();
    a.add_children(&g, 200).unwrap();
    assert_eq!(a.get(201).unwrap().untyped.paddr, 0x70_0000 + 0x1_0000);
    // Carving moves memory into children, it does not use it.
    assert_eq!(a.used_bytes(MemoryKind::Ram), 0x1000);
    assert_eq!(a.get(103).unwrap().used, 0x2_0000);
    // Rolling back a placement that has children is refused.
    assert_eq!(a.rollback(&g), Err(AllocError::StalePlacement { id: 103 }));
    // Children of an object too small to be an untyped are refused.
    let tiny = a.alloc_from(101, 3, 1);
    assert!(tiny.is_ok());
    assert!(matches!(
        a.add_children(&tiny.unwrap(), 300),
        Err(AllocError::NotUntypedPlacement { .. })
    ));
    // Reclaim (after a revoke) forgets every descendant.
    let mut removed = a.reclaim(1).unwrap();
    removed.sort();
    assert_eq!(removed, [100, 101, 102, 103, 200, 201]);
    assert_eq!(a.len(), 1);
    assert_eq!(a.free_bytes(MemoryKind::Ram), total);
    assert_eq!(a.used_bytes(MemoryKind::Ram), 0);
    // And the memory can be handed out again from offset 0.
    assert_eq!(a.alloc(22, MemoryKind::Ram).unwrap().offset, 0);
    assert_eq!(a.reclaim(55), Err(AllocError::UnknownUntyped { id: 55 }));
}

#[test]
fn untyped_resets_when_last_object_is_freed() {
    let mut a = UntypedAllocator::new();
    a.add(1, ut(0x10000, 16, false)).unwrap();
    let p = a.alloc_many(12, 3, MemoryKind::Ram).unwrap();
    assert_eq!(p.offset, 0);
    a.free_objects(1, 2).unwrap();
    assert_eq!(
        a.alloc(12, MemoryKind::Ram).unwrap().offset,
        0x3000,
        "one left: no reset"
    );
    a.free_objects(1, 2).unwrap();
    assert_eq!(a.get(1).unwrap().used, 0, "none left: the kernel resets");
    assert_eq!(a.alloc(12, MemoryKind::Ram).unwrap().offset, 0);
    assert_eq!(
        a.free_objects(1, 2),
        Err(AllocError::StalePlacement { id: 1 })
    );
    // A carved child counts as an object of its parent.
    let c = a.alloc_from(1, 13, 1).unwrap();
    a.add_children(&c, 50).unwrap();
    a.free_objects(1, 1).unwrap(); // the page
    assert_ne!(
        a.get(1).unwrap().used,
        0,
        "the child untyped is still there"
    );
    let g = a.alloc_from(50, 12, 1).unwrap();
    assert_eq!(g.paddr, 0x12000);
    assert_eq!(a.remove(50), Err(AllocError::StalePlacement { id: 50 }));
    a.free_objects(50, 1).unwrap();
    a.remove(50).unwrap();
    assert_eq!(a.get(1).unwrap().used, 0);
    assert_eq!(a.len(), 1);
    assert_eq!(a.remove(50), Err(AllocError::UnknownUntyped { id: 50 }));
}

#[test]
fn untyped_exhaust_reclaim_reuse() {
    let mut a = UntypedAllocator::new();
    a.add(9, ut(0, 14, false)).unwrap();
    let mut n = 0;
    while a.alloc(12, MemoryKind::Ram).is_ok() {
        n += 1;
    }
    assert_eq!(n, 4);
    assert_eq!(a.largest_free(MemoryKind::Ram), None);
    assert!(a.reclaim(9).unwrap().is_empty());
    assert_eq!(a.largest_free(MemoryKind::Ram), Some(14));
    assert_eq!(a.alloc_many(12, 4, MemoryKind::Ram).unwrap().offset, 0);
}

/// Runs carve steps the way a root task does (the "kernel" is the
/// allocator's own placement), handing out child ids from `next_id`.
fn carve(a: &mut UntypedAllocator, paddr: u64, bits: u8, next_id: &mut u64) -> (u64, usize) {
    let mut steps = 0;
    loop {
        match a.carve_step(paddr, bits).unwrap() {
            CarveStep::Ready { untyped } => return (untyped, steps),
            CarveStep::Split { placement } => {
                steps += 1;
                assert!(placement.count <= 2, "{placement:?}");
                // The last child contains the address.
                let last = placement.object_paddr(placement.count - 1);
                assert!(paddr >= last && paddr - last < 1 << placement.size_bits);
                a.add_children(&placement, *next_id).unwrap();
                *next_id += placement.count as u64;
            }
        }
    }
}

#[test]
fn device_frame_at_physical_address() {
    let mut a = UntypedAllocator::new();
    // A 1 MiB device untyped at 0xfeb0_0000 (like a PCI BAR window).
    a.add(50, ut(0xfeb0_0000, 20, true)).unwrap();
    a.add(51, ut(0x100_0000, 24, false)).unwrap();
    let mut next = 1000;
    let target = 0xfebd_5000;
    let (id, steps) = carve(&mut a, target, 12, &mut next);
    assert_eq!(steps, 8, "one split per level from 2^20 down to 2^12");
    let leaf = a.get(id).unwrap();
    assert_eq!(leaf.untyped.paddr, target);
    assert_eq!(leaf.untyped.size_bits, 12);
    assert!(leaf.untyped.is_device);
    assert_eq!(a.untyped_at(target).unwrap().id, id);
    let f = a.alloc_from(id, 12, 1).unwrap();
    assert_eq!(f.paddr, target);
    // The same frame again: in use.
    assert_eq!(
        a.carve_step(target, 12),
        Err(AllocError::PhysInUse { paddr: target, id })
    );
    // A neighbouring frame reuses the padding pieces: fewer steps.
    let (id2, steps2) = carve(&mut a, target + 0x1000, 12, &mut next);
    assert!(steps2 <= 2, "{steps2}");
    assert_eq!(a.get(id2).unwrap().untyped.paddr, target + 0x1000);
    a.alloc_from(id2, 12, 1).unwrap();
    // A frame below an already-used area of the same untyped works when
    // the area is a separate child: the first page of the window.
    let (id3, _) = carve(&mut a, 0xfeb0_0000, 12, &mut next);
    assert_eq!(a.get(id3).unwrap().untyped.paddr, 0xfeb0_0000);
    a.alloc_from(id3, 12, 1).unwrap();
    // A 2 MiB frame in a 1 MiB untyped cannot be had.
    assert!(matches!(
        a.carve_step(0xfeb0_0000, 21),
        Err(AllocError::MisalignedPhys { .. })
    ));
    assert!(matches!(
        a.carve_step(0xfe00_0000, 12),
        Err(AllocError::NoUntypedAt { paddr: 0xfe00_0000 })
    ));
    assert!(matches!(
        a.carve_step(target + 1, 12),
        Err(AllocError::MisalignedPhys { .. })
    ));
    // Device accounting: three pages used.
    assert_eq!(a.used_bytes(MemoryKind::Device), 3 * 0x1000);
    assert_eq!(a.free_bytes(MemoryKind::Device), (1 << 20) - 3 * 0x1000);
    // Reclaiming the window gives it all back.
    a.reclaim(50).unwrap();
    assert_eq!(a.used_bytes(MemoryKind::Device), 0);
}

#[test]
fn device_frame_after_partial_use() {
    let mut a = UntypedAllocator::new();
    a.add(1, ut(0, 16, true)).unwrap(); // 64 KiB
                                        // Someone took 0x3000 bytes from the start (watermark 0x3000).
    a.alloc_from(1, 12, 3).unwrap();
    assert!(matches!(
        a.carve_step(0x2000, 12),
        Err(AllocError::PhysInUse {
            paddr: 0x2000,
            id: 1
        })
    ));
    // 0x3000 is exactly the next free page: one frame-sized child.
    let mut next = 10;
    let (id, _) = carve(&mut a, 0x3000, 12, &mut next);
    assert_eq!(a.get(id).unwrap().untyped.paddr, 0x3000);
    // 0xd000: padding pieces bring the watermark up to it.
    let (id2, _) = carve(&mut a, 0xd000, 12, &mut next);
    assert_eq!(a.get(id2).unwrap().untyped.paddr, 0xd000);
    // The padding is free and usable as device memory.
    assert!(a.free_bytes(MemoryKind::Device) >= 0x8000);
    // Large frame (2 MiB) from a 4 MiB device untyped.
    let mut b = UntypedAllocator::new();
    b.add(7, ut(0x4000_0000, 22, true)).unwrap();
    let (lid, steps) = carve(&mut b, 0x4020_0000, 21, &mut next);
    assert_eq!(steps, 1);
    assert_eq!(b.get(lid).unwrap().untyped.size_bits, 21);
}

#[test]
fn carve_step_rollback() {
    let mut a = UntypedAllocator::new();
    a.add(1, ut(0, 14, true)).unwrap();
    let step = a.carve_step(0x3000, 12).unwrap();
    let CarveStep::Split { placement } = step else {
        panic!("expected a split, got {step:?}")
    };
    assert_eq!(a.get(1).unwrap().used, 0x4000);
    a.rollback(&placement).unwrap();
    assert_eq!(a.get(1).unwrap().used, 0);
    assert_eq!(a.carve_step(0x3000, 12).unwrap(), step);
}

#[test]
fn untyped_not_aligned_to_its_size() {
    // Like seL4 16's device untyped of 2^46 bytes at 2^39.
    let mut a = UntypedAllocator::new();
    a.add(1, ut(1 << 39, 46, true)).unwrap();
    a.add(2, ut(0x3000, 14, false)).unwrap(); // 16 KiB at 12 KiB
                                              // Objects are aligned by address: a 16 KiB object in untyped 2 would
                                              // start at 0x4000 and end past the untyped.
    assert!(a.alloc_from(2, 14, 1).is_err());
    let p = a.alloc_from(2, 13, 1).unwrap();
    assert_eq!(p.paddr, 0x4000);
    assert_eq!(p.offset, 0x1000);
    let q = a.alloc_from(2, 12, 1).unwrap();
    assert_eq!(q.paddr, 0x6000);
    // A 2^40-byte object in the huge one is aligned to 2^40.
    let big = a.alloc_from(1, 40, 1).unwrap();
    assert_eq!(big.paddr, 1 << 40);
    // Carving to a frame far up.
    let mut next = 100;
    let target = (1u64 << 45) + 0x7000;
    let (id, steps) = carve(&mut a, target, 12, &mut next);
    assert_eq!(a.get(id).unwrap().untyped.paddr, target);
    assert!(steps <= 46 - 12, "{steps}");
}

// -------------------------------------------------------- virtual ranges

#[test]
fn vregion_alloc_align_free_merge() {
    let mut v = VirtualRegionAllocator::new(0x1000_0000, 0x1010_0000);
    let a = v.alloc(0x1000, 0x1000).unwrap();
    assert_eq!(a, 0x1000_0000);
    // A 2 MiB-aligned request does not fit in a 1 MiB window.
    assert_eq!(
        v.alloc(0x1000, 0x20_0000),
        Err(AllocError::VirtExhausted {
            size: 0x1000,
            align: 0x20_0000
        })
    );
    let b = v.alloc(0x3000, 0x4000).unwrap();
    assert_eq!(b, 0x1000_4000, "aligned up, leaving a hole");
    let c = v.alloc(0x2000, 0x1000).unwrap();
    assert_eq!(c, 0x1000_1000, "first fit uses the hole");
    assert_eq!(v.used_bytes(), 0x6000);
    assert_eq!(v.size_of(b), Some(0x3000));
    assert_eq!(v.free(c), Ok(0x2000));
    assert_eq!(v.free(c), Err(AllocError::VirtNotAllocated { addr: c }));
    assert_eq!(
        v.free(b + 0x1000),
        Err(AllocError::VirtNotAllocated { addr: b + 0x1000 })
    );
    v.free(a).unwrap();
    v.free(b).unwrap();
    assert_eq!(v.free_ranges(), 1, "all merged back");
    assert_eq!(v.free_bytes(), 0x10_0000);
    assert_eq!(v.used_bytes(), 0);
}

#[test]
fn vregion_fixed_and_misuse() {
    let mut v = VirtualRegionAllocator::new(0x10000, 0x20000);
    v.alloc_at(0x15000, 0x2000).unwrap();
    assert_eq!(
        v.alloc_at(0x16000, 0x1000),
        Err(AllocError::VirtInUse {
            addr: 0x16000,
            size: 0x1000
        })
    );
    assert!(matches!(
        v.alloc_at(0x1f000, 0x2000),
        Err(AllocError::VirtInUse { .. })
    ));
    assert!(matches!(
        v.alloc_at(0x8000, 0x1000),
        Err(AllocError::VirtInUse { .. })
    ));
    assert!(matches!(
        v.alloc(0, 1),
        Err(AllocError::VirtBadRequest { .. })
    ));
    assert!(matches!(
        v.alloc(1, 3),
        Err(AllocError::VirtBadRequest { .. })
    ));
    assert!(matches!(
        v.alloc_at(u64::MAX - 1, 4),
        Err(AllocError::VirtBadRequest { .. })
    ));
    // Fill the rest, then exhaust.
    assert_eq!(v.alloc(0x5000, 0x1000), Ok(0x10000));
    assert_eq!(v.alloc(0x9000, 0x1000), Ok(0x17000));
    assert!(matches!(
        v.alloc(0x1000, 1),
        Err(AllocError::VirtExhausted { .. })
    ));
    // Free the middle one, then its neighbours: one range again.
    v.free(0x15000).unwrap();
    assert_eq!(v.free_ranges(), 1);
    v.free(0x10000).unwrap();
    v.free(0x17000).unwrap();
    assert_eq!(v.free_ranges(), 1);
    assert_eq!(v.alloc(0x10000, 0x10000), Ok(0x10000));
    let empty = VirtualRegionAllocator::new(5, 5);
    assert_eq!(empty.free_ranges(), 0);
    let _: Vec<u64> = Vec::new();
}

// ---------------------------------------------------------------- idmap

#[test]
fn idmap_ids_next_to_the_last_id_do_not_overflow() {
    // Regression: the table grew past u64::MAX (its end overflowed on
    // the next insert, a panic in debug builds).
    let mut m: IdMap<u64> = IdMap::new();
    assert_eq!(m.insert(u64::MAX - 3, 1), None);
    assert_eq!(m.insert(u64::MAX - 1, 2), None);
    assert_eq!(m.insert(u64::MAX, 3), None);
    assert_eq!(m.insert(u64::MAX - 10, 4), None);
    assert_eq!(m.get(u64::MAX), Some(3));
    assert_eq!(m.get(u64::MAX - 10), Some(4));
    assert_eq!(m.get(5), None);
    assert_eq!(m.len(), 4);
}

#[test]
fn idmap_table_never_covers_the_last_id() {
    // Ids next to u64::MAX: the table stops short of it (callers use it as
    // "no id" and test for it only outside the table), the id itself lives
    // in the ordered map, and a lookup below the table's base misses.
    let mut m: IdMap<u64> = IdMap::new();
    assert_eq!(m.insert(u64::MAX - 3, 1), None);
    assert_eq!(m.insert(u64::MAX - 1, 2), None);
    assert!(m.covers(u64::MAX - 1));
    assert!(!m.covers(u64::MAX));
    assert_eq!(m.insert(u64::MAX, 3), None);
    assert!(!m.covers(u64::MAX));
    assert!(!m.covers(0) && !m.covers(u64::MAX - 4));
    assert_eq!(m.get(u64::MAX), Some(3));
    assert_eq!(m.get(u64::MAX - 3), Some(1));
    assert_eq!(m.get(5), None);
    assert_eq!(m.len(), 3);
    assert_eq!(m.remove(u64::MAX), Some(3));
    assert_eq!(
        m.iter().collect::<Vec<_>>(),
        [(u64::MAX - 3, 1), (u64::MAX - 1, 2)]
    );
    // A table whose first id is u64::MAX: none.
    let mut m: IdMap<u64> = IdMap::new();
    assert_eq!(m.insert(u64::MAX, 7), None);
    assert!(!m.covers(u64::MAX));
    assert_eq!(m.get(u64::MAX), Some(7));
}

#[test]
fn idmap_dense_window_grows_both_ways() {
    let mut m: IdMap<u64> = IdMap::new();
    assert!(m.is_empty());
    assert_eq!(m.insert(1000, 1), None);
    assert_eq!(m.insert(1005, 2), None);
    // Below the first id: the window moves down.
    assert_eq!(m.insert(990, 3), None);
    assert_eq!(
        m.insert(1005, 4),
        Some(2),
        "replacing returns the old value"
    );
    assert_eq!(m.len(), 3);
    assert_eq!(
        (m.get(1000), m.get(1005), m.get(990)),
        (Some(1), Some(4), Some(3))
    );
    assert_eq!(
        (m.get(989), m.get(1001), m.get(0), m.get(u64::MAX)),
        (None, None, None, None)
    );
    assert_eq!(m.remove(1000), Some(1));
    assert_eq!(m.remove(1000), None, "a second remove finds nothing");
    assert!(!m.contains(1000));
    assert_eq!(m.len(), 2);
    assert_eq!(m.iter().collect::<Vec<_>>(), [(990, 3), (1005, 4)]);
}

#[test]
fn idmap_far_ids_use_the_ordered_map() {
    let mut m: IdMap<u32> = IdMap::new();
    m.insert(1 << 20, 1);
    // Too far above and below the window for the table.
    m.insert((1 << 20) + DENSE_SPAN, 2);
    m.insert(5, 3);
    m.insert(u64::MAX, 4);
    // Inside the window.
    m.insert((1 << 20) + DENSE_SPAN - 1, 5);
    assert_eq!(m.len(), 5);
    assert_eq!(m.get((1 << 20) + DENSE_SPAN), Some(2));
    assert_eq!(m.get(5), Some(3));
    assert_eq!(m.get(u64::MAX), Some(4));
    assert_eq!(m.get((1 << 20) + DENSE_SPAN - 1), Some(5));
    assert_eq!(
        m.iter().map(|(k, _)| k).collect::<Vec<_>>(),
        [
            5,
            1 << 20,
            (1 << 20) + DENSE_SPAN - 1,
            (1 << 20) + DENSE_SPAN,
            u64::MAX
        ],
        "iteration is in id order across table and map"
    );
    assert_eq!(m.remove(5), Some(3));
    assert_eq!(m.remove(u64::MAX), Some(4));
    m.retain(|k, _| k != 1 << 20);
    assert_eq!(m.len(), 2);
    assert_eq!(m.get(1 << 20), None);
    m.retain(|_, v| v != 2);
    assert_eq!(
        m.iter().collect::<Vec<_>>(),
        [((1 << 20) + DENSE_SPAN - 1, 5)]
    );
    assert_eq!(m.len(), 1);
}

// ------------------------------------------- untyped: indexes and policy

/// A deterministic pseudo-random sequence (xorshift).
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The allocation policy, computed the slow way over every untyped: the
/// smallest untyped of the kind the objects fit in, then the least
/// alignment waste, then the lowest id.
fn expected_choice(a: &UntypedAllocator, size_bits: u8, count: usize, device: bool) -> Option<u64> {
    a.iter()
        .filter(|u| u.untyped.is_device == device && size_bits <= u.untyped.size_bits)
        .filter_map(|u| {
            let obj = 1u64 << size_bits;
            let start = (u.untyped.paddr + u.used).div_ceil(obj) * obj - u.untyped.paddr;
            let end = start + obj * count as u64;
            (end <= u.untyped.size_bytes()).then_some((u.untyped.size_bits, start - u.used, u.id))
        })
        .min()
        .map(|(_, _, id)| id)
}

/// Checks the id index against `iter()` (every untyped found by its id).
fn check_index(a: &UntypedAllocator) {
    let all: Vec<UntypedUsage> = a.iter().collect();
    assert_eq!(all.len(), a.len());
    for u in &all {
        assert_eq!(a.get(u.id), Some(*u));
    }
}

#[test]
fn untyped_policy_matches_a_full_scan() {
    let mut a = UntypedAllocator::new();
    // Like seL4 5.0.0's bootinfo: a few RAM untypeds of many sizes, and a
    // hundred device untypeds.
    let mut id = 0x20;
    let mut paddr = 0u64;
    for bits in [12u8, 12, 13, 14, 16, 16, 18, 20, 21, 22, 24, 25, 26, 27] {
        paddr = paddr.next_multiple_of(1 << bits);
        a.add(id, ut(paddr, bits, false)).unwrap();
        paddr += 1 << bits;
        id += 1;
    }
    let mut dev = 0x1_0000_0000u64;
    for k in 0..120u8 {
        let bits = 12 + k % 10;
        dev = dev.next_multiple_of(1 << bits);
        a.add(id, ut(dev, bits, true)).unwrap();
        dev += 1 << bits;
        id += 1;
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // Live objects: (untyped, count); carved children: ids.
    let mut live: Vec<(u64, usize)> = Vec::new();
    let mut carved: Vec<u64> = Vec::new();
    let mut next_child = 0x10_0000u64;
    for step in 0..4000 {
        match rng.below(10) {
            0..=4 => {
                let device = rng.below(4) == 0;
                let size_bits = if device {
                    12 + rng.below(3) as u8
                } else {
                    [4u8, 5, 10, 11, 12, 14, 16, 21][rng.below(8) as usize]
                };
                let count = 1 + rng.below(3) as usize;
                let want = expected_choice(&a, size_bits, count, device);
                let kind = if device {
                    MemoryKind::Device
                } else {
                    MemoryKind::Ram
                };
                match a.alloc_many(size_bits, count, kind) {
                    Ok(p) => {
                        assert_eq!(Some(p.untyped), want, "step {step}");
                        live.push((p.untyped, count));
                    }
                    Err(e) => {
                        assert_eq!(want, None, "step {step}: {e}");
                        assert!(matches!(e, AllocError::UntypedExhausted { .. }));
                    }
                }
            }
            5..=7 if !live.is_empty() => {
                let (u, n) = live.swap_remove(rng.below(live.len() as u64) as usize);
                a.free_objects(u, n).unwrap();
            }
            8 => {
                // Carve two children out of a RAM untyped, or remove one.
                if !carved.is_empty() && rng.below(2) == 0 {
                    let c = carved[rng.below(carved.len() as u64) as usize];
                    if a.get(c).is_some_and(|u| u.used == 0)
                        && !live.iter().any(|&(u, _)| u == c)
                        && !a.iter().any(|u| u.parent == Some(c))
                    {
                        a.remove(c).unwrap();
                        carved.retain(|&x| x != c);
                    }
                } else if let Ok(p) = a.alloc_many(14, 2, MemoryKind::Ram) {
                    a.add_children(&p, next_child).unwrap();
                    carved.extend([next_child, next_child + 1]);
                    next_child += 2;
                }
            }
            _ => {
                // Revoke a top-level RAM untyped now and then.
                if rng.below(20) == 0 {
                    let top: Vec<u64> = a
                        .iter()
                        .filter(|u| u.parent.is_none() && !u.untyped.is_device)
                        .map(|u| u.id)
                        .collect();
                    let t = top[rng.below(top.len() as u64) as usize];
                    let gone = a.reclaim(t).unwrap();
                    carved.retain(|c| !gone.contains(c));
                    live.retain(|&(u, _)| u != t && !gone.contains(&u));
                }
            }
        }
        check_index(&a);
    }
    assert!(
        !carved.is_empty() || next_child > 0x10_0000,
        "children were carved"
    );
}

#[test]
fn untyped_full_untyped_comes_back_after_free() {
    let mut a = UntypedAllocator::new();
    a.add(1, ut(0x1000, 12, false)).unwrap();
    a.add(2, ut(0x10_0000, 20, false)).unwrap();
    for k in 0..100 {
        a.add(10 + k, ut(0x1_0000_0000 + (k << 12), 12, true))
            .unwrap();
    }
    // Fill the small one (128 notifications of 32 bytes).
    for _ in 0..128 {
        assert_eq!(a.alloc(5, MemoryKind::Ram).unwrap().untyped, 1);
    }
    // Full: the next go to the larger one.
    assert_eq!(a.alloc(5, MemoryKind::Ram).unwrap().untyped, 2);
    assert_eq!(a.alloc(5, MemoryKind::Ram).unwrap().untyped, 2);
    // Freeing every object of the small one resets it: it is chosen again.
    a.free_objects(1, 128).unwrap();
    assert_eq!(a.get(1).unwrap().used, 0);
    assert_eq!(a.alloc(5, MemoryKind::Ram).unwrap().untyped, 1);
    // A rollback gives room back too.
    let p = a.alloc(11, MemoryKind::Ram).unwrap();
    assert_eq!((p.untyped, p.offset), (1, 0x800));
    assert_eq!(a.alloc(11, MemoryKind::Ram).unwrap().untyped, 2);
    let r = a.alloc_from(2, 12, 1).unwrap();
    a.rollback(&r).unwrap();
    a.free_objects(1, 2).unwrap();
    assert_eq!(a.alloc(12, MemoryKind::Ram).unwrap().untyped, 1);
    // RAM requests never get device memory, whatever is left.
    assert_eq!(a.largest_free(MemoryKind::Ram), Some(19));
    assert_eq!(a.largest_free(MemoryKind::Device), Some(12));
}

#[test]
fn untyped_remove_keeps_lookups_right() {
    let mut a = UntypedAllocator::new();
    a.add(1, ut(0, 20, false)).unwrap();
    let p = a.alloc_from(1, 16, 4).unwrap();
    a.add_children(&p, 50).unwrap();
    // A parent with children cannot be removed, nor a child in use.
    let q = a.alloc_from(52, 12, 1).unwrap();
    assert_eq!(a.remove(52), Err(AllocError::StalePlacement { id: 52 }));
    a.free_objects(52, 1).unwrap();
    // Remove the first child: the others are still found by id, with
    // their own address.
    a.remove(50).unwrap();
    assert_eq!(a.get(50), None);
    for (id, paddr) in [(51, 0x1_0000), (52, 0x2_0000), (53, 0x3_0000)] {
        assert_eq!(a.get(id).unwrap().untyped.paddr, paddr);
        assert_eq!(a.get(id).unwrap().parent, Some(1));
    }
    check_index(&a);
    // A grandchild: its parent cannot go before it.
    let g = a.alloc_from(53, 12, 1).unwrap();
    a.add_children(&g, 60).unwrap();
    assert_eq!(a.remove(53), Err(AllocError::StalePlacement { id: 53 }));
    a.remove(60).unwrap();
    a.remove(53).unwrap();
    a.remove(51).unwrap();
    a.remove(52).unwrap();
    assert_eq!(q.untyped, 52);
    // Every child gone: the parent is empty again.
    assert_eq!(a.get(1).unwrap().used, 0);
    assert_eq!(a.len(), 1);
    assert_eq!(a.alloc(20, MemoryKind::Ram).unwrap().untyped, 1);
}

#[test]
fn untyped_repeated_requests_get_what_a_fresh_search_gets() {
    // Runs of one-object requests of one size (what the untyped of the
    // last request answers without a search) between every other change:
    // each placement must equal that of the same request on a copy that
    // forgot the last answer.
    let mut a = UntypedAllocator::new();
    let mut id = 0x20;
    let mut paddr = 0u64;
    for bits in [9u8, 9, 10, 12, 12, 13, 14, 16, 18, 20] {
        paddr = paddr.next_multiple_of(1 << bits);
        a.add(id, ut(paddr, bits, false)).unwrap();
        paddr += 1 << bits;
        id += 1;
    }
    a.add(id, ut(1 << 40, 12, true)).unwrap();
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut live: Vec<(u64, usize)> = Vec::new();
    let mut next_child = 0x10_0000u64;
    for step in 0..3000 {
        match rng.below(8) {
            0..=3 => {
                let size_bits = [4u8, 5, 5, 10, 11][rng.below(5) as usize];
                for _ in 0..1 + rng.below(40) {
                    let mut fresh = a.clone();
                    fresh.forget_last();
                    let want = fresh.alloc(size_bits, MemoryKind::Ram);
                    let got = a.alloc(size_bits, MemoryKind::Ram);
                    assert_eq!(got, want, "step {step}");
                    if let Ok(p) = got {
                        live.push((p.untyped, 1));
                    }
                }
            }
            4 if !live.is_empty() => {
                let (u, n) = live.swap_remove(rng.below(live.len() as u64) as usize);
                a.free_objects(u, n).unwrap();
            }
            5 => {
                // Another size, several at once, or from a named untyped.
                if rng.below(2) == 0 {
                    if let Ok(p) = a.alloc_many(6, 3, MemoryKind::Ram) {
                        live.push((p.untyped, 3));
                    }
                } else if let Ok(p) = a.alloc_from(0x20 + rng.below(10), 7, 1) {
                    if rng.below(3) == 0 {
                        a.rollback(&p).unwrap();
                    } else {
                        live.push((p.untyped, 1));
                    }
                }
            }
            6 => {
                if let Ok(p) = a.alloc_many(9, 2, MemoryKind::Ram) {
                    a.add_children(&p, next_child).unwrap();
                    if rng.below(2) == 0 {
                        a.reserve(next_child).unwrap();
                    }
                    next_child += 2;
                }
            }
            _ => {
                if rng.below(10) == 0 {
                    let t = 0x20 + rng.below(10);
                    let gone = a.reclaim(t).unwrap();
                    live.retain(|&(u, _)| u != t && !gone.contains(&u));
                }
            }
        }
        check_index(&a);
    }
}

#[test]
fn untyped_last_answer_is_forgotten_when_a_better_one_appears() {
    let ram = MemoryKind::Ram;
    // A small untyped fills up; the next ones go to the large one, until
    // freeing every object of the small one resets it.
    let mut a = UntypedAllocator::new();
    a.add(1, ut(0x1000, 6, false)).unwrap();
    a.add(2, ut(0x10_0000, 20, false)).unwrap();
    assert_eq!(a.alloc(5, ram).unwrap().untyped, 1);
    assert_eq!(a.alloc(5, ram).unwrap().untyped, 1);
    assert_eq!(a.alloc(5, ram).unwrap().untyped, 2);
    assert_eq!(a.alloc(5, ram).unwrap().untyped, 2);
    a.free_objects(1, 2).unwrap();
    assert_eq!(a.alloc(5, ram).unwrap().untyped, 1);

    // Two of one size: the one that wastes nothing to alignment wins; an
    // object of another size placed in the other one makes that one win
    // again (lower id, no waste).
    let mut a = UntypedAllocator::new();
    a.add(1, ut(0x1000, 12, false)).unwrap();
    a.add(2, ut(0x2000, 12, false)).unwrap();
    assert_eq!(a.alloc_from(1, 4, 1).unwrap().offset, 0);
    assert_eq!(a.alloc(5, ram).unwrap().untyped, 2);
    assert_eq!(a.alloc(5, ram).unwrap().untyped, 2);
    assert_eq!(a.alloc_from(1, 4, 1).unwrap().offset, 16);
    let p = a.alloc(5, ram).unwrap();
    assert_eq!((p.untyped, p.offset), (1, 32));

    // A smaller untyped added later, or the last one reserved.
    let mut a = UntypedAllocator::new();
    a.add(2, ut(0x10_0000, 20, false)).unwrap();
    assert_eq!(a.alloc(5, ram).unwrap().untyped, 2);
    a.add(9, ut(0x1000, 12, false)).unwrap();
    assert_eq!(a.alloc(5, ram).unwrap().untyped, 9);
    a.reserve(9).unwrap();
    assert_eq!(a.alloc(5, ram).unwrap().untyped, 2);

    // The last answer's index moves when another untyped is removed.
    let mut a = UntypedAllocator::new();
    a.add(1, ut(0, 20, false)).unwrap();
    let p = a.alloc_from(1, 12, 3).unwrap();
    a.add_children(&p, 50).unwrap();
    a.reserve(1).unwrap();
    // 50, 51, 52: equal size, the lowest id wins.
    assert_eq!(a.alloc(5, ram).unwrap().untyped, 50);
    a.reserve(50).unwrap();
    assert_eq!(a.alloc(5, ram).unwrap().untyped, 51);
    a.reserve(51).unwrap();
    assert_eq!(a.alloc(5, ram).unwrap().untyped, 52);
    a.free_objects(50, 1).unwrap();
    a.remove(50).unwrap();
    let p = a.alloc(5, ram).unwrap();
    assert_eq!((p.untyped, p.offset), (52, 32));
    check_index(&a);
}

#[test]
fn untyped_last_place_is_placed_only_when_told() {
    let ram = MemoryKind::Ram;
    let mut a = UntypedAllocator::new();
    a.add(1, ut(0x1000, 12, false)).unwrap();
    // No last answer before a search.
    assert!(a.plan_last(5, ram).is_none());
    assert_eq!(a.alloc(5, ram).unwrap().offset, 0);
    // Another size or kind: not the answer.
    assert!(a.plan_last(6, ram).is_none());
    assert!(a.plan_last(5, MemoryKind::Device).is_none());
    // Dropped without being placed (the retype failed): nothing placed.
    let p = a.plan_last(5, ram).unwrap();
    assert_eq!(p.untyped(), 1);
    drop(p);
    assert_eq!(a.get(1).unwrap().used, 32);
    // Placed: the allocator's figures read it while the answer is kept,
    // and after it is forgotten.
    a.plan_last(5, ram).unwrap().place();
    assert_eq!((a.get(1).unwrap().used, a.get(1).unwrap().free), (64, 4032));
    assert_eq!(a.free_bytes(ram), 4032);
    let mut fresh = a.clone();
    fresh.forget_last();
    assert_eq!(fresh.get(1), a.get(1));
    assert_eq!(fresh.alloc(5, ram).unwrap().offset, 64);
    assert_eq!(a.plan_last(5, ram).map(|p| p.untyped()), Some(1));
    // Full: the last object of the untyped is placed, then no more.
    for k in 2..128 {
        let p = a.plan_last(5, ram).unwrap_or_else(|| panic!("object {k}"));
        p.place();
    }
    assert!(a.plan_last(5, ram).is_none());
    assert_eq!(a.get(1).unwrap().free, 0);
    // Freeing every object empties it; one more is refused and changes
    // nothing.
    a.free_objects(1, 128).unwrap();
    assert_eq!(
        a.free_objects(1, 1),
        Err(AllocError::StalePlacement { id: 1 })
    );
    assert_eq!(a.get(1).unwrap().used, 0);
    let p = a.plan_last(5, ram).unwrap();
    p.place();
    assert_eq!(
        a.free_objects(1, 2),
        Err(AllocError::StalePlacement { id: 1 })
    );
    assert_eq!(a.get(1).unwrap().used, 32);
    a.free_objects(1, 1).unwrap();
    a.forget_last();
    assert_eq!(a.get(1).unwrap().used, 0);
    assert_eq!(a.alloc(12, ram).unwrap().untyped, 1);
    check_index(&a);
}

#[test]
fn untyped_emptied_last_untyped_is_found_by_the_next_search() {
    let ram = MemoryKind::Ram;
    let mut a = UntypedAllocator::new();
    a.add(1, ut(0x1000, 12, false)).unwrap();
    // Two 2 KiB objects fill it (the second without a search).
    assert_eq!(a.alloc(11, ram).unwrap().untyped, 1);
    assert_eq!(a.alloc(11, ram).unwrap().untyped, 1);
    // A search that finds nothing (and keeps the last answer) makes the
    // bucket hint exact: 0 bytes free.
    assert!(a.alloc_many(11, 2, ram).is_err());
    // It becomes empty while it is the last answer; a search for another
    // size must see its room again.
    a.free_objects(1, 2).unwrap();
    let p = a.alloc(10, ram).unwrap();
    assert_eq!((p.untyped, p.offset), (1, 0));
    check_index(&a);
}

#[test]
fn slots_the_slot_freed_last_is_reused_first_and_counts_as_free() {
    let mut s = SlotAllocator::new(0, 10);
    for k in 0..5 {
        assert_eq!(s.alloc(), Ok(k));
    }
    // 3 freed last: it comes back before the lower 1.
    s.free(1).unwrap();
    s.free(3).unwrap();
    assert!(!s.is_allocated(3) && !s.is_allocated(1));
    assert_eq!((s.used(), s.available()), (3, 7));
    assert_eq!(s.free(3), Err(AllocError::SlotNotAllocated { slot: 3 }));
    assert_eq!(
        s.free_range(3, 1),
        Err(AllocError::SlotNotAllocated { slot: 3 })
    );
    assert_eq!(s.alloc(), Ok(3));
    assert_eq!(s.alloc(), Ok(1));
    // Claiming the spare slot takes it.
    s.free(4).unwrap();
    assert_eq!(s.claim(4), Ok(()));
    assert!(s.is_allocated(4));
    assert_eq!(s.claim(4), Err(AllocError::SlotInUse { slot: 4 }));
    // A run may use the spare slot: 4 is free again, 5..8 free.
    s.free(4).unwrap();
    assert_eq!(s.alloc_range(5), Ok(4));
    assert_eq!((s.used(), s.available()), (9, 1));
    assert_eq!(s.alloc(), Ok(9));
    assert!(s.alloc().is_err());
}

#[test]
fn slots_match_a_model() {
    // Random allocations, frees, claims and runs against a set of taken
    // slots and the spare slot (the one freed last, until it is taken or
    // a run search returns it to the bitmap): every answer is a free slot
    // (the spare, else the lowest), counts and `is_allocated` agree.
    let (start, end) = (0x80u64, 0x80 + 300);
    let mut s = SlotAllocator::new(start, end);
    let mut taken = alloc::collections::BTreeSet::new();
    let mut spare: Option<u64> = None;
    let mut rng = Rng(0x51ab_5107);
    for _ in 0..20_000 {
        match rng.below(10) {
            0..=3 => {
                let want = spare
                    .take()
                    .or_else(|| (start..end).find(|x| !taken.contains(x)));
                let got = s.alloc().ok();
                assert_eq!(got, want);
                if let Some(g) = got {
                    taken.insert(g);
                }
            }
            4..=6 if !taken.is_empty() => {
                let v: Vec<u64> = taken.iter().copied().collect();
                let x = v[rng.below(v.len() as u64) as usize];
                s.free(x).unwrap();
                taken.remove(&x);
                spare = Some(x);
            }
            7 => {
                let x = start + rng.below(end - start);
                assert_eq!(s.claim(x).is_ok(), !taken.contains(&x));
                taken.insert(x);
                if spare == Some(x) {
                    spare = None;
                }
            }
            8 => {
                let n = 1 + rng.below(4);
                let available = (end - start) as usize - taken.len();
                let want = (start..=end - n).find(|&a| (a..a + n).all(|x| !taken.contains(&x)));
                let got = s.alloc_range(n as usize).ok();
                assert_eq!(got, want);
                if let Some(a) = want {
                    taken.extend(a..a + n);
                }
                if n as usize <= available {
                    // The search ran: the spare went back to the bitmap.
                    spare = None;
                }
            }
            _ => {
                let x = start + rng.below(end - start);
                let freed = taken.remove(&x);
                assert_eq!(s.free(x).is_ok(), freed);
                if freed {
                    spare = Some(x);
                }
            }
        }
        assert_eq!(s.used(), taken.len());
        for x in [start, start + 1, start + 150, end - 1] {
            assert_eq!(s.is_allocated(x), taken.contains(&x));
        }
    }
}

#[test]
fn untyped_spares_keep_reserved_memory_reusable() {
    // A parent with an object after a carved, reserved child: once the
    // child's owner is done, deleting the child would leave a hole the
    // kernel never reuses (the parent's watermark stays above it while the
    // object lives). Released as a spare, the child counts as free and
    // goes whole to the next owner of its size.
    let mut a = UntypedAllocator::new();
    a.add(1, ut(0x100_0000, 22, false)).unwrap(); // 4 MiB
    let c = a.alloc(20, MemoryKind::Ram).unwrap();
    a.add_children(&c, 10).unwrap();
    a.reserve(10).unwrap();
    let obj = a.alloc(12, MemoryKind::Ram).unwrap();
    assert_eq!(obj.untyped, 1, "general requests skip the reserved child");
    let used = a.used_bytes(MemoryKind::Ram);
    assert_eq!(used, (1 << 20) + 0x1000);
    // The owner fills it, then everything is revoked.
    a.alloc_from(10, 16, 3).unwrap();
    assert_eq!(a.release(10), Err(AllocError::StalePlacement { id: 10 }));
    a.reclaim(10).unwrap();
    a.release(10).unwrap();
    assert!(a.get(10).unwrap().spare);
    assert_eq!(
        a.used_bytes(MemoryKind::Ram),
        0x1000,
        "the spare counts free"
    );
    assert_eq!(a.spares().collect::<Vec<_>>(), [10]);
    // Nobody retypes from a spare; only take_spare hands it out.
    assert_eq!(
        a.alloc_from(10, 12, 1),
        Err(AllocError::StalePlacement { id: 10 })
    );
    assert_ne!(a.alloc(12, MemoryKind::Ram).unwrap().untyped, 10);
    assert_eq!(a.take_spare(21, MemoryKind::Ram), None);
    assert_eq!(a.take_spare(20, MemoryKind::Device), None);
    assert_eq!(a.take_spare(20, MemoryKind::Ram), Some(10));
    assert_eq!(a.take_spare(20, MemoryKind::Ram), None);
    assert!(!a.get(10).unwrap().spare && a.get(10).unwrap().reserved);
    assert_eq!(a.used_bytes(MemoryKind::Ram), (1 << 20) + 0x2000);
    assert_eq!(a.alloc_from(10, 20, 1).unwrap().offset, 0, "whole again");
    // Only an empty, reserved untyped becomes a spare.
    assert_eq!(a.release(1), Err(AllocError::StalePlacement { id: 1 }));
}

// ---------------------------------------------------------------- messages

/// Every variant's message, word for word (the template renderer must
/// write what `write!` wrote: numbers in decimal, `{x}` as `0x..`).
#[test]
fn alloc_error_messages() {
    use alloc::string::ToString;
    use AllocError::*;
    let cases: &[(AllocError, &str)] = &[
        (
            SlotsExhausted {
                requested: 3,
                available: 2,
            },
            "no 3 free capability slot(s) (2 free in total)",
        ),
        (
            SlotOutOfRange {
                slot: 0x20,
                start: 0x10,
                end: 0x18,
            },
            "slot 0x20 outside [0x10, 0x18)",
        ),
        (SlotInUse { slot: 0xab }, "slot 0xab is already allocated"),
        (SlotNotAllocated { slot: 0 }, "slot 0x0 is not allocated"),
        (
            UntypedExhausted {
                size_bits: 12,
                count: 2,
                device: false,
            },
            "no RAM untyped memory for 2 object(s) of 2^12 bytes",
        ),
        (
            UntypedExhausted {
                size_bits: 21,
                count: 1,
                device: true,
            },
            "no device untyped memory for 1 object(s) of 2^21 bytes",
        ),
        (
            UntypedFull {
                id: 0x5,
                size_bits: 14,
                count: 4,
                free: 100,
            },
            "untyped 0x5 has no room for 4 object(s) of 2^14 bytes (100 bytes free)",
        ),
        (UnknownUntyped { id: 0x7 }, "no untyped 0x7"),
        (DuplicateUntyped { id: 0x8 }, "untyped 0x8 added twice"),
        (
            BadUntyped {
                id: 0x9,
                paddr: 0x1000,
                size_bits: 3,
            },
            "untyped 0x9: 2^3 bytes at 0x1000 is not a valid untyped",
        ),
        (
            BadObjectSize {
                size_bits: 70,
                count: 1,
            },
            "cannot create 1 object(s) of 2^70 bytes",
        ),
        (
            StalePlacement { id: 0xa },
            "placement in untyped 0xa is stale",
        ),
        (
            NotUntypedPlacement {
                id: 0xb,
                size_bits: 4,
            },
            "objects of 2^4 bytes from untyped 0xb cannot be untypeds",
        ),
        (
            NoUntypedAt { paddr: 0xfee0_0000 },
            "no untyped covers physical address 0xfee00000",
        ),
        (
            PhysInUse {
                paddr: 0x2000,
                id: 0xc,
            },
            "physical address 0x2000 in untyped 0xc is already in use",
        ),
        (
            MisalignedPhys {
                paddr: 0x2010,
                size_bits: 12,
            },
            "physical address 0x2010 is not aligned to 2^12 bytes",
        ),
        (
            VirtExhausted {
                size: 0x4000,
                align: 0x1000,
            },
            "no free virtual range of 0x4000 bytes aligned to 0x1000",
        ),
        (
            VirtInUse {
                addr: 0x1000,
                size: 0x2000,
            },
            "virtual range [0x1000, 0x3000) is not free",
        ),
        (
            VirtNotAllocated { addr: 0x5000 },
            "virtual address 0x5000 is not an allocated range",
        ),
        (
            VirtBadRequest {
                addr: 0x1,
                size: 0x2,
                align: 0x3,
            },
            "bad virtual range request: address 0x1, size 0x2, alignment 0x3",
        ),
        (
            SlotsExhausted {
                requested: usize::MAX,
                available: 0,
            },
            "no 18446744073709551615 free capability slot(s) (0 free in total)",
        ),
    ];
    for (e, want) in cases {
        assert_eq!(e.to_string(), *want, "{e:?}");
    }
    // The outer formatter's flags do not leak into the numbers.
    assert_eq!(
        alloc::format!("{:>40}", SlotInUse { slot: 1 }),
        "slot 0x1 is already allocated"
    );
}
