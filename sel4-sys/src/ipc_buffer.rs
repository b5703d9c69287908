//! The IPC buffer and the per-thread pointer to it.
//!
//! Each thread keeps the address of its IPC buffer in a thread-local word
//! (`__sel4_ipc_buffer`, in the image's TLS template), as libsel4 does; the
//! runtime stores it once the thread's TLS block and thread pointer exist.
//!
//! No reference to the buffer is ever handed out. The kernel reads and
//! writes it during this thread's system calls (the words of a long
//! message, the badges of unwrapped capabilities, the receive fields), so a
//! `&mut` held across a syscall would let the compiler assume that memory
//! does not change, and two such references (a re-entered accessor) would
//! alias. [`IpcBuffer`] is a handle instead: each method reads or writes
//! words through a raw pointer, so every access sees what the kernel wrote
//! last, and any number of handles may exist at once. The handle is
//! neither `Send` nor `Sync`: a buffer belongs to one thread.

use core::marker::PhantomData;
use core::ptr::{addr_of, addr_of_mut, NonNull};

use crate::{consts, CPtr, Word};

/// Maximum number of message words (seL4_MsgMaxLength).
pub const MSG_MAX_LENGTH: usize = consts::MsgMaxLength;
/// Maximum number of extra capabilities per message (seL4_MsgMaxExtraCaps).
pub const MSG_MAX_EXTRA_CAPS: usize = consts::MsgMaxExtraCaps;

/// seL4_IPCBuffer, as the kernel lays it out (only ever accessed through
/// raw pointers, see the module documentation).
#[repr(C, align(1024))]
struct Layout {
    tag: Word,
    msg: [Word; MSG_MAX_LENGTH],
    user_data: Word,
    caps_or_badges: [Word; MSG_MAX_EXTRA_CAPS],
    receive_cnode: Word,
    receive_index: Word,
    receive_depth: Word,
}

// The kernel wants the buffer aligned to its own size and inside one page.
const _: () = assert!(core::mem::size_of::<Layout>() == 1024);

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
/// `TCB_Configure`/`TCB_SetIPCBuffer`), mapped readable and writable for as
/// long as the thread runs, used by no other thread, and aligned to 1024
/// bytes.
#[inline(always)]
pub unsafe fn set_ipc_buffer(addr: usize) {
    // Writes one word of this thread's static TLS block (see
    // `ipc_buffer_addr`).
    crate::__tls_write_word!("__sel4_ipc_buffer", "0", addr as Word);
}

/// The receive fields of the IPC buffer: where the kernel puts a
/// capability that comes with the next message this thread receives (the
/// slot `index` of the CNode `cnode`, resolved with `depth` bits). All zero
/// accepts no capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReceiveFields {
    /// The CNode (a capability pointer in this thread's CSpace).
    pub cnode: CPtr,
    /// The slot within `cnode`.
    pub index: Word,
    /// How many bits of `index` to resolve.
    pub depth: Word,
}

/// A handle to this thread's IPC buffer (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpcBuffer {
    base: NonNull<Layout>,
    /// Not `Send`/`Sync`: the buffer belongs to the thread that got it.
    _thread: PhantomData<*mut ()>,
}

/// This thread's IPC buffer.
///
/// # Panics
/// If no IPC buffer was recorded for this thread ([`set_ipc_buffer`]).
#[inline]
#[track_caller]
pub fn ipc_buffer() -> IpcBuffer {
    match try_ipc_buffer() {
        Some(b) => b,
        None => no_ipc_buffer(),
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn no_ipc_buffer() -> ! {
    panic!("this thread has no IPC buffer")
}

/// This thread's IPC buffer, `None` before one was recorded.
#[inline]
pub fn try_ipc_buffer() -> Option<IpcBuffer> {
    NonNull::new(ipc_buffer_addr() as *mut Layout).map(|base| IpcBuffer {
        base,
        _thread: PhantomData,
    })
}

#[cold]
#[inline(never)]
#[track_caller]
fn out_of_range(what: &str, end: usize, max: usize) -> ! {
    panic!("IPC buffer: {what} up to {end} out of range (the buffer has {max})")
}

impl IpcBuffer {
    /// The buffer's address.
    #[inline]
    pub fn addr(self) -> usize {
        self.base.as_ptr() as usize
    }

    /// Pointer to `msg[i]`; `i + n <= MSG_MAX_LENGTH` checked.
    #[inline(always)]
    #[track_caller]
    fn msg_ptr(self, i: usize, n: usize) -> *mut Word {
        if i > MSG_MAX_LENGTH || n > MSG_MAX_LENGTH - i {
            out_of_range("message words", i.saturating_add(n), MSG_MAX_LENGTH);
        }
        // SAFETY: a place expression on the buffer's base pointer, no
        // reference is created; `i` is within `msg` (checked above).
        unsafe {
            addr_of_mut!((*self.base.as_ptr()).msg)
                .cast::<Word>()
                .add(i)
        }
    }

    /// Pointer to `caps_or_badges[i]`; `i + n <= MSG_MAX_EXTRA_CAPS` checked.
    #[inline(always)]
    #[track_caller]
    fn caps_ptr(self, i: usize, n: usize) -> *mut Word {
        if i > MSG_MAX_EXTRA_CAPS || n > MSG_MAX_EXTRA_CAPS - i {
            out_of_range("capability words", i.saturating_add(n), MSG_MAX_EXTRA_CAPS);
        }
        // SAFETY: as in `msg_ptr`, within `caps_or_badges`.
        unsafe {
            addr_of_mut!((*self.base.as_ptr()).caps_or_badges)
                .cast::<Word>()
                .add(i)
        }
    }

    /// Message word `i`.
    ///
    /// # Panics
    /// If `i >= MSG_MAX_LENGTH`.
    #[inline]
    #[track_caller]
    pub fn msg(self, i: usize) -> Word {
        // SAFETY: `set_ipc_buffer`'s contract: the buffer is mapped and
        // only this thread (and the kernel, during this thread's syscalls)
        // uses it; the pointer is in bounds and aligned.
        unsafe { self.msg_ptr(i, 1).read() }
    }

    /// Sets message word `i`.
    ///
    /// # Panics
    /// If `i >= MSG_MAX_LENGTH`.
    #[inline]
    #[track_caller]
    pub fn set_msg(self, i: usize, value: Word) {
        // SAFETY: as in `msg`.
        unsafe { self.msg_ptr(i, 1).write(value) }
    }

    /// Copies message words `first..first + out.len()` into `out`.
    ///
    /// # Panics
    /// If that range goes past `MSG_MAX_LENGTH`.
    #[inline]
    #[track_caller]
    pub fn read_msgs(self, first: usize, out: &mut [Word]) {
        let src = self.msg_ptr(first, out.len());
        // SAFETY: as in `msg`; `out` is a distinct Rust slice (it cannot
        // point into the buffer: no reference to it is ever made).
        unsafe { core::ptr::copy_nonoverlapping(src, out.as_mut_ptr(), out.len()) }
    }

    /// Writes `words` into message words `first..first + words.len()`.
    ///
    /// # Panics
    /// If that range goes past `MSG_MAX_LENGTH`.
    #[inline]
    #[track_caller]
    pub fn write_msgs(self, first: usize, words: &[Word]) {
        let dst = self.msg_ptr(first, words.len());
        // SAFETY: as in `read_msgs`.
        unsafe { core::ptr::copy_nonoverlapping(words.as_ptr(), dst, words.len()) }
    }

    /// Word `i` of `caps_or_badges`: a capability to send, or the badge of
    /// a capability the kernel unwrapped on receive.
    ///
    /// # Panics
    /// If `i >= MSG_MAX_EXTRA_CAPS`.
    #[inline]
    #[track_caller]
    pub fn cap_or_badge(self, i: usize) -> Word {
        // SAFETY: as in `msg`.
        unsafe { self.caps_ptr(i, 1).read() }
    }

    /// Writes the capabilities to send with the next message into
    /// `caps_or_badges[..caps.len()]`.
    ///
    /// # Panics
    /// If there are more than `MSG_MAX_EXTRA_CAPS`.
    #[inline]
    #[track_caller]
    pub fn set_caps(self, caps: &[CPtr]) {
        let dst = self.caps_ptr(0, caps.len());
        // SAFETY: as in `read_msgs`.
        unsafe { core::ptr::copy_nonoverlapping(caps.as_ptr(), dst, caps.len()) }
    }

    /// The receive fields.
    #[inline]
    pub fn receive_fields(self) -> ReceiveFields {
        let p = self.base.as_ptr();
        // SAFETY: as in `msg`; reads three words through place expressions
        // of the base pointer.
        unsafe {
            ReceiveFields {
                cnode: addr_of!((*p).receive_cnode).read(),
                index: addr_of!((*p).receive_index).read(),
                depth: addr_of!((*p).receive_depth).read(),
            }
        }
    }

    /// Sets the receive fields (where the next received capability goes).
    #[inline]
    pub fn set_receive_fields(self, r: ReceiveFields) {
        let p = self.base.as_ptr();
        // SAFETY: as in `receive_fields`.
        unsafe {
            addr_of_mut!((*p).receive_cnode).write(r.cnode);
            addr_of_mut!((*p).receive_index).write(r.index);
            addr_of_mut!((*p).receive_depth).write(r.depth);
        }
    }

    /// The user data word (unused by the kernel).
    #[inline]
    pub fn user_data(self) -> Word {
        // SAFETY: as in `receive_fields`.
        unsafe { addr_of!((*self.base.as_ptr()).user_data).read() }
    }

    /// Sets the user data word.
    #[inline]
    pub fn set_user_data(self, value: Word) {
        // SAFETY: as in `receive_fields`.
        unsafe { addr_of_mut!((*self.base.as_ptr()).user_data).write(value) }
    }
}

/// Reads message register `i` (0 based) from the IPC buffer.
///
/// # Panics
/// Without an IPC buffer, or if `i >= MSG_MAX_LENGTH`.
#[track_caller]
pub fn get_mr(i: usize) -> Word {
    ipc_buffer().msg(i)
}

/// Writes message register `i` (0 based) into the IPC buffer.
///
/// # Panics
/// Without an IPC buffer, or if `i >= MSG_MAX_LENGTH`.
#[track_caller]
pub fn set_mr(i: usize, value: Word) {
    ipc_buffer().set_msg(i, value)
}
