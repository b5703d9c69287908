/*
 * The start of a C program that the root task's loader starts as a process
 * or component (sel4_rootserver::process; the contract is sel4rs_start.h):
 * `_start` realigns the stack and calls sel4rs_start(), which checks the
 * start-info page, tells libsel4 where the IPC buffer is, runs the
 * program's sel4rs_main() and ends the process with its value as the exit
 * code (sel4rs_exit()).
 *
 * Compiled into every program of sel4rs_c_process() and
 * sel4rs_c_component() (cmake/sel4-c-rootserver.cmake).
 */
#include <sel4/sel4.h>
#include <stddef.h>
#include <stdint.h>
#include <sel4rs_start.h>

#ifndef SEL4RS_KERNEL_MAJOR
#error "SEL4RS_KERNEL_MAJOR must be defined (the build does it)"
#endif

static const unsigned char *start_info;

uint64_t sel4rs_si_word(uint64_t off)
{
    return *(const volatile uint64_t *)(start_info + off);
}

uint64_t sel4rs_thread0_word(uint64_t off)
{
    return sel4rs_si_word(SEL4RS_SI_OFF_THREADS + off);
}

void sel4rs_exit(uint64_t code)
{
    seL4_CPtr report = sel4rs_si_word(SEL4RS_SI_OFF_REPORT_SLOT);
    if (report != 0) {
        seL4_SetMR(0, code);
        seL4_Send(report, seL4_MessageInfo_new(SEL4RS_EXIT_LABEL, 0, 0, 1));
    }
    /* The root task ends the process on the report; without one (or
     * until it does) the thread stops. */
    seL4_CPtr tcb = sel4rs_thread0_word(SEL4RS_SI_THREAD_TCB_SLOT);
    for (;;) {
        if (tcb != 0) {
            seL4_TCB_Suspend(tcb);
        }
        seL4_Yield();
    }
}

void sel4rs_start(const unsigned char *page);

void sel4rs_start(const unsigned char *page)
{
    start_info = page;
    if (sel4rs_si_word(SEL4RS_SI_OFF_MAGIC) != SEL4RS_SI_MAGIC ||
        sel4rs_si_word(SEL4RS_SI_OFF_VERSION) != SEL4RS_SI_VERSION ||
        sel4rs_si_word(SEL4RS_SI_OFF_THREAD_COUNT) < 1) {
        /* Not the start contract this program was written for: an
         * undefined instruction (a fault the root task reports). */
        __builtin_trap();
    }
#if SEL4RS_KERNEL_MAJOR >= 10
    seL4_SetIPCBuffer((seL4_IPCBuffer *)sel4rs_thread0_word(SEL4RS_SI_THREAD_IPC_BUFFER));
#endif
    sel4rs_exit(sel4rs_main());
}

/* rsp arrives as after a call (rsp + 8 16-byte aligned): realign for the
 * call below. */
__asm__(".pushsection .text._start,\"ax\",@progbits\n"
        ".globl _start\n"
        ".type _start,@function\n"
        "_start:\n"
        "    and $-16, %rsp\n"
        "    xor %ebp, %ebp\n"
        "    call sel4rs_start\n"
        "    ud2\n"
        ".size _start, . - _start\n"
        ".popsection\n");
