/* SPDX-License-Identifier: MIT */
/*
 * The shop's order book: SQLite in WAL mode, one connection per thread.
 *
 * Every call here blocks (disk, locks): call them from a pool thread
 * (aw_run_blocking) or a blocking handler, never on the loop. Each returns
 * 0, STORE_NOT_FOUND, or STORE_ERROR with the reason in store_error().
 */
#ifndef BURGERS_STORE_H
#define BURGERS_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

enum { STORE_OK = 0, STORE_NOT_FOUND = 1, STORE_NOT_READY = 2, STORE_ERROR = -1 };

typedef struct order {
    int64_t ticket;
    char customer[208];  /* up to 50 characters of up to 4 bytes */
    int burgers;
    char status[16];     /* queued, cooking, ready, picked_up */
    double created_at;   /* seconds since the epoch; 0: not yet */
    double cooking_at, ready_at, picked_up_at;
    bool counter;        /* served at the counter (parallel burgers) */
} order_t;

/* Sets the database file every thread opens; creates the schema. */
int store_init(const char *path);

/* The last error on this thread, for a 503's message. */
const char *store_error(void);

/*
 * Adds an order (status queued, or picked_up for a counter order) owned by
 * `pid`, which arrived at `arrived` (seconds since the epoch; 0: now).
 */
int store_insert(const char *customer, int burgers, bool counter, int pid, double arrived,
                 order_t *out);

int store_get(int64_t ticket, order_t *out);

/* Moves an order to `status` ("cooking" or "ready"), stamping the time. */
int store_set_status(int64_t ticket, const char *status, double at);

/* Hands a ready order over: STORE_NOT_READY (with *out filled) unless it is ready. */
int store_pickup(int64_t ticket, order_t *out);

/* A page of orders, newest first, optionally of one status: {"orders":[...],"total":n}. */
int store_list(const char *status, int limit, int offset, json_t **out);

/*
 * Takes over orders not yet ready whose owner process is gone (a kill -9):
 * they become ours; their tickets go to *tickets (malloc'd), *n of them.
 */
int store_claim_orphans(int pid, int64_t **tickets, int **burgers, size_t *n);

/*
 * A batch: the writes between begin and end share one transaction (one
 * commit for many orders). end commits, or rolls back and returns
 * STORE_ERROR, in which case none of the batch's writes happened.
 */
int store_batch_begin(void);
int store_batch_end(void);

/* The order as the API shows it (a new reference). */
json_t *order_json(const order_t *o);

/* The same as JSON text, written directly (the hot path): its length, 0 if `cap` is short. */
size_t order_text(const order_t *o, char *out, size_t cap);

/* Room order_text() needs at most. */
#define ORDER_TEXT_MAX 2048

/* Seconds since the epoch, with microseconds. */
double now_s(void);

#endif
