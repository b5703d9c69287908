//! What every test uses: a supervisor over the system's plan, on memory and
//! slots of the test's own; the probe clients' `ctl` channels served by
//! the test thread.

use alloc::format;

use probe_proto::{Ctl, CtlRequest, CtlResponse};
use sel4_rootserver::ipc::{Incoming, Server};
use sel4_rootserver::memory::MemoryKind;
use sel4_rootserver::objects::Objects;
use sel4_rootserver::supervisor::{Config, Happening, Supervisor};
use sel4_test_harness::{kernel, Ctx, Failure};

use crate::system::{IMAGES, PLAN};

/// The test thread's priority: above every component (210-240) and the
/// harness (200).
pub const TEST_PRIORITY: u64 = 250;
/// Below every component, above the harness: components run until they
/// block.
const YIELD_PRIORITY: u64 = 205;

pub fn set_priority(ctx: &Ctx, prio: u64) -> Result<(), Failure> {
    kernel::invoke(
        ctx.own_tcb(),
        sel4_sys::InvocationLabel::TCBSetPriority,
        &[kernel::ROOT_TCB],
        &[prio],
    )
    .map(|_| ())
    .map_err(|e| Failure::fail(format!("TCB_SetPriority: {e}")))
}

/// Lets every runnable component run until it blocks (the test thread
/// goes below them for a moment).
pub fn let_run(ctx: &Ctx) -> Result<(), Failure> {
    set_priority(ctx, YIELD_PRIORITY)?;
    set_priority(ctx, TEST_PRIORITY)
}

/// What `Objects` has handed out, to compare before and after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Figures {
    pub ram_used: u64,
    pub slots_used: usize,
    pub caps: usize,
    pub objects: usize,
}

pub fn figures(objs: &Objects) -> Figures {
    Figures {
        ram_used: objs.pool().usage(MemoryKind::Ram).used,
        slots_used: objs.cspace().slots().used(),
        caps: objs.pool().registry().len(),
        objects: objs.pool().registry().objects(),
    }
}

/// A test's system: its `Objects` (slots of the test, one untyped of
/// `2^bits` bytes) and a supervisor over the plan. The test thread runs at
/// [`TEST_PRIORITY`] from here on.
pub struct Rig {
    pub objs: Objects,
    pub sup: Supervisor<'static>,
    /// The untyped and its size (for the kernel's whole-untyped check).
    pub untyped: u64,
    pub bits: usize,
    /// `Objects`' figures before the supervisor made anything.
    pub empty: Figures,
}

pub fn rig(ctx: &mut Ctx, slots: usize, bits: usize, log: bool) -> Result<Rig, Failure> {
    set_priority(ctx, TEST_PRIORITY)?;
    if bits <= 23 {
        let (objs, ut) = ctx.objects_over_untyped(slots, bits)?;
        finish(ctx, objs, ut, bits, log)
    } else {
        let (objs, ut) = ctx.objects_over_extra_untyped(slots, bits)?;
        finish(ctx, objs, ut, bits, log)
    }
}

fn finish(
    ctx: &Ctx,
    mut objs: Objects,
    untyped: u64,
    bits: usize,
    log: bool,
) -> Result<Rig, Failure> {
    let empty = figures(&objs);
    let config = Config {
        tsc_mhz: ctx.machine().tsc_mhz.max(1),
        log,
    };
    let sup = Supervisor::new(&mut objs, &PLAN, &IMAGES, config)
        .map_err(|e| Failure::fail(format!("supervisor: {e}")))?;
    Ok(Rig {
        objs,
        sup,
        untyped,
        bits,
        empty,
    })
}

impl Rig {
    /// Starts component `name`.
    pub fn start(&mut self, name: &str) -> Result<(), Failure> {
        self.sup
            .start(&mut self.objs, name)
            .map_err(|e| Failure::fail(format!("starting `{name}`: {e}")))
    }

    /// The next supervisor event (blocks until one comes).
    pub fn step(&mut self) -> Happening {
        loop {
            if let Some(h) = self.sup.step(&mut self.objs).into_iter().next() {
                return h;
            }
        }
    }

    /// The `ctl` channel `name` served by the test thread.
    pub fn ctl(&self, name: &str) -> Result<Server<Ctl>, Failure> {
        let ep = self
            .sup
            .channel_endpoint(name)
            .ok_or_else(|| Failure::fail(format!("no channel `{name}`")))?;
        Ok(Server::new(ep.cap()))
    }

    /// Stops everything and gives it all back: the supervisor destroyed,
    /// then `Objects` dropped (which deletes the untypeds it carved, the
    /// spare budgets among them); then the kernel's own view: nothing made
    /// from the test's untyped is left (a retype of all of it succeeds).
    pub fn finish(self, ctx: &mut Ctx) -> Result<(), Failure> {
        let Rig {
            mut objs,
            sup,
            untyped,
            bits,
            ..
        } = self;
        sup.destroy(&mut objs);
        drop(objs);
        if !ctx.untyped_is_whole(untyped, bits)? {
            return Err(Failure::fail(
                "the kernel still sees objects in the test's untyped after the system was destroyed",
            ));
        }
        Ok(())
    }
}

/// The next request on a `ctl` channel (blocks until the probe asks).
pub fn next(ctl: &Server<Ctl>) -> Result<CtlRequest, Failure> {
    match ctl.recv() {
        Incoming::Request { message: Ok(m), .. } => Ok(m),
        other => Err(Failure::fail(format!("ctl: {other:?}"))),
    }
}

/// Answers the probe's request with `order` and waits for its report.
pub fn order(ctl: &Server<Ctl>, order: CtlResponse) -> Result<CtlRequest, Failure> {
    match ctl.reply_recv(Ok(&order)) {
        Incoming::Request { message: Ok(m), .. } => Ok(m),
        other => Err(Failure::fail(format!("ctl after {order:?}: {other:?}"))),
    }
}

/// Answers with `order` without waiting (an order the probe does not come
/// back from: a fault, an exit).
pub fn order_only(ctl: &Server<Ctl>, order: CtlResponse) {
    ctl.reply(Ok(&order));
}
