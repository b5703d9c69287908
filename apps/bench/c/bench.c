/*
 * bench-c: the C baseline of the bench (apps/bench), a root task of its own
 * written against the configured kernel's libsel4 (headers of that kernel,
 * its sel4_bootinfo.c; nothing else): its own `_start`, stack and TLS block,
 * the same loops as the Rust bench's raw and typed ones, timed the same way
 * (rdtsc around RUNS runs of N operations after WARMUP, median; under QEMU
 * -icount shift=0 these are instruction counts).
 *
 * Operations (see apps/bench/src/main.rs for the Rust side):
 *   ipc_call_reply_recv       seL4_SetMR + seL4_Call / seL4_ReplyRecv (the
 *                             canonical libsel4 loop: message words through
 *                             the IPC buffer); ..._with_mrs: the same with
 *                             seL4_CallWithMRs / seL4_ReplyRecvWithMRs
 *   notification_signal_wait  seL4_Signal + seL4_Wait, both directions
 *   retype_delete_{notification,endpoint}
 *                             seL4_Untyped_Retype into a fixed slot, then
 *                             seL4_CNode_Delete, from an untyped of 2^20
 *                             bytes with nothing else in it
 *
 * Output (one line per operation, read by the Rust bench through fw_cfg):
 *   bench-c <name> c=<instructions per op>
 * then the protocol's result line; QEMU ends through isa-debug-exit.
 *
 * Built by cmake/sel4-c-rootserver.cmake: gcc -O2 -static -nostdlib
 * -ffreestanding -mgeneral-regs-only -ftls-model=local-exec, with
 * SEL4RS_KERNEL_MAJOR and SEL4RS_KERNEL_VERSION defined.
 */
#include <sel4/sel4.h>
#include <stdint.h>
#include <stddef.h>

#ifndef SEL4RS_KERNEL_MAJOR
#error "SEL4RS_KERNEL_MAJOR must be defined (the build does it)"
#endif

#define RUNS 7
#define N 1000
#define WARMUP 100
#define TOTAL (WARMUP + RUNS * N)

#define PING 1
#define STOP 2

/* Size of the untyped the retype loops use (as RAW_UNTYPED_BITS in Rust). */
#define RETYPE_UNTYPED_BITS 20

/* seL4 5.x points GS base at the IPC buffer (libsel4 reads it through %gs);
 * later kernels' libsel4 keeps its address in the TLS variable
 * __sel4_ipc_buffer, so each thread needs a TLS block. */
#if SEL4RS_KERNEL_MAJOR >= 10
#define TLS_IPC_BUFFER 1
#endif

/* ------------------------------------------------------------ start */

#define MAIN_STACK_SIZE (64 * 1024)
#define PEER_STACK_SIZE (16 * 1024)
/* Global: `_start` names it. */
char main_stack[MAIN_STACK_SIZE] __attribute__((aligned(16)));
static char peer_stack[PEER_STACK_SIZE] __attribute__((aligned(16)));

/* The peer thread's IPC buffer: a page of this image (its frame capability
 * is one of bootinfo's userImageFrames). */
static char peer_ipc_buffer[4096] __attribute__((aligned(4096)));

void bench_main(seL4_BootInfo *bi);

__asm__(".pushsection .text._start,\"ax\",@progbits\n"
        ".globl _start\n"
        ".type _start,@function\n"
        "_start:\n"
        "    lea main_stack+" "65536" "(%rip), %rsp\n"
        "    xor %ebp, %ebp\n"
        "    call bench_main\n"
        "    ud2\n"
        ".size _start, . - _start\n"
        ".popsection\n");
_Static_assert(MAIN_STACK_SIZE == 65536, "_start's stack top");

/* ------------------------------------------------------------ console */

static void put_str(const char *s)
{
    while (*s) {
        seL4_DebugPutChar(*s++);
    }
}

static void put_u64(uint64_t v)
{
    char buf[21];
    int i = sizeof(buf) - 1;
    buf[i] = 0;
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put_str(&buf[i]);
}

/* ------------------------------------------------------------ exit */

static seL4_CPtr next_slot;
static seL4_CPtr last_slot;

static void qemu_exit(uint8_t value)
{
#if SEL4RS_KERNEL_MAJOR >= 10
    seL4_CPtr port = next_slot++;
    seL4_X86_IOPortControl_Issue(seL4_CapIOPortControl, 0xf4, 0xf4, seL4_CapInitThreadCNode,
                                 port, seL4_WordBits);
#else
    seL4_CPtr port = seL4_CapIOPort;
#endif
    seL4_X86_IOPort_Out8(port, 0xf4, value);
    /* No debug-exit device: stop here. */
    for (;;) {
        seL4_TCB_Suspend(seL4_CapInitThreadTCB);
    }
}

static void fail(const char *what, uint64_t err)
{
    put_str("bench-c: ");
    put_str(what);
    put_str(" failed (error ");
    put_u64(err);
    put_str(")\n##sel4rs result fail bench-c: ");
    put_str(what);
    put_str(" failed\n");
    qemu_exit(1);
}

static void check(seL4_Error err, const char *what)
{
    if (err != seL4_NoError) {
        fail(what, err);
    }
}

static seL4_CPtr alloc_slot(void)
{
    if (next_slot >= last_slot) {
        fail("slot allocation", 0);
    }
    return next_slot++;
}

/* ------------------------------------------------------------ TLS */

struct phdr {
    uint32_t type, flags;
    uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

extern const unsigned char __ehdr_start[];

#define PT_TLS 7
#define TLS_AREA 512

struct tls_area {
    unsigned char bytes[TLS_AREA];
} __attribute__((aligned(64)));

static struct tls_area main_tls, peer_tls;

/* Lays out an x86_64 (variant II) TLS block from the image's PT_TLS segment
 * in `area`: block below the thread pointer, which points at its own
 * address. Returns the thread pointer. */
static uintptr_t tls_init(struct tls_area *area)
{
    const uint64_t phoff = *(const uint64_t *)(__ehdr_start + 32);
    const uint16_t phentsize = *(const uint16_t *)(__ehdr_start + 54);
    const uint16_t phnum = *(const uint16_t *)(__ehdr_start + 56);
    const struct phdr *tls = 0;
    for (uint16_t i = 0; i < phnum; i++) {
        const struct phdr *p = (const struct phdr *)(__ehdr_start + phoff + (uint64_t)i * phentsize);
        if (p->type == PT_TLS) {
            tls = p;
        }
    }
    uint64_t align = tls && tls->align > 8 ? tls->align : 8;
    uint64_t size = tls ? (tls->memsz + align - 1) & ~(align - 1) : 0;
    if (align > 64 || size + 8 > TLS_AREA) {
        fail("TLS layout (PT_TLS too large for the static area)", size);
    }
    unsigned char *tp = area->bytes + size;
    for (uint64_t i = 0; i < size; i++) {
        area->bytes[i] = tls && i < tls->filesz ? ((const unsigned char *)tls->vaddr)[i] : 0;
    }
    *(uintptr_t *)tp = (uintptr_t)tp;
    return (uintptr_t)tp;
}

#ifdef TLS_IPC_BUFFER
static void set_own_tls(uintptr_t tp)
{
#ifdef CONFIG_FSGSBASE_INST
    __asm__ volatile("wrfsbase %0" ::"r"(tp) : "memory");
#else
    seL4_TCB_SetTLSBase(seL4_CapInitThreadTCB, tp);
#endif
}
#endif

/* ------------------------------------------------------------ timing */

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

typedef void (*ops_fn)(uint64_t n, void *ctx);

/* ops(WARMUP), then RUNS timed ops(N); the median per operation. */
static uint64_t measure(ops_fn ops, void *ctx)
{
    uint64_t per_op[RUNS];
    ops(WARMUP, ctx);
    for (int r = 0; r < RUNS; r++) {
        uint64_t t0 = rdtsc();
        ops(N, ctx);
        uint64_t t1 = rdtsc();
        per_op[r] = (t1 - t0 + N / 2) / N;
    }
    for (int i = 1; i < RUNS; i++) {
        for (int j = i; j > 0 && per_op[j - 1] > per_op[j]; j--) {
            uint64_t t = per_op[j];
            per_op[j] = per_op[j - 1];
            per_op[j - 1] = t;
        }
    }
    return per_op[RUNS / 2];
}

static void report(const char *name, uint64_t c)
{
    put_str("bench-c ");
    put_str(name);
    put_str(" c=");
    put_u64(c);
    put_str("\n");
}

/* ------------------------------------------------------------ the peer thread */

static seL4_CPtr peer_tcb;
static seL4_CPtr peer_ipc_frame;

typedef void (*peer_fn)(seL4_CPtr a, seL4_CPtr b);

/* First code of the peer thread (rsp set by TCB_WriteRegisters, the
 * function and its two arguments in rdi, rsi, rdx). */
static void peer_entry(peer_fn f, seL4_CPtr a, seL4_CPtr b)
{
#ifdef TLS_IPC_BUFFER
    seL4_SetIPCBuffer((seL4_IPCBuffer *)peer_ipc_buffer);
#endif
    f(a, b);
    for (;;) {
        seL4_TCB_Suspend(peer_tcb);
    }
}

/* (Re)starts the peer thread at f(a, b), at priority 255 like the root task's. */
static void peer_start(peer_fn f, seL4_CPtr a, seL4_CPtr b)
{
    seL4_UserContext regs = {0};
    regs.rip = (seL4_Word)peer_entry;
    /* As after a call: rsp + 8 16-byte aligned. */
    regs.rsp = (seL4_Word)(peer_stack + PEER_STACK_SIZE - 8);
    regs.rdi = (seL4_Word)f;
    regs.rsi = a;
    regs.rdx = b;
#ifdef TLS_IPC_BUFFER
    regs.fs_base = tls_init(&peer_tls);
#endif
    check(seL4_TCB_WriteRegisters(peer_tcb, 1, 0, sizeof(regs) / sizeof(seL4_Word), &regs),
          "TCB_WriteRegisters");
}

/* Stops the peer (it has done its part, or is about to suspend itself). */
static void peer_stop(void)
{
    check(seL4_TCB_Suspend(peer_tcb), "TCB_Suspend");
}

static void peer_create(seL4_CPtr untyped)
{
    peer_tcb = alloc_slot();
    check(seL4_Untyped_Retype(untyped, seL4_TCBObject, 0, seL4_CapInitThreadCNode, 0, 0, peer_tcb, 1),
          "retype TCB");
#if SEL4RS_KERNEL_MAJOR >= 10
    check(seL4_TCB_SetSpace(peer_tcb, seL4_CapNull, seL4_CapInitThreadCNode, 0,
                            seL4_CapInitThreadVSpace, 0),
          "TCB_SetSpace");
    check(seL4_TCB_SetPriority(peer_tcb, seL4_CapInitThreadTCB, 255), "TCB_SetPriority");
#else
    check(seL4_TCB_SetSpace(peer_tcb, seL4_CapNull, seL4_CapInitThreadCNode, seL4_NilData,
                            seL4_CapInitThreadVSpace, seL4_NilData),
          "TCB_SetSpace");
    check(seL4_TCB_SetPriority(peer_tcb, 255), "TCB_SetPriority");
#endif
    check(seL4_TCB_SetIPCBuffer(peer_tcb, (seL4_Word)peer_ipc_buffer, peer_ipc_frame),
          "TCB_SetIPCBuffer");
}

static seL4_CPtr create(seL4_CPtr untyped, seL4_Word type)
{
    seL4_CPtr s = alloc_slot();
    check(seL4_Untyped_Retype(untyped, type, 0, seL4_CapInitThreadCNode, 0, 0, s, 1), "retype");
    return s;
}

/* ------------------------------------------------------------ IPC */

static void ipc_server(seL4_CPtr ep, seL4_CPtr unused)
{
    (void)unused;
    seL4_Word badge;
    seL4_MessageInfo_t info = seL4_Recv(ep, &badge);
    while (seL4_MessageInfo_get_label(info) == PING) {
        seL4_SetMR(0, seL4_GetMR(0) + 1);
        info = seL4_ReplyRecv(ep, seL4_MessageInfo_new(PING, 0, 0, 1), &badge);
    }
    seL4_Reply(seL4_MessageInfo_new(STOP, 0, 0, 0));
}

static void ipc_ops(uint64_t n, void *ctx)
{
    seL4_CPtr ep = *(seL4_CPtr *)ctx;
    for (uint64_t i = 0; i < n; i++) {
        seL4_SetMR(0, i);
        seL4_Call(ep, seL4_MessageInfo_new(PING, 0, 0, 1));
        if (seL4_GetMR(0) != i + 1) {
            fail("ping reply", seL4_GetMR(0));
        }
    }
}

static void ipc_server_mrs(seL4_CPtr ep, seL4_CPtr unused)
{
    (void)unused;
    seL4_Word badge;
    seL4_Word mr0 = 0;
    seL4_MessageInfo_t info = seL4_RecvWithMRs(ep, &badge, &mr0, NULL, NULL, NULL);
    while (seL4_MessageInfo_get_label(info) == PING) {
        mr0 += 1;
        info = seL4_ReplyRecvWithMRs(ep, seL4_MessageInfo_new(PING, 0, 0, 1), &badge, &mr0, NULL,
                                     NULL, NULL);
    }
    mr0 = 0;
    seL4_ReplyWithMRs(seL4_MessageInfo_new(STOP, 0, 0, 0), &mr0, NULL, NULL, NULL);
}

static void ipc_ops_mrs(uint64_t n, void *ctx)
{
    seL4_CPtr ep = *(seL4_CPtr *)ctx;
    for (uint64_t i = 0; i < n; i++) {
        seL4_Word mr0 = i;
        seL4_CallWithMRs(ep, seL4_MessageInfo_new(PING, 0, 0, 1), &mr0, NULL, NULL, NULL);
        if (mr0 != i + 1) {
            fail("ping reply (WithMRs)", mr0);
        }
    }
}

static uint64_t ipc_bench(seL4_CPtr ep, peer_fn server, ops_fn ops)
{
    peer_start(server, ep, 0);
    uint64_t r = measure(ops, &ep);
    seL4_SetMR(0, 0);
    seL4_MessageInfo_t info = seL4_Call(ep, seL4_MessageInfo_new(STOP, 0, 0, 0));
    if (seL4_MessageInfo_get_label(info) != STOP) {
        fail("stop reply", seL4_MessageInfo_get_label(info));
    }
    peer_stop();
    return r;
}

/* ------------------------------------------------------------ notifications */

static seL4_CPtr ntfn_pair[2];

static void ntfn_peer(seL4_CPtr to_peer, seL4_CPtr back)
{
    for (uint64_t i = 0; i < TOTAL; i++) {
        seL4_Wait(to_peer, NULL);
        seL4_Signal(back);
    }
}

static void ntfn_ops(uint64_t n, void *ctx)
{
    (void)ctx;
    seL4_CPtr to_peer = ntfn_pair[0], back = ntfn_pair[1];
    for (uint64_t i = 0; i < n; i++) {
        seL4_Signal(to_peer);
        seL4_Wait(back, NULL);
    }
}

/* ------------------------------------------------------------ retype + delete */

struct retype_ctx {
    seL4_CPtr untyped;
    seL4_Word type;
    seL4_CPtr slot;
};

static void retype_ops(uint64_t n, void *ctx)
{
    struct retype_ctx *c = ctx;
    for (uint64_t i = 0; i < n; i++) {
        seL4_Error e = seL4_Untyped_Retype(c->untyped, c->type, 0, seL4_CapInitThreadCNode, 0, 0,
                                           c->slot, 1);
        if (e != seL4_NoError) {
            fail("retype (loop)", e);
        }
        e = seL4_CNode_Delete(seL4_CapInitThreadCNode, c->slot, seL4_WordBits);
        if (e != seL4_NoError) {
            fail("delete (loop)", e);
        }
    }
}

/* Retype + delete of `type` from an untyped of its own, the object the
 * only one in it (the kernel resets the untyped at each retype). */
static uint64_t retype_bench(seL4_CPtr from, seL4_Word type)
{
    struct retype_ctx c;
    c.untyped = alloc_slot();
    check(seL4_Untyped_Retype(from, seL4_UntypedObject, RETYPE_UNTYPED_BITS, seL4_CapInitThreadCNode,
                              0, 0, c.untyped, 1),
          "retype untyped");
    c.type = type;
    c.slot = alloc_slot();
    uint64_t r = measure(retype_ops, &c);
    check(seL4_CNode_Revoke(seL4_CapInitThreadCNode, c.untyped, seL4_WordBits), "revoke untyped");
    check(seL4_CNode_Delete(seL4_CapInitThreadCNode, c.untyped, seL4_WordBits), "delete untyped");
    return r;
}

/* ------------------------------------------------------------ main */

void bench_main(seL4_BootInfo *bi)
{
#ifdef TLS_IPC_BUFFER
    set_own_tls(tls_init(&main_tls));
    seL4_SetIPCBuffer(bi->ipcBuffer);
#else
    (void)main_tls;
    (void)peer_tls;
    (void)tls_init;
#endif
    next_slot = bi->empty.start;
    last_slot = bi->empty.end;

    put_str("##sel4rs boot bench-c kernel=" SEL4RS_KERNEL_VERSION " arch=x86_64 config=c-libsel4\n");

    /* The largest RAM untyped for every object here. */
    seL4_CPtr untyped = 0;
    uint8_t bits = 0;
    for (seL4_Word i = 0; i < bi->untyped.end - bi->untyped.start; i++) {
        const seL4_UntypedDesc *d = &bi->untypedList[i];
        if (!d->isDevice && d->sizeBits > bits) {
            bits = d->sizeBits;
            untyped = bi->untyped.start + i;
        }
    }
    if (bits < RETYPE_UNTYPED_BITS + 2) {
        fail("finding a RAM untyped of 4 MiB", bits);
    }

    /* The peer's IPC buffer frame: the image's frames start at its first page. */
    uintptr_t image = (uintptr_t)__ehdr_start & ~(uintptr_t)4095;
    peer_ipc_frame = bi->userImageFrames.start + ((uintptr_t)peer_ipc_buffer - image) / 4096;
    if (peer_ipc_frame >= bi->userImageFrames.end) {
        fail("finding the peer's IPC buffer frame", peer_ipc_frame);
    }
    peer_create(untyped);

    seL4_CPtr ep = create(untyped, seL4_EndpointObject);
    report("ipc_call_reply_recv", ipc_bench(ep, ipc_server, ipc_ops));
    report("ipc_call_reply_recv_with_mrs", ipc_bench(ep, ipc_server_mrs, ipc_ops_mrs));

    ntfn_pair[0] = create(untyped, seL4_NotificationObject);
    ntfn_pair[1] = create(untyped, seL4_NotificationObject);
    peer_start(ntfn_peer, ntfn_pair[0], ntfn_pair[1]);
    uint64_t ntfn = measure(ntfn_ops, NULL);
    peer_stop();
    report("notification_signal_wait", ntfn);

    report("retype_delete_notification", retype_bench(untyped, seL4_NotificationObject));
    report("retype_delete_endpoint", retype_bench(untyped, seL4_EndpointObject));

    put_str("bench-c: done\n##sel4rs result pass\n");
    qemu_exit(0);
}
