//! Typed IPC over endpoints and notifications.
//!
//! A protocol is a request and a response type implementing
//! [`Message`] (see [`sel4_ipc::message!`]). [`Client::call`] sends a request
//! and decodes the reply; a [`Server`] receives requests with their badge,
//! answers with [`Server::reply_recv`], and answers requests it cannot
//! decode with an [`ErrorReply`] (label [`ERROR_LABEL`]) without stopping.
//!
//! Messages of up to [`REGISTER_MRS`] words travel in registers only (no
//! IPC buffer access), so the kernel's fastpath serves them; longer ones
//! spill into the IPC buffer. Up to [`MAX_CAPS`] capabilities can travel
//! with a request: the kernel unwraps badged capabilities to the server's
//! own endpoint into their badges and transfers at most one other into the
//! server's receive slot ([`ReceivedCaps`]).
//!
//! # Errors of a call
//!
//! [`Client::call`] tells three failures apart ([`IpcError`]):
//! - [`IpcError::Kernel`]: no server answered, the kernel did (the
//!   capability is not an endpoint, has no send right, or was deleted). The
//!   kernel answers a `Call` with label 0 or an seL4 error code, and message
//!   labels travel above [`KERNEL_LABELS`] ([`sel4_ipc`'s wire
//!   labels](sel4_ipc#labels-on-the-wire)), so a kernel answer is never
//!   taken for a response.
//! - [`IpcError::Remote`]: the server answered with an error reply (it could
//!   not decode the request, or refused it).
//! - [`IpcError::BadReply`]: the answer is neither (a response that does not
//!   decode, a reserved label, capabilities in the reply).

use core::cell::Cell;
use core::marker::PhantomData;
use core::sync::atomic::{AtomicU64, Ordering};
use sel4_sys::{
    ipc_buffer, CPtr, InvocationError, IpcBuffer, MessageInfo, ReceiveFields, Word, REGISTER_MRS,
};

pub use sel4_ipc::{
    decode_reply, decode_request, message, protocol, wire_label, DecodeError, EncodeError,
    ErrorReply, Message, Protocol, Reply, ReplyError, WireLabel, ERROR_LABEL, KERNEL_LABELS,
    LABELS, LABEL_BITS, MAX_CAPS, MAX_MESSAGE_WORDS,
};

use crate::cspace as cnode;
use sel4_sys::cap_type::{CNode, Endpoint, Notification, TCB};
use sel4_sys::{Cap, CapType};

// sel4-ipc is kernel-independent; its word counts and label space must fit
// the configured kernel's (issue 8: tied where both are visible).
const _: () = {
    assert!(sel4_ipc::REGISTER_WORDS == REGISTER_MRS);
    assert!(sel4_ipc::MAX_MESSAGE_WORDS == sel4_sys::MSG_MAX_LENGTH);
    assert!(sel4_ipc::MAX_CAPS == sel4_sys::MSG_MAX_EXTRA_CAPS);
    assert!(sel4_ipc::LABEL_BITS <= MessageInfo::LABEL_BITS);
    // Every error code and fault type the kernel may put in a label is
    // below KERNEL_LABELS.
    assert!(sel4_sys::Error::NumErrors as u64 <= KERNEL_LABELS);
    let faults = sel4_sys::FaultLabel::ALL;
    assert!((faults[faults.len() - 1] as u64) < KERNEL_LABELS);
    // `decode_in_registers` below reads length, extra caps and caps
    // unwrapped as one number: the three fields fill the bits below the
    // label, length lowest.
    assert!(MessageInfo::LENGTH_SHIFT == 0);
    assert!(MessageInfo::EXTRA_CAPS_SHIFT == MessageInfo::LENGTH_BITS);
    assert!(
        MessageInfo::CAPS_UNWRAPPED_SHIFT
            == MessageInfo::EXTRA_CAPS_SHIFT + MessageInfo::EXTRA_CAPS_BITS
    );
    assert!(
        MessageInfo::LABEL_SHIFT
            == MessageInfo::CAPS_UNWRAPPED_SHIFT + MessageInfo::CAPS_UNWRAPPED_BITS
    );
};

/// `capsUnwrapped` bits a [`Server`] sets in the message info it passes to
/// a receive (with `extraCaps` 0). The kernel rewrites that register for
/// every message it delivers and sets `capsUnwrapped` bit i only for the
/// i-th of the capabilities it counts in `extraCaps` (slow path; its
/// fastpath clears the field), so a message never arrives with a bit at or
/// above `extraCaps` ([`is_wake_up`]). A bound notification that wakes the
/// server leaves the register as it was, with this mark.
const WAKE_MARK: u64 = MessageInfo::CAPS_UNWRAPPED_MASK;

/// The message info a server passes to a receive: `info` (the reply it
/// sends, or an empty message; never capabilities) with [`WAKE_MARK`].
#[inline(always)]
fn with_wake_mark(info: MessageInfo) -> MessageInfo {
    info.with_caps_unwrapped(WAKE_MARK)
}

/// Whether a server's receive returned because its bound notification was
/// signalled (the info register still holds what it passed in, with
/// [`WAKE_MARK`]) rather than with a message, whatever a client sends: a
/// `capsUnwrapped` bit at or above `extraCaps` is never the kernel's.
#[inline(always)]
fn is_wake_up(info: MessageInfo) -> bool {
    info.get_caps_unwrapped() >> info.get_extra_caps() != 0
}

/// How many times a [`Server`] (of any protocol, in any thread) has written
/// the receive fields of its thread's IPC buffer. A server records the
/// count after its own write; while the count is unchanged no other server
/// has written receive fields since, so the fields still hold what this
/// server wrote (see [`Server::serve`] for the one assumption this needs).
static RECEIVE_WRITES: AtomicU64 = AtomicU64::new(0);

/// A [`Server`]'s record when the receive fields may not hold its receive
/// slot (never written, or the slot changed since); the count never gets
/// there.
const NOT_WRITTEN: u64 = u64::MAX;

/// Why a call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IpcError {
    /// The request does not encode (or has more than [`MAX_CAPS`]
    /// capabilities, or a raw wire label that does not fit).
    Encode(EncodeError),
    /// No server answered: the kernel answered the call itself. With a
    /// typed [`Client`] this means its capability is not (or no longer) an
    /// endpoint it may send to: the slot is empty
    /// (`InvalidCapability { argument: 0 }`), the capability lacks the send
    /// right, or it is some other object (then the kernel ran the request as
    /// an invocation of that object; `Unknown(0)` when that succeeded).
    Kernel(InvocationError),
    /// The server answered with an error reply.
    Remote(ErrorReply),
    /// The answer is neither a response nor an error reply.
    BadReply(ReplyError),
}

/// A message as words: wire label, length, words.
struct Words {
    label: u64,
    len: usize,
    words: [Word; MAX_MESSAGE_WORDS],
}

impl Words {
    fn encode<M: Message>(m: &M) -> Result<Words, EncodeError> {
        let mut words = [0; MAX_MESSAGE_WORDS];
        let len = m.encode(&mut words)?;
        Ok(Words {
            label: wire_label(m.label()),
            len,
            words,
        })
    }

    fn error(e: ErrorReply) -> Words {
        let mut words = [0; MAX_MESSAGE_WORDS];
        words[..ErrorReply::WORDS].copy_from_slice(&e.encode());
        Words {
            label: ERROR_LABEL,
            len: ErrorReply::WORDS,
            words,
        }
    }

    /// Message info and register words; spills the rest into the IPC
    /// buffer (only when the message is longer than the registers).
    /// `caps.len() <= MAX_CAPS`.
    fn stage(&self, caps: &[CPtr]) -> (MessageInfo, [Word; REGISTER_MRS]) {
        let mut mrs = [0; REGISTER_MRS];
        let n = core::cmp::min(self.len, REGISTER_MRS);
        mrs[..n].copy_from_slice(&self.words[..n]);
        if self.len > REGISTER_MRS || !caps.is_empty() {
            let b = ipc_buffer();
            if self.len > REGISTER_MRS {
                b.write_msgs(REGISTER_MRS, &self.words[REGISTER_MRS..self.len]);
            }
            b.set_caps(caps);
        }
        let info = MessageInfo::new(self.label, 0, caps.len() as u64, self.len as u64);
        (info, mrs)
    }

    /// Gathers a message longer than the registers (the cold path of
    /// [`with_received`], kept out of line so the register-only path
    /// carries no message-sized buffer).
    #[cold]
    #[inline(never)]
    fn received(info: MessageInfo, mrs: [Word; REGISTER_MRS]) -> Words {
        let len = core::cmp::min(info.get_length() as usize, MAX_MESSAGE_WORDS);
        let mut words = [0; MAX_MESSAGE_WORDS];
        let n = core::cmp::min(len, REGISTER_MRS);
        words[..n].copy_from_slice(&mrs[..n]);
        if len > REGISTER_MRS {
            ipc_buffer().read_msgs(REGISTER_MRS, &mut words[REGISTER_MRS..len]);
        }
        Words {
            label: info.get_label(),
            len,
            words,
        }
    }
}

/// Message info and register words of `m`. A type whose longest message
/// fits the registers is encoded straight into them (no message-sized
/// buffer, no IPC buffer access unless `caps` travel); longer ones go
/// through [`Words`] and spill into the IPC buffer.
#[inline(always)]
fn stage_message<M: Message>(
    m: &M,
    caps: &[CPtr],
) -> Result<(MessageInfo, [Word; REGISTER_MRS]), EncodeError> {
    stage_message_over(m, caps, [0; REGISTER_MRS])
}

/// [`stage_message`] with the register words starting as `regs`: the
/// message's words overwrite the first of them, the rest travel in their
/// registers but are no part of the message (the kernel copies only the
/// message's length of words to the receiver, on its fastpath and its slow
/// path), so a server may pass the words it received instead of zeroing
/// them.
#[inline(always)]
fn stage_message_over<M: Message>(
    m: &M,
    caps: &[CPtr],
    regs: [Word; REGISTER_MRS],
) -> Result<(MessageInfo, [Word; REGISTER_MRS]), EncodeError> {
    if caps.len() > MAX_CAPS {
        return Err(EncodeError::TooManyCaps { got: caps.len() });
    }
    if M::MAX_WORDS <= REGISTER_MRS {
        let mut mrs = regs;
        let len = m.encode(&mut mrs)?;
        if !caps.is_empty() {
            ipc_buffer().set_caps(caps);
        }
        let info = MessageInfo::new(wire_label(m.label()), 0, caps.len() as u64, len as u64);
        Ok((info, mrs))
    } else {
        Ok(Words::encode(m)?.stage(caps))
    }
}

/// Message info and register words of an error reply.
#[inline]
fn stage_error(e: ErrorReply) -> (MessageInfo, [Word; REGISTER_MRS]) {
    if ErrorReply::WORDS <= REGISTER_MRS {
        let mut mrs = [0; REGISTER_MRS];
        mrs[..ErrorReply::WORDS].copy_from_slice(&e.encode());
        let info = MessageInfo::new(ERROR_LABEL, 0, 0, ErrorReply::WORDS as u64);
        (info, mrs)
    } else {
        Words::error(e).stage(&[])
    }
}

/// Message info and register words of a reply: the response, or the error
/// reply (a response that does not encode is refused with code 0).
#[inline(always)]
fn stage_reply<M: Message>(reply: Result<&M, ErrorReply>) -> (MessageInfo, [Word; REGISTER_MRS]) {
    match reply {
        Ok(m) => stage_message(m, &[]).unwrap_or_else(|_| stage_error(ErrorReply::Refused(0))),
        Err(e) => stage_error(e),
    }
}

/// Runs `f` on the wire label and words of a received message: straight
/// from the registers when it fits them, else gathered with the IPC buffer.
#[inline(always)]
fn with_received<R>(
    info: MessageInfo,
    mrs: &[Word; REGISTER_MRS],
    f: impl FnOnce(u64, &[Word]) -> R,
) -> R {
    let len = info.get_length() as usize;
    if len <= REGISTER_MRS {
        f(info.get_label(), &mrs[..len])
    } else {
        let w = Words::received(info, *mrs);
        f(w.label, &w.words[..w.len])
    }
}

/// The message a receive returned, when it came in registers alone and
/// decodes as an `M`; `None` for anything else (longer messages,
/// capabilities, a notification's wake-up, the kernel's labels, error
/// replies, words that do not decode), which the caller's out-of-line path
/// classifies. This is the whole per-message check of the fast paths of
/// [`Client::call`] and [`Server::serve`]: [`Message::decode_registers`]
/// accepts only an info word that is exactly a label of `M` and its length
/// (one compare of the word per label for [`message!`] types), so
/// `extraCaps` and `capsUnwrapped` are 0 (no capability, and never a
/// wake-up by a bound notification, whose info keeps the server's
/// [`WAKE_MARK`]) and the length fits the registers; field values are
/// checked as `decode` checks them.
#[inline(always)]
fn decode_in_registers<M: Message>(info: MessageInfo, mrs: &[Word; REGISTER_MRS]) -> Option<M> {
    M::decode_registers(info.0, MessageInfo::LABEL_SHIFT, mrs)
}

/// How many of a received message's capabilities the kernel transferred
/// into the receive slot (0 or 1: the rest of the `extraCaps` it reports
/// were unwrapped into badges).
fn transferred_count(info: MessageInfo) -> u32 {
    let n = info.get_extra_caps() as u32;
    let unwrapped = info.get_caps_unwrapped() & ((1 << n) - 1);
    n - unwrapped.count_ones()
}

/// Deletes the capability in the slot the receive fields `f` name (the
/// slot was empty before the kernel transferred it there: the kernel only
/// transfers into an empty slot). `Err` when it cannot be deleted.
fn delete_received(f: ReceiveFields) -> Result<(), InvocationError> {
    Cap::<CNode>::from_cptr(f.cnode).cnode_delete(f.index, f.depth as u8)
}

/// A capability to send with a request, of any kind: `Cap<T>` converts
/// into it with `.into()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendCap(CPtr);

impl<T: CapType> From<Cap<T>> for SendCap {
    fn from(c: Cap<T>) -> SendCap {
        SendCap(c.cptr())
    }
}

/// The client side of a protocol: a (usually badged) endpoint capability.
pub struct Client<P: Protocol> {
    ep: Cap<Endpoint>,
    _p: PhantomData<P>,
}

impl<P: Protocol> Clone for Client<P> {
    fn clone(&self) -> Self {
        Client::new(self.ep)
    }
}

impl<P: Protocol> Client<P> {
    /// A client calling through `ep`.
    #[must_use]
    pub fn new(ep: Cap<Endpoint>) -> Client<P> {
        Client {
            ep,
            _p: PhantomData,
        }
    }

    /// The endpoint.
    pub fn endpoint(&self) -> Cap<Endpoint> {
        self.ep
    }

    /// Sends `req` and waits for the response.
    #[inline]
    pub fn call(&self, req: &P::Request) -> Result<P::Response, IpcError> {
        self.call_inner(req, &[])
    }

    /// Sends `req` with one capability and waits for the response.
    pub fn call_with_cap<T: CapType>(
        &self,
        req: &P::Request,
        cap: Cap<T>,
    ) -> Result<P::Response, IpcError> {
        self.call_inner(req, &[cap.cptr()])
    }

    /// Sends `req` with up to [`MAX_CAPS`] capabilities and waits for the
    /// response. The server gets badged capabilities to its own endpoint
    /// as their badges and at most one other capability (the kernel stops
    /// at the second one it would have to transfer).
    ///
    /// A capability pointer that does not resolve in this thread's CSpace
    /// is a capability fault of this thread (the kernel's rule), not an
    /// error of the call.
    pub fn call_with_caps(
        &self,
        req: &P::Request,
        caps: &[SendCap],
    ) -> Result<P::Response, IpcError> {
        if caps.len() > MAX_CAPS {
            return Err(IpcError::Encode(EncodeError::TooManyCaps {
                got: caps.len(),
            }));
        }
        let mut c = [0; MAX_CAPS];
        for (d, s) in c.iter_mut().zip(caps) {
            *d = s.0;
        }
        self.call_inner(req, &c[..caps.len()])
    }

    /// Sends raw words with the wire label `wire` (for tests of a server's
    /// error handling; a message label `l` travels as [`wire_label`]`(l)`).
    pub fn call_raw(&self, wire: u64, words: &[Word]) -> Result<P::Response, IpcError> {
        self.call_raw_with_caps(wire, words, &[])
    }

    /// [`Client::call_raw`] with up to [`MAX_CAPS`] capabilities.
    pub fn call_raw_with_caps(
        &self,
        wire: u64,
        words: &[Word],
        caps: &[SendCap],
    ) -> Result<P::Response, IpcError> {
        if wire >= 1 << LABEL_BITS {
            return Err(IpcError::Encode(EncodeError::LabelOutOfRange { wire }));
        }
        if caps.len() > MAX_CAPS {
            return Err(IpcError::Encode(EncodeError::TooManyCaps {
                got: caps.len(),
            }));
        }
        let mut c = [0; MAX_CAPS];
        for (d, s) in c.iter_mut().zip(caps) {
            *d = s.0;
        }
        let mut w = [0; MAX_MESSAGE_WORDS];
        let len = core::cmp::min(words.len(), MAX_MESSAGE_WORDS);
        w[..len].copy_from_slice(&words[..len]);
        let (info, mrs) = Words {
            label: wire,
            len,
            words: w,
        }
        .stage(&c[..caps.len()]);
        self.call_staged(info, mrs)
    }

    #[inline(always)]
    fn call_inner(&self, req: &P::Request, caps: &[CPtr]) -> Result<P::Response, IpcError> {
        let (info, mrs) = stage_message(req, caps).map_err(IpcError::Encode)?;
        self.call_staged(info, mrs)
    }

    #[inline(always)]
    fn call_staged(
        &self,
        info: MessageInfo,
        mrs: [Word; REGISTER_MRS],
    ) -> Result<P::Response, IpcError> {
        let r = sel4_sys::call_regs(self.ep.cptr(), info, mrs);
        // A response in registers is taken in line; everything else
        // (kernel answers, error replies, bad responses, longer messages,
        // capabilities) out of line.
        match decode_in_registers::<P::Response>(r.info, &r.mrs) {
            Some(v) => Ok(v),
            None => reply_slow::<P::Response>(r),
        }
    }
}

/// What a client makes of a reply that is not a response in registers.
#[cold]
#[inline(never)]
fn reply_slow<M: Message>(r: sel4_sys::Received) -> Result<M, IpcError> {
    let extra = r.info.get_extra_caps() as usize;
    if extra != 0 {
        // Framework servers never reply with capabilities; one the kernel
        // put into this thread's receive slot (armed by a server of this
        // thread) is deleted, so that server's slot stays empty.
        if transferred_count(r.info) != 0 {
            let f = ipc_buffer().receive_fields();
            if let Err(e) = delete_received(f) {
                log::error!("ipc: could not delete a capability a reply carried into {f:?}: {e}");
            }
        }
        return Err(IpcError::BadReply(ReplyError::CarriedCapabilities {
            count: extra,
        }));
    }
    with_received(r.info, &r.mrs, |label, words| {
        match decode_reply::<M>(label, words) {
            Ok(Reply::Ok(v)) => Ok(v),
            Ok(Reply::Err(e)) => Err(IpcError::Remote(e)),
            Ok(Reply::Kernel(code)) => Err(IpcError::Kernel(InvocationError::decode(code, |i| {
                words.get(i).copied().unwrap_or(0)
            }))),
            Err(e) => Err(IpcError::BadReply(e)),
        }
    })
}

/// A capability that came with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceivedCap {
    /// Stored in the server's receive slot (this slot of the root CNode).
    Transferred(CPtr),
    /// A badged capability to the server's own endpoint: only its badge
    /// arrives.
    Unwrapped {
        /// The badge of the capability the client sent.
        badge: Word,
    },
}

/// The capabilities that came with a request, in the order the client
/// sent them, as far as the kernel passed them on: each badged capability
/// to the server's own endpoint as its badge, and at most one other
/// capability, transferred into the server's receive slot. (The kernel
/// stops at a capability it cannot pass on: a second one to transfer, or
/// any when the server has no receive slot.)
///
/// A transferred capability belongs to whoever takes it. In
/// [`Server::serve`], a handler keeps it with
/// [`ReceivedCaps::take_transferred`] (and gives the server a new receive
/// slot with [`Server::set_receive_slot`]); one it does not take is deleted
/// when the handler returns and the slot receives the next one. From
/// [`Server::recv`]/[`Server::reply_recv`] it is the caller's: the server's
/// receive slot is then unset until [`Server::set_receive_slot`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[must_use = "a transferred capability is the receiver's to take or delete"]
pub struct ReceivedCaps {
    caps: [Option<ReceivedCap>; MAX_CAPS],
    len: u8,
    /// The transferred capability's slot, until taken.
    slot: Option<CPtr>,
}

impl ReceivedCaps {
    /// No capability.
    pub const NONE: ReceivedCaps = ReceivedCaps {
        caps: [None; MAX_CAPS],
        len: 0,
        slot: None,
    };

    fn push(&mut self, c: ReceivedCap) {
        if let Some(e) = self.caps.get_mut(self.len as usize) {
            *e = Some(c);
            self.len += 1;
            if let ReceivedCap::Transferred(s) = c {
                self.slot = Some(s);
            }
        }
    }

    /// How many capabilities arrived.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// None arrived.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The `i`-th capability that arrived.
    pub fn get(&self, i: usize) -> Option<ReceivedCap> {
        self.caps.get(i).copied().flatten()
    }

    /// Every capability that arrived, in order.
    pub fn iter(&self) -> impl Iterator<Item = ReceivedCap> + '_ {
        self.caps.iter().filter_map(|c| *c)
    }

    /// The badges of the unwrapped capabilities, in order.
    pub fn badges(&self) -> impl Iterator<Item = Word> + '_ {
        self.iter().filter_map(|c| match c {
            ReceivedCap::Unwrapped { badge } => Some(badge),
            ReceivedCap::Transferred(_) => None,
        })
    }

    /// The slot of the transferred capability, unless it was taken.
    pub fn transferred(&self) -> Option<CPtr> {
        self.slot
    }

    /// Takes the transferred capability: its slot is the taker's now.
    pub fn take_transferred(&mut self) -> Option<CPtr> {
        self.slot.take()
    }
}

/// What a server received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming<M> {
    /// A request from the client with this badge, or the error reply it
    /// gets because its message did not decode. A request that does not
    /// decode never hands over a transferred capability: the server deletes
    /// it and keeps its receive slot (`caps` then lists the unwrapped
    /// badges only).
    Request {
        /// The badge of the client's endpoint capability (which client).
        badge: Word,
        /// The decoded message, or the reply for a message that did not
        /// decode.
        message: Result<M, ErrorReply>,
        /// The capabilities that came with it.
        caps: ReceivedCaps,
    },
    /// The bound notification was signalled with these bits.
    Signal {
        /// The notification word (the OR of the badges signalled since the
        /// last receive).
        bits: Word,
    },
}

/// The server side of a protocol.
///
/// MCS kernels: a receive on an endpoint names a reply object, which the
/// kernel links to the caller (and through which a passive server runs on
/// the caller's scheduling context). A server uses the reply object of the
/// thread it serves on (the framework makes one for every thread it
/// creates and for the initial thread; `sel4_sys::mcs::thread_reply`), or
/// its own (`Server::with_reply`, MCS kernels only, for a thread that serves several
/// endpoints with answers outstanding on more than one). Code using
/// `Server` is the same on every kernel.
pub struct Server<P: Protocol> {
    ep: Cap<Endpoint>,
    /// The server's own reply object (MCS, [`Server::with_reply`]); `None`:
    /// the serving thread's.
    #[allow(dead_code)] // read on MCS kernels only
    reply: Option<CPtr>,
    receive_slot: Cell<Option<CPtr>>,
    /// [`RECEIVE_WRITES`] after this server last wrote the receive fields
    /// for its current `receive_slot`, else [`NOT_WRITTEN`].
    written: Cell<u64>,
    _p: PhantomData<P>,
}

impl<P: Protocol> Server<P> {
    /// A server receiving on `ep`.
    #[must_use]
    pub fn new(ep: Cap<Endpoint>) -> Server<P> {
        Server {
            ep,
            reply: None,
            receive_slot: Cell::new(None),
            written: Cell::new(NOT_WRITTEN),
            _p: PhantomData,
        }
    }

    sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
        /// A server receiving on `ep` with the reply object `reply` (MCS
        /// kernels) instead of its thread's: a reply object no other thread
        /// receives with, which the caller keeps for as long as the server
        /// serves.
        #[must_use]
        pub fn with_reply(ep: Cap<Endpoint>, reply: Cap<sel4_sys::cap_type::Reply>) -> Server<P> {
            let mut s = Server::new(ep);
            s.reply = Some(reply.cptr());
            s
        }

        /// The reply object this server's receives name (MCS kernels).
        pub fn reply_object(&self) -> CPtr {
            self.reply.unwrap_or_else(sel4_sys::mcs::thread_reply)
        }
    } }

    /// The receive of this kernel on the server's endpoint, with `sent` in
    /// the message-info register (MCS: with the server's reply object).
    #[inline(always)]
    fn sys_recv(&self, sent: MessageInfo) -> sel4_sys::Received {
        sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
            match self.reply {
                None => sel4_sys::recv_with_info(self.ep.cptr(), sent),
                Some(r) => sel4_sys::mcs::recv_with_info_reply(self.ep.cptr(), sent, r),
            }
        } else {
            sel4_sys::recv_with_info(self.ep.cptr(), sent)
        } }
    }

    /// ReplyRecv on the server's endpoint (MCS: with its reply object).
    #[inline(always)]
    fn sys_reply_recv(&self, sent: MessageInfo, mrs: [Word; REGISTER_MRS]) -> sel4_sys::Received {
        self.sys_reply_recv_with(self.receive_reply_object(), sent, mrs)
    }

    /// The reply object this server's receives name: on MCS kernels
    /// [`Server::reply_object`] (which [`Server::serve`]'s fast loop reads
    /// once, keeping it in a register); 0 on other kernels, which have none.
    #[inline(always)]
    fn receive_reply_object(&self) -> CPtr {
        sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
            self.reply_object()
        } else {
            0
        } }
    }

    /// ReplyRecv on the server's endpoint with the reply object `reply`
    /// (MCS kernels; [`Server::receive_reply_object`]); other kernels have
    /// none.
    #[inline(always)]
    fn sys_reply_recv_with(
        &self,
        reply: CPtr,
        sent: MessageInfo,
        mrs: [Word; REGISTER_MRS],
    ) -> sel4_sys::Received {
        sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
            sel4_sys::mcs::reply_recv_regs_with(self.ep.cptr(), sent, mrs, reply)
        } else {
            let _ = reply;
            sel4_sys::reply_recv_regs(self.ep.cptr(), sent, mrs)
        } }
    }

    /// A reply without a receive. MCS: a send on the reply object; a
    /// passive server has no time of its own after it, so it waits for its
    /// scheduling context in the same system call (`NBSendWait` on its wake
    /// notification, which a join signals).
    #[inline]
    fn sys_reply(&self, info: MessageInfo, mrs: [Word; REGISTER_MRS]) {
        sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
            let reply = self.reply_object();
            if let Some(wake) = crate::thread::passive_wake() {
                sel4_sys::mcs::nb_send_wait_regs(reply, info, mrs, wake);
                return;
            }
            sel4_sys::send_regs(reply, info, mrs);
        } else {
            sel4_sys::reply_regs(info, mrs);
        } }
    }

    /// The first receive of a thread that is to become a passive server
    /// (`crate::thread::ThreadBuilder::passive`), or `None`.
    #[inline(always)]
    fn passive_first_receive(&self) -> Option<(MessageInfo, sel4_sys::Received)> {
        let reply = sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
            self.reply_object()
        } else {
            0
        } };
        crate::thread::passive_first_receive(self.ep.cptr(), with_wake_mark, reply)
    }

    /// Accepts one capability per request into `slot` of the root CNode
    /// (an empty slot this server owns; `None`: accept none).
    pub fn set_receive_slot(&self, slot: Option<CPtr>) {
        self.receive_slot.set(slot);
        self.written.set(NOT_WRITTEN);
    }

    /// The slot the next transferred capability goes into, if any.
    pub fn receive_slot(&self) -> Option<CPtr> {
        self.receive_slot.get()
    }

    /// The receive fields for `slot` (all zero without one).
    fn fields(slot: Option<CPtr>) -> ReceiveFields {
        match slot {
            Some(s) => ReceiveFields {
                cnode: cnode::root().cptr(),
                index: s,
                depth: Word::from(cnode::depth()),
            },
            None => ReceiveFields::default(),
        }
    }

    /// [`Server::prepare_receive`] unless it is not needed: the server
    /// accepts no capability, or the receive fields still hold what this
    /// server last wrote for its current slot (no server wrote them since
    /// and the slot did not change). Only for [`Server::serve`], where the
    /// handler is the only other code this thread runs between receives
    /// (see its documentation).
    ///
    /// A server without a receive slot does not write the fields at all:
    /// whatever slot they name (another server's, written in its handler),
    /// a capability the kernel transfers there comes with a message whose
    /// `extraCaps` is not 0, which never takes the fast path; the slow path
    /// finds the fields are not this server's ([`Server::transferred_slot`]),
    /// deletes the capability (the slot was empty: the kernel transfers
    /// into an empty slot only) and writes the fields. The request is
    /// handled as if the kernel had not transferred it, as with fields of
    /// its own. So the usual request of such a server (the common kind)
    /// pays no check here; in a loop where the handler cannot change the
    /// slot the compiler drops the test of `receive_slot` too.
    #[inline(always)]
    fn prepare_receive_cached(&self) {
        if self.receive_slot.get().is_some()
            && RECEIVE_WRITES.load(Ordering::Relaxed) != self.written.get()
        {
            self.prepare_receive();
        }
    }

    /// Writes the receive fields of the IPC buffer for the current receive
    /// slot (all zero without one, so no capability is accepted).
    #[inline(always)]
    fn prepare_receive(&self) {
        ipc_buffer().set_receive_fields(Self::fields(self.receive_slot.get()));
        // Same thread: this count is above every count another server of
        // this thread recorded before, and below every later one.
        self.written.set(
            RECEIVE_WRITES
                .fetch_add(1, Ordering::Relaxed)
                .wrapping_add(1),
        );
    }

    /// Classifies what a receive returned.
    #[inline(always)]
    fn incoming(&self, r: sel4_sys::Received) -> Incoming<P::Request> {
        if is_wake_up(r.info) {
            return Incoming::Signal { bits: r.badge };
        }
        let message = with_received(r.info, &r.mrs, decode_request::<P::Request>);
        let caps = if r.info.get_extra_caps() == 0 {
            ReceivedCaps::NONE
        } else {
            self.received_caps(r.info, message.is_ok())
        };
        Incoming::Request {
            badge: r.badge,
            message,
            caps,
        }
    }

    /// The capabilities of a received message (the kernel reports
    /// `extraCaps` of them: those whose `capsUnwrapped` bit is set are
    /// badges, the one other was transferred into the receive slot). When
    /// `keep` is false (the request did not decode) a transferred
    /// capability is deleted and the slot stays armed; otherwise it is
    /// handed over and the server's slot unset.
    #[cold]
    #[inline(never)]
    fn received_caps(&self, info: MessageInfo, keep: bool) -> ReceivedCaps {
        let b = ipc_buffer();
        let n = core::cmp::min(info.get_extra_caps() as usize, MAX_CAPS);
        let unwrapped = info.get_caps_unwrapped();
        let mut caps = ReceivedCaps::NONE;
        let mut transferred = false;
        for i in 0..n {
            if unwrapped & (1 << i) != 0 {
                caps.push(ReceivedCap::Unwrapped {
                    badge: b.cap_or_badge(i),
                });
            } else if !transferred {
                // The kernel transfers at most one capability.
                transferred = true;
                if let Some(slot) = self.transferred_slot(b) {
                    if keep {
                        self.receive_slot.set(None);
                        self.written.set(NOT_WRITTEN);
                        caps.push(ReceivedCap::Transferred(slot));
                    } else {
                        self.discard(slot);
                    }
                }
            }
        }
        caps
    }

    /// The slot the kernel just transferred a capability into: this
    /// server's receive slot when the receive fields still name it. If they
    /// name another slot, the capability there is deleted and the server
    /// writes its fields again (before the next receive). For a server
    /// without a receive slot that is what [`Server::serve`] expects (it
    /// does not write the fields, [`Server::prepare_receive_cached`]);
    /// otherwise they were written behind the server's back.
    fn transferred_slot(&self, b: IpcBuffer) -> Option<CPtr> {
        let f = b.receive_fields();
        match self.receive_slot.get() {
            Some(slot) if f == Self::fields(Some(slot)) => Some(slot),
            None => {
                if let Err(e) = delete_received(f) {
                    log::error!(
                        "ipc server: a capability arrived in {f:?} (this server accepts none) \
                         and could not be deleted: {e}"
                    );
                }
                // All zero from now on: no capability lands anywhere.
                self.prepare_receive();
                None
            }
            Some(_) => {
                self.written.set(NOT_WRITTEN);
                match delete_received(f) {
                    Ok(()) => log::warn!(
                        "ipc server: a capability arrived in {f:?}, not in this server's \
                         receive slot; deleted"
                    ),
                    Err(e) => log::error!(
                        "ipc server: a capability arrived in {f:?}, not in this server's \
                         receive slot, and could not be deleted: {e}"
                    ),
                }
                None
            }
        }
    }

    /// Deletes the capability in this server's receive slot `slot` and
    /// receives the next one there. If it cannot be deleted the slot is
    /// given up (unset), never armed while full.
    #[cold]
    fn discard(&self, slot: CPtr) {
        match cnode::root().cnode_delete(slot, cnode::depth()) {
            Ok(()) => {
                if self.receive_slot.get().is_none() {
                    self.set_receive_slot(Some(slot));
                }
            }
            Err(e) => {
                log::error!(
                    "ipc server: cannot delete the capability in receive slot {slot:#x}: {e}; \
                     no longer accepting capabilities there"
                );
                if self.receive_slot.get() == Some(slot) {
                    self.set_receive_slot(None);
                }
            }
        }
    }

    /// Waits for the next request (or signal of a bound notification).
    #[inline]
    pub fn recv(&self) -> Incoming<P::Request> {
        let r = self.recv_raw(false);
        self.incoming(r)
    }

    /// The receive of [`Server::recv`]: what the kernel returned.
    #[inline(always)]
    fn recv_raw(&self, cached: bool) -> sel4_sys::Received {
        if cached {
            self.prepare_receive_cached();
        } else {
            self.prepare_receive();
        }
        // A passive server's first receive passes other words in (the
        // ready message, with the mark): `is_wake_up` reads the returned
        // info alone, so what was passed in is not needed.
        if let Some((_, first)) = self.passive_first_receive() {
            return first;
        }
        let info = with_wake_mark(MessageInfo::new(0, 0, 0, 0));
        self.sys_recv(info)
    }

    /// Answers the current request, then waits for the next one.
    #[inline]
    pub fn reply_recv(&self, reply: Result<&P::Response, ErrorReply>) -> Incoming<P::Request> {
        let (info, mrs) = stage_reply(reply);
        self.reply_recv_staged(info, mrs)
    }

    /// [`Server::reply_recv`] with the reply already staged.
    #[inline(always)]
    fn reply_recv_staged(
        &self,
        info: MessageInfo,
        mrs: [Word; REGISTER_MRS],
    ) -> Incoming<P::Request> {
        let r = self.reply_recv_raw(false, info, mrs);
        self.incoming(r)
    }

    /// The syscall of [`Server::reply_recv`] (the reply's info passed in
    /// with [`WAKE_MARK`]): what the kernel returned.
    #[inline(always)]
    fn reply_recv_raw(
        &self,
        cached: bool,
        info: MessageInfo,
        mrs: [Word; REGISTER_MRS],
    ) -> sel4_sys::Received {
        if cached {
            self.prepare_receive_cached();
        } else {
            self.prepare_receive();
        }
        self.sys_reply_recv(with_wake_mark(info), mrs)
    }

    /// Answers the current request without waiting for another.
    pub fn reply(&self, reply: Result<&P::Response, ErrorReply>) {
        let (info, mrs) = stage_reply(reply);
        self.sys_reply(info, mrs);
    }

    /// Serves requests until `handler` says stop. Requests that do not
    /// decode get their error reply here (a capability they carried is
    /// deleted, the receive slot stays armed); `handler` sees only good
    /// ones, with every capability that came with them ([`ReceivedCaps`]):
    /// a transferred capability the handler does not take is deleted when
    /// it returns, and the receive slot takes the next one.
    /// Signals of a bound notification are not passed to `handler`: the
    /// loop goes back to waiting (use [`Server::recv`] and
    /// [`Server::reply_recv`] to handle them).
    ///
    /// The receive fields of the IPC buffer are written only when this
    /// server's receive slot changed or another [`Server`] wrote them since
    /// (not on every receive), and not at all while the server has no
    /// receive slot (a capability that lands in a slot they still name is
    /// deleted before `handler` runs; see
    /// [`Server::prepare_receive_cached`]). That assumes `handler` does not
    /// write them itself behind the servers' back (through
    /// `sel4_sys::IpcBuffer::set_receive_fields` or a raw receive); it sets
    /// slots with [`Server::set_receive_slot`]. (If it does, a capability
    /// that lands elsewhere is deleted, not lost, and the server writes its
    /// fields again.)
    #[inline]
    pub fn serve<F>(&self, handler: F)
    where
        F: FnMut(Word, P::Request, &mut ReceivedCaps) -> Control<P::Response>,
    {
        self.serve_checked(|_| Ok(()), handler)
    }

    /// [`Server::serve`], with a check of each request's badge before
    /// `handler` (a component server's generation check): a request whose
    /// badge fails it gets the check's error reply and never reaches
    /// `handler`. The check runs in line; a failed one is answered out of
    /// line, so that the rare answer costs the usual request nothing.
    #[inline]
    pub fn serve_checked<C, F>(&self, check: C, mut handler: F)
    where
        C: Fn(Word) -> Result<(), ErrorReply>,
        F: FnMut(Word, P::Request, &mut ReceivedCaps) -> Control<P::Response>,
    {
        // What the kernel returned, carried round the loops as plain words.
        // A request in registers ([`decode_in_registers`]) whose badge
        // passes `check` is handled in line, its answer staged straight
        // into registers (the inner loop); everything else goes to
        // `serve_slow` (out of line, the handler called through a `dyn`
        // reference), which classifies it exactly as `recv`/`reply_recv` do.
        //
        // While the server accepts no capability (no receive slot: the
        // usual server) the inner loop answers and receives itself: the
        // receive fields need no care then ([`Server::prepare_receive_cached`]),
        // and as the loop is entered only without a slot, the compiler
        // drops the test of the slot after the handler when the handler
        // cannot set one. A server with a slot answers in the outer loop,
        // after the check of its receive fields (the handler is inlined
        // in both places).
        let mut r = self.recv_raw(true);
        loop {
            let next = if self.receive_slot.get().is_none() {
                // MCS: the reply object of these receives, read once: the
                // request each answers was received with it.
                let reply = self.receive_reply_object();
                loop {
                    match self.serve_fast(&r, &check, &mut handler) {
                        // Still no slot (the handler may have set one):
                        // the receive fields are not written.
                        Fast::Answer(info, mrs) if self.receive_slot.get().is_none() => {
                            r = self.sys_reply_recv_with(reply, with_wake_mark(info), mrs);
                        }
                        other => break other,
                    }
                }
            } else {
                self.serve_fast(&r, &check, &mut handler)
            };
            r = match next {
                Fast::Answer(info, mrs) => self.reply_recv_raw(true, info, mrs),
                Fast::Stop => return,
                Fast::Slow => {
                    let mut checked =
                        |b: Word, m: P::Request, caps: &mut ReceivedCaps| match check(b) {
                            Ok(()) => handler(b, m, caps),
                            Err(e) => Control::Error(e),
                        };
                    match self.serve_slow(r, &mut checked) {
                        Some((info, mrs)) => self.reply_recv_raw(true, info, mrs),
                        None if is_wake_up(r.info) => self.recv_raw(true),
                        None => return,
                    }
                }
            };
        }
    }

    /// [`Server::serve`]'s fast path for what a receive returned: a request
    /// in registers whose badge passes `check` is handled, its answer
    /// staged straight into registers (`Answer`), or answered here and
    /// serving ends (`Stop`, after `ReplyAndStop`); anything else is for
    /// `serve_slow` (`Slow`).
    #[inline(always)]
    fn serve_fast<C, F>(&self, r: &sel4_sys::Received, check: &C, handler: &mut F) -> Fast
    where
        C: Fn(Word) -> Result<(), ErrorReply>,
        F: FnMut(Word, P::Request, &mut ReceivedCaps) -> Control<P::Response>,
    {
        let Some(m) =
            decode_in_registers::<P::Request>(r.info, &r.mrs).filter(|_| check(r.badge).is_ok())
        else {
            return Fast::Slow;
        };
        // No capabilities came with this request.
        let mut caps = ReceivedCaps::NONE;
        let (info, mrs) = match handler(r.badge, m, &mut caps) {
            // The request's words stay in the registers the response does
            // not use (see `stage_message_over`).
            Control::Reply(resp) => stage_message_over(&resp, &[], r.mrs)
                .unwrap_or_else(|_| stage_error(ErrorReply::Refused(0))),
            Control::Refuse(code) => stage_error(ErrorReply::Refused(code)),
            Control::Error(e) => stage_error(e),
            Control::ReplyAndStop(resp) => {
                self.reply(Ok(&resp));
                return Fast::Stop;
            }
        };
        Fast::Answer(info, mrs)
    }

    /// What `serve` does with a receive that is not a request in registers
    /// ([`decode_in_registers`]), classified as [`Server::recv`] does: a
    /// signal of the bound notification (`None`; the caller receives
    /// again), a request with capabilities or longer than the registers
    /// (its capabilities gathered, the handler run, a transferred capability
    /// it did not take deleted; the answer), or one that does not decode
    /// (a transferred capability is deleted and the slot stays armed; the
    /// error reply). `None` also after a `ReplyAndStop`, which is answered
    /// here: the caller tells the two apart with [`is_wake_up`].
    #[cold]
    #[inline(never)]
    fn serve_slow(
        &self,
        r: sel4_sys::Received,
        handler: &mut Handler<'_, P>,
    ) -> Option<(MessageInfo, [Word; REGISTER_MRS])> {
        if is_wake_up(r.info) {
            // A bound notification's signal (see `incoming`).
            return None;
        }
        let with_caps = r.info.get_extra_caps() != 0;
        let m = match with_received(r.info, &r.mrs, decode_request::<P::Request>) {
            Ok(m) => m,
            Err(e) => {
                if with_caps {
                    // Not kept: a transferred capability is deleted here,
                    // the rest is only reported.
                    let _ = self.received_caps(r.info, false);
                }
                return Some(stage_error(e));
            }
        };
        let mut caps = if with_caps {
            self.received_caps(r.info, true)
        } else {
            ReceivedCaps::NONE
        };
        let control = handler(r.badge, m, &mut caps);
        if with_caps {
            self.after_handler(&mut caps);
        }
        match control {
            Control::Reply(resp) => Some(stage_reply(Ok(&resp))),
            Control::Refuse(code) => Some(stage_error(ErrorReply::Refused(code))),
            Control::Error(e) => Some(stage_error(e)),
            Control::ReplyAndStop(resp) => {
                self.reply(Ok(&resp));
                None
            }
        }
    }

    /// After a [`Server::serve`] handler: a transferred capability it did
    /// not take is deleted and its slot receives the next one; `caps` is
    /// emptied for the next request.
    #[cold]
    #[inline(never)]
    fn after_handler(&self, caps: &mut ReceivedCaps) {
        if let Some(slot) = caps.take_transferred() {
            self.discard(slot);
        }
        *caps = ReceivedCaps::NONE;
    }
}

/// What [`Server::serve`]'s fast path made of a receive.
enum Fast {
    /// The answer, staged into registers.
    Answer(MessageInfo, [Word; REGISTER_MRS]),
    /// Answered; serving ends.
    Stop,
    /// Not a request in registers that passes the check: for the slow path.
    Slow,
}

/// A [`Server::serve`] handler behind a reference (its slow path).
type Handler<'a, P> = dyn FnMut(Word, <P as Protocol>::Request, &mut ReceivedCaps) -> Control<<P as Protocol>::Response>
    + 'a;

/// What a [`Server::serve`] handler answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control<R> {
    /// Reply and keep serving.
    Reply(R),
    /// Answer with [`ErrorReply::Refused`] and keep serving.
    Refuse(Word),
    /// Answer with this error reply and keep serving.
    Error(ErrorReply),
    /// Reply, then return from `serve`.
    ReplyAndStop(R),
}

/// Binds `ntfn` to `tcb`: a thread of `tcb` waiting on an endpoint also
/// wakes when `ntfn` is signalled ([`Incoming::Signal`]).
pub fn bind_notification(tcb: Cap<TCB>, ntfn: Cap<Notification>) -> Result<(), InvocationError> {
    tcb.tcb_bind_notification(ntfn.cptr())
}

/// Undoes [`bind_notification`].
pub fn unbind_notification(tcb: Cap<TCB>) -> Result<(), InvocationError> {
    tcb.tcb_unbind_notification()
}
