/* SPDX-License-Identifier: MIT */
/*
 * The HTTP client: URLs, the connection pool, writing a request and reading
 * its response.
 *
 * DESIGN
 * aw_fetch() runs in the calling task from start to end: it checks and
 * serializes the request into one heap buffer, takes a connection (the most
 * recently pooled one for the host:port that still looks alive, else a new
 * one: getaddrinfo() on the thread pool unless the host is a literal, then
 * a non-blocking connect), writes, and reads the response with the parser
 * in parser.c, which decodes the body too. The whole request runs inside
 * one deadline scope, connecting inside a nested one, so every await (pool
 * job, connect, write, read) ends with AW_ETIMEDOUT or AW_ECANCELED when it
 * must; the connection is then closed. Only a connection whose response
 * was complete, correctly framed, allowed to persist and followed by no
 * stray byte goes back to the pool.
 *
 * The pool is one list of idle connections, newest first, each tagged with
 * its "host:port" key: taking one is linear in the idle connections (a few
 * per host; fine for the dozens of hosts a service talks to). An idle
 * connection is not watched: a peek (recv with MSG_PEEK) before reuse tells
 * one the server has closed from one still open. A server may still close
 * it at the moment we send; a request that then sees the connection end
 * before any response byte is sent again, once, on a new connection, if its
 * method is idempotent.
 *
 * Stack use matters: aw_fetch() runs on the caller's 64 KiB coroutine stack,
 * so buffers live on the heap and frames stay under a kilobyte or two.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "awaitress/pool.h"
#include "../common/buf.h"
#include "client_internal.h"

#define MAX_HEAD (64 * 1024)        /* a response head */
#define MAX_FIELDS 256              /* header fields in a response head */
#define MAX_CHUNK_EXT 4096          /* chunk extensions per chunk line */
#define MAX_TRAILERS 8192           /* the trailer section */
#define MAX_INTERIM 32              /* 1xx responses before the final one */
#define FIELDS_INLINE 32            /* header table on the stack; more go to the heap */
#define READ_BUF 8192               /* the first read buffer */
#define BODY_INLINE_MAX (64 * 1024) /* request bodies up to this are sent with the head */
#define DEFAULT_MAX_RESPONSE ((size_t)64 * 1024 * 1024)
#define DEFAULT_USER_AGENT "awaitress/0.1"

struct aw_response {
    int status, version;
    const char *reason;
    char *head; /* a copy of the head, names and values NUL-terminated in place */
    struct aw__hfield *fields;
    uint32_t nfields;
    char *body; /* NULL when there is none */
    size_t body_len;
};

/* A kept-alive connection resting in the pool. */
struct idle {
    struct idle *next;
    int fd;
    uint64_t since_ns;
    char key[]; /* "host:port" */
};

struct aw_client {
    char *base;      /* "http://host:port" of base_url, or NULL */
    char *base_path; /* its path, ending in '/' */
    uint32_t timeout_ms, connect_timeout_ms, idle_timeout_ms;
    int max_idle;         /* per host; 0: no pooling */
    char **headers;       /* name, value, ..., NULL (copies) */
    char *user_agent;     /* NULL: none */
    aw_http_config_t cfg; /* the response parser's limits */
    struct idle *idle;    /* newest first */
    size_t nidle;
    size_t inflight;
};

/* ---- small helpers -------------------------------------------------------------------------- */

static char lower(char c) {
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool prefix_ci(const char *s, const char *lower_prefix) {
    for (; *lower_prefix; s++, lower_prefix++)
        if (lower(*s) != *lower_prefix)
            return false;
    return true;
}

static bool is_token(const char *s) {
    if (!*s)
        return false;
    for (; *s; s++)
        if (!(aw__http_class[(unsigned char)*s] & C_TCHAR))
            return false;
    return true;
}

/* A field value we may send: no CR, LF, NUL or other control but HTAB. */
static bool is_value(const char *s) {
    for (; *s; s++)
        if (!(aw__http_class[(unsigned char)*s] & C_VALUE))
            return false;
    return true;
}

static bool name_is(const char *name, const char *other) {
    return strcasecmp(name, other) == 0;
}

/* True if the NULL-terminated name/value list has a field called `name` (any case). */
static bool list_has(const char *const *list, const char *name) {
    for (size_t i = 0; list && list[i] && list[i + 1]; i += 2)
        if (name_is(list[i], name))
            return true;
    return false;
}

/* True if a Connection value lists the `close` option. */
static bool lists_close(const char *v) {
    while (*v) {
        while (*v == ' ' || *v == '\t' || *v == ',')
            v++;
        const char *s = v;
        while (*v && *v != ',')
            v++;
        const char *e = v;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (aw__str_ieq(s, (size_t)(e - s), "close"))
            return true;
    }
    return false;
}

static void sb_field(aw__buf_t *b, const char *name, const char *value) {
    aw__buf_puts(b, name);
    aw__buf_put(b, ": ", 2);
    aw__buf_puts(b, value);
    aw__buf_put(b, "\r\n", 2);
}

/* ---- URLs ----------------------------------------------------------------------------------- */

struct url {
    char host[256]; /* without brackets, NUL-terminated */
    bool ipv6;
    int port;
    const char *path; /* path and query, without the fragment; may be empty */
    size_t path_len;
};

static bool host_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static bool ipv6_char(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
           c == '.';
}

/* Path and query bytes must be visible ASCII: spaces and the rest are the caller's to encode. */
static bool valid_path(const char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] >= 0x7f)
            return false;
    return true;
}

/* Length of `s` up to a '#' (the fragment is never sent) or its end. */
static size_t without_fragment(const char *s) {
    const char *hash = strchr(s, '#');
    return hash ? (size_t)(hash - s) : strlen(s);
}

/* True if `s` starts with "scheme://". */
static bool has_scheme(const char *s) {
    const char *p = s;
    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
           *p == '+' || *p == '-' || *p == '.')
        p++;
    return p > s && strncmp(p, "://", 3) == 0;
}

/* Parses an absolute http:// URL. Returns 0 or AW_EINVAL (an https:// URL is logged). */
static int parse_url(const char *s, struct url *u) {
    memset(u, 0, sizeof(*u));
    if (prefix_ci(s, "https://")) {
        aw_log(AW_LOG_WARN, "http client: https is not supported, only http:// URLs (%.200s)", s);
        return AW_EINVAL;
    }
    if (!prefix_ci(s, "http://"))
        return AW_EINVAL;
    const char *a = s + 7, *e = a;
    while (*e && *e != '/' && *e != '?' && *e != '#')
        e++;
    const char *hs, *he, *port = NULL;
    if (*a == '[') {
        const char *close = memchr(a, ']', (size_t)(e - a));
        if (!close)
            return AW_EINVAL;
        hs = a + 1;
        he = close;
        for (const char *c = hs; c < he; c++)
            if (!ipv6_char(*c))
                return AW_EINVAL;
        u->ipv6 = true;
        if (close + 1 < e) {
            if (close[1] != ':')
                return AW_EINVAL;
            port = close + 2;
        }
    } else {
        hs = he = a;
        while (he < e && *he != ':')
            he++;
        for (const char *c = hs; c < he; c++)
            if (!host_char(*c))
                return AW_EINVAL; /* userinfo ('@') included: not supported */
        if (he < e)
            port = he + 1;
    }
    if (he == hs || (size_t)(he - hs) >= sizeof(u->host))
        return AW_EINVAL;
    memcpy(u->host, hs, (size_t)(he - hs));
    u->port = 80;
    if (port && port < e) {
        long v = 0;
        for (const char *c = port; c < e; c++) {
            if (*c < '0' || *c > '9' || (v = v * 10 + (*c - '0')) > 65535)
                return AW_EINVAL;
        }
        if (v == 0)
            return AW_EINVAL;
        u->port = (int)v;
    }
    u->path = e;
    u->path_len = without_fragment(e);
    if (!valid_path(u->path, u->path_len))
        return AW_EINVAL;
    return 0;
}

/* "host:port" (lower case), the pool's key. */
static void url_key(const struct url *u, char *key, size_t size) {
    snprintf(key, size, u->ipv6 ? "[%s]:%d" : "%s:%d", u->host, u->port);
    for (char *c = key; *c; c++)
        *c = lower(*c);
}

/* ---- responses ------------------------------------------------------------------------------ */

int aw_response_status(const aw_response_t *res) {
    return res->status;
}

const char *aw_response_reason(const aw_response_t *res) {
    return res->reason;
}

int aw_response_version(const aw_response_t *res) {
    return res->version;
}

const char *aw_response_header(const aw_response_t *res, const char *name) {
    size_t n = strlen(name);
    for (uint32_t i = 0; i < res->nfields; i++) {
        const struct aw__hfield *f = &res->fields[i];
        if (f->name_len != n)
            continue;
        const char *have = res->head + f->name_off;
        size_t j = 0;
        while (j < n && lower(have[j]) == lower(name[j]))
            j++;
        if (j == n)
            return res->head + f->value_off;
    }
    return NULL;
}

bool aw_response_header_at(const aw_response_t *res, size_t i, const char **name,
                           const char **value) {
    if (i >= res->nfields)
        return false;
    if (name)
        *name = res->head + res->fields[i].name_off;
    if (value)
        *value = res->head + res->fields[i].value_off;
    return true;
}

const char *aw_response_body(const aw_response_t *res, size_t *len) {
    if (len)
        *len = res->body_len;
    return res->body ? res->body : "";
}

void aw_response_free(aw_response_t *res) {
    if (!res)
        return;
    free(res->body);
    free(res);
}

/* A response holding a copy of the head [head, head+len) that `rp` parsed. NULL on ENOMEM. */
static aw_response_t *response_new(const struct aw__rparse *rp, const char *head, size_t len) {
    uint32_t n = rp->hp.nfields;
    size_t fields_size = (size_t)n * sizeof(struct aw__hfield);
    aw_response_t *res = malloc(sizeof(*res) + fields_size + len + 1);
    if (!res)
        return NULL;
    memset(res, 0, sizeof(*res));
    res->fields = (struct aw__hfield *)(void *)(res + 1);
    res->head = (char *)res->fields + fields_size;
    memcpy(res->fields, rp->hp.fields, fields_size);
    memcpy(res->head, head, len);
    res->head[len] = '\0';
    res->nfields = n;
    /* A name ends at its colon and a value at its CR or trailing space:
     * overwriting those with NULs gives C strings in place. */
    for (uint32_t i = 0; i < n; i++) {
        res->head[res->fields[i].name_off + res->fields[i].name_len] = '\0';
        res->head[res->fields[i].value_off + res->fields[i].value_len] = '\0';
    }
    if (rp->reason_len) {
        res->head[rp->reason_off + rp->reason_len] = '\0';
        res->reason = res->head + rp->reason_off;
    } else {
        res->reason = "";
    }
    res->status = rp->code;
    res->version = rp->hp.version;
    return res;
}

/* ---- one exchange over a connected socket --------------------------------------------------- */

static void limits_init(aw_http_config_t *cfg, size_t max_body) {
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_head_bytes = MAX_HEAD;
    cfg->max_headers = MAX_FIELDS;
    cfg->max_body_bytes = max_body;
    cfg->max_chunk_ext_bytes = MAX_CHUNK_EXT;
    cfg->max_trailer_bytes = MAX_TRAILERS;
}

/* Sends all of [p, p+len) without raising SIGPIPE. Returns 0 or a negative code. */
static int send_all(int fd, const char *p, size_t len) {
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n >= 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno == ENOTSOCK) { /* a pipe from a test: SIGPIPE is the caller's business */
            n = aw_write(fd, p, len);
            return n < 0 ? (int)n : 0;
        }
        if (errno != EAGAIN)
            return -errno;
        int rc = aw_wait_fd(fd, AW_WRITABLE);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* The read buffer: [start, pos) parsed, [pos, end) not yet. */
struct rx {
    int fd;
    char *buf;
    size_t cap, start, pos, end;
    bool got_bytes; /* any byte of a response arrived */
};

/*
 * Reads more after `end`, first dropping what lies before `start` and
 * growing the buffer if it is full. `base`, if not NULL, is a parser's
 * pointer to `start`, kept right across the move. Returns the bytes read,
 * 0 at end of file, or a negative code.
 */
static ssize_t rx_more(struct rx *x, const char **base) {
    if (x->start == x->end) {
        x->start = x->pos = x->end = 0;
    } else if (x->end == x->cap && x->start > 0) {
        memmove(x->buf, x->buf + x->start, x->end - x->start);
        x->pos -= x->start;
        x->end -= x->start;
        x->start = 0;
    }
    if (x->end == x->cap) {
        /* Bounded: heads by MAX_HEAD, framing lines by the chunk limits. */
        if (x->cap >= 4 * MAX_HEAD)
            return AW_EMSGSIZE;
        char *grown = realloc(x->buf, x->cap * 2);
        if (!grown)
            return AW_ENOMEM;
        x->buf = grown;
        x->cap *= 2;
    }
    if (base)
        *base = x->buf + x->start;
    ssize_t n = aw_read(x->fd, x->buf + x->end, x->cap - x->end);
    if (n > 0) {
        x->end += (size_t)n;
        x->got_bytes = true;
    }
    return n;
}

/* The end of input in the middle of a response: truncated, unless nothing had come at all. */
static int eof_error(const struct rx *x) {
    return x->got_bytes ? AW_EPROTO : AW_ECONNRESET;
}

/* Reads the body framed as `rp` says into res->body. Returns 0 or a negative code. */
static int read_body(struct rx *x, struct aw__rparse *rp, aw_response_t *res, size_t limit) {
    if (rp->body == AW__RBODY_LENGTH) {
        size_t total = (size_t)rp->hp.content_length; /* within `limit`: the parser checked */
        size_t have = x->end - x->pos < total ? x->end - x->pos : total;
        if (!(res->body = malloc(total + 1)))
            return AW_ENOMEM;
        memcpy(res->body, x->buf + x->pos, have);
        x->pos += have;
        while (have < total) {
            ssize_t n = aw_read(x->fd, res->body + have, total - have);
            if (n == 0)
                return AW_EPROTO;
            if (n < 0)
                return (int)n;
            have += (size_t)n;
        }
        res->body_len = total;
        res->body[total] = '\0';
        return 0;
    }
    /* Chunked, or until the server closes: grow as the body comes. Room for
     * one byte over the limit lets the decoder, or us, notice it. */
    size_t cap = limit < 4096 ? limit + 2 : 4096, len = 0;
    if (!(res->body = malloc(cap)))
        return AW_ENOMEM;
    for (;;) {
        if (len + 1 == cap) {
            if (cap >= limit + 2)
                return AW_EMSGSIZE;
            size_t grown_cap = cap > (limit + 2) / 2 ? limit + 2 : cap * 2;
            char *grown = realloc(res->body, grown_cap);
            if (!grown)
                return AW_ENOMEM;
            res->body = grown;
            cap = grown_cap;
        }
        if (rp->body == AW__RBODY_CHUNKED) {
            size_t used, made;
            int rc = aw__rparse_body(rp, x->buf + x->pos, x->end - x->pos, &used, res->body + len,
                                     cap - len - 1, &made);
            x->pos += used;
            len += made;
            if (rc < 0) {
                aw_log(AW_LOG_DEBUG, "http client: %s", rp->hp.reason);
                return rc;
            }
            if (rc == AW__HP_DONE)
                break;
            if (len + 1 == cap)
                continue; /* out of room, not of input */
        } else {
            size_t n = x->end - x->pos;
            if (n > cap - len - 1)
                n = cap - len - 1;
            memcpy(res->body + len, x->buf + x->pos, n);
            x->pos += n;
            len += n;
            if (len > limit)
                return AW_EMSGSIZE;
            if (x->pos < x->end)
                continue;
        }
        x->start = x->pos;
        ssize_t n = rx_more(x, NULL);
        if (n == 0 && rp->body == AW__RBODY_CLOSE)
            break;
        if (n == 0)
            return AW_EPROTO;
        if (n < 0)
            return (int)n;
    }
    res->body_len = len;
    res->body[len] = '\0';
    return 0;
}

/*
 * Reads one response from fd. Returns 0 with *out set, or a negative code.
 * *reusable tells whether the connection may carry another request;
 * *got_bytes whether any byte of a response arrived (even on failure).
 */
static int read_response(int fd, const aw_http_config_t *cfg, bool head_req, aw_response_t **out,
                         bool *reusable, bool *got_bytes) {
    struct aw__hfield fields[FIELDS_INLINE];
    struct aw__rparse rp;
    struct rx x = {.fd = fd, .cap = READ_BUF};
    aw_response_t *res = NULL;
    int rc, interim = 0;
    memset(&rp, 0, sizeof(rp));
    if (!(x.buf = malloc(x.cap)))
        return AW_ENOMEM;
    for (;;) {
        aw__hparse_release(&rp.hp);
        aw__rparse_begin(&rp, cfg, fields, FIELDS_INLINE, x.buf + x.start, head_req);
        x.pos = x.start;
        for (;;) {
            if (x.pos < x.end) {
                size_t used = 0;
                rc = aw__rparse_head(&rp, x.buf + x.pos, x.end - x.pos, &used);
                x.pos += used;
                if (rc < 0) {
                    aw_log(AW_LOG_DEBUG, "http client: %s: %s", aw_strerror(rc), rp.hp.reason);
                    goto out;
                }
                if (rc != AW__HP_MORE)
                    break;
            }
            ssize_t n = rx_more(&x, &rp.hp.base);
            if (n <= 0) {
                rc = n == 0 ? eof_error(&x) : (int)n;
                goto out;
            }
        }
        if (rp.code >= 200)
            break;
        /* 100 Continue and other interim responses: the final one follows. */
        if (++interim > MAX_INTERIM) {
            rc = AW_EPROTO;
            goto out;
        }
        x.start = x.pos;
    }
    if (!(res = response_new(&rp, x.buf + x.start, x.pos - x.start))) {
        rc = AW_ENOMEM;
        goto out;
    }
    x.start = x.pos;
    if (rp.body != AW__RBODY_NONE && (rc = read_body(&x, &rp, res, cfg->max_body_bytes)) < 0)
        goto out;
    /* Bytes after the response would be read as the next one's: never reuse then. */
    *reusable = rp.hp.keep_alive && rp.body != AW__RBODY_CLOSE && x.pos == x.end;
    *out = res;
    res = NULL;
    rc = 0;
out:
    *got_bytes = x.got_bytes;
    aw__hparse_release(&rp.hp);
    aw_response_free(res);
    free(x.buf);
    return rc;
}

/* Writes the request (head, then body unless the head holds it) and reads the response. */
static int exchange(int fd, const aw_http_config_t *cfg, const char *head, size_t head_len,
                    const void *body, size_t body_len, bool head_req, aw_response_t **out,
                    bool *reusable, bool *got_bytes) {
    *reusable = *got_bytes = false;
    int rc = send_all(fd, head, head_len);
    if (rc == 0 && body_len)
        rc = send_all(fd, body, body_len);
    if (rc < 0)
        return rc;
    return read_response(fd, cfg, head_req, out, reusable, got_bytes);
}

int aw__client_exchange(int fd, const char *request, size_t len, bool head, aw_response_t **out) {
    aw_http_config_t cfg;
    bool reusable, got_bytes;
    *out = NULL;
    limits_init(&cfg, DEFAULT_MAX_RESPONSE);
    int rc = aw__check_interrupt();
    if (rc < 0)
        return rc;
    rc = exchange(fd, &cfg, request, len, NULL, 0, head, out, &reusable, &got_bytes);
    return rc == AW_EPIPE ? AW_ECONNRESET : rc;
}

/* ---- connections ---------------------------------------------------------------------------- */

/* An idle connection still open and quiet: no end of file, no stray bytes waiting. */
static bool still_open(int fd) {
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* Takes the newest usable pooled connection for `key`; -1 if none. */
static int pool_take(aw_client_t *cl, const char *key) {
    uint64_t now = aw_now_ns();
    for (struct idle **link = &cl->idle; *link;) {
        struct idle *it = *link;
        if (strcmp(it->key, key) != 0) {
            link = &it->next;
            continue;
        }
        *link = it->next;
        cl->nidle--;
        int fd = it->fd;
        bool expired = now - it->since_ns > (uint64_t)cl->idle_timeout_ms * 1000000u;
        free(it);
        if (!expired && still_open(fd))
            return fd;
        aw_close(fd);
    }
    return -1;
}

/* Pools a connection after a complete response, or closes it if the host has enough. */
static void pool_put(aw_client_t *cl, const char *key, int fd) {
    int same = 0;
    for (struct idle *it = cl->idle; it; it = it->next)
        same += strcmp(it->key, key) == 0;
    size_t klen = strlen(key);
    struct idle *it = same < cl->max_idle ? malloc(sizeof(*it) + klen + 1) : NULL;
    if (!it) {
        aw_close(fd);
        return;
    }
    it->fd = fd;
    it->since_ns = aw_now_ns();
    memcpy(it->key, key, klen + 1);
    it->next = cl->idle;
    cl->idle = it;
    cl->nidle++;
}

/* Connects a new socket to one address. Returns the fd or a negative code. */
static int connect_to(const struct sockaddr *sa, socklen_t len) {
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int rc = aw_connect(fd, sa, len);
    if (rc < 0) {
        aw_close(fd);
        return rc;
    }
    return fd;
}

/* getaddrinfo() on a pool thread: it blocks. Lives on the asking task's stack. */
struct resolve_job {
    const char *host;
    char port[8];
    struct addrinfo *res;
    int gai;
};

static void *resolve_job(void *arg) {
    struct resolve_job *j = arg;
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    j->gai = getaddrinfo(j->host, j->port, &hints, &j->res);
    return NULL;
}

static int resolve_error(int gai) {
    switch (gai) {
    case EAI_MEMORY:
        return AW_ENOMEM;
    case EAI_AGAIN:
        return AW_EAGAIN;
    case EAI_SYSTEM:
        return errno ? -errno : AW_EADDRNOTAVAIL;
    default:
        return AW_EADDRNOTAVAIL;
    }
}

/* Opens a connection to the URL's host: literals at once, names through getaddrinfo. */
static int open_conn(const struct url *u) {
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)u->port)};
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)u->port)};
    if (u->ipv6) {
        if (inet_pton(AF_INET6, u->host, &sin6.sin6_addr) != 1)
            return AW_EINVAL;
        return connect_to((struct sockaddr *)&sin6, sizeof(sin6));
    }
    if (inet_pton(AF_INET, u->host, &sin.sin_addr) == 1)
        return connect_to((struct sockaddr *)&sin, sizeof(sin));
    struct resolve_job job = {.host = u->host};
    snprintf(job.port, sizeof(job.port), "%d", u->port);
    int rc = aw_run_blocking_status(resolve_job, &job, NULL);
    if (rc == 0 && job.gai != 0) {
        rc = resolve_error(job.gai);
        aw_log(AW_LOG_DEBUG, "http client: cannot resolve %s: %s", u->host, gai_strerror(job.gai));
    }
    if (rc == 0) {
        rc = AW_EADDRNOTAVAIL;
        /* In the resolver's order; a refusal on one address moves on to the next. */
        for (struct addrinfo *ai = job.res; ai; ai = ai->ai_next) {
            rc = connect_to(ai->ai_addr, ai->ai_addrlen);
            if (rc >= 0 || rc == AW_ECANCELED || rc == AW_ETIMEDOUT || rc == AW_ENOMEM)
                break;
        }
    }
    /* Set even when the wait was cancelled: a job that had started ran to its end. */
    if (job.res)
        freeaddrinfo(job.res);
    return rc;
}

/* ---- the client ----------------------------------------------------------------------------- */

static void free_list(char **list) {
    for (size_t i = 0; list && list[i]; i++)
        free(list[i]);
    free(list);
}

static int client_init(aw_client_t *cl, const aw_client_opts_t *o) {
    cl->timeout_ms = o->timeout_ms ? o->timeout_ms : 30000;
    cl->connect_timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms : 10000;
    cl->idle_timeout_ms = o->idle_timeout_ms ? o->idle_timeout_ms : 30000;
    cl->max_idle = o->max_idle_per_host < 0 ? 0 : o->max_idle_per_host ? o->max_idle_per_host : 8;
    limits_init(&cl->cfg, o->max_response_bytes ? o->max_response_bytes : DEFAULT_MAX_RESPONSE);
    const char *ua = o->user_agent ? o->user_agent : DEFAULT_USER_AGENT;
    if (*ua) {
        if (!is_value(ua)) {
            aw_log(AW_LOG_ERROR, "http client: invalid user agent");
            return AW_EINVAL;
        }
        if (!(cl->user_agent = strdup(ua)))
            return AW_ENOMEM;
    }
    size_t n = 0;
    while (o->headers && o->headers[n] && o->headers[n + 1])
        n += 2;
    if (!(cl->headers = calloc(n + 1, sizeof(char *))))
        return AW_ENOMEM;
    for (size_t i = 0; i < n; i += 2) {
        if (!is_token(o->headers[i]) || !is_value(o->headers[i + 1]) ||
            name_is(o->headers[i], "content-length") ||
            name_is(o->headers[i], "transfer-encoding")) {
            aw_log(AW_LOG_ERROR, "http client: invalid default header %.100s", o->headers[i]);
            return AW_EINVAL;
        }
        if (!(cl->headers[i] = strdup(o->headers[i])) ||
            !(cl->headers[i + 1] = strdup(o->headers[i + 1])))
            return AW_ENOMEM;
    }
    if (o->base_url) {
        struct url u;
        if (parse_url(o->base_url, &u) < 0 || memchr(u.path, '?', u.path_len)) {
            aw_log(AW_LOG_ERROR, "http client: invalid base_url %.200s", o->base_url);
            return AW_EINVAL;
        }
        size_t origin = (size_t)(u.path - o->base_url);
        bool slash = u.path_len && u.path[u.path_len - 1] == '/';
        cl->base = strndup(o->base_url, origin);
        cl->base_path = malloc(u.path_len + 3);
        if (!cl->base || !cl->base_path)
            return AW_ENOMEM;
        snprintf(cl->base_path, u.path_len + 3, "%.*s%s", (int)u.path_len, u.path,
                 slash ? "" : "/"); /* the path is empty or starts with '/' */
    }
    return 0;
}

aw_client_t *aw_client_new(const aw_client_opts_t *o) {
    static const aw_client_opts_t defaults = {0};
    aw_client_t *cl = calloc(1, sizeof(*cl));
    if (!cl)
        return NULL;
    if (client_init(cl, o ? o : &defaults) < 0) {
        aw_client_free(cl);
        return NULL;
    }
    return cl;
}

void aw_client_free(aw_client_t *cl) {
    if (!cl)
        return;
    assert(cl->inflight == 0 && "aw_client_free() with requests in flight");
    while (cl->idle) {
        struct idle *it = cl->idle;
        cl->idle = it->next;
        aw_close(it->fd);
        free(it);
    }
    free_list(cl->headers);
    free(cl->user_agent);
    free(cl->base);
    free(cl->base_path);
    free(cl);
}

size_t aw_client_idle_connections(const aw_client_t *cl) {
    return cl->nidle;
}

/* ---- aw_fetch ------------------------------------------------------------------------------- */

static bool is_idempotent(const char *m) {
    static const char *const safe[] = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"};
    for (size_t i = 0; i < sizeof(safe) / sizeof(safe[0]); i++)
        if (strcmp(m, safe[i]) == 0)
            return true;
    return false;
}

/* Checks a request's own header list. Returns 0 or AW_EINVAL. */
static int check_headers(const char *const *h, bool *has_close) {
    for (size_t i = 0; h && h[i]; i += 2) {
        if (!h[i + 1] || !is_token(h[i]) || !is_value(h[i + 1]) ||
            name_is(h[i], "content-length") || name_is(h[i], "transfer-encoding"))
            return AW_EINVAL;
        if (name_is(h[i], "connection") && lists_close(h[i + 1]))
            *has_close = true;
    }
    return 0;
}

/*
 * Serializes the request head (and a small body) into `b`, and finds the
 * URL it goes to. Returns 0 or AW_EINVAL / AW_ENOMEM.
 */
static int build_request(aw_client_t *cl, const aw_fetch_req_t *req, const char *method,
                         struct url *u, aw__buf_t *b, bool *has_close) {
    if (!is_token(method) || strcmp(method, "CONNECT") == 0 || !req->url)
        return AW_EINVAL;
    if (check_headers(req->headers, has_close) < 0)
        return AW_EINVAL;
    if (req->content_type &&
        (!is_value(req->content_type) || list_has(req->headers, "content-type")))
        return AW_EINVAL;
    for (size_t i = 0; cl->headers[i]; i += 2)
        if (name_is(cl->headers[i], "connection") && lists_close(cl->headers[i + 1]))
            *has_close = true;

    aw__buf_puts(b, method);
    aw__buf_put(b, " ", 1);
    if (has_scheme(req->url)) {
        if (parse_url(req->url, u) < 0)
            return AW_EINVAL;
        if (u->path_len == 0 || u->path[0] == '?')
            aw__buf_put(b, "/", 1);
        aw__buf_put(b, u->path, u->path_len);
    } else {
        /* Relative: the base's path (ending in '/') and the rest, httpx-style. */
        if (!cl->base || parse_url(cl->base, u) < 0)
            return AW_EINVAL;
        const char *rel = req->url[0] == '/' ? req->url + 1 : req->url;
        size_t rel_len = without_fragment(rel);
        if (!valid_path(rel, rel_len))
            return AW_EINVAL;
        aw__buf_puts(b, cl->base_path);
        aw__buf_put(b, rel, rel_len);
    }
    aw__buf_puts(b, " HTTP/1.1\r\n");

    bool own_host =
        list_has(req->headers, "host") || list_has((const char *const *)cl->headers, "host");
    if (!own_host) {
        char host[300];
        snprintf(host, sizeof(host), u->ipv6 ? "[%s]" : "%s", u->host);
        aw__buf_puts(b, "Host: ");
        aw__buf_puts(b, host);
        if (u->port != 80) {
            char port[8];
            snprintf(port, sizeof(port), ":%d", u->port);
            aw__buf_puts(b, port);
        }
        aw__buf_put(b, "\r\n", 2);
    }
    if (cl->user_agent && !list_has(req->headers, "user-agent") &&
        !list_has((const char *const *)cl->headers, "user-agent"))
        sb_field(b, "User-Agent", cl->user_agent);
    for (size_t i = 0; cl->headers[i]; i += 2) {
        const char *name = cl->headers[i];
        if (list_has(req->headers, name) || (req->content_type && name_is(name, "content-type")))
            continue; /* the request's own wins */
        sb_field(b, name, cl->headers[i + 1]);
    }
    for (size_t i = 0; req->headers && req->headers[i]; i += 2)
        sb_field(b, req->headers[i], req->headers[i + 1]);
    if (req->content_type)
        sb_field(b, "Content-Type", req->content_type);
    if (req->body_len || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
        strcmp(method, "PATCH") == 0) {
        char cl_line[48];
        snprintf(cl_line, sizeof(cl_line), "Content-Length: %zu\r\n", req->body_len);
        aw__buf_puts(b, cl_line);
    }
    aw__buf_put(b, "\r\n", 2);
    if (req->body_len && req->body_len <= BODY_INLINE_MAX)
        aw__buf_put(b, req->body, req->body_len);
    return b->failed ? AW_ENOMEM : 0;
}

int aw_fetch(aw_client_t *cl, const aw_fetch_req_t *req, aw_response_t **out) {
    assert(cl && req && out);
    assert(aw_task_current() && "aw_fetch() outside a task");
    *out = NULL;
    const char *method = req->method ? req->method : "GET";
    struct url u;
    aw__buf_t b = {0};
    bool has_close = false;
    int rc = build_request(cl, req, method, &u, &b, &has_close);
    if (rc < 0) {
        if (rc == AW_EINVAL)
            aw_log(AW_LOG_DEBUG, "http client: invalid request %.200s %.200s", method,
                   req->url ? req->url : "(no URL)");
        free(b.p);
        return rc;
    }
    if ((rc = aw__check_interrupt()) < 0) {
        free(b.p);
        return rc;
    }
    char key[sizeof(u.host) + 16];
    url_key(&u, key, sizeof(key));
    bool head_req = strcmp(method, "HEAD") == 0;
    const void *body = req->body_len > BODY_INLINE_MAX ? req->body : NULL;
    size_t body_len = body ? req->body_len : 0;
    uint32_t timeout = req->timeout_ms ? req->timeout_ms : cl->timeout_ms;

    cl->inflight++;
    aw_deadline_t whole;
    if (timeout != AW_CLIENT_NO_TIMEOUT)
        aw_deadline_enter(&whole, timeout);
    for (bool retried = false;;) {
        int fd = pool_take(cl, key);
        bool reused = fd >= 0;
        if (!reused) {
            aw_deadline_t connecting;
            if (cl->connect_timeout_ms != AW_CLIENT_NO_TIMEOUT)
                aw_deadline_enter(&connecting, cl->connect_timeout_ms);
            fd = open_conn(&u);
            if (cl->connect_timeout_ms != AW_CLIENT_NO_TIMEOUT)
                aw_deadline_exit(&connecting);
            if (fd < 0) {
                rc = fd;
                break;
            }
        }
        bool reusable, got_bytes;
        rc = exchange(fd, &cl->cfg, b.p, b.len, body, body_len, head_req, out, &reusable,
                      &got_bytes);
        if (rc == 0) {
            if (reusable && !has_close)
                pool_put(cl, key, fd);
            else
                aw_close(fd);
            break;
        }
        aw_close(fd);
        /* The server closed a pooled connection as we reused it: nothing of
         * the request was processed if nothing came back, so an idempotent
         * one may go again, once, on a new connection. */
        if (reused && !got_bytes && !retried && is_idempotent(method) &&
            (rc == AW_ECONNRESET || rc == AW_EPIPE)) {
            retried = true;
            continue;
        }
        break;
    }
    if (timeout != AW_CLIENT_NO_TIMEOUT)
        aw_deadline_exit(&whole);
    cl->inflight--;
    free(b.p);
    if (rc == AW_EPIPE)
        rc = AW_ECONNRESET;
    return rc;
}
