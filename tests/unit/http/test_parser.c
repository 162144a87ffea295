/* SPDX-License-Identifier: MIT */
/*
 * Tests for src/http/parser.c, driven by the cases in tests/cases/http/:
 * each folder holds `request` (raw bytes) and `expect` ("ok" or the status
 * to answer). Every case is fed whole, byte by byte, and in odd splits, and
 * must come out the same: a fragmentation that changes the verdict is a
 * smuggling bug.
 */
#include <dirent.h>
#include <stdint.h>
#include <sys/stat.h>

#include "../../../src/http/http_internal.h"
#include "../test.h"

struct hcase {
    char name[512];
    char *req;
    size_t len;
    char expect[16];
};

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    *len = fread(buf, 1, (size_t)n, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

/* Runs the parser over the request, giving it at most `step` new bytes at a time. */
static int parse_with(struct aw__hparse *hpp, const struct hcase *c, size_t step,
                      size_t *body_len) {
#define hp (*hpp)
    static aw_http_config_t cfg;
    static struct aw__hfield fields[AW__HTTP_FIELDS_INLINE];
    aw_http_config_init(&cfg);
    aw__hparse_begin(&hp, &cfg, fields, AW__HTTP_FIELDS_INLINE, c->req);
    size_t pos = 0, avail = 0;
    int rc = AW__HP_MORE;
    *body_len = 0;
    while (rc == AW__HP_MORE) {
        if (avail == c->len && pos == avail)
            return -1; /* ran out of input mid-head */
        avail = avail + step < c->len ? avail + step : c->len;
        size_t used = 0;
        rc = aw__hparse_head(&hp, c->req + pos, avail - pos, &used);
        if (rc < 0)
            return -rc;
        pos += used;
    }
    char out[4096];
    while (rc == AW__HP_HEAD || rc == AW__HP_MORE) {
        size_t used = 0, produced = 0;
        rc = aw__hparse_body(&hp, c->req + pos, avail - pos, &used, out, sizeof(out), &produced);
        if (rc < 0)
            return -rc;
        pos += used;
        *body_len += produced;
        if (rc != AW__HP_DONE && used == 0 && produced == 0) {
            /* Stuck on a partial line: it needs more bytes behind it. */
            if (avail == c->len)
                return -1;
            avail = avail + step < c->len ? avail + step : c->len;
        }
    }
    return 0;
#undef hp
}

/* The parser over one case, its heap table (if any) released after. */
static int parse(const struct hcase *c, size_t step, size_t *body_len) {
    struct aw__hparse hp;
    int st = parse_with(&hp, c, step, body_len);
    aw__hparse_release(&hp);
    return st;
}

static void run_case(const void *arg) {
    const struct hcase *c = arg;
    size_t steps[] = {c->len, 1, 2, 3, 7, 13};
    int first = -2;
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        size_t body;
        int st = parse(c, steps[i], &body);
        char got[16];
        if (st == 0)
            snprintf(got, sizeof(got), "ok");
        else if (st < 0)
            snprintf(got, sizeof(got), "incomplete");
        else
            snprintf(got, sizeof(got), "%d", st);
        if (strcmp(got, c->expect) != 0)
            TEST_FAIL_("%s fed %zu bytes at a time: got %s, expected %s", c->name, steps[i], got,
                       c->expect);
        if (first == -2)
            first = st;
        ASSERT_EQ(st, first);
    }
}

static void add_dir(const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[1024], name[512];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        snprintf(name, sizeof(name), "%s%s%s", prefix, *prefix ? "/" : "", e->d_name);
        char req_path[1100];
        snprintf(req_path, sizeof(req_path), "%s/request", path);
        struct stat st;
        if (stat(req_path, &st) != 0) {
            add_dir(path, name); /* a group folder */
            continue;
        }
        struct hcase *c = calloc(1, sizeof(*c));
        snprintf(c->name, sizeof(c->name), "%s", name);
        c->req = slurp(req_path, &c->len);
        if (c->req) {
            /* Exactly sized, no NUL behind it: ASan then catches a read past the input. */
            char *exact = malloc(c->len ? c->len : 1);
            memcpy(exact, c->req, c->len);
            free(c->req);
            c->req = exact;
        }
        char exp_path[1100];
        snprintf(exp_path, sizeof(exp_path), "%s/expect", path);
        size_t elen;
        char *exp = slurp(exp_path, &elen);
        if (!c->req || !exp) {
            fprintf(stderr, "case %s lacks request or expect\n", name);
            exit(2);
        }
        exp[strcspn(exp, "\r\n ")] = '\0';
        snprintf(c->expect, sizeof(c->expect), "%s", exp);
        free(exp);
        test_register_data(c->name, run_case, c);
    }
    closedir(d);
}

__attribute__((constructor)) static void register_cases(void) {
    add_dir(AW_CASES_DIR "/http", "");
}

TEST(cases_were_found) {
    /* Guards against a moved folder silently running no cases. */
    DIR *d = opendir(AW_CASES_DIR "/http/invalid");
    ASSERT_TRUE(d != NULL);
    closedir(d);
}
