//! seL4 bitfield (`.bf`) files: `block name { field x N  padding N ... }`,
//! fields listed from the most significant bit down.

use kernel_config::Config;

use crate::cpp;

/// One entry of a block: a named field or padding (`name` = None).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: Option<String>,
    pub bits: u32,
    /// `field_high`: the field holds the high bits of a value.
    pub high: bool,
}

/// A `block`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub name: String,
    /// Word size in bits (`base`).
    pub base: u32,
    /// Entries from the most significant bit down.
    pub fields: Vec<Field>,
}

/// A named field's place in a one-word block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub name: String,
    pub shift: u32,
    pub bits: u32,
}

impl Block {
    pub fn total_bits(&self) -> u32 {
        self.fields.iter().map(|f| f.bits).sum()
    }

    /// Whether the block is exactly one word with plain fields.
    pub fn is_single_word(&self) -> bool {
        self.total_bits() == self.base && self.fields.iter().all(|f| !f.high)
    }

    /// Named fields with their shift (from bit 0 of the word) and width.
    pub fn layout(&self) -> Vec<Layout> {
        let mut pos = self.total_bits();
        let mut out = Vec::new();
        for f in &self.fields {
            pos -= f.bits;
            if let Some(n) = &f.name {
                out.push(Layout {
                    name: n.clone(),
                    shift: pos % self.base,
                    bits: f.bits,
                });
            }
        }
        out
    }
}

/// A `tagged_union name tag_field { tag Name value ... }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaggedUnion {
    pub name: String,
    pub tag_field: String,
    /// The tags whose `#if`s hold for the config, as written.
    pub tags: Vec<(String, u64)>,
}

/// A `tagged_union` whose tags are one-word blocks of the same file (seL4
/// 5.x's `seL4_CapData` of `Badge` and `Guard`): one word, read by tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WordUnion {
    pub name: String,
    pub tag_field: String,
    /// Word size in bits.
    pub base: u32,
    /// (tag, tag value, the tag's block), in file order.
    pub variants: Vec<(String, u64, Block)>,
}

impl WordUnion {
    /// The one-word unions among `unions`, whose tags are blocks of
    /// `blocks` that all have the tag field and a single word.
    pub fn find(unions: &[TaggedUnion], blocks: &[Block]) -> Vec<WordUnion> {
        let mut out = Vec::new();
        for u in unions {
            let variants: Option<Vec<(String, u64, Block)>> = u
                .tags
                .iter()
                .map(|(tag, v)| {
                    let b = blocks.iter().find(|b| b.name == *tag)?;
                    let has_tag = b.layout().iter().any(|l| l.name == u.tag_field);
                    (b.is_single_word() && has_tag).then(|| (tag.clone(), *v, b.clone()))
                })
                .collect();
            if let Some(variants) = variants.filter(|v| !v.is_empty()) {
                out.push(WordUnion {
                    name: u.name.clone(),
                    tag_field: u.tag_field.clone(),
                    base: variants[0].2.base,
                    variants,
                });
            }
        }
        out
    }
}

/// Parses a `.bf` file: preprocessor conditions are evaluated against the
/// config, `--` comments dropped.  `default_base` applies until the file sets
/// `base`. Returns the blocks and the `tagged_union`s, in file order.
pub fn parse_file(
    text: &str,
    config: &Config,
    default_base: u32,
) -> Result<(Vec<Block>, Vec<TaggedUnion>), String> {
    // `--` comments first: they may hold text the C preprocessor dislikes
    let no_dash: String = text
        .lines()
        .map(|l| match l.find("--") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let pp = cpp::preprocess(&no_dash, config)?;
    let mut words: Vec<String> = Vec::new();
    for w in pp
        .text
        .replace('{', " { ")
        .replace('}', " } ")
        .replace('(', " ( ")
        .replace(')', " ) ")
        .replace(',', " , ")
        .split_whitespace()
    {
        words.push(w.to_string());
    }
    let mut base = default_base;
    let mut blocks = Vec::new();
    let mut unions = Vec::new();
    let mut i = 0;
    let num = |w: Option<&String>| -> Result<u32, String> {
        w.and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("expected a number, found {w:?}"))
    };
    let skip_parens = |i: &mut usize| {
        if words.get(*i).map(String::as_str) == Some("(") {
            while *i < words.len() && words[*i] != ")" {
                *i += 1;
            }
            *i += 1;
        }
    };
    while i < words.len() {
        match words[i].as_str() {
            "base" => {
                base = num(words.get(i + 1))?;
                i += 2;
                skip_parens(&mut i);
            }
            "block" => {
                let name = words.get(i + 1).ok_or("block without a name")?.clone();
                i += 2;
                skip_parens(&mut i);
                if words.get(i).map(String::as_str) != Some("{") {
                    return Err(format!("block {name}: expected `{{`"));
                }
                i += 1;
                let mut fields = Vec::new();
                while i < words.len() && words[i] != "}" {
                    match words[i].as_str() {
                        "field" | "field_high" => {
                            let high = words[i] == "field_high";
                            let n = words.get(i + 1).ok_or("field without a name")?.clone();
                            let bits = num(words.get(i + 2))
                                .map_err(|e| format!("block {name}, field {n}: {e}"))?;
                            fields.push(Field {
                                name: Some(n),
                                bits,
                                high,
                            });
                            i += 3;
                        }
                        "padding" => {
                            let bits =
                                num(words.get(i + 1)).map_err(|e| format!("block {name}: {e}"))?;
                            fields.push(Field {
                                name: None,
                                bits,
                                high: false,
                            });
                            i += 2;
                        }
                        other => return Err(format!("block {name}: unexpected `{other}`")),
                    }
                }
                i += 1;
                let b = Block { name, base, fields };
                if b.total_bits() % base != 0 {
                    return Err(format!(
                        "block {}: {} bits is not a multiple of base {}",
                        b.name,
                        b.total_bits(),
                        base
                    ));
                }
                blocks.push(b);
            }
            "tagged_union" => {
                let name = words
                    .get(i + 1)
                    .ok_or("tagged_union without a name")?
                    .clone();
                let tag_field = words
                    .get(i + 2)
                    .ok_or_else(|| format!("tagged_union {name} without a tag field"))?
                    .clone();
                i += 3;
                if words.get(i).map(String::as_str) != Some("{") {
                    return Err(format!("tagged_union {name}: expected `{{`"));
                }
                i += 1;
                let mut tags = Vec::new();
                while i < words.len() && words[i] != "}" {
                    match words[i].as_str() {
                        "tag" => {
                            let t = words
                                .get(i + 1)
                                .ok_or_else(|| format!("tagged_union {name}: tag without a name"))?
                                .clone();
                            let v = num(words.get(i + 2))
                                .map_err(|e| format!("tagged_union {name}, tag {t}: {e}"))?;
                            tags.push((t, u64::from(v)));
                            i += 3;
                        }
                        "mask" => i += 3,
                        other => return Err(format!("tagged_union {name}: unexpected `{other}`")),
                    }
                }
                i += 1;
                unions.push(TaggedUnion {
                    name,
                    tag_field,
                    tags,
                });
            }
            other => return Err(format!("unexpected `{other}`")),
        }
    }
    Ok((blocks, unions))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kernel_config::Value;

    const BF: &str = r#"
-- this file contains types shared between libsel4 and the kernel
#include <sel4/config.h>
base 64

block seL4_MessageInfo {
    field label 52
    field capsUnwrapped 3
    field extraCaps 2
    field length 7
}

block seL4_CapRights {
    padding 32
    padding 28
    field capAllowGrantReply 1
    field capAllowGrant 1
    field capAllowRead 1
    field capAllowWrite 1
}

tagged_union seL4_Fault seL4_FaultType {
    tag NullFault 0
#ifdef CONFIG_KERNEL_MCS
    tag Timeout 5
#endif
}

#ifdef CONFIG_IOMMU
block seL4_X86_IOSpace_CapData {
    field domainID 16
    padding 48
}
#endif
block Two(a, b) {
    padding 64
    field x 64
}
"#;

    #[test]
    fn blocks() {
        let mut c = Config::new();
        c.insert("CONFIG_KERNEL_MCS", Value::Bool(false));
        let (b, u) = parse_file(BF, &c, 64).unwrap();
        let names: Vec<&str> = b.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["seL4_MessageInfo", "seL4_CapRights", "Two"]);
        let mi = &b[0];
        assert!(mi.is_single_word());
        let l = mi.layout();
        assert_eq!(
            l[0],
            Layout {
                name: "label".into(),
                shift: 12,
                bits: 52
            }
        );
        assert_eq!(
            l[1],
            Layout {
                name: "capsUnwrapped".into(),
                shift: 9,
                bits: 3
            }
        );
        assert_eq!(
            l[2],
            Layout {
                name: "extraCaps".into(),
                shift: 7,
                bits: 2
            }
        );
        assert_eq!(
            l[3],
            Layout {
                name: "length".into(),
                shift: 0,
                bits: 7
            }
        );
        assert_eq!(
            b[1].layout()[0],
            Layout {
                name: "capAllowGrantReply".into(),
                shift: 3,
                bits: 1
            }
        );
        assert!(!b[2].is_single_word());
        assert_eq!(u.len(), 1);
        assert_eq!(u[0].name, "seL4_Fault");
        assert_eq!(u[0].tag_field, "seL4_FaultType");
        assert_eq!(u[0].tags, [("NullFault".to_string(), 0)]);
        c.insert("CONFIG_KERNEL_MCS", Value::Bool(true));
        let u = parse_file(BF, &c, 64).unwrap().1;
        assert_eq!(u[0].tags.len(), 2);
        c.insert("CONFIG_KERNEL_MCS", Value::Bool(false));
        c.insert("CONFIG_IOMMU", Value::Bool(true));
        assert_eq!(parse_file(BF, &c, 64).unwrap().0.len(), 4);
        assert!(parse_file("block x { field a 3 }", &c, 64).is_err());
        assert!(parse_file("block x { fiel a 64 }", &c, 64).is_err());
    }

    /// seL4 5.x's `types_64.bf`.
    const CAP_DATA: &str = r#"
base 64
block Guard {
    padding 32
    field CapDataType 1
    padding 5
    field GuardBits 18
    field GuardSize 6
    padding 2
}
block Badge {
    padding 32
    field CapDataType 1
    padding 3
    field Badge 28
}
tagged_union seL4_CapData CapDataType {
    tag Badge 0
    tag Guard 1
}
tagged_union seL4_Other kind {
    tag Missing 0
}
"#;

    #[test]
    fn one_word_tagged_unions() {
        let (b, u) = parse_file(CAP_DATA, &Config::new(), 64).unwrap();
        let w = WordUnion::find(&u, &b);
        assert_eq!(
            w.len(),
            1,
            "a union with a tag that is no block is left out"
        );
        assert_eq!(w[0].name, "seL4_CapData");
        assert_eq!(w[0].tag_field, "CapDataType");
        let tags: Vec<(&str, u64)> = w[0].variants.iter().map(|v| (v.0.as_str(), v.1)).collect();
        assert_eq!(tags, [("Badge", 0), ("Guard", 1)]);
        let guard = w[0].variants[1].2.layout();
        let at = |n: &str| {
            guard
                .iter()
                .find(|l| l.name == n)
                .map(|l| (l.shift, l.bits))
        };
        assert_eq!(at("CapDataType"), Some((31, 1)));
        assert_eq!(at("GuardBits"), Some((8, 18)));
        assert_eq!(at("GuardSize"), Some((2, 6)));
    }
}
