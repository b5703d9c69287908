//! Where the kernel, the device tree and the root server go in physical
//! memory, and the arguments of the kernel's entry
//! `init_kernel(ui_p_reg_start, ui_p_reg_end, pv_offset, v_entry,
//! dtb_addr_p, dtb_size)` (riscv also gets the hart id and core id 0).
//!
//! As seL4's own loader does it: the kernel at the physical addresses of its
//! ELF program headers, the device tree at the next page, the root server's
//! image (its PT_LOAD segments laid out as in virtual memory, one contiguous
//! physical range) at the page after that. All of it must lie in one RAM
//! region and clear of the loader itself (code, data, stack and payload).

use crate::payload::Payload;
use crate::{align_down, align_up, Arch, Region, PAGE_SIZE};
use sel4_elf_reloc::{Elf, ET_DYN, ET_EXEC, PT_LOAD};

/// Why there is no plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlanError {
    /// The kernel or root server ELF does not parse.
    Elf {
        /// Which image (`kernel ELF`, `root server ELF`).
        what: &'static str,
        /// Why it does not parse.
        err: sel4_elf_reloc::Error,
    },
    /// The ELF is for another machine than the loader's architecture.
    Machine {
        /// Which image.
        what: &'static str,
        /// Its ELF header's `e_machine`.
        e_machine: u16,
    },
    /// The kernel is not an ET_EXEC image.
    KernelType(u16),
    /// The kernel's segments do not share one virtual-physical offset.
    KernelOffsets,
    /// An address computation overflows.
    Overflow {
        /// The address computed (e.g. `device tree end`).
        what: &'static str,
    },
    /// The kernel's physical range is not inside one RAM region.
    KernelNotInRam {
        /// The kernel's physical range.
        kernel: Region,
    },
    /// The device tree and root server do not fit after the kernel in its
    /// RAM region.
    DoesNotFit {
        /// The physical range they would take.
        needed: Region,
        /// The RAM region of the kernel.
        ram: Region,
    },
    /// A planned range overlaps the loader (code, data, stack, payload).
    OverlapsLoader {
        /// Which planned range.
        what: &'static str,
        /// Its physical range.
        range: Region,
        /// The loader's physical range.
        loader: Region,
    },
    /// The root server was asked to run at an address that is not page
    /// aligned.
    UserVaddrAlignment(u64),
    /// A root server that is not position-independent was asked to run
    /// somewhere else than its link address.
    NotRelocatable {
        /// The root server's link address.
        link: u64,
        /// The address it was asked to run at.
        requested: u64,
    },
}

impl core::fmt::Display for PlanError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            PlanError::Elf { what, err } => write!(f, "{what}: {err}"),
            PlanError::Machine { what, e_machine } => {
                write!(f, "{what}: ELF machine {e_machine} is not this loader's")
            }
            PlanError::KernelType(t) => write!(f, "kernel ELF: e_type {t}, expected ET_EXEC (2)"),
            PlanError::KernelOffsets => write!(
                f,
                "kernel ELF: its segments do not share one virtual-to-physical offset"
            ),
            PlanError::Overflow { what } => write!(f, "{what}: address overflow"),
            PlanError::KernelNotInRam { kernel } => write!(
                f,
                "kernel physical range {kernel} is not inside one RAM region of the platform"
            ),
            PlanError::DoesNotFit { needed, ram } => write!(
                f,
                "kernel, device tree and root server need {needed}, beyond the RAM region {ram}"
            ),
            PlanError::OverlapsLoader {
                what,
                range,
                loader,
            } => write!(
                f,
                "{what} at {range} would overwrite the loader at {loader} (root server too large for the space below the loader?)"
            ),
            PlanError::UserVaddrAlignment(v) => {
                write!(f, "root server address {v:#x} is not page-aligned")
            }
            PlanError::NotRelocatable { link, requested } => write!(
                f,
                "root server is not position-independent (linked at {link:#x}); it cannot run at {requested:#x}"
            ),
        }
    }
}

/// Where an ELF image goes: its PT_LOAD segments laid out contiguously as
/// in virtual memory ([`sel4_elf_reloc::load_segments`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImagePlacement {
    /// Physical range of the whole image, page-aligned.
    pub phys: Region,
    /// Virtual address it is linked at (of `phys.start`).
    pub link_base: u64,
    /// Virtual address it runs at (of `phys.start`).
    pub vaddr: u64,
    /// Entry point at the run address.
    pub entry: u64,
}

/// The complete placement and the kernel's entry arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The architecture planned for.
    pub arch: Arch,
    /// Where the kernel goes.
    pub kernel: ImagePlacement,
    /// Physical range of the device tree copy (empty without one).
    pub dtb: Region,
    /// Where the root server goes.
    pub user: ImagePlacement,
    /// The RAM region all of it is in.
    pub ram: Region,
}

impl Plan {
    /// `pv_offset` for `init_kernel`: user physical address minus virtual
    /// address (two's complement).
    pub fn pv_offset(&self) -> u64 {
        self.user.phys.start.wrapping_sub(self.user.vaddr)
    }

    /// Kernel virtual address minus physical address.
    pub fn kernel_offset(&self) -> u64 {
        self.kernel.vaddr.wrapping_sub(self.kernel.phys.start)
    }

    /// The arguments of `init_kernel`, in order: ui_p_reg_start,
    /// ui_p_reg_end, pv_offset, v_entry, dtb_addr_p, dtb_size.
    pub fn kernel_args(&self) -> [u64; 6] {
        let (dtb_p, dtb_size) = if self.dtb.is_empty() {
            (0, 0)
        } else {
            (self.dtb.start, self.dtb.len())
        };
        [
            self.user.phys.start,
            self.user.phys.end,
            self.pv_offset(),
            self.user.entry,
            dtb_p,
            dtb_size,
        ]
    }

    /// Plans the boot of `payload` by a loader whose image (code, data,
    /// stack, page tables and the payload after it) occupies `loader`.
    pub fn new(payload: &Payload<'_>, loader: Region) -> Result<Plan, PlanError> {
        let machine = payload.arch.machine();
        let kernel = parse(payload.kernel, "kernel ELF", machine)?;
        let user = parse(payload.rootserver, "root server ELF", machine)?;
        if kernel.header().e_type != ET_EXEC {
            return Err(PlanError::KernelType(kernel.header().e_type));
        }

        // The kernel: at its physical addresses, one offset for all segments.
        let mut offset = None;
        for p in kernel.program_headers().filter(|p| p.p_type == PT_LOAD) {
            let o = p.p_vaddr.wrapping_sub(p.p_paddr);
            if *offset.get_or_insert(o) != o {
                return Err(PlanError::KernelOffsets);
            }
        }
        let kernel_offset = offset.unwrap_or(0);
        let (k_vbase, k_vend) = kernel.load_range().map_err(|err| PlanError::Elf {
            what: "kernel ELF",
            err,
        })?;
        let k_phys = Region::new(
            k_vbase.wrapping_sub(kernel_offset),
            k_vend.wrapping_sub(kernel_offset),
        );
        if k_phys.end < k_phys.start {
            return Err(PlanError::Overflow {
                what: "kernel physical range",
            });
        }
        let ram = payload
            .memory
            .iter()
            .find(|r| r.contains(&k_phys))
            .ok_or(PlanError::KernelNotInRam { kernel: k_phys })?;

        // The device tree, then the root server.
        let dtb_len = payload.dtb.map_or(0, |d| d.len() as u64);
        let dtb = Region::new(k_phys.end, k_phys.end + dtb_len);
        let user_start = align_up(dtb.end, PAGE_SIZE).ok_or(PlanError::Overflow {
            what: "device tree end",
        })?;
        let (u_link, u_end) = user.load_range().map_err(|err| PlanError::Elf {
            what: "root server ELF",
            err,
        })?;
        let user_phys = Region::new(
            user_start,
            user_start
                .checked_add(u_end - u_link)
                .ok_or(PlanError::Overflow {
                    what: "root server physical range",
                })?,
        );
        let needed = Region::new(k_phys.start, user_phys.end);
        if !ram.contains(&needed) {
            return Err(PlanError::DoesNotFit { needed, ram });
        }
        for (what, range) in [
            ("the kernel", k_phys),
            ("the device tree", dtb),
            ("the root server", user_phys),
        ] {
            if range.overlaps(&loader) {
                return Err(PlanError::OverlapsLoader {
                    what,
                    range,
                    loader,
                });
            }
        }

        // Where the root server runs.
        let u_vaddr = match payload.user_vaddr {
            None => u_link,
            Some(v) if v % PAGE_SIZE != 0 => return Err(PlanError::UserVaddrAlignment(v)),
            Some(v) if v != u_link && user.header().e_type != ET_DYN => {
                return Err(PlanError::NotRelocatable {
                    link: u_link,
                    requested: v,
                })
            }
            Some(v) => v,
        };
        let u_shift = u_vaddr.wrapping_sub(u_link);
        u_vaddr
            .checked_add(u_end - u_link)
            .ok_or(PlanError::Overflow {
                what: "root server virtual range",
            })?;
        Ok(Plan {
            arch: payload.arch,
            kernel: ImagePlacement {
                phys: k_phys,
                link_base: k_vbase,
                vaddr: k_vbase,
                entry: kernel.header().e_entry,
            },
            dtb: if dtb_len == 0 {
                Region::new(k_phys.end, k_phys.end)
            } else {
                dtb
            },
            user: ImagePlacement {
                phys: user_phys,
                link_base: u_link,
                vaddr: u_vaddr,
                entry: user.header().e_entry.wrapping_add(u_shift),
            },
            ram,
        })
    }
}

fn parse<'a>(
    bytes: &'a [u8],
    what: &'static str,
    machine: sel4_elf_reloc::Machine,
) -> Result<Elf<'a>, PlanError> {
    let e = Elf::parse(bytes).map_err(|err| PlanError::Elf { what, err })?;
    if e.machine() != machine {
        return Err(PlanError::Machine {
            what,
            e_machine: e.header().e_machine,
        });
    }
    e.load_range().map_err(|err| PlanError::Elf { what, err })?;
    Ok(e)
}

/// The page-aligned range `[align_down(start), align_up(end))`.
pub fn page_range(start: u64, end: u64) -> Option<Region> {
    Some(Region::new(
        align_down(start, PAGE_SIZE),
        align_up(end, PAGE_SIZE)?,
    ))
}
