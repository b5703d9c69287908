//! Robustness tests: threads (see main.rs).
//!
//! - a fault storm: 13 kinds of fault, 8 threads each, every one reported
//!   to its joiner as the right typed fault;
//! - kill, panic and fault at random points of threads that allocate and
//!   print (inside the allocator, inside `Display` impls called by
//!   `print!`), 120 trials, then the system still spawns, joins, prints
//!   and allocates;
//! - exhaustion of the heap (a thread's limit, the whole heap) and of
//!   threads (slots), twice in a row with the same counts.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use sel4_rootserver::objects::Objects;
use sel4_rootserver::thread::{spawn, JoinHandle, ThreadBuilder, ThreadError};
use sel4_rootserver::{println, AllocError, Cap, Error, Notification};
use sel4_runtime::heap;
use sel4_runtime::thread::provoke::{self, ImagePart};
use sel4_sys::{Fault, MessageInfo};
use sel4_test_harness::{ensure, ensure_eq, fail, sel4_test, Ctx, Failure, TestResult};

fn fw<E: fmt::Display>(what: &'static str) -> impl Fn(E) -> Failure {
    move |e| Failure::fail(alloc::format!("{what}: {e}"))
}

/// A small generator for the random points (xorshift, seeded from the
/// time stamp counter, printed so a run can be told apart).
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        Rng(sel4_sys::arch::rdtsc() | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A cptr whose guard does not match the root CNode's.
const BAD_CPTR: u64 = 0xdead_0000_0000_0000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    ReadUnmapped,
    WriteUnmapped,
    ExecuteUnmapped,
    WriteCode,
    WriteRelro,
    StackOverflow,
    CapFaultSend,
    CapFaultReceive,
    UnknownSyscall,
    InvalidOpcode,
    DivideByZero,
    Privileged,
    Breakpoint,
}

const KINDS: [Kind; 13] = [
    Kind::ReadUnmapped,
    Kind::WriteUnmapped,
    Kind::ExecuteUnmapped,
    Kind::WriteCode,
    Kind::WriteRelro,
    Kind::StackOverflow,
    Kind::CapFaultSend,
    Kind::CapFaultReceive,
    Kind::UnknownSyscall,
    Kind::InvalidOpcode,
    Kind::DivideByZero,
    Kind::Privileged,
    Kind::Breakpoint,
];

fn recurse(depth: u64) -> u64 {
    let frame = core::hint::black_box([depth; 32]);
    if depth == 0 {
        return frame[0];
    }
    recurse(depth - 1).wrapping_add(core::hint::black_box(frame[5]))
}

/// The address a thread of storm number `n` faults at (never mapped).
fn storm_address(n: usize) -> usize {
    0x10_0000 + n * 0x1000
}

fn provoke_fault(kind: Kind, n: usize) {
    let a = storm_address(n);
    match kind {
        Kind::ReadUnmapped => {
            provoke::read_unmapped(a);
        }
        Kind::WriteUnmapped => provoke::write_unmapped(a),
        Kind::ExecuteUnmapped => provoke::execute_unmapped(a),
        Kind::WriteCode => {
            let _ = provoke::write_image(ImagePart::Text);
        }
        Kind::WriteRelro => {
            let _ = provoke::write_image(ImagePart::Relro);
        }
        Kind::StackOverflow => {
            recurse(u64::MAX);
        }
        Kind::CapFaultSend => {
            sel4_sys::call_regs(BAD_CPTR, MessageInfo::new(0, 0, 0, 0), [0; 4]);
        }
        Kind::CapFaultReceive => {
            sel4_sys::recv_regs(BAD_CPTR);
        }
        Kind::UnknownSyscall => provoke::unknown_syscall(-77),
        Kind::InvalidOpcode => provoke::undefined_instruction(),
        Kind::DivideByZero => provoke::divide_by_zero(),
        Kind::Privileged => provoke::privileged_instruction(),
        Kind::Breakpoint => provoke::breakpoint(),
    }
}

/// Whether the join result is the fault `kind` promised.
fn is_right_fault(kind: Kind, n: usize, r: &Result<(), ThreadError>) -> bool {
    const PRESENT: u64 = 1;
    const WRITE: u64 = 2;
    let a = storm_address(n) as u64;
    let f = match r {
        Err(ThreadError::Faulted(f)) => **f,
        Err(ThreadError::StackOverflow(_)) => return kind == Kind::StackOverflow,
        _ => return false,
    };
    match (kind, f) {
        (
            Kind::ReadUnmapped,
            Fault::VmFault {
                addr,
                prefetch_fault: false,
                fsr,
                ..
            },
        ) => addr == a && fsr & (PRESENT | WRITE) == 0,
        (
            Kind::WriteUnmapped,
            Fault::VmFault {
                addr,
                prefetch_fault: false,
                fsr,
                ..
            },
        ) => addr == a && fsr & (PRESENT | WRITE) == WRITE,
        // An instruction fetch: the fault is at the instruction pointer (the
        // fetch bit of the error code needs no-execute paging, which QEMU's
        // configuration here does not enable).
        (Kind::ExecuteUnmapped, Fault::VmFault { addr, ip, .. }) => addr == a && ip == a,
        (Kind::WriteCode, Fault::VmFault { addr, fsr, .. }) => {
            addr as usize == provoke::image_address(ImagePart::Text)
                && fsr & (PRESENT | WRITE) == PRESENT | WRITE
        }
        (Kind::WriteRelro, Fault::VmFault { addr, fsr, .. }) => {
            addr as usize == provoke::image_address(ImagePart::Relro)
                && fsr & (PRESENT | WRITE) == PRESENT | WRITE
        }
        (
            Kind::CapFaultSend,
            Fault::CapFault {
                addr,
                in_recv_phase: false,
                ..
            },
        ) => addr == BAD_CPTR,
        (
            Kind::CapFaultReceive,
            Fault::CapFault {
                addr,
                in_recv_phase: true,
                ..
            },
        ) => addr == BAD_CPTR,
        (Kind::UnknownSyscall, Fault::UnknownSyscall { syscall, .. }) => syscall as i64 == -77,
        (Kind::InvalidOpcode, Fault::UserException { number: 6, .. }) => true,
        (Kind::DivideByZero, Fault::UserException { number: 0, .. }) => true,
        (Kind::Privileged, Fault::UserException { number: 13, .. }) => true,
        (Kind::Breakpoint, Fault::UserException { number: 3, .. }) => true,
        _ => false,
    }
}

/// 104 threads, 13 kinds of fault: each join gives the right typed fault.
#[sel4_test(timeout_ms = 30000)]
fn fault_storm(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(256)?;
    let rounds = 8;
    let mut per_kind = [0usize; KINDS.len()];
    let mut n = 0;
    for _ in 0..rounds {
        // One of each kind at once, then join them all.
        let mut hs: Vec<(Kind, usize, JoinHandle<()>)> = Vec::new();
        for &kind in KINDS.iter() {
            let stack = if kind == Kind::StackOverflow {
                16 * 1024
            } else {
                32 * 1024
            };
            let h = ThreadBuilder::new()
                .stack_size(stack)
                .spawn(&mut objs, move || provoke_fault(kind, n))
                .map_err(fw("spawn"))?;
            hs.push((kind, n, h));
            n += 1;
        }
        for (kind, k, h) in hs {
            let r = h.join(&mut objs);
            if !is_right_fault(kind, k, &r) {
                fail!("thread {k} ({kind:?}) ended with {r:?}");
            }
            per_kind[KINDS.iter().position(|&x| x == kind).unwrap_or(0)] += 1;
        }
    }
    ensure_eq!(per_kind.iter().sum::<usize>(), rounds * KINDS.len());
    still_serving(&mut objs)?;
    println!(
        "threads: fault storm: {} threads, {} kinds, every one the right typed fault ({per_kind:?} per kind)",
        rounds * KINDS.len(),
        KINDS.len()
    );
    Ok(())
}

/// Spawns, joins, prints and allocates, checking each.
fn still_serving(objs: &mut Objects) -> TestResult {
    let h = spawn(objs, || {
        let v: Vec<u64> = (0..10_000).collect();
        println!("threads: a new thread prints ({} numbers)", v.len());
        v.iter().sum::<u64>()
    })
    .map_err(fw("spawn after"))?;
    ensure_eq!(h.join(objs).map_err(fw("join after"))?, 49_995_000);
    let big = alloc::vec![0x3cu8; 512 * 1024];
    ensure!(big[400_000] == 0x3c, "a 512 KiB block");
    println!("threads: the test thread prints");
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Kill,
    Panic,
    Fault,
}

/// Printed by the workers; panics or faults inside `fmt` at the chosen
/// iteration.
struct Marker {
    i: u64,
    at: u64,
    mode: Mode,
    deep: bool,
    /// Whether this is the print that ends the worker.
    armed: bool,
}

impl fmt::Display for Marker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.armed && self.i == self.at {
            match (self.mode, self.deep) {
                (Mode::Panic, _) => panic!("worker panics inside Display at {}", self.i),
                (Mode::Fault, false) => {
                    provoke::read_unmapped(0x30_0000);
                }
                (Mode::Fault, true) => {
                    recurse(u64::MAX);
                }
                (Mode::Kill, _) => {}
            }
        }
        write!(f, "{}", self.i % 10)
    }
}

/// A worker: allocates and frees blocks of random sizes, prints, and at
/// iteration `at` panics or faults (inside `print!`'s formatting, or
/// outside it), or runs until killed.
fn worker(seed: u64, mode: Mode, at: u64, inside_print: bool, deep: bool) {
    let mut rng = Rng(seed | 1);
    let mut blocks: Vec<Box<[u8]>> = Vec::new();
    let mut i = 0u64;
    loop {
        let n = 16 + rng.below(2048) as usize;
        blocks.push(alloc::vec![i as u8; n].into_boxed_slice());
        if blocks.len() > 24 {
            let k = rng.below(blocks.len() as u64) as usize;
            blocks.swap_remove(k);
        }
        let armed = mode != Mode::Kill && i == at && inside_print;
        if i.is_multiple_of(16) || armed {
            sel4_rootserver::print!(
                "{}",
                Marker {
                    i,
                    at,
                    mode,
                    deep,
                    armed
                }
            );
        }
        if i == at && !inside_print {
            match mode {
                Mode::Panic => panic!("worker panics at {i}"),
                Mode::Fault => {
                    provoke::read_unmapped(0x30_0000);
                }
                Mode::Kill => {}
            }
        }
        i += 1;
    }
}

/// 120 trials: a worker that allocates and prints is killed after a
/// random time, or panics or faults at a random iteration (inside a
/// `Display` impl that `print!` calls, or between allocations). Each end
/// is the expected one; afterwards the system spawns, joins, prints and
/// allocates.
#[sel4_test(timeout_ms = 40000)]
fn kill_panic_and_fault_at_random_points(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(128)?;
    let mut rng = Rng::new();
    let seed = rng.0;
    let trials = 120u64;
    let (mut kills, mut kills_inside, mut panics, mut faults, mut in_print) = (0, 0, 0, 0, 0);
    let mut left = 0usize;
    for trial in 0..trials {
        let mode = [Mode::Kill, Mode::Panic, Mode::Fault][(trial % 3) as usize];
        let at = rng.below(64);
        let inside_print = rng.below(2) == 0;
        let deep = rng.below(3) == 0;
        let wseed = rng.next();
        let h = ThreadBuilder::new()
            .priority(sel4_test_harness::HARNESS_PRIORITY as u8)
            .stack_size(32 * 1024)
            .spawn(&mut objs, move || {
                worker(wseed, mode, at, inside_print, deep)
            })
            .map_err(fw("spawn"))?;
        match mode {
            Mode::Kill => {
                for _ in 0..=rng.below(2) {
                    sel4_sys::yield_now();
                }
                let r = h.kill(&mut objs);
                kills += 1;
                if r.waited_for_runtime {
                    kills_inside += 1;
                }
                left += r.heap.in_use;
            }
            Mode::Panic | Mode::Fault => {
                let j = h.join_report(&mut objs);
                let ok = match (mode, &j.result) {
                    (Mode::Panic, Err(ThreadError::Panicked { message })) => {
                        message.contains("worker panics")
                    }
                    (Mode::Fault, Err(ThreadError::Faulted(f))) => {
                        let plain = !(deep && inside_print);
                        plain
                            && matches!(
                                **f,
                                Fault::VmFault {
                                    addr: 0x30_0000,
                                    ..
                                }
                            )
                    }
                    (Mode::Fault, Err(ThreadError::StackOverflow(_))) => deep && inside_print,
                    _ => false,
                };
                if !ok {
                    fail!(
                        "trial {trial} ({mode:?} at {at}, inside print: {inside_print}): {:?}",
                        j.result
                    );
                }
                if mode == Mode::Panic {
                    panics += 1;
                } else {
                    faults += 1;
                }
                if inside_print {
                    in_print += 1;
                }
                left += j.report.heap.in_use;
            }
        }
        if trial % 20 == 19 {
            println!();
        }
    }
    println!();
    still_serving(&mut objs)?;
    let s = heap::stats();
    println!(
        "threads: {trials} trials (seed {seed:#x}): {kills} kills ({kills_inside} inside the runtime), {panics} panics, {faults} faults ({in_print} of those inside print's formatting); {left} bytes left allocated by them; heap {} used, {} free, {} grown",
        s.used, s.free, s.grown
    );
    Ok(())
}

/// Allocates blocks of `block` bytes (fallible) until the heap refuses
/// one, frees them, returns the count; `None` when it stopped for another
/// reason (its list of blocks full, 1024 of them: not an exhaustion).
fn fill(block: usize) -> Option<usize> {
    let mut v: Vec<Vec<u8>> = Vec::new();
    if v.try_reserve(1024).is_err() {
        return Some(0);
    }
    loop {
        if v.len() == v.capacity() {
            return None;
        }
        let mut b = Vec::new();
        if b.try_reserve_exact(block).is_err() {
            break;
        }
        b.resize(block, 1);
        v.push(b);
    }
    Some(v.len())
}

/// The heap exhausted twice in a row, by a thread's limit and as a whole:
/// the same number of blocks both times (nothing was lost in between).
#[sel4_test(timeout_ms = 30000)]
fn heap_exhaustion_twice_gives_the_same_counts(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(64)?;
    const BLOCK: usize = 16 * 1024;
    let mut counts = Vec::new();
    for limit in [512 * 1024, usize::MAX] {
        let mut got = [0usize; 2];
        for g in got.iter_mut() {
            let h = ThreadBuilder::new()
                .heap_limit(limit)
                .spawn(&mut objs, || fill(BLOCK))
                .map_err(fw("spawn"))?;
            let j = h.join_report(&mut objs);
            let Some(n) = j.result.map_err(fw("join"))? else {
                fail!("limit {limit}: 1024 blocks of 16 KiB and no refusal");
            };
            *g = n;
            ensure_eq!(j.report.heap.in_use, 0, "the filler freed everything");
        }
        ensure!(got[0] > 0, "blocks before exhaustion");
        ensure_eq!(got[0], got[1], "limit {limit}: the same count twice");
        counts.push(got[0]);
    }
    println!(
        "threads: heap exhaustion twice: {} blocks of 16 KiB under a 512 KiB limit, {} in the whole heap, both times",
        counts[0], counts[1]
    );
    Ok(())
}

/// Threads spawned until the slots run out, all killed, twice: the same
/// number both times. A first round warms up: the paging structures its
/// stacks needed stay with the VSpace (and so do their slots), and a later
/// round may place its stacks where the first did not (the first round's
/// failed spawn is the last one placed); after it, every round starts from
/// the same slots.
#[sel4_test(timeout_ms = 30000)]
fn thread_exhaustion_twice_gives_the_same_counts(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(200)?;
    let never: Cap<Notification> = objs
        .create::<Notification>()
        .map_err(fw("notification"))?
        .cap();
    let mut got = [0usize; 3];
    let mut used = [0usize; 3];
    let mut why = None;
    for (g, u) in got.iter_mut().zip(used.iter_mut()) {
        let mut hs = Vec::new();
        loop {
            match ThreadBuilder::new()
                .stack_size(8 * 1024)
                .spawn(&mut objs, move || {
                    never.wait();
                }) {
                Ok(h) => hs.push(h),
                Err(e) => {
                    why = Some(e);
                    break;
                }
            }
            if hs.len() > 1000 {
                fail!("no exhaustion after 1000 threads");
            }
        }
        *g = hs.len();
        for h in hs {
            let _ = h.kill(&mut objs);
        }
        *u = objs.cspace().slots().used();
    }
    ensure!(got[1] > 0, "threads before exhaustion");
    ensure_eq!(
        got[1],
        got[2],
        "the same count twice after the warm-up ({} threads; slots in use after each round's kills: {:?})",
        got[0],
        used
    );
    ensure_eq!(used[1], used[2], "every slot back after the kills");
    // What ran out is the slots (memory is plentiful).
    let why = match why {
        Some(e @ ThreadError::Resources(Error::Alloc(AllocError::SlotsExhausted { .. }))) => e,
        other => fail!("the spawn that failed: {other:?}"),
    };
    still_serving(&mut objs)?;
    println!(
        "threads: thread exhaustion twice: {} threads both times over 200 slots after a warm-up of {} ({why})",
        got[1],
        got[0]
    );
    Ok(())
}
