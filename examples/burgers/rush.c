/* SPDX-License-Identifier: MIT */
/*
 * burger-rush: the customers. Sends N customers to the burger shop at once
 * and measures how it copes, in two ways of being served:
 *
 *   concurrent  order (POST /orders), get a ticket, wait on it
 *               (GET /orders/{t}/wait until 200), pick the burger up;
 *   parallel    order at the counter and stand there until the cashier
 *               has cooked it (POST /counter/orders), like a blocking
 *               handler on a pool of threads.
 *
 *   burger-rush [URL] [--customers N] [--burgers-each K]
 *               [--mode concurrent|parallel|both] [--svg FILE]
 *               [--timeout-s S] [--quiet]
 *
 * It is an awaitress program itself: every customer is a task, and they all
 * share one aw_fetch() client, whose pool keeps a connection per customer
 * alive between requests. A monitor task samples the shop's threads and
 * peak RSS from /proc every 100 ms (the shop names its pid at GET /kitchen;
 * only when it runs on this machine) and redraws the progress bar.
 *
 * Output: a progress bar on a terminal, one plain line per mode otherwise,
 * then `name: value` lines per mode (concurrent_..., parallel_...). With
 * --svg, a timeline of every customer (rush_svg.c). Exits 0 when everybody
 * was served, 1 when some were not or the shop is unreachable, 2 on bad
 * usage.
 */
#include <awaitress.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "rush_svg.h"

/* A server-side wait gives up after this long (then the customer waits again). */
#define WAIT_S 30
/* Error lines printed per mode; the rest are only counted. */
#define MAX_COMPLAINTS 5

struct opts {
    const char *url, *svg;
    size_t customers;
    int burgers;
    bool concurrent, parallel, quiet;
    unsigned timeout_s;
};

/* The shop's worker process, if it runs here: what /proc says about it. */
struct server {
    pid_t pid; /* 0: unknown, nothing sampled */
    int threads_max;
    double hwm_mib;
};

struct mode_run;

/* One customer; times from aw_now_ns(), 0 for a step not reached. */
struct customer {
    struct mode_run *run;
    size_t number; /* 1-based, as in its name */
    uint64_t start_ns, counter_ns, burger_ns, failed_ns;
};

struct mode_run {
    const char *name;
    bool parallel;
    const struct opts *o;
    aw_client_t *client;
    struct server *server;
    struct customer *customers;
    size_t n, done, served, complaints, errors_unshown;
    size_t cut_off; /* still waiting when the mode's timeout struck */
    uint64_t spawn_ns;
    bool tty, timed_out;
    /* Filled when the mode ends. */
    rush_customer_t *timeline;
    rush_stats_t stats;
    int threads_max;
    double hwm_mib;
    bool has_server_figures;
};

struct rush {
    struct opts o;
    struct mode_run runs[2];
    size_t nruns;
    int exit_code;
};

/* ---- talking to the shop --------------------------------------------------------------- */

/* Says what went wrong for the first few customers of a mode; counts the rest. */
static void complain(struct customer *c, const char *what, int rc, const aw_response_t *res) {
    struct mode_run *m = c->run;
    if (rc == AW_ECANCELED) { /* the mode's timeout: reported once, by the mode */
        m->cut_off++;
        return;
    }
    if (m->complaints >= MAX_COMPLAINTS) {
        m->errors_unshown++;
        return;
    }
    m->complaints++;
    if (m->tty)
        fputs("\r\033[K", stdout); /* keep the progress line from mixing in */
    fflush(stdout);
    if (res)
        fprintf(stderr, "burger-rush: %s customer %zu: %s: %d %s\n", m->name, c->number, what,
                aw_response_status(res), aw_response_reason(res));
    else
        fprintf(stderr, "burger-rush: %s customer %zu: %s: %s\n", m->name, c->number, what,
                aw_strerror(rc));
}

/*
 * Sends one request with a JSON body (or none). Returns 0 with *res set when
 * the answer is a 2xx; otherwise complains, frees what came and returns -1.
 */
static int call(struct customer *c, const char *method, const char *path, const char *json,
                uint32_t timeout_ms, aw_response_t **res) {
    aw_fetch_req_t req = {
        .method = method,
        .url = path,
        .body = json,
        .body_len = json ? strlen(json) : 0,
        .content_type = json ? "application/json" : NULL,
        .timeout_ms = timeout_ms,
    };
    char what[160];
    int rc = aw_fetch(c->run->client, &req, res);
    if (rc == 0 && aw_response_status(*res) / 100 == 2)
        return 0;
    snprintf(what, sizeof(what), "%s /%s", method, path);
    complain(c, what, rc, rc == 0 ? *res : NULL);
    aw_response_free(*res);
    *res = NULL;
    return -1;
}

/* The ticket number in an order's JSON, or -1. */
static long long ticket_of(const aw_response_t *res) {
    size_t len;
    const char *body = aw_response_body(res, &len);
    json_t *order = json_loadb(body, len, 0, NULL);
    json_t *ticket = json_object_get(order, "ticket");
    long long t = json_is_integer(ticket) ? (long long)json_integer_value(ticket) : -1;
    json_decref(order);
    return t;
}

/* Concurrent: order, take the ticket, wait on it (again after each 202), pick up. */
static int with_ticket(struct customer *c, const char *json) {
    aw_response_t *res;
    if (call(c, "POST", "orders", json, 0, &res) < 0)
        return -1;
    long long ticket = ticket_of(res);
    aw_response_free(res);
    if (ticket < 0) {
        complain(c, "POST /orders (no ticket in the answer)", AW_EPROTO, NULL);
        return -1;
    }
    c->counter_ns = aw_now_ns();

    char path[96];
    snprintf(path, sizeof(path), "orders/%lld/wait?timeout_s=%d", ticket, WAIT_S);
    for (;;) {
        /* The shop answers within WAIT_S; ten seconds more covers a slow answer. */
        if (call(c, "GET", path, NULL, (WAIT_S + 10) * 1000, &res) < 0)
            return -1;
        int status = aw_response_status(res);
        aw_response_free(res);
        if (status == 200)
            break;
    }
    c->burger_ns = aw_now_ns();

    snprintf(path, sizeof(path), "orders/%lld/pickup", ticket);
    if (call(c, "POST", path, NULL, 0, &res) < 0)
        return -1;
    aw_response_free(res);
    return 0;
}

/* Parallel: stand at the counter until the burgers come. */
static int at_counter(struct customer *c, const char *json) {
    aw_response_t *res;
    if (call(c, "POST", "counter/orders", json, 0, &res) < 0)
        return -1;
    aw_response_free(res);
    c->counter_ns = c->burger_ns = aw_now_ns();
    return 0;
}

static void *customer_main(void *arg) {
    struct customer *c = arg;
    struct mode_run *m = c->run;
    char json[96];
    c->start_ns = aw_now_ns();
    snprintf(json, sizeof(json), "{\"customer\":\"customer-%zu\",\"burgers\":%d}", c->number,
             m->o->burgers);
    if ((m->parallel ? at_counter(c, json) : with_ticket(c, json)) == 0)
        m->served++;
    else
        c->failed_ns = aw_now_ns();
    m->done++;
    return NULL;
}

/* ---- watching the shop ----------------------------------------------------------------- */

/* Reads Threads: and VmHWM: (in MiB) from /proc/<pid>/status. Returns false if it cannot. */
static bool read_status(pid_t pid, int *threads, double *hwm_mib) {
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool got_threads = false, got_hwm = false;
    while (fgets(line, sizeof(line), f)) {
        unsigned long kib;
        if (sscanf(line, "Threads: %d", threads) == 1)
            got_threads = true;
        else if (sscanf(line, "VmHWM: %lu kB", &kib) == 1) {
            *hwm_mib = (double)kib / 1024.0;
            got_hwm = true;
        }
    }
    fclose(f);
    return got_threads && got_hwm;
}

/*
 * Resets the shop's peak RSS to its current RSS, so that each mode reports
 * its own peak and not the one before it. Linux allows it on processes of
 * the same user; elsewhere the peak is the process's whole life's.
 */
static void reset_peak(pid_t pid) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/clear_refs", (int)pid);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (write(fd, "5", 1) != 1) {
            /* Best effort: the figure then covers the earlier modes too. */
        }
        close(fd);
    }
}

static void sample(struct mode_run *m) {
    int threads;
    double hwm;
    if (m->server->pid && read_status(m->server->pid, &threads, &hwm)) {
        m->has_server_figures = true;
        if (threads > m->threads_max)
            m->threads_max = threads;
        m->hwm_mib = hwm;
    }
}

static double seconds_since(uint64_t ns) {
    return (double)(aw_now_ns() - ns) / 1e9;
}

/* Redraws the progress line in place: "concurrent  [#####.....] 512/1000 served  1.2 s". */
static void draw_progress(const struct mode_run *m) {
    enum { WIDTH = 30 };
    char bar[WIDTH + 1];
    size_t filled = m->n ? m->done * WIDTH / m->n : WIDTH;
    for (size_t i = 0; i < WIDTH; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[WIDTH] = '\0';
    printf("\r%-11s [%s] %zu/%zu served  %.1f s", m->name, bar, m->served, m->n,
           seconds_since(m->spawn_ns));
    if (m->done > m->served)
        printf("  %zu errors", m->done - m->served);
    fputs("\033[K", stdout);
    fflush(stdout);
}

static void *monitor_main(void *arg) {
    struct mode_run *m = arg;
    do {
        sample(m);
        if (m->tty)
            draw_progress(m);
    } while (aw_sleep_ms(100) == 0);
    return NULL;
}

/* ---- a mode ---------------------------------------------------------------------------- */

/* Turns the customers' clock readings into the timeline and the figures. */
static int finish_mode(struct mode_run *m, uint64_t end_ns) {
    uint64_t t0 = UINT64_MAX;
    for (size_t i = 0; i < m->n; i++) {
        struct customer *c = &m->customers[i];
        if (!c->start_ns) { /* cancelled before it ever ran, or never created */
            c->start_ns = m->spawn_ns;
            c->failed_ns = end_ns;
            m->cut_off++;
        }
        if (c->start_ns < t0)
            t0 = c->start_ns;
    }
    if (!(m->timeline = calloc(m->n ? m->n : 1, sizeof(rush_customer_t))))
        return -1;
    for (size_t i = 0; i < m->n; i++) {
        const struct customer *c = &m->customers[i];
        rush_customer_t *t = &m->timeline[i];
#define SINCE(ns) ((ns) ? (double)((ns)-t0) / 1e9 : -1.0)
        t->start_s = SINCE(c->start_ns);
        t->counter_s = SINCE(c->counter_ns);
        t->burger_s = SINCE(c->burger_ns);
        t->failed_s = SINCE(c->failed_ns);
#undef SINCE
    }
    return rush_stats_compute(m->timeline, m->n, &m->stats);
}

/* Runs one mode to its end or its timeout. Returns 0, or -1 when out of memory. */
static int run_mode(struct mode_run *m) {
    m->customers = calloc(m->n, sizeof(*m->customers));
    aw_task_t **tasks = calloc(m->n, sizeof(*tasks));
    if (!m->customers || !tasks) {
        free(tasks);
        return -1;
    }
    if (m->server->pid)
        reset_peak(m->server->pid);
    m->spawn_ns = aw_now_ns();
    aw_task_t *monitor = aw_async(monitor_main, m);
    for (size_t i = 0; i < m->n; i++) {
        m->customers[i] = (struct customer){.run = m, .number = i + 1};
        tasks[i] = aw_async(customer_main, &m->customers[i]);
        if (!tasks[i]) /* out of memory: this one never comes */
            m->done++;
    }
    /* Compact the handles: aw_gather takes real tasks only. */
    size_t ntasks = 0;
    for (size_t i = 0; i < m->n; i++)
        if (tasks[i])
            tasks[ntasks++] = tasks[i];

    /* The deadline makes aw_gather cancel (and await) everybody still waiting. */
    aw_deadline_t d;
    aw_deadline_enter(&d, (uint64_t)m->o->timeout_s * 1000);
    aw_gather(tasks, ntasks, NULL);
    m->timed_out = aw_deadline_exit(&d);
    uint64_t end_ns = aw_now_ns();
    free(tasks);
    if (monitor) {
        aw_cancel(monitor);
        aw_await(monitor);
    }
    sample(m);

    if (m->tty) {
        draw_progress(m);
        putchar('\n');
    } else if (!m->o->quiet) {
        printf("%s: %zu/%zu served, %zu errors, %.3f s\n", m->name, m->served, m->n,
               m->n - m->served, (double)(end_ns - m->spawn_ns) / 1e9);
    }
    fflush(stdout);
    if (m->errors_unshown)
        fprintf(stderr, "burger-rush: %s: %zu more errors not shown\n", m->name, m->errors_unshown);
    int rc = finish_mode(m, end_ns);
    if (m->timed_out)
        fprintf(stderr,
                "burger-rush: %s: gave up after %u s (--timeout-s): %zu customers were "
                "still waiting\n",
                m->name, m->o->timeout_s, m->cut_off);
    return rc;
}

/* ---- the run --------------------------------------------------------------------------- */

/* True when the URL's host is this machine: only then is the shop's pid ours to read. */
static bool url_is_local(const char *url) {
    const char *h = strstr(url, "://");
    h = h ? h + 3 : url;
    return strncmp(h, "127.", 4) == 0 || strncmp(h, "localhost", 9) == 0 ||
           strncmp(h, "[::1]", 5) == 0 || strncmp(h, "0.0.0.0", 7) == 0;
}

/* Asks GET /kitchen for the shop's pid. Returns 0 (pid may stay 0) or a transport error. */
static int find_server(aw_client_t *cl, const char *url, struct server *srv) {
    aw_response_t *res;
    int rc = aw_client_get(cl, "kitchen", &res);
    if (rc < 0)
        return rc;
    if (aw_response_status(res) == 200) {
        size_t len;
        const char *body = aw_response_body(res, &len);
        json_t *k = json_loadb(body, len, 0, NULL);
        json_t *pid = json_object_get(k, "pid");
        if (json_is_integer(pid) && json_integer_value(pid) > 0)
            srv->pid = (pid_t)json_integer_value(pid);
        json_decref(k);
    }
    aw_response_free(res);
    if (!srv->pid)
        fprintf(stderr, "burger-rush: GET /kitchen named no pid: no server figures\n");
    else if (!url_is_local(url)) {
        fprintf(stderr, "burger-rush: the shop is not on this machine: no server figures\n");
        srv->pid = 0;
    }
    return 0;
}

static void print_figures(const struct mode_run *m) {
    const rush_stats_t *s = &m->stats;
    printf("%s_makespan_s: %.3f\n", m->name, s->makespan_s);
    printf("%s_counter_p50_ms: %.3f\n", m->name, s->counter_p50_ms);
    printf("%s_counter_p99_ms: %.3f\n", m->name, s->counter_p99_ms);
    printf("%s_burger_p50_ms: %.3f\n", m->name, s->burger_p50_ms);
    printf("%s_burger_p99_ms: %.3f\n", m->name, s->burger_p99_ms);
    printf("%s_throughput_per_s: %.3f\n", m->name, s->throughput_per_s);
    printf("%s_errors: %zu\n", m->name, s->errors);
    printf("%s_server_threads: %d\n", m->name, m->threads_max);
    printf("%s_server_peak_rss_mib: %.1f\n", m->name, m->hwm_mib);
}

static int write_svg(const struct rush *r) {
    rush_run_t runs[2];
    char title[256];
    int len = snprintf(title, sizeof(title), "burger-rush: %zu customers, %d burger%s each",
                       r->o.customers, r->o.burgers, r->o.burgers == 1 ? "" : "s");
    for (size_t i = 0; i < r->nruns; i++) {
        const struct mode_run *m = &r->runs[i];
        runs[i] =
            (rush_run_t){.mode = m->name, .customers = m->timeline, .n = m->n, .stats = m->stats};
        if (len > 0 && (size_t)len < sizeof(title))
            len += snprintf(title + len, sizeof(title) - (size_t)len, "%s %s %.2f s", i ? "," : ":",
                            m->name, m->stats.makespan_s);
    }
    FILE *f = fopen(r->o.svg, "w");
    if (!f) {
        fprintf(stderr, "burger-rush: %s: %s\n", r->o.svg, strerror(errno));
        return -1;
    }
    int rc = rush_svg_write(f, runs, r->nruns, title);
    if (fclose(f) != 0 || rc < 0) {
        fprintf(stderr, "burger-rush: %s: write failed\n", r->o.svg);
        return -1;
    }
    if (!r->o.quiet)
        printf("timeline: %s\n", r->o.svg);
    return 0;
}

static void *rush_main(void *arg) {
    struct rush *r = arg;
    /* Room for a kept-alive connection per customer. A request may take as
     * long as the mode's timeout, which cancels it; the client's own timeout
     * is a little longer, so that the mode's is the one that strikes. */
    aw_client_opts_t co = {
        .base_url = r->o.url,
        .max_idle_per_host = r->o.customers > INT32_MAX ? INT32_MAX : (int)r->o.customers,
        .timeout_ms = r->o.timeout_s * 1000 + 5000,
        .idle_timeout_ms = 60000,
    };
    aw_client_t *cl = aw_client_new(&co);
    if (!cl) {
        fprintf(stderr, "burger-rush: bad shop URL %s (want http://host:port)\n", r->o.url);
        r->exit_code = 2;
        return NULL;
    }
    struct server srv = {0};
    int rc = find_server(cl, r->o.url, &srv);
    if (rc < 0) {
        fprintf(stderr, "burger-rush: cannot reach the shop at %s: %s\n", r->o.url,
                aw_strerror(rc));
        r->exit_code = 1;
        aw_client_free(cl);
        return NULL;
    }

    bool tty = !r->o.quiet && isatty(STDOUT_FILENO);
    const char *names[2] = {"concurrent", "parallel"};
    bool wanted[2] = {r->o.concurrent, r->o.parallel};
    for (int i = 0; i < 2; i++) {
        if (!wanted[i])
            continue;
        struct mode_run *m = &r->runs[r->nruns++];
        *m = (struct mode_run){.name = names[i],
                               .parallel = i == 1,
                               .o = &r->o,
                               .client = cl,
                               .server = &srv,
                               .n = r->o.customers,
                               .tty = tty};
        if (run_mode(m) < 0) {
            fprintf(stderr, "burger-rush: out of memory\n");
            r->exit_code = 1;
            goto out;
        }
        if (m->stats.errors)
            r->exit_code = 1;
        if (!m->has_server_figures && srv.pid)
            fprintf(stderr, "burger-rush: cannot read /proc/%d/status: no server figures\n",
                    (int)srv.pid);
    }
    if (r->o.svg && write_svg(r) < 0)
        r->exit_code = 1;
    for (size_t i = 0; i < r->nruns; i++)
        print_figures(&r->runs[i]);
out:
    fflush(stdout);
    aw_client_free(cl);
    return NULL;
}

/* ---- the command line ------------------------------------------------------------------ */

static void usage(FILE *to) {
    fputs("usage: burger-rush [URL] [options]\n"
          "Sends customers to the burger shop at URL [http://127.0.0.1:8000] and reports\n"
          "how long they waited.\n"
          "  --customers N      customers, all arriving at once [100]\n"
          "  --burgers-each K   burgers per customer [1]\n"
          "  --mode M           concurrent (order, ticket, wait), parallel (wait at the\n"
          "                     counter), or both, one after the other [both]\n"
          "  --svg FILE         write a timeline of every customer as SVG\n"
          "  --timeout-s S      give up on a mode after S seconds [120]\n"
          "  --quiet            no progress, only the figures\n"
          "Ends with `name: value` lines per mode: makespan_s, counter_p50_ms, counter_p99_ms,\n"
          "burger_p50_ms, burger_p99_ms, throughput_per_s, errors, server_threads,\n"
          "server_peak_rss_mib (server figures only for a shop on this machine).\n",
          to);
}

/* Parses a whole decimal number in [lo, hi]. */
static bool parse_count(const char *s, unsigned long lo, unsigned long hi, unsigned long *out) {
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* Returns 0, 1 after --help, or -1 on bad usage (said on stderr). */
static int parse_args(struct opts *o, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        char name[32];
        /* "--name value" and "--name=value" alike. */
        const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
        if (eq && (size_t)(eq - a) < sizeof(name)) {
            snprintf(name, sizeof(name), "%.*s", (int)(eq - a), a);
            a = name;
            v = eq + 1;
        }
        bool takes = strcmp(a, "--customers") == 0 || strcmp(a, "--burgers-each") == 0 ||
                     strcmp(a, "--mode") == 0 || strcmp(a, "--svg") == 0 ||
                     strcmp(a, "--timeout-s") == 0;
        if (takes && !v) {
            if (i + 1 == argc) {
                fprintf(stderr, "burger-rush: %s needs a value\n", a);
                return -1;
            }
            v = argv[++i];
        }
        unsigned long n;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 1;
        } else if (strcmp(a, "--customers") == 0) {
            if (!parse_count(v, 1, 1000000, &n))
                goto bad_value;
            o->customers = n;
        } else if (strcmp(a, "--burgers-each") == 0) {
            if (!parse_count(v, 1, 1000, &n))
                goto bad_value;
            o->burgers = (int)n;
        } else if (strcmp(a, "--timeout-s") == 0) {
            if (!parse_count(v, 1, 86400, &n))
                goto bad_value;
            o->timeout_s = (unsigned)n;
        } else if (strcmp(a, "--mode") == 0) {
            o->concurrent = strcmp(v, "concurrent") == 0 || strcmp(v, "both") == 0;
            o->parallel = strcmp(v, "parallel") == 0 || strcmp(v, "both") == 0;
            if (!o->concurrent && !o->parallel)
                goto bad_value;
        } else if (strcmp(a, "--svg") == 0) {
            o->svg = v;
        } else if (strcmp(a, "--quiet") == 0 && !v) {
            o->quiet = true;
        } else if (a[0] == '-' || v) {
            fprintf(stderr, "burger-rush: unknown option %s\n", argv[i]);
            usage(stderr);
            return -1;
        } else if (o->url != NULL) {
            fprintf(stderr, "burger-rush: one URL only (got %s and %s)\n", o->url, a);
            return -1;
        } else {
            o->url = a;
        }
        continue;
    bad_value:
        fprintf(stderr, "burger-rush: bad value for %s: %s\n", a, v);
        return -1;
    }
    return 0;
}

/* Every customer holds a connection: lift the soft limit on open files to the hard one. */
static void raise_fd_limit(size_t customers) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY && customers + 64 > rl.rlim_cur)
        fprintf(stderr,
                "burger-rush: %zu customers but only %llu open files allowed; some "
                "will fail (raise ulimit -n)\n",
                customers, (unsigned long long)rl.rlim_cur);
}

int main(int argc, char **argv) {
    struct rush r = {.o = {.url = NULL,
                           .customers = 100,
                           .burgers = 1,
                           .concurrent = true,
                           .parallel = true,
                           .timeout_s = 120}};
    int rc = parse_args(&r.o, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (!r.o.url)
        r.o.url = "http://127.0.0.1:8000";
    signal(SIGPIPE, SIG_IGN); /* stdout may be a pipe that closes early */
    raise_fd_limit(r.o.customers);
    aw_log_set_level(AW_LOG_WARN);
    if (aw_run(rush_main, &r, NULL) != 0 && r.exit_code == 0)
        r.exit_code = 1;
    for (size_t i = 0; i < r.nruns; i++) {
        free(r.runs[i].customers);
        free(r.runs[i].timeline);
    }
    aw_pool_shutdown_default();
    return r.exit_code;
}
