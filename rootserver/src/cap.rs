//! Typed capabilities: `sel4_sys`'s [`Cap`] with one marker per kind of
//! capability ([`cap_type`]), and the kernel's methods generated on them
//! (`Cap<TCB>::tcb_suspend`, `Cap<CNode>::cnode_copy`, ...).

pub use sel4_sys::cap_type::{self, *};
pub use sel4_sys::{Cap, CapType, FixedSize};
