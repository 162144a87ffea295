/* SPDX-License-Identifier: MIT */
/* Tests for src/loop/task.c: await, ordering, gather, cancel, timeouts, deadlines, groups. */
#include <stdint.h>

#include "../../../src/loop/loop_internal.h"
#include "../test.h"

#define I2P(i) ((void *)(intptr_t)(i))
#define P2I(p) ((int)(intptr_t)(p))

static void *ret_arg(void *arg) {
    return arg;
}

static void *await_one(void *arg) {
    (void)arg;
    aw_task_t *t = aw_async(ret_arg, I2P(7));
    return aw_await(t);
}

TEST(await_returns_result) {
    void *r = NULL;
    ASSERT_EQ(aw_run(await_one, NULL, &r), 0);
    ASSERT_EQ(P2I(r), 7);
}

/* ---- wake-up order ---- */

struct log {
    int v[64];
    int n;
};

struct sleeper {
    struct log *log;
    int id;
    int ms;
};

static void *sleep_then_log(void *arg) {
    struct sleeper *s = arg;
    ASSERT_EQ(aw_sleep_ms((uint64_t)s->ms), 0);
    s->log->v[s->log->n++] = s->id;
    return NULL;
}

static void *sleepers_main(void *arg) {
    struct log *log = arg;
    /* Started in one order, due in another; equal deadlines keep start order. */
    static struct sleeper s[6];
    int ms[6] = {50, 10, 30, 10, 0, 30};
    aw_task_t *t[6];
    for (int i = 0; i < 6; i++) {
        s[i] = (struct sleeper){log, i, ms[i]};
        t[i] = aw_async(sleep_then_log, &s[i]);
    }
    ASSERT_EQ(aw_gather(t, 6, NULL), 0);
    return NULL;
}

TEST(sleepers_wake_in_deadline_order) {
    struct log log = {0};
    ASSERT_EQ(aw_run(sleepers_main, &log, NULL), 0);
    int expect[6] = {4, 1, 3, 2, 5, 0};
    ASSERT_EQ(log.n, 6);
    for (int i = 0; i < 6; i++)
        ASSERT_EQ(log.v[i], expect[i]);
}

static void *yielder(void *arg) {
    struct sleeper *s = arg;
    for (int i = 0; i < 3; i++) {
        s->log->v[s->log->n++] = s->id * 10 + i;
        ASSERT_EQ(aw_yield(), 0);
    }
    return NULL;
}

static void *yield_main(void *arg) {
    struct sleeper s[2] = {{arg, 1, 0}, {arg, 2, 0}};
    aw_task_t *t[2] = {aw_async(yielder, &s[0]), aw_async(yielder, &s[1])};
    return I2P(aw_gather(t, 2, NULL));
}

TEST(ready_tasks_run_fifo_and_yield_interleaves) {
    struct log log = {0};
    ASSERT_EQ(aw_run(yield_main, &log, NULL), 0);
    int expect[6] = {10, 20, 11, 21, 12, 22};
    ASSERT_EQ(log.n, 6);
    for (int i = 0; i < 6; i++)
        ASSERT_EQ(log.v[i], expect[i]);
}

/* ---- nesting ---- */

static void *depth(void *arg) {
    int n = P2I(arg);
    if (n == 0)
        return I2P(0);
    aw_sleep_ms(0);
    aw_task_t *t = aw_async(depth, I2P(n - 1));
    return I2P(P2I(aw_await(t)) + 1);
}

TEST(nested_awaits) {
    void *r;
    ASSERT_EQ(aw_run(depth, I2P(200), &r), 0);
    ASSERT_EQ(P2I(r), 200);
}

/* ---- gather ---- */

static void *fail_after(void *arg) {
    aw_sleep_ms((uint64_t)P2I(arg));
    return aw_fail(AW_EIO);
}

static void *gather_main(void *arg) {
    (void)arg;
    uint64_t start = aw_now_ns();
    aw_task_t *t[3] = {aw_async(ret_arg, I2P(1)), aw_async(fail_after, I2P(20)),
                       aw_async(sleep_then_log, NULL)};
    /* third gets a sleeper record */
    static struct log log;
    static struct sleeper s = {&log, 9, 30};
    aw_cancel(t[2]); /* never started: it never runs */
    t[2] = aw_async(sleep_then_log, &s);
    void *res[3];
    int rc = aw_gather(t, 3, res);
    ASSERT_EQ(rc, AW_EIO);
    ASSERT_EQ(P2I(res[0]), 1);
    ASSERT_PTR_EQ(res[1], NULL);
    ASSERT_EQ(log.n, 1); /* the third one ran to its end concurrently */
    uint64_t took = (aw_now_ns() - start) / 1000000;
    ASSERT_GE(took, 30);
    ASSERT_LT(took, 300);
    return NULL;
}

TEST(gather_returns_first_failure_and_all_results) {
    ASSERT_EQ(aw_run(gather_main, NULL, NULL), 0);
}

/* ---- cancellation ---- */

struct cleanup {
    int rc;
    int cleaned;
    int after;
};

static void *sleep_long(void *arg) {
    struct cleanup *c = arg;
    c->rc = aw_sleep_ms(10000);
    c->cleaned = 1;
    /* Sticky: later suspension points fail at once. */
    c->after = aw_sleep_ms(10000);
    return I2P(5);
}

static void *cancel_sleep_main(void *arg) {
    struct cleanup *c = arg;
    aw_task_t *t = aw_async(sleep_long, c);
    aw_sleep_ms(5);
    aw_cancel(t);
    void *r;
    uint64_t start = aw_now_ns();
    ASSERT_EQ(aw_await_status(t, &r), AW_ECANCELED);
    ASSERT_LT(aw_now_ns() - start, 1000000000u);
    ASSERT_EQ(P2I(r), 5); /* the result is still handed over */
    return NULL;
}

TEST(cancel_at_sleep_unwinds_normally) {
    struct cleanup c = {0};
    ASSERT_EQ(aw_run(cancel_sleep_main, &c, NULL), 0);
    ASSERT_EQ(c.rc, AW_ECANCELED);
    ASSERT_EQ(c.cleaned, 1);
    ASSERT_EQ(c.after, AW_ECANCELED);
}

static void *never(void *arg) {
    *(int *)arg = 1;
    return NULL;
}

static void *cancel_unstarted_main(void *arg) {
    aw_task_t *t = aw_async(never, arg);
    aw_cancel(t);
    ASSERT_EQ(aw_await_status(t, NULL), AW_ECANCELED);
    return NULL;
}

TEST(cancelled_before_start_never_runs) {
    int ran = 0;
    ASSERT_EQ(aw_run(cancel_unstarted_main, &ran, NULL), 0);
    ASSERT_EQ(ran, 0);
}

static void *finish_quietly(void *arg) {
    (void)arg;
    return I2P(3);
}

static void *cancel_done_main(void *arg) {
    (void)arg;
    aw_task_t *t = aw_async(finish_quietly, NULL);
    aw_sleep_ms(1);
    ASSERT_TRUE(aw_task_done(t));
    aw_cancel(t); /* too late: a no-op */
    void *r;
    ASSERT_EQ(aw_await_status(t, &r), 0);
    ASSERT_EQ(P2I(r), 3);
    return NULL;
}

TEST(cancel_after_finish_is_a_noop) {
    ASSERT_EQ(aw_run(cancel_done_main, NULL, NULL), 0);
}

static void *inner_sleeper(void *arg) {
    struct cleanup *c = arg;
    c->rc = aw_sleep_ms(10000);
    c->cleaned = 1;
    return NULL;
}

static void *middle(void *arg) {
    aw_task_t *t = aw_async(inner_sleeper, arg);
    return I2P(aw_await_status(t, NULL));
}

static void *cancel_await_main(void *arg) {
    aw_task_t *m = aw_async(middle, arg);
    aw_sleep_ms(5);
    aw_cancel(m);
    void *r;
    ASSERT_EQ(aw_await_status(m, &r), AW_ECANCELED);
    ASSERT_EQ(P2I(r), AW_ECANCELED); /* middle's await reported it */
    return NULL;
}

TEST(cancel_at_await_cancels_the_awaited_task) {
    struct cleanup c = {0};
    ASSERT_EQ(aw_run(cancel_await_main, &c, NULL), 0);
    ASSERT_EQ(c.rc, AW_ECANCELED); /* propagated down: no orphan */
    ASSERT_EQ(c.cleaned, 1);
}

static void *self_cancel(void *arg) {
    (void)arg;
    aw_cancel(aw_task_current());
    ASSERT_TRUE(aw_cancelled());
    ASSERT_EQ(aw_yield(), AW_ECANCELED);
    return NULL;
}

TEST(self_cancel_fails_next_suspension) {
    ASSERT_EQ(aw_run(self_cancel, NULL, NULL), AW_ECANCELED);
}

/* ---- timeouts and deadlines ---- */

static void *timeout_main(void *arg) {
    struct cleanup *c = arg;
    aw_task_t *t = aw_async(inner_sleeper, c);
    uint64_t start = aw_now_ns();
    ASSERT_EQ(aw_await_timeout(t, 20, NULL), AW_ETIMEDOUT);
    uint64_t ms = (aw_now_ns() - start) / 1000000;
    ASSERT_GE(ms, 19);
    ASSERT_LT(ms, 500);
    ASSERT_EQ(c->cleaned, 1); /* cancelled and awaited before we got here */
    /* A task that finishes in time gives its result. */
    aw_task_t *q = aw_async(ret_arg, I2P(11));
    void *r;
    ASSERT_EQ(aw_await_timeout(q, 1000, &r), 0);
    ASSERT_EQ(P2I(r), 11);
    /* After a timeout the deadline is gone: we can sleep again. */
    ASSERT_EQ(aw_sleep_ms(1), 0);
    return NULL;
}

TEST(await_timeout_cancels_and_reaps) {
    struct cleanup c = {0};
    ASSERT_EQ(aw_run(timeout_main, &c, NULL), 0);
    ASSERT_EQ(c.rc, AW_ECANCELED);
}

static void *deadline_main(void *arg) {
    (void)arg;
    aw_deadline_t outer, inner;
    uint64_t start = aw_now_ns();
    aw_deadline_enter(&outer, 30);
    ASSERT_EQ(aw_sleep_ms(10), 0);
    ASSERT_EQ(aw_sleep_ms(10), 0);
    aw_deadline_enter(&inner, 1000); /* the outer, earlier deadline rules */
    ASSERT_EQ(aw_sleep_ms(100), AW_ETIMEDOUT);
    ASSERT_FALSE(aw_deadline_exit(&inner));
    ASSERT_EQ(aw_sleep_ms(1), AW_ETIMEDOUT); /* expired: at once */
    ASSERT_EQ(aw_yield(), AW_ETIMEDOUT);
    ASSERT_TRUE(aw_deadline_exit(&outer));
    uint64_t ms = (aw_now_ns() - start) / 1000000;
    ASSERT_GE(ms, 29);
    ASSERT_LT(ms, 500);
    ASSERT_EQ(aw_sleep_ms(1), 0); /* scope closed */
    aw_deadline_enter(&outer, 1000);
    aw_deadline_enter(&inner, 5); /* an inner, earlier one */
    ASSERT_EQ(aw_sleep_ms(100), AW_ETIMEDOUT);
    ASSERT_TRUE(aw_deadline_exit(&inner));
    ASSERT_EQ(aw_sleep_ms(1), 0); /* the outer one has time left */
    ASSERT_FALSE(aw_deadline_exit(&outer));
    return NULL;
}

TEST(deadline_scopes_cover_several_awaits_and_nest) {
    ASSERT_EQ(aw_run(deadline_main, NULL, NULL), 0);
}

/* ---- groups ---- */

struct child {
    int ms;
    int status;
    int rc;
    int done;
};

static void *child_fn(void *arg) {
    struct child *c = arg;
    c->rc = aw_sleep_ms((uint64_t)c->ms);
    c->done = 1;
    if (c->status && c->rc == 0)
        return aw_fail(c->status);
    return NULL;
}

static void *group_ok_main(void *arg) {
    struct child *cs = arg;
    aw_group_t g;
    aw_group_init(&g);
    for (int i = 0; i < 4; i++)
        ASSERT_EQ(aw_group_spawn(&g, child_fn, &cs[i]), 0);
    ASSERT_EQ(aw_group_wait(&g), 0);
    for (int i = 0; i < 4; i++)
        ASSERT_EQ(cs[i].done, 1);
    return NULL;
}

TEST(group_waits_for_all_children) {
    struct child cs[4] = {{5, 0, 0, 0}, {1, 0, 0, 0}, {10, 0, 0, 0}, {0, 0, 0, 0}};
    ASSERT_EQ(aw_run(group_ok_main, cs, NULL), 0);
}

static void *group_fail_main(void *arg) {
    struct child *cs = arg;
    aw_group_t g;
    aw_group_init(&g);
    for (int i = 0; i < 3; i++)
        aw_group_spawn(&g, child_fn, &cs[i]);
    uint64_t start = aw_now_ns();
    ASSERT_EQ(aw_group_wait(&g), AW_EIO);
    ASSERT_LT(aw_now_ns() - start, 2000000000u);
    for (int i = 0; i < 3; i++)
        ASSERT_EQ(cs[i].done, 1); /* nobody outlives the group */
    ASSERT_EQ(aw_group_spawn(&g, child_fn, &cs[0]), AW_ECANCELED);
    return NULL;
}

TEST(group_failure_cancels_siblings) {
    struct child cs[3] = {{10000, 0, 0, 0}, {5, AW_EIO, 0, 0}, {10000, 0, 0, 0}};
    ASSERT_EQ(aw_run(group_fail_main, cs, NULL), 0);
    ASSERT_EQ(cs[0].rc, AW_ECANCELED);
    ASSERT_EQ(cs[2].rc, AW_ECANCELED);
}

static void *group_owner(void *arg) {
    struct child *cs = arg;
    aw_group_t g;
    aw_group_init(&g);
    for (int i = 0; i < 2; i++)
        aw_group_spawn(&g, child_fn, &cs[i]);
    return I2P(aw_group_wait(&g));
}

static void *group_cancel_main(void *arg) {
    struct child *cs = arg;
    aw_task_t *owner = aw_async(group_owner, cs);
    aw_sleep_ms(5);
    aw_cancel(owner);
    void *r;
    ASSERT_EQ(aw_await_status(owner, &r), AW_ECANCELED);
    ASSERT_EQ(P2I(r), AW_ECANCELED);
    ASSERT_EQ(cs[0].done + cs[1].done, 2);
    return NULL;
}

TEST(cancelling_the_owner_cancels_the_group) {
    struct child cs[2] = {{10000, 0, 0, 0}, {10000, 0, 0, 0}};
    ASSERT_EQ(aw_run(group_cancel_main, cs, NULL), 0);
    ASSERT_EQ(cs[0].rc, AW_ECANCELED);
    ASSERT_EQ(cs[1].rc, AW_ECANCELED);
}

static void *group_deadline_main(void *arg) {
    struct child *cs = arg;
    aw_deadline_t d;
    aw_deadline_enter(&d, 10);
    aw_group_t g;
    aw_group_init(&g);
    aw_group_spawn(&g, child_fn, &cs[0]);
    ASSERT_EQ(aw_group_wait(&g), AW_ETIMEDOUT);
    ASSERT_TRUE(aw_deadline_exit(&d));
    ASSERT_EQ(cs[0].done, 1);
    return NULL;
}

TEST(group_wait_honours_deadline) {
    struct child cs[1] = {{10000, 0, 0, 0}};
    ASSERT_EQ(aw_run(group_deadline_main, cs, NULL), 0);
    ASSERT_EQ(cs[0].rc, AW_ECANCELED);
}

/* ---- many tasks, detach, aw_run teardown ---- */

static void *tick(void *arg) {
    (*(int *)arg)++;
    aw_sleep_ms(1);
    (*(int *)arg)++;
    return NULL;
}

static void *many_main(void *arg) {
    enum { N = 100000 };
    aw_task_t **ts = malloc(N * sizeof(*ts));
    for (int i = 0; i < N; i++) {
        ts[i] = aw_async(tick, arg);
        ASSERT_TRUE(ts[i] != NULL);
    }
    ASSERT_EQ(aw_loop_alive(aw_loop_current()), N + 1);
    ASSERT_EQ(aw_gather(ts, N, NULL), 0);
    free(ts);
    ASSERT_EQ(aw_loop_alive(aw_loop_current()), 1);
    return NULL;
}

TEST(hundred_thousand_tasks_created_and_finished) {
    int count = 0;
    ASSERT_EQ(aw_run(many_main, &count, NULL), 0);
    ASSERT_EQ(count, 200000);
}

static void *detach_main(void *arg) {
    for (int i = 0; i < 100; i++)
        aw_detach(aw_async(tick, arg));
    aw_task_t *t = aw_async(finish_quietly, NULL);
    aw_sleep_ms(1);
    aw_detach(t); /* already finished: freed at once */
    aw_sleep_ms(20);
    return NULL;
}

TEST(detached_tasks_free_themselves) {
    int count = 0;
    ASSERT_EQ(aw_run(detach_main, &count, NULL), 0);
    ASSERT_EQ(count, 200);
}

static void *leave_behind(void *arg) {
    aw_detach(aw_async(inner_sleeper, arg));
    return I2P(1);
}

TEST(aw_run_cancels_what_main_leaves_behind) {
    struct cleanup c = {0};
    void *r;
    ASSERT_EQ(aw_run(leave_behind, &c, &r), 0);
    ASSERT_EQ(P2I(r), 1);
    ASSERT_EQ(c.rc, AW_ECANCELED);
    ASSERT_EQ(c.cleaned, 1);
}

static void *named(void *arg) {
    (void)arg;
    aw_task_t *t = aw_task_current();
    aw_task_set_name(t, "cashier");
    ASSERT_STR_EQ(aw_coro_name(aw_coro_current()), "cashier");
    ASSERT_EQ(aw_task_id(t), aw_coro_id(aw_coro_current()));
    return NULL;
}

TEST(task_names_and_ids) {
    ASSERT_EQ(aw_run(named, NULL, NULL), 0);
}

/* ---- regressions ---- */

static void count_tick(aw_timer_t *t) {
    (*(int *)t->data)++;
}

static aw_timer_t g_prog_timers[5];
static int g_prog_ticks;

static void *timers_left_running(void *arg) {
    (void)arg;
    /* Program timers, one repeating, plus a detached sleeper whose task
     * timer sits in the same heap: aw_run() must stop all of them. */
    for (int i = 0; i < 5; i++) {
        aw_timer_init(aw_loop_current(), &g_prog_timers[i]);
        g_prog_timers[i].data = &g_prog_ticks;
        aw_timer_start(&g_prog_timers[i], count_tick, 1000 + (uint64_t)i * 10, i == 1 ? 5 : 0);
    }
    aw_detach(aw_async(sleep_long, &(struct cleanup){0}));
    aw_sleep_ms(1);
    return NULL;
}

TEST(aw_run_stops_every_program_timer) {
    ASSERT_EQ(aw_run(timers_left_running, NULL, NULL), 0);
    for (int i = 0; i < 5; i++)
        ASSERT_FALSE(aw_timer_active(&g_prog_timers[i]));
}

static void *yield_then_report(void *arg) {
    (void)arg;
    return I2P(aw_yield());
}

static void *cancel_during_yield_main(void *arg) {
    (void)arg;
    aw_task_t *t = aw_async(yield_then_report, NULL);
    aw_yield(); /* t runs and parks itself with aw_yield; we run first next round */
    aw_cancel(t);
    void *r;
    ASSERT_EQ(aw_await_status(t, &r), AW_ECANCELED);
    ASSERT_EQ(P2I(r), AW_ECANCELED);
    return NULL;
}

TEST(cancel_while_yielded_is_reported) {
    ASSERT_EQ(aw_run(cancel_during_yield_main, NULL, NULL), 0);
}

static void *huge_times_main(void *arg) {
    (void)arg;
    aw_deadline_t d;
    uint64_t start = aw_now_ns();
    aw_deadline_enter(&d, 20);
    /* Must not wrap around into "already due". */
    ASSERT_EQ(aw_sleep_ms(UINT64_MAX / 1000), AW_ETIMEDOUT);
    aw_deadline_exit(&d);
    ASSERT_GE((aw_now_ns() - start) / 1000000, 19);
    aw_deadline_enter(&d, UINT64_MAX);
    ASSERT_EQ(aw_sleep_ms(1), 0);
    ASSERT_FALSE(aw_deadline_exit(&d));
    return NULL;
}

TEST(huge_durations_saturate) {
    ASSERT_EQ(aw_run(huge_times_main, NULL, NULL), 0);
}

static void *spawn_in_cleanup(void *arg) {
    struct cleanup *c = arg;
    c->rc = aw_sleep_ms(10000);
    /* Cleanup code that starts more work while aw_run() tears down. */
    aw_detach(aw_async(inner_sleeper, &c[1]));
    return NULL;
}

static void *leave_spawner(void *arg) {
    aw_detach(aw_async(spawn_in_cleanup, arg));
    aw_sleep_ms(1);
    return NULL;
}

TEST(aw_run_teardown_cancels_tasks_spawned_by_cleanup) {
    struct cleanup c[2] = {{0}, {0}};
    ASSERT_EQ(aw_run(leave_spawner, c, NULL), 0);
    ASSERT_EQ(c[0].rc, AW_ECANCELED);
    ASSERT_EQ(c[1].cleaned, 0); /* started cancelled: never ran */
}

static void *gather_cancel_main(void *arg) {
    struct cleanup *cs = arg;
    aw_task_t *t[3];
    for (int i = 0; i < 3; i++)
        t[i] = aw_async(inner_sleeper, &cs[i]);
    aw_deadline_t d;
    aw_deadline_enter(&d, 10);
    uint64_t start = aw_now_ns();
    ASSERT_EQ(aw_gather(t, 3, NULL), AW_ETIMEDOUT);
    aw_deadline_exit(&d);
    ASSERT_LT(aw_now_ns() - start, 1000000000u);
    return NULL;
}

TEST(interrupted_gather_cancels_all_and_waits) {
    struct cleanup cs[3] = {{0}, {0}, {0}};
    ASSERT_EQ(aw_run(gather_cancel_main, cs, NULL), 0);
    for (int i = 0; i < 3; i++) {
        ASSERT_EQ(cs[i].rc, AW_ECANCELED);
        ASSERT_EQ(cs[i].cleaned, 1);
    }
}

TEST(timer_start_without_callback_changes_nothing) {
    aw_loop_t *loop = aw_loop_new();
    aw_timer_t t;
    int ticks = 0;
    aw_timer_init(loop, &t);
    t.data = &ticks;
    ASSERT_EQ(aw_timer_start(&t, count_tick, 1, 0), 0);
    ASSERT_EQ(aw_timer_start(&t, NULL, 1, 5), AW_EINVAL);
    aw_loop_run(loop);
    ASSERT_EQ(ticks, 1); /* still one-shot */
    ASSERT_EQ(aw_loop_free(loop), 0);
}

/* A shielded cleanup that awaits after a cancel: its sleep completes, and
 * the cancel is reported by the first await after the shield. */
struct shield_rec {
    int during, after;
    uint64_t slept_ms;
};

static void *shielded_cleanup(void *arg) {
    struct shield_rec *r = arg;
    aw_sleep_ms(1000); /* cancelled here */
    aw_shield_enter();
    uint64_t t0 = aw_now_ns();
    r->during = aw_sleep_ms(30);
    r->slept_ms = (aw_now_ns() - t0) / 1000000u;
    aw_shield_exit();
    r->after = aw_sleep_ms(1000);
    return NULL;
}

static void *cancel_then_await(void *arg) {
    aw_task_t *t = aw_async(shielded_cleanup, arg);
    aw_sleep_ms(5);
    aw_cancel(t);
    aw_sleep_ms(5);
    aw_cancel(t); /* a second cancel while shielded must not cut the sleep short either */
    int st = aw_await_status(t, NULL);
    return (void *)(intptr_t)st;
}

TEST(shield_lets_cleanup_await_after_cancel) {
    struct shield_rec r = {-1, -1, 0};
    void *res;
    ASSERT_EQ(aw_run(cancel_then_await, &r, &res), 0);
    ASSERT_EQ(r.during, 0);
    ASSERT_GE(r.slept_ms, 29u);
    ASSERT_EQ(r.after, AW_ECANCELED);
    ASSERT_EQ((int)(intptr_t)res, AW_ECANCELED);
}

static void *shield_ignores_deadline(void *arg) {
    int *out = arg;
    aw_deadline_t d;
    aw_deadline_enter(&d, 5);
    aw_sleep_ms(10); /* the deadline passes */
    aw_shield_enter();
    out[0] = aw_sleep_ms(1);
    aw_shield_exit();
    out[1] = aw_sleep_ms(1);
    aw_deadline_exit(&d);
    return NULL;
}

TEST(shield_ignores_deadline_scopes) {
    int out[2] = {-1, -1};
    ASSERT_EQ(aw_run(shield_ignores_deadline, out, NULL), 0);
    ASSERT_EQ(out[0], 0);
    ASSERT_EQ(out[1], AW_ETIMEDOUT);
}
