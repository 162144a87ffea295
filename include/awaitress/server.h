/* SPDX-License-Identifier: MIT */
/* Running a server: options, listeners, worker processes, signals and graceful stop, access log. */
#ifndef AWAITRESS_SERVER_H
#define AWAITRESS_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "awaitress/http.h"
#include "awaitress/web.h"

/*
 * aw_serve() turns a handler into a server process the way uvicorn does:
 * command-line options, one event loop per worker process, SO_REUSEPORT
 * listeners, a supervisor that restarts workers that die, SIGTERM/SIGINT
 * for a graceful stop (a second signal stops at once), an optional access
 * log and a loop watchdog that names what blocked the loop.
 *
 * Access log lines (stdout, written through the thread pool, so a slow
 * reader never blocks the loop; past 1 MiB waiting, lines are dropped and
 * the count is logged):
 *   clf   - - - [28/Nov/2026:23:29:27 +0000] "GET /x?y=1 HTTP/1.1" 200 13 1234
 *         (the last field is the handler's duration in microseconds)
 *   json  {"time":"2026-11-28T23:29:27Z","remote":null,"method":"GET",
 *          "target":"/x?y=1","version":"HTTP/1.1","status":200,"bytes":13,
 *          "duration_us":1234}
 * The remote address is "-" (null) for now.
 */

enum aw_access_log { AW_ACCESS_LOG_OFF, AW_ACCESS_LOG_CLF, AW_ACCESS_LOG_JSON };

typedef struct aw_server_options {
    const char *host;             /* ["127.0.0.1"] */
    int port;                     /* [8000]; 0 picks a free port */
    int workers;                  /* worker processes [1]: more than one adds a supervisor */
    int log_level;                /* [AW_LOG_INFO] */
    int access_log;               /* enum aw_access_log [off]: one line per request on stdout */
    uint32_t graceful_timeout_ms; /* in-flight requests may finish within it [30000] */
    const char *readiness_path;   /* answers 200, and 503 once draining; NULL: none */
    uint32_t watchdog_ms;         /* warn on stderr if the loop is stuck this long [500]; 0: off */
    aw_http_config_t http;        /* limits, timeouts, backlog, connection cap */
} aw_server_options_t;

/* Fills `o` with the defaults. */
AW_API void aw_server_options_init(aw_server_options_t *o);

/*
 * Parses uvicorn-style options into `o` (the values are borrowed from
 * argv): --host --port --workers --backlog --log-level --access-log[=clf|json]
 * --timeout-keep-alive (s) --limit-concurrency --graceful-timeout (s) --drain-delay (s)
 * --readiness-path --watchdog-ms (0: off) --server-header, and the limits
 * --max-head-bytes --max-headers --max-body-bytes --header-timeout
 * --body-timeout --write-timeout (s, fractions allowed). Returns 0; 1 after
 * printing the help for --help (exit 0 then); AW_EINVAL after printing
 * what was wrong to stderr.
 */
AW_API int aw_server_options_parse(aw_server_options_t *o, int argc, char **argv);

/*
 * Serves handler(req, data) with options `o` until a signal stops it.
 * Prints "listening on http://HOST:PORT" on stdout once every worker
 * listens (the port resolved if 0). Returns the process exit status: 0
 * after a stop, 1 if it could not start. `o` and `data` are borrowed for
 * the whole call.
 *
 * Signals: SIGTERM or SIGINT starts a graceful stop (no new connections,
 * in-flight requests finish within o->graceful_timeout_ms and are answered
 * with Connection: close, the readiness path answers 503); a second one, or
 * SIGQUIT, stops at once. aw_serve blocks these signals in the calling
 * thread (and SIGCHLD in a supervisor) and reads them itself.
 *
 * With o->workers > 1 the calling process becomes a supervisor that forks
 * the workers and never runs the handler itself. Call aw_serve before
 * starting any thread (fork() copies only the calling one). A worker process
 * never returns from aw_serve: it calls exit() with its status, so the rest
 * of main() runs once, in the supervisor. A worker that dies is logged and
 * restarted, after a back-off (500 ms doubling to 30 s) if it lived less
 * than 10 s; one that fails before the first start completes stops them all
 * (status 1). The supervisor forwards the first stop signal as SIGTERM and a
 * second as SIGQUIT, kills workers still alive o->graceful_timeout_ms + 5 s
 * after the first, and returns 0 once all are gone.
 *
 * The handler runs wrapped: GET and HEAD on o->readiness_path are answered
 * before it is called; with the access log on, a line is queued after it
 * returns (the duration is the handler's own run time); with the watchdog
 * on, its method and path are recorded while it runs, for the watchdog's
 * report. Requests the HTTP layer rejects itself (400, 408, 431, ...)
 * never reach the handler and are not logged.
 */
AW_API int aw_serve(const aw_server_options_t *o, aw_http_handler handler, void *data);

/* ---- serving a web app --------------------------------------------------------------------- */

/*
 * Serves `app` with options `o` as aw_serve() does, after checking its
 * declarations (a bad one: logged, returns 1). Each worker runs the app's
 * startup hooks on its loop before it accepts (a failure stops it: exit
 * status 1) and its shutdown hooks after the last connection is gone (also
 * after a failed startup, so hooks must cope with a partial start).
 * Returns the process exit status. `o` and `app` are borrowed.
 */
AW_API int aw_app_serve(aw_app_t *app, const aw_server_options_t *o);

/*
 * The whole main() of a web app: parses the server's command-line options
 * (--host --port --workers --log-level ... see aw_server_options_parse),
 * serves, frees the app, and returns the exit status (0 after --help).
 * Takes `app` (freed on every path).
 */
AW_API int aw_main(aw_app_t *app, int argc, char **argv);

#endif
