/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the web layer's JSON body validation
 * (aw__json_validate in src/web/params.c): any JSON a client sends,
 * against a schema with every kind of field (nested objects, arrays of
 * objects, bounds, enums, patterns, defaults, optional values). Every input
 * must validate or collect errors without a crash, a leak or a sanitizer
 * report, and the errors must be FastAPI-shaped.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/web/web_internal.h"

static const aw_param_t line_fields[] = {
    AW_FIELD_STR("sku", .min_len = 1, .max_len = 8, .pattern = "^[a-z0-9-]+$"),
    AW_FIELD_INT("qty", AW_GE(1), AW_LE(100)),
    AW_FIELD_FLOAT("price", AW_GT(0), .optional = true),
    AW_PARAMS_END,
};
static const aw_param_t line = AW_FIELD_OBJECT("line", line_fields);
static const aw_param_t tag = AW_FIELD_STR("tag", .max_len = 4);
static const aw_param_t customer_fields[] = {
    AW_FIELD_STR("name"),
    AW_FIELD_ENUM("tier", AW_CHOICES("gold", "silver"), .def = "\"silver\""),
    AW_PARAMS_END,
};
static const aw_param_t fields[] = {
    AW_FIELD_OBJECT("customer", customer_fields),
    AW_FIELD_ARRAY("items", &line, .min_len = 1, .max_len = 5),
    AW_FIELD_ARRAY("tags", &tag, .optional = true),
    AW_FIELD_BOOL("gift", .def = "false"),
    AW_FIELD_ANY("extra", .optional = true),
    AW_PARAMS_END,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (!v)
        return 0;
    aw_param_t schema = {.name = "body", .in = AW_IN_BODY, .type = AW_T_OBJECT, .fields = fields};
    json_t *errors = json_array();
    aw__json_validate(&schema, &v, json_pack("[s]", "body"), errors);
    for (size_t i = 0; i < json_array_size(errors); i++) {
        json_t *e = json_array_get(errors, i);
        if (!json_is_string(json_object_get(e, "type")) || !json_is_array(json_object_get(e, "loc")) ||
            !json_is_string(json_object_get(e, "msg")) || !json_object_get(e, "input"))
            abort();
    }
    /* What passed must be what the handler may rely on: an object with the fields set. */
    if (json_array_size(errors) == 0 && (!json_is_object(v) || !json_object_get(v, "gift")))
        abort();
    json_decref(errors);
    json_decref(v);
    return 0;
}
