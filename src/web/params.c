/* SPDX-License-Identifier: MIT */
/*
 * Params and body fields: parsing, validation and FastAPI's 422 errors.
 *
 * DESIGN
 * Every failure is collected, not just the first, in pydantic v2's words:
 * the `type`, `msg` and `ctx` of each error are the ones FastAPI answers
 * with, so clients written against FastAPI read ours unchanged. Values from
 * the URL and headers are text and are parsed like pydantic's lax mode
 * (" 5 " is 5, "yes" is true); JSON bodies follow the same rules for their
 * typed values ("5" is accepted for an int, 5.5 is not).
 *
 * The success path allocates nothing beyond the decoded strings (in the
 * request arena); error objects are only built when something failed.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awaitress/error.h"
#include "web_internal.h"

static const char *const where_names[] = {"", "path", "query", "header", "cookie", "body"};

const char *aw__in_name(aw_param_in_t in) {
    return in >= AW_IN_PATH && in <= AW_IN_BODY ? where_names[in] : "?";
}

void aw__error_add(json_t *errors, const char *type, json_t *loc, const char *msg, json_t *input,
                   json_t *ctx) {
    json_t *e = json_object();
    if (!e) {
        json_decref(loc);
        json_decref(input);
        json_decref(ctx);
        return;
    }
    json_object_set_new(e, "type", json_string(type));
    json_object_set_new(e, "loc", loc ? loc : json_array());
    json_object_set_new(e, "msg", json_string(msg));
    json_object_set_new(e, "input", input ? input : json_null());
    if (ctx)
        json_object_set_new(e, "ctx", ctx);
    json_array_append_new(errors, e);
}

/* ---- text to values ------------------------------------------------------------------------ */

static void trim(const char **s, size_t *n) {
    while (*n && isspace((unsigned char)**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n && isspace((unsigned char)(*s)[*n - 1]))
        (*n)--;
}

/* pydantic's lax int from a string: optional sign, digits, '_' between digits, spaces around. */
bool aw__parse_int(const char *s, size_t n, int64_t *out) {
    trim(&s, &n);
    if (!n)
        return false;
    bool neg = false;
    size_t i = 0;
    if (s[0] == '-' || s[0] == '+') {
        neg = s[0] == '-';
        i++;
    }
    if (i == n)
        return false;
    uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    bool digit_before = false;
    for (; i < n; i++) {
        char ch = s[i];
        if (ch == '_' && digit_before && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '9')
            continue;
        if (ch < '0' || ch > '9')
            return false;
        unsigned d = (unsigned)(ch - '0');
        if (v > (limit - d) / 10)
            return false;
        v = v * 10 + d;
        digit_before = true;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

bool aw__parse_float(const char *s, size_t n, double *out) {
    trim(&s, &n);
    if (!n || n > 400)
        return false;
    char buf[401];
    memcpy(buf, s, n);
    buf[n] = '\0';
    /* strtod takes hex floats and "infinity" spellings pydantic does not; keep to decimal. */
    for (size_t i = 0; i < n; i++)
        if (buf[i] == 'x' || buf[i] == 'X' || buf[i] == 'p' || buf[i] == 'P')
            return false;
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (end != buf + n)
        return false;
    *out = v;
    return true;
}

bool aw__parse_bool(const char *s, size_t n, bool *out) {
    static const char *const yes[] = {"1", "on", "t", "true", "y", "yes"};
    static const char *const no[] = {"0", "off", "f", "false", "n", "no"};
    trim(&s, &n);
    for (size_t i = 0; i < 6; i++) {
        if (strlen(yes[i]) == n && strncasecmp(s, yes[i], n) == 0) {
            *out = true;
            return true;
        }
        if (strlen(no[i]) == n && strncasecmp(s, no[i], n) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

/* Characters, not bytes: pydantic counts code points. */
static size_t utf8_len(const char *s) {
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

/* A bound as pydantic prints it: 1 for an integral value, else Python's repr. */
static void fmt_num(char *out, size_t cap, double v) {
    if (v == floor(v) && fabs(v) < 1e15)
        snprintf(out, cap, "%.0f", v);
    else
        snprintf(out, cap, "%.17g", v);
    /* Shortest form that reads back the same, like Python's repr. */
    for (int prec = 1; prec <= 17 && !(v == floor(v) && fabs(v) < 1e15); prec++) {
        char tmp[64];
        snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
        if (strtod(tmp, NULL) == v) {
            snprintf(out, cap, "%s", tmp);
            break;
        }
    }
}

static json_t *num_json(double v) {
    if (v == floor(v) && fabs(v) < 9e15)
        return json_integer((json_int_t)v);
    return json_real(v);
}

static json_t *loc2(aw_param_in_t in, const char *name) {
    return json_pack("[ss]", aw__in_name(in), name);
}

static json_t *loc_child(json_t *loc, const char *key, size_t idx) {
    json_t *l = json_copy(loc);
    if (!l)
        return NULL;
    json_array_append_new(l, key ? json_string(key) : json_integer((json_int_t)idx));
    return l;
}

/*
 * Where a value came from, for its error: a JSON body gives `loc` and
 * `input` ready made (owned here); a URL or header value gives what to build
 * them from, and they are only built if the value fails (the success path
 * allocates nothing). The check functions consume it: src_done() or an
 * error that takes both.
 */
struct src {
    json_t *loc, *input;
    aw_param_in_t in;
    const char *name, *text;
};

static json_t *src_loc(struct src *s) {
    json_t *l = s->loc ? s->loc : loc2(s->in, s->name);
    s->loc = NULL;
    return l;
}

static json_t *src_input(struct src *s) {
    json_t *i = s->input ? s->input : json_string(s->text);
    s->input = NULL;
    return i;
}

static void src_done(struct src *s) {
    json_decref(s->loc);
    json_decref(s->input);
    s->loc = s->input = NULL;
}

static void src_error(json_t *errors, struct src *s, const char *type, const char *msg,
                      json_t *ctx) {
    json_t *loc = src_loc(s);
    aw__error_add(errors, type, loc, msg, src_input(s), ctx);
}

/* Checks the bounds of a number; appends an error and returns false if one fails. */
static bool check_bounds(const aw_param_t *p, double v, json_t *errors, struct src *s) {
    const char *type = NULL, *key = NULL, *words = NULL;
    double bound = 0;
    if (p->has_ge && !(v >= p->ge))
        type = "greater_than_equal", key = "ge", words = "greater than or equal to", bound = p->ge;
    else if (p->has_gt && !(v > p->gt))
        type = "greater_than", key = "gt", words = "greater than", bound = p->gt;
    else if (p->has_le && !(v <= p->le))
        type = "less_than_equal", key = "le", words = "less than or equal to", bound = p->le;
    else if (p->has_lt && !(v < p->lt))
        type = "less_than", key = "lt", words = "less than", bound = p->lt;
    if (!type) {
        src_done(s);
        return true;
    }
    char num[64], msg[160];
    fmt_num(num, sizeof(num), bound);
    snprintf(msg, sizeof(msg), "Input should be %s %s", words, num);
    json_t *ctx = json_object();
    json_object_set_new(ctx, key, num_json(bound));
    src_error(errors, s, type, msg, ctx);
    return false;
}

static bool check_string(const aw_param_t *p, const regex_t *re, const char *str, json_t *errors,
                         struct src *s) {
    char msg[256];
    size_t n = (p->min_len || p->max_len) ? utf8_len(str) : 0;
    if (p->min_len && n < p->min_len) {
        snprintf(msg, sizeof(msg), "String should have at least %zu character%s", p->min_len,
                 p->min_len == 1 ? "" : "s");
        src_error(errors, s, "string_too_short", msg,
                  json_pack("{sI}", "min_length", (json_int_t)p->min_len));
        return false;
    }
    if (p->max_len && n > p->max_len) {
        snprintf(msg, sizeof(msg), "String should have at most %zu character%s", p->max_len,
                 p->max_len == 1 ? "" : "s");
        src_error(errors, s, "string_too_long", msg,
                  json_pack("{sI}", "max_length", (json_int_t)p->max_len));
        return false;
    }
    if (re && regexec(re, str, 0, NULL, 0) != 0) {
        snprintf(msg, sizeof(msg), "String should match pattern '%s'", p->pattern);
        src_error(errors, s, "string_pattern_mismatch", msg,
                  json_pack("{ss}", "pattern", p->pattern));
        return false;
    }
    src_done(s);
    return true;
}

/* "'a', 'b' or 'c'", pydantic's list of expected values. */
static void expected_list(const aw_param_t *p, char *out, size_t cap) {
    size_t len = 0, count = 0;
    out[0] = '\0';
    while (p->choices && p->choices[count])
        count++;
    for (size_t i = 0; i < count && len < cap; i++) {
        const char *sep = i == 0 ? "" : (i + 1 == count ? " or " : ", ");
        int w = snprintf(out + len, cap - len, "%s'%s'", sep, p->choices[i]);
        if (w < 0)
            break;
        len += (size_t)w;
    }
}

static bool check_choice(const aw_param_t *p, const char *str, json_t *errors, struct src *s) {
    for (size_t i = 0; p->choices && p->choices[i]; i++)
        if (strcmp(p->choices[i], str) == 0) {
            src_done(s);
            return true;
        }
    char exp[512], msg[600];
    expected_list(p, exp, sizeof(exp));
    snprintf(msg, sizeof(msg), "Input should be %s", exp);
    src_error(errors, s, "enum", msg, json_pack("{ss}", "expected", exp));
    return false;
}

/*
 * Parses text `str` as param `d` into `v`. On failure appends the error
 * (located by `s`, which is consumed either way) and returns false.
 */
static bool parse_text(const struct aw__pdecl *d, const char *str, struct aw__value *v,
                       json_t *errors, struct src *s) {
    const aw_param_t *p = &d->p;
    size_t n = strlen(str);
    switch (p->type) {
    case AW_T_INT:
        if (!aw__parse_int(str, n, &v->i)) {
            src_error(errors, s, "int_parsing",
                      "Input should be a valid integer, unable to parse string as an integer", NULL);
            return false;
        }
        return check_bounds(p, (double)v->i, errors, s);
    case AW_T_FLOAT:
        if (!aw__parse_float(str, n, &v->f)) {
            src_error(errors, s, "float_parsing",
                      "Input should be a valid number, unable to parse string as a number", NULL);
            return false;
        }
        return check_bounds(p, v->f, errors, s);
    case AW_T_BOOL:
        if (!aw__parse_bool(str, n, &v->b)) {
            src_error(errors, s, "bool_parsing",
                      "Input should be a valid boolean, unable to interpret input", NULL);
            return false;
        }
        src_done(s);
        return true;
    case AW_T_ENUM:
        v->s = str;
        return check_choice(p, str, errors, s);
    default:
        v->s = str;
        return check_string(p, d->has_re ? &d->re : NULL, str, errors, s);
    }
}

/* ---- declarations -------------------------------------------------------------------------- */

int aw__pdecl_init(struct aw__pdecl *d, const aw_param_t *p, const char *where) {
    memset(d, 0, sizeof(*d));
    d->p = *p;
    d->cap = -1;
    if (!p->name || !*p->name) {
        aw_log(AW_LOG_ERROR, "%s: a param without a name", where);
        return AW_EINVAL;
    }
    if (p->type == AW_T_ENUM && (!p->choices || !p->choices[0])) {
        aw_log(AW_LOG_ERROR, "%s: enum param '%s' has no .choices", where, p->name);
        return AW_EINVAL;
    }
    if (p->pattern) {
        int rc = regcomp(&d->re, p->pattern, REG_EXTENDED | REG_NOSUB);
        if (rc != 0) {
            char err[128];
            regerror(rc, &d->re, err, sizeof(err));
            aw_log(AW_LOG_ERROR, "%s: param '%s': bad pattern '%s': %s", where, p->name,
                   p->pattern, err);
            return AW_EINVAL;
        }
        d->has_re = true;
    }
    if (p->def) {
        if (p->in == AW_IN_BODY) {
            json_t *j = json_loads(p->def, JSON_DECODE_ANY, NULL);
            if (!j) {
                aw_log(AW_LOG_ERROR, "%s: field '%s': default is not JSON: %s", where, p->name,
                       p->def);
                aw__pdecl_fini(d);
                return AW_EINVAL;
            }
            json_decref(j);
        } else {
            json_t *errors = json_array();
            struct aw__value v = {0};
            struct src src = {.in = p->in, .name = p->name, .text = p->def};
            bool ok = parse_text(d, p->def, &v, errors, &src);
            json_decref(errors);
            if (!ok) {
                aw_log(AW_LOG_ERROR, "%s: param '%s': default '%s' does not validate", where,
                       p->name, p->def);
                aw__pdecl_fini(d);
                return AW_EINVAL;
            }
            d->def_i = v.i;
            d->def_f = v.f;
            d->def_b = v.b;
        }
        d->has_def = true;
    }
    return 0;
}

void aw__pdecl_fini(struct aw__pdecl *d) {
    if (d->has_re)
        regfree(&d->re);
    d->has_re = false;
}

/* ---- request values ------------------------------------------------------------------------ */

static int hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes (and '+' to space for queries) into the arena. NULL on ENOMEM. */
char *aw__decode(aw_ctx_t *c, const char *s, size_t n, bool plus) {
    char *out = aw_ctx_alloc(c, n + 1);
    if (!out)
        return NULL;
    /* Most values need no decoding: one scan, one copy. */
    const char *pct = memchr(s, '%', n), *sp = plus ? memchr(s, '+', n) : NULL;
    size_t clean = pct ? (size_t)(pct - s) : n;
    if (sp && (size_t)(sp - s) < clean)
        clean = (size_t)(sp - s);
    memcpy(out, s, clean);
    if (clean == n) {
        out[n] = '\0';
        return out;
    }
    size_t o = clean;
    s += clean;
    n -= clean;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else if (ch == '+' && plus) {
            out[o++] = ' ';
        } else {
            out[o++] = ch;
        }
    }
    out[o] = '\0';
    return out;
}

/*
 * Splits the query once into raw (undecoded) pairs. Names are decoded only
 * if they hold '%' or '+' (rare), values only when a declared param asks
 * for them: most of a query is never copied.
 */
static int parse_query(aw_ctx_t *c) {
    c->query_parsed = true;
    aw_str_t q = aw_http_req_query(c->req);
    if (!q.ptr || !q.len)
        return 0;
    size_t count = 1;
    for (const char *a = q.ptr, *e = q.ptr + q.len; (a = memchr(a, '&', (size_t)(e - a))); a++)
        count++;
    c->query = aw_ctx_alloc(c, count * sizeof(*c->query));
    if (!c->query)
        return AW_ENOMEM;
    const char *p = q.ptr, *end = q.ptr + q.len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if (stop > p) {
            const char *eq = memchr(p, '=', (size_t)(stop - p));
            const char *kend = eq ? eq : stop;
            aw_str_t name = {p, (size_t)(kend - p)};
            if (memchr(name.ptr, '%', name.len) || memchr(name.ptr, '+', name.len)) {
                char *k = aw__decode(c, name.ptr, name.len, true);
                if (!k)
                    return AW_ENOMEM;
                name = (aw_str_t){k, strlen(k)};
            }
            c->query[c->nquery].name = name;
            c->query[c->nquery].value =
                eq ? (aw_str_t){eq + 1, (size_t)(stop - eq - 1)} : (aw_str_t){"", 0};
            c->nquery++;
        }
        if (!amp)
            break;
        p = amp + 1;
    }
    return 0;
}

/* The last value given for a query name (FastAPI takes the last), decoded; NULL if absent. */
static const char *query_value(aw_ctx_t *c, const char *name, bool *oom) {
    size_t n = strlen(name);
    for (size_t i = c->nquery; i-- > 0;)
        if (c->query[i].name.len == n && memcmp(c->query[i].name.ptr, name, n) == 0) {
            char *v = aw__decode(c, c->query[i].value.ptr, c->query[i].value.len, true);
            *oom = !v;
            return v;
        }
    return NULL;
}

/* A cookie's value from the Cookie header (first match), copied to the arena; NULL if absent. */
static const char *cookie_value(aw_ctx_t *c, const char *name) {
    size_t nlen = strlen(name);
    for (size_t i = 0;; i++) {
        aw_str_t hn, hv;
        if (!aw_http_req_header_at(c->req, i, &hn, &hv))
            return NULL;
        if (hn.len != 6 || strncasecmp(hn.ptr, "cookie", 6) != 0)
            continue;
        const char *p = hv.ptr, *end = hv.ptr + hv.len;
        while (p < end) {
            while (p < end && (*p == ' ' || *p == ';'))
                p++;
            const char *semi = memchr(p, ';', (size_t)(end - p));
            const char *stop = semi ? semi : end;
            const char *eq = memchr(p, '=', (size_t)(stop - p));
            if (eq && (size_t)(eq - p) == nlen && memcmp(p, name, nlen) == 0) {
                const char *v = eq + 1;
                size_t vlen = (size_t)(stop - v);
                while (vlen && v[vlen - 1] == ' ')
                    vlen--;
                if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
                    v++;
                    vlen -= 2;
                }
                char *out = aw_ctx_alloc(c, vlen + 1);
                if (!out)
                    return NULL;
                memcpy(out, v, vlen);
                out[vlen] = '\0';
                return out;
            }
            p = stop;
        }
    }
}

/*
 * Text from the URL or a header as valid UTF-8: invalid bytes become U+FFFD,
 * as Starlette decodes them, so a value can always be echoed in JSON.
 * Returns `s` itself (the common case) or a fixed copy in the arena; NULL on ENOMEM.
 */
static const char *utf8_fixed(aw_ctx_t *c, const char *s) {
    size_t n = strlen(s), i = 0;
    while (i < n) {
        if ((unsigned char)s[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = aw__utf8_seq((const unsigned char *)s + i, n - i);
        if (!k)
            break;
        i += k;
    }
    if (i == n)
        return s;
    char *out = aw_ctx_alloc(c, 3 * n + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (i = 0; i < n;) {
        size_t k = (unsigned char)s[i] < 0x80 ? 1 : aw__utf8_seq((const unsigned char *)s + i, n - i);
        if (k) {
            memcpy(out + o, s + i, k);
            o += k;
            i += k;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    out[o] = '\0';
    return out;
}

int aw__params_validate(aw_ctx_t *c, json_t *errors) {
    const struct aw__route *r = c->route;
    for (size_t i = 0; i < r->nparams; i++) {
        const struct aw__pdecl *d = &r->params[i];
        struct aw__value *v = &c->vals[i];
        const char *text = NULL;
        switch (d->p.in) {
        case AW_IN_PATH:
            if (d->cap >= 0 && d->cap < c->match.ncaps) {
                aw_str_t cap = c->match.caps[d->cap];
                text = aw__decode(c, cap.ptr, cap.len, false);
                if (!text)
                    return AW_ENOMEM;
            }
            break;
        case AW_IN_QUERY:
            if (!c->query_parsed && parse_query(c) < 0)
                return AW_ENOMEM;
            bool oom = false;
            text = query_value(c, d->p.name, &oom);
            if (oom)
                return AW_ENOMEM;
            break;
        case AW_IN_HEADER: {
            aw_str_t h = aw_http_req_header(c->req, d->p.name);
            if (h.ptr) {
                char *s = aw_ctx_alloc(c, h.len + 1);
                if (!s)
                    return AW_ENOMEM;
                memcpy(s, h.ptr, h.len);
                s[h.len] = '\0';
                text = s;
            }
            break;
        }
        case AW_IN_COOKIE:
            text = cookie_value(c, d->p.name);
            break;
        default:
            break;
        }
        if (text && !(text = utf8_fixed(c, text)))
            return AW_ENOMEM;
        if (!text) {
            if (d->has_def) {
                v->present = true;
                v->i = d->def_i;
                v->f = d->def_f;
                v->b = d->def_b;
                v->s = d->p.def;
            } else if (!d->p.optional) {
                aw__error_add(errors, "missing", loc2(d->p.in, d->p.name), "Field required",
                              json_null(), NULL);
            }
            continue;
        }
        struct src src = {.in = d->p.in, .name = d->p.name, .text = text};
        if (parse_text(d, text, v, errors, &src))
            v->present = true;
    }
    return 0;
}

/* ---- JSON values --------------------------------------------------------------------------- */

static void type_error(json_t *errors, const char *type, const char *msg, json_t *loc, json_t *v) {
    aw__error_add(errors, type, loc, msg, json_incref(v), NULL);
}

static void validate_object(const aw_param_t *fields, json_t *obj, json_t *loc, json_t *errors);

void aw__json_validate(const aw_param_t *p, json_t **vp, json_t *loc, json_t *errors) {
    json_t *v = *vp;
    if (json_is_null(v) && p->optional) {
        json_decref(loc);
        return;
    }
    switch (p->type) {
    case AW_T_STR:
    case AW_T_PATH:
        if (!json_is_string(v)) {
            type_error(errors, "string_type", "Input should be a valid string", loc, v);
            return;
        }
        {
            struct src src = {.loc = json_incref(loc), .input = json_incref(v)};
            check_string(p, NULL, json_string_value(v), errors, &src);
        }
        if (p->pattern) {
            regex_t re;
            if (regcomp(&re, p->pattern, REG_EXTENDED | REG_NOSUB) == 0) {
                if (regexec(&re, json_string_value(v), 0, NULL, 0) != 0) {
                    char msg[256];
                    snprintf(msg, sizeof(msg), "String should match pattern '%s'", p->pattern);
                    aw__error_add(errors, "string_pattern_mismatch", json_incref(loc), msg,
                                  json_incref(v), json_pack("{ss}", "pattern", p->pattern));
                }
                regfree(&re);
            }
        }
        json_decref(loc);
        return;
    case AW_T_INT: {
        int64_t i;
        if (json_is_integer(v)) {
            i = json_integer_value(v);
        } else if (json_is_real(v)) {
            double f = json_real_value(v);
            if (f != floor(f) || fabs(f) > 9.2e18) {
                type_error(errors, "int_from_float",
                           "Input should be a valid integer, got a number with a fractional part",
                           loc, v);
                return;
            }
            i = (int64_t)f;
        } else if (json_is_string(v)) {
            const char *s = json_string_value(v);
            if (!aw__parse_int(s, json_string_length(v), &i)) {
                type_error(errors, "int_parsing",
                           "Input should be a valid integer, unable to parse string as an integer",
                           loc, v);
                return;
            }
        } else {
            type_error(errors, "int_type", "Input should be a valid integer", loc, v);
            return;
        }
        struct src src = {.loc = json_incref(loc), .input = json_incref(v)};
        if (check_bounds(p, (double)i, errors, &src) && !json_is_integer(v)) {
            json_t *nv = json_integer(i);
            if (nv) {
                json_decref(*vp);
                *vp = nv;
            }
        }
        json_decref(loc);
        return;
    }
    case AW_T_FLOAT: {
        double f;
        if (json_is_number(v)) {
            f = json_number_value(v);
        } else if (json_is_string(v)) {
            if (!aw__parse_float(json_string_value(v), json_string_length(v), &f)) {
                type_error(errors, "float_parsing",
                           "Input should be a valid number, unable to parse string as a number",
                           loc, v);
                return;
            }
        } else {
            type_error(errors, "float_type", "Input should be a valid number", loc, v);
            return;
        }
        struct src src = {.loc = json_incref(loc), .input = json_incref(v)};
        if (check_bounds(p, f, errors, &src) && !json_is_real(v)) {
            json_t *nv = json_real(f);
            if (nv) {
                json_decref(*vp);
                *vp = nv;
            }
        }
        json_decref(loc);
        return;
    }
    case AW_T_BOOL: {
        bool b;
        if (json_is_boolean(v)) {
            json_decref(loc);
            return;
        }
        if (json_is_string(v) && aw__parse_bool(json_string_value(v), json_string_length(v), &b)) {
        } else if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1)) {
            b = json_integer_value(v) == 1;
        } else {
            type_error(errors, json_is_string(v) ? "bool_parsing" : "bool_type",
                       json_is_string(v) ? "Input should be a valid boolean, unable to interpret input"
                                         : "Input should be a valid boolean",
                       loc, v);
            return;
        }
        json_decref(*vp);
        *vp = json_boolean(b);
        json_decref(loc);
        return;
    }
    case AW_T_ENUM:
        if (!json_is_string(v)) {
            char exp[512], msg[600];
            expected_list(p, exp, sizeof(exp));
            snprintf(msg, sizeof(msg), "Input should be %s", exp);
            aw__error_add(errors, "enum", loc, msg, json_incref(v),
                          json_pack("{ss}", "expected", exp));
            return;
        }
        {
            struct src src = {.loc = loc, .input = json_incref(v)};
            check_choice(p, json_string_value(v), errors, &src);
        }
        return;
    case AW_T_OBJECT:
        if (!json_is_object(v)) {
            type_error(errors, "model_attributes_type",
                       "Input should be a valid dictionary or object to extract fields from", loc,
                       v);
            return;
        }
        validate_object(p->fields, v, loc, errors);
        json_decref(loc);
        return;
    case AW_T_ARRAY: {
        if (!json_is_array(v)) {
            type_error(errors, "list_type", "Input should be a valid list", loc, v);
            return;
        }
        size_t n = json_array_size(v);
        char msg[160];
        if (p->min_len && n < p->min_len) {
            snprintf(msg, sizeof(msg), "List should have at least %zu item%s after validation, not %zu",
                     p->min_len, p->min_len == 1 ? "" : "s", n);
            aw__error_add(errors, "too_short", json_incref(loc), msg, json_incref(v),
                          json_pack("{sssIsI}", "field_type", "List", "min_length",
                                    (json_int_t)p->min_len, "actual_length", (json_int_t)n));
        } else if (p->max_len && n > p->max_len) {
            snprintf(msg, sizeof(msg), "List should have at most %zu item%s after validation, not %zu",
                     p->max_len, p->max_len == 1 ? "" : "s", n);
            aw__error_add(errors, "too_long", json_incref(loc), msg, json_incref(v),
                          json_pack("{sssIsI}", "field_type", "List", "max_length",
                                    (json_int_t)p->max_len, "actual_length", (json_int_t)n));
        }
        if (p->items) {
            for (size_t i = 0; i < n; i++) {
                json_t *item = json_incref(json_array_get(v, i));
                json_t *before = item;
                aw__json_validate(p->items, &item, loc_child(loc, NULL, i), errors);
                if (item != before)
                    json_array_set(v, i, item);
                json_decref(item);
            }
        }
        json_decref(loc);
        return;
    }
    default:
        json_decref(loc);
        return;
    }
}

static void validate_object(const aw_param_t *fields, json_t *obj, json_t *loc, json_t *errors) {
    /* A missing field's error shows the object as it came, before any
     * default is filled in or any value coerced: keep a copy for that. */
    json_t *as_sent = NULL;
    for (const aw_param_t *f = fields; f && f->name; f++)
        if (!f->def && !f->optional && !json_object_get(obj, f->name)) {
            as_sent = json_deep_copy(obj);
            break;
        }
    for (const aw_param_t *f = fields; f && f->name; f++) {
        json_t *v = json_object_get(obj, f->name);
        if (!v) {
            if (!f->def && !f->optional)
                aw__error_add(errors, "missing", loc_child(loc, f->name, 0), "Field required",
                              json_incref(as_sent), NULL);
            continue;
        }
        json_t *nv = json_incref(v);
        aw__json_validate(f, &nv, loc_child(loc, f->name, 0), errors);
        if (nv != v)
            json_object_set(obj, f->name, nv);
        json_decref(nv);
    }
    json_decref(as_sent);
    /* Then absent fields get their default, or null, as pydantic's model would hold. */
    for (const aw_param_t *f = fields; f && f->name; f++) {
        if (json_object_get(obj, f->name))
            continue;
        if (f->def) {
            json_t *d = json_loads(f->def, JSON_DECODE_ANY, NULL);
            if (d)
                json_object_set_new(obj, f->name, d);
        } else if (f->optional) {
            json_object_set_new(obj, f->name, json_null());
        }
    }
}
