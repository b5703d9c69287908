//! hello: the default example root task.
//!
//! Logs a summary of bootinfo, uses the heap, retypes a notification out of
//! untyped memory, signals and polls it, and ends the system with success.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;
use log::info;
use sel4_rootserver::cnode::ALL_RIGHTS;
use sel4_rootserver::{
    entry, println, BootInfo, CNode, Cap, Error, Notification, SlotAllocator, Untyped,
};

entry!(main);

fn main(bootinfo: &BootInfo) -> Result<(), Error> {
    let empty = bootinfo.empty();
    info!(
        "kernel {} ({} nodes), IPC buffer at {:#x}",
        sel4_rootserver::sys::KERNEL_VERSION,
        bootinfo.num_nodes(),
        bootinfo.ipc_buffer()
    );
    info!(
        "empty slots [{:#x}, {:#x}): {} slots",
        empty.start,
        empty.end,
        empty.len()
    );
    info!(
        "untypeds: {} in slots [{:#x}, {:#x})",
        bootinfo.untyped_count(),
        bootinfo.untyped().start,
        bootinfo.untyped().end
    );
    info!(
        "  RAM:    {:4} untypeds, {:10} bytes ({} MiB)",
        bootinfo.ram_untyped_count(),
        bootinfo.ram_bytes(),
        bootinfo.ram_bytes() >> 20
    );
    info!(
        "  device: {:4} untypeds, {:10} bytes ({} MiB)",
        bootinfo.device_untyped_count(),
        bootinfo.device_bytes(),
        bootinfo.device_bytes() >> 20
    );

    // The heap: collect the RAM untypeds, largest first.
    let mut ram: Vec<(u64, usize, u64)> = bootinfo
        .untypeds()
        .enumerate()
        .filter(|(_, u)| !u.is_device)
        .map(|(i, u)| {
            (
                bootinfo.untyped().start as u64 + i as u64,
                u.size_bits as usize,
                u.paddr,
            )
        })
        .collect();
    ram.sort_by(|a, b| b.1.cmp(&a.1));
    let (slot, size_bits, paddr) = *ram
        .first()
        .ok_or(Error::UntypedExhausted { size_bits: 0 })?;
    info!(
        "largest RAM untyped: slot {:#x}, 2^{} bytes at {:#x}",
        slot, size_bits, paddr
    );

    // A notification out of that untyped, signalled and polled.
    let mut slots = SlotAllocator::new(empty.start as u64, empty.end as u64);
    let untyped: Cap<Untyped> = Cap::from_cptr(slot);
    let ntfn: Cap<Notification> = untyped.retype(slots.alloc()?)?;
    info!("notification at slot {:#x}", ntfn.cptr());
    // Signals through a badged copy, so that a poll tells them apart from
    // "nothing signalled" (badge 0).
    let badged = Cap::<CNode>::root().mint(slots.alloc()?, ntfn, ALL_RIGHTS, 0x5)?;
    let before = ntfn.poll();
    badged.signal();
    let after = ntfn.poll();
    let again = ntfn.poll();
    info!("poll before signal: {before}, after signal: {after}, after that: {again}");
    if before != 0 || after != 0x5 || again != 0 {
        println!("notification did not behave: {before} {after} {again}");
        return Err(Error::UnknownKernelError(0));
    }
    println!("Hello from a pure-Rust seL4 root task!");
    Ok(())
}
