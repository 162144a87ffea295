/* SPDX-License-Identifier: MIT */
/* Coroutine internals shared by coro.c, stack.c, the switch backends and the loop. */
#ifndef AW_CORO_INTERNAL_H
#define AW_CORO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "awaitress/coro.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define AW__ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define AW__TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(AW__ASAN)
#define AW__ASAN 1
#endif
#if defined(__SANITIZE_THREAD__) && !defined(AW__TSAN)
#define AW__TSAN 1
#endif

#define AW__HIDDEN __attribute__((visibility("hidden")))

#if !defined(AW_CORO_UCONTEXT) && !defined(__x86_64__) && !defined(__aarch64__)
#define AW_CORO_UCONTEXT 1
#endif

/*
 * Saved context of a paused coroutine (or of the stack that resumed it). The
 * assembly backends read and write these fields by offset; the
 * _Static_asserts in coro.c keep the two in step.
 */
#if defined(AW_CORO_UCONTEXT)
#include <ucontext.h>
struct aw__ctx {
    ucontext_t uc;
};
#elif defined(__x86_64__)
/*
 * x86-64 System V: callee-saved rbx rbp r12-r15, the stack pointer (the return
 * address sits on the stack), MXCSR and the x87 control word.
 *   off  0 rsp   8 rbx  16 rbp  24 r12  32 r13  40 r14  48 r15
 *   off 56 mxcsr (4 bytes)   60 x87 control word (2 bytes)
 */
struct aw__ctx {
    void *rsp, *rbx, *rbp, *r12, *r13, *r14, *r15;
    uint32_t mxcsr;
    uint16_t fpucw;
    uint16_t pad_;
};
#else
/*
 * AArch64 AAPCS64: callee-saved x19-x28, the frame pointer x29, the link
 * register x30 (where the switch returns to), sp, the low halves d8-d15 of
 * v8-v15, and FPCR.
 *   off   0 sp    8 x19..x28 (10 regs)  88 x29  96 x30  104 d8..d15  168 fpcr
 */
struct aw__ctx {
    void *sp;
    void *x19_x28[10];
    void *x29, *x30;
    double d8_d15[8];
    uint64_t fpcr;
};
#endif

/* Saves the running context into `from` and continues `to`. */
AW__HIDDEN void aw__ctx_switch(struct aw__ctx *from, struct aw__ctx *to);

/*
 * Prepares `ctx` so that switching to it calls entry(c) on the stack whose
 * highest usable address is `top` (16-byte aligned) and lowest is `lo`.
 * `entry` must never return.
 */
AW__HIDDEN void aw__ctx_init(struct aw__ctx *ctx, char *lo, char *top,
                             void (*entry)(aw_coro_t *), aw_coro_t *c);

/* A stack: [lo, hi) is the usable part; a guarded one has its guard page just below lo. */
struct aw__stack {
    char *lo, *hi;
    struct aw__slab *slab; /* NULL for a stack with its own mapping */
    uint8_t guarded;
};

/* Gets a stack of the configured size from the thread's cache, a new mapping or a slab. */
AW__HIDDEN int aw__stack_get(struct aw__stack *s);

/* Returns a stack to the thread's cache, or unmaps it when the cache is full. */
AW__HIDDEN void aw__stack_put(struct aw__stack *s);

/* Writes the canary at the stack's low end. */
AW__HIDDEN void aw__stack_arm_canary(const struct aw__stack *s);

/* Returns true while the canary at the stack's low end is intact. */
AW__HIDDEN int aw__stack_canary_ok(const struct aw__stack *s);

/* Installs the overflow handler and this thread's alternate signal stack, once each. */
AW__HIDDEN void aw__stack_thread_init(void);

/* Stacks with a mapping of their own, and slab stacks, in use or cached, process-wide. */
AW__HIDDEN void aw__stack_counts(size_t *mapped, size_t *slab);

/* True when stacks get their guard pages from MADV_GUARD_INSTALL (Linux 6.13+). */
AW__HIDDEN bool aw__stack_madvise_guards(void);

/* Reports a smashed stack with the coroutine's id and name, then aborts. */
AW__HIDDEN _Noreturn void aw__coro_overflow(const aw_coro_t *c, const char *how);

enum aw__coro_state { AW__CORO_NEW, AW__CORO_RUNNING, AW__CORO_PAUSED, AW__CORO_DONE };

struct aw_coro {
    struct aw__ctx ctx;    /* this coroutine's own saved context */
    struct aw__ctx caller; /* whoever resumed it, while it runs */
    aw_coro_t *prev;       /* the coroutine that resumed it, or NULL */
    aw_coro_fn fn;
    void *arg;
    void *result;
    const char *name;
    uint64_t id;
    struct aw__stack stack;
    uint8_t state;
#if defined(AW__ASAN)
    void *asan_fake;           /* this coroutine's fake stack while paused */
    void *caller_fake;         /* the resumer's fake stack while we run */
    const void *caller_bottom; /* the resumer's stack, for switching back */
    size_t caller_size;
#endif
#if defined(AW__TSAN)
    void *tsan_fiber;
    void *tsan_caller;
#endif
};

/*
 * Like aw_coro_new, but also reserves `extra` bytes (16-byte aligned) beside
 * the coroutine at the top of its stack, so that an owner such as a task
 * needs no allocation of its own. *extra_out receives them, not zeroed:
 * the owner initializes what it uses, and untouched pages cost nothing.
 */
AW__HIDDEN aw_coro_t *aw__coro_new_ex(aw_coro_fn fn, void *arg, size_t extra, void **extra_out);

#endif
