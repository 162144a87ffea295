/* SPDX-License-Identifier: MIT */
/*
 * The blocking thread pool.
 *
 * DESIGN
 * One mutex guards the queue, the thread counts and the list of tasks
 * waiting for room. Threads start on demand while queued jobs outnumber idle
 * threads, up to the pool's size, and run until the pool is freed. A job
 * submitted by a task carries a waiter (on that task's stack) with an
 * aw_post_t: when the job ends, the pool thread posts it to the task's loop
 * and touches nothing else, so pool threads never see loop state. The task
 * trusts only the `completed` flag that the post callback sets on its own
 * thread; a cancelled task whose job already runs waits for that flag before
 * returning, because the job still uses memory on its stack.
 *
 * Lock order: pool->mu, then a loop's post_lock (aw_loop_post is called
 * under pool->mu to hand room to a waiting task). Nothing takes them the
 * other way round.
 */
#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../loop/loop_internal.h"
#include "awaitress/pool.h"

enum { W_QUEUED = 1, W_RUNNING, W_DONE };

/* A task waiting for its job; lives on the task's stack. */
struct aw__pool_waiter {
    aw_post_t post;
    aw_task_t *task;
    aw_loop_t *loop;
    bool completed; /* loop thread only */
};

/*
 * A task waiting for room in the queue; lives on the task's stack. Room is
 * handed over, not announced: the job is queued for the waiter before it is
 * woken, so nobody can take the slot in between and the wait stays FIFO.
 */
struct room_wait {
    aw_post_t post;
    aw_task_t *task;
    aw_loop_t *loop;
    aw_work_t *work;
    aw_work_fn fn;
    void *arg;
    struct room_wait *next, *prev;
    int rc;       /* the job's enqueue status once granted; under pool->mu */
    bool linked;  /* under pool->mu */
    bool granted; /* loop thread only */
};

struct aw_pool {
    pthread_mutex_t mu;
    pthread_cond_t work_cv, room_cv, done_cv;
    aw_work_t *head, *tail;
    size_t qlen, qcap;
    size_t max_threads, nthreads, idle;
    pthread_t *threads;
    bool stopping;
    struct room_wait *rw_head, *rw_tail;
};

static int enqueue_locked(aw_pool_t *pool, aw_work_t *w, aw_work_fn fn, void *arg);

static void grant_room_locked(aw_pool_t *pool) {
    struct room_wait *rw = pool->rw_head;
    /* While stopping, every waiter is let go (with AW_EPIPE), room or not. */
    if (!rw || (pool->qlen >= pool->qcap && !pool->stopping)) {
        pthread_cond_signal(&pool->room_cv);
        return;
    }
    pool->rw_head = rw->next;
    if (pool->rw_head)
        pool->rw_head->prev = NULL;
    else
        pool->rw_tail = NULL;
    rw->linked = false;
    rw->rc = enqueue_locked(pool, rw->work, rw->fn, rw->arg);
    if (rw->rc == 0)
        pthread_cond_signal(&pool->work_cv); /* rare: we hold the lock here */
    aw_loop_post(rw->loop, &rw->post);
}

static void *worker(void *arg) {
    aw_pool_t *pool = arg;
    pthread_mutex_lock(&pool->mu);
    for (;;) {
        while (!pool->head && !pool->stopping) {
            pool->idle++;
            pthread_cond_wait(&pool->work_cv, &pool->mu);
            pool->idle--;
        }
        aw_work_t *w = pool->head;
        if (!w)
            break; /* stopping, and the queue is drained */
        pool->head = w->_next;
        if (pool->head)
            pool->head->_prev = NULL;
        else
            pool->tail = NULL;
        pool->qlen--;
        w->_state = W_RUNNING;
        grant_room_locked(pool);
        pthread_mutex_unlock(&pool->mu);

        void *result = w->_fn(w->_arg);

        pthread_mutex_lock(&pool->mu);
        w->_result = result;
        w->_state = W_DONE;
        struct aw__pool_waiter *pw = w->_waiter;
        if (pw) {
            pthread_mutex_unlock(&pool->mu);
            /* Last touch: once posted, the waiter and the job may vanish. */
            aw_loop_post(pw->loop, &pw->post);
            pthread_mutex_lock(&pool->mu);
        } else {
            pthread_cond_broadcast(&pool->done_cv);
        }
    }
    pthread_mutex_unlock(&pool->mu);
    return NULL;
}

aw_pool_t *aw_pool_new(size_t threads, size_t queue) {
    aw_pool_t *pool = calloc(1, sizeof(*pool));
    if (!pool)
        return NULL;
    pool->max_threads = threads ? threads : AW_POOL_DEFAULT_THREADS;
    pool->qcap = queue ? queue : AW_POOL_DEFAULT_QUEUE;
    pool->threads = calloc(pool->max_threads, sizeof(pthread_t));
    if (!pool->threads) {
        free(pool);
        return NULL;
    }
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->work_cv, NULL);
    pthread_cond_init(&pool->room_cv, NULL);
    pthread_cond_init(&pool->done_cv, NULL);
    return pool;
}

void aw_pool_free(aw_pool_t *pool) {
    if (!pool)
        return;
    pthread_mutex_lock(&pool->mu);
    pool->stopping = true;
    /* Tasks still waiting for room learn that the pool is going away. */
    while (pool->rw_head)
        grant_room_locked(pool);
    pthread_cond_broadcast(&pool->work_cv);
    pthread_cond_broadcast(&pool->room_cv);
    size_t n = pool->nthreads;
    pthread_mutex_unlock(&pool->mu);
    for (size_t i = 0; i < n; i++)
        pthread_join(pool->threads[i], NULL);
    pthread_mutex_destroy(&pool->mu);
    pthread_cond_destroy(&pool->work_cv);
    pthread_cond_destroy(&pool->room_cv);
    pthread_cond_destroy(&pool->done_cv);
    free(pool->threads);
    free(pool);
}

size_t aw_pool_threads(aw_pool_t *pool) {
    pthread_mutex_lock(&pool->mu);
    size_t n = pool->nthreads;
    pthread_mutex_unlock(&pool->mu);
    return n;
}

size_t aw_pool_size(const aw_pool_t *pool) {
    return pool->max_threads;
}

/* Queues a job; returns 0, AW_EAGAIN when full, AW_EPIPE when stopping, AW_ENOMEM. */
static int enqueue_locked(aw_pool_t *pool, aw_work_t *w, aw_work_fn fn, void *arg) {
    if (pool->stopping)
        return AW_EPIPE;
    if (pool->qlen >= pool->qcap)
        return AW_EAGAIN;
    w->_fn = fn;
    w->_arg = arg;
    w->_result = NULL;
    w->_state = W_QUEUED;
    w->_next = NULL;
    w->_prev = pool->tail;
    if (pool->tail)
        pool->tail->_next = w;
    else
        pool->head = w;
    pool->tail = w;
    pool->qlen++;
    if (pool->qlen > pool->idle && pool->nthreads < pool->max_threads) {
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        /* Jobs are user code that may recurse or hold big buffers. */
        pthread_attr_setstacksize(&attr, 1u << 20);
        int rc = pthread_create(&pool->threads[pool->nthreads], &attr, worker, pool);
        pthread_attr_destroy(&attr);
        if (rc == 0) {
            pthread_setname_np(pool->threads[pool->nthreads], "aw-pool");
            pool->nthreads++;
        } else if (pool->nthreads == 0) {
            /* No thread will ever run it: take it back. */
            pool->head = pool->tail = NULL;
            pool->qlen = 0;
            w->_state = 0;
            return AW_ENOMEM;
        }
    }
    return 0;
}

/*
 * Wakes a worker for a job just queued. Callers signal after unlocking: a
 * worker woken under the lock would only run into the mutex (on a busy CPU,
 * after preempting the submitter).
 */
static void wake_worker(aw_pool_t *pool, int rc) {
    if (rc == 0)
        pthread_cond_signal(&pool->work_cv);
}

void aw_pool_stats(aw_pool_t *pool, aw_pool_stats_t *st) {
    pthread_mutex_lock(&pool->mu);
    st->threads = pool->nthreads;
    st->max_threads = pool->max_threads;
    st->busy = pool->nthreads - pool->idle;
    st->queued = pool->qlen;
    st->queue_cap = pool->qcap;
    st->room_waiters = 0;
    for (struct room_wait *rw = pool->rw_head; rw; rw = rw->next)
        st->room_waiters++;
    pthread_mutex_unlock(&pool->mu);
}

int aw_pool_try_submit(aw_pool_t *pool, aw_work_t *w, aw_work_fn fn, void *arg) {
    w->_waiter = NULL;
    pthread_mutex_lock(&pool->mu);
    int rc = enqueue_locked(pool, w, fn, arg);
    pthread_mutex_unlock(&pool->mu);
    wake_worker(pool, rc);
    return rc;
}

int aw_pool_submit(aw_pool_t *pool, aw_work_t *w, aw_work_fn fn, void *arg) {
    int rc;
    w->_waiter = NULL;
    pthread_mutex_lock(&pool->mu);
    while ((rc = enqueue_locked(pool, w, fn, arg)) == AW_EAGAIN)
        pthread_cond_wait(&pool->room_cv, &pool->mu);
    pthread_mutex_unlock(&pool->mu);
    wake_worker(pool, rc);
    return rc;
}

void *aw_pool_wait(aw_pool_t *pool, aw_work_t *w) {
    pthread_mutex_lock(&pool->mu);
    while (w->_state != W_DONE)
        pthread_cond_wait(&pool->done_cv, &pool->mu);
    void *result = w->_result;
    pthread_mutex_unlock(&pool->mu);
    return result;
}

int aw_pool_map(aw_pool_t *pool, aw_work_fn fn, void **args, void **results, size_t n) {
    aw_work_t *works = calloc(n ? n : 1, sizeof(*works));
    if (!works)
        return AW_ENOMEM;
    size_t submitted = 0;
    int rc = 0;
    for (; submitted < n; submitted++) {
        rc = aw_pool_submit(pool, &works[submitted], fn, args ? args[submitted] : NULL);
        if (rc)
            break;
    }
    for (size_t i = 0; i < submitted; i++) {
        void *r = aw_pool_wait(pool, &works[i]);
        if (results)
            results[i] = r;
    }
    free(works);
    return rc;
}

/* ---- from a task ---------------------------------------------------------------------------- */

static void job_done_cb(aw_post_t *post) {
    struct aw__pool_waiter *pw = (struct aw__pool_waiter *)(void *)post;
    pw->completed = true;
    aw__wake(pw->task, 0);
}

static void room_cb(aw_post_t *post) {
    struct room_wait *rw = (struct room_wait *)(void *)post;
    rw->granted = true;
    aw__wake(rw->task, 0);
}

/* Queues the job, waiting in FIFO order for room. Called and returns with pool->mu held. */
static int enqueue_from_task(aw_pool_t *pool, aw_work_t *w, aw_work_fn fn, void *arg, aw_task_t *t) {
    int rc = pool->rw_head ? AW_EAGAIN : enqueue_locked(pool, w, fn, arg);
    if (rc != AW_EAGAIN)
        return rc;
    struct room_wait rw = {.post.cb = room_cb, .task = t, .loop = t->loop, .work = w, .fn = fn,
                           .arg = arg, .linked = true};
    rw.prev = pool->rw_tail;
    if (pool->rw_tail)
        pool->rw_tail->next = &rw;
    else
        pool->rw_head = &rw;
    pool->rw_tail = &rw;
    pthread_mutex_unlock(&pool->mu);
    int r = aw__suspend(0, 0);
    pthread_mutex_lock(&pool->mu);
    if (rw.linked) { /* interrupted before any room came */
        if (rw.prev)
            rw.prev->next = rw.next;
        else
            pool->rw_head = rw.next;
        if (rw.next)
            rw.next->prev = rw.prev;
        else
            pool->rw_tail = rw.prev;
        return r;
    }
    if (!rw.granted) {
        /* The hand-over was posted to us but has not run: it points at our
         * stack, so wait for it. */
        pthread_mutex_unlock(&pool->mu);
        while (!rw.granted)
            aw__suspend(AW__UNINT, 0);
        pthread_mutex_lock(&pool->mu);
    }
    /* Queued on our behalf (or refused, if the pool is stopping). If we were
     * interrupted meanwhile, the caller's wait sees it and takes the job
     * back while it is still queued. */
    return rw.rc;
}

int aw_pool_run(aw_pool_t *pool, aw_work_fn fn, void *arg, void **result) {
    aw_task_t *t = aw_task_current();
    assert(t && "aw_pool_run() outside a task: use aw_pool_submit()");
    /* Already cancelled or out of time: the job must not even start. */
    int rc = aw__check_interrupt();
    if (rc)
        return rc;
    struct aw__pool_waiter pw = {.post.cb = job_done_cb, .task = t, .loop = t->loop};
    aw_work_t w;
    w._waiter = &pw;
    pthread_mutex_lock(&pool->mu);
    rc = enqueue_from_task(pool, &w, fn, arg, t);
    pthread_mutex_unlock(&pool->mu);
    if (rc)
        return rc;
    wake_worker(pool, 0);
    /* A job queued for us by a room hand-over may be done already: its
     * completion can be drained right behind the hand-over. */
    while (!pw.completed && rc == 0)
        rc = aw__suspend(0, 0);
    if (!pw.completed) {
        pthread_mutex_lock(&pool->mu);
        if (w._state == W_QUEUED) { /* never started: take it back */
            if (w._prev)
                w._prev->_next = w._next;
            else
                pool->head = w._next;
            if (w._next)
                w._next->_prev = w._prev;
            else
                pool->tail = w._prev;
            pool->qlen--;
            grant_room_locked(pool);
            pthread_mutex_unlock(&pool->mu);
            return rc;
        }
        pthread_mutex_unlock(&pool->mu);
        while (!pw.completed)
            aw__suspend(AW__UNINT, 0);
    } else {
        rc = 0;
    }
    if (result)
        *result = w._result;
    return rc;
}

/* ---- the default pool ------------------------------------------------------------------------- */

static pthread_mutex_t g_default_mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(aw_pool_t *) g_default;
static size_t g_default_size, g_default_queue;

aw_pool_t *aw_pool_default(void) {
    aw_pool_t *pool = atomic_load_explicit(&g_default, memory_order_acquire);
    if (pool)
        return pool;
    pthread_mutex_lock(&g_default_mu);
    pool = atomic_load_explicit(&g_default, memory_order_relaxed);
    if (!pool) {
        size_t size = g_default_size;
        const char *env = getenv("AW_POOL_SIZE");
        if (!size && env && atoi(env) > 0)
            size = (size_t)atoi(env);
        size_t queue = g_default_queue;
        const char *qenv = getenv("AW_POOL_QUEUE");
        if (!queue && qenv && atoi(qenv) > 0)
            queue = (size_t)atoi(qenv);
        pool = aw_pool_new(size, queue);
        atomic_store_explicit(&g_default, pool, memory_order_release);
    }
    pthread_mutex_unlock(&g_default_mu);
    return pool;
}

int aw_pool_set_default_size(size_t threads) {
    if (!threads)
        return AW_EINVAL;
    pthread_mutex_lock(&g_default_mu);
    int rc = atomic_load(&g_default) ? AW_EBUSY : 0;
    if (!rc)
        g_default_size = threads;
    pthread_mutex_unlock(&g_default_mu);
    return rc;
}

int aw_pool_set_default_queue(size_t queue) {
    if (!queue)
        return AW_EINVAL;
    pthread_mutex_lock(&g_default_mu);
    int rc = atomic_load(&g_default) ? AW_EBUSY : 0;
    if (!rc)
        g_default_queue = queue;
    pthread_mutex_unlock(&g_default_mu);
    return rc;
}

void aw_pool_shutdown_default(void) {
    pthread_mutex_lock(&g_default_mu);
    aw_pool_t *pool = atomic_exchange(&g_default, NULL);
    pthread_mutex_unlock(&g_default_mu);
    aw_pool_free(pool);
}

int aw_run_blocking_status(aw_work_fn fn, void *arg, void **result) {
    aw_pool_t *pool = aw_pool_default();
    if (!pool)
        return AW_ENOMEM;
    return aw_pool_run(pool, fn, arg, result);
}

void *aw_run_blocking(aw_work_fn fn, void *arg) {
    void *result = NULL;
    return aw_run_blocking_status(fn, arg, &result) == 0 ? result : NULL;
}
