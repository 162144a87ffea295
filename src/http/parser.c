/* SPDX-License-Identifier: MIT */
/*
 * The request parser: llhttp (strict) for the grammar, plus every check it
 * lacks. The only file that includes llhttp.h.
 *
 * DESIGN
 * llhttp 8.1.0 (Debian's node-llhttp) parses the request head; everything
 * after it is ours. llhttp enforces no size limits and lets through several
 * things two servers could read two ways: a CR not followed by LF
 * (`\r\n\rX` ends its header block, `5\r\r` a chunk-size line),
 * whitespace before a colon outside Content-Length and Transfer-Encoding,
 * obs-fold, HTTP/0.9 and HTTP/2.0 request lines, '#' and raw high bytes in
 * the target, and transfer codings other than a lone `chunked`; its chunk
 * parser also refuses valid extensions (`5;a=b;c`, `5 ;a=b`). So:
 * - the head is fed from one contiguous buffer; spans are kept as offsets
 *   from the request's first byte, and split spans are joined;
 * - every limit is counted in callbacks, which stop llhttp with HPE_USER
 *   after recording the status to answer;
 * - once the head is complete it is scanned once for bare CR, bare LF and
 *   folded lines, and the fields that decide framing and routing
 *   (Transfer-Encoding, Host, Expect, the target, the version) are checked
 *   by hand;
 * - the body is decoded here, not by llhttp: Content-Length by counting,
 *   chunked by a strict line-based decoder (RFC 9112 7.1) that accepts only
 *   CRLF, validates extensions and trailer fields, and consumes a line only
 *   once all of it has arrived, so a cut between reads never changes what
 *   it means.
 * llhttp pauses at the end of the head (when a body follows) and at the end
 * of a bodyless message, so a handler runs between requests and pipelined
 * requests are parsed one at a time.
 *
 * The client's response parser (at the end of the file) is a second llhttp
 * configuration over the same field callbacks, checks and body decoder.
 */
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"
#include "http_internal.h"
#include <llhttp.h>

_Static_assert(sizeof(llhttp_t) <= sizeof(((struct aw__hparse *)0)->ll), "llhttp_t grew");

enum { CB_NONE, CB_FIELD, CB_VALUE };

#define HP(p) ((struct aw__hparse *)(p)->data)

static int fail(struct aw__hparse *hp, int status, const char *reason) {
    if (!hp->status) {
        hp->status = status;
        hp->reason = reason;
    }
    return HPE_USER;
}

bool aw__str_ieq(const char *s, size_t len, const char *lower) {
    size_t i = 0;
    for (; i < len && lower[i]; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != lower[i])
            return false;
    }
    return i == len && lower[i] == '\0';
}

/*
 * Character classes, one byte each, filled once at load time: the checks
 * below run over every byte of every head, and a table lookup is one
 * instruction where a chain of comparisons is a dozen.
 */
unsigned char aw__http_class[256];
#define g_class aw__http_class

__attribute__((constructor)) static void init_classes(void) {
    for (int c = 0; c < 256; c++) {
        bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        unsigned char k = 0;
        if (alnum || (c && strchr("!#$%&'*+-.^_`|~", c)))
            k |= C_TCHAR; /* RFC 9110 5.6.2 */
        if (alnum || (c && strchr("-._~!$&'()*+,;=%", c)))
            k |= C_HOST; /* reg-name, RFC 3986 3.2.2 */
        if (c > 0x20 && c < 0x7f && c != '#')
            k |= C_TARGET;
        if (c == '\t' || (c >= 0x20 && c != 0x7f))
            k |= C_VALUE; /* field-vchar, SP, HTAB, obs-text */
        g_class[c] = k;
    }
}

static bool is_tchar(unsigned char c) {
    return g_class[c] & C_TCHAR;
}

static size_t head_limit_used(const struct aw__hparse *hp, const char *at, size_t len) {
    return (size_t)(at + len - hp->base);
}

/* ---- head callbacks -------------------------------------------------------------------------- */

static int on_method(llhttp_t *p, const char *at, size_t len) {
    struct aw__hparse *hp = HP(p);
    hp->method_len += (uint32_t)len;
    (void)at;
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len) {
    struct aw__hparse *hp = HP(p);
    if (!hp->target_len)
        hp->target_off = (uint32_t)(at - hp->base);
    hp->target_len += (uint32_t)len;
    if (hp->target_len > hp->cfg->max_head_bytes)
        return fail(hp, 414, "request target too long");
    return 0;
}

static int on_url_complete(llhttp_t *p) {
    HP(p)->target_done = true;
    return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len) {
    struct aw__hparse *hp = HP(p);
    if (head_limit_used(hp, at, len) > hp->cfg->max_head_bytes)
        return fail(hp, 431, "request header section too large");
    if (hp->last_cb != CB_FIELD) { /* a new field starts */
        if (hp->nfields >= hp->cfg->max_headers)
            return fail(hp, 431, "too many header fields");
        if (hp->nfields == hp->fields_cap) {
            /* Rare: more fields than the inline table holds. */
            size_t cap = hp->cfg->max_headers;
            struct aw__hfield *grown = malloc(cap * sizeof(*grown));
            if (!grown)
                return fail(hp, 503, "out of memory for header fields");
            memcpy(grown, hp->fields, hp->nfields * sizeof(*grown));
            if (hp->fields_heap)
                free(hp->fields);
            hp->fields = grown;
            hp->fields_cap = (uint32_t)cap;
            hp->fields_heap = true;
        }
        struct aw__hfield *f = &hp->fields[hp->nfields++];
        f->name_off = (uint32_t)(at - hp->base);
        f->name_len = 0;
        f->value_off = f->value_len = 0;
    }
    hp->fields[hp->nfields - 1].name_len += (uint32_t)len;
    hp->last_cb = CB_FIELD;
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len) {
    struct aw__hparse *hp = HP(p);
    if (head_limit_used(hp, at, len) > hp->cfg->max_head_bytes)
        return fail(hp, 431, "request header section too large");
    struct aw__hfield *f = &hp->fields[hp->nfields - 1];
    if (hp->last_cb != CB_VALUE)
        f->value_off = (uint32_t)(at - hp->base);
    f->value_len += (uint32_t)len;
    hp->last_cb = CB_VALUE;
    return 0;
}

/* Checks a field's value; `name` too when `check_name` (headers checked it already). */
static int check_field(struct aw__hparse *hp, const char *name, size_t nlen, const char *value,
                       size_t vlen, bool check_name) {
    if (check_name) {
        if (nlen == 0)
            return fail(hp, 400, "empty header field name");
        for (size_t i = 0; i < nlen; i++)
            if (!is_tchar((unsigned char)name[i]))
                return fail(hp, 400, "invalid character in header field name");
    }
    for (size_t i = 0; i < vlen; i++) {
        unsigned char c = (unsigned char)value[i];
        if (!(g_class[c] & C_VALUE)) {
            /* CR or LF inside a value is obs-fold (or a bare line break). */
            if (c == '\r' || c == '\n')
                return fail(hp, 400, "obsolete line folding in header field");
            return fail(hp, 400, "control character in header field value");
        }
    }
    return 0;
}

static int on_header_value_complete(llhttp_t *p) {
    struct aw__hparse *hp = HP(p);
    struct aw__hfield *f = &hp->fields[hp->nfields - 1];
    const char *name = hp->base + f->name_off, *value = hp->base + f->value_off;
    /* llhttp keeps trailing whitespace in the value: OWS is not part of it. */
    while (f->value_len && (value[f->value_len - 1] == ' ' || value[f->value_len - 1] == '\t'))
        f->value_len--;
    hp->last_cb = CB_NONE;
    return check_field(hp, name, f->name_len, value, f->value_len, false);
}

/* The name is complete: check it now, the value may never get a callback. */
static int on_header_field_complete(llhttp_t *p) {
    struct aw__hparse *hp = HP(p);
    struct aw__hfield *f = &hp->fields[hp->nfields - 1];
    const char *name = hp->base + f->name_off;
    if (f->name_len == 0)
        return fail(hp, 400, "empty header field name");
    for (size_t i = 0; i < f->name_len; i++)
        if (!is_tchar((unsigned char)name[i]))
            return fail(hp, 400, "invalid character in header field name");
    /* An empty value gets no value callback: point it after the name. */
    f->value_off = (uint32_t)(name + f->name_len - hp->base);
    hp->last_cb = CB_NONE; /* so the first value span opens the value */
    return 0;
}

/* ---- checks at the end of the head ----------------------------------------------------------- */

/*
 * Every CR must be followed by LF, every LF preceded by CR, and no line may
 * start with whitespace (obs-fold; llhttp passes it silently when the line
 * before had an empty value). Returns a reason, or NULL if the head is clean.
 */
static const char *bad_line_breaks(const char *from, const char *to) {
    /* memchr-driven: a head is a few hundred bytes with a dozen line ends. */
    size_t crs = 0;
    for (const char *c = from; c < to && (c = memchr(c, '\r', (size_t)(to - c))); c++)
        crs++;
    size_t lfs = 0;
    for (const char *c = from; c < to && (c = memchr(c, '\n', (size_t)(to - c))); c++) {
        if (c == from || c[-1] != '\r')
            return "bare LF in the request head";
        if (c + 1 < to && (c[1] == ' ' || c[1] == '\t'))
            return "obsolete line folding in the request head";
        lfs++;
    }
    /* Every LF has its CR: any CR more is a bare one. */
    return crs == lfs ? NULL : "bare CR in the request head";
}

static int check_target(struct aw__hparse *hp) {
    const char *t = hp->base + hp->target_off;
    size_t n = hp->target_len;
    if (n == 0)
        return fail(hp, 400, "empty request target");
    for (size_t i = 0; i < n; i++)
        if (!(g_class[(unsigned char)t[i]] & C_TARGET))
            return fail(hp, 400, "invalid character in request target");
    if (t[0] == '/')
        return 0;
    if (n == 1 && t[0] == '*')
        return hp->method == HTTP_OPTIONS ? 0 : fail(hp, 400, "'*' target outside OPTIONS");
    if ((n > 7 && aw__str_ieq(t, 7, "http://")) || (n > 8 && aw__str_ieq(t, 8, "https://"))) {
        const char *auth = memchr(t, ':', n) + 3;
        size_t alen = (size_t)(t + n - auth);
        const char *slash = memchr(auth, '/', alen);
        const char *q = memchr(auth, '?', alen);
        const char *end = slash && (!q || slash < q) ? slash : (q ? q : t + n);
        if (end == auth || memchr(auth, '@', (size_t)(end - auth)))
            return fail(hp, 400, "invalid authority in absolute-form target");
        return 0;
    }
    return fail(hp, 400, "request target is not origin-form or absolute-form");
}

/* reg-name / IPv4 / [IPv6] with an optional :port (RFC 9110 7.2, RFC 3986 3.2.2). */
static bool valid_host(const char *h, size_t n) {
    size_t i = 0;
    if (n == 0)
        return true; /* allowed empty when the target has no authority */
    if (h[0] == '[') {
        const char *close = memchr(h, ']', n);
        if (!close)
            return false;
        for (const char *c = h + 1; c < close; c++)
            if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f') || (*c >= 'A' && *c <= 'F') ||
                  *c == ':' || *c == '.'))
                return false;
        i = (size_t)(close - h) + 1;
    } else {
        for (; i < n && h[i] != ':'; i++)
            if (!(g_class[(unsigned char)h[i]] & C_HOST))
                return false;
    }
    if (i == n)
        return true;
    if (h[i] != ':')
        return false;
    for (i++; i < n; i++)
        if (h[i] < '0' || h[i] > '9')
            return false;
    return true;
}

/*
 * Transfer-Encoding must be exactly one `chunked` (empty list elements are
 * ignored, RFC 9110 5.6.1). Any other coding is one we do not implement:
 * 501; `chunked` twice or not last is a framing error: 400.
 */
static int check_te(struct aw__hparse *hp, const char *v, size_t n) {
    int chunked = 0, other = 0;
    bool last_chunked = false;
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && v[i] != ',')
            i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e == s)
            continue;
        if (aw__str_ieq(v + s, e - s, "chunked")) {
            chunked++;
            last_chunked = true;
        } else {
            other++;
            last_chunked = false;
        }
    }
    if (chunked > 1 || (chunked && !last_chunked))
        return fail(hp, 400, "chunked must be the last and only transfer coding");
    if (other)
        return fail(hp, 501, "transfer coding not implemented");
    if (!chunked)
        return fail(hp, 400, "empty Transfer-Encoding");
    return 0;
}

static int on_headers_complete(llhttp_t *p) {
    struct aw__hparse *hp = HP(p);
    hp->headers_done = true;
    hp->method = p->method;
    if (p->http_major == 1 && (p->http_minor == 0 || p->http_minor == 1))
        hp->version = (uint8_t)(10 + p->http_minor);
    else if (p->http_major == 0)
        return fail(hp, 400, "HTTP/0.9 is not supported");
    else
        return fail(hp, 505, "HTTP version not supported");
    if (p->method == HTTP_CONNECT)
        return fail(hp, 501, "CONNECT is not supported");
    if (check_target(hp))
        return HPE_USER;
    bool te = false, expect = false;
    for (uint32_t i = 0; i < hp->nfields; i++) {
        const struct aw__hfield *f = &hp->fields[i];
        const char *name = hp->base + f->name_off, *value = hp->base + f->value_off;
        switch (f->name_len) {
        case 4:
            if (aw__str_ieq(name, 4, "host")) {
                if (++hp->host_count > 1)
                    return fail(hp, 400, "more than one Host header field");
                if (!valid_host(value, f->value_len))
                    return fail(hp, 400, "invalid Host header field");
            }
            break;
        case 6:
            if (aw__str_ieq(name, 6, "expect")) {
                if (!aw__str_ieq(value, f->value_len, "100-continue"))
                    return fail(hp, 417, "only 100-continue can be expected");
                expect = true;
            }
            break;
        case 17:
            if (aw__str_ieq(name, 17, "transfer-encoding")) {
                if (te)
                    return fail(hp, 400, "more than one Transfer-Encoding header field");
                te = true;
                if (check_te(hp, value, f->value_len))
                    return HPE_USER;
            }
            break;
        }
    }
    if (hp->version == 11 && hp->host_count == 0)
        return fail(hp, 400, "HTTP/1.1 request without Host");
    if (te && hp->version == 10)
        return fail(hp, 400, "Transfer-Encoding in an HTTP/1.0 request");
    hp->chunked = (p->flags & F_CHUNKED) != 0;
    hp->content_length = hp->chunked ? 0 : p->content_length;
    if (!hp->chunked && hp->content_length > hp->cfg->max_body_bytes)
        return fail(hp, 413, "request body too large");
    /* Expect is an HTTP/1.1 feature (RFC 9110 10.1.1); 1.0 clients get no 100. */
    hp->expect_continue = expect && hp->version == 11 && (hp->chunked || hp->content_length);
    hp->keep_alive = llhttp_should_keep_alive(p) != 0;
    /* Upgrade (h2c, websocket) is not served: answer as plain HTTP/1.1. */
    p->upgrade = 0;
    if (hp->chunked || hp->content_length)
        return HPE_PAUSED; /* the handler runs before the body is read */
    return 0;
}

static int on_message_complete(llhttp_t *p) {
    struct aw__hparse *hp = HP(p);
    hp->message_done = true;
    return HPE_PAUSED;
}

static const llhttp_settings_t g_settings = {
    .on_method = on_method,
    .on_url = on_url,
    .on_url_complete = on_url_complete,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_message_complete = on_message_complete,
};

/* ---- driving llhttp -------------------------------------------------------------------------- */

void aw__hparse_begin(struct aw__hparse *hp, const aw_http_config_t *cfg, struct aw__hfield *fields,
                      uint32_t cap, const char *base) {
    memset(hp, 0, sizeof(*hp));
    hp->cfg = cfg;
    hp->fields = fields;
    hp->fields_cap = cap;
    hp->base = base;
    llhttp_t *p = (llhttp_t *)(void *)hp->ll;
    llhttp_init(p, HTTP_REQUEST, &g_settings);
    p->data = hp;
}

/* Maps an llhttp error to the status we answer with. */
static int status_for(struct aw__hparse *hp, llhttp_errno_t err, const char *data) {
    if (hp->status)
        return -hp->status;
    switch (err) {
    case HPE_INVALID_METHOD: {
        /* A well-formed token we do not know is 501; garbage is 400. */
        const char *s = hp->base;
        size_t n = 0;
        while (s + n < data && is_tchar((unsigned char)s[n]))
            n++;
        bool token = n > 0 && (s + n == data || s[n] == ' ');
        hp->reason = token ? "method not implemented" : "malformed request line";
        return token ? -501 : -400;
    }
    case HPE_INVALID_VERSION: {
        /* llhttp stops at the byte after a version it refuses: a well-formed
         * HTTP/d.d we do not speak (then a CR, or the end of what has arrived
         * so far: `data` is that end, never to be read) is 505, anything
         * else 400. */
        const char *v = hp->base + hp->target_off + hp->target_len + 1;
        const char *at = llhttp_get_error_pos((llhttp_t *)(void *)hp->ll);
        bool wellformed = hp->target_done && at && at - v == 8 && memcmp(v, "HTTP/", 5) == 0 &&
                          v[5] >= '0' && v[5] <= '9' && v[6] == '.' && v[7] >= '0' &&
                          v[7] <= '9' && (at == data || *at == '\r');
        hp->reason = wellformed ? "HTTP version not supported" : "malformed request line";
        return wellformed ? -505 : -400;
    }
    case HPE_INVALID_TRANSFER_ENCODING:
        hp->reason = "invalid Transfer-Encoding";
        return -400;
    case HPE_UNEXPECTED_CONTENT_LENGTH:
        hp->reason = "Content-Length with Transfer-Encoding";
        return -400;
    case HPE_INVALID_CONTENT_LENGTH:
        hp->reason = "invalid Content-Length";
        return -400;
    case HPE_INVALID_CHUNK_SIZE:
        hp->reason = "invalid chunk size";
        return -400;
    default:
        hp->reason = llhttp_errno_name(err);
        return -400;
    }
}

int aw__hparse_head(struct aw__hparse *hp, const char *data, size_t len, size_t *used) {
    llhttp_t *p = (llhttp_t *)(void *)hp->ll;
    llhttp_errno_t err = llhttp_execute(p, data, len);
    if (err == HPE_OK) {
        *used = len;
        /* Still in the head: enforce the size limit on what is buffered. */
        if ((size_t)(data + len - hp->base) > hp->cfg->max_head_bytes) {
            hp->status = hp->target_done ? 431 : 414;
            hp->reason = hp->status == 414 ? "request target too long"
                                           : "request header section too large";
            return -hp->status;
        }
        return AW__HP_MORE;
    }
    if (err != HPE_PAUSED)
        return status_for(hp, err, data + len);
    const char *stop = llhttp_get_error_pos(p);
    *used = (size_t)(stop - data);
    const char *bad = bad_line_breaks(hp->base, stop);
    if (bad) {
        hp->status = 400;
        hp->reason = bad;
        return -400;
    }
    if (hp->message_done)
        return AW__HP_DONE;
    hp->bstate = hp->chunked ? B_SIZE_LINE : B_LENGTH;
    hp->remaining = hp->content_length;
    return AW__HP_HEAD;
}

static int body_fail(struct aw__hparse *hp, int status, const char *reason) {
    hp->status = status;
    hp->reason = reason;
    return -status;
}

static bool is_qdtext(unsigned char c) {
    return c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) ||
           (c >= 0x5d && c <= 0x7e) || c >= 0x80;
}

/*
 * chunk-size [ chunk-ext ] on one line without its CRLF (RFC 9112 7.1.1,
 * with the BWS that RFC 9110 5.6.3 says must be accepted around ';' and
 * '='). Returns 0 with *size set, or a negative status.
 */
static int chunk_line(struct aw__hparse *hp, const char *p, const char *end, uint64_t *size) {
    uint64_t v = 0;
    const char *digits = p;
    for (; p < end; p++) {
        int d = *p >= '0' && *p <= '9'   ? *p - '0'
                : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10
                : *p >= 'A' && *p <= 'F' ? *p - 'A' + 10
                                         : -1;
        if (d < 0)
            break;
        if (v >> 59)
            return body_fail(hp, 400, "chunk size too large");
        v = v * 16 + (uint64_t)d;
    }
    if (p == digits)
        return body_fail(hp, 400, "invalid chunk size");
    hp->chunk_ext_bytes += (size_t)(end - p);
    if (hp->chunk_ext_bytes > hp->cfg->max_chunk_ext_bytes)
        return body_fail(hp, 400, "chunk extensions too long");
    while (p < end) {
        /* BWS is allowed only before a ';': "5 " alone is not a chunk size. */
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (p == end || *p++ != ';')
            return body_fail(hp, 400, "invalid chunk size");
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        const char *name = p;
        while (p < end && is_tchar((unsigned char)*p))
            p++;
        if (p == name)
            return body_fail(hp, 400, "invalid chunk extension");
        const char *q = p;
        while (q < end && (*q == ' ' || *q == '\t'))
            q++;
        if (q == end || *q != '=')
            continue;
        p = q + 1;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (p < end && *p == '"') {
            for (p++;; p++) {
                if (p == end)
                    return body_fail(hp, 400, "unterminated quoted chunk extension");
                if (*p == '"')
                    break;
                if (*p == '\\') {
                    if (++p == end || !(*p == '\t' || (unsigned char)*p >= 0x20) || *p == 0x7f)
                        return body_fail(hp, 400, "invalid chunk extension");
                } else if (!is_qdtext((unsigned char)*p)) {
                    return body_fail(hp, 400, "invalid chunk extension");
                }
            }
            p++;
        } else {
            const char *val = p;
            while (p < end && is_tchar((unsigned char)*p))
                p++;
            if (p == val)
                return body_fail(hp, 400, "invalid chunk extension");
        }
    }
    *size = v;
    return 0;
}

/* A trailer field line without its CRLF: the same rules as a header field. */
static int trailer_line(struct aw__hparse *hp, const char *p, const char *end) {
    const char *colon = memchr(p, ':', (size_t)(end - p));
    if (!colon)
        return body_fail(hp, 400, "trailer field without a colon");
    if (check_field(hp, p, (size_t)(colon - p), colon + 1, (size_t)(end - colon - 1), true))
        return -hp->status;
    return 0;
}

/* Finds the LF ending a line that starts at p; checks CRLF and bare CRs. NULL: not complete. */
static const char *line_end(struct aw__hparse *hp, const char *p, const char *end, int *err) {
    const char *lf = memchr(p, '\n', (size_t)(end - p));
    *err = 0;
    if (!lf)
        return NULL;
    if (lf == p || lf[-1] != '\r') {
        *err = body_fail(hp, 400, "bare LF in chunked framing");
        return NULL;
    }
    if (memchr(p, '\r', (size_t)(lf - 1 - p))) {
        *err = body_fail(hp, 400, "bare CR in chunked framing");
        return NULL;
    }
    return lf;
}

int aw__hparse_body(struct aw__hparse *hp, const char *data, size_t len, size_t *used, char *out,
                    size_t out_cap, size_t *produced) {
    const char *p = data, *end = data + len;
    size_t made = 0;
    int rc = AW__HP_MORE;
    /* Longest chunk-size line: 16 digits, the extensions allowed, BWS and CRLF. */
    size_t line_max = 64 + hp->cfg->max_chunk_ext_bytes;
    while (rc == AW__HP_MORE) {
        if (hp->bstate == B_LENGTH || hp->bstate == B_DATA) {
            size_t n = (size_t)(end - p);
            if (n > hp->remaining)
                n = (size_t)hp->remaining;
            if (n > out_cap - made)
                n = out_cap - made;
            if (n == 0 && hp->remaining)
                break; /* needs input, or room in `out` */
            hp->body_bytes += n;
            if (hp->body_bytes > hp->cfg->max_body_bytes) {
                rc = body_fail(hp, 413, "request body too large");
                break;
            }
            memcpy(out + made, p, n);
            made += n;
            p += n;
            hp->remaining -= n;
            if (hp->remaining == 0) {
                if (hp->bstate == B_LENGTH)
                    rc = AW__HP_DONE;
                else
                    hp->bstate = B_DATA_END;
            }
        } else if (hp->bstate == B_DATA_END) {
            if (end - p < 2)
                break;
            if (p[0] != '\r' || p[1] != '\n') {
                rc = body_fail(hp, 400, "chunk data longer than its size, or no CRLF after it");
                break;
            }
            p += 2;
            hp->bstate = B_SIZE_LINE;
        } else { /* B_SIZE_LINE or B_TRAILERS: whole lines only */
            int err;
            const char *lf = line_end(hp, p, end, &err);
            if (err) {
                rc = err;
                break;
            }
            if (!lf) {
                size_t pending = (size_t)(end - p);
                if (hp->bstate == B_SIZE_LINE && pending > line_max)
                    rc = body_fail(hp, 400, "chunk extensions too long");
                else if (hp->bstate == B_TRAILERS &&
                         hp->trailer_bytes + pending > hp->cfg->max_trailer_bytes)
                    rc = body_fail(hp, 431, "trailer section too large");
                break;
            }
            const char *eol = lf - 1; /* the CR */
            if (hp->bstate == B_SIZE_LINE) {
                uint64_t size;
                if ((rc = chunk_line(hp, p, eol, &size)) < 0)
                    break;
                rc = AW__HP_MORE;
                hp->remaining = size;
                hp->bstate = size ? B_DATA : B_TRAILERS;
            } else if (eol == p) {
                rc = AW__HP_DONE; /* the empty line ending the trailer section */
            } else {
                hp->trailer_bytes += (size_t)(lf + 1 - p);
                if (hp->trailer_bytes > hp->cfg->max_trailer_bytes) {
                    rc = body_fail(hp, 431, "trailer section too large");
                    break;
                }
                if (*p == ' ' || *p == '\t') {
                    rc = body_fail(hp, 400, "obsolete line folding in trailers");
                    break;
                }
                if ((rc = trailer_line(hp, p, eol)) < 0)
                    break;
                rc = AW__HP_MORE;
            }
            p = lf + 1;
        }
    }
    *used = (size_t)(p - data);
    *produced = made;
    return rc;
}

void aw__hparse_release(struct aw__hparse *hp) {
    if (hp->fields_heap)
        free(hp->fields);
    hp->fields_heap = false;
    hp->fields = NULL;
    hp->nfields = 0;
}

bool aw__hparse_keep_alive(const struct aw__hparse *hp) {
    return hp->keep_alive && !hp->status;
}

/* ---- responses (the client) ------------------------------------------------------------------ */

/*
 * The client's response parser shares the field callbacks, the header table
 * and the body decoder above; what differs is the start line (a status
 * instead of a method and target), the framing rules (RFC 9112 6.3: HEAD,
 * 1xx, 204 and 304 have no body, and no framing at all means reading until
 * the server closes) and the outcome: AW_E codes instead of statuses to
 * answer. A response head is checked as strictly as a request head (bare
 * CR or LF, obs-fold, invalid names and values, conflicting framing).
 */

#define RP(p) ((struct aw__rparse *)(p)->data)

static int on_status(llhttp_t *p, const char *at, size_t len) {
    struct aw__rparse *rp = RP(p);
    if (!rp->reason_len)
        rp->reason_off = (uint32_t)(at - rp->hp.base);
    rp->reason_len += (uint32_t)len;
    if (head_limit_used(&rp->hp, at, len) > rp->hp.cfg->max_head_bytes)
        return fail(&rp->hp, 431, "response head too large");
    return 0;
}

/* "HTTP/1.x NNN" then SP or the end of the line: exactly three digits. */
static bool valid_status_line(const struct aw__rparse *rp) {
    const char *s = rp->hp.base;
    for (int i = 9; i < 12; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return s[8] == ' ' && (s[12] == ' ' || s[12] == '\r');
}

static int on_response_headers_complete(llhttp_t *p) {
    struct aw__rparse *rp = RP(p);
    struct aw__hparse *hp = &rp->hp;
    hp->headers_done = true;
    if (p->http_major != 1 || p->http_minor > 1)
        return fail(hp, 400, "response version is not HTTP/1.0 or HTTP/1.1");
    hp->version = (uint8_t)(10 + p->http_minor);
    rp->code = p->status_code;
    if (!valid_status_line(rp) || rp->code < 100 || rp->code > 599)
        return fail(hp, 400, "invalid status code");
    if (rp->code == 101)
        return fail(hp, 400, "unexpected 101 Switching Protocols");
    const char *reason = hp->base + rp->reason_off;
    for (uint32_t i = 0; i < rp->reason_len; i++)
        if (!(g_class[(unsigned char)reason[i]] & C_VALUE))
            return fail(hp, 400, "control character in the reason phrase");
    bool te = false;
    for (uint32_t i = 0; i < hp->nfields; i++) {
        const struct aw__hfield *f = &hp->fields[i];
        if (f->name_len == 17 && aw__str_ieq(hp->base + f->name_off, 17, "transfer-encoding")) {
            if (te)
                return fail(hp, 400, "more than one Transfer-Encoding header field");
            te = true;
            /* Only a lone `chunked`: a body in another coding could not be
             * handed over as the decoded body the API promises. */
            if (check_te(hp, hp->base + f->value_off, f->value_len))
                return HPE_USER;
        }
    }
    if (te && hp->version == 10)
        return fail(hp, 400, "Transfer-Encoding in an HTTP/1.0 response");
    hp->chunked = (p->flags & F_CHUNKED) != 0;
    if (hp->version == 11)
        hp->keep_alive = !(p->flags & F_CONNECTION_CLOSE);
    else
        hp->keep_alive = (p->flags & F_CONNECTION_KEEP_ALIVE) && !(p->flags & F_CONNECTION_CLOSE);
    if (rp->head_request || rp->code < 200 || rp->code == 204 || rp->code == 304) {
        rp->body = AW__RBODY_NONE;
    } else if (hp->chunked) {
        rp->body = AW__RBODY_CHUNKED;
    } else if (p->flags & F_CONTENT_LENGTH) {
        hp->content_length = p->content_length;
        if (hp->content_length > hp->cfg->max_body_bytes)
            return fail(hp, 413, "response body over the limit");
        rp->body = hp->content_length ? AW__RBODY_LENGTH : AW__RBODY_NONE;
    } else {
        rp->body = AW__RBODY_CLOSE;
        hp->keep_alive = false;
    }
    /* Always stop after the head: the body is ours to decode. */
    return HPE_PAUSED;
}

static const llhttp_settings_t g_response_settings = {
    .on_status = on_status,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_response_headers_complete,
};

void aw__rparse_begin(struct aw__rparse *rp, const aw_http_config_t *cfg, struct aw__hfield *fields,
                      uint32_t cap, const char *base, bool head_request) {
    memset(rp, 0, sizeof(*rp));
    struct aw__hparse *hp = &rp->hp;
    hp->cfg = cfg;
    hp->fields = fields;
    hp->fields_cap = cap;
    hp->base = base;
    rp->head_request = head_request;
    llhttp_t *p = (llhttp_t *)(void *)hp->ll;
    llhttp_init(p, HTTP_RESPONSE, &g_response_settings);
    p->data = rp;
}

/* A status recorded by the shared callbacks, as the client's error code. */
static int response_error(struct aw__hparse *hp) {
    switch (hp->status) {
    case 413:
    case 431:
        return AW_EMSGSIZE;
    case 503:
        return AW_ENOMEM; /* the header table could not grow */
    default:
        return AW_EPROTO;
    }
}

int aw__rparse_head(struct aw__rparse *rp, const char *data, size_t len, size_t *used) {
    struct aw__hparse *hp = &rp->hp;
    llhttp_t *p = (llhttp_t *)(void *)hp->ll;
    llhttp_errno_t err = llhttp_execute(p, data, len);
    if (err == HPE_OK) {
        *used = len;
        if ((size_t)(data + len - hp->base) > hp->cfg->max_head_bytes) {
            hp->status = 431;
            hp->reason = "response head too large";
            return AW_EMSGSIZE;
        }
        return AW__HP_MORE;
    }
    if (err != HPE_PAUSED) {
        /* A callback's own verdict comes first: llhttp reports one from
         * on_headers_complete as a generic callback error. */
        if (!hp->status) {
            hp->status = 400;
            hp->reason = llhttp_get_error_reason(p);
        }
        return response_error(hp);
    }
    const char *stop = llhttp_get_error_pos(p);
    *used = (size_t)(stop - data);
    if (bad_line_breaks(hp->base, stop)) {
        hp->status = 400;
        hp->reason = "bare CR or LF, or a folded line, in the response head";
        return AW_EPROTO;
    }
    if (rp->body == AW__RBODY_NONE)
        return AW__HP_DONE;
    hp->bstate = rp->body == AW__RBODY_CHUNKED ? B_SIZE_LINE : B_LENGTH;
    hp->remaining = hp->content_length;
    return AW__HP_HEAD;
}

int aw__rparse_body(struct aw__rparse *rp, const char *data, size_t len, size_t *used, char *out,
                    size_t out_cap, size_t *produced) {
    int rc = aw__hparse_body(&rp->hp, data, len, used, out, out_cap, produced);
    return rc < 0 ? response_error(&rp->hp) : rc;
}
