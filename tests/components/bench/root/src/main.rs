//! The IPC bench between components (tests/components/bench/system.toml):
//! one round trip of `probe_proto::Bench` (a word each way) from a client
//! component to a server component, each in an address space of its own,
//! written three ways: typed (`sel4-component` channels), raw (`sel4-sys`
//! calls) and C (the kernel's own libsel4, `sel4rs_c_component`). The root
//! task starts the servers, then each client alone; a client exits with
//! its cycles per round trip (under QEMU's `-icount shift=0`, instructions),
//! 0 after a wrong answer. It prints the figures as the bench does:
//! `bench ipc_inter_component c=N raw=N typed=N` and the ratios.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::format;
use alloc::string::String;

use sel4_rootserver::objects::Objects;
use sel4_rootserver::println;
use sel4_rootserver::supervisor::{Config, Happening, Supervisor, SupervisorError};
use sel4_rootserver::{entry, BootInfo};

sel4_rootserver::system_module!();

use system::{IMAGES, PLAN};

entry!(main);

/// Servers, started first; each waits for its client.
const SERVERS: [&str; 3] = ["typed_server", "raw_server", "c_server"];
/// Clients, run one at a time: (component, what the figure is).
const CLIENTS: [&str; 3] = ["typed_client", "raw_client", "c_client"];

/// Why the bench has no figures.
#[derive(Debug)]
enum BenchError {
    Objects(sel4_rootserver::Error),
    Supervisor(SupervisorError),
    /// A client ended otherwise than with a figure, or something else
    /// happened while it ran.
    Component(String),
}

impl core::fmt::Display for BenchError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BenchError::Objects(e) => write!(f, "the root task's objects: {e}"),
            BenchError::Supervisor(e) => write!(f, "supervisor: {e}"),
            BenchError::Component(what) => f.write_str(what),
        }
    }
}

impl From<SupervisorError> for BenchError {
    fn from(e: SupervisorError) -> BenchError {
        BenchError::Supervisor(e)
    }
}

/// `a / b` with three decimals.
fn ratio(a: u64, b: u64) -> String {
    let r = (a * 1000 + b / 2) / b;
    format!("{}.{:03}", r / 1000, r % 1000)
}

/// Runs client `name` to its end: its cycles per round trip.
fn run_client(
    sup: &mut Supervisor<'static>,
    objs: &mut Objects,
    name: &str,
) -> Result<u64, BenchError> {
    sup.start(objs, name)?;
    // The first thing that happens while it runs must be its exit.
    let h = loop {
        if let Some(h) = sup.step(objs).into_iter().next() {
            break h;
        }
    };
    match h {
        Happening::Exited { component, code } if PLAN.components[component].name == name => {
            match code {
                0 => Err(BenchError::Component(format!(
                    "`{name}` got a wrong answer from its server"
                ))),
                cycles => Ok(cycles),
            }
        }
        other => Err(BenchError::Component(format!(
            "while `{name}` ran: {other:?}"
        ))),
    }
}

fn main(bootinfo: &BootInfo) -> Result<(), BenchError> {
    let mut objs = Objects::try_from_bootinfo(bootinfo).map_err(BenchError::Objects)?;
    let tsc_mhz = bootinfo
        .tsc_mhz()
        .or_else(|| bootinfo.extra_tsc_mhz().map(u64::from))
        .unwrap_or(1000);
    let mut sup = Supervisor::new(&mut objs, &PLAN, &IMAGES, Config::new(tsc_mhz))?;
    for s in SERVERS {
        sup.start(&mut objs, s)?;
    }
    let mut figures = [0; 3];
    for (figure, client) in figures.iter_mut().zip(CLIENTS) {
        *figure = run_client(&mut sup, &mut objs, client)?;
    }
    let [typed, raw, c] = figures;
    println!(
        "bench: kernel {}, IPC round trip between two components (address spaces of their own), \
         instructions per op (-icount shift=0)",
        sel4_sys::KERNEL_VERSION
    );
    println!("bench ipc_inter_component c={c} raw={raw} typed={typed}");
    println!(
        "bench ipc_inter_component ratios typed/c={} raw/c={} typed/raw={} typed-raw={:+}",
        ratio(typed, c),
        ratio(raw, c),
        ratio(typed, raw),
        typed as i64 - raw as i64
    );
    if typed > c {
        println!(
            "bench target missed: ipc_inter_component typed={typed} > c={c} (the target is typed <= C)"
        );
    } else {
        println!("bench: ipc_inter_component target met (typed <= C)");
    }
    sup.destroy(&mut objs);
    Ok(())
}
