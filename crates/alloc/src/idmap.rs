//! A map from ids (capability slots, in practice) to small values, with
//! constant-time lookups for the ids of one window.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

/// Ids as far as this from the first id seen are kept in a directly indexed
/// table; others in an ordered map. Capability slots of the root CNode are
/// close together, so in practice every id lands in the table.
pub const DENSE_SPAN: u64 = 1 << 16;

/// A map from `u64` ids to `Copy` values, built for capability slots: ids
/// within [`DENSE_SPAN`] of one another are looked up, inserted and removed
/// in constant time (a table indexed by `id - base` that grows as needed);
/// ids outside that window fall back to an ordered map, so any id works.
#[derive(Debug, Clone)]
pub struct IdMap<V> {
    base: u64,
    dense: Vec<Option<V>>,
    sparse: BTreeMap<u64, V>,
    len: usize,
}

impl<V> Default for IdMap<V> {
    fn default() -> Self {
        IdMap {
            base: 0,
            dense: Vec::new(),
            sparse: BTreeMap::new(),
            len: 0,
        }
    }
}

impl<V: Copy> IdMap<V> {
    /// An empty map.
    pub fn new() -> IdMap<V> {
        IdMap::default()
    }

    /// Number of ids in the map.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the map is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline(always)]
    fn dense_index(&self, id: u64) -> Option<usize> {
        // One comparison: an id below `base` wraps to an index far past
        // the table (which has at most DENSE_SPAN entries).
        let i = id.wrapping_sub(self.base);
        (i < self.dense.len() as u64).then_some(i as usize)
    }

    /// Whether `id` is in the directly indexed table's window (then it is
    /// not `u64::MAX`: the table never covers that id, so a caller may use
    /// it as "no id" and test for it only outside the table).
    #[inline(always)]
    pub fn covers(&self, id: u64) -> bool {
        self.dense_index(id).is_some()
    }

    /// The value of `id`.
    #[inline(always)]
    pub fn get(&self, id: u64) -> Option<V> {
        match self.dense_index(id) {
            Some(i) => self.dense[i],
            None if self.sparse.is_empty() => None,
            None => self.sparse.get(&id).copied(),
        }
    }

    /// Whether `id` is in the map.
    #[inline(always)]
    pub fn contains(&self, id: u64) -> bool {
        self.get(id).is_some()
    }

    /// Makes the table cover `id` if it can stay within [`DENSE_SPAN`]
    /// entries; returns the index of `id` in it.
    fn cover(&mut self, id: u64) -> Option<usize> {
        if let Some(i) = self.dense_index(id) {
            return Some(i);
        }
        if id == u64::MAX {
            // Never in the table (see `IdMap::covers`).
            return None;
        }
        if self.dense.is_empty() {
            self.base = id;
            self.dense.push(None);
            return Some(0);
        }
        let end = self.base + self.dense.len() as u64;
        if id >= end {
            let new_len = id - self.base + 1;
            if new_len > DENSE_SPAN {
                return None;
            }
            // Grow geometrically (within the span, and short of
            // u64::MAX) so that a run of new ids does not reallocate each
            // time.
            let want = new_len
                .max((self.dense.len() as u64 * 2).min(DENSE_SPAN))
                .min(u64::MAX - self.base);
            self.dense.resize(want as usize, None);
            Some((id - self.base) as usize)
        } else {
            // id < base
            if end - id > DENSE_SPAN {
                return None;
            }
            let shift = (self.base - id) as usize;
            let mut table = Vec::with_capacity(self.dense.len() + shift);
            table.resize(shift, None);
            table.extend_from_slice(&self.dense);
            self.dense = table;
            self.base = id;
            Some(0)
        }
    }

    /// Sets the value of `id`; returns the previous one.
    #[inline]
    pub fn insert(&mut self, id: u64, value: V) -> Option<V> {
        // The common case, an id the table already covers, inline; growing
        // the table or the sparse map out of line.
        let old = match self.dense_index(id) {
            Some(i) => self.dense[i].replace(value),
            None => self.insert_slow(id, value),
        };
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    /// Sets the value of `id` when it has none; `false` (and nothing
    /// changed) when it has one. Cheaper than [`IdMap::insert`]: the old
    /// value is not read out.
    #[inline(always)]
    pub fn insert_vacant(&mut self, id: u64, value: impl FnOnce() -> V) -> bool {
        match self.dense_index(id) {
            Some(i) => {
                let e = &mut self.dense[i];
                if e.is_some() {
                    return false;
                }
                *e = Some(value());
            }
            None => {
                if self.get(id).is_some() {
                    return false;
                }
                self.insert_slow(id, value());
            }
        }
        self.len += 1;
        true
    }

    /// [`IdMap::insert_vacant`] of an id in the table's window
    /// ([`IdMap::covers`]); `None` (and nothing changed) for another id.
    #[inline(always)]
    pub fn insert_vacant_covered(&mut self, id: u64, value: impl FnOnce() -> V) -> Option<bool> {
        let i = self.dense_index(id)?;
        let e = &mut self.dense[i];
        if e.is_some() {
            return Some(false);
        }
        *e = Some(value());
        self.len += 1;
        Some(true)
    }

    /// The value of `id`, when it is in the table (not the ordered map),
    /// held for the caller to remove it ([`Held::remove`]) or not: the map
    /// stays borrowed in between, so nothing else changes it.
    #[inline(always)]
    pub fn hold(&mut self, id: u64) -> Option<Held<'_, V>> {
        let i = self.dense_index(id)?;
        let value = self.dense[i]?;
        Some(Held {
            entry: &mut self.dense[i],
            len: &mut self.len,
            value,
        })
    }

    /// Removes `id` when `pred` holds for its value; returns the value.
    #[inline(always)]
    pub fn remove_if(&mut self, id: u64, pred: impl FnOnce(&V) -> bool) -> Option<V> {
        let old = match self.dense_index(id) {
            Some(i) => {
                let e = &mut self.dense[i];
                if !e.as_ref().is_some_and(pred) {
                    return None;
                }
                e.take()
            }
            None => {
                if !self.get(id).as_ref().is_some_and(pred) {
                    return None;
                }
                self.remove(id)
            }
        };
        self.len -= 1;
        old
    }

    /// [`IdMap::insert`] of an id outside the table (`len` not updated).
    #[inline(never)]
    fn insert_slow(&mut self, id: u64, value: V) -> Option<V> {
        match self.cover(id) {
            Some(i) => self.dense[i].replace(value),
            None => self.sparse.insert(id, value),
        }
    }

    /// Removes `id`; returns its value.
    #[inline]
    pub fn remove(&mut self, id: u64) -> Option<V> {
        let old = match self.dense_index(id) {
            Some(i) => self.dense[i].take(),
            None if self.sparse.is_empty() => None,
            None => self.sparse.remove(&id),
        };
        if old.is_some() {
            self.len -= 1;
        }
        old
    }

    /// Every `(id, value)`, in increasing id order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, V)> + '_ {
        let base = self.base;
        let dense = self
            .dense
            .iter()
            .enumerate()
            .filter_map(move |(i, v)| v.map(|v| (base + i as u64, v)));
        let below = self.sparse.range(..base).map(|(&k, &v)| (k, v));
        let above = self.sparse.range(base..).map(|(&k, &v)| (k, v));
        below.chain(dense).chain(above)
    }

    /// Keeps only the entries for which `keep` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(u64, V) -> bool) {
        let base = self.base;
        let mut removed = 0;
        for (i, v) in self.dense.iter_mut().enumerate() {
            if let Some(x) = *v {
                if !keep(base + i as u64, x) {
                    *v = None;
                    removed += 1;
                }
            }
        }
        self.sparse.retain(|&k, v| {
            let k = keep(k, *v);
            if !k {
                removed += 1;
            }
            k
        });
        self.len -= removed;
    }
}

/// A value of an [`IdMap`] found by [`IdMap::hold`].
#[derive(Debug)]
pub struct Held<'a, V> {
    entry: &'a mut Option<V>,
    len: &'a mut usize,
    value: V,
}

impl<V: Copy> Held<'_, V> {
    /// The value.
    #[inline(always)]
    pub fn value(&self) -> V {
        self.value
    }

    /// Removes it from the map.
    #[inline(always)]
    pub fn remove(self) {
        *self.entry = None;
        *self.len -= 1;
    }
}
