/* SPDX-License-Identifier: MIT */
/*
 * The app: registration (routes, routers, dependencies, middleware,
 * lifespan hooks) and the request pipeline.
 *
 * DESIGN
 * Everything that can be decided at start-up is: a route's params (its own,
 * its path's and its dependencies', each once), the order its dependencies
 * run in, its tags and its operation id are computed when it is added, and
 * a bad declaration (a default that does not validate, a path param that is
 * not in the path, a duplicate route) is logged with the route and makes
 * the app refuse to serve. The request path then only matches, parses and
 * calls.
 *
 * A request runs in the connection's task: middleware `before` hooks, the
 * router (404, 405 with Allow, 307 to the declared slash form, OPTIONS),
 * params and body validation (422), the dependencies in order (any of them
 * may answer and end it), the handler (on the loop, or on the pool for
 * blocking routes; under the route's deadline), then the buffered reply
 * goes out after the `after` hooks. Teardowns (aw_ctx_defer) run after the
 * reply, in reverse order and shielded from cancellation; background tasks
 * after that, in a task of their own.
 *
 * The context lives on the connection task's stack with a 2 KiB arena
 * inline, so a request that declares a few params allocates nothing.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "awaitress/error.h"
#include "awaitress/pool.h"
#include "../http/http_internal.h"
#include "docs_internal.h"
#include "web_internal.h"

/* ---- registration ---------------------------------------------------------------------------- */

static const char **tags_concat(const char *const *a, const char *const *b) {
    size_t na = 0, nb = 0;
    while (a && a[na])
        na++;
    while (b && b[nb])
        nb++;
    const char **v = calloc(na + nb + 1, sizeof(*v));
    if (!v)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < na; i++)
        v[n++] = a[i];
    for (size_t i = 0; i < nb; i++) {
        bool dup = false;
        for (size_t j = 0; j < n; j++)
            dup |= strcmp(v[j], b[i]) == 0;
        if (!dup)
            v[n++] = b[i];
    }
    return v;
}

/* Copies of the NULL- (or 0-) terminated lists the macros build as compound
 * literals, which die with the block that registered the route. */
static const aw_dep_t **deps_copy(const aw_dep_t *const *d) {
    size_t n = 0;
    while (d && d[n])
        n++;
    const aw_dep_t **v = calloc(n + 1, sizeof(*v));
    if (v)
        for (size_t i = 0; i < n; i++)
            v[i] = d[i];
    return v;
}

static int *ints_copy(const int *e) {
    size_t n = 0;
    while (e && e[n])
        n++;
    int *v = calloc(n + 1, sizeof(*v));
    if (v && n)
        memcpy(v, e, n * sizeof(*v));
    return v;
}

aw_router_t *aw_router_self(aw_router_t *r) {
    return r;
}

aw_router_t *aw_app_router(aw_app_t *app) {
    return &app->root;
}

static char *opt_url(const char *given, const char *dflt) {
    if (!given)
        return strdup(dflt);
    if (!*given)
        return NULL;
    return strdup(given);
}

aw_app_t *aw_app_new_opts(const char *title, const char *version, const aw_app_opts_t *opts) {
    aw_app_t *app = calloc(1, sizeof(*app));
    if (!app)
        return NULL;
    if (opts)
        app->opts = *opts;
    app->own_deps = deps_copy(app->opts.deps);
    app->opts.deps = app->own_deps;
    app->title = strdup(title ? title : "awaitress");
    app->version = strdup(version ? version : "0.1.0");
    app->openapi_url = opt_url(app->opts.openapi_url, "/openapi.json");
    app->docs_url = app->openapi_url ? opt_url(app->opts.docs_url, "/docs") : NULL;
    app->root.app = app;
    app->root.prefix = strdup("");
    aw_event_init(&app->bg_idle);
    aw_event_set(&app->bg_idle);
    app->routes_tail = &app->routes;
    if (!app->title || !app->version || !app->root.prefix || !app->own_deps) {
        aw_app_free(app);
        return NULL;
    }
    return app;
}

static void route_free(struct aw__route *r) {
    for (size_t i = 0; i < r->nparams; i++) {
        aw__pdecl_fini(&r->params[i]);
        free(r->params[i].owned_name);
    }
    free(r->params);
    free(r->deps);
    free(r->own_deps);
    free(r->own_errors);
    free(r->tags);
    free(r->method);
    free(r->path);
    free(r->name);
    free(r->op_id);
    free(r);
}

static void routes_free(struct aw__route *r) {
    while (r) {
        struct aw__route *next = r->next;
        route_free(r);
        r = next;
    }
}

void aw_app_free(aw_app_t *app) {
    if (!app)
        return;
    routes_free(app->routes);
    aw__tree_free(app->tree);
    for (size_t i = 0; i < app->nmw; i++)
        if (app->mw[i].free_data)
            app->mw[i].free_data(app->mw[i].data);
    free(app->mw);
    free(app->startup);
    free(app->shutdown);
    free(app->overrides);
    free(app->openapi);
    free(app->title);
    free(app->version);
    free(app->openapi_url);
    free(app->docs_url);
    free(app->root.prefix);
    free(app->own_deps);
    free(app);
}

/* Adds `d` and, first, what it depends on, each once; cycles are refused. */
static int deps_add(const aw_dep_t ***v, size_t *n, size_t *cap, const aw_dep_t *d, int depth,
                    const char *where) {
    for (size_t i = 0; i < *n; i++)
        if ((*v)[i] == d)
            return 0;
    if (depth > 32) {
        aw_log(AW_LOG_ERROR, "%s: dependency '%s': a cycle, or nested more than 32 deep", where,
               d->name ? d->name : "?");
        return AW_EINVAL;
    }
    if (!d->name || !d->fn) {
        aw_log(AW_LOG_ERROR, "%s: a dependency needs a name and a fn", where);
        return AW_EINVAL;
    }
    for (size_t i = 0; d->deps && d->deps[i]; i++) {
        int rc = deps_add(v, n, cap, d->deps[i], depth + 1, where);
        if (rc)
            return rc;
    }
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 4;
        const aw_dep_t **nv = realloc(*v, nc * sizeof(*nv));
        if (!nv)
            return AW_ENOMEM;
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = d;
    return 0;
}

struct path_scan {
    const char *names[AW__MAX_CAPS];
    size_t lens[AW__MAX_CAPS];
    aw_type_t types[AW__MAX_CAPS];
    int n;
};

static void scan_cb(void *arg, const char *name, size_t len, aw_type_t type, int idx) {
    struct path_scan *s = arg;
    s->names[idx] = name;
    s->lens[idx] = len;
    s->types[idx] = type;
    s->n = idx + 1;
}

static bool same_param(const aw_param_t *a, const aw_param_t *b) {
    if (a->in != b->in)
        return false;
    return a->in == AW_IN_HEADER ? strcasecmp(a->name, b->name) == 0 : strcmp(a->name, b->name) == 0;
}

static int check_fields(const aw_param_t *f, const char *where, int depth);

/* Checks one body field (defaults, patterns), and what it nests, once, at start-up. */
static int check_field(const aw_param_t *f, const char *where, int depth) {
    if (depth > 32)
        return 0; /* a schema that holds itself (a tree): checked once already */
    if (f->name) {
        struct aw__pdecl d;
        int rc = aw__pdecl_init(&d, f, where);
        aw__pdecl_fini(&d);
        if (rc)
            return rc;
        if (f->def) {
            /* The default must pass the field's own checks, as a request's value would. */
            json_t *v = json_loads(f->def, JSON_DECODE_ANY, NULL);
            json_t *errors = json_array();
            if (v && errors)
                aw__json_validate(f, &v, json_array(), errors);
            bool bad = !v || !errors || json_array_size(errors) > 0;
            json_decref(v);
            json_decref(errors);
            if (bad) {
                aw_log(AW_LOG_ERROR, "%s: field '%s': default %s does not validate", where,
                       f->name, f->def);
                return AW_EINVAL;
            }
        }
    }
    if (f->type == AW_T_OBJECT)
        return check_fields(f->fields, where, depth + 1);
    if (f->type == AW_T_ARRAY && f->items)
        return check_field(f->items, where, depth + 1);
    return 0;
}

static int check_fields(const aw_param_t *f, const char *where, int depth) {
    for (; f && f->name; f++) {
        int rc = check_field(f, where, depth);
        if (rc)
            return rc;
    }
    return 0;
}

/* FastAPI's operation id: name + path with non-word characters as '_' + '_' + method. */
static char *make_op_id(const char *name, const char *path, const char *method) {
    size_t n = strlen(name) + strlen(path) + strlen(method) + 2;
    char *s = malloc(n);
    if (!s)
        return NULL;
    size_t o = 0;
    for (const char *p = name; *p; p++)
        s[o++] = *p;
    for (const char *p = path; *p; p++) {
        if (*p == ':') { /* {x:int} is {x} in the document */
            while (*p && *p != '}')
                p++;
            if (!*p)
                break;
        }
        s[o++] = (isalnum((unsigned char)*p) || *p == '_') ? *p : '_';
    }
    s[o++] = '_';
    for (const char *p = method; *p; p++)
        s[o++] = (char)tolower((unsigned char)*p);
    s[o] = '\0';
    return s;
}

static bool method_ok(const char *m) {
    if (!*m || strlen(m) > 20)
        return false;
    for (; *m; m++)
        if (*m < 'A' || *m > 'Z')
            return false;
    return true;
}

/* Builds the route the app will serve; logs and returns an error for a bad declaration. */
static int route_build(aw_app_t *app, const char *method, const char *path, aw_handler_fn fn,
                       const char *name, const aw_route_opts_t *opts, const char *const *rtags,
                       const aw_dep_t *const *rdeps, uint32_t rtimeout) {
    char where[512];
    snprintf(where, sizeof(where), "route %s %s", method ? method : "?", path ? path : "?");
    if (!method || !method_ok(method) || !path || !fn) {
        aw_log(AW_LOG_ERROR, "%s: needs an upper-case method, a path starting with '/' and a handler",
               where);
        return AW_EINVAL;
    }
    struct path_scan scan = {.n = 0};
    int np = aw__path_params(path, scan_cb, &scan);
    if (np < 0) {
        aw_log(AW_LOG_ERROR, "%s: bad path (segments are text or {name} / {name:int|float|str|path}, "
                             "at most %d params, {x:path} last)", where, AW__MAX_CAPS);
        return AW_EINVAL;
    }
    struct aw__route *r = calloc(1, sizeof(*r));
    if (!r)
        return AW_ENOMEM;
    int rc = AW_ENOMEM;
    r->method = strdup(method);
    r->path = strdup(path);
    r->name = strdup(name ? name : "handler");
    r->midx = aw__method_index(method);
    r->fn = fn;
    if (opts)
        r->opts = *opts;
    r->tags = tags_concat(rtags, r->opts.tags);
    r->opts.tags = NULL; /* r->tags has them */
    r->own_errors = ints_copy(r->opts.errors);
    r->opts.errors = r->own_errors;
    r->timeout_ms = r->opts.timeout_ms ? r->opts.timeout_ms : rtimeout;
    r->op_id = r->opts.operation_id ? strdup(r->opts.operation_id)
                                    : make_op_id(r->name, path, method);
    if (!r->method || !r->path || !r->name || !r->tags || !r->op_id || !r->own_errors)
        goto out_free;

    /* Dependencies: the app's, the router's, the route's; each once, needs first. */
    size_t dcap = 0;
    const aw_dep_t *const *lists[3] = {app->opts.deps, rdeps, r->opts.deps};
    for (int l = 0; l < 3; l++)
        for (size_t i = 0; lists[l] && lists[l][i]; i++)
            if ((rc = deps_add(&r->deps, &r->ndeps, &dcap, lists[l][i], 0, where)))
                goto out_free;
    r->opts.deps = NULL; /* r->deps has them */

    /* Params: the route's, then its dependencies' (each once), then undeclared path params. */
    size_t total = (size_t)np;
    for (const aw_param_t *p = r->opts.params; p && p->name; p++)
        total++;
    for (size_t i = 0; i < r->ndeps; i++)
        for (const aw_param_t *p = r->deps[i]->params; p && p->name; p++)
            total++;
    r->params = calloc(total ? total : 1, sizeof(*r->params));
    rc = AW_ENOMEM;
    if (!r->params)
        goto out_free;
    rc = AW_EINVAL;
    for (size_t src = 0; src <= r->ndeps; src++) {
        const aw_param_t *list = src == 0 ? r->opts.params : r->deps[src - 1]->params;
        for (const aw_param_t *p = list; p && p->name; p++) {
            bool dup = false;
            for (size_t j = 0; j < r->nparams; j++)
                dup |= same_param(&r->params[j].p, p);
            if (dup) {
                if (src == 0) {
                    aw_log(AW_LOG_ERROR, "%s: %s param '%s' declared twice", where,
                           aw__in_name(p->in), p->name);
                    goto out_free;
                }
                continue; /* a dependency's param the route (or another dependency) has */
            }
            if (p->in < AW_IN_PATH || p->in > AW_IN_COOKIE || p->type == AW_T_OBJECT ||
                p->type == AW_T_ARRAY || p->type == AW_T_ANY) {
                aw_log(AW_LOG_ERROR, "%s: param '%s': params are path, query, header or cookie "
                                     "values of a scalar type (body fields go in .body)",
                       where, p->name);
                goto out_free;
            }
            if ((rc = aw__pdecl_init(&r->params[r->nparams], p, where)))
                goto out_free;
            r->nparams++;
            rc = AW_EINVAL;
        }
    }
    aw_type_t tree_types[AW__MAX_CAPS];
    for (int i = 0; i < np; i++) {
        struct aw__pdecl *d = NULL;
        for (size_t j = 0; j < r->nparams; j++)
            if (r->params[j].p.in == AW_IN_PATH && strlen(r->params[j].p.name) == scan.lens[i] &&
                memcmp(r->params[j].p.name, scan.names[i], scan.lens[i]) == 0)
                d = &r->params[j];
        if (!d) {
            /* Not declared: a required param of the path's type (str by default). */
            aw_type_t t = scan.types[i] ? scan.types[i] : AW_T_STR;
            d = &r->params[r->nparams++];
            memset(d, 0, sizeof(*d));
            char *pname = strndup(scan.names[i], scan.lens[i]);
            if (!pname) {
                rc = AW_ENOMEM;
                goto out_free;
            }
            /* Owned by the route: kept alive through the name table below. */
            d->p = (aw_param_t){.name = pname, .in = AW_IN_PATH, .type = t == AW_T_PATH ? AW_T_STR : t};
            d->owned_name = pname;
        } else if (d->p.optional || d->p.def) {
            aw_log(AW_LOG_ERROR, "%s: path param '%s' cannot be optional or have a default", where,
                   d->p.name);
            goto out_free;
        }
        d->cap = i;
        tree_types[i] = scan.types[i] == AW_T_PATH ? AW_T_PATH
                        : scan.types[i]            ? scan.types[i]
                        : (d->p.type == AW_T_INT || d->p.type == AW_T_FLOAT) ? d->p.type
                                                                               : AW_T_STR;
    }
    for (size_t j = 0; j < r->nparams; j++)
        if (r->params[j].p.in == AW_IN_PATH && r->params[j].cap < 0) {
            aw_log(AW_LOG_ERROR, "%s: path param '%s' is declared but not in the path", where,
                   r->params[j].p.name);
            goto out_free;
        }
    if (r->opts.body && (rc = check_fields(r->opts.body->fields, where, 0)))
        goto out_free;
    if (r->opts.body && r->opts.body->items && (rc = check_field(r->opts.body->items, where, 0)))
        goto out_free;

    rc = aw__tree_insert(&app->tree, r, tree_types);
    if (rc == AW_EEXIST)
        aw_log(AW_LOG_ERROR, "%s: declared twice", where);
    if (rc)
        goto out_free;
    *app->routes_tail = r;
    app->routes_tail = &r->next;
    app->nroutes++;
    free(app->openapi); /* stale once routes change */
    app->openapi = NULL;
    return 0;
out_free:
    route_free(r);
    return rc;
}

int aw_route_add_named(aw_router_t *rt, const char *method, const char *path, aw_handler_fn fn,
                       const char *name, const aw_route_opts_t *opts) {
    if (rt->app) {
        int rc = route_build(rt->app, method, path, fn, name, opts, NULL, NULL, 0);
        if (rc)
            rt->app->errors++;
        return rc;
    }
    /* A router not yet included keeps the declaration until aw_app_include(). */
    struct aw__route *r = calloc(1, sizeof(*r));
    if (!r)
        return AW_ENOMEM;
    r->method = strdup(method ? method : "");
    r->path = strdup(path ? path : "");
    r->name = strdup(name ? name : "handler");
    r->fn = fn;
    if (opts)
        r->opts = *opts;
    r->own_deps = deps_copy(r->opts.deps);
    r->opts.deps = r->own_deps;
    r->own_errors = ints_copy(r->opts.errors);
    r->opts.errors = r->own_errors;
    r->tags = tags_concat(r->opts.tags, NULL);
    r->opts.tags = r->tags;
    if (!r->method || !r->path || !r->name || !r->own_deps || !r->own_errors || !r->tags) {
        route_free(r);
        rt->errors++;
        return AW_ENOMEM;
    }
    *rt->tail = r;
    rt->tail = &r->next;
    return 0;
}

int aw_route_add(aw_router_t *rt, const char *method, const char *path, aw_handler_fn fn,
                 const aw_route_opts_t *opts) {
    return aw_route_add_named(rt, method, path, fn, NULL, opts);
}

aw_router_t *aw_router_new_opts(const char *prefix, const aw_router_opts_t *opts) {
    if (!prefix || (prefix[0] && (prefix[0] != '/' || prefix[strlen(prefix) - 1] == '/'))) {
        aw_log(AW_LOG_ERROR, "router prefix '%s': must be \"\" or start with '/' and not end with one",
               prefix ? prefix : "(null)");
        return NULL;
    }
    aw_router_t *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->prefix = strdup(prefix);
    r->tail = &r->routes;
    if (opts) {
        r->deps = deps_copy(opts->deps);
        r->timeout_ms = opts->timeout_ms;
        r->tags = tags_concat(opts->tags, NULL);
    } else {
        r->tags = tags_concat(NULL, NULL);
        r->deps = deps_copy(NULL);
    }
    if (!r->prefix || !r->tags || !r->deps) {
        aw_router_free(r);
        return NULL;
    }
    return r;
}

void aw_router_free(aw_router_t *r) {
    if (!r || r->app)
        return;
    routes_free(r->routes);
    free(r->tags);
    free((void *)r->deps);
    free(r->prefix);
    free(r);
}

int aw_app_include(aw_app_t *app, aw_router_t *r) {
    if (!r) {
        app->errors++;
        return AW_EINVAL;
    }
    int first = r->errors ? AW_EINVAL : 0;
    app->errors += r->errors;
    for (struct aw__route *x = r->routes; x; x = x->next) {
        size_t n = strlen(r->prefix) + strlen(x->path) + 1;
        char *full = malloc(n);
        if (!full) {
            first = first ? first : AW_ENOMEM;
            app->errors++;
            continue;
        }
        /* "/orders" + "/" is "/orders/", like FastAPI; "" + "/x" is "/x". */
        snprintf(full, n, "%s%s", r->prefix, x->path);
        int rc = route_build(app, x->method, full, x->fn, x->name, &x->opts,
                             (const char *const *)r->tags, r->deps, r->timeout_ms);
        free(full);
        if (rc) {
            app->errors++;
            first = first ? first : rc;
        }
    }
    aw_router_free(r);
    return first;
}

void aw_app_override(aw_app_t *app, const aw_dep_t *dep, const aw_dep_t *stand_in) {
    for (size_t i = 0; i < app->noverrides; i++)
        if (app->overrides[i].dep == dep) {
            if (stand_in) {
                app->overrides[i].stand_in = stand_in;
            } else {
                app->overrides[i] = app->overrides[--app->noverrides];
            }
            return;
        }
    if (!stand_in)
        return;
    struct aw__override *v = realloc(app->overrides, (app->noverrides + 1) * sizeof(*v));
    if (!v) {
        aw_log(AW_LOG_ERROR, "override of '%s': out of memory", dep->name);
        app->errors++;
        return;
    }
    app->overrides = v;
    v[app->noverrides++] = (struct aw__override){dep, stand_in};
}

static int hook_add(struct aw__hook **v, size_t *n, aw_lifespan_fn fn, void *data) {
    struct aw__hook *nv = realloc(*v, (*n + 1) * sizeof(*nv));
    if (!nv)
        return AW_ENOMEM;
    *v = nv;
    nv[(*n)++] = (struct aw__hook){fn, data};
    return 0;
}

int aw_app_on_startup(aw_app_t *app, aw_lifespan_fn fn, void *data) {
    return hook_add(&app->startup, &app->nstartup, fn, data);
}

int aw_app_on_shutdown(aw_app_t *app, aw_lifespan_fn fn, void *data) {
    return hook_add(&app->shutdown, &app->nshutdown, fn, data);
}

int aw__app_startup(aw_app_t *app) {
    for (size_t i = 0; i < app->nstartup; i++) {
        int rc = app->startup[i].fn(app, app->startup[i].data);
        if (rc) {
            aw_log(AW_LOG_ERROR, "startup hook %zu failed: %s", i + 1,
                   rc < -1 ? aw_strerror(rc) : "it returned an error");
            return rc;
        }
    }
    return 0;
}

void aw__app_shutdown(aw_app_t *app) {
    /* Background tasks may use what the hooks close: let them finish first (30 s at most). */
    if (app->bg_live) {
        aw_log(AW_LOG_INFO, "waiting for %zu background task%s", app->bg_live,
               app->bg_live == 1 ? "" : "s");
        aw_deadline_t d;
        aw_deadline_enter(&d, 30000);
        aw_event_wait(&app->bg_idle);
        if (aw_deadline_exit(&d))
            aw_log(AW_LOG_WARN, "%zu background task%s still running after 30 s", app->bg_live,
                   app->bg_live == 1 ? "" : "s");
    }
    for (size_t i = app->nshutdown; i-- > 0;) {
        int rc = app->shutdown[i].fn(app, app->shutdown[i].data);
        if (rc)
            aw_log(AW_LOG_WARN, "shutdown hook %zu failed: %s", i + 1,
                   rc < -1 ? aw_strerror(rc) : "it returned an error");
    }
}

void aw_app_set_state(aw_app_t *app, void *state) {
    app->state = state;
}

void *aw_app_state(const aw_app_t *app) {
    return app->state;
}

int aw_app_use(aw_app_t *app, const aw_middleware_t *mw) {
    aw_middleware_t *v = realloc(app->mw, (app->nmw + 1) * sizeof(*v));
    if (!v)
        return AW_ENOMEM;
    app->mw = v;
    v[app->nmw++] = *mw;
    return 0;
}

int aw_app_check(aw_app_t *app) {
    if (app->errors) {
        aw_log(AW_LOG_ERROR, "the app has %d bad declaration%s (see above): not serving",
               app->errors, app->errors == 1 ? "" : "s");
        return AW_EINVAL;
    }
    return 0;
}

size_t aw__app_allow(aw_app_t *app, aw_str_t path, char *out, size_t cap) {
    struct aw__match m;
    out[0] = '\0';
    if (!aw__tree_match(app->tree, path, AW__M_OPTIONS, "OPTIONS", &m) || !m.node)
        return 0;
    return aw__node_allow(m.node, out, cap);
}

/* ---- the request pipeline ------------------------------------------------------------------ */

static void drain_request_tasks(aw_ctx_t *c);

static bool aw__deadline_passed(const aw_deadline_t *d) {
    return aw_now_ns() >= d->_at_ns;
}

static const aw_dep_t *resolve(aw_app_t *app, const aw_dep_t *d) {
    for (size_t i = 0; i < app->noverrides; i++)
        if (app->overrides[i].dep == d)
            return app->overrides[i].stand_in;
    return d;
}

static void *blocking_tramp(void *arg) {
    aw_ctx_t *c = arg;
    c->route->fn(c);
    return NULL;
}

static _Thread_local json_t *tl_errors;

static void answer_422(aw_ctx_t *c, json_t *errors) {
    json_t *body = json_object();
    if (body)
        json_object_set(body, "detail", errors);
    aw_reply_json(c, 422, body);
}

/* Serves /openapi.json and /docs; returns true if the path was one of them. */
static bool builtin(aw_ctx_t *c, aw_str_t path, int midx) {
    aw_app_t *app = c->app;
    if (midx != AW__M_GET && midx != AW__M_HEAD)
        return false;
    if (app->openapi_url && path.len == strlen(app->openapi_url) &&
        memcmp(path.ptr, app->openapi_url, path.len) == 0) {
        if (!app->openapi) {
            json_t *doc = aw__openapi_build(app);
            char *s = doc ? json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
            json_decref(doc);
            if (!s) {
                aw_http_error(c, 500, "out of memory building the OpenAPI document");
                return true;
            }
            app->openapi = s;
            app->openapi_len = strlen(s);
        }
        aw_reply_bytes(c, 200, "application/json", app->openapi, app->openapi_len);
        return true;
    }
    const char *mu = app->opts.metrics_url;
    if (mu && *mu && path.len == strlen(mu) && memcmp(path.ptr, mu, path.len) == 0) {
        /* The worker's load, so a full pool is seen before it turns clients away. */
        aw_pool_stats_t st = {0};
        aw_pool_t *pool = aw_pool_default();
        if (pool)
            aw_pool_stats(pool, &st);
        aw_reply_header(c, "Cache-Control", "no-store");
        aw_reply_jsonf(c, 200, "{s:i, s:{s:I, s:I, s:I, s:I, s:I, s:I}}", "pid", (int)getpid(),
                       "pool", "threads", (json_int_t)st.threads, "max_threads",
                       (json_int_t)st.max_threads, "busy", (json_int_t)st.busy, "queued",
                       (json_int_t)st.queued, "queue_cap", (json_int_t)st.queue_cap,
                       "waiting_for_room", (json_int_t)st.room_waiters);
        return true;
    }
    if (app->docs_url) {
        size_t dl = strlen(app->docs_url);
        if (path.len >= dl && memcmp(path.ptr, app->docs_url, dl) == 0 &&
            (path.len == dl || path.ptr[dl] == '/')) {
            c->status = -1; /* answered by the docs module directly */
            c->ended = true;
            aw__docs_serve(c->req, (aw_str_t){path.ptr + dl, path.len - dl}, app->title,
                           app->openapi_url);
            return true;
        }
    }
    return false;
}

/* 307 to the other slash form of the path if that one exists. */
static bool redirect_slash(aw_ctx_t *c, aw_str_t path, int midx, const char *method) {
    if (c->app->opts.strict_slashes || path.len < 2)
        return false;
    bool has = path.ptr[path.len - 1] == '/';
    char *alt = aw_ctx_alloc(c, path.len + 2);
    if (!alt)
        return false;
    memcpy(alt, path.ptr, path.len);
    size_t alen = has ? path.len - 1 : path.len + 1;
    if (!has)
        alt[path.len] = '/';
    alt[alen] = '\0';
    struct aw__match m;
    if (!aw__tree_match(c->app->tree, (aw_str_t){alt, alen}, midx, method, &m))
        return false;
    aw_str_t q = aw_http_req_query(c->req);
    size_t loc_len = alen + (q.ptr ? q.len + 1 : 0) + 1;
    char *loc = aw_ctx_alloc(c, loc_len);
    if (!loc)
        return false;
    snprintf(loc, loc_len, "%s%s%.*s", alt, q.ptr ? "?" : "", q.ptr ? (int)q.len : 0,
             q.ptr ? q.ptr : "");
    aw_reply_header(c, "Location", loc);
    aw_reply_empty(c, 307);
    return true;
}

static void route_request(aw_ctx_t *c) {
    aw_app_t *app = c->app;
    const char *method = aw_http_req_method(c->req);
    int midx = aw__method_index(method);
    aw_str_t path = aw_http_req_path(c->req);
    if (builtin(c, path, midx))
        return;
    if (!aw__tree_match(app->tree, path, midx, method, &c->match)) {
        if (!redirect_slash(c, path, midx, method))
            aw_http_error(c, 404, "Not Found");
        return;
    }
    if (!c->match.route) {
        char allow[128];
        aw__node_allow(c->match.node, allow, sizeof(allow));
        aw_reply_header(c, "Allow", allow);
        if (midx == AW__M_OPTIONS)
            aw_reply_empty(c, 204);
        else
            aw_http_error(c, 405, "Method Not Allowed");
        return;
    }
    const struct aw__route *r = c->route = c->match.route;
    if (r->nparams && !(c->vals = aw_ctx_alloc(c, r->nparams * sizeof(*c->vals)))) {
        aw_http_error(c, 500, "out of memory");
        return;
    }
    if (r->nparams)
        memset(c->vals, 0, r->nparams * sizeof(*c->vals));
    /* Validation errors are rare: one array per thread, handed over only when used. */
    if (!tl_errors && !(tl_errors = json_array())) {
        aw_http_error(c, 500, "out of memory");
        return;
    }
    json_t *errors = tl_errors;
    if (aw__params_validate(c, errors) < 0) {
        json_array_clear(errors);
        aw_http_error(c, 500, "out of memory");
        return;
    }
    if (json_array_size(errors)) {
        tl_errors = NULL; /* ours now: the body read below may let other requests run */
    } else {
        errors = NULL;
    }
    if (r->opts.body) {
        json_t *berr = errors ? json_incref(errors) : json_array();
        int st = berr ? aw__body_validate(c, berr) : 500;
        if (st == 500 && !aw_replied(c))
            aw_http_error(c, 500, "out of memory");
        if (aw_replied(c)) {
            json_decref(berr);
            json_decref(errors);
            return;
        }
        if (!errors && json_array_size(berr))
            errors = json_incref(berr);
        json_decref(berr);
    }
    if (errors) {
        answer_422(c, errors);
        json_decref(errors);
        return;
    }
    /* The route's deadline covers its dependencies' awaits too. */
    aw_deadline_t dl;
    if (r->timeout_ms)
        aw_deadline_enter(&dl, r->timeout_ms);
    if (r->ndeps) {
        c->dep_vals = aw_ctx_alloc(c, r->ndeps * sizeof(void *));
        if (!c->dep_vals) {
            if (r->timeout_ms)
                aw_deadline_exit(&dl);
            aw_http_error(c, 500, "out of memory");
            return;
        }
        for (size_t i = 0; i < r->ndeps; i++) {
            const aw_dep_t *d = resolve(app, r->deps[i]);
            c->dep_vals[i] = d->fn(c);
            if (aw_replied(c) || (r->timeout_ms && aw__deadline_passed(&dl)))
                break; /* the dependency ended the request, or the time is up */
        }
    }
    if (aw_replied(c) || (r->timeout_ms && aw__deadline_passed(&dl))) {
        /* A dependency answered or ran out of time: the handler does not run. */
    } else if (r->opts.blocking) {
        /* A full queue is answered at once rather than queued behind: a
         * client that gets 503 and Retry-After can go elsewhere. */
        aw_pool_stats_t st = {0};
        aw_pool_t *pool = aw_pool_default();
        if (pool)
            aw_pool_stats(pool, &st);
        if (!pool || st.queued + st.room_waiters >= st.queue_cap) {
            aw_reply_header(c, "Retry-After", "1");
            aw_http_error(c, 503, "Service Unavailable: all %zu worker threads are busy and %zu "
                                  "requests are queued; retry later",
                          st.max_threads, st.queued);
        } else {
            c->blocking = true;
            int rc = aw_run_blocking_status(blocking_tramp, c, NULL);
            c->blocking = false;
            if (rc == AW_EPIPE && !aw_replied(c))
                aw_http_error(c, 503, "Service Unavailable: shutting down");
        }
    } else {
        r->fn(c);
    }
    if (r->timeout_ms)
        c->timed_out = aw_deadline_exit(&dl);
    /* The request's own tasks end with its handler, before the reply goes out. */
    drain_request_tasks(c);
    if (!aw_replied(c)) {
        if (c->timed_out) {
            aw_http_error(c, 504, "Request timed out after %u ms", r->timeout_ms);
        } else if (!aw_cancelled()) {
            aw_log(AW_LOG_ERROR, "%s %s: the handler returned without a reply: answering 500",
                   r->method, r->path);
            aw_http_error(c, 500, "Internal Server Error");
        }
    }
}

/* Cancels and awaits the tasks the handler left running (aw_ctx_spawn). */
static void drain_request_tasks(aw_ctx_t *c) {
    if (!c->group_used)
        return;
    size_t left = c->group._live;
    if (left)
        aw_log(AW_LOG_WARN, "%s %s: %zu task%s still running when the handler returned: cancelled",
               aw_http_req_method(c->req), c->route ? c->route->path : "?", left,
               left == 1 ? "" : "s");
    aw_group_cancel(&c->group);
    aw_shield_enter();
    aw_group_wait(&c->group);
    aw_shield_exit();
    c->group_used = false;
}

struct bg_run {
    aw_app_t *app;
    struct aw__bg v[];
};

static void *run_backgrounds(void *arg) {
    struct bg_run *b = arg;
    for (size_t i = 0; b->v[i].fn; i++) {
        const char *err = b->v[i].fn(b->v[i].arg);
        if (err)
            aw_log(AW_LOG_ERROR, "background task %zu failed: %s", i + 1, err);
    }
    /* The shutdown hooks wait for the last one (aw__app_shutdown). */
    if (--b->app->bg_live == 0)
        aw_event_set(&b->app->bg_idle);
    free(b);
    return NULL;
}

static void ctx_init(aw_ctx_t *c, aw_app_t *app, aw_http_req_t *req) {
    /* Only the head of the context: the arena's inline bytes stay untouched. */
    memset(c, 0, offsetof(aw_ctx_t, first_data));
    c->app = app;
    c->req = req;
    c->arena_ptr = c->first_data;
    c->arena_left = sizeof(c->first_data);
}

static void ctx_end(aw_ctx_t *c) {
    drain_request_tasks(c); /* for requests that ended before their handler (a middleware) */
    if (c->ndefers || c->nbgs) {
        /* "After the response": let it leave before cleanup and background work. */
        aw__http_flush(c->req);
    }
    if (c->ndefers) {
        aw_shield_enter();
        for (size_t i = c->ndefers; i-- > 0;)
            c->defers[i].fn(c->defers[i].arg);
        aw_shield_exit();
    }
    if (c->nbgs) {
        struct bg_run *v = malloc(sizeof(*v) + (c->nbgs + 1) * sizeof(struct aw__bg));
        if (v) {
            v->app = c->app;
            memcpy(v->v, c->bgs, c->nbgs * sizeof(struct aw__bg));
            v->v[c->nbgs] = (struct aw__bg){NULL, NULL};
            aw_task_t *t = aw_async(run_backgrounds, v);
            if (t) {
                if (c->app->bg_live++ == 0)
                    aw_event_clear(&c->app->bg_idle);
                aw_task_set_name(t, "background");
                aw_detach(t);
            } else {
                free(v);
                aw_log(AW_LOG_ERROR, "background tasks dropped: out of memory");
            }
        } else {
            aw_log(AW_LOG_ERROR, "background tasks dropped: out of memory");
        }
    }
    json_decref(c->body);
    if (c->res_owned)
        free(c->res_body);
    struct aw__arena_blk *b = c->blks;
    while (b) {
        struct aw__arena_blk *next = b->next;
        free(b);
        b = next;
    }
}

void aw_app_handle(aw_http_req_t *req, void *data) {
    aw_app_t *app = data;
    aw_ctx_t c;
    ctx_init(&c, app, req);
    for (size_t i = 0; i < app->nmw && !aw_replied(&c); i++) {
        c.mw_ran = i + 1;
        if (app->mw[i].before)
            app->mw[i].before(&c, app->mw[i].data);
    }
    if (!aw_replied(&c))
        route_request(&c);
    if (c.streaming) {
        if (!c.ended)
            aw_stream_end(&c);
    } else if (c.status > 0) {
        aw__ctx_send(&c);
    }
    ctx_end(&c);
}
