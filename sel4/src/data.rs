//! The data word of a capability: an endpoint or notification badge, or the
//! guard of a CNode capability.

use core::fmt;

use crate::{sys, Depth, Word, WORD_BITS};

/// What a mint, mutate or rotate writes into a capability: a badge (for an
/// endpoint or notification capability) or a guard (for a CNode
/// capability), encoded as the configured kernel wants it (seL4 5.x: the
/// `seL4_CapData_t` forms `Badge` and `Guard`; 8.0.0 and later: the badge
/// itself, or `seL4_CNode_CapData`). Both encodings come from the kernel's
/// bitfield files.
///
/// ```
/// use sel4::CapData;
/// let badge = CapData::badge(0x5).unwrap();
/// assert_eq!(badge.badge_value(), Some(0x5));
/// // a 12-bit CNode at full depth: 52 (64-bit) guard bits of zero
/// let guard = CapData::skip_high_bits(12).unwrap();
/// assert_ne!(guard, CapData::NONE);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CapData {
    word: Word,
    is_badge: bool,
}

/// A badge or guard wider than the kernel's field for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataTooWide {
    /// What did not fit: `"badge"`, `"guard"` or `"guard size"`.
    pub what: &'static str,
    /// The value given.
    pub value: Word,
}

impl fmt::Display for DataTooWide {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:#x} does not fit the kernel's {} field",
            self.what, self.value, self.what
        )
    }
}

impl CapData {
    /// No data: badge 0 (an unbadged copy), no change to a CNode's guard.
    pub const NONE: CapData = CapData {
        word: 0,
        is_badge: true,
    };

    /// A badge, if it fits the kernel's badge field (28 bits on seL4 5.x,
    /// a word later).
    pub fn badge(badge: Word) -> Result<CapData, DataTooWide> {
        let enc = crate::sel4_cfg_if! { kernel >= 8 {
            Some(badge)
        } else {
            sys::CapData::try_new_badge(badge).map(|d| d.0)
        } };
        let word = enc.ok_or(DataTooWide {
            what: "badge",
            value: badge,
        })?;
        Ok(CapData {
            word,
            is_badge: true,
        })
    }

    /// A CNode guard: `guard_bits` bits of value `guard` that an address
    /// must match before the CNode's index bits (seL4 5.x: 18 guard bits at
    /// most; later: a word minus the 6 bits of the size).
    pub fn cnode_guard(guard: Word, guard_bits: Depth) -> Result<CapData, DataTooWide> {
        let size = Word::from(guard_bits);
        if size > Word::from(WORD_BITS) {
            return Err(DataTooWide {
                what: "guard size",
                value: size,
            });
        }
        let enc = crate::sel4_cfg_if! { kernel >= 8 {
            sys::CNode_CapData::try_new(guard, size).map(|d| d.0)
        } else {
            sys::CapData::try_new_guard(guard, size).map(|d| d.0)
        } };
        let word = enc.ok_or(DataTooWide {
            what: "guard",
            value: guard,
        })?;
        Ok(CapData {
            word,
            is_badge: false,
        })
    }

    /// The guard that makes a CNode of `radix` index bits resolve a
    /// full-word address: `WORD_BITS - radix` zero bits. A thread whose
    /// CSpace root is such a CNode names its slot `i` by the address `i`.
    pub fn skip_high_bits(radix: Depth) -> Result<CapData, DataTooWide> {
        match WORD_BITS.checked_sub(radix) {
            Some(bits) => CapData::cnode_guard(0, bits),
            None => Err(DataTooWide {
                what: "guard size",
                value: Word::from(radix),
            }),
        }
    }

    /// seL4 5.x on x86: the data that narrows a copy of an I/O port
    /// capability to the ports `first..=last` when it is minted (the
    /// kernel's `io_port_capdata` of `structures.bf`, which libsel4 does not
    /// export: first port in bits 16..32, last in bits 0..16). Later
    /// kernels issue port ranges through `X86_IOPortControl_Issue` instead
    /// and ignore this data.
    pub fn x86_io_port_range(first: u16, last: u16) -> CapData {
        CapData {
            word: (Word::from(first) << 16) | Word::from(last),
            is_badge: false,
        }
    }

    /// The badge, if this is one (the badge form keeps the badge in the
    /// low bits of the word on every kernel).
    pub fn badge_value(self) -> Option<Word> {
        self.is_badge.then_some(self.word)
    }

    /// The encoded word, as it travels in the invocation.
    pub const fn into_word(self) -> Word {
        self.word
    }

    /// The word as the generated methods take it (`seL4_CapData_t` on
    /// seL4 5.x, a plain word later).
    pub(crate) fn sys(self) -> SysCapData {
        crate::sel4_cfg_if! { kernel >= 8 { self.word } else { sys::CapData(self.word) } }
    }
}

crate::sel4_cfg_if! { kernel >= 8 {
    /// The type of the data words of the generated methods.
    pub(crate) type SysCapData = Word;
} else {
    /// The type of the data words of the generated methods.
    pub(crate) type SysCapData = sys::CapData;
} }

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn badges_and_guards_in_the_kernel_encoding() {
        assert_eq!(CapData::badge(0x5).unwrap().into_word(), 0x5);
        assert_eq!(CapData::NONE.into_word(), 0);
        assert_eq!(CapData::badge(7).unwrap().badge_value(), Some(7));
        let g = CapData::cnode_guard(0, 52).unwrap();
        assert_eq!(g.badge_value(), None);
        if sys::KERNEL_VERSION_MAJOR >= 8 {
            // guard at bits 6.., guard size at bits 0..6
            assert_eq!(g.into_word(), 52);
            assert_eq!(
                CapData::cnode_guard(3, 10).unwrap().into_word(),
                (3 << 6) | 10
            );
            assert_eq!(CapData::badge(u64::MAX).unwrap().into_word(), u64::MAX);
        } else {
            // tag Guard (1) at bit 31, guard bits at 8..26, guard size at 2..8
            assert_eq!(g.into_word(), (1 << 31) | (52 << 2));
            assert_eq!(
                CapData::cnode_guard(3, 10).unwrap().into_word(),
                (1 << 31) | (3 << 8) | (10 << 2)
            );
            let e = CapData::badge(1 << 28).unwrap_err();
            assert_eq!((e.what, e.value), ("badge", 1 << 28));
            assert_eq!(CapData::cnode_guard(1 << 18, 20).unwrap_err().what, "guard");
        }
        assert_eq!(
            CapData::skip_high_bits(12),
            CapData::cnode_guard(0, WORD_BITS - 12)
        );
        assert!(CapData::skip_high_bits(WORD_BITS + 1).is_err());
        assert_eq!(CapData::cnode_guard(0, 65).unwrap_err().what, "guard size");
    }
}
