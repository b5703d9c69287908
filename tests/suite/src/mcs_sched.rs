//! Scheduling on MCS kernels as seL4test's scheduler.c checks it
//! (SCHED0007-SCHED0019, the MCS ones): IPC served in priority order (also
//! when a queued caller's priority changes, and on the fast path), threads
//! without a usable scheduling context, time slices and periodic budgets
//! (timed with the TSC), a suspend and resume that cannot renew a budget,
//! and SchedContext_YieldTo.

use sel4_test_harness::{sel4_test, Ctx, TestResult};

use crate::mcs_util::mcs_only;

#[sel4_test(sel4test = "SCHED0007")]
fn ipc_is_served_in_priority_order(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::ipc_ordered(ctx))
}

/// SCHED0008 and SCHED0009 sleep on real-time MCS budgets (`sleep_us`):
/// on QEMU TCG their length follows the host's load (seen: 0.8 s to more
/// than 30 s for the same boot image), so their timeouts only catch a
/// hang; what they check is the order reached.
#[sel4_test(sel4test = "SCHED0008", timeout_ms = 90_000)]
fn priority_change_on_an_endpoint_queue_reorders_it(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::change_prio_on_endpoint(ctx))
}

#[sel4_test(sel4test = "SCHED0009", timeout_ms = 90_000)]
fn reply_recv_fastpath_serves_in_priority_order(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::ordered_ipc_fastpath(ctx))
}

#[sel4_test(sel4test = "SCHED0010")]
fn resuming_without_a_usable_scheduling_context(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::resume_empty_or_no_sc(ctx))
}

/// Partly: seL4test wants each slice within 2 ms of 100 ms. On QEMU (TCG
/// has no TSC-deadline timer) the MCS kernel programs the local APIC timer
/// through an integer TSC/APIC ratio (`x86KSapicRatio`: 2 for a true 2.73
/// on this machine) and an APIC frequency it measured against the PIT on a
/// busy emulator, so slices come out 1.1-1.6 times long (measured 110-165
/// ms in different boots); the lower bound is kept, the upper one is two
/// slices.
#[sel4_test(sel4test_partly = "SCHED0011", timeout_ms = 20_000)]
fn time_slice_accuracy(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::scheduler_accuracy(ctx))
}

#[sel4_test(sel4test = "SCHED0012", timeout_ms = 30_000)]
fn one_periodic_thread(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::one_periodic_thread(ctx))
}

#[sel4_test(sel4test = "SCHED0013", timeout_ms = 30_000)]
fn two_periodic_threads(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::two_periodic_threads(ctx))
}

/// Partly: seL4test wants the 25 ms thread to have run at least 4 times,
/// and the 50 ms one twice, as often as the 100 ms one. With the APIC
/// timer's error on QEMU (see `time_slice_accuracy`) budgets and periods
/// stretch unevenly in this overloaded set (80 + 40 + 20 % of the
/// processor); measured 39 and 20 against 11. Kept: the order, at least 3
/// and 1.5 times.
#[sel4_test(sel4test_partly = "SCHED0014", timeout_ms = 30_000)]
fn periodic_threads_run_by_their_share(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::ordering_periodic_threads(ctx))
}

#[sel4_test(sel4test = "SCHED0016")]
fn resume_cannot_renew_a_budget(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::resume_no_overflow(ctx))
}

#[sel4_test(sel4test = "SCHED0017")]
fn yield_to_errors(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::yield_to_errors(ctx))
}

#[sel4_test(sel4test = "SCHED0018", timeout_ms = 20_000)]
fn yield_to_cleanup(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::yield_to_cleanup(ctx))
}

#[sel4_test(sel4test = "SCHED0019")]
fn yield_to(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::yield_to(ctx))
}

sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
    mod imp {
        use alloc::format;
        use alloc::string::String;
        use alloc::vec::Vec;
        use sel4_sys::mcs::{recv_regs_with, reply_recv_regs_with, thread_reply};
        use sel4_sys::{Error, InvocationLabel, MessageInfo, Word};
        use sel4_test_harness::kernel::{self, invoke, rights};
        use sel4_test_harness::{ensure, ensure_eq, Ctx, Failure, TestResult};

        use crate::mcs_util::*;
        use crate::util::endpoint;

        const MAX_PRIO: u8 = 255;

        pub fn ipc_ordered(ctx: &mut Ctx) -> TestResult {
            const CLIENTS: u8 = 5;
            let prio = |x: u8| MAX_PRIO - 1 - CLIENTS + x;
            let mut objs = setup(ctx, 6)?;
            let ep = endpoint(ctx)?;
            let mut clients = Vec::new();
            for i in 0..CLIENTS {
                let p = prio(i);
                clients.push(Helper::new(&mut objs, p, move || {
                    call(ep, MessageInfo::new(0, 0, 0, 1), Word::from(p));
                })?);
            }
            let server = Helper::new(&mut objs, MAX_PRIO - 1, move || -> Result<(), String> {
                let reply = thread_reply();
                let mut r = recv_regs_with(ep, reply);
                for i in (0..CLIENTS).rev() {
                    if r.mrs[0] != Word::from(prio(i)) {
                        return Err(format!("request from priority {}, expected {}", r.mrs[0], prio(i)));
                    }
                    if i > 0 {
                        r = reply_recv_regs_with(ep, empty(), [0; 4], reply);
                    }
                }
                sel4_sys::send_regs(reply, empty(), [0; 4]);
                Ok(())
            })?;
            // Out of order, so they queue in order of priority.
            for i in [2, 0, 4, 1, 3] {
                clients[i].start();
            }
            server.start();
            helper_ok(server.join(&mut objs)?)?;
            for c in clients {
                c.kill(&mut objs);
            }
            Ok(())
        }

        pub fn change_prio_on_endpoint(ctx: &mut Ctx) -> TestResult {
            const CLIENTS: usize = 5;
            let mut objs = setup(ctx, CLIENTS)?;
            let ep = endpoint(ctx)?;
            let highest = MAX_PRIO - 1 - 5; // below this thread (250)
            let lowest = highest - CLIENTS as u8 - 2;
            let first_prio = highest - CLIENTS as u8 - 1;
            let middle = highest - 3;
            let mut clients = Vec::new();
            let mut replies = Vec::new();
            for i in 0..CLIENTS {
                let prio = first_prio + i as u8;
                let badged = ctx.slot()?;
                kernel::cnode_mint(badged, ep, rights::ALL, i as Word)?;
                let c = Helper::new(&mut objs, prio, move || loop {
                    call(badged, empty(), 0);
                })?;
                replies.push(c.reply());
                clients.push(c);
            }
            let reply = new_reply(ctx)?;
            // One client queued; its priority down, then up.
            clients[0].start();
            clients[0].set_priority(lowest)?;
            let r = recv_regs_with(ep, reply);
            ensure_eq!(r.badge, 0);
            sel4_sys::send_regs(reply, empty(), [0; 4]);
            clients[0].set_priority(lowest + 1)?;
            let r = recv_regs_with(ep, reply);
            ensure_eq!(r.badge, 0);
            sel4_sys::send_regs(reply, empty(), [0; 4]);
            for c in &clients[1..] {
                c.start();
            }
            sleep_us(ctx, 100_000)?;
            let check = |ctx: &Ctx, pos: usize| -> TestResult {
                let mut expected = CLIENTS as Word - 1;
                for (i, &r) in replies.iter().enumerate() {
                    let got = recv_regs_with(ep, r).badge;
                    if i == pos {
                        ensure_eq!(got, 0, "client 0 at position {pos}");
                    } else {
                        ensure_eq!(got, expected, "position {i}");
                        expected -= 1;
                    }
                }
                for &r in &replies {
                    sel4_sys::send_regs(r, empty(), [0; 4]);
                }
                sleep_us(ctx, 100_000)
            };
            for (p, pos) in [
                (lowest, 4),
                (middle, 2),
                (highest - 1, 0),
                (highest, 0),
                (highest - 1, 0),
                (middle, 2),
                (lowest, 4),
            ] {
                clients[0].set_priority(p)?;
                check(ctx, pos)?;
            }
            for c in clients {
                c.kill(&mut objs);
            }
            Ok(())
        }

        pub fn ordered_ipc_fastpath(ctx: &mut Ctx) -> TestResult {
            const SERVERS: usize = 5;
            let mut objs = setup(ctx, SERVERS)?;
            let ep = endpoint(ctx)?;
            let mut servers = Vec::new();
            for i in 0..SERVERS {
                // Below this thread (250): it must wait for their answers.
                let prio = OUR_PRIO - 1 - SERVERS as u8 + i as u8;
                servers.push(Helper::new(&mut objs, prio, move || {
                    let reply = thread_reply();
                    recv_regs_with(ep, reply);
                    loop {
                        reply_recv_regs_with(ep, MessageInfo::new(0, 0, 0, 1), [i as Word, 0, 0, 0], reply);
                    }
                })?);
            }
            servers[0].start();
            ensure_eq!(call(ep, empty(), 0).mrs[0], 0);
            for (i, server) in servers.iter().enumerate().skip(1) {
                server.start();
                sleep_us(ctx, 100_000)?;
                ensure_eq!(call(ep, empty(), 0).mrs[0], i as Word, "the higher server, started last");
            }
            for _ in 0..SERVERS {
                ensure_eq!(call(ep, empty(), 0).mrs[0], SERVERS as Word - 1, "the highest server");
            }
            for i in (0..SERVERS).rev() {
                invoke(servers[i].tcb(), InvocationLabel::TCBSuspend, &[], &[])?;
                if i > 0 {
                    ensure_eq!(call(ep, empty(), 0).mrs[0], i as Word - 1, "the next lower server");
                }
            }
            for s in servers {
                s.kill(&mut objs);
            }
            Ok(())
        }

        pub fn resume_empty_or_no_sc(ctx: &mut Ctx) -> TestResult {
            let mut objs = setup(ctx, 1)?;
            let state = Counter::new(0);
            let s = state.clone();
            let h = Helper::new(&mut objs, OUR_PRIO - 1, move || {
                s.inc();
            })?;
            h.unbind_sc()?;
            h.start();
            invoke(h.tcb(), InvocationLabel::TCBResume, &[], &[])?;
            sleep_us(ctx, 10_000)?;
            ensure_eq!(state.get(), 0, "no scheduling context: it did not run");
            delete(h.sc())?;
            invoke(h.tcb(), InvocationLabel::TCBResume, &[], &[])?;
            sleep_us(ctx, 10_000)?;
            ensure_eq!(state.get(), 0, "still not");
            h.kill(&mut objs);
            Ok(())
        }

        pub fn scheduler_accuracy(ctx: &mut Ctx) -> TestResult {
            let mut objs = setup(ctx, 1)?;
            let period_us = 100_000;
            let h = Helper::new(&mut objs, OUR_PRIO - 1, || loop {
                core::hint::spin_loop();
            })?;
            h.sched_params(period_us, period_us, 0)?;
            h.start();
            h.set_priority(OUR_PRIO)?;
            sel4_sys::yield_now();
            // A slice never ends early (seL4test's lower bound); the upper
            // bound is two slices (see the test's documentation): a slice of
            // the default 5 ms, or two slices run as one, still fail.
            let mut errors = Vec::new();
            for i in 0..11 {
                let start = sel4_sys::arch::read_counter();
                sel4_sys::yield_now();
                let took = ctx.micros_since(start);
                if i > 0 && (took + 2_000 < period_us || took >= 2 * period_us) {
                    errors.push(format!("yield {i}: {took} us"));
                }
            }
            h.kill(&mut objs);
            ensure!(errors.is_empty(), "the other thread's 100 ms slice: {}", errors.join(", "));
            Ok(())
        }

        /// seL4test's `periodic_thread`: counts its periods (one yield
        /// each) up to `limit`.
        fn periodic(counter: Counter, limit: u64) -> impl FnOnce() -> Result<(), String> + Send {
            move || loop {
                if counter.inc() > limit {
                    return Err(format!("more than {limit} periods"));
                }
                sel4_sys::yield_now();
            }
        }

        pub fn one_periodic_thread(ctx: &mut Ctx) -> TestResult {
            let mut objs = setup(ctx, 1)?;
            set_own_priority(ctx, OUR_PRIO - 1)?;
            let counter = Counter::new(0);
            let h = Helper::new(&mut objs, OUR_PRIO, periodic(counter.clone(), 10))?;
            h.sched_params(200_000, 1_000_000, 0)?;
            h.start();
            while counter.get() < 5 {
                sleep_us(ctx, 1_000_000)?;
            }
            h.kill(&mut objs);
            Ok(())
        }

        pub fn two_periodic_threads(ctx: &mut Ctx) -> TestResult {
            let mut objs = setup(ctx, 2)?;
            set_own_priority(ctx, OUR_PRIO - 1)?;
            let c = [Counter::new(0), Counter::new(0)];
            let a = Helper::new(&mut objs, OUR_PRIO, periodic(c[0].clone(), 10))?;
            let b = Helper::new(&mut objs, OUR_PRIO, periodic(c[1].clone(), 10))?;
            a.sched_params(99_000, 100_000, 0)?;
            b.sched_params(99_000, 200_000, 0)?;
            a.start();
            b.start();
            sleep_us(ctx, 150_000)?;
            while c[0].get() < 3 && c[1].get() < 3 {
                ensure!(c[0].get() > c[1].get(), "the 100 ms thread ahead of the 200 ms one");
                sleep_us(ctx, 100_000)?;
            }
            a.kill(&mut objs);
            b.kill(&mut objs);
            Ok(())
        }

        pub fn ordering_periodic_threads(ctx: &mut Ctx) -> TestResult {
            let mut objs = setup(ctx, 3)?;
            set_own_priority(ctx, OUR_PRIO - 1)?;
            sleep_us(ctx, 50_000)?;
            let c = [Counter::new(0), Counter::new(0), Counter::new(0)];
            let mut hs = Vec::new();
            for (i, period) in [25_000, 50_000, 100_000].into_iter().enumerate() {
                let h = Helper::new(&mut objs, OUR_PRIO, periodic(c[i].clone(), 100))?;
                h.sched_params(20_000, period, 0)?;
                hs.push(h);
            }
            for h in &hs {
                h.start();
            }
            const LIMIT: u64 = 11;
            while c[2].get() < LIMIT {
                sleep_us(ctx, 100_000)?;
            }
            let counts = (c[0].get(), c[1].get(), c[2].get());
            for h in hs {
                h.kill(&mut objs);
            }
            ensure!(
                counts.0 > counts.1 && counts.1 > counts.2,
                "the shorter the period, the more periods: {counts:?}"
            );
            ensure!(counts.0 >= (LIMIT - 1) * 3, "the 25 ms thread ran 3 times as often: {counts:?}");
            ensure!(2 * counts.1 >= (LIMIT - 1) * 3, "the 50 ms thread ran 1.5 times as often: {counts:?}");
            Ok(())
        }

        pub fn resume_no_overflow(ctx: &mut Ctx) -> TestResult {
            let mut objs = setup(ctx, 1)?;
            let state = Counter::new(0);
            let s = state.clone();
            let h = Helper::new(&mut objs, OUR_PRIO, move || loop {
                s.inc();
                sel4_sys::yield_now();
            })?;
            // One second every ten minutes.
            h.sched_params(1_000_000, 600_000_000, 0)?;
            h.start();
            sel4_sys::yield_now();
            ensure_eq!(state.get(), 1);
            for _ in 0..10 {
                invoke(h.tcb(), InvocationLabel::TCBSuspend, &[], &[])?;
                invoke(h.tcb(), InvocationLabel::TCBResume, &[], &[])?;
                sel4_sys::yield_now();
                ensure_eq!(state.get(), 1, "suspend and resume gave it no new budget");
            }
            h.kill(&mut objs);
            Ok(())
        }

        fn yield_to_call(sc: Word) -> (Option<Error>, Word) {
            match invoke(sc, InvocationLabel::SchedContextYieldTo, &[], &[]) {
                Ok(r) => (None, r.mrs[0]),
                Err(e) => (e.error, 0),
            }
        }

        fn yield_to_fn(sc: Word) -> impl FnOnce() -> (Option<Error>, Word) + Send {
            move || yield_to_call(sc)
        }

        pub fn yield_to_errors(ctx: &mut Ctx) -> TestResult {
            let mut objs = setup(ctx, 1)?;
            let own = sel4_runtime::thread::current_sched_context()
                .ok_or_else(|| Failure::fail("the test thread has no scheduling context"))?;
            ensure_eq!(yield_to_call(own).0, Some(Error::IllegalOperation), "to itself");
            let sc = new_sched_context(ctx)?;
            ensure_eq!(yield_to_call(sc).0, Some(Error::IllegalOperation), "an unbound one");
            // Its thread not runnable (waiting to start): permitted, at once.
            let h = Helper::new(&mut objs, OUR_PRIO - 1, yield_to_fn(own))?;
            ensure_eq!(yield_to_call(h.sc()), (None, 0), "a blocked thread");
            // The helper (MCP 0) may not yield to this thread (above its MCP).
            h.set_mcp(0)?;
            h.start();
            ensure_eq!(h.join(&mut objs)?.0, Some(Error::IllegalOperation), "above its MCP");
            Ok(())
        }

        fn spinner() -> impl FnOnce() + Send {
            || loop {
                core::hint::spin_loop();
            }
        }

        pub fn yield_to_cleanup(ctx: &mut Ctx) -> TestResult {
            let mut objs = setup(ctx, 2)?;
            // The thread yielded to is suspended.
            let to = Helper::new(&mut objs, OUR_PRIO - 1, spinner())?;
            let from = Helper::new(&mut objs, OUR_PRIO - 1, yield_to_fn(to.sc()))?;
            to.start();
            from.start();
            to.set_mcp(MAX_PRIO)?;
            from.set_mcp(MAX_PRIO)?;
            to.sched_params(500_000, 500_000, 0)?;
            from.sched_params(500_000, 500_000, 0)?;
            sleep_us(ctx, 100_000)?;
            invoke(to.tcb(), InvocationLabel::TCBSuspend, &[], &[])?;
            let (e, consumed) = from.join(&mut objs)?;
            ensure_eq!(e, None);
            ensure!(consumed > 0, "time consumed by the thread yielded to");
            to.kill(&mut objs);
            // The thread yielded to is deleted.
            let to = Helper::new(&mut objs, OUR_PRIO - 1, spinner())?;
            let from = Helper::new(&mut objs, OUR_PRIO - 1, yield_to_fn(to.sc()))?;
            to.set_mcp(MAX_PRIO)?;
            from.set_mcp(MAX_PRIO)?;
            to.start();
            from.start();
            sleep_us(ctx, 100_000)?;
            to.kill(&mut objs);
            let (e, consumed) = from.join(&mut objs)?;
            ensure_eq!(e, None);
            ensure!(consumed > 0, "time consumed before the deletion");
            // The thread that yielded is deleted.
            let to = Helper::new(&mut objs, OUR_PRIO - 1, spinner())?;
            let from = Helper::new(&mut objs, OUR_PRIO - 1, yield_to_fn(to.sc()))?;
            to.start();
            from.start();
            to.set_mcp(MAX_PRIO)?;
            from.set_mcp(MAX_PRIO)?;
            sleep_us(ctx, 100_000)?;
            from.kill(&mut objs);
            to.kill(&mut objs);
            Ok(())
        }

        pub fn yield_to(ctx: &mut Ctx) -> TestResult {
            let mut objs = setup(ctx, 2)?;
            let to = Helper::new(&mut objs, OUR_PRIO - 1, spinner())?;
            let from = Helper::new(&mut objs, OUR_PRIO - 1, yield_to_fn(to.sc()))?;
            to.start();
            from.start();
            to.set_mcp(MAX_PRIO)?;
            from.set_mcp(MAX_PRIO)?;
            to.sched_params(500_000, 500_000, 0)?;
            from.sched_params(500_000, 500_000, 0)?;
            let (e, _consumed) = from.join(&mut objs)?;
            ensure_eq!(e, None, "YieldTo");
            to.kill(&mut objs);
            Ok(())
        }
    }
} }
