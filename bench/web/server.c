/* SPDX-License-Identifier: MIT */
/*
 * make bench-web's server: the cost of the web layer, measured against the
 * HTTP layer answering the same bytes.
 *
 *   --mode web  an app with 100 routes: 99 fillers (/r{i}/items/{id:int})
 *               and, added last, GET /search?number=<int, 1..1000>&name=<str,
 *               at most 20 characters>, which answers {"number":N,"name":"..."}
 *               through aw_reply_jsonf(): routing, validation, the context,
 *               jansson and the reply path, all of it paid per request.
 *   --mode raw  aw_serve() with a handler that parses nothing and answers the
 *               bytes the web mode answers to the benchmark's one request
 *               (/search?number=42&name=awaitress), with the same headers.
 *
 * Every other option is the server's own (--port, --log-level ...).
 *
 *   build/bin/bench-web-server --mode web --port 8000
 */
#include <awaitress.h>
#include <stdio.h>
#include <string.h>

/* What the raw mode answers: web mode's answer to the benchmark's request. */
static const char RAW_BODY[] = "{\"number\":42,\"name\":\"awaitress\"}";

static void raw_handle(aw_http_req_t *req, void *data) {
    (void)data;
    aw_http_res_header(req, "Content-Type", "application/json");
    aw_http_respond(req, 200, RAW_BODY, sizeof(RAW_BODY) - 1);
}

static void search(aw_ctx_t *c) {
    aw_reply_jsonf(c, 200, "{s:I, s:s}", "number", (json_int_t)aw_query_int(c, "number"), "name",
                   aw_query_str(c, "name"));
}

static void filler(aw_ctx_t *c) {
    aw_reply_jsonf(c, 200, "{s:I}", "id", (json_int_t)aw_path_int(c, "id"));
}

static const aw_param_t search_params[] = {
    AW_QUERY_INT("number", AW_GE(1), AW_LE(1000)),
    AW_QUERY_STR("name", .max_len = 20),
    AW_PARAMS_END,
};

#define FILLERS 99

/* Removes "--mode X" (or "--mode=X") from argv; returns X, or NULL if absent or incomplete. */
static const char *take_mode(int *argc, char **argv) {
    const char *mode = NULL;
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--mode") == 0 && i + 1 < *argc)
            mode = argv[++i];
        else if (strncmp(argv[i], "--mode=", 7) == 0)
            mode = argv[i] + 7;
        else
            argv[out++] = argv[i];
    }
    argv[out] = NULL;
    *argc = out;
    return mode;
}

static int serve_web(int argc, char **argv) {
    aw_app_t *app = aw_app_new("bench-web", "1.0");
    if (!app) {
        fprintf(stderr, "bench-web-server: out of memory\n");
        return 1;
    }
    /* The fillers come first so that /search is the last route added: a router that scans
     * in order pays for all of them. */
    for (int i = 0; i < FILLERS; i++) {
        char path[64];
        snprintf(path, sizeof(path), "/r%d/items/{id:int}", i);
        if (aw_route_add_named(aw_app_router(app), "GET", path, filler, "filler",
                               &(const aw_route_opts_t){._reserved = 0}) != 0) {
            aw_app_free(app);
            return 1;
        }
    }
    aw_get(app, "/search", search, .params = search_params);
    return aw_main(app, argc, argv);
}

static int serve_raw(int argc, char **argv) {
    aw_server_options_t o;
    aw_server_options_init(&o);
    int rc = aw_server_options_parse(&o, argc, argv);
    if (rc == 1)
        return 0;
    if (rc < 0)
        return 2;
    return aw_serve(&o, raw_handle, NULL);
}

int main(int argc, char **argv) {
    const char *mode = take_mode(&argc, argv);
    if (mode && strcmp(mode, "web") == 0)
        return serve_web(argc, argv);
    if (mode && strcmp(mode, "raw") == 0)
        return serve_raw(argc, argv);
    fprintf(stderr, "usage: %s --mode web|raw [server options; --help for them]\n", argv[0]);
    return 2;
}
