/*
 * The C server of the IPC bench between components (component `c_server`
 * of tests/components/bench/system.toml): answers probe_proto's `Bench` on
 * the wire with the kernel's own libsel4, Ping{x} -> Pong{x + 1}, as a C
 * programmer writes it (seL4_Recv, then seL4_ReplyRecv). Exits with 1 on
 * another message. Its capabilities are in <sel4rs_env.h>, generated from
 * the description (sel4-system c-header); `_start` is sel4rs_start.c.
 */
#include <sel4/sel4.h>
#include <sel4rs_start.h>
#include <sel4rs_env.h>
#include "bench.h"

uint64_t sel4rs_main(void)
{
    seL4_CPtr ep = SEL4RS_CAP_BENCH;
    seL4_Word badge;
#ifdef CONFIG_KERNEL_MCS
    /* MCS: the reply capability goes to the thread's reply object. */
    seL4_MessageInfo_t info = seL4_Recv(ep, &badge, SEL4RS_THREAD_MAIN_REPLY);
#else
    seL4_MessageInfo_t info = seL4_Recv(ep, &badge);
#endif
    while (seL4_MessageInfo_get_label(info) == BENCH_PING) {
        seL4_SetMR(0, seL4_GetMR(0) + 1);
#ifdef CONFIG_KERNEL_MCS
        info = seL4_ReplyRecv(ep, seL4_MessageInfo_new(BENCH_PING, 0, 0, 1), &badge,
                              SEL4RS_THREAD_MAIN_REPLY);
#else
        info = seL4_ReplyRecv(ep, seL4_MessageInfo_new(BENCH_PING, 0, 0, 1), &badge);
#endif
    }
    return 1;
}
