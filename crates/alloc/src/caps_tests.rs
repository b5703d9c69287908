//! Host tests of [`CapRegistry`] and of the untyped watermark rules it
//! feeds, checked against a model of the kernel's derivation list (the
//! MDB) and of an untyped's free index.

use alloc::vec::Vec;

use crate::*;

// ------------------------------------------------------- kernel model

/// One capability in the model's derivation list.
#[derive(Debug, Clone, Copy)]
struct KCap {
    slot: u64,
    object: usize,
    badge: u64,
    revocable: bool,
    first_badged: bool,
}

/// The kernel, as far as one untyped goes: the capabilities to objects made
/// from it, in the order of the kernel's derivation list (`cteInsert` puts
/// a copy right after its source, a retype puts the new capability right
/// after the untyped), and the untyped's free index, which the next retype
/// resets to 0 when no such capability is left (`ensureNoChildren`).
struct Kernel {
    size_bits: u8,
    free_index: u64,
    mdb: Vec<KCap>,
    kinds: Vec<ObjectKind>,
}

impl Kernel {
    fn new(size_bits: u8) -> Kernel {
        Kernel {
            size_bits,
            free_index: 0,
            mdb: Vec::new(),
            kinds: Vec::new(),
        }
    }

    fn pos(&self, slot: u64) -> Option<usize> {
        self.mdb.iter().position(|c| c.slot == slot)
    }

    /// `Untyped_Retype` of one object of `2^bits` bytes into `slot`;
    /// returns its offset, `None` if it does not fit.
    fn retype(&mut self, bits: u8, slot: u64, kind: ObjectKind) -> Option<u64> {
        if self.mdb.is_empty() {
            self.free_index = 0;
        }
        let obj = 1u64 << bits;
        let off = self.free_index.div_ceil(obj) * obj;
        if off + obj > 1 << self.size_bits {
            return None;
        }
        self.free_index = off + obj;
        self.kinds.push(kind);
        self.mdb.insert(
            0,
            KCap {
                slot,
                object: self.kinds.len() - 1,
                badge: 0,
                revocable: true,
                first_badged: true,
            },
        );
        Some(off)
    }

    /// `CNode_Copy` (`badge` `None`) or `CNode_Mint`; `false` if the kernel
    /// refuses (a new badge on a badged capability).
    fn copy(&mut self, src: u64, dest: u64, badge: Option<u64>) -> bool {
        let i = self.pos(src).unwrap();
        let s = self.mdb[i];
        let kind = self.kinds[s.object];
        let new_badge = match (kind, badge) {
            (ObjectKind::Badged, Some(_)) if s.badge != 0 => return false,
            (ObjectKind::Badged, Some(b)) => b,
            _ => s.badge,
        };
        // isCapRevocable
        let revocable = match kind {
            ObjectKind::Badged => new_badge != s.badge,
            ObjectKind::Untyped => true,
            ObjectKind::Other => false,
        };
        self.mdb.insert(
            i + 1,
            KCap {
                slot: dest,
                object: s.object,
                badge: new_badge,
                revocable,
                first_badged: revocable,
            },
        );
        true
    }

    fn delete(&mut self, slot: u64) {
        if let Some(i) = self.pos(slot) {
            self.mdb.remove(i);
        }
    }

    fn moved(&mut self, from: u64, to: u64) {
        let i = self.pos(from).unwrap();
        self.mdb[i].slot = to;
    }

    /// isMDBParentOf
    fn parent_of(&self, a: &KCap, b: &KCap) -> bool {
        if !a.revocable || a.object != b.object {
            return false;
        }
        match self.kinds[a.object] {
            ObjectKind::Badged if a.badge != 0 => b.badge == a.badge && !b.first_badged,
            _ => true,
        }
    }

    /// `CNode_Revoke`: the slots it emptied.
    fn revoke(&mut self, slot: u64) -> Vec<u64> {
        let i = self.pos(slot).unwrap();
        let mut gone = Vec::new();
        while i + 1 < self.mdb.len() && self.parent_of(&self.mdb[i], &self.mdb[i + 1]) {
            gone.push(self.mdb.remove(i + 1).slot);
        }
        gone
    }

    fn has(&self, slot: u64) -> bool {
        self.pos(slot).is_some()
    }
}

/// The bookkeeping side: the allocator over the same untyped (id 1) and
/// the registry, driven the way the root server drives them.
struct Book {
    alloc: UntypedAllocator,
    reg: CapRegistry,
}

const UT: u64 = 1;

impl Book {
    fn new(size_bits: u8) -> Book {
        let mut alloc = UntypedAllocator::new();
        alloc
            .add(
                UT,
                UntypedDesc {
                    paddr: 0,
                    size_bits,
                    is_device: false,
                },
            )
            .unwrap();
        Book {
            alloc,
            reg: CapRegistry::new(),
        }
    }

    fn create(&mut self, bits: u8, slot: u64, kind: ObjectKind) -> Option<u64> {
        let p = self.alloc.alloc_from(UT, bits, 1).ok()?;
        self.reg.created(slot, UT, kind).unwrap();
        Some(p.offset)
    }

    fn delete(&mut self, slot: u64) {
        if let Some(u) = self.reg.deleted(slot) {
            self.alloc.free_objects(u, 1).unwrap();
        }
    }

    fn revoke(&mut self, slot: u64) -> Vec<u64> {
        // The preview names exactly what the revocation then deletes.
        let preview = self.reg.revoke_preview(slot);
        let gone = self.reg.revoked(slot);
        assert_eq!(preview, gone, "revoke_preview({slot}) differs from revoked");
        gone
    }
}

// -------------------------------------------------------------- tests

#[test]
fn registry_counts_copies_and_frees_with_the_last() {
    let mut r = CapRegistry::new();
    r.created(10, 1, ObjectKind::Badged).unwrap();
    assert_eq!(r.derived(10, 11, Some(5)), Ok(true));
    assert_eq!(r.derived(10, 12, None), Ok(true));
    assert_eq!(r.caps_of(12), 3);
    assert_eq!(r.untyped_of(11), Some(1));
    // Not tracked: an initial capability, say.
    assert_eq!(r.derived(99, 13, None), Ok(false));
    assert!(!r.contains(13));
    assert_eq!(
        r.derived(10, 11, None),
        Err(AllocError::SlotInUse { slot: 11 })
    );
    assert_eq!(r.deleted(10), None, "copies left");
    assert_eq!(r.deleted(12), None, "the badged copy is left");
    assert_eq!(r.moved(11, 20), Ok(true));
    assert_eq!(r.moved(11, 21), Ok(false));
    assert_eq!(r.deleted(11), None, "moved away");
    assert_eq!(r.objects(), 1);
    assert_eq!(r.deleted(20), Some(1), "the last capability");
    assert_eq!(r.objects(), 0);
    assert!(r.is_empty());
    assert_eq!(r.deleted(20), None, "deleting twice is not counted");
    // Entries are reused.
    r.created(10, 2, ObjectKind::Other).unwrap();
    assert_eq!(
        r.created(10, 2, ObjectKind::Other),
        Err(AllocError::SlotInUse { slot: 10 })
    );
    assert_eq!(r.deleted(10), Some(2));
}

#[test]
fn registry_revocation_follows_the_kernel_rule() {
    let mut r = CapRegistry::new();
    r.created(1, 7, ObjectKind::Badged).unwrap();
    r.derived(1, 2, Some(5)).unwrap(); // badged: revocable
    r.derived(2, 3, None).unwrap(); // copy of the badged one
    r.derived(3, 4, None).unwrap(); // and of that
    r.derived(1, 5, None).unwrap(); // plain copy: not revocable
    r.derived(5, 6, Some(9)).unwrap(); // badged from the plain copy
                                       // Revoking a plain copy deletes nothing.
    assert!(r.revoked(5).is_empty());
    // Revoking the badged copy deletes its copies only; the preview says so
    // first and changes nothing.
    let mut preview = r.revoke_preview(2);
    preview.sort();
    assert_eq!(preview, [3, 4]);
    assert_eq!(r.caps_of(1), 6);
    let mut got = r.revoked(2);
    got.sort();
    assert_eq!(got, [3, 4]);
    assert_eq!(r.caps_of(1), 4);
    // Revoking the original deletes every copy; the object stays.
    let mut got = r.revoked(1);
    got.sort();
    assert_eq!(got, [2, 5, 6]);
    assert_eq!(r.caps_of(1), 1);
    assert_eq!(r.deleted(1), Some(7));
    // Deleting a capability hands its copies to its source: revoking the
    // source still reaches them.
    r.created(1, 7, ObjectKind::Other).unwrap();
    r.derived(1, 2, None).unwrap();
    r.derived(2, 3, None).unwrap();
    assert_eq!(r.deleted(2), None);
    assert_eq!(r.revoked(1), [3]);
    // Untyped copies are revocable.
    r.created(8, 7, ObjectKind::Untyped).unwrap();
    r.derived(8, 9, None).unwrap();
    r.derived(9, 11, None).unwrap();
    assert_eq!(r.revoked(9), [11]);
}

#[test]
fn registry_forgets_contents_and_untypeds() {
    let mut r = CapRegistry::new();
    r.created(1, 100, ObjectKind::Other).unwrap();
    r.created(2, 100, ObjectKind::Other).unwrap();
    r.created(3, 200, ObjectKind::Other).unwrap();
    r.derived(1, 0x1_0000_0001, None).unwrap();
    r.derived(3, 0x1_0000_0002, None).unwrap();
    r.moved(2, 0x1_0000_0003).unwrap();
    // A CNode holding slots 0x1_0000_0000.. is destroyed: its contents go.
    let mut freed = r.forget_slots(|s| s >> 32 == 1);
    freed.sort();
    assert_eq!(freed, [100], "the object moved into the CNode is gone");
    assert_eq!(r.caps_of(1), 1);
    assert_eq!(r.caps_of(3), 1);
    // Revoking untyped 100 removes what was made from it.
    assert_eq!(r.forget_untypeds(&[100]), [1]);
    assert_eq!(r.len(), 1);
    assert_eq!(r.untyped_of(3), Some(200));
}

/// The defect this registry exists for: a badged copy outlives the
/// original. Counting originals only (the old rule) puts the next object
/// at offset 0 while the kernel, which still sees the copy, does not reset
/// the untyped; with the registry the bookkeeping agrees with the kernel.
#[test]
fn watermark_stays_while_a_copy_lives() {
    for use_registry in [false, true] {
        let mut k = Kernel::new(16);
        let mut b = Book::new(16);
        assert_eq!(k.retype(4, 10, ObjectKind::Badged), Some(0));
        assert_eq!(b.create(4, 10, ObjectKind::Badged), Some(0));
        assert!(k.copy(10, 11, Some(5)));
        b.reg.derived(10, 11, Some(5)).unwrap();
        k.delete(10);
        if use_registry {
            b.delete(10);
        } else {
            // The old rule: the original's deletion frees the object.
            b.alloc.free_objects(UT, 1).unwrap();
        }
        let kernel = k.retype(12, 12, ObjectKind::Other);
        let book = b.create(12, 12, ObjectKind::Other);
        assert_eq!(kernel, Some(0x1000), "the kernel keeps the free index");
        if use_registry {
            assert_eq!(book, kernel);
            assert_eq!(b.alloc.get(UT).unwrap().used, 0x2000);
        } else {
            assert_eq!(book, Some(0), "the old rule resets too early");
        }
    }
    // Once the copy goes too, both reset.
    let mut k = Kernel::new(16);
    let mut b = Book::new(16);
    k.retype(4, 10, ObjectKind::Badged);
    b.create(4, 10, ObjectKind::Badged);
    k.copy(10, 11, None);
    b.reg.derived(10, 11, None).unwrap();
    k.delete(10);
    b.delete(10);
    k.delete(11);
    b.delete(11);
    assert_eq!(b.alloc.get(UT).unwrap().used, 0);
    assert_eq!(k.retype(12, 12, ObjectKind::Other), Some(0));
    assert_eq!(b.create(12, 12, ObjectKind::Other), Some(0));
}

/// Random creates, copies, mints, moves, deletes and revocations on the
/// model and on the bookkeeping: every placement the bookkeeping plans is
/// where the kernel puts the object, and the registry has exactly the
/// capabilities the kernel has.
#[test]
fn bookkeeping_matches_the_kernel_model() {
    let mut rng = super::tests::Rng(0x2545_f491_4f6c_dd1d);
    let kinds = [ObjectKind::Badged, ObjectKind::Other, ObjectKind::Untyped];
    let mut checked = 0;
    let mut resets = 0;
    for _round in 0..40 {
        let mut k = Kernel::new(14);
        let mut b = Book::new(14);
        // Slots the caller holds handles for (the kernel may have emptied
        // some by a revocation).
        let mut held: Vec<u64> = Vec::new();
        let mut next_slot = 1u64;
        for _ in 0..400 {
            match rng.below(10) {
                0..=2 => {
                    let bits = [4u8, 10, 12][rng.below(3) as usize];
                    let kind = kinds[rng.below(3) as usize];
                    let slot = next_slot;
                    next_slot += 1;
                    let before = b.alloc.get(UT).unwrap().used;
                    let reset = k.mdb.is_empty() && k.free_index != 0;
                    let kernel = k.retype(bits, slot, kind);
                    let book = b.create(bits, slot, kind);
                    assert_eq!(
                        book, kernel,
                        "placement of 2^{bits} (watermark {before:#x})"
                    );
                    if kernel.is_some() {
                        resets += reset as usize;
                        held.push(slot);
                        checked += 1;
                    }
                }
                3..=4 if !held.is_empty() => {
                    let src = held[rng.below(held.len() as u64) as usize];
                    if !k.has(src) {
                        continue;
                    }
                    let badge = if rng.below(2) == 0 {
                        None
                    } else {
                        Some(rng.below(3))
                    };
                    let dest = next_slot;
                    next_slot += 1;
                    if k.copy(src, dest, badge) {
                        assert!(b.reg.derived(src, dest, badge).unwrap());
                        held.push(dest);
                    }
                }
                5 if !held.is_empty() => {
                    let i = rng.below(held.len() as u64) as usize;
                    let from = held[i];
                    if !k.has(from) {
                        continue;
                    }
                    let to = next_slot;
                    next_slot += 1;
                    k.moved(from, to);
                    assert!(b.reg.moved(from, to).unwrap());
                    held[i] = to;
                }
                6..=8 if !held.is_empty() => {
                    let slot = held.swap_remove(rng.below(held.len() as u64) as usize);
                    k.delete(slot);
                    b.delete(slot);
                }
                9 if !held.is_empty() => {
                    let slot = held[rng.below(held.len() as u64) as usize];
                    if !k.has(slot) {
                        continue;
                    }
                    let mut kernel = k.revoke(slot);
                    let mut book = b.revoke(slot);
                    kernel.sort();
                    book.sort();
                    assert_eq!(book, kernel, "revoke of {slot}");
                }
                _ => {}
            }
            // The same capabilities as the kernel.
            assert_eq!(b.reg.len(), k.mdb.len());
            for c in &k.mdb {
                assert!(b.reg.contains(c.slot), "the kernel has {} ", c.slot);
            }
        }
        // Everything given back: both reset.
        for slot in held.drain(..) {
            k.delete(slot);
            b.delete(slot);
        }
        assert!(b.reg.is_empty());
        assert_eq!(b.alloc.get(UT).unwrap().used, 0);
        assert_eq!(k.retype(14, 0, ObjectKind::Other), Some(0));
    }
    assert!(checked > 2000, "{checked} placements checked");
    assert!(resets > 20, "{resets} resets seen");
}

#[test]
fn reserved_untypeds_serve_their_owner_only() {
    let mut a = UntypedAllocator::new();
    let desc = |paddr, size_bits| UntypedDesc {
        paddr,
        size_bits,
        is_device: false,
    };
    a.add(1, desc(0, 20)).unwrap();
    let p = a.alloc_from(1, 16, 1).unwrap();
    a.add_children(&p, 50).unwrap();
    let free = a.free_bytes(MemoryKind::Ram);
    assert_eq!(free, 1 << 20);
    a.reserve(50).unwrap();
    a.reserve(50).unwrap();
    assert_eq!(a.free_bytes(MemoryKind::Ram), free - (1 << 16));
    assert!(a.get(50).unwrap().reserved);
    // A page: the smallest untyped with room would be 50, but it is
    // reserved.
    assert_eq!(a.alloc(12, MemoryKind::Ram).unwrap().untyped, 1);
    assert_eq!(a.largest_free(MemoryKind::Ram), Some(19));
    // Its owner still places objects in it, and reclaims it.
    assert_eq!(a.alloc_from(50, 12, 1).unwrap().paddr, 0);
    assert!(a.reclaim(50).unwrap().is_empty());
    assert!(
        a.get(50).unwrap().reserved,
        "still reserved after a reclaim"
    );
    assert_eq!(a.reserve(77), Err(AllocError::UnknownUntyped { id: 77 }));
    // Removing it gives the parent its object back.
    a.remove(50).unwrap();
    a.free_objects(1, 1).unwrap();
    assert_eq!(a.get(1).unwrap().used, 0);
}

#[test]
fn registry_keeps_the_class_with_copies_and_moves() {
    let mut r = CapRegistry::new();
    r.created_class(1, 7, ObjectKind::Other, 3).unwrap();
    r.created(2, 7, ObjectKind::Badged).unwrap();
    assert_eq!(
        (r.class_of(1), r.class_of(2), r.class_of(3)),
        (Some(3), Some(0), None)
    );
    assert!(r.derived(1, 4, None).unwrap());
    assert!(r.moved(1, 5).unwrap());
    assert_eq!(
        (r.class_of(1), r.class_of(4), r.class_of(5)),
        (None, Some(3), Some(3))
    );
    assert_eq!(r.kind_of(4), Some(ObjectKind::Other));
    assert_eq!(r.deleted_kind(4), Some((ObjectKind::Other, None)));
    assert_eq!(r.deleted_kind(5), Some((ObjectKind::Other, Some(7))));
    assert_eq!(r.deleted_kind(5), None);
    assert_eq!(r.objects(), 1);
}

#[test]
fn registry_sole_capability_of_a_class() {
    let mut r = CapRegistry::new();
    r.created_class(1, 7, ObjectKind::Badged, 0).unwrap();
    r.created_class(2, 7, ObjectKind::Other, 1).unwrap();
    // Not the only capability of a class-0 object (another class, an
    // untracked slot): the deletion does not run, nothing changes.
    let ran = core::cell::Cell::new(0);
    let delete = |ok: bool| {
        ran.set(ran.get() + 1);
        if ok {
            Ok(())
        } else {
            Err("refused")
        }
    };
    assert_eq!(r.delete_sole(2, 0, || delete(true)), None);
    assert_eq!(r.delete_sole(3, 0, || delete(true)), None);
    // Not while a copy lives.
    assert!(r.derived(1, 4, Some(9)).unwrap());
    assert_eq!(r.delete_sole(1, 0, || delete(true)), None);
    assert_eq!(r.delete_sole(4, 0, || delete(true)), None);
    assert_eq!(r.deleted(4), None);
    assert_eq!(ran.get(), 0);
    // Alone again: a refused deletion records nothing.
    assert_eq!(r.delete_sole(1, 0, || delete(false)), Some(Err("refused")));
    assert!(r.contains(1));
    assert_eq!((r.objects(), r.len()), (2, 2));
    // A deletion that succeeds frees the object.
    assert_eq!(r.delete_sole(1, 0, || delete(true)), Some(Ok(7)));
    assert_eq!(ran.get(), 2);
    assert!(!r.contains(1));
    assert_eq!((r.objects(), r.len()), (1, 1));
    // Gone: a second one does not run.
    assert_eq!(r.delete_sole(1, 0, || delete(true)), None);
    assert_eq!(ran.get(), 2);
    assert_eq!((r.objects(), r.len()), (1, 1));
}

#[test]
fn registry_refuses_the_end_of_list_marker_as_a_slot() {
    // u64::MAX ends the lists: never a slot, wherever the map keeps its
    // neighbours.
    let mut r = CapRegistry::new();
    assert!(!r.try_created(u64::MAX, 7, ObjectKind::Other, 0));
    r.created(u64::MAX - 1, 7, ObjectKind::Other).unwrap();
    assert!(!r.try_created(u64::MAX, 7, ObjectKind::Other, 0));
    assert_eq!(
        r.derived(u64::MAX - 1, u64::MAX, None),
        Err(AllocError::SlotInUse { slot: u64::MAX })
    );
    assert_eq!((r.len(), r.objects()), (1, 1));
}
