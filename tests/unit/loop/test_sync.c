/* SPDX-License-Identifier: MIT */
/* Tests for src/loop/sync.c: channels (order, contention, close, cancel), events, semaphores. */
#include <stdint.h>

#include "../../../src/loop/loop_internal.h"
#include "../test.h"

#define I2P(i) ((void *)(intptr_t)(i))
#define P2I(p) ((int)(intptr_t)(p))

enum { PRODUCERS = 8, ITEMS = 2000 };

struct prod {
    aw_chan_t *ch;
    int id;
};

static void *producer(void *arg) {
    struct prod *p = arg;
    for (int i = 0; i < ITEMS; i++) {
        ASSERT_EQ(aw_chan_send(p->ch, I2P(p->id * 100000 + i)), 0);
        if (i % 3 == 0)
            aw_yield();
    }
    return NULL;
}

struct cons {
    aw_chan_t *ch;
    int count;
    int last[PRODUCERS];
};

static void *consumer(void *arg) {
    struct cons *c = arg;
    void *v;
    int rc;
    while ((rc = aw_chan_recv(c->ch, &v)) == 0) {
        int id = P2I(v) / 100000, seq = P2I(v) % 100000;
        /* Per producer, values arrive in the order they were sent. */
        ASSERT_EQ(seq, c->last[id] + 1);
        c->last[id] = seq;
        c->count++;
    }
    ASSERT_EQ(rc, AW_EPIPE);
    return NULL;
}

static void *contention_main(void *arg) {
    size_t cap = (size_t)P2I(arg);
    aw_chan_t *ch = aw_chan_new(cap);
    struct prod ps[PRODUCERS];
    aw_task_t *pt[PRODUCERS];
    struct cons c = {ch, 0, {0}};
    for (int i = 0; i < PRODUCERS; i++)
        c.last[i] = -1;
    aw_task_t *ct = aw_async(consumer, &c);
    for (int i = 0; i < PRODUCERS; i++) {
        ps[i] = (struct prod){ch, i};
        pt[i] = aw_async(producer, &ps[i]);
    }
    ASSERT_EQ(aw_gather(pt, PRODUCERS, NULL), 0);
    aw_chan_close(ch);
    ASSERT_EQ(aw_await_status(ct, NULL), 0);
    ASSERT_EQ(c.count, PRODUCERS * ITEMS);
    aw_chan_free(ch);
    return NULL;
}

TEST(channel_under_contention_buffered) {
    ASSERT_EQ(aw_run(contention_main, I2P(4), NULL), 0);
}

TEST(channel_under_contention_unbuffered) {
    ASSERT_EQ(aw_run(contention_main, I2P(0), NULL), 0);
}

static void *try_main(void *arg) {
    (void)arg;
    aw_chan_t *ch = aw_chan_new(2);
    void *v;
    ASSERT_EQ(aw_chan_try_recv(ch, &v), AW_EAGAIN);
    ASSERT_EQ(aw_chan_try_send(ch, I2P(1)), 0);
    ASSERT_EQ(aw_chan_try_send(ch, I2P(2)), 0);
    ASSERT_EQ(aw_chan_try_send(ch, I2P(3)), AW_EAGAIN);
    ASSERT_EQ(aw_chan_len(ch), 2);
    aw_chan_close(ch);
    ASSERT_EQ(aw_chan_send(ch, I2P(4)), AW_EPIPE);
    ASSERT_EQ(aw_chan_recv(ch, &v), 0); /* buffered values survive the close */
    ASSERT_EQ(P2I(v), 1);
    ASSERT_EQ(aw_chan_try_recv(ch, &v), 0);
    ASSERT_EQ(P2I(v), 2);
    ASSERT_EQ(aw_chan_recv(ch, &v), AW_EPIPE);
    aw_chan_free(ch);
    return NULL;
}

TEST(channel_try_and_close_semantics) {
    ASSERT_EQ(aw_run(try_main, NULL, NULL), 0);
}

static void *recv_one(void *arg) {
    void *v = NULL;
    int rc = aw_chan_recv(arg, &v);
    return rc ? I2P(rc) : v;
}

static void *send_one(void *arg) {
    return I2P(aw_chan_send(arg, I2P(77)));
}

static void *chan_cancel_main(void *arg) {
    (void)arg;
    aw_chan_t *ch = aw_chan_new(0);
    /* A receiver cancelled while waiting leaves the queue... */
    aw_task_t *r1 = aw_async(recv_one, ch);
    aw_task_t *r2 = aw_async(recv_one, ch);
    aw_sleep_ms(1);
    aw_cancel(r1);
    /* ...and a send in the same iteration goes to the next receiver, not lost. */
    ASSERT_EQ(aw_chan_try_send(ch, I2P(5)), 0);
    ASSERT_EQ(P2I(aw_await(r1)), 0); /* got nothing: NULL (failed) */
    ASSERT_EQ(P2I(aw_await(r2)), 5);
    /* A receiver handed a value, then cancelled before it runs, keeps the value. */
    aw_task_t *r3 = aw_async(recv_one, ch);
    aw_sleep_ms(1);
    ASSERT_EQ(aw_chan_try_send(ch, I2P(6)), 0);
    aw_cancel(r3);
    void *v;
    ASSERT_EQ(aw_await_status(r3, &v), 0);
    ASSERT_EQ(P2I(v), 6);
    /* A blocked sender cancelled: its value is not delivered. */
    aw_task_t *s = aw_async(send_one, ch);
    aw_sleep_ms(1);
    aw_cancel(s);
    ASSERT_EQ(aw_await_status(s, &v), AW_ECANCELED);
    ASSERT_EQ(P2I(v), AW_ECANCELED);
    ASSERT_EQ(aw_chan_try_recv(ch, &v), AW_EAGAIN);
    /* Close wakes a waiting sender with EPIPE. */
    s = aw_async(send_one, ch);
    aw_sleep_ms(1);
    aw_chan_close(ch);
    ASSERT_EQ(aw_await_status(s, &v), 0);
    ASSERT_EQ(P2I(v), AW_EPIPE);
    aw_chan_free(ch);
    return NULL;
}

TEST(channel_cancel_and_close_lose_nothing) {
    ASSERT_EQ(aw_run(chan_cancel_main, NULL, NULL), 0);
}

static void *chan_timeout_main(void *arg) {
    (void)arg;
    aw_chan_t *ch = aw_chan_new(1);
    void *v;
    aw_deadline_t d;
    aw_deadline_enter(&d, 10);
    ASSERT_EQ(aw_chan_recv(ch, &v), AW_ETIMEDOUT);
    aw_deadline_exit(&d);
    aw_chan_free(ch);
    return NULL;
}

TEST(channel_recv_timeout) {
    ASSERT_EQ(aw_run(chan_timeout_main, NULL, NULL), 0);
}

/* ---- event ---- */

static void *wait_event(void *arg) {
    return I2P(aw_event_wait(arg));
}

static void *event_main(void *arg) {
    (void)arg;
    aw_event_t ev;
    aw_event_init(&ev);
    aw_task_t *t[5];
    for (int i = 0; i < 5; i++)
        t[i] = aw_async(wait_event, &ev);
    aw_sleep_ms(2);
    for (int i = 0; i < 5; i++)
        ASSERT_FALSE(aw_task_done(t[i]));
    aw_event_set(&ev);
    ASSERT_TRUE(aw_event_is_set(&ev));
    void *res[5];
    ASSERT_EQ(aw_gather(t, 5, res), 0);
    for (int i = 0; i < 5; i++)
        ASSERT_EQ(P2I(res[i]), 0);
    ASSERT_EQ(aw_event_wait(&ev), 0); /* already set: at once */
    aw_event_clear(&ev);
    aw_task_t *c = aw_async(wait_event, &ev);
    aw_sleep_ms(1);
    aw_cancel(c);
    void *r;
    ASSERT_EQ(aw_await_status(c, &r), AW_ECANCELED);
    ASSERT_EQ(P2I(r), AW_ECANCELED);
    return NULL;
}

TEST(event_wakes_all_and_cancel_works) {
    ASSERT_EQ(aw_run(event_main, NULL, NULL), 0);
}

/* ---- semaphore ---- */

struct sem_user {
    aw_sem_t *sem;
    int id;
    int *inside;
    int *max_inside;
    int *order;
    int *n;
};

static void *use_sem(void *arg) {
    struct sem_user *u = arg;
    int rc = aw_sem_acquire(u->sem);
    if (rc)
        return I2P(rc);
    u->order[(*u->n)++] = u->id;
    (*u->inside)++;
    if (*u->inside > *u->max_inside)
        *u->max_inside = *u->inside;
    aw_sleep_ms(2);
    (*u->inside)--;
    aw_sem_release(u->sem);
    return NULL;
}

static void *sem_main(void *arg) {
    (void)arg;
    aw_sem_t sem;
    aw_sem_init(&sem, 3);
    int inside = 0, max_inside = 0, order[20], n = 0;
    struct sem_user us[20];
    aw_task_t *t[20];
    for (int i = 0; i < 20; i++) {
        us[i] = (struct sem_user){&sem, i, &inside, &max_inside, order, &n};
        t[i] = aw_async(use_sem, &us[i]);
    }
    ASSERT_EQ(aw_gather(t, 20, NULL), 0);
    ASSERT_EQ(max_inside, 3);
    for (int i = 0; i < 20; i++)
        ASSERT_EQ(order[i], i); /* FIFO hand-over */
    ASSERT_EQ(aw_sem_available(&sem), 3);
    ASSERT_TRUE(aw_sem_try_acquire(&sem));
    ASSERT_EQ(aw_sem_available(&sem), 2);
    aw_sem_release(&sem);
    return NULL;
}

TEST(semaphore_bounds_and_is_fifo) {
    ASSERT_EQ(aw_run(sem_main, NULL, NULL), 0);
}

static void *sem_cancel_main(void *arg) {
    (void)arg;
    aw_sem_t sem;
    aw_sem_init(&sem, 0);
    int inside = 0, max_inside = 0, order[4], n = 0;
    struct sem_user a = {&sem, 1, &inside, &max_inside, order, &n};
    struct sem_user b = {&sem, 2, &inside, &max_inside, order, &n};
    aw_task_t *ta = aw_async(use_sem, &a);
    aw_task_t *tb = aw_async(use_sem, &b);
    aw_sleep_ms(1);
    aw_cancel(ta);
    aw_sem_release(&sem); /* goes to b: a was cancelled */
    void *r;
    ASSERT_EQ(aw_await_status(ta, &r), AW_ECANCELED);
    ASSERT_EQ(P2I(r), AW_ECANCELED);
    ASSERT_EQ(aw_await_status(tb, &r), 0);
    ASSERT_PTR_EQ(r, NULL);
    ASSERT_EQ(n, 1);
    ASSERT_EQ(order[0], 2);
    ASSERT_EQ(aw_sem_available(&sem), 1);
    return NULL;
}

TEST(semaphore_skips_cancelled_waiters) {
    ASSERT_EQ(aw_run(sem_cancel_main, NULL, NULL), 0);
}
