//! The names `sel4_cfg_if!` knows: for each kind (config option, syscall,
//! invocation label, object type, initial capability), every name the
//! kernel tree declares, for any configuration or architecture, and whether
//! the configured kernel has it. A name outside these sets is a compile
//! error (a misspelling, or a name of another kernel version); a known name
//! the configuration disables takes the `else` branch.

use std::collections::BTreeMap;

/// One kind of name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameSet {
    /// The keyword of the kind in `sel4_cfg_if!` (`config`, `label`, ...).
    pub kind: &'static str,
    /// What a name of this kind is, for error messages ("a configuration
    /// option").
    pub what: &'static str,
    /// Every name (as written in the macro: `KERNEL_MCS`, `TCBSetPriority`)
    /// and whether the configured kernel has it.
    pub names: BTreeMap<String, bool>,
}

impl NameSet {
    /// An empty set of `kind`.
    pub fn new(kind: &'static str, what: &'static str) -> NameSet {
        NameSet {
            kind,
            what,
            names: BTreeMap::new(),
        }
    }

    /// Adds a name the kernel knows; `on` when this configuration has it
    /// (a name added twice is on when either says so).
    pub fn add(&mut self, name: &str, on: bool) {
        if !is_ident(name) {
            return;
        }
        let e = self.names.entry(name.to_string()).or_insert(false);
        *e |= on;
    }

    /// Whether `name` is known, and if so whether it is on.
    pub fn get(&self, name: &str) -> Option<bool> {
        self.names.get(name).copied()
    }
}

/// Whether `s` is a Rust identifier the macro can match (ASCII letters,
/// digits and `_`, not starting with a digit).
pub fn is_ident(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The names of every kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    pub config: NameSet,
    pub syscall: NameSet,
    pub label: NameSet,
    pub object: NameSet,
    pub init_cap: NameSet,
}

impl Default for Names {
    fn default() -> Names {
        Names {
            config: NameSet::new("config", "a configuration option"),
            syscall: NameSet::new("syscall", "a syscall"),
            label: NameSet::new("label", "an invocation label"),
            object: NameSet::new("object", "an object type"),
            init_cap: NameSet::new("init_cap", "an initial capability"),
        }
    }
}

impl Names {
    /// The kinds, in the order the macro lists them.
    pub fn all(&self) -> [&NameSet; 5] {
        [
            &self.config,
            &self.syscall,
            &self.label,
            &self.object,
            &self.init_cap,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_on_when_any_source_says_so() {
        let mut s = NameSet::new("config", "configuration option");
        s.add("KERNEL_MCS", false);
        s.add("DEBUG_BUILD", true);
        s.add("DEBUG_BUILD", false);
        s.add("PRINTING", false);
        s.add("PRINTING", true);
        s.add("not an ident", true);
        s.add("9LIVES", true);
        assert_eq!(s.get("KERNEL_MCS"), Some(false));
        assert_eq!(s.get("DEBUG_BUILD"), Some(true));
        assert_eq!(s.get("PRINTING"), Some(true));
        assert_eq!(s.get("KERNEL_MSC"), None);
        assert_eq!(s.names.len(), 3);
    }
}
