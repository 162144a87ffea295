/* SPDX-License-Identifier: MIT */
/* Running a server: options, listeners, worker processes, signals and graceful stop, access log. */
#ifndef AWAITRESS_SERVER_H
#define AWAITRESS_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "awaitress/http.h"

/*
 * aw_serve() turns a handler into a server process the way uvicorn does:
 * command-line options, one event loop per worker process, SO_REUSEPORT
 * listeners, a supervisor that restarts workers that die, SIGTERM/SIGINT
 * for a graceful stop (a second signal stops at once), an optional access
 * log and a loop watchdog that names what blocked the loop.
 */

enum aw_access_log { AW_ACCESS_LOG_OFF, AW_ACCESS_LOG_CLF, AW_ACCESS_LOG_JSON };

typedef struct aw_server_options {
    const char *host;             /* ["127.0.0.1"] */
    int port;                     /* [8000]; 0 picks a free port */
    int workers;                  /* worker processes [1]: more than one adds a supervisor */
    int log_level;                /* [AW_LOG_INFO] */
    int access_log;               /* enum aw_access_log [off] */
    uint32_t graceful_timeout_ms; /* in-flight requests may finish within it [30000] */
    const char *readiness_path;   /* answers 200, and 503 once draining; NULL: none */
    uint32_t watchdog_ms;         /* warn when the loop is blocked this long [500]; 0: off */
    aw_http_config_t http;        /* limits, timeouts, backlog, connection cap */
} aw_server_options_t;

/* Fills `o` with the defaults. */
AW_API void aw_server_options_init(aw_server_options_t *o);

/*
 * Parses uvicorn-style options into `o` (the values are borrowed from
 * argv): --host --port --workers --backlog --log-level --access-log[=clf|json]
 * --timeout-keep-alive (s) --limit-concurrency --graceful-timeout (s)
 * --readiness-path --watchdog-ms (0: off) --server-header, and the limits
 * --max-head-bytes --max-headers --max-body-bytes --header-timeout
 * --body-timeout --write-timeout (s, fractions allowed). Returns 0; 1 after
 * printing the help for --help (exit 0 then); AW_EINVAL after printing
 * what was wrong to stderr.
 */
AW_API int aw_server_options_parse(aw_server_options_t *o, int argc, char **argv);

/*
 * Serves handler(req, data) with options `o` until a signal stops it.
 * Prints "listening on http://HOST:PORT" on stdout once bound (the port
 * resolved if 0). Returns the process exit status: 0 after a graceful stop,
 * non-zero if it could not start.
 */
AW_API int aw_serve(const aw_server_options_t *o, aw_http_handler handler, void *data);

#endif
