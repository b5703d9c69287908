//! Capabilities to objects made from untyped memory, and the copies made of
//! them.
//!
//! The kernel resets an untyped (its next retype starts from offset 0
//! again) only when no capability to anything made from it is left: not
//! the object's original capability, and no copy or badged copy of it
//! either (they are all children of the untyped in the kernel's derivation
//! tree). Counting objects by their original capability alone resets the
//! bookkeeping too early: after `mint(ep)` and `delete(ep)` the kernel still
//! has the badged copy and keeps the untyped's free index where it was,
//! while the bookkeeping would place the next object at offset 0.
//!
//! [`CapRegistry`] follows every capability its caller makes to such an
//! object: the original (with the object), copies and badged copies, moves,
//! deletions and revocations. An object is gone when its last capability
//! is; the registry then names the untyped it came from, for
//! [`UntypedAllocator::free_objects`](crate::UntypedAllocator::free_objects).
//!
//! Revocation follows the kernel's derivation list (its "MDB"): a copy is
//! inserted right after its source, and revoking a capability deletes the
//! capabilities right after it for which it is a parent (`isMDBParentOf`):
//! only a *revocable* capability (an object's original one, a badged copy
//! of an unbadged endpoint or notification, an untyped) has children, and a
//! badged one only those with its badge that are not themselves badged
//! originals. The registry keeps, per object, its capabilities in the
//! kernel's order, so it deletes exactly what the kernel deletes.
//! Capabilities the kernel makes without the caller (an IPC capability
//! transfer, a raw `CNode_Copy`) are not seen; the caller must not make
//! such copies of tracked objects, or must delete them before the object
//! counts as gone.
//!
//! Slots are `u64` ids of the caller's choosing (the slot of the
//! capability, in practice).

use alloc::vec::Vec;

use crate::{AllocError, IdMap};

/// How the kernel derives capabilities to an object, which decides what a
/// revocation deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    /// An endpoint or a notification: a copy with a new badge is
    /// revocable, a copy with its source's badge is not.
    Badged,
    /// An untyped: every copy is revocable.
    Untyped,
    /// Anything else: copies are never revocable.
    Other,
}

/// No slot (the end of a list).
const NONE: u64 = u64::MAX;

/// One tracked capability. An object is not stored on its own: its
/// capabilities form a list in the kernel's derivation order, each with
/// the object's untyped and kind, and the object is gone when the last one
/// leaves its list (no neighbour on either side).
#[derive(Debug, Clone, Copy)]
struct CapEntry {
    /// The untyped the object was made from.
    untyped: u64,
    badge: u64,
    /// Neighbours in the object's list, in the kernel's derivation order
    /// ([`NONE`] at the ends).
    prev: u64,
    next: u64,
    kind: ObjectKind,
    /// The caller's class of the object ([`CapRegistry::created_class`]).
    class: u8,
    /// The kernel's `mdbRevocable`.
    revocable: bool,
    /// The kernel's `mdbFirstBadged`.
    first_badged: bool,
}

impl CapEntry {
    /// The only capability of its object.
    #[inline(always)]
    fn alone(&self) -> bool {
        // Both ends are NONE (all ones) exactly when their AND is: one
        // test instead of two.
        (self.prev & self.next) == NONE
    }
}

/// The capabilities to objects made from untyped memory that the caller
/// created, copied, minted, moved and deleted; see the module
/// documentation.
#[derive(Debug, Clone, Default)]
pub struct CapRegistry {
    caps: IdMap<CapEntry>,
}

impl CapRegistry {
    /// An empty registry.
    pub fn new() -> CapRegistry {
        CapRegistry::default()
    }

    /// Tracked capabilities.
    pub fn len(&self) -> usize {
        self.caps.len()
    }

    /// Whether no capability is tracked.
    pub fn is_empty(&self) -> bool {
        self.caps.is_empty()
    }

    /// Objects with at least one tracked capability (counted: each has one
    /// capability first in its list).
    pub fn objects(&self) -> usize {
        self.caps.iter().filter(|(_, e)| e.prev == NONE).count()
    }

    /// Whether the capability in `slot` is tracked.
    #[inline]
    pub fn contains(&self, slot: u64) -> bool {
        self.caps.contains(slot)
    }

    /// The untyped the object named by the capability in `slot` was made
    /// from, if that capability is tracked.
    #[inline]
    pub fn untyped_of(&self, slot: u64) -> Option<u64> {
        self.caps.get(slot).map(|c| c.untyped)
    }

    /// The kind of the object named by the capability in `slot`, if that
    /// capability is tracked.
    #[inline]
    pub fn kind_of(&self, slot: u64) -> Option<ObjectKind> {
        self.caps.get(slot).map(|c| c.kind)
    }

    /// Tracked capabilities to the object the capability in `slot` names (0
    /// if that one is not tracked).
    pub fn caps_of(&self, slot: u64) -> usize {
        let Some(mut e) = self.caps.get(slot) else {
            return 0;
        };
        let mut n = 1;
        while e.prev != NONE {
            n += 1;
            e = self.entry(e.prev);
        }
        let mut e = self.entry(slot);
        while e.next != NONE {
            n += 1;
            e = self.entry(e.next);
        }
        n
    }

    /// Every tracked capability: (slot, untyped of its object).
    pub fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.caps.iter().map(|(s, c)| (s, c.untyped))
    }

    fn claim_slot(&self, slot: u64) -> Result<(), AllocError> {
        if self.caps.contains(slot) || slot == NONE {
            return Err(AllocError::SlotInUse { slot });
        }
        Ok(())
    }

    /// The entry of a tracked slot.
    #[inline]
    fn entry(&self, slot: u64) -> CapEntry {
        self.caps.get(slot).expect("a linked slot is tracked")
    }

    #[inline]
    fn set_next(&mut self, slot: u64, next: u64) {
        if slot != NONE {
            let mut e = self.entry(slot);
            e.next = next;
            self.caps.insert(slot, e);
        }
    }

    #[inline]
    fn set_prev(&mut self, slot: u64, prev: u64) {
        if slot != NONE {
            let mut e = self.entry(slot);
            e.prev = prev;
            self.caps.insert(slot, e);
        }
    }

    /// The caller's class of the object named by the capability in `slot`
    /// ([`CapRegistry::created_class`]), if that capability is tracked.
    #[inline]
    pub fn class_of(&self, slot: u64) -> Option<u8> {
        self.caps.get(slot).map(|c| c.class)
    }

    /// [`CapRegistry::created_class`] as a test: `false` (and nothing
    /// recorded) when `slot` is tracked already or is no slot.
    #[inline(always)]
    pub fn try_created(&mut self, slot: u64, untyped: u64, kind: ObjectKind, class: u8) -> bool {
        let entry = || CapEntry {
            untyped,
            badge: 0,
            prev: NONE,
            next: NONE,
            kind,
            class,
            revocable: true,
            first_badged: true,
        };
        match self.caps.insert_vacant_covered(slot, entry) {
            Some(inserted) => inserted,
            // NONE ends the lists: it is never a key. The map's table never
            // covers it (`IdMap::covers`), so only a key outside the table
            // needs the test.
            None => slot != NONE && self.caps.insert_vacant(slot, entry),
        }
    }

    /// Records a new object made from `untyped`, whose original capability
    /// is in `slot` (of class 0).
    #[inline]
    pub fn created(&mut self, slot: u64, untyped: u64, kind: ObjectKind) -> Result<(), AllocError> {
        self.created_class(slot, untyped, kind, 0)
    }

    /// [`CapRegistry::created`] with a class of the caller's choosing: a
    /// byte kept with every capability of the object (copies and moves
    /// included), for [`CapRegistry::class_of`].
    #[inline]
    pub fn created_class(
        &mut self,
        slot: u64,
        untyped: u64,
        kind: ObjectKind,
        class: u8,
    ) -> Result<(), AllocError> {
        if self.try_created(slot, untyped, kind, class) {
            Ok(())
        } else {
            Err(AllocError::SlotInUse { slot })
        }
    }

    /// Records a copy of the capability in `src` put into `dest` (a
    /// `CNode_Copy`, or a `CNode_Mint` with `badge`; `None` for a copy,
    /// which keeps the source's badge). Returns whether `src` is tracked
    /// (if not, nothing is recorded: the copy names an object the registry
    /// does not follow).
    pub fn derived(&mut self, src: u64, dest: u64, badge: Option<u64>) -> Result<bool, AllocError> {
        let Some(s) = self.caps.get(src) else {
            return Ok(false);
        };
        self.claim_slot(dest)?;
        let badge = match s.kind {
            ObjectKind::Badged => badge.unwrap_or(s.badge),
            _ => s.badge,
        };
        // The kernel's isCapRevocable.
        let revocable = match s.kind {
            ObjectKind::Badged => badge != s.badge,
            ObjectKind::Untyped => true,
            ObjectKind::Other => false,
        };
        // cteInsert: right after its source.
        self.caps.insert(
            dest,
            CapEntry {
                untyped: s.untyped,
                badge,
                prev: src,
                next: s.next,
                kind: s.kind,
                class: s.class,
                revocable,
                first_badged: revocable,
            },
        );
        self.set_prev(s.next, dest);
        self.set_next(src, dest);
        Ok(true)
    }

    /// Records that the capability in `from` moved to `to` (`CNode_Move`,
    /// `CNode_Mutate`, one half of `CNode_Rotate`; the kernel keeps its
    /// place in the derivation list). Returns whether `from` is tracked.
    pub fn moved(&mut self, from: u64, to: u64) -> Result<bool, AllocError> {
        let Some(e) = self.caps.get(from) else {
            return Ok(false);
        };
        self.claim_slot(to)?;
        self.caps.remove(from);
        self.caps.insert(to, e);
        self.set_next(e.prev, to);
        self.set_prev(e.next, to);
        Ok(true)
    }

    /// Takes the capability with entry `e` (already out of the map) out of
    /// its object's list; returns the object's untyped if it was the last.
    #[inline(always)]
    fn unlink(&mut self, e: CapEntry) -> Option<u64> {
        if e.alone() {
            return Some(e.untyped);
        }
        self.unlink_from_list(e.prev, e.next);
        None
    }

    /// Joins the neighbours `prev` and `next` of a capability that left
    /// its object's list.
    #[inline(never)]
    fn unlink_from_list(&mut self, prev: u64, next: u64) {
        self.set_next(prev, next);
        self.set_prev(next, prev);
    }

    /// Records that the capability in `slot` was deleted. Returns the
    /// untyped its object came from when that was the object's last
    /// capability (the object is gone), `None` otherwise or when `slot` is
    /// not tracked.
    #[inline(always)]
    pub fn deleted(&mut self, slot: u64) -> Option<u64> {
        let e = self.caps.remove(slot)?;
        self.unlink(e)
    }

    /// Deletes the capability in `slot` when it is the only capability of
    /// an object of `class` (and kept in the table part of the map, as
    /// root CNode slots are): runs `delete` (the caller's deletion in the
    /// kernel) and, if that succeeded, records that the object is gone and
    /// returns the untyped it came from. `None` (and `delete` not run) when
    /// `slot` is no such capability; `Some(Err)` (and nothing recorded)
    /// when `delete` failed. The registry is borrowed throughout, so the
    /// record found is the record removed.
    #[inline(always)]
    pub fn delete_sole<E>(
        &mut self,
        slot: u64,
        class: u8,
        delete: impl FnOnce() -> Result<(), E>,
    ) -> Option<Result<u64, E>> {
        let held = self.caps.hold(slot)?;
        let e = held.value();
        if e.class != class || !e.alone() {
            return None;
        }
        if let Err(err) = delete() {
            return Some(Err(err));
        }
        held.remove();
        Some(Ok(e.untyped))
    }

    /// [`CapRegistry::deleted`] of a capability to an object of `class`:
    /// `None` (and nothing changed) when `slot` is not tracked or its
    /// object is of another class, else the untyped the object came from
    /// when that was its last capability.
    #[inline(always)]
    pub fn deleted_of_class(&mut self, slot: u64, class: u8) -> Option<Option<u64>> {
        let e = self.caps.remove_if(slot, |e| e.class == class)?;
        Some(self.unlink(e))
    }

    /// [`CapRegistry::deleted`] with the kind of the object: `None` when
    /// `slot` is not tracked, else the kind and, when that was its last
    /// capability, the untyped its object came from.
    #[inline]
    pub fn deleted_kind(&mut self, slot: u64) -> Option<(ObjectKind, Option<u64>)> {
        let e = self.caps.remove(slot)?;
        Some((e.kind, self.unlink(e)))
    }

    /// The kernel's isMDBParentOf for two capabilities of one object.
    fn parent_of(a: &CapEntry, b: &CapEntry) -> bool {
        if !a.revocable {
            return false;
        }
        match a.kind {
            ObjectKind::Badged if a.badge != 0 => b.badge == a.badge && !b.first_badged,
            _ => true,
        }
    }

    /// Records a `CNode_Revoke` of the capability in `slot`: the kernel
    /// deleted the capabilities right after it in its derivation list of
    /// which it is a parent. The capability in `slot` stays (and with it
    /// the object). Returns the slots the kernel emptied.
    pub fn revoked(&mut self, slot: u64) -> Vec<u64> {
        let mut out = Vec::new();
        let Some(a) = self.caps.get(slot) else {
            return out;
        };
        loop {
            // `a.next` is re-read: each deletion relinks `slot`.
            let next = self.entry(slot).next;
            if next == NONE {
                break;
            }
            let b = self.entry(next);
            if !Self::parent_of(&a, &b) {
                break;
            }
            out.push(next);
            self.caps.remove(next);
            // The revoked capability stays, so the object does too.
            let _ = self.unlink(b);
        }
        out
    }

    /// The slots a `CNode_Revoke` of the capability in `slot` would empty
    /// (what [`CapRegistry::revoked`] would return), without recording
    /// anything.
    pub fn revoke_preview(&self, slot: u64) -> Vec<u64> {
        let mut out = Vec::new();
        let Some(a) = self.caps.get(slot) else {
            return out;
        };
        let mut next = a.next;
        while next != NONE {
            let b = self.entry(next);
            if !Self::parent_of(&a, &b) {
                break;
            }
            out.push(next);
            next = b.next;
        }
        out
    }

    /// Forgets every capability whose slot satisfies `gone` (the kernel
    /// deleted them: the contents of a CNode that was destroyed, for
    /// example). Returns, for each object whose last capability went, the
    /// untyped it came from.
    pub fn forget_slots(&mut self, mut gone: impl FnMut(u64) -> bool) -> Vec<u64> {
        let slots: Vec<u64> = self
            .caps
            .iter()
            .map(|(s, _)| s)
            .filter(|&s| gone(s))
            .collect();
        slots.into_iter().filter_map(|s| self.deleted(s)).collect()
    }

    /// Forgets every object made from one of `untypeds` and its
    /// capabilities (after a revocation of those untypeds, which deletes
    /// all of them; the untypeds' bookkeeping is reset separately, with
    /// [`UntypedAllocator::reclaim`](crate::UntypedAllocator::reclaim)).
    /// Returns the slots of the capabilities forgotten.
    pub fn forget_untypeds(&mut self, untypeds: &[u64]) -> Vec<u64> {
        let slots: Vec<u64> = self
            .iter()
            .filter(|(_, u)| untypeds.contains(u))
            .map(|(s, _)| s)
            .collect();
        for &s in &slots {
            self.deleted(s);
        }
        slots
    }
}
