//! Start-up tracing (cargo feature `startup-trace`, x86_64): the time stamp
//! counter at the first system call and the number of system calls made,
//! for the start-up figures of a boot test (`apps/startup`). Under QEMU's
//! `-icount shift=0` the counter counts instructions. Without the feature
//! (every image but that test's) the hook is empty and nothing is kept.

#[cfg(all(feature = "startup-trace", target_arch = "x86_64"))]
mod on {
    use core::sync::atomic::{AtomicU64, Ordering};

    static FIRST: AtomicU64 = AtomicU64::new(0);
    static COUNT: AtomicU64 = AtomicU64::new(0);

    #[inline(always)]
    pub(crate) fn syscall_entered() {
        if COUNT.fetch_add(1, Ordering::Relaxed) == 0 {
            FIRST.store(crate::arch::rdtsc(), Ordering::Relaxed);
        }
    }

    pub(crate) fn first() -> Option<u64> {
        Some(FIRST.load(Ordering::Relaxed)).filter(|&t| t != 0)
    }

    pub(crate) fn count() -> u64 {
        COUNT.load(Ordering::Relaxed)
    }
}

/// Called right before each system call instruction (also by the
/// runtime's own system call sequences). Empty without the feature.
#[inline(always)]
pub fn syscall_entered() {
    #[cfg(all(feature = "startup-trace", target_arch = "x86_64"))]
    on::syscall_entered();
}

/// The time stamp counter right before this program's first system call;
/// `None` without the feature (or before any system call).
pub fn first_syscall_tsc() -> Option<u64> {
    #[cfg(all(feature = "startup-trace", target_arch = "x86_64"))]
    return on::first();
    #[cfg(not(all(feature = "startup-trace", target_arch = "x86_64")))]
    None
}

/// System calls made so far (of every thread); `None` without the feature.
pub fn syscalls() -> Option<u64> {
    #[cfg(all(feature = "startup-trace", target_arch = "x86_64"))]
    return Some(on::count());
    #[cfg(not(all(feature = "startup-trace", target_arch = "x86_64")))]
    None
}
