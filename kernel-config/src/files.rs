//! Where the interface files of a kernel tree are, for both known layouts.

use std::path::{Path, PathBuf};

use crate::{err, BuildSystem, Result, Stage};

/// The kernel-tree files the generators read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelFiles {
    /// `libsel4/include/api/syscall.xml`.
    pub syscall_xml: PathBuf,
    /// Generic object methods (`sel4.xml` in 5.x, `object-api.xml` later).
    pub interface_generic: PathBuf,
    /// sel4_arch methods (e.g. x86_64).
    pub interface_sel4_arch: PathBuf,
    /// arch methods (e.g. x86).
    pub interface_arch: PathBuf,
    /// Bitfield (`.bf`) files of libsel4, in include order.
    pub bitfields: Vec<PathBuf>,
    /// `libsel4/include/sel4/errors.h`.
    pub errors_h: PathBuf,
    /// `objecttype.h` of the api level (`seL4_UntypedObject`, ...).
    pub objecttype_api: PathBuf,
    /// `objecttype.h` of the sel4_arch (mode) level.
    pub objecttype_sel4_arch: PathBuf,
    /// `objecttype.h` of the arch level.
    pub objecttype_arch: PathBuf,
    /// `constants.h` files: api, sel4_arch, arch, and plat when the tree has one.
    pub constants: Vec<PathBuf>,
    /// `bootinfo_types.h` (the initial capability slots, `seL4_CapInitThreadTCB`, ...).
    pub bootinfo_types_h: PathBuf,
    /// `shared_types.h` (fault message layouts such as `seL4_CapFault_IP`).
    pub shared_types_h: PathBuf,
    /// `types.h` of the arch and sel4_arch levels (`seL4_UserContext`,
    /// `seL4_VCPUContext`, `seL4_X86_VMAttributes`, ...), arch first.
    pub types_h: Vec<PathBuf>,
    /// The interface XML files of the tree's other architectures (read only
    /// for the names they declare: `sel4_cfg_if!` knows every invocation
    /// label of the tree, not only this architecture's).
    pub other_interfaces: Vec<PathBuf>,
    /// The `objecttype.h` files of the tree's other architectures (names
    /// only, as [`KernelFiles::other_interfaces`]).
    pub other_objecttypes: Vec<PathBuf>,
}

/// The C headers the kernel build generated from the same XML files; used only
/// to cross-check the generators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedHeaders {
    /// `enum invocation_label` (generic methods).
    pub invocation: PathBuf,
    /// `enum sel4_arch_invocation_label`.
    pub sel4_arch_invocation: PathBuf,
    /// `enum arch_invocation_label`.
    pub arch_invocation: PathBuf,
    /// The syscall numbers enum.
    pub syscall: PathBuf,
}

fn need(stage: &Stage, what: &str, p: PathBuf) -> Result<PathBuf> {
    if p.is_file() {
        Ok(p)
    } else {
        err(format!(
            "{}: missing {} ({})",
            stage.describe(),
            what,
            p.display()
        ))
    }
}

impl KernelFiles {
    /// Finds the files in the stage's kernel source tree (`source_dir`).
    /// 5.x names (`sel4.xml`, `sel4arch.xml`, `shared_types_64.bf`) and
    /// 10.x+ names (`object-api*.xml`, `mode_include/`) are both known; the
    /// newer names are used when present.
    pub fn discover(stage: &Stage) -> Result<KernelFiles> {
        let lib = stage.source_dir.join("libsel4");
        if !lib.is_dir() {
            return err(format!(
                "{}: source_dir has no libsel4 folder ({})",
                stage.describe(),
                lib.display()
            ));
        }
        let arch_inc = lib.join("arch_include").join(&stage.arch);
        let sarch_inc = lib.join("sel4_arch_include").join(&stage.sel4_arch);
        let word = stage.word_size();

        let syscall_xml = need(stage, "syscall.xml", lib.join("include/api/syscall.xml"))?;

        let new_api = lib.join("include/interfaces/object-api.xml");
        let (interface_generic, interface_sel4_arch, interface_arch) = if new_api.is_file() {
            (
                new_api,
                need(
                    stage,
                    "sel4_arch interface XML",
                    sarch_inc.join("interfaces/object-api-sel4-arch.xml"),
                )?,
                need(
                    stage,
                    "arch interface XML",
                    arch_inc.join("interfaces/object-api-arch.xml"),
                )?,
            )
        } else {
            (
                need(
                    stage,
                    "generic interface XML",
                    lib.join("include/interfaces/sel4.xml"),
                )?,
                need(
                    stage,
                    "sel4_arch interface XML",
                    sarch_inc.join("interfaces/sel4arch.xml"),
                )?,
                need(
                    stage,
                    "arch interface XML",
                    arch_inc.join("interfaces/sel4arch.xml"),
                )?,
            )
        };

        let mode_bf = lib.join(format!("mode_include/{word}/sel4/shared_types.bf"));
        let mut bitfields = Vec::new();
        if mode_bf.is_file() {
            bitfields.push(mode_bf);
        } else {
            bitfields.push(need(
                stage,
                "bitfield file",
                lib.join(format!("include/sel4/shared_types_{word}.bf")),
            )?);
            let types = lib.join(format!("include/sel4/types_{word}.bf"));
            if types.is_file() {
                bitfields.push(types);
            }
        }
        bitfields.push(need(
            stage,
            "bitfield file",
            arch_inc.join("sel4/arch/shared_types.bf"),
        )?);
        let sarch_bf = sarch_inc.join("sel4/sel4_arch/types.bf");
        if sarch_bf.is_file() {
            bitfields.push(sarch_bf);
        }

        let errors_h = need(stage, "errors.h", lib.join("include/sel4/errors.h"))?;
        let objecttype_api = need(stage, "objecttype.h", lib.join("include/sel4/objecttype.h"))?;
        let objecttype_sel4_arch = need(
            stage,
            "sel4_arch objecttype.h",
            sarch_inc.join("sel4/sel4_arch/objecttype.h"),
        )?;
        let objecttype_arch = need(
            stage,
            "arch objecttype.h",
            arch_inc.join("sel4/arch/objecttype.h"),
        )?;
        let mut constants = vec![
            need(stage, "constants.h", lib.join("include/sel4/constants.h"))?,
            need(
                stage,
                "sel4_arch constants.h",
                sarch_inc.join("sel4/sel4_arch/constants.h"),
            )?,
            need(
                stage,
                "arch constants.h",
                arch_inc.join("sel4/arch/constants.h"),
            )?,
        ];
        let plat = lib
            .join("sel4_plat_include")
            .join(&stage.plat)
            .join("sel4/plat/api/constants.h");
        if plat.is_file() {
            constants.push(plat);
        }
        let bootinfo_types_h = need(
            stage,
            "bootinfo_types.h",
            lib.join("include/sel4/bootinfo_types.h"),
        )?;
        let shared_types_h = need(
            stage,
            "shared_types.h",
            lib.join("include/sel4/shared_types.h"),
        )?;
        let types_h = vec![
            need(stage, "arch types.h", arch_inc.join("sel4/arch/types.h"))?,
            need(
                stage,
                "sel4_arch types.h",
                sarch_inc.join("sel4/sel4_arch/types.h"),
            )?,
        ];
        let (sel4_arch_xml, arch_xml) = if new_api_names(&lib) {
            ("object-api-sel4-arch.xml", "object-api-arch.xml")
        } else {
            ("sel4arch.xml", "sel4arch.xml")
        };
        let mut other_interfaces = Vec::new();
        let mut other_objecttypes = Vec::new();
        for (level, xml, header) in [
            (
                "sel4_arch_include",
                sel4_arch_xml,
                "sel4/sel4_arch/objecttype.h",
            ),
            ("arch_include", arch_xml, "sel4/arch/objecttype.h"),
        ] {
            for dir in subfolders(&lib.join(level)) {
                for (file, out) in [
                    (dir.join("interfaces").join(xml), &mut other_interfaces),
                    (dir.join(header), &mut other_objecttypes),
                ] {
                    let ours = file == interface_sel4_arch
                        || file == interface_arch
                        || file == objecttype_sel4_arch
                        || file == objecttype_arch;
                    if file.is_file() && !ours {
                        out.push(file);
                    }
                }
            }
        }
        Ok(KernelFiles {
            other_interfaces,
            other_objecttypes,
            bootinfo_types_h,
            shared_types_h,
            types_h,
            syscall_xml,
            interface_generic,
            interface_sel4_arch,
            interface_arch,
            bitfields,
            errors_h,
            objecttype_api,
            objecttype_sel4_arch,
            objecttype_arch,
            constants,
        })
    }

    /// Every file, for `cargo:rerun-if-changed`.
    pub fn all(&self) -> Vec<&Path> {
        let mut v: Vec<&Path> = vec![
            &self.syscall_xml,
            &self.interface_generic,
            &self.interface_sel4_arch,
            &self.interface_arch,
            &self.errors_h,
            &self.objecttype_api,
            &self.objecttype_sel4_arch,
            &self.objecttype_arch,
            &self.bootinfo_types_h,
            &self.shared_types_h,
        ];
        v.extend(self.types_h.iter().map(PathBuf::as_path));
        v.extend(self.bitfields.iter().map(PathBuf::as_path));
        v.extend(self.constants.iter().map(PathBuf::as_path));
        v.extend(self.other_interfaces.iter().map(PathBuf::as_path));
        v.extend(self.other_objecttypes.iter().map(PathBuf::as_path));
        v
    }
}

/// Whether libsel4 has the 10.x+ interface file names (`object-api*.xml`).
fn new_api_names(lib: &Path) -> bool {
    lib.join("include/interfaces/object-api.xml").is_file()
}

/// The folders in `dir`, sorted (none when `dir` is missing).
fn subfolders(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

impl GeneratedHeaders {
    /// Finds the headers the kernel build generated.  Makefile (5.x):
    /// `<build_dir>/api/invocation.h`, `arch/api/sel4_invocation.h`,
    /// `arch/api/invocation.h`, `arch/api/syscall.h`.  CMake: the same names
    /// under `<build_dir>/gen_headers/` (12.x: `<build_dir>/kernel/gen_headers/`,
    /// the kernel being a subproject there), or else libsel4's copies in the
    /// install tree (`sel4/invocation.h`, `sel4/sel4_arch/invocation.h`,
    /// `sel4/arch/invocation.h`, `sel4/syscall.h`).
    pub fn discover(stage: &Stage) -> Result<GeneratedHeaders> {
        let kernel_layout = |root: &Path| -> Option<GeneratedHeaders> {
            let h = GeneratedHeaders {
                invocation: root.join("api/invocation.h"),
                sel4_arch_invocation: root.join("arch/api/sel4_invocation.h"),
                arch_invocation: root.join("arch/api/invocation.h"),
                syscall: root.join("arch/api/syscall.h"),
            };
            h.all().iter().all(|p| p.is_file()).then_some(h)
        };
        let libsel4_layout = |inc: &Path| -> Option<GeneratedHeaders> {
            let s = inc.join("sel4");
            let h = GeneratedHeaders {
                invocation: s.join("invocation.h"),
                sel4_arch_invocation: s.join("sel4_arch/invocation.h"),
                arch_invocation: s.join("arch/invocation.h"),
                syscall: s.join("syscall.h"),
            };
            h.all().iter().all(|p| p.is_file()).then_some(h)
        };
        let found = match stage.build_system {
            BuildSystem::Make => kernel_layout(&stage.build_dir),
            BuildSystem::Cmake => kernel_layout(&stage.build_dir.join("gen_headers"))
                // seL4 12.x, built by a project that imports the kernel
                .or_else(|| kernel_layout(&stage.build_dir.join("kernel/gen_headers")))
                .or_else(|| {
                    stage
                        .install_dir
                        .as_ref()
                        .and_then(|i| libsel4_layout(&i.join("libsel4/include")))
                })
                .or_else(|| libsel4_layout(&stage.build_dir.join("libsel4/include"))),
        };
        match found {
            Some(h) => Ok(h),
            None => {
                let looked = match stage.build_system {
                    BuildSystem::Make => format!(
                        "{}/api/invocation.h and arch/api/{{sel4_invocation,invocation,syscall}}.h",
                        stage.build_dir.display()
                    ),
                    BuildSystem::Cmake => format!(
                        "{0}/gen_headers/..., {0}/kernel/gen_headers/..., {1}/libsel4/include/sel4/... and the build's libsel4/include/sel4/",
                        stage.build_dir.display(),
                        stage
                            .install_dir
                            .as_deref()
                            .map_or("<no install_dir>".to_string(), |p| p.display().to_string())
                    ),
                };
                err(format!(
                    "{}: the kernel's generated invocation/syscall headers are missing (looked in {})",
                    stage.describe(),
                    looked
                ))
            }
        }
    }

    pub fn all(&self) -> [&Path; 4] {
        [
            &self.invocation,
            &self.sel4_arch_invocation,
            &self.arch_invocation,
            &self.syscall,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_stage_is_a_clear_error() {
        let e = Stage::load("/nonexistent/stage").unwrap_err();
        assert!(e.0.contains("/nonexistent/stage"), "{e}");
    }

    #[test]
    fn manifest_errors_name_the_field() {
        let dir = std::env::temp_dir();
        let e = Stage::from_json(&dir, r#"{"version": "5.0.0"}"#).unwrap_err();
        assert!(e.0.contains("build_system"), "{e}");
        let e = Stage::from_json(
            &dir,
            r#"{"version":"5.0.0","build_system":"scons","arch":"x86","sel4_arch":"x86_64","plat":"pc99",
                "source_dir":"/","build_dir":"/","install_dir":null,"config":["/a"]}"#,
        )
        .unwrap_err();
        assert!(e.0.contains("scons"), "{e}");
    }

    #[test]
    fn manifest_parses_and_missing_files_are_named() {
        let dir = std::env::temp_dir();
        let s = Stage::from_json(
            &dir,
            r#"{"version":"16.0.0","build_system":"cmake","arch":"x86","sel4_arch":"x86_64","plat":"pc99",
                "source_dir":"/","build_dir":"/b","install_dir":"/i","config":["/i/a.json"]}"#,
        )
        .unwrap();
        assert_eq!(s.version_major().unwrap(), 16);
        assert_eq!(s.build_system, BuildSystem::Cmake);
        assert_eq!(s.install_dir.as_deref(), Some(Path::new("/i")));
        assert_eq!(s.word_size(), 64);
        assert_eq!((s.dtb.as_deref(), s.memory.len()), (None, 0));
        let e = KernelFiles::discover(&s).unwrap_err();
        assert!(e.0.contains("libsel4"), "{e}");
    }

    #[test]
    fn manifest_with_device_tree_and_memory() {
        let dir = std::env::temp_dir();
        let s = Stage::from_json(
            &dir,
            r#"{"version":"16.0.0","build_system":"cmake","arch":"arm","sel4_arch":"aarch64",
                "plat":"qemu-arm-virt","source_dir":"/","build_dir":"/b","install_dir":"/i",
                "config":["/i/a.json"],"dtb":"/i/support/kernel.dtb",
                "memory":[{"start":1073741824,"end":2147483648}]}"#,
        )
        .unwrap();
        assert_eq!(s.dtb.as_deref(), Some(Path::new("/i/support/kernel.dtb")));
        assert_eq!(
            s.memory,
            [crate::MemoryRegion {
                start: 0x4000_0000,
                end: 0x8000_0000
            }]
        );
        for bad in [
            r#""memory":[{"start":2,"end":1}]"#,
            r#""memory":[{"start":1}]"#,
            r#""memory":"all""#,
            r#""dtb":5"#,
        ] {
            let text = format!(
                r#"{{"version":"16.0.0","build_system":"cmake","arch":"arm","sel4_arch":"aarch64",
                    "plat":"qemu-arm-virt","source_dir":"/","build_dir":"/b","install_dir":"/i",
                    "config":["/i/a.json"],{bad}}}"#
            );
            let e = Stage::from_json(&dir, &text).unwrap_err();
            assert!(e.0.contains("memory") || e.0.contains("dtb"), "{bad}: {e}");
        }
    }
}
