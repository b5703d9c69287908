//! The console lock: `println!` formats before it takes the lock, so a
//! thread that panics, faults or overflows its stack inside a `Display`
//! impl holds nothing, and every other thread can print afterwards.

use core::fmt;
use sel4_rootserver::thread::{spawn, ThreadBuilder, ThreadError};
use sel4_runtime::thread::provoke;
use sel4_test_harness::{ensure, ensure_eq, fail, sel4_test, Ctx, TestResult};

use crate::util::{fw, OBJECT_SLOTS};

struct PanicsInDisplay;

impl fmt::Display for PanicsInDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("half a line, then ")?;
        panic!("deliberate panic inside Display")
    }
}

struct FaultsInDisplay;

impl fmt::Display for FaultsInDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("half a line, then ")?;
        let v = provoke::read_unmapped(0x9000);
        write!(f, "{v}")
    }
}

struct OverflowsInDisplay;

fn deep(n: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let frame = core::hint::black_box([n; 32]);
    if n == 0 {
        return write!(f, "{}", frame[1]);
    }
    deep(n - 1, f)?;
    write!(f, "{}", core::hint::black_box(frame[2]) & 1)
}

impl fmt::Display for OverflowsInDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        deep(1_000_000, f)
    }
}

/// Other threads and this one can still print.
fn console_still_works(objs: &mut sel4_rootserver::objects::Objects) -> TestResult {
    let h = spawn(objs, || {
        sel4_rootserver::println!("console: a thread prints after the failure ({})", 42);
        7u8
    })
    .map_err(fw("spawn printer"))?;
    ensure_eq!(h.join(objs).map_err(fw("join printer"))?, 7);
    sel4_rootserver::println!("console: the test thread prints too ({})", 43);
    Ok(())
}

#[sel4_test(timeout_ms = 5000)]
fn panic_inside_display_leaves_println_working(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let h = spawn(&mut objs, || {
        sel4_rootserver::println!("console: {}", PanicsInDisplay);
    })
    .map_err(fw("spawn"))?;
    match h.join(&mut objs) {
        Err(ThreadError::Panicked { message }) => ensure!(
            message.contains("deliberate panic inside Display"),
            "message {message:?}"
        ),
        other => fail!("join gave {other:?}"),
    }
    console_still_works(&mut objs)
}

#[sel4_test(timeout_ms = 5000)]
fn fault_inside_display_leaves_println_working(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let h = spawn(&mut objs, || {
        sel4_rootserver::println!("console: {}", FaultsInDisplay);
    })
    .map_err(fw("spawn"))?;
    match h.join(&mut objs) {
        Err(ThreadError::Faulted(f)) => match *f {
            sel4_sys::Fault::VmFault { addr: 0x9000, .. } => {}
            other => fail!("fault {other:?}"),
        },
        other => fail!("join gave {other:?}"),
    }
    console_still_works(&mut objs)
}

#[sel4_test(timeout_ms = 5000)]
fn stack_overflow_inside_display_leaves_println_working(ctx: &mut Ctx) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let h = ThreadBuilder::new()
        .stack_size(16 * 1024)
        .spawn(&mut objs, || {
            sel4_rootserver::println!("console: {}", OverflowsInDisplay);
        })
        .map_err(fw("spawn"))?;
    match h.join(&mut objs) {
        Err(ThreadError::StackOverflow(_)) => {}
        other => fail!("join gave {other:?}"),
    }
    console_still_works(&mut objs)
}

/// Long text (beyond the stack buffer) comes out in one piece and the
/// formatting's heap spill is freed.
#[sel4_test]
fn long_lines_print_and_free_their_buffer() -> TestResult {
    let long: alloc::string::String = (0..40).map(|i| (b'a' + (i % 26) as u8) as char).collect();
    let before = sel4_runtime::heap::current();
    sel4_rootserver::println!("console: {long}{long}{long}{long}{long}{long}{long}{long}");
    let after = sel4_runtime::heap::current();
    ensure_eq!(
        (before.blocks, before.in_use),
        (after.blocks, after.in_use),
        "the spill was freed"
    );
    ensure!(
        after.peak >= before.in_use + 320,
        "the text spilled to the heap (peak {})",
        after.peak
    );
    Ok(())
}
