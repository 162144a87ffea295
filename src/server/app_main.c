/* SPDX-License-Identifier: MIT */
/* aw_app_serve() and aw_main(): a web app served with the server's options and lifespan. */
#include <stdio.h>

#include "../web/web_internal.h"
#include "server_internal.h"

static int app_startup(void *data) {
    return aw__app_startup(data);
}

static void app_shutdown(void *data) {
    aw__app_shutdown(data);
}

int aw_app_serve(aw_app_t *app, const aw_server_options_t *o) {
    if (aw_app_check(app) < 0)
        return 1;
    aw__serve_set_lifespan(app_startup, app_shutdown, app);
    int rc = aw_serve(o, aw_app_handle, app);
    aw__serve_set_lifespan(NULL, NULL, NULL);
    return rc;
}

int aw_main(aw_app_t *app, int argc, char **argv) {
    if (!app) {
        fprintf(stderr, "aw_main: no app (out of memory?)\n");
        return 1;
    }
    aw_server_options_t o;
    aw_server_options_init(&o);
    int rc = aw_server_options_parse(&o, argc, argv);
    if (rc != 0) {
        aw_app_free(app);
        return rc == 1 ? 0 : 2;
    }
    rc = aw_app_serve(app, &o);
    aw_app_free(app);
    return rc;
}
