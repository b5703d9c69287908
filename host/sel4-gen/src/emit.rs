//! Rust source output (shape fixed in docs/design.md, "Generated API of
//! sel4-sys").  Deterministic: same inputs, same bytes.

use std::fmt::Write;

use kernel_config::Value;

use crate::bitfield::Block;
use crate::Tables;

const ALLOW: &str = "#[allow(non_camel_case_types, non_upper_case_globals, non_snake_case, dead_code, clippy::all)]";
const DERIVE: &str = "#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]";

/// `DebugPutChar` -> `DEBUG_PUT_CHAR`, split as the kernel's
/// `syscall_header_gen.py` does (`[A-Z][A-Z]?[^A-Z]*`): `NBSend` -> `NB_SEND`.
pub fn screaming_snake(name: &str) -> String {
    let c: Vec<char> = name.chars().collect();
    let mut words: Vec<String> = Vec::new();
    let mut i = 0;
    // leading non-uppercase text is its own word
    if i < c.len() && !c[i].is_ascii_uppercase() {
        let st = i;
        while i < c.len() && !c[i].is_ascii_uppercase() {
            i += 1;
        }
        words.push(c[st..i].iter().collect());
    }
    while i < c.len() {
        let st = i;
        i += 1;
        if i < c.len() && c[i].is_ascii_uppercase() {
            i += 1;
        }
        while i < c.len() && !c[i].is_ascii_uppercase() {
            i += 1;
        }
        words.push(c[st..i].iter().collect());
    }
    words
        .iter()
        .map(|w| w.trim_matches('_').to_ascii_uppercase())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("_")
}

/// `capsUnwrapped` -> `caps_unwrapped`, `IPCBuffer` -> `ipc_buffer`.
pub fn snake_case(name: &str) -> String {
    let c: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for i in 0..c.len() {
        let ch = c[i];
        if ch.is_ascii_uppercase() && i > 0 {
            let prev = c[i - 1];
            let next_lower = c.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower)
            {
                out.push('_');
            }
        }
        out.push(ch.to_ascii_lowercase());
    }
    out
}

const KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for",
    "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
    "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where",
    "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
];

/// A valid Rust identifier for `name`.
fn ident(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    if KEYWORDS.contains(&s.as_str()) {
        if matches!(s.as_str(), "self" | "Self" | "super" | "crate") {
            s.push('_');
        } else {
            s.insert_str(0, "r#");
        }
    }
    s
}

/// A C-like enum with `from_*`, `name()`, `ALL` and `TryFrom`.
fn enum_block(
    out: &mut String,
    doc: &str,
    name: &str,
    repr: &str,
    variants: &[(String, i128)],
    extra_consts: &[(String, String, String)],
) {
    let _ = writeln!(out, "/// {doc}");
    let _ = writeln!(out, "{ALLOW}");
    let _ = writeln!(out, "{DERIVE}");
    let _ = writeln!(out, "#[repr({repr})]");
    let _ = writeln!(out, "pub enum {name} {{");
    for (v, n) in variants {
        let _ = writeln!(out, "    {} = {},", ident(v), n);
    }
    let _ = writeln!(out, "}}\n");
    let _ = writeln!(out, "{ALLOW}");
    let _ = writeln!(out, "impl {name} {{");
    let _ = writeln!(out, "    /// Every value, in numeric order.");
    let _ = writeln!(out, "    pub const ALL: &'static [{name}] = &[");
    let mut sorted: Vec<&(String, i128)> = variants.iter().collect();
    sorted.sort_by_key(|x| x.1);
    for (v, _) in &sorted {
        let _ = writeln!(out, "        {name}::{},", ident(v));
    }
    let _ = writeln!(out, "    ];");
    for (cname, ty, val) in extra_consts {
        let _ = writeln!(out, "    pub const {cname}: {ty} = {val};");
    }
    let _ = writeln!(out, "    /// The value with number `v`, if there is one.");
    let _ = writeln!(
        out,
        "    pub const fn from_{repr}(v: {repr}) -> core::option::Option<{name}> {{"
    );
    let _ = writeln!(out, "        match v {{");
    for (v, n) in variants {
        let _ = writeln!(
            out,
            "            {n} => core::option::Option::Some({name}::{}),",
            ident(v)
        );
    }
    let _ = writeln!(out, "            _ => core::option::Option::None,");
    let _ = writeln!(out, "        }}");
    let _ = writeln!(out, "    }}");
    let _ = writeln!(
        out,
        "    /// The kernel's name (without the `seL4_` prefix)."
    );
    let _ = writeln!(out, "    pub const fn name(self) -> &'static str {{");
    let _ = writeln!(out, "        match self {{");
    for (v, _) in variants {
        let _ = writeln!(out, "            {name}::{} => {:?},", ident(v), v);
    }
    let _ = writeln!(out, "        }}");
    let _ = writeln!(out, "    }}");
    let _ = writeln!(out, "}}\n");
    let _ = writeln!(out, "impl core::convert::TryFrom<{repr}> for {name} {{");
    let _ = writeln!(out, "    type Error = {repr};");
    let _ = writeln!(
        out,
        "    fn try_from(v: {repr}) -> core::result::Result<{name}, {repr}> {{"
    );
    let _ = writeln!(out, "        match {name}::from_{repr}(v) {{");
    let _ = writeln!(
        out,
        "            core::option::Option::Some(x) => core::result::Result::Ok(x),"
    );
    let _ = writeln!(
        out,
        "            core::option::Option::None => core::result::Result::Err(v),"
    );
    let _ = writeln!(out, "        }}");
    let _ = writeln!(out, "    }}");
    let _ = writeln!(out, "}}\n");
    let _ = writeln!(out, "impl core::convert::From<{name}> for {repr} {{");
    let _ = writeln!(out, "    fn from(v: {name}) -> {repr} {{");
    let _ = writeln!(out, "        v as {repr}");
    let _ = writeln!(out, "    }}");
    let _ = writeln!(out, "}}\n");
}

fn bitfield_block(out: &mut String, b: &Block) {
    let ty = if b.base == 64 { "u64" } else { "u32" };
    let name = ident(b.name.strip_prefix("seL4_").unwrap_or(&b.name));
    let layout = b.layout();
    let _ = writeln!(out, "/// `{}` (bitfield block, {} bits):", b.name, b.base);
    for l in &layout {
        let _ = writeln!(
            out,
            "/// `{}` bits {}..{},",
            l.name,
            l.shift,
            l.shift + l.bits
        );
    }
    let _ = writeln!(out, "{ALLOW}");
    let _ = writeln!(
        out,
        "#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]"
    );
    let _ = writeln!(out, "#[repr(transparent)]");
    let _ = writeln!(out, "pub struct {name}(pub {ty});\n");
    let _ = writeln!(out, "{ALLOW}");
    let _ = writeln!(out, "impl {name} {{");
    for l in &layout {
        let f = snake_case(&l.name).to_ascii_uppercase();
        let mask = if l.bits >= b.base {
            u64::MAX >> (64 - b.base)
        } else {
            (1u64 << l.bits) - 1
        };
        let _ = writeln!(out, "    pub const {f}_SHIFT: u32 = {};", l.shift);
        let _ = writeln!(out, "    pub const {f}_BITS: u32 = {};", l.bits);
        let _ = writeln!(out, "    pub const {f}_MASK: {ty} = {mask:#x};");
    }
    let args: Vec<String> = layout
        .iter()
        .map(|l| format!("{}: {ty}", ident(&snake_case(&l.name))))
        .collect();
    let _ = writeln!(
        out,
        "    /// A value with every field set (each must fit its width)."
    );
    let _ = writeln!(
        out,
        "    pub const fn new({}) -> {name} {{",
        args.join(", ")
    );
    let _ = write!(out, "        {name}(0)");
    for l in &layout {
        let _ = write!(
            out,
            ".with_{0}({1})",
            snake_case(&l.name),
            ident(&snake_case(&l.name))
        );
    }
    let _ = writeln!(out, "\n    }}");
    for l in &layout {
        let f = snake_case(&l.name);
        let up = f.to_ascii_uppercase();
        let _ = writeln!(out, "    pub const fn get_{f}(&self) -> {ty} {{");
        let _ = writeln!(
            out,
            "        (self.0 >> Self::{up}_SHIFT) & Self::{up}_MASK"
        );
        let _ = writeln!(out, "    }}");
        let _ = writeln!(
            out,
            "    /// Panics in debug builds when `v` does not fit the field."
        );
        let _ = writeln!(out, "    pub const fn with_{f}(self, v: {ty}) -> {name} {{");
        let _ = writeln!(
            out,
            "        debug_assert!(v & !Self::{up}_MASK == 0, \"{}.{}: value does not fit\");",
            b.name, l.name
        );
        let _ = writeln!(
            out,
            "        {name}((self.0 & !(Self::{up}_MASK << Self::{up}_SHIFT)) | ((v & Self::{up}_MASK) << Self::{up}_SHIFT))"
        );
        let _ = writeln!(out, "    }}");
        let _ = writeln!(
            out,
            "    /// Panics in debug builds when `v` does not fit the field."
        );
        let _ = writeln!(out, "    pub fn set_{f}(&mut self, v: {ty}) {{");
        let _ = writeln!(out, "        *self = self.with_{f}(v);");
        let _ = writeln!(out, "    }}");
    }
    let _ = writeln!(out, "}}\n");
}

/// Writes the Rust source for the tables.
pub fn emit(t: &Tables) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "// Generated by sel4-gen from the interface files of seL4 {} ({}/{}/{}). Do not edit.\n",
        t.version, t.arch, t.sel4_arch, t.plat
    );
    let _ = writeln!(
        out,
        "/// Version of the kernel these tables were generated for."
    );
    let _ = writeln!(out, "pub const KERNEL_VERSION: &str = {:?};", t.version);
    let _ = writeln!(
        out,
        "pub const KERNEL_VERSION_MAJOR: u32 = {};",
        t.version_major
    );
    let _ = writeln!(out, "pub const KERNEL_ARCH: &str = {:?};", t.arch);
    let _ = writeln!(out, "pub const KERNEL_SEL4_ARCH: &str = {:?};", t.sel4_arch);
    let _ = writeln!(out, "pub const KERNEL_PLAT: &str = {:?};\n", t.plat);

    // config
    let _ = writeln!(
        out,
        "/// Every `CONFIG_` value of the configured kernel, prefix stripped."
    );
    let _ = writeln!(out, "{ALLOW}");
    let _ = writeln!(out, "pub mod config {{");
    for (k, v) in t.config.iter() {
        let name = k.strip_prefix("CONFIG_").unwrap_or(k);
        if name.is_empty() {
            continue;
        }
        let name = ident(name);
        let _ = match v {
            Value::Bool(b) => writeln!(out, "    pub const {name}: bool = {b};"),
            Value::Int(n) if *n >= 0 && *n <= u64::MAX as i128 => {
                writeln!(out, "    pub const {name}: usize = {n};")
            }
            Value::Int(n) if *n < 0 && *n >= i64::MIN as i128 => {
                writeln!(out, "    pub const {name}: isize = {n};")
            }
            Value::Int(n) => writeln!(out, "    pub const {name}: &str = \"{n}\";"),
            Value::Str(s) => writeln!(out, "    pub const {name}: &str = {s:?};"),
        };
    }
    let _ = writeln!(out, "}}\n");

    // syscalls
    let enabled: Vec<(String, i128)> = t
        .syscalls
        .enabled()
        .map(|s| (s.name.clone(), s.number as i128))
        .collect();
    enum_block(
        &mut out,
        &format!(
            "Syscall numbers of the configured kernel (syscall.xml, `<{}>` and `<debug>`; enabled ones only).",
            t.syscalls.api_block
        ),
        "Syscall",
        "isize",
        &enabled,
        &[],
    );
    let _ = writeln!(
        out,
        "/// Every syscall named in syscall.xml: `Some` when the configured kernel has it."
    );
    let _ = writeln!(out, "{ALLOW}");
    let _ = writeln!(out, "pub mod syscall_opt {{");
    for n in &t.syscalls.all_names {
        let val = if t.syscalls.number(n).is_some() {
            format!("core::option::Option::Some(super::Syscall::{})", ident(n))
        } else {
            "core::option::Option::None".to_string()
        };
        let _ = writeln!(
            out,
            "    pub const {}: core::option::Option<super::Syscall> = {val};",
            screaming_snake(n)
        );
    }
    let _ = writeln!(out, "}}\n");

    // invocation labels
    let labels: Vec<(String, i128)> = t
        .invocations
        .labels
        .iter()
        .map(|(n, v)| (n.clone(), *v as i128))
        .collect();
    enum_block(
        &mut out,
        "Invocation labels (interface XML method ids, conditions evaluated): generic, then sel4_arch, then arch.",
        "InvocationLabel",
        "usize",
        &labels,
        &[
            ("nInvocationLabels".into(), "usize".into(), t.invocations.n_generic.to_string()),
            (
                "nSeL4ArchInvocationLabels".into(),
                "usize".into(),
                t.invocations.n_sel4_arch.to_string(),
            ),
            ("nArchInvocationLabels".into(), "usize".into(), t.invocations.n_arch.to_string()),
        ],
    );

    // errors
    let errors: Vec<(String, i128)> = t
        .errors
        .iter()
        .map(|(n, v)| (n.clone(), *v as i128))
        .collect();
    enum_block(
        &mut out,
        "`seL4_Error` (errors.h).",
        "Error",
        "usize",
        &errors,
        &[("NumErrors".into(), "usize".into(), t.num_errors.to_string())],
    );

    // object types
    let objs: Vec<(String, i128)> = t
        .object_types
        .iter()
        .map(|(n, v)| (n.clone(), *v as i128))
        .collect();
    let counts: Vec<(String, String, String)> = t
        .object_type_counts
        .iter()
        .map(|(n, v)| (ident(n), "usize".to_string(), v.to_string()))
        .collect();
    enum_block(
        &mut out,
        "Object types (objecttype.h of the api, sel4_arch and arch levels, `#if`s evaluated).",
        "ObjectType",
        "usize",
        &objs,
        &counts,
    );

    // constants
    let _ = writeln!(
        out,
        "/// Numeric `seL4_` constants of the constants.h headers, prefix stripped."
    );
    let _ = writeln!(out, "{ALLOW}");
    let _ = writeln!(out, "pub mod consts {{");
    for (k, v) in &t.constants {
        let name = ident(k);
        if *v >= 0 && *v <= u64::MAX as i128 {
            let _ = writeln!(out, "    pub const {name}: usize = {v};");
        } else if *v < 0 && *v >= i64::MIN as i128 {
            let _ = writeln!(out, "    pub const {name}: isize = {v};");
        }
    }
    let _ = writeln!(out, "}}\n");

    // initial capability slots
    let _ = writeln!(
        out,
        "/// Initial capability slots of the root task's CNode (bootinfo_types.h), prefix stripped."
    );
    let _ = writeln!(out, "{ALLOW}");
    let _ = writeln!(out, "pub mod init_caps {{");
    for (k, v) in &t.init_caps {
        let _ = writeln!(out, "    pub const {}: usize = {v};", ident(k));
    }
    let _ = writeln!(out, "}}\n");

    // bitfields
    for b in &t.bitfields {
        bitfield_block(&mut out, b);
    }

    api_items(&mut out, t);
    cfg_if_macro(&mut out, t);
    out
}

/// Object type of a capability marker: `<C name>Object`, else the
/// exceptions (`CNode` -> `CapTableObject`, `X86_Page` -> `X86_4K`).
fn object_type_for(c_type: &str, t: &Tables) -> Option<String> {
    let base = c_type.strip_prefix("seL4_").unwrap_or(c_type);
    let has = |n: &str| t.object_types.iter().any(|(o, _)| o == n);
    let mut cands = vec![format!("{base}Object")];
    match base {
        "CNode" => cands.push("CapTableObject".into()),
        "X86_Page" => cands.push("X86_4K".into()),
        "ARM_Page" => cands.push("ARM_SmallPageObject".into()),
        "RISCV_Page" => cands.push("RISCV_4K_Page".into()),
        _ => {}
    }
    cands.into_iter().find(|c| has(c))
}

/// `seL4_<x>Bits` of a fixed-size object type, if the constants have it.
fn size_bits_for(c_type: &str, t: &Tables) -> Option<String> {
    let base = c_type.strip_prefix("seL4_").unwrap_or(c_type);
    let short = ["X86_", "X64_", "ARM_", "AARCH64_", "RISCV_"]
        .iter()
        .find_map(|p| base.strip_prefix(p))
        .unwrap_or(base);
    let mut cands = vec![format!("{base}Bits"), format!("{short}Bits")];
    if short == "PageDirectory" {
        cands.push("PageDirBits".into());
    }
    cands.into_iter().find(|c| t.constants.contains_key(c))
}

/// The typed-capability API: capability markers, word structs, bitfield
/// word types, one method per XML method, fault labels.
fn api_items(out: &mut String, t: &Tables) {
    // types the XML refers to that are not generated elsewhere
    if !t.bitfields.iter().any(|b| b.name == "seL4_CapData") {
        let _ = writeln!(
            out,
            "/// `seL4_CapData_t` (a one-word tagged union of badge and guard data in this kernel).\n\
             {ALLOW}\n#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]\n#[repr(transparent)]\n\
             pub struct CapData(pub u64);\n"
        );
        // the badge form: the `Badge` block's tag bit 0 and its `Badge` field
        if let Some(l) = t
            .other_blocks
            .iter()
            .find(|b| b.name == "Badge")
            .and_then(|b| b.layout().into_iter().find(|l| l.name == "Badge"))
        {
            let _ = writeln!(
                out,
                "/// A badge as `seL4_CapData_t` (`seL4_CapData_Badge_new`): fails for badges wider than\n\
                 /// the {bits}-bit `Badge` field.\n\
                 impl core::convert::TryFrom<u64> for CapData {{\n    type Error = u64;\n    \
                 fn try_from(badge: u64) -> core::result::Result<CapData, u64> {{\n        \
                 if badge >> {bits} != 0 {{ return core::result::Result::Err(badge); }}\n        \
                 core::result::Result::Ok(CapData(badge << {shift}))\n    }}\n}}\n",
                bits = l.bits,
                shift = l.shift
            );
        }
    }
    let mut aliases: Vec<String> = Vec::new();
    for m in &t.methods {
        for p in &m.params {
            if let Ok(crate::api::Kind::WordAlias { rust }) = t.types.kind(&p.ty) {
                if !aliases.contains(&rust) {
                    aliases.push(rust);
                }
            }
        }
    }
    for (name, vals) in &t.word_enums {
        if t.bitfields
            .iter()
            .any(|b| b.name.strip_prefix("seL4_") == Some(name.as_str()))
        {
            continue;
        }
        if !aliases.contains(name) {
            aliases.push(name.clone());
        }
        let _ = vals;
    }
    aliases.sort();
    for name in &aliases {
        let _ = writeln!(
            out,
            "/// `seL4_{name}`: a word-sized C enum of the kernel's types.h."
        );
        let _ = writeln!(out, "{ALLOW}");
        let _ = writeln!(
            out,
            "#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]"
        );
        let _ = writeln!(out, "#[repr(transparent)]");
        let _ = writeln!(out, "pub struct {}(pub crate::Word);\n", ident(name));
        if let Some((_, vals)) = t.word_enums.iter().find(|(n, _)| n == name) {
            let prefix = match name.rfind('_') {
                Some(i) => &name[..=i],
                None => "",
            };
            let _ = writeln!(out, "{ALLOW}");
            let _ = writeln!(out, "impl {} {{", ident(name));
            for (v, n) in vals {
                if *n < 0 {
                    continue;
                }
                let short = v.strip_prefix(prefix).unwrap_or(v);
                let _ = writeln!(
                    out,
                    "    /// `seL4_{v}`\n    pub const {}: {} = {}({n});",
                    ident(short),
                    ident(name),
                    ident(name)
                );
            }
            let _ = writeln!(out, "}}\n");
        }
    }
    crate::api::emit_structs(out, &t.types);

    // capability markers
    let mut markers: Vec<(String, String)> = Vec::new(); // (marker, C name)
    let mut add = |c: &str| {
        let m = crate::api::marker_name(c);
        if !markers.iter().any(|(x, _)| *x == m) {
            markers.push((m, c.to_string()));
        }
    };
    for f in &t.api_files {
        for i in &f.interfaces {
            add(i);
        }
        for m in &f.methods {
            for p in &m.params {
                if let Ok(crate::api::Kind::Cap { marker: Some(_) }) = t.types.kind(&p.ty) {
                    add(&p.ty);
                }
            }
        }
    }
    add("seL4_Endpoint");
    add("seL4_Notification");
    add("seL4_Null");
    if t.config.is_defined("CONFIG_KERNEL_MCS") {
        add("seL4_Reply");
        add("seL4_SchedContext");
    }
    markers.sort();
    let _ = writeln!(
        out,
        "/// Zero-sized markers for the kinds of capability: one per interface of the\n\
         /// kernel's XML (and capability type its methods take), plus `Endpoint`,\n\
         /// `Notification`, `Null` and (MCS) `Reply`."
    );
    let _ = writeln!(out, "pub mod cap_type {{");
    for (m, c) in &markers {
        let obj = object_type_for(c, t);
        let _ = writeln!(out, "    /// `{c}` capabilities.");
        let _ = writeln!(
            out,
            "    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]"
        );
        let _ = writeln!(out, "    pub struct {m};");
        let _ = writeln!(out, "    impl crate::CapType for {m} {{");
        let _ = writeln!(out, "        const NAME: &'static str = {m:?};");
        let _ = writeln!(
            out,
            "        const OBJECT_TYPE: core::option::Option<super::ObjectType> = {};",
            match &obj {
                Some(o) => format!(
                    "core::option::Option::Some(super::ObjectType::{})",
                    ident(o)
                ),
                None => "core::option::Option::None".into(),
            }
        );
        let _ = writeln!(out, "    }}");
        if let (Some(o), Some(b)) = (&obj, size_bits_for(c, t)) {
            let _ = writeln!(out, "    impl crate::FixedSize for {m} {{");
            let _ = writeln!(
                out,
                "        const TYPE: super::ObjectType = super::ObjectType::{};",
                ident(o)
            );
            let _ = writeln!(
                out,
                "        const SIZE_BITS: usize = super::consts::{} as usize;",
                ident(&b)
            );
            let _ = writeln!(out, "    }}");
        }
    }
    let _ = writeln!(out, "}}\n");

    // methods
    if let Err(e) = crate::api::emit_methods(out, &t.methods, &t.types, &t.invocations.labels) {
        // `collect` planned every method already; this cannot fail then.
        let _ = writeln!(out, "compile_error!({:?});", e);
    }

    // fault labels
    let tags: Vec<(String, i128)> = t
        .fault_tags
        .iter()
        .map(|(n, v)| (n.clone(), *v as i128))
        .collect();
    enum_block(
        out,
        "Fault message labels: the tags of the `seL4_Fault` tagged union (bitfield files, `#if`s evaluated).",
        "FaultLabel",
        "usize",
        &tags,
        &[],
    );
}

/// `sel4_cfg_if!`: compile one branch or the other depending on whether the
/// configured kernel has a config option (true), a syscall, an invocation
/// label, an object type or an initial capability slot. The branch not taken
/// is dropped before name resolution, so it may name items this kernel does
/// not have.
fn cfg_if_macro(out: &mut String, t: &Tables) {
    let mut arms: Vec<(&str, String)> = Vec::new();
    for (k, v) in t.config.iter() {
        let name = k.strip_prefix("CONFIG_").unwrap_or(k);
        let on = match v {
            Value::Bool(b) => *b,
            Value::Int(n) => *n != 0,
            Value::Str(s) => !s.is_empty(),
        };
        if on && !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            arms.push(("config", name.to_string()));
        }
    }
    for s in t.syscalls.enabled() {
        arms.push(("syscall", s.name.clone()));
    }
    for (n, _) in &t.invocations.labels {
        arms.push(("label", n.clone()));
    }
    for (n, _) in &t.object_types {
        arms.push(("object", n.clone()));
    }
    for (n, _) in &t.init_caps {
        arms.push(("init_cap", n.clone()));
    }
    arms.sort();
    arms.dedup();
    let _ = writeln!(
        out,
        "/// Compiles `{{ then }}` when the configured kernel has the named item, `{{ else }}` otherwise.\n\
         ///\n\
         /// Kinds: `config NAME` (a `CONFIG_` option without the prefix that is on), `syscall Name`,\n\
         /// `label Name` (invocation label), `object Name` (object type), `init_cap Name`.\n\
         /// The branch not taken is dropped unexpanded, so it may use names this kernel lacks.\n\
         ///\n\
         /// ```ignore\n\
         /// sel4_sys::sel4_cfg_if! {{ label X86IOPortControlIssue {{ /* 10+ */ }} else {{ /* 5.x */ }} }}\n\
         /// ```"
    );
    let _ = writeln!(out, "#[macro_export]");
    let _ = writeln!(out, "macro_rules! sel4_cfg_if {{");
    for (kind, name) in &arms {
        let _ = writeln!(
            out,
            "    ({kind} {name} {{ $($then:tt)* }} $(else {{ $($else:tt)* }})?) => {{ $($then)* }};"
        );
    }
    let _ = writeln!(
        out,
        "    ($kind:ident $name:ident {{ $($then:tt)* }} $(else {{ $($else:tt)* }})?) => {{ $($($else)*)? }};"
    );
    let _ = writeln!(out, "}}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(screaming_snake("DebugPutChar"), "DEBUG_PUT_CHAR");
        assert_eq!(screaming_snake("NBSend"), "NB_SEND");
        assert_eq!(screaming_snake("NBRecv"), "NB_RECV");
        assert_eq!(screaming_snake("VMEnter"), "VM_ENTER");
        assert_eq!(screaming_snake("Call"), "CALL");
        assert_eq!(snake_case("capsUnwrapped"), "caps_unwrapped");
        assert_eq!(snake_case("label"), "label");
        assert_eq!(snake_case("capAllowGrantReply"), "cap_allow_grant_reply");
        assert_eq!(snake_case("IP"), "ip");
        assert_eq!(snake_case("IPCBuffer"), "ipc_buffer");
        assert_eq!(ident("type"), "r#type");
        assert_eq!(ident("4K"), "_4K");
        assert_eq!(ident("X86_4K"), "X86_4K");
    }
}
