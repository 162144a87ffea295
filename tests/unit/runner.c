/* SPDX-License-Identifier: MIT */
/* The TAP runner behind test.h: one forked process and one timeout per test. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

#define MAX_TESTS 2048

static struct {
    const char *name;
    test_fn fn;
    void (*data_fn)(const void *);
    const void *arg;
} g_tests[MAX_TESTS];
static int g_count;

void test_register(const char *name, test_fn fn) {
    if (g_count == MAX_TESTS) {
        fprintf(stderr, "too many tests\n");
        exit(2);
    }
    g_tests[g_count].name = name;
    g_tests[g_count].fn = fn;
    g_count++;
}

void test_register_data(const char *name, void (*fn)(const void *arg), const void *arg) {
    if (g_count == MAX_TESTS) {
        fprintf(stderr, "too many tests\n");
        exit(2);
    }
    g_tests[g_count].name = name;
    g_tests[g_count].data_fn = fn;
    g_tests[g_count].arg = arg;
    g_count++;
}

static void call(int i) {
    if (g_tests[i].data_fn)
        g_tests[i].data_fn(g_tests[i].arg);
    else
        g_tests[i].fn();
}

int test_under_sanitizer(void) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    return 1;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
    return 1;
#else
    return 0;
#endif
#else
    return 0;
#endif
}

int test_run_child(void (*fn)(void *), void *arg, char *out, size_t out_size) {
    int fds[2];
    if (pipe(fds) != 0)
        abort();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        abort();
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        fn(arg);
        _exit(0);
    }
    close(fds[1]);
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fds[0], out + len, out_size - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len == out_size - 1) {
            char sink[256];
            while (read(fds[0], sink, sizeof(sink)) > 0) {
            }
            break;
        }
    }
    out[len] = '\0';
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
    }
    return status;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run_one(int i, int timeout_s) {
    fflush(NULL);
    double start = now_s();
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 0;
    }
    if (pid == 0) {
        alarm((unsigned)timeout_s);
        call(i);
        fflush(NULL);
        _exit(0);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
    }
    double took = now_s() - start;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        printf("ok %d - %s # %.3f s\n", i + 1, g_tests[i].name, took);
        return 1;
    }
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
        printf("not ok %d - %s # timed out after %d s\n", i + 1, g_tests[i].name, timeout_s);
    else if (WIFSIGNALED(status))
        printf("not ok %d - %s # killed by signal %d (%s)\n", i + 1, g_tests[i].name,
               WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        printf("not ok %d - %s # exit status %d\n", i + 1, g_tests[i].name, WEXITSTATUS(status));
    return 0;
}

int main(int argc, char **argv) {
    const char *env = getenv("AW_TEST_TIMEOUT");
    int timeout_s = env ? atoi(env) : 60;
    if (argc > 1 && strcmp(argv[1], "--list") == 0) {
        for (int i = 0; i < g_count; i++)
            printf("%s\n", g_tests[i].name);
        return 0;
    }
    if (argc > 1) {
        /* One named test, in this process: easy to run under gdb. */
        for (int i = 0; i < g_count; i++) {
            if (strcmp(g_tests[i].name, argv[1]) == 0) {
                call(i);
                printf("ok 1 - %s\n", argv[1]);
                return 0;
            }
        }
        fprintf(stderr, "no test named %s\n", argv[1]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("1..%d\n", g_count);
    int failed = 0;
    for (int i = 0; i < g_count; i++)
        failed += !run_one(i, timeout_s);
    printf("# %d passed, %d failed\n", g_count - failed, failed);
    return failed ? 1 : 0;
}
