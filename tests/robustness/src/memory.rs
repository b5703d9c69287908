//! Robustness tests: memory. A create/delete soak over many kinds of
//! objects, copies, mappings and CNodes that must lose neither a byte nor a
//! slot (by the pool's and the slot allocator's figures, and by the
//! kernel's: a retype of the whole untyped at the end), and exhaustion of
//! slots and of memory, twice in a row with the same counts, with the
//! system still serving afterwards. Each prints its figures.

use alloc::format;
use alloc::vec::Vec;

use sel4_rootserver::cnode::ALL_RIGHTS;
use sel4_rootserver::ipc::{self, Client, Control, Server};
use sel4_rootserver::memory::MemoryKind;
use sel4_rootserver::objects::Objects;
use sel4_rootserver::thread::spawn;
use sel4_rootserver::vspace::{Cache, RW};
use sel4_rootserver::{
    cap_type, println, AllocError, CNode, ChildCap, Endpoint, Error, Notification, Owned, TCB,
};
use sel4_sys::consts;
use sel4_test_harness::{ensure, ensure_eq, fail, sel4_test, Ctx, Failure, TestResult};

/// A deterministic pseudo-random sequence (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn fw<E: core::fmt::Display>(what: &'static str) -> impl Fn(E) -> Failure {
    move |e| Failure::fail(format!("{what}: {e}"))
}

/// What the soak holds at a time.
enum Held {
    Ntfn(Owned<Notification>),
    Ep(Owned<Endpoint>),
    Tcb(Owned<TCB>),
    Frame(Owned<cap_type::X86Page>, Option<u64>),
    Node(Owned<CNode>, Vec<ChildCap<cap_type::Null>>),
}

/// Gives a held object back (a mapped frame is unmapped first, or deleted
/// while mapped, which unmaps it too).
fn give_back(objs: &mut Objects, h: Held, rng: &mut Rng) -> Result<(), Failure> {
    match h {
        Held::Ntfn(c) => objs.delete(c).map_err(fw("delete notification")),
        Held::Ep(c) => objs.delete(c).map_err(fw("delete endpoint")),
        Held::Tcb(c) => objs.delete(c).map_err(fw("delete TCB")),
        Held::Frame(f, mapped) => {
            if let Some(v) = mapped {
                if rng.below(2) == 0 {
                    objs.unmap(v).map_err(fw("unmap"))?;
                }
            }
            objs.delete(f).map_err(fw("delete frame"))
        }
        Held::Node(n, inside) => {
            // Half of the time the capabilities inside go one by one, the
            // other half with the CNode.
            if rng.below(2) == 0 {
                for c in inside {
                    objs.delete_child(c).map_err(fw("delete in CNode"))?;
                }
            }
            objs.delete(n).map_err(fw("delete CNode"))
        }
    }
}

/// Gives back everything the soak holds.
fn drain(
    objs: &mut Objects,
    live: &mut Vec<Held>,
    copies: &mut Vec<Owned<Notification>>,
    ep_copies: &mut Vec<Owned<Endpoint>>,
    rng: &mut Rng,
) -> Result<usize, Failure> {
    let n = live.len();
    for h in live.drain(..) {
        give_back(objs, h, rng)?;
    }
    for c in copies.drain(..) {
        objs.delete(c).map_err(fw("delete copy"))?;
    }
    for c in ep_copies.drain(..) {
        objs.delete(c).map_err(fw("delete endpoint copy"))?;
    }
    Ok(n)
}

/// 12,000 cycles of creating an object and giving one back, over
/// notifications, endpoints, TCBs, frames (mapped and unmapped, some
/// deleted while mapped) and CNodes (with moved capabilities inside), with
/// badged and plain copies that often outlive their original, and
/// revocations. An untyped is reused only once nothing made from it is
/// left (the kernel's rule), so the soak gives everything back every 200
/// cycles; each time the pool, the slot allocator, the capability registry
/// and the VSpace window must be back to their start, and the kernel must
/// retype the whole untyped as one object. (The window's paging structures
/// come from the test's budget, made before the soak, so that the soak's
/// untyped holds only what the soak makes.)
#[sel4_test(timeout_ms = 120_000)]
fn create_delete_soak(ctx: &mut Ctx) -> TestResult {
    const CYCLES: usize = 12_000;
    const PHASE: usize = 200;
    const MAX_LIVE: usize = 32;
    const BITS: usize = 22;
    let (mut objs, ut) = ctx.objects_over_untyped(512, BITS)?;
    let window = objs.vspace().window().window().0;
    let root = sel4_sys::init_caps::CapInitThreadVSpace as u64;
    let pd = ctx.create(sel4_sys::ObjectType::X86_PageDirectoryObject, 0)?;
    let pt = ctx.create(sel4_sys::ObjectType::X86_PageTableObject, 0)?;
    let attrs = sel4_sys::X86_VMAttributes::Default_VMAttributes;
    sel4_rootserver::Cap::<cap_type::X86PageDirectory>::from_cptr(pd)
        .x86_page_directory_map(root, window, attrs)
        .map_err(fw("page directory"))?;
    sel4_rootserver::Cap::<cap_type::X86PageTable>::from_cptr(pt)
        .x86_page_table_map(root, window, attrs)
        .map_err(fw("page table"))?;
    let slots0 = objs.cspace().slots().used();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut live: Vec<Held> = Vec::new();
    // Copies (badged or not) held apart from their objects: they keep
    // their object alive after its own handle is given back.
    let mut copies: Vec<Owned<Notification>> = Vec::new();
    let mut ep_copies: Vec<Owned<Endpoint>> = Vec::new();
    let (mut created, mut deleted, mut minted, mut mapped, mut revoked, mut moved_in) =
        (0usize, 0usize, 0usize, 0usize, 0usize, 0usize);
    let (mut peak_live, mut peak_slots, mut peak_used, mut checks) = (0usize, 0usize, 0u64, 0usize);
    let start = sel4_sys::arch::rdtsc();
    for cycle in 0..CYCLES {
        // Create one.
        let h = match rng.below(5) {
            0 => Held::Ntfn(objs.create().map_err(fw("notification"))?),
            1 => Held::Ep(objs.create().map_err(fw("endpoint"))?),
            2 => Held::Tcb(objs.create().map_err(fw("TCB"))?),
            3 => {
                let f = objs.create::<cap_type::X86Page>().map_err(fw("frame"))?;
                let v = if rng.below(2) == 0 {
                    mapped += 1;
                    Some(
                        objs.map(&f, consts::PageBits as u8, RW, Cache::Default)
                            .map_err(fw("map"))?,
                    )
                } else {
                    None
                };
                Held::Frame(f, v)
            }
            _ => {
                let node = objs
                    .create_cnode(2 + rng.below(3) as u8)
                    .map_err(fw("CNode"))?;
                Held::Node(node, Vec::new())
            }
        };
        created += 1;
        live.push(h);
        // Copies, moves, revocations.
        match rng.below(6) {
            0 | 1 => {
                if let Some(Held::Ntfn(n)) = live.iter().find(|h| matches!(h, Held::Ntfn(_))) {
                    let badge = 1 + rng.below(1000) as u64;
                    copies.push(objs.mint(n, badge).map_err(fw("mint"))?);
                    minted += 1;
                }
            }
            2 => {
                if let Some(Held::Ep(e)) = live.iter().find(|h| matches!(h, Held::Ep(_))) {
                    ep_copies.push(objs.copy(e, ALL_RIGHTS).map_err(fw("copy"))?);
                    minted += 1;
                }
            }
            3 => {
                // A notification moved into a CNode (its copies stay in the
                // root CNode).
                let has_node = live
                    .iter()
                    .any(|h| matches!(h, Held::Node(_, v) if v.len() < 3));
                let src = live.iter().position(|h| matches!(h, Held::Ntfn(_)));
                if let (true, Some(src)) = (has_node, src) {
                    let Held::Ntfn(c) = live.swap_remove(src) else {
                        unreachable!("a notification")
                    };
                    let Some(Held::Node(node, inside)) = live
                        .iter_mut()
                        .find(|h| matches!(h, Held::Node(_, v) if v.len() < 3))
                    else {
                        unreachable!("a CNode with room")
                    };
                    let c = objs.move_into(node, c).map_err(fw("move into"))?;
                    inside.push(c.recast());
                    moved_in += 1;
                }
            }
            4 => {
                // Revoke a notification: its copies go.
                if let Some(Held::Ntfn(n)) = live.iter().find(|h| matches!(h, Held::Ntfn(_))) {
                    revoked += objs.revoke(n).map_err(fw("revoke"))?;
                }
            }
            _ => {}
        }
        peak_live = peak_live.max(live.len() + copies.len() + ep_copies.len());
        peak_slots = peak_slots.max(objs.cspace().slots().used());
        peak_used = peak_used.max(objs.pool().usage(MemoryKind::Ram).used);
        // Give one back (two when many are held), originals often before
        // their copies.
        let give = if live.len() > MAX_LIVE { 2 } else { 1 };
        for _ in 0..give {
            if !live.is_empty() && (cycle % 3 != 0 || live.len() > MAX_LIVE) {
                let h = live.swap_remove(rng.below(live.len()));
                give_back(&mut objs, h, &mut rng)?;
                deleted += 1;
            }
        }
        if copies.len() > 8 || (rng.below(4) == 0 && !copies.is_empty()) {
            let c = copies.swap_remove(rng.below(copies.len()));
            objs.delete(c).map_err(fw("delete copy"))?;
        }
        if ep_copies.len() > 4 {
            let c = ep_copies.swap_remove(0);
            objs.delete(c).map_err(fw("delete endpoint copy"))?;
        }
        if (cycle + 1) % PHASE == 0 {
            deleted += drain(&mut objs, &mut live, &mut copies, &mut ep_copies, &mut rng)?;
            let slots = objs.cspace().slots().used();
            let used = objs.pool().usage(MemoryKind::Ram).used;
            let tracked = objs.pool().registry().len();
            let mapped_bytes = objs.vspace().window().used_bytes();
            if slots != slots0 || used != 0 || tracked != 0 || mapped_bytes != 0 {
                fail!(
                    "after cycle {cycle}: slots {slots0} -> {slots}, {used} bytes used, {tracked} capabilities tracked, {mapped_bytes} bytes mapped"
                );
            }
            ensure!(
                ctx.untyped_is_whole(ut, BITS)?,
                "after cycle {cycle}: the kernel still has objects in the untyped"
            );
            checks += 1;
        }
    }
    deleted += drain(&mut objs, &mut live, &mut copies, &mut ep_copies, &mut rng)?;
    let ms = ctx.micros_since(start) / 1000;
    let slots1 = objs.cspace().slots().used();
    let ram1 = objs.pool().usage(MemoryKind::Ram);
    println!(
        "soak: {CYCLES} cycles in {ms} ms: {created} objects created, {deleted} given back by their handle and {moved_in} moved into CNodes (gone with them or one by one), {minted} copies, {mapped} frames mapped, {revoked} capabilities revoked; peak {peak_live} held, {peak_slots} slots, {peak_used} bytes"
    );
    println!(
        "soak: {checks} checks against the kernel; at the end slots {slots0} -> {slots1}, RAM used {} of {} bytes, {} capabilities tracked",
        ram1.used,
        ram1.total,
        objs.pool().registry().len()
    );
    ensure!(created >= 10_000, "{created} objects created");
    ensure_eq!(deleted + moved_in, created, "every object given back");
    ensure_eq!(slots1, slots0, "slots lost");
    ensure_eq!(ram1.used, 0, "bytes lost (by the pool)");
    drop(objs);
    ensure!(
        ctx.untyped_is_whole(ut, BITS)?,
        "the kernel still has objects in the untyped: bytes lost"
    );
    for s in [pt, pd] {
        sel4_test_harness::kernel::cnode_delete(s)?;
    }
    println!("soak: the kernel retyped the whole 2^{BITS}-byte untyped: 0 bytes and 0 slots lost");
    Ok(())
}

ipc::message! {
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub struct Echo { pub value: u64 } = 1;
}
ipc::protocol!(pub EchoProto: Echo => Echo);

/// The system still serves: a thread made from `objs` answers calls.
fn still_serves(objs: &mut Objects, what: &str) -> Result<(), Failure> {
    let ep: Owned<Endpoint> = objs.create().map_err(fw("endpoint"))?;
    let name = ep.cap();
    let server = spawn(objs, move || {
        let s: Server<EchoProto> = Server::new(name);
        s.serve(|_, req, _| {
            if req.value == 0 {
                Control::ReplyAndStop(Echo { value: 0 })
            } else {
                Control::Reply(Echo {
                    value: req.value + 1,
                })
            }
        });
    })
    .map_err(fw("spawn"))?;
    let c: Client<EchoProto> = Client::new(ep.cap());
    for i in 1..=10 {
        let r = c
            .call(&Echo { value: i })
            .map_err(|e| Failure::fail(format!("{what}: call: {e:?}")))?;
        ensure_eq!(r.value, i + 1, "{what}: echo");
    }
    c.call(&Echo { value: 0 })
        .map_err(|e| Failure::fail(format!("{what}: stop: {e:?}")))?;
    server
        .join(objs)
        .map_err(|e| Failure::fail(format!("{what}: join: {e}")))?;
    objs.delete(ep).map_err(fw("delete endpoint"))?;
    Ok(())
}

/// Creates `T`s until `create` fails; returns them and the error.
fn exhaust<T>(mut create: impl FnMut() -> Result<T, Error>) -> (Vec<T>, Error) {
    let mut v = Vec::new();
    loop {
        match create() {
            Ok(x) => v.push(x),
            Err(e) => return (v, e),
        }
    }
}

/// Slots run out (256 of them, with plenty of memory) twice with the same
/// count and the same error; after each, everything is given back and a
/// thread made from the same Objects serves calls. (A first thread runs
/// before: the CNode for stack frames and the paging structures it leaves
/// for later threads take their slots once.)
#[sel4_test(timeout_ms = 60_000)]
fn slot_exhaustion_twice(ctx: &mut Ctx) -> TestResult {
    const SLOTS: usize = 256;
    const BITS: usize = 22;
    let (mut objs, ut) = ctx.objects_over_untyped(SLOTS, BITS)?;
    still_serves(&mut objs, "before")?;
    let kept = objs.cspace().slots().used();
    let mut counts = Vec::new();
    for round in 0..2 {
        let (eps, e) = exhaust(|| objs.create::<Endpoint>());
        ensure!(
            matches!(
                e,
                Error::Alloc(AllocError::SlotsExhausted {
                    requested: 1,
                    available: 0
                })
            ),
            "round {round}: {e:?}"
        );
        // Copies need slots too.
        let m = objs.mint(&eps[0], 1).map(|_| ()).unwrap_err();
        ensure!(matches!(m, Error::Alloc(AllocError::SlotsExhausted { .. })));
        counts.push(eps.len());
        println!("slots round {round}: {} endpoints, then {e}", eps.len());
        for x in eps {
            objs.delete(x).map_err(fw("delete"))?;
        }
        ensure_eq!(
            objs.cspace().slots().used(),
            kept,
            "round {round}: slots back"
        );
        still_serves(&mut objs, "after slot exhaustion")?;
        ensure_eq!(objs.cspace().slots().used(), kept);
    }
    println!("slots: {kept} kept by the thread machinery");
    ensure_eq!(counts[0], counts[1], "the same count twice");
    ensure_eq!(counts[0], SLOTS - kept);
    drop(objs);
    ensure!(ctx.untyped_is_whole(ut, BITS)?, "the kernel agrees");
    Ok(())
}

/// Memory runs out (a 256 KiB untyped, with plenty of slots) twice with
/// the same counts and the same errors, for frames and for TCBs; after
/// each, everything is given back, the kernel retypes the whole untyped,
/// and the root task still serves (a thread from other memory).
#[sel4_test(timeout_ms = 60_000)]
fn memory_exhaustion_twice(ctx: &mut Ctx) -> TestResult {
    const BITS: usize = 18;
    let (mut objs, ut) = ctx.objects_over_untyped(512, BITS)?;
    let mut other = ctx.objects(96)?;
    let mut counts = Vec::new();
    for round in 0..2 {
        let (frames, e) = exhaust(|| objs.create::<cap_type::X86Page>());
        ensure!(
            matches!(
                e,
                Error::Alloc(AllocError::UntypedExhausted { size_bits: 12, .. })
            ),
            "round {round}, frames: {e:?}"
        );
        let big = objs.create_large_page().map(|_| ()).unwrap_err();
        ensure!(matches!(
            big,
            Error::Alloc(AllocError::UntypedExhausted { size_bits: 21, .. })
        ));
        let n_frames = frames.len();
        for f in frames {
            objs.delete(f).map_err(fw("delete frame"))?;
        }
        ensure_eq!(objs.pool().usage(MemoryKind::Ram).used, 0);
        let (tcbs, e) = exhaust(|| objs.create::<TCB>());
        ensure!(
            matches!(e, Error::Alloc(AllocError::UntypedExhausted { .. })),
            "round {round}, TCBs: {e:?}"
        );
        let n_tcbs = tcbs.len();
        for t in tcbs {
            objs.delete(t).map_err(fw("delete TCB"))?;
        }
        counts.push((n_frames, n_tcbs));
        println!(
            "memory round {round}: {n_frames} frames, {n_tcbs} TCBs in 2^{BITS} bytes, then {e}"
        );
        ensure_eq!(objs.pool().usage(MemoryKind::Ram).used, 0);
        ensure_eq!(objs.cspace().slots().used(), 0);
        ensure!(
            ctx.untyped_is_whole(ut, BITS)?,
            "round {round}: the kernel agrees"
        );
        still_serves(&mut other, "after memory exhaustion")?;
    }
    ensure_eq!(counts[0], counts[1], "the same counts twice");
    ensure_eq!(counts[0].0, 1 << (BITS - 12));
    Ok(())
}

/// A copy that outlives its original keeps the memory: with the only
/// untyped full of notifications and a badged copy of each, deleting the
/// originals frees nothing (the kernel still refuses a retype), deleting
/// the copies frees everything. Twice.
#[sel4_test(timeout_ms = 60_000)]
fn copies_hold_memory_until_they_go(ctx: &mut Ctx) -> TestResult {
    const BITS: usize = 12;
    let (mut objs, ut) = ctx.objects_over_untyped(600, BITS)?;
    for round in 0..2 {
        let (ntfns, e) = exhaust(|| objs.create::<Notification>());
        ensure!(matches!(
            e,
            Error::Alloc(AllocError::UntypedExhausted { .. })
        ));
        let mut copies = Vec::new();
        for (i, n) in ntfns.iter().enumerate() {
            copies.push(objs.mint(n, i as u64 + 1).map_err(fw("mint"))?);
        }
        let n = ntfns.len();
        for x in ntfns {
            objs.delete(x).map_err(fw("delete original"))?;
        }
        let used = objs.pool().usage(MemoryKind::Ram).used;
        ensure_eq!(used, 1 << BITS, "round {round}: the copies hold all of it");
        if objs.create::<Notification>().is_ok() {
            fail!("round {round}: memory handed out again while copies live");
        }
        ensure!(!ctx.untyped_is_whole(ut, BITS)?);
        for c in copies {
            objs.delete(c).map_err(fw("delete copy"))?;
        }
        ensure_eq!(objs.pool().usage(MemoryKind::Ram).used, 0);
        ensure!(ctx.untyped_is_whole(ut, BITS)?);
        println!("copies round {round}: {n} notifications and their badged copies, 0 bytes lost");
    }
    Ok(())
}
