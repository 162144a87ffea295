/* SPDX-License-Identifier: MIT */
/*
 * aw_reply_jsonf()'s fast path: json_pack()'s format written straight to
 * text, with no json_t tree in between.
 *
 * DESIGN
 * Building a tree and dumping it costs more than the rest of a small JSON
 * endpoint (two thirds of the web layer's instructions on the benchmark's
 * route). This writer reads the same format and produces the bytes
 * json_dumps(JSON_COMPACT | JSON_REAL_PRECISION(15)) would, for the common
 * subset: s s? s# n b i I f o O o? O? and nesting. Anything else (a format
 * it does not know, invalid UTF-8, a NaN, a NULL where one is not allowed)
 * makes it give up without side effects, and the caller runs jansson on a
 * copy of the arguments, which reports the error as it always did. Values
 * passed with 'o' are only released once the text is complete.
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/buf.h"
#include "web_internal.h"

/* The text grows in an aw__buf (src/common/buf.h); the usual append is inline. */
typedef aw__buf_t jbuf_t;

static inline void put(jbuf_t *b, const char *s, size_t n) {
    aw__buf_put(b, s, n);
}

/* Length of a valid UTF-8 sequence starting at s (0 if invalid), as jansson checks it. */
size_t aw__utf8_seq(const unsigned char *s, size_t left) {
    unsigned c = s[0];
    size_t n;
    unsigned cp;
    if (c < 0x80)
        return 1;
    if (c < 0xC2)
        return 0;
    if (c < 0xE0)
        n = 2, cp = c & 0x1F;
    else if (c < 0xF0)
        n = 3, cp = c & 0x0F;
    else if (c < 0xF5)
        n = 4, cp = c & 0x07;
    else
        return 0;
    if (n > left)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* Bytes that go out as they are: printable ASCII but '"' and '\\'. */
static inline bool plain(unsigned char c) {
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/* Eight bytes at a time: true if any needs escaping or is not ASCII. */
static inline bool word_special(uint64_t w) {
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    uint64_t quote = w ^ (ones * '"'), bslash = w ^ (ones * '\\');
    /* A zero byte in x shows as (x - ones) & ~x & highs; bytes < 0x20 as (w - 0x20..) & ~w. */
    uint64_t hit = ((quote - ones) & ~quote) | ((bslash - ones) & ~bslash) | ((w - ones * 0x20) & ~w) | w;
    return (hit & highs) != 0;
}

static bool put_string(jbuf_t *b, const char *s, size_t n) {
    put(b, "\"", 1);
    size_t run = 0;
    /* Plain stretches go by words; only a word with something special is looked at bytewise. */
    while (run + 8 <= n) {
        uint64_t w;
        memcpy(&w, s + run, 8);
        if (word_special(w))
            break;
        run += 8;
    }
    for (size_t i = run; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (plain(c)) {
            i++;
            run++;
            continue;
        }
        put(b, s + i - run, run);
        run = 0;
        if (c >= 0x80) {
            size_t k = aw__utf8_seq((const unsigned char *)s + i, n - i);
            if (!k)
                return false;
            put(b, s + i, k);
            i += k;
            continue;
        }
        char esc[8];
        switch (c) {
        case '"': put(b, "\\\"", 2); break;
        case '\\': put(b, "\\\\", 2); break;
        case '\b': put(b, "\\b", 2); break;
        case '\f': put(b, "\\f", 2); break;
        case '\n': put(b, "\\n", 2); break;
        case '\r': put(b, "\\r", 2); break;
        case '\t': put(b, "\\t", 2); break;
        default:
            snprintf(esc, sizeof(esc), "\\u%04X", c);
            put(b, esc, 6);
        }
        i++;
    }
    put(b, s + n - run, run);
    put(b, "\"", 1);
    return true;
}

/* A real as jansson prints it with precision 15: "%.15g", a ".0" if it looks whole, a bare exponent. */
static bool put_real(jbuf_t *b, double v) {
    if (!isfinite(v))
        return false;
    char s[40];
    int n = snprintf(s, sizeof(s), "%.15g", v);
    if (n <= 0 || n >= (int)sizeof(s) - 3)
        return false;
    if (!strchr(s, '.') && !strchr(s, 'e')) {
        memcpy(s + n, ".0", 3);
        n += 2;
    }
    char *e = strchr(s, 'e');
    if (e) {
        /* "1e+20" is "1e20", "1e-05" is "1e-5". */
        char *d = e + 1, *src = e + 1;
        if (*src == '+')
            src++;
        else if (*src == '-')
            *d++ = *src++;
        while (*src == '0' && src[1])
            src++;
        memmove(d, src, strlen(src) + 1);
        n = (int)strlen(s);
    }
    put(b, s, (size_t)n);
    return true;
}

struct steal {
    json_t *v[16];
    int n;
};

static bool put_json(jbuf_t *b, json_t *v) {
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
    if (!s)
        return false;
    put(b, s, strlen(s));
    free(s);
    return true;
}

static bool value(jbuf_t *b, const char **f, va_list *ap, struct steal *st, int depth);

static void skip_ws(const char **f) {
    /* Everything json_pack skips is at or below ':' in ASCII; letters and brackets are above. */
    while (**f && (unsigned char)**f <= ':' &&
           (**f == ' ' || **f == '\t' || **f == '\n' || **f == ',' || **f == ':'))
        (*f)++;
}

static bool compound(jbuf_t *b, const char **f, va_list *ap, struct steal *st, int depth,
                     char close) {
    bool first = true;
    for (;;) {
        skip_ws(f);
        if (**f == close) {
            (*f)++;
            put(b, close == '}' ? "}" : "]", 1);
            return true;
        }
        if (!**f)
            return false;
        if (!first)
            put(b, ",", 1);
        first = false;
        if (close == '}') {
            if (**f != 's' || (*f)[1] == '?' || (*f)[1] == '#' || (*f)[1] == '%' || (*f)[1] == '+')
                return false;
            (*f)++;
            const char *k = va_arg(*ap, const char *);
            if (!k || !put_string(b, k, strlen(k)))
                return false;
            put(b, ":", 1);
            skip_ws(f);
        }
        if (!value(b, f, ap, st, depth + 1))
            return false;
    }
}

static bool value(jbuf_t *b, const char **f, va_list *ap, struct steal *st, int depth) {
    if (depth > 32)
        return false;
    skip_ws(f);
    char c = *(*f)++;
    switch (c) {
    case '{':
        put(b, "{", 1);
        return compound(b, f, ap, st, depth, '}');
    case '[':
        put(b, "[", 1);
        return compound(b, f, ap, st, depth, ']');
    case 's': {
        if (**f == '#') {
            (*f)++;
            const char *s = va_arg(*ap, const char *);
            int n = va_arg(*ap, int);
            return s && n >= 0 && put_string(b, s, (size_t)n);
        }
        if (**f == '%' || **f == '+' || **f == '*')
            return false;
        bool nullable = **f == '?';
        if (nullable)
            (*f)++;
        const char *s = va_arg(*ap, const char *);
        if (!s) {
            if (!nullable)
                return false;
            put(b, "null", 4);
            return true;
        }
        return put_string(b, s, strlen(s));
    }
    case 'n':
        put(b, "null", 4);
        return true;
    case 'b':
        if (va_arg(*ap, int))
            put(b, "true", 4);
        else
            put(b, "false", 5);
        return true;
    case 'i':
    case 'I': {
        long long v = c == 'i' ? (long long)va_arg(*ap, int) : (long long)va_arg(*ap, json_int_t);
        /* Digits by hand: snprintf costs more than the rest of a small reply. */
        char s[24];
        char *e = s + sizeof(s), *d = e;
        unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
        do
            *--d = (char)('0' + u % 10);
        while (u /= 10);
        if (v < 0)
            *--d = '-';
        put(b, d, (size_t)(e - d));
        return true;
    }
    case 'f':
        return put_real(b, va_arg(*ap, double));
    case 'o':
    case 'O': {
        if (**f == '*')
            return false;
        bool nullable = **f == '?';
        if (nullable)
            (*f)++;
        json_t *v = va_arg(*ap, json_t *);
        if (!v) {
            if (!nullable)
                return false;
            put(b, "null", 4);
            return true;
        }
        if (c == 'o') {
            if (st->n == (int)(sizeof(st->v) / sizeof(st->v[0])))
                return false;
            st->v[st->n++] = v;
        }
        return put_json(b, v);
    }
    default:
        return false;
    }
}

bool aw__jsonf(aw__buf_t *b, const char *fmt, va_list ap) {
    struct steal st = {.n = 0};
    size_t start = b->len;
    va_list a;
    va_copy(a, ap);
    const char *f = fmt;
    bool ok = value(b, &f, &a, &st, 0);
    va_end(a);
    skip_ws(&f);
    if (!ok || *f || b->failed) {
        b->len = start;
        return false;
    }
    for (int i = 0; i < st.n; i++)
        json_decref(st.v[i]); /* 'o' steals, as json_pack's does */
    aw__buf_put(b, "", 1);    /* a NUL after the text, not counted */
    b->len--;
    return !b->failed;
}
