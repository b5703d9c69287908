/*
 * The start contract of a process (crates/component-env/src/start.rs), as
 * far as a C program started by the loader of sel4_rootserver::process
 * needs it: the initial thread starts at the image's entry with (x86_64;
 * aarch64: x0, sp 16-byte aligned, tpidr_el0; riscv64: a0, sp, tp)
 *   rdi     = the address of the read-only start-info page,
 *   rsp     = the top of its stack minus 8 (as after a call),
 *   FS base = the thread pointer of its TLS block (from the image's PT_TLS),
 * and reads everything else from the page: little-endian 64-bit words at
 * the byte offsets below. It ends by sending SEL4RS_EXIT_LABEL (message
 * word 0: the exit code) on the report capability.
 *
 * The values are the Rust constants' (start.rs is the one place they are
 * defined); the host test crates/component-env/tests/c_start_header.rs
 * checks every one against a page written by StartInfo::encode.
 */
#ifndef SEL4RS_START_H
#define SEL4RS_START_H

/* Word 0: b"sel4rsSI" little-endian; word 1: the layout version. */
#define SEL4RS_SI_MAGIC 0x49537372346c6573ULL
#define SEL4RS_SI_VERSION 2
#define SEL4RS_SI_OFF_MAGIC 0
#define SEL4RS_SI_OFF_VERSION 8
/* Slot of the report capability (0: none). */
#define SEL4RS_SI_OFF_REPORT_SLOT 104
/* Number of thread entries. */
#define SEL4RS_SI_OFF_THREAD_COUNT 112
/* The creator's argument words (SEL4RS_SI_ARGS of them). */
#define SEL4RS_SI_OFF_ARGS 128
#define SEL4RS_SI_ARGS 8
/* The thread table: entry i at OFF_THREADS + i * THREAD_BYTES. */
#define SEL4RS_SI_OFF_THREADS 448
#define SEL4RS_SI_THREAD_BYTES 64
/* Offsets within a thread entry: its IPC buffer, its TCB's slot (0: not
 * given). */
#define SEL4RS_SI_THREAD_IPC_BUFFER 16
#define SEL4RS_SI_THREAD_TCB_SLOT 32

/* Label of the exit report. */
#define SEL4RS_EXIT_LABEL 0xee417

/*
 * sel4rs_start.c (compiled into every C program of sel4rs_c_process() and
 * sel4rs_c_component()) brings `_start`: it checks the page, sets libsel4's
 * IPC buffer, calls the program's sel4rs_main() and ends the process with
 * the value it returns as the exit code.
 */
#ifndef __ASSEMBLER__
#include <stdint.h>
/* The program's main: its value is the exit code. */
uint64_t sel4rs_main(void);
/* The start-info word at byte offset `off`. */
uint64_t sel4rs_si_word(uint64_t off);
/* Word `off` of the initial thread's entry of the thread table. */
uint64_t sel4rs_thread0_word(uint64_t off);
/* Ends the process: the exit report with `code`, then the thread stops. */
void sel4rs_exit(uint64_t code) __attribute__((noreturn));
#endif

#endif
