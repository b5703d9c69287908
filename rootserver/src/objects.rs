//! [`Objects`], the owner of the root task's resources: its CSpace, its
//! untyped memory and its VSpace, and the memory of the threads it runs
//! (stacks parked in CNodes of its own, IPC buffers).

use alloc::vec::Vec;
use sel4_alloc::{AllocError, Untyped as UntypedDesc};
use sel4_sys::{consts, CPtr, ObjectType, Word};

use crate::cap::cap_type;
use crate::cnode::ALL_RIGHTS;
use crate::cspace::{CSpace, ChildCNode};
use crate::memory::UntypedPool;
use crate::untyped::Destination;
use crate::vspace::{self, Cache, VSpace, OBJECTS_WINDOW_END, OBJECTS_WINDOW_START};
use crate::{BootInfo, Cap, CapType, Error, FixedSize};
use crate::{Untyped, UntypedExt};

const PAGE: usize = 4096;
/// log2 of the slots of each CNode that holds stack frame capabilities.
pub const PARK_RADIX: u8 = 8;
/// [`Objects::new`] divides the objects window among the first
/// 2^`SHARE_BITS` slots of the root CNode (256 KiB of addresses per slot,
/// 512 KiB on a 2^12-slot root CNode); instances over slots beyond get no
/// window (threads fail to spawn with a window error).
pub const SHARE_BITS: u32 = 13;
/// Smallest untyped (log2 bytes) that [`Objects::new`] carves at a time out
/// of the untypeds it was given.
pub const CHUNK_BITS: u8 = 17;

/// The root task's resources: its CSpace (one slot allocator), its untyped
/// memory (one bookkeeping of where objects are) and its VSpace (one
/// allocator of virtual ranges and the paging structures). Everything the
/// framework creates (objects, badged copies, threads with their stacks and
/// IPC buffers) goes through them; use [`Objects::cspace_mut`],
/// [`Objects::pool_mut`], [`Objects::vspace_mut`] (or
/// [`Objects::parts_mut`]) for the rest, so that nothing else hands out the
/// same slots or memory.
pub struct Objects {
    cspace: CSpace,
    pool: UntypedPool,
    vspace: VSpace,
    /// Untypeds given to [`Objects::new`] without their size: carved into
    /// pool untypeds of at least 2^[`CHUNK_BITS`] bytes when the pool runs
    /// dry (the kernel places them, so the caller may keep retyping from
    /// them too).
    opaque: Vec<Cap<Untyped>>,
    /// CNodes holding the frame capabilities of thread stacks.
    parks: Vec<ChildCNode>,
    /// Paging structures the VSpace created while mapping thread stacks
    /// and IPC buffers.
    thread_tables: Vec<CPtr>,
    /// Distinguishes this instance from every other (for the threads it
    /// detached).
    instance: u64,
}

static NEXT_INSTANCE: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(1);

/// Dropping `Objects` deletes what it created for threads and keeps for
/// later ones: the CNodes that hold stack frames (which unmaps any stack
/// still mapped) and the paging structures created for stacks and IPC
/// buffers, so that once every thread is joined, no slot of its range is
/// left occupied by the thread machinery. Drop it only when none of its
/// threads runs any more. Objects and mappings handed to the caller stay.
impl Drop for Objects {
    fn drop(&mut self) {
        // Detached threads of this instance can no longer be torn down
        // here: forget them (what the runtime keeps for a thread that may
        // still run stays alive).
        crate::thread::forget_detached(self.instance);
        let (root, depth) = (self.cspace.root(), crate::cspace::depth());
        for p in self.parks.drain(..) {
            let _ = root.cnode_delete(p.cap().cptr(), depth);
        }
        // Lowest levels (created last) first.
        for t in self.thread_tables.drain(..).rev() {
            let _ = root.cnode_delete(t, depth);
        }
    }
}

/// A stack frame whose capability lives in one of the `Objects`' CNodes.
pub(crate) struct ParkedFrame {
    park: usize,
    index: u64,
    untyped: CPtr,
}

/// A reserved range of the VSpace: guard pages, then parked frames.
pub(crate) struct Region {
    pub(crate) start: u64,
    pub(crate) guard_pages: usize,
    pub(crate) frames: Vec<ParkedFrame>,
}

impl Region {
    pub(crate) fn top(&self) -> u64 {
        self.start + ((self.guard_pages + self.frames.len()) * PAGE) as u64
    }
}

/// The `Objects` variants of the allocators' exhaustion errors.
fn simple(e: Error) -> Error {
    match e {
        Error::Alloc(AllocError::SlotsExhausted { .. }) => Error::SlotsExhausted,
        Error::Alloc(AllocError::UntypedExhausted { size_bits, .. }) => Error::UntypedExhausted {
            size_bits: size_bits as usize,
        },
        e => e,
    }
}

fn untyped_exhausted(e: &Error) -> Option<u8> {
    match e {
        Error::Alloc(AllocError::UntypedExhausted { size_bits, .. }) => Some(*size_bits),
        Error::UntypedExhausted { size_bits } => Some(*size_bits as u8),
        _ => None,
    }
}

impl Objects {
    /// The root task's CSpace (bootinfo's empty slots), all of bootinfo's
    /// untypeds and its VSpace. An untyped the bookkeeping refuses (none
    /// does on a sane bootinfo) is left out with a warning, and if the
    /// image reached the mapping window (see [`VSpace::new`]) the window is
    /// left empty, so that threads fail to spawn with an error; use
    /// [`Objects::try_from_bootinfo`] to get those as errors instead.
    pub fn from_bootinfo(bootinfo: &BootInfo) -> Objects {
        let first = bootinfo.untyped().start as u64;
        let mut pool = UntypedPool::empty();
        for (i, u) in bootinfo.untypeds().enumerate() {
            let d = UntypedDesc {
                id: first + i as u64,
                paddr: u.paddr,
                size_bits: u.size_bits,
                is_device: u.is_device,
            };
            if let Err(e) = pool.add_untyped(d) {
                log::warn!("untyped {:#x} left out: {e}", d.id);
            }
        }
        let vspace = VSpace::new(bootinfo).unwrap_or_else(|e| {
            log::warn!("no mapping window for threads: {e}");
            VSpace::with_windows((0, 0), (0, 0))
        });
        Objects::from_parts(CSpace::new(bootinfo), pool, vspace)
    }

    /// As [`Objects::from_bootinfo`], with errors for an untyped the
    /// bookkeeping refuses or an image that reaches the mapping window.
    pub fn try_from_bootinfo(bootinfo: &BootInfo) -> Result<Objects, Error> {
        Ok(Objects::from_parts(
            CSpace::new(bootinfo),
            UntypedPool::new(bootinfo)?,
            VSpace::new(bootinfo)?,
        ))
    }

    /// Takes ownership of a CSpace, an untyped pool and a VSpace.
    pub fn from_parts(cspace: CSpace, pool: UntypedPool, vspace: VSpace) -> Objects {
        Objects {
            cspace,
            pool,
            vspace,
            opaque: Vec::new(),
            parks: Vec::new(),
            thread_tables: Vec::new(),
            instance: NEXT_INSTANCE.fetch_add(1, core::sync::atomic::Ordering::Relaxed),
        }
    }

    /// A number no other `Objects` of this run has (threads detached from
    /// this instance are torn down by this instance only).
    pub fn instance(&self) -> u64 {
        self.instance
    }

    /// Root CNode slots `[first_slot, end_slot)` and the given untypeds,
    /// whose sizes need not be known: memory is carved out of them (the
    /// kernel places it, so the caller may go on retyping from them too)
    /// in untypeds of at least 2^[`CHUNK_BITS`] bytes that the pool then
    /// manages. Virtual addresses for stacks and IPC buffers come from the
    /// share of [`OBJECTS_WINDOW_START`]..[`OBJECTS_WINDOW_END`] that
    /// belongs to the slots `[first_slot, end_slot)`, so instances over
    /// disjoint slot ranges never collide. `image_frames` is no longer used
    /// (IPC buffers are fresh frames); it is kept for compatibility. For a
    /// part of the root task that owns only some slots and memory, such as
    /// one test of a test harness.
    pub fn new(
        first_slot: u64,
        end_slot: u64,
        untypeds: Vec<Cap<Untyped>>,
        image_frames: CPtr,
    ) -> Objects {
        let _ = image_frames;
        // Slots beyond 2^SHARE_BITS get an empty window (16.0.0's root
        // CNode has 2^19 slots: a share of 2^-19 of the window would be
        // 4 KiB, too small for a stack).
        let bits = core::cmp::min(sel4_sys::config::ROOT_CNODE_SIZE_BITS as u32, SHARE_BITS);
        let share = ((OBJECTS_WINDOW_END - OBJECTS_WINDOW_START) >> bits) & !(PAGE as u64 - 1);
        let at = |slot: u64| {
            slot.saturating_mul(share)
                .saturating_add(OBJECTS_WINDOW_START)
                .min(OBJECTS_WINDOW_END)
        };
        let vspace = VSpace::with_windows((at(first_slot), at(end_slot)), (0, 0));
        let pool = UntypedPool::empty();
        let mut o = Objects::from_parts(CSpace::with_slots(first_slot, end_slot), pool, vspace);
        o.opaque = untypeds;
        o
    }

    /// The CSpace (slot allocator) everything here goes through.
    pub fn cspace(&self) -> &CSpace {
        &self.cspace
    }

    /// The CSpace, to allocate slots or operate on capabilities.
    pub fn cspace_mut(&mut self) -> &mut CSpace {
        &mut self.cspace
    }

    /// The untyped memory bookkeeping.
    pub fn pool(&self) -> &UntypedPool {
        &self.pool
    }

    /// The untyped memory, to create objects of any kind.
    pub fn pool_mut(&mut self) -> &mut UntypedPool {
        &mut self.pool
    }

    /// The VSpace (virtual ranges, mappings).
    pub fn vspace(&self) -> &VSpace {
        &self.vspace
    }

    /// The VSpace, to map frames.
    pub fn vspace_mut(&mut self) -> &mut VSpace {
        &mut self.vspace
    }

    /// All three at once, for the calls that take several of them
    /// (`pool.create(cspace)`, `vspace.map(pool, cspace, ..)`).
    pub fn parts_mut(&mut self) -> (&mut CSpace, &mut UntypedPool, &mut VSpace) {
        (&mut self.cspace, &mut self.pool, &mut self.vspace)
    }

    /// A free slot of the root CNode.
    pub fn alloc_slot(&mut self) -> Result<u64, Error> {
        self.cspace.alloc_slot().map_err(simple)
    }

    /// Returns a slot (it must be empty).
    pub fn free_slot(&mut self, slot: u64) {
        let _ = self.cspace.free_slot(slot);
    }

    /// Runs `op`; when it fails for lack of untyped memory and untypeds
    /// given to [`Objects::new`] can still give some, carves a chunk and
    /// runs `op` again.
    #[inline]
    fn with_memory<R>(
        &mut self,
        mut op: impl FnMut(&mut Objects) -> Result<R, Error>,
    ) -> Result<R, Error> {
        match op(self) {
            Ok(r) => Ok(r),
            Err(e) => self.retry_with_memory(e, op),
        }
    }

    /// [`Objects::with_memory`] after `op` failed with `e`.
    #[cold]
    #[inline(never)]
    fn retry_with_memory<R>(
        &mut self,
        mut e: Error,
        mut op: impl FnMut(&mut Objects) -> Result<R, Error>,
    ) -> Result<R, Error> {
        loop {
            match untyped_exhausted(&e) {
                Some(bits) if !self.opaque.is_empty() => {
                    if !self.carve_chunk(bits)? {
                        return Err(e);
                    }
                }
                _ => return Err(e),
            }
            match op(self) {
                Ok(r) => return Ok(r),
                Err(x) => e = x,
            }
        }
    }

    /// Carves an untyped of at least 2^`min_bits` bytes (2^[`CHUNK_BITS`]
    /// if there is room) out of the first given untyped with room and
    /// gives it to the pool. Returns whether it found room.
    fn carve_chunk(&mut self, min_bits: u8) -> Result<bool, Error> {
        let min_bits = min_bits.max(sel4_alloc::MIN_UNTYPED_BITS);
        let slot = self.cspace.alloc_slot()?;
        for i in 0..self.opaque.len() {
            let ut = self.opaque[i];
            let mut bits = min_bits.max(CHUNK_BITS);
            loop {
                let r = ut.retype_raw(
                    ObjectType::UntypedObject,
                    bits as usize,
                    Destination::root_cnode(),
                    slot,
                    1,
                );
                match r {
                    Ok(()) => {
                        let paddr = chunk_paddr(&mut self.cspace, slot, bits);
                        self.pool.add_untyped(UntypedDesc {
                            id: slot,
                            paddr,
                            size_bits: bits,
                            is_device: false,
                        })?;
                        return Ok(true);
                    }
                    Err(_) if bits > min_bits => bits -= 1,
                    Err(_) => break,
                }
            }
        }
        self.cspace.free_slot(slot)?;
        Ok(false)
    }

    /// Creates a fixed-size kernel object.
    pub fn create<T: FixedSize>(&mut self) -> Result<Cap<T>, Error> {
        self.with_memory(|o| o.pool.create::<T>(&mut o.cspace))
            .map_err(simple)
    }

    /// A badged copy of `cap` in a new slot.
    pub fn mint<T: CapType>(&mut self, cap: Cap<T>, badge: Word) -> Result<Cap<T>, Error> {
        self.cspace.mint(cap, ALL_RIGHTS, badge).map_err(simple)
    }

    /// Deletes the capability and frees its slot (and, for an object made
    /// here, gives its memory back to the bookkeeping).
    pub fn delete<T: CapType>(&mut self, cap: Cap<T>) -> Result<(), Error> {
        self.pool.delete_any(&mut self.cspace, cap)
    }

    /// A fresh 4 KiB frame of RAM mapped read-write at a free address of the
    /// VSpace's window; returns the frame and the address.
    pub(crate) fn map_new_page(&mut self) -> Result<(Cap<cap_type::X86Page>, u64), Error> {
        let frame: Cap<cap_type::X86Page> = self.create()?;
        let tables = self.vspace.tables().len();
        let r = self.with_memory(|o| {
            o.vspace.map(
                &mut o.pool,
                &mut o.cspace,
                frame,
                consts::PageBits as u8,
                vspace::RW,
                Cache::Default,
            )
        });
        self.note_tables(tables);
        match r {
            Ok(vaddr) => Ok((frame, vaddr)),
            Err(e) => {
                let _ = self.pool.destroy(&mut self.cspace, frame);
                Err(simple(e))
            }
        }
    }

    /// Unmaps a page of [`Objects::map_new_page`] and destroys its frame.
    pub(crate) fn unmap_page(&mut self, vaddr: u64) -> Result<(), Error> {
        let frame = self.vspace.unmap(vaddr)?;
        self.pool.destroy(&mut self.cspace, frame)
    }

    /// Reserves `guard_pages + pages` pages of the VSpace and maps fresh
    /// frames of RAM read-write at the last `pages` of them; the frames'
    /// capabilities go to the park CNodes.
    pub(crate) fn map_region(&mut self, guard_pages: usize, pages: usize) -> Result<Region, Error> {
        let start = self
            .vspace
            .reserve(((guard_pages + pages) * PAGE) as u64)
            .map_err(simple)?;
        let mut region = Region {
            start,
            guard_pages,
            frames: Vec::with_capacity(pages),
        };
        for i in 0..pages {
            let vaddr = start + ((guard_pages + i) * PAGE) as u64;
            match self.map_parked_page(start, vaddr) {
                Ok(f) => region.frames.push(f),
                Err(e) => {
                    let _ = self.unmap_region(region);
                    return Err(e);
                }
            }
        }
        Ok(region)
    }

    fn map_parked_page(&mut self, start: u64, vaddr: u64) -> Result<ParkedFrame, Error> {
        let frame: Cap<cap_type::X86Page> = self.create()?;
        let tables = self.vspace.tables().len();
        let mapped = self.with_memory(|o| {
            o.vspace.map_reserved(
                &mut o.pool,
                &mut o.cspace,
                frame,
                start,
                vaddr,
                vspace::RW,
                Cache::Default,
            )
        });
        self.note_tables(tables);
        match mapped.and_then(|()| self.park(frame)) {
            Ok(p) => Ok(p),
            Err(e) => {
                // Deleting the capability also unmaps the frame.
                let _ = self.pool.destroy(&mut self.cspace, frame);
                Err(simple(e))
            }
        }
    }

    /// Records the paging structures the VSpace created after it had
    /// `before` of them (for [`Drop`]).
    fn note_tables(&mut self, before: usize) {
        let new = self.vspace.tables().get(before..).unwrap_or(&[]);
        self.thread_tables.extend_from_slice(new);
    }

    /// Moves a frame's capability made by the pool into a park CNode.
    fn park(&mut self, frame: Cap<cap_type::X86Page>) -> Result<ParkedFrame, Error> {
        let park = match self.parks.iter().position(|c| c.slots().available() > 0) {
            Some(p) => p,
            None => {
                let c = self.with_memory(|o| o.cspace.create_cnode(&mut o.pool, PARK_RADIX))?;
                self.parks.push(c);
                self.parks.len() - 1
            }
        };
        let untyped = self
            .pool
            .untyped_of(frame)
            .ok_or(Error::Check("a stack frame the pool did not make"))?
            .cptr();
        let index = self.parks[park].move_in(&mut self.cspace, frame)?;
        // Cannot fail: the pool made the frame (checked above).
        self.pool.detach(frame.cptr())?;
        Ok(ParkedFrame {
            park,
            index,
            untyped,
        })
    }

    /// Deletes the parked frames of a region (which unmaps them), gives
    /// their memory back and releases the range. Goes on after an error
    /// and returns the first.
    pub(crate) fn unmap_region(&mut self, region: Region) -> Result<(), Error> {
        let mut first = Ok(());
        for f in region.frames {
            let r = self.parks[f.park]
                .delete(f.index)
                .and_then(|()| self.pool.object_deleted(f.untyped));
            if first.is_ok() {
                first = r;
            }
        }
        let r = self.vspace.release(region.start);
        first.and(r)
    }
}

/// The physical address of a freshly carved untyped of 2^`bits` bytes at
/// `slot`: its first 4 KiB, retyped into a frame and deleted again (the
/// untyped has no children then, so the kernel starts it from offset 0
/// again at its next retype). 0 when it is smaller than a page or the
/// kernel refuses (the address only matters for finding memory by physical
/// address, which nobody does for these).
fn chunk_paddr(cspace: &mut CSpace, slot: CPtr, bits: u8) -> u64 {
    if (bits as usize) < consts::PageBits {
        return 0;
    }
    let Ok(tmp) = cspace.alloc_slot() else {
        return 0;
    };
    let ut: Cap<Untyped> = Cap::from_cptr(slot);
    let mut paddr = 0;
    if ut
        .retype_raw(ObjectType::X86_4K, 0, Destination::root_cnode(), tmp, 1)
        .is_ok()
    {
        let frame: Cap<cap_type::X86Page> = Cap::from_cptr(tmp);
        paddr = crate::memory::frame_paddr(frame).unwrap_or(0);
        let _ = cspace.root().cnode_delete(tmp, crate::cspace::depth());
    }
    let _ = cspace.free_slot(tmp);
    paddr
}
