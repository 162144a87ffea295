/* SPDX-License-Identifier: MIT */
/*
 * The in-process test client (FastAPI's TestClient): requests go through
 * the whole stack over a socketpair, served by a real aw_http_server on a
 * loop the client owns.
 *
 * DESIGN
 * Each call runs the loop until its exchange task says stop, so tasks the
 * app leaves running (a startup hook's workers, background tasks) go on
 * between requests exactly as they would in a server, only paused while
 * the test itself runs. The connection is kept alive and reopened when the
 * server closed it (after a 413, a `Connection: close`...).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../http/client_internal.h"
#include "awaitress/error.h"
#include "web_internal.h"

struct aw_test_client {
    aw_app_t *app;
    aw_loop_t *loop;
    aw_http_server_t *srv;
    int fd;      /* our end of the pair; -1 until the first request */
    bool started;
};

struct aw_test_res {
    aw_response_t *res;
};

struct job {
    aw_test_client_t *tc;
    int kind; /* 0 startup, 1 request, 2 shutdown */
    const char *req;
    size_t len;
    bool head;
    aw_response_t *res;
    int rc;
};

static int open_pair(aw_test_client_t *tc) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        return AW_EMFILE;
    int rc = aw__http_server_adopt(tc->srv, sv[1]);
    if (rc < 0) {
        close(sv[0]);
        return rc;
    }
    tc->fd = sv[0];
    return 0;
}

static void *job_main(void *arg) {
    struct job *j = arg;
    aw_test_client_t *tc = j->tc;
    if (j->kind == 0) {
        j->rc = aw__app_startup(tc->app);
    } else if (j->kind == 2) {
        aw__app_shutdown(tc->app);
        j->rc = 0;
    } else {
        j->rc = tc->fd < 0 ? open_pair(tc) : 0;
        if (j->rc == 0)
            j->rc = aw__client_exchange(tc->fd, j->req, j->len, j->head, &j->res);
        if (j->rc == 0) {
            const char *conn = aw_response_header(j->res, "Connection");
            if (conn && strcasecmp(conn, "close") == 0) {
                aw_close(tc->fd);
                tc->fd = -1;
            }
        } else if (tc->fd >= 0) {
            aw_close(tc->fd);
            tc->fd = -1;
        }
    }
    aw_loop_stop(aw_loop_current());
    return NULL;
}

static int run_job(aw_test_client_t *tc, struct job *j) {
    j->tc = tc;
    aw_task_t *t = aw_loop_spawn(tc->loop, job_main, j);
    if (!t)
        return AW_ENOMEM;
    aw_detach(t);
    aw_loop_run(tc->loop);
    return j->rc;
}

aw_test_client_t *aw_test_client_new(aw_app_t *app) {
    if (aw_app_check(app) < 0)
        return NULL;
    aw_test_client_t *tc = calloc(1, sizeof(*tc));
    if (!tc)
        return NULL;
    /* As aw_serve() does: a write to a closed socket is an error, not a signal. */
    signal(SIGPIPE, SIG_IGN);
    tc->app = app;
    tc->fd = -1;
    tc->loop = aw_loop_new();
    tc->srv = aw_http_server_new(NULL, aw_app_handle, app);
    if (!tc->loop || !tc->srv) {
        aw_test_client_free(tc);
        return NULL;
    }
    struct job j = {.kind = 0};
    if (run_job(tc, &j) != 0) {
        aw_log(AW_LOG_ERROR, "test client: the app's startup failed");
        /* As a server does: the shutdown hooks stop what the hooks that ran started. */
        tc->started = true;
        aw_test_client_free(tc);
        return NULL;
    }
    tc->started = true;
    return tc;
}

void aw_test_client_free(aw_test_client_t *tc) {
    if (!tc)
        return;
    if (tc->loop) {
        if (tc->started) {
            struct job j = {.kind = 2};
            run_job(tc, &j);
        }
        if (tc->fd >= 0)
            close(tc->fd);
        tc->fd = -1;
        if (tc->srv) {
            /* Let the server see the close and its tasks end, then free it. */
            aw_http_server_shutdown(tc->srv, 0);
            aw_loop_run(tc->loop);
        }
        aw_http_server_free(tc->srv);
        aw_loop_free(tc->loop);
    }
    free(tc);
}

aw_test_res_t *aw_test_request(aw_test_client_t *tc, const char *method, const char *target,
                               const char *headers, const void *body, size_t len) {
    size_t cap = strlen(method) + strlen(target) + (headers ? strlen(headers) : 0) + len + 128;
    char *req = malloc(cap);
    if (!req)
        return NULL;
    int n = snprintf(req, cap, "%s %s HTTP/1.1\r\nHost: testserver\r\n%s", method, target,
                     headers ? headers : "");
    if (body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
        strcmp(method, "PATCH") == 0)
        n += snprintf(req + n, cap - (size_t)n, "Content-Length: %zu\r\n", len);
    n += snprintf(req + n, cap - (size_t)n, "\r\n");
    if (len)
        memcpy(req + n, body, len);
    struct job j = {.kind = 1, .req = req, .len = (size_t)n + len,
                    .head = strcmp(method, "HEAD") == 0};
    int rc = run_job(tc, &j);
    free(req);
    if (rc < 0) {
        aw_log(AW_LOG_ERROR, "test client: %s %s: %s", method, target, aw_strerror(rc));
        return NULL;
    }
    aw_test_res_t *r = malloc(sizeof(*r));
    if (!r) {
        aw_response_free(j.res);
        return NULL;
    }
    r->res = j.res;
    return r;
}

int aw_test_res_status(const aw_test_res_t *r) {
    return aw_response_status(r->res);
}

const char *aw_test_res_header(const aw_test_res_t *r, const char *name) {
    return aw_response_header(r->res, name);
}

const char *aw_test_res_body(const aw_test_res_t *r, size_t *len) {
    return aw_response_body(r->res, len);
}

json_t *aw_test_res_json(const aw_test_res_t *r) {
    size_t len;
    const char *b = aw_response_body(r->res, &len);
    return json_loadb(b, len, JSON_DECODE_ANY, NULL);
}

void aw_test_res_free(aw_test_res_t *r) {
    if (!r)
        return;
    aw_response_free(r->res);
    free(r);
}
