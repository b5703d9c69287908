//! Procedural macros of the seL4 test harness (`sel4-test-harness`).
//!
//! - `#[sel4_test]` marks an ordinary function as a test and emits, next
//!   to it, a `TestDef` constant that describes it (name, module, time
//!   limit, source location).
//! - `collect_tests!()` collects every `#[sel4_test]` of the crate at
//!   build time: it reads the crate's source, starting at `src/main.rs`
//!   (or `src/lib.rs`) and following `mod` declarations, and expands to a
//!   `&[TestDef]` with one entry per test, in source order. The files it
//!   reads are `include_bytes!`-ed so that cargo rebuilds when they change.
//!
//! A test that checks the kernel behaviour of a seL4test test names it,
//! so the harness can count coverage and select it by that name
//! (`sel4-run --filter CNODEOP0009`): `sel4test = "ID"` (repeat it, or
//! give a list, where one test covers several) for a test that checks that
//! behaviour in full, alone or together with the other tests naming the
//! same ID; `sel4test_partly = "ID"` for a test that checks part of it
//! while the rest is missing (reported, not counted as covered):
//!
//! ```ignore
//! #[sel4_test(sel4test = "CNODEOP0009")]
//! fn save_caller(ctx: &mut Ctx) -> TestResult { /* ... */ Ok(()) }
//!
//! #[sel4_test(sel4test = ["SYSCALL0010", "SYSCALL0013"], timeout_ms = 2000)]
//! fn recv_preserves_registers() -> TestResult { /* ... */ Ok(()) }
//! ```
//!
//! A test function takes either nothing or `&mut Ctx` (the harness's
//! per-test context) and returns `TestResult` or `()`:
//!
//! ```ignore
//! use sel4_test_harness::{sel4_test, Ctx, TestResult};
//!
//! #[sel4_test]
//! fn retype_endpoint(ctx: &mut Ctx) -> TestResult { /* ... */ Ok(()) }
//!
//! #[sel4_test(timeout_ms = 2000)]
//! fn hangs_forever() -> TestResult { loop {} }
//! ```
//!
//! Modules that contain tests must be reachable from the crate root (a
//! private `mod` directly in the root is; a nested one must be
//! `pub(crate)`). `#[cfg]` on tests or test modules is not evaluated by the
//! collector; put conditions inside the test and skip at run time instead.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote};
use std::path::{Path, PathBuf};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{parse_macro_input, Expr, FnArg, Item, ItemFn, Lit, LitStr, Meta, ReturnType, Token};

/// The attribute name the collector looks for (last path segment).
const ATTR: &str = "sel4_test";

/// Name of the constant that `#[sel4_test] fn f` emits for `f`.
fn def_ident(f: &syn::Ident) -> syn::Ident {
    format_ident!("__sel4_test_def_{}", f)
}

struct Options {
    timeout_ms: u64,
    /// seL4test IDs this test covers (alone or with others).
    sel4test: Vec<String>,
    /// seL4test IDs this test covers in part.
    sel4test_partly: Vec<String>,
    /// The one architecture the test applies to, and why (`arch =
    /// "x86_64", arch_reason = "..."`): on the others it skips with that
    /// reason, and its function is not compiled.
    arch: Option<LitStr>,
    arch_reason: Option<LitStr>,
}

/// The seL4test test names without a digit (every other one has a
/// number: sel4test's `DEFINE_TEST` lines have this one only).
const NAMES_WITHOUT_DIGITS: &[&str] = &["PREEMPT_REVOKE"];

/// Is `id` a seL4test test name as sel4test spells them: upper-case
/// letters, digits and `_`, starting with a letter and containing a digit
/// (`CNODEOP0009`, `CANCEL_BADGED_SENDS_0001`, `STACK_ALIGNMENT_001`), or
/// one of [`NAMES_WITHOUT_DIGITS`]?
fn is_sel4test_id(id: &str) -> bool {
    let b = id.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_uppercase()
        && (b.iter().any(u8::is_ascii_digit) || NAMES_WITHOUT_DIGITS.contains(&id))
        && b.iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_')
}

/// The IDs of `sel4test = "ID"` or `sel4test = ["ID", ...]`.
fn parse_ids(value: &Expr, key: &str) -> syn::Result<Vec<String>> {
    let lits: Vec<&LitStr> = match value {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(s), ..
        }) => vec![s],
        Expr::Array(a) if !a.elems.is_empty() => a
            .elems
            .iter()
            .map(|e| match e {
                Expr::Lit(syn::ExprLit {
                    lit: Lit::Str(s), ..
                }) => Ok(s),
                other => Err(syn::Error::new_spanned(
                    other,
                    format!("{key} takes string literals: {key} = \"ID\" or [\"ID\", ...]"),
                )),
            })
            .collect::<syn::Result<_>>()?,
        other => {
            return Err(syn::Error::new_spanned(
                other,
                format!(
                "{key} takes a string literal or a non-empty list of them: {key} = \"CNODEOP0009\""
            ),
            ))
        }
    };
    let mut ids = Vec::new();
    for l in lits {
        let id = l.value();
        if !is_sel4test_id(&id) {
            return Err(syn::Error::new_spanned(
                l,
                format!(
                    "{id:?} is not a seL4test test name (upper-case letters, digits and _, \
                     with a digit, as in sel4test's DEFINE_TEST: \"CNODEOP0009\"; \
                     PREEMPT_REVOKE is the one without)"
                ),
            ));
        }
        if ids.contains(&id) {
            return Err(syn::Error::new_spanned(l, format!("{id} is named twice")));
        }
        ids.push(id);
    }
    Ok(ids)
}

fn parse_options(args: TokenStream2) -> syn::Result<Options> {
    let mut o = Options {
        timeout_ms: 0,
        sel4test: Vec::new(),
        sel4test_partly: Vec::new(),
        arch: None,
        arch_reason: None,
    };
    if args.is_empty() {
        return Ok(o);
    }
    let metas = syn::parse::Parser::parse2(Punctuated::<Meta, Token![,]>::parse_terminated, args)?;
    for m in metas {
        match &m {
            Meta::NameValue(nv) if nv.path.is_ident("timeout_ms") => match &nv.value {
                Expr::Lit(syn::ExprLit {
                    lit: Lit::Int(i), ..
                }) => {
                    o.timeout_ms = i.base10_parse()?;
                    if o.timeout_ms == 0 {
                        return Err(syn::Error::new_spanned(i, "timeout_ms must be positive"));
                    }
                }
                other => {
                    return Err(syn::Error::new_spanned(
                        other,
                        "timeout_ms takes an integer literal",
                    ))
                }
            },
            Meta::NameValue(nv) if nv.path.is_ident("sel4test") => {
                o.sel4test.extend(parse_ids(&nv.value, "sel4test")?);
            }
            Meta::NameValue(nv) if nv.path.is_ident("arch") || nv.path.is_ident("arch_reason") => {
                let lit = match &nv.value {
                    Expr::Lit(syn::ExprLit {
                        lit: Lit::Str(s), ..
                    }) if !s.value().is_empty() => s.clone(),
                    other => {
                        return Err(syn::Error::new_spanned(
                            other,
                            "arch and arch_reason take a non-empty string literal: \
                             arch = \"x86_64\", arch_reason = \"I/O ports exist on x86 only\"",
                        ))
                    }
                };
                if nv.path.is_ident("arch") {
                    if !["x86_64", "aarch64", "riscv64"].contains(&lit.value().as_str()) {
                        return Err(syn::Error::new_spanned(
                            &lit,
                            "arch is one of \"x86_64\", \"aarch64\", \"riscv64\"",
                        ));
                    }
                    o.arch = Some(lit);
                } else {
                    o.arch_reason = Some(lit);
                }
            }
            Meta::NameValue(nv) if nv.path.is_ident("sel4test_partly") => {
                o.sel4test_partly
                    .extend(parse_ids(&nv.value, "sel4test_partly")?);
            }
            _ => {
                return Err(syn::Error::new_spanned(
                    m,
                    "unknown #[sel4_test] option (known: timeout_ms = <milliseconds>, \
                     sel4test = \"ID\", sel4test_partly = \"ID\", arch = \"x86_64\", \
                     arch_reason = \"...\")",
                ))
            }
        }
    }
    if o.arch.is_some() != o.arch_reason.is_some() {
        return Err(err(
            "arch and arch_reason go together: the architecture a test applies to and why \
             (the reason its skip names elsewhere)"
                .into(),
        ));
    }
    for (i, id) in o.sel4test.iter().enumerate() {
        if o.sel4test[..i].contains(id) {
            return Err(err(format!("sel4test ID {id} is named twice")));
        }
        if o.sel4test_partly.contains(id) {
            return Err(err(format!(
                "sel4test ID {id} is given both as sel4test and sel4test_partly: a test covers it in full or in part"
            )));
        }
    }
    for (i, id) in o.sel4test_partly.iter().enumerate() {
        if o.sel4test_partly[..i].contains(id) {
            return Err(err(format!("sel4test_partly ID {id} is named twice")));
        }
    }
    Ok(o)
}

/// Marks a function as a test of the seL4 test harness.
///
/// Options: `timeout_ms = <n>` (the test's time limit; the harness's
/// default otherwise); `sel4test = "ID"` / `sel4test = ["ID", ...]` (the
/// seL4test tests whose behaviour it checks); `sel4test_partly = ...` (the
/// seL4test tests whose behaviour it checks in part).
#[proc_macro_attribute]
pub fn sel4_test(args: TokenStream, input: TokenStream) -> TokenStream {
    let opts = match parse_options(args.into()) {
        Ok(o) => o,
        Err(e) => return e.to_compile_error().into(),
    };
    let func = parse_macro_input!(input as ItemFn);
    match expand_test(opts, func) {
        Ok(t) => t.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn expand_test(opts: Options, func: ItemFn) -> syn::Result<TokenStream2> {
    let sig = &func.sig;
    if sig.asyncness.is_some() || sig.unsafety.is_some() || sig.constness.is_some() {
        return Err(syn::Error::new_spanned(
            sig,
            "a #[sel4_test] function is a plain fn (not async, unsafe or const)",
        ));
    }
    if !sig.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &sig.generics,
            "a #[sel4_test] function takes no generic parameters",
        ));
    }
    let name = &sig.ident;
    let call = match sig.inputs.len() {
        0 => quote!(#name()),
        1 => {
            if let Some(FnArg::Receiver(r)) = sig.inputs.first() {
                return Err(syn::Error::new_spanned(r, "a test is not a method"));
            }
            quote!(#name(ctx))
        }
        _ => {
            return Err(syn::Error::new_spanned(
                &sig.inputs,
                "a #[sel4_test] function takes no argument or `&mut Ctx`",
            ))
        }
    };
    let ctx_arg = if sig.inputs.is_empty() {
        quote!(_ctx)
    } else {
        quote!(ctx)
    };
    if let ReturnType::Type(_, ty) = &sig.output {
        if let syn::Type::ImplTrait(_) = &**ty {
            return Err(syn::Error::new_spanned(
                ty,
                "a #[sel4_test] function returns TestResult or ()",
            ));
        }
    }
    let def = def_ident(name);
    let wrap = format_ident!("__sel4_test_run_{}", name);
    let timeout = opts.timeout_ms;
    let name_str = LitStr::new(&name.to_string(), name.span());
    let ids = opts
        .sel4test
        .iter()
        .map(|i| LitStr::new(i, Span::call_site()));
    let partly = opts
        .sel4test_partly
        .iter()
        .map(|i| LitStr::new(i, Span::call_site()));
    let run = match (&opts.arch, &opts.arch_reason) {
        (Some(arch), Some(reason)) => quote! {
            #[cfg(target_arch = #arch)]
            #func

            #[doc(hidden)]
            #[cfg(target_arch = #arch)]
            fn #wrap(#ctx_arg: &mut ::sel4_test_harness::Ctx) -> ::sel4_test_harness::TestResult {
                ::sel4_test_harness::IntoTestResult::into_test_result(#call)
            }

            #[doc(hidden)]
            #[cfg(not(target_arch = #arch))]
            fn #wrap(_ctx: &mut ::sel4_test_harness::Ctx) -> ::sel4_test_harness::TestResult {
                ::core::result::Result::Err(::sel4_test_harness::Failure::Skip(
                    ::sel4_test_harness::__private::format!("{} only: {}", #arch, #reason),
                ))
            }
        },
        _ => quote! {
            #func

            #[doc(hidden)]
            fn #wrap(#ctx_arg: &mut ::sel4_test_harness::Ctx) -> ::sel4_test_harness::TestResult {
                ::sel4_test_harness::IntoTestResult::into_test_result(#call)
            }
        },
    };
    Ok(quote! {
        #run

        #[doc(hidden)]
        #[allow(non_upper_case_globals)]
        pub(crate) const #def: ::sel4_test_harness::TestDef = ::sel4_test_harness::TestDef {
            module: ::core::module_path!(),
            name: #name_str,
            func: #wrap,
            timeout_ms: #timeout,
            sel4test: &[#(#ids),*],
            sel4test_partly: &[#(#partly),*],
            file: ::core::file!(),
            line: ::core::line!(),
        };
    })
}

struct CollectArgs {
    root: Option<LitStr>,
}

impl Parse for CollectArgs {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.is_empty() {
            return Ok(CollectArgs { root: None });
        }
        let root: LitStr = input.parse()?;
        let _: Option<Token![,]> = input.parse()?;
        Ok(CollectArgs { root: Some(root) })
    }
}

/// Expands to a `&'static [TestDef]` of every `#[sel4_test]` in the crate.
///
/// `collect_tests!()` starts at `src/main.rs` (or `src/lib.rs`);
/// `collect_tests!("src/other.rs")` at another root file (relative to the
/// package's folder).
#[proc_macro]
pub fn collect_tests(input: TokenStream) -> TokenStream {
    let args = parse_macro_input!(input as CollectArgs);
    match expand_collect(args) {
        Ok(t) => t.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

struct Found {
    /// Module path below the crate root.
    module: Vec<String>,
    ident: syn::Ident,
}

struct Collector {
    files: Vec<PathBuf>,
    tests: Vec<Found>,
}

fn err(msg: String) -> syn::Error {
    syn::Error::new(Span::call_site(), msg)
}

fn has_test_attr(attrs: &[syn::Attribute]) -> bool {
    attrs
        .iter()
        .any(|a| a.path().segments.last().is_some_and(|s| s.ident == ATTR))
}

impl Collector {
    /// Reads `file`, whose items form module `module`; `dir` is where the
    /// files of its child modules are.
    fn file(&mut self, file: &Path, module: &[String], dir: &Path) -> syn::Result<()> {
        let text = std::fs::read_to_string(file).map_err(|e| {
            err(format!(
                "collect_tests: cannot read {}: {e}",
                file.display()
            ))
        })?;
        let ast = syn::parse_file(&text).map_err(|e| {
            err(format!(
                "collect_tests: cannot parse {}: {e}",
                file.display()
            ))
        })?;
        self.files.push(file.to_path_buf());
        self.items(&ast.items, module, dir, file)
    }

    fn items(
        &mut self,
        items: &[Item],
        module: &[String],
        dir: &Path,
        file: &Path,
    ) -> syn::Result<()> {
        for item in items {
            match item {
                Item::Fn(f) if has_test_attr(&f.attrs) => self.tests.push(Found {
                    module: module.to_vec(),
                    ident: f.sig.ident.clone(),
                }),
                Item::Mod(m) => {
                    let name = m.ident.to_string();
                    let mut child = module.to_vec();
                    child.push(name.clone());
                    let child_dir = dir.join(&name);
                    if let Some((_, inner)) = &m.content {
                        self.items(inner, &child, &child_dir, file)?;
                    } else {
                        let a = dir.join(format!("{name}.rs"));
                        let b = dir.join(&name).join("mod.rs");
                        if a.is_file() {
                            self.file(&a, &child, &child_dir)?;
                        } else if b.is_file() {
                            self.file(&b, &child, &child_dir)?;
                        } else {
                            return Err(err(format!(
                                "collect_tests: module {name} declared in {} has no file {} or {}",
                                file.display(),
                                a.display(),
                                b.display()
                            )));
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}

fn expand_collect(args: CollectArgs) -> syn::Result<TokenStream2> {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .ok_or_else(|| {
            err("collect_tests: CARGO_MANIFEST_DIR is not set (build with cargo)".into())
        })?;
    let root = match &args.root {
        Some(r) => manifest.join(r.value()),
        None => {
            let main = manifest.join("src/main.rs");
            if main.is_file() {
                main
            } else {
                manifest.join("src/lib.rs")
            }
        }
    };
    let dir = root
        .parent()
        .ok_or_else(|| err(format!("collect_tests: {} has no folder", root.display())))?
        .to_path_buf();
    let mut c = Collector {
        files: Vec::new(),
        tests: Vec::new(),
    };
    c.file(&root, &[], &dir)?;
    let tracked = c.files.iter().map(|f| {
        let s = LitStr::new(&f.to_string_lossy(), Span::call_site());
        quote!(
            const _: &[u8] = ::core::include_bytes!(#s);
        )
    });
    let defs = c.tests.iter().map(|t| {
        let segs = t.module.iter().map(|m| format_ident!("{}", m));
        let def = def_ident(&t.ident);
        quote!(crate:: #(#segs ::)* #def)
    });
    Ok(quote! {{
        #(#tracked)*
        const __SEL4_TESTS: &[::sel4_test_harness::TestDef] = &[#(#defs),*];
        __SEL4_TESTS
    }})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(src: &str) -> syn::Result<Options> {
        parse_options(src.parse().unwrap())
    }

    #[test]
    fn ids_are_sel4test_names() {
        for ok in [
            "CNODEOP0009",
            "CANCEL_BADGED_SENDS_0001",
            "STACK_ALIGNMENT_001",
            "BIND005",
            "PREEMPT_REVOKE",
        ] {
            assert!(is_sel4test_id(ok), "{ok}");
        }
        for bad in [
            "",
            "cnodeop0009",
            "CNODEOP",
            "0009",
            "CNODE-OP1",
            "_X1",
            "X 1",
        ] {
            assert!(!is_sel4test_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn one_id_a_list_and_repeats() {
        let o = opts(r#"sel4test = "CNODEOP0009""#).unwrap();
        assert_eq!(o.sel4test, ["CNODEOP0009"]);
        let o = opts(r#"sel4test = ["SYSCALL0010", "SYSCALL0013"], timeout_ms = 5"#).unwrap();
        assert_eq!(o.sel4test, ["SYSCALL0010", "SYSCALL0013"]);
        assert_eq!(o.timeout_ms, 5);
        let o = opts(r#"sel4test = "IPC0001", sel4test = "IPC0002", sel4test_partly = "IPC0003""#)
            .unwrap();
        assert_eq!(o.sel4test, ["IPC0001", "IPC0002"]);
        assert_eq!(o.sel4test_partly, ["IPC0003"]);
        let o = opts("").unwrap();
        assert!(o.sel4test.is_empty() && o.sel4test_partly.is_empty());
    }

    fn msg(src: &str) -> String {
        match opts(src) {
            Ok(_) => panic!("{src} was accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn arch_goes_with_its_reason() {
        let o = opts(r#"arch = "x86_64", arch_reason = "I/O ports""#).unwrap();
        assert_eq!(o.arch.map(|l| l.value()).as_deref(), Some("x86_64"));
        assert_eq!(
            o.arch_reason.map(|l| l.value()).as_deref(),
            Some("I/O ports")
        );
        assert!(msg(r#"arch = "x86_64""#).contains("go together"));
        assert!(msg(r#"arch_reason = "why""#).contains("go together"));
        assert!(msg(r#"arch = "mips", arch_reason = "x""#).contains("arch is one of"));
        assert!(msg(r#"arch = "", arch_reason = "x""#).contains("non-empty string"));
    }

    #[test]
    fn arch_test_skips_elsewhere() {
        let f: ItemFn = syn::parse_str("fn t(ctx: &mut Ctx) -> TestResult { Ok(()) }").unwrap();
        let o = opts(r#"arch = "x86_64", arch_reason = "I/O ports""#).unwrap();
        let out = expand_test(o, f).unwrap().to_string();
        assert!(out.contains(r#"cfg (target_arch = "x86_64")"#), "{out}");
        assert!(
            out.contains(r#"cfg (not (target_arch = "x86_64"))"#),
            "{out}"
        );
        assert!(out.contains("Skip"), "{out}");
    }

    #[test]
    fn bad_ids_are_refused_with_the_fix() {
        assert!(msg(r#"sel4test = "cnodeop9""#).contains("not a seL4test test name"));
        assert!(msg(r#"sel4test = 9"#).contains("sel4test = \"CNODEOP0009\""));
        assert!(msg(r#"sel4test = []"#).contains("non-empty list"));
        assert!(msg(r#"sel4test = ["A1", 2]"#).contains("string literals"));
        assert!(msg(r#"sel4test = ["A1", "A1"]"#).contains("named twice"));
        assert!(msg(r#"sel4test = "A1", sel4test = "A1""#).contains("named twice"));
        assert!(msg(r#"sel4test = "A1", sel4test_partly = "A1""#).contains("in full or in part"));
        assert!(msg(r#"sel4tests = "A1""#).contains("known: timeout_ms"));
    }
}
