//! The shared-ring system's root task: the supervisor runs the producer and
//! the consumer of `systems/shared-ring/system.toml` until both exited.
#![no_std]
#![no_main]

sel4_rootserver::system!();
