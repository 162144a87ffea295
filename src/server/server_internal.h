/* SPDX-License-Identifier: MIT */
/* Server internals shared by serve.c, workers.c, accesslog.c and watchdog.c. */
#ifndef AW_SERVER_INTERNAL_H
#define AW_SERVER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "awaitress/server.h"

#ifndef AW__HIDDEN
#define AW__HIDDEN __attribute__((visibility("hidden")))
#endif

/* ---- one worker (serve.c) ------------------------------------------------------------------ */

/* Exit status of a worker that could not start (bind, memory). */
#define AW__EXIT_BOOT 3

/*
 * Runs one worker on this thread: listens on host:port (SO_REUSEPORT when
 * `supervised`), serves until SIGTERM/SIGINT/SIGQUIT, and returns the exit
 * status (0 after a stop, AW__EXIT_BOOT if it could not start). When
 * `supervised`, SIGINT is ignored (the terminal sends it to the whole process
 * group; the supervisor forwards one signal), the "listening on" line is the
 * supervisor's, and once listening it writes its pid (a pid_t) to `ready_fd`
 * and closes it (-1: none).
 */
AW__HIDDEN int aw__worker_run(const aw_server_options_t *o, const char *host, int port,
                              bool supervised, int ready_fd, aw_http_handler handler, void *data);

/*
 * Hooks every worker runs on its loop: startup before it accepts (a
 * non-zero return stops the worker with exit status 1), shutdown once the
 * server has drained. Set before aw_serve(); NULL: none.
 */
AW__HIDDEN void aw__serve_set_lifespan(int (*startup)(void *data), void (*shutdown)(void *data),
                                       void *data);

/* Prints "listening on http://HOST:PORT" on stdout (HOST in brackets if IPv6) and flushes. */
AW__HIDDEN void aw__print_listening(const char *host, int port);

/* ---- the supervisor (workers.c) ------------------------------------------------------------ */

/* Serves with o->workers > 1 processes (see aw_serve). Returns the supervisor's exit status. */
AW__HIDDEN int aw__supervise(const aw_server_options_t *o, aw_http_handler handler, void *data);

/*
 * The delay before restarting a worker that died after `lived_ms`, given the
 * delay used last time (0 at first): 0 if it lived 10 s or more, else the
 * previous delay doubled, from 500 ms up to 30 s.
 */
AW__HIDDEN uint32_t aw__restart_delay_ms(uint64_t lived_ms, uint32_t prev_ms);

/* ---- the access log (accesslog.c) ---------------------------------------------------------- */

/* What one access-log line says about a request; every pointer is borrowed. */
struct aw__access_rec {
    const char *remote;   /* the client's address, or NULL: "-" (JSON null) */
    const char *method;
    aw_str_t target;
    int version;          /* 10 or 11 */
    int status;           /* 0: unknown, logged as "-" (JSON null) */
    int64_t bytes;        /* response body bytes; < 0: unknown */
    uint64_t duration_us; /* from the first byte read to the response queued */
    time_t when;          /* wall-clock second the request ended */
};

/* The longest line aw__access_format writes, newline included (one atomic pipe write). */
#define AW__ACCESS_LINE_MAX 2048

/*
 * Formats one line, newline-terminated, into out[AW__ACCESS_LINE_MAX] in
 * `format` (AW_ACCESS_LOG_CLF or AW_ACCESS_LOG_JSON). The remote address is
 * "-" (JSON null): the HTTP layer does not expose the peer. Quotes,
 * backslashes and control bytes in the target are escaped; a target too long
 * for the line is cut and ends with "...". Returns the length.
 */
AW__HIDDEN size_t aw__access_format(int format, const struct aw__access_rec *rec, char *out);

/*
 * The access log of one worker: lines are buffered in memory and written to
 * `fd` by a logger task through the thread pool, so the loop never blocks on
 * the log's reader. Loop thread only. Fields are private to accesslog.c.
 */
typedef struct aw__access_log {
    int format;
    int fd;
    char *buf; /* lines waiting, filled by the handlers */
    size_t len, cap;
    char *spare; /* the other buffer, written by a pool thread meanwhile */
    size_t spare_cap;
    uint64_t dropped; /* lines dropped since the last report */
    bool closing;
    aw_event_t wake;
    aw_task_t *task;
} aw__access_log_t;

/*
 * Starts the logger task on the current loop. Returns 0 or AW_ENOMEM. `log`
 * is borrowed until aw__access_log_stop() returns; `fd` too (not closed).
 */
AW__HIDDEN int aw__access_log_start(aw__access_log_t *log, int format, int fd);

/* Queues one line; drops it (and counts it) when 1 MiB is already waiting. */
AW__HIDDEN void aw__access_log_add(aw__access_log_t *log, const struct aw__access_rec *rec);

/* From a task: writes what is buffered, ends the logger task and frees the buffers. */
AW__HIDDEN void aw__access_log_stop(aw__access_log_t *log);

/* ---- the loop watchdog (watchdog.c) -------------------------------------------------------- */

/* The longest "METHOD /path" a watchdog report names; longer paths are cut. */
#define AW__ROUTE_MAX 120

/* A handler in flight; lives in the handler wrapper's frame. Private fields. */
struct aw__inflight {
    struct aw__inflight *prev, *next;
    uint64_t start_ns;
    uint64_t task_id;   /* the task serving it: matched against aw_loop_running_task_id */
    size_t route_len;
    bool cut; /* the path was longer than the record */
    char route[AW__ROUTE_MAX]; /* raw bytes; made printable only when reported */
};

/*
 * A thread that watches a loop through aw_loop_busy_since_ns() and warns
 * (aw_log) when the loop has not come back to epoll for longer than the
 * threshold, naming the request being served. Fields are private.
 */
typedef struct aw__watchdog {
    aw_loop_t *loop;
    uint32_t threshold_ms;
    pthread_t thread;
    bool running;
    pthread_mutex_t lock; /* guards stop, with cond */
    pthread_cond_t cond;
    bool stop;
    /* A spin lock for the list: the loop takes it twice per request, and a
     * mutex costs several times more; the watchdog holds it only to copy a
     * route when it reports, so the loop (almost) never spins. */
    atomic_flag inflight_lock;
    struct aw__inflight *inflight; /* most recently started first */
    size_t ninflight;
} aw__watchdog_t;

/*
 * Starts watching `loop` (borrowed: stop the watchdog before freeing it) on a
 * new thread, warning past `threshold_ms` (> 0). Returns 0 or a -errno.
 */
AW__HIDDEN int aw__watchdog_start(aw__watchdog_t *wd, aw_loop_t *loop, uint32_t threshold_ms);

/* Stops and joins the thread. A no-op if it was not started. */
AW__HIDDEN void aw__watchdog_stop(aw__watchdog_t *wd);

/*
 * Records that a handler for `method` `path` starts at `now_ns` (aw_now_ns).
 * `rec` is borrowed until aw__watchdog_leave(). Loop thread.
 */
AW__HIDDEN void aw__watchdog_enter(aw__watchdog_t *wd, struct aw__inflight *rec, const char *method,
                                   aw_str_t path, uint64_t now_ns);

/* Records that the handler of `rec` returned. Loop thread. */
AW__HIDDEN void aw__watchdog_leave(aw__watchdog_t *wd, struct aw__inflight *rec);

/*
 * Writes into out[cap] the name of the request most likely to hold up a loop
 * busy since `busy_since_ns`: the latest started at or after it (it started
 * in the iteration that blocks), else, if it is the only one, the only one in
 * flight, else a list of those in flight. Takes the watchdog's lock.
 */
AW__HIDDEN void aw__watchdog_culprit(aw__watchdog_t *wd, uint64_t busy_since_ns, char *out,
                                     size_t cap);

#endif
