//! QEMU's fw_cfg device over I/O ports (selector 0x510, data 0x511), for
//! the runner's options: `opt/sel4rs/filter` (run only tests whose name
//! contains it) and `opt/sel4rs/shard` (`k/n`: run the k-th of n parts).
//!
//! The ports are reached with an X86IOPort capability: seL4 5.x gives the
//! root task one for every port (`seL4_CapIOPort`); seL4 10+ issues one for
//! a port range from the I/O port control capability.

use alloc::string::String;
use alloc::vec::Vec;
use sel4_rootserver::cap::cap_type::X86IOPort;
use sel4_rootserver::Cap;
use sel4_sys::{CPtr, InvocationError};

/// The selector port.
pub const SELECTOR_PORT: u16 = 0x510;
/// The data port.
pub const DATA_PORT: u16 = 0x511;
/// Selector of the signature ("QEMU").
const SEL_SIGNATURE: u16 = 0x0000;
/// Selector of the file directory.
const SEL_FILE_DIR: u16 = 0x0019;

/// The fw_cfg file of the test filter.
pub const FILTER_FILE: &str = "opt/sel4rs/filter";
/// The fw_cfg file of the shard (`k/n`).
pub const SHARD_FILE: &str = "opt/sel4rs/shard";

/// Why fw_cfg could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FwCfgError {
    /// The kernel refused to issue or use the I/O port capability.
    Kernel(InvocationError),
    /// No fw_cfg device answers (wrong signature).
    NoDevice,
    /// The file is larger than the harness reads ([`MAX_FILE_SIZE`]).
    TooLarge { size: u32 },
}

/// Largest option file the harness reads (filters and shard specs are
/// short; anything bigger is a mistake on the host side).
pub const MAX_FILE_SIZE: u32 = 64 * 1024;

impl From<InvocationError> for FwCfgError {
    fn from(e: InvocationError) -> Self {
        FwCfgError::Kernel(e)
    }
}

/// An open fw_cfg device.
#[derive(Debug)]
pub struct FwCfg {
    cap: Cap<X86IOPort>,
}

impl FwCfg {
    /// Opens the device. `free_slot` is an empty root CNode slot that may
    /// receive an I/O port capability (kernels that issue them).
    pub fn open(free_slot: CPtr) -> Result<FwCfg, FwCfgError> {
        let cap = port_cap(free_slot)?;
        let dev = FwCfg { cap };
        dev.select(SEL_SIGNATURE)?;
        let mut sig = [0u8; 4];
        dev.read(&mut sig)?;
        if &sig != b"QEMU" {
            return Err(FwCfgError::NoDevice);
        }
        Ok(dev)
    }

    fn select(&self, key: u16) -> Result<(), InvocationError> {
        self.cap
            .x86_io_port_out16(u64::from(SELECTOR_PORT), u64::from(key))
    }

    fn read(&self, buf: &mut [u8]) -> Result<(), InvocationError> {
        for b in buf.iter_mut() {
            *b = self.cap.x86_io_port_in8(DATA_PORT)?;
        }
        Ok(())
    }

    /// Reads the file `name`; `None` when there is no such file.
    pub fn file(&self, name: &str) -> Result<Option<Vec<u8>>, FwCfgError> {
        self.select(SEL_FILE_DIR)?;
        let mut count = [0u8; 4];
        self.read(&mut count)?;
        let count = u32::from_be_bytes(count);
        let mut found = None;
        for _ in 0..count {
            let mut entry = [0u8; 64];
            self.read(&mut entry)?;
            let (size, select, fname) = parse_dir_entry(&entry);
            if fname == name.as_bytes() {
                found = Some((size, select));
                break;
            }
        }
        let Some((size, select)) = found else {
            return Ok(None);
        };
        if size > MAX_FILE_SIZE {
            return Err(FwCfgError::TooLarge { size });
        }
        self.select(select)?;
        let mut data = alloc::vec![0u8; size as usize];
        self.read(&mut data)?;
        Ok(Some(data))
    }

    /// Reads the file `name` as text (trailing NULs and whitespace cut).
    pub fn text(&self, name: &str) -> Result<Option<String>, FwCfgError> {
        Ok(self.file(name)?.map(|d| {
            let s = String::from_utf8_lossy(&d).into_owned();
            String::from(s.trim_end_matches(['\0', '\n', '\r', ' ']))
        }))
    }
}

/// Splits a 64-byte fw_cfg directory entry: size (big endian u32),
/// selector (big endian u16), reserved u16, NUL-terminated name.
pub fn parse_dir_entry(e: &[u8; 64]) -> (u32, u16, &[u8]) {
    let size = u32::from_be_bytes([e[0], e[1], e[2], e[3]]);
    let select = u16::from_be_bytes([e[4], e[5]]);
    let name = &e[8..];
    let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
    (size, select, &name[..end])
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
