//! The serial protocol between a root task and the host runner (`sel4-run`).
//!
//! Lines on the debug console that begin with `##sel4rs ` are for the runner;
//! all other output is passed through. The lines are:
//!
//! ```text
//! ##sel4rs boot <image-name> kernel=<version> arch=<sel4_arch> config=<short description>
//! ##sel4rs test-start <name>
//! ##sel4rs test-end <name> <pass|fail|skip> <microseconds> [reason text]
//! ##sel4rs summary <passed> <failed> <skipped>
//! ##sel4rs result pass
//! ##sel4rs result fail <reason text>
//! ```
//!
//! Test and image names are made of `[A-Za-z0-9_:.-]` (at least one
//! character); a reason, and the config description, are the rest of the
//! line (trimmed). Fields are separated by one or more spaces or tabs.
//!
//! The target side writes lines with [`core::fmt::Display`]
//! (`writeln!(console, "{}", Line::TestStart { name })`); `Display` writes no
//! newline. The host side reads them with [`parse`].
//!
//! ```
//! use sel4_test_protocol::{parse, Line, Outcome};
//! let line = Line::TestEnd { name: "ipc::call", outcome: Outcome::Pass, micros: 1234, reason: "" };
//! let text = format!("{line}");
//! assert_eq!(text, "##sel4rs test-end ipc::call pass 1234");
//! assert_eq!(parse(&text), Some(Ok(line)));
//! assert_eq!(parse("hello world"), None);
//! ```
#![no_std]

#[cfg(test)]
extern crate std;

use core::fmt;

/// The marker that starts every protocol line (followed by a space).
pub const MARKER: &str = "##sel4rs";

/// Outcome of one test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The test did what its name says.
    Pass,
    /// The test found a defect (or panicked).
    Fail,
    /// The test does not apply to this kernel or configuration.
    Skip,
}

impl Outcome {
    /// The word used on the wire: `pass`, `fail` or `skip`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Skip => "skip",
        }
    }

    /// Parses `pass`, `fail` or `skip` (exactly, lower case).
    pub fn from_word(word: &str) -> Option<Outcome> {
        match word {
            "pass" => Some(Outcome::Pass),
            "fail" => Some(Outcome::Fail),
            "skip" => Some(Outcome::Skip),
            _ => None,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One protocol line. Borrowed from the text it was parsed from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// `##sel4rs boot <image> kernel=<version> arch=<sel4_arch> config=<description>`
    Boot {
        /// The boot image's name.
        image: &'a str,
        /// The kernel version the image was built for.
        kernel: &'a str,
        /// The kernel's sel4_arch (`x86_64`, ...).
        arch: &'a str,
        /// Free text (may contain spaces, may be empty).
        config: &'a str,
    },
    /// `##sel4rs test-start <name>`
    TestStart {
        /// The test's name.
        name: &'a str,
    },
    /// `##sel4rs test-end <name> <pass|fail|skip> <microseconds> [reason]`
    TestEnd {
        /// The test's name.
        name: &'a str,
        /// How it ended.
        outcome: Outcome,
        /// How long it ran, in microseconds.
        micros: u64,
        /// Free text; empty when there is none.
        reason: &'a str,
    },
    /// `##sel4rs summary <passed> <failed> <skipped>`
    Summary {
        /// Tests that passed.
        passed: u32,
        /// Tests that failed.
        failed: u32,
        /// Tests that were skipped.
        skipped: u32,
    },
    /// `##sel4rs result pass`
    ResultPass,
    /// `##sel4rs result fail <reason>` (the reason may be empty)
    ResultFail {
        /// Why the run failed (free text, may be empty).
        reason: &'a str,
    },
}

/// Why a protocol line (one that starts with `##sel4rs`) is malformed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseError {
    /// `##sel4rs` with nothing after it.
    Empty,
    /// The word after `##sel4rs` is not a known line kind.
    UnknownKind,
    /// A required field is missing; names the field.
    Missing(&'static str),
    /// A test or image name has characters outside `[A-Za-z0-9_:.-]`.
    BadName,
    /// The outcome is not `pass`, `fail` or `skip`.
    BadOutcome,
    /// A number field is not a decimal number that fits; names the field.
    BadNumber(&'static str),
    /// A `key=value` field has the wrong key; names the expected key.
    BadKey(&'static str),
    /// `result` followed by something other than `pass` or `fail`.
    BadResult,
    /// Extra text after the last field of a line that takes no free text.
    Trailing,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Empty => f.write_str("empty protocol line"),
            ParseError::UnknownKind => f.write_str("unknown line kind"),
            ParseError::Missing(what) => write!(f, "missing {what}"),
            ParseError::BadName => f.write_str("bad name (allowed: A-Z a-z 0-9 _ : . -)"),
            ParseError::BadOutcome => f.write_str("bad outcome (expected pass, fail or skip)"),
            ParseError::BadNumber(what) => write!(f, "bad number for {what}"),
            ParseError::BadKey(key) => write!(f, "expected {key}=<value>"),
            ParseError::BadResult => f.write_str("bad result (expected pass or fail)"),
            ParseError::Trailing => f.write_str("unexpected text at end of line"),
        }
    }
}

/// Is `name` a valid test or image name (`[A-Za-z0-9_:.-]+`)?
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b':' | b'.' | b'-'))
}

fn is_sep(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Splits the next whitespace-separated token off `rest`.
fn token<'a>(rest: &mut &'a str) -> Option<&'a str> {
    let s = rest.trim_start_matches(is_sep);
    if s.is_empty() {
        *rest = s;
        return None;
    }
    let end = s.find(is_sep).unwrap_or(s.len());
    let (tok, tail) = s.split_at(end);
    *rest = tail;
    Some(tok)
}

fn name<'a>(rest: &mut &'a str, what: &'static str) -> Result<&'a str, ParseError> {
    let tok = token(rest).ok_or(ParseError::Missing(what))?;
    if is_valid_name(tok) {
        Ok(tok)
    } else {
        Err(ParseError::BadName)
    }
}

fn number<T: core::str::FromStr>(rest: &mut &str, what: &'static str) -> Result<T, ParseError> {
    let tok = token(rest).ok_or(ParseError::Missing(what))?;
    // `FromStr` for integers accepts a leading `+`; the protocol does not.
    if !tok.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::BadNumber(what));
    }
    tok.parse().map_err(|_| ParseError::BadNumber(what))
}

fn keyed<'a>(rest: &mut &'a str, key: &'static str) -> Result<&'a str, ParseError> {
    let tok = token(rest).ok_or(ParseError::Missing(key))?;
    match tok.split_once('=') {
        Some((k, v)) if k == key => Ok(v),
        _ => Err(ParseError::BadKey(key)),
    }
}

fn end(rest: &str) -> Result<(), ParseError> {
    if rest.trim_matches(is_sep).is_empty() {
        Ok(())
    } else {
        Err(ParseError::Trailing)
    }
}

fn free_text(rest: &str) -> &str {
    rest.trim_matches(is_sep)
}

/// Parses one line of console output (with or without its line ending).
///
/// Returns `None` when the line is not a protocol line (does not start with
/// `##sel4rs` followed by a space, a tab or the end of the line), `Some(Err)`
/// when it is a protocol line that is malformed, and `Some(Ok)` otherwise.
pub fn parse(line: &str) -> Option<Result<Line<'_>, ParseError>> {
    let line = line.trim_end_matches(['\n', '\r']);
    let body = line.strip_prefix(MARKER)?;
    if !(body.is_empty() || body.starts_with(is_sep)) {
        return None;
    }
    Some(parse_body(body))
}

fn parse_body(body: &str) -> Result<Line<'_>, ParseError> {
    let mut rest = body;
    let kind = token(&mut rest).ok_or(ParseError::Empty)?;
    match kind {
        "boot" => {
            let image = name(&mut rest, "image name")?;
            let kernel = keyed(&mut rest, "kernel")?;
            let arch = keyed(&mut rest, "arch")?;
            // `config=` takes the rest of the line, spaces included.
            let s = rest.trim_start_matches(is_sep);
            let config = s.strip_prefix("config=").ok_or(if s.is_empty() {
                ParseError::Missing("config")
            } else {
                ParseError::BadKey("config")
            })?;
            Ok(Line::Boot {
                image,
                kernel,
                arch,
                config: free_text(config),
            })
        }
        "test-start" => {
            let name = name(&mut rest, "test name")?;
            end(rest)?;
            Ok(Line::TestStart { name })
        }
        "test-end" => {
            let name = name(&mut rest, "test name")?;
            let word = token(&mut rest).ok_or(ParseError::Missing("outcome"))?;
            let outcome = Outcome::from_word(word).ok_or(ParseError::BadOutcome)?;
            let micros = number(&mut rest, "microseconds")?;
            Ok(Line::TestEnd {
                name,
                outcome,
                micros,
                reason: free_text(rest),
            })
        }
        "summary" => {
            let passed = number(&mut rest, "passed")?;
            let failed = number(&mut rest, "failed")?;
            let skipped = number(&mut rest, "skipped")?;
            end(rest)?;
            Ok(Line::Summary {
                passed,
                failed,
                skipped,
            })
        }
        "result" => match token(&mut rest) {
            Some("pass") => {
                end(rest)?;
                Ok(Line::ResultPass)
            }
            Some("fail") => Ok(Line::ResultFail {
                reason: free_text(rest),
            }),
            Some(_) => Err(ParseError::BadResult),
            None => Err(ParseError::Missing("pass or fail")),
        },
        _ => Err(ParseError::UnknownKind),
    }
}

impl Line<'_> {
    /// Writes the line and a `\n` to `w` (a console on the target side).
    ///
    /// ```
    /// let mut s = String::new();
    /// sel4_test_protocol::Line::ResultPass.write_line(&mut s).unwrap();
    /// assert_eq!(s, "##sel4rs result pass\n");
    /// ```
    pub fn write_line<W: fmt::Write>(&self, w: &mut W) -> fmt::Result {
        writeln!(w, "{self}")
    }
}

/// `##sel4rs result pass` ([`Line::ResultPass`] as text).
pub const RESULT_PASS: &str = "##sel4rs result pass";

/// What `##sel4rs result fail <reason>` starts with: a root task writes
/// its reason after it and a space ([`Line::ResultFail`] as text), without
/// formatting the reason into a buffer first.
pub const RESULT_FAIL: &str = "##sel4rs result fail";

/// The boot line alone (the text of [`Line::Boot`]): what a root task
/// prints at start, without linking the formatting of every other line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootLine<'a> {
    /// The boot image's name.
    pub image: &'a str,
    /// The kernel version the image was built for.
    pub kernel: &'a str,
    /// The kernel's sel4_arch.
    pub arch: &'a str,
    /// Free text (may contain spaces, may be empty).
    pub config: &'a str,
}

impl fmt::Display for BootLine<'_> {
    /// Writes the line as it goes on the wire, without a line ending.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MARKER)?;
        f.write_str(" boot ")?;
        f.write_str(self.image)?;
        f.write_str(" kernel=")?;
        f.write_str(self.kernel)?;
        f.write_str(" arch=")?;
        f.write_str(self.arch)?;
        f.write_str(" config=")?;
        f.write_str(self.config)
    }
}

impl fmt::Display for Line<'_> {
    /// Writes the line as it goes on the wire, without a line ending.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Line::Boot {
            image,
            kernel,
            arch,
            config,
        } = *self
        {
            return BootLine {
                image,
                kernel,
                arch,
                config,
            }
            .fmt(f);
        }
        match *self {
            Line::ResultPass => return f.write_str(RESULT_PASS),
            Line::ResultFail { reason } => {
                f.write_str(RESULT_FAIL)?;
                if !reason.is_empty() {
                    write!(f, " {reason}")?;
                }
                return Ok(());
            }
            _ => {}
        }
        f.write_str(MARKER)?;
        match *self {
            Line::Boot { .. } | Line::ResultPass | Line::ResultFail { .. } => Ok(()),
            Line::TestStart { name } => write!(f, " test-start {name}"),
            Line::TestEnd {
                name,
                outcome,
                micros,
                reason,
            } => {
                write!(f, " test-end {name} {outcome} {micros}")?;
                if !reason.is_empty() {
                    write!(f, " {reason}")?;
                }
                Ok(())
            }
            Line::Summary {
                passed,
                failed,
                skipped,
            } => write!(f, " summary {passed} {failed} {skipped}"),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn boot_line_and_result_texts_are_the_lines_text() {
        use std::string::ToString;
        let boot = BootLine {
            image: "hello",
            kernel: "5.0.0",
            arch: "x86_64",
            config: "debug,mcs",
        };
        let line = Line::Boot {
            image: "hello",
            kernel: "5.0.0",
            arch: "x86_64",
            config: "debug,mcs",
        };
        assert_eq!(boot.to_string(), line.to_string());
        assert_eq!(
            boot.to_string(),
            "##sel4rs boot hello kernel=5.0.0 arch=x86_64 config=debug,mcs"
        );
        assert_eq!(parse(&boot.to_string()), Some(Ok(line)));
        assert_eq!(RESULT_PASS, Line::ResultPass.to_string());
        assert_eq!(parse(RESULT_PASS), Some(Ok(Line::ResultPass)));
        let fail = std::format!("{RESULT_FAIL} main returned an error: x");
        assert_eq!(
            fail,
            Line::ResultFail {
                reason: "main returned an error: x"
            }
            .to_string()
        );
        assert_eq!(
            parse(&fail),
            Some(Ok(Line::ResultFail {
                reason: "main returned an error: x"
            }))
        );
    }

    use super::*;
    use std::format;
    use std::string::String;

    fn round_trip(line: Line<'_>) {
        let text = format!("{line}");
        assert!(text.starts_with("##sel4rs "), "{text}");
        assert!(!text.contains('\n'));
        assert_eq!(parse(&text), Some(Ok(line)), "{text}");
        // Serial consoles end lines with CR LF.
        let crlf = format!("{text}\r\n");
        assert_eq!(parse(&crlf), Some(Ok(line)), "{text}");
    }

    #[test]
    fn round_trips() {
        round_trip(Line::Boot {
            image: "hello",
            kernel: "5.0.0",
            arch: "x86_64",
            config: "pc99 debug printing",
        });
        round_trip(Line::Boot {
            image: "tests-ipc.part-1",
            kernel: "13.0.0",
            arch: "x86_64",
            config: "",
        });
        round_trip(Line::TestStart {
            name: "ipc::call_reply",
        });
        round_trip(Line::TestStart { name: "A-z_0.9:x" });
        for outcome in [Outcome::Pass, Outcome::Fail, Outcome::Skip] {
            round_trip(Line::TestEnd {
                name: "untyped::retype",
                outcome,
                micros: 0,
                reason: "",
            });
            round_trip(Line::TestEnd {
                name: "untyped::retype",
                outcome,
                micros: u64::MAX,
                reason: "assertion failed: `left == right` (left: 1, right: 2)",
            });
        }
        round_trip(Line::Summary {
            passed: 12,
            failed: 0,
            skipped: 3,
        });
        round_trip(Line::Summary {
            passed: u32::MAX,
            failed: 1,
            skipped: 0,
        });
        round_trip(Line::ResultPass);
        round_trip(Line::ResultFail {
            reason: "2 tests failed",
        });
        round_trip(Line::ResultFail { reason: "" });
    }

    #[test]
    fn exact_wire_format() {
        let l = Line::TestEnd {
            name: "a",
            outcome: Outcome::Fail,
            micros: 17,
            reason: "why not",
        };
        assert_eq!(format!("{l}"), "##sel4rs test-end a fail 17 why not");
        let l = Line::Boot {
            image: "hello",
            kernel: "5.0.0",
            arch: "x86_64",
            config: "pc99",
        };
        assert_eq!(
            format!("{l}"),
            "##sel4rs boot hello kernel=5.0.0 arch=x86_64 config=pc99"
        );
        assert_eq!(format!("{}", Line::ResultPass), "##sel4rs result pass");
        assert_eq!(
            format!(
                "{}",
                Line::Summary {
                    passed: 1,
                    failed: 2,
                    skipped: 3
                }
            ),
            "##sel4rs summary 1 2 3"
        );
    }

    #[test]
    fn parse_details() {
        // Free text keeps inner spaces, loses the outer ones.
        assert_eq!(
            parse("##sel4rs test-end t skip 5   not on this kernel  \r\n"),
            Some(Ok(Line::TestEnd {
                name: "t",
                outcome: Outcome::Skip,
                micros: 5,
                reason: "not on this kernel"
            }))
        );
        assert_eq!(parse("##sel4rs\tresult\tpass"), Some(Ok(Line::ResultPass)));
        assert_eq!(
            parse("##sel4rs  test-start   x"),
            Some(Ok(Line::TestStart { name: "x" }))
        );
        assert_eq!(
            parse("##sel4rs result fail"),
            Some(Ok(Line::ResultFail { reason: "" }))
        );
        assert_eq!(
            parse("##sel4rs boot img kernel=5.0.0 arch=x86_64 config= a b "),
            Some(Ok(Line::Boot {
                image: "img",
                kernel: "5.0.0",
                arch: "x86_64",
                config: "a b"
            }))
        );
    }

    #[test]
    fn not_protocol_lines() {
        for l in [
            "",
            "hello",
            "Booting all finished, dropped to user space",
            " ##sel4rs result pass",
            "##sel4rsresult pass",
            "##sel4r result pass",
            "#sel4rs result pass",
            "## sel4rs result pass",
        ] {
            assert_eq!(parse(l), None, "{l:?}");
        }
    }

    #[test]
    fn malformed_lines() {
        use ParseError::*;
        let cases: &[(&str, ParseError)] = &[
            ("##sel4rs", Empty),
            ("##sel4rs   ", Empty),
            ("##sel4rs \r\n", Empty),
            ("##sel4rs hello", UnknownKind),
            ("##sel4rs Test-start a", UnknownKind),
            ("##sel4rs test-start", Missing("test name")),
            ("##sel4rs test-start a b", Trailing),
            ("##sel4rs test-start a/b", BadName),
            ("##sel4rs test-start ünï", BadName),
            ("##sel4rs test-end a", Missing("outcome")),
            ("##sel4rs test-end a passed 3", BadOutcome),
            ("##sel4rs test-end a PASS 3", BadOutcome),
            ("##sel4rs test-end a pass", Missing("microseconds")),
            ("##sel4rs test-end a pass -3", BadNumber("microseconds")),
            ("##sel4rs test-end a pass +3", BadNumber("microseconds")),
            ("##sel4rs test-end a pass 1.5", BadNumber("microseconds")),
            (
                "##sel4rs test-end a pass 99999999999999999999999",
                BadNumber("microseconds"),
            ),
            ("##sel4rs test-end a b c pass 3", BadOutcome),
            ("##sel4rs summary 1 2", Missing("skipped")),
            ("##sel4rs summary 1 2 x", BadNumber("skipped")),
            ("##sel4rs summary 1 2 3 4", Trailing),
            ("##sel4rs summary 1 2 4294967296", BadNumber("skipped")),
            ("##sel4rs result", Missing("pass or fail")),
            ("##sel4rs result ok", BadResult),
            ("##sel4rs result pass now", Trailing),
            ("##sel4rs boot", Missing("image name")),
            ("##sel4rs boot img", Missing("kernel")),
            (
                "##sel4rs boot img version=5 arch=x config=y",
                BadKey("kernel"),
            ),
            ("##sel4rs boot img kernel=5.0.0 config=y", BadKey("arch")),
            (
                "##sel4rs boot img kernel=5.0.0 arch=x86_64",
                Missing("config"),
            ),
            (
                "##sel4rs boot img kernel=5.0.0 arch=x86_64 cfg=y",
                BadKey("config"),
            ),
            (
                "##sel4rs boot i*g kernel=5.0.0 arch=x86_64 config=y",
                BadName,
            ),
        ];
        for (line, err) in cases {
            assert_eq!(parse(line), Some(Err(*err)), "{line:?}");
            // Every error has a message.
            assert!(!format!("{err}").is_empty());
        }
    }

    #[test]
    fn names() {
        assert!(is_valid_name("a"));
        assert!(is_valid_name("ipc::call-reply_2.x"));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name("a b"));
        assert!(!is_valid_name("a\tb"));
        let mut s = String::new();
        for _ in 0..1000 {
            s.push('x');
        }
        assert!(is_valid_name(&s));
    }

    #[test]
    fn outcome_words() {
        for o in [Outcome::Pass, Outcome::Fail, Outcome::Skip] {
            assert_eq!(Outcome::from_word(o.as_str()), Some(o));
            assert_eq!(format!("{o}"), o.as_str());
        }
        assert_eq!(Outcome::from_word("Pass"), None);
    }
}
