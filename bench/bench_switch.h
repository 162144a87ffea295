/* SPDX-License-Identifier: MIT */
/* The coroutine switch measurement shared by bench-core and bench-switch-ucontext. */
#ifndef AW_BENCH_SWITCH_H
#define AW_BENCH_SWITCH_H

/*
 * Returns the cost of one coroutine switch in nanoseconds on whatever
 * backend the program was linked against: the median over `reps` runs
 * (at most 31) of `iters` resume+yield pairs, each pair counting as two
 * switches. Returns a negative value if no coroutine could be created.
 */
double bench_switch_ns(long iters, int reps);

#endif
