//! aarch64: entry (EL2 -> EL1), PL011 console, MMU set-up, kernel entry.

use crate::boot::{say, Entry};
use sel4_loader_core::pagetable::{Format, Half, PageTables};
use sel4_loader_core::plan::Plan;
use sel4_loader_core::Arch;

pub const ARCH: Arch = Arch::Aarch64;
pub const PAGE_FORMAT: Format = Format::Aarch64;

/// QEMU virt's PL011 UART.
const UART_BASE: usize = 0x0900_0000;
const UART_DR: usize = 0x00;
const UART_FR: usize = 0x18;
const UART_FR_TXFF: u32 = 1 << 5;

/// Stack of the loader.
const STACK_SIZE: usize = 64 * 1024;

// The entry. QEMU starts the image at EL2 (`-machine virt,virtualization=on`)
// or EL1 with the MMU off. At EL2 the loader drops to EL1, as seL4's own
// loader does for a kernel without hypervisor support: EL1 in AArch64, no
// stage-2 translation, no EL2 traps of FP/SIMD, timer or counter accesses,
// SCTLR_EL1 in a known state (MMU and caches off), DAIF masked. At EL1 it
// turns the MMU and caches off (they are off after reset), enables FP/SIMD
// (the Rust code uses it), takes its stack, zeroes .bss, installs its
// exception vectors and calls the Rust side with x0 = the level it was
// started at, x1 = the x0 it was started with (a device tree address when a
// firmware passes one).
core::arch::global_asm!(
    ".pushsection .text.start,\"ax\",%progbits",
    ".globl _start",
    ".type _start,%function",
    "_start:",
    "    mov x19, x0",
    "    mrs x20, CurrentEL",
    "    lsr x20, x20, #2",
    "    and x20, x20, #3",
    "    cmp x20, #2",
    "    b.ne 1f",
    // EL2 -> EL1.
    "    mov x9, #(1 << 31)",
    "    msr hcr_el2, x9",
    "    mov x9, #0x33ff",
    "    msr cptr_el2, x9",
    "    msr hstr_el2, xzr",
    "    msr vttbr_el2, xzr",
    "    mrs x9, cnthctl_el2",
    "    orr x9, x9, #3",
    "    msr cnthctl_el2, x9",
    "    msr cntvoff_el2, xzr",
    "    movz x9, #0x0800",
    "    movk x9, #0x30d0, lsl #16",
    "    msr sctlr_el1, x9",
    "    mov x9, #0x3c5",
    "    msr spsr_el2, x9",
    "    adr x9, 2f",
    "    msr elr_el2, x9",
    "    isb",
    "    eret",
    "1:  cmp x20, #1",
    "    b.ne 3f",
    // At EL1 from the start: MMU and caches off.
    "    mrs x9, sctlr_el1",
    "    bic x9, x9, #1",
    "    bic x9, x9, #(1 << 2)",
    "    bic x9, x9, #(1 << 12)",
    "    msr sctlr_el1, x9",
    "    isb",
    // EL1 (also after the drop from EL2).
    "2:  mov x9, #(3 << 20)",
    "    msr cpacr_el1, x9",
    "    isb",
    "    adrp x9, __sel4rs_loader_vectors",
    "    add x9, x9, :lo12:__sel4rs_loader_vectors",
    "    msr vbar_el1, x9",
    "3:  adrp x9, __sel4rs_loader_stack_top",
    "    add x9, x9, :lo12:__sel4rs_loader_stack_top",
    "    mov sp, x9",
    "    adrp x9, __bss_start",
    "    add x9, x9, :lo12:__bss_start",
    "    adrp x10, __bss_end",
    "    add x10, x10, :lo12:__bss_end",
    "4:  cmp x9, x10",
    "    b.hs 5f",
    "    str xzr, [x9], #8",
    "    b 4b",
    "5:  mov x0, x20",
    "    mov x1, x19",
    "    bl __sel4rs_loader_main",
    "6:  wfe",
    "    b 6b",
    ".size _start, . - _start",
    ".popsection",
    ".pushsection .bss.sel4rs_loader_stack,\"aw\",%nobits",
    ".p2align 12",
    ".skip {stack}",
    "__sel4rs_loader_stack_top:",
    ".popsection",
    stack = const STACK_SIZE,
);

// Exception vectors (EL1): every entry passes its index and the syndrome to
// the Rust side, which reports it and ends the boot.
core::arch::global_asm!(
    ".pushsection .text.sel4rs_loader_vectors,\"ax\",%progbits",
    ".p2align 11",
    ".globl __sel4rs_loader_vectors",
    "__sel4rs_loader_vectors:",
    ".irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15",
    "    .p2align 7",
    "    mov x0, #\\i",
    "    mrs x1, esr_el1",
    "    mrs x2, elr_el1",
    "    mrs x3, far_el1",
    "    b __sel4rs_loader_exception",
    ".endr",
    ".popsection",
);

#[no_mangle]
extern "C" fn __sel4rs_loader_main(level: usize, x0: usize) -> ! {
    crate::boot::main(Entry {
        level_or_hart: level,
        firmware_dtb: x0,
    })
}

#[no_mangle]
extern "C" fn __sel4rs_loader_exception(vector: usize, esr: u64, elr: u64, far: u64) -> ! {
    crate::boot::fail(format_args!(
        "exception (vector {vector}) in the loader: ESR_EL1 {esr:#x}, ELR_EL1 {elr:#x}, FAR_EL1 {far:#x}"
    ))
}

pub fn describe_entry(entry: &Entry) {
    match entry.level_or_hart {
        2 => say!(
            "started at EL2 (x0 {:#x}), now at EL1 (the kernel is not a hypervisor build)",
            entry.firmware_dtb
        ),
        1 => say!("started at EL1 (x0 {:#x})", entry.firmware_dtb),
        el => crate::boot::fail(format_args!(
            "started at EL{el}: only EL2 and EL1 are supported (QEMU virt without secure=on)"
        )),
    }
}

/// Writes a byte to the PL011 (MMU off: device memory).
pub fn putc(b: u8) {
    // SAFETY: QEMU virt's PL011 registers at UART_BASE; volatile MMIO reads
    // of the flag register and writes of the data register have no other
    // effect than sending the byte.
    unsafe {
        while core::ptr::read_volatile((UART_BASE + UART_FR) as *const u32) & UART_FR_TXFF != 0 {}
        core::ptr::write_volatile((UART_BASE + UART_DR) as *mut u32, u32::from(b));
    }
}

/// Ends QEMU with `status` through semihosting `SYS_EXIT` (at EL1 QEMU
/// honours it with `-semihosting-config enable=on`), then waits forever.
pub fn exit(status: u32) -> ! {
    let block: [u64; 2] = [0x20026, u64::from(status)];
    // SAFETY: `hlt #0xf000` is the semihosting trap; QEMU reads the two
    // words of `block`. Without semihosting it is an exception, which the
    // vectors turn into a second call of this function (and then the same
    // again): the loop below is reached either way only on hardware.
    unsafe {
        core::arch::asm!(
            "hlt #0xf000",
            in("x0") 0x18u64,
            in("x1") block.as_ptr(),
            options(nostack, readonly)
        );
    }
    loop {
        // SAFETY: waits for an event; no effect on memory.
        unsafe { core::arch::asm!("wfe", options(nostack, nomem)) };
    }
}

/// MAIR_EL1 as seL4 expects it: index 0 device nGnRnE, 1 device nGnRE,
/// 2 device GRE, 3 normal non-cacheable, 4 normal write-back, 5 normal
/// write-through.
const MAIR: u64 = {
    let attrs: [u64; 6] = [0x00, 0x04, 0x0c, 0x44, 0xff, 0xaa];
    let mut mair = 0;
    let mut i = 0;
    while i < attrs.len() {
        mair |= attrs[i] << (8 * i);
        i += 1;
    }
    mair
};

/// TCR_EL1: 48-bit virtual addresses in both halves (T0SZ = T1SZ = 16),
/// 4 KiB granules, write-back write-allocate table walks, 16-bit ASIDs; the
/// physical address size (IPS) is filled in from ID_AA64MMFR0_EL1.
const TCR: u64 =
    16 | (1 << 8) | (1 << 10) | (16 << 16) | (1 << 24) | (1 << 26) | (2 << 30) | (1 << 36);

/// Turns on the MMU with the boot tables and jumps to the kernel.
pub fn enter_kernel(pt: &PageTables<'_>, plan: &Plan, _entry: &Entry) -> ! {
    let a = plan.kernel_args();
    // SAFETY: the tables map the loader (identity) and the kernel window
    // (checked by the caller), so the instructions after the MMU is on are
    // still mapped and the kernel entry is; the kernel never returns.
    unsafe {
        core::arch::asm!(
            "msr mair_el1, {mair}",
            "mrs x9, id_aa64mmfr0_el1",
            "bfi x10, x9, #32, #3",
            "msr tcr_el1, x10",
            "msr ttbr0_el1, {ttbr0}",
            "msr ttbr1_el1, {ttbr1}",
            "isb",
            "tlbi vmalle1",
            "dsb ish",
            "ic iallu",
            "dsb ish",
            "isb",
            "mrs x9, sctlr_el1",
            "orr x9, x9, #1",
            "orr x9, x9, #(1 << 2)",
            "orr x9, x9, #(1 << 12)",
            "msr sctlr_el1, x9",
            "isb",
            "br {entry}",
            mair = in(reg) MAIR,
            ttbr0 = in(reg) pt.root(Half::Lower),
            ttbr1 = in(reg) pt.root(Half::Upper),
            entry = in(reg) plan.kernel.entry,
            in("x9") 0u64,
            in("x10") TCR,
            in("x0") a[0],
            in("x1") a[1],
            in("x2") a[2],
            in("x3") a[3],
            in("x4") a[4],
            in("x5") a[5],
            options(noreturn)
        );
    }
}
