//! `syscall.xml` (syscall numbers), the conditions of the XML files, and the
//! invocation labels (numbered from the methods [`crate::api`] read).

use kernel_config::Config;
use roxmltree::{Document, Node};

use crate::cpp;

/// A condition on a syscall group or a method: a C preprocessor expression
/// (5.x `condition="..."` attribute) or a 12.x+ `<condition>` element tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    Always,
    /// A C preprocessor expression.
    Cpp(String),
    /// `<config var="CONFIG_X"/>`: `defined(CONFIG_X)`.
    Config(String),
    Not(Box<Condition>),
    And(Vec<Condition>),
    Or(Vec<Condition>),
}

impl Condition {
    /// The condition of an element: its `condition` attribute, or its
    /// `<condition>` child element.
    pub fn of(node: Node) -> Result<Condition, String> {
        if let Some(a) = node.attribute("condition") {
            let a = a.trim();
            return Ok(if a.is_empty() {
                Condition::Always
            } else {
                Condition::Cpp(a.to_string())
            });
        }
        let conds: Vec<Node> = node
            .children()
            .filter(|c| c.is_element() && c.tag_name().name() == "condition")
            .collect();
        match conds.as_slice() {
            [] => Ok(Condition::Always),
            [c] => {
                let kids: Vec<Node> = c.children().filter(Node::is_element).collect();
                match kids.as_slice() {
                    [] => Ok(Condition::Always),
                    [k] => Condition::from_element(*k),
                    _ => Err("a <condition> element must have one child element".into()),
                }
            }
            _ => Err("more than one <condition> element".into()),
        }
    }

    fn from_element(n: Node) -> Result<Condition, String> {
        let kids = || -> Result<Vec<Condition>, String> {
            n.children()
                .filter(Node::is_element)
                .map(Condition::from_element)
                .collect()
        };
        match n.tag_name().name() {
            "config" => match n.attribute("var") {
                Some(v) if !v.is_empty() => Ok(Condition::Config(v.to_string())),
                _ => Err("<config> without a var attribute".into()),
            },
            "not" => {
                let mut k = kids()?;
                if k.len() != 1 {
                    return Err("<not> must have one child element".into());
                }
                Ok(Condition::Not(Box::new(k.remove(0))))
            }
            "and" => Ok(Condition::And(kids()?)),
            "or" => Ok(Condition::Or(kids()?)),
            other => Err(format!("unknown element <{other}> in a condition")),
        }
    }

    /// Evaluates the condition against a configuration.
    pub fn eval(&self, config: &Config) -> Result<bool, String> {
        Ok(match self {
            Condition::Always => true,
            Condition::Cpp(e) => cpp::eval_condition(e, config)?,
            Condition::Config(v) => config.is_defined(v),
            Condition::Not(c) => !c.eval(config)?,
            Condition::And(cs) => {
                let mut r = true;
                for c in cs {
                    r &= c.eval(config)?;
                }
                r
            }
            Condition::Or(cs) => {
                let mut r = false;
                for c in cs {
                    r |= c.eval(config)?;
                }
                r
            }
        })
    }

    /// The C preprocessor text the kernel's generators would write (also
    /// used, as they do, to tell duplicate method ids apart).
    pub fn to_cpp(&self) -> String {
        match self {
            Condition::Always => String::new(),
            Condition::Cpp(e) => e.clone(),
            Condition::Config(v) => format!("defined({v})"),
            Condition::Not(c) => format!("!{}", c.to_cpp()),
            Condition::And(cs) => {
                format!(
                    "({})",
                    cs.iter()
                        .map(Condition::to_cpp)
                        .collect::<Vec<_>>()
                        .join(" && ")
                )
            }
            Condition::Or(cs) => {
                format!(
                    "({})",
                    cs.iter()
                        .map(Condition::to_cpp)
                        .collect::<Vec<_>>()
                        .join(" || ")
                )
            }
        }
    }
}

/// One syscall of the configured kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyscallDef {
    /// Name without prefix, e.g. `DebugPutChar`.
    pub name: String,
    /// Syscall number (negative).
    pub number: i64,
    /// Whether the configured kernel has it (its condition is true).
    pub enabled: bool,
}

/// The syscalls of `syscall.xml` for a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Syscalls {
    /// The API block in use and the debug block, numbered as the kernel
    /// does: from -1 downward over all of them in file order (a disabled
    /// group still takes its numbers, as in the kernel's generated header).
    pub list: Vec<SyscallDef>,
    /// Every syscall name in the file (all API blocks and the debug block),
    /// in order of first appearance.
    pub all_names: Vec<String>,
    /// Which API block was used (`api`, `api-master` or `api-mcs`).
    pub api_block: String,
}

impl Syscalls {
    /// The enabled syscalls.
    pub fn enabled(&self) -> impl Iterator<Item = &SyscallDef> {
        self.list.iter().filter(|s| s.enabled)
    }

    /// Number of an enabled syscall.
    pub fn number(&self, name: &str) -> Option<i64> {
        self.enabled().find(|s| s.name == name).map(|s| s.number)
    }
}

fn xml_err(what: &str) -> impl Fn(roxmltree::Error) -> String + '_ {
    move |e| format!("{what}: invalid XML: {e}")
}

fn child_elements<'a, 'i>(n: Node<'a, 'i>, name: &'a str) -> impl Iterator<Item = Node<'a, 'i>> {
    n.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name)
}

/// Reads `syscall.xml`.  seL4 5.x has one `<api>` block; 12.x+ have
/// `<api-master>` and `<api-mcs>`, chosen by `CONFIG_KERNEL_MCS`.
pub fn parse_syscalls(xml: &str, config: &Config) -> Result<Syscalls, String> {
    let doc = Document::parse(xml).map_err(xml_err("syscall.xml"))?;
    let root = doc.root_element();
    if root.tag_name().name() != "syscalls" {
        return Err(format!(
            "syscall.xml: root element is <{}>, expected <syscalls>",
            root.tag_name().name()
        ));
    }
    let mcs = config.is_defined("CONFIG_KERNEL_MCS");
    let want = if child_elements(root, "api").next().is_some() {
        "api"
    } else if mcs {
        "api-mcs"
    } else {
        "api-master"
    };
    let api: Vec<Node> = child_elements(root, want).collect();
    if api.len() != 1 {
        return Err(format!(
            "syscall.xml: expected one <{want}> element, found {}",
            api.len()
        ));
    }
    let mut all_names: Vec<String> = Vec::new();
    for block in root.children().filter(Node::is_element) {
        for s in block.descendants().filter(|d| d.has_tag_name("syscall")) {
            if let Some(n) = s.attribute("name") {
                if !all_names.iter().any(|x| x == n) {
                    all_names.push(n.to_string());
                }
            }
        }
    }
    let mut list = Vec::new();
    let mut number = -1i64;
    let debug: Vec<Node> = child_elements(root, "debug").collect();
    for block in api.iter().chain(debug.iter()) {
        for cfg in child_elements(*block, "config") {
            let cond = Condition::of(cfg).map_err(|e| format!("syscall.xml: {e}"))?;
            let enabled = cond.eval(config).map_err(|e| format!("syscall.xml: {e}"))?;
            for s in child_elements(cfg, "syscall") {
                let name = s
                    .attribute("name")
                    .ok_or("syscall.xml: <syscall> without a name")?;
                list.push(SyscallDef {
                    name: name.to_string(),
                    number,
                    enabled,
                });
                number -= 1;
            }
        }
    }
    if list.is_empty() {
        return Err("syscall.xml: no syscalls".into());
    }
    Ok(Syscalls {
        list,
        all_names,
        api_block: want.to_string(),
    })
}

/// Invocation labels in the kernel's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocations {
    /// `InvalidInvocation` = 0, the generic methods, then the sel4_arch
    /// methods (from `nInvocationLabels`), then the arch methods (from
    /// `nSeL4ArchInvocationLabels`).
    pub labels: Vec<(String, usize)>,
    /// `nInvocationLabels`.
    pub n_generic: usize,
    /// `nSeL4ArchInvocationLabels`.
    pub n_sel4_arch: usize,
    /// `nArchInvocationLabels`.
    pub n_arch: usize,
}

impl Invocations {
    /// Labels from the enabled method ids of the generic, sel4_arch and
    /// arch interface files (see [`crate::api::label_ids`]).
    pub fn new(generic: &[String], sel4_arch: &[String], arch: &[String]) -> Invocations {
        let mut labels = vec![("InvalidInvocation".to_string(), 0)];
        for m in generic.iter().chain(sel4_arch).chain(arch) {
            let n = labels.len();
            labels.push((m.clone(), n));
        }
        let n_generic = 1 + generic.len();
        let n_sel4_arch = n_generic + sel4_arch.len();
        Invocations {
            labels,
            n_generic,
            n_sel4_arch,
            n_arch: n_sel4_arch + arch.len(),
        }
    }

    /// The number of label `name`.
    pub fn get(&self, name: &str) -> Option<usize> {
        self.labels.iter().find(|(n, _)| n == name).map(|x| x.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kernel_config::Value;

    fn cfg(mcs: bool) -> Config {
        let mut c = Config::new();
        c.insert("CONFIG_DEBUG_BUILD", Value::Bool(true));
        c.insert("CONFIG_PRINTING", Value::Bool(true));
        c.insert("CONFIG_KERNEL_MCS", Value::Bool(mcs));
        c.insert("CONFIG_MAX_NUM_NODES", Value::Int(1));
        c
    }

    const SYSCALLS_5: &str = r#"<?xml version="1.0" ?>
<syscalls>
    <api>
        <config>
            <syscall name="Call"/>
            <syscall name="ReplyRecv"/>
        </config>
    </api>
    <debug>
        <config condition="defined CONFIG_DEBUG_BUILD">
            <syscall name="DebugPutChar"/>
            <syscall name="DebugHalt"/>
        </config>
        <config condition="defined CONFIG_DANGEROUS_CODE_INJECTION">
            <syscall name="DebugRun"/>
        </config>
        <config condition="defined CONFIG_DEBUG_BUILD">
            <syscall name="DebugNameThread"/>
        </config>
    </debug>
</syscalls>"#;

    const SYSCALLS_16: &str = r#"<syscalls>
    <api-master><config><syscall name="Call"/><syscall name="Reply"/></config></api-master>
    <api-mcs><config><syscall name="Call"/><syscall name="NBSendRecv"/><syscall name="Wait"/></config></api-mcs>
    <debug>
        <config><condition><config var="CONFIG_PRINTING"/></condition><syscall name="DebugPutChar"/></config>
        <config>
            <condition><and><config var="CONFIG_DEBUG_BUILD"/><config var="CONFIG_ENABLE_SMP_SUPPORT"/></and></condition>
            <syscall name="DebugSendIPI"/>
        </config>
        <config><condition><not><config var="CONFIG_KERNEL_MCS"/></not></condition><syscall name="DebugHalt"/></config>
    </debug>
</syscalls>"#;

    #[test]
    fn syscalls_5() {
        let s = parse_syscalls(SYSCALLS_5, &cfg(false)).unwrap();
        assert_eq!(s.number("Call"), Some(-1));
        assert_eq!(s.number("ReplyRecv"), Some(-2));
        assert_eq!(s.number("DebugPutChar"), Some(-3));
        assert_eq!(s.number("DebugHalt"), Some(-4));
        assert_eq!(s.number("DebugRun"), None);
        // a disabled group keeps its numbers
        assert_eq!(s.number("DebugNameThread"), Some(-6));
        assert_eq!(s.all_names.len(), 6);
        assert_eq!(s.api_block, "api");
    }

    #[test]
    fn syscalls_16_master_and_mcs() {
        let s = parse_syscalls(SYSCALLS_16, &cfg(false)).unwrap();
        assert_eq!(s.api_block, "api-master");
        assert_eq!(s.number("Reply"), Some(-2));
        assert_eq!(s.number("DebugPutChar"), Some(-3));
        assert_eq!(s.number("DebugSendIPI"), None);
        assert_eq!(s.number("DebugHalt"), Some(-5));
        assert_eq!(s.number("Wait"), None);
        assert!(s.all_names.contains(&"Wait".to_string()));
        let m = parse_syscalls(SYSCALLS_16, &cfg(true)).unwrap();
        assert_eq!(m.api_block, "api-mcs");
        assert_eq!(m.number("Wait"), Some(-3));
        assert_eq!(m.number("DebugPutChar"), Some(-4));
        assert_eq!(m.number("DebugHalt"), None);
        assert!(parse_syscalls("<nope/>", &cfg(false)).is_err());
        assert!(parse_syscalls("<syscalls", &cfg(false)).is_err());
    }

    #[test]
    fn labels_are_numbered_over_the_three_levels() {
        let inv = Invocations::new(
            &[
                "TCBReadRegisters".into(),
                "TCBConfigure".into(),
                "TCBSuspend".into(),
            ],
            &["X86PDPTMap".into()],
            &["X86PageMap".into(), "X".into()],
        );
        assert_eq!(inv.get("InvalidInvocation"), Some(0));
        assert_eq!(inv.get("TCBReadRegisters"), Some(1));
        assert_eq!(inv.n_generic, 4);
        assert_eq!(inv.get("X86PDPTMap"), Some(4));
        assert_eq!(inv.n_sel4_arch, 5);
        assert_eq!(inv.get("X86PageMap"), Some(5));
        assert_eq!(inv.n_arch, 7);
    }

    #[test]
    fn condition_text() {
        let doc = Document::parse(
            r#"<m><condition><or><and><config var="A"/><not><config var="B"/></not></and><config var="C"/></or></condition></m>"#,
        )
        .unwrap();
        let c = Condition::of(doc.root_element()).unwrap();
        assert_eq!(c.to_cpp(), "((defined(A) && !defined(B)) || defined(C))");
        let mut conf = Config::new();
        conf.insert("C", Value::Bool(true));
        assert!(c.eval(&conf).unwrap());
    }
}
