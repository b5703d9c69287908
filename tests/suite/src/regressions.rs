//! TCB_WriteRegisters sets every register (seL4test REGRESSIONS0001): a
//! thread started at a routine that checks its registers sees exactly the
//! values written, also when it last entered the kernel through a syscall
//! (x86_64: whose return path restores fewer registers: RCX, R11 and RSP
//! are the `sysretq`'s). aarch64 and riscv64: every general register of
//! the kernel's `seL4_UserContext` (and on aarch64 the carry flag of
//! SPSR), checked by the probe in `sel4-asm-probes`.

use sel4_sys::{FaultLabel, InvocationLabel, Word};
use sel4_test_harness::kernel::invoke;
use sel4_test_harness::{ensure_eq, sel4_test, Ctx, TestResult};

use crate::util::{endpoint, notification, raw_thread, start_raw};

#[cfg(not(target_arch = "x86_64"))]
/// Writes the expected registers into `tcb` (resuming it) and checks what
/// the thread reports through its fault endpoint `fault_ep`.
fn start_and_check(tcb: Word, fault_ep: Word, what: &str) -> TestResult {
    use sel4::{Cap, TcbOps};
    use sel4_asm_probes::entry_regs::{describe, expected, report_site, result};
    let t: Cap<sel4::cap_type::TCB> = Cap::from_cptr(tcb);
    t.write_registers(true, &expected())?;
    let f = sel4_sys::recv_regs(fault_ep);
    ensure_eq!(
        f.info.get_label(),
        FaultLabel::UserException as Word,
        "{what}: the report arrives as a user exception"
    );
    ensure_eq!(
        f.mrs[sel4_sys::consts::UserException_FaultIP],
        report_site(),
        "{what}: from the report site"
    );
    let r = result(&t.read_registers(false)?);
    ensure_eq!(
        describe(r),
        describe(0),
        "{what}: the first register the thread found wrong"
    );
    Ok(())
}

#[cfg(target_arch = "x86_64")]
/// Writes the expected registers into `tcb` (resuming it) and checks what
/// the thread reports through its fault endpoint `fault_ep`.
fn start_and_check(tcb: Word, fault_ep: Word, what: &str) -> TestResult {
    use crate::util::{read_regs, reg, write_regs};
    use sel4_asm_probes::entry_regs::{entry, report_site, EXPECTED, NAMES};
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

#[sel4_test(sel4test = "REGRESSIONS0001")]
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
