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

    fn received(info: MessageInfo, mrs: &[Word; REGISTER_MRS]) -> Words {
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
fn stage_reply<M: Message>(reply: Result<&M, ErrorReply>) -> (MessageInfo, [Word; REGISTER_MRS]) {
    match reply {
        Ok(m) => stage_message(m, &[]).unwrap_or_else(|_| stage_error(ErrorReply::Refused(0))),
        Err(e) => stage_error(e),
    }
}

/// Runs `f` on the label and words of a received message: straight from
/// the registers when it fits them, else gathered with the IPC buffer.
fn with_received<R>(
    info: MessageInfo,
    mrs: &[Word; REGISTER_MRS],
    f: impl FnOnce(u64, &[Word]) -> R,
) -> R {
    let len = info.get_length() as usize;
    if len <= REGISTER_MRS {
        f(info.get_label(), &mrs[..len])
    } else {
        let w = Words::received(info, mrs);
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

    fn call_inner(&self, req: &P::Request, caps: &[CPtr]) -> Result<P::Response, IpcError> {
        let (info, mrs) = stage_message(req, caps).map_err(IpcError::Encode)?;
        self.call_staged(info, mrs)
    }

    fn call_words(&self, w: Words, caps: &[CPtr]) -> Result<P::Response, IpcError> {
        let (info, mrs) = w.stage(caps);
        self.call_staged(info, mrs)
    }

    fn call_staged(
        &self,
        info: MessageInfo,
        mrs: [Word; REGISTER_MRS],
    ) -> Result<P::Response, IpcError> {
        let r = sel4_sys::call_regs(self.ep.cptr(), info, mrs);
        match with_received(r.info, &r.mrs, decode_reply::<P::Response>) {
            Ok(Reply::Ok(v)) => Ok(v),
            Ok(Reply::Err(e)) => Err(IpcError::Remote(e)),
            Err(e) => Err(IpcError::BadReply(e)),
        }
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
            signal_badges: Cell::new(0),
            _p: PhantomData,
        }
    }

    /// Accepts one capability per request into `slot` of the root CNode.
    pub fn set_receive_slot(&self, slot: Option<CPtr>) {
        self.receive_slot.set(slot);
    }

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
    }

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
            slot.map(ReceivedCap::Transferred)
        };
        let message = with_received(r.info, &r.mrs, |label, words| {
            if label == ERROR_LABEL || label == SIGNAL_SENTINEL {
                Err(ErrorReply::UnknownLabel(label))
            } else {
                P::Request::decode(label, words).map_err(ErrorReply::from)
            }
        });
        Incoming::Request {
            badge: r.badge,
            message,
            cap,
        }
    }

    /// Waits for the next request (or signal of a bound notification).
    pub fn recv(&self) -> Incoming<P::Request> {
        self.prepare_receive();
        let sent = MessageInfo::new(SIGNAL_SENTINEL, 0, 0, 0);
        let r = sel4_sys::recv_with_info(self.ep.cptr(), sent);
        self.incoming(sent, false, r)
    }

    /// Answers the current request, then waits for the next one.
    pub fn reply_recv(&self, reply: Result<&P::Response, ErrorReply>) -> Incoming<P::Request> {
        let (info, mrs) = stage_reply(reply);
        self.prepare_receive();
        let r = sel4_sys::reply_recv_regs(self.ep.cptr(), info, mrs);
        self.incoming(info, true, r)
    }

    /// Answers the current request without waiting for another.
    pub fn reply(&self, reply: Result<&P::Response, ErrorReply>) {
        let (info, mrs) = stage_reply(reply);
        sel4_sys::reply_regs(info, mrs);
    }

    /// Serves requests until `handler` says stop. Requests that do not
    /// decode get their error reply here; `handler` sees only good ones
    /// and signals.
    pub fn serve<F>(&self, mut handler: F)
    where
        F: FnMut(Word, P::Request, Option<ReceivedCap>) -> Control<P::Response>,
    {
        let mut next = self.recv();
        loop {
            let answer = match next {
                Incoming::Signal { .. } => {
                    next = self.recv();
                    continue;
                }
                Incoming::Request {
                    message: Err(e), ..
                } => Err(e),
                Incoming::Request {
                    badge,
                    message: Ok(m),
                    cap,
                } => match handler(badge, m, cap) {
                    Control::Reply(r) => Ok(r),
                    Control::Refuse(code) => Err(ErrorReply::Refused(code)),
                    Control::ReplyAndStop(r) => {
                        self.reply(Ok(&r));
                        return;
                    }
                },
            };
            next = match &answer {
                Ok(r) => self.reply_recv(Ok(r)),
                Err(e) => self.reply_recv(Err(*e)),
            };
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
