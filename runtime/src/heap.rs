//! The global heap: a `linked_list_allocator` heap over a static area (in
//! `.bss`), which the runtime hands over before `main`, and a second heap in
//! a *growth window*, a range of virtual addresses that nothing else uses,
//! which grows one frame at a time with [`grow`].
//!
//! The two are separate because the static area cannot grow in place: the
//! kernel maps the IPC buffer and bootinfo right after the image.
//! [`grow`] maps the frame itself (a successful `X86_Page_Map` proves the
//! memory is mapped there), so growing the heap is a safe operation.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{null_mut, NonNull};

use linked_list_allocator::Heap;
use spin::Mutex;

/// Bytes of the static heap area.
pub const STATIC_HEAP_SIZE: usize = 4 * 1024 * 1024;

/// First address of the heap's growth window: 64 GiB, far above the image
/// (linked at 4 MiB), its IPC buffer and bootinfo.
pub const GROWTH_WINDOW_START: usize = 0x10_0000_0000;
/// Size of the growth window (4 GiB).
pub const GROWTH_WINDOW_SIZE: usize = 0x1_0000_0000;

/// Size of the frames [`grow`] maps (4 KiB).
pub const GROWTH_FRAME_SIZE: usize = 4096;

#[repr(C, align(4096))]
struct Area([u8; STATIC_HEAP_SIZE]);

static mut AREA: Area = Area([0; STATIC_HEAP_SIZE]);

struct Heaps {
    fixed: Heap,
    grown: Heap,
    /// End of the mapped part of the growth window.
    grown_top: usize,
}

struct GlobalHeap(Mutex<Heaps>);

#[cfg_attr(target_os = "none", global_allocator)]
static HEAP: GlobalHeap = GlobalHeap(Mutex::new(Heaps {
    fixed: Heap::empty(),
    grown: Heap::empty(),
    grown_top: GROWTH_WINDOW_START,
}));

// SAFETY: both heaps hand out disjoint memory they own; `dealloc` returns a
// block to the heap whose range holds it (the growth window and the static
// area do not overlap).
unsafe impl GlobalAlloc for GlobalHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let mut h = self.0.lock();
        match h.fixed.allocate_first_fit(layout) {
            Ok(p) => p.as_ptr(),
            Err(()) => h
                .grown
                .allocate_first_fit(layout)
                .map_or(null_mut(), |p| p.as_ptr()),
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let Some(p) = NonNull::new(ptr) else { return };
        let mut h = self.0.lock();
        let a = ptr as usize;
        // SAFETY: `ptr` came from `alloc` with this layout (GlobalAlloc's
        // contract), from the heap whose range holds it.
        unsafe {
            if (GROWTH_WINDOW_START..GROWTH_WINDOW_START + GROWTH_WINDOW_SIZE).contains(&a) {
                h.grown.deallocate(p, layout)
            } else {
                h.fixed.deallocate(p, layout)
            }
        }
    }
}

/// Hands the static area to the allocator; called once by the runtime.
pub(crate) fn init() {
    // SAFETY: called once, before any allocation, from the initial thread;
    // AREA is used by nothing else.
    unsafe {
        let start = core::ptr::addr_of_mut!(AREA) as *mut u8;
        HEAP.0.lock().fixed.init(start, STATIC_HEAP_SIZE);
    }
}

/// Bytes in use and bytes free in the heap (both parts).
pub fn usage() -> (usize, usize) {
    let h = HEAP.0.lock();
    (
        h.fixed.used() + h.grown.used(),
        h.fixed.free() + h.grown.free(),
    )
}

/// The next address [`grow`] maps a frame at (the end of the mapped part of
/// the growth window).
pub fn growth_top() -> usize {
    HEAP.0.lock().grown_top
}

/// Adds `len` bytes at `start` to the static part of the heap. The region
/// must follow its current end exactly (linked_list_allocator grows at its
/// top); use [`grow`] for memory from untyped.
///
/// # Safety
/// The memory must be mapped, writable, unused by anything else and stay so.
pub unsafe fn extend(start: usize, len: usize) -> Result<(), HeapExtendError> {
    let mut h = HEAP.0.lock();
    if h.fixed.top() as usize != start {
        return Err(HeapExtendError {
            heap_top: h.fixed.top() as usize,
            start,
        });
    }
    // SAFETY: per the contract, and the region starts at the heap's top.
    unsafe { h.fixed.extend(len) };
    Ok(())
}

/// The region given to [`extend`] does not start at the heap's top.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeapExtendError {
    pub heap_top: usize,
    pub start: usize,
}

/// Why [`grow`] did not add a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrowError {
    /// The growth window is full.
    WindowFull,
    /// The kernel refused to map the frame at [`growth_top`] (for example
    /// `FailedLookup` when a paging structure for that address is missing:
    /// create it and call again).
    Map(sel4_sys::InvocationError),
}

/// Maps `frame`, a 4 KiB frame of RAM freshly retyped from untyped memory
/// and mapped nowhere else, read-write at [`growth_top`] in `vspace` (the
/// root task's own VSpace) and adds it to the heap.
///
/// The runtime performs the mapping itself: the kernel's success is the
/// proof that the memory is there. The frame must not be written through
/// any other mapping afterwards (a frame fresh from untyped has none, and a
/// frame capability maps at one address only).
#[cfg(target_arch = "x86_64")]
pub fn grow(
    frame: sel4_sys::Cap<sel4_sys::cap_type::X86Page>,
    vspace: sel4_sys::CPtr,
) -> Result<(), GrowError> {
    let mut h = HEAP.0.lock();
    let top = h.grown_top;
    if top + GROWTH_FRAME_SIZE > GROWTH_WINDOW_START + GROWTH_WINDOW_SIZE {
        return Err(GrowError::WindowFull);
    }
    frame
        .x86_page_map(
            vspace,
            top as u64,
            sel4_sys::CapRights(0b11), // read + write
            sel4_sys::X86_VMAttributes::Default_VMAttributes,
        )
        .map_err(GrowError::Map)?;
    if top == GROWTH_WINDOW_START {
        // SAFETY: the kernel just mapped the frame read-write at `top`; the
        // window is used by nothing else (module documentation).
        unsafe { h.grown.init(top as *mut u8, GROWTH_FRAME_SIZE) };
    } else {
        // SAFETY: as above; the frame starts at the grown heap's top.
        unsafe { h.grown.extend(GROWTH_FRAME_SIZE) };
    }
    h.grown_top = top + GROWTH_FRAME_SIZE;
    Ok(())
}
