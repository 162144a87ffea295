/* SPDX-License-Identifier: MIT */
/* burger-rush's figures and picture: percentiles, per-mode statistics, the SVG timeline. */
#ifndef BURGERS_RUSH_SVG_H
#define BURGERS_RUSH_SVG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/*
 * One customer's story, in seconds since its mode's start (the first
 * customer's start). A step not reached is negative: a customer who failed
 * at the counter has counter_s < 0, and so on. `failed_s` is when the
 * customer gave up (an error or the run's timeout), or negative if served.
 */
typedef struct rush_customer {
    double start_s;   /* walked in */
    double counter_s; /* left the counter with a ticket (parallel: with the burger) */
    double burger_s;  /* has the burger (the wait answered 200) */
    double failed_s;  /* gave up; negative when served */
} rush_customer_t;

/* The figures of one mode, as burger-rush prints them. Times are in ms unless named _s. */
typedef struct rush_stats {
    size_t customers, served, errors;
    double makespan_s; /* first start to last burger; 0 when nobody was served */
    double counter_p50_ms, counter_p99_ms;
    double burger_p50_ms, burger_p99_ms;
    double throughput_per_s; /* served / makespan_s */
} rush_stats_t;

/* One mode's run, for the picture. Everything is borrowed for the call. */
typedef struct rush_run {
    const char *mode; /* "concurrent" or "parallel" */
    const rush_customer_t *customers;
    size_t n;
    rush_stats_t stats;
} rush_run_t;

/* The most rows a panel draws; more customers are sampled evenly down to this. */
#define RUSH_SVG_MAX_ROWS 200

/*
 * The nearest-rank percentile `p` (0 < p <= 100) of `n` ascending samples:
 * the smallest sample with at least p% of the samples at or below it.
 * Returns 0 when n is 0.
 */
double rush_percentile(const double *sorted, size_t n, double p);

/*
 * Fills *out from `n` customers. Counter times cover the customers who got
 * through the counter, burger times those who were served; a customer with
 * failed_s >= 0 is an error. Returns 0, or -1 when out of memory.
 */
int rush_stats_compute(const rush_customer_t *c, size_t n, rush_stats_t *out);

/*
 * Writes a self-contained SVG of `nruns` runs (1 or 2) side by side on one
 * time scale: a row per customer (sampled to RUSH_SVG_MAX_ROWS, sorted by
 * the time they were served), a legend, and a title naming `title` (plain
 * text, escaped here; NULL for a default). Returns 0, or -1 when writing or
 * allocating failed.
 */
int rush_svg_write(FILE *f, const rush_run_t *runs, size_t nruns, const char *title);

#endif
