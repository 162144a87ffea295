/* SPDX-License-Identifier: MIT */
/* Tests for src/pool/pool.c: run_blocking from tasks, cancel, back-pressure, plain-C jobs. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "../../../src/loop/loop_internal.h"
#include "../test.h"
#include "awaitress/pool.h"

#define I2P(i) ((void *)(intptr_t)(i))
#define P2I(p) ((int)(intptr_t)(p))

static void sleep_real_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static void *square(void *arg) {
    int v = P2I(arg);
    return I2P(v * v);
}

static void *block_ms(void *arg) {
    sleep_real_ms(P2I(arg)); /* a real blocking call, as in a `def` handler */
    return arg;
}

static void *run_one_main(void *arg) {
    (void)arg;
    ASSERT_EQ(P2I(aw_run_blocking(square, I2P(12))), 144);
    void *r;
    ASSERT_EQ(aw_run_blocking_status(square, I2P(5), &r), 0);
    ASSERT_EQ(P2I(r), 25);
    return NULL;
}

TEST(run_blocking_returns_result) {
    ASSERT_EQ(aw_run(run_one_main, NULL, NULL), 0);
    aw_pool_shutdown_default();
}

static void *ticker(void *arg) {
    int *ticks = arg;
    for (int i = 0; i < 20; i++) {
        aw_sleep_ms(5);
        (*ticks)++;
    }
    return NULL;
}

static void *loop_free_main(void *arg) {
    int *ticks = arg;
    aw_task_t *t = aw_async(ticker, ticks);
    /* 150 ms of blocking on the pool; the loop keeps ticking meanwhile. */
    ASSERT_EQ(P2I(aw_run_blocking(block_ms, I2P(150))), 150);
    ASSERT_GE(*ticks, 10);
    aw_await(t);
    return NULL;
}

TEST(loop_keeps_serving_while_pool_blocks) {
    int ticks = 0;
    ASSERT_EQ(aw_run(loop_free_main, &ticks, NULL), 0);
    aw_pool_shutdown_default();
}

struct many {
    atomic_int running, peak;
};

static struct many g_many;

static void *tracked(void *arg) {
    int now = atomic_fetch_add(&g_many.running, 1) + 1;
    int peak = atomic_load(&g_many.peak);
    while (now > peak && !atomic_compare_exchange_weak(&g_many.peak, &peak, now)) {
    }
    sleep_real_ms(20);
    atomic_fetch_sub(&g_many.running, 1);
    return arg;
}

static void *one_job(void *arg) {
    return aw_run_blocking(tracked, arg);
}

static void *many_main(void *arg) {
    (void)arg;
    enum { N = 200 };
    aw_task_t *t[N];
    for (int i = 0; i < N; i++)
        t[i] = aw_async(one_job, I2P(i));
    void *res[N];
    uint64_t start = aw_now_ns();
    ASSERT_EQ(aw_gather(t, N, res), 0);
    for (int i = 0; i < N; i++)
        ASSERT_EQ(P2I(res[i]), i);
    /* 200 jobs of 20 ms on 40 threads: about 5 rounds, far from 200 in a row. */
    uint64_t ms = (aw_now_ns() - start) / 1000000;
    ASSERT_LT(ms, 2000);
    return NULL;
}

TEST(many_concurrent_jobs_use_the_whole_pool) {
    ASSERT_EQ(aw_pool_set_default_size(40), 0);
    ASSERT_EQ(aw_run(many_main, NULL, NULL), 0);
    ASSERT_EQ(atomic_load(&g_many.peak), 40);
    ASSERT_EQ(aw_pool_threads(aw_pool_default()), 40);
    ASSERT_EQ(aw_pool_set_default_size(8), AW_EBUSY);
    aw_pool_shutdown_default();
}

struct cancel_ctx {
    aw_pool_t *pool;
    atomic_int started;
};

static struct cancel_ctx g_cc;

static void *count_start(void *arg) {
    atomic_fetch_add(&g_cc.started, 1);
    sleep_real_ms(P2I(arg));
    return I2P(99);
}

static void *pool_job(void *arg) {
    void *r = NULL;
    int rc = aw_pool_run(g_cc.pool, count_start, arg, &r);
    return I2P(rc == 0 ? P2I(r) : rc * 1000 + (r ? P2I(r) : 0));
}

static void *cancel_main(void *arg) {
    (void)arg;
    /* One thread: the first job runs, the second waits in the queue. */
    aw_task_t *running = aw_async(pool_job, I2P(200));
    aw_task_t *queued = aw_async(pool_job, I2P(50));
    /* Wait for the first job to start (thread creation is slow under TSan),
     * rather than for a fixed time that a loaded machine can overrun. */
    for (int i = 0; i < 2000 && atomic_load(&g_cc.started) == 0; i++)
        aw_sleep_ms(1);
    ASSERT_EQ(atomic_load(&g_cc.started), 1);
    aw_cancel(queued);
    aw_cancel(running);
    void *r;
    ASSERT_EQ(aw_await_status(queued, &r), AW_ECANCELED);
    ASSERT_EQ(P2I(r), AW_ECANCELED * 1000); /* never ran, no result */
    ASSERT_EQ(aw_await_status(running, &r), AW_ECANCELED);
    ASSERT_EQ(P2I(r), AW_ECANCELED * 1000 + 99); /* ran to its end; result kept */
    aw_sleep_ms(60);
    ASSERT_EQ(atomic_load(&g_cc.started), 1); /* the queued job never ran */
    return NULL;
}

TEST(cancel_at_pool_job_queued_and_running) {
    g_cc.pool = aw_pool_new(1, 0);
    ASSERT_EQ(aw_run(cancel_main, NULL, NULL), 0);
    aw_pool_free(g_cc.pool);
}

static void *timeout_main(void *arg) {
    (void)arg;
    aw_deadline_t d;
    aw_deadline_enter(&d, 10);
    void *r = NULL;
    ASSERT_EQ(aw_pool_run(g_cc.pool, count_start, I2P(40), &r), AW_ETIMEDOUT);
    ASSERT_EQ(P2I(r), 99);
    aw_deadline_exit(&d);
    return NULL;
}

TEST(deadline_on_pool_job) {
    g_cc.pool = aw_pool_new(2, 0);
    atomic_store(&g_cc.started, 0);
    ASSERT_EQ(aw_run(timeout_main, NULL, NULL), 0);
    aw_pool_free(g_cc.pool);
}

static void *bp_job(void *arg) {
    void *r = NULL;
    int rc = aw_pool_run(g_cc.pool, block_ms, arg, &r);
    return rc ? I2P(rc) : r;
}

static void *backpressure_main(void *arg) {
    (void)arg;
    /* 2 threads, room for 2 queued jobs: 30 tasks must wait for room in turn. */
    enum { N = 30 };
    aw_task_t *t[N];
    for (int i = 0; i < N; i++)
        t[i] = aw_async(bp_job, I2P(2));
    /* Cancel a few of those waiting for room: the room passes on. */
    aw_sleep_ms(1);
    for (int i = N - 5; i < N; i++)
        aw_cancel(t[i]);
    void *res[N];
    for (int i = 0; i < N - 5; i++) {
        ASSERT_EQ(aw_await_status(t[i], &res[i]), 0);
        ASSERT_EQ(P2I(res[i]), 2);
    }
    for (int i = N - 5; i < N; i++) {
        ASSERT_EQ(aw_await_status(t[i], &res[i]), AW_ECANCELED);
        ASSERT_EQ(P2I(res[i]), AW_ECANCELED);
    }
    return NULL;
}

TEST(bounded_queue_applies_backpressure) {
    g_cc.pool = aw_pool_new(2, 2);
    ASSERT_EQ(aw_run(backpressure_main, NULL, NULL), 0);
    aw_pool_free(g_cc.pool);
}

/* ---- plain C ---- */

static void *spin_sum(void *arg) {
    uint64_t n = (uint64_t)(uintptr_t)arg, acc = 0;
    for (uint64_t i = 0; i < n; i++)
        acc += i ^ (acc >> 3);
    return (void *)(uintptr_t)(acc | 1);
}

TEST(plain_c_map_and_submit) {
    aw_pool_t *pool = aw_pool_new(4, 8);
    enum { N = 64 };
    void *args[N], *res[N];
    for (int i = 0; i < N; i++)
        args[i] = (void *)(uintptr_t)(10000 + i);
    ASSERT_EQ(aw_pool_map(pool, spin_sum, args, res, N), 0);
    for (int i = 0; i < N; i++)
        ASSERT_PTR_EQ(res[i], spin_sum(args[i]));
    aw_work_t w;
    ASSERT_EQ(aw_pool_submit(pool, &w, square, I2P(9)), 0);
    ASSERT_EQ(P2I(aw_pool_wait(pool, &w)), 81);
    ASSERT_LE(aw_pool_threads(pool), 4);
    ASSERT_EQ(aw_pool_size(pool), 4);
    aw_pool_free(pool);
}

TEST(try_submit_reports_full_queue) {
    aw_pool_t *pool = aw_pool_new(1, 1);
    aw_work_t a, b, c;
    ASSERT_EQ(aw_pool_try_submit(pool, &a, block_ms, I2P(30)), 0);
    sleep_real_ms(5); /* a runs; the queue is empty again */
    ASSERT_EQ(aw_pool_try_submit(pool, &b, block_ms, I2P(1)), 0);
    ASSERT_EQ(aw_pool_try_submit(pool, &c, block_ms, I2P(1)), AW_EAGAIN);
    aw_pool_wait(pool, &a);
    aw_pool_wait(pool, &b);
    aw_pool_free(pool);
}

static atomic_int g_done;

static void *count_done(void *arg) {
    sleep_real_ms(1);
    atomic_fetch_add(&g_done, 1);
    return arg;
}

TEST(free_runs_queued_jobs_and_joins) {
    aw_pool_t *pool = aw_pool_new(3, 64);
    aw_work_t w[50];
    for (int i = 0; i < 50; i++)
        ASSERT_EQ(aw_pool_submit(pool, &w[i], count_done, NULL), 0);
    aw_pool_free(pool); /* returns only once all 50 ran and all threads joined */
    ASSERT_EQ(atomic_load(&g_done), 50);
}

struct multi {
    aw_pool_t *pool;
    int sum;
};

static void *loop_thread_main(void *arg) {
    struct multi *m = arg;
    for (int i = 0; i < 200; i++) {
        void *r;
        ASSERT_EQ(aw_pool_run(m->pool, square, I2P(i % 10), &r), 0);
        m->sum += P2I(r);
    }
    return NULL;
}

static void *loop_thread(void *arg) {
    ASSERT_EQ(aw_run(loop_thread_main, arg, NULL), 0);
    return NULL;
}

TEST(several_loops_share_one_pool) {
    aw_pool_t *pool = aw_pool_new(4, 4);
    enum { LOOPS = 4 };
    pthread_t th[LOOPS];
    struct multi m[LOOPS];
    for (int i = 0; i < LOOPS; i++) {
        m[i] = (struct multi){pool, 0};
        pthread_create(&th[i], NULL, loop_thread, &m[i]);
    }
    for (int i = 0; i < LOOPS; i++) {
        pthread_join(th[i], NULL);
        ASSERT_EQ(m[i].sum, 20 * 285);
    }
    aw_pool_free(pool);
}

/* ---- regressions ---- */

static char g_order[16];
static atomic_int g_order_n;

static void *mark(void *arg) {
    int n = atomic_fetch_add(&g_order_n, 1);
    g_order[n] = (char)P2I(arg);
    sleep_real_ms(5);
    return NULL;
}

static void *mark_job(void *arg) {
    ASSERT_EQ(aw_pool_run(g_cc.pool, mark, arg, NULL), 0);
    return NULL;
}

static void *room_fifo_main(void *arg) {
    (void)arg;
    /* One thread and room for one job: '0' runs, '1' queues, 'A' waits for
     * room; 'C' comes later and must not overtake 'A'. */
    aw_task_t *t[4];
    t[0] = aw_async(mark_job, I2P('0'));
    t[1] = aw_async(mark_job, I2P('1'));
    t[2] = aw_async(mark_job, I2P('A'));
    aw_sleep_ms(2);
    t[3] = aw_async(mark_job, I2P('C'));
    ASSERT_EQ(aw_gather(t, 4, NULL), 0);
    return NULL;
}

TEST(room_in_a_full_queue_is_handed_over_in_fifo_order) {
    g_cc.pool = aw_pool_new(1, 1);
    ASSERT_EQ(aw_run(room_fifo_main, NULL, NULL), 0);
    aw_pool_free(g_cc.pool);
    ASSERT_EQ(atomic_load(&g_order_n), 4);
    ASSERT_EQ(memcmp(g_order, "01AC", 4), 0);
}

static void *run_when_cancelled(void *arg) {
    (void)arg;
    aw_cancel(aw_task_current());
    ASSERT_EQ(aw_pool_run(g_cc.pool, count_start, I2P(1), NULL), AW_ECANCELED);
    return NULL;
}

static void *run_after_deadline(void *arg) {
    (void)arg;
    aw_deadline_t d;
    aw_deadline_enter(&d, 1);
    aw_sleep_ms(5);
    ASSERT_EQ(aw_pool_run(g_cc.pool, count_start, I2P(1), NULL), AW_ETIMEDOUT);
    aw_deadline_exit(&d);
    return NULL;
}

TEST(interrupted_task_never_starts_a_job) {
    g_cc.pool = aw_pool_new(4, 0);
    atomic_store(&g_cc.started, 0);
    ASSERT_EQ(aw_run(run_when_cancelled, NULL, NULL), AW_ECANCELED);
    ASSERT_EQ(aw_run(run_after_deadline, NULL, NULL), 0);
    aw_pool_free(g_cc.pool);
    ASSERT_EQ(atomic_load(&g_cc.started), 0);
}

static void *empty_job(void *arg) {
    return arg;
}

static void *busy_submitter(void *arg) {
    for (int i = 0; i < 20; i++) {
        void *r = NULL;
        ASSERT_EQ(aw_pool_run(g_cc.pool, empty_job, arg, &r), 0);
        ASSERT_PTR_EQ(r, arg);
        /* Keep the loop thread busy, so the pool's posts pile up behind it. */
        uint64_t until = aw_now_ns() + 20000;
        while (aw_now_ns() < until) {
        }
    }
    return NULL;
}

static void *handover_race_main(void *arg) {
    (void)arg;
    enum { N = 64 };
    aw_task_t *t[N];
    for (int i = 0; i < N; i++)
        t[i] = aw_async(busy_submitter, I2P(i + 1));
    ASSERT_EQ(aw_gather(t, N, NULL), 0);
    return NULL;
}

/* A job queued by a room hand-over can finish before the hand-over's post is
 * drained; its waiter must not then wait for a completion already seen. */
TEST(job_done_before_its_room_handover_is_seen) {
    g_cc.pool = aw_pool_new(2, 1);
    ASSERT_EQ(aw_run(handover_race_main, NULL, NULL), 0);
    aw_pool_free(g_cc.pool);
}
