/* SPDX-License-Identifier: MIT */
/* Tests for src/server/watchdog.c: who gets named, and the thread's reports. */
#include <unistd.h>

#include "../../../src/server/server_internal.h"
#include "../test.h"

static aw_str_t str(const char *s) {
    return (aw_str_t){s, strlen(s)};
}

/* A watchdog with its lock but no thread, to test the naming alone. */
static void init_bare(aw__watchdog_t *wd) {
    memset(wd, 0, sizeof(*wd));
    pthread_mutex_init(&wd->lock, NULL);
}

TEST(culprit_is_the_request_that_started_in_the_blocked_iteration) {
    aw__watchdog_t wd;
    init_bare(&wd);
    char out[512];
    aw__watchdog_culprit(&wd, 100, out, sizeof(out));
    ASSERT_STR_EQ(out, "no request (a task or timer outside the handlers)");

    struct aw__inflight a, b, c;
    aw__watchdog_enter(&wd, &a, "GET", str("/a"), 10);
    aw__watchdog_culprit(&wd, 100, out, sizeof(out));
    ASSERT_STR_EQ(out, "GET /a"); /* the only one in flight */
    aw__watchdog_enter(&wd, &b, "POST", str("/b"), 20);
    aw__watchdog_enter(&wd, &c, "PUT", str("/c"), 150);
    aw__watchdog_culprit(&wd, 100, out, sizeof(out));
    ASSERT_STR_EQ(out, "PUT /c"); /* started after the loop came back from epoll */
    aw__watchdog_culprit(&wd, 200, out, sizeof(out));
    ASSERT_STR_EQ(out, "one of 3 requests in flight: PUT /c, POST /b, GET /a");
    aw__watchdog_leave(&wd, &b);
    aw__watchdog_culprit(&wd, 200, out, sizeof(out));
    ASSERT_STR_EQ(out, "one of 2 requests in flight: PUT /c, GET /a");
    aw__watchdog_leave(&wd, &c);
    aw__watchdog_leave(&wd, &a);
    ASSERT_EQ(wd.ninflight, 0);
    ASSERT_TRUE(wd.inflight == NULL);
    pthread_mutex_destroy(&wd.lock);
}

TEST(long_and_odd_paths_are_cut_and_cleaned) {
    aw__watchdog_t wd;
    init_bare(&wd);
    static char path[400];
    memset(path, 'p', sizeof(path) - 1);
    path[0] = '/';
    path[1] = '\x1b';
    struct aw__inflight r;
    aw__watchdog_enter(&wd, &r, "GET", str(path), 1);
    char out[512];
    aw__watchdog_culprit(&wd, 0, out, sizeof(out));
    ASSERT_EQ(strlen(out), AW__ROUTE_MAX + 3); /* the record's bytes, then "..." */
    ASSERT_TRUE(strncmp(out, "GET /?ppp", 9) == 0);
    ASSERT_STR_EQ(out + AW__ROUTE_MAX, "...");
    aw__watchdog_leave(&wd, &r);
    pthread_mutex_destroy(&wd.lock);
}

struct block_case {
    useconds_t block_us;
};

static void *blocker(void *arg) {
    struct block_case *c = arg;
    aw__watchdog_t wd;
    ASSERT_EQ(aw__watchdog_start(&wd, aw_loop_current(), 50), 0);
    aw_sleep_ms(30); /* the loop idles in epoll: nothing to report */
    struct aw__inflight r;
    aw__watchdog_enter(&wd, &r, "GET", str("/slow"), aw_now_ns());
    if (c->block_us)
        usleep(c->block_us); /* what a handler must never do */
    aw__watchdog_leave(&wd, &r);
    aw_sleep_ms(100); /* lets the watchdog see the loop come back */
    aw__watchdog_stop(&wd);
    return NULL;
}

static void run_blocker(void *arg) {
    exit(aw_run(blocker, arg, NULL) == 0 ? 0 : 1);
}

TEST(a_blocked_loop_is_reported_once_with_the_route) {
    static char err[4096];
    struct block_case c = {300 * 1000};
    ASSERT_EQ(test_run_child(run_blocker, &c, err, sizeof(err)), 0);
    ASSERT_CONTAINS(err, "while serving GET /slow (a blocking call in an async handler? use "
                         "aw_run_blocking)");
    ASSERT_CONTAINS(err, "(it was serving GET /slow)");
    const char *b = strstr(err, "event loop blocked for ");
    const char *u = strstr(err, "event loop unblocked after ");
    ASSERT_TRUE(b && u && b < u);
    ASSERT_TRUE(strstr(b + 1, "event loop blocked for ") == NULL);
    long blocked = strtol(b + strlen("event loop blocked for "), NULL, 10);
    long total = strtol(u + strlen("event loop unblocked after "), NULL, 10);
    ASSERT_GE(blocked, 50);
    ASSERT_LT(blocked, 300);
    ASSERT_GE(total, 280);
    ASSERT_LT(total, 1000);
}

TEST(a_loop_that_waits_is_not_reported) {
    static char err[4096];
    struct block_case c = {0};
    ASSERT_EQ(test_run_child(run_blocker, &c, err, sizeof(err)), 0);
    ASSERT_STR_EQ(err, "");
}
