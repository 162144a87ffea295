/* SPDX-License-Identifier: MIT */
/*
 * The kitchen of one worker process: ovens (a semaphore), cooks (tasks that
 * take orders from a channel) and the tickets being waited for.
 *
 * Everything here runs on the worker's loop thread. The order book is
 * SQLite (store.h), reached through the thread pool.
 */
#ifndef BURGERS_KITCHEN_H
#define BURGERS_KITCHEN_H

#include <awaitress.h>

#include "store.h"

typedef struct kitchen kitchen_t;

struct kitchen_opts {
    int cook_ms;   /* per burger */
    int ovens;     /* burgers cooking at once */
};

/* Starts the kitchen on the current loop (cooks, dispatcher). NULL on ENOMEM. */
kitchen_t *kitchen_start(const struct kitchen_opts *o);

/* Stops taking orders and lets the cooks finish what they hold; frees it. Awaits. */
void kitchen_stop(kitchen_t *k);

/* Hands a stored order to the cooks (`o` copied). Returns 0 or AW_ENOMEM. */
int kitchen_order(kitchen_t *k, const order_t *o);

/*
 * The order, if this worker cooks it (or cooked it and it was not picked up
 * yet): as in the book, without a round trip to it. False otherwise.
 */
bool kitchen_lookup(kitchen_t *k, int64_t ticket, order_t *o);

/* Tells waiters the order was picked up, and forgets it. */
void kitchen_picked_up(kitchen_t *k, const order_t *o);

/*
 * Cooks `n` burgers now, awaiting ovens (the story's get_burgers). Returns 0,
 * or AW_ECANCELED / AW_ETIMEDOUT when the wait was cut short.
 */
int kitchen_cook(kitchen_t *k, int n);

/*
 * Waits until order `ticket`'s status differs from `seen` (or `timeout_ms`
 * passes: AW_ETIMEDOUT), then fills *o from the order book. Orders cooked
 * by another worker process are polled in the book every 50 ms. Returns 0,
 * STORE_NOT_FOUND, STORE_ERROR (db_error() says why), AW_ETIMEDOUT or
 * AW_ECANCELED.
 */
int kitchen_wait_change(kitchen_t *k, int64_t ticket, const char *seen, uint64_t timeout_ms,
                        order_t *o);

/* What the kitchen is doing, for GET /kitchen (a new reference). */
json_t *kitchen_stats(kitchen_t *k);

/* Runs a store call on the pool: fn(arg) returns a STORE_* code, which this returns. */
int db_call(int (*fn)(void *arg), void *arg);

/*
 * Runs a store write in the next batch of the order book's writer: many
 * writes share one commit. Returns like db_call(). The wait cannot be
 * cancelled (the write happens or fails as a whole); it is short.
 */
int db_write(int (*fn)(void *arg), void *arg);

/* Why the last db_call() on this (loop) thread returned STORE_ERROR. */
const char *db_error(void);

#endif
