//! Executes one test on its own thread.
//!
//! Each test runs on a thread of the framework (`sel4_rootserver::thread`):
//! a fresh TCB with its own mapped stack (with a guard page below it), TLS
//! block and IPC buffer frame, in the root task's address space and
//! CSpace, at [`HARNESS_PRIORITY`](crate::HARNESS_PRIORITY), with an MCP
//! that lets the test create threads of any priority. The thread's objects
//! come from an [`Objects`] over [`THREAD_SLOTS`] slots of the test's own
//! slot range and the test's untyped budget, so the harness's revocation
//! of both after the test removes whatever is left of them.
//!
//! The thread's event endpoint receives its faults and the runtime's
//! report of its end (returned or panicked). The harness, at the same
//! priority, polls it without blocking ([`JoinHandle::try_join`]) and
//! yields in between, so the test thread gets the CPU; the time stamp
//! counter decides when the test has overrun its time limit. A test that
//! faults, panics or overruns is stopped (its thread killed) and reported
//! as failed; the run goes on.
//!
//! What isolation cannot undo: heap memory a faulted, panicked or killed
//! test thread allocated stays allocated (no unwinding, and other threads
//! may use it); the heap grows from the harness's reservoir instead. A
//! kill never leaves a lock of the runtime (heap, console) held: it waits
//! for a thread inside the runtime to leave it.

use alloc::format;
use alloc::sync::Arc;
use sel4_rootserver::objects::Objects;
use sel4_rootserver::thread::{JoinHandle, ThreadBuilder, ThreadError, MAX_PRIORITY};
use sel4_rootserver::Cap;
use sel4_sys::CPtr;

use crate::runner::Ctx;
use crate::{Failure, TestResult};

/// Slots (at the end of each test's range) that the test's thread takes:
/// its TCB, event endpoint and IPC buffer frame, the CNode that holds its
/// stack frames, paging structures and the untypeds carved from the
/// budget for them.
pub const THREAD_SLOTS: usize = 64;
/// Stack of a test thread.
pub const TEST_STACK_SIZE: usize = 256 * 1024;

/// Runs tests on their own threads.
pub struct Executor {
    priority: u8,
}

/// How a test thread ended, as the harness saw it.
enum End {
    Joined(Result<TestResult, ThreadError>),
    Timeout,
}

impl Executor {
    /// An executor whose test threads run at `priority`.
    pub fn new(priority: u8) -> Executor {
        Executor { priority }
    }

    /// Runs `f` with `ctx` on a new thread made from slots
    /// `[first_slot, first_slot + THREAD_SLOTS)` and the untyped `budget`,
    /// and waits for it to end, fault, or overrun `limit_cycles` TSC cycles
    /// (`limit_ms` for the report). The thread is gone when this returns;
    /// the caller revokes the slots and the budget afterwards.
    pub fn execute(
        &mut self,
        f: fn(&mut Ctx) -> TestResult,
        mut ctx: Ctx,
        first_slot: CPtr,
        budget: CPtr,
        limit_cycles: u64,
        limit_ms: u64,
    ) -> TestResult {
        let mut objs = Objects::new(
            first_slot,
            first_slot + THREAD_SLOTS as u64,
            alloc::vec![Cap::from_cptr(budget)],
        );
        // The test learns its own TCB once the thread exists.
        let own_tcb: Arc<spin::Once<CPtr>> = Arc::new(spin::Once::new());
        let tcb_cell = own_tcb.clone();
        let spawned = ThreadBuilder::new()
            .priority(self.priority)
            .mcp(MAX_PRIORITY)
            .stack_size(TEST_STACK_SIZE)
            .spawn(&mut objs, move || {
                let tcb = loop {
                    match tcb_cell.get() {
                        Some(t) => break *t,
                        None => sel4_sys::yield_now(),
                    }
                };
                ctx.set_own_tcb(tcb);
                f(&mut ctx)
            });
        let handle = match spawned {
            Ok(h) => h,
            Err(e) => {
                return Err(Failure::fail(format!(
                    "the harness could not start the test thread: {e}"
                )))
            }
        };
        own_tcb.call_once(|| handle.tcb().cptr());
        let end = wait(handle, &mut objs, limit_cycles);
        drop(objs);
        match end {
            End::Joined(Ok(result)) => result,
            End::Joined(Err(ThreadError::Panicked { message })) => {
                Err(Failure::fail(format!("panicked: {message}")))
            }
            End::Joined(Err(ThreadError::Faulted(fault))) => {
                Err(Failure::fail(format!("fault: {fault}")))
            }
            End::Joined(Err(e)) => Err(Failure::fail(format!("the test thread ended: {e}"))),
            End::Timeout => Err(Failure::fail(format!("timeout after {limit_ms} ms"))),
        }
    }
}

/// Polls the thread until it ends or faults (then it is torn down), or
/// the time is up (then it is killed).
fn wait(mut handle: JoinHandle<TestResult>, objs: &mut Objects, limit_cycles: u64) -> End {
    let start = sel4_sys::arch::read_counter();
    loop {
        match handle.try_join(objs) {
            Ok(outcome) => return End::Joined(outcome),
            Err(h) => handle = h,
        }
        if sel4_sys::arch::read_counter().saturating_sub(start) > limit_cycles {
            handle.kill(objs);
            return End::Timeout;
        }
        sel4_sys::yield_now();
    }
}
