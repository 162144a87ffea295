/* SPDX-License-Identifier: MIT */
/* Swagger UI for /docs: the page and the embedded swagger-ui-dist assets (docs.c). */
#ifndef AW_DOCS_INTERNAL_H
#define AW_DOCS_INTERNAL_H

#include <stdbool.h>

#include "awaitress/http.h"

/*
 * Answers a request under the docs prefix (say "/docs"). `rest` is the part
 * of the request path after the prefix, borrowed:
 *   ""  or "/"        the Swagger UI page (text/html), loading its assets from
 *                     the same prefix with relative URLs, so it works at
 *                     "/docs" and "/docs/" alike, and behind a proxy that
 *                     adds a prefix of its own;
 *   "/<asset name>"   swagger-ui-bundle.js, swagger-ui.css, favicon-32x32.png:
 *                     200 with a strong ETag and `Cache-Control: public,
 *                     max-age=86400`, or 304 when If-None-Match matches;
 *   anything else     404 {"detail":"Not Found"} (source maps included).
 * GET and HEAD only (405 otherwise). When the library was built without the
 * assets (no web/node_modules at configure time), every path but a source
 * map's answers 503 with a JSON `detail` saying to run
 * scripts/install-web-deps.sh and rebuild.
 *
 * `title` (HTML-escaped into <title>) and `openapi_url` (the document's URL
 * as the browser should fetch it, typically "/openapi.json"; JS-escaped into
 * the page's script) are borrowed, NUL-terminated; NULL gives "API" and
 * "/openapi.json". Returns 0, or the error of aw_http_respond(), or AW_ENOMEM
 * (nothing was sent then). From the request's handler.
 */
int aw__docs_serve(aw_http_req_t *req, aw_str_t rest, const char *title, const char *openapi_url);

/* True when the library carries the Swagger UI assets (built with AW_HAVE_DOCS_ASSETS). */
bool aw__docs_have_assets(void);

#endif
