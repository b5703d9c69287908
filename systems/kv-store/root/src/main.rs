//! The key-value system's root task: the supervisor runs the components of
//! `systems/kv-store/system.toml` until both clients exited.
#![no_std]
#![no_main]

sel4_rootserver::system!();
