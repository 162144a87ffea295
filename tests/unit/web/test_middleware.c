/* SPDX-License-Identifier: MIT */
/* Tests for src/web/middleware.c: CORS, X-Request-ID, Server-Timing and gzip, through the test
 * client. */
#include <regex.h>
#include <zlib.h>

#include "../test.h"
#include "awaitress/web.h"

/* ---- handlers and helpers -------------------------------------------------------------------- */

static int handler_runs;

static void h_text(aw_ctx_t *c) {
    handler_runs++;
    aw_reply_text(c, 200, "hello");
}

/* A JSON body of about 8 KiB that compresses well. */
static char *big_json(size_t *len) {
    size_t cap = 9000, n = 0;
    char *s = malloc(cap);
    ASSERT_TRUE(s);
    n += (size_t)snprintf(s + n, cap - n, "[");
    for (int i = 0; n < 8000; i++)
        n += (size_t)snprintf(s + n, cap - n, "%s{\"id\":%d,\"name\":\"item %d\"}", i ? "," : "", i,
                              i);
    n += (size_t)snprintf(s + n, cap - n, "]");
    *len = n;
    return s;
}

static void h_json(aw_ctx_t *c) {
    size_t len;
    char *s = big_json(&len);
    aw_reply_bytes(c, 200, "application/json", s, len);
    free(s);
}

static void h_small(aw_ctx_t *c) {
    aw_reply_bytes(c, 200, "application/json", "{\"ok\":true}", 11);
}

/* Bytes from a fixed xorshift: no redundancy for deflate to find. */
static void noise(unsigned char *p, size_t n) {
    uint64_t x = 88172645463325252u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (unsigned char)(x >> 24);
    }
}

static void h_noise(aw_ctx_t *c) {
    unsigned char buf[4096];
    noise(buf, sizeof(buf));
    aw_reply_bytes(c, 200, "text/plain", buf, sizeof(buf));
}

static void h_png(aw_ctx_t *c) {
    static char zeros[4096];
    aw_reply_bytes(c, 200, "image/png", zeros, sizeof(zeros));
}

static void h_encoded(aw_ctx_t *c) {
    static char zeros[4096];
    aw_reply_header(c, "Content-Encoding", "br");
    aw_reply_bytes(c, 200, "text/plain", zeros, sizeof(zeros));
}

static void h_stream(aw_ctx_t *c) {
    static char as[4096];
    memset(as, 'a', sizeof(as));
    aw_stream_start(c, 200, "text/plain");
    aw_stream_write(c, as, sizeof(as));
    aw_stream_end(c);
}

/* Answers with the request id it sees, as a handler would log it. */
static void h_rid(aw_ctx_t *c) {
    const char *id = aw_res_header(c, "X-Request-ID");
    aw_reply_text(c, 200, id ? id : "(none)");
}

static aw_app_t *app_with_routes(void) {
    aw_app_t *app = aw_app_new("mw", "1");
    ASSERT_TRUE(app);
    ASSERT_EQ(aw_get(app, "/text", h_text), 0);
    ASSERT_EQ(aw_post(app, "/text", h_text), 0);
    ASSERT_EQ(aw_get(app, "/json", h_json), 0);
    ASSERT_EQ(aw_get(app, "/small", h_small), 0);
    ASSERT_EQ(aw_get(app, "/noise", h_noise), 0);
    ASSERT_EQ(aw_get(app, "/png", h_png), 0);
    ASSERT_EQ(aw_get(app, "/encoded", h_encoded), 0);
    ASSERT_EQ(aw_get(app, "/stream", h_stream), 0);
    ASSERT_EQ(aw_get(app, "/rid", h_rid), 0);
    return app;
}

/* One request on a fresh client. */
static aw_test_res_t *request(aw_app_t *app, const char *method, const char *target,
                              const char *headers) {
    aw_test_client_t *tc = aw_test_client_new(app);
    ASSERT_TRUE(tc);
    aw_test_res_t *r = aw_test_request(tc, method, target, headers, NULL, 0);
    ASSERT_TRUE(r);
    aw_test_client_free(tc);
    return r;
}

static const char *body_of(const aw_test_res_t *r) {
    return aw_test_res_body(r, NULL);
}

static bool matches(const char *s, const char *pattern) {
    regex_t re;
    ASSERT_EQ(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
    bool ok = s && regexec(&re, s, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

/* ---- CORS ------------------------------------------------------------------------------------ */

static aw_app_t *cors_app(bool credentials) {
    aw_app_t *app = app_with_routes();
    ASSERT_EQ(aw_use_cors(app, .origins = AW_TAGS("https://a.example", "https://b.example"),
                          .headers = AW_TAGS("X-Token"), .expose = AW_TAGS("X-Total", "X-Page"),
                          .credentials = credentials),
              0);
    return app;
}

TEST(cors_simple_request_from_an_allowed_origin_gets_the_origin_and_vary) {
    aw_app_t *app = cors_app(false);
    aw_test_res_t *r = request(app, "GET", "/text", "Origin: https://b.example\r\n");
    ASSERT_EQ(aw_test_res_status(r), 200);
    ASSERT_STR_EQ(body_of(r), "hello");
    ASSERT_STR_EQ(aw_test_res_header(r, "Access-Control-Allow-Origin"), "https://b.example");
    ASSERT_CONTAINS(aw_test_res_header(r, "Vary"), "Origin");
    ASSERT_STR_EQ(aw_test_res_header(r, "Access-Control-Expose-Headers"), "X-Total, X-Page");
    ASSERT_PTR_EQ(aw_test_res_header(r, "Access-Control-Allow-Credentials"), NULL);
    aw_test_res_free(r);
    aw_app_free(app);
}

TEST(cors_simple_request_from_another_origin_gets_no_cors_headers) {
    aw_app_t *app = cors_app(true);
    aw_test_res_t *r = request(app, "GET", "/text", "Origin: https://evil.example\r\n");
    ASSERT_EQ(aw_test_res_status(r), 200);
    ASSERT_PTR_EQ(aw_test_res_header(r, "Access-Control-Allow-Origin"), NULL);
    ASSERT_PTR_EQ(aw_test_res_header(r, "Access-Control-Allow-Credentials"), NULL);
    aw_test_res_free(r);
    /* Nor does a request without an Origin. */
    r = request(app, "GET", "/text", NULL);
    ASSERT_PTR_EQ(aw_test_res_header(r, "Access-Control-Allow-Origin"), NULL);
    aw_test_res_free(r);
    aw_app_free(app);
}

TEST(cors_any_origin_without_credentials_is_a_star_without_vary) {
    aw_app_t *app = app_with_routes();
    ASSERT_EQ(aw_use_cors(app, .origins = AW_TAGS("*")), 0);
    aw_test_res_t *r = request(app, "GET", "/text", "Origin: https://x.example\r\n");
    ASSERT_STR_EQ(aw_test_res_header(r, "Access-Control-Allow-Origin"), "*");
    ASSERT_PTR_EQ(aw_test_res_header(r, "Vary"), NULL);
    aw_test_res_free(r);
    /* A request with cookies carries credentials: "*" would be refused, so echo. */
    r = request(app, "GET", "/text", "Origin: https://x.example\r\nCookie: s=1\r\n");
    ASSERT_STR_EQ(aw_test_res_header(r, "Access-Control-Allow-Origin"), "https://x.example");
    ASSERT_CONTAINS(aw_test_res_header(r, "Vary"), "Origin");
    aw_test_res_free(r);
    aw_app_free(app);
}

TEST(cors_credentials_echo_the_origin_even_for_a_star) {
    aw_app_t *app = app_with_routes();
    ASSERT_EQ(aw_use_cors(app, .origins = AW_TAGS("*"), .credentials = true), 0);
    aw_test_res_t *r = request(app, "GET", "/text", "Origin: https://x.example\r\n");
    ASSERT_STR_EQ(aw_test_res_header(r, "Access-Control-Allow-Origin"), "https://x.example");
    ASSERT_STR_EQ(aw_test_res_header(r, "Access-Control-Allow-Credentials"), "true");
    ASSERT_CONTAINS(aw_test_res_header(r, "Vary"), "Origin");
    aw_test_res_free(r);
    aw_app_free(app);
}

TEST(cors_preflight_allowed_is_answered_without_the_handler) {
    aw_app_t *app = cors_app(true);
    handler_runs = 0;
    aw_test_res_t *r = request(app, "OPTIONS", "/text",
                               "Origin: https://a.example\r\n"
                               "Access-Control-Request-Method: POST\r\n"
                               "Access-Control-Request-Headers: x-token, content-type\r\n");
    ASSERT_EQ(aw_test_res_status(r), 200);
    ASSERT_STR_EQ(body_of(r), "OK");
    ASSERT_EQ(handler_runs, 0);
    ASSERT_STR_EQ(aw_test_res_header(r, "Access-Control-Allow-Origin"), "https://a.example");
    ASSERT_STR_EQ(aw_test_res_header(r, "Access-Control-Allow-Credentials"), "true");
    ASSERT_CONTAINS(aw_test_res_header(r, "Vary"), "Origin");
    /* The path's methods, as the router lists them. */
    const char *methods = aw_test_res_header(r, "Access-Control-Allow-Methods");
    ASSERT_CONTAINS(methods, "GET");
    ASSERT_CONTAINS(methods, "POST");
    ASSERT_TRUE(!strstr(methods, "DELETE"));
    ASSERT_STR_EQ(aw_test_res_header(r, "Access-Control-Allow-Headers"),
                  "Accept, Accept-Language, Content-Language, Content-Type, X-Token");
    ASSERT_STR_EQ(aw_test_res_header(r, "Access-Control-Max-Age"), "600");
    aw_test_res_free(r);
    aw_app_free(app);
}

TEST(cors_preflight_disallowed_origin_method_or_headers_is_400) {
    aw_app_t *app = cors_app(false);
    aw_test_res_t *r = request(app, "OPTIONS", "/text",
                               "Origin: https://evil.example\r\n"
                               "Access-Control-Request-Method: GET\r\n");
    ASSERT_EQ(aw_test_res_status(r), 400);
    ASSERT_STR_EQ(body_of(r), "Disallowed CORS origin");
    ASSERT_PTR_EQ(aw_test_res_header(r, "Access-Control-Allow-Origin"), NULL);
    aw_test_res_free(r);

    r = request(app, "OPTIONS", "/text",
                "Origin: https://a.example\r\nAccess-Control-Request-Method: DELETE\r\n");
    ASSERT_EQ(aw_test_res_status(r), 400);
    ASSERT_STR_EQ(body_of(r), "Disallowed CORS method");
    aw_test_res_free(r);

    r = request(app, "OPTIONS", "/text",
                "Origin: https://a.example\r\nAccess-Control-Request-Method: GET\r\n"
                "Access-Control-Request-Headers: X-Token, X-Secret\r\n");
    ASSERT_EQ(aw_test_res_status(r), 400);
    ASSERT_STR_EQ(body_of(r), "Disallowed CORS headers");
    aw_test_res_free(r);

    r = request(app, "OPTIONS", "/text",
                "Origin: https://evil.example\r\nAccess-Control-Request-Method: PUT\r\n"
                "Access-Control-Request-Headers: X-Secret\r\n");
    ASSERT_EQ(aw_test_res_status(r), 400);
    ASSERT_STR_EQ(body_of(r), "Disallowed CORS origin, method, headers");
    aw_test_res_free(r);

    /* No route on the path: no method to allow. */
    r = request(app, "OPTIONS", "/nowhere",
                "Origin: https://a.example\r\nAccess-Control-Request-Method: GET\r\n");
    ASSERT_EQ(aw_test_res_status(r), 400);
    ASSERT_STR_EQ(body_of(r), "Disallowed CORS method");
    aw_test_res_free(r);
    aw_app_free(app);
}

TEST(cors_preflight_with_configured_methods_any_header_and_max_age) {
    aw_app_t *app = app_with_routes();
    ASSERT_EQ(aw_use_cors(app, .origins = AW_TAGS("https://a.example"),
                          .methods = AW_TAGS("GET", "PUT"), .max_age_s = 1234),
              0);
    aw_test_res_t *r = request(app, "OPTIONS", "/nowhere",
                               "Origin: https://a.example\r\n"
                               "Access-Control-Request-Method: PUT\r\n"
                               "Access-Control-Request-Headers: x-anything, x-else\r\n");
    ASSERT_EQ(aw_test_res_status(r), 200);
    ASSERT_STR_EQ(aw_test_res_header(r, "Access-Control-Allow-Methods"), "GET, PUT");
    /* Headers left unset mean any: the asked ones are echoed. */
    ASSERT_STR_EQ(aw_test_res_header(r, "Access-Control-Allow-Headers"), "x-anything, x-else");
    ASSERT_STR_EQ(aw_test_res_header(r, "Access-Control-Max-Age"), "1234");
    ASSERT_PTR_EQ(aw_test_res_header(r, "Access-Control-Allow-Credentials"), NULL);
    aw_test_res_free(r);

    r = request(app, "OPTIONS", "/text",
                "Origin: https://a.example\r\nAccess-Control-Request-Method: POST\r\n");
    ASSERT_EQ(aw_test_res_status(r), 400);
    ASSERT_STR_EQ(body_of(r), "Disallowed CORS method");
    aw_test_res_free(r);

    /* A plain OPTIONS (no Access-Control-Request-Method) is not a preflight. */
    r = request(app, "OPTIONS", "/text", "Origin: https://a.example\r\n");
    ASSERT_NE(aw_test_res_status(r), 400);
    ASSERT_STR_EQ(aw_test_res_header(r, "Access-Control-Allow-Origin"), "https://a.example");
    aw_test_res_free(r);
    aw_app_free(app);
}

TEST(cors_preflight_for_a_star_origin_without_credentials) {
    aw_app_t *app = app_with_routes();
    ASSERT_EQ(aw_use_cors(app, .origins = AW_TAGS("*"), .methods = AW_TAGS("*")), 0);
    aw_test_res_t *r = request(app, "OPTIONS", "/nowhere",
                               "Origin: https://x.example\r\n"
                               "Access-Control-Request-Method: PATCH\r\n");
    ASSERT_EQ(aw_test_res_status(r), 200);
    ASSERT_STR_EQ(aw_test_res_header(r, "Access-Control-Allow-Origin"), "*");
    ASSERT_PTR_EQ(aw_test_res_header(r, "Vary"), NULL);
    ASSERT_CONTAINS(aw_test_res_header(r, "Access-Control-Allow-Methods"), "PATCH");
    aw_test_res_free(r);
    aw_app_free(app);
}

TEST(cors_bad_options_are_refused) {
    aw_app_t *app = app_with_routes();
    ASSERT_EQ(aw_use_cors(app, .origins = AW_TAGS("https://a.example\r\nX-Evil: 1")), AW_EINVAL);
    ASSERT_EQ(aw_use_cors(app, .origins = AW_TAGS("*"), .headers = AW_TAGS("X-A, X-B")), AW_EINVAL);
    ASSERT_EQ(aw_use_cors(app, .origins = AW_TAGS("*"), .methods = AW_TAGS("")), AW_EINVAL);
    aw_app_free(app);
}

/* ---- X-Request-ID ---------------------------------------------------------------------------- */

static bool is_hex32(const char *s) {
    return matches(s, "^[0-9a-f]{32}$");
}

TEST(request_id_from_the_client_is_kept_and_seen_by_the_handler) {
    aw_app_t *app = app_with_routes();
    ASSERT_EQ(aw_use_request_id(app), 0);
    aw_test_res_t *r = request(app, "GET", "/rid", "X-Request-ID: abc-123_x.Y\r\n");
    ASSERT_STR_EQ(aw_test_res_header(r, "X-Request-ID"), "abc-123_x.Y");
    ASSERT_STR_EQ(body_of(r), "abc-123_x.Y");
    aw_test_res_free(r);

    char hdr[128], id[65];
    memset(id, 'z', 64);
    id[64] = '\0';
    snprintf(hdr, sizeof(hdr), "X-Request-ID: %s\r\n", id);
    r = request(app, "GET", "/rid", hdr);
    ASSERT_STR_EQ(aw_test_res_header(r, "X-Request-ID"), id);
    aw_test_res_free(r);
    aw_app_free(app);
}

TEST(request_id_that_is_not_sane_is_replaced) {
    aw_app_t *app = app_with_routes();
    ASSERT_EQ(aw_use_request_id(app), 0);
    static const char *const bad[] = {"X-Request-ID: abc def\r\n", "X-Request-ID: a/b\r\n",
                                      "X-Request-ID: <script>\r\n", "X-Request-ID: caf\xc3\xa9\r\n",
                                      "X-Request-ID: \r\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        aw_test_res_t *r = request(app, "GET", "/rid", bad[i]);
        ASSERT_TRUE(is_hex32(aw_test_res_header(r, "X-Request-ID")));
        ASSERT_STR_EQ(body_of(r), aw_test_res_header(r, "X-Request-ID"));
        aw_test_res_free(r);
    }
    char hdr[128], id[66];
    memset(id, 'z', 65);
    id[65] = '\0';
    snprintf(hdr, sizeof(hdr), "X-Request-ID: %s\r\n", id);
    aw_test_res_t *r = request(app, "GET", "/rid", hdr);
    ASSERT_TRUE(is_hex32(aw_test_res_header(r, "X-Request-ID")));
    aw_test_res_free(r);
    aw_app_free(app);
}

TEST(request_id_is_generated_fresh_for_each_request) {
    aw_app_t *app = app_with_routes();
    ASSERT_EQ(aw_use_request_id(app), 0);
    aw_test_client_t *tc = aw_test_client_new(app);
    ASSERT_TRUE(tc);
    char prev[33] = "";
    for (int i = 0; i < 4; i++) {
        aw_test_res_t *r = aw_test_request(tc, "GET", "/rid", NULL, NULL, 0);
        ASSERT_TRUE(r);
        const char *id = aw_test_res_header(r, "X-Request-ID");
        ASSERT_TRUE(is_hex32(id));
        ASSERT_STR_EQ(body_of(r), id);
        ASSERT_TRUE(strcmp(id, prev) != 0);
        memcpy(prev, id, 33);
        aw_test_res_free(r);
    }
    /* Answers the app makes itself (404) carry one too. */
    aw_test_res_t *r = aw_test_request(tc, "GET", "/nowhere", NULL, NULL, 0);
    ASSERT_EQ(aw_test_res_status(r), 404);
    ASSERT_TRUE(is_hex32(aw_test_res_header(r, "X-Request-ID")));
    aw_test_res_free(r);
    aw_test_client_free(tc);
    aw_app_free(app);
}

/* ---- Server-Timing --------------------------------------------------------------------------- */

TEST(timing_header_has_milliseconds_with_three_decimals) {
    aw_app_t *app = app_with_routes();
    ASSERT_EQ(aw_use_timing(app), 0);
    aw_test_res_t *r = request(app, "GET", "/text", NULL);
    const char *st = aw_test_res_header(r, "Server-Timing");
    ASSERT_TRUE(matches(st, "^app;dur=[0-9]+\\.[0-9]{3}$"));
    ASSERT_LT(strtod(st + strlen("app;dur="), NULL), 10000.0);
    aw_test_res_free(r);
    r = request(app, "GET", "/nowhere", NULL);
    ASSERT_TRUE(matches(aw_test_res_header(r, "Server-Timing"), "^app;dur=[0-9]+\\.[0-9]{3}$"));
    aw_test_res_free(r);
    aw_app_free(app);
}

/* ---- gzip ------------------------------------------------------------------------------------ */

/* Inflates a gzip member; returns a malloc'd buffer and its size, or NULL. */
static char *gunzip(const char *in, size_t len, size_t *out_len) {
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (inflateInit2(&zs, 15 + 16) != Z_OK)
        return NULL;
    size_t cap = 4 * len + 64;
    char *out = malloc(cap);
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    int zr;
    do {
        if (zs.total_out == cap) {
            cap *= 2;
            out = realloc(out, cap);
        }
        zs.next_out = (Bytef *)out + zs.total_out;
        zs.avail_out = (uInt)(cap - zs.total_out);
        zr = inflate(&zs, Z_NO_FLUSH);
    } while (zr == Z_OK);
    *out_len = zs.total_out;
    bool whole = zr == Z_STREAM_END && zs.avail_in == 0;
    inflateEnd(&zs);
    if (!whole) {
        free(out);
        return NULL;
    }
    return out;
}

static aw_app_t *gzip_app(size_t min) {
    aw_app_t *app = app_with_routes();
    ASSERT_EQ(aw_use_gzip(app, min), 0);
    return app;
}

static void assert_plain(aw_test_res_t *r, const char *path) {
    ASSERT_EQ(aw_test_res_status(r), 200);
    if (aw_test_res_header(r, "Content-Encoding"))
        TEST_FAIL_("%s: Content-Encoding: %s", path, aw_test_res_header(r, "Content-Encoding"));
}

TEST(gzip_body_decompresses_to_the_original) {
    aw_app_t *app = gzip_app(0);
    aw_test_res_t *r = request(app, "GET", "/json", "Accept-Encoding: gzip, deflate, br\r\n");
    ASSERT_EQ(aw_test_res_status(r), 200);
    ASSERT_STR_EQ(aw_test_res_header(r, "Content-Encoding"), "gzip");
    ASSERT_CONTAINS(aw_test_res_header(r, "Vary"), "Accept-Encoding");
    ASSERT_STR_EQ(aw_test_res_header(r, "Content-Type"), "application/json");
    size_t zlen, plain_len, want_len;
    const char *z = aw_test_res_body(r, &zlen);
    ASSERT_EQ(strtoull(aw_test_res_header(r, "Content-Length"), NULL, 10), zlen);
    char *want = big_json(&want_len);
    ASSERT_LT(zlen, want_len / 4);
    char *plain = gunzip(z, zlen, &plain_len);
    ASSERT_TRUE(plain);
    ASSERT_EQ(plain_len, want_len);
    ASSERT_TRUE(memcmp(plain, want, want_len) == 0);
    free(plain);
    free(want);
    aw_test_res_free(r);
    aw_app_free(app);
}

TEST(gzip_follows_accept_encoding_q_values) {
    static const struct {
        const char *accept;
        bool gzip;
    } cases[] = {
        {"gzip", true},
        {"GZIP;Q=0.5", true},
        {"br;q=1.0, gzip;q=0.001", true},
        {"*", true},
        {"br, *;q=0.1", true},
        {"x-gzip", true},
        {"gzip ; q = 1", true},
        {"gzip;q=0", false},
        {"gzip;q=0.000", false},
        {"gzip;q=0, *", false},
        {"*;q=0", false},
        {"identity", false},
        {"br, deflate", false},
        {"gzipx", false},
        {"gzip;q=2", false},
        {"gzip;q=abc", false},
        {NULL, false},
    };
    aw_app_t *app = gzip_app(0);
    aw_test_client_t *tc = aw_test_client_new(app);
    ASSERT_TRUE(tc);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char hdr[128] = "";
        if (cases[i].accept)
            snprintf(hdr, sizeof(hdr), "Accept-Encoding: %s\r\n", cases[i].accept);
        aw_test_res_t *r = aw_test_request(tc, "GET", "/json", hdr, NULL, 0);
        ASSERT_TRUE(r);
        const char *ce = aw_test_res_header(r, "Content-Encoding");
        if (cases[i].gzip != (ce && strcmp(ce, "gzip") == 0))
            TEST_FAIL_("Accept-Encoding: %s gave Content-Encoding: %s",
                       cases[i].accept ? cases[i].accept : "(none)", ce ? ce : "(none)");
        /* Either way the answer depends on Accept-Encoding. */
        ASSERT_CONTAINS(aw_test_res_header(r, "Vary"), "Accept-Encoding");
        aw_test_res_free(r);
    }
    /* Two fields form one list. */
    aw_test_res_t *r = aw_test_request(tc, "GET", "/json",
                                       "Accept-Encoding: br\r\nAccept-Encoding: gzip\r\n", NULL, 0);
    ASSERT_STR_EQ(aw_test_res_header(r, "Content-Encoding"), "gzip");
    aw_test_res_free(r);
    aw_test_client_free(tc);
    aw_app_free(app);
}

TEST(gzip_leaves_small_incompressible_encoded_and_streamed_bodies_alone) {
    aw_app_t *app = gzip_app(0);
    aw_test_client_t *tc = aw_test_client_new(app);
    ASSERT_TRUE(tc);
    static const char *const paths[] = {"/small", "/noise", "/png", "/encoded", "/stream"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        aw_test_res_t *r =
            aw_test_request(tc, "GET", paths[i], "Accept-Encoding: gzip\r\n", NULL, 0);
        ASSERT_TRUE(r);
        if (strcmp(paths[i], "/encoded") == 0) {
            ASSERT_STR_EQ(aw_test_res_header(r, "Content-Encoding"), "br");
        } else {
            assert_plain(r, paths[i]);
        }
        size_t len;
        const char *body = aw_test_res_body(r, &len);
        if (strcmp(paths[i], "/small") == 0) {
            ASSERT_STR_EQ(body, "{\"ok\":true}");
        } else if (strcmp(paths[i], "/noise") == 0) {
            unsigned char want[4096];
            noise(want, sizeof(want));
            ASSERT_EQ(len, sizeof(want));
            ASSERT_TRUE(memcmp(body, want, len) == 0);
        } else {
            ASSERT_EQ(len, 4096);
        }
        aw_test_res_free(r);
    }
    aw_test_client_free(tc);
    aw_app_free(app);
}

TEST(gzip_min_bytes_is_configurable) {
    aw_app_t *app = gzip_app(8);
    aw_test_res_t *r = request(app, "GET", "/text", "Accept-Encoding: gzip\r\n");
    /* "hello" is 5 bytes: under the minimum. */
    assert_plain(r, "/text");
    aw_test_res_free(r);
    aw_app_free(app);

    app = gzip_app(100000);
    r = request(app, "GET", "/json", "Accept-Encoding: gzip\r\n");
    assert_plain(r, "/json");
    ASSERT_PTR_EQ(aw_test_res_header(r, "Vary"), NULL);
    aw_test_res_free(r);
    aw_app_free(app);
}

/* ---- together -------------------------------------------------------------------------------- */

TEST(all_middleware_together) {
    aw_app_t *app = app_with_routes();
    ASSERT_EQ(aw_use_request_id(app), 0);
    ASSERT_EQ(aw_use_timing(app), 0);
    ASSERT_EQ(aw_use_cors(app, .origins = AW_TAGS("https://a.example")), 0);
    ASSERT_EQ(aw_use_gzip(app, 0), 0);
    aw_test_res_t *r = request(app, "GET", "/json",
                               "Origin: https://a.example\r\nAccept-Encoding: gzip\r\n"
                               "X-Request-ID: r1\r\n");
    ASSERT_EQ(aw_test_res_status(r), 200);
    ASSERT_STR_EQ(aw_test_res_header(r, "X-Request-ID"), "r1");
    ASSERT_TRUE(aw_test_res_header(r, "Server-Timing"));
    ASSERT_STR_EQ(aw_test_res_header(r, "Access-Control-Allow-Origin"), "https://a.example");
    ASSERT_STR_EQ(aw_test_res_header(r, "Content-Encoding"), "gzip");
    aw_test_res_free(r);

    /* A preflight answered by CORS still gets the outer middleware's headers. */
    r = request(app, "OPTIONS", "/json",
                "Origin: https://a.example\r\nAccess-Control-Request-Method: GET\r\n");
    ASSERT_EQ(aw_test_res_status(r), 200);
    ASSERT_TRUE(is_hex32(aw_test_res_header(r, "X-Request-ID")));
    ASSERT_TRUE(aw_test_res_header(r, "Server-Timing"));
    aw_test_res_free(r);
    aw_app_free(app);
}
