//! Helpers shared by the test modules.

use sel4_sys::{CPtr, Error, ObjectType};
use sel4_test_harness::kernel::{self, KernelError};
use sel4_test_harness::{Ctx, Failure};

/// Kernel cap type tags (structures.bf; the same in 5.0.0 and 16.0.0).
pub mod tag {
    pub const NULL: u64 = 0;
    pub const UNTYPED: u64 = 2;
    pub const ENDPOINT: u64 = 4;
    pub const NOTIFICATION: u64 = 6;
    pub const CNODE: u64 = 10;
    pub const THREAD: u64 = 12;
    pub const FRAME: u64 = 1;
    pub const PAGE_TABLE: u64 = 3;
    pub const PAGE_DIRECTORY: u64 = 5;
    pub const PDPT: u64 = 7;
    pub const PML4: u64 = 9;
}

/// The kernel's type tag of the cap at `slot` (seL4_DebugCapIdentify).
pub fn cap_type(slot: CPtr) -> Result<u64, Failure> {
    sel4_sys::debug_cap_identify(slot)
        .map_err(|e| Failure::Skip(alloc::format!("kernel without {}", e.0)))
}

/// Checks that `r` failed with `expected`.
pub fn expect_err<T: core::fmt::Debug>(
    r: Result<T, KernelError>,
    expected: Error,
    what: &str,
) -> Result<KernelError, Failure> {
    match r {
        Err(e) if e.error == Some(expected) => Ok(e),
        Err(e) => Err(Failure::fail(alloc::format!(
            "{what}: expected {expected:?}, got {e}"
        ))),
        Ok(v) => Err(Failure::fail(alloc::format!(
            "{what}: expected {expected:?}, but it succeeded ({v:?})"
        ))),
    }
}

/// A new notification in a fresh slot.
pub fn notification(ctx: &mut Ctx) -> Result<CPtr, Failure> {
    ctx.create(ObjectType::NotificationObject, 0)
}

/// A new endpoint in a fresh slot.
pub fn endpoint(ctx: &mut Ctx) -> Result<CPtr, Failure> {
    ctx.create(ObjectType::EndpointObject, 0)
}

/// A badged copy (all rights) of `cap` in a fresh slot.
pub fn badged(ctx: &mut Ctx, cap: CPtr, badge: u64) -> Result<CPtr, Failure> {
    let s = ctx.slot()?;
    kernel::cnode_mint(s, cap, kernel::rights::ALL, badge)?;
    Ok(s)
}

/// Cap data that sets a CNode's guard (Mint, Mutate), for this kernel.
pub fn cnode_guard_data(guard: u64, guard_size: u64) -> u64 {
    if sel4_sys::KERNEL_VERSION_MAJOR >= 10 {
        (guard << 6) | guard_size
    } else {
        // seL4 5.x: CapDataType (bit 31) = 1 for a guard, GuardBits 8..26,
        // GuardSize 2..8.
        (1 << 31) | (guard << 8) | (guard_size << 2)
    }
}

/// Is the slot empty (per the kernel)?
pub fn is_empty(slot: CPtr) -> Result<bool, Failure> {
    Ok(cap_type(slot)? == tag::NULL)
}
