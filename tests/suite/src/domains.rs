//! Scheduling domains on a kernel configured with one (seL4test
//! DOMAINS0001-0004): DomainSet_Set of the last domain succeeds, of a
//! domain that does not exist fails with InvalidArgument, on a cap that is
//! not the domain cap with IllegalOperation; threads placed in the domains
//! run.

use alloc::vec::Vec;
use sel4_sys::{Error, InvocationLabel, Word};
use sel4_test_harness::kernel::{invoke, KResult};
use sel4_test_harness::{ensure_eq, sel4_test, Ctx, TestResult};

use crate::support::{helper, join, lift, slots_for, TEST_TOP};
use crate::util::expect_err;

const DOMAIN_CAP: Word = sel4_sys::init_caps::CapDomain as Word;
const NUM_DOMAINS: Word = sel4_sys::config::NUM_DOMAINS as Word;

fn domain_set(cap: Word, domain: Word, tcb: Word) -> KResult {
    invoke(cap, InvocationLabel::DomainSetSet, &[tcb], &[domain])
}

#[sel4_test(sel4test = "DOMAINS0001")]
fn set_own_domain(ctx: &mut Ctx) -> TestResult {
    let me = ctx.own_tcb();
    domain_set(DOMAIN_CAP, NUM_DOMAINS - 1, me)?;
    domain_set(DOMAIN_CAP, 0, me)?;
    Ok(())
}

#[sel4_test(sel4test = "DOMAINS0002")]
fn set_domain_that_does_not_exist(ctx: &mut Ctx) -> TestResult {
    let e = expect_err(
        domain_set(DOMAIN_CAP, NUM_DOMAINS + 10, ctx.own_tcb()),
        Error::InvalidArgument,
        "domain NUM_DOMAINS + 10",
    )?;
    ensure_eq!(e.detail[0], 0, "the domain is the invalid argument");
    Ok(())
}

#[sel4_test(sel4test = "DOMAINS0003")]
fn domain_set_on_a_tcb_cap(ctx: &mut Ctx) -> TestResult {
    let me = ctx.own_tcb();
    expect_err(
        domain_set(me, 0, me),
        Error::IllegalOperation,
        "DomainSet_Set invoked on a TCB cap",
    )?;
    Ok(())
}

#[sel4_test(sel4test = "DOMAINS0004")]
fn threads_in_domains_run(ctx: &mut Ctx) -> TestResult {
    // One thread per domain, placed there before it starts; each busy-waits
    // through several timer ticks (sel4test waits 50 x 4 ms on its timer
    // driver; the TSC does here) and returns its id.
    lift(ctx)?;
    let tick = ctx.machine().tsc_mhz * 1_000;
    let mut objs = ctx.objects(slots_for(NUM_DOMAINS as usize))?;
    let mut hs = Vec::new();
    for id in 0..NUM_DOMAINS {
        let h = helper(&mut objs, TEST_TOP - 10, move || {
            for _ in 0..10 {
                let start = sel4_sys::arch::read_counter();
                while sel4_sys::arch::read_counter().wrapping_sub(start) < tick {
                    core::hint::spin_loop();
                }
            }
            id
        })?;
        domain_set(DOMAIN_CAP, id, h.tcb().cptr())?;
        hs.push(h);
    }
    for (id, h) in hs.into_iter().enumerate() {
        ensure_eq!(join(&mut objs, h)?, id as Word, "the thread in domain {id}");
    }
    Ok(())
}
