/* SPDX-License-Identifier: MIT */
/*
 * Tests for src/web/docs.c: the Swagger UI page and the embedded assets,
 * through a real HTTP server on 127.0.0.1:0 in this process, spoken to over
 * TCP by a client task on the same loop.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../../src/web/docs_internal.h"
#include "../test.h"

#define TITLE_EVIL "Shop</script><script>alert(1)</script>&\"'"
#define URL_EVIL "/openapi.json?x=</script><script>alert(2)</script>'\"\\"

struct env {
    aw_http_server_t *srv;
    int port;
    const char *title, *openapi_url;
    void (*body)(struct env *env);
};

/* Serves aw__docs_serve() under "/docs", and 418 elsewhere. */
static void handler(aw_http_req_t *req, void *data) {
    struct env *env = data;
    aw_str_t path = aw_http_req_path(req);
    if (path.len >= 5 && memcmp(path.ptr, "/docs", 5) == 0) {
        aw_str_t rest = {path.ptr + 5, path.len - 5};
        ASSERT_EQ(aw__docs_serve(req, rest, env->title, env->openapi_url), 0);
        return;
    }
    aw_http_respond(req, 418, "not docs\n", 9);
}

/* ---- a small client ------------------------------------------------------------------------ */

struct res {
    int status;
    char *raw;  /* the whole response, NUL-terminated; the head's CRLFs intact */
    char *body; /* into raw */
    size_t body_len;
};

static void res_free(struct res *r) {
    free(r->raw);
}

/* Sends `request` on a new connection and reads the response to the end (it says close). */
static struct res fetch(struct env *env, const char *request) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)env->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(aw_connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ASSERT_EQ(aw_write(fd, request, strlen(request)), (ssize_t)strlen(request));
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    ASSERT_TRUE(buf);
    for (;;) {
        if (cap - len < 4096) {
            cap *= 2;
            buf = realloc(buf, cap);
            ASSERT_TRUE(buf);
        }
        ssize_t n = aw_read(fd, buf + len, cap - len - 1);
        ASSERT_GE(n, 0);
        if (n == 0)
            break;
        len += (size_t)n;
    }
    aw_close(fd);
    buf[len] = '\0';
    struct res r = {0};
    r.raw = buf;
    ASSERT_EQ(sscanf(buf, "HTTP/1.1 %d", &r.status), 1);
    char *end = strstr(buf, "\r\n\r\n");
    ASSERT_TRUE(end);
    r.body = end + 4;
    r.body_len = len - (size_t)(r.body - buf);
    return r;
}

static struct res get(struct env *env, const char *target, const char *extra_headers) {
    char req[1024];
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n%sConnection: close\r\n\r\n", target,
             extra_headers ? extra_headers : "");
    return fetch(env, req);
}

/* The value of header `name` in a response (copied into out), or NULL. */
static const char *header(const struct res *r, const char *name, char *out, size_t size) {
    size_t n = strlen(name);
    for (const char *line = strstr(r->raw, "\r\n") + 2; line < r->body - 2;
         line = strstr(line, "\r\n") + 2) {
        if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
            const char *v = line + n + 1, *e = strstr(line, "\r\n");
            while (*v == ' ')
                v++;
            snprintf(out, size, "%.*s", (int)(e - v), v);
            return out;
        }
    }
    return NULL;
}

static size_t count(const char *hay, const char *needle) {
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

/* ---- the harness: a server on a loop, the test's body as the main task ---------------------- */

static void *main_task(void *arg) {
    struct env *env = arg;
    int fd = aw_http_listen_tcp("127.0.0.1", 0, 64, false);
    ASSERT_GE(fd, 0);
    env->port = aw_http_listener_port(fd);
    ASSERT_GT(env->port, 0);
    ASSERT_EQ(aw_http_server_start(env->srv, fd), 0);
    env->body(env);
    aw_http_server_shutdown(env->srv, 0);
    return NULL;
}

static void run(void (*body)(struct env *), const char *title, const char *openapi_url) {
    struct env env = {.title = title, .openapi_url = openapi_url, .body = body};
    aw_loop_t *loop = aw_loop_new();
    ASSERT_TRUE(loop);
    env.srv = aw_http_server_new(NULL, handler, &env);
    ASSERT_TRUE(env.srv);
    aw_task_t *t = aw_loop_spawn(loop, main_task, &env);
    ASSERT_TRUE(t);
    aw_detach(t);
    ASSERT_EQ(aw_loop_run(loop), 0);
    aw_http_server_free(env.srv);
    ASSERT_EQ(aw_loop_free(loop), 0); /* no task, timer or connection left */
}

/* Without the assets (web/node_modules missing at configure time): 503 that says what to do. */
static void check_no_assets(struct env *env) {
    char v[256];
    const char *targets[] = {"/docs", "/docs/", "/docs/swagger-ui-bundle.js"};
    for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
        struct res r = get(env, targets[i], NULL);
        ASSERT_EQ(r.status, 503);
        ASSERT_STR_EQ(header(&r, "Content-Type", v, sizeof(v)), "application/json");
        ASSERT_CONTAINS(r.body, "scripts/install-web-deps.sh");
        res_free(&r);
    }
    struct res r = get(env, "/docs/swagger-ui.css.map", NULL);
    ASSERT_EQ(r.status, 404);
    res_free(&r);
}

/* ---- the page ------------------------------------------------------------------------------ */

static void check_page_forms(struct env *env) {
    if (!aw__docs_have_assets()) {
        check_no_assets(env);
        return;
    }
    char v[256];
    /* At "/docs" relative URLs resolve against "/": the page names its own segment. */
    struct res r = get(env, "/docs", NULL);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(header(&r, "Content-Type", v, sizeof(v)), "text/html; charset=utf-8");
    ASSERT_CONTAINS(r.body, "<title>Burger shop - Swagger UI</title>");
    ASSERT_CONTAINS(r.body, "href=\"./docs/swagger-ui.css?v=");
    ASSERT_CONTAINS(r.body, "href=\"./docs/favicon-32x32.png?v=");
    ASSERT_CONTAINS(r.body, "<script src=\"./docs/swagger-ui-bundle.js?v=");
    ASSERT_CONTAINS(r.body, "SwaggerUIBundle({\n  url: \"/openapi.json\",");
    ASSERT_CONTAINS(r.body, "dom_id: '#swagger-ui'");
    ASSERT_CONTAINS(r.body, "deepLinking: true");
    ASSERT_CONTAINS(r.body, "presets: [SwaggerUIBundle.presets.apis]");
    ASSERT_CONTAINS(r.body, "layout: 'BaseLayout'");
    res_free(&r);

    /* At "/docs/" they resolve against "/docs/". */
    r = get(env, "/docs/", NULL);
    ASSERT_EQ(r.status, 200);
    ASSERT_CONTAINS(r.body, "href=\"./swagger-ui.css?v=");
    ASSERT_CONTAINS(r.body, "<script src=\"./swagger-ui-bundle.js?v=");
    ASSERT_EQ(count(r.body, "./docs/"), 0);
    res_free(&r);

    /* The query is not part of the path; the page is the same. */
    r = get(env, "/docs?x=1", NULL);
    ASSERT_EQ(r.status, 200);
    ASSERT_CONTAINS(r.body, "href=\"./docs/swagger-ui.css?v=");
    res_free(&r);

    /* HEAD: the same headers, no body. */
    r = fetch(env, "HEAD /docs HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    ASSERT_EQ(r.status, 200);
    ASSERT_TRUE(header(&r, "Content-Length", v, sizeof(v)));
    ASSERT_GT(atol(v), 500);
    ASSERT_EQ(r.body_len, 0);
    res_free(&r);

    r = fetch(env,
              "POST /docs HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    ASSERT_EQ(r.status, 405);
    ASSERT_STR_EQ(header(&r, "Allow", v, sizeof(v)), "GET, HEAD");
    ASSERT_STR_EQ(r.body, "{\"detail\":\"Method Not Allowed\"}");
    res_free(&r);
}

TEST(page_at_docs_and_docs_slash) {
    run(check_page_forms, "Burger shop", "/openapi.json");
}

static void check_escaping(struct env *env) {
    if (!aw__docs_have_assets()) {
        check_no_assets(env);
        return;
    }
    struct res r = get(env, "/docs", NULL);
    ASSERT_EQ(r.status, 200);
    /* Exactly our two script elements: the bundle and the inline call. */
    ASSERT_EQ(count(r.body, "<script"), 2);
    ASSERT_EQ(count(r.body, "</script>"), 2);
    ASSERT_EQ(count(r.body, "alert("), 2);
    ASSERT_CONTAINS(r.body, "<title>Shop&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"
                            "&amp;&quot;&#39; - Swagger UI</title>");
    ASSERT_CONTAINS(r.body, "url: \"/openapi.json?x=\\u003c/script\\u003e\\u003cscript\\u003e"
                            "alert(2)\\u003c/script\\u003e\\u0027\\u0022\\u005c\",");
    res_free(&r);
}

TEST(title_and_url_are_escaped) {
    run(check_escaping, TITLE_EVIL, URL_EVIL);
}

/* ---- the assets ---------------------------------------------------------------------------- */

static void check_assets(struct env *env) {
    if (!aw__docs_have_assets()) {
        check_no_assets(env);
        return;
    }
    static const struct {
        const char *target, *type;
        size_t min_size;
    } cases[] = {
        {"/docs/swagger-ui-bundle.js", "text/javascript; charset=utf-8", 500000},
        {"/docs/swagger-ui.css", "text/css; charset=utf-8", 50000},
        {"/docs/favicon-32x32.png", "image/png", 100},
        {"/docs/swagger-ui.css?v=0123", "text/css; charset=utf-8", 50000},
    };
    char v[256];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct res r = get(env, cases[i].target, NULL);
        ASSERT_EQ(r.status, 200);
        ASSERT_STR_EQ(header(&r, "Content-Type", v, sizeof(v)), cases[i].type);
        ASSERT_STR_EQ(header(&r, "Cache-Control", v, sizeof(v)), "public, max-age=86400");
        ASSERT_STR_EQ(header(&r, "X-Content-Type-Options", v, sizeof(v)), "nosniff");
        ASSERT_TRUE(header(&r, "Content-Length", v, sizeof(v)));
        ASSERT_EQ(strtoull(v, NULL, 10), r.body_len);
        ASSERT_GE(r.body_len, cases[i].min_size);
        /* Strong: quoted, no W/ prefix. */
        ASSERT_TRUE(header(&r, "ETag", v, sizeof(v)));
        ASSERT_EQ(v[0], '"');
        ASSERT_EQ(v[strlen(v) - 1], '"');
        ASSERT_GT(strlen(v), 10);
        /* Source maps are not served, so nothing may point at them. */
        ASSERT_FALSE(strstr(r.body, "sourceMappingURL"));
        if (strstr(cases[i].target, ".png"))
            ASSERT_EQ(memcmp(r.body, "\x89PNG", 4), 0);
        if (strstr(cases[i].target, ".js"))
            ASSERT_TRUE(memmem(r.body, r.body_len, "SwaggerUIBundle", 15));
        res_free(&r);
    }

    /* HEAD: the full Content-Length and no body. */
    struct res r = fetch(env, "HEAD /docs/swagger-ui-bundle.js HTTP/1.1\r\nHost: t\r\n"
                              "Connection: close\r\n\r\n");
    ASSERT_EQ(r.status, 200);
    ASSERT_TRUE(header(&r, "Content-Length", v, sizeof(v)));
    ASSERT_GT(atol(v), 500000);
    ASSERT_EQ(r.body_len, 0);
    res_free(&r);
}

TEST(assets_have_types_sizes_and_cache_headers) {
    run(check_assets, "API", NULL);
}

static void check_etags(struct env *env) {
    if (!aw__docs_have_assets()) {
        check_no_assets(env);
        return;
    }
    char etag[128], other[128], v[256], h[512];
    struct res r = get(env, "/docs/swagger-ui.css", NULL);
    ASSERT_EQ(r.status, 200);
    ASSERT_TRUE(header(&r, "ETag", etag, sizeof(etag)));
    res_free(&r);
    r = get(env, "/docs/swagger-ui-bundle.js", NULL);
    ASSERT_TRUE(header(&r, "ETag", other, sizeof(other)));
    ASSERT_TRUE(strcmp(etag, other) != 0);
    res_free(&r);

    /* Matching: exact, weak (If-None-Match compares weakly), in a list, repeated, "*". */
    const char *match_fmt[] = {
        "If-None-Match: %s\r\n",
        "If-None-Match: W/%s\r\n",
        "If-None-Match: \"nope\", W/\"x\" ,%s\r\n",
        "If-None-Match: \"nope\"\r\nIf-None-Match: %s\r\n",
        "If-None-Match: *\r\n%.0s",
    };
    for (size_t i = 0; i < sizeof(match_fmt) / sizeof(match_fmt[0]); i++) {
        snprintf(h, sizeof(h), match_fmt[i], etag);
        r = get(env, "/docs/swagger-ui.css", h);
        ASSERT_EQ(r.status, 304);
        ASSERT_EQ(r.body_len, 0);
        ASSERT_STR_EQ(header(&r, "ETag", v, sizeof(v)), etag);
        ASSERT_STR_EQ(header(&r, "Cache-Control", v, sizeof(v)), "public, max-age=86400");
        ASSERT_FALSE(header(&r, "Content-Length", v, sizeof(v)));
        res_free(&r);
    }

    /* Not matching: another asset's tag, a tag without quotes, a prefix of ours. */
    char prefix[128];
    snprintf(prefix, sizeof(prefix), "%.*s\"", (int)strlen(etag) - 2, etag);
    char bare[128];
    snprintf(bare, sizeof(bare), "%.*s", (int)strlen(etag) - 2, etag + 1);
    const char *miss[] = {other, bare, prefix};
    for (size_t i = 0; i < sizeof(miss) / sizeof(miss[0]); i++) {
        snprintf(h, sizeof(h), "If-None-Match: %s\r\n", miss[i]);
        r = get(env, "/docs/swagger-ui.css", h);
        ASSERT_EQ(r.status, 200);
        ASSERT_GT(r.body_len, 50000);
        res_free(&r);
    }
}

TEST(etag_and_304) {
    run(check_etags, "API", NULL);
}

static void check_not_found(struct env *env) {
    const char *targets[] = {
        "/docs/nope.js",
        "/docs/swagger-ui.css.map",
        "/docs/swagger-ui-bundle.js.map",
        "/docs/index.html",
        "/docs/swagger-ui-standalone-preset.js",
        "/docs/docs/swagger-ui.css",
        "/docs//swagger-ui.css",
        "/docsswagger-ui.css",
    };
    char v[256];
    for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
        struct res r = get(env, targets[i], NULL);
        if (!aw__docs_have_assets() && r.status == 503)
            goto next;
        ASSERT_EQ(r.status, 404);
        ASSERT_STR_EQ(header(&r, "Content-Type", v, sizeof(v)), "application/json");
        ASSERT_STR_EQ(r.body, "{\"detail\":\"Not Found\"}");
    next:
        res_free(&r);
    }
}

TEST(unknown_names_are_404_json) {
    run(check_not_found, "API", NULL);
}
