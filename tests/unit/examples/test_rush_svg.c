/* SPDX-License-Identifier: MIT */
/*
 * Tests for examples/burgers/rush_svg.c: burger-rush's nearest-rank
 * percentiles, the figures of a mode, and the SVG timeline (well-formed,
 * one row per customer up to the sampling limit, text escaped).
 */
#include <math.h>
#include <stdbool.h>

#include "../../../examples/burgers/rush_svg.c"
#include "../test.h"

#define ASSERT_NEAR(a, b) ASSERT_TRUE(fabs((double)(a) - (double)(b)) < 1e-6)

/* ---- percentiles and figures ----------------------------------------------------------- */

TEST(percentile_nearest_rank) {
    double ten[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    ASSERT_NEAR(rush_percentile(ten, 10, 50), 5);
    ASSERT_NEAR(rush_percentile(ten, 10, 90), 9);
    ASSERT_NEAR(rush_percentile(ten, 10, 91), 10);
    ASSERT_NEAR(rush_percentile(ten, 10, 99), 10);
    ASSERT_NEAR(rush_percentile(ten, 10, 100), 10);
    ASSERT_NEAR(rush_percentile(ten, 10, 1), 1);
    ASSERT_NEAR(rush_percentile(ten, 1, 99), 1);
    ASSERT_NEAR(rush_percentile(ten, 0, 50), 0);

    double hundred[100];
    for (int i = 0; i < 100; i++)
        hundred[i] = i + 1;
    ASSERT_NEAR(rush_percentile(hundred, 100, 50), 50);
    ASSERT_NEAR(rush_percentile(hundred, 100, 99), 99);
    ASSERT_NEAR(rush_percentile(hundred, 100, 99.5), 100);
}

/* Four customers: two served, one lost at the counter, one whose pickup failed. */
static const rush_customer_t mixed[] = {
    {.start_s = 0.0, .counter_s = 0.010, .burger_s = 1.0, .failed_s = -1},
    {.start_s = 0.1, .counter_s = 0.130, .burger_s = 2.1, .failed_s = -1},
    {.start_s = 0.2, .counter_s = -1, .burger_s = -1, .failed_s = 0.5},
    {.start_s = 0.3, .counter_s = 0.320, .burger_s = 1.5, .failed_s = 1.6},
};

TEST(stats_count_served_and_errors) {
    rush_stats_t s;
    ASSERT_EQ(rush_stats_compute(mixed, 4, &s), 0);
    ASSERT_EQ(s.customers, 4);
    ASSERT_EQ(s.served, 2);
    ASSERT_EQ(s.errors, 2);
    /* Counter times of the three who got a ticket: 10, 20, 30 ms. */
    ASSERT_NEAR(s.counter_p50_ms, 20);
    ASSERT_NEAR(s.counter_p99_ms, 30);
    /* Burger times of the two served: 1000 and 2000 ms. */
    ASSERT_NEAR(s.burger_p50_ms, 1000);
    ASSERT_NEAR(s.burger_p99_ms, 2000);
    /* First start (0) to last burger of the served (2.1). */
    ASSERT_NEAR(s.makespan_s, 2.1);
    ASSERT_NEAR(s.throughput_per_s, 2 / 2.1);
}

TEST(stats_with_nobody_served) {
    rush_customer_t lost[2] = {
        {.start_s = 0, .counter_s = -1, .burger_s = -1, .failed_s = 1},
        {.start_s = 0, .counter_s = -1, .burger_s = -1, .failed_s = 2},
    };
    rush_stats_t s;
    ASSERT_EQ(rush_stats_compute(lost, 2, &s), 0);
    ASSERT_EQ(s.served, 0);
    ASSERT_EQ(s.errors, 2);
    ASSERT_NEAR(s.makespan_s, 0);
    ASSERT_NEAR(s.throughput_per_s, 0);
    ASSERT_NEAR(s.burger_p99_ms, 0);
    ASSERT_EQ(rush_stats_compute(NULL, 0, &s), 0);
    ASSERT_EQ(s.customers, 0);
}

/* ---- the SVG --------------------------------------------------------------------------- */

/* Writes runs to memory; the caller frees the text. */
static char *svg_of(const rush_run_t *runs, size_t nruns, const char *title) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ASSERT_TRUE(f != NULL);
    ASSERT_EQ(rush_svg_write(f, runs, nruns, title), 0);
    ASSERT_EQ(fclose(f), 0);
    ASSERT_EQ(strlen(text), len); /* no NUL inside */
    return text;
}

static size_t count(const char *hay, const char *needle) {
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/*
 * A small well-formedness check: every element closes in order, attribute
 * quotes pair up, and no raw '&' or '<' sits in text. Returns true if so.
 */
static bool well_formed(const char *s) {
    char stack[64][32];
    int depth = 0, roots = 0;
    for (const char *p = s; *p;) {
        if (*p == '&') {
            const char *semi = strchr(p, ';');
            if (!semi || semi - p > 6)
                return false;
            p = semi + 1;
        } else if (p[0] == '<' && p[1] == '?') {
            if (!(p = strstr(p, "?>")))
                return false;
            p += 2;
        } else if (p[0] == '<' && p[1] == '/') {
            size_t n = strcspn(p + 2, ">");
            if (depth == 0 || n != strlen(stack[depth - 1]) ||
                strncmp(p + 2, stack[depth - 1], n) != 0 || p[2 + n] != '>')
                return false;
            depth--;
            p += 3 + n;
        } else if (*p == '<') {
            size_t n = strcspn(p + 1, " \t\n/>");
            if (n == 0 || n >= sizeof(stack[0]) || depth == 64)
                return false;
            const char *q = p + 1 + n;
            char quote = 0;
            for (; *q && (quote || (*q != '>' && *q != '<')); q++)
                if (*q == '"' || *q == '\'')
                    quote = quote == *q ? 0 : quote ? quote : *q;
            if (*q != '>')
                return false;
            if (q[-1] != '/') {
                if (depth == 0)
                    roots++;
                snprintf(stack[depth++], sizeof(stack[0]), "%.*s", (int)n, p + 1);
            } else if (depth == 0) {
                roots++;
            }
            p = q + 1;
        } else if (*p == '>') {
            return false;
        } else {
            p++;
        }
    }
    return depth == 0 && roots == 1;
}

TEST(well_formed_checker_catches_mistakes) {
    ASSERT_TRUE(well_formed("<?xml version=\"1.0\"?>\n<a x=\"1>\"><b/><c>t &amp; u</c></a>\n"));
    ASSERT_FALSE(well_formed("<a><b></a></b>"));
    ASSERT_FALSE(well_formed("<a>x & y</a>"));
    ASSERT_FALSE(well_formed("<a x=\"1></a>"));
    ASSERT_FALSE(well_formed("<a></a><b></b>"));
}

/* n customers, the i-th served at i ms (sorted order is index order); every fail_every-th lost. */
static rush_customer_t *crowd(size_t n, size_t fail_every) {
    rush_customer_t *c = calloc(n, sizeof(*c));
    ASSERT_TRUE(c != NULL);
    for (size_t i = 0; i < n; i++) {
        double t = (double)(i + 1) / 1000;
        c[i] = (rush_customer_t){.start_s = 0, .counter_s = t / 10, .burger_s = t, .failed_s = -1};
        if (fail_every && i % fail_every == fail_every - 1)
            c[i].burger_s = -1, c[i].failed_s = t;
    }
    return c;
}

TEST(svg_two_panels_one_row_per_customer) {
    rush_customer_t *conc = crowd(12, 0), *par = crowd(12, 0);
    for (size_t i = 0; i < 12; i++) /* parallel: at the counter until the burger */
        par[i].counter_s = par[i].burger_s = par[i].burger_s * 20;
    rush_run_t runs[2] = {{.mode = "concurrent", .customers = conc, .n = 12},
                          {.mode = "parallel", .customers = par, .n = 12}};
    ASSERT_EQ(rush_stats_compute(conc, 12, &runs[0].stats), 0);
    ASSERT_EQ(rush_stats_compute(par, 12, &runs[1].stats), 0);
    char *svg = svg_of(runs, 2, "burger-rush: 12 customers");

    ASSERT_TRUE(strncmp(svg, "<?xml version=\"1.0\"", 19) == 0);
    ASSERT_CONTAINS(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\"");
    ASSERT_TRUE(well_formed(svg));
    ASSERT_EQ(count(svg, "<title>customer "), 24);
    ASSERT_CONTAINS(svg, "<title>customer 1: ");
    ASSERT_CONTAINS(svg, "<title>customer 12: ");
    ASSERT_CONTAINS(svg, ">concurrent: makespan 0.01 s, 12 of 12 served<");
    ASSERT_CONTAINS(svg, ">parallel: makespan 0.24 s, 12 of 12 served<");
    ASSERT_CONTAINS(svg, "at the counter");
    ASSERT_CONTAINS(svg, "waiting with a ticket");
    ASSERT_CONTAINS(svg, "burger in hand");
    ASSERT_CONTAINS(svg, "share the time axis");
    /* Nobody gave up: no red, no legend entry for it, no sampling note. */
    ASSERT_EQ(count(svg, COLOR_GAVE_UP), 0);
    ASSERT_EQ(count(svg, "sampled"), 0);
    /* Parallel rows have no waiting bar: 12 light blue bars are the concurrent ones (+ legend). */
    ASSERT_EQ(count(svg, "fill=\"" COLOR_WAITING "\""), 12 + 1);
    /* No external resources. */
    ASSERT_EQ(count(svg, "href"), 0);
    ASSERT_EQ(count(svg, "<script"), 0);
    free(svg);
    free(conc);
    free(par);
}

TEST(svg_samples_many_customers_to_max_rows) {
    rush_customer_t *c = crowd(1000, 100);
    rush_run_t run = {.mode = "concurrent", .customers = c, .n = 1000};
    ASSERT_EQ(rush_stats_compute(c, 1000, &run.stats), 0);
    ASSERT_EQ(run.stats.errors, 10);
    char *svg = svg_of(&run, 1, NULL);
    ASSERT_TRUE(well_formed(svg));
    ASSERT_EQ(count(svg, "<title>customer "), RUSH_SVG_MAX_ROWS);
    ASSERT_CONTAINS(svg, "1000 customers, 200 rows shown (sampled evenly");
    /* The first served and the last in line (one who gave up) are both kept. */
    ASSERT_CONTAINS(svg, "<title>customer 1: ");
    ASSERT_CONTAINS(svg, "<title>customer 1000: counter 100 ms, burger -, gave up</title>");
    ASSERT_CONTAINS(svg, "gave up (error or timeout)");
    ASSERT_EQ(count(svg, "share the time axis"), 0);
    free(svg);
    free(c);
}

TEST(svg_escapes_text) {
    rush_customer_t *c = crowd(3, 0);
    rush_run_t run = {.mode = "<mode&>", .customers = c, .n = 3};
    ASSERT_EQ(rush_stats_compute(c, 3, &run.stats), 0);
    char *svg = svg_of(&run, 1, "shop at http://h/?a=1&b=\"<2>\"");
    ASSERT_TRUE(well_formed(svg));
    ASSERT_CONTAINS(svg, "shop at http://h/?a=1&amp;b=&quot;&lt;2&gt;&quot;");
    ASSERT_CONTAINS(svg, "&lt;mode&amp;&gt;: makespan");
    free(svg);
    free(c);
}

TEST(svg_of_an_empty_run) {
    rush_run_t run = {.mode = "parallel", .customers = NULL, .n = 0};
    ASSERT_EQ(rush_stats_compute(NULL, 0, &run.stats), 0);
    char *svg = svg_of(&run, 1, NULL);
    ASSERT_TRUE(well_formed(svg));
    ASSERT_EQ(count(svg, "<title>customer "), 0);
    free(svg);
}
