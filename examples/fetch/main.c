/* SPDX-License-Identifier: MIT */
/*
 * fetch: a small curl on aw_fetch(). Prints the body of the response to
 * stdout; with -i, the status line and headers first. Exits 0 once a
 * response arrived (any status; with -f, 22 for 400 and up), 1 when the
 * request failed, 2 on bad usage.
 *
 *   fetch [-i] [-I] [-f] [-X METHOD] [-d BODY] [-H 'Name: value']... [-t MS] URL
 */
#include <awaitress.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HEADERS 64

struct cmd {
    const char *method, *url, *body;
    bool include, fail_on_error;
    uint32_t timeout_ms;
    size_t nheaders;
    const char *headers[2 * MAX_HEADERS + 1]; /* name, value, ..., NULL */
    char *copies[MAX_HEADERS];                /* the split -H arguments */
    int exit_code;
};

static void usage(FILE *to) {
    fputs("usage: fetch [-i] [-I] [-f] [-X METHOD] [-d BODY] [-H 'Name: value']... [-t MS] URL\n"
          "  -i         print the status line and headers before the body\n"
          "  -I         send HEAD and print the status line and headers\n"
          "  -f         exit 22 when the status is 400 or more\n"
          "  -X METHOD  the request method (default GET, or POST with -d)\n"
          "  -d BODY    send BODY as the request body\n"
          "  -H LINE    add a header field (repeatable)\n"
          "  -t MS      give up after MS milliseconds (default 30000)\n"
          "Only http:// URLs.\n",
          to);
}

/* Splits "Name: value" into the header list. Returns false if it has no colon. */
static bool add_header(struct cmd *c, const char *line) {
    const char *colon = strchr(line, ':');
    if (!colon || colon == line || c->nheaders == MAX_HEADERS)
        return false;
    char *copy = strdup(line);
    if (!copy)
        return false;
    char *value = copy + (colon - line) + 1;
    copy[colon - line] = '\0';
    while (*value == ' ' || *value == '\t')
        value++;
    c->copies[c->nheaders] = copy;
    c->headers[2 * c->nheaders] = copy;
    c->headers[2 * c->nheaders + 1] = value;
    c->nheaders++;
    c->headers[2 * c->nheaders] = NULL;
    return true;
}

static int parse_args(struct cmd *c, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 1;
        } else if (strcmp(a, "-i") == 0) {
            c->include = true;
        } else if (strcmp(a, "-I") == 0) {
            c->method = "HEAD";
            c->include = true;
        } else if (strcmp(a, "-f") == 0) {
            c->fail_on_error = true;
        } else if (strcmp(a, "-X") == 0 && has_value) {
            c->method = argv[++i];
        } else if (strcmp(a, "-d") == 0 && has_value) {
            c->body = argv[++i];
        } else if (strcmp(a, "-H") == 0 && has_value) {
            if (!add_header(c, argv[++i])) {
                fprintf(stderr, "fetch: bad header %s (want 'Name: value')\n", argv[i]);
                return -1;
            }
        } else if (strcmp(a, "-t") == 0 && has_value) {
            char *end;
            unsigned long ms = strtoul(argv[++i], &end, 10);
            if (*end || ms == 0 || ms >= UINT32_MAX) {
                fprintf(stderr, "fetch: bad timeout %s\n", argv[i]);
                return -1;
            }
            c->timeout_ms = (uint32_t)ms;
        } else if (a[0] == '-' || c->url) {
            usage(stderr);
            return -1;
        } else {
            c->url = a;
        }
    }
    if (!c->url) {
        usage(stderr);
        return -1;
    }
    if (!c->method)
        c->method = c->body ? "POST" : "GET";
    return 0;
}

static void *fetch_main(void *arg) {
    struct cmd *c = arg;
    aw_client_t *cl = aw_client_new(&(aw_client_opts_t){.timeout_ms = c->timeout_ms});
    if (!cl) {
        fprintf(stderr, "fetch: out of memory\n");
        c->exit_code = 1;
        return NULL;
    }
    aw_fetch_req_t req = {
        .method = c->method,
        .url = c->url,
        .headers = c->headers,
        .body = c->body,
        .body_len = c->body ? strlen(c->body) : 0,
    };
    aw_response_t *res;
    int rc = aw_fetch(cl, &req, &res);
    if (rc < 0) {
        fprintf(stderr, "fetch: %s: %s\n", c->url, aw_strerror(rc));
        c->exit_code = 1;
    } else {
        if (c->include) {
            printf("HTTP/1.%d %d %s\r\n", aw_response_version(res) % 10, aw_response_status(res),
                   aw_response_reason(res));
            const char *name, *value;
            for (size_t i = 0; aw_response_header_at(res, i, &name, &value); i++)
                printf("%s: %s\r\n", name, value);
            printf("\r\n");
        }
        size_t len;
        const char *body = aw_response_body(res, &len);
        fwrite(body, 1, len, stdout);
        fflush(stdout);
        c->exit_code = c->fail_on_error && aw_response_status(res) >= 400 ? 22 : 0;
        aw_response_free(res);
    }
    aw_client_free(cl);
    return NULL;
}

int main(int argc, char **argv) {
    struct cmd c = {0};
    int rc = parse_args(&c, argc, argv);
    if (rc == 0) {
        aw_log_set_level(AW_LOG_WARN);
        if (aw_run(fetch_main, &c, NULL) != 0 && !c.exit_code)
            c.exit_code = 1;
    } else {
        c.exit_code = rc > 0 ? 0 : 2;
    }
    for (size_t i = 0; i < c.nheaders; i++)
        free(c.copies[i]);
    aw_pool_shutdown_default();
    return c.exit_code;
}
