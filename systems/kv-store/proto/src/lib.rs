//! The protocols of the key-value system: `Kv` (clients -> store) and
//! `Log` (everyone -> logger). The description names them
//! (`protocol = "kv_proto::Kv"`), so each component's generated
//! environment types its channel ends with them.
#![no_std]

sel4_ipc::message! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum KvRequest {
        Put { key: u64, value: u64 } = 1,
        Get { key: u64 } = 2,
        Remove { key: u64 } = 3,
        Len = 4,
    }
}

sel4_ipc::message! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum KvResponse {
        Stored { replaced: bool } = 1,
        Value { found: bool, value: u64 } = 2,
        Removed { found: bool } = 3,
        Count { n: u64 } = 4,
    }
}

sel4_ipc::protocol!(pub Kv: KvRequest => KvResponse);

/// Words of text in a log line (8 bytes each).
pub const LINE_WORDS: usize = 12;

sel4_ipc::message! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum LogRequest {
        Line { len: u64, text: [u64; LINE_WORDS] } = 1,
    }
}

sel4_ipc::message! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum LogResponse {
        Logged { lines: u64 } = 1,
    }
}

sel4_ipc::protocol!(pub Log: LogRequest => LogResponse);

/// A log line from text (cut at `LINE_WORDS * 8` bytes, at a character).
pub fn line(text: &str) -> LogRequest {
    let mut len = text.len().min(LINE_WORDS * 8);
    while !text.is_char_boundary(len) {
        len -= 1;
    }
    let mut words = [0u64; LINE_WORDS];
    for (i, chunk) in text.as_bytes()[..len].chunks(8).enumerate() {
        let mut w = [0u8; 8];
        w[..chunk.len()].copy_from_slice(chunk);
        words[i] = u64::from_le_bytes(w);
    }
    LogRequest::Line {
        len: len as u64,
        text: words,
    }
}

/// The text of a log line (into `buf`; invalid UTF-8 cut).
pub fn text<'a>(len: u64, words: &[u64; LINE_WORDS], buf: &'a mut [u8; LINE_WORDS * 8]) -> &'a str {
    for (i, w) in words.iter().enumerate() {
        buf[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
    }
    let n = (len as usize).min(buf.len());
    match core::str::from_utf8(&buf[..n]) {
        Ok(s) => s,
        Err(e) => core::str::from_utf8(&buf[..e.valid_up_to()]).unwrap_or(""),
    }
}
