//! Helpers of the MCS tests (`mcs_*.rs`): the ports of seL4test's MCS-only
//! tests and the tests of the framework's MCS parts.
//!
//! Every MCS test is compiled on every kernel (the test collector reads
//! the source and does not evaluate configuration): its body is
//! [`mcs_only!`], which runs the MCS implementation (in a module compiled
//! on MCS kernels only) or skips on the others.
//!
//! Priorities as in seL4test: the test lifts its own thread to
//! [`TEST_TOP`](crate::support::TEST_TOP) and lowers the harness thread to
//! 0 ([`setup`]), so that seL4test's priorities (helpers at 10, the test
//! lowering itself to 9, ...) mean here what they mean there.
//!
//! A [`Helper`] is seL4test's helper thread: a thread of the framework (its
//! own scheduling context with the default budget, and reply object) whose
//! body starts only at [`Helper::start`], so that the test can change its
//! scheduling context and priority first. seL4test's `sel4test_sleep`
//! blocks on a timer; [`sleep_us`] blocks the test thread for a time on its
//! own scheduling context instead (a budget smaller than its period, used
//! up by a yield), so that lower-priority threads run meanwhile.

/// The body of a test that applies to MCS kernels only: `$body` (an
/// expression of type `TestResult`) there; on other kernels the test
/// skips, naming the reason.
macro_rules! mcs_only {
    ($ctx:expr, $body:expr) => {
        sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
            $body
        } else {
            {
                let _ = $ctx;
                Err(sel4_test_harness::Failure::Skip(alloc::string::String::from(
                    "MCS only: scheduling contexts, reply objects and donation exist on MCS \
kernels (KernelIsMCS); sel4test runs this test there only",
                )))
            }
        } }
    };
}
pub(crate) use mcs_only;

sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
    pub use imp::*;

    mod imp {
        use alloc::format;
        use alloc::sync::Arc;
        use core::sync::atomic::{AtomicU64, Ordering::SeqCst};
        use sel4::mcs::SchedControlOps;
        use sel4_rootserver::objects::Objects;
        use sel4_rootserver::sched::Budget;
        use sel4_rootserver::thread::{JoinHandle, ThreadBuilder};
        use sel4_rootserver::{Cap, Notification, Owned};
        use sel4_sys::{InvocationLabel, MessageInfo, Word};
        use sel4_test_harness::kernel::{self, invoke, KResult};
        use sel4_test_harness::{Ctx, Failure, TestResult};

        use crate::support::{lift, lower_harness, HELPER_STACK, TEST_TOP};
        use crate::util::{fw, read_regs, reg, set_priority, write_regs};

        /// seL4test's `OUR_PRIO` (the test thread's priority).
        pub const OUR_PRIO: u8 = TEST_TOP;

        /// seL4test's `RUNS`.
        pub const RUNS: u64 = 10;

        /// An empty message.
        pub fn empty() -> MessageInfo {
            MessageInfo::new(0, 0, 0, 0)
        }

        /// Lifts the test thread, lowers the harness and gives the test an
        /// `Objects` for `threads` helpers.
        pub fn setup(ctx: &mut Ctx, threads: usize) -> Result<Objects, Failure> {
            lift(ctx)?;
            lower_harness()?;
            ctx.objects(crate::support::slots_for(threads) + 16 * threads)
        }

        /// The test thread's priority (seL4test's `seL4_TCB_SetPriority(env->tcb, ..)`).
        pub fn set_own_priority(ctx: &Ctx, prio: u8) -> TestResult {
            set_priority(ctx.own_tcb(), Word::from(prio))?;
            Ok(())
        }

        /// A counter shared with helper threads (seL4test's `volatile int *state`).
        #[derive(Clone, Default)]
        pub struct Counter(Arc<AtomicU64>);

        impl Counter {
            pub fn new(v: u64) -> Counter {
                Counter(Arc::new(AtomicU64::new(v)))
            }
            pub fn get(&self) -> u64 {
                self.0.load(SeqCst)
            }
            pub fn set(&self, v: u64) {
                self.0.store(v, SeqCst)
            }
            pub fn inc(&self) -> u64 {
                self.0.fetch_add(1, SeqCst) + 1
            }
        }

        /// A helper thread whose body runs only after [`Helper::start`].
        pub struct Helper<R> {
            h: Option<JoinHandle<R>>,
            go: Option<Owned<Notification>>,
        }

        impl<R: Send + 'static> Helper<R> {
            /// A helper at `prio` (maximum controlled priority 0, as
            /// seL4test's helpers; [`Helper::set_mcp`]).
            pub fn new<F>(objs: &mut Objects, prio: u8, f: F) -> Result<Helper<R>, Failure>
            where
                F: FnOnce() -> R + Send + 'static,
            {
                Self::with(objs, ThreadBuilder::new().priority(prio).stack_size(HELPER_STACK), f)
            }

            /// A helper made with `b`.
            pub fn with<F>(objs: &mut Objects, b: ThreadBuilder<'_>, f: F) -> Result<Helper<R>, Failure>
            where
                F: FnOnce() -> R + Send + 'static,
            {
                let go: Owned<Notification> = objs.create().map_err(fw("notification"))?;
                let g = go.cptr();
                let h = b
                    .spawn(objs, move || {
                        sel4_sys::wait(g);
                        f()
                    })
                    .map_err(fw("spawn a helper"))?;
                Ok(Helper {
                    h: Some(h),
                    go: Some(go),
                })
            }

            fn handle(&self) -> &JoinHandle<R> {
                self.h.as_ref().unwrap_or_else(|| unreachable!("taken by join or kill"))
            }

            /// Lets the helper run its body (seL4test's `start_helper`).
            pub fn start(&self) {
                if let Some(g) = &self.go {
                    sel4_sys::signal(g.cptr());
                }
            }

            pub fn tcb(&self) -> Word {
                self.handle().tcb().cptr()
            }

            /// Its own scheduling context.
            pub fn sc(&self) -> Word {
                self.handle().sched_context().cptr()
            }

            /// Its reply object.
            pub fn reply(&self) -> Word {
                self.handle().reply_object().cptr()
            }

            pub fn set_priority(&self, prio: u8) -> TestResult {
                set_priority(self.tcb(), Word::from(prio))?;
                Ok(())
            }

            pub fn set_mcp(&self, mcp: u8) -> TestResult {
                invoke(
                    self.tcb(),
                    InvocationLabel::TCBSetMCPriority,
                    &[kernel::ROOT_TCB],
                    &[Word::from(mcp)],
                )?;
                Ok(())
            }

            /// `SchedContext_Unbind` of its scheduling context.
            pub fn unbind_sc(&self) -> KResult {
                invoke(self.sc(), InvocationLabel::SchedContextUnbind, &[], &[])
            }

            /// `SchedContext_Bind` of its scheduling context to it.
            pub fn bind_sc(&self) -> KResult {
                invoke(self.sc(), InvocationLabel::SchedContextBind, &[self.tcb()], &[])
            }

            /// seL4test's `set_helper_sched_params`: its scheduling context
            /// gets `budget_us` of every `period_us`, `badge` for timeout
            /// faults.
            pub fn sched_params(&self, budget_us: u64, period_us: u64, badge: Word) -> KResult {
                configure(self.sc(), budget_us, period_us, 0, badge)
            }

            /// Waits for its end (seL4test's `wait_for_helper`) and tears it
            /// down.
            pub fn join(mut self, objs: &mut Objects) -> Result<R, Failure> {
                let h = self.h.take().unwrap_or_else(|| unreachable!("joined once"));
                let r = h.join(objs).map_err(fw("join a helper"));
                if let Some(g) = self.go.take() {
                    let _ = objs.delete(g);
                }
                r
            }

            /// Stops and tears it down (seL4test's `cleanup_helper`).
            pub fn kill(mut self, objs: &mut Objects) {
                if let Some(h) = self.h.take() {
                    h.kill(objs);
                }
                if let Some(g) = self.go.take() {
                    let _ = objs.delete(g);
                }
            }
        }

        /// seL4test's `api_sched_ctrl_configure`: SchedControl_ConfigureFlags
        /// of `sc` on this core, no flags, as a raw invocation (to check
        /// the kernel's errors).
        pub fn configure(
            sc: Word,
            budget_us: u64,
            period_us: u64,
            extra_refills: Word,
            badge: Word,
        ) -> KResult {
            invoke(
                sched_control(),
                InvocationLabel::SchedControlConfigureFlags,
                &[sc],
                &[budget_us, period_us, extra_refills, badge, 0],
            )
        }

        /// The scheduling control capability of this core (the runtime
        /// records bootinfo's on MCS kernels).
        pub fn sched_control() -> Word {
            sel4_runtime::thread::sched_control()
                .expect("the runtime records bootinfo's SchedControl on MCS kernels")
        }

        /// A new, unconfigured scheduling context (seL4test's
        /// `vka_alloc_sched_context`).
        pub fn new_sched_context(ctx: &mut Ctx) -> Result<Word, Failure> {
            ctx.create(
                sel4_sys::ObjectType::SchedContextObject,
                sel4_sys::consts::MinSchedContextBits,
            )
        }

        /// A new reply object.
        pub fn new_reply(ctx: &mut Ctx) -> Result<Word, Failure> {
            ctx.create(sel4_sys::ObjectType::ReplyObject, 0)
        }

        /// Deletes the capability in `slot` (seL4test's `vka_free_object`
        /// and `cnode_delete`: the object goes with its last capability).
        pub fn delete(slot: Word) -> TestResult {
            kernel::cnode_delete(slot)?;
            Ok(())
        }

        /// Blocks the calling thread for about `us` microseconds: its own
        /// scheduling context gets a budget smaller than its period, which
        /// a yield uses up, so the thread is not runnable until the budget
        /// comes back; then the default budget again. Threads of any
        /// priority run meanwhile (seL4test's `sel4test_sleep`, there on a
        /// timer).
        pub fn sleep_us(ctx: &Ctx, us: u64) -> TestResult {
            let sc: Cap<sel4_rootserver::cap::cap_type::SchedContext> = Cap::from_cptr(
                sel4_runtime::thread::current_sched_context()
                    .ok_or_else(|| Failure::fail("the test thread has no scheduling context"))?,
            );
            let control = sel4_rootserver::sched::sched_control().map_err(fw("SchedControl"))?;
            let start = sel4_sys::arch::read_counter();
            const SLICE_US: u64 = 100;
            loop {
                let done = ctx.micros_since(start);
                if done >= us {
                    break;
                }
                let left = (us - done).max(2 * SLICE_US);
                control
                    .configure(sc, SLICE_US, left, 0, 0)
                    .map_err(|e| Failure::fail(format!("sleep: configuring the budget: {e}")))?;
                sel4_sys::yield_now();
            }
            let d = Budget::DEFAULT;
            control
                .configure(sc, d.budget_us, d.period_us, 0, 0)
                .map_err(|e| Failure::fail(format!("sleep: the default budget again: {e}")))?;
            Ok(())
        }

        /// seL4test's `restart_after_syscall`: the thread, blocked in a
        /// system call, continues after it (its instruction pointer moved
        /// past the system call instruction), resumed.
        pub fn restart_after_syscall(tcb: Word) -> TestResult {
            let mut regs = read_regs(tcb, reg::COUNT)?;
            regs[reg::PC] += sel4_sys::syscall_abi::SYSCALL_INSN_BYTES;
            write_regs(tcb, true, &regs)?;
            Ok(())
        }

        /// `seL4_Call` with the message words in registers only.
        pub fn call(ep: Word, info: MessageInfo, mr0: Word) -> sel4_sys::Received {
            sel4_sys::call_regs(ep, info, [mr0, 0, 0, 0])
        }

        /// Turns a helper's error text into the test's failure.
        pub fn helper_ok(r: Result<(), alloc::string::String>) -> TestResult {
            r.map_err(Failure::Fail)
        }

        /// The kernel error of `r`, or a failure naming `what`.
        pub fn expect_error(r: KResult, e: sel4_sys::Error, what: &str) -> TestResult {
            crate::util::expect_err(r, e, what).map(|_| ())
        }
    }
} }
