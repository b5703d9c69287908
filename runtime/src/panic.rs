//! The panic handler: prints where and why, reports the failure on the
//! serial protocol (with the `test-protocol` feature), and ends the system with a failure status. A panic on a
//! spawned thread goes to that thread's joiner instead (`crate::thread`).
//! In a process (`crate::process`) a panic of any thread prints its message
//! and goes to the supervisor as a panic report; the system goes on.

use crate::console::write_fmt_unlocked;
use crate::exit::{exit, ExitCode};
use core::sync::atomic::{AtomicBool, Ordering};

static PANICKING: AtomicBool = AtomicBool::new(false);

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    // `file:line:column` (core's `Display` of a location), formatted once
    // per line below rather than as three arguments each time.
    let here = Here(info.location());
    // A panic of any thread of a process is the process's: its supervisor
    // hears of it (a thread that panics while reporting just stops).
    if crate::process::is_process() {
        if crate::thread::current_panicking() {
            crate::process::stop_thread();
        }
        // Formatted into a fixed buffer: the heap may be what failed.
        let mut text = Text::new();
        let _ = core::fmt::write(&mut text, format_args!("{} at {here}", info.message()));
        write_fmt_unlocked(format_args!(
            "{}: panicked: {}\n",
            crate::process::name(),
            text.as_str()
        ));
        crate::process::report_panic(text.as_str());
    }
    // A panic on a thread the root task spawned ends that thread only.
    crate::thread::on_panic(info);
    if PANICKING.swap(true, Ordering::SeqCst) {
        // A panic while panicking: print nothing more, just stop.
        exit(ExitCode::Failure);
    }
    write_fmt_unlocked(format_args!("panicked at {here}:\n{}\n", info.message()));
    #[cfg(feature = "test-protocol")]
    write_fmt_unlocked(format_args!(
        "{} panic at {here}: {}\n",
        sel4_test_protocol::RESULT_FAIL,
        info.message()
    ));
    exit(ExitCode::Failure)
}

/// Where a panic happened: `file:line:column`, or `<unknown>:0:0`.
struct Here<'a>(Option<&'a core::panic::Location<'a>>);

impl core::fmt::Display for Here<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            Some(l) => core::fmt::Display::fmt(l, f),
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
