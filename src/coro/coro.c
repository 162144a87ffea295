/* SPDX-License-Identifier: MIT */
/*
 * Coroutine life cycle: create on a pooled stack, resume, yield, finish, free.
 *
 * DESIGN
 * The coroutine record (and any extra bytes an owner such as a task asks for)
 * sits at the top of the coroutine's own stack, so creating one allocates
 * nothing once the thread's stack cache is warm. Resuming saves the caller's
 * context in the record and switches; yielding switches back. The body runs
 * under an entry function that stores the result and switches out for the
 * last time, so a body that returns finishes cleanly. Sanitizers are told
 * about every switch, or they would mistake the new stack for an overflow.
 */
#include <assert.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

#include "coro_internal.h"

#if defined(AW__ASAN)
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(AW__TSAN)
#include <sanitizer/tsan_interface.h>
#endif

#if !defined(AW_CORO_UCONTEXT) && defined(__x86_64__)
_Static_assert(offsetof(struct aw__ctx, rsp) == 0, "switch_x86_64.S offsets");
_Static_assert(offsetof(struct aw__ctx, rbx) == 8, "switch_x86_64.S offsets");
_Static_assert(offsetof(struct aw__ctx, rbp) == 16, "switch_x86_64.S offsets");
_Static_assert(offsetof(struct aw__ctx, r12) == 24, "switch_x86_64.S offsets");
_Static_assert(offsetof(struct aw__ctx, r15) == 48, "switch_x86_64.S offsets");
_Static_assert(offsetof(struct aw__ctx, mxcsr) == 56, "switch_x86_64.S offsets");
_Static_assert(offsetof(struct aw__ctx, fpucw) == 60, "switch_x86_64.S offsets");
#elif !defined(AW_CORO_UCONTEXT) && defined(__aarch64__)
_Static_assert(offsetof(struct aw__ctx, sp) == 0, "switch_aarch64.S offsets");
_Static_assert(offsetof(struct aw__ctx, x19_x28) == 8, "switch_aarch64.S offsets");
_Static_assert(offsetof(struct aw__ctx, x29) == 88, "switch_aarch64.S offsets");
_Static_assert(offsetof(struct aw__ctx, x30) == 96, "switch_aarch64.S offsets");
_Static_assert(offsetof(struct aw__ctx, d8_d15) == 104, "switch_aarch64.S offsets");
_Static_assert(offsetof(struct aw__ctx, fpcr) == 168, "switch_aarch64.S offsets");
#endif

/* initial-exec: the overflow handler reads it inside a signal handler. */
static _Thread_local aw_coro_t *tl_current __attribute__((tls_model("initial-exec")));
static atomic_uint_fast64_t g_next_id = 1;

#if !defined(AW_CORO_UCONTEXT)
AW__HIDDEN void aw__ctx_trampoline(void);

void aw__ctx_init(struct aw__ctx *ctx, char *lo, char *top, void (*entry)(aw_coro_t *),
                  aw_coro_t *c) {
    (void)lo;
    uintptr_t t = (uintptr_t)top & ~(uintptr_t)15;
    memset(ctx, 0, sizeof(*ctx));
#if defined(__x86_64__)
    /* The switch "returns" into the trampoline; the slot it pops sits 8
     * bytes below a 16-byte boundary, so the trampoline's call enters
     * `entry` with the stack aligned as the ABI demands. */
    void **sp = (void **)(t - 8);
    *sp = (void *)aw__ctx_trampoline;
    ctx->rsp = sp;
    ctx->rbx = c;
    ctx->r12 = (void *)entry;
    /* Inherit the creating thread's floating-point modes. */
    __asm__ volatile("stmxcsr %0" : "=m"(ctx->mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(ctx->fpucw));
#else
    ctx->sp = (void *)t;
    ctx->x30 = (void *)aw__ctx_trampoline;
    ctx->x19_x28[0] = c;
    ctx->x19_x28[1] = (void *)entry;
    uint64_t fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    ctx->fpcr = fpcr;
#endif
}
#endif

static _Noreturn void coro_entry(aw_coro_t *c) {
#if defined(AW__ASAN)
    __sanitizer_finish_switch_fiber(NULL, &c->caller_bottom, &c->caller_size);
#endif
    c->result = c->fn(c->arg);
    c->state = AW__CORO_DONE;
#if defined(AW__ASAN)
    /* NULL: this fiber is gone, ASan may drop its fake stack. */
    __sanitizer_start_switch_fiber(NULL, c->caller_bottom, c->caller_size);
#endif
#if defined(AW__TSAN)
    __tsan_switch_to_fiber(c->tsan_caller, 0);
#endif
    aw__ctx_switch(&c->ctx, &c->caller);
    __builtin_unreachable();
}

aw_coro_t *aw__coro_new_ex(aw_coro_fn fn, void *arg, size_t extra, void **extra_out) {
    struct aw__stack s;
    aw__stack_thread_init();
    if (aw__stack_get(&s) < 0)
        return NULL;
    size_t cs = (sizeof(aw_coro_t) + 15) & ~(size_t)15;
    size_t xs = (extra + 15) & ~(size_t)15;
    aw_coro_t *c = (aw_coro_t *)(void *)(s.hi - cs);
    char *x = s.hi - cs - xs;
    memset(c, 0, offsetof(aw_coro_t, stack));
    c->fn = fn;
    c->arg = arg;
    c->id = atomic_fetch_add_explicit(&g_next_id, 1, memory_order_relaxed);
    c->stack = s;
    c->state = AW__CORO_NEW;
#if defined(AW__ASAN)
    c->asan_fake = c->caller_fake = NULL;
    c->caller_bottom = NULL;
    c->caller_size = 0;
#endif
#if defined(AW__TSAN)
    c->tsan_fiber = __tsan_create_fiber(0);
    c->tsan_caller = NULL;
#endif
    aw__ctx_init(&c->ctx, s.lo, x, coro_entry, c);
    if (extra_out)
        *extra_out = xs ? x : NULL;
    return c;
}

aw_coro_t *aw_coro_new(aw_coro_fn fn, void *arg) {
    return aw__coro_new_ex(fn, arg, 0, NULL);
}

void aw_coro_resume(aw_coro_t *c) {
    assert(c->state == AW__CORO_NEW || c->state == AW__CORO_PAUSED);
    c->prev = tl_current;
    tl_current = c;
    c->state = AW__CORO_RUNNING;
#if defined(AW__ASAN)
    __sanitizer_start_switch_fiber(&c->caller_fake, c->stack.lo, (size_t)(c->stack.hi - c->stack.lo));
#endif
#if defined(AW__TSAN)
    c->tsan_caller = __tsan_get_current_fiber();
    __tsan_switch_to_fiber(c->tsan_fiber, 0);
#endif
    aw__ctx_switch(&c->caller, &c->ctx);
#if defined(AW__ASAN)
    __sanitizer_finish_switch_fiber(c->caller_fake, NULL, NULL);
#endif
    tl_current = c->prev;
    if (__builtin_expect(!aw__stack_canary_ok(&c->stack), 0))
        aw__coro_overflow(c, "the canary at the stack's low end was overwritten");
}

void aw_coro_yield(void) {
    aw_coro_t *c = tl_current;
    assert(c != NULL && "aw_coro_yield() outside a coroutine");
    c->state = AW__CORO_PAUSED;
#if defined(AW__ASAN)
    __sanitizer_start_switch_fiber(&c->asan_fake, c->caller_bottom, c->caller_size);
#endif
#if defined(AW__TSAN)
    __tsan_switch_to_fiber(c->tsan_caller, 0);
#endif
    aw__ctx_switch(&c->ctx, &c->caller);
#if defined(AW__ASAN)
    __sanitizer_finish_switch_fiber(c->asan_fake, &c->caller_bottom, &c->caller_size);
#endif
}

aw_coro_t *aw_coro_current(void) {
    return tl_current;
}

bool aw_coro_done(const aw_coro_t *c) {
    return c->state == AW__CORO_DONE;
}

void *aw_coro_result(const aw_coro_t *c) {
    return c->state == AW__CORO_DONE ? c->result : NULL;
}

uint64_t aw_coro_id(const aw_coro_t *c) {
    return c->id;
}

void aw_coro_set_name(aw_coro_t *c, const char *name) {
    c->name = name;
}

const char *aw_coro_name(const aw_coro_t *c) {
    return c->name;
}

void aw_coro_free(aw_coro_t *c) {
    if (!c)
        return;
    assert(c->state != AW__CORO_RUNNING && "freeing a running coroutine");
    if (!aw__stack_canary_ok(&c->stack))
        aw__coro_overflow(c, "the canary at the stack's low end was overwritten");
#if defined(AW__TSAN)
    __tsan_destroy_fiber(c->tsan_fiber);
#endif
    struct aw__stack s = c->stack;
    aw__stack_put(&s);
}

const char *aw_coro_backend(void) {
#if defined(AW_CORO_UCONTEXT)
    return "ucontext";
#elif defined(__x86_64__)
    return "x86_64";
#else
    return "aarch64";
#endif
}
