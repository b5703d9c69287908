//! Typed IPC messages for seL4, independent of the kernel.
//!
//! A message is a *label* and a list of machine words. [`Message`] encodes a
//! Rust value into words (with a checked length) and decodes it back,
//! rejecting unknown labels, wrong lengths and out-of-range values with a
//! [`DecodeError`] instead of panicking. [`message!`] generates the impl for
//! an enum (each variant a label, fields are words, integers, bools or arrays
//! of them) or a struct (one label).
//!
//! # Labels on the wire
//!
//! A message type's labels (`= N` in [`message!`]) are carried on the wire
//! shifted by [`KERNEL_LABELS`]: the labels below it belong to the kernel,
//! which answers a `Call` itself (label 0, or an seL4 error code such as 2
//! `InvalidCapability` when the capability is not an endpoint, has no send
//! right, or was deleted) and labels fault messages with the fault type.
//! So a reply with a label below [`KERNEL_LABELS`] is the kernel's, never a
//! server's ([`Reply::Kernel`]). The label at the top of the
//! [`LABEL_BITS`]-bit space, [`ERROR_LABEL`], is the framework's error
//! replies' ([`ErrorReply`]), which a client sees as a remote error rather
//! than as a response. [`WireLabel::of`] classifies a label as received.
//!
//! ```
//! sel4_ipc::message! {
//!     #[derive(Debug, PartialEq)]
//!     pub enum Request {
//!         Ping { value: u64 } = 1,
//!         Add { a: u32, b: u32 } = 2,
//!         Stop = 3,
//!     }
//! }
//! use sel4_ipc::Message;
//! let mut words = [0u64; 4];
//! let req = Request::Add { a: 2, b: 40 };
//! let n = req.encode(&mut words).unwrap();
//! assert_eq!((req.label(), n), (2, 2));
//! assert_eq!(Request::decode(2, &words[..n]), Ok(req));
//! ```
#![no_std]

#[doc(hidden)]
pub mod __private {
    pub use core;
}

/// A machine word (message register).
pub type Word = u64;

/// Label bits every supported kernel carries in a message info word
/// (seL4 5.x: 20, 12+ on 64-bit: 52). Wire labels are kept below
/// `1 << LABEL_BITS`, so the older kernels never truncate one. (Checked
/// against the configured kernel's message info layout where both crates
/// are visible: `sel4-rootserver`'s `ipc` module.)
pub const LABEL_BITS: u32 = 20;

/// Wire labels below this are the kernel's: 0 and the seL4 error codes on
/// a reply the kernel gives to a `Call` itself, fault types on fault
/// messages. Message labels travel as `KERNEL_LABELS + label`.
pub const KERNEL_LABELS: u64 = 64;

/// Wire label reserved for the framework's error replies ([`ErrorReply`]).
pub const ERROR_LABEL: u64 = (1 << LABEL_BITS) - 1;

/// Number of message labels: a message type's labels are `0..LABELS`.
pub const LABELS: u64 = ERROR_LABEL - KERNEL_LABELS;

/// Message words travelling in CPU registers on x86_64 (the kernel's
/// fastpath serves messages up to this length). Checked against
/// `sel4_sys::REGISTER_MRS` in `sel4-rootserver`.
pub const REGISTER_WORDS: usize = 4;

/// Maximum message words of seL4 (seL4_MsgMaxLength). Checked against
/// `sel4_sys::MSG_MAX_LENGTH` in `sel4-rootserver`.
pub const MAX_MESSAGE_WORDS: usize = 120;

/// The wire label of message label `label` (below [`LABELS`]).
#[inline(always)]
pub const fn wire_label(label: u64) -> u64 {
    KERNEL_LABELS + label
}

/// What a label as received on the wire is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireLabel {
    /// Below [`KERNEL_LABELS`]: the kernel's own (a reply to a `Call` the
    /// kernel answered itself: 0 or an seL4 error code; a fault type).
    Kernel(u64),
    /// A message with this (message type) label.
    Message(u64),
    /// [`ERROR_LABEL`]: a framework error reply.
    Error,
    /// Not a label the framework sends (beyond [`LABEL_BITS`] bits); the
    /// wire label itself.
    Reserved(u64),
}

impl WireLabel {
    /// Classifies a label as received.
    #[inline(always)]
    pub const fn of(wire: u64) -> WireLabel {
        if wire < KERNEL_LABELS {
            WireLabel::Kernel(wire)
        } else if wire - KERNEL_LABELS < LABELS {
            WireLabel::Message(wire - KERNEL_LABELS)
        } else if wire == ERROR_LABEL {
            WireLabel::Error
        } else {
            WireLabel::Reserved(wire)
        }
    }
}

/// Most capabilities one message carries (seL4_MsgMaxExtraCaps on every
/// supported kernel; checked in `sel4-rootserver`).
pub const MAX_CAPS: usize = 3;

/// Why a value could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// The output buffer has fewer words than the message needs.
    BufferTooSmall {
        /// Words the message needs.
        needed: usize,
        /// Words the buffer has.
        available: usize,
    },
    /// More capabilities than a message carries ([`MAX_CAPS`]).
    TooManyCaps {
        /// Capabilities the message would carry.
        got: usize,
    },
    /// A wire label wider than [`LABEL_BITS`] bits (older kernels would
    /// cut it).
    LabelOutOfRange {
        /// The wire label (message label + [`KERNEL_LABELS`]).
        wire: u64,
    },
}

/// Why words could not be decoded into a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// No variant has this label.
    UnknownLabel(u64),
    /// The label is known but the message has the wrong number of words.
    WrongLength {
        /// The message label (below [`LABELS`]).
        label: u64,
        /// Words that label's message has.
        expected: usize,
        /// Words that arrived.
        got: usize,
    },
    /// Word `index` holds a value its field cannot take (a bool other than 0
    /// or 1, an integer out of its type's range).
    InvalidValue {
        /// The message label (below [`LABELS`]).
        label: u64,
        /// Index of the word in the message.
        index: usize,
        /// The word that arrived.
        word: Word,
    },
}

impl core::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            EncodeError::BufferTooSmall { needed, available } => {
                write!(f, "message needs {needed} words, buffer has {available}")
            }
            EncodeError::TooManyCaps { got } => {
                write!(
                    f,
                    "{got} capabilities, a message carries at most {MAX_CAPS}"
                )
            }
            EncodeError::LabelOutOfRange { wire } => {
                write!(f, "wire label {wire:#x} is wider than {LABEL_BITS} bits")
            }
        }
    }
}

impl core::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DecodeError::UnknownLabel(l) => write!(f, "unknown label {l}"),
            DecodeError::WrongLength {
                label,
                expected,
                got,
            } => write!(f, "label {label}: expected {expected} words, got {got}"),
            DecodeError::InvalidValue { label, index, word } => {
                write!(f, "label {label}: invalid value {word:#x} in word {index}")
            }
        }
    }
}

/// A value that travels as an IPC message.
pub trait Message: Sized {
    /// Most words any value of this type encodes into.
    const MAX_WORDS: usize;
    /// The message label of this value.
    fn label(&self) -> u64;
    /// Writes the message words into `out`; returns how many were written.
    fn encode(&self, out: &mut [Word]) -> Result<usize, EncodeError>;
    /// Reads a message with `label` and exactly the words `words`.
    /// Labels are message labels (below [`LABELS`]; the transport takes
    /// care of [`KERNEL_LABELS`]).
    fn decode(label: u64, words: &[Word]) -> Result<Self, DecodeError>;

    /// Reads a message that came in registers alone, given seL4's
    /// message-info word for it and the register words: `Some` only when
    /// `info` is exactly `wire_label(label) << label_shift | length` for a
    /// label and length of this type (every other bit 0: no capabilities,
    /// nothing unwrapped; a length of at most [`REGISTER_WORDS`]) and the
    /// words decode; then it is what [`Message::decode`] gives for that
    /// label and the first `length` words. `None` for anything else, which
    /// the transport then classifies with `decode` on its slow path.
    ///
    /// This is the per-message test of the transport's fast paths: the
    /// default unpacks the word and calls `decode`; [`message!`] generates
    /// one compare of the whole word per label.
    #[inline]
    fn decode_registers(
        info: u64,
        label_shift: u32,
        regs: &[Word; REGISTER_WORDS],
    ) -> Option<Self> {
        let len = info & ((1 << label_shift) - 1);
        let label = (info >> label_shift).wrapping_sub(KERNEL_LABELS);
        if len > REGISTER_WORDS as u64 || label >= LABELS {
            return None;
        }
        Self::decode(label, &regs[..len as usize]).ok()
    }
}

/// [`Message::decode_registers`] for one label of a [`message!`] type:
/// whether `info` is that label's message of `needed` words in registers.
#[doc(hidden)]
#[inline(always)]
pub const fn registers_match(info: u64, label_shift: u32, label: u64, needed: usize) -> bool {
    needed <= REGISTER_WORDS && info == (wire_label(label) << label_shift) | needed as u64
}

/// A field of a message: a fixed number of words.
pub trait Field: Sized {
    /// Words the field takes.
    const WORDS: usize;
    /// Writes the field into `out[..Self::WORDS]`.
    fn put(&self, out: &mut [Word]);
    /// Reads the field from `words[..Self::WORDS]`; on a bad value returns
    /// the index (relative to `words`) of the offending word.
    fn get(words: &[Word]) -> Result<Self, usize>;
}

macro_rules! unsigned_field {
    ($($t:ty),*) => {$(
        impl Field for $t {
            const WORDS: usize = 1;
            #[inline]
            fn put(&self, out: &mut [Word]) {
                out[0] = *self as Word;
            }
            #[inline]
            fn get(words: &[Word]) -> Result<Self, usize> {
                <$t>::try_from(words[0]).map_err(|_| 0)
            }
        }
    )*};
}
unsigned_field!(u8, u16, u32, u64, usize);

macro_rules! signed_field {
    ($($t:ty),*) => {$(
        impl Field for $t {
            const WORDS: usize = 1;
            #[inline]
            fn put(&self, out: &mut [Word]) {
                out[0] = i64::from(*self) as Word;
            }
            #[inline]
            fn get(words: &[Word]) -> Result<Self, usize> {
                <$t>::try_from(words[0] as i64).map_err(|_| 0)
            }
        }
    )*};
}
signed_field!(i8, i16, i32, i64);

impl Field for bool {
    const WORDS: usize = 1;
    #[inline]
    fn put(&self, out: &mut [Word]) {
        out[0] = Word::from(*self);
    }
    #[inline]
    fn get(words: &[Word]) -> Result<Self, usize> {
        match words[0] {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(0),
        }
    }
}

impl<T: Field + Copy + Default, const N: usize> Field for [T; N] {
    const WORDS: usize = N * T::WORDS;
    #[inline]
    fn put(&self, out: &mut [Word]) {
        for (i, v) in self.iter().enumerate() {
            v.put(&mut out[i * T::WORDS..]);
        }
    }
    #[inline]
    fn get(words: &[Word]) -> Result<Self, usize> {
        let mut arr = [T::default(); N];
        for (i, slot) in arr.iter_mut().enumerate() {
            *slot = T::get(&words[i * T::WORDS..]).map_err(|e| e + i * T::WORDS)?;
        }
        Ok(arr)
    }
}

/// Checks a buffer's size before encoding `needed` words.
#[doc(hidden)]
#[inline]
pub fn check_room(needed: usize, out: &[Word]) -> Result<(), EncodeError> {
    if out.len() < needed {
        Err(EncodeError::BufferTooSmall {
            needed,
            available: out.len(),
        })
    } else {
        Ok(())
    }
}

/// Checks a received message's length against what `label` needs.
#[doc(hidden)]
#[inline]
pub fn check_len(label: u64, expected: usize, words: &[Word]) -> Result<(), DecodeError> {
    if words.len() != expected {
        Err(DecodeError::WrongLength {
            label,
            expected,
            got: words.len(),
        })
    } else {
        Ok(())
    }
}

/// Reads one field at `*at`, advancing it.
#[doc(hidden)]
#[inline]
pub fn get_field<T: Field>(label: u64, words: &[Word], at: &mut usize) -> Result<T, DecodeError> {
    let start = *at;
    *at += T::WORDS;
    T::get(&words[start..]).map_err(|i| DecodeError::InvalidValue {
        label,
        index: start + i,
        word: words[start + i],
    })
}

/// Writes one field at `*at`, advancing it.
#[doc(hidden)]
#[inline]
pub fn put_field<T: Field>(value: &T, out: &mut [Word], at: &mut usize) {
    value.put(&mut out[*at..]);
    *at += T::WORDS;
}

/// `max` in a const context.
#[doc(hidden)]
pub const fn const_max(values: &[usize]) -> usize {
    let mut m = 0;
    let mut i = 0;
    while i < values.len() {
        if values[i] > m {
            m = values[i];
        }
        i += 1;
    }
    m
}

/// Compile-time check of a message type's labels: each below [`LABELS`],
/// no two alike, and every length within seL4's maximum.
#[doc(hidden)]
pub const fn check_labels(labels: &[u64], max_words: usize) -> bool {
    let mut i = 0;
    while i < labels.len() {
        if labels[i] >= LABELS {
            return false;
        }
        let mut j = i + 1;
        while j < labels.len() {
            if labels[i] == labels[j] {
                return false;
            }
            j += 1;
        }
        i += 1;
    }
    max_words <= MAX_MESSAGE_WORDS
}

/// Declares a message type and implements [`Message`] for it.
///
/// Enums: every variant has an explicit label (`= N`, below [`LABELS`],
/// all distinct: checked at compile time) and either no
/// fields or named fields of [`Field`] types. Structs: named fields and one
/// label given as `= N` after the field list.
///
/// ```
/// sel4_ipc::message! {
///     #[derive(Debug, Clone, Copy, PartialEq)]
///     pub struct Pong { value: u64, last: bool } = 7;
/// }
/// ```
#[macro_export]
macro_rules! message {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident $({ $($field:ident : $fty:ty),* $(,)? })? = $label:expr
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $(
                $(#[$vmeta])*
                $variant $({ $($field : $fty),* })?,
            )*
        }

        const _: () = assert!(
            $crate::check_labels(&[$($label),*], <$name as $crate::Message>::MAX_WORDS),
            "message labels must be distinct, below LABELS, and lengths within seL4's maximum"
        );

        impl $crate::Message for $name {
            const MAX_WORDS: usize = $crate::const_max(&[
                $( 0 $($(+ <$fty as $crate::Field>::WORDS)*)? ),*
            ]);

            #[inline]
            fn label(&self) -> u64 {
                match self {
                    $( $name::$variant $({ $($field: _),* })? => $label, )*
                }
            }

            #[inline]
            #[allow(unused_variables, unused_mut)]
            fn encode(&self, out: &mut [$crate::Word]) -> $crate::__private::core::result::Result<usize, $crate::EncodeError> {
                match self {
                    $(
                        $name::$variant $({ $($field),* })? => {
                            let needed = 0 $($(+ <$fty as $crate::Field>::WORDS)*)?;
                            $crate::check_room(needed, out)?;
                            let mut at = 0usize;
                            $($( $crate::put_field::<$fty>($field, out, &mut at); )*)?
                            Ok(at)
                        }
                    )*
                }
            }

            #[inline]
            #[allow(unused_variables, unused_mut)]
            fn decode(label: u64, words: &[$crate::Word]) -> $crate::__private::core::result::Result<Self, $crate::DecodeError> {
                $(
                    if label == $label {
                        let needed = 0 $($(+ <$fty as $crate::Field>::WORDS)*)?;
                        $crate::check_len(label, needed, words)?;
                        let mut at = 0usize;
                        return Ok($name::$variant $({ $(
                            $field: $crate::get_field::<$fty>(label, words, &mut at)?
                        ),* })?);
                    }
                )*
                Err($crate::DecodeError::UnknownLabel(label))
            }

            #[inline]
            #[allow(unused_variables, unused_mut)]
            fn decode_registers(info: u64, label_shift: u32, regs: &[$crate::Word; $crate::REGISTER_WORDS]) -> $crate::__private::core::option::Option<Self> {
                $(
                    if $crate::registers_match(info, label_shift, $label, 0 $($(+ <$fty as $crate::Field>::WORDS)*)?) {
                        let mut at = 0usize;
                        return Some($name::$variant $({ $(
                            $field: $crate::get_field::<$fty>($label, regs, &mut at).ok()?
                        ),* })?);
                    }
                )*
                None
            }
        }
    };
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident { $($fvis:vis $field:ident : $fty:ty),* $(,)? } = $label:expr;
    ) => {
        $(#[$meta])*
        $vis struct $name { $($fvis $field : $fty),* }

        const _: () = assert!(
            $crate::check_labels(&[$label], <$name as $crate::Message>::MAX_WORDS),
            "message label must be below LABELS and length within seL4's maximum"
        );

        impl $crate::Message for $name {
            const MAX_WORDS: usize = 0 $(+ <$fty as $crate::Field>::WORDS)*;

            #[inline]
            fn label(&self) -> u64 {
                $label
            }

            #[inline]
            #[allow(unused_variables, unused_mut)]
            fn encode(&self, out: &mut [$crate::Word]) -> $crate::__private::core::result::Result<usize, $crate::EncodeError> {
                $crate::check_room(Self::MAX_WORDS, out)?;
                let mut at = 0usize;
                $( $crate::put_field::<$fty>(&self.$field, out, &mut at); )*
                Ok(at)
            }

            #[inline]
            #[allow(unused_variables, unused_mut)]
            fn decode(label: u64, words: &[$crate::Word]) -> $crate::__private::core::result::Result<Self, $crate::DecodeError> {
                if label != $label {
                    return Err($crate::DecodeError::UnknownLabel(label));
                }
                $crate::check_len(label, Self::MAX_WORDS, words)?;
                let mut at = 0usize;
                Ok($name { $( $field: $crate::get_field::<$fty>(label, words, &mut at)? ),* })
            }

            #[inline]
            #[allow(unused_variables, unused_mut)]
            fn decode_registers(info: u64, label_shift: u32, regs: &[$crate::Word; $crate::REGISTER_WORDS]) -> $crate::__private::core::option::Option<Self> {
                if !$crate::registers_match(info, label_shift, $label, Self::MAX_WORDS) {
                    return None;
                }
                let mut at = 0usize;
                Some($name { $( $field: $crate::get_field::<$fty>($label, regs, &mut at).ok()? ),* })
            }
        }
    };
}

/// Ties a request type to its response type.
pub trait Protocol {
    /// What clients send.
    type Request: Message;
    /// What the server answers.
    type Response: Message;
}

/// Declares a protocol: `protocol!(pub PingPong: Request => Response);`
#[macro_export]
macro_rules! protocol {
    ($(#[$meta:meta])* $vis:vis $name:ident : $req:ty => $resp:ty) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $vis struct $name;
        impl $crate::Protocol for $name {
            type Request = $req;
            type Response = $resp;
        }
    };
}

/// What the framework answers (with label [`ERROR_LABEL`]) to a request it
/// could not decode, or that the server rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorReply {
    /// The request's label is unknown to the server's protocol.
    UnknownLabel(u64),
    /// The request's wire label is not a message label at all (below
    /// [`KERNEL_LABELS`], [`ERROR_LABEL`], or wider than [`LABEL_BITS`]):
    /// the wire label.
    ReservedLabel(u64),
    /// The request had the wrong number of words.
    WrongLength {
        /// The message label (below [`LABELS`]).
        label: u64,
        /// Words that label's message has.
        expected: usize,
        /// Words that arrived.
        got: usize,
    },
    /// A request word held an invalid value.
    InvalidValue {
        /// The message label (below [`LABELS`]).
        label: u64,
        /// Index of the word in the message.
        index: usize,
        /// The word that arrived.
        word: Word,
    },
    /// The request carried capabilities the server did not expect, or
    /// lacked one it needs.
    BadCapabilities {
        /// Capabilities the request needs.
        expected: usize,
        /// Capabilities that arrived with it.
        got: usize,
    },
    /// The server understood the request and refused it with a code of its
    /// own.
    Refused(Word),
    /// The server the request was made to is gone: it was restarted (a
    /// fresh instance, whose state starts over) while the request was in
    /// flight or queued for it, and this is the new instance's
    /// generation. The request was not carried out by the new instance;
    /// the next call goes to it.
    ServerRestarted {
        /// The generation of the server's new instance (its first
        /// instance has 0; the supervisor counts one up at each restart
        /// and at each start after a stop).
        generation: Word,
    },
    /// The server the request was made to was stopped while the request was
    /// in flight or queued for it.
    ServerStopped,
}

impl ErrorReply {
    /// Words of an encoded error reply: kind and three detail words.
    pub const WORDS: usize = 4;

    /// Encodes into 4 words (kind, details).
    #[inline]
    pub fn encode(&self) -> [Word; 4] {
        match *self {
            ErrorReply::UnknownLabel(l) => [1, l, 0, 0],
            ErrorReply::WrongLength {
                label,
                expected,
                got,
            } => [2, label, expected as Word, got as Word],
            ErrorReply::InvalidValue { label, index, word } => [3, label, index as Word, word],
            ErrorReply::BadCapabilities { expected, got } => [4, expected as Word, got as Word, 0],
            ErrorReply::Refused(code) => [5, code, 0, 0],
            ErrorReply::ReservedLabel(l) => [6, l, 0, 0],
            ErrorReply::ServerRestarted { generation } => [7, generation, 0, 0],
            ErrorReply::ServerStopped => [8, 0, 0, 0],
        }
    }

    /// Decodes an error reply; `None` when the words are not one.
    pub fn decode(words: &[Word]) -> Option<ErrorReply> {
        if words.len() != Self::WORDS {
            return None;
        }
        Some(match words[0] {
            1 => ErrorReply::UnknownLabel(words[1]),
            2 => ErrorReply::WrongLength {
                label: words[1],
                expected: words[2] as usize,
                got: words[3] as usize,
            },
            3 => ErrorReply::InvalidValue {
                label: words[1],
                index: words[2] as usize,
                word: words[3],
            },
            4 => ErrorReply::BadCapabilities {
                expected: words[1] as usize,
                got: words[2] as usize,
            },
            5 => ErrorReply::Refused(words[1]),
            6 => ErrorReply::ReservedLabel(words[1]),
            7 => ErrorReply::ServerRestarted {
                generation: words[1],
            },
            8 => ErrorReply::ServerStopped,
            _ => return None,
        })
    }
}

impl From<DecodeError> for ErrorReply {
    #[inline]
    fn from(e: DecodeError) -> ErrorReply {
        match e {
            DecodeError::UnknownLabel(l) => ErrorReply::UnknownLabel(l),
            DecodeError::WrongLength {
                label,
                expected,
                got,
            } => ErrorReply::WrongLength {
                label,
                expected,
                got,
            },
            DecodeError::InvalidValue { label, index, word } => {
                ErrorReply::InvalidValue { label, index, word }
            }
        }
    }
}

/// A response as a client sees it: the server's answer or its error reply,
/// or the kernel's own answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply<T> {
    /// The server's response.
    Ok(T),
    /// The server's error reply.
    Err(ErrorReply),
    /// No server answered: the kernel did, with this label (below
    /// [`KERNEL_LABELS`]: 0, or an seL4 error code whose detail words are
    /// the message words). A call on a capability that is not an endpoint
    /// the caller may send to gets this.
    Kernel(u64),
}

/// Why a reply could not be understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplyError {
    /// The response words did not decode.
    Decode(DecodeError),
    /// An error reply (label [`ERROR_LABEL`]) with words that are not one.
    MalformedErrorReply,
    /// The reply's wire label is reserved ([`WireLabel::Reserved`]).
    ReservedLabel(u64),
    /// The reply carried capabilities (`count` of them, as the kernel
    /// reports); framework servers never send any. A capability the kernel
    /// stored in the caller's receive slot was deleted.
    CarriedCapabilities {
        /// The number of capabilities the reply's message info reports.
        count: usize,
    },
}

/// Decodes a reply to a request from its wire label and words: a `T`, an
/// [`ErrorReply`] (label [`ERROR_LABEL`]), or the kernel's answer.
pub fn decode_reply<T: Message>(wire: u64, words: &[Word]) -> Result<Reply<T>, ReplyError> {
    match WireLabel::of(wire) {
        WireLabel::Message(label) => T::decode(label, words)
            .map(Reply::Ok)
            .map_err(ReplyError::Decode),
        WireLabel::Error => ErrorReply::decode(words)
            .map(Reply::Err)
            .ok_or(ReplyError::MalformedErrorReply),
        WireLabel::Kernel(label) => Ok(Reply::Kernel(label)),
        WireLabel::Reserved(wire) => Err(ReplyError::ReservedLabel(wire)),
    }
}

/// Decodes a request from its wire label and words, or gives the error
/// reply its sender gets.
#[inline(always)]
pub fn decode_request<T: Message>(wire: u64, words: &[Word]) -> Result<T, ErrorReply> {
    // Decoding first (it is pure) and testing the range after lets the
    // compiler drop the range test for a label the type knows.
    let label = wire.wrapping_sub(KERNEL_LABELS);
    match T::decode(label, words) {
        Ok(m) if label < LABELS => Ok(m),
        Ok(_) => Err(ErrorReply::ReservedLabel(wire)),
        Err(_) if label >= LABELS => Err(ErrorReply::ReservedLabel(wire)),
        Err(e) => Err(ErrorReply::from(e)),
    }
}

#[cfg(test)]
mod tests;
