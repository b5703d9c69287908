//! IPC on MCS kernels, as seL4test's ipc.c checks it (IPC0011-IPC0027):
//! scheduling-context donation along a chain of passive servers (slow and
//! fast path, client above, level with and below the servers), a reply
//! that gives the context back, sends to and receives from threads without
//! a scheduling context, deleting scheduling contexts and reply objects in
//! the middle of a call, a fault handler that runs on the faulting
//! thread's time, a stack-spawning server, NBSendRecv between two threads,
//! and donation to a server below its client. IPC0026 (the same as IPC0025
//! between address spaces) waits for helper processes.

use sel4_test_harness::{sel4_test, Ctx, TestResult};

use crate::mcs_util::mcs_only;

#[sel4_test(sel4test = "IPC0011")]
fn chain_of_passive_servers_slowpath_same_priority(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::chain(ctx, false, 0))
}

#[sel4_test(sel4test = "IPC0012")]
fn chain_of_passive_servers_slowpath_client_above(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::chain(ctx, false, 1))
}

#[sel4_test(sel4test = "IPC0013")]
fn chain_of_passive_servers_slowpath_client_below(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::chain(ctx, false, -1))
}

#[sel4_test(sel4test = "IPC0014")]
fn chain_of_passive_servers_fastpath_client_above(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::chain(ctx, true, 1))
}

#[sel4_test(sel4test = "IPC0015")]
fn chain_of_passive_servers_fastpath_same_priority(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::chain(ctx, true, 0))
}

#[sel4_test(sel4test = "IPC0016")]
fn reply_gives_the_scheduling_context_back(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::transfer_on_reply(ctx))
}

#[sel4_test(sel4test = "IPC0017")]
fn sends_to_a_server_without_scheduling_context(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::send_to_no_sc(ctx))
}

#[sel4_test(sel4test = "IPC0018")]
fn receive_from_a_client_without_scheduling_context(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::receive_no_sc(ctx))
}

#[sel4_test(sel4test = "IPC0019")]
fn deleting_the_scheduling_context_of_a_sender(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::delete_sc_of_sender(ctx))
}

#[sel4_test(sel4test = "IPC0020")]
fn deleting_the_scheduling_context_of_a_receiver(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::delete_sc_of_receiver(ctx))
}

#[sel4_test(sel4test = "IPC0021")]
fn fault_handler_runs_on_the_faulting_threads_time(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::fault_handler_donated_sc(ctx))
}

#[sel4_test(sel4test = "IPC0022", timeout_ms = 20_000)]
fn stack_spawning_server(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::stack_spawning_server(ctx))
}

#[sel4_test(sel4test = "IPC0023")]
fn deleting_the_scheduling_context_a_reply_object_tracks(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::delete_reply_cap_sc(ctx))
}

#[sel4_test(sel4test = "IPC0024")]
fn deleting_the_reply_object_then_the_scheduling_context(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::delete_reply_cap_then_sc(ctx))
}

#[sel4_test(sel4test = "IPC0025", timeout_ms = 30_000)]
fn nb_send_recv_between_two_threads(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::nbsendrecv_pair(ctx))
}

#[sel4_test(sel4test = "IPC0027")]
fn donation_to_a_server_below_its_client(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::donation_low_prio_server(ctx))
}

sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
    mod imp {
        use alloc::format;
        use alloc::string::String;
        use alloc::vec::Vec;
        use sel4_sys::mcs::{nb_send_recv_regs, nb_send_wait_regs, reply_recv_regs_with, thread_reply, wait_regs};
        use sel4_sys::{MessageInfo, Word, MSG_MAX_LENGTH};
        use sel4_test_harness::{ensure_eq, Ctx, Failure, TestResult};

        use crate::mcs_util::*;
        use crate::util::endpoint;

        const MAGIC: Word = 12_345_678;
        const DEAD: Word = 0xdead_beef;

        /// IPC0011-0015: a client calls through five passive proxies to a
        /// passive server, `RUNS` times, all on the client's time.
        /// `fastpath`: one-word messages (the kernel's fast path) instead of
        /// eight. `diff`: the priority step from client to server and from
        /// one proxy to the next.
        pub fn chain(ctx: &mut Ctx, fastpath: bool, diff: i32) -> TestResult {
            const PROXIES: i32 = 5;
            let mut objs = setup(ctx, 7)?;
            let client_prio = 10;
            let server_prio = client_prio + diff * PROXIES;
            let len = if fastpath { 1 } else { 8 };
            let client_state = Counter::new(0);
            let server_state = Counter::new(0);
            let client = {
                let first = endpoint(ctx)?;
                let st = client_state.clone();
                let c = Helper::new(&mut objs, client_prio as u8, move || -> Result<(), String> {
                    for _ in 0..RUNS {
                        let r = call(first, MessageInfo::new(0, 0, 0, len), MAGIC);
                        if r.mrs[0] != DEAD {
                            return Err(format!("client: reply word {:#x}", r.mrs[0]));
                        }
                        st.inc();
                    }
                    Ok(())
                })?;
                (c, first)
            };
            let (client, first) = client;
            let mut receive = first;
            let mut proxies = Vec::new();
            for i in 0..PROXIES {
                let prio = (server_prio + diff * i) as u8;
                let call_ep = endpoint(ctx)?;
                let st = Counter::new(0);
                let s = st.clone();
                let rx = receive;
                let p = Helper::new(&mut objs, prio, move || -> Result<(), String> {
                    let reply = thread_reply();
                    s.inc();
                    // Tell the initialiser (waiting on call_ep) and receive.
                    let mut r = nb_send_recv_regs(call_ep, empty(), [0; 4], rx, reply);
                    for _ in 0..RUNS {
                        if r.mrs[0] != MAGIC {
                            return Err(format!("proxy: request word {:#x}", r.mrs[0]));
                        }
                        let len = r.info.get_length();
                        let back = call(call_ep, MessageInfo::new(0, 0, 0, len), MAGIC);
                        if back.mrs[0] != DEAD {
                            return Err(format!("proxy: reply word {:#x}", back.mrs[0]));
                        }
                        s.inc();
                        r = reply_recv_regs_with(rx, back.info, [DEAD, 0, 0, 0], reply);
                    }
                    Ok(())
                })?;
                p.start();
                // It initialises on its own time, then loses it.
                wait_regs(call_ep);
                ensure_eq!(st.get(), 1, "proxy {i} initialised");
                p.unbind_sc()?;
                proxies.push((p, st));
                receive = call_ep;
            }
            let s = server_state.clone();
            let rx = receive;
            let server = Helper::new(&mut objs, server_prio as u8, move || -> Result<(), String> {
                let reply = thread_reply();
                s.inc();
                let mut r = nb_send_recv_regs(rx, empty(), [0; 4], rx, reply);
                for _ in 0..RUNS {
                    if r.mrs[0] != MAGIC {
                        return Err(format!("server: request word {:#x}", r.mrs[0]));
                    }
                    s.inc();
                    let len = r.info.get_length();
                    r = reply_recv_regs_with(rx, MessageInfo::new(0, 0, 0, len), [DEAD, 0, 0, 0], reply);
                }
                Ok(())
            })?;
            server.start();
            wait_regs(rx);
            ensure_eq!(server_state.get(), 1, "the server initialised");
            server.unbind_sc()?;
            client.start();
            helper_ok(client.join(&mut objs)?)?;
            ensure_eq!(server_state.get(), RUNS + 1, "server");
            ensure_eq!(client_state.get(), RUNS, "client");
            for (i, (p, st)) in proxies.into_iter().enumerate() {
                ensure_eq!(st.get(), RUNS + 1, "proxy {i}");
                p.kill(&mut objs);
            }
            server.kill(&mut objs);
            Ok(())
        }

        /// IPC0016: a passive server that answers with a plain send on its
        /// reply object (instead of ReplyRecv) cannot keep the caller's
        /// scheduling context: it goes back to the caller with the reply.
        pub fn transfer_on_reply(ctx: &mut Ctx) -> TestResult {
            let mut objs = setup(ctx, 2)?;
            let ep = endpoint(ctx)?;
            let state = Counter::new(1);
            let s = state.clone();
            let client = Helper::new(&mut objs, 10, move || {
                s.inc();
                call(ep, empty(), 0);
                s.inc();
            })?;
            let ran_on = Counter::new(0);
            let r2 = ran_on.clone();
            let server = Helper::new(&mut objs, 11, move || {
                let reply = thread_reply();
                nb_send_recv_regs(ep, empty(), [0; 4], ep, reply);
                sel4_sys::send_regs(reply, empty(), [0; 4]);
                // Only with a scheduling context of its own again.
                r2.set(1);
                wait_regs(ep);
            })?;
            server.start();
            wait_regs(ep);
            server.unbind_sc()?;
            client.start();
            client.join(&mut objs)?;
            ensure_eq!(state.get(), 3, "the client got its reply and ran on");
            ensure_eq!(ran_on.get(), 0, "the server kept no time after its reply");
            server.kill(&mut objs);
            Ok(())
        }

        /// IPC0017: sends block while their receiver has no scheduling
        /// context (a non-blocking send to it is dropped), and go through
        /// once it has one again.
        pub fn send_to_no_sc(ctx: &mut Ctx) -> TestResult {
            let mut objs = setup(ctx, 3)?;
            let ep = endpoint(ctx)?;
            const MESSAGES: u64 = 4;
            let server = Helper::new(&mut objs, 10, move || {
                sel4_sys::send_regs(ep, empty(), [0; 4]);
                for _ in 0..MESSAGES {
                    wait_regs(ep);
                }
            })?;
            server.start();
            wait_regs(ep);
            server.unbind_sc()?;
            // Dropped: the server is not (yet) waiting and cannot run.
            sel4_sys::nb_send_regs(ep, MessageInfo::new(0, 0, 0, 1), [MAGIC, 0, 0, 0]);
            let (s1, s2) = (Counter::new(0), Counter::new(0));
            let sender = |s: Counter| {
                move || {
                    s.set(1);
                    sel4_sys::send_regs(ep, empty(), [0; 4]);
                    s.set(2);
                }
            };
            let c1 = Helper::new(&mut objs, 9, sender(s1.clone()))?;
            let c2 = Helper::new(&mut objs, 9, sender(s2.clone()))?;
            c1.start();
            c2.start();
            set_own_priority(ctx, 8)?;
            ensure_eq!((s1.get(), s2.get()), (1, 1), "both clients block");
            server.bind_sc()?;
            ensure_eq!((s1.get(), s2.get()), (2, 2), "both sends went through");
            sel4_sys::nb_send_regs(ep, MessageInfo::new(0, 0, 0, 1), [MAGIC, 0, 0, 0]);
            sel4_sys::send_regs(ep, empty(), [0; 4]);
            server.join(&mut objs)?;
            c1.join(&mut objs)?;
            c2.join(&mut objs)?;
            Ok(())
        }

        /// IPC0018: a message from a client without a scheduling context
        /// is received, but the client does not run on until it has one.
        pub fn receive_no_sc(ctx: &mut Ctx) -> TestResult {
            let mut objs = setup(ctx, 1)?;
            let ep = endpoint(ctx)?;
            let state = Counter::new(0);
            let s = state.clone();
            let client = Helper::new(&mut objs, 10, move || {
                s.set(1);
                loop {
                    sel4_sys::send_regs(ep, empty(), [0; 4]);
                    s.inc();
                }
            })?;
            set_own_priority(ctx, 9)?;
            client.start();
            ensure_eq!(state.get(), 1);
            client.unbind_sc()?;
            wait_regs(ep);
            ensure_eq!(state.get(), 1, "the client did not run without a scheduling context");
            client.bind_sc()?;
            ensure_eq!(state.get(), 2);
            wait_regs(ep);
            ensure_eq!(state.get(), 3);
            wait_regs(ep);
            ensure_eq!(state.get(), 4);
            client.kill(&mut objs);
            Ok(())
        }

        /// IPC0019: deleting the scheduling context of a thread blocked in
        /// a send leaves its message; it is received, and the sender does
        /// not run on.
        pub fn delete_sc_of_sender(ctx: &mut Ctx) -> TestResult {
            let mut objs = setup(ctx, 1)?;
            let ep = endpoint(ctx)?;
            let state = Counter::new(0);
            let s = state.clone();
            let client = Helper::new(&mut objs, 10, move || {
                s.set(1);
                sel4_sys::send_regs(ep, empty(), [0; 4]);
                s.set(2);
            })?;
            set_own_priority(ctx, 9)?;
            client.start();
            ensure_eq!(state.get(), 1);
            delete(client.sc())?;
            wait_regs(ep);
            ensure_eq!(state.get(), 1, "the sender did not run on");
            client.kill(&mut objs);
            Ok(())
        }

        /// IPC0020: a receiver whose scheduling context was deleted gets
        /// the message but runs only with a new one.
        pub fn delete_sc_of_receiver(ctx: &mut Ctx) -> TestResult {
            let mut objs = setup(ctx, 1)?;
            let ep = endpoint(ctx)?;
            let state = Counter::new(0);
            let s = state.clone();
            let waiter = Helper::new(&mut objs, 10, move || {
                s.set(1);
                loop {
                    wait_regs(ep);
                    s.inc();
                }
            })?;
            set_own_priority(ctx, 9)?;
            waiter.start();
            ensure_eq!(state.get(), 1);
            delete(waiter.sc())?;
            sel4_sys::send_regs(ep, empty(), [0; 4]);
            ensure_eq!(state.get(), 1, "the receiver did not run");
            let sc = new_sched_context(ctx)?;
            configure(sc, 1000 * 1_000_000, 1000 * 1_000_000, 0, 0)?;
            sel4_test_harness::kernel::invoke(
                sc,
                sel4_sys::InvocationLabel::SchedContextBind,
                &[waiter.tcb()],
                &[],
            )?;
            ensure_eq!(state.get(), 2, "with a new scheduling context it received");
            waiter.kill(&mut objs);
            Ok(())
        }

        /// IPC0021: a passive fault handler runs on the faulting thread's
        /// scheduling context: it maps the page the thread faulted on and
        /// the thread completes its write.
        pub fn fault_handler_donated_sc(ctx: &mut Ctx) -> TestResult {
            use sel4_asm_probes::fault::{self as probe, BAD_MAGIC, FAULT_VADDR, GOOD_MAGIC};
            use sel4_test_harness::kernel::{rights, ROOT_CNODE, ROOT_VSPACE};
            let mut objs = setup(ctx, 2)?;
            let ep = endpoint(ctx)?;
            // The translation tables over the probe's address; the frame
            // the handler maps there.
            crate::vspace::paging_for(ctx, ROOT_VSPACE, FAULT_VADDR)?;
            let frame = ctx.create(crate::util::GRANULE, 0)?;
            let handler = Helper::new(&mut objs, OUR_PRIO - 1, move || -> Result<(), String> {
                let reply = thread_reply();
                let mut r = nb_send_recv_regs(ep, empty(), [0; 4], ep, reply);
                loop {
                    if r.info.get_label() != sel4_sys::FaultLabel::VMFault as u64 {
                        return Err(format!("handler: label {} is no VM fault", r.info.get_label()));
                    }
                    let addr = r.mrs[sel4_sys::consts::VMFault_Addr];
                    crate::vspace::map_page(frame, ROOT_VSPACE, addr & !0xfff, rights::RW)
                        .map_err(|e| format!("handler: mapping {addr:#x}: {e}"))?;
                    r = reply_recv_regs_with(ep, empty(), [0; 4], reply);
                }
            })?;
            handler.start();
            wait_regs(ep);
            handler.unbind_sc()?;
            let faulter = Helper::new(&mut objs, OUR_PRIO - 1, move || {
                (probe::write(GOOD_MAGIC), probe::read(BAD_MAGIC))
            })?;
            // Its faults go to the passive handler (MCS: the endpoint is
            // copied into its TCB).
            crate::util::set_space(faulter.tcb(), ep, ROOT_CNODE, ROOT_VSPACE)?;
            faulter.start();
            // The handler restores the faulter on the faulter's own time:
            // this thread does not block here beyond the join.
            let got = faulter.join(&mut objs)?;
            ensure_eq!(got, (GOOD_MAGIC, GOOD_MAGIC), "the write completed after the fault, and reads back");
            handler.kill(&mut objs);
            Ok(())
        }

        /// IPC0022: a stack-spawning server: it receives each client's call
        /// with the reply object of a new passive server, lends the client's
        /// scheduling context to the previous server (a non-blocking send
        /// donates to a thread without one), which answers its client.
        pub fn stack_spawning_server(ctx: &mut Ctx) -> TestResult {
            let mut objs = setup(ctx, 1 + RUNS as usize)?;
            let ep = endpoint(ctx)?;
            let init_ep = endpoint(ctx)?;
            let our_prio: u8 = 10;
            // The spawner makes the servers with Objects of its own.
            let (mut spawner_objs, _) = ctx
                .objects_over_untyped(crate::support::slots_for(RUNS as usize) + 16 * RUNS as usize, 22)?;
            let spawner = Helper::with(
                &mut objs,
                sel4_rootserver::thread::ThreadBuilder::new()
                    .priority(OUR_PRIO - 1)
                    .mcp(sel4_rootserver::thread::MAX_PRIORITY)
                    .stack_size(128 * 1024),
                move || {
                    let mut servers = Vec::new();
                    let mut first_ep = ep;
                    let mut error = None;
                    for i in 0..RUNS {
                        let server = match Helper::new(&mut spawner_objs, our_prio + 1, move || {
                            let reply = thread_reply();
                            // Tell the spawner, and wait for a client's time.
                            nb_send_wait_regs(init_ep, empty(), [0; 4], init_ep);
                            // Answer the client the spawner received.
                            sel4_sys::send_regs(reply, empty(), [0; 4]);
                        }) {
                            Ok(s) => s,
                            Err(e) => {
                                error = Some(format!("spawner: server {i}: {e:?}"));
                                break;
                            }
                        };
                        // The next client's call, with the new server's reply
                        // object (the first time, this also tells the test on
                        // `ep` that the spawner is ready; later, it lends
                        // the current client's time to the previous server).
                        nb_send_recv_regs(first_ep, empty(), [0; 4], ep, server.reply());
                        first_ep = init_ep;
                        server.start();
                        wait_regs(init_ep);
                        if let Err(e) = server.unbind_sc() {
                            error = Some(format!("spawner: unbinding server {i}: {e}"));
                        }
                        servers.push(server);
                    }
                    // The last client's time to the last server; then wait
                    // until the test ends the spawner.
                    nb_send_wait_regs(first_ep, empty(), [0; 4], ep);
                    (spawner_objs, servers, error)
                },
            )?;
            spawner.start();
            wait_regs(ep);
            spawner.unbind_sc()?;
            spawner.set_priority(our_prio + 2)?;
            set_own_priority(ctx, our_prio)?;
            spawner.set_mcp(sel4_rootserver::thread::MAX_PRIORITY - 1)?;
            let state = Counter::new(0);
            let mut clients = Vec::new();
            for _ in 0..RUNS {
                let s = state.clone();
                let c = Helper::new(&mut objs, our_prio + 1, move || {
                    call(ep, empty(), 0);
                    s.inc();
                })?;
                c.start();
                clients.push(c);
            }
            set_own_priority(ctx, our_prio - 2)?;
            for c in clients {
                c.join(&mut objs)?;
            }
            ensure_eq!(state.get(), RUNS, "every client was served");
            // End the spawner: its time back, and a message where it waits.
            spawner.bind_sc()?;
            sel4_sys::send_regs(ep, empty(), [0; 4]);
            let (mut sobjs, servers, error) = spawner.join(&mut objs)?;
            for s in servers {
                s.kill(&mut sobjs);
            }
            drop(sobjs);
            if let Some(e) = error {
                return Err(Failure::Fail(e));
            }
            Ok(())
        }

        /// IPC0023: after the scheduling context a reply object tracks is
        /// deleted, the reply does not let the caller run.
        pub fn delete_reply_cap_sc(ctx: &mut Ctx) -> TestResult {
            let mut objs = setup(ctx, 2)?;
            let client_ep = endpoint(ctx)?;
            let server_ep = endpoint(ctx)?;
            let state = Counter::new(0);
            let s = state.clone();
            let client = Helper::new(&mut objs, OUR_PRIO - 1, move || {
                s.set(1);
                call(client_ep, empty(), 0);
                s.set(2);
            })?;
            let server = Helper::new(&mut objs, OUR_PRIO - 1, move || {
                let reply = thread_reply();
                nb_send_recv_regs(server_ep, empty(), [0; 4], client_ep, reply);
                wait_regs(server_ep);
            })?;
            client.start();
            server.start();
            wait_regs(server_ep);
            server.unbind_sc()?;
            set_own_priority(ctx, 10)?;
            client.set_priority(11)?;
            server.set_priority(11)?;
            ensure_eq!(state.get(), 1, "the client called the server");
            delete(client.sc())?;
            // A send on the server's reply object answers the client.
            sel4_sys::signal(server.reply());
            ensure_eq!(state.get(), 1, "the client has no time to run on");
            client.kill(&mut objs);
            server.kill(&mut objs);
            Ok(())
        }

        /// IPC0024: deleting the reply object (the caller's scheduling
        /// context goes back to it), then that scheduling context: the
        /// caller does not run.
        pub fn delete_reply_cap_then_sc(ctx: &mut Ctx) -> TestResult {
            let mut objs = setup(ctx, 2)?;
            let client_ep = endpoint(ctx)?;
            let server_ep = endpoint(ctx)?;
            let state = Counter::new(0);
            let s = state.clone();
            let client = Helper::new(&mut objs, 11, move || {
                s.set(1);
                call(client_ep, empty(), 0);
                s.set(2);
            })?;
            let server = Helper::new(&mut objs, 11, move || {
                let reply = thread_reply();
                nb_send_recv_regs(server_ep, empty(), [0; 4], client_ep, reply);
                wait_regs(server_ep);
            })?;
            server.start();
            wait_regs(server_ep);
            set_own_priority(ctx, 10)?;
            server.unbind_sc()?;
            client.start();
            ensure_eq!(state.get(), 1, "the client called");
            delete(server.reply())?;
            delete(client.sc())?;
            ensure_eq!(state.get(), 1, "the caller did not run");
            client.kill(&mut objs);
            server.kill(&mut objs);
            Ok(())
        }

        /// IPC0025: two threads that each NBSendRecv to the other, for
        /// every message length, at sender priorities around the
        /// receiver's and in both start orders: neither is left waiting.
        pub fn nbsendrecv_pair(ctx: &mut Ctx) -> TestResult {
            let mut objs = setup(ctx, 2)?;
            let ep = endpoint(ctx)?;
            let body = move || {
                let reply = thread_reply();
                let max = MessageInfo::new(0, 0, 0, MSG_MAX_LENGTH as Word);
                for _ in 0..=MSG_MAX_LENGTH {
                    nb_send_recv_regs(ep, max, [0; 4], ep, reply);
                }
                // Tell the other one, which may still wait.
                sel4_sys::nb_send_regs(ep, max, [0; 4]);
            };
            for sender_prio in 98..=102u8 {
                for sender_first in [false, true] {
                    let a = Helper::new(&mut objs, sender_prio, body)?;
                    let b = Helper::new(&mut objs, 100, body)?;
                    if sender_first {
                        b.start();
                        a.start();
                    } else {
                        a.start();
                        b.start();
                    }
                    a.join(&mut objs)?;
                    b.join(&mut objs)?;
                }
            }
            Ok(())
        }

        /// IPC0027: a passive server below its client serves it on the
        /// client's time; and again with the client calling before the
        /// server waits.
        pub fn donation_low_prio_server(ctx: &mut Ctx) -> TestResult {
            let mut objs = setup(ctx, 3)?;
            let ep = endpoint(ctx)?;
            let server_fn = move || -> Result<(), String> { reply_wait(ep, 0xabba_cafe) };
            let client_fn = move || -> Result<(), String> { call_each_length(ep, 0xabba_cafe) };
            // The server first, made passive, then the client.
            let server = Helper::new(&mut objs, OUR_PRIO - 1, server_fn)?;
            server.start();
            wait_regs(ep);
            server.unbind_sc()?;
            server.set_priority(1)?;
            let client = Helper::new(&mut objs, 2, client_fn)?;
            client.start();
            helper_ok(client.join(&mut objs)?)?;
            server.bind_sc()?;
            helper_ok(server.join(&mut objs)?)?;
            // The client first (it runs when this thread waits, and queues
            // its call), then the server (above it).
            let client = Helper::new(&mut objs, 2, client_fn)?;
            client.start();
            let server2 = Helper::new(&mut objs, OUR_PRIO - 1, server_fn)?;
            server2.start();
            wait_regs(ep);
            server2.unbind_sc()?;
            helper_ok(client.join(&mut objs)?)?;
            server2.bind_sc()?;
            helper_ok(server2.join(&mut objs)?)?;
            Ok(())
        }

        /// ReplyRecv with the message in the IPC buffer (words 0-3 moved to
        /// and from the registers).
        fn reply_recv_buffer(ep: Word, info: MessageInfo, reply: Word) -> MessageInfo {
            let b = sel4_sys::ipc_buffer();
            let mut mrs = [0; 4];
            let n = core::cmp::min(4, info.get_length() as usize);
            b.read_msgs(0, &mut mrs[..n]);
            let r = reply_recv_regs_with(ep, info, mrs, reply);
            let n = core::cmp::min(4, r.info.get_length() as usize);
            b.write_msgs(0, &r.mrs[..n]);
            r.info
        }

        /// seL4test's `call_func`: calls with every length, seeded words,
        /// and checks the replies.
        fn call_each_length(ep: Word, mut seed: Word) -> Result<(), String> {
            let b = sel4_sys::ipc_buffer();
            for len in 0..=MSG_MAX_LENGTH {
                for i in 0..len {
                    b.set_msg(i, seed);
                    seed += 1;
                }
                let info = sel4_sys::call(ep, MessageInfo::new(0, 0, 0, len as Word));
                if info.get_length() as usize != len {
                    return Err(format!("client: reply of length {} to {len}", info.get_length()));
                }
                for i in 0..len {
                    if b.msg(i) != seed {
                        return Err(format!("client: reply word {i} of length {len}"));
                    }
                    seed += 1;
                }
            }
            Ok(())
        }

        /// seL4test's `replywait_func` (MCS): the first receive with
        /// NBSendRecv (telling the initialiser), then ReplyRecv for every
        /// length, answering each with the next seeded words; the last
        /// reply a send on the reply object.
        fn reply_wait(ep: Word, mut seed: Word) -> Result<(), String> {
            let b = sel4_sys::ipc_buffer();
            let reply = thread_reply();
            let mut info = empty();
            for len in 0..=MSG_MAX_LENGTH {
                info = if len == 0 {
                    let r = nb_send_recv_regs(ep, info, [0; 4], ep, reply);
                    b.write_msgs(0, &r.mrs[..core::cmp::min(4, r.info.get_length() as usize)]);
                    r.info
                } else {
                    reply_recv_buffer(ep, info, reply)
                };
                if info.get_length() as usize != len {
                    return Err(format!("server: request of length {} for {len}", info.get_length()));
                }
                for i in 0..len {
                    if b.msg(i) != seed {
                        return Err(format!("server: request word {i} of length {len}"));
                    }
                    seed += 1;
                }
                for i in 0..len {
                    b.set_msg(i, seed);
                    seed += 1;
                }
                info = MessageInfo::new(0, 0, 0, len as Word);
            }
            sel4_sys::send(reply, info);
            Ok(())
        }

    }
} }
