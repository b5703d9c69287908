//! The timer service's bookkeeping, without hardware or threads: pending
//! timeouts by deadline, one-shot or periodic, each with the target it
//! signals when it expires.

use alloc::vec::Vec;
use core::num::NonZeroU64;

/// Names a timeout, for [`Schedule::cancel`]. Never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TimeoutId(pub NonZeroU64);

#[derive(Debug, Clone)]
struct Entry<T> {
    deadline: u64,
    period: Option<NonZeroU64>,
    id: TimeoutId,
    target: T,
}

/// A timeout that expired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expired<T> {
    /// Which.
    pub id: TimeoutId,
    /// Its target.
    pub target: T,
    /// The deadline it had.
    pub deadline: u64,
    /// For a periodic timeout: periods that went by unsignalled because
    /// the service woke more than a period late (one signal stands for
    /// them).
    pub missed: u64,
}

/// Timeouts in deadline order (nanoseconds on the service's clock).
#[derive(Debug, Clone)]
pub struct Schedule<T> {
    /// Sorted by deadline, then id (earliest first).
    entries: Vec<Entry<T>>,
    next_id: u64,
}

impl<T> Default for Schedule<T> {
    fn default() -> Self {
        Schedule::new()
    }
}

impl<T> Schedule<T> {
    /// No timeout.
    pub const fn new() -> Schedule<T> {
        Schedule {
            entries: Vec::new(),
            next_id: 1,
        }
    }

    fn insert(&mut self, e: Entry<T>) {
        let at = self
            .entries
            .partition_point(|x| (x.deadline, x.id) <= (e.deadline, e.id));
        self.entries.insert(at, e);
    }

    /// Adds a timeout at `deadline`, repeating every `period` ns if given.
    pub fn add(&mut self, deadline: u64, period: Option<NonZeroU64>, target: T) -> TimeoutId {
        let id = TimeoutId(NonZeroU64::new(self.next_id).unwrap_or(NonZeroU64::MIN));
        self.next_id += 1;
        self.insert(Entry {
            deadline,
            period,
            id,
            target,
        });
        id
    }

    /// Removes a timeout; returns its target if it was still pending (a
    /// one-shot that expired already, or an unknown id, gives `None`).
    pub fn cancel(&mut self, id: TimeoutId) -> Option<T> {
        let i = self.entries.iter().position(|e| e.id == id)?;
        Some(self.entries.remove(i).target)
    }

    /// The earliest deadline.
    pub fn next_deadline(&self) -> Option<u64> {
        self.entries.first().map(|e| e.deadline)
    }

    /// Timeouts pending.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<T: Clone> Schedule<T> {
    /// Takes every timeout due at `now` (deadline <= now), earliest first;
    /// a periodic one is put back at its next deadline after `now` (on
    /// its grid: deadlines stay `period` apart, whenever the service
    /// wakes).
    pub fn expire(&mut self, now: u64, out: &mut Vec<Expired<T>>) {
        let due = self.entries.partition_point(|e| e.deadline <= now);
        let fired: Vec<Entry<T>> = self.entries.drain(..due).collect();
        for mut e in fired {
            // Periods that went by unseen after this deadline (the service
            // woke more than a period late).
            let missed = match e.period {
                Some(p) => (now - e.deadline) / p.get(),
                None => 0,
            };
            out.push(Expired {
                id: e.id,
                target: e.target.clone(),
                deadline: e.deadline,
                missed,
            });
            if let Some(p) = e.period {
                e.deadline = e
                    .deadline
                    .saturating_add((missed + 1).saturating_mul(p.get()));
                self.insert(e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;

    fn nz(v: u64) -> Option<NonZeroU64> {
        NonZeroU64::new(v)
    }

    #[test]
    fn expires_in_deadline_order() {
        let mut s = Schedule::new();
        let c = s.add(300, None, 'c');
        let a = s.add(100, None, 'a');
        let b = s.add(200, None, 'b');
        assert_eq!(s.next_deadline(), Some(100));
        let mut out = vec![];
        s.expire(99, &mut out);
        assert!(out.is_empty());
        s.expire(250, &mut out);
        assert_eq!(
            out.iter().map(|e| (e.id, e.target)).collect::<Vec<_>>(),
            vec![(a, 'a'), (b, 'b')]
        );
        assert_eq!(s.next_deadline(), Some(300));
        assert_eq!(s.cancel(c), Some('c'));
        assert!(s.is_empty());
        assert_eq!(s.cancel(a), None, "expired already");
    }

    #[test]
    fn equal_deadlines_keep_their_order() {
        let mut s = Schedule::new();
        let x = s.add(100, None, 1);
        let y = s.add(100, None, 2);
        let mut out = vec![];
        s.expire(100, &mut out);
        assert_eq!(out[0].id, x);
        assert_eq!(out[1].id, y);
    }

    #[test]
    fn periodic_timeouts_stay_on_their_grid() {
        let mut s = Schedule::new();
        let p = s.add(1000, nz(1000), ());
        let mut out = vec![];
        s.expire(1003, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(s.next_deadline(), Some(2000), "not 2003: no drift");
        out.clear();
        // the service woke 3.5 periods late: one signal for the deadline
        // 2000, and the periods 3000, 4000 and 5000 counted as missed
        s.expire(5500, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].deadline, out[0].missed), (2000, 3));
        assert_eq!(s.next_deadline(), Some(6000));
        out.clear();
        s.expire(6000, &mut out);
        assert_eq!(out[0].missed, 0);
        assert!(s.cancel(p).is_some());
        assert!(s.is_empty());
    }

    #[test]
    fn ids_are_never_reused() {
        let mut s = Schedule::new();
        let a = s.add(1, None, ());
        s.cancel(a);
        let b = s.add(1, None, ());
        assert_ne!(a, b);
    }
}
