//! The logger: prints every line its clients send, with the client's
//! name (from the badge the description gave it).
#![no_std]
#![no_main]

use kv_proto::{LogRequest, LogResponse};
use sel4_component::{println, Control};

sel4_component::include_env!();
sel4_component::entry!(main);

fn main(env: Env) {
    let mut lines = 0u64;
    let mut buf = [0u8; kv_proto::LINE_WORDS * 8];
    env.requests.serve(|badge, req, _| {
        let LogRequest::Line { len, text } = req;
        let who = env.requests.client(badge).map_or("?", |c| c.component);
        lines += 1;
        println!("[logger] {who}: {}", kv_proto::text(len, &text, &mut buf));
        Control::Reply(LogResponse::Logged { lines })
    });
}
