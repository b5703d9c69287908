//! A seL4test-style test harness for Rust root tasks.
//!
//! Tests are ordinary functions marked `#[sel4_test]`; `collect_tests!()`
//! gathers them at build time; [`run`] runs them one by one and reports
//! each on the serial protocol of `sel4-test-protocol`, which the host
//! runner (`sel4-run`) turns into one line per test and a summary.
//!
//! ```ignore
//! #![no_std]
//! #![no_main]
//! use sel4_test_harness::{collect_tests, sel4_test, Ctx, TestResult};
//! sel4_rootserver::entry!(main);
//! fn main(bi: &sel4_rootserver::BootInfo) -> Result<(), sel4_test_harness::RunError> {
//!     sel4_test_harness::run(bi, collect_tests!())
//! }
//! #[sel4_test]
//! fn two_plus_two(_ctx: &mut Ctx) -> TestResult {
//!     sel4_test_harness::ensure_eq!(2 + 2, 4);
//!     Ok(())
//! }
//! ```
//!
//! Isolation (see [`run`]): each test runs on its own thread (TCB, stack,
//! TLS, IPC buffer) under a time limit, with a fault endpoint the harness
//! watches, and has its own range of capability slots and its own untyped
//! memory, both cleaned (revoked and deleted) after the test. A fault, a
//! panic or a timeout fails that test only.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod coverage;
mod exec;
// The runner's options through fw_cfg: I/O ports on x86_64, MMIO on QEMU
// virt (aarch64, riscv64).
pub mod fwcfg;
pub mod kernel;
mod runner;
pub mod select;

use alloc::format;
use alloc::string::String;

pub use exec::TEST_STACK_SIZE;
pub use runner::{now, run, Ctx, Lender, Machine, RunError, DEFAULT_TIMEOUT_MS, HARNESS_PRIORITY};
pub use sel4_test_macros::{collect_tests, sel4_test};

#[doc(hidden)]
pub mod __private {
    pub use alloc::format;
}

/// Why a test did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The test failed, with a reason.
    Fail(String),
    /// The test does not apply here (for example to this kernel version).
    Skip(String),
}

/// What a test returns.
pub type TestResult = Result<(), Failure>;

impl Failure {
    /// A failure with a reason.
    pub fn fail(reason: impl Into<String>) -> Failure {
        Failure::Fail(reason.into())
    }
}

impl From<kernel::KernelError> for Failure {
    fn from(e: kernel::KernelError) -> Failure {
        Failure::Fail(format!("unexpected kernel error: {e}"))
    }
}

impl From<sel4_sys::InvocationError> for Failure {
    fn from(e: sel4_sys::InvocationError) -> Failure {
        Failure::Fail(format!("unexpected kernel error: {e}"))
    }
}

impl From<sel4_rootserver::Error> for Failure {
    fn from(e: sel4_rootserver::Error) -> Failure {
        Failure::Fail(format!("framework error: {e}"))
    }
}

/// Turns what a test function returns into a [`TestResult`].
pub trait IntoTestResult {
    fn into_test_result(self) -> TestResult;
}

impl IntoTestResult for () {
    fn into_test_result(self) -> TestResult {
        Ok(())
    }
}

impl IntoTestResult for TestResult {
    fn into_test_result(self) -> TestResult {
        self
    }
}

/// One registered test (made by `#[sel4_test]`).
#[derive(Clone, Copy)]
pub struct TestDef {
    /// `module_path!()` of the test (the crate name first).
    pub module: &'static str,
    /// The function's name.
    pub name: &'static str,
    /// The wrapper that runs it.
    pub func: fn(&mut Ctx) -> TestResult,
    /// The time limit in milliseconds; 0 for the harness's default.
    pub timeout_ms: u64,
    /// The seL4test tests whose behaviour this test checks (in full, alone
    /// or with the other tests that name the same ID):
    /// `#[sel4_test(sel4test = "CNODEOP0009")]`.
    pub sel4test: &'static [&'static str],
    /// The seL4test tests whose behaviour this test checks in part
    /// (`#[sel4_test(sel4test_partly = "PAGEFAULT0001")]`); not counted as
    /// covered.
    pub sel4test_partly: &'static [&'static str],
    pub file: &'static str,
    pub line: u32,
}

impl TestDef {
    /// The name reported on the protocol: the module path without the
    /// crate name, then the function, e.g. `cnode::copy_rights`.
    pub fn full_name(&self) -> String {
        match self.module.split_once("::") {
            Some((_, rest)) => format!("{rest}::{}", self.name),
            None => String::from(self.name),
        }
    }
}

impl core::fmt::Debug for TestDef {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} ({}:{})", self.full_name(), self.file, self.line)
    }
}

/// Fails the test unless the condition holds.
#[macro_export]
macro_rules! ensure {
    ($cond:expr $(,)?) => {
        if !$cond {
            return ::core::result::Result::Err($crate::Failure::Fail($crate::__private::format!(
                "{}:{}: condition failed: {}",
                ::core::file!(),
                ::core::line!(),
                ::core::stringify!($cond)
            )));
        }
    };
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return ::core::result::Result::Err($crate::Failure::Fail($crate::__private::format!(
                "{}:{}: {}",
                ::core::file!(),
                ::core::line!(),
                $crate::__private::format!($($fmt)+)
            )));
        }
    };
}

/// Fails the test unless the two values are equal.
#[macro_export]
macro_rules! ensure_eq {
    ($left:expr, $right:expr $(,)?) => {
        match (&$left, &$right) {
            (l, r) => {
                if !(*l == *r) {
                    return ::core::result::Result::Err($crate::Failure::Fail($crate::__private::format!(
                        "{}:{}: {} == {} failed: {:?} != {:?}",
                        ::core::file!(),
                        ::core::line!(),
                        ::core::stringify!($left),
                        ::core::stringify!($right),
                        l,
                        r
                    )));
                }
            }
        }
    };
    ($left:expr, $right:expr, $($fmt:tt)+) => {
        match (&$left, &$right) {
            (l, r) => {
                if !(*l == *r) {
                    return ::core::result::Result::Err($crate::Failure::Fail($crate::__private::format!(
                        "{}:{}: {:?} != {:?}: {}",
                        ::core::file!(),
                        ::core::line!(),
                        l,
                        r,
                        $crate::__private::format!($($fmt)+)
                    )));
                }
            }
        }
    };
}

/// Skips the test with a reason.
#[macro_export]
macro_rules! skip {
    ($($fmt:tt)+) => {
        return ::core::result::Result::Err($crate::Failure::Skip($crate::__private::format!($($fmt)+)))
    };
}

/// Fails the test with a reason.
#[macro_export]
macro_rules! fail {
    ($($fmt:tt)+) => {
        return ::core::result::Result::Err($crate::Failure::Fail($crate::__private::format!(
            "{}:{}: {}",
            ::core::file!(),
            ::core::line!(),
            $crate::__private::format!($($fmt)+)
        )))
    };
}
