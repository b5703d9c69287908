//! CSpace resolution through a chain of 64 one-bit CNodes, used as the
//! whole CSpace of a running thread (seL4test CSPACE0001).

use sel4_sys::{Error, InvocationLabel, MessageInfo, ObjectType, Word};
use sel4_test_harness::kernel::{invoke, rights, DEPTH, ROOT_CNODE, ROOT_VSPACE};
use sel4_test_harness::{ensure_eq, sel4_test, Ctx, TestResult};

use crate::support::{lift, TEST_TOP};
use crate::util::{endpoint, raw_thread, start_raw};

const READY: Word = 0x1237_4153;
const SUCCESS: Word = 0x1237_4151;
const WORD_BITS: u32 = 64;

/// The thread of CSPACE0001: tells its creator it runs, then (in the
/// one-bit CSpace) calls every cptr 0..63 and `ep_pos` with each bit
/// flipped, all of which must name empty slots, and sends `SUCCESS` with
/// the number of calls that did not fail as they should through `ep_pos`.
/// Registers only: no IPC buffer, no TLS.
extern "C" fn prober(ep: Word, ep_pos: Word) -> ! {
    sel4_sys::send_regs(ep, MessageInfo::new(0, 0, 0, 1), [READY, 0, 0, 0]);
    // Here the CSpace has been switched.
    let mut wrong = 0;
    let invalid = Error::InvalidCapability as Word;
    for i in 0..WORD_BITS {
        let r = sel4_sys::call_regs(Word::from(i), MessageInfo::new(0, 0, 0, 0), [0; 4]);
        wrong += Word::from(r.info.get_label() != invalid);
        let r = sel4_sys::call_regs(ep_pos ^ (1 << i), MessageInfo::new(0, 0, 0, 0), [0; 4]);
        wrong += Word::from(r.info.get_label() != invalid);
    }
    sel4_sys::send_regs(ep_pos, MessageInfo::new(0, 0, 0, 2), [SUCCESS, wrong, 0, 0]);
    loop {
        sel4_sys::recv_regs(ep_pos);
    }
}

#[sel4_test(sel4test = "CSPACE0001")]
fn thread_in_a_chain_of_one_bit_cnodes(ctx: &mut Ctx) -> TestResult {
    let ep = endpoint(ctx)?;
    // cnode[k] resolves bit 63 - k of a cptr; cnode[k + 1] sits in slot
    // s(k) of cnode[k], alternating 0, 1, 0, ...; the endpoint sits in
    // cnode[63] at the next alternating slot. ep_pos has those slots as
    // its bits.
    let mut cnodes = alloc::vec::Vec::new();
    for _ in 0..WORD_BITS {
        cnodes.push(ctx.create(ObjectType::CapTableObject, 1)?);
    }
    let mut ep_pos: Word = 0;
    let mut slot: Word = 0;
    for k in 0..WORD_BITS as usize {
        let (what, bit) = if k + 1 < WORD_BITS as usize {
            (cnodes[k + 1], WORD_BITS as usize - 1 - k)
        } else {
            (ep, 0)
        };
        // Copy `what` (a root CNode slot) into slot `slot` of cnode[k]
        // (a one-bit index: depth 1).
        invoke(
            cnodes[k],
            InvocationLabel::CNodeCopy,
            &[ROOT_CNODE],
            &[slot, 1, what, DEPTH, rights::ALL],
        )?;
        ep_pos |= slot << bit;
        slot ^= 1;
    }
    lift(ctx)?;
    let t = raw_thread(ctx, ep, Word::from(TEST_TOP - 10))?;
    start_raw(&t, prober as *const () as usize as Word, ep, ep_pos)?;
    let r = sel4_sys::recv_regs(ep);
    ensure_eq!(
        (r.info.get_length(), r.mrs[0]),
        (1, READY),
        "the thread runs"
    );
    // Its whole CSpace becomes the chain (no guard); its fault endpoint is
    // the endpoint's cptr there, so a fault would arrive here too (MCS
    // kernels take the fault endpoint from this thread's CSpace now and
    // copy it into the TCB: the same endpoint).
    let fault_ep = if crate::util::MCS { ep } else { ep_pos };
    crate::util::set_space(t.tcb, fault_ep, cnodes[0], ROOT_VSPACE)?;
    let r = sel4_sys::recv_regs(ep);
    ensure_eq!(
        r.info.get_label(),
        0,
        "a message, not a fault (label {})",
        r.info.get_label()
    );
    ensure_eq!(
        (r.info.get_length(), r.mrs[0], r.mrs[1]),
        (2, SUCCESS, 0),
        "(length, magic, calls that did not fail with InvalidCapability) through cptr {ep_pos:#x}"
    );
    Ok(())
}
