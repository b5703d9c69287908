//! Generated Rust: each component's environment module (see
//! `sel4_component_env` for the types it uses).

use std::fmt::Write;

use crate::model::{Polarity, Trigger};
use crate::plan::*;

/// How generated code names things outside itself.
#[derive(Debug, Clone)]
pub struct CodegenOptions {
    /// Path of the `sel4-component-env` crate as the component sees it.
    pub env_crate: String,
}

impl Default for CodegenOptions {
    fn default() -> Self {
        CodegenOptions {
            env_crate: "::sel4_component_env".into(),
        }
    }
}

fn upper(s: &str) -> String {
    s.to_ascii_uppercase()
}

fn rust_str(s: &str) -> String {
    format!("{s:?}")
}

/// The environment module of component `name` (`None` if the plan has no
/// such component).
///
/// The module holds `NAME`, the layout constants, a `caps` module with one
/// descriptor constant per named capability, and `Env<R: Runtime>` with one
/// field per named capability, bound by `Env::bind`.
pub fn component_module(plan: &Plan, name: &str, opts: &CodegenOptions) -> Option<String> {
    let c = plan.component(name)?;
    let e = &opts.env_crate;
    let mut consts = String::new();
    let mut fields = String::new();
    let mut binds = String::new();
    let mut field =
        |fname: &str, doc: String, ty: String, cap_ty: String, value: String, method: &str| {
            let cname = upper(fname);
            let _ = writeln!(consts, "    /// {doc}");
            let _ = writeln!(consts, "    pub const {cname}: {cap_ty} = {value};");
            let _ = writeln!(fields, "    /// {doc}");
            let _ = writeln!(fields, "    pub {fname}: {ty},");
            let _ = writeln!(binds, "            {fname}: rt.{method}(&caps::{cname})?,");
        };
    // the notification bound to the main thread (the serving thread)
    let main_bound = c
        .threads
        .first()
        .and_then(|t| t.bound_notification.as_ref());
    let main_bound_slot = main_bound
        .and_then(|n| plan.notifications.iter().find(|x| &x.name == n))
        .map(|n| n.wait_slot);
    for s in &c.slots {
        let Some(fname) = &s.field else { continue };
        match &s.cap {
            CapPlan::Server { channel } => {
                let ch = plan
                    .channels
                    .iter()
                    .find(|x| &x.name == channel)
                    .expect("channel");
                let clients: Vec<String> = ch
                    .clients
                    .iter()
                    .map(|cl| {
                        format!(
                            "{e}::ClientInfo {{ badge: {:#x}, component: {} }}",
                            cl.badge,
                            rust_str(&cl.component)
                        )
                    })
                    .collect();
                let bound = main_bound_slot.map_or("None".to_string(), |s| format!("Some({s})"));
                field(
                    fname,
                    format!(
                        "Server of channel `{channel}` (protocol `{}`), slot {}.",
                        ch.protocol, s.slot
                    ),
                    format!("R::Server<{}>", ch.protocol),
                    format!("{e}::ServerCap<{}>", ch.protocol),
                    format!(
                        "{e}::ServerCap::new({}, &[{}], {bound})",
                        s.slot,
                        clients.join(", ")
                    ),
                    "server",
                );
            }
            CapPlan::Client { channel, badge } => {
                let ch = plan
                    .channels
                    .iter()
                    .find(|x| &x.name == channel)
                    .expect("channel");
                field(
                    fname,
                    format!("Client of channel `{channel}` to `{}` (protocol `{}`), slot {}, badge {badge}.", ch.server, ch.protocol, s.slot),
                    format!("R::Client<{}>", ch.protocol),
                    format!("{e}::ClientCap<{}>", ch.protocol),
                    format!("{e}::ClientCap::new({}, {badge:#x}, {})", s.slot, rust_str(&ch.server)),
                    "client",
                );
            }
            CapPlan::Signal {
                notification,
                badge,
            } => {
                let n = plan
                    .notifications
                    .iter()
                    .find(|x| &x.name == notification)
                    .expect("notification");
                field(
                    fname,
                    format!(
                        "Signals notification `{notification}` of `{}`, slot {}, badge {badge:#x}.",
                        n.waiter, s.slot
                    ),
                    "R::Signal".into(),
                    format!("{e}::SignalCap"),
                    format!(
                        "{e}::SignalCap {{ slot: {}, badge: {badge:#x}, waiter: {} }}",
                        s.slot,
                        rust_str(&n.waiter)
                    ),
                    "signal",
                );
            }
            CapPlan::Wait { notification } => {
                let n = plan
                    .notifications
                    .iter()
                    .find(|x| &x.name == notification)
                    .expect("notification");
                let sources: Vec<String> = n
                    .sources
                    .iter()
                    .map(|src| match src {
                        SignalPlan::Component { component, badge, .. } => format!(
                            "{e}::SignalSource {{ badge: {badge:#x}, kind: {e}::SignalSourceKind::Component({}) }}",
                            rust_str(component)
                        ),
                        SignalPlan::Irq { irq, badge } => format!(
                            "{e}::SignalSource {{ badge: {badge:#x}, kind: {e}::SignalSourceKind::Irq({}) }}",
                            rust_str(irq)
                        ),
                    })
                    .collect();
                let bound = n
                    .bound_thread
                    .as_ref()
                    .and_then(|t| c.threads.iter().position(|x| &x.name == t))
                    .map_or("None".to_string(), |i| format!("Some({i})"));
                field(
                    fname,
                    format!("Waits on notification `{notification}`, slot {}.", s.slot),
                    "R::Wait".into(),
                    format!("{e}::WaitCap"),
                    format!(
                        "{e}::WaitCap {{ slot: {}, sources: &[{}], bound_thread: {bound} }}",
                        s.slot,
                        sources.join(", ")
                    ),
                    "wait",
                );
            }
            CapPlan::IoPorts { first, last, .. } => {
                field(
                    fname,
                    format!("I/O ports {first:#x}..={last:#x}, slot {}.", s.slot),
                    "R::IoPorts".into(),
                    format!("{e}::IoPortRange"),
                    format!(
                        "{e}::IoPortRange {{ slot: {}, first: {first:#x}, last: {last:#x} }}",
                        s.slot
                    ),
                    "io_ports",
                );
            }
            CapPlan::IrqHandler { irq } => {
                let i = plan
                    .irqs
                    .iter()
                    .find(|x| x.component == c.name && &x.name == irq)
                    .expect("irq");
                let source = match &i.source {
                    IrqSourcePlan::IoApic { ioapic, pin, trigger, polarity, vector } => format!(
                        "{e}::IrqSource::IoApic {{ ioapic: {ioapic}, pin: {pin}, level: {}, active_low: {}, vector: {vector} }}",
                        *trigger == Trigger::Level,
                        *polarity == Polarity::Low
                    ),
                    IrqSourcePlan::Msi { bus, device, function, handle, vector } => format!(
                        "{e}::IrqSource::Msi {{ bus: {bus}, device: {device}, function: {function}, handle: {handle}, vector: {vector} }}"
                    ),
                    IrqSourcePlan::Line { irq, trigger } => format!(
                        "{e}::IrqSource::Line {{ irq: {irq}, level: {} }}",
                        *trigger == Trigger::Level
                    ),
                };
                field(
                    fname,
                    format!("Interrupt `{irq}`, handler slot {}, delivered to `{}` with badge {:#x}.", s.slot, i.notification, i.badge),
                    "R::Irq".into(),
                    format!("{e}::IrqCap"),
                    format!("{e}::IrqCap {{ handler: {}, notification: {}, badge: {:#x}, source: {source} }}", s.slot, i.notification_slot, i.badge),
                    "irq",
                );
            }
            _ => {}
        }
    }
    for m in &c.vspace.mappings {
        let perms = if m.perms.write {
            "rw"
        } else if m.perms.execute {
            "rx"
        } else {
            "r"
        };
        match m.phys {
            Some(phys) => field(
                &m.field,
                format!("Device frames of region `{}` ({:#x} bytes at physical {phys:#x}) at {:#x}, {perms}.", m.region, m.size, m.vaddr),
                "R::Device".into(),
                format!("{e}::DeviceRegion"),
                format!(
                    "{e}::DeviceRegion {{ vaddr: {:#x}, paddr: {phys:#x}, size: {:#x}, writable: {}, cached: {}, region: {} }}",
                    m.vaddr, m.size, m.perms.write, m.cached, rust_str(&m.region)
                ),
                "device",
            ),
            None => field(
                &m.field,
                format!("Shared region `{}` ({:#x} bytes) at {:#x}, {perms}.", m.region, m.size, m.vaddr),
                if m.perms.write { "R::SharedRw".into() } else { "R::SharedRo".into() },
                format!("{e}::SharedRegion"),
                format!(
                    "{e}::SharedRegion {{ vaddr: {:#x}, size: {:#x}, writable: {}, executable: {}, region: {} }}",
                    m.vaddr, m.size, m.perms.write, m.perms.execute, rust_str(&m.region)
                ),
                if m.perms.write { "shared_rw" } else { "shared_ro" },
            ),
        }
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "// Generated by sel4-system from {}: the environment of component `{}`. Do not edit.",
        plan.description, c.name
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "/// The component's name in the system description.");
    let _ = writeln!(out, "pub const NAME: &str = {};", rust_str(&c.name));
    let _ = writeln!(out, "/// The system's name.");
    let _ = writeln!(out, "pub const SYSTEM: &str = {};", rust_str(&plan.system));
    let _ = writeln!(out, "/// Priority of the main thread.");
    let _ = writeln!(out, "pub const PRIORITY: u8 = {};", c.priority);
    let _ = writeln!(
        out,
        "/// The heap mapping: `HEAP_SIZE` bytes at `HEAP_START`."
    );
    let _ = writeln!(
        out,
        "pub const HEAP_START: u64 = {:#x};",
        c.vspace.heap_start
    );
    let _ = writeln!(out, "pub const HEAP_SIZE: u64 = {:#x};", c.vspace.heap_size);
    let _ = writeln!(
        out,
        "/// Slots of the component's CSpace free for its own use."
    );
    let _ = writeln!(
        out,
        "pub const FREE_SLOTS: ::core::ops::Range<u64> = {}..{};",
        c.cspace.free_start, c.cspace.free_end
    );
    let _ = writeln!(
        out,
        "/// Threads (main first): name, priority, initial stack pointer, IPC buffer."
    );
    let threads: Vec<String> = c
        .threads
        .iter()
        .map(|t| {
            format!(
                "({}, {}, {:#x}, {:#x})",
                rust_str(&t.name),
                t.priority,
                t.stack_top,
                t.ipc_buffer
            )
        })
        .collect();
    let _ = writeln!(
        out,
        "pub const THREADS: &[(&str, u8, u64, u64)] = &[{}];",
        threads.join(", ")
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "/// The capabilities of this component as descriptors."
    );
    let _ = writeln!(out, "#[allow(dead_code)]");
    let _ = writeln!(out, "pub mod caps {{");
    out.push_str(&consts);
    let _ = writeln!(out, "}}");
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "/// The capabilities of this component, bound by a component runtime `R`."
    );
    let _ = writeln!(out, "pub struct Env<R: {e}::Runtime> {{");
    out.push_str(&fields);
    let _ = writeln!(out, "}}");
    let _ = writeln!(out);
    let _ = writeln!(out, "impl<R: {e}::Runtime> Env<R> {{");
    let _ = writeln!(out, "    /// Binds every capability through `rt`, once.");
    let _ = writeln!(out, "    #[allow(unused_variables)]");
    let _ = writeln!(
        out,
        "    pub fn bind(rt: &mut R) -> ::core::result::Result<Self, R::Error> {{"
    );
    let _ = writeln!(out, "        ::core::result::Result::Ok(Env {{");
    out.push_str(&binds);
    let _ = writeln!(out, "        }})");
    let _ = writeln!(out, "    }}");
    let _ = writeln!(out, "}}");
    Some(out)
}
