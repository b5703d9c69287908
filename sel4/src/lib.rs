//! The seL4 kernel API typed by meaning, over the invocations `sel4-sys`
//! generates from the kernel's XML.
//!
//! The generated layer is exact to the XML of the kernel it was built for:
//! argument types and counts change between seL4 5.x and 12+, and between
//! MCS and non-MCS kernels (`TCB_SetPriority` takes an authority from 9.0.0
//! on, badges are `seL4_CapData_t` before 8.0.0, MCS moves the fault
//! endpoint out of `TCB_Configure`), and the XML writes `CNode` where it
//! means a VSpace root. This crate gives each operation one signature on
//! every supported kernel, with arguments typed by what they mean:
//!
//! - capabilities as [`Cap`]s of arch-neutral kinds: [`VSpaceRoot`],
//!   [`Granule`] (the smallest frame), [`LargePage`], the paging
//!   structures of [`vspace::TableLevel`], [`AsidPool`], ...;
//! - [`CapRights`] with constructors, [`CapData`] for badges and CNode
//!   guards (checked against the kernel's field widths), [`Depth`] as the one
//!   width for CNode depths, [`Priority`] for priorities;
//! - CNode slots as [`Slot`]s (a CNode, an index, a depth);
//! - the root task's initial capabilities typed in [`init`].
//!
//! The operations are methods of extension traits on the [`Cap`] type of
//! `sel4-sys` (one type for both layers); bring them into scope with the
//! prelude:
//!
//! ```no_run
//! use sel4::prelude::*;
//!
//! fn lower_my_priority() -> sel4::Result<()> {
//!     // one signature on seL4 5.x, 12+ and MCS kernels
//!     sel4::init::TCB.set_priority(sel4::init::TCB, 200)
//! }
//! ```
//!
//! The generated methods stay available on the same capabilities
//! (`tcb.tcb_suspend()`, ...), for the raw kernel interface.
//!
//! `sel4_cfg_if!` (re-exported from `sel4-sys`) selects code by the
//! kernel's configuration; ordinary work does not need it here. A name the
//! kernel does not know is a compile error:
//!
//! ```
//! let mcs = sel4::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS { true } else { false } };
//! # let _ = mcs;
//! ```
//!
//! ```compile_fail
//! // misspelt: does not compile
//! let mcs = sel4::sel4_cfg_if! { kernel >= 5 && config KERNEL_MSC { true } else { false } };
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(target_arch = "x86_64")]
#[path = "arch/x86_64.rs"]
pub mod arch;
#[cfg(target_arch = "aarch64")]
#[path = "arch/aarch64.rs"]
pub mod arch;
#[cfg(target_arch = "riscv64")]
#[path = "arch/riscv64.rs"]
pub mod arch;

mod cnode;
mod data;
pub mod init;
mod irq;
pub mod mcs;
pub mod regs;
mod rights;
mod tcb;
mod untyped;
pub mod vspace;

pub use sel4_sys as sys;
pub use sel4_sys::{
    cap_type, sel4_cfg_if, CPtr, Cap, CapType, FixedSize, InvocationError, ObjectType, UserContext,
    Word,
};

pub use arch::{AsidControl, AsidPool, Granule, LargePage, VSpaceRoot, VmAttributes};
pub use cnode::{CNodeOps, Depth, Slot};
pub use data::{CapData, DataTooWide};
pub use irq::{IrqControlOps, IrqHandlerOps};
pub use regs::Registers;
pub use rights::CapRights;
pub use tcb::{Priority, TcbOps};
pub use untyped::{Blueprint, Destination, UntypedOps};
pub use vspace::{AsidControlOps, AsidPoolOps, TableLevel};
pub use vspace::{Frame, FrameOps, Table, TableOps};

/// What an invocation returns: the kernel's error with its details.
pub type Result<T> = core::result::Result<T, InvocationError>;

/// The traits that carry the operations, for `use sel4::prelude::*`.
pub mod prelude {
    #[allow(unused_imports)] // empty on aarch64 and riscv64
    pub use crate::arch::prelude::*;
    #[allow(unused_imports)] // empty on non-MCS kernels
    pub use crate::mcs::prelude::*;
    pub use crate::{
        AsidControlOps as _, AsidPoolOps as _, CNodeOps as _, FrameOps as _, IrqControlOps as _,
        IrqHandlerOps as _, Registers as _, TableOps as _, TcbOps as _, UntypedOps as _,
    };
}

/// Bits of a machine word: the depth of a full capability address.
pub const WORD_BITS: Depth = sys::config::WORD_SIZE as Depth;
