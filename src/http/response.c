/* SPDX-License-Identifier: MIT */
/*
 * The response writer: status line and headers serialized into the
 * connection's output buffer, bodies copied when small and written from the
 * caller's memory when large, chunked streams, sendfile, and the cached
 * Date header.
 *
 * DESIGN
 * Responses are appended to one output buffer per busy connection and are
 * written when the connection next has to wait for input, so the responses
 * to a pipelined batch leave in one write. Anything that must reach the
 * client now (a chunk of a stream, a file, 100 Continue) flushes first, so
 * order on the wire always matches request order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "http_internal.h"

#define COPY_BODY_MAX (16 * 1024) /* larger bodies are written from the caller's memory */

const char *aw_http_reason(int status) {
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

/* ---- the Date header, formatted once a second ------------------------------------------------ */

static _Thread_local struct {
    uint64_t mono_sec; /* the loop-clock second it was formatted in */
    char line[48];
    size_t len;
} tl_date;

const char *aw__http_date_line(uint64_t now_ns, size_t *len) {
    /* Reformatted when the loop's (monotonic) clock enters a new second, so
     * a response costs a comparison; the header may lag the wall clock by
     * under a second, like nginx's cached time. */
    uint64_t sec = now_ns / 1000000000u;
    if (sec != tl_date.mono_sec || !tl_date.len) {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        tl_date.len = strftime(tl_date.line, sizeof(tl_date.line),
                               "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
        tl_date.mono_sec = sec;
    }
    *len = tl_date.len;
    return tl_date.line;
}

/* ---- output buffer --------------------------------------------------------------------------- */

int aw__http_reserve(aw_http_req_t *r, size_t len) {
    if (r->out_len + len > r->out_cap) {
        size_t cap = r->out_cap * 2;
        while (cap < r->out_len + len)
            cap *= 2;
        char *grown = r->out == r->out_inline ? malloc(cap) : realloc(r->out, cap);
        if (!grown)
            return AW_ENOMEM;
        if (r->out == r->out_inline)
            memcpy(grown, r->out_inline, r->out_len);
        r->out = grown;
        r->out_cap = cap;
    }
    return 0;
}

int aw__http_out(aw_http_req_t *r, const void *data, size_t len) {
    int rc = aw__http_reserve(r, len);
    if (rc)
        return rc;
    memcpy(r->out + r->out_len, data, len);
    r->out_len += len;
    return 0;
}

/* Writes iov fully, waiting for the socket, under the write timeout. */
static int write_all(aw_http_req_t *r, struct iovec *iov, int n) {
    /* The timeout starts at the first wait: most writes never wait, and
     * reading the clock twice per response is a tenth of its cost. */
    aw_deadline_t d;
    bool timed = false;
    int rc = 0;
    while (n > 0) {
        ssize_t w = writev(r->fd, iov, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN) {
                rc = -errno;
                break;
            }
            if (!timed) {
                aw_deadline_enter(&d, r->srv->cfg.write_timeout_ms);
                timed = true;
            }
            if ((rc = aw__wait_edge(r->fd, AW_WRITABLE)) < 0)
                break;
            continue;
        }
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    if (timed)
        aw_deadline_exit(&d);
    if (rc < 0)
        r->close_after = true; /* the connection cannot carry more */
    return rc;
}

int aw__http_flush(aw_http_req_t *r) {
    if (!r->out_len)
        return 0;
    struct iovec iov = {r->out, r->out_len};
    int rc = write_all(r, &iov, 1);
    r->out_len = 0;
    if (r->out != r->out_inline && r->out_cap > 64 * 1024) {
        /* Do not keep a big buffer around after one big response. */
        free(r->out);
        r->out = r->out_inline;
        r->out_cap = AW__OUT_INLINE;
    }
    return rc;
}

/* ---- serialization ----------------------------------------------------------------------------- */

static char *put(char *p, const char *s, size_t n) {
    memcpy(p, s, n);
    return p + n;
}

static char *put_u64(char *p, uint64_t v) {
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

/* The headers the server writes itself; `n` is strlen(name). */
static bool framing_header(const char *name, size_t n) {
    switch (n) {
    case 4:
        return aw__str_ieq(name, n, "date");
    case 6:
        return aw__str_ieq(name, n, "server");
    case 10:
        return aw__str_ieq(name, n, "connection");
    case 14:
        return aw__str_ieq(name, n, "content-length");
    case 17:
        return aw__str_ieq(name, n, "transfer-encoding");
    default:
        return false;
    }
}

/* Field names are tokens; values may not hold CR, LF or NUL (strlen stops there). */
static bool valid_name(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!(aw__http_class[(unsigned char)s[i]] & C_TCHAR))
            return false;
    return n > 0;
}

static bool valid_value(const char *s, size_t n) {
    return !memchr(s, '\r', n) && !memchr(s, '\n', n);
}

int aw_http_res_header(aw_http_req_t *r, const char *name, const char *value) {
    if (r->res_state != AW__RES_NONE)
        return AW_EALREADY;
    size_t nl = strlen(name), vl = strlen(value);
    if (!valid_name(name, nl) || framing_header(name, nl) || !valid_value(value, vl))
        return AW_EINVAL;
    size_t need = r->xh_len + nl + vl + 4;
    if (need > r->xh_cap) {
        size_t cap = r->xh_cap * 2;
        while (cap < need)
            cap *= 2;
        char *grown = r->xh == r->xh_inline ? malloc(cap) : realloc(r->xh, cap);
        if (!grown)
            return AW_ENOMEM;
        if (r->xh == r->xh_inline)
            memcpy(grown, r->xh_inline, r->xh_len);
        r->xh = grown;
        r->xh_cap = cap;
    }
    char *p = r->xh + r->xh_len;
    p = put(p, name, nl);
    p = put(p, ": ", 2);
    p = put(p, value, vl);
    p = put(p, "\r\n", 2);
    r->xh_len = (size_t)(p - r->xh);
    return 0;
}

int aw_http_res_status(const aw_http_req_t *r) {
    return r->res_status;
}

uint64_t aw_http_res_bytes(const aw_http_req_t *r) {
    return r->res_bytes;
}

bool aw_http_res_started(const aw_http_req_t *r) {
    return r->res_state != AW__RES_NONE;
}

/*
 * Appends the status line and headers. `length` < 0 means no
 * Content-Length (chunked when `chunked`, else delimited by closing).
 */
static int put_head(aw_http_req_t *r, int status, long long length, bool chunked) {
    aw_http_server_t *srv = r->srv;
    const char *reason = aw_http_reason(status);
    size_t date_len;
    const char *date = aw__http_date_line(srv->loop->now_ns, &date_len);
    r->res_status = status;
    bool close = r->close_after || srv->draining || !aw__hparse_keep_alive(&r->hp) ||
                 (length < 0 && !chunked);
    if (close)
        r->close_after = true;
    /* Serialized straight into the output buffer: no copy, and no big
     * frame on the connection task's stack (it is what a sleeping
     * connection's memory is made of). The fixed lines take under 256. */
    const char *reason_end = reason + strlen(reason);
    size_t need = 256 + (size_t)(reason_end - reason) + srv->server_line_len + r->xh_len;
    int rc = aw__http_reserve(r, need);
    if (rc)
        return rc;
    char *start = r->out + r->out_len, *p = start;
    p = put(p, "HTTP/1.1 ", 9);
    if (status < 100 || status > 999)
        status = 500;
    *p++ = (char)('0' + status / 100);
    *p++ = (char)('0' + status / 10 % 10);
    *p++ = (char)('0' + status % 10);
    *p++ = ' ';
    p = put(p, reason, (size_t)(reason_end - reason));
    p = put(p, "\r\n", 2);
    p = put(p, srv->server_line, srv->server_line_len);
    p = put(p, date, date_len);
    if (length >= 0 && status != 204 && status != 304 && status >= 200) {
        p = put(p, "Content-Length: ", 16);
        p = put_u64(p, (uint64_t)length);
        p = put(p, "\r\n", 2);
    } else if (chunked) {
        p = put(p, "Transfer-Encoding: chunked\r\n", 28);
    }
    if (close)
        p = put(p, "Connection: close\r\n", 19);
    else if (r->hp.version == 10)
        p = put(p, "Connection: keep-alive\r\n", 24);
    p = put(p, r->xh, r->xh_len);
    p = put(p, "\r\n", 2);
    r->out_len += (size_t)(p - start);
    return 0;
}

int aw_http_respond(aw_http_req_t *r, int status, const void *body, size_t len) {
    if (r->res_state != AW__RES_NONE)
        return AW_EALREADY;
    r->res_state = AW__RES_DONE;
    int rc = put_head(r, status, (long long)len, false);
    if (rc)
        return rc;
    if (r->is_head || !len || status == 204 || status == 304)
        return 0;
    r->res_bytes = len;
    if (len <= COPY_BODY_MAX)
        return aw__http_out(r, body, len);
    /* Large: write head and body together, the body from the caller's memory. */
    struct iovec iov[2] = {{r->out, r->out_len}, {(void *)body, len}};
    rc = write_all(r, iov, 2);
    r->out_len = 0;
    return rc;
}

int aw_http_res_start(aw_http_req_t *r, int status) {
    if (r->res_state != AW__RES_NONE)
        return AW_EALREADY;
    /* HTTP/1.0 knows no chunked coding: the body ends when we close. */
    bool chunked = r->hp.version == 11;
    r->res_state = chunked ? AW__RES_CHUNKED : AW__RES_RAW;
    int rc = put_head(r, status, -1, chunked);
    return rc ? rc : aw__http_flush(r);
}

int aw_http_res_write(aw_http_req_t *r, const void *data, size_t len) {
    if (r->res_state != AW__RES_CHUNKED && r->res_state != AW__RES_RAW)
        return AW_EINVAL;
    if (!len || r->is_head)
        return 0;
    r->res_bytes += len;
    if (r->res_state == AW__RES_RAW) {
        struct iovec iov = {(void *)data, len};
        return write_all(r, &iov, 1);
    }
    char size[24];
    int n = snprintf(size, sizeof(size), "%zx\r\n", len);
    struct iovec iov[3] = {{size, (size_t)n}, {(void *)data, len}, {"\r\n", 2}};
    return write_all(r, iov, 3);
}

int aw_http_res_end(aw_http_req_t *r) {
    int state = r->res_state;
    if (state != AW__RES_CHUNKED && state != AW__RES_RAW)
        return AW_EINVAL;
    r->res_state = AW__RES_DONE;
    if (state == AW__RES_CHUNKED && !r->is_head)
        return aw__http_out(r, "0\r\n\r\n", 5);
    return 0;
}

int aw_http_res_file(aw_http_req_t *r, int status, int fd, off_t offset, size_t len) {
    if (r->res_state != AW__RES_NONE)
        return AW_EALREADY;
    r->res_state = AW__RES_DONE;
    int rc = put_head(r, status, (long long)len, false);
    if (rc || r->is_head)
        return rc;
    if ((rc = aw__http_flush(r)) < 0)
        return rc;
    r->res_bytes = len;
    aw_deadline_t d;
    aw_deadline_enter(&d, r->srv->cfg.write_timeout_ms);
    while (len) {
        ssize_t n = sendfile(r->fd, fd, &offset, len);
        if (n > 0) {
            len -= (size_t)n;
            continue;
        }
        if (n == 0) {
            rc = AW_EIO; /* the file is shorter than announced */
            break;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN) {
            rc = -errno;
            break;
        }
        if ((rc = aw_wait_fd(r->fd, AW_WRITABLE)) < 0)
            break;
    }
    aw_deadline_exit(&d);
    if (rc < 0)
        r->close_after = true; /* the framing is broken: nothing may follow */
    return rc;
}

void aw__http_error(aw_http_req_t *r, int status, const char *reason) {
    char body[160];
    int n = snprintf(body, sizeof(body), "%s\n", reason ? reason : aw_http_reason(status));
    if (n < 0 || (size_t)n >= sizeof(body))
        n = (int)sizeof(body) - 1;
    aw_log(AW_LOG_DEBUG, "http: %d %s (fd %d)", status, reason ? reason : "", r->fd);
    r->close_after = true;
    r->xh_len = 0;
    r->res_state = AW__RES_NONE;
    aw_http_res_header(r, "Content-Type", "text/plain; charset=utf-8");
    r->res_state = AW__RES_DONE;
    if (put_head(r, status, n, false) == 0 && !r->is_head && aw__http_out(r, body, (size_t)n) == 0)
        r->res_bytes = (uint64_t)n;
}

void aw__http_res_reset(aw_http_req_t *r) {
    r->res_state = AW__RES_NONE;
    r->res_status = 0;
    r->res_bytes = 0;
    r->xh_len = 0;
}
