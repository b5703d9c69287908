//! Interrupts: handlers from the IRQ control capability (the
//! architecture's own forms are in `arch`, e.g. IOAPIC and MSI on x86).

use crate::{cap_type, Cap, Result, Slot, Word};

/// Operations on the IRQ control capability every architecture has.
pub trait IrqControlOps {
    /// `IRQControl_Get`: a handler capability for interrupt `irq` into the
    /// empty slot `dest`. (seL4 5.x takes the number as a C `int`: a larger
    /// one is refused with `RangeError` without calling the kernel.)
    fn get(self, irq: Word, dest: Slot) -> Result<()>;
}

impl IrqControlOps for Cap<cap_type::IRQControl> {
    fn get(self, irq: Word, dest: Slot) -> Result<()> {
        crate::sel4_cfg_if! { kernel >= 9 {
            self.irq_control_get(irq, dest.root, dest.index, dest.depth)
        } else {
            // seL4 5.x types the number as a C int
            let Ok(irq) = i32::try_from(irq) else {
                return Err(crate::InvocationError::RangeError {
                    min: 0,
                    max: i32::MAX as Word,
                });
            };
            self.irq_control_get(irq, dest.root, dest.index, dest.depth)
        } }
    }
}

/// Operations on an IRQ handler capability.
pub trait IrqHandlerOps {
    /// `IRQHandler_Ack`: the interrupt may come again.
    fn ack(self) -> Result<()>;
    /// `IRQHandler_SetNotification`: the interrupt signals `ntfn` (with
    /// the badge of that capability).
    fn set_notification(self, ntfn: Cap<cap_type::Notification>) -> Result<()>;
    /// `IRQHandler_Clear`: the interrupt signals nothing.
    fn clear(self) -> Result<()>;
}

impl IrqHandlerOps for Cap<cap_type::IRQHandler> {
    fn ack(self) -> Result<()> {
        self.irq_handler_ack()
    }
    fn set_notification(self, ntfn: Cap<cap_type::Notification>) -> Result<()> {
        self.irq_handler_set_notification(ntfn.cptr())
    }
    fn clear(self) -> Result<()> {
        self.irq_handler_clear()
    }
}
