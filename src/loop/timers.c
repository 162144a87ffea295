/* SPDX-License-Identifier: MIT */
/*
 * Timers: a 4-ary min-heap of timers embedded in their owners,
 * keyed by (due time, start order), so equal deadlines fire in the order
 * they were armed. Each timer knows its heap index, which makes stop and
 * re-arm O(log n) with no search and no allocation per timer; the heap array
 * itself grows by doubling.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>

#include "loop_internal.h"

/*
 * The heap holds each timer's key beside its pointer, so that comparisons
 * read only the heap array: the timers themselves live all over memory (in
 * task records on their own stack pages), and chasing them at every level
 * was the heap's main cost with 100,000 sleepers. A 4-ary heap halves the
 * levels again; the only writes to a timer are its index when it moves.
 */
struct aw__heap_entry {
    uint64_t due, seq;
    aw_timer_t *timer;
};

#define ARITY 4

static bool earlier(const struct aw__heap_entry *a, const struct aw__heap_entry *b) {
    return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void place(struct aw__heap_entry *heap, size_t i, struct aw__heap_entry e) {
    heap[i] = e;
    e.timer->_index = i;
}

static void sift_up(struct aw__heap_entry *heap, size_t i, struct aw__heap_entry e) {
    while (i > 0) {
        size_t parent = (i - 1) / ARITY;
        if (!earlier(&e, &heap[parent]))
            break;
        place(heap, i, heap[parent]);
        i = parent;
    }
    place(heap, i, e);
}

static void sift_down(struct aw__heap_entry *heap, size_t len, size_t i, struct aw__heap_entry e) {
    for (;;) {
        size_t first = ARITY * i + 1;
        if (first >= len)
            break;
        size_t best = first, end = first + ARITY < len ? first + ARITY : len;
        for (size_t c = first + 1; c < end; c++)
            if (earlier(&heap[c], &heap[best]))
                best = c;
        if (!earlier(&heap[best], &e))
            break;
        place(heap, i, heap[best]);
        i = best;
    }
    place(heap, i, e);
}

static void heap_remove(aw_loop_t *loop, aw_timer_t *t) {
    size_t i = t->_index;
    struct aw__heap_entry last = loop->heap[--loop->heap_len];
    t->_index = SIZE_MAX;
    if (last.timer == t)
        return;
    if (i > 0 && earlier(&last, &loop->heap[(i - 1) / ARITY]))
        sift_up(loop->heap, i, last);
    else
        sift_down(loop->heap, loop->heap_len, i, last);
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
        struct aw__heap_entry *heap = realloc(loop->heap, cap * sizeof(*heap));
        if (!heap)
            return AW_ENOMEM;
        loop->heap = heap;
        loop->heap_cap = cap;
    }
    t->_cb = cb;
    t->_due_ns = due_ns;
    t->_seq = loop->timer_seq++;
    struct aw__heap_entry e = {due_ns, t->_seq, t};
    sift_up(loop->heap, loop->heap_len++, e);
    if (t->_keeps_loop)
        loop->user_timers++;
    return 0;
}

int aw_timer_start(aw_timer_t *timer, aw_timer_cb cb, uint64_t ms, uint64_t repeat_ms) {
    if (!cb)
        return AW_EINVAL;
    /* Relative to a fresh clock: the loop's cached one lags behind while
     * the current iteration runs. */
    timer->_repeat_ns = repeat_ms >= UINT64_MAX / 1000000u ? UINT64_MAX / 2 : repeat_ms * 1000000u;
    return aw__timer_start_at(timer, cb, aw__ns_after_ms(ms));
}

void aw__timers_run(aw_loop_t *loop) {
    while (loop->heap_len && loop->heap[0].due <= loop->now_ns) {
        aw_timer_t *t = loop->heap[0].timer;
        aw_timer_stop(t);
        if (t->_repeat_ns) {
            /* From the due time, not from now, so a repeating timer keeps its
             * cadence; if the loop fell behind by more than a period, it
             * skips ahead instead of firing a burst. */
            uint64_t due = t->_due_ns + t->_repeat_ns;
            if (due < t->_due_ns)
                due = UINT64_MAX;
            else if (due <= loop->now_ns)
                due = loop->now_ns + t->_repeat_ns;
            aw__timer_start_at(t, t->_cb, due);
        }
        t->_cb(t);
    }
}

int aw__timers_next_ms(const aw_loop_t *loop) {
    if (!loop->heap_len)
        return -1;
    uint64_t due = loop->heap[0].due;
    uint64_t now = aw_now_ns();
    if (due <= now)
        return 0;
    uint64_t ms = (due - now + 999999) / 1000000;
    return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

void aw__timers_stop_user(aw_loop_t *loop) {
    /* A removal can move a not yet visited timer into a visited slot: rescan. */
    for (size_t i = 0; i < loop->heap_len;) {
        if (loop->heap[i].timer->_keeps_loop) {
            aw_timer_stop(loop->heap[i].timer);
            i = 0;
        } else {
            i++;
        }
    }
}
