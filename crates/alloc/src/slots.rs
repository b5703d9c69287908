//! Capability slots of a CNode range.

use alloc::vec::Vec;

use crate::AllocError;

/// Hands out free slots of a range `[start, end)` of a CNode: single slots
/// (the slot freed last while it is free, else the lowest free one) or
/// runs of contiguous slots (a retype creating `n` objects needs `n`
/// consecutive slots; the lowest such run), with free and reuse. A bitmap,
/// one bit per slot, and the slot freed last kept aside (`spare`), so a
/// free followed by an allocation (an object deleted, another made) does
/// not search the bitmap.
#[derive(Debug, Clone)]
pub struct SlotAllocator {
    start: u64,
    end: u64,
    used: Vec<u64>,
    in_use: usize,
    /// No word below this index has a free bit.
    hint: usize,
    /// A free slot whose bit is still set ([`NO_SLOT`]: none); it counts
    /// as free everywhere else.
    spare: u64,
}

/// No spare slot (never a slot: slots are below `end`).
const NO_SLOT: u64 = u64::MAX;

impl SlotAllocator {
    /// An allocator over the slots `[start, end)` (empty if `end <= start`).
    pub fn new(start: u64, end: u64) -> SlotAllocator {
        let end = end.max(start);
        let n = (end - start) as usize;
        SlotAllocator {
            start,
            end,
            used: alloc::vec![0; n.div_ceil(64)],
            in_use: 0,
            hint: 0,
            spare: NO_SLOT,
        }
    }

    /// The range `[start, end)` this allocator manages.
    #[inline]
    pub fn range(&self) -> (u64, u64) {
        (self.start, self.end)
    }

    /// Number of slots in the range.
    #[inline]
    pub fn capacity(&self) -> usize {
        (self.end - self.start) as usize
    }

    /// Slots in use.
    #[inline]
    pub fn used(&self) -> usize {
        self.in_use
    }

    /// Slots still free.
    #[inline]
    pub fn available(&self) -> usize {
        self.capacity() - self.in_use
    }

    #[inline(always)]
    fn bit(&self, i: usize) -> bool {
        self.used[i / 64] & (1 << (i % 64)) != 0
    }

    #[inline(always)]
    fn set(&mut self, i: usize, v: bool) {
        if v {
            self.used[i / 64] |= 1 << (i % 64);
        } else {
            self.used[i / 64] &= !(1 << (i % 64));
            self.hint = self.hint.min(i / 64);
        }
    }

    #[cold]
    fn exhausted(&self, requested: usize) -> AllocError {
        AllocError::SlotsExhausted {
            requested,
            available: self.available(),
        }
    }

    /// Takes a free slot: the one freed last if it is still free, else the
    /// lowest free one.
    #[inline]
    pub fn alloc(&mut self) -> Result<u64, AllocError> {
        if self.spare != NO_SLOT {
            // Its bit is set already.
            let slot = core::mem::replace(&mut self.spare, NO_SLOT);
            self.in_use += 1;
            return Ok(slot);
        }
        // The word at the hint has a free bit, as a rule (no word below it
        // has one): take it in line. A free bit past the end of the range
        // (the last word's tail) is never taken.
        if let Some(w) = self.used.get_mut(self.hint) {
            let word = *w;
            if word != u64::MAX {
                let bit = (!word).trailing_zeros();
                let slot = self.start + (self.hint as u64) * 64 + u64::from(bit);
                if slot < self.end {
                    *w = word | (1 << bit);
                    self.in_use += 1;
                    return Ok(slot);
                }
            }
        }
        self.alloc_searched()
    }

    /// [`SlotAllocator::alloc`] past the hint word.
    #[inline(never)]
    fn alloc_searched(&mut self) -> Result<u64, AllocError> {
        let cap = self.capacity();
        // The first word at or past the hint with a free bit; every word
        // before it is full, so the hint moves there.
        let found = self
            .used
            .iter()
            .enumerate()
            .skip(self.hint)
            .find(|&(_, &word)| word != u64::MAX);
        let Some((w, &word)) = found else {
            self.hint = self.used.len();
            return Err(self.exhausted(1));
        };
        self.hint = w;
        let bit = (!word).trailing_zeros();
        let i = w * 64 + bit as usize;
        match self.used.get_mut(w) {
            Some(x) if i < cap => *x = word | (1 << bit),
            // A free bit past the end of the range (the last word's tail).
            _ => return Err(self.exhausted(1)),
        }
        self.in_use += 1;
        Ok(self.start + i as u64)
    }

    /// Takes `n` contiguous free slots (the lowest such run) and returns the
    /// first. `n == 0` is refused as exhaustion of nothing would be
    /// meaningless: it returns [`AllocError::SlotsExhausted`] with
    /// `requested: 0`.
    pub fn alloc_range(&mut self, n: usize) -> Result<u64, AllocError> {
        if n == 0 || n > self.available() {
            return Err(self.exhausted(n));
        }
        // The run search reads bits only: the spare slot's goes back.
        self.release_spare();
        let cap = self.capacity();
        let mut run_start = 0;
        let mut run = 0;
        let mut i = self.hint * 64;
        while i < cap {
            // Skip whole full words quickly.
            if i % 64 == 0 && self.used[i / 64] == u64::MAX {
                run = 0;
                i += 64;
                continue;
            }
            if self.bit(i) {
                run = 0;
            } else {
                if run == 0 {
                    run_start = i;
                }
                run += 1;
                if run == n {
                    for j in run_start..run_start + n {
                        self.set(j, true);
                    }
                    self.in_use += n;
                    return Ok(self.start + run_start as u64);
                }
            }
            i += 1;
        }
        Err(self.exhausted(n))
    }

    /// Clears the spare slot's bit: it is free in the bitmap too.
    #[inline]
    fn release_spare(&mut self) {
        let spare = core::mem::replace(&mut self.spare, NO_SLOT);
        if spare != NO_SLOT {
            let i = (spare - self.start) as usize;
            self.set(i, false);
        }
    }

    #[inline(always)]
    fn index(&self, slot: u64) -> Result<usize, AllocError> {
        if slot < self.start || slot >= self.end {
            return Err(AllocError::SlotOutOfRange {
                slot,
                start: self.start,
                end: self.end,
            });
        }
        Ok((slot - self.start) as usize)
    }

    /// Whether `slot` is handed out (false outside the range).
    #[inline(always)]
    pub fn is_allocated(&self, slot: u64) -> bool {
        slot != self.spare && self.index(slot).map(|i| self.bit(i)).unwrap_or(false)
    }

    /// Marks a specific free slot as used (for slots the caller filled by
    /// other means).
    pub fn claim(&mut self, slot: u64) -> Result<(), AllocError> {
        if slot == self.spare {
            self.spare = NO_SLOT;
            self.in_use += 1;
            return Ok(());
        }
        let i = self.index(slot)?;
        if self.bit(i) {
            return Err(AllocError::SlotInUse { slot });
        }
        self.set(i, true);
        self.in_use += 1;
        Ok(())
    }

    /// Returns a slot. A slot outside the range or not allocated (a double
    /// free) is an error and changes nothing.
    #[inline(always)]
    pub fn free(&mut self, slot: u64) -> Result<(), AllocError> {
        // The usual case in line: no spare slot (the allocation since the
        // last free took it), so this one becomes the spare. One bitmap
        // word test refuses a slot out of range (a slot below `start` wraps
        // to a huge index, and the bits past the end are never set) or not
        // allocated (a double free); no spare, so it is not the spare.
        if self.spare == NO_SLOT {
            let i = slot.wrapping_sub(self.start) as usize;
            if let Some(&w) = self.used.get(i / 64) {
                if w & (1 << (i % 64)) != 0 {
                    self.spare = slot;
                    self.in_use -= 1;
                    return Ok(());
                }
            }
        }
        self.free_past_spare(slot)
    }

    /// [`SlotAllocator::free`] when there is a spare slot (or the slot is
    /// refused).
    #[inline(never)]
    fn free_past_spare(&mut self, slot: u64) -> Result<(), AllocError> {
        let i = slot.wrapping_sub(self.start) as usize;
        let bit = 1u64 << (i % 64);
        match self.used.get(i / 64) {
            Some(&w) if w & bit != 0 && slot != self.spare => {
                // Kept aside for the next `alloc` (its bit stays set); the
                // slot freed before it goes back to the bitmap.
                self.release_spare();
                self.spare = slot;
                self.in_use -= 1;
                Ok(())
            }
            _ => Err(self.free_error(slot)),
        }
    }

    /// Why [`SlotAllocator::free`] refused `slot`.
    #[cold]
    fn free_error(&self, slot: u64) -> AllocError {
        match self.index(slot) {
            Err(e) => e,
            Ok(_) => AllocError::SlotNotAllocated { slot },
        }
    }

    /// Returns the `n` slots `[first, first + n)`. All must be allocated;
    /// otherwise nothing is freed and the first offending slot is named.
    pub fn free_range(&mut self, first: u64, n: usize) -> Result<(), AllocError> {
        for k in 0..n as u64 {
            let slot = first.checked_add(k).ok_or(AllocError::SlotOutOfRange {
                slot: u64::MAX,
                start: self.start,
                end: self.end,
            })?;
            let i = self.index(slot)?;
            if !self.bit(i) || slot == self.spare {
                return Err(AllocError::SlotNotAllocated { slot });
            }
        }
        for k in 0..n as u64 {
            let i = (first + k - self.start) as usize;
            self.set(i, false);
        }
        self.in_use -= n;
        Ok(())
    }
}
