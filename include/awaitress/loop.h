/* SPDX-License-Identifier: MIT */
/* The event loop and tasks: async/await, gather, cancel, timeouts, groups, fd I/O, channels. */
#ifndef AWAITRESS_LOOP_H
#define AWAITRESS_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "awaitress/coro.h"
#include "awaitress/error.h"

/*
 * One loop per thread: epoll (edge-triggered), a ready queue, a timer heap on
 * CLOCK_MONOTONIC and an eventfd through which other threads post work.
 *
 * A task is a coroutine the loop schedules: aw_async(fn, arg) creates one and
 * queues it; aw_await(task) suspends the caller until it finishes. Every call
 * that may suspend (await, sleep, fd I/O, channels, events, semaphores, pool
 * jobs) returns a status: 0, or
 *   AW_ECANCELED  the task was cancelled (aw_cancel). Cancellation is sticky:
 *                 every later suspension point of that task fails the same
 *                 way at once, so the task unwinds by returning normally and
 *                 its cleanup code runs; nothing is unwound behind its back.
 *   AW_ETIMEDOUT  a deadline scope (aw_deadline_enter) ran out.
 * A wait that completed (a value received, a permit handed over) is never
 * reported as cancelled: nothing is lost when a cancel and a wake-up race.
 *
 * Ownership: aw_async returns a task handle that the caller owns. Exactly one
 * of aw_await*, aw_gather or aw_detach must be called on it; awaiting frees
 * the task (its stack goes back to the thread's cache) after handing over the
 * result. A detached task frees itself when it finishes. Tasks in a group
 * (aw_group_spawn) belong to the group.
 *
 * Thread rules: everything here runs on the loop's own thread, except
 * aw_loop_post(), which any thread may call.
 */

typedef struct aw_loop aw_loop_t;
typedef struct aw_task aw_task_t;

/* A task body: runs in its own coroutine; what it returns is the task's result. */
typedef void *(*aw_task_fn)(void *arg);

/* ---- the loop -------------------------------------------------------------------------- */

/* Creates a loop. Returns a new loop, or NULL (out of memory or file descriptors). */
AW_API aw_loop_t *aw_loop_new(void);

/*
 * Frees a loop with no live tasks or active timers. Returns 0, or AW_EBUSY
 * (and frees nothing) while some remain. NULL is a no-op returning 0.
 */
AW_API int aw_loop_free(aw_loop_t *loop);

/*
 * Runs the loop on the calling thread until no task is alive and no timer is
 * active, or until aw_loop_stop(). Returns 0.
 */
AW_API int aw_loop_run(aw_loop_t *loop);

/* Makes aw_loop_run() return after the current iteration. Loop thread only. */
AW_API void aw_loop_stop(aw_loop_t *loop);

/* Returns the loop running on this thread, or NULL. */
AW_API aw_loop_t *aw_loop_current(void);

/* Tasks that have not finished yet (running, ready or suspended). */
AW_API size_t aw_loop_alive(const aw_loop_t *loop);

/*
 * Runs fn(arg) as the main task of a new loop on this thread, like Python's
 * asyncio.run(): when the main task finishes, tasks still alive are
 * cancelled and awaited, and the loop is freed. Returns the main task's
 * status (0, AW_ECANCELED, an aw_fail() code) or AW_ENOMEM; *result (if
 * not NULL) receives its result.
 */
AW_API int aw_run(aw_task_fn fn, void *arg, void **result);

/*
 * When the loop last came back from waiting in epoll (aw_now_ns() time), or
 * 0 while it waits there: a watchdog on another thread can tell a loop that
 * idles from one that a blocking call holds up. Any thread.
 */
AW_API uint64_t aw_loop_busy_since_ns(const aw_loop_t *loop);

/*
 * The id of the task running on the loop right now, or 0 while the loop
 * runs its own code: with aw_loop_busy_since_ns(), a watchdog can name the
 * task that holds the loop. Any thread.
 */
AW_API uint64_t aw_loop_running_task_id(const aw_loop_t *loop);

/*
 * The loop's clock: aw_now_ns() as read at the start of the current loop
 * iteration. Free to read; behind the real time by what this iteration has
 * run so far. Loop thread.
 */
AW_API uint64_t aw_loop_now_ns(const aw_loop_t *loop);

/* Monotonic time in nanoseconds (CLOCK_MONOTONIC). Any thread. */
AW_API uint64_t aw_now_ns(void);

/* Work posted to a loop from any thread; the callback runs on the loop thread. */
typedef struct aw_post aw_post_t;
struct aw_post {
    void (*cb)(aw_post_t *post); /* set by the caller */
    aw_post_t *_next;
};

/*
 * Queues `post` to run post->cb(post) on the loop's thread, and wakes the
 * loop. Any thread. `post` is borrowed until its callback starts. The loop
 * must outlive the post: keep a task alive that waits for it.
 */
AW_API void aw_loop_post(aw_loop_t *loop, aw_post_t *post);

/* ---- timers (callbacks, for code outside tasks) ------------------------------------------ */

typedef struct aw_timer aw_timer_t;
typedef void (*aw_timer_cb)(aw_timer_t *timer);

/* Embed it in your own struct; fields with a leading _ are private. */
struct aw_timer {
    aw_loop_t *_loop;
    aw_timer_cb _cb;
    uint64_t _due_ns, _repeat_ns, _seq;
    size_t _index; /* position in the heap; SIZE_MAX while inactive */
    bool _keeps_loop;
    void *data; /* yours */
};

/* Prepares a timer on `loop`. Memory is the caller's; no close is needed. */
AW_API void aw_timer_init(aw_loop_t *loop, aw_timer_t *timer);

/*
 * Arms `timer` to call `cb` after `ms` milliseconds, then every `repeat_ms`
 * if non-zero. Re-arming an active timer moves it. Timers due at the same
 * time fire in the order they were started. Returns 0, or AW_EINVAL if `cb`
 * is NULL, or AW_ENOMEM. An active timer keeps aw_loop_run() going. Loop
 * thread only; `timer` is borrowed while active.
 */
AW_API int aw_timer_start(aw_timer_t *timer, aw_timer_cb cb, uint64_t ms, uint64_t repeat_ms);

/* Disarms a timer; a no-op when inactive. */
AW_API void aw_timer_stop(aw_timer_t *timer);

/* Returns true while the timer is armed. */
AW_API bool aw_timer_active(const aw_timer_t *timer);

/* ---- tasks ------------------------------------------------------------------------------ */

/*
 * Creates a task running fn(arg) on the current loop and queues it to run
 * (it starts when the caller next suspends or returns). Returns a new task
 * handle (see ownership above), or NULL when out of memory. `arg` is
 * borrowed: keep it alive until the task finishes. Loop thread only.
 */
AW_API aw_task_t *aw_async(aw_task_fn fn, void *arg);

/* Like aw_async() on a given loop, e.g. before aw_loop_run(). */
AW_API aw_task_t *aw_loop_spawn(aw_loop_t *loop, aw_task_fn fn, void *arg);

/*
 * Suspends until `t` finishes, frees it, and returns its result (NULL if it
 * failed or was cancelled before it returned). Use aw_await_status() to tell
 * the cases apart. From a task only.
 */
AW_API void *aw_await(aw_task_t *t);

/*
 * Suspends until `t` finishes, frees it, stores its result in *result (if
 * not NULL) and returns its status: 0, the code it failed with (aw_fail),
 * or AW_ECANCELED if it saw a cancellation. If the caller itself is
 * cancelled or times out while waiting, `t` is cancelled too and awaited to
 * its end (so it never outlives the caller), and the caller's AW_ECANCELED or
 * AW_ETIMEDOUT is returned, with whatever `t` returned in *result.
 */
AW_API int aw_await_status(aw_task_t *t, void **result);

/*
 * aw_await_status() with a deadline `ms` from now. On timeout `t` is
 * cancelled, awaited to its end and freed, and AW_ETIMEDOUT is returned
 * (like asyncio.wait_for).
 */
AW_API int aw_await_timeout(aw_task_t *t, uint64_t ms, void **result);

/*
 * Awaits every task in `tasks` (all are freed), storing their results in
 * results[i] if `results` is not NULL. Returns 0 if all succeeded, else the
 * first non-zero status in array order. If the caller is cancelled or times
 * out, the tasks not yet finished are cancelled and awaited before it
 * returns AW_ECANCELED or AW_ETIMEDOUT.
 */
AW_API int aw_gather(aw_task_t **tasks, size_t n, void **results);

/* Lets the task run on its own; it frees itself when it finishes. */
AW_API void aw_detach(aw_task_t *t);

/*
 * Asks `t` to stop: it sees AW_ECANCELED at its current suspension point, or
 * at its next one; a task that has not started yet never runs. Returns at
 * once; await the task to know it has finished. A no-op on a finished task.
 */
AW_API void aw_cancel(aw_task_t *t);

/* Returns true once the task's function has returned. */
AW_API bool aw_task_done(const aw_task_t *t);

/* Returns the task running now, or NULL outside tasks. */
AW_API aw_task_t *aw_task_current(void);

/* Returns the task's id (its coroutine's id). */
AW_API uint64_t aw_task_id(const aw_task_t *t);

/* Names the task for logs and overflow reports; `name` is borrowed (a literal is typical). */
AW_API void aw_task_set_name(aw_task_t *t, const char *name);

/* Returns true if the current task has been asked to cancel. */
AW_API bool aw_cancelled(void);

/*
 * Marks the current task as failed with `status` (a negative AW_E* code) and
 * returns NULL, so a body can `return aw_fail(AW_EIO);`. Its awaiter gets
 * the status; in a group, it cancels the siblings.
 */
AW_API void *aw_fail(int status);

/* Suspends the current task for `ms` milliseconds. Returns 0, AW_ECANCELED or AW_ETIMEDOUT. */
AW_API int aw_sleep_ms(uint64_t ms);

/* Lets the other ready tasks and I/O run, then continues. Returns 0 or AW_ECANCELED. */
AW_API int aw_yield(void);

/* ---- deadline scopes ---------------------------------------------------------------------- */

/* A deadline covering several awaits; lives on the caller's stack. Private fields. */
typedef struct aw_deadline {
    uint64_t _at_ns, _outer_ns;
    aw_task_t *_task;
} aw_deadline_t;

/*
 * Opens a scope: every suspension point of the current task that would wait
 * past `ms` from now returns AW_ETIMEDOUT instead (and does so at once after
 * the deadline). Scopes nest; the earliest deadline rules. Close it with
 * aw_deadline_exit() on every path, in reverse order of entry.
 */
AW_API void aw_deadline_enter(aw_deadline_t *d, uint64_t ms);

/* Closes the scope. Returns true if its deadline had passed. */
AW_API bool aw_deadline_exit(aw_deadline_t *d);

/*
 * Shields the current task: until the matching aw_shield_exit(), its
 * suspension points ignore cancellation and deadline scopes (a plain
 * aw_sleep_ms still sleeps its time), so cleanup code can await (close a
 * connection, commit, return something to a pool) after a cancel. A cancel
 * that came meanwhile stays pending and is reported by the first suspension
 * point after the shield. Scopes nest; exit them in reverse order.
 */
AW_API void aw_shield_enter(void);
AW_API void aw_shield_exit(void);

/* ---- task groups (structured concurrency) ------------------------------------------------- */

struct aw__waiter;
/* A FIFO of suspended tasks; private. */
typedef struct aw_waitq {
    struct aw__waiter *_head, *_tail;
} aw_waitq_t;

/* A set of child tasks that ends together; lives on the owner's stack. Private fields. */
typedef struct aw_group {
    aw_task_t *_owner;
    struct aw_task *_children; /* live children, linked through the tasks */
    size_t _live;
    int _status;
    bool _cancelled;
    aw_waitq_t _waiters;
} aw_group_t;

/* Opens a group owned by the current task, which must aw_group_wait() before it returns. */
AW_API void aw_group_init(aw_group_t *g);

/*
 * Starts fn(arg) as a child of the group. The child belongs to the group and
 * frees itself when it finishes. Returns 0, or AW_ENOMEM, or AW_ECANCELED if
 * the group is already cancelled (the child is then not started).
 */
AW_API int aw_group_spawn(aw_group_t *g, aw_task_fn fn, void *arg);

/* Cancels every child still running; later spawns fail. */
AW_API void aw_group_cancel(aw_group_t *g);

/*
 * Waits until every child has finished. The first child to fail (a non-zero
 * status other than a cancellation the group caused) cancels the others.
 * If the waiting task is cancelled or times out, the children are cancelled
 * and still awaited: no child outlives its group. Returns 0, the first
 * child's failure, or AW_ECANCELED / AW_ETIMEDOUT.
 */
AW_API int aw_group_wait(aw_group_t *g);

/* ---- awaitable fd I/O ------------------------------------------------------------------- */

enum { AW_READABLE = 1, AW_WRITABLE = 2 };

/*
 * Suspends until `fd` is readable and/or writable (AW_READABLE, AW_WRITABLE).
 * The fd must be non-blocking; it is registered with the loop on first use.
 * Close such an fd with aw_close(), so that the loop forgets it. Returns 0,
 * AW_ECANCELED, AW_ETIMEDOUT, AW_EBUSY if another task already waits the
 * same way on it, or a -errno from epoll.
 */
AW_API int aw_wait_fd(int fd, int events);

/* Reads up to `len` bytes. Returns the count (>0), 0 at end of file, or a negative AW_E* code. */
AW_API ssize_t aw_read(int fd, void *buf, size_t len);

/*
 * Writes all `len` bytes, waiting as needed. Returns `len`, or a negative
 * code; on an error the bytes written before it are lost to the caller.
 */
AW_API ssize_t aw_write(int fd, const void *buf, size_t len);

/*
 * Accepts a connection on a non-blocking listener. Returns the new fd
 * (non-blocking, close-on-exec), or a negative code. `addr` and `addrlen`
 * may be NULL.
 */
AW_API int aw_accept(int listen_fd, struct sockaddr *addr, socklen_t *addrlen);

/* Connects a non-blocking socket. Returns 0 or a negative code (AW_ECONNREFUSED, ...). */
AW_API int aw_connect(int fd, const struct sockaddr *addr, socklen_t addrlen);

/*
 * Forgets `fd` in the loop (a task waiting on it gets AW_EBADF) and closes
 * it. Returns 0 or -errno from close(). Usable outside tasks too.
 */
AW_API int aw_close(int fd);

/* ---- channels, events, semaphores (loop thread only) --------------------------------------- */

typedef struct aw_chan aw_chan_t;

/* Creates a channel holding up to `capacity` pointers (0: unbuffered rendezvous). NULL on ENOMEM. */
AW_API aw_chan_t *aw_chan_new(size_t capacity);

/* Frees a channel nobody waits on; values still buffered are dropped (they are yours). NULL is a no-op. */
AW_API void aw_chan_free(aw_chan_t *ch);

/*
 * Sends `value`, waiting while the channel is full. Returns 0 once the
 * channel holds the value (or a receiver took it), AW_EPIPE if the channel is
 * closed (the value was not sent), AW_ECANCELED or AW_ETIMEDOUT.
 */
AW_API int aw_chan_send(aw_chan_t *ch, void *value);

/* Sends without waiting. Returns 0, AW_EAGAIN when full, or AW_EPIPE when closed. */
AW_API int aw_chan_try_send(aw_chan_t *ch, void *value);

/*
 * Receives into *value, waiting while the channel is empty. Values are
 * received in the order they were sent. Returns 0, AW_EPIPE once the
 * channel is closed and drained, AW_ECANCELED or AW_ETIMEDOUT.
 */
AW_API int aw_chan_recv(aw_chan_t *ch, void **value);

/* Receives without waiting. Returns 0, AW_EAGAIN when empty, or AW_EPIPE when closed and drained. */
AW_API int aw_chan_try_recv(aw_chan_t *ch, void **value);

/* Closes the channel: waiting senders get AW_EPIPE; receivers drain what is buffered, then get AW_EPIPE. */
AW_API void aw_chan_close(aw_chan_t *ch);

/* Values buffered now. */
AW_API size_t aw_chan_len(const aw_chan_t *ch);

/* A one-bit flag tasks can wait for. Embed it; private fields. */
typedef struct aw_event {
    bool _set;
    aw_waitq_t _waiters;
} aw_event_t;

AW_API void aw_event_init(aw_event_t *ev);
/* Sets the flag and wakes every waiter. */
AW_API void aw_event_set(aw_event_t *ev);
/* Clears the flag; later waits block again. */
AW_API void aw_event_clear(aw_event_t *ev);
AW_API bool aw_event_is_set(const aw_event_t *ev);
/* Waits until the flag is set. Returns 0, AW_ECANCELED or AW_ETIMEDOUT. */
AW_API int aw_event_wait(aw_event_t *ev);

/* A counting semaphore with FIFO hand-over. Embed it; private fields. */
typedef struct aw_sem {
    size_t _count;
    aw_waitq_t _waiters;
} aw_sem_t;

AW_API void aw_sem_init(aw_sem_t *sem, size_t count);
/* Takes a permit, waiting in FIFO order while none is free. Returns 0, AW_ECANCELED or AW_ETIMEDOUT. */
AW_API int aw_sem_acquire(aw_sem_t *sem);
/* Takes a permit if one is free and nobody queues. Returns true if taken. */
AW_API bool aw_sem_try_acquire(aw_sem_t *sem);
/* Gives a permit back, to the first waiter if any. */
AW_API void aw_sem_release(aw_sem_t *sem);
/* Permits free now. */
AW_API size_t aw_sem_available(const aw_sem_t *sem);

#endif
