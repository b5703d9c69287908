//! Ending the system.
//!
//! On QEMU the root task ends the emulator through the isa-debug-exit
//! device (I/O port 0xf4; QEMU exits with status (v << 1) | 1 for a value
//! v written there), using the root task's I/O port capability. Where that
//! is not possible (no I/O port capability, no such device), the system is
//! halted with seL4_DebugHalt when the kernel has it, and otherwise the
//! initial thread suspends itself.

use sel4_sys::{InvocationLabel, MessageInfo};

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

/// Writes one byte to an I/O port through an IOPort capability; returns the
/// kernel's error code (0 = success).
pub fn ioport_out8(cap: sel4_sys::CPtr, port: u16, value: u8) -> usize {
    let info = MessageInfo::new(InvocationLabel::X86IOPortOut8 as u64, 0, 0, 2);
    let r = sel4_sys::call_regs(cap, info, [u64::from(port), u64::from(value), 0, 0]);
    r.info.get_label() as usize
}

/// Ends the system with `code`. Never returns.
pub fn exit(code: ExitCode) -> ! {
    if let Some(&cap) = IOPORT_CAP.get() {
        ioport_out8(cap, DEBUG_EXIT_PORT, code.value());
    }
    // Not on QEMU, or the write did not end it.
    let _ = sel4_sys::debug_halt();
    loop {
        suspend_self();
        sel4_sys::yield_now();
    }
}

fn suspend_self() {
    let info = MessageInfo::new(InvocationLabel::TCBSuspend as u64, 0, 0, 0);
    sel4_sys::call_regs(crate::bootinfo::INIT_THREAD_TCB, info, [0; 4]);
}
