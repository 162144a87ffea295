/* SPDX-License-Identifier: MIT */
/* The coroutine switch measurement, built once per backend so both run the same code. */
#include "bench_switch.h"

#include <stdlib.h>
#include <time.h>

#include "awaitress/coro.h"

#define MAX_REPS 31

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Never finishes: the loop below measures nothing but the two switches. */
static void *ping(void *arg) {
    (void)arg;
    for (;;)
        aw_coro_yield();
    return NULL;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_switch_ns(long iters, int reps) {
    double samples[MAX_REPS];
    if (reps < 1)
        reps = 1;
    if (reps > MAX_REPS)
        reps = MAX_REPS;
    aw_coro_t *c = aw_coro_new(ping, NULL);
    if (!c)
        return -1.0;
    /* Fault in the stack and settle the branch predictors before timing. */
    for (long i = 0; i < iters / 20 + 1000; i++)
        aw_coro_resume(c);
    for (int r = 0; r < reps; r++) {
        double t0 = now_ns();
        for (long i = 0; i < iters; i++)
            aw_coro_resume(c);
        samples[r] = (now_ns() - t0) / (2.0 * (double)iters);
    }
    /* The coroutine is paused in ping(); freeing it there is allowed. */
    aw_coro_free(c);
    /* The median, not the mean: a VM steals time in bursts that would skew a mean. */
    qsort(samples, (size_t)reps, sizeof(samples[0]), cmp_double);
    return reps % 2 ? samples[reps / 2] : (samples[reps / 2 - 1] + samples[reps / 2]) / 2.0;
}
