//! The key-value store: a map from u64 to u64 on its heap, served to its
//! clients; every change is logged through the logger.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::collections::BTreeMap;
use alloc::format;
use kv_proto::{KvRequest, KvResponse};
use sel4_component::Control;

sel4_component::include_env!();
sel4_component::entry!(main);

fn main(env: Env) {
    let mut map: BTreeMap<u64, u64> = BTreeMap::new();
    let log = &env.log;
    env.requests.serve(|badge, req, _| {
        let who = env.requests.client(badge).map_or("?", |c| c.component);
        let resp = match req {
            KvRequest::Put { key, value } => {
                let replaced = map.insert(key, value).is_some();
                let _ = log.call(&kv_proto::line(&format!("{who} put {key} = {value}")));
                KvResponse::Stored { replaced }
            }
            KvRequest::Get { key } => match map.get(&key) {
                Some(&value) => KvResponse::Value { found: true, value },
                None => KvResponse::Value {
                    found: false,
                    value: 0,
                },
            },
            KvRequest::Remove { key } => {
                let found = map.remove(&key).is_some();
                let _ = log.call(&kv_proto::line(&format!("{who} removed {key}")));
                KvResponse::Removed { found }
            }
            KvRequest::Len => KvResponse::Count {
                n: map.len() as u64,
            },
        };
        Control::Reply(resp)
    });
}
