/*
 * bench-c-process: the C side of the bench's inter-process IPC figure
 * (apps/bench/src/processes.rs): a program in C against the configured
 * kernel's libsel4 that the bench's root task starts twice as processes
 * (sel4_rootserver::process, each in an address space and CSpace of its
 * own), once as the server and once as the client of the same endpoint,
 * exactly as it starts tests/process-test for the raw and typed figures.
 *
 * Start contract (crates/component-env/c/sel4rs_start.h): `_start`, the
 * checks of the start-info page and the exit report are
 * crates/component-env/c/sel4rs_start.c, which calls sel4rs_main() below.
 * FS base is the thread pointer of the TLS block the loader laid out from
 * this image's PT_TLS (libsel4 of seL4 10+ keeps the IPC buffer's address
 * in the TLS variable __sel4_ipc_buffer; seL4 5.x points GS base at the IPC
 * buffer itself).
 *
 * Arguments (start-info words):
 *   server: [ROLE_SERVER, endpoint slot]
 *     seL4_Recv, then seL4_SetMR + seL4_ReplyRecv with the request word
 *     plus one until a request of label STOP; exits with 0 (1 for an
 *     unknown label).
 *   client: [ROLE_CLIENT, endpoint slot, n]
 *     WARMUP round trips, then n timed ones (rdtsc; under QEMU -icount
 *     shift=0 an instruction count), each seL4_SetMR + seL4_Call of one
 *     word, checking the reply; sends STOP to the server and exits with the
 *     count (UINT64_MAX: a wrong reply; UINT64_MAX - 1: a wrong final
 *     value; UINT64_MAX - 2: an unknown role).
 *   ROLE_SERVER_MRS, ROLE_CLIENT_MRS: the same with seL4_RecvWithMRs,
 *     seL4_ReplyRecvWithMRs and seL4_CallWithMRs (message words in
 *     registers, not through the IPC buffer).
 * The loops are the C root task's (bench.c ipc_server/ipc_ops and their
 * _mrs twins), the
 * protocol the Rust process's (tests/process-test, module bench): label 1
 * carries one word, label 2 stops.
 *
 * Built by sel4rs_c_process() (cmake/sel4-c-rootserver.cmake): the flags of
 * the C root task, linked at the loader's image base.
 */
#include <sel4/sel4.h>
#include <stddef.h>
#include <stdint.h>
#include <sel4rs_start.h>

#ifndef SEL4RS_KERNEL_MAJOR
#error "SEL4RS_KERNEL_MAJOR must be defined (the build does it)"
#endif

#define ROLE_SERVER 1
#define ROLE_CLIENT 2
#define ROLE_SERVER_MRS 3
#define ROLE_CLIENT_MRS 4

#define PING 1
#define STOP 2

/* Round trips before the timed ones (as the Rust client's). */
#define WARMUP 100

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static uint64_t server(seL4_CPtr ep)
{
    seL4_Word badge;
    seL4_MessageInfo_t info = seL4_Recv(ep, &badge);
    while (seL4_MessageInfo_get_label(info) == PING) {
        seL4_SetMR(0, seL4_GetMR(0) + 1);
        info = seL4_ReplyRecv(ep, seL4_MessageInfo_new(PING, 0, 0, 1), &badge);
    }
    return seL4_MessageInfo_get_label(info) == STOP ? 0 : 1;
}

static uint64_t server_mrs(seL4_CPtr ep)
{
    seL4_Word badge;
    seL4_Word mr0 = 0;
    seL4_MessageInfo_t info = seL4_RecvWithMRs(ep, &badge, &mr0, NULL, NULL, NULL);
    while (seL4_MessageInfo_get_label(info) == PING) {
        mr0 += 1;
        info = seL4_ReplyRecvWithMRs(ep, seL4_MessageInfo_new(PING, 0, 0, 1), &badge, &mr0, NULL,
                                     NULL, NULL);
    }
    return seL4_MessageInfo_get_label(info) == STOP ? 0 : 1;
}

/* `n` round trips from `value`; the final value, or UINT64_MAX after a
 * wrong reply (the reply word checked each time, as in bench.c). */
static uint64_t round_trips(seL4_CPtr ep, uint64_t value, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        seL4_SetMR(0, value);
        seL4_Call(ep, seL4_MessageInfo_new(PING, 0, 0, 1));
        if (seL4_GetMR(0) != value + 1) {
            return UINT64_MAX;
        }
        value += 1;
    }
    return value;
}

static uint64_t round_trips_mrs(seL4_CPtr ep, uint64_t value, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        seL4_Word mr0 = value;
        seL4_CallWithMRs(ep, seL4_MessageInfo_new(PING, 0, 0, 1), &mr0, NULL, NULL, NULL);
        if (mr0 != value + 1) {
            return UINT64_MAX;
        }
        value += 1;
    }
    return value;
}

typedef uint64_t (*rounds_fn)(seL4_CPtr ep, uint64_t value, uint64_t n);

static uint64_t client(seL4_CPtr ep, uint64_t n, rounds_fn round_trips)
{
    uint64_t value = round_trips(ep, 0, WARMUP);
    if (value == UINT64_MAX) {
        return UINT64_MAX;
    }
    uint64_t t0 = rdtsc();
    value = round_trips(ep, value, n);
    uint64_t cycles = rdtsc() - t0;
    if (value == UINT64_MAX) {
        return UINT64_MAX;
    }
    if (value != WARMUP + n) {
        return UINT64_MAX - 1;
    }
    seL4_Send(ep, seL4_MessageInfo_new(STOP, 0, 0, 0));
    return cycles;
}

uint64_t sel4rs_main(void)
{
    uint64_t role = sel4rs_si_word(SEL4RS_SI_OFF_ARGS);
    seL4_CPtr ep = sel4rs_si_word(SEL4RS_SI_OFF_ARGS + 8);
    uint64_t n = sel4rs_si_word(SEL4RS_SI_OFF_ARGS + 16);
    switch (role) {
    case ROLE_SERVER:
        return server(ep);
    case ROLE_CLIENT:
        return client(ep, n, round_trips);
    case ROLE_SERVER_MRS:
        return server_mrs(ep);
    case ROLE_CLIENT_MRS:
        return client(ep, n, round_trips_mrs);
    default:
        return UINT64_MAX - 2;
    }
}
