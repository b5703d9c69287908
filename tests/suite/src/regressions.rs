//! TCB_WriteRegisters sets every register (seL4test REGRESSIONS0001): a
//! thread started at a routine that checks its registers sees exactly the
//! values written, also when it last entered the kernel through a syscall
//! (whose return path restores fewer registers: RCX, R11 and RSP are the
//! `sysretq`'s).
#![cfg_attr(not(target_arch = "x86_64"), allow(unused_imports))]

#[cfg(target_arch = "x86_64")]
use sel4_asm_probes::entry_regs::{entry, report_site, EXPECTED, NAMES};
#[cfg(target_arch = "x86_64")]
use sel4_sys::{FaultLabel, InvocationLabel, Word};
#[cfg(target_arch = "x86_64")]
use sel4_test_harness::kernel::invoke;
use sel4_test_harness::{ensure_eq, sel4_test, Ctx, TestResult};

#[cfg(target_arch = "x86_64")]
use crate::util::{endpoint, notification, raw_thread, read_regs, reg, start_raw, write_regs};

#[cfg(target_arch = "x86_64")]
/// Writes the expected registers into `tcb` (resuming it) and checks what
/// the thread reports through its fault endpoint `fault_ep`.
fn start_and_check(tcb: Word, fault_ep: Word, what: &str) -> TestResult {
    let mut regs = [0u64; reg::COUNT];
    regs[reg::PC] = entry();
    regs[1..].copy_from_slice(&EXPECTED);
    write_regs(tcb, true, &regs)?;
    let f = sel4_sys::recv_regs(fault_ep);
    ensure_eq!(
        f.info.get_label(),
        FaultLabel::UserException as Word,
        "{what}: the report arrives as a user exception"
    );
    ensure_eq!(f.mrs[0], report_site(), "{what}: from the report site");
    let result = read_regs(tcb, reg::COUNT)?[3] as usize;
    ensure_eq!(
        NAMES.get(result).copied().unwrap_or("an unknown result"),
        NAMES[0],
        "{what}: the first register the thread found wrong"
    );
    Ok(())
}

#[sel4_test(
    sel4test = "REGRESSIONS0001",
    arch = "x86_64",
    arch_reason = "the register probe is x86_64 assembly (sel4-asm-probes) and writes the x86 register set; not ported to aarch64 and riscv64 yet"
)]
fn write_registers_sets_every_register(ctx: &mut Ctx) -> TestResult {
    let fault_ep = endpoint(ctx)?;
    // A TCB that never ran.
    let fresh = raw_thread(ctx, fault_ep, 250)?;
    start_and_check(fresh.tcb, fault_ep, "a new thread")?;
    // A thread blocked in a syscall (its last kernel entry).
    let ready = notification(ctx)?;
    let parked = notification(ctx)?;
    let t = raw_thread(ctx, fault_ep, 250)?;
    start_raw(&t, crate::util::entry_addr(), ready, parked)?;
    sel4_sys::wait(ready);
    invoke(t.tcb, InvocationLabel::TCBSuspend, &[], &[])?;
    start_and_check(
        t.tcb,
        fault_ep,
        "a thread that last entered the kernel by a syscall",
    )?;
    // And once more, the same thread from its report (a fault).
    start_and_check(
        t.tcb,
        fault_ep,
        "a thread that last entered the kernel by an exception",
    )?;
    Ok(())
}
