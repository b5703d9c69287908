//! The architecture-independent part of the loader.

use crate::arch;
use core::fmt::Write;
use sel4_loader_core::pagetable::{PageTables, Table};
use sel4_loader_core::payload::{self, Payload, HEADER_SIZE};
use sel4_loader_core::plan::Plan;
use sel4_loader_core::{align_up, Region, PAGE_SIZE};

/// The console: the arch module's `putc`.
pub struct Console;

impl Write for Console {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for b in s.bytes() {
            if b == b'\n' {
                arch::putc(b'\r');
            }
            arch::putc(b);
        }
        Ok(())
    }
}

macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = core::fmt::Write::write_fmt(
            &mut $crate::boot::Console,
            format_args!("sel4-loader: {}\n", format_args!($($arg)*)),
        );
    }};
}
pub(crate) use say;

/// QEMU exit status of a loader failure: (2 << 1) | 1, in the runtime's
/// (v << 1) | 1 convention (v = 0 success, 1 failure, 2 loader failure).
const FAILURE_STATUS: u32 = (2 << 1) | 1;

/// Prints the error and ends the boot.
pub fn fail(what: core::fmt::Arguments<'_>) -> ! {
    say!("error: {}", what);
    arch::exit(FAILURE_STATUS)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    fail(format_args!("panic: {info}"))
}

extern "C" {
    static __loader_start: u8;
    static _end: u8;
}

/// Boot page tables (in `.bss`, which the entry code zeroes).
const TABLES: usize = 8;
static mut BOOT_TABLES: [Table; TABLES] = [Table::EMPTY; TABLES];

/// What the entry code found.
pub struct Entry {
    /// aarch64: the exception level the loader was started at; riscv64: the
    /// hart id.
    pub level_or_hart: usize,
    /// The device tree address the firmware passed (0: none); not used, the
    /// kernel gets the one it was configured with.
    pub firmware_dtb: usize,
}

/// Called by the entry code on the loader's stack, MMU off, `.bss` zeroed.
pub fn main(entry: Entry) -> ! {
    arch::describe_entry(&entry);
    let loader_start = core::ptr::addr_of!(__loader_start) as u64;
    let Some(payload_at) = align_up(core::ptr::addr_of!(_end) as u64, PAGE_SIZE) else {
        fail(format_args!("_end at the top of the address space"))
    };
    // SAFETY: the image tool put the payload's header at the first page
    // after _end (checked by the magic below; QEMU loads it with the rest of
    // the image); HEADER_SIZE bytes there are RAM either way, as the whole
    // loader region lies in RAM.
    let head = unsafe { core::slice::from_raw_parts(payload_at as *const u8, HEADER_SIZE) };
    let len = match payload::claimed_len(head) {
        Ok(len) => len,
        Err(e) => fail(format_args!("{e} (looked at {payload_at:#x})")),
    };
    // SAFETY: the header claims `len` bytes, which QEMU loaded as the
    // image's last segment; the checksum in `Payload::parse` catches a
    // length that does not match what is there.
    let bytes = unsafe { core::slice::from_raw_parts(payload_at as *const u8, len as usize) };
    let payload = match Payload::parse(bytes, arch::ARCH) {
        Ok(p) => p,
        Err(e) => fail(format_args!("{e}")),
    };
    let Some(loader_end) = payload_at
        .checked_add(payload.total_len)
        .and_then(|e| align_up(e, PAGE_SIZE))
    else {
        fail(format_args!("payload extends past the address space"))
    };
    let loader = Region::new(loader_start, loader_end);
    let plan = match Plan::new(&payload, loader) {
        Ok(p) => p,
        Err(e) => fail(format_args!("{e}")),
    };
    say!("loader and payload at {loader}");
    say!(
        "kernel at {} (entry {:#x}), device tree at {}",
        plan.kernel.phys,
        plan.kernel.entry,
        plan.dtb
    );
    say!(
        "root server at {}, linked at {:#x}, runs at {:#x} (entry {:#x})",
        plan.user.phys,
        plan.user.link_base,
        plan.user.vaddr,
        plan.user.entry
    );

    // Copy. Every destination is RAM outside the loader and the payload
    // (checked by the plan), and nothing else runs.
    // SAFETY: `plan.kernel.phys` lies in a RAM region and does not overlap
    // the loader's image, stack, tables or payload (Plan::new checks both);
    // the MMU is off, so physical addresses are what the pointers name.
    let kernel_dst = unsafe { phys_slice(plan.kernel.phys) };
    if let Err(e) = sel4_elf_reloc::load_segments(payload.kernel, kernel_dst) {
        fail(format_args!("loading the kernel: {e}"));
    }
    if let Some(dtb) = payload.dtb {
        // SAFETY: as for the kernel (`plan.dtb`).
        unsafe { phys_slice(plan.dtb) }.copy_from_slice(dtb);
    }
    // SAFETY: as for the kernel (`plan.user.phys`).
    let user_dst = unsafe { phys_slice(plan.user.phys) };
    if let Err(e) = sel4_elf_reloc::load_segments(payload.rootserver, user_dst) {
        fail(format_args!("loading the root server: {e}"));
    }

    // SAFETY: the only reference to BOOT_TABLES; the loader is single
    // threaded and this runs once.
    let tables = unsafe { &mut *core::ptr::addr_of_mut!(BOOT_TABLES) };
    let base = tables.as_ptr() as u64;
    let mut pt = match PageTables::new(arch::PAGE_FORMAT, tables, base) {
        Ok(pt) => pt,
        Err(e) => fail(format_args!("boot page tables: {e}")),
    };
    let mut ram = [Region::default(); 16];
    let mut n = 0;
    for r in payload.memory.iter().take(ram.len()) {
        ram[n] = r;
        n += 1;
    }
    if let Err(e) = pt.map_boot(&ram[..n], plan.kernel_offset()) {
        fail(format_args!("boot page tables: {e}"));
    }
    for (what, va, pa) in [
        ("loader", loader_start, loader_start),
        (
            "kernel entry",
            plan.kernel.entry,
            plan.kernel.entry.wrapping_sub(plan.kernel_offset()),
        ),
    ] {
        if pt.translate(va) != Some(pa) {
            fail(format_args!(
                "boot page tables do not map the {what} ({va:#x})"
            ));
        }
    }
    say!(
        "{} boot page tables, entering the kernel at {:#x}",
        pt.used(),
        plan.kernel.entry
    );
    arch::enter_kernel(&pt, &plan, &entry)
}

/// The bytes of a physical range.
///
/// # Safety
/// The range must be RAM that nothing else uses for the rest of the
/// loader's run, and the MMU must be off.
unsafe fn phys_slice(r: Region) -> &'static mut [u8] {
    // SAFETY: per the contract.
    unsafe { core::slice::from_raw_parts_mut(r.start as *mut u8, r.len() as usize) }
}
