/* SPDX-License-Identifier: MIT */
/*
 * Tests for src/web/openapi.c: apps declared with the public API, their
 * document checked field by field against what FastAPI gives the same app
 * in Python, plus routes built by hand for input the public API refuses
 * (so the generator must still not crash on it). One test runs the real
 * validator (tests/tools/validate-openapi.mjs) when node and web/node_modules
 * are there.
 *
 * To look at a document: AW_OPENAPI_DUMP=/tmp/doc.json ./test_openapi validates_with_openapi_parser
 */
#include <math.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../../src/web/web_internal.h"
#include "../test.h"

/* ---- looking into a document ----------------------------------------------------------------- */

/*
 * The value at a JSON Pointer without the leading '/' ("paths/~1items/get"),
 * or NULL. Borrowed from doc.
 */
static json_t *at(json_t *doc, const char *ptr) {
    json_t *cur = doc;
    char tok[256];
    const char *p = ptr;
    while (cur && *p) {
        size_t n = 0;
        for (; *p && *p != '/'; p++) {
            char c = *p;
            if (c == '~' && (p[1] == '0' || p[1] == '1'))
                c = *++p == '1' ? '/' : '~';
            if (n + 1 < sizeof(tok))
                tok[n++] = c;
        }
        tok[n] = '\0';
        if (*p == '/')
            p++;
        if (json_is_array(cur)) {
            char *end;
            long i = strtol(tok, &end, 10);
            cur = *end ? NULL : json_array_get(cur, (size_t)i);
        } else {
            cur = json_object_get(cur, tok);
        }
    }
    return cur;
}

static const char *str_at(json_t *doc, const char *ptr) {
    return json_string_value(at(doc, ptr));
}

static long long int_at(json_t *doc, const char *ptr) {
    json_t *v = at(doc, ptr);
    if (!json_is_integer(v))
        TEST_FAIL_("%s is not an integer", ptr);
    return (long long)json_integer_value(v);
}

#define ASSERT_AT_STR(doc, ptr, s) ASSERT_STR_EQ(str_at(doc, ptr), s)
#define ASSERT_AT_INT(doc, ptr, n) ASSERT_EQ(int_at(doc, ptr), n)
#define ASSERT_AT_TRUE(doc, ptr) ASSERT_TRUE(json_is_true(at(doc, ptr)))
#define ASSERT_AT_FALSE(doc, ptr) ASSERT_TRUE(json_is_false(at(doc, ptr)))
#define ASSERT_ABSENT(doc, ptr) ASSERT_PTR_EQ(at(doc, ptr), NULL)

/* The whole value at ptr compared with JSON text, for small exact shapes. */
static void assert_json_at(json_t *doc, const char *ptr, const char *want_text) {
    json_error_t err;
    json_t *want = json_loads(want_text, JSON_DECODE_ANY, &err);
    if (!want)
        TEST_FAIL_("bad expected JSON for %s: %s", ptr, err.text);
    json_t *got = at(doc, ptr);
    if (!json_equal(got, want)) {
        char *g = got ? json_dumps(got, JSON_ENCODE_ANY | JSON_SORT_KEYS) : NULL;
        TEST_FAIL_("%s: got %s, want %s", ptr, g ? g : "(absent)", want_text);
    }
    json_decref(want);
}

/* The index of the parameter called `name` in an operation's list. */
static int param_index(json_t *doc, const char *op_ptr, const char *name) {
    char buf[512];
    snprintf(buf, sizeof(buf), "%s/parameters", op_ptr);
    json_t *arr = at(doc, buf), *p;
    size_t i;
    json_array_foreach(arr, i, p) {
        if (strcmp(json_string_value(json_object_get(p, "name")), name) == 0)
            return (int)i;
    }
    TEST_FAIL_("%s has no parameter %s", op_ptr, name);
}

/* ---- the apps -------------------------------------------------------------------------------- */

static void read_item(aw_ctx_t *c) {
    (void)c;
}
static void read_file(aw_ctx_t *c) {
    (void)c;
}
static void create_order(aw_ctx_t *c) {
    (void)c;
}
static void read_order(aw_ctx_t *c) {
    (void)c;
}
static void delete_order(aw_ctx_t *c) {
    (void)c;
}
static void health(aw_ctx_t *c) {
    (void)c;
}
static void secret(aw_ctx_t *c) {
    (void)c;
}
static void *current_user(aw_ctx_t *c) {
    (void)c;
    return NULL;
}

/*
 * The FastAPI equivalent:
 *   @app.get("/items/{item_id}", responses={404: ...})
 *   async def read_item(item_id: int = Path(ge=1, le=1000, description="the item's id"),
 *                       q: str | None = Query(None, max_length=50),
 *                       limit: int = Query(10, gt=0, lt=100), ratio: float = Query(ge=0.5),
 *                       full: bool = False, sort: Sort = "asc",
 *                       x_token: str = Header(pattern="^[a-z]+$", min_length=3, example="abc",
 *                                             deprecated=True),
 *                       session: str | None = Cookie(None))
 */
static const aw_param_t item_params[] = {
    AW_PATH_INT("item_id", AW_GE(1), AW_LE(1000), .doc = "the item's id"),
    AW_QUERY_STR("q", .optional = true, .max_len = 50),
    AW_QUERY_INT("limit", .def = "10", AW_GT(0), AW_LT(100)),
    AW_QUERY_FLOAT("ratio", AW_GE(0.5)),
    AW_QUERY_BOOL("full", .def = "false"),
    AW_QUERY_ENUM("sort", AW_CHOICES("asc", "desc"), .def = "asc"),
    AW_HEADER_STR("x-token", .pattern = "^[a-z]+$", .min_len = 3, .example = "abc",
                  .deprecated = true),
    AW_COOKIE_STR("session", .optional = true),
    AW_PARAMS_END,
};

static const aw_param_t address_fields[] = {
    AW_FIELD_STR("street"),
    AW_FIELD_STR("city", .doc = "where it goes"),
    AW_PARAMS_END,
};
static const aw_param_t line_fields[] = {
    AW_FIELD_STR("sku", .pattern = "^[A-Z0-9]+$"),
    AW_FIELD_INT("qty", AW_GE(1), .def = "1"),
    AW_PARAMS_END,
};
static const aw_param_t line_item = AW_FIELD_OBJECT("line", line_fields, .schema_name = "Line");
static const aw_param_t tag_item = AW_FIELD_STR("tag", .max_len = 20);
static const aw_param_t order_fields[] = {
    AW_FIELD_STR("customer", .min_len = 1, .example = "\"ada\""),
    AW_FIELD_FLOAT("total", AW_GE(0)),
    AW_FIELD_STR("note", .optional = true),
    AW_FIELD_OBJECT("address", address_fields, .schema_name = "Address"),
    AW_FIELD_OBJECT("billing", address_fields, .schema_name = "Address", .optional = true),
    AW_FIELD_ARRAY("lines", &line_item, .min_len = 1, .max_len = 50),
    AW_FIELD_ARRAY("tags", &tag_item, .def = "[]"),
    AW_FIELD_ANY("meta", .optional = true, .def = "{}"),
    AW_FIELD_BOOL("gift", .def = "false"),
    AW_FIELD_INT("priority", .optional = true, .def = "0"),
    AW_PARAMS_END,
};
static const aw_body_t order_body = {
    .schema_name = "OrderIn",
    .fields = order_fields,
    .example = "{\"customer\": \"ada\", \"total\": 9.5, \"lines\": [{\"sku\": \"A1\"}]}",
};
static const aw_param_t order_out[] = {
    AW_FIELD_INT("id"),
    AW_FIELD_STR("status", .doc = "pending or paid"),
    AW_PARAMS_END,
};
static const aw_param_t auth_params[] = {
    AW_HEADER_STR("authorization", .doc = "Bearer token"),
    AW_PARAMS_END,
};
static const aw_dep_t auth = {.name = "user", .fn = current_user, .params = auth_params};

/* File-scope lists: what the route keeps must outlive shop() (see errors_declared_in_a_helper). */
static const int item_errors[] = {404, 0};
static const int create_errors[] = {409, 422, 0};
static const int delete_errors[] = {404, 304, 0};

/* A small shop: items on the app, orders on a router with a tag. */
static aw_app_t *shop(void) {
    aw_app_t *app = aw_app_new("Shop", "1.2.3", .description = "Buy *things*.");
    ASSERT_TRUE(app != NULL);
    ASSERT_EQ(aw_get(app, "/items/{item_id:int}", read_item, .params = item_params,
                     .tags = AW_TAGS("items"), .errors = item_errors),
              0);
    ASSERT_EQ(aw_get(app, "/files/{rest:path}", read_file, .tags = AW_TAGS("items")), 0);
    ASSERT_EQ(aw_get(app, "/health", health, .summary = "Liveness", .description = "Always ok.",
                     .operation_id = "healthCheck"),
              0);
    ASSERT_EQ(aw_get(app, "/secret", secret, .hidden = true), 0);

    /* Not inside ASSERT_EQ's block: a router's routes are built at aw_app_include(). */
    aw_router_t *orders = aw_router_new("/orders", .tags = AW_TAGS("orders"));
    ASSERT_TRUE(orders != NULL);
    int rc = aw_post(orders, "", create_order, .body = &order_body, .status = 201,
                     .response = order_out, .response_doc = "The new order",
                     .response_example = "{\"id\": 7, \"status\": \"pending\"}",
                     .deps = AW_DEPS(&auth), .errors = create_errors);
    ASSERT_EQ(rc, 0);
    rc = aw_get(orders, "/{order_id:int}", read_order, .tags = AW_TAGS("admin", "orders"),
                .deprecated = true);
    ASSERT_EQ(rc, 0);
    rc = aw_delete(orders, "/{order_id:int}", delete_order, .status = 204, .errors = delete_errors);
    ASSERT_EQ(rc, 0);
    ASSERT_EQ(aw_app_include(app, orders), 0);
    return app;
}

static json_t *build(aw_app_t *app) {
    json_t *doc = aw__openapi_build(app);
    ASSERT_TRUE(doc != NULL);
    return doc;
}

#define ITEM "paths/~1items~1{item_id}/get"
#define ORDERS "paths/~1orders/post"
#define ORDER "paths/~1orders~1{order_id}"

/* ---- the document's frame -------------------------------------------------------------------- */

TEST(info_and_version) {
    aw_app_t *app = shop();
    json_t *doc = build(app);
    ASSERT_AT_STR(doc, "openapi", "3.1.0");
    ASSERT_AT_STR(doc, "info/title", "Shop");
    ASSERT_AT_STR(doc, "info/version", "1.2.3");
    ASSERT_AT_STR(doc, "info/description", "Buy *things*.");
    json_decref(doc);
    aw_app_free(app);
}

TEST(path_keys_drop_types_and_keep_order) {
    aw_app_t *app = shop();
    json_t *doc = build(app);
    json_t *paths = at(doc, "paths");
    const char *want[] = {"/items/{item_id}", "/files/{rest}", "/health", "/orders",
                          "/orders/{order_id}"};
    size_t i = 0;
    const char *key;
    json_t *v;
    json_object_foreach(paths, key, v) {
        ASSERT_LT(i, sizeof(want) / sizeof(want[0]));
        ASSERT_STR_EQ(key, want[i]);
        i++;
    }
    ASSERT_EQ(i, 5);
    /* Both methods of one path share its item. */
    ASSERT_TRUE(at(doc, ORDER "/get") != NULL);
    ASSERT_TRUE(at(doc, ORDER "/delete") != NULL);
    /* {rest:path} is a required string param named rest. */
    assert_json_at(doc, "paths/~1files~1{rest}/get/parameters",
                   "[{\"name\":\"rest\",\"in\":\"path\",\"required\":true,"
                   "  \"schema\":{\"type\":\"string\",\"title\":\"Rest\"}}]");
    json_decref(doc);
    aw_app_free(app);
}

TEST(hidden_routes_and_own_urls_are_left_out) {
    aw_app_t *app = shop();
    json_t *doc = build(app);
    ASSERT_ABSENT(doc, "paths/~1secret");
    ASSERT_ABSENT(doc, "paths/~1openapi.json");
    ASSERT_ABSENT(doc, "paths/~1docs");
    json_decref(doc);
    aw_app_free(app);
}

/* ---- operations ------------------------------------------------------------------------------ */

TEST(summary_and_operation_id_like_fastapi) {
    aw_app_t *app = shop();
    json_t *doc = build(app);
    ASSERT_AT_STR(doc, ITEM "/summary", "Read Item");
    ASSERT_AT_STR(doc, ITEM "/operationId", "read_item_items__item_id__get");
    ASSERT_AT_STR(doc, ORDERS "/summary", "Create Order");
    ASSERT_AT_STR(doc, ORDERS "/operationId", "create_order_orders_post");
    ASSERT_AT_STR(doc, ORDER "/delete/operationId", "delete_order_orders__order_id__delete");
    /* Set by hand. */
    ASSERT_AT_STR(doc, "paths/~1health/get/summary", "Liveness");
    ASSERT_AT_STR(doc, "paths/~1health/get/description", "Always ok.");
    ASSERT_AT_STR(doc, "paths/~1health/get/operationId", "healthCheck");
    ASSERT_AT_TRUE(doc, ORDER "/get/deprecated");
    ASSERT_ABSENT(doc, ITEM "/deprecated");
    json_decref(doc);
    aw_app_free(app);
}

TEST(tags_per_operation_and_at_top_level) {
    aw_app_t *app = shop();
    json_t *doc = build(app);
    assert_json_at(doc, ITEM "/tags", "[\"items\"]");
    assert_json_at(doc, ORDERS "/tags", "[\"orders\"]");
    /* The router's tag first, each once. */
    assert_json_at(doc, ORDER "/get/tags", "[\"orders\", \"admin\"]");
    ASSERT_ABSENT(doc, "paths/~1health/get/tags");
    assert_json_at(doc, "tags",
                   "[{\"name\":\"items\"},{\"name\":\"orders\"},{\"name\":\"admin\"}]");
    json_decref(doc);
    aw_app_free(app);
}

/* ---- parameters ------------------------------------------------------------------------------ */

TEST(path_param_schema_and_bounds) {
    aw_app_t *app = shop();
    json_t *doc = build(app);
    ASSERT_EQ(json_array_size(at(doc, ITEM "/parameters")), 8);
    ASSERT_AT_INT(doc, ITEM "/parameters/0/schema/minimum", 1);
    /* Path params come first, like FastAPI lists them. */
    assert_json_at(doc, ITEM "/parameters/0",
                   "{\"name\":\"item_id\",\"in\":\"path\",\"required\":true,"
                   " \"description\":\"the item's id\","
                   " \"schema\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1000,"
                   "            \"title\":\"Item Id\",\"description\":\"the item's id\"}}");
    json_decref(doc);
    aw_app_free(app);
}

TEST(optional_param_without_default_is_nullable) {
    aw_app_t *app = shop();
    json_t *doc = build(app);
    int i = param_index(doc, ITEM, "q");
    char p[256];
    snprintf(p, sizeof(p), ITEM "/parameters/%d", i);
    assert_json_at(
        doc, p,
        "{\"name\":\"q\",\"in\":\"query\",\"required\":false,"
        " \"schema\":{\"anyOf\":[{\"type\":\"string\",\"maxLength\":50},{\"type\":\"null\"}],"
        "            \"title\":\"Q\"}}");
    /* A cookie too. */
    snprintf(p, sizeof(p), ITEM "/parameters/%d", param_index(doc, ITEM, "session"));
    assert_json_at(doc, p,
                   "{\"name\":\"session\",\"in\":\"cookie\",\"required\":false,"
                   " \"schema\":{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"null\"}],"
                   "            \"title\":\"Session\"}}");
    json_decref(doc);
    aw_app_free(app);
}

TEST(defaults_are_typed_and_make_params_optional) {
    aw_app_t *app = shop();
    json_t *doc = build(app);
    char p[256];
    snprintf(p, sizeof(p), ITEM "/parameters/%d", param_index(doc, ITEM, "limit"));
    assert_json_at(doc, p,
                   "{\"name\":\"limit\",\"in\":\"query\",\"required\":false,"
                   " \"schema\":{\"type\":\"integer\",\"exclusiveMinimum\":0,"
                   "            \"exclusiveMaximum\":100,\"title\":\"Limit\",\"default\":10}}");
    snprintf(p, sizeof(p), ITEM "/parameters/%d", param_index(doc, ITEM, "ratio"));
    assert_json_at(doc, p,
                   "{\"name\":\"ratio\",\"in\":\"query\",\"required\":true,"
                   " \"schema\":{\"type\":\"number\",\"minimum\":0.5,\"title\":\"Ratio\"}}");
    snprintf(p, sizeof(p), ITEM "/parameters/%d/schema", param_index(doc, ITEM, "full"));
    assert_json_at(doc, p, "{\"type\":\"boolean\",\"title\":\"Full\",\"default\":false}");
    snprintf(p, sizeof(p), ITEM "/parameters/%d/schema", param_index(doc, ITEM, "sort"));
    assert_json_at(doc, p,
                   "{\"type\":\"string\",\"enum\":[\"asc\",\"desc\"],\"title\":\"Sort\","
                   " \"default\":\"asc\"}");
    json_decref(doc);
    aw_app_free(app);
}

TEST(header_pattern_example_deprecated) {
    aw_app_t *app = shop();
    json_t *doc = build(app);
    char p[256];
    snprintf(p, sizeof(p), ITEM "/parameters/%d", param_index(doc, ITEM, "x-token"));
    assert_json_at(doc, p,
                   "{\"name\":\"x-token\",\"in\":\"header\",\"required\":true,\"deprecated\":true,"
                   " \"example\":\"abc\","
                   " \"schema\":{\"type\":\"string\",\"minLength\":3,\"pattern\":\"^[a-z]+$\","
                   "            \"title\":\"X-Token\",\"deprecated\":true}}");
    json_decref(doc);
    aw_app_free(app);
}

TEST(params_in_fastapi_order_path_query_header_cookie) {
    aw_app_t *app = shop();
    json_t *doc = build(app);
    const char *want[] = {"item_id", "q", "limit", "ratio", "full", "sort", "x-token", "session"};
    for (int i = 0; i < 8; i++) {
        char p[128];
        snprintf(p, sizeof(p), ITEM "/parameters/%d/name", i);
        ASSERT_AT_STR(doc, p, want[i]);
    }
    json_decref(doc);
    aw_app_free(app);
}

TEST(dependency_params_are_documented) {
    aw_app_t *app = shop();
    json_t *doc = build(app);
    assert_json_at(doc, ORDERS "/parameters",
                   "[{\"name\":\"authorization\",\"in\":\"header\",\"required\":true,"
                   "  \"description\":\"Bearer token\","
                   "  \"schema\":{\"type\":\"string\",\"title\":\"Authorization\","
                   "             \"description\":\"Bearer token\"}}]");
    json_decref(doc);
    aw_app_free(app);
}

/* ---- bodies and components ------------------------------------------------------------------- */

TEST(request_body_references_its_schema) {
    aw_app_t *app = shop();
    json_t *doc = build(app);
    ASSERT_AT_TRUE(doc, ORDERS "/requestBody/required");
    assert_json_at(doc, ORDERS "/requestBody/content/application~1json/schema",
                   "{\"$ref\":\"#/components/schemas/OrderIn\"}");
    assert_json_at(doc, ORDERS "/requestBody/content/application~1json/example",
                   "{\"customer\": \"ada\", \"total\": 9.5, \"lines\": [{\"sku\": \"A1\"}]}");
    json_decref(doc);
    aw_app_free(app);
}

TEST(body_schema_fields_like_pydantic) {
    aw_app_t *app = shop();
    json_t *doc = build(app);
#define S "components/schemas/OrderIn"
    ASSERT_AT_STR(doc, S "/title", "OrderIn");
    ASSERT_AT_STR(doc, S "/type", "object");
    assert_json_at(doc, S "/required", "[\"customer\",\"total\",\"address\",\"lines\"]");
    assert_json_at(doc, S "/properties/customer",
                   "{\"type\":\"string\",\"minLength\":1,\"title\":\"Customer\","
                   " \"examples\":[\"ada\"]}");
    assert_json_at(doc, S "/properties/total",
                   "{\"type\":\"number\",\"minimum\":0,\"title\":\"Total\"}");
    assert_json_at(doc, S "/properties/note",
                   "{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"null\"}],\"title\":\"Note\"}");
    /* A named nested object is a $ref, untitled, as pydantic writes it; nullable when optional. */
    assert_json_at(doc, S "/properties/address", "{\"$ref\":\"#/components/schemas/Address\"}");
    assert_json_at(doc, S "/properties/billing",
                   "{\"anyOf\":[{\"$ref\":\"#/components/schemas/Address\"},{\"type\":\"null\"}]}");
    assert_json_at(doc, S "/properties/lines",
                   "{\"type\":\"array\",\"items\":{\"$ref\":\"#/components/schemas/Line\"},"
                   " \"minItems\":1,\"maxItems\":50,\"title\":\"Lines\"}");
    assert_json_at(doc, S "/properties/tags",
                   "{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":20},"
                   " \"title\":\"Tags\",\"default\":[]}");
    assert_json_at(doc, S "/properties/meta", "{\"title\":\"Meta\",\"default\":{}}");
    assert_json_at(doc, S "/properties/gift",
                   "{\"type\":\"boolean\",\"title\":\"Gift\",\"default\":false}");
    /* An optional body field takes null (params.c), so with a default it is still nullable. */
    assert_json_at(doc, S "/properties/priority",
                   "{\"anyOf\":[{\"type\":\"integer\"},{\"type\":\"null\"}],"
                   " \"title\":\"Priority\",\"default\":0}");
#undef S
    json_decref(doc);
    aw_app_free(app);
}

TEST(nested_schemas_become_components) {
    aw_app_t *app = shop();
    json_t *doc = build(app);
    assert_json_at(
        doc, "components/schemas/Address",
        "{\"type\":\"object\",\"title\":\"Address\",\"required\":[\"street\",\"city\"],"
        " \"properties\":{\"street\":{\"type\":\"string\",\"title\":\"Street\"},"
        "  \"city\":{\"type\":\"string\",\"title\":\"City\",\"description\":\"where it goes\"}}}");
    assert_json_at(
        doc, "components/schemas/Line",
        "{\"type\":\"object\",\"title\":\"Line\",\"required\":[\"sku\"],"
        " \"properties\":{\"sku\":{\"type\":\"string\",\"pattern\":\"^[A-Z0-9]+$\",\"title\":"
        "\"Sku\"},"
        "  \"qty\":{\"type\":\"integer\",\"minimum\":1,\"title\":\"Qty\",\"default\":1}}}");
    /* Sorted by name, like FastAPI's. */
    const char *want[] = {"Address", "HTTPError", "HTTPValidationError",
                          "Line",    "OrderIn",   "ValidationError"};
    size_t i = 0;
    const char *key;
    json_t *v;
    json_object_foreach(at(doc, "components/schemas"), key, v) {
        ASSERT_LT(i, sizeof(want) / sizeof(want[0]));
        ASSERT_STR_EQ(key, want[i]);
        i++;
    }
    ASSERT_EQ(i, 6);
    json_decref(doc);
    aw_app_free(app);
}

/* ---- responses ------------------------------------------------------------------------------- */

TEST(success_response_default_and_declared) {
    aw_app_t *app = shop();
    json_t *doc = build(app);
    assert_json_at(doc, ITEM "/responses/200",
                   "{\"description\":\"Successful Response\","
                   " \"content\":{\"application/json\":{\"schema\":{}}}}");
    assert_json_at(
        doc, ORDERS "/responses/201",
        "{\"description\":\"The new order\",\"content\":{\"application/json\":{"
        "  \"schema\":{\"type\":\"object\",\"required\":[\"id\",\"status\"],"
        "   \"properties\":{\"id\":{\"type\":\"integer\",\"title\":\"Id\"},"
        "    \"status\":{\"type\":\"string\",\"title\":\"Status\",\"description\":\"pending or "
        "paid\"}}},"
        "  \"example\":{\"id\":7,\"status\":\"pending\"}}}}");
    ASSERT_ABSENT(doc, ORDERS "/responses/200");
    /* 204 carries no body. */
    assert_json_at(doc, ORDER "/delete/responses/204", "{\"description\":\"Successful Response\"}");
    json_decref(doc);
    aw_app_free(app);
}

TEST(validation_error_whenever_params_or_body) {
    aw_app_t *app = shop();
    json_t *doc = build(app);
    const char *v422 = "{\"description\":\"Validation Error\",\"content\":{\"application/json\":{"
                       "\"schema\":{\"$ref\":\"#/components/schemas/HTTPValidationError\"}}}}";
    assert_json_at(doc, ITEM "/responses/422", v422);
    assert_json_at(doc, ORDERS "/responses/422", v422);    /* the AW_ERRORS(422) is this one */
    assert_json_at(doc, ORDER "/get/responses/422", v422); /* an undeclared path param counts */
    ASSERT_ABSENT(doc, "paths/~1health/get/responses/422");
    /* FastAPI's definitions, as 0.115+ writes them. */
    assert_json_at(
        doc, "components/schemas/ValidationError",
        "{\"title\":\"ValidationError\",\"type\":\"object\","
        " \"required\":[\"loc\",\"msg\",\"type\"],\"properties\":{"
        "  \"loc\":{\"title\":\"Location\",\"type\":\"array\","
        "          \"items\":{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}},"
        "  \"msg\":{\"title\":\"Message\",\"type\":\"string\"},"
        "  \"type\":{\"title\":\"Error Type\",\"type\":\"string\"},"
        "  \"input\":{\"title\":\"Input\"},"
        "  \"ctx\":{\"title\":\"Context\",\"type\":\"object\"}}}");
    assert_json_at(doc, "components/schemas/HTTPValidationError",
                   "{\"title\":\"HTTPValidationError\",\"type\":\"object\",\"properties\":{"
                   "  \"detail\":{\"title\":\"Detail\",\"type\":\"array\","
                   "             \"items\":{\"$ref\":\"#/components/schemas/ValidationError\"}}}}");
    json_decref(doc);
    aw_app_free(app);
}

TEST(error_statuses_reference_http_error) {
    aw_app_t *app = shop();
    json_t *doc = build(app);
    const char *e = "{\"description\":\"%s\",\"content\":{\"application/json\":{"
                    "\"schema\":{\"$ref\":\"#/components/schemas/HTTPError\"}}}}";
    char want[512];
    snprintf(want, sizeof(want), e, "Not Found");
    assert_json_at(doc, ITEM "/responses/404", want);
    snprintf(want, sizeof(want), e, "Conflict");
    assert_json_at(doc, ORDERS "/responses/409", want);
    assert_json_at(doc, ORDER "/delete/responses/304", "{\"description\":\"Not Modified\"}");
    assert_json_at(doc, "components/schemas/HTTPError",
                   "{\"title\":\"HTTPError\",\"type\":\"object\",\"required\":[\"detail\"],"
                   " \"properties\":{\"detail\":{\"title\":\"Detail\",\"type\":\"string\"}}}");
    json_decref(doc);
    aw_app_free(app);
}

/* ---- small apps ------------------------------------------------------------------------------ */

TEST(empty_app_has_no_components_or_tags) {
    aw_app_t *app = aw_app_new("Empty", "0");
    ASSERT_TRUE(app != NULL);
    json_t *doc = build(app);
    assert_json_at(doc, "",
                   "{\"openapi\":\"3.1.0\",\"info\":{\"title\":\"Empty\",\"version\":\"0\"},"
                   " \"paths\":{}}");
    json_decref(doc);
    aw_app_free(app);
}

TEST(only_used_components) {
    aw_app_t *app = aw_app_new("Tiny", "1");
    ASSERT_EQ(aw_get(app, "/health", health), 0);
    json_t *doc = build(app);
    ASSERT_ABSENT(doc, "components");
    assert_json_at(doc, "paths/~1health/get",
                   "{\"summary\":\"Health\",\"operationId\":\"health_health_get\","
                   " \"responses\":{\"200\":{\"description\":\"Successful Response\","
                   "  \"content\":{\"application/json\":{\"schema\":{}}}}}}");
    json_decref(doc);
    aw_app_free(app);
}

static const aw_param_t any_item = AW_FIELD_ANY("x");
static const aw_body_t list_body = {
    .type = AW_T_ARRAY, .items = &any_item, .optional = true, .doc = "anything, listed"};

TEST(inline_array_body_optional) {
    aw_app_t *app = aw_app_new("Bulk", "1");
    ASSERT_EQ(aw_put(app, "/bulk", create_order, .body = &list_body), 0);
    json_t *doc = build(app);
    assert_json_at(doc, "paths/~1bulk/put/requestBody",
                   "{\"description\":\"anything, listed\",\"content\":{\"application/json\":{"
                   "  \"schema\":{\"type\":\"array\",\"items\":{}}}}}");
    ASSERT_TRUE(at(doc, "paths/~1bulk/put/responses/422") != NULL);
    json_decref(doc);
    aw_app_free(app);
}

TEST(docs_and_openapi_urls_can_move) {
    aw_app_t *app =
        aw_app_new("Moved", "1", .openapi_url = "/api/spec.json", .docs_url = "/api/docs");
    ASSERT_EQ(aw_get(app, "/api/items", health), 0);
    json_t *doc = build(app);
    ASSERT_TRUE(at(doc, "paths/~1api~1items/get") != NULL);
    ASSERT_EQ(json_object_size(at(doc, "paths")), 1);
    json_decref(doc);
    aw_app_free(app);
}

/*
 * The usual way to declare a route, in a setup function with AW_ERRORS() and
 * AW_TAGS() inline: those compound literals live in the function's frame, so
 * the route must keep copies, since the document is built at the first
 * request, long after setup returned.
 */
static void __attribute__((noinline)) declare_in_helper(aw_app_t *app) {
    ASSERT_EQ(aw_get(app, "/things/{id:int}", read_item, .errors = AW_ERRORS(404, 410),
                     .tags = AW_TAGS("things")),
              0);
}

static void __attribute__((noinline)) clobber_stack(void) {
    volatile char junk[8192];
    memset((char *)junk, 0x5a, sizeof(junk));
}

/* The same on a router, whose routes are built only when it is included. */
static void __attribute__((noinline)) declare_on_router(aw_router_t *r) {
    ASSERT_EQ(aw_get(r, "/{id:int}", read_order, .errors = AW_ERRORS(409), .tags = AW_TAGS("sub"),
                     .deps = AW_DEPS(&auth)),
              0);
}

TEST(errors_declared_in_a_helper) {
    aw_app_t *app = aw_app_new("Helper", "1");
    declare_in_helper(app);
    aw_router_t *r = aw_router_new("/sub");
    declare_on_router(r);
    clobber_stack();
    ASSERT_EQ(aw_app_include(app, r), 0);
    clobber_stack();
    json_t *doc = build(app);
    ASSERT_TRUE(at(doc, "paths/~1things~1{id}/get/responses/404") != NULL);
    ASSERT_TRUE(at(doc, "paths/~1things~1{id}/get/responses/410") != NULL);
    assert_json_at(doc, "paths/~1things~1{id}/get/tags", "[\"things\"]");
    ASSERT_TRUE(at(doc, "paths/~1sub~1{id}/get/responses/409") != NULL);
    assert_json_at(doc, "paths/~1sub~1{id}/get/tags", "[\"sub\"]");
    ASSERT_AT_STR(doc, "paths/~1sub~1{id}/get/parameters/1/name", "authorization");
    json_decref(doc);
    aw_app_free(app);
}

/* ---- routes built by hand: what the public API would refuse ---------------------------------- */

static struct aw__route *hand_route(const char *method, const char *path, const char *name) {
    struct aw__route *r = calloc(1, sizeof(*r));
    r->method = (char *)method;
    r->path = (char *)path;
    r->name = (char *)name;
    return r;
}

static void hand_free(aw_app_t *app) {
    for (struct aw__route *r = app->routes, *next; r; r = next) {
        next = r->next;
        free(r);
    }
}

TEST(null_app_and_empty_fields) {
    json_t *doc = aw__openapi_build(NULL);
    ASSERT_TRUE(doc != NULL);
    ASSERT_AT_STR(doc, "info/title", "API");
    json_decref(doc);

    aw_app_t app = {0};
    struct aw__route *r = hand_route("GET", "/x/{id}", NULL);
    app.routes = r;
    doc = aw__openapi_build(&app);
    ASSERT_TRUE(doc != NULL);
    /* No name, no op id: made from the method and path; the undeclared path param is still
     * documented. */
    ASSERT_AT_STR(doc, "paths/~1x~1{id}/get/operationId", "get_x__id_");
    ASSERT_AT_STR(doc, "paths/~1x~1{id}/get/summary", "Get X Id");
    ASSERT_AT_STR(doc, "paths/~1x~1{id}/get/parameters/0/name", "id");
    json_decref(doc);
    hand_free(&app);
}

TEST(head_options_and_unknown_methods_are_skipped) {
    aw_app_t app = {0};
    struct aw__route *a = hand_route("HEAD", "/a", "a"), *b = hand_route("OPTIONS", "/a", "b"),
                     *c = hand_route("PURGE", "/a", "c"), *d = hand_route("GET", "/a", "d");
    a->next = b;
    b->next = c;
    c->next = d;
    app.routes = a;
    json_t *doc = aw__openapi_build(&app);
    ASSERT_TRUE(doc != NULL);
    ASSERT_EQ(json_object_size(at(doc, "paths/~1a")), 1);
    ASSERT_AT_STR(doc, "paths/~1a/get/operationId", "d_a_get"); /* made here: op_id is NULL */
    json_decref(doc);
    hand_free(&app);
}

/* A schema that contains itself: a tree of nodes. */
static const aw_param_t node_fields[3];
static const aw_param_t node_item = AW_FIELD_OBJECT("child", node_fields, .schema_name = "Node");
static const aw_param_t node_fields[3] = {
    AW_FIELD_STR("label"),
    AW_FIELD_ARRAY("children", &node_item),
    AW_PARAMS_END,
};
/* An unnamed one: nesting stops at a depth limit. */
static const aw_param_t loop_fields[2];
static const aw_param_t loop_fields[2] = {
    AW_FIELD_OBJECT("again", loop_fields),
    AW_PARAMS_END,
};
static const aw_body_t tree_body = {.schema_name = "Node", .fields = node_fields};
static const aw_body_t loop_body = {.fields = loop_fields};

TEST(recursive_schemas_end) {
    aw_app_t app = {0};
    struct aw__route *r = hand_route("POST", "/tree", "plant");
    struct aw__route *s = hand_route("POST", "/loop", "spin");
    r->opts.body = &tree_body;
    s->opts.body = &loop_body;
    r->next = s;
    app.routes = r;
    json_t *doc = aw__openapi_build(&app);
    ASSERT_TRUE(doc != NULL);
    assert_json_at(doc, "components/schemas/Node/properties/children/items",
                   "{\"$ref\":\"#/components/schemas/Node\"}");
    ASSERT_TRUE(at(doc, "paths/~1loop/post/requestBody/content/application~1json/schema/"
                        "properties/again/properties/again/properties/again") != NULL);
    json_decref(doc);
    hand_free(&app);
}

static const aw_param_t odd_params[] = {
    AW_QUERY_STR("caf\xe9", .doc = "bad \xff utf-8", .def = "x\xc3"),
    AW_QUERY_INT("n", .def = "not a number", .example = "12x", AW_GE(NAN), AW_LE(INFINITY)),
    AW_QUERY_ENUM("e", .choices = (const char *const[]){NULL}),
    AW_QUERY_ENUM("d", AW_CHOICES("a", "a", "b")),
    AW_PARAMS_END,
};
static const aw_param_t odd_fields[] = {
    AW_FIELD_OBJECT("o", NULL, .schema_name = "Bad Name/\xff", .example = "{not json"),
    AW_FIELD_ARRAY("arr", NULL),
    AW_PARAMS_END,
};
static const aw_body_t odd_body = {.fields = odd_fields, .example = "[1,"};
static const int odd_errors[] = {99, 600, 418, 200, 0};

TEST(odd_text_does_not_break_the_document) {
    aw_app_t app = {0};
    struct aw__route *r = hand_route("POST", "/odd/{a:int}/{b:weird}/{", "odd\xfe_name");
    struct aw__pdecl decls[4];
    memset(decls, 0, sizeof(decls));
    for (int i = 0; i < 4; i++)
        decls[i].p = odd_params[i];
    r->params = decls;
    r->nparams = 4;
    r->opts.body = &odd_body;
    r->opts.status = 42;
    r->opts.errors = odd_errors;
    r->opts.response_example = "nope";
    const char *tags[] = {"t\xff", "t\xff", NULL};
    r->tags = tags;
    app.routes = r;
    app.title = "T\xc0";
    json_t *doc = aw__openapi_build(&app);
    ASSERT_TRUE(doc != NULL);
    char *text = json_dumps(doc, 0);
    ASSERT_TRUE(text != NULL);
    free(text);
    ASSERT_AT_STR(doc, "info/title", "T\xef\xbf\xbd");
    json_t *op = at(doc, "paths/~1odd~1{a}~1{b}~1{/post");
    ASSERT_TRUE(op != NULL);
    ASSERT_TRUE(at(op, "responses/200") != NULL); /* a status out of range documents 200 */
    ASSERT_TRUE(at(op, "responses/418") != NULL);
    ASSERT_ABSENT(op, "responses/99");
    ASSERT_ABSENT(op, "responses/600");
    ASSERT_AT_STR(op, "parameters/3/schema/default", "not a number");
    ASSERT_ABSENT(op, "parameters/3/schema/minimum");
    ASSERT_ABSENT(op, "parameters/4/schema/enum");
    assert_json_at(op, "parameters/5/schema/enum", "[\"a\",\"b\"]");
    ASSERT_AT_STR(op, "requestBody/content/application~1json/example", "[1,");
    ASSERT_TRUE(at(doc, "components/schemas/Bad_Name__") != NULL);
    assert_json_at(doc, "tags", "[{\"name\":\"t\xef\xbf\xbd\"}]");
    json_decref(doc);
    free(r);
}

/* ---- out of memory -----------------------------------------------------------------------------
 */

static long allocs_left; /* jansson allocations that succeed before one fails; < 0: all */

static void *failing_malloc(size_t n) {
    if (allocs_left == 0)
        return NULL;
    if (allocs_left > 0)
        allocs_left--;
    return malloc(n);
}

TEST(every_failed_allocation_gives_null) {
    aw_app_t *app = shop();
    json_set_alloc_funcs(failing_malloc, free);
    long n;
    for (n = 0;; n++) {
        allocs_left = n;
        json_t *doc = aw__openapi_build(app);
        if (doc) {
            allocs_left = -1;
            json_decref(doc);
            break;
        }
        ASSERT_LT(n, 100000);
    }
    allocs_left = -1;
    ASSERT_GT(n, 100); /* the failures really were met along the way */
    json_set_alloc_funcs(malloc, free);
    aw_app_free(app);
}

/* ---- the real validator ---------------------------------------------------------------------- */

/*
 * Runs tests/tools/validate-openapi.mjs on `doc` (taken). Returns false,
 * having said why, when node or the tool's modules are not installed.
 */
static bool validate(json_t *doc) {
    char tool[1024], mods[1024], file[] = "/tmp/aw-openapi-XXXXXX";
    snprintf(tool, sizeof(tool), "%s/tests/tools/validate-openapi.mjs", AW_SOURCE_DIR);
    snprintf(mods, sizeof(mods), "%s/web/node_modules/@readme/openapi-parser", AW_SOURCE_DIR);
    struct stat sb;
    if (stat(tool, &sb) != 0 || stat(mods, &sb) != 0 || system("node --version >/dev/null 2>&1")) {
        printf("# skipped: node, %s or web/node_modules missing\n", tool);
        json_decref(doc);
        return false;
    }
    int fd = mkstemp(file);
    ASSERT_GE(fd, 0);
    close(fd);
    ASSERT_EQ(json_dump_file(doc, file, JSON_INDENT(2)), 0);
    json_decref(doc);
    char cmd[3072];
    snprintf(cmd, sizeof(cmd), "node '%s' '%s' 1>&2", tool, file);
    int st = system(cmd);
    unlink(file);
    ASSERT_TRUE(WIFEXITED(st));
    ASSERT_EQ(WEXITSTATUS(st), 0);
    return true;
}

TEST(validates_with_openapi_parser) {
    aw_app_t *app = shop();
    json_t *doc = build(app);
    const char *dump = getenv("AW_OPENAPI_DUMP");
    if (dump)
        ASSERT_EQ(json_dump_file(doc, dump, JSON_INDENT(2)), 0);
    validate(doc);
    aw_app_free(app);
}

TEST(recursive_schemas_validate) {
    aw_app_t app = {0};
    struct aw__route *r = hand_route("POST", "/tree", "plant");
    struct aw__route *s = hand_route("POST", "/loop", "spin");
    r->opts.body = &tree_body;
    s->opts.body = &loop_body;
    r->next = s;
    app.routes = r;
    app.title = "Trees";
    app.version = "1";
    validate(aw__openapi_build(&app));
    hand_free(&app);
}
