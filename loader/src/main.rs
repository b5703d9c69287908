//! sel4-loader: boots seL4 on QEMU virt (aarch64 and riscv64).
//!
//! QEMU loads this ELF at its link address (`link-<arch>.ld`) and starts it
//! with the MMU off: on aarch64 at EL2 or EL1 (`-machine virt` with or
//! without `virtualization=on`), on riscv64 in S-mode under QEMU's bundled
//! OpenSBI (`-bios default`). The image tool (`host/mkimage`) has appended
//! the payload (`sel4_loader_core::payload`: kernel ELF, root server ELF,
//! device tree, RAM regions) at the first page after the loader's `_end`.
//!
//! The loader
//! 1. (aarch64) drops from EL2 to EL1 when started at EL2: the kernel is
//!    not a hypervisor build (`KernelArmHypervisorSupport` off), so it runs
//!    at EL1 (arch module);
//! 2. checks the payload and plans the placement (`sel4_loader_core::plan`,
//!    the same code the image tool ran at build time);
//! 3. copies the kernel to its physical address, the device tree after it
//!    and the root server's image after that;
//! 4. builds the boot page tables (identity mapping of RAM and the kernel
//!    window) and turns on the MMU as seL4 expects (aarch64: MAIR, TCR,
//!    TTBR0/TTBR1 at EL1; riscv64: Sv39 in satp);
//! 5. calls the kernel's entry with `init_kernel(ui_p_reg_start,
//!    ui_p_reg_end, pv_offset, v_entry, dtb_addr_p, dtb_size)` (riscv64
//!    also gets the hart id and core id 0).
//!
//! Every error is printed with what went wrong, then the loader ends QEMU
//! with status 5 ((2 << 1) | 1, semihosting) or, without semihosting, stops.
#![cfg_attr(target_os = "none", no_std)]
#![cfg_attr(target_os = "none", no_main)]

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "sel4-loader runs on bare metal only: build it with \
         --target aarch64-unknown-none or --target riscv64gc-unknown-none-elf"
    );
    std::process::exit(2);
}

#[cfg(target_os = "none")]
#[cfg_attr(target_arch = "aarch64", path = "arch/aarch64.rs")]
#[cfg_attr(target_arch = "riscv64", path = "arch/riscv64.rs")]
mod arch;

#[cfg(target_os = "none")]
mod boot;
