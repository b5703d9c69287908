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
// `unsafe` only in `view` (the bytes of a mapping the framework keeps);
// every other module is safe code.
#![deny(unsafe_code)]

extern crate alloc;

pub mod cap;
pub mod cnode;
pub mod cspace;
pub mod error;
pub mod fault;
pub mod ipc;
pub mod memory;
pub mod objects;
pub mod thread;
pub mod untyped;
pub mod view;
pub mod vspace;

pub use cap::{cap_type, Cap, CapType, ChildCap, FixedSize, Owned, Slot, SlotRange};
pub use cap::{CNode, Endpoint, Notification, Null, Untyped, TCB};
pub use error::{AllocError, Error, InvocationError, Result};
pub use objects::{Objects, Refused};
pub use sel4_alloc::SlotAllocator;
pub use sel4_runtime::{console, exit, heap, logger};
pub use sel4_runtime::{entry, print, println, BootInfo, ExitCode};
pub use sel4_sys as sys;
pub use untyped::UntypedExt;
pub use view::{View, ViewError};
