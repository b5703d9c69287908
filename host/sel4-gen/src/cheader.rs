//! C headers: enums (with implicit and explicit values, across files) and
//! object-like `#define` constants, after conditional sections are evaluated.

use std::collections::HashMap;

use kernel_config::Config;

use crate::cpp::{self, Resolver, Token};

/// One enumerator as written: name and explicit value expression, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumEntry {
    pub name: String,
    pub expr: Option<Vec<Token>>,
}

/// A C `enum { ... }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CEnum {
    /// `enum tag { ... }`.
    pub tag: Option<String>,
    /// `typedef enum { ... } name;`.
    pub typedef_name: Option<String>,
    pub entries: Vec<EnumEntry>,
}

/// The active enums and defines of one header.
#[derive(Debug, Clone, Default)]
pub struct CHeader {
    pub enums: Vec<CEnum>,
    pub defines: Vec<(String, String)>,
}

impl CHeader {
    /// Preprocesses `text` against `config` and finds its enums and defines.
    pub fn parse(text: &str, config: &Config) -> Result<CHeader, String> {
        let pp = cpp::preprocess(text, config)?;
        Ok(CHeader {
            enums: find_enums(&cpp::tokenize(&pp.text)?)?,
            defines: pp.defines,
        })
    }
}

/// The enums of a header in every conditional section (all `#if` branches
/// kept, directives dropped): the names a header declares for any
/// configuration. Values are not evaluated (branches may conflict).
pub fn enums_all_branches(text: &str) -> Result<Vec<CEnum>, String> {
    let text = cpp::strip_comments(text);
    let mut kept = String::new();
    let mut in_directive = false;
    for line in text.lines() {
        let directive = in_directive || line.trim_start().starts_with('#');
        in_directive = directive && line.trim_end().ends_with('\\');
        if !directive {
            kept.push_str(line);
        }
        kept.push('\n');
    }
    find_enums(&cpp::tokenize(&kept)?)
}

/// The `enum { ... }` definitions of a token stream.
fn find_enums(toks: &[Token]) -> Result<Vec<CEnum>, String> {
    let mut enums = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        if toks[i] != Token::Ident("enum".into()) {
            i += 1;
            continue;
        }
        let typedef = i > 0 && toks[i - 1] == Token::Ident("typedef".into());
        i += 1;
        let tag = match toks.get(i) {
            Some(Token::Ident(n)) => {
                i += 1;
                Some(n.clone())
            }
            _ => None,
        };
        if toks.get(i) != Some(&Token::Punct("{")) {
            continue; // `enum foo x;` use, not a definition
        }
        i += 1;
        let mut parts: Vec<Vec<Token>> = vec![Vec::new()];
        let mut depth = 0;
        while i < toks.len() {
            match &toks[i] {
                Token::Punct("}") if depth == 0 => break,
                Token::Punct("(") => depth += 1,
                Token::Punct(")") => depth -= 1,
                Token::Punct(",") if depth == 0 => {
                    parts.push(Vec::new());
                    i += 1;
                    continue;
                }
                _ => {}
            }
            if let Some(p) = parts.last_mut() {
                p.push(toks[i].clone());
            }
            i += 1;
        }
        i += 1; // `}`
        let typedef_name = match toks.get(i) {
            Some(Token::Ident(n)) if typedef => Some(n.clone()),
            _ => None,
        };
        let mut entries = Vec::new();
        for p in parts {
            match p.as_slice() {
                [] => {}
                [Token::Ident(n)] => entries.push(EnumEntry {
                    name: n.clone(),
                    expr: None,
                }),
                // SEL4_FORCE_LONG_ENUM(x) and similar macro calls
                [Token::Ident(_), Token::Punct("("), ..] => {}
                [Token::Ident(n), Token::Punct("="), rest @ ..] => entries.push(EnumEntry {
                    name: n.clone(),
                    expr: Some(rest.to_vec()),
                }),
                other => return Err(format!("cannot read enumerator {other:?}")),
            }
        }
        enums.push(CEnum {
            tag,
            typedef_name,
            entries,
        });
    }
    Ok(enums)
}

/// `typedef struct X_ { seL4_Word a, b; seL4_Word c; } X;` definitions whose
/// fields are all `seL4_Word`s, after conditional sections are evaluated:
/// (typedef name, field names in order).  Other structs are skipped.
pub fn word_structs(text: &str, config: &Config) -> Result<Vec<(String, Vec<String>)>, String> {
    let pp = cpp::preprocess(text, config)?;
    let toks = cpp::tokenize(&pp.text)?;
    let mut out = Vec::new();
    let mut i = 0;
    while i + 1 < toks.len() {
        if toks[i] != Token::Ident("typedef".into()) || toks[i + 1] != Token::Ident("struct".into())
        {
            i += 1;
            continue;
        }
        i += 2;
        if let Some(Token::Ident(_)) = toks.get(i) {
            i += 1;
        }
        if toks.get(i) != Some(&Token::Punct("{")) {
            continue;
        }
        i += 1;
        let mut fields = Vec::new();
        let mut all_words = true;
        while i < toks.len() && toks[i] != Token::Punct("}") {
            // one declaration: type, then names separated by commas, up to `;`
            let st = i;
            while i < toks.len() && toks[i] != Token::Punct(";") && toks[i] != Token::Punct("}") {
                i += 1;
            }
            let decl = &toks[st..i];
            if toks.get(i) == Some(&Token::Punct(";")) {
                i += 1;
            }
            match decl {
                [Token::Ident(t), rest @ ..] if t == "seL4_Word" => {
                    for part in rest.split(|t| *t == Token::Punct(",")) {
                        match part {
                            [Token::Ident(n)] => fields.push(n.clone()),
                            _ => all_words = false,
                        }
                    }
                }
                [] => {}
                _ => all_words = false,
            }
        }
        i += 1; // `}`
        if let Some(Token::Ident(name)) = toks.get(i) {
            if all_words && !fields.is_empty() {
                out.push((name.clone(), fields));
            }
        }
    }
    Ok(out)
}

/// Values of enumerators and macros across headers, evaluated like the C
/// compiler would (enumerators may refer to enumerators of other headers).
pub struct Symbols<'a> {
    config: &'a Config,
    values: HashMap<String, i128>,
    macros: HashMap<String, String>,
}

struct Scope<'s, 'a> {
    s: &'s Symbols<'a>,
    depth: u32,
}

impl Resolver for Scope<'_, '_> {
    fn value(&self, name: &str) -> Option<i128> {
        if let Some(v) = self.s.values.get(name) {
            return Some(*v);
        }
        if let Some(body) = self.s.macros.get(name) {
            if self.depth > 32 {
                return None;
            }
            let toks = cpp::tokenize(body).ok()?;
            let inner = Scope {
                s: self.s,
                depth: self.depth + 1,
            };
            return cpp::eval(&toks, &inner, false).ok();
        }
        if name.starts_with("CONFIG_") && self.s.config.is_defined(name) {
            return Some(self.s.config.int(name));
        }
        None
    }
    fn defined(&self, name: &str) -> bool {
        self.s.macros.contains_key(name) || Resolver::defined(self.s.config, name)
    }
}

impl<'a> Symbols<'a> {
    pub fn new(config: &'a Config) -> Symbols<'a> {
        Symbols {
            config,
            values: HashMap::new(),
            macros: HashMap::new(),
        }
    }

    /// Registers the defines of a header (evaluated lazily).
    pub fn add_defines(&mut self, h: &CHeader) {
        for (k, v) in &h.defines {
            self.macros.insert(k.clone(), v.clone());
        }
    }

    /// Value of a name (enumerator, macro or config value).
    pub fn value(&self, name: &str) -> Option<i128> {
        Scope { s: self, depth: 0 }.value(name)
    }

    /// Evaluates an expression.
    pub fn eval(&self, toks: &[Token]) -> Result<i128, String> {
        cpp::eval(toks, &Scope { s: self, depth: 0 }, false)
    }

    /// Evaluates the enums (in several passes, so that an enum may start at
    /// a value defined in a header that comes later in the list) and returns
    /// each enum's enumerators with their values, in the order given.
    pub fn eval_enums(&mut self, enums: &[&CEnum]) -> Result<Vec<Vec<(String, i128)>>, String> {
        let mut done: Vec<Option<Vec<(String, i128)>>> = vec![None; enums.len()];
        loop {
            let mut progress = false;
            let mut last_err = None;
            for (k, e) in enums.iter().enumerate() {
                if done[k].is_some() {
                    continue;
                }
                match self.eval_enum(e) {
                    Ok(vals) => {
                        for (n, v) in &vals {
                            self.values.insert(n.clone(), *v);
                        }
                        done[k] = Some(vals);
                        progress = true;
                    }
                    Err(err) => last_err = Some(err),
                }
            }
            if done.iter().all(Option::is_some) {
                return Ok(done.into_iter().map(Option::unwrap).collect());
            }
            if !progress {
                return Err(last_err.unwrap_or_default());
            }
        }
    }

    fn eval_enum(&self, e: &CEnum) -> Result<Vec<(String, i128)>, String> {
        let mut out: Vec<(String, i128)> = Vec::new();
        let mut next = 0i128;
        for ent in &e.entries {
            let v = match &ent.expr {
                None => next,
                Some(toks) => {
                    // enumerators of the same enum are visible in later ones
                    let local = LocalScope {
                        s: self,
                        local: &out,
                    };
                    cpp::eval(toks, &local, false)
                        .map_err(|er| format!("enumerator {}: {}", ent.name, er))?
                }
            };
            out.push((ent.name.clone(), v));
            next = v + 1;
        }
        Ok(out)
    }

    /// Evaluates a list of enumerators where a failed expression is not an
    /// error: used for constants files, where some entries (`sizeof`) are out
    /// of reach.  Returns the entries that have a value.
    pub fn eval_enums_lenient(&mut self, enums: &[&CEnum]) -> Vec<(String, i128)> {
        let mut out = Vec::new();
        for e in enums {
            let mut next = Some(0i128);
            for ent in &e.entries {
                let v = match &ent.expr {
                    None => next,
                    Some(toks) => self.eval(toks).ok(),
                };
                if let Some(v) = v {
                    self.values.insert(ent.name.clone(), v);
                    out.push((ent.name.clone(), v));
                }
                next = v.map(|v| v + 1);
            }
        }
        out
    }
}

struct LocalScope<'s, 'a> {
    s: &'s Symbols<'a>,
    local: &'s [(String, i128)],
}

impl Resolver for LocalScope<'_, '_> {
    fn value(&self, name: &str) -> Option<i128> {
        if let Some((_, v)) = self.local.iter().rev().find(|(n, _)| n == name) {
            return Some(*v);
        }
        self.s.value(name)
    }
    fn defined(&self, name: &str) -> bool {
        Scope {
            s: self.s,
            depth: 0,
        }
        .defined(name)
    }
}

/// Evaluates all enums of the given header texts (in order, sharing one
/// symbol table) and returns every enumerator with its value.  Used to read
/// the kernel's generated headers for cross-checks.
pub fn enum_values(texts: &[&str], config: &Config) -> Result<Vec<(String, i128)>, String> {
    let headers = texts
        .iter()
        .map(|t| CHeader::parse(t, config))
        .collect::<Result<Vec<_>, _>>()?;
    let mut sym = Symbols::new(config);
    for h in &headers {
        sym.add_defines(h);
    }
    let enums: Vec<&CEnum> = headers.iter().flat_map(|h| h.enums.iter()).collect();
    Ok(sym.eval_enums(&enums)?.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kernel_config::Value;

    fn cfg() -> Config {
        let mut c = Config::new();
        c.insert("CONFIG_HUGE_PAGE", Value::Bool(true));
        c.insert("CONFIG_NUM_PRIORITIES", Value::Int(256));
        c
    }

    #[test]
    fn enums_across_headers() {
        let api = "typedef enum api_object {\n seL4_UntypedObject,\n seL4_TCBObject,\n#ifdef CONFIG_KERNEL_MCS\n seL4_ReplyObject,\n#endif\n seL4_NonArchObjectTypeCount,\n} seL4_ObjectType;\n";
        let mode = "typedef enum _mode_object {\n seL4_X86_PDPTObject = seL4_NonArchObjectTypeCount,\n#ifdef CONFIG_HUGE_PAGE\n seL4_X64_HugePageObject,\n#endif\n seL4_ModeObjectTypeCount\n} seL4_seL4ArchObjectType;\n#ifndef CONFIG_HUGE_PAGE\n#define seL4_X64_HugePageObject 0xfffffffe\n#endif\n";
        // the mode header given first: values still resolve
        let v = enum_values(&[mode, api], &cfg()).unwrap();
        assert_eq!(
            v,
            vec![
                ("seL4_X86_PDPTObject".to_string(), 2),
                ("seL4_X64_HugePageObject".to_string(), 3),
                ("seL4_ModeObjectTypeCount".to_string(), 4),
                ("seL4_UntypedObject".to_string(), 0),
                ("seL4_TCBObject".to_string(), 1),
                ("seL4_NonArchObjectTypeCount".to_string(), 2),
            ]
        );
    }

    #[test]
    fn enum_forms() {
        let text = "enum priorityConstants {\n seL4_InvalidPrio = -1,\n seL4_MinPrio = 0,\n seL4_MaxPrio = CONFIG_NUM_PRIORITIES - 1\n};\nenum { seL4_A, seL4_B = seL4_A + 5, seL4_C, SEL4_FORCE_LONG_ENUM(x) } x;\n";
        let v = enum_values(&[text], &cfg()).unwrap();
        let get = |n: &str| v.iter().find(|(k, _)| k == n).unwrap().1;
        assert_eq!(get("seL4_InvalidPrio"), -1);
        assert_eq!(get("seL4_MaxPrio"), 255);
        assert_eq!(get("seL4_B"), 5);
        assert_eq!(get("seL4_C"), 6);
        assert!(enum_values(&["enum { a = nope };"], &cfg()).is_err());
    }

    #[test]
    fn defines_and_lenient() {
        let h = CHeader::parse(
            "#define LIBSEL4_BIT(n) (1ul<<(n))\n#define seL4_PML4Bits 12\n#define seL4_VSpaceBits seL4_PML4Bits\n#define seL4_MsgMaxExtraCaps (LIBSEL4_BIT(seL4_MsgExtraCapBits)-1)\nenum seL4_MsgLimits { seL4_MsgLengthBits = 7, seL4_MsgExtraCapBits = 2 };\nenum { seL4_S = sizeof(int), seL4_T };\n",
            &cfg(),
        )
        .unwrap();
        let c = cfg();
        let mut s = Symbols::new(&c);
        s.add_defines(&h);
        let e: Vec<&CEnum> = h.enums.iter().collect();
        let vals = s.eval_enums_lenient(&e);
        assert_eq!(vals.len(), 2);
        assert_eq!(s.value("seL4_VSpaceBits"), Some(12));
        assert_eq!(s.value("seL4_MsgMaxExtraCaps"), Some(3));
        assert_eq!(s.value("seL4_T"), None);
    }

    #[test]
    fn enums_of_every_branch() {
        let h = "enum e {\n#ifdef CONFIG_X /* a comment */\n  seL4_A = 1,\n#else\n  seL4_B = \\\n 2,\n#endif\n#define X(a) \\\n  enum y { z }\n  seL4_C\n};\n";
        let e = enums_all_branches(h).unwrap();
        let names: Vec<&str> = e
            .iter()
            .flat_map(|e| e.entries.iter().map(|x| x.name.as_str()))
            .collect();
        assert_eq!(names, ["seL4_A", "seL4_B", "seL4_C"], "{e:?}");
    }

    #[test]
    fn word_structs_with_conditions() {
        let mut c = Config::new();
        c.insert("CONFIG_X", kernel_config::Value::Bool(true));
        let h = "typedef struct seL4_A_ {\n    seL4_Word a, b;\n#ifdef CONFIG_X\n    seL4_Word c;\n#endif\n} seL4_A;\n\
                 typedef struct seL4_B_ { seL4_Uint8 x; } seL4_B;\n";
        let s = word_structs(h, &c).unwrap();
        assert_eq!(
            s,
            [(
                "seL4_A".to_string(),
                vec!["a".to_string(), "b".into(), "c".into()]
            )]
        );
        let s = word_structs(h, &Config::new()).unwrap();
        assert_eq!(s[0].1.len(), 2);
    }
}
