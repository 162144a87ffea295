/* SPDX-License-Identifier: MIT */
/*
 * A small TAP test harness: TEST(name) registers a test; the runner
 * (runner.c) runs each one in its own forked process under a timeout, so a
 * crash or a hang fails that test alone. `./test_x name` runs one test in
 * the foreground, for a debugger.
 */
#ifndef AW_TEST_H
#define AW_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*test_fn)(void);
void test_register(const char *name, test_fn fn);

/* Registers a test that runs fn(arg): for data-driven cases (name and arg are kept). */
void test_register_data(const char *name, void (*fn)(const void *arg), const void *arg);

#define TEST(name)                                                             \
    static void test_##name(void);                                             \
    __attribute__((constructor)) static void test_reg_##name(void) {           \
        test_register(#name, test_##name);                                     \
    }                                                                          \
    static void test_##name(void)

#define TEST_FAIL_(...)                                                        \
    do {                                                                       \
        fprintf(stderr, "# %s:%d: ", __FILE__, __LINE__);                      \
        fprintf(stderr, __VA_ARGS__);                                          \
        fprintf(stderr, "\n");                                                 \
        fflush(stderr);                                                        \
        abort();                                                               \
    } while (0)

#define ASSERT_OP_(a, op, b)                                                   \
    do {                                                                       \
        long long a_ = (long long)(a), b_ = (long long)(b);                    \
        if (!(a_ op b_))                                                       \
            TEST_FAIL_("assertion failed: %s %s %s (%lld %s %lld)", #a, #op,   \
                       #b, a_, #op, b_);                                       \
    } while (0)

#define ASSERT_EQ(a, b) ASSERT_OP_(a, ==, b)
#define ASSERT_NE(a, b) ASSERT_OP_(a, !=, b)
#define ASSERT_LT(a, b) ASSERT_OP_(a, <, b)
#define ASSERT_LE(a, b) ASSERT_OP_(a, <=, b)
#define ASSERT_GT(a, b) ASSERT_OP_(a, >, b)
#define ASSERT_GE(a, b) ASSERT_OP_(a, >=, b)
#define ASSERT_TRUE(x)                                                         \
    do {                                                                       \
        if (!(x))                                                              \
            TEST_FAIL_("assertion failed: %s", #x);                            \
    } while (0)
#define ASSERT_FALSE(x) ASSERT_TRUE(!(x))
#define ASSERT_PTR_EQ(a, b)                                                    \
    do {                                                                       \
        const void *a_ = (a), *b_ = (b);                                       \
        if (a_ != b_)                                                          \
            TEST_FAIL_("assertion failed: %s == %s (%p != %p)", #a, #b, a_, b_); \
    } while (0)
#define ASSERT_STR_EQ(a, b)                                                    \
    do {                                                                       \
        const char *a_ = (a), *b_ = (b);                                       \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                                 \
            TEST_FAIL_("assertion failed: %s == %s (\"%s\" != \"%s\")", #a, #b,  \
                       a_ ? a_ : "(null)", b_ ? b_ : "(null)");                \
    } while (0)
#define ASSERT_CONTAINS(hay, needle)                                           \
    do {                                                                       \
        const char *h_ = (hay), *n_ = (needle);                                \
        if (!h_ || !strstr(h_, n_))                                            \
            TEST_FAIL_("assertion failed: %s contains \"%s\" (got \"%s\")",    \
                       #hay, n_, h_ ? h_ : "(null)");                          \
    } while (0)

/*
 * Runs fn(arg) in a forked child with its stderr captured into out (NUL
 * terminated). Returns the child's wait status. For tests of crash reports.
 */
int test_run_child(void (*fn)(void *), void *arg, char *out, size_t out_size);

/* True when the binary was built with AddressSanitizer or ThreadSanitizer. */
int test_under_sanitizer(void);

#endif
