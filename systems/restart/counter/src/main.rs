//! The crashing server's client: makes `CALLS` calls, counts the answers
//! and the "server restarted" errors (calls in flight when the server
//! died), checks every answer, and prints the counts.
#![no_std]
#![no_main]

use restart_proto::{WorkRequest, WorkResponse, CRASH_EVERY};
use sel4_component::{println, CallError};

sel4_component::include_env!();
sel4_component::entry!(main);

const CALLS: u64 = 40;

#[derive(Debug)]
#[allow(dead_code)]
enum Error {
    Call(CallError),
    WrongAnswer { n: u64, got: WorkResponse },
    Counts { served: u64, restarted: u64 },
}

fn main(env: Env) -> Result<(), Error> {
    let (mut served, mut restarted, mut last_generation) = (0u64, 0u64, 0u64);
    for n in 1..=CALLS {
        match env.work.call(&WorkRequest::Square { n }) {
            Ok(WorkResponse::Squared {
                value, generation, ..
            }) if value == n * n && generation >= last_generation => {
                served += 1;
                last_generation = generation;
            }
            Ok(got) => return Err(Error::WrongAnswer { n, got }),
            Err(CallError::Restarted { generation }) => {
                restarted += 1;
                println!(
                    "counter: call {n}: the server restarted (generation {generation}); going on"
                );
                last_generation = generation;
            }
            Err(e) => return Err(Error::Call(e)),
        }
    }
    println!(
        "counter: {CALLS} calls: {served} served, {restarted} answered 'server restarted'; the server is at generation {last_generation}"
    );
    // Every CRASH_EVERY-th request of an instance crashes it: each instance
    // serves CRASH_EVERY - 1 calls, then one call finds it dead.
    if restarted != CALLS / CRASH_EVERY || served != CALLS - restarted {
        return Err(Error::Counts { served, restarted });
    }
    Ok(())
}
