/* SPDX-License-Identifier: MIT */
/*
 * aw__jsonf must write exactly what json_dumps(json_pack(...)) writes, or
 * give up (NULL) and let jansson answer: every case is run both ways.
 */
#include <math.h>
#include <stdarg.h>

#include "../../../src/web/web_internal.h"
#include "../test.h"

/* Both ways; returns 1 if the fast path gave up, 0 if it matched. */
static int same(const char *fmt, ...) {
    va_list a, b;
    va_start(a, fmt);
    va_copy(b, a);
    aw__buf_t buf = {0};
    char *fast = aw__jsonf(&buf, fmt, a) ? buf.p : NULL;
    size_t len = buf.len;
    if (!fast)
        free(buf.p);
    json_error_t err;
    json_t *v = json_vpack_ex(&err, 0, fmt, b);
    va_end(a);
    va_end(b);
    char *slow = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(v);
    int gave_up = fast == NULL;
    if (fast) {
        if (!slow || strcmp(fast, slow) != 0 || len != strlen(fast))
            TEST_FAIL_("format %s: fast %s, jansson %s", fmt, fast, slow ? slow : "(error)");
    }
    free(fast);
    free(slow);
    return gave_up;
}

TEST(common_formats_match_jansson_byte_for_byte) {
    ASSERT_EQ(same("{s:s}", "message", "Hello World"), 0);
    ASSERT_EQ(same("{s:I, s:s?}", "item_id", (json_int_t)5, "q", (const char *)NULL), 0);
    ASSERT_EQ(same("{s:i,s:b,s:b,s:n}", "a", -7, "t", 1, "f", 0, "z"), 0);
    ASSERT_EQ(same("[i, [s, {}], []]", 1, "x"), 0);
    ASSERT_EQ(same("{s:f, s:f, s:f, s:f}", "a", 0.1, "b", 1.0, "c", 1e20, "d", -2.5e-7), 0);
    ASSERT_EQ(same("{s:f}", "big", 123456789012.345), 0);
    ASSERT_EQ(same("{s:s}", "esc", "quote\" back\\ nl\n tab\t ctl\x01 del\x7f"), 0);
    ASSERT_EQ(same("{s:s}", "utf8", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8d\x94"), 0);
    ASSERT_EQ(same("{s:s#}", "cut", "abcdef", 3), 0);
    /* Long plain runs go by words: specials past the first word, and at word edges. */
    ASSERT_EQ(same("{s:s}", "w", "abcdefghijklmnop\"q"), 0);
    ASSERT_EQ(same("{s:s}", "w", "abcdefg\\hijklmnop"), 0);
    ASSERT_EQ(same("{s:s}", "w", "abcdefgh\x1fijklmnop"), 0);
    ASSERT_EQ(same("{s:s}", "w", "abcdefghijklmnopq\xc3\xa9"), 0);
    ASSERT_EQ(same("{s:s}", "w", "0123456789abcdef"), 0);
    ASSERT_EQ(same("{s:s}", "w", "~~~~~~~~ ~~~~~~~!#[]{}"), 0);
    ASSERT_EQ(same("{s:I}", "min", (json_int_t)INT64_MIN), 0);
    json_t *o = json_pack("{s:[i,i]}", "k", 1, 2);
    ASSERT_EQ(same("{s:O}", "nested", o), 0);
    json_decref(o);
    ASSERT_EQ(same("{s:O?}", "none", (json_t *)NULL), 0);
}

TEST(what_it_cannot_write_goes_to_jansson) {
    ASSERT_EQ(same("{s:s}", "bad", "\xff\xfe"), 1);    /* invalid UTF-8: jansson refuses it too */
    ASSERT_EQ(same("{s:s}", "null", (const char *)NULL), 1);
    ASSERT_EQ(same("{s:f}", "nan", NAN), 1);
    ASSERT_EQ(same("{s:s+}", "a", "b", "c"), 1);     /* concatenation: not on the fast path */
    ASSERT_EQ(same("{s:i", "a", 1), 1);                /* unterminated */
}

static char *fast_only(const char *fmt, ...) {
    va_list a;
    va_start(a, fmt);
    aw__buf_t buf = {0};
    char *s = aw__jsonf(&buf, fmt, a) ? buf.p : NULL;
    va_end(a);
    if (!s)
        free(buf.p);
    return s;
}

TEST(o_values_are_released_once_written_and_kept_when_it_gives_up) {
    json_t *inner = json_pack("[i]", 9);
    json_incref(inner); /* ours, plus the one the format takes */
    char *s = fast_only("{s:o}", "x", inner);
    ASSERT_STR_EQ(s, "{\"x\":[9]}");
    free(s);
    ASSERT_EQ((int)inner->refcount, 1);
    /* Giving up must not take it: jansson, run next, will. */
    ASSERT_TRUE(fast_only("{s:o, s:s+}", "x", inner, "a", "b", "c") == NULL);
    ASSERT_EQ((int)inner->refcount, 1);
    json_decref(inner);
}

static bool into(aw__buf_t *b, const char *fmt, ...) {
    va_list a;
    va_start(a, fmt);
    bool ok = aw__jsonf(b, fmt, a);
    va_end(a);
    return ok;
}

TEST(a_borrowed_first_block_is_used_then_left_for_the_heap) {
    char small[64];
    aw__buf_t b = {.p = small, .cap = sizeof(small), .borrowed = true};
    ASSERT_TRUE(into(&b, "{s:i}", "a", 1));
    ASSERT_TRUE(b.borrowed && b.p == small); /* it fit: no allocation */
    ASSERT_STR_EQ(b.p, "{\"a\":1}");
    aw__buf_t big = {.p = small, .cap = sizeof(small), .borrowed = true};
    const char *word = "0123456789012345678901234567890123456789";
    ASSERT_TRUE(into(&big, "[s,s,s]", word, word, word));
    ASSERT_TRUE(!big.borrowed && big.p != small); /* moved to the heap, contents kept */
    ASSERT_EQ(strncmp(big.p, "[\"0123456789", 12), 0);
    ASSERT_EQ((int)big.len, 3 * 42 + 4);
    free(big.p);
}

