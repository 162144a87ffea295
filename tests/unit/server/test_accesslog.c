/* SPDX-License-Identifier: MIT */
/* Tests for src/server/accesslog.c: line formats, escaping, the logger task, the cap. */
#include <pthread.h>
#include <unistd.h>

#include "../../../src/server/server_internal.h"
#include "../test.h"

static struct aw__access_rec rec_of(const char *method, const char *target, int status,
                                    int64_t bytes) {
    struct aw__access_rec r = {
        .method = method,
        .target = {target, strlen(target)},
        .version = 11,
        .status = status,
        .bytes = bytes,
        .duration_us = 1234,
        .when = 1795908567, /* 2026-11-28T23:29:27Z */
    };
    return r;
}

static const char *format(int fmt, const struct aw__access_rec *r) {
    static char line[AW__ACCESS_LINE_MAX + 1];
    size_t n = aw__access_format(fmt, r, line);
    ASSERT_LE(n, AW__ACCESS_LINE_MAX);
    ASSERT_EQ(line[n - 1], '\n');
    line[n] = '\0';
    return line;
}

TEST(clf_line) {
    struct aw__access_rec r = rec_of("GET", "/x?y=1", 200, 13);
    ASSERT_STR_EQ(format(AW_ACCESS_LOG_CLF, &r),
                  "- - - [28/Nov/2026:23:29:27 +0000] \"GET /x?y=1 HTTP/1.1\" 200 13 1234\n");
    r.version = 10;
    r.status = 0;
    r.bytes = -1;
    ASSERT_STR_EQ(format(AW_ACCESS_LOG_CLF, &r),
                  "- - - [28/Nov/2026:23:29:27 +0000] \"GET /x?y=1 HTTP/1.0\" - - 1234\n");
}

TEST(json_line) {
    struct aw__access_rec r = rec_of("POST", "/a", 404, 0);
    ASSERT_STR_EQ(format(AW_ACCESS_LOG_JSON, &r),
                  "{\"time\":\"2026-11-28T23:29:27Z\",\"remote\":null,\"method\":\"POST\","
                  "\"target\":\"/a\",\"version\":\"HTTP/1.1\",\"status\":404,\"bytes\":0,"
                  "\"duration_us\":1234}\n");
    r.status = 0;
    r.bytes = -1;
    ASSERT_CONTAINS(format(AW_ACCESS_LOG_JSON, &r), "\"status\":null,\"bytes\":null,");
}

TEST(quotes_backslashes_and_control_bytes_are_escaped) {
    struct aw__access_rec r = rec_of("GET", "/\"a\\b\x01\xff", 200, 1);
    ASSERT_CONTAINS(format(AW_ACCESS_LOG_CLF, &r), "\"GET /\\\"a\\\\b\\x01\\xFF HTTP/1.1\"");
    ASSERT_CONTAINS(format(AW_ACCESS_LOG_JSON, &r), "\"target\":\"/\\\"a\\\\b\\u0001\\u00ff\"");
}

TEST(a_long_target_is_cut_and_the_line_stays_whole) {
    static char target[10000];
    memset(target, 'a', sizeof(target) - 1);
    target[0] = '/';
    for (int fmt = AW_ACCESS_LOG_CLF; fmt <= AW_ACCESS_LOG_JSON; fmt++) {
        struct aw__access_rec r = rec_of("GET", target, 200, 5);
        const char *line = format(fmt, &r);
        ASSERT_CONTAINS(line, "aaa...");
        ASSERT_CONTAINS(line,
                        fmt == AW_ACCESS_LOG_JSON ? "\"duration_us\":1234}\n" : " 200 5 1234\n");
    }
    /* Escapes that do not fit whole are not cut in half. */
    memset(target + 1, '"', sizeof(target) - 2);
    struct aw__access_rec r = rec_of("GET", target, 200, 5);
    const char *line = format(AW_ACCESS_LOG_JSON, &r);
    ASSERT_CONTAINS(line, "\\\"...\",\"version\"");
}

/* ---- the logger task ---- */

struct logger_case {
    int fd;
    int lines;
    uint64_t add_ns;
};

static void *log_lines(void *arg) {
    struct logger_case *c = arg;
    aw__access_log_t log;
    ASSERT_EQ(aw__access_log_start(&log, AW_ACCESS_LOG_CLF, c->fd), 0);
    uint64_t t0 = aw_now_ns();
    for (int i = 0; i < c->lines; i++) {
        char target[32];
        snprintf(target, sizeof(target), "/n/%d", i);
        struct aw__access_rec r = rec_of("GET", target, 200, i);
        aw__access_log_add(&log, &r);
    }
    c->add_ns = aw_now_ns() - t0;
    aw__access_log_stop(&log);
    return NULL;
}

static size_t read_lines(int fd, char *buf, size_t cap) {
    size_t got = 0;
    ssize_t n;
    while (got < cap && (n = read(fd, buf + got, cap - got)) > 0)
        got += (size_t)n;
    size_t lines = 0;
    for (size_t i = 0; i < got; i++)
        lines += buf[i] == '\n';
    return lines;
}

TEST(logger_writes_every_line_in_order) {
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    struct logger_case c = {p[1], 100, 0};
    ASSERT_EQ(aw_run(log_lines, &c, NULL), 0);
    close(p[1]);
    static char buf[1 << 16];
    ASSERT_EQ(read_lines(p[0], buf, sizeof(buf)), 100);
    ASSERT_TRUE(strncmp(buf, "- - - [", 7) == 0);
    ASSERT_CONTAINS(buf, "\"GET /n/0 HTTP/1.1\" 200 0 1234\n- - - ");
    ASSERT_CONTAINS(buf, "\"GET /n/99 HTTP/1.1\" 200 99 1234\n");
    close(p[0]);
    aw_pool_shutdown_default();
}

struct drain_case {
    int fd;
    size_t lines;
};

/* Reads the pipe on its own thread, as the program reading our stdout would. */
static void *drain(void *arg) {
    static char buf[1 << 23];
    struct drain_case *d = arg;
    d->lines = read_lines(d->fd, buf, sizeof(buf));
    return NULL;
}

/*
 * 30,000 lines at once, more than the 1 MiB buffer holds: adding never
 * waits, and what does not fit is dropped and counted.
 */
static void over_the_cap(void *arg) {
    (void)arg;
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    struct drain_case d = {p[0], 0};
    pthread_t reader;
    ASSERT_EQ(pthread_create(&reader, NULL, drain, &d), 0);
    struct logger_case c = {p[1], 30000, 0};
    ASSERT_EQ(aw_run(log_lines, &c, NULL), 0);
    close(p[1]);
    pthread_join(reader, NULL);
    close(p[0]);
    aw_pool_shutdown_default();
    ASSERT_GT(d.lines, 5000);
    ASSERT_LT(d.lines, 30000);
    ASSERT_LT(c.add_ns, 500 * 1000000ull); /* memory only, never the pipe */
    fprintf(stderr, "kept %zu\n", d.lines);
}

TEST(lines_over_the_cap_are_dropped_and_counted) {
    static char err[8192];
    int status = test_run_child(over_the_cap, NULL, err, sizeof(err));
    ASSERT_EQ(status, 0);
    unsigned long kept = 0, dropped = 0;
    const char *k = strstr(err, "kept ");
    const char *dr = strstr(err, "access log: dropped ");
    ASSERT_TRUE(k && dr);
    kept = strtoul(k + 5, NULL, 10);
    dropped = strtoul(dr + 20, NULL, 10);
    ASSERT_EQ(kept + dropped, 30000);
}
