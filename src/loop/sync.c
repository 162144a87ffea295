/* SPDX-License-Identifier: MIT */
/*
 * Coroutine-aware channel, event and semaphore. All three hand over
 * directly to the first waiting task (FIFO), and record the hand-over in the
 * waiter before waking it, so a value or permit is never lost to a cancel or
 * timeout that races with it (see task.c).
 */
#include <assert.h>
#include <stdlib.h>

#include "loop_internal.h"

/* ---- channel --------------------------------------------------------------------------------- */

struct aw_chan {
    size_t cap, len, head;
    bool closed;
    aw_waitq_t senders, receivers;
    void *buf[]; /* a ring of cap slots */
};

aw_chan_t *aw_chan_new(size_t capacity) {
    aw_chan_t *ch = calloc(1, sizeof(*ch) + capacity * sizeof(void *));
    if (!ch)
        return NULL;
    ch->cap = capacity;
    return ch;
}

void aw_chan_free(aw_chan_t *ch) {
    if (!ch)
        return;
    assert(!ch->senders._head && !ch->receivers._head && "freeing a channel tasks wait on");
    free(ch);
}

size_t aw_chan_len(const aw_chan_t *ch) {
    return ch->len;
}

static void ring_push(aw_chan_t *ch, void *v) {
    ch->buf[(ch->head + ch->len) % ch->cap] = v;
    ch->len++;
}

static void *ring_pop(aw_chan_t *ch) {
    void *v = ch->buf[ch->head];
    ch->head = (ch->head + 1) % ch->cap;
    ch->len--;
    return v;
}

int aw_chan_try_send(aw_chan_t *ch, void *value) {
    if (ch->closed)
        return AW_EPIPE;
    struct aw__waiter *r = aw__waitq_pop(&ch->receivers);
    if (r) {
        /* A receiver waits only while the buffer is empty: order holds. */
        aw__waiter_finish(r, 0, value);
        return 0;
    }
    if (ch->len < ch->cap) {
        ring_push(ch, value);
        return 0;
    }
    return AW_EAGAIN;
}

int aw_chan_send(aw_chan_t *ch, void *value) {
    int rc = aw_chan_try_send(ch, value);
    if (rc != AW_EAGAIN)
        return rc;
    struct aw__waiter w;
    aw__waitq_push(&ch->senders, &w);
    w.value = value;
    rc = aw__suspend(0, 0);
    if (w.done)
        return w.status; /* taken (0), or the channel closed (AW_EPIPE) */
    aw__waitq_remove(&ch->senders, &w);
    return rc;
}

int aw_chan_try_recv(aw_chan_t *ch, void **value) {
    if (ch->len) {
        *value = ring_pop(ch);
        /* Room now: the first waiting sender's value moves into the ring. */
        struct aw__waiter *s = aw__waitq_pop(&ch->senders);
        if (s) {
            ring_push(ch, s->value);
            aw__waiter_finish(s, 0, NULL);
        }
        return 0;
    }
    struct aw__waiter *s = aw__waitq_pop(&ch->senders);
    if (s) { /* unbuffered: take it straight from the sender */
        *value = s->value;
        aw__waiter_finish(s, 0, NULL);
        return 0;
    }
    return ch->closed ? AW_EPIPE : AW_EAGAIN;
}

int aw_chan_recv(aw_chan_t *ch, void **value) {
    int rc = aw_chan_try_recv(ch, value);
    if (rc != AW_EAGAIN)
        return rc;
    struct aw__waiter w;
    aw__waitq_push(&ch->receivers, &w);
    rc = aw__suspend(0, 0);
    if (w.done) {
        if (w.status == 0)
            *value = w.value;
        return w.status;
    }
    aw__waitq_remove(&ch->receivers, &w);
    return rc;
}

void aw_chan_close(aw_chan_t *ch) {
    struct aw__waiter *w;
    ch->closed = true;
    while ((w = aw__waitq_pop(&ch->senders)))
        aw__waiter_finish(w, AW_EPIPE, NULL);
    while ((w = aw__waitq_pop(&ch->receivers)))
        aw__waiter_finish(w, AW_EPIPE, NULL);
}

/* ---- event ----------------------------------------------------------------------------------- */

void aw_event_init(aw_event_t *ev) {
    ev->_set = false;
    ev->_waiters._head = ev->_waiters._tail = NULL;
}

void aw_event_set(aw_event_t *ev) {
    struct aw__waiter *w;
    ev->_set = true;
    while ((w = aw__waitq_pop(&ev->_waiters)))
        aw__waiter_finish(w, 0, NULL);
}

void aw_event_clear(aw_event_t *ev) {
    ev->_set = false;
}

bool aw_event_is_set(const aw_event_t *ev) {
    return ev->_set;
}

int aw_event_wait(aw_event_t *ev) {
    if (ev->_set)
        return 0;
    struct aw__waiter w;
    aw__waitq_push(&ev->_waiters, &w);
    int rc = aw__suspend(0, 0);
    if (w.done)
        return 0;
    aw__waitq_remove(&ev->_waiters, &w);
    return rc;
}

/* ---- semaphore ------------------------------------------------------------------------------- */

void aw_sem_init(aw_sem_t *sem, size_t count) {
    sem->_count = count;
    sem->_waiters._head = sem->_waiters._tail = NULL;
}

size_t aw_sem_available(const aw_sem_t *sem) {
    return sem->_count;
}

bool aw_sem_try_acquire(aw_sem_t *sem) {
    /* Queued waiters come first, or a steady stream of try-ers starves them. */
    if (sem->_count == 0 || sem->_waiters._head)
        return false;
    sem->_count--;
    return true;
}

int aw_sem_acquire(aw_sem_t *sem) {
    if (aw_sem_try_acquire(sem))
        return 0;
    struct aw__waiter w;
    aw__waitq_push(&sem->_waiters, &w);
    int rc = aw__suspend(0, 0);
    if (w.done)
        return 0; /* the permit was handed over: ours even if cancelled since */
    aw__waitq_remove(&sem->_waiters, &w);
    return rc;
}

void aw_sem_release(aw_sem_t *sem) {
    struct aw__waiter *w = aw__waitq_pop(&sem->_waiters);
    if (w)
        aw__waiter_finish(w, 0, NULL);
    else
        sem->_count++;
}
