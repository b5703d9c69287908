//! Capability slots of the root CNode.

use alloc::vec::Vec;

use crate::error::{Error, Result};

/// Hands out free slots of a range `[start, end)` of a CNode, with free and
/// reuse (a bitmap, lowest free slot first).
#[derive(Debug)]
pub struct SlotAllocator {
    start: u64,
    end: u64,
    used: Vec<u64>,
    in_use: usize,
}

impl SlotAllocator {
    /// An allocator over the slots `[start, end)`.
    pub fn new(start: u64, end: u64) -> SlotAllocator {
        let n = end.saturating_sub(start) as usize;
        SlotAllocator {
            start,
            end: start + n as u64,
            used: alloc::vec![0; n.div_ceil(64)],
            in_use: 0,
        }
    }

    /// Takes the lowest free slot.
    pub fn alloc(&mut self) -> Result<u64> {
        for (i, word) in self.used.iter_mut().enumerate() {
            if *word != u64::MAX {
                let bit = (!*word).trailing_zeros() as u64;
                let slot = self.start + i as u64 * 64 + bit;
                if slot >= self.end {
                    break;
                }
                *word |= 1 << bit;
                self.in_use += 1;
                return Ok(slot);
            }
        }
        Err(Error::SlotsExhausted)
    }

    /// Returns a slot. Freeing a slot that is outside the range or not in
    /// use is a caller bug and is ignored (reported by the return value).
    pub fn free(&mut self, slot: u64) -> bool {
        if slot < self.start || slot >= self.end {
            return false;
        }
        let i = (slot - self.start) as usize;
        let mask = 1u64 << (i % 64);
        if self.used[i / 64] & mask == 0 {
            return false;
        }
        self.used[i / 64] &= !mask;
        self.in_use -= 1;
        true
    }

    /// Slots in use.
    pub fn used(&self) -> usize {
        self.in_use
    }

    /// Slots still free.
    pub fn available(&self) -> usize {
        (self.end - self.start) as usize - self.in_use
    }
}
