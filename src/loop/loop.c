/* SPDX-License-Identifier: MIT */
/*
 * The event loop: one iteration runs due timers, then the ready tasks, then
 * waits in epoll for fds, the next timer or a post from another thread.
 *
 * DESIGN
 * Each iteration: (1) refresh the cached clock and fire due timers, which
 * may wake tasks; (2) run ready tasks in FIFO order (task.c); (3) block in
 * epoll_wait, with a zero timeout if tasks are ready, else until the next
 * timer; (4) tasks that called aw_yield() become ready again, after the
 * poll, so a yield lets I/O in. File descriptors are registered once, edge-triggered, for both
 * directions (io.c); the wait only ever follows an EAGAIN, so no edge is
 * missed. Other threads talk to the loop only through aw_loop_post(): a
 * mutex-guarded list plus an eventfd write, done once per batch.
 */
#include <assert.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "loop_internal.h"

#define EVFD_TAG UINT64_MAX
#define MAX_EVENTS 256

static _Thread_local aw_loop_t *tl_loop;
/* The loop this thread made or ran last: aw_close() between runs must still find it. */
static _Thread_local aw_loop_t *tl_home;

uint64_t aw_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

aw_loop_t *aw_loop_current(void) {
    return tl_loop;
}

aw_loop_t *aw__loop_home(void) {
    return tl_loop ? tl_loop : tl_home;
}

aw_loop_t *aw_loop_new(void) {
    aw_loop_t *loop = calloc(1, sizeof(*loop));
    if (!loop)
        return NULL;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0)
        goto out_free;
    loop->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (loop->evfd < 0)
        goto out_close_ep;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u64 = EVFD_TAG};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->evfd, &ev) < 0)
        goto out_close_ev;
    pthread_mutex_init(&loop->post_lock, NULL);
    loop->now_ns = aw_now_ns();
    tl_home = loop;
    return loop;
out_close_ev:
    close(loop->evfd);
out_close_ep:
    close(loop->epfd);
out_free:
    free(loop);
    return NULL;
}

int aw_loop_free(aw_loop_t *loop) {
    if (!loop)
        return 0;
    if (loop->alive || loop->user_timers)
        return AW_EBUSY;
    if (tl_loop == loop)
        tl_loop = NULL;
    if (tl_home == loop)
        tl_home = NULL;
    close(loop->evfd);
    close(loop->epfd);
    aw__fds_free(loop);
    free(loop->heap);
    pthread_mutex_destroy(&loop->post_lock);
    free(loop);
    return 0;
}

void aw_loop_stop(aw_loop_t *loop) {
    loop->stop = true;
}

size_t aw_loop_alive(const aw_loop_t *loop) {
    return loop->alive;
}

void aw_loop_post(aw_loop_t *loop, aw_post_t *post) {
    post->_next = NULL;
    pthread_mutex_lock(&loop->post_lock);
    if (loop->post_tail)
        loop->post_tail->_next = post;
    else
        loop->post_head = post;
    loop->post_tail = post;
    bool signal = !loop->post_signaled;
    loop->post_signaled = true;
    pthread_mutex_unlock(&loop->post_lock);
    if (signal) {
        uint64_t one = 1;
        /* EAGAIN means the counter is already non-zero: the loop will wake. */
        ssize_t rc = write(loop->evfd, &one, sizeof(one));
        (void)rc;
    }
}

static void drain_posts(aw_loop_t *loop) {
    uint64_t n;
    ssize_t rc = read(loop->evfd, &n, sizeof(n));
    (void)rc;
    pthread_mutex_lock(&loop->post_lock);
    aw_post_t *p = loop->post_head;
    loop->post_head = loop->post_tail = NULL;
    loop->post_signaled = false;
    pthread_mutex_unlock(&loop->post_lock);
    while (p) {
        /* Read the link first: the callback may free or reuse the post. */
        aw_post_t *next = p->_next;
        p->cb(p);
        p = next;
    }
}

static bool has_work(const aw_loop_t *loop) {
    return loop->alive || loop->user_timers;
}

int aw_loop_run(aw_loop_t *loop) {
    aw_loop_t *outer = tl_loop;
    struct epoll_event events[MAX_EVENTS];
    tl_loop = tl_home = loop;
    loop->stop = false;
    atomic_store_explicit(&loop->busy_since_ns, aw_now_ns(), memory_order_relaxed);
    while (!loop->stop) {
        loop->now_ns = aw_now_ns();
        aw__timers_run(loop);
        aw__run_ready(loop);
        if (loop->stop || !has_work(loop))
            break;
        int timeout = loop->ready_head || loop->yield_head ? 0 : aw__timers_next_ms(loop);
        atomic_store_explicit(&loop->busy_since_ns, 0, memory_order_relaxed);
        int n = epoll_wait(loop->epfd, events, MAX_EVENTS, timeout);
        atomic_store_explicit(&loop->busy_since_ns, aw_now_ns(), memory_order_relaxed);
        for (int i = 0; i < n; i++) {
            if (events[i].data.u64 == EVFD_TAG)
                drain_posts(loop);
            else
                aw__fd_event(loop, (int)events[i].data.u64, events[i].events);
        }
        aw__requeue_yielded(loop);
    }
    atomic_store_explicit(&loop->busy_since_ns, 0, memory_order_relaxed);
    tl_loop = outer;
    return 0;
}

uint64_t aw_loop_now_ns(const aw_loop_t *loop) {
    return loop->now_ns;
}

uint64_t aw_loop_running_task_id(const aw_loop_t *loop) {
    return atomic_load_explicit(&loop->running_task_id, memory_order_relaxed);
}

uint64_t aw_loop_busy_since_ns(const aw_loop_t *loop) {
    return atomic_load_explicit(&loop->busy_since_ns, memory_order_relaxed);
}
