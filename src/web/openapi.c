/* SPDX-License-Identifier: MIT */
/*
 * The app's OpenAPI 3.1 document, generated from its route declarations in
 * the shape FastAPI (0.115+, pydantic v2) gives the equivalent Python app.
 *
 * DESIGN
 * One pass over app->routes in declaration order. Each route becomes one
 * operation under its path in OpenAPI form ("{item_id:int}" -> "{item_id}");
 * its params, body and responses are turned into JSON Schema as pydantic
 * would write them: titles from names ("item_id" -> "Item Id"), optional
 * values without a default as anyOf [T, null], bounds as minimum/maximum.
 * Named objects (a body's or a field's schema_name) are collected into
 * components/schemas the first time they are met and referenced with $ref
 * everywhere; a name is registered before its fields are walked, so a
 * schema that contains itself ends in a $ref instead of recursing. Unnamed
 * nesting stops at MAX_DEPTH.
 *
 * jansson reports allocation failure as NULL or -1 from the call that
 * needed memory and, for the *_new calls, drops the reference it was given.
 * Every call here goes through put()/add(), which record a failure in
 * `struct oa`; the document is checked once at the end and dropped whole if
 * anything failed, so the builders below never test for NULL themselves.
 * Declared text that is not UTF-8 (jansson refuses it) is repaired with
 * U+FFFD rather than treated as a failure.
 *
 * Runs once per app (app.c caches the result); linear in routes x params.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "web_internal.h"

#define REF_PREFIX "#/components/schemas/"
#define MAX_DEPTH 32 /* unnamed nesting deeper than this is documented as {} */

struct oa {
    const aw_app_t *app;
    json_t *schemas;      /* components/schemas collected so far */
    json_t *tags;         /* top-level tag objects, in order of first use */
    bool validation_used; /* some operation documents a 422 */
    bool http_error_used; /* some operation documents an error status */
    bool failed;          /* an allocation failed: the document is dropped */
};

/* ---- jansson calls that record failure instead of returning it ------------------------------- */

static bool utf8_valid(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n;
        unsigned c = *p;
        if (c < 0x80) {
            p++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            n = 1;
        else if (c >= 0xe0 && c <= 0xef)
            n = 2;
        else if (c >= 0xf0 && c <= 0xf4)
            n = 3;
        else
            return false;
        unsigned cp = c & (0x3f >> n);
        for (size_t i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        /* Overlong forms, surrogates and values past U+10FFFF. */
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        p += n + 1;
    }
    return true;
}

/* A copy of `s`, each byte that is not part of valid UTF-8 as U+FFFD (new), or NULL. */
static char *utf8_repair(const char *s) {
    size_t len = strlen(s);
    char *out = malloc(len * 3 + 1), *o = out;
    if (!out)
        return NULL;
    char one[5];
    for (const char *p = s; *p;) {
        /* Take the longest prefix of up to 4 bytes that forms one valid character. */
        size_t take = 0;
        for (size_t n = 1; n <= 4 && p[n - 1]; n++) {
            memcpy(one, p, n);
            one[n] = '\0';
            if (utf8_valid(one)) {
                take = n;
                break;
            }
        }
        if (take) {
            memcpy(o, p, take);
            o += take;
            p += take;
        } else {
            memcpy(o, "\xef\xbf\xbd", 3);
            o += 3;
            p++;
        }
    }
    *o = '\0';
    return out;
}

/* A JSON string for `s` (new), NULL only on ENOMEM. NULL `s` gives "". */
static json_t *jstr(const char *s) {
    if (!s)
        s = "";
    if (utf8_valid(s))
        return json_string(s);
    char *fixed = utf8_repair(s);
    json_t *v = fixed ? json_string(fixed) : NULL;
    free(fixed);
    return v;
}

/* obj[key] = val, taking `val` (dropped on failure, as jansson does). */
static void put(struct oa *st, json_t *obj, const char *key, json_t *val) {
    if (!obj || !val || !key) {
        json_decref(val);
        st->failed = true;
        return;
    }
    if (utf8_valid(key)) {
        if (json_object_set_new(obj, key, val) < 0)
            st->failed = true;
        return;
    }
    char *fixed = utf8_repair(key);
    if (!fixed || json_object_set_new(obj, fixed, val) < 0) {
        if (!fixed)
            json_decref(val);
        st->failed = true;
    }
    free(fixed);
}

static void put_str(struct oa *st, json_t *obj, const char *key, const char *s) {
    put(st, obj, key, jstr(s));
}

/* arr[] = val, taking `val`. */
static void add(struct oa *st, json_t *arr, json_t *val) {
    if (!arr || !val) {
        json_decref(val);
        st->failed = true;
        return;
    }
    if (json_array_append_new(arr, val) < 0)
        st->failed = true;
}

/* obj[key], created as an empty object when absent (borrowed; NULL on ENOMEM). */
static json_t *child(struct oa *st, json_t *obj, const char *key) {
    json_t *c = obj ? json_object_get(obj, key) : NULL;
    if (c)
        return c;
    c = json_object();
    put(st, obj, key, c);
    return st->failed ? NULL : c;
}

/* A number as pydantic writes it: integral bounds as integers ("minimum": 1, not 1.0). */
static json_t *jnum(double x) {
    if (x == floor(x) && fabs(x) < 9007199254740992.0)
        return json_integer((json_int_t)x);
    return json_real(x);
}

/* ---- names ----------------------------------------------------------------------------------- */

/*
 * pydantic's default title: Python's str.title() on the name, then '_' as
 * ' ', trimmed ("item_id" -> "Item Id", "x-token" -> "X-Token"). With
 * `words`, for summaries made from operation ids: camelCase is split first
 * and runs of spaces are folded ("listOrders" -> "List Orders",
 * "get_items__item_id_" -> "Get Items Item Id"). New, or NULL on ENOMEM.
 */
static char *title_case(const char *name, bool words) {
    size_t len = strlen(name);
    char *out = malloc(len * 2 + 1), *o = out;
    if (!out)
        return NULL;
    bool prev_cased = false, prev_lower = false;
    for (const char *p = name; *p; p++) {
        unsigned char c = (unsigned char)*p;
        bool alpha = c < 0x80 && isalpha(c);
        if (words && alpha && isupper(c) && prev_lower) {
            *o++ = ' ';
            prev_cased = false;
        }
        if (alpha)
            *o++ = (char)(prev_cased ? tolower(c) : toupper(c));
        else
            *o++ = c == '_' ? ' ' : (char)c;
        prev_lower = alpha && islower(c);
        prev_cased = alpha;
    }
    *o = '\0';
    /* Trim, and with `words` fold runs of spaces into one. */
    char *r = out, *w = out;
    while (*r == ' ')
        r++;
    for (; *r; r++) {
        if (words && *r == ' ' && w > out && w[-1] == ' ')
            continue;
        *w++ = *r;
    }
    while (w > out && w[-1] == ' ')
        w--;
    *w = '\0';
    return out;
}

/* obj[key] = name title-cased. */
static void put_title(struct oa *st, json_t *obj, const char *key, const char *name, bool words) {
    char *t = title_case(name, words);
    if (!t) {
        st->failed = true;
        return;
    }
    put_str(st, obj, key, t);
    free(t);
}

/* A components/schemas key: OpenAPI allows [A-Za-z0-9._-]; anything else becomes '_'. */
static void component_key(const char *name, char *out, size_t cap) {
    size_t n = 0;
    for (const char *p = name; *p && n + 1 < cap; p++) {
        unsigned char c = (unsigned char)*p;
        out[n++] = (c < 0x80 && (isalnum(c) || c == '.' || c == '-' || c == '_')) ? (char)c : '_';
    }
    if (n == 0)
        out[n++] = '_';
    out[n] = '\0';
}

static json_t *ref_to(const char *key) {
    char buf[320];
    snprintf(buf, sizeof(buf), REF_PREFIX "%s", key);
    return json_pack("{s:s}", "$ref", buf);
}

/* ---- values written as text in declarations -------------------------------------------------- */

/*
 * A default or example as JSON (new). Body fields hold JSON text; params
 * hold the text a request would carry, read by the param's type. Text that
 * does not parse is kept as a string, so the docs show what was written.
 */
static json_t *text_value(const char *text, aw_type_t type, bool json_text) {
    if (json_text) {
        json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
        if (v)
            return v;
        return jstr(text);
    }
    char *end;
    switch (type) {
    case AW_T_INT: {
        long long i = strtoll(text, &end, 10);
        if (*text && !isspace((unsigned char)*text) && !*end)
            return json_integer(i);
        break;
    }
    case AW_T_FLOAT: {
        double f = strtod(text, &end);
        if (*text && !isspace((unsigned char)*text) && !*end && isfinite(f))
            return json_real(f);
        break;
    }
    case AW_T_BOOL: {
        /* pydantic's spellings, which params.c accepts too. */
        static const char *const yes[] = {"true", "1", "yes", "on", "y", "t"};
        static const char *const no[] = {"false", "0", "no", "off", "n", "f"};
        for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
            if (strcasecmp(text, yes[i]) == 0)
                return json_true();
            if (strcasecmp(text, no[i]) == 0)
                return json_false();
        }
        break;
    }
    default:
        break;
    }
    return jstr(text);
}

/* ---- schemas --------------------------------------------------------------------------------- */

static json_t *field_schema(struct oa *st, const aw_param_t *p, bool json_text, bool titled,
                            bool never_null, int depth);

/* {"type":"object","properties":...,"required":[...]} for a field list (new). */
static json_t *object_schema(struct oa *st, const aw_param_t *fields, int depth) {
    json_t *s = json_object(), *props = json_object(), *req = json_array();
    put_str(st, s, "type", "object");
    for (const aw_param_t *f = fields; f && f->name; f++) {
        put(st, props, f->name, field_schema(st, f, true, true, false, depth + 1));
        if (!f->optional && !f->def)
            add(st, req, jstr(f->name));
    }
    put(st, s, "properties", props);
    if (json_array_size(req) > 0)
        put(st, s, "required", req);
    else
        json_decref(req);
    return s;
}

/*
 * A $ref to the named schema, which is added to components/schemas the first
 * time: an object of `fields`, or (with `items` set) an array of them (new).
 */
static json_t *named_schema(struct oa *st, const char *name, const aw_param_t *fields,
                            const aw_param_t *items, bool is_array) {
    char key[256];
    component_key(name, key, sizeof(key));
    if (st->schemas && !json_object_get(st->schemas, key)) {
        /*
         * Registered before it is filled, so fields that lead back here end
         * in a $ref; its depth starts over, so it reads the same wherever it
         * was met first.
         */
        json_t *s = json_object();
        put(st, st->schemas, key, json_incref(s));
        if (is_array) {
            put_str(st, s, "type", "array");
            put(st, s, "items",
                items ? field_schema(st, items, true, false, false, 1) : json_object());
        } else {
            json_t *o = object_schema(st, fields, 0);
            if (o)
                json_object_update(s, o);
            else
                st->failed = true;
            json_decref(o);
        }
        put_str(st, s, "title", name);
        json_decref(s);
    }
    return ref_to(key);
}

/*
 * The JSON Schema of one param or body field (new). `json_text`: .def and
 * .example are JSON (body fields). `titled`: add pydantic's title (not for
 * array items). `never_null`: not nullable even if optional (path params).
 */
static json_t *field_schema(struct oa *st, const aw_param_t *p, bool json_text, bool titled,
                            bool never_null, int depth) {
    if (depth > MAX_DEPTH)
        return json_object();
    json_t *s;
    bool is_ref = false;
    if (p->type == AW_T_OBJECT && p->schema_name) {
        s = named_schema(st, p->schema_name, p->fields, NULL, false);
        is_ref = true;
    } else if (p->type == AW_T_OBJECT) {
        s = object_schema(st, p->fields, depth);
    } else {
        s = json_object();
    }
    switch (p->type) {
    case AW_T_STR:
    case AW_T_PATH:
        put_str(st, s, "type", "string");
        if (p->min_len)
            put(st, s, "minLength", json_integer((json_int_t)p->min_len));
        if (p->max_len)
            put(st, s, "maxLength", json_integer((json_int_t)p->max_len));
        if (p->pattern)
            put_str(st, s, "pattern", p->pattern);
        break;
    case AW_T_INT:
    case AW_T_FLOAT:
        put_str(st, s, "type", p->type == AW_T_INT ? "integer" : "number");
        if (p->has_ge && isfinite(p->ge))
            put(st, s, "minimum", jnum(p->ge));
        if (p->has_le && isfinite(p->le))
            put(st, s, "maximum", jnum(p->le));
        if (p->has_gt && isfinite(p->gt))
            put(st, s, "exclusiveMinimum", jnum(p->gt));
        if (p->has_lt && isfinite(p->lt))
            put(st, s, "exclusiveMaximum", jnum(p->lt));
        break;
    case AW_T_BOOL:
        put_str(st, s, "type", "boolean");
        break;
    case AW_T_ENUM: {
        put_str(st, s, "type", "string");
        json_t *e = json_array();
        for (const char *const *c = p->choices; c && *c; c++) {
            bool seen = false;
            for (const char *const *d = p->choices; d < c; d++)
                seen = seen || strcmp(*c, *d) == 0;
            if (!seen)
                add(st, e, jstr(*c));
        }
        if (json_array_size(e) > 0)
            put(st, s, "enum", e);
        else
            json_decref(e);
        break;
    }
    case AW_T_ARRAY:
        put_str(st, s, "type", "array");
        put(st, s, "items",
            p->items ? field_schema(st, p->items, json_text, false, false, depth + 1)
                     : json_object());
        if (p->min_len)
            put(st, s, "minItems", json_integer((json_int_t)p->min_len));
        if (p->max_len)
            put(st, s, "maxItems", json_integer((json_int_t)p->max_len));
        break;
    default: /* AW_T_ANY, AW_T_OBJECT (done above), and anything unknown: {} */
        break;
    }

    /*
     * FastAPI's `q: str | None = None`: the constraints stay on the first
     * branch. Body fields accept null whenever they are optional (params.c),
     * defaulted or not; a param's default already covers its absence.
     */
    if (p->optional && !never_null && (json_text || !p->def) && p->type != AW_T_ANY) {
        json_t *wrap = json_object(), *any = json_array();
        add(st, any, s);
        add(st, any, json_pack("{s:s}", "type", "null"));
        put(st, wrap, "anyOf", any);
        s = wrap;
        is_ref = false;
        /* pydantic leaves a nullable model reference untitled. */
        if (p->type == AW_T_OBJECT && p->schema_name)
            titled = false;
    }
    if (titled && !is_ref && p->name)
        put_title(st, s, "title", p->name, false);
    if (p->doc)
        put_str(st, s, "description", p->doc);
    if (p->def)
        put(st, s, "default", text_value(p->def, p->type, json_text));
    if (p->example && json_text) {
        json_t *ex = json_array();
        add(st, ex, text_value(p->example, p->type, true));
        put(st, s, "examples", ex);
    }
    if (p->deprecated)
        put(st, s, "deprecated", json_true());
    return s;
}

/* ---- paths ----------------------------------------------------------------------------------- */

struct path_param {
    char name[128];
    aw_type_t type;
};

/*
 * The OpenAPI form of a declared path ("/items/{item_id:int}" ->
 * "/items/{item_id}"), new or NULL; its params' names and types go into
 * `pp` (up to `cap`, the count in *n).
 */
static char *openapi_path(const char *path, struct path_param *pp, size_t cap, size_t *n) {
    size_t len = strlen(path);
    char *out = malloc(len + 2), *o = out;
    if (!out)
        return NULL;
    *n = 0;
    if (path[0] != '/')
        *o++ = '/';
    for (const char *p = path; *p;) {
        const char *close = *p == '{' ? strchr(p, '}') : NULL;
        if (!close) {
            *o++ = *p++;
            continue;
        }
        const char *colon = memchr(p, ':', (size_t)(close - p));
        const char *name_end = colon ? colon : close;
        size_t nlen = (size_t)(name_end - p - 1);
        *o++ = '{';
        memcpy(o, p + 1, nlen);
        o += nlen;
        *o++ = '}';
        if (*n < cap && nlen < sizeof(pp->name)) {
            struct path_param *q = &pp[(*n)++];
            memcpy(q->name, p + 1, nlen);
            q->name[nlen] = '\0';
            q->type = AW_T_STR;
            if (colon) {
                size_t tlen = (size_t)(close - colon - 1);
                if (tlen == 3 && memcmp(colon + 1, "int", 3) == 0)
                    q->type = AW_T_INT;
                else if (tlen == 5 && memcmp(colon + 1, "float", 5) == 0)
                    q->type = AW_T_FLOAT;
                else if (tlen == 4 && memcmp(colon + 1, "path", 4) == 0)
                    q->type = AW_T_PATH;
            }
        }
        p = close + 1;
    }
    *o = '\0';
    return out;
}

/*
 * FastAPI's generated operation id, for a route app.c gave none: the
 * handler's name, the path with \W as '_', '_', the method
 * ("read_item_items__item_id__get"); without a name, "get_items__item_id_".
 */
static char *generated_op_id(const char *name, const char *method, const char *oa_path) {
    size_t nl = name ? strlen(name) : 0, ml = strlen(method), pl = strlen(oa_path);
    char *id = malloc(nl + pl + ml + 2), *o = id;
    if (!id)
        return NULL;
    if (nl) {
        memcpy(o, name, nl);
        o += nl;
    } else {
        for (size_t i = 0; i < ml; i++)
            *o++ = (char)tolower((unsigned char)method[i]);
    }
    for (size_t i = 0; i < pl; i++) {
        unsigned char c = (unsigned char)oa_path[i];
        *o++ = (c >= 0x80 || isalnum(c) || c == '_') ? (char)c : '_';
    }
    if (nl) {
        *o++ = '_';
        for (size_t i = 0; i < ml; i++)
            *o++ = (char)tolower((unsigned char)method[i]);
    }
    *o = '\0';
    return id;
}

static const char *const in_names[] = {[AW_IN_PATH] = "path",
                                       [AW_IN_QUERY] = "query",
                                       [AW_IN_HEADER] = "header",
                                       [AW_IN_COOKIE] = "cookie"};

static json_t *parameter(struct oa *st, const aw_param_t *p) {
    json_t *o = json_object();
    bool path = p->in == AW_IN_PATH;
    put_str(st, o, "name", p->name);
    put_str(st, o, "in", in_names[p->in]);
    if (p->doc)
        put_str(st, o, "description", p->doc);
    put(st, o, "required", json_boolean(path || (!p->optional && !p->def)));
    if (p->deprecated)
        put(st, o, "deprecated", json_true());
    put(st, o, "schema", field_schema(st, p, false, true, path, 0));
    if (p->example)
        put(st, o, "example", text_value(p->example, p->type, false));
    return o;
}

/* Whether two params are the same one: header names are case-insensitive. */
static bool same_param(const aw_param_t *a, const aw_param_t *b) {
    if (a->in != b->in || !a->name || !b->name)
        return false;
    return a->in == AW_IN_HEADER ? strcasecmp(a->name, b->name) == 0
                                 : strcmp(a->name, b->name) == 0;
}

/* The operation's parameters array (new); *any is set when there is at least one. */
static json_t *parameters(struct oa *st, const struct aw__route *r, const struct path_param *pp,
                          size_t npp, bool *any) {
    json_t *arr = json_array();
    const struct aw__pdecl *ps = r->params;
    /* Path params first, in the path's order, as FastAPI lists them; then the others. */
    for (size_t k = 0; k < npp; k++) {
        const aw_param_t *decl = NULL;
        for (size_t i = 0; ps && i < r->nparams && !decl; i++)
            if (ps[i].p.in == AW_IN_PATH && ps[i].p.name && strcmp(ps[i].p.name, pp[k].name) == 0)
                decl = &ps[i].p;
        if (decl) {
            add(st, arr, parameter(st, decl));
        } else {
            /* A path param only the path declares: its type comes from "{name:type}". */
            aw_param_t p = {.name = pp[k].name, .in = AW_IN_PATH, .type = pp[k].type};
            add(st, arr, parameter(st, &p));
        }
    }
    for (aw_param_in_t in = AW_IN_QUERY; in <= AW_IN_COOKIE; in++) {
        for (size_t i = 0; ps && i < r->nparams; i++) {
            const aw_param_t *p = &ps[i].p;
            if (p->in != in || !p->name || !*p->name)
                continue;
            /* A param shared with a dependency is listed once; required wins, as in FastAPI. */
            bool dup = false;
            for (size_t j = 0; j < i && !dup; j++)
                dup = same_param(&ps[j].p, p);
            if (dup)
                continue;
            const aw_param_t *use = p;
            for (size_t j = i + 1; j < r->nparams; j++)
                if (same_param(&ps[j].p, p) && !ps[j].p.optional && !ps[j].p.def)
                    use = &ps[j].p;
            add(st, arr, parameter(st, use));
        }
    }
    *any = json_array_size(arr) > 0;
    return arr;
}

static json_t *request_body(struct oa *st, const aw_body_t *b) {
    json_t *rb = json_object(), *media = json_object(), *schema;
    bool is_array = b->type == AW_T_ARRAY;
    if (b->schema_name) {
        schema = named_schema(st, b->schema_name, b->fields, b->items, is_array);
    } else if (is_array) {
        schema = json_object();
        put_str(st, schema, "type", "array");
        put(st, schema, "items",
            b->items ? field_schema(st, b->items, true, false, false, 1) : json_object());
    } else {
        schema = object_schema(st, b->fields, 0);
    }
    if (b->doc)
        put_str(st, rb, "description", b->doc);
    put(st, media, "schema", schema);
    if (b->example)
        put(st, media, "example", text_value(b->example, AW_T_ANY, true));
    json_t *content = json_object();
    put(st, content, "application/json", media);
    put(st, rb, "content", content);
    if (!b->optional)
        put(st, rb, "required", json_true());
    return rb;
}

/* A status that may carry a body (not 1xx, 204, 205 or 304), as FastAPI decides. */
static bool body_allowed(int status) {
    return !(status < 200 || status == 204 || status == 205 || status == 304);
}

static json_t *json_content(struct oa *st, json_t *schema, json_t *example) {
    json_t *media = json_object(), *content = json_object();
    put(st, media, "schema", schema);
    if (example)
        put(st, media, "example", example);
    put(st, content, "application/json", media);
    return content;
}

static json_t *responses(struct oa *st, const struct aw__route *r, bool validated) {
    const aw_route_opts_t *o = &r->opts;
    json_t *res = json_object();
    char key[16];
    int status = o->status >= 100 && o->status <= 599 ? o->status : 200;
    snprintf(key, sizeof(key), "%d", status);
    json_t *ok = json_object();
    put_str(st, ok, "description", o->response_doc ? o->response_doc : "Successful Response");
    if (body_allowed(status))
        put(st, ok, "content",
            json_content(st, o->response ? object_schema(st, o->response, 0) : json_object(),
                         o->response_example ? text_value(o->response_example, AW_T_ANY, true)
                                             : NULL));
    put(st, res, key, ok);

    for (const int *e = o->errors; e && *e; e++) {
        if (*e < 100 || *e > 599 || (*e == 422 && validated))
            continue;
        snprintf(key, sizeof(key), "%d", *e);
        if (json_object_get(res, key))
            continue;
        json_t *er = json_object();
        const char *reason = aw_http_reason(*e);
        put_str(st, er, "description",
                reason && strcmp(reason, "Unknown") != 0 ? reason : "Additional Response");
        if (body_allowed(*e)) {
            put(st, er, "content", json_content(st, ref_to("HTTPError"), NULL));
            st->http_error_used = true;
        }
        put(st, res, key, er);
    }

    /* FastAPI's rule: anything validated can answer 422, unless the route documents its own. */
    if (validated && !json_object_get(res, "422")) {
        json_t *v = json_object();
        put_str(st, v, "description", "Validation Error");
        put(st, v, "content", json_content(st, ref_to("HTTPValidationError"), NULL));
        put(st, res, "422", v);
        st->validation_used = true;
    }
    return res;
}

static void collect_tag(struct oa *st, const char *tag) {
    size_t i;
    json_t *t;
    json_array_foreach(st->tags, i, t) {
        const char *name = json_string_value(json_object_get(t, "name"));
        if (name && strcmp(name, tag) == 0)
            return;
    }
    t = json_object();
    put_str(st, t, "name", tag);
    add(st, st->tags, t);
}

static json_t *operation(struct oa *st, const struct aw__route *r, const char *oa_path,
                         const struct path_param *pp, size_t npp) {
    const aw_route_opts_t *o = &r->opts;
    json_t *op = json_object();

    if (r->tags && r->tags[0]) {
        json_t *tags = json_array();
        for (const char **t = r->tags; *t; t++) {
            bool seen = false;
            for (const char **u = r->tags; u < t; u++)
                seen = seen || strcmp(*t, *u) == 0;
            if (seen)
                continue;
            add(st, tags, jstr(*t));
            collect_tag(st, *t);
        }
        put(st, op, "tags", tags);
    }

    char *gen = NULL;
    const char *op_id = r->op_id ? r->op_id : o->operation_id;
    if (!op_id) {
        op_id = gen = generated_op_id(r->name, r->method, oa_path);
        if (!gen) {
            st->failed = true;
            return op;
        }
    }
    /* FastAPI's summary is the function's name title-cased ("read_item" -> "Read Item"). */
    if (o->summary)
        put_str(st, op, "summary", o->summary);
    else if (r->name && *r->name)
        put_title(st, op, "summary", r->name, true);
    else
        put_title(st, op, "summary", op_id, true);
    if (o->description)
        put_str(st, op, "description", o->description);
    put_str(st, op, "operationId", op_id);
    free(gen);

    bool any_params = false;
    json_t *params = parameters(st, r, pp, npp, &any_params);
    if (any_params)
        put(st, op, "parameters", params);
    else
        json_decref(params);
    if (o->body)
        put(st, op, "requestBody", request_body(st, o->body));
    put(st, op, "responses", responses(st, r, any_params || o->body));
    if (o->deprecated)
        put(st, op, "deprecated", json_true());
    return op;
}

/* The path item key of a method OpenAPI 3.1 can express, or NULL (HEAD and OPTIONS are implied). */
static const char *method_key(const char *m) {
    static const char *const keys[] = {"get", "put", "post", "delete", "patch", "trace"};
    for (size_t i = 0; m && i < sizeof(keys) / sizeof(keys[0]); i++)
        if (strcasecmp(m, keys[i]) == 0)
            return keys[i];
    return NULL;
}

/* Whether a route serves the document or the docs themselves (FastAPI leaves those out). */
static bool own_route(const aw_app_t *app, const char *path) {
    if (app->openapi_url && *app->openapi_url && strcmp(path, app->openapi_url) == 0)
        return true;
    if (app->docs_url && *app->docs_url) {
        size_t n = strlen(app->docs_url);
        if (strncmp(path, app->docs_url, n) == 0 && (path[n] == '\0' || path[n] == '/'))
            return true;
    }
    return false;
}

static void add_route(struct oa *st, json_t *paths, const struct aw__route *r) {
    const char *mkey = method_key(r->method);
    if (!mkey || r->opts.hidden || !r->path || own_route(st->app, r->path))
        return;
    struct path_param pp[AW__MAX_CAPS * 2];
    size_t npp = 0;
    char *oa_path = openapi_path(r->path, pp, sizeof(pp) / sizeof(pp[0]), &npp);
    if (!oa_path) {
        st->failed = true;
        return;
    }
    json_t *item = child(st, paths, oa_path);
    /* "{id:int}" and "{id}" on one method share an OpenAPI key: the first one is documented. */
    if (item && !json_object_get(item, mkey))
        put(st, item, mkey, operation(st, r, oa_path, pp, npp));
    free(oa_path);
}

/* ---- FastAPI's own components ---------------------------------------------------------------- */

/* FastAPI's definitions, word for word (fastapi/openapi/utils.py), and ours for HTTPException. */
static const char validation_error_json[] =
    "{\"title\": \"ValidationError\", \"type\": \"object\","
    " \"properties\": {"
    "  \"loc\": {\"title\": \"Location\", \"type\": \"array\","
    "          \"items\": {\"anyOf\": [{\"type\": \"string\"}, {\"type\": \"integer\"}]}},"
    "  \"msg\": {\"title\": \"Message\", \"type\": \"string\"},"
    "  \"type\": {\"title\": \"Error Type\", \"type\": \"string\"},"
    "  \"input\": {\"title\": \"Input\"},"
    "  \"ctx\": {\"title\": \"Context\", \"type\": \"object\"}},"
    " \"required\": [\"loc\", \"msg\", \"type\"]}";
static const char http_validation_error_json[] =
    "{\"title\": \"HTTPValidationError\", \"type\": \"object\","
    " \"properties\": {\"detail\": {\"title\": \"Detail\", \"type\": \"array\","
    "  \"items\": {\"$ref\": \"" REF_PREFIX "ValidationError\"}}}}";
static const char http_error_json[] =
    "{\"title\": \"HTTPError\", \"type\": \"object\","
    " \"properties\": {\"detail\": {\"title\": \"Detail\", \"type\": \"string\"}},"
    " \"required\": [\"detail\"]}";

/* One of the texts above as JSON (new); NULL only on ENOMEM, the texts being valid. */
static json_t *builtin(const char *text) {
    return json_loads(text, 0, NULL);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The schemas object with its keys sorted, as FastAPI writes components (new). */
static json_t *sorted_schemas(struct oa *st) {
    size_t n = json_object_size(st->schemas), i = 0;
    const char **keys = malloc((n ? n : 1) * sizeof(*keys));
    json_t *out = json_object();
    if (!keys) {
        st->failed = true;
        return out;
    }
    const char *k;
    json_t *v;
    json_object_foreach(st->schemas, k, v) keys[i++] = k;
    qsort(keys, n, sizeof(*keys), cmp_str);
    for (i = 0; i < n; i++)
        put(st, out, keys[i], json_incref(json_object_get(st->schemas, keys[i])));
    free(keys);
    return out;
}

json_t *aw__openapi_build(const aw_app_t *app) {
    struct oa st = {.app = app, .schemas = json_object(), .tags = json_array()};
    json_t *doc = json_object(), *info = json_object(), *paths = json_object();
    if (!st.schemas || !st.tags)
        st.failed = true;

    put_str(&st, doc, "openapi", "3.1.0");
    put_str(&st, info, "title", app && app->title ? app->title : "API");
    put_str(&st, info, "version", app && app->version ? app->version : "0.1.0");
    if (app && app->opts.description && *app->opts.description)
        put_str(&st, info, "description", app->opts.description);
    put(&st, doc, "info", info);

    for (const struct aw__route *r = app ? app->routes : NULL; r && !st.failed; r = r->next)
        add_route(&st, paths, r);
    put(&st, doc, "paths", paths);

    if (st.validation_used) {
        put(&st, st.schemas, "ValidationError", builtin(validation_error_json));
        put(&st, st.schemas, "HTTPValidationError", builtin(http_validation_error_json));
    }
    if (st.http_error_used)
        put(&st, st.schemas, "HTTPError", builtin(http_error_json));
    if (json_object_size(st.schemas) > 0) {
        json_t *components = json_object();
        put(&st, components, "schemas", sorted_schemas(&st));
        put(&st, doc, "components", components);
    }
    if (json_array_size(st.tags) > 0)
        put(&st, doc, "tags", json_incref(st.tags));

    json_decref(st.schemas);
    json_decref(st.tags);
    if (st.failed) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}
