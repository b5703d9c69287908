//! Ending the system.
//!
//! With the runtime's `test-protocol` feature (test images and the examples
//! enable it, for the QEMU runner `sel4-run`), on QEMU the root task ends the emulator with an exit status that says
//! success (v = 0) or failure (v = 1); QEMU exits with status (v << 1) | 1
//! on every architecture, so that status 0 (QEMU ending for any other
//! reason) is never taken for success:
//! - x86_64: the isa-debug-exit device (I/O port 0xf4; QEMU exits with
//!   (v << 1) | 1 for a value v written there), through the root task's I/O
//!   port capability;
//! - aarch64 and riscv64: semihosting `SYS_EXIT` with
//!   `ADP_Stopped_ApplicationExit` and the subcode (v << 1) | 1, which QEMU
//!   returns as its exit status. The boot images start QEMU with
//!   `-semihosting-config enable=on,userspace=on`; the call traps to QEMU
//!   straight from user mode, so it needs no capability and no kernel
//!   support (on a QEMU without semihosting, or on hardware, the trap is a
//!   fault of the initial thread instead, which the kernel reports).
//!
//! Without the feature, or where that is not possible (no I/O port
//! capability, no such device), the system is halted with seL4_DebugHalt
//! when the kernel has it, and otherwise the initial thread suspends
//! itself.

use sel4_sys::{cap_type, Cap};

#[cfg(feature = "test-protocol")]
pub use qemu::*;

/// How the root task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Everything passed: QEMU exits with status 1 (v = 0).
    Success,
    /// Something failed (a panic, a failed test): QEMU exits with status 3
    /// (v = 1).
    Failure,
}

impl ExitCode {
    /// The exit value: 0 for success, 1 for failure (the QEMU exit
    /// status's `v`, and the code a process reports to its supervisor).
    pub(crate) const fn value(self) -> u8 {
        match self {
            ExitCode::Success => 0,
            ExitCode::Failure => 1,
        }
    }
}

/// Ending QEMU with an exit status (the `test-protocol` feature).
#[cfg(feature = "test-protocol")]
mod qemu {
    use super::*;

    /// The status QEMU exits with for `code`: (v << 1) | 1.
    pub const fn qemu_exit_status(code: ExitCode) -> u32 {
        ((code.value() as u32) << 1) | 1
    }

    /// I/O port of QEMU's isa-debug-exit device as the boot images configure it.
    #[cfg(target_arch = "x86_64")]
    pub const DEBUG_EXIT_PORT: u16 = 0xf4;

    #[cfg(target_arch = "x86_64")]
    static IOPORT_CAP: crate::sync::SetOnce<sel4_sys::CPtr> = crate::sync::SetOnce::new();

    /// Records the capability used to reach the debug-exit port (set up by the
    /// runtime at start).
    #[cfg(target_arch = "x86_64")]
    pub(crate) fn set_ioport_cap(cap: sel4_sys::CPtr) {
        let _ = IOPORT_CAP.set(cap);
    }

    /// Writes one byte to an I/O port through an IOPort capability.
    #[cfg(target_arch = "x86_64")]
    pub fn ioport_out8(
        cap: sel4_sys::CPtr,
        port: u16,
        value: u8,
    ) -> Result<(), sel4_sys::InvocationError> {
        Cap::<cap_type::X86IOPort>::from_cptr(cap)
            .x86_io_port_out8(u64::from(port), u64::from(value))
    }

    /// Asks QEMU to exit with [`qemu_exit_status`]; returns when it did not.
    #[cfg(target_arch = "x86_64")]
    pub(super) fn exit_qemu(code: ExitCode) {
        if let Some(&cap) = IOPORT_CAP.get() {
            // An error here means no debug-exit device: fall through to halt.
            let _ = ioport_out8(cap, DEBUG_EXIT_PORT, code.value());
        }
    }

    /// Semihosting operation `SYS_EXIT`.
    #[cfg(not(target_arch = "x86_64"))]
    const SYS_EXIT: usize = 0x18;
    /// `SYS_EXIT` reason: the application exited (the subcode is its status).
    #[cfg(not(target_arch = "x86_64"))]
    const ADP_STOPPED_APPLICATION_EXIT: usize = 0x20026;

    /// Asks QEMU to exit with [`qemu_exit_status`] (semihosting `SYS_EXIT`,
    /// whose 64-bit form takes a block {reason, subcode}).
    #[cfg(not(target_arch = "x86_64"))]
    pub(super) fn exit_qemu(code: ExitCode) {
        let block = [
            ADP_STOPPED_APPLICATION_EXIT,
            qemu_exit_status(code) as usize,
        ];
        crate::arch::semihosting_call(SYS_EXIT, &block);
    }
}

/// Ends the system with `code`. Never returns. In a process
/// (`crate::process`): reports the exit (0 for success, 1 for failure) to
/// the supervisor and stops the calling thread instead.
pub fn exit(code: ExitCode) -> ! {
    if crate::process::is_process() {
        crate::process::exit(u64::from(code.value()));
    }
    #[cfg(feature = "test-protocol")]
    qemu::exit_qemu(code);
    #[cfg(not(feature = "test-protocol"))]
    let _ = code;
    // Not on QEMU, or the request did not end it.
    let _ = sel4_sys::debug_halt();
    loop {
        suspend_self();
        sel4_sys::yield_now();
    }
}

fn suspend_self() {
    let _ = Cap::<cap_type::TCB>::from_cptr(crate::bootinfo::INIT_THREAD_TCB).tcb_suspend();
}
