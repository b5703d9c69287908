//! The system plan as the root task holds it: `'static` tables the build
//! generates as Rust from the checked description (`sel4-system build`,
//! `sel4_sysdesc::codegen::system_module`), so nothing is parsed at boot.
//! The supervisor (`sel4_rootserver::supervisor`) instantiates a system
//! from it: the system's objects once (channel endpoints, notifications,
//! shared regions, interrupts, I/O ports), then each component as a
//! process with exactly the capabilities the plan names, in the slots and
//! at the addresses the plan chose (the same ones its generated
//! environment module names).
//!
//! Indices (`channel`, `component`, `region`, ...) are positions in the
//! system's tables.

use crate::{IrqSource, Slot};

/// A whole system.
#[derive(Debug)]
pub struct SystemPlan {
    /// The system's name (`[system] name`).
    pub name: &'static str,
    pub components: &'static [ComponentPlan],
    /// Component indices in start order: every server before its clients.
    pub start_order: &'static [usize],
    pub channels: &'static [ChannelPlan],
    pub notifications: &'static [NotificationPlan],
    pub regions: &'static [RegionPlan],
    pub irqs: &'static [IrqPlan],
    pub ioports: &'static [IoPortPlan],
    /// Components whose exit ends the system (`[system] finish`): once all
    /// of them exited, the supervisor's run is over. Empty: it runs on.
    pub finish: &'static [usize],
}

/// What happens when a component faults or panics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultAction {
    /// A fresh instance (image reloaded, same capabilities).
    Restart,
    /// The component is stopped; the system goes on.
    Stop,
    /// The system stops.
    Halt,
}

/// A component's fault policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultPolicy {
    pub action: FaultAction,
    /// Restarts allowed before `then` applies.
    pub max_restarts: u64,
    /// Delay before the first restart (ms), doubled for each further one.
    pub backoff_ms: u64,
    /// Upper bound of the delay (ms).
    pub backoff_max_ms: u64,
    /// When the restarts are used up: [`FaultAction::Stop`] or
    /// [`FaultAction::Halt`].
    pub then: FaultAction,
}

/// One component.
#[derive(Debug)]
pub struct ComponentPlan {
    pub name: &'static str,
    /// Index of its image in the system's image table (one per crate or
    /// ELF file: components of one crate share it).
    pub image: usize,
    /// Main thread's priority and the threads' maximum controlled priority.
    pub priority: u8,
    pub mcp: u8,
    /// Bytes of untyped memory for everything the component holds.
    pub budget: u64,
    pub fault: FaultPolicy,
    /// Badge of its report capability (slot `slot::SUPERVISOR`).
    pub report_badge: u64,
    /// Threads, main thread first.
    pub threads: &'static [ThreadPlan],
    /// log2 of its CSpace's slots; the first free slot.
    pub cspace_bits: u8,
    pub free_start: Slot,
    /// Where its start-info page is mapped.
    pub start_info: u64,
    /// Its heap region.
    pub heap_start: u64,
    pub heap_size: u64,
    /// The capabilities its environment names, with their slots.
    pub caps: &'static [CapPlan],
    /// Shared regions and device frames it maps.
    pub mappings: &'static [MappingPlan],
}

impl ComponentPlan {
    /// Whether it serves a channel (it may then hold a caller's reply when
    /// it faults).
    pub fn serves(&self) -> bool {
        self.caps
            .iter()
            .any(|c| matches!(c, CapPlan::Server { .. }))
    }
}

/// One thread of a component.
#[derive(Debug)]
pub struct ThreadPlan {
    pub name: &'static str,
    pub priority: u8,
    /// Lowest address of the stack (the guard page is below) and its size.
    pub stack_bottom: u64,
    pub stack_size: u64,
    pub ipc_buffer: u64,
    /// Badge of its fault endpoint: names the thread to the supervisor.
    pub fault_badge: u64,
    /// The notification bound to it, if any.
    pub bound_notification: Option<usize>,
}

/// A capability of a component's environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapPlan {
    /// The channel's endpoint, minted with the client's badge (send and
    /// grant-reply rights; the server's generation in the badge's high
    /// bits, `crate::badge`).
    Client {
        slot: Slot,
        channel: usize,
        badge: u64,
    },
    /// The channel's endpoint (receive right).
    Server { slot: Slot, channel: usize },
    /// The notification minted with `badge` (send right).
    Signal {
        slot: Slot,
        notification: usize,
        badge: u64,
    },
    /// The notification (receive right).
    Wait { slot: Slot, notification: usize },
    /// An I/O port range.
    IoPorts { slot: Slot, ioport: usize },
    /// An IRQ handler.
    IrqHandler { slot: Slot, irq: usize },
}

/// A channel: an endpoint the supervisor makes and keeps (it outlives the
/// instances of its server and clients).
#[derive(Debug)]
pub struct ChannelPlan {
    pub name: &'static str,
    /// Rust path of the protocol (for messages).
    pub protocol: &'static str,
    pub server: usize,
    /// (component, badge) of each client.
    pub clients: &'static [(usize, u64)],
}

/// A notification the supervisor makes and keeps.
#[derive(Debug)]
pub struct NotificationPlan {
    pub name: &'static str,
    pub waiter: usize,
}

/// A shared region: frames the supervisor makes (RAM) or finds (device
/// memory at `phys`) once and maps into each component that names it.
#[derive(Debug)]
pub struct RegionPlan {
    pub name: &'static str,
    /// Bytes, a multiple of the page size.
    pub size: u64,
    pub phys: Option<u64>,
}

/// A region as one component maps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MappingPlan {
    pub region: usize,
    pub vaddr: u64,
    pub writable: bool,
    pub executable: bool,
    pub cached: bool,
}

/// An interrupt: the supervisor gets its handler from the IRQ control
/// capability once, binds it to `notification` minted with `badge`, and
/// grants the handler to `component`.
#[derive(Debug)]
pub struct IrqPlan {
    pub component: usize,
    pub name: &'static str,
    pub source: IrqSource,
    pub notification: usize,
    pub badge: u64,
}

/// An I/O port range the supervisor issues once.
#[derive(Debug)]
pub struct IoPortPlan {
    pub component: usize,
    pub name: &'static str,
    pub first: u16,
    pub last: u16,
}

impl SystemPlan {
    /// The index of the component named `name`.
    pub fn component_index(&self, name: &str) -> Option<usize> {
        self.components.iter().position(|c| c.name == name)
    }
}
