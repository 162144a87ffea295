/* SPDX-License-Identifier: MIT */
/*
 * Connections: accept, read, parse, run the handler, respond, keep alive,
 * and go idle without a task; plus the request accessors and body reading.
 *
 * DESIGN
 * A connection is either busy (a task serves it: the task's stack holds the
 * read buffer, the parser and the output buffer) or idle (nothing but its
 * fd, a small record and an idle timer; the loop calls conn_wake when bytes
 * arrive). A busy connection serves requests until its input runs dry, then
 * writes what it owes and goes idle, so 10,000 idle keep-alive connections
 * cost a record each, not a stack.
 *
 * Per request: parse the head (header timeout), run the handler in the
 * same task, make sure the body was consumed (or close), queue the
 * response. Pipelined requests already buffered are handled before anything
 * is written: their responses leave together. After any framing error the
 * connection answers once and closes; bytes behind the bad request are
 * never parsed.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_internal.h"

#define REQ_EXTRA ((sizeof(struct aw_http_req) + 15) & ~(size_t)15)
#define DRAIN_MAX (64 * 1024) /* unread body we swallow to keep a connection */
#define LINGER_MS 2000         /* reading after an error response, so it is not reset away */
#define PARK_MS 200            /* a task waits this long (to twice it) for a next request */

void aw_http_config_init(aw_http_config_t *cfg) {
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_head_bytes = 8192;
    cfg->max_headers = 100;
    cfg->max_body_bytes = 1024 * 1024;
    cfg->max_chunk_ext_bytes = 1024;
    cfg->max_trailer_bytes = 4096;
    cfg->header_timeout_ms = 10000;
    cfg->keepalive_timeout_ms = 75000;
    cfg->body_timeout_ms = 30000;
    cfg->write_timeout_ms = 30000;
    cfg->max_connections = 10000;
    cfg->backlog = 2048;
    cfg->server_name = "awaitress";
}

/* ---- connection records ----------------------------------------------------------------------- */

static void *conn_main(void *arg);
static void conn_wake(void *data);

static void conn_free(struct aw__conn *c) {
    aw_http_server_t *srv = c->srv;
    aw_timer_stop(&c->idle_timer);
    aw_close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (srv->nconns-- == srv->cfg.max_connections)
        aw_event_set(&srv->room);
    free(c);
    if (srv->stopping && !srv->conns)
        aw_timer_stop(&srv->grace_timer); /* nothing left to wait for */
}

/*
 * The idle timer is lazy: going busy does not stop it and going idle does
 * not move it, which would cost two heap operations per keep-alive request.
 * When it fires, it checks how long the connection has really been idle.
 */
static void idle_timeout(aw_timer_t *t) {
    struct aw__conn *c = t->data;
    if (c->busy)
        return; /* the task re-arms it when the connection goes idle again */
    uint32_t limit = c->served ? c->srv->cfg.keepalive_timeout_ms : c->srv->cfg.header_timeout_ms;
    uint64_t idle_ms = (c->srv->loop->now_ns - c->idle_since_ns) / 1000000u;
    if (idle_ms < limit && aw_timer_start(t, idle_timeout, limit - idle_ms, 0) == 0)
        return;
    conn_free(c);
}

/* Spawns the task that serves a connection. Returns 0, or AW_ENOMEM (the connection is closed). */
static int conn_activate(struct aw__conn *c) {
    aw_task_t *t = aw__spawn_ex(c->srv->loop, conn_main, c, REQ_EXTRA, NULL);
    if (!t) {
        aw_log(AW_LOG_WARN, "http: out of memory for a connection task; closing fd %d", c->fd);
        conn_free(c);
        return AW_ENOMEM;
    }
    aw_task_set_name(t, "http-conn");
    aw_detach(t);
    c->busy = true;
    c->task = t;
    c->idle_since_ns = 0;
    return 0;
}

static void conn_wake(void *data) {
    conn_activate(data);
}

/* Parks a connection with nothing buffered until its next bytes arrive. */
static void conn_idle(struct aw__conn *c) {
    aw_http_server_t *srv = c->srv;
    c->busy = false;
    c->task = NULL;
    if (srv->stopping || aw__fd_watch(srv->loop, c->fd, conn_wake, c) < 0) {
        conn_free(c);
        return;
    }
    if (aw__fd_take_pending(srv->loop, c->fd)) {
        /* Bytes came while the task was on its way out: serve them now. */
        aw__fd_watch(srv->loop, c->fd, NULL, NULL);
        conn_activate(c);
        return;
    }
    if (!c->idle_since_ns)
        c->idle_since_ns = aw_now_ns(); /* unless a park already started the idle spell */
    if (aw_timer_active(&c->idle_timer))
        return; /* armed earlier: it re-arms itself for the rest of this idle spell */
    uint32_t ms = c->served ? srv->cfg.keepalive_timeout_ms : srv->cfg.header_timeout_ms;
    if (aw_timer_start(&c->idle_timer, idle_timeout, ms, 0) < 0)
        conn_free(c);
}

/* ---- the request accessors -------------------------------------------------------------------- */

const struct sockaddr *aw_http_req_peer(const aw_http_req_t *r, socklen_t *len) {
    *len = r->conn->peer_len;
    return (const struct sockaddr *)&r->conn->peer;
}

uint64_t aw_http_req_start_ns(const aw_http_req_t *r) {
    return r->start_ns;
}

const char *aw_http_req_method(const aw_http_req_t *r) {
    return r->method;
}

static aw_str_t span(const aw_http_req_t *r, uint32_t off, uint32_t len) {
    aw_str_t s = {r->hp.base + off, len};
    return s;
}

aw_str_t aw_http_req_target(const aw_http_req_t *r) {
    return span(r, r->hp.target_off, r->hp.target_len);
}

aw_str_t aw_http_req_path(const aw_http_req_t *r) {
    aw_str_t t = aw_http_req_target(r);
    const char *p = t.ptr, *end = t.ptr + t.len;
    if (t.len && t.ptr[0] != '/' && t.ptr[0] != '*') {
        /* absolute-form: skip scheme://authority */
        const char *auth = memchr(p, ':', t.len);
        p = auth ? auth + 3 : end;
        while (p < end && *p != '/' && *p != '?')
            p++;
    }
    const char *q = memchr(p, '?', (size_t)(end - p));
    aw_str_t s = {p, (size_t)((q ? q : end) - p)};
    if (!s.len) { /* "http://host" or "http://host?x": the path is "/" */
        s.ptr = "/";
        s.len = 1;
    }
    return s;
}

aw_str_t aw_http_req_query(const aw_http_req_t *r) {
    aw_str_t t = aw_http_req_target(r);
    const char *q = memchr(t.ptr, '?', t.len);
    aw_str_t s = {NULL, 0};
    if (q) {
        s.ptr = q + 1;
        s.len = (size_t)(t.ptr + t.len - s.ptr);
    }
    return s;
}

int aw_http_req_version(const aw_http_req_t *r) {
    return r->hp.version;
}

aw_str_t aw_http_req_header(const aw_http_req_t *r, const char *name) {
    size_t n = strlen(name);
    char lower[64];
    if (n >= sizeof(lower))
        return (aw_str_t){NULL, 0};
    for (size_t i = 0; i <= n; i++)
        lower[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
    for (uint32_t i = 0; i < r->hp.nfields; i++) {
        const struct aw__hfield *f = &r->hp.fields[i];
        if (f->name_len == n && aw__str_ieq(r->hp.base + f->name_off, n, lower))
            return span(r, f->value_off, f->value_len);
    }
    return (aw_str_t){NULL, 0};
}

bool aw_http_req_header_at(const aw_http_req_t *r, size_t i, aw_str_t *name, aw_str_t *value) {
    if (i >= r->hp.nfields)
        return false;
    const struct aw__hfield *f = &r->hp.fields[i];
    *name = span(r, f->name_off, f->name_len);
    *value = span(r, f->value_off, f->value_len);
    return true;
}

bool aw_http_req_has_body(const aw_http_req_t *r) {
    return r->hp.chunked || r->hp.content_length > 0;
}

size_t aw_http_req_body_length(const aw_http_req_t *r) {
    return r->hp.body_bytes;
}

/* ---- reading ---------------------------------------------------------------------------------- */

/*
 * Makes room at the end of the read buffer: drops consumed body bytes
 * (keeping the head, which the handler may still read), or moves a head
 * that does not start at the front; then grows the buffer. Positions are
 * offsets, so they survive a move; only hp.base is a pointer, and it is
 * recomputed. Returns 0 or AW_ENOMEM.
 */
static int make_room(aw_http_req_t *r) {
    if (r->end < r->cap)
        return 0;
    size_t base_off = (size_t)(r->hp.base - r->buf);
    if (r->head_end) { /* in the body: the head stays, consumed body goes */
        if (r->pos > r->head_end) {
            size_t drop = r->pos - r->head_end;
            memmove(r->buf + r->head_end, r->buf + r->pos, r->end - r->pos);
            r->pos -= drop;
            r->end -= drop;
        }
    } else if (r->start > 0) { /* in a head: move it to the front */
        size_t drop = r->start;
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->start = 0;
        r->pos -= drop;
        r->end -= drop;
        base_off -= drop;
    }
    if (r->end == r->cap) {
        size_t cap = r->cap * 2;
        char *grown = r->buf == r->in_inline ? malloc(cap) : realloc(r->buf, cap);
        if (!grown)
            return AW_ENOMEM;
        if (r->buf == r->in_inline)
            memcpy(grown, r->in_inline, r->end);
        r->buf = grown;
        r->cap = cap;
    }
    r->hp.base = r->buf + base_off;
    return 0;
}

/* Reads more input under a timeout. Returns bytes read, 0 at EOF, or a negative code. */
static ssize_t fill(aw_http_req_t *r, uint32_t timeout_ms) {
    int rc = make_room(r);
    if (rc < 0)
        return rc;
    aw_deadline_t d;
    aw_deadline_enter(&d, timeout_ms);
    size_t room = r->cap - r->end;
    aw__fd_take_pending(r->srv->loop, r->fd); /* this read takes whatever it announced */
    ssize_t n = aw_read(r->fd, r->buf + r->end, room);
    aw_deadline_exit(&d);
    if (n > 0) {
        r->end += (size_t)n;
        r->drained = (size_t)n < room;
    }
    return n;
}

static int body_fail(aw_http_req_t *r, int status, const char *reason, int err) {
    r->body_state = AW__BODY_ERROR;
    r->body_err = err;
    r->close_after = true;
    if (status && r->res_state == AW__RES_NONE)
        aw__http_error(r, status, reason);
    return err;
}

ssize_t aw_http_req_read(aw_http_req_t *r, void *buf, size_t len) {
    if (r->body_state == AW__BODY_DONE || r->body_state == AW__BODY_NONE)
        return 0;
    if (r->body_state == AW__BODY_ERROR)
        return r->body_err;
    if (r->hp.expect_continue && !r->sent_continue) {
        r->sent_continue = true;
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        int rc = aw__http_out(r, cont, sizeof(cont) - 1);
        if (rc == 0)
            rc = aw__http_flush(r);
        if (rc < 0)
            return body_fail(r, 0, NULL, rc);
    }
    if (!len)
        return 0;
    for (;;) {
        if (r->pos < r->end) {
            size_t used, produced;
            int rc = aw__hparse_body(&r->hp, r->buf + r->pos, r->end - r->pos, &used, buf, len,
                                     &produced);
            if (rc < 0)
                return body_fail(r, -rc, r->hp.reason, -rc == 413 ? AW_EMSGSIZE : AW_EPROTO);
            r->pos += used;
            if (rc == AW__HP_DONE)
                r->body_state = AW__BODY_DONE;
            if (produced || rc == AW__HP_DONE)
                return (ssize_t)produced;
        }
        ssize_t n = fill(r, r->srv->cfg.body_timeout_ms);
        if (n == 0)
            return body_fail(r, 0, NULL, AW_ECONNRESET); /* the client went away mid-body */
        if (n == AW_ETIMEDOUT)
            return body_fail(r, 408, "timed out reading the request body", AW_ETIMEDOUT);
        if (n < 0)
            return body_fail(r, 0, NULL, (int)n);
    }
}

int aw_http_req_body(aw_http_req_t *r, const char **data, size_t *len) {
    if (r->body_mem || r->body_state == AW__BODY_NONE) {
        *data = r->body_mem ? r->body_mem : "";
        *len = r->body_mem_len;
        return 0;
    }
    size_t cap = r->hp.chunked ? 4096 : (size_t)r->hp.content_length;
    char *mem = malloc(cap ? cap : 1);
    if (!mem)
        return AW_ENOMEM;
    size_t got = 0;
    for (;;) {
        if (got == cap) {
            size_t ncap = cap * 2;
            if (ncap > r->srv->cfg.max_body_bytes + 1)
                ncap = r->srv->cfg.max_body_bytes + 1;
            char *grown = ncap > cap ? realloc(mem, ncap) : NULL;
            if (!grown) {
                free(mem);
                return ncap > cap ? AW_ENOMEM : AW_EMSGSIZE;
            }
            mem = grown;
            cap = ncap;
        }
        ssize_t n = aw_http_req_read(r, mem + got, cap - got);
        if (n < 0) {
            free(mem);
            return (int)n;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    r->body_mem = mem;
    r->body_mem_len = got;
    *data = mem;
    *len = got;
    return 0;
}

/* ---- one connection ---------------------------------------------------------------------------- */

static void req_init(aw_http_req_t *r, struct aw__conn *c) {
    r->srv = c->srv;
    r->conn = c;
    r->fd = c->fd;
    r->buf = r->in_inline;
    r->cap = AW__IN_INLINE;
    r->start = r->head_end = r->pos = r->end = 0;
    r->out = r->out_inline;
    r->out_cap = AW__OUT_INLINE;
    r->out_len = 0;
    r->xh = r->xh_inline;
    r->xh_len = 0;
    r->xh_cap = AW__XH_INLINE;
    r->close_after = false;
    r->body_mem = NULL;
    r->drained = false;
    r->hp.fields_heap = false; /* the extra bytes are not zeroed: nothing to free yet */
}

static void req_release(aw_http_req_t *r) {
    aw__hparse_release(&r->hp);
    if (r->buf != r->in_inline)
        free(r->buf);
    if (r->out != r->out_inline)
        free(r->out);
    if (r->xh != r->xh_inline)
        free(r->xh);
    free(r->body_mem);
    r->buf = r->in_inline;
    r->out = r->out_inline;
    r->xh = r->xh_inline;
    r->body_mem = NULL;
}

/* After an error response: stop writing, read what the client still sends, briefly. */
static void linger(aw_http_req_t *r) {
    shutdown(r->fd, SHUT_WR);
    aw_deadline_t d;
    aw_deadline_enter(&d, LINGER_MS);
    char sink[512];
    size_t total = 0;
    ssize_t n;
    while (total < DRAIN_MAX && (n = aw_read(r->fd, sink, sizeof(sink))) > 0)
        total += (size_t)n;
    aw_deadline_exit(&d);
}

/*
 * Parking: between two requests a busy connection's task usually just waits
 * for the next one (a keep-alive client answers within milliseconds), which
 * costs less than ending the task and spawning a new one when bytes come.
 * A parked task keeps its stack, so a sweeper timer cancels tasks parked
 * for PARK_MS or more: their connections then go idle the cheap way.
 */
static void park_sweep(aw_timer_t *t) {
    aw_http_server_t *srv = t->data;
    uint64_t now = srv->loop->now_ns;
    for (struct aw__conn *c = srv->parked_head; c; c = c->park_next) {
        if (now - c->idle_since_ns < (uint64_t)PARK_MS * 1000000u)
            break; /* oldest first: the rest are younger */
        aw_cancel(c->task);
    }
    if (!srv->parked_head)
        aw_timer_stop(t);
}

static void park_unlink(aw_http_server_t *srv, struct aw__conn *c) {
    if (c->park_prev)
        c->park_prev->park_next = c->park_next;
    else
        srv->parked_head = c->park_next;
    if (c->park_next)
        c->park_next->park_prev = c->park_prev;
    else
        srv->parked_tail = c->park_prev;
    c->parked = false;
}

/* Waits for the next request's bytes. Returns true when they came. */
static bool park(aw_http_req_t *r) {
    aw_http_server_t *srv = r->srv;
    struct aw__conn *c = r->conn;
    if (srv->stopping || aw_cancelled())
        return false;
    c->idle_since_ns = srv->loop->now_ns;
    c->parked = true;
    c->park_next = NULL;
    c->park_prev = srv->parked_tail;
    if (srv->parked_tail)
        srv->parked_tail->park_next = c;
    else
        srv->parked_head = c;
    srv->parked_tail = c;
    if (!aw_timer_active(&srv->park_timer))
        aw_timer_start(&srv->park_timer, park_sweep, PARK_MS, PARK_MS);
    int rc = aw__wait_edge(r->fd, AW_READABLE);
    park_unlink(srv, c);
    if (rc < 0)
        return false; /* swept, stopping, or closed: go idle */
    c->idle_since_ns = 0;
    return true;
}

/*
 * Reads until a complete head is parsed. Returns AW__HP_HEAD/AW__HP_DONE,
 * 0 when the connection should go idle (nothing of a request arrived),
 * or -1 when it should close (an error was queued, or the peer left).
 */
static int read_head(aw_http_req_t *r) {
    aw_http_server_t *srv = r->srv;
    aw__hparse_release(&r->hp);
    aw__hparse_begin(&r->hp, &srv->cfg, r->fields, AW__HTTP_FIELDS_INLINE, r->buf + r->start);
    r->method[0] = '\0';
    r->start_ns = srv->loop->now_ns;
    r->pos = r->start;
    r->head_end = 0;
    /* The header timeout bounds the whole head, from its first byte: a
     * client trickling a byte at a time (slowloris) cannot reset it. */
    aw_deadline_t head_deadline;
    bool timing = false;
    int result;
    for (;;) {
        if (r->pos < r->end) {
            size_t used = 0;
            int rc = aw__hparse_head(&r->hp, r->buf + r->pos, r->end - r->pos, &used);
            r->pos += used;
            if (rc < 0) {
                aw__http_error(r, -rc, r->hp.reason);
                result = -1;
                break;
            }
            if (rc != AW__HP_MORE) {
                result = rc;
                break;
            }
        }
        if (r->start == r->end) {
            /* Between requests: answer what we owe before waiting. */
            if (aw__http_flush(r) < 0 || srv->stopping) {
                result = -1;
                break;
            }
            r->start = r->pos = r->end = 0;
            /* The last read came up short and no edge came since: the socket
             * is empty, and a read() would only say EAGAIN. Go idle now. */
            bool edge = aw__fd_take_pending(srv->loop, r->fd);
            if (r->drained && !edge && !park(r)) {
                result = 0;
                break;
            }
            ssize_t n = read(r->fd, r->buf, r->cap);
            if (n > 0) {
                r->end = (size_t)n;
                r->drained = (size_t)n < r->cap;
                r->hp.base = r->buf;
                continue;
            }
            result = n == 0 || (errno != EAGAIN && errno != EINTR) ? -1 : 0; /* 0: go idle */
            break;
        }
        /* Part of a head is here: wait for the rest. */
        if (!timing) {
            aw_deadline_enter(&head_deadline, srv->cfg.header_timeout_ms);
            timing = true;
        }
        if (aw__http_flush(r) < 0) {
            result = -1;
            break;
        }
        ssize_t n = fill(r, srv->cfg.header_timeout_ms);
        if (n > 0)
            continue;
        if (n == AW_ETIMEDOUT)
            aw__http_error(r, 408, "timed out reading the request head");
        else if (n == AW_ENOMEM)
            aw__http_error(r, 503, "out of memory");
        result = -1;
        break;
    }
    if (timing)
        aw_deadline_exit(&head_deadline);
    return result;
}

/* Consumes what the handler left of the body, or decides to close instead. */
static void finish_body(aw_http_req_t *r) {
    if (r->body_state != AW__BODY_READING)
        return;
    if (r->hp.expect_continue && !r->sent_continue) {
        /* The client waits for our word before sending the body: it will
         * not come, so this connection cannot carry another request. */
        r->close_after = true;
        return;
    }
    if (!r->hp.chunked && r->hp.content_length - r->hp.body_bytes > DRAIN_MAX) {
        r->close_after = true;
        return;
    }
    char sink[1024];
    size_t drained = 0;
    ssize_t n;
    while ((n = aw_http_req_read(r, sink, sizeof(sink))) > 0) {
        drained += (size_t)n;
        if (drained > DRAIN_MAX) {
            r->close_after = true;
            return;
        }
    }
}

/* The method as received, NUL-terminated (empty if the request line broke before it). */
static void copy_method(aw_http_req_t *r) {
    size_t n = r->hp.method_len < sizeof(r->method) ? r->hp.method_len : sizeof(r->method) - 1;
    memcpy(r->method, r->hp.base, n);
    r->method[n] = '\0';
}

/* The watch on a busy connection fired: end of file or an error means the
 * client is gone; bytes mean a pipelined request, left for the next read. */
static void client_gone(void *data) {
    struct aw__conn *c = data;
    char b;
    ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0) {
        aw__fd_mark_pending(c->srv->loop, c->fd);
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        aw__fd_watch(c->srv->loop, c->fd, client_gone, c); /* not for us: keep watching */
        return;
    }
    c->gone = true;
    if (c->task)
        aw_cancel(c->task);
}

static void *conn_main(void *arg) {
    struct aw__conn *c = arg;
    aw_http_server_t *srv = c->srv;
    /* Our extra bytes sit right under the task record (see aw__spawn_ex). */
    aw_http_req_t *r = (aw_http_req_t *)(void *)((char *)aw_task_current() - REQ_EXTRA);
    req_init(r, c);
    bool lingering = false;
    for (;;) {
        int rc = read_head(r);
        if (rc == 0) {
            req_release(r);
            conn_idle(c);
            return NULL;
        }
        copy_method(r);
        if (rc < 0) {
            lingering = r->close_after && r->res_state == AW__RES_DONE;
            if (lingering && srv->on_done)
                srv->on_done(r, srv->on_done_data);
            break;
        }
        r->head_end = r->pos;
        r->is_head = strcmp(r->method, "HEAD") == 0;
        r->body_state = rc == AW__HP_DONE ? AW__BODY_NONE : AW__BODY_READING;
        r->sent_continue = false;
        aw__http_res_reset(r);

        /* While the handler runs, watch for the client going away (end of
         * file or a reset): its task is then cancelled at its next await.
         * Only when nothing is buffered and the socket was left empty, so
         * the edge we wait for can only be new. */
        bool watching = r->drained && r->pos == r->end && r->body_state == AW__BODY_NONE &&
                        aw__fd_watch(srv->loop, r->fd, client_gone, c) == 0;
        srv->handler(r, srv->data);
        if (watching)
            aw__fd_watch(srv->loop, r->fd, NULL, NULL);
        if (c->gone) {
            aw_log(AW_LOG_DEBUG, "http: client went away during %s %.*s", r->method,
                   (int)r->hp.target_len, r->hp.base + r->hp.target_off);
            break;
        }

        if (r->res_state == AW__RES_NONE) {
            aw_log(AW_LOG_ERROR, "http: handler returned without a response to %s %.*s", r->method,
                   (int)r->hp.target_len, r->hp.base + r->hp.target_off);
            aw_http_respond(r, 500, "Internal Server Error\n", 22);
        } else if (r->res_state != AW__RES_DONE) {
            aw_http_res_end(r); /* a stream the handler left open */
        }
        finish_body(r);
        if (srv->on_done)
            srv->on_done(r, srv->on_done_data);
        free(r->body_mem);
        r->body_mem = NULL;
        r->body_mem_len = 0;
        c->served = true;
        if (r->close_after || !aw__hparse_keep_alive(&r->hp) || srv->draining)
            break;
        /* Next request, maybe already buffered (pipelined). */
        r->start = r->pos;
        if (r->start == r->end)
            r->start = r->pos = r->end = 0;
        if (r->buf != r->in_inline && r->end - r->start <= AW__IN_INLINE) {
            /* Back to the small buffer once a big request is over. */
            memcpy(r->in_inline, r->buf + r->start, r->end - r->start);
            free(r->buf);
            r->buf = r->in_inline;
            r->cap = AW__IN_INLINE;
            r->end -= r->start;
            r->pos = r->start = 0;
        }
    }
    aw__http_flush(r);
    if (lingering || r->close_after)
        linger(r);
    req_release(r);
    c->task = NULL;
    conn_free(c);
    return NULL;
}

/* ---- the server ------------------------------------------------------------------------------- */

aw_http_server_t *aw_http_server_new(const aw_http_config_t *cfg, aw_http_handler handler,
                                     void *data) {
    aw_http_server_t *srv = calloc(1, sizeof(*srv));
    if (!srv)
        return NULL;
    if (cfg)
        srv->cfg = *cfg;
    else
        aw_http_config_init(&srv->cfg);
    if (srv->cfg.max_head_bytes > UINT32_MAX / 2)
        srv->cfg.max_head_bytes = UINT32_MAX / 2;
    if (!srv->cfg.max_connections)
        srv->cfg.max_connections = 1;
    srv->handler = handler;
    srv->data = data;
    srv->lfd = -1;
    const char *name = srv->cfg.server_name;
    if (name && *name && strlen(name) < sizeof(srv->server_line) - 12 && !strpbrk(name, "\r\n")) {
        int n = snprintf(srv->server_line, sizeof(srv->server_line), "Server: %s\r\n", name);
        srv->server_line_len = (size_t)n;
    }
    srv->cfg.server_name = NULL; /* borrowed: not kept */
    aw_event_init(&srv->room);
    aw_event_set(&srv->room);
    return srv;
}

static void bind_loop(aw_http_server_t *srv, aw_loop_t *loop);

/* Serves a connected socket; takes fd (closed on failure). Returns 0 or AW_ENOMEM. */
static int conn_add(aw_http_server_t *srv, int fd, const struct sockaddr_storage *peer,
                    socklen_t peer_len) {
    struct aw__conn *c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return AW_ENOMEM;
    }
    c->srv = srv;
    c->fd = fd;
    c->peer = *peer;
    c->peer_len = peer_len;
    aw_timer_init(srv->loop, &c->idle_timer);
    c->idle_timer.data = c;
    c->idle_timer._keeps_loop = false; /* idle connections alone do not keep a loop running */
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    srv->nconns++;
    return conn_activate(c);
}

int aw__http_server_adopt(aw_http_server_t *srv, int fd) {
    struct sockaddr_storage peer;
    socklen_t len = sizeof(peer);
    memset(&peer, 0, sizeof(peer));
    if (getpeername(fd, (struct sockaddr *)&peer, &len) < 0)
        len = 0;
    aw_loop_t *loop = aw__loop_home();
    if (!loop) {
        close(fd);
        return AW_EINVAL;
    }
    if (srv->loop && srv->loop != loop) {
        close(fd);
        return AW_EINVAL;
    }
    bind_loop(srv, loop);
    return conn_add(srv, fd, &peer, len);
}

static void *accept_main(void *arg) {
    aw_http_server_t *srv = arg;
    for (;;) {
        if (srv->nconns >= srv->cfg.max_connections) {
            aw_event_clear(&srv->room);
            if (aw_event_wait(&srv->room) < 0)
                break;
            continue;
        }
        struct sockaddr_storage peer;
        socklen_t peer_len = sizeof(peer);
        int fd = aw_accept(srv->lfd, (struct sockaddr *)&peer, &peer_len);
        if (fd < 0) {
            if (fd == AW_ECANCELED || fd == AW_EBADF)
                break;
            if (fd == AW_EMFILE || fd == AW_ENFILE || fd == AW_ENOMEM || fd == AW_ENOSPC) {
                aw_log(AW_LOG_WARN, "http: accept: %s; pausing accepts for 100 ms",
                       aw_strerror(fd));
                if (aw_sleep_ms(100) < 0)
                    break;
                continue;
            }
            aw_log(AW_LOG_DEBUG, "http: accept: %s", aw_strerror(fd));
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        conn_add(srv, fd, &peer, peer_len);
    }
    aw_close(srv->lfd);
    srv->lfd = -1;
    srv->acceptor = NULL;
    return NULL;
}

/* Ties the server to its loop, once: by the first start or adopted connection. */
static void bind_loop(aw_http_server_t *srv, aw_loop_t *loop) {
    if (srv->loop)
        return;
    srv->loop = loop;
    aw_timer_init(loop, &srv->grace_timer);
    srv->grace_timer.data = srv;
    aw_timer_init(loop, &srv->drain_timer);
    srv->drain_timer.data = srv;
    aw_timer_init(loop, &srv->park_timer);
    srv->park_timer.data = srv;
    srv->park_timer._keeps_loop = false;
}

int aw_http_server_start(aw_http_server_t *srv, int fd) {
    aw_loop_t *loop = aw__loop_home();
    if (!loop) {
        close(fd);
        return AW_EINVAL;
    }
    bind_loop(srv, loop);
    srv->lfd = fd;
    srv->acceptor = aw_loop_spawn(loop, accept_main, srv);
    if (!srv->acceptor) {
        close(fd);
        srv->lfd = -1;
        return AW_ENOMEM;
    }
    aw_task_set_name(srv->acceptor, "http-accept");
    aw_detach(srv->acceptor);
    return 0;
}

static void grace_over(aw_timer_t *t) {
    aw_http_server_t *srv = t->data;
    for (struct aw__conn *c = srv->conns; c; c = c->next)
        if (c->busy && c->task)
            aw_cancel(c->task);
}

/* Stops accepting, closes idle connections, and gives busy ones `grace_ms`. */
static void begin_stop(aw_http_server_t *srv, uint32_t grace_ms) {
    srv->stopping = true;
    if (srv->acceptor)
        aw_cancel(srv->acceptor);
    for (struct aw__conn *c = srv->parked_head; c; c = c->park_next)
        aw_cancel(c->task); /* parked: between requests, as good as idle */
    struct aw__conn *next;
    for (struct aw__conn *c = srv->conns; c; c = next) {
        next = c->next;
        if (!c->busy)
            conn_free(c);
    }
    if (grace_ms == 0)
        grace_over(&srv->grace_timer);
    else if (srv->conns)
        aw_timer_start(&srv->grace_timer, grace_over, grace_ms, 0);
}

static void drain_over(aw_timer_t *t) {
    aw_http_server_t *srv = t->data;
    begin_stop(srv, srv->grace_pending);
}

void aw_http_server_shutdown(aw_http_server_t *srv, uint32_t grace_ms) {
    if (!srv->loop) { /* never started: nothing to stop */
        srv->draining = srv->stopping = true;
        return;
    }
    if (srv->draining) {
        if (grace_ms == 0) {
            aw_timer_stop(&srv->drain_timer);
            aw_timer_stop(&srv->grace_timer);
            if (!srv->stopping)
                begin_stop(srv, 0);
            else
                grace_over(&srv->grace_timer);
        }
        return;
    }
    srv->draining = true;
    if (srv->cfg.drain_delay_ms && grace_ms) {
        srv->grace_pending = grace_ms;
        aw_timer_start(&srv->drain_timer, drain_over, srv->cfg.drain_delay_ms, 0);
        return;
    }
    begin_stop(srv, grace_ms);
}

void aw_http_server_on_done(aw_http_server_t *srv, aw_http_done_cb cb, void *data) {
    srv->on_done = cb;
    srv->on_done_data = data;
}

bool aw_http_server_accepting(const aw_http_server_t *srv) {
    return !srv->stopping;
}

bool aw_http_server_draining(const aw_http_server_t *srv) {
    return srv->draining;
}

size_t aw_http_server_connections(const aw_http_server_t *srv) {
    return srv->nconns;
}

void aw_http_server_free(aw_http_server_t *srv) {
    if (!srv)
        return;
    if (srv->loop) {
        aw_timer_stop(&srv->grace_timer);
        aw_timer_stop(&srv->drain_timer);
        aw_timer_stop(&srv->park_timer);
    }
    if (srv->lfd >= 0)
        close(srv->lfd);
    free(srv);
}

/* ---- listeners -------------------------------------------------------------------------------- */

int aw__tcp_bind(const char *host, int port, int backlog, bool reuseport, bool nonblock) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res;
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    int gai = getaddrinfo(host && *host ? host : NULL, portstr, &hints, &res);
    if (gai != 0)
        return gai == EAI_MEMORY ? AW_ENOMEM : AW_EADDRNOTAVAIL;
    int rc = AW_EADDRNOTAVAIL;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0),
                        0);
        if (fd < 0) {
            rc = -errno;
            continue;
        }
        int one = 1;
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
            (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) ||
            bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || (backlog >= 0 && listen(fd, backlog) < 0)) {
            rc = -errno;
            close(fd);
            continue;
        }
        freeaddrinfo(res);
        return fd;
    }
    freeaddrinfo(res);
    return rc;
}

int aw_http_listen_tcp(const char *host, int port, int backlog, bool reuseport) {
    return aw__tcp_bind(host, port, backlog > 0 ? backlog : 2048, reuseport, true);
}

int aw_http_listener_port(int fd) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return -errno;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return AW_EINVAL;
}
