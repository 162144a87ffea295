/* SPDX-License-Identifier: MIT */
/*
 * burger-rush's figures and picture: nearest-rank percentiles, the figures
 * of one mode, and the SVG timeline that shows the modes side by side.
 *
 * DESIGN: the picture is written in one pass with fprintf. Each panel is a
 * mode; its rows are customers sorted by the time they got their burger
 * (those who gave up go last), so the shape tells the story: a steep edge
 * when the shop serves everybody at once, a staircase when a pool of
 * threads serves them a batch at a time. Both panels share the time axis,
 * so a short run looks short next to a long one. Only generic font names
 * and inline attributes are used: the file shows the same anywhere.
 */
#include "rush_svg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- statistics ------------------------------------------------------------------------ */

double rush_percentile(const double *sorted, size_t n, double p) {
    if (n == 0)
        return 0;
    /* The rank is ceil(p/100 * n), 1-based; the epsilon keeps p=50, n=10 at rank 5. */
    double r = ceil(p / 100.0 * (double)n - 1e-9);
    size_t rank = r < 1 ? 1 : (size_t)r;
    if (rank > n)
        rank = n;
    return sorted[rank - 1];
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static bool is_served(const rush_customer_t *c) {
    return c->failed_s < 0 && c->burger_s >= 0;
}

int rush_stats_compute(const rush_customer_t *c, size_t n, rush_stats_t *out) {
    memset(out, 0, sizeof(*out));
    out->customers = n;
    double *counter = malloc((n ? n : 1) * sizeof(double));
    double *burger = malloc((n ? n : 1) * sizeof(double));
    if (!counter || !burger) {
        free(counter);
        free(burger);
        return -1;
    }
    size_t ncounter = 0;
    double first = INFINITY, last = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (c[i].start_s < first)
            first = c[i].start_s;
        if (c[i].counter_s >= 0)
            counter[ncounter++] = (c[i].counter_s - c[i].start_s) * 1000.0;
        if (is_served(&c[i])) {
            burger[out->served++] = (c[i].burger_s - c[i].start_s) * 1000.0;
            if (c[i].burger_s > last)
                last = c[i].burger_s;
        }
    }
    out->errors = n - out->served;
    qsort(counter, ncounter, sizeof(double), cmp_double);
    qsort(burger, out->served, sizeof(double), cmp_double);
    out->counter_p50_ms = rush_percentile(counter, ncounter, 50);
    out->counter_p99_ms = rush_percentile(counter, ncounter, 99);
    out->burger_p50_ms = rush_percentile(burger, out->served, 50);
    out->burger_p99_ms = rush_percentile(burger, out->served, 99);
    if (out->served) {
        out->makespan_s = last - first;
        if (out->makespan_s > 0)
            out->throughput_per_s = (double)out->served / out->makespan_s;
    }
    free(counter);
    free(burger);
    return 0;
}

/* ---- the picture ----------------------------------------------------------------------- */

#define COLOR_COUNTER "#f28e2b"
#define COLOR_WAITING "#a6cee3"
#define COLOR_IN_HAND "#59a14f"
#define COLOR_GAVE_UP "#d62728"

/* Layout, in SVG user units (pixels). */
enum {
    MARGIN_X = 24,
    AXIS_W = 34,      /* left of each plot: the rotated "customers" label */
    GAP_X = 36,       /* between the panels */
    TOP = 122,        /* title, legend and panel headers live above this */
    PLOT_H_MAX = 480, /* rows share this height, up to ROW_H_MAX each */
    ROW_H_MAX = 16,
    BOTTOM = 78, /* the time axis and the caption */
};

/* Writes `s` with the five XML specials escaped. */
static void put_escaped(FILE *f, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&apos;", f);
            break;
        default:
            /* Controls other than tab and newline are not allowed in XML 1.0. */
            if ((unsigned char)*s >= 0x20 || *s == '\t' || *s == '\n')
                fputc(*s, f);
        }
    }
}

/* "850 ms" below a second, "1.23 s" above. */
static void fmt_ms(char *buf, size_t size, double ms) {
    if (ms < 1000)
        snprintf(buf, size, "%.*f ms", ms < 10 ? 1 : 0, ms);
    else
        snprintf(buf, size, "%.2f s", ms / 1000);
}

/* The smallest of 1, 2, 5 x 10^k giving at most `most` steps over [0, span]. */
static double nice_step(double span, int most) {
    double raw = span / most, mag = pow(10, floor(log10(raw)));
    for (int i = 0; i < 3; i++) {
        double step = (double[]){1, 2, 5}[i] * mag;
        if (step >= raw * (1 - 1e-9))
            return step;
    }
    return 10 * mag;
}

/* The latest moment a run's picture must show. */
static double run_end(const rush_run_t *r) {
    double end = 0;
    for (size_t i = 0; i < r->n; i++) {
        const rush_customer_t *c = &r->customers[i];
        double t = fmax(fmax(c->counter_s, c->burger_s), fmax(c->failed_s, c->start_s));
        if (t > end)
            end = t;
    }
    return end;
}

/* The sort key: when the burger came; those who gave up go after everybody served. */
static double served_key(const rush_customer_t *c) {
    return is_served(c) ? c->burger_s : 1e12 + c->failed_s;
}

static const rush_customer_t *sort_base; /* qsort has no context argument */

static int cmp_by_served(const void *a, const void *b) {
    double x = served_key(&sort_base[*(const size_t *)a]);
    double y = served_key(&sort_base[*(const size_t *)b]);
    if (x != y)
        return (x > y) - (x < y);
    return (*(const size_t *)a > *(const size_t *)b) - (*(const size_t *)a < *(const size_t *)b);
}

/* A bar from t0 to t1 (seconds) on row y; nothing when it has no length. */
static void put_bar(FILE *f, double x0, double scale, double t0, double t1, double y, double h,
                    const char *color) {
    if (!(t1 > t0))
        return;
    fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\"/>",
            x0 + t0 * scale, y, fmax((t1 - t0) * scale, 0.5), h, color);
}

/* One customer's row: the phases reached, the one they gave up in drawn in red. */
static void put_row(FILE *f, const rush_customer_t *c, size_t number, double in_hand_until,
                    double x0, double scale, double y, double h) {
    char counter[32] = "-", burger[32] = "-";
    if (c->counter_s >= 0)
        fmt_ms(counter, sizeof(counter), (c->counter_s - c->start_s) * 1000);
    if (c->burger_s >= 0)
        fmt_ms(burger, sizeof(burger), (c->burger_s - c->start_s) * 1000);
    fprintf(f, "<g><title>customer %zu: counter %s, burger %s%s</title>", number, counter, burger,
            c->failed_s >= 0 ? ", gave up" : "");
    bool failed = c->failed_s >= 0;
    if (c->counter_s >= 0) {
        put_bar(f, x0, scale, c->start_s, c->counter_s, y, h, COLOR_COUNTER);
        if (c->burger_s >= 0) {
            put_bar(f, x0, scale, c->counter_s, c->burger_s, y, h, COLOR_WAITING);
            if (failed) /* the pickup failed: the burger never left the shop */
                put_bar(f, x0, scale, c->burger_s, c->failed_s, y, h, COLOR_GAVE_UP);
            else
                put_bar(f, x0, scale, c->burger_s, in_hand_until, y, h, COLOR_IN_HAND);
        } else if (failed) {
            put_bar(f, x0, scale, c->counter_s, c->failed_s, y, h, COLOR_GAVE_UP);
        }
    } else if (failed) {
        put_bar(f, x0, scale, c->start_s, c->failed_s, y, h, COLOR_GAVE_UP);
    }
    fputs("</g>\n", f);
}

/* The legend's swatches, left to right from (x, y). */
static void put_legend(FILE *f, double x, double y, bool gave_up) {
    static const char *const items[][2] = {
        {COLOR_COUNTER, "at the counter"},
        {COLOR_WAITING, "waiting with a ticket"},
        {COLOR_IN_HAND, "burger in hand"},
        {COLOR_GAVE_UP, "gave up (error or timeout)"},
    };
    for (size_t i = 0; i < (gave_up ? 4u : 3u); i++) {
        fprintf(f,
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"14\" fill=\"%s\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\">%s</text>\n",
                x, y - 11, items[i][0], x + 20, y, items[i][1]);
        x += 44 + 7.2 * (double)strlen(items[i][1]);
    }
}

/*
 * One panel: its header, the rows (sampled), the time axis. `order` is
 * scratch space for n indices.
 */
static void put_panel(FILE *f, const rush_run_t *r, size_t *order, double x0, double plot_w,
                      double axis_end, double step, size_t rows, double row_h) {
    const rush_stats_t *s = &r->stats;
    char p99c[32], p99b[32];
    fmt_ms(p99c, sizeof(p99c), s->counter_p99_ms);
    fmt_ms(p99b, sizeof(p99b), s->burger_p99_ms);
    fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"15\" font-weight=\"bold\">", x0, TOP - 26);
    put_escaped(f, r->mode);
    fprintf(f, ": makespan %.2f s, %zu of %zu served</text>\n", s->makespan_s, s->served,
            s->customers);
    fprintf(f,
            "<text x=\"%.1f\" y=\"%d\" font-size=\"12\" fill=\"#444\">p99 at the counter %s, "
            "p99 until the burger %s, %.1f burgers/s</text>\n",
            x0, TOP - 10, p99c, p99b, s->throughput_per_s);

    double plot_h = (double)rows * row_h, scale = plot_w / axis_end;
    fprintf(f,
            "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%.1f\" fill=\"#fafafa\" "
            "stroke=\"#999\" stroke-width=\"0.5\"/>\n",
            x0, TOP, plot_w, plot_h);
    for (double t = 0; t <= axis_end * (1 + 1e-9); t += step) {
        double x = x0 + t * scale;
        fprintf(f,
                "<line x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%.1f\" stroke=\"#ddd\" "
                "stroke-width=\"0.5\"/><text x=\"%.2f\" y=\"%.1f\" font-size=\"11\" "
                "text-anchor=\"middle\">%g</text>\n",
                x, TOP, x, TOP + plot_h + 4, x, TOP + plot_h + 17, t);
    }
    fprintf(f,
            "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\">seconds since "
            "the first customer walked in</text>\n",
            x0 + plot_w / 2, TOP + plot_h + 34);
    double ly = TOP + plot_h / 2;
    fprintf(f,
            "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\" "
            "transform=\"rotate(-90 %.1f %.1f)\">customers, by when they got served</text>\n",
            x0 - 10, ly, x0 - 10, ly);

    double in_hand_until = 0;
    for (size_t i = 0; i < r->n; i++) {
        order[i] = i;
        if (is_served(&r->customers[i]) && r->customers[i].burger_s > in_hand_until)
            in_hand_until = r->customers[i].burger_s;
    }
    sort_base = r->customers;
    qsort(order, r->n, sizeof(size_t), cmp_by_served);
    /* Thin rows touch; thick ones get a hairline between them. */
    double bar_h = row_h >= 4 ? row_h - 1 : row_h;
    fputs("<g shape-rendering=\"crispEdges\">\n", f);
    for (size_t row = 0; row < rows; row++) {
        /* Evenly spread picks that keep the first and the last customer. */
        size_t k = rows == r->n || rows < 2
                       ? row
                       : (size_t)llround((double)row * (double)(r->n - 1) / (double)(rows - 1));
        put_row(f, &r->customers[order[k]], order[k] + 1, in_hand_until, x0, scale,
                TOP + (double)row * row_h, bar_h);
    }
    fputs("</g>\n", f);
}

int rush_svg_write(FILE *f, const rush_run_t *runs, size_t nruns, const char *title) {
    if (nruns == 0)
        return -1;
    size_t most = 0, rows = 0;
    double end = 0;
    bool gave_up = false, sampled = false;
    for (size_t i = 0; i < nruns; i++) {
        size_t r = runs[i].n < RUSH_SVG_MAX_ROWS ? runs[i].n : RUSH_SVG_MAX_ROWS;
        rows = r > rows ? r : rows;
        most = runs[i].n > most ? runs[i].n : most;
        sampled |= runs[i].n > RUSH_SVG_MAX_ROWS;
        end = fmax(end, run_end(&runs[i]));
        gave_up |= runs[i].stats.errors > 0;
    }
    size_t *order = malloc((most ? most : 1) * sizeof(size_t));
    if (!order)
        return -1;
    if (end <= 0)
        end = 0.001;
    double step = nice_step(end, 8), axis_end = ceil(end / step - 1e-9) * step;
    double row_h = rows ? fmin(ROW_H_MAX, (double)PLOT_H_MAX / (double)rows) : ROW_H_MAX;
    double plot_w = nruns == 1 ? 820 : 520;
    double width = 2 * MARGIN_X + (double)nruns * (AXIS_W + plot_w) + (double)(nruns - 1) * GAP_X;
    double height = TOP + (double)rows * row_h + BOTTOM;

    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
            "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
            "<text x=\"%d\" y=\"30\" font-size=\"20\" font-weight=\"bold\">",
            width, height, width, height, MARGIN_X);
    put_escaped(f, title ? title : "burger-rush");
    fputs("</text>\n", f);
    put_legend(f, MARGIN_X, 62, gave_up);
    for (size_t i = 0; i < nruns; i++) {
        double x0 = MARGIN_X + AXIS_W + (double)i * (AXIS_W + plot_w + GAP_X);
        put_panel(f, &runs[i], order, x0, plot_w, axis_end, step,
                  runs[i].n < RUSH_SVG_MAX_ROWS ? runs[i].n : RUSH_SVG_MAX_ROWS, row_h);
    }
    fprintf(f, "<text x=\"%d\" y=\"%.1f\" font-size=\"12\" fill=\"#444\">", MARGIN_X, height - 12);
    if (sampled)
        fprintf(f,
                "One row per customer, sorted by when the burger came; %zu customers, %d "
                "rows shown (sampled evenly, first and last included).",
                most, RUSH_SVG_MAX_ROWS);
    else
        fputs("One row per customer, sorted by when the burger came.", f);
    if (nruns > 1)
        fputs(" Both panels share the time axis.", f);
    fputs("</text>\n</svg>\n", f);
    free(order);
    return ferror(f) ? -1 : 0;
}
