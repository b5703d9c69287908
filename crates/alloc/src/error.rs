//! The one error type of the allocators.

use core::fmt;

/// Why an allocator refused a request. Every variant names the request, so
/// the message alone says what was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AllocError {
    /// Not enough free slots: `requested` slots (contiguous if more than
    /// one) were asked for, `available` are free in total.
    SlotsExhausted {
        /// Slots asked for.
        requested: usize,
        /// Slots free in total.
        available: usize,
    },
    /// A slot outside the allocator's range `[start, end)`.
    SlotOutOfRange {
        /// The slot asked for.
        slot: u64,
        /// First slot of the allocator's range.
        start: u64,
        /// First slot after the allocator's range.
        end: u64,
    },
    /// Claiming a slot that is already allocated.
    SlotInUse {
        /// The slot.
        slot: u64,
    },
    /// Freeing a slot that is not allocated (double free, or never handed
    /// out).
    SlotNotAllocated {
        /// The slot.
        slot: u64,
    },
    /// No untyped of the wanted kind has room for `count` objects of
    /// `2^size_bits` bytes.
    UntypedExhausted {
        /// Each object is `2^size_bits` bytes.
        size_bits: u8,
        /// Objects asked for.
        count: usize,
        /// Device memory was asked for (else RAM).
        device: bool,
    },
    /// The untyped `id` has no room for `count` objects of `2^size_bits`
    /// bytes (`free` bytes are left above its watermark).
    UntypedFull {
        /// The untyped's id (its capability's slot, in practice).
        id: u64,
        /// Each object is `2^size_bits` bytes.
        size_bits: u8,
        /// Objects asked for.
        count: usize,
        /// Bytes left above the untyped's watermark.
        free: u64,
    },
    /// No untyped with this id is known.
    UnknownUntyped {
        /// The untyped's id (its capability's slot, in practice).
        id: u64,
    },
    /// An untyped with this id is already known.
    DuplicateUntyped {
        /// The untyped's id (its capability's slot, in practice).
        id: u64,
    },
    /// An untyped whose physical address is not aligned to its size, or
    /// whose size is out of range.
    BadUntyped {
        /// The untyped's id (its capability's slot, in practice).
        id: u64,
        /// Its physical address.
        paddr: u64,
        /// Its size as a power of two (bytes).
        size_bits: u8,
    },
    /// An object size the kernel cannot create (`size_bits` above
    /// [`crate::MAX_SIZE_BITS`], or `count` of zero or past the word size).
    BadObjectSize {
        /// Each object is `2^size_bits` bytes.
        size_bits: u8,
        /// Objects asked for.
        count: usize,
    },
    /// A [`crate::Placement`] that does not match the allocator's state any
    /// more (rolled back twice, or after a later allocation from the same
    /// untyped).
    StalePlacement {
        /// The untyped's id.
        id: u64,
    },
    /// Child untypeds registered for a placement of something the kernel
    /// cannot make into untypeds (size below the kernel's minimum).
    NotUntypedPlacement {
        /// The untyped the placement is in.
        id: u64,
        /// The placement's object size as a power of two (bytes).
        size_bits: u8,
    },
    /// No untyped covers the physical address.
    NoUntypedAt {
        /// The physical address asked for.
        paddr: u64,
    },
    /// The physical address is in an untyped, but the memory there has
    /// already been handed out (below the untyped's watermark).
    PhysInUse {
        /// The physical address asked for.
        paddr: u64,
        /// The untyped that covers it.
        id: u64,
    },
    /// A physical address not aligned to the frame size asked for.
    MisalignedPhys {
        /// The physical address asked for.
        paddr: u64,
        /// The frame size as a power of two (bytes).
        size_bits: u8,
    },
    /// No free virtual range of `size` bytes aligned to `align`.
    VirtExhausted {
        /// Bytes asked for.
        size: u64,
        /// Alignment asked for (bytes).
        align: u64,
    },
    /// The fixed virtual range `[addr, addr + size)` is not entirely free
    /// (or not inside the allocator's window).
    VirtInUse {
        /// Start of the range asked for.
        addr: u64,
        /// Its size in bytes.
        size: u64,
    },
    /// Freeing a virtual address that is not the start of an allocated
    /// range.
    VirtNotAllocated {
        /// The address given.
        addr: u64,
    },
    /// A size of zero, an alignment that is not a power of two, or a range
    /// that wraps around the address space.
    VirtBadRequest {
        /// The address asked for (0 for a request at any address).
        addr: u64,
        /// Bytes asked for.
        size: u64,
        /// Alignment asked for in bytes (1 for a request at a fixed
        /// address).
        align: u64,
    },
}

impl fmt::Display for AllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use AllocError::*;
        // Sizes in bits are formatted as `u64`, like every other field:
        // one integer formatter (the `u8` one would be linked for them alone).
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
            } => {
                let size_bits = u64::from(size_bits);
                write!(
                    f,
                    "no {} untyped memory for {count} object(s) of 2^{size_bits} bytes",
                    if device { "device" } else { "RAM" }
                )
            }
            UntypedFull {
                id,
                size_bits,
                count,
                free,
            } => {
                let size_bits = u64::from(size_bits);
                write!(
                    f,
                    "untyped {id:#x} has no room for {count} object(s) of 2^{size_bits} bytes ({free} bytes free)"
                )
            }
            UnknownUntyped { id } => write!(f, "no untyped {id:#x}"),
            DuplicateUntyped { id } => write!(f, "untyped {id:#x} added twice"),
            BadUntyped {
                id,
                paddr,
                size_bits,
            } => {
                let size_bits = u64::from(size_bits);
                write!(
                    f,
                    "untyped {id:#x}: 2^{size_bits} bytes at {paddr:#x} is not a valid untyped"
                )
            }
            BadObjectSize { size_bits, count } => {
                let size_bits = u64::from(size_bits);
                write!(f, "cannot create {count} object(s) of 2^{size_bits} bytes")
            }
            StalePlacement { id } => write!(f, "placement in untyped {id:#x} is stale"),
            NotUntypedPlacement { id, size_bits } => {
                let size_bits = u64::from(size_bits);
                write!(
                    f,
                    "objects of 2^{size_bits} bytes from untyped {id:#x} cannot be untypeds"
                )
            }
            NoUntypedAt { paddr } => write!(f, "no untyped covers physical address {paddr:#x}"),
            PhysInUse { paddr, id } => write!(
                f,
                "physical address {paddr:#x} in untyped {id:#x} is already in use"
            ),
            MisalignedPhys { paddr, size_bits } => {
                let size_bits = u64::from(size_bits);
                write!(
                    f,
                    "physical address {paddr:#x} is not aligned to 2^{size_bits} bytes"
                )
            }
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
