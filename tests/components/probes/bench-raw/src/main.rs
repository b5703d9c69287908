//! The raw server of the IPC bench between components
//! (tests/components/bench): answers every call with raw syscalls
//! (`seL4_Recv`, then `seL4_ReplyRecv` with the word plus one).
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use sel4_sys::MessageInfo;

sel4_component::include_env!();
sel4_component::entry!(main);

fn main(env: Env) {
    let ep = env.bench.endpoint().cptr();
    let mut r = sel4_sys::recv_regs(ep);
    loop {
        let x = r.mrs[0];
        r = sel4_sys::reply_recv_regs(ep, MessageInfo::new(0, 0, 0, 1), [x + 1, 0, 0, 0]);
    }
}
