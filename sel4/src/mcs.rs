//! Scheduling contexts (MCS kernels, seL4 11+ with `CONFIG_KERNEL_MCS`).
//! On other kernels this module is empty.
//!
//! On an MCS kernel a thread runs only with a scheduling context that has
//! budget: create one (`Blueprint::new(ObjectType::SchedContextObject,
//! bits)`), give it budget and period through the scheduling control
//! capability of the core (`SchedControlOps::configure`), and bind it to
//! the thread (`TcbMcsOps::set_sched_params_with` or
//! `SchedContextOps::bind_tcb`). The priority operations of
//! [`crate::TcbOps`] leave the binding as it is.

crate::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
    use crate::{cap_type, Cap, Priority, Result, Word};

    fn cptr_or_null<T: crate::CapType>(c: Option<Cap<T>>) -> Word {
        c.map_or(0, |c| c.cptr())
    }

    /// MCS operations on a thread control block.
    pub trait TcbMcsOps {
        /// `TCB_SetSchedParams`: maximum controlled priority, priority,
        /// scheduling context (`None` unbinds the thread's; the kernel
        /// refuses that for the calling thread) and fault endpoint (a
        /// capability of the caller's CSpace, copied into the TCB).
        fn set_sched_params_with(
            self,
            authority: Cap<cap_type::TCB>,
            mcp: Priority,
            priority: Priority,
            sched_context: Option<Cap<cap_type::SchedContext>>,
            fault_ep: Option<Cap<cap_type::Endpoint>>,
        ) -> Result<()>;

        /// `TCB_SetTimeoutEndpoint`: where timeout faults of the thread go.
        fn set_timeout_endpoint(self, ep: Option<Cap<cap_type::Endpoint>>) -> Result<()>;
    }

    impl TcbMcsOps for Cap<cap_type::TCB> {
        fn set_sched_params_with(
            self,
            authority: Cap<cap_type::TCB>,
            mcp: Priority,
            priority: Priority,
            sched_context: Option<Cap<cap_type::SchedContext>>,
            fault_ep: Option<Cap<cap_type::Endpoint>>,
        ) -> Result<()> {
            self.tcb_set_sched_params(
                authority,
                Word::from(mcp),
                Word::from(priority),
                cptr_or_null(sched_context),
                cptr_or_null(fault_ep),
            )
        }

        fn set_timeout_endpoint(self, ep: Option<Cap<cap_type::Endpoint>>) -> Result<()> {
            self.tcb_set_timeout_endpoint(cptr_or_null(ep))
        }
    }

    /// Operations on a scheduling context.
    pub trait SchedContextOps {
        /// `SchedContext_Bind` to a thread.
        fn bind_tcb(self, tcb: Cap<cap_type::TCB>) -> Result<()>;
        /// `SchedContext_Bind` to a notification (passive servers wake on
        /// it with this scheduling context).
        fn bind_notification(self, ntfn: Cap<cap_type::Notification>) -> Result<()>;
        /// `SchedContext_Unbind`: from its thread and notification (the
        /// kernel refuses this for the calling thread's own).
        fn unbind(self) -> Result<()>;
        /// `SchedContext_UnbindObject` of a thread: from `tcb` only (the
        /// kernel refuses this for the calling thread).
        fn unbind_tcb(self, tcb: Cap<cap_type::TCB>) -> Result<()>;
        /// `SchedContext_UnbindObject` of a notification: from `ntfn` only.
        fn unbind_notification(self, ntfn: Cap<cap_type::Notification>) -> Result<()>;
        /// `SchedContext_Consumed`: time consumed since the last call (µs).
        fn consumed(self) -> Result<u64>;
        /// `SchedContext_YieldTo`: runs its thread now if it may; returns
        /// the time consumed.
        fn yield_to(self) -> Result<u64>;
    }

    impl SchedContextOps for Cap<cap_type::SchedContext> {
        fn bind_tcb(self, tcb: Cap<cap_type::TCB>) -> Result<()> {
            self.sched_context_bind(tcb.cptr())
        }
        fn bind_notification(self, ntfn: Cap<cap_type::Notification>) -> Result<()> {
            self.sched_context_bind(ntfn.cptr())
        }
        fn unbind(self) -> Result<()> {
            self.sched_context_unbind()
        }
        fn unbind_tcb(self, tcb: Cap<cap_type::TCB>) -> Result<()> {
            self.sched_context_unbind_object(tcb.cptr())
        }
        fn unbind_notification(self, ntfn: Cap<cap_type::Notification>) -> Result<()> {
            self.sched_context_unbind_object(ntfn.cptr())
        }
        fn consumed(self) -> Result<u64> {
            self.sched_context_consumed()
        }
        fn yield_to(self) -> Result<u64> {
            self.sched_context_yield_to()
        }
    }

    crate::sel4_cfg_if! { kernel >= 13 && label SchedControlConfigureFlags {
        /// Operations on a core's scheduling control capability (bootinfo's
        /// `schedcontrol` range; seL4 13+, whose call takes flags).
        pub trait SchedControlOps {
            /// `SchedControl_ConfigureFlags` without flags: `budget_us` of
            /// every `period_us` (equal: round robin), `extra_refills`
            /// beyond the minimum, and the badge timeout faults carry.
            fn configure(
                self,
                sched_context: Cap<cap_type::SchedContext>,
                budget_us: u64,
                period_us: u64,
                extra_refills: Word,
                badge: Word,
            ) -> Result<()>;

            /// [`SchedControlOps::configure`] with the kernel's flags:
            /// `sporadic` sets `seL4_SchedContext_Sporadic` (the budget is
            /// replenished a period after it was used, not at fixed period
            /// boundaries).
            fn configure_flags(
                self,
                sched_context: Cap<cap_type::SchedContext>,
                budget_us: u64,
                period_us: u64,
                extra_refills: Word,
                badge: Word,
                sporadic: bool,
            ) -> Result<()>;
        }

        impl SchedControlOps for Cap<cap_type::SchedControl> {
            fn configure(
                self,
                sched_context: Cap<cap_type::SchedContext>,
                budget_us: u64,
                period_us: u64,
                extra_refills: Word,
                badge: Word,
            ) -> Result<()> {
                self.configure_flags(sched_context, budget_us, period_us, extra_refills, badge, false)
            }

            fn configure_flags(
                self,
                sched_context: Cap<cap_type::SchedContext>,
                budget_us: u64,
                period_us: u64,
                extra_refills: Word,
                badge: Word,
                sporadic: bool,
            ) -> Result<()> {
                let flags = if sporadic {
                    crate::sys::consts::SchedContext_Sporadic
                } else {
                    crate::sys::consts::SchedContext_NoFlag
                };
                self.sched_control_configure_flags(
                    sched_context,
                    budget_us,
                    period_us,
                    extra_refills,
                    badge,
                    flags as Word,
                )
            }
        }
    } }

    /// The MCS traits, for `sel4::prelude`.
    pub mod prelude {
        pub use super::{SchedContextOps as _, TcbMcsOps as _};
        crate::sel4_cfg_if! { kernel >= 13 && label SchedControlConfigureFlags {
            pub use super::SchedControlOps as _;
        } }
    }
} else {
    /// Empty: this kernel is not an MCS kernel.
    pub mod prelude {}
} }
