//! The ring's consumer: waits on `data_ready`, reads every record the
//! producer added, checks its sequence number and data, publishes its read
//! position in the `ack` region and signals `space_free`.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::sync::atomic::Ordering;

use ring_layout::{data, slots, FIRST, RECORD, RECORDS};
use sel4_component::{println, AccessError};

sel4_component::include_env!();
sel4_component::entry!(main);

#[derive(Debug)]
#[allow(dead_code)]
enum Error {
    Access(AccessError),
    BadRecord { seq: u64, found: u64 },
}

impl From<AccessError> for Error {
    fn from(e: AccessError) -> Error {
        Error::Access(e)
    }
}

fn main(env: Env) -> Result<(), Error> {
    let ring = &env.ring;
    let slots = slots(ring.len());
    let read = env.ack.atomic_u64(0)?;
    let (mut next, mut wakeups, mut checksum) = (0u64, 0u64, 0u64);
    while next < RECORDS {
        let written = ring.load_u64(0, Ordering::Acquire)?;
        if written == next {
            env.data_ready.wait();
            wakeups += 1;
            continue;
        }
        for seq in next..written {
            let at = FIRST + (seq % slots) as usize * RECORD;
            let found: u64 = ring.read(at)?;
            let words: u64 = ring.read(at + 8)?;
            let want = data(seq);
            let mut ok = found == seq && words == 6;
            for (i, w) in want.iter().enumerate() {
                let got: u64 = ring.read(at + 16 + 8 * i)?;
                ok &= got == *w;
                checksum = checksum.wrapping_add(got);
            }
            if !ok {
                return Err(Error::BadRecord { seq, found });
            }
        }
        next = written;
        read.store(next, Ordering::Release);
        env.space_free.signal();
    }
    println!("consumer: {RECORDS} records read and checked (checksum {checksum:#x}); woken {wakeups} times");
    Ok(())
}
