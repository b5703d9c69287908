//! The seL4 system calls, over the architecture's syscall entry, with one
//! signature on MCS and non-MCS kernels.
//!
//! On MCS kernels the receives on an endpoint ([`recv_regs`],
//! [`nb_recv_regs`], [`recv_with_info`], [`reply_recv_regs`]) pass the
//! calling thread's reply object ([`crate::mcs::thread_reply`]), a reply
//! ([`reply_regs`]) is a `Send` on it, and [`wait`] and [`poll`] are the
//! kernel's `Wait` and `NBWait`; [`crate::mcs`] has the calls that take
//! the reply object explicitly, `NBSendRecv`, `NBSendWait`.
//!
//! Two forms of each message-carrying call:
//! - `*_regs` forms pass the first [`REGISTER_MRS`] message words in CPU
//!   registers only and never touch the IPC buffer. A message that fits in
//!   them takes the kernel's IPC fastpath.
//! - the plain forms behave like libsel4: the first message words are moved
//!   between the IPC buffer and the registers, the rest stay in the buffer.

use crate::arch::{self, Regs, REGISTER_MRS};
use crate::{ipc_buffer, try_ipc_buffer, CPtr, MessageInfo, Syscall, Word};

/// Message words a message carries in registers.
fn reg_words(info: MessageInfo) -> usize {
    core::cmp::min(info.get_length() as usize, REGISTER_MRS)
}

fn load_mrs(info: MessageInfo) -> [Word; REGISTER_MRS] {
    let mut mrs = [0; REGISTER_MRS];
    let n = reg_words(info);
    if n > 0 {
        ipc_buffer().read_msgs(0, &mut mrs[..n]);
    }
    mrs
}

fn store_mrs(info: MessageInfo, mrs: &[Word; REGISTER_MRS]) {
    let n = reg_words(info);
    if n > 0 {
        if let Some(b) = try_ipc_buffer() {
            b.write_msgs(0, &mrs[..n]);
        }
    }
}

#[inline(always)]
fn raw(sys: Syscall, regs: &mut Regs) {
    // SAFETY: `sys` is a syscall number of the configured kernel (the
    // `Syscall` enum is generated from its syscall.xml), and the register
    // contents are plain words: the kernel checks every capability and
    // argument itself and reports errors through the message info. The only
    // memory it touches is this thread's IPC buffer, which the kernel knows
    // from the thread's TCB.
    unsafe { arch::syscall(sys as isize, regs) }
}

/// A receive on `src` in `regs`: with the calling thread's reply object on
/// MCS kernels.
#[inline(always)]
fn raw_recv(sys: Syscall, regs: &mut Regs) {
    crate::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
        // SAFETY: as in `raw`; the reply register names the thread's reply
        // object, which the kernel checks like any capability.
        unsafe { arch::syscall_mcs(sys as isize, regs, crate::mcs::thread_reply(), 0) }
    } else {
        raw(sys, regs)
    } }
}

/// Reply from a receive-type call: message info, badge, register words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    pub info: MessageInfo,
    pub badge: Word,
    pub mrs: [Word; REGISTER_MRS],
}

/// `seL4_Send` with the message words in registers only.
#[inline]
pub fn send_regs(dest: CPtr, info: MessageInfo, mrs: [Word; REGISTER_MRS]) {
    let mut r = Regs {
        cap_or_badge: dest,
        info: info.0,
        mr: mrs,
    };
    raw(Syscall::Send, &mut r);
}

/// `seL4_NBSend` with the message words in registers only.
#[inline]
pub fn nb_send_regs(dest: CPtr, info: MessageInfo, mrs: [Word; REGISTER_MRS]) {
    let mut r = Regs {
        cap_or_badge: dest,
        info: info.0,
        mr: mrs,
    };
    raw(Syscall::NBSend, &mut r);
}

/// `seL4_Call` with the message words in registers only.
#[inline]
pub fn call_regs(dest: CPtr, info: MessageInfo, mrs: [Word; REGISTER_MRS]) -> Received {
    let mut r = Regs {
        cap_or_badge: dest,
        info: info.0,
        mr: mrs,
    };
    raw(Syscall::Call, &mut r);
    Received {
        info: MessageInfo(r.info),
        badge: r.cap_or_badge,
        mrs: r.mr,
    }
}

/// `seL4_Recv` on `src` (an endpoint or notification), registers only.
#[inline]
pub fn recv_regs(src: CPtr) -> Received {
    let mut r = Regs {
        cap_or_badge: src,
        ..Regs::default()
    };
    raw_recv(Syscall::Recv, &mut r);
    Received {
        info: MessageInfo(r.info),
        badge: r.cap_or_badge,
        mrs: r.mr,
    }
}

/// `seL4_NBRecv` on `src`, registers only.
#[inline]
pub fn nb_recv_regs(src: CPtr) -> Received {
    let mut r = Regs {
        cap_or_badge: src,
        ..Regs::default()
    };
    raw_recv(Syscall::NBRecv, &mut r);
    Received {
        info: MessageInfo(r.info),
        badge: r.cap_or_badge,
        mrs: r.mr,
    }
}

/// `seL4_Reply` with the message words in registers only: answers the
/// caller of this thread's last receive (nothing happens without one). On
/// MCS kernels, a `Send` on the thread's reply object.
#[inline]
pub fn reply_regs(info: MessageInfo, mrs: [Word; REGISTER_MRS]) {
    crate::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
        send_regs(crate::mcs::thread_reply(), info, mrs)
    } else {
        let mut r = Regs {
            cap_or_badge: 0,
            info: info.0,
            mr: mrs,
        };
        raw(Syscall::Reply, &mut r);
    } }
}

/// `seL4_ReplyRecv`: reply to the current caller, then wait on `src`;
/// registers only. MCS kernels: with the thread's reply object.
#[inline]
pub fn reply_recv_regs(src: CPtr, info: MessageInfo, mrs: [Word; REGISTER_MRS]) -> Received {
    let mut r = Regs {
        cap_or_badge: src,
        info: info.0,
        mr: mrs,
    };
    raw_recv(Syscall::ReplyRecv, &mut r);
    Received {
        info: MessageInfo(r.info),
        badge: r.cap_or_badge,
        mrs: r.mr,
    }
}

/// `seL4_Send`: the message is in the IPC buffer.
pub fn send(dest: CPtr, info: MessageInfo) {
    send_regs(dest, info, load_mrs(info))
}

/// `seL4_NBSend`: the message is in the IPC buffer.
pub fn nb_send(dest: CPtr, info: MessageInfo) {
    nb_send_regs(dest, info, load_mrs(info))
}

/// `seL4_Call`: message and reply in the IPC buffer; returns the reply's
/// message info (its label is the error code for kernel invocations).
pub fn call(dest: CPtr, info: MessageInfo) -> MessageInfo {
    let r = call_regs(dest, info, load_mrs(info));
    store_mrs(r.info, &r.mrs);
    r.info
}

/// `seL4_Recv`: the message lands in the IPC buffer; returns (info, badge).
pub fn recv(src: CPtr) -> (MessageInfo, Word) {
    let r = recv_regs(src);
    store_mrs(r.info, &r.mrs);
    (r.info, r.badge)
}

/// `seL4_NBRecv`: like [`recv`] but does not block.
pub fn nb_recv(src: CPtr) -> (MessageInfo, Word) {
    let r = nb_recv_regs(src);
    store_mrs(r.info, &r.mrs);
    (r.info, r.badge)
}

/// `seL4_Reply`: the message is in the IPC buffer.
pub fn reply(info: MessageInfo) {
    reply_regs(info, load_mrs(info))
}

/// `seL4_ReplyRecv`: the messages are in the IPC buffer.
pub fn reply_recv(src: CPtr, info: MessageInfo) -> (MessageInfo, Word) {
    let r = reply_recv_regs(src, info, load_mrs(info));
    store_mrs(r.info, &r.mrs);
    (r.info, r.badge)
}

/// `seL4_Signal`: a send with an empty message (notifications).
pub fn signal(dest: CPtr) {
    send_regs(dest, MessageInfo::new(0, 0, 0, 0), [0; REGISTER_MRS])
}

/// `seL4_Wait`: receive on a notification; returns the badge (the bits
/// signalled since the last wait). The kernel's `Wait` on MCS kernels, a
/// `Recv` on the others.
pub fn wait(src: CPtr) -> Word {
    crate::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
        crate::mcs::wait_regs(src).badge
    } else {
        recv_regs(src).badge
    } }
}

/// `seL4_Poll`: non-blocking wait on a notification; returns the badge,
/// 0 when nothing was signalled. The kernel's `NBWait` on MCS kernels, an
/// `NBRecv` on the others.
pub fn poll(src: CPtr) -> Word {
    crate::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
        crate::mcs::nb_wait_regs(src).badge
    } else {
        nb_recv_regs(src).badge
    } }
}

/// `seL4_Yield`: to the other threads of this priority. On MCS kernels it
/// gives up the rest of the current budget: with a round-robin scheduling
/// context (budget = period, the framework's default) the thread goes to
/// the back of its priority's queue as on the others; with a smaller budget
/// it runs again once its budget is replenished.
///
/// `#[inline]`: instantiated in the caller's crate, so the call needs no
/// relocated GOT entry (the runtime's early failure path uses it before, or
/// instead of, relocation).
#[inline]
pub fn yield_now() {
    let mut r = Regs::default();
    raw(Syscall::Yield, &mut r);
}

/// Error for a debug syscall that the configured kernel does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotConfigured(pub &'static str);

/// `seL4_DebugPutChar`: one byte to the kernel's debug console.
///
/// `#[inline]`: instantiated in the caller's crate, so the call needs no
/// relocated GOT entry (the runtime's early failure path uses it before, or
/// instead of, relocation).
#[inline]
pub fn debug_put_char(c: u8) -> Result<(), NotConfigured> {
    let sys = crate::syscall_opt::DEBUG_PUT_CHAR.ok_or(NotConfigured("DebugPutChar"))?;
    let mut r = Regs {
        cap_or_badge: Word::from(c),
        ..Regs::default()
    };
    raw(sys, &mut r);
    Ok(())
}

/// Writes bytes to the kernel's debug console.
///
/// `#[inline]`: instantiated in the caller's crate, so the call needs no
/// relocated GOT entry (the runtime's early failure path uses it before, or
/// instead of, relocation).
#[inline]
pub fn debug_write(bytes: &[u8]) -> Result<(), NotConfigured> {
    for &b in bytes {
        debug_put_char(b)?;
    }
    Ok(())
}

/// `seL4_DebugHalt`: stops the whole system (kernel debug builds only).
///
/// `#[inline]`: instantiated in the caller's crate, so the call needs no
/// relocated GOT entry (the runtime's early failure path uses it before, or
/// instead of, relocation).
#[inline]
pub fn debug_halt() -> Result<(), NotConfigured> {
    let sys = crate::syscall_opt::DEBUG_HALT.ok_or(NotConfigured("DebugHalt"))?;
    let mut r = Regs::default();
    raw(sys, &mut r);
    Ok(())
}

/// `seL4_DebugDumpScheduler`: the kernel prints every thread with its
/// state and priority on its debug console (debug kernels only).
pub fn debug_dump_scheduler() -> Result<(), NotConfigured> {
    crate::sel4_cfg_if! { kernel >= 12 && syscall DebugDumpScheduler {
        let mut r = Regs::default();
        raw(Syscall::DebugDumpScheduler, &mut r);
        Ok(())
    } else {
        Err(NotConfigured("DebugDumpScheduler"))
    } }
}

/// `seL4_DebugCapIdentify`: the kernel's type tag of the capability at
/// `cap` (0 for an empty slot); debug kernels only.
pub fn debug_cap_identify(cap: CPtr) -> Result<Word, NotConfigured> {
    let sys = crate::syscall_opt::DEBUG_CAP_IDENTIFY.ok_or(NotConfigured("DebugCapIdentify"))?;
    let mut r = Regs {
        cap_or_badge: cap,
        ..Regs::default()
    };
    raw(sys, &mut r);
    Ok(r.cap_or_badge)
}

/// `seL4_Recv` on `src` with `info` in the message-info register. The kernel
/// overwrites it for a message but leaves it as it was when a notification
/// bound to the thread wakes it, which tells the two apart.
#[inline]
pub fn recv_with_info(src: CPtr, info: MessageInfo) -> Received {
    let mut r = Regs {
        cap_or_badge: src,
        info: info.0,
        ..Regs::default()
    };
    raw_recv(Syscall::Recv, &mut r);
    Received {
        info: MessageInfo(r.info),
        badge: r.cap_or_badge,
        mrs: r.mr,
    }
}
