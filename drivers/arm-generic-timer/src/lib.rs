//! The Arm generic timer's EL1 physical timer as a
//! [`sel4_device::OneShotTimer`], for the timer service on aarch64.
//!
//! seL4 (non-hypervisor) runs its own tick on the *virtual* timer
//! (`KERNEL_TIMER_IRQ` is the device tree's virtual-timer PPI, INTID 27 on
//! QEMU virt) and leaves the *physical* timer's registers to user mode
//! when built with `KernelArmExportPTMRUser` (as seL4test's settings do for
//! qemu-arm-virt, and `kernel-config/cmake/aarch64.cmake` here). Its
//! interrupt, the non-secure physical timer PPI (INTID 30 on QEMU virt),
//! is a level interrupt the root task takes from the IRQ control
//! capability; [`physical_timer_irq`] reads its number from the device
//! tree's `arm,armv8-timer` node.
//!
//! Arming writes `CNTP_TVAL_EL0` (a down-count in counter ticks, at most
//! 2^31 - 1: about 34 s at QEMU's 62.5 MHz; a longer timeout is armed in
//! steps by the service) and enables the timer in `CNTP_CTL_EL0`; the
//! interrupt stays raised until the timer is disabled or armed again.
//!
//! The register accesses are behind [`Registers`], so that the arithmetic
//! is tested on the host; [`SysRegs`] (aarch64 target) is the real one.
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(test)]
extern crate std;

#[cfg(test)]
mod tests;

use sel4_device::OneShotTimer;
use sel4_fdt::{Fdt, FdtError};

/// `CNTP_CTL_EL0.ENABLE`.
pub const CTL_ENABLE: u32 = 1 << 0;
/// `CNTP_CTL_EL0.IMASK` (interrupt masked).
pub const CTL_IMASK: u32 = 1 << 1;
/// `CNTP_CTL_EL0.ISTATUS` (the condition is met; read only).
pub const CTL_ISTATUS: u32 = 1 << 2;
/// The largest `CNTP_TVAL_EL0` (a signed 32-bit down-count).
pub const MAX_TVAL: u32 = i32::MAX as u32;
/// The device tree's `compatible` of the generic timer.
pub const COMPATIBLE: [&str; 2] = ["arm,armv8-timer", "arm,armv7-timer"];

/// The physical timer's registers.
pub trait Registers {
    /// Writes `CNTP_TVAL_EL0` (the compare value becomes the physical
    /// count plus `ticks`).
    fn write_tval(&mut self, ticks: u32);
    /// Writes `CNTP_CTL_EL0`.
    fn write_ctl(&mut self, ctl: u32);
    /// Reads `CNTP_CTL_EL0`.
    fn read_ctl(&self) -> u32;
}

/// The physical timer over its registers, at `hz` counter ticks per
/// second (`CNTFRQ_EL0`; seL4's `TIMER_FREQUENCY`).
#[derive(Debug)]
pub struct GenericTimer<R> {
    regs: R,
    hz: u64,
}

/// Why a [`GenericTimer`] was not made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerError {
    /// A counter frequency of 0.
    NoFrequency,
    /// The kernel does not let user mode program the physical timer.
    NotExported,
}

impl core::fmt::Display for TimerError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TimerError::NoFrequency => write!(f, "the generic timer's frequency is 0"),
            TimerError::NotExported => write!(
                f,
                "the kernel keeps the physical timer from user mode: build it with \
                 KernelArmExportPTMRUser=ON (kernel-config/cmake/aarch64.cmake does)"
            ),
        }
    }
}

impl<R: Registers> GenericTimer<R> {
    /// The timer over `regs` at `hz` ticks per second, disabled.
    pub fn new(mut regs: R, hz: u64) -> Result<GenericTimer<R>, TimerError> {
        if hz == 0 {
            return Err(TimerError::NoFrequency);
        }
        regs.write_ctl(0);
        Ok(GenericTimer { regs, hz })
    }

    /// Ticks per second.
    pub fn hz(&self) -> u64 {
        self.hz
    }

    /// Whether the armed delay has passed (`ISTATUS`).
    pub fn expired(&self) -> bool {
        self.regs.read_ctl() & CTL_ISTATUS != 0
    }

    fn ticks_to_ns(&self, ticks: u64) -> u64 {
        let ns = (u128::from(ticks) * 1_000_000_000).div_ceil(u128::from(self.hz));
        u64::try_from(ns).unwrap_or(u64::MAX)
    }

    fn ns_to_ticks(&self, ns: u64) -> u64 {
        let t = (u128::from(ns) * u128::from(self.hz)).div_ceil(1_000_000_000);
        u64::try_from(t).unwrap_or(u64::MAX)
    }
}

impl<R: Registers> OneShotTimer for GenericTimer<R> {
    type Error = core::convert::Infallible;

    fn max_ns(&self) -> u64 {
        // Rounded down: MAX_TVAL ticks cover at least this long.
        (u128::from(MAX_TVAL) * 1_000_000_000 / u128::from(self.hz)) as u64
    }

    fn resolution_ns(&self) -> u64 {
        self.ticks_to_ns(1)
    }

    fn arm(&mut self, ns: u64) -> Result<u64, Self::Error> {
        let ticks = self.ns_to_ticks(ns).clamp(1, u64::from(MAX_TVAL));
        // Disabled first: the new compare value is in place before the
        // interrupt can be raised again.
        self.regs.write_ctl(0);
        self.regs.write_tval(ticks as u32);
        self.regs.write_ctl(CTL_ENABLE);
        Ok(self.ticks_to_ns(ticks))
    }

    fn disarm(&mut self) -> Result<(), Self::Error> {
        // Disabled, the timer's interrupt output is low.
        self.regs.write_ctl(0);
        Ok(())
    }
}

/// The physical timer's interrupt (a GIC INTID: PPI number + 16) from the
/// device tree: the second entry of the `arm,armv8-timer` node's
/// `interrupts` (secure physical, non-secure physical, virtual,
/// hypervisor; three cells each: type 1 = PPI, number, flags). `None` when
/// the tree has no generic timer or the entry is not a PPI.
pub fn physical_timer_irq(fdt: &Fdt<'_>) -> Result<Option<u32>, FdtError> {
    let mut node = None;
    for c in COMPATIBLE {
        if let Some(n) = fdt.find_compatible(c)? {
            node = Some(n);
            break;
        }
    }
    let Some(node) = node else {
        return Ok(None);
    };
    let Some(v) = node.property("interrupts")? else {
        return Ok(None);
    };
    let cell = |i: usize| -> Option<u32> {
        v.get(i * 4..i * 4 + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    const PPI: u32 = 1;
    match (cell(3), cell(4)) {
        (Some(PPI), Some(n)) if n < 16 => Ok(Some(n + 16)),
        _ => Ok(None),
    }
}

#[cfg(all(target_os = "none", target_arch = "aarch64"))]
pub use sysregs::SysRegs;

#[cfg(all(target_os = "none", target_arch = "aarch64"))]
#[allow(unsafe_code)]
mod sysregs {
    use super::{Registers, TimerError};

    /// The physical timer's system registers of the running core.
    ///
    /// One value per program: the registers are per core, not per thread
    /// (seL4 does not switch them), so two users would disturb each other.
    #[derive(Debug)]
    pub struct SysRegs(());

    impl SysRegs {
        /// The registers, when the kernel lets user mode reach them
        /// (`KernelArmExportPTMRUser`); otherwise an error naming the
        /// option (an access would be an undefined-instruction fault).
        pub fn new() -> Result<SysRegs, TimerError> {
            sel4_sys::sel4_cfg_if! { config EXPORT_PTMR_USER {
                Ok(SysRegs(()))
            } else {
                Err(TimerError::NotExported)
            } }
        }
    }

    impl Registers for SysRegs {
        fn write_tval(&mut self, ticks: u32) {
            // SAFETY: the kernel gives user mode the physical timer
            // (checked in `new`); the write touches no memory.
            unsafe {
                core::arch::asm!("msr cntp_tval_el0, {}", "isb", in(reg) u64::from(ticks),
                    options(nostack, nomem, preserves_flags));
            }
        }
        fn write_ctl(&mut self, ctl: u32) {
            // SAFETY: as for write_tval.
            unsafe {
                core::arch::asm!("msr cntp_ctl_el0, {}", "isb", in(reg) u64::from(ctl),
                    options(nostack, nomem, preserves_flags));
            }
        }
        fn read_ctl(&self) -> u32 {
            let v: u64;
            // SAFETY: as for write_tval; a read has no effect.
            unsafe {
                core::arch::asm!("mrs {}, cntp_ctl_el0", out(reg) v,
                    options(nostack, nomem, preserves_flags));
            }
            v as u32
        }
    }
}
