//! The ring's producer: writes `RECORDS` records into the shared ring,
//! waits on `space_free` when it is full (the consumer's read position is
//! in the `ack` region), signals `data_ready` every `BATCH` records.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::sync::atomic::Ordering;

use ring_layout::{data, slots, BATCH, FIRST, RECORD, RECORDS};
use sel4_component::{println, AccessError};

sel4_component::include_env!();
sel4_component::entry!(main);

fn main(env: Env) -> Result<(), AccessError> {
    let ring = &env.ring;
    let slots = slots(ring.len());
    let written = ring.atomic_u64(0)?;
    let mut waits = 0u64;
    for seq in 0..RECORDS {
        // Room for one more?
        while seq - env.ack.load_u64(0, Ordering::Acquire)? >= slots {
            env.data_ready.signal();
            env.space_free.wait();
            waits += 1;
        }
        let at = FIRST + (seq % slots) as usize * RECORD;
        ring.write(at, seq)?;
        ring.write(at + 8, 6u64)?;
        for (i, w) in data(seq).iter().enumerate() {
            ring.write(at + 16 + 8 * i, *w)?;
        }
        written.store(seq + 1, Ordering::Release);
        if (seq + 1) % BATCH == 0 {
            env.data_ready.signal();
        }
    }
    env.data_ready.signal();
    println!("producer: {RECORDS} records written through a ring of {slots} slots; waited for space {waits} times");
    Ok(())
}
