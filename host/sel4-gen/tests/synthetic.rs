//! End to end without a real kernel: a tiny kernel tree (12.x+ layout) and a
//! CMake-style stage are written to a temporary folder, the Rust source is
//! generated, then compiled and its tests run with the host `rustc`.

mod common;

use common::SHIM_COMMON;
use std::path::Path;
use std::process::Command;

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

const SYSCALL_XML: &str = r#"<syscalls>
  <api-master><config><syscall name="Call"/><syscall name="Send"/></config></api-master>
  <api-mcs><config><syscall name="Call"/><syscall name="Wait"/></config></api-mcs>
  <debug>
    <config><condition><config var="CONFIG_PRINTING"/></condition><syscall name="DebugPutChar"/></config>
    <config><condition><config var="CONFIG_DANGEROUS_CODE_INJECTION"/></condition><syscall name="DebugRun"/></config>
    <config><condition><config var="CONFIG_DEBUG_BUILD"/></condition><syscall name="DebugHalt"/></config>
  </debug>
</syscalls>"#;

const GENERIC_XML: &str = r#"<api><interface name="seL4_Untyped">
  <method id="UntypedRetype" name="Retype"/>
  <method id="TCBConfigure" name="Configure"><condition><not><config var="CONFIG_KERNEL_MCS"/></not></condition></method>
  <method id="TCBConfigure" name="Configure"><condition><config var="CONFIG_KERNEL_MCS"/></condition></method>
  <method id="TCBSetAffinity" name="SetAffinity"><condition><config var="CONFIG_ENABLE_SMP_SUPPORT"/></condition></method>
  <method id="CNodeCopy" name="Copy"/>
</interface></api>"#;

fn make_tree(root: &Path) {
    let l = "src/libsel4";
    write(root, &format!("{l}/include/api/syscall.xml"), SYSCALL_XML);
    write(
        root,
        &format!("{l}/include/interfaces/object-api.xml"),
        GENERIC_XML,
    );
    write(
        root,
        &format!("{l}/sel4_arch_include/x86_64/interfaces/object-api-sel4-arch.xml"),
        r#"<api><struct name="seL4_UserContext"><member name="rip"/><member name="rsp"/></struct><interface name="seL4_X86_PDPT"><method id="X86PDPTMap" name="Map"/></interface></api>"#,
    );
    write(
        root,
        &format!("{l}/arch_include/x86/interfaces/object-api-arch.xml"),
        r#"<api><interface name="seL4_X86_Page"><method id="X86PageMap" name="Map"/>
           <method id="X86PageMapIO" name="MapIO"><condition><config var="CONFIG_IOMMU"/></condition></method>
           <method id="X86IOPortOut8" name="Out8"/></interface></api>"#,
    );
    write(
        root,
        &format!("{l}/mode_include/64/sel4/shared_types.bf"),
        "base 64\nblock seL4_MessageInfo {\n field label 52\n field capsUnwrapped 3\n field extraCaps 2\n field length 7\n}\nblock seL4_CapRights {\n padding 60\n field capAllowGrantReply 1\n field capAllowGrant 1\n field capAllowRead 1\n field capAllowWrite 1\n}\n\
         -- seL4 5.x's seL4_CapData (types_64.bf)\n\
         block Guard {\n padding 32\n field CapDataType 1\n padding 5\n field GuardBits 18\n field GuardSize 6\n padding 2\n}\n\
         block Badge {\n padding 32\n field CapDataType 1\n padding 3\n field Badge 28\n}\n\
         tagged_union seL4_CapData CapDataType {\n tag Badge 0\n tag Guard 1\n}\n",
    );
    write(
        root,
        &format!("{l}/arch_include/x86/sel4/arch/shared_types.bf"),
        "tagged_union seL4_Fault seL4_FaultType {\n tag NullFault 0\n}\n",
    );
    write(
        root,
        &format!("{l}/include/sel4/bootinfo_types.h"),
        "enum seL4_RootCNodeCapSlots {\n    seL4_CapNull = 0,\n    seL4_CapInitThreadTCB = 1,\n    seL4_CapInitThreadCNode = 2,\n#ifdef CONFIG_X86_64\n    seL4_CapIOPort = 7,\n#endif\n    seL4_NumInitialCaps = 8\n};\n",
    );
    write(
        root,
        &format!("{l}/include/sel4/shared_types.h"),
        "typedef enum {\n seL4_CapFault_IP,\n seL4_CapFault_Addr,\n seL4_CapFault_Length\n} seL4_CapFault_Msg;\n",
    );
    write(
        root,
        &format!("{l}/arch_include/x86/sel4/arch/types.h"),
        "typedef enum {\n seL4_X86_Default_VMAttributes = 0,\n seL4_X86_WriteThrough = 1\n} seL4_X86_VMAttributes;\n",
    );
    write(
        root,
        &format!("{l}/sel4_arch_include/x86_64/sel4/sel4_arch/types.h"),
        "typedef struct seL4_UserContext_ {\n seL4_Word rip, rsp;\n} seL4_UserContext;\n",
    );
    write(
        root,
        &format!("{l}/include/sel4/errors.h"),
        "typedef enum {\n seL4_NoError = 0,\n seL4_InvalidArgument,\n seL4_NumErrors\n} seL4_Error;\n",
    );
    write(
        root,
        &format!("{l}/include/sel4/objecttype.h"),
        "typedef enum api_object {\n seL4_UntypedObject,\n seL4_TCBObject,\n#ifdef CONFIG_KERNEL_MCS\n seL4_ReplyObject,\n#endif\n seL4_NonArchObjectTypeCount,\n} seL4_ObjectType;\n",
    );
    write(
        root,
        &format!("{l}/sel4_arch_include/x86_64/sel4/sel4_arch/objecttype.h"),
        "typedef enum _mode_object {\n seL4_X86_PDPTObject = seL4_NonArchObjectTypeCount,\n seL4_ModeObjectTypeCount\n} seL4_seL4ArchObjectType;\n",
    );
    write(
        root,
        &format!("{l}/arch_include/x86/sel4/arch/objecttype.h"),
        "typedef enum _object {\n seL4_X86_4K = seL4_ModeObjectTypeCount,\n seL4_ObjectTypeCount\n} seL4_ArchObjectType;\n",
    );
    write(
        root,
        &format!("{l}/include/sel4/constants.h"),
        "#define LIBSEL4_BIT(n) (1ul<<(n))\nenum seL4_MsgLimits {\n seL4_MsgLengthBits = 7,\n seL4_MsgExtraCapBits = 2,\n seL4_MsgMaxLength = 120\n};\n#define seL4_MsgMaxExtraCaps (LIBSEL4_BIT(seL4_MsgExtraCapBits)-1)\n",
    );
    write(
        root,
        &format!("{l}/sel4_arch_include/x86_64/sel4/sel4_arch/constants.h"),
        "#define seL4_PageBits 12\n#if CONFIG_XSAVE_SIZE >= 832\n#define seL4_TCBBits 12\n#else\n#define seL4_TCBBits 11\n#endif\n",
    );
    write(
        root,
        &format!("{l}/arch_include/x86/sel4/arch/constants.h"),
        "#pragma once\n",
    );
    // what the tree knows beyond this configuration: an option no config
    // file sets, another architecture's methods and object types
    write(
        root,
        "src/config.cmake",
        "config_option(KernelDeclaredOnly DECLARED_ONLY \"an option\" DEFAULT OFF)\n",
    );
    write(
        root,
        &format!("{l}/arch_include/arm/interfaces/object-api-arch.xml"),
        r#"<api><interface name="seL4_ARM_Page"><method id="ARMPageMap" name="Map"/></interface></api>"#,
    );
    write(
        root,
        &format!("{l}/arch_include/arm/sel4/arch/objecttype.h"),
        "typedef enum _object {\n seL4_ARM_SmallPageObject = seL4_ModeObjectTypeCount,\n seL4_ObjectTypeCount\n} seL4_ArchObjectType;\n",
    );
    write(
        root,
        "install/gen_config.json",
        r#"{"KERNEL_MCS": false, "PRINTING": true, "DEBUG_BUILD": true, "IOMMU": false,
            "XSAVE_SIZE": "512", "WORD_SIZE": "64", "ARCH": "x86", "DOMAIN_SCHEDULE": ""}"#,
    );
    let r = root.display();
    write(
        root,
        "stage/sel4-kernel.json",
        &format!(
            r#"{{"version": "16.0.0", "build_system": "cmake", "arch": "x86", "sel4_arch": "x86_64",
                 "plat": "pc99", "source_dir": "{r}/src", "build_dir": "{r}/build",
                 "install_dir": "{r}/install", "config": ["{r}/install/gen_config.json"]}}"#
        ),
    );
}

const SHIM_INVOCATION: &str = r#"
pub mod invocation {
    pub struct Reply;
    pub fn call(
        service: crate::CPtr,
        label: crate::InvocationLabel,
        caps: &[crate::CPtr],
        words: &[crate::Word],
    ) -> core::result::Result<Reply, crate::InvocationError> {
        let _ = (caps, words);
        core::result::Result::Err(crate::InvocationError(service * 1000 + label as crate::Word))
    }
}
"#;

const TESTS: &str = r#"
#[test]
fn methods_and_markers() {
    let u: Cap<cap_type::Untyped> = Cap::from_cptr(3);
    assert_eq!(u.untyped_retype(), Err(InvocationError(3001)));
    assert_eq!(u.untyped_copy(), Err(InvocationError(3003)));
    let p: Cap<cap_type::X86Page> = Cap::from_cptr(4);
    assert_eq!(p.x86_page_map(), Err(InvocationError(4005)));
    assert_eq!(<cap_type::X86Page as CapType>::OBJECT_TYPE, Some(ObjectType::X86_4K));
    assert_eq!(<cap_type::X86Page as FixedSize>::SIZE_BITS, 12);
    assert_eq!(<cap_type::X86PDPT as CapType>::OBJECT_TYPE, Some(ObjectType::X86_PDPTObject));
    assert_eq!(<cap_type::Endpoint as CapType>::OBJECT_TYPE, None);
    assert_eq!(X86_VMAttributes::WriteThrough, X86_VMAttributes(1));
    assert_eq!(UserContext::WORDS, 2);
    assert_eq!(consts::CapFault_Addr, 1);
    assert_eq!(FaultLabel::NullFault as usize, 0);
}

#[test]
fn values() {
    use core::convert::TryFrom;
    assert_eq!(Syscall::Call as isize, -1);
    assert_eq!(Syscall::Send as isize, -2);
    assert_eq!(Syscall::DebugPutChar as isize, -3);
    assert_eq!(Syscall::DebugHalt as isize, -5);
    assert_eq!(syscall_opt::DEBUG_RUN, None);
    assert_eq!(syscall_opt::WAIT, None);
    assert_eq!(syscall_opt::DEBUG_PUT_CHAR, Some(Syscall::DebugPutChar));
    assert_eq!(Syscall::try_from(-5isize).map(Syscall::name), Ok("DebugHalt"));
    assert_eq!(InvocationLabel::UntypedRetype as usize, 1);
    assert_eq!(InvocationLabel::TCBConfigure as usize, 2);
    assert_eq!(InvocationLabel::CNodeCopy as usize, 3);
    assert_eq!(InvocationLabel::nInvocationLabels, 4);
    assert_eq!(InvocationLabel::X86PDPTMap as usize, 4);
    assert_eq!(InvocationLabel::X86PageMap as usize, 5);
    assert_eq!(InvocationLabel::X86IOPortOut8 as usize, 6);
    assert_eq!(InvocationLabel::try_from(7usize), Err(7));
    assert_eq!(Error::InvalidArgument as usize, 1);
    assert_eq!(Error::NumErrors, 2);
    assert_eq!(ObjectType::X86_PDPTObject as usize, 2);
    assert_eq!(ObjectType::X86_4K as usize, 3);
    assert_eq!(ObjectType::ObjectTypeCount, 4);
    assert_eq!(consts::MsgMaxExtraCaps, 3);
    assert_eq!(consts::TCBBits, 11);
    assert_eq!(consts::PageBits, 12);
    assert!(config::DEBUG_BUILD && !config::KERNEL_MCS);
    assert_eq!(config::XSAVE_SIZE, 512);
    assert_eq!(config::ARCH, "x86");
    assert_eq!(KERNEL_VERSION, "16.0.0");
}

#[test]
fn bitfields() {
    let mut m = MessageInfo::new(5, 0, 1, 4);
    assert_eq!(m.0, (5 << 12) | (1 << 7) | 4);
    m.set_label(0xf_ffff_ffff_ffff);
    assert_eq!(m.get_label(), 0xf_ffff_ffff_ffff);
    assert_eq!(m.get_length(), 4);
    let r = CapRights::new(1, 0, 1, 1);
    assert_eq!(r.0, 0b1011);
    assert_eq!(r.get_cap_allow_grant(), 0);
}

#[test]
fn one_word_tagged_union_from_its_blocks() {
    use core::convert::TryFrom;
    assert_eq!(CapData::new_guard(3, 10).0, (1 << 31) | (3 << 8) | (10 << 2));
    assert_eq!(CapData::try_new_guard(1 << 18, 0), None);
    assert_eq!(CapData::try_new_guard(0, 64), None);
    assert_eq!(CapData::new_badge(0x5).0, 0x5);
    assert_eq!(CapData::try_new_badge(1 << 28), None);
    assert_eq!(CapData::try_from(0xffu64), Ok(CapData(0xff)));
    assert_eq!(CapData::try_from(1u64 << 28), Err(1 << 28));
}

#[test]
#[should_panic]
fn field_masks_are_checked() {
    let _ = CapRights::new(2, 0, 0, 0);
}

#[test]
fn try_new_refuses_values_that_do_not_fit() {
    assert_eq!(CapRights::try_new(1, 1, 1, 1), Some(CapRights(0xf)));
    assert_eq!(CapRights::try_new(2, 0, 0, 0), None);
}

// by path from inside the including crate, as sel4-sys's own modules use it
mod inner {
    pub fn guarded() -> u8 {
        crate::sel4_cfg_if! { kernel >= 12 && config PRINTING { 1 } else { 0 } }
    }
}

// item position: the branch not taken may use names this kernel lacks
sel4_cfg_if! { config PRINTING { fn printing() -> bool { true } } else { fn printing() -> u8 { nope } } }

#[test]
fn cfg_if_takes_the_branch_this_kernel_has() {
    assert!(printing());
    assert_eq!(inner::guarded(), 1);
    let mut v = Vec::new();
    sel4_cfg_if! { config PRINTING { v.push(1); } else { v.push(0); } }
    // off in gen_config.json; declared by the tree only; an MCS syscall
    sel4_cfg_if! { config KERNEL_MCS { v.push(0); } else { v.push(2); } }
    sel4_cfg_if! { config DECLARED_ONLY { v.push(0); } else { v.push(3); } }
    sel4_cfg_if! { syscall Wait { v.push(0); } else { v.push(4); } }
    // a method this configuration disables, one of another architecture
    sel4_cfg_if! { label TCBSetAffinity { v.push(0); } else { v.push(5); } }
    sel4_cfg_if! { label ARMPageMap { v.push(0); } else { v.push(6); } }
    sel4_cfg_if! { label X86PageMap { v.push(7); } }
    sel4_cfg_if! { object ReplyObject { v.push(0); } else { v.push(8); } }
    sel4_cfg_if! { object ARM_SmallPageObject { v.push(0); } else { v.push(9); } }
    sel4_cfg_if! { init_cap CapIOPort { v.push(0); } else { v.push(10); } }
    sel4_cfg_if! { init_cap CapInitThreadTCB { v.push(11); } else { v.push(0); } }
    sel4_cfg_if! { kernel >= 16 { v.push(12); } else { v.push(0); } }
    sel4_cfg_if! { kernel >= 17 { v.push(0); } else { v.push(13); } }
    // a name of a later kernel version is not checked on this one
    sel4_cfg_if! { kernel >= 99 && label NoSuchLabelYet { v.push(0); } else { v.push(14); } }
    sel4_cfg_if! { kernel >= 5 && label UntypedRetype { v.push(15); } else { v.push(0); } }
    sel4_cfg_if! { kernel >= 5 && config KERNEL_MCS { v.push(0); } else { v.push(16); } }
    sel4_cfg_if! { config KERNEL_MCS { let _ = Syscall::Wait; } }
    let x = sel4_cfg_if! { config DEBUG_BUILD { 17 } else { 0 } };
    v.push(x);
    assert_eq!(v, (1..=17).collect::<Vec<_>>());
}
"#;

#[test]
fn synthetic_tree_end_to_end() {
    let root = std::env::temp_dir().join(format!("sel4-gen-synthetic-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    make_tree(&root);
    let stage = sel4_gen::Stage::load(root.join("stage")).unwrap();
    let src = sel4_gen::generate(&stage).unwrap();
    assert_eq!(
        src,
        sel4_gen::generate(&stage).unwrap(),
        "not deterministic"
    );
    std::fs::write(
        root.join("t.rs"),
        format!("{src}\n{SHIM_COMMON}{SHIM_INVOCATION}\n{TESTS}"),
    )
    .unwrap();
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(rustc)
        .args([
            "--edition",
            "2021",
            "--test",
            "-D",
            "warnings",
            "t.rs",
            "-o",
            "t",
        ])
        .current_dir(&root)
        .output()
        .expect("run rustc");
    assert!(
        out.status.success(),
        "rustc failed:\n{}\n--- source ---\n{src}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = Command::new(root.join("t")).output().unwrap();
    assert!(
        run.status.success(),
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let _ = std::fs::remove_dir_all(&root);
}

/// Each snippet must fail to compile with the given message.
const COMPILE_FAIL: &[(&str, &str)] = &[
    (
        "sel4_cfg_if! { config KERNEL_MSC { } else { } }",
        "`config KERNEL_MSC` is not a configuration option of seL4 16.0.0 (x86/x86_64)",
    ),
    (
        "sel4_cfg_if! { label TCBSetPriorty { } }",
        "`label TCBSetPriorty` is not an invocation label of seL4 16.0.0",
    ),
    (
        "sel4_cfg_if! { syscall Sned { } }",
        "`syscall Sned` is not a syscall of seL4 16.0.0",
    ),
    (
        "sel4_cfg_if! { object TCB { } }",
        "`object TCB` is not an object type of seL4 16.0.0",
    ),
    (
        "sel4_cfg_if! { init_cap CapInitThreadTbc { } }",
        "`init_cap CapInitThreadTbc` is not an initial capability of seL4 16.0.0",
    ),
    // the guard holds on this kernel, so the name is checked
    (
        "sel4_cfg_if! { kernel >= 12 && label NoSuchLabel { } else { } }",
        "`label NoSuchLabel` is not an invocation label",
    ),
    ("sel4_cfg_if! { flavour X { } }", "unknown kind `flavour`"),
    (
        "sel4_cfg_if! { kernel >= twelve { } }",
        "`kernel >= twelve` needs a major version number",
    ),
];

#[test]
fn cfg_if_unknown_names_do_not_compile() {
    let root = std::env::temp_dir().join(format!("sel4-gen-cfg-if-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    make_tree(&root);
    let stage = sel4_gen::Stage::load(root.join("stage")).unwrap();
    let src = sel4_gen::generate(&stage).unwrap();
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    for (i, (snippet, message)) in COMPILE_FAIL.iter().enumerate() {
        let file = format!("f{i}.rs");
        std::fs::write(
            root.join(&file),
            format!("{src}\n{SHIM_COMMON}{SHIM_INVOCATION}\npub fn f() {{ {snippet} }}\n"),
        )
        .unwrap();
        let out = Command::new(&rustc)
            .args(["--edition", "2021", "--crate-type", "lib", &file, "-o"])
            .arg(format!("lib{i}.rlib"))
            .current_dir(&root)
            .output()
            .expect("run rustc");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{snippet} compiled");
        assert!(
            err.contains(message),
            "{snippet}: expected {message:?} in:\n{err}"
        );
    }
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn broken_stage_errors_name_the_file() {
    let root = std::env::temp_dir().join(format!("sel4-gen-broken-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    make_tree(&root);
    std::fs::remove_file(root.join("src/libsel4/include/sel4/errors.h")).unwrap();
    let e = sel4_gen::generate_from_dir(root.join("stage")).unwrap_err();
    assert!(e.0.contains("errors.h") && e.0.contains("stage"), "{e}");
    let _ = std::fs::remove_dir_all(&root);
}
