# Shared by the README scripts: set-up, build folder choice, CMake build.
# Sourced, not run.

repo=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
cd "$repo"

# The architecture (x86_64, aarch64, riscv64; see cmake/sel4-kernel.cmake).
SEL4RS_ARCH="${SEL4RS_ARCH:-x86_64}"
case "$SEL4RS_ARCH" in
    x86_64|aarch64|riscv64) ;;
    *) echo "error: SEL4RS_ARCH=$SEL4RS_ARCH: use x86_64, aarch64 or riscv64" >&2; exit 2 ;;
esac
export SEL4RS_ARCH
if [ "$SEL4RS_ARCH" = x86_64 ]; then
    arch_suffix=""
else
    arch_suffix="-$SEL4RS_ARCH"
    if [ -z "${SEL4_SRC:-}" ]; then
        echo "error: SEL4RS_ARCH=$SEL4RS_ARCH needs SEL4_SRC=<seL4 13.0.0-16.0.0 checkout> (the crates.io kernel is x86_64 only)" >&2
        exit 2
    fi
fi

# SEL4RS_MCS=1: an MCS kernel (KernelIsMCS=ON) from the SEL4_SRC checkout,
# with kernel-config/cmake/<arch>-mcs.cmake, in its own build folder
# (suffix -mcs). x86_64 only so far.
SEL4RS_MCS="${SEL4RS_MCS:-}"
case "$SEL4RS_MCS" in
    ""|0) SEL4RS_MCS=""; mcs_suffix="" ;;
    1)
        if [ -z "${SEL4_SRC:-}" ]; then
            echo "error: SEL4RS_MCS=1 needs SEL4_SRC=<seL4 13.0.0-16.0.0 checkout> (the crates.io seL4 5.0.0 has no MCS configuration)" >&2
            exit 2
        fi
        if [ "$SEL4RS_ARCH" != x86_64 ]; then
            echo "error: SEL4RS_MCS=1 is supported on x86_64 only so far (SEL4RS_ARCH=$SEL4RS_ARCH)" >&2
            exit 2
        fi
        mcs_suffix="-mcs"
        CMAKE_EXTRA_ARGS="${CMAKE_EXTRA_ARGS:-} -DSEL4RS_KERNEL_CMAKE_CONFIG=$repo/kernel-config/cmake/$SEL4RS_ARCH-mcs.cmake"
        ;;
    *) echo "error: SEL4RS_MCS=$SEL4RS_MCS: use 1 (MCS kernel) or leave it unset" >&2; exit 2 ;;
esac
export SEL4RS_MCS

# Build folder per kernel source, architecture and configuration, so all
# can be built side by side.
if [ -n "${SEL4_SRC:-}" ]; then
    if [ ! -d "$SEL4_SRC" ]; then
        echo "error: SEL4_SRC=$SEL4_SRC is not a folder: give the path of a seL4 checkout (12.x-16.0.0)" >&2
        exit 2
    fi
    SEL4_SRC=$(CDPATH= cd -- "$SEL4_SRC" && pwd)
    export SEL4_SRC
    tag=$(printf '%s' "$SEL4_SRC" | cksum | cut -d' ' -f1)
    build="${SEL4RS_BUILD:-$repo/build/sel4-src-$tag$arch_suffix$mcs_suffix}"
else
    build="${SEL4RS_BUILD:-$repo/build/sel4-registry}"
fi

setup() {
    "$repo/scripts/setup.sh"
    # The venv's python must come first: the seL4 build runs `python`.
    PATH="$repo/.venv/bin:$PATH"
    export PATH
}

# cmake_build [targets...]: configure (once) and build.
cmake_build() {
    cmake -S "$repo" -B "$build" -G Ninja -DSEL4_SRC="${SEL4_SRC:-}" -DSEL4RS_ARCH="$SEL4RS_ARCH" ${CMAKE_EXTRA_ARGS:-} >"$build.configure.log" 2>&1 || {
        cat "$build.configure.log" >&2
        echo "error: CMake configuration failed (log above, also in $build.configure.log)" >&2
        exit 1
    }
    if [ $# -gt 0 ]; then
        set -- $(for t in "$@"; do printf -- '--target %s ' "$t"; done)
    fi
    cmake --build "$build" "$@"
}
