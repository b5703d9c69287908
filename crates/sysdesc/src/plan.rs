//! The resolved system plan: everything the root task needs to instantiate
//! the system, and everything the build needs to generate each component's
//! environment. Made by [`check()`](crate::check()) from a valid description;
//! serialised as JSON (`sel4-system plan`). Field by field documentation:
//! `docs/system-description.md`, section "The plan".

use serde::{Deserialize, Serialize};

use crate::model::{Arch, FaultAction, Perms, Polarity, Trigger};

/// Version of the plan's JSON layout.
pub const PLAN_FORMAT: u32 = 1;

/// Priority the supervisor (root task) runs at; components run at most one
/// below, so a component that spins cannot starve fault handling.
pub const SUPERVISOR_PRIORITY: u8 = 255;

/// The resolved system: what `sel4-system plan` writes as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Version of the JSON layout ([`PLAN_FORMAT`]).
    pub format: u32,
    /// The system's name (`[system] name`).
    pub system: String,
    /// The architecture (`[system] arch`).
    pub arch: Arch,
    /// The description file the plan was made from.
    pub description: String,
    /// The kernel the sizes were taken from (`None`: no kernel was given,
    /// so the memory figures that need object sizes are absent).
    pub kernel: Option<KernelSummary>,
    /// Priority of the supervisor ([`SUPERVISOR_PRIORITY`]).
    pub supervisor_priority: u8,
    /// Components, in the description's order; `id` is the index.
    pub components: Vec<ComponentPlan>,
    /// Component names in the order to start them: every server before its
    /// clients; otherwise the description's order.
    pub start_order: Vec<String>,
    /// Channels (endpoints), in the description's order.
    pub channels: Vec<ChannelPlan>,
    /// Notifications, in the description's order (an interrupt's own ones included).
    pub notifications: Vec<NotificationPlan>,
    /// Shared memory and device regions, in the description's order.
    pub regions: Vec<RegionPlan>,
    /// Interrupts of every component.
    pub irqs: Vec<IrqPlan>,
    /// I/O port ranges of every component (x86).
    pub ioports: Vec<IoPortPlan>,
    /// Components whose exit ends the system run (`[system] finish`).
    pub finish: Vec<String>,
}

/// The kernel the plan was made for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelSummary {
    /// The kernel's version (`sel4-kernel.json`).
    pub version: String,
    /// Whether it is an MCS kernel.
    pub mcs: bool,
}

/// Where a component's image comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ImagePlan {
    /// Built from a package of the workspace.
    Crate {
        /// The package's name.
        package: String,
    },
    /// A prebuilt ELF (absolute path).
    Elf {
        /// The file's absolute path.
        path: String,
    },
}

/// One component: its threads, capabilities, address space and memory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentPlan {
    /// Index in [`Plan::components`].
    pub id: usize,
    /// The component's name (`[components.NAME]`).
    pub name: String,
    /// Where its image comes from.
    pub image: ImagePlan,
    /// Priority of the main thread (0..=254).
    pub priority: u8,
    /// Maximum controlled priority of every thread of the component.
    pub mcp: u8,
    /// MCS kernels: the main thread's budget and period (`None`: round robin defaults).
    pub mcs: Option<McsPlan>,
    /// What the supervisor does when a thread of the component faults.
    pub fault: FaultPlan,
    /// Badge of this component's supervisor capability (slot
    /// `sel4_component_env::slot::SUPERVISOR`).
    pub report_badge: u64,
    /// Threads, main thread first.
    pub threads: Vec<ThreadPlan>,
    /// The component's root CNode.
    pub cspace: CSpacePlan,
    /// Every filled slot of the component's CSpace, in slot order.
    pub slots: Vec<SlotPlan>,
    /// The component's address space.
    pub vspace: VSpacePlan,
    /// Untyped memory its objects take, by kind.
    pub memory: MemoryPlan,
    /// Components this one calls (servers of its client ends).
    pub calls: Vec<String>,
}

/// MCS scheduling parameters of a component (`mcs = { .. }`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct McsPlan {
    /// Budget per period, in microseconds.
    pub budget_us: u64,
    /// Period, in microseconds.
    pub period_us: u64,
    /// No scheduling context of its own: runs on its clients' donated time.
    pub passive: bool,
}

/// The fault policy (`fault = ..`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultPlan {
    /// What happens on a fault: restart, stop or halt.
    pub action: FaultAction,
    /// Restarts allowed before `then` applies (0 unless `action` is restart).
    pub max_restarts: u64,
    /// Delay before the first restart; doubled for each further restart.
    pub backoff_ms: u64,
    /// Upper bound of the delay.
    pub backoff_max_ms: u64,
    /// What happens when the restarts are used up: stop or halt.
    pub then: FaultAction,
}

/// One thread of a component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadPlan {
    /// The thread's name (`main` for the first).
    pub name: String,
    /// Its priority (0..=254).
    pub priority: u8,
    /// Stack size in bytes (page multiple); a guard page lies below.
    pub stack_size: u64,
    /// Lowest address of the stack.
    pub stack_bottom: u64,
    /// Initial stack pointer (the stack's end).
    pub stack_top: u64,
    /// The thread's IPC buffer page.
    pub ipc_buffer: u64,
    /// Slot of its TCB in the component's CSpace.
    pub tcb_slot: u64,
    /// Slot of its fault endpoint (the supervisor's endpoint, badged with `fault_badge`).
    pub fault_endpoint_slot: u64,
    /// Badge of the fault endpoint: names this thread to the supervisor
    /// (unique in the system).
    pub fault_badge: u64,
    /// MCS: slot of its scheduling context.
    pub sched_context_slot: Option<u64>,
    /// MCS: slot of its reply object.
    pub reply_slot: Option<u64>,
    /// The notification bound to this thread, if any.
    pub bound_notification: Option<String>,
}

/// Shape of a component's root CNode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CSpacePlan {
    /// log2 of the root CNode's slot count.
    pub size_bits: u32,
    /// Guard bits (so that a full word resolves: word bits - size_bits),
    /// guard value 0.
    pub guard_bits: u32,
    /// First free slot (after every filled one).
    pub free_start: u64,
    /// One past the last slot.
    pub free_end: u64,
}

/// One filled slot of a component's CSpace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotPlan {
    /// The slot index.
    pub slot: u64,
    /// What it holds.
    pub cap: CapPlan,
    /// Field of the component's environment that holds this capability.
    pub field: Option<String>,
}

/// What a slot holds. Object owners: an endpoint belongs to its server, a
/// notification to its waiter; everything else of a component belongs to
/// it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CapPlan {
    /// The component's root CNode.
    #[serde(rename = "cnode")]
    CNode,
    /// The component's VSpace root.
    #[serde(rename = "vspace")]
    VSpace,
    /// The supervisor's endpoint, badged `badge` (send only).
    Supervisor {
        /// The component's report badge ([`ComponentPlan::report_badge`]).
        badge: u64,
    },
    /// The TCB of a thread.
    Tcb {
        /// The thread's name.
        thread: String,
    },
    /// The supervisor's endpoint as the thread's fault endpoint.
    FaultEndpoint {
        /// The thread's name.
        thread: String,
        /// The thread's fault badge ([`ThreadPlan::fault_badge`]).
        badge: u64,
    },
    /// MCS: the scheduling context of a thread.
    SchedContext {
        /// The thread's name.
        thread: String,
    },
    /// MCS: the reply object of a thread.
    Reply {
        /// The thread's name.
        thread: String,
    },
    /// Channel endpoint minted with `badge` (send + grant-reply rights).
    Client {
        /// The channel's name.
        channel: String,
        /// The client's badge, unique in the channel.
        badge: u64,
    },
    /// Channel endpoint with receive rights (unbadged).
    Server {
        /// The channel's name.
        channel: String,
    },
    /// Notification minted with `badge` (send right only).
    Signal {
        /// The notification's name.
        notification: String,
        /// The signaller's badge bits.
        badge: u64,
    },
    /// Notification with receive rights (unbadged).
    Wait {
        /// The notification's name.
        notification: String,
    },
    /// I/O port range `first..=last` (x86).
    IoPorts {
        /// The range's name (`ioports = [{ name, .. }]`).
        name: String,
        /// First port of the range.
        first: u16,
        /// Last port of the range (inclusive).
        last: u16,
    },
    /// IRQ handler, bound by the root task to its notification.
    IrqHandler {
        /// The interrupt's name (`irqs = [{ name, .. }]`).
        irq: String,
    },
}

/// Layout of a component's address space.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VSpacePlan {
    /// Where a position-independent image is loaded; the image must end
    /// below `image_limit`.
    pub image_base: u64,
    /// End of the window for the image (exclusive).
    pub image_limit: u64,
    /// The start-info page (read-only), first above `image_limit`.
    pub start_info: u64,
    /// Heap: `heap_size` bytes at `heap_start` (0 bytes: no heap mapping).
    pub heap_start: u64,
    /// Heap size in bytes.
    pub heap_size: u64,
    /// Mappings of shared and device regions.
    pub mappings: Vec<MappingPlan>,
}

/// One region mapped into a component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappingPlan {
    /// The region's name.
    pub region: String,
    /// Field of the component's environment that describes the mapping.
    pub field: String,
    /// Virtual address of the mapping.
    pub vaddr: u64,
    /// Its size in bytes (the region's size).
    pub size: u64,
    /// Access rights.
    pub perms: Perms,
    /// Whether the mapping is cacheable.
    pub cached: bool,
    /// Physical address of device frames (`None`: RAM).
    pub phys: Option<u64>,
}

/// Bytes of untyped memory a component's objects take, by kind. Kinds whose
/// size needs a figure not known yet (the image before it is built, kernel
/// objects without a kernel) are `None`, and `total` is then a lower bound.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryPlan {
    /// The component's `budget` in bytes (what it may take).
    pub budget: u64,
    /// Frames of the loaded image (page-rounded load range).
    pub image: Option<u64>,
    /// Stacks of all its threads.
    pub stacks: u64,
    /// IPC buffer pages of all its threads.
    pub ipc_buffers: u64,
    /// Heap frames.
    pub heap: u64,
    /// RAM regions this component owns (pays for).
    pub regions: u64,
    /// Paging structures (without the VSpace root).
    pub paging: Option<u64>,
    /// The VSpace root object.
    pub vspace_root: Option<u64>,
    /// The root CNode object.
    pub cnode: Option<u64>,
    /// TCBs of its threads.
    pub tcbs: Option<u64>,
    /// Endpoints of the channels it serves.
    pub endpoints: Option<u64>,
    /// Notifications it waits on.
    pub notifications: Option<u64>,
    /// MCS scheduling contexts and reply objects.
    pub sched_contexts: Option<u64>,
    /// MCS: its reply objects.
    pub replies: Option<u64>,
    /// The start-info page and the notifications of the component
    /// runtime's locks.
    pub runtime: Option<u64>,
    /// The loader's CNode of the root task where the capabilities of the
    /// component's frames and paging structures are kept.
    pub loader: Option<u64>,
    /// Sum of the known figures.
    pub total: u64,
    /// Every figure was known.
    pub complete: bool,
}

/// One channel: an endpoint, its server and its clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelPlan {
    /// The channel's name (`[channels.NAME]`).
    pub name: String,
    /// Rust type path of the protocol.
    pub protocol: String,
    /// The server component.
    pub server: String,
    /// Slot of the unbadged endpoint (receive rights) in the server's CSpace.
    pub server_slot: u64,
    /// Field of the server's environment that holds it.
    pub server_field: String,
    /// Each client, with its badge.
    pub clients: Vec<ClientPlan>,
}

/// One client of a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientPlan {
    /// The client component.
    pub component: String,
    /// Unique in the channel, never 0, below 2^(endpoint badge bits).
    pub badge: u64,
    /// Slot of its badged endpoint capability in the client's CSpace.
    pub slot: u64,
    /// Field of the client's environment that holds it.
    pub field: String,
}

/// One notification: its waiter and everything that signals it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationPlan {
    /// The notification's name (`[notifications.NAME]`, or `component.irq` for an interrupt's own).
    pub name: String,
    /// The component that waits on it (owns it).
    pub waiter: String,
    /// Slot of the unbadged capability in the waiter's CSpace.
    pub wait_slot: u64,
    /// `None` for a notification made for an interrupt of its own.
    pub wait_field: Option<String>,
    /// Thread of the waiter it is bound to.
    pub bound_thread: Option<String>,
    /// Everything that signals it; badges are disjoint bit sets (with
    /// `sel4_component_env::SIGNAL_MARK` added when bound).
    pub sources: Vec<SignalPlan>,
}

/// Something that signals a notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SignalPlan {
    /// A component holding a badged capability to it.
    Component {
        /// The signalling component.
        component: String,
        /// The badge bits it signals.
        badge: u64,
        /// Slot of the capability in its CSpace.
        slot: u64,
        /// Field of its environment that holds the capability.
        field: String,
    },
    /// An interrupt delivered to it.
    Irq {
        /// The interrupt's name (`component.irq`).
        irq: String,
        /// The badge bits it signals.
        badge: u64,
    },
}

impl SignalPlan {
    /// The badge bits this source signals.
    pub fn badge(&self) -> u64 {
        match self {
            SignalPlan::Component { badge, .. } | SignalPlan::Irq { badge, .. } => *badge,
        }
    }
}

/// One memory region (`[regions.NAME]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionPlan {
    /// The region's name.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// The frame size it is made of (4 KiB).
    pub page_size: u64,
    /// Physical address of device frames (`None`: RAM from the owner's budget).
    pub phys: Option<u64>,
    /// Whether its mappings are cacheable.
    pub cached: bool,
    /// Who pays for the frames (`None` for device frames).
    pub owner: Option<String>,
    /// (component, vaddr, perms) of each mapping.
    pub mappings: Vec<RegionMapping>,
}

/// One mapping of a region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionMapping {
    /// The component it is mapped into.
    pub component: String,
    /// Field of the component's environment that describes it.
    pub field: String,
    /// Virtual address of the mapping.
    pub vaddr: u64,
    /// Access rights.
    pub perms: Perms,
}

/// Where an interrupt comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum IrqSourcePlan {
    /// An x86 I/O APIC pin.
    IoApic {
        /// Index of the I/O APIC.
        ioapic: u64,
        /// Pin on that I/O APIC.
        pin: u64,
        /// Level or edge triggered.
        trigger: Trigger,
        /// Active high or low.
        polarity: Polarity,
        /// CPU vector the kernel delivers it on.
        vector: u64,
    },
    /// An x86 MSI of a PCI function.
    Msi {
        /// PCI bus.
        bus: u64,
        /// PCI device.
        device: u64,
        /// PCI function.
        function: u64,
        /// The MSI handle passed to the kernel (`seL4_IRQControl_GetMSI`'s `handle`).
        handle: u64,
        /// CPU vector the kernel delivers it on.
        vector: u64,
    },
    /// An interrupt number of the platform's interrupt controller (aarch64, riscv64).
    Line {
        /// The interrupt number.
        irq: u64,
        /// Level or edge triggered.
        trigger: Trigger,
    },
}

/// One interrupt of a component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IrqPlan {
    /// The component that handles it.
    pub component: String,
    /// The interrupt's name (`irqs = [{ name, .. }]`).
    pub name: String,
    /// Where it comes from.
    pub source: IrqSourcePlan,
    /// Slot of the IRQ handler capability in the component's CSpace.
    pub handler_slot: u64,
    /// The notification it is delivered to.
    pub notification: String,
    /// Slot of that notification (receive rights) in the component's CSpace.
    pub notification_slot: u64,
    /// The badge bits it signals on that notification.
    pub badge: u64,
}

/// One I/O port range of a component (x86).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IoPortPlan {
    /// The component.
    pub component: String,
    /// The range's name (`ioports = [{ name, .. }]`).
    pub name: String,
    /// First port.
    pub first: u16,
    /// Last port (inclusive).
    pub last: u16,
    /// Slot of the I/O port capability in the component's CSpace.
    pub slot: u64,
}

impl Plan {
    /// The component called `name`.
    pub fn component(&self, name: &str) -> Option<&ComponentPlan> {
        self.components.iter().find(|c| c.name == name)
    }

    /// The plan as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a plan always serialises")
    }

    /// Parses a plan from JSON (as [`Plan::to_json`] writes it).
    pub fn from_json(text: &str) -> Result<Plan, serde_json::Error> {
        serde_json::from_str(text)
    }
}
