/* SPDX-License-Identifier: MIT */
/*
 * aw_serve(): one worker's life (listener, loop, signals, graceful stop).
 *
 * DESIGN
 * SIGTERM and SIGINT are blocked and read from a signalfd by a task, so a
 * signal is handled on the loop like any other event: the first starts a
 * graceful stop (no new connections, idle ones closed, in-flight requests
 * answered with Connection: close within the grace period), the second
 * stops at once. The loop then runs dry and aw_serve returns 0.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "awaitress/server.h"

struct worker {
    const aw_server_options_t *o;
    aw_http_server_t *srv;
    int sigfd;
    int signals;
};

static void *signal_main(void *arg) {
    struct worker *w = arg;
    struct signalfd_siginfo si;
    for (;;) {
        /* While draining, look every 50 ms whether the last connection is gone. */
        aw_deadline_t d;
        aw_deadline_enter(&d, w->signals ? 50 : UINT64_MAX / 2000000);
        ssize_t n = aw_read(w->sigfd, &si, sizeof(si));
        aw_deadline_exit(&d);
        if (n == AW_ETIMEDOUT) {
            if (aw_http_server_connections(w->srv) == 0)
                break;
            continue;
        }
        if (n != (ssize_t)sizeof(si))
            break;
        if (++w->signals == 1) {
            aw_log(AW_LOG_INFO, "received %s: shutting down gracefully (%u ms grace)",
                   strsignal((int)si.ssi_signo), w->o->graceful_timeout_ms);
            aw_http_server_shutdown(w->srv, w->o->graceful_timeout_ms);
        } else {
            aw_log(AW_LOG_WARN, "received %s again: stopping now", strsignal((int)si.ssi_signo));
            aw_http_server_shutdown(w->srv, 0);
        }
        if (aw_http_server_connections(w->srv) == 0)
            break;
    }
    aw_close(w->sigfd);
    return NULL;
}

int aw_serve(const aw_server_options_t *o, aw_http_handler handler, void *data) {
    aw_log_set_level(o->log_level);
    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);

    int lfd = aw_http_listen_tcp(o->host, o->port, o->http.backlog, o->workers > 1);
    if (lfd < 0) {
        aw_log(AW_LOG_ERROR, "cannot listen on %s:%d: %s", o->host, o->port, aw_strerror(lfd));
        return 1;
    }
    int port = aw_http_listener_port(lfd);
    aw_loop_t *loop = aw_loop_new();
    aw_http_server_t *srv = aw_http_server_new(&o->http, handler, data);
    int sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (!loop || !srv || sigfd < 0) {
        aw_log(AW_LOG_ERROR, "cannot start: out of resources");
        close(lfd);
        return 1;
    }
    if (aw_http_server_start(srv, lfd) < 0) {
        aw_log(AW_LOG_ERROR, "cannot start the server");
        return 1;
    }
    struct worker w = {o, srv, sigfd, 0};
    aw_detach(aw_loop_spawn(loop, signal_main, &w));
    const char *shown = strchr(o->host, ':') ? "[%s]" : "%s";
    char host[128];
    snprintf(host, sizeof(host), shown, o->host);
    printf("listening on http://%s:%d\n", host, port);
    fflush(stdout);
    aw_log(AW_LOG_INFO, "serving on http://%s:%d (pid %d)", host, port, (int)getpid());
    aw_loop_run(loop);
    aw_http_server_free(srv);
    aw_loop_free(loop);
    aw_pool_shutdown_default();
    aw_log(AW_LOG_INFO, "stopped");
    return 0;
}
