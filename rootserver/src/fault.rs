//! Fault endpoints: what a thread's faults and exit look like to whoever
//! receives on its event endpoint, as typed values.

use sel4_runtime::thread as rt;
use sel4_sys::{Fault, Word, REGISTER_MRS};

use crate::objects::Objects;
use crate::{Cap, Endpoint, Error, Owned};

/// What arrived on a thread's event (fault) endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The kernel reported a fault of the thread with this badge.
    Fault { badge: Word, fault: Fault },
    /// The runtime reported the end of the thread (an exit word of
    /// `sel4_runtime::thread`).
    Exit { badge: Word, status: Word },
    /// Something else was sent to the endpoint.
    Other { badge: Word, label: Word },
}

/// Most message words a fault message has.
const FAULT_WORDS: usize = 32;

/// Receives one event on `ep` (blocking).
///
/// MCS kernels: with `Wait` (no reply object), so a faulted thread whose
/// fault arrives here becomes inactive instead of waiting for a reply, and
/// the receiving thread's reply object stays free for its servers. (A
/// faulted thread is restarted by writing its registers and resuming it
/// on every kernel.)
pub fn receive_event(ep: Cap<Endpoint>) -> Event {
    sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
        decode_event(sel4_sys::mcs::wait_regs(ep.cptr()))
    } else {
        decode_event(sel4_sys::recv_regs(ep.cptr()))
    } }
}

/// Takes one event from `ep` if a sender is waiting (non-blocking).
pub fn poll_event(ep: Cap<Endpoint>) -> Option<Event> {
    let r = sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
        sel4_sys::mcs::nb_wait_regs(ep.cptr())
    } else {
        sel4_sys::nb_recv_regs(ep.cptr())
    } };
    if r.info.get_label() == 0 && r.badge == 0 && r.info.get_length() == 0 {
        // Nothing was waiting (a null fault is never sent).
        return None;
    }
    Some(decode_event(r))
}

/// Turns a received message into an [`Event`]: words beyond the registers
/// come from the IPC buffer.
pub(crate) fn decode_event(r: sel4_sys::Received) -> Event {
    let label = r.info.get_label();
    let len = core::cmp::min(r.info.get_length() as usize, FAULT_WORDS);
    let mut words = [0 as Word; FAULT_WORDS];
    let in_regs = core::cmp::min(len, REGISTER_MRS);
    words[..in_regs].copy_from_slice(&r.mrs[..in_regs]);
    if len > REGISTER_MRS {
        sel4_sys::ipc_buffer().read_msgs(REGISTER_MRS, &mut words[REGISTER_MRS..len]);
    }
    if label == rt::EXIT_LABEL {
        return Event::Exit {
            badge: r.badge,
            status: words[0],
        };
    }
    match Fault::decode(label, &words[..len]) {
        Fault::Unknown { label } => Event::Other {
            badge: r.badge,
            label,
        },
        Fault::NullFault => Event::Other {
            badge: r.badge,
            label: 0,
        },
        fault => Event::Fault {
            badge: r.badge,
            fault,
        },
    }
}

/// One endpoint that receives the faults of many threads, each identified
/// by the badge it was given ([`crate::thread::ThreadBuilder::fault_handler`]).
/// Faulted threads stay blocked until killed or restarted.
pub struct FaultHandler {
    ep: Owned<Endpoint>,
}

impl FaultHandler {
    /// A handler with a new endpoint.
    pub fn new(objs: &mut Objects) -> Result<FaultHandler, Error> {
        Ok(FaultHandler { ep: objs.create()? })
    }

    /// The (unbadged) endpoint.
    pub fn endpoint(&self) -> Cap<Endpoint> {
        self.ep.cap()
    }

    /// The endpoint's owned handle (to mint badged copies from).
    pub(crate) fn endpoint_owned(&self) -> &Owned<Endpoint> {
        &self.ep
    }

    /// Waits for the next fault: (badge of the faulting thread, fault).
    /// Messages that are not faults are skipped.
    pub fn next_fault(&self) -> (Word, Fault) {
        loop {
            if let Event::Fault { badge, fault } = receive_event(self.ep.cap()) {
                return (badge, fault);
            }
        }
    }

    /// Deletes the endpoint.
    pub fn destroy(self, objs: &mut Objects) -> Result<(), Error> {
        Ok(objs.delete(self.ep)?)
    }
}
