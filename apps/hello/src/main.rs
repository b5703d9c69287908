//! hello: the default example root task.
//!
//! Logs a summary of bootinfo, uses the heap, retypes a notification out of
//! untyped memory, signals and polls it, and ends the system with success.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::vec::Vec;
use log::info;
use sel4_rootserver::cnode::{self, ALL_RIGHTS};
use sel4_rootserver::{
    entry, println, BootInfo, CNodeExt, Cap, Error, Notification, SlotAllocator, Untyped,
    UntypedExt, TCB,
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
    ram.sort_by_key(|r| core::cmp::Reverse(r.1));
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
    let badged = cnode::root().mint(slots.alloc()?, ntfn, ALL_RIGHTS, 0x5)?;
    let before = ntfn.poll();
    badged.signal();
    let after = ntfn.poll();
    let again = ntfn.poll();
    info!("poll before signal: {before}, after signal: {after}, after that: {again}");
    if before != 0 || after != 0x5 || again != 0 {
        println!("notification did not behave: {before} {after} {again}");
        return Err(Error::Check("notification signal and poll"));
    }

    // A generated TCB method on the root task's own TCB (seL4 5.x takes the
    // priority alone, later kernels also the authority TCB).
    let me: Cap<TCB> = Cap::from_cptr(sel4_rootserver::sys::init_caps::CapInitThreadTCB as u64);
    sel4_rootserver::sys::sel4_cfg_if! { kernel >= 9 && label TCBSetSchedParams {
        me.tcb_set_priority(me, 254)?;
    } else {
        me.tcb_set_priority(254)?;
    } }
    // An invocation error with its detail: an empty slot is no TCB.
    let empty: Cap<TCB> = Cap::from_cptr(slots.alloc()?);
    match empty.tcb_suspend() {
        Err(sel4_rootserver::InvocationError::InvalidCapability { argument: 0 }) => {}
        other => {
            println!("suspending an empty slot gave {other:?}");
            return Err(Error::Check("invocation error decoding"));
        }
    }
    info!("TCB_SetPriority on itself and a typed invocation error: ok");
    println!("Hello from a pure-Rust seL4 root task!");
    Ok(())
}
