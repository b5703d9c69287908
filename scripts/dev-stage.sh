#!/bin/sh
# Prepares a manifest-only kernel stage: a sel4-kernel.json that points at a
# kernel tree and its configuration, without building a kernel. Point
# SEL4_KERNEL at it for `cargo doc`, `cargo clippy`, rust-analyzer and the
# host tests of the target crates (sel4-sys generates its code from the
# tree's files alone; only booting needs a built kernel).
#
#   scripts/dev-stage.sh                         # seL4 5.0.0 from crates.io, kernel-config/sel4-5/x86_64-pc99/autoconf.h
#   SEL4_SRC=/path/to/seL4 scripts/dev-stage.sh  # a seL4 13.0.0-16.0.0 tree: CMake configure only (about a second)
#
#   SEL4RS_KERNEL_CMAKE_CONFIG=<file>   another initial cache than kernel-config/cmake/x86_64.cmake
#                                       (e.g. a copy with KernelIsMCS ON)
#   SEL4RS_DEV_STAGE=<folder>           where to put the stage (default: build/dev-stage/<version>[-<tree>])
#
# Prints the stage folder on the last line; then
#   export SEL4_KERNEL=<that folder>
# The stage has no kernel.elf: boot images need the full build
# (scripts/boot-example.sh or cmake, see README).
set -eu

repo=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
say() { printf 'dev-stage: %s\n' "$*" >&2; }
die() { printf 'dev-stage: error: %s\n' "$*" >&2; exit 1; }

# JSON string of a path
json() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }

write_manifest() { # <stage> <version> <make|cmake> <source_dir> <build_dir> <install_dir or empty> <config files...>
    stage=$1 version=$2 kind=$3 src=$4 bld=$5 inst=$6
    shift 6
    configs=""
    for c in "$@"; do
        [ -f "$c" ] || die "configuration file $c is missing"
        configs="${configs:+$configs,
    }$(json "$c")"
    done
    if [ -n "$inst" ]; then inst=$(json "$inst"); else inst=null; fi
    mkdir -p "$stage"
    cat >"$stage/sel4-kernel.json.tmp" <<EOF
{
  "version": "$version",
  "build_system": "$kind",
  "arch": "x86",
  "sel4_arch": "x86_64",
  "plat": "pc99",
  "source_dir": $(json "$src"),
  "build_dir": $(json "$bld"),
  "install_dir": $inst,
  "config": [
    $configs
  ],
  "manifest_only": true
}
EOF
    mv "$stage/sel4-kernel.json.tmp" "$stage/sel4-kernel.json"
}

if [ -z "${SEL4_SRC:-}" ]; then
    # ---- seL4 5.0.0: the tree of the crates.io package sel4-sys 0.0.28 ----
    command -v cargo >/dev/null 2>&1 || die "cargo is needed to download the seL4 5.0.0 tree"
    say "downloading the seL4 5.0.0 tree (crates.io sel4-sys 0.0.28) with cargo metadata"
    meta=$(cargo metadata --format-version 1 --manifest-path "$repo/tools/kernel-fetch/Cargo.toml") ||
        die "cargo metadata --manifest-path tools/kernel-fetch/Cargo.toml failed (network, or crates.io unreachable?)"
    pkg=$(printf '%s' "$meta" | grep -o '"manifest_path":"[^"]*/sel4-sys-0\.0\.28/Cargo\.toml"' |
        head -n 1 | sed 's/^"manifest_path":"//; s/\/Cargo\.toml"$//')
    [ -n "$pkg" ] && [ -f "$pkg/seL4/VERSION" ] || die "cargo metadata did not give the sel4-sys 0.0.28 package with its seL4/ tree"
    stage=${SEL4RS_DEV_STAGE:-$repo/build/dev-stage/5.0.0}
    write_manifest "$stage" 5.0.0 make "$pkg/seL4" "$stage" "" \
        "$repo/kernel-config/sel4-5/x86_64-pc99/autoconf.h"
else
    # ---- seL4 13.0.0-16.0.0: the kernel's CMake configure step only ----
    src=$(CDPATH= cd -- "$SEL4_SRC" 2>/dev/null && pwd) || die "SEL4_SRC=$SEL4_SRC is not a folder"
    [ -f "$src/VERSION" ] || die "SEL4_SRC=$src has no VERSION file (point it at the top of a seL4 kernel tree)"
    version=$(head -n 1 "$src/VERSION" | tr -d ' \r')
    major=$(printf '%s' "$version" | cut -d. -f1 | tr -dc '0-9')
    [ -n "$major" ] || die "$src/VERSION does not start with a version number"
    if [ "$major" -lt 13 ]; then
        die "seL4 $version: a manifest-only stage needs seL4 13.0.0 or later (5.0.0: run without SEL4_SRC; 12.x: build the kernel, see README)"
    fi
    command -v cmake >/dev/null 2>&1 || die "cmake is needed (scripts/setup.sh installs it)"
    config=${SEL4RS_KERNEL_CMAKE_CONFIG:-$repo/kernel-config/cmake/x86_64.cmake}
    [ -f "$config" ] || die "SEL4RS_KERNEL_CMAKE_CONFIG=$config does not exist"
    tag=$(printf '%s %s' "$src" "$config" | cksum | cut -d' ' -f1)
    stage=${SEL4RS_DEV_STAGE:-$repo/build/dev-stage/$version-$tag}
    if [ -x "$repo/.venv/bin/python" ]; then
        PATH="$repo/.venv/bin:$PATH"
        export PATH
    fi
    build="$stage/build"
    rm -rf "$build"
    mkdir -p "$stage"
    say "configuring seL4 $version from $src with $config (no build; log $stage/configure.log)"
    if ! cmake -G Ninja -C "$config" "-DCMAKE_TOOLCHAIN_FILE=$src/gcc.cmake" -DCROSS_COMPILER_PREFIX= \
        -S "$src" -B "$build" >"$stage/configure.log" 2>&1; then
        tail -n 30 "$stage/configure.log" >&2
        die "the kernel's CMake configure step failed (log $stage/configure.log; SEL4_SRC=$src scripts/setup.sh installs what it needs)"
    fi
    kcfg="$build/gen_config/kernel/gen_config.json"
    lcfg="$build/libsel4/gen_config/sel4/gen_config.json"
    write_manifest "$stage" "$version" cmake "$src" "$build" "" "$kcfg" "$lcfg"
fi

say "stage ready; use it with:  export SEL4_KERNEL=$stage"
printf '%s\n' "$stage"
