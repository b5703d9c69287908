extern crate std;

use super::*;

message! {
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub enum Req {
        Ping { value: u64 } = 1,
        Add { a: u32, b: u32 } = 2,
        Stop = 3,
        Flag { on: bool, level: i8 } = 4,
        Sum { values: [u64; 8] } = 5,
    }
}

message! {
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub struct Pong { pub value: u64, pub last: bool } = 9;
}

protocol!(pub PingPong: Req => Pong);

fn roundtrip(m: Req) -> (u64, usize) {
    let mut buf = [0; MAX_MESSAGE_WORDS];
    let n = m.encode(&mut buf).unwrap();
    assert_eq!(Req::decode(m.label(), &buf[..n]), Ok(m));
    (m.label(), n)
}

#[test]
fn variants_roundtrip_with_their_labels_and_lengths() {
    assert_eq!(roundtrip(Req::Ping { value: u64::MAX }), (1, 1));
    assert_eq!(roundtrip(Req::Add { a: 1, b: u32::MAX }), (2, 2));
    assert_eq!(roundtrip(Req::Stop), (3, 0));
    assert_eq!(
        roundtrip(Req::Flag {
            on: true,
            level: -5
        }),
        (4, 2)
    );
    assert_eq!(roundtrip(Req::Sum { values: [7; 8] }), (5, 8));
    assert_eq!(Req::MAX_WORDS, 8);
}

#[test]
fn struct_roundtrip() {
    let p = Pong {
        value: 42,
        last: true,
    };
    let mut buf = [0; 2];
    assert_eq!(p.encode(&mut buf), Ok(2));
    assert_eq!(buf, [42, 1]);
    assert_eq!(Pong::decode(9, &buf), Ok(p));
    assert_eq!(Pong::decode(8, &buf), Err(DecodeError::UnknownLabel(8)));
    assert_eq!(Pong::MAX_WORDS, 2);
}

#[test]
fn encode_checks_buffer_size() {
    let mut small = [0; 4];
    assert_eq!(
        Req::Sum { values: [1; 8] }.encode(&mut small),
        Err(EncodeError::BufferTooSmall {
            needed: 8,
            available: 4
        })
    );
    assert_eq!(Req::Stop.encode(&mut []), Ok(0));
}

#[test]
fn decode_rejects_unknown_label_and_wrong_length() {
    assert_eq!(Req::decode(77, &[]), Err(DecodeError::UnknownLabel(77)));
    assert_eq!(
        Req::decode(1, &[1, 2]),
        Err(DecodeError::WrongLength {
            label: 1,
            expected: 1,
            got: 2
        })
    );
    assert_eq!(
        Req::decode(3, &[0]),
        Err(DecodeError::WrongLength {
            label: 3,
            expected: 0,
            got: 1
        })
    );
}

#[test]
fn decode_rejects_out_of_range_values() {
    // u32 field with a value above u32::MAX.
    assert_eq!(
        Req::decode(2, &[1, 1 << 40]),
        Err(DecodeError::InvalidValue {
            label: 2,
            index: 1,
            word: 1 << 40
        })
    );
    // bool other than 0/1.
    assert_eq!(
        Req::decode(4, &[2, 0]),
        Err(DecodeError::InvalidValue {
            label: 4,
            index: 0,
            word: 2
        })
    );
    // i8 from a word that is not a sign-extended i8.
    assert_eq!(
        Req::decode(4, &[0, 200]),
        Err(DecodeError::InvalidValue {
            label: 4,
            index: 1,
            word: 200
        })
    );
    // negative i8 travels sign-extended.
    let mut buf = [0; 2];
    Req::Flag {
        on: false,
        level: -1,
    }
    .encode(&mut buf)
    .unwrap();
    assert_eq!(buf, [0, u64::MAX]);
}

#[test]
fn array_element_errors_point_at_the_word() {
    let mut words = [0u64; 8];
    words[5] = 3;
    message! {
        #[derive(Debug, PartialEq)]
        enum Flags { Set { bits: [bool; 8] } = 1 }
    }
    assert_eq!(
        Flags::decode(1, &words),
        Err(DecodeError::InvalidValue {
            label: 1,
            index: 5,
            word: 3
        })
    );
}

#[test]
fn error_replies_roundtrip_and_are_told_apart_from_responses() {
    let errs = [
        ErrorReply::UnknownLabel(5),
        ErrorReply::WrongLength {
            label: 1,
            expected: 1,
            got: 3,
        },
        ErrorReply::InvalidValue {
            label: 4,
            index: 0,
            word: 9,
        },
        ErrorReply::BadCapabilities {
            expected: 1,
            got: 0,
        },
        ErrorReply::Refused(17),
        ErrorReply::ReservedLabel(3),
        ErrorReply::ServerRestarted { generation: 4 },
        ErrorReply::ServerStopped,
    ];
    for e in errs {
        assert_eq!(
            decode_reply::<Pong>(ERROR_LABEL, &e.encode()),
            Ok(Reply::Err(e))
        );
    }
    assert_eq!(
        decode_reply::<Pong>(ERROR_LABEL, &[0, 0, 0, 0]),
        Err(ReplyError::MalformedErrorReply)
    );
    assert_eq!(
        decode_reply::<Pong>(ERROR_LABEL, &[9, 0, 0, 0]),
        Err(ReplyError::MalformedErrorReply)
    );
    assert_eq!(
        decode_reply::<Pong>(wire_label(9), &[1, 0]),
        Ok(Reply::Ok(Pong {
            value: 1,
            last: false
        }))
    );
    assert_eq!(
        decode_reply::<Pong>(wire_label(9), &[1]),
        Err(ReplyError::Decode(DecodeError::WrongLength {
            label: 9,
            expected: 2,
            got: 1
        }))
    );
    let d: ErrorReply = DecodeError::UnknownLabel(3).into();
    assert_eq!(d, ErrorReply::UnknownLabel(3));
}

#[test]
fn label_checks() {
    assert!(check_labels(&[1, 2, 3], 4));
    assert!(!check_labels(&[1, 2, 1], 4));
    assert!(!check_labels(&[ERROR_LABEL], 4));
    assert!(!check_labels(&[LABELS], 4));
    assert!(check_labels(&[LABELS - 1], 4));
    assert!(!check_labels(&[1], MAX_MESSAGE_WORDS + 1));
    fn proto<P: Protocol>() -> usize {
        P::Request::MAX_WORDS + P::Response::MAX_WORDS
    }
    assert_eq!(proto::<PingPong>(), 10);
}

/// The wire label space: the kernel's labels, the message labels, the two
/// reserved ones at the top, and nothing that fits two classes.
#[test]
fn wire_labels_are_classified_without_overlap() {
    assert_eq!(WireLabel::of(0), WireLabel::Kernel(0));
    assert_eq!(WireLabel::of(2), WireLabel::Kernel(2));
    assert_eq!(
        WireLabel::of(KERNEL_LABELS - 1),
        WireLabel::Kernel(KERNEL_LABELS - 1)
    );
    assert_eq!(WireLabel::of(KERNEL_LABELS), WireLabel::Message(0));
    assert_eq!(WireLabel::of(wire_label(9)), WireLabel::Message(9));
    assert_eq!(
        WireLabel::of(wire_label(LABELS - 1)),
        WireLabel::Message(LABELS - 1)
    );
    assert_eq!(wire_label(LABELS), ERROR_LABEL);
    assert_eq!(WireLabel::of(ERROR_LABEL), WireLabel::Error);
    assert_eq!(
        WireLabel::of(1 << LABEL_BITS),
        WireLabel::Reserved(1 << LABEL_BITS)
    );
    assert_eq!(WireLabel::of(u64::MAX), WireLabel::Reserved(u64::MAX));
    // Every label a message type may use stays within LABEL_BITS.
    assert!(wire_label(LABELS - 1) < (1 << LABEL_BITS));
}

/// A kernel's own answer to a call is never decoded as a response, even
/// for a response type with a variant of the same number (issue 7, item 3:
/// label 2 = InvalidCapability from a deleted endpoint capability).
#[test]
fn kernel_answers_are_not_responses() {
    message! {
        #[derive(Debug, Clone, Copy, PartialEq)]
        enum Resp { Zero = 0, Two = 2, One { v: u64 } = 1 }
    }
    assert_eq!(decode_reply::<Resp>(2, &[0]), Ok(Reply::Kernel(2)));
    assert_eq!(decode_reply::<Resp>(0, &[]), Ok(Reply::Kernel(0)));
    assert_eq!(decode_reply::<Resp>(1, &[5]), Ok(Reply::Kernel(1)));
    assert_eq!(
        decode_reply::<Resp>(wire_label(2), &[]),
        Ok(Reply::Ok(Resp::Two))
    );
    assert_eq!(
        decode_reply::<Resp>(wire_label(0), &[]),
        Ok(Reply::Ok(Resp::Zero))
    );
    assert_eq!(
        decode_reply::<Resp>(1 << 40, &[]),
        Err(ReplyError::ReservedLabel(1 << 40))
    );
}

#[test]
fn requests_decode_from_wire_labels() {
    assert_eq!(
        decode_request::<Req>(wire_label(1), &[7]),
        Ok(Req::Ping { value: 7 })
    );
    assert_eq!(
        decode_request::<Req>(wire_label(77), &[]),
        Err(ErrorReply::UnknownLabel(77))
    );
    assert_eq!(
        decode_request::<Req>(wire_label(2), &[1]),
        Err(ErrorReply::WrongLength {
            label: 2,
            expected: 2,
            got: 1
        })
    );
    // Raw labels (the kernel's space, reserved ones, wider than LABEL_BITS)
    // are not messages, whatever the words.
    for wire in [0, 1, 3, KERNEL_LABELS - 1, ERROR_LABEL, 1 << 20, u64::MAX] {
        assert_eq!(
            decode_request::<Req>(wire, &[7]),
            Err(ErrorReply::ReservedLabel(wire)),
            "wire label {wire:#x}"
        );
    }
    // A hand-written Message that takes every label still gets only
    // message labels.
    struct Any(u64);
    impl Message for Any {
        const MAX_WORDS: usize = 0;
        fn label(&self) -> u64 {
            self.0
        }
        fn encode(&self, _: &mut [Word]) -> Result<usize, EncodeError> {
            Ok(0)
        }
        fn decode(label: u64, _: &[Word]) -> Result<Self, DecodeError> {
            Ok(Any(label))
        }
    }
    assert!(matches!(
        decode_request::<Any>(wire_label(5), &[]),
        Ok(Any(5))
    ));
    assert!(matches!(
        decode_request::<Any>(2, &[]),
        Err(ErrorReply::ReservedLabel(2))
    ));
    assert!(matches!(
        decode_request::<Any>(ERROR_LABEL, &[]),
        Err(ErrorReply::ReservedLabel(ERROR_LABEL))
    ));
}

#[test]
fn too_many_caps_is_an_encode_error() {
    let e = EncodeError::TooManyCaps { got: 4 };
    assert_eq!(
        std::format!("{e}"),
        "4 capabilities, a message carries at most 3"
    );
}

/// A message type with a hand-written `Message` impl: it gets the default
/// `decode_registers`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Manual(u8);

impl Message for Manual {
    const MAX_WORDS: usize = 1;
    fn label(&self) -> u64 {
        7
    }
    fn encode(&self, out: &mut [Word]) -> Result<usize, EncodeError> {
        check_room(1, out)?;
        out[0] = Word::from(self.0);
        Ok(1)
    }
    fn decode(label: u64, words: &[Word]) -> Result<Self, DecodeError> {
        if label != 7 {
            return Err(DecodeError::UnknownLabel(label));
        }
        check_len(label, 1, words)?;
        let mut at = 0;
        Ok(Manual(get_field(label, words, &mut at)?))
    }
}

/// What `decode_registers` must give: the message `decode` reads for the
/// info word's label and length when the word has nothing else (no
/// capability bits) and the length fits the registers.
fn registers_model<M: Message>(info: u64, regs: &[Word; REGISTER_WORDS]) -> Option<M> {
    const SHIFT: u32 = 12;
    let low = info & ((1 << SHIFT) - 1);
    let wire = info >> SHIFT;
    if low > REGISTER_WORDS as u64 || wire < KERNEL_LABELS || wire - KERNEL_LABELS >= LABELS {
        return None;
    }
    M::decode(wire - KERNEL_LABELS, &regs[..low as usize]).ok()
}

fn check_registers<M: Message + PartialEq + core::fmt::Debug>() {
    // Labels around the kernel's, the type's own and the error label;
    // lengths past the registers; extraCaps and capsUnwrapped bits (the
    // seL4 layout: length 7 bits, extraCaps 2, capsUnwrapped 3, label).
    let wires = (0..80).chain([ERROR_LABEL, ERROR_LABEL + 1, 1 << 40]);
    let words: [[Word; REGISTER_WORDS]; 3] = [[0; 4], [1, 0, 1, 5], [2, u64::MAX, 300, 1]];
    for wire in wires {
        for len in 0..10u64 {
            for extra in [0u64, 1 << 7, 3 << 7, 1 << 9, 7 << 9, (1 << 7) | (1 << 9)] {
                for regs in &words {
                    let info = (wire << 12) | extra | len;
                    assert_eq!(
                        M::decode_registers(info, 12, regs),
                        registers_model::<M>(info, regs),
                        "info {info:#x} words {regs:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn decode_registers_is_decode_of_register_only_messages() {
    check_registers::<Req>();
    check_registers::<Pong>();
    check_registers::<Manual>();
    // The ones that do decode, for the record.
    let regs = [41, 1, 0, 0];
    assert_eq!(
        Req::decode_registers((wire_label(1) << 12) | 1, 12, &regs),
        Some(Req::Ping { value: 41 })
    );
    assert_eq!(
        Req::decode_registers(wire_label(3) << 12, 12, &regs),
        Some(Req::Stop)
    );
    assert_eq!(
        Pong::decode_registers((wire_label(9) << 12) | 2, 12, &regs),
        Some(Pong {
            value: 41,
            last: true
        })
    );
    // An 8-word message never decodes from registers.
    assert_eq!(
        Req::decode_registers((wire_label(5) << 12) | 8, 12, &regs),
        None
    );
    // A capability bit or a wake-up mark (all capsUnwrapped bits) is not
    // a message in registers.
    assert_eq!(
        Req::decode_registers((wire_label(1) << 12) | (7 << 9) | 1, 12, &regs),
        None
    );
}
