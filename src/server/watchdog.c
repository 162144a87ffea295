/* SPDX-License-Identifier: MIT */
/*
 * The loop watchdog: a thread per worker that warns when its event loop has
 * not come back to epoll for too long, and names what it was serving.
 *
 * DESIGN
 * The loop publishes, in an atomic, when it last came back from epoll_wait
 * (aw_loop_busy_since_ns: 0 while it waits there). This thread samples it
 * every threshold/4 (between 5 and 100 ms). A loop busy past the threshold
 * is one "episode": it is reported once when it crosses the threshold and
 * once when the loop comes back (its length is then known to within a
 * sample). The handler wrapper (serve.c) keeps the requests in flight in a
 * list under `lock`; each record lives in the wrapper's frame and is
 * unlinked before that frame goes. The loop does not say which task runs,
 * so the culprit is inferred: a request that started after the loop came
 * back from epoll started in the very iteration that blocks, which is the
 * usual case (a blocking call before the handler's first await); otherwise
 * the report lists the requests in flight. Lock order: only `lock`.
 */
#include <stdio.h>
#include <string.h>

#include "server_internal.h"

static void list_lock(aw__watchdog_t *wd) {
    while (atomic_flag_test_and_set_explicit(&wd->inflight_lock, memory_order_acquire)) {
    }
}

static void list_unlock(aw__watchdog_t *wd) {
    atomic_flag_clear_explicit(&wd->inflight_lock, memory_order_release);
}

static uint32_t tick_ms(uint32_t threshold_ms) {
    uint32_t t = threshold_ms / 4;
    return t < 5 ? 5 : t > 100 ? 100 : t;
}

/* "METHOD /path" of a record, printable (it goes to a log line). */
static int route_text(const struct aw__inflight *r, char *out, size_t cap) {
    size_t n = 0;
    for (; n < r->route_len && n + 4 < cap; n++) {
        unsigned char c = (unsigned char)r->route[n];
        out[n] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
    }
    if (r->cut && n + 4 <= cap) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
    return (int)n;
}

void aw__watchdog_culprit(aw__watchdog_t *wd, uint64_t busy_since_ns, char *out, size_t cap) {
    uint64_t running = wd->loop ? aw_loop_running_task_id(wd->loop) : 0;
    list_lock(wd);
    struct aw__inflight *latest = wd->inflight, *match = NULL;
    for (struct aw__inflight *r = latest; r && running; r = r->next)
        if (r->task_id == running)
            match = r;
    if (match) {
        route_text(match, out, cap); /* the task holding the loop right now */
    } else if (!latest) {
        snprintf(out, cap, "no request (a task or timer outside the handlers)");
    } else if (latest->start_ns >= busy_since_ns || wd->ninflight == 1) {
        route_text(latest, out, cap);
    } else {
        /* Some handler resumed and blocked; we cannot tell which. */
        int n = snprintf(out, cap, "one of %zu requests in flight:", wd->ninflight);
        size_t listed = 0;
        for (struct aw__inflight *r = latest; r && listed < 3 && n > 0 && (size_t)n + 8 < cap;
             r = r->next, listed++) {
            n += snprintf(out + n, cap - (size_t)n, "%s ", listed ? "," : "");
            n += route_text(r, out + n, cap - (size_t)n);
        }
        if (listed < wd->ninflight && n > 0 && (size_t)n + 6 < cap)
            snprintf(out + n, cap - (size_t)n, ", ...");
    }
    list_unlock(wd);
}

static void report_end(uint64_t episode, uint64_t now, const char *culprit) {
    aw_log(AW_LOG_WARN, "event loop unblocked after %llu ms (it was serving %s)",
           (unsigned long long)((now - episode) / 1000000u), culprit);
}

static void *watch_main(void *arg) {
    aw__watchdog_t *wd = arg;
    const uint64_t threshold_ns = (uint64_t)wd->threshold_ms * 1000000u;
    const uint32_t tick = tick_ms(wd->threshold_ms);
    uint64_t episode = 0; /* busy_since of the episode reported, 0: none */
    char culprit[4 * AW__ROUTE_MAX + 64] = "";

    pthread_mutex_lock(&wd->lock);
    while (!wd->stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += (long)tick * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&wd->cond, &wd->lock, &until);
        if (wd->stop)
            break;
        pthread_mutex_unlock(&wd->lock);

        uint64_t since = aw_loop_busy_since_ns(wd->loop);
        uint64_t now = aw_now_ns();
        if (episode && since != episode) {
            report_end(episode, now, culprit);
            episode = 0;
        }
        if (!episode && since && now > since && now - since > threshold_ns) {
            episode = since;
            aw__watchdog_culprit(wd, since, culprit, sizeof(culprit));
            aw_log(AW_LOG_WARN,
                   "event loop blocked for %llu ms while serving %s (a blocking call in an async "
                   "handler? use aw_run_blocking)",
                   (unsigned long long)((now - since) / 1000000u), culprit);
        }
        pthread_mutex_lock(&wd->lock);
    }
    pthread_mutex_unlock(&wd->lock);
    /* Stopped within a sample of the loop coming back: the loop has returned by now. */
    if (episode)
        report_end(episode, aw_now_ns(), culprit);
    return NULL;
}

int aw__watchdog_start(aw__watchdog_t *wd, aw_loop_t *loop, uint32_t threshold_ms) {
    memset(wd, 0, sizeof(*wd));
    wd->loop = loop;
    wd->threshold_ms = threshold_ms;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&wd->cond, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&wd->lock, NULL);
    atomic_flag_clear(&wd->inflight_lock);
    int rc = pthread_create(&wd->thread, NULL, watch_main, wd);
    if (rc != 0) {
        pthread_cond_destroy(&wd->cond);
        pthread_mutex_destroy(&wd->lock);
        return -rc;
    }
    wd->running = true;
    return 0;
}

void aw__watchdog_stop(aw__watchdog_t *wd) {
    if (!wd->running)
        return;
    pthread_mutex_lock(&wd->lock);
    wd->stop = true;
    pthread_cond_signal(&wd->cond);
    pthread_mutex_unlock(&wd->lock);
    pthread_join(wd->thread, NULL);
    pthread_cond_destroy(&wd->cond);
    pthread_mutex_destroy(&wd->lock);
    wd->running = false;
}

void aw__watchdog_enter(aw__watchdog_t *wd, struct aw__inflight *rec, const char *method,
                        aw_str_t path, uint64_t now_ns) {
    /* The record is not shared yet: fill it before taking the lock. This
     * runs for every request, so it copies raw bytes; making them printable
     * waits until a report needs them. */
    rec->start_ns = now_ns;
    aw_task_t *t = aw_task_current();
    rec->task_id = t ? aw_task_id(t) : 0;
    size_t m = strnlen(method, 16), n = path.len;
    if (m + 1 + n > sizeof(rec->route))
        n = sizeof(rec->route) - m - 1;
    memcpy(rec->route, method, m);
    rec->route[m] = ' ';
    memcpy(rec->route + m + 1, path.ptr, n);
    rec->route_len = m + 1 + n;
    rec->cut = n < path.len;
    rec->prev = NULL;
    list_lock(wd);
    rec->next = wd->inflight;
    if (wd->inflight)
        wd->inflight->prev = rec;
    wd->inflight = rec;
    wd->ninflight++;
    list_unlock(wd);
}

void aw__watchdog_leave(aw__watchdog_t *wd, struct aw__inflight *rec) {
    list_lock(wd);
    if (rec->prev)
        rec->prev->next = rec->next;
    else
        wd->inflight = rec->next;
    if (rec->next)
        rec->next->prev = rec->prev;
    wd->ninflight--;
    list_unlock(wd);
}
