//! The root task's own address space (every architecture: the paging
//! structures are the `sel4` crate's [`TableLevel`]s), as [`Objects`](crate::objects::Objects)
//! uses it: mapping frames at a chosen
//! address or one from a window that nothing else uses, creating the
//! paging structures that are missing on the way, unmapping, and growing
//! the heap.
//!
//! Layout of the root task's address space:
//! - the image at 0x400000, then the IPC buffer, the bootinfo frame and the
//!   extra bootinfo pages (the kernel maps them right after the image);
//! - the reserve window [`RESERVE_WINDOW_START`]..[`RESERVE_WINDOW_END`]
//!   (1 GiB to 2 GiB) for `VSpace::reserve` (thread stacks with their
//!   guard pages), and the objects window
//!   [`OBJECTS_WINDOW_START`]..[`OBJECTS_WINDOW_END`] (2 GiB to 4 GiB) for
//!   the instances of [`VSpace::with_windows`]: both below 4 GiB, where
//!   every kernel reports VM fault addresses whole (seL4 5.x keeps only
//!   their low 32 bits), so a stack overflow's address compares exactly
//!   with the guard page;
//! - the heap's growth window, [`sel4_runtime::heap::GROWTH_WINDOW_START`]
//!   (64 GiB, 4 GiB long), mapped by the runtime itself;
//! - the mapping window [`WINDOW_START`]..[`WINDOW_END`] (128 GiB to 256
//!   GiB) for [`Objects::map`](crate::objects::Objects::map) and
//!   [`Objects::map_at`](crate::objects::Objects::map_at): 4 KiB frames in its
//!   lower half, 2 MiB frames in its upper half ([`LARGE_WINDOW_START`]), so
//!   that a large page never lands where a page table already is.
//!
//! [`VSpace::new`] checks from bootinfo that the image and the pages after
//! it end below both windows.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use sel4::vspace::TABLE_LEVELS;
use sel4::{FrameOps, TableLevel, VmAttributes};
use sel4_alloc::{IdMap, VirtualRegionAllocator};
use sel4_runtime::heap::{self, GrowError};
use sel4_sys::{consts, init_caps, CPtr, CapRights, InvocationError};

use crate::cap::{cap_type, Cap};
use crate::cspace::CSpace;
use crate::error::{Error, Result};
use crate::memory::UntypedPool;
use crate::BootInfo;

/// Start of the window for the root task's own mappings (128 GiB).
pub const WINDOW_START: u64 = 0x20_0000_0000;
/// End of that window (256 GiB).
#[cfg(not(target_arch = "riscv64"))]
pub const WINDOW_END: u64 = 0x40_0000_0000;
/// End of that window: below the kernel's `seL4_UserTop` (Sv39: 4 KiB
/// below 256 GiB), aligned to a 2 MiB frame.
#[cfg(target_arch = "riscv64")]
pub const WINDOW_END: u64 = (consts::UserTop as u64) & !((1u64 << consts::LargePageBits) - 1);
/// Start of the part of the window for 2 MiB frames (192 GiB).
pub const LARGE_WINDOW_START: u64 = 0x30_0000_0000;

/// Start of the window for `VSpace::reserve` in the VSpace of
/// [`VSpace::new`] (1 GiB; below 4 GiB, see the module documentation).
pub const RESERVE_WINDOW_START: u64 = 0x4000_0000;
/// End of that window (2 GiB).
pub const RESERVE_WINDOW_END: u64 = 0x8000_0000;

/// Start of the part of the address space for the windows of
/// [`VSpace::with_windows`] instances (2 GiB; below 4 GiB, see the module
/// documentation): `objects::Objects::new` gives each instance the share
/// of it that belongs to its capability slots, so instances with disjoint
/// slot ranges never share addresses.
pub const OBJECTS_WINDOW_START: u64 = 0x8000_0000;
/// End of that part (4 GiB).
pub const OBJECTS_WINDOW_END: u64 = 0x1_0000_0000;

/// Read and write.
pub const RW: CapRights = CapRights(0b11);
/// Read only.
pub const RO: CapRights = CapRights(0b10);

/// Size of a 4 KiB page.
pub const PAGE_SIZE: u64 = 1 << consts::PageBits;
/// Size of a 2 MiB large page.
pub const LARGE_PAGE_SIZE: u64 = 1 << consts::LargePageBits;

/// Cache attributes of a mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cache {
    /// Write-back (normal RAM).
    Default,
    /// Uncached (device registers).
    Uncached,
}

impl Cache {
    pub(crate) fn attr(self) -> VmAttributes {
        match self {
            Cache::Default => VmAttributes::DEFAULT,
            Cache::Uncached => VmAttributes::UNCACHED,
        }
    }
}

/// A frame mapped by [`VSpace`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapping {
    /// The frame's capability (a name; its owner is the caller or, for
    /// `owned`, the VSpace).
    pub frame: Cap<sel4::Granule>,
    /// log2 of the frame's size.
    pub size_bits: u8,
    /// Whether the virtual range came from the window allocator (and goes
    /// back to it on unmap).
    pub from_window: bool,
    /// Whether the frame is the VSpace's own (made for this mapping, and
    /// deleted with it).
    pub owned: bool,
    /// Whether a [`View`](crate::view::View) maps it: it stays until the
    /// view is given back.
    pub view: bool,
}

/// The root task's VSpace.
#[derive(Debug)]
pub struct VSpace {
    root: CPtr,
    window: VirtualRegionAllocator,
    large: VirtualRegionAllocator,
    /// Where `VSpace::reserve` takes ranges (`None`: from `window`).
    reserved: Option<VirtualRegionAllocator>,
    mappings: BTreeMap<u64, Mapping>,
    /// Frame slot -> how many of `mappings` name it.
    frames: IdMap<u32>,
    tables: Vec<Table>,
}

/// A paging structure the VSpace created.
#[derive(Debug, Clone, Copy)]
struct Table {
    cptr: CPtr,
    level: TableLevel,
    /// An address it covers.
    vaddr: u64,
}

impl VSpace {
    /// The root task's VSpace (`seL4_CapInitThreadVSpace`). Fails if the
    /// image and the pages the kernel maps after it reach the windows.
    pub fn new(bootinfo: &BootInfo) -> Result<VSpace> {
        let extra = (bootinfo.extra_len() as u64).div_ceil(PAGE_SIZE) * PAGE_SIZE;
        // IPC buffer, bootinfo frame, extra bootinfo.
        let end = bootinfo.ipc_buffer() as u64 / PAGE_SIZE * PAGE_SIZE + 2 * PAGE_SIZE + extra;
        if end > heap::GROWTH_WINDOW_START as u64
            || end > WINDOW_START
            || end > RESERVE_WINDOW_START
        {
            return Err(Error::Check(
                "the image and bootinfo reach the heap, reserve or mapping window",
            ));
        }
        Ok(VSpace {
            root: init_caps::CapInitThreadVSpace as CPtr,
            window: VirtualRegionAllocator::new(WINDOW_START, LARGE_WINDOW_START),
            large: VirtualRegionAllocator::new(LARGE_WINDOW_START, WINDOW_END),
            reserved: Some(VirtualRegionAllocator::new(
                RESERVE_WINDOW_START,
                RESERVE_WINDOW_END,
            )),
            mappings: BTreeMap::new(),
            frames: IdMap::new(),
            tables: Vec::new(),
        })
    }

    /// The root task's VSpace with the given windows for 4 KiB frames
    /// `[small.0, small.1)` and 2 MiB frames `[large.0, large.1)` (empty
    /// when `end <= start`), for a part of the root task that must not
    /// share addresses with another `VSpace` (see
    /// [`OBJECTS_WINDOW_START`]). No check against the image's layout:
    /// the caller picks windows far from it. `VSpace::reserve` takes
    /// ranges from the 4 KiB window.
    pub fn with_windows(small: (u64, u64), large: (u64, u64)) -> VSpace {
        VSpace {
            root: init_caps::CapInitThreadVSpace as CPtr,
            window: VirtualRegionAllocator::new(small.0, small.1),
            large: VirtualRegionAllocator::new(large.0, large.1),
            reserved: None,
            mappings: BTreeMap::new(),
            frames: IdMap::new(),
            tables: Vec::new(),
        }
    }

    /// The allocator `VSpace::reserve` takes ranges from.
    fn reserve_part(&mut self) -> &mut VirtualRegionAllocator {
        match &mut self.reserved {
            Some(r) => r,
            None => &mut self.window,
        }
    }

    /// The allocator of reserved ranges (free and used bytes): the reserve
    /// window, or the 4 KiB window of a [`VSpace::with_windows`] instance.
    pub fn reserve_window(&self) -> &VirtualRegionAllocator {
        self.reserved.as_ref().unwrap_or(&self.window)
    }

    /// Reserves `bytes` (rounded up to whole pages), page-aligned, below
    /// 4 GiB (the reserve window, or the 4 KiB window of a
    /// [`VSpace::with_windows`] instance), without mapping anything;
    /// returns the start. Map frames into it with [`VSpace::map_reserved`];
    /// pages left unmapped fault when touched (guard pages).
    pub(crate) fn reserve(&mut self, bytes: u64) -> Result<u64> {
        let size = bytes.div_ceil(PAGE_SIZE).max(1) * PAGE_SIZE;
        Ok(self.reserve_part().alloc(size, PAGE_SIZE)?)
    }

    /// Gives back a range from `VSpace::reserve`; whatever was mapped in
    /// it must be unmapped already.
    pub(crate) fn release(&mut self, start: u64) -> Result<()> {
        self.reserve_part().free(start)?;
        Ok(())
    }

    /// Maps the 4 KiB `frame` at `vaddr`, a page of the range reserved at
    /// `range_start`, creating missing paging structures. The mapping is
    /// the caller's to undo (deleting the frame capability unmaps it); it
    /// is not in [`VSpace::mapping`].
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn map_reserved(
        &mut self,
        pool: &mut UntypedPool,
        cspace: &mut CSpace,
        frame: Cap<sel4::Granule>,
        range_start: u64,
        vaddr: u64,
        rights: CapRights,
        cache: Cache,
    ) -> Result<()> {
        let size = self
            .reserve_part()
            .size_of(range_start)
            .ok_or(sel4_alloc::AllocError::VirtNotAllocated { addr: range_start })?;
        if !vaddr.is_multiple_of(PAGE_SIZE) || vaddr < range_start || vaddr - range_start >= size {
            return Err(Error::Check(
                "map_reserved: address not a page of the reserved range",
            ));
        }
        self.map_frame(pool, cspace, frame, vaddr, rights, cache)
    }

    /// The VSpace root capability.
    pub fn root(&self) -> CPtr {
        self.root
    }

    /// The allocator of the 4 KiB part of the window (free and used bytes).
    pub fn window(&self) -> &VirtualRegionAllocator {
        &self.window
    }

    /// The allocator of the 2 MiB part of the window.
    pub fn large_window(&self) -> &VirtualRegionAllocator {
        &self.large
    }

    fn part(&mut self, size_bits: u8) -> Result<&mut VirtualRegionAllocator> {
        if size_bits as usize == consts::PageBits {
            Ok(&mut self.window)
        } else if size_bits as usize == consts::LargePageBits {
            Ok(&mut self.large)
        } else {
            Err(Error::Check("frames are 4 KiB or 2 MiB"))
        }
    }

    /// Paging structures this VSpace created so far.
    pub fn tables_created(&self) -> usize {
        self.tables.len()
    }

    /// The paging structures this VSpace created whose whole range lies
    /// in its windows, the reserve window included (nothing else maps
    /// there), newest first: what [`Objects`](crate::objects::Objects)
    /// deletes when it is dropped.
    pub(crate) fn window_tables(&self) -> impl Iterator<Item = CPtr> + '_ {
        let reserved = self.reserved.as_ref().map(|r| r.window());
        let inside = move |lo: u64, hi: u64| {
            [
                Some(self.window.window()),
                Some(self.large.window()),
                reserved,
            ]
            .iter()
            .flatten()
            .any(|&(s, e)| s <= lo && hi <= e)
        };
        let views: Vec<u64> = self
            .mappings
            .iter()
            .filter(|(_, m)| m.view)
            .map(|(&v, _)| v)
            .collect();
        self.tables.iter().rev().filter_map(move |t| {
            let span = 1u64 << t.level.span_bits();
            let lo = t.vaddr & !(span - 1);
            // A live view keeps the structures above it.
            let under_view = views.iter().any(|&v| lo <= v && v < lo + span);
            (inside(lo, lo + span) && !under_view).then_some(t.cptr)
        })
    }

    /// Marks the mapping at `vaddr` as a view's (or no longer).
    pub(crate) fn set_view(&mut self, vaddr: u64, view: bool) -> Result<()> {
        match self.mappings.get_mut(&vaddr) {
            Some(m) => {
                m.view = view;
                Ok(())
            }
            None => Err(sel4_alloc::AllocError::VirtNotAllocated { addr: vaddr }.into()),
        }
    }

    /// The frame slots of the mappings views hold.
    pub(crate) fn view_frames(&self) -> impl Iterator<Item = CPtr> + '_ {
        self.mappings
            .values()
            .filter(|m| m.view)
            .map(|m| m.frame.cptr())
    }

    /// Every mapping of the window (address, mapping).
    pub(crate) fn mappings(&self) -> impl Iterator<Item = (u64, Mapping)> + '_ {
        self.mappings.iter().map(|(&v, &m)| (v, m))
    }

    /// The mapping at `vaddr`, if any.
    pub fn mapping(&self, vaddr: u64) -> Option<Mapping> {
        self.mappings.get(&vaddr).copied()
    }

    /// Maps `frame` (of `2^size_bits` bytes: 4 KiB or 2 MiB) at a free
    /// address of the window, aligned to its size; returns the address.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn map(
        &mut self,
        pool: &mut UntypedPool,
        cspace: &mut CSpace,
        frame: Cap<sel4::Granule>,
        size_bits: u8,
        rights: CapRights,
        cache: Cache,
        owned: bool,
    ) -> Result<u64> {
        let size = 1u64 << size_bits;
        let vaddr = self.part(size_bits)?.alloc(size, size)?;
        self.map_window_range(pool, cspace, frame, size_bits, vaddr, rights, cache)?;
        if let Some(m) = self.mappings.get_mut(&vaddr) {
            m.owned = owned;
        }
        Ok(vaddr)
    }

    /// Maps `frame` at `vaddr`, which must be free in the window's part for
    /// the frame's size.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn map_at(
        &mut self,
        pool: &mut UntypedPool,
        cspace: &mut CSpace,
        frame: Cap<sel4::Granule>,
        size_bits: u8,
        vaddr: u64,
        rights: CapRights,
        cache: Cache,
    ) -> Result<()> {
        let size = 1u64 << size_bits;
        if vaddr & (size - 1) != 0 {
            return Err(Error::Check(
                "map_at: address not aligned to the frame size",
            ));
        }
        self.part(size_bits)?.alloc_at(vaddr, size)?;
        self.map_window_range(pool, cspace, frame, size_bits, vaddr, rights, cache)
    }

    /// Maps `frame` at `vaddr`, a range just taken from the window's part
    /// for the frame's size, and records the mapping; gives the range back
    /// when the kernel refuses.
    #[allow(clippy::too_many_arguments)]
    fn map_window_range(
        &mut self,
        pool: &mut UntypedPool,
        cspace: &mut CSpace,
        frame: Cap<sel4::Granule>,
        size_bits: u8,
        vaddr: u64,
        rights: CapRights,
        cache: Cache,
    ) -> Result<()> {
        if let Err(e) = self.map_frame(pool, cspace, frame, vaddr, rights, cache) {
            self.part(size_bits)?.free(vaddr)?;
            return Err(e);
        }
        self.record(
            vaddr,
            Mapping {
                frame,
                size_bits,
                from_window: true,
                owned: false,
                view: false,
            },
        );
        Ok(())
    }

    /// Unmaps the frame mapped at `vaddr`; returns its mapping (the frame
    /// is still a valid frame capability, mappable again).
    pub(crate) fn unmap(&mut self, vaddr: u64) -> Result<Mapping> {
        let m = self
            .mappings
            .get(&vaddr)
            .copied()
            .ok_or(sel4_alloc::AllocError::VirtNotAllocated { addr: vaddr })?;
        m.frame.unmap()?;
        self.unrecord(vaddr);
        if m.from_window {
            self.part(m.size_bits)?.free(vaddr)?;
        }
        Ok(m)
    }

    fn record(&mut self, vaddr: u64, m: Mapping) {
        let s = m.frame.cptr();
        self.frames.insert(s, self.frames.get(s).unwrap_or(0) + 1);
        if let Some(old) = self.mappings.insert(vaddr, m) {
            self.uncount(old.frame.cptr());
        }
    }

    fn unrecord(&mut self, vaddr: u64) -> Option<Mapping> {
        let m = self.mappings.remove(&vaddr)?;
        self.uncount(m.frame.cptr());
        Some(m)
    }

    fn uncount(&mut self, s: CPtr) {
        match self.frames.get(s) {
            Some(n) if n > 1 => {
                self.frames.insert(s, n - 1);
            }
            _ => {
                self.frames.remove(s);
            }
        }
    }

    /// Forgets the mappings of the frame capability in `slot` (deleted: the
    /// kernel unmapped it) and gives their ranges back.
    #[inline]
    pub(crate) fn forget_frame(&mut self, slot: CPtr) {
        if self.frames.contains(slot) {
            self.forget_mapped_frame(slot);
        }
    }

    /// [`VSpace::forget_frame`] of a frame that is mapped.
    #[cold]
    #[inline(never)]
    fn forget_mapped_frame(&mut self, slot: CPtr) {
        let gone: Vec<(u64, Mapping)> = self
            .mappings
            .iter()
            .filter(|(_, m)| m.frame.cptr() == slot)
            .map(|(&v, &m)| (v, m))
            .collect();
        for (v, m) in gone {
            self.unrecord(v);
            if m.from_window {
                if let Ok(part) = self.part(m.size_bits) {
                    let _ = part.free(v);
                }
            }
        }
    }

    /// Whether the frame capability in `slot` is mapped by this VSpace.
    #[inline]
    pub(crate) fn is_mapped(&self, slot: CPtr) -> bool {
        self.frames.contains(slot)
    }

    /// Notes that the frame capability in `from` moved to `to`.
    pub(crate) fn frame_moved(&mut self, from: CPtr, to: CPtr) {
        let Some(n) = self.frames.remove(from) else {
            return;
        };
        self.frames.insert(to, n);
        for m in self.mappings.values_mut() {
            if m.frame.cptr() == from {
                m.frame = Cap::from_cptr(to);
            }
        }
    }

    /// Maps `n` fresh 4 KiB frames of RAM at consecutive addresses of the
    /// window; returns the first address.
    pub(crate) fn map_new_pages(
        &mut self,
        pool: &mut UntypedPool,
        cspace: &mut CSpace,
        n: usize,
        rights: CapRights,
    ) -> Result<u64> {
        let start = self.window.alloc(n as u64 * PAGE_SIZE, PAGE_SIZE)?;
        for i in 0..n as u64 {
            let vaddr = start + i * PAGE_SIZE;
            let r = pool.create::<sel4::Granule>(cspace).and_then(|f| {
                let f = Cap::from_cptr(f);
                match self.map_frame(pool, cspace, f, vaddr, rights, Cache::Default) {
                    Ok(()) => Ok(f),
                    Err(e) => {
                        pool.delete(cspace, f.cptr())?;
                        Err(e)
                    }
                }
            });
            match r {
                Ok(frame) => {
                    self.record(
                        vaddr,
                        Mapping {
                            frame,
                            size_bits: consts::PageBits as u8,
                            from_window: false,
                            owned: true,
                            view: false,
                        },
                    );
                }
                Err(e) => {
                    // Unmap and destroy what was mapped; the range goes
                    // back whole.
                    for j in 0..i {
                        let a = start + j * PAGE_SIZE;
                        if let Some(m) = self.unrecord(a) {
                            m.frame.unmap()?;
                            pool.delete(cspace, m.frame.cptr())?;
                        }
                    }
                    self.window.free(start)?;
                    return Err(e);
                }
            }
        }
        Ok(start)
    }

    /// Gives the heap at least `bytes` more (rounded up to 2 MiB frames)
    /// now: untyped memory from `pool`, in chunks of 2 MiB or more, goes to
    /// the runtime ([`heap::add_memory`]), which retypes the frames itself
    /// and maps them in its growth window ([`heap::grow`]). Returns the
    /// bytes added. The heap's frame capabilities live in the runtime's
    /// CNode, so this takes no slot of the root CNode (each chunk passes
    /// through one and leaves it free), and it is limited by memory and the
    /// 4 GiB window only.
    pub(crate) fn grow_heap(
        &mut self,
        pool: &mut UntypedPool,
        cspace: &mut CSpace,
        bytes: usize,
    ) -> Result<usize> {
        let want = bytes.div_ceil(heap::GROWTH_FRAME_SIZE) * heap::GROWTH_FRAME_SIZE;
        let stats = heap::stats();
        if stats.reservoir < want {
            self.reserve_heap(pool, cspace, want - stats.reservoir)?;
        }
        heap::grow(want).map_err(grow_error)
    }

    /// Gives the heap `bytes` (rounded up to 2 MiB) of untyped memory from
    /// `pool` without mapping it yet: the runtime grows the heap from it
    /// when free space runs low ([`heap::refill`], at thread spawns, joins
    /// and kills). Each chunk is as large as the pool can give (at most the
    /// rest asked for, at least 2 MiB).
    pub(crate) fn reserve_heap(
        &mut self,
        pool: &mut UntypedPool,
        cspace: &mut CSpace,
        bytes: usize,
    ) -> Result<()> {
        let min_bits = consts::LargePageBits as u32;
        let mut left = bytes.div_ceil(heap::GROWTH_FRAME_SIZE) * heap::GROWTH_FRAME_SIZE;
        while left > 0 {
            // The largest power of two not above what is left.
            let mut bits = (usize::BITS - 1 - left.leading_zeros()).max(min_bits);
            let slot = loop {
                match pool.create_raw(
                    cspace,
                    sel4_sys::ObjectType::UntypedObject,
                    bits as usize,
                    bits as usize,
                    1,
                    crate::memory::MemoryKind::Ram,
                ) {
                    Ok(s) => break s,
                    Err(e) if bits == min_bits => return Err(e),
                    Err(_) => bits -= 1,
                }
            };
            let untyped = Cap::<cap_type::Untyped>::from_cptr(slot);
            if let Err(e) = heap::add_memory(untyped, bits as u8) {
                // Still ours: give it back.
                let _ = pool.delete(cspace, slot);
                return Err(grow_error(e));
            }
            // The capability moved into the runtime's CNode: the pool
            // keeps the memory as used and forgets the slot, now empty.
            pool.cap_given_away(slot);
            cspace.free_slot(slot)?;
            left = left.saturating_sub(1 << bits);
        }
        Ok(())
    }

    /// Maps `frame` at `vaddr`, creating missing paging structures.
    fn map_frame(
        &mut self,
        pool: &mut UntypedPool,
        cspace: &mut CSpace,
        frame: Cap<sel4::Granule>,
        vaddr: u64,
        rights: CapRights,
        cache: Cache,
    ) -> Result<()> {
        for _ in 0..4 {
            match frame.map(
                Cap::from_cptr(self.root),
                vaddr,
                rights.into(),
                cache.attr(),
            ) {
                Ok(()) => return Ok(()),
                Err(InvocationError::FailedLookup { lookup_failure, .. }) => {
                    let missing = missing_level(lookup_failure);
                    self.ensure(pool, cspace, missing, vaddr)?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Check(
            "paging structures still missing after creating them",
        ))
    }

    /// Creates and maps the paging structure of `level` that covers
    /// `vaddr`, and the levels above it that are missing.
    fn ensure(
        &mut self,
        pool: &mut UntypedPool,
        cspace: &mut CSpace,
        level: TableLevel,
        vaddr: u64,
    ) -> Result<()> {
        let cptr = pool.create_raw(
            cspace,
            level.object_type(),
            0,
            level.size_bits(),
            1,
            crate::memory::MemoryKind::Ram,
        )?;
        for _ in 0..TABLE_LEVELS.len() {
            match level.map(
                cptr,
                Cap::from_cptr(self.root),
                vaddr,
                VmAttributes::DEFAULT,
            ) {
                Ok(()) => {
                    self.tables.push(Table { cptr, level, vaddr });
                    return Ok(());
                }
                Err(InvocationError::FailedLookup { .. }) if level != TABLE_LEVELS[0] => {
                    self.ensure(pool, cspace, level_above(level), vaddr)?;
                }
                Err(InvocationError::DeleteFirst) => {
                    // Already there (created by someone else meanwhile):
                    // the new object is not needed.
                    pool.delete(cspace, cptr)?;
                    return Ok(());
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Check("paging structure still unmappable"))
    }
}

/// The level right above `level` (`level` is not the first below the
/// root).
pub(crate) fn level_above(level: TableLevel) -> TableLevel {
    let i = TABLE_LEVELS.iter().position(|&l| l == level).unwrap_or(0);
    TABLE_LEVELS[i.saturating_sub(1)]
}

fn grow_error(e: GrowError) -> Error {
    match e {
        GrowError::Kernel { error, .. } | GrowError::NotRam(error) => Error::Kernel(error),
        GrowError::WindowFull => Error::Check("the heap's growth window is full"),
        GrowError::ReservoirEmpty => Error::Check("no untyped memory left for the heap"),
        GrowError::Full => Error::Check("the heap's reservoir or CNode is full"),
        GrowError::TooSmall { .. } => Error::Check("untyped too small for a heap frame"),
        GrowError::NotReady => Error::Check("the runtime has no CNode for heap frames"),
    }
}

/// Which paging level a failed frame mapping lacks, from the bits the
/// kernel had left to resolve ([`TableLevel::missing`]; the lowest level
/// when the failure names no bits).
pub(crate) fn missing_level(f: sel4_sys::LookupFailure) -> TableLevel {
    let lowest = TABLE_LEVELS[TABLE_LEVELS.len() - 1];
    match f {
        sel4_sys::LookupFailure::MissingCapability { bits_left } => {
            TableLevel::missing(bits_left).unwrap_or(lowest)
        }
        _ => lowest,
    }
}
