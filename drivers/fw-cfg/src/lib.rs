//! QEMU's fw_cfg device: named files the host gives the guest
//! (`-fw_cfg name=opt/...,string=...|file=...`).
//!
//! The protocol (QEMU's `docs/specs/fw_cfg.rst`): write a 16-bit key to
//! the selector register, then read the item's bytes one after another
//! from the data register. Key 0 holds the signature `QEMU`, key 0x19 the
//! file directory (a big-endian count, then 64-byte entries: size, key,
//! reserved, NUL-terminated name).
//!
//! How the registers are reached is a [`Transport`]: [`MmioTransport`]
//! for the memory-mapped device of QEMU's Arm and RISC-V virt boards
//! (`compatible = "qemu,fw-cfg-mmio"` in the device tree; data at +0,
//! selector at +8, big endian), over any [`sel4_device::Mmio`]; the x86
//! I/O port one (selector 0x510, data 0x511) lives with its capability in
//! the program that has it.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(test)]
extern crate std;

#[cfg(test)]
mod tests;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use sel4_device::{Mmio, MmioError};

/// Key of the signature (`QEMU`).
pub const KEY_SIGNATURE: u16 = 0x0000;
/// Key of the file directory.
pub const KEY_FILE_DIR: u16 = 0x0019;
/// The device tree's `compatible` string of the MMIO device.
pub const MMIO_COMPATIBLE: &str = "qemu,fw-cfg-mmio";
/// Offset of the MMIO data register (read a byte at a time).
pub const MMIO_DATA: usize = 0x0;
/// Offset of the MMIO selector register (16 bits, big endian).
pub const MMIO_SELECTOR: usize = 0x8;
/// Bytes of the MMIO registers the [`MmioTransport`] uses (data and
/// selector; the DMA address register at +16 is not used).
pub const MMIO_SIZE: usize = 0xa;
/// Largest file [`FwCfg::file`] reads: the files this framework passes
/// (filters, shards, serial logs) are small; a bigger one is a mistake on
/// the host side, refused rather than read into the heap.
pub const MAX_FILE_SIZE: u32 = 64 * 1024;

/// Reaches the device's selector and data registers.
pub trait Transport {
    /// Why an access failed.
    type Error;
    /// Selects the item `key` (the next read starts at its first byte).
    fn select(&self, key: u16) -> Result<(), Self::Error>;
    /// Reads the next `buf.len()` bytes of the selected item.
    fn read(&self, buf: &mut [u8]) -> Result<(), Self::Error>;
}

/// Why fw_cfg could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error<E> {
    /// The transport failed (a kernel error, an MMIO access refused).
    Transport(E),
    /// No fw_cfg device answers (the signature is not `QEMU`).
    NoDevice([u8; 4]),
    /// The file is larger than [`MAX_FILE_SIZE`].
    TooLarge {
        /// Its size in bytes.
        size: u32,
    },
}

impl<E: fmt::Debug> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Transport(e) => write!(f, "fw_cfg access failed: {e:?}"),
            Error::NoDevice(sig) => write!(
                f,
                "no fw_cfg device answers (signature {sig:02x?}, not \"QEMU\")"
            ),
            Error::TooLarge { size } => write!(
                f,
                "the fw_cfg file has {size} bytes, more than the {MAX_FILE_SIZE} read here"
            ),
        }
    }
}

/// An fw_cfg device whose signature was checked.
#[derive(Debug)]
pub struct FwCfg<T> {
    transport: T,
}

impl<T: Transport> FwCfg<T> {
    /// Checks the signature over `transport`.
    pub fn open(transport: T) -> Result<FwCfg<T>, Error<T::Error>> {
        transport.select(KEY_SIGNATURE).map_err(Error::Transport)?;
        let mut sig = [0u8; 4];
        transport.read(&mut sig).map_err(Error::Transport)?;
        if &sig != b"QEMU" {
            return Err(Error::NoDevice(sig));
        }
        Ok(FwCfg { transport })
    }

    /// The transport back.
    pub fn into_inner(self) -> T {
        self.transport
    }

    /// The size and key of the file `name`; `None` when there is none.
    pub fn find(&self, name: &str) -> Result<Option<(u32, u16)>, Error<T::Error>> {
        let t = &self.transport;
        t.select(KEY_FILE_DIR).map_err(Error::Transport)?;
        let mut count = [0u8; 4];
        t.read(&mut count).map_err(Error::Transport)?;
        for _ in 0..u32::from_be_bytes(count) {
            let mut entry = [0u8; 64];
            t.read(&mut entry).map_err(Error::Transport)?;
            let (size, key, fname) = parse_dir_entry(&entry);
            if fname == name.as_bytes() {
                return Ok(Some((size, key)));
            }
        }
        Ok(None)
    }

    /// The bytes of the file `name`; `None` when there is none.
    pub fn file(&self, name: &str) -> Result<Option<Vec<u8>>, Error<T::Error>> {
        let Some((size, key)) = self.find(name)? else {
            return Ok(None);
        };
        if size > MAX_FILE_SIZE {
            return Err(Error::TooLarge { size });
        }
        self.transport.select(key).map_err(Error::Transport)?;
        let mut data = alloc::vec![0u8; size as usize];
        self.transport.read(&mut data).map_err(Error::Transport)?;
        Ok(Some(data))
    }

    /// The file `name` as text (invalid UTF-8 replaced; trailing NULs,
    /// line ends and spaces cut); `None` when there is none.
    pub fn text(&self, name: &str) -> Result<Option<String>, Error<T::Error>> {
        Ok(self.file(name)?.map(|d| {
            let s = String::from_utf8_lossy(&d).into_owned();
            String::from(s.trim_end_matches(['\0', '\n', '\r', ' ']))
        }))
    }
}

/// Splits a 64-byte directory entry: size (big-endian u32), key
/// (big-endian u16), reserved u16, NUL-terminated name.
pub fn parse_dir_entry(e: &[u8; 64]) -> (u32, u16, &[u8]) {
    let size = u32::from_be_bytes([e[0], e[1], e[2], e[3]]);
    let key = u16::from_be_bytes([e[4], e[5]]);
    let name = &e[8..];
    let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
    (size, key, &name[..end])
}

/// The memory-mapped registers of QEMU's Arm and RISC-V virt boards,
/// starting `offset` bytes into `regs` (the device need not start a page).
#[derive(Debug)]
pub struct MmioTransport<M> {
    regs: M,
    offset: usize,
}

impl<M: Mmio> MmioTransport<M> {
    /// The device's registers at `offset` in `regs`; refused when they do
    /// not fit.
    pub fn new(regs: M, offset: usize) -> Result<MmioTransport<M>, MmioError> {
        sel4_device::mmio::check(offset + MMIO_DATA, 1, regs.size())?;
        sel4_device::mmio::check(offset + MMIO_SELECTOR, 2, regs.size())?;
        Ok(MmioTransport { regs, offset })
    }
}

impl<M: Mmio> Transport for MmioTransport<M> {
    type Error = MmioError;
    fn select(&self, key: u16) -> Result<(), MmioError> {
        // The selector is a big-endian register: its first byte is the
        // key's high byte, whatever the CPU's order.
        self.regs.write16(
            self.offset + MMIO_SELECTOR,
            u16::from_ne_bytes(key.to_be_bytes()),
        )
    }
    fn read(&self, buf: &mut [u8]) -> Result<(), MmioError> {
        for b in buf.iter_mut() {
            *b = self.regs.read8(self.offset + MMIO_DATA)?;
        }
        Ok(())
    }
}
