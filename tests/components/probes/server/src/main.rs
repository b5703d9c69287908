//! The probe server: serves `svc` (echo, crash in the middle of a request,
//! block on the `release` notification, tell its heap's address).
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use probe_proto::{op, SvcRequest, SvcResponse, RELEASE_CRASH};
use sel4_component::__runtime::thread::provoke;
use sel4_component::Control;

sel4_component::include_env!();
sel4_component::entry!(main);

fn main(env: Env) {
    let generation = sel4_component::generation();
    env.svc.serve(|_, req, _| {
        let SvcRequest::Do { op, arg } = req;
        let value = match op {
            op::ECHO => arg + 1,
            op::CRASH => {
                provoke::write_unmapped(16);
                0
            }
            op::BLOCK => {
                if env.release.wait() & RELEASE_CRASH != 0 {
                    provoke::write_unmapped(24);
                }
                arg
            }
            op::WHERE => env::HEAP_START,
            _ => return Control::Refuse(op),
        };
        Control::Reply(SvcResponse::Answer { value, generation })
    });
}
