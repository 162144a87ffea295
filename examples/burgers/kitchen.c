/* SPDX-License-Identifier: MIT */
/*
 * The kitchen: the concurrent burgers of the story.
 *
 * A dispatcher task takes tickets from a channel and starts a cook task per
 * order; each burger of the order awaits a free oven (a semaphore) and then
 * cooks for cook_ms, while the loop goes on serving everybody else. Status
 * changes (cooking, ready) are written to the order book through the pool,
 * then announced to the customers waiting on that ticket: each waiter parks
 * on an event of its own, linked to the ticket's entry, so a change wakes
 * exactly the tasks that wait for it and costs nothing when nobody waits.
 */
#include "kitchen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct waiter {
    aw_event_t ev;
    struct waiter *next, *prev;
};

struct ticket {
    int64_t id;
    char status[16];
    order_t o;         /* the order as the book has it, kept in step by the cooks */
    struct waiter *waiters;
    struct ticket *next; /* hash chain */
};

#define NBUCKETS 4096

struct kitchen {
    struct kitchen_opts o;
    aw_chan_t *orders;
    aw_sem_t ovens;
    aw_task_t *dispatcher;
    size_t cooking, queued, cooked_burgers;
    size_t live_cooks;
    aw_event_t cooks_done;
    bool stopping;        /* orders still queued are left to the book (a restart cooks them) */
    struct ticket *buckets[NBUCKETS];
};

struct order_msg {
    int64_t ticket;
    int burgers;
};

/* ---- the pool ------------------------------------------------------------------------------ */

struct db_job {
    int (*fn)(void *arg);
    void *arg;
    int rc;
    bool ran;
    char err[256]; /* the pool thread's store_error(), carried back */
};

static char g_db_err[256]; /* loop thread */

static void *db_tramp(void *arg) {
    struct db_job *j = arg;
    j->rc = j->fn(j->arg);
    if (j->rc == STORE_ERROR)
        snprintf(j->err, sizeof(j->err), "%s", store_error());
    j->ran = true;
    return NULL;
}

int db_call(int (*fn)(void *arg), void *arg) {
    struct db_job j = {.fn = fn, .arg = arg};
    int rc = aw_run_blocking_status(db_tramp, &j, NULL);
    /* A job that ran stands, even when we were cancelled or timed out meanwhile. */
    if (!j.ran) {
        snprintf(g_db_err, sizeof(g_db_err), "the pool: %s", aw_strerror(rc));
        return rc == AW_ECANCELED || rc == AW_ETIMEDOUT ? rc : STORE_ERROR;
    }
    if (j.rc == STORE_ERROR)
        snprintf(g_db_err, sizeof(g_db_err), "%s", j.err);
    return j.rc;
}

const char *db_error(void) {
    return g_db_err;
}

/*
 * Writes go through one writer task that commits them in batches: whatever
 * queued up while the last commit ran goes into the next transaction. A
 * rush of 1,000 orders then costs a handful of commits instead of 1,000,
 * and the counter stays fast. Waiting for one's write is shielded: the
 * record lives on the waiter's stack, and the writer must find it there.
 */
struct write_op {
    int (*fn)(void *arg);
    void *arg;
    int rc;
    aw_event_t done;
    struct write_op *next;
};

static struct {
    struct write_op *head, **tail;      /* customers wait on these: orders, pickups */
    struct write_op *later, **later_tail; /* the cooks' status changes */
    aw_event_t work;
    aw_task_t *task;
    bool stop;
    char err[256]; /* the failed batch's reason */
} g_writer;

struct batch {
    struct write_op *ops;
    char err[256];
};

static void *run_batch(void *arg) {
    struct batch *b = arg;
    int rc = store_batch_begin();
    if (rc == STORE_OK) {
        for (struct write_op *op = b->ops; op; op = op->next)
            op->rc = op->fn(op->arg);
        rc = store_batch_end();
    }
    if (rc != STORE_OK) {
        snprintf(b->err, sizeof(b->err), "%s", store_error());
        for (struct write_op *op = b->ops; op; op = op->next)
            op->rc = STORE_ERROR;
    }
    return NULL;
}

static void *writer_main(void *arg) {
    (void)arg;
    for (;;) {
        while (!g_writer.head && !g_writer.later && !g_writer.stop) {
            aw_event_clear(&g_writer.work);
            aw_event_wait(&g_writer.work);
        }
        if (!g_writer.head && !g_writer.later)
            break;
        /* At most 64 writes a batch, so the first in line hear back soon;
         * a customer's write goes before the cooks' status changes. */
        struct write_op **q = g_writer.head ? &g_writer.head : &g_writer.later;
        struct write_op ***qt = g_writer.head ? &g_writer.tail : &g_writer.later_tail;
        struct batch b = {.ops = *q};
        struct write_op *last = *q;
        for (int n = 1; n < 64 && last->next; n++)
            last = last->next;
        *q = last->next;
        last->next = NULL;
        if (!*q)
            *qt = q;
        if (aw_run_blocking_status(run_batch, &b, NULL) < 0 && !b.err[0]) {
            /* The pool refused (shutting down): nothing was written. */
            snprintf(b.err, sizeof(b.err), "the pool is shutting down");
            for (struct write_op *op = b.ops; op; op = op->next)
                op->rc = STORE_ERROR;
        }
        for (struct write_op *op = b.ops, *next; op; op = next) {
            next = op->next; /* the waiter may go as soon as its event is set */
            aw_event_set(&op->done);
        }
        if (b.err[0])
            snprintf(g_writer.err, sizeof(g_writer.err), "%s", b.err);
    }
    return NULL;
}

static int write_queued(int (*fn)(void *arg), void *arg, bool urgent) {
    if (!g_writer.task) {
        g_writer.tail = &g_writer.head;
        g_writer.later_tail = &g_writer.later;
        aw_event_init(&g_writer.work);
        g_writer.stop = false;
        g_writer.task = aw_async(writer_main, NULL);
        if (!g_writer.task)
            return db_call(fn, arg);
        aw_task_set_name(g_writer.task, "order-book-writer");
    }
    struct write_op op = {.fn = fn, .arg = arg};
    aw_event_init(&op.done);
    struct write_op ***tail = urgent ? &g_writer.tail : &g_writer.later_tail;
    **tail = &op;
    *tail = &op.next;
    aw_event_set(&g_writer.work);
    aw_shield_enter();
    aw_event_wait(&op.done);
    aw_shield_exit();
    if (op.rc == STORE_ERROR)
        snprintf(g_db_err, sizeof(g_db_err), "%s", g_writer.err);
    return op.rc;
}

int db_write(int (*fn)(void *arg), void *arg) {
    return write_queued(fn, arg, true);
}

/* A cook's status change: written after the customers' writes waiting then. */
static int db_write_later(int (*fn)(void *arg), void *arg) {
    return write_queued(fn, arg, false);
}

static void writer_stop(void) {
    if (!g_writer.task)
        return;
    g_writer.stop = true;
    aw_event_set(&g_writer.work);
    aw_await(g_writer.task);
    g_writer.task = NULL;
}

struct status_job {
    int64_t ticket;
    const char *status;
    double at;
};

static int set_status_fn(void *arg) {
    struct status_job *j = arg;
    return store_set_status(j->ticket, j->status, j->at);
}

struct get_job {
    int64_t ticket;
    order_t *o;
};

static int get_fn(void *arg) {
    struct get_job *j = arg;
    return store_get(j->ticket, j->o);
}

/* ---- tickets being cooked here --------------------------------------------------------------- */

static struct ticket **slot(kitchen_t *k, int64_t id) {
    struct ticket **p = &k->buckets[(uint64_t)id % NBUCKETS];
    while (*p && (*p)->id != id)
        p = &(*p)->next;
    return p;
}

static struct ticket *ticket_get(kitchen_t *k, int64_t id, bool create) {
    struct ticket **p = slot(k, id);
    if (*p || !create)
        return *p;
    struct ticket *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->id = id;
    snprintf(t->status, sizeof(t->status), "queued");
    *p = t;
    return t;
}

static bool is_live(const struct ticket *t) {
    return strcmp(t->status, "queued") == 0 || strcmp(t->status, "cooking") == 0;
}

static void ticket_drop_if_idle(kitchen_t *k, struct ticket *t) {
    if (t->waiters || is_live(t))
        return;
    /* Ready and nobody waiting: the order book has the rest of its story (and
     * a pickup may happen on another worker, which this entry would not see). */
    struct ticket **p = slot(k, t->id);
    *p = t->next;
    free(t);
}

static void announce(kitchen_t *k, int64_t id, const char *status, double at) {
    struct ticket *t = ticket_get(k, id, false);
    if (!t)
        return;
    snprintf(t->status, sizeof(t->status), "%s", status);
    snprintf(t->o.status, sizeof(t->o.status), "%s", status);
    if (strcmp(status, "cooking") == 0)
        t->o.cooking_at = at;
    else if (strcmp(status, "ready") == 0)
        t->o.ready_at = at;
    else if (strcmp(status, "picked_up") == 0)
        t->o.picked_up_at = at;
    for (struct waiter *w = t->waiters; w; w = w->next)
        aw_event_set(&w->ev);
}

/* ---- cooking -------------------------------------------------------------------------------- */

struct burger_job {
    kitchen_t *k;
    int64_t ticket;
    bool *started;
};

static void *cook_burger(void *arg) {
    struct burger_job *b = arg;
    kitchen_t *k = b->k;
    if (aw_sem_acquire(&k->ovens) < 0)
        return aw_fail(AW_ECANCELED);
    if (!*b->started) {
        *b->started = true;
        k->queued--;
        k->cooking++;
        struct status_job j = {b->ticket, "cooking", now_s()};
        if (db_write_later(set_status_fn, &j) != STORE_OK)
            aw_log(AW_LOG_ERROR, "ticket %lld: recording 'cooking': %s", (long long)b->ticket,
                   db_error());
        announce(k, b->ticket, "cooking", j.at);
    }
    int rc = aw_sleep_ms((uint64_t)k->o.cook_ms);
    aw_sem_release(&k->ovens);
    if (rc < 0)
        return aw_fail(rc);
    k->cooked_burgers++;
    return NULL;
}

struct cook_ctx {
    kitchen_t *k;
    struct order_msg m;
};

static void *cook_main(void *arg) {
    struct cook_ctx *cc = arg;
    kitchen_t *k = cc->k;
    int64_t ticket = cc->m.ticket;
    int n = cc->m.burgers;
    free(cc);
    bool started = false;
    struct burger_job b = {k, ticket, &started};
    aw_group_t g;
    aw_group_init(&g);
    for (int i = 0; i < n; i++)
        aw_group_spawn(&g, cook_burger, &b);
    int rc = aw_group_wait(&g);
    if (started)
        k->cooking--;
    else
        k->queued--;
    if (rc == 0) {
        struct status_job j = {ticket, "ready", now_s()};
        if (db_write_later(set_status_fn, &j) != STORE_OK)
            aw_log(AW_LOG_ERROR, "ticket %lld: recording 'ready': %s", (long long)ticket,
                   db_error());
        announce(k, ticket, "ready", j.at);
        struct ticket *t = ticket_get(k, ticket, false);
        if (t)
            ticket_drop_if_idle(k, t);
    }
    if (--k->live_cooks == 0)
        aw_event_set(&k->cooks_done);
    return NULL;
}

static void *dispatcher_main(void *arg) {
    kitchen_t *k = arg;
    for (;;) {
        void *v;
        if (aw_chan_recv(k->orders, &v) < 0)
            break; /* closed: the kitchen stops */
        struct order_msg *m = v;
        if (k->stopping) {
            free(m);
            continue;
        }
        struct cook_ctx *cc = malloc(sizeof(*cc));
        aw_task_t *t = cc ? aw_async(cook_main, cc) : NULL;
        if (!t) {
            aw_log(AW_LOG_ERROR, "ticket %lld: out of memory, not cooked", (long long)m->ticket);
            free(cc);
            free(m);
            continue;
        }
        cc->k = k;
        cc->m = *m;
        free(m);
        aw_event_clear(&k->cooks_done);
        k->live_cooks++;
        aw_task_set_name(t, "cook");
        aw_detach(t);
    }
    return NULL;
}

kitchen_t *kitchen_start(const struct kitchen_opts *o) {
    kitchen_t *k = calloc(1, sizeof(*k));
    if (!k)
        return NULL;
    k->o = *o;
    k->orders = aw_chan_new(1 << 16);
    aw_sem_init(&k->ovens, (size_t)o->ovens);
    aw_event_init(&k->cooks_done);
    aw_event_set(&k->cooks_done);
    k->dispatcher = k->orders ? aw_async(dispatcher_main, k) : NULL;
    if (!k->dispatcher) {
        aw_chan_free(k->orders);
        free(k);
        return NULL;
    }
    aw_task_set_name(k->dispatcher, "dispatcher");
    return k;
}

void kitchen_stop(kitchen_t *k) {
    if (!k)
        return;
    k->stopping = true;
    aw_chan_close(k->orders);
    aw_await(k->dispatcher);
    /* Orders in the oven finish; their tickets stay valid in the book. */
    aw_event_wait(&k->cooks_done);
    writer_stop();
    void *v;
    while (aw_chan_try_recv(k->orders, &v) == 0)
        free(v);
    aw_chan_free(k->orders);
    for (size_t i = 0; i < NBUCKETS; i++) {
        struct ticket *t = k->buckets[i];
        while (t) {
            struct ticket *next = t->next;
            free(t);
            t = next;
        }
    }
    free(k);
}

int kitchen_order(kitchen_t *k, const order_t *o) {
    struct order_msg *m = malloc(sizeof(*m));
    struct ticket *t = m ? ticket_get(k, o->ticket, true) : NULL;
    if (!t) {
        free(m);
        return AW_ENOMEM;
    }
    t->o = *o;
    snprintf(t->status, sizeof(t->status), "%s", o->status);
    m->ticket = o->ticket;
    m->burgers = o->burgers;
    if (aw_chan_try_send(k->orders, m) < 0) {
        free(m);
        return AW_ENOMEM;
    }
    k->queued++;
    return 0;
}

int kitchen_cook(kitchen_t *k, int n) {
    bool started = true; /* no ticket: nothing to announce */
    struct burger_job b = {k, 0, &started};
    aw_group_t g;
    aw_group_init(&g);
    for (int i = 0; i < n; i++)
        aw_group_spawn(&g, cook_burger, &b);
    return aw_group_wait(&g);
}

int kitchen_wait_change(kitchen_t *k, int64_t ticket, const char *seen, uint64_t timeout_ms,
                        order_t *o) {
    aw_deadline_t d;
    aw_deadline_enter(&d, timeout_ms);
    int rc;
    for (;;) {
        struct ticket *t = ticket_get(k, ticket, false);
        bool live = t && is_live(t);
        if (live) {
            /* Being cooked here: what the book says, without asking it. */
            *o = t->o;
            rc = STORE_OK;
        } else {
            struct get_job j = {ticket, o};
            rc = db_call(get_fn, &j);
        }
        if (rc != STORE_OK || !seen || strcmp(o->status, seen) != 0)
            break;
        if (!live) {
            /* Cooked by another worker (or before a restart): look again soon. */
            rc = aw_sleep_ms(50);
            if (rc < 0)
                break;
            continue;
        }
        struct waiter w = {.next = t->waiters};
        aw_event_init(&w.ev);
        if (t->waiters)
            t->waiters->prev = &w;
        t->waiters = &w;
        rc = aw_event_wait(&w.ev);
        if (w.prev)
            w.prev->next = w.next;
        else
            t->waiters = w.next;
        if (w.next)
            w.next->prev = w.prev;
        /* Woken by the cooks: the entry has the news (read it before it may go). */
        *o = t->o;
        ticket_drop_if_idle(k, t);
        if (rc < 0)
            break;
        if (strcmp(o->status, seen) != 0) {
            rc = STORE_OK;
            break;
        }
    }
    aw_deadline_exit(&d);
    return rc;
}

bool kitchen_lookup(kitchen_t *k, int64_t ticket, order_t *o) {
    struct ticket *t = ticket_get(k, ticket, false);
    if (!t || !is_live(t))
        return false;
    *o = t->o;
    return true;
}

void kitchen_picked_up(kitchen_t *k, const order_t *o) {
    struct ticket *t = ticket_get(k, o->ticket, false);
    if (!t)
        return;
    announce(k, o->ticket, "picked_up", o->picked_up_at);
    ticket_drop_if_idle(k, t);
}

json_t *kitchen_stats(kitchen_t *k) {
    aw_pool_stats_t ps = {0};
    aw_pool_t *pool = aw_pool_default();
    if (pool)
        aw_pool_stats(pool, &ps);
    return json_pack("{s:i, s:i, s:i, s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I}}", "pid",
                     (int)getpid(), "ovens", k->o.ovens, "cook_ms", k->o.cook_ms, "ovens_free",
                     (json_int_t)aw_sem_available(&k->ovens), "queued", (json_int_t)k->queued,
                     "cooking", (json_int_t)k->cooking, "burgers_cooked",
                     (json_int_t)k->cooked_burgers, "pool", "threads", (json_int_t)ps.threads,
                     "max_threads", (json_int_t)ps.max_threads, "busy", (json_int_t)ps.busy,
                     "queued", (json_int_t)ps.queued, "queue_cap", (json_int_t)ps.queue_cap);
}
