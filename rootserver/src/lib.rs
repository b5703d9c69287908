//! What a root server builds on: typed capabilities, capability slots,
//! untyped memory and kernel invocations, in safe Rust.
//!
//! Re-exports the runtime, so an application depends on this crate alone:
//!
//! ```ignore
//! #![no_std]
//! #![no_main]
//! use sel4_rootserver::{entry, BootInfo};
//! entry!(main);
//! fn main(bootinfo: &BootInfo) { /* ... */ }
//! ```
#![no_std]
// `unsafe` only in `view` (the bytes of a mapping the framework keeps);
// every other module is safe code.
#![deny(unsafe_code)]

extern crate alloc;

pub mod cap;
pub mod cnode;
pub mod error;
pub mod sched;
pub mod untyped;

pub mod cspace;
// I/O ports and x86 interrupts (IOAPIC, MSI): x86_64 only, the concept
// does not exist on aarch64 and riscv64.
#[cfg(target_arch = "x86_64")]
pub mod devices;
pub mod fault;
pub mod memory;
pub mod objects;
pub mod process;
pub mod supervisor;
pub mod thread;
pub mod view;
pub mod vspace;

pub use cap::{cap_type, Cap, CapType, ChildCap, FixedSize, Owned, Slot, SlotRange};
pub use cap::{CNode, Endpoint, Notification, Null, Untyped, TCB};
#[cfg(target_arch = "x86_64")]
pub use devices::{DeviceCap, DeviceError, DeviceResult};
pub use error::{AllocError, Error, InvocationError, Result};
/// The `log` crate the runtime's logger serves (`log::info!` and the
/// others), so that a root server needs no dependency line of its own.
pub use log;
pub use objects::{Objects, Refused};
/// The kernel API typed by meaning (the `sel4` crate), with the
/// arch-neutral names of the paging structures ([`Granule`],
/// [`LargePage`], [`VSpaceRoot`], ...).
pub use sel4;
pub use sel4::CapData;
pub use sel4::{Granule, LargePage, VSpaceRoot};
pub use sel4_alloc::SlotAllocator;
pub use sel4_component_env as component_env;
pub use sel4_device as device;
pub use sel4_runtime::{console, exit, heap, ipc, logger};
pub use sel4_runtime::{entry, print, println, BootInfo, ExitCode};
pub use sel4_sys as sys;
pub use untyped::UntypedExt;
pub use view::{View, ViewError};

/// The bytes of an ELF file the build put into this root server, named by
/// its CMake target in upper case with `_` for `-`: a process image
/// declared with `sel4rs_process_image(NAME process-test ...)` and listed
/// in `sel4rs_rootserver(... EMBED process-test)` is
/// `embedded_elf!(PROCESS_TEST)`, a `&'static [u8; N]`. Without CMake, set
/// `SEL4RS_EMBED_PROCESS_TEST` to the ELF's path for cargo.
#[macro_export]
macro_rules! embedded_elf {
    ($name:ident) => {
        include_bytes!(env!(
            concat!("SEL4RS_EMBED_", stringify!($name)),
            concat!(
                "no ELF embedded as ",
                stringify!($name),
                ": build this root server with CMake (sel4rs_rootserver(... EMBED <target>)) \
                 or set SEL4RS_EMBED_",
                stringify!($name),
                " to the ELF's path"
            )
        ))
    };
}

/// The plan and component images of a system that `sel4-system build`
/// generated (`$SEL4RS_SYSTEM_GEN/system.rs`), as `pub mod system`
/// (`system::PLAN`, `system::IMAGES`), for a root task that runs the
/// supervisor itself ([`system!`] does both).
#[macro_export]
macro_rules! system_module {
    () => {
        /// The system's plan and component images, generated from its
        /// description by `sel4-system build`.
        #[allow(clippy::all)]
        pub mod system {
            include!(concat!(
                env!(
                    "SEL4RS_SYSTEM_GEN",
                    "no generated system: build it with `sel4-system build` (or CMake's sel4rs_system), which sets SEL4RS_SYSTEM_GEN"
                ),
                "/system.rs"
            ));
        }
    };
}

/// The root task of a system of components: includes the plan and images
/// `sel4-system build` generated (`$SEL4RS_SYSTEM_GEN/system.rs`) as `mod
/// system` and declares the root task's entry, which runs the system with
/// [`supervisor::run_system`]: every component started in dependency
/// order, faults handled by their policies, until the description's
/// `finish` components exited (the boot passes when each exited with 0) or
/// a policy halted the system. The root task's crate depends on
/// `sel4-rootserver` and `sel4-component-env` (the generated plan names
/// its types).
///
/// ```ignore
/// #![no_std]
/// #![no_main]
/// sel4_rootserver::system!();
/// ```
#[macro_export]
macro_rules! system {
    () => {
        $crate::system_module!();
        $crate::entry!(__sel4rs_system_main);
        fn __sel4rs_system_main(
            bootinfo: &$crate::BootInfo,
        ) -> ::core::result::Result<(), $crate::supervisor::SupervisorError> {
            $crate::supervisor::run_system(bootinfo, &system::PLAN, &system::IMAGES)
        }
    };
}
