/* SPDX-License-Identifier: MIT */
/* Tests for src/coro/coro.c: resume, yield, results, nesting, FP state. */
#include <fenv.h>
#include <stdint.h>

#include "../../../src/coro/coro_internal.h"
#include "../test.h"

static void *count_to_three(void *arg) {
    int *steps = arg;
    for (int i = 0; i < 3; i++) {
        (*steps)++;
        aw_coro_yield();
    }
    return (void *)(uintptr_t)42;
}

TEST(resume_yield_finish) {
    int steps = 0;
    aw_coro_t *c = aw_coro_new(count_to_three, &steps);
    ASSERT_TRUE(c != NULL);
    ASSERT_EQ(steps, 0);
    for (int i = 1; i <= 3; i++) {
        aw_coro_resume(c);
        ASSERT_EQ(steps, i);
        ASSERT_FALSE(aw_coro_done(c));
        ASSERT_PTR_EQ(aw_coro_result(c), NULL);
    }
    aw_coro_resume(c);
    ASSERT_TRUE(aw_coro_done(c));
    ASSERT_EQ((uintptr_t)aw_coro_result(c), 42);
    aw_coro_free(c);
}

static void *who_am_i(void *arg) {
    *(aw_coro_t **)arg = aw_coro_current();
    return NULL;
}

TEST(current_and_ids) {
    ASSERT_PTR_EQ(aw_coro_current(), NULL);
    aw_coro_t *seen = NULL;
    aw_coro_t *a = aw_coro_new(who_am_i, &seen);
    aw_coro_t *b = aw_coro_new(who_am_i, &seen);
    ASSERT_NE(aw_coro_id(a), 0);
    ASSERT_NE(aw_coro_id(a), aw_coro_id(b));
    aw_coro_resume(a);
    ASSERT_PTR_EQ(seen, a);
    ASSERT_PTR_EQ(aw_coro_current(), NULL);
    aw_coro_set_name(b, "bee");
    ASSERT_STR_EQ(aw_coro_name(b), "bee");
    aw_coro_free(a);
    aw_coro_free(b);
    aw_coro_free(NULL);
}

struct nest {
    aw_coro_t *inner, *outer;
    int log[8];
    int n;
};

static void *inner_fn(void *arg) {
    struct nest *ns = arg;
    ns->log[ns->n++] = 2;
    aw_coro_yield();
    ns->log[ns->n++] = 4;
    return NULL;
}

static void *outer_fn(void *arg) {
    struct nest *ns = arg;
    ns->log[ns->n++] = 1;
    aw_coro_resume(ns->inner); /* nested: inner yields back to us, not to main */
    ns->log[ns->n++] = 3;
    aw_coro_resume(ns->inner);
    ASSERT_TRUE(aw_coro_done(ns->inner));
    /* The nested resume handed "current" back to us, not to the thread. */
    ASSERT_PTR_EQ(aw_coro_current(), ns->outer);
    aw_coro_yield();
    ns->log[ns->n++] = 5;
    return NULL;
}

TEST(nested_resume_returns_to_resumer) {
    struct nest ns = {0};
    ns.inner = aw_coro_new(inner_fn, &ns);
    aw_coro_t *outer = aw_coro_new(outer_fn, &ns);
    ns.outer = outer;
    aw_coro_resume(outer);
    ASSERT_EQ(ns.n, 4);
    aw_coro_resume(outer);
    ASSERT_TRUE(aw_coro_done(outer));
    for (int i = 0; i < 5; i++)
        ASSERT_EQ(ns.log[i], i + 1);
    aw_coro_free(ns.inner);
    aw_coro_free(outer);
}

/* Callee-saved registers and FP modes must survive a switch. */
static void *fp_worker(void *arg) {
    double *acc = arg;
    fesetround(FE_DOWNWARD); /* the coroutine's own rounding mode */
    for (int i = 0; i < 4; i++) {
        *acc += 1.0 / 3.0;
        aw_coro_yield();
        ASSERT_EQ(fegetround(), FE_DOWNWARD);
    }
    return NULL;
}

TEST(fp_control_state_is_per_coroutine) {
    double acc = 0;
    fesetround(FE_UPWARD);
    aw_coro_t *c = aw_coro_new(fp_worker, &acc);
    while (!aw_coro_done(c)) {
        aw_coro_resume(c);
        ASSERT_EQ(fegetround(), FE_UPWARD);
    }
    fesetround(FE_TONEAREST);
    aw_coro_free(c);
}

static void *deep(void *arg) {
    /* Uses a fair part of the stack, with values live across yields. */
    volatile char buf[16 * 1024];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (char)i;
    aw_coro_yield();
    long sum = 0;
    for (size_t i = 0; i < sizeof(buf); i++)
        sum += (unsigned char)buf[i];
    *(long *)arg = sum;
    return NULL;
}

TEST(stack_contents_survive_switches_and_reuse) {
    long expect = 0;
    for (size_t i = 0; i < 16 * 1024; i++)
        expect += (unsigned char)(char)i;
    for (int round = 0; round < 3; round++) {
        long sums[8] = {0};
        aw_coro_t *cs[8];
        for (int i = 0; i < 8; i++)
            cs[i] = aw_coro_new(deep, &sums[i]);
        for (int i = 0; i < 8; i++)
            aw_coro_resume(cs[i]);
        for (int i = 7; i >= 0; i--)
            aw_coro_resume(cs[i]);
        for (int i = 0; i < 8; i++) {
            ASSERT_EQ(sums[i], expect);
            aw_coro_free(cs[i]);
        }
    }
}

TEST(backend_is_named) {
    const char *b = aw_coro_backend();
#if defined(AW_CORO_UCONTEXT)
    ASSERT_STR_EQ(b, "ucontext");
#elif defined(__x86_64__)
    ASSERT_STR_EQ(b, "x86_64");
#else
    ASSERT_STR_EQ(b, "aarch64");
#endif
}

TEST(free_before_first_resume) {
    int steps = 0;
    aw_coro_t *c = aw_coro_new(count_to_three, &steps);
    aw_coro_free(c);
    ASSERT_EQ(steps, 0);
}
