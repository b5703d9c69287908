//! The console: the kernel's debug console (seL4_DebugPutChar), or on x86_64
//! a 16550 UART at COM1 driven by the runtime itself, with whole-line
//! locking so that lines from several threads do not interleave.
//!
//! **Which one** ([`backend`]): the UART when the kernel has no debug
//! console (a kernel built without `KernelPrinting`, such as a release
//! kernel: it then leaves COM1 alone), or when the application enables the
//! runtime's `console-uart` feature; the kernel's console otherwise. The
//! choice is made before `main` (before the `boot` line of the test
//! protocol), so everything the runtime and the program print, the
//! protocol included, goes the same way. The UART is COM1 (ports
//! 0x3f8..=0x3ff, 115200 8N1), which QEMU connects to its first `-serial`
//! (the runner's console); it is written by polling, through an I/O port
//! capability the runtime issues for it (seL4 10+, in its slot
//! `RuntimeSlot::ConsolePorts`; seL4 5.x: the root task's capability for
//! every port) and the `sel4-uart-16550` driver. If COM1 does not answer,
//! output goes to the kernel's console when there is one (and is lost
//! when there is none: QEMU's exit status still tells the result).
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

/// Where the console writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The kernel's debug console (seL4_DebugPutChar).
    Kernel,
    /// A 16550 UART at this I/O port, written by polling.
    Uart {
        /// The UART's first port.
        base: u16,
    },
    /// Nowhere: the kernel has no debug console and the UART did not
    /// answer.
    None,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Backend::Kernel => write!(f, "the kernel's debug console"),
            Backend::Uart { base } => write!(f, "the 16550 UART at I/O port {base:#x}"),
            Backend::None => write!(f, "none (no debug console, no UART)"),
        }
    }
}

/// The UART the console writes to, when it does (set once, before `main`).
#[cfg(target_arch = "x86_64")]
type ConsoleUart = sel4_uart_16550::Uart<sel4_uart_16550::PortRegisters<sel4_device::IoPorts>>;

#[cfg(target_arch = "x86_64")]
static UART: crate::sync::SetOnce<ConsoleUart> = crate::sync::SetOnce::new();

/// COM1's ports: the console UART.
#[cfg(target_arch = "x86_64")]
pub const CONSOLE_PORTS: (u16, u16) = (0x3f8, 0x3ff);

/// Whether the console is to use the UART: the kernel has no debug
/// console, or the `console-uart` feature asks for it.
pub const fn wants_uart() -> bool {
    cfg!(all(target_arch = "x86_64", feature = "console-uart"))
        || (cfg!(target_arch = "x86_64") && sel4_sys::syscall_opt::DEBUG_PUT_CHAR.is_none())
}

/// Where the console writes now.
pub fn backend() -> Backend {
    #[cfg(target_arch = "x86_64")]
    if UART.get().is_some() {
        return Backend::Uart {
            base: CONSOLE_PORTS.0,
        };
    }
    if sel4_sys::syscall_opt::DEBUG_PUT_CHAR.is_some() {
        Backend::Kernel
    } else {
        Backend::None
    }
}

/// Sets up the UART console on the I/O port capability `ports` (for
/// [`CONSOLE_PORTS`]); returns what failed. Runtime start only.
#[cfg(target_arch = "x86_64")]
pub(crate) fn init_uart(ports: Cap<cap_type::X86IOPort>) -> Result<(), &'static str> {
    use sel4_device::{IoPorts, PortRange};
    use sel4_uart_16550::{Config, PortRegisters, Uart};
    let range = PortRange::new(CONSOLE_PORTS.0, CONSOLE_PORTS.1).map_err(|_| "port range")?;
    let uart = Uart::new(PortRegisters::new(
        IoPorts::new(ports, range),
        CONSOLE_PORTS.0,
    ));
    uart.init(&Config::default()).map_err(|e| match e {
        sel4_uart_16550::UartError::NotPresent => "no UART answers at COM1",
        _ => "programming COM1 failed",
    })?;
    let _ = UART.set(uart);
    Ok(())
}

/// Writes `bytes` to the console's device, without any lock.
fn out(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    if let Some(u) = UART.get() {
        let _ = u.write_blocking(bytes);
        return;
    }
    let _ = sel4_sys::debug_write(bytes);
}

/// Bytes formatted on the stack before the text spills to the heap.
pub const STACK_BUFFER: usize = 256;

/// Binds the console lock to its notification (runtime start).
pub(crate) fn bind(ntfn: Cap<cap_type::Notification>) -> bool {
    LOCK.bind(ntfn)
}

/// A writer straight to the console's device ([`backend`]), without the
/// lock. Output is dropped silently when there is none.
pub struct DebugConsole;

impl Write for DebugConsole {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        out(s.as_bytes());
        Ok(())
    }
}

/// Writes bytes under the console lock. If the lock cannot be taken (the
/// calling thread holds it: a panic inside the console), writes without.
fn write_locked(bytes: &[u8]) {
    match LOCK.lock() {
        Ok(_g) => out(bytes),
        Err(_) => out(bytes),
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
            // `get`: `len` never passes the buffer, and no slicing panic
            // is linked into every root task for it.
            self.stack.get(..self.len).unwrap_or(&[])
        } else {
            &self.heap
        }
    }
}

impl Write for Text {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let b = s.as_bytes();
        if self.direct {
            out(b);
            return Ok(());
        }
        if self.heap.is_empty() {
            let room = self.stack.get_mut(self.len..);
            if let Some(room) = room.and_then(|r| r.get_mut(..b.len())) {
                // Not `copy_from_slice`: at opt-level "z" its length check
                // stays out of line, with its panic.
                for (to, &from) in room.iter_mut().zip(b) {
                    *to = from;
                }
                self.len += b.len();
                return Ok(());
            }
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
            out(b);
            return Ok(());
        }
        if self.heap.is_empty() {
            let text = self.stack.get(..self.len).unwrap_or(&[]);
            self.heap.extend_from_slice(text);
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
    write_text(args, false);
}

/// [`write_fmt`] with a line ending: what [`println!`](crate::println)
/// calls (one argument list per call site, not one inside another).
#[doc(hidden)]
pub fn write_line(args: fmt::Arguments<'_>) {
    write_text(args, true);
}

fn write_text(args: fmt::Arguments<'_>, newline: bool) {
    let mut t = Text {
        stack: [0; STACK_BUFFER],
        len: 0,
        heap: Vec::new(),
        direct: false,
    };
    let _ = t.write_fmt(args);
    if newline {
        let _ = t.write_str("\n");
    }
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
    ($($arg:tt)*) => { $crate::console::write_line(format_args!($($arg)*)) };
}
