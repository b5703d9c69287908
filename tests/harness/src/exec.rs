//! Executes one test.
//!
//! Runs the test function on the harness's thread for now: a fault or a
//! panic in a test still ends the run. The per-test thread (fault endpoint,
//! NBRecv + yield polling against a TSC deadline, suspend on overrun)
//! goes here once `sel4-rootserver` can spawn threads.

use alloc::vec::Vec;
use sel4_sys::CPtr;

use crate::kernel::KernelError;
use crate::runner::Ctx;
use crate::TestResult;

/// Root CNode slots the executor keeps for itself.
pub const HARNESS_SLOTS: usize = 8;

pub struct Executor {}

impl Executor {
    pub fn new(_slots: CPtr, _untyped: CPtr) -> Result<Executor, KernelError> {
        Ok(Executor {})
    }

    pub fn execute(
        &mut self,
        f: fn(&mut Ctx) -> TestResult,
        mut ctx: Ctx,
        _limit_cycles: u64,
    ) -> (TestResult, Vec<CPtr>) {
        let r = f(&mut ctx);
        (r, ctx.into_borrowed())
    }

    pub fn reset(&mut self) -> Result<(), KernelError> {
        Ok(())
    }
}
