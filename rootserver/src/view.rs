//! Safe access to memory that [`Objects`](crate::objects::Objects) maps
//! into the root task: a [`View`] owns a frame and its mapping, and hands
//! out the frame's bytes only while both exist.
//!
//! ```ignore
//! let mut v = objs.new_view()?;                 // a fresh 4 KiB frame, mapped read-write
//! v.bytes_mut().unwrap()[..5].copy_from_slice(b"hello");
//! assert_eq!(v.read::<u8>(0)?, b'h');
//! let frame = objs.unmap_view(v)?;              // the frame again, unmapped
//! ```
//!
//! # Lifetime
//!
//! A `View` owns the frame's handle ([`Owned<Granule>`]) and its mapping.
//! The bytes it hands out borrow the `View`, so no slice outlives it, and
//! `Objects` refuses everything that would unmap the frame while the
//! `View` lives: [`Objects::unmap`](crate::objects::Objects::unmap) of its
//! address, a [`revoke`](crate::objects::Objects::revoke) that would delete
//! its capability (the frame was a copy of the revoked one), a
//! [`reclaim`](crate::objects::Objects::reclaim) or deletion of the
//! untyped it came from ([`Error::Check`]); dropping the `Objects` leaves
//! the paging structures under a live `View` in place. The only way to
//! take the mapping down is [`Objects::unmap_view`](crate::objects::Objects::unmap_view),
//! which consumes the `View` and gives the frame back.
//!
//! # Aliasing
//!
//! Rust's references promise that nothing else changes the bytes they
//! reach (`&[u8]`) or even reads them (`&mut [u8]`). Physical memory can be
//! reached through more than one mapping: the same frame mapped through two
//! capabilities (here or in another process), shared memory between
//! processes, device registers. A reference over such memory would be
//! undefined behaviour as soon as the other side writes. So a `View` is one
//! of two kinds, decided when it is made:
//!
//! - **exclusive**: the frame is RAM, mapped cacheable, and its capability
//!   is the only one the framework knows of ([`CapRegistry::caps_of`] is 1:
//!   no copy, in the root task or in a process; a frame capability maps at
//!   most once). Nothing else can reach the memory, so [`View::bytes`] and
//!   [`View::bytes_mut`] hand out ordinary slices. While the `View` lives
//!   it holds the only handle, so no copy can be made through `Objects`.
//! - **shared**: anything else (a frame with copies, a frame of another
//!   owner, device memory, uncached mappings). Its memory can change at any
//!   time, so it is reached only by volatile accesses that create no
//!   reference: [`View::read`], [`View::write`], [`View::copy_out`],
//!   [`View::copy_in`]. Two shared views of one frame see each other's
//!   writes, which is sound because neither holds a reference.
//!
//! The volatile accessors work on every view (on an exclusive one they take
//! `&mut self` to write, like the slices do).
//!
//! What the framework cannot see (the same limits as for every capability,
//! see `docs/design.md`): a copy of the frame's capability made by a raw
//! invocation on its name (`view.frame()` is a `Cap`, and `Cap::cnode_copy`
//! is a safe call), a raw unmap or remap through the VSpace's capability,
//! and a revocation of the untyped an `Objects` was given by whoever gave
//! it ([`Objects::new`](crate::objects::Objects::new) takes its untypeds on
//! trust: revoke them only when nothing of that `Objects` is used any
//! more, views included).
//!
//! [`CapRegistry::caps_of`]: sel4_alloc::CapRegistry::caps_of
//! [`Owned<Granule>`]: crate::cap::Owned
//! [`Error::Check`]: crate::error::Error::Check
#![allow(unsafe_code)]

use crate::cap::{Cap, Owned, OwnerId};

/// Why a view refused an access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ViewError {
    /// `[offset, offset + len)` does not lie inside the view.
    OutOfRange {
        /// Start of the access.
        offset: usize,
        /// Bytes of the access.
        len: usize,
        /// Bytes of the view.
        size: usize,
    },
    /// The offset is not a multiple of the access's size.
    Misaligned {
        /// The offset asked for.
        offset: usize,
        /// The alignment the access needs.
        align: usize,
    },
    /// The frame is mapped read-only.
    ReadOnly,
}

impl core::fmt::Display for ViewError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ViewError::OutOfRange { offset, len, size } => write!(
                f,
                "access of {len} bytes at offset {offset:#x} is outside the view of {size:#x} bytes"
            ),
            ViewError::Misaligned { offset, align } => write!(
                f,
                "offset {offset:#x} is not a multiple of {align} (the access's size)"
            ),
            ViewError::ReadOnly => write!(f, "the view's frame is mapped read-only"),
        }
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A value a view reads or writes in one volatile access: `u8`, `u16`,
/// `u32`, `u64`.
pub trait Scalar: Copy + sealed::Sealed {}
macro_rules! scalar {
    ($($t:ty),*) => { $( impl sealed::Sealed for $t {} impl Scalar for $t {} )* };
}
scalar!(u8, u16, u32, u64);

/// A frame mapped into the root task by
/// [`Objects::map_view`](crate::objects::Objects::map_view) or
/// [`Objects::new_view`](crate::objects::Objects::new_view): see the
/// [module documentation](self) for what it guarantees.
#[must_use = "a view keeps its frame and mapping until Objects::unmap_view gives them back"]
pub struct View {
    frame: Owned<sel4::Granule>,
    vaddr: u64,
    size: usize,
    writable: bool,
    exclusive: bool,
    /// The `Objects` that made it.
    owner: OwnerId,
}

impl core::fmt::Debug for View {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("View")
            .field("frame", &self.frame)
            .field("vaddr", &format_args!("{:#x}", self.vaddr))
            .field("size", &self.size)
            .field("writable", &self.writable)
            .field("exclusive", &self.exclusive)
            .finish()
    }
}

impl View {
    /// Made by `Objects` once the frame is mapped at `vaddr` (`size`
    /// bytes, readable, writable if `writable`) and pinned there; see the
    /// module documentation for `exclusive`.
    pub(crate) fn new(
        frame: Owned<sel4::Granule>,
        vaddr: u64,
        size: usize,
        writable: bool,
        exclusive: bool,
        owner: OwnerId,
    ) -> View {
        View {
            frame,
            vaddr,
            size,
            writable,
            exclusive,
            owner,
        }
    }

    /// Takes the view apart (for `Objects::unmap_view`, after unpinning).
    pub(crate) fn into_frame(self) -> Owned<sel4::Granule> {
        self.frame
    }

    pub(crate) fn owner(&self) -> OwnerId {
        self.owner
    }

    /// The frame's name (for invocations such as `Page_GetAddress`).
    pub fn frame(&self) -> Cap<sel4::Granule> {
        self.frame.cap()
    }

    /// The frame's slot in the root task's CSpace.
    pub fn cptr(&self) -> u64 {
        self.frame.cptr()
    }

    /// Where the frame is mapped in the root task.
    pub fn vaddr(&self) -> u64 {
        self.vaddr
    }

    /// Bytes of the view (the frame's size).
    pub fn len(&self) -> usize {
        self.size
    }

    /// Never: a view covers a whole frame.
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// Whether the frame is mapped writable.
    pub fn is_writable(&self) -> bool {
        self.writable
    }

    /// Whether the view is exclusive (slices) rather than shared (volatile
    /// accesses only).
    pub fn is_exclusive(&self) -> bool {
        self.exclusive
    }

    /// The bytes, for an exclusive view; `None` for a shared one.
    pub fn bytes(&self) -> Option<&[u8]> {
        if !self.exclusive {
            return None;
        }
        // SAFETY: the frame is mapped readable at `vaddr` for `size` bytes
        // and stays mapped while `self` lives (Objects refuses every
        // operation that would unmap it, see the module documentation);
        // the view is exclusive, so no other mapping reaches the memory and
        // nothing writes it except through `&mut self`, which this borrow
        // excludes. The address is page-aligned and non-null.
        Some(unsafe { core::slice::from_raw_parts(self.vaddr as *const u8, self.size) })
    }

    /// The bytes, writable, for an exclusive view mapped writable; `None`
    /// otherwise.
    pub fn bytes_mut(&mut self) -> Option<&mut [u8]> {
        if !self.exclusive || !self.writable {
            return None;
        }
        // SAFETY: as in `bytes`; the mapping is writable, and `&mut self`
        // makes this the only reference into the memory.
        Some(unsafe { core::slice::from_raw_parts_mut(self.vaddr as *mut u8, self.size) })
    }

    fn check(&self, offset: usize, len: usize, align: usize) -> Result<u64, ViewError> {
        let fits = matches!(offset.checked_add(len), Some(e) if e <= self.size);
        if !fits {
            return Err(ViewError::OutOfRange {
                offset,
                len,
                size: self.size,
            });
        }
        if !offset.is_multiple_of(align) {
            return Err(ViewError::Misaligned { offset, align });
        }
        Ok(self.vaddr + offset as u64)
    }

    /// Reads a `T` at `offset` (a multiple of its size) with one volatile
    /// load.
    pub fn read<T: Scalar>(&self, offset: usize) -> Result<T, ViewError> {
        let size = core::mem::size_of::<T>();
        let addr = self.check(offset, size, size)?;
        // SAFETY: `addr` lies in the mapped, readable frame (checked above;
        // mapped while `self` lives) and is aligned for `T`; a volatile load
        // creates no reference, so other mappings of the memory may change
        // it meanwhile; every bit pattern is a valid `T`.
        Ok(unsafe { core::ptr::read_volatile(addr as *const T) })
    }

    /// Writes a `T` at `offset` (a multiple of its size) with one volatile
    /// store.
    pub fn write<T: Scalar>(&mut self, offset: usize, value: T) -> Result<(), ViewError> {
        if !self.writable {
            return Err(ViewError::ReadOnly);
        }
        let size = core::mem::size_of::<T>();
        let addr = self.check(offset, size, size)?;
        // SAFETY: `addr` lies in the mapped, writable frame and is aligned
        // for `T`; `&mut self` excludes slices of this view, and a volatile
        // store creates no reference.
        unsafe { core::ptr::write_volatile(addr as *mut T, value) };
        Ok(())
    }

    /// Copies `out.len()` bytes from `offset` into `out` (volatile loads).
    pub fn copy_out(&self, offset: usize, out: &mut [u8]) -> Result<(), ViewError> {
        let addr = self.check(offset, out.len(), 1)?;
        for (i, b) in out.iter_mut().enumerate() {
            // SAFETY: inside the mapped, readable frame (range checked).
            *b = unsafe { core::ptr::read_volatile((addr + i as u64) as *const u8) };
        }
        Ok(())
    }

    /// Copies `data` to `offset` (volatile stores).
    pub fn copy_in(&mut self, offset: usize, data: &[u8]) -> Result<(), ViewError> {
        if !self.writable {
            return Err(ViewError::ReadOnly);
        }
        let addr = self.check(offset, data.len(), 1)?;
        for (i, &b) in data.iter().enumerate() {
            // SAFETY: inside the mapped, writable frame (range checked);
            // `&mut self` excludes slices of this view.
            unsafe { core::ptr::write_volatile((addr + i as u64) as *mut u8, b) };
        }
        Ok(())
    }

    /// Sets `len` bytes from `offset` to `value` (volatile stores).
    pub fn fill(&mut self, offset: usize, len: usize, value: u8) -> Result<(), ViewError> {
        if !self.writable {
            return Err(ViewError::ReadOnly);
        }
        let addr = self.check(offset, len, 1)?;
        for i in 0..len as u64 {
            // SAFETY: inside the mapped, writable frame (range checked).
            unsafe { core::ptr::write_volatile((addr + i) as *mut u8, value) };
        }
        Ok(())
    }
}
