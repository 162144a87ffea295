/* SPDX-License-Identifier: MIT */
/*
 * FastAPI's first steps, in C (the README's tutorial walks through it):
 *
 *   GET /                    {"message":"Hello World"}
 *   GET /items/{item_id}     {"item_id":5,"q":"somequery"}  (q is optional: null when absent)
 *   PUT /items/{item_id}     body {name: str, price: float, is_offer: bool (optional)}
 *                            -> {"item_name":"...","item_id":5}
 *
 * `GET /items/foo` answers 422 with FastAPI's int_parsing error, and
 * /docs shows all three, ready to try.
 *
 *   build/bin/items --port 8000
 */
#include <awaitress.h>

static void read_root(aw_ctx_t *c) {
    aw_reply_jsonf(c, 200, "{s:s}", "message", "Hello World");
}

static void read_item(aw_ctx_t *c) {
    /* "s?" packs NULL as null: the optional q that was not given. */
    aw_reply_jsonf(c, 200, "{s:I, s:s?}", "item_id", (json_int_t)aw_path_int(c, "item_id"), "q",
                   aw_query_str(c, "q"));
}

static void update_item(aw_ctx_t *c) {
    aw_reply_jsonf(c, 200, "{s:s, s:I}", "item_name", aw_body_str(c, "name"), "item_id",
                   (json_int_t)aw_path_int(c, "item_id"));
}

static const aw_param_t item_params[] = {
    AW_PATH_INT("item_id"),
    AW_QUERY_STR("q", .optional = true),
    AW_PARAMS_END,
};

static const aw_param_t update_params[] = {
    AW_PATH_INT("item_id"),
    AW_PARAMS_END,
};

static const aw_param_t item_fields[] = {
    AW_FIELD_STR("name"),
    AW_FIELD_FLOAT("price"),
    AW_FIELD_BOOL("is_offer", .optional = true),
    AW_PARAMS_END,
};

static const aw_body_t item_body = {.schema_name = "Item", .fields = item_fields};

int main(int argc, char **argv) {
    aw_app_t *app = aw_app_new("FastAPI", "0.1.0");
    aw_get(app, "/", read_root);
    aw_get(app, "/items/{item_id}", read_item, .params = item_params);
    aw_put(app, "/items/{item_id}", update_item, .params = update_params, .body = &item_body);
    return aw_main(app, argc, argv);
}
