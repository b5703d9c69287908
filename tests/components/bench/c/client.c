/*
 * The C client of the IPC bench between components (component `c_client`
 * of tests/components/bench/system.toml): BENCH_WARMUP round trips, then
 * BENCH_N timed ones (rdtsc; under QEMU -icount shift=0 an instruction
 * count) to the C server, each seL4_SetMR + seL4_Call of one word with the
 * answer checked; exits with the cycles per round trip, 0 after a wrong
 * answer. Its capabilities are in <sel4rs_env.h>, generated from the
 * description (sel4-system c-header); `_start` is sel4rs_start.c.
 */
#include <sel4/sel4.h>
#include <sel4rs_start.h>
#include <sel4rs_env.h>
#include "bench.h"

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

/* Round trips from..from + n: 1 when every answer was right. */
static int rounds(seL4_CPtr ep, uint64_t from, uint64_t n)
{
    for (uint64_t i = from; i < from + n; i++) {
        seL4_SetMR(0, i);
        seL4_Call(ep, seL4_MessageInfo_new(BENCH_PING, 0, 0, 1));
        if (seL4_GetMR(0) != i + 1) {
            return 0;
        }
    }
    return 1;
}

uint64_t sel4rs_main(void)
{
    seL4_CPtr ep = SEL4RS_CAP_SERVER;
    if (!rounds(ep, 0, BENCH_WARMUP)) {
        return 0;
    }
    uint64_t t0 = rdtsc();
    int ok = rounds(ep, BENCH_WARMUP, BENCH_N);
    uint64_t cycles = rdtsc() - t0;
    return ok ? cycles / BENCH_N : 0;
}
