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
//! spill into the IPC buffer. One capability can travel with a request.

use core::cell::Cell;
use core::marker::PhantomData;
use core::sync::atomic::{AtomicU64, Ordering};
use sel4_sys::{CPtr, InvocationError, MessageInfo, Word, REGISTER_MRS};

pub use sel4_ipc::{
    decode_reply, message, protocol, DecodeError, EncodeError, ErrorReply, Message, Protocol,
    Reply, ReplyError, ERROR_LABEL, MAX_MESSAGE_WORDS,
};

use crate::cnode;
use crate::{Cap, CapType, Endpoint, Notification, TCB};

/// Label a server passes in when it waits with [`Server::recv`]; the kernel
/// leaves the message info untouched when a bound notification wakes the
/// thread, so this label tells a signal from a request.
const SIGNAL_SENTINEL: u64 = ERROR_LABEL - 1;

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
pub enum IpcError {
    /// The request does not encode.
    Encode(EncodeError),
    /// The server answered with an error reply.
    Remote(ErrorReply),
    /// The reply does not decode as the protocol's response.
    BadReply(ReplyError),
}

/// A message as words: label, length, words.
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
            label: m.label(),
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
    fn stage(&self, caps: &[CPtr]) -> (MessageInfo, [Word; REGISTER_MRS]) {
        let mut mrs = [0; REGISTER_MRS];
        let n = core::cmp::min(self.len, REGISTER_MRS);
        mrs[..n].copy_from_slice(&self.words[..n]);
        if self.len > REGISTER_MRS || !caps.is_empty() {
            sel4_sys::with_ipc_buffer(|b| {
                b.msg[REGISTER_MRS..self.len.max(REGISTER_MRS)]
                    .copy_from_slice(&self.words[REGISTER_MRS..self.len.max(REGISTER_MRS)]);
                b.caps_or_badges[..caps.len()].copy_from_slice(caps);
            });
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
            sel4_sys::with_ipc_buffer(|b| {
                words[REGISTER_MRS..len].copy_from_slice(&b.msg[REGISTER_MRS..len])
            });
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
    if M::MAX_WORDS <= REGISTER_MRS {
        let mut mrs = [0; REGISTER_MRS];
        let len = m.encode(&mut mrs)?;
        if !caps.is_empty() {
            sel4_sys::with_ipc_buffer(|b| b.caps_or_badges[..caps.len()].copy_from_slice(caps));
        }
        let info = MessageInfo::new(m.label(), 0, caps.len() as u64, len as u64);
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

/// Runs `f` on the label and words of a received message: straight from
/// the registers when it fits them, else gathered with the IPC buffer.
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

    /// Sends raw words (for tests of a server's error handling).
    pub fn call_raw(&self, label: u64, words: &[Word]) -> Result<P::Response, IpcError> {
        let mut w = [0; MAX_MESSAGE_WORDS];
        let len = core::cmp::min(words.len(), MAX_MESSAGE_WORDS);
        w[..len].copy_from_slice(&words[..len]);
        self.call_words(
            Words {
                label,
                len,
                words: w,
            },
            &[],
        )
    }

    #[inline(always)]
    fn call_inner(&self, req: &P::Request, caps: &[CPtr]) -> Result<P::Response, IpcError> {
        let (info, mrs) = stage_message(req, caps).map_err(IpcError::Encode)?;
        self.call_staged(info, mrs)
    }

    fn call_words(&self, w: Words, caps: &[CPtr]) -> Result<P::Response, IpcError> {
        let (info, mrs) = w.stage(caps);
        self.call_staged(info, mrs)
    }

    #[inline(always)]
    fn call_staged(
        &self,
        info: MessageInfo,
        mrs: [Word; REGISTER_MRS],
    ) -> Result<P::Response, IpcError> {
        let r = sel4_sys::call_regs(self.ep.cptr(), info, mrs);
        // `decode_reply` on the received words: a response that fits the
        // registers and decodes is taken in line (`decode` is pure, and
        // decoding before the label test lets the compiler drop that test
        // for a label the response type knows); everything else (error
        // replies, bad responses, longer messages) out of line.
        let len = r.info.get_length() as usize;
        let label = r.info.get_label();
        if len <= REGISTER_MRS {
            if let Ok(v) = P::Response::decode(label, &r.mrs[..len]) {
                if label != ERROR_LABEL {
                    return Ok(v);
                }
            }
        }
        reply_slow::<P::Response>(r)
    }
}

/// What a client makes of a reply that is an error reply or longer than
/// the registers.
#[cold]
#[inline(never)]
fn reply_slow<M: Message>(r: sel4_sys::Received) -> Result<M, IpcError> {
    match with_received(r.info, &r.mrs, decode_reply::<M>) {
        Ok(Reply::Ok(v)) => Ok(v),
        Ok(Reply::Err(e)) => Err(IpcError::Remote(e)),
        Err(e) => Err(IpcError::BadReply(e)),
    }
}

/// A capability that came with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceivedCap {
    /// Stored in the server's receive slot (now occupied: set a new one
    /// with [`Server::set_receive_slot`] before the next transfer).
    Transferred(CPtr),
    /// A badged capability to the server's own endpoint: only its badge
    /// arrives.
    Unwrapped { badge: Word },
}

/// What a server received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming<M> {
    /// A request from the client with this badge, or the error reply it
    /// gets because its message did not decode.
    Request {
        badge: Word,
        message: Result<M, ErrorReply>,
        cap: Option<ReceivedCap>,
    },
    /// The bound notification was signalled with these bits.
    Signal { bits: Word },
}

/// The server side of a protocol.
pub struct Server<P: Protocol> {
    ep: Cap<Endpoint>,
    receive_slot: Cell<Option<CPtr>>,
    /// [`RECEIVE_WRITES`] after this server last wrote the receive fields
    /// for its current `receive_slot`, else [`NOT_WRITTEN`].
    written: Cell<u64>,
    signal_badges: Cell<Word>,
    _p: PhantomData<P>,
}

impl<P: Protocol> Server<P> {
    /// Badge bits that signals of a bound notification carry (and client
    /// badges do not). The kernel leaves the message info untouched when a
    /// bound notification wakes a thread in ReplyRecv, so after a reply a
    /// signal is recognised by these bits; after a plain [`Server::recv`]
    /// it is recognised without them.
    pub fn set_signal_badges(&self, mask: Word) {
        self.signal_badges.set(mask);
    }

    /// A server receiving on `ep`.
    pub fn new(ep: Cap<Endpoint>) -> Server<P> {
        Server {
            ep,
            receive_slot: Cell::new(None),
            written: Cell::new(NOT_WRITTEN),
            signal_badges: Cell::new(0),
            _p: PhantomData,
        }
    }

    /// Accepts one capability per request into `slot` of the root CNode.
    pub fn set_receive_slot(&self, slot: Option<CPtr>) {
        self.receive_slot.set(slot);
        self.written.set(NOT_WRITTEN);
    }

    /// [`Server::prepare_receive`] unless the receive fields still hold
    /// what this server last wrote for its current slot: no server wrote
    /// them since and the slot did not change. Only for [`Server::serve`],
    /// where the handler is the only other code this thread runs between
    /// receives (see its documentation).
    #[inline(always)]
    fn prepare_receive_cached(&self) {
        if RECEIVE_WRITES.load(Ordering::Relaxed) != self.written.get() {
            self.prepare_receive();
        }
    }

    /// Writes the receive fields of the IPC buffer for the current receive
    /// slot (all zero without one, so no capability is accepted).
    #[inline(always)]
    fn prepare_receive(&self) {
        let slot = self.receive_slot.get();
        sel4_sys::with_ipc_buffer(|b| match slot {
            Some(s) => {
                b.receive_cnode = cnode::root().cptr();
                b.receive_index = s;
                b.receive_depth = Word::from(cnode::depth());
            }
            None => {
                b.receive_cnode = 0;
                b.receive_index = 0;
                b.receive_depth = 0;
            }
        });
        // Same thread: this count is above every count another server of
        // this thread recorded before, and below every later one.
        self.written.set(
            RECEIVE_WRITES
                .fetch_add(1, Ordering::Relaxed)
                .wrapping_add(1),
        );
    }

    #[inline(always)]
    fn incoming(
        &self,
        sent: MessageInfo,
        after_reply: bool,
        r: sel4_sys::Received,
    ) -> Incoming<P::Request> {
        let signalled = r.info == sent && (!after_reply || r.badge & self.signal_badges.get() != 0);
        if signalled {
            return Incoming::Signal { bits: r.badge };
        }
        let extra = r.info.get_extra_caps();
        let cap = if extra == 0 {
            None
        } else if r.info.get_caps_unwrapped() & 1 != 0 {
            Some(ReceivedCap::Unwrapped {
                badge: sel4_sys::with_ipc_buffer(|b| b.caps_or_badges[0]),
            })
        } else {
            let slot = self.receive_slot.take();
            self.written.set(NOT_WRITTEN);
            slot.map(ReceivedCap::Transferred)
        };
        let message = with_received(r.info, &r.mrs, |label, words| {
            // Reserved labels are refused whatever `decode` says; decoding
            // first (it is pure) lets the compiler drop the label test on
            // the path of a label the request type knows.
            let reserved = label == ERROR_LABEL || label == SIGNAL_SENTINEL;
            match P::Request::decode(label, words) {
                Ok(m) if !reserved => Ok(m),
                Ok(_) => Err(ErrorReply::UnknownLabel(label)),
                Err(_) if reserved => Err(ErrorReply::UnknownLabel(label)),
                Err(e) => Err(ErrorReply::from(e)),
            }
        });
        Incoming::Request {
            badge: r.badge,
            message,
            cap,
        }
    }

    /// Waits for the next request (or signal of a bound notification).
    #[inline]
    pub fn recv(&self) -> Incoming<P::Request> {
        let (sent, r) = self.recv_raw(false);
        self.incoming(sent, false, r)
    }

    /// The receive of [`Server::recv`]: the message info passed in (to
    /// tell a signal from a request) and what the kernel returned.
    #[inline(always)]
    fn recv_raw(&self, cached: bool) -> (MessageInfo, sel4_sys::Received) {
        if cached {
            self.prepare_receive_cached();
        } else {
            self.prepare_receive();
        }
        let sent = MessageInfo::new(SIGNAL_SENTINEL, 0, 0, 0);
        (sent, sel4_sys::recv_with_info(self.ep.cptr(), sent))
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
        self.incoming(info, true, r)
    }

    /// The syscall of [`Server::reply_recv`].
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
        sel4_sys::reply_recv_regs(self.ep.cptr(), info, mrs)
    }

    /// Answers the current request without waiting for another.
    pub fn reply(&self, reply: Result<&P::Response, ErrorReply>) {
        let (info, mrs) = stage_reply(reply);
        sel4_sys::reply_regs(info, mrs);
    }

    /// Serves requests until `handler` says stop. Requests that do not
    /// decode get their error reply here; `handler` sees only good ones.
    /// Signals of a bound notification are not passed to `handler`: the
    /// loop goes back to waiting (use [`Server::recv`] and
    /// [`Server::reply_recv`] to handle them).
    ///
    /// The receive fields of the IPC buffer are written only when this
    /// server's receive slot changed or another [`Server`] wrote them since
    /// (not on every receive). That assumes `handler` does not write them
    /// itself behind the servers' back (through `sel4_sys::with_ipc_buffer`
    /// or a raw receive); it sets slots with [`Server::set_receive_slot`].
    pub fn serve<F>(&self, mut handler: F)
    where
        F: FnMut(Word, P::Request, Option<ReceivedCap>) -> Control<P::Response>,
    {
        // What the kernel returned and the message info this server passed
        // in, carried round the loop as plain words; each turn classifies
        // them (exactly as `recv`/`reply_recv` do), and the answer is
        // staged straight into registers.
        let (mut sent, mut r) = self.recv_raw(true);
        let mut after_reply = false;
        loop {
            let (info, mrs) = match self.incoming(sent, after_reply, r) {
                Incoming::Signal { .. } => {
                    (sent, r) = self.recv_raw(true);
                    after_reply = false;
                    continue;
                }
                Incoming::Request {
                    message: Err(e), ..
                } => stage_error(e),
                Incoming::Request {
                    badge,
                    message: Ok(m),
                    cap,
                } => match handler(badge, m, cap) {
                    Control::Reply(r) => stage_reply(Ok(&r)),
                    Control::Refuse(code) => stage_error(ErrorReply::Refused(code)),
                    Control::ReplyAndStop(r) => {
                        self.reply(Ok(&r));
                        return;
                    }
                },
            };
            r = self.reply_recv_raw(true, info, mrs);
            sent = info;
            after_reply = true;
        }
    }
}

/// What a [`Server::serve`] handler answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control<R> {
    /// Reply and keep serving.
    Reply(R),
    /// Answer with [`ErrorReply::Refused`] and keep serving.
    Refuse(Word),
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
