#!/bin/sh
# Checks the manifest-only stage against a built one (run by test-all.sh):
#   scripts/check-dev-stage.sh <build folder>
# 1. scripts/dev-stage.sh, for the same kernel tree and configuration as the
#    build folder's kernel, gives the same generated sel4-sys source;
# 2. the sel4 crate's host and doc tests pass on that stage (among them: a
#    sel4_cfg_if! name the kernel does not know does not compile).
set -eu
repo=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
build=${1:?usage: scripts/check-dev-stage.sh <build folder>}
built="$build/kernel"
[ -f "$built/sel4-kernel.json" ] || { echo "check-dev-stage: no built stage in $built" >&2; exit 1; }

if [ -n "${SEL4_SRC:-}" ]; then
    major=$(head -n 1 "$SEL4_SRC/VERSION" | cut -d. -f1 | tr -dc '0-9')
    if [ "$major" -lt 13 ]; then
        echo "check-dev-stage: seL4 $major.x has no manifest-only stage (13.0.0 and later, or 5.0.0); skipped"
        exit 0
    fi
    # the configuration the build folder's kernel was built with
    config=$(sed -n 's/^SEL4RS_KERNEL_CMAKE_CONFIG:[A-Z]*=//p' "$build/CMakeCache.txt")
    if [ -n "$config" ]; then
        SEL4RS_KERNEL_CMAKE_CONFIG=$config
        export SEL4RS_KERNEL_CMAKE_CONFIG
    fi
fi
dev=$("$repo/scripts/dev-stage.sh" | tail -n 1)
cd "$repo"
cargo build -q -p sel4-gen
gen="$repo/target/debug/sel4-gen"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$gen" "$built" >"$tmp/built.rs"
"$gen" "$dev" >"$tmp/dev.rs"
if ! cmp -s "$tmp/built.rs" "$tmp/dev.rs"; then
    diff "$tmp/built.rs" "$tmp/dev.rs" | head -n 40 >&2
    echo "check-dev-stage: the manifest-only stage $dev generates other code than the built stage $built" >&2
    exit 1
fi
echo "check-dev-stage: $dev generates the same sel4-sys source as $built"
SEL4_KERNEL=$dev cargo test -p sel4
