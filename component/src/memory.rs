//! Shared memory and device frames as the component sees them.
#![allow(unsafe_code)]
//!
//! Memory another component maps too can change at any moment, so it is
//! never handed out as `&[u8]` or `&mut [u8]` (the compiler would assume
//! it does not change behind the reference): bytes and words go in and out
//! through volatile accesses, and words two components synchronise on are
//! atomics ([`SharedRw::atomic_u64`], [`SharedRo::load_u64`]), which are
//! made for memory others write. Every access is checked against the
//! region's bounds, the type's alignment and the mapping's rights
//! ([`AccessError`]) before memory is touched.
//!
//! A view is made once per mapping of the plan (the runtime binds each
//! descriptor once), from the address and size the supervisor mapped at
//! start: the same trust as the start-info page itself.

use core::sync::atomic::{AtomicU64, Ordering};

use sel4_component_env::{layout, DeviceRegion, SharedRegion};

use crate::rt::BindError;

/// Why an access was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessError {
    /// `[offset, offset + len)` is not inside the region.
    OutOfRange {
        /// The access's first byte, from the region's start.
        offset: usize,
        /// Its length in bytes.
        len: usize,
    },
    /// The offset is not a multiple of the type's alignment.
    Misaligned {
        /// The access's first byte, from the region's start.
        offset: usize,
    },
    /// A write through a read-only mapping.
    ReadOnly,
}

/// The integer types a view reads and writes.
pub trait Primitive: Copy + sealed::Sealed {}
impl Primitive for u8 {}
impl Primitive for u16 {}
impl Primitive for u32 {}
impl Primitive for u64 {}
mod sealed {
    pub trait Sealed {}
    impl Sealed for u8 {}
    impl Sealed for u16 {}
    impl Sealed for u32 {}
    impl Sealed for u64 {}
}

/// A mapped range: its address and size, checked once.
#[derive(Debug)]
struct Range {
    base: usize,
    size: usize,
    writable: bool,
}

impl Range {
    fn new(vaddr: u64, size: u64, writable: bool) -> Result<Range, BindError> {
        let bad = BindError::BadRegion { vaddr, size };
        let end = vaddr.checked_add(size).ok_or(bad)?;
        // Mappings of the plan lie above the image's window, page aligned,
        // in the lower half of the address space.
        if vaddr < layout::AUTO_BASE
            || !vaddr.is_multiple_of(layout::PAGE_SIZE)
            || !size.is_multiple_of(layout::PAGE_SIZE)
            || end > 1 << 47
        {
            return Err(bad);
        }
        Ok(Range {
            base: vaddr as usize,
            size: size as usize,
            writable,
        })
    }

    /// The address of a `T` at `offset`, checked.
    fn at<T>(&self, offset: usize) -> Result<usize, AccessError> {
        self.span(offset, core::mem::size_of::<T>())?;
        if !offset.is_multiple_of(core::mem::align_of::<T>()) {
            return Err(AccessError::Misaligned { offset });
        }
        Ok(self.base + offset)
    }

    fn span(&self, offset: usize, len: usize) -> Result<usize, AccessError> {
        match offset.checked_add(len) {
            Some(end) if end <= self.size => Ok(self.base + offset),
            _ => Err(AccessError::OutOfRange { offset, len }),
        }
    }

    fn read<T: Primitive>(&self, offset: usize) -> Result<T, AccessError> {
        let a = self.at::<T>(offset)?;
        // SAFETY: inside the mapping (checked), aligned (checked); the
        // mapping is the plan's, readable for the component's life; a
        // volatile read makes no assumption about other writers.
        Ok(unsafe { core::ptr::read_volatile(a as *const T) })
    }

    fn write<T: Primitive>(&self, offset: usize, v: T) -> Result<(), AccessError> {
        if !self.writable {
            return Err(AccessError::ReadOnly);
        }
        let a = self.at::<T>(offset)?;
        // SAFETY: as in `read`, and the mapping is writable (checked).
        unsafe { core::ptr::write_volatile(a as *mut T, v) };
        Ok(())
    }

    fn copy_out(&self, offset: usize, dst: &mut [u8]) -> Result<(), AccessError> {
        let a = self.span(offset, dst.len())?;
        for (i, b) in dst.iter_mut().enumerate() {
            // SAFETY: `a + i` lies in the checked span.
            *b = unsafe { core::ptr::read_volatile((a + i) as *const u8) };
        }
        Ok(())
    }

    fn copy_in(&self, offset: usize, src: &[u8]) -> Result<(), AccessError> {
        if !self.writable {
            return Err(AccessError::ReadOnly);
        }
        let a = self.span(offset, src.len())?;
        for (i, b) in src.iter().enumerate() {
            // SAFETY: `a + i` lies in the checked span of a writable mapping.
            unsafe { core::ptr::write_volatile((a + i) as *mut u8, *b) };
        }
        Ok(())
    }

    fn atomic(&self, offset: usize) -> Result<&AtomicU64, AccessError> {
        let a = self.at::<u64>(offset)?;
        // SAFETY: inside the mapping, 8-byte aligned (checked); an atomic
        // is meant for memory other agents write concurrently; the mapping
        // lives for the component's life (the view borrows from `self`).
        Ok(unsafe { &*(a as *const AtomicU64) })
    }
}

/// A shared region this component maps read-only.
#[derive(Debug)]
pub struct SharedRo {
    r: Range,
}

impl SharedRo {
    pub(crate) fn bind(d: &SharedRegion) -> Result<SharedRo, BindError> {
        Ok(SharedRo {
            r: Range::new(d.vaddr, d.size, false)?,
        })
    }

    /// Bytes of the region.
    pub fn len(&self) -> usize {
        self.r.size
    }

    /// Whether it has no bytes (never: regions are whole pages).
    pub fn is_empty(&self) -> bool {
        self.r.size == 0
    }

    /// Reads a `T` at `offset` (aligned).
    pub fn read<T: Primitive>(&self, offset: usize) -> Result<T, AccessError> {
        self.r.read(offset)
    }

    /// Copies `dst.len()` bytes from `offset`.
    pub fn copy_out(&self, offset: usize, dst: &mut [u8]) -> Result<(), AccessError> {
        self.r.copy_out(offset, dst)
    }

    /// Loads the word at `offset` (8-byte aligned) atomically with
    /// `order` (pairs with the writer's [`SharedRw::atomic_u64`] stores).
    pub fn load_u64(&self, offset: usize, order: Ordering) -> Result<u64, AccessError> {
        Ok(self.r.atomic(offset)?.load(order))
    }
}

/// A shared region this component maps writable.
#[derive(Debug)]
pub struct SharedRw {
    r: Range,
}

impl SharedRw {
    pub(crate) fn bind(d: &SharedRegion) -> Result<SharedRw, BindError> {
        Ok(SharedRw {
            r: Range::new(d.vaddr, d.size, true)?,
        })
    }

    /// Bytes of the region.
    pub fn len(&self) -> usize {
        self.r.size
    }

    /// Whether it has no bytes (never: regions are whole pages).
    pub fn is_empty(&self) -> bool {
        self.r.size == 0
    }

    /// Reads a `T` at `offset` (aligned).
    pub fn read<T: Primitive>(&self, offset: usize) -> Result<T, AccessError> {
        self.r.read(offset)
    }

    /// Writes a `T` at `offset` (aligned).
    pub fn write<T: Primitive>(&self, offset: usize, v: T) -> Result<(), AccessError> {
        self.r.write(offset, v)
    }

    /// Copies `dst.len()` bytes from `offset`.
    pub fn copy_out(&self, offset: usize, dst: &mut [u8]) -> Result<(), AccessError> {
        self.r.copy_out(offset, dst)
    }

    /// Copies `src` to `offset`.
    pub fn copy_in(&self, offset: usize, src: &[u8]) -> Result<(), AccessError> {
        self.r.copy_in(offset, src)
    }

    /// The word at `offset` (8-byte aligned) as an atomic, to synchronise
    /// with the other components that map the region.
    pub fn atomic_u64(&self, offset: usize) -> Result<&AtomicU64, AccessError> {
        self.r.atomic(offset)
    }
}

/// Device frames (memory-mapped registers) this component maps.
#[derive(Debug)]
pub struct DeviceFrames {
    r: Range,
    paddr: u64,
}

impl DeviceFrames {
    pub(crate) fn bind(d: &DeviceRegion) -> Result<DeviceFrames, BindError> {
        Ok(DeviceFrames {
            r: Range::new(d.vaddr, d.size, d.writable)?,
            paddr: d.paddr,
        })
    }

    /// Physical address of the first frame.
    pub fn paddr(&self) -> u64 {
        self.paddr
    }

    /// Bytes mapped.
    pub fn len(&self) -> usize {
        self.r.size
    }

    /// Whether it has no bytes (never).
    pub fn is_empty(&self) -> bool {
        self.r.size == 0
    }

    /// Reads a register.
    pub fn read<T: Primitive>(&self, offset: usize) -> Result<T, AccessError> {
        self.r.read(offset)
    }

    /// Writes a register.
    pub fn write<T: Primitive>(&self, offset: usize, v: T) -> Result<(), AccessError> {
        self.r.write(offset, v)
    }
}
