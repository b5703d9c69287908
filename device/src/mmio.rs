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
#[non_exhaustive]
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
    /// Reads 16 bits at `offset`.
    fn read16(&self, offset: usize) -> Result<u16, MmioError>;
    /// Reads 32 bits at `offset`.
    fn read32(&self, offset: usize) -> Result<u32, MmioError>;
    /// Reads 64 bits at `offset`.
    fn read64(&self, offset: usize) -> Result<u64, MmioError>;
    /// Writes 8 bits at `offset`.
    fn write8(&self, offset: usize, value: u8) -> Result<(), MmioError>;
    /// Writes 16 bits at `offset`.
    fn write16(&self, offset: usize, value: u16) -> Result<(), MmioError>;
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
    fn read16(&self, offset: usize) -> Result<u16, MmioError> {
        (**self).read16(offset)
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
    fn write16(&self, offset: usize, value: u16) -> Result<(), MmioError> {
        (**self).write16(offset, value)
    }
    fn write32(&self, offset: usize, value: u32) -> Result<(), MmioError> {
        (**self).write32(offset, value)
    }
    fn write64(&self, offset: usize, value: u64) -> Result<(), MmioError> {
        (**self).write64(offset, value)
    }
}

/// Device registers mapped into the program at `base`: every access is
/// one volatile access of its width, checked against the region's size
/// and alignment first ([`check`]), so a driver's bad offset is an
/// [`MmioError`], never an access outside the mapping.
#[derive(Debug)]
pub struct MappedMmio {
    base: usize,
    size: usize,
}

#[allow(unsafe_code)]
mod mapped {
    use super::*;

    impl MappedMmio {
        /// The registers mapped at `[base, base + size)`.
        ///
        /// # Safety
        /// `[base, base + size)` must stay mapped (to the device's frames,
        /// uncached, as seL4 maps device frames by default) while the value
        /// lives, and nothing else may access it as ordinary memory.
        pub const unsafe fn new(base: usize, size: usize) -> MappedMmio {
            MappedMmio { base, size }
        }

        fn at(&self, offset: usize, width: usize) -> Result<usize, MmioError> {
            check(offset, width, self.size)?;
            Ok(self.base + offset)
        }
    }

    // SAFETY: the region is device memory that `new`'s caller keeps
    // mapped; volatile accesses from any thread are what the hardware
    // takes (the driver above orders them).
    unsafe impl Send for MappedMmio {}
    // SAFETY: as for Send: accesses take `&self` and are single volatile
    // loads and stores.
    unsafe impl Sync for MappedMmio {}

    macro_rules! access {
        ($read:ident, $write:ident, $t:ty) => {
            fn $read(&self, offset: usize) -> Result<$t, MmioError> {
                let a = self.at(offset, core::mem::size_of::<$t>())?;
                // SAFETY: inside the mapped region and aligned (checked
                // above); mapped while `self` lives (`new`'s contract).
                Ok(unsafe { core::ptr::read_volatile(a as *const $t) })
            }
            fn $write(&self, offset: usize, value: $t) -> Result<(), MmioError> {
                let a = self.at(offset, core::mem::size_of::<$t>())?;
                // SAFETY: as for the read.
                unsafe { core::ptr::write_volatile(a as *mut $t, value) };
                Ok(())
            }
        };
    }

    impl Mmio for MappedMmio {
        fn size(&self) -> usize {
            self.size
        }
        access!(read8, write8, u8);
        access!(read16, write16, u16);
        access!(read32, write32, u32);
        access!(read64, write64, u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(unsafe_code)]
    fn mapped_accesses_hit_the_region_and_refuse_outside() {
        let mut mem = std::vec![0u64; 4];
        let base = mem.as_mut_ptr() as usize;
        // SAFETY: `mem` (32 bytes) outlives `r` and is only reached through it.
        let r = unsafe { MappedMmio::new(base, 32) };
        r.write32(4, 0xdead_beef).unwrap();
        r.write8(8, 0x5a).unwrap();
        r.write16(10, 0x1234).unwrap();
        r.write64(16, 0x0123_4567_89ab_cdef).unwrap();
        assert_eq!(r.read32(4), Ok(0xdead_beef));
        assert_eq!(r.read8(8), Ok(0x5a));
        assert_eq!(r.read64(16), Ok(0x0123_4567_89ab_cdef));
        assert_eq!(r.read8(5), Ok(0xbe));
        assert_eq!(r.read16(10), Ok(0x1234));
        assert!(matches!(r.read16(9), Err(MmioError::Misaligned { .. })));
        assert!(matches!(
            r.write16(32, 0),
            Err(MmioError::OutOfRange { .. })
        ));
        assert!(matches!(r.read32(32), Err(MmioError::OutOfRange { .. })));
        assert!(matches!(r.write8(32, 0), Err(MmioError::OutOfRange { .. })));
        assert!(matches!(
            r.write64(28, 0),
            Err(MmioError::Misaligned { .. })
        ));
        assert!(matches!(r.read32(2), Err(MmioError::Misaligned { .. })));
        assert_eq!(mem[2], 0x0123_4567_89ab_cdef);
    }

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
