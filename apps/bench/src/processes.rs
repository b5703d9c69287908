//! Processes: what making, starting and destroying one costs, and IPC
//! between two processes (the case seL4's published IPC figures are for:
//! client and server in address spaces of their own), typed against raw
//! and C.
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
//!   client with `rdtsc` over [`N`] calls after 100: typed (messages of
//!   `sel4-ipc` encoded and decoded on both sides), raw (words in
//!   registers), C (libsel4's `seL4_SetMR` + `seL4_Call` /
//!   `seL4_ReplyRecv`, the canonical loop of the C root task; its
//!   `..WithMRs` twin is printed too).
//!
//! The Rust image is `tests/process-test`, the C one `apps/bench/c/process.c`
//! (both embedded by the build; the C one only where CMake's
//! `sel4rs_c_process()` builds it: non-MCS seL4 5.x and 13.0.0-16.0.0).
//! Every pair is started the same way (same builder, priority [`PRIO`]
//! for both, so the kernel takes the same fastpath): the figures differ in
//! user code only. Each figure is the median of [`RUNS`] runs after one
//! warm-up. Under `-icount shift=0` a cycle is an instruction.

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

/// The C process image (apps/bench/c/process.c).
#[cfg(bench_c_process)]
const C_IMAGE: &[u8] = sel4_rootserver::embedded_elf!(BENCH_C_PROCESS);

/// Roles of the C image (its first argument word; apps/bench/c/process.c).
#[cfg(bench_c_process)]
const C_ROLE_SERVER: u64 = 1;
#[cfg(bench_c_process)]
const C_ROLE_CLIENT: u64 = 2;
#[cfg(bench_c_process)]
const C_ROLE_SERVER_MRS: u64 = 3;
#[cfg(bench_c_process)]
const C_ROLE_CLIENT_MRS: u64 = 4;

/// Which implementation a client/server pair runs.
#[derive(Clone, Copy)]
enum Impl {
    /// tests/process-test, `sel4-ipc` messages.
    Typed,
    /// tests/process-test, words in registers.
    Raw,
    /// apps/bench/c/process.c, libsel4 (`seL4_SetMR` + `seL4_Call` /
    /// `seL4_ReplyRecv`).
    #[cfg(bench_c_process)]
    C,
    /// The same with `seL4_CallWithMRs` / `seL4_ReplyRecvWithMRs`.
    #[cfg(bench_c_process)]
    CWithMrs,
}

impl Impl {
    /// The image and the server's and the client's argument words.
    fn image_and_args(self, ep: u64) -> (&'static [u8], [u64; 8], [u64; 8]) {
        match self {
            Impl::Typed | Impl::Raw => {
                let t = u64::from(matches!(self, Impl::Typed));
                (
                    IMAGE,
                    [f::BENCH_SERVER, ep, t, 0, 0, 0, 0, 0],
                    [f::BENCH_CLIENT, ep, t, N, 0, 0, 0, 0],
                )
            }
            #[cfg(bench_c_process)]
            Impl::C => (
                C_IMAGE,
                [C_ROLE_SERVER, ep, 0, 0, 0, 0, 0, 0],
                [C_ROLE_CLIENT, ep, N, 0, 0, 0, 0, 0],
            ),
            #[cfg(bench_c_process)]
            Impl::CWithMrs => (
                C_IMAGE,
                [C_ROLE_SERVER_MRS, ep, 0, 0, 0, 0, 0, 0],
                [C_ROLE_CLIENT_MRS, ep, N, 0, 0, 0, 0, 0],
            ),
        }
    }
}

/// Why there is no C figure in a build without the C process image.
#[cfg(not(bench_c_process))]
const NO_C_PROCESS: &str = sel4_sys::sel4_cfg_if! { kernel >= 11 && config KERNEL_MCS {
    "an MCS kernel: the C process (apps/bench/c/process.c) uses the non-MCS libsel4 calls \
     and is not built"
} else {
    "no C process image in this build (CMake's sel4rs_c_process() builds it for non-MCS \
     seL4 5.x and 13.0.0-16.0.0; built by plain cargo, the bench has none)"
} };

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
fn ipc_pair(objs: &mut Objects, report: &Owned<Endpoint>, which: Impl) -> Result<u64, Error> {
    // The first slot after the main thread's block of the component layout.
    const EP: u64 = SlotLayout::COMPONENT.first_thread + SlotLayout::COMPONENT.thread_slots;
    let (image, server_args, client_args) = which.image_and_args(EP);
    let ep: Owned<Endpoint> = objs.create().map_err(err("endpoint"))?;
    let server = ProcessBuilder::new("server", image)
        .args(server_args)
        .priority(PRIO)
        .grant(EP, &ep, ALL_RIGHTS)
        .report_endpoint(report, 2)
        .fault_endpoint(report, 2)
        .spawn(objs)
        .map_err(err("spawn server"))?;
    let client = ProcessBuilder::new("client", image)
        .args(client_args)
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
    // u64::MAX: a wrong reply; - 1: a wrong final value; - 2 (C): a bad role.
    if c >= u64::MAX - 2 {
        return Err(Error("the client's calls went wrong".into()));
    }
    Ok((c + N / 2) / N)
}

/// The inter-process IPC round trip (instructions per round trip).
pub struct InterProcess {
    pub typed: u64,
    pub raw: u64,
    /// The C figures (canonical, `..WithMRs`), or why there are none.
    pub c: Result<(u64, u64), &'static str>,
}

/// One implementation's figure: the median of `RUNS` pairs after one.
fn ipc_figure(objs: &mut Objects, report: &Owned<Endpoint>, which: Impl) -> Result<u64, Error> {
    ipc_pair(objs, report, which)?;
    let runs: Vec<u64> = (0..RUNS)
        .map(|_| ipc_pair(objs, report, which))
        .collect::<Result<_, _>>()?;
    Ok(median(runs))
}

/// The process figures (printed here) and the inter-process IPC round
/// trip, which the caller reports with the other operations
/// (`bench ipc_inter_process c=<n> raw=<n> typed=<n>`).
pub fn run(objs: &mut Objects) -> Result<InterProcess, Error> {
    let report: Owned<Endpoint> = objs.create().map_err(err("endpoint"))?;
    process_lifecycle(objs, &report, "16k_heap", 16 * 1024)?;
    process_lifecycle(objs, &report, "1m_heap", 1024 * 1024)?;
    let typed = ipc_figure(objs, &report, Impl::Typed)?;
    let raw = ipc_figure(objs, &report, Impl::Raw)?;
    #[cfg(bench_c_process)]
    let c = Ok((
        ipc_figure(objs, &report, Impl::C)?,
        ipc_figure(objs, &report, Impl::CWithMrs)?,
    ));
    #[cfg(not(bench_c_process))]
    let c = Err(NO_C_PROCESS);
    objs.delete(report).map_err(err("delete endpoint"))?;
    Ok(InterProcess { typed, raw, c })
}
