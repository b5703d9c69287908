//! Scheduling contexts: how much processor time a thread gets (MCS
//! kernels).
//!
//! On an MCS kernel (`KernelIsMCS`) a thread runs only on a *scheduling
//! context* with budget: [`Budget::budget_us`] microseconds of every
//! [`Budget::period_us`]. A scheduling context whose budget equals its
//! period is *round robin*: the budget is the thread's time slice, renewed
//! as soon as it is used up (the thread goes to the back of its priority's
//! queue, as on a non-MCS kernel). The budget and period are set through
//! the scheduling control capability of the core (bootinfo's
//! `schedcontrol`, `sched_control`, MCS kernels only).
//!
//! The framework gives every thread it creates a scheduling context of its
//! own ([`ThreadBuilder::budget`](crate::thread::ThreadBuilder::budget),
//! [`Budget::DEFAULT`] otherwise: round robin with the time slice the
//! kernel gives the initial thread, `BOOT_THREAD_TIME_SLICE`), and a reply
//! object for its receives (`sel4_sys::mcs`). `Objects::create_sched_context` (MCS kernels
//! only) makes a configured one for threads (or processes) set up by hand.
//!
//! Non-MCS kernels have no budgets: a [`Budget`] given there has no
//! effect; every thread runs on the kernel's time slice
//! ([`DEFAULT_TIME_SLICE_US`]).

use sel4_sys::Word;

/// The time slice of a thread by default, in microseconds: on MCS kernels
/// the kernel's time slice of the initial thread (`BOOT_THREAD_TIME_SLICE`
/// milliseconds), which [`Budget::DEFAULT`] gives every thread the
/// framework makes; on other kernels the kernel's own time slice
/// (`TIME_SLICE` ticks of `TIMER_TICK_MS`), for information.
pub const DEFAULT_TIME_SLICE_US: u64 = sel4_sys::sel4_cfg_if! {
    kernel >= 11 && config KERNEL_MCS {
        sel4_sys::config::BOOT_THREAD_TIME_SLICE as u64 * 1000
    } else {
        (sel4_sys::config::TIME_SLICE * sel4_sys::config::TIMER_TICK_MS) as u64 * 1000
    }
};

/// Whether the configured kernel is an MCS kernel: threads need scheduling
/// contexts, servers reply objects.
pub const MCS: bool = sel4_runtime::bootinfo::MCS;

/// How much processor time a thread gets on an MCS kernel: `budget_us`
/// of every `period_us` microseconds (no effect on other kernels).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Microseconds the thread may run per period (at least the kernel's
    /// minimum budget, twice its worst-case execution time).
    pub budget_us: u64,
    /// The period in microseconds (at least the budget; equal: round
    /// robin).
    pub period_us: u64,
    /// Refills beyond the kernel's minimum of two (a sporadic budget used
    /// in many small pieces needs more); the scheduling context is made
    /// large enough for them.
    pub extra_refills: usize,
    /// The badge the kernel reports in a timeout fault of this scheduling
    /// context.
    pub badge: Word,
    /// `seL4_SchedContext_Sporadic`: each piece of budget used comes back
    /// one period after it was used (the sporadic server rule), instead of
    /// the whole budget at each period.
    pub sporadic: bool,
}

impl Budget {
    /// Round robin with [`DEFAULT_TIME_SLICE_US`].
    pub const DEFAULT: Budget = Budget::round_robin(DEFAULT_TIME_SLICE_US);

    /// Round robin with a time slice of `slice_us`: budget = period.
    pub const fn round_robin(slice_us: u64) -> Budget {
        Budget::periodic(slice_us, slice_us)
    }

    /// `budget_us` of every `period_us` (a budget smaller than its period
    /// limits the thread to that share of the processor).
    pub const fn periodic(budget_us: u64, period_us: u64) -> Budget {
        Budget {
            budget_us,
            period_us,
            extra_refills: 0,
            badge: 0,
            sporadic: false,
        }
    }

    /// The same budget with `badge` for its timeout faults.
    pub const fn with_badge(mut self, badge: Word) -> Budget {
        self.badge = badge;
        self
    }

    /// The same budget with `n` refills beyond the minimum.
    pub const fn with_extra_refills(mut self, n: usize) -> Budget {
        self.extra_refills = n;
        self
    }

    /// The same budget, sporadic (see [`Budget::sporadic`]).
    pub const fn sporadic(mut self) -> Budget {
        self.sporadic = true;
        self
    }

    /// Whether budget and period are equal (round robin).
    pub const fn is_round_robin(&self) -> bool {
        self.budget_us == self.period_us
    }
}

impl Default for Budget {
    fn default() -> Budget {
        Budget::DEFAULT
    }
}

sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
    sel4_sys::sel4_cfg_if! { kernel >= 13 {} else {
        compile_error!(
            "MCS kernels before seL4 13.0.0 (whose SchedControl_Configure takes no flags) are not \
             supported: use a seL4 13.0.0-16.0.0 tree for an MCS kernel"
        );
    } }

    use crate::cap::{cap_type, Cap};
    use crate::cap::Owned;
    use crate::error::{Error, Result};
    use sel4_sys::consts;

    /// Size (log2 bytes) of a scheduling context with `extra_refills`
    /// refills beyond the minimum: `seL4_MinSchedContextBits` holds the
    /// core and the minimum refills (libsel4 checks that the core fits
    /// it), each extra refill takes `seL4_RefillSizeBytes`.
    pub fn sched_context_bits(extra_refills: usize) -> usize {
        let min = consts::MinSchedContextBits;
        let need = (1usize << min)
            .saturating_add(extra_refills.saturating_mul(consts::RefillSizeBytes));
        let mut bits = min;
        while bits < consts::MaxUntypedBits && (1usize << bits) < need {
            bits += 1;
        }
        bits
    }

    /// The scheduling control capability of the core the root task runs
    /// on (bootinfo's `schedcontrol`).
    pub fn sched_control() -> Result<Cap<cap_type::SchedControl>> {
        sel4_runtime::bootinfo::sched_control()
            .map(Cap::from_cptr)
            .ok_or(Error::Check(
                "bootinfo names no scheduling control capability for this core",
            ))
    }

    /// Configures `sc` with `budget` through the core's scheduling control
    /// (`SchedControl_ConfigureFlags`). The kernel checks the values: a
    /// budget or period below its minimum or above its maximum, or a budget
    /// above the period, is `Error::Kernel(InvocationError::RangeError {
    /// .. })`.
    pub fn configure(sc: Cap<cap_type::SchedContext>, budget: &Budget) -> Result<()> {
        let flags = if budget.sporadic {
            consts::SchedContext_Sporadic
        } else {
            consts::SchedContext_NoFlag
        };
        sched_control()?.sched_control_configure_flags(
            sc,
            budget.budget_us,
            budget.period_us,
            budget.extra_refills as Word,
            budget.badge,
            flags as Word,
        )?;
        Ok(())
    }

    impl crate::objects::Objects {
        /// A scheduling context with `budget`, configured through the
        /// core's scheduling control: bind it to a thread
        /// (`sel4::mcs::TcbMcsOps::set_sched_params_with`,
        /// `sel4::mcs::SchedContextOps::bind_tcb`) and the thread runs.
        /// Nothing is left behind when it fails.
        pub fn create_sched_context(
            &mut self,
            budget: &Budget,
        ) -> Result<Owned<cap_type::SchedContext>> {
            let sc =
                self.create_sched_context_object(sched_context_bits(budget.extra_refills))?;
            self.configured(sc, budget)
        }

        /// `sc` configured with `budget`, or deleted again if the kernel
        /// refuses the values.
        fn configured(
            &mut self,
            sc: Owned<cap_type::SchedContext>,
            budget: &Budget,
        ) -> Result<Owned<cap_type::SchedContext>> {
            match configure(sc.cap(), budget) {
                Ok(()) => Ok(sc),
                Err(e) => {
                    let _ = self.delete(sc);
                    Err(e)
                }
            }
        }

        /// As [`Objects::create_sched_context`], in the caller's untyped
        /// `untyped` (one of [`Objects::create_untyped`]: a process's
        /// budget).
        pub fn create_sched_context_in(
            &mut self,
            untyped: &Owned<cap_type::Untyped>,
            budget: &Budget,
        ) -> Result<Owned<cap_type::SchedContext>> {
            let sc = self.create_sched_context_object_in(
                untyped,
                sched_context_bits(budget.extra_refills),
            )?;
            self.configured(sc, budget)
        }
    }
} }

pub(crate) use thread_parts::{ThreadSched, PASSIVE_READY_LABEL};

/// What a thread of the framework has for scheduling besides its TCB: on
/// MCS kernels its scheduling context, its reply object, and the objects
/// of its options (timeout endpoint, passive-server notifications); nothing
/// on other kernels but the passive handshake's notification.
mod thread_parts {
    use crate::cap::{Endpoint, Notification, Owned, TCB};
    use crate::error::Result;
    use crate::fault::FaultHandler;
    use crate::objects::Objects;
    use crate::Cap;
    use sel4_sys::Word;

    /// The passive handshake's ready label (the runtime's, whose typed
    /// servers send it).
    pub(crate) use sel4_runtime::thread::PASSIVE_READY_LABEL;

    #[derive(Default)]
    pub(crate) struct ThreadSched {
        /// Passive servers: the notification the spawner signals once it
        /// waits for the server's readiness.
        pub go: Option<Owned<Notification>>,
        #[allow(dead_code)] // empty on non-MCS kernels
        mcs: Mcs,
    }

    sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
        use crate::cap::cap_type::{Reply, SchedContext};
        use sel4::mcs::{SchedContextOps, TcbMcsOps};

        #[derive(Default)]
        struct Mcs {
            sc: Option<Owned<SchedContext>>,
            reply: Option<Owned<Reply>>,
            timeout_ep: Option<Owned<Endpoint>>,
            /// Passive servers: the notification their scheduling
            /// context is bound to once passive; a join signals it.
            wake: Option<Owned<Notification>>,
        }
    } else {
        #[derive(Default)]
        struct Mcs;
    } }

    impl ThreadSched {
        /// Creates what a new thread needs: on MCS a scheduling context
        /// with `budget` and a reply object (and the timeout endpoint and
        /// passive notifications it asked for); the passive handshake's
        /// notification on every kernel. On failure everything made so far
        /// is deleted.
        pub(crate) fn create(
            objs: &mut Objects,
            budget: &super::Budget,
            passive: bool,
            timeout: Option<(&FaultHandler, Word)>,
        ) -> Result<ThreadSched> {
            let mut s = ThreadSched::default();
            let r = s.fill(objs, budget, passive, timeout);
            match r {
                Ok(()) => Ok(s),
                Err(e) => {
                    s.release(objs);
                    Err(e)
                }
            }
        }

        #[allow(unused_variables)]
        fn fill(
            &mut self,
            objs: &mut Objects,
            budget: &super::Budget,
            passive: bool,
            timeout: Option<(&FaultHandler, Word)>,
        ) -> Result<()> {
            if passive {
                self.go = Some(objs.create()?);
            }
            sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
                self.mcs.sc = Some(objs.create_sched_context(budget)?);
                self.mcs.reply = Some(objs.create()?);
                if let Some((h, badge)) = timeout {
                    self.mcs.timeout_ep = Some(objs.mint(h.endpoint_owned(), badge)?);
                }
                if passive {
                    self.mcs.wake = Some(objs.create()?);
                }
            } }
            Ok(())
        }

        /// Binds the scheduling context (MCS), sets priorities and the
        /// fault and timeout endpoints; non-MCS kernels: priorities only
        /// (the caller set the fault endpoint with the space).
        #[allow(unused_variables)]
        pub(crate) fn bind(
            &self,
            tcb: Cap<TCB>,
            authority: Cap<TCB>,
            mcp: u8,
            priority: u8,
            fault_ep: Cap<Endpoint>,
        ) -> core::result::Result<(), (&'static str, sel4_sys::InvocationError)> {
            sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
                tcb.set_sched_params_with(
                    authority,
                    mcp,
                    priority,
                    self.mcs.sc.as_ref().map(|s| s.cap()),
                    Some(fault_ep),
                )
                .map_err(|e| ("TCB_SetSchedParams", e))?;
                if let Some(t) = &self.mcs.timeout_ep {
                    tcb.set_timeout_endpoint(Some(t.cap()))
                        .map_err(|e| ("TCB_SetTimeoutEndpoint", e))?;
                }
                Ok(())
            } else {
                use sel4::TcbOps;
                tcb.set_mc_priority(authority, mcp).map_err(|e| ("TCB_SetMCPriority", e))?;
                tcb.set_priority(authority, priority).map_err(|e| ("TCB_SetPriority", e))
            } }
        }

        /// The reply object and scheduling context for the runtime's
        /// control block (0 on non-MCS kernels).
        pub(crate) fn runtime_caps(&self) -> (sel4_sys::CPtr, sel4_sys::CPtr) {
            sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
                (
                    self.mcs.reply.as_ref().map_or(0, |r| r.cptr()),
                    self.mcs.sc.as_ref().map_or(0, |s| s.cptr()),
                )
            } else {
                (0, 0)
            } }
        }

        /// The thread's scheduling context (MCS).
        #[allow(dead_code)]
        pub(crate) fn sched_context_cptr(&self) -> Option<sel4_sys::CPtr> {
            sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
                self.mcs.sc.as_ref().map(|s| s.cptr())
            } else {
                None
            } }
        }

        /// The thread's reply object (MCS).
        #[allow(dead_code)]
        pub(crate) fn reply_cptr(&self) -> Option<sel4_sys::CPtr> {
            sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
                self.mcs.reply.as_ref().map(|s| s.cptr())
            } else {
                None
            } }
        }

        /// The passive server is ready (blocked in its first receive):
        /// takes its scheduling context away (MCS: unbound from the TCB,
        /// bound to the wake notification instead, which a join signals).
        #[allow(unused_variables)]
        pub(crate) fn make_passive(
            &self,
            tcb: Cap<TCB>,
        ) -> core::result::Result<(), (&'static str, sel4_sys::InvocationError)> {
            sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
                if let (Some(sc), Some(wake)) = (&self.mcs.sc, &self.mcs.wake) {
                    sc.cap().unbind_tcb(tcb).map_err(|e| ("SchedContext_UnbindObject", e))?;
                    sc.cap()
                        .bind_notification(wake.cap())
                        .map_err(|e| ("SchedContext_Bind", e))?;
                }
            } }
            Ok(())
        }

        /// The notification a join signals so that a passive server gets
        /// its scheduling context back (MCS passive servers only).
        pub(crate) fn wake(&self) -> Option<sel4_sys::CPtr> {
            sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
                self.mcs.wake.as_ref().map(|w| w.cptr())
            } else {
                None
            } }
        }

        /// Deletes everything (after the TCB is gone).
        pub(crate) fn release(&mut self, objs: &mut Objects) {
            if let Some(g) = self.go.take() {
                let _ = objs.delete(g);
            }
            sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
                if let Some(x) = self.mcs.timeout_ep.take() {
                    let _ = objs.delete(x);
                }
                if let Some(x) = self.mcs.reply.take() {
                    let _ = objs.delete(x);
                }
                if let Some(x) = self.mcs.sc.take() {
                    let _ = objs.delete(x);
                }
                if let Some(x) = self.mcs.wake.take() {
                    let _ = objs.delete(x);
                }
            } else {
                let _ = objs;
            } }
        }
    }
}
