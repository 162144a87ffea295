/* SPDX-License-Identifier: MIT */
/*
 * Tasks: coroutines scheduled by the loop, with await, gather, cancellation,
 * deadline scopes and groups.
 *
 * DESIGN
 * A task record lives at the top of its coroutine's stack (no allocation of
 * its own). The only way a task suspends is aw__suspend(): it marks the task
 * WAITING and yields to the scheduler; the only way back is aw__wake(), which
 * makes a WAITING task READY with a status and ignores tasks in any other
 * state, so the first wake-up wins. Whoever parks a task on a wait queue
 * records success in the waiter itself (waiter.done) before waking it. After
 * resuming, the task trusts that record, not the wake status: a value handed
 * over in the same iteration as a cancel is still received, and a waiter
 * interrupted by a cancel or a deadline is dropped from its queue by the next
 * waker instead of being handed anything.
 *
 * Cancellation is a sticky flag. Waits that must finish even so (reaping a
 * cancelled child, draining a group) suspend with AW__UNINT.
 */
#include <assert.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

#include "loop_internal.h"

#define RUN_BUDGET 4096

static _Thread_local aw_task_t *tl_task;

/* ---- wait queues --------------------------------------------------------------------------- */

void aw__waitq_push(aw_waitq_t *q, struct aw__waiter *w) {
    w->task = tl_task;
    w->next = NULL;
    w->prev = q->_tail;
    w->linked = true;
    w->done = false;
    w->status = 0;
    if (q->_tail)
        q->_tail->next = w;
    else
        q->_head = w;
    q->_tail = w;
}

void aw__waitq_remove(aw_waitq_t *q, struct aw__waiter *w) {
    if (!w->linked)
        return;
    if (w->prev)
        w->prev->next = w->next;
    else
        q->_head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        q->_tail = w->prev;
    w->linked = false;
}

struct aw__waiter *aw__waitq_pop(aw_waitq_t *q) {
    while (q->_head) {
        struct aw__waiter *w = q->_head;
        aw__waitq_remove(q, w);
        if (w->task->state == AW__TASK_WAITING)
            return w;
    }
    return NULL;
}

void aw__waiter_finish(struct aw__waiter *w, int status, void *value) {
    w->done = true;
    w->status = status;
    w->value = value;
    aw__wake(w->task, 0);
}

/* ---- scheduling ---------------------------------------------------------------------------- */

static void make_ready(aw_task_t *t) {
    aw_loop_t *loop = t->loop;
    t->state = AW__TASK_READY;
    t->ready_next = NULL;
    if (loop->ready_tail)
        loop->ready_tail->ready_next = t;
    else
        loop->ready_head = t;
    loop->ready_tail = t;
}

void aw__requeue_yielded(aw_loop_t *loop) {
    if (!loop->yield_head)
        return;
    if (loop->ready_tail)
        loop->ready_tail->ready_next = loop->yield_head;
    else
        loop->ready_head = loop->yield_head;
    loop->ready_tail = loop->yield_tail;
    loop->yield_head = loop->yield_tail = NULL;
}

void aw__wake(aw_task_t *t, int status) {
    if (t->state != AW__TASK_WAITING)
        return;
    t->wake_status = status;
    make_ready(t);
}

void aw__run_ready(aw_loop_t *loop) {
    /* A budget, so that tasks that keep yielding cannot starve I/O and timers. */
    for (int budget = RUN_BUDGET; loop->ready_head && budget > 0; budget--) {
        aw_task_t *t = loop->ready_head;
        loop->ready_head = t->ready_next;
        if (!loop->ready_head)
            loop->ready_tail = NULL;
        aw_task_t *outer = tl_task;
        t->state = AW__TASK_RUNNING;
        tl_task = t;
        atomic_store_explicit(&loop->running_task_id, t->coro->id, memory_order_relaxed);
        aw_coro_resume(t->coro);
        atomic_store_explicit(&loop->running_task_id, 0, memory_order_relaxed);
        tl_task = outer;
        if (t->state == AW__TASK_DONE && (t->flags & AW__TASK_DETACHED))
            aw_coro_free(t->coro);
    }
}

static void task_timer_cb(aw_timer_t *timer) {
    aw_task_t *t = (aw_task_t *)(void *)((char *)timer - offsetof(aw_task_t, timer));
    aw__wake(t, t->timer_status);
}

uint64_t aw__ns_after_ms(uint64_t ms) {
    uint64_t now = aw_now_ns();
    if (ms >= (UINT64_MAX - now) / 1000000u)
        return UINT64_MAX;
    return now + ms * 1000000u;
}

int aw__check_interrupt(void) {
    aw_task_t *t = tl_task;
    assert(t && "awaiting outside a task: use aw_run() or aw_async()");
    if (t->shields)
        return 0;
    if (t->flags & AW__TASK_CANCEL) {
        t->flags |= AW__TASK_CANCEL_SEEN;
        return AW_ECANCELED;
    }
    if (t->deadline_ns && t->deadline_ns <= aw_now_ns())
        return AW_ETIMEDOUT;
    return 0;
}

int aw__suspend(int flags, uint64_t wake_at_ns) {
    aw_task_t *t = tl_task;
    assert(t && "awaiting outside a task: use aw_run() or aw_async()");
    /* A coroutine resumed by hand inside a task would yield to its resumer,
     * leaving the task marked WAITING while it still runs. */
    assert(aw_coro_current() == t->coro && "awaiting from a nested coroutine");
    uint64_t at = wake_at_ns;
    t->timer_status = 0;
    if (t->shields)
        flags |= AW__UNINT;
    if (!(flags & AW__UNINT)) {
        int rc = aw__check_interrupt();
        if (rc)
            return rc;
        if (t->deadline_ns) {
            if (!at || t->deadline_ns < at) {
                at = t->deadline_ns;
                t->timer_status = AW_ETIMEDOUT;
            }
        }
    } else {
        t->flags |= AW__TASK_UNINT;
    }
    if (at && aw__timer_start_at(&t->timer, task_timer_cb, at) < 0) {
        t->flags &= ~AW__TASK_UNINT;
        return AW_ENOMEM;
    }
    t->state = AW__TASK_WAITING;
    t->wake_status = 0;
    aw_coro_yield();
    if (at)
        aw_timer_stop(&t->timer);
    t->flags &= ~AW__TASK_UNINT;
    if (t->wake_status == AW_ECANCELED)
        t->flags |= AW__TASK_CANCEL_SEEN;
    return t->wake_status;
}

/* ---- life cycle ---------------------------------------------------------------------------- */

static void group_child_done(aw_task_t *t);

static void finish(aw_task_t *t) {
    aw_loop_t *loop = t->loop;
    assert(t->open_groups == 0 && "a task returned without aw_group_wait() on its group");
    if (!(t->flags & AW__TASK_FAILED))
        t->status = (t->flags & AW__TASK_CANCEL_SEEN) ? AW_ECANCELED : 0;
    t->state = AW__TASK_DONE;
    if (t->all_prev)
        t->all_prev->all_next = t->all_next;
    else
        loop->all_tasks = t->all_next;
    if (t->all_next)
        t->all_next->all_prev = t->all_prev;
    loop->alive--;
    if (t->group)
        group_child_done(t);
    struct aw__waiter *w;
    while ((w = aw__waitq_pop(&t->joiners)))
        aw__waiter_finish(w, 0, NULL);
    if (t == loop->main_task)
        loop->stop = true;
}

static void *task_main(void *arg) {
    aw_task_t *t = arg;
    if (t->flags & AW__TASK_CANCEL)
        t->flags |= AW__TASK_CANCEL_SEEN; /* cancelled before it started: never runs */
    else
        t->result = t->fn(t->arg);
    finish(t);
    return NULL;
}

aw_task_t *aw__spawn_ex(aw_loop_t *loop, aw_task_fn fn, void *arg, size_t extra, void **extra_out) {
    void *x;
    size_t ts = (sizeof(aw_task_t) + 15) & ~(size_t)15;
    aw_coro_t *c = aw__coro_new_ex(task_main, NULL, ts + extra, &x);
    if (!c)
        return NULL;
    /* The task record sits just under the coroutine record; the owner's
     * extra bytes under that, so both share the stack's top page. */
    aw_task_t *t = (aw_task_t *)(void *)((char *)x + extra);
    memset(t, 0, sizeof(*t));
    if (extra_out)
        *extra_out = extra ? x : NULL;
    c->arg = t;
    t->coro = c;
    t->loop = loop;
    t->fn = fn;
    t->arg = arg;
    aw_timer_init(loop, &t->timer);
    t->timer._keeps_loop = false; /* the task itself keeps the loop going */
    t->all_next = loop->all_tasks;
    if (loop->all_tasks)
        loop->all_tasks->all_prev = t;
    loop->all_tasks = t;
    loop->alive++;
    if (loop->closing)
        t->flags |= AW__TASK_CANCEL; /* spawned by cleanup code during aw_run()'s teardown */
    make_ready(t);
    return t;
}

static aw_task_t *spawn(aw_loop_t *loop, aw_task_fn fn, void *arg) {
    return aw__spawn_ex(loop, fn, arg, 0, NULL);
}

aw_task_t *aw_loop_spawn(aw_loop_t *loop, aw_task_fn fn, void *arg) {
    return spawn(loop, fn, arg);
}

aw_task_t *aw_async(aw_task_fn fn, void *arg) {
    aw_loop_t *loop = tl_task ? tl_task->loop : aw_loop_current();
    assert(loop && "aw_async() needs a running loop: use aw_run() or aw_loop_spawn()");
    return spawn(loop, fn, arg);
}

/* Waits for `t` to finish. Returns 0, or the caller's interruption (then `t` still runs). */
static int wait_done(aw_task_t *t, int flags) {
    int rc = 0;
    while (t->state != AW__TASK_DONE && rc == 0) {
        struct aw__waiter w;
        aw__waitq_push(&t->joiners, &w);
        rc = aw__suspend(flags, 0);
        if (w.done)
            return 0;
        aw__waitq_remove(&t->joiners, &w);
    }
    return t->state == AW__TASK_DONE ? 0 : rc;
}

static void claim(aw_task_t *t) {
    assert(tl_task && "awaiting outside a task: use aw_run()");
    assert(t != tl_task && "a task cannot await itself");
    assert(!(t->flags & (AW__TASK_DETACHED | AW__TASK_REAPING)) && "task awaited twice or detached");
    t->flags |= AW__TASK_REAPING;
}

/* Frees a finished task, handing over its result and status. */
static void reap(aw_task_t *t, void **result, int *status) {
    if (result)
        *result = t->result;
    *status = t->status;
    aw_coro_free(t->coro);
}

/*
 * Waits for `t` to finish and frees it. Returns the caller's own
 * interruption (AW_ECANCELED, AW_ETIMEDOUT) or 0; *status gets t's status.
 * An interrupted caller cancels `t` and still waits for its end.
 */
static int join(aw_task_t *t, void **result, int *status) {
    claim(t);
    int rc = wait_done(t, 0);
    if (rc) {
        aw_cancel(t);
        wait_done(t, AW__UNINT);
    }
    reap(t, result, status);
    return rc;
}

int aw_await_status(aw_task_t *t, void **result) {
    int status, rc = join(t, result, &status);
    return rc ? rc : status;
}

void *aw_await(aw_task_t *t) {
    void *result = NULL;
    int status, rc = join(t, &result, &status);
    return rc || status ? NULL : result;
}

int aw_await_timeout(aw_task_t *t, uint64_t ms, void **result) {
    aw_deadline_t d;
    aw_deadline_enter(&d, ms);
    int rc = aw_await_status(t, result);
    aw_deadline_exit(&d);
    return rc;
}

int aw_gather(aw_task_t **tasks, size_t n, void **results) {
    int first = 0, rc = 0;
    for (size_t i = 0; i < n; i++)
        claim(tasks[i]);
    for (size_t i = 0; i < n && !rc; i++)
        rc = wait_done(tasks[i], 0);
    if (rc) {
        /* Interrupted: stop them all at once, then wait for each to unwind. */
        for (size_t i = 0; i < n; i++)
            aw_cancel(tasks[i]);
        for (size_t i = 0; i < n; i++)
            wait_done(tasks[i], AW__UNINT);
    }
    for (size_t i = 0; i < n; i++) {
        int status;
        reap(tasks[i], results ? &results[i] : NULL, &status);
        if (status && !first)
            first = status;
    }
    return rc ? rc : first;
}

void aw_detach(aw_task_t *t) {
    assert(!(t->flags & (AW__TASK_DETACHED | AW__TASK_REAPING)) && "task detached twice or awaited");
    if (t->state == AW__TASK_DONE)
        aw_coro_free(t->coro);
    else
        t->flags |= AW__TASK_DETACHED;
}

void aw_cancel(aw_task_t *t) {
    if (t->state == AW__TASK_DONE)
        return;
    t->flags |= AW__TASK_CANCEL;
    if (t->state == AW__TASK_WAITING && !(t->flags & AW__TASK_UNINT))
        aw__wake(t, AW_ECANCELED);
}

bool aw_task_done(const aw_task_t *t) {
    return t->state == AW__TASK_DONE;
}

aw_task_t *aw_task_current(void) {
    return tl_task;
}

uint64_t aw_task_id(const aw_task_t *t) {
    return aw_coro_id(t->coro);
}

void aw_task_set_name(aw_task_t *t, const char *name) {
    aw_coro_set_name(t->coro, name);
}

void aw_shield_enter(void) {
    aw_task_t *t = tl_task;
    assert(t && "aw_shield_enter outside a task");
    assert(t->shields < UINT16_MAX);
    t->shields++;
}

void aw_shield_exit(void) {
    aw_task_t *t = tl_task;
    assert(t && t->shields > 0 && "aw_shield_exit without aw_shield_enter");
    t->shields--;
}

bool aw_cancelled(void) {
    return tl_task && (tl_task->flags & AW__TASK_CANCEL);
}

void *aw_fail(int status) {
    assert(tl_task && status < 0);
    tl_task->status = status;
    tl_task->flags |= AW__TASK_FAILED;
    return NULL;
}

int aw_sleep_ms(uint64_t ms) {
    return aw__suspend(0, aw__ns_after_ms(ms));
}

int aw_yield(void) {
    aw_task_t *t = tl_task;
    int rc = aw__check_interrupt();
    if (rc)
        return rc;
    assert(aw_coro_current() == t->coro && "aw_yield() from a nested coroutine");
    /* Parked apart from the ready queue until the loop has polled once, so
     * that a yield lets I/O and timers in, not only the other ready tasks. */
    aw_loop_t *loop = t->loop;
    t->state = AW__TASK_READY;
    t->ready_next = NULL;
    if (loop->yield_tail)
        loop->yield_tail->ready_next = t;
    else
        loop->yield_head = t;
    loop->yield_tail = t;
    aw_coro_yield();
    /* A cancel that came while we sat in the ready queue could not wake us. */
    return aw__check_interrupt();
}

/* ---- deadlines ----------------------------------------------------------------------------- */

void aw_deadline_enter(aw_deadline_t *d, uint64_t ms) {
    aw_task_t *t = tl_task;
    assert(t && "aw_deadline_enter() outside a task");
    d->_task = t;
    d->_at_ns = aw__ns_after_ms(ms);
    d->_outer_ns = t->deadline_ns;
    if (!t->deadline_ns || d->_at_ns < t->deadline_ns)
        t->deadline_ns = d->_at_ns;
}

bool aw_deadline_exit(aw_deadline_t *d) {
    assert(d->_task == tl_task && "aw_deadline_exit() on another task's scope");
    d->_task->deadline_ns = d->_outer_ns;
    return aw_now_ns() >= d->_at_ns;
}

/* ---- groups -------------------------------------------------------------------------------- */

void aw_group_init(aw_group_t *g) {
    assert(tl_task && "a group belongs to a task");
    memset(g, 0, sizeof(*g));
    g->_owner = tl_task;
    tl_task->open_groups++;
}

int aw_group_spawn(aw_group_t *g, aw_task_fn fn, void *arg) {
    if (g->_cancelled)
        return AW_ECANCELED;
    aw_task_t *t = spawn(g->_owner->loop, fn, arg);
    if (!t)
        return AW_ENOMEM;
    t->flags |= AW__TASK_DETACHED;
    t->group = g;
    t->sib_next = g->_children;
    if (g->_children)
        g->_children->sib_prev = t;
    g->_children = t;
    g->_live++;
    return 0;
}

void aw_group_cancel(aw_group_t *g) {
    g->_cancelled = true;
    for (aw_task_t *c = g->_children; c; c = c->sib_next)
        aw_cancel(c);
}

static void group_child_done(aw_task_t *t) {
    aw_group_t *g = t->group;
    if (t->sib_prev)
        t->sib_prev->sib_next = t->sib_next;
    else
        g->_children = t->sib_next;
    if (t->sib_next)
        t->sib_next->sib_prev = t->sib_prev;
    g->_live--;
    /* A cancellation is the group's doing (or the loop's), not a failure. */
    if (t->status && t->status != AW_ECANCELED && !g->_status) {
        g->_status = t->status;
        aw_group_cancel(g);
    }
    if (g->_live == 0) {
        struct aw__waiter *w;
        while ((w = aw__waitq_pop(&g->_waiters)))
            aw__waiter_finish(w, 0, NULL);
    }
}

int aw_group_wait(aw_group_t *g) {
    assert(g->_owner == tl_task && "aw_group_wait() by a task that does not own the group");
    int rc = 0;
    while (g->_live) {
        struct aw__waiter w;
        aw__waitq_push(&g->_waiters, &w);
        int r = aw__suspend(rc ? AW__UNINT : 0, 0);
        aw__waitq_remove(&g->_waiters, &w);
        if (r && !w.done && !rc) {
            rc = r;
            aw_group_cancel(g);
        }
    }
    g->_owner->open_groups--;
    g->_owner = NULL;
    if (rc)
        return rc;
    if (g->_status)
        return g->_status;
    return g->_cancelled ? AW_ECANCELED : 0;
}

/* ---- asyncio.run ----------------------------------------------------------------------------- */

int aw_run(aw_task_fn fn, void *arg, void **result) {
    aw_loop_t *loop = aw_loop_new();
    if (!loop)
        return AW_ENOMEM;
    aw_task_t *main_task = spawn(loop, fn, arg);
    if (!main_task) {
        aw_loop_free(loop);
        return AW_ENOMEM;
    }
    loop->main_task = main_task;
    aw_loop_run(loop);
    loop->main_task = NULL;
    /* Whatever the main task left behind is cancelled and run to its end,
     * the main task too if the loop ran dry while it still waited. */
    loop->closing = true;
    for (aw_task_t *t = loop->all_tasks; t; t = t->all_next)
        aw_cancel(t);
    /* Timers armed by the program would keep the loop going forever. */
    aw__timers_stop_user(loop);
    while (loop->alive || loop->user_timers)
        aw_loop_run(loop);
    int status = main_task->status;
    if (result)
        *result = main_task->result;
    aw_coro_free(main_task->coro);
    aw_loop_free(loop);
    return status;
}
