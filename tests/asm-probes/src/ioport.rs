//! An I/O port read with the `in` instruction at a known address, for
//! IOPORTS1000: seL4 gives user mode no I/O privilege (IOPL 0, no I/O
//! permission bitmap), so the instruction raises a general-protection
//! exception, which the kernel reports as a user exception of the thread.
//! A handler that puts a value in RAX and moves the thread's instruction
//! pointer to [`Site::restart`] (the next instruction: `in al, dx` is one
//! byte) makes [`read`] return that value.

use crate::fault::Site;
use sel4_sys::Word;

core::arch::global_asm!(
    ".pushsection .text.sel4rs_probe_port_in, \"ax\", @progbits",
    // u8 port_in(u16 port): DX = port, EAX = 0; `in al, dx`; return AL.
    ".p2align 4",
    ".global sel4rs_probe_port_in",
    ".type sel4rs_probe_port_in, @function",
    "sel4rs_probe_port_in:",
    "mov edx, edi",
    "xor eax, eax",
    ".global sel4rs_probe_port_in_ip",
    "sel4rs_probe_port_in_ip:",
    "in al, dx",
    ".global sel4rs_probe_port_in_restart",
    "sel4rs_probe_port_in_restart:",
    "ret",
    ".popsection",
);

extern "C" {
    fn sel4rs_probe_port_in(port: u16) -> u8;
    fn sel4rs_probe_port_in_ip();
    fn sel4rs_probe_port_in_restart();
}

fn addr(f: unsafe extern "C" fn()) -> Word {
    f as *const () as usize as Word
}

/// Reads port `port` with `in al, dx`; returns AL (0 before the read).
#[inline(never)]
pub fn read(port: u16) -> u8 {
    // SAFETY: the routine changes RAX and RDX only (caller-saved) and
    // touches no memory; `in` from user mode faults on seL4 (no I/O
    // privilege), and the thread comes back only if a handler restarts it,
    // at the restart address, where the routine returns like a C function.
    // Were user mode given the port, the instruction would just read it.
    unsafe { sel4rs_probe_port_in(port) }
}

/// Where [`read`] faults and where to restart it.
pub fn site() -> Site {
    Site {
        ip: addr(sel4rs_probe_port_in_ip),
        restart: addr(sel4rs_probe_port_in_restart),
    }
}
