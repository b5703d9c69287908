//! The resolved system plan: everything the root task needs to instantiate
//! the system, and everything the build needs to generate each component's
//! environment. Made by [`crate::resolve`] from a valid description;
//! serialised as JSON (`sel4-system plan`). Field by field documentation:
//! `docs/system-description.md`, section "The plan".

use serde::{Deserialize, Serialize};

use crate::model::{Arch, FaultAction, Perms, Polarity, Trigger};

/// Version of the plan's JSON layout.
pub const PLAN_FORMAT: u32 = 1;

/// Priority the supervisor (root task) runs at; components run at most one
/// below, so a component that spins cannot starve fault handling.
pub const SUPERVISOR_PRIORITY: u8 = 255;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub format: u32,
    pub system: String,
    pub arch: Arch,
    /// The description file the plan was made from.
    pub description: String,
    /// The kernel the sizes were taken from (`None`: no kernel was given,
    /// so the memory figures that need object sizes are absent).
    pub kernel: Option<KernelSummary>,
    pub supervisor_priority: u8,
    /// Components, in the description's order; `id` is the index.
    pub components: Vec<ComponentPlan>,
    /// Component names in the order to start them: every server before its
    /// clients; otherwise the description's order.
    pub start_order: Vec<String>,
    pub channels: Vec<ChannelPlan>,
    pub notifications: Vec<NotificationPlan>,
    pub regions: Vec<RegionPlan>,
    pub irqs: Vec<IrqPlan>,
    pub ioports: Vec<IoPortPlan>,
    /// Components whose exit ends the system run (`[system] finish`).
    pub finish: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelSummary {
    pub version: String,
    pub mcs: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ImagePlan {
    /// Built from a package of the workspace.
    Crate { package: String },
    /// A prebuilt ELF (absolute path).
    Elf { path: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentPlan {
    pub id: usize,
    pub name: String,
    pub image: ImagePlan,
    /// Priority of the main thread (0..=254).
    pub priority: u8,
    /// Maximum controlled priority of every thread of the component.
    pub mcp: u8,
    pub mcs: Option<McsPlan>,
    pub fault: FaultPlan,
    /// Badge of this component's supervisor capability (slot
    /// `sel4_component_env::slot::SUPERVISOR`).
    pub report_badge: u64,
    /// Threads, main thread first.
    pub threads: Vec<ThreadPlan>,
    pub cspace: CSpacePlan,
    /// Every filled slot of the component's CSpace, in slot order.
    pub slots: Vec<SlotPlan>,
    pub vspace: VSpacePlan,
    pub memory: MemoryPlan,
    /// Components this one calls (servers of its client ends).
    pub calls: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct McsPlan {
    pub budget_us: u64,
    pub period_us: u64,
    /// No scheduling context of its own: runs on its clients' donated time.
    pub passive: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultPlan {
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadPlan {
    pub name: String,
    pub priority: u8,
    /// Stack size in bytes (page multiple); a guard page lies below.
    pub stack_size: u64,
    /// Lowest address of the stack.
    pub stack_bottom: u64,
    /// Initial stack pointer (the stack's end).
    pub stack_top: u64,
    /// The thread's IPC buffer page.
    pub ipc_buffer: u64,
    pub tcb_slot: u64,
    pub fault_endpoint_slot: u64,
    /// Badge of the fault endpoint: names this thread to the supervisor
    /// (unique in the system).
    pub fault_badge: u64,
    /// MCS: scheduling context and reply object slots.
    pub sched_context_slot: Option<u64>,
    pub reply_slot: Option<u64>,
    /// The notification bound to this thread, if any.
    pub bound_notification: Option<String>,
}

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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotPlan {
    pub slot: u64,
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
    #[serde(rename = "cnode")]
    CNode,
    #[serde(rename = "vspace")]
    VSpace,
    /// The supervisor's endpoint, badged `badge` (send only).
    Supervisor {
        badge: u64,
    },
    Tcb {
        thread: String,
    },
    /// The supervisor's endpoint as the thread's fault endpoint.
    FaultEndpoint {
        thread: String,
        badge: u64,
    },
    SchedContext {
        thread: String,
    },
    Reply {
        thread: String,
    },
    /// Channel endpoint minted with `badge` (send + grant-reply rights).
    Client {
        channel: String,
        badge: u64,
    },
    /// Channel endpoint with receive rights (unbadged).
    Server {
        channel: String,
    },
    /// Notification minted with `badge` (send right only).
    Signal {
        notification: String,
        badge: u64,
    },
    /// Notification with receive rights (unbadged).
    Wait {
        notification: String,
    },
    /// I/O port range `first..=last` (x86).
    IoPorts {
        name: String,
        first: u16,
        last: u16,
    },
    /// IRQ handler, bound by the root task to its notification.
    IrqHandler {
        irq: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VSpacePlan {
    /// Where a position-independent image is loaded; the image must end
    /// below `image_limit`.
    pub image_base: u64,
    pub image_limit: u64,
    /// The start-info page (read-only), first above `image_limit`.
    pub start_info: u64,
    /// Heap: `heap_size` bytes at `heap_start` (0 bytes: no heap mapping).
    pub heap_start: u64,
    pub heap_size: u64,
    pub mappings: Vec<MappingPlan>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappingPlan {
    pub region: String,
    pub field: String,
    pub vaddr: u64,
    pub size: u64,
    pub perms: Perms,
    pub cached: bool,
    /// Physical address of device frames (`None`: RAM).
    pub phys: Option<u64>,
}

/// Bytes of untyped memory a component's objects take, by kind. Kinds whose
/// size needs a figure not known yet (the image before it is built, kernel
/// objects without a kernel) are `None`, and `total` is then a lower bound.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryPlan {
    pub budget: u64,
    /// Frames of the loaded image (page-rounded load range).
    pub image: Option<u64>,
    pub stacks: u64,
    pub ipc_buffers: u64,
    pub heap: u64,
    /// RAM regions this component owns (pays for).
    pub regions: u64,
    /// Paging structures (without the VSpace root).
    pub paging: Option<u64>,
    pub vspace_root: Option<u64>,
    pub cnode: Option<u64>,
    pub tcbs: Option<u64>,
    /// Endpoints of the channels it serves.
    pub endpoints: Option<u64>,
    /// Notifications it waits on.
    pub notifications: Option<u64>,
    /// MCS scheduling contexts and reply objects.
    pub sched_contexts: Option<u64>,
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelPlan {
    pub name: String,
    /// Rust type path of the protocol.
    pub protocol: String,
    pub server: String,
    pub server_slot: u64,
    pub server_field: String,
    pub clients: Vec<ClientPlan>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientPlan {
    pub component: String,
    /// Unique in the channel, never 0, below 2^(endpoint badge bits).
    pub badge: u64,
    pub slot: u64,
    pub field: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationPlan {
    pub name: String,
    pub waiter: String,
    pub wait_slot: u64,
    /// `None` for a notification made for an interrupt of its own.
    pub wait_field: Option<String>,
    /// Thread of the waiter it is bound to.
    pub bound_thread: Option<String>,
    /// Everything that signals it; badges are disjoint bit sets (with
    /// `sel4_component_env::SIGNAL_MARK` added when bound).
    pub sources: Vec<SignalPlan>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SignalPlan {
    Component {
        component: String,
        badge: u64,
        slot: u64,
        field: String,
    },
    Irq {
        irq: String,
        badge: u64,
    },
}

impl SignalPlan {
    pub fn badge(&self) -> u64 {
        match self {
            SignalPlan::Component { badge, .. } | SignalPlan::Irq { badge, .. } => *badge,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionPlan {
    pub name: String,
    pub size: u64,
    pub page_size: u64,
    pub phys: Option<u64>,
    pub cached: bool,
    /// Who pays for the frames (`None` for device frames).
    pub owner: Option<String>,
    /// (component, vaddr, perms) of each mapping.
    pub mappings: Vec<RegionMapping>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionMapping {
    pub component: String,
    pub field: String,
    pub vaddr: u64,
    pub perms: Perms,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum IrqSourcePlan {
    IoApic {
        ioapic: u64,
        pin: u64,
        trigger: Trigger,
        polarity: Polarity,
        vector: u64,
    },
    Msi {
        bus: u64,
        device: u64,
        function: u64,
        handle: u64,
        vector: u64,
    },
    Line {
        irq: u64,
        trigger: Trigger,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IrqPlan {
    pub component: String,
    pub name: String,
    pub source: IrqSourcePlan,
    pub handler_slot: u64,
    pub notification: String,
    pub notification_slot: u64,
    pub badge: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IoPortPlan {
    pub component: String,
    pub name: String,
    pub first: u16,
    pub last: u16,
    pub slot: u64,
}

impl Plan {
    pub fn component(&self, name: &str) -> Option<&ComponentPlan> {
        self.components.iter().find(|c| c.name == name)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a plan always serialises")
    }

    pub fn from_json(text: &str) -> Result<Plan, serde_json::Error> {
        serde_json::from_str(text)
    }
}
