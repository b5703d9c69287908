//! runtime-test: the runtime on its own, on every architecture, without
//! the root server's threads or object pool.
//!
//! A second thread is made with raw `sel4` invocations (a TCB, a stack
//! with a guard page below it, an IPC buffer, translation tables as the
//! kernel asks for them) and registered with the runtime
//! (`sel4_runtime::thread::Thread`: control block, TLS block, heap
//! account, entry trampoline). The tests then check, each on that thread
//! and the initial one:
//! - a kernel-backed lock (`sync::Mutex`) taken by the initial thread and
//!   waited for, in the kernel, by the second, then handed over; allocation
//!   and printing on both; the heap account of the second thread;
//! - the image is read-only: the second thread writes a byte of code, of
//!   constants and of relocated pointers (RELRO) while holding the lock,
//!   each write is a VM fault the initial thread receives on the thread's
//!   fault endpoint, and stopping the thread releases the lock, poisoned;
//! - a kill of a thread that waits for a lock withdraws it from the lock;
//! - each fault provoker gives its architecture's fault;
//! - the heap grows from untyped memory given to it (2 MiB frames the
//!   runtime retypes and maps, with the translation tables the growth
//!   window lacks) and serves an allocation larger than the static heap.
//!
//! On aarch64 and riscv64 also the console UART's driver
//! (`uart_driver`): the device tree in extra bootinfo names the UART
//! (`/chosen` `stdout-path`: QEMU virt's PL011, or its ns16550a); its
//! frame is cut out of the device untyped that holds it and mapped
//! uncached, and the driver (`sel4-pl011`, or `sel4-uart-16550` over MMIO)
//! programs it and writes the test's end line itself, so the runner sees
//! the test pass only if the driver's output arrived; the 16550 also reads
//! bytes back through its loopback, the PL011 its programmed divisors
//! (QEMU 7.2's PL011 has no loopback).
//!
//! Each test reports on the serial protocol; the image passes when all do.
#![no_std]
#![no_main]
// Unsafe code only where the UART's mapped registers become a
// `MappedMmio` (the test made the mapping).
#![deny(unsafe_code)]

extern crate alloc;

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use sel4::prelude::*;
use sel4::vspace::{TableLevel, TABLE_LEVELS};
use sel4::{init, Blueprint, CapData, CapRights, Destination, Granule, VmAttributes};
use sel4_runtime::sync::{LockError, Mutex};
use sel4_runtime::thread::provoke::{self, ImagePart};
use sel4_runtime::thread::{self, KillProgress, Thread, ThreadSpec};
use sel4_runtime::{entry, heap, println, BootInfo, ExitCode};
use sel4_sys::{cap_type, Cap, Fault, InvocationError, LookupFailure, Word, REGISTER_MRS};
use sel4_test_protocol::{Line, Outcome};

entry!(main);

/// Where the second thread's stack and IPC buffer live: a guard page at
/// `REGION`, the stack above it, the IPC buffer after a gap. Below 4 GiB
/// (seL4 5.x reports fault addresses in 32 bits).
const REGION: usize = 0x4000_0000;
const PAGE: usize = 1 << sel4::vspace::GRANULE_BITS;
const STACK_PAGES: usize = 16;
const STACK_TOP: usize = REGION + PAGE * (1 + STACK_PAGES);
const IPC_BUFFER: usize = STACK_TOP + PAGE;
/// The root task's priority (seL4_MaxPrio): the second thread runs at the
/// same one, so a yield lets it run.
const PRIORITY: sel4::Priority = 255;
/// Memory given to the heap to grow into.
const HEAP_UNTYPED_BITS: usize = 24;
/// Most words of a fault message read.
const FAULT_WORDS: usize = 32;

type TestResult = Result<(), String>;

/// What one receive on the thread's endpoint brought.
#[derive(Debug)]
enum Event {
    /// The runtime's exit message (`thread::EXIT_*`).
    Exit(Word),
    /// A fault message.
    Fault(Fault),
}

/// The root task's resources for the tests: slots, an untyped to carve,
/// the second thread's TCB, endpoint and memory.
struct World {
    next_slot: Word,
    end_slot: Word,
    untyped: Cap<cap_type::Untyped>,
    tcb: Cap<cap_type::TCB>,
    ep: Cap<cap_type::Endpoint>,
    ipc_frame: Cap<Granule>,
    tables: usize,
    /// The second thread's scheduling context (MCS kernels: a thread runs
    /// only with one), configured round robin with the kernel's time slice
    /// of the initial thread; bound at each start.
    #[allow(dead_code)] // read on MCS kernels only
    sched_context: Word,
}

fn err(what: &str, e: impl core::fmt::Debug) -> String {
    format!("{what}: {e:?}")
}

impl World {
    fn slot(&mut self) -> Result<Word, String> {
        if self.next_slot >= self.end_slot {
            return Err("out of slots".into());
        }
        self.next_slot += 1;
        Ok(self.next_slot - 1)
    }

    fn make<T: sel4::FixedSize>(&mut self) -> Result<Cap<T>, String> {
        let slot = self.slot()?;
        self.untyped
            .retype_one::<T>(init::CNODE, slot)
            .map_err(|e| err("Untyped_Retype", e))
    }

    /// Maps `frame` at `vaddr` read-write, making the translation tables
    /// the kernel says are missing.
    fn map(&mut self, frame: Cap<Granule>, vaddr: usize) -> TestResult {
        self.map_with(frame, vaddr, VmAttributes::DEFAULT)
    }

    /// [`World::map`] with these attributes.
    fn map_with(&mut self, frame: Cap<Granule>, vaddr: usize, attrs: VmAttributes) -> TestResult {
        for _ in 0..=TABLE_LEVELS.len() {
            match frame.map(init::VSPACE, vaddr as Word, CapRights::READ_WRITE, attrs) {
                Ok(()) => return Ok(()),
                Err(InvocationError::FailedLookup {
                    lookup_failure: LookupFailure::MissingCapability { bits_left },
                    ..
                }) => {
                    let level = TableLevel::missing(bits_left)
                        .ok_or_else(|| format!("no table level for {bits_left} bits"))?;
                    let slot = self.slot()?;
                    self.untyped
                        .retype_objects(
                            Blueprint::new(level.object_type(), 0),
                            Destination::in_cnode(init::CNODE, slot),
                            1,
                        )
                        .map_err(|e| err("Untyped_Retype (table)", e))?;
                    level
                        .map(slot, init::VSPACE, vaddr as Word, VmAttributes::DEFAULT)
                        .map_err(|e| err("mapping a table", e))?;
                    self.tables += 1;
                }
                Err(e) => return Err(err("Page_Map", e)),
            }
        }
        Err(format!("{vaddr:#x}: tables still missing"))
    }

    /// Registers `main` with the runtime and starts it on the TCB (which
    /// must not be running another thread).
    fn spawn(&mut self, main: impl FnOnce() + Send + 'static) -> Result<Thread, String> {
        let t = Thread::new(ThreadSpec {
            main: Box::new(main),
            on_panic: Box::new(|m| println!("runtime-test: thread panicked: {m}")),
            heap_limit: 1 << 20,
        })
        .map_err(|e| err("Thread::new", e))?;
        self.tcb
            .configure(
                Some(self.ep),
                init::CNODE,
                CapData::NONE,
                init::VSPACE,
                IPC_BUFFER as Word,
                Some(self.ipc_frame),
            )
            .map_err(|e| err("TCB_Configure", e))?;
        sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
            // MCS: the scheduling context comes with the priority, and the
            // fault endpoint again (TCB_SetSchedParams sets all three).
            self.tcb
                .set_sched_params_with(
                    init::TCB,
                    PRIORITY,
                    PRIORITY,
                    Some(Cap::from_cptr(self.sched_context)),
                    Some(self.ep),
                )
                .map_err(|e| err("TCB_SetSchedParams", e))?;
        } else {
            self.tcb
                .set_priority(init::TCB, PRIORITY)
                .map_err(|e| err("TCB_SetPriority", e))?;
        } }
        t.start(self.tcb, self.ep.cptr(), STACK_TOP, IPC_BUFFER)
            .map_err(|e| err("Thread::start", e))?;
        Ok(t)
    }

    /// Waits for the thread's next message: its exit or a fault.
    fn next_event(&self) -> Event {
        let r = sel4_sys::recv_regs(self.ep.cptr());
        let label = r.info.get_label();
        let len = core::cmp::min(r.info.get_length() as usize, FAULT_WORDS);
        let mut words = [0 as Word; FAULT_WORDS];
        let in_regs = core::cmp::min(len, REGISTER_MRS);
        words[..in_regs].copy_from_slice(&r.mrs[..in_regs]);
        if len > REGISTER_MRS {
            sel4_sys::ipc_buffer().read_msgs(REGISTER_MRS, &mut words[REGISTER_MRS..len]);
        }
        if label == thread::EXIT_LABEL {
            Event::Exit(words[0])
        } else {
            Event::Fault(Fault::decode(label, &words[..len]))
        }
    }

    /// Runs `main` on the second thread until it ends or faults, and stops
    /// it; returns what ended it and the thread.
    fn run(&mut self, main: impl FnOnce() + Send + 'static) -> Result<(Event, Thread), String> {
        let t = self.spawn(main)?;
        let e = self.next_event();
        t.stop().map_err(|e| err("Thread::stop", e))?;
        Ok((e, t))
    }

    fn notification(&mut self) -> Result<Cap<cap_type::Notification>, String> {
        self.make::<cap_type::Notification>()
    }
}

/// Makes the second thread's TCB, endpoint, stack and IPC buffer.
fn world(bi: &BootInfo) -> Result<World, String> {
    let empty = bi.empty();
    // The largest RAM untyped.
    let (index, _) = bi
        .untypeds()
        .enumerate()
        .filter(|(_, d)| !d.is_device)
        .max_by_key(|(_, d)| d.size_bits)
        .ok_or("no RAM untyped")?;
    let mut w = World {
        next_slot: empty.start as Word,
        end_slot: empty.end as Word,
        untyped: Cap::from_cptr((bi.untyped().start + index) as Word),
        tcb: Cap::from_cptr(0),
        ep: Cap::from_cptr(0),
        ipc_frame: Cap::from_cptr(0),
        tables: 0,
        sched_context: 0,
    };
    w.tcb = w.make::<cap_type::TCB>()?;
    w.ep = w.make::<cap_type::Endpoint>()?;
    sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
        use sel4::mcs::SchedControlOps;
        let slot = w.slot()?;
        w.untyped
            .retype_objects(
                Blueprint::new(
                    sel4_sys::ObjectType::SchedContextObject,
                    sel4_sys::consts::MinSchedContextBits,
                ),
                Destination::in_cnode(init::CNODE, slot),
                1,
            )
            .map_err(|e| err("Untyped_Retype (scheduling context)", e))?;
        let control: Cap<cap_type::SchedControl> = Cap::from_cptr(
            sel4_runtime::thread::sched_control()
                .ok_or("no SchedControl capability recorded by the runtime")?,
        );
        let slice_us = sel4_sys::config::BOOT_THREAD_TIME_SLICE as u64 * 1000;
        control
            .configure(Cap::from_cptr(slot), slice_us, slice_us, 0, 0)
            .map_err(|e| err("SchedControl_Configure", e))?;
        w.sched_context = slot;
    } }
    // The guard page at REGION stays unmapped.
    for i in 0..STACK_PAGES {
        let f = w.make::<Granule>()?;
        w.map(f, REGION + PAGE * (1 + i))?;
    }
    w.ipc_frame = w.make::<Granule>()?;
    w.map(w.ipc_frame, IPC_BUFFER)?;
    Ok(w)
}

fn main(bi: &BootInfo) -> ExitCode {
    let mut w = match world(bi) {
        Ok(w) => w,
        Err(e) => {
            println!("runtime-test: setting up: {e}");
            return ExitCode::Failure;
        }
    };
    println!(
        "runtime-test: second thread's stack at [{:#x}, {STACK_TOP:#x}), IPC buffer at {IPC_BUFFER:#x}, {} translation tables made",
        REGION + PAGE,
        w.tables
    );
    type Test = fn(&mut World) -> TestResult;
    let tests: &[(&str, Test)] = &[
        ("initial_tls_base", initial_tls_base),
        ("lock_handover_alloc_print", lock_handover_alloc_print),
        ("image_text_read_only", |w| {
            image_read_only(w, ImagePart::Text)
        }),
        ("image_rodata_read_only", |w| {
            image_read_only(w, ImagePart::ReadOnlyData)
        }),
        ("image_relro_read_only", |w| {
            image_read_only(w, ImagePart::Relro)
        }),
        ("kill_lock_waiter", kill_lock_waiter),
        ("provoke_faults", provoke_faults),
        ("heap_growth", heap_growth),
    ];
    let (mut passed, mut failed) = (0u32, 0u32);
    for &(name, test) in tests {
        println!("{}", Line::TestStart { name });
        let r = test(&mut w);
        let (outcome, reason) = match &r {
            Ok(()) => (Outcome::Pass, ""),
            Err(e) => (Outcome::Fail, e.as_str()),
        };
        println!(
            "{}",
            Line::TestEnd {
                name,
                outcome,
                micros: 0,
                reason,
            }
        );
        match r {
            Ok(()) => passed += 1,
            Err(_) => failed += 1,
        }
    }
    // The console UART's driver writes this test's end line itself, so the
    // runner sees the pass only through the driver's output.
    #[cfg(not(target_arch = "x86_64"))]
    {
        let name = "uart_driver";
        println!("{}", Line::TestStart { name });
        match uart::uart_driver(&mut w, bi) {
            Ok(()) => passed += 1,
            Err(reason) => {
                println!(
                    "{}",
                    Line::TestEnd {
                        name,
                        outcome: Outcome::Fail,
                        micros: 0,
                        reason: &reason,
                    }
                );
                failed += 1;
            }
        }
    }
    println!(
        "{}",
        Line::Summary {
            passed,
            failed,
            skipped: 0,
        }
    );
    if failed == 0 {
        ExitCode::Success
    } else {
        ExitCode::Failure
    }
}

fn check(cond: bool, what: impl FnOnce() -> String) -> TestResult {
    if cond {
        Ok(())
    } else {
        Err(what())
    }
}

/// The initial thread's TLS base holds from the start: the first thing
/// this image does with threads is run a second one, with a TLS block of
/// its own, to its end, and the initial thread's thread-locals still work
/// afterwards (`current_id` reads one). seL4 5.x on x86_64 loads FS base
/// from each thread's saved TLS_BASE whenever it changes; the runtime gives
/// the kernel the initial thread's at start, before `main`. Regression:
/// it was given lazily, by the root server's first spawn, so a root task
/// whose first thread was made otherwise (raw invocations, a process, this
/// image's threads) came back with FS base 0 and faulted at its next
/// thread-local. Prints what the start-up fix cost.
fn initial_tls_base(w: &mut World) -> TestResult {
    let t = w.spawn(|| {
        for _ in 0..3 {
            sel4_sys::yield_now();
        }
    })?;
    let end = w.next_event();
    t.stop().map_err(|e| err("Thread::stop", e))?;
    check(matches!(end, Event::Exit(thread::EXIT_RETURNED)), || {
        format!("the second thread ended with {end:?}")
    })?;
    check(thread::current_id() == 0, || {
        "the initial thread's id (a thread-local) is not 0".into()
    })?;
    check(!thread::initial_tls_base_needs_fix(), || {
        "the runtime did not give the kernel the initial thread's TLS base at start".into()
    })?;
    match thread::initial_tls_fix_cycles() {
        Some(c) => println!(
            "runtime-test: the initial thread's TLS base was given to the kernel at start: \
             4 system calls, {c} TSC cycles (the first run of those kernel paths); \
             the same again: {} TSC cycles (least of 8)",
            tls_fix_again(w)?
        ),
        None => println!("runtime-test: the kernel keeps the initial thread's TLS base"),
    }
    check(thread::current_id() == 0, || {
        "the initial thread's id after the fix made again".into()
    })
}

/// The start-up fix's four system calls made again, with the thread
/// pointer the initial thread has (so nothing changes): a TCB, its
/// TLS_BASE written, copied into the initial thread, deleted. The least
/// TSC cycles of 8 runs (the steady cost, without the first run's).
#[cfg(target_arch = "x86_64")]
fn tls_fix_again(w: &mut World) -> Result<u64, String> {
    sel4_sys::sel4_cfg_if! {
        kernel >= 10 && label TCBSetTLSBase {
            let _ = w;
            Err("no fix on this kernel".into())
        } else {
            use sel4_sys::{ObjectType, UserContext};
            let root = Cap::<cap_type::CNode>::from_cptr(init::CNODE.cptr());
            let me = Cap::<cap_type::TCB>::from_cptr(init::TCB.cptr());
            let ctx = UserContext {
                tls_base: sel4_sys::arch::thread_pointer() as Word,
                ..UserContext::default()
            };
            let mut best = u64::MAX;
            for _ in 0..8 {
                let slot = w.slot()?;
                let start = sel4_sys::arch::rdtsc();
                w.untyped
                    .untyped_retype(ObjectType::TCBObject as Word, 0, root, 0, 0, slot, 1)
                    .map_err(|e| err("Untyped_Retype", e))?;
                let carrier = Cap::<cap_type::TCB>::from_cptr(slot);
                carrier
                    .tcb_write_registers(false, 0, UserContext::WORDS as Word, &ctx)
                    .map_err(|e| err("TCB_WriteRegisters", e))?;
                me.tcb_copy_registers(carrier, false, false, false, true, 0)
                    .map_err(|e| err("TCB_CopyRegisters", e))?;
                root.cnode_delete(slot, sel4_sys::config::WORD_SIZE as u8)
                    .map_err(|e| err("CNode_Delete", e))?;
                best = best.min(sel4_sys::arch::rdtsc().wrapping_sub(start));
            }
            Ok(best)
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn tls_fix_again(_w: &mut World) -> Result<u64, String> {
    Err("no fix on this architecture".into())
}

/// The initial thread holds a lock; the second thread waits for it in the
/// kernel, gets it handed over, allocates under it and prints; its heap
/// account shows what it left allocated.
fn lock_handover_alloc_print(w: &mut World) -> TestResult {
    let m: Arc<Mutex<Vec<Vec<u8>>>> = Arc::new(Mutex::new(w.notification()?, Vec::new()));
    let guard = m.lock().map_err(|e| err("lock", e))?;
    let m2 = m.clone();
    let before = heap::current();
    let t = w.spawn(move || {
        let me = thread::current_id();
        let mut g = match m2.lock() {
            Ok(g) => g,
            Err(e) => panic!("second thread: lock: {e:?}"),
        };
        assert_eq!(m2.owner(), Some(me), "owner after the hand-over");
        g.push(alloc::vec![0x5a; 10_000]);
        println!("runtime-test: thread {me} took the lock and allocated 10000 bytes");
    })?;
    // Let it run until it waits for the lock (same priority: a yield
    // switches to it; it blocks in the kernel, which switches back).
    let mut yields = 0;
    while m.raw().waiters() == 0 && yields < 1000 {
        sel4_sys::yield_now();
        yields += 1;
    }
    check(m.raw().waiters() == 1, || {
        format!(
            "the second thread did not wait for the lock ({} waiters after {yields} yields)",
            m.raw().waiters()
        )
    })?;
    check(m.owner() == Some(0), || {
        format!("owner {:?} while the initial thread holds it", m.owner())
    })?;
    // Kept (black_box: the compiler may not drop an allocation it sees
    // unused) until the account is read.
    let mine = core::hint::black_box(alloc::vec![1u8; 3000]);
    drop(guard);
    let end = w.next_event();
    let stopped = t.stop().map_err(|e| err("Thread::stop", e))?;
    check(matches!(end, Event::Exit(thread::EXIT_RETURNED)), || {
        format!("the second thread ended with {end:?}")
    })?;
    check(stopped.locks_released == 0, || {
        format!("{} locks left held", stopped.locks_released)
    })?;
    let g = m.lock().map_err(|e| err("lock again", e))?;
    check(
        g.len() == 1 && g[0].len() == 10_000 && g[0].iter().all(|&b| b == 0x5a),
        || "the data written under the lock is not there".into(),
    )?;
    let report = t.heap();
    check(report.in_use >= 10_000 && report.blocks >= 1, || {
        format!("the second thread's account: {report:?}")
    })?;
    let after = heap::current();
    check(after.in_use >= before.in_use + mine.len(), || {
        format!("the initial thread's account: {before:?} then {after:?}")
    })?;
    println!(
        "runtime-test: second thread's account {} bytes in {} blocks, initial thread's {} bytes",
        report.in_use, report.blocks, after.in_use
    );
    drop(core::hint::black_box(mine));
    Ok(())
}

/// The second thread takes a lock, forgets the guard and writes a byte of
/// the image: a VM fault at that byte, received by the initial thread;
/// stopping the thread releases the lock, poisoned.
fn image_read_only(w: &mut World, part: ImagePart) -> TestResult {
    let addr = provoke::image_address(part);
    check(sel4_runtime::image::is_read_only(addr), || {
        format!("{part:?} at {addr:#x} is not read-only")
    })?;
    let m = Arc::new(Mutex::new(w.notification()?, 0u32));
    let m2 = m.clone();
    let t = w.spawn(move || {
        match m2.lock() {
            Ok(g) => core::mem::forget(g),
            Err(e) => panic!("lock: {e:?}"),
        }
        if provoke::write_image(part).is_err() {
            panic!("the image is not protected");
        }
    })?;
    let end = w.next_event();
    let stopped = t.stop().map_err(|e| err("Thread::stop", e))?;
    match end {
        Event::Fault(Fault::VmFault {
            addr: a,
            prefetch_fault: false,
            ..
        }) if a as usize == addr => {}
        other => return Err(format!("writing {addr:#x} ({part:?}) gave {other:?}")),
    }
    check(stopped.locks_released == 1, || {
        format!("{} locks released", stopped.locks_released)
    })?;
    check(m.is_poisoned(), || "the lock is not poisoned".into())?;
    match m.lock() {
        Err(LockError::Poisoned(g)) => drop(g),
        other => return Err(format!("locking the poisoned lock: {other:?}")),
    }
    m.clear_poison();
    let relocked = m.lock().is_ok();
    check(relocked, || "the lock after clear_poison".into())
}

/// A thread that waits for a lock is killed: it is outside the runtime,
/// so it stops at once, and stopping it withdraws it from the lock.
fn kill_lock_waiter(w: &mut World) -> TestResult {
    let m = Arc::new(Mutex::new(w.notification()?, ()));
    let guard = m.lock().map_err(|e| err("lock", e))?;
    let m2 = m.clone();
    let t = w.spawn(move || {
        let _g = m2.lock();
        panic!("the killed thread got the lock");
    })?;
    let mut yields = 0;
    while m.raw().waiters() == 0 && yields < 1000 {
        sel4_sys::yield_now();
        yields += 1;
    }
    check(m.raw().waiters() == 1, || "no waiter".into())?;
    let progress = t.request_kill();
    check(progress == KillProgress::StopNow, || {
        format!("kill of a waiting thread: {progress:?}")
    })?;
    let stopped = t.stop().map_err(|e| err("Thread::stop", e))?;
    check(stopped.locks_released == 0, || "it held locks".into())?;
    check(m.raw().waiters() == 0, || {
        format!("{} waiters after the kill", m.raw().waiters())
    })?;
    drop(guard);
    check(!m.is_poisoned() && m.lock().is_ok(), || {
        "the lock after the kill".into()
    })?;
    // Nothing came on the endpoint: the next thread's message is its own.
    Ok(())
}

/// The kinds of `provoke`, each on the second thread.
#[derive(Debug, Clone, Copy)]
enum Provoke {
    Read,
    Write,
    Execute,
    Undefined,
    Privileged,
    Breakpoint,
    #[cfg(target_arch = "x86_64")]
    DivideByZero,
    UnknownSyscall,
}

const READ_AT: usize = 0x1000;
const WRITE_AT: usize = 0x2008;
const EXECUTE_AT: usize = 0x3000;

/// The exception number of a UserException for `kind`, as this
/// architecture reports it (x86_64: the vector; aarch64: the exception
/// class of ESR_EL1; riscv64: scause).
fn exception_number(kind: Provoke, number: Word) -> Option<Word> {
    let n = if cfg!(target_arch = "aarch64") {
        (number >> 26) & 0x3f
    } else {
        number
    };
    let want = match kind {
        Provoke::Undefined if cfg!(target_arch = "x86_64") => 6,
        Provoke::Undefined if cfg!(target_arch = "aarch64") => 0x00,
        Provoke::Undefined => 2,
        Provoke::Privileged if cfg!(target_arch = "x86_64") => 13,
        Provoke::Privileged if cfg!(target_arch = "aarch64") => 0x00,
        Provoke::Privileged => 2,
        Provoke::Breakpoint if cfg!(target_arch = "x86_64") => 3,
        Provoke::Breakpoint if cfg!(target_arch = "aarch64") => 0x3c,
        Provoke::Breakpoint => 3,
        #[cfg(target_arch = "x86_64")]
        Provoke::DivideByZero => 0,
        _ => return None,
    };
    (n == want).then_some(n)
}

/// Each fault provoker on the second thread: the fault the architecture
/// gives for it.
fn provoke_faults(w: &mut World) -> TestResult {
    let kinds = [
        Provoke::Read,
        Provoke::Write,
        Provoke::Execute,
        Provoke::Undefined,
        Provoke::Privileged,
        Provoke::Breakpoint,
        #[cfg(target_arch = "x86_64")]
        Provoke::DivideByZero,
        Provoke::UnknownSyscall,
    ];
    for kind in kinds {
        let (end, _t) = w.run(move || match kind {
            Provoke::Read => {
                provoke::read_unmapped(READ_AT);
            }
            Provoke::Write => provoke::write_unmapped(WRITE_AT),
            Provoke::Execute => provoke::execute_unmapped(EXECUTE_AT),
            Provoke::Undefined => provoke::undefined_instruction(),
            Provoke::Privileged => provoke::privileged_instruction(),
            Provoke::Breakpoint => provoke::breakpoint(),
            #[cfg(target_arch = "x86_64")]
            Provoke::DivideByZero => provoke::divide_by_zero(),
            Provoke::UnknownSyscall => provoke::unknown_syscall(-77),
        })?;
        let fault = match end {
            Event::Fault(f) => f,
            Event::Exit(s) => return Err(format!("{kind:?}: no fault, the thread ended ({s})")),
        };
        let ok = match (kind, fault) {
            (
                Provoke::Read,
                Fault::VmFault {
                    addr,
                    prefetch_fault: false,
                    ..
                },
            ) => addr as usize == READ_AT,
            (
                Provoke::Write,
                Fault::VmFault {
                    addr,
                    prefetch_fault: false,
                    ..
                },
            ) => addr as usize == WRITE_AT,
            // x86_64 reports the fetch bit only with no-execute paging.
            (
                Provoke::Execute,
                Fault::VmFault {
                    addr,
                    ip,
                    prefetch_fault,
                    ..
                },
            ) => {
                addr as usize == EXECUTE_AT
                    && ip as usize == EXECUTE_AT
                    && (prefetch_fault || cfg!(target_arch = "x86_64"))
            }
            (Provoke::UnknownSyscall, Fault::UnknownSyscall { syscall, .. }) => {
                syscall as i64 == -77
            }
            (k, Fault::UserException { number, .. }) => exception_number(k, number).is_some(),
            _ => false,
        };
        println!("runtime-test: {kind:?}: {fault}");
        check(ok, || format!("{kind:?} gave {fault:?}"))?;
    }
    Ok(())
}

/// The heap is given 16 MiB of untyped memory and grows by 8 MiB: the
/// runtime retypes 2 MiB frames and maps them in its growth window, making
/// the translation tables the window lacks. An allocation larger than the
/// static heap lands there and is usable, from both threads.
fn heap_growth(w: &mut World) -> TestResult {
    let slot = w.slot()?;
    w.untyped
        .retype_objects(
            Blueprint::untyped(HEAP_UNTYPED_BITS),
            Destination::in_cnode(init::CNODE, slot),
            1,
        )
        .map_err(|e| err("Untyped_Retype (untyped)", e))?;
    let before = heap::stats();
    heap::add_memory(Cap::from_cptr(slot), HEAP_UNTYPED_BITS as u8)
        .map_err(|e| err("add_memory", e))?;
    let added = heap::grow(8 << 20).map_err(|e| err("grow", e))?;
    let after = heap::stats();
    check(
        added == 8 << 20 && after.grown == before.grown + added,
        || format!("grew {added} bytes: {before:?} -> {after:?}"),
    )?;
    let window = heap::GROWTH_WINDOW_START..heap::growth_top();
    let big: Vec<u64> = alloc::vec![7; (heap::STATIC_HEAP_SIZE + (1 << 20)) / 8];
    let at = big.as_ptr() as usize;
    check(window.contains(&at), || {
        format!("a block larger than the static heap is at {at:#x}, outside {window:x?}")
    })?;
    check(big.iter().all(|&v| v == 7), || {
        "the grown heap lost data".into()
    })?;
    drop(big);
    // The second thread allocates after the growth too.
    let (end, _t) = w.run(|| {
        let v: Vec<u64> = alloc::vec![9; 700_000 / 8];
        assert!(v.iter().all(|&x| x == 9));
    })?;
    check(matches!(end, Event::Exit(thread::EXIT_RETURNED)), || {
        format!("the second thread ended with {end:?}")
    })?;
    println!(
        "runtime-test: heap grew by {} MiB at {:#x}; {} MiB of donated memory left",
        added >> 20,
        heap::GROWTH_WINDOW_START,
        heap::stats().reservoir >> 20
    );
    Ok(())
}

#[cfg(not(target_arch = "x86_64"))]
mod uart {
    use super::*;
    use core::fmt::Write;
    use sel4_bootinfo::ExtraChunkId;
    use sel4_device::MappedMmio;
    use sel4_fdt::{Fdt, SerialKind};

    /// Where the UART's frame is mapped.
    const UART_VADDR: usize = 0x4100_0000;
    /// The console's rate (QEMU ignores it; real boards keep it).
    const BAUD: u32 = 115_200;

    /// Cuts the frame at `paddr` out of the device untyped that holds it
    /// (halving down to one page: two slots per level) and maps it
    /// uncached at [`UART_VADDR`].
    fn map_device_frame(w: &mut World, bi: &BootInfo, paddr: u64) -> TestResult {
        let first = bi.untyped().start;
        let (index, desc) = bi
            .untypeds()
            .enumerate()
            .find(|(_, d)| {
                d.is_device && d.paddr <= paddr && paddr - d.paddr < (1u64 << d.size_bits)
            })
            .ok_or_else(|| format!("no device untyped holds the UART at {paddr:#x}"))?;
        let mut ut: Cap<cap_type::Untyped> = Cap::from_cptr((first + index) as Word);
        let (mut base, mut bits) = (desc.paddr, desc.size_bits as usize);
        while bits > sel4::vspace::GRANULE_BITS {
            let slot = w.slot()?;
            w.slot()?;
            ut.retype_objects(
                Blueprint::new(sel4_sys::ObjectType::UntypedObject, bits - 1),
                Destination::in_cnode(init::CNODE, slot),
                2,
            )
            .map_err(|e| err("Untyped_Retype (halving the device untyped)", e))?;
            bits -= 1;
            let upper = paddr >= base + (1u64 << bits);
            if upper {
                base += 1u64 << bits;
            }
            ut = Cap::from_cptr(slot + Word::from(upper));
        }
        let slot = w.slot()?;
        let frame = ut
            .retype_one::<Granule>(init::CNODE, slot)
            .map_err(|e| err("Untyped_Retype (device frame)", e))?;
        w.map_with(frame, UART_VADDR, VmAttributes::UNCACHED)
    }

    /// The end line of `uart_driver`, written by the driver.
    fn end_line() -> String {
        format!(
            "{}\n",
            Line::TestEnd {
                name: "uart_driver",
                outcome: Outcome::Pass,
                micros: 0,
                reason: "",
            }
        )
    }

    pub fn uart_driver(w: &mut World, bi: &BootInfo) -> TestResult {
        let dtb = bi
            .find_extra_chunk(ExtraChunkId::Fdt)
            .ok_or("no device tree in extra bootinfo")?;
        let serial = Fdt::new(dtb.data)
            .and_then(|f| f.stdout_serial())
            .map_err(|e| format!("the device tree's console: {e}"))?;
        let offset = (serial.paddr as usize) % PAGE;
        check(offset + serial.size as usize <= PAGE, || {
            format!("the UART's registers {serial:?} span more than one page")
        })?;
        map_device_frame(w, bi, serial.paddr - offset as u64)?;
        // SAFETY: map_device_frame mapped the UART's page at UART_VADDR; it
        // stays mapped and nothing else uses the address.
        #[allow(unsafe_code)]
        let mmio = unsafe { MappedMmio::new(UART_VADDR, PAGE) };
        println!("runtime-test: console UART {serial:?} mapped at {UART_VADDR:#x}");
        match serial.kind {
            SerialKind::Pl011 => {
                let clock_hz = serial
                    .clock_hz
                    .ok_or("the PL011 has no clock in the device tree")?;
                let config = sel4_pl011::Config {
                    baud: BAUD,
                    clock_hz,
                };
                let want = config.divisor().map_err(|e| format!("{e}"))?;
                let mut u = sel4_pl011::Pl011::new(mmio);
                u.init(&config).map_err(|e| format!("PL011 init: {e}"))?;
                let (got, _, _) = u.settings().map_err(|e| format!("{e}"))?;
                check(got == want, || {
                    format!("PL011 divisors read back {got:?}, programmed {want:?}")
                })?;
                writeln!(
                    u,
                    "runtime-test: this line was written by the PL011 driver at {:#x}",
                    serial.paddr
                )
                .map_err(|_| "PL011 write failed")?;
                u.write_str(&end_line()).map_err(|_| "PL011 write failed")?;
                u.flush_blocking().map_err(|e| format!("{e}"))?;
            }
            SerialKind::Ns16550 {
                reg_shift,
                reg_io_width,
            } => {
                let width = if reg_io_width == 4 {
                    sel4_uart_16550::AccessWidth::Word
                } else {
                    sel4_uart_16550::AccessWidth::Byte
                };
                let regs = sel4_uart_16550::MmioRegisters::new(mmio, offset, reg_shift, width);
                let mut u = sel4_uart_16550::Uart::new(regs);
                let base_baud = serial
                    .clock_hz
                    .ok_or("the 16550 has no clock in the device tree")?
                    / 16;
                let config = sel4_uart_16550::Config {
                    base_baud,
                    ..sel4_uart_16550::Config::baud(BAUD)
                };
                u.init(&config).map_err(|e| format!("16550 init: {e}"))?;
                let sent = b"read back through the 16550's loopback";
                let mut back = [0u8; 38];
                u.loopback(sent, &mut back)
                    .map_err(|e| format!("16550 loopback: {e}"))?;
                check(&back == sent, || {
                    format!("loopback gave {:?}", core::str::from_utf8(&back))
                })?;
                writeln!(
                    u,
                    "runtime-test: this line was written by the 16550 driver at {:#x} (MMIO, shift {reg_shift}); {} bytes read back through its loopback",
                    serial.paddr,
                    back.len()
                )
                .map_err(|_| "16550 write failed")?;
                u.write_str(&end_line()).map_err(|_| "16550 write failed")?;
                u.flush_blocking().map_err(|e| format!("{e}"))?;
            }
        }
        Ok(())
    }
}
