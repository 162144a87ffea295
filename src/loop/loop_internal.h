/* SPDX-License-Identifier: MIT */
/* Loop internals shared by loop.c, timers.c, task.c, io.c, sync.c and the pool. */
#ifndef AW_LOOP_INTERNAL_H
#define AW_LOOP_INTERNAL_H

#include <pthread.h>

#include "../coro/coro_internal.h"
#include "awaitress/loop.h"

enum aw__task_state {
    AW__TASK_READY,   /* in the ready queue */
    AW__TASK_RUNNING, /* its coroutine is executing */
    AW__TASK_WAITING, /* suspended; only aw__wake() moves it on */
    AW__TASK_DONE,    /* its function returned; awaiting reaping */
};

enum aw__task_flags {
    AW__TASK_DETACHED = 1,
    AW__TASK_CANCEL = 2,      /* cancellation requested (sticky) */
    AW__TASK_CANCEL_SEEN = 4, /* a suspension point reported it */
    AW__TASK_FAILED = 8,      /* aw_fail() set the status */
    AW__TASK_UNINT = 16,      /* suspended where cancellation cannot reach */
    AW__TASK_REAPING = 32,    /* its awaiter holds it; nobody else may */
};

/* Someone suspended on a wait queue; lives on the waiting task's stack. */
struct aw__waiter {
    struct aw__waiter *next, *prev;
    aw_task_t *task;
    void *value;
    int status;
    bool linked; /* still in its queue */
    bool done;   /* the wait was satisfied (by whoever unlinked it) */
};

struct aw_task {
    aw_coro_t *coro;
    aw_loop_t *loop;
    aw_task_fn fn;
    void *arg;
    void *result;
    int status;
    int wake_status;
    int timer_status; /* what the task's timer reports when it fires */
    uint8_t state;
    uint8_t flags;
    uint16_t open_groups;
    uint16_t shields;     /* open aw_shield_enter() scopes */
    uint64_t deadline_ns; /* 0: none */
    aw_timer_t timer;
    aw_task_t *ready_next;
    aw_task_t *all_prev, *all_next; /* every unfinished task of the loop */
    aw_group_t *group;              /* owning group, or NULL */
    aw_task_t *sib_prev, *sib_next; /* in the group's list of live children */
    aw_waitq_t joiners;
};

/* One slot per file descriptor number the loop has waited on. */
struct aw__fdrec {
    aw_task_t *reader, *writer;
    void (*watch_cb)(void *data);
    void *watch_data;
    uint8_t registered;
    uint8_t pending_in; /* an input edge came while nobody waited or watched */
};

struct aw_loop {
    int epfd, evfd;
    _Atomic uint64_t busy_since_ns;   /* read by watchdog threads */
    _Atomic uint64_t running_task_id; /* likewise */
    uint64_t now_ns;
    bool stop;
    aw_task_t *ready_head, *ready_tail;
    aw_task_t *yield_head, *yield_tail; /* aw_yield()ed: ready again after the next poll */
    aw_task_t *all_tasks;
    size_t alive;
    aw_task_t *main_task; /* aw_run()'s: the loop stops when it finishes */
    bool closing;         /* aw_run()'s teardown: new tasks start cancelled */

    struct aw__heap_entry *heap; /* timers.c */
    size_t heap_len, heap_cap;
    uint64_t timer_seq;
    size_t user_timers; /* active timers that keep the loop running */

    struct aw__fdrec *fds;
    size_t nfds;

    pthread_mutex_t post_lock; /* guards the three fields below */
    aw_post_t *post_head, *post_tail;
    bool post_signaled;
};

/* Suspend flags. */
enum { AW__UNINT = 1 };

/*
 * Suspends the current task until aw__wake(). `wake_at_ns` (0: none) arms
 * the task's timer to wake it with status 0 then. Unless AW__UNINT is given,
 * a pending cancellation or an expired deadline returns at once, and the
 * deadline bounds the wait. Returns the status the waker passed.
 */
AW__HIDDEN int aw__suspend(int flags, uint64_t wake_at_ns);

/*
 * What the current task's next interruptible suspension would report at
 * once: AW_ECANCELED (marking it seen), AW_ETIMEDOUT, or 0. For waits that
 * must not even begin once interrupted, like queueing a pool job.
 */
AW__HIDDEN int aw__check_interrupt(void);

/* `ms` from now in nanoseconds on the monotonic clock, saturating instead of wrapping. */
AW__HIDDEN uint64_t aw__ns_after_ms(uint64_t ms);

/* Makes a WAITING task ready with `status`; a no-op for a task in any other state. */
AW__HIDDEN void aw__wake(aw_task_t *t, int status);

/* Appends a waiter for the current task to `q`. */
AW__HIDDEN void aw__waitq_push(aw_waitq_t *q, struct aw__waiter *w);

/* Unlinks `w` if it is still queued. */
AW__HIDDEN void aw__waitq_remove(aw_waitq_t *q, struct aw__waiter *w);

/*
 * Unlinks and returns the first waiter whose task is still WAITING, dropping
 * (unlinking, not done) those already woken by a cancel or timeout; NULL if
 * none is left.
 */
AW__HIDDEN struct aw__waiter *aw__waitq_pop(aw_waitq_t *q);

/* Marks `w` done with `status`/`value` and wakes its task. `w` must be unlinked. */
AW__HIDDEN void aw__waiter_finish(struct aw__waiter *w, int status, void *value);

/* Heap operations on the loop's timers (timers.c). */
AW__HIDDEN void aw__timers_run(aw_loop_t *loop);
AW__HIDDEN int aw__timers_next_ms(const aw_loop_t *loop); /* -1: none */
AW__HIDDEN int aw__timer_start_at(aw_timer_t *t, aw_timer_cb cb, uint64_t due_ns);
/* Stops every active timer that keeps the loop running (the program's, not tasks'). */
AW__HIDDEN void aw__timers_stop_user(aw_loop_t *loop);

/* Called by task.c when a task finishes, and by io.c. */
AW__HIDDEN void aw__fd_event(aw_loop_t *loop, int fd, uint32_t events);
AW__HIDDEN void aw__fds_free(aw_loop_t *loop);

/*
 * Spawns a task with `extra` bytes (a multiple of 16) reserved for the
 * caller at the top of its stack, not zeroed; *extra_out points at them.
 */
AW__HIDDEN aw_task_t *aw__spawn_ex(aw_loop_t *loop, aw_task_fn fn, void *arg, size_t extra,
                                   void **extra_out);

/*
 * Calls cb(data) on the loop thread when `fd` next becomes readable (or
 * hangs up) while no task waits on it: a connection between requests needs
 * no task. One watch per fd; cb NULL removes it. Returns 0 or -errno.
 */
AW__HIDDEN int aw__fd_watch(aw_loop_t *loop, int fd, void (*cb)(void *data), void *data);

/*
 * Returns whether an input edge on `fd` came while no task waited on it and
 * no watch was armed, and forgets it. A reader that saw a short read and no
 * such edge knows the socket is empty without another read().
 */
AW__HIDDEN bool aw__fd_take_pending(aw_loop_t *loop, int fd);

/* Records an input edge on `fd` that a watch callback saw but did not consume. */
AW__HIDDEN void aw__fd_mark_pending(aw_loop_t *loop, int fd);

/*
 * aw_wait_fd() without its poll(): waits for the next edge, so call it only
 * right after a read or write said EAGAIN (or a short read drained the fd).
 */
AW__HIDDEN int aw__wait_edge(int fd, int events);

/* Runs the ready queue (task.c). */
AW__HIDDEN void aw__run_ready(aw_loop_t *loop);

/* Moves the tasks that yielded to the ready queue, after the loop polled (task.c). */
AW__HIDDEN void aw__requeue_yielded(aw_loop_t *loop);

/* The loop running on this thread, else the one it made or ran last (loop.c). */
AW__HIDDEN aw_loop_t *aw__loop_home(void);

#endif
