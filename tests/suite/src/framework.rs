//! The framework's own pieces: the slot allocator and the harness's
//! selection logic.

use sel4_rootserver::SlotAllocator;
use sel4_test_harness::select::{Selection, Shard};
use sel4_test_harness::{ensure, ensure_eq, sel4_test, Ctx, Failure, TestResult};

fn err<E: core::fmt::Debug>(e: E) -> Failure {
    Failure::fail(alloc::format!("slot allocator: {e:?}"))
}

#[sel4_test]
fn slot_allocator_hands_out_each_slot_once() -> TestResult {
    let mut a = SlotAllocator::new(100, 200);
    let mut seen = alloc::vec::Vec::new();
    while let Ok(s) = a.alloc() {
        ensure!((100..200).contains(&s), "slot {s} outside the range");
        ensure!(!seen.contains(&s), "slot {s} handed out twice");
        seen.push(s);
    }
    ensure_eq!(seen.len(), 100);
    ensure_eq!(a.available(), 0);
    Ok(())
}

#[sel4_test]
fn slot_allocator_reuses_freed_slots() -> TestResult {
    let mut a = SlotAllocator::new(10, 20);
    let s1 = a.alloc().map_err(err)?;
    let s2 = a.alloc().map_err(err)?;
    ensure!(a.free(s1).is_ok(), "freeing an allocated slot");
    ensure!(a.free(s1).is_err(), "double free must be refused");
    ensure!(
        a.free(500).is_err(),
        "a slot outside the range must be refused"
    );
    ensure_eq!(a.alloc().map_err(err)?, s1, "lowest free slot first");
    ensure_eq!(a.used(), 2);
    let _ = s2;
    Ok(())
}

#[sel4_test]
fn slot_allocator_slots_are_usable(ctx: &mut Ctx) -> TestResult {
    let (first, end) = ctx.slot_range();
    let mut a = SlotAllocator::new(end - 8, end);
    let s = a.alloc().map_err(err)?;
    ensure!(s >= first && s < end);
    let n = crate::util::notification(ctx)?;
    sel4_test_harness::kernel::cnode_copy(s, n, sel4_test_harness::kernel::rights::ALL)?;
    ensure_eq!(crate::util::cap_type(s)?, crate::util::tag::NOTIFICATION);
    Ok(())
}

#[sel4_test]
fn shard_selection_partitions_tests() -> TestResult {
    ensure_eq!(Shard::parse("2/3"), Some(Shard { index: 2, count: 3 }));
    ensure_eq!(Shard::parse("0/3"), None);
    ensure_eq!(Shard::parse("4/3"), None);
    let shards: alloc::vec::Vec<Shard> = (1..=3).map(|k| Shard { index: k, count: 3 }).collect();
    for pos in 0..20 {
        let n = shards.iter().filter(|s| s.contains(pos)).count();
        ensure_eq!(n, 1, "test {pos} must be in exactly one shard");
    }
    Ok(())
}

#[sel4_test]
fn filter_selects_by_substring() -> TestResult {
    let s = Selection::new(Some("cnode::, ipc"), None);
    ensure!(s.selects("cnode::copy", 0));
    ensure!(s.selects("ipc::call", 1));
    ensure!(!s.selects("retype::tcb", 2));
    let all = Selection::new(None, None);
    ensure!(all.selects("anything", 7));
    Ok(())
}
