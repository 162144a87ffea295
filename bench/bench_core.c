/* SPDX-License-Identifier: MIT */
/* bench-core: switch cost on both backends, spawn+await, 100,000 sleepers, pool round trip. */
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "awaitress.h"
#include "bench_switch.h"

#define SWITCH_ITERS 10000000L
#define SWITCH_REPS 5
#define UCONTEXT_ITERS "1000000"
#define UCONTEXT_REPS "5"
#define SPAWN_ITERS 1000000L
#define SPAWN_REPS 5
#define SLEEPERS 100000
#define SLEEP_MS 1000
#define POOL_ITERS 20000L
#define POOL_REPS 3
#define MAX_REPS 5

_Static_assert(SPAWN_REPS <= MAX_REPS && POOL_REPS <= MAX_REPS, "samples[] too small");

static double median(double *v, int n) {
    /* n is tiny: insertion sort. */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

static _Noreturn void die(const char *what) {
    fprintf(stderr, "bench-core: %s\n", what);
    exit(1);
}

/* ---- header ---------------------------------------------------------------------------------- */

static void print_header(void) {
    char model[256] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "re");
    if (f) {
        char line[512];
        while (fgets(line, sizeof(line), f)) {
            char *colon = strchr(line, ':');
            if (strncmp(line, "model name", 10) == 0 && colon) {
                snprintf(model, sizeof(model), "%s", colon + 2);
                model[strcspn(model, "\n")] = '\0';
                break;
            }
        }
        fclose(f);
    }
    char cpus[256] = "";
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        size_t len = 0;
        for (int i = 0; i < CPU_SETSIZE && len + 8 < sizeof(cpus); i++)
            if (CPU_ISSET(i, &set))
                len += (size_t)snprintf(cpus + len, sizeof(cpus) - len, "%s%d", len ? "," : "", i);
    }
    printf("# awaitress bench-core: coroutine backend %s (baseline: ucontext)\n",
           aw_coro_backend());
    printf("# cpu: %s, %ld online; this process (pool threads included) runs on CPU %s\n", model,
           sysconf(_SC_NPROCESSORS_ONLN), cpus[0] ? cpus : "?");
}

/* ---- 100,000 sleepers ------------------------------------------------------------------------ */

struct sleepers {
    double rss_kib_per_task, wall_s;
    bool all_asleep; /* every sleeper was suspended when RSS was read */
    int status;
};

static long g_started, g_finished;

static long rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "re");
    if (!f)
        return -1;
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

static void *sleeper(void *arg) {
    (void)arg;
    g_started++;
    int rc = aw_sleep_ms(SLEEP_MS);
    g_finished++;
    return rc ? aw_fail(rc) : NULL;
}

static void *sleepers_main(void *arg) {
    struct sleepers *out = arg;
    aw_task_t **tasks = malloc(SLEEPERS * sizeof(*tasks));
    if (!tasks)
        die("out of memory");
    /* Touched before the baseline: the handles are the benchmark's, not the tasks'. */
    memset(tasks, 0, SLEEPERS * sizeof(*tasks));
    long rss0 = rss_kib();
    uint64_t t0 = aw_now_ns();
    for (int i = 0; i < SLEEPERS; i++)
        if (!(tasks[i] = aw_async(sleeper, NULL)))
            die("aw_async failed");
    /* The ready queue is FIFO: this puts us behind every sleeper, so when it
     * returns each one has run up to its aw_sleep_ms and is suspended there. */
    aw_yield();
    long rss1 = rss_kib();
    out->all_asleep = g_started == SLEEPERS && g_finished == 0;
    out->status = aw_gather(tasks, SLEEPERS, NULL);
    out->wall_s = (double)(aw_now_ns() - t0) / 1e9;
    out->rss_kib_per_task = rss0 < 0 || rss1 < 0 ? -1.0 : (double)(rss1 - rss0) / SLEEPERS;
    free(tasks);
    return NULL;
}

/*
 * In a child forked before anything else touched the library, so the stacks
 * come cold from the kernel as they would in a fresh server, and the parent
 * is not left holding what 100,000 tasks grew.
 */
static struct sleepers bench_sleepers(void) {
    struct sleepers r = {.status = -1};
    int fds[2];
    fflush(stdout);
    if (pipe(fds) < 0)
        die("pipe failed");
    pid_t pid = fork();
    if (pid < 0)
        die("fork failed");
    if (pid == 0) {
        close(fds[0]);
        struct sleepers mine = {.status = -1};
        int rc = aw_run(sleepers_main, &mine, NULL);
        if (rc)
            mine.status = rc;
        ssize_t n = write(fds[1], &mine, sizeof(mine));
        _exit(n == (ssize_t)sizeof(mine) ? 0 : 1);
    }
    close(fds[1]);
    ssize_t n;
    do
        n = read(fds[0], &r, sizeof(r));
    while (n < 0 && errno == EINTR);
    close(fds[0]);
    int wstatus;
    waitpid(pid, &wstatus, 0);
    if (n != (ssize_t)sizeof(r) || !WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0)
        die("the sleepers child failed");
    return r;
}

/* ---- switch on the ucontext backend ---------------------------------------------------------- */

/* Runs bench-switch-ucontext from our own directory and returns its figure. */
static double bench_switch_ucontext(void) {
    char path[4096];
    ssize_t len = readlink("/proc/self/exe", path, sizeof(path) - 1);
    if (len < 0)
        die("cannot read /proc/self/exe");
    path[len] = '\0';
    char *slash = strrchr(path, '/');
    const char *name = "bench-switch-ucontext";
    if (!slash || (size_t)(slash + 1 - path) + strlen(name) >= sizeof(path))
        die("odd path in /proc/self/exe");
    strcpy(slash + 1, name);

    int fds[2];
    fflush(stdout);
    if (pipe(fds) < 0)
        die("pipe failed");
    pid_t pid = fork();
    if (pid < 0)
        die("fork failed");
    if (pid == 0) {
        close(fds[0]);
        if (dup2(fds[1], STDOUT_FILENO) < 0)
            _exit(127);
        char *argv[] = {path, UCONTEXT_ITERS, UCONTEXT_REPS, NULL};
        execv(path, argv);
        fprintf(stderr, "bench-core: cannot run %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    char out[1024];
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fds[0], out + got, sizeof(out) - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    out[got] = '\0';
    close(fds[0]);
    int wstatus;
    waitpid(pid, &wstatus, 0);
    if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0)
        die("bench-switch-ucontext failed");
    const char *key = "switch_ns_ucontext:";
    char *save;
    for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        double ns;
        if (strncmp(line, key, strlen(key)) == 0 && sscanf(line + strlen(key), "%lf", &ns) == 1)
            return ns;
    }
    die("bench-switch-ucontext printed no switch_ns_ucontext figure");
}

/* ---- spawn + await --------------------------------------------------------------------------- */

static void *empty_task(void *arg) {
    return arg;
}

static void spawn_await(long n) {
    int token;
    for (long i = 0; i < n; i++) {
        aw_task_t *t = aw_async(empty_task, &token);
        if (!t || aw_await(t) != &token)
            die("spawn+await failed");
    }
}

static void *spawn_main(void *arg) {
    double *out = arg, samples[MAX_REPS];
    /* Warm the stack cache: the figure is the steady state, the cold start is the sleepers'. */
    spawn_await(10000);
    for (int r = 0; r < SPAWN_REPS; r++) {
        uint64_t t0 = aw_now_ns();
        spawn_await(SPAWN_ITERS);
        samples[r] = (double)(aw_now_ns() - t0) / SPAWN_ITERS;
    }
    *out = median(samples, SPAWN_REPS);
    return NULL;
}

/* ---- pool round trip ------------------------------------------------------------------------- */

static void *empty_job(void *arg) {
    return arg;
}

static void *pool_main(void *arg) {
    double *out = arg, samples[MAX_REPS];
    int token;
    /* The first calls create the default pool and start its thread. */
    for (int i = 0; i < 200; i++)
        if (aw_run_blocking(empty_job, &token) != &token)
            die("aw_run_blocking failed");
    for (int r = 0; r < POOL_REPS; r++) {
        uint64_t t0 = aw_now_ns();
        for (long i = 0; i < POOL_ITERS; i++)
            if (aw_run_blocking(empty_job, &token) != &token)
                die("aw_run_blocking failed");
        samples[r] = (double)(aw_now_ns() - t0) / 1e3 / POOL_ITERS;
    }
    *out = median(samples, POOL_REPS);
    return NULL;
}

/* ---- main ------------------------------------------------------------------------------------ */

int main(void) {
    print_header();
    fflush(stdout);
    /* First, while no stack has been cached yet anywhere in this process. */
    struct sleepers sl = bench_sleepers();
    if (sl.status)
        die("a sleeper failed");
    if (!sl.all_asleep)
        die("not every sleeper was suspended when RSS was read");

    double sw = bench_switch_ns(SWITCH_ITERS, SWITCH_REPS);
    if (sw <= 0)
        die("the switch benchmark could not create a coroutine");
    printf("switch_ns: %.2f\n", sw);
    fflush(stdout);
    double sw_uc = bench_switch_ucontext();
    printf("switch_ns_ucontext: %.2f\n", sw_uc);
    printf("switch_speedup: %.1f\n", sw_uc / sw);
    fflush(stdout);

    double spawn_ns = 0;
    if (aw_run(spawn_main, &spawn_ns, NULL))
        die("aw_run failed");
    printf("spawn_await_ns: %.1f\n", spawn_ns);

    printf("sleepers_100k_rss_kib_per_task: %.2f\n", sl.rss_kib_per_task);
    printf("sleepers_100k_wall_s: %.3f\n", sl.wall_s);
    fflush(stdout);

    double pool_us = 0;
    if (aw_run(pool_main, &pool_us, NULL))
        die("aw_run failed");
    aw_pool_shutdown_default();
    printf("pool_roundtrip_us: %.2f\n", pool_us);
    return 0;
}
