//! Host-test models: a 16550 (after QEMU's `hw/char/serial.c`: 16-byte
//! FIFOs, the interrupt identification priorities, a transmit-empty
//! interrupt that is pending until the identification is read or the
//! holding register written), an interrupt line into an IOAPIC-like
//! controller that masks on delivery until acknowledged, and
//! notifications with badges.

use std::boxed::Box;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::vec::Vec;

use sel4_device::{Acknowledge, Signal, Wait};

use crate::regs::{fcr, ier, iir, lcr, lsr, mcr, Reg, Registers};

/// A notification: a word of badges, waiters block on a condition
/// variable.
#[derive(Default)]
pub struct Ntfn {
    word: Mutex<u64>,
    cv: Condvar,
}

impl Ntfn {
    pub fn new() -> Arc<Ntfn> {
        Arc::new(Ntfn::default())
    }

    pub fn signal(&self, badge: u64) {
        let mut w = self.word.lock().unwrap();
        // A signal with badge 0 still wakes (as the kernel's does): keep a
        // marker bit outside the badges tests use.
        *w |= if badge == 0 { 1 << 63 } else { badge };
        self.cv.notify_one();
    }

    pub fn wait(&self) -> u64 {
        let mut w = self.word.lock().unwrap();
        while *w == 0 {
            w = self.cv.wait(w).unwrap();
        }
        std::mem::take(&mut *w) & !(1 << 63)
    }

    pub fn poll(&self) -> u64 {
        std::mem::take(&mut *self.word.lock().unwrap()) & !(1 << 63)
    }
}

/// A capability to a [`Ntfn`] with a badge: signals with it, waits on the
/// notification.
#[derive(Clone)]
pub struct Cap {
    pub ntfn: Arc<Ntfn>,
    pub badge: u64,
}

impl Signal for Cap {
    fn signal(&self) {
        self.ntfn.signal(self.badge)
    }
}

impl Wait for Cap {
    fn wait(&self) -> u64 {
        self.ntfn.wait()
    }
    fn poll(&self) -> u64 {
        self.ntfn.poll()
    }
}

/// The interrupt controller's view of one edge-triggered line: an edge
/// signals the notification and masks the line until `ack`. An edge while
/// masked is kept for later (QEMU's IOAPIC) or lost (`lossy`, as some
/// hardware does).
pub struct Irq {
    ntfn: Arc<Ntfn>,
    badge: u64,
    lossy: bool,
    state: Mutex<IrqState>,
    /// Runs at each acknowledgement while the line is still masked (a
    /// device event in the window between the driver's last look and the
    /// acknowledgement).
    before_ack: Mutex<Option<Box<dyn FnMut() + Send>>>,
}

#[derive(Default)]
struct IrqState {
    level: bool,
    masked: bool,
    latched: bool,
    delivered: u64,
    lost: u64,
}

impl Irq {
    pub fn new(ntfn: Arc<Ntfn>, badge: u64, lossy: bool) -> Arc<Irq> {
        Arc::new(Irq {
            ntfn,
            badge,
            lossy,
            state: Mutex::new(IrqState::default()),
            before_ack: Mutex::new(None),
        })
    }

    pub fn set_before_ack(&self, f: Box<dyn FnMut() + Send>) {
        *self.before_ack.lock().unwrap() = Some(f);
    }

    fn set_level(&self, level: bool) {
        let mut s = self.state.lock().unwrap();
        let edge = level && !s.level;
        s.level = level;
        if !edge {
            return;
        }
        if s.masked {
            if self.lossy {
                s.lost += 1;
            } else {
                s.latched = true;
            }
        } else {
            s.masked = true;
            s.delivered += 1;
            self.ntfn.signal(self.badge);
        }
    }

    pub fn is_masked(&self) -> bool {
        self.state.lock().unwrap().masked
    }

    pub fn delivered(&self) -> u64 {
        self.state.lock().unwrap().delivered
    }

    pub fn lost(&self) -> u64 {
        self.state.lock().unwrap().lost
    }
}

/// The handler: acknowledging unmasks the line.
#[derive(Clone)]
pub struct Handler(pub Arc<Irq>);

impl Acknowledge for Handler {
    type Error = ();
    fn ack(&self) -> Result<(), ()> {
        let irq = &self.0;
        if let Some(f) = irq.before_ack.lock().unwrap().as_mut() {
            f();
        }
        let mut s = irq.state.lock().unwrap();
        s.masked = false;
        if s.latched {
            s.latched = false;
            s.masked = true;
            s.delivered += 1;
            irq.ntfn.signal(irq.badge);
        }
        Ok(())
    }
}

pub const FIFO: usize = 16;

#[derive(Default)]
pub struct State {
    pub present: bool,
    pub ier: u8,
    pub lcr: u8,
    pub mcr: u8,
    pub scr: u8,
    pub dll: u8,
    pub dlm: u8,
    pub fifo_on: bool,
    pub trigger: usize,
    pub rx: VecDeque<u8>,
    pub tx: VecDeque<u8>,
    /// What left the transmitter.
    pub wire_out: Vec<u8>,
    /// Receive error bits to report with the next line status read.
    pub errors: u8,
    /// Transmit-empty interrupt pending (QEMU's thr_ipending).
    pub thr_pending: bool,
    /// Every register write, in order.
    pub writes: Vec<(Reg, u8)>,
    /// Bytes written while the transmit FIFO was full (a driver bug).
    pub tx_overflows: u64,
    /// Bytes offered while the receive FIFO was full (the model's sender
    /// never does that: QEMU holds it back).
    pub rx_overruns: u64,
}

impl State {
    fn cause(&self) -> u8 {
        if self.ier & ier::LINE_STATUS != 0 && self.errors != 0 {
            return iir::LINE_STATUS;
        }
        if self.ier & ier::RX_DATA != 0 && !self.rx.is_empty() {
            let t = if self.fifo_on { self.trigger } else { 1 };
            // Below the trigger level the character timeout stands in
            // (the model's sender is always idle for long enough).
            return if self.rx.len() >= t {
                iir::RX_DATA
            } else {
                iir::RX_TIMEOUT
            };
        }
        if self.ier & ier::THR_EMPTY != 0 && self.thr_pending {
            return iir::THR_EMPTY;
        }
        iir::NONE_PENDING
    }

    fn line_asserted(&self) -> bool {
        self.mcr & mcr::OUT2 != 0 && self.cause() != iir::NONE_PENDING
    }
}

/// The 16550 model, with its interrupt line.
#[derive(Clone)]
pub struct FakeUart {
    pub state: Arc<Mutex<State>>,
    irq: Option<Arc<Irq>>,
}

impl FakeUart {
    pub fn new(irq: Option<Arc<Irq>>) -> FakeUart {
        FakeUart {
            state: Arc::new(Mutex::new(State {
                present: true,
                trigger: 1,
                ..State::default()
            })),
            irq,
        }
    }

    pub fn absent() -> FakeUart {
        let f = FakeUart::new(None);
        f.state.lock().unwrap().present = false;
        f
    }

    fn update(&self, s: &State) {
        if let Some(irq) = &self.irq {
            irq.set_level(s.line_asserted());
        }
    }

    /// The sender on the wire offers `data`; takes what fits in the
    /// receive FIFO (QEMU holds the rest back); returns how many.
    pub fn feed(&self, data: &[u8]) -> usize {
        let mut s = self.state.lock().unwrap();
        let room = FIFO - s.rx.len();
        let n = room.min(data.len());
        s.rx.extend(&data[..n]);
        self.update(&s);
        n
    }

    /// Offers a byte even when the FIFO is full (hardware: an overrun).
    pub fn feed_forced(&self, b: u8) {
        let mut s = self.state.lock().unwrap();
        if s.rx.len() >= FIFO {
            s.rx_overruns += 1;
            s.errors |= lsr::OVERRUN;
        } else {
            s.rx.push_back(b);
        }
        self.update(&s);
    }

    /// The transmitter sends up to `n` bytes from its FIFO; when the FIFO
    /// runs empty the transmit-empty interrupt becomes pending.
    pub fn transmit(&self, n: usize) -> usize {
        let mut s = self.state.lock().unwrap();
        let k = n.min(s.tx.len());
        for _ in 0..k {
            let b = s.tx.pop_front().unwrap_or(0);
            s.wire_out.push(b);
        }
        if k > 0 && s.tx.is_empty() {
            s.thr_pending = true;
        }
        self.update(&s);
        k
    }

    /// Bytes in the receive FIFO.
    pub fn rx_len(&self) -> usize {
        self.state.lock().unwrap().rx.len()
    }

    pub fn wire_out(&self) -> Vec<u8> {
        self.state.lock().unwrap().wire_out.clone()
    }
}

impl Registers for FakeUart {
    type Error = core::convert::Infallible;

    fn read(&self, reg: Reg) -> Result<u8, Self::Error> {
        let mut s = self.state.lock().unwrap();
        if !s.present {
            return Ok(0xff);
        }
        let dlab = s.lcr & lcr::DLAB != 0;
        let v = match reg {
            Reg::Data if dlab => s.dll,
            Reg::Data => s.rx.pop_front().unwrap_or(0),
            Reg::Ier if dlab => s.dlm,
            Reg::Ier => s.ier,
            Reg::IirFcr => {
                let c = s.cause();
                if c == iir::THR_EMPTY {
                    s.thr_pending = false;
                }
                c | if s.fifo_on { iir::FIFO_ENABLED } else { 0 }
            }
            Reg::Lcr => s.lcr,
            Reg::Mcr => s.mcr,
            Reg::Lsr => {
                let mut v = std::mem::take(&mut s.errors);
                if !s.rx.is_empty() {
                    v |= lsr::DATA_READY;
                }
                if s.tx.is_empty() {
                    v |= lsr::THR_EMPTY | lsr::TX_EMPTY;
                }
                v
            }
            Reg::Msr => 0,
            Reg::Scr => s.scr,
        };
        self.update(&s);
        Ok(v)
    }

    fn write(&self, reg: Reg, v: u8) -> Result<(), Self::Error> {
        let mut s = self.state.lock().unwrap();
        if !s.present {
            return Ok(());
        }
        s.writes.push((reg, v));
        let dlab = s.lcr & lcr::DLAB != 0;
        match reg {
            Reg::Data if dlab => s.dll = v,
            Reg::Data => {
                if s.tx.len() >= if s.fifo_on { FIFO } else { 1 } {
                    s.tx_overflows += 1;
                } else {
                    s.tx.push_back(v);
                }
                s.thr_pending = false;
            }
            Reg::Ier if dlab => s.dlm = v,
            Reg::Ier => {
                let was = s.ier;
                s.ier = v & 0x0f;
                // Enabling the transmit-empty interrupt with the holding
                // register empty raises it at once (as QEMU and the 16550
                // do).
                if v & ier::THR_EMPTY != 0 && was & ier::THR_EMPTY == 0 && s.tx.is_empty() {
                    s.thr_pending = true;
                }
            }
            Reg::IirFcr => {
                s.fifo_on = v & fcr::ENABLE != 0;
                if v & fcr::CLEAR_RX != 0 {
                    s.rx.clear();
                }
                if v & fcr::CLEAR_TX != 0 {
                    s.tx.clear();
                }
                s.trigger = [1, 4, 8, 14][(v >> 6) as usize];
            }
            Reg::Lcr => s.lcr = v,
            Reg::Mcr => s.mcr = v,
            Reg::Lsr | Reg::Msr => {}
            Reg::Scr => s.scr = v,
        }
        self.update(&s);
        Ok(())
    }
}
