//! The kernel's object API: every method of the interface XML files, with
//! its parameters, marshalled exactly as libsel4's `syscall_stub_gen.py`
//! does, emitted as Rust methods on typed capabilities (`Cap<cap_type::TCB>`
//! and so on).

use std::collections::{BTreeMap, BTreeSet};

use kernel_config::Config;
use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};
use roxmltree::Document;

use crate::emit::{doc, ident};
use crate::interface::Condition;

/// One `<param>` of a method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    /// C type as written (`seL4_Word`, `seL4_CNode`, ...).
    pub ty: String,
    /// `dir="in"` (else `out`).
    pub input: bool,
}

/// One `<method>` of an `<interface>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Method {
    /// C interface type, e.g. `seL4_TCB`.
    pub interface: String,
    /// `name` attribute, e.g. `WriteRegisters`.
    pub name: String,
    /// `id` attribute: the invocation label, e.g. `TCBWriteRegisters`.
    pub id: String,
    pub condition: Condition,
    pub params: Vec<Param>,
}

impl Method {
    /// The C function name without `seL4_`: `TCB_WriteRegisters`.
    pub fn c_name(&self) -> String {
        format!("{}_{}", strip(&self.interface), self.name)
    }

    /// The Rust method name: `tcb_write_registers`, `cnode_copy`,
    /// `x86_page_map`, `untyped_retype`.
    pub fn rust_name(&self) -> String {
        method_name(&self.c_name())
    }
}

/// `TCB_WriteRegisters` -> `tcb_write_registers`; `CNode` is one word.
pub fn method_name(c_name: &str) -> String {
    crate::snake_case(&c_name.replace("CNode", "Cnode"))
}

/// The interfaces, methods and structs of one interface XML file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiFile {
    /// C interface types in file order (`seL4_TCB`, ...), each once.
    pub interfaces: Vec<String>,
    /// Every method as written (conditions not evaluated).
    pub methods: Vec<Method>,
    /// `<struct name>` with its `<member>` names.
    pub structs: Vec<(String, Vec<String>)>,
}

fn strip(n: &str) -> &str {
    n.strip_prefix("seL4_").unwrap_or(n)
}

/// Reads an interface XML file.
pub fn parse_api(xml: &str, what: &str) -> Result<ApiFile, String> {
    let doc = Document::parse(xml).map_err(|e| format!("{what}: invalid XML: {e}"))?;
    let mut f = ApiFile::default();
    for s in doc.descendants().filter(|n| n.has_tag_name("struct")) {
        let name = s
            .attribute("name")
            .ok_or_else(|| format!("{what}: <struct> without a name"))?;
        let members = s
            .children()
            .filter(|c| c.has_tag_name("member"))
            .map(|m| {
                m.attribute("name")
                    .map(str::to_string)
                    .ok_or_else(|| format!("{what}: struct {name}: <member> without a name"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        f.structs.push((name.to_string(), members));
    }
    for itf in doc.descendants().filter(|n| n.has_tag_name("interface")) {
        let iname = itf
            .attribute("name")
            .ok_or_else(|| format!("{what}: <interface> without a name"))?;
        if !f.interfaces.iter().any(|x| x == iname) {
            f.interfaces.push(iname.to_string());
        }
        for m in itf.descendants().filter(|n| n.has_tag_name("method")) {
            let id = m
                .attribute("id")
                .ok_or_else(|| format!("{what}: {iname}: <method> without an id"))?;
            let name = m
                .attribute("name")
                .ok_or_else(|| format!("{what}: method {id} without a name"))?;
            let condition = Condition::of(m).map_err(|e| format!("{what}: method {id}: {e}"))?;
            let mut params = Vec::new();
            for p in m.children().filter(|c| c.has_tag_name("param")) {
                let pname = p
                    .attribute("name")
                    .ok_or_else(|| format!("{what}: method {id}: <param> without a name"))?;
                let ty = p
                    .attribute("type")
                    .ok_or_else(|| format!("{what}: method {id}: param {pname} without a type"))?;
                let input = match p.attribute("dir") {
                    Some("in") => true,
                    Some("out") => false,
                    other => {
                        return Err(format!(
                        "{what}: method {id}: param {pname}: dir must be in or out, not {other:?}"
                    ))
                    }
                };
                params.push(Param {
                    name: pname.to_string(),
                    ty: ty.to_string(),
                    input,
                });
            }
            f.methods.push(Method {
                interface: iname.to_string(),
                name: name.to_string(),
                id: id.to_string(),
                condition,
                params,
            });
        }
    }
    Ok(f)
}

/// The methods whose condition holds for `config`, in file order; a method
/// written twice with the same condition (`duplicate` in the kernel's
/// files) counts once.
pub fn enabled_methods(files: &[&ApiFile], config: &Config) -> Result<Vec<Method>, String> {
    let mut out: Vec<Method> = Vec::new();
    let mut seen: Vec<(String, String, String)> = Vec::new();
    for f in files {
        for m in &f.methods {
            let key = (m.interface.clone(), m.id.clone(), m.condition.to_cpp());
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            if !m.condition.eval(config)? {
                continue;
            }
            if out.iter().any(|o| o.rust_name() == m.rust_name()) {
                return Err(format!(
                    "method {} is enabled twice for this config",
                    m.c_name()
                ));
            }
            out.push(m.clone());
        }
    }
    Ok(out)
}

/// The method ids of one interface file whose condition holds, in file
/// order, as the kernel's `invocation_header_gen.py` lists them: a method id
/// repeated with the same condition counts once (the labels of that file).
pub fn label_ids(f: &ApiFile, config: &Config) -> Result<Vec<String>, String> {
    let mut seen: Vec<(String, String)> = Vec::new();
    let mut out: Vec<String> = Vec::new();
    for m in &f.methods {
        let key = (m.id.clone(), m.condition.to_cpp());
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        if m.condition.eval(config)? {
            if out.contains(&m.id) {
                return Err(format!(
                    "method id {} is enabled twice for this config",
                    m.id
                ));
            }
            out.push(m.id.clone());
        }
    }
    Ok(out)
}

/// How a parameter type travels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// An integer of `bits` bits (`seL4_Word`, `seL4_Uint8`, `int`, ...),
    /// Rust type `rust` (a path such as `crate::Word` or `u8`).
    Int { bits: u32, rust: String },
    /// `seL4_Bool`: one bit in the message, `bool` in Rust.
    Bool,
    /// A one-word bitfield type (`seL4_CapRights_t` -> `CapRights`).
    Bitfield { rust: String },
    /// A word-sized C enum or typedef (`seL4_X86_VMAttributes`).
    WordAlias { rust: String },
    /// A capability: an extra cap of the message. `marker` is the
    /// `cap_type` marker, `None` for plain `seL4_CPtr`.
    Cap { marker: Option<String> },
    /// A struct of words (`seL4_UserContext`), fields in message order.
    Struct { rust: String, fields: Vec<String> },
}

/// Tokens of a Rust path written as text (`crate::Word`, `u8`).
fn path(p: &str) -> TokenStream {
    let parts = p.split("::").map(|s| match s {
        "crate" | "super" | "self" => proc_macro2::Ident::new(s, proc_macro2::Span::call_site()),
        s => ident(s),
    });
    quote!(#(#parts)::*)
}

impl Kind {
    /// Bits the parameter takes in the message.
    pub fn bits(&self, word: u32) -> u32 {
        match self {
            Kind::Int { bits, .. } => *bits,
            Kind::Bool => 1,
            Kind::Bitfield { .. } | Kind::WordAlias { .. } | Kind::Cap { .. } => word,
            Kind::Struct { fields, .. } => word * fields.len() as u32,
        }
    }

    /// Rust type of an input parameter.
    pub fn rust_in(&self) -> TokenStream {
        match self {
            Kind::Int { rust, .. } => path(rust),
            Kind::Bool => quote!(bool),
            Kind::Bitfield { rust } | Kind::WordAlias { rust } => path(rust),
            Kind::Cap { marker: None } => quote!(crate::CPtr),
            Kind::Cap { marker: Some(m) } => {
                let m = ident(m);
                quote!(crate::Cap<cap_type::#m>)
            }
            Kind::Struct { rust, .. } => {
                let r = path(rust);
                quote!(&#r)
            }
        }
    }

    /// Rust type of an output parameter.
    pub fn rust_out(&self) -> TokenStream {
        match self {
            Kind::Struct { rust, .. } => path(rust),
            k => k.rust_in(),
        }
    }
}

/// Marker name of a C capability type: `seL4_X86_Page` -> `X86Page`.
pub fn marker_name(c_type: &str) -> String {
    strip(c_type).replace('_', "")
}

/// Capability types libsel4's stub generator knows (its `CapType`s) for
/// every architecture, besides the interfaces of the XML files.
const KNOWN_CAP_TYPES: &[&str] = &[
    "seL4_CNode",
    "seL4_IRQHandler",
    "seL4_IRQControl",
    "seL4_TCB",
    "seL4_Untyped",
    "seL4_DomainSet",
    "seL4_SchedContext",
    "seL4_SchedControl",
    "seL4_X86_IOPort",
    "seL4_X86_IOPortControl",
    "seL4_X86_ASIDControl",
    "seL4_X86_ASIDPool",
    "seL4_X86_IOSpace",
    "seL4_X86_Page",
    "seL4_X64_PML4",
    "seL4_X86_PDPT",
    "seL4_X86_PageDirectory",
    "seL4_X86_PageTable",
    "seL4_X86_IOPageTable",
    "seL4_X86_VCPU",
    "seL4_X86_EPTPML4",
    "seL4_X86_EPTPDPT",
    "seL4_X86_EPTPD",
    "seL4_X86_EPTPT",
];

/// Type knowledge for marshalling: caps, bitfields, structs.
#[derive(Debug, Clone, Default)]
pub struct Types {
    /// C capability type names (interfaces and known cap types).
    pub caps: BTreeSet<String>,
    /// C bitfield type name (`seL4_CapRights_t`) -> Rust type.
    pub bitfields: BTreeMap<String, String>,
    /// C struct name -> fields, in message order.
    pub structs: BTreeMap<String, Vec<String>>,
    /// Word size in bits.
    pub word: u32,
}

impl Types {
    /// Types for the given XML files; `bitfield_names` are the Rust names of
    /// the generated one-word bitfield types (`CapRights`, ..., and
    /// `CapData` of 5.x's tagged union); `c_structs` are the word structs of
    /// the C headers (authoritative for the struct's length, as the stub
    /// generator's fixed sizes are).
    pub fn new(
        files: &[&ApiFile],
        bitfield_names: &[String],
        c_structs: &[(String, Vec<String>)],
        word: u32,
    ) -> Result<Types, String> {
        let mut t = Types {
            word,
            ..Types::default()
        };
        for c in KNOWN_CAP_TYPES {
            t.caps.insert(c.to_string());
        }
        for f in files {
            for i in &f.interfaces {
                t.caps.insert(i.clone());
            }
            for (name, members) in &f.structs {
                if let Some((_, c)) = c_structs.iter().find(|(n, _)| n == name) {
                    if members.len() < c.len() || members[..c.len()] != c[..] {
                        return Err(format!(
                            "struct {name}: the XML members {members:?} do not start with the C fields {c:?}"
                        ));
                    }
                    t.structs.insert(name.clone(), c.clone());
                }
            }
        }
        for b in bitfield_names {
            t.bitfields.insert(format!("seL4_{b}_t"), b.clone());
        }
        Ok(t)
    }

    /// How a C type travels; unknown types are an error, as in libsel4.
    pub fn kind(&self, ty: &str) -> Result<Kind, String> {
        let int = |bits: u32, rust: &str| Kind::Int {
            bits,
            rust: rust.to_string(),
        };
        Ok(match ty {
            "seL4_Word" => int(self.word, "crate::Word"),
            "long" => int(self.word, "i64"),
            "int" => int(32, "i32"),
            "seL4_Uint8" => int(8, "u8"),
            "seL4_Uint16" => int(16, "u16"),
            "seL4_Uint32" => int(32, "u32"),
            "seL4_Uint64" | "seL4_Time" => int(64, "u64"),
            "seL4_Bool" => Kind::Bool,
            "seL4_CPtr" => Kind::Cap { marker: None },
            "seL4_X86_VMAttributes"
            | "seL4_X86_EPT_VMAttributes"
            | "seL4_ARM_VMAttributes"
            | "seL4_RISCV_VMAttributes"
            | "seL4_VCPUReg" => Kind::WordAlias {
                rust: strip(ty).to_string(),
            },
            _ if self.caps.contains(ty) => Kind::Cap {
                marker: Some(marker_name(ty)),
            },
            _ if self.bitfields.contains_key(ty) => Kind::Bitfield {
                rust: self.bitfields[ty].clone(),
            },
            _ if self.structs.contains_key(ty) => Kind::Struct {
                rust: strip(ty).to_string(),
                fields: self.structs[ty].clone(),
            },
            _ => return Err(format!("unknown parameter type {ty}")),
        })
    }
}

/// Where a parameter goes: (first bit, bits), as libsel4's
/// `get_parameter_positions`: each one aligned to its own size or the
/// word, whichever is smaller.
pub fn positions(sizes: &[u32], word: u32) -> Vec<(u32, u32)> {
    let mut used = 0u32;
    let mut out = Vec::new();
    for &size in sizes {
        let a = size.min(word);
        used = used.div_ceil(a) * a;
        out.push((used, size));
        used += size;
    }
    out
}

/// One input parameter's share of a message word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum In {
    /// The whole word is the parameter (`seL4_Word`, `seL4_Uint64`).
    Word(String),
    /// A word-sized integer of another Rust type: `param as Word`.
    Cast(String),
    /// A small integer or bool: `(param as Word & mask) << shift`.
    Packed {
        param: String,
        mask: u64,
        shift: u32,
    },
    /// A field of a struct of words: `param.field`.
    Field { param: String, field: String },
    /// A bitfield or word enum: `param.0`.
    Inner(String),
}

/// How one output parameter is read from the reply words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Out {
    /// Reply word `word` as it is.
    Word(u32),
    /// Reply word `word` as a word-sized integer of type `rust`.
    Cast { word: u32, rust: String },
    /// Bits `shift..shift + width(mask)` of reply word `word`, as `rust`.
    Packed {
        word: u32,
        shift: u32,
        mask: u64,
        rust: String,
    },
    /// Bit `shift` of reply word `word`.
    Bool { word: u32, shift: u32 },
    /// A struct of words starting at reply word `first`.
    Struct {
        rust: String,
        fields: Vec<String>,
        first: u32,
    },
    /// A bitfield or word enum: `rust(reply word)`.
    Wrap { rust: String, word: u32 },
}

/// The marshalling of one method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Extra capabilities (not the invoked one), in order: (name, kind).
    pub caps: Vec<(String, Kind)>,
    /// Input words: per word, the parameters OR-ed into it.
    pub words: Vec<Vec<In>>,
    /// Outputs: (name, kind, where in the reply).
    pub outputs: Vec<(String, Kind, Out)>,
}

/// A valid Rust identifier for a parameter name.
pub fn param_ident(name: &str) -> String {
    let n = crate::snake_case(name);
    match n.as_str() {
        "type" | "ref" | "fn" | "in" | "match" | "move" | "box" | "loop" | "mod" | "use"
        | "where" | "impl" | "self" | "struct" | "enum" | "trait" | "const" | "static" => {
            format!("{n}_")
        }
        _ => n,
    }
}

/// Whether a Rust integer type is the word itself.
fn is_word(rust: &str) -> bool {
    rust == "crate::Word" || rust == "u64"
}

/// Computes the marshalling of `m`.
pub fn plan(m: &Method, types: &Types) -> Result<Plan, String> {
    let w = types.word;
    let mut caps = Vec::new();
    let mut std_in: Vec<(String, Kind)> = Vec::new();
    let mut outs: Vec<(String, Kind)> = Vec::new();
    for p in &m.params {
        let k = types
            .kind(&p.ty)
            .map_err(|e| format!("{}: param {}: {e}", m.c_name(), p.name))?;
        let id = param_ident(&p.name);
        if !p.input {
            if matches!(k, Kind::Cap { .. }) {
                return Err(format!(
                    "{}: output capability parameters are not supported",
                    m.c_name()
                ));
            }
            outs.push((id, k));
        } else if matches!(k, Kind::Cap { .. }) {
            caps.push((id, k));
        } else {
            std_in.push((id, k));
        }
    }
    let sizes: Vec<u32> = std_in.iter().map(|(_, k)| k.bits(w)).collect();
    let mut words: Vec<Vec<In>> = Vec::new();
    for ((name, k), (first, bits)) in std_in.iter().zip(positions(&sizes, w)) {
        let word = (first / w) as usize;
        let shift = first % w;
        let need = word + (bits.div_ceil(w)).max(1) as usize;
        while words.len() < need {
            words.push(Vec::new());
        }
        match k {
            Kind::Struct { fields, .. } => {
                for (i, f) in fields.iter().enumerate() {
                    words[word + i].push(In::Field {
                        param: name.clone(),
                        field: f.clone(),
                    });
                }
            }
            Kind::Bitfield { .. } | Kind::WordAlias { .. } => {
                words[word].push(In::Inner(name.clone()))
            }
            Kind::Int { rust, .. } if bits == w => words[word].push(if is_word(rust) {
                In::Word(name.clone())
            } else {
                In::Cast(name.clone())
            }),
            Kind::Int { .. } | Kind::Bool => words[word].push(In::Packed {
                param: name.clone(),
                mask: (1u64 << bits) - 1,
                shift,
            }),
            Kind::Cap { .. } => unreachable!("caps are split out above"),
        }
    }
    if let Some(i) = words.iter().position(Vec::is_empty) {
        return Err(format!("{}: message word {i} has no parameter", m.c_name()));
    }
    let sizes: Vec<u32> = outs.iter().map(|(_, k)| k.bits(w)).collect();
    let mut outputs = Vec::new();
    for ((name, k), (first, bits)) in outs.into_iter().zip(positions(&sizes, w)) {
        let word = first / w;
        let shift = first % w;
        let o = match &k {
            Kind::Struct { rust, fields } => Out::Struct {
                rust: rust.clone(),
                fields: fields.clone(),
                first: word,
            },
            Kind::Bitfield { rust } | Kind::WordAlias { rust } => Out::Wrap {
                rust: rust.clone(),
                word,
            },
            Kind::Int { rust, .. } if bits == w => {
                if is_word(rust) {
                    Out::Word(word)
                } else {
                    Out::Cast {
                        word,
                        rust: rust.clone(),
                    }
                }
            }
            Kind::Int { rust, .. } => Out::Packed {
                word,
                shift,
                mask: (1u64 << bits) - 1,
                rust: rust.clone(),
            },
            Kind::Bool => Out::Bool { word, shift },
            Kind::Cap { .. } => unreachable!("rejected above"),
        };
        outputs.push((name, k, o));
    }
    Ok(Plan {
        caps,
        words,
        outputs,
    })
}

fn hex(v: u64) -> Literal {
    format!("{v:#x}")
        .parse()
        .expect("a hexadecimal literal is a literal")
}

impl In {
    /// The Rust expression of this part of a message word.
    pub fn tokens(&self) -> TokenStream {
        match self {
            In::Word(p) => {
                let p = ident(p);
                quote!(#p)
            }
            In::Cast(p) => {
                let p = ident(p);
                quote!((#p as crate::Word))
            }
            In::Packed { param, mask, shift } => {
                let p = ident(param);
                let mask = hex(*mask);
                let v = quote!(((#p as crate::Word) & #mask));
                if *shift == 0 {
                    v
                } else {
                    let shift = Literal::u32_unsuffixed(*shift);
                    quote!((#v << #shift))
                }
            }
            In::Field { param, field } => {
                let (p, f) = (ident(param), ident(field));
                quote!(#p.#f)
            }
            In::Inner(p) => {
                let p = ident(p);
                quote!(#p.0)
            }
        }
    }
}

impl Out {
    /// The Rust expression reading this output from `reply`.
    pub fn tokens(&self) -> TokenStream {
        let rd = |i: u32| {
            let i = Literal::u32_unsuffixed(i);
            quote!(reply.word(#i))
        };
        match self {
            Out::Word(i) => rd(*i),
            Out::Cast { word, rust } => {
                let (r, t) = (rd(*word), path(rust));
                quote!(#r as #t)
            }
            Out::Packed {
                word,
                shift,
                mask,
                rust,
            } => {
                let (r, t, mask) = (rd(*word), path(rust), hex(*mask));
                let v = if *shift == 0 {
                    r
                } else {
                    let shift = Literal::u32_unsuffixed(*shift);
                    quote!((#r >> #shift))
                };
                quote!((#v & #mask) as #t)
            }
            Out::Bool { word, shift } => {
                let r = rd(*word);
                if *shift == 0 {
                    quote!(#r & 1 != 0)
                } else {
                    let shift = Literal::u32_unsuffixed(*shift);
                    quote!((#r >> #shift) & 1 != 0)
                }
            }
            Out::Struct {
                rust,
                fields,
                first,
            } => {
                let t = path(rust);
                let fs = fields.iter().enumerate().map(|(i, f)| {
                    let (f, r) = (ident(f), rd(first + i as u32));
                    quote!(#f: #r)
                });
                quote!(#t { #(#fs),* })
            }
            Out::Wrap { rust, word } => {
                let (t, r) = (path(rust), rd(*word));
                quote!(#t(#r))
            }
        }
    }
}

/// Name of the result struct of a method with several outputs:
/// `TCB_GetBreakpoint` -> `TCBGetBreakpointResult`.
pub fn result_struct_name(m: &Method) -> String {
    format!("{}{}Result", marker_name(&m.interface), m.name)
}

/// The methods, one `impl crate::Cap<cap_type::X>` block per interface,
/// each followed by the result structs of its methods with several outputs.
pub fn emit_methods(
    methods: &[Method],
    types: &Types,
    labels: &[(String, usize)],
) -> Result<TokenStream, String> {
    let mut by_iface: BTreeMap<String, Vec<&Method>> = BTreeMap::new();
    for m in methods {
        by_iface.entry(m.interface.clone()).or_default().push(m);
    }
    let mut out = TokenStream::new();
    for (iface, ms) in &by_iface {
        let marker = ident(&marker_name(iface));
        let mut fns = Vec::new();
        let mut results = Vec::new();
        for m in ms {
            let p = plan(m, types)?;
            if !labels.iter().any(|(n, _)| *n == m.id) {
                return Err(format!("{}: no invocation label {}", m.c_name(), m.id));
            }
            // signature: inputs in XML order
            let mut args = Vec::new();
            for prm in m.params.iter().filter(|p| p.input) {
                let (n, t) = (
                    ident(&param_ident(&prm.name)),
                    types.kind(&prm.ty)?.rust_in(),
                );
                args.push(quote!(#n: #t));
            }
            let ret = match p.outputs.len() {
                0 => quote!(()),
                1 => p.outputs[0].1.rust_out(),
                _ => {
                    let sname = format_ident!("{}", result_struct_name(m));
                    let d = doc(&format!("Results of `seL4_{}`.", m.c_name()));
                    let fields = p.outputs.iter().map(|(n, k, _)| {
                        let (n, t) = (ident(n), k.rust_out());
                        let d = doc(&format!("Output `{n}`."));
                        quote!(#d pub #n: #t)
                    });
                    results.push(quote! {
                        #d
                        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
                        pub struct #sname { #(#fields),* }
                    });
                    quote!(#sname)
                }
            };
            let n_words = p.words.len();
            let d = doc(&format!(
                "`seL4_{}` (label `{}`): {} message word{}{}, {} extra cap{}.",
                m.c_name(),
                m.id,
                n_words,
                if n_words == 1 { "" } else { "s" },
                if n_words > 4 {
                    format!(" ({} in the IPC buffer)", n_words - 4)
                } else {
                    String::new()
                },
                p.caps.len(),
                if p.caps.len() == 1 { "" } else { "s" },
            ));
            let caps = p.caps.iter().map(|(n, k)| {
                let n = ident(n);
                match k {
                    Kind::Cap { marker: None } => quote!(#n),
                    _ => quote!(#n.cptr()),
                }
            });
            let words = p.words.iter().map(|parts| {
                let parts = parts.iter().map(In::tokens);
                quote!(#(#parts)|*)
            });
            let id = ident(&m.id);
            let name = ident(&m.rust_name());
            let call = quote! {
                crate::invocation::call(
                    self.cptr(),
                    InvocationLabel::#id,
                    &[#(#caps),*],
                    &[#(#words),*],
                )?
            };
            let body = match p.outputs.len() {
                0 => quote! {
                    let _reply = #call;
                    core::result::Result::Ok(())
                },
                1 => {
                    let e = p.outputs[0].2.tokens();
                    quote! {
                        let reply = #call;
                        core::result::Result::Ok(#e)
                    }
                }
                _ => {
                    let fs = p.outputs.iter().map(|(n, _, o)| {
                        let (n, e) = (ident(n), o.tokens());
                        quote!(#n: #e)
                    });
                    quote! {
                        let reply = #call;
                        core::result::Result::Ok(#ret { #(#fs),* })
                    }
                }
            };
            fns.push(quote! {
                #d
                #[inline]
                pub fn #name(self, #(#args),*)
                    -> core::result::Result<#ret, crate::InvocationError> {
                    #body
                }
            });
        }
        out.extend(quote! {
            impl crate::Cap<cap_type::#marker> { #(#fns)* }
            #(#results)*
        });
    }
    Ok(out)
}

/// The word structs (`UserContext`, ...) the methods use.
pub fn emit_structs(types: &Types) -> TokenStream {
    let mut out = TokenStream::new();
    for (name, fields) in &types.structs {
        let d = doc(&format!(
            "`{name}`: the C struct of words, fields in message order."
        ));
        let n = ident(strip(name));
        let count = Literal::usize_unsuffixed(fields.len());
        let fs = fields.iter().map(|f| {
            let d = doc(&format!("`{f}`"));
            let f = ident(f);
            quote!(#d pub #f: crate::Word)
        });
        let names = fields.iter().map(|f| Literal::string(f));
        let idents: Vec<_> = fields.iter().map(|f| ident(f)).collect();
        let indices = (0..fields.len()).map(Literal::usize_unsuffixed);
        out.extend(quote! {
            #d
            #[repr(C)]
            #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
            pub struct #n { #(#fs),* }
            impl #n {
                /// Number of words.
                pub const WORDS: usize = #count;
                /// The fields' names, in message order.
                pub const NAMES: [&'static str; #count] = [#(#names),*];
                /// The fields' values, in message order (as [`Self::NAMES`]).
                pub fn words(&self) -> [crate::Word; #count] {
                    [#(self.#idents),*]
                }
                /// The struct from its fields' values in message order.
                pub fn from_words(w: [crate::Word; #count]) -> Self {
                    Self { #(#idents: w[#indices]),* }
                }
            }
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use kernel_config::Value;

    const XML: &str = r#"<api>
  <struct name="seL4_UserContext"><member name="pc"/><member name="sp"/><member name="extra"/></struct>
  <interface name="seL4_CNode">
    <method id="CNodeCopy" name="Copy">
      <param dir="in" name="dest_index" type="seL4_Word"/>
      <param dir="in" name="dest_depth" type="seL4_Uint8"/>
      <param dir="in" name="src_root" type="seL4_CNode"/>
      <param dir="in" name="src_index" type="seL4_Word"/>
      <param dir="in" name="src_depth" type="seL4_Uint8"/>
      <param dir="in" name="rights" type="seL4_CapRights_t"/>
    </method>
  </interface>
  <interface name="seL4_TCB">
    <method id="TCBCopyRegisters" name="CopyRegisters">
      <param dir="in" name="source" type="seL4_TCB"/>
      <param dir="in" name="suspend_source" type="seL4_Bool"/>
      <param dir="in" name="resume_target" type="seL4_Bool"/>
      <param dir="in" name="arch_flags" type="seL4_Uint8"/>
      <param dir="in" name="port" type="seL4_Uint16"/>
    </method>
    <method id="TCBWriteRegisters" name="WriteRegisters">
      <param dir="in" name="resume_target" type="seL4_Bool"/>
      <param dir="in" name="count" type="seL4_Word"/>
      <param dir="in" name="regs" type="seL4_UserContext"/>
      <param dir="in" name="frame" type="seL4_CPtr"/>
    </method>
    <method id="TCBGetBreakpoint" name="GetBreakpoint">
      <condition><config var="CONFIG_HARDWARE_DEBUG_API"/></condition>
      <param dir="in" name="bp_num" type="seL4_Uint16"/>
      <param dir="out" name="vaddr" type="seL4_Word"/>
      <param dir="out" name="type" type="seL4_Word"/>
      <param dir="out" name="is_enabled" type="seL4_Bool"/>
    </method>
    <method id="TCBConfigure" name="Configure">
      <condition><not><config var="CONFIG_KERNEL_MCS"/></not></condition>
      <param dir="in" name="a" type="seL4_Word"/>
    </method>
    <method id="TCBConfigure" name="Configure">
      <condition><config var="CONFIG_KERNEL_MCS"/></condition>
      <param dir="in" name="b" type="seL4_Uint32"/>
    </method>
    <method id="TCBSuspend" name="Suspend"/>
    <method id="TCBSuspend" name="Suspend" duplicate="true"/>
  </interface>
  <interface name="seL4_X86_IOPort">
    <method id="X86IOPortIn8" name="In8">
      <param dir="out" name="result" type="seL4_Uint8"/>
      <param dir="in" name="port" type="seL4_Uint16"/>
    </method>
    <method id="X86IOPortBad" name="Bad">
      <param dir="in" name="port" type="seL4_Nonsense"/>
    </method>
  </interface>
</api>"#;

    fn setup() -> (ApiFile, Types) {
        let f = parse_api(XML, "t.xml").unwrap();
        let c = vec![(
            "seL4_UserContext".to_string(),
            vec!["pc".to_string(), "sp".to_string()],
        )];
        let t = Types::new(&[&f], &["CapRights".to_string()], &c, 64).unwrap();
        (f, t)
    }

    fn method<'a>(f: &'a ApiFile, c: &str, cond: usize) -> &'a Method {
        f.methods
            .iter()
            .filter(|m| m.c_name() == c)
            .nth(cond)
            .unwrap()
    }

    /// Token text without the spaces proc_macro2 puts between tokens.
    fn text(t: TokenStream) -> String {
        t.to_string().replace(' ', "")
    }

    #[test]
    fn names() {
        assert_eq!(method_name("TCB_WriteRegisters"), "tcb_write_registers");
        assert_eq!(method_name("X86_Page_Map"), "x86_page_map");
        assert_eq!(method_name("CNode_Copy"), "cnode_copy");
        assert_eq!(method_name("Untyped_Retype"), "untyped_retype");
        assert_eq!(
            method_name("IRQControl_GetIOAPIC"),
            "irq_control_get_ioapic"
        );
        assert_eq!(method_name("X86_IOPort_In8"), "x86_io_port_in8");
        assert_eq!(marker_name("seL4_X86_PageDirectory"), "X86PageDirectory");
        assert_eq!(marker_name("seL4_X64_PML4"), "X64PML4");
        assert_eq!(param_ident("type"), "type_");
        assert_eq!(param_ident("bufferFrame"), "buffer_frame");
    }

    #[test]
    fn positions_align_to_size_or_word() {
        // bool, bool, u8, u16, word: bits 0, 1, 8, 16, then the next word
        assert_eq!(
            positions(&[1, 1, 8, 16, 64], 64),
            [(0, 1), (1, 1), (8, 8), (16, 16), (64, 64)]
        );
        // a u8 after a word starts a new word; a struct takes whole words
        assert_eq!(positions(&[64, 8, 128], 64), [(0, 64), (64, 8), (128, 128)]);
        assert_eq!(positions(&[8, 32], 32), [(0, 8), (32, 32)]);
    }

    fn packed(param: &str, mask: u64, shift: u32) -> In {
        In::Packed {
            param: param.into(),
            mask,
            shift,
        }
    }

    #[test]
    fn caps_go_apart_and_small_words_pack() {
        let (f, t) = setup();
        let p = plan(method(&f, "CNode_Copy", 0), &t).unwrap();
        assert_eq!(p.caps.len(), 1);
        assert_eq!(p.caps[0].0, "src_root");
        assert_eq!(
            p.words,
            [
                vec![In::Word("dest_index".into())],
                vec![packed("dest_depth", 0xff, 0)],
                vec![In::Word("src_index".into())],
                vec![packed("src_depth", 0xff, 0)],
                vec![In::Inner("rights".into())],
            ]
        );
        assert_eq!(
            text(p.words[1][0].tokens()),
            "((dest_depthascrate::Word)&0xff)"
        );
        let p = plan(method(&f, "TCB_CopyRegisters", 0), &t).unwrap();
        assert_eq!(p.caps.len(), 1);
        assert_eq!(
            p.words,
            [vec![
                packed("suspend_source", 0x1, 0),
                packed("resume_target", 0x1, 1),
                packed("arch_flags", 0xff, 8),
                packed("port", 0xffff, 16),
            ]]
        );
        assert_eq!(
            text(p.words[0][3].tokens()),
            "(((portascrate::Word)&0xffff)<<16)"
        );
    }

    #[test]
    fn structs_spill_past_four_words_and_cptrs_are_caps() {
        let (f, t) = setup();
        let m = method(&f, "TCB_WriteRegisters", 0);
        let p = plan(m, &t).unwrap();
        // bool, count, then the C struct's two fields (the XML's third
        // member is beyond the C struct, as the stub generator's fixed size)
        assert_eq!(p.words.len(), 4);
        assert_eq!(
            p.words[2],
            [In::Field {
                param: "regs".into(),
                field: "pc".into()
            }]
        );
        assert_eq!(text(p.words[3][0].tokens()), "regs.sp");
        assert_eq!(p.caps, [("frame".to_string(), Kind::Cap { marker: None })]);
        let out = text(
            emit_methods(
                std::slice::from_ref(m),
                &t,
                &[("TCBWriteRegisters".into(), 3)],
            )
            .unwrap(),
        );
        assert!(
            out.contains("pubfntcb_write_registers(self,resume_target:bool,count:crate::Word,regs:&UserContext,frame:crate::CPtr)"),
            "{out}"
        );
        assert!(out.contains("&[frame]"), "{out}");
    }

    #[test]
    fn outputs_unpack_from_reply_words() {
        let (f, t) = setup();
        let p = plan(method(&f, "TCB_GetBreakpoint", 0), &t).unwrap();
        let outs: Vec<(&str, String)> = p
            .outputs
            .iter()
            .map(|(n, _, o)| (n.as_str(), text(o.tokens())))
            .collect();
        assert_eq!(
            outs,
            [
                ("vaddr", "reply.word(0)".to_string()),
                ("type_", "reply.word(1)".to_string()),
                ("is_enabled", "reply.word(2)&1!=0".to_string()),
            ]
        );
        let p = plan(method(&f, "X86_IOPort_In8", 0), &t).unwrap();
        assert_eq!(text(p.outputs[0].2.tokens()), "(reply.word(0)&0xff)asu8");
        assert_eq!(p.words.len(), 1);
        let m = method(&f, "TCB_GetBreakpoint", 0);
        let out = text(
            emit_methods(
                std::slice::from_ref(m),
                &t,
                &[("TCBGetBreakpoint".into(), 7)],
            )
            .unwrap(),
        );
        assert!(out.contains("pubstructTCBGetBreakpointResult"), "{out}");
        assert!(
            out.contains("->core::result::Result<TCBGetBreakpointResult,crate::InvocationError>"),
            "{out}"
        );
    }

    #[test]
    fn unknown_types_and_missing_labels_are_errors() {
        let (f, t) = setup();
        let e = plan(method(&f, "X86_IOPort_Bad", 0), &t).unwrap_err();
        assert!(e.contains("seL4_Nonsense"), "{e}");
        let m = method(&f, "CNode_Copy", 0).clone();
        assert!(emit_methods(&[m], &t, &[]).is_err());
    }

    #[test]
    fn conditions_pick_one_method_of_a_name() {
        let (f, _) = setup();
        let mut c = Config::new();
        c.insert("CONFIG_KERNEL_MCS", Value::Bool(false));
        let ms = enabled_methods(&[&f], &c).unwrap();
        let names: Vec<String> = ms.iter().map(Method::rust_name).collect();
        assert_eq!(
            names,
            [
                "cnode_copy",
                "tcb_copy_registers",
                "tcb_write_registers",
                "tcb_configure",
                "tcb_suspend",
                "x86_io_port_in8",
                "x86_io_port_bad"
            ]
        );
        assert_eq!(ms[3].params[0].name, "a");
        c.insert("CONFIG_KERNEL_MCS", Value::Bool(true));
        c.insert("CONFIG_HARDWARE_DEBUG_API", Value::Bool(true));
        let ms = enabled_methods(&[&f], &c).unwrap();
        assert_eq!(ms.len(), 8);
        assert_eq!(ms[4].params[0].name, "b");
    }

    #[test]
    fn label_ids_count_a_repeated_method_once() {
        let (f, _) = setup();
        let mut c = Config::new();
        c.insert("CONFIG_KERNEL_MCS", Value::Bool(false));
        let ids = label_ids(&f, &c).unwrap();
        assert_eq!(
            ids,
            [
                "CNodeCopy",
                "TCBCopyRegisters",
                "TCBWriteRegisters",
                "TCBConfigure",
                "TCBSuspend",
                "X86IOPortIn8",
                "X86IOPortBad"
            ]
        );
        c.insert("CONFIG_KERNEL_MCS", Value::Bool(true));
        assert_eq!(label_ids(&f, &c).unwrap(), ids);
    }

    #[test]
    fn xml_and_c_struct_must_agree() {
        let f = parse_api(XML, "t.xml").unwrap();
        let c = vec![(
            "seL4_UserContext".to_string(),
            vec!["sp".to_string(), "pc".to_string()],
        )];
        assert!(Types::new(&[&f], &[], &c, 64).is_err());
    }
}
