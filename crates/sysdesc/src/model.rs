//! The description as written: every value with its place in the file.
//! Produced by [`crate::parse`]; values are checked for their TOML type and
//! form there, and for meaning (ranges, references, conflicts) by
//! [`check()`](crate::check()).

use crate::diag::Span;

/// A value and the bytes of the file it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sp<T> {
    /// The value.
    pub value: T,
    /// Where it was written (for diagnostics).
    pub span: Span,
}

impl<T> Sp<T> {
    /// A value read from `span`.
    pub fn new(value: T, span: Span) -> Sp<T> {
        Sp { value, span }
    }
}

impl Sp<String> {
    /// The string.
    pub fn as_str(&self) -> &str {
        &self.value
    }
}

/// An architecture (`[system] arch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arch {
    /// `"x86_64"`.
    X86_64,
    /// `"aarch64"`.
    Aarch64,
    /// `"riscv64"`.
    Riscv64,
}

impl Arch {
    /// The name as written in the description.
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
            Arch::Riscv64 => "riscv64",
        }
    }
}

/// A whole description, in the file's order.
#[derive(Debug, Clone)]
pub struct Description {
    /// The `[system]` table.
    pub system: System,
    /// The `[components.NAME]` tables.
    pub components: Vec<Component>,
    /// The `[channels.NAME]` tables.
    pub channels: Vec<Channel>,
    /// The `[notifications.NAME]` tables.
    pub notifications: Vec<Notification>,
    /// The `[regions.NAME]` tables.
    pub regions: Vec<Region>,
}

/// The `[system]` table.
#[derive(Debug, Clone)]
pub struct System {
    /// `name`: the system's name (names the boot image).
    pub name: Sp<String>,
    /// `arch`: the architecture. Without the key, the kernel's (checked
    /// against a kernel) or x86_64.
    pub arch: Sp<Arch>,
    /// Whether the description gave `arch` (else it follows the kernel).
    pub arch_given: bool,
    /// Cargo manifest (relative to the description) whose workspace holds
    /// the component crates.
    pub manifest: Option<Sp<String>>,
    /// Components whose exit ends the system run.
    pub finish: Vec<Sp<String>>,
    /// The table's header.
    pub span: Span,
}

/// Where a component's image comes from (`crate` or `elf`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// A package of the workspace.
    Crate(String),
    /// A prebuilt ELF file (path relative to the description).
    Elf(String),
}

/// One `[components.NAME]` table.
#[derive(Debug, Clone)]
pub struct Component {
    /// `NAME`: the component's name (a Rust identifier).
    pub name: Sp<String>,
    /// `crate` or `elf`.
    pub image: Sp<ImageSource>,
    /// `priority`: the main thread's priority (0..=254).
    pub priority: Sp<u64>,
    /// `mcp`: maximum controlled priority of its threads (default 0).
    pub mcp: Option<Sp<u64>>,
    /// `budget`: bytes of untyped memory for everything it holds.
    pub budget: Sp<u64>,
    /// `stack`: the main thread's stack in bytes (default 16 KiB).
    pub stack: Option<Sp<u64>>,
    /// `heap`: heap size in bytes (default 64 KiB, 0: none).
    pub heap: Option<Sp<u64>>,
    /// `image_size`: upper bound of the loaded image in bytes, for the check before it is built.
    pub image_size: Option<Sp<u64>>,
    /// `free_slots`: CSpace slots left free for the component (default 32).
    pub free_slots: Option<Sp<u64>>,
    /// `threads`: the threads after the main thread.
    pub threads: Vec<Thread>,
    /// `fault`: the fault policy (default stop).
    pub fault: Option<Fault>,
    /// `mcs`: MCS scheduling parameters.
    pub mcs: Option<Mcs>,
    /// `ioports`: x86 I/O port ranges.
    pub ioports: Vec<IoPort>,
    /// `irqs`: interrupts.
    pub irqs: Vec<Irq>,
    /// A required value was missing or bad (already reported): checks that
    /// need those values skip this component.
    pub broken: bool,
    /// The component's table (its key `[components.NAME]`).
    pub span: Span,
}

/// One entry of a component's `threads`.
#[derive(Debug, Clone)]
pub struct Thread {
    /// `name`: the thread's name.
    pub name: Sp<String>,
    /// `priority` (default: the component's).
    pub priority: Option<Sp<u64>>,
    /// `stack` in bytes (default: the component's).
    pub stack: Option<Sp<u64>>,
    /// The entry's table.
    pub span: Span,
}

/// What the supervisor does when a component faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultAction {
    /// Start a fresh instance (image reloaded, same capabilities).
    Restart,
    /// Stop the component and revoke its objects (the system goes on).
    Stop,
    /// Halt the whole system.
    Halt,
}

/// The `fault` policy of a component.
#[derive(Debug, Clone)]
pub struct Fault {
    /// `action`.
    pub action: Sp<FaultAction>,
    /// `max_restarts`: restarts before `then` applies.
    pub max_restarts: Option<Sp<u64>>,
    /// `backoff_ms`: delay before the first restart, doubled for each further one.
    pub backoff_ms: Option<Sp<u64>>,
    /// `backoff_max_ms`: upper bound of the delay.
    pub backoff_max_ms: Option<Sp<u64>>,
    /// What happens when the restarts are used up (stop or halt).
    pub then: Option<Sp<FaultAction>>,
    /// The `fault` value.
    pub span: Span,
}

/// The `mcs` table of a component (MCS kernels).
#[derive(Debug, Clone)]
pub struct Mcs {
    /// `budget_us`: budget per period in microseconds.
    pub budget_us: Sp<u64>,
    /// `period_us`: period in microseconds.
    pub period_us: Sp<u64>,
    /// `passive`: runs on its clients' time only (default false).
    pub passive: Option<Sp<bool>>,
    /// The table.
    pub span: Span,
}

/// One entry of a component's `ioports`.
#[derive(Debug, Clone)]
pub struct IoPort {
    /// `name`: names the field of the environment.
    pub name: Sp<String>,
    /// `base`: the first port.
    pub base: Sp<u64>,
    /// `size`: the number of ports.
    pub size: Sp<u64>,
    /// The entry's table.
    pub span: Span,
}

/// How an interrupt is signalled on its line (`trigger`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// `"level"`.
    Level,
    /// `"edge"`.
    Edge,
}

/// The active level of an interrupt line (`polarity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Polarity {
    /// `"high"`.
    High,
    /// `"low"`.
    Low,
}

/// Where an interrupt comes from.
#[derive(Debug, Clone)]
pub enum IrqKind {
    /// x86 I/O APIC pin.
    IoApic {
        /// `ioapic`: index of the I/O APIC (default 0).
        ioapic: Sp<u64>,
        /// `pin`: pin on that I/O APIC.
        pin: Sp<u64>,
        /// `trigger`.
        trigger: Sp<Trigger>,
        /// `polarity`.
        polarity: Sp<Polarity>,
        /// `vector`: CPU vector the kernel delivers it on.
        vector: Sp<u64>,
    },
    /// x86 MSI of a PCI function.
    Msi {
        /// `pcidev` bus.
        bus: Sp<u64>,
        /// `pcidev` device.
        device: Sp<u64>,
        /// `pcidev` function.
        function: Sp<u64>,
        /// `handle`: the MSI handle given to the kernel.
        handle: Sp<u64>,
        /// `vector`: CPU vector the kernel delivers it on.
        vector: Sp<u64>,
    },
    /// An interrupt number of the platform's interrupt controller
    /// (aarch64, riscv64).
    Line {
        /// `irq`: the interrupt number.
        irq: Sp<u64>,
        /// `trigger`.
        trigger: Sp<Trigger>,
    },
}

/// One entry of a component's `irqs`.
#[derive(Debug, Clone)]
pub struct Irq {
    /// `name`: names the field of the environment.
    pub name: Sp<String>,
    /// The source.
    pub kind: IrqKind,
    /// A notification (waited on by this component) to deliver to; none: a
    /// notification of its own.
    pub notification: Option<Sp<String>>,
    /// `badge`: the badge bits it signals (default: the lowest free bit).
    pub badge: Option<Sp<u64>>,
    /// The entry's table.
    pub span: Span,
}

/// One end of a channel or notification in a component.
#[derive(Debug, Clone)]
pub struct End {
    /// `component`: the component at this end.
    pub component: Sp<String>,
    /// Field name in the component's environment (default: the channel's
    /// or notification's name).
    pub name: Option<Sp<String>>,
    /// The protocol this end's code speaks, when the description states it.
    pub protocol: Option<Sp<String>>,
    /// `badge`: a badge chosen by hand (default: chosen by the plan).
    pub badge: Option<Sp<u64>>,
    /// The end's value.
    pub span: Span,
}

/// One `[channels.NAME]` table.
#[derive(Debug, Clone)]
pub struct Channel {
    /// `NAME`: the channel's name.
    pub name: Sp<String>,
    /// `protocol`: Rust type path of the protocol.
    pub protocol: Sp<String>,
    /// `server`: the component that receives.
    pub server: End,
    /// `clients`: the components that call.
    pub clients: Vec<End>,
    /// The table's header.
    pub span: Span,
}

/// Which thread a notification is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bind {
    /// `bind = true`: the waiter's main thread.
    MainThread,
    /// `bind = "NAME"`: that thread of the waiter.
    Thread(String),
}

/// One `[notifications.NAME]` table.
#[derive(Debug, Clone)]
pub struct Notification {
    /// `NAME`: the notification's name.
    pub name: Sp<String>,
    /// `waiter`: the component that waits on it.
    pub waiter: End,
    /// `bind`: the thread it is bound to, if any.
    pub bind: Option<Sp<Bind>>,
    /// `signallers`: the components that may signal it.
    pub signallers: Vec<End>,
    /// The table's header.
    pub span: Span,
}

/// Access rights of a mapping (`perms`: `"r"`, `"rw"`, `"rx"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Perms {
    /// Readable.
    pub read: bool,
    /// Writable.
    pub write: bool,
    /// Executable.
    pub execute: bool,
}

/// One entry of a region's `maps`.
#[derive(Debug, Clone)]
pub struct Mapping {
    /// `component`: the component it is mapped into.
    pub component: Sp<String>,
    /// `name`: field name in the environment (default: the region's name).
    pub name: Option<Sp<String>>,
    /// `vaddr`: virtual address (default: chosen by the plan).
    pub vaddr: Option<Sp<u64>>,
    /// `perms` (default `"rw"`).
    pub perms: Sp<Perms>,
    /// The entry's table.
    pub span: Span,
}

/// One `[regions.NAME]` table.
#[derive(Debug, Clone)]
pub struct Region {
    /// `NAME`: the region's name.
    pub name: Sp<String>,
    /// `size` in bytes (a multiple of 4 KiB).
    pub size: Sp<u64>,
    /// Device frames at this physical address (not RAM from a budget).
    pub phys: Option<Sp<u64>>,
    /// `cached` (default true for RAM, false for `phys`).
    pub cached: Option<Sp<bool>>,
    /// Who pays for the region's frames (default: the first mapping).
    pub owner: Option<Sp<String>>,
    /// `maps`: where it is mapped.
    pub maps: Vec<Mapping>,
    /// The table's header.
    pub span: Span,
}
