//! Processes: what making, starting and destroying one costs, and IPC
//! between two processes (the case seL4's published IPC figures are for:
//! client and server in address spaces of their own), typed against raw.
//!
//! - `process_spawn_<size>`: `ProcessBuilder::spawn` (budget, CSpace,
//!   VSpace, image loaded and relocated, heap, stack, TLS, start-info page,
//!   TCB; the process is started but, below the root task's priority, runs
//!   only once the root task waits);
//! - `process_to_exit_<size>`: from `spawn` until its exit report arrives
//!   (its start code relocating itself and setting up, its `main`);
//! - `process_destroy_<size>`: `Process::destroy` (one revocation of the
//!   budget and the root task's bookkeeping);
//! - `ipc_inter_process`: one Call + ReplyRecv round trip between a client
//!   process and a server process, one-word request and reply, timed by the
//!   client with `rdtsc` over [`N`] calls: typed (messages of `sel4-ipc`
//!   encoded and decoded on both sides), raw (words in registers).
//!
//! The image is `tests/process-test` (embedded by the build). Each figure is
//! the median of [`RUNS`] runs after one warm-up. Under `-icount shift=0`
//! a cycle is an instruction. The C baseline has no processes: the
//! inter-process line says `c=-`.

use alloc::format;
use alloc::vec::Vec;

use process_test::f;
use sel4_rootserver::cnode::ALL_RIGHTS;
use sel4_rootserver::objects::Objects;
use sel4_rootserver::process::{receive_event, ProcessBuilder, ProcessEvent, SlotLayout};
use sel4_rootserver::sys as sel4_sys;
use sel4_rootserver::{println, Endpoint, Owned};

use crate::{err, Error, N, RUNS};

/// The process image.
const IMAGE: &[u8] = sel4_rootserver::embedded_elf!(PROCESS_TEST);

/// Below the root task (255), so that a process runs once it waits.
const PRIO: u8 = 254;

fn median(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v[v.len() / 2]
}

fn exited(ev: ProcessEvent) -> Result<(u64, u64), Error> {
    match ev {
        ProcessEvent::Exited { badge, code } => Ok((badge, code)),
        other => Err(Error(format!("expected an exit, got {other:?}"))),
    }
}

/// One process of `heap` bytes of heap: (spawn, to exit, destroy) cycles
/// and the size of its budget.
fn lifecycle(
    objs: &mut Objects,
    report: &Owned<Endpoint>,
    heap: u64,
) -> Result<([u64; 3], u64, usize), Error> {
    let t0 = sel4_sys::arch::rdtsc();
    let p = ProcessBuilder::new("bench", IMAGE)
        .arg(0, f::RETURN)
        .arg(1, 7)
        .priority(PRIO)
        .heap_size(heap)
        .report_endpoint(report, 1)
        .fault_endpoint(report, 1)
        .spawn(objs)
        .map_err(err("spawn"))?;
    let t1 = sel4_sys::arch::rdtsc();
    let (_, code) = exited(receive_event(report.cap()))?;
    let t2 = sel4_sys::arch::rdtsc();
    if code != 7 {
        return Err(Error(format!("the process exited with {code}")));
    }
    let budget = p.budget_bytes();
    let threads = p.thread_count();
    p.destroy(objs)
        .map_err(|r| Error(format!("destroy: {}", r.error)))?;
    let t3 = sel4_sys::arch::rdtsc();
    Ok(([t1 - t0, t2 - t0, t3 - t2], budget, threads))
}

fn process_lifecycle(
    objs: &mut Objects,
    report: &Owned<Endpoint>,
    name: &str,
    heap: u64,
) -> Result<(), Error> {
    lifecycle(objs, report, heap)?;
    let mut runs: [Vec<u64>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    let mut budget = 0;
    for _ in 0..RUNS {
        let (c, b, _) = lifecycle(objs, report, heap)?;
        budget = b;
        for k in 0..3 {
            runs[k].push(c[k]);
        }
    }
    let [spawn, to_exit, destroy] = runs.map(median);
    println!(
        "bench process_spawn_{name} cycles={spawn} (heap {heap} bytes, budget {budget} bytes)"
    );
    println!("bench process_to_exit_{name} cycles={to_exit}");
    println!("bench process_destroy_{name} cycles={destroy}");
    Ok(())
}

/// One client/server pair of processes: the client's cycles for `N`
/// round trips.
fn ipc_pair(objs: &mut Objects, report: &Owned<Endpoint>, typed: bool) -> Result<u64, Error> {
    // The first slot after the main thread's block of the component layout.
    const EP: u64 = SlotLayout::COMPONENT.first_thread + SlotLayout::COMPONENT.thread_slots;
    let ep: Owned<Endpoint> = objs.create().map_err(err("endpoint"))?;
    let t = u64::from(typed);
    let server = ProcessBuilder::new("server", IMAGE)
        .args([f::BENCH_SERVER, EP, t, 0, 0, 0, 0, 0])
        .priority(PRIO)
        .grant(EP, &ep, ALL_RIGHTS)
        .report_endpoint(report, 2)
        .fault_endpoint(report, 2)
        .spawn(objs)
        .map_err(err("spawn server"))?;
    let client = ProcessBuilder::new("client", IMAGE)
        .args([f::BENCH_CLIENT, EP, t, N, 0, 0, 0, 0])
        .priority(PRIO)
        .grant(EP, &ep, ALL_RIGHTS)
        .report_endpoint(report, 1)
        .fault_endpoint(report, 1)
        .spawn(objs)
        .map_err(err("spawn client"))?;
    let mut cycles = None;
    let mut server_done = false;
    while cycles.is_none() || !server_done {
        match exited(receive_event(report.cap()))? {
            (1, c) => cycles = Some(c),
            (2, 0) => server_done = true,
            (b, c) => return Err(Error(format!("process {b} exited with {c}"))),
        }
    }
    client
        .destroy(objs)
        .map_err(|r| Error(format!("destroy: {}", r.error)))?;
    server
        .destroy(objs)
        .map_err(|r| Error(format!("destroy: {}", r.error)))?;
    objs.delete(ep).map_err(err("delete endpoint"))?;
    let c = cycles.unwrap_or(u64::MAX);
    if c >= u64::MAX - 1 {
        return Err(Error("the client's calls went wrong".into()));
    }
    Ok((c + N / 2) / N)
}

/// The process figures (printed here) and the inter-process IPC round
/// trip as (typed, raw), which the caller reports with the other
/// operations (`bench ipc_inter_process c=- raw=<n> typed=<n>`: the C
/// baseline has no processes).
pub fn run(objs: &mut Objects) -> Result<(u64, u64), Error> {
    let report: Owned<Endpoint> = objs.create().map_err(err("endpoint"))?;
    process_lifecycle(objs, &report, "16k_heap", 16 * 1024)?;
    process_lifecycle(objs, &report, "1m_heap", 1024 * 1024)?;
    let mut figures = [0u64; 2];
    for (k, typed) in [true, false].into_iter().enumerate() {
        ipc_pair(objs, &report, typed)?;
        let runs: Vec<u64> = (0..RUNS)
            .map(|_| ipc_pair(objs, &report, typed))
            .collect::<Result<_, _>>()?;
        figures[k] = median(runs);
    }
    objs.delete(report).map_err(err("delete endpoint"))?;
    Ok((figures[0], figures[1]))
}
