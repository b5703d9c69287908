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
    /// Every component, in the description's order: a component's index
    /// here is its number everywhere else in the plan.
    pub components: &'static [ComponentPlan],
    /// Component indices in start order: every server before its clients.
    pub start_order: &'static [usize],
    /// Channels (one endpoint each), in the description's order; indexed
    /// by [`CapPlan::Client::channel`] and [`CapPlan::Server::channel`].
    pub channels: &'static [ChannelPlan],
    /// Notifications, in the description's order (an interrupt's own ones
    /// included); indexed by [`CapPlan::Signal::notification`],
    /// [`CapPlan::Wait::notification`], [`IrqPlan::notification`] and
    /// [`ThreadPlan::bound_notification`].
    pub notifications: &'static [NotificationPlan],
    /// Shared memory and device regions, in the description's order;
    /// indexed by [`MappingPlan::region`].
    pub regions: &'static [RegionPlan],
    /// Interrupts of every component; indexed by
    /// [`CapPlan::IrqHandler::irq`].
    pub irqs: &'static [IrqPlan],
    /// I/O port ranges of every component (x86); indexed by
    /// [`CapPlan::IoPorts::ioport`].
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
    /// What the supervisor does at a fault or panic while restarts are
    /// left (`fault = ..` of the description).
    pub action: FaultAction,
    /// Restarts allowed before `then` applies (0 unless `action` is
    /// [`FaultAction::Restart`]).
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
    /// The component's name (`[components.NAME]`): the supervisor's log
    /// lines and [`SystemPlan::component_index`] use it.
    pub name: &'static str,
    /// Index of its image in the system's image table (one per crate or
    /// ELF file: components of one crate share it).
    pub image: usize,
    /// Priority of the main thread (0..=254, below the supervisor's 255).
    pub priority: u8,
    /// Maximum controlled priority of every thread of the component: the
    /// highest priority it may give a thread it makes.
    pub mcp: u8,
    /// MCS kernels: the budget and period of each of its threads'
    /// scheduling contexts (`mcs = { budget_us, period_us }`); `None`: the
    /// framework's default (round robin, `sel4_rootserver::sched::Budget::DEFAULT`).
    /// Ignored on other kernels.
    pub mcs: Option<McsPlan>,
    /// Bytes of untyped memory for everything the component holds (the
    /// supervisor gives each instance an untyped of the next power of two,
    /// at least a page).
    pub budget: u64,
    /// What the supervisor does when the component faults or panics.
    pub fault: FaultPolicy,
    /// Badge of its report capability (slot `slot::SUPERVISOR`, the
    /// supervisor's event endpoint): names the component in its panic and
    /// exit messages; unique in the system.
    pub report_badge: u64,
    /// Threads, main thread first.
    pub threads: &'static [ThreadPlan],
    /// log2 of the number of slots of its root CNode.
    pub cspace_bits: u8,
    /// First slot of its CSpace after every slot the plan fills (the
    /// environment's capabilities, TCBs, fault endpoints, ...).
    pub free_start: Slot,
    /// Virtual address of its start-info page (read-only, right above
    /// the image's window; `crate::start`).
    pub start_info: u64,
    /// Virtual address of its heap's first byte (used only when
    /// `heap_size` is not 0).
    pub heap_start: u64,
    /// Bytes of heap mapped at `heap_start` (0: no heap mapping).
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

/// The MCS scheduling parameters of a component (`mcs = { .. }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct McsPlan {
    /// Microseconds each thread may run per period.
    pub budget_us: u64,
    /// The period in microseconds (at least the budget; equal: round
    /// robin with a time slice of the budget).
    pub period_us: u64,
}

/// One thread of a component.
#[derive(Debug)]
pub struct ThreadPlan {
    /// The thread's name (`main` for the first): names it in the
    /// supervisor's fault log lines.
    pub name: &'static str,
    /// Its priority (0..=254, at most the component's `mcp`).
    pub priority: u8,
    /// Lowest address of the stack (page aligned; the guard page is the
    /// page below).
    pub stack_bottom: u64,
    /// Bytes of stack (a multiple of the page size) from `stack_bottom`.
    pub stack_size: u64,
    /// Virtual address of the thread's IPC buffer page.
    pub ipc_buffer: u64,
    /// Badge of its fault endpoint (the supervisor's event endpoint):
    /// names the component and thread to the supervisor; unique in the
    /// system.
    pub fault_badge: u64,
    /// The notification bound to it, if any (index in
    /// [`SystemPlan::notifications`]).
    pub bound_notification: Option<usize>,
}

/// A capability of a component's environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapPlan {
    /// The channel's endpoint, minted with the client's badge (send and
    /// grant-reply rights; the server's generation in the badge's high
    /// bits, `crate::badge`).
    Client {
        /// Slot in the client's CSpace (the one its environment names).
        slot: Slot,
        /// Index in [`SystemPlan::channels`].
        channel: usize,
        /// The client's badge, unique in the channel and never 0, without
        /// the generation bits (the supervisor adds them when it mints).
        badge: u64,
    },
    /// The channel's endpoint (receive right).
    Server {
        /// Slot in the server's CSpace (the one its environment names).
        slot: Slot,
        /// Index in [`SystemPlan::channels`].
        channel: usize,
    },
    /// The notification minted with `badge` (send right).
    Signal {
        /// Slot in the signaller's CSpace (the one its environment names).
        slot: Slot,
        /// Index in [`SystemPlan::notifications`].
        notification: usize,
        /// The badge bits the signaller sets in the waiter's notification
        /// word (disjoint from every other source's).
        badge: u64,
    },
    /// The notification (receive right).
    Wait {
        /// Slot in the waiter's CSpace (the one its environment names).
        slot: Slot,
        /// Index in [`SystemPlan::notifications`].
        notification: usize,
    },
    /// An I/O port range.
    IoPorts {
        /// Slot in the component's CSpace (the one its environment names).
        slot: Slot,
        /// Index in [`SystemPlan::ioports`].
        ioport: usize,
    },
    /// An IRQ handler.
    IrqHandler {
        /// Slot in the component's CSpace (the one its environment names).
        slot: Slot,
        /// Index in [`SystemPlan::irqs`].
        irq: usize,
    },
}

/// A channel: an endpoint the supervisor makes and keeps (it outlives the
/// instances of its server and clients).
#[derive(Debug)]
pub struct ChannelPlan {
    /// The channel's name (`[channels.NAME]`).
    pub name: &'static str,
    /// Rust path of the protocol (for messages).
    pub protocol: &'static str,
    /// Index of the server component (it holds the receive capability).
    pub server: usize,
    /// (component index, badge) of each client; the badge is without the
    /// generation bits ([`CapPlan::Client::badge`]).
    pub clients: &'static [(usize, u64)],
}

/// A notification the supervisor makes and keeps.
#[derive(Debug)]
pub struct NotificationPlan {
    /// The notification's name (`[notifications.NAME]`, or
    /// `component.irq` for an interrupt's own).
    pub name: &'static str,
    /// Index of the component that waits on it (holds the receive
    /// capability).
    pub waiter: usize,
}

/// A shared region: frames the supervisor makes (RAM) or finds (device
/// memory at `phys`) once and maps into each component that names it.
#[derive(Debug)]
pub struct RegionPlan {
    /// The region's name (`[regions.NAME]`).
    pub name: &'static str,
    /// Bytes, a multiple of the page size.
    pub size: u64,
    /// Physical address of device frames; `None`: RAM the supervisor
    /// allocates.
    pub phys: Option<u64>,
}

/// A region as one component maps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MappingPlan {
    /// Index in [`SystemPlan::regions`].
    pub region: usize,
    /// Virtual address of the region's first byte in the component
    /// (page aligned).
    pub vaddr: u64,
    /// Whether the component may write it (`w` in the mapping's perms);
    /// otherwise mapped read-only.
    pub writable: bool,
    /// Whether the description grants execute (`x` in the mapping's
    /// perms).
    pub executable: bool,
    /// Whether the mapping is cacheable (device registers usually are not).
    pub cached: bool,
}

/// An interrupt: the supervisor gets its handler from the IRQ control
/// capability once, binds it to `notification` minted with `badge`, and
/// grants the handler to `component`.
#[derive(Debug)]
pub struct IrqPlan {
    /// Index of the component that handles it (gets the handler).
    pub component: usize,
    /// The interrupt's name (`irqs = [{ name, .. }]`).
    pub name: &'static str,
    /// Where it comes from (I/O APIC pin, MSI, or an interrupt controller
    /// line).
    pub source: IrqSource,
    /// Index in [`SystemPlan::notifications`] of the notification it is
    /// delivered to.
    pub notification: usize,
    /// The badge bits it sets on that notification.
    pub badge: u64,
}

/// An I/O port range the supervisor issues once.
#[derive(Debug)]
pub struct IoPortPlan {
    /// Index of the component that gets the capability.
    pub component: usize,
    /// The range's name (`ioports = [{ name, .. }]`).
    pub name: &'static str,
    /// First port of the range.
    pub first: u16,
    /// Last port of the range (inclusive).
    pub last: u16,
}

impl SystemPlan {
    /// The index of the component named `name`.
    pub fn component_index(&self, name: &str) -> Option<usize> {
        self.components.iter().position(|c| c.name == name)
    }
}
