//! A byte ring buffer for one producer and one consumer on different
//! threads, lock-free and without `unsafe`: the bytes are atomics (plain
//! loads and stores on x86), the two positions are published with
//! release/acquire ordering.
//!
//! [`ring`] makes the two halves; each is `Send` and neither is `Clone`,
//! so there is exactly one producer and one consumer.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

struct Ring {
    buf: Box<[AtomicU8]>,
    mask: usize,
    /// Bytes ever written (wrapping).
    head: AtomicUsize,
    /// Bytes ever read (wrapping).
    tail: AtomicUsize,
}

impl Ring {
    fn len(&self) -> usize {
        self.head
            .load(Ordering::Acquire)
            .wrapping_sub(self.tail.load(Ordering::Acquire))
    }
}

/// The writing half.
pub struct Producer {
    ring: Arc<Ring>,
}

/// The reading half.
pub struct Consumer {
    ring: Arc<Ring>,
}

/// A ring of `capacity` bytes (rounded up to a power of two, at least 2).
pub fn ring(capacity: usize) -> (Producer, Consumer) {
    let cap = capacity.max(2).next_power_of_two();
    let buf: Vec<AtomicU8> = (0..cap).map(|_| AtomicU8::new(0)).collect();
    let ring = Arc::new(Ring {
        buf: buf.into_boxed_slice(),
        mask: cap - 1,
        head: AtomicUsize::new(0),
        tail: AtomicUsize::new(0),
    });
    (Producer { ring: ring.clone() }, Consumer { ring })
}

impl Producer {
    /// Bytes the ring holds.
    pub fn capacity(&self) -> usize {
        self.ring.buf.len()
    }

    /// Bytes in the ring now.
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// Whether the ring is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes that fit now.
    pub fn free(&self) -> usize {
        self.capacity() - self.len()
    }

    /// Whether no byte fits.
    pub fn is_full(&self) -> bool {
        self.free() == 0
    }

    /// Appends a byte; `false` when the ring is full.
    pub fn push(&mut self, b: u8) -> bool {
        self.push_slice(&[b]) == 1
    }

    /// Appends as much of `data` as fits; returns how many bytes.
    pub fn push_slice(&mut self, data: &[u8]) -> usize {
        let r = &*self.ring;
        let head = r.head.load(Ordering::Relaxed);
        let tail = r.tail.load(Ordering::Acquire);
        let free = r.buf.len() - head.wrapping_sub(tail);
        let n = free.min(data.len());
        for (i, &b) in data[..n].iter().enumerate() {
            r.buf[head.wrapping_add(i) & r.mask].store(b, Ordering::Relaxed);
        }
        r.head.store(head.wrapping_add(n), Ordering::Release);
        n
    }
}

impl Consumer {
    /// Bytes the ring holds.
    pub fn capacity(&self) -> usize {
        self.ring.buf.len()
    }

    /// Bytes waiting.
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the ring is full.
    pub fn is_full(&self) -> bool {
        self.len() == self.capacity()
    }

    /// Takes one byte.
    pub fn pop(&mut self) -> Option<u8> {
        let mut b = [0u8];
        (self.pop_slice(&mut b) == 1).then_some(b[0])
    }

    /// Takes up to `out.len()` bytes; returns how many.
    pub fn pop_slice(&mut self, out: &mut [u8]) -> usize {
        let r = &*self.ring;
        let tail = r.tail.load(Ordering::Relaxed);
        let head = r.head.load(Ordering::Acquire);
        let n = head.wrapping_sub(tail).min(out.len());
        for (i, o) in out[..n].iter_mut().enumerate() {
            *o = r.buf[tail.wrapping_add(i) & r.mask].load(Ordering::Relaxed);
        }
        r.tail.store(tail.wrapping_add(n), Ordering::Release);
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;
    use std::vec::Vec;

    #[test]
    fn fills_and_drains() {
        let (mut p, mut c) = ring(5);
        assert_eq!(p.capacity(), 8);
        assert_eq!(p.push_slice(b"0123456789"), 8);
        assert!(p.is_full());
        assert!(!p.push(b'x'));
        let mut out = [0u8; 3];
        assert_eq!(c.pop_slice(&mut out), 3);
        assert_eq!(&out, b"012");
        assert_eq!(p.free(), 3);
        assert_eq!(p.push_slice(b"abc"), 3);
        let mut all = [0u8; 16];
        let n = c.pop_slice(&mut all);
        assert_eq!(&all[..n], b"34567abc");
        assert!(c.is_empty());
        assert_eq!(c.pop(), None);
    }

    #[test]
    fn positions_wrap_around_the_word() {
        let (mut p, mut c) = ring(4);
        // start both positions just below usize::MAX
        p.ring.head.store(usize::MAX - 2, Ordering::Relaxed);
        p.ring.tail.store(usize::MAX - 2, Ordering::Relaxed);
        for round in 0..10u8 {
            assert_eq!(p.push_slice(&[round, round + 1, round + 2]), 3);
            let mut out = [0u8; 3];
            assert_eq!(c.pop_slice(&mut out), 3);
            assert_eq!(out, [round, round + 1, round + 2]);
        }
    }

    /// One million bytes of a pattern through a 64-byte ring between two
    /// threads, in odd-sized chunks: every byte arrives, in order.
    #[test]
    fn two_threads_lose_nothing() {
        const N: usize = 1 << 20;
        let (mut p, mut c) = ring(64);
        let writer = thread::spawn(move || {
            let data: Vec<u8> = (0..N).map(|i| (i * 7 + i / 251) as u8).collect();
            let mut sent = 0;
            let mut chunk = 1;
            while sent < N {
                let end = (sent + chunk).min(N);
                sent += p.push_slice(&data[sent..end]);
                chunk = chunk % 37 + 1;
                if p.is_full() {
                    thread::yield_now();
                }
            }
        });
        let mut got = Vec::with_capacity(N);
        let mut buf = [0u8; 29];
        while got.len() < N {
            let n = c.pop_slice(&mut buf);
            got.extend_from_slice(&buf[..n]);
            if n == 0 {
                thread::yield_now();
            }
        }
        writer.join().unwrap();
        for (i, &b) in got.iter().enumerate() {
            assert_eq!(b, (i * 7 + i / 251) as u8, "byte {i}");
        }
    }
}
