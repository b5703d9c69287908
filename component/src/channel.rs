//! Typed channels between components: the runtime's typed IPC (same wire
//! format, same fast path) with the supervisor's generations.

use sel4_component_env::{badge, ClientInfo, Protocol};
use sel4_runtime::ipc::{self, Control, ErrorReply, Incoming, IpcError, ReceivedCaps};
use sel4_sys::{cap_type, Cap, CapType, Word};

/// Why a call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallError {
    /// The server was restarted while this call was in flight or queued
    /// for its dead instance; the new instance (this generation) did not
    /// carry it out. The next call goes to the new instance.
    Restarted {
        /// The new instance's generation.
        generation: u64,
    },
    /// The server was stopped: no call on this channel is answered any
    /// more (until it is started again).
    Stopped,
    /// Any other failure of the call (`sel4_runtime::ipc::IpcError`).
    Ipc(IpcError),
}

impl core::fmt::Display for CallError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CallError::Restarted { generation } => {
                write!(f, "the server restarted (generation {generation})")
            }
            CallError::Stopped => write!(f, "the server was stopped"),
            CallError::Ipc(e) => write!(f, "{e:?}"),
        }
    }
}

impl From<IpcError> for CallError {
    #[cold]
    fn from(e: IpcError) -> CallError {
        match e {
            IpcError::Remote(ErrorReply::ServerRestarted { generation }) => {
                CallError::Restarted { generation }
            }
            IpcError::Remote(ErrorReply::ServerStopped) => CallError::Stopped,
            // The supervisor takes a stopped server's clients' capabilities
            // away: the kernel answers an empty slot.
            IpcError::Kernel(sel4_sys::InvocationError::InvalidCapability { .. }) => {
                CallError::Stopped
            }
            e => CallError::Ipc(e),
        }
    }
}

/// The client end of a channel of protocol `P`.
pub struct Client<P: Protocol> {
    inner: ipc::Client<P>,
    server: &'static str,
}

impl<P: Protocol> Client<P> {
    pub(crate) fn new(ep: Cap<cap_type::Endpoint>, server: &'static str) -> Client<P> {
        Client {
            inner: ipc::Client::new(ep),
            server,
        }
    }

    /// Sends `req` and waits for the response.
    #[inline]
    pub fn call(&self, req: &P::Request) -> Result<P::Response, CallError> {
        self.inner.call(req).map_err(CallError::from)
    }

    /// Sends `req` with a capability of this component.
    pub fn call_with_cap<T: CapType>(
        &self,
        req: &P::Request,
        cap: Cap<T>,
    ) -> Result<P::Response, CallError> {
        self.inner.call_with_cap(req, cap).map_err(CallError::from)
    }

    /// The server's component name.
    pub fn server(&self) -> &'static str {
        self.server
    }

    /// The runtime's typed client underneath (same capability).
    pub fn raw(&self) -> &ipc::Client<P> {
        &self.inner
    }
}

/// The server end of a channel of protocol `P`.
pub struct Server<P: Protocol> {
    inner: ipc::Server<P>,
    ep: Cap<cap_type::Endpoint>,
    clients: &'static [ClientInfo],
    generation: u64,
}

impl<P: Protocol> Server<P> {
    pub(crate) fn new(ep: Cap<cap_type::Endpoint>, clients: &'static [ClientInfo]) -> Server<P> {
        Server {
            inner: ipc::Server::new(ep),
            ep,
            clients,
            generation: crate::generation(),
        }
    }

    /// The endpoint (for a server that answers with raw syscalls; the
    /// badges it sees carry the generation bits).
    pub fn endpoint(&self) -> Cap<cap_type::Endpoint> {
        self.ep
    }

    /// The clients of the channel and their badges.
    pub fn clients(&self) -> &'static [ClientInfo] {
        self.clients
    }

    /// The client with this (plan) badge.
    pub fn client(&self, badge: Word) -> Option<&'static ClientInfo> {
        self.clients.iter().find(|c| c.badge == badge)
    }

    /// Serves requests until `handler` says stop. `handler` gets the
    /// client's badge of the plan ([`Server::client`] names it), the
    /// request and the capabilities that came with it. A request made to a
    /// previous instance of this component (queued while it was dead) is
    /// answered with `ErrorReply::ServerRestarted` and never reaches
    /// `handler`.
    #[inline]
    pub fn serve<F>(&self, mut handler: F)
    where
        F: FnMut(Word, P::Request, &mut ReceivedCaps) -> Control<P::Response>,
    {
        let generation = self.generation;
        // A stale request is rare: answered out of line.
        self.inner.serve_checked(
            |b| {
                if badge::is_generation(b, generation) {
                    Ok(())
                } else {
                    Err(stale_reply(generation))
                }
            },
            |b, req, caps| handler(badge::client(b), req, caps),
        )
    }

    /// Waits for the next request of this instance's clients (older ones
    /// are answered as in [`Server::serve`]); the badge in it is the
    /// plan's.
    pub fn recv(&self) -> Incoming<P::Request> {
        self.checked(self.inner.recv())
    }

    /// Answers the current request, then waits for the next one.
    pub fn reply_recv(&self, reply: Result<&P::Response, ErrorReply>) -> Incoming<P::Request> {
        self.checked(self.inner.reply_recv(reply))
    }

    /// Answers the current request.
    pub fn reply(&self, reply: Result<&P::Response, ErrorReply>) {
        self.inner.reply(reply)
    }

    fn checked(&self, mut m: Incoming<P::Request>) -> Incoming<P::Request> {
        loop {
            match m {
                Incoming::Request {
                    badge: b,
                    message,
                    caps,
                } => {
                    if badge::is_generation(b, self.generation) {
                        return Incoming::Request {
                            badge: badge::client(b),
                            message,
                            caps,
                        };
                    }
                    m = self.inner.reply_recv(Err(ErrorReply::ServerRestarted {
                        generation: self.generation,
                    }));
                }
                s => return s,
            }
        }
    }

    /// The runtime's typed server underneath (same capability; the badges
    /// it reports carry the generation bits).
    pub fn raw(&self) -> &ipc::Server<P> {
        &self.inner
    }
}

#[cold]
fn stale_reply(generation: u64) -> ErrorReply {
    ErrorReply::ServerRestarted { generation }
}
