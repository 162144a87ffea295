/* SPDX-License-Identifier: MIT */
/*
 * The router: a tree with one level per path segment.
 *
 * DESIGN
 * Each node has static children (matched by bytes), typed param children
 * ({x:int}, {x:float}, then {x} strings) and at most one {x:path} child that
 * takes the rest of the path. Matching walks the segments depth-first and
 * backtracks, so a static segment wins over a param, a typed param over a
 * string, and a later branch is tried when an earlier one leads nowhere.
 * Param names do not matter to the tree (captures are positional; each
 * route knows which capture is which), so /users/{id:int} and
 * /users/{uid:int}/posts share a node.
 *
 * A segment that fits no typed child still goes to one (when no string or
 * path child takes it): the route's validation then answers 422
 * int_parsing, as FastAPI does for `/items/foo`, rather than a bare 404.
 *
 * A match is "full" when the node has a route for the method (GET serves
 * HEAD); the first node that matched the path but not the method is kept,
 * so a wrong method gets 405 with that node's Allow list. Nothing here
 * allocates while matching: captures point into the request's path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awaitress/error.h"
#include "web_internal.h"

enum { PC_INT, PC_FLOAT, PC_STR, PC_COUNT };

struct aw__node {
    char *seg; /* static children only */
    size_t seg_len;
    struct aw__node **statics;
    size_t nstatics;
    struct aw__node *params[PC_COUNT];
    struct aw__node *rest;
    struct aw__route *routes[AW__M_COUNT];
    struct aw__route **other_v; /* routes of methods we do not index */
    size_t nothers;
};

static const char *const method_names[AW__M_COUNT] = {"GET",   "HEAD",   "POST",   "PUT",
                                                      "PATCH", "DELETE", "OPTIONS"};

int aw__method_index(const char *m) {
    switch (m[0]) {
    case 'G':
        return strcmp(m, "GET") == 0 ? AW__M_GET : -1;
    case 'H':
        return strcmp(m, "HEAD") == 0 ? AW__M_HEAD : -1;
    case 'P':
        if (strcmp(m, "POST") == 0)
            return AW__M_POST;
        if (strcmp(m, "PUT") == 0)
            return AW__M_PUT;
        return strcmp(m, "PATCH") == 0 ? AW__M_PATCH : -1;
    case 'D':
        return strcmp(m, "DELETE") == 0 ? AW__M_DELETE : -1;
    case 'O':
        return strcmp(m, "OPTIONS") == 0 ? AW__M_OPTIONS : -1;
    default:
        return -1;
    }
}

const char *aw__method_name(int idx) {
    return idx >= 0 && idx < AW__M_COUNT ? method_names[idx] : NULL;
}

/* ---- declared paths ------------------------------------------------------------------------ */

static aw_type_t type_named(const char *s, size_t n) {
    if (n == 3 && memcmp(s, "int", 3) == 0)
        return AW_T_INT;
    if (n == 5 && memcmp(s, "float", 5) == 0)
        return AW_T_FLOAT;
    if (n == 3 && memcmp(s, "str", 3) == 0)
        return AW_T_STR;
    if (n == 4 && memcmp(s, "path", 4) == 0)
        return AW_T_PATH;
    return 0;
}

static bool is_name_char(char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_';
}

int aw__path_params(const char *path, void (*fn)(void *arg, const char *name, size_t len,
                                                 aw_type_t type, int idx),
                    void *arg) {
    if (path[0] != '/')
        return AW_EINVAL;
    int n = 0;
    const char *p = path + 1;
    for (;;) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len && p[0] == '{') {
            if (p[len - 1] != '}')
                return AW_EINVAL;
            const char *name = p + 1;
            size_t inner = len - 2;
            const char *colon = memchr(name, ':', inner);
            size_t nlen = colon ? (size_t)(colon - name) : inner;
            aw_type_t t = colon ? type_named(colon + 1, inner - nlen - 1) : AW_T_STR;
            if (!nlen || !t)
                return AW_EINVAL;
            for (size_t i = 0; i < nlen; i++)
                if (!is_name_char(name[i]))
                    return AW_EINVAL;
            if (t == AW_T_PATH && end)
                return AW_EINVAL; /* {x:path} takes the rest: it must come last */
            if (n == AW__MAX_CAPS)
                return AW_EINVAL;
            if (fn)
                fn(arg, name, nlen, colon ? t : 0, n);
            n++;
        } else {
            for (size_t i = 0; i < len; i++)
                if (p[i] == '{' || p[i] == '}')
                    return AW_EINVAL; /* half a param: "/a{b}" is not supported */
        }
        if (!end)
            return n;
        p = end + 1;
    }
}

/* ---- building the tree --------------------------------------------------------------------- */

static struct aw__node *node_new(void) {
    return calloc(1, sizeof(struct aw__node));
}

/* Static children are sorted by length, then bytes: a lookup is a binary search. */
static int seg_cmp(const struct aw__node *c, const char *seg, size_t len) {
    if (c->seg_len != len)
        return c->seg_len < len ? -1 : 1;
    return memcmp(c->seg, seg, len);
}

static struct aw__node *static_child(struct aw__node *n, const char *seg, size_t len, bool create) {
    size_t lo = 0, hi = n->nstatics;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int cmp = seg_cmp(n->statics[mid], seg, len);
        if (cmp == 0)
            return n->statics[mid];
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (!create)
        return NULL;
    struct aw__node **v = realloc(n->statics, (n->nstatics + 1) * sizeof(*v));
    if (!v)
        return NULL;
    n->statics = v;
    struct aw__node *c = node_new();
    if (!c)
        return NULL;
    c->seg = strndup(seg, len);
    if (!c->seg) {
        free(c);
        return NULL;
    }
    c->seg_len = len;
    memmove(v + lo + 1, v + lo, (n->nstatics - lo) * sizeof(*v));
    v[lo] = c;
    n->nstatics++;
    return c;
}

static struct aw__node *child_slot(struct aw__node **slot) {
    if (!*slot)
        *slot = node_new();
    return *slot;
}

int aw__tree_insert(struct aw__node **root, struct aw__route *r, const aw_type_t *cap_types) {
    if (!*root && !(*root = node_new()))
        return AW_ENOMEM;
    struct aw__node *n = *root;
    const char *p = r->path + 1;
    int cap = 0;
    if (*p) {
        for (;;) {
            const char *end = strchr(p, '/');
            size_t len = end ? (size_t)(end - p) : strlen(p);
            if (len && p[0] == '{') {
                aw_type_t t = cap_types[cap++];
                struct aw__node **slot = t == AW_T_PATH    ? &n->rest
                                         : t == AW_T_INT   ? &n->params[PC_INT]
                                         : t == AW_T_FLOAT ? &n->params[PC_FLOAT]
                                                           : &n->params[PC_STR];
                n = child_slot(slot);
            } else {
                n = static_child(n, p, len, true);
            }
            if (!n)
                return AW_ENOMEM;
            if (!end)
                break;
            p = end + 1;
        }
    }
    if (r->midx >= 0) {
        if (n->routes[r->midx])
            return AW_EEXIST;
        n->routes[r->midx] = r;
        return 0;
    }
    for (size_t i = 0; i < n->nothers; i++)
        if (strcmp(n->other_v[i]->method, r->method) == 0)
            return AW_EEXIST;
    struct aw__route **v = realloc(n->other_v, (n->nothers + 1) * sizeof(*v));
    if (!v)
        return AW_ENOMEM;
    n->other_v = v;
    v[n->nothers++] = r;
    return 0;
}

void aw__tree_free(struct aw__node *n) {
    if (!n)
        return;
    for (size_t i = 0; i < n->nstatics; i++)
        aw__tree_free(n->statics[i]);
    for (int i = 0; i < PC_COUNT; i++)
        aw__tree_free(n->params[i]);
    aw__tree_free(n->rest);
    free(n->statics);
    free(n->other_v);
    free(n->seg);
    free(n);
}

/* ---- matching ------------------------------------------------------------------------------ */

static bool has_routes(const struct aw__node *n) {
    for (int i = 0; i < AW__M_COUNT; i++)
        if (n->routes[i])
            return true;
    return n->nothers > 0;
}

static const struct aw__route *route_for(const struct aw__node *n, int midx, const char *method) {
    if (midx >= 0) {
        if (n->routes[midx])
            return n->routes[midx];
        if (midx == AW__M_HEAD)
            return n->routes[AW__M_GET];
        return NULL;
    }
    for (size_t i = 0; i < n->nothers; i++)
        if (strcmp(n->other_v[i]->method, method) == 0)
            return n->other_v[i];
    return NULL;
}

static bool looks_int(const char *s, size_t n) {
    size_t i = (n && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
    if (i == n)
        return false;
    for (; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static bool looks_float(const char *s, size_t n) {
    size_t i = (n && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
    bool digits = false, dot = false;
    for (; i < n; i++) {
        if (s[i] >= '0' && s[i] <= '9')
            digits = true;
        else if (s[i] == '.' && !dot)
            dot = true;
        else
            return false;
    }
    return digits;
}

struct walk {
    const char *end;
    int midx;
    const char *method;
    struct aw__match *m;
    struct aw__node *partial;
    aw_str_t partial_caps[AW__MAX_CAPS];
    int partial_ncaps;
};

static bool walk(struct walk *w, struct aw__node *n, const char *p, bool at_end);

static bool arrive(struct walk *w, struct aw__node *n) {
    if (!has_routes(n))
        return false;
    const struct aw__route *r = route_for(n, w->midx, w->method);
    if (r) {
        w->m->node = n;
        w->m->route = r;
        return true;
    }
    if (!w->partial) {
        w->partial = n;
        memcpy(w->partial_caps, w->m->caps, sizeof(aw_str_t) * (size_t)w->m->ncaps);
        w->partial_ncaps = w->m->ncaps;
    }
    return false;
}

static bool try_param(struct walk *w, struct aw__node *c, const char *seg, size_t len,
                      const char *next, bool last) {
    if (!c || w->m->ncaps == AW__MAX_CAPS)
        return false;
    w->m->caps[w->m->ncaps++] = (aw_str_t){seg, len};
    if (walk(w, c, next, last))
        return true;
    w->m->ncaps--;
    return false;
}

/* `p` is the rest of the path after a '/'; at_end is true when nothing (not even "") is left. */
static bool walk(struct walk *w, struct aw__node *n, const char *p, bool at_end) {
    if (at_end)
        return arrive(w, n);
    const char *slash = memchr(p, '/', (size_t)(w->end - p));
    size_t len = slash ? (size_t)(slash - p) : (size_t)(w->end - p);
    const char *next = slash ? slash + 1 : w->end;
    bool last = !slash;
    struct aw__node *s = static_child(n, p, len, false);
    if (s && walk(w, s, next, last))
        return true;
    if (len) {
        if (looks_int(p, len) && try_param(w, n->params[PC_INT], p, len, next, last))
            return true;
        if (looks_float(p, len) && try_param(w, n->params[PC_FLOAT], p, len, next, last))
            return true;
        if (try_param(w, n->params[PC_STR], p, len, next, last))
            return true;
    }
    if (n->rest && w->m->ncaps < AW__MAX_CAPS) {
        w->m->caps[w->m->ncaps++] = (aw_str_t){p, (size_t)(w->end - p)};
        if (arrive(w, n->rest))
            return true;
        w->m->ncaps--;
    }
    /* No branch fits: let a typed param take it, so validation says why (422). */
    if (len && !looks_int(p, len) && try_param(w, n->params[PC_INT], p, len, next, last))
        return true;
    if (len && !looks_float(p, len) && try_param(w, n->params[PC_FLOAT], p, len, next, last))
        return true;
    return false;
}

bool aw__tree_match(struct aw__node *root, aw_str_t path, int midx, const char *method,
                    struct aw__match *m) {
    m->node = NULL;
    m->route = NULL;
    m->ncaps = 0;
    if (!root || path.len == 0 || path.ptr[0] != '/')
        return false;
    struct walk w = {.end = path.ptr + path.len, .midx = midx, .method = method, .m = m};
    /* "/" is the root itself; "/a" is one segment "a"; "/a/" is "a" then "". */
    if (walk(&w, root, path.ptr + 1, path.len == 1))
        return true;
    if (w.partial) {
        m->node = w.partial;
        m->route = NULL;
        memcpy(m->caps, w.partial_caps, sizeof(aw_str_t) * (size_t)w.partial_ncaps);
        m->ncaps = w.partial_ncaps;
        return true;
    }
    m->ncaps = 0;
    return false;
}

size_t aw__node_allow(const struct aw__node *n, char *out, size_t cap) {
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < AW__M_COUNT; i++) {
        bool on = n->routes[i] || (i == AW__M_HEAD && n->routes[AW__M_GET]) || i == AW__M_OPTIONS;
        if (!on)
            continue;
        int w = snprintf(out + len, cap - len, "%s%s", len ? ", " : "", method_names[i]);
        if (w < 0 || (size_t)w >= cap - len)
            return len;
        len += (size_t)w;
    }
    for (size_t i = 0; i < n->nothers; i++) {
        int w = snprintf(out + len, cap - len, ", %s", n->other_v[i]->method);
        if (w < 0 || (size_t)w >= cap - len)
            return len;
        len += (size_t)w;
    }
    return len;
}
