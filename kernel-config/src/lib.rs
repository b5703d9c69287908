//! Reads a seL4 kernel *stage* (see `docs/design.md`): the `sel4-kernel.json`
//! manifest, the kernel configuration it was built with, and where the
//! interface files (XML, bitfield and C headers) of that kernel tree are.
//!
//! Two layouts are known: the seL4 5.x Makefile build (configuration in an
//! `autoconf.h`, plus defines the Makefile passes on the command line) and the
//! seL4 12.x-16.0.0 CMake build (configuration in `gen_config.json` files;
//! 12.x: in the generated `gen_config.h` headers).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

mod config;
mod files;

pub use config::{parse_c_int, Config, Value};
pub use files::{GeneratedHeaders, KernelFiles};

/// Name of the manifest file inside a stage folder.
pub const MANIFEST_NAME: &str = "sel4-kernel.json";

/// Error of this crate: a message that names the file and the stage involved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn err<T>(msg: impl Into<String>) -> Result<T> {
    Err(Error(msg.into()))
}

/// How the kernel of a stage was built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildSystem {
    /// seL4 5.x standalone Makefile build.
    Make,
    /// seL4 12.x-16.0.0 CMake build (and install).
    Cmake,
}

impl BuildSystem {
    pub fn as_str(self) -> &'static str {
        match self {
            BuildSystem::Make => "make",
            BuildSystem::Cmake => "cmake",
        }
    }
}

/// A kernel stage, as described by its `sel4-kernel.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// The stage folder itself.
    pub dir: PathBuf,
    /// Kernel version, e.g. `"5.0.0"`.
    pub version: String,
    pub build_system: BuildSystem,
    /// `x86`, `arm`, `riscv`.
    pub arch: String,
    /// `x86_64`, `ia32`, `aarch64`, ...
    pub sel4_arch: String,
    /// `pc99`, `qemu-arm-virt`, ...
    pub plat: String,
    pub source_dir: PathBuf,
    pub build_dir: PathBuf,
    /// `cmake --install` prefix; `None` for Makefile builds.
    pub install_dir: Option<PathBuf>,
    /// `autoconf.h` (make) or `gen_config.json` files (cmake; `gen_config.h`
    /// files for 12.x).
    pub config_files: Vec<PathBuf>,
    /// The device tree the kernel was configured with (`"dtb"`; Arm and
    /// RISC-V platforms, `None` on x86).
    pub dtb: Option<PathBuf>,
    /// The platform's RAM as the kernel sees it (`"memory"`: `{"start",
    /// "end"}` byte addresses from the build's `platform_gen.json`; empty on
    /// x86, where the kernel finds RAM itself).
    pub memory: Vec<MemoryRegion>,
}

/// A RAM region `[start, end)` of the platform (stage manifest `"memory"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryRegion {
    pub start: u64,
    pub end: u64,
}

impl Stage {
    /// Reads `<dir>/sel4-kernel.json`.
    pub fn load(dir: impl AsRef<Path>) -> Result<Stage> {
        let dir = dir.as_ref();
        if !dir.is_dir() {
            return err(format!(
                "kernel stage {}: no such folder (a stage is the folder with {} made by a kernel build or by scripts/dev-stage.sh)",
                dir.display(),
                MANIFEST_NAME
            ));
        }
        let manifest = dir.join(MANIFEST_NAME);
        let text = std::fs::read_to_string(&manifest).map_err(|e| {
            Error(format!(
                "kernel stage {}: cannot read {}: {}",
                dir.display(),
                manifest.display(),
                e
            ))
        })?;
        Stage::from_json(dir, &text)
    }

    /// Parses the text of a manifest; relative paths are taken relative to `dir`.
    pub fn from_json(dir: &Path, text: &str) -> Result<Stage> {
        let ctx = format!("kernel stage {}: {}", dir.display(), MANIFEST_NAME);
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| Error(format!("{ctx}: invalid JSON: {e}")))?;
        let obj = v
            .as_object()
            .ok_or_else(|| Error(format!("{ctx}: not a JSON object")))?;
        let string = |key: &str| -> Result<String> {
            match obj.get(key) {
                Some(serde_json::Value::String(s)) if !s.is_empty() => Ok(s.clone()),
                Some(_) => err(format!("{ctx}: \"{key}\" must be a non-empty string")),
                None => err(format!("{ctx}: \"{key}\" is missing")),
            }
        };
        let path = |s: String| -> PathBuf {
            let p = PathBuf::from(s);
            if p.is_absolute() {
                p
            } else {
                dir.join(p)
            }
        };
        let version = string("version")?;
        let build_system = match string("build_system")?.as_str() {
            "make" => BuildSystem::Make,
            "cmake" => BuildSystem::Cmake,
            other => {
                return err(format!(
                    "{ctx}: \"build_system\" is \"{other}\", expected \"make\" or \"cmake\""
                ))
            }
        };
        let install_dir = match obj.get("install_dir") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) if s.is_empty() => None,
            Some(serde_json::Value::String(s)) => Some(path(s.clone())),
            Some(_) => return err(format!("{ctx}: \"install_dir\" must be a string or null")),
        };
        let config_files = match obj.get("config").or_else(|| obj.get("config_files")) {
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .map(|x| match x {
                    serde_json::Value::String(s) => Ok(path(s.clone())),
                    _ => err(format!("{ctx}: \"config\" must be a list of paths")),
                })
                .collect::<Result<Vec<_>>>()?,
            Some(serde_json::Value::String(s)) => vec![path(s.clone())],
            Some(_) => return err(format!("{ctx}: \"config\" must be a list of paths")),
            None => return err(format!("{ctx}: \"config\" is missing")),
        };
        if config_files.is_empty() {
            return err(format!("{ctx}: \"config\" lists no configuration file"));
        }
        let dtb = match obj.get("dtb") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) if !s.is_empty() => Some(path(s.clone())),
            Some(_) => return err(format!("{ctx}: \"dtb\" must be a path or null")),
        };
        let bad_memory = || {
            err(format!(
                "{ctx}: \"memory\" must be a list of {{\"start\": N, \"end\": N}} with start < end"
            ))
        };
        let memory = match obj.get("memory") {
            None | Some(serde_json::Value::Null) => Vec::new(),
            Some(serde_json::Value::Array(a)) => {
                let mut v = Vec::new();
                for r in a {
                    let field = |k: &str| r.get(k).and_then(serde_json::Value::as_u64);
                    match (field("start"), field("end")) {
                        (Some(start), Some(end)) if start < end => {
                            v.push(MemoryRegion { start, end })
                        }
                        _ => return bad_memory(),
                    }
                }
                v
            }
            Some(_) => return bad_memory(),
        };
        let stage = Stage {
            dir: dir.to_path_buf(),
            version,
            build_system,
            arch: string("arch")?,
            sel4_arch: string("sel4_arch")?,
            plat: string("plat")?,
            source_dir: path(string("source_dir")?),
            build_dir: path(string("build_dir")?),
            install_dir,
            config_files,
            dtb,
            memory,
        };
        stage.version_major()?;
        if !stage.source_dir.is_dir() {
            return err(format!(
                "{ctx}: source_dir {} is not a folder",
                stage.source_dir.display()
            ));
        }
        Ok(stage)
    }

    /// Path of the manifest.
    pub fn manifest_path(&self) -> PathBuf {
        self.dir.join(MANIFEST_NAME)
    }

    /// Major version number (5 for "5.0.0").
    pub fn version_major(&self) -> Result<u32> {
        self.version_parts().map(|p| p.0)
    }

    /// (major, minor, patch); missing parts are 0.
    pub fn version_parts(&self) -> Result<(u32, u32, u32)> {
        let mut it = self.version.trim().split(['.', '-', '+']);
        let mut next = || -> Option<u32> { it.next().and_then(|s| s.parse().ok()) };
        match next() {
            Some(major) => Ok((major, next().unwrap_or(0), next().unwrap_or(0))),
            None => err(format!(
                "kernel stage {}: version \"{}\" is not of the form X.Y.Z",
                self.dir.display(),
                self.version
            )),
        }
    }

    /// Word size in bits, from `sel4_arch`.
    pub fn word_size(&self) -> u32 {
        match self.sel4_arch.as_str() {
            "ia32" | "aarch32" | "arm_hyp" | "riscv32" => 32,
            _ => 64,
        }
    }

    /// Reads the configuration (see [`Config::load`]).
    pub fn config(&self) -> Result<Config> {
        Config::load(self)
    }

    /// Finds the interface files (see [`KernelFiles::discover`]).
    pub fn files(&self) -> Result<KernelFiles> {
        KernelFiles::discover(self)
    }

    /// Short description used in error messages.
    pub(crate) fn describe(&self) -> String {
        format!(
            "kernel stage {} (seL4 {}, {} build, {}/{})",
            self.dir.display(),
            self.version,
            self.build_system.as_str(),
            self.sel4_arch,
            self.plat
        )
    }
}

/// Config values keyed by their C name (`CONFIG_...`), sorted.
pub type ConfigMap = BTreeMap<String, Value>;
