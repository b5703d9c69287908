//! A small C preprocessor: tokens, integer constant expressions (for `#if`
//! and for enum/`#define` values), and conditional-section filtering.

use std::collections::HashMap;

use kernel_config::Config;

/// A C token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    Ident(String),
    Num(i128),
    Str(String),
    Punct(&'static str),
}

const PUNCTS: &[&str] = &[
    "<<=", ">>=", "...", "&&", "||", "==", "!=", "<=", ">=", "<<", ">>", "->", "++", "--", "+=",
    "-=", "*=", "/=", "%=", "&=", "|=", "^=", "##", "(", ")", "{", "}", "[", "]", ",", ";", ":",
    "?", "!", "~", "+", "-", "*", "/", "%", "<", ">", "&", "|", "^", "=", ".", "#",
];

/// Removes C comments (`/* */`, `//`) from a whole text, keeping line breaks.
pub fn strip_comments(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut start = 0;
    while i < b.len() {
        match b[i] {
            b'"' | b'\'' => {
                let q = b[i];
                i += 1;
                while i < b.len() && b[i] != q && b[i] != b'\n' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'/' if i + 1 < b.len() && b[i + 1] == b'*' => {
                out.push_str(&text[start..i]);
                let end = text[i + 2..].find("*/").map_or(b.len(), |e| i + 2 + e + 2);
                // keep newlines so line numbers stay meaningful
                out.extend(text[i..end].chars().filter(|&c| c == '\n'));
                out.push(' ');
                i = end;
                start = i;
            }
            b'/' if i + 1 < b.len() && b[i + 1] == b'/' => {
                out.push_str(&text[start..i]);
                let end = text[i..].find('\n').map_or(b.len(), |e| i + e);
                i = end;
                start = i;
            }
            _ => i += 1,
        }
    }
    if start < b.len() {
        out.push_str(&text[start.min(b.len())..]);
    }
    out
}

/// Splits C source (without comments) into tokens.
pub fn tokenize(s: &str) -> Result<Vec<Token>, String> {
    let b = s.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    'outer: while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() || c == b'\\' {
            i += 1;
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            let st = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            toks.push(Token::Ident(s[st..i].to_string()));
            continue;
        }
        if c.is_ascii_digit() {
            let st = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            let lit = &s[st..i];
            let v = kernel_config::parse_c_int(lit)
                .ok_or_else(|| format!("bad integer literal `{lit}`"))?;
            toks.push(Token::Num(v));
            continue;
        }
        if c == b'"' {
            let st = i + 1;
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            toks.push(Token::Str(s[st..i.min(b.len())].to_string()));
            i += 1;
            continue;
        }
        if c == b'\'' {
            // character constant: 'a' or '\n'
            let rest = &s[i + 1..];
            let (v, len) = match rest.as_bytes() {
                [b'\\', e, b'\'', ..] => (
                    match e {
                        b'n' => 10,
                        b't' => 9,
                        b'0' => 0,
                        b'r' => 13,
                        x => *x as i128,
                    },
                    3,
                ),
                [x, b'\'', ..] => (*x as i128, 2),
                _ => return Err("bad character constant".into()),
            };
            toks.push(Token::Num(v));
            i += 1 + len;
            continue;
        }
        for p in PUNCTS {
            if s[i..].starts_with(p) {
                toks.push(Token::Punct(p));
                i += p.len();
                continue 'outer;
            }
        }
        return Err(format!("unexpected character `{}`", c as char));
    }
    Ok(toks)
}

/// Looks up identifiers while evaluating an expression.
pub trait Resolver {
    /// Value of an identifier, if known.
    fn value(&self, name: &str) -> Option<i128>;
    /// `defined(name)`.
    fn defined(&self, name: &str) -> bool;
}

/// Resolver over a kernel configuration only (for condition attributes).
impl Resolver for Config {
    fn value(&self, name: &str) -> Option<i128> {
        if name.starts_with("CONFIG_") {
            Some(if self.is_defined(name) {
                self.int(name)
            } else {
                0
            })
        } else {
            None
        }
    }
    fn defined(&self, name: &str) -> bool {
        name.starts_with("CONFIG_") && self.is_defined(name)
    }
}

/// Evaluates a C integer constant expression.  `pp`: `#if` semantics
/// (unknown identifiers are 0); otherwise an unknown identifier is an error.
pub fn eval(tokens: &[Token], r: &dyn Resolver, pp: bool) -> Result<i128, String> {
    let mut p = Parser {
        t: tokens,
        i: 0,
        r,
        pp,
    };
    let v = p.ternary()?;
    if p.i != tokens.len() {
        return Err(format!("unexpected {:?} in expression", tokens[p.i]));
    }
    Ok(v)
}

/// Evaluates a preprocessor condition (`#if` text, or a 5.x XML `condition`
/// attribute) against a configuration.
pub fn eval_condition(expr: &str, config: &Config) -> Result<bool, String> {
    let toks = tokenize(&strip_comments(expr)).map_err(|e| format!("`{expr}`: {e}"))?;
    if toks.is_empty() {
        return Ok(true);
    }
    eval(&toks, config, true)
        .map(|v| v != 0)
        .map_err(|e| format!("`{expr}`: {e}"))
}

struct Parser<'a> {
    t: &'a [Token],
    i: usize,
    r: &'a dyn Resolver,
    pp: bool,
}

fn prec(op: &str) -> Option<u8> {
    Some(match op {
        "||" => 1,
        "&&" => 2,
        "|" => 3,
        "^" => 4,
        "&" => 5,
        "==" | "!=" => 6,
        "<" | ">" | "<=" | ">=" => 7,
        "<<" | ">>" => 8,
        "+" | "-" => 9,
        "*" | "/" | "%" => 10,
        _ => return None,
    })
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.t.get(self.i)
    }
    fn eat(&mut self, p: &str) -> bool {
        if matches!(self.peek(), Some(Token::Punct(q)) if *q == p) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, p: &str) -> Result<(), String> {
        if self.eat(p) {
            Ok(())
        } else {
            Err(format!("expected `{p}`, found {:?}", self.peek()))
        }
    }

    fn ternary(&mut self) -> Result<i128, String> {
        let c = self.binary(1)?;
        if self.eat("?") {
            let a = self.ternary()?;
            self.expect(":")?;
            let b = self.ternary()?;
            Ok(if c != 0 { a } else { b })
        } else {
            Ok(c)
        }
    }

    fn binary(&mut self, min: u8) -> Result<i128, String> {
        let mut lhs = self.unary()?;
        while let Some(Token::Punct(op)) = self.peek() {
            let op = *op;
            let Some(p) = prec(op) else { break };
            if p < min {
                break;
            }
            self.i += 1;
            let rhs = self.binary(p + 1)?;
            lhs = apply(op, lhs, rhs)?;
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<i128, String> {
        if self.eat("!") {
            return Ok((self.unary()? == 0) as i128);
        }
        if self.eat("-") {
            return Ok(-self.unary()?);
        }
        if self.eat("+") {
            return self.unary();
        }
        if self.eat("~") {
            return Ok(!self.unary()?);
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<i128, String> {
        match self.peek().cloned() {
            Some(Token::Num(n)) => {
                self.i += 1;
                Ok(n)
            }
            Some(Token::Punct("(")) => {
                self.i += 1;
                // casts such as (seL4_Word) or (unsigned long) are skipped
                if let Some(Token::Ident(_)) = self.peek() {
                    let save = self.i;
                    let mut j = self.i;
                    while let Some(Token::Ident(_)) = self.t.get(j) {
                        j += 1;
                    }
                    let is_cast = matches!(self.t.get(j), Some(Token::Punct(")")))
                        && self.t[save..j].iter().all(|t| match t {
                            Token::Ident(n) => is_type_name(n),
                            _ => false,
                        });
                    if is_cast {
                        self.i = j + 1;
                        return self.unary();
                    }
                }
                let v = self.ternary()?;
                self.expect(")")?;
                Ok(v)
            }
            Some(Token::Ident(name)) => {
                self.i += 1;
                if name == "defined" {
                    let paren = self.eat("(");
                    let n = match self.peek() {
                        Some(Token::Ident(n)) => n.clone(),
                        other => return Err(format!("`defined` needs a name, found {other:?}")),
                    };
                    self.i += 1;
                    if paren {
                        self.expect(")")?;
                    }
                    return Ok(self.r.defined(&n) as i128);
                }
                if matches!(self.peek(), Some(Token::Punct("("))) {
                    return self.call(&name);
                }
                match self.r.value(&name) {
                    Some(v) => Ok(v),
                    None if self.pp => Ok(0),
                    None => Err(format!("unknown identifier `{name}`")),
                }
            }
            other => Err(format!("unexpected {other:?} in expression")),
        }
    }

    fn call(&mut self, name: &str) -> Result<i128, String> {
        self.expect("(")?;
        let arg = self.ternary()?;
        self.expect(")")?;
        match name {
            "LIBSEL4_BIT" | "BIT" => shift_left(1, arg),
            "UL_CONST" | "ULL_CONST" | "UL" | "ULL" => Ok(arg),
            _ => Err(format!("unknown macro `{name}(...)`")),
        }
    }
}

fn is_type_name(n: &str) -> bool {
    matches!(
        n,
        "unsigned" | "signed" | "long" | "int" | "short" | "char" | "seL4_Word" | "word_t"
    ) || n.ends_with("_t")
}

fn shift_left(a: i128, b: i128) -> Result<i128, String> {
    if !(0..127).contains(&b) {
        return Err(format!("shift by {b}"));
    }
    a.checked_shl(b as u32)
        .ok_or_else(|| "shift overflow".to_string())
}

fn apply(op: &str, a: i128, b: i128) -> Result<i128, String> {
    let ovf = || "arithmetic overflow".to_string();
    Ok(match op {
        "||" => (a != 0 || b != 0) as i128,
        "&&" => (a != 0 && b != 0) as i128,
        "|" => a | b,
        "^" => a ^ b,
        "&" => a & b,
        "==" => (a == b) as i128,
        "!=" => (a != b) as i128,
        "<" => (a < b) as i128,
        ">" => (a > b) as i128,
        "<=" => (a <= b) as i128,
        ">=" => (a >= b) as i128,
        "<<" => shift_left(a, b)?,
        ">>" => {
            if !(0..127).contains(&b) {
                return Err(format!("shift by {b}"));
            }
            a >> b
        }
        "+" => a.checked_add(b).ok_or_else(ovf)?,
        "-" => a.checked_sub(b).ok_or_else(ovf)?,
        "*" => a.checked_mul(b).ok_or_else(ovf)?,
        "/" => a.checked_div(b).ok_or("division by zero")?,
        "%" => a.checked_rem(b).ok_or("division by zero")?,
        _ => return Err(format!("unknown operator {op}")),
    })
}

/// Result of filtering a file's conditional sections against a config.
#[derive(Debug, Clone, Default)]
pub struct Preprocessed {
    /// Text of the active non-directive lines (line continuations joined).
    pub text: String,
    /// Object-like `#define NAME body` in the active sections, in order.
    pub defines: Vec<(String, String)>,
}

struct PpScope<'a> {
    config: &'a Config,
    defines: &'a HashMap<String, String>,
}

impl Resolver for PpScope<'_> {
    fn value(&self, name: &str) -> Option<i128> {
        if let Some(body) = self.defines.get(name) {
            let toks = tokenize(body).ok()?;
            if toks.is_empty() {
                return Some(1);
            }
            let inner = PpScope {
                config: self.config,
                defines: &HashMap::new(),
            };
            return eval(&toks, &inner, true).ok();
        }
        Resolver::value(self.config, name)
    }
    fn defined(&self, name: &str) -> bool {
        self.defines.contains_key(name) || Resolver::defined(self.config, name)
    }
}

/// Keeps the lines of the active conditional sections (`#if`, `#ifdef`,
/// `#ifndef`, `#elif`, `#else`, `#endif`) and collects the active `#define`s.
/// `#include`, `#pragma`, `#error`, `#undef` are ignored.
pub fn preprocess(text: &str, config: &Config) -> Result<Preprocessed, String> {
    let text = strip_comments(text);
    // join line continuations
    let mut lines: Vec<(usize, String)> = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (n, line) in text.lines().enumerate() {
        let (ln, mut acc) = pending.take().unwrap_or((n + 1, String::new()));
        if let Some(stripped) = line.strip_suffix('\\') {
            acc.push_str(stripped);
            acc.push(' ');
            pending = Some((ln, acc));
        } else {
            acc.push_str(line);
            lines.push((ln, acc));
        }
    }
    if let Some(p) = pending {
        lines.push(p);
    }

    struct Frame {
        parent_active: bool,
        taken: bool,
        active: bool,
    }
    let mut stack: Vec<Frame> = Vec::new();
    let mut defs: HashMap<String, String> = HashMap::new();
    let mut out = Preprocessed::default();
    let active = |stack: &Vec<Frame>| stack.last().map_or(true, |f| f.active);
    for (ln, line) in lines {
        let t = line.trim_start();
        let Some(dir) = t.strip_prefix('#') else {
            if active(&stack) {
                out.text.push_str(&line);
            }
            out.text.push('\n');
            continue;
        };
        out.text.push('\n');
        let dir = dir.trim_start();
        let kw_end = dir
            .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .unwrap_or(dir.len());
        let (kw, rest) = (&dir[..kw_end], dir[kw_end..].trim());
        let here = |e: String| format!("line {ln}: {e}");
        let cond = |expr: &str, defs: &HashMap<String, String>| -> Result<bool, String> {
            let toks = tokenize(expr).map_err(here)?;
            let scope = PpScope {
                config,
                defines: defs,
            };
            eval(&toks, &scope, true).map(|v| v != 0).map_err(here)
        };
        match kw {
            "if" | "ifdef" | "ifndef" => {
                let parent_active = active(&stack);
                let c = if !parent_active {
                    false
                } else if kw == "if" {
                    cond(rest, &defs)?
                } else {
                    let name = rest.split_whitespace().next().unwrap_or("");
                    let scope = PpScope {
                        config,
                        defines: &defs,
                    };
                    scope.defined(name) == (kw == "ifdef")
                };
                stack.push(Frame {
                    parent_active,
                    taken: c,
                    active: c,
                });
            }
            "elif" => {
                let f = stack
                    .last_mut()
                    .ok_or_else(|| here("#elif without #if".into()))?;
                if f.parent_active && !f.taken {
                    let c = {
                        let toks = tokenize(rest).map_err(here)?;
                        let scope = PpScope {
                            config,
                            defines: &defs,
                        };
                        eval(&toks, &scope, true).map(|v| v != 0).map_err(here)?
                    };
                    f.active = c;
                    f.taken = c;
                } else {
                    f.active = false;
                }
            }
            "else" => {
                let f = stack
                    .last_mut()
                    .ok_or_else(|| here("#else without #if".into()))?;
                f.active = f.parent_active && !f.taken;
                f.taken = true;
            }
            "endif" => {
                stack
                    .pop()
                    .ok_or_else(|| here("#endif without #if".into()))?;
            }
            "define" if active(&stack) => {
                let name_end = rest
                    .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                    .unwrap_or(rest.len());
                let name = &rest[..name_end];
                let after = &rest[name_end..];
                if name.is_empty() || after.starts_with('(') {
                    continue; // function-like macro
                }
                defs.insert(name.to_string(), after.trim().to_string());
                out.defines
                    .push((name.to_string(), after.trim().to_string()));
            }
            "undef" if active(&stack) => {
                defs.remove(rest.trim());
            }
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err("unterminated #if".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kernel_config::Value;

    fn cfg() -> Config {
        let mut c = Config::new();
        c.insert("CONFIG_DEBUG_BUILD", Value::Bool(true));
        c.insert("CONFIG_MAX_NUM_NODES", Value::Int(1));
        c.insert("CONFIG_KERNEL_MCS", Value::Bool(false));
        c.insert("CONFIG_XSAVE_SIZE", Value::Int(512));
        c
    }

    #[test]
    fn conditions() {
        let c = cfg();
        let t = |e: &str| eval_condition(e, &c).unwrap();
        assert!(t("defined(CONFIG_DEBUG_BUILD)"));
        assert!(t("defined CONFIG_DEBUG_BUILD"));
        assert!(!t("defined(CONFIG_VTX)"));
        assert!(!t("defined(CONFIG_KERNEL_MCS)"));
        assert!(t("!defined(CONFIG_KERNEL_MCS)"));
        assert!(!t("CONFIG_MAX_NUM_NODES > 1"));
        assert!(t(
            "CONFIG_MAX_NUM_NODES >= 1 && (defined CONFIG_DEBUG_BUILD || 0)"
        ));
        assert!(t(
            "(defined(CONFIG_VTX) || CONFIG_XSAVE_SIZE < 832) && !CONFIG_UNKNOWN"
        ));
        assert!(t(
            "1 + 2 * 3 == 7 && (1 << 4) == 16 && 10 % 4 == 2 && -1 < 0"
        ));
        assert!(t("0x10 == 16 && 010 == 8 && 4UL == 4"));
        assert!(t("1 ? 1 : 0"));
        assert!(t(""));
        assert!(eval_condition("defined(", &c).is_err());
        assert!(eval_condition("1 +", &c).is_err());
    }

    #[test]
    fn values_need_known_names() {
        let c = cfg();
        let toks = tokenize("LIBSEL4_BIT(2) - 1").unwrap();
        assert_eq!(eval(&toks, &c, false), Ok(3));
        let toks = tokenize("seL4_Unknown + 1").unwrap();
        assert!(eval(&toks, &c, false).is_err());
        let toks = tokenize("((seL4_Word)4)").unwrap();
        assert_eq!(eval(&toks, &c, false), Ok(4));
    }

    #[test]
    fn sections() {
        let text = r#"
#pragma once
/* comment
 * #if 0 in a comment */
#ifndef GUARD_H
#define GUARD_H
a
#ifdef CONFIG_DEBUG_BUILD
b
#if CONFIG_MAX_NUM_NODES > 1
c
#elif defined(CONFIG_KERNEL_MCS)
d
#else
e
#endif
#else
f
#endif
#if defined(GUARD_H) && \
    CONFIG_XSAVE_SIZE >= 832
g
#endif
#define seL4_X 3 // three
#define FN(x) (x)
#endif
"#;
        let p = preprocess(text, &cfg()).unwrap();
        let words: Vec<&str> = p.text.split_whitespace().collect();
        assert_eq!(words, ["a", "b", "e"]);
        assert_eq!(
            p.defines,
            vec![
                ("GUARD_H".to_string(), String::new()),
                ("seL4_X".to_string(), "3".to_string())
            ]
        );
        assert!(preprocess("#if 1\n", &cfg()).is_err());
        assert!(preprocess("#endif\n", &cfg()).is_err());
    }

    #[test]
    fn tokens() {
        let t = tokenize("seL4_X = (1 << 3), 'a' \"s\"").unwrap();
        assert_eq!(t[0], Token::Ident("seL4_X".into()));
        assert_eq!(t[1], Token::Punct("="));
        assert_eq!(t[4], Token::Punct("<<"));
        assert_eq!(t[8], Token::Num(97));
        assert_eq!(t[9], Token::Str("s".into()));
    }
}
