/* SPDX-License-Identifier: MIT */
/* bench-switch-ucontext: the switch measurement on the ucontext backend, which bench-core runs. */
#include <stdio.h>
#include <stdlib.h>

#include "awaitress/coro.h"
#include "bench_switch.h"

/* swapcontext makes a system call per switch: far fewer pairs give a stable figure. */
#define DEFAULT_ITERS 1000000L
#define DEFAULT_REPS 5

int main(int argc, char **argv) {
    long iters = argc > 1 ? atol(argv[1]) : DEFAULT_ITERS;
    int reps = argc > 2 ? atoi(argv[2]) : DEFAULT_REPS;
    if (iters < 1 || reps < 1) {
        fprintf(stderr, "usage: %s [resume+yield pairs] [repetitions]\n", argv[0]);
        return 2;
    }
    double ns = bench_switch_ns(iters, reps);
    if (ns < 0) {
        fprintf(stderr, "%s: cannot create a coroutine\n", argv[0]);
        return 1;
    }
    printf("# backend %s, %ld resume+yield pairs, median of %d\n", aw_coro_backend(), iters, reps);
    /* Named after the backend linked in, so the figure can never be mislabelled. */
    printf("switch_ns_%s: %.2f\n", aw_coro_backend(), ns);
    return 0;
}
