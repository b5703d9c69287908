//! Bookkeeping allocators for seL4 root tasks, with no kernel dependency so
//! that every rule is tested on the host:
//!
//! - [`SlotAllocator`]: capability slots of a CNode range `[start, end)`,
//!   single or contiguous (for a retype's fan-out), with free and reuse;
//! - [`UntypedAllocator`]: where the kernel will put objects retyped from a
//!   list of untyped capabilities (it follows the kernel's retype rule), how
//!   to carve an untyped to reach a physical address (device frames), and how
//!   much memory is used and free;
//! - [`CapRegistry`]: which object each capability made to an object of
//!   untyped memory names, copies and badged copies included, so that an
//!   object counts as gone (and its untyped as reusable) only when the
//!   kernel agrees;
//! - [`IdMap`]: a map keyed by capability slot with constant-time
//!   lookups (the allocators' and the root server's indexes);
//! - [`VirtualRegionAllocator`]: ranges of a virtual address space, with
//!   alignment, fixed placement, free and merge.
//!
//! None of them talks to the kernel: the caller performs the invocation the
//! allocator planned and, if it fails, undoes the plan (each allocator says
//! how).
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

mod caps;
mod error;
mod idmap;
mod slots;
mod untyped;
mod vregion;

pub use caps::{CapRegistry, ObjectKind};
pub use error::AllocError;
pub use idmap::{Held, IdMap, DENSE_SPAN};
pub use slots::SlotAllocator;
pub use untyped::{
    CarveStep, LastPlace, MemoryKind, Placement, UntypedAllocator, UntypedDesc, UntypedUsage,
    MAX_SIZE_BITS, MIN_UNTYPED_BITS,
};
pub use vregion::VirtualRegionAllocator;

#[cfg(test)]
mod caps_tests;
#[cfg(test)]
mod tests;
