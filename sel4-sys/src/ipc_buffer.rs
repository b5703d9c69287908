//! The IPC buffer and the per-thread pointer to it.
//!
//! Each thread keeps the address of its IPC buffer in a thread-local word
//! (`__sel4_ipc_buffer`, in the image's TLS template), as libsel4 does; the
//! runtime stores it once the thread's TLS block and thread pointer exist.

use crate::{consts, Word};

/// Maximum number of message words (seL4_MsgMaxLength).
pub const MSG_MAX_LENGTH: usize = consts::MsgMaxLength;
/// Maximum number of extra capabilities per message (seL4_MsgMaxExtraCaps).
pub const MSG_MAX_EXTRA_CAPS: usize = consts::MsgMaxExtraCaps;

/// seL4_IPCBuffer, as the kernel lays it out.
#[repr(C, align(1024))]
#[derive(Clone)]
pub struct IpcBuffer {
    pub tag: Word,
    pub msg: [Word; MSG_MAX_LENGTH],
    pub user_data: Word,
    pub caps_or_badges: [Word; MSG_MAX_EXTRA_CAPS],
    pub receive_cnode: Word,
    pub receive_index: Word,
    pub receive_depth: Word,
}

// The kernel wants the buffer aligned to its own size and inside one page.
const _: () = assert!(core::mem::size_of::<IpcBuffer>() == 1024);

core::arch::global_asm!(
    ".section .tbss,\"awT\",%nobits",
    ".p2align 3",
    ".globl __sel4_ipc_buffer",
    ".type __sel4_ipc_buffer,%object",
    ".size __sel4_ipc_buffer,8",
    "__sel4_ipc_buffer:",
    ".zero 8",
    ".text",
);

/// Address of this thread's IPC buffer (0 until [`set_ipc_buffer`]).
#[inline(always)]
pub fn ipc_buffer_addr() -> usize {
    // A local-exec read of `__sel4_ipc_buffer`: the start code sets the
    // thread pointer before any Rust code runs, and the symbol is part of
    // the image's TLS template, so the offset is valid for every thread the
    // runtime creates.
    crate::__tls_read_word!("__sel4_ipc_buffer", "0") as usize
}

/// Records the address of this thread's IPC buffer.
///
/// # Safety
/// `addr` must be the IPC buffer the kernel was told about for this thread
/// (bootinfo's `ipcBuffer` for the initial thread, or the buffer given to
/// `TCB_Configure`/`TCB_SetIPCBuffer`), mapped readable and writable, and
/// aligned to 1024 bytes.
#[inline(always)]
pub unsafe fn set_ipc_buffer(addr: usize) {
    // Writes one word of this thread's static TLS block (see
    // `ipc_buffer_addr`).
    crate::__tls_write_word!("__sel4_ipc_buffer", "0", addr as Word);
}

/// Runs `f` with this thread's IPC buffer.
///
/// # Panics
/// If no IPC buffer was recorded for this thread.
#[inline]
pub fn with_ipc_buffer<R>(f: impl FnOnce(&mut IpcBuffer) -> R) -> R {
    let addr = ipc_buffer_addr();
    assert!(addr != 0, "this thread has no IPC buffer");
    // SAFETY: `set_ipc_buffer`'s contract makes `addr` a valid, aligned,
    // mapped IPC buffer owned by this thread. Only this thread uses it, and
    // the mutable borrow ends before `f` returns, so no second reference
    // exists while `f` runs (a syscall inside `f` would only let the kernel
    // touch it while this thread is blocked in that syscall).
    let buf = unsafe { &mut *(addr as *mut IpcBuffer) };
    f(buf)
}

/// Reads message register `i` (0 based) from the IPC buffer.
pub fn get_mr(i: usize) -> Word {
    with_ipc_buffer(|b| b.msg[i])
}

/// Writes message register `i` (0 based) into the IPC buffer.
pub fn set_mr(i: usize, value: Word) {
    with_ipc_buffer(|b| b.msg[i] = value)
}
