#!/bin/sh
# Set-up for building seL4 kernels and Rust root servers; safe to run again.
#
#   scripts/setup.sh                    # seL4 5.0.0 (from crates.io) path
#   SEL4_SRC=/path/to/seL4 scripts/setup.sh   # also a seL4 12.0.0-16.0.0 CMake kernel
#   SEL4RS_ARCH=aarch64 SEL4_SRC=... scripts/setup.sh   # also for aarch64 (or riscv64)
#
# - Debian packages: installed when running as root and missing (apt-get update
#   first, only then); otherwise lists the missing ones with the command to
#   run, and exits non-zero (after doing the rest).
# - Python venv <repo>/.venv with ply six tempita (seL4 5.x build scripts) and,
#   when SEL4_SRC is a seL4 12.0.0-16.0.0 tree, sel4-deps.
#   For SEL4RS_ARCH=aarch64 / riscv64 also the cross gcc, dtc and QEMU of
#   that architecture.
# - rustup targets x86_64-unknown-none, aarch64-unknown-none and
#   riscv64gc-unknown-none-elf (all three: the host tests of the arch code
#   build small programs for each).
# Says what it does as it goes, one line per step (what it installs and
# where), before the step runs; prints nothing when all is in place.
set -eu

repo=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
venv="$repo/.venv"
status=0

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# Runs a command quietly; shows its output only when it fails.
quiet() {
    log=$(mktemp)
    if "$@" >"$log" 2>&1; then
        rm -f "$log"
    else
        rc=$?
        cat "$log" >&2
        rm -f "$log"
        die "failed (exit $rc): $*"
    fi
}

# ---- Debian packages ----
packages="gcc make binutils libxml2-utils qemu-system-x86 cmake ninja-build"
case "${SEL4RS_ARCH:-x86_64}" in
    x86_64) ;;
    aarch64) packages="$packages gcc-aarch64-linux-gnu device-tree-compiler qemu-system-arm" ;;
    riscv64) packages="$packages gcc-riscv64-linux-gnu device-tree-compiler qemu-system-misc" ;;
    *) die "SEL4RS_ARCH=${SEL4RS_ARCH}: use x86_64, aarch64 or riscv64" ;;
esac
python=""
for p in python3 python; do
    if command -v "$p" >/dev/null 2>&1; then python=$(command -v "$p"); break; fi
done
if [ -z "$python" ]; then
    packages="$packages python3 python3-venv"
elif ! "$python" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    packages="$packages python3-venv"
fi

missing=""
if command -v dpkg-query >/dev/null 2>&1; then
    for p in $packages; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
            missing="$missing $p"
        fi
    done
else
    # Not Debian: check the programs instead and let the user pick the packages.
    for prog in gcc make objcopy xmllint qemu-system-x86_64 cmake ninja; do
        command -v "$prog" >/dev/null 2>&1 || missing="$missing $prog"
    done
    if [ -n "$missing" ]; then
        printf 'setup: missing programs:%s\n' "$missing" >&2
        printf 'setup: install them with your package manager (Debian: %s)\n' "$packages" >&2
        status=1
        missing=""
    fi
fi
if [ -n "$missing" ]; then
    if [ "$(id -u)" -eq 0 ]; then
        export DEBIAN_FRONTEND=noninteractive
        say "apt-get update: refreshing the Debian package lists"
        quiet apt-get update
        say "apt-get install:$missing (Debian packages, system-wide)"
        quiet apt-get install -y --no-install-recommends $missing
        case "$missing" in *python*)
            for p in python3 python; do
                if command -v "$p" >/dev/null 2>&1; then python=$(command -v "$p"); break; fi
            done;;
        esac
    else
        printf 'setup: missing Debian packages:%s\n' "$missing" >&2
        printf 'setup: install them with:  sudo apt-get update && sudo apt-get install -y%s\n' "$missing" >&2
        status=1
    fi
fi

# ---- Python venv ----
sel4_src="${SEL4_SRC:-}"
cmake_kernel=no
if [ -n "$sel4_src" ]; then
    [ -f "$sel4_src/VERSION" ] || die "SEL4_SRC=$sel4_src has no VERSION file (point it at the top of a seL4 kernel tree)"
    major=$(head -n 1 "$sel4_src/VERSION" | cut -d. -f1 | tr -dc '0-9')
    if [ -n "$major" ] && [ "$major" -ge 12 ]; then
        cmake_kernel=yes
    fi
fi

if [ -n "$python" ]; then
    if [ ! -x "$venv/bin/python" ]; then
        say "python3 -m venv: creating the Python venv $venv"
        quiet "$python" -m venv "$venv"
    fi
    pip_missing=""
    for m in ply six tempita; do
        if ! "$venv/bin/python" -c "import $m" >/dev/null 2>&1; then
            pip_missing="$pip_missing $m"
        fi
    done
    if [ "$cmake_kernel" = yes ] && ! "$venv/bin/python" -m pip show -q sel4-deps >/dev/null 2>&1; then
        pip_missing="$pip_missing sel4-deps"
    fi
    if [ -n "$pip_missing" ]; then
        say "pip install:$pip_missing (Python packages from PyPI, into $venv)"
        quiet "$venv/bin/python" -m pip install -q $pip_missing
    fi
else
    printf 'setup: no python3: the venv %s was not made (install python3 and python3-venv, then run again)\n' "$venv" >&2
    status=1
fi

# ---- Rust targets ----
targets="x86_64-unknown-none aarch64-unknown-none riscv64gc-unknown-none-elf"
if command -v rustup >/dev/null 2>&1; then
    installed=$(rustup target list --installed 2>/dev/null)
    for target in $targets; do
        if ! printf '%s\n' "$installed" | grep -qx "$target"; then
            say "rustup target add $target (into $(rustc --print sysroot 2>/dev/null || echo 'the rustup toolchain'))"
            quiet rustup target add "$target"
        fi
    done
elif command -v rustc >/dev/null 2>&1; then
    sysroot=$(rustc --print sysroot)
    for target in $targets; do
        if [ ! -d "$sysroot/lib/rustlib/$target" ]; then
            printf 'setup: the Rust toolchain has no %s target and there is no rustup to add it\n' "$target" >&2
            status=1
        fi
    done
else
    printf 'setup: no Rust toolchain: install rustup (stable), then run again\n' >&2
    status=1
fi

exit "$status"
