#!/bin/bash
# Runs every test: host unit tests, the generator cross-checks against the
# built kernel, the relocation test on a real root server image, and the
# boot tests on QEMU (each image run by the host runner, sel4-run).
#   scripts/test-all.sh                          # seL4 5.0.0 from crates.io
#   SEL4_SRC=/path/to/seL4 scripts/test-all.sh   # your seL4 12.x-16.0.0 checkout
#   SEL4RS_MCS=1 SEL4_SRC=/path/to/seL4 scripts/test-all.sh   # the same as an MCS
#     kernel (KernelIsMCS=ON, seL4 13.0.0-16.0.0; with SEL4RS_ARCH on every
#     arch), in its own build folder
#   SEL4RS_ARCH=aarch64 SEL4_SRC=/path/to/seL4 scripts/test-all.sh   # or riscv64:
#     QEMU virt, seL4 13.0.0-16.0.0; boots hello, hello-static, runtime-test,
#     the examples memory-demo, ping-pong and badge-server, the suite (with
#     its process tests), the component systems and the component tests
# Ends with one line "TOTAL: N passed, N failed"; exit status 0 only when
# nothing failed.
set -eu
. "$(dirname -- "$0")/common.sh"
mkdir -p "$repo/build"
logs="$build/test-logs"

passed=0
failed=0
failed_steps=()

# Boot tests: "<step name>: <runner arguments and image folders>" (image
# folders relative to <build>/images). One runner call per entry; several
# folders in one call form one suite split over several boots.
boot_tests=(
    "hello: hello"
    "hello-static: hello-static"
    "memory-demo: memory-demo"
    "ping-pong: ping-pong"
    "badge-server: badge-server"
    "bench-c: bench-c"
    "bench: --fw-cfg=bench-c=$logs/boot-bench-c.serial bench"
    "startup: startup"
    "sel4test: sel4test"
    "sel4test-shards: sel4test-shard1of2 sel4test-shard2of2"
    "robustness: robustness"
    "runtime-test: runtime-test"
    # Devices: the console through the runtime's UART, the timer service
    # and clock, and COM2 fed by the runner (inputs written below): lines
    # and a mebibyte echoed byte for byte; input at the line rate (115200
    # 8N1: 11520 bytes/s) while the reader is busy for 500 ms.
    "hello-uart: hello-uart"
    "clock: clock"
    "serial-echo: --serial2-input=$build/serial-echo/echo.in --serial2-expect=$build/serial-echo/echo.in --serial2-after=COM2-ready serial-echo"
    "serial-echo-busy: --serial2-input=$build/serial-echo/busy.in --serial2-expect=$build/serial-echo/busy.in --serial2-after=COM2-ready --serial2-rate=11520 serial-echo"
    # Systems of components (issue 12): the examples in systems/ and the
    # component tests (tests/components).
    "kv-store: kv-store"
    "restart: restart"
    "shared-ring: shared-ring"
    "component-tests: component-tests"
    # The IPC bench between components: typed, raw and C (issue 11).
    "component-bench: component-bench"
)
# aarch64 and riscv64: the images that build there so far.
if [ "$SEL4RS_ARCH" != x86_64 ]; then
    boot_tests=(
        "hello: hello"
        "hello-static: hello-static"
        "runtime-test: runtime-test"
        "memory-demo: memory-demo"
        "ping-pong: ping-pong"
        "badge-server: badge-server"
        "sel4test: sel4test"
        "kv-store: kv-store"
        "restart: restart"
        "shared-ring: shared-ring"
        "component-tests: component-tests"
    )
    if [ "$SEL4RS_ARCH" = aarch64 ]; then
        boot_tests+=("hello-el2: hello-el2")
        boot_tests+=("clock: clock")
    fi
    # fw_cfg from the command line: QEMU 7.2's riscv virt machine refuses
    # -fw_cfg ("fw_cfg device not available": it makes the device after the
    # options are read), so the shard and filter boots run on aarch64 only.
    if [ "$SEL4RS_ARCH" = aarch64 ]; then
        boot_tests+=("sel4test-shards: sel4test-shard1of2 sel4test-shard2of2")
    fi
fi
# SEL4RS_FAILING_TESTS=1 adds the image with a test that fails on purpose:
# the run then reports that failure (and exits non-zero) after completing.
if [ -n "${SEL4RS_FAILING_TESTS:-}" ]; then
    CMAKE_EXTRA_ARGS="${CMAKE_EXTRA_ARGS:-} -DSEL4RS_FAILING_TESTS=ON"
    boot_tests+=("sel4test-failing: sel4test-failing")
else
    CMAKE_EXTRA_ARGS="${CMAKE_EXTRA_ARGS:-} -DSEL4RS_FAILING_TESTS=OFF"
fi

# add_counts <log>: adds the counts of cargo's "test result:" lines and of
# the runner's closing "N passed, N failed" line.
add_counts() {
    local counts
    counts=$(awk '
        /^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
        /^[0-9]+ passed, [0-9]+ failed/ { p += $1; f += $3 }
        END { printf "%d %d\n", p, f }' "$1")
    passed=$((passed + ${counts% *}))
    failed=$((failed + ${counts#* }))
}

# step <name> <command...>: runs a step with its output on the terminal and
# in a log, and adds its test counts. A step that fails without reporting a
# failed test still counts as one failure.
step() {
    local name=$1
    shift
    echo
    echo "=== $name: $*"
    local log="$logs/$name.log"
    local before=$failed
    set +e
    "$@" 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    set -e
    add_counts "$log"
    if [ "$rc" -ne 0 ]; then
        failed_steps+=("$name (exit $rc, log $log)")
        if [ "$failed" -eq "$before" ]; then
            failed=$((failed + 1))
        fi
    fi
}

setup
mkdir -p "$logs"
rm -f "$logs"/*.log

# 1. Host unit tests: every crate that needs no kernel (the workspace's
#    default members).
step host-tests cargo test

# 2. Kernel, root servers and boot images.
echo
echo "=== build: kernel and boot images in $build"
if ! cmake_build; then
    echo "error: the build failed; no boot tests were run" >&2
    echo "TOTAL: $passed passed, $((failed + 1)) failed"
    exit 1
fi
stage="$build/kernel"
# The C programs (the bench's C baseline, the component bench's C
# components) are not built for seL4 12.x (no libsel4 install tree): the
# bench then runs without C figures, and the component bench not at all.
no_bench_c=
no_component_bench=
if [ "$SEL4RS_ARCH" = x86_64 ] && [ ! -d "$build/images/bench-c" ]; then
    echo "note: no bench-c image: the bench runs without the C baseline"
    no_bench_c=1
fi
if [ "$SEL4RS_ARCH" = x86_64 ] && [ ! -d "$build/images/component-bench" ]; then
    echo "note: no component-bench image (its C components need libsel4's install tree: seL4 5.x or 13.0.0+)"
    no_component_bench=1
fi
kept=()
for entry in "${boot_tests[@]}"; do
    case "$entry" in
        "bench-c:"*) [ -n "$no_bench_c" ] || kept+=("$entry") ;;
        "bench:"*) if [ -n "$no_bench_c" ]; then kept+=("bench: bench"); else kept+=("$entry"); fi ;;
        "component-bench:"*) [ -n "$no_component_bench" ] || kept+=("$entry") ;;
        *) kept+=("$entry") ;;
    esac
done
boot_tests=("${kept[@]}")

# 3. Generated tables against the kernel's own generated headers.
#    On aarch64 and riscv64 only the comparison with the kernel's headers:
#    the other two tests check x86_64 facts (IOPort labels) and compile an
#    x86_64 program against the generated source.
if [ "$SEL4RS_ARCH" = x86_64 ]; then
    step cross-check env SEL4_KERNEL="$stage" cargo test -p sel4-gen --test cross_check -- --ignored
else
    echo "note: $SEL4RS_ARCH: cross-check runs syscalls_and_labels_match_the_kernel_headers only (the others are x86_64 checks)"
    step cross-check env SEL4_KERNEL="$stage" cargo test -p sel4-gen --test cross_check -- \
        --ignored --exact syscalls_and_labels_match_the_kernel_headers
fi

# 3a. aarch64 and riscv64: the stage's device tree names a console UART the
#     drivers know (sel4-fdt reads it; runtime-test's uart_driver drives it).
if [ "$SEL4RS_ARCH" != x86_64 ]; then
    step fdt-stage env SEL4_KERNEL="$stage" cargo test -p sel4-fdt -- --ignored
fi

# 3b. System descriptions: object sizes from the kernel's files, and the
#     example systems (x86_64 descriptions) checked against this kernel.
if [ "$SEL4RS_ARCH" = x86_64 ]; then
    step system-kernel env SEL4_KERNEL="$stage" cargo test -p sel4-system-builder --test cli -- --ignored
fi

# 3c. The manifest-only stage of scripts/dev-stage.sh against the built one,
#     and the sel4 crate's host and doc tests on it (x86_64 configurations).
if [ "$SEL4RS_ARCH" = x86_64 ]; then
    step dev-stage "$repo/scripts/check-dev-stage.sh" "$build"
fi

# 4. The start code's relocator on the real PIE root server image (x86_64:
#    the test runs the asm routine on the host; on aarch64 and riscv64 the
#    hello image runs away from its link address instead, see
#    SEL4RS_PIE_RUN_ADDRESS in cmake/sel4-rust.cmake).
if [ "$SEL4RS_ARCH" = x86_64 ]; then
    step relocate-pie env SEL4RS_PIE_IMAGE="$build/images/hello/rootserver.elf" \
        cargo test -p sel4-start --test relocate_pie -- --ignored
fi

# 4a. The size figure (issue 11, a benchmark: figures, no pass/fail):
#     the default example's image (hello, as booted below) after `strip`,
#     against its 32 KiB target, and where the bytes go (sections, crates,
#     largest symbols). x86_64 (the host's strip).
if [ "$SEL4RS_ARCH" = x86_64 ]; then
    step size cargo run -q --release -p sel4-size-report -- \
        "$build/rootservers/hello.elf" --name hello --target 32768 --top 25
    # The same root task linked at a fixed address (LINK static): no
    # relocations, dynamic section or self-relocation work.
    step size-static cargo run -q --release -p sel4-size-report -- \
        "$build/rootservers/hello-static.elf" --name hello-static --target 32768 --top 10
fi

# 5. Boot tests on QEMU.
# serial-echo's inputs: lines, then 16384 lines of 64 bytes (1 MiB), then
# quit; and a busy period followed by 32 KiB.
if [ "$SEL4RS_ARCH" = x86_64 ]; then
    mkdir -p "$build/serial-echo"
    pattern_lines() {
        awk -v n="$1" 'BEGIN { a = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyz";
            for (i = 1; i <= n; i++) printf "%06d %s\n", i, substr(a, i % 26 + 1, 56) }'
    }
    { printf 'hello, seL4\ntyped in by the runner\n'; pattern_lines 16384; printf 'quit\n'; } \
        > "$build/serial-echo/echo.in"
    { printf 'busy 500\n'; pattern_lines 512; printf 'quit\n'; } > "$build/serial-echo/busy.in"
fi
cargo build -q --release -p sel4-runner
runner="$repo/target/release/sel4-run"
for entry in "${boot_tests[@]}"; do
    name=${entry%%:*}
    args=()
    for word in ${entry#*:}; do
        case "$word" in
            -*) args+=("$word") ;;
            *) args+=("$build/images/$word") ;;
        esac
    done
    step "boot-$name" "$runner" --timeout 300 --log "$logs/boot-$name.serial" "${args[@]}"
done
# 5a. A filtered boot runs only the tests the filter selects (the filter
#     reaches the root task through fw_cfg: I/O ports on x86_64, MMIO on
#     QEMU virt); scripts/check-filter.sh checks the names in the log.
if [ "$SEL4RS_ARCH" != riscv64 ]; then
    step boot-sel4test-filter "$repo/scripts/check-filter.sh" "$runner" \
        "$build/images/sel4test" cnodeops:: "$logs/boot-sel4test-filter.serial"
fi

# 6. The guide's root server in a crate of its own, outside the repository:
#    cargo run and CMake (reusing this build's kernel stage), and the link
#    checks (sel4-run refuses a root task linked at 0; the start code stops
#    one booted anyway, and one whose relocations are missing). x86_64.
if [ "$SEL4RS_ARCH" = x86_64 ]; then
    step out-of-tree "$repo/scripts/check-out-of-tree.sh" "$build"
fi

# 7. A system of components without CMake: sel4-system build (cargo) and
#    the runner on the root task ELF (docs/guide.md). x86_64.
if [ "$SEL4RS_ARCH" = x86_64 ]; then
    step system-cargo "$repo/scripts/check-system-cargo.sh" "$build"
fi

# 8. A root task without the runner's protocol (hello built with
#    --no-default-features) builds and carries none of it.
step production "$repo/scripts/check-production.sh" "$build"

echo
if [ ${#failed_steps[@]} -gt 0 ]; then
    echo "failed steps:"
    printf '  %s\n' "${failed_steps[@]}"
fi
echo "kernel: $(sed -n 's/.*"version": *"\([^"]*\)".*/seL4 \1/p' "$stage/sel4-kernel.json")${SEL4_SRC:+ from $SEL4_SRC} ($SEL4RS_ARCH${SEL4RS_MCS:+, MCS})"
echo "TOTAL: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ ${#failed_steps[@]} -eq 0 ]
