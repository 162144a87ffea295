/* SPDX-License-Identifier: MIT */
/*
 * Timers: a binary min-heap of pointers to timers embedded in their owners,
 * keyed by (due time, start order), so equal deadlines fire in the order
 * they were armed. Each timer knows its heap index, which makes stop and
 * re-arm O(log n) with no search and no allocation per timer; the heap array
 * itself grows by doubling.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>

#include "loop_internal.h"

static bool earlier(const aw_timer_t *a, const aw_timer_t *b) {
    return a->_due_ns < b->_due_ns || (a->_due_ns == b->_due_ns && a->_seq < b->_seq);
}

static void place(aw_timer_t **heap, size_t i, aw_timer_t *t) {
    heap[i] = t;
    t->_index = i;
}

static void sift_up(aw_timer_t **heap, size_t i) {
    aw_timer_t *t = heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!earlier(t, heap[parent]))
            break;
        place(heap, i, heap[parent]);
        i = parent;
    }
    place(heap, i, t);
}

static void sift_down(aw_timer_t **heap, size_t len, size_t i) {
    aw_timer_t *t = heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= len)
            break;
        if (child + 1 < len && earlier(heap[child + 1], heap[child]))
            child++;
        if (!earlier(heap[child], t))
            break;
        place(heap, i, heap[child]);
        i = child;
    }
    place(heap, i, t);
}

static void heap_remove(aw_loop_t *loop, aw_timer_t *t) {
    size_t i = t->_index;
    aw_timer_t *last = loop->heap[--loop->heap_len];
    t->_index = SIZE_MAX;
    if (last == t)
        return;
    place(loop->heap, i, last);
    if (i > 0 && earlier(last, loop->heap[(i - 1) / 2]))
        sift_up(loop->heap, i);
    else
        sift_down(loop->heap, loop->heap_len, i);
}

void aw_timer_init(aw_loop_t *loop, aw_timer_t *timer) {
    timer->_loop = loop;
    timer->_cb = NULL;
    timer->_due_ns = timer->_repeat_ns = timer->_seq = 0;
    timer->_index = SIZE_MAX;
    timer->_keeps_loop = true;
}

bool aw_timer_active(const aw_timer_t *timer) {
    return timer->_index != SIZE_MAX;
}

void aw_timer_stop(aw_timer_t *timer) {
    if (timer->_index == SIZE_MAX)
        return;
    heap_remove(timer->_loop, timer);
    if (timer->_keeps_loop)
        timer->_loop->user_timers--;
}

int aw__timer_start_at(aw_timer_t *t, aw_timer_cb cb, uint64_t due_ns) {
    aw_loop_t *loop = t->_loop;
    if (!cb)
        return AW_EINVAL;
    aw_timer_stop(t);
    if (loop->heap_len == loop->heap_cap) {
        size_t cap = loop->heap_cap ? loop->heap_cap * 2 : 64;
        aw_timer_t **heap = realloc(loop->heap, cap * sizeof(*heap));
        if (!heap)
            return AW_ENOMEM;
        loop->heap = heap;
        loop->heap_cap = cap;
    }
    t->_cb = cb;
    t->_due_ns = due_ns;
    t->_seq = loop->timer_seq++;
    place(loop->heap, loop->heap_len++, t);
    sift_up(loop->heap, t->_index);
    if (t->_keeps_loop)
        loop->user_timers++;
    return 0;
}

int aw_timer_start(aw_timer_t *timer, aw_timer_cb cb, uint64_t ms, uint64_t repeat_ms) {
    /* Relative to a fresh clock: the loop's cached one lags behind while
     * the current iteration runs. */
    timer->_repeat_ns = repeat_ms * 1000000u;
    return aw__timer_start_at(timer, cb, aw_now_ns() + ms * 1000000u);
}

void aw__timers_run(aw_loop_t *loop) {
    while (loop->heap_len && loop->heap[0]->_due_ns <= loop->now_ns) {
        aw_timer_t *t = loop->heap[0];
        aw_timer_stop(t);
        if (t->_repeat_ns) {
            /* From the due time, not from now, so a repeating timer keeps its
             * cadence; if the loop fell behind by more than a period, it
             * skips ahead instead of firing a burst. */
            uint64_t due = t->_due_ns + t->_repeat_ns;
            if (due <= loop->now_ns)
                due = loop->now_ns + t->_repeat_ns;
            aw__timer_start_at(t, t->_cb, due);
        }
        t->_cb(t);
    }
}

int aw__timers_next_ms(const aw_loop_t *loop) {
    if (!loop->heap_len)
        return -1;
    uint64_t due = loop->heap[0]->_due_ns;
    uint64_t now = aw_now_ns();
    if (due <= now)
        return 0;
    uint64_t ms = (due - now + 999999) / 1000000;
    return ms > INT32_MAX ? INT32_MAX : (int)ms;
}
