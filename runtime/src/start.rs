//! From the start code to the application's `main`.

use crate::exit::{exit, ExitCode};
use core::fmt;

/// Prints the outcome of `main`: with the `test-protocol` feature as the
/// runner's `result` line, otherwise as a plain line (nothing on success).
/// The reason is formatted straight into the line (no `String` first).
fn print_result(failure: Option<fmt::Arguments<'_>>) {
    #[cfg(feature = "test-protocol")]
    match failure {
        None => crate::println!("{}", sel4_test_protocol::RESULT_PASS),
        Some(reason) => crate::println!("{} {reason}", sel4_test_protocol::RESULT_FAIL),
    }
    #[cfg(not(feature = "test-protocol"))]
    if let Some(reason) = failure {
        crate::println!("{reason}");
    }
}

/// What `main` may return.
pub trait Termination {
    /// Reports the outcome on the console and turns it into an exit code.
    fn report(self) -> ExitCode;
}

impl Termination for () {
    fn report(self) -> ExitCode {
        print_result(None);
        ExitCode::Success
    }
}

impl<E: core::fmt::Debug> Termination for Result<(), E> {
    fn report(self) -> ExitCode {
        match self {
            Ok(()) => ().report(),
            Err(e) => {
                print_result(Some(format_args!("main returned an error: {e:?}")));
                ExitCode::Failure
            }
        }
    }
}

/// What [`crate::entry!`] reports `main`'s result through: a `Result`
/// whose error type has `Display` is reported by its `Display` text (which
/// links no `Debug` formatting into the image), anything else through
/// [`Termination`] (a `Result`'s error by its `Debug` form). The choice is
/// made at the macro's call site, where the type is known (method lookup
/// tries [`ReportDisplay`] on `Report` before [`ReportTermination`] on
/// `&Report`).
#[doc(hidden)]
pub struct Report<T>(core::cell::Cell<Option<T>>);

impl<T> Report<T> {
    #[doc(hidden)]
    pub fn new(t: T) -> Report<T> {
        Report(core::cell::Cell::new(Some(t)))
    }

    fn take(&self) -> Option<T> {
        self.0.take()
    }
}

/// See [`Report`].
#[doc(hidden)]
pub trait ReportDisplay {
    fn __sel4rs_report(&self) -> ExitCode;
}

impl<E: core::fmt::Display> ReportDisplay for Report<Result<(), E>> {
    fn __sel4rs_report(&self) -> ExitCode {
        match self.take() {
            Some(Ok(())) => ().report(),
            Some(Err(e)) => {
                print_result(Some(format_args!("main returned an error: {e}")));
                ExitCode::Failure
            }
            None => ExitCode::Failure,
        }
    }
}

/// See [`Report`].
#[doc(hidden)]
pub trait ReportTermination {
    fn __sel4rs_report(&self) -> ExitCode;
}

impl<T: Termination> ReportTermination for &Report<T> {
    fn __sel4rs_report(&self) -> ExitCode {
        match self.take() {
            Some(t) => t.report(),
            None => ExitCode::Failure,
        }
    }
}

impl Termination for ExitCode {
    fn report(self) -> ExitCode {
        match self {
            ExitCode::Success => ().report(),
            ExitCode::Failure => {
                print_result(Some(format_args!("main returned failure")));
                ExitCode::Failure
            }
        }
    }
}

/// The time stamp counter when the root task's runtime started (its first
/// instructions after the start code), for figures measured from the root
/// task's start (`sel4_rootserver::supervisor::run_system`); 0 in a process
/// or before the root task started.
#[cfg(target_arch = "x86_64")]
pub fn root_task_started_at() -> u64 {
    ROOT_TASK_START_TSC.load(core::sync::atomic::Ordering::Relaxed)
}

#[cfg(target_arch = "x86_64")]
static ROOT_TASK_START_TSC: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

#[cfg(target_os = "none")]
mod entry {
    use super::*;
    use sel4_start::{Kind, RelocStatus, StartInfo};

    /// Bytes of the root task's initial TLS block and TCB.
    const INITIAL_TLS_SIZE: usize = 16 * 1024;

    #[repr(C, align(4096))]
    struct TlsArea([u8; INITIAL_TLS_SIZE]);

    static mut INITIAL_TLS: TlsArea = TlsArea([0; INITIAL_TLS_SIZE]);

    fn early_fail(msg: &[u8]) -> ! {
        // Only rip-relative data and syscalls here: relocations or TLS may
        // be missing.
        let _ = sel4_sys::debug_write(msg);
        let _ = sel4_sys::debug_halt();
        loop {
            sel4_sys::yield_now();
        }
    }

    /// Called by the start code's `_start` (asm, hence `extern "C"`) with
    /// what it found: stops a program whose relocation or placement failed,
    /// with the start code's message, before anything else runs (this
    /// crate's own code and `sel4_sys`'s inline debug calls only: a call
    /// to another crate's function may go through the GOT, which holds
    /// nothing usable then), and hands the others to the entry macro's
    /// `__sel4rs_app_entry` (root task or component).
    #[no_mangle]
    extern "C" fn __sel4rs_runtime_entry(info: &StartInfo) -> ! {
        match RelocStatus::from_code(info.relocation) {
            Some(RelocStatus::UnsupportedType) => {
                early_fail(b"sel4-runtime: unsupported relocation in the image (a type other than RELATIVE, or a DT_RELR table starting with a bitmap)\n")
            }
            Some(RelocStatus::NoDynamicHeader) => {
                early_fail(b"sel4-runtime: dynamic section without PT_DYNAMIC header\n")
            }
            Some(RelocStatus::NoHeaderSegment) => {
                early_fail(b"sel4-runtime: no PT_LOAD segment maps the ELF header\n")
            }
            Some(RelocStatus::BelowMinimumBase) => {
                early_fail(sel4_start::BELOW_MINIMUM_BASE_MESSAGE)
            }
            Some(RelocStatus::NotRelocated) => early_fail(sel4_start::NOT_RELOCATED_MESSAGE),
            None => {}
        }
        extern "C" {
            /// Defined by the entry macro (`sel4_runtime::entry!`, or a
            /// component's `sel4_component::entry!`).
            fn __sel4rs_app_entry(info: &StartInfo) -> !;
        }
        // SAFETY: every program on this runtime has one entry macro, which
        // defines this function with this signature; relocation is done.
        unsafe { __sel4rs_app_entry(info) }
    }

    /// The initial thread's TLS block, laid out from the image's PT_TLS
    /// (sel4-elf-reloc, the architecture's variant) in the static area.
    fn initial_tls() -> Option<usize> {
        let tls = crate::thread::tls_image().ok()?;
        // SAFETY: runs once, on the initial thread, before anything else
        // uses INITIAL_TLS (only this root-task entry refers to it).
        let area = unsafe { &mut (*core::ptr::addr_of_mut!(INITIAL_TLS)).0 };
        tls.init_block(area).ok()
    }

    /// The root task's start (the runtime's [`crate::entry!`] calls it):
    /// relocation checked, TLS, IPC buffer, heap, logger, the runtime's
    /// capabilities and locks, the image protected, the boot line, then
    /// `main`.
    #[doc(hidden)]
    pub fn __root_task_entry(
        info: &StartInfo,
        main: fn(&crate::BootInfo) -> ExitCode,
        name: &'static str,
    ) -> ! {
        if info.kind != Kind::RootTask {
            early_fail(
                b"sel4-runtime: a root task started as a process (use the component entry)\n",
            );
        }
        if info.relocation < 0 {
            // `__sel4rs_runtime_entry` stopped such a program already.
            early_fail(b"sel4-runtime: the image's relocation failed\n");
        }
        #[cfg(target_arch = "x86_64")]
        super::ROOT_TASK_START_TSC.store(
            sel4_sys::arch::rdtsc(),
            core::sync::atomic::Ordering::Relaxed,
        );
        crate::thread::init_initial(crate::bootinfo::INIT_THREAD_TCB);
        crate::thread::record_image_start(info.image_start);
        let Some(tp) = initial_tls() else {
            early_fail(b"sel4-runtime: could not set up the initial thread's TLS block\n")
        };
        // SAFETY: the TLS block and TCB at this thread pointer were laid
        // out from the image's PT_TLS segment just now.
        if unsafe { crate::bootinfo::set_thread_pointer(tp) }.is_err() {
            early_fail(b"sel4-runtime: the kernel refused to set the TLS base\n");
        }
        // From here on TLS works. SAFETY: bootinfo is the pointer the kernel
        // gave the root task; the kernel maps the bootinfo frame (and the
        // extra bootinfo pages after it) read-only for the root task.
        let mut bootinfo = match unsafe { crate::bootinfo::from_kernel(info.arg) } {
            Ok(bi) => bi,
            Err(_) => early_fail(b"sel4-runtime: malformed bootinfo\n"),
        };
        // SAFETY: the kernel maps the initial thread's IPC buffer at the
        // address it reports in bootinfo.
        unsafe { sel4_sys::set_ipc_buffer(bootinfo.ipc_buffer()) };
        crate::thread::set_initial_thread_pointer(tp, info.image_start);
        crate::heap::init();
        crate::logger::init(log::LevelFilter::Info);
        crate::bootinfo::init_runtime_caps(&bootinfo);
        // The console's device, before anything is printed.
        let console = crate::bootinfo::init_console(&bootinfo);
        // The notifications of the runtime's locks, before any second
        // thread can exist.
        if let Err(e) = crate::bootinfo::init_runtime_objects(&mut bootinfo) {
            #[cfg(feature = "test-protocol")]
            crate::println!("sel4-runtime: {e}");
            print_result(Some(format_args!("sel4-runtime: {e}")));
            exit(ExitCode::Failure);
        }
        if let Err(e) = console {
            crate::println!("sel4-runtime: warning: the console stays on the kernel's: {e}");
        }
        // Code and read-only data read-only, now that relocation is done.
        if let Err(e) = crate::image::protect(&bootinfo) {
            crate::println!("sel4-runtime: warning: the image stays writable: {e}");
        }
        #[cfg(not(feature = "test-protocol"))]
        let _ = name;
        #[cfg(feature = "test-protocol")]
        crate::println!(
            "{}",
            sel4_test_protocol::BootLine {
                image: name,
                kernel: sel4_sys::KERNEL_VERSION,
                arch: crate::bootinfo::SEL4_ARCH,
                config: crate::bootinfo::config_summary(),
            }
        );
        crate::startup::at_main();
        let code = main(&bootinfo);
        exit(code)
    }
}

#[cfg(target_os = "none")]
#[doc(hidden)]
pub use entry::__root_task_entry;
