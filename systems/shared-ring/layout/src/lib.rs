//! The shared ring's layout. The `ring` region (written by the producer):
//! word 0 the number of records written so far, records of [`RECORD`]
//! bytes from [`FIRST`]. The `ack` region (written by the consumer): word 0
//! the number of records read so far.
#![no_std]

/// Byte offset of the first record slot.
pub const FIRST: usize = 64;
/// Bytes of a record: sequence number, length, six data words.
pub const RECORD: usize = 64;
/// Records sent from producer to consumer.
pub const RECORDS: u64 = 10_000;
/// Records the producer adds before it signals.
pub const BATCH: u64 = 16;

/// Record slots in a ring of `size` bytes.
pub const fn slots(size: usize) -> u64 {
    ((size - FIRST) / RECORD) as u64
}

/// The data words of record `seq` (what the consumer checks).
pub fn data(seq: u64) -> [u64; 6] {
    let mut d = [0u64; 6];
    let mut x = seq.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    for w in d.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *w = x;
    }
    d
}
