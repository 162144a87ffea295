/* SPDX-License-Identifier: MIT */
/*
 * The order book on SQLite.
 *
 * Every pool thread keeps its own connection (SQLite connections must not
 * be shared between threads without its own locking, and one per thread
 * lets reads run side by side in WAL mode). Tickets come from an
 * AUTOINCREMENT key, so they are unique across worker processes and never
 * reused, even after a restart. synchronous=NORMAL in WAL mode loses
 * nothing on a crash of the process (kill -9), only on a power cut.
 */
#include "store.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static char *g_path;
/*
 * Writers of this process take turns here rather than in SQLite: its busy
 * handler backs off by sleeping (up to 100 ms a try), which under a rush of
 * orders costs far more than the writes themselves. Other processes (more
 * workers) still meet in SQLite's lock, with busy_timeout.
 */
static pthread_mutex_t g_write_mu = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local bool tl_in_batch; /* this thread holds g_write_mu and a transaction */
static _Thread_local sqlite3 *tl_db;
static _Thread_local char tl_err[256];
/* Prepared statements of this thread's connection (see cached()). */
static _Thread_local struct {
    const char *sql;
    sqlite3_stmt *st;
} tl_stmts[8];


double now_s(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

const char *store_error(void) {
    return tl_err[0] ? tl_err : "unknown error";
}

static int fail(const char *what) {
    snprintf(tl_err, sizeof(tl_err), "%s: %s", what, tl_db ? sqlite3_errmsg(tl_db) : "no database");
    return STORE_ERROR;
}

/* sqlite3_exec, retried while another process holds a lock it will not wait for. */
static int exec_retry(sqlite3 *d, const char *sql, char **err) {
    for (int tries = 0;; tries++) {
        int rc = sqlite3_exec(d, sql, NULL, NULL, err);
        if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || tries == 500)
            return rc;
        sqlite3_free(*err);
        *err = NULL;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* A pool thread's connection is closed when the thread ends (the pool joins its threads at exit). */
static pthread_key_t g_conn_key;
static pthread_once_t g_conn_once = PTHREAD_ONCE_INIT;

static void close_conn(void *unused) {
    (void)unused;
    for (size_t i = 0; i < sizeof(tl_stmts) / sizeof(tl_stmts[0]); i++) {
        sqlite3_finalize(tl_stmts[i].st);
        tl_stmts[i].st = NULL;
        tl_stmts[i].sql = NULL;
    }
    sqlite3_close(tl_db);
    tl_db = NULL;
}

static void conn_key_init(void) {
    pthread_key_create(&g_conn_key, close_conn);
}

static sqlite3 *db(void) {
    if (tl_db)
        return tl_db;
    pthread_once(&g_conn_once, conn_key_init);
    if (!g_path) {
        snprintf(tl_err, sizeof(tl_err), "the store was not initialised");
        return NULL;
    }
    sqlite3 *d;
    if (sqlite3_open_v2(g_path, &d, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        snprintf(tl_err, sizeof(tl_err), "opening %s: %s", g_path, d ? sqlite3_errmsg(d) : "out of memory");
        sqlite3_close(d);
        return NULL;
    }
    sqlite3_busy_timeout(d, 5000);
    char *err = NULL;
    /* Switching a new file to WAL takes an exclusive lock and does not wait for
     * it (no busy handler): workers opening a fresh book together retry. */
    if (exec_retry(d, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", &err) != SQLITE_OK) {
        snprintf(tl_err, sizeof(tl_err), "opening %s: %s", g_path, err ? err : "?");
        sqlite3_free(err);
        sqlite3_close(d);
        return NULL;
    }
    tl_db = d;
    pthread_setspecific(g_conn_key, d); /* any non-NULL value: the destructor then runs */
    return d;
}

int store_init(const char *path) {
    free(g_path);
    g_path = strdup(path);
    if (tl_db)
        close_conn(NULL);
    sqlite3 *d = db();
    if (!d)
        return STORE_ERROR;
    char *err = NULL;
    int rc = exec_retry(d,
                          "CREATE TABLE IF NOT EXISTS orders ("
                          " ticket INTEGER PRIMARY KEY AUTOINCREMENT,"
                          " customer TEXT NOT NULL,"
                          " burgers INTEGER NOT NULL,"
                          " status TEXT NOT NULL,"
                          " counter INTEGER NOT NULL DEFAULT 0,"
                          " owner INTEGER,"
                          " created_at REAL NOT NULL,"
                          " cooking_at REAL, ready_at REAL, picked_up_at REAL);"
                          "CREATE INDEX IF NOT EXISTS orders_status ON orders(status);",
                          &err);
    if (rc != SQLITE_OK) {
        snprintf(tl_err, sizeof(tl_err), "creating the schema: %s", err ? err : "?");
        sqlite3_free(err);
        return STORE_ERROR;
    }
    return STORE_OK;
}

/*
 * Statements are prepared once per thread and reused: preparing costs more
 * than running these small statements. Keyed by the SQL text's address
 * (they are all string constants).
 */

static sqlite3_stmt *cached(sqlite3 *d, const char *sql) {
    for (size_t i = 0; i < sizeof(tl_stmts) / sizeof(tl_stmts[0]); i++) {
        if (tl_stmts[i].sql == sql)
            return tl_stmts[i].st;
        if (!tl_stmts[i].sql) {
            if (sqlite3_prepare_v3(d, sql, -1, SQLITE_PREPARE_PERSISTENT, &tl_stmts[i].st, NULL) !=
                SQLITE_OK)
                return NULL;
            tl_stmts[i].sql = sql;
            return tl_stmts[i].st;
        }
    }
    return NULL; /* more statements than slots: a bug */
}

/* Done with a cached statement: reset it for the next use; returns the reset's code. */
static int release(sqlite3_stmt *st) {
    int rc = sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

static void row_to_order(sqlite3_stmt *st, order_t *o) {
    memset(o, 0, sizeof(*o));
    o->ticket = sqlite3_column_int64(st, 0);
    snprintf(o->customer, sizeof(o->customer), "%s", (const char *)sqlite3_column_text(st, 1));
    o->burgers = sqlite3_column_int(st, 2);
    snprintf(o->status, sizeof(o->status), "%s", (const char *)sqlite3_column_text(st, 3));
    o->counter = sqlite3_column_int(st, 4) != 0;
    o->created_at = sqlite3_column_double(st, 5);
    o->cooking_at = sqlite3_column_double(st, 6);
    o->ready_at = sqlite3_column_double(st, 7);
    o->picked_up_at = sqlite3_column_double(st, 8);
}

#define COLS "ticket, customer, burgers, status, counter, created_at, cooking_at, ready_at, picked_up_at"

static int store_insert_locked(const char *customer, int burgers, bool counter, int pid,
                               double arrived, order_t *out) {
    sqlite3 *d = db();
    if (!d)
        return STORE_ERROR;
    static const char sql[] =
        "INSERT INTO orders (customer, burgers, status, counter, owner, created_at,"
        " cooking_at, ready_at, picked_up_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING " COLS;
    double now = now_s();
    sqlite3_stmt *st = cached(d, sql);
    if (!st)
        return fail("insert");
    sqlite3_bind_text(st, 1, customer, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, burgers);
    sqlite3_bind_text(st, 3, counter ? "picked_up" : "queued", -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, counter);
    sqlite3_bind_int(st, 5, pid);
    sqlite3_bind_double(st, 6, arrived > 0 ? arrived : now);
    if (counter) {
        /* A counter order is cooked (from its arrival) and handed over before it is written down. */
        sqlite3_bind_double(st, 7, arrived > 0 ? arrived : now);
        sqlite3_bind_double(st, 8, now);
        sqlite3_bind_double(st, 9, now);
    } else {
        sqlite3_bind_null(st, 7);
        sqlite3_bind_null(st, 8);
        sqlite3_bind_null(st, 9);
    }
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        row_to_order(st, out);
    /* RETURNING: the row is written once the statement has run to its end. */
    int fin = rc == SQLITE_ROW ? sqlite3_step(st) : rc;
    release(st);
    if (rc != SQLITE_ROW || fin != SQLITE_DONE)
        return fail("insert");
    return STORE_OK;
}

int store_get(int64_t ticket, order_t *out) {
    sqlite3 *d = db();
    if (!d)
        return STORE_ERROR;
    static const char sql[] = "SELECT " COLS " FROM orders WHERE ticket = ?";
    sqlite3_stmt *st = cached(d, sql);
    if (!st)
        return fail("select");
    sqlite3_bind_int64(st, 1, ticket);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        row_to_order(st, out);
    release(st);
    if (rc == SQLITE_ROW)
        return STORE_OK;
    return rc == SQLITE_DONE ? STORE_NOT_FOUND : fail("select");
}

static int store_set_status_locked(int64_t ticket, const char *status, double at) {
    sqlite3 *d = db();
    if (!d)
        return STORE_ERROR;
    static const char cooking[] =
        "UPDATE orders SET status = 'cooking', cooking_at = ? WHERE ticket = ?";
    static const char ready[] = "UPDATE orders SET status = 'ready', ready_at = ? WHERE ticket = ?";
    sqlite3_stmt *st = cached(d, strcmp(status, "cooking") == 0 ? cooking : ready);
    if (!st)
        return fail("update");
    sqlite3_bind_double(st, 1, at);
    sqlite3_bind_int64(st, 2, ticket);
    int rc = sqlite3_step(st);
    release(st);
    return rc == SQLITE_DONE ? STORE_OK : fail("update");
}

static int store_pickup_locked(int64_t ticket, order_t *out) {
    sqlite3 *d = db();
    if (!d)
        return STORE_ERROR;
    static const char sql[] = "UPDATE orders SET status = 'picked_up', picked_up_at = ?"
                              " WHERE ticket = ? AND status = 'ready' RETURNING " COLS;
    sqlite3_stmt *st = cached(d, sql);
    if (!st)
        return fail("pickup");
    sqlite3_bind_double(st, 1, now_s());
    sqlite3_bind_int64(st, 2, ticket);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        row_to_order(st, out);
    int fin = rc == SQLITE_ROW ? sqlite3_step(st) : rc;
    release(st);
    if (rc == SQLITE_ROW && fin == SQLITE_DONE)
        return STORE_OK;
    if (rc != SQLITE_DONE)
        return fail("pickup");
    int g = store_get(ticket, out);
    return g == STORE_OK ? STORE_NOT_READY : g;
}

int store_list(const char *status, int limit, int offset, json_t **out) {
    sqlite3 *d = db();
    if (!d)
        return STORE_ERROR;
    sqlite3_stmt *st, *cnt;
    const char *where = status ? " WHERE status = ?1" : "";
    char sql[256], csql[128];
    snprintf(sql, sizeof(sql), "SELECT " COLS " FROM orders%s ORDER BY ticket DESC LIMIT ?2 OFFSET ?3",
             where);
    snprintf(csql, sizeof(csql), "SELECT count(*) FROM orders%s", where);
    if (sqlite3_prepare_v2(d, sql, -1, &st, NULL) != SQLITE_OK)
        return fail("list");
    if (sqlite3_prepare_v2(d, csql, -1, &cnt, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return fail("list");
    }
    if (status) {
        sqlite3_bind_text(st, 1, status, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(cnt, 1, status, -1, SQLITE_TRANSIENT);
    }
    sqlite3_bind_int(st, 2, limit);
    sqlite3_bind_int(st, 3, offset);
    json_t *arr = json_array();
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        order_t o;
        row_to_order(st, &o);
        json_array_append_new(arr, order_json(&o));
    }
    int64_t total = 0;
    int crc = sqlite3_step(cnt);
    if (crc == SQLITE_ROW)
        total = sqlite3_column_int64(cnt, 0);
    sqlite3_finalize(st);
    sqlite3_finalize(cnt);
    if (rc != SQLITE_DONE || crc != SQLITE_ROW) {
        json_decref(arr);
        return fail("list");
    }
    *out = json_pack("{s:o, s:I, s:i, s:i}", "orders", arr, "total", (json_int_t)total, "limit",
                     limit, "offset", offset);
    return STORE_OK;
}

static int store_claim_orphans_locked(int pid, int64_t **tickets, int **burgers, size_t *n) {
    *tickets = NULL;
    *burgers = NULL;
    *n = 0;
    sqlite3 *d = db();
    if (!d)
        return STORE_ERROR;
    if (sqlite3_exec(d, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return fail("claim");
    sqlite3_stmt *st, *up;
    if (sqlite3_prepare_v2(d, "SELECT ticket, burgers, owner FROM orders WHERE status IN ('queued', 'cooking')",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(d, "UPDATE orders SET owner = ?, status = 'queued', cooking_at = NULL WHERE ticket = ?",
                           -1, &up, NULL) != SQLITE_OK) {
        sqlite3_exec(d, "ROLLBACK", NULL, NULL, NULL);
        return fail("claim");
    }
    size_t cap = 0;
    int rc;
    bool oom = false;
    /* Read every candidate first, then update: an UPDATE that moves a row
     * along the status index while the SELECT still walks it may show the
     * row again (SQLite leaves that undefined), and it was cooked twice. */
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int owner = sqlite3_column_int(st, 2);
        /* A live owner keeps its orders; ours from a previous life are orphans too. */
        if (owner > 0 && owner != pid && (kill(owner, 0) == 0 || errno == EPERM))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            int64_t *t = realloc(*tickets, cap * sizeof(**tickets));
            if (t)
                *tickets = t;
            int *b = realloc(*burgers, cap * sizeof(**burgers));
            if (b)
                *burgers = b;
            if (!t || !b) {
                oom = true;
                break;
            }
        }
        (*tickets)[*n] = sqlite3_column_int64(st, 0);
        (*burgers)[*n] = sqlite3_column_int(st, 1);
        (*n)++;
    }
    sqlite3_finalize(st);
    for (size_t i = 0; rc == SQLITE_DONE && !oom && i < *n; i++) {
        sqlite3_reset(up);
        sqlite3_bind_int(up, 1, pid);
        sqlite3_bind_int64(up, 2, (*tickets)[i]);
        if (sqlite3_step(up) != SQLITE_DONE)
            rc = SQLITE_ERROR;
    }
    sqlite3_finalize(up);
    if (oom || rc != SQLITE_DONE || sqlite3_exec(d, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        int r = oom ? (snprintf(tl_err, sizeof(tl_err), "claim: out of memory"), STORE_ERROR)
                    : fail("claim");
        sqlite3_exec(d, "ROLLBACK", NULL, NULL, NULL);
        free(*tickets);
        free(*burgers);
        *tickets = NULL;
        *burgers = NULL;
        *n = 0;
        return r;
    }
    return STORE_OK;
}


int store_insert(const char *customer, int burgers, bool counter, int pid, double arrived,
                 order_t *out) {
    if (tl_in_batch)
        return store_insert_locked(customer, burgers, counter, pid, arrived, out);
    pthread_mutex_lock(&g_write_mu);
    int rc = store_insert_locked(customer, burgers, counter, pid, arrived, out);
    pthread_mutex_unlock(&g_write_mu);
    return rc;
}


int store_set_status(int64_t ticket, const char *status, double at) {
    if (tl_in_batch)
        return store_set_status_locked(ticket, status, at);
    pthread_mutex_lock(&g_write_mu);
    int rc = store_set_status_locked(ticket, status, at);
    pthread_mutex_unlock(&g_write_mu);
    return rc;
}


int store_pickup(int64_t ticket, order_t *out) {
    if (tl_in_batch)
        return store_pickup_locked(ticket, out);
    pthread_mutex_lock(&g_write_mu);
    int rc = store_pickup_locked(ticket, out);
    pthread_mutex_unlock(&g_write_mu);
    return rc;
}


int store_claim_orphans(int pid, int64_t **tickets, int **burgers, size_t *n) {
    if (tl_in_batch)
        return store_claim_orphans_locked(pid, tickets, burgers, n);
    pthread_mutex_lock(&g_write_mu);
    int rc = store_claim_orphans_locked(pid, tickets, burgers, n);
    pthread_mutex_unlock(&g_write_mu);
    return rc;
}

int store_batch_begin(void) {
    sqlite3 *d = db();
    if (!d)
        return STORE_ERROR;
    pthread_mutex_lock(&g_write_mu);
    if (sqlite3_exec(d, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        pthread_mutex_unlock(&g_write_mu);
        return fail("begin");
    }
    tl_in_batch = true;
    return STORE_OK;
}

int store_batch_end(void) {
    int rc = STORE_OK;
    if (sqlite3_exec(tl_db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        rc = fail("commit");
        sqlite3_exec(tl_db, "ROLLBACK", NULL, NULL, NULL);
    }
    tl_in_batch = false;
    pthread_mutex_unlock(&g_write_mu);
    return rc;
}

static json_t *time_or_null(double t) {
    return t > 0 ? json_real(t) : json_null();
}

json_t *order_json(const order_t *o) {
    return json_pack("{s:I, s:s, s:i, s:s, s:o, s:o, s:o, s:o}", "ticket", (json_int_t)o->ticket,
                     "customer", o->customer, "burgers", o->burgers, "status", o->status,
                     "created_at", time_or_null(o->created_at), "cooking_at",
                     time_or_null(o->cooking_at), "ready_at", time_or_null(o->ready_at),
                     "picked_up_at", time_or_null(o->picked_up_at));
}

/* Digits of a non-negative number, by hand (printf costs more than the rest of a reply). */
static size_t put_uint(char *out, unsigned long long v) {
    char tmp[24];
    size_t n = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while (v /= 10);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

/* A time as seconds with up to 6 decimals, or null. */
static size_t put_time(char *out, double t) {
    if (t <= 0) {
        memcpy(out, "null", 4);
        return 4;
    }
    long long us = llround(t * 1e6);
    size_t n = put_uint(out, (unsigned long long)(us / 1000000));
    long long frac = us % 1000000;
    out[n++] = '.';
    if (!frac) {
        out[n++] = '0';
        return n;
    }
    char f[6];
    int len = 6;
    for (int i = 5; i >= 0; i--, frac /= 10)
        f[i] = (char)('0' + frac % 10);
    while (len > 1 && f[len - 1] == '0')
        len--;
    memcpy(out + n, f, (size_t)len);
    return n + (size_t)len;
}

static size_t put_lit(char *out, const char *s) {
    size_t n = strlen(s);
    memcpy(out, s, n);
    return n;
}

size_t order_text(const order_t *o, char *out, size_t cap) {
    /* Each part is bounded: the name (63 bytes, 6 each escaped), four times, the rest small. */
    if (cap < ORDER_TEXT_MAX)
        return 0;
    size_t n = put_lit(out, "{\"ticket\":");
    n += put_uint(out + n, (unsigned long long)o->ticket);
    n += put_lit(out + n, ",\"customer\":\"");
    /* The customer was checked at the door (1..50 characters); still, escape what JSON needs. */
    for (const unsigned char *p = (const unsigned char *)o->customer; *p; p++) {
        if (*p == '"' || *p == '\\') {
            out[n++] = '\\';
            out[n++] = (char)*p;
        } else if (*p < 0x20) {
            static const char hex[] = "0123456789ABCDEF";
            n += put_lit(out + n, "\\u00");
            out[n++] = hex[*p >> 4];
            out[n++] = hex[*p & 15];
        } else {
            out[n++] = (char)*p;
        }
    }
    n += put_lit(out + n, "\",\"burgers\":");
    n += put_uint(out + n, (unsigned long long)(o->burgers > 0 ? o->burgers : 0));
    n += put_lit(out + n, ",\"status\":\"");
    n += put_lit(out + n, o->status);
    n += put_lit(out + n, "\",\"created_at\":");
    n += put_time(out + n, o->created_at);
    n += put_lit(out + n, ",\"cooking_at\":");
    n += put_time(out + n, o->cooking_at);
    n += put_lit(out + n, ",\"ready_at\":");
    n += put_time(out + n, o->ready_at);
    n += put_lit(out + n, ",\"picked_up_at\":");
    n += put_time(out + n, o->picked_up_at);
    out[n++] = '}';
    out[n] = '\0';
    return n;
}
