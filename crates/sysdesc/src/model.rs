//! The description as written: every value with its place in the file.
//! Produced by [`crate::parse`]; values are checked for their TOML type and
//! form there, and for meaning (ranges, references, conflicts) by
//! [`crate::validate`].

use crate::diag::Span;

/// A value and the bytes of the file it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sp<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Sp<T> {
    pub fn new(value: T, span: Span) -> Sp<T> {
        Sp { value, span }
    }
}

impl Sp<String> {
    pub fn as_str(&self) -> &str {
        &self.value
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arch {
    X86_64,
    Aarch64,
    Riscv64,
}

impl Arch {
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
            Arch::Riscv64 => "riscv64",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Description {
    pub system: System,
    pub components: Vec<Component>,
    pub channels: Vec<Channel>,
    pub notifications: Vec<Notification>,
    pub regions: Vec<Region>,
}

#[derive(Debug, Clone)]
pub struct System {
    pub name: Sp<String>,
    pub arch: Sp<Arch>,
    /// Cargo manifest (relative to the description) whose workspace holds
    /// the component crates.
    pub manifest: Option<Sp<String>>,
    /// Components whose exit ends the system run.
    pub finish: Vec<Sp<String>>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// A package of the workspace.
    Crate(String),
    /// A prebuilt ELF file (path relative to the description).
    Elf(String),
}

#[derive(Debug, Clone)]
pub struct Component {
    pub name: Sp<String>,
    pub image: Sp<ImageSource>,
    pub priority: Sp<u64>,
    pub mcp: Option<Sp<u64>>,
    pub budget: Sp<u64>,
    pub stack: Option<Sp<u64>>,
    pub heap: Option<Sp<u64>>,
    pub image_size: Option<Sp<u64>>,
    pub free_slots: Option<Sp<u64>>,
    pub threads: Vec<Thread>,
    pub fault: Option<Fault>,
    pub mcs: Option<Mcs>,
    pub ioports: Vec<IoPort>,
    pub irqs: Vec<Irq>,
    /// A required value was missing or bad (already reported): checks that
    /// need those values skip this component.
    pub broken: bool,
    /// The component's table (its key `[components.NAME]`).
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Thread {
    pub name: Sp<String>,
    pub priority: Option<Sp<u64>>,
    pub stack: Option<Sp<u64>>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultAction {
    Restart,
    Stop,
    Halt,
}

#[derive(Debug, Clone)]
pub struct Fault {
    pub action: Sp<FaultAction>,
    pub max_restarts: Option<Sp<u64>>,
    pub backoff_ms: Option<Sp<u64>>,
    pub backoff_max_ms: Option<Sp<u64>>,
    /// What happens when the restarts are used up (stop or halt).
    pub then: Option<Sp<FaultAction>>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Mcs {
    pub budget_us: Sp<u64>,
    pub period_us: Sp<u64>,
    pub passive: Option<Sp<bool>>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct IoPort {
    pub name: Sp<String>,
    pub base: Sp<u64>,
    pub size: Sp<u64>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Level,
    Edge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Polarity {
    High,
    Low,
}

#[derive(Debug, Clone)]
pub enum IrqKind {
    /// x86 I/O APIC pin.
    IoApic {
        ioapic: Sp<u64>,
        pin: Sp<u64>,
        trigger: Sp<Trigger>,
        polarity: Sp<Polarity>,
        vector: Sp<u64>,
    },
    /// x86 MSI of a PCI function.
    Msi {
        bus: Sp<u64>,
        device: Sp<u64>,
        function: Sp<u64>,
        handle: Sp<u64>,
        vector: Sp<u64>,
    },
    /// An interrupt number of the platform's interrupt controller
    /// (aarch64, riscv64).
    Line { irq: Sp<u64>, trigger: Sp<Trigger> },
}

#[derive(Debug, Clone)]
pub struct Irq {
    pub name: Sp<String>,
    pub kind: IrqKind,
    /// A notification (waited on by this component) to deliver to; none: a
    /// notification of its own.
    pub notification: Option<Sp<String>>,
    pub badge: Option<Sp<u64>>,
    pub span: Span,
}

/// One end of a channel or notification in a component.
#[derive(Debug, Clone)]
pub struct End {
    pub component: Sp<String>,
    /// Field name in the component's environment (default: the channel's
    /// or notification's name).
    pub name: Option<Sp<String>>,
    /// The protocol this end's code speaks, when the description states it.
    pub protocol: Option<Sp<String>>,
    pub badge: Option<Sp<u64>>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Channel {
    pub name: Sp<String>,
    pub protocol: Sp<String>,
    pub server: End,
    pub clients: Vec<End>,
    pub span: Span,
}

/// Which thread a notification is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bind {
    MainThread,
    Thread(String),
}

#[derive(Debug, Clone)]
pub struct Notification {
    pub name: Sp<String>,
    pub waiter: End,
    pub bind: Option<Sp<Bind>>,
    pub signallers: Vec<End>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Perms {
    pub read: bool,
    pub write: bool,
    pub execute: bool,
}

#[derive(Debug, Clone)]
pub struct Mapping {
    pub component: Sp<String>,
    pub name: Option<Sp<String>>,
    pub vaddr: Option<Sp<u64>>,
    pub perms: Sp<Perms>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Region {
    pub name: Sp<String>,
    pub size: Sp<u64>,
    /// Device frames at this physical address (not RAM from a budget).
    pub phys: Option<Sp<u64>>,
    pub cached: Option<Sp<bool>>,
    /// Who pays for the region's frames (default: the first mapping).
    pub owner: Option<Sp<String>>,
    pub maps: Vec<Mapping>,
    pub span: Span,
}
