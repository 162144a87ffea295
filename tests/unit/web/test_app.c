/* SPDX-License-Identifier: MIT */
/*
 * The web layer end to end through the in-process test client: routing,
 * params and their 422s, bodies, dependencies, replies, deadlines, blocking
 * routes, background and request tasks, streams, lifespan.
 */
#include <awaitress.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../test.h"

/* ---- helpers ---- */

static aw_test_res_t *req(aw_test_client_t *tc, const char *method, const char *target) {
    aw_test_res_t *r = aw_test_request(tc, method, target, NULL, NULL, 0);
    ASSERT_TRUE(r != NULL);
    return r;
}

static aw_test_res_t *post_json(aw_test_client_t *tc, const char *method, const char *target,
                                const char *json) {
    aw_test_res_t *r = aw_test_request(tc, method, target, "Content-Type: application/json\r\n",
                                       json, strlen(json));
    ASSERT_TRUE(r != NULL);
    return r;
}

static void expect(aw_test_res_t *r, int status, const char *body) {
    const char *b = aw_test_res_body(r, NULL);
    if (aw_test_res_status(r) != status || (body && strcmp(b, body) != 0))
        TEST_FAIL_("got %d %s\nwant %d %s", aw_test_res_status(r), b, status, body ? body : "(any)");
    aw_test_res_free(r);
}

/* ---- routing ---- */

static void h_static(aw_ctx_t *c) {
    aw_reply_text(c, 200, "static");
}
static void h_int(aw_ctx_t *c) {
    aw_reply_jsonf(c, 200, "{s:I}", "id", (json_int_t)aw_path_int(c, "id"));
}
static void h_str(aw_ctx_t *c) {
    aw_reply_jsonf(c, 200, "{s:s}", "name", aw_path_str(c, "name"));
}
static void h_rest(aw_ctx_t *c) {
    aw_reply_jsonf(c, 200, "{s:s}", "rest", aw_path_str(c, "rest"));
}
static void h_post(aw_ctx_t *c) {
    aw_reply_text(c, 201, "created");
}
static void h_float(aw_ctx_t *c) {
    aw_reply_jsonf(c, 200, "{s:f}", "x", aw_path_float(c, "x"));
}

static aw_app_t *routing_app(void) {
    aw_app_t *app = aw_app_new("t", "1");
    ASSERT_EQ(aw_get(app, "/users/me", h_static), 0);
    ASSERT_EQ(aw_get(app, "/users/{id:int}", h_int), 0);
    ASSERT_EQ(aw_get(app, "/users/{name}", h_str), 0);
    ASSERT_EQ(aw_post(app, "/users/{name}", h_post), 0);
    ASSERT_EQ(aw_get(app, "/files/{rest:path}", h_rest), 0);
    ASSERT_EQ(aw_get(app, "/only-int/{id:int}", h_int), 0);
    ASSERT_EQ(aw_get(app, "/f/{x:float}", h_float), 0);
    ASSERT_EQ(aw_get(app, "/slash/", h_static), 0);
    return app;
}

TEST(static_beats_params_and_typed_beats_string) {
    aw_app_t *app = routing_app();
    aw_test_client_t *tc = aw_test_client_new(app);
    ASSERT_TRUE(tc != NULL);
    expect(req(tc, "GET", "/users/me"), 200, "static");
    expect(req(tc, "GET", "/users/42"), 200, "{\"id\":42}");
    expect(req(tc, "GET", "/users/bob"), 200, "{\"name\":\"bob\"}");
    expect(req(tc, "GET", "/users/a%20b"), 200, "{\"name\":\"a b\"}");
    /* Invalid UTF-8 becomes U+FFFD, as Starlette decodes it: the value can be echoed. */
    expect(req(tc, "GET", "/users/a%FFb"), 200, "{\"name\":\"a\xef\xbf\xbd" "b\"}");
    expect(req(tc, "GET", "/files/a/b/c.txt"), 200, "{\"rest\":\"a/b/c.txt\"}");
    expect(req(tc, "GET", "/f/2.5"), 200, "{\"x\":2.5}");
    aw_test_client_free(tc);
    aw_app_free(app);
}

TEST(a_typed_param_alone_answers_422_not_404) {
    aw_app_t *app = routing_app();
    aw_test_client_t *tc = aw_test_client_new(app);
    expect(req(tc, "GET", "/only-int/abc"), 422,
           "{\"detail\":[{\"type\":\"int_parsing\",\"loc\":[\"path\",\"id\"],\"msg\":\"Input should "
           "be a valid integer, unable to parse string as an integer\",\"input\":\"abc\"}]}");
    aw_test_client_free(tc);
    aw_app_free(app);
}

TEST(not_found_method_not_allowed_head_options_redirect) {
    aw_app_t *app = routing_app();
    aw_test_client_t *tc = aw_test_client_new(app);
    expect(req(tc, "GET", "/nope"), 404, "{\"detail\":\"Not Found\"}");
    aw_test_res_t *r = req(tc, "DELETE", "/users/bob");
    ASSERT_STR_EQ(aw_test_res_header(r, "Allow"), "GET, HEAD, POST, OPTIONS");
    expect(r, 405, "{\"detail\":\"Method Not Allowed\"}");
    expect(req(tc, "POST", "/users/bob"), 201, "created");
    r = req(tc, "HEAD", "/users/bob");
    ASSERT_STR_EQ(aw_test_res_header(r, "Content-Length"), "14");
    expect(r, 200, "");
    r = req(tc, "OPTIONS", "/users/bob");
    ASSERT_STR_EQ(aw_test_res_header(r, "Allow"), "GET, HEAD, POST, OPTIONS");
    expect(r, 204, "");
    r = req(tc, "GET", "/slash?a=1");
    ASSERT_STR_EQ(aw_test_res_header(r, "Location"), "/slash/?a=1");
    expect(r, 307, NULL);
    r = req(tc, "GET", "/users/bob/");
    ASSERT_STR_EQ(aw_test_res_header(r, "Location"), "/users/bob");
    expect(r, 307, NULL);
    aw_test_client_free(tc);
    aw_app_free(app);
}

TEST(bad_declarations_are_refused_at_startup) {
    aw_app_t *app = aw_app_new("t", "1");
    static const aw_param_t bad_def[] = {AW_QUERY_INT("n", .def = "x"), AW_PARAMS_END};
    static const aw_param_t not_in_path[] = {AW_PATH_INT("id"), AW_PARAMS_END};
    static const aw_param_t bad_re[] = {AW_QUERY_STR("s", .pattern = "("), AW_PARAMS_END};
    ASSERT_EQ(aw_get(app, "/a", h_static, .params = bad_def), AW_EINVAL);
    ASSERT_EQ(aw_get(app, "/b", h_static, .params = not_in_path), AW_EINVAL);
    ASSERT_EQ(aw_get(app, "/c", h_static, .params = bad_re), AW_EINVAL);
    ASSERT_EQ(aw_get(app, "/d/{x", h_static), AW_EINVAL);
    ASSERT_EQ(aw_get(app, "/e", h_static), 0);
    ASSERT_EQ(aw_get(app, "/e", h_static), AW_EEXIST);
    ASSERT_EQ(aw_get(app, "/p/{rest:path}/more", h_static), AW_EINVAL);
    static const aw_param_t bad_field_def[] = {AW_FIELD_INT("n", .def = "\"x\""), AW_PARAMS_END};
    static const aw_body_t bad_body = {.fields = bad_field_def};
    ASSERT_EQ(aw_post(app, "/f", h_static, .body = &bad_body), AW_EINVAL);
    ASSERT_EQ(aw_app_check(app), AW_EINVAL);
    ASSERT_TRUE(aw_test_client_new(app) == NULL);
    aw_app_free(app);
}

/* ---- params ---- */

static void h_params(aw_ctx_t *c) {
    aw_reply_jsonf(c, 200, "{s:I, s:f, s:b, s:s?, s:s, s:s?, s:s?}", "n",
                   (json_int_t)aw_query_int(c, "n"), "x", aw_query_float(c, "x"), "flag",
                   aw_query_bool(c, "flag"), "q", aw_query_str(c, "q"), "color",
                   aw_query_str(c, "color"), "token", aw_header_str(c, "X-Token"), "session",
                   aw_cookie_str(c, "session"));
}

static const aw_param_t many_params[] = {
    AW_QUERY_INT("n", AW_GE(1), AW_LE(20)),
    AW_QUERY_FLOAT("x", .def = "0.5", AW_GT(0)),
    AW_QUERY_BOOL("flag", .def = "false"),
    AW_QUERY_STR("q", .optional = true, .min_len = 2, .max_len = 5, .pattern = "^[a-z]+$"),
    AW_QUERY_ENUM("color", .def = "red", AW_CHOICES("red", "green", "blue")),
    AW_HEADER_STR("X-Token", .optional = true),
    AW_COOKIE_STR("session", .optional = true),
    AW_PARAMS_END,
};

TEST(params_parse_with_defaults_and_sources) {
    aw_app_t *app = aw_app_new("t", "1");
    ASSERT_EQ(aw_get(app, "/p", h_params, .params = many_params), 0);
    aw_test_client_t *tc = aw_test_client_new(app);
    expect(req(tc, "GET", "/p?n=3"), 200,
           "{\"n\":3,\"x\":0.5,\"flag\":false,\"q\":null,\"color\":\"red\",\"token\":null,"
           "\"session\":null}");
    aw_test_res_t *r = aw_test_request(tc, "GET", "/p?n=%2020&x=1e1&flag=YES&q=ab+c&color=blue",
                                       "X-Token: t1\r\nCookie: a=b; session=\"s1\"; c=d\r\n", NULL, 0);
    /* "ab c" has a space: the pattern refuses it. */
    expect(r, 422, NULL);
    r = aw_test_request(tc, "GET", "/p?n=%2020&x=1e1&flag=YES&q=abc&color=blue",
                        "x-token: t1\r\nCookie: a=b; session=\"s1\"; c=d\r\n", NULL, 0);
    expect(r, 200,
           "{\"n\":20,\"x\":10.0,\"flag\":true,\"q\":\"abc\",\"color\":\"blue\",\"token\":\"t1\","
           "\"session\":\"s1\"}");
    aw_test_client_free(tc);
    aw_app_free(app);
}

TEST(every_param_error_is_collected_in_fastapi_shape) {
    aw_app_t *app = aw_app_new("t", "1");
    ASSERT_EQ(aw_get(app, "/p", h_params, .params = many_params), 0);
    aw_test_client_t *tc = aw_test_client_new(app);
    expect(req(tc, "GET", "/p?x=0&flag=maybe&q=ABCDEFG&color=pink"), 422,
           "{\"detail\":["
           "{\"type\":\"missing\",\"loc\":[\"query\",\"n\"],\"msg\":\"Field required\",\"input\":null},"
           "{\"type\":\"greater_than\",\"loc\":[\"query\",\"x\"],\"msg\":\"Input should be greater "
           "than 0\",\"input\":\"0\",\"ctx\":{\"gt\":0}},"
           "{\"type\":\"bool_parsing\",\"loc\":[\"query\",\"flag\"],\"msg\":\"Input should be a "
           "valid boolean, unable to interpret input\",\"input\":\"maybe\"},"
           "{\"type\":\"string_too_long\",\"loc\":[\"query\",\"q\"],\"msg\":\"String should have at "
           "most 5 characters\",\"input\":\"ABCDEFG\",\"ctx\":{\"max_length\":5}},"
           "{\"type\":\"enum\",\"loc\":[\"query\",\"color\"],\"msg\":\"Input should be 'red', "
           "'green' or 'blue'\",\"input\":\"pink\",\"ctx\":{\"expected\":\"'red', 'green' or "
           "'blue'\"}}]}");
    expect(req(tc, "GET", "/p?n=21"), 422,
           "{\"detail\":[{\"type\":\"less_than_equal\",\"loc\":[\"query\",\"n\"],\"msg\":\"Input "
           "should be less than or equal to 20\",\"input\":\"21\",\"ctx\":{\"le\":20}}]}");
    expect(req(tc, "GET", "/p?n=1&q=a"), 422,
           "{\"detail\":[{\"type\":\"string_too_short\",\"loc\":[\"query\",\"q\"],\"msg\":\"String "
           "should have at least 2 characters\",\"input\":\"a\",\"ctx\":{\"min_length\":2}}]}");
    expect(req(tc, "GET", "/p?n=99999999999999999999"), 422, NULL);
    aw_test_client_free(tc);
    aw_app_free(app);
}

/* ---- bodies ---- */

static void h_order(aw_ctx_t *c) {
    json_t *b = aw_body_json(c);
    aw_reply_json(c, 201, json_incref(b));
}

static const aw_param_t line_fields[] = {
    AW_FIELD_STR("sku", .min_len = 1),
    AW_FIELD_INT("qty", AW_GE(1)),
    AW_PARAMS_END,
};
static const aw_param_t line_item = AW_FIELD_OBJECT("line", line_fields, .schema_name = "Line");
static const aw_param_t customer_fields[] = {
    AW_FIELD_STR("name"),
    AW_FIELD_STR("email", .optional = true),
    AW_PARAMS_END,
};
static const aw_param_t order_fields[] = {
    AW_FIELD_OBJECT("customer", customer_fields),
    AW_FIELD_ARRAY("items", &line_item, .min_len = 1, .max_len = 3),
    AW_FIELD_BOOL("gift", .def = "false"),
    AW_PARAMS_END,
};
static const aw_body_t order_body = {.schema_name = "Order", .fields = order_fields};

TEST(json_bodies_validate_with_nested_locations) {
    aw_app_t *app = aw_app_new("t", "1");
    ASSERT_EQ(aw_post(app, "/orders", h_order, .body = &order_body), 0);
    aw_test_client_t *tc = aw_test_client_new(app);
    expect(post_json(tc, "POST", "/orders",
                     "{\"customer\":{\"name\":\"Ann\"},\"items\":[{\"sku\":\"b\",\"qty\":\"2\"}]}"),
           201,
           "{\"customer\":{\"name\":\"Ann\",\"email\":null},\"items\":[{\"sku\":\"b\",\"qty\":2}],"
           "\"gift\":false}");
    expect(post_json(tc, "POST", "/orders",
                     "{\"customer\":{},\"items\":[{\"sku\":\"b\",\"qty\":1},{\"sku\":\"\","
                     "\"qty\":0.5},{\"qty\":true}]}"),
           422,
           "{\"detail\":["
           "{\"type\":\"missing\",\"loc\":[\"body\",\"customer\",\"name\"],\"msg\":\"Field "
           "required\",\"input\":{}},"
           "{\"type\":\"string_too_short\",\"loc\":[\"body\",\"items\",1,\"sku\"],\"msg\":\"String "
           "should have at least 1 character\",\"input\":\"\",\"ctx\":{\"min_length\":1}},"
           "{\"type\":\"int_from_float\",\"loc\":[\"body\",\"items\",1,\"qty\"],\"msg\":\"Input "
           "should be a valid integer, got a number with a fractional part\",\"input\":0.5},"
           "{\"type\":\"missing\",\"loc\":[\"body\",\"items\",2,\"sku\"],\"msg\":\"Field "
           "required\",\"input\":{\"qty\":true}},"
           "{\"type\":\"int_type\",\"loc\":[\"body\",\"items\",2,\"qty\"],\"msg\":\"Input should be "
           "a valid integer\",\"input\":true}]}");
    expect(post_json(tc, "POST", "/orders", "[1,2]"), 422,
           "{\"detail\":[{\"type\":\"model_attributes_type\",\"loc\":[\"body\"],\"msg\":\"Input "
           "should be a valid dictionary or object to extract fields from\",\"input\":[1,2]}]}");
    expect(post_json(tc, "POST", "/orders", "{\"customer\":"), 422, NULL);
    expect(aw_test_request(tc, "POST", "/orders", NULL, NULL, 0), 422,
           "{\"detail\":[{\"type\":\"missing\",\"loc\":[\"body\"],\"msg\":\"Field "
           "required\",\"input\":null}]}");
    expect(aw_test_request(tc, "POST", "/orders", "Content-Type: text/plain\r\n", "hi", 2), 415,
           NULL);
    aw_test_client_free(tc);
    aw_app_free(app);
}

/* ---- dependencies ---- */

static int g_db_opened, g_db_closed, g_order[8], g_norder;

static void db_close(void *arg) {
    (void)arg;
    g_db_closed++;
    g_order[g_norder++] = 2;
    aw_sleep_ms(1); /* teardown may await */
}
static void *dep_db(aw_ctx_t *c) {
    g_db_opened++;
    aw_ctx_defer(c, db_close, NULL);
    return "db-handle";
}
static const aw_dep_t db = {.name = "db", .fn = dep_db};

static void user_close(void *arg) {
    (void)arg;
    g_order[g_norder++] = 1;
}
static void *dep_user(aw_ctx_t *c) {
    const char *key = aw_header_str(c, "X-Key");
    if (!key || strcmp(key, "secret") != 0) {
        aw_http_error(c, 401, "Not authenticated");
        return NULL;
    }
    aw_ctx_defer(c, user_close, NULL);
    return aw_dep(c, "db") ? "ann" : NULL;
}
static const aw_param_t key_params[] = {AW_HEADER_STR("X-Key", .optional = true), AW_PARAMS_END};
static const aw_dep_t user = {.name = "user", .fn = dep_user, .params = key_params,
                              .deps = AW_DEPS(&db)};

static void h_me(aw_ctx_t *c) {
    aw_reply_jsonf(c, 200, "{s:s, s:s}", "user", (const char *)aw_dep(c, "user"), "db",
                   (const char *)aw_dep(c, "db"));
}

static void *dep_fake_user(aw_ctx_t *c) {
    (void)c;
    return "fake";
}
static const aw_dep_t fake_user = {.name = "user", .fn = dep_fake_user};

TEST(dependencies_run_once_tear_down_in_reverse_and_can_end_early) {
    aw_app_t *app = aw_app_new("t", "1");
    ASSERT_EQ(aw_get(app, "/me", h_me, .deps = AW_DEPS(&db, &user)), 0);
    aw_test_client_t *tc = aw_test_client_new(app);
    expect(aw_test_request(tc, "GET", "/me", "X-Key: secret\r\n", NULL, 0), 200,
           "{\"user\":\"ann\",\"db\":\"db-handle\"}");
    ASSERT_EQ(g_db_opened, 1); /* asked for twice, run once */
    ASSERT_EQ(g_db_closed, 1);
    ASSERT_EQ(g_norder, 2);
    ASSERT_EQ(g_order[0], 1); /* the user's teardown first: registered last */
    ASSERT_EQ(g_order[1], 2);
    expect(req(tc, "GET", "/me"), 401, "{\"detail\":\"Not authenticated\"}");
    ASSERT_EQ(g_db_closed, 2); /* torn down also when a dependency ended the request */
    aw_app_override(app, &user, &fake_user);
    expect(req(tc, "GET", "/me"), 200, "{\"user\":\"fake\",\"db\":\"db-handle\"}");
    aw_test_client_free(tc);
    aw_app_free(app);
}

/* ---- routers ---- */

TEST(routers_add_prefix_tags_and_dependencies) {
    aw_app_t *app = aw_app_new("t", "1");
    aw_router_t *r = aw_router_new("/admin", .tags = AW_TAGS("admin"), .deps = AW_DEPS(&user));
    ASSERT_TRUE(r != NULL);
    ASSERT_EQ(aw_get(r, "/me", h_me, .deps = AW_DEPS(&db)), 0);
    ASSERT_EQ(aw_app_include(app, r), 0);
    aw_test_client_t *tc = aw_test_client_new(app);
    expect(req(tc, "GET", "/admin/me"), 401, NULL);
    expect(aw_test_request(tc, "GET", "/admin/me", "X-Key: secret\r\n", NULL, 0), 200, NULL);
    aw_test_res_t *doc = req(tc, "GET", "/openapi.json");
    json_t *j = aw_test_res_json(doc);
    json_t *op = json_object_get(json_object_get(json_object_get(j, "paths"), "/admin/me"), "get");
    ASSERT_TRUE(op != NULL);
    ASSERT_STR_EQ(json_string_value(json_array_get(json_object_get(op, "tags"), 0)), "admin");
    json_decref(j);
    aw_test_res_free(doc);
    aw_test_client_free(tc);
    aw_app_free(app);
}

/* ---- replies, deadlines, blocking, tasks ---- */

static void h_silent(aw_ctx_t *c) {
    (void)c;
}
static void h_slow(aw_ctx_t *c) {
    (void)c;
    aw_sleep_ms(5000);
}
static void h_blocking(aw_ctx_t *c) {
    aw_reply_jsonf(c, 200, "{s:b}", "on_loop", aw_loop_current() != NULL);
}
static void h_headers(aw_ctx_t *c) {
    ASSERT_EQ(aw_reply_header(c, "X-A", "1"), 0);
    ASSERT_EQ(aw_reply_header(c, "Content-Length", "5"), AW_EINVAL);
    ASSERT_EQ(aw_reply_header(c, "X-B", "a\r\nX-Evil: 1"), AW_EINVAL);
    ASSERT_EQ(aw_set_cookie(c, "sid", "abc", "HttpOnly"), 0);
    ASSERT_EQ(aw_set_cookie(c, "bad;name", "x", NULL), AW_EINVAL);
    aw_http_error(c, 404, "Order %d not found", 7);
    ASSERT_EQ(aw_reply_text(c, 200, "again"), AW_EALREADY);
}

static int g_bg_runs;
static void *bg_task(void *arg) {
    aw_sleep_ms(1);
    g_bg_runs += (int)(intptr_t)arg;
    return NULL;
}
static void h_bg(aw_ctx_t *c) {
    aw_background(c, bg_task, (void *)(intptr_t)1);
    aw_background(c, bg_task, (void *)(intptr_t)10);
    aw_reply_text(c, 200, "ok");
}

static int g_child_cancelled;
static void *child_forever(void *arg) {
    (void)arg;
    if (aw_sleep_ms(10000) == AW_ECANCELED)
        g_child_cancelled++;
    return NULL;
}
static void h_spawn(aw_ctx_t *c) {
    ASSERT_EQ(aw_ctx_spawn(c, child_forever, NULL), 0);
    aw_sleep_ms(1); /* the child starts, then waits */
    aw_reply_text(c, 200, "left a child");
}

TEST(replies_headers_cookies_and_errors) {
    aw_app_t *app = aw_app_new("t", "1");
    ASSERT_EQ(aw_get(app, "/h", h_headers), 0);
    ASSERT_EQ(aw_get(app, "/silent", h_silent), 0);
    aw_test_client_t *tc = aw_test_client_new(app);
    aw_test_res_t *r = req(tc, "GET", "/h");
    ASSERT_STR_EQ(aw_test_res_header(r, "X-A"), "1");
    ASSERT_STR_EQ(aw_test_res_header(r, "Set-Cookie"), "sid=abc; HttpOnly");
    ASSERT_TRUE(aw_test_res_header(r, "X-Evil") == NULL);
    ASSERT_STR_EQ(aw_test_res_header(r, "Content-Type"), "application/json");
    expect(r, 404, "{\"detail\":\"Order 7 not found\"}");
    expect(req(tc, "GET", "/silent"), 500, "{\"detail\":\"Internal Server Error\"}");
    aw_test_client_free(tc);
    aw_app_free(app);
}

TEST(deadline_blocking_background_and_request_tasks) {
    aw_app_t *app = aw_app_new("t", "1");
    ASSERT_EQ(aw_get(app, "/slow", h_slow, .timeout_ms = 50), 0);
    ASSERT_EQ(aw_get(app, "/blocking", h_blocking, .blocking = true), 0);
    ASSERT_EQ(aw_get(app, "/bg", h_bg), 0);
    ASSERT_EQ(aw_get(app, "/spawn", h_spawn), 0);
    aw_test_client_t *tc = aw_test_client_new(app);
    uint64_t t0 = aw_now_ns();
    expect(req(tc, "GET", "/slow"), 504, "{\"detail\":\"Request timed out after 50 ms\"}");
    ASSERT_LT((aw_now_ns() - t0) / 1000000u, 2000u);
    expect(req(tc, "GET", "/blocking"), 200, "{\"on_loop\":false}");
    expect(req(tc, "GET", "/bg"), 200, "ok");
    /* The background tasks run after the response, while the loop runs on. */
    for (int i = 0; i < 500 && g_bg_runs != 11; i++) {
        usleep(2000); /* the tasks sleep 1 ms: let their timers come due */
        aw_test_res_free(req(tc, "GET", "/nope"));
    }
    ASSERT_EQ(g_bg_runs, 11);
    expect(req(tc, "GET", "/spawn"), 200, "left a child");
    ASSERT_EQ(g_child_cancelled, 1);
    aw_test_client_free(tc);
    aw_pool_shutdown_default();
    aw_app_free(app);
}

/* ---- streams ---- */

static void h_sse(aw_ctx_t *c) {
    ASSERT_EQ(aw_sse_start(c), 0);
    ASSERT_EQ(aw_sse_send(c, "status", "1", "queued"), 0);
    aw_sleep_ms(1);
    ASSERT_EQ(aw_sse_send(c, NULL, NULL, "two\nlines"), 0);
}

TEST(server_sent_events) {
    aw_app_t *app = aw_app_new("t", "1");
    ASSERT_EQ(aw_get(app, "/events", h_sse), 0);
    aw_test_client_t *tc = aw_test_client_new(app);
    aw_test_res_t *r = req(tc, "GET", "/events");
    ASSERT_STR_EQ(aw_test_res_header(r, "Content-Type"), "text/event-stream; charset=utf-8");
    ASSERT_STR_EQ(aw_test_res_header(r, "Transfer-Encoding"), "chunked");
    expect(r, 200, "event: status\nid: 1\ndata: queued\n\ndata: two\ndata: lines\n\n");
    aw_test_client_free(tc);
    aw_app_free(app);
}

/* ---- lifespan ---- */

static int g_started, g_stopped;
static int on_start(aw_app_t *app, void *data) {
    (void)app;
    aw_sleep_ms(1); /* hooks are coroutines */
    g_started += (int)(intptr_t)data;
    return 0;
}
static int on_stop(aw_app_t *app, void *data) {
    (void)app;
    g_stopped += (int)(intptr_t)data;
    return 0;
}
static int on_start_fail(aw_app_t *app, void *data) {
    (void)app;
    (void)data;
    return -1;
}

TEST(lifespan_hooks_run_around_the_app) {
    aw_app_t *app = aw_app_new("t", "1");
    ASSERT_EQ(aw_get(app, "/", h_static), 0);
    aw_app_on_startup(app, on_start, (void *)(intptr_t)1);
    aw_app_on_shutdown(app, on_stop, (void *)(intptr_t)1);
    aw_test_client_t *tc = aw_test_client_new(app);
    ASSERT_EQ(g_started, 1);
    ASSERT_EQ(g_stopped, 0);
    aw_test_client_free(tc);
    ASSERT_EQ(g_stopped, 1);
    aw_app_on_startup(app, on_start_fail, NULL);
    ASSERT_TRUE(aw_test_client_new(app) == NULL);
    aw_app_free(app);
}

/* ---- the client going away ---- */

int aw__http_server_adopt(aw_http_server_t *srv, int fd);

static int g_gone_status = 1;
static uint64_t g_gone_ms;
static void h_long(aw_ctx_t *c) {
    uint64_t t0 = aw_now_ns();
    g_gone_status = aw_sleep_ms(5000);
    /* Cleanup may still await, shielded. */
    aw_shield_enter();
    ASSERT_EQ(aw_sleep_ms(1), 0);
    aw_shield_exit();
    g_gone_ms = (aw_now_ns() - t0) / 1000000u;
    aw_reply_text(c, 200, "too late");
}

static void *gone_main(void *arg) {
    aw_app_t *app = arg;
    aw_http_server_t *srv = aw_http_server_new(NULL, aw_app_handle, app);
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    ASSERT_EQ(aw__http_server_adopt(srv, sv[1]), 0);
    const char *rq = "GET /long HTTP/1.1\r\nHost: t\r\n\r\n";
    ASSERT_EQ(aw_write(sv[0], rq, strlen(rq)), (ssize_t)strlen(rq));
    aw_sleep_ms(30);
    close(sv[0]); /* the client gives up */
    for (int i = 0; i < 200 && g_gone_status == 1; i++)
        aw_sleep_ms(10);
    aw_http_server_shutdown(srv, 0);
    aw_sleep_ms(10);
    aw_http_server_free(srv);
    return NULL;
}

TEST(a_client_that_goes_away_cancels_its_handler) {
    aw_app_t *app = aw_app_new("t", "1");
    ASSERT_EQ(aw_get(app, "/long", h_long), 0);
    signal(SIGPIPE, SIG_IGN); /* as aw_serve() does: the late reply meets a closed socket */
    ASSERT_EQ(aw_run(gone_main, app, NULL), 0);
    ASSERT_EQ(g_gone_status, AW_ECANCELED);
    ASSERT_LT(g_gone_ms, 1000u);
    aw_app_free(app);
}

/* ---- a full pool ---- */

static void h_block(aw_ctx_t *c) {
    usleep(200 * 1000); /* a real blocking wait, on a pool thread */
    aw_reply_text(c, 200, "served");
}

static int status_of(int fd) {
    char buf[512];
    size_t n = 0;
    while (n < sizeof(buf) - 1) {
        ssize_t k = aw_read(fd, buf + n, sizeof(buf) - 1 - n);
        if (k <= 0)
            break;
        n += (size_t)k;
        buf[n] = '\0';
        if (strstr(buf, "\r\n\r\n"))
            break;
    }
    buf[n] = '\0';
    int st = 0;
    sscanf(buf, "HTTP/1.1 %d", &st);
    return st;
}

static void *busy_main(void *arg) {
    aw_app_t *app = arg;
    aw_http_server_t *srv = aw_http_server_new(NULL, aw_app_handle, app);
    enum { N = 4 };
    int fds[N];
    const char *rq = "GET /block HTTP/1.1\r\nHost: t\r\n\r\n";
    for (int i = 0; i < N; i++) {
        int sv[2];
        ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
        ASSERT_EQ(aw__http_server_adopt(srv, sv[1]), 0);
        ASSERT_EQ(aw_write(sv[0], rq, strlen(rq)), (ssize_t)strlen(rq));
        fds[i] = sv[0];
        aw_sleep_ms(20); /* in order: the first runs, the second queues, the rest find it full */
    }
    int ok = 0, busy = 0;
    for (int i = 0; i < N; i++) {
        int st = status_of(fds[i]);
        ok += st == 200;
        busy += st == 503;
        close(fds[i]);
    }
    ASSERT_EQ(ok, 2);
    ASSERT_EQ(busy, 2);
    aw_http_server_shutdown(srv, 0);
    aw_sleep_ms(10);
    aw_http_server_free(srv);
    return NULL;
}

TEST(a_full_pool_answers_503_with_retry_after) {
    aw_pool_shutdown_default();
    ASSERT_EQ(aw_pool_set_default_size(1), 0);
    ASSERT_EQ(aw_pool_set_default_queue(1), 0);
    aw_app_t *app = aw_app_new("t", "1");
    ASSERT_EQ(aw_get(app, "/block", h_block, .blocking = true), 0);
    signal(SIGPIPE, SIG_IGN);
    ASSERT_EQ(aw_run(busy_main, app, NULL), 0);
    aw_pool_shutdown_default();
    aw_app_free(app);
}

/* ---- the built-in pages ---- */

TEST(docs_can_be_moved_or_switched_off_and_metrics_switched_on) {
    aw_app_t *app = aw_app_new("t", "1", .openapi_url = "/api/openapi.json", .docs_url = "",
                               .metrics_url = "/metrics");
    ASSERT_EQ(aw_get(app, "/x", h_static), 0);
    aw_test_client_t *tc = aw_test_client_new(app);
    expect(req(tc, "GET", "/openapi.json"), 404, NULL);
    expect(req(tc, "GET", "/docs"), 404, NULL);
    aw_test_res_t *r = req(tc, "GET", "/api/openapi.json");
    json_t *doc = aw_test_res_json(r);
    ASSERT_STR_EQ(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
    json_decref(doc);
    expect(r, 200, NULL);
    r = req(tc, "GET", "/metrics");
    json_t *m = aw_test_res_json(r);
    ASSERT_TRUE(json_integer_value(json_object_get(json_object_get(m, "pool"), "queue_cap")) > 0);
    json_decref(m);
    expect(r, 200, NULL);
    aw_test_client_free(tc);
    aw_app_free(app);
}

/* ---- programming errors are reported, not guessed around ---- */

static void h_undeclared(aw_ctx_t *c) {
    aw_query_int(c, "nope"); /* aborts: the route declares no such param */
}

static void undeclared_child(void *arg) {
    (void)arg;
    aw_app_t *app = aw_app_new("t", "1");
    aw_get(app, "/u", h_undeclared);
    aw_test_client_t *tc = aw_test_client_new(app);
    aw_test_request(tc, "GET", "/u", NULL, NULL, 0);
}

TEST(reading_an_undeclared_param_aborts_with_the_route) {
    char out[2048];
    int st = test_run_child(undeclared_child, NULL, out, sizeof(out));
    ASSERT_TRUE(st != 0);
    ASSERT_TRUE(strstr(out, "reading query param 'nope' as an int: route GET /u does not declare it") !=
                NULL);
}

/* ---- deadlines reach dependencies; background work ends before shutdown ---- */

static void *dep_slow(aw_ctx_t *c) {
    (void)c;
    aw_sleep_ms(5000);
    return NULL;
}
static const aw_dep_t slow_dep = {.name = "slow", .fn = dep_slow};

static int g_bg_done, g_bg_done_at_shutdown = -1;
static void *bg_slow(void *arg) {
    (void)arg;
    aw_sleep_ms(50);
    g_bg_done = 1;
    return NULL;
}
static void h_bg_slow(aw_ctx_t *c) {
    aw_background(c, bg_slow, NULL);
    aw_reply_text(c, 200, "ok");
}
static int on_stop_check_bg(aw_app_t *app, void *data) {
    (void)app;
    (void)data;
    g_bg_done_at_shutdown = g_bg_done;
    return 0;
}

TEST(route_deadline_covers_dependencies_and_shutdown_waits_for_background_tasks) {
    aw_app_t *app = aw_app_new("t", "1");
    ASSERT_EQ(aw_get(app, "/slow-dep", h_static, .deps = AW_DEPS(&slow_dep), .timeout_ms = 50), 0);
    ASSERT_EQ(aw_get(app, "/bg", h_bg_slow), 0);
    aw_app_on_shutdown(app, on_stop_check_bg, NULL);
    aw_test_client_t *tc = aw_test_client_new(app);
    uint64_t t0 = aw_now_ns();
    expect(req(tc, "GET", "/slow-dep"), 504, "{\"detail\":\"Request timed out after 50 ms\"}");
    ASSERT_LT((aw_now_ns() - t0) / 1000000u, 2000u);
    expect(req(tc, "GET", "/bg"), 200, "ok");
    aw_test_client_free(tc); /* the background task still sleeps: shutdown waits for it */
    ASSERT_EQ(g_bg_done_at_shutdown, 1);
    aw_app_free(app);
}
