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

/// Writes `template` with each `{}` replaced by the next of `args` in
/// decimal and each `{x}` by it in hex with `0x`.
fn render(f: &mut fmt::Formatter<'_>, template: &str, args: &[u64]) -> fmt::Result {
    // Byte positions and `str::get`: the text between the markers goes out
    // in one `write_str` each, and no slicing that can panic (or decode
    // `char`s) is linked.
    let bytes = template.as_bytes();
    let mut args = args.iter();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'{' {
            i += 1;
            continue;
        }
        f.write_str(template.get(start..i).unwrap_or(""))?;
        let v = args.next().copied().unwrap_or(0);
        if bytes.get(i + 1) == Some(&b'x') {
            write!(f, "{v:#x}")?;
            i += 3;
        } else {
            write!(f, "{v}")?;
            i += 2;
        }
        start = i;
    }
    f.write_str(template.get(start..).unwrap_or(""))
}

impl fmt::Display for AllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use AllocError::*;
        let (t, a): (&str, [u64; 4]) = match *self {
            SlotsExhausted {
                requested,
                available,
            } => (
                "no {} free capability slot(s) ({} free in total)",
                [requested as u64, available as u64, 0, 0],
            ),
            SlotOutOfRange { slot, start, end } => {
                ("slot {x} outside [{x}, {x})", [slot, start, end, 0])
            }
            SlotInUse { slot } => ("slot {x} is already allocated", [slot, 0, 0, 0]),
            SlotNotAllocated { slot } => ("slot {x} is not allocated", [slot, 0, 0, 0]),
            UntypedExhausted {
                size_bits,
                count,
                device,
            } => (
                if device {
                    "no device untyped memory for {} object(s) of 2^{} bytes"
                } else {
                    "no RAM untyped memory for {} object(s) of 2^{} bytes"
                },
                [count as u64, size_bits.into(), 0, 0],
            ),
            UntypedFull {
                id,
                size_bits,
                count,
                free,
            } => (
                "untyped {x} has no room for {} object(s) of 2^{} bytes ({} bytes free)",
                [id, count as u64, size_bits.into(), free],
            ),
            UnknownUntyped { id } => ("no untyped {x}", [id, 0, 0, 0]),
            DuplicateUntyped { id } => ("untyped {x} added twice", [id, 0, 0, 0]),
            BadUntyped {
                id,
                paddr,
                size_bits,
            } => (
                "untyped {x}: 2^{} bytes at {x} is not a valid untyped",
                [id, size_bits.into(), paddr, 0],
            ),
            BadObjectSize { size_bits, count } => (
                "cannot create {} object(s) of 2^{} bytes",
                [count as u64, size_bits.into(), 0, 0],
            ),
            StalePlacement { id } => ("placement in untyped {x} is stale", [id, 0, 0, 0]),
            NotUntypedPlacement { id, size_bits } => (
                "objects of 2^{} bytes from untyped {x} cannot be untypeds",
                [size_bits.into(), id, 0, 0],
            ),
            NoUntypedAt { paddr } => ("no untyped covers physical address {x}", [paddr, 0, 0, 0]),
            PhysInUse { paddr, id } => (
                "physical address {x} in untyped {x} is already in use",
                [paddr, id, 0, 0],
            ),
            MisalignedPhys { paddr, size_bits } => (
                "physical address {x} is not aligned to 2^{} bytes",
                [paddr, size_bits.into(), 0, 0],
            ),
            VirtExhausted { size, align } => (
                "no free virtual range of {x} bytes aligned to {x}",
                [size, align, 0, 0],
            ),
            VirtInUse { addr, size } => (
                "virtual range [{x}, {x}) is not free",
                [addr, addr.wrapping_add(size), 0, 0],
            ),
            VirtNotAllocated { addr } => (
                "virtual address {x} is not an allocated range",
                [addr, 0, 0, 0],
            ),
            VirtBadRequest { addr, size, align } => (
                "bad virtual range request: address {x}, size {x}, alignment {x}",
                [addr, size, align, 0],
            ),
        };
        render(f, t, &a)
    }
}
