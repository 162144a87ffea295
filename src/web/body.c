/* SPDX-License-Identifier: MIT */
/*
 * JSON request bodies: media type, size, parsing and validation.
 *
 * The size limit is the HTTP layer's (413 before a byte of the body is
 * read, from Content-Length, or as soon as a chunked body passes it); the
 * media type is checked before reading, so a wrong one costs nothing.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "awaitress/error.h"
#include "web_internal.h"

/* application/json, or application/<anything>+json, with any parameters. */
static bool is_json_type(aw_str_t ct) {
    size_t n = 0;
    while (n < ct.len && ct.ptr[n] != ';' && ct.ptr[n] != ' ')
        n++;
    if (n == 16 && strncasecmp(ct.ptr, "application/json", 16) == 0)
        return true;
    return n > 17 && strncasecmp(ct.ptr, "application/", 12) == 0 &&
           strncasecmp(ct.ptr + n - 5, "+json", 5) == 0;
}

static bool word_char(char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '-' || ch == '+' || ch == '.';
}

/*
 * Where the bad token starts, as Python's JSONDecodeError.pos (FastAPI's
 * loc) says: jansson reports where it stopped, after the token it read.
 * At the end of the input, both point past the last byte.
 */
static size_t error_offset(const char *data, size_t len, const json_error_t *err) {
    size_t pos = (size_t)err->position;
    if (pos >= len || pos == 0)
        return pos > len ? len : pos;
    if (!word_char(data[pos - 1]))
        return pos - 1; /* a stray ',' '}' ':'... */
    while (pos > 0 && word_char(data[pos - 1]))
        pos--; /* a bad literal: from its first character */
    return pos;
}

int aw__body_validate(aw_ctx_t *c, json_t *errors) {
    const aw_body_t *b = c->route->opts.body;
    if (!aw_http_req_has_body(c->req)) {
        if (!b->optional)
            aw__error_add(errors, "missing", json_pack("[s]", "body"), "Field required", json_null(),
                          NULL);
        return 0;
    }
    aw_str_t ct = aw_http_req_header(c->req, "Content-Type");
    if (!ct.ptr || !is_json_type(ct)) {
        aw_http_error(c, 415, "Unsupported Media Type: the body must be JSON (Content-Type: "
                              "application/json), not %.*s",
                      ct.ptr ? (int)(ct.len > 100 ? 100 : ct.len) : 4, ct.ptr ? ct.ptr : "none");
        return 415;
    }
    const char *data;
    size_t len;
    int rc = aw_http_req_body(c->req, &data, &len);
    if (rc < 0) {
        /* The HTTP layer answers (413, 400, 408) and closes, whatever we do. */
        c->status = -1;
        c->ended = true;
        return 413;
    }
    if (len == 0) {
        if (!b->optional)
            aw__error_add(errors, "missing", json_pack("[s]", "body"), "Field required", json_null(),
                          NULL);
        return 0;
    }
    json_error_t err;
    json_t *v = json_loadb(data, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (!v) {
        char msg[256];
        snprintf(msg, sizeof(msg), "%s at line %d column %d", err.text, err.line, err.column);
        aw__error_add(errors, "json_invalid",
                      json_pack("[sI]", "body", (json_int_t)error_offset(data, len, &err)),
                      "JSON decode error", json_object(), json_pack("{ss}", "error", msg));
        return 0;
    }
    aw_param_t schema = {
        .name = "body",
        .in = AW_IN_BODY,
        .type = b->type == AW_T_ARRAY ? AW_T_ARRAY : AW_T_OBJECT,
        .fields = b->fields,
        .items = b->items,
    };
    aw__json_validate(&schema, &v, json_pack("[s]", "body"), errors);
    c->body = v;
    return 0;
}
