/* SPDX-License-Identifier: MIT */
/* The HTTP/1.1 client: aw_fetch() from a task, pooled keep-alive connections, http:// only. */
#ifndef AWAITRESS_CLIENT_H
#define AWAITRESS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "awaitress/http.h"
#include "awaitress/loop.h"

/*
 * The httpx.AsyncClient of awaitress. A task calls aw_fetch(); it connects
 * (or takes a kept-alive connection from the client's pool), writes the
 * request, and suspends while it waits, so the loop serves other tasks
 * meanwhile. The whole response, body included, is read into memory.
 *
 *   aw_client_t *cl = aw_client_new(NULL);
 *   aw_response_t *res;
 *   int rc = aw_client_get(cl, "http://127.0.0.1:8000/items/1", &res);
 *   if (rc == 0) {
 *       size_t len;
 *       const char *body = aw_response_body(res, &len);
 *       printf("%d %s: %.*s\n", aw_response_status(res),
 *              aw_response_header(res, "content-type"), (int)len, body);
 *       aw_response_free(res);
 *   }
 *   aw_client_free(cl);
 *
 * Scope: plain http:// only; an https:// URL fails with AW_EINVAL (and a
 * log line saying so). HTTP/1.1 requests; HTTP/1.1 and 1.0 responses. Host
 * names are resolved with getaddrinfo() on the thread pool (nothing is
 * cached); IPv4 and IPv6 literals ("http://[::1]:8080/") are used as they
 * are. Responses are checked strictly: anything malformed or ambiguous is
 * AW_EPROTO, never guessed at. The body is returned decoded from chunked
 * framing; trailer fields are checked and dropped; content codings (gzip)
 * are not undone, and none is asked for.
 *
 * Connections: after a complete response that the server allows to keep
 * (HTTP/1.1 without `Connection: close`, or HTTP/1.0 with `Connection:
 * keep-alive`; framed by Content-Length or chunked), the connection goes
 * back to a pool per host:port, most recently used first. A pooled
 * connection the server has closed is noticed before reuse; if one fails
 * anyway before any byte of the response arrives, an idempotent request
 * (GET, HEAD, PUT, DELETE, OPTIONS, TRACE) is sent once more on a fresh
 * connection. A connection whose request failed, timed out or was
 * cancelled is closed, never pooled.
 *
 * Fixed limits: a response head (status line and fields) of 64 KiB and 256
 * fields, chunk extensions of 4 KiB per chunk line, trailers of 8 KiB
 * (AW_EMSGSIZE beyond them); at most 32 interim (1xx) responses.
 *
 * Thread rules: a client, its connections and its responses belong to the
 * loop thread that uses them; create, use and free it there. Several tasks
 * may fetch with one client at once: each takes its own connection.
 */

typedef struct aw_client aw_client_t;
typedef struct aw_response aw_response_t;

/* For the timeouts below: wait as long as it takes. */
#define AW_CLIENT_NO_TIMEOUT UINT32_MAX

/* Client options. Zero means the default in brackets, so `{0}` or NULL gives them all. */
typedef struct aw_client_opts {
    const char *base_url;        /* relative URLs are joined to it, httpx-style: base
                                    "http://h/api" and "users?id=1" or "/users?id=1" give
                                    "http://h/api/users?id=1" [NULL: URLs must be absolute] */
    uint32_t timeout_ms;         /* a whole request, from aw_fetch() to the last body byte
                                    [30000]; AW_CLIENT_NO_TIMEOUT: none */
    uint32_t connect_timeout_ms; /* resolving and connecting, within the above [10000] */
    uint32_t idle_timeout_ms;    /* a pooled connection idle longer is closed, not reused
                                    [30000] */
    int max_idle_per_host;       /* kept-alive connections pooled per host:port [8];
                                    negative: none (every request gets a new connection) */
    size_t max_response_bytes;   /* decoded response body [64 MiB]: AW_EMSGSIZE beyond it */
    const char *const *headers;  /* sent with every request: "Name", "value", ..., NULL
                                    (copied) [none] */
    const char *user_agent;      /* the User-Agent header ["awaitress/0.1"]; "" for none */
} aw_client_opts_t;

/* One request for aw_fetch(). Zero fields take the defaults in brackets. */
typedef struct aw_fetch_req {
    const char *method;         /* a token such as "GET" or "POST" ["GET"] */
    const char *url;            /* "http://host[:port]/path?query", or relative to the
                                   client's base_url; a #fragment is dropped (required) */
    const char *const *headers; /* "Name", "value", ..., NULL; these win over the client's
                                   headers of the same name [none] */
    const void *body;           /* body_len bytes, sent with a Content-Length [none] */
    size_t body_len;
    const char *content_type; /* the Content-Type header [none] */
    uint32_t timeout_ms;      /* overrides the client's timeout_ms [0: the client's] */
} aw_fetch_req_t;

/*
 * Creates a client with options `o` (NULL: all defaults). The strings and
 * the header array are copied. Returns a new client, or NULL when out of
 * memory or when `o` is invalid (a base_url that is not an http:// URL or has a query, a
 * header with CR, LF or NUL in it; logged). Free it with aw_client_free().
 */
AW_API aw_client_t *aw_client_new(const aw_client_opts_t *o);

/*
 * Closes the pooled connections and frees the client. No request may be in
 * flight with it. NULL is a no-op. Loop thread, inside or outside a task.
 */
AW_API void aw_client_free(aw_client_t *cl);

/*
 * Sends `req` and reads the whole response. From a task only. Everything in
 * `req` is borrowed for the call. Returns 0 with *out set to a new response
 * (whatever its status: a 404 or a 500 is a response too; free it with
 * aw_response_free()), or a negative code with *out set to NULL:
 *   AW_EINVAL      a bad URL (not http://, https:// included), method or
 *                  header; Content-Length, Transfer-Encoding and Host are
 *                  the client's to write (Host may be given, to override)
 *   AW_ETIMEDOUT   the timeout (or connect timeout) ran out, or a deadline
 *                  scope of the caller did
 *   AW_ECANCELED   the calling task was cancelled
 *   AW_EADDRNOTAVAIL  the host name does not resolve (AW_EAGAIN: try later)
 *   AW_ECONNREFUSED, AW_EHOSTUNREACH, AW_ENETUNREACH, ...  connecting failed
 *   AW_ECONNRESET  the connection was closed or reset before a response
 *   AW_EPROTO      a malformed or truncated response
 *   AW_EMSGSIZE    the response is over a limit (max_response_bytes, or the
 *                  fixed ones above)
 *   AW_ENOMEM
 */
AW_API int aw_fetch(aw_client_t *cl, const aw_fetch_req_t *req, aw_response_t **out);

/* Connections resting in the pool now, over all hosts. */
AW_API size_t aw_client_idle_connections(const aw_client_t *cl);

/* ---- the response (all results borrowed until aw_response_free) ---------------------------- */

/*
 * The status code (200, 404, ...), 200 to 599: interim 1xx responses are
 * skipped, and a 101 is AW_EPROTO (the client never asks to upgrade).
 */
AW_API int aw_response_status(const aw_response_t *res);

/* The reason phrase as received ("OK"; "" when the server sent none). */
AW_API const char *aw_response_reason(const aw_response_t *res);

/* 10 for HTTP/1.0, 11 for HTTP/1.1. */
AW_API int aw_response_version(const aw_response_t *res);

/*
 * The value of the first header field named `name` (case-insensitive),
 * NUL-terminated, without surrounding whitespace; NULL when absent.
 */
AW_API const char *aw_response_header(const aw_response_t *res, const char *name);

/*
 * The i-th header field in order of arrival: sets *name and *value (either
 * may be NULL) and returns true, or returns false past the last one.
 */
AW_API bool aw_response_header_at(const aw_response_t *res, size_t i, const char **name,
                                  const char **value);

/*
 * The decoded body, NUL-terminated for convenience (it may hold NULs of its
 * own: trust *len, which may be NULL); "" with length 0 when there is none.
 */
AW_API const char *aw_response_body(const aw_response_t *res, size_t *len);

/* Frees a response. NULL is a no-op. */
AW_API void aw_response_free(aw_response_t *res);

/* ---- shorthands ---------------------------------------------------------------------------- */

/* GET `url`. As aw_fetch(). */
static inline int aw_client_get(aw_client_t *cl, const char *url, aw_response_t **out);

/* HEAD `url`: the status and headers, no body. As aw_fetch(). */
static inline int aw_client_head(aw_client_t *cl, const char *url, aw_response_t **out);

/* DELETE `url`. As aw_fetch(). */
static inline int aw_client_delete(aw_client_t *cl, const char *url, aw_response_t **out);

/* POST `len` bytes of `body` (borrowed) as `content_type` (NULL: no header). As aw_fetch(). */
static inline int aw_client_post(aw_client_t *cl, const char *url, const char *content_type,
                                 const void *body, size_t len, aw_response_t **out);

/* PUT, like aw_client_post(). */
static inline int aw_client_put(aw_client_t *cl, const char *url, const char *content_type,
                                const void *body, size_t len, aw_response_t **out);

/* ---- inline bodies ----------------------------------------------------------------------- */

static inline int aw__client_simple(aw_client_t *cl, const char *method, const char *url,
                                    const char *content_type, const void *body, size_t len,
                                    aw_response_t **out) {
    aw_fetch_req_t req = {
        .method = method, .url = url, .content_type = content_type, .body = body, .body_len = len};
    return aw_fetch(cl, &req, out);
}

static inline int aw_client_get(aw_client_t *cl, const char *url, aw_response_t **out) {
    return aw__client_simple(cl, "GET", url, NULL, NULL, 0, out);
}

static inline int aw_client_head(aw_client_t *cl, const char *url, aw_response_t **out) {
    return aw__client_simple(cl, "HEAD", url, NULL, NULL, 0, out);
}

static inline int aw_client_delete(aw_client_t *cl, const char *url, aw_response_t **out) {
    return aw__client_simple(cl, "DELETE", url, NULL, NULL, 0, out);
}

static inline int aw_client_post(aw_client_t *cl, const char *url, const char *content_type,
                                 const void *body, size_t len, aw_response_t **out) {
    return aw__client_simple(cl, "POST", url, content_type, body, len, out);
}

static inline int aw_client_put(aw_client_t *cl, const char *url, const char *content_type,
                                const void *body, size_t len, aw_response_t **out) {
    return aw__client_simple(cl, "PUT", url, content_type, body, len, out);
}

#endif
