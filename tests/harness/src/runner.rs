//! Running the tests: selection, isolation, time limits, reporting.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};

use sel4_rootserver::{println, BootInfo};
use sel4_sys::{CPtr, ObjectType};
use sel4_test_protocol::{Line, Outcome};

use crate::coverage::{Coverage, IdOutcome};
use crate::exec::THREAD_SLOTS;
#[cfg(target_arch = "x86_64")]
#[cfg(target_arch = "x86_64")]
use crate::fwcfg::FwCfg;
use crate::fwcfg::SHARD_FILE;
use crate::kernel::{self, KernelError};
use crate::select::{Selection, Shard};
use crate::{Failure, TestDef, TestResult};

/// Slots of the root CNode that each test may use, `[first, first + N)`
/// (the test's thread takes [`THREAD_SLOTS`] more after them).
pub const TEST_SLOTS: usize = 1024;
/// Bytes (log2) of untyped memory each test gets.
pub const TEST_BUDGET_BITS: usize = 24;
/// Default time limit of a test.
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;
/// Bytes of untyped memory the harness gives the heap to grow from.
pub const HEAP_RESERVOIR: usize = 64 * 1024 * 1024;
/// The priority the harness runs at; test threads run at the same one.
pub const HARNESS_PRIORITY: u64 = 200;
const _: () = assert!(HARNESS_PRIORITY <= sel4_rootserver::thread::MAX_PRIORITY as u64);

/// Why the run as a whole failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunError {
    /// Some tests failed.
    TestsFailed { failed: usize, total: usize },
    /// The harness could not set itself up.
    Setup(String),
    /// Cleaning up after a test failed, so the next tests cannot run
    /// isolated.
    Teardown { test: String, reason: String },
    /// The filter selects no test (a run that tested nothing is no pass).
    NoTestSelected { filter: Option<String> },
}

/// What the harness knows about the machine, for tests.
#[derive(Debug, Clone)]
pub struct Machine {
    /// TSC frequency in MHz ([`Machine::tsc_hz`] rounded).
    pub tsc_mhz: u64,
    /// TSC frequency in Hz, measured by the harness at start against the
    /// PIT's crystal (bootinfo's figure only when there is no PIT to
    /// measure with; the set-up says so on the console).
    pub tsc_hz: u64,
    /// Bootinfo's TSC frequency in MHz (the kernel's own measurement at
    /// boot, which under QEMU on a busy host can be tens of per cent off).
    pub bootinfo_tsc_mhz: Option<u64>,
    /// Device untypeds: (slot, size_bits, paddr).
    pub device_untypeds: Vec<(CPtr, usize, u64)>,
    /// RAM untypeds other than the ones the harness uses: (slot, size_bits, paddr).
    pub ram_untypeds: Vec<(CPtr, usize, u64)>,
    /// Slots of the frames of the root task's image.
    pub user_image_frames: (CPtr, CPtr),
    /// The root CNode's size in bits.
    pub cnode_size_bits: usize,
    /// The first slot after the harness's own (bootinfo's empty region end).
    pub empty_end: CPtr,
    /// The device tree the kernel passed in extra bootinfo (aarch64,
    /// riscv64), copied; empty where there is none (x86_64).
    pub device_tree: Vec<u8>,
}

/// A test's context: its capability slots and untyped memory.
#[derive(Debug)]
pub struct Ctx {
    first_slot: CPtr,
    next_slot: CPtr,
    end_slot: CPtr,
    untyped: CPtr,
    budget_bits: usize,
    machine: &'static Machine,
    own_tcb: CPtr,
    lender: Lender,
    /// Mapping windows handed out by [`Ctx::objects_over_untyped`].
    windows: u64,
}

impl Ctx {
    /// A free slot of the test's range.
    pub fn slot(&mut self) -> Result<CPtr, Failure> {
        self.slots(1)
    }

    /// `n` consecutive free slots; returns the first.
    pub fn slots(&mut self, n: usize) -> Result<CPtr, Failure> {
        let fits = (n as u64)
            .checked_add(self.next_slot)
            .is_some_and(|end| end <= self.end_slot);
        if !fits {
            return Err(Failure::fail(format!(
                "the test used up its {} capability slots",
                self.end_slot - self.first_slot
            )));
        }
        let s = self.next_slot;
        self.next_slot += n as u64;
        Ok(s)
    }

    /// The test's slot range `[first, end)`.
    pub fn slot_range(&self) -> (CPtr, CPtr) {
        (self.first_slot, self.end_slot)
    }

    /// The test's untyped memory (revoked after the test).
    pub fn untyped(&self) -> CPtr {
        self.untyped
    }

    /// Size (log2 bytes) of the test's untyped memory.
    pub fn budget_bits(&self) -> usize {
        self.budget_bits
    }

    /// Creates one object from the test's untyped into a new slot.
    pub fn create(&mut self, ty: ObjectType, size_bits: usize) -> Result<CPtr, Failure> {
        let slot = self.slot()?;
        kernel::retype(self.untyped, ty as usize, size_bits, slot, 1).map_err(|e| {
            Failure::fail(format!("creating a {ty:?} (size bits {size_bits}): {e}"))
        })?;
        Ok(slot)
    }

    /// Information about the machine.
    pub fn machine(&self) -> &'static Machine {
        self.machine
    }

    /// Takes a device untyped of at least `2^min_bits` bytes for the test;
    /// the harness revokes it after the test. Returns (slot, size_bits, paddr).
    pub fn device_untyped(&mut self, min_bits: usize) -> Option<(CPtr, usize, u64)> {
        self.lender.device_untyped(min_bits)
    }

    /// Takes a RAM untyped of at least `2^min_bits` bytes beyond the test's
    /// budget; revoked after the test.
    pub fn extra_untyped(&mut self, min_bits: usize) -> Option<(CPtr, usize, u64)> {
        self.lender.extra_untyped(min_bits)
    }

    /// What lends the machine's spare untypeds to this test
    /// ([`Ctx::device_untyped`], [`Ctx::extra_untyped`]), for the test's
    /// other threads.
    pub fn lender(&self) -> Lender {
        self.lender
    }

    /// The TCB of the thread the test runs on (destroyed after the test).
    pub fn own_tcb(&self) -> CPtr {
        self.own_tcb
    }

    /// Records the TCB of the thread the test runs on (the executor, once
    /// the thread exists).
    pub(crate) fn set_own_tcb(&mut self, tcb: CPtr) {
        self.own_tcb = tcb;
    }

    /// `n` slots of the test's range and the test's untyped memory as the
    /// framework's [`Objects`](sel4_rootserver::objects::Objects), to spawn
    /// threads (`sel4_rootserver::thread`) that are destroyed with the test.
    pub fn objects(&mut self, n: usize) -> Result<sel4_rootserver::objects::Objects, Failure> {
        let first = self.slots(n)?;
        Ok(sel4_rootserver::objects::Objects::new(
            first,
            first + n as u64,
            alloc::vec![sel4_rootserver::Cap::from_cptr(self.untyped)],
        ))
    }

    /// An [`Objects`](sel4_rootserver::objects::Objects) over `slots` slots
    /// of the test's range and one untyped of `2^bits` bytes (at least a
    /// page) carved from the test's budget, whose size and address its pool
    /// knows, so that the test can hold the pool's figures against the
    /// kernel's ([`Ctx::untyped_is_whole`]). Its mapping window is a GiB of
    /// its own (1 GiB-aligned, in the root task's mapping window, which no
    /// other `Objects` uses while tests run), so that the paging structures
    /// it creates serve it alone and dropping it deletes them. Returns it
    /// and the untyped's slot.
    pub fn objects_over_untyped(
        &mut self,
        slots: usize,
        bits: usize,
    ) -> Result<(sel4_rootserver::objects::Objects, CPtr), Failure> {
        if bits < 12 {
            return Err(Failure::fail("objects_over_untyped: at least a page"));
        }
        let ut = self.create(ObjectType::UntypedObject, bits)?;
        let (objs, ut) = self.objects_over(slots, ut, bits)?;
        Ok((objs, ut))
    }

    /// An `Objects` over the untyped `ut` of `2^bits` bytes (no child yet)
    /// and `slots` slots, with a mapping window of its own.
    fn objects_over(
        &mut self,
        slots: usize,
        ut: CPtr,
        bits: usize,
    ) -> Result<(sel4_rootserver::objects::Objects, CPtr), Failure> {
        use sel4_rootserver::cspace::CSpace;
        use sel4_rootserver::memory::UntypedPool;
        use sel4_rootserver::vspace::{VSpace, WINDOW_END, WINDOW_START};
        const GIB: u64 = 1 << 30;
        // Its address: a frame at its start, asked and deleted again (the
        // untyped then has no child, so its next retype starts at 0 again).
        let probe = self.slot()?;
        let granule = <sel4_rootserver::Granule as sel4_rootserver::FixedSize>::TYPE;
        kernel::retype(ut, granule as usize, 0, probe, 1)
            .map_err(|e| Failure::fail(format!("probing the untyped's address: {e}")))?;
        let frame: sel4_rootserver::Cap<sel4_rootserver::Granule> =
            sel4_rootserver::Cap::from_cptr(probe);
        let paddr = sel4_rootserver::sel4::FrameOps::paddr(frame)
            .map_err(|e| Failure::fail(format!("Page_GetAddress: {e}")))?;
        kernel::cnode_delete(probe)?;
        let desc = sel4_rootserver::memory::UntypedDesc {
            paddr,
            size_bits: bits as u8,
            is_device: false,
        };
        let pool = UntypedPool::from_untypeds([(ut, desc)])
            .map_err(|e| Failure::fail(format!("pool over the untyped: {e}")))?;
        self.windows += 1;
        let start = WINDOW_START + self.windows * GIB;
        if start + GIB > WINDOW_END {
            return Err(Failure::fail(
                "objects_over_untyped: out of mapping windows",
            ));
        }
        let first = self.slots(slots)?;
        let objs = sel4_rootserver::objects::Objects::from_parts(
            CSpace::with_slots(first, first + slots as u64),
            pool,
            VSpace::with_windows((start, start + GIB), (0, 0)),
        );
        Ok((objs, ut))
    }

    /// As [`Ctx::objects_over_untyped`], with the untyped of `2^bits`
    /// bytes carved from a RAM untyped beyond the test's budget
    /// ([`Ctx::extra_untyped`]: revoked after the test), for tests that
    /// need more memory than the budget. Returns the `Objects` and the
    /// untyped's slot.
    pub fn objects_over_extra_untyped(
        &mut self,
        slots: usize,
        bits: usize,
    ) -> Result<(sel4_rootserver::objects::Objects, CPtr), Failure> {
        // The smallest RAM untyped that still has room for it (others may
        // have lent some of theirs, the heap's reservoir for one).
        let mut candidates: Vec<(usize, CPtr, usize)> = self
            .machine
            .ram_untypeds
            .iter()
            .enumerate()
            .filter(|(_, (_, b, _))| *b >= bits)
            .map(|(i, (parent, b, _))| (i, *parent, *b))
            .collect();
        candidates.sort_by_key(|(_, _, b)| *b);
        let slot = self.slot()?;
        for (i, parent, _) in candidates {
            if kernel::retype(parent, ObjectType::UntypedObject as usize, bits, slot, 1).is_ok() {
                // Lent: revoked after the test.
                self.lender.lent.ram[i].store(true, Ordering::SeqCst);
                return self.objects_over(slots, slot, bits);
            }
        }
        Err(Failure::fail(format!(
            "no RAM untyped beyond the budget has 2^{bits} bytes free"
        )))
    }

    /// Whether the kernel sees nothing left in the untyped `ut` of
    /// `2^bits` bytes (no capability to anything made from it): a retype
    /// of all of it into one untyped succeeds then, and only then. The new
    /// untyped is deleted again.
    pub fn untyped_is_whole(&mut self, ut: CPtr, bits: usize) -> Result<bool, Failure> {
        let slot = self.slot()?;
        match kernel::retype(ut, ObjectType::UntypedObject as usize, bits, slot, 1) {
            Ok(_) => {
                kernel::cnode_delete(slot)?;
                Ok(true)
            }
            Err(e) if e.error == Some(sel4_sys::Error::NotEnoughMemory) => Ok(false),
            Err(e) => Err(Failure::fail(format!("retyping the whole untyped: {e}"))),
        }
    }

    /// Microseconds since `start` (a [`now`] value).
    pub fn micros_since(&self, start: u64) -> u64 {
        self.machine.micros(now().saturating_sub(start))
    }
}

impl Machine {
    /// Microseconds of `cycles` TSC cycles.
    pub fn micros(&self, cycles: u64) -> u64 {
        let us = u128::from(cycles) * 1_000_000 / u128::from(self.tsc_hz.max(1));
        u64::try_from(us).unwrap_or(u64::MAX)
    }

    /// TSC cycles of `ms` milliseconds.
    pub fn cycles_of_ms(&self, ms: u64) -> u64 {
        let c = u128::from(ms) * u128::from(self.tsc_hz) / 1000;
        u64::try_from(c).unwrap_or(u64::MAX)
    }
}

/// Lends the machine's spare untypeds ([`Machine::device_untypeds`],
/// [`Machine::ram_untypeds`]) to the current test, from any of its
/// threads; the harness revokes each lent untyped after the test.
///
/// What was lent is one flag per untyped, set with one atomic store before
/// the untyped is handed out, and taken back by the harness after the test
/// with one atomic swap: no lock. A thread of the test may fault, panic or
/// be killed at any point, and the harness's teardown must still run (a
/// lock whose holder is stopped would stop it for good).
#[derive(Debug, Clone, Copy)]
pub struct Lender {
    machine: &'static Machine,
    lent: &'static Lent,
}

/// The flags of [`Lender`], in the order of the machine's lists.
#[derive(Debug)]
struct Lent {
    device: Vec<AtomicBool>,
    ram: Vec<AtomicBool>,
}

impl Lender {
    /// Takes a device untyped of at least `2^min_bits` bytes for the test
    /// (the first that is large enough); the harness revokes it after the
    /// test. Returns (slot, size_bits, paddr).
    pub fn device_untyped(&self, min_bits: usize) -> Option<(CPtr, usize, u64)> {
        let i = self
            .machine
            .device_untypeds
            .iter()
            .position(|(_, bits, _)| *bits >= min_bits)?;
        self.lent.device[i].store(true, Ordering::SeqCst);
        Some(self.machine.device_untypeds[i])
    }

    /// Takes a RAM untyped of at least `2^min_bits` bytes beyond the
    /// test's budget (the smallest that is large enough); revoked after the
    /// test.
    pub fn extra_untyped(&self, min_bits: usize) -> Option<(CPtr, usize, u64)> {
        let (i, _) = self
            .machine
            .ram_untypeds
            .iter()
            .enumerate()
            .filter(|(_, (_, bits, _))| *bits >= min_bits)
            .min_by_key(|(_, (_, bits, _))| *bits)?;
        self.lent.ram[i].store(true, Ordering::SeqCst);
        Some(self.machine.ram_untypeds[i])
    }

    /// Revokes every untyped lent since the last call (the harness, after
    /// a test, when none of its threads runs any more).
    fn revoke_lent(&self) -> Result<(), String> {
        let lists = [
            (&self.lent.device, &self.machine.device_untypeds),
            (&self.lent.ram, &self.machine.ram_untypeds),
        ];
        for (flags, untypeds) in lists {
            for (flag, &(ut, _, _)) in flags.iter().zip(untypeds) {
                if flag.swap(false, Ordering::SeqCst) {
                    kernel::cnode_revoke(ut).map_err(|e| format!("revoking untyped {ut}: {e}"))?;
                }
            }
        }
        Ok(())
    }
}

/// The architecture's counter (x86_64 the TSC, aarch64 the generic
/// timer's virtual count, riscv64 `time`).
pub fn now() -> u64 {
    sel4_sys::arch::read_counter()
}

struct Harness {
    machine: &'static Machine,
    /// Slot of the per-test untyped budget.
    budget: CPtr,
    budget_bits: usize,
    /// The test slot range (the test's, then its thread's).
    test_first: CPtr,
    exec: crate::exec::Executor,
    /// Untypeds lent to the current test, revoked after it (shared with
    /// the test's threads, which may end without returning).
    lender: Lender,
}

fn setup_error(what: &str, e: KernelError) -> RunError {
    RunError::Setup(format!("{what}: {e}"))
}

/// Runs the selected tests of `tests` and reports them; returns an error
/// when any failed (the runtime then reports `result fail`).
///
/// Isolation of each test:
/// - its own range of [`TEST_SLOTS`] root CNode slots, and a `2^`
///   [`TEST_BUDGET_BITS`]-byte untyped carved out for it; afterwards the
///   harness revokes the untyped (destroying every object the test made),
///   revokes any untyped lent to it, and revokes and deletes every slot of
///   the range, so leaks do not reach the next test;
/// - the body runs on its own thread of the framework (`exec.rs`), made
///   from [`THREAD_SLOTS`] more slots after the test's and its budget: its
///   own TCB, stack, TLS block and IPC buffer, at [`HARNESS_PRIORITY`],
///   with a fault endpoint
///   the harness polls; a fault, a panic or overrunning the time limit
///   (`#[sel4_test(timeout_ms = N)]`, [`DEFAULT_TIMEOUT_MS`] otherwise)
///   fails the test, which is then stopped, and the run goes on.
pub fn run(bootinfo: &BootInfo, tests: &'static [TestDef]) -> Result<(), RunError> {
    let (mut harness, filter, shard) = setup(bootinfo)?;
    let selection = Selection::new(filter.as_deref(), shard);
    if let Some(f) = &filter {
        println!("sel4test: filter {f:?}");
    }
    if let Some(s) = shard {
        println!("sel4test: shard {}/{}", s.index, s.count);
    }
    let (mut passed, mut failed, mut skipped) = (0usize, 0usize, 0usize);
    let mut names = Vec::new();
    for def in tests.iter() {
        let name = def.full_name();
        if names.contains(&name) {
            return Err(RunError::Setup(format!("two tests are named {name}")));
        }
        names.push(name);
    }
    let mut total = 0;
    let mut results: Vec<Option<Outcome>> = alloc::vec![None; tests.len()];
    for (position, def) in tests.iter().enumerate() {
        let name = &names[position];
        let ids = def.sel4test.iter().chain(def.sel4test_partly.iter());
        let ids: Vec<&str> = ids.copied().collect();
        if !selection.selects_test(name, &ids, position) {
            continue;
        }
        total += 1;
        if !def.sel4test.is_empty() {
            println!("sel4test: {name} checks {}", def.sel4test.join(" "));
        }
        if !def.sel4test_partly.is_empty() {
            println!(
                "sel4test: {name} checks in part {}",
                def.sel4test_partly.join(" ")
            );
        }
        println!("{}", Line::TestStart { name });
        let start = now();
        let result = harness.run_one(def);
        let micros = harness.machine.micros(now().saturating_sub(start));
        let (outcome, reason) = match &result {
            Ok(()) => (Outcome::Pass, String::new()),
            Err(Failure::Fail(r)) => (Outcome::Fail, one_line(r)),
            Err(Failure::Skip(r)) => (Outcome::Skip, one_line(r)),
        };
        results[position] = Some(outcome);
        match outcome {
            Outcome::Pass => passed += 1,
            Outcome::Fail => failed += 1,
            Outcome::Skip => skipped += 1,
        }
        println!(
            "{}",
            Line::TestEnd {
                name,
                outcome,
                micros,
                reason: &reason,
            }
        );
        if let Err(reason) = harness.teardown() {
            println!(
                "{}",
                Line::Summary {
                    passed: passed as u32,
                    failed: failed as u32,
                    skipped: skipped as u32,
                }
            );
            return Err(RunError::Teardown {
                test: name.clone(),
                reason,
            });
        }
    }
    report_coverage(tests, &results);
    println!(
        "{}",
        Line::Summary {
            passed: passed as u32,
            failed: failed as u32,
            skipped: skipped as u32,
        }
    );
    if total == 0 {
        println!("sel4test: no test matches the selection");
        // One part of a suite split over several boots may have none of
        // the selected tests; the runner judges the whole suite.
        if shard.is_none_or(|s| s.count == 1) {
            return Err(RunError::NoTestSelected { filter });
        }
    }
    if failed > 0 {
        Err(RunError::TestsFailed { failed, total })
    } else {
        Ok(())
    }
}

/// Prints how many seL4test IDs the suite covers and what this boot did
/// with them (console lines the host runner passes through).
fn report_coverage(tests: &[TestDef], results: &[Option<Outcome>]) {
    let cov = Coverage::of(tests);
    if cov.covered.is_empty() && cov.partly.is_empty() {
        return;
    }
    let outcomes = cov.outcomes(tests, results);
    let count = |o: IdOutcome| outcomes.iter().filter(|(_, x)| *x == o).count();
    println!(
        "sel4test coverage: {} sel4test IDs covered by this suite ({} more in part); \
         on this boot {} passed, {} failed, {} skipped, {} not run",
        cov.covered.len(),
        cov.partly.len(),
        count(IdOutcome::Passed),
        count(IdOutcome::Failed),
        count(IdOutcome::Skipped),
        count(IdOutcome::NotRun),
    );
    for (what, o) in [
        ("failed", IdOutcome::Failed),
        ("skipped", IdOutcome::Skipped),
    ] {
        let ids: Vec<&str> = outcomes
            .iter()
            .filter(|(_, x)| *x == o)
            .map(|(id, _)| *id)
            .collect();
        if !ids.is_empty() {
            println!("sel4test coverage: {what} on this boot: {}", ids.join(" "));
        }
    }
    if !cov.partly.is_empty() {
        println!("sel4test coverage: in part: {}", cov.partly.join(" "));
    }
}

/// Sets the harness thread (the root task's initial thread) to
/// [`HARNESS_PRIORITY`]: at set-up, and after each test (a test may lower
/// it, through the root TCB, to let threads below the harness's priority
/// run while it waits).
fn set_harness_priority() -> Result<(), sel4_sys::InvocationError> {
    let root_tcb: sel4_rootserver::Cap<sel4_rootserver::TCB> =
        sel4_rootserver::Cap::from_cptr(kernel::ROOT_TCB);
    sel4_sys::sel4_cfg_if! {
        kernel >= 10 && label TCBSetTLSBase {
            // seL4 10+: the authority's MCP bounds the new priority.
            root_tcb.tcb_set_priority(root_tcb, HARNESS_PRIORITY)
        } else {
            // seL4 5.x: the caller's own MCP bounds it.
            root_tcb.tcb_set_priority(HARNESS_PRIORITY as u8)
        }
    }
}

fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect()
}

/// PIT ticks of one measurement of the TSC (20 ms at 1.193182 MHz).
#[cfg(target_arch = "x86_64")]
const TSC_MEASURE_TICKS: u32 = 23_864;
/// Measurements of the TSC; the least delayed one counts.
#[cfg(target_arch = "x86_64")]
const TSC_MEASURE_ROUNDS: u32 = 5;

/// The counter's rate in Hz where the kernel configuration gives it
/// (aarch64 and riscv64: `TIMER_FREQUENCY`).
#[cfg(not(target_arch = "x86_64"))]
fn measure_tsc(_objs: &mut sel4_rootserver::objects::Objects) -> Result<u64, String> {
    sel4_sys::arch::COUNTER_HZ.ok_or_else(|| {
        String::from(
            "user mode cannot read the counter on this kernel: build it with \
             KernelArmExportVCNTUser=ON (kernel-config/cmake/aarch64.cmake does)",
        )
    })
}

/// The TSC's rate in Hz, measured against the PIT's crystal (channel 2,
/// gated through port 0x61; `sel4_pit::Pit::calibrate`). The port
/// capabilities are deleted again, so that tests can take the PIT.
#[cfg(target_arch = "x86_64")]
fn measure_tsc(objs: &mut sel4_rootserver::objects::Objects) -> Result<u64, String> {
    let (first, last) = sel4_pit::PORTS;
    let ports = objs
        .io_ports(first, last)
        .map_err(|e| format!("the PIT's ports: {e}"))?;
    let port_b = match objs.io_ports(sel4_pit::PORT_B, sel4_pit::PORT_B) {
        Ok(p) => p,
        Err(e) => {
            let _ = objs.delete(ports.into_owned());
            return Err(format!("port {:#x}: {e}", sel4_pit::PORT_B));
        }
    };
    let pit = sel4_pit::Pit::new(ports.get(), Some(port_b.get()));
    let hz = pit.calibrate(
        TSC_MEASURE_TICKS,
        TSC_MEASURE_ROUNDS,
        100_000_000,
        sel4_sys::arch::rdtsc,
    );
    let freed = [
        objs.delete(ports.into_owned()).map_err(|r| r.error),
        objs.delete(port_b.into_owned()).map_err(|r| r.error),
    ];
    for r in freed {
        r.map_err(|e| format!("deleting the PIT's port capabilities: {e}"))?;
    }
    match hz {
        Ok(0) => Err("the TSC did not advance".into()),
        Ok(hz) => Ok(hz),
        Err(e) => Err(format!("measuring: {e:?}")),
    }
}

fn setup(bi: &BootInfo) -> Result<(Harness, Option<String>, Option<Shard>), RunError> {
    // A first thread, through the framework, while the harness still runs
    // at the highest priority: on seL4 5.x this also gives the kernel the
    // initial thread's TLS base, which must happen before any other thread
    // runs. Its slots and objects are freed again by the join.
    let mut objs = sel4_rootserver::objects::Objects::from_bootinfo(bi);
    let warm_up = sel4_rootserver::thread::spawn(&mut objs, || 42u32)
        .map_err(|e| RunError::Setup(format!("starting a first thread: {e}")))?;
    match warm_up.join(&mut objs) {
        Ok(42) => {}
        other => {
            return Err(RunError::Setup(format!(
                "the first thread ended with {other:?}"
            )))
        }
    }
    // Untyped memory the heap grows from when it runs low (tests may leave
    // blocks allocated for good: a thread that dies keeps its heap).
    if let Err(e) = objs.reserve_heap(HEAP_RESERVOIR) {
        println!("sel4test: no heap reservoir ({e}); the heap will not grow");
    }
    // The TSC's rate, for the time limits and the figures (while the
    // harness still runs at the highest priority: nothing of the guest
    // delays the measurement but interrupts).
    let bootinfo_tsc_mhz = bi
        .tsc_mhz()
        .filter(|&m| m > 0)
        .or_else(|| bi.extra_tsc_mhz().map(u64::from).filter(|&m| m > 0));
    let (tsc_hz, how) = match measure_tsc(&mut objs) {
        Ok(hz) if cfg!(target_arch = "x86_64") => (hz, "measured against the PIT"),
        Ok(hz) => (hz, "the kernel configuration's TIMER_FREQUENCY"),
        Err(e) => {
            let mhz = bootinfo_tsc_mhz.ok_or_else(|| {
                RunError::Setup(format!(
                    "no counter frequency: {e}, and bootinfo gives none"
                ))
            })?;
            println!("sel4test: the TSC was not measured ({e}); using bootinfo's figure");
            (mhz * 1_000_000, "from bootinfo")
        }
    };
    // QEMU virt: fw_cfg is memory-mapped; its page comes from a device
    // untyped through `objs`, and goes back before `objs` is dropped.
    #[cfg(not(target_arch = "x86_64"))]
    let options = match crate::fwcfg::read_options(&mut objs, bi) {
        Ok(Some(o)) => Some(o),
        Ok(None) => {
            println!("sel4test: no fw_cfg device in the device tree; running every test");
            None
        }
        Err(e) => return Err(RunError::Setup(format!("fw_cfg options: {e}"))),
    };
    drop(objs);
    let empty = bi.empty();
    let mut next = empty.start as CPtr;
    let end = empty.end as CPtr;
    let mut take = |n: usize| -> Result<CPtr, RunError> {
        if next + n as u64 > end {
            return Err(RunError::Setup(format!(
                "not enough free slots: need {n} more, [{next}, {end}) left"
            )));
        }
        let s = next;
        next += n as u64;
        Ok(s)
    };

    // Options from fw_cfg (absent when QEMU runs without them).
    #[cfg(target_arch = "x86_64")]
    let options = {
        let port_slot = take(1)?;
        match FwCfg::open(port_slot) {
            Ok(dev) => Some(crate::fwcfg::options(&dev.0).map_err(RunError::Setup)?),
            Err(e) => {
                println!("sel4test: no fw_cfg options ({e:?}); running every test");
                None
            }
        }
    };
    let (filter, shard) = match options {
        Some((filter, shard)) => {
            let shard = match shard {
                Some(s) => Some(Shard::parse(&s).ok_or_else(|| {
                    RunError::Setup(format!("fw_cfg {SHARD_FILE}: {s:?} is not k/n"))
                })?),
                None => None,
            };
            (filter, shard)
        }
        None => (None, None),
    };

    // Untypeds: the largest RAM untyped feeds the per-test budget.
    let first_ut = bi.untyped().start as CPtr;
    let mut ram = Vec::new();
    let mut device = Vec::new();
    for (i, u) in bi.untypeds().enumerate() {
        let d = (first_ut + i as u64, u.size_bits as usize, u.paddr);
        if u.is_device {
            device.push(d);
        } else {
            ram.push(d);
        }
    }
    ram.sort_by_key(|u| core::cmp::Reverse(u.1));
    let &(big, big_bits, _) = ram
        .first()
        .ok_or_else(|| RunError::Setup("no RAM untyped".into()))?;
    let budget_bits = core::cmp::min(TEST_BUDGET_BITS, big_bits);
    let budget = take(1)?;
    kernel::retype(
        big,
        ObjectType::UntypedObject as usize,
        budget_bits,
        budget,
        1,
    )
    .map_err(|e| setup_error("carving the test budget", e))?;

    let test_first = take(TEST_SLOTS + THREAD_SLOTS)?;

    let tsc_mhz = (tsc_hz + 500_000) / 1_000_000;
    let machine: &'static Machine = alloc::boxed::Box::leak(alloc::boxed::Box::new(Machine {
        tsc_mhz,
        tsc_hz,
        bootinfo_tsc_mhz,
        device_untypeds: device,
        ram_untypeds: ram.into_iter().skip(1).collect(),
        user_image_frames: (
            bi.user_image_frames().start as CPtr,
            bi.user_image_frames().end as CPtr,
        ),
        cnode_size_bits: bi.init_thread_cnode_size_bits(),
        empty_end: end,
        device_tree: bi
            .find_extra_chunk(sel4_bootinfo::ExtraChunkId::Fdt)
            .map(|c| c.data.to_vec())
            .unwrap_or_default(),
    }));
    let lent: &'static Lent = alloc::boxed::Box::leak(alloc::boxed::Box::new(Lent {
        device: machine
            .device_untypeds
            .iter()
            .map(|_| AtomicBool::new(false))
            .collect(),
        ram: machine
            .ram_untypeds
            .iter()
            .map(|_| AtomicBool::new(false))
            .collect(),
    }));
    let exec = crate::exec::Executor::new(HARNESS_PRIORITY as u8);
    // Test threads run at the harness's priority, so that the harness's
    // yields hand them the CPU and the harness still sees the time pass.
    set_harness_priority()
        .map_err(|e| RunError::Setup(format!("lowering the harness's priority: {e}")))?;
    let boot = match bootinfo_tsc_mhz {
        Some(m) => format!("bootinfo: {m} MHz"),
        None => "bootinfo gives none".into(),
    };
    println!(
        "sel4test: TSC {}.{:06} MHz {how} ({boot})",
        tsc_hz / 1_000_000,
        tsc_hz % 1_000_000
    );
    println!(
        "sel4test: test slots [{test_first}, {}), budget 2^{budget_bits} bytes",
        test_first + TEST_SLOTS as u64
    );
    Ok((
        Harness {
            machine,
            budget,
            budget_bits,
            test_first,
            exec,
            lender: Lender { machine, lent },
        },
        filter,
        shard,
    ))
}

impl Harness {
    fn run_one(&mut self, def: &'static TestDef) -> TestResult {
        let ctx = Ctx {
            first_slot: self.test_first,
            next_slot: self.test_first,
            end_slot: self.test_first + TEST_SLOTS as u64,
            untyped: self.budget,
            budget_bits: self.budget_bits,
            machine: self.machine,
            // Set by the executor once the thread exists.
            own_tcb: 0,
            lender: self.lender,
            windows: 0,
        };
        let timeout_ms = if def.timeout_ms == 0 {
            DEFAULT_TIMEOUT_MS
        } else {
            def.timeout_ms
        };
        let limit = self.machine.cycles_of_ms(timeout_ms);
        let thread_first = self.test_first + TEST_SLOTS as u64;
        self.exec
            .execute(def.func, ctx, thread_first, self.budget, limit, timeout_ms)
    }

    /// Puts the harness's priority back, revokes the test's untyped memory
    /// and empties its slots (the test's and its thread's).
    fn teardown(&mut self) -> Result<(), String> {
        set_harness_priority().map_err(|e| format!("restoring the harness's priority: {e}"))?;
        kernel::cnode_revoke(self.budget).map_err(|e| format!("revoking the budget: {e}"))?;
        self.lender.revoke_lent()?;
        let end = self.test_first + (TEST_SLOTS + THREAD_SLOTS) as u64;
        for slot in self.test_first..end {
            // Revoke first: a test may leave caps derived from one in its
            // range elsewhere (for example in a CNode it made).
            kernel::cnode_revoke(slot).map_err(|e| format!("revoking slot {slot}: {e}"))?;
            kernel::cnode_delete(slot).map_err(|e| format!("deleting slot {slot}: {e}"))?;
        }
        Ok(())
    }
}
