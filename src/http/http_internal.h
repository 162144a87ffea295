/* SPDX-License-Identifier: MIT */
/* HTTP internals shared by parser.c, conn.c and response.c. */
#ifndef AW_HTTP_INTERNAL_H
#define AW_HTTP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "../loop/loop_internal.h"
#include "awaitress/http.h"

/* Header fields held in the request's own table; more go to a heap table. */
#define AW__HTTP_FIELDS_INLINE 16

/* A header field as offsets from the start of its request in the read buffer. */
struct aw__hfield {
    uint32_t name_off, name_len, value_off, value_len;
};

/* Parse outcomes. */
enum {
    AW__HP_MORE = 0, /* consumed everything given; needs more bytes */
    AW__HP_HEAD = 1, /* the head is complete; a body follows */
    AW__HP_DONE = 2, /* the message is complete */
};

/*
 * One request being parsed: llhttp's state plus everything llhttp does not
 * check. Lives in the connection task's frame while the connection is busy.
 */
struct aw__hparse {
    _Alignas(8) unsigned char ll[96]; /* llhttp_t; its size is checked in parser.c */
    const aw_http_config_t *cfg;
    const char *base; /* the request's first byte */
    struct aw__hfield *fields;
    uint32_t nfields, fields_cap;
    bool fields_heap; /* fields was grown on the heap: aw__hparse_release frees it */
    uint32_t method_len;
    uint32_t target_off, target_len;
    uint32_t host_count;
    int status;         /* the error status once parsing failed, else 0 */
    const char *reason; /* why, for the error response and the log */
    uint8_t last_cb;    /* which span callback ran last: to join split spans */
    uint8_t method;     /* llhttp's method number */
    uint8_t version;    /* 10 or 11 */
    bool target_done, headers_done, message_done, chunked, expect_continue, keep_alive;
    uint8_t bstate; /* the body decoder's state */
    uint64_t content_length;
    uint64_t remaining; /* of the body (Content-Length) or of the current chunk */
    size_t body_bytes, chunk_ext_bytes, trailer_bytes;
};

/* Body decoder states. */
enum { B_LENGTH, B_SIZE_LINE, B_DATA, B_DATA_END, B_TRAILERS };

/*
 * Prepares `hp` for a new request that starts at `base`, with `fields`
 * (room for `cap`) as its first header table. Call aw__hparse_release()
 * when the request is done.
 */
AW__HIDDEN void aw__hparse_begin(struct aw__hparse *hp, const aw_http_config_t *cfg,
                                 struct aw__hfield *fields, uint32_t cap, const char *base);

/* Frees a header table that grew on the heap. Safe on a released or zeroed parser. */
AW__HIDDEN void aw__hparse_release(struct aw__hparse *hp);

/*
 * Feeds head bytes [data, data+len), which continue the ones fed before in
 * the same buffer. Returns AW__HP_MORE, AW__HP_HEAD or AW__HP_DONE (no
 * body), with *used set to the bytes consumed, or a negative HTTP status.
 */
AW__HIDDEN int aw__hparse_head(struct aw__hparse *hp, const char *data, size_t len, size_t *used);

/*
 * Decodes body bytes into out (at most out_cap). Bytes of a framing line
 * that has not fully arrived are not consumed: keep them and call again
 * with more after them. Returns AW__HP_MORE or AW__HP_DONE with *used and
 * *produced set, or a negative HTTP status.
 */
AW__HIDDEN int aw__hparse_body(struct aw__hparse *hp, const char *data, size_t len, size_t *used,
                               char *out, size_t out_cap, size_t *produced);

/* The connection may carry another request after this one. */
AW__HIDDEN bool aw__hparse_keep_alive(const struct aw__hparse *hp);

/* Byte classes for the parser and the writer (filled at load time by parser.c). */
enum { C_TCHAR = 1, C_HOST = 2, C_TARGET = 4, C_VALUE = 8 };
extern AW__HIDDEN unsigned char aw__http_class[256];

/* Case-insensitive compare of a span with a NUL-terminated lower-case name. */
AW__HIDDEN bool aw__str_ieq(const char *s, size_t len, const char *lower);

/* ---- connections and requests (conn.c, response.c) ---- */

struct aw__conn;

struct aw_http_server {
    aw_http_config_t cfg;
    aw_http_handler handler;
    void *data;
    aw_loop_t *loop;
    int lfd;
    aw_task_t *acceptor;
    struct aw__conn *conns; /* every open connection */
    size_t nconns;
    aw_event_t room;        /* set while nconns < max_connections */
    aw_timer_t grace_timer; /* ends a graceful stop */
    aw_http_done_cb on_done;
    void *on_done_data;
    aw_timer_t drain_timer; /* ends the drain delay */
    aw_timer_t park_timer;  /* sends long-parked connections to idle */
    struct aw__conn *parked_head, *parked_tail; /* oldest first */
    uint32_t grace_pending; /* the grace period to start after the drain delay */
    bool draining;          /* a stop was asked for: responses close their connections */
    bool stopping;          /* and accepting has stopped: idle connections close */
    char server_line[96];   /* "Server: ...\r\n", or empty */
    size_t server_line_len;
};

struct aw__conn {
    aw_http_server_t *srv;
    int fd;
    bool busy;              /* a task serves it */
    bool served;            /* at least one request answered: idle timeout is keep-alive's */
    aw_task_t *task;        /* while busy */
    aw_timer_t idle_timer;  /* lazy: see idle_timeout() */
    uint64_t idle_since_ns;
    bool parked;            /* its task waits for the next request (see park()) */
    bool gone;              /* the client closed while a handler ran */
    struct aw__conn *park_prev, *park_next;
    struct aw__conn *prev, *next;
    socklen_t peer_len;
    struct sockaddr_storage peer;
};

enum { AW__BODY_NONE, AW__BODY_READING, AW__BODY_DONE, AW__BODY_ERROR };
enum { AW__RES_NONE, AW__RES_CHUNKED, AW__RES_RAW, AW__RES_DONE };

#define AW__IN_INLINE 1024
#define AW__OUT_INLINE 512
#define AW__XH_INLINE 128

/*
 * A busy connection's state, reused for each request it serves. It lives in
 * the extra bytes at the top of the connection task's stack, next to the
 * task record, so a small request touches few pages. Rarely used parts come
 * first (lowest addresses); the buffers last, nearest the top.
 */
struct aw_http_req {
    struct aw__hfield fields[AW__HTTP_FIELDS_INLINE];
    struct aw__hparse hp;
    aw_http_server_t *srv;
    struct aw__conn *conn;
    int fd;
    uint64_t start_ns;
    char method[24];
    /* Read buffer: [start, head_end) is this request's head, [pos, end) unparsed input. */
    char *buf;
    size_t cap, start, head_end, pos, end;
    /* Body. */
    bool drained; /* the last read() left the socket empty (a short read) */
    int body_state;
    int body_err;
    bool sent_continue;
    char *body_mem;
    size_t body_mem_len;
    /* Response. */
    int res_state;
    int res_status;
    uint64_t res_bytes;
    bool is_head;
    bool close_after;
    char *out; /* responses of the batch not yet written */
    size_t out_len, out_cap;
    char *xh; /* extra header lines from aw_http_res_header */
    size_t xh_len, xh_cap;
    char xh_inline[AW__XH_INLINE];
    char out_inline[AW__OUT_INLINE];
    char in_inline[AW__IN_INLINE];
};

/*
 * Serves the connected socket `fd` (the in-process test client's end of a
 * socketpair) on the current loop, as if accepted. Takes fd (closed on
 * failure). Returns 0, AW_ENOMEM, or AW_EINVAL outside a loop or on
 * another loop than the server's.
 */
AW__HIDDEN int aw__http_server_adopt(aw_http_server_t *srv, int fd);

/* Writes everything buffered for the connection (under the write timeout). Returns 0 or a code. */
AW__HIDDEN int aw__http_flush(aw_http_req_t *r);

/* Makes room for `len` more output bytes. Returns 0 or AW_ENOMEM. */
AW__HIDDEN int aw__http_reserve(aw_http_req_t *r, size_t len);

/* Appends bytes to the connection's output, growing it as needed. Returns 0 or AW_ENOMEM. */
AW__HIDDEN int aw__http_out(aw_http_req_t *r, const void *data, size_t len);

/* Queues a short error response that closes the connection. */
AW__HIDDEN void aw__http_error(aw_http_req_t *r, int status, const char *reason);

/* Resets the per-request response state. */
AW__HIDDEN void aw__http_res_reset(aw_http_req_t *r);

/*
 * Binds a TCP socket on host:port (the first address that works), with
 * SO_REUSEADDR and, if asked, SO_REUSEPORT; listens with `backlog` unless it
 * is negative (a bound socket that does not listen reserves the port but
 * takes no connections). Returns the fd or a negative AW_E* code.
 */
AW__HIDDEN int aw__tcp_bind(const char *host, int port, int backlog, bool reuseport, bool nonblock);

/* ---- response.c ---- */

/* "Date: ...\r\n" for the current second, formatted once a second. */
AW__HIDDEN const char *aw__http_date_line(uint64_t now_ns, size_t *len);

#endif
