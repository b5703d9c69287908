//! The component side of a system of components.
//!
//! A component is an ordinary `no_std`, `no_main` Rust binary on the same
//! start code and runtime as a root task (heap, log, panic, locks, typed
//! IPC), started by the supervisor under the start contract instead of by
//! the kernel. Its capabilities come from the system description: the build
//! (`sel4-system build`) generates an environment module for the crate, and
//! [`entry!`] hands `main` the component's [`Env`](include_env) with every
//! capability bound to a typed value of this crate:
//!
//! ```ignore
//! #![no_std]
//! #![no_main]
//! sel4_component::include_env!();        // mod env + type Env
//! sel4_component::entry!(main);
//!
//! fn main(env: Env) -> Result<(), sel4_component::CallError> {
//!     let reply = env.store.call(&kv_proto::Request::Get { key: 7 })?;  // Client<kv_proto::Kv>
//!     sel4_component::println!("{reply:?}");
//!     Ok(())
//! }
//! ```
//!
//! | description | field type |
//! | --- | --- |
//! | client end of a channel | [`Client<P>`] (`call`) |
//! | server end of a channel | [`Server<P>`] (`serve`) |
//! | notification signaller / waiter | [`Signal`] / [`Wait`] |
//! | shared region, read-only / writable | [`SharedRo`] / [`SharedRw`] (volatile and atomic accesses) |
//! | device frames | [`DeviceFrames`] (volatile accesses) |
//! | I/O ports | [`IoPorts`] |
//! | interrupt | [`Irq`] (`ack`; its signals arrive on a [`Wait`]) |
//!
//! The protocol of a channel is a type parameter of the field, so code that
//! uses a channel with another protocol than the description names does
//! not compile.
//!
//! `main` may return `()`, a `u64` exit code or `Result<(), E: Debug>`;
//! returning reports the exit code to the supervisor (and stops the
//! component); a panic prints its message and reports it. What happens
//! next is the component's fault policy (`docs/system-description.md`).
//!
//! # Restarts
//!
//! A call to a server that is restarted while the call is in flight, or
//! that was queued for the dead instance, returns
//! [`CallError::Restarted`] with the new instance's generation; the next
//! call goes to the new instance. A server serves only calls made to its
//! own instance (the supervisor puts the generation in each client's
//! badge), so it never mixes up state of a previous life.
#![no_std]
// `unsafe` only in `memory` (volatile and atomic accesses to the mappings).
#![deny(unsafe_code)]

extern crate alloc;

mod channel;
mod memory;
mod rt;

pub use channel::{CallError, Client, Server};
pub use memory::{AccessError, DeviceFrames, Primitive, SharedRo, SharedRw};
pub use rt::{BindError, IoPorts, Irq, Rt, Signal, Wait};

pub use sel4_component_env as descriptors;
pub use sel4_runtime::ipc::{message, protocol, Control, ErrorReply, IpcError, ReceivedCaps};
pub use sel4_runtime::process::{generation, name};
pub use sel4_runtime::{print, println};

#[doc(hidden)]
pub use sel4_runtime as __runtime;
#[doc(hidden)]
pub use sel4_start as __start;

/// Includes the environment module the build generated for this crate
/// (`$SEL4RS_SYSTEM_GEN/<package>.rs`, see `sel4-system build`) as `mod
/// env`, and names its environment type `Env` (bound by this crate's
/// runtime).
#[macro_export]
macro_rules! include_env {
    () => {
        /// The environment generated from the system description.
        #[allow(dead_code, clippy::all)]
        pub mod env {
            include!(concat!(
                env!(
                    "SEL4RS_SYSTEM_GEN",
                    "no generated environment: build components with `sel4-system build` (or CMake's sel4rs_system), which sets SEL4RS_SYSTEM_GEN"
                ),
                "/",
                env!("CARGO_PKG_NAME"),
                ".rs"
            ));
        }
        /// This component's environment.
        #[allow(dead_code)]
        pub type Env = env::Env<$crate::Rt>;
    };
}

/// Declares the component's `main` (and, with `threads = f`, the function
/// its additional threads run: `fn f(index: usize, arg: u64)`), which
/// receives the component's [`Env`](include_env) (use [`include_env!`]).
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        $crate::entry!(@go $main, ::core::option::Option::None);
    };
    ($main:path, threads = $threads:path) => {
        $crate::entry!(@go $main, ::core::option::Option::Some($threads as fn(usize, u64)));
    };
    (@go $main:path, $threads:expr) => {
        // A process: its loader gives it a stack (no static one).
        $crate::__start::stack!(0);
        #[no_mangle]
        extern "C" fn __sel4rs_app_entry(info: &$crate::__start::StartInfo) -> ! {
            fn __sel4rs_component_main() -> u64 {
                let mut rt = match $crate::Rt::take() {
                    ::core::option::Option::Some(rt) => rt,
                    ::core::option::Option::None => return $crate::EXIT_BIND_FAILED,
                };
                match env::Env::bind(&mut rt) {
                    ::core::result::Result::Ok(e) => $crate::Exit::code($main(e)),
                    ::core::result::Result::Err(e) => {
                        $crate::println!("{}: binding its environment failed: {}", $crate::name(), e);
                        $crate::EXIT_BIND_FAILED
                    }
                }
            }
            $crate::__runtime::process::__process_entry(info, __sel4rs_component_main, $threads)
        }
    };
}

/// Exit code of a component whose environment could not be bound.
pub const EXIT_BIND_FAILED: u64 = 0xb1d;
/// Exit code of a `main` that returned an error.
pub const EXIT_ERROR: u64 = 1;

/// What a component's `main` may return.
pub trait Exit {
    /// The exit code reported to the supervisor.
    fn code(self) -> u64;
}

impl Exit for () {
    fn code(self) -> u64 {
        0
    }
}

impl Exit for u64 {
    fn code(self) -> u64 {
        self
    }
}

impl Exit for core::convert::Infallible {
    fn code(self) -> u64 {
        match self {}
    }
}

impl<E: core::fmt::Debug> Exit for Result<(), E> {
    fn code(self) -> u64 {
        match self {
            Ok(()) => 0,
            Err(e) => {
                println!("{}: main returned an error: {e:?}", name());
                EXIT_ERROR
            }
        }
    }
}

/// Ends the component with `code` (reported to the supervisor).
pub fn exit(code: u64) -> ! {
    sel4_runtime::process::exit(code)
}
