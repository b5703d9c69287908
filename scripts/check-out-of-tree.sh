#!/bin/sh
# The out-of-tree root server of docs/guide.md ("A root server in its own
# crate"), made the way the guide says and booted both ways the guide shows
# (run by test-all.sh, x86_64):
#   scripts/check-out-of-tree.sh <build folder>
# 1. A fresh crate in a temporary folder outside the repository, from the
#    guide's blocks marked `file=<path>` (its Cargo.toml, src/main.rs and
#    CMakeLists.txt; /path/to/sel4rs replaced by this repository) and a copy
#    of the repository's .cargo/config.toml.
# 2. `cargo run --release --target x86_64-unknown-none` with SEL4_KERNEL =
#    the build folder's stage and sel4-run (target/release) as the runner.
# 3. CMake with the guide's CMakeLists.txt and -DSEL4RS_KERNEL_STAGE = the
#    same stage: the stage is reused (no second kernel), the boot image
#    boots with sel4-run.
# 4. sel4rs_rootserver() with a package its manifest does not have stops
#    the configuration naming the manifest.
# 5. The same root task linked at address 0 (the target's default): sel4-run
#    refuses it; booted anyway (an image folder made by hand), its start
#    code stops it with its message.
# 6. The good image, its relocations in DT_RELA, with that table emptied:
#    its link passes the check (nothing left to see), the start code stops
#    it with its message. (Packed DT_RELR relocations keep their link-time
#    values in place: without them an image runs at its link address, as
#    x86_64 root tasks do.)
# Needs: the build folder's stage, target/release/sel4-run, python3.
set -eu
repo=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
build=${1:?usage: scripts/check-out-of-tree.sh <build folder>}
build=$(CDPATH= cd -- "$build" && pwd) || exit 1
stage="$build/kernel"
runner="$repo/target/release/sel4-run"
target=x86_64-unknown-none
[ -f "$stage/sel4-kernel.json" ] || { echo "check-out-of-tree: no stage in $stage" >&2; exit 1; }
[ -x "$runner" ] || { echo "check-out-of-tree: no $runner (cargo build --release -p sel4-runner)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
crate="$tmp/my-server"
cmake_build="$tmp/build"
say() { printf 'check-out-of-tree: %s\n' "$*"; }
fail() { printf 'check-out-of-tree: FAILED: %s\n' "$*" >&2; exit 1; }

# 1. The crate, from the guide.
mkdir -p "$crate"
awk -v dir="$crate" -v repo="$repo" '
    /^```[a-z]+ file=/ { sub(/^```[a-z]+ file=/, ""); out = dir "/" $0;
                         d = out; sub(/\/[^\/]*$/, "", d); system("mkdir -p \"" d "\"");
                         printf "" > out; next }
    /^```/ && out != "" { close(out); out = ""; next }
    out != "" { gsub(/\/path\/to\/sel4rs/, repo); print >> out }
' "$repo/docs/guide.md"
for f in Cargo.toml src/main.rs CMakeLists.txt; do
    [ -s "$crate/$f" ] || fail "docs/guide.md has no block for $f (\`\`\`<lang> file=$f)"
done
mkdir -p "$crate/.cargo" && cp "$repo/.cargo/config.toml" "$crate/.cargo/"
say "crate from docs/guide.md in $crate: $(cd "$crate" && find . -type f | sort | tr '\n' ' ')"

# 2. cargo run, with the target folder CMake uses below (one build for both).
say "cargo run --release --target $target (SEL4_KERNEL=$stage)"
(cd "$crate" && PATH="$(dirname "$runner"):$PATH" SEL4_KERNEL="$stage" \
    CARGO_TARGET_DIR="$cmake_build/cargo/pie" cargo run --release --target "$target") ||
    fail "cargo run of the guide's crate"

# 3. CMake, reusing the stage.
say "cmake with -DSEL4RS_KERNEL_STAGE=$stage"
cmake -S "$crate" -B "$cmake_build" -G Ninja -DSEL4RS_KERNEL_STAGE="$stage" >"$tmp/configure.log" 2>&1 ||
    { cat "$tmp/configure.log"; fail "cmake configure of the guide's CMakeLists.txt"; }
grep "reusing the stage $stage" "$tmp/configure.log" || { cat "$tmp/configure.log"; fail "the stage was not reused"; }
cmake --build "$cmake_build" || fail "cmake --build of the guide's CMakeLists.txt"
[ ! -e "$cmake_build/kernel" ] || fail "a second kernel stage was made in $cmake_build/kernel"
"$runner" "$cmake_build/images/my-server" || fail "sel4-run of the CMake image"

# 4. A package the manifest does not have.
mkdir -p "$tmp/bad"
sed 's/PACKAGE my-server/PACKAGE no-such-package/' "$crate/CMakeLists.txt" >"$tmp/bad/CMakeLists.txt"
sed -i "s|\${CMAKE_SOURCE_DIR}/Cargo.toml|$crate/Cargo.toml|" "$tmp/bad/CMakeLists.txt"
if cmake -S "$tmp/bad" -B "$tmp/bad/build" -G Ninja -DSEL4RS_KERNEL_STAGE="$stage" >"$tmp/bad.log" 2>&1; then
    fail "sel4rs_rootserver() accepted a package its manifest does not have"
fi
grep -q "no package no-such-package in the" "$tmp/bad.log" && grep -q "$crate/Cargo.toml" "$tmp/bad.log" ||
    { cat "$tmp/bad.log"; fail "the error does not name the package and the manifest"; }
say "a missing package stops the configuration: $(grep -o 'no package no-such-package[^(]*' "$tmp/bad.log")"

# 5. Linked at 0: the target's own default, what cargo gave before
#    .cargo/config.toml had the link settings (RUSTFLAGS replaces the
#    config's rustflags; a target folder of its own).
say "the same root task linked at address 0"
(cd "$crate" && SEL4_KERNEL="$stage" CARGO_TARGET_DIR="$tmp/base0" RUSTFLAGS="-C relocation-model=pie" \
    cargo build -q --release --target "$target") || fail "the build linked at 0"
elf0="$tmp/base0/$target/release/my-server"
set +e
"$runner" --stage "$stage" "$elf0" >"$tmp/refused.log" 2>&1
rc=$?
set -e
cat "$tmp/refused.log"
[ "$rc" -eq 1 ] || fail "sel4-run gave exit status $rc for a root task linked at 0 (expected 1)"
grep -q "refusing to boot .*linked at 0x0, below 0x10000" "$tmp/refused.log" ||
    fail "sel4-run did not refuse the root task linked at 0 with its message"
[ ! -e "$tmp/base0/$target/release/sel4-boot" ] || fail "sel4-run wrote boot files for a refused root task"
img="$tmp/base0-image"
cp -r "$cmake_build/images/my-server" "$img"
cp "$elf0" "$img/rootserver.elf"
# (its output in a file: its count line is not a test result of this step)
"$runner" --expect-fail --timeout 60 --log "$tmp/base0.serial" "$img" >"$tmp/base0.out" 2>&1 ||
    { cat "$tmp/base0.out"; fail "the image linked at 0 did not fail as expected"; }
grep -v '^[0-9]* passed, [0-9]* failed' "$tmp/base0.out" | sed 's/^/    /'
grep -q "sel4-start: this root task is linked below 0x10000" "$tmp/base0.serial" ||
    fail "the start code did not stop the image linked at 0 with its message"
say "linked at 0: refused by sel4-run, and stopped by the start code when booted anyway"

# 6. Its relocations missing: the root task built with the config's flags
#    but its relative relocations in DT_RELA (not packed), DT_RELASZ set to
#    0: the link check cannot see that, the start code does.
say "the root task with its relocation table emptied"
rela_flags=$(python3 - "$crate/.cargo/config.toml" "$target" <<'PY'
import sys, tomllib
flags = tomllib.load(open(sys.argv[1], "rb"))["target"][sys.argv[2]]["rustflags"]
i = flags.index("link-arg=-zpack-relative-relocs")
print(" ".join(flags[: i - 1] + flags[i + 1 :]))
PY
) || fail "no -zpack-relative-relocs in the config's rustflags"
(cd "$crate" && SEL4_KERNEL="$stage" CARGO_TARGET_DIR="$tmp/rela" RUSTFLAGS="$rela_flags" \
    cargo build -q --release --target "$target") || fail "the build with DT_RELA relocations"
img="$tmp/norel-image"
cp -r "$cmake_build/images/my-server" "$img"
cp "$tmp/rela/$target/release/my-server" "$img/rootserver.elf"
python3 - "$img/rootserver.elf" <<'PY'
import struct, sys
path = sys.argv[1]
b = bytearray(open(path, "rb").read())
phoff, = struct.unpack_from("<Q", b, 32)
phnum, = struct.unpack_from("<H", b, 56)
done = False
for i in range(phnum):
    o = phoff + i * 56
    if struct.unpack_from("<I", b, o)[0] == 2:  # PT_DYNAMIC
        off, = struct.unpack_from("<Q", b, o + 8)
        size, = struct.unpack_from("<Q", b, o + 32)
        for e in range(off, off + size, 16):
            tag, = struct.unpack_from("<Q", b, e)
            if tag == 0:
                break
            if tag == 8:  # DT_RELASZ
                struct.pack_into("<Q", b, e + 8, 0)
                done = True
if not done:
    sys.exit("no DT_RELASZ in " + path)
open(path, "wb").write(b)
PY
"$runner" --check-link "$img/rootserver.elf"
"$runner" --expect-fail --timeout 60 --log "$tmp/norel.serial" "$img" >"$tmp/norel.out" 2>&1 ||
    { cat "$tmp/norel.out"; fail "the image without relocations did not fail as expected"; }
grep -q "sel4-start: the image's pointers do not match the address it runs at" "$tmp/norel.serial" ||
    { cat "$tmp/norel.out"; fail "the start code did not stop the image without relocations with its message"; }
grep "sel4-start:" "$tmp/norel.serial" | sed 's/^/    /'
say "relocations missing: stopped by the start code"
