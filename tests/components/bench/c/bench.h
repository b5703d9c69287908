/*
 * The IPC bench between components (tests/components/bench): what its C
 * components share with the Rust ones (probe_proto's `Bench` protocol and
 * its `bench` module: tests/components/probes/proto/src/lib.rs).
 */
#ifndef BENCH_H
#define BENCH_H

#include <stdint.h>

/* Wire label of BenchRequest::Ping and BenchResponse::Pong: the message
 * label 1 above the kernel's 64 labels (sel4_ipc::wire_label). */
#define BENCH_PING (64 + 1)
/* Round trips before the timed ones, and timed round trips
 * (probe_proto::bench::WARMUP and N). */
#define BENCH_WARMUP 100
#define BENCH_N 10000

#endif
