//! Robustness tests: IPC (see main.rs).
//!
//! `request_storm`: client threads send a typed server (`Server::serve`)
//! random requests through raw syscalls: any wire label (the protocol's,
//! unknown message labels, the kernel's range, the error label, random
//! words with bits beyond the kernel's label field), any length field
//! (0-127: the kernel cuts lengths over 120 words), random words, 0-3
//! capabilities (badged copies of the server's own endpoint, which the
//! kernel unwraps; notifications and another endpoint, transferred; an
//! empty slot, where the kernel stops), and stray bits in the other message
//! info fields. Every request must get the server's answer (a response or
//! an error reply, never a kernel answer, never a hang). Afterwards
//! capability transfer still works, the server never panicked, the
//! capabilities it kept are exactly those it reported, and every slot it
//! received into is empty again once those are deleted.

use alloc::format;
use alloc::vec::Vec;
use sel4_rootserver::ipc::{
    self, wire_label, Client, Control, ErrorReply, SendCap, Server, ERROR_LABEL, KERNEL_LABELS,
    MAX_CAPS,
};
use sel4_rootserver::println;
use sel4_rootserver::sys::{self, CPtr, MessageInfo, Word, REGISTER_MRS};
use sel4_rootserver::thread::{spawn, JoinHandle};
use sel4_rootserver::{Cap, Endpoint, Notification};
use sel4_sys::ObjectType;
use sel4_test_harness::kernel::{self, ROOT_CNODE};
use sel4_test_harness::{ensure, ensure_eq, fail, sel4_test, Ctx, Failure, TestResult};

ipc::message! {
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub enum StormRequest {
        Empty = 0,
        One { v: u64 } = 1,
        Four { v: [u64; 4] } = 2,
        Five { v: [u64; 5] } = 3,
        Long { v: [u64; 100] } = 4,
        Flag { on: bool } = 5,
        /// Keep the transferred capability (the server moves on to a fresh
        /// receive slot while it has one).
        Keep = 6,
        /// Signal the transferred capability, a notification (only the
        /// checker's badge may ask: the server cannot tell a capability's
        /// type).
        Signal = 7,
        /// Stop (only the unbadged controller).
        Stop = 8,
    }
}

ipc::message! {
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub struct StormAnswer { pub caps: u64, pub transferred: u64 } = 1;
}

ipc::protocol!(pub Storm: StormRequest => StormAnswer);

/// Message words of each request label (the storm sends these lengths
/// half of the time, so that many requests decode).
const LENGTHS: [usize; 9] = [0, 1, 4, 5, 100, 1, 0, 0, 0];

/// Badge of the client that may ask for `Signal`.
const CHECKER: Word = 0x100;
/// Refusal codes.
const NOT_ALLOWED: Word = 1;

const STORM_THREADS: usize = 3;
const REQUESTS_PER_THREAD: usize = 4000;
/// Receive slots the server may move on to when it keeps a capability.
const KEEP_SLOTS: usize = 24;

/// xorshift64*: a small deterministic generator (the seed is printed).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What the server saw, returned when it stops.
#[derive(Debug, Default)]
struct ServerSummary {
    /// Requests the handler saw (that decoded).
    handled: u64,
    unwrapped: u64,
    transferred: u64,
    /// Transferred capabilities it kept (slots).
    kept: Vec<CPtr>,
    /// The receive slot it used last.
    last_slot: Option<CPtr>,
}

fn serve_storm(ep: Cap<Endpoint>, first: CPtr, mut spare: Vec<CPtr>) -> ServerSummary {
    let server: Server<Storm> = Server::new(ep);
    server.set_receive_slot(Some(first));
    let mut s = ServerSummary::default();
    server.serve(|badge, req, caps| {
        s.handled += 1;
        s.unwrapped += caps.badges().count() as u64;
        let transferred = caps.transferred().is_some();
        if transferred {
            s.transferred += 1;
        }
        let answer = StormAnswer {
            caps: caps.len() as u64,
            transferred: u64::from(transferred),
        };
        match req {
            StormRequest::Keep => {
                if !spare.is_empty() {
                    if let Some(slot) = caps.take_transferred() {
                        s.kept.push(slot);
                        server.set_receive_slot(spare.pop());
                    }
                }
                Control::Reply(answer)
            }
            StormRequest::Signal if badge != CHECKER => Control::Refuse(NOT_ALLOWED),
            StormRequest::Signal => {
                if let Some(slot) = caps.transferred() {
                    Cap::<Notification>::from_cptr(slot).signal();
                }
                Control::Reply(answer)
            }
            StormRequest::Stop if badge != 0 => Control::Refuse(NOT_ALLOWED),
            StormRequest::Stop => Control::ReplyAndStop(answer),
            _ => Control::Reply(answer),
        }
    });
    s.last_slot = server.receive_slot();
    s
}

/// What one storm thread saw.
#[derive(Debug, Default, Clone, Copy)]
struct ClientCounts {
    requests: u64,
    responses: u64,
    unknown_label: u64,
    reserved_label: u64,
    wrong_length: u64,
    invalid_value: u64,
    refused: u64,
    caps_sent: u64,
    long: u64,
    stray: u64,
}

impl ClientCounts {
    fn add(&mut self, o: &ClientCounts) {
        self.requests += o.requests;
        self.responses += o.responses;
        self.unknown_label += o.unknown_label;
        self.reserved_label += o.reserved_label;
        self.wrong_length += o.wrong_length;
        self.invalid_value += o.invalid_value;
        self.refused += o.refused;
        self.caps_sent += o.caps_sent;
        self.long += o.long;
        self.stray += o.stray;
    }
}

/// One storm thread: `n` random requests through `ep` (a badged copy of
/// the server's endpoint), capabilities from `pool`.
fn storm(
    ep: CPtr,
    pool: Vec<CPtr>,
    seed: u64,
    n: usize,
) -> Result<ClientCounts, alloc::string::String> {
    let mut rng = Rng(seed);
    let mut c = ClientCounts::default();
    let b = sys::ipc_buffer();
    let mut words = [0 as Word; 127];
    for i in 0..n {
        let label = match rng.below(10) {
            0..=3 => wire_label(rng.below(LENGTHS.len() as u64)),
            4 => wire_label(rng.below(2000)),
            5 => rng.below(KERNEL_LABELS),
            6 => ERROR_LABEL,
            _ => rng.next(),
        };
        let len = match (
            ipc::WireLabel::of(label & MessageInfo::LABEL_MASK),
            rng.below(2),
        ) {
            (ipc::WireLabel::Message(l), 0) if (l as usize) < LENGTHS.len() => LENGTHS[l as usize],
            _ => rng.below(128) as usize,
        };
        if len > 120 {
            c.long += 1;
        }
        for w in words.iter_mut().take(len) {
            *w = match rng.below(4) {
                0 => 0,
                1 => 1,
                _ => rng.next(),
            };
        }
        let ncaps = rng.below(MAX_CAPS as u64 + 1);
        let mut caps = [0; MAX_CAPS];
        for cap in caps.iter_mut() {
            *cap = pool[rng.below(pool.len() as u64) as usize];
        }
        c.caps_sent += ncaps;
        // Stray bits: capsUnwrapped (the kernel rewrites it) and, in a
        // third of the requests, bits above the label field.
        let mut info = ((label & MessageInfo::LABEL_MASK) << MessageInfo::LABEL_SHIFT)
            | (rng.below(8) << MessageInfo::CAPS_UNWRAPPED_SHIFT)
            | (ncaps << MessageInfo::EXTRA_CAPS_SHIFT)
            | len as u64;
        // (Where the kernel's label field is wider than the framework's
        // 20 bits, as on seL4 12+, a random label has such bits itself.)
        let top = MessageInfo::LABEL_SHIFT + MessageInfo::LABEL_BITS;
        let mut stray = (label & MessageInfo::LABEL_MASK) >> ipc::LABEL_BITS != 0;
        if top < 64 && rng.below(3) == 0 {
            info |= rng.next() << top;
            stray = true;
        }
        c.stray += u64::from(stray);
        b.set_caps(&caps);
        let stored = core::cmp::min(len, 120);
        if stored > REGISTER_MRS {
            b.write_msgs(REGISTER_MRS, &words[REGISTER_MRS..stored]);
        }
        let mut mrs = [0; REGISTER_MRS];
        mrs.copy_from_slice(&words[..REGISTER_MRS]);
        let r = sys::call_regs(ep, MessageInfo(info), mrs);
        c.requests += 1;
        let rlen = r.info.get_length() as usize;
        let rlabel = r.info.get_label();
        if r.info.get_extra_caps() != 0 {
            return Err(format!(
                "request {i}: the answer carried capabilities ({:?})",
                r.info
            ));
        }
        if rlabel == wire_label(1) && rlen == 2 {
            c.responses += 1;
        } else if rlabel == ERROR_LABEL && rlen == ErrorReply::WORDS {
            match ErrorReply::decode(&r.mrs) {
                Some(ErrorReply::UnknownLabel(_)) => c.unknown_label += 1,
                Some(ErrorReply::ReservedLabel(_)) => c.reserved_label += 1,
                Some(ErrorReply::WrongLength { .. }) => c.wrong_length += 1,
                Some(ErrorReply::InvalidValue { .. }) => c.invalid_value += 1,
                Some(ErrorReply::Refused(_)) => c.refused += 1,
                other => {
                    return Err(format!(
                        "request {i} (info {info:#x}): error reply {other:?}"
                    ));
                }
            }
        } else {
            return Err(format!(
                "request {i} (info {info:#x}): answer label {rlabel:#x}, {rlen} words: not the server's"
            ));
        }
    }
    Ok(c)
}

/// Whether `slot` is empty, on any kernel (copying into an occupied slot
/// fails with DeleteFirst).
fn slot_is_empty(slot: CPtr) -> Result<bool, Failure> {
    match kernel::cnode_copy(slot, ROOT_CNODE, kernel::rights::ALL) {
        Ok(_) => {
            kernel::cnode_delete(slot)?;
            Ok(true)
        }
        Err(e) if e.error == Some(sys::Error::DeleteFirst) => Ok(false),
        Err(e) => Err(Failure::fail(format!("probing slot {slot:#x}: {e}"))),
    }
}

fn badged(ctx: &mut Ctx, cap: CPtr, badge: Word) -> Result<CPtr, Failure> {
    let s = ctx.slot()?;
    kernel::cnode_mint(s, cap, kernel::rights::ALL, badge)?;
    Ok(s)
}

fn fw<E: core::fmt::Display>(what: &'static str) -> impl Fn(E) -> Failure {
    move |e| Failure::fail(format!("{what}: {e}"))
}

fn dbg<E: core::fmt::Debug>(what: &'static str) -> impl Fn(E) -> Failure {
    move |e| Failure::fail(format!("{what}: {e:?}"))
}

/// Issue 7: a storm of at least 10^4 random requests against a typed
/// server; cap transfer still works after it, no slot is lost, the server
/// never panics. Prints the figures.
#[sel4_test(timeout_ms = 240_000)]
fn request_storm(ctx: &mut Ctx) -> TestResult {
    let ep = ctx.create(ObjectType::EndpointObject, 0)?;
    let other_ep = ctx.create(ObjectType::EndpointObject, 0)?;
    let ntfn = ctx.create(ObjectType::NotificationObject, 0)?;
    let first_slot = ctx.slot()?;
    let mut spare = Vec::new();
    for _ in 0..KEEP_SLOTS {
        spare.push(ctx.slot()?);
    }
    let all_slots: Vec<CPtr> = core::iter::once(first_slot)
        .chain(spare.iter().copied())
        .collect();
    // What storm requests carry: capabilities to the server's endpoint
    // (unwrapped), to a notification and another endpoint (transferred),
    // an empty slot (the kernel stops there).
    let empty = ctx.slot()?;
    let pool = alloc::vec![
        ep,
        badged(ctx, ep, 0x41)?,
        badged(ctx, ep, 0x42)?,
        badged(ctx, ntfn, 0x1)?,
        badged(ctx, ntfn, 0x2)?,
        badged(ctx, other_ep, 0x5)?,
        empty,
    ];
    let mut objs = ctx.objects(96)?;
    let epc: Cap<Endpoint> = Cap::from_cptr(ep);
    let server = spawn(&mut objs, move || serve_storm(epc, first_slot, spare))
        .map_err(fw("spawn server"))?;

    let seed: u64 = 0x5e14_0057_0041;
    println!("ipc storm: seed {seed:#x}, {STORM_THREADS} clients x {REQUESTS_PER_THREAD} requests");
    let start = sys::arch::rdtsc();
    let mut clients: Vec<JoinHandle<Result<ClientCounts, alloc::string::String>>> = Vec::new();
    for t in 0..STORM_THREADS {
        let cep = badged(ctx, ep, 1 + t as Word)?;
        let pool = pool.clone();
        let s = seed ^ ((t as u64 + 1) << 32);
        clients.push(
            spawn(&mut objs, move || storm(cep, pool, s, REQUESTS_PER_THREAD))
                .map_err(fw("spawn client"))?,
        );
    }
    let mut total = ClientCounts::default();
    let mut failures = Vec::new();
    for h in clients {
        match h.join(&mut objs) {
            Ok(Ok(c)) => total.add(&c),
            Ok(Err(e)) => failures.push(e),
            Err(e) => failures.push(format!("storm thread: {e}")),
        }
    }
    let cycles = sys::arch::rdtsc().wrapping_sub(start);
    if let Some(f) = failures.first() {
        fail!("{} storm threads failed; first: {f}", failures.len());
    }

    // Afterwards: transfer still works (the checker's request carries an
    // unwrapped and a transferred capability, the server signals the
    // transferred one), and keeping one still works.
    let check_ntfn = ctx.create(ObjectType::NotificationObject, 0)?;
    let check_sig = badged(ctx, check_ntfn, 0x80)?;
    let checker: Client<Storm> = Client::new(Cap::from_cptr(badged(ctx, ep, CHECKER)?));
    let u: SendCap = Cap::<Endpoint>::from_cptr(pool[1]).into();
    let t: SendCap = Cap::<Notification>::from_cptr(check_sig).into();
    for round in 0..3 {
        let a = checker
            .call_with_caps(&StormRequest::Signal, &[u, t])
            .map_err(dbg("checker signal"))?;
        ensure_eq!(
            a,
            StormAnswer {
                caps: 2,
                transferred: 1
            },
            "after the storm, round {round}"
        );
        ensure_eq!(
            sys::poll(check_ntfn),
            0x80,
            "signal through the transferred capability"
        );
    }
    let a = checker
        .call_with_caps(&StormRequest::Keep, &[t])
        .map_err(dbg("checker keep"))?;
    ensure_eq!(a.transferred, 1, "keep after the storm");
    let controller: Client<Storm> = Client::new(epc);
    controller.call(&StormRequest::Stop).map_err(dbg("stop"))?;
    let summary = server
        .join(&mut objs)
        .map_err(fw("join server (did it panic?)"))?;

    // Slots: each one the server received into is empty, or holds a
    // capability it reported keeping; deleting those empties them all.
    for &slot in &all_slots {
        let kept = summary.kept.contains(&slot);
        let empty = slot_is_empty(slot)?;
        ensure!(
            kept != empty,
            "receive slot {slot:#x}: kept {kept}, empty {empty} (last receive slot {:?})",
            summary.last_slot
        );
    }
    for &slot in &summary.kept {
        kernel::cnode_delete(slot)?;
    }
    for &slot in &all_slots {
        ensure!(
            slot_is_empty(slot)?,
            "slot {slot:#x} not empty after deleting the kept capabilities"
        );
    }
    // The capabilities the clients sent are still theirs.
    sys::signal(pool[3]);
    ensure_eq!(
        sys::poll(ntfn),
        0x1,
        "a sender's notification capability after the storm"
    );

    ensure!(total.requests >= 10_000, "only {} requests", total.requests);
    let per = cycles / total.requests.max(1);
    println!(
        "ipc storm: {} requests ({} with over 120 words, {} with stray label/padding bits, {} capabilities sent) in {} Mcycles ({} cycles/request)",
        total.requests,
        total.long,
        total.stray,
        total.caps_sent,
        cycles / 1_000_000,
        per
    );
    println!(
        "ipc storm: answers: {} responses; error replies: {} unknown label, {} reserved label, {} wrong length, {} invalid value, {} refused",
        total.responses,
        total.unknown_label,
        total.reserved_label,
        total.wrong_length,
        total.invalid_value,
        total.refused
    );
    println!(
        "ipc storm: server: {} requests handled, {} badges unwrapped, {} capabilities transferred to the handler, {} kept; transfer works after the storm, all {} receive slots accounted for",
        summary.handled,
        summary.unwrapped,
        summary.transferred,
        summary.kept.len(),
        all_slots.len()
    );
    let answered = total.responses
        + total.unknown_label
        + total.reserved_label
        + total.wrong_length
        + total.invalid_value
        + total.refused;
    ensure_eq!(
        answered,
        total.requests,
        "every request answered by the server"
    );
    ensure!(
        total.responses > 0
            && total.reserved_label > 0
            && total.unknown_label > 0
            && total.wrong_length > 0,
        "the storm did not reach every kind of answer: {total:?}"
    );
    ensure!(
        summary.transferred > 0 && summary.unwrapped > 0,
        "no capability reached the handler: {summary:?}"
    );
    Ok(())
}
