//! Helpers shared by the test modules.

use sel4_sys::{CPtr, Error, ObjectType};
use sel4_test_harness::kernel::{self, KernelError};
use sel4_test_harness::{Ctx, Failure};

/// Kernel cap type tags (structures.bf; the same in 5.0.0 and 16.0.0).
pub mod tag {
    pub const NULL: u64 = 0;
    pub const UNTYPED: u64 = 2;
    pub const ENDPOINT: u64 = 4;
    pub const NOTIFICATION: u64 = 6;
    pub const CNODE: u64 = 10;
    pub const THREAD: u64 = 12;
    pub const FRAME: u64 = 1;
    pub const PAGE_TABLE: u64 = 3;
    pub const PAGE_DIRECTORY: u64 = 5;
    pub const PDPT: u64 = 7;
    pub const PML4: u64 = 9;
    /// The tag of a VSpace root's capability (the kernel's
    /// `structures.bf`): x86_64 `pml4_cap` 9, aarch64 `vspace_cap` 9,
    /// riscv64 `page_table_cap` 3 (the root is a page table there).
    pub const VSPACE_ROOT: u64 = if cfg!(target_arch = "riscv64") {
        PAGE_TABLE
    } else {
        PML4
    };
}

/// The kernel's type tag of the cap at `slot` (seL4_DebugCapIdentify).
pub fn cap_type(slot: CPtr) -> Result<u64, Failure> {
    sel4_sys::debug_cap_identify(slot)
        .map_err(|e| Failure::Skip(alloc::format!("kernel without {}", e.0)))
}

/// Checks that `r` failed with `expected`.
pub fn expect_err<T: core::fmt::Debug>(
    r: Result<T, KernelError>,
    expected: Error,
    what: &str,
) -> Result<KernelError, Failure> {
    match r {
        Err(e) if e.error == Some(expected) => Ok(e),
        Err(e) => Err(Failure::fail(alloc::format!(
            "{what}: expected {expected:?}, got {e}"
        ))),
        Ok(v) => Err(Failure::fail(alloc::format!(
            "{what}: expected {expected:?}, but it succeeded ({v:?})"
        ))),
    }
}

/// A new notification in a fresh slot.
pub fn notification(ctx: &mut Ctx) -> Result<CPtr, Failure> {
    ctx.create(ObjectType::NotificationObject, 0)
}

/// A new endpoint in a fresh slot.
pub fn endpoint(ctx: &mut Ctx) -> Result<CPtr, Failure> {
    ctx.create(ObjectType::EndpointObject, 0)
}

/// A badged copy (all rights) of `cap` in a fresh slot.
pub fn badged(ctx: &mut Ctx, cap: CPtr, badge: u64) -> Result<CPtr, Failure> {
    let s = ctx.slot()?;
    kernel::cnode_mint(s, cap, kernel::rights::ALL, badge)?;
    Ok(s)
}

/// Cap data that sets a CNode's guard (Mint, Mutate), for this kernel
/// (encoded by the kernel's generated bitfield code through
/// `sel4::CapData`).
pub fn cnode_guard_data(guard: u64, guard_size: u64) -> u64 {
    let size = u8::try_from(guard_size).unwrap_or(u8::MAX);
    match sel4::CapData::cnode_guard(guard, size) {
        Ok(d) => d.into_word(),
        Err(e) => panic!("test bug: {e}"),
    }
}

/// Is the slot empty (per the kernel)?
pub fn is_empty(slot: CPtr) -> Result<bool, Failure> {
    Ok(cap_type(slot)? == tag::NULL)
}

/// Slots a test gives the framework's thread API (`Ctx::objects`).
pub const OBJECT_SLOTS: usize = 96;

/// A thread set up by hand with TCB invocations only (no runtime: no TLS,
/// no IPC buffer), running an `extern "C"` function on its own stack.
/// Suspended when dropped, before its stack is freed.
pub struct RawThread {
    pub tcb: CPtr,
    /// Its scheduling context (MCS kernels).
    #[allow(dead_code)] // read by the MCS tests
    pub sc: Option<CPtr>,
    pub stack: alloc::vec::Vec<u8>,
}

impl RawThread {
    /// The stack's address range `[low, high)`.
    pub fn stack_range(&self) -> (u64, u64) {
        let low = self.stack.as_ptr() as u64;
        (low, low + self.stack.len() as u64)
    }

    /// Initial stack pointer: 16-byte aligned top (minus 8 on x86_64, as
    /// after a call).
    pub fn initial_sp(&self) -> u64 {
        // 16-byte aligned; on x86_64 as after a `call` (a return address
        // pushed).
        let top = self.stack_range().1 & !15;
        if cfg!(target_arch = "x86_64") {
            top - 8
        } else {
            top
        }
    }
}

impl Drop for RawThread {
    fn drop(&mut self) {
        let _ = kernel::invoke(self.tcb, sel4_sys::InvocationLabel::TCBSuspend, &[], &[]);
    }
}

/// Positions in `seL4_UserContext` (the words of TCB_ReadRegisters and
/// TCB_WriteRegisters) by meaning: the instruction and stack pointers and
/// the first argument registers of the C calling convention, looked up by
/// name in the kernel's struct for this architecture
/// (`sel4_sys::user_context_word`);
/// the syscall registers (`SYSCALL`, `CAP`, `SYSCALL_SP`) are sel4-sys's
/// syscall ABI (`sel4_sys::syscall_abi`).
pub mod reg {
    pub use sel4_sys::syscall_abi::{CAP, SYSCALL, SYSCALL_SP};

    #[cfg(target_arch = "x86_64")]
    mod arch {
        use sel4_sys::user_context_word as word;
        pub const PC: usize = word("rip");
        pub const SP: usize = word("rsp");
        pub const ARG0: usize = word("rdi");
        pub const ARG1: usize = word("rsi");
        pub const ARG2: usize = word("rdx");
        /// The frame registers and the general-purpose ones up to r15.
        pub const COUNT: usize = word("r15") + 1;
    }
    #[cfg(target_arch = "aarch64")]
    mod arch {
        use sel4_sys::user_context_word as word;
        pub const PC: usize = word("pc");
        pub const SP: usize = word("sp");
        pub const ARG0: usize = word("x0");
        pub const ARG1: usize = word("x1");
        pub const ARG2: usize = word("x2");
        /// pc, sp, spsr, x0-x8, x16-x18, x29, x30.
        pub const COUNT: usize = word("x30") + 1;
    }
    #[cfg(target_arch = "riscv64")]
    mod arch {
        use sel4_sys::user_context_word as word;
        pub const PC: usize = word("pc");
        pub const SP: usize = word("sp");
        pub const ARG0: usize = word("a0");
        pub const ARG1: usize = word("a1");
        pub const ARG2: usize = word("a2");
        /// pc, ra, sp, gp, s0-s11, a0-a7.
        pub const COUNT: usize = word("a7") + 1;
    }
    pub use arch::*;

    // The syscall registers are among the first COUNT, which the tests
    // read and write.
    const _: () = assert!(SYSCALL < COUNT && CAP < COUNT && SYSCALL_SP < COUNT);
}

/// TCB_SetSpace of `tcb` with `fault_ep`, `cspace` and `vspace` (no cap
/// data), as this kernel takes it: MCS kernels take the fault endpoint as
/// the first extra capability (copied into the TCB now), the others as the
/// first message word (a capability pointer looked up at fault time).
pub fn set_space(tcb: CPtr, fault_ep: CPtr, cspace: CPtr, vspace: CPtr) -> kernel::KResult {
    use sel4_sys::InvocationLabel as L;
    if crate::util::MCS {
        kernel::invoke(tcb, L::TCBSetSpace, &[fault_ep, cspace, vspace], &[0, 0])
    } else {
        kernel::invoke(tcb, L::TCBSetSpace, &[cspace, vspace], &[fault_ep, 0, 0])
    }
}

/// The skip of a test that observes reply capabilities through
/// CNode_SaveCaller, which MCS kernels do not have (sel4test runs those on
/// non-MCS kernels only).
#[allow(dead_code)] // MCS kernels only
pub fn no_save_caller() -> sel4_test_harness::TestResult {
    Err(Failure::Skip(alloc::string::String::from(
        "MCS kernels have no CNode_SaveCaller (replies go through reply objects); \
         sel4test runs this test on non-MCS kernels only",
    )))
}

/// Whether the kernel is an MCS kernel.
pub const MCS: bool = sel4_rootserver::sched::MCS;

sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
    /// MCS kernels: a scheduling context in a fresh slot (of the size
    /// `budget` needs), configured with `budget` through the core's
    /// scheduling control.
    pub fn sched_context(
        ctx: &mut Ctx,
        budget: &sel4_rootserver::sched::Budget,
    ) -> Result<CPtr, Failure> {
        let sc = ctx.create(
            ObjectType::SchedContextObject,
            sel4_rootserver::sched::sched_context_bits(budget.extra_refills),
        )?;
        sel4_rootserver::sched::configure(sel4_rootserver::Cap::from_cptr(sc), budget)
            .map_err(fw("SchedControl_ConfigureFlags"))?;
        Ok(sc)
    }
} }

/// MCS kernels: binds a new scheduling context with the framework's
/// default budget ([`sel4_rootserver::sched::Budget::DEFAULT`]) to `tcb`
/// and returns it; `None` on other kernels (threads need none there).
pub fn bind_sched_context(ctx: &mut Ctx, tcb: CPtr) -> Result<Option<CPtr>, Failure> {
    sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
        let sc = sched_context(ctx, &sel4_rootserver::sched::Budget::DEFAULT)?;
        kernel::invoke(sc, sel4_sys::InvocationLabel::SchedContextBind, &[tcb], &[])?;
        Ok(Some(sc))
    } else {
        let _ = (ctx, tcb);
        Ok(None)
    } }
}

/// Creates a TCB in the root task's CSpace and VSpace with `fault_ep` as
/// fault endpoint, at `priority`; not started. On MCS kernels it gets a
/// scheduling context of its own ([`sel4_rootserver::sched::Budget::DEFAULT`],
/// `RawThread::sc`).
pub fn raw_thread(ctx: &mut Ctx, fault_ep: CPtr, priority: u64) -> Result<RawThread, Failure> {
    use sel4_sys::InvocationLabel as L;
    let tcb = ctx.create(ObjectType::TCBObject, 0)?;
    set_space(tcb, fault_ep, kernel::ROOT_CNODE, kernel::ROOT_VSPACE)?;
    let sc = sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
        {
            let sc = sched_context(ctx, &sel4_rootserver::sched::Budget::DEFAULT)?;
            // MCS TCB_SetSchedParams: caps authority, scheduling context,
            // fault endpoint; words MCP, priority.
            kernel::invoke(
                tcb,
                L::TCBSetSchedParams,
                &[kernel::ROOT_TCB, sc, fault_ep],
                &[0, priority],
            )?;
            Some(sc)
        }
    } else {
        {
            kernel::invoke(tcb, L::TCBSetPriority, &[kernel::ROOT_TCB], &[priority])?;
            None
        }
    } };
    Ok(RawThread {
        tcb,
        sc,
        stack: alloc::vec![0u8; 16 * 1024],
    })
}

/// TCB_WriteRegisters of the first `regs.len()` registers; `resume`
/// starts the thread.
pub fn write_regs(tcb: CPtr, resume: bool, regs: &[u64]) -> kernel::KResult {
    let mut args = alloc::vec![u64::from(resume), regs.len() as u64];
    args.extend_from_slice(regs);
    kernel::invoke(
        tcb,
        sel4_sys::InvocationLabel::TCBWriteRegisters,
        &[],
        &args,
    )
}

/// TCB_ReadRegisters of the first `count` registers.
pub fn read_regs(tcb: CPtr, count: usize) -> Result<alloc::vec::Vec<u64>, Failure> {
    let r = kernel::invoke(
        tcb,
        sel4_sys::InvocationLabel::TCBReadRegisters,
        &[],
        &[0, count as u64],
    )?;
    let n = r.info.get_length() as usize;
    if n != count {
        return Err(Failure::fail(alloc::format!(
            "ReadRegisters replied {n} words, wanted {count}"
        )));
    }
    let mut regs = r.mrs[..count.min(4)].to_vec();
    if count > 4 {
        regs.resize(count, 0);
        sel4_sys::ipc_buffer().read_msgs(4, &mut regs[4..count]);
    }
    Ok(regs)
}

/// Starts `t` at `entry(rdi, rsi)`.
pub fn start_raw(t: &RawThread, entry: u64, rdi: u64, rsi: u64) -> kernel::KResult {
    let mut regs = [0u64; reg::COUNT];
    regs[reg::PC] = entry;
    regs[reg::SP] = t.initial_sp();
    regs[reg::ARG0] = rdi;
    regs[reg::ARG1] = rsi;
    write_regs(t.tcb, true, &regs)
}

/// Body of a raw thread: signals `signal_cap`, then waits on `wait_cap`,
/// forever. Uses registers only (no TLS, no IPC buffer).
pub extern "C" fn signal_then_wait(signal_cap: u64, wait_cap: u64) -> ! {
    loop {
        sel4_sys::signal(signal_cap);
        sel4_sys::wait(wait_cap);
    }
}

/// Sets the priority of `tcb` (the root TCB as authority where the kernel
/// takes one; seL4 5.x checks the caller's MCP).
pub fn set_priority(tcb: CPtr, prio: u64) -> kernel::KResult {
    kernel::invoke(
        tcb,
        sel4_sys::InvocationLabel::TCBSetPriority,
        &[kernel::ROOT_TCB],
        &[prio],
    )
}

/// Turns a framework or thread error into a test failure.
pub fn fw<E: core::fmt::Display>(what: &'static str) -> impl Fn(E) -> Failure {
    move |e| Failure::fail(alloc::format!("{what}: {e}"))
}

/// Same for errors that only have Debug.
pub fn dbg<E: core::fmt::Debug>(what: &'static str) -> impl Fn(E) -> Failure {
    move |e| Failure::fail(alloc::format!("{what}: {e:?}"))
}

/// Address of [`signal_then_wait`], for a raw thread's rip.
pub fn entry_addr() -> u64 {
    signal_then_wait as *const () as usize as u64
}

/// The object type of the smallest frame (`sel4::Granule`: x86_64
/// `X86_4K`, aarch64 `ARM_SmallPageObject`, riscv64 `RISCV_4KPage`).
pub const GRANULE: sel4_sys::ObjectType = <sel4::Granule as sel4_sys::FixedSize>::TYPE;
/// The object type of a 2 MiB frame (`sel4::LargePage`).
pub const LARGE_PAGE: sel4_sys::ObjectType = <sel4::LargePage as sel4_sys::FixedSize>::TYPE;

/// The physical address of the frame in slot `frame` (`Page_GetAddress`
/// of this architecture).
pub fn frame_paddr(frame: sel4_sys::Word) -> Result<sel4_sys::Word, Failure> {
    sel4::FrameOps::paddr(sel4::Cap::<sel4::Granule>::from_cptr(frame))
        .map_err(|e| Failure::fail(alloc::format!("Page_GetAddress: {e:?}")))
}
