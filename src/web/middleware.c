/* SPDX-License-Identifier: MIT */
/*
 * The shipped middleware: CORS, X-Request-ID, Server-Timing and gzip, each
 * built on the public middleware API (aw_app_use) like a user's would be.
 *
 * DESIGN
 * Every hook runs in the request's coroutine, on its loop thread, and keeps
 * no state between requests, so the hooks need no locks. The exceptions are
 * small and per thread or per process:
 *   - CORS copies its options once, into one allocation, which the app
 *     frees with itself (aw_middleware_t.free_data).
 *   - Request ids come from a per-thread xorshift128+ generator, seeded from
 *     getrandom() on first use and again in a forked child (worker processes
 *     must not share a stream).
 * gzip deflates in one call on the loop thread, with an output buffer the
 * size of the input: a result that would not be smaller is dropped as soon
 * as deflate runs out of room.
 * Failures (out of memory, mostly) never fail the request: the response goes
 * out unchanged and the hook logs a warning.
 */
#include <assert.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

/* next_in as a const pointer: the body we compress is not ours to write. */
#define ZLIB_CONST
#include <zlib.h>

#include "awaitress/error.h"
#include "web_internal.h"

/* ---- shared helpers -------------------------------------------------------------------------- */

static bool str_eq(aw_str_t s, const char *z) {
    size_t n = strlen(z);
    return s.ptr && s.len == n && memcmp(s.ptr, z, n) == 0;
}

static bool str_case_eq(aw_str_t s, const char *z) {
    size_t n = strlen(z);
    return s.ptr && s.len == n && strncasecmp(s.ptr, z, n) == 0;
}

static bool is_ows(char ch) {
    return ch == ' ' || ch == '\t';
}

static aw_str_t trim(const char *p, const char *end) {
    while (p < end && is_ows(*p))
        p++;
    while (end > p && is_ows(end[-1]))
        end--;
    return (aw_str_t){p, (size_t)(end - p)};
}

/*
 * Splits a comma-separated list: returns the next element (trimmed, maybe
 * empty) and moves *p past it (NULL after the last), or gives ptr NULL at
 * the end.
 */
static aw_str_t list_next(const char **p, const char *end) {
    if (!*p)
        return (aw_str_t){NULL, 0};
    const char *comma = memchr(*p, ',', (size_t)(end - *p));
    aw_str_t el = trim(*p, comma ? comma : end);
    *p = comma ? comma + 1 : NULL;
    return el;
}

/* True if the comma-separated list `list` holds `token` (case-insensitive). */
static bool list_has(const char *list, const char *token) {
    const char *p = list, *end = list + strlen(list);
    for (aw_str_t el; (el = list_next(&p, end)).ptr;)
        if (str_case_eq(el, token))
            return true;
    return false;
}

/* A request-scoped, NUL-terminated copy of `s`, or NULL on ENOMEM. */
static char *ctx_strndup(aw_ctx_t *c, aw_str_t s) {
    char *d = aw_ctx_alloc(c, s.len + 1);
    if (!d)
        return NULL;
    memcpy(d, s.ptr, s.len);
    d[s.len] = '\0';
    return d;
}

/* Adds a response header; a failure is logged and the response goes out without it. */
static void add_header(aw_ctx_t *c, const char *who, const char *name, const char *value) {
    int rc = aw_reply_header(c, name, value);
    if (rc < 0)
        aw_log(AW_LOG_WARN, "%s middleware: adding %s: %s; sent without it", who, name,
               aw_strerror(rc));
}

/* Adds `token` to Vary unless the response varies on it (or on everything) already. */
static void add_vary(aw_ctx_t *c, const char *who, const char *token) {
    /* Only the first Vary field is read back: a second one naming the same
     * token again would be redundant, not wrong. */
    const char *vary = aw_res_header(c, "Vary");
    if (vary && (list_has(vary, token) || list_has(vary, "*")))
        return;
    add_header(c, who, "Vary", token);
}

/* ---- CORS ------------------------------------------------------------------------------------ */

/* The request headers a browser may always send (Starlette's safelist). */
static const char *const cors_safelisted[] = {"Accept", "Accept-Language", "Content-Language",
                                              "Content-Type", NULL};
#define N_SAFELISTED (sizeof(cors_safelisted) / sizeof(cors_safelisted[0]) - 1)

/* What "*" in `methods` allows, and what a preflight is then told. */
static const char cors_all_methods[] = "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT";

/* One aw_use_cors() call's options, copied into a single block (see DESIGN). */
struct cors {
    const char **origins; /* exact matches ("*" left out) */
    size_t norigins;
    const char **methods; /* none with any_method or when the path's are used */
    size_t nmethods;
    const char **headers; /* sorted, safelisted included; none with any_header */
    size_t nheaders;
    bool any_origin, any_method, any_header, credentials;
    const char *methods_text; /* Access-Control-Allow-Methods; NULL: the path's */
    const char *headers_text; /* Access-Control-Allow-Headers; NULL with any_header */
    const char *expose_text;  /* Access-Control-Expose-Headers; NULL: none */
    char max_age[16];
};


/* A bump allocator over the config's block; sizes were counted beforehand. */
struct bump {
    char *p, *end;
};

static void *bump(struct bump *b, size_t n) {
    /* Fails only if aw_use_cors_opts() counted wrong: a bug here, not bad input. */
    assert((size_t)(b->end - b->p) >= n);
    void *r = b->p;
    b->p += n;
    return r;
}

static const char *bump_str(struct bump *b, const char *s) {
    size_t n = strlen(s) + 1;
    return memcpy(bump(b, n), s, n);
}

/* Joins `n` strings with ", " into the block. */
static const char *bump_join(struct bump *b, const char *const *v, size_t n) {
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(v[i]) + 2;
    char *out = bump(b, len), *w = out;
    for (size_t i = 0; i < n; i++) {
        if (i) {
            memcpy(w, ", ", 2);
            w += 2;
        }
        size_t l = strlen(v[i]);
        memcpy(w, v[i], l);
        w += l;
    }
    *w = '\0';
    return out;
}

static size_t list_len(const char *const *v) {
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}

static bool list_has_star(const char *const *v) {
    for (size_t i = 0; v && v[i]; i++)
        if (strcmp(v[i], "*") == 0)
            return true;
    return false;
}

/* Bytes the block needs for a list: the copies and a ", "-joined text. */
static size_t list_bytes(const char *const *v) {
    size_t n = 0;
    for (size_t i = 0; v && v[i]; i++)
        n += 2 * (strlen(v[i]) + 3);
    return n + 1;
}

/*
 * Checks one configured value: no control bytes or spaces (they end up in
 * header values), and for method and header names, no commas either (they
 * are list elements). Returns SIZE_MAX if it is fine, else the offset of
 * the first bad byte (0 for an empty value).
 */
static size_t cors_value_ok(const char *s, bool token) {
    size_t i = 0;
    for (; s[i]; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= ' ' || ch == 0x7f || (token && ch == ','))
            return i;
    }
    return i ? SIZE_MAX : 0;
}

static bool cors_list_ok(const char *what, const char *const *v, bool token) {
    for (size_t i = 0; v && v[i]; i++) {
        size_t bad = cors_value_ok(v[i], token);
        if (bad != SIZE_MAX) {
            /* Only the part before the bad byte is logged: it may be a CR or LF. */
            if (bad == 0 && !v[i][0])
                aw_log(AW_LOG_ERROR, "aw_use_cors: an empty %s", what);
            else
                aw_log(AW_LOG_ERROR, "aw_use_cors: bad %s \"%.*s...\": %s at offset %zu", what,
                       (int)bad, v[i],
                       token ? "a space, comma or control byte" : "a space or control byte", bad);
            return false;
        }
    }
    return true;
}

static int cmp_case(const void *a, const void *b) {
    return strcasecmp(*(const char *const *)a, *(const char *const *)b);
}

static bool cors_origin_ok(const struct cors *k, aw_str_t origin) {
    if (k->any_origin)
        return true;
    for (size_t i = 0; i < k->norigins; i++)
        if (str_eq(origin, k->origins[i]))
            return true;
    return false;
}

static bool cors_is_preflight(aw_http_req_t *req) {
    return strcmp(aw_http_req_method(req), "OPTIONS") == 0 &&
           aw_http_req_header(req, "Origin").ptr &&
           aw_http_req_header(req, "Access-Control-Request-Method").ptr;
}

/* True if every header the preflight asks for (a comma-separated list) is allowed. */
static bool cors_headers_ok(const struct cors *k, aw_str_t asked) {
    const char *p = asked.ptr, *end = asked.ptr + asked.len;
    for (aw_str_t el; (el = list_next(&p, end)).ptr;) {
        if (!el.len)
            continue;
        bool found = false;
        for (size_t i = 0; i < k->nheaders && !found; i++)
            found = str_case_eq(el, k->headers[i]);
        if (!found)
            return false;
    }
    return true;
}

/*
 * Answers a preflight, Starlette's way: 200 "OK" with the allowed methods,
 * headers and max age, or 400 "Disallowed CORS origin, method, headers"
 * (those that failed) with the same headers, so the browser's console says
 * why.
 */
static void cors_preflight(aw_ctx_t *c, const struct cors *k, aw_http_req_t *req, aw_str_t origin) {
    static const char who[] = "CORS";
    aw_str_t method = aw_http_req_header(req, "Access-Control-Request-Method");
    aw_str_t asked = aw_http_req_header(req, "Access-Control-Request-Headers");
    bool bad_origin = !cors_origin_ok(k, origin), bad_method, bad_headers = false;

    if (k->any_origin && !k->credentials) {
        add_header(c, who, "Access-Control-Allow-Origin", "*");
    } else {
        /* The answer depends on the origin even when it is refused. */
        add_vary(c, who, "Origin");
        if (!bad_origin) {
            char *o = ctx_strndup(c, origin);
            if (o)
                add_header(c, who, "Access-Control-Allow-Origin", o);
            else
                aw_log(AW_LOG_WARN, "CORS middleware: out of memory; preflight answered "
                                    "without Access-Control-Allow-Origin");
        }
    }

    if (k->any_method) {
        bad_method = false;
        add_header(c, who, "Access-Control-Allow-Methods", cors_all_methods);
    } else if (k->methods_text) {
        bad_method = true;
        for (size_t i = 0; i < k->nmethods && bad_method; i++)
            bad_method = !str_eq(method, k->methods[i]);
        add_header(c, who, "Access-Control-Allow-Methods", k->methods_text);
    } else {
        /* Unconfigured: whatever the routes of this path answer. "GET, HEAD,
         * OPTIONS, POST" is about 30 bytes; 256 leaves room for custom methods. */
        char allow[256];
        size_t n = aw__app_allow(aw_ctx_app(c), aw_http_req_path(req), allow, sizeof(allow) - 1);
        if (n > sizeof(allow) - 1)
            n = sizeof(allow) - 1;
        allow[n] = '\0';
        bad_method = true;
        const char *p = n ? allow : NULL;
        for (aw_str_t el; bad_method && (el = list_next(&p, allow + n)).ptr;)
            bad_method = !(el.len == method.len && memcmp(el.ptr, method.ptr, el.len) == 0);
        if (n)
            add_header(c, who, "Access-Control-Allow-Methods", allow);
    }

    if (k->any_header) {
        if (asked.ptr) {
            char *h = ctx_strndup(c, asked);
            if (h)
                add_header(c, who, "Access-Control-Allow-Headers", h);
            else
                aw_log(AW_LOG_WARN, "CORS middleware: out of memory; preflight answered "
                                    "without Access-Control-Allow-Headers");
        }
    } else {
        add_header(c, who, "Access-Control-Allow-Headers", k->headers_text);
        bad_headers = asked.ptr && !cors_headers_ok(k, asked);
    }

    add_header(c, who, "Access-Control-Max-Age", k->max_age);
    if (k->credentials)
        add_header(c, who, "Access-Control-Allow-Credentials", "true");

    int rc;
    if (bad_origin || bad_method || bad_headers) {
        char text[64];
        snprintf(text, sizeof(text), "Disallowed CORS %s%s%s%s%s", bad_origin ? "origin" : "",
                 bad_origin && (bad_method || bad_headers) ? ", " : "", bad_method ? "method" : "",
                 bad_method && bad_headers ? ", " : "", bad_headers ? "headers" : "");
        rc = aw_reply_text(c, 400, text);
    } else {
        rc = aw_reply_text(c, 200, "OK");
    }
    if (rc < 0 && rc != AW_EALREADY)
        aw_log(AW_LOG_WARN, "CORS middleware: answering a preflight: %s", aw_strerror(rc));
}

static void cors_before(aw_ctx_t *c, void *data) {
    aw_http_req_t *req = aw_ctx_req(c);
    if (cors_is_preflight(req))
        cors_preflight(c, data, req, aw_http_req_header(req, "Origin"));
}

/* Adds the CORS headers to the answer to an allowed origin's request (preflights aside). */
static void cors_after(aw_ctx_t *c, void *data) {
    static const char who[] = "CORS";
    const struct cors *k = data;
    aw_http_req_t *req = aw_ctx_req(c);
    aw_str_t origin = aw_http_req_header(req, "Origin");
    /* A refused origin gets no CORS headers at all: the browser then blocks
     * the read, which is the point. A handler that set its own
     * Access-Control-Allow-Origin has taken CORS in hand: leave it be. */
    if (!origin.ptr || cors_is_preflight(req) || !cors_origin_ok(k, origin) ||
        aw_res_header(c, "Access-Control-Allow-Origin"))
        return;

    /* "*" cannot carry credentials, and a request with cookies is one that
     * does: echo the origin then (Starlette does the same). */
    if (k->any_origin && !k->credentials && !aw_http_req_header(req, "Cookie").ptr) {
        add_header(c, who, "Access-Control-Allow-Origin", "*");
    } else {
        char *o = ctx_strndup(c, origin);
        if (!o) {
            aw_log(AW_LOG_WARN, "CORS middleware: out of memory; answer sent without CORS "
                                "headers");
            return;
        }
        add_header(c, who, "Access-Control-Allow-Origin", o);
        add_vary(c, who, "Origin");
    }
    if (k->credentials)
        add_header(c, who, "Access-Control-Allow-Credentials", "true");
    if (k->expose_text)
        add_header(c, who, "Access-Control-Expose-Headers", k->expose_text);
}

int aw_use_cors_opts(aw_app_t *app, const aw_cors_opts_t *o) {
    assert(app && o);
    if (!cors_list_ok("origin", o->origins, false) || !cors_list_ok("method", o->methods, true) ||
        !cors_list_ok("header", o->headers, true) || !cors_list_ok("header", o->expose, true))
        return AW_EINVAL;

    bool any_method = list_has_star(o->methods);
    /* Unset headers means "*", as the option's doc says. */
    bool any_header = !o->headers || list_has_star(o->headers);
    size_t norigins = list_len(o->origins), nmethods = list_len(o->methods);
    size_t nheaders = list_len(o->headers) + N_SAFELISTED, nexpose = list_len(o->expose);
    size_t bytes = sizeof(struct cors) + (norigins + nmethods + nheaders) * sizeof(char *) +
                   list_bytes(o->origins) + list_bytes(o->methods) + list_bytes(o->headers) +
                   list_bytes(cors_safelisted) + list_bytes(o->expose);
    struct cors *k = calloc(1, bytes);
    if (!k)
        return AW_ENOMEM;
    struct bump b = {(char *)(k + 1), (char *)k + bytes};

    k->any_origin = list_has_star(o->origins);
    k->any_method = any_method;
    k->any_header = any_header;
    k->credentials = o->credentials;
    /* The pointer arrays first, while the block is still aligned. */
    k->origins = bump(&b, norigins * sizeof(char *));
    k->methods = bump(&b, nmethods * sizeof(char *));
    k->headers = bump(&b, nheaders * sizeof(char *));
    for (size_t i = 0; i < norigins; i++)
        if (strcmp(o->origins[i], "*") != 0)
            k->origins[k->norigins++] = bump_str(&b, o->origins[i]);

    if (nmethods && !any_method) {
        for (size_t i = 0; i < nmethods; i++)
            k->methods[k->nmethods++] = bump_str(&b, o->methods[i]);
        k->methods_text = bump_join(&b, k->methods, k->nmethods);
    }

    if (!any_header) {
        for (size_t i = 0; i < N_SAFELISTED; i++)
            k->headers[k->nheaders++] = cors_safelisted[i];
        for (size_t i = 0; o->headers[i]; i++) {
            bool dup = false;
            for (size_t j = 0; j < k->nheaders && !dup; j++)
                dup = strcasecmp(k->headers[j], o->headers[i]) == 0;
            if (!dup)
                k->headers[k->nheaders++] = bump_str(&b, o->headers[i]);
        }
        qsort(k->headers, k->nheaders, sizeof(char *), cmp_case);
        k->headers_text = bump_join(&b, k->headers, k->nheaders);
    }

    if (nexpose)
        k->expose_text = bump_join(&b, o->expose, nexpose);
    snprintf(k->max_age, sizeof(k->max_age), "%" PRIu32, o->max_age_s ? o->max_age_s : 600);

    /* The app frees the config with itself (free_data). */
    aw_middleware_t mw = {.name = "cors", .before = cors_before, .after = cors_after, .data = k,
                          .free_data = free};
    int rc = aw_app_use(app, &mw);
    if (rc < 0) {
        free(k);
        return rc;
    }
    return 0;
}

/* ---- X-Request-ID ---------------------------------------------------------------------------- */

#define REQUEST_ID_MAX 64

/*
 * The generator: xorshift128+, per thread. Ids need to be unique, not
 * unguessable: don't use them as secrets. `gen` tracks forks, so a worker
 * forked from a process that had seeded its generator seeds its own.
 */
static _Thread_local struct {
    uint64_t s[2];
    unsigned gen;
    bool seeded;
} tl_rng;
static atomic_uint fork_gen;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void on_fork_child(void) {
    atomic_fetch_add(&fork_gen, 1);
}

static void atfork_register(void) {
    pthread_atfork(NULL, NULL, on_fork_child);
}

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static void rng_seed(void) {
    uint64_t seed[2];
    size_t got = 0;
    while (got < sizeof(seed)) {
        ssize_t n = getrandom((char *)seed + got, sizeof(seed) - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got < sizeof(seed)) {
        /* No getrandom (old kernel, seccomp): time, pid and a thread's address
         * still differ between threads and workers, which is all ids need. */
        uint64_t x = aw_now_ns() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)&tl_rng;
        seed[0] = splitmix64(&x);
        seed[1] = splitmix64(&x);
    }
    tl_rng.s[0] = seed[0];
    tl_rng.s[1] = seed[1] ? seed[1] : 1; /* an all-zero state would stay zero */
    tl_rng.gen = atomic_load(&fork_gen);
    tl_rng.seeded = true;
}

static uint64_t rng_next(void) {
    if (!tl_rng.seeded || tl_rng.gen != atomic_load_explicit(&fork_gen, memory_order_relaxed))
        rng_seed();
    uint64_t x = tl_rng.s[0];
    const uint64_t y = tl_rng.s[1];
    tl_rng.s[0] = y;
    x ^= x << 23;
    tl_rng.s[1] = x ^ y ^ (x >> 17) ^ (y >> 26);
    return tl_rng.s[1] + y;
}

/* Writes a new id, 128 random bits as 32 lowercase hex digits, into out[33]. */
static void request_id_new(char *out) {
    static const char hex[] = "0123456789abcdef";
    for (int half = 0; half < 2; half++) {
        uint64_t r = rng_next();
        for (int i = 0; i < 16; i++, r >>= 4)
            *out++ = hex[r & 15];
    }
    *out = '\0';
}

/* 1..64 of [A-Za-z0-9._-]: safe to log and to echo. */
static bool request_id_ok(aw_str_t v) {
    if (!v.ptr || v.len < 1 || v.len > REQUEST_ID_MAX)
        return false;
    for (size_t i = 0; i < v.len; i++) {
        unsigned char ch = (unsigned char)v.ptr[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

static void request_id_set(aw_ctx_t *c) {
    char id[REQUEST_ID_MAX + 1];
    aw_str_t v = aw_http_req_header(aw_ctx_req(c), "X-Request-ID");
    if (request_id_ok(v)) {
        memcpy(id, v.ptr, v.len);
        id[v.len] = '\0';
    } else {
        request_id_new(id);
    }
    add_header(c, "request-id", "X-Request-ID", id);
}

/*
 * Set in `before`, so that handlers (and the inner middleware) read it with
 * aw_res_header(c, "X-Request-ID"), and logs written during the request can
 * carry it.
 */
static void request_id_before(aw_ctx_t *c, void *data) {
    (void)data;
    request_id_set(c);
}

/* An answer that replaced the headers set before it (or a failure to add
 * it then) would go out without the id: set it again. */
static void request_id_after(aw_ctx_t *c, void *data) {
    (void)data;
    if (!aw_res_header(c, "X-Request-ID"))
        request_id_set(c);
}

int aw_use_request_id(aw_app_t *app) {
    assert(app);
    pthread_once(&atfork_once, atfork_register);
    aw_middleware_t mw = {
        .name = "request-id", .before = request_id_before, .after = request_id_after, .data = NULL};
    return aw_app_use(app, &mw);
}

/* ---- Server-Timing --------------------------------------------------------------------------- */

static void timing_after(aw_ctx_t *c, void *data) {
    (void)data;
    uint64_t start = aw_http_req_start_ns(aw_ctx_req(c)), now = aw_now_ns();
    uint64_t us = now > start ? (now - start) / 1000 : 0;
    char value[48];
    snprintf(value, sizeof(value), "app;dur=%" PRIu64 ".%03u", us / 1000, (unsigned)(us % 1000));
    add_header(c, "timing", "Server-Timing", value);
}

int aw_use_timing(aw_app_t *app) {
    assert(app);
    aw_middleware_t mw = {.name = "timing", .before = NULL, .after = timing_after, .data = NULL};
    return aw_app_use(app, &mw);
}

/* ---- gzip ------------------------------------------------------------------------------------ */

/*
 * Parses a qvalue (RFC 9110 12.4.2: "0", "0.5", "1.000"...) into thousandths,
 * or -1 if it is not one.
 */
static int qvalue(aw_str_t v) {
    if (!v.len || v.len > 5 || (v.ptr[0] != '0' && v.ptr[0] != '1'))
        return -1;
    int q = (v.ptr[0] - '0') * 1000, scale = 100;
    if (v.len > 1 && v.ptr[1] != '.')
        return -1;
    for (size_t i = 2; i < v.len; i++, scale /= 10) {
        if (v.ptr[i] < '0' || v.ptr[i] > '9')
            return -1;
        q += (v.ptr[i] - '0') * scale;
    }
    return q <= 1000 ? q : -1;
}

/*
 * The weight of one Accept-Encoding element ("gzip;q=0.5"), 0..1000, and its
 * coding in *coding. A malformed weight counts as 0: better not compress
 * than send a client what it may not read.
 */
static int ae_weight(aw_str_t el, aw_str_t *coding) {
    const char *end = el.ptr + el.len;
    const char *semi = memchr(el.ptr, ';', el.len);
    *coding = trim(el.ptr, semi ? semi : end);
    while (semi) {
        const char *p = semi + 1;
        semi = memchr(p, ';', (size_t)(end - p));
        aw_str_t param = trim(p, semi ? semi : end);
        if (param.len >= 2 && (param.ptr[0] == 'q' || param.ptr[0] == 'Q')) {
            aw_str_t rest = trim(param.ptr + 1, param.ptr + param.len);
            if (rest.len && rest.ptr[0] == '=') {
                int q = qvalue(trim(rest.ptr + 1, rest.ptr + rest.len));
                return q < 0 ? 0 : q;
            }
        }
    }
    return 1000;
}

/*
 * True if the client takes gzip: its weight, or else the weight of "*", is
 * above zero. Every Accept-Encoding field counts (they form one list). No
 * field at all means "anything" in RFC 9110, but clients that want
 * compression say so: such requests get the body as is.
 */
static bool accepts_gzip(aw_http_req_t *req) {
    int gzip_q = -1, star_q = -1;
    aw_str_t name, value;
    for (size_t i = 0; aw_http_req_header_at(req, i, &name, &value); i++) {
        if (!str_case_eq(name, "Accept-Encoding"))
            continue;
        const char *p = value.ptr, *end = value.ptr + value.len;
        for (aw_str_t el; (el = list_next(&p, end)).ptr;) {
            if (!el.len)
                continue;
            aw_str_t coding;
            int q = ae_weight(el, &coding);
            if ((str_case_eq(coding, "gzip") || str_case_eq(coding, "x-gzip")) && gzip_q < 0)
                gzip_q = q;
            else if (str_eq(coding, "*") && star_q < 0)
                star_q = q;
        }
    }
    return gzip_q >= 0 ? gzip_q > 0 : star_q > 0;
}

/*
 * True for media types that compress well. An allow-list: images, audio,
 * video, fonts in woff/woff2, archives and anything unknown are left alone,
 * being compressed already or not worth guessing about.
 */
static bool compressible(const char *ctype) {
    static const char *const types[] = {
        "application/json",
        "application/javascript",
        "application/ecmascript",
        "application/x-javascript",
        "application/xml",
        "application/x-ndjson",
        "application/wasm",
        "application/graphql",
        "application/yaml",
        "application/x-yaml",
        "application/toml",
        "application/x-www-form-urlencoded",
        "application/vnd.ms-fontobject",
        "image/svg+xml",
        "image/x-icon",
        "image/vnd.microsoft.icon",
        "image/bmp",
        "font/ttf",
        "font/otf",
    };
    if (!ctype)
        return false;
    const char *end = ctype + strcspn(ctype, ";");
    aw_str_t t = trim(ctype, end);
    if (!memchr(t.ptr, '/', t.len))
        return false;
    if (t.len > 5 && strncasecmp(t.ptr, "text/", 5) == 0)
        return true;
    if (t.len > 5 && (strncasecmp(t.ptr + t.len - 5, "+json", 5) == 0 ||
                      strncasecmp(t.ptr + t.len - 4, "+xml", 4) == 0))
        return true;
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (str_case_eq(t, types[i]))
            return true;
    return false;
}

/*
 * Compresses `len` bytes into a new gzip member. Returns the size and sets
 * *out (malloc'd), 0 if the result would not be smaller than the input, or
 * AW_ENOMEM.
 */
static ssize_t gzip_compress(const void *in, size_t len, void **out) {
    /* The output buffer is the input's size: if deflate runs out of room, the
     * compressed form is not smaller and is not wanted anyway. */
    unsigned char *buf = malloc(len);
    if (!buf)
        return AW_ENOMEM;
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    /* 15 + 16: a 32 KiB window with the gzip wrapper. Level 5, not zlib's
     * default 6: on a 1 MiB JSON array both gave the same ratio (0.163), and
     * 5 took about a fifth less time. */
    int zr = deflateInit2(&zs, 5, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    if (zr != Z_OK) {
        free(buf);
        return zr == Z_MEM_ERROR ? AW_ENOMEM : AW_EINVAL;
    }
    zs.next_in = in;
    zs.avail_in = (uInt)len;
    zs.next_out = buf;
    zs.avail_out = (uInt)len;
    zr = deflate(&zs, Z_FINISH);
    size_t n = zs.total_out;
    deflateEnd(&zs);
    if (zr != Z_STREAM_END || n >= len) {
        free(buf);
        return zr == Z_MEM_ERROR ? AW_ENOMEM : 0;
    }
    /* Give back the difference: the body may wait a while on a slow client. */
    void *fit = realloc(buf, n);
    *out = fit ? fit : buf;
    return (ssize_t)n;
}

/*
 * Compresses a buffered answer when it is worth it. A known cost: deflate
 * runs on the loop thread, about 20 ms per MiB of JSON, during which the
 * loop's other connections wait. Fine for API-sized bodies; large ones
 * would want the pool.
 */
static void gzip_after(aw_ctx_t *c, void *data) {
    static const char who[] = "gzip";
    size_t min = (size_t)(uintptr_t)data, len;
    const void *body = aw_res_body(c, &len);
    int status = aw_res_status(c);
    /* 206 and Content-Range: compressing a range would change what it is a
     * range of. Content-Encoding: encoded already. no-transform: RFC 9111
     * forbids intermediaries (and so us) to change the body. */
    if (!body || len < min || status < 200 || status == 204 || status == 206 || status == 304 ||
        aw_res_header(c, "Content-Encoding") || aw_res_header(c, "Content-Range") ||
        !compressible(aw_res_header(c, "Content-Type")))
        return;
    const char *cc = aw_res_header(c, "Cache-Control");
    if (cc && list_has(cc, "no-transform"))
        return;
    /* Caches must know that the body depends on Accept-Encoding, also when
     * this client gets it plain. */
    add_vary(c, who, "Accept-Encoding");
    if (!accepts_gzip(aw_ctx_req(c)))
        return;
    if (len > UINT_MAX)
        return; /* zlib counts in 32 bits; a 4 GiB buffered body has other problems */

    void *out = NULL;
    ssize_t n = gzip_compress(body, len, &out);
    if (n <= 0) {
        if (n < 0)
            aw_log(AW_LOG_WARN, "gzip middleware: %s; body sent uncompressed", aw_strerror((int)n));
        return;
    }
    /* The header first: if it cannot be added, the body must stay plain. */
    int rc = aw_reply_header(c, "Content-Encoding", "gzip");
    if (rc < 0) {
        free(out);
        aw_log(AW_LOG_WARN, "gzip middleware: adding Content-Encoding: %s; body sent uncompressed",
               aw_strerror(rc));
        return;
    }
    rc = aw_res_set_body(c, out, (size_t)n);
    if (rc < 0)
        /* Only a reply that is not buffered can refuse a body, and this one was. */
        aw_log(AW_LOG_ERROR, "gzip middleware: replacing the body: %s", aw_strerror(rc));
}

int aw_use_gzip(aw_app_t *app, size_t min_bytes) {
    assert(app);
    aw_middleware_t mw = {.name = "gzip",
                          .before = NULL,
                          .after = gzip_after,
                          .data = (void *)(uintptr_t)(min_bytes ? min_bytes : 1024)};
    return aw_app_use(app, &mw);
}
