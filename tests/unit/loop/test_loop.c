/* SPDX-License-Identifier: MIT */
/* Tests for src/loop/loop.c: running, stopping, freeing, posts from other threads. */
#include <pthread.h>
#include <stdint.h>
#include <fcntl.h>
#include <unistd.h>

#include "../../../src/loop/loop_internal.h"
#include "../test.h"

static size_t count_fds(void) {
    size_t n = 0;
    for (int fd = 0; fd < 1024; fd++)
        n += fcntl(fd, F_GETFD) >= 0;
    return n;
}

TEST(empty_loop_returns_and_frees_cleanly) {
    size_t fds = count_fds();
    aw_loop_t *loop = aw_loop_new();
    ASSERT_TRUE(loop != NULL);
    ASSERT_EQ(aw_loop_run(loop), 0);
    ASSERT_EQ(aw_loop_alive(loop), 0);
    ASSERT_EQ(aw_loop_free(loop), 0);
    ASSERT_EQ(aw_loop_free(NULL), 0);
    ASSERT_EQ(count_fds(), fds);
}

static void *sleeper(void *arg) {
    (void)arg;
    aw_sleep_ms(5);
    return arg;
}

TEST(spawn_before_run_and_await_from_nowhere) {
    aw_loop_t *loop = aw_loop_new();
    aw_task_t *t = aw_loop_spawn(loop, sleeper, (void *)1);
    ASSERT_EQ(aw_loop_alive(loop), 1);
    ASSERT_EQ(aw_loop_free(loop), AW_EBUSY);
    aw_detach(t);
    ASSERT_EQ(aw_loop_run(loop), 0);
    ASSERT_EQ(aw_loop_alive(loop), 0);
    ASSERT_EQ(aw_loop_free(loop), 0);
}

static void *stopper(void *arg) {
    aw_loop_stop(aw_loop_current());
    (void)arg;
    return NULL;
}

TEST(stop_returns_from_run) {
    aw_loop_t *loop = aw_loop_new();
    aw_task_t *forever = aw_loop_spawn(loop, sleeper, NULL);
    aw_task_t *s = aw_loop_spawn(loop, stopper, NULL);
    aw_detach(s);
    aw_loop_run(loop);
    ASSERT_EQ(aw_loop_alive(loop), 1);
    ASSERT_FALSE(aw_task_done(forever));
    aw_detach(forever);
    aw_loop_run(loop);
    ASSERT_EQ(aw_loop_free(loop), 0);
}

/* ---- posts from other threads ---- */

struct post_rec {
    aw_post_t post;
    int *sum;
    aw_event_t *done;
    int *remaining;
    int value;
};

static void on_post(aw_post_t *p) {
    struct post_rec *r = (struct post_rec *)(void *)p;
    *r->sum += r->value;
    if (--*r->remaining == 0)
        aw_event_set(r->done);
}

enum { THREADS = 4, PER_THREAD = 5000 };

struct poster {
    aw_loop_t *loop;
    struct post_rec *recs;
};

static void *poster_thread(void *arg) {
    struct poster *p = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        aw_loop_post(p->loop, &p->recs[i].post);
        if (i % 512 == 0)
            usleep(100); /* let the loop fall asleep in between */
    }
    return NULL;
}

static void *post_main(void *arg) {
    int *sum = arg;
    aw_event_t done;
    aw_event_init(&done);
    int remaining = THREADS * PER_THREAD;
    struct post_rec *recs = calloc(THREADS * PER_THREAD, sizeof(*recs));
    pthread_t th[THREADS];
    struct poster ps[THREADS];
    for (int i = 0; i < THREADS * PER_THREAD; i++)
        recs[i] = (struct post_rec){{on_post, NULL}, sum, &done, &remaining, i % 7};
    for (int t = 0; t < THREADS; t++) {
        ps[t] = (struct poster){aw_loop_current(), recs + t * PER_THREAD};
        pthread_create(&th[t], NULL, poster_thread, &ps[t]);
    }
    ASSERT_EQ(aw_event_wait(&done), 0);
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    free(recs);
    return NULL;
}

TEST(posts_from_many_threads_all_arrive) {
    int sum = 0;
    ASSERT_EQ(aw_run(post_main, &sum, NULL), 0);
    int expect = 0;
    for (int i = 0; i < THREADS * PER_THREAD; i++)
        expect += i % 7;
    ASSERT_EQ(sum, expect);
}

TEST(aw_run_frees_everything) {
    size_t fds = count_fds();
    for (int i = 0; i < 50; i++)
        ASSERT_EQ(aw_run(sleeper, NULL, NULL), 0);
    ASSERT_EQ(count_fds(), fds);
    ASSERT_PTR_EQ(aw_loop_current(), NULL);
}
