//! Ending the system.
//!
//! On QEMU the root task ends the emulator through the isa-debug-exit
//! device (I/O port 0xf4; QEMU exits with status (v << 1) | 1 for a value
//! v written there), using the root task's I/O port capability. Where that
//! is not possible (no I/O port capability, no such device), the system is
//! halted with seL4_DebugHalt when the kernel has it, and otherwise the
//! initial thread suspends itself.

use sel4_sys::{cap_type, Cap};

/// How the root task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    Success,
    Failure,
}

impl ExitCode {
    fn value(self) -> u8 {
        match self {
            ExitCode::Success => 0,
            ExitCode::Failure => 1,
        }
    }
}

/// I/O port of QEMU's isa-debug-exit device as the boot images configure it.
pub const DEBUG_EXIT_PORT: u16 = 0xf4;

static IOPORT_CAP: spin::Once<sel4_sys::CPtr> = spin::Once::new();

/// Records the capability used to reach the debug-exit port (set up by the
/// runtime at start).
pub(crate) fn set_ioport_cap(cap: sel4_sys::CPtr) {
    IOPORT_CAP.call_once(|| cap);
}

/// Writes one byte to an I/O port through an IOPort capability.
pub fn ioport_out8(
    cap: sel4_sys::CPtr,
    port: u16,
    value: u8,
) -> Result<(), sel4_sys::InvocationError> {
    Cap::<cap_type::X86IOPort>::from_cptr(cap).x86_io_port_out8(u64::from(port), u64::from(value))
}

/// Ends the system with `code`. Never returns.
pub fn exit(code: ExitCode) -> ! {
    if let Some(&cap) = IOPORT_CAP.get() {
        // An error here means no debug-exit device: fall through to halt.
        let _ = ioport_out8(cap, DEBUG_EXIT_PORT, code.value());
    }
    // Not on QEMU, or the write did not end it.
    let _ = sel4_sys::debug_halt();
    loop {
        suspend_self();
        sel4_sys::yield_now();
    }
}

fn suspend_self() {
    let _ = Cap::<cap_type::TCB>::from_cptr(crate::bootinfo::INIT_THREAD_TCB).tcb_suspend();
}
