//! Start-up figures (cargo feature `startup-trace`, x86_64): time stamp
//! counter readings at the first instruction of `_start`, right before the
//! first system call and right before `main`, and the system calls made
//! until `main`. Under QEMU's `-icount shift=0` the counter counts
//! instructions, so the differences are instruction counts (from `_start`
//! to `main` they include the kernel's instructions for those system
//! calls). The boot test `apps/startup` prints them; without the feature
//! [`figures`] is `None` and nothing is recorded.

/// Start-up figures, in time stamp counter ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Figures {
    /// At the first instruction of `_start`.
    pub start: u64,
    /// Right before the first system call.
    pub first_syscall: u64,
    /// Right before `main`.
    pub main: u64,
    /// System calls made before `main`.
    pub syscalls_before_main: u64,
}

#[cfg(all(feature = "startup-trace", target_arch = "x86_64"))]
mod on {
    use core::sync::atomic::{AtomicU64, Ordering};

    pub(super) static MAIN: AtomicU64 = AtomicU64::new(0);
    pub(super) static SYSCALLS: AtomicU64 = AtomicU64::new(0);

    pub(super) fn at_main() {
        SYSCALLS.store(sel4_sys::trace::syscalls().unwrap_or(0), Ordering::Relaxed);
        MAIN.store(sel4_sys::arch::rdtsc(), Ordering::Relaxed);
    }
}

/// Records the counter right before `main` (the runtime's last step).
#[inline(always)]
pub(crate) fn at_main() {
    #[cfg(all(feature = "startup-trace", target_arch = "x86_64"))]
    on::at_main();
}

/// The start-up figures; `None` without the feature `startup-trace`.
#[cfg(all(feature = "startup-trace", target_arch = "x86_64"))]
pub fn figures() -> Option<Figures> {
    use core::sync::atomic::Ordering;
    Some(Figures {
        start: sel4_start::start_tsc()?,
        first_syscall: sel4_sys::trace::first_syscall_tsc()?,
        main: on::MAIN.load(Ordering::Relaxed),
        syscalls_before_main: on::SYSCALLS.load(Ordering::Relaxed),
    })
}

/// The start-up figures; `None` without the feature `startup-trace`.
#[cfg(not(all(feature = "startup-trace", target_arch = "x86_64")))]
pub fn figures() -> Option<Figures> {
    None
}
