//! The panic handler: prints where and why, reports the failure on the
//! serial protocol (with the `test-protocol` feature), and ends the system with a failure status. A panic on a
//! spawned thread goes to that thread's joiner instead (`crate::thread`).

use crate::console::write_fmt_unlocked;
use crate::exit::{exit, ExitCode};
use core::sync::atomic::{AtomicBool, Ordering};

static PANICKING: AtomicBool = AtomicBool::new(false);

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    // A panic on a thread the root task spawned ends that thread only.
    crate::thread::on_panic(info);
    if PANICKING.swap(true, Ordering::SeqCst) {
        // A panic while panicking: print nothing more, just stop.
        exit(ExitCode::Failure);
    }
    let (file, line, col) = match info.location() {
        Some(l) => (l.file(), l.line(), l.column()),
        None => ("<unknown>", 0, 0),
    };
    write_fmt_unlocked(format_args!(
        "panicked at {}:{}:{}:\n{}\n",
        file,
        line,
        col,
        info.message()
    ));
    #[cfg(feature = "test-protocol")]
    write_fmt_unlocked(format_args!(
        "##sel4rs result fail panic at {}:{}:{}: {}\n",
        file,
        line,
        col,
        info.message()
    ));
    exit(ExitCode::Failure)
}
