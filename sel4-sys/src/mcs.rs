//! The system calls of MCS kernels (`KernelIsMCS`) that take a reply
//! object or have no non-MCS counterpart, and the calling thread's reply
//! object.
//!
//! On an MCS kernel a receive on an endpoint names a *reply object*: the
//! kernel links the caller to it (and lends the server the caller's
//! scheduling context when the server has none), and the server answers by
//! invoking it. Non-MCS kernels keep one implicit reply capability per
//! thread instead. So that code written for both works unchanged, each
//! thread records one reply object of its own in a thread-local word
//! ([`set_thread_reply`], done by the runtime for every thread it starts),
//! and the kernel-neutral calls of this crate ([`crate::recv_regs`],
//! [`crate::reply_recv_regs`], [`crate::reply_regs`], ...) use it: a
//! receive passes it in the reply register, and a reply is a `Send` on it.
//! The functions here take the reply object explicitly.
//!
//! Registers (x86_64): the reply object in R12, the NBSendRecv destination
//! in R13; aarch64 X6 and X8; riscv64 A6 and T0 ([`crate::arch::syscall_mcs`]).

use crate::arch::{self, Regs, REGISTER_MRS};
use crate::{CPtr, MessageInfo, Received, Syscall, Word};

core::arch::global_asm!(
    ".section .tbss,\"awT\",%nobits",
    ".p2align 3",
    ".globl __sel4rs_thread_reply",
    ".type __sel4rs_thread_reply,%object",
    ".size __sel4rs_thread_reply,8",
    "__sel4rs_thread_reply:",
    ".zero 8",
    ".text",
);

/// The calling thread's reply object (0, the null capability, until
/// [`set_thread_reply`]: a receive on an endpoint is then a capability
/// fault of the thread).
#[inline(always)]
pub fn thread_reply() -> CPtr {
    crate::__tls_read_word!("__sel4rs_thread_reply", "0")
}

/// Records the calling thread's reply object: a reply object capability in
/// the thread's CSpace that no other thread receives with. The runtime does
/// it for the initial thread and every thread it starts.
#[inline(always)]
pub fn set_thread_reply(reply: CPtr) {
    crate::__tls_write_word!("__sel4rs_thread_reply", "0", reply);
}

#[inline(always)]
fn raw(sys: Syscall, regs: &mut Regs, reply: CPtr, nbsr_dest: CPtr) {
    // SAFETY: `sys` is a syscall number of the configured kernel, the
    // registers hold plain words; the kernel checks every capability
    // (including the reply object and the NBSendRecv destination) itself.
    // The only memory it touches is this thread's IPC buffer.
    unsafe { arch::syscall_mcs(sys as isize, regs, reply, nbsr_dest) }
}

#[inline(always)]
fn received(r: Regs) -> Received {
    Received {
        info: MessageInfo(r.info),
        badge: r.cap_or_badge,
        mrs: r.mr,
    }
}

/// `seL4_Recv(src, &badge, reply)`, registers only: receives on `src`; a
/// caller is linked to `reply` (answer it with a send on `reply`, or with
/// [`reply_recv_regs_with`]).
#[inline]
pub fn recv_regs_with(src: CPtr, reply: CPtr) -> Received {
    recv_with_info_reply(src, MessageInfo(0), reply)
}

/// `seL4_NBRecv(src, &badge, reply)`, registers only: like
/// [`recv_regs_with`] but does not block.
#[inline]
pub fn nb_recv_regs_with(src: CPtr, reply: CPtr) -> Received {
    let mut r = Regs {
        cap_or_badge: src,
        ..Regs::default()
    };
    raw(Syscall::NBRecv, &mut r, reply, 0);
    received(r)
}

/// `seL4_Recv` with `info` in the message-info register (see
/// [`crate::recv_with_info`]) and the reply object `reply`.
#[inline]
pub fn recv_with_info_reply(src: CPtr, info: MessageInfo, reply: CPtr) -> Received {
    let mut r = Regs {
        cap_or_badge: src,
        info: info.0,
        ..Regs::default()
    };
    raw(Syscall::Recv, &mut r, reply, 0);
    received(r)
}

/// `seL4_ReplyRecv(src, info, &badge, reply)`, registers only: answers the
/// caller linked to `reply`, then receives on `src` with the same reply
/// object.
#[inline]
pub fn reply_recv_regs_with(
    src: CPtr,
    info: MessageInfo,
    mrs: [Word; REGISTER_MRS],
    reply: CPtr,
) -> Received {
    let mut r = Regs {
        cap_or_badge: src,
        info: info.0,
        mr: mrs,
    };
    raw(Syscall::ReplyRecv, &mut r, reply, 0);
    received(r)
}

/// `seL4_NBSendRecv(dest, info, src, &badge, reply)`, registers only: a
/// non-blocking send to `dest` (any capability a send may invoke: an
/// endpoint, a notification, a reply object), then a receive on `src`
/// with the reply object `reply`, in one system call.
#[inline]
pub fn nb_send_recv_regs(
    dest: CPtr,
    info: MessageInfo,
    mrs: [Word; REGISTER_MRS],
    src: CPtr,
    reply: CPtr,
) -> Received {
    let mut r = Regs {
        cap_or_badge: src,
        info: info.0,
        mr: mrs,
    };
    raw(Syscall::NBSendRecv, &mut r, reply, dest);
    received(r)
}

/// `seL4_NBSendWait(dest, info, src, &badge)`, registers only: a
/// non-blocking send to `dest`, then a wait on `src` (no reply object: a
/// caller that arrives on an endpoint this way cannot be answered), in one
/// system call. The kernel takes `dest` from the reply register.
#[inline]
pub fn nb_send_wait_regs(
    dest: CPtr,
    info: MessageInfo,
    mrs: [Word; REGISTER_MRS],
    src: CPtr,
) -> Received {
    let mut r = Regs {
        cap_or_badge: src,
        info: info.0,
        mr: mrs,
    };
    raw(Syscall::NBSendWait, &mut r, dest, 0);
    received(r)
}

/// `seL4_Wait(src, &badge)`, registers only: receives on a notification or
/// an endpoint without a reply object (a caller on the endpoint cannot be
/// answered: the kernel makes it inactive).
#[inline]
pub fn wait_regs(src: CPtr) -> Received {
    let mut r = Regs {
        cap_or_badge: src,
        ..Regs::default()
    };
    raw(Syscall::Wait, &mut r, 0, 0);
    received(r)
}

/// `seL4_NBWait(src, &badge)`, registers only: like [`wait_regs`] but does
/// not block (badge 0 and an empty message when nothing was there).
#[inline]
pub fn nb_wait_regs(src: CPtr) -> Received {
    let mut r = Regs {
        cap_or_badge: src,
        ..Regs::default()
    };
    raw(Syscall::NBWait, &mut r, 0, 0);
    received(r)
}
