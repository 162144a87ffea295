/* SPDX-License-Identifier: MIT */
/*
 * The registration macros as users write them, built with -Wpedantic -Werror
 * (see CMakeLists.txt): routes and params with no options at all, options in
 * any order, nested body fields, routers, CORS. It must compile in ISO C and
 * register without errors.
 */
#include <awaitress.h>
#include <stdio.h>
static void hi(aw_ctx_t *c) { aw_reply_jsonf(c, 200, "{s:s}", "hi", aw_query_str(c, "q")); }
static const aw_param_t ps[] = {AW_QUERY_STR("q", .def = "x", .max_len = 3), AW_PATH_INT("id"), AW_PARAMS_END};
static const aw_param_t f1[] = {AW_FIELD_STR("a"), AW_PARAMS_END};
static const aw_param_t o1 = AW_FIELD_OBJECT("o", f1);
static const aw_param_t f2[] = {AW_FIELD_ARRAY("xs", &o1, .min_len = 1), AW_PARAMS_END};
static const aw_body_t b = {.fields = f2};
int main(void) {
    /* Every declaration above and below registers cleanly. */
    aw_app_t *app = aw_app_new("t", "1", .strict_slashes = true);
    aw_get(app, "/{id}", hi, .params = ps);
    aw_post(app, "/b", hi, .body = &b, .summary = "x");
    aw_router_t *r = aw_router_new("/r");
    aw_get(r, "/", hi);
    aw_app_include(app, r);
    aw_use_cors(app, .origins = AW_TAGS("*"));
    int rc = aw_app_check(app);
    aw_app_free(app);
    if (rc != 0) {
        fprintf(stderr, "not ok: the declarations did not register\n");
        return 1;
    }
    printf("ok: the macros compile in ISO C (-Wpedantic) and register\n");
    return 0;
}
