/* SPDX-License-Identifier: MIT */
/* Tests for src/coro/stack.c: guard pages, slabs past the budget, overflow reports, reuse. */
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <stdbool.h>
#include <unistd.h>

#include "../../../src/coro/coro_internal.h"
#include "../test.h"

static void *noop(void *arg) {
    (void)arg;
    aw_coro_yield();
    return NULL;
}

static size_t count_maps(void) {
    FILE *f = fopen("/proc/self/maps", "r");
    size_t n = 0;
    int ch;
    while ((ch = fgetc(f)) != EOF)
        n += ch == '\n';
    fclose(f);
    return n;
}

TEST(default_config) {
    aw_coro_config_t cfg;
    aw_coro_get_config(&cfg);
    ASSERT_EQ(cfg.stack_size, 64 * 1024);
    ASSERT_GT(cfg.guard_budget, 1000);
    ASSERT_EQ(cfg.cache_max, 512);
    aw_coro_config_t bad = {.stack_size = 4096};
    ASSERT_EQ(aw_coro_configure(&bad), AW_EINVAL);
}

/* 100,000 suspended coroutines at the default vm.max_map_count. */
static void hundred_thousand(void) {
    enum { N = 100000 };
    aw_coro_config_t cfg;
    aw_coro_get_config(&cfg);
    bool madv = aw__stack_madvise_guards();
    aw_coro_t **cs = malloc(N * sizeof(*cs));
    size_t maps_before = count_maps();
    size_t guarded_stacks = 0;
    for (int i = 0; i < N; i++) {
        cs[i] = aw_coro_new(noop, NULL);
        ASSERT_TRUE(cs[i] != NULL);
        guarded_stacks += cs[i]->stack.guarded;
        aw_coro_resume(cs[i]);
    }
    size_t mapped, slab;
    aw__stack_counts(&mapped, &slab);
    ASSERT_EQ(mapped + slab, N);
    size_t maps = count_maps() - maps_before;
    if (madv) {
        /* Every stack guarded, 64 to a mapping. */
        ASSERT_EQ(guarded_stacks, N);
        ASSERT_EQ(mapped, 0);
        ASSERT_LE(maps, N / 64 + 64);
    } else {
        /* Guarded mappings (two each) up to the budget, canary slabs beyond. */
        ASSERT_EQ(mapped, cfg.guard_budget < N ? cfg.guard_budget : N);
        ASSERT_EQ(guarded_stacks, mapped);
        ASSERT_LE(maps, 2 * mapped + slab / 64 + 64);
    }
    for (int i = 0; i < N; i++) {
        aw_coro_resume(cs[i]);
        ASSERT_TRUE(aw_coro_done(cs[i]));
        aw_coro_free(cs[i]);
    }
    free(cs);
    aw__stack_counts(&mapped, &slab);
    /* Only the per-thread cache is left. */
    ASSERT_LE(mapped + slab, cfg.cache_max);
}

TEST(hundred_thousand_suspended_coroutines) {
    hundred_thousand();
}

TEST(hundred_thousand_suspended_coroutines_mprotect_fallback) {
    setenv("AW_STACK_GUARDS", "mprotect", 1); /* as on kernels before 6.13 */
    hundred_thousand();
    ASSERT_FALSE(aw__stack_madvise_guards());
}

TEST(small_budget_uses_slabs) {
    setenv("AW_STACK_GUARDS", "mprotect", 1);
    aw_coro_config_t cfg = {.guard_budget = 4, .cache_max = 1};
    ASSERT_EQ(aw_coro_configure(&cfg), 0);
    aw_coro_t *cs[200];
    for (int i = 0; i < 200; i++)
        cs[i] = aw_coro_new(noop, NULL);
    size_t mapped, slab;
    aw__stack_counts(&mapped, &slab);
    ASSERT_EQ(mapped, 4);
    ASSERT_EQ(slab, 196);
    for (int i = 0; i < 200; i++)
        aw_coro_free(cs[i]);
    aw__stack_counts(&mapped, &slab);
    ASSERT_EQ(mapped + slab, 1);
}

static int recurse(int depth) {
    volatile char pad[512];
    pad[0] = (char)depth;
    return depth > 1000000 ? pad[0] : recurse(depth + 1) + pad[0];
}

static void *overflow_fn(void *arg) {
    (void)arg;
    return (void *)(intptr_t)recurse(0);
}

static void overflow_child(void *arg) {
    if (arg)
        setenv("AW_STACK_GUARDS", arg, 1);
    aw_coro_t *c = aw_coro_new(overflow_fn, NULL);
    aw_coro_set_name(c, "greedy");
    aw_coro_resume(c);
}

static void check_overflow_report(const char *mode) {
    if (test_under_sanitizer())
        return; /* ASan reports the overflow itself; TSan intercepts signals */
    char out[1024];
    int st = test_run_child(overflow_child, (void *)mode, out, sizeof(out));
    ASSERT_TRUE(WIFSIGNALED(st));
    ASSERT_EQ(WTERMSIG(st), SIGABRT);
    ASSERT_CONTAINS(out, "coroutine stack overflow");
    ASSERT_CONTAINS(out, "(greedy)");
    ASSERT_CONTAINS(out, "guard page");
}

TEST(guard_page_overflow_is_reported) {
    check_overflow_report(NULL);
}

TEST(guard_page_overflow_is_reported_mprotect_fallback) {
    check_overflow_report("mprotect");
}

static void *smash_fn(void *arg) {
    /* An overflow that did not fault, as in a slab: the canary catches it. */
    aw_coro_t *self = aw_coro_current();
    (void)arg;
    ((volatile uint64_t *)(void *)self->stack.lo)[-1] = 0;
    aw_coro_yield();
    return NULL;
}

static void canary_child(void *arg) {
    (void)arg;
    setenv("AW_STACK_GUARDS", "mprotect", 1);
    aw_coro_config_t cfg = {.guard_budget = 1};
    aw_coro_configure(&cfg);
    aw_coro_t *first = aw_coro_new(noop, NULL); /* takes the one guarded stack */
    aw_coro_t *c = aw_coro_new(smash_fn, NULL);
    ASSERT_EQ(c->stack.guarded, 0);
    aw_coro_set_name(c, "smasher");
    aw_coro_resume(c);
    aw_coro_free(first);
}

TEST(slab_overflow_is_caught_by_canary) {
    char out[1024];
    int st = test_run_child(canary_child, NULL, out, sizeof(out));
    ASSERT_TRUE(WIFSIGNALED(st));
    ASSERT_EQ(WTERMSIG(st), SIGABRT);
    ASSERT_CONTAINS(out, "coroutine stack overflow");
    ASSERT_CONTAINS(out, "(smasher)");
    ASSERT_CONTAINS(out, "canary");
}

static void *touch(void *arg) {
    *(char **)arg = (char *)__builtin_frame_address(0);
    return NULL;
}

TEST(freed_stacks_are_reused) {
    char *a = NULL, *b = NULL;
    aw_coro_t *c = aw_coro_new(touch, &a);
    aw_coro_resume(c);
    aw_coro_free(c);
    c = aw_coro_new(touch, &b);
    aw_coro_resume(c);
    aw_coro_free(c);
    ASSERT_PTR_EQ(a, b);
}

TEST(custom_stack_size) {
    aw_coro_config_t cfg = {.stack_size = 256 * 1024};
    ASSERT_EQ(aw_coro_configure(&cfg), 0);
    aw_coro_t *c = aw_coro_new(noop, NULL);
    ASSERT_EQ((size_t)(c->stack.hi - c->stack.lo), 256 * 1024 - (size_t)sysconf(_SC_PAGESIZE));
    aw_coro_free(c);
}
