//! ping-pong: a server thread and the initial thread talk over a typed
//! protocol; plus checks of threads (result, panic, faults), malformed
//! messages, capability transfer and notifications.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use sel4_rootserver::fault::FaultHandler;
use sel4_rootserver::ipc::{self, wire_label, Client, Control, ErrorReply, IpcError, Server};
use sel4_rootserver::objects::Objects;
use sel4_rootserver::sys::{ExceptionKind, Fault};
use sel4_rootserver::thread::{spawn, ThreadBuilder, ThreadError};
use sel4_rootserver::{entry, println, BootInfo, Endpoint, InvocationError, Notification, Owned};
use sel4_runtime::thread::provoke;

ipc::message! {
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub enum Request {
        Ping { value: u64 } = 1,
        Sum { values: [u64; 8] } = 2,
        Identify = 3,
        Stop = 4,
    }
}

ipc::message! {
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub struct Pong { pub value: u64 } = 1;
}

ipc::protocol!(pub PingPong: Request => Pong);

entry!(main);

/// A failed check, with what was seen.
#[derive(Debug)]
pub struct Error(pub String);

macro_rules! ensure {
    ($c:expr, $($arg:tt)*) => { if !$c { return Err(Error(format!($($arg)*))); } };
}

fn run(name: &str, r: Result<(), Error>, failed: &mut u32) {
    match r {
        Ok(()) => println!("check {name}: ok"),
        Err(Error(e)) => {
            *failed += 1;
            println!("check {name}: FAILED: {e}")
        }
    }
}

fn main(bootinfo: &BootInfo) -> Result<(), Error> {
    let mut objs = Objects::from_bootinfo(bootinfo);
    let mut failed = 0;
    run("thread_result", check_thread_result(&mut objs), &mut failed);
    run("ping_pong", check_ping_pong(&mut objs), &mut failed);
    run("thread_panic", check_thread_panic(&mut objs), &mut failed);
    run("faults", check_faults(&mut objs), &mut failed);
    run(
        "shared_fault_handler",
        check_shared_fault_handler(&mut objs),
        &mut failed,
    );
    run("notifications", check_notifications(&mut objs), &mut failed);
    run(
        "wrong_cap_type",
        check_wrong_cap_type(&mut objs),
        &mut failed,
    );
    run(
        "stack_overflow",
        check_stack_overflow(&mut objs),
        &mut failed,
    );
    if failed == 0 {
        println!("ping-pong: PASS");
        Ok(())
    } else {
        Err(Error(format!("{failed} checks failed")))
    }
}

fn err<E: core::fmt::Debug>(what: &str) -> impl Fn(E) -> Error + '_ {
    move |e| Error(format!("{what}: {e:?}"))
}

/// A thread's closure result comes back through join; TLS and the IPC
/// buffer work on the new thread.
pub fn check_thread_result(objs: &mut Objects) -> Result<(), Error> {
    let h = spawn(objs, || {
        let ipc = sel4_rootserver::sys::ipc_buffer_addr();
        sel4_rootserver::sys::set_mr(7, 1234);
        (40 + 2, ipc, sel4_rootserver::sys::get_mr(7))
    })
    .map_err(err("spawn"))?;
    let (v, ipc, mr) = h.join(objs).map_err(err("join"))?;
    ensure!(v == 42, "result {v}");
    ensure!(ipc != 0 && ipc % 4096 == 0, "IPC buffer {ipc:#x}");
    ensure!(mr == 1234, "IPC buffer word {mr}");
    // The initial thread's TLS still works after another thread ran.
    let own = sel4_rootserver::sys::ipc_buffer_addr();
    ensure!(own == bootinfo_ipc(), "initial IPC buffer now {own:#x}");
    Ok(())
}

fn bootinfo_ipc() -> usize {
    sel4_rootserver::sys::ipc_buffer().addr()
}

/// Ping, a spilled message, malformed messages (the server survives),
/// and a capability transfer, then stop.
pub fn check_ping_pong(objs: &mut Objects) -> Result<(), Error> {
    let ep: Owned<Endpoint> = objs.create().map_err(err("endpoint"))?;
    let slot = objs.alloc_slot().map_err(err("slot"))?;
    let (recv_slot, ep_name) = (slot.cptr(), ep.cap());
    let server = spawn(objs, move || {
        let server: Server<PingPong> = Server::new(ep_name);
        server.set_receive_slot(Some(recv_slot));
        let mut served = 0u64;
        let mut got_cap = None;
        server.serve(|badge, req, caps| {
            served += 1;
            match req {
                Request::Ping { value } => Control::Reply(Pong { value: value + 1 }),
                Request::Sum { values } => Control::Reply(Pong {
                    value: values.iter().sum(),
                }),
                Request::Identify => {
                    // Keep the capability (the server stops after this
                    // test, so it needs no new receive slot).
                    got_cap = caps.take_transferred();
                    Control::Reply(Pong { value: badge })
                }
                Request::Stop => Control::ReplyAndStop(Pong { value: served }),
            }
        });
        (served, got_cap)
    })
    .map_err(err("spawn server"))?;
    let client: Client<PingPong> = Client::new(ep.cap());
    for i in 0..10 {
        let r = client
            .call(&Request::Ping { value: i })
            .map_err(err("ping"))?;
        ensure!(r == Pong { value: i + 1 }, "ping {i} -> {r:?}");
    }
    let r = client
        .call(&Request::Sum {
            values: [1, 2, 3, 4, 5, 6, 7, 8],
        })
        .map_err(err("sum"))?;
    ensure!(r.value == 36, "sum -> {r:?}");
    let r = client.call_raw(wire_label(99), &[1, 2]);
    ensure!(
        r == Err(IpcError::Remote(ErrorReply::UnknownLabel(99))),
        "unknown label -> {r:?}"
    );
    let r = client.call_raw(wire_label(1), &[1, 2, 3]);
    ensure!(
        r == Err(IpcError::Remote(ErrorReply::WrongLength {
            label: 1,
            expected: 1,
            got: 3
        })),
        "wrong length -> {r:?}"
    );
    // The server still serves after malformed requests.
    let r = client
        .call(&Request::Ping { value: 7 })
        .map_err(err("ping after"))?;
    ensure!(r.value == 8, "ping after malformed -> {r:?}");
    // Capability transfer: send a notification cap with a request.
    let ntfn: Owned<Notification> = objs.create().map_err(err("notification"))?;
    let r = client
        .call_with_cap(&Request::Identify, ntfn.cap())
        .map_err(err("identify"))?;
    ensure!(r.value == 0, "unbadged client badge {}", r.value);
    let r = client.call(&Request::Stop).map_err(err("stop"))?;
    let (served, got_cap) = server.join(objs).map_err(err("join server"))?;
    ensure!(
        r.value == served && served == 14,
        "served {served}, stop said {r:?}"
    );
    ensure!(got_cap == Some(recv_slot), "received cap {got_cap:?}");
    // The transferred cap works: signal it, poll the original.
    let moved: Owned<Notification> = objs.adopt(slot);
    moved.signal();
    let bits = ntfn.poll();
    ensure!(
        bits == 0,
        "the moved copy is unbadged, so the poll must read 0 (got {bits:#x})"
    );
    objs.delete(moved).map_err(err("delete moved"))?;
    objs.delete(ntfn).map_err(err("delete ntfn"))?;
    objs.delete(ep).map_err(err("delete ep"))?;
    Ok(())
}

/// A panic on a spawned thread reaches the joiner; the system goes on.
pub fn check_thread_panic(objs: &mut Objects) -> Result<(), Error> {
    let h = spawn(objs, || -> u32 { panic!("deliberate panic {}", 7) }).map_err(err("spawn"))?;
    match h.join(objs) {
        Err(ThreadError::Panicked { message }) => {
            ensure!(
                message.contains("deliberate panic 7"),
                "message {message:?}"
            );
            Ok(())
        }
        other => Err(Error(format!("join -> {other:?}"))),
    }
}

const BAD_CPTR: u64 = 0xdead_0000_0000_0000;

/// Each kind of fault comes back typed.
pub fn check_faults(objs: &mut Objects) -> Result<(), Error> {
    let h = spawn(objs, || provoke::read_unmapped(0x1008)).map_err(err("spawn"))?;
    match fault_of("VM fault", h.join(objs))? {
        Fault::VmFault {
            addr,
            prefetch_fault,
            ..
        } => ensure!(
            addr == 0x1008 && !prefetch_fault,
            "vm fault addr {addr:#x} prefetch {prefetch_fault}"
        ),
        other => return Err(Error(format!("VM fault: {other:?}"))),
    }
    let h = spawn(objs, || {
        // Calls a cptr whose guard does not match the root CNode's: the
        // lookup fails, a capability fault.
        sel4_rootserver::sys::call_regs(
            BAD_CPTR,
            sel4_rootserver::sys::MessageInfo::new(0, 0, 0, 0),
            [0; 4],
        );
    })
    .map_err(err("spawn"))?;
    match fault_of("cap fault", h.join(objs))? {
        Fault::CapFault { addr, .. } => ensure!(addr == BAD_CPTR, "cap fault addr {addr:#x}"),
        other => return Err(Error(format!("cap fault: {other:?}"))),
    }
    let h = spawn(objs, || provoke::unknown_syscall(-77)).map_err(err("spawn"))?;
    match fault_of("unknown syscall", h.join(objs))? {
        Fault::UnknownSyscall { syscall, .. } => {
            ensure!(syscall as i64 == -77, "syscall number {}", syscall as i64)
        }
        other => return Err(Error(format!("unknown syscall: {other:?}"))),
    }
    let h = spawn(objs, provoke::undefined_instruction).map_err(err("spawn"))?;
    match fault_of("user exception", h.join(objs))? {
        f @ Fault::UserException { number, .. } => ensure!(
            f.exception_kind() == Some(ExceptionKind::UndefinedInstruction),
            "exception number {number:#x}: {:?} (want an undefined instruction)",
            f.exception_kind()
        ),
        other => return Err(Error(format!("user exception: {other:?}"))),
    }
    Ok(())
}

fn fault_of<R: core::fmt::Debug>(what: &str, r: Result<R, ThreadError>) -> Result<Fault, Error> {
    match r {
        Err(ThreadError::Faulted(f)) => Ok(*f),
        other => Err(Error(format!("{what}: join -> {other:?}"))),
    }
}

/// One handler serves the faults of several threads, told apart by badge.
pub fn check_shared_fault_handler(objs: &mut Objects) -> Result<(), Error> {
    let handler = FaultHandler::new(objs).map_err(err("handler"))?;
    let a = ThreadBuilder::new()
        .fault_handler(&handler, 0xa)
        .spawn(objs, || provoke::read_unmapped(0xa000))
        .map_err(err("spawn a"))?;
    let b = ThreadBuilder::new()
        .fault_handler(&handler, 0xb)
        .spawn(objs, || provoke::read_unmapped(0xb000))
        .map_err(err("spawn b"))?;
    let mut seen = [false; 2];
    for _ in 0..2 {
        let (badge, fault) = handler.next_fault();
        match (badge, fault) {
            (0xa, Fault::VmFault { addr: 0xa000, .. }) => seen[0] = true,
            (0xb, Fault::VmFault { addr: 0xb000, .. }) => seen[1] = true,
            other => return Err(Error(format!("unexpected {other:?}"))),
        }
    }
    a.kill(objs);
    b.kill(objs);
    handler.destroy(objs).map_err(err("destroy"))?;
    ensure!(seen == [true, true], "seen {seen:?}");
    Ok(())
}

/// Signal and wait across threads; a bound notification wakes a server
/// waiting on its endpoint.
pub fn check_notifications(objs: &mut Objects) -> Result<(), Error> {
    let ntfn: Owned<Notification> = objs.create().map_err(err("ntfn"))?;
    let badged = objs.mint(&ntfn, 0x30).map_err(err("mint"))?;
    let badged_name = badged.cap();
    let h = spawn(objs, move || {
        badged_name.signal();
    })
    .map_err(err("spawn"))?;
    let bits = ntfn.wait();
    h.join(objs).map_err(err("join"))?;
    ensure!(bits == 0x30, "waited bits {bits:#x}");
    ensure!(ntfn.poll() == 0, "poll after wait not empty");

    // Bound: a server thread waits on its endpoint and gets the signal.
    let ep: Owned<Endpoint> = objs.create().map_err(err("ep"))?;
    let bound: Owned<Notification> = objs.create().map_err(err("bound"))?;
    let sig = objs.mint(&bound, 0x100).map_err(err("mint bound"))?;
    let tx = objs.create::<Notification>().map_err(err("ready"))?;
    let (ep_name, tx_name) = (ep.cap(), tx.cap());
    let server = ThreadBuilder::new()
        .priority(200)
        .spawn(objs, move || {
            let s: Server<PingPong> = Server::new(ep_name);
            tx_name.signal();
            match s.recv() {
                ipc::Incoming::Signal { bits } => bits,
                _ => 0,
            }
        })
        .map_err(err("spawn server"))?;
    ipc::bind_notification(server.tcb(), bound.cap()).map_err(err("bind"))?;
    tx.wait();
    sig.signal();
    let bits = server.join(objs).map_err(err("join server"))?;
    ensure!(bits == 0x100, "bound signal bits {bits:#x}");
    for c in [sig, bound, badged, ntfn, tx] {
        objs.delete(c).map_err(err("delete"))?;
    }
    objs.delete(ep).map_err(err("delete ep"))?;
    Ok(())
}

/// Giving a capability of the wrong type to an invocation is an error,
/// not a crash.
pub fn check_wrong_cap_type(objs: &mut Objects) -> Result<(), Error> {
    let ep: Owned<Endpoint> = objs.create().map_err(err("ep"))?;
    // An endpoint where a notification is expected.
    let h = spawn(objs, || 1u8).map_err(err("spawn"))?;
    let r = ipc::bind_notification(h.tcb(), ep.cast());
    h.join(objs).map_err(err("join"))?;
    objs.delete(ep).map_err(err("delete"))?;
    ensure!(
        r == Err(InvocationError::IllegalOperation),
        "binding an endpoint as notification: {r:?}"
    );
    Ok(())
}

/// Recurses `depth` times with a 128-byte frame.
fn recurse(depth: u64) -> u64 {
    let frame = core::hint::black_box([depth; 16]);
    if depth == 0 {
        return frame[0];
    }
    recurse(depth - 1).wrapping_add(core::hint::black_box(frame[3]))
}

/// A thread that overflows its stack stops with a VM fault in the guard
/// page below the stack; its slots and address range come back,
/// and threads go on working.
pub fn check_stack_overflow(objs: &mut Objects) -> Result<(), Error> {
    const STACK: usize = 16 * 1024;
    // Deep enough for a few hundred frames, not a million.
    let ok = ThreadBuilder::new()
        .stack_size(STACK)
        .spawn(objs, || recurse(50))
        .map_err(err("spawn shallow"))?;
    ensure!(ok.stack().len() == STACK, "stack {:x?}", ok.stack());
    ok.join(objs).map_err(err("join shallow"))?;
    let slots = objs.cspace().slots().used();
    let window = objs.vspace().window().used_bytes();
    let h = ThreadBuilder::new()
        .stack_size(STACK)
        .spawn(objs, || recurse(1_000_000))
        .map_err(err("spawn deep"))?;
    let guard = h.stack_guard();
    let stack = h.stack();
    ensure!(
        guard.end == stack.start && guard.len() == 4096,
        "guard {guard:x?} below stack {stack:x?}"
    );
    // The join recognises the overflow; the fault address lies in the
    // guard page as the kernel reports it (stacks are below 4 GiB, so even
    // seL4 5.0.0's 32-bit addresses compare exactly).
    match h.join(objs) {
        Err(ThreadError::StackOverflow(f)) => match *f {
            Fault::VmFault {
                addr,
                prefetch_fault,
                ..
            } => ensure!(
                guard.contains(&(addr as usize)) && !prefetch_fault,
                "vm fault at {addr:#x}, guard page {guard:x?}, stack {stack:x?}"
            ),
            other => return Err(Error(format!("stack overflow: {other:?}"))),
        },
        other => return Err(Error(format!("stack overflow: join -> {other:?}"))),
    }
    ensure!(
        objs.cspace().slots().used() == slots,
        "slots used {} after the join, {slots} before",
        objs.cspace().slots().used()
    );
    ensure!(
        objs.vspace().window().used_bytes() == window,
        "window bytes used {} after the join, {window} before",
        objs.vspace().window().used_bytes()
    );
    // The system goes on: a new thread runs and returns.
    let h = spawn(objs, || 7u8).map_err(err("spawn after"))?;
    ensure!(
        h.join(objs).map_err(err("join after"))? == 7,
        "result after"
    );
    println!("  stack overflow: VM fault in guard page {guard:x?}");
    Ok(())
}
