/* SPDX-License-Identifier: MIT */
/* Tests for src/loop/timers.c: deadline order, ties, repeat, stop, many timers. */
#include <stdint.h>

#include "../../../src/loop/loop_internal.h"
#include "../test.h"

struct rec {
    aw_timer_t timer;
    int id;
    int *log;
    int *n;
    int fired;
    int stop_after;
};

static void on_fire(aw_timer_t *t) {
    struct rec *r = t->data;
    r->log[(*r->n)++] = r->id;
    r->fired++;
    if (r->stop_after && r->fired == r->stop_after)
        aw_timer_stop(t);
}

TEST(timers_fire_in_deadline_order_ties_in_start_order) {
    aw_loop_t *loop = aw_loop_new();
    int log[16], n = 0;
    struct rec r[6];
    uint64_t ms[6] = {30, 10, 20, 10, 0, 20};
    for (int i = 0; i < 6; i++) {
        r[i] = (struct rec){.id = i, .log = log, .n = &n};
        aw_timer_init(loop, &r[i].timer);
        r[i].timer.data = &r[i];
        ASSERT_EQ(aw_timer_start(&r[i].timer, on_fire, ms[i], 0), 0);
        ASSERT_TRUE(aw_timer_active(&r[i].timer));
    }
    /* Overwrite the clock so equal milliseconds give equal deadlines. */
    for (int i = 0; i < 6; i++) {
        aw_timer_stop(&r[i].timer);
        aw__timer_start_at(&r[i].timer, on_fire, aw_now_ns() / 1000000 * 1000000 + ms[i] * 1000000);
    }
    ASSERT_EQ(aw_loop_run(loop), 0);
    int expect[6] = {4, 1, 3, 2, 5, 0};
    ASSERT_EQ(n, 6);
    for (int i = 0; i < 6; i++)
        ASSERT_EQ(log[i], expect[i]);
    ASSERT_EQ(aw_loop_free(loop), 0);
}

TEST(repeat_and_stop) {
    aw_loop_t *loop = aw_loop_new();
    int log[16], n = 0;
    struct rec r = {.id = 1, .log = log, .n = &n, .stop_after = 3};
    aw_timer_init(loop, &r.timer);
    r.timer.data = &r;
    uint64_t start = aw_now_ns();
    ASSERT_EQ(aw_timer_start(&r.timer, on_fire, 5, 5), 0);
    ASSERT_EQ(aw_loop_free(loop), AW_EBUSY); /* an active timer holds it */
    aw_loop_run(loop);
    ASSERT_EQ(r.fired, 3);
    ASSERT_FALSE(aw_timer_active(&r.timer));
    uint64_t ms = (aw_now_ns() - start) / 1000000;
    ASSERT_GE(ms, 14);
    ASSERT_LT(ms, 1000);
    ASSERT_EQ(aw_timer_start(&r.timer, NULL, 1, 0), AW_EINVAL);
    ASSERT_EQ(aw_loop_free(loop), 0);
}

TEST(restart_moves_and_stop_cancels) {
    aw_loop_t *loop = aw_loop_new();
    int log[16], n = 0;
    struct rec a = {.id = 1, .log = log, .n = &n}, b = {.id = 2, .log = log, .n = &n};
    aw_timer_init(loop, &a.timer);
    aw_timer_init(loop, &b.timer);
    a.timer.data = &a;
    b.timer.data = &b;
    aw_timer_start(&a.timer, on_fire, 1, 0);
    aw_timer_start(&b.timer, on_fire, 5, 0);
    aw_timer_start(&a.timer, on_fire, 10, 0); /* moved after b */
    aw_timer_stop(&b.timer);
    aw_timer_stop(&b.timer); /* twice is fine */
    aw_loop_run(loop);
    ASSERT_EQ(n, 1);
    ASSERT_EQ(log[0], 1);
    ASSERT_EQ(aw_loop_free(loop), 0);
}

static int g_order_ok = 1;
static uint64_t g_last;

static void check_order(aw_timer_t *t) {
    if (t->_due_ns < g_last)
        g_order_ok = 0;
    g_last = t->_due_ns;
}

TEST(fifty_thousand_timers_stay_ordered) {
    enum { N = 50000 };
    aw_loop_t *loop = aw_loop_new();
    aw_timer_t *ts = calloc(N, sizeof(*ts));
    uint32_t seed = 12345;
    for (int i = 0; i < N; i++) {
        seed = seed * 1103515245u + 12345u;
        aw_timer_init(loop, &ts[i]);
        aw_timer_start(&ts[i], check_order, (seed >> 16) % 50, 0);
    }
    /* Stop a third of them, from the middle of the heap. */
    for (int i = 0; i < N; i += 3)
        aw_timer_stop(&ts[i]);
    aw_loop_run(loop);
    ASSERT_TRUE(g_order_ok);
    for (int i = 0; i < N; i++)
        ASSERT_FALSE(aw_timer_active(&ts[i]));
    ASSERT_EQ(aw_loop_free(loop), 0);
    free(ts);
}
