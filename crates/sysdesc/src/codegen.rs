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

/// One component's part of its crate's module: descriptor constants, the
/// environment's fields (name, declaration) and their bindings.
struct Parts {
    consts: String,
    /// (field name, `pub name: Type,` with its doc comment)
    fields: Vec<(String, String)>,
    binds: String,
}

fn component_parts(plan: &Plan, name: &str, opts: &CodegenOptions) -> Option<Parts> {
    let c = plan.component(name)?;
    let e = &opts.env_crate;
    let mut consts = String::new();
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut binds = String::new();
    let cmod = &c.name;
    let mut field =
        |fname: &str, doc: String, ty: String, cap_ty: String, value: String, method: &str| {
            let cname = upper(fname);
            let _ = writeln!(consts, "        /// {doc}");
            let _ = writeln!(consts, "        pub const {cname}: {cap_ty} = {value};");
            fields.push((fname.to_string(), format!("    pub {fname}: {ty},\n")));
            let _ = writeln!(
                binds,
                "                {fname}: rt.{method}(&{cmod}::caps::{cname})?,"
            );
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
    Some(Parts {
        consts,
        fields,
        binds,
    })
}

/// The constants of one component of a crate module (`pub mod <name>`).
fn component_consts(plan: &Plan, c: &ComponentPlan, parts: &Parts) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "/// Component `{}`.", c.name);
    let _ = writeln!(out, "#[allow(dead_code)]");
    let _ = writeln!(out, "pub mod {} {{", c.name);
    let _ = writeln!(
        out,
        "    /// The component's name in the system description."
    );
    let _ = writeln!(out, "    pub const NAME: &str = {};", rust_str(&c.name));
    let _ = writeln!(out, "    /// Priority of the main thread.");
    let _ = writeln!(out, "    pub const PRIORITY: u8 = {};", c.priority);
    let _ = writeln!(
        out,
        "    /// The heap mapping: `HEAP_SIZE` bytes at `HEAP_START`."
    );
    let _ = writeln!(
        out,
        "    pub const HEAP_START: u64 = {:#x};",
        c.vspace.heap_start
    );
    let _ = writeln!(
        out,
        "    pub const HEAP_SIZE: u64 = {:#x};",
        c.vspace.heap_size
    );
    let _ = writeln!(
        out,
        "    /// Slots of the component's CSpace free for its own use."
    );
    let _ = writeln!(
        out,
        "    pub const FREE_SLOTS: ::core::ops::Range<u64> = {}..{};",
        c.cspace.free_start, c.cspace.free_end
    );
    let _ = writeln!(
        out,
        "    /// Threads (main first): name, priority, initial stack pointer, IPC buffer."
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
        "    pub const THREADS: &[(&str, u8, u64, u64)] = &[{}];",
        threads.join(", ")
    );
    let _ = writeln!(
        out,
        "    /// The capabilities of this component as descriptors."
    );
    let _ = writeln!(out, "    pub mod caps {{");
    out.push_str(&parts.consts);
    let _ = writeln!(out, "    }}");
    let _ = writeln!(out, "}}");
    let _ = plan;
    out
}

/// The environment module of component `name` alone (see
/// [`crate_module`]; `None` if the plan has no such component).
pub fn component_module(plan: &Plan, name: &str, opts: &CodegenOptions) -> Option<String> {
    plan.component(name)?;
    module_for(plan, &[name], opts)
}

/// The components a crate is built for (description order).
pub fn crate_components<'p>(plan: &'p Plan, package: &str) -> Vec<&'p str> {
    plan.components
        .iter()
        .filter(|c| matches!(&c.image, ImagePlan::Crate { package: p } if p == package))
        .map(|c| c.name.as_str())
        .collect()
}

/// The environment module of crate `package`: for each component built
/// from it a `pub mod <component>` with its constants and its capabilities
/// as descriptors (`caps`), and one `Env<R: Runtime>` whose `bind` binds
/// the descriptors of the component the runtime runs
/// (`Runtime::component_name`). The check made sure the components of one
/// crate have the same fields of the same types. With one component, its
/// constants and `caps` are also at the top. `None` if no component of the
/// plan is built from `package`.
pub fn crate_module(plan: &Plan, package: &str, opts: &CodegenOptions) -> Option<String> {
    let names = crate_components(plan, package);
    if names.is_empty() {
        return None;
    }
    module_for(plan, &names, opts)
}

fn module_for(plan: &Plan, names: &[&str], opts: &CodegenOptions) -> Option<String> {
    let e = &opts.env_crate;
    let mut parts = Vec::new();
    for n in names {
        parts.push((plan.component(n)?, component_parts(plan, n, opts)?));
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "// Generated by sel4-system from {}: the environment of {} {}. Do not edit.",
        plan.description,
        if names.len() == 1 {
            "component"
        } else {
            "components"
        },
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "/// The system's name.");
    let _ = writeln!(out, "pub const SYSTEM: &str = {};", rust_str(&plan.system));
    let _ = writeln!(out, "/// The components built from this code.");
    let _ = writeln!(
        out,
        "pub const COMPONENTS: &[&str] = &[{}];",
        names
            .iter()
            .map(|n| rust_str(n))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(out);
    for (c, p) in &parts {
        out.push_str(&component_consts(plan, c, p));
        let _ = writeln!(out);
    }
    if let [(c, _)] = parts.as_slice() {
        let _ = writeln!(out, "#[allow(unused_imports)]");
        let _ = writeln!(
            out,
            "pub use self::{}::{{caps, FREE_SLOTS, HEAP_SIZE, HEAP_START, NAME, PRIORITY, THREADS}};",
            c.name
        );
        let _ = writeln!(out);
    }
    let _ = writeln!(
        out,
        "/// The capabilities of this component, bound by a component runtime `R`."
    );
    let _ = writeln!(out, "pub struct Env<R: {e}::Runtime> {{");
    for (_, decl) in &parts[0].1.fields {
        out.push_str(decl);
    }
    let _ = writeln!(out, "}}");
    let _ = writeln!(out);
    let _ = writeln!(out, "impl<R: {e}::Runtime> Env<R> {{");
    let _ = writeln!(
        out,
        "    /// Binds every capability of the component `rt` runs through `rt`, once."
    );
    let _ = writeln!(out, "    #[allow(unused_variables)]");
    let _ = writeln!(
        out,
        "    pub fn bind(rt: &mut R) -> ::core::result::Result<Self, R::Error> {{"
    );
    let _ = writeln!(
        out,
        "        let this = COMPONENTS.iter().position(|c| *c == rt.component_name());"
    );
    let _ = writeln!(out, "        match this {{");
    for (i, (_, p)) in parts.iter().enumerate() {
        let _ = writeln!(
            out,
            "            ::core::option::Option::Some({i}) => ::core::result::Result::Ok(Env {{"
        );
        out.push_str(&p.binds);
        let _ = writeln!(out, "            }}),");
    }
    let _ = writeln!(
        out,
        "            _ => ::core::result::Result::Err(rt.unknown_component()),"
    );
    let _ = writeln!(out, "        }}");
    let _ = writeln!(out, "    }}");
    let _ = writeln!(out, "}}");
    Some(out)
}

/// The image table of a system: one entry per crate or ELF file (components
/// of one crate share it), in the order of the components' first use.
pub fn images(plan: &Plan) -> Vec<ImagePlan> {
    let mut v: Vec<ImagePlan> = Vec::new();
    for c in &plan.components {
        if !v.contains(&c.image) {
            v.push(c.image.clone());
        }
    }
    v
}

fn fault_action(a: crate::model::FaultAction, e: &str) -> String {
    let n = match a {
        crate::model::FaultAction::Restart => "Restart",
        crate::model::FaultAction::Stop => "Stop",
        crate::model::FaultAction::Halt => "Halt",
    };
    format!("{e}::plan::FaultAction::{n}")
}

/// The system plan as Rust, for the root task (`sel4_component_env::plan`):
/// `pub static PLAN: SystemPlan` and `pub static IMAGES: [&[u8]; N]` (each
/// an `include_bytes!` of `image_files[i]`, the built ELF of image `i` of
/// [`images`]). Nothing is left to parse at boot.
pub fn system_module(plan: &Plan, image_files: &[String], opts: &CodegenOptions) -> String {
    let e = &opts.env_crate;
    let imgs = images(plan);
    let comp_index = |n: &str| {
        plan.components
            .iter()
            .position(|c| c.name == n)
            .unwrap_or(0)
    };
    let chan_index = |n: &str| plan.channels.iter().position(|c| c.name == n).unwrap_or(0);
    let ntfn_index = |n: &str| {
        plan.notifications
            .iter()
            .position(|c| c.name == n)
            .unwrap_or(0)
    };
    let region_index = |n: &str| plan.regions.iter().position(|c| c.name == n).unwrap_or(0);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "// Generated by sel4-system from {}: the plan of system `{}` for its root task. Do not edit.",
        plan.description, plan.system
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "/// The components' images (one per crate or ELF file)."
    );
    let _ = writeln!(out, "pub static IMAGES: [&[u8]; {}] = [", imgs.len());
    for (i, _) in imgs.iter().enumerate() {
        let path = image_files.get(i).map(String::as_str).unwrap_or("");
        let _ = writeln!(out, "    include_bytes!({}),", rust_str(path));
    }
    let _ = writeln!(out, "];");
    let _ = writeln!(out);
    let _ = writeln!(out, "/// The system plan.");
    let _ = writeln!(
        out,
        "pub static PLAN: {e}::plan::SystemPlan = {e}::plan::SystemPlan {{"
    );
    let _ = writeln!(out, "    name: {},", rust_str(&plan.system));
    let _ = writeln!(out, "    components: &[");
    for c in &plan.components {
        let image = imgs.iter().position(|i| *i == c.image).unwrap_or(0);
        let _ = writeln!(out, "        {e}::plan::ComponentPlan {{");
        let _ = writeln!(out, "            name: {},", rust_str(&c.name));
        let _ = writeln!(out, "            image: {image},");
        let _ = writeln!(out, "            priority: {},", c.priority);
        let _ = writeln!(out, "            mcp: {},", c.mcp);
        match &c.mcs {
            Some(m) => {
                let _ = writeln!(
                    out,
                    "            mcs: Some({e}::plan::McsPlan {{ budget_us: {}, period_us: {} }}),",
                    m.budget_us, m.period_us
                );
            }
            None => {
                let _ = writeln!(out, "            mcs: None,");
            }
        }
        let _ = writeln!(out, "            budget: {:#x},", c.memory.budget);
        let _ = writeln!(
            out,
            "            fault: {e}::plan::FaultPolicy {{ action: {}, max_restarts: {}, backoff_ms: {}, backoff_max_ms: {}, then: {} }},",
            fault_action(c.fault.action, e),
            c.fault.max_restarts,
            c.fault.backoff_ms,
            c.fault.backoff_max_ms,
            fault_action(c.fault.then, e)
        );
        let _ = writeln!(out, "            report_badge: {},", c.report_badge);
        let _ = writeln!(out, "            threads: &[");
        for t in &c.threads {
            let bound = t
                .bound_notification
                .as_ref()
                .map_or("None".to_string(), |n| format!("Some({})", ntfn_index(n)));
            let _ = writeln!(
                out,
                "                {e}::plan::ThreadPlan {{ name: {}, priority: {}, stack_bottom: {:#x}, stack_size: {:#x}, ipc_buffer: {:#x}, fault_badge: {}, bound_notification: {bound} }},",
                rust_str(&t.name),
                t.priority,
                t.stack_bottom,
                t.stack_size,
                t.ipc_buffer,
                t.fault_badge
            );
        }
        let _ = writeln!(out, "            ],");
        let _ = writeln!(out, "            cspace_bits: {},", c.cspace.size_bits);
        let _ = writeln!(out, "            free_start: {},", c.cspace.free_start);
        let _ = writeln!(out, "            start_info: {:#x},", c.vspace.start_info);
        let _ = writeln!(out, "            heap_start: {:#x},", c.vspace.heap_start);
        let _ = writeln!(out, "            heap_size: {:#x},", c.vspace.heap_size);
        let _ = writeln!(out, "            caps: &[");
        for s in &c.slots {
            let line = match &s.cap {
                CapPlan::Client { channel, badge } => format!(
                    "Client {{ slot: {}, channel: {}, badge: {badge} }}",
                    s.slot,
                    chan_index(channel)
                ),
                CapPlan::Server { channel } => format!(
                    "Server {{ slot: {}, channel: {} }}",
                    s.slot,
                    chan_index(channel)
                ),
                CapPlan::Signal {
                    notification,
                    badge,
                } => format!(
                    "Signal {{ slot: {}, notification: {}, badge: {badge:#x} }}",
                    s.slot,
                    ntfn_index(notification)
                ),
                CapPlan::Wait { notification } => format!(
                    "Wait {{ slot: {}, notification: {} }}",
                    s.slot,
                    ntfn_index(notification)
                ),
                CapPlan::IoPorts { name, .. } => format!(
                    "IoPorts {{ slot: {}, ioport: {} }}",
                    s.slot,
                    plan.ioports
                        .iter()
                        .position(|p| p.component == c.name && &p.name == name)
                        .unwrap_or(0)
                ),
                CapPlan::IrqHandler { irq } => format!(
                    "IrqHandler {{ slot: {}, irq: {} }}",
                    s.slot,
                    plan.irqs
                        .iter()
                        .position(|i| i.component == c.name && &i.name == irq)
                        .unwrap_or(0)
                ),
                _ => continue,
            };
            let _ = writeln!(out, "                {e}::plan::CapPlan::{line},");
        }
        let _ = writeln!(out, "            ],");
        let _ = writeln!(out, "            mappings: &[");
        for m in &c.vspace.mappings {
            let _ = writeln!(
                out,
                "                {e}::plan::MappingPlan {{ region: {}, vaddr: {:#x}, writable: {}, executable: {}, cached: {} }},",
                region_index(&m.region),
                m.vaddr,
                m.perms.write,
                m.perms.execute,
                m.cached
            );
        }
        let _ = writeln!(out, "            ],");
        let _ = writeln!(out, "        }},");
    }
    let _ = writeln!(out, "    ],");
    let order: Vec<String> = plan
        .start_order
        .iter()
        .map(|n| comp_index(n).to_string())
        .collect();
    let _ = writeln!(out, "    start_order: &[{}],", order.join(", "));
    let _ = writeln!(out, "    channels: &[");
    for ch in &plan.channels {
        let clients: Vec<String> = ch
            .clients
            .iter()
            .map(|cl| format!("({}, {})", comp_index(&cl.component), cl.badge))
            .collect();
        let _ = writeln!(
            out,
            "        {e}::plan::ChannelPlan {{ name: {}, protocol: {}, server: {}, clients: &[{}] }},",
            rust_str(&ch.name),
            rust_str(&ch.protocol),
            comp_index(&ch.server),
            clients.join(", ")
        );
    }
    let _ = writeln!(out, "    ],");
    let _ = writeln!(out, "    notifications: &[");
    for n in &plan.notifications {
        let _ = writeln!(
            out,
            "        {e}::plan::NotificationPlan {{ name: {}, waiter: {} }},",
            rust_str(&n.name),
            comp_index(&n.waiter)
        );
    }
    let _ = writeln!(out, "    ],");
    let _ = writeln!(out, "    regions: &[");
    for r in &plan.regions {
        let phys = r
            .phys
            .map_or("None".to_string(), |p| format!("Some({p:#x})"));
        let _ = writeln!(
            out,
            "        {e}::plan::RegionPlan {{ name: {}, size: {:#x}, phys: {phys} }},",
            rust_str(&r.name),
            r.size
        );
    }
    let _ = writeln!(out, "    ],");
    let _ = writeln!(out, "    irqs: &[");
    for i in &plan.irqs {
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
        let _ = writeln!(
            out,
            "        {e}::plan::IrqPlan {{ component: {}, name: {}, source: {source}, notification: {}, badge: {:#x} }},",
            comp_index(&i.component),
            rust_str(&i.name),
            ntfn_index(&i.notification),
            i.badge
        );
    }
    let _ = writeln!(out, "    ],");
    let _ = writeln!(out, "    ioports: &[");
    for p in &plan.ioports {
        let _ = writeln!(
            out,
            "        {e}::plan::IoPortPlan {{ component: {}, name: {}, first: {:#x}, last: {:#x} }},",
            comp_index(&p.component),
            rust_str(&p.name),
            p.first,
            p.last
        );
    }
    let _ = writeln!(out, "    ],");
    let finish: Vec<String> = plan
        .finish
        .iter()
        .map(|n| comp_index(n).to_string())
        .collect();
    let _ = writeln!(out, "    finish: &[{}],", finish.join(", "));
    let _ = writeln!(out, "}};");
    out
}

/// `s` as the tail of a C macro name: upper case, anything but letters and
/// digits as `_`.
fn c_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// The environment of component `name` for a program in C (an `elf`
/// component): `#define`s of its capability slots, badges, threads and
/// address-space layout, from the plan (the C twin of the Rust environment
/// module; `sel4-system c-header`). The start contract itself (registers,
/// the start-info page, the exit report) is
/// `crates/component-env/c/sel4rs_start.h`. `None` if the plan has no such
/// component.
///
/// Names: `SEL4RS_CAP_<FIELD>` for each capability of the environment
/// (channel ends, notifications, I/O ports, IRQs) and
/// `SEL4RS_BADGE_<FIELD>` for a client end's or signaller's badge;
/// `SEL4RS_SLOT_CNODE`, `SEL4RS_SLOT_VSPACE`, `SEL4RS_SLOT_SUPERVISOR`;
/// per thread `SEL4RS_THREAD_<NAME>_TCB`, `.._IPC_BUFFER`,
/// `.._STACK_TOP`, and on MCS kernels `.._SCHED_CONTEXT` and `.._REPLY`;
/// per mapping `SEL4RS_MAP_<FIELD>_VADDR` and `.._SIZE`. An error names
/// a missing component, or two names that are one in C (names differing
/// only in case).
pub fn c_header(plan: &Plan, name: &str) -> Result<String, String> {
    let c = plan.component(name).ok_or_else(|| {
        let names: Vec<&str> = plan.components.iter().map(|c| c.name.as_str()).collect();
        format!("no component `{name}` (components: {})", names.join(", "))
    })?;
    let mut h = String::new();
    let guard = format!("SEL4RS_ENV_{}_H", c_name(&c.name));
    let _ = writeln!(
        h,
        "/*\n * The environment of component `{}` of system `{}`, generated by\n * `sel4-system c-header` from the system's plan: do not edit.\n * The start contract (registers, start-info page, exit report) is\n * sel4rs_start.h.\n */",
        c.name, plan.system
    );
    let _ = writeln!(h, "#ifndef {guard}\n#define {guard}\n");
    let _ = writeln!(h, "#define SEL4RS_COMPONENT_NAME {}", rust_str(&c.name));
    let _ = writeln!(h, "#define SEL4RS_REPORT_BADGE {:#x}ULL\n", c.report_badge);
    let _ = writeln!(h, "/* Capability slots of the component's CSpace. */");
    let define = |h: &mut String, what: String, value: u64, comment: String| {
        let _ = writeln!(h, "#define {what} {value} /* {comment} */");
    };
    for s in &c.slots {
        let (macro_name, comment, badge) = match (&s.field, &s.cap) {
            (_, CapPlan::CNode) => ("SLOT_CNODE".to_string(), "its root CNode".to_string(), None),
            (_, CapPlan::VSpace) => ("SLOT_VSPACE".into(), "its VSpace root".into(), None),
            (_, CapPlan::Supervisor { .. }) => (
                "SLOT_SUPERVISOR".into(),
                "the supervisor's endpoint (its reports)".into(),
                None,
            ),
            (_, CapPlan::Tcb { .. })
            | (_, CapPlan::FaultEndpoint { .. })
            | (_, CapPlan::SchedContext { .. })
            | (_, CapPlan::Reply { .. }) => continue,
            (Some(f), CapPlan::Client { channel, badge }) => (
                format!("CAP_{}", c_name(f)),
                format!("client end of channel `{channel}`"),
                Some(*badge),
            ),
            (Some(f), CapPlan::Server { channel }) => (
                format!("CAP_{}", c_name(f)),
                format!("server end of channel `{channel}` (receive)"),
                None,
            ),
            (
                Some(f),
                CapPlan::Signal {
                    notification,
                    badge,
                },
            ) => (
                format!("CAP_{}", c_name(f)),
                format!("signal end of notification `{notification}`"),
                Some(*badge),
            ),
            (Some(f), CapPlan::Wait { notification }) => (
                format!("CAP_{}", c_name(f)),
                format!("wait end of notification `{notification}`"),
                None,
            ),
            (Some(f), CapPlan::IoPorts { first, last, .. }) => {
                (c_name(f), format!("I/O ports {first:#x}..={last:#x}"), None)
            }
            (Some(f), CapPlan::IrqHandler { irq }) => (
                format!("CAP_{}", c_name(f)),
                format!("IRQ handler `{irq}`"),
                None,
            ),
            (None, _) => continue,
        };
        define(&mut h, format!("SEL4RS_{macro_name}"), s.slot, comment);
        if let Some(b) = badge {
            let field = macro_name.trim_start_matches("CAP_");
            let _ = writeln!(h, "#define SEL4RS_BADGE_{field} {b:#x}ULL");
        }
    }
    let _ = writeln!(
        h,
        "/* Free slots: [SEL4RS_FREE_START, SEL4RS_FREE_END). */\n#define SEL4RS_FREE_START {}\n#define SEL4RS_FREE_END {}\n",
        c.cspace.free_start, c.cspace.free_end
    );
    for t in &c.threads {
        let tn = c_name(&t.name);
        let _ = writeln!(h, "/* Thread `{}` (priority {}). */", t.name, t.priority);
        define(
            &mut h,
            format!("SEL4RS_THREAD_{tn}_TCB"),
            t.tcb_slot,
            "its TCB".into(),
        );
        if let Some(sc) = t.sched_context_slot {
            define(
                &mut h,
                format!("SEL4RS_THREAD_{tn}_SCHED_CONTEXT"),
                sc,
                "MCS: its scheduling context".into(),
            );
        }
        if let Some(r) = t.reply_slot {
            define(
                &mut h,
                format!("SEL4RS_THREAD_{tn}_REPLY"),
                r,
                "MCS: its reply object".into(),
            );
        }
        let _ = writeln!(
            h,
            "#define SEL4RS_THREAD_{tn}_IPC_BUFFER {:#x}ULL\n#define SEL4RS_THREAD_{tn}_STACK_TOP {:#x}ULL\n",
            t.ipc_buffer, t.stack_top
        );
    }
    let v = &c.vspace;
    let _ = writeln!(
        h,
        "/* Address space. */\n#define SEL4RS_START_INFO {:#x}ULL\n#define SEL4RS_HEAP_START {:#x}ULL\n#define SEL4RS_HEAP_SIZE {:#x}ULL",
        v.start_info, v.heap_start, v.heap_size
    );
    for m in &v.mappings {
        let f = c_name(&m.field);
        let _ = writeln!(
            h,
            "/* region `{}` */\n#define SEL4RS_MAP_{f}_VADDR {:#x}ULL\n#define SEL4RS_MAP_{f}_SIZE {:#x}ULL",
            m.region, m.vaddr, m.size
        );
    }
    let _ = writeln!(h, "\n#endif");
    // Names that differ only in case are one name in C.
    let mut seen = std::collections::BTreeSet::new();
    for line in h.lines() {
        let mut w = line.split_whitespace();
        if let (Some("#define"), Some(m)) = (w.next(), w.next()) {
            if !seen.insert(m) {
                return Err(format!(
                    "component `{name}`: two of its names become the C macro {m}: rename one (fields, threads and regions of a C component must differ in more than case)"
                ));
            }
        }
    }
    Ok(h)
}
