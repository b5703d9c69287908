//! riscv64: entry in S-mode under OpenSBI, SBI console, Sv39, kernel entry.

use crate::boot::{say, Entry};
use sel4_loader_core::pagetable::{Format, Half, PageTables};
use sel4_loader_core::plan::Plan;
use sel4_loader_core::Arch;

pub const ARCH: Arch = Arch::Riscv64;
pub const PAGE_FORMAT: Format = Format::Sv39;

/// Stack of the loader.
const STACK_SIZE: usize = 64 * 1024;

/// satp mode Sv39.
const SATP_SV39: u64 = 8 << 60;

// The entry. OpenSBI (fw_dynamic, QEMU's `-bios default`) starts the image in
// S-mode with a0 = hart id and a1 = its device tree, the MMU off. The loader
// masks interrupts, points stvec at its trap handler, enables the FPU
// (sstatus.FS = initial; the Rust code may use it), takes its stack, zeroes
// .bss and calls the Rust side with a0 = hart id, a1 = device tree.
core::arch::global_asm!(
    ".pushsection .text.start,\"ax\",@progbits",
    ".globl _start",
    ".type _start,@function",
    "_start:",
    ".option push",
    ".option norelax",
    "    csrw sie, zero",
    "    csrci sstatus, 2",
    "    lla t0, __sel4rs_loader_trap",
    "    csrw stvec, t0",
    "    li t0, 1 << 13",
    "    csrs sstatus, t0",
    "    lla sp, __sel4rs_loader_stack_top",
    "    lla t0, __bss_start",
    "    lla t1, __bss_end",
    "1:  bgeu t0, t1, 2f",
    "    sd zero, 0(t0)",
    "    addi t0, t0, 8",
    "    j 1b",
    "2:  call __sel4rs_loader_main",
    "3:  wfi",
    "    j 3b",
    ".option pop",
    ".size _start, . - _start",
    ".p2align 2",
    "__sel4rs_loader_trap:",
    "    csrr a0, scause",
    "    csrr a1, sepc",
    "    csrr a2, stval",
    "    j __sel4rs_loader_exception",
    ".popsection",
    ".pushsection .bss.sel4rs_loader_stack,\"aw\",@nobits",
    ".p2align 12",
    ".skip {stack}",
    "__sel4rs_loader_stack_top:",
    ".popsection",
    stack = const STACK_SIZE,
);

#[no_mangle]
extern "C" fn __sel4rs_loader_main(hart: usize, dtb: usize) -> ! {
    crate::boot::main(Entry {
        level_or_hart: hart,
        firmware_dtb: dtb,
    })
}

#[no_mangle]
extern "C" fn __sel4rs_loader_exception(cause: u64, epc: u64, tval: u64) -> ! {
    crate::boot::fail(format_args!(
        "trap in the loader: scause {cause:#x}, sepc {epc:#x}, stval {tval:#x}"
    ))
}

pub fn describe_entry(entry: &Entry) {
    say!(
        "started in S-mode on hart {} (firmware device tree at {:#x}, not used)",
        entry.level_or_hart,
        entry.firmware_dtb
    );
}

/// Writes a byte through the SBI legacy console (OpenSBI implements it).
pub fn putc(b: u8) {
    // SAFETY: SBI call `console_putchar` (extension 0x01): OpenSBI prints
    // the byte; a0 comes back with an error code, nothing else changes.
    unsafe {
        core::arch::asm!(
            "ecall",
            inout("a0") usize::from(b) => _,
            in("a7") 1usize,
            out("a1") _,
            options(nostack, nomem)
        );
    }
}

/// Ends QEMU with `status` through semihosting `SYS_EXIT` (QEMU honours it
/// in S-mode with `-semihosting-config enable=on`), then waits forever.
pub fn exit(status: u32) -> ! {
    let block: [u64; 2] = [0x20026, u64::from(status)];
    // SAFETY: the uncompressed `slli; ebreak; srai` sequence is the RISC-V
    // semihosting trap; QEMU reads the two words of `block`. The sequence is
    // aligned so that it does not cross a page. Without semihosting `ebreak`
    // traps to the handler, which calls this function again.
    unsafe {
        core::arch::asm!(
            ".option push",
            ".option norelax",
            ".p2align 4",
            ".option norvc",
            "slli zero, zero, 0x1f",
            "ebreak",
            "srai zero, zero, 7",
            ".option pop",
            in("a0") 0x18u64,
            in("a1") block.as_ptr(),
            options(nostack, readonly)
        );
    }
    loop {
        // SAFETY: waits for an interrupt (all masked); no effect on memory.
        unsafe { core::arch::asm!("wfi", options(nostack, nomem)) };
    }
}

/// Turns on Sv39 paging with the boot tables and jumps to the kernel.
pub fn enter_kernel(pt: &PageTables<'_>, plan: &Plan, entry: &Entry) -> ! {
    let a = plan.kernel_args();
    let satp = SATP_SV39 | (pt.root(Half::Lower) >> 12);
    // SAFETY: the tables map the loader (identity) and the kernel window
    // (checked by the caller), so the instructions after satp is written
    // are still mapped and the kernel entry is; the kernel never returns.
    unsafe {
        core::arch::asm!(
            "sfence.vma",
            "csrw satp, {satp}",
            "sfence.vma",
            "fence.i",
            "jr {entry}",
            satp = in(reg) satp,
            entry = in(reg) plan.kernel.entry,
            in("a0") a[0],
            in("a1") a[1],
            in("a2") a[2],
            in("a3") a[3],
            in("a4") a[4],
            in("a5") a[5],
            in("a6") entry.level_or_hart,
            in("a7") 0usize,
            options(noreturn)
        );
    }
}
