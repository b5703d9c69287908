//! The restart system's root task: the supervisor runs the components of
//! `systems/restart/system.toml` until the counter exited, restarting the
//! crashing server by its policy.
#![no_std]
#![no_main]

sel4_rootserver::system!();
