//! Thread control blocks, with one signature for each operation on every
//! supported kernel.

use crate::{cap_type, Cap, CapData, Granule, Result, UserContext, VSpaceRoot, Word};

/// A thread priority or maximum controlled priority (seL4 has at most 256
/// priorities, `0..=seL4_MaxPrio`).
pub type Priority = u8;

/// The null capability address: "no capability" in an optional argument.
const NULL: Word = 0;

fn cptr_or_null<T: crate::CapType>(c: Option<Cap<T>>) -> Word {
    c.map_or(NULL, |c| c.cptr())
}

/// Operations on a thread control block.
///
/// Where kernels differ, the method does what the newer kernels do, and
/// its documentation says how the others get there:
/// - seL4 5.x (before 9.0.0) takes no authority for priorities: the kernel
///   checks the new priority against the calling thread's MCP, and
///   `authority` is not used.
/// - MCS kernels take the fault endpoint as a capability looked up in the
///   caller's CSpace when it is set and copied into the TCB; non-MCS
///   kernels keep its address and look it up in the thread's own CSpace at
///   fault time. With one CSpace for both threads (the root task and the
///   threads it starts) the two agree.
pub trait TcbOps {
    /// Sets the fault endpoint, CSpace root (with `cspace_data`, e.g. the
    /// guard of [`CapData::skip_high_bits`]), VSpace root and IPC buffer
    /// (`ipc_buffer` is its address in the thread's VSpace; `None` for no
    /// buffer frame). Priorities are left as they are: seL4 12+ non-MCS
    /// use `TCB_Configure`; 5.x and MCS kernels `TCB_SetSpace` and
    /// `TCB_SetIPCBuffer` (5.x's `TCB_Configure` also sets priorities, the
    /// MCS one no fault endpoint).
    fn configure(
        self,
        fault_ep: Option<Cap<cap_type::Endpoint>>,
        cspace: Cap<cap_type::CNode>,
        cspace_data: CapData,
        vspace: Cap<VSpaceRoot>,
        ipc_buffer: Word,
        ipc_buffer_frame: Option<Cap<Granule>>,
    ) -> Result<()>;

    /// `TCB_SetSpace`: the fault endpoint, CSpace root (with
    /// `cspace_data`) and VSpace root.
    fn set_space(
        self,
        fault_ep: Option<Cap<cap_type::Endpoint>>,
        cspace: Cap<cap_type::CNode>,
        cspace_data: CapData,
        vspace: Cap<VSpaceRoot>,
    ) -> Result<()>;

    /// `TCB_SetIPCBuffer`: the IPC buffer's address in the thread's VSpace
    /// and the frame that holds it (`None`: no buffer).
    fn set_ipc_buffer(self, buffer: Word, frame: Option<Cap<Granule>>) -> Result<()>;

    /// `TCB_SetPriority`, bounded by `authority`'s maximum controlled
    /// priority (seL4 5.x: by the calling thread's).
    fn set_priority(self, authority: Cap<cap_type::TCB>, priority: Priority) -> Result<()>;

    /// `TCB_SetMCPriority`, bounded by `authority`'s maximum controlled
    /// priority (seL4 5.x: by the calling thread's).
    fn set_mc_priority(self, authority: Cap<cap_type::TCB>, mcp: Priority) -> Result<()>;

    /// The maximum controlled priority and the priority: one
    /// `TCB_SetSchedParams` on non-MCS seL4 9+, `TCB_SetMCPriority` then
    /// `TCB_SetPriority` on 5.x and on MCS kernels (whose
    /// `TCB_SetSchedParams` also binds a scheduling context: see
    /// [`crate::mcs`]).
    fn set_sched_params(
        self,
        authority: Cap<cap_type::TCB>,
        mcp: Priority,
        priority: Priority,
    ) -> Result<()>;

    /// `TCB_Suspend`.
    fn suspend(self) -> Result<()>;

    /// `TCB_Resume`.
    fn resume(self) -> Result<()>;

    /// `TCB_BindNotification`: signals of `ntfn` wake the thread in a
    /// receive.
    fn bind_notification(self, ntfn: Cap<cap_type::Notification>) -> Result<()>;

    /// `TCB_UnbindNotification`.
    fn unbind_notification(self) -> Result<()>;

    /// `TCB_ReadRegisters`: every register of the thread (suspending it
    /// first when `suspend`). The kernel refuses this on the calling thread.
    fn read_registers(self, suspend: bool) -> Result<UserContext>;

    /// `TCB_WriteRegisters`: every register of the thread (resuming it
    /// afterwards when `resume`). The kernel refuses this on the calling
    /// thread.
    fn write_registers(self, resume: bool, regs: &UserContext) -> Result<()>;

    /// `TCB_CopyRegisters`: copies `source`'s frame registers (`frame`:
    /// instruction and stack pointers, flags) and/or integer registers
    /// into this thread.
    fn copy_registers(
        self,
        source: Cap<cap_type::TCB>,
        suspend_source: bool,
        resume_target: bool,
        frame: bool,
        integer: bool,
    ) -> Result<()>;

    /// The thread's TLS base (its thread pointer): `TCB_SetTLSBase` on
    /// seL4 10+; on 5.x the TLS base register of its saved context, through
    /// `TCB_ReadRegisters` and `TCB_WriteRegisters` (so not on the calling
    /// thread, and only while the thread is not running, or the two calls
    /// race with it).
    fn set_tls_base(self, tls_base: Word) -> Result<()>;
}

fn words() -> Word {
    UserContext::WORDS as Word
}

impl TcbOps for Cap<cap_type::TCB> {
    fn configure(
        self,
        fault_ep: Option<Cap<cap_type::Endpoint>>,
        cspace: Cap<cap_type::CNode>,
        cspace_data: CapData,
        vspace: Cap<VSpaceRoot>,
        ipc_buffer: Word,
        ipc_buffer_frame: Option<Cap<Granule>>,
    ) -> Result<()> {
        crate::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
            self.set_space(fault_ep, cspace, cspace_data, vspace)?;
            self.set_ipc_buffer(ipc_buffer, ipc_buffer_frame)
        } else {
            crate::sel4_cfg_if! { kernel >= 9 {
                self.tcb_configure(
                    cptr_or_null(fault_ep),
                    cspace,
                    cspace_data.sys(),
                    vspace.cptr(),
                    CapData::NONE.sys(),
                    ipc_buffer,
                    cptr_or_null(ipc_buffer_frame),
                )
            } else {
                self.set_space(fault_ep, cspace, cspace_data, vspace)?;
                self.set_ipc_buffer(ipc_buffer, ipc_buffer_frame)
            } }
        } }
    }

    fn set_space(
        self,
        fault_ep: Option<Cap<cap_type::Endpoint>>,
        cspace: Cap<cap_type::CNode>,
        cspace_data: CapData,
        vspace: Cap<VSpaceRoot>,
    ) -> Result<()> {
        crate::sel4_cfg_if! { kernel >= 9 {
            self.tcb_set_space(
                cptr_or_null(fault_ep),
                cspace,
                cspace_data.sys(),
                vspace.cptr(),
                CapData::NONE.sys(),
            )
        } else {
            // The 5.x XML types the VSpace root as a CNode.
            self.tcb_set_space(
                cptr_or_null(fault_ep),
                cspace,
                cspace_data.sys(),
                vspace.cast(),
                CapData::NONE.sys(),
            )
        } }
    }

    fn set_ipc_buffer(self, buffer: Word, frame: Option<Cap<Granule>>) -> Result<()> {
        self.tcb_set_ipc_buffer(buffer, cptr_or_null(frame))
    }

    fn set_priority(self, authority: Cap<cap_type::TCB>, priority: Priority) -> Result<()> {
        crate::sel4_cfg_if! { kernel >= 9 {
            self.tcb_set_priority(authority, Word::from(priority))
        } else {
            let _ = authority;
            self.tcb_set_priority(priority)
        } }
    }

    fn set_mc_priority(self, authority: Cap<cap_type::TCB>, mcp: Priority) -> Result<()> {
        crate::sel4_cfg_if! { kernel >= 9 {
            self.tcb_set_mc_priority(authority, Word::from(mcp))
        } else {
            let _ = authority;
            self.tcb_set_mc_priority(mcp)
        } }
    }

    fn set_sched_params(
        self,
        authority: Cap<cap_type::TCB>,
        mcp: Priority,
        priority: Priority,
    ) -> Result<()> {
        crate::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
            self.set_mc_priority(authority, mcp)?;
            self.set_priority(authority, priority)
        } else {
            crate::sel4_cfg_if! { kernel >= 9 {
                self.tcb_set_sched_params(authority, Word::from(mcp), Word::from(priority))
            } else {
                self.set_mc_priority(authority, mcp)?;
                self.set_priority(authority, priority)
            } }
        } }
    }

    fn suspend(self) -> Result<()> {
        self.tcb_suspend()
    }

    fn resume(self) -> Result<()> {
        self.tcb_resume()
    }

    fn bind_notification(self, ntfn: Cap<cap_type::Notification>) -> Result<()> {
        self.tcb_bind_notification(ntfn.cptr())
    }

    fn unbind_notification(self) -> Result<()> {
        self.tcb_unbind_notification()
    }

    fn read_registers(self, suspend: bool) -> Result<UserContext> {
        self.tcb_read_registers(suspend, 0, words())
    }

    fn write_registers(self, resume: bool, regs: &UserContext) -> Result<()> {
        self.tcb_write_registers(resume, 0, words(), regs)
    }

    fn copy_registers(
        self,
        source: Cap<cap_type::TCB>,
        suspend_source: bool,
        resume_target: bool,
        frame: bool,
        integer: bool,
    ) -> Result<()> {
        self.tcb_copy_registers(source, suspend_source, resume_target, frame, integer, 0)
    }

    fn set_tls_base(self, tls_base: Word) -> Result<()> {
        crate::sel4_cfg_if! { kernel >= 10 {
            self.tcb_set_tls_base(tls_base)
        } else {
            let mut regs = self.read_registers(false)?;
            crate::arch::set_tls_register(&mut regs, tls_base);
            self.write_registers(false, &regs)
        } }
    }
}
