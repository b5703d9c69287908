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
pub mod ipc;
pub mod sched;
pub mod untyped;

// Address spaces, the object pool and threads are x86_64 only for now:
// aarch64 and riscv64 get their paging structures and threads on top of the
// kernel API layer (issue 13, later stages).
#[cfg(target_arch = "x86_64")]
pub mod cspace;
#[cfg(target_arch = "x86_64")]
pub mod fault;
#[cfg(target_arch = "x86_64")]
pub mod memory;
#[cfg(target_arch = "x86_64")]
pub mod objects;
#[cfg(target_arch = "x86_64")]
pub mod thread;
#[cfg(target_arch = "x86_64")]
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
