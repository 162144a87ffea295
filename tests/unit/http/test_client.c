/* SPDX-License-Identifier: MIT */
/*
 * Tests for src/http/client.c and the response parser in src/http/parser.c.
 * The parser cases are fed whole and in small pieces and must come out the
 * same. The client runs against the real server started in-process on
 * 127.0.0.1 (port 0), or against a raw socket server task that writes
 * exactly the bytes a case needs (garbage, bad framing, early closes).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../../src/http/client_internal.h"
#include "../test.h"

static size_t count_fds(void) {
    size_t n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        abort();
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/*
 * Runs fn(arg) as a task on a new loop until the loop runs dry, then frees
 * *srv (if set) and the loop. A server must be freed before its loop (its
 * timers live in the loop), so aw_run() does not fit.
 */
static void run_loop(aw_task_fn fn, void *arg, aw_http_server_t **srv) {
    aw_loop_t *loop = aw_loop_new();
    ASSERT_TRUE(loop != NULL);
    aw_task_t *t = aw_loop_spawn(loop, fn, arg);
    ASSERT_TRUE(t != NULL);
    aw_detach(t);
    ASSERT_EQ(aw_loop_run(loop), 0);
    if (srv)
        aw_http_server_free(*srv);
    ASSERT_EQ(aw_loop_free(loop), 0);
}

static bool span_is(aw_str_t s, const char *text) {
    return s.ptr && s.len == strlen(text) && memcmp(s.ptr, text, s.len) == 0;
}

static uint64_t ms_since(uint64_t start_ns) {
    return (aw_now_ns() - start_ns) / 1000000u;
}

/* ---- the response parser, fed in pieces ---------------------------------------------------------
 */

struct parsed {
    int rc, code;
    char body[512];
    size_t body_len;
};

/*
 * Parses `len` bytes as the client does, handing the parser at most `step`
 * new bytes at a time from a buffer of exactly `len` bytes (ASan sees any
 * read past the end). The end of input ends a read-until-close body and
 * truncates anything else.
 */
static void parse_response(const char *raw, size_t len, size_t step, bool head, size_t max_body,
                           struct parsed *out) {
    char *buf = malloc(len ? len : 1);
    memcpy(buf, raw, len);
    aw_http_config_t cfg = {.max_head_bytes = 64 * 1024,
                            .max_headers = 256,
                            .max_body_bytes = max_body,
                            .max_chunk_ext_bytes = 4096,
                            .max_trailer_bytes = 8192};
    struct aw__hfield fields[4]; /* small: the heap table is exercised too */
    struct aw__rparse rp;
    size_t start = 0, pos = 0, avail = 0;
    memset(out, 0, sizeof(*out));
    memset(&rp, 0, sizeof(rp));
    for (;;) {
        aw__hparse_release(&rp.hp);
        aw__rparse_begin(&rp, &cfg, fields, 4, buf + start, head);
        int rc;
        for (;;) {
            size_t used = 0;
            rc = pos < avail ? aw__rparse_head(&rp, buf + pos, avail - pos, &used) : AW__HP_MORE;
            pos += used;
            if (rc != AW__HP_MORE)
                break;
            if (avail == len) {
                rc = AW_EPROTO; /* truncated head */
                break;
            }
            avail = avail + step < len ? avail + step : len;
        }
        if (rc < 0) {
            out->rc = rc;
            goto done;
        }
        out->code = rp.code;
        if (rp.code >= 200)
            break;
        start = pos;
    }
    if (rp.body == AW__RBODY_CLOSE) {
        size_t n = len - pos;
        if (n > max_body || n >= sizeof(out->body)) {
            out->rc = AW_EMSGSIZE;
            goto done;
        }
        memcpy(out->body, buf + pos, n);
        out->body_len = n;
    } else if (rp.body != AW__RBODY_NONE) {
        for (;;) {
            size_t used, made;
            int rc = aw__rparse_body(&rp, buf + pos, avail - pos, &used, out->body + out->body_len,
                                     sizeof(out->body) - out->body_len, &made);
            pos += used;
            out->body_len += made;
            if (rc < 0) {
                out->rc = rc;
                goto done;
            }
            if (rc == AW__HP_DONE)
                break;
            if (avail == len) {
                out->rc = AW_EPROTO; /* truncated body */
                goto done;
            }
            avail = avail + step < len ? avail + step : len;
        }
    }
done:
    aw__hparse_release(&rp.hp);
    free(buf);
}

struct rcase {
    const char *name;
    const char *raw;
    size_t len;
    int rc;           /* 0 or the error */
    int code;         /* when rc == 0 */
    const char *body; /* when rc == 0 */
    bool head;        /* the request was HEAD */
    size_t max_body;  /* 0: 4096 */
};

#define OK(n, r, c, b)                                                                             \
    { .name = n, .raw = r, .len = sizeof(r) - 1, .code = c, .body = b }
#define OK_HEAD(n, r, c)                                                                           \
    { .name = n, .raw = r, .len = sizeof(r) - 1, .code = c, .body = "", .head = true }
#define BAD(n, r)                                                                                  \
    { .name = n, .raw = r, .len = sizeof(r) - 1, .rc = AW_EPROTO }
#define BIG(n, r)                                                                                  \
    { .name = n, .raw = r, .len = sizeof(r) - 1, .rc = AW_EMSGSIZE, .max_body = 16 }

static const struct rcase g_rcases[] = {
    OK("content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 200, "hello"),
    OK("chunked-ext-trailers",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;name=\"v a\"\r\nhello\r\n"
       "6 ; x=y;z\r\n world\r\n0\r\nX-Trailer: t\r\nX-Other: u\r\n\r\n",
       200, "hello world"),
    OK("chunked-upper-hex",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n", 200,
       "0123456789"),
    OK("no-content", "HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n", 204, ""),
    OK("not-modified", "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", 304, ""),
    OK_HEAD("head-with-length", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", 200),
    OK_HEAD("head-with-chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 200),
    OK("continue-skipped",
       "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok", 201,
       "ok"),
    OK("early-hints-skipped",
       "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: "
       "1\r\n\r\nx",
       200, "x"),
    OK("http10-until-close", "HTTP/1.0 200 OK\r\nServer: old\r\n\r\nuntil close", 200,
       "until close"),
    OK("http11-until-close", "HTTP/1.1 200 OK\r\n\r\nrest", 200, "rest"),
    OK("no-reason", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", 200, ""),
    OK("not-found", "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nnop", 404, "nop"),
    OK("empty-value", "HTTP/1.1 200 OK\r\nX-Empty:\r\nContent-Length: 1\r\n\r\n!", 200, "!"),
    OK("many-fields",
       "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\nF: 6\r\nContent-Length: "
       "1\r\n\r\n!",
       200, "!"),
    OK("status-599", "HTTP/1.1 599 Odd\r\nContent-Length: 0\r\n\r\n", 599, ""),

    BAD("garbage", "HELLO WORLD\r\n\r\n"),
    BAD("status-4-digits", "HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n"),
    BAD("status-2-digits", "HTTP/1.1 99 OK\r\nContent-Length: 0\r\n\r\n"),
    BAD("status-leading-zero", "HTTP/1.1 020 OK\r\nContent-Length: 0\r\n\r\n"),
    BAD("status-600", "HTTP/1.1 600 OK\r\nContent-Length: 0\r\n\r\n"),
    BAD("version-2", "HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"),
    BAD("version-1.2", "HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n"),
    BAD("switching-protocols",
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n"),
    BAD("cl-and-te",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    BAD("cl-differing", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"),
    BAD("cl-not-a-number", "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n"),
    BAD("te-gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxx"),
    BAD("te-chunked-not-last",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n"),
    BAD("te-twice", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
                    "chunked\r\n\r\n0\r\n\r\n"),
    BAD("te-in-http10", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    BAD("bare-lf-head", "HTTP/1.1 200 OK\nContent-Length: 0\n\n"),
    BAD("bare-cr-in-value", "HTTP/1.1 200 OK\r\nX: a\rb\r\nContent-Length: 0\r\n\r\n"),
    BAD("obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n  b\r\nContent-Length: 0\r\n\r\n"),
    BAD("space-before-colon", "HTTP/1.1 200 OK\r\nX-A : b\r\nContent-Length: 0\r\n\r\n"),
    BAD("nul-in-value", "HTTP/1.1 200 OK\r\nX: a\0b\r\nContent-Length: 0\r\n\r\n"),
    BAD("control-in-reason", "HTTP/1.1 200 O\x01K\r\nContent-Length: 0\r\n\r\n"),
    BAD("chunk-size-garbage",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"),
    BAD("chunk-size-trailing-space",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n"),
    BAD("chunk-data-too-long",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n0\r\n\r\n"),
    BAD("chunk-bare-lf",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n"),
    BAD("chunk-size-overflow",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\nx\r\n0\r\n\r\n"),
    BAD("truncated-length", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"),
    BAD("truncated-head", "HTTP/1.1 200 OK\r\nConte"),
    BAD("truncated-chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"),
    BAD("truncated-trailers", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y\r\n"),
    BIG("length-over-limit", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"),
    BIG("chunked-over-limit", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "8\r\n01234567\r\n8\r\n01234567\r\n8\r\n01234567\r\n0\r\n\r\n"),
    BIG("close-over-limit", "HTTP/1.1 200 OK\r\n\r\n0123456789abcdefg"),
};

static void run_rcase(const void *arg) {
    const struct rcase *c = arg;
    size_t len = c->len;
    size_t steps[] = {len, 1, 2, 3, 7, 13};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        struct parsed p;
        parse_response(c->raw, len, steps[i], c->head, c->max_body ? c->max_body : 4096, &p);
        if (p.rc != c->rc)
            TEST_FAIL_("%s, step %zu: rc %s, want %s", c->name, steps[i], aw_err_name(p.rc),
                       aw_err_name(c->rc));
        if (c->rc == 0) {
            ASSERT_EQ(p.code, c->code);
            ASSERT_EQ(p.body_len, strlen(c->body));
            ASSERT_TRUE(memcmp(p.body, c->body, p.body_len) == 0);
        }
    }
}

__attribute__((constructor)) static void register_rcases(void) {
    static char names[sizeof(g_rcases) / sizeof(g_rcases[0])][80];
    for (size_t i = 0; i < sizeof(g_rcases) / sizeof(g_rcases[0]); i++) {
        snprintf(names[i], sizeof(names[i]), "response_%s", g_rcases[i].name);
        test_register_data(names[i], run_rcase, &g_rcases[i]);
    }
}

TEST(response_head_over_64k) {
    size_t n = 70 * 1024;
    char *raw = malloc(n + 64);
    int len = snprintf(raw, 64, "HTTP/1.1 200 OK\r\nX-Big: ");
    memset(raw + len, 'a', n);
    memcpy(raw + len + n, "\r\n\r\n", 5);
    struct parsed p;
    parse_response(raw, strlen(raw), strlen(raw), false, 4096, &p);
    ASSERT_EQ(p.rc, AW_EMSGSIZE);
    parse_response(raw, strlen(raw), 1000, false, 4096, &p);
    ASSERT_EQ(p.rc, AW_EMSGSIZE);
    free(raw);
}

TEST(response_too_many_fields) {
    char *raw = malloc(300 * 16 + 64);
    size_t len = (size_t)sprintf(raw, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < 300; i++)
        len += (size_t)sprintf(raw + len, "X-%d: v\r\n", i);
    len += (size_t)sprintf(raw + len, "Content-Length: 0\r\n\r\n");
    struct parsed p;
    parse_response(raw, len, len, false, 4096, &p);
    ASSERT_EQ(p.rc, AW_EMSGSIZE);
    free(raw);
}

/* ---- fixtures: the real server and a raw one --------------------------------------------------
 */

struct fx;
typedef void (*fx_body)(struct fx *f);

struct fx {
    fx_body body;
    const aw_client_opts_t *opts;
    aw_http_server_t *srv;
    int port;
    char url[64]; /* "http://127.0.0.1:PORT" */
    aw_client_t *cl;
    int requests;
    int peers[64]; /* distinct client ports seen by the server: its connections */
    int npeers;
};

static void note_peer(struct fx *f, aw_http_req_t *req) {
    socklen_t len;
    const struct sockaddr *sa = aw_http_req_peer(req, &len);
    int port = sa->sa_family == AF_INET
                   ? ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port)
                   : ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
    for (int i = 0; i < f->npeers; i++)
        if (f->peers[i] == port)
            return;
    if (f->npeers < 64)
        f->peers[f->npeers++] = port;
}

static void span_copy(char *out, size_t size, aw_str_t s) {
    snprintf(out, size, "%.*s", s.ptr ? (int)s.len : 6, s.ptr ? s.ptr : "(none)");
}

/*
 * /sleep (2 s), /sleep200, /chunked, /big?N, /nocontent; anything else
 * echoes "METHOD TARGET ua=.. host=.. xd=.. ct=..\n" and the body.
 */
static void handler(aw_http_req_t *req, void *data) {
    struct fx *f = data;
    note_peer(f, req);
    f->requests++;
    aw_str_t path = aw_http_req_path(req);
    if (span_is(path, "/sleep") || span_is(path, "/sleep200")) {
        if (aw_sleep_ms(span_is(path, "/sleep") ? 2000 : 200) < 0)
            return;
        aw_http_respond(req, 200, "late", 4);
        return;
    }
    if (span_is(path, "/chunked")) {
        aw_http_res_start(req, 200);
        aw_http_res_write(req, "hello ", 6);
        aw_http_res_write(req, "chunked ", 8);
        aw_http_res_write(req, "world", 5);
        aw_http_res_end(req);
        return;
    }
    if (span_is(path, "/big")) {
        aw_str_t q = aw_http_req_query(req);
        size_t n = q.ptr ? strtoul(q.ptr, NULL, 10) : 0;
        char *big = malloc(n + 1);
        for (size_t i = 0; i < n; i++)
            big[i] = (char)('a' + i % 26);
        aw_http_respond(req, 200, big, n);
        free(big);
        return;
    }
    if (span_is(path, "/nocontent")) {
        aw_http_respond(req, 204, NULL, 0);
        return;
    }
    const char *body;
    size_t len;
    if (aw_http_req_body(req, &body, &len) < 0)
        return;
    char ua[128], host[128], xd[128], ct[128], target[512];
    span_copy(ua, sizeof(ua), aw_http_req_header(req, "user-agent"));
    span_copy(host, sizeof(host), aw_http_req_header(req, "host"));
    span_copy(xd, sizeof(xd), aw_http_req_header(req, "x-default"));
    span_copy(ct, sizeof(ct), aw_http_req_header(req, "content-type"));
    span_copy(target, sizeof(target), aw_http_req_target(req));
    size_t cap = 1024 + len;
    char *out = malloc(cap);
    int n = snprintf(out, cap, "%s %s ua=%s host=%s xd=%s ct=%s\n", aw_http_req_method(req), target,
                     ua, host, xd, ct);
    memcpy(out + n, body, len);
    aw_http_res_header(req, "X-Test", "abc");
    aw_http_respond(req, 200, out, (size_t)n + len);
    free(out);
}

static void *fx_main(void *arg) {
    struct fx *f = arg;
    int lfd = aw_http_listen_tcp("127.0.0.1", 0, 128, false);
    ASSERT_GE(lfd, 0);
    f->port = aw_http_listener_port(lfd);
    snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d", f->port);
    f->srv = aw_http_server_new(NULL, handler, f);
    ASSERT_TRUE(f->srv != NULL);
    ASSERT_EQ(aw_http_server_start(f->srv, lfd), 0);
    f->cl = aw_client_new(f->opts);
    ASSERT_TRUE(f->cl != NULL);
    f->body(f);
    aw_client_free(f->cl);
    aw_http_server_shutdown(f->srv, 0);
    return NULL;
}

/* Runs `body` in a loop with a server and a client; checks that no fd is left behind. */
static void with_server(fx_body body, const aw_client_opts_t *opts) {
    size_t fds = count_fds();
    struct fx f = {.body = body, .opts = opts};
    run_loop(fx_main, &f, &f.srv);
    aw_pool_shutdown_default();
    ASSERT_EQ(count_fds(), fds);
}

static int get(struct fx *f, const char *path, aw_response_t **res) {
    char url[256];
    snprintf(url, sizeof(url), "%s%s", f->url, path);
    return aw_client_get(f->cl, url, res);
}

/* The body as a C string (the client NUL-terminates it). */
static const char *body_of(const aw_response_t *res) {
    size_t len;
    const char *b = aw_response_body(res, &len);
    ASSERT_EQ(b[len], '\0');
    return b;
}

/*
 * A raw server: for each request head it reads (and the body its
 * Content-Length announces), it writes what reply() returns, or closes the
 * connection on NULL. Connections are served concurrently.
 */
struct raw;
typedef const char *(*raw_reply)(struct raw *r, int conn, int req, bool *close_after);

struct raw {
    int lfd, port;
    char url[64];
    raw_reply reply;
    const char *canned; /* for canned_reply() */
    int accepts;
    int requests[16]; /* per connection */
    aw_task_t *task;
};

struct raw_conn {
    struct raw *r;
    int fd, index;
};

static void *raw_conn_main(void *arg) {
    struct raw_conn *c = arg;
    struct raw *r = c->r;
    char *buf = malloc(65536);
    size_t len = 0;
    for (int req = 0;; req++) {
        char *end;
        while (!(end = memmem(buf, len, "\r\n\r\n", 4))) {
            ssize_t n = len < 65536 ? aw_read(c->fd, buf + len, 65536 - len) : 0;
            if (n <= 0)
                goto out;
            len += (size_t)n;
        }
        size_t head = (size_t)(end + 4 - buf), body = 0;
        *end = '\0';
        char *cl = strcasestr(buf, "\r\ncontent-length:");
        if (cl)
            body = strtoul(cl + 17, NULL, 10);
        while (len < head + body) {
            ssize_t n = aw_read(c->fd, buf + len, 65536 - len);
            if (n <= 0)
                goto out;
            len += (size_t)n;
        }
        memmove(buf, buf + head + body, len - head - body);
        len -= head + body;
        if (c->index < 16)
            r->requests[c->index]++;
        bool close_after = false;
        const char *reply = r->reply(r, c->index, req, &close_after);
        if (!reply || aw_write(c->fd, reply, strlen(reply)) < 0 || close_after)
            break;
    }
out:
    free(buf);
    aw_close(c->fd);
    free(c);
    return NULL;
}

static void *raw_main(void *arg) {
    struct raw *r = arg;
    aw_group_t g;
    aw_group_init(&g);
    for (;;) {
        int fd = aw_accept(r->lfd, NULL, NULL);
        if (fd < 0)
            break;
        struct raw_conn *c = malloc(sizeof(*c));
        *c = (struct raw_conn){.r = r, .fd = fd, .index = r->accepts++};
        if (aw_group_spawn(&g, raw_conn_main, c) < 0) {
            aw_close(fd);
            free(c);
            break;
        }
    }
    aw_group_cancel(&g);
    aw_group_wait(&g);
    aw_close(r->lfd);
    return NULL;
}

static void raw_start(struct raw *r, raw_reply reply) {
    r->lfd = aw_http_listen_tcp("127.0.0.1", 0, 128, false);
    ASSERT_GE(r->lfd, 0);
    r->port = aw_http_listener_port(r->lfd);
    snprintf(r->url, sizeof(r->url), "http://127.0.0.1:%d/", r->port);
    r->reply = reply;
    r->task = aw_async(raw_main, r);
    ASSERT_TRUE(r->task != NULL);
}

static void raw_stop(struct raw *r) {
    aw_cancel(r->task);
    aw_await(r->task);
}

/* Writes r->canned to every request, then closes. */
static const char *canned_reply(struct raw *r, int conn, int req, bool *close_after) {
    (void)conn;
    (void)req;
    *close_after = true;
    return r->canned;
}

/* Writes r->canned to every request and keeps the connection. */
static const char *canned_keep(struct raw *r, int conn, int req, bool *close_after) {
    (void)conn;
    (void)req;
    *close_after = false;
    return r->canned;
}

/* Runs a task body on a fresh loop with a raw server; checks that no fd is left behind. */
struct raw_run {
    void (*body)(struct raw *r, aw_client_t *cl);
    raw_reply reply;
    const char *canned;
    const aw_client_opts_t *opts;
};

static void *raw_run_main(void *arg) {
    struct raw_run *run = arg;
    struct raw r = {.canned = run->canned};
    raw_start(&r, run->reply);
    aw_client_t *cl = aw_client_new(run->opts);
    ASSERT_TRUE(cl != NULL);
    run->body(&r, cl);
    aw_client_free(cl);
    raw_stop(&r);
    return NULL;
}

static void with_raw(void (*body)(struct raw *r, aw_client_t *cl), raw_reply reply,
                     const char *canned, const aw_client_opts_t *opts) {
    size_t fds = count_fds();
    struct raw_run run = {.body = body, .reply = reply, .canned = canned, .opts = opts};
    ASSERT_EQ(aw_run(raw_run_main, &run, NULL), 0);
    aw_pool_shutdown_default();
    ASSERT_EQ(count_fds(), fds);
}

/* ---- round trips --------------------------------------------------------------------------------
 */

static void get_roundtrip(struct fx *f) {
    aw_response_t *res;
    ASSERT_EQ(get(f, "/echo/x?y=1#frag", &res), 0);
    ASSERT_EQ(aw_response_status(res), 200);
    ASSERT_STR_EQ(aw_response_reason(res), "OK");
    ASSERT_EQ(aw_response_version(res), 11);
    char want[256];
    snprintf(want, sizeof(want),
             "GET /echo/x?y=1 ua=awaitress/0.1 host=127.0.0.1:%d xd=(none) ct=(none)\n", f->port);
    ASSERT_STR_EQ(body_of(res), want);
    ASSERT_STR_EQ(aw_response_header(res, "x-TEST"), "abc");
    char cl[16];
    snprintf(cl, sizeof(cl), "%zu", strlen(want));
    ASSERT_STR_EQ(aw_response_header(res, "content-length"), cl);
    ASSERT_TRUE(aw_response_header(res, "x-missing") == NULL);
    /* Every field in order: Server, Date, Content-Length, X-Test. */
    const char *name, *value;
    size_t n = 0;
    bool saw_test = false;
    while (aw_response_header_at(res, n, &name, &value)) {
        if (strcmp(name, "X-Test") == 0 && strcmp(value, "abc") == 0)
            saw_test = true;
        n++;
    }
    ASSERT_EQ(n, 4);
    ASSERT_TRUE(saw_test);
    ASSERT_FALSE(aw_response_header_at(res, 4, NULL, NULL));
    aw_response_free(res);
}

TEST(get_roundtrip) {
    with_server(get_roundtrip, NULL);
}

static void post_roundtrip(struct fx *f) {
    aw_response_t *res;
    char url[128];
    snprintf(url, sizeof(url), "%s/echo", f->url);
    ASSERT_EQ(aw_client_post(f->cl, url, "text/plain", "hello", 5, &res), 0);
    ASSERT_EQ(aw_response_status(res), 200);
    ASSERT_CONTAINS(body_of(res), "POST /echo ");
    ASSERT_CONTAINS(body_of(res), "ct=text/plain\nhello");
    aw_response_free(res);
    /* A body larger than what goes out with the head, with NULs in it. */
    size_t big = 300 * 1024;
    char *data = malloc(big);
    for (size_t i = 0; i < big; i++)
        data[i] = (char)(i * 7);
    ASSERT_EQ(aw_client_put(f->cl, url, "application/octet-stream", data, big, &res), 0);
    size_t len;
    const char *b = aw_response_body(res, &len);
    const char *nl = memchr(b, '\n', len);
    ASSERT_TRUE(nl != NULL);
    ASSERT_EQ(len - (size_t)(nl + 1 - b), big);
    ASSERT_TRUE(memcmp(nl + 1, data, big) == 0);
    aw_response_free(res);
    free(data);
    /* POST without a body still says Content-Length: 0 (the server would wait otherwise). */
    ASSERT_EQ(aw_client_post(f->cl, url, NULL, NULL, 0, &res), 0);
    ASSERT_EQ(aw_response_status(res), 200);
    aw_response_free(res);
    ASSERT_EQ(f->npeers, 1);
}

TEST(post_roundtrip) {
    with_server(post_roundtrip, &(aw_client_opts_t){.max_response_bytes = 1024 * 1024});
}

static void big_response(struct fx *f) {
    aw_response_t *res;
    ASSERT_EQ(get(f, "/big?1000000", &res), 0);
    size_t len;
    const char *b = aw_response_body(res, &len);
    ASSERT_EQ(len, 1000000);
    ASSERT_EQ(b[999999], 'a' + 999999 % 26);
    aw_response_free(res);
    /* Over this client's limit. */
    ASSERT_EQ(get(f, "/big?1000001", &res), AW_EMSGSIZE);
    ASSERT_TRUE(res == NULL);
}

TEST(big_response_and_limit) {
    with_server(big_response, &(aw_client_opts_t){.max_response_bytes = 1000000});
}

static void default_headers(struct fx *f) {
    aw_response_t *res;
    ASSERT_EQ(get(f, "/echo", &res), 0);
    ASSERT_CONTAINS(body_of(res), " ua=test-agent/2 ");
    ASSERT_CONTAINS(body_of(res), " xd=d1 ");
    aw_response_free(res);
    /* The request's own headers win over the client's. */
    char url[128];
    snprintf(url, sizeof(url), "%s/echo", f->url);
    const char *h[] = {"X-Default", "mine", "User-Agent", "other/1", NULL};
    aw_fetch_req_t req = {.url = url, .headers = h};
    ASSERT_EQ(aw_fetch(f->cl, &req, &res), 0);
    ASSERT_CONTAINS(body_of(res), " ua=other/1 ");
    ASSERT_CONTAINS(body_of(res), " xd=mine ");
    aw_response_free(res);
}

TEST(default_headers_and_user_agent) {
    const char *h[] = {"X-Default", "d1", NULL};
    with_server(default_headers, &(aw_client_opts_t){.headers = h, .user_agent = "test-agent/2"});
}

static void base_url(struct fx *f) {
    aw_client_t *cl = aw_client_new(&(aw_client_opts_t){.base_url = f->url});
    char base[96];
    snprintf(base, sizeof(base), "%s/api", f->url);
    aw_client_t *api = aw_client_new(&(aw_client_opts_t){.base_url = base});
    ASSERT_TRUE(cl && api);
    aw_response_t *res;
    ASSERT_EQ(aw_client_get(cl, "/echo?a=1", &res), 0);
    ASSERT_CONTAINS(body_of(res), "GET /echo?a=1 ");
    aw_response_free(res);
    ASSERT_EQ(aw_client_get(api, "/items?x=1", &res), 0);
    ASSERT_CONTAINS(body_of(res), "GET /api/items?x=1 ");
    aw_response_free(res);
    ASSERT_EQ(aw_client_get(api, "items", &res), 0);
    ASSERT_CONTAINS(body_of(res), "GET /api/items ");
    aw_response_free(res);
    /* An absolute URL ignores the base. */
    char abs[128];
    snprintf(abs, sizeof(abs), "%s/echo/abs", f->url);
    ASSERT_EQ(aw_client_get(api, abs, &res), 0);
    ASSERT_CONTAINS(body_of(res), "GET /echo/abs ");
    aw_response_free(res);
    aw_client_free(cl);
    aw_client_free(api);
}

TEST(base_url) {
    with_server(base_url, NULL);
}

static void host_name(struct fx *f) {
    /* "localhost" goes through getaddrinfo on the pool; ::1 may come first and be refused. */
    char url[96];
    snprintf(url, sizeof(url), "http://localhost:%d/echo", f->port);
    aw_response_t *res;
    ASSERT_EQ(aw_client_get(f->cl, url, &res), 0);
    char want[64];
    snprintf(want, sizeof(want), " host=localhost:%d ", f->port);
    ASSERT_CONTAINS(body_of(res), want);
    aw_response_free(res);
    ASSERT_EQ(aw_client_get(f->cl, "http://no-such-host.invalid/", &res), AW_EADDRNOTAVAIL);
}

TEST(host_name_resolved) {
    with_server(host_name, NULL);
}

struct v6 {
    bool ran;
    aw_http_server_t *srv;
};

static void *ipv6_main(void *arg) {
    struct v6 *v = arg;
    int lfd = aw_http_listen_tcp("::1", 0, 16, false);
    if (lfd < 0)
        return NULL; /* no IPv6 loopback here */
    struct fx f = {0};
    int port = aw_http_listener_port(lfd);
    v->srv = aw_http_server_new(NULL, handler, &f);
    ASSERT_EQ(aw_http_server_start(v->srv, lfd), 0);
    aw_client_t *cl = aw_client_new(NULL);
    char url[96];
    snprintf(url, sizeof(url), "http://[::1]:%d/echo", port);
    aw_response_t *res;
    ASSERT_EQ(aw_client_get(cl, url, &res), 0);
    char want[64];
    snprintf(want, sizeof(want), " host=[::1]:%d ", port);
    ASSERT_CONTAINS(body_of(res), want);
    aw_response_free(res);
    aw_client_free(cl);
    aw_http_server_shutdown(v->srv, 0);
    v->ran = true;
    return NULL;
}

TEST(ipv6_literal) {
    size_t fds = count_fds();
    struct v6 v = {0};
    run_loop(ipv6_main, &v, &v.srv);
    if (!v.ran)
        printf("# skipped: no IPv6 loopback\n");
    ASSERT_EQ(count_fds(), fds);
}

/* ---- connections --------------------------------------------------------------------------------
 */

static void keepalive_reuse(struct fx *f) {
    for (int i = 0; i < 5; i++) {
        aw_response_t *res;
        ASSERT_EQ(get(f, "/echo", &res), 0);
        ASSERT_EQ(aw_response_status(res), 200);
        aw_response_free(res);
        ASSERT_EQ(aw_client_idle_connections(f->cl), 1);
    }
    ASSERT_EQ(f->requests, 5);
    ASSERT_EQ(f->npeers, 1); /* one connection carried all five */
}

TEST(keepalive_reuse) {
    with_server(keepalive_reuse, NULL);
}

static void no_pooling(struct fx *f) {
    for (int i = 0; i < 3; i++) {
        aw_response_t *res;
        ASSERT_EQ(get(f, "/echo", &res), 0);
        aw_response_free(res);
        ASSERT_EQ(aw_client_idle_connections(f->cl), 0);
    }
    ASSERT_EQ(f->npeers, 3);
}

TEST(no_pooling_when_max_idle_negative) {
    with_server(no_pooling, &(aw_client_opts_t){.max_idle_per_host = -1});
}

static void idle_expiry(struct fx *f) {
    aw_response_t *res;
    ASSERT_EQ(get(f, "/echo", &res), 0);
    aw_response_free(res);
    ASSERT_EQ(aw_sleep_ms(120), 0);
    ASSERT_EQ(get(f, "/echo", &res), 0);
    aw_response_free(res);
    ASSERT_EQ(f->npeers, 2); /* the first connection idled too long to be reused */
}

TEST(idle_timeout_expires_pooled) {
    with_server(idle_expiry, &(aw_client_opts_t){.idle_timeout_ms = 50});
}

static void chunked(struct fx *f) {
    aw_response_t *res;
    ASSERT_EQ(get(f, "/chunked", &res), 0);
    ASSERT_EQ(aw_response_status(res), 200);
    ASSERT_STR_EQ(aw_response_header(res, "transfer-encoding"), "chunked");
    ASSERT_STR_EQ(body_of(res), "hello chunked world");
    aw_response_free(res);
    ASSERT_EQ(aw_client_idle_connections(f->cl), 1); /* chunked framing keeps the connection */
    ASSERT_EQ(get(f, "/echo", &res), 0);
    aw_response_free(res);
    ASSERT_EQ(f->npeers, 1);
}

TEST(chunked_response) {
    with_server(chunked, NULL);
}

static void head(struct fx *f) {
    char url[96];
    snprintf(url, sizeof(url), "%s/big?5000", f->url);
    aw_response_t *res;
    ASSERT_EQ(aw_client_head(f->cl, url, &res), 0);
    ASSERT_EQ(aw_response_status(res), 200);
    ASSERT_STR_EQ(aw_response_header(res, "content-length"), "5000");
    size_t len = 99;
    ASSERT_STR_EQ(aw_response_body(res, &len), "");
    ASSERT_EQ(len, 0);
    aw_response_free(res);
    /* No body was expected, so the next response on the connection parses. */
    ASSERT_EQ(get(f, "/big?3", &res), 0);
    ASSERT_STR_EQ(body_of(res), "abc");
    aw_response_free(res);
    ASSERT_EQ(get(f, "/nocontent", &res), 0);
    ASSERT_EQ(aw_response_status(res), 204);
    aw_response_free(res);
    ASSERT_EQ(f->npeers, 1);
}

TEST(head_and_no_content) {
    with_server(head, NULL);
}

static void connection_close(struct fx *f) {
    char url[96];
    snprintf(url, sizeof(url), "%s/echo", f->url);
    const char *h[] = {"Connection", "close", NULL};
    aw_fetch_req_t req = {.url = url, .headers = h};
    for (int i = 0; i < 2; i++) {
        aw_response_t *res;
        ASSERT_EQ(aw_fetch(f->cl, &req, &res), 0);
        ASSERT_STR_EQ(aw_response_header(res, "connection"), "close");
        aw_response_free(res);
        ASSERT_EQ(aw_client_idle_connections(f->cl), 0);
    }
    ASSERT_EQ(f->npeers, 2);
}

TEST(connection_close_requested) {
    with_server(connection_close, NULL);
}

/* The server says close but keeps the connection open: the client must not reuse it. */
static void server_says_close(struct raw *r, aw_client_t *cl) {
    for (int i = 0; i < 2; i++) {
        aw_response_t *res;
        ASSERT_EQ(aw_client_get(cl, r->url, &res), 0);
        ASSERT_STR_EQ(body_of(res), "ok");
        aw_response_free(res);
        ASSERT_EQ(aw_client_idle_connections(cl), 0);
    }
    ASSERT_EQ(r->accepts, 2);
}

TEST(connection_close_from_server) {
    with_raw(server_says_close, canned_keep,
             "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", NULL);
}

/* The client asked to close: it must not reuse the connection even if the server would. */
static void client_says_close(struct raw *r, aw_client_t *cl) {
    const char *h[] = {"Connection", "keep-alive, close", NULL};
    aw_fetch_req_t req = {.url = r->url, .headers = h};
    for (int i = 0; i < 2; i++) {
        aw_response_t *res;
        ASSERT_EQ(aw_fetch(cl, &req, &res), 0);
        aw_response_free(res);
        ASSERT_EQ(aw_client_idle_connections(cl), 0);
    }
    ASSERT_EQ(r->accepts, 2);
}

TEST(connection_close_from_client_honoured) {
    with_raw(client_says_close, canned_keep, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
             NULL);
}

static void http10(struct raw *r, aw_client_t *cl) {
    aw_response_t *res;
    ASSERT_EQ(aw_client_get(cl, r->url, &res), 0);
    ASSERT_EQ(aw_response_version(res), 10);
    ASSERT_STR_EQ(body_of(res), "old school\r\nbody");
    aw_response_free(res);
    ASSERT_EQ(aw_client_idle_connections(cl), 0);
}

TEST(http10_read_until_close) {
    with_raw(http10, canned_reply, "HTTP/1.0 200 OK\r\nServer: old\r\n\r\nold school\r\nbody",
             NULL);
}

static void http10_keepalive(struct raw *r, aw_client_t *cl) {
    for (int i = 0; i < 3; i++) {
        aw_response_t *res;
        ASSERT_EQ(aw_client_get(cl, r->url, &res), 0);
        ASSERT_EQ(aw_response_version(res), 10);
        ASSERT_STR_EQ(body_of(res), "ok");
        aw_response_free(res);
        ASSERT_EQ(aw_client_idle_connections(cl), 1);
    }
    ASSERT_EQ(r->accepts, 1);
}

TEST(http10_keepalive_reused) {
    with_raw(http10_keepalive, canned_keep,
             "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", NULL);
}

static void continue_skipped(struct raw *r, aw_client_t *cl) {
    aw_response_t *res;
    ASSERT_EQ(aw_client_post(cl, r->url, "text/plain", "x", 1, &res), 0);
    ASSERT_EQ(aw_response_status(res), 201);
    ASSERT_STR_EQ(aw_response_header(res, "x-final"), "yes");
    ASSERT_STR_EQ(body_of(res), "ok");
    aw_response_free(res);
    ASSERT_EQ(aw_client_idle_connections(cl), 1);
}

TEST(continue_response_skipped) {
    with_raw(continue_skipped, canned_keep,
             "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nX-Final: yes\r\nContent-Length: "
             "2\r\n\r\nok",
             NULL);
}

static void chunked_ext(struct raw *r, aw_client_t *cl) {
    for (int i = 0; i < 2; i++) {
        aw_response_t *res;
        ASSERT_EQ(aw_client_get(cl, r->url, &res), 0);
        ASSERT_STR_EQ(body_of(res), "hello world");
        ASSERT_TRUE(aw_response_header(res, "x-trailer") == NULL); /* trailers are dropped */
        aw_response_free(res);
    }
    ASSERT_EQ(r->accepts, 1);
}

TEST(chunked_extensions_and_trailers) {
    with_raw(chunked_ext, canned_keep,
             "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;name=\"v\"\r\nhello\r\n"
             "6 ; x=y\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
             NULL);
}

static void not_modified(struct raw *r, aw_client_t *cl) {
    aw_response_t *res;
    for (int i = 0; i < 2; i++) {
        ASSERT_EQ(aw_client_get(cl, r->url, &res), 0);
        ASSERT_EQ(aw_response_status(res), 304);
        ASSERT_STR_EQ(body_of(res), "");
        aw_response_free(res);
    }
    ASSERT_EQ(r->accepts, 1);
    ASSERT_EQ(r->requests[0], 2);
}

TEST(not_modified_has_no_body) {
    with_raw(not_modified, canned_keep, "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
             NULL);
}

/* Stray bytes after a response: the connection cannot be trusted with another. */
static void stray_bytes(struct raw *r, aw_client_t *cl) {
    aw_response_t *res;
    ASSERT_EQ(aw_client_get(cl, r->url, &res), 0);
    ASSERT_STR_EQ(body_of(res), "ok");
    aw_response_free(res);
    ASSERT_EQ(aw_client_idle_connections(cl), 0);
}

TEST(stray_bytes_after_response_not_pooled) {
    with_raw(stray_bytes, canned_keep, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokJUNK", NULL);
}

struct conc {
    struct fx *f;
    int rc;
};

static void *conc_main(void *arg) {
    struct conc *c = arg;
    aw_response_t *res;
    c->rc = get(c->f, "/sleep200", &res);
    if (c->rc == 0) {
        if (strcmp(body_of(res), "late") != 0)
            c->rc = -1;
        aw_response_free(res);
    }
    return NULL;
}

static void concurrent(struct fx *f) {
    struct conc c[4];
    aw_task_t *t[4];
    uint64_t start = aw_now_ns();
    for (int i = 0; i < 4; i++) {
        c[i] = (struct conc){.f = f, .rc = 1};
        t[i] = aw_async(conc_main, &c[i]);
    }
    ASSERT_EQ(aw_gather(t, 4, NULL), 0);
    for (int i = 0; i < 4; i++)
        ASSERT_EQ(c[i].rc, 0);
    ASSERT_LT(ms_since(start), 4 * 200 - 100); /* at once, not one after another */
    ASSERT_EQ(f->npeers, 4);
    ASSERT_EQ(aw_client_idle_connections(f->cl), 2); /* max_idle_per_host */
    ASSERT_EQ(aw_sleep_ms(50), 0);
    ASSERT_EQ(aw_http_server_connections(f->srv), 2); /* the two others were closed */
}

TEST(concurrent_requests_one_client) {
    with_server(concurrent, &(aw_client_opts_t){.max_idle_per_host = 2});
}

/* ---- timeouts and cancellation ------------------------------------------------------------------
 */

static void timeout(struct fx *f) {
    aw_response_t *res = (aw_response_t *)1;
    uint64_t start = aw_now_ns();
    ASSERT_EQ(get(f, "/sleep", &res), AW_ETIMEDOUT);
    ASSERT_TRUE(res == NULL);
    uint64_t took = ms_since(start);
    ASSERT_GE(took, 90);
    ASSERT_LT(took, 1000);
    ASSERT_EQ(aw_client_idle_connections(f->cl), 0); /* timed out: closed, not pooled */
    /* A per-request timeout overrides the client's. */
    char url[96];
    snprintf(url, sizeof(url), "%s/sleep200", f->url);
    aw_fetch_req_t req = {.url = url, .timeout_ms = 1000};
    ASSERT_EQ(aw_fetch(f->cl, &req, &res), 0);
    ASSERT_STR_EQ(body_of(res), "late");
    aw_response_free(res);
    /* So does a deadline scope of the caller, when earlier. */
    aw_deadline_t d;
    aw_deadline_enter(&d, 50);
    start = aw_now_ns();
    ASSERT_EQ(aw_fetch(f->cl, &req, &res), AW_ETIMEDOUT);
    ASSERT_TRUE(aw_deadline_exit(&d));
    ASSERT_LT(ms_since(start), 190);
}

TEST(timeout) {
    aw_log_set_level(AW_LOG_OFF); /* the server logs the handlers cancelled at shutdown */
    with_server(timeout, &(aw_client_opts_t){.timeout_ms = 100});
}

struct cancel_arg {
    struct fx *f;
    int rc;
    bool started;
};

static void *cancel_task(void *arg) {
    struct cancel_arg *a = arg;
    aw_response_t *res = NULL;
    a->started = true;
    a->rc = get(a->f, "/sleep", &res);
    ASSERT_TRUE(res == NULL);
    return NULL;
}

static void cancel(struct fx *f) {
    struct cancel_arg a = {.f = f, .rc = 1};
    aw_task_t *t = aw_async(cancel_task, &a);
    ASSERT_EQ(aw_sleep_ms(100), 0);
    ASSERT_TRUE(a.started);
    ASSERT_EQ(f->requests, 1); /* the request is in the server's handler */
    uint64_t start = aw_now_ns();
    aw_cancel(t);
    ASSERT_EQ(aw_await_status(t, NULL), AW_ECANCELED);
    ASSERT_EQ(a.rc, AW_ECANCELED);
    ASSERT_LT(ms_since(start), 500);
    ASSERT_EQ(aw_client_idle_connections(f->cl), 0);
    /* The client still works. */
    aw_response_t *res;
    ASSERT_EQ(get(f, "/echo", &res), 0);
    aw_response_free(res);
}

TEST(cancel_while_waiting) {
    aw_log_set_level(AW_LOG_OFF);
    with_server(cancel, NULL);
}

static void *refused_main(void *arg) {
    (void)arg;
    /* Bound but not listening: connecting to it is refused, and nobody else can take the port. */
    int fd = aw__tcp_bind("127.0.0.1", 0, -1, false, true);
    ASSERT_GE(fd, 0);
    int port = aw_http_listener_port(fd);
    aw_client_t *cl = aw_client_new(NULL);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
    aw_response_t *res = (aw_response_t *)1;
    ASSERT_EQ(aw_client_get(cl, url, &res), AW_ECONNREFUSED);
    ASSERT_TRUE(res == NULL);
    aw_client_free(cl);
    close(fd);
    return NULL;
}

TEST(connection_refused) {
    size_t fds = count_fds();
    ASSERT_EQ(aw_run(refused_main, NULL, NULL), 0);
    ASSERT_EQ(count_fds(), fds);
}

static void *connect_timeout_main(void *arg) {
    (void)arg;
    /* A listener that never accepts, its queue full: further SYNs are dropped, so connecting hangs.
     */
    int lfd = aw__tcp_bind("127.0.0.1", 0, 0, false, true);
    ASSERT_GE(lfd, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons((uint16_t)aw_http_listener_port(lfd))};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fillers[3];
    for (int i = 0; i < 3; i++) {
        fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        connect(fillers[i], (struct sockaddr *)&sin, sizeof(sin));
    }
    ASSERT_EQ(aw_sleep_ms(20), 0);
    aw_client_t *cl =
        aw_client_new(&(aw_client_opts_t){.connect_timeout_ms = 150, .timeout_ms = 5000});
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", aw_http_listener_port(lfd));
    aw_response_t *res;
    uint64_t start = aw_now_ns();
    ASSERT_EQ(aw_client_get(cl, url, &res), AW_ETIMEDOUT);
    ASSERT_GE(ms_since(start), 140);
    ASSERT_LT(ms_since(start), 1000);
    aw_client_free(cl);
    for (int i = 0; i < 3; i++)
        close(fillers[i]);
    close(lfd);
    return NULL;
}

TEST(connect_timeout) {
    size_t fds = count_fds();
    ASSERT_EQ(aw_run(connect_timeout_main, NULL, NULL), 0);
    ASSERT_EQ(count_fds(), fds);
}

/* ---- malformed and hostile servers --------------------------------------------------------------
 */

static int g_want;

static void expect_error(struct raw *r, aw_client_t *cl) {
    aw_response_t *res = (aw_response_t *)1;
    ASSERT_EQ(aw_client_get(cl, r->url, &res), g_want);
    ASSERT_TRUE(res == NULL);
    ASSERT_EQ(aw_client_idle_connections(cl), 0);
}

static void raw_expect(const char *reply, int want, const aw_client_opts_t *opts) {
    g_want = want;
    with_raw(expect_error, canned_reply, reply, opts);
}

TEST(malformed_garbage) {
    raw_expect("HELLO WORLD, THIS IS NOT HTTP\r\n\r\n", AW_EPROTO, NULL);
}

TEST(malformed_bad_chunk_size) {
    raw_expect("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
               AW_EPROTO, NULL);
}

TEST(malformed_cl_and_te) {
    raw_expect(
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        AW_EPROTO, NULL);
}

TEST(malformed_truncated_body) {
    raw_expect("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", AW_EPROTO, NULL);
}

TEST(malformed_truncated_chunked) {
    raw_expect("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", AW_EPROTO, NULL);
}

TEST(malformed_truncated_head) {
    raw_expect("HTTP/1.1 200 OK\r\nContent-Le", AW_EPROTO, NULL);
}

TEST(oversized_content_length) {
    raw_expect("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789", AW_EMSGSIZE,
               &(aw_client_opts_t){.max_response_bytes = 16});
}

TEST(oversized_chunked) {
    raw_expect("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               "8\r\n01234567\r\n8\r\n01234567\r\n8\r\n01234567\r\n0\r\n\r\n",
               AW_EMSGSIZE, &(aw_client_opts_t){.max_response_bytes = 16});
}

TEST(oversized_until_close) {
    raw_expect("HTTP/1.1 200 OK\r\n\r\n0123456789abcdefghij", AW_EMSGSIZE,
               &(aw_client_opts_t){.max_response_bytes = 16});
}

TEST(oversized_head) {
    size_t n = 80 * 1024;
    char *reply = malloc(n + 64);
    int len = sprintf(reply, "HTTP/1.1 200 OK\r\nX-Big: ");
    memset(reply + len, 'x', n);
    strcpy(reply + len + n, "\r\nContent-Length: 0\r\n\r\n");
    raw_expect(reply, AW_EMSGSIZE, NULL);
    free(reply);
}

TEST(closed_without_response) {
    /* A fresh connection closed before any byte: reset, and not retried (one accept). */
    g_want = AW_ECONNRESET;
    with_raw(expect_error, canned_reply, NULL, NULL);
}

/* A server that never stops sending interim responses. */
static const char *interim_flood(struct raw *r, int conn, int req, bool *close_after) {
    (void)r;
    (void)conn;
    (void)req;
    static char flood[40 * 24 + 1];
    for (int i = 0; i < 40; i++)
        memcpy(flood + i * 24, "HTTP/1.1 100 Continue\r\n\r\n", 24);
    flood[40 * 24] = '\0';
    *close_after = false;
    return flood;
}

static void expect_proto(struct raw *r, aw_client_t *cl) {
    aw_response_t *res;
    ASSERT_EQ(aw_client_get(cl, r->url, &res), AW_EPROTO);
}

TEST(interim_flood_refused) {
    with_raw(expect_proto, interim_flood, NULL, NULL);
}

/* ---- stale pooled connections -------------------------------------------------------------------
 */

/* Connection 0 answers its first request, then closes on the second without answering. */
static const char *stale_script(struct raw *r, int conn, int req, bool *close_after) {
    (void)r;
    *close_after = false;
    if (conn == 0 && req == 0)
        return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\no1";
    if (conn == 0)
        return NULL;
    return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\no2";
}

static void stale_retried(struct raw *r, aw_client_t *cl) {
    aw_response_t *res;
    ASSERT_EQ(aw_client_get(cl, r->url, &res), 0);
    ASSERT_STR_EQ(body_of(res), "o1");
    aw_response_free(res);
    ASSERT_EQ(aw_client_idle_connections(cl), 1);
    /* Reused, closed under the request with no response byte: sent again on a new connection. */
    ASSERT_EQ(aw_client_get(cl, r->url, &res), 0);
    ASSERT_STR_EQ(body_of(res), "o2");
    aw_response_free(res);
    ASSERT_EQ(r->accepts, 2);
    ASSERT_EQ(r->requests[0], 2);
    ASSERT_EQ(r->requests[1], 1);
}

TEST(stale_pooled_connection_retried) {
    with_raw(stale_retried, stale_script, NULL, NULL);
}

static void stale_post_not_retried(struct raw *r, aw_client_t *cl) {
    aw_response_t *res;
    ASSERT_EQ(aw_client_post(cl, r->url, "text/plain", "a", 1, &res), 0);
    aw_response_free(res);
    ASSERT_EQ(aw_client_post(cl, r->url, "text/plain", "b", 1, &res), AW_ECONNRESET);
    ASSERT_EQ(r->accepts, 1); /* POST is not idempotent: never sent twice */
}

TEST(stale_pooled_post_not_retried) {
    with_raw(stale_post_not_retried, stale_script, NULL, NULL);
}

/* Connection 0 answers and closes at once, as if its keep-alive timeout were 0. */
static const char *close_after_first(struct raw *r, int conn, int req, bool *close_after) {
    (void)r;
    (void)req;
    *close_after = conn == 0;
    return conn == 0 ? "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\no1"
                     : "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\no2";
}

static void stale_seen_before_reuse(struct raw *r, aw_client_t *cl) {
    aw_response_t *res;
    ASSERT_EQ(aw_client_post(cl, r->url, NULL, "a", 1, &res), 0);
    aw_response_free(res);
    ASSERT_EQ(aw_sleep_ms(30), 0); /* the FIN arrives */
    /* Even a POST succeeds: the closed connection is noticed before anything is sent. */
    ASSERT_EQ(aw_client_post(cl, r->url, NULL, "b", 1, &res), 0);
    ASSERT_STR_EQ(body_of(res), "o2");
    aw_response_free(res);
    ASSERT_EQ(r->accepts, 2);
    ASSERT_EQ(r->requests[0], 1);
}

TEST(stale_pooled_connection_noticed_before_reuse) {
    with_raw(stale_seen_before_reuse, close_after_first, NULL, NULL);
}

/* ---- invalid requests ---------------------------------------------------------------------------
 */

static void *invalid_main(void *arg) {
    (void)arg;
    aw_client_t *cl = aw_client_new(NULL);
    aw_response_t *res = (aw_response_t *)1;
    const char *bad_urls[] = {
        "https://example.com/",  "ftp://example.com/", "http://",         "http:///path",
        "http://host:99999/",    "http://host:0/",     "http://host:8x/", "http://a b/",
        "http://h/pa th",        "http://user@h/",     "http://[::1/",    "http://[zz]/",
        "relative/without/base", "/abs/without/base",  "http://h/\x7f",
    };
    for (size_t i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++) {
        if (aw_client_get(cl, bad_urls[i], &res) != AW_EINVAL)
            TEST_FAIL_("%s was not refused", bad_urls[i]);
        ASSERT_TRUE(res == NULL);
    }
    const char *const bad_headers[][3] = {
        {"X-A", "a\r\nInjected: yes", NULL},
        {"X A", "v", NULL},
        {"", "v", NULL},
        {"Content-Length", "5", NULL},
        {"Transfer-Encoding", "chunked", NULL},
        {"X-A", "nul\x01", NULL},
    };
    for (size_t i = 0; i < sizeof(bad_headers) / sizeof(bad_headers[0]); i++) {
        aw_fetch_req_t req = {.url = "http://127.0.0.1:9/", .headers = bad_headers[i]};
        ASSERT_EQ(aw_fetch(cl, &req, &res), AW_EINVAL);
    }
    aw_fetch_req_t req = {.method = "GE T", .url = "http://127.0.0.1:9/"};
    ASSERT_EQ(aw_fetch(cl, &req, &res), AW_EINVAL);
    req.method = "CONNECT";
    ASSERT_EQ(aw_fetch(cl, &req, &res), AW_EINVAL);
    req = (aw_fetch_req_t){.url = "http://127.0.0.1:9/", .content_type = "text/plain\r\nX: y"};
    ASSERT_EQ(aw_fetch(cl, &req, &res), AW_EINVAL);
    aw_client_free(cl);

    /* Invalid options: no client. */
    ASSERT_TRUE(aw_client_new(&(aw_client_opts_t){.base_url = "https://example.com"}) == NULL);
    ASSERT_TRUE(aw_client_new(&(aw_client_opts_t){.base_url = "http://h/?q=1"}) == NULL);
    const char *bad[] = {"X-A", "a\nb", NULL};
    ASSERT_TRUE(aw_client_new(&(aw_client_opts_t){.headers = bad}) == NULL);
    ASSERT_TRUE(aw_client_new(&(aw_client_opts_t){.user_agent = "a\rb"}) == NULL);
    aw_client_free(NULL);
    aw_response_free(NULL);
    return NULL;
}

TEST(invalid_requests_refused) {
    aw_log_set_level(AW_LOG_OFF); /* the https refusal is logged; keep the output clean */
    size_t fds = count_fds();
    ASSERT_EQ(aw_run(invalid_main, NULL, NULL), 0);
    ASSERT_EQ(count_fds(), fds);
}

/* ---- aw__client_exchange over a socketpair ------------------------------------------------------
 */

static void *pair_peer(void *arg) {
    int fd = *(int *)arg;
    char buf[512];
    size_t len = 0;
    while (!memmem(buf, len, "\r\n\r\n", 4)) {
        ssize_t n = aw_read(fd, buf + len, sizeof(buf) - len);
        ASSERT_GT(n, 0);
        len += (size_t)n;
    }
    ASSERT_TRUE(strncmp(buf, "GET /pair HTTP/1.1\r\n", 20) == 0);
    /* In two pieces, the cut inside a chunk-size line. */
    const char *a = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\npair\r\n1";
    const char *b = "\r\n!\r\n0\r\n\r\n";
    ASSERT_EQ(aw_write(fd, a, strlen(a)), (ssize_t)strlen(a));
    ASSERT_EQ(aw_sleep_ms(20), 0);
    ASSERT_EQ(aw_write(fd, b, strlen(b)), (ssize_t)strlen(b));
    return NULL;
}

static void *pair_main(void *arg) {
    (void)arg;
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    aw_task_t *peer = aw_async(pair_peer, &sv[1]);
    const char *req = "GET /pair HTTP/1.1\r\nHost: test\r\n\r\n";
    aw_response_t *res;
    ASSERT_EQ(aw__client_exchange(sv[0], req, strlen(req), false, &res), 0);
    ASSERT_EQ(aw_await_status(peer, NULL), 0);
    ASSERT_EQ(aw_response_status(res), 200);
    ASSERT_STR_EQ(body_of(res), "pair!");
    aw_response_free(res);
    ASSERT_GE(fcntl(sv[0], F_GETFD), 0); /* still the caller's, still open */
    /* The peer gone: the caller's fd reports a reset, not a crash. */
    aw_close(sv[1]);
    ASSERT_EQ(aw__client_exchange(sv[0], req, strlen(req), false, &res), AW_ECONNRESET);
    ASSERT_TRUE(res == NULL);
    aw_close(sv[0]);
    return NULL;
}

TEST(exchange_over_socketpair) {
    size_t fds = count_fds();
    ASSERT_EQ(aw_run(pair_main, NULL, NULL), 0);
    ASSERT_EQ(count_fds(), fds);
}
