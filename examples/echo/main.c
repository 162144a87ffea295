/* SPDX-License-Identifier: MIT */
/*
 * echo: the app that outside conformance suites test the server with
 * (../shared/echo-contract.md), plus /plaintext, /json and /sleep for
 * benchmarks, and /block (a blocking sleep, for the loop watchdog). Built
 * on the HTTP layer directly, without the web layer.
 */
#include <awaitress.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sha256.h"

#define PREFIX "/echo"

/* A growing string for the JSON report. */
struct out {
    char *p;
    size_t len, cap;
    bool failed;
};

static void put(struct out *o, const char *s, size_t n) {
    if (o->failed)
        return;
    if (o->len + n > o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 1024;
        while (cap < o->len + n)
            cap *= 2;
        char *grown = realloc(o->p, cap);
        if (!grown) {
            o->failed = true;
            return;
        }
        o->p = grown;
        o->cap = cap;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void puts_(struct out *o, const char *s) {
    put(o, s, strlen(s));
}

/* A JSON string; bytes >= 0x80 that are not UTF-8 text are escaped as \u00XX. */
static void put_json(struct out *o, const char *s, size_t n) {
    put(o, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(o, esc, 2);
        } else if (c < 0x20 || c >= 0x7f) {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            put(o, esc, 6);
        } else {
            put(o, (const char *)&c, 1);
        }
    }
    put(o, "\"", 1);
}

static bool is_echo_path(aw_str_t path) {
    size_t n = strlen(PREFIX);
    return path.len >= n && memcmp(path.ptr, PREFIX, n) == 0 && (path.len == n || path.ptr[n] == '/');
}

static bool path_is(aw_str_t path, const char *p) {
    return path.len == strlen(p) && memcmp(path.ptr, p, path.len) == 0;
}

static void reply_text(aw_http_req_t *req, int status, const char *text) {
    aw_http_res_header(req, "Content-Type", "text/plain; charset=utf-8");
    aw_http_respond(req, status, text, strlen(text));
}

/* Not inlined: its 16 KiB buffer would otherwise sit in every request's
 * frame and push the frames of a sleeping /sleep handler pages deeper. */
__attribute__((noinline)) static void echo(aw_http_req_t *req) {
    struct sha256 sha;
    sha256_init(&sha);
    size_t body = 0;
    char buf[16384];
    ssize_t n;
    while ((n = aw_http_req_read(req, buf, sizeof(buf))) > 0) {
        sha256_update(&sha, buf, (size_t)n);
        body += (size_t)n;
    }
    if (n < 0)
        return; /* the server has answered (413, 400, 408) and closes */
    char digest[65];
    sha256_hex(&sha, digest);

    struct out o = {0};
    const char *method = aw_http_req_method(req);
    aw_str_t target = aw_http_req_target(req);
    puts_(&o, "{\"method\":");
    put_json(&o, method, strlen(method));
    puts_(&o, ",\"target\":");
    put_json(&o, target.ptr, target.len);
    puts_(&o, ",\"version\":");
    puts_(&o, aw_http_req_version(req) == 10 ? "\"HTTP/1.0\"" : "\"HTTP/1.1\"");
    puts_(&o, ",\"headers\":[");
    aw_str_t name, value;
    for (size_t i = 0; aw_http_req_header_at(req, i, &name, &value); i++) {
        puts_(&o, i ? ",[" : "[");
        put_json(&o, name.ptr, name.len);
        puts_(&o, ",");
        put_json(&o, value.ptr, value.len);
        puts_(&o, "]");
    }
    char tail[160];
    snprintf(tail, sizeof(tail), "],\"body_length\":%zu,\"body_sha256\":\"%s\"}\n", body, digest);
    puts_(&o, tail);
    if (o.failed) {
        free(o.p);
        reply_text(req, 500, "out of memory\n");
        return;
    }
    aw_http_res_header(req, "Content-Type", "application/json");
    aw_http_respond(req, 200, o.p, o.len);
    free(o.p);
}

static int query_int(aw_str_t q, const char *key, int def, bool *ok) {
    size_t klen = strlen(key);
    *ok = true;
    for (const char *p = q.ptr, *end = q.ptr + q.len; p && p < end;) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if ((size_t)(stop - p) > klen && memcmp(p, key, klen) == 0 && p[klen] == '=') {
            long v = 0;
            const char *d = p + klen + 1;
            if (d == stop)
                *ok = false;
            for (; d < stop; d++) {
                if (*d < '0' || *d > '9' || v > 1000000) {
                    *ok = false;
                    break;
                }
                v = v * 10 + (*d - '0');
            }
            return (int)v;
        }
        p = amp ? amp + 1 : NULL;
    }
    return def;
}

static void handle(aw_http_req_t *req, void *data) {
    (void)data;
    const char *m = aw_http_req_method(req);
    aw_str_t path = aw_http_req_path(req);
    aw_str_t target = aw_http_req_target(req);
    if (target.len == 1 && target.ptr[0] == '*') { /* OPTIONS * */
        aw_http_res_header(req, "Allow", "GET, HEAD, POST, PUT, OPTIONS");
        aw_http_respond(req, 204, NULL, 0);
        return;
    }
    if (is_echo_path(path)) {
        if (!strcmp(m, "GET") || !strcmp(m, "HEAD") || !strcmp(m, "POST") || !strcmp(m, "PUT")) {
            echo(req);
        } else if (!strcmp(m, "DELETE") || !strcmp(m, "PATCH") || !strcmp(m, "OPTIONS") ||
                   !strcmp(m, "TRACE")) {
            aw_http_res_header(req, "Allow", "GET, HEAD, POST, PUT");
            reply_text(req, 405, "Method Not Allowed\n");
        } else {
            reply_text(req, 501, "Not Implemented\n");
        }
        return;
    }
    if (path_is(path, "/plaintext")) {
        reply_text(req, 200, "Hello, World!");
    } else if (path_is(path, "/json")) {
        static const char json[] = "{\"message\":\"Hello, World!\"}";
        aw_http_res_header(req, "Content-Type", "application/json");
        aw_http_respond(req, 200, json, sizeof(json) - 1);
    } else if (path_is(path, "/sleep")) {
        bool ok;
        int ms = query_int(aw_http_req_query(req), "ms", 100, &ok);
        if (!ok || ms > 60000) {
            reply_text(req, 400, "ms must be a whole number of milliseconds up to 60000\n");
            return;
        }
        if (aw_sleep_ms((uint64_t)ms) < 0)
            return; /* cancelled: the server is stopping this connection */
        reply_text(req, 200, "Hello, World!");
    } else if (path_is(path, "/block")) {
        /* A real blocking call on the loop, on purpose: what the loop watchdog reports. */
        bool ok;
        int ms = query_int(aw_http_req_query(req), "ms", 100, &ok);
        if (!ok || ms > 60000) {
            reply_text(req, 400, "ms must be a whole number of milliseconds up to 60000\n");
            return;
        }
        usleep((useconds_t)ms * 1000);
        reply_text(req, 200, "Hello, World!");
    } else {
        reply_text(req, 404, "Not Found\n");
    }
}

int main(int argc, char **argv) {
    aw_server_options_t o;
    aw_server_options_init(&o);
    int rc = aw_server_options_parse(&o, argc, argv);
    if (rc)
        return rc > 0 ? 0 : 2;
    return aw_serve(&o, handle, NULL);
}
