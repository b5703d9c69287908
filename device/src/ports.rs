//! x86 I/O ports: a range of ports as a typed value, accesses checked
//! against it before any kernel call, and the [`PortIo`] trait drivers are
//! written against (the seL4 capability implements it on the target, a
//! fake in host tests).

use core::fmt;

/// The width of one port access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Width {
    /// 8 bits (`in`/`out` of a byte).
    W8 = 1,
    /// 16 bits.
    W16 = 2,
    /// 32 bits.
    W32 = 4,
}

impl Width {
    /// Bytes (ports) the access covers.
    pub const fn bytes(self) -> u16 {
        self as u16
    }
}

/// A contiguous range of I/O ports, `first..=last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortRange {
    first: u16,
    last: u16,
}

impl PortRange {
    /// The ports `first..=last`; refused when `last < first`.
    pub const fn new(first: u16, last: u16) -> Result<PortRange, PortError> {
        if last < first {
            return Err(PortError::EmptyRange { first, last });
        }
        Ok(PortRange { first, last })
    }

    /// `len` ports from `first`; refused when empty or past port 0xffff.
    pub const fn with_len(first: u16, len: u16) -> Result<PortRange, PortError> {
        if len == 0 {
            return Err(PortError::EmptyRange {
                first,
                last: first.wrapping_sub(1),
            });
        }
        match first.checked_add(len - 1) {
            Some(last) => Ok(PortRange { first, last }),
            None => Err(PortError::EmptyRange {
                first,
                last: u16::MAX,
            }),
        }
    }

    /// The first port.
    pub const fn first(&self) -> u16 {
        self.first
    }

    /// The last port (inclusive).
    pub const fn last(&self) -> u16 {
        self.last
    }

    /// Number of ports.
    pub const fn len(&self) -> u32 {
        self.last as u32 - self.first as u32 + 1
    }

    /// Never: a range holds at least one port.
    pub const fn is_empty(&self) -> bool {
        false
    }

    /// Whether an access of `width` at `port` lies inside the range (all of
    /// its bytes).
    pub const fn contains(&self, port: u16, width: Width) -> bool {
        let end = port as u32 + width.bytes() as u32 - 1;
        port >= self.first && end <= self.last as u32
    }

    /// Whether `other` lies inside this range.
    pub const fn covers(&self, other: PortRange) -> bool {
        other.first >= self.first && other.last <= self.last
    }

    /// Whether the two ranges share a port.
    pub const fn overlaps(&self, other: PortRange) -> bool {
        self.first <= other.last && other.first <= self.last
    }

    /// `Ok` when an access of `width` at `port` lies inside the range, the
    /// error that names the range otherwise.
    pub const fn check(&self, port: u16, width: Width) -> Result<(), PortError> {
        if self.contains(port, width) {
            Ok(())
        } else {
            Err(PortError::OutOfRange {
                port,
                width: width.bytes() as u8,
                first: self.first,
                last: self.last,
            })
        }
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}..={:#x}", self.first, self.last)
    }
}

/// Why a port operation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PortError {
    /// The access is outside the range the capability was issued for:
    /// refused before any kernel call.
    OutOfRange {
        /// The port asked for.
        port: u16,
        /// Bytes of the access.
        width: u8,
        /// The range's first port.
        first: u16,
        /// The range's last port.
        last: u16,
    },
    /// A range with no port (`last < first`, or past 0xffff).
    EmptyRange {
        /// The first port given.
        first: u16,
        /// The last port given.
        last: u16,
    },
    /// seL4 10+: a port of the range was issued already (to this program or
    /// another); the kernel hands each port out once.
    AlreadyIssued {
        /// The range asked for.
        first: u16,
        /// Its last port.
        last: u16,
    },
    /// There is no I/O port authority to issue from (the I/O port control
    /// capability, or seL4 5.x's capability for all ports, is not in its
    /// slot).
    NoAuthority,
    /// The kernel refused the operation.
    #[cfg(all(target_os = "none", target_arch = "x86_64"))]
    Kernel(sel4::InvocationError),
}

impl fmt::Display for PortError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            PortError::OutOfRange {
                port,
                width,
                first,
                last,
            } => write!(
                f,
                "{width}-byte access at port {port:#x} is outside the range {first:#x}..={last:#x} \
                 this capability was issued for: issue a range that covers it"
            ),
            PortError::EmptyRange { first, last } => write!(
                f,
                "port range {first:#x}..={last:#x} holds no port: the last port must not be below \
                 the first"
            ),
            PortError::AlreadyIssued { first, last } => write!(
                f,
                "a port of {first:#x}..={last:#x} was issued already (the kernel hands each port \
                 out once): use that capability, or delete it first"
            ),
            PortError::NoAuthority => write!(
                f,
                "no I/O port authority: the I/O port control capability (seL4 10+) or the \
                 capability for all ports (seL4 5.x) is not in its slot"
            ),
            #[cfg(all(target_os = "none", target_arch = "x86_64"))]
            PortError::Kernel(e) => write!(f, "the kernel refused the port operation: {e:?}"),
        }
    }
}

/// Port input and output through some authority: the seL4 capability of
/// [`IoPorts`] on the target, a fake in host tests. Drivers take a
/// `PortIo` and never make kernel calls themselves.
pub trait PortIo {
    /// What an access can fail with.
    type Error: fmt::Debug;
    /// Reads a byte from `port`.
    fn in8(&self, port: u16) -> Result<u8, Self::Error>;
    /// Reads 16 bits from `port`.
    fn in16(&self, port: u16) -> Result<u16, Self::Error>;
    /// Reads 32 bits from `port`.
    fn in32(&self, port: u16) -> Result<u32, Self::Error>;
    /// Writes a byte to `port`.
    fn out8(&self, port: u16, value: u8) -> Result<(), Self::Error>;
    /// Writes 16 bits to `port`.
    fn out16(&self, port: u16, value: u16) -> Result<(), Self::Error>;
    /// Writes 32 bits to `port`.
    fn out32(&self, port: u16, value: u32) -> Result<(), Self::Error>;
}

impl<P: PortIo + ?Sized> PortIo for &P {
    type Error = P::Error;
    fn in8(&self, port: u16) -> Result<u8, Self::Error> {
        (**self).in8(port)
    }
    fn in16(&self, port: u16) -> Result<u16, Self::Error> {
        (**self).in16(port)
    }
    fn in32(&self, port: u16) -> Result<u32, Self::Error> {
        (**self).in32(port)
    }
    fn out8(&self, port: u16, value: u8) -> Result<(), Self::Error> {
        (**self).out8(port, value)
    }
    fn out16(&self, port: u16, value: u16) -> Result<(), Self::Error> {
        (**self).out16(port, value)
    }
    fn out32(&self, port: u16, value: u32) -> Result<(), Self::Error> {
        (**self).out32(port, value)
    }
}

#[cfg(all(target_os = "none", target_arch = "x86_64"))]
pub use target::*;

#[cfg(all(target_os = "none", target_arch = "x86_64"))]
mod target {
    use super::*;
    use sel4::prelude::*;
    use sel4::{cap_type, Cap, InvocationError, Slot};

    /// A capability for a range of I/O ports, with the range: accesses
    /// outside it are refused with [`PortError::OutOfRange`] before the
    /// kernel is called. `Copy`: a name, like the [`Cap`] it holds (the
    /// slot belongs to whoever issued it).
    ///
    /// On seL4 10+ the kernel checks the range too (the capability is for
    /// exactly these ports). On seL4 5.x the root task has one capability
    /// for every port; an `IoPorts` made from a copy of it is limited to its
    /// range by this check alone.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct IoPorts {
        cap: Cap<cap_type::X86IOPort>,
        range: PortRange,
    }

    impl IoPorts {
        /// The ports `range` through `cap`, taken on trust (a capability
        /// issued for that range, e.g. by `Objects::io_ports` or named in a
        /// component's description).
        pub const fn new(cap: Cap<cap_type::X86IOPort>, range: PortRange) -> IoPorts {
            IoPorts { cap, range }
        }

        /// Issues a capability for `range` into the empty slot `dest` from
        /// the root task's I/O port authority: seL4 10+
        /// `X86_IOPortControl_Issue` from `init::IO_PORT_CONTROL`; seL4 5.x
        /// a copy of `init::IO_PORT` (all ports; limited to `range` by the
        /// checks of this type).
        pub fn issue(range: PortRange, dest: Slot) -> Result<IoPorts, PortError> {
            sel4::sel4_cfg_if! { kernel >= 10 && label X86IOPortControlIssue {
                let r = sel4::init::IO_PORT_CONTROL.issue(range.first(), range.last(), dest);
            } else {
                let r = dest.copy_from(
                    sel4::init::CNODE.slot(sel4::init::IO_PORT.cptr()),
                    sel4::CapRights::ALL,
                );
            } }
            match r {
                Ok(()) => Ok(IoPorts::new(dest.cap(), range)),
                Err(InvocationError::RevokeFirst) => Err(PortError::AlreadyIssued {
                    first: range.first(),
                    last: range.last(),
                }),
                Err(InvocationError::InvalidCapability { argument: 0 })
                | Err(InvocationError::FailedLookup { .. }) => Err(PortError::NoAuthority),
                Err(e) => Err(PortError::Kernel(e)),
            }
        }

        /// The capability.
        pub const fn cap(&self) -> Cap<cap_type::X86IOPort> {
            self.cap
        }

        /// The range.
        pub const fn range(&self) -> PortRange {
            self.range
        }

        /// The same capability limited to `sub`, which must lie inside this
        /// range (a driver's share of a larger range).
        pub fn narrow(&self, sub: PortRange) -> Result<IoPorts, PortError> {
            if self.range.covers(sub) {
                Ok(IoPorts::new(self.cap, sub))
            } else {
                Err(PortError::OutOfRange {
                    port: if sub.first() < self.range.first() {
                        sub.first()
                    } else {
                        sub.last()
                    },
                    width: 1,
                    first: self.range.first(),
                    last: self.range.last(),
                })
            }
        }
    }

    fn kernel(e: InvocationError) -> PortError {
        PortError::Kernel(e)
    }

    impl PortIo for IoPorts {
        type Error = PortError;
        fn in8(&self, port: u16) -> Result<u8, PortError> {
            self.range.check(port, Width::W8)?;
            self.cap.in8(port).map_err(kernel)
        }
        fn in16(&self, port: u16) -> Result<u16, PortError> {
            self.range.check(port, Width::W16)?;
            self.cap.in16(port).map_err(kernel)
        }
        fn in32(&self, port: u16) -> Result<u32, PortError> {
            self.range.check(port, Width::W32)?;
            self.cap.in32(port).map_err(kernel)
        }
        fn out8(&self, port: u16, value: u8) -> Result<(), PortError> {
            self.range.check(port, Width::W8)?;
            self.cap.out8(port, value).map_err(kernel)
        }
        fn out16(&self, port: u16, value: u16) -> Result<(), PortError> {
            self.range.check(port, Width::W16)?;
            self.cap.out16(port, value).map_err(kernel)
        }
        fn out32(&self, port: u16, value: u32) -> Result<(), PortError> {
            self.range.check(port, Width::W32)?;
            self.cap.out32(port, value).map_err(kernel)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;

    #[test]
    fn range_bounds() {
        let r = PortRange::new(0x2f8, 0x2ff).unwrap();
        assert_eq!(r.len(), 8);
        assert!(r.contains(0x2f8, Width::W8));
        assert!(r.contains(0x2ff, Width::W8));
        assert!(!r.contains(0x2f7, Width::W8));
        assert!(!r.contains(0x300, Width::W8));
        // wider accesses must fit whole
        assert!(r.contains(0x2fe, Width::W16));
        assert!(!r.contains(0x2ff, Width::W16));
        assert!(r.contains(0x2fc, Width::W32));
        assert!(!r.contains(0x2fd, Width::W32));
    }

    #[test]
    fn out_of_range_names_the_range() {
        let r = PortRange::new(0x40, 0x43).unwrap();
        let e = r.check(0x44, Width::W8).unwrap_err();
        assert_eq!(
            e,
            PortError::OutOfRange {
                port: 0x44,
                width: 1,
                first: 0x40,
                last: 0x43
            }
        );
        let text = format!("{e}");
        assert!(
            text.contains("0x44") && text.contains("0x40..=0x43"),
            "{text}"
        );
    }

    #[test]
    fn top_of_the_port_space() {
        let r = PortRange::new(0xfffc, 0xffff).unwrap();
        assert!(r.contains(0xfffc, Width::W32));
        assert!(!r.contains(0xfffe, Width::W32));
        assert!(!r.contains(0xffff, Width::W16));
        assert!(PortRange::with_len(0xffff, 2).is_err());
        assert_eq!(PortRange::with_len(0xffff, 1).unwrap().last(), 0xffff);
    }

    #[test]
    fn empty_ranges_are_refused() {
        assert!(matches!(
            PortRange::new(5, 4),
            Err(PortError::EmptyRange { first: 5, last: 4 })
        ));
        assert!(PortRange::with_len(5, 0).is_err());
    }

    #[test]
    fn covers_and_overlaps() {
        let com = PortRange::new(0x3f8, 0x3ff).unwrap();
        assert!(com.covers(PortRange::new(0x3f8, 0x3f8).unwrap()));
        assert!(!com.covers(PortRange::new(0x3f0, 0x3f8).unwrap()));
        assert!(com.overlaps(PortRange::new(0x3f0, 0x3f8).unwrap()));
        assert!(!com.overlaps(PortRange::new(0x2f8, 0x2ff).unwrap()));
    }
}
