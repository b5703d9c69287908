//! A host-side channel to the guest's second serial port (COM2 on x86_64:
//! the kernel's debug console is the first).
//!
//! With any `--serial2-*` option the runner makes a Unix socket in a fresh
//! folder and adds `-serial unix:<socket>` to QEMU's arguments; QEMU
//! connects to it when it starts. The runner then
//! - sends the bytes of `--serial2-input` once a console line contains
//!   `--serial2-after` (at once without it), at most `--serial2-rate`
//!   bytes per second (as fast as the guest takes them without it: QEMU
//!   holds the sender back while the UART's receive FIFO is full);
//! - keeps everything the guest sends (`--serial2-log` saves it);
//! - after the boot compares it with `--serial2-expect`, byte for byte:
//!   a missing, extra or different byte fails the boot, with the offset
//!   of the first difference.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// What the guest may send before the runner stops keeping it (the rest
/// is counted, not kept).
pub const MAX_RECEIVED: usize = 256 << 20;

/// The options of the channel (all optional; any of them opens it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Serial2Options {
    /// File whose bytes are sent to the guest.
    pub input: Option<PathBuf>,
    /// File with the bytes the guest must send.
    pub expect: Option<PathBuf>,
    /// Where to save what the guest sent.
    pub log: Option<PathBuf>,
    /// Send once a console line contains this text.
    pub after: Option<String>,
    /// Bytes per second at most.
    pub rate: Option<u64>,
}

impl Serial2Options {
    /// Whether any option asks for the channel.
    pub fn enabled(&self) -> bool {
        self.input.is_some()
            || self.expect.is_some()
            || self.log.is_some()
            || self.after.is_some()
            || self.rate.is_some()
    }

    /// Reads the input and expect files (a usage error names the option).
    pub fn load(&self) -> Result<Loaded, String> {
        let read = |opt: &str, p: &Option<PathBuf>| -> Result<Option<Vec<u8>>, String> {
            match p {
                Some(p) => fs::read(p)
                    .map(Some)
                    .map_err(|e| format!("{opt} {}: {e}", p.display())),
                None => Ok(None),
            }
        };
        Ok(Loaded {
            input: read("--serial2-input", &self.input)?.unwrap_or_default(),
            expect: read("--serial2-expect", &self.expect)?,
            opts: self.clone(),
        })
    }
}

/// Options with the files read.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub input: Vec<u8>,
    pub expect: Option<Vec<u8>>,
    pub opts: Serial2Options,
}

/// The QEMU option that attaches a character device to the next serial
/// port: `-serial unix:<path>` (QEMU connects as a client; a comma in the
/// path is doubled, as QEMU's option syntax wants).
pub fn qemu_args(socket: &Path) -> [OsString; 2] {
    [
        OsString::from("-serial"),
        OsString::from(format!(
            "unix:{}",
            socket.to_string_lossy().replace(',', ",,")
        )),
    ]
}

/// How many serial ports QEMU's arguments give already (`-serial`
/// options; `-nographic` alone adds one).
pub fn serial_ports_in(args: &[OsString]) -> usize {
    args.iter().filter(|a| *a == "-serial").count()
}

/// What the channel saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Serial2Report {
    /// QEMU connected.
    pub connected: bool,
    /// Bytes sent to the guest.
    pub sent: u64,
    /// Bytes the guest sent (all, kept or not).
    pub received: u64,
    /// From the first byte sent to the last received.
    pub elapsed: Option<Duration>,
    /// Why the boot fails because of the channel.
    pub problems: Vec<String>,
    /// Lines to show.
    pub notes: Vec<String>,
}

struct Shared {
    stop: AtomicBool,
    sent: AtomicU64,
    received_total: AtomicU64,
    received: Mutex<Vec<u8>>,
    connected: AtomicBool,
    stream: Mutex<Option<UnixStream>>,
    first_sent: Mutex<Option<Instant>>,
    last_received: Mutex<Option<Instant>>,
    log_error: Mutex<Option<String>>,
}

/// An open channel (one boot).
pub struct Channel {
    dir: PathBuf,
    socket: PathBuf,
    loaded: Loaded,
    shared: Arc<Shared>,
    start: Option<mpsc::Sender<()>>,
    acceptor: Option<thread::JoinHandle<()>>,
}

/// A fresh folder for the socket (0700; socket paths must stay short).
fn fresh_dir() -> io::Result<PathBuf> {
    let base = std::env::temp_dir();
    for n in 0..1000u32 {
        let d = base.join(format!("sel4-run-{}-{n}", std::process::id()));
        match fs::create_dir(&d) {
            Ok(()) => {
                use std::os::unix::fs::PermissionsExt;
                fs::set_permissions(&d, fs::Permissions::from_mode(0o700))?;
                return Ok(d);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no fresh folder for the serial socket",
    ))
}

impl Channel {
    /// Binds the socket and starts waiting for QEMU.
    pub fn open(loaded: Loaded) -> io::Result<Channel> {
        let dir = fresh_dir()?;
        let socket = dir.join("serial2.sock");
        let listener = UnixListener::bind(&socket)?;
        listener.set_nonblocking(true)?;
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            sent: AtomicU64::new(0),
            received_total: AtomicU64::new(0),
            received: Mutex::new(Vec::new()),
            connected: AtomicBool::new(false),
            stream: Mutex::new(None),
            first_sent: Mutex::new(None),
            last_received: Mutex::new(None),
            log_error: Mutex::new(None),
        });
        let (start_tx, start_rx) = mpsc::channel::<()>();
        let start = if loaded.opts.after.is_none() {
            let _ = start_tx.send(());
            None
        } else {
            Some(start_tx)
        };
        let acceptor = {
            let shared = shared.clone();
            let input = loaded.input.clone();
            let rate = loaded.opts.rate;
            let log = loaded.opts.log.clone();
            thread::spawn(move || accept(listener, shared, input, rate, log, start_rx))
        };
        Ok(Channel {
            dir,
            socket,
            loaded,
            shared,
            start,
            acceptor: Some(acceptor),
        })
    }

    /// The socket QEMU connects to.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// QEMU's extra arguments.
    pub fn qemu_args(&self) -> [OsString; 2] {
        qemu_args(&self.socket)
    }

    /// A console line: starts the input when it contains the text of
    /// `--serial2-after`. Returns true when it did.
    pub fn console_line(&mut self, line: &str) -> bool {
        let hit = match &self.loaded.opts.after {
            Some(t) => self.start.is_some() && line.contains(t.as_str()),
            None => false,
        };
        if hit {
            if let Some(s) = self.start.take() {
                let _ = s.send(());
            }
        }
        hit
    }

    /// Ends the channel (after QEMU ended) and judges it.
    pub fn finish(mut self) -> Serial2Report {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(s) = self.shared.stream.lock().unwrap().as_ref() {
            // Wakes a writer blocked on a full socket, and the reader.
            let _ = s.shutdown(Shutdown::Both);
        }
        self.start = None;
        if let Some(a) = self.acceptor.take() {
            let _ = a.join();
        }
        let _ = fs::remove_dir_all(&self.dir);
        let received = std::mem::take(&mut *self.shared.received.lock().unwrap());
        let total = self.shared.received_total.load(Ordering::SeqCst);
        let mut r = Serial2Report {
            connected: self.shared.connected.load(Ordering::SeqCst),
            sent: self.shared.sent.load(Ordering::SeqCst),
            received: total,
            elapsed: match (
                *self.shared.first_sent.lock().unwrap(),
                *self.shared.last_received.lock().unwrap(),
            ) {
                (Some(a), Some(b)) if b > a => Some(b - a),
                _ => None,
            },
            problems: Vec::new(),
            notes: Vec::new(),
        };
        if !r.connected {
            r.problems.push(
                "serial2: QEMU never connected to the second serial port's socket".to_string(),
            );
        }
        if let Some(e) = self.shared.log_error.lock().unwrap().take() {
            r.problems.push(format!("serial2: --serial2-log: {e}"));
        }
        let want = self.loaded.input.len() as u64;
        if r.connected && r.sent < want {
            let why = match &self.loaded.opts.after {
                Some(t) if self.start.is_none() && r.sent == 0 => {
                    format!(" (no console line contained {t:?})")
                }
                _ => String::new(),
            };
            r.problems.push(format!(
                "serial2: sent {} of the {want} input bytes{why}",
                r.sent
            ));
        }
        if let Some(expect) = &self.loaded.expect {
            if let Some(p) = compare(expect, &received, total) {
                r.problems.push(format!("serial2: {p}"));
            }
        }
        let mut note = format!(
            "sel4-run: serial2: sent {} bytes, received {} bytes",
            r.sent, r.received
        );
        if let Some(d) = r.elapsed {
            let secs = d.as_secs_f64().max(1e-9);
            note.push_str(&format!(
                " in {secs:.3} s ({:.1} KiB/s in, {:.1} KiB/s out)",
                r.sent as f64 / secs / 1024.0,
                r.received as f64 / secs / 1024.0
            ));
        }
        if let Some(e) = &self.loaded.expect {
            if compare(e, &received, total).is_none() {
                note.push_str(&format!(", as expected ({} bytes)", e.len()));
            }
        }
        r.notes.push(note);
        r
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Compares what the guest sent (`got`, of `total` bytes) with `expect`;
/// `None` when they are the same.
pub fn compare(expect: &[u8], got: &[u8], total: u64) -> Option<String> {
    if total == expect.len() as u64 && got == expect {
        return None;
    }
    let same = expect
        .iter()
        .zip(got.iter())
        .take_while(|(a, b)| a == b)
        .count();
    if same < expect.len() && same < got.len() {
        return Some(format!(
            "the guest's output differs from the expected bytes at byte {same} (got {:#04x}, \
             expected {:#04x}; {total} bytes received, {} expected)",
            got[same],
            expect[same],
            expect.len()
        ));
    }
    if (total as usize) < expect.len() {
        return Some(format!(
            "the guest sent {total} bytes, {} expected: the first {same} match, the rest never came",
            expect.len()
        ));
    }
    Some(format!(
        "the guest sent {total} bytes, {} expected: {} more than expected after a matching start",
        expect.len(),
        total - expect.len() as u64
    ))
}

fn accept(
    listener: UnixListener,
    shared: Arc<Shared>,
    input: Vec<u8>,
    rate: Option<u64>,
    log: Option<PathBuf>,
    start: mpsc::Receiver<()>,
) {
    let stream = loop {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(5))
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    };
    drop(listener);
    let _ = stream.set_nonblocking(false);
    shared.connected.store(true, Ordering::SeqCst);
    let (Ok(read_half), Ok(write_half), Ok(keep)) =
        (stream.try_clone(), stream.try_clone(), stream.try_clone())
    else {
        return;
    };
    *shared.stream.lock().unwrap() = Some(keep);
    // The stop flag may have been set before the stream was registered.
    if shared.stop.load(Ordering::SeqCst) {
        let _ = stream.shutdown(Shutdown::Both);
    }
    let reader = {
        let shared = shared.clone();
        thread::spawn(move || receive(read_half, shared, log))
    };
    send(write_half, &shared, &input, rate, &start);
    let _ = reader.join();
}

fn send(
    mut s: UnixStream,
    shared: &Shared,
    input: &[u8],
    rate: Option<u64>,
    start: &mpsc::Receiver<()>,
) {
    // Wait for the start (or the end of the boot).
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        match start.recv_timeout(Duration::from_millis(20)) {
            Ok(()) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
    let t0 = Instant::now();
    *shared.first_sent.lock().unwrap() = Some(t0);
    let chunk = match rate {
        Some(r) => ((r / 100) as usize).clamp(1, 64 * 1024),
        None => 64 * 1024,
    };
    let mut sent = 0usize;
    while sent < input.len() && !shared.stop.load(Ordering::SeqCst) {
        if let Some(r) = rate.filter(|&r| r > 0) {
            // Stay on the schedule: `sent` bytes by t0 + sent / rate.
            let due = t0 + Duration::from_secs_f64(sent as f64 / r as f64);
            let now = Instant::now();
            if due > now {
                thread::sleep(due - now);
            }
        }
        let end = (sent + chunk).min(input.len());
        match s.write(&input[sent..end]) {
            Ok(0) => break,
            Ok(n) => {
                sent += n;
                shared.sent.fetch_add(n as u64, Ordering::SeqCst);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let _ = s.flush();
}

fn receive(mut s: UnixStream, shared: Arc<Shared>, log: Option<PathBuf>) {
    let mut file = match log {
        Some(p) => match fs::File::create(&p) {
            Ok(f) => Some(io::BufWriter::new(f)),
            Err(e) => {
                *shared.log_error.lock().unwrap() = Some(format!("{}: {e}", p.display()));
                None
            }
        },
        None => None,
    };
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                *shared.last_received.lock().unwrap() = Some(Instant::now());
                shared.received_total.fetch_add(n as u64, Ordering::SeqCst);
                let mut kept = shared.received.lock().unwrap();
                let room = MAX_RECEIVED.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
                drop(kept);
                if let Some(f) = file.as_mut() {
                    if let Err(e) = f.write_all(&buf[..n]) {
                        *shared.log_error.lock().unwrap() = Some(e.to_string());
                        file = None;
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    if let Some(mut f) = file {
        if let Err(e) = f.flush() {
            *shared.log_error.lock().unwrap() = Some(e.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_names_the_first_difference() {
        assert_eq!(compare(b"abc", b"abc", 3), None);
        let d = compare(b"abcd", b"abxd", 4).unwrap();
        assert!(
            d.contains("at byte 2") && d.contains("0x78") && d.contains("0x63"),
            "{d}"
        );
        let short = compare(b"abcd", b"ab", 2).unwrap();
        assert!(short.contains("sent 2 bytes, 4 expected"), "{short}");
        let long = compare(b"ab", b"abcd", 4).unwrap();
        assert!(long.contains("2 more than expected"), "{long}");
        // more received than kept: compared by count too
        assert!(compare(b"ab", b"ab", 3).is_some());
    }

    #[test]
    fn qemu_option_doubles_commas() {
        assert_eq!(
            qemu_args(Path::new("/tmp/a,b/s.sock")),
            [
                OsString::from("-serial"),
                OsString::from("unix:/tmp/a,,b/s.sock")
            ]
        );
    }

    #[test]
    fn serial_ports_counted() {
        let a: Vec<OsString> = ["-serial", "mon:stdio", "-m", "512", "-serial", "pty"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(serial_ports_in(&a), 2);
    }

    #[test]
    fn enabled_by_any_option() {
        assert!(!Serial2Options::default().enabled());
        assert!(Serial2Options {
            rate: Some(10),
            ..Serial2Options::default()
        }
        .enabled());
    }
}
