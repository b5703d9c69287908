//! A remote-controlled client (`client1`, `client2`): asks the test what
//! to do on its `ctl` channel (the test serves it), does it, reports the
//! result with the next question. Test support: it reads and writes
//! addresses it is told to, which is what the isolation tests need.
#![no_std]
#![no_main]

use probe_proto::{result, CtlRequest, CtlResponse, SvcRequest, SvcResponse};
use sel4_component::CallError;
use sel4_sys::MessageInfo;

sel4_component::include_env!();
sel4_component::entry!(main);

fn call_svc(env: &Env, op: u64, arg: u64) -> CtlRequest {
    let (kind, a, b) = match env.svc.call(&SvcRequest::Do { op, arg }) {
        Ok(SvcResponse::Answer { value, generation }) => (result::OK, value, generation),
        Err(CallError::Restarted { generation }) => (result::RESTARTED, generation, 0),
        Err(CallError::Stopped) => (result::STOPPED, 0, 0),
        Err(CallError::Ipc(_)) => (result::OTHER, 0, 0),
    };
    CtlRequest::Done { kind, a, b }
}

fn main(env: Env) -> u64 {
    let mut msg = CtlRequest::Ready {
        generation: sel4_component::generation(),
    };
    loop {
        let Ok(order) = env.ctl.call(&msg) else {
            return 99;
        };
        msg = match order {
            CtlResponse::CallSvc { op, arg } => call_svc(&env, op, arg),
            CtlResponse::InvokeSlot { slot } => {
                let r = sel4_sys::call_regs(slot, MessageInfo::new(0, 0, 0, 0), [0; 4]);
                CtlRequest::Done {
                    kind: result::LABEL,
                    a: r.info.get_label(),
                    b: 0,
                }
            }
            CtlResponse::ReadAddr { addr } => {
                // SAFETY: test support: the test names an address that is
                // mapped here, or one meant to fault (the supervisor
                // handles the fault; this thread never resumes here).
                let v = unsafe { core::ptr::read_volatile(addr as *const u64) };
                CtlRequest::Done {
                    kind: result::VALUE,
                    a: v,
                    b: 0,
                }
            }
            CtlResponse::WriteText => {
                let at = main as *const () as usize;
                // SAFETY: test support: a write to this image's code, which
                // the loader mapped read-only: a VM fault the supervisor
                // handles (the value written is the byte already there).
                unsafe {
                    let b = core::ptr::read_volatile(at as *const u8);
                    core::ptr::write_volatile(at as *mut u8, b);
                }
                CtlRequest::Done {
                    kind: result::VALUE,
                    a: at as u64,
                    b: 0,
                }
            }
            CtlResponse::Exit { code } => return code,
            CtlResponse::Spin => loop {
                // A system call that changes nothing: MCS kernels charge
                // the time used to the scheduling context at every kernel
                // entry, so the budget holds at the microsecond. The timer
                // interrupt alone comes late under QEMU's -icount to a
                // thread that never enters the kernel (kernel-facts: a 2 ms
                // budget overran by seconds). A valid invocation (the time
                // its own scheduling context consumed), not a refused one:
                // a debug kernel prints every refusal, and on riscv64 that
                // print (through the SBI console) takes longer than the
                // test's gap, so every round looked like lost time.
                spin_round();
            },
        };
    }
}

/// One round of the `Spin` order: an empty system call (see there).
fn spin_round() {
    sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
        let own: sel4_sys::Cap<sel4_sys::cap_type::SchedContext> = sel4_sys::Cap::from_cptr(
            sel4_component::descriptors::slot::thread(
                0,
                sel4_component::descriptors::slot::SCHED_CONTEXT,
            ),
        );
        let _ = own.sched_context_consumed();
    } else {
        // Only MCS kernels have budgets to test; elsewhere a yield.
        sel4_sys::yield_now();
    } }
}
