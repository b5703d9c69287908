//! One of a hundred components of one image: checks in with the hub and
//! exits (0 when the hub answered).
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use probe_proto::{HubRequest, HubResponse};

sel4_component::include_env!();
sel4_component::entry!(main);

fn main(env: Env) -> u64 {
    match env.hub.call(&HubRequest::CheckIn) {
        Ok(HubResponse::Ack { count }) if count >= 1 => 0,
        _ => 1,
    }
}
