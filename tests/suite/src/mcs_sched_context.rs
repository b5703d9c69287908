//! Scheduling contexts as seL4test's schedcontext.c checks them
//! (SCHED_CONTEXT_0001-0013; 0014 is SMP): SchedControl_Configure's
//! checks, reconfiguring a running thread, binding and unbinding,
//! deleting a scheduling context or a thread that runs on one, passive
//! threads, and what happens along a call chain when a reply object or
//! scheduling context goes.

use sel4_test_harness::{sel4_test, Ctx, TestResult};

use crate::mcs_util::mcs_only;

#[sel4_test(sel4test = "SCHED_CONTEXT_0001")]
fn sched_control_configure_checks(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::configure_checks(ctx))
}

#[sel4_test(sel4test = "SCHED_CONTEXT_0002")]
fn reconfiguring_a_thread(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::reconfigure(ctx))
}

#[sel4_test(sel4test = "SCHED_CONTEXT_0003")]
fn bind_and_unbind_errors(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::bind_errors(ctx))
}

#[sel4_test(sel4test = "SCHED_CONTEXT_0005")]
fn deleting_the_scheduling_context_stops_its_thread(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::delete_tcb_sched_context(ctx))
}

#[sel4_test(sel4test = "SCHED_CONTEXT_0006")]
fn deleting_a_thread_on_a_notifications_context_returns_it(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::delete_tcb_on_notification_context(ctx))
}

#[sel4_test(sel4test = "SCHED_CONTEXT_0007")]
fn resuming_a_passive_thread_and_binding(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::passive_thread_start(ctx))
}

#[sel4_test(sel4test = "SCHED_CONTEXT_0008")]
fn deleting_a_thread_on_a_donated_context(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::delete_sendwait_tcb(ctx))
}

// SCHED_CONTEXT_0009-0013 sleep in steps of the kernel's real-time budgets
// (mcs_util::sleep_us) while other threads spin on donated time: under QEMU
// without -icount a loaded host stretches them from under a second to half
// a minute (timeouts after 10 s in runs beside two others, passes alone).
// What they check is the state reached, not the time taken.
#[sel4_test(sel4test = "SCHED_CONTEXT_0009", timeout_ms = 60000)]
fn context_goes_back_to_the_caller_when_the_reply_object_goes(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::reply_delete_returns_sc(ctx))
}

#[sel4_test(sel4test = "SCHED_CONTEXT_0010", timeout_ms = 60000)]
fn unbinding_the_callers_context_from_the_server(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::unbind_server(ctx))
}

#[sel4_test(sel4test = "SCHED_CONTEXT_0011", timeout_ms = 60000)]
fn deleting_replies_along_a_call_chain_in_order(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::revoke_reply_chain(ctx, true))
}

#[sel4_test(sel4test = "SCHED_CONTEXT_0012", timeout_ms = 60000)]
fn deleting_replies_along_a_call_chain_out_of_order(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::revoke_reply_chain(ctx, false))
}

#[sel4_test(sel4test = "SCHED_CONTEXT_0013", timeout_ms = 60000)]
fn deleting_the_scheduling_context_of_a_call_chain(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::revoke_sc_chain(ctx))
}

sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
    mod imp {
        use sel4_sys::mcs::{nb_send_recv_regs, nb_send_wait_regs, thread_reply, wait_regs};
        use sel4_sys::{Error, InvocationLabel, Word};
        use sel4_test_harness::kernel::invoke;
        use sel4_test_harness::{ensure, ensure_eq, Ctx, TestResult};

        use crate::mcs_util::*;
        use crate::util::{endpoint, notification};

        /// seL4test's MIN_BUDGET_US for x86 (2 x the kernel's 10 us WCET).
        const MIN_BUDGET_US: u64 = 2 * 10;

        fn bind(sc: Word, obj: Word) -> sel4_test_harness::kernel::KResult {
            invoke(sc, InvocationLabel::SchedContextBind, &[obj], &[])
        }

        fn unbind_object(sc: Word, obj: Word) -> sel4_test_harness::kernel::KResult {
            invoke(sc, InvocationLabel::SchedContextUnbindObject, &[obj], &[])
        }

        pub fn configure_checks(ctx: &mut Ctx) -> TestResult {
            let sc = new_sched_context(ctx)?;
            configure(sc, 5000, 5000, 0, 0)?;
            let tcb = ctx.create(sel4_sys::ObjectType::TCBObject, 0)?;
            expect_error(configure(tcb, 5000, 5000, 0, 0), Error::InvalidCapability, "a TCB")?;
            expect_error(configure(sc, 0, 5000, 0, 0), Error::RangeError, "budget 0")?;
            expect_error(configure(sc, 0, 0, 0, 0), Error::RangeError, "period 0")?;
            expect_error(configure(sc, 5000, 1000, 0, 0), Error::RangeError, "budget > period")?;
            expect_error(configure(sc, 1, 5000, 0, 0), Error::RangeError, "budget below the minimum")?;
            configure(sc, MIN_BUDGET_US, 5000, 0, 0)?;
            Ok(())
        }

        pub fn reconfigure(ctx: &mut Ctx) -> TestResult {
            let mut objs = setup(ctx, 1)?;
            let spins = Counter::new(0);
            let s = spins.clone();
            let h = Helper::new(&mut objs, OUR_PRIO - 1, move || loop {
                s.inc();
            })?;
            // A thread that has not started yet, then a running one.
            h.sched_params(5000, 5000, 0)?;
            h.start();
            sleep_us(ctx, 10_000)?;
            ensure!(spins.get() > 0, "the thread ran");
            h.sched_params(10_000, 10_000, 0)?;
            let before = spins.get();
            sleep_us(ctx, 10_000)?;
            ensure!(spins.get() > before, "it runs on after the change");
            h.sched_params(3000, 3000, 0)?;
            h.kill(&mut objs);
            Ok(())
        }

        pub fn bind_errors(ctx: &mut Ctx) -> TestResult {
            let tcb = ctx.create(sel4_sys::ObjectType::TCBObject, 0)?;
            let sc = new_sched_context(ctx)?;
            let ntfn = notification(ctx)?;
            let ep = endpoint(ctx)?;
            expect_error(bind(sc, ep), Error::InvalidCapability, "bind an endpoint")?;
            bind(sc, tcb)?;
            expect_error(bind(sc, tcb), Error::IllegalOperation, "bound to a TCB already")?;
            // A notification as well (the thread loses it lazily when it
            // waits on the notification).
            bind(sc, ntfn)?;
            expect_error(bind(sc, ntfn), Error::IllegalOperation, "bound to a notification already")?;
            unbind_object(sc, ntfn)?;
            unbind_object(sc, tcb)?;
            expect_error(unbind_object(sc, ep), Error::InvalidCapability, "unbind an endpoint")?;
            expect_error(unbind_object(sc, ntfn), Error::IllegalOperation, "unbind a notification not bound")?;
            expect_error(unbind_object(sc, tcb), Error::IllegalOperation, "unbind a TCB not bound")?;
            Ok(())
        }

        pub fn delete_tcb_sched_context(ctx: &mut Ctx) -> TestResult {
            let mut objs = setup(ctx, 1)?;
            let state = Counter::new(0);
            let s = state.clone();
            let h = Helper::new(&mut objs, OUR_PRIO - 1, move || loop {
                s.inc();
            })?;
            h.start();
            sleep_us(ctx, 10_000)?;
            let before = state.get();
            ensure!(before > 0, "the thread ran");
            delete(h.sc())?;
            sleep_us(ctx, 10_000)?;
            ensure_eq!(state.get(), before, "no scheduling context, no run");
            h.kill(&mut objs);
            Ok(())
        }

        pub fn delete_tcb_on_notification_context(ctx: &mut Ctx) -> TestResult {
            let mut objs = setup(ctx, 2)?;
            let ntfn = notification(ctx)?;
            let body = |s: Counter| {
                move || {
                    s.set(1);
                    sel4_sys::wait(ntfn);
                    s.set(2);
                    loop {
                        core::hint::spin_loop();
                    }
                }
            };
            let (s1, s2) = (Counter::new(0), Counter::new(0));
            // At this thread's priority, so that a yield lets them run.
            let one = Helper::new(&mut objs, OUR_PRIO, body(s1.clone()))?;
            let two = Helper::new(&mut objs, OUR_PRIO, body(s2.clone()))?;
            one.start();
            sel4_sys::yield_now();
            ensure_eq!(s1.get(), 1);
            // Its scheduling context to the notification.
            one.unbind_sc()?;
            bind(one.sc(), ntfn)?;
            // It runs on the notification's context once signalled.
            sel4_sys::signal(ntfn);
            sel4_sys::yield_now();
            ensure_eq!(s1.get(), 2, "it got the notification's scheduling context");
            // Deleting it gives the context back to the notification.
            delete(one.tcb())?;
            sel4_sys::yield_now();
            two.start();
            sel4_sys::yield_now();
            ensure_eq!(s2.get(), 1);
            delete(two.sc())?;
            sel4_sys::signal(ntfn);
            sel4_sys::signal(ntfn);
            sel4_sys::yield_now();
            ensure_eq!(s2.get(), 2, "the second thread ran on the returned context");
            one.kill(&mut objs);
            two.kill(&mut objs);
            Ok(())
        }

        pub fn passive_thread_start(ctx: &mut Ctx) -> TestResult {
            let mut objs = setup(ctx, 2)?;
            let ntfn = notification(ctx)?;
            // Resume (start) without a scheduling context, then bind.
            let h = Helper::new(&mut objs, OUR_PRIO - 1, || 1u64)?;
            h.unbind_sc()?;
            h.start();
            h.bind_sc()?;
            ensure_eq!(h.join(&mut objs)?, 1);
            // Bind, then start (and TCB_Resume of the running thread).
            let h = Helper::new(&mut objs, OUR_PRIO - 1, || 1u64)?;
            h.unbind_sc()?;
            h.bind_sc()?;
            h.start();
            invoke(h.tcb(), InvocationLabel::TCBResume, &[], &[])?;
            ensure_eq!(h.join(&mut objs)?, 1);
            // Lazy unbind: bound to the thread and a notification, the
            // context leaves the thread when it waits on that notification.
            let h = Helper::new(&mut objs, OUR_PRIO + 1, move || {
                sel4_sys::wait(ntfn);
            })?;
            bind(h.sc(), ntfn)?;
            expect_error(h.bind_sc(), Error::IllegalOperation, "the TCB is still bound")?;
            // The thread's own wait for its start signal is on another
            // notification; it runs above this thread, so it waits on
            // `ntfn` before `start` returns.
            h.start();
            h.bind_sc()?;
            h.kill(&mut objs);
            Ok(())
        }

        pub fn delete_sendwait_tcb(ctx: &mut Ctx) -> TestResult {
            let mut objs = setup(ctx, 3)?;
            let client_send = endpoint(ctx)?;
            let client_wait = endpoint(ctx)?;
            let proxy_send = endpoint(ctx)?;
            let server_ep = endpoint(ctx)?;
            // A passive server: tells this thread on server_ep, waits for
            // the proxy's message, then ends on the donated context.
            let server = Helper::new(&mut objs, OUR_PRIO - 1, move || {
                nb_send_wait_regs(server_ep, empty(), [0; 4], proxy_send);
            })?;
            server.start();
            wait_regs(server_ep);
            server.unbind_sc()?;
            // A passive proxy: forwards what the client sends.
            let proxy = Helper::new(&mut objs, OUR_PRIO - 1, move || {
                nb_send_wait_regs(proxy_send, empty(), [0; 4], client_send);
                nb_send_wait_regs(proxy_send, empty(), [0; 4], client_send);
            })?;
            proxy.start();
            wait_regs(proxy_send);
            proxy.unbind_sc()?;
            let client = Helper::new(&mut objs, OUR_PRIO - 1, move || {
                nb_send_wait_regs(client_send, empty(), [0; 4], client_wait);
            })?;
            client.start();
            // The server ends, holding the client's context.
            server.join(&mut objs)?;
            // (Its TCB is gone with the join.) The client's context back.
            client.bind_sc()?;
            sel4_sys::signal(client_wait);
            client.join(&mut objs)?;
            proxy.kill(&mut objs);
            Ok(())
        }

        fn spinning_server(ep: Word, state: Counter, reply: Word) -> impl FnOnce() + Send + 'static {
            move || {
                nb_send_recv_regs(ep, empty(), [0; 4], ep, reply);
                loop {
                    state.inc();
                }
            }
        }

        fn calling_client(ep: Word, state: Option<Counter>) -> impl FnOnce() + Send + 'static {
            move || {
                call(ep, empty(), 0);
                if let Some(s) = state {
                    s.inc();
                }
            }
        }

        /// seL4test's `create_passive_thread`.
        fn passive<F: FnOnce() + Send + 'static>(
            objs: &mut sel4_rootserver::objects::Objects,
            ep: Word,
            f: F,
        ) -> Result<Helper<()>, sel4_test_harness::Failure> {
            let h = Helper::new(objs, OUR_PRIO - 1, f)?;
            h.start();
            wait_regs(ep);
            h.unbind_sc()?;
            Ok(h)
        }

        pub fn reply_delete_returns_sc(ctx: &mut Ctx) -> TestResult {
            let mut objs = setup(ctx, 2)?;
            let ep = endpoint(ctx)?;
            let reply = new_reply(ctx)?;
            let state = Counter::new(0);
            let server = passive(&mut objs, ep, spinning_server(ep, state.clone(), reply))?;
            let client = Helper::new(&mut objs, OUR_PRIO - 1, calling_client(ep, None))?;
            client.start();
            sleep_us(ctx, 200_000)?;
            ensure!(state.get() > 0, "the server ran on the client's time");
            delete(reply)?;
            let before = state.get();
            sleep_us(ctx, 200_000)?;
            ensure_eq!(state.get(), before, "the server stopped: the context went back");
            restart_after_syscall(client.tcb())?;
            client.join(&mut objs)?;
            server.kill(&mut objs);
            Ok(())
        }

        pub fn unbind_server(ctx: &mut Ctx) -> TestResult {
            let mut objs = setup(ctx, 2)?;
            let ep = endpoint(ctx)?;
            let reply = new_reply(ctx)?;
            let state = Counter::new(0);
            let server = passive(&mut objs, ep, spinning_server(ep, state.clone(), reply))?;
            let client = Helper::new(&mut objs, OUR_PRIO - 1, move || {
                nb_send_wait_regs(ep, empty(), [0; 4], ep);
            })?;
            client.start();
            sleep_us(ctx, 200_000)?;
            ensure!(state.get() > 0, "the server ran on the client's time");
            unbind_object(client.sc(), server.tcb())?;
            let before = state.get();
            sleep_us(ctx, 200_000)?;
            ensure_eq!(state.get(), before, "the server stopped");
            client.bind_sc()?;
            restart_after_syscall(client.tcb())?;
            client.join(&mut objs)?;
            server.kill(&mut objs);
            Ok(())
        }

        fn proxy(inp: Word, out: Word, reply: Word) -> impl FnOnce() + Send + 'static {
            move || {
                nb_send_recv_regs(inp, empty(), [0; 4], inp, reply);
                call(out, empty(), 0);
            }
        }

        pub fn revoke_reply_chain(ctx: &mut Ctx, ordered: bool) -> TestResult {
            let mut objs = setup(ctx, 3)?;
            let ep = endpoint(ctx)?;
            let ep2 = endpoint(ctx)?;
            let proxy_reply = new_reply(ctx)?;
            let server_reply = new_reply(ctx)?;
            let state = Counter::new(0);
            let client_state = Counter::new(0);
            let server = passive(&mut objs, ep2, spinning_server(ep2, state.clone(), server_reply))?;
            let proxy_t = passive(&mut objs, ep, proxy(ep, ep2, proxy_reply))?;
            let client = Helper::new(&mut objs, OUR_PRIO - 1, calling_client(ep, Some(client_state.clone())))?;
            client.start();
            sleep_us(ctx, 200_000)?;
            ensure!(state.get() > 0, "the server ran on the client's time");
            if ordered {
                delete(server_reply)?;
                let before = state.get();
                sleep_us(ctx, 200_000)?;
                ensure_eq!(state.get(), before, "the server stopped");
                delete(proxy_reply)?;
                restart_after_syscall(client.tcb())?;
                client.join(&mut objs)?;
                ensure_eq!(client_state.get(), 1, "the client ran on its own context again");
            } else {
                delete(proxy_reply)?;
                delete(server_reply)?;
                let before = state.get();
                sleep_us(ctx, 200_000)?;
                ensure_eq!(state.get(), before, "the server stopped");
                restart_after_syscall(client.tcb())?;
                sleep_us(ctx, 200_000)?;
                ensure_eq!(client_state.get(), 0, "the client lost its context down the chain");
                client.kill(&mut objs);
            }
            proxy_t.kill(&mut objs);
            server.kill(&mut objs);
            Ok(())
        }

        pub fn revoke_sc_chain(ctx: &mut Ctx) -> TestResult {
            let mut objs = setup(ctx, 3)?;
            let ep = endpoint(ctx)?;
            let ep2 = endpoint(ctx)?;
            let proxy_reply = new_reply(ctx)?;
            let server_reply = new_reply(ctx)?;
            let state = Counter::new(0);
            let server = passive(&mut objs, ep2, spinning_server(ep2, state.clone(), server_reply))?;
            let proxy_t = passive(&mut objs, ep, proxy(ep, ep2, proxy_reply))?;
            let client = Helper::new(&mut objs, OUR_PRIO - 1, calling_client(ep, None))?;
            client.start();
            sleep_us(ctx, 200_000)?;
            ensure!(state.get() > 0, "the server ran on the client's time");
            delete(client.sc())?;
            let before = state.get();
            sleep_us(ctx, 200_000)?;
            ensure_eq!(state.get(), before, "the server stopped with the context gone");
            delete(server_reply)?;
            // A new context for the proxy: it finishes its call.
            let sc = new_sched_context(ctx)?;
            bind(sc, proxy_t.tcb())?;
            configure(sc, 5_000_000, 5_000_000, 0, 0)?;
            restart_after_syscall(proxy_t.tcb())?;
            proxy_t.join(&mut objs)?;
            // Then for the client.
            bind(sc, client.tcb())?;
            restart_after_syscall(client.tcb())?;
            client.join(&mut objs)?;
            server.kill(&mut objs);
            Ok(())
        }

        #[allow(unused_imports)]
        use thread_reply as _;
    }
} }
