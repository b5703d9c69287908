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

#[derive(Debug, Clone, Copy)]
struct CapEntry {
    object: u32,
    badge: u64,
    /// The kernel's `mdbRevocable`.
    revocable: bool,
    /// The kernel's `mdbFirstBadged`.
    first_badged: bool,
    /// Neighbours in the object's list, in the kernel's derivation order
    /// ([`NONE`] at the ends).
    prev: u64,
    next: u64,
}

#[derive(Debug, Clone, Copy)]
struct ObjectEntry {
    untyped: u64,
    kind: ObjectKind,
    /// The first of its capabilities in the kernel's derivation order.
    first: u64,
    /// Tracked capabilities to it; 0 for a free entry.
    caps: u32,
}

/// The capabilities to objects made from untyped memory that the caller
/// created, copied, minted, moved and deleted; see the module
/// documentation.
#[derive(Debug, Clone, Default)]
pub struct CapRegistry {
    caps: IdMap<CapEntry>,
    objects: Vec<ObjectEntry>,
    free_objects: Vec<u32>,
    live: usize,
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

    /// Objects with at least one tracked capability.
    pub fn objects(&self) -> usize {
        self.live
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
        let c = self.caps.get(slot)?;
        Some(self.objects[c.object as usize].untyped)
    }

    /// Tracked capabilities to the object the capability in `slot` names (0
    /// if that one is not tracked).
    pub fn caps_of(&self, slot: u64) -> usize {
        self.caps
            .get(slot)
            .map_or(0, |c| self.objects[c.object as usize].caps as usize)
    }

    /// Every tracked capability: (slot, untyped of its object).
    pub fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.caps
            .iter()
            .map(|(s, c)| (s, self.objects[c.object as usize].untyped))
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

    /// Records a new object made from `untyped`, whose original capability
    /// is in `slot`.
    #[inline]
    pub fn created(&mut self, slot: u64, untyped: u64, kind: ObjectKind) -> Result<(), AllocError> {
        if slot == NONE {
            return Err(AllocError::SlotInUse { slot });
        }
        let o = ObjectEntry {
            untyped,
            kind,
            first: slot,
            caps: 1,
        };
        let object = match self.free_objects.last() {
            Some(&i) => i,
            None => self.objects.len() as u32,
        };
        let entry = CapEntry {
            object,
            badge: 0,
            revocable: true,
            first_badged: true,
            prev: NONE,
            next: NONE,
        };
        // One lookup: insert, and put back what was there on a clash.
        if let Some(old) = self.caps.insert(slot, entry) {
            self.caps.insert(slot, old);
            return Err(AllocError::SlotInUse { slot });
        }
        match self.free_objects.pop() {
            Some(i) => self.objects[i as usize] = o,
            None => self.objects.push(o),
        }
        self.live += 1;
        Ok(())
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
        let o = &mut self.objects[s.object as usize];
        o.caps += 1;
        let badge = match o.kind {
            ObjectKind::Badged => badge.unwrap_or(s.badge),
            _ => s.badge,
        };
        // The kernel's isCapRevocable.
        let revocable = match o.kind {
            ObjectKind::Badged => badge != s.badge,
            ObjectKind::Untyped => true,
            ObjectKind::Other => false,
        };
        // cteInsert: right after its source.
        self.caps.insert(
            dest,
            CapEntry {
                object: s.object,
                badge,
                revocable,
                first_badged: revocable,
                prev: src,
                next: s.next,
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
        let o = &mut self.objects[e.object as usize];
        if o.first == from {
            o.first = to;
        }
        Ok(true)
    }

    /// Takes the capability in `slot` (with entry `e`, already out of the
    /// map) out of its object's list; returns the object's untyped if it
    /// was the last.
    #[inline]
    fn unlink(&mut self, slot: u64, e: CapEntry) -> Option<u64> {
        self.set_next(e.prev, e.next);
        self.set_prev(e.next, e.prev);
        let o = &mut self.objects[e.object as usize];
        if o.first == slot {
            o.first = e.next;
        }
        o.caps -= 1;
        if o.caps == 0 {
            let u = o.untyped;
            self.free_objects.push(e.object);
            self.live -= 1;
            Some(u)
        } else {
            None
        }
    }

    /// Records that the capability in `slot` was deleted. Returns the
    /// untyped its object came from when that was the object's last
    /// capability (the object is gone), `None` otherwise or when `slot` is
    /// not tracked.
    #[inline]
    pub fn deleted(&mut self, slot: u64) -> Option<u64> {
        let e = self.caps.remove(slot)?;
        self.unlink(slot, e)
    }

    /// The kernel's isMDBParentOf for two capabilities of one object.
    fn parent_of(kind: ObjectKind, a: &CapEntry, b: &CapEntry) -> bool {
        if !a.revocable {
            return false;
        }
        match kind {
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
        let kind = self.objects[a.object as usize].kind;
        loop {
            // `a.next` is re-read: each deletion relinks `slot`.
            let next = self.entry(slot).next;
            if next == NONE {
                break;
            }
            let b = self.entry(next);
            if !Self::parent_of(kind, &a, &b) {
                break;
            }
            out.push(next);
            self.caps.remove(next);
            // The revoked capability stays, so the object does too.
            let _ = self.unlink(next, b);
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
        let kind = self.objects[a.object as usize].kind;
        let mut next = a.next;
        while next != NONE {
            let b = self.entry(next);
            if !Self::parent_of(kind, &a, &b) {
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
