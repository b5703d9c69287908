//! hello: the default example root task.
//!
//! Logs a summary of bootinfo, uses the heap, retypes a notification out of
//! untyped memory, signals and polls it, and ends the system with success.
//! Kernel objects are used through the `sel4` crate's typed API, the same
//! code on every supported kernel.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::vec::Vec;
use log::info;
use sel4::prelude::*;
use sel4::{init, CapData, CapRights};
use sel4_rootserver::{
    entry, println, AllocError, BootInfo, Cap, Error, Notification, SlotAllocator, Untyped, TCB,
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
    // Each total is a walk of the untyped list: once each.
    let (ram_count, ram_bytes) = (bootinfo.ram_untyped_count(), bootinfo.ram_bytes());
    let device_bytes = bootinfo.device_bytes();
    info!(
        "  RAM:    {:4} untypeds, {:10} bytes ({} MiB)",
        ram_count,
        ram_bytes,
        ram_bytes >> 20
    );
    info!(
        "  device: {:4} untypeds, {:10} bytes ({} MiB)",
        bootinfo.device_untyped_count(),
        device_bytes,
        device_bytes >> 20
    );

    // The heap: collect the RAM untypeds, then take the largest (the first
    // of them if several are as large).
    let mut ram: Vec<(u64, usize, u64)> = Vec::with_capacity(ram_count);
    for (i, u) in bootinfo.untypeds().enumerate() {
        if !u.is_device {
            let slot = bootinfo.untyped().start as u64 + i as u64;
            ram.push((slot, u.size_bits as usize, u.paddr));
        }
    }
    let (slot, size_bits, paddr) =
        *ram.iter()
            .min_by_key(|r| core::cmp::Reverse(r.1))
            .ok_or(Error::Alloc(AllocError::UntypedExhausted {
                size_bits: 0,
                count: 1,
                device: false,
            }))?;
    info!(
        "largest RAM untyped: slot {:#x}, 2^{} bytes at {:#x}",
        slot, size_bits, paddr
    );

    // A notification out of that untyped, signalled and polled.
    let mut slots = SlotAllocator::new(empty.start as u64, empty.end as u64);
    let untyped: Cap<Untyped> = Cap::from_cptr(slot);
    let ntfn: Cap<Notification> = untyped.retype_one(init::CNODE, slots.alloc()?)?;
    info!("notification at slot {:#x}", ntfn.cptr());
    // Signals through a badged copy, so that a poll tells them apart from
    // "nothing signalled" (badge 0).
    let badge = CapData::badge(0x5)?;
    let copy = init::CNODE.slot(slots.alloc()?);
    copy.mint_from(init::CNODE.slot_of(ntfn), CapRights::ALL, badge)?;
    let badged: Cap<Notification> = copy.cap();
    let before = ntfn.poll();
    badged.signal();
    let after = ntfn.poll();
    let again = ntfn.poll();
    info!("poll before signal: {before}, after signal: {after}, after that: {again}");
    if before != 0 || after != 0x5 || again != 0 {
        println!("notification did not behave: {before} {after} {again}");
        return Err(Error::Check("notification signal and poll"));
    }

    // The root task's own TCB: one signature on every kernel (seL4 5.x
    // checks against the caller's MCP, later kernels the authority's).
    init::TCB.set_priority(init::TCB, 254)?;
    // An invocation error with its detail: an empty slot is no TCB.
    let empty: Cap<TCB> = Cap::from_cptr(slots.alloc()?);
    match empty.suspend() {
        Err(sel4_rootserver::InvocationError::InvalidCapability { argument: 0 }) => {}
        Ok(()) => {
            println!("suspending an empty slot succeeded");
            return Err(Error::Check("invocation error decoding"));
        }
        Err(e) => {
            println!("suspending an empty slot gave: {e}");
            return Err(Error::Check("invocation error decoding"));
        }
    }
    info!("TCB_SetPriority on itself and a typed invocation error: ok");
    // Where the console writes: the kernel's debug console, or COM1
    // through the runtime's UART driver (a kernel without a debug console,
    // or the console-uart feature of the hello-uart image).
    let backend = sel4_rootserver::console::backend();
    info!("console: {backend}");
    if cfg!(feature = "console-uart")
        && !matches!(backend, sel4_rootserver::console::Backend::Uart { .. })
    {
        return Err(Error::Check(
            "the console-uart feature did not put the console on the UART",
        ));
    }
    println!("Hello from a pure-Rust seL4 root task!");
    Ok(())
}
