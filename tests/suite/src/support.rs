//! Helpers for the tests ported from seL4test: priorities and helper
//! threads.
//!
//! seL4test runs its helper threads below the test's own thread and lets
//! them run when the test blocks. Here the harness thread runs at
//! [`HARNESS_PRIORITY`] and polls the test thread with yields, so a
//! thread below that priority does not run while the harness polls. A
//! ported test therefore first raises its own thread to [`TEST_TOP`]
//! and runs its helpers between [`HELPER_LOW`] and [`TEST_TOP`]: they
//! run when the test blocks, in their priority order, as in seL4test. A
//! test that needs every priority lowers the harness thread itself
//! ([`lower_harness`]; the harness restores it after the test).

use sel4_rootserver::objects::Objects;
use sel4_rootserver::thread::{JoinHandle, ThreadBuilder};
use sel4_sys::Word;
use sel4_test_harness::{Ctx, Failure, HARNESS_PRIORITY};

use crate::util::{fw, set_priority};

/// The priority a ported test raises its own thread to.
pub const TEST_TOP: u8 = 250;
/// The lowest priority of a helper that must run when the test blocks.
pub const HELPER_LOW: u8 = HARNESS_PRIORITY as u8 + 1;

/// Stack of a helper thread (small: a test may start dozens).
pub const HELPER_STACK: usize = 16 * 1024;

/// Raises the test's own thread to [`TEST_TOP`].
pub fn lift(ctx: &Ctx) -> Result<(), Failure> {
    set_priority(ctx.own_tcb(), Word::from(TEST_TOP))?;
    Ok(())
}

/// Lowers the harness thread (the root task's initial thread) to priority
/// 0, so that threads at any priority run while this test waits; the
/// harness puts its priority back after the test.
pub fn lower_harness() -> Result<(), Failure> {
    set_priority(sel4_test_harness::kernel::ROOT_TCB, 0)?;
    Ok(())
}

/// Starts `f` on a helper thread at `priority` with a small stack.
pub fn helper<F, R>(objs: &mut Objects, priority: u8, f: F) -> Result<JoinHandle<R>, Failure>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    ThreadBuilder::new()
        .priority(priority)
        .stack_size(HELPER_STACK)
        .spawn(objs, f)
        .map_err(fw("spawn a helper"))
}

/// Joins a helper, turning its failure into the test's.
pub fn join<R>(objs: &mut Objects, h: JoinHandle<R>) -> Result<R, Failure> {
    h.join(objs).map_err(fw("join a helper"))
}

/// Slots for `threads` helper threads (and their stacks) at once.
pub fn slots_for(threads: usize) -> usize {
    32 + threads * 16
}

/// Starts the raw thread `t` at `entry(a, b, c)` (an `extern "C"` function
/// of up to three word arguments, run with registers and its own stack
/// only).
pub fn start_raw3(
    t: &crate::util::RawThread,
    entry: Word,
    a: Word,
    b: Word,
    c: Word,
) -> sel4_test_harness::kernel::KResult {
    use crate::util::reg;
    let mut regs = [0u64; reg::COUNT];
    regs[reg::PC] = entry;
    regs[reg::SP] = t.initial_sp();
    regs[reg::ARG0] = a;
    regs[reg::ARG1] = b;
    regs[reg::ARG2] = c;
    crate::util::write_regs(t.tcb, true, &regs)
}
