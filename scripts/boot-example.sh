#!/bin/sh
# Builds the seL4 kernel and the hello root server, then boots them on QEMU.
#   scripts/boot-example.sh                      # seL4 5.0.0 from crates.io
#   SEL4_SRC=/path/to/seL4 scripts/boot-example.sh   # your seL4 12.x-16.0.0 checkout
#   SEL4RS_ARCH=aarch64 SEL4_SRC=/path/to/seL4 scripts/boot-example.sh   # or riscv64 (QEMU virt)
#   SEL4RS_MCS=1 SEL4_SRC=/path/to/seL4 scripts/boot-example.sh   # an MCS kernel (13.0.0-16.0.0, x86_64)
# Exit status 0 when hello ended the system with success.
set -eu
. "$(dirname -- "$0")/common.sh"
mkdir -p "$repo/build"
setup
cmake_build image-hello
echo "== booting $build/images/hello"
exec "$build/images/hello/simulate"
