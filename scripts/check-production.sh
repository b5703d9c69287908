#!/bin/sh
# Checks that a root task built without the runner's protocol carries none
# of it (run by test-all.sh):
#   scripts/check-production.sh <build folder>
# hello with --no-default-features (no `test-protocol` feature), built
# against the build folder's kernel stage, must build, and its image must
# hold no `##sel4rs` line, no isa-debug-exit code and no fault provokers;
# the default build (the boot tests' hello) must still hold the protocol.
set -eu
repo=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
build=$(CDPATH= cd -- "${1:?usage: scripts/check-production.sh <build folder>}" && pwd)
stage="$build/kernel"
[ -f "$stage/sel4-kernel.json" ] || { echo "check-production: no built stage in $stage" >&2; exit 1; }
case "$(sed -n 's/.*"sel4_arch": *"\([^"]*\)".*/\1/p' "$stage/sel4-kernel.json")" in
    x86_64|"") target=x86_64-unknown-none ;;
    aarch64) target=aarch64-unknown-none ;;
    riscv64) target=riscv64gc-unknown-none-elf ;;
    *) echo "check-production: unknown arch in $stage/sel4-kernel.json" >&2; exit 1 ;;
esac
tdir="$build/production"
cd "$repo"
passed=0
failed=0
check() {
    if [ "$2" = ok ]; then
        echo "  PASS  $1"
        passed=$((passed + 1))
    else
        echo "  FAIL  $1"
        failed=$((failed + 1))
    fi
}
# what the protocol links: its lines, the QEMU exit and the provokers
protocol_in() {
    if grep -q -a '##sel4rs' "$1"; then return 0; fi
    nm -C "$1" 2>/dev/null | grep -q -E 'sel4_test_protocol|exit::qemu|thread::provoke'
}
for variant in production default; do
    if [ "$variant" = production ]; then flags=--no-default-features; else flags=; fi
    # shellcheck disable=SC2086
    if SEL4_KERNEL="$stage" cargo build -q --release --target "$target" -p hello $flags \
        --target-dir "$tdir"; then
        check "hello ($variant) builds" ok
    else
        check "hello ($variant) builds" fail
        continue
    fi
    elf="$tdir/$target/release/hello"
    if [ "$variant" = production ]; then
        if protocol_in "$elf"; then r=fail; else r=ok; fi
        check "hello without test-protocol carries none of the runner's protocol" $r
    else
        if protocol_in "$elf"; then r=ok; else r=fail; fi
        check "hello with test-protocol carries the runner's protocol" $r
    fi
    echo "  hello ($variant): $(size "$elf" | awk 'NR == 2 { print $1 " bytes of text" }')"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
