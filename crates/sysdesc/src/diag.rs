//! Diagnostics: every problem with a description, each with a position
//! (file, line, column), a message and the fix.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A byte range in the description's text.
pub type Span = Range<usize>;

/// The description's text and where it came from; turns byte offsets into
/// lines and columns.
#[derive(Debug, Clone)]
pub struct Source {
    /// The file's path (for messages; relative paths in it resolve from its directory).
    pub path: PathBuf,
    /// The file's text.
    pub text: String,
    line_starts: Vec<usize>,
}

impl Source {
    /// A source named `path` with `text`.
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Source {
        let text = text.into();
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Source {
            path: path.into(),
            text,
            line_starts,
        }
    }

    /// 1-based line and column (in characters) of byte offset `at`.
    pub fn line_col(&self, at: usize) -> (usize, usize) {
        let at = at.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= at) - 1;
        let start = self.line_starts[line];
        let col = self.text[start..at].chars().count() + 1;
        (line + 1, col)
    }

    /// The text of 1-based line `line`, without its newline.
    pub fn line_text(&self, line: usize) -> &str {
        let start = self.line_starts[line - 1];
        let end = self
            .line_starts
            .get(line)
            .map_or(self.text.len(), |&e| e - 1);
        self.text[start..end].trim_end_matches('\r')
    }

    /// The directory relative paths in the description are resolved from.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }
}

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The description cannot be used: no plan.
    Error,
    /// The description is used, but probably not as meant.
    Warning,
}

/// One problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The bytes the problem is about.
    pub span: Span,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
    /// Other places that take part (the first grant of a resource granted
    /// twice, ...).
    pub notes: Vec<(Span, String)>,
}

impl Diagnostic {
    /// An error at `span`.
    pub fn error(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            span,
            message: message.into(),
            help: None,
            notes: Vec::new(),
        }
    }

    /// A warning at `span`.
    pub fn warning(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(span, message)
        }
    }

    /// Adds how to fix it.
    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Adds another place that takes part.
    pub fn note(mut self, span: Span, note: impl Into<String>) -> Diagnostic {
        self.notes.push((span, note.into()));
        self
    }

    /// Line and column of the diagnostic in `src`.
    pub fn position(&self, src: &Source) -> (usize, usize) {
        src.line_col(self.span.start)
    }

    /// Renders the diagnostic as rustc does:
    ///
    /// ```text
    /// error: channel `kv`: client `b` has priority 120, higher than its server `kv` (100)
    ///   --> systems/kv/system.toml:14:11
    ///    |
    /// 14 | clients = ["a", "b"]
    ///    |           ^
    ///    = help: give `kv` a priority of at least 120, or lower `b`'s
    /// ```
    pub fn render(&self, src: &Source) -> String {
        let mut out = String::new();
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        out.push_str(&format!("{kind}: {}\n", self.message));
        render_snippet(&mut out, src, &self.span, "-->", None);
        for (span, note) in &self.notes {
            render_snippet(&mut out, src, span, "::>", Some(note));
        }
        if let Some(help) = &self.help {
            let width = src.line_col(self.span.start).0.to_string().len();
            out.push_str(&format!("{:width$} = help: {help}\n", ""));
        }
        out
    }
}

fn render_snippet(out: &mut String, src: &Source, span: &Span, arrow: &str, label: Option<&str>) {
    let (line, col) = src.line_col(span.start);
    out.push_str(&format!("  {arrow} {}:{line}:{col}\n", src.path.display()));
    let text = src.line_text(line);
    let width = line.to_string().len();
    let (end_line, end_col) = src.line_col(span.end.max(span.start));
    let carets = if end_line == line && end_col > col {
        end_col - col
    } else {
        1
    };
    out.push_str(&format!("{:width$} |\n", ""));
    out.push_str(&format!("{line} | {text}\n"));
    out.push_str(&format!(
        "{:width$} | {}{}{}\n",
        "",
        " ".repeat(col - 1),
        "^".repeat(carets),
        label.map(|l| format!(" {l}")).unwrap_or_default()
    ));
}

/// Every diagnostic of one run, in source order.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics {
    /// The diagnostics.
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// Adds one.
    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    /// Whether any is an error.
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    /// Number of errors.
    pub fn error_count(&self) -> usize {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    /// Sorts by position (errors and warnings mixed), keeping the order of
    /// diagnostics at the same place.
    pub fn sort(&mut self) {
        self.items.sort_by_key(|d| d.span.start);
    }

    /// Every diagnostic with its file, line, column and source line, as a compiler prints them.
    pub fn render(&self, src: &Source) -> String {
        let mut out = String::new();
        for d in &self.items {
            out.push_str(&d.render(src));
            out.push('\n');
        }
        out
    }
}

/// `file:line:col: message` one line per diagnostic (for tests and editors).
pub struct Short<'a>(pub &'a Diagnostic, pub &'a Source);

impl fmt::Display for Short<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (line, col) = self.0.position(self.1);
        write!(
            f,
            "{}:{line}:{col}: {}",
            self.1.path.display(),
            self.0.message
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column() {
        let s = Source::new("x.toml", "a = 1\nbé = 2\n\nc");
        assert_eq!(s.line_col(0), (1, 1));
        assert_eq!(s.line_col(4), (1, 5));
        assert_eq!(s.line_col(6), (2, 1));
        // `=` after a two-byte character: column counts characters
        assert_eq!(s.line_col(10), (2, 4));
        assert_eq!(s.line_col(15), (4, 1));
        assert_eq!(s.line_text(2), "bé = 2");
    }

    #[test]
    fn render_points_at_the_span() {
        let s = Source::new("sys.toml", "[components.a]\npriority = 300\n");
        let d = Diagnostic::error(26..29, "priority 300 is out of range").help("use 0..=254");
        let r = d.render(&s);
        assert!(r.contains("--> sys.toml:2:12"), "{r}");
        assert!(r.contains("2 | priority = 300"), "{r}");
        assert!(r.contains("  |            ^^^"), "{r}");
        assert!(r.contains("\n  = help: use 0..=254"), "{r}");
    }
}
