//! Switching a thread's FPU off and on (seL4test FPU0003, FPU0004), with
//! TCB_SetFlags (seL4 14.0.0 and later; older kernels have no way to turn
//! a thread's FPU off, and these tests skip there).
#![cfg_attr(not(target_arch = "x86_64"), allow(unused_imports))]

#[cfg(target_arch = "x86_64")]
use sel4_sys::MessageInfo;
use sel4_sys::Word;
use sel4_test_harness::kernel::KResult;
use sel4_test_harness::{ensure_eq, sel4_test, skip, Ctx, TestResult};

#[cfg(target_arch = "x86_64")]
use crate::support::{lift, start_raw3, TEST_TOP};
#[cfg(target_arch = "x86_64")]
use crate::util::{endpoint, notification, raw_thread};

/// TCB_SetFlags: clears `clear`, sets `set`, returns the flags after.
#[allow(unused_variables)]
fn set_flags(tcb: Word, clear: Word, set: Word) -> Option<KResult> {
    sel4_sys::sel4_cfg_if! {
        kernel >= 14 && label TCBSetFlags {
            Some(sel4_test_harness::kernel::invoke(
                tcb,
                sel4_sys::InvocationLabel::TCBSetFlags,
                &[],
                &[clear, set],
            ))
        } else {
            None
        }
    }
}

/// seL4_TCBFlag_fpuDisabled, on kernels that have it.
fn fpu_disabled() -> Word {
    sel4_sys::sel4_cfg_if! {
        kernel >= 14 && label TCBSetFlags {
            sel4_sys::consts::TCBFlag_fpuDisabled as Word
        } else {
            0
        }
    }
}

const NO_SET_FLAGS: &str =
    "this kernel has no TCB_SetFlags (added in seL4 14.0.0): a thread's FPU cannot be switched off";

#[sel4_test(sel4test = "FPU0003")]
fn set_flags_switches_the_fpu_flag(ctx: &mut Ctx) -> TestResult {
    let tcb = ctx.create(sel4_sys::ObjectType::TCBObject, 0)?;
    let Some(r) = set_flags(tcb, 0, 0) else {
        skip!("{NO_SET_FLAGS}");
    };
    ensure_eq!(r?.mrs[0], 0, "a new TCB's flags");
    let off = fpu_disabled();
    let r = set_flags(tcb, 0, off).expect("the kernel has TCB_SetFlags")?;
    ensure_eq!(r.mrs[0], off, "after setting fpuDisabled");
    let r = set_flags(tcb, off, 0).expect("the kernel has TCB_SetFlags")?;
    ensure_eq!(r.mrs[0], 0, "after clearing it");
    Ok(())
}

#[cfg(target_arch = "x86_64")]
fn pattern(seed: u64) -> [u64; 2 * sel4_sys::arch::SSE_REGISTERS] {
    let mut p = [0u64; 2 * sel4_sys::arch::SSE_REGISTERS];
    for (i, w) in p.iter_mut().enumerate() {
        *w = seed
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .wrapping_add(i as u64);
    }
    p
}

#[cfg(target_arch = "x86_64")]
/// The worker of FPU0004: loads its SSE registers, says so (2 on `done`),
/// then checks and reloads them over and over until `stop` is signalled
/// (and then twice more); sends 0 on `done` if the values always came
/// back, 1 if not, 3 if no stop signal came.
extern "C" fn sse_worker(stop: Word, done: Word, _: Word) -> ! {
    let p = pattern(9);
    sel4_sys::arch::write_sse(&p);
    sel4_sys::send_regs(done, MessageInfo::new(0, 0, 0, 1), [2, 0, 0, 0]);
    let mut runs_left = 2;
    // 0: the values always came back; 1: they did not; 3: no stop signal
    // in a million rounds (a bound, so that a lost signal cannot make this
    // thread spin above the harness forever).
    let mut result: Word = 3;
    for _ in 0..1_000_000 {
        if sel4_sys::arch::read_sse() != p {
            result = 1;
            break;
        }
        sel4_sys::arch::write_sse(&p);
        if sel4_sys::poll(stop) != 0 || runs_left < 2 {
            runs_left -= 1;
            if runs_left == 0 {
                result = 0;
                break;
            }
        }
    }
    sel4_sys::send_regs(done, MessageInfo::new(0, 0, 0, 1), [result, 0, 0, 0]);
    loop {
        sel4_sys::wait(stop);
    }
}

#[sel4_test(
    sel4test = "FPU0004",
    arch = "x86_64",
    arch_reason = "the worker loads its SSE registers and reads them back between Rust statements, which holds on x86_64 only because that target is soft-float (compiled code never touches xmm); the aarch64 and riscv64 targets use the FP registers for compiled code, so the port needs the worker's whole loop (load, poll, compare) in assembly, and the FP-disabled exception is another class (aarch64 EC 0x07, riscv64 an illegal instruction): not ported"
)]
fn disabled_fpu_faults_and_reenabled_fpu_keeps_state(ctx: &mut Ctx) -> TestResult {
    if set_flags(ctx.own_tcb(), 0, 0).is_none() {
        skip!("{NO_SET_FLAGS}");
    }
    let fault_ep = endpoint(ctx)?;
    let done = endpoint(ctx)?;
    let stop = notification(ctx)?;
    // Signals through a badged cap: Poll returns the badge (0 for none).
    let stop_b = crate::util::badged(ctx, stop, 1)?;
    lift(ctx)?;
    // Below this thread: it runs while this one waits for its fault.
    let t = raw_thread(ctx, fault_ep, Word::from(TEST_TOP - 10))?;
    start_raw3(&t, sse_worker as *const () as usize as Word, stop, done, 0)?;
    // It runs, fills its SSE registers and says so.
    ensure_eq!(sel4_sys::recv_regs(done).mrs[0], 2, "the worker started");
    let off = fpu_disabled();
    let r = set_flags(t.tcb, 0, off).expect("the kernel has TCB_SetFlags")?;
    ensure_eq!(r.mrs[0], off, "flags after switching the worker's FPU off");
    sel4_sys::signal(stop_b);
    // Its next SSE instruction is a device-not-available exception (the
    // kernel saved its SSE state when its FPU was switched off).
    let f = sel4_sys::recv_regs(fault_ep);
    ensure_eq!(
        f.info.get_label(),
        sel4_sys::FaultLabel::UserException as Word,
        "a user exception"
    );
    ensure_eq!(
        f.mrs[sel4_sys::consts::UserException_Number],
        7,
        "#NM (device not available)"
    );
    let r = set_flags(t.tcb, off, 0).expect("the kernel has TCB_SetFlags")?;
    ensure_eq!(r.mrs[0], 0, "flags after switching it back on");
    // Restarted, it redoes the instruction with its FPU state intact.
    sel4_sys::reply_regs(MessageInfo::new(0, 0, 0, 0), [0; 4]);
    let r = sel4_sys::recv_regs(done);
    ensure_eq!(r.mrs[0], 0, "the worker's SSE values came back every time");
    Ok(())
}
