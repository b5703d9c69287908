//! badge-server: one server thread serves several client threads, each
//! calling through its own badged copy of the server's endpoint.
//!
//! The server keeps one counter per badge and answers every request with
//! the caller's badge and counter, so each client sees only its own count
//! whatever the interleaving. Only the unbadged (controller) capability may
//! stop the server. Requests that do not decode, or that lack the
//! capability they need, get an error reply and the server goes on.
//! Clients hand the server a notification capability (transferred into a
//! slot the server owns; the server signals it) and a badged copy of the
//! server's own endpoint (which the kernel unwraps into its badge).
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use sel4_rootserver::ipc::{self, wire_label, Client, ErrorReply, Incoming, IpcError, Server};
use sel4_rootserver::objects::Objects;
use sel4_rootserver::sys::{CPtr, Word};
use sel4_rootserver::thread::{spawn, JoinHandle};
use sel4_rootserver::{cnode, entry, println, BootInfo, Cap, Endpoint, Notification, Owned, Slot};

ipc::message! {
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub enum Request {
        /// Adds to the caller's counter.
        Add { amount: u32 } = 1,
        /// The caller's counter.
        Get = 2,
        /// Carries a notification capability the server keeps and signals.
        Register = 3,
        /// Carries a badged capability to the server's own endpoint; the
        /// server answers with the badge the kernel unwrapped.
        Introduce = 4,
        /// Stops the server (controller only); answers the sum of all
        /// counters.
        Stop = 5,
    }
}

ipc::message! {
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub struct Count { pub badge: u64, pub count: u64 } = 1;
}

ipc::protocol!(pub Counter: Request => Count);

/// Refusal code: only the unbadged controller capability may stop.
pub const CONTROLLER_ONLY: Word = 1;

entry!(main);

/// A failed check, with what was seen.
#[derive(Debug)]
pub struct Error(pub String);

macro_rules! ensure {
    ($c:expr, $($arg:tt)*) => { if !$c { return Err(Error(format!($($arg)*))); } };
}

fn err<E: core::fmt::Debug>(what: &str) -> impl Fn(E) -> Error + '_ {
    move |e| Error(format!("{what}: {e:?}"))
}

fn run(name: &str, r: Result<(), Error>, failed: &mut u32) {
    match r {
        Ok(()) => println!("check {name}: ok"),
        Err(Error(e)) => {
            *failed += 1;
            println!("check {name}: FAILED: {e}")
        }
    }
}

fn main(bootinfo: &BootInfo) -> Result<(), Error> {
    let mut objs = Objects::from_bootinfo(bootinfo);
    let mut failed = 0;
    run(
        "badges_identify_clients",
        check_badges_identify_clients(&mut objs),
        &mut failed,
    );
    run(
        "malformed_request",
        check_malformed_request(&mut objs),
        &mut failed,
    );
    run(
        "stop_needs_controller",
        check_stop_needs_controller(&mut objs),
        &mut failed,
    );
    run("cap_transfer", check_cap_transfer(&mut objs), &mut failed);
    if failed == 0 {
        println!("badge-server: PASS");
        Ok(())
    } else {
        Err(Error(format!("{failed} checks failed")))
    }
}

/// What the server saw, returned when it stops.
#[derive(Debug, Default)]
pub struct Summary {
    /// Counter per client badge.
    pub counts: BTreeMap<Word, u64>,
    /// Requests answered with an error reply.
    pub errors: u64,
    /// Notification capabilities received: (client badge, slot).
    pub held: Vec<(Word, CPtr)>,
    /// Badges unwrapped from endpoint capabilities: (client badge, badge).
    pub unwrapped: Vec<(Word, Word)>,
}

/// The server loop: `slots` are empty slots of the root CNode for the
/// capabilities clients send.
fn serve(ep: Cap<Endpoint>, slots: Vec<CPtr>) -> Summary {
    let server: Server<Counter> = Server::new(ep);
    let mut slots = slots.into_iter();
    server.set_receive_slot(slots.next());
    let mut s = Summary::default();
    let mut next = server.recv();
    loop {
        let (badge, message, caps) = match next {
            Incoming::Request {
                badge,
                message,
                caps,
            } => (badge, message, caps),
            Incoming::Signal { .. } => {
                next = server.recv();
                continue;
            }
        };
        let mut kept = false;
        let answer = match message {
            Err(e) => Err(e),
            Ok(Request::Add { amount }) => {
                let c = s.counts.entry(badge).or_insert(0);
                *c += u64::from(amount);
                Ok(Count { badge, count: *c })
            }
            Ok(Request::Get) => Ok(Count {
                badge,
                count: s.counts.get(&badge).copied().unwrap_or(0),
            }),
            Ok(Request::Register) => match caps.transferred() {
                Some(slot) => {
                    Cap::<Notification>::from_cptr(slot).signal();
                    s.held.push((badge, slot));
                    kept = true;
                    Ok(Count {
                        badge,
                        count: s.held.len() as u64,
                    })
                }
                _ => Err(ErrorReply::BadCapabilities {
                    expected: 1,
                    got: 0,
                }),
            },
            Ok(Request::Introduce) => match caps.badges().next() {
                Some(b) => {
                    s.unwrapped.push((badge, b));
                    Ok(Count { badge, count: b })
                }
                _ => Err(ErrorReply::BadCapabilities {
                    expected: 1,
                    got: 0,
                }),
            },
            Ok(Request::Stop) if badge != 0 => Err(ErrorReply::Refused(CONTROLLER_ONLY)),
            Ok(Request::Stop) => {
                server.reply(Ok(&Count {
                    badge,
                    count: s.counts.values().sum(),
                }));
                return s;
            }
        };
        // A capability that came with a request that does not keep it is
        // deleted, and its slot receives the next one. (The server already
        // deleted one that came with a request that does not decode.)
        if let Some(slot) = caps.transferred() {
            if kept {
                server.set_receive_slot(slots.next());
            } else {
                let _ = cnode::root().cnode_delete(slot, cnode::depth());
                server.set_receive_slot(Some(slot));
            }
        }
        if answer.is_err() {
            s.errors += 1;
        }
        next = match &answer {
            Ok(r) => server.reply_recv(Ok(r)),
            Err(e) => server.reply_recv(Err(*e)),
        };
    }
}

/// A running server and the capabilities made for it.
struct Running {
    ep: Owned<Endpoint>,
    slots: Vec<Slot>,
    handle: JoinHandle<Summary>,
}

fn start_server(objs: &mut Objects, receive_slots: usize) -> Result<Running, Error> {
    let ep: Owned<Endpoint> = objs.create().map_err(err("endpoint"))?;
    let mut slots = Vec::new();
    for _ in 0..receive_slots {
        slots.push(objs.alloc_slot().map_err(err("receive slot"))?);
    }
    let s2: Vec<CPtr> = slots.iter().map(Slot::cptr).collect();
    let ep_name = ep.cap();
    let handle = spawn(objs, move || serve(ep_name, s2)).map_err(err("spawn server"))?;
    Ok(Running { ep, slots, handle })
}

impl Running {
    /// Stops the server through the controller capability; `inspect` sees
    /// its summary while the capabilities it received still exist; then
    /// frees them. Returns the summary and the total its stop reply gave.
    fn stop_with(
        self,
        objs: &mut Objects,
        inspect: impl FnOnce(&Summary) -> Result<(), Error>,
    ) -> Result<(Summary, u64), Error> {
        let controller: Client<Counter> = Client::new(self.ep.cap());
        let total = controller.call(&Request::Stop).map_err(err("stop"))?;
        let summary = self.handle.join(objs).map_err(err("join server"))?;
        let inspected = inspect(&summary);
        // Freeing a slot deletes the capability the server kept there.
        for slot in self.slots {
            let held = summary.held.iter().any(|(_, s)| *s == slot.cptr());
            objs.free_slot(slot).map_err(err(if held {
                "delete held cap"
            } else {
                "free slot"
            }))?;
        }
        objs.delete(self.ep).map_err(err("delete endpoint"))?;
        inspected?;
        Ok((summary, total.count))
    }

    fn stop(self, objs: &mut Objects) -> Result<(Summary, u64), Error> {
        self.stop_with(objs, |_| Ok(()))
    }
}

/// Badged copies of `ep` with badges `1..=n`.
fn mint_clients(
    objs: &mut Objects,
    ep: &Owned<Endpoint>,
    n: u64,
) -> Result<Vec<Owned<Endpoint>>, Error> {
    (1..=n)
        .map(|b| objs.mint(ep, b).map_err(err("mint")))
        .collect()
}

fn delete_all<T: sel4_rootserver::CapType>(
    objs: &mut Objects,
    caps: Vec<Owned<T>>,
) -> Result<(), Error> {
    for c in caps {
        objs.delete(c).map_err(err("delete"))?;
    }
    Ok(())
}

const CLIENTS: u64 = 4;
const ROUNDS: u64 = 25;

/// Four clients add concurrently; each reply carries the caller's own
/// badge and counter, and the server's totals match per badge.
pub fn check_badges_identify_clients(objs: &mut Objects) -> Result<(), Error> {
    let server = start_server(objs, 0)?;
    let caps = mint_clients(objs, &server.ep, CLIENTS)?;
    let mut clients = Vec::new();
    for (i, cap) in caps.iter().enumerate() {
        let badge = i as u64 + 1;
        let cap = cap.cap();
        let h = spawn(objs, move || -> Result<u64, String> {
            let c: Client<Counter> = Client::new(cap);
            let mut expect = 0;
            for _ in 0..ROUNDS {
                expect += badge;
                let r = c
                    .call(&Request::Add {
                        amount: badge as u32,
                    })
                    .map_err(|e| format!("add: {e:?}"))?;
                if r != (Count {
                    badge,
                    count: expect,
                }) {
                    return Err(format!("badge {badge}: got {r:?}, expected count {expect}"));
                }
            }
            let r = c.call(&Request::Get).map_err(|e| format!("get: {e:?}"))?;
            Ok(r.count)
        })
        .map_err(err("spawn client"))?;
        clients.push(h);
    }
    for (i, h) in clients.into_iter().enumerate() {
        let badge = i as u64 + 1;
        let got = h.join(objs).map_err(err("join client"))?.map_err(Error)?;
        ensure!(got == badge * ROUNDS, "client {badge}: final count {got}");
    }
    // The controller (badge 0) has a counter of its own, untouched.
    let controller: Client<Counter> = Client::new(server.ep.cap());
    let r = controller
        .call(&Request::Get)
        .map_err(err("controller get"))?;
    ensure!(r == Count { badge: 0, count: 0 }, "controller get -> {r:?}");
    let (summary, total) = server.stop(objs)?;
    delete_all(objs, caps)?;
    for b in 1..=CLIENTS {
        let c = summary.counts.get(&b).copied();
        ensure!(c == Some(b * ROUNDS), "server count of badge {b}: {c:?}");
    }
    let want: u64 = (1..=CLIENTS).map(|b| b * ROUNDS).sum();
    ensure!(total == want, "stop reported total {total}, want {want}");
    ensure!(summary.errors == 0, "{} error replies", summary.errors);
    Ok(())
}

/// One client sends malformed requests and gets error replies; it and the
/// other clients keep being served.
pub fn check_malformed_request(objs: &mut Objects) -> Result<(), Error> {
    let server = start_server(objs, 0)?;
    let caps = mint_clients(objs, &server.ep, 2)?;
    let (good, bad) = (caps[0].cap(), caps[1].cap());
    let good_thread = spawn(objs, move || -> Result<u64, String> {
        let c: Client<Counter> = Client::new(good);
        let mut last = 0;
        for _ in 0..10 {
            last = c
                .call(&Request::Add { amount: 3 })
                .map_err(|e| format!("good add: {e:?}"))?
                .count;
        }
        Ok(last)
    })
    .map_err(err("spawn good"))?;
    let bad_thread = spawn(
        objs,
        move || -> Result<[Result<Count, IpcError>; 5], String> {
            let c: Client<Counter> = Client::new(bad);
            Ok([
                // A label the protocol does not have.
                c.call_raw(wire_label(77), &[1, 2]),
                // Add with no operand.
                c.call_raw(wire_label(1), &[]),
                // Add with an operand that does not fit its u32 field.
                c.call_raw(wire_label(1), &[1 << 40]),
                // Register without the capability it needs.
                c.call(&Request::Register),
                // And then a good request.
                c.call(&Request::Add { amount: 5 }),
            ])
        },
    )
    .map_err(err("spawn bad"))?;
    let good_count = good_thread
        .join(objs)
        .map_err(err("join good"))?
        .map_err(Error)?;
    let r = bad_thread
        .join(objs)
        .map_err(err("join bad"))?
        .map_err(Error)?;
    let (summary, _) = server.stop(objs)?;
    delete_all(objs, caps)?;
    ensure!(
        r[0] == Err(IpcError::Remote(ErrorReply::UnknownLabel(77))),
        "unknown label -> {:?}",
        r[0]
    );
    ensure!(
        r[1] == Err(IpcError::Remote(ErrorReply::WrongLength {
            label: 1,
            expected: 1,
            got: 0
        })),
        "short Add -> {:?}",
        r[1]
    );
    ensure!(
        r[2] == Err(IpcError::Remote(ErrorReply::InvalidValue {
            label: 1,
            index: 0,
            word: 1 << 40
        })),
        "oversized operand -> {:?}",
        r[2]
    );
    ensure!(
        r[3] == Err(IpcError::Remote(ErrorReply::BadCapabilities {
            expected: 1,
            got: 0
        })),
        "Register without a cap -> {:?}",
        r[3]
    );
    ensure!(
        r[4] == Ok(Count { badge: 2, count: 5 }),
        "good request after malformed ones -> {:?}",
        r[4]
    );
    ensure!(good_count == 30, "well-behaved client's count {good_count}");
    ensure!(
        summary.errors == 4,
        "{} error replies, want 4",
        summary.errors
    );
    Ok(())
}

/// A badged client cannot stop the server: refused, and the server serves
/// on.
pub fn check_stop_needs_controller(objs: &mut Objects) -> Result<(), Error> {
    let server = start_server(objs, 0)?;
    let caps = mint_clients(objs, &server.ep, 1)?;
    let c: Client<Counter> = Client::new(caps[0].cap());
    let r = c.call(&Request::Stop);
    ensure!(
        r == Err(IpcError::Remote(ErrorReply::Refused(CONTROLLER_ONLY))),
        "badged Stop -> {r:?}"
    );
    let r = c.call(&Request::Add { amount: 9 }).map_err(err("add"))?;
    ensure!(
        r == Count { badge: 1, count: 9 },
        "add after refusal -> {r:?}"
    );
    let (summary, total) = server.stop(objs)?;
    delete_all(objs, caps)?;
    ensure!(
        total == 9 && summary.errors == 1,
        "total {total}, errors {}",
        summary.errors
    );
    Ok(())
}

/// Each client sends the server a badged notification capability; the
/// server keeps it in its own slot and signals it, and the client's wait
/// sees its badge bit. A badged copy of the server's own endpoint arrives
/// as its badge (the kernel unwraps it).
pub fn check_cap_transfer(objs: &mut Objects) -> Result<(), Error> {
    let server = start_server(objs, CLIENTS as usize)?;
    let caps = mint_clients(objs, &server.ep, CLIENTS)?;
    let mut ntfns = Vec::new();
    let mut minted = Vec::new();
    let mut clients = Vec::new();
    for (i, cap) in caps.iter().enumerate() {
        let badge = i as u64 + 1;
        let n: Owned<Notification> = objs.create().map_err(err("notification"))?;
        let nb = objs
            .mint(&n, 1 << badge)
            .map_err(err("mint notification"))?;
        // A capability to the server's endpoint with badge 0x100 + badge.
        let intro = objs
            .mint(&server.ep, 0x100 + badge)
            .map_err(err("mint intro"))?;
        let (cap, n_name, nb_name, intro_name) = (cap.cap(), n.cap(), nb.cap(), intro.cap());
        ntfns.push(n);
        minted.push(nb);
        let (n, nb, intro_cap) = (n_name, nb_name, intro_name);
        let h = spawn(objs, move || -> Result<(Word, Count), String> {
            let c: Client<Counter> = Client::new(cap);
            c.call_with_cap(&Request::Register, nb)
                .map_err(|e| format!("register: {e:?}"))?;
            let bits = n.wait();
            let r = c
                .call_with_cap(&Request::Introduce, intro_cap)
                .map_err(|e| format!("introduce: {e:?}"))?;
            Ok((bits, r))
        })
        .map_err(err("spawn client"))?;
        clients.push((h, intro));
    }
    let mut intros = Vec::new();
    for (i, (h, intro)) in clients.into_iter().enumerate() {
        let badge = i as u64 + 1;
        let (bits, r) = h.join(objs).map_err(err("join client"))?.map_err(Error)?;
        ensure!(
            bits == 1 << badge,
            "client {badge}: woke with bits {bits:#x}"
        );
        ensure!(
            r == Count {
                badge,
                count: 0x100 + badge
            },
            "client {badge}: introduce -> {r:?}"
        );
        intros.push(intro);
    }
    // The copies the server holds work: each signals the notification of
    // the client that sent it.
    let (summary, _) = server.stop_with(objs, |summary| {
        for (badge, slot) in &summary.held {
            let n = ntfns
                .get((*badge as usize).wrapping_sub(1))
                .ok_or_else(|| Error(format!("held cap from unknown badge {badge}")))?;
            ensure!(n.poll() == 0, "notification of {badge} already signalled");
            Cap::<Notification>::from_cptr(*slot).signal();
            let bits = n.poll();
            ensure!(bits == 1 << badge, "held cap of {badge} signals {bits:#x}");
        }
        Ok(())
    })?;
    delete_all(objs, intros)?;
    delete_all(objs, minted)?;
    delete_all(objs, ntfns)?;
    delete_all(objs, caps)?;
    ensure!(
        summary.held.len() == CLIENTS as usize,
        "server holds {} caps",
        summary.held.len()
    );
    let mut seen: Vec<Word> = summary.unwrapped.iter().map(|(b, u)| u - b).collect();
    seen.sort_unstable();
    ensure!(
        seen == alloc::vec![0x100; CLIENTS as usize],
        "unwrapped badges {:?}",
        summary.unwrapped
    );
    Ok(())
}
