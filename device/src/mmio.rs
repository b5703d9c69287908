//! Memory-mapped registers: the [`Mmio`] trait drivers of MMIO devices are
//! written against (a 16550 on QEMU virt's aarch64 and riscv64 boards, a
//! PL011, an HPET). Whatever maps a device frame into the program provides
//! it; drivers only read and write registers by offset.
//!
//! Every access is one volatile access of its width at `offset` bytes from
//! the region's start. An implementation refuses an access that is not
//! inside the region or not aligned to its width ([`MmioError`]).

use core::fmt;

/// Why a register access was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MmioError {
    /// `[offset, offset + width)` is not inside the region.
    OutOfRange {
        /// The offset asked for.
        offset: usize,
        /// Bytes of the access.
        width: usize,
        /// Bytes of the region.
        size: usize,
    },
    /// The offset is not a multiple of the access's width.
    Misaligned {
        /// The offset asked for.
        offset: usize,
        /// Bytes of the access.
        width: usize,
    },
}

impl fmt::Display for MmioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            MmioError::OutOfRange {
                offset,
                width,
                size,
            } => write!(
                f,
                "{width}-byte register access at offset {offset:#x} is outside the {size:#x}-byte \
                 device region"
            ),
            MmioError::Misaligned { offset, width } => write!(
                f,
                "{width}-byte register access at offset {offset:#x} is not aligned to its width"
            ),
        }
    }
}

/// Checks an access of `width` bytes at `offset` in a region of `size`
/// bytes: inside and aligned.
pub const fn check(offset: usize, width: usize, size: usize) -> Result<(), MmioError> {
    if !offset.is_multiple_of(width) {
        return Err(MmioError::Misaligned { offset, width });
    }
    match offset.checked_add(width) {
        Some(end) if end <= size => Ok(()),
        _ => Err(MmioError::OutOfRange {
            offset,
            width,
            size,
        }),
    }
}

/// A region of device registers.
pub trait Mmio {
    /// Bytes of the region.
    fn size(&self) -> usize;
    /// Reads 8 bits at `offset`.
    fn read8(&self, offset: usize) -> Result<u8, MmioError>;
    /// Reads 32 bits at `offset`.
    fn read32(&self, offset: usize) -> Result<u32, MmioError>;
    /// Reads 64 bits at `offset`.
    fn read64(&self, offset: usize) -> Result<u64, MmioError>;
    /// Writes 8 bits at `offset`.
    fn write8(&self, offset: usize, value: u8) -> Result<(), MmioError>;
    /// Writes 32 bits at `offset`.
    fn write32(&self, offset: usize, value: u32) -> Result<(), MmioError>;
    /// Writes 64 bits at `offset`.
    fn write64(&self, offset: usize, value: u64) -> Result<(), MmioError>;
}

impl<M: Mmio + ?Sized> Mmio for &M {
    fn size(&self) -> usize {
        (**self).size()
    }
    fn read8(&self, offset: usize) -> Result<u8, MmioError> {
        (**self).read8(offset)
    }
    fn read32(&self, offset: usize) -> Result<u32, MmioError> {
        (**self).read32(offset)
    }
    fn read64(&self, offset: usize) -> Result<u64, MmioError> {
        (**self).read64(offset)
    }
    fn write8(&self, offset: usize, value: u8) -> Result<(), MmioError> {
        (**self).write8(offset, value)
    }
    fn write32(&self, offset: usize, value: u32) -> Result<(), MmioError> {
        (**self).write32(offset, value)
    }
    fn write64(&self, offset: usize, value: u64) -> Result<(), MmioError> {
        (**self).write64(offset, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accesses_must_fit_and_align() {
        assert_eq!(check(0, 4, 4096), Ok(()));
        assert_eq!(check(4092, 4, 4096), Ok(()));
        assert_eq!(
            check(4096, 1, 4096),
            Err(MmioError::OutOfRange {
                offset: 4096,
                width: 1,
                size: 4096
            })
        );
        assert_eq!(
            check(2, 4, 4096),
            Err(MmioError::Misaligned {
                offset: 2,
                width: 4
            })
        );
        assert!(check(usize::MAX - 7, 8, usize::MAX).is_err());
    }
}
