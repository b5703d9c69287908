//! A client of the key-value store (the description runs two: client_a and
//! client_b, one image). Each stores its own keys, reads them back,
//! removes some, checks every answer, logs a summary and exits 0 when
//! everything matched.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use kv_proto::{KvRequest, KvResponse};
use sel4_component::{println, CallError};

sel4_component::include_env!();
sel4_component::entry!(main);

/// Keys per client.
const N: u64 = 16;

#[derive(Debug)]
#[allow(dead_code)]
enum Error {
    Call(CallError),
    Wrong { req: KvRequest, got: KvResponse },
}

impl From<CallError> for Error {
    fn from(e: CallError) -> Error {
        Error::Call(e)
    }
}

fn expect(env: &Env, req: KvRequest, want: KvResponse) -> Result<(), Error> {
    let got = env.store.call(&req)?;
    if got == want {
        Ok(())
    } else {
        Err(Error::Wrong { req, got })
    }
}

fn main(env: Env) -> Result<(), Error> {
    let me = sel4_component::name();
    // Keys of their own: client_a 1000.., client_b 2000..
    let base = if me.ends_with('a') { 1000 } else { 2000 };
    for k in 0..N {
        expect(
            &env,
            KvRequest::Put {
                key: base + k,
                value: k * k,
            },
            KvResponse::Stored { replaced: false },
        )?;
    }
    for k in 0..N {
        expect(
            &env,
            KvRequest::Get { key: base + k },
            KvResponse::Value {
                found: true,
                value: k * k,
            },
        )?;
    }
    for k in (0..N).step_by(2) {
        expect(
            &env,
            KvRequest::Remove { key: base + k },
            KvResponse::Removed { found: true },
        )?;
    }
    expect(
        &env,
        KvRequest::Get { key: base },
        KvResponse::Value {
            found: false,
            value: 0,
        },
    )?;
    let KvResponse::Count { n } = env.store.call(&KvRequest::Len)? else {
        return Err(Error::Wrong {
            req: KvRequest::Len,
            got: KvResponse::Count { n: u64::MAX },
        });
    };
    env.log.call(&kv_proto::line(&format!(
        "{me}: {N} puts, {N} gets, {} removes checked; the store holds {n}",
        N / 2
    )))?;
    println!("{me}: done ({n} keys in the store)");
    Ok(())
}
