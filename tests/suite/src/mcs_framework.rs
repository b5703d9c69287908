//! The framework on MCS kernels: every thread it makes has a scheduling
//! context (with the budget `ThreadBuilder::budget` gives) and a reply
//! object; servers answer through reply objects (the thread's, or their
//! own with `Server::with_reply`); passive servers run on their clients'
//! time; timeout faults arrive typed; a fault endpoint is a capability
//! copied into the TCB; a yield on a budget smaller than its period waits
//! for the refill. The passive-server test runs on every kernel (there the
//! server keeps its time slice).

use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering::SeqCst};
use sel4_rootserver::ipc::{self, Client, Control, Server};
use sel4_rootserver::thread::ThreadBuilder;
use sel4_test_harness::{ensure_eq, sel4_test, Ctx, TestResult};

use crate::mcs_util::mcs_only;
use crate::util::{fw, OBJECT_SLOTS};

ipc::message! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Req { Add { a: u64, b: u64 } = 1, Stop = 2 }
}
ipc::message! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Resp { Sum { value: u64 } = 1, Stopped = 2 }
}
ipc::protocol!(pub Adder: Req => Resp);

#[sel4_test]
fn framework_threads_have_a_scheduling_context_and_a_reply_object(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::threads_have_sc_and_reply(ctx))
}

#[sel4_test]
fn initial_thread_and_sched_control_from_bootinfo(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::initial_caps(ctx))
}

#[sel4_test(timeout_ms = 10_000)]
fn budget_limits_a_threads_share_of_the_processor(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::budget_limits_share(ctx))
}

#[sel4_test(timeout_ms = 10_000)]
fn yield_on_a_periodic_budget_waits_for_the_refill(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::yield_waits_for_refill(ctx))
}

#[sel4_test(timeout_ms = 10_000)]
fn sleep_lets_lower_priority_threads_run(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::sleep_runs_lower_threads(ctx))
}

#[sel4_test]
fn timeout_handler_gets_typed_timeout_faults(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::typed_timeout_faults(ctx))
}

#[sel4_test]
fn fault_endpoint_is_a_capability_in_the_tcb(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::fault_endpoint_copied(ctx))
}

#[sel4_test]
fn server_with_its_own_reply_object_answers_two_endpoints(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::server_with_reply(ctx))
}

/// A passive server: `spawn` returns once it has initialised and waits
/// for requests; it serves; on MCS kernels its own scheduling context does
/// not run meanwhile (every request runs on the client's); it stops on a
/// request and finishes when joined. On other kernels the same code works
/// (the server keeps its time slice).
#[sel4_test(timeout_ms = 10_000)]
fn passive_server_serves_on_its_clients_time(ctx: &mut Ctx) -> TestResult {
    let ep = crate::util::endpoint(ctx)?;
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let initialised = Arc::new(AtomicU64::new(0));
    let flag = initialised.clone();
    let server = ThreadBuilder::new()
        .priority(sel4_test_harness::HARNESS_PRIORITY as u8 + 10)
        .passive()
        .spawn(&mut objs, move || {
            // Initialisation, on the server's own time.
            flag.store(1, SeqCst);
            let s = Server::<Adder>::new(sel4_rootserver::Cap::from_cptr(ep));
            let mut served = 0u64;
            s.serve(|_badge, req, _caps| match req {
                Req::Add { a, b } => {
                    served += 1;
                    Control::Reply(Resp::Sum { value: a + b })
                }
                Req::Stop => Control::ReplyAndStop(Resp::Stopped),
            });
            served
        })
        .map_err(fw("spawn a passive server"))?;
    ensure_eq!(
        initialised.load(SeqCst),
        1,
        "spawn returned after the initialisation"
    );
    // Its own scheduling context's time so far (the initialisation).
    let _ = imp_consumed(&server);
    let client = Client::<Adder>::new(sel4_rootserver::Cap::from_cptr(ep));
    for i in 0..100u64 {
        ensure_eq!(
            client
                .call(&Req::Add { a: i, b: 1 })
                .map_err(crate::util::dbg("call"))?,
            Resp::Sum { value: i + 1 }
        );
    }
    let own = imp_consumed(&server);
    ensure_eq!(
        client.call(&Req::Stop).map_err(crate::util::dbg("stop"))?,
        Resp::Stopped
    );
    ensure_eq!(
        server.join(&mut objs).map_err(fw("join"))?,
        100,
        "requests served"
    );
    if let Some(used) = own {
        ensure_eq!(
            used,
            0,
            "the server's own scheduling context did not run for the requests"
        );
    }
    Ok(())
}

/// A passive server that ends before it receives: `spawn` returns, and the
/// join reports how it ended.
#[sel4_test]
fn passive_thread_that_ends_before_serving_is_joined(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let h = ThreadBuilder::new()
        .priority(sel4_test_harness::HARNESS_PRIORITY as u8 + 10)
        .passive()
        .spawn(&mut objs, || 41u64 + 1)
        .map_err(fw("spawn"))?;
    ensure_eq!(h.join(&mut objs).map_err(fw("join"))?, 42);
    Ok(())
}

/// The time a thread's own scheduling context consumed since the last
/// query (MCS kernels; `None` on others).
fn imp_consumed<R>(h: &sel4_rootserver::thread::JoinHandle<R>) -> Option<u64> {
    sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
        use sel4::mcs::SchedContextOps;
        h.sched_context().consumed().ok()
    } else {
        let _ = h;
        None
    } }
}

sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
    mod imp {
        use alloc::format;
        use sel4::mcs::SchedContextOps;
        use sel4_rootserver::fault::FaultHandler;
        use sel4_rootserver::ipc::{Client, Incoming, Server};
        use sel4_rootserver::sched::Budget;
        use sel4_rootserver::sys::Fault;
        use sel4_rootserver::thread::ThreadBuilder;
        use sel4_rootserver::Cap;
        use sel4_sys::Word;
        use sel4_test_harness::kernel::{ROOT_CNODE, ROOT_VSPACE};
        use sel4_test_harness::{ensure, ensure_eq, Ctx, Failure, TestResult};

        use super::{Adder, Req, Resp};
        use crate::mcs_util::*;
        use crate::util::{cap_type, dbg, endpoint, fw, OBJECT_SLOTS};

        /// seL4's x86_64 capability tags of the MCS objects.
        const TAG_REPLY: u64 = 8;
        const TAG_SCHED_CONTEXT: u64 = 22;
        const TAG_SCHED_CONTROL: u64 = 24;

        pub fn threads_have_sc_and_reply(ctx: &mut Ctx) -> TestResult {
            let mut objs = ctx.objects(OBJECT_SLOTS)?;
            let h = ThreadBuilder::new()
                .spawn(&mut objs, || {
                    (
                        sel4_runtime::thread::current_sched_context(),
                        sel4_runtime::thread::current_reply(),
                        sel4_sys::mcs::thread_reply(),
                    )
                })
                .map_err(fw("spawn"))?;
            let (sc, reply) = (h.sched_context().cptr(), h.reply_object().cptr());
            ensure_eq!(cap_type(sc)?, TAG_SCHED_CONTEXT, "its scheduling context");
            ensure_eq!(cap_type(reply)?, TAG_REPLY, "its reply object");
            let (seen_sc, seen_reply, tls_reply) = h.join(&mut objs).map_err(fw("join"))?;
            ensure_eq!(seen_sc, Some(sc), "the thread knows its scheduling context");
            ensure_eq!(seen_reply, Some(reply), "and its reply object");
            ensure_eq!(tls_reply, reply, "the one its receives name");
            ensure!(crate::util::is_empty(sc)?, "deleted with the thread");
            Ok(())
        }

        pub fn initial_caps(_ctx: &mut Ctx) -> TestResult {
            ensure_eq!(
                cap_type(sel4_sys::init_caps::CapInitThreadSC as Word)?,
                TAG_SCHED_CONTEXT,
                "slot 14: the initial thread's scheduling context"
            );
            let control = sel4_runtime::thread::sched_control()
                .ok_or_else(|| Failure::fail("no SchedControl recorded"))?;
            ensure_eq!(cap_type(control)?, TAG_SCHED_CONTROL, "bootinfo's schedcontrol");
            // The test thread's own: the framework's, round robin.
            let own = sel4_runtime::thread::current_sched_context()
                .ok_or_else(|| Failure::fail("the test thread has no scheduling context"))?;
            ensure_eq!(cap_type(own)?, TAG_SCHED_CONTEXT);
            ensure!(own != sel4_sys::init_caps::CapInitThreadSC as Word);
            Ok(())
        }

        pub fn budget_limits_share(ctx: &mut Ctx) -> TestResult {
            let mut objs = setup(ctx, 1)?;
            // 2 ms of every 20 ms, above this thread.
            let h = ThreadBuilder::new()
                .priority(OUR_PRIO)
                .budget(Budget::periodic(2_000, 20_000))
                .spawn(&mut objs, || loop {
                    core::hint::spin_loop();
                })
                .map_err(fw("spawn"))?;
            set_own_priority(ctx, OUR_PRIO - 1)?;
            let sc = h.sched_context();
            sc.consumed().map_err(dbg("consumed"))?;
            let start = sel4_sys::arch::read_counter();
            while ctx.micros_since(start) < 400_000 {
                core::hint::spin_loop();
            }
            let elapsed = ctx.micros_since(start);
            let used = sc.consumed().map_err(dbg("consumed"))?;
            h.kill(&mut objs);
            // A tenth of the time, give or take a period.
            ensure!(
                used >= elapsed / 10 - 20_000 && used <= elapsed / 10 + 20_000,
                "the 10% thread used {used} us of {elapsed} us"
            );
            Ok(())
        }

        pub fn yield_waits_for_refill(ctx: &mut Ctx) -> TestResult {
            let mut objs = setup(ctx, 1)?;
            let tsc_mhz = ctx.machine().tsc_mhz.max(1);
            let h = ThreadBuilder::new()
                .priority(OUR_PRIO - 1)
                .budget(Budget::periodic(1_000, 50_000))
                .spawn(&mut objs, move || {
                    let mut gaps = [0u64; 3];
                    for g in gaps.iter_mut() {
                        let t0 = sel4_sys::arch::read_counter();
                        sel4_sys::yield_now();
                        *g = (sel4_sys::arch::read_counter() - t0) / tsc_mhz;
                    }
                    gaps
                })
                .map_err(fw("spawn"))?;
            let gaps = h.join(&mut objs).map_err(fw("join"))?;
            for g in gaps {
                ensure!(g >= 40_000, "a yield came back after {g} us, before the 50 ms refill");
            }
            // On the default (round-robin) budget, alone at its priority,
            // a yield comes back at once.
            let h = ThreadBuilder::new()
                .priority(OUR_PRIO - 1)
                .spawn(&mut objs, move || {
                    let t0 = sel4_sys::arch::read_counter();
                    sel4_sys::yield_now();
                    (sel4_sys::arch::read_counter() - t0) / tsc_mhz
                })
                .map_err(fw("spawn"))?;
            let g = h.join(&mut objs).map_err(fw("join"))?;
            ensure!(g < 5_000, "a round-robin yield took {g} us");
            Ok(())
        }

        pub fn sleep_runs_lower_threads(ctx: &mut Ctx) -> TestResult {
            let mut objs = setup(ctx, 1)?;
            let count = Counter::new(0);
            let c = count.clone();
            let h = Helper::new(&mut objs, 10, move || loop {
                c.inc();
            })?;
            h.start();
            let start = sel4_sys::arch::read_counter();
            sleep_us(ctx, 50_000)?;
            let slept = ctx.micros_since(start);
            let ran = count.get();
            h.kill(&mut objs);
            ensure!(slept >= 50_000, "slept {slept} us");
            ensure!(ran > 0, "the lower thread ran while this one slept");
            Ok(())
        }

        pub fn typed_timeout_faults(ctx: &mut Ctx) -> TestResult {
            let mut objs = setup(ctx, 1)?;
            let handler = FaultHandler::new(&mut objs).map_err(fw("handler"))?;
            let h = ThreadBuilder::new()
                .priority(OUR_PRIO - 1)
                .budget(Budget::periodic(1_000, 2_000).with_badge(0x77))
                .timeout_handler(&handler, 3)
                .spawn(&mut objs, || loop {
                    core::hint::spin_loop();
                })
                .map_err(fw("spawn"))?;
            let (badge, fault) = handler.next_fault();
            h.kill(&mut objs);
            handler.destroy(&mut objs).map_err(fw("destroy"))?;
            ensure_eq!(badge, 3, "the timeout handler's badge");
            match fault {
                Fault::Timeout { badge, consumed } => {
                    ensure_eq!(badge, 0x77, "the scheduling context's badge");
                    ensure!(consumed > 0, "time consumed");
                }
                other => return Err(Failure::fail(format!("expected a timeout fault, got {other:?}"))),
            }
            Ok(())
        }

        pub fn fault_endpoint_copied(ctx: &mut Ctx) -> TestResult {
            let mut objs = setup(ctx, 1)?;
            let ep = endpoint(ctx)?;
            let copy = ctx.slot()?;
            sel4_test_harness::kernel::cnode_copy(copy, ep, sel4_test_harness::kernel::rights::ALL)?;
            let h = Helper::new(&mut objs, OUR_PRIO - 1, || {
                sel4_runtime::thread::provoke::read_unmapped(0x10);
            })?;
            crate::util::set_space(h.tcb(), copy, ROOT_CNODE, ROOT_VSPACE)?;
            // The slot named at configure time is gone; the TCB holds its
            // own copy.
            delete(copy)?;
            h.start();
            let r = sel4_sys::mcs::wait_regs(ep);
            ensure_eq!(
                r.info.get_label(),
                sel4_sys::FaultLabel::VMFault as u64,
                "the fault arrived through the TCB's copy"
            );
            h.kill(&mut objs);
            Ok(())
        }

        pub fn server_with_reply(ctx: &mut Ctx) -> TestResult {
            let mut objs = setup(ctx, 3)?;
            let (ep_a, ep_b) = (endpoint(ctx)?, endpoint(ctx)?);
            let (ra, rb) = (new_reply(ctx)?, new_reply(ctx)?);
            let server = Helper::new(&mut objs, OUR_PRIO - 2, move || -> Result<(), alloc::string::String> {
                let a = Server::<Adder>::with_reply(Cap::from_cptr(ep_a), Cap::from_cptr(ra));
                let b = Server::<Adder>::with_reply(Cap::from_cptr(ep_b), Cap::from_cptr(rb));
                // A request on A, then one on B before A is answered.
                let Incoming::Request { message: Ok(Req::Add { a: x, b: y }), .. } = a.recv() else {
                    return Err("no request on A".into());
                };
                let Incoming::Request { message: Ok(Req::Add { a: p, b: q }), .. } = b.recv() else {
                    return Err("no request on B".into());
                };
                b.reply(Ok(&Resp::Sum { value: p + q }));
                a.reply(Ok(&Resp::Sum { value: x + y }));
                Ok(())
            })?;
            server.start();
            let ca = Helper::new(&mut objs, OUR_PRIO - 1, move || {
                Client::<Adder>::new(Cap::from_cptr(ep_a)).call(&Req::Add { a: 1, b: 2 })
            })?;
            ca.start();
            let cb = Helper::new(&mut objs, OUR_PRIO - 1, move || {
                Client::<Adder>::new(Cap::from_cptr(ep_b)).call(&Req::Add { a: 10, b: 20 })
            })?;
            cb.start();
            let got_b = cb.join(&mut objs)?;
            let got_a = ca.join(&mut objs)?;
            helper_ok(server.join(&mut objs)?)?;
            ensure_eq!(got_a, Ok(Resp::Sum { value: 3 }), "the first caller's answer");
            ensure_eq!(got_b, Ok(Resp::Sum { value: 30 }), "the second caller's answer");
            Ok(())
        }
    }
} }
