//! Faults delivered to a handler: VM faults (data and instruction),
//! capability faults (send and receive phase), unknown syscalls and user
//! exceptions, each decoded into the typed `Fault` and its fields checked.

use sel4_rootserver::fault::FaultHandler;
use sel4_rootserver::objects::Objects;
use sel4_rootserver::thread::{spawn, ThreadBuilder, ThreadError};
use sel4_runtime::thread::provoke;
use sel4_sys::{ExceptionKind, Fault, LookupFailure, MessageInfo, VmAccess, Word, REGISTER_MRS};
use sel4_test_harness::{ensure, ensure_eq, fail, sel4_test, Ctx, Failure, TestResult};

use crate::util::{
    endpoint, fw, notification, raw_thread, read_regs, reg, write_regs, OBJECT_SLOTS,
};

/// A cptr whose guard does not match the root CNode's.
const BAD_CPTR: u64 = 0xdead_0000_0000_0000;

/// Runs `f` on a thread and returns the fault it ends with.
fn fault_of<F: FnOnce() + Send + 'static>(objs: &mut Objects, f: F) -> Result<Fault, Failure> {
    let h = spawn(objs, f).map_err(fw("spawn"))?;
    match h.join(objs) {
        Err(ThreadError::Faulted(f)) => Ok(*f),
        other => Err(Failure::fail(alloc::format!(
            "expected a fault, join gave {other:?}"
        ))),
    }
}

#[sel4_test(sel4test_partly = "PAGEFAULT0001")]
fn vm_fault_on_read(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    match fault_of(&mut objs, || {
        provoke::read_unmapped(0x2468);
    })? {
        f @ Fault::VmFault {
            ip,
            addr,
            prefetch_fault,
            fsr,
        } => {
            ensure_eq!(addr, 0x2468, "fault address");
            ensure!(!prefetch_fault, "a data access is no prefetch fault");
            ensure_eq!(f.vm_access(), Some(VmAccess::Read), "a read (fsr {fsr:#x})");
            if cfg!(target_arch = "x86_64") {
                // The page-fault error code's other bits.
                ensure_eq!(fsr & 1, 0, "page not present (fsr {fsr:#x})");
                ensure_eq!(fsr & 4, 4, "from user mode (fsr {fsr:#x})");
            }
            ensure!(ip > 0x400000, "ip {ip:#x} in the image");
        }
        other => fail!("expected a VM fault, got {other:?}"),
    }
    Ok(())
}

#[sel4_test(sel4test_partly = "PAGEFAULT0003")]
fn vm_fault_on_instruction_fetch(ctx: &mut Ctx) -> TestResult {
    let ep = endpoint(ctx)?;
    let t = raw_thread(ctx, ep, 250)?;
    let mut regs = [0u64; reg::COUNT];
    regs[reg::PC] = 0x3000;
    regs[reg::SP] = t.initial_sp();
    write_regs(t.tcb, true, &regs)?;
    let fault = receive_fault(ep);
    match fault {
        f @ Fault::VmFault {
            ip,
            addr,
            prefetch_fault,
            fsr,
        } => {
            ensure_eq!((ip, addr), (0x3000, 0x3000), "ip and address");
            ensure_eq!(
                prefetch_fault,
                f.vm_access() == Some(VmAccess::Execute),
                "prefetch flag matches the instruction fetch of fsr {fsr:#x}"
            );
            if !cfg!(target_arch = "x86_64") {
                // (x86 reports fetches as such only with execute-disable
                // paging on.)
                ensure!(prefetch_fault, "an instruction fetch is a prefetch fault");
            }
        }
        other => fail!("expected a VM fault, got {other:?}"),
    }
    Ok(())
}

/// Blocking receive of a fault message on `ep`, decoded.
fn receive_fault(ep: u64) -> Fault {
    let r = sel4_sys::recv_regs(ep);
    let len = core::cmp::min(r.info.get_length() as usize, 32);
    let mut words = [0 as Word; 32];
    let n = core::cmp::min(len, REGISTER_MRS);
    words[..n].copy_from_slice(&r.mrs[..n]);
    if len > REGISTER_MRS {
        sel4_sys::ipc_buffer().read_msgs(REGISTER_MRS, &mut words[REGISTER_MRS..len]);
    }
    Fault::decode(r.info.get_label(), &words[..len])
}

#[sel4_test]
fn cap_fault_in_send_phase(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    match fault_of(&mut objs, || {
        sel4_sys::call_regs(BAD_CPTR, MessageInfo::new(0, 0, 0, 0), [0; 4]);
    })? {
        Fault::CapFault {
            addr,
            in_recv_phase,
            lookup_failure,
            ..
        } => {
            ensure_eq!(addr, BAD_CPTR);
            ensure!(!in_recv_phase, "a call's lookup is in the send phase");
            ensure!(
                matches!(lookup_failure, LookupFailure::GuardMismatch { .. }),
                "lookup failure {lookup_failure:?}"
            );
        }
        other => fail!("expected a cap fault, got {other:?}"),
    }
    Ok(())
}

#[sel4_test]
fn cap_fault_in_receive_phase(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    match fault_of(&mut objs, || {
        sel4_sys::recv_regs(BAD_CPTR);
    })? {
        Fault::CapFault {
            addr,
            in_recv_phase,
            ..
        } => {
            ensure_eq!(addr, BAD_CPTR);
            ensure!(in_recv_phase, "a receive's lookup is in the receive phase");
        }
        other => fail!("expected a cap fault, got {other:?}"),
    }
    Ok(())
}

#[sel4_test]
fn null_cap_invocation_is_an_error_not_a_fault(ctx: &mut Ctx) -> TestResult {
    let empty = ctx.slot()?;
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    // The slot resolves (to a null cap), so there is no lookup failure:
    // the invocation fails with an error reply and the thread goes on.
    let h = spawn(&mut objs, move || {
        sel4_sys::call_regs(empty, MessageInfo::new(0, 0, 0, 0), [0; 4])
            .info
            .get_label()
    })
    .map_err(fw("spawn"))?;
    let label = h.join(&mut objs).map_err(fw("join"))?;
    ensure_eq!(
        label,
        sel4_sys::Error::InvalidCapability as u64,
        "error code"
    );
    Ok(())
}

#[sel4_test(sel4test_partly = "PAGEFAULT0004")]
fn unknown_syscall_fault(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    match fault_of(&mut objs, || provoke::unknown_syscall(-123))? {
        Fault::UnknownSyscall {
            syscall, ip, sp, ..
        } => {
            ensure_eq!(syscall as i64, -123, "syscall number");
            ensure!(ip > 0x400000, "ip {ip:#x}");
            ensure!(sp != 0, "sp");
        }
        other => fail!("expected an unknown syscall fault, got {other:?}"),
    }
    Ok(())
}

#[sel4_test(sel4test_partly = "PAGEFAULT0005")]
fn user_exception_invalid_opcode(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    match fault_of(&mut objs, provoke::undefined_instruction)? {
        f @ Fault::UserException { number, ip, .. } => {
            ensure_eq!(
                f.exception_kind(),
                Some(ExceptionKind::UndefinedInstruction),
                "an undefined instruction (number {number:#x})"
            );
            if cfg!(target_arch = "x86_64") {
                ensure_eq!(number, 6, "#UD is vector 6");
            }
            ensure!(ip > 0x400000, "ip {ip:#x}");
        }
        other => fail!("expected a user exception, got {other:?}"),
    }
    Ok(())
}

#[sel4_test]
fn shared_handler_tells_threads_apart(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let handler = FaultHandler::new(&mut objs).map_err(fw("handler"))?;
    let mut threads = alloc::vec::Vec::new();
    for badge in 1..=3u64 {
        threads.push(
            ThreadBuilder::new()
                .fault_handler(&handler, badge)
                .spawn(&mut objs, move || {
                    provoke::read_unmapped(0x10_000 * badge as usize);
                })
                .map_err(fw("spawn"))?,
        );
    }
    let mut seen = [false; 3];
    for _ in 0..3 {
        match handler.next_fault() {
            (b @ 1..=3, Fault::VmFault { addr, .. }) if addr == 0x10_000 * b => {
                seen[b as usize - 1] = true
            }
            other => fail!("unexpected fault {other:?}"),
        }
    }
    for t in threads {
        t.kill(&mut objs);
    }
    ensure_eq!(seen, [true; 3]);
    Ok(())
}

#[sel4_test]
fn handler_repairs_faulted_thread(ctx: &mut Ctx) -> TestResult {
    let ep = endpoint(ctx)?;
    let ready = notification(ctx)?;
    let ready_b = crate::util::badged(ctx, ready, 0x3)?;
    let parked = notification(ctx)?;
    let t = raw_thread(ctx, ep, 250)?;
    let mut regs = [0u64; reg::COUNT];
    regs[reg::PC] = 0x5000;
    regs[reg::SP] = t.initial_sp();
    write_regs(t.tcb, true, &regs)?;
    match receive_fault(ep) {
        Fault::VmFault { addr: 0x5000, .. } => {}
        other => fail!("expected a VM fault at 0x5000, got {other:?}"),
    }
    // The faulted thread waits for its handler; point it at real code.
    let mut regs = read_regs(t.tcb, reg::COUNT)?;
    ensure_eq!(regs[reg::PC], 0x5000, "rip of the faulted thread");
    regs[reg::PC] = crate::util::entry_addr();
    regs[reg::ARG0] = ready_b;
    regs[reg::ARG1] = parked;
    write_regs(t.tcb, true, &regs)?;
    ensure_eq!(sel4_sys::poll(ready), 0x3, "the repaired thread ran");
    Ok(())
}
