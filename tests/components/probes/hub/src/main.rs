//! The fleet's hub: counts the check-ins.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use probe_proto::{HubRequest, HubResponse};
use sel4_component::Control;

sel4_component::include_env!();
sel4_component::entry!(main);

fn main(env: Env) {
    let mut count = 0u64;
    env.hub.serve(|_, HubRequest::CheckIn, _| {
        count += 1;
        Control::Reply(HubResponse::Ack { count })
    });
}
