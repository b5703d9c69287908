//! The root task's image: the runtime maps its code, constants and
//! relocated pointers read-only at start, so a write to them is a VM fault
//! of the writer; reading and running them works as before.

use sel4_rootserver::thread::{spawn, ThreadError};
use sel4_runtime::thread::provoke::{self, ImagePart};
use sel4_sys::Fault;
use sel4_test_harness::{ensure, ensure_eq, fail, sel4_test, Ctx, Failure, TestResult};

use crate::util::{fw, OBJECT_SLOTS};

/// Page-fault error code bits (x86): page present, write access, user mode.
const PRESENT: u64 = 1;
const WRITE: u64 = 2;
const USER: u64 = 4;

fn write_faults(ctx: &mut Ctx, part: ImagePart) -> TestResult {
    let mut objs = ctx.objects(OBJECT_SLOTS)?;
    let addr = provoke::image_address(part);
    ensure!(
        sel4_runtime::image::is_read_only(addr),
        "{part:?} at {addr:#x} is not in a read-only range: {:x?}",
        sel4_runtime::image::protection()
    );
    let h = spawn(&mut objs, move || provoke::write_image(part).is_ok()).map_err(fw("spawn"))?;
    match h.join(&mut objs) {
        Err(ThreadError::Faulted(f)) => match *f {
            Fault::VmFault {
                addr: a,
                prefetch_fault,
                fsr,
                ..
            } => {
                ensure_eq!(a as usize, addr, "fault address");
                ensure!(!prefetch_fault, "a data access");
                ensure_eq!(
                    fsr & (PRESENT | WRITE | USER),
                    PRESENT | WRITE | USER,
                    "fsr {fsr:#x}"
                );
            }
            other => fail!("fault {other:?}"),
        },
        Ok(written) => fail!("the write went through ({written}): the image is writable"),
        Err(e) => fail!("join gave {e}"),
    }
    Ok(())
}

#[sel4_test]
fn writing_to_code_faults(ctx: &mut Ctx) -> TestResult {
    write_faults(ctx, ImagePart::Text)
}

#[sel4_test]
fn writing_to_constants_faults(ctx: &mut Ctx) -> TestResult {
    write_faults(ctx, ImagePart::ReadOnlyData)
}

#[sel4_test]
fn writing_to_relocated_pointers_faults(ctx: &mut Ctx) -> TestResult {
    write_faults(ctx, ImagePart::Relro)
}

static TABLE: [u64; 4] = [3, 1, 4, 1];

fn double(x: u64) -> u64 {
    x * 2
}

static FUNCTIONS: [fn(u64) -> u64; 2] = [double, double];

#[sel4_test]
fn protected_code_and_data_still_read_and_run() -> TestResult {
    let table = core::hint::black_box(&TABLE);
    ensure!(
        sel4_runtime::image::is_read_only(table.as_ptr() as usize),
        "the table is read-only"
    );
    ensure_eq!(table.iter().sum::<u64>(), 9, "reads");
    let f = core::hint::black_box(&FUNCTIONS);
    ensure!(
        sel4_runtime::image::is_read_only(f.as_ptr() as usize),
        "the function table is read-only"
    );
    ensure_eq!(f[1](21), 42, "runs through a relocated pointer");
    ensure!(
        sel4_runtime::image::is_read_only(double as *const () as usize),
        "the code is read-only"
    );
    let p = sel4_runtime::image::protection().ok_or_else(|| Failure::fail("not protected"))?;
    sel4_rootserver::println!(
        "image: {} pages read-only in place, {} RELRO pages remapped; ranges {:x?}",
        p.in_place,
        p.relro,
        p.ranges()
    );
    Ok(())
}
