//! A component's environment as typed values.
//!
//! The system builder (`sel4-system`, crate `sel4-sysdesc`) generates one
//! module per component from the system description. That module holds the
//! component's capabilities as *descriptors* (this crate's types: which slot
//! of the component's own CSpace holds what, with its badge, address, rights
//! or device parameters) and an `Env<R: Runtime>` struct whose fields are the
//! capabilities named in the description, typed by the [`Runtime`]:
//!
//! ```ignore
//! // generated for component `client_a` of systems/kv-store/system.toml
//! pub struct Env<R: sel4_component_env::Runtime> {
//!     pub store: R::Client<kv_proto::Kv>,   // channel `kv`, protocol kv_proto::Kv
//!     pub log: R::Client<kv_proto::Log>,
//! }
//! impl<R: sel4_component_env::Runtime> Env<R> {
//!     pub fn bind(rt: &mut R) -> Result<Self, R::Error> { .. }
//! }
//! ```
//!
//! A component runtime implements [`Runtime`] once (its `Client<P>` is the
//! framework's typed IPC client over the endpoint in `ClientCap::slot`, its
//! `SharedRw` a `&'static mut [u8]` over the mapping, ...); its entry macro
//! calls `Env::bind` and hands the result to `main`. Because the protocol is
//! a type parameter of the field, a component that uses a channel with
//! another protocol than the description names does not compile.
//!
//! [`Describe`] is the identity runtime: every field is the descriptor
//! itself. Host tests use it to check what a generated environment holds; a
//! runtime can use it to inspect an environment before binding it.
//!
//! The constants of [`slot`] and [`layout`] are the contract between the
//! system plan (which the root task instantiates) and the component runtime:
//! both sides read them from here.
#![no_std]
#![forbid(unsafe_code)]

use core::marker::PhantomData;

pub use sel4_ipc::Protocol;

/// A capability pointer in the component's own CSpace (a slot index of its
/// root CNode, which the root task sets up with a guard so that the index
/// resolves with the full word as depth).
pub type Slot = u64;

/// Well-known slots of every component's CSpace: its own CNode and VSpace,
/// the supervisor endpoint, the notifications of its runtime's locks, then
/// one block of [`slot::THREAD_SLOTS`] slots per thread (main thread
/// first), then the capabilities named in the description in the order of
/// the plan, then free slots for the component's own use.
pub mod slot {
    use super::Slot;
    /// Always empty.
    pub const NULL: Slot = 0;
    /// The component's own root CNode.
    pub const CNODE: Slot = 1;
    /// The component's own VSpace root.
    pub const VSPACE: Slot = 2;
    /// Badged endpoint to the supervisor for reports (panic, exit); the
    /// badge names the component.
    pub const SUPERVISOR: Slot = 3;
    /// First of the [`crate::start::RUNTIME_LOCKS`] notifications of the
    /// component runtime's locks (heap, console, thread registry).
    pub const RUNTIME_LOCKS: Slot = 4;
    /// Slot 7 is kept empty for the runtime.
    pub const RESERVED: Slot = 7;
    /// First slot of the first thread's block (after the fixed slots).
    pub const FIRST_THREAD: Slot = 8;
    /// Slots per thread block.
    pub const THREAD_SLOTS: Slot = 4;
    /// Offset in a thread block: the thread's TCB.
    pub const TCB: Slot = 0;
    /// Offset in a thread block: the thread's fault endpoint (the
    /// supervisor's endpoint, badged for this thread; non-MCS kernels look
    /// it up in the faulting thread's CSpace).
    pub const FAULT_ENDPOINT: Slot = 1;
    /// Offset in a thread block: the thread's scheduling context (MCS
    /// kernels; empty otherwise).
    pub const SCHED_CONTEXT: Slot = 2;
    /// Offset in a thread block: the thread's reply object (MCS kernels;
    /// empty otherwise).
    pub const REPLY: Slot = 3;

    /// Slot `offset` of thread `thread`'s block (0 = main thread).
    pub const fn thread(thread: u64, offset: Slot) -> Slot {
        FIRST_THREAD + thread * THREAD_SLOTS + offset
    }
}

/// Virtual address layout shared by the plan and the component runtime.
pub mod layout {
    /// Page size of every mapping the plan makes (4 KiB on every supported
    /// architecture).
    pub const PAGE_SIZE: u64 = 4096;
    /// Where a position-independent component image is loaded (the same base
    /// as root tasks link at).
    pub const IMAGE_BASE: u64 = 0x40_0000;
    /// The image must end below this address; everything else (heap, stacks,
    /// IPC buffers, regions, device frames) lives at or above it.
    pub const AUTO_BASE: u64 = 0x1_0000_0000;
}

pub mod start;

pub mod plan;

/// How the supervisor badges a client's endpoint capability: the server's
/// generation (modulo 2^[`badge::GENERATION_BITS`]) in the low bits, and
/// the client's badge from the plan ([`badge::CLIENT_BITS`] bits) above
/// them. Everything fits the 28 bits seL4 5.x mints (`seL4_CapData`
/// badges; 12+ mint 64). The generation is the low byte so that a server
/// checks it with one compare of the badge register's low byte (the hot
/// path of every typed component server, issue 11).
///
/// The supervisor mints each client's capability again with the new
/// generation when the server restarts. A call made to the old instance
/// (queued on the endpoint while it was dead: the kernel records the badge
/// at the send) carries the old generation, and the new instance answers
/// it with `ErrorReply::ServerRestarted` instead of serving it.
pub mod badge {
    /// Bits of a client's badge (the plan's badges are below 2^20).
    pub const CLIENT_BITS: u32 = 20;
    /// Bits of the server's generation: the low byte of the badge.
    pub const GENERATION_BITS: u32 = 8;
    /// Every client badge is below this.
    pub const CLIENT_LIMIT: u64 = 1 << CLIENT_BITS;
    const CLIENT_MASK: u64 = CLIENT_LIMIT - 1;

    /// The badge the supervisor mints for client badge `client` of a server
    /// of generation `generation`.
    pub const fn with_generation(client: u64, generation: u64) -> u64 {
        ((client & CLIENT_MASK) << GENERATION_BITS) | (generation as u8 as u64)
    }

    /// The client's badge of a received badge.
    pub const fn client(badge: u64) -> u64 {
        (badge >> GENERATION_BITS) & CLIENT_MASK
    }

    /// Whether a received badge was minted for a server of `generation`:
    /// its low byte (x86_64: one `cmp` of the badge register's low byte).
    #[inline(always)]
    pub const fn is_generation(badge: u64, generation: u64) -> bool {
        badge as u8 == generation as u8
    }

    const _: () = assert!(CLIENT_BITS + GENERATION_BITS <= 28 && GENERATION_BITS == u8::BITS);
}

/// The client end of a channel: an endpoint capability minted with the
/// client's badge, to call a server that speaks `P`.
pub struct ClientCap<P> {
    /// Slot of the badged endpoint capability.
    pub slot: Slot,
    /// The badge the server sees on this client's calls.
    pub badge: u64,
    /// Name of the server component (for messages).
    pub server: &'static str,
    _protocol: PhantomData<fn() -> P>,
}

impl<P> ClientCap<P> {
    /// A client descriptor (used by generated code).
    pub const fn new(slot: Slot, badge: u64, server: &'static str) -> Self {
        ClientCap {
            slot,
            badge,
            server,
            _protocol: PhantomData,
        }
    }
}

/// One client of a server, as the server sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientInfo {
    /// The badge that arrives with this client's calls.
    pub badge: u64,
    /// The client component's name.
    pub component: &'static str,
}

/// The server end of a channel: the endpoint capability (receive right) on
/// which clients speaking `P` call.
pub struct ServerCap<P> {
    /// Slot of the endpoint capability.
    pub slot: Slot,
    /// The clients and their badges.
    pub clients: &'static [ClientInfo],
    /// Slot of the notification bound to the serving thread, whose signals
    /// arrive in the same receive loop (the framework's server tells them
    /// from calls by the message info, not by the badge), if any.
    pub bound_notification: Option<Slot>,
    _protocol: PhantomData<fn() -> P>,
}

impl<P> ServerCap<P> {
    /// A server descriptor (used by generated code).
    pub const fn new(
        slot: Slot,
        clients: &'static [ClientInfo],
        bound_notification: Option<Slot>,
    ) -> Self {
        ServerCap {
            slot,
            clients,
            bound_notification,
            _protocol: PhantomData,
        }
    }

    /// The client with this badge, if any.
    pub fn client(&self, badge: u64) -> Option<&'static ClientInfo> {
        self.clients.iter().find(|c| c.badge == badge)
    }
}

/// The right to signal a notification (a badged capability with the send
/// right only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalCap {
    /// Slot of the badged notification capability.
    pub slot: Slot,
    /// The badge bits the waiter sees from this signaller.
    pub badge: u64,
    /// Name of the waiting component (for messages).
    pub waiter: &'static str,
}

/// Who may set bits of a notification, as its waiter sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalSource {
    /// Badge bits this source sets.
    pub badge: u64,
    /// What sets them.
    pub kind: SignalSourceKind,
}

/// What sets a notification's bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalSourceKind {
    /// A component holding a [`SignalCap`].
    Component(&'static str),
    /// An interrupt of the waiting component, by its name in the description.
    Irq(&'static str),
}

/// The right to wait on a notification (the unbadged capability).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitCap {
    /// Slot of the notification capability.
    pub slot: Slot,
    /// Everything that signals it, with its badge bits.
    pub sources: &'static [SignalSource],
    /// Index of the thread of this component the notification is bound to
    /// (0 = main thread), if it is bound.
    pub bound_thread: Option<usize>,
}

impl WaitCap {
    /// The sources whose bits are set in `word` (a waited-for notification
    /// word).
    pub fn sources_in(&self, word: u64) -> impl Iterator<Item = &'static SignalSource> {
        self.sources.iter().filter(move |s| word & s.badge != 0)
    }
}

/// A shared memory region as mapped into this component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedRegion {
    /// First virtual address of the mapping (page aligned).
    pub vaddr: u64,
    /// Size in bytes (a multiple of the page size).
    pub size: u64,
    /// The mapping is writable.
    pub writable: bool,
    /// The mapping is executable.
    pub executable: bool,
    /// The region's name in the description.
    pub region: &'static str,
}

/// A device frame range (memory-mapped I/O at a physical address) as mapped
/// into this component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceRegion {
    /// First virtual address of the mapping (page aligned).
    pub vaddr: u64,
    /// Physical address of the first frame.
    pub paddr: u64,
    /// Size in bytes (a multiple of the page size).
    pub size: u64,
    /// The mapping is writable.
    pub writable: bool,
    /// Mapped cacheable (device registers are normally not).
    pub cached: bool,
    /// The region's name in the description.
    pub region: &'static str,
}

/// An x86 I/O port range capability (ports `first..=last`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IoPortRange {
    /// Slot of the I/O port capability.
    pub slot: Slot,
    /// First port.
    pub first: u16,
    /// Last port (inclusive).
    pub last: u16,
}

impl IoPortRange {
    /// Whether a `width`-byte access at `port` lies in the range.
    pub fn contains(&self, port: u16, width: u16) -> bool {
        let end = u32::from(port) + u32::from(width);
        port >= self.first && width > 0 && end <= u32::from(self.last) + 1
    }
}

/// Where an interrupt comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IrqSource {
    /// An x86 I/O APIC pin.
    IoApic {
        /// Index of the I/O APIC.
        ioapic: u32,
        /// Pin on that I/O APIC.
        pin: u32,
        /// Level triggered (else edge).
        level: bool,
        /// Active low (else active high).
        active_low: bool,
        /// CPU vector (seL4's user IRQ number).
        vector: u32,
    },
    /// An x86 message-signalled interrupt of a PCI function.
    Msi {
        /// PCI bus.
        bus: u32,
        /// PCI device.
        device: u32,
        /// PCI function.
        function: u32,
        /// The MSI handle given to the kernel (`seL4_IRQControl_GetMSI`).
        handle: u32,
        /// CPU vector (seL4's user IRQ number).
        vector: u32,
    },
    /// An interrupt number of the platform's interrupt controller (aarch64
    /// GIC, riscv64 PLIC).
    Line {
        /// The interrupt number.
        irq: u32,
        /// Level triggered (else edge).
        level: bool,
    },
}

/// An interrupt: its handler capability and the notification (and badge
/// bits) it is delivered to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IrqCap {
    /// Slot of the IRQ handler capability (acknowledge through it).
    pub handler: Slot,
    /// Slot of the notification the handler is bound to (a [`WaitCap`] of
    /// this component).
    pub notification: Slot,
    /// Badge bits the interrupt sets on that notification.
    pub badge: u64,
    /// The interrupt source.
    pub source: IrqSource,
}

/// What a component runtime implements to turn descriptors into the values
/// a component works with. Generated `Env::bind` calls one method per
/// field, each once.
pub trait Runtime {
    /// Why a capability could not be bound.
    type Error;

    /// The name of the component the runtime runs (its start-info page
    /// says): a crate built for several components of a system binds the
    /// descriptors of this one.
    fn component_name(&self) -> &str;
    /// The error of a binding for a component the generated module does
    /// not know.
    fn unknown_component(&mut self) -> Self::Error;

    /// Typed IPC client of protocol `P`.
    type Client<P: Protocol>;
    /// Typed IPC server of protocol `P`.
    type Server<P: Protocol>;
    /// May signal a notification.
    type Signal;
    /// May wait on a notification.
    type Wait;
    /// A read-only shared memory mapping.
    type SharedRo;
    /// A writable shared memory mapping.
    type SharedRw;
    /// A device frame mapping.
    type Device;
    /// An I/O port range.
    type IoPorts;
    /// An interrupt handler.
    type Irq;

    /// The client of a channel this component calls.
    fn client<P: Protocol>(&mut self, cap: &ClientCap<P>) -> Result<Self::Client<P>, Self::Error>;
    /// The server of a channel this component serves.
    fn server<P: Protocol>(&mut self, cap: &ServerCap<P>) -> Result<Self::Server<P>, Self::Error>;
    /// A notification this component may signal.
    fn signal(&mut self, cap: &SignalCap) -> Result<Self::Signal, Self::Error>;
    /// A notification this component waits on.
    fn wait(&mut self, cap: &WaitCap) -> Result<Self::Wait, Self::Error>;
    /// A shared region mapped read-only.
    fn shared_ro(&mut self, region: &SharedRegion) -> Result<Self::SharedRo, Self::Error>;
    /// A shared region mapped writable.
    fn shared_rw(&mut self, region: &SharedRegion) -> Result<Self::SharedRw, Self::Error>;
    /// A device region (frames at a physical address, memory-mapped I/O).
    fn device(&mut self, region: &DeviceRegion) -> Result<Self::Device, Self::Error>;
    /// An I/O port range (x86).
    fn io_ports(&mut self, range: &IoPortRange) -> Result<Self::IoPorts, Self::Error>;
    /// An interrupt.
    fn irq(&mut self, irq: &IrqCap) -> Result<Self::Irq, Self::Error>;
}

/// The identity runtime: each field of a bound environment is its
/// descriptor (of the component named `0`).
#[derive(Debug, Default, Clone, Copy)]
pub struct Describe(pub &'static str);

/// [`Describe`] was asked for a component the module does not describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownComponent;

impl Runtime for Describe {
    type Error = UnknownComponent;

    fn component_name(&self) -> &str {
        self.0
    }
    fn unknown_component(&mut self) -> UnknownComponent {
        UnknownComponent
    }
    type Client<P: Protocol> = ClientCap<P>;
    type Server<P: Protocol> = ServerCap<P>;
    type Signal = SignalCap;
    type Wait = WaitCap;
    type SharedRo = SharedRegion;
    type SharedRw = SharedRegion;
    type Device = DeviceRegion;
    type IoPorts = IoPortRange;
    type Irq = IrqCap;

    fn client<P: Protocol>(&mut self, cap: &ClientCap<P>) -> Result<ClientCap<P>, Self::Error> {
        Ok(ClientCap::new(cap.slot, cap.badge, cap.server))
    }
    fn server<P: Protocol>(&mut self, cap: &ServerCap<P>) -> Result<ServerCap<P>, Self::Error> {
        Ok(ServerCap::new(
            cap.slot,
            cap.clients,
            cap.bound_notification,
        ))
    }
    fn signal(&mut self, cap: &SignalCap) -> Result<SignalCap, Self::Error> {
        Ok(*cap)
    }
    fn wait(&mut self, cap: &WaitCap) -> Result<WaitCap, Self::Error> {
        Ok(*cap)
    }
    fn shared_ro(&mut self, region: &SharedRegion) -> Result<SharedRegion, Self::Error> {
        Ok(*region)
    }
    fn shared_rw(&mut self, region: &SharedRegion) -> Result<SharedRegion, Self::Error> {
        Ok(*region)
    }
    fn device(&mut self, region: &DeviceRegion) -> Result<DeviceRegion, Self::Error> {
        Ok(*region)
    }
    fn io_ports(&mut self, range: &IoPortRange) -> Result<IoPortRange, Self::Error> {
        Ok(*range)
    }
    fn irq(&mut self, irq: &IrqCap) -> Result<IrqCap, Self::Error> {
        Ok(*irq)
    }
}

impl<P> core::fmt::Debug for ClientCap<P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ClientCap")
            .field("slot", &self.slot)
            .field("badge", &self.badge)
            .field("server", &self.server)
            .finish()
    }
}

impl<P> core::fmt::Debug for ServerCap<P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ServerCap")
            .field("slot", &self.slot)
            .field("clients", &self.clients)
            .field("bound_notification", &self.bound_notification)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The fixed slots come before the thread blocks.
    const _: () = assert!(slot::RUNTIME_LOCKS + start::RUNTIME_LOCKS <= slot::RESERVED);
    const _: () = assert!(slot::RESERVED < slot::FIRST_THREAD);

    #[test]
    fn badges_carry_the_generation_below_the_client() {
        let b = badge::with_generation(5, 3);
        assert_eq!(b, 5 << 8 | 3);
        assert_eq!(badge::client(b), 5);
        // never 0 (unbadged), whatever the generation
        assert_ne!(badge::with_generation(1, 0), 0);
        assert!(badge::is_generation(b, 3) && !badge::is_generation(b, 4));
        // modulo 2^GENERATION_BITS
        assert!(badge::is_generation(b, 3 + (1 << badge::GENERATION_BITS)));
        // within the 28 bits seL4 5.x mints
        assert!(badge::with_generation(badge::CLIENT_LIMIT - 1, u64::MAX) < 1 << 28);
    }

    #[test]
    fn thread_blocks_do_not_overlap() {
        assert_eq!(slot::thread(0, slot::TCB), slot::FIRST_THREAD);
        assert_eq!(slot::thread(0, slot::REPLY) + 1, slot::thread(1, slot::TCB));
    }

    #[test]
    fn io_port_range_bounds() {
        let r = IoPortRange {
            slot: 9,
            first: 0x2f8,
            last: 0x2ff,
        };
        assert!(r.contains(0x2f8, 1));
        assert!(r.contains(0x2fc, 4));
        assert!(!r.contains(0x2fd, 4));
        assert!(!r.contains(0x2f7, 1));
        assert!(!r.contains(0x2f8, 0));
        let top = IoPortRange {
            slot: 1,
            first: 0xfffc,
            last: 0xffff,
        };
        assert!(top.contains(0xfffc, 4));
        assert!(!top.contains(0xffff, 2));
    }

    #[test]
    fn wait_cap_names_the_sources_of_a_word() {
        static SOURCES: [SignalSource; 3] = [
            SignalSource {
                badge: 1,
                kind: SignalSourceKind::Component("producer"),
            },
            SignalSource {
                badge: 2,
                kind: SignalSourceKind::Irq("uart"),
            },
            SignalSource {
                badge: 4,
                kind: SignalSourceKind::Component("timer"),
            },
        ];
        let w = WaitCap {
            slot: 7,
            sources: &SOURCES,
            bound_thread: None,
        };
        let mut names = [""; 3];
        let mut n = 0;
        for s in w.sources_in(0b101) {
            if let SignalSourceKind::Component(c) = s.kind {
                names[n] = c;
                n += 1;
            }
        }
        assert_eq!(&names[..n], &["producer", "timer"]);
    }

    #[test]
    fn server_cap_finds_clients_by_badge() {
        static CLIENTS: [ClientInfo; 2] = [
            ClientInfo {
                badge: 1,
                component: "a",
            },
            ClientInfo {
                badge: 2,
                component: "b",
            },
        ];
        let s: ServerCap<()> = ServerCap::new(6, &CLIENTS, None);
        assert_eq!(s.client(2).map(|c| c.component), Some("b"));
        assert!(s.client(3).is_none());
    }
}
