//! The kernel's debug console (seL4_DebugPutChar), with whole-line locking
//! so that lines from several threads do not interleave.
//!
//! [`write_fmt`] formats first, without any lock (user `Display` code runs
//! then: it may panic, fault, block or print itself), into a buffer on the
//! stack that spills to the heap for long text; then it takes the console
//! lock (kernel-backed, [`crate::sync`]) only to write the finished bytes.
//! So no user code ever runs with the console lock held, a thread that
//! dies while formatting holds nothing, and every line (every call) comes
//! out whole. When the heap cannot hold a long text, what is formatted so
//! far is written under the lock and the rest goes out piece by piece
//! without it (it may then interleave with other threads' lines, but
//! nothing is lost and nothing blocks).

use alloc::vec::Vec;
use core::fmt::{self, Write};

use sel4_sys::{cap_type, Cap};

use crate::sync::RuntimeLock;

static LOCK: RuntimeLock<()> = RuntimeLock::new(());

/// Bytes formatted on the stack before the text spills to the heap.
pub const STACK_BUFFER: usize = 256;

/// Binds the console lock to its notification (runtime start).
pub(crate) fn bind(ntfn: Cap<cap_type::Notification>) -> bool {
    LOCK.bind(ntfn)
}

/// A writer straight to the debug console, without the lock. Output is
/// dropped silently when the kernel has no debug console (a non-printing
/// build).
pub struct DebugConsole;

impl Write for DebugConsole {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let _ = sel4_sys::debug_write(s.as_bytes());
        Ok(())
    }
}

/// Writes bytes under the console lock. If the lock cannot be taken (the
/// calling thread holds it: a panic inside the console), writes without.
fn write_locked(bytes: &[u8]) {
    match LOCK.lock() {
        Ok(_g) => {
            let _ = sel4_sys::debug_write(bytes);
        }
        Err(_) => {
            let _ = sel4_sys::debug_write(bytes);
        }
    }
}

/// The text of one `print!`: on the stack, then on the heap.
struct Text {
    stack: [u8; STACK_BUFFER],
    len: usize,
    heap: Vec<u8>,
    /// The heap refused to grow: from here on, text goes out unlocked.
    direct: bool,
}

impl Text {
    fn bytes(&self) -> &[u8] {
        if self.heap.is_empty() {
            &self.stack[..self.len]
        } else {
            &self.heap
        }
    }
}

impl Write for Text {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let b = s.as_bytes();
        if self.direct {
            let _ = sel4_sys::debug_write(b);
            return Ok(());
        }
        if self.heap.is_empty() && self.len + b.len() <= STACK_BUFFER {
            self.stack[self.len..self.len + b.len()].copy_from_slice(b);
            self.len += b.len();
            return Ok(());
        }
        let need = self.len.max(self.heap.len()) + b.len();
        if self
            .heap
            .try_reserve(need.saturating_sub(self.heap.len()))
            .is_err()
        {
            // No heap for the rest: out with what there is, then the rest
            // as it comes.
            write_locked(self.bytes());
            self.heap = Vec::new();
            self.len = 0;
            self.direct = true;
            let _ = sel4_sys::debug_write(b);
            return Ok(());
        }
        if self.heap.is_empty() {
            self.heap.extend_from_slice(&self.stack[..self.len]);
        }
        self.heap.extend_from_slice(b);
        Ok(())
    }
}

/// Formats `args` (no lock held), then writes the text under the console
/// lock.
pub fn write_fmt(args: fmt::Arguments<'_>) {
    // Text without arguments needs no formatting.
    if let Some(s) = args.as_str() {
        write_locked(s.as_bytes());
        return;
    }
    let mut t = Text {
        stack: [0; STACK_BUFFER],
        len: 0,
        heap: Vec::new(),
        direct: false,
    };
    let _ = t.write_fmt(args);
    if !t.direct {
        write_locked(t.bytes());
    }
}

/// Writes formatted text without taking the lock: for the panic path of
/// the initial thread, which ends the system.
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
