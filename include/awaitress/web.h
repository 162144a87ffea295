/* SPDX-License-Identifier: MIT */
/*
 * The web layer: FastAPI's comfort on top of the HTTP server.
 *
 *   static void read_item(aw_ctx_t *c) {
 *       aw_reply_jsonf(c, 200, "{s:I, s:s?}", "item_id", aw_path_int(c, "item_id"),
 *                      "q", aw_query_str(c, "q"));
 *   }
 *   static const aw_param_t item_params[] = {
 *       AW_PATH_INT("item_id", AW_GE(1), .doc = "the item's id"),
 *       AW_QUERY_STR("q", .optional = true, .max_len = 50),
 *       AW_PARAMS_END,
 *   };
 *   aw_get(app, "/items/{item_id:int}", read_item, .params = item_params);
 *
 * A route declares its params (path, query, header, cookie) and its JSON
 * body once; that declaration validates every request before the handler
 * runs (all failures collected, answered 422 in FastAPI's shape), feeds the
 * typed accessors (aw_query_int...) and generates /openapi.json and /docs.
 *
 * Handlers are async: each runs in the connection's coroutine and may await
 * anything (aw_sleep_ms, aw_await, aw_fetch, pool jobs). A route with
 * `.blocking = true` runs on the thread pool instead, like a FastAPI `def`
 * endpoint: it may block, and must not call anything that awaits.
 *
 * Threading: an app is built on one thread before aw_app_serve()/aw_main()
 * and is read-only afterwards; every aw_ctx_t call is made from the
 * handler's own coroutine (or pool thread, for blocking routes).
 *
 * Replies are buffered in the context: status, headers and body are held
 * until the handler (and the middleware after it) are done, then sent in
 * one write. Streams (aw_stream_start, aw_sse_start) send as they go.
 *
 * JSON is jansson's json_t (<jansson.h>): the web layer builds on it.
 */
#ifndef AWAITRESS_WEB_H
#define AWAITRESS_WEB_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "awaitress/http.h"

typedef struct aw_app aw_app_t;
typedef struct aw_router aw_router_t;
typedef struct aw_ctx aw_ctx_t;

/* A route handler. It answers with an aw_reply_* call (or aw_http_error);
 * returning without an answer is a logged 500. */
typedef void (*aw_handler_fn)(aw_ctx_t *c);

/* ---- params and body fields ------------------------------------------------------------- */

typedef enum aw_param_in {
    AW_IN_PATH = 1,
    AW_IN_QUERY,
    AW_IN_HEADER,
    AW_IN_COOKIE,
    AW_IN_BODY, /* a field of a JSON body schema */
} aw_param_in_t;

typedef enum aw_type {
    AW_T_STR = 1,
    AW_T_INT,    /* int64_t */
    AW_T_FLOAT,  /* double */
    AW_T_BOOL,
    AW_T_ENUM,   /* one of .choices (strings) */
    AW_T_PATH,   /* a string path param that may hold '/' ({rest:path}) */
    AW_T_OBJECT, /* body only: .fields */
    AW_T_ARRAY,  /* body only: each element is .items */
    AW_T_ANY,    /* body only: any JSON value, not validated */
} aw_type_t;

/*
 * One declared param or body field. Build them with the AW_QUERY_INT(...)
 * style macros below and end an array with AW_PARAMS_END. Everything left
 * zero is "not set". Defaults are text parsed like a request's value
 * (`.def = "2"`), checked when the route is added, so a bad default is
 * reported at start-up, not at the first request.
 */
typedef struct aw_param {
    const char *name;               /* as sent; for headers, matched case-insensitively */
    aw_param_in_t in;
    aw_type_t type;
    bool optional;                  /* absent is fine: accessors give NULL / aw_*_has false */
    const char *def;                /* default (text; JSON text for body fields) */
    const char *doc;                /* description, shown in /docs */
    const char *example;            /* example value (text; JSON text for body fields) */
    const char *pattern;            /* strings: a POSIX extended regex the value must match */
    const char *const *choices;     /* AW_T_ENUM: NULL-terminated list */
    size_t min_len, max_len;        /* strings: length in characters; arrays: items. 0: none */
    bool has_ge, has_le, has_gt, has_lt; /* numbers: set by AW_GE() etc. */
    double ge, le, gt, lt;
    const struct aw_param *fields;  /* AW_T_OBJECT: its fields, ended by AW_PARAMS_END */
    const struct aw_param *items;   /* AW_T_ARRAY: one element's schema (its name is unused) */
    const char *schema_name;        /* AW_T_OBJECT: the name in components/schemas */
    bool deprecated;
    int _reserved;                  /* lets the macros take no options */
} aw_param_t;

/* As for routes: the options, then `._reserved = 0`, so none at all is fine in ISO C. */
#define AW__PARAM(where, t, n, ...) {.name = (n), .in = (where), .type = (t), __VA_ARGS__}
#define AW__PARAM_WITH(t, member, n, value, ...) \
    {.name = (n), .in = AW_IN_BODY, .type = (t), member = (value), __VA_ARGS__}
#define AW_PATH_INT(...) AW__PARAM(AW_IN_PATH, AW_T_INT, __VA_ARGS__, ._reserved = 0)
#define AW_PATH_FLOAT(...) AW__PARAM(AW_IN_PATH, AW_T_FLOAT, __VA_ARGS__, ._reserved = 0)
#define AW_PATH_STR(...) AW__PARAM(AW_IN_PATH, AW_T_STR, __VA_ARGS__, ._reserved = 0)
#define AW_PATH_ENUM(...) AW__PARAM(AW_IN_PATH, AW_T_ENUM, __VA_ARGS__, ._reserved = 0)
#define AW_QUERY_INT(...) AW__PARAM(AW_IN_QUERY, AW_T_INT, __VA_ARGS__, ._reserved = 0)
#define AW_QUERY_FLOAT(...) AW__PARAM(AW_IN_QUERY, AW_T_FLOAT, __VA_ARGS__, ._reserved = 0)
#define AW_QUERY_STR(...) AW__PARAM(AW_IN_QUERY, AW_T_STR, __VA_ARGS__, ._reserved = 0)
#define AW_QUERY_BOOL(...) AW__PARAM(AW_IN_QUERY, AW_T_BOOL, __VA_ARGS__, ._reserved = 0)
#define AW_QUERY_ENUM(...) AW__PARAM(AW_IN_QUERY, AW_T_ENUM, __VA_ARGS__, ._reserved = 0)
#define AW_HEADER_STR(...) AW__PARAM(AW_IN_HEADER, AW_T_STR, __VA_ARGS__, ._reserved = 0)
#define AW_HEADER_INT(...) AW__PARAM(AW_IN_HEADER, AW_T_INT, __VA_ARGS__, ._reserved = 0)
#define AW_COOKIE_STR(...) AW__PARAM(AW_IN_COOKIE, AW_T_STR, __VA_ARGS__, ._reserved = 0)
#define AW_FIELD_STR(...) AW__PARAM(AW_IN_BODY, AW_T_STR, __VA_ARGS__, ._reserved = 0)
#define AW_FIELD_INT(...) AW__PARAM(AW_IN_BODY, AW_T_INT, __VA_ARGS__, ._reserved = 0)
#define AW_FIELD_FLOAT(...) AW__PARAM(AW_IN_BODY, AW_T_FLOAT, __VA_ARGS__, ._reserved = 0)
#define AW_FIELD_BOOL(...) AW__PARAM(AW_IN_BODY, AW_T_BOOL, __VA_ARGS__, ._reserved = 0)
#define AW_FIELD_ENUM(...) AW__PARAM(AW_IN_BODY, AW_T_ENUM, __VA_ARGS__, ._reserved = 0)
#define AW_FIELD_ANY(...) AW__PARAM(AW_IN_BODY, AW_T_ANY, __VA_ARGS__, ._reserved = 0)
#define AW_FIELD_OBJECT(...) AW__PARAM_WITH(AW_T_OBJECT, .fields, __VA_ARGS__, ._reserved = 0)
#define AW_FIELD_ARRAY(...) AW__PARAM_WITH(AW_T_ARRAY, .items, __VA_ARGS__, ._reserved = 0)
#define AW_PARAMS_END {.name = NULL}
/* Bounds on numbers, FastAPI's names: value >= x, <= x, > x, < x. */
#define AW_GE(x) .has_ge = true, .ge = (x)
#define AW_LE(x) .has_le = true, .le = (x)
#define AW_GT(x) .has_gt = true, .gt = (x)
#define AW_LT(x) .has_lt = true, .lt = (x)
#define AW_CHOICES(...) .choices = (const char *const[]){__VA_ARGS__, NULL}

/*
 * A JSON request body: an object with `fields` (or, with `type` set to
 * AW_T_ARRAY and `items`, an array). Validated like params, with `loc`
 * paths such as ["body","items",2,"qty"]; defaults are filled in. A body
 * that is not application/json is 415; one over the server's body limit is
 * 413 before it is read; malformed JSON is 422 json_invalid with the line
 * and column.
 */
typedef struct aw_body {
    const char *schema_name;        /* components/schemas name, e.g. "OrderIn" */
    const aw_param_t *fields;
    aw_type_t type;                 /* 0 (object) or AW_T_ARRAY */
    const aw_param_t *items;        /* AW_T_ARRAY: one element's schema */
    bool optional;                  /* no body at all is fine: aw_body_json() gives NULL */
    const char *doc;
    const char *example;            /* JSON text shown in /docs */
} aw_body_t;

/* ---- dependencies (FastAPI's Depends) ---------------------------------------------------- */

typedef struct aw_dep aw_dep_t;

/*
 * A dependency: runs before the handler, in the handler's coroutine, may
 * await, and returns a value the handler reads with aw_dep(c, "name"). It
 * may end the request early by answering (aw_http_error(c, 401, ...)): the
 * handler then does not run. Cleanup it needs after the response (a
 * FastAPI `yield` dependency's teardown) is registered with aw_ctx_defer().
 */
typedef void *(*aw_dep_fn)(aw_ctx_t *c);

struct aw_dep {
    const char *name;               /* how handlers and other dependencies ask for its result */
    aw_dep_fn fn;
    const aw_param_t *params;       /* its own params, validated and documented with the route's */
    const aw_dep_t *const *deps;    /* dependencies it needs first (NULL-terminated) */
    const char *doc;
};

/* Builds a NULL-terminated dependency list: .deps = AW_DEPS(&db, &user). */
#define AW_DEPS(...) ((const aw_dep_t *const[]){__VA_ARGS__, NULL})

/* ---- routes ------------------------------------------------------------------------------ */

typedef struct aw_route_opts {
    const aw_param_t *params;       /* path, query, header and cookie params */
    const aw_body_t *body;          /* the JSON body, if any */
    const aw_dep_t *const *deps;    /* run in order before the handler (each once per request) */
    bool blocking;                  /* run on the thread pool (a FastAPI `def` endpoint) */
    uint32_t timeout_ms;            /* a deadline on every await of the request: 504 when hit */
    int status;                     /* the success status documented [200] */
    const char *summary;            /* one line in /docs */
    const char *description;
    const char *operation_id;       /* [method_path, like FastAPI] */
    const char *const *tags;        /* NULL-terminated; AW_TAGS("orders") */
    const aw_param_t *response;     /* the success body's fields, for the docs */
    const char *response_doc;
    const char *response_example;   /* JSON text */
    const int *errors;              /* other statuses to document, 0-terminated: AW_ERRORS(404, 409) */
    bool deprecated;
    bool hidden;                    /* left out of /openapi.json */
    int _reserved;
} aw_route_opts_t;

#define AW_TAGS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define AW_ERRORS(...) ((const int[]){__VA_ARGS__, 0})

/*
 * Adds a route to an app or a router. `path` is FastAPI's: static segments
 * and {name} params, typed with {name:int}, {name:float}, {name:str} or
 * {name:path} (the rest of the path, slashes included); a path param
 * declared in .params takes its bounds and doc from there. Static segments
 * win over params, and typed params are tried before strings.
 * Returns 0, or AW_EINVAL (bad pattern, bad default, a param declared
 * twice or a path param not in the path: logged with the route, and
 * aw_app_serve()/aw_main() then refuse to start), AW_EEXIST (same method and
 * path twice), AW_ENOMEM. `path` and the lists the macros build in place
 * (AW_DEPS, AW_TAGS, AW_ERRORS) are copied; `.params`, `.body`, `.response`
 * and the dependencies themselves are borrowed for the app's life: declare
 * them `static const`, as the examples do.
 */
AW_API int aw_route_add(aw_router_t *r, const char *method, const char *path, aw_handler_fn fn,
                        const aw_route_opts_t *opts);

/* aw_route_add() with the handler's name, which the generated operation id
 * and summary use as FastAPI uses the function's ("read_item" gives
 * "Read Item"); the aw_get()... macros pass it. `name` is copied. */
AW_API int aw_route_add_named(aw_router_t *r, const char *method, const char *path,
                              aw_handler_fn fn, const char *name, const aw_route_opts_t *opts);

/* The app's own router, so that the route macros take an app or a router. */
AW_API aw_router_t *aw_app_router(aw_app_t *app);

#define AW__ROUTER(x) _Generic((x), aw_app_t *: aw_app_router, aw_router_t *: aw_router_self)(x)
/* The options come first and `._reserved = 0` last, so a call may pass no option at
 * all and still be ISO C (-Wpedantic), and no field is initialised twice (-Wextra). */
#define AW__ROUTE(m, x, p, fn, ...) \
    aw_route_add_named(AW__ROUTER(x), m, p, fn, #fn, &(const aw_route_opts_t){__VA_ARGS__})
#define aw_get(...) AW__ROUTE("GET", __VA_ARGS__, ._reserved = 0)
#define aw_post(...) AW__ROUTE("POST", __VA_ARGS__, ._reserved = 0)
#define aw_put(...) AW__ROUTE("PUT", __VA_ARGS__, ._reserved = 0)
#define aw_patch(...) AW__ROUTE("PATCH", __VA_ARGS__, ._reserved = 0)
#define aw_delete(...) AW__ROUTE("DELETE", __VA_ARGS__, ._reserved = 0)

/* Identity, for the macros above. */
AW_API aw_router_t *aw_router_self(aw_router_t *r);

/* ---- routers (FastAPI's APIRouter) -------------------------------------------------------- */

typedef struct aw_router_opts {
    const char *const *tags;        /* added to every route's tags */
    const aw_dep_t *const *deps;    /* run before every route's own */
    uint32_t timeout_ms;            /* for routes that set none */
    int _reserved;
} aw_router_opts_t;

/*
 * Creates a router whose routes live under `prefix` ("" or "/orders"; no
 * trailing slash). Returns a new router, or NULL (ENOMEM, bad prefix).
 * aw_app_include() takes it; a router never included is freed with
 * aw_router_free().
 */
AW_API aw_router_t *aw_router_new_opts(const char *prefix, const aw_router_opts_t *opts);
#define aw_router_new(...) AW__ROUTER_NEW(__VA_ARGS__, ._reserved = 0)
#define AW__ROUTER_NEW(prefix, ...) aw_router_new_opts(prefix, &(const aw_router_opts_t){__VA_ARGS__})

/* Frees a router that was not included. NULL is a no-op. */
AW_API void aw_router_free(aw_router_t *r);

/*
 * Adds the router's routes to the app under its prefix, with its tags and
 * dependencies. Takes `r` (even on failure). Returns 0, or the first
 * aw_route_add() error (AW_EEXIST for a clash with an app route).
 */
AW_API int aw_app_include(aw_app_t *app, aw_router_t *r);

/* ---- the app ------------------------------------------------------------------------------ */

typedef struct aw_app_opts {
    const char *description;        /* OpenAPI info.description (Markdown) */
    const char *openapi_url;        /* ["/openapi.json"]; "" turns it (and the docs) off */
    const char *docs_url;           /* ["/docs"]; "" turns it off */
    bool strict_slashes;            /* no 307 to the other slash form (FastAPI's redirect_slashes=False) */
    const char *metrics_url;        /* [off] e.g. "/metrics": the worker's load as JSON (pool, connections) */
    const aw_dep_t *const *deps;    /* run before every route */
    int _reserved;
} aw_app_opts_t;

/* Creates an app. `title` and `version` are copied. Returns a new app, or NULL on ENOMEM. */
AW_API aw_app_t *aw_app_new_opts(const char *title, const char *version, const aw_app_opts_t *opts);
#define aw_app_new(...) AW__APP_NEW(__VA_ARGS__, ._reserved = 0)
#define AW__APP_NEW(title, version, ...) \
    aw_app_new_opts(title, version, &(const aw_app_opts_t){__VA_ARGS__})

/* Frees an app. NULL is a no-op. */
AW_API void aw_app_free(aw_app_t *app);

/*
 * Replaces a dependency everywhere it is used by `stand_in` (tests: a fake
 * database, a fixed user). NULL `stand_in` removes the override. Borrowed.
 * Only its fn is used: the params validated and the dependencies run first
 * are still the original's (declared when the routes were added).
 */
AW_API void aw_app_override(aw_app_t *app, const aw_dep_t *dep, const aw_dep_t *stand_in);

/*
 * Lifespan: `fn(app, data)` runs in each worker process on its loop, as a
 * coroutine, before the first request (startup: a non-zero return stops the
 * worker, logged, exit status 1) or after the last one (shutdown, once the
 * background tasks are done or 30 s passed). Startup hooks run in the order
 * added, shutdown hooks in reverse. A failed startup still runs every
 * shutdown hook, so they must cope with a partial start (check for NULL).
 */
typedef int (*aw_lifespan_fn)(aw_app_t *app, void *data);
AW_API int aw_app_on_startup(aw_app_t *app, aw_lifespan_fn fn, void *data);
AW_API int aw_app_on_shutdown(aw_app_t *app, aw_lifespan_fn fn, void *data);

/* State the app's hooks and handlers share (a database handle...). Borrowed. */
AW_API void aw_app_set_state(aw_app_t *app, void *state);
AW_API void *aw_app_state(const aw_app_t *app);

/* ---- middleware --------------------------------------------------------------------------- */

/*
 * Middleware wraps every request, first added outermost. `before` runs
 * before routing; it may answer (then the handler and the inner middleware
 * are skipped) and returns nothing. `after` runs, innermost first, once the
 * response is known and before its head is sent: it may add headers and,
 * for buffered replies, replace the body (aw_res_body/aw_res_set_body).
 * Either may be NULL.
 */
typedef struct aw_middleware {
    const char *name;
    void (*before)(aw_ctx_t *c, void *data);
    void (*after)(aw_ctx_t *c, void *data);
    void *data;
    void (*free_data)(void *data); /* called by aw_app_free(); NULL: data is borrowed */
} aw_middleware_t;

/* Appends a middleware (copied; `data` borrowed). Returns 0 or AW_ENOMEM. */
AW_API int aw_app_use(aw_app_t *app, const aw_middleware_t *mw);

/* CORS: preflights answered, the headers added to every answer to an allowed origin. */
typedef struct aw_cors_opts {
    const char *const *origins;     /* NULL-terminated; "*" allows any (then no credentials) */
    const char *const *methods;     /* [every method of the app's routes] */
    const char *const *headers;     /* allowed request headers ["*": any the client asks] */
    const char *const *expose;      /* Access-Control-Expose-Headers */
    bool credentials;
    uint32_t max_age_s;             /* [600] */
    int _reserved;
} aw_cors_opts_t;
AW_API int aw_use_cors_opts(aw_app_t *app, const aw_cors_opts_t *o);
#define aw_use_cors(...) AW__USE_CORS(__VA_ARGS__, ._reserved = 0)
#define AW__USE_CORS(app, ...) aw_use_cors_opts(app, &(const aw_cors_opts_t){__VA_ARGS__})

/* X-Request-ID: the client's (if sane: 1..64 of [A-Za-z0-9._-]) or a new one, echoed in the answer. */
AW_API int aw_use_request_id(aw_app_t *app);

/* Server-Timing: `app;dur=<ms>` on every answer, the time from the request's arrival. */
AW_API int aw_use_timing(aw_app_t *app);

/* gzip for buffered bodies of at least `min_bytes` [1024] when the client accepts it. */
AW_API int aw_use_gzip(aw_app_t *app, size_t min_bytes);

/* ---- serving ------------------------------------------------------------------------------ */

/*
 * The app's request handler, for aw_serve() or aw_http_server_new() with the
 * app as data; runs the lifespan hooks itself only through aw_app_serve().
 */
AW_API void aw_app_handle(aw_http_req_t *req, void *app);

/* Checks the app's routes once more and reports every registration error
 * logged so far. Returns 0 or AW_EINVAL. */
AW_API int aw_app_check(aw_app_t *app);

/* ---- the request context ------------------------------------------------------------------ */

/* The HTTP request underneath (method, headers, raw body). Borrowed for the handler's run. */
AW_API aw_http_req_t *aw_ctx_req(aw_ctx_t *c);
AW_API aw_app_t *aw_ctx_app(aw_ctx_t *c);

/* The matched route's path pattern ("/items/{item_id:int}"), for logs and metrics. */
AW_API const char *aw_ctx_route(aw_ctx_t *c);

/*
 * Memory that lives until the request is done (the response sent, the
 * teardowns run). Returns NULL on ENOMEM. Never freed by the caller.
 */
AW_API void *aw_ctx_alloc(aw_ctx_t *c, size_t n);
AW_API char *aw_ctx_strdup(aw_ctx_t *c, const char *s);

/*
 * Registers fn(arg) to run after the response, in reverse order of
 * registration, also when the handler failed, timed out or the client went
 * away. It runs in the request's coroutine with cancellation shielded, so it
 * may await (return a connection to a pool, commit, close). Returns 0 or
 * AW_ENOMEM (then fn(arg) was called at once).
 */
AW_API int aw_ctx_defer(aw_ctx_t *c, void (*fn)(void *arg), void *arg);

/* A dependency's result (what its fn returned). Asking for a dependency the
 * route does not declare is a programming error: it aborts with the names. */
AW_API void *aw_dep(aw_ctx_t *c, const char *name);

/*
 * Validated params. The getters abort with a clear message for a name the
 * route does not declare, or of another type (a programming error, like
 * FastAPI raising at start-up). For an optional param that is absent,
 * aw_*_has() is false, the string getters give NULL and the number getters 0.
 */
AW_API bool aw_param_has(aw_ctx_t *c, aw_param_in_t in, const char *name);
AW_API int64_t aw_param_int(aw_ctx_t *c, aw_param_in_t in, const char *name);
AW_API double aw_param_float(aw_ctx_t *c, aw_param_in_t in, const char *name);
AW_API bool aw_param_bool(aw_ctx_t *c, aw_param_in_t in, const char *name);
AW_API const char *aw_param_str(aw_ctx_t *c, aw_param_in_t in, const char *name);
#define aw_path_int(c, n) aw_param_int(c, AW_IN_PATH, n)
#define aw_path_float(c, n) aw_param_float(c, AW_IN_PATH, n)
#define aw_path_str(c, n) aw_param_str(c, AW_IN_PATH, n)
#define aw_query_has(c, n) aw_param_has(c, AW_IN_QUERY, n)
#define aw_query_int(c, n) aw_param_int(c, AW_IN_QUERY, n)
#define aw_query_float(c, n) aw_param_float(c, AW_IN_QUERY, n)
#define aw_query_bool(c, n) aw_param_bool(c, AW_IN_QUERY, n)
#define aw_query_str(c, n) aw_param_str(c, AW_IN_QUERY, n)
#define aw_header_str(c, n) aw_param_str(c, AW_IN_HEADER, n)
#define aw_header_int(c, n) aw_param_int(c, AW_IN_HEADER, n)
#define aw_cookie_str(c, n) aw_param_str(c, AW_IN_COOKIE, n)

/* The validated JSON body (defaults filled in); borrowed until the request
 * is done. NULL for a route without a body or an absent optional one. */
AW_API json_t *aw_body_json(aw_ctx_t *c);
/* Top-level body fields, typed like the param getters. */
AW_API const char *aw_body_str(aw_ctx_t *c, const char *name);
AW_API int64_t aw_body_int(aw_ctx_t *c, const char *name);
AW_API double aw_body_float(aw_ctx_t *c, const char *name);
AW_API bool aw_body_bool(aw_ctx_t *c, const char *name);

/* ---- replies ------------------------------------------------------------------------------ */

/*
 * Answers with JSON. Takes `body` (a new reference, freed here even on
 * failure; NULL is answered 500). Returns 0, AW_EALREADY if the request was
 * answered already, or AW_ENOMEM.
 */
AW_API int aw_reply_json(aw_ctx_t *c, int status, json_t *body);

/* Answers with json_pack(fmt, ...)'s value (see jansson); a bad format is a 500. */
AW_API int aw_reply_jsonf(aw_ctx_t *c, int status, const char *fmt, ...);

/* Answers text/plain; charset=utf-8 (`text` copied). */
AW_API int aw_reply_text(aw_ctx_t *c, int status, const char *text);

/* Answers `len` bytes (copied) with `content_type` (NULL: application/octet-stream). */
AW_API int aw_reply_bytes(aw_ctx_t *c, int status, const char *content_type, const void *data,
                          size_t len);

/* Answers with no body (204, 304, or a redirect after aw_reply_header(c, "Location", ...)). */
AW_API int aw_reply_empty(aw_ctx_t *c, int status);

/*
 * FastAPI's HTTPException: answers {"detail": msg} (msg copied; printf
 * format). Returns as aw_reply_json().
 */
AW_API int aw_http_error(aw_ctx_t *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Adds a response header (copied). Returns 0, AW_EINVAL (bad bytes, or a header the server owns), AW_EALREADY after the head left. */
AW_API int aw_reply_header(aw_ctx_t *c, const char *name, const char *value);

/*
 * Sets a cookie: `attrs` is appended as is ("Path=/; HttpOnly; Max-Age=3600";
 * NULL: "Path=/"). Name and value are checked against RFC 6265's bytes:
 * AW_EINVAL otherwise.
 */
AW_API int aw_set_cookie(aw_ctx_t *c, const char *name, const char *value, const char *attrs);

/* True once the request was answered (by the handler, a dependency or a middleware). */
AW_API bool aw_replied(aw_ctx_t *c);

/* What was answered so far, for middleware `after` hooks: status, body (NULL for streams). */
AW_API int aw_res_status(aw_ctx_t *c);
AW_API const void *aw_res_body(aw_ctx_t *c, size_t *len);
/* Replaces a buffered body; takes `body` (malloc'd; freed by us, even on failure). */
AW_API int aw_res_set_body(aw_ctx_t *c, void *body, size_t len);
/* A response header set so far (first match, case-insensitive), or NULL. */
AW_API const char *aw_res_header(aw_ctx_t *c, const char *name);

/* ---- streaming and Server-Sent Events ----------------------------------------------------- */

/* Starts a chunked response; the middleware's after hooks run now. Returns 0 or an I/O error. */
AW_API int aw_stream_start(aw_ctx_t *c, int status, const char *content_type);
/* Sends bytes now. Returns 0, or an I/O error (the client went away: stop). */
AW_API int aw_stream_write(aw_ctx_t *c, const void *data, size_t len);
/* Ends the stream (also done for you when the handler returns). */
AW_API int aw_stream_end(aw_ctx_t *c);

/* Starts a text/event-stream response (no caching, no proxy buffering). */
AW_API int aw_sse_start(aw_ctx_t *c);
/*
 * Sends one event: `event` and `id` may be NULL; `data` may hold newlines
 * (each line becomes a data: field). Returns 0 or an I/O error.
 */
AW_API int aw_sse_send(aw_ctx_t *c, const char *event, const char *id, const char *data);
/* A comment line (": ping"), to keep proxies from closing an idle stream. */
AW_API int aw_sse_comment(aw_ctx_t *c, const char *text);

/* ---- background tasks and request-scoped tasks ------------------------------------------- */

/*
 * Runs fn(arg) after the response has been sent, in order, as a coroutine
 * on the loop (it may await). What it returns, if not NULL, is logged as an
 * error string ("sending mail: timed out"). Returns 0 or AW_ENOMEM.
 */
AW_API int aw_background(aw_ctx_t *c, aw_task_fn fn, void *arg);

/*
 * Starts a task that belongs to the request: the first one to fail (return
 * through aw_fail()) cancels its siblings; aw_ctx_wait() awaits them all;
 * one still running when the response is done is cancelled and reported in
 * the log. Returns 0, AW_ENOMEM, or AW_ECANCELED if the group is cancelled.
 */
AW_API int aw_ctx_spawn(aw_ctx_t *c, aw_task_fn fn, void *arg);
/* (Leftover tasks are cancelled and awaited as soon as the handler returns:
 * `arg` must outlive the handler's frame, e.g. from aw_ctx_alloc().) */
/* Awaits the request's tasks: 0, or the first failure's status. */
AW_API int aw_ctx_wait(aw_ctx_t *c);

/* ---- the test client ---------------------------------------------------------------------- */

typedef struct aw_test_client aw_test_client_t;
typedef struct aw_test_res aw_test_res_t;

/*
 * An in-process client for tests: requests go through the whole stack
 * (parser, routing, validation, handler, middleware, serialization) over a
 * socketpair, on a loop of its own, with the app's startup hooks run first.
 * Not for use inside a running loop. Ignores SIGPIPE for the process, as
 * aw_serve() does. Returns a new client, or NULL (out of memory, a bad
 * declaration in the app, or a startup hook that failed: logged).
 */
AW_API aw_test_client_t *aw_test_client_new(aw_app_t *app);
/* Runs the shutdown hooks and frees the client. NULL is a no-op. */
AW_API void aw_test_client_free(aw_test_client_t *tc);

/*
 * Sends one request and returns its response (new; aw_test_res_free()), or
 * NULL if the exchange failed (logged). `headers` is "Name: value\r\n"...
 * text or NULL; `body` may be NULL.
 */
AW_API aw_test_res_t *aw_test_request(aw_test_client_t *tc, const char *method, const char *target,
                                      const char *headers, const void *body, size_t len);
AW_API int aw_test_res_status(const aw_test_res_t *r);
AW_API const char *aw_test_res_header(const aw_test_res_t *r, const char *name);
/* The body, NUL-terminated; *len its size (may be NULL). Borrowed from r. */
AW_API const char *aw_test_res_body(const aw_test_res_t *r, size_t *len);
/* The body parsed as JSON (a new reference), or NULL. */
AW_API json_t *aw_test_res_json(const aw_test_res_t *r);
AW_API void aw_test_res_free(aw_test_res_t *r);

#endif
