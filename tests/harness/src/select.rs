//! Which tests a boot runs: the name filter and the shard.

/// One part of a suite split over several boots: the `index`-th (1 based)
/// of `count` parts. Tests are dealt round-robin in registration order, so
/// every group is spread over the parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// The whole suite.
    pub const ALL: Shard = Shard { index: 1, count: 1 };

    /// Parses `k/n` with 1 <= k <= n.
    pub fn parse(s: &str) -> Option<Shard> {
        let (k, n) = s.trim().split_once('/')?;
        let index: usize = k.trim().parse().ok()?;
        let count: usize = n.trim().parse().ok()?;
        (count >= 1 && index >= 1 && index <= count).then_some(Shard { index, count })
    }

    /// Does the test at `position` (0 based, in registration order) belong
    /// to this shard?
    pub fn contains(&self, position: usize) -> bool {
        position % self.count == self.index - 1
    }
}

/// The selection of one boot.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selection<'a> {
    /// Run only tests whose full name contains one of these
    /// (comma-separated in the filter text); everything when empty.
    pub patterns: alloc::vec::Vec<&'a str>,
    pub shard: Option<Shard>,
}

impl<'a> Selection<'a> {
    /// Builds the selection from the filter text and the shard.
    pub fn new(filter: Option<&'a str>, shard: Option<Shard>) -> Selection<'a> {
        let patterns = filter
            .map(|f| {
                f.split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        Selection { patterns, shard }
    }

    /// Is the test `name`, at `position` in registration order, selected?
    pub fn selects(&self, name: &str, position: usize) -> bool {
        self.selects_test(name, &[], position)
    }

    /// Is the test `name` that checks the seL4test tests `ids`, at
    /// `position` in registration order, selected? A pattern selects a test
    /// when the test's name contains it, or when one of its seL4test IDs
    /// contains it (ignoring case): `CNODEOP0009` selects the test that
    /// covers it, `cnodeop` every test of a CNODEOP ID.
    pub fn selects_test(&self, name: &str, ids: &[&str], position: usize) -> bool {
        let by_name = self.patterns.is_empty()
            || self
                .patterns
                .iter()
                .any(|p| name.contains(p) || ids.iter().any(|id| contains_ignore_case(id, p)));
        let by_shard = self.shard.is_none_or(|s| s.contains(position));
        by_name && by_shard
    }
}

/// Does `hay` contain `needle`, ignoring ASCII case?
fn contains_ignore_case(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}
