/* SPDX-License-Identifier: MIT */
/*
 * The burger shop: FastAPI's story of concurrency and parallelism, served.
 *
 *   build/bin/burgers [--cook-ms 1000] [--ovens 1000] [--db burgers.db] [--port 8000] ...
 *
 * Concurrent burgers: POST /orders gives a ticket at once; the kitchen
 * cooks while the cashier takes the next order; GET /orders/{ticket}/wait
 * (or the /events stream) tells when it is ready.
 * Parallel burgers: POST /counter/orders holds the counter (a pool thread)
 * until the burgers are done; at most pool-size customers are served at once.
 * The mansion: POST /mansion/clean is CPU work, where more cores help and
 * cleaning on the loop thread stalls every other customer.
 *
 * Orders live in SQLite (WAL), reached through the thread pool; tickets are
 * unique across worker processes and survive restarts (kill -9 included).
 */
#include <awaitress.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kitchen.h"
#include "store.h"

static struct {
    int cook_ms, ovens, room_rounds;
    const char *db;
    kitchen_t *kitchen; /* this worker's */
} g = {.cook_ms = 1000, .ovens = 1000, .room_rounds = 2000000, .db = "burgers.db"};

/* Answers with an order, written straight to text. */
static void reply_order(aw_ctx_t *c, int status, const order_t *o) {
    char text[ORDER_TEXT_MAX];
    size_t n = order_text(o, text, sizeof(text));
    if (n)
        aw_reply_bytes(c, status, "application/json", text, n);
    else
        aw_reply_json(c, status, order_json(o));
}

static int store_failed(aw_ctx_t *c) {
    return aw_http_error(c, 503, "The order book is unavailable: %s", db_error());
}

/* ---- the story's own endpoint ------------------------------------------------------------- */

static void read_burgers(aw_ctx_t *c) {
    int64_t number = aw_query_int(c, "number");
    uint64_t t0 = aw_now_ns();
    /* `await get_burgers(number)`: the ovens are busy, the cashier is not. */
    if (kitchen_cook(g.kitchen, (int)number) < 0)
        return; /* cancelled (the customer left) or out of time: the app answers */
    aw_reply_jsonf(c, 200, "{s:I, s:f}", "burgers", (json_int_t)number, "cooked_in_ms",
                   (double)(aw_now_ns() - t0) / 1e6);
}

/* ---- concurrent burgers: tickets --------------------------------------------------------- */

struct insert_job {
    const char *customer;
    int burgers;
    bool counter;
    order_t o;
};

static int insert_fn(void *arg) {
    struct insert_job *j = arg;
    return store_insert(j->customer, j->burgers, j->counter, (int)getpid(), 0, &j->o);
}

static void place_order(aw_ctx_t *c) {
    struct insert_job j = {aw_body_str(c, "customer"), (int)aw_body_int(c, "burgers"), false, {0}};
    if (db_write(insert_fn, &j) != STORE_OK) {
        store_failed(c);
        return;
    }
    /* Written down before the 201 leaves: a kill -9 now loses no ticket. */
    if (kitchen_order(g.kitchen, &j.o) < 0)
        aw_log(AW_LOG_ERROR, "ticket %lld: the kitchen is out of memory; it will be cooked after "
                             "a restart", (long long)j.o.ticket);
    char loc[64];
    snprintf(loc, sizeof(loc), "/orders/%lld", (long long)j.o.ticket);
    aw_reply_header(c, "Location", loc);
    reply_order(c, 201, &j.o);
}

struct get_job {
    int64_t ticket;
    order_t o;
};

static int get_fn(void *arg) {
    struct get_job *j = arg;
    return store_get(j->ticket, &j->o);
}

/* Loads the path's ticket, answering 404 or 503 itself when it cannot. */
static bool load(aw_ctx_t *c, order_t *o) {
    if (kitchen_lookup(g.kitchen, aw_path_int(c, "ticket"), o))
        return true;
    struct get_job j = {aw_path_int(c, "ticket"), {0}};
    int rc = db_call(get_fn, &j);
    if (rc == STORE_NOT_FOUND) {
        aw_http_error(c, 404, "Order %lld not found", (long long)j.ticket);
        return false;
    }
    if (rc != STORE_OK) {
        store_failed(c);
        return false;
    }
    *o = j.o;
    return true;
}

static void read_order(aw_ctx_t *c) {
    order_t o;
    if (load(c, &o))
        reply_order(c, 200, &o);
}

static bool is_done(const order_t *o) {
    return strcmp(o->status, "ready") == 0 || strcmp(o->status, "picked_up") == 0;
}

static void wait_order(aw_ctx_t *c) {
    order_t o;
    if (!load(c, &o))
        return;
    uint64_t deadline = aw_now_ns() + (uint64_t)(aw_query_float(c, "timeout_s") * 1e9);
    while (!is_done(&o)) {
        uint64_t now = aw_now_ns();
        if (now >= deadline)
            break;
        char seen[16];
        snprintf(seen, sizeof(seen), "%s", o.status);
        int rc = kitchen_wait_change(g.kitchen, o.ticket, seen, (deadline - now) / 1000000u + 1, &o);
        if (rc == AW_ETIMEDOUT)
            break;
        if (rc == AW_ECANCELED)
            return; /* the customer left */
        if (rc == STORE_ERROR) {
            store_failed(c);
            return;
        }
        if (rc != 0)
            break;
    }
    reply_order(c, is_done(&o) ? 200 : 202, &o);
}

static void order_events(aw_ctx_t *c) {
    order_t o;
    if (!load(c, &o))
        return;
    if (aw_sse_start(c) < 0)
        return;
    for (int seq = 1;; seq++) {
        char data[ORDER_TEXT_MAX];
        if (!order_text(&o, data, sizeof(data)))
            return;
        char id[24];
        snprintf(id, sizeof(id), "%d", seq);
        int rc = aw_sse_send(c, "status", id, data);
        if (rc < 0 || is_done(&o))
            return; /* "your number is called": the stream ends */
        char seen[16];
        snprintf(seen, sizeof(seen), "%s", o.status);
        for (;;) {
            rc = kitchen_wait_change(g.kitchen, o.ticket, seen, 15000, &o);
            if (rc != AW_ETIMEDOUT)
                break;
            if (aw_sse_comment(c, "still cooking") < 0)
                return;
        }
        if (rc != 0)
            return; /* the customer left, or the book failed: end the stream */
    }
}

struct pickup_job {
    int64_t ticket;
    order_t o;
};

static int pickup_fn(void *arg) {
    struct pickup_job *j = arg;
    return store_pickup(j->ticket, &j->o);
}

static void pickup_order(aw_ctx_t *c) {
    struct pickup_job j = {aw_path_int(c, "ticket"), {0}};
    int rc = db_write(pickup_fn, &j);
    if (rc == STORE_NOT_FOUND)
        aw_http_error(c, 404, "Order %lld not found", (long long)j.ticket);
    else if (rc == STORE_NOT_READY)
        aw_http_error(c, 409, "Order %lld is not ready to pick up (status: %s)",
                      (long long)j.ticket, j.o.status);
    else if (rc != STORE_OK)
        store_failed(c);
    else {
        kitchen_picked_up(g.kitchen, &j.o);
        reply_order(c, 200, &j.o);
    }
}

struct list_job {
    const char *status;
    int limit, offset;
    json_t *out;
};

static int list_fn(void *arg) {
    struct list_job *j = arg;
    return store_list(j->status, j->limit, j->offset, &j->out);
}

static void list_orders(aw_ctx_t *c) {
    struct list_job j = {aw_query_str(c, "status"), (int)aw_query_int(c, "limit"),
                         (int)aw_query_int(c, "offset"), NULL};
    if (db_call(list_fn, &j) != STORE_OK) {
        store_failed(c);
        return;
    }
    aw_reply_json(c, 200, j.out);
}

/* ---- parallel burgers: the counter ------------------------------------------------------ */

/* A blocking handler: it runs on a pool thread and holds it, like a cashier-cook. */
static void counter_order(aw_ctx_t *c) {
    uint64_t t0 = aw_now_ns();
    double arrived = now_s();
    int burgers = (int)aw_body_int(c, "burgers");
    for (int i = 0; i < burgers; i++) {
        struct timespec ts = {g.cook_ms / 1000, (long)(g.cook_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL); /* really blocked: this thread serves nobody else meanwhile */
    }
    order_t o;
    if (store_insert(aw_body_str(c, "customer"), burgers, true, (int)getpid(), arrived, &o) !=
        STORE_OK) {
        aw_http_error(c, 503, "The order book is unavailable: %s", store_error());
        return;
    }
    aw_reply_jsonf(c, 200, "{s:I, s:s, s:i, s:f}", "ticket", (json_int_t)o.ticket, "customer",
                   o.customer, "burgers", burgers, "counter_ms", (double)(aw_now_ns() - t0) / 1e6);
}

/* ---- the mansion: CPU work ---------------------------------------------------------------- */

/* One room's worth of real work: rounds of a 64-bit mix no compiler can skip. */
static uint64_t clean_room(uint64_t room) {
    uint64_t h = 0x9e3779b97f4a7c15u ^ room;
    for (int i = 0; i < g.room_rounds; i++) {
        h ^= h >> 31;
        h *= 0xbf58476d1ce4e5b9u;
        h ^= (uint64_t)i;
    }
    return h;
}

struct crew {
    int first, rooms, step;
    uint64_t sum;
};

static void *clean_share(void *arg) {
    struct crew *w = arg;
    for (int r = w->first; r < w->rooms; r += w->step)
        w->sum ^= clean_room((uint64_t)r);
    return NULL;
}

static void *cleaner_task(void *arg) {
    int rc = aw_run_blocking_status(clean_share, arg, NULL);
    return rc < 0 ? aw_fail(rc) : NULL;
}

static void clean_mansion(aw_ctx_t *c) {
    int rooms = (int)aw_query_int(c, "rooms"), cleaners = (int)aw_query_int(c, "cleaners");
    const char *where = aw_query_str(c, "where");
    bool on_loop = strcmp(where, "loop") == 0 || (strcmp(where, "auto") == 0 && cleaners == 1);
    uint64_t t0 = aw_now_ns();
    uint64_t sum = 0;
    if (on_loop) {
        /* Wrong on purpose: nobody else is served until the last room is clean. */
        struct crew w = {0, rooms, 1, 0};
        clean_share(&w);
        sum = w.sum;
        cleaners = 1;
    } else {
        struct crew *crews = aw_ctx_alloc(c, sizeof(*crews) * (size_t)cleaners);
        if (!crews) {
            aw_http_error(c, 500, "out of memory");
            return;
        }
        aw_group_t grp;
        aw_group_init(&grp);
        int spawn_rc = 0;
        for (int i = 0; i < cleaners && spawn_rc == 0; i++) {
            crews[i] = (struct crew){i, rooms, cleaners, 0};
            spawn_rc = aw_group_spawn(&grp, cleaner_task, &crews[i]);
        }
        if (spawn_rc < 0)
            aw_group_cancel(&grp);
        int rc = aw_group_wait(&grp);
        if (spawn_rc < 0 || rc < 0) {
            if (!aw_cancelled())
                aw_http_error(c, 503, "The cleaners could not work: %s",
                              aw_strerror(spawn_rc < 0 ? spawn_rc : rc));
            return;
        }
        for (int i = 0; i < cleaners; i++)
            sum ^= crews[i].sum;
    }
    double ms = (double)(aw_now_ns() - t0) / 1e6;
    char checksum[20];
    snprintf(checksum, sizeof(checksum), "%016llx", (unsigned long long)sum);
    aw_reply_jsonf(c, 200, "{s:i, s:i, s:s, s:f, s:f, s:s}", "rooms", rooms, "cleaners", cleaners,
                   "where", on_loop ? "loop" : "pool", "elapsed_ms", ms, "rooms_per_s",
                   ms > 0 ? rooms * 1000.0 / ms : 0.0, "checksum", checksum);
}

static void kitchen_info(aw_ctx_t *c) {
    aw_reply_json(c, 200, kitchen_stats(g.kitchen));
}

static void welcome(aw_ctx_t *c) {
    aw_reply_jsonf(c, 200, "{s:s, s:s}", "message", "Welcome to the burger shop", "docs", "/docs");
}

/* ---- declarations ------------------------------------------------------------------------- */

static const aw_param_t burgers_params[] = {
    AW_QUERY_INT("number", .def = "2", AW_GE(1), AW_LE(20), .doc = "How many burgers to cook"),
    AW_PARAMS_END,
};

static const aw_param_t order_fields[] = {
    AW_FIELD_STR("customer", .min_len = 1, .max_len = 50, .doc = "Who the order is for",
                 .example = "\"Ann\""),
    AW_FIELD_INT("burgers", AW_GE(1), AW_LE(20), .doc = "How many burgers", .example = "2"),
    AW_PARAMS_END,
};
static const aw_body_t order_in = {.schema_name = "OrderIn", .fields = order_fields,
                                   .example = "{\"customer\":\"Ann\",\"burgers\":2}"};

static const aw_param_t order_out[] = {
    AW_FIELD_INT("ticket"),
    AW_FIELD_STR("customer"),
    AW_FIELD_INT("burgers"),
    AW_FIELD_ENUM("status", AW_CHOICES("queued", "cooking", "ready", "picked_up")),
    AW_FIELD_FLOAT("created_at", .doc = "Seconds since the epoch"),
    AW_FIELD_FLOAT("cooking_at", .optional = true),
    AW_FIELD_FLOAT("ready_at", .optional = true),
    AW_FIELD_FLOAT("picked_up_at", .optional = true),
    AW_PARAMS_END,
};

static const aw_param_t ticket_params[] = {
    AW_PATH_INT("ticket", AW_GE(1), .doc = "The ticket number", .example = "1"),
    AW_PARAMS_END,
};

static const aw_param_t wait_params[] = {
    AW_PATH_INT("ticket", AW_GE(1), .doc = "The ticket number", .example = "1"),
    AW_QUERY_FLOAT("timeout_s", .def = "30", AW_GE(0), AW_LE(300),
                   .doc = "How long to wait before answering 202 with the current status"),
    AW_PARAMS_END,
};

static const aw_param_t list_params[] = {
    AW_QUERY_ENUM("status", .optional = true,
                  AW_CHOICES("queued", "cooking", "ready", "picked_up")),
    AW_QUERY_INT("limit", .def = "20", AW_GE(1), AW_LE(100)),
    AW_QUERY_INT("offset", .def = "0", AW_GE(0)),
    AW_PARAMS_END,
};

static const aw_param_t mansion_params[] = {
    AW_QUERY_INT("rooms", .def = "16", AW_GE(1), AW_LE(10000), .doc = "Rooms to clean"),
    AW_QUERY_INT("cleaners", .def = "1", AW_GE(1), AW_LE(64),
                 .doc = "Cleaners working at once (on the thread pool when more than one)"),
    AW_QUERY_ENUM("where", .def = "auto", AW_CHOICES("auto", "loop", "pool"),
                  .doc = "auto: the loop thread for one cleaner, else the pool"),
    AW_PARAMS_END,
};

/* ---- start-up and options ----------------------------------------------------------------- */

static int init_fn(void *arg) {
    (void)arg;
    return store_init(g.db);
}

struct claim_job {
    int64_t *tickets;
    int *burgers;
    size_t n;
};

static int claim_fn(void *arg) {
    struct claim_job *j = arg;
    return store_claim_orphans((int)getpid(), &j->tickets, &j->burgers, &j->n);
}

static int open_shop(aw_app_t *app, void *data) {
    (void)app;
    (void)data;
    if (db_call(init_fn, NULL) != STORE_OK) {
        aw_log(AW_LOG_ERROR, "the order book %s: %s", g.db, db_error());
        return -1;
    }
    struct kitchen_opts ko = {g.cook_ms, g.ovens};
    g.kitchen = kitchen_start(&ko);
    if (!g.kitchen)
        return AW_ENOMEM;
    /* Orders a killed worker left behind are cooked now. */
    struct claim_job j = {0};
    if (db_call(claim_fn, &j) == STORE_OK) {
        for (size_t i = 0; i < j.n; i++) {
            struct get_job gj = {j.tickets[i], {0}};
            if (db_call(get_fn, &gj) == STORE_OK)
                kitchen_order(g.kitchen, &gj.o);
        }
        if (j.n)
            aw_log(AW_LOG_INFO, "took over %zu unfinished order%s", j.n, j.n == 1 ? "" : "s");
    } else {
        aw_log(AW_LOG_WARN, "looking for unfinished orders: %s", db_error());
    }
    free(j.tickets);
    free(j.burgers);
    return 0;
}

static int close_shop(aw_app_t *app, void *data) {
    (void)app;
    (void)data;
    kitchen_stop(g.kitchen);
    g.kitchen = NULL;
    return 0;
}

/* Takes the shop's own options out of argv; the rest are the server's. */
static int shop_options(int *argc, char **argv) {
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i];
        int *target = strcmp(a, "--cook-ms") == 0        ? &g.cook_ms
                      : strcmp(a, "--ovens") == 0        ? &g.ovens
                      : strcmp(a, "--room-rounds") == 0 ? &g.room_rounds
                                                         : NULL;
        if (target || strcmp(a, "--db") == 0) {
            if (i + 1 >= *argc) {
                fprintf(stderr, "burgers: %s needs a value\n", a);
                return -1;
            }
            const char *v = argv[++i];
            if (!target) {
                g.db = v;
                continue;
            }
            char *end;
            long n = strtol(v, &end, 10);
            if (*end || n < (target == &g.cook_ms ? 0 : 1) || n > 100000000) {
                fprintf(stderr, "burgers: %s: '%s' is not a valid count\n", a, v);
                return -1;
            }
            *target = (int)n;
            continue;
        }
        if (strcmp(a, "--help") == 0)
            printf("burgers: the shop's options: --cook-ms MS [1000] --ovens N [1000] "
                   "--db FILE [burgers.db] --room-rounds N [2000000]\n");
        argv[out++] = argv[i];
    }
    *argc = out;
    argv[out] = NULL;
    return 0;
}

int main(int argc, char **argv) {
    if (shop_options(&argc, argv) < 0)
        return 2;
    aw_app_t *app = aw_app_new("Burger shop", "1.0.0",
                               .description = "FastAPI's story of concurrent and parallel burgers, "
                                              "served by awaitress. Concurrent: order, get a "
                                              "ticket, wait. Parallel: hold the counter.");
    aw_app_on_startup(app, open_shop, NULL);
    aw_app_on_shutdown(app, close_shop, NULL);
    aw_get(app, "/", welcome, .summary = "Welcome", .hidden = true);
    aw_get(app, "/burgers", read_burgers, .params = burgers_params, .tags = AW_TAGS("burgers"),
           .summary = "Cook burgers and wait for them (await get_burgers)");

    aw_router_t *orders = aw_router_new("/orders", .tags = AW_TAGS("concurrent burgers"));
    aw_post(orders, "", place_order, .body = &order_in, .status = 201, .response = order_out,
            .summary = "Order: get a ticket at once, the kitchen cooks meanwhile");
    aw_get(orders, "", list_orders, .params = list_params, .summary = "List orders");
    aw_get(orders, "/{ticket}", read_order, .params = ticket_params, .response = order_out,
           .errors = AW_ERRORS(404, 503), .summary = "Look at a ticket");
    aw_get(orders, "/{ticket}/wait", wait_order, .params = wait_params, .response = order_out,
           .errors = AW_ERRORS(202, 404, 503),
           .summary = "Wait for the order: 200 when ready, 202 if the timeout passes first");
    aw_get(orders, "/{ticket}/events", order_events, .params = ticket_params,
           .errors = AW_ERRORS(404), .summary = "Server-Sent Events: each status change");
    aw_post(orders, "/{ticket}/pickup", pickup_order, .params = ticket_params,
            .response = order_out, .errors = AW_ERRORS(404, 409, 503),
            .summary = "Pick the burgers up (409 until they are ready)");
    aw_app_include(app, orders);

    aw_post(app, "/counter/orders", counter_order, .body = &order_in, .blocking = true,
            .tags = AW_TAGS("parallel burgers"), .errors = AW_ERRORS(503),
            .summary = "Order at the counter and hold it until the burgers are done");
    aw_post(app, "/mansion/clean", clean_mansion, .params = mansion_params,
            .tags = AW_TAGS("the mansion (CPU)"),
            .summary = "CPU work: one cleaner on the loop, or several on the pool");
    aw_get(app, "/kitchen", kitchen_info, .tags = AW_TAGS("burgers"),
           .summary = "The kitchen's state and this worker's pid");
    return aw_main(app, argc, argv);
}
