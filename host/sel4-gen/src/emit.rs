//! Rust source output (shape fixed in docs/design.md, "Generated API of
//! sel4-sys"): token trees built with `quote!`, formatted with prettyplease.
//! Deterministic: same inputs, same bytes.

use kernel_config::Value;
use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::quote;

use crate::bitfield::{Block, WordUnion};
use crate::names::NameSet;
use crate::Tables;

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

/// The text of a valid Rust identifier for `name` (`type` -> `r#type`,
/// `4K` -> `_4K`, `self` -> `self_`).
pub fn ident_text(name: &str) -> String {
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

/// A valid Rust identifier for `name` (see [`ident_text`]).
pub fn ident(name: &str) -> Ident {
    let s = ident_text(name);
    match s.strip_prefix("r#") {
        Some(raw) => Ident::new_raw(raw, Span::call_site()),
        None => Ident::new(&s, Span::call_site()),
    }
}

/// Width of doc comment text: with `/// ` and up to 8 columns of
/// indentation, a line stays within rustfmt's 100 columns.
const DOC_WIDTH: usize = 86;

/// Doc attributes for `text`: its lines, long ones wrapped at spaces
/// (code blocks between ``` lines are kept as they are).
pub fn doc(text: &str) -> TokenStream {
    let mut lines: Vec<String> = Vec::new();
    let mut in_code = false;
    for l in text.lines() {
        if l.trim_start().starts_with("```") {
            in_code = !in_code;
        }
        if in_code || l.len() <= DOC_WIDTH {
            lines.push(l.to_string());
            continue;
        }
        let mut cur = String::new();
        for w in l.split(' ') {
            if !cur.is_empty() && cur.len() + 1 + w.len() > DOC_WIDTH {
                lines.push(std::mem::take(&mut cur));
            }
            if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(w);
        }
        lines.push(cur);
    }
    let lines = lines.iter().map(|l| {
        if l.is_empty() {
            String::new()
        } else {
            format!(" {l}")
        }
    });
    quote!(#(#[doc = #lines])*)
}

/// An integer literal, with a leading minus for negative values.
fn int(v: i128) -> TokenStream {
    let lit = Literal::u128_unsuffixed(v.unsigned_abs());
    if v < 0 {
        quote!(-#lit)
    } else {
        quote!(#lit)
    }
}

fn hex(v: u64) -> Literal {
    format!("{v:#x}")
        .parse()
        .expect("a hexadecimal literal is a literal")
}

/// The lints the kernel's names break (`X86_4K`, `nInvocationLabels`).
fn allow() -> TokenStream {
    quote!(#[allow(non_camel_case_types, non_upper_case_globals, non_snake_case, dead_code)])
}

/// A C-like enum with `from_*`, `name()`, `ALL` and `TryFrom`; each
/// variant documented with `variant_doc(kernel name)`.
fn enum_block(
    doc_text: &str,
    name: &str,
    repr: &str,
    variants: &[(String, i128)],
    extra_consts: &[(String, usize, String)],
    variant_doc: &dyn Fn(&str) -> String,
) -> TokenStream {
    let (allow, d) = (allow(), doc(doc_text));
    let (name, repr_t) = (ident(name), ident(repr));
    let from = ident(&format!("from_{repr}"));
    let vs = variants.iter().map(|(v, n)| {
        let vd = doc(&variant_doc(v));
        let (v, n) = (ident(v), int(*n));
        quote!(#vd #v = #n)
    });
    let mut sorted: Vec<&(String, i128)> = variants.iter().collect();
    sorted.sort_by_key(|x| x.1);
    let all = sorted.iter().map(|(v, _)| ident(v));
    let extra = extra_consts.iter().map(|(c, v, d)| {
        let (c, v, d) = (ident(c), Literal::usize_unsuffixed(*v), doc(d));
        quote!(#d pub const #c: usize = #v;)
    });
    let from_arms = variants.iter().map(|(v, n)| {
        let (v, n) = (ident(v), int(*n));
        quote!(#n => core::option::Option::Some(#name::#v),)
    });
    let name_arms = variants.iter().map(|(v, _)| {
        let s = v.as_str();
        let v = ident(v);
        quote!(#name::#v => #s,)
    });
    quote! {
        #d
        #allow
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(#repr_t)]
        pub enum #name { #(#vs),* }

        #allow
        impl #name {
            /// Every value, in numeric order.
            pub const ALL: &'static [#name] = &[#(#name::#all),*];
            #(#extra)*
            /// The value with number `v`, if there is one.
            pub const fn #from(v: #repr_t) -> core::option::Option<#name> {
                match v {
                    #(#from_arms)*
                    _ => core::option::Option::None,
                }
            }
            /// The kernel's name (without the `seL4_` prefix).
            pub const fn name(self) -> &'static str {
                match self { #(#name_arms)* }
            }
        }

        impl core::convert::TryFrom<#repr_t> for #name {
            type Error = #repr_t;
            fn try_from(v: #repr_t) -> core::result::Result<#name, #repr_t> {
                match #name::#from(v) {
                    core::option::Option::Some(x) => core::result::Result::Ok(x),
                    core::option::Option::None => core::result::Result::Err(v),
                }
            }
        }

        impl core::convert::From<#name> for #repr_t {
            fn from(v: #name) -> #repr_t {
                v as #repr_t
            }
        }
    }
}

/// The mask of a field of `bits` bits in a word of `base` bits.
fn field_mask(bits: u32, base: u32) -> u64 {
    if bits >= base {
        u64::MAX >> (64 - base)
    } else {
        (1u64 << bits) - 1
    }
}

/// The Rust integer type of a block's word.
fn word_type(base: u32) -> Ident {
    ident(if base == 64 { "u64" } else { "u32" })
}

/// A one-word bitfield block: a transparent word with per-field constants,
/// getters, `with_`/`set_` setters, `new` (fields must fit, checked in
/// debug builds) and `try_new` (`None` when a field does not fit).
fn bitfield_block(b: &Block) -> TokenStream {
    let ty = word_type(b.base);
    let name = ident(b.name.strip_prefix("seL4_").unwrap_or(&b.name));
    let layout = b.layout();
    let mut text = format!("`{}` (bitfield block, {} bits):", b.name, b.base);
    for l in &layout {
        text.push_str(&format!(
            "\n`{}` bits {}..{},",
            l.name,
            l.shift,
            l.shift + l.bits
        ));
    }
    let (d, allow) = (doc(&text), allow());
    let mut consts = Vec::new();
    let mut accessors = Vec::new();
    for l in &layout {
        let f = snake_case(&l.name);
        let up = f.to_ascii_uppercase();
        let (shift_c, bits_c, mask_c) = (
            ident(&format!("{up}_SHIFT")),
            ident(&format!("{up}_BITS")),
            ident(&format!("{up}_MASK")),
        );
        let (shift, bits, mask) = (
            Literal::u32_unsuffixed(l.shift),
            Literal::u32_unsuffixed(l.bits),
            hex(field_mask(l.bits, b.base)),
        );
        let (d_shift, d_bits, d_mask, d_get) = (
            doc(&format!(
                "Bit position of the lowest bit of `{}` in `{}`.",
                l.name, b.name
            )),
            doc(&format!("Width of `{}` in bits.", l.name)),
            doc(&format!(
                "Mask of `{}`'s bits (shifted down to bit 0).",
                l.name
            )),
            doc(&format!(
                "The `{}` field (`{}_get_{}`).",
                l.name, b.name, l.name
            )),
        );
        consts.push(quote! {
            #d_shift
            pub const #shift_c: u32 = #shift;
            #d_bits
            pub const #bits_c: u32 = #bits;
            #d_mask
            pub const #mask_c: #ty = #mask;
        });
        let (get, with, set) = (
            ident(&format!("get_{f}")),
            ident(&format!("with_{f}")),
            ident(&format!("set_{f}")),
        );
        let msg = format!("{}.{}: value does not fit", b.name, l.name);
        accessors.push(quote! {
            #d_get
            pub const fn #get(&self) -> #ty {
                (self.0 >> Self::#shift_c) & Self::#mask_c
            }
            /// Panics in debug builds when `v` does not fit the field.
            pub const fn #with(self, v: #ty) -> #name {
                debug_assert!(v & Self::#mask_c == v, #msg);
                #name((self.0 & !(Self::#mask_c << Self::#shift_c)) | ((v & Self::#mask_c) << Self::#shift_c))
            }
            /// Panics in debug builds when `v` does not fit the field.
            pub fn #set(&mut self, v: #ty) {
                *self = self.#with(v);
            }
        });
    }
    let args: Vec<Ident> = layout.iter().map(|l| ident(&snake_case(&l.name))).collect();
    let withs = layout
        .iter()
        .map(|l| ident(&format!("with_{}", snake_case(&l.name))));
    let masks = layout.iter().map(|l| {
        ident(&format!(
            "{}_MASK",
            snake_case(&l.name).to_ascii_uppercase()
        ))
    });
    let args2 = args.clone();
    let args3 = args.clone();
    quote! {
        #d
        #allow
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        #[repr(transparent)]
        pub struct #name(pub #ty);

        #allow
        impl #name {
            #(#consts)*
            /// A value with every field set (each must fit its width).
            pub const fn new(#(#args: #ty),*) -> #name {
                #name(0)#(.#withs(#args2))*
            }
            /// A value with every field set, or `None` when a value does
            /// not fit its field.
            pub const fn try_new(#(#args3: #ty),*) -> core::option::Option<#name> {
                if #( #args3 & !Self::#masks != 0 )||* {
                    return core::option::Option::None;
                }
                core::option::Option::Some(#name::new(#(#args3),*))
            }
            #(#accessors)*
        }
    }
}

/// A `tagged_union` of one-word blocks (seL4 5.x's `seL4_CapData`): a
/// transparent word with one constructor per tag, `new_<tag>` and
/// `try_new_<tag>`, whose arguments are the tag block's fields other than
/// the tag field; the tag field holds the tag's value.
fn word_union(u: &WordUnion) -> TokenStream {
    let name = ident(u.name.strip_prefix("seL4_").unwrap_or(&u.name));
    let ty = word_type(u.base);
    let mut text = format!(
        "`{}_t`: a one-word tagged union (tag field `{}`) of",
        u.name, u.tag_field
    );
    for (tag, value, _) in &u.variants {
        text.push_str(&format!(" `{tag}` ({value}),"));
    }
    text.pop();
    text.push('.');
    let (d, allow) = (doc(&text), allow());
    let mut items = Vec::new();
    for (tag, value, block) in &u.variants {
        let layout = block.layout();
        let Some(tag_l) = layout.iter().find(|l| l.name == u.tag_field) else {
            continue;
        };
        let fields: Vec<_> = layout.iter().filter(|l| l.name != u.tag_field).collect();
        let args: Vec<Ident> = fields.iter().map(|l| ident(&snake_case(&l.name))).collect();
        let masks: Vec<Literal> = fields
            .iter()
            .map(|l| hex(field_mask(l.bits, u.base)))
            .collect();
        // the word: the tag's value in the tag field, each field in place
        let mut parts = Vec::new();
        if *value != 0 {
            let (v, shift) = (hex(*value), Literal::u32_unsuffixed(tag_l.shift));
            parts.push(quote!((#v << #shift)));
        }
        for ((l, a), m) in fields.iter().zip(&args).zip(&masks) {
            let shift = Literal::u32_unsuffixed(l.shift);
            parts.push(if l.shift == 0 {
                quote!(#a & #m)
            } else {
                quote!((#a & #m) << #shift)
            });
        }
        if parts.is_empty() {
            parts.push(quote!(0));
        }
        if parts.len() > 1 {
            parts = parts.into_iter().map(|p| quote!((#p))).collect();
        }
        let (new, try_new) = (
            ident(&format!("new_{}", snake_case(tag))),
            ident(&format!("try_new_{}", snake_case(tag))),
        );
        let d_new = doc(&format!(
            "`seL4_{tag}_new`: the `{tag}` form (fields must fit, checked in debug builds)."
        ));
        let d_try = doc(&format!(
            "The `{tag}` form, or `None` when a value does not fit its field."
        ));
        let msg = format!("{}: a {tag} field does not fit", u.name);
        let fits = if args.is_empty() {
            quote!(true)
        } else {
            quote!(#( #args & !#masks == 0 )&&*)
        };
        items.push(quote! {
            #d_try
            pub const fn #try_new(#(#args: #ty),*) -> core::option::Option<#name> {
                if #fits {
                    core::option::Option::Some(#name(#(#parts)|*))
                } else {
                    core::option::Option::None
                }
            }
            #d_new
            pub const fn #new(#(#args: #ty),*) -> #name {
                debug_assert!(#name::#try_new(#(#args),*).is_some(), #msg);
                #name(#(#parts)|*)
            }
        });
    }
    // A union with a one-field `Badge` form (5.x's seL4_CapData) takes a
    // badge word where the XML has it, as libsel4's `seL4_CapData_Badge_new`.
    let badge = u.variants.iter().any(|(tag, _, b)| {
        tag == "Badge" && b.layout().iter().filter(|l| l.name != u.tag_field).count() == 1
    });
    let from_badge = if badge {
        quote! {
            /// A badge in the `Badge` form; fails (giving the badge back) when
            /// it is wider than the form's badge field.
            impl core::convert::TryFrom<#ty> for #name {
                type Error = #ty;
                fn try_from(badge: #ty) -> core::result::Result<#name, #ty> {
                    match #name::try_new_badge(badge) {
                        core::option::Option::Some(d) => core::result::Result::Ok(d),
                        core::option::Option::None => core::result::Result::Err(badge),
                    }
                }
            }
        }
    } else {
        quote!()
    };
    quote! {
        #d
        #allow
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        #[repr(transparent)]
        pub struct #name(pub #ty);

        #allow
        impl #name { #(#items)* }

        #from_badge
    }
}

/// A constant with the type its value fits, documented with `doc_text`.
fn value_const(name: &str, v: &Value, doc_text: &str) -> TokenStream {
    let (n, d) = (ident(name), doc(doc_text));
    match v {
        Value::Bool(b) => quote!(#d pub const #n: bool = #b;),
        Value::Int(i) if *i >= 0 && *i <= u64::MAX as i128 => {
            let i = int(*i);
            quote!(#d pub const #n: usize = #i;)
        }
        Value::Int(i) if *i < 0 && *i >= i64::MIN as i128 => {
            let i = int(*i);
            quote!(#d pub const #n: isize = #i;)
        }
        Value::Int(i) => {
            let s = i.to_string();
            quote!(#d pub const #n: &str = #s;)
        }
        Value::Str(s) => quote!(#d pub const #n: &str = #s;),
    }
}

/// Writes the Rust source for the tables.
pub fn emit(t: &Tables) -> String {
    let tokens = items(t);
    let file: syn::File = syn::parse2(tokens).unwrap_or_else(|e| {
        panic!("sel4-gen: the generated tokens are not a Rust file (a sel4-gen bug): {e}")
    });
    let text = prettyplease::unparse(&file);
    let mut out = format!(
        "// Generated by sel4-gen from the interface files of seL4 {} ({}/{}/{}). Do not edit.\n\n",
        t.version, t.arch, t.sel4_arch, t.plat
    );
    // A blank line between top-level items.
    let mut prev = "";
    for line in text.lines() {
        let top = !line.starts_with(' ') && !line.is_empty();
        let prev_ends_item = prev == "}"
            || prev == "};"
            || (prev.ends_with(';') && !prev.starts_with([' ', '/', '#']));
        // and between the items of an impl block or module
        let inner_item = prev == "    }" && line.starts_with("    ") && !line.starts_with("    }");
        if (top && prev_ends_item) || inner_item {
            out.push('\n');
        }
        out.push_str(line);
        out.push('\n');
        prev = line;
    }
    out
}

/// Every generated item.
fn items(t: &Tables) -> TokenStream {
    let mut out = TokenStream::new();
    let (version, major, arch, sel4_arch, plat) = (
        t.version.as_str(),
        Literal::u32_unsuffixed(t.version_major),
        t.arch.as_str(),
        t.sel4_arch.as_str(),
        t.plat.as_str(),
    );
    out.extend(quote! {
        /// Version of the kernel these tables were generated for.
        pub const KERNEL_VERSION: &str = #version;
        /// Major version of the kernel (5 for seL4 5.0.0).
        pub const KERNEL_VERSION_MAJOR: u32 = #major;
        /// The kernel's architecture (`x86`, `arm`, `riscv`).
        pub const KERNEL_ARCH: &str = #arch;
        /// The kernel's sel4_arch (`x86_64`, `aarch64`, `riscv64`, ...).
        pub const KERNEL_SEL4_ARCH: &str = #sel4_arch;
        /// The kernel's platform (`pc99`, `qemu-arm-virt`, ...).
        pub const KERNEL_PLAT: &str = #plat;
    });

    // config
    let values = t.config.iter().filter_map(|(k, v)| {
        let name = k.strip_prefix("CONFIG_").unwrap_or(k);
        let d = match v {
            Value::Bool(_) => {
                format!("`{k}` of the kernel configuration (true: the option is on).")
            }
            _ => format!("`{k}` of the kernel configuration."),
        };
        (!name.is_empty()).then(|| value_const(name, v, &d))
    });
    let allow = allow();
    out.extend(quote! {
        /// Every `CONFIG_` value of the configured kernel, prefix stripped.
        #allow
        pub mod config { #(#values)* }
    });

    // syscalls
    let enabled: Vec<(String, i128)> = t
        .syscalls
        .enabled()
        .map(|s| (s.name.clone(), s.number as i128))
        .collect();
    out.extend(enum_block(
        &format!(
            "Syscall numbers of the configured kernel (syscall.xml, `<{}>` and `<debug>`; enabled ones only).",
            t.syscalls.api_block
        ),
        "Syscall",
        "isize",
        &enabled,
        &[],
        &|n| format!("`seL4_Sys{n}`."),
    ));
    let opts = t.syscalls.all_names.iter().map(|n| {
        let c = ident(&screaming_snake(n));
        let v = if t.syscalls.number(n).is_some() {
            let v = ident(n);
            quote!(Some(Syscall::#v))
        } else {
            quote!(None)
        };
        let d = doc(&format!(
            "`seL4_Sys{n}`: `Some` when the configured kernel has it."
        ));
        quote!(#d pub const #c: Option<Syscall> = #v;)
    });
    out.extend(quote! {
        /// Every syscall named in syscall.xml: `Some` when the configured kernel has it.
        #allow
        pub mod syscall_opt {
            use super::Syscall;
            use core::option::Option::{self, None, Some};
            #(#opts)*
        }
    });

    // invocation labels
    let labels: Vec<(String, i128)> = t
        .invocations
        .labels
        .iter()
        .map(|(n, v)| (n.clone(), *v as i128))
        .collect();
    out.extend(enum_block(
        "Invocation labels (interface XML method ids, conditions evaluated): generic, then sel4_arch, then arch.",
        "InvocationLabel",
        "usize",
        &labels,
        &[
            (
                "nInvocationLabels".into(),
                t.invocations.n_generic,
                "First label after the generic ones.".into(),
            ),
            (
                "nSeL4ArchInvocationLabels".into(),
                t.invocations.n_sel4_arch,
                "First label after the sel4_arch ones.".into(),
            ),
            (
                "nArchInvocationLabels".into(),
                t.invocations.n_arch,
                "Number of labels.".into(),
            ),
        ],
        &|n| match t.methods.iter().find(|m| m.id == n) {
            Some(m) => format!("`{n}`: the label of `seL4_{}`.", m.c_name()),
            None => format!("The invocation label `{n}`."),
        },
    ));

    // errors
    let errors: Vec<(String, i128)> = t
        .errors
        .iter()
        .map(|(n, v)| (n.clone(), *v as i128))
        .collect();
    out.extend(enum_block(
        "`seL4_Error` (errors.h).",
        "Error",
        "usize",
        &errors,
        &[("NumErrors".into(), t.num_errors, "`seL4_NumErrors`.".into())],
        &|n| format!("`seL4_{n}`."),
    ));

    // object types
    let objs: Vec<(String, i128)> = t
        .object_types
        .iter()
        .map(|(n, v)| (n.clone(), *v as i128))
        .collect();
    let counts: Vec<(String, usize, String)> = t
        .object_type_counts
        .iter()
        .map(|(n, v)| (n.clone(), *v, format!("`seL4_{n}`.")))
        .collect();
    out.extend(enum_block(
        "Object types (objecttype.h of the api, sel4_arch and arch levels, `#if`s evaluated).",
        "ObjectType",
        "usize",
        &objs,
        &counts,
        &|n| format!("`seL4_{n}`."),
    ));

    // constants
    let consts = t.constants.iter().filter_map(|(k, v)| {
        let (n, d) = (ident(k), doc(&format!("`seL4_{k}`.")));
        if *v >= 0 && *v <= u64::MAX as i128 {
            let v = int(*v);
            Some(quote!(#d pub const #n: usize = #v;))
        } else if *v < 0 && *v >= i64::MIN as i128 {
            let v = int(*v);
            Some(quote!(#d pub const #n: isize = #v;))
        } else {
            None
        }
    });
    out.extend(quote! {
        /// Numeric `seL4_` constants of the constants.h headers, prefix stripped.
        #allow
        pub mod consts { #(#consts)* }
    });

    // initial capability slots
    let init = t.init_caps.iter().map(|(k, v)| {
        let d = doc(&format!("`seL4_{k}`."));
        let (k, v) = (ident(k), Literal::usize_unsuffixed(*v));
        quote!(#d pub const #k: usize = #v;)
    });
    out.extend(quote! {
        /// Initial capability slots of the root task's CNode (bootinfo_types.h), prefix stripped.
        #allow
        pub mod init_caps { #(#init)* }
    });

    // bitfields
    for b in &t.bitfields {
        out.extend(bitfield_block(b));
    }
    for u in &t.word_unions {
        out.extend(word_union(u));
    }

    out.extend(api_items(t));
    out.extend(cfg_if_macro(t));
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

/// The typed-capability API: word enums, word structs, capability markers,
/// one method per XML method, fault labels.
fn api_items(t: &Tables) -> TokenStream {
    let mut out = TokenStream::new();
    let allow = allow();
    // word-sized enums the XML refers to (and those of types.h)
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
    for (name, _) in &t.word_enums {
        let is_bitfield = t
            .bitfields
            .iter()
            .any(|b| b.name.strip_prefix("seL4_") == Some(name.as_str()));
        if !is_bitfield && !aliases.contains(name) {
            aliases.push(name.clone());
        }
    }
    aliases.sort();
    for name in &aliases {
        let n = ident(name);
        let d = doc(&format!(
            "`seL4_{name}`: a word-sized C enum of the kernel's types.h."
        ));
        out.extend(quote! {
            #d
            #allow
            #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
            #[repr(transparent)]
            pub struct #n(pub crate::Word);
        });
        if let Some((_, vals)) = t.word_enums.iter().find(|(e, _)| e == name) {
            let prefix = match name.rfind('_') {
                Some(i) => &name[..=i],
                None => "",
            };
            let cs = vals.iter().filter(|(_, v)| *v >= 0).map(|(v, val)| {
                let short = ident(v.strip_prefix(prefix).unwrap_or(v));
                let d = doc(&format!("`seL4_{v}`"));
                let val = int(*val);
                quote!(#d pub const #short: #n = #n(#val);)
            });
            out.extend(quote! {
                #allow
                impl #n { #(#cs)* }
            });
        }
    }
    out.extend(crate::api::emit_structs(&t.types));

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
    let marker_items = markers.iter().map(|(m, c)| {
        let obj = object_type_for(c, t);
        let (mi, d) = (ident(m), doc(&format!("`{c}` capabilities.")));
        let obj_t = match &obj {
            Some(o) => {
                let o = ident(o);
                quote!(core::option::Option::Some(super::ObjectType::#o))
            }
            None => quote!(core::option::Option::None),
        };
        let fixed = match (&obj, size_bits_for(c, t)) {
            (Some(o), Some(b)) => {
                let (o, b) = (ident(o), ident(&b));
                quote! {
                    impl crate::FixedSize for #mi {
                        const TYPE: super::ObjectType = super::ObjectType::#o;
                        const SIZE_BITS: usize = super::consts::#b as usize;
                    }
                }
            }
            _ => quote!(),
        };
        quote! {
            #d
            #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
            pub struct #mi;
            impl crate::CapType for #mi {
                const NAME: &'static str = #m;
                const OBJECT_TYPE: core::option::Option<super::ObjectType> = #obj_t;
            }
            #fixed
        }
    });
    out.extend(quote! {
        /// Zero-sized markers for the kinds of capability: one per interface of the
        /// kernel's XML (and capability type its methods take), plus `Endpoint`,
        /// `Notification`, `Null` and (MCS) `Reply` and `SchedContext`.
        pub mod cap_type { #(#marker_items)* }
    });

    // methods (`collect` planned every method already; this cannot fail then)
    match crate::api::emit_methods(&t.methods, &t.types, &t.invocations.labels) {
        Ok(ts) => out.extend(ts),
        Err(e) => out.extend(quote!(compile_error!(#e);)),
    }

    // fault labels
    let tags: Vec<(String, i128)> = t
        .fault_tags
        .iter()
        .map(|(n, v)| (n.clone(), *v as i128))
        .collect();
    out.extend(enum_block(
        "Fault message labels: the tags of the `seL4_Fault` tagged union (bitfield files, `#if`s evaluated).",
        "FaultLabel",
        "usize",
        &tags,
        &[],
        &|n| format!("`seL4_Fault_{n}`."),
    ));
    out
}

/// A `macro_export` macro of the generated file, named `name` through a
/// `pub use` of `name_impl`: the generated file is included by `include!`,
/// and a macro-expanded exported macro may not be named by a path from
/// its own crate (rust-lang/rust#52234), while the re-export may. So every
/// use, also inside `sel4-sys`, goes through the re-export.
fn exported_macro(name: &str, doc_attrs: TokenStream, rules: TokenStream) -> TokenStream {
    let (imp, name) = (ident(&format!("{name}_impl")), ident(name));
    quote! {
        #[doc(hidden)]
        #[macro_export]
        macro_rules! #imp { #rules }
        #doc_attrs
        pub use #imp as #name;
    }
}

/// The hidden per-kind macro of `sel4_cfg_if!`: one arm per known name
/// (the branch this configuration takes), then a compile error for any other
/// name.
fn kind_macro(set: &NameSet, t: &Tables) -> TokenStream {
    let arms = set.names.iter().map(|(n, on)| {
        let n = ident(n);
        if *on {
            quote!((#n { $($t:tt)* } { $($e:tt)* }) => { $($t)* };)
        } else {
            quote!((#n { $($t:tt)* } { $($e:tt)* }) => { $($e)* };)
        }
    });
    let a = format!("sel4_cfg_if!: `{} ", set.kind);
    let b = format!("` is not {} of ", set.what);
    let kernel = format!("seL4 {} ({}/{}): ", t.version, t.arch, t.sel4_arch);
    let c = "check the spelling (the kernel's names without `seL4_`/`CONFIG_`); ";
    let d = "a name of another kernel version needs a version guard: ";
    let e = format!("`sel4_cfg_if! {{ kernel >= N && {} ", set.kind);
    let f = " { .. } else { .. } }`";
    exported_macro(
        &format!("__sel4_cfg_if_{}", set.kind),
        quote!(#[doc(hidden)]),
        quote! {
            #(#arms)*
            ($other:ident $then:tt $else:tt) => {
                compile_error!(concat!(
                    #a, stringify!($other), #b, #kernel, #c, #d, #e, stringify!($other), #f
                ))
            };
        },
    )
}

/// `sel4_cfg_if!`: compile one branch or the other depending on whether the
/// configured kernel has a config option (true), a syscall, an invocation
/// label, an object type or an initial capability slot, or on the kernel's
/// major version. The branch not taken is dropped before name resolution, so
/// it may name items this kernel does not have. Names the kernel tree does
/// not declare at all are compile errors.
fn cfg_if_macro(t: &Tables) -> TokenStream {
    let names = t.names.all();
    let mut kinds = Vec::new();
    let mut helpers = TokenStream::new();
    for set in names {
        let (k, mac) = (
            ident(set.kind),
            ident(&format!("__sel4_cfg_if_{}", set.kind)),
        );
        kinds.push(quote! {
            (#k $name:ident { $($then:tt)* } $(else { $($else:tt)* })?) => {
                $crate::#mac! { $name { $($then)* } { $($($else)*)? } }
            };
        });
        helpers.extend(kind_macro(set, t));
    }
    // kernel >= N: arms for 0..=major take the first branch
    let ge = (0..=t.version_major).map(|v| {
        let v = Literal::u32_unsuffixed(v);
        quote!((#v { $($t:tt)* } { $($e:tt)* }) => { $($t)* };)
    });
    let kinds_list = names.iter().map(|s| s.kind).collect::<Vec<_>>().join(", ");
    let unknown_kind = format!("`: the kinds are {kinds_list}");
    let unknown_kind2 = " and `kernel >= N` (N a major version number)";
    let d = doc(&format!(
        "Compiles `{{ then }}` when the configured kernel (seL4 {v}) has the named item, \
         `{{ else }}` otherwise.\n\
         \n\
         Kinds: `config NAME` (a `CONFIG_` option without the prefix that is on), \
         `syscall Name`, `label Name` (invocation label), `object Name` (object type), \
         `init_cap Name`, and `kernel >= N` (the kernel's major version is at least N). \
         `kernel >= N && <kind> <name>` holds when both do; use it for names that only some \
         kernel versions have.\n\
         \n\
         A name this kernel tree knows but the configuration disables (a config option that \
         is off, a method of another architecture or of MCS) takes `else`. A name the tree \
         does not know at all is a compile error: a misspelling, or a name of another kernel \
         version, which needs the `kernel >= N &&` guard (the name is then checked only on \
         kernels of version N and up). The branch not taken is dropped unexpanded, so it may \
         use names this kernel lacks.\n\
         \n\
         ```ignore\n\
         use sel4_sys::sel4_cfg_if;\n\
         sel4_cfg_if! {{ config KERNEL_MCS {{ /* MCS */ }} else {{ /* not MCS */ }} }}\n\
         sel4_cfg_if! {{ kernel >= 10 && label TCBSetTLSBase {{ /* 10+ */ }} else {{ }} }}\n\
         ```",
        v = t.version
    ));
    let main = exported_macro(
        "sel4_cfg_if",
        quote!(#d #[doc(inline)]),
        quote! {
            (kernel >= $v:tt && $kind:ident $name:ident { $($then:tt)* } $(else { $($else:tt)* })?) => {
                $crate::__sel4_cfg_if_kernel! {
                    $v
                    { $crate::sel4_cfg_if! { $kind $name { $($then)* } else { $($($else)*)? } } }
                    { $($($else)*)? }
                }
            };
            (kernel >= $v:tt { $($then:tt)* } $(else { $($else:tt)* })?) => {
                $crate::__sel4_cfg_if_kernel! { $v { $($then)* } { $($($else)*)? } }
            };
            #(#kinds)*
            ($kind:ident $($rest:tt)*) => {
                compile_error!(concat!(
                    "sel4_cfg_if!: unknown kind `", stringify!($kind), #unknown_kind, #unknown_kind2
                ))
            };
        },
    );
    let kernel = exported_macro(
        "__sel4_cfg_if_kernel",
        quote!(#[doc(hidden)]),
        quote! {
            #(#ge)*
            ($v:literal $then:tt { $($e:tt)* }) => { $($e)* };
            ($v:tt $then:tt $else:tt) => {
                compile_error!(concat!(
                    "sel4_cfg_if!: `kernel >= ", stringify!($v),
                    "` needs a major version number, e.g. `kernel >= 12`"
                ))
            };
        },
    );
    quote! {
        #main
        #kernel
        #helpers
    }
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
        assert_eq!(ident_text("type"), "r#type");
        assert_eq!(ident("type").to_string(), "r#type");
        assert_eq!(ident_text("4K"), "_4K");
        assert_eq!(ident_text("X86_4K"), "X86_4K");
        assert_eq!(ident_text("self"), "self_");
    }

    #[test]
    fn docs_wrap_within_the_width() {
        let long = "word ".repeat(40);
        let d = doc(&format!("short\n{long}\n```\n{long}\n```"));
        let s = d.to_string();
        // the long line is split; the code block line is kept whole
        let attrs = s.matches("doc =").count();
        assert!(attrs >= 5, "{s}");
        assert!(s.contains(long.trim_end()), "{s}");
    }

    #[test]
    fn negative_and_hex_literals() {
        assert_eq!(int(-5).to_string(), "- 5");
        assert_eq!(int(7).to_string(), "7");
        assert_eq!(hex(0x3f).to_string(), "0x3f");
    }
}
