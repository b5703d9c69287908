//! The one error type of the allocators.

use core::fmt;

/// Why an allocator refused a request. Every variant names the request, so
/// the message alone says what was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AllocError {
    /// Not enough free slots: `requested` slots (contiguous if more than
    /// one) were asked for, `available` are free in total.
    SlotsExhausted { requested: usize, available: usize },
    /// A slot outside the allocator's range `[start, end)`.
    SlotOutOfRange { slot: u64, start: u64, end: u64 },
    /// Claiming a slot that is already allocated.
    SlotInUse { slot: u64 },
    /// Freeing a slot that is not allocated (double free, or never handed
    /// out).
    SlotNotAllocated { slot: u64 },
    /// No untyped of the wanted kind has room for `count` objects of
    /// `2^size_bits` bytes.
    UntypedExhausted {
        size_bits: u8,
        count: usize,
        device: bool,
    },
    /// The untyped `id` has no room for `count` objects of `2^size_bits`
    /// bytes (`free` bytes are left above its watermark).
    UntypedFull {
        id: u64,
        size_bits: u8,
        count: usize,
        free: u64,
    },
    /// No untyped with this id is known.
    UnknownUntyped { id: u64 },
    /// An untyped with this id is already known.
    DuplicateUntyped { id: u64 },
    /// An untyped whose physical address is not aligned to its size, or
    /// whose size is out of range.
    BadUntyped { id: u64, paddr: u64, size_bits: u8 },
    /// An object size the kernel cannot create (`size_bits` above
    /// [`crate::MAX_SIZE_BITS`], or `count` of zero or past the word size).
    BadObjectSize { size_bits: u8, count: usize },
    /// A [`crate::Placement`] that does not match the allocator's state any
    /// more (rolled back twice, or after a later allocation from the same
    /// untyped).
    StalePlacement { id: u64 },
    /// Child untypeds registered for a placement of something the kernel
    /// cannot make into untypeds (size below the kernel's minimum).
    NotUntypedPlacement { id: u64, size_bits: u8 },
    /// No untyped covers the physical address.
    NoUntypedAt { paddr: u64 },
    /// The physical address is in an untyped, but the memory there has
    /// already been handed out (below the untyped's watermark).
    PhysInUse { paddr: u64, id: u64 },
    /// A physical address not aligned to the frame size asked for.
    MisalignedPhys { paddr: u64, size_bits: u8 },
    /// No free virtual range of `size` bytes aligned to `align`.
    VirtExhausted { size: u64, align: u64 },
    /// The fixed virtual range `[addr, addr + size)` is not entirely free
    /// (or not inside the allocator's window).
    VirtInUse { addr: u64, size: u64 },
    /// Freeing a virtual address that is not the start of an allocated
    /// range.
    VirtNotAllocated { addr: u64 },
    /// A size of zero, an alignment that is not a power of two, or a range
    /// that wraps around the address space.
    VirtBadRequest { addr: u64, size: u64, align: u64 },
}

impl fmt::Display for AllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use AllocError::*;
        match *self {
            SlotsExhausted {
                requested,
                available,
            } => write!(
                f,
                "no {requested} free capability slot(s) ({available} free in total)"
            ),
            SlotOutOfRange { slot, start, end } => {
                write!(f, "slot {slot:#x} outside [{start:#x}, {end:#x})")
            }
            SlotInUse { slot } => write!(f, "slot {slot:#x} is already allocated"),
            SlotNotAllocated { slot } => write!(f, "slot {slot:#x} is not allocated"),
            UntypedExhausted {
                size_bits,
                count,
                device,
            } => write!(
                f,
                "no {} untyped memory for {count} object(s) of 2^{size_bits} bytes",
                if device { "device" } else { "RAM" }
            ),
            UntypedFull {
                id,
                size_bits,
                count,
                free,
            } => write!(
                f,
                "untyped {id:#x} has no room for {count} object(s) of 2^{size_bits} bytes ({free} bytes free)"
            ),
            UnknownUntyped { id } => write!(f, "no untyped {id:#x}"),
            DuplicateUntyped { id } => write!(f, "untyped {id:#x} added twice"),
            BadUntyped {
                id,
                paddr,
                size_bits,
            } => write!(
                f,
                "untyped {id:#x}: 2^{size_bits} bytes at {paddr:#x} is not a valid untyped"
            ),
            BadObjectSize { size_bits, count } => {
                write!(f, "cannot create {count} object(s) of 2^{size_bits} bytes")
            }
            StalePlacement { id } => write!(f, "placement in untyped {id:#x} is stale"),
            NotUntypedPlacement { id, size_bits } => write!(
                f,
                "objects of 2^{size_bits} bytes from untyped {id:#x} cannot be untypeds"
            ),
            NoUntypedAt { paddr } => write!(f, "no untyped covers physical address {paddr:#x}"),
            PhysInUse { paddr, id } => write!(
                f,
                "physical address {paddr:#x} in untyped {id:#x} is already in use"
            ),
            MisalignedPhys { paddr, size_bits } => write!(
                f,
                "physical address {paddr:#x} is not aligned to 2^{size_bits} bytes"
            ),
            VirtExhausted { size, align } => write!(
                f,
                "no free virtual range of {size:#x} bytes aligned to {align:#x}"
            ),
            VirtInUse { addr, size } => write!(
                f,
                "virtual range [{addr:#x}, {:#x}) is not free",
                addr.wrapping_add(size)
            ),
            VirtNotAllocated { addr } => {
                write!(f, "virtual address {addr:#x} is not an allocated range")
            }
            VirtBadRequest { addr, size, align } => write!(
                f,
                "bad virtual range request: address {addr:#x}, size {size:#x}, alignment {align:#x}"
            ),
        }
    }
}
