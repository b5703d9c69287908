//! The panic handler: prints where and why, reports the failure on the
//! serial protocol (with the `test-protocol` feature), and ends the system with a failure status. A panic on a
//! spawned thread goes to that thread's joiner instead (`crate::thread`).
//! In a process (`crate::process`) a panic of any thread prints its message
//! and goes to the supervisor as a panic report; the system goes on.

//!
//! The process and spawned-thread paths are reached through hooks that
//! the process entry and thread creation register: a root task that
//! spawns no thread links neither (issue 11: size).
#![cfg_attr(not(target_os = "none"), allow(dead_code))]

use crate::console::write_fmt_unlocked;
use crate::exit::{exit, ExitCode};
use crate::sync::SetOnce;
use core::panic::PanicInfo;
use core::sync::atomic::{AtomicBool, Ordering};

static PANICKING: AtomicBool = AtomicBool::new(false);

/// What a panic does in a process ([`process_panic`]), registered by the
/// process entry before it marks the program as a process.
static PROCESS_PANIC: SetOnce<fn(&PanicInfo<'_>)> = SetOnce::new();
/// What a panic does on a thread other than the initial one
/// (`crate::thread::on_panic`), registered before such a thread has a
/// control block.
static THREAD_PANIC: SetOnce<fn(&PanicInfo<'_>)> = SetOnce::new();

/// Links the process panic path (the process entry, first thing).
pub(crate) fn use_process_panic() {
    let _ = PROCESS_PANIC.set(process_panic);
}

/// Links the spawned threads' panic path (before a thread other than the
/// initial one gets a control block).
pub(crate) fn use_thread_panic() {
    let _ = THREAD_PANIC.set(crate::thread::on_panic);
}

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    if crate::process::is_process() {
        if let Some(f) = PROCESS_PANIC.get() {
            f(info);
        }
    }
    // A panic on a thread the root task spawned ends that thread only.
    if let Some(f) = THREAD_PANIC.get() {
        f(info);
    }
    if PANICKING.swap(true, Ordering::SeqCst) {
        // A panic while panicking: print nothing more, just stop.
        exit(ExitCode::Failure);
    }
    // `file:line:column` (core's `Display` of a location), formatted once
    // per line below rather than as three arguments each time.
    let here = Here(info.location());
    write_fmt_unlocked(format_args!("panicked at {here}:\n{}\n", info.message()));
    #[cfg(feature = "test-protocol")]
    write_fmt_unlocked(format_args!(
        "{} panic at {here}: {}\n",
        sel4_test_protocol::RESULT_FAIL,
        info.message()
    ));
    exit(ExitCode::Failure)
}

/// A panic of any thread of a process is the process's: it prints the
/// message, and the supervisor hears of it (a thread that panics while
/// reporting just stops).
fn process_panic(info: &PanicInfo<'_>) {
    if crate::thread::current_panicking() {
        crate::process::stop_thread();
    }
    // Formatted into a fixed buffer: the heap may be what failed.
    let here = Here(info.location());
    let mut text = Text::new();
    let _ = core::fmt::write(&mut text, format_args!("{} at {here}", info.message()));
    write_fmt_unlocked(format_args!(
        "{}: panicked: {}\n",
        crate::process::name(),
        text.as_str()
    ));
    crate::process::report_panic(text.as_str());
}

/// Where a panic happened: `file:line:column`, or `<unknown>:0:0`.
struct Here<'a>(Option<&'a core::panic::Location<'a>>);

impl core::fmt::Display for Here<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            // Line and column as `u64`, like the runtime's other numbers:
            // `Location`'s own `Display` would link the `u32` formatter.
            Some(l) => write!(
                f,
                "{}:{}:{}",
                l.file(),
                u64::from(l.line()),
                u64::from(l.column())
            ),
            None => f.write_str("<unknown>:0:0"),
        }
    }
}

/// A fixed buffer that formats into (a process's panic message, cut at
/// what a report carries).
struct Text {
    buf: [u8; sel4_component_env::start::PANIC_MESSAGE_MAX],
    len: usize,
}

impl Text {
    fn new() -> Text {
        Text {
            buf: [0; sel4_component_env::start::PANIC_MESSAGE_MAX],
            len: 0,
        }
    }

    fn as_str(&self) -> &str {
        match core::str::from_utf8(&self.buf[..self.len]) {
            Ok(s) => s,
            Err(e) => core::str::from_utf8(&self.buf[..e.valid_up_to()]).unwrap_or(""),
        }
    }
}

impl core::fmt::Write for Text {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}
