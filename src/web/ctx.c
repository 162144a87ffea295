/* SPDX-License-Identifier: MIT */
/*
 * The request context: its arena, typed getters, replies (buffered until
 * the handler is done), streams and Server-Sent Events, teardowns,
 * background and request-scoped tasks.
 *
 * DESIGN
 * A reply is held in the context (status, headers in the arena, the body
 * malloc'd) so that middleware can still change it; aw__ctx_send() turns it
 * into one aw_http_respond(). A blocking handler replies from a pool thread:
 * that only writes to the context, which nobody else touches meanwhile (its
 * connection task is suspended awaiting the job). Streams write to the
 * socket, so they need an async handler.
 */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "awaitress/error.h"
#include "../common/buf.h"
#include "web_internal.h"

/* ---- the arena ------------------------------------------------------------------------------ */

void *aw_ctx_alloc(aw_ctx_t *c, size_t n) {
    if (n > SIZE_MAX / 2)
        return NULL;
    n = (n + 15) & ~(size_t)15;
    size_t pad = (16 - ((uintptr_t)c->arena_ptr & 15)) & 15;
    if (c->arena_ptr && pad + n <= c->arena_left) {
        void *p = c->arena_ptr + pad;
        c->arena_ptr += pad + n;
        c->arena_left -= pad + n;
        return p;
    }
    size_t cap = n > 4096 ? n + 16 : 8192;
    struct aw__arena_blk *b = malloc(sizeof(*b) + cap);
    if (!b)
        return NULL;
    b->next = c->blks;
    c->blks = b;
    char *base = b->data;
    pad = (16 - ((uintptr_t)base & 15)) & 15;
    c->arena_ptr = base + pad + n;
    c->arena_left = cap - pad - n;
    return base + pad;
}

char *aw_ctx_strdup(aw_ctx_t *c, const char *s) {
    size_t n = strlen(s);
    char *p = aw_ctx_alloc(c, n + 1);
    if (p)
        memcpy(p, s, n + 1);
    return p;
}

int aw__ctx_grow(aw_ctx_t *c, void **arr, size_t *cap, size_t elem, size_t need) {
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 8;
    while (nc < need)
        nc *= 2;
    void *nv = aw_ctx_alloc(c, nc * elem);
    if (!nv)
        return AW_ENOMEM;
    if (*cap)
        memcpy(nv, *arr, *cap * elem);
    *arr = nv;
    *cap = nc;
    return 0;
}

aw_http_req_t *aw_ctx_req(aw_ctx_t *c) {
    return c->req;
}

aw_app_t *aw_ctx_app(aw_ctx_t *c) {
    return c->app;
}

const char *aw_ctx_route(aw_ctx_t *c) {
    return c->route ? c->route->path : NULL;
}

int aw_ctx_defer(aw_ctx_t *c, void (*fn)(void *arg), void *arg) {
    if (aw__ctx_grow(c, (void **)&c->defers, &c->defers_cap, sizeof(*c->defers), c->ndefers + 1)) {
        fn(arg);
        return AW_ENOMEM;
    }
    c->defers[c->ndefers++] = (struct aw__defer){fn, arg};
    return 0;
}

int aw_background(aw_ctx_t *c, aw_task_fn fn, void *arg) {
    if (aw__ctx_grow(c, (void **)&c->bgs, &c->bgs_cap, sizeof(*c->bgs), c->nbgs + 1))
        return AW_ENOMEM;
    c->bgs[c->nbgs++] = (struct aw__bg){fn, arg};
    return 0;
}

int aw_ctx_spawn(aw_ctx_t *c, aw_task_fn fn, void *arg) {
    assert(!c->blocking && "aw_ctx_spawn from a blocking handler");
    if (!c->group_used) {
        aw_group_init(&c->group);
        c->group_used = true;
    }
    return aw_group_spawn(&c->group, fn, arg);
}

int aw_ctx_wait(aw_ctx_t *c) {
    if (!c->group_used)
        return 0;
    int rc = aw_group_wait(&c->group);
    /* The group is done; a later aw_ctx_spawn opens a new one. */
    c->group_used = false;
    return rc;
}

/* ---- dependencies and params --------------------------------------------------------------- */

void *aw_dep(aw_ctx_t *c, const char *name) {
    const struct aw__route *r = c->route;
    for (size_t i = 0; r && i < r->ndeps; i++)
        if (strcmp(r->deps[i]->name, name) == 0)
            return c->dep_vals ? c->dep_vals[i] : NULL;
    fprintf(stderr, "awaitress: aw_dep(\"%s\"): route %s %s has no such dependency\n", name,
            r ? r->method : "?", r ? r->path : "?");
    abort();
}

static const struct aw__pdecl *find_param(aw_ctx_t *c, aw_param_in_t in, const char *name,
                                          size_t *idx, const char *want) {
    const struct aw__route *r = c->route;
    for (size_t i = 0; r && i < r->nparams; i++) {
        const aw_param_t *p = &r->params[i].p;
        if (p->in == in &&
            (in == AW_IN_HEADER ? strcasecmp(p->name, name) == 0 : strcmp(p->name, name) == 0)) {
            *idx = i;
            return &r->params[i];
        }
    }
    fprintf(stderr, "awaitress: reading %s param '%s' as %s: route %s %s does not declare it\n",
            aw__in_name(in), name, want, r ? r->method : "?", r ? r->path : "?");
    abort();
}

static void wrong_type(aw_ctx_t *c, const struct aw__pdecl *d, const char *want) {
    fprintf(stderr, "awaitress: %s param '%s' of route %s %s is not %s\n", aw__in_name(d->p.in),
            d->p.name, c->route->method, c->route->path, want);
    abort();
}

bool aw_param_has(aw_ctx_t *c, aw_param_in_t in, const char *name) {
    size_t i;
    find_param(c, in, name, &i, "anything");
    return c->vals[i].present;
}

int64_t aw_param_int(aw_ctx_t *c, aw_param_in_t in, const char *name) {
    size_t i;
    const struct aw__pdecl *d = find_param(c, in, name, &i, "an int");
    if (d->p.type != AW_T_INT)
        wrong_type(c, d, "an int");
    return c->vals[i].i;
}

double aw_param_float(aw_ctx_t *c, aw_param_in_t in, const char *name) {
    size_t i;
    const struct aw__pdecl *d = find_param(c, in, name, &i, "a float");
    if (d->p.type == AW_T_INT)
        return (double)c->vals[i].i;
    if (d->p.type != AW_T_FLOAT)
        wrong_type(c, d, "a float");
    return c->vals[i].f;
}

bool aw_param_bool(aw_ctx_t *c, aw_param_in_t in, const char *name) {
    size_t i;
    const struct aw__pdecl *d = find_param(c, in, name, &i, "a bool");
    if (d->p.type != AW_T_BOOL)
        wrong_type(c, d, "a bool");
    return c->vals[i].b;
}

const char *aw_param_str(aw_ctx_t *c, aw_param_in_t in, const char *name) {
    size_t i;
    const struct aw__pdecl *d = find_param(c, in, name, &i, "a string");
    if (d->p.type != AW_T_STR && d->p.type != AW_T_ENUM && d->p.type != AW_T_PATH)
        wrong_type(c, d, "a string");
    return c->vals[i].present ? c->vals[i].s : NULL;
}

json_t *aw_body_json(aw_ctx_t *c) {
    return c->body;
}

static json_t *body_field(aw_ctx_t *c, const char *name, const char *want) {
    const aw_body_t *b = c->route ? c->route->opts.body : NULL;
    for (const aw_param_t *f = b ? b->fields : NULL; f && f->name; f++)
        if (strcmp(f->name, name) == 0)
            return json_object_get(c->body, name);
    fprintf(stderr, "awaitress: reading body field '%s' as %s: route %s %s does not declare it\n",
            name, want, c->route ? c->route->method : "?", c->route ? c->route->path : "?");
    abort();
}

const char *aw_body_str(aw_ctx_t *c, const char *name) {
    return json_string_value(body_field(c, name, "a string"));
}

int64_t aw_body_int(aw_ctx_t *c, const char *name) {
    return json_integer_value(body_field(c, name, "an int"));
}

double aw_body_float(aw_ctx_t *c, const char *name) {
    return json_number_value(body_field(c, name, "a float"));
}

bool aw_body_bool(aw_ctx_t *c, const char *name) {
    return json_is_true(body_field(c, name, "a bool"));
}

/* ---- replies ------------------------------------------------------------------------------- */

bool aw_replied(aw_ctx_t *c) {
    return c->status != 0;
}

int aw_res_status(aw_ctx_t *c) {
    return c->status > 0 ? c->status : 0;
}

const void *aw_res_body(aw_ctx_t *c, size_t *len) {
    if (c->streaming || c->status <= 0) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = c->res_len;
    return c->res_body ? c->res_body : "";
}

int aw_res_set_body(aw_ctx_t *c, void *body, size_t len) {
    if (c->streaming || c->head_sent || c->status <= 0) {
        free(body);
        return AW_EALREADY;
    }
    if (c->res_owned)
        free(c->res_body);
    c->res_body = body;
    c->res_len = len;
    c->res_owned = true;
    return 0;
}

const char *aw_res_header(aw_ctx_t *c, const char *name) {
    if (strcasecmp(name, "Content-Type") == 0 && c->ctype)
        return c->ctype;
    for (size_t i = 0; i < c->nhdrs; i++)
        if (strcasecmp(c->hdrs[i].name, name) == 0)
            return c->hdrs[i].value;
    return NULL;
}

static bool bad_header_bytes(const char *s) {
    for (; *s; s++)
        if (*s == '\r' || *s == '\n')
            return true;
    return false;
}

int aw_reply_header(aw_ctx_t *c, const char *name, const char *value) {
    if (c->head_sent)
        return AW_EALREADY;
    if (!*name || bad_header_bytes(name) || bad_header_bytes(value) || strchr(name, ':'))
        return AW_EINVAL;
    static const char *const owned[] = {"content-length", "transfer-encoding", "date", "server",
                                        "connection"};
    for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++)
        if (strcasecmp(name, owned[i]) == 0)
            return AW_EINVAL;
    if (strcasecmp(name, "Content-Type") == 0) {
        c->ctype = aw_ctx_strdup(c, value);
        return c->ctype ? 0 : AW_ENOMEM;
    }
    if (aw__ctx_grow(c, (void **)&c->hdrs, &c->hdrs_cap, sizeof(*c->hdrs), c->nhdrs + 1))
        return AW_ENOMEM;
    const char *n = aw_ctx_strdup(c, name), *v = aw_ctx_strdup(c, value);
    if (!n || !v)
        return AW_ENOMEM;
    c->hdrs[c->nhdrs++] = (struct aw__hdr){n, v};
    return 0;
}

/*
 * Sets the reply. `body` is malloc'd and taken when `owned` (freed here on
 * failure), else memory that outlives the request's reply (its arena, a
 * static string).
 */
static int set_reply(aw_ctx_t *c, int status, const char *ctype, char *body, size_t len,
                     bool owned) {
    if (c->status || status < 100 || status > 999) {
        if (owned)
            free(body);
        if (c->status)
            return AW_EALREADY;
        aw_log(AW_LOG_ERROR, "reply with status %d: answering 500", status);
        status = 500;
        body = NULL;
        len = 0;
        owned = false;
    }
    c->status = status;
    if (ctype && !c->ctype)
        c->ctype = ctype;
    c->res_body = body;
    c->res_len = len;
    c->res_owned = owned;
    return 0;
}

/* The 500 for a reply that could not be built: a static text, so nothing can fail it. */
static int set_reply_500(aw_ctx_t *c) {
    static char text[] = "{\"detail\":\"Internal Server Error\"}";
    return set_reply(c, 500, "application/json", text, sizeof(text) - 1, false);
}

int aw_reply_json(aw_ctx_t *c, int status, json_t *body) {
    if (!body) {
        aw_log(AW_LOG_ERROR, "aw_reply_json with no value (out of memory, or a bad json_pack format)");
        return set_reply_500(c);
    }
    if (c->status) {
        json_decref(body);
        return AW_EALREADY;
    }
    /* Compact like Starlette's JSONResponse; 15 digits print 0.1 as 0.1. */
    char *s = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
    json_decref(body);
    if (!s)
        return set_reply_500(c);
    return set_reply(c, status, "application/json", s, strlen(s), true);
}

int aw_reply_jsonf(aw_ctx_t *c, int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    /* The text straight from the format when it can (jsonw.c), into the request's
     * arena while it fits (no malloc for the usual small reply); jansson otherwise. */
    aw__buf_t b = {.p = aw_ctx_alloc(c, 512), .cap = 512, .borrowed = true};
    if (!b.p)
        b = (aw__buf_t){.p = NULL};
    if (aw__jsonf(&b, fmt, ap)) {
        va_end(ap);
        return set_reply(c, status, "application/json", b.p, b.len, !b.borrowed);
    }
    if (!b.borrowed)
        free(b.p);
    json_error_t err;
    json_t *v = json_vpack_ex(&err, 0, fmt, ap);
    va_end(ap);
    if (!v)
        aw_log(AW_LOG_ERROR, "aw_reply_jsonf(\"%s\"): %s", fmt, err.text);
    return aw_reply_json(c, status, v);
}

int aw_reply_bytes(aw_ctx_t *c, int status, const char *content_type, const void *data,
                   size_t len) {
    /* A copy in the request's arena: it lives until the reply has been sent. */
    char *copy = aw_ctx_alloc(c, len ? len : 1);
    if (!copy)
        return AW_ENOMEM;
    memcpy(copy, data, len);
    return set_reply(c, status, content_type ? content_type : "application/octet-stream", copy, len,
                     false);
}

int aw_reply_text(aw_ctx_t *c, int status, const char *text) {
    return aw_reply_bytes(c, status, "text/plain; charset=utf-8", text, strlen(text));
}

int aw_reply_empty(aw_ctx_t *c, int status) {
    return set_reply(c, status, NULL, NULL, 0, false);
}

int aw_http_error(aw_ctx_t *c, int status, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return aw_reply_json(c, status, json_pack("{ss}", "detail", msg));
}

static bool cookie_octets_ok(const char *s, bool value) {
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch <= 0x20 || ch >= 0x7f || ch == ';' || ch == ',' || ch == '"' || ch == '\\')
            return false;
        if (!value && (ch == '=' || ch == '(' || ch == ')' || ch == '<' || ch == '>' ||
                       ch == '@' || ch == ':' || ch == '/' || ch == '[' || ch == ']' ||
                       ch == '?' || ch == '{' || ch == '}'))
            return false;
    }
    return true;
}

int aw_set_cookie(aw_ctx_t *c, const char *name, const char *value, const char *attrs) {
    if (!*name || !cookie_octets_ok(name, false) || !cookie_octets_ok(value, true) ||
        (attrs && bad_header_bytes(attrs)))
        return AW_EINVAL;
    if (!attrs)
        attrs = "Path=/";
    size_t n = strlen(name) + strlen(value) + strlen(attrs) + 4;
    char *v = aw_ctx_alloc(c, n);
    if (!v)
        return AW_ENOMEM;
    snprintf(v, n, "%s=%s%s%s", name, value, *attrs ? "; " : "", attrs);
    return aw_reply_header(c, "Set-Cookie", v);
}

void aw__ctx_run_after(aw_ctx_t *c) {
    aw_app_t *app = c->app;
    for (size_t i = c->mw_ran; i-- > 0;)
        if (app->mw[i].after)
            app->mw[i].after(c, app->mw[i].data);
    c->mw_ran = 0;
}

static int send_head_headers(aw_ctx_t *c) {
    for (size_t i = 0; i < c->nhdrs; i++) {
        int rc = aw_http_res_header(c->req, c->hdrs[i].name, c->hdrs[i].value);
        if (rc < 0)
            aw_log(AW_LOG_WARN, "response header %s: %s", c->hdrs[i].name, aw_strerror(rc));
    }
    if (c->ctype)
        aw_http_res_header(c->req, "Content-Type", c->ctype);
    return 0;
}

int aw__ctx_send(aw_ctx_t *c) {
    aw__ctx_run_after(c);
    c->head_sent = true;
    send_head_headers(c);
    return aw_http_respond(c->req, c->status, c->res_body, c->res_len);
}

/* ---- streams ------------------------------------------------------------------------------- */

int aw_stream_start(aw_ctx_t *c, int status, const char *content_type) {
    if (c->blocking) {
        aw_log(AW_LOG_ERROR, "streaming from a blocking handler: use an async one");
        return AW_EINVAL;
    }
    if (c->status)
        return AW_EALREADY;
    c->status = status;
    c->streaming = true;
    if (content_type && !c->ctype)
        c->ctype = content_type;
    aw__ctx_run_after(c);
    c->head_sent = true;
    send_head_headers(c);
    return aw_http_res_start(c->req, status);
}

int aw_stream_write(aw_ctx_t *c, const void *data, size_t len) {
    if (!c->streaming || c->ended)
        return AW_EINVAL;
    return aw_http_res_write(c->req, data, len);
}

int aw_stream_end(aw_ctx_t *c) {
    if (!c->streaming || c->ended)
        return AW_EINVAL;
    c->ended = true;
    return aw_http_res_end(c->req);
}

int aw_sse_start(aw_ctx_t *c) {
    aw_reply_header(c, "Cache-Control", "no-cache");
    aw_reply_header(c, "X-Accel-Buffering", "no");
    return aw_stream_start(c, 200, "text/event-stream; charset=utf-8");
}

int aw_sse_send(aw_ctx_t *c, const char *event, const char *id, const char *data) {
    if ((event && bad_header_bytes(event)) || (id && bad_header_bytes(id)))
        return AW_EINVAL;
    aw__buf_t b = {0};
    if (event) {
        aw__buf_puts(&b, "event: ");
        aw__buf_puts(&b, event);
        aw__buf_put(&b, "\n", 1);
    }
    if (id) {
        aw__buf_puts(&b, "id: ");
        aw__buf_puts(&b, id);
        aw__buf_put(&b, "\n", 1);
    }
    /* Each line of the data is a data: field (CRLF, LF or CR end a line). */
    const char *p = data ? data : "";
    for (;;) {
        size_t n = strcspn(p, "\r\n");
        aw__buf_puts(&b, "data: ");
        aw__buf_put(&b, p, n);
        aw__buf_put(&b, "\n", 1);
        p += n;
        if (!*p)
            break;
        p += (p[0] == '\r' && p[1] == '\n') ? 2 : 1;
    }
    aw__buf_put(&b, "\n", 1);
    int rc = b.failed ? AW_ENOMEM : aw_stream_write(c, b.p, b.len);
    free(b.p);
    return rc;
}

int aw_sse_comment(aw_ctx_t *c, const char *text) {
    if (bad_header_bytes(text))
        return AW_EINVAL;
    size_t n = strlen(text) + 5;
    char *line = aw_ctx_alloc(c, n);
    if (!line)
        return AW_ENOMEM;
    snprintf(line, n, ": %s\n\n", text);
    return aw_stream_write(c, line, strlen(line));
}
