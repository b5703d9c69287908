//! Faults handled and restarted (seL4test faults.c, PAGEFAULT0001-0005): a
//! thread reads, writes or executes an unmapped address, makes an unknown
//! syscall or executes an undefined instruction at a known instruction;
//! the handler checks the fault message (instruction address, fault
//! address, kind, registers), puts a new value in a register and moves the
//! thread past the fault, and, when it restarts the thread through the
//! fault reply, the thread comes back with that value. Each case runs with
//! an unbadged and a badged fault endpoint, with and without the restart,
//! and with the faulting thread one priority below, at, and one above the
//! handler's. The fault sites are in `sel4-asm-probes` (one file per
//! architecture); the registers are read and written by their names in the
//! kernel's `seL4_UserContext` of the architecture (`sel4::UserContext`).

use alloc::format;
use sel4::{Cap, Registers, TcbOps, UserContext};
use sel4_asm_probes::fault::UNKNOWN_SYSCALL_VALUE;
use sel4_asm_probes::fault::{self, Site, BAD_MAGIC, FAULT_VADDR, GOOD_MAGIC};
use sel4_sys::consts::{
    UnknownSyscall_FaultIP, UnknownSyscall_Length, UnknownSyscall_Syscall, UserException_FaultIP,
    UserException_Length, UserException_SP, VMFault_Addr, VMFault_FSR, VMFault_IP, VMFault_Length,
    VMFault_PrefetchFault,
};
use sel4_sys::{ExceptionKind, Fault, FaultLabel, MessageInfo, VmAccess, Word};
use sel4_test_harness::{ensure, ensure_eq, sel4_test, Ctx, TestResult};

use crate::support::{lift, start_raw3, TEST_TOP};
use crate::util::{badged, endpoint, notification, raw_thread};

const READ: Word = 1;
const WRITE: Word = 2;
const EXEC: Word = 3;
const BAD_SYSCALL: Word = 4;
const BAD_INSTRUCTION: Word = 5;

/// sel4test's BAD_SYSCALL_NUMBER.
const BAD_SYSCALL_NUMBER: Word = 0xc1;
/// sel4test's EXPECTED_BADGE.
const EXPECTED_BADGE: Word = 0xabababa;
/// What the undefined-instruction probe puts in RSP (the fault message
/// reports it).
const SP_MARKER: Word = 0x5afe_5afe_0000;

/// The faulting thread: runs the probe of `kind`, then sends what it
/// returned on `done` and parks on `park`. Registers and its own stack
/// only.
extern "C" fn faulter(kind: Word, done: Word, park: Word) -> ! {
    let v = match kind {
        READ => fault::read(BAD_MAGIC),
        WRITE => fault::write(BAD_MAGIC),
        EXEC => fault::exec(BAD_MAGIC),
        BAD_SYSCALL => fault::bad_syscall(BAD_MAGIC, BAD_SYSCALL_NUMBER),
        _ => fault::undefined_instruction(BAD_MAGIC, SP_MARKER),
    };
    sel4_sys::send_regs(done, MessageInfo::new(0, 0, 0, 1), [Word::from(v), 0, 0, 0]);
    loop {
        sel4_sys::wait(park);
    }
}

/// The fault address as the kernel reports it: seL4 5.x cuts it to 32 bits
/// (its handleVMFault keeps the address in a uint32_t).
fn reported_addr(addr: Word) -> Word {
    if sel4_sys::KERNEL_VERSION_MAJOR < 10 {
        addr & 0xffff_ffff
    } else {
        addr
    }
}

/// A 32-bit register value as sel4test compares it (`(int)` of the word).
fn low32(w: Word) -> u32 {
    w as u32
}

/// The word of a `UserException` fault message with the status register
/// (x86_64 RFLAGS, aarch64 SPSR; riscv64 has none).
#[cfg(target_arch = "x86_64")]
const USER_EXCEPTION_FLAGS: Option<usize> = Some(sel4_sys::consts::UserException_FLAGS);
#[cfg(target_arch = "aarch64")]
const USER_EXCEPTION_FLAGS: Option<usize> = Some(sel4_sys::consts::UserException_SPSR);
#[cfg(target_arch = "riscv64")]
const USER_EXCEPTION_FLAGS: Option<usize> = None;

fn tcb_cap(tcb: Word) -> Cap<sel4::cap_type::TCB> {
    Cap::from_cptr(tcb)
}

/// The faulted thread's registers.
fn registers(tcb: Word) -> Result<UserContext, sel4_test_harness::Failure> {
    Ok(tcb_cap(tcb).read_registers(false)?)
}

/// Reads the faulted thread's registers, checks that the probe's value
/// register (x86_64 RAX, aarch64 X0, riscv64 A0) holds BAD_MAGIC, and
/// writes GOOD_MAGIC there and the restart address into the instruction
/// pointer (sel4test's set_good_magic_and_set_pc).
fn good_magic_and_pc(tcb: Word, restart: Word, what: &str) -> TestResult {
    let mut regs = registers(tcb)?;
    ensure_eq!(
        low32(fault::value(&regs)),
        BAD_MAGIC,
        "{what}: the value register of the faulted thread"
    );
    fault::set_value(&mut regs, Word::from(GOOD_MAGIC));
    regs.set_pc(restart);
    tcb_cap(tcb).write_registers(false, &regs)?;
    Ok(())
}

/// Handles one fault of `kind` on `ep` from the thread `tcb`; replies
/// (restarting it) when `restart`.
fn handle(kind: Word, ep: Word, tcb: Word, badge: Word, restart: bool, what: &str) -> TestResult {
    let (info, got_badge) = sel4_sys::recv(ep);
    let mr = sel4_sys::get_mr;
    ensure_eq!(got_badge, badge, "{what}: badge of the fault message");
    match kind {
        READ | WRITE | EXEC => {
            let s: Site = match kind {
                READ => fault::read_site(),
                WRITE => fault::write_site(),
                _ => fault::exec_site(),
            };
            ensure_eq!(
                info.get_label(),
                FaultLabel::VMFault as Word,
                "{what}: a VM fault"
            );
            ensure_eq!(
                info.get_length() as usize,
                VMFault_Length,
                "{what}: message length"
            );
            ensure_eq!(mr(VMFault_IP), s.ip, "{what}: instruction address");
            ensure_eq!(
                mr(VMFault_Addr),
                reported_addr(FAULT_VADDR),
                "{what}: fault address"
            );
            if kind != EXEC {
                ensure_eq!(
                    mr(VMFault_PrefetchFault),
                    0,
                    "{what}: not an instruction fetch"
                );
            }
            let words: [Word; VMFault_Length] = core::array::from_fn(mr);
            let access = Fault::decode(info.get_label(), &words).vm_access();
            ensure_eq!(
                access == Some(VmAccess::Write),
                kind == WRITE,
                "{what}: a write ({access:?} from the fault status {:#x})",
                mr(VMFault_FSR)
            );
            good_magic_and_pc(tcb, s.restart, what)?;
            if restart {
                sel4_sys::reply(info);
            }
        }
        BAD_SYSCALL => {
            let s = fault::bad_syscall_site();
            ensure_eq!(
                info.get_label(),
                FaultLabel::UnknownSyscall as Word,
                "{what}: an unknown-syscall fault"
            );
            ensure_eq!(
                info.get_length() as usize,
                UnknownSyscall_Length,
                "{what}: message length"
            );
            ensure_eq!(
                mr(UnknownSyscall_FaultIP),
                s.ip,
                "{what}: instruction address"
            );
            ensure_eq!(
                mr(UnknownSyscall_Syscall),
                BAD_SYSCALL_NUMBER,
                "{what}: syscall number"
            );
            ensure_eq!(
                low32(mr(UNKNOWN_SYSCALL_VALUE)),
                BAD_MAGIC,
                "{what}: the value register"
            );
            // The reply sets the registers: past the syscall, a new value.
            sel4_sys::set_mr(UnknownSyscall_FaultIP, s.restart);
            sel4_sys::set_mr(UNKNOWN_SYSCALL_VALUE, Word::from(GOOD_MAGIC));
            // Label 0 restarts the thread, anything else leaves it stopped.
            sel4_sys::reply(info.with_label(Word::from(!restart)));
        }
        _ => {
            let s = fault::undefined_instruction_site();
            ensure_eq!(
                info.get_label(),
                FaultLabel::UserException as Word,
                "{what}: a user exception"
            );
            ensure_eq!(
                info.get_length() as usize,
                UserException_Length,
                "{what}: message length"
            );
            ensure_eq!(
                mr(UserException_FaultIP),
                s.ip,
                "{what}: instruction address"
            );
            ensure_eq!(mr(UserException_SP), SP_MARKER, "{what}: stack pointer");
            let words: [Word; UserException_Length] = core::array::from_fn(mr);
            let f = Fault::decode(info.get_label(), &words);
            ensure_eq!(
                f.exception_kind(),
                Some(ExceptionKind::UndefinedInstruction),
                "{what}: an undefined instruction ({f:?})"
            );
            let mut regs = registers(tcb)?;
            // x86_64: the probe kept RFLAGS (pushfq) in RCX; the resume
            // flag (bit 16) may differ on hardware.
            #[cfg(target_arch = "x86_64")]
            {
                let flags = mr(sel4_sys::consts::UserException_FLAGS);
                ensure_eq!(
                    (flags ^ regs.rcx) & !(1 << 16),
                    0,
                    "{what}: flags {flags:#x}, before the fault {:#x}",
                    regs.rcx
                );
            }
            ensure_eq!(
                low32(fault::value(&regs)),
                BAD_MAGIC,
                "{what}: the value register"
            );
            fault::set_value(&mut regs, Word::from(GOOD_MAGIC));
            tcb_cap(tcb).write_registers(false, &regs)?;
            // The reply sets the instruction pointer, stack pointer (the
            // one the probe kept) and flags (as they were).
            let flags = USER_EXCEPTION_FLAGS.map(|i| (i, mr(i)));
            sel4_sys::set_mr(UserException_FaultIP, s.restart);
            sel4_sys::set_mr(UserException_SP, fault::kept_sp(&regs));
            if let Some((i, v)) = flags {
                sel4_sys::set_mr(i, v);
            }
            sel4_sys::reply(info.with_label(Word::from(!restart)));
        }
    }
    Ok(())
}

/// sel4test's test_fault within one address space.
fn faults_of(ctx: &mut Ctx, kind: Word) -> TestResult {
    let ep = endpoint(ctx)?;
    let badged_ep = badged(ctx, ep, EXPECTED_BADGE)?;
    let done = endpoint(ctx)?;
    let park = notification(ctx)?;
    lift(ctx)?;
    for (badge, fault_ep) in [(0, ep), (EXPECTED_BADGE, badged_ep)] {
        for restart in [false, true] {
            for prio in [TEST_TOP - 1, TEST_TOP, TEST_TOP + 1] {
                let what = format!("badge {badge:#x}, restart {restart}, faulter at {prio} (handler at {TEST_TOP})");
                let t = raw_thread(ctx, fault_ep, Word::from(prio))?;
                start_raw3(&t, faulter as *const () as usize as Word, kind, done, park)?;
                handle(kind, ep, t.tcb, badge, restart, &what)?;
                if restart {
                    let r = sel4_sys::recv_regs(done);
                    ensure_eq!(
                        low32(r.mrs[0]),
                        GOOD_MAGIC,
                        "{what}: the restarted thread's value"
                    );
                } else {
                    // Not restarted: it does not run on.
                    let r = sel4_sys::nb_recv_regs(done);
                    ensure!(
                        r.info.get_length() == 0,
                        "{what}: the thread ran on without a restart"
                    );
                }
            }
        }
    }
    Ok(())
}

#[sel4_test(sel4test = "PAGEFAULT0001")]
fn read_fault_handled_and_restarted(ctx: &mut Ctx) -> TestResult {
    faults_of(ctx, READ)
}

#[sel4_test(sel4test = "PAGEFAULT0002")]
fn write_fault_handled_and_restarted(ctx: &mut Ctx) -> TestResult {
    faults_of(ctx, WRITE)
}

#[sel4_test(sel4test = "PAGEFAULT0003")]
fn execute_fault_handled_and_restarted(ctx: &mut Ctx) -> TestResult {
    faults_of(ctx, EXEC)
}

#[sel4_test(sel4test = "PAGEFAULT0004")]
fn unknown_syscall_handled_and_restarted(ctx: &mut Ctx) -> TestResult {
    faults_of(ctx, BAD_SYSCALL)
}

#[sel4_test(sel4test = "PAGEFAULT0005")]
fn undefined_instruction_handled_and_restarted(ctx: &mut Ctx) -> TestResult {
    faults_of(ctx, BAD_INSTRUCTION)
}
