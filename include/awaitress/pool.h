/* SPDX-License-Identifier: MIT */
/* The blocking thread pool: FastAPI's run_in_threadpool, and plain CPU-parallel jobs. */
#ifndef AWAITRESS_POOL_H
#define AWAITRESS_POOL_H

#include <stdbool.h>
#include <stddef.h>

#include "awaitress/loop.h"

/*
 * A pool of threads for work that blocks or burns CPU (a blocking handler,
 * file I/O, a SQLite query, hashing). From a task, aw_run_blocking(fn, arg)
 * runs fn on a pool thread and suspends only that task; the loop serves the
 * others meanwhile. From plain C, submit jobs and wait for them.
 *
 * Threads start on demand, up to the pool's size. The queue is bounded: a
 * task that submits to a full queue waits (in FIFO order) for room, a plain
 * thread blocks. Job functions run on pool threads and must not touch loop
 * state; their completion reaches the loop through aw_loop_post().
 */

typedef struct aw_pool aw_pool_t;
typedef void *(*aw_work_fn)(void *arg);

/* A job; memory is the caller's. Fields with a leading _ are private. */
typedef struct aw_work {
    aw_work_fn _fn;
    void *_arg;
    void *_result;
    struct aw_work *_next, *_prev;
    int _state;
    struct aw__pool_waiter *_waiter; /* set for jobs a task awaits */
} aw_work_t;

enum { AW_POOL_DEFAULT_THREADS = 40, AW_POOL_DEFAULT_QUEUE = 1024 };

/*
 * Creates a pool of up to `threads` threads (0: 40) with room for `queue`
 * waiting jobs (0: 1024). Returns a new pool, or NULL on ENOMEM.
 */
AW_API aw_pool_t *aw_pool_new(size_t threads, size_t queue);

/*
 * Runs every job still queued, then joins all threads and frees the pool.
 * Nobody may submit meanwhile, and no task may be waiting on it. NULL is a
 * no-op. Any thread but a pool thread.
 */
AW_API void aw_pool_free(aw_pool_t *pool);

/*
 * The process-wide pool that aw_run_blocking() uses, created on first use
 * with AW_POOL_SIZE threads from the environment (default 40). NULL on ENOMEM.
 */
AW_API aw_pool_t *aw_pool_default(void);

/*
 * Sets the size of the default pool; takes effect if it was not created
 * yet. Returns 0, or AW_EBUSY once it exists, or AW_EINVAL for 0.
 */
AW_API int aw_pool_set_default_size(size_t threads);

/* The default pool's queue room (else $AW_POOL_QUEUE, else 1024); AW_EBUSY once it exists. */
AW_API int aw_pool_set_default_queue(size_t queue);

/* Frees the default pool (see aw_pool_free); the next use creates a new one. */
AW_API void aw_pool_shutdown_default(void);

/* A snapshot of a pool's load, for health checks and metrics. */
typedef struct aw_pool_stats {
    size_t threads;     /* started so far */
    size_t max_threads;
    size_t busy;        /* threads running a job now */
    size_t queued;      /* jobs waiting for a thread */
    size_t queue_cap;   /* room for waiting jobs */
    size_t room_waiters; /* tasks waiting for room in the queue */
} aw_pool_stats_t;

/* Fills `st` with the pool's load at this instant (under its lock). Any thread. */
AW_API void aw_pool_stats(aw_pool_t *pool, aw_pool_stats_t *st);

/* Threads started so far, and the configured maximum. Any thread. */
AW_API size_t aw_pool_threads(aw_pool_t *pool);
AW_API size_t aw_pool_size(const aw_pool_t *pool);

/*
 * Queues fn(arg) as job `w`, blocking while the queue is full. Returns 0,
 * or AW_EPIPE if the pool is shutting down. Plain threads only (a task would
 * block its loop: use aw_pool_run). `w` and `arg` are borrowed until
 * aw_pool_wait() returns.
 */
AW_API int aw_pool_submit(aw_pool_t *pool, aw_work_t *w, aw_work_fn fn, void *arg);

/* Like aw_pool_submit but returns AW_EAGAIN instead of blocking. Any thread. */
AW_API int aw_pool_try_submit(aw_pool_t *pool, aw_work_t *w, aw_work_fn fn, void *arg);

/* Blocks until job `w` has run and returns its result. Plain threads only. */
AW_API void *aw_pool_wait(aw_pool_t *pool, aw_work_t *w);

/*
 * Runs fn(args[i]) for i < n on the pool and waits for all, storing
 * results[i] (if not NULL). Returns 0, AW_ENOMEM or AW_EPIPE (nothing ran
 * then). Plain threads only.
 */
AW_API int aw_pool_map(aw_pool_t *pool, aw_work_fn fn, void **args, void **results, size_t n);

/*
 * From a task: runs fn(arg) on `pool` and suspends until it is done; stores
 * its result in *result. Returns 0, AW_EPIPE (pool shutting down),
 * AW_ECANCELED or AW_ETIMEDOUT. A job cancelled while still queued never
 * runs; one already running cannot be interrupted, so the task waits for it
 * to end and then returns AW_ECANCELED with the job's result in *result
 * (free what it allocated).
 */
AW_API int aw_pool_run(aw_pool_t *pool, aw_work_fn fn, void *arg, void **result);

/* aw_pool_run() on the default pool; returns the result, or NULL on any error. */
AW_API void *aw_run_blocking(aw_work_fn fn, void *arg);

/* aw_pool_run() on the default pool, with the status. */
AW_API int aw_run_blocking_status(aw_work_fn fn, void *arg, void **result);

#endif
