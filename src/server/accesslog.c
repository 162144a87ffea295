/* SPDX-License-Identifier: MIT */
/*
 * The access log: one line per request, in Common Log Format or as JSON,
 * written to stdout without ever blocking the loop.
 *
 * DESIGN
 * Handlers append formatted lines to an in-memory buffer (loop thread). A
 * logger task owns the writing: when the first line arrives it waits up to
 * 100 ms for more (or until 32 KiB are waiting), swaps the buffer with a
 * spare one and writes the spare through the thread pool (aw_run_blocking),
 * so a slow or stalled reader of stdout holds up a pool thread, never the
 * loop. While that write runs, lines collect in the other buffer; past
 * 1 MiB they are dropped and counted, and the count is logged (stderr) after
 * the next write. Each write() is at most PIPE_BUF bytes cut at a line end,
 * so lines from several worker processes sharing a pipe never interleave.
 * An idle worker's logger sleeps on an event: no timer ticks.
 */
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server_internal.h"

#define FLUSH_BYTES (32 * 1024) /* write as soon as this much is waiting */
#define FLUSH_MS 100            /* else write the first line at most this late */
#define BUF_MIN (64 * 1024)     /* first allocation of a buffer */
#define BUF_MAX (1024 * 1024)   /* drop lines above this much waiting */
#define STALL_MS 2000           /* give up a batch when stdout takes nothing this long */

/* ---- formatting ------------------------------------------------------------------------------ */

/* A bounded writer into a line buffer. */
struct out {
    char *p, *end;
};

static void put(struct out *o, const char *s, size_t n) {
    size_t room = (size_t)(o->end - o->p);
    if (n > room)
        n = room;
    memcpy(o->p, s, n);
    o->p += n;
}

static void puts_(struct out *o, const char *s) {
    put(o, s, strlen(s));
}

static void putf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct out *o, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    size_t room = (size_t)(o->end - o->p);
    int n = vsnprintf(o->p, room, fmt, ap);
    va_end(ap);
    /* vsnprintf NUL-terminates within room: the NUL is not part of the line. */
    if (n > 0)
        o->p += (size_t)n < room ? (size_t)n : room ? room - 1 : 0;
}

/*
 * Escapes `s` into at most `budget` bytes: for JSON as \" \\ \u00XX, for CLF
 * as \" \\ \xXX (what nginx does with request lines). Cuts the text with
 * "..." when it does not fit.
 */
static void put_escaped(struct out *o, bool json, const char *s, size_t n, size_t budget) {
    size_t room = (size_t)(o->end - o->p);
    if (budget > room)
        budget = room;
    char *start = o->p;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        size_t len;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            len = 2;
        } else if (c < 0x20 || c >= 0x7f) {
            len = (size_t)snprintf(esc, sizeof(esc), json ? "\\u%04x" : "\\x%02X", c);
        } else {
            esc[0] = (char)c;
            len = 1;
        }
        /* Keep 3 bytes for "..." unless this is the last byte and it fits. */
        size_t used = (size_t)(o->p - start);
        if (used + len + (i + 1 < n ? 3 : 0) > budget) {
            if (used + 3 <= budget)
                put(o, "...", 3);
            return;
        }
        memcpy(o->p, esc, len);
        o->p += len;
    }
}

/* Per-thread cache of the formatted time, so a busy second formats it once. */
static _Thread_local struct {
    time_t sec;
    char clf[40]; /* 28/Nov/2026:23:29:27 +0000 */
    char iso[32]; /* 2026-11-28T23:29:27Z */
} tl_time = {-1, "", ""};

static void format_time(time_t when) {
    if (tl_time.sec == when)
        return;
    struct tm tm;
    gmtime_r(&when, &tm);
    strftime(tl_time.clf, sizeof(tl_time.clf), "%d/%b/%Y:%H:%M:%S +0000", &tm);
    strftime(tl_time.iso, sizeof(tl_time.iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
    tl_time.sec = when;
}

size_t aw__access_format(int format, const struct aw__access_rec *rec, char *line) {
    /* The end leaves room for the newline, which is always written. */
    struct out o = {line, line + AW__ACCESS_LINE_MAX - 1};
    bool json = format == AW_ACCESS_LOG_JSON;
    const char *version = rec->version == 10 ? "HTTP/1.0" : "HTTP/1.1";
    const char *method = rec->method ? rec->method : "-";
    /* Everything but the target takes well under this. */
    size_t target_budget = AW__ACCESS_LINE_MAX - 256;
    format_time(rec->when);
    if (json) {
        putf(&o, "{\"time\":\"%s\",\"remote\":", tl_time.iso);
        if (rec->remote)
            putf(&o, "\"%s\"", rec->remote);
        else
            puts_(&o, "null");
        puts_(&o, ",\"method\":\"");
        put_escaped(&o, true, method, strlen(method), 64);
        puts_(&o, "\",\"target\":\"");
        put_escaped(&o, true, rec->target.ptr, rec->target.len, target_budget);
        putf(&o, "\",\"version\":\"%s\",\"status\":", version);
        if (rec->status > 0)
            putf(&o, "%d", rec->status);
        else
            puts_(&o, "null");
        puts_(&o, ",\"bytes\":");
        if (rec->bytes >= 0)
            putf(&o, "%lld", (long long)rec->bytes);
        else
            puts_(&o, "null");
        putf(&o, ",\"duration_us\":%llu}", (unsigned long long)rec->duration_us);
    } else {
        /* host ident authuser [date] "request" status bytes, then the duration like Apache's %D. */
        putf(&o, "%s - - [%s] \"", rec->remote ? rec->remote : "-", tl_time.clf);
        put_escaped(&o, false, method, strlen(method), 64);
        puts_(&o, " ");
        put_escaped(&o, false, rec->target.ptr, rec->target.len, target_budget);
        putf(&o, " %s\" ", version);
        if (rec->status > 0)
            putf(&o, "%d ", rec->status);
        else
            puts_(&o, "- ");
        if (rec->bytes >= 0)
            putf(&o, "%lld ", (long long)rec->bytes);
        else
            puts_(&o, "- ");
        putf(&o, "%llu", (unsigned long long)rec->duration_us);
    }
    *o.p++ = '\n';
    return (size_t)(o.p - line);
}

/* ---- writing --------------------------------------------------------------------------------- */

/* One batch for a pool thread. Only the pool thread touches it until the job is done. */
struct write_job {
    int fd;
    const char *data;
    size_t len;
    uint64_t dropped; /* lines not written: stdout stalled or failed */
};

static uint64_t count_lines(const char *p, const char *end) {
    uint64_t n = 0;
    while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        n++;
        p++;
    }
    return n;
}

/* Runs on a pool thread: may block, touches no loop state. */
static void *write_batch(void *arg) {
    struct write_job *j = arg;
    const char *p = j->data, *end = j->data + j->len;
    while (p < end) {
        size_t n = (size_t)(end - p);
        if (n > PIPE_BUF) {
            /* Lines are shorter than PIPE_BUF, so a line end is always in reach. */
            const char *cut = p + PIPE_BUF;
            while (cut > p && cut[-1] != '\n')
                cut--;
            n = (size_t)(cut - p);
        }
        struct pollfd pfd = {.fd = j->fd, .events = POLLOUT};
        int ready = poll(&pfd, 1, STALL_MS);
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready <= 0 || (pfd.revents & (POLLERR | POLLNVAL)))
            break;
        ssize_t w = write(j->fd, p, n);
        if (w < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            break;
        }
        p += w;
    }
    if (p < end) {
        /* A line cut by a short write counts as dropped too. */
        const char *from = p;
        while (from > j->data && from[-1] != '\n')
            from--;
        j->dropped = count_lines(from, end);
    }
    return NULL;
}

static void flush_once(aw__access_log_t *log) {
    char *data = log->buf;
    size_t cap = log->cap, len = log->len;
    log->buf = log->spare;
    log->cap = log->spare_cap;
    log->len = 0;
    log->spare = data;
    log->spare_cap = cap;
    struct write_job job = {log->fd, data, len, 0};
    int rc = aw_run_blocking_status(write_batch, &job, NULL);
    if (rc < 0 && rc != AW_ECANCELED)
        job.dropped = count_lines(data, data + len); /* the job never ran */
    log->dropped += job.dropped;
    if (log->dropped) {
        aw_log(AW_LOG_WARN, "access log: dropped %llu lines: stdout does not keep up%s%s",
               (unsigned long long)log->dropped, rc < 0 ? ": " : "", rc < 0 ? aw_strerror(rc) : "");
        log->dropped = 0;
    }
}

static void *logger_main(void *arg) {
    aw__access_log_t *log = arg;
    for (;;) {
        if (!log->len) {
            if (log->closing)
                break;
            if (aw_event_wait(&log->wake) < 0)
                log->closing = true;
            aw_event_clear(&log->wake);
            continue;
        }
        /* Lines are waiting: let more join them for up to FLUSH_MS. A wake-up
         * left over from while we were writing must not cut that short. */
        aw_event_clear(&log->wake);
        if (!log->closing && log->len < FLUSH_BYTES) {
            aw_deadline_t d;
            aw_deadline_enter(&d, FLUSH_MS);
            int rc = aw_event_wait(&log->wake);
            aw_deadline_exit(&d);
            if (rc == AW_ECANCELED)
                log->closing = true;
            aw_event_clear(&log->wake);
        }
        flush_once(log);
    }
    return NULL;
}

int aw__access_log_start(aw__access_log_t *log, int format, int fd) {
    memset(log, 0, sizeof(*log));
    log->format = format;
    log->fd = fd;
    aw_event_init(&log->wake);
    log->task = aw_async(logger_main, log);
    if (!log->task)
        return AW_ENOMEM;
    aw_task_set_name(log->task, "access-log");
    return 0;
}

/* Makes room for one more line. Returns false when the cap is reached or memory is short. */
static bool make_room(aw__access_log_t *log) {
    if (log->cap - log->len >= AW__ACCESS_LINE_MAX)
        return true;
    if (log->cap >= BUF_MAX)
        return false;
    size_t cap = log->cap ? log->cap * 2 : BUF_MIN;
    if (cap > BUF_MAX)
        cap = BUF_MAX;
    char *grown = realloc(log->buf, cap);
    if (!grown)
        return false;
    log->buf = grown;
    log->cap = cap;
    return true;
}

void aw__access_log_add(aw__access_log_t *log, const struct aw__access_rec *rec) {
    if (!log->task || log->closing)
        return;
    if (!make_room(log)) {
        log->dropped++;
        return;
    }
    bool was_empty = log->len == 0;
    log->len += aw__access_format(log->format, rec, log->buf + log->len);
    if (was_empty || log->len >= FLUSH_BYTES)
        aw_event_set(&log->wake);
}

void aw__access_log_stop(aw__access_log_t *log) {
    if (!log->task)
        return;
    log->closing = true;
    aw_event_set(&log->wake);
    aw_await(log->task);
    log->task = NULL;
    free(log->buf);
    free(log->spare);
    log->buf = log->spare = NULL;
    log->len = log->cap = log->spare_cap = 0;
}
