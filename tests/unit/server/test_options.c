/* SPDX-License-Identifier: MIT */
/* Tests for src/server/options.c. */
#include "../../../src/server/server_internal.h"
#include "../test.h"

static int parse(aw_server_options_t *o, const char **args) {
    char *argv[32] = {"prog"};
    int argc = 1;
    while (args[argc - 1])
        argv[argc] = (char *)args[argc - 1], argc++;
    aw_server_options_init(o);
    return aw_server_options_parse(o, argc, argv);
}

TEST(defaults) {
    aw_server_options_t o;
    ASSERT_EQ(parse(&o, (const char *[]){NULL}), 0);
    ASSERT_STR_EQ(o.host, "127.0.0.1");
    ASSERT_EQ(o.port, 8000);
    ASSERT_EQ(o.workers, 1);
    ASSERT_EQ(o.access_log, AW_ACCESS_LOG_OFF);
    ASSERT_EQ(o.graceful_timeout_ms, 30000);
    ASSERT_TRUE(o.readiness_path == NULL);
    ASSERT_EQ(o.watchdog_ms, 500);
}

TEST(server_layer_options) {
    aw_server_options_t o;
    ASSERT_EQ(
        parse(&o, (const char *[]){"--workers", "4", "--access-log=json", "--readiness-path",
                                   "/ready", "--watchdog-ms=0", "--graceful-timeout", "2.5", NULL}),
        0);
    ASSERT_EQ(o.workers, 4);
    ASSERT_EQ(o.access_log, AW_ACCESS_LOG_JSON);
    ASSERT_STR_EQ(o.readiness_path, "/ready");
    ASSERT_EQ(o.watchdog_ms, 0);
    ASSERT_EQ(o.graceful_timeout_ms, 2500);
    ASSERT_EQ(parse(&o, (const char *[]){"--access-log", NULL}), 0);
    ASSERT_EQ(o.access_log, AW_ACCESS_LOG_CLF);
}

static void parse_quietly(void *arg) {
    aw_server_options_t o;
    exit(parse(&o, arg) == AW_EINVAL ? 0 : 1);
}

/* Runs a parse that must fail, and returns what it printed. */
static const char *failing(const char **args) {
    static char err[1024];
    ASSERT_EQ(test_run_child(parse_quietly, args, err, sizeof(err)), 0);
    return err;
}

TEST(errors_name_the_option_and_what_was_wrong) {
    ASSERT_STR_EQ(failing((const char *[]){"--bogus", NULL}),
                  "error: --bogus: unknown option (see --help)\n");
    ASSERT_STR_EQ(failing((const char *[]){"--bogus=3", NULL}),
                  "error: --bogus: unknown option (see --help)\n");
    ASSERT_STR_EQ(failing((const char *[]){"--port", NULL}),
                  "error: --port: needs a value (see --help)\n");
    ASSERT_STR_EQ(failing((const char *[]){"--workers", "0", NULL}),
                  "error: --workers 0: expected a whole number from 1 to 512 (see --help)\n");
    ASSERT_STR_EQ(failing((const char *[]){"--access-log=xml", NULL}),
                  "error: --access-log xml: expected clf or json (see --help)\n");
    ASSERT_STR_EQ(failing((const char *[]){"--readiness-path", "ready", NULL}),
                  "error: --readiness-path ready: must start with / (see --help)\n");
    ASSERT_CONTAINS(failing((const char *[]){"--watchdog-ms", "-5", NULL}), "--watchdog-ms -5");
    ASSERT_CONTAINS(failing((const char *[]){"oops", NULL}), "oops: unexpected argument");
}

static void help(void *arg) {
    aw_server_options_t o;
    if (!freopen("/dev/null", "w", stdout)) /* keep the TAP output clean */
        exit(2);
    int rc = parse(&o, arg);
    fflush(stdout);
    exit(rc == 1 ? 0 : 1);
}

TEST(help_returns_1) {
    static char err[256];
    ASSERT_EQ(
        test_run_child(help, (const char *[]){"--workers", "2", "--help", NULL}, err, sizeof(err)),
        0);
    ASSERT_STR_EQ(err, "");
}
