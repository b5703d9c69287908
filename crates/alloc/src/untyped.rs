//! Untyped memory: where the kernel puts retyped objects.
//!
//! The kernel's rule (seL4_Untyped_Retype, the same in 5.x and 16.x): an
//! untyped capability covers `2^size_bits` bytes at a physical address
//! aligned to that size and keeps a *free index*, the offset of its first
//! unused byte. A retype of `count` objects of `2^b` bytes puts the first
//! object at the free index rounded up to `2^b`, the others right after it,
//! and moves the free index past the last one. Memory below the free index
//! is never handed out again until the untyped has no children left: then
//! the next retype starts from offset 0 again (after `seL4_CNode_Revoke` on
//! the untyped, for example).
//!
//! [`UntypedAllocator`] keeps a *watermark* per untyped that follows the
//! free index. It only moves up, and back to 0 through
//! [`UntypedAllocator::reclaim`], which the caller calls after revoking the
//! untyped, or when the last object made from it is gone
//! ([`UntypedAllocator::free_objects`]): the kernel resets an untyped that
//! has no children left at its next retype, so a caller that deletes
//! objects without telling the allocator makes its placements wrong (the
//! physical addresses of carved untypeds, in particular).
//!
//! "Children" are capabilities, not objects: a copy or a badged copy of an
//! object's capability keeps the untyped from being reset as long as it
//! lives. An object is gone only when its last capability is; that is what
//! [`crate::CapRegistry`] follows.

use alloc::vec::Vec;

use crate::{AllocError, IdMap};

/// The kernel's smallest untyped (seL4_MinUntypedBits, 4 on every
/// architecture).
pub const MIN_UNTYPED_BITS: u8 = 4;

/// The largest object size the allocator accepts (a word of 64 bits holds
/// the size). The kernel's own limit (seL4_MaxUntypedBits, 47 on x86_64) is
/// checked by the kernel.
pub const MAX_SIZE_BITS: u8 = 63;

/// RAM or device memory. The kernel lets device untypeds become frames and
/// untypeds only, and does not clear them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryKind {
    /// Ordinary memory: any kernel object can be made from it.
    Ram,
    /// Device memory (MMIO): frames and untypeds only, not cleared.
    Device,
}

impl MemoryKind {
    #[inline]
    fn is_device(self) -> bool {
        self == MemoryKind::Device
    }
}

/// The memory of one untyped capability, as bootinfo describes it (the one
/// descriptor of the project: [`sel4_bootinfo::UntypedDesc`]). The
/// allocator names each untyped by an id (in practice the slot of its
/// capability) next to it. The address is normally aligned to the size;
/// the kernel does not promise it for huge device untypeds (seL4 16 reports
/// one of 2^46 bytes at 2^39), so the allocator only needs 16-byte alignment
/// and aligns objects by their physical address, as the kernel does.
pub use sel4_bootinfo::UntypedDesc;

#[inline]
fn size_of(ut: &UntypedDesc) -> u64 {
    1u64 << ut.size_bits
}

#[inline]
fn contains(ut: &UntypedDesc, paddr: u64) -> bool {
    paddr >= ut.paddr && paddr - ut.paddr < size_of(ut)
}

/// Where a planned retype puts its objects: `count` objects of
/// `2^size_bits` bytes, the first at `paddr` (`offset` bytes into the
/// untyped `untyped`), the others right after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// The id of the untyped the objects are made from.
    pub untyped: u64,
    /// Physical address of the first object.
    pub paddr: u64,
    /// Bytes from the untyped's start to the first object.
    pub offset: u64,
    /// Each object is `2^size_bits` bytes.
    pub size_bits: u8,
    /// Number of objects.
    pub count: usize,
    prev_watermark: u64,
    new_watermark: u64,
}

impl Placement {
    /// Physical address of object `i` (`i < count`).
    pub fn object_paddr(&self, i: usize) -> u64 {
        self.paddr + ((i as u64) << self.size_bits)
    }

    /// Bytes the placement takes from the untyped, alignment padding
    /// included.
    pub fn consumed(&self) -> u64 {
        self.new_watermark - self.prev_watermark
    }
}

/// One step towards a frame at a physical address, from
/// [`UntypedAllocator::carve_step`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CarveStep {
    /// The untyped `id` is exactly the wanted frame's size, starts at the
    /// wanted address and is unused: retype it (after
    /// [`UntypedAllocator::alloc_from`]) into the frame.
    Ready {
        /// The untyped's id.
        untyped: u64,
    },
    /// Retype `placement.count` untypeds of `2^placement.size_bits` bytes
    /// out of `placement.untyped` (already reserved in the allocator), then
    /// register them with [`UntypedAllocator::add_children`]. The last of
    /// them contains the wanted address; those before it are padding that
    /// stays free for other requests. Then ask for the next step.
    Split {
        /// Where the child untypeds go.
        placement: Placement,
    },
}

/// Usage of one untyped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UntypedUsage {
    /// The id it was added with (its capability's slot, in practice).
    pub id: u64,
    /// Its memory.
    pub untyped: UntypedDesc,
    /// The untyped this one was carved from, if any.
    pub parent: Option<u64>,
    /// Bytes below the watermark (objects, child untypeds and alignment
    /// padding).
    pub used: u64,
    /// Bytes above the watermark.
    pub free: u64,
    /// Whether it is a [spare](UntypedAllocator::release): whole, waiting
    /// to be handed out again by [`UntypedAllocator::take_spare`].
    pub spare: bool,
    /// Whether it is [reserved](UntypedAllocator::reserve): only
    /// [`UntypedAllocator::alloc_from`] places objects in it.
    pub reserved: bool,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    id: u64,
    ut: UntypedDesc,
    watermark: u64,
    parent: Option<u64>,
    /// Objects (child untypeds included) made from this untyped and not
    /// yet freed: at zero the kernel starts again from offset 0.
    live: usize,
    /// Child untypeds registered with [`UntypedAllocator::add_children`]
    /// and not removed yet.
    children: usize,
    /// Out of the buckets: general requests never land here.
    reserved: bool,
    /// A reserved untyped given back whole ([`UntypedAllocator::release`]):
    /// its bytes count as free.
    spare: bool,
}

impl Entry {
    /// Offset of the first of `count` objects of `2^size_bits` bytes, if
    /// they fit above the watermark.
    #[inline]
    fn fit(&self, size_bits: u8, count: usize) -> Option<u64> {
        if size_bits > self.ut.size_bits {
            return None;
        }
        let obj = 1u64 << size_bits;
        // The kernel aligns the address, not the offset (the same thing for
        // an untyped aligned to its size).
        let start = align_up(self.ut.paddr.checked_add(self.watermark)?, obj)? - self.ut.paddr;
        let end = start.checked_add(obj.checked_mul(count as u64)?)?;
        (end <= size_of(&self.ut)).then_some(start)
    }

    #[inline]
    fn free(&self) -> u64 {
        size_of(&self.ut) - self.watermark
    }

    #[inline]
    fn kind(&self) -> usize {
        self.ut.is_device as usize
    }
}

/// The untypeds of one kind and one size.
#[derive(Debug, Clone, Default)]
struct Bucket {
    /// Slab indices, in increasing order of the untypeds' ids (so that a
    /// search can stop at the first member that fits without padding).
    members: Vec<u32>,
    /// At least the free bytes of every member (exact after a search of the
    /// whole bucket; allocations only lower the real figure).
    max_free: u64,
}

/// Untypeds by kind (RAM, device) and size (bits).
#[derive(Debug, Clone)]
struct Buckets {
    by_size: [[Bucket; SIZES]; 2],
    /// Bit `b` of `nonempty[kind]`: the bucket of size `b` has members.
    nonempty: [u64; 2],
}

const SIZES: usize = MAX_SIZE_BITS as usize + 1;

impl Default for Buckets {
    fn default() -> Self {
        Buckets {
            by_size: core::array::from_fn(|_| core::array::from_fn(|_| Bucket::default())),
            nonempty: [0; 2],
        }
    }
}

fn align_up(x: u64, align: u64) -> Option<u64> {
    Some(x.checked_add(align - 1)? & !(align - 1))
}

/// Bookkeeping over a set of untyped capabilities; see the module
/// documentation for the rule it follows.
///
/// Untypeds are found by id through an [`IdMap`] (constant time for
/// capability slots) and, for allocation, in buckets by kind and size, so
/// that a RAM request never looks at device untypeds and skips, in constant
/// time, every size whose untypeds are too full.
#[derive(Debug, Clone, Default)]
pub struct UntypedAllocator {
    /// Every untyped, in no particular order; `by_id` and the buckets
    /// hold indices into it.
    entries: Vec<Entry>,
    by_id: IdMap<u32>,
    buckets: Buckets,
    /// The answer of the last search for one object, while it is still
    /// the answer for the same size and kind (see [`LastFit`]; its `key`
    /// is [`NO_KEY`] when there is none).
    last: LastFit,
}

/// The untyped the last search for one object of `2^size_bits` bytes of a
/// kind chose. Every change to the untypeds other than another such object
/// placed in the same untyped, or that untyped becoming empty, forgets it
/// (a commit from anywhere else, an untyped added, removed, reserved or
/// emptied, a rollback), so while it is kept nothing else changed: every
/// smaller untyped still lacks room, and this one, which wastes nothing to
/// alignment for the same size now (its watermark is a multiple of it, or
/// 0), still wins its bucket if it has room. The next request of that size
/// and kind then takes it without a search, and gets exactly what the
/// search would give.
///
/// It also keeps where that next object goes, so a hit needs no search
/// and no fit computation: the untyped's watermark is always `next` while
/// this is kept (every other change to the untyped forgets it), a multiple
/// of the object size away from an aligned address (it is the end of the
/// last object placed, or the first fit after the untyped became empty).
///
/// While it is kept it is the record of its untyped's watermark and live
/// objects (its entry's figures are stale; [`UntypedAllocator::at`] reads
/// through it and [`UntypedAllocator::drop_last`] writes them back), so a
/// hit and the free of such an object touch this record only: no lookup,
/// no bounds check on the entries.
///
/// When this untyped becomes empty while it is kept, its bucket's
/// `max_free` hint is raised only when the answer is dropped or before the
/// next search (`hint_due`), so a create and delete in an otherwise empty
/// untyped do not touch the buckets.
#[derive(Debug, Clone, Copy, Default)]
struct LastFit {
    /// The requests it answers ([`last_key`] of their size and kind), or
    /// [`NO_KEY`]: none (then nothing else here means anything).
    key: u16,
    /// The bucket hint of this untyped is to be raised ([`UntypedAllocator::grew_by`]).
    hint_due: bool,
    i: u32,
    /// The untyped's id.
    id: u64,
    /// Offset of the next object; the untyped's watermark while `live` is
    /// not 0 (objects are placed one after the other from `first`).
    next: u64,
    /// Objects made from the untyped and not freed (the entry's `live`).
    live: usize,
    /// Offset of the first object when the untyped is empty (the first
    /// aligned address).
    first: u64,
    /// The largest offset at which one more object fits (the untyped's
    /// size minus the object's).
    max_next: u64,
}

/// [`LastFit::key`] of no answer.
const NO_KEY: u16 = 0;

/// [`LastFit::key`] of requests for one object of `2^size_bits` bytes of
/// `kind` (never [`NO_KEY`]).
#[inline(always)]
fn last_key(size_bits: u8, kind: MemoryKind) -> u16 {
    0x200 | (u16::from(size_bits) << 1) | kind.is_device() as u16
}

/// One object's place in the untyped of the last search for such an object
/// ([`UntypedAllocator::plan_last`]).
#[derive(Debug)]
#[must_use = "the object is placed by LastPlace::place"]
pub struct LastPlace<'a> {
    last: &'a mut LastFit,
    /// The object's size in bytes.
    size: u64,
}

impl LastPlace<'_> {
    /// The id of the untyped to retype the object from.
    #[inline(always)]
    pub fn untyped(&self) -> u64 {
        self.last.id
    }

    /// The object exists: it takes its place (at the untyped's watermark,
    /// which moves past it).
    #[inline(always)]
    pub fn place(self) {
        // No overflow: `plan_last` checked `next <= max_next`, the
        // untyped's size minus the object's.
        self.last.next += self.size;
        self.last.live += 1;
    }
}

impl LastFit {
    /// The untyped's watermark: 0 once every object is gone (the kernel
    /// starts again from offset 0), else the end of the last object.
    #[inline(always)]
    fn watermark(&self) -> u64 {
        if self.live == 0 {
            0
        } else {
            self.next
        }
    }
}

impl UntypedAllocator {
    /// An allocator with no untypeds.
    pub fn new() -> UntypedAllocator {
        UntypedAllocator::default()
    }

    /// Adds an untyped whose memory is all free (as bootinfo's untypeds are
    /// at boot).
    pub fn add(&mut self, id: u64, ut: UntypedDesc) -> Result<(), AllocError> {
        self.insert(id, ut, None)
    }

    fn insert(&mut self, id: u64, ut: UntypedDesc, parent: Option<u64>) -> Result<(), AllocError> {
        if ut.size_bits < MIN_UNTYPED_BITS
            || ut.size_bits > MAX_SIZE_BITS
            || ut.paddr & ((1 << MIN_UNTYPED_BITS) - 1) != 0
            || ut.paddr.checked_add(size_of(&ut) - 1).is_none()
        {
            return Err(AllocError::BadUntyped {
                id,
                paddr: ut.paddr,
                size_bits: ut.size_bits,
            });
        }
        if self.by_id.contains(id) {
            return Err(AllocError::DuplicateUntyped { id });
        }
        let e = Entry {
            id,
            ut,
            watermark: 0,
            parent,
            live: 0,
            children: 0,
            reserved: false,
            spare: false,
        };
        let i = self.entries.len() as u32;
        self.entries.push(e);
        self.by_id.insert(id, i);
        self.bucket_insert(i);
        if let Some(p) = parent {
            if let Some(pi) = self.by_id.get(p) {
                self.at_mut(pi).children += 1;
            }
        }
        Ok(())
    }

    /// Puts the untyped at index `i` into the bucket of its kind and size
    /// (members stay in id order).
    fn bucket_insert(&mut self, i: u32) {
        self.drop_last();
        let (id, k, b, free) = {
            let e = self.at(i);
            (e.id, e.kind(), e.ut.size_bits as usize, e.free())
        };
        let entries = &self.entries;
        let bucket = &mut self.buckets.by_size[k][b];
        let pos = bucket
            .members
            .partition_point(|&m| entries[m as usize].id < id);
        bucket.members.insert(pos, i);
        bucket.max_free = bucket.max_free.max(free);
        self.buckets.nonempty[k] |= 1 << b;
    }

    /// Takes the untyped at index `i` out of its bucket (if it is in one).
    fn bucket_remove(&mut self, i: u32) {
        self.drop_last();
        let (k, b) = {
            let e = self.at(i);
            (e.kind(), e.ut.size_bits as usize)
        };
        let bucket = &mut self.buckets.by_size[k][b];
        if let Some(pos) = bucket.members.iter().position(|&m| m == i) {
            bucket.members.remove(pos);
        }
        if bucket.members.is_empty() {
            bucket.max_free = 0;
            self.buckets.nonempty[k] &= !(1 << b);
        }
    }

    /// Takes the untyped at index `i` out of every index (the last entry
    /// moves to `i`).
    fn take(&mut self, i: u32) -> Entry {
        self.drop_last();
        self.bucket_remove(i);
        let e = self.entries.swap_remove(i as usize);
        self.by_id.remove(e.id);
        let last = self.entries.len() as u32;
        if let Some(moved) = self.entries.get(i as usize) {
            // It was at `last`: renumber it.
            let (id, mk, mb) = (moved.id, moved.kind(), moved.ut.size_bits as usize);
            self.by_id.insert(id, i);
            for m in self.buckets.by_size[mk][mb].members.iter_mut() {
                if *m == last {
                    *m = i;
                }
            }
        }
        if let Some(p) = e.parent {
            if let Some(pi) = self.by_id.get(p) {
                let pe = self.at_mut(pi);
                pe.children = pe.children.saturating_sub(1);
            }
        }
        e
    }

    /// Reserves the untyped `id` for its owner: general requests
    /// ([`UntypedAllocator::alloc`], [`UntypedAllocator::alloc_many`],
    /// [`UntypedAllocator::largest_free`]) never place anything in it any
    /// more, only [`UntypedAllocator::alloc_from`] does, and its free bytes
    /// no longer count as free (they are its owner's). For an untyped
    /// carved for a caller who retypes from it or revokes it.
    pub fn reserve(&mut self, id: u64) -> Result<(), AllocError> {
        let i = self.entry(id)?;
        if !self.at(i).reserved {
            self.bucket_remove(i);
            self.at_mut(i).reserved = true;
        }
        Ok(())
    }

    /// Takes back a reserved untyped whose owner is done with it: it must
    /// be empty (nothing made from it left: after
    /// [`UntypedAllocator::reclaim`]). It stays reserved, so general
    /// requests do not break it up, but its bytes count as free again, and
    /// [`UntypedAllocator::take_spare`] hands it out whole to the next
    /// owner that wants one of its size. (The kernel reuses an untyped's
    /// memory only once everything made from it is gone, so keeping the
    /// whole untyped is how its memory stays reusable while its
    /// neighbours in the parent live on.)
    pub fn release(&mut self, id: u64) -> Result<(), AllocError> {
        let i = self.entry(id)?;
        let e = self.at(i);
        if !e.reserved || e.live != 0 || e.children != 0 || e.watermark != 0 {
            return Err(AllocError::StalePlacement { id });
        }
        self.at_mut(i).spare = true;
        Ok(())
    }

    /// A spare untyped of exactly `2^size_bits` bytes of `kind`, if there
    /// is one: it is reserved for the caller again (no longer counted
    /// free). Returns its id.
    pub fn take_spare(&mut self, size_bits: u8, kind: MemoryKind) -> Option<u64> {
        let e = self.entries.iter_mut().find(|e| {
            e.spare && e.ut.size_bits == size_bits && e.ut.is_device == kind.is_device()
        })?;
        e.spare = false;
        Some(e.id)
    }

    /// The spare untypeds' ids.
    pub fn spares(&self) -> impl Iterator<Item = u64> + '_ {
        self.entries.iter().filter(|e| e.spare).map(|e| e.id)
    }

    /// The untyped at index `i`, with the watermark and live objects of
    /// the [`LastFit`] if it is that one's.
    #[inline]
    fn at(&self, i: u32) -> Entry {
        self.overlay(i, self.entries[i as usize])
    }

    /// `e`, the entry at index `i`, with the [`LastFit`]'s figures if it
    /// is that one's.
    #[inline]
    fn overlay(&self, i: u32, mut e: Entry) -> Entry {
        let l = &self.last;
        if l.key != NO_KEY && l.i == i {
            e.watermark = l.watermark();
            e.live = l.live;
        }
        e
    }

    /// Every entry, as [`UntypedAllocator::at`] reads it.
    fn entries_now(&self) -> impl Iterator<Item = Entry> + '_ {
        self.entries
            .iter()
            .enumerate()
            .map(|(i, e)| self.overlay(i as u32, *e))
    }

    /// The untyped at index `i`, to change: the [`LastFit`] is written
    /// back and forgotten first.
    #[inline]
    fn at_mut(&mut self, i: u32) -> &mut Entry {
        self.drop_last();
        &mut self.entries[i as usize]
    }

    /// Notes that the untyped at `i` has more free bytes than before.
    #[inline]
    fn grew(&mut self, i: u32) {
        self.drop_last();
        let free = self.at(i).free();
        self.grew_by(i, free);
    }

    /// The bucket hint of [`UntypedAllocator::grew`]: the untyped at `i`
    /// has `free` bytes now.
    #[inline(always)]
    fn grew_by(&mut self, i: u32, free: u64) {
        let e = self.at(i);
        if e.reserved {
            return;
        }
        let (k, b) = (e.kind(), e.ut.size_bits as usize);
        if let Some(bucket) = self.buckets.by_size[k].get_mut(b) {
            bucket.max_free = bucket.max_free.max(free);
        }
    }

    #[inline(always)]
    fn entry(&self, id: u64) -> Result<u32, AllocError> {
        self.by_id.get(id).ok_or(AllocError::UnknownUntyped { id })
    }

    /// Whether an untyped with this id is known.
    #[inline]
    pub fn contains(&self, id: u64) -> bool {
        self.by_id.contains(id)
    }

    /// The untyped with this id.
    #[inline]
    pub fn get(&self, id: u64) -> Option<UntypedUsage> {
        self.by_id.get(id).map(|i| Self::usage_of(&self.at(i)))
    }

    #[inline]
    fn usage_of(e: &Entry) -> UntypedUsage {
        UntypedUsage {
            id: e.id,
            untyped: e.ut,
            parent: e.parent,
            used: e.watermark,
            free: e.free(),
            spare: e.spare,
            reserved: e.reserved,
        }
    }

    /// Every untyped (carved children included) with its usage.
    pub fn iter(&self) -> impl Iterator<Item = UntypedUsage> + '_ {
        self.entries_now().map(|e| Self::usage_of(&e))
    }

    /// Number of untypeds known (carved children included).
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether no untyped is known.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    #[inline]
    fn check_request(size_bits: u8, count: usize) -> Result<(), AllocError> {
        if size_bits > MAX_SIZE_BITS
            || count == 0
            || (count as u64).checked_mul(1u64 << size_bits).is_none()
        {
            return Err(AllocError::BadObjectSize { size_bits, count });
        }
        Ok(())
    }

    /// Takes `count` objects at `offset` of the untyped at `i`.
    #[inline]
    fn commit(&mut self, i: u32, size_bits: u8, count: usize, offset: u64) -> Placement {
        self.drop_last();
        self.place(i, size_bits, count, offset)
    }

    /// [`UntypedAllocator::commit`] keeping [`LastFit`] (its own hits).
    #[inline(always)]
    fn place(&mut self, i: u32, size_bits: u8, count: usize, offset: u64) -> Placement {
        let e = self.at_mut(i);
        let prev = e.watermark;
        e.watermark = offset + ((count as u64) << size_bits);
        e.live += count;
        Placement {
            untyped: e.id,
            paddr: e.ut.paddr + offset,
            offset,
            size_bits,
            count,
            prev_watermark: prev,
            new_watermark: e.watermark,
        }
    }

    /// Plans one object of `2^size_bits` bytes of the given kind.
    pub fn alloc(&mut self, size_bits: u8, kind: MemoryKind) -> Result<Placement, AllocError> {
        self.alloc_many(size_bits, 1, kind)
    }

    /// Plans `count` objects of `2^size_bits` bytes, all from one untyped
    /// (one retype invocation). Picks the smallest untyped they fit in, then
    /// the one that wastes least to alignment, then the lowest id.
    #[inline]
    pub fn alloc_many(
        &mut self,
        size_bits: u8,
        count: usize,
        kind: MemoryKind,
    ) -> Result<Placement, AllocError> {
        // One object is by far the most frequent request: the untyped of
        // the last such request when it is still the answer (in line),
        // else a copy of the search with the count known.
        if count == 1 {
            match self.alloc_last(size_bits, kind) {
                Some(p) => Ok(p),
                None => self.alloc_one_searched(size_bits, kind),
            }
        } else {
            self.alloc_many_searched(size_bits, count, kind)
        }
    }

    /// One object of `2^size_bits` bytes from the untyped of the last
    /// search for one such object, when that is still the answer and it
    /// has room (see [`LastFit`]); `None` otherwise (then
    /// [`UntypedAllocator::alloc`] searches). Exactly what `alloc` would
    /// plan when it is `Some`.
    #[inline(always)]
    pub fn alloc_last(&mut self, size_bits: u8, kind: MemoryKind) -> Option<Placement> {
        let l = &mut self.last;
        if l.key != last_key(size_bits, kind) || l.next > l.max_next {
            return None;
        }
        let (offset, prev) = (l.next, l.watermark());
        l.next += 1 << size_bits;
        l.live += 1;
        let (untyped, i) = (l.id, l.i);
        let paddr = self.entries[i as usize].ut.paddr + offset;
        Some(Placement {
            untyped,
            paddr,
            offset,
            size_bits,
            count: 1,
            prev_watermark: prev,
            new_watermark: offset + (1 << size_bits),
        })
    }

    /// [`UntypedAllocator::alloc_last`] for a caller that places the
    /// object only once it exists: when the untyped of the last search for
    /// one object of `2^size_bits` bytes of `kind` is still the answer and
    /// has room, that answer, to place the object with
    /// ([`LastPlace::place`]) once the caller has retyped
    /// [`LastPlace::untyped`], or to drop (nothing placed) if that failed.
    /// `None` otherwise: then the caller searches
    /// ([`UntypedAllocator::alloc`]). The answer borrows the allocator, so
    /// nothing changes it between the answer and the placement.
    #[inline(always)]
    pub fn plan_last(&mut self, size_bits: u8, kind: MemoryKind) -> Option<LastPlace<'_>> {
        let l = &mut self.last;
        if l.key != last_key(size_bits, kind) || l.next > l.max_next {
            return None;
        }
        Some(LastPlace {
            last: l,
            size: 1 << size_bits,
        })
    }

    /// The [`LastFit`] for one object of `2^size_bits` bytes of `kind` in
    /// the untyped at `i`, if it has room.
    fn last_fit(&self, i: u32, size_bits: u8, kind: MemoryKind) -> Option<LastFit> {
        let e = self.at(i);
        let next = e.fit(size_bits, 1)?;
        let obj = 1u64 << size_bits;
        Some(LastFit {
            key: last_key(size_bits, kind),
            hint_due: false,
            i,
            id: e.id,
            next,
            live: e.live,
            // `paddr + obj - 1` is inside the untyped (the object fits it):
            // no overflow.
            first: ((e.ut.paddr + (obj - 1)) & !(obj - 1)) - e.ut.paddr,
            // The object fits: the size is at least `obj`.
            max_next: size_of(&e.ut) - obj,
        })
    }

    /// [`UntypedAllocator::alloc_many`] of one object by a search, which
    /// becomes the [`LastFit`].
    #[inline(never)]
    pub fn alloc_one_searched(
        &mut self,
        size_bits: u8,
        kind: MemoryKind,
    ) -> Result<Placement, AllocError> {
        let p = self.plan(size_bits, 1, kind)?;
        // `plan` committed to the untyped `p.untyped` (and forgot the last
        // answer).
        self.drop_last();
        if let Some(i) = self.by_id.get(p.untyped) {
            if let Some(l) = self.last_fit(i, size_bits, kind) {
                self.last = l;
            }
        }
        Ok(p)
    }

    /// [`UntypedAllocator::alloc_many`] of several objects.
    #[inline(never)]
    fn alloc_many_searched(
        &mut self,
        size_bits: u8,
        count: usize,
        kind: MemoryKind,
    ) -> Result<Placement, AllocError> {
        self.plan(size_bits, count, kind)
    }

    /// Forgets the [`LastFit`] (tests compare against a fresh search).
    #[cfg(test)]
    pub(crate) fn forget_last(&mut self) {
        self.drop_last();
    }

    /// Forgets the [`LastFit`], writing its figures back to its untyped's
    /// entry and raising that one's bucket hint if that is due.
    #[inline]
    fn drop_last(&mut self) {
        if self.last.key != NO_KEY {
            self.flush_last_hint();
            let l = self.last;
            self.last.key = NO_KEY;
            let e = &mut self.entries[l.i as usize];
            e.watermark = l.watermark();
            e.live = l.live;
        }
    }

    /// Raises the bucket hint of the [`LastFit`]'s untyped if that is due
    /// (before a search reads the hints).
    #[inline]
    fn flush_last_hint(&mut self) {
        let l = &mut self.last;
        if l.key != NO_KEY && l.hint_due {
            l.hint_due = false;
            let i = l.i;
            let free = self.at(i).free();
            self.grew_by(i, free);
        }
    }

    /// [`UntypedAllocator::alloc_many`]'s search.
    #[inline(always)]
    fn plan(
        &mut self,
        size_bits: u8,
        count: usize,
        kind: MemoryKind,
    ) -> Result<Placement, AllocError> {
        Self::check_request(size_bits, count)?;
        // The search reads the bucket hints: all of them up to date.
        self.flush_last_hint();
        let need = (count as u64) << size_bits;
        let k = kind.is_device() as usize;
        // Sizes from `size_bits` up that have untypeds, smallest first.
        let mut sizes = self.buckets.nonempty[k] & (u64::MAX << size_bits);
        while sizes != 0 {
            let b = sizes.trailing_zeros() as usize;
            sizes &= sizes - 1;
            let bucket = &self.buckets.by_size[k][b];
            if bucket.max_free < need {
                continue;
            }
            if let [i] = bucket.members[..] {
                // One candidate: no choice to make.
                let e = self.at(i);
                let (fit, free) = (e.fit(size_bits, count), e.free());
                self.buckets.by_size[k][b].max_free = free;
                match fit {
                    Some(off) => return Ok(self.commit(i, size_bits, count, off)),
                    None => continue,
                }
            }
            // Members are in id order: the least padding wins, the lowest id
            // among equals, so the first fit without padding is the answer.
            let mut best: Option<(u32, u64, u64)> = None;
            let mut max_free = 0;
            let mut whole = true;
            for &i in &bucket.members {
                let e = self.at(i);
                max_free = max_free.max(e.free());
                if let Some(off) = e.fit(size_bits, count) {
                    let pad = off - e.watermark;
                    if best.map_or(true, |(_, _, bp)| pad < bp) {
                        best = Some((i, off, pad));
                        if pad == 0 {
                            whole = false;
                            break;
                        }
                    }
                }
            }
            if whole {
                // Searched every member: the figure is exact again.
                self.buckets.by_size[k][b].max_free = max_free;
            }
            if let Some((i, off, _)) = best {
                return Ok(self.commit(i, size_bits, count, off));
            }
        }
        Err(AllocError::UntypedExhausted {
            size_bits,
            count,
            device: kind.is_device(),
        })
    }

    /// Plans `count` objects of `2^size_bits` bytes from the untyped `id`.
    pub fn alloc_from(
        &mut self,
        id: u64,
        size_bits: u8,
        count: usize,
    ) -> Result<Placement, AllocError> {
        Self::check_request(size_bits, count)?;
        let i = self.entry(id)?;
        let e = self.at(i);
        if e.spare {
            // Held by the allocator until take_spare hands it out.
            return Err(AllocError::StalePlacement { id });
        }
        let off = e.fit(size_bits, count).ok_or(AllocError::UntypedFull {
            id,
            size_bits,
            count,
            free: e.free(),
        })?;
        Ok(self.commit(i, size_bits, count, off))
    }

    /// Undoes a placement whose retype the kernel refused. Only the latest
    /// placement of an untyped can be undone, once.
    pub fn rollback(&mut self, p: &Placement) -> Result<(), AllocError> {
        let i = self.entry(p.untyped)?;
        let end = p.new_watermark;
        let e = self.at(i);
        let base = e.ut.paddr;
        let has_children = e.children != 0
            && self.entries.iter().any(|c| {
                c.parent == Some(p.untyped) && c.ut.paddr >= p.paddr && c.ut.paddr < base + end
            });
        let e = self.at_mut(i);
        if e.watermark != end || has_children {
            return Err(AllocError::StalePlacement { id: p.untyped });
        }
        e.watermark = p.prev_watermark;
        e.live -= p.count;
        self.grew(i);
        Ok(())
    }

    /// Registers the untypeds that a retype of `p` created, with the ids
    /// `first_id..first_id + p.count` (their slots). They inherit the
    /// parent's kind and start unused.
    pub fn add_children(&mut self, p: &Placement, first_id: u64) -> Result<(), AllocError> {
        let i = self.entry(p.untyped)?;
        if p.size_bits < MIN_UNTYPED_BITS {
            return Err(AllocError::NotUntypedPlacement {
                id: p.untyped,
                size_bits: p.size_bits,
            });
        }
        let pe = self.at(i);
        let parent = pe.ut;
        if pe.watermark < p.new_watermark || p.paddr != parent.paddr + p.offset {
            return Err(AllocError::StalePlacement { id: p.untyped });
        }
        // Check every id first, so that a failure adds nothing.
        for k in 0..p.count as u64 {
            let id = first_id.wrapping_add(k);
            if self.by_id.contains(id) {
                return Err(AllocError::DuplicateUntyped { id });
            }
        }
        for k in 0..p.count {
            self.insert(
                first_id.wrapping_add(k as u64),
                UntypedDesc {
                    paddr: p.object_paddr(k),
                    size_bits: p.size_bits,
                    is_device: parent.is_device,
                },
                Some(p.untyped),
            )?;
        }
        Ok(())
    }

    /// The most deeply carved untyped that covers `paddr`.
    pub fn untyped_at(&self, paddr: u64) -> Option<UntypedUsage> {
        self.leaf_at(paddr).map(|i| Self::usage_of(&self.at(i)))
    }

    fn leaf_at(&self, paddr: u64) -> Option<u32> {
        self.entries
            .iter()
            .enumerate()
            .map(|(i, e)| (i as u32, e))
            .filter(|(_, e)| contains(&e.ut, paddr))
            .min_by_key(|(_, e)| e.ut.size_bits)
            .map(|(i, _)| i)
    }

    /// The next step to reach a frame of `2^size_bits` bytes at `paddr`
    /// (device memory, usually): the untyped covering `paddr` is split,
    /// largest pieces first, until an unused untyped of exactly the frame's
    /// size starts at `paddr`. A split step is already reserved; undo it
    /// with [`UntypedAllocator::rollback`] if the kernel refuses it.
    pub fn carve_step(&mut self, paddr: u64, size_bits: u8) -> Result<CarveStep, AllocError> {
        if !(MIN_UNTYPED_BITS..=MAX_SIZE_BITS).contains(&size_bits) {
            return Err(AllocError::BadObjectSize {
                size_bits,
                count: 1,
            });
        }
        let t = 1u64 << size_bits;
        if paddr & (t - 1) != 0 {
            return Err(AllocError::MisalignedPhys { paddr, size_bits });
        }
        let i = self
            .leaf_at(paddr)
            .ok_or(AllocError::NoUntypedAt { paddr })?;
        let e = self.at(i);
        let id = e.id;
        if size_bits > e.ut.size_bits {
            return Err(AllocError::UntypedFull {
                id,
                size_bits,
                count: 1,
                free: e.free(),
            });
        }
        let base = e.ut.paddr;
        let end = base + (size_of(&e.ut) - 1); // inclusive, cannot overflow
        let free = base + e.watermark;
        // `t <= size`, so the rounding stays within the untyped's range.
        if paddr < align_up(free, t).unwrap_or(u64::MAX) {
            return Err(AllocError::PhysInUse { paddr, id });
        }
        if e.ut.size_bits == size_bits && base == paddr {
            return Ok(CarveStep::Ready { untyped: id });
        }
        // The largest k whose first free aligned block is not past the
        // block of 2^k bytes holding `paddr`, which must end inside the
        // untyped; k = size_bits always qualifies for an untyped aligned to
        // its size.
        let found = (size_bits..e.ut.size_bits).rev().find_map(|k| {
            let block = paddr & !((1u64 << k) - 1);
            let a = align_up(free, 1 << k)?;
            let last = block.checked_add((1u64 << k) - 1)?;
            (a <= block && last <= end).then_some((k, a, block))
        });
        let (k, first, block) = found.ok_or(AllocError::UntypedFull {
            id,
            size_bits,
            count: 1,
            free: e.free(),
        })?;
        let count = ((block - first) >> k) as usize + 1;
        let placement = self.commit(i, k, count, first - base);
        Ok(CarveStep::Split { placement })
    }

    /// Forgets everything carved from and allocated in the untyped `id`:
    /// call after `seL4_CNode_Revoke` on it, which deletes every capability
    /// derived from it. Returns the ids of the child untypeds that were
    /// removed (at any depth), whose slots the revoke emptied.
    pub fn reclaim(&mut self, id: u64) -> Result<Vec<u64>, AllocError> {
        let i = self.entry(id)?;
        let e = self.at_mut(i);
        e.watermark = 0;
        e.live = 0;
        let has_children = e.children != 0;
        self.grew(i);
        let mut removed = Vec::new();
        if !has_children {
            return Ok(removed);
        }
        let mut frontier = alloc::vec![id];
        while let Some(parent) = frontier.pop() {
            // `take` moves the last entry to the index it empties: look at
            // the same index again after a removal.
            let mut j = 0;
            while j < self.entries.len() {
                if self.entries[j].parent == Some(parent) {
                    let child = self.take(j as u32).id;
                    removed.push(child);
                    frontier.push(child);
                } else {
                    j += 1;
                }
            }
        }
        Ok(removed)
    }

    /// Records that `n` objects made from the untyped `id` were deleted.
    /// When none is left the kernel starts the next retype from offset 0
    /// again, and so does the allocator (the untyped's watermark drops to
    /// 0). Child untypeds count as objects: they must be removed with
    /// [`UntypedAllocator::remove`] first.
    #[inline(always)]
    pub fn free_objects(&mut self, id: u64, n: usize) -> Result<(), AllocError> {
        // The untyped of the last one-object placement: its record is the
        // [`LastFit`], no lookup.
        let l = &mut self.last;
        if l.id == id && l.key != NO_KEY {
            // Checked: freeing more objects than were made would make the
            // allocator place objects where the kernel will not (it resets
            // the untyped only when the last one is gone).
            if n > l.live {
                return Err(AllocError::StalePlacement { id });
            }
            l.live -= n;
            if l.live == 0 {
                // No object left: the kernel starts the next retype from
                // offset 0. The last answer stays the answer (empty now,
                // it still wins, see `LastFit`); its next object goes at
                // the first aligned address, its bucket hint is raised
                // later.
                l.next = l.first;
                l.hint_due = true;
            }
            return Ok(());
        }
        self.free_other_objects(id, n)
    }

    /// [`UntypedAllocator::free_objects`] of an untyped that is not the
    /// [`LastFit`]'s.
    #[inline(never)]
    fn free_other_objects(&mut self, id: u64, n: usize) -> Result<(), AllocError> {
        let i = self.entry(id)?;
        // Not the last answer's untyped (that one has another id, or
        // there is none): its entry is up to date.
        let e = &mut self.entries[i as usize];
        if n > e.live {
            return Err(AllocError::StalePlacement { id });
        }
        e.live -= n;
        if e.live == 0 {
            e.watermark = 0;
            // Another one that became empty may be better than the last
            // answer: forget that.
            let free = e.free();
            self.grew_by(i, free);
            self.drop_last();
        }
        Ok(())
    }

    /// Forgets a carved untyped that was deleted (nothing made from it may
    /// be left); counts as one freed object of its
    /// parent.
    pub fn remove(&mut self, id: u64) -> Result<(), AllocError> {
        let i = self.entry(id)?;
        let e = self.at(i);
        if e.live != 0 || e.children != 0 {
            return Err(AllocError::StalePlacement { id });
        }
        let e = self.take(i);
        if let Some(parent) = e.parent {
            self.free_objects(parent, 1)?;
        }
        Ok(())
    }

    /// Bytes of the top-level untypeds of a kind (carved children are
    /// inside their parents).
    pub fn total_bytes(&self, kind: MemoryKind) -> u64 {
        self.entries
            .iter()
            .filter(|e| e.parent.is_none() && e.ut.is_device == kind.is_device())
            .map(|e| size_of(&e.ut))
            .sum()
    }

    /// Free bytes of a kind: above the watermark of every untyped, carved
    /// children included (their parents count them as used), reserved ones
    /// excluded (their memory is their owner's) unless they are spares.
    pub fn free_bytes(&self, kind: MemoryKind) -> u64 {
        self.entries_now()
            .filter(|e| e.ut.is_device == kind.is_device() && (!e.reserved || e.spare))
            .map(|e| e.free())
            .sum()
    }

    /// Used bytes of a kind (`total - free`).
    pub fn used_bytes(&self, kind: MemoryKind) -> u64 {
        self.total_bytes(kind) - self.free_bytes(kind)
    }

    /// The largest object size (bits) of a kind that one more allocation
    /// could get, if any.
    pub fn largest_free(&self, kind: MemoryKind) -> Option<u8> {
        let k = kind.is_device() as usize;
        let mut best: Option<u8> = None;
        for bucket in &self.buckets.by_size[k] {
            for &i in &bucket.members {
                let e = self.at(i);
                // Only sizes above the best so far can improve it.
                let lo = best.map_or(0, |b| b + 1);
                if let Some(b) = (lo..=e.ut.size_bits).rev().find(|&b| e.fit(b, 1).is_some()) {
                    best = Some(b);
                }
            }
        }
        best
    }
}
