//! What a root server builds on: typed capabilities, capability slots,
//! untyped memory and kernel invocations, in safe Rust.
//!
//! Re-exports the runtime, so an application depends on this crate alone:
//!
//! ```ignore
//! #![no_std]
//! #![no_main]
//! use sel4_rootserver::{entry, BootInfo};
//! entry!(main);
//! fn main(bootinfo: &BootInfo) { /* ... */ }
//! ```
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod cap;
pub mod cnode;
pub mod error;
pub mod slots;
pub mod untyped;

pub use cap::{CNode, Cap, CapType, Endpoint, FixedSize, Notification, Tcb, Untyped};
pub use error::{Error, Result};
pub use sel4_runtime::{console, exit, heap, logger};
pub use sel4_runtime::{entry, print, println, BootInfo, ExitCode};
pub use sel4_sys as sys;
pub use slots::SlotAllocator;
