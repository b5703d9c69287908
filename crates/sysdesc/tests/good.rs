//! Good descriptions: the example systems, several shapes, a system of 150
//! components; properties of every plan (slots, badges, layout, order).

mod common;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::time::Instant;

use sel4_component_env::layout;
use sel4_sysdesc::plan::{CapPlan, Plan};
use sel4_sysdesc::{check, Options, Source};

fn plan_of(path: &str, text: &str, opts: &Options) -> Plan {
    let src = Source::new(path, text);
    let out = check(&src, opts);
    assert!(
        !out.diagnostics.has_errors(),
        "{}",
        out.diagnostics.render(&src)
    );
    out.plan.expect("plan")
}

/// Properties every plan has.
fn properties(plan: &Plan) {
    for c in &plan.components {
        // slots: unique, inside the CNode, below the free range
        let slots: Vec<u64> = c.slots.iter().map(|s| s.slot).collect();
        let set: BTreeSet<u64> = slots.iter().copied().collect();
        assert_eq!(set.len(), slots.len(), "{}: a slot used twice", c.name);
        assert!(!set.contains(&0), "{}: slot 0 filled", c.name);
        assert!(slots.iter().all(|&s| s < c.cspace.free_start), "{}", c.name);
        assert!(c.cspace.free_start <= c.cspace.free_end);
        assert_eq!(c.cspace.free_end, 1 << c.cspace.size_bits);
        assert_eq!(c.cspace.size_bits + c.cspace.guard_bits, 64);
        // fields: unique
        let fields: Vec<&String> = c
            .slots
            .iter()
            .filter_map(|s| s.field.as_ref())
            .chain(c.vspace.mappings.iter().map(|m| &m.field))
            .collect();
        assert_eq!(
            fields.iter().collect::<BTreeSet<_>>().len(),
            fields.len(),
            "{}: field twice",
            c.name
        );
        // address space: nothing overlaps, everything above the image window
        let mut ranges: Vec<(u64, u64)> = vec![];
        if c.vspace.heap_size > 0 {
            ranges.push((
                c.vspace.heap_start,
                c.vspace.heap_start + c.vspace.heap_size,
            ));
        }
        for t in &c.threads {
            assert_eq!(t.stack_top - t.stack_bottom, t.stack_size);
            ranges.push((t.stack_bottom, t.stack_top));
            ranges.push((t.ipc_buffer, t.ipc_buffer + layout::PAGE_SIZE));
        }
        for m in &c.vspace.mappings {
            assert_eq!(m.vaddr % layout::PAGE_SIZE, 0);
            ranges.push((m.vaddr, m.vaddr + m.size));
        }
        ranges.sort();
        for w in ranges.windows(2) {
            assert!(
                w[0].1 <= w[1].0,
                "{}: {:x?} overlaps {:x?}",
                c.name,
                w[0],
                w[1]
            );
        }
        assert!(ranges.iter().all(|r| r.0 >= layout::AUTO_BASE));
        // stacks have a guard page below: nothing ends right at a stack's bottom
        for t in &c.threads {
            assert!(
                ranges.iter().all(|r| r.1 != t.stack_bottom),
                "{}: no guard below stack",
                c.name
            );
        }
        assert!(c.memory.total <= c.memory.budget);
    }
    // channel badges: unique, non-zero, within 28 bits, and the client's slot holds that badge
    for ch in &plan.channels {
        let badges: BTreeSet<u64> = ch.clients.iter().map(|c| c.badge).collect();
        assert_eq!(
            badges.len(),
            ch.clients.len(),
            "channel {}: badge twice",
            ch.name
        );
        assert!(badges.iter().all(|&b| b != 0 && b < 1 << 28));
        for cl in &ch.clients {
            let comp = plan.component(&cl.component).unwrap();
            let s = comp.slots.iter().find(|s| s.slot == cl.slot).unwrap();
            assert_eq!(
                s.cap,
                CapPlan::Client {
                    channel: ch.name.clone(),
                    badge: cl.badge
                }
            );
        }
        let server = plan.component(&ch.server).unwrap();
        assert!(server.slots.iter().any(|s| s.slot == ch.server_slot
            && s.cap
                == CapPlan::Server {
                    channel: ch.name.clone()
                }));
    }
    // notification badges: disjoint bits, within the 28 bits seL4 5.x
    // mints (no mark bit for bound notifications)
    for n in &plan.notifications {
        let mut seen = 0u64;
        for s in &n.sources {
            let bits = s.badge();
            assert!(
                bits != 0 && bits & seen == 0 && bits < 1 << 28,
                "notification {}: bits twice or too wide",
                n.name
            );
            seen |= bits;
        }
    }
    // supervisor badges: unique over the system
    let mut sup = BTreeSet::new();
    for c in &plan.components {
        assert!(sup.insert(c.report_badge));
        for t in &c.threads {
            assert!(sup.insert(t.fault_badge));
        }
    }
    // start order: every server before its clients, each component once
    let pos: HashMap<&str, usize> = plan
        .start_order
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    assert_eq!(pos.len(), plan.components.len());
    for ch in &plan.channels {
        for cl in &ch.clients {
            assert!(
                pos[ch.server.as_str()] < pos[cl.component.as_str()],
                "{} starts after its client {}",
                ch.server,
                cl.component
            );
        }
    }
    // the JSON form reads back the same
    assert_eq!(&Plan::from_json(&plan.to_json()).unwrap(), plan);
}

#[test]
fn example_systems_validate() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../systems");
    let mut n = 0;
    for entry in std::fs::read_dir(&root).unwrap() {
        let path = entry.unwrap().path().join("system.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        // their component crates come with the component runtime: no crate check yet
        let opts = Options {
            packages: None,
            ..common::options()
        };
        let plan = plan_of(&path.display().to_string(), &text, &opts);
        properties(&plan);
        n += 1;
    }
    assert!(n >= 3, "expected the three example systems, found {n}");
}

#[test]
fn kv_store_example_plan() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../systems/kv-store/system.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let plan = plan_of(
        "kv-store/system.toml",
        &text,
        &Options {
            packages: None,
            ..common::options()
        },
    );
    assert_eq!(plan.start_order, ["logger", "kv", "client_a", "client_b"]);
    let kv = plan.component("kv").unwrap();
    assert_eq!(kv.calls, ["logger"]);
    let fields: Vec<&str> = kv.slots.iter().filter_map(|s| s.field.as_deref()).collect();
    assert_eq!(fields, ["requests", "log"]);
    let log = plan.channels.iter().find(|c| c.name == "log").unwrap();
    let badges: Vec<(&str, u64)> = log
        .clients
        .iter()
        .map(|c| (c.component.as_str(), c.badge))
        .collect();
    assert_eq!(badges, [("kv", 1), ("client_a", 2), ("client_b", 3)]);
    assert_eq!(plan.component("logger").unwrap().fault.max_restarts, 5);
}

#[test]
fn devices_and_bound_notifications() {
    let text = r#"
[system]
name = "devices"

[components.uart]
crate = "kv-server"
priority = 200
budget = "1 MiB"
threads = [{ name = "rx", priority = 210, stack = "8 KiB" }]
ioports = [{ name = "com2", base = 0x2f8, size = 8 }]
irqs = [
    { name = "serial", pin = 3, trigger = "edge", polarity = "high", vector = 3, notification = "events" },
    { name = "nic", pcidev = "00:03.0", handle = 0, vector = 20 },
]

[components.app]
crate = "kv-client"
priority = 100
budget = "1 MiB"

[channels.tty]
protocol = "uart_proto::Tty"
server = "uart"
clients = [{ component = "app", badge = 0x10 }]

[notifications.events]
waiter = "uart"
bind = "rx"
signallers = [{ component = "app", name = "kick", badge = 0x4 }]

[regions.hpet]
size = "4 KiB"
phys = 0xfed00000
maps = [{ component = "uart", perms = "rw", vaddr = 0x3_0000_0000 }]
"#;
    let plan = plan_of("devices.toml", text, &common::options());
    properties(&plan);
    let uart = plan.component("uart").unwrap();
    assert_eq!(
        uart.threads[1].bound_notification.as_deref(),
        Some("events")
    );
    let ev = plan
        .notifications
        .iter()
        .find(|n| n.name == "events")
        .unwrap();
    let badges: Vec<u64> = ev.sources.iter().map(|s| s.badge()).collect();
    // app's explicit 0x4, the serial IRQ gets the lowest free bit; bound or
    // not, the badges are just these bits
    assert_eq!(badges, [0x4, 0x1]);
    assert_eq!(plan.irqs.len(), 2);
    let nic = plan.irqs.iter().find(|i| i.name == "nic").unwrap();
    assert_eq!(nic.notification, "uart.nic");
    assert_eq!(plan.ioports[0].first, 0x2f8);
    assert_eq!(plan.ioports[0].last, 0x2ff);
    let m = &uart.vspace.mappings[0];
    assert_eq!(
        (m.vaddr, m.phys, m.cached),
        (0x3_0000_0000, Some(0xfed00000), false)
    );
    // device frames cost no budget
    assert_eq!(uart.memory.regions, 0);
}

#[test]
fn memory_budget_adds_up() {
    let text = r#"
[system]
name = "budget"
[components.a]
crate = "kv-server"
priority = 10
budget = "1 MiB"
image_size = "100 KiB"
stack = "16 KiB"
heap = "64 KiB"
[regions.buf]
size = "32 KiB"
maps = [{ component = "a" }]
"#;
    let plan = plan_of("budget.toml", text, &common::options());
    let m = &plan.component("a").unwrap().memory;
    assert!(m.complete);
    assert_eq!(m.image, Some(100 << 10));
    assert_eq!(
        (m.stacks, m.ipc_buffers, m.heap, m.regions),
        (16 << 10, 4096, 64 << 10, 32 << 10)
    );
    // image (0x400000) and the AUTO_BASE window: 2 page tables, 2 page directories, 1 PDPT
    assert_eq!(m.paging, Some(5 * 4096));
    assert_eq!(m.tcbs, Some(2048));
    // 12 fixed/thread slots + 0 fields + 32 free -> 64 slots of 32 bytes
    assert_eq!(m.cnode, Some(64 * 32));
    // the start-info page and 3 lock notifications of 32 bytes
    assert_eq!(m.runtime, Some(4096 + 3 * 32));
    // the loader's CNode: 25 image pages, start info, 16 heap, 4 stack, 1
    // IPC buffer, 8 region pages, 5 tables, a spare and 64 more -> 128
    // slots of 32 bytes
    assert_eq!(m.loader, Some(128 * 32));
    let sum = m.image.unwrap()
        + m.stacks
        + m.ipc_buffers
        + m.heap
        + m.regions
        + m.paging.unwrap()
        + m.vspace_root.unwrap()
        + m.cnode.unwrap()
        + m.tcbs.unwrap()
        + m.runtime.unwrap()
        + m.loader.unwrap();
    assert_eq!(m.total, sum);
    // one byte less budget than needed is an error naming the figure
    let tight = text.replace("budget = \"1 MiB\"", &format!("budget = {}", m.total - 1));
    let src = Source::new("budget.toml", tight);
    let out = check(&src, &common::options());
    assert!(out.plan.is_none());
    assert!(
        out.diagnostics.items[0].message.contains("needs"),
        "{}",
        out.diagnostics.render(&src)
    );
}

/// A chain of servers and a fan of clients: 150 components, every one
/// calling the logger, each level calling the next.
#[test]
fn system_of_150_components_validates_and_resolves_quickly() {
    let mut t = String::from("[system]\nname = \"big\"\n\n[components.logger]\ncrate = \"logger\"\npriority = 254\nbudget = \"1 MiB\"\n");
    let n = 150;
    for i in 0..n {
        t.push_str(&format!("\n[components.c{i}]\ncrate = \"chain-{i}\"\npriority = {}\nbudget = \"1 MiB\"\nheap = \"16 KiB\"\n", 100 + (n - i) / 2));
    }
    t.push_str("\n[channels.log]\nprotocol = \"log_proto::Log\"\nserver = \"logger\"\nclients = [");
    t.push_str(
        &(0..n)
            .map(|i| format!("\"c{i}\""))
            .collect::<Vec<_>>()
            .join(", "),
    );
    t.push_str("]\n");
    for i in 1..n {
        t.push_str(&format!("\n[channels.link{i}]\nprotocol = \"chain::Link\"\nserver = \"c{}\"\nclients = [\"c{i}\"]\n", i - 1));
    }
    for i in (0..n).step_by(2) {
        t.push_str(&format!("\n[regions.r{i}]\nsize = \"8 KiB\"\nmaps = [{{ component = \"c{i}\" }}, {{ component = \"c{}\", perms = \"r\" }}]\n", (i + 1) % n));
    }
    let start = Instant::now();
    let opts = Options {
        packages: None,
        ..common::options()
    };
    let plan = plan_of("big.toml", &t, &opts);
    let elapsed = start.elapsed();
    println!("150-component system: checked and resolved in {elapsed:?}");
    assert_eq!(plan.components.len(), n + 1);
    assert_eq!(plan.channels[0].clients.len(), n);
    assert_eq!(plan.start_order[0], "logger");
    assert_eq!(plan.start_order[1], "c0");
    assert_eq!(plan.start_order[n], format!("c{}", n - 1));
    properties(&plan);
}

/// The `mcs` table reaches the plan (the supervisor gives every thread of
/// the component a scheduling context with that budget and period); on a
/// kernel without MCS it is a warning that it has no effect, and the plan
/// is still made.
#[test]
fn mcs_budget_and_period_reach_the_plan() {
    let text = r#"
[system]
name = "mcs"
[components.a]
crate = "kv-server"
priority = 10
budget = "1 MiB"
mcs = { budget_us = 2000, period_us = 10000 }
"#;
    let src = Source::new("mcs.toml", text);
    let out = check(&src, &common::options());
    let plan = out.plan.as_ref().expect("a warning does not stop the plan");
    let m = plan.component("a").unwrap().mcs.as_ref().unwrap();
    assert_eq!((m.budget_us, m.period_us, m.passive), (2000, 10000, false));
    let warnings: Vec<_> = out
        .diagnostics
        .items
        .iter()
        .filter(|d| d.severity == sel4_sysdesc::Severity::Warning)
        .collect();
    assert_eq!(warnings.len(), 1, "{}", out.diagnostics.render(&src));
    assert!(warnings[0].message.contains("not an MCS kernel"));
    assert_eq!(warnings[0].position(&src), (8, 7));
    // the generated plan gives the supervisor the figures
    let code = sel4_sysdesc::codegen::system_module(plan, &[], &Default::default());
    assert!(
        code.contains(
            "mcs: Some(::sel4_component_env::plan::McsPlan { budget_us: 2000, period_us: 10000 })"
        ),
        "{code}"
    );
}

/// A description without `arch` is for the kernel's architecture (the
/// example systems build for every architecture); one that names another
/// architecture than the kernel's is refused.
#[test]
fn arch_follows_the_kernel_unless_given() {
    let body = r#"
[components.a]
crate = "kv-server"
priority = 10
budget = "1 MiB"
"#;
    let mut opts = common::options();
    let mut facts = common::facts();
    facts.arch = sel4_sysdesc::model::Arch::Riscv64;
    opts.kernel = Some(facts);
    let text = format!("[system]\nname = \"any\"\n{body}");
    let out = check(&Source::new("any.toml", &text), &opts);
    let plan = out.plan.as_ref().expect("no arch: the kernel's");
    assert_eq!(plan.arch, sel4_sysdesc::model::Arch::Riscv64);
    let text = format!("[system]\nname = \"x86\"\narch = \"x86_64\"\n{body}");
    let src = Source::new("x86.toml", &text);
    let out = check(&src, &opts);
    assert!(out.plan.is_none());
    let r = out.diagnostics.render(&src);
    assert!(
        r.contains("the description is for x86_64 but the kernel is built for riscv64"),
        "{r}"
    );
    // Without a kernel: x86_64.
    opts.kernel = None;
    let text = format!("[system]\nname = \"any\"\n{body}");
    let out = check(&Source::new("any.toml", &text), &opts);
    assert_eq!(out.plan.unwrap().arch, sel4_sysdesc::model::Arch::X86_64);
}
