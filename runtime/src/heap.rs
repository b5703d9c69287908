//! The global heap: a `linked_list_allocator` over a static area, which the
//! runtime hands over before `main`. More memory can be added later with
//! [`extend`] (for example frames mapped from untyped memory).

use linked_list_allocator::LockedHeap;

/// Bytes of the static heap area.
pub const STATIC_HEAP_SIZE: usize = 4 * 1024 * 1024;

#[repr(C, align(4096))]
struct Area([u8; STATIC_HEAP_SIZE]);

static mut AREA: Area = Area([0; STATIC_HEAP_SIZE]);

#[cfg_attr(target_os = "none", global_allocator)]
static HEAP: LockedHeap = LockedHeap::empty();

/// Hands the static area to the allocator; called once by the runtime.
pub(crate) fn init() {
    // SAFETY: called once, before any allocation, from the initial thread;
    // AREA is used by nothing else.
    unsafe {
        let start = core::ptr::addr_of_mut!(AREA) as *mut u8;
        HEAP.lock().init(start, STATIC_HEAP_SIZE);
    }
}

/// Bytes in use and bytes free in the heap.
pub fn usage() -> (usize, usize) {
    let h = HEAP.lock();
    (h.used(), h.free())
}

/// Adds `len` bytes at `start` to the heap. The region must follow the
/// current end of the heap exactly (linked_list_allocator grows at its top).
///
/// # Safety
/// The memory must be mapped, writable, unused by anything else and stay so.
pub unsafe fn extend(start: usize, len: usize) -> Result<(), HeapExtendError> {
    let mut h = HEAP.lock();
    if h.top() as usize != start {
        return Err(HeapExtendError {
            heap_top: h.top() as usize,
            start,
        });
    }
    // SAFETY: per the contract, and the region starts at the heap's top.
    unsafe { h.extend(len) };
    Ok(())
}

/// The region given to [`extend`] does not start at the heap's top.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeapExtendError {
    pub heap_top: usize,
    pub start: usize,
}
