/* SPDX-License-Identifier: MIT */
/*
 * Portable context switch on ucontext(3), for platforms without an assembly
 * backend and as the baseline the benchmark compares against. swapcontext
 * also saves and restores the signal mask: a system call on every switch.
 */
#include "coro_internal.h"

#if defined(AW_CORO_UCONTEXT)
#include <stdint.h>

/* makecontext passes int arguments only: the pointers travel in halves. */
static void shim(unsigned e_hi, unsigned e_lo, unsigned c_hi, unsigned c_lo) {
    uint64_t e = ((uint64_t)e_hi << 32) | e_lo;
    uintptr_t c = (uintptr_t)(((uint64_t)c_hi << 32) | c_lo);
    void (*entry)(aw_coro_t *) = (void (*)(aw_coro_t *))(uintptr_t)e;
    entry((aw_coro_t *)c);
}

void aw__ctx_init(struct aw__ctx *ctx, char *lo, char *top, void (*entry)(aw_coro_t *),
                  aw_coro_t *c) {
    uint64_t e = (uint64_t)(uintptr_t)entry, cp = (uint64_t)(uintptr_t)c;
    getcontext(&ctx->uc);
    ctx->uc.uc_stack.ss_sp = lo;
    ctx->uc.uc_stack.ss_size = (size_t)(((uintptr_t)top & ~(uintptr_t)15) - (uintptr_t)lo);
    ctx->uc.uc_link = NULL;
    makecontext(&ctx->uc, (void (*)(void))shim, 4, (unsigned)(e >> 32), (unsigned)e,
                (unsigned)(cp >> 32), (unsigned)cp);
}

void aw__ctx_switch(struct aw__ctx *from, struct aw__ctx *to) {
    swapcontext(&from->uc, &to->uc);
}
#endif
