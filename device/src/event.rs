//! The kernel's wake-ups as small traits, so that driver logic that blocks
//! and wakes is written once and tested on the host with fakes:
//! [`Signal`] (signal a notification through a badged capability),
//! [`Wait`] (block on a notification; returns the badges), [`Acknowledge`]
//! (let an interrupt come again). On the target, `Cap<Notification>`
//! implements the first two and `IrqHandler` the third.

/// Signals a notification (through a capability whose badge says who
/// signalled).
pub trait Signal {
    /// Signals; never blocks.
    fn signal(&self);
}

/// Blocks on a notification.
pub trait Wait {
    /// Blocks until the notification is signalled; returns the OR of the
    /// badges of every signal since the last wait.
    fn wait(&self) -> u64;
    /// The badges pending, without blocking (0: none).
    fn poll(&self) -> u64;
}

/// Acknowledges an interrupt: it may come again.
pub trait Acknowledge {
    /// What acknowledging can fail with.
    type Error: core::fmt::Debug;
    /// Acknowledges.
    fn ack(&self) -> Result<(), Self::Error>;
}

impl<S: Signal + ?Sized> Signal for &S {
    fn signal(&self) {
        (**self).signal()
    }
}

impl<W: Wait + ?Sized> Wait for &W {
    fn wait(&self) -> u64 {
        (**self).wait()
    }
    fn poll(&self) -> u64 {
        (**self).poll()
    }
}

#[cfg(target_os = "none")]
mod target {
    use super::*;
    use sel4::{cap_type, Cap};

    impl Signal for Cap<cap_type::Notification> {
        fn signal(&self) {
            sel4_sys::signal(self.cptr())
        }
    }

    impl Wait for Cap<cap_type::Notification> {
        fn wait(&self) -> u64 {
            sel4_sys::wait(self.cptr())
        }
        fn poll(&self) -> u64 {
            sel4_sys::poll(self.cptr())
        }
    }

    impl Acknowledge for crate::irq::IrqHandler {
        type Error = crate::irq::IrqError;
        fn ack(&self) -> Result<(), Self::Error> {
            crate::irq::IrqHandler::ack(self)
        }
    }
}
