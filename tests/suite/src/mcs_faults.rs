//! Timeout faults, notification binding without and with a scheduling
//! context, and NBSendRecv's registers, on MCS kernels (seL4test's
//! TIMEOUTFAULT0001-0003, BIND005-006 and the driver's SYSCALL0018).
//!
//! seL4test restores a server after a timeout fault from a checkpoint of
//! its registers and stack; here the servers' code after the checkpoint
//! (a spin loop) writes nothing to its stack, so the registers alone
//! (the timeout reply) restore it.

use sel4_test_harness::{sel4_test, Ctx, TestResult};

use crate::mcs_util::mcs_only;

#[sel4_test(sel4test = "TIMEOUTFAULT0001")]
fn timeout_fault(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::timeout_fault(ctx))
}

#[sel4_test(sel4test = "TIMEOUTFAULT0002", timeout_ms = 30_000)]
fn timeout_fault_in_a_server(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::timeout_fault_in_server(ctx))
}

#[sel4_test(sel4test = "TIMEOUTFAULT0003", timeout_ms = 30_000)]
fn timeout_faults_of_nested_servers(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::timeout_fault_nested(ctx))
}

#[sel4_test(sel4test = "BIND005")]
fn bound_notification_without_scheduling_context(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::binding(ctx, false))
}

#[sel4_test(sel4test = "BIND006")]
fn bound_notification_with_a_scheduling_context(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::binding(ctx, true))
}

#[sel4_test(sel4test = "SYSCALL0018")]
fn nb_send_recv_keeps_registers(ctx: &mut Ctx) -> TestResult {
    mcs_only!(ctx, imp::nb_send_recv_registers(ctx))
}

sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
    mod imp {
        use alloc::format;
        use sel4_sys::mcs::{nb_send_recv_regs, recv_regs_with, reply_recv_regs_with, thread_reply, wait_regs};
        use sel4_sys::{consts, Fault, FaultLabel, InvocationLabel, MessageInfo, Word};
        use sel4_test_harness::kernel::{self, invoke, rights};
        use sel4_test_harness::{ensure_eq, Ctx, Failure, TestResult};

        use crate::mcs_util::*;
        use crate::util::{endpoint, notification, read_regs};

        fn set_timeout_endpoint(tcb: Word, ep: Word) -> TestResult {
            invoke(tcb, InvocationLabel::TCBSetTimeoutEndpoint, &[ep], &[])?;
            Ok(())
        }

        fn check_timeout(r: &sel4_sys::Received, data: Word) -> TestResult {
            ensure_eq!(r.info.get_label(), FaultLabel::Timeout as u64, "a timeout fault");
            ensure_eq!(r.info.get_length() as usize, consts::Timeout_Length, "its length");
            match Fault::decode(r.info.get_label(), &r.mrs[..consts::Timeout_Length]) {
                Fault::Timeout { badge, .. } => ensure_eq!(badge, data, "the scheduling context's badge"),
                other => return Err(Failure::fail(format!("decoded as {other:?}"))),
            }
            Ok(())
        }

        pub fn timeout_fault(ctx: &mut Ctx) -> TestResult {
            let mut objs = setup(ctx, 1)?;
            let data = 1;
            let ep = endpoint(ctx)?;
            let ro = new_reply(ctx)?;
            let h = Helper::new(&mut objs, OUR_PRIO - 1, || loop {
                core::hint::spin_loop();
            })?;
            h.sched_params(1000, 2000, data)?;
            set_timeout_endpoint(h.tcb(), ep)?;
            h.start();
            let mut r = recv_regs_with(ep, ro);
            for _ in 0..100 {
                check_timeout(&r, data)?;
                // An empty reply resumes it.
                r = reply_recv_regs_with(ep, empty(), [0; 4], ro);
            }
            h.kill(&mut objs);
            Ok(())
        }

        /// A passive server that spins on its client's time: a timeout
        /// fault of the client's scheduling context ends each request.
        fn spinning_server(ep: Word) -> impl FnOnce() + Send + 'static {
            move || {
                let reply = thread_reply();
                nb_send_recv_regs(ep, empty(), [0; 4], ep, reply);
                loop {
                    core::hint::spin_loop();
                }
            }
        }

        /// A client that calls forever; the timeout handler answers each
        /// call with -1.
        fn client(ep: Word, errors: Counter) -> impl FnOnce() + Send + 'static {
            move || loop {
                let r = call(ep, empty(), 0);
                if r.mrs[0] != Word::MAX {
                    errors.inc();
                }
            }
        }

        /// A passive thread (`create_passive_thread`) whose timeout faults
        /// go to `tfep` with `badge`; its registers as it waits, blocked
        /// in its first receive (seL4test's checkpoint).
        fn passive_with_tfep<F: FnOnce() + Send + 'static>(
            ctx: &mut Ctx,
            objs: &mut sel4_rootserver::objects::Objects,
            tfep: Word,
            badge: Word,
            ep: Word,
            f: F,
        ) -> Result<(Helper<()>, alloc::vec::Vec<Word>), Failure> {
            let minted = ctx.slot()?;
            kernel::cnode_mint(minted, tfep, rights::ALL, badge)?;
            let h = Helper::new(objs, OUR_PRIO - 1, f)?;
            h.start();
            wait_regs(ep);
            h.unbind_sc()?;
            set_timeout_endpoint(h.tcb(), minted)?;
            // The words of a timeout reply: the registers in the order of
            // the kernel's user context, TLS base included.
            let regs = read_regs(h.tcb(), consts::TimeoutReply_Length)?;
            Ok((h, regs))
        }

        /// seL4test's `handle_timeout_fault`: the next timeout fault on
        /// `tfep` (a server's, badged `badge`, of the client's context with
        /// `data`): answers its client with -1 through the server's reply
        /// object `server_reply`, restores the server from `regs` on its
        /// own scheduling context, waits for it to be back in its receive
        /// on `ep`, and makes it passive again.
        #[allow(clippy::too_many_arguments)] // seL4test's handle_timeout_fault
        fn handle_timeout_fault(
            ctx: &mut Ctx,
            tfep: Word,
            badge: Word,
            server: &Helper<()>,
            server_reply: Word,
            regs: &[Word],
            ep: Word,
            data: Word,
        ) -> TestResult {
            let fault_reply = new_reply(ctx)?;
            let r = recv_regs_with(tfep, fault_reply);
            ensure_eq!(r.badge, badge, "the faulting server");
            check_timeout(&r, data)?;
            // Answer the client on the server's behalf.
            sel4_sys::send_regs(server_reply, MessageInfo::new(0, 0, 0, 1), [Word::MAX, 0, 0, 0]);
            server.bind_sc()?;
            // The timeout reply: the server's registers as they were (the
            // reply's words are the user context's registers in its order,
            // on every architecture: FaultIP, the stack pointer, ..., the
            // TLS base).
            let mut words = [0 as Word; consts::TimeoutReply_Length];
            words.copy_from_slice(&regs[..consts::TimeoutReply_Length]);
            sel4_sys::ipc_buffer().write_msgs(4, &words[4..]);
            let info = MessageInfo::new(0, 0, 0, consts::TimeoutReply_Length as Word);
            let mut mrs = [0; 4];
            mrs.copy_from_slice(&words[..4]);
            // Reply (resuming it where it waited) and receive its restart
            // signal on `ep`.
            reply_recv_regs_with(ep, info, mrs, fault_reply);
            server.unbind_sc()?;
            delete(fault_reply)?;
            Ok(())
        }

        pub fn timeout_fault_in_server(ctx: &mut Ctx) -> TestResult {
            let mut objs = setup(ctx, 2)?;
            let client_data = 1;
            let server_badge = 2;
            let tfep = endpoint(ctx)?;
            let ep = endpoint(ctx)?;
            let (server, regs) =
                passive_with_tfep(ctx, &mut objs, tfep, server_badge, ep, spinning_server(ep))?;
            let errors = Counter::new(0);
            let c = Helper::new(&mut objs, OUR_PRIO - 1, client(ep, errors.clone()))?;
            c.sched_params(100_000, 101_000, client_data)?;
            c.start();
            server.set_priority(OUR_PRIO - 1)?;
            c.set_priority(OUR_PRIO - 2)?;
            for _ in 0..5 {
                handle_timeout_fault(ctx, tfep, server_badge, &server, server.reply(), &regs, ep, client_data)?;
            }
            ensure_eq!(errors.get(), 0, "each call ended with the handler's -1");
            c.kill(&mut objs);
            server.kill(&mut objs);
            Ok(())
        }

        pub fn timeout_fault_nested(ctx: &mut Ctx) -> TestResult {
            let mut objs = setup(ctx, 3)?;
            let client_data = 1;
            let (server_badge, proxy_badge) = (2, 3);
            let client_proxy_ep = endpoint(ctx)?;
            let proxy_server_ep = endpoint(ctx)?;
            let tfep = endpoint(ctx)?;
            let (server, server_regs) = passive_with_tfep(
                ctx,
                &mut objs,
                tfep,
                server_badge,
                proxy_server_ep,
                spinning_server(proxy_server_ep),
            )?;
            let (proxy, proxy_regs) = passive_with_tfep(
                ctx,
                &mut objs,
                tfep,
                proxy_badge,
                client_proxy_ep,
                move || {
                    let ro = thread_reply();
                    let mut r = nb_send_recv_regs(
                        client_proxy_ep,
                        MessageInfo::new(0, 0, 0, 1),
                        [0; 4],
                        client_proxy_ep,
                        ro,
                    );
                    loop {
                        let back = call(proxy_server_ep, r.info, r.mrs[0]);
                        r = reply_recv_regs_with(client_proxy_ep, back.info, back.mrs, ro);
                    }
                },
            )?;
            let errors = Counter::new(0);
            let c = Helper::new(&mut objs, OUR_PRIO - 1, client(client_proxy_ep, errors.clone()))?;
            // sel4test's budget and period: 0.1 s in 1 s. The order below
            // (the server's fault, then the proxy's) holds only while the
            // client's scheduling context is still empty when the handler
            // answers the proxy's call on the server's behalf: the reply
            // gives the proxy that context back, and the kernel raises the
            // proxy's timeout fault right there (doReplyTransfer) only if
            // the context has no refill ready; with a refill ready it runs
            // the proxy on, the proxy answers the client, the client calls
            // again and the next fault is the server's. With a period just
            // above the budget (101 ms, as before) the refill came 1 ms
            // after the budget ran out, less than the handler's work takes
            // on a slow QEMU: the faults then came server, server, ... (seen
            // on riscv64 MCS). 0.9 s of margin makes the order the kernel's.
            configure(c.sc(), 100_000, 1_000_000, 0, client_data)?;
            c.start();
            for _ in 0..5 {
                handle_timeout_fault(
                    ctx,
                    tfep,
                    server_badge,
                    &server,
                    server.reply(),
                    &server_regs,
                    proxy_server_ep,
                    client_data,
                )?;
                handle_timeout_fault(
                    ctx,
                    tfep,
                    proxy_badge,
                    &proxy,
                    proxy.reply(),
                    &proxy_regs,
                    client_proxy_ep,
                    client_data,
                )?;
            }
            c.kill(&mut objs);
            proxy.kill(&mut objs);
            server.kill(&mut objs);
            Ok(())
        }

        pub fn binding(ctx: &mut Ctx, with_sc: bool) -> TestResult {
            let mut objs = setup(ctx, 1)?;
            let ep = endpoint(ctx)?;
            let ntfn = notification(ctx)?;
            let state = Counter::new(0);
            let s = state.clone();
            let h = Helper::new(&mut objs, 10, move || {
                s.set(1);
                wait_regs(ep);
                s.set(2);
            })?;
            set_own_priority(ctx, 9)?;
            invoke(h.tcb(), InvocationLabel::TCBBindNotification, &[ntfn], &[])?;
            h.start();
            ensure_eq!(state.get(), 1, "it waits on the endpoint");
            h.unbind_sc()?;
            if with_sc {
                // The notification lends it its own scheduling context.
                invoke(h.sc(), InvocationLabel::SchedContextBind, &[ntfn], &[])?;
                sel4_sys::signal(ntfn);
                ensure_eq!(state.get(), 2, "woken on the notification's scheduling context");
            } else {
                sel4_sys::signal(ntfn);
                ensure_eq!(state.get(), 1, "woken, but it cannot run");
                h.bind_sc()?;
                ensure_eq!(state.get(), 2, "it got the signal once it could run");
            }
            h.kill(&mut objs);
            Ok(())
        }

        pub fn nb_send_recv_registers(ctx: &mut Ctx) -> TestResult {
            let ntfn = notification(ctx)?;
            // The probe fills the reply object's register and the send's
            // destination's (x86_64 R12 and R13, aarch64 X6 and X8,
            // riscv64 A6 and the one after the message registers) with
            // magic values: no capability, so the send goes nowhere (a
            // non-blocking send to nothing is dropped) and the receive, on
            // a notification, needs no reply object.
            #[cfg(target_arch = "x86_64")]
            {
                use sel4_asm_probes::{syscall_probe, SpHolder, SyscallArgs};
                let kept = ["rax", "rbx", "rbp", "r12", "r13", "r14", "rdx"];
                for holder in [SpHolder::R14, SpHolder::Rbx] {
                    for i in 0..5 {
                        sel4_sys::signal(ntfn);
                        let p = syscall_probe(
                            sel4_sys::Syscall::NBSendRecv,
                            SyscallArgs { cap: ntfn, info: 0, mr: [0; 4] },
                            holder,
                        );
                        for &r in &kept {
                            let find = |g: &sel4_asm_probes::Gprs| {
                                g.named().iter().find(|(n, _)| *n == r).map(|(_, v)| *v)
                            };
                            ensure_eq!(
                                find(&p.after),
                                find(&p.before),
                                "NBSendRecv run {i}, {holder:?}: {r} changed"
                            );
                        }
                    }
                }
            }
            // aarch64 and riscv64: every register of the kernel's
            // seL4_UserContext but the ones the receive's reply writes.
            #[cfg(not(target_arch = "x86_64"))]
            {
                use sel4_asm_probes::{syscall_probe, SyscallArgs};
                use sel4_sys::syscall_abi::REPLY_REGISTERS;
                use sel4_sys::UserContext;
                for i in 0..10 {
                    sel4_sys::signal(ntfn);
                    let p = syscall_probe(
                        sel4_sys::Syscall::NBSendRecv,
                        SyscallArgs { cap: ntfn, info: 0, mr: [0; 4] },
                    );
                    let (before, after) = (p.before.words(), p.after.words());
                    for (n, r) in UserContext::NAMES.iter().enumerate() {
                        if !REPLY_REGISTERS.contains(&n) {
                            ensure_eq!(after[n], before[n], "NBSendRecv run {i}: {r} changed");
                        }
                    }
                }
            }
            ensure_eq!(sel4_sys::poll(ntfn), 0, "each receive took its signal");
            Ok(())
        }
    }
} }
