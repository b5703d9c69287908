//! The start contract of a process: what its threads find when they start,
//! and how it reports its end. The root task's loader
//! (`sel4_rootserver::process`) writes it; a process's runtime reads it.
//!
//! # Registers
//!
//! The *initial thread* starts at the image's entry point (relocated) with
//! - the first argument register (x86_64 `rdi`, aarch64 `x0`, riscv64
//!   `a0`) = the address of the read-only **start-info page**
//!   ([`StartInfo`]);
//! - the stack pointer = the top of its stack (16-byte aligned; on x86_64
//!   minus 8 as after a `call`), a guard page below the stack;
//! - the thread pointer (x86_64 FS base, aarch64 `tpidr_el0`, riscv64
//!   `tp`) = that of its TLS block, already laid out from the image's
//!   `PT_TLS` in the architecture's variant (x86_64 variant II: `.tdata`,
//!   zeroed `.tbss`, the self pointer at the thread pointer; aarch64
//!   variant I with a 16-byte TCB; riscv64 the block at `tp`), so
//!   thread-locals work from the first instruction;
//! - every other register 0.
//!
//! An *additional thread* starts at the entry address its creator chose,
//! with the first four argument registers = the start-info page, its
//! thread index (1, 2, ...), its IPC buffer address and the argument word
//! its creator gave; stack and thread pointer as above (its own stack and
//! TLS block).
//!
//! The kernel knows each thread's IPC buffer (`TCB_SetIPCBuffer`); the
//! thread still has to tell its own runtime where it is (the start-info
//! page's thread table has it).
//!
//! # The start-info page
//!
//! One page, mapped read-only at [`StartInfo`]'s address, little-endian
//! 64-bit words at fixed offsets (the `OFF_*` constants), so that any
//! language can read it; [`StartInfo::decode`] and [`StartInfo::encode`]
//! are the Rust side. The thread table has [`MAX_THREADS`] entries
//! ([`ThreadInfo`], [`THREAD_WORDS`] words each); entry 0 is the initial
//! thread.
//!
//! The runtime's locks (heap, console, thread registry) block on
//! notifications the loader makes for the process ([`RUNTIME_LOCKS`]
//! consecutive slots from [`StartInfo::lock_slots`]).
//!
//! # Reports
//!
//! A process ends by sending, on its report capability
//! ([`StartInfo::report_slot`]), a message of label [`EXIT_LABEL`] (word 0:
//! the exit code) or [`PANIC_LABEL`] (word 0: the message's length in
//! bytes, then the UTF-8 message packed into words, little-endian, at most
//! [`PANIC_MESSAGE_MAX`] bytes); [`encode_panic`] and [`decode_panic`]
//! pack and unpack it. The labels cannot be taken for kernel fault
//! messages, whose labels are small numbers.

/// `b"sel4rsSI"` as a little-endian word: the first word of the page.
pub const MAGIC: u64 = u64::from_le_bytes(*b"sel4rsSI");
/// Layout version (word 1).
pub const VERSION: u64 = 2;
/// Bytes of the page.
pub const PAGE_SIZE: usize = 4096;
/// Bytes of the name field (UTF-8, not terminated: its length is a word).
pub const NAME_MAX: usize = 256;
/// Argument words a process gets from its creator.
pub const ARGS: usize = 8;
/// Words per thread entry.
pub const THREAD_WORDS: usize = 8;
/// Entries of the thread table.
pub const MAX_THREADS: usize = (PAGE_SIZE - OFF_THREADS) / (THREAD_WORDS * 8);
const _: () = assert!(OFF_THREADS + MAX_THREADS * THREAD_WORDS * 8 <= PAGE_SIZE);

/// Byte offsets of the header's words: the magic word ([`MAGIC`]) first.
pub const OFF_MAGIC: usize = 0;
/// Offset of the layout version ([`VERSION`]).
pub const OFF_VERSION: usize = 8;
/// Offset of [`StartInfo::generation`].
pub const OFF_GENERATION: usize = 16;
/// Offset of the name's length in bytes.
pub const OFF_NAME_LEN: usize = 24;
/// Offset of [`StartInfo::image_start`].
pub const OFF_IMAGE_START: usize = 32;
/// Offset of [`StartInfo::image_end`].
pub const OFF_IMAGE_END: usize = 40;
/// Offset of [`StartInfo::heap_start`].
pub const OFF_HEAP_START: usize = 48;
/// Offset of [`StartInfo::heap_size`].
pub const OFF_HEAP_SIZE: usize = 56;
/// Offset of [`StartInfo::cspace_bits`].
pub const OFF_CSPACE_BITS: usize = 64;
/// Offset of [`StartInfo::free_start`].
pub const OFF_FREE_START: usize = 72;
/// Offset of [`StartInfo::free_end`].
pub const OFF_FREE_END: usize = 80;
/// Offset of [`StartInfo::cnode_slot`].
pub const OFF_CNODE_SLOT: usize = 88;
/// Offset of [`StartInfo::vspace_slot`].
pub const OFF_VSPACE_SLOT: usize = 96;
/// Offset of [`StartInfo::report_slot`].
pub const OFF_REPORT_SLOT: usize = 104;
/// Offset of the number of thread entries.
pub const OFF_THREAD_COUNT: usize = 112;
/// Offset of [`StartInfo::lock_slots`]: the first of the runtime's lock
/// notifications.
pub const OFF_LOCK_SLOTS: usize = 120;
/// Offset of [`StartInfo::args`] ([`ARGS`] words).
pub const OFF_ARGS: usize = 128;

/// Notifications of the process runtime's locks, consecutive slots from
/// [`StartInfo::lock_slots`]: the heap's, the console's and the thread
/// registry's, in that order ([`RUNTIME_LOCKS`] of them). This one is the
/// heap's.
pub const LOCK_HEAP: u64 = 0;
/// The console lock's notification (offset from
/// [`StartInfo::lock_slots`]).
pub const LOCK_CONSOLE: u64 = 1;
/// The thread registry lock's notification (offset from
/// [`StartInfo::lock_slots`]).
pub const LOCK_REGISTRY: u64 = 2;
/// Number of runtime lock notifications.
pub const RUNTIME_LOCKS: u64 = 3;
/// Offset of the name ([`NAME_MAX`] bytes, UTF-8).
pub const OFF_NAME: usize = OFF_ARGS + ARGS * 8;
/// Offset of the thread table ([`MAX_THREADS`] entries of [`THREAD_WORDS`] words).
pub const OFF_THREADS: usize = OFF_NAME + NAME_MAX;

/// Label of the exit report.
pub const EXIT_LABEL: u64 = 0xe_e417;
/// Label of the panic report.
pub const PANIC_LABEL: u64 = 0xe_9a1c;
// Labels travel in 20 bits (`sel4_ipc::LABEL_BITS`, the width seL4's
// message info gives them on 32-bit kernels), below the framework's error
// label.
const _: () = assert!(EXIT_LABEL < sel4_ipc::ERROR_LABEL && PANIC_LABEL < sel4_ipc::ERROR_LABEL);
/// Message words of a report (seL4's message length).
pub const REPORT_WORDS: usize = 120;
/// Bytes of a panic message that fit a report.
pub const PANIC_MESSAGE_MAX: usize = (REPORT_WORDS - 1) * 8;

/// One thread of a process, as its entry in the start-info page says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ThreadInfo {
    /// Lowest address of the stack (the guard page is below it).
    pub stack_bottom: u64,
    /// One past the highest address of the stack.
    pub stack_top: u64,
    /// The thread's IPC buffer.
    pub ipc_buffer: u64,
    /// The thread pointer it starts with (FS base, `tpidr_el0`, `tp`).
    pub thread_pointer: u64,
    /// Slot of its TCB in the process's CSpace (0: not given).
    pub tcb_slot: u64,
    /// Slot of its fault endpoint in the process's CSpace.
    pub fault_slot: u64,
    /// Its entry address (the image's entry for thread 0).
    pub entry: u64,
    /// The argument word it started with (0 for thread 0).
    pub arg: u64,
}

/// What a process is told at start: see the [module documentation](self).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartInfo {
    name: [u8; NAME_MAX],
    name_len: usize,
    /// Counts the instances of this process (0 for the first; a restart
    /// gets the next number).
    pub generation: u64,
    /// Where the image is loaded: `[image_start, image_end)`.
    pub image_start: u64,
    /// End of the loaded image (exclusive).
    pub image_end: u64,
    /// The heap: `heap_size` bytes of zeroed, writable memory at
    /// `heap_start` (0 bytes: none).
    pub heap_start: u64,
    /// Bytes of the heap.
    pub heap_size: u64,
    /// log2 of the slots of the process's CSpace root CNode (a capability
    /// pointer is a slot index, resolved at the word's depth).
    pub cspace_bits: u64,
    /// Slots `[free_start, free_end)` are empty and the process's own.
    pub free_start: u64,
    /// First slot after the free range.
    pub free_end: u64,
    /// Slot of its own CNode (0: not given).
    pub cnode_slot: u64,
    /// Slot of its own VSpace root (0: not given).
    pub vspace_slot: u64,
    /// Slot of the capability its reports go to (0: none).
    pub report_slot: u64,
    /// First of [`RUNTIME_LOCKS`] slots holding notifications for the
    /// runtime's locks (0: none; the locks then work only uncontended).
    pub lock_slots: u64,
    /// Argument words from its creator.
    pub args: [u64; ARGS],
    threads: [ThreadInfo; MAX_THREADS],
    thread_count: usize,
}

/// Why a start-info page did not decode (or a value does not fit one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StartInfoError {
    /// Fewer bytes than a page.
    TooShort {
        /// Bytes given.
        len: usize,
    },
    /// The first word is not [`MAGIC`].
    BadMagic,
    /// Another layout version.
    BadVersion {
        /// The version word found.
        found: u64,
    },
    /// The name is longer than [`NAME_MAX`] or not UTF-8.
    BadName,
    /// More threads than [`MAX_THREADS`].
    TooManyThreads {
        /// The thread count found or asked for.
        count: u64,
    },
}

impl core::fmt::Display for StartInfoError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            StartInfoError::TooShort { len } => {
                write!(f, "start-info page of {len} bytes (needs {PAGE_SIZE})")
            }
            StartInfoError::BadMagic => write!(f, "not a start-info page (bad magic)"),
            StartInfoError::BadVersion { found } => {
                write!(f, "start-info version {found}, this reader knows {VERSION}")
            }
            StartInfoError::BadName => {
                write!(f, "the name is not UTF-8 of at most {NAME_MAX} bytes")
            }
            StartInfoError::TooManyThreads { count } => {
                write!(f, "{count} threads (the page holds {MAX_THREADS})")
            }
        }
    }
}

fn rd(b: &[u8], off: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[off..off + 8]);
    u64::from_le_bytes(w)
}

fn wr(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

impl Default for StartInfo {
    fn default() -> Self {
        StartInfo {
            name: [0; NAME_MAX],
            name_len: 0,
            generation: 0,
            image_start: 0,
            image_end: 0,
            heap_start: 0,
            heap_size: 0,
            cspace_bits: 0,
            free_start: 0,
            free_end: 0,
            cnode_slot: 0,
            vspace_slot: 0,
            report_slot: 0,
            lock_slots: 0,
            args: [0; ARGS],
            threads: [ThreadInfo::default(); MAX_THREADS],
            thread_count: 0,
        }
    }
}

impl StartInfo {
    /// An empty start info with a name.
    pub fn new(name: &str) -> Result<StartInfo, StartInfoError> {
        let mut s = StartInfo::default();
        s.set_name(name)?;
        Ok(s)
    }

    /// The process's name.
    pub fn name(&self) -> &str {
        // Only valid UTF-8 gets in (set_name and decode check it).
        core::str::from_utf8(&self.name[..self.name_len]).unwrap_or("")
    }

    /// Sets the name (at most [`NAME_MAX`] bytes).
    pub fn set_name(&mut self, name: &str) -> Result<(), StartInfoError> {
        let b = name.as_bytes();
        if b.len() > NAME_MAX {
            return Err(StartInfoError::BadName);
        }
        self.name = [0; NAME_MAX];
        self.name[..b.len()].copy_from_slice(b);
        self.name_len = b.len();
        Ok(())
    }

    /// The threads the page describes (thread 0 first).
    pub fn threads(&self) -> &[ThreadInfo] {
        &self.threads[..self.thread_count]
    }

    /// Thread `i`, if the page describes it.
    pub fn thread(&self, i: usize) -> Option<&ThreadInfo> {
        self.threads().get(i)
    }

    /// Sets thread `i`'s entry (`i` at most the current count: a new
    /// thread is appended).
    pub fn set_thread(&mut self, i: usize, t: ThreadInfo) -> Result<(), StartInfoError> {
        if i >= MAX_THREADS || i > self.thread_count {
            return Err(StartInfoError::TooManyThreads {
                count: i as u64 + 1,
            });
        }
        self.threads[i] = t;
        self.thread_count = self.thread_count.max(i + 1);
        Ok(())
    }

    /// Writes the page (`page` must be at least [`PAGE_SIZE`] bytes; the
    /// rest of the page is zeroed).
    pub fn encode(&self, page: &mut [u8]) -> Result<(), StartInfoError> {
        if page.len() < PAGE_SIZE {
            return Err(StartInfoError::TooShort { len: page.len() });
        }
        let page = &mut page[..PAGE_SIZE];
        page.fill(0);
        wr(page, OFF_MAGIC, MAGIC);
        wr(page, OFF_VERSION, VERSION);
        wr(page, OFF_GENERATION, self.generation);
        wr(page, OFF_NAME_LEN, self.name_len as u64);
        wr(page, OFF_IMAGE_START, self.image_start);
        wr(page, OFF_IMAGE_END, self.image_end);
        wr(page, OFF_HEAP_START, self.heap_start);
        wr(page, OFF_HEAP_SIZE, self.heap_size);
        wr(page, OFF_CSPACE_BITS, self.cspace_bits);
        wr(page, OFF_FREE_START, self.free_start);
        wr(page, OFF_FREE_END, self.free_end);
        wr(page, OFF_CNODE_SLOT, self.cnode_slot);
        wr(page, OFF_VSPACE_SLOT, self.vspace_slot);
        wr(page, OFF_REPORT_SLOT, self.report_slot);
        wr(page, OFF_THREAD_COUNT, self.thread_count as u64);
        wr(page, OFF_LOCK_SLOTS, self.lock_slots);
        for (i, a) in self.args.iter().enumerate() {
            wr(page, OFF_ARGS + 8 * i, *a);
        }
        page[OFF_NAME..OFF_NAME + self.name_len].copy_from_slice(&self.name[..self.name_len]);
        for (i, t) in self.threads().iter().enumerate() {
            let o = OFF_THREADS + i * THREAD_WORDS * 8;
            let words = [
                t.stack_bottom,
                t.stack_top,
                t.ipc_buffer,
                t.thread_pointer,
                t.tcb_slot,
                t.fault_slot,
                t.entry,
                t.arg,
            ];
            for (k, w) in words.iter().enumerate() {
                wr(page, o + 8 * k, *w);
            }
        }
        Ok(())
    }

    /// Reads a page written by [`StartInfo::encode`].
    pub fn decode(page: &[u8]) -> Result<StartInfo, StartInfoError> {
        check_header(page)?;
        let name_len = rd(page, OFF_NAME_LEN);
        if name_len > NAME_MAX as u64 {
            return Err(StartInfoError::BadName);
        }
        let name_bytes = &page[OFF_NAME..OFF_NAME + name_len as usize];
        let name = core::str::from_utf8(name_bytes).map_err(|_| StartInfoError::BadName)?;
        let count = rd(page, OFF_THREAD_COUNT);
        if count > MAX_THREADS as u64 {
            return Err(StartInfoError::TooManyThreads { count });
        }
        let mut s = StartInfo::new(name)?;
        s.generation = rd(page, OFF_GENERATION);
        s.image_start = rd(page, OFF_IMAGE_START);
        s.image_end = rd(page, OFF_IMAGE_END);
        s.heap_start = rd(page, OFF_HEAP_START);
        s.heap_size = rd(page, OFF_HEAP_SIZE);
        s.cspace_bits = rd(page, OFF_CSPACE_BITS);
        s.free_start = rd(page, OFF_FREE_START);
        s.free_end = rd(page, OFF_FREE_END);
        s.cnode_slot = rd(page, OFF_CNODE_SLOT);
        s.vspace_slot = rd(page, OFF_VSPACE_SLOT);
        s.report_slot = rd(page, OFF_REPORT_SLOT);
        s.lock_slots = rd(page, OFF_LOCK_SLOTS);
        for i in 0..ARGS {
            s.args[i] = rd(page, OFF_ARGS + 8 * i);
        }
        for i in 0..count as usize {
            let o = OFF_THREADS + i * THREAD_WORDS * 8;
            let w = |k: usize| rd(page, o + 8 * k);
            s.threads[i] = ThreadInfo {
                stack_bottom: w(0),
                stack_top: w(1),
                ipc_buffer: w(2),
                thread_pointer: w(3),
                tcb_slot: w(4),
                fault_slot: w(5),
                entry: w(6),
                arg: w(7),
            };
        }
        s.thread_count = count as usize;
        Ok(s)
    }
}

/// Reads thread `index`'s entry straight from a start-info page, without
/// decoding the whole page (a [`StartInfo`] is about 4 KiB: too much for
/// the stack of a small thread).
pub fn thread_from_page(page: &[u8], index: usize) -> Result<ThreadInfo, StartInfoError> {
    check_header(page)?;
    let count = rd(page, OFF_THREAD_COUNT);
    if count > MAX_THREADS as u64 {
        return Err(StartInfoError::TooManyThreads { count });
    }
    if index as u64 >= count {
        return Err(StartInfoError::TooManyThreads {
            count: index as u64 + 1,
        });
    }
    let o = OFF_THREADS + index * THREAD_WORDS * 8;
    let w = |k: usize| rd(page, o + 8 * k);
    Ok(ThreadInfo {
        stack_bottom: w(0),
        stack_top: w(1),
        ipc_buffer: w(2),
        thread_pointer: w(3),
        tcb_slot: w(4),
        fault_slot: w(5),
        entry: w(6),
        arg: w(7),
    })
}

/// Reads the header word at byte offset `off` (one of the `OFF_*`
/// constants) of a start-info page.
pub fn word_from_page(page: &[u8], off: usize) -> Result<u64, StartInfoError> {
    check_header(page)?;
    if off % 8 != 0 || off + 8 > OFF_NAME {
        return Err(StartInfoError::TooShort { len: off });
    }
    Ok(rd(page, off))
}

fn check_header(page: &[u8]) -> Result<(), StartInfoError> {
    if page.len() < PAGE_SIZE {
        return Err(StartInfoError::TooShort { len: page.len() });
    }
    if rd(page, OFF_MAGIC) != MAGIC {
        return Err(StartInfoError::BadMagic);
    }
    let version = rd(page, OFF_VERSION);
    if version != VERSION {
        return Err(StartInfoError::BadVersion { found: version });
    }
    Ok(())
}

/// Packs a panic message into report words: word 0 the length in bytes
/// (cut to [`PANIC_MESSAGE_MAX`] at a character boundary), then the bytes.
/// Returns the number of words used.
pub fn encode_panic(message: &str, words: &mut [u64; REPORT_WORDS]) -> usize {
    let mut len = message.len().min(PANIC_MESSAGE_MAX);
    while !message.is_char_boundary(len) {
        len -= 1;
    }
    let bytes = &message.as_bytes()[..len];
    words[0] = len as u64;
    for (i, chunk) in bytes.chunks(8).enumerate() {
        let mut w = [0u8; 8];
        w[..chunk.len()].copy_from_slice(chunk);
        words[1 + i] = u64::from_le_bytes(w);
    }
    1 + len.div_ceil(8)
}

/// Unpacks a panic report's words into `out`; returns the message (cut at
/// `out`'s size and at the words received; invalid UTF-8 is cut at the
/// first bad byte).
pub fn decode_panic<'a>(words: &[u64], out: &'a mut [u8]) -> &'a str {
    let Some((&len, rest)) = words.split_first() else {
        return "";
    };
    let len = (len as usize).min(rest.len() * 8).min(out.len());
    for (i, b) in out[..len].iter_mut().enumerate() {
        *b = rest[i / 8].to_le_bytes()[i % 8];
    }
    match core::str::from_utf8(&out[..len]) {
        Ok(s) => s,
        Err(e) => core::str::from_utf8(&out[..e.valid_up_to()]).unwrap_or(""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_round_trips() {
        let mut s = StartInfo::new("kv-store").unwrap();
        s.generation = 3;
        s.image_start = 0x40_0000;
        s.image_end = 0x48_0000;
        s.heap_start = 0x1_0000_0000;
        s.heap_size = 1 << 20;
        s.cspace_bits = 10;
        s.free_start = 40;
        s.free_end = 1024;
        s.cnode_slot = 1;
        s.vspace_slot = 2;
        s.report_slot = 3;
        s.lock_slots = 4;
        s.args = [1, 2, 3, 4, 5, 6, 7, u64::MAX];
        for i in 0..3 {
            let t = ThreadInfo {
                stack_bottom: 0x2000_0000 + i,
                stack_top: 0x2001_0000 + i,
                ipc_buffer: 0x3000_0000 + i,
                thread_pointer: 0x2000_fff0 + i,
                tcb_slot: 4 + 4 * i,
                fault_slot: 5 + 4 * i,
                entry: 0x40_1000 + i,
                arg: 77 + i,
            };
            s.set_thread(i as usize, t).unwrap();
        }
        let mut page = [0xffu8; PAGE_SIZE];
        s.encode(&mut page).unwrap();
        assert_eq!(&page[..8], b"sel4rsSI");
        let d = StartInfo::decode(&page).unwrap();
        assert_eq!(d, s);
        assert_eq!(d.name(), "kv-store");
        assert_eq!(d.threads().len(), 3);
        assert_eq!(d.thread(2).unwrap().arg, 79);
        assert!(d.thread(3).is_none());
        // The documented offsets are where the words are.
        assert_eq!(rd(&page, OFF_HEAP_START), 0x1_0000_0000);
        assert_eq!(rd(&page, OFF_THREADS + THREAD_WORDS * 8 + 16), 0x3000_0001);
        assert_eq!(&page[OFF_NAME..OFF_NAME + 8], b"kv-store");
        // One entry or one word without decoding the page.
        assert_eq!(thread_from_page(&page, 1), Ok(*d.thread(1).unwrap()));
        assert!(thread_from_page(&page, 3).is_err());
        assert_eq!(word_from_page(&page, OFF_HEAP_SIZE), Ok(1 << 20));
        assert!(word_from_page(&page, OFF_NAME).is_err());
        assert_eq!(
            word_from_page(&page[..10], OFF_HEAP_SIZE),
            Err(StartInfoError::TooShort { len: 10 })
        );
    }

    #[test]
    fn bad_pages_are_errors() {
        let mut page = [0u8; PAGE_SIZE];
        assert_eq!(StartInfo::decode(&page), Err(StartInfoError::BadMagic));
        StartInfo::new("x").unwrap().encode(&mut page).unwrap();
        assert_eq!(
            StartInfo::decode(&page[..100]),
            Err(StartInfoError::TooShort { len: 100 })
        );
        let mut p = page;
        wr(&mut p, OFF_VERSION, 9);
        assert_eq!(
            StartInfo::decode(&p),
            Err(StartInfoError::BadVersion { found: 9 })
        );
        let mut p = page;
        wr(&mut p, OFF_NAME_LEN, 257);
        assert_eq!(StartInfo::decode(&p), Err(StartInfoError::BadName));
        let mut p = page;
        wr(&mut p, OFF_NAME_LEN, 1);
        p[OFF_NAME] = 0xff;
        assert_eq!(StartInfo::decode(&p), Err(StartInfoError::BadName));
        let mut p = page;
        wr(&mut p, OFF_THREAD_COUNT, MAX_THREADS as u64 + 1);
        assert!(matches!(
            StartInfo::decode(&p),
            Err(StartInfoError::TooManyThreads { .. })
        ));
        let long = "n".repeat(NAME_MAX + 1);
        assert_eq!(StartInfo::new(&long), Err(StartInfoError::BadName));
        let mut s = StartInfo::new("t").unwrap();
        assert!(s.set_thread(1, ThreadInfo::default()).is_err());
        assert!(s.set_thread(0, ThreadInfo::default()).is_ok());
    }

    #[test]
    fn panic_messages_round_trip_and_are_cut_at_a_character() {
        let mut w = [0u64; REPORT_WORDS];
        let n = encode_panic("index out of bounds at src/main.rs:4:2", &mut w);
        assert_eq!(n, 1 + 38usize.div_ceil(8));
        let mut out = [0u8; PANIC_MESSAGE_MAX];
        assert_eq!(
            decode_panic(&w[..n], &mut out),
            "index out of bounds at src/main.rs:4:2"
        );
        // Longer than a report: cut, never in the middle of a character.
        let long = "é".repeat(PANIC_MESSAGE_MAX);
        let n = encode_panic(&long, &mut w);
        assert_eq!(n, REPORT_WORDS);
        let got = decode_panic(&w[..n], &mut out);
        assert!(got.len() <= PANIC_MESSAGE_MAX && got.chars().all(|c| c == 'é'));
        // A forged length larger than the words sent is cut to them.
        let forged = [1000u64, u64::from_le_bytes(*b"abcdefgh")];
        assert_eq!(decode_panic(&forged, &mut out), "abcdefgh");
        assert_eq!(decode_panic(&[], &mut out), "");
        // Invalid UTF-8 stops at the first bad byte.
        let bad = [3u64, u64::from_le_bytes([b'o', b'k', 0xff, 0, 0, 0, 0, 0])];
        assert_eq!(decode_panic(&bad, &mut out), "ok");
    }
}
