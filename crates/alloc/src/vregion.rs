//! Ranges of a virtual address space.

use alloc::collections::BTreeMap;

use crate::AllocError;

/// Hands out ranges of a virtual address window `[start, end)`: anywhere
/// (lowest address that fits, with an alignment) or at a fixed address.
/// Freed ranges merge with their free neighbours.
#[derive(Debug, Clone)]
pub struct VirtualRegionAllocator {
    start: u64,
    end: u64,
    /// Free ranges: start -> end.
    free: BTreeMap<u64, u64>,
    /// Allocated ranges: start -> size.
    used: BTreeMap<u64, u64>,
}

impl VirtualRegionAllocator {
    /// An allocator over `[start, end)` (empty if `end <= start`).
    pub fn new(start: u64, end: u64) -> VirtualRegionAllocator {
        let end = end.max(start);
        let mut free = BTreeMap::new();
        if end > start {
            free.insert(start, end);
        }
        VirtualRegionAllocator {
            start,
            end,
            free,
            used: BTreeMap::new(),
        }
    }

    /// The window `[start, end)`.
    pub fn window(&self) -> (u64, u64) {
        (self.start, self.end)
    }

    /// Bytes handed out.
    pub fn used_bytes(&self) -> u64 {
        self.used.values().sum()
    }

    /// Bytes free.
    pub fn free_bytes(&self) -> u64 {
        self.free.iter().map(|(s, e)| e - s).sum()
    }

    /// Number of free ranges (1 for an untouched window; shows merging).
    pub fn free_ranges(&self) -> usize {
        self.free.len()
    }

    /// Size of the allocated range starting at `addr`.
    pub fn size_of(&self, addr: u64) -> Option<u64> {
        self.used.get(&addr).copied()
    }

    /// Takes `size` bytes at the lowest address aligned to `align` (a power
    /// of two) where they fit.
    pub fn alloc(&mut self, size: u64, align: u64) -> Result<u64, AllocError> {
        if size == 0 || !align.is_power_of_two() {
            return Err(AllocError::VirtBadRequest {
                addr: 0,
                size,
                align,
            });
        }
        let found = self.free.iter().find_map(|(&s, &e)| {
            let a = s.checked_add(align - 1)? & !(align - 1);
            let end = a.checked_add(size)?;
            (end <= e).then_some(a)
        });
        let addr = found.ok_or(AllocError::VirtExhausted { size, align })?;
        self.take(addr, size)?;
        Ok(addr)
    }

    /// Takes `[addr, addr + size)`, which must be free and inside the
    /// window.
    pub fn alloc_at(&mut self, addr: u64, size: u64) -> Result<(), AllocError> {
        if size == 0 || addr.checked_add(size).is_none() {
            return Err(AllocError::VirtBadRequest {
                addr,
                size,
                align: 1,
            });
        }
        self.take(addr, size)
    }

    /// Cuts `[addr, addr + size)` out of the free range that holds it, if
    /// one does.
    fn take(&mut self, addr: u64, size: u64) -> Result<(), AllocError> {
        let (s, e) = match self.free.range(..=addr).next_back() {
            Some((&s, &e)) if addr.checked_add(size).is_some_and(|end| end <= e) => (s, e),
            _ => return Err(AllocError::VirtInUse { addr, size }),
        };
        self.free.remove(&s);
        if s < addr {
            self.free.insert(s, addr);
        }
        if addr + size < e {
            self.free.insert(addr + size, e);
        }
        self.used.insert(addr, size);
        Ok(())
    }

    /// Returns the range that starts at `addr`; returns its size.
    pub fn free(&mut self, addr: u64) -> Result<u64, AllocError> {
        let size = self
            .used
            .remove(&addr)
            .ok_or(AllocError::VirtNotAllocated { addr })?;
        let mut s = addr;
        let mut e = addr + size;
        if let Some((&ps, &pe)) = self.free.range(..addr).next_back() {
            if pe == addr {
                self.free.remove(&ps);
                s = ps;
            }
        }
        if let Some(ne) = self.free.remove(&e) {
            e = ne;
        }
        self.free.insert(s, e);
        Ok(size)
    }
}
