//! Thread-local storage blocks from an image's `PT_TLS` template, laid
//! out as each architecture's ELF TLS ABI wants them ([`TlsVariant`]), at
//! the offsets the linker (lld) bakes into local-exec TLS accesses:
//! - x86_64, variant II: the block ends at the thread pointer
//!   (`round_up(p_memsz, p_align)` bytes below it), and the word at the
//!   thread pointer holds its own address, in a [`TLS_TCB_SIZE`]-byte
//!   thread control block (room for ABI words such as the stack guard at
//!   0x28);
//! - aarch64, variant I: the thread pointer (`tpidr_el0`) points at a
//!   [`AARCH64_TCB_SIZE`]-byte thread control block, the block follows at
//!   `tp + round_up(16, p_align)`;
//! - riscv64, variant I without a TCB: the block starts at the thread
//!   pointer (`tp`).
//!
//! One model for everyone who lays out a TLS block: the root task's start
//! (its initial thread), the runtime (the threads it creates) and the
//! process loader (the threads of another program), each from the
//! [`TlsTemplate`] of [`Elf::tls`](crate::Elf::tls). The thread pointer is
//! aligned to the block's alignment and at least [`TP_ALIGN`].

use crate::{sub_range, Error, Machine, TlsTemplate};

/// Bytes at the thread pointer for the x86_64 thread control block: the
/// self pointer at offset 0 and room for ABI words (the stack guard at
/// 0x28).
pub const TLS_TCB_SIZE: u64 = 64;

/// Bytes of the aarch64 thread control block at the thread pointer (two
/// words, what the linker assumes: lld's `tcbSize`).
pub const AARCH64_TCB_SIZE: u64 = 16;

/// Least alignment of a thread pointer (the ABI's TCB words and
/// SSE-aligned TLS data want 16).
pub const TP_ALIGN: u64 = 16;

/// Where the TLS block sits relative to the thread pointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVariant {
    /// Variant II (x86_64): the block right below the thread pointer, a
    /// [`TLS_TCB_SIZE`]-byte TCB at it whose first word is its address.
    X86_64,
    /// Variant I (aarch64): a [`AARCH64_TCB_SIZE`]-byte TCB at the thread
    /// pointer, the block after it at `tp + round_up(16, align)`.
    Aarch64,
    /// Variant I (riscv): the block starts at the thread pointer.
    Riscv,
}

impl TlsVariant {
    /// The variant of the architecture this crate is compiled for (x86_64
    /// on any other host, where only tests run).
    pub const NATIVE: TlsVariant = if cfg!(target_arch = "aarch64") {
        TlsVariant::Aarch64
    } else if cfg!(any(target_arch = "riscv64", target_arch = "riscv32")) {
        TlsVariant::Riscv
    } else {
        TlsVariant::X86_64
    };

    /// The variant of an image's machine.
    pub const fn of(machine: Machine) -> TlsVariant {
        match machine {
            Machine::X86_64 => TlsVariant::X86_64,
            Machine::Aarch64 => TlsVariant::Aarch64,
            Machine::Riscv => TlsVariant::Riscv,
        }
    }

    /// Bytes of the thread control block at the thread pointer.
    pub const fn tcb_size(self) -> u64 {
        match self {
            TlsVariant::X86_64 => TLS_TCB_SIZE,
            TlsVariant::Aarch64 => AARCH64_TCB_SIZE,
            TlsVariant::Riscv => 0,
        }
    }
}

/// Where a TLS block goes in an area of memory ([`TlsTemplate::layout_for`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlsLayout {
    /// Lowest address of the area it was laid out in (the area is
    /// `[area_start, area_start + area_len)`).
    pub area_start: u64,
    /// Bytes of that area.
    pub area_len: u64,
    /// The thread pointer.
    pub tp: u64,
    /// First byte of the block: `.tdata` (the template) goes here, `.tbss`
    /// zeros follow for the rest of the block.
    pub block: u64,
    /// Bytes of the block (`p_memsz` rounded up to `p_align`).
    pub block_size: u64,
    /// The TLS variant (architecture) the layout follows: where the block
    /// and the TCB sit relative to `tp`.
    pub variant: TlsVariant,
}

impl TlsLayout {
    /// Writes the block into `area` (the bytes of the area, from
    /// `area_start` on): the initialisation bytes `init` at `block`, zeros
    /// over the rest of the block and over the thread control block, and
    /// on x86_64 the self pointer at `tp`. Bytes of the area outside the
    /// block and the TCB are not touched.
    pub fn write(&self, init: &[u8], area: &mut [u8]) -> Result<(), Error> {
        let tcb = self.variant.tcb_size();
        let too_small = Error::TlsAreaTooSmall {
            needed: self.area_len,
            available: area.len() as u64,
        };
        if init.len() as u64 > self.block_size {
            return Err(Error::BadTls);
        }
        let block =
            sub_range(self.area_start, self.block, self.block_size, area.len()).ok_or(too_small)?;
        let control = sub_range(self.area_start, self.tp, tcb, area.len()).ok_or(too_small)?;
        let area_block = &mut area[block];
        area_block[..init.len()].copy_from_slice(init);
        area_block[init.len()..].fill(0);
        area[control.clone()].fill(0);
        if self.variant == TlsVariant::X86_64 {
            area[control.start..control.start + 8].copy_from_slice(&self.tp.to_le_bytes());
        }
        Ok(())
    }
}

impl TlsTemplate {
    /// The alignment of the thread pointer: the segment's, at least
    /// [`TP_ALIGN`].
    const fn tp_align(&self) -> u64 {
        if self.align > TP_ALIGN {
            self.align
        } else {
            TP_ALIGN
        }
    }

    /// Bytes of the block: the segment's size rounded up to its alignment
    /// (how the linker computes the variables' offsets; rounding to
    /// anything larger would move every variable on x86_64).
    pub const fn block_size(&self) -> u64 {
        (self.memsz + self.align - 1) & !(self.align - 1)
    }

    /// Bytes an area needs for an x86_64 block of this template, whatever
    /// the area's alignment.
    pub const fn area_size(&self) -> u64 {
        self.area_size_for(TlsVariant::X86_64)
    }

    /// Bytes an area needs for a block of this template in `variant`,
    /// whatever the area's alignment.
    pub const fn area_size_for(&self, variant: TlsVariant) -> u64 {
        let a = self.tp_align();
        match variant {
            TlsVariant::X86_64 => self.block_size() + TLS_TCB_SIZE + a,
            TlsVariant::Aarch64 => {
                ((AARCH64_TCB_SIZE + self.align - 1) & !(self.align - 1)) + self.block_size() + a
            }
            TlsVariant::Riscv => self.block_size() + a,
        }
    }

    /// An x86_64 block at the top of the area `[start, start + len)` (what
    /// the process loader lays out at the top of a thread's stack).
    pub fn layout(&self, start: u64, len: u64) -> Result<TlsLayout, Error> {
        self.layout_for(TlsVariant::X86_64, start, len)
    }

    /// Lays a block of this template out in the area `[start, start +
    /// len)`: x86_64 at its top (the block grows down from the thread
    /// pointer), aarch64 and riscv64 at its bottom.
    pub fn layout_for(
        &self,
        variant: TlsVariant,
        start: u64,
        len: u64,
    ) -> Result<TlsLayout, Error> {
        let too_small = Error::TlsAreaTooSmall {
            needed: self.area_size_for(variant),
            available: len,
        };
        let end = start.checked_add(len).ok_or(too_small)?;
        let block_size = self.block_size();
        let a = self.tp_align();
        let (tp, block) = match variant {
            TlsVariant::X86_64 => {
                let tp = end.checked_sub(TLS_TCB_SIZE).ok_or(too_small)? & !(a - 1);
                let block = tp.checked_sub(block_size).ok_or(too_small)?;
                if block < start {
                    return Err(too_small);
                }
                (tp, block)
            }
            TlsVariant::Aarch64 | TlsVariant::Riscv => {
                let tcb = variant.tcb_size();
                let gap = (tcb + self.align - 1) & !(self.align - 1);
                let tp = start.checked_add(a - 1).ok_or(too_small)? & !(a - 1);
                let block = tp.checked_add(gap).ok_or(too_small)?;
                let block_end = block.checked_add(block_size).ok_or(too_small)?;
                if block_end > end || tp.saturating_add(tcb) > end {
                    return Err(too_small);
                }
                (tp, block)
            }
        };
        Ok(TlsLayout {
            area_start: start,
            area_len: len,
            tp,
            block,
            block_size,
            variant,
        })
    }
}
