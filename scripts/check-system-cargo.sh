#!/bin/bash
# A system of components built and booted without CMake (the cargo path of
# docs/guide.md, "Building a system of components"): `sel4-system build`
# builds the components and the root task that carries them with cargo, and
# the runner boots the root task ELF on the build's kernel stage.
#   scripts/check-system-cargo.sh <build folder>
set -eu
repo=$(cd "$(dirname -- "$0")/.." && pwd)
build=$1
stage="$build/kernel"
out="$build/systems-cargo/kv-store"
say() { echo "check-system-cargo: $*"; }
rm -rf "$out"
# The build's own cargo folder: the same flags as CMake's, so cargo reuses
# what the CMake build compiled.
say "sel4-system build (cargo) of systems/kv-store/system.toml -> $out"
(cd "$repo" && cargo build -q -p sel4-system-builder)
(cd "$repo" && SEL4_KERNEL="$stage" CARGO_TARGET_DIR="$build/cargo/pie" \
    target/debug/sel4-system build --root kv-store-root --out "$out" systems/kv-store/system.toml)
say "sel4-run $out/rootserver.elf (kernel stage $stage)"
SEL4_KERNEL="$stage" "$repo/target/release/sel4-run" --timeout 300 "$out/rootserver.elf"
