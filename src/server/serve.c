/* SPDX-License-Identifier: MIT */
/*
 * aw_serve() and one worker's life: listener, loop, signals, graceful stop,
 * and the wrapper around the user's handler (readiness path, access log,
 * what the watchdog names).
 *
 * DESIGN
 * With one worker (the default) the process is the worker. With more,
 * aw_serve() becomes the supervisor (workers.c) and each forked child runs
 * aw__worker_run().
 *
 * SIGTERM, SIGINT and SIGQUIT are blocked and read from a signalfd by the
 * worker's main task, so a signal is handled on the loop like any other
 * event: the first SIGTERM or SIGINT starts a graceful stop (no new
 * connections, idle ones closed, in-flight requests answered with
 * Connection: close within the grace period, the readiness path answering
 * 503), a second one or a SIGQUIT stops at once. Once the last connection
 * is gone the access log is flushed, the loop runs dry and the worker
 * returns 0. A supervised worker ignores SIGINT: Ctrl-C reaches the whole
 * process group, and its supervisor forwards a single SIGTERM.
 *
 * The handler wrapper costs nothing when the features are off; with the
 * watchdog on it reads the clock, copies method and path and takes an
 * uncontended mutex twice. The access log is fed by the HTTP layer's done
 * callback instead, so the server's own error responses are logged too.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "server_internal.h"

/* Lifespan hooks for every worker (aw__serve_set_lifespan), inherited through fork(). */
static int (*g_startup)(void *data);
static void (*g_shutdown)(void *data);
static void *g_hook_data;

void aw__serve_set_lifespan(int (*startup)(void *data), void (*shutdown)(void *data), void *data) {
    g_startup = startup;
    g_shutdown = shutdown;
    g_hook_data = data;
}

struct worker {
    const aw_server_options_t *o;
    int lfd;            /* the listener, until the server takes it */
    int ready_fd;       /* supervised: where to say we are up; -1 */
    bool supervised;
    const char *host;
    int bound;
    int status;         /* the worker's exit status */
    aw_http_handler handler;
    void *data;
    aw_http_server_t *srv;
    int sigfd;
    int signals; /* SIGTERM/SIGINT received */
    size_t readiness_len;
    bool log_on, watch_on;
    aw__access_log_t log;
    aw__watchdog_t watchdog;
};

/* ---- the handler wrapper ------------------------------------------------------------------- */

static bool is_readiness_probe(const struct worker *w, aw_http_req_t *req, aw_str_t path) {
    if (!w->readiness_len || path.len != w->readiness_len ||
        memcmp(path.ptr, w->o->readiness_path, path.len) != 0)
        return false;
    const char *m = aw_http_req_method(req);
    return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
}

/* 200 while serving, 503 once a stop began, so a load balancer takes us out before we go. */
static void answer_readiness(struct worker *w, aw_http_req_t *req) {
    bool draining = aw_http_server_draining(w->srv);
    aw_http_res_header(req, "Content-Type", "text/plain; charset=utf-8");
    aw_http_res_header(req, "Cache-Control", "no-store");
    if (draining)
        aw_http_respond(req, 503, "draining\n", 9);
    else
        aw_http_respond(req, 200, "ready\n", 6);
}

/* The address without the port, as access logs show it; "" if unknown. */
static void peer_text(aw_http_req_t *req, char *out, size_t size) {
    socklen_t len;
    const struct sockaddr *sa = aw_http_req_peer(req, &len);
    const void *addr = NULL;
    if (sa->sa_family == AF_INET)
        addr = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
    else if (sa->sa_family == AF_INET6)
        addr = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
    if (!addr || !inet_ntop(sa->sa_family, addr, out, (socklen_t)size))
        out[0] = '\0';
}

/* Called by the HTTP layer after every response, its own error responses included. */
static void log_access(aw_http_req_t *req, void *arg) {
    struct worker *w = arg;
    char remote[INET6_ADDRSTRLEN];
    peer_text(req, remote, sizeof(remote));
    struct aw__access_rec rec = {
        .remote = remote[0] ? remote : NULL,
        .method = aw_http_req_method(req),
        .target = aw_http_req_target(req),
        .version = aw_http_req_version(req),
        .status = aw_http_res_status(req),
        .bytes = (int64_t)aw_http_res_bytes(req),
        .duration_us = (aw_now_ns() - aw_http_req_start_ns(req)) / 1000u,
        .when = time(NULL),
    };
    aw__access_log_add(&w->log, &rec);
}

static void serve_request(aw_http_req_t *req, void *arg) {
    struct worker *w = arg;
    if (!w->readiness_len && !w->watch_on) {
        w->handler(req, w->data);
        return;
    }
    aw_str_t path = aw_http_req_path(req);
    /* The loop's clock is good enough to tell which handler started after
     * the loop last came back from epoll, and costs nothing to read. */
    uint64_t start_ns = w->watch_on ? aw_loop_now_ns(aw_loop_current()) : 0;
    if (is_readiness_probe(w, req, path)) {
        answer_readiness(w, req);
    } else if (w->watch_on) {
        struct aw__inflight rec;
        aw__watchdog_enter(&w->watchdog, &rec, aw_http_req_method(req), path, start_ns);
        w->handler(req, w->data);
        aw__watchdog_leave(&w->watchdog, &rec);
    } else {
        w->handler(req, w->data);
    }
}

/* ---- the worker's main task ---------------------------------------------------------------- */

/* Startup hooks, then the server starts accepting and we say we are up. */
static bool worker_start(struct worker *w) {
    if (g_startup) {
        int rc = g_startup(g_hook_data);
        if (rc) {
            aw_log(AW_LOG_ERROR, "startup failed: not serving");
            close(w->lfd);
            w->lfd = -1;
            w->status = 1;
            return false;
        }
    }
    int lfd = w->lfd;
    w->lfd = -1;
    if (aw_http_server_start(w->srv, lfd) < 0) { /* it closed lfd */
        aw_log(AW_LOG_ERROR, "cannot start the server: out of memory");
        w->status = AW__EXIT_BOOT;
        return false;
    }
    if (w->supervised) {
        pid_t self = getpid();
        ssize_t wr = write(w->ready_fd, &self, sizeof(self));
        (void)wr; /* the supervisor sees us die if something is that wrong */
        close(w->ready_fd);
        w->ready_fd = -1;
    } else {
        aw__print_listening(w->host, w->bound);
    }
    aw_log(AW_LOG_INFO, "serving on port %d (pid %d)", w->bound, (int)getpid());
    return true;
}

static void *worker_main(void *arg) {
    struct worker *w = arg;
    if (!worker_start(w)) {
        /* Hooks that did start may have left tasks behind: let shutdown stop them. */
        if (g_shutdown)
            g_shutdown(g_hook_data);
        aw_close(w->sigfd);
        w->sigfd = -1;
        return NULL;
    }
    if (w->o->access_log != AW_ACCESS_LOG_OFF) {
        if (aw__access_log_start(&w->log, w->o->access_log, STDOUT_FILENO) == 0) {
            w->log_on = true;
            aw_http_server_on_done(w->srv, log_access, w);
        }
        else
            aw_log(AW_LOG_ERROR, "access log: out of memory; running without it");
    }
    struct signalfd_siginfo si;
    for (;;) {
        /* While draining, look every 50 ms whether the last connection is gone. */
        aw_deadline_t d;
        aw_deadline_enter(&d, w->signals ? 50 : UINT64_MAX / 2000000);
        ssize_t n = aw_read(w->sigfd, &si, sizeof(si));
        aw_deadline_exit(&d);
        if (n == AW_ETIMEDOUT) {
            if (!aw_http_server_accepting(w->srv) && aw_http_server_connections(w->srv) == 0)
                break;
            continue;
        }
        if (n != (ssize_t)sizeof(si)) {
            aw_log(AW_LOG_ERROR, "reading signals: %s; stopping now",
                   n < 0 ? aw_strerror((int)n) : "short read");
            aw_http_server_shutdown(w->srv, 0);
            break;
        }
        int sig = (int)si.ssi_signo;
        if (sig != SIGQUIT && ++w->signals == 1) {
            aw_log(AW_LOG_INFO, "received %s: shutting down gracefully (%u ms grace)",
                   strsignal(sig), w->o->graceful_timeout_ms);
            aw_http_server_shutdown(w->srv, w->o->graceful_timeout_ms);
        } else {
            aw_log(AW_LOG_WARN, "received %s%s: stopping now", strsignal(sig),
                   sig == SIGQUIT ? "" : " again");
            w->signals++;
            aw_http_server_shutdown(w->srv, 0);
        }
        if (!aw_http_server_accepting(w->srv) && aw_http_server_connections(w->srv) == 0)
            break;
    }
    if (g_shutdown)
        g_shutdown(g_hook_data);
    aw_close(w->sigfd);
    w->sigfd = -1;
    if (w->log_on) {
        aw_http_server_on_done(w->srv, NULL, NULL);
        aw__access_log_stop(&w->log);
    }
    w->log_on = false;
    return NULL;
}

void aw__print_listening(const char *host, int port) {
    printf(strchr(host, ':') ? "listening on http://[%s]:%d\n" : "listening on http://%s:%d\n",
           host, port);
    fflush(stdout);
}

int aw__worker_run(const aw_server_options_t *o, const char *host, int port, bool supervised,
                   int ready_fd, aw_http_handler handler, void *data) {
    int rc = AW__EXIT_BOOT;
    aw_log_set_level(o->log_level);
    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGQUIT);
    if (supervised)
        signal(SIGINT, SIG_IGN);
    else
        sigaddset(&set, SIGINT);
    /* Before any thread starts, so that pool and watchdog threads inherit the mask. */
    sigprocmask(SIG_BLOCK, &set, NULL);

    struct worker w = {.o = o, .handler = handler, .data = data, .sigfd = -1, .lfd = -1,
                       .ready_fd = ready_fd, .supervised = supervised, .host = host};
    aw_loop_t *loop = NULL;
    w.readiness_len = o->readiness_path ? strlen(o->readiness_path) : 0;
    int lfd = aw_http_listen_tcp(host, port, o->http.backlog, supervised);
    if (lfd < 0) {
        aw_log(AW_LOG_ERROR, "cannot listen on %s:%d: %s", host, port, aw_strerror(lfd));
        goto out;
    }
    int bound = aw_http_listener_port(lfd);
    w.bound = bound;
    loop = aw_loop_new();
    if (!loop) {
        aw_log(AW_LOG_ERROR, "cannot start: out of memory or file descriptors");
        close(lfd);
        goto out;
    }
    w.srv = aw_http_server_new(&o->http, serve_request, &w);
    w.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (!w.srv || w.sigfd < 0) {
        aw_log(AW_LOG_ERROR, "cannot start: out of memory or file descriptors");
        close(lfd);
        goto out_free;
    }
    w.lfd = lfd;
    aw_task_t *main_task = aw_loop_spawn(loop, worker_main, &w);
    if (!main_task) {
        aw_log(AW_LOG_ERROR, "cannot start: out of memory");
        close(lfd);
        goto out_free;
    }
    aw_task_set_name(main_task, "server-main");
    aw_detach(main_task);
    if (o->watchdog_ms) {
        int wrc = aw__watchdog_start(&w.watchdog, loop, o->watchdog_ms);
        if (wrc == 0)
            w.watch_on = true;
        else
            aw_log(AW_LOG_WARN, "loop watchdog not started: %s", aw_strerror(wrc));
    }
    aw_loop_run(loop);
    aw__watchdog_stop(&w.watchdog);
    w.watch_on = false;
    ready_fd = w.ready_fd;
    rc = w.status;
    if (rc == 0)
        aw_log(AW_LOG_INFO, "stopped");
out_free:
    if (w.sigfd >= 0)
        close(w.sigfd);
    aw_http_server_free(w.srv);
    aw_loop_free(loop);
    aw_pool_shutdown_default();
out:
    if (ready_fd >= 0)
        close(ready_fd);
    return rc;
}

int aw_serve(const aw_server_options_t *o, aw_http_handler handler, void *data) {
    if (o->workers > 1)
        return aw__supervise(o, handler, data);
    int rc = aw__worker_run(o, o->host, o->port, false, -1, handler, data);
    return rc == AW__EXIT_BOOT ? 1 : rc;
}
