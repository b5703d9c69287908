//! The kernel's debug console (seL4_DebugPutChar), with whole-line locking
//! so that lines from several threads do not interleave.

use core::fmt::{self, Write};

static LOCK: spin::Mutex<()> = spin::Mutex::new(());

/// A writer to the debug console. Output is dropped silently when the
/// kernel has no debug console (a non-printing build).
pub struct DebugConsole;

impl Write for DebugConsole {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let _ = sel4_sys::debug_write(s.as_bytes());
        Ok(())
    }
}

/// Writes formatted text to the console while holding the console lock.
pub fn write_fmt(args: fmt::Arguments<'_>) {
    let _guard = LOCK.lock();
    let _ = DebugConsole.write_fmt(args);
}

/// Writes formatted text without taking the lock: for the panic path, where
/// the lock may be held by the thread that panicked.
pub fn write_fmt_unlocked(args: fmt::Arguments<'_>) {
    let _ = DebugConsole.write_fmt(args);
}

/// Prints to the debug console.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::console::write_fmt(format_args!($($arg)*)) };
}

/// Prints a line to the debug console.
#[macro_export]
macro_rules! println {
    () => { $crate::console::write_fmt(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::console::write_fmt(format_args!("{}\n", format_args!($($arg)*))) };
}
