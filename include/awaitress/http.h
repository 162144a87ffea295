/* SPDX-License-Identifier: MIT */
/* The HTTP/1.1 server: connections, strict parsing, limits and timeouts, the response writer. */
#ifndef AWAITRESS_HTTP_H
#define AWAITRESS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "awaitress/loop.h"
#include "awaitress/pool.h"

/*
 * An HTTP/1.1 server on the current loop. Each connection with work to do
 * runs in a task: it reads, parses (llhttp, strict, plus the checks llhttp
 * lacks), calls the handler in the same task, and writes the responses of a
 * pipelined batch with one writev. A connection waiting for its next
 * request holds no task and no buffer: only its fd and a small record.
 *
 * Bad input never reaches a handler: the server answers it once with the
 * status it implies (400, 408, 413, 414, 431, 501, 505) and closes the
 * connection; requests pipelined after it never run. Requests before it are
 * answered first, in order.
 *
 * Thread rules: a server belongs to the loop it was started on.
 */

/* A borrowed byte string: not NUL-terminated; ptr is NULL when absent. */
typedef struct aw_str {
    const char *ptr;
    size_t len;
} aw_str_t;

/* Limits and timeouts; aw_http_config_init() fills in the defaults given in brackets. */
typedef struct aw_http_config {
    size_t max_head_bytes;       /* request line and headers [8192]: 431, or 414 for the target */
    size_t max_headers;          /* header fields [100]: 431 */
    size_t max_body_bytes;       /* decoded request body [1 MiB]: 413, before reading it */
    size_t max_chunk_ext_bytes;  /* chunk extensions per request [1024]: 400 */
    size_t max_trailer_bytes;    /* trailer section [4096]: 431 */
    uint32_t header_timeout_ms;  /* to receive a request head [10000]: 408 and close */
    uint32_t keepalive_timeout_ms; /* idle between requests [75000]: close */
    uint32_t body_timeout_ms;    /* between two reads of a body [30000]: 408 and close */
    uint32_t write_timeout_ms;   /* to write a response [30000]: close */
    uint32_t max_connections;    /* per loop [10000]: stop accepting above it */
    int backlog;                 /* listen() backlog [2048] */
    uint32_t drain_delay_ms;     /* on shutdown, keep accepting this long, answering with
                                    Connection: close, so load balancers see us leave [0] */
    const char *server_name;     /* the Server header ["awaitress"]; NULL or "" for none */
} aw_http_config_t;

/* Fills `cfg` with the defaults. */
AW_API void aw_http_config_init(aw_http_config_t *cfg);

typedef struct aw_http_req aw_http_req_t;
typedef struct aw_http_server aw_http_server_t;

/*
 * A request handler. It runs in the connection's task and may await
 * anything. It answers with aw_http_respond() (or the streaming calls); if
 * it returns without answering, the server answers 500 and logs it. `req`
 * and everything borrowed from it are valid until the handler returns.
 */
typedef void (*aw_http_handler)(aw_http_req_t *req, void *data);

/*
 * Creates a server that will call handler(req, data) for every valid
 * request. `cfg` is copied (NULL: defaults); `data` is borrowed. Returns a
 * new server, or NULL on ENOMEM.
 */
AW_API aw_http_server_t *aw_http_server_new(const aw_http_config_t *cfg, aw_http_handler handler,
                                            void *data);

/*
 * Opens a non-blocking TCP listener on host:port (IPv4 or IPv6 literal or
 * name; port 0 picks one), with SO_REUSEADDR and, if `reuseport`,
 * SO_REUSEPORT. Returns the fd, or a negative AW_E* code. Any thread.
 */
AW_API int aw_http_listen_tcp(const char *host, int port, int backlog, bool reuseport);

/* Returns the local port a listener is bound to, or a negative AW_E* code. */
AW_API int aw_http_listener_port(int fd);

/*
 * Starts serving the listening socket `fd` on the current loop: an accept
 * task is spawned. The server takes the fd (it closes it on shutdown, even
 * if this fails). Returns 0, or AW_ENOMEM. Loop thread.
 */
AW_API int aw_http_server_start(aw_http_server_t *srv, int fd);

/*
 * Begins a graceful stop: every response from now on says `Connection:
 * close`; after the config's drain_delay_ms (0: at once) no new connections
 * are accepted and idle ones are closed; connections still busy `grace_ms`
 * after that are closed. Returns at once; the server's
 * tasks end on their own (the loop then runs dry). A second call with
 * grace_ms 0 stops at once. Loop thread.
 */
AW_API void aw_http_server_shutdown(aw_http_server_t *srv, uint32_t grace_ms);

/* True once a shutdown was asked for (handlers may answer "draining" on readiness paths). */
AW_API bool aw_http_server_draining(const aw_http_server_t *srv);

/* True until a stop has ended accepting (after the drain delay). */
AW_API bool aw_http_server_accepting(const aw_http_server_t *srv);

/* Open connections (idle and busy). */
AW_API size_t aw_http_server_connections(const aw_http_server_t *srv);

/*
 * Called after each response the server queues, the ones it writes itself
 * (400, 408, 413, 414, 431, 501, 505, and the 500 for a handler that did
 * not answer) included: the place for access logs. For a request whose head
 * could not be parsed, the method and target are empty. Loop thread.
 */
typedef void (*aw_http_done_cb)(aw_http_req_t *req, void *data);

/* Sets the done callback (NULL: none). `data` is borrowed. */
AW_API void aw_http_server_on_done(aw_http_server_t *srv, aw_http_done_cb cb, void *data);

/* Frees a server whose connections and accept task are gone (after the loop ran dry). NULL is a no-op. */
AW_API void aw_http_server_free(aw_http_server_t *srv);

/* ---- the request --------------------------------------------------------------------------- */

/* The client's address as accepted; *len gets its size. Borrowed like the request. */
AW_API const struct sockaddr *aw_http_req_peer(const aw_http_req_t *req, socklen_t *len);

/* When the server began reading this request (aw_now_ns() time). */
AW_API uint64_t aw_http_req_start_ns(const aw_http_req_t *req);

/* The method exactly as received ("GET", "POST", ...), NUL-terminated. */
AW_API const char *aw_http_req_method(const aw_http_req_t *req);

/* The request-target exactly as received: no decoding, no normalisation. */
AW_API aw_str_t aw_http_req_target(const aw_http_req_t *req);

/* The path part of the target (for absolute-form, the path inside the URI). */
AW_API aw_str_t aw_http_req_path(const aw_http_req_t *req);

/* The query part, without the '?'; ptr is NULL when the target has none. */
AW_API aw_str_t aw_http_req_query(const aw_http_req_t *req);

/* 10 for HTTP/1.0, 11 for HTTP/1.1. */
AW_API int aw_http_req_version(const aw_http_req_t *req);

/* The first header field with this name (case-insensitive); ptr NULL when absent. */
AW_API aw_str_t aw_http_req_header(const aw_http_req_t *req, const char *name);

/* Header fields in order of arrival; false past the last. */
AW_API bool aw_http_req_header_at(const aw_http_req_t *req, size_t i, aw_str_t *name,
                                  aw_str_t *value);

/* True if the request announces a body (Content-Length > 0 or chunked). */
AW_API bool aw_http_req_has_body(const aw_http_req_t *req);

/*
 * Reads up to `len` bytes of the decoded body, waiting as needed (and
 * sending `100 Continue` first if the client expects it). Returns the
 * count, 0 at the end of the body, or a negative code: AW_ETIMEDOUT (the
 * body timeout), AW_ECONNRESET, AW_EMSGSIZE (over the body limit), or AW_EPROTO
 * (malformed chunked framing). After an error the connection is answered
 * with the matching status and closed, whatever the handler does.
 */
AW_API ssize_t aw_http_req_read(aw_http_req_t *req, void *buf, size_t len);

/*
 * Reads the whole body into memory owned by the request (valid until the
 * handler returns). Returns 0 with data and len set (len 0 for no body), or an
 * error as for aw_http_req_read().
 */
AW_API int aw_http_req_body(aw_http_req_t *req, const char **data, size_t *len);

/* Decoded body bytes received so far. */
AW_API size_t aw_http_req_body_length(const aw_http_req_t *req);

/* ---- the response -------------------------------------------------------------------------- */

/*
 * Adds a response header (copied). Content-Length, Transfer-Encoding, Date,
 * Server and Connection are the server's to write: AW_EINVAL. Names and
 * values with CR, LF or NUL are refused (AW_EINVAL), so a handler cannot be
 * made to split a response. Call before the response starts.
 */
AW_API int aw_http_res_header(aw_http_req_t *req, const char *name, const char *value);

/*
 * Sends a complete response with `len` bytes of body (copied, or written
 * straight from `body` when large). A HEAD request gets the same headers
 * and no body. Returns 0, AW_EALREADY if a response was started, or an I/O
 * error (the connection is then closed).
 */
AW_API int aw_http_respond(aw_http_req_t *req, int status, const void *body, size_t len);

/* Starts a chunked response; the body follows with aw_http_res_write(). */
AW_API int aw_http_res_start(aw_http_req_t *req, int status);

/* Sends one chunk of a started response now (empty writes are skipped). */
AW_API int aw_http_res_write(aw_http_req_t *req, const void *data, size_t len);

/* Ends a chunked response. */
AW_API int aw_http_res_end(aw_http_req_t *req);

/* Sends `len` bytes of the file `fd` from `offset` with sendfile(); `fd` is borrowed. */
AW_API int aw_http_res_file(aw_http_req_t *req, int status, int fd, off_t offset, size_t len);

/* The status of the response started or sent, 0 before that. For access logs. */
AW_API int aw_http_res_status(const aw_http_req_t *req);

/* Body bytes of the response written or queued so far (HEAD: 0). For access logs. */
AW_API uint64_t aw_http_res_bytes(const aw_http_req_t *req);

/* True once a response has been started or sent. */
AW_API bool aw_http_res_started(const aw_http_req_t *req);

/* The reason phrase for a status code ("Not Found"), or "Unknown". */
AW_API const char *aw_http_reason(int status);

#endif
