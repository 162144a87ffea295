/* SPDX-License-Identifier: MIT */
/* Web-layer internals shared by app.c, router.c, params.c, body.c, reply.c, openapi.c, middleware.c. */
#ifndef AW_WEB_INTERNAL_H
#define AW_WEB_INTERNAL_H

#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "awaitress/loop.h"
#include "awaitress/web.h"
#include "../common/buf.h"

#ifndef AW__HIDDEN
#define AW__HIDDEN __attribute__((visibility("hidden")))
#endif

/* Methods the router indexes; anything else is answered 405 on a known path. */
enum aw__method { AW__M_GET, AW__M_HEAD, AW__M_POST, AW__M_PUT, AW__M_PATCH, AW__M_DELETE,
                  AW__M_OPTIONS, AW__M_COUNT };

/* The method's index, or -1 for one the router does not index. */
AW__HIDDEN int aw__method_index(const char *m);
AW__HIDDEN const char *aw__method_name(int idx);

/* Path params one route may capture. */
#define AW__MAX_CAPS 16

/* A param as a route uses it: the declaration plus what start-up prepared. */
struct aw__pdecl {
    aw_param_t p;          /* copied; pointers borrowed from the app's static arrays */
    int cap;               /* path params: the capture's index in the match; else -1 */
    regex_t re;            /* compiled .pattern */
    bool has_re;
    bool has_def;          /* .def parsed into def_* */
    char *owned_name;      /* a path param the route did not declare: its name, ours */
    int64_t def_i;
    double def_f;
    bool def_b;
};

/* A parsed, validated value. */
struct aw__value {
    bool present;          /* from the request or a default */
    int64_t i;
    double f;
    bool b;
    const char *s;         /* NUL-terminated, decoded; request memory */
};

struct aw__route {
    int midx;                       /* enum aw__method, or -1 */
    char *method;                   /* "GET" (copied) */
    char *path;                     /* the full declared path, prefix included (copied) */
    char *name;                     /* the handler's C name (FastAPI's function name) */
    aw_handler_fn fn;
    aw_route_opts_t opts;           /* copied; pointers borrowed */
    const char **tags;              /* router's then route's, NULL-terminated (allocated) */
    struct aw__pdecl *params;       /* path, query, header, cookie; route's and its deps' */
    size_t nparams;
    const aw_dep_t **deps;          /* every dependency, each once, in the order to run */
    size_t ndeps;
    uint32_t timeout_ms;
    char *op_id;                    /* operationId */
    const aw_dep_t **own_deps;      /* copies of the registration's lists (see deps_copy) */
    int *own_errors;
    struct aw__route *next;         /* the app's routes, in order of declaration */
};

struct aw__node;

struct aw_router {
    aw_app_t *app;                  /* set for the app's own router */
    char *prefix;
    const char **tags;              /* NULL-terminated (allocated) */
    const aw_dep_t *const *deps;
    uint32_t timeout_ms;
    struct aw__route *routes, **tail; /* pending routes of a router not yet included */
    int errors;
};

struct aw__hook {
    aw_lifespan_fn fn;
    void *data;
};

struct aw__override {
    const aw_dep_t *dep, *stand_in;
};

struct aw_app {
    char *title, *version;
    aw_app_opts_t opts;
    char *openapi_url, *docs_url;   /* copied; NULL: off */
    aw_router_t root;
    struct aw__node *tree;
    struct aw__route *routes, **routes_tail;
    size_t nroutes;
    int errors;                     /* registration errors: serving refuses to start */
    aw_middleware_t *mw;
    size_t nmw;
    struct aw__hook *startup, *shutdown;
    size_t nstartup, nshutdown;
    const aw_dep_t **own_deps;      /* copy of opts.deps */
    struct aw__override *overrides;
    size_t noverrides;
    void *state;
    size_t bg_live;                 /* background task runs not finished */
    aw_event_t bg_idle;             /* set while bg_live is 0 */
    char *openapi;                  /* the generated document, built once */
    size_t openapi_len;
};

/* Lifespan hooks: startup in order (first failure stops: its status), shutdown in reverse. */
AW__HIDDEN int aw__app_startup(aw_app_t *app);
AW__HIDDEN void aw__app_shutdown(aw_app_t *app);

/* ---- the router (router.c) ------------------------------------------------------------------ */

struct aw__match {
    struct aw__node *node;          /* the path matched, NULL if none */
    const struct aw__route *route;  /* the method matched on it, or NULL (405) */
    aw_str_t caps[AW__MAX_CAPS];
    int ncaps;
};

/*
 * Inserts a route into the tree; cap_types[i] is the tree type of the
 * route's i-th path param (AW_T_INT, AW_T_FLOAT, AW_T_STR or AW_T_PATH).
 * Returns 0, AW_EEXIST (same method and path) or AW_ENOMEM.
 */
AW__HIDDEN int aw__tree_insert(struct aw__node **root, struct aw__route *r,
                               const aw_type_t *cap_types);
/* Matches `path` (raw, not decoded) and the method index. Returns true if a path matched. */
AW__HIDDEN bool aw__tree_match(struct aw__node *root, aw_str_t path, int midx, const char *method,
                               struct aw__match *m);
/* Writes the node's methods, comma-separated (HEAD with GET, OPTIONS always), into out. */
AW__HIDDEN size_t aw__node_allow(const struct aw__node *n, char *out, size_t cap);
AW__HIDDEN void aw__tree_free(struct aw__node *root);
/*
 * Checks a declared path and calls fn for each {name[:type]} segment, in
 * order (type 0 when none is given). Returns the param count or AW_EINVAL.
 */
AW__HIDDEN int aw__path_params(const char *path, void (*fn)(void *arg, const char *name, size_t len,
                                                           aw_type_t type, int idx),
                               void *arg);

/* ---- the request context (app.c) ---------------------------------------------------------------- */

struct aw__hdr {
    const char *name, *value;
};

struct aw__defer {
    void (*fn)(void *arg);
    void *arg;
};

struct aw__bg {
    aw_task_fn fn;
    void *arg;
};

/* A chunk of the request arena past the context's inline bytes. */
struct aw__arena_blk {
    struct aw__arena_blk *next;
    char data[];
};

struct aw_ctx {
    aw_app_t *app;
    aw_http_req_t *req;
    const struct aw__route *route;
    struct aw__match match;
    struct aw__value *vals;         /* one per route->params */
    json_t *body;
    void **dep_vals;                /* one per route->deps */
    /* the query string, split once into raw pairs (see parse_query) */
    struct { aw_str_t name, value; } *query;
    size_t nquery;
    bool query_parsed;
    /* the reply */
    int status;                     /* 0: none yet */
    bool streaming, head_sent, ended;
    const char *ctype;
    char *res_body;                 /* malloc'd when res_owned, else arena or static */
    bool res_owned;
    size_t res_len;
    struct aw__hdr *hdrs;
    size_t nhdrs, hdrs_cap;
    /* after the response */
    struct aw__defer *defers;
    size_t ndefers, defers_cap;
    struct aw__bg *bgs;
    size_t nbgs, bgs_cap;
    aw_group_t group;
    bool group_used;
    bool blocking;                  /* the handler runs on a pool thread now */
    bool timed_out;
    size_t mw_ran;                  /* middleware whose before hook ran */
    /* the arena: first_data, then malloc'd blocks */
    char *arena_ptr;
    size_t arena_left;
    struct aw__arena_blk *blks;
    _Alignas(16) char first_data[2048];
};

/* Grows an arena-backed array: returns 0 or AW_ENOMEM. */
AW__HIDDEN int aw__ctx_grow(aw_ctx_t *c, void **arr, size_t *cap, size_t elem, size_t need);

/* Sends the buffered reply (after the middleware's after hooks). Returns 0 or an I/O code. */
AW__HIDDEN int aw__ctx_send(aw_ctx_t *c);

/* Runs the after hooks of the middleware whose before hook ran, innermost first. */
AW__HIDDEN void aw__ctx_run_after(aw_ctx_t *c);

/* ---- params (params.c) ------------------------------------------------------------------- */

/* "path", "query", "header", "cookie" or "body", as FastAPI's `loc` says. */
AW__HIDDEN const char *aw__in_name(aw_param_in_t in);
/* pydantic's lax parsing of text: spaces around are ignored. False if it does not parse. */
AW__HIDDEN bool aw__parse_int(const char *s, size_t n, int64_t *out);
AW__HIDDEN bool aw__parse_float(const char *s, size_t n, double *out);
AW__HIDDEN bool aw__parse_bool(const char *s, size_t n, bool *out);
/* Percent-decodes `s` into the request arena ('+' is a space when `plus`). NULL on ENOMEM. */
AW__HIDDEN char *aw__decode(aw_ctx_t *c, const char *s, size_t n, bool plus);

/* Prepares a declaration: compiles the pattern, parses the default. Returns 0 or AW_EINVAL (logged with `where`). */
AW__HIDDEN int aw__pdecl_init(struct aw__pdecl *d, const aw_param_t *p, const char *where);
AW__HIDDEN void aw__pdecl_fini(struct aw__pdecl *d);

/*
 * Parses and validates every param of the route into c->vals, appending
 * FastAPI-shaped errors to `errors` (a JSON array). Returns 0 or AW_ENOMEM.
 */
AW__HIDDEN int aw__params_validate(aw_ctx_t *c, json_t *errors);

/* Validates `v` against a body field or schema, appending errors with `loc`. May replace *v (defaults, coercion). */
AW__HIDDEN void aw__json_validate(const aw_param_t *p, json_t **v, json_t *loc, json_t *errors);

/* Appends one error {type, loc, msg, input[, ctx]}; takes loc, input and ctx (NULL ok). */
AW__HIDDEN void aw__error_add(json_t *errors, const char *type, json_t *loc, const char *msg,
                              json_t *input, json_t *ctx);

/* Reads, parses and validates the route's JSON body into c->body. Returns 0, or the status
 * already answered (413, 415, 422...). Appends validation errors to `errors`. */
AW__HIDDEN int aw__body_validate(aw_ctx_t *c, json_t *errors);

/* ---- JSON text (jsonw.c) ------------------------------------------------------------------- */

/*
 * Appends json_pack(fmt, ap)'s value to `b` as compact JSON text (what
 * aw_reply_json would send), written directly, NUL-terminated. Returns
 * false, with `b` as it was, when the format or a value is beyond the fast
 * path or memory ran out (then nothing was consumed or released: `ap` is
 * read through a copy).
 */
AW__HIDDEN bool aw__jsonf(aw__buf_t *b, const char *fmt, va_list ap);

/* Length of the valid UTF-8 sequence at s (0: invalid; overlongs and surrogates refused). */
AW__HIDDEN size_t aw__utf8_seq(const unsigned char *s, size_t left);

/* ---- OpenAPI (openapi.c) ----------------------------------------------------------------- */

/* The app's OpenAPI 3.1 document (a new reference), or NULL on ENOMEM. */
AW__HIDDEN json_t *aw__openapi_build(const aw_app_t *app);

/* ---- middleware (middleware.c) ----------------------------------------------------------- */

/* The methods any route of the app answers on this path, for CORS preflights ("GET, POST"). */
AW__HIDDEN size_t aw__app_allow(aw_app_t *app, aw_str_t path, char *out, size_t cap);

#endif
