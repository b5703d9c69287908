//! A server that crashes on purpose: every `CRASH_EVERY`th request of an
//! instance, in the middle of serving it, it faults (a write to an
//! unmapped address, an undefined instruction) or panics, in turn. Its
//! fresh instance starts counting again: data and bss are reloaded.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::sync::atomic::{AtomicU64, Ordering};

use restart_proto::{WorkRequest, WorkResponse, CRASH_EVERY};
use sel4_component::__runtime::thread::provoke;
use sel4_component::Control;

sel4_component::include_env!();
sel4_component::entry!(main);

/// Requests this instance served (a fresh instance starts at 0: its data is
/// reloaded with the image).
static SERVED: AtomicU64 = AtomicU64::new(0);

fn crash(generation: u64) {
    match generation % 3 {
        // A write to address 8, which nothing maps: a VM fault.
        0 => provoke::write_unmapped(8),
        1 => panic!("instance {generation} gives up on purpose"),
        // A user exception.
        _ => provoke::undefined_instruction(),
    }
}

fn main(env: Env) {
    let generation = sel4_component::generation();
    env.work.serve(|_, req, _| {
        let WorkRequest::Square { n } = req;
        let served = SERVED.fetch_add(1, Ordering::Relaxed) + 1;
        if served.is_multiple_of(CRASH_EVERY) {
            crash(generation);
        }
        Control::Reply(WorkResponse::Squared {
            value: n * n,
            generation,
            served,
        })
    });
}
