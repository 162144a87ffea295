/* SPDX-License-Identifier: MIT */
/* Command-line options in uvicorn's spirit, with the HTTP limits. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awaitress/server.h"

void aw_server_options_init(aw_server_options_t *o) {
    memset(o, 0, sizeof(*o));
    o->host = "127.0.0.1";
    o->port = 8000;
    o->workers = 1;
    o->log_level = AW_LOG_INFO;
    o->access_log = AW_ACCESS_LOG_OFF;
    o->graceful_timeout_ms = 30000;
    o->watchdog_ms = 500;
    aw_http_config_init(&o->http);
}

static const char g_help[] =
    "Options:\n"
    "  --host HOST                 bind to this address [127.0.0.1]\n"
    "  --port PORT                 bind to this port; 0 picks a free one [8000]\n"
    "  --workers N                 worker processes; more than 1 adds a supervisor [1]\n"
    "  --backlog N                 listen() backlog [2048]\n"
    "  --log-level LEVEL           debug, info, warning, error or off [info]\n"
    "  --access-log[=FORMAT]       log each request, clf (default) or json [off]\n"
    "  --timeout-keep-alive S      close idle keep-alive connections after S seconds [75]\n"
    "  --limit-concurrency N       connections per worker; above it, accepting pauses [10000]\n"
    "  --graceful-timeout S        on SIGTERM, let requests finish for S seconds [30]\n"
    "  --drain-delay S             on SIGTERM, keep accepting S seconds (answering with\n"
    "                              Connection: close) before draining [0]\n"
    "  --readiness-path PATH       answer 200 there, and 503 once draining [none]\n"
    "  --watchdog-ms MS            warn when the loop is blocked this long; 0 is off [500]\n"
    "  --server-header NAME        the Server header; empty for none [awaitress]\n"
    "  --max-head-bytes N          request line and headers [8192]\n"
    "  --max-headers N             header fields [100]\n"
    "  --max-body-bytes N          request body [1048576]\n"
    "  --header-timeout S          to receive a request head [10]\n"
    "  --body-timeout S            between two reads of a body [30]\n"
    "  --write-timeout S           to write a response [30]\n"
    "  --help                      show this and exit\n"
    "\n"
    "Signals: SIGTERM or SIGINT stops gracefully (a second one stops at once), SIGQUIT stops\n"
    "at once. With --workers N > 1, a worker that dies is restarted.\n";

static int bad(const char *opt, const char *value, const char *why) {
    fprintf(stderr, "error: %s%s%s: %s (see --help)\n", opt, value ? " " : "", value ? value : "",
            why);
    return AW_EINVAL;
}

/* The options that take a value, so that an unknown one is not asked for a value first. */
static const char *const g_valued[] = {
    "--host", "--port", "--workers", "--backlog", "--log-level", "--timeout-keep-alive",
    "--limit-concurrency", "--graceful-timeout", "--drain-delay", "--readiness-path", "--watchdog-ms",
    "--server-header", "--max-head-bytes", "--max-headers", "--max-body-bytes",
    "--header-timeout", "--body-timeout", "--write-timeout",
};

static bool is_valued(const char *name) {
    for (size_t i = 0; i < sizeof(g_valued) / sizeof(g_valued[0]); i++)
        if (strcmp(name, g_valued[i]) == 0)
            return true;
    return false;
}

static int parse_long(const char *opt, const char *v, long min, long max, long *out) {
    char *end;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < min || n > max) {
        char why[96];
        snprintf(why, sizeof(why), "expected a whole number from %ld to %ld", min, max);
        return bad(opt, v, why);
    }
    *out = n;
    return 0;
}

/* Seconds, fractions allowed, into milliseconds. */
static int parse_seconds(const char *opt, const char *v, uint32_t *ms) {
    char *end;
    double s = strtod(v, &end);
    if (!*v || *end || s < 0 || s > 86400)
        return bad(opt, v, "expected seconds from 0 to 86400");
    *ms = (uint32_t)(s * 1000 + 0.5);
    return 0;
}

int aw_server_options_parse(aw_server_options_t *o, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            printf("Usage: %s [options]\n\n%s", argv[0], g_help);
            return 1;
        }
        if (strncmp(arg, "--access-log", 12) == 0 && (arg[12] == '\0' || arg[12] == '=')) {
            const char *fmt = arg[12] == '=' ? arg + 13 : "clf";
            if (strcmp(fmt, "clf") == 0 || strcmp(fmt, "common") == 0)
                o->access_log = AW_ACCESS_LOG_CLF;
            else if (strcmp(fmt, "json") == 0)
                o->access_log = AW_ACCESS_LOG_JSON;
            else
                return bad("--access-log", fmt, "expected clf or json");
            continue;
        }
        /* Every other option takes a value: --name VALUE or --name=VALUE. */
        const char *eq = strchr(arg, '=');
        char name[64];
        const char *v;
        if (strncmp(arg, "--", 2) != 0)
            return bad(arg, NULL, "unexpected argument");
        if (eq) {
            size_t n = (size_t)(eq - arg);
            if (n >= sizeof(name))
                return bad(arg, NULL, "unknown option");
            memcpy(name, arg, n);
            name[n] = '\0';
            v = eq + 1;
            if (!is_valued(name))
                return bad(name, NULL, "unknown option");
        } else {
            if (strlen(arg) >= sizeof(name) || !is_valued(arg))
                return bad(arg, NULL, "unknown option");
            strcpy(name, arg);
            if (i + 1 >= argc)
                return bad(name, NULL, "needs a value");
            v = argv[++i];
        }
        long n;
        int rc = 0;
        if (strcmp(name, "--host") == 0) {
            o->host = v;
        } else if (strcmp(name, "--port") == 0) {
            if (!(rc = parse_long(name, v, 0, 65535, &n)))
                o->port = (int)n;
        } else if (strcmp(name, "--workers") == 0) {
            if (!(rc = parse_long(name, v, 1, 512, &n)))
                o->workers = (int)n;
        } else if (strcmp(name, "--backlog") == 0) {
            if (!(rc = parse_long(name, v, 1, 1 << 20, &n)))
                o->http.backlog = (int)n;
        } else if (strcmp(name, "--log-level") == 0) {
            int level = aw_log_level_parse(v);
            if (level < 0)
                return bad(name, v, "expected debug, info, warning, error or off");
            o->log_level = level;
        } else if (strcmp(name, "--timeout-keep-alive") == 0) {
            rc = parse_seconds(name, v, &o->http.keepalive_timeout_ms);
        } else if (strcmp(name, "--limit-concurrency") == 0) {
            if (!(rc = parse_long(name, v, 1, 10000000, &n)))
                o->http.max_connections = (uint32_t)n;
        } else if (strcmp(name, "--graceful-timeout") == 0) {
            rc = parse_seconds(name, v, &o->graceful_timeout_ms);
        } else if (strcmp(name, "--drain-delay") == 0) {
            rc = parse_seconds(name, v, &o->http.drain_delay_ms);
        } else if (strcmp(name, "--readiness-path") == 0) {
            if (v[0] != '/')
                return bad(name, v, "must start with /");
            o->readiness_path = v;
        } else if (strcmp(name, "--watchdog-ms") == 0) {
            if (!(rc = parse_long(name, v, 0, 3600000, &n)))
                o->watchdog_ms = (uint32_t)n;
        } else if (strcmp(name, "--server-header") == 0) {
            o->http.server_name = v;
        } else if (strcmp(name, "--max-head-bytes") == 0) {
            if (!(rc = parse_long(name, v, 256, 1 << 20, &n)))
                o->http.max_head_bytes = (size_t)n;
        } else if (strcmp(name, "--max-headers") == 0) {
            if (!(rc = parse_long(name, v, 1, 256, &n)))
                o->http.max_headers = (size_t)n;
        } else if (strcmp(name, "--max-body-bytes") == 0) {
            if (!(rc = parse_long(name, v, 0, 1L << 40, &n)))
                o->http.max_body_bytes = (size_t)n;
        } else if (strcmp(name, "--header-timeout") == 0) {
            rc = parse_seconds(name, v, &o->http.header_timeout_ms);
        } else if (strcmp(name, "--body-timeout") == 0) {
            rc = parse_seconds(name, v, &o->http.body_timeout_ms);
        } else if (strcmp(name, "--write-timeout") == 0) {
            rc = parse_seconds(name, v, &o->http.write_timeout_ms);
        } else {
            return bad(name, NULL, "unknown option");
        }
        if (rc)
            return rc;
    }
    return 0;
}
