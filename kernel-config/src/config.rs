//! Kernel configuration values: `autoconf.h` (5.x Makefile builds, typed with
//! the tree's Kconfig files) and `gen_config.json` (CMake builds).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::{err, BuildSystem, ConfigMap, Error, Result, Stage};

/// One configuration value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Bool(bool),
    Int(i128),
    Str(String),
}

impl Value {
    /// The value as the C preprocessor sees it in `#if` (strings that are not
    /// numbers, and `false`, are 0).
    pub fn as_int(&self) -> i128 {
        match self {
            Value::Bool(b) => *b as i128,
            Value::Int(n) => *n,
            Value::Str(s) => parse_c_int(s).unwrap_or(0),
        }
    }

    /// Whether the C macro is defined (a disabled bool is not defined).
    pub fn is_defined(&self) -> bool {
        !matches!(self, Value::Bool(false))
    }
}

/// Parses a C integer literal: decimal, hex (0x), octal (leading 0), with
/// optional `u`/`l` suffixes and an optional leading `-`.
pub fn parse_c_int(s: &str) -> Option<i128> {
    let s = s.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, s),
    };
    let s = s.trim_end_matches(['u', 'U', 'l', 'L']);
    if s.is_empty() {
        return None;
    }
    let v = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        i128::from_str_radix(h, 16).ok()?
    } else if s.len() > 1 && s.starts_with('0') {
        i128::from_str_radix(&s[1..], 8).ok()?
    } else if s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()?
    } else {
        return None;
    };
    Some(if neg { -v } else { v })
}

/// Type of a Kconfig symbol (5.x trees) or CMake option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KType {
    Bool,
    Int,
    Str,
    /// Set by `config_set`: known to exist, type not declared (keeps the
    /// guessed type).
    Undeclared,
}

/// The configuration of one kernel build: C names (`CONFIG_...`) -> values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    values: ConfigMap,
    /// Files the values came from (for rerun-if-changed).
    pub sources: Vec<PathBuf>,
    /// Every option the kernel tree declares, for any architecture or
    /// platform (`CONFIG_` names): the Kconfig files of a 5.x tree, the
    /// `config_option`/`config_string`/`config_choice`/`config_set`/
    /// `declare_platform` calls of a CMake tree. With the names of
    /// [`Config::iter`] this is the set of option names this kernel knows;
    /// options outside it are misspelt or belong to other kernel versions.
    pub declared: BTreeSet<String>,
}

impl Config {
    pub fn new() -> Config {
        Config::default()
    }

    /// Reads the configuration of a stage: for Makefile builds, the defines the
    /// 5.x Makefile passes on the command line for the stage's arch, then every
    /// config file in order (later definitions win, as in the C preprocessor);
    /// `.json` files are read as CMake `gen_config.json`, other files as C
    /// headers with `#define CONFIG_X value` lines.
    pub fn load(stage: &Stage) -> Result<Config> {
        let mut cfg = Config::new();
        let declared = if stage.build_system == BuildSystem::Make {
            for (k, v) in implied_make_defines(stage) {
                cfg.insert(k, v);
            }
            read_kconfig_types(&stage.source_dir)
        } else {
            read_cmake_config_types(&stage.source_dir)
        };
        cfg.declared = declared.keys().map(|k| format!("CONFIG_{k}")).collect();
        let kconfig = if stage.build_system == BuildSystem::Make
            || stage
                .config_files
                .iter()
                .any(|f| f.extension().map_or(true, |e| e != "json"))
        {
            // seL4 5.x `autoconf.h` and 12.x `gen_config.h` headers, typed
            // with the tree's declarations.
            declared
                .into_iter()
                .filter(|(_, t)| *t != KType::Undeclared)
                .collect()
        } else {
            BTreeMap::new()
        };
        for file in &stage.config_files {
            let text = std::fs::read_to_string(file).map_err(|e| {
                Error(format!(
                    "{}: cannot read config file {}: {}",
                    stage.describe(),
                    file.display(),
                    e
                ))
            })?;
            let is_json = file.extension().is_some_and(|e| e == "json");
            let parsed = if is_json {
                Config::parse_gen_config_json(&text)
            } else {
                Ok(Config::parse_autoconf_typed(&text, &kconfig))
            };
            let parsed = parsed.map_err(|e| {
                Error(format!(
                    "{}: config file {}: {}",
                    stage.describe(),
                    file.display(),
                    e
                ))
            })?;
            for (k, v) in parsed.values {
                cfg.insert(k, v);
            }
            cfg.sources.push(file.clone());
        }
        if cfg.values.is_empty() {
            return err(format!(
                "{}: the config files define no CONFIG_ value",
                stage.describe()
            ));
        }
        if stage.build_system == BuildSystem::Cmake {
            // A `gen_config.h` leaves disabled options out; `gen_config.json`
            // (13.0.0+) lists them as false. Do the same for 12.x.
            for (name, ty) in &kconfig {
                if *ty == KType::Bool {
                    let name = format!("CONFIG_{name}");
                    if !cfg.values.contains_key(&name) {
                        cfg.insert(name, Value::Bool(false));
                    }
                }
            }
        }
        Ok(cfg)
    }

    /// Parses `#define CONFIG_X value` lines of an `autoconf.h` /
    /// `gen_config.h`, guessing types: `"..."` string, numbers are ints except
    /// a plain `1`, `y` or empty value, which are bools.
    pub fn parse_autoconf(text: &str) -> Config {
        Config::parse_autoconf_typed(text, &BTreeMap::new())
    }

    fn parse_autoconf_typed(text: &str, types: &BTreeMap<String, KType>) -> Config {
        let mut cfg = Config::new();
        for line in text.lines() {
            let line = strip_c_comments(line);
            let t = line.trim_start();
            let Some(rest) = t.strip_prefix('#') else {
                continue;
            };
            let rest = rest.trim_start();
            let Some(rest) = rest.strip_prefix("define") else {
                continue;
            };
            if !rest.starts_with([' ', '\t']) {
                continue;
            }
            let rest = rest.trim();
            let (name, value) = match rest.find(|c: char| c.is_whitespace()) {
                Some(i) => (&rest[..i], rest[i..].trim()),
                None => (rest, ""),
            };
            if !name.starts_with("CONFIG_") || name.contains('(') {
                continue;
            }
            let ty = types.get(&name["CONFIG_".len()..]).copied();
            cfg.insert(name.to_string(), typed_value(value, ty));
        }
        cfg
    }

    /// Parses a CMake `gen_config.json` (keys without the `CONFIG_` prefix;
    /// values are JSON bools, or strings that may hold numbers).
    pub fn parse_gen_config_json(text: &str) -> Result<Config> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| Error(format!("invalid JSON: {e}")))?;
        let obj = v
            .as_object()
            .ok_or_else(|| Error("not a JSON object".to_string()))?;
        let mut cfg = Config::new();
        for (k, v) in obj {
            let value = match v {
                serde_json::Value::Bool(b) => Value::Bool(*b),
                serde_json::Value::Number(n) => match n.as_i64() {
                    Some(i) => Value::Int(i as i128),
                    None => match n.as_u64() {
                        Some(u) => Value::Int(u as i128),
                        None => Value::Str(n.to_string()),
                    },
                },
                serde_json::Value::String(s) => match parse_c_int(s) {
                    Some(i) => Value::Int(i),
                    None => Value::Str(s.clone()),
                },
                serde_json::Value::Null => continue,
                other => {
                    return err(format!(
                        "value of {k} is not a bool, number or string: {other}"
                    ))
                }
            };
            let name = if k.starts_with("CONFIG_") {
                k.clone()
            } else {
                format!("CONFIG_{k}")
            };
            cfg.insert(name, value);
        }
        Ok(cfg)
    }

    /// Sets a value (the name should include the `CONFIG_` prefix).
    pub fn insert(&mut self, name: impl Into<String>, value: Value) {
        self.values.insert(name.into(), value);
    }

    /// Looks a value up by C name; `CONFIG_` is added when missing.
    pub fn get(&self, name: &str) -> Option<&Value> {
        match self.values.get(name) {
            Some(v) => Some(v),
            None if !name.starts_with("CONFIG_") => self.values.get(&format!("CONFIG_{name}")),
            None => None,
        }
    }

    /// `defined(NAME)` in the C preprocessor.
    pub fn is_defined(&self, name: &str) -> bool {
        self.get(name).is_some_and(Value::is_defined)
    }

    /// The value of `NAME` in a C `#if` (0 when undefined).
    pub fn int(&self, name: &str) -> i128 {
        self.get(name).map_or(0, Value::as_int)
    }

    /// Whether the option is on (defined and nonzero).
    pub fn is_enabled(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| match v {
            Value::Bool(b) => *b,
            Value::Int(n) => *n != 0,
            Value::Str(_) => true,
        })
    }

    /// Whether this kernel knows the option `name` (`CONFIG_` added when
    /// missing): it has a value or the tree declares it.
    pub fn knows(&self, name: &str) -> bool {
        let name = if name.starts_with("CONFIG_") {
            name.to_string()
        } else {
            format!("CONFIG_{name}")
        };
        self.values.contains_key(&name) || self.declared.contains(&name)
    }

    /// All values, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn map(&self) -> &ConfigMap {
        &self.values
    }
}

fn typed_value(value: &str, ty: Option<KType>) -> Value {
    let v = value.trim();
    if let Some(s) = v.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        return Value::Str(s.to_string());
    }
    let is_yes = v.is_empty() || v == "y" || v == "Y";
    match ty {
        Some(KType::Bool) => Value::Bool(is_yes || parse_c_int(v).is_some_and(|n| n != 0)),
        Some(KType::Int) => match parse_c_int(v) {
            Some(n) => Value::Int(n),
            None => Value::Str(v.to_string()),
        },
        Some(KType::Str) => Value::Str(v.to_string()),
        Some(KType::Undeclared) | None => {
            if is_yes || v == "1" {
                Value::Bool(true)
            } else if let Some(n) = parse_c_int(v) {
                Value::Int(n)
            } else {
                Value::Str(v.to_string())
            }
        }
    }
}

/// Removes `/* ... */` (on one line) and `//` comments.
fn strip_c_comments(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    loop {
        let a = rest.find("/*");
        let b = rest.find("//");
        match (a, b) {
            (Some(a), b) if b.map_or(true, |b| a < b) => {
                out.push_str(&rest[..a]);
                match rest[a + 2..].find("*/") {
                    Some(e) => {
                        out.push(' ');
                        rest = &rest[a + 2 + e + 2..];
                    }
                    None => return out,
                }
            }
            (_, Some(b)) => {
                out.push_str(&rest[..b]);
                return out;
            }
            _ => {
                out.push_str(rest);
                return out;
            }
        }
    }
}

/// The `-DCONFIG_...` defines seL4 5.x's standalone Makefile adds on the
/// command line (before autoconf.h is included, so autoconf.h may override
/// them).  Those that depend on `DEBUG=y` (`CONFIG_DEBUG_BUILD`,
/// `CONFIG_USER_STACK_TRACE_LENGTH=1`) are not known from the manifest and
/// must be in autoconf.h.
fn implied_make_defines(stage: &Stage) -> Vec<(String, Value)> {
    let mut v = Vec::new();
    // x86_64: DEFINES += -DARCH_X86 -DX86_64 -DCONFIG_X86_64=y -D__KERNEL_64__ ...
    // ia32, aarch32 and aarch64 add no CONFIG_ define (only ARCH_*, __KERNEL_*__).
    if stage.sel4_arch == "x86_64" {
        v.push(("CONFIG_X86_64".to_string(), Value::Bool(true)));
    }
    v
}

/// Option types of a seL4 12.x CMake tree, from the declarations in its
/// `config.cmake` files (`configs/`, `src/`, `include/`, `libsel4/`):
/// `config_option(Cache NAME ...)` and the choices of
/// `config_choice(Cache NAME "doc" "value;Cache;NAME2" ...)` are bools,
/// `config_string(Cache NAME ...)` and the value of a `config_choice` are
/// numbers when they parse as one, else strings (as in `gen_config.json`).
/// Options set with `config_set` are not declared and keep the guessed type.
fn read_cmake_config_types(source_dir: &Path) -> BTreeMap<String, KType> {
    let mut files = Vec::new();
    for f in ["config.cmake", "libsel4/CMakeLists.txt"] {
        let p = source_dir.join(f);
        if p.is_file() {
            files.push(p);
        }
    }
    for dir in ["configs", "src", "include", "libsel4"] {
        collect_cmake_files(&source_dir.join(dir), &mut files, 6);
    }
    let mut types = BTreeMap::new();
    for f in files {
        if let Ok(text) = std::fs::read_to_string(&f) {
            parse_cmake_config_types(&text, &mut types);
        }
    }
    types
}

fn collect_cmake_files(dir: &Path, out: &mut Vec<PathBuf>, depth: u32) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            if depth > 0 {
                collect_cmake_files(&p, out, depth - 1);
            }
        } else if p.extension().is_some_and(|e| e == "cmake")
            || p.file_name().is_some_and(|n| n == "CMakeLists.txt")
        {
            out.push(p);
        }
    }
}

/// The arguments of every call of `func(` in CMake text, as words (quoted
/// arguments unquoted; comments skipped).
fn cmake_calls(text: &str, func: &str) -> Vec<Vec<String>> {
    let mut calls = Vec::new();
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(i) = text[from..].find(func).map(|i| i + from) {
        from = i + func.len();
        let before_ok = i == 0 || {
            let b = bytes[i - 1];
            !(b.is_ascii_alphanumeric() || b == b'_')
        };
        let line_start = text[..i].rfind('\n').map_or(0, |n| n + 1);
        let in_comment = text[line_start..i].contains('#');
        let rest = text[from..].trim_start_matches([' ', '\t']);
        if !before_ok || in_comment || !rest.starts_with('(') {
            continue;
        }
        let mut args = Vec::new();
        let mut word = String::new();
        let mut in_word = false;
        let mut chars = rest[1..].chars();
        let mut depth = 0u32;
        while let Some(c) = chars.next() {
            match c {
                '"' => {
                    in_word = true;
                    while let Some(q) = chars.next() {
                        match q {
                            '\\' => {
                                if let Some(n) = chars.next() {
                                    word.push(n);
                                }
                            }
                            '"' => break,
                            _ => word.push(q),
                        }
                    }
                }
                '#' => {
                    for n in chars.by_ref() {
                        if n == '\n' {
                            break;
                        }
                    }
                }
                '(' => {
                    depth += 1;
                    in_word = true;
                    word.push(c);
                }
                ')' if depth > 0 => {
                    depth -= 1;
                    word.push(c);
                }
                ')' => break,
                c if c.is_whitespace() => {
                    if in_word {
                        args.push(std::mem::take(&mut word));
                        in_word = false;
                    }
                }
                _ => {
                    in_word = true;
                    word.push(c);
                }
            }
        }
        if in_word {
            args.push(word);
        }
        calls.push(args);
    }
    calls
}

fn parse_cmake_config_types(text: &str, types: &mut BTreeMap<String, KType>) {
    let name_ok =
        |n: &str| !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    for (func, ty, at) in [
        ("config_option", KType::Bool, 1),
        ("config_string", KType::Int, 1),
        ("config_choice", KType::Int, 1),
        ("config_set", KType::Undeclared, 1),
        ("declare_platform", KType::Bool, 2),
    ] {
        for args in cmake_calls(text, func) {
            if let Some(name) = args.get(at).filter(|n| name_ok(n)) {
                let t = types.entry(name.clone()).or_insert(ty);
                if *t == KType::Undeclared {
                    *t = ty;
                }
            }
            if func == "config_choice" {
                // "value;CacheName;CONFIG_NAME[;condition...]"
                for choice in args.iter().skip(3) {
                    let parts: Vec<&str> = choice.split(';').collect();
                    if parts.len() >= 3 && name_ok(parts[2]) {
                        types.entry(parts[2].to_string()).or_insert(KType::Bool);
                    }
                }
            }
        }
    }
}

/// Kconfig symbol types of a 5.x tree (`Kconfig`, `src/**/Kconfig`,
/// `libsel4/Kconfig`); empty when the tree has none.
fn read_kconfig_types(source_dir: &Path) -> BTreeMap<String, KType> {
    let mut files = Vec::new();
    for f in ["Kconfig", "libsel4/Kconfig"] {
        let p = source_dir.join(f);
        if p.is_file() {
            files.push(p);
        }
    }
    collect_named(&source_dir.join("src"), "Kconfig", &mut files, 4);
    let mut types = BTreeMap::new();
    for f in files {
        if let Ok(text) = std::fs::read_to_string(&f) {
            parse_kconfig_types(&text, &mut types);
        }
    }
    types
}

fn collect_named(dir: &Path, name: &str, out: &mut Vec<PathBuf>, depth: u32) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() && depth > 0 {
            collect_named(&p, name, out, depth - 1);
        } else if p.file_name().is_some_and(|n| n == name) {
            out.push(p);
        }
    }
}

fn parse_kconfig_types(text: &str, types: &mut BTreeMap<String, KType>) {
    let mut current: Option<String> = None;
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let Some(first) = words.next() else { continue };
        match first {
            "config" | "menuconfig" => current = words.next().map(str::to_string),
            "choice" | "endchoice" | "menu" | "endmenu" | "if" | "endif" | "source" | "comment" => {
                current = None
            }
            "bool" | "def_bool" | "tristate" | "int" | "def_int" | "hex" | "string" => {
                if let Some(name) = current.take() {
                    let ty = match first {
                        "int" | "def_int" | "hex" => KType::Int,
                        "string" => KType::Str,
                        _ => KType::Bool,
                    };
                    types.entry(name).or_insert(ty);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn autoconf_values() {
        let text = r#"
#define AUTOCONF_INCLUDED
#define CONFIG_ARCH_X86 1
#define CONFIG_MAX_NUM_NODES 4
#define CONFIG_DOMAIN_SCHEDULE ""
#define CONFIG_NAME "abc" /* comment */
#define CONFIG_EMPTY
#define CONFIG_HEX 0x10
  # define CONFIG_Y y
#define NOT_CONFIG 3
"#;
        let c = Config::parse_autoconf(text);
        assert_eq!(c.get("CONFIG_ARCH_X86"), Some(&Value::Bool(true)));
        assert_eq!(c.get("MAX_NUM_NODES"), Some(&Value::Int(4)));
        assert_eq!(
            c.get("CONFIG_DOMAIN_SCHEDULE"),
            Some(&Value::Str(String::new()))
        );
        assert_eq!(c.get("CONFIG_NAME"), Some(&Value::Str("abc".into())));
        assert_eq!(c.get("CONFIG_EMPTY"), Some(&Value::Bool(true)));
        assert_eq!(c.get("CONFIG_HEX"), Some(&Value::Int(16)));
        assert_eq!(c.get("CONFIG_Y"), Some(&Value::Bool(true)));
        assert!(c.get("NOT_CONFIG").is_none());
        assert_eq!(c.len(), 7);
        assert!(c.is_defined("CONFIG_ARCH_X86"));
        assert!(!c.is_defined("CONFIG_VTX"));
        assert_eq!(c.int("CONFIG_MAX_NUM_NODES"), 4);
    }

    #[test]
    fn kconfig_types_make_one_an_int() {
        let mut types = BTreeMap::new();
        parse_kconfig_types(
            "config MAX_NUM_NODES\n    int \"n\"\n    default 1\nconfig FOO\n    depends on X\n    bool \"foo\"\n",
            &mut types,
        );
        assert_eq!(types.get("MAX_NUM_NODES"), Some(&KType::Int));
        assert_eq!(types.get("FOO"), Some(&KType::Bool));
        let c = Config::parse_autoconf_typed(
            "#define CONFIG_MAX_NUM_NODES 1\n#define CONFIG_FOO 1\n",
            &types,
        );
        assert_eq!(c.get("CONFIG_MAX_NUM_NODES"), Some(&Value::Int(1)));
        assert_eq!(c.get("CONFIG_FOO"), Some(&Value::Bool(true)));
    }

    #[test]
    fn gen_config_json() {
        let c = Config::parse_gen_config_json(
            r#"{"KERNEL_MCS": false, "MAX_NUM_NODES": "1", "ARCH": "x86", "N": 3, "S": ""}"#,
        )
        .unwrap();
        assert_eq!(c.get("CONFIG_KERNEL_MCS"), Some(&Value::Bool(false)));
        assert!(!c.is_defined("CONFIG_KERNEL_MCS"));
        assert_eq!(c.get("CONFIG_MAX_NUM_NODES"), Some(&Value::Int(1)));
        assert_eq!(c.get("CONFIG_ARCH"), Some(&Value::Str("x86".into())));
        assert_eq!(c.get("CONFIG_N"), Some(&Value::Int(3)));
        assert!(c.is_defined("CONFIG_S"));
        assert!(Config::parse_gen_config_json("[1]").is_err());
    }

    #[test]
    fn cmake_config_types() {
        let text = r#"
config_string(
    KernelMaxNumNodes MAX_NUM_NODES "Max number of CPU cores (a \"quote\" and a paren ( )"
    DEFAULT 1
    DEPENDS "${max_num_nodes_depends}"
    UNQUOTE
)
config_option(KernelFastpath FASTPATH "Enable fastpath" DEFAULT ON)
# config_string(KernelCommented COMMENTED "not a declaration")
config_choice(
    LibSel4FunctionAttributes
    LIB_SEL4_FUNCTION_ATTRIBUTE
    "Function attributes"
    "inline;LibSel4FunctionAttributeInline;LIB_SEL4_INLINE_INVOCATIONS"
    "public;LibSel4FunctionAttributePublic;LIB_SEL4_PUBLIC_SYMBOLS;KernelArchX86"
)
my_config_option(KernelNot NOT_THIS "x")
config_set(KernelWordSize WORD_SIZE 64)
"#;
        let mut platforms = BTreeMap::new();
        parse_cmake_config_types(
            "declare_platform(pc99 KernelPlatPC99 PLAT_PC99 KernelArchX86)\n",
            &mut platforms,
        );
        assert_eq!(platforms.get("PLAT_PC99"), Some(&KType::Bool));
        let mut types = BTreeMap::new();
        parse_cmake_config_types(text, &mut types);
        assert_eq!(types.get("MAX_NUM_NODES"), Some(&KType::Int));
        assert_eq!(types.get("FASTPATH"), Some(&KType::Bool));
        assert_eq!(types.get("LIB_SEL4_FUNCTION_ATTRIBUTE"), Some(&KType::Int));
        assert_eq!(types.get("LIB_SEL4_INLINE_INVOCATIONS"), Some(&KType::Bool));
        assert_eq!(types.get("LIB_SEL4_PUBLIC_SYMBOLS"), Some(&KType::Bool));
        assert_eq!(types.get("COMMENTED"), None);
        assert_eq!(types.get("NOT_THIS"), None);
        assert_eq!(types.get("WORD_SIZE"), Some(&KType::Undeclared));
        assert_eq!(types.len(), 6);
        // A 12.x gen_config.h: `1` is a number for config_string options.
        let c = Config::parse_autoconf_typed(
            "#define CONFIG_MAX_NUM_NODES 1\n#define CONFIG_FASTPATH 1\n\
             #define CONFIG_LIB_SEL4_FUNCTION_ATTRIBUTE inline\n#define CONFIG_WORD_SIZE 64\n\
             #define CONFIG_KERNEL_OPT_LEVEL -O2",
            &types,
        );
        assert_eq!(c.get("CONFIG_MAX_NUM_NODES"), Some(&Value::Int(1)));
        assert_eq!(c.get("CONFIG_FASTPATH"), Some(&Value::Bool(true)));
        assert_eq!(
            c.get("CONFIG_LIB_SEL4_FUNCTION_ATTRIBUTE"),
            Some(&Value::Str("inline".into()))
        );
        assert_eq!(c.get("CONFIG_WORD_SIZE"), Some(&Value::Int(64)));
        assert_eq!(
            c.get("CONFIG_KERNEL_OPT_LEVEL"),
            Some(&Value::Str("-O2".into()))
        );
    }

    #[test]
    fn c_ints() {
        assert_eq!(parse_c_int("12"), Some(12));
        assert_eq!(parse_c_int("0x1fUL"), Some(31));
        assert_eq!(parse_c_int("010"), Some(8));
        assert_eq!(parse_c_int("0"), Some(0));
        assert_eq!(parse_c_int("-1"), Some(-1));
        assert_eq!(parse_c_int("x86"), None);
        assert_eq!(parse_c_int(""), None);
    }

    #[test]
    fn comments() {
        assert_eq!(strip_c_comments("a /* b */ c // d").trim(), "a   c");
    }
}
