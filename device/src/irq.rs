//! Interrupts (x86): handlers for IOAPIC pins and MSIs from the IRQ control
//! capability, bound to notifications by badge.
//!
//! On x86 seL4 identifies a handler by a *vector*: an index from 0 to the
//! kernel's maximum (107 on seL4 5.0.0 and 16.0.0; the CPU vector is the
//! index plus libsel4's `IRQ_OFFSET`). [`IrqControl`] hands vectors out, keeps
//! the IOAPIC pins it routed, and turns the kernel's errors into
//! [`IrqError`]s that name the fix:
//!
//! - a vector that has a handler already: [`IrqError::VectorTaken`]
//!   (`seL4_RevokeFirst`);
//! - an IOAPIC pin routed by an earlier handler of the same `IrqControl`:
//!   [`IrqError::PinTaken`] (the kernel does not check this: a second
//!   handler would silently steal the pin from the first);
//! - a pin the IOAPIC does not have: [`IrqError::BadPin`]; an IOAPIC that
//!   does not exist: [`IrqError::NoSuchIoapic`];
//! - no IRQ control capability in the slot: [`IrqError::NoIrqControl`].
//!
//! seL4 5.0.0 and 12+ take the same arguments (the destination depth is a
//! word on 5.x and a byte later, which the `sel4` crate hides) but differ in
//! what they check: 12+ reads the pin count from the IOAPIC (5.x assumes
//! 24), refuses everything with `IllegalOperation` when the machine has no
//! IOAPIC, and checks the vector before the destination slot (5.x the slot
//! first). Both check the vector's range first, before the IOAPIC, the pin
//! and the PCI address, which is how a `RangeError` (it only says the
//! allowed range) is traced back to the argument: on the first
//! `RangeError` (or when asked, `IrqControl::vector_max`) an `IrqControl`
//! asks the kernel for the vector range once (an invocation with an
//! impossible vector, refused before anything else is looked at), so a
//! vector outside it is refused without a kernel call from then on, and a
//! `RangeError` of a vector inside it belongs to the IOAPIC index or the
//! pin ([`attribute_range_error`]).

use alloc::vec::Vec;
use core::fmt;

/// How an IOAPIC pin signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trigger {
    /// Edge-triggered (ISA devices: the timer, serial ports, the RTC).
    Edge,
    /// Level-triggered (PCI INTx lines): the device holds the line until
    /// it is serviced; acknowledge only after servicing it.
    Level,
}

/// The active level of an IOAPIC pin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Polarity {
    /// Active high (ISA).
    High,
    /// Active low (PCI INTx).
    Low,
}

/// Where an interrupt comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IrqSource {
    /// A pin of an IOAPIC (index in ACPI order; 0 on QEMU's q35).
    IoApic {
        /// The IOAPIC's index.
        ioapic: u32,
        /// The pin (global system interrupt minus the IOAPIC's base).
        pin: u32,
        /// Edge or level.
        trigger: Trigger,
        /// Active high or low.
        polarity: Polarity,
    },
    /// A message-signalled interrupt of a PCI function: the kernel records
    /// the device; the driver programs the device's MSI data with the CPU
    /// vector (the handler's vector plus libsel4's `IRQ_OFFSET`).
    Msi {
        /// PCI bus.
        bus: u8,
        /// PCI device.
        dev: u8,
        /// PCI function.
        func: u8,
        /// The value of the handle programmed into the MSI data.
        handle: u64,
    },
}

impl IrqSource {
    /// An ISA interrupt as QEMU's q35 and PCs route it: IOAPIC 0, edge,
    /// active high, on pin `irq` (IRQ 0, the PIT, is on pin 2).
    pub const fn isa(irq: u8) -> IrqSource {
        IrqSource::IoApic {
            ioapic: 0,
            pin: if irq == 0 { 2 } else { irq as u32 },
            trigger: Trigger::Edge,
            polarity: Polarity::High,
        }
    }

    /// The IOAPIC pin, for an IOAPIC source.
    pub const fn pin(&self) -> Option<(u32, u32)> {
        match *self {
            IrqSource::IoApic { ioapic, pin, .. } => Some((ioapic, pin)),
            IrqSource::Msi { .. } => None,
        }
    }
}

impl fmt::Display for IrqSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            IrqSource::IoApic {
                ioapic,
                pin,
                trigger,
                polarity,
            } => write!(
                f,
                "IOAPIC {ioapic} pin {pin} ({trigger:?}, active {polarity:?})"
            ),
            IrqSource::Msi {
                bus,
                dev,
                func,
                handle,
            } => write!(f, "MSI of PCI {bus:02x}:{dev:02x}.{func} (handle {handle})"),
        }
    }
}

/// Why an interrupt operation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IrqError {
    /// The capability is not the IRQ control capability (an empty slot, or
    /// another object).
    NoIrqControl,
    /// The kernel routes no interrupts through an IOAPIC (built for the
    /// legacy PIC, or the machine has none): IOAPIC and MSI handlers do not
    /// exist there.
    NoIoapic,
    /// A handler for this vector exists already (`seL4_RevokeFirst`).
    VectorTaken {
        /// The vector.
        vector: u32,
    },
    /// Every vector has a handler.
    NoFreeVector,
    /// The vector is outside the kernel's range.
    VectorOutOfRange {
        /// The vector asked for.
        vector: u32,
        /// The kernel's largest vector.
        max: u32,
    },
    /// This `IrqControl` routed the pin already, for another handler: a
    /// second handler would take the pin away from the first.
    PinTaken {
        /// The IOAPIC.
        ioapic: u32,
        /// The pin.
        pin: u32,
        /// The vector of the handler that has it.
        vector: u32,
    },
    /// The IOAPIC has no such pin.
    BadPin {
        /// The IOAPIC.
        ioapic: u32,
        /// The pin asked for.
        pin: u32,
        /// Pins the IOAPIC has (0 to `pins - 1`).
        pins: u32,
    },
    /// There is no such IOAPIC.
    NoSuchIoapic {
        /// The index asked for.
        ioapic: u32,
        /// IOAPICs the kernel knows (0 to `count - 1`).
        count: u32,
    },
    /// The PCI address is outside the kernel's range (bus, device or
    /// function too large).
    BadPciAddress {
        /// Bus.
        bus: u8,
        /// Device.
        dev: u8,
        /// Function.
        func: u8,
    },
    /// The destination slot holds a capability.
    SlotInUse,
    /// The destination slot cannot be reached (wrong CNode or depth).
    BadSlot,
    /// The handler capability is not an IRQ handler (deleted, or another
    /// object), or the notification is not a notification.
    InvalidCapability {
        /// 0: the handler; 1: the notification.
        argument: u8,
    },
    /// The kernel refused for another reason.
    #[cfg(target_os = "none")]
    Kernel(sel4::InvocationError),
}

impl fmt::Display for IrqError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            IrqError::NoIrqControl => write!(
                f,
                "no IRQ control capability in that slot: pass the root task's (sel4::init::IRQ_CONTROL) \
                 or one granted to this program"
            ),
            IrqError::NoIoapic => write!(
                f,
                "the kernel has no IOAPIC (built for the legacy PIC, or the machine has none): \
                 IOAPIC and MSI handlers need a kernel with KernelIRQController IOAPIC"
            ),
            IrqError::VectorTaken { vector } => write!(
                f,
                "vector {vector} has a handler already: delete that handler first, or take another \
                 vector"
            ),
            IrqError::NoFreeVector => {
                write!(f, "every interrupt vector has a handler: delete one first")
            }
            IrqError::VectorOutOfRange { vector, max } => {
                write!(f, "vector {vector} is outside the kernel's range 0..={max}")
            }
            IrqError::PinTaken {
                ioapic,
                pin,
                vector,
            } => write!(
                f,
                "IOAPIC {ioapic} pin {pin} is routed to the handler of vector {vector} already: \
                 share that handler (bind it once, with one badge), or delete it first"
            ),
            IrqError::BadPin { ioapic, pin, pins } => write!(
                f,
                "IOAPIC {ioapic} has no pin {pin}: its pins are 0..={}",
                pins.saturating_sub(1)
            ),
            IrqError::NoSuchIoapic { ioapic, count } => write!(
                f,
                "there is no IOAPIC {ioapic}: the kernel knows {count} (indices in ACPI order from 0)"
            ),
            IrqError::BadPciAddress { bus, dev, func } => write!(
                f,
                "PCI address {bus:02x}:{dev:02x}.{func} is out of range (device at most 31, function \
                 at most 7)"
            ),
            IrqError::SlotInUse => write!(f, "the destination slot is not empty: use a free slot"),
            IrqError::BadSlot => write!(
                f,
                "the destination slot cannot be reached: give a CNode and a depth that resolve to a slot"
            ),
            IrqError::InvalidCapability { argument: 0 } => write!(
                f,
                "the handler capability is not an IRQ handler (deleted, or another object)"
            ),
            IrqError::InvalidCapability { .. } => {
                write!(f, "the capability to bind is not a notification")
            }
            #[cfg(target_os = "none")]
            IrqError::Kernel(e) => write!(f, "the kernel refused: {e}"),
        }
    }
}

/// The largest number of vectors any supported kernel has (5.0.0 and
/// 16.0.0: 108); the bookkeeping is sized for it and the kernel's own
/// maximum (asked at run time) limits it further.
pub const MAX_VECTORS: usize = 128;

/// Which vectors are in use, as far as one [`IrqControl`] knows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VectorSet {
    bits: u128,
}

impl VectorSet {
    /// No vector in use.
    pub const fn new() -> VectorSet {
        VectorSet { bits: 0 }
    }

    /// Whether `v` is in use.
    pub fn contains(&self, v: u32) -> bool {
        (v as usize) < MAX_VECTORS && self.bits & (1u128 << v) != 0
    }

    /// Marks `v` used (ignored beyond [`MAX_VECTORS`]).
    pub fn insert(&mut self, v: u32) {
        if (v as usize) < MAX_VECTORS {
            self.bits |= 1u128 << v;
        }
    }

    /// Marks `v` free.
    pub fn remove(&mut self, v: u32) {
        if (v as usize) < MAX_VECTORS {
            self.bits &= !(1u128 << v);
        }
    }

    /// The lowest free vector in `0..=max`.
    pub fn first_free(&self, max: u32) -> Option<u32> {
        (0..=max.min(MAX_VECTORS as u32 - 1)).find(|&v| !self.contains(v))
    }

    /// Vectors in use.
    pub fn len(&self) -> u32 {
        self.bits.count_ones()
    }

    /// Whether none is in use.
    pub fn is_empty(&self) -> bool {
        self.bits == 0
    }
}

/// The IOAPIC pins routed by one [`IrqControl`]: (ioapic, pin, vector).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PinMap {
    routed: Vec<(u32, u32, u32)>,
}

impl PinMap {
    /// No pin routed.
    pub const fn new() -> PinMap {
        PinMap { routed: Vec::new() }
    }

    /// The vector pin `pin` of IOAPIC `ioapic` is routed to.
    pub fn vector_of(&self, ioapic: u32, pin: u32) -> Option<u32> {
        self.routed
            .iter()
            .find(|&&(a, p, _)| a == ioapic && p == pin)
            .map(|&(_, _, v)| v)
    }

    /// Records a routed pin.
    pub fn insert(&mut self, ioapic: u32, pin: u32, vector: u32) {
        self.routed.push((ioapic, pin, vector));
    }

    /// Forgets the pin routed to `vector`.
    pub fn remove_vector(&mut self, vector: u32) {
        self.routed.retain(|&(_, _, v)| v != vector);
    }

    /// Pins routed.
    pub fn len(&self) -> usize {
        self.routed.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.routed.is_empty()
    }
}

/// Which argument a kernel `RangeError { max }` of `IRQControl_GetIOAPIC`
/// was about, given the kernel's largest vector `vector_max` (the kernel
/// checks the vector, then the IOAPIC index against the count, then the pin
/// against the IOAPIC's pins; each check is `value > max`).
pub fn attribute_range_error(
    vector: u32,
    vector_max: u32,
    ioapic: u32,
    pin: u32,
    max: u64,
) -> Option<IrqError> {
    let max32 = u32::try_from(max).unwrap_or(u32::MAX);
    if vector > vector_max {
        Some(IrqError::VectorOutOfRange {
            vector,
            max: vector_max,
        })
    } else if u64::from(ioapic) > max {
        Some(IrqError::NoSuchIoapic {
            ioapic,
            count: max32.saturating_add(1),
        })
    } else if u64::from(pin) > max {
        Some(IrqError::BadPin {
            ioapic,
            pin,
            pins: max32.saturating_add(1),
        })
    } else {
        None
    }
}

/// The bits of a notification word, as a wait returned it: the OR of the
/// badges of every signal since the last wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Badges(pub u64);

impl Badges {
    /// Whether every bit of `badge` is set.
    pub const fn contains(self, badge: u64) -> bool {
        badge != 0 && self.0 & badge == badge
    }

    /// Whether no bit is set (a signal with badge 0).
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The set bits, lowest first, each as a badge with one bit.
    pub fn bits(self) -> impl Iterator<Item = u64> {
        let w = self.0;
        (0..64).map(|i| 1u64 << i).filter(move |b| w & b != 0)
    }
}

#[cfg(target_os = "none")]
pub use handler::*;

/// The handler capability, the same on every architecture (only the
/// IRQ control call that makes one differs: [`IrqControl`]).
#[cfg(target_os = "none")]
mod handler {
    use super::*;
    use sel4::prelude::*;
    use sel4::{cap_type, Cap, InvocationError};

    /// An interrupt handler capability with what it handles (its vector:
    /// the kernel's IRQ index on x86, the interrupt's number, a GIC INTID
    /// or a PLIC source, on aarch64 and riscv64; on x86 also its
    /// [`IrqSource`]). `Copy`: a name, like the [`Cap`] it holds (the slot
    /// belongs to whoever made it). The interrupt reaches the notification
    /// it is bound to with that capability's badge, and comes again only
    /// after [`IrqHandler::ack`].
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct IrqHandler {
        cap: Cap<cap_type::IRQHandler>,
        vector: u32,
        #[cfg(target_arch = "x86_64")]
        source: IrqSource,
    }

    impl IrqHandler {
        /// A handler capability for `source` at `vector`, taken on trust
        /// (e.g. named in a component's description).
        #[cfg(target_arch = "x86_64")]
        pub const fn new(
            cap: Cap<cap_type::IRQHandler>,
            vector: u32,
            source: IrqSource,
        ) -> IrqHandler {
            IrqHandler {
                cap,
                vector,
                source,
            }
        }

        /// A handler capability for interrupt `irq`, taken on trust.
        #[cfg(not(target_arch = "x86_64"))]
        pub const fn new(cap: Cap<cap_type::IRQHandler>, irq: u32) -> IrqHandler {
            IrqHandler { cap, vector: irq }
        }

        /// The capability.
        pub const fn cap(&self) -> Cap<cap_type::IRQHandler> {
            self.cap
        }

        /// The vector (x86: the kernel's IRQ index; aarch64 and riscv64:
        /// the interrupt's number).
        pub const fn vector(&self) -> u32 {
            self.vector
        }

        /// What it handles.
        #[cfg(target_arch = "x86_64")]
        pub const fn source(&self) -> IrqSource {
            self.source
        }

        /// The interrupt signals `ntfn` (a badged notification capability:
        /// the badge tells this interrupt apart from others on the same
        /// notification). A handler is bound to at most one notification;
        /// binding again replaces it.
        pub fn bind(&self, ntfn: Cap<cap_type::Notification>) -> Result<(), IrqError> {
            self.cap
                .set_notification(ntfn)
                .map_err(|e| handler_error(e, 1))
        }

        /// The interrupt signals nothing any more.
        pub fn unbind(&self) -> Result<(), IrqError> {
            self.cap.clear().map_err(|e| handler_error(e, 0))
        }

        /// The interrupt may come again (the kernel masks it when it
        /// signals). Acknowledge after servicing the device, so that a
        /// level-triggered line has dropped.
        pub fn ack(&self) -> Result<(), IrqError> {
            self.cap.ack().map_err(|e| handler_error(e, 0))
        }
    }

    fn handler_error(e: InvocationError, argument: u8) -> IrqError {
        match e {
            InvocationError::InvalidCapability { argument: 0 } => {
                IrqError::InvalidCapability { argument: 0 }
            }
            InvocationError::InvalidCapability { .. } => IrqError::InvalidCapability { argument },
            e => IrqError::Kernel(e),
        }
    }

    /// Waits on the notification `ntfn` (an unbadged capability to it);
    /// returns the badges of every signal since the last wait.
    pub fn wait(ntfn: Cap<cap_type::Notification>) -> Badges {
        Badges(sel4_sys::wait(ntfn.cptr()))
    }

    /// The badges pending on `ntfn` without waiting (cleared by the call).
    pub fn poll(ntfn: Cap<cap_type::Notification>) -> Badges {
        Badges(sel4_sys::poll(ntfn.cptr()))
    }
}

#[cfg(all(target_os = "none", target_arch = "x86_64"))]
pub use target::*;

#[cfg(all(target_os = "none", target_arch = "x86_64"))]
mod target {
    use super::*;
    use sel4::prelude::*;
    use sel4::{cap_type, Cap, InvocationError, Slot, Word};

    /// The IRQ control capability with the vectors and IOAPIC pins handed
    /// out through it (module documentation). One per program: two
    /// `IrqControl`s over the same capability do not see each other's
    /// pins (the kernel still refuses a vector twice).
    #[derive(Debug)]
    pub struct IrqControl {
        cap: Cap<cap_type::IRQControl>,
        vectors: VectorSet,
        pins: PinMap,
        /// The kernel's largest vector, once asked.
        vector_max: Option<u32>,
    }

    fn word<T: Into<u64>>(v: T) -> Word {
        v.into()
    }

    impl IrqControl {
        /// The IRQ control capability `cap`. Nothing is checked yet: an
        /// empty slot or another object shows at the first use, as
        /// [`IrqError::NoIrqControl`].
        pub const fn new(cap: Cap<cap_type::IRQControl>) -> IrqControl {
            IrqControl {
                cap,
                vectors: VectorSet::new(),
                pins: PinMap::new(),
                vector_max: None,
            }
        }

        /// The root task's IRQ control capability (`sel4::init::IRQ_CONTROL`).
        pub const fn root() -> IrqControl {
            IrqControl::new(sel4::init::IRQ_CONTROL)
        }

        /// The capability.
        pub fn cap(&self) -> Cap<cap_type::IRQControl> {
            self.cap
        }

        /// The kernel's largest vector. Asked once, with an invocation
        /// that carries an impossible vector, which every supported kernel
        /// refuses with the range of vectors before it looks at anything
        /// else (so nothing changes; a debug kernel prints its refusal).
        /// [`IrqError::NoIrqControl`] when the capability is not the IRQ
        /// control capability, [`IrqError::NoIoapic`] on a kernel without
        /// an IOAPIC.
        pub fn vector_max(&mut self) -> Result<u32, IrqError> {
            if let Some(m) = self.vector_max {
                return Ok(m);
            }
            let probe =
                self.cap
                    .get_ioapic(sel4::init::CNODE.slot(0), 0, 0, false, false, Word::MAX);
            let m = match probe {
                Err(InvocationError::RangeError { max, .. }) => {
                    u32::try_from(max).unwrap_or(u32::MAX)
                }
                Err(InvocationError::InvalidCapability { .. }) => {
                    return Err(IrqError::NoIrqControl)
                }
                Err(InvocationError::IllegalOperation) => return Err(IrqError::NoIoapic),
                Err(e) => return Err(IrqError::Kernel(e)),
                // No kernel accepts that vector.
                Ok(()) => return Err(IrqError::Kernel(InvocationError::Unknown(0))),
            };
            self.vector_max = Some(m);
            Ok(m)
        }

        /// Vectors handed out through this `IrqControl` and not released.
        pub fn vectors(&self) -> &VectorSet {
            &self.vectors
        }

        /// A handler for `source` into the empty slot `dest`, at the lowest
        /// vector free in the kernel (a vector that turns out to have a
        /// handler made elsewhere is skipped).
        pub fn get(&mut self, source: IrqSource, dest: Slot) -> Result<IrqHandler, IrqError> {
            let mut limit = self.vector_max.unwrap_or(MAX_VECTORS as u32 - 1);
            loop {
                let v = self
                    .vectors
                    .first_free(limit)
                    .ok_or(IrqError::NoFreeVector)?;
                match self.get_at(source, v, dest) {
                    Err(IrqError::VectorTaken { vector }) => self.vectors.insert(vector),
                    // Past the kernel's range: every vector in it is taken.
                    Err(IrqError::VectorOutOfRange { max, .. }) => {
                        if max >= limit {
                            return Err(IrqError::NoFreeVector);
                        }
                        limit = max;
                    }
                    r => return r,
                }
            }
        }

        /// A handler for `source` at `vector` into the empty slot `dest`.
        pub fn get_at(
            &mut self,
            source: IrqSource,
            vector: u32,
            dest: Slot,
        ) -> Result<IrqHandler, IrqError> {
            if let Some(max) = self.vector_max.filter(|&m| vector > m) {
                return Err(IrqError::VectorOutOfRange { vector, max });
            }
            if let Some((ioapic, pin)) = source.pin() {
                if let Some(v) = self.pins.vector_of(ioapic, pin) {
                    return Err(IrqError::PinTaken {
                        ioapic,
                        pin,
                        vector: v,
                    });
                }
            }
            let r = match source {
                IrqSource::IoApic {
                    ioapic,
                    pin,
                    trigger,
                    polarity,
                } => self.cap.get_ioapic(
                    dest,
                    word(ioapic),
                    word(pin),
                    trigger == Trigger::Level,
                    polarity == Polarity::Low,
                    word(vector),
                ),
                IrqSource::Msi {
                    bus,
                    dev,
                    func,
                    handle,
                } => self
                    .cap
                    .get_msi(dest, word(bus), word(dev), word(func), handle, word(vector)),
            };
            match r {
                Ok(()) => {
                    self.vectors.insert(vector);
                    if let Some((ioapic, pin)) = source.pin() {
                        self.pins.insert(ioapic, pin, vector);
                    }
                    Ok(IrqHandler::new(dest.cap(), vector, source))
                }
                Err(e) => Err(self.decode(e, source, vector)),
            }
        }

        fn decode(&mut self, e: InvocationError, source: IrqSource, vector: u32) -> IrqError {
            match e {
                InvocationError::RevokeFirst => IrqError::VectorTaken { vector },
                InvocationError::DeleteFirst => IrqError::SlotInUse,
                InvocationError::FailedLookup { .. } => IrqError::BadSlot,
                InvocationError::InvalidCapability { argument: 0 } => IrqError::NoIrqControl,
                InvocationError::IllegalOperation => IrqError::NoIoapic,
                InvocationError::RangeError { max, .. } => {
                    // Which argument: the vector's range first (asked once).
                    let vmax = match self.vector_max() {
                        Ok(m) => m,
                        Err(err) => return err,
                    };
                    match source {
                        IrqSource::IoApic { ioapic, pin, .. } => {
                            attribute_range_error(vector, vmax, ioapic, pin, max)
                                .unwrap_or(IrqError::Kernel(e))
                        }
                        IrqSource::Msi { .. } if vector > vmax => {
                            IrqError::VectorOutOfRange { vector, max: vmax }
                        }
                        IrqSource::Msi { bus, dev, func, .. } => {
                            IrqError::BadPciAddress { bus, dev, func }
                        }
                    }
                }
                e => IrqError::Kernel(e),
            }
        }

        /// Forgets `handler`'s vector and pin, after its capability was
        /// deleted (so the kernel freed the vector). Consumes the handler's
        /// name.
        pub fn release(&mut self, handler: IrqHandler) {
            self.vectors.remove(handler.vector());
            self.pins.remove_vector(handler.vector());
        }
    }
}

#[cfg(all(target_os = "none", not(target_arch = "x86_64")))]
pub use line::*;

/// aarch64 (GIC) and riscv64 (PLIC): an interrupt is its number (a GIC
/// INTID, a PLIC source), `IRQControl_Get` makes its handler; the number
/// comes from the device tree.
#[cfg(all(target_os = "none", not(target_arch = "x86_64")))]
mod line {
    use super::*;
    use sel4::prelude::*;
    use sel4::{cap_type, Cap, InvocationError, Slot, Word};

    /// The IRQ control capability with the interrupts handed out through
    /// it. One per program (the kernel still refuses a number twice).
    #[derive(Debug)]
    pub struct IrqControl {
        cap: Cap<cap_type::IRQControl>,
        taken: Vec<u32>,
    }

    impl IrqControl {
        /// The IRQ control capability `cap` (checked at the first use).
        pub const fn new(cap: Cap<cap_type::IRQControl>) -> IrqControl {
            IrqControl {
                cap,
                taken: Vec::new(),
            }
        }

        /// The root task's IRQ control capability (`sel4::init::IRQ_CONTROL`).
        pub const fn root() -> IrqControl {
            IrqControl::new(sel4::init::IRQ_CONTROL)
        }

        /// The capability.
        pub fn cap(&self) -> Cap<cap_type::IRQControl> {
            self.cap
        }

        /// A handler for interrupt `irq` into the empty slot `dest`.
        pub fn get(&mut self, irq: u32, dest: Slot) -> Result<IrqHandler, IrqError> {
            if self.taken.contains(&irq) {
                return Err(IrqError::VectorTaken { vector: irq });
            }
            match self.cap.get(Word::from(irq), dest) {
                Ok(()) => {
                    self.taken.push(irq);
                    Ok(IrqHandler::new(dest.cap(), irq))
                }
                Err(e) => Err(match e {
                    InvocationError::RevokeFirst => IrqError::VectorTaken { vector: irq },
                    InvocationError::DeleteFirst => IrqError::SlotInUse,
                    InvocationError::FailedLookup { .. } => IrqError::BadSlot,
                    InvocationError::InvalidCapability { argument: 0 } => IrqError::NoIrqControl,
                    InvocationError::RangeError { max, .. } => IrqError::VectorOutOfRange {
                        vector: irq,
                        max: u32::try_from(max).unwrap_or(u32::MAX),
                    },
                    e => IrqError::Kernel(e),
                }),
            }
        }

        /// Forgets `handler`'s interrupt, after its capability was deleted.
        pub fn release(&mut self, handler: IrqHandler) {
            self.taken.retain(|&i| i != handler.vector());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::{format, vec, vec::Vec};

    #[test]
    fn vectors_are_handed_out_lowest_first() {
        let mut s = VectorSet::new();
        assert_eq!(s.first_free(107), Some(0));
        s.insert(0);
        s.insert(1);
        s.insert(3);
        assert_eq!(s.first_free(107), Some(2));
        s.insert(2);
        assert_eq!(s.first_free(107), Some(4));
        s.remove(1);
        assert_eq!(s.first_free(107), Some(1));
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn vectors_run_out_at_the_kernels_max() {
        let mut s = VectorSet::new();
        for v in 0..=5 {
            s.insert(v);
        }
        assert_eq!(s.first_free(5), None);
        assert_eq!(s.first_free(6), Some(6));
        // beyond the bookkeeping's size: ignored, never handed out
        s.insert(500);
        assert!(!s.contains(500));
        assert_eq!(s.first_free(1000), Some(6));
    }

    #[test]
    fn pins_know_their_vector() {
        let mut p = PinMap::new();
        p.insert(0, 2, 7);
        p.insert(0, 3, 8);
        assert_eq!(p.vector_of(0, 2), Some(7));
        assert_eq!(p.vector_of(1, 2), None);
        p.remove_vector(7);
        assert_eq!(p.vector_of(0, 2), None);
        assert_eq!(p.vector_of(0, 3), Some(8));
    }

    #[test]
    fn range_errors_are_traced_to_their_argument() {
        // the vector's own check
        assert_eq!(
            attribute_range_error(200, 107, 0, 2, 107),
            Some(IrqError::VectorOutOfRange {
                vector: 200,
                max: 107
            })
        );
        // one IOAPIC (max 0): index 1 is refused
        assert_eq!(
            attribute_range_error(5, 107, 1, 2, 0),
            Some(IrqError::NoSuchIoapic {
                ioapic: 1,
                count: 1
            })
        );
        // 24 pins (max 23): pin 24, with a vector larger than 23 that is
        // still valid (the old confusion: the vector is not the culprit)
        assert_eq!(
            attribute_range_error(50, 107, 0, 24, 23),
            Some(IrqError::BadPin {
                ioapic: 0,
                pin: 24,
                pins: 24
            })
        );
        // nothing out of range: not ours to explain
        assert_eq!(attribute_range_error(5, 107, 0, 3, 23), None);
    }

    #[test]
    fn isa_sources_follow_the_pc_routing() {
        assert_eq!(IrqSource::isa(0).pin(), Some((0, 2)));
        assert_eq!(IrqSource::isa(3).pin(), Some((0, 3)));
        assert_eq!(IrqSource::isa(4).pin(), Some((0, 4)));
        let msi = IrqSource::Msi {
            bus: 0,
            dev: 3,
            func: 0,
            handle: 1,
        };
        assert_eq!(msi.pin(), None);
    }

    #[test]
    fn badges() {
        let b = Badges(0b1010);
        assert!(b.contains(0b10));
        assert!(b.contains(0b1010));
        assert!(!b.contains(0b1));
        assert!(!b.contains(0), "badge 0 is never a member");
        assert_eq!(b.bits().collect::<Vec<_>>(), vec![0b10, 0b1000]);
    }

    #[test]
    fn errors_name_the_fix() {
        let t = format!(
            "{}",
            IrqError::PinTaken {
                ioapic: 0,
                pin: 3,
                vector: 5
            }
        );
        assert!(t.contains("pin 3") && t.contains("vector 5"), "{t}");
        let t = format!(
            "{}",
            IrqError::BadPin {
                ioapic: 0,
                pin: 30,
                pins: 24
            }
        );
        assert!(t.contains("0..=23"), "{t}");
    }
}
