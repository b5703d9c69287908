//! The parts of the sel4rs boot loader (`loader/`) that are plain data
//! handling, so that they run and are tested on the host as well:
//!
//! - [`payload`]: the payload format. The image tool (`host/mkimage`)
//!   appends the kernel ELF, the root server ELF, the device tree and the
//!   platform's RAM regions to the loader as one blob; the loader finds it
//!   right after its own image.
//! - [`plan`]: where everything goes in physical memory, and the
//!   arguments of the kernel's `init_kernel`. The image tool runs the same
//!   plan at build time, so a payload that cannot boot is refused there.
//! - [`pagetable`]: the boot page tables the kernel expects to be entered
//!   with (aarch64 4-level 48-bit tables, RISC-V Sv39).
//!
//! No input makes these functions panic; every error names what is wrong.
#![no_std]
#![forbid(unsafe_code)]

pub mod pagetable;
pub mod payload;
pub mod plan;

#[cfg(test)]
mod tests;

/// Size of a page: the unit of placement.
pub const PAGE_SIZE: u64 = 4096;

/// The architectures the loader runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Arch {
    /// 64-bit Arm (`KernelSel4Arch` `aarch64`).
    Aarch64,
    /// 64-bit RISC-V (`KernelSel4Arch` `riscv64`).
    Riscv64,
}

impl Arch {
    /// The seL4 name (`KernelSel4Arch`).
    pub const fn name(self) -> &'static str {
        match self {
            Arch::Aarch64 => "aarch64",
            Arch::Riscv64 => "riscv64",
        }
    }

    /// By seL4 name.
    pub fn from_name(name: &str) -> Option<Arch> {
        match name {
            "aarch64" => Some(Arch::Aarch64),
            "riscv64" => Some(Arch::Riscv64),
            _ => None,
        }
    }

    /// The ELF machine of its kernel and root servers.
    pub const fn machine(self) -> sel4_elf_reloc::Machine {
        match self {
            Arch::Aarch64 => sel4_elf_reloc::Machine::Aarch64,
            Arch::Riscv64 => sel4_elf_reloc::Machine::Riscv,
        }
    }

    pub(crate) const fn code(self) -> u32 {
        match self {
            Arch::Aarch64 => 1,
            Arch::Riscv64 => 2,
        }
    }

    pub(crate) const fn from_code(code: u32) -> Option<Arch> {
        match code {
            1 => Some(Arch::Aarch64),
            2 => Some(Arch::Riscv64),
            _ => None,
        }
    }
}

/// A physical (or virtual) address range `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub struct Region {
    /// First address of the range.
    pub start: u64,
    /// First address after the range.
    pub end: u64,
}

impl Region {
    /// The range `[start, end)`.
    pub const fn new(start: u64, end: u64) -> Region {
        Region { start, end }
    }

    /// Bytes in the range (0 when `end <= start`).
    pub const fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    /// Whether the range has no bytes.
    pub const fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// Whether the two ranges share a byte.
    pub const fn overlaps(&self, other: &Region) -> bool {
        self.start < other.end && other.start < self.end
    }

    /// Whether `other` lies entirely inside this range.
    pub const fn contains(&self, other: &Region) -> bool {
        self.start <= other.start && other.end <= self.end
    }
}

impl core::fmt::Display for Region {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "[{:#x}, {:#x})", self.start, self.end)
    }
}

/// `v` rounded up to a multiple of `align` (a power of two), if it fits.
pub const fn align_up(v: u64, align: u64) -> Option<u64> {
    match v.checked_add(align - 1) {
        Some(x) => Some(x & !(align - 1)),
        None => None,
    }
}

/// `v` rounded down to a multiple of `align` (a power of two).
pub const fn align_down(v: u64, align: u64) -> u64 {
    v & !(align - 1)
}
