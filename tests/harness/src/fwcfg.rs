//! The runner's options through QEMU's fw_cfg device (`sel4_fw_cfg`):
//! `opt/sel4rs/filter` (run only tests whose name contains it) and
//! `opt/sel4rs/shard` (`k/n`: run the k-th of n parts).
//!
//! - x86_64: over I/O ports (selector 0x510, data 0x511), reached with an
//!   X86IOPort capability: seL4 5.x gives the root task one for every
//!   port (`seL4_CapIOPort`); seL4 10+ issues one for a port range from
//!   the I/O port control capability.
//! - aarch64 and riscv64 (QEMU virt): memory-mapped, at the address the
//!   device tree in extra bootinfo gives for `qemu,fw-cfg-mmio`; the page
//!   is cut from the device untyped that holds it and mapped uncached as
//!   a shared [`View`](sel4_rootserver::view::View) while the options are
//!   read, then given back.

use alloc::format;
use alloc::string::String;
use core::fmt::Debug;
use sel4_fw_cfg::Transport;

pub use sel4_fw_cfg::MAX_FILE_SIZE;

/// The fw_cfg file of the test filter.
pub const FILTER_FILE: &str = "opt/sel4rs/filter";
/// The fw_cfg file of the shard (`k/n`).
pub const SHARD_FILE: &str = "opt/sel4rs/shard";

/// The runner's options: the filter (empty text counts as none) and the
/// shard's text.
pub type Options = (Option<String>, Option<String>);

/// The [`Options`] of an open device.
pub fn options<T: Transport>(dev: &sel4_fw_cfg::FwCfg<T>) -> Result<Options, String>
where
    T::Error: Debug,
{
    let filter = dev
        .text(FILTER_FILE)
        .map_err(|e| format!("reading fw_cfg {FILTER_FILE}: {e}"))?
        .filter(|f| !f.is_empty());
    let shard = dev
        .text(SHARD_FILE)
        .map_err(|e| format!("reading fw_cfg {SHARD_FILE}: {e}"))?;
    Ok((filter, shard))
}

#[cfg(target_arch = "x86_64")]
pub use ports::*;

#[cfg(target_arch = "x86_64")]
mod ports {
    use alloc::string::String;
    use alloc::vec::Vec;
    use sel4_fw_cfg::Transport;
    use sel4_rootserver::cap::cap_type::X86IOPort;
    use sel4_rootserver::Cap;
    use sel4_sys::{CPtr, InvocationError};

    /// The selector port.
    pub const SELECTOR_PORT: u16 = 0x510;
    /// The data port.
    pub const DATA_PORT: u16 = 0x511;

    /// Why fw_cfg could not be read.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum FwCfgError {
        /// The kernel refused to issue or use the I/O port capability.
        Kernel(InvocationError),
        /// No fw_cfg device answers (wrong signature).
        NoDevice,
        /// The file is larger than the harness reads ([`super::MAX_FILE_SIZE`]).
        TooLarge { size: u32 },
    }

    impl From<InvocationError> for FwCfgError {
        fn from(e: InvocationError) -> Self {
            FwCfgError::Kernel(e)
        }
    }

    impl From<sel4_fw_cfg::Error<InvocationError>> for FwCfgError {
        fn from(e: sel4_fw_cfg::Error<InvocationError>) -> Self {
            match e {
                sel4_fw_cfg::Error::Transport(e) => FwCfgError::Kernel(e),
                sel4_fw_cfg::Error::NoDevice(_) => FwCfgError::NoDevice,
                sel4_fw_cfg::Error::TooLarge { size } => FwCfgError::TooLarge { size },
            }
        }
    }

    /// The two ports through an I/O port capability.
    #[derive(Debug)]
    pub struct Ports(Cap<X86IOPort>);

    impl Transport for Ports {
        type Error = InvocationError;
        fn select(&self, key: u16) -> Result<(), InvocationError> {
            self.0
                .x86_io_port_out16(u64::from(SELECTOR_PORT), u64::from(key))
        }
        fn read(&self, buf: &mut [u8]) -> Result<(), InvocationError> {
            for b in buf.iter_mut() {
                *b = self.0.x86_io_port_in8(DATA_PORT)?;
            }
            Ok(())
        }
    }

    /// An open fw_cfg device.
    #[derive(Debug)]
    pub struct FwCfg(pub sel4_fw_cfg::FwCfg<Ports>);

    impl FwCfg {
        /// Opens the device. `free_slot` is an empty root CNode slot that may
        /// receive an I/O port capability (kernels that issue them).
        pub fn open(free_slot: CPtr) -> Result<FwCfg, FwCfgError> {
            let cap = port_cap(free_slot)?;
            Ok(FwCfg(sel4_fw_cfg::FwCfg::open(Ports(cap))?))
        }

        /// Reads the file `name`; `None` when there is no such file.
        pub fn file(&self, name: &str) -> Result<Option<Vec<u8>>, FwCfgError> {
            Ok(self.0.file(name)?)
        }

        /// Reads the file `name` as text (trailing NULs and whitespace cut).
        pub fn text(&self, name: &str) -> Result<Option<String>, FwCfgError> {
            Ok(self.0.text(name)?)
        }
    }

    /// An I/O port capability that covers the fw_cfg ports.
    fn port_cap(free_slot: CPtr) -> Result<Cap<X86IOPort>, InvocationError> {
        sel4_sys::sel4_cfg_if! {
            kernel >= 10 && label X86IOPortControlIssue {
                let control: Cap<sel4_rootserver::cap::cap_type::X86IOPortControl> =
                    Cap::from_cptr(sel4_sys::init_caps::CapIOPortControl as CPtr);
                control.x86_io_port_control_issue(
                    u64::from(SELECTOR_PORT),
                    u64::from(DATA_PORT),
                    Cap::from_cptr(crate::kernel::ROOT_CNODE),
                    free_slot,
                    crate::kernel::DEPTH as u8,
                )?;
                Ok(Cap::from_cptr(free_slot))
            } else {
                let _ = free_slot;
                Ok(Cap::from_cptr(sel4_sys::init_caps::CapIOPort as CPtr))
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
pub use mmio::*;

#[cfg(not(target_arch = "x86_64"))]
mod mmio {
    use alloc::format;
    use alloc::string::String;
    use core::cell::RefCell;
    use sel4_bootinfo::ExtraChunkId;
    use sel4_device::{Mmio, MmioError};
    use sel4_fdt::Fdt;
    use sel4_fw_cfg::{MmioTransport, MMIO_COMPATIBLE};
    use sel4_rootserver::objects::Objects;
    use sel4_rootserver::view::{View, ViewError};
    use sel4_rootserver::vspace::{Cache, RW};
    use sel4_rootserver::BootInfo;

    const PAGE: u64 = 1 << sel4_sys::consts::PageBits;

    /// A shared view of device registers as [`Mmio`] (volatile accesses,
    /// no references; the `RefCell` only because writes take `&mut View`).
    struct ViewMmio(RefCell<View>);

    fn mmio_error(e: ViewError, width: usize, size: usize) -> MmioError {
        match e {
            ViewError::Misaligned { offset, .. } => MmioError::Misaligned { offset, width },
            ViewError::OutOfRange { offset, .. } => MmioError::OutOfRange {
                offset,
                width,
                size,
            },
            // Mapped read-write below; reported as out of range otherwise.
            _ => MmioError::OutOfRange {
                offset: 0,
                width,
                size: 0,
            },
        }
    }

    macro_rules! access {
        ($read:ident, $write:ident, $t:ty) => {
            fn $read(&self, offset: usize) -> Result<$t, MmioError> {
                let v = self.0.borrow();
                v.read::<$t>(offset)
                    .map_err(|e| mmio_error(e, core::mem::size_of::<$t>(), v.len()))
            }
            fn $write(&self, offset: usize, value: $t) -> Result<(), MmioError> {
                let mut v = self.0.borrow_mut();
                let size = v.len();
                v.write::<$t>(offset, value)
                    .map_err(|e| mmio_error(e, core::mem::size_of::<$t>(), size))
            }
        };
    }

    impl Mmio for ViewMmio {
        fn size(&self) -> usize {
            self.0.borrow().len()
        }
        access!(read8, write8, u8);
        access!(read16, write16, u16);
        access!(read32, write32, u32);
        access!(read64, write64, u64);
    }

    /// The runner's options from the fw_cfg device the device tree names:
    /// `Ok(None)` when the tree has none (a board without fw_cfg), an error
    /// naming the step that failed otherwise. The frame is unmapped and
    /// deleted again before this returns.
    pub fn read_options(
        objs: &mut Objects,
        bi: &BootInfo,
    ) -> Result<Option<super::Options>, String> {
        let dtb = bi
            .find_extra_chunk(ExtraChunkId::Fdt)
            .ok_or("no device tree in extra bootinfo (the kernel passes it on Arm and RISC-V)")?;
        let fdt = Fdt::new(dtb.data).map_err(|e| format!("the device tree: {e}"))?;
        let Some(node) = fdt
            .find_compatible(MMIO_COMPATIBLE)
            .map_err(|e| format!("the device tree: {e}"))?
        else {
            return Ok(None);
        };
        let (paddr, size) = node
            .reg(0)
            .map_err(|e| format!("the device tree's {}: {e}", node.name()))?
            .ok_or_else(|| format!("the device tree's {} has no reg", node.name()))?;
        let offset = paddr % PAGE;
        if offset + size > PAGE {
            return Err(format!(
                "fw_cfg registers at {paddr:#x} ({size:#x} bytes) cross a page"
            ));
        }
        let frame = objs
            .device_frame(paddr - offset)
            .map_err(|e| format!("the fw_cfg page at {:#x}: {e}", paddr - offset))?;
        let view = match objs.map_view(frame, sel4_sys::consts::PageBits as u8, RW, Cache::Uncached)
        {
            Ok(v) => v,
            Err(r) => {
                let e = format!("mapping the fw_cfg page: {}", r.error);
                let _ = objs.delete(r.handle);
                return Err(e);
            }
        };
        let regs = ViewMmio(RefCell::new(view));
        let read = MmioTransport::new(&regs, offset as usize)
            .map_err(|e| format!("fw_cfg registers: {e}"))
            .and_then(|t| sel4_fw_cfg::FwCfg::open(t).map_err(|e| format!("{e}")))
            .and_then(|dev| super::options(&dev));
        let view = regs.0.into_inner();
        let frame = objs
            .unmap_view(view)
            .map_err(|r| format!("unmapping the fw_cfg page: {}", r.error))?;
        objs.delete(frame)
            .map_err(|r| format!("deleting the fw_cfg page: {}", r.error))?;
        read.map(Some)
    }
}
