/* SPDX-License-Identifier: MIT */
/* Client internals: the response parser (parser.c) and one exchange over a caller's fd. */
#ifndef AW_CLIENT_INTERNAL_H
#define AW_CLIENT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "awaitress/client.h"
#include "http_internal.h"

/* How a response's body is delimited (RFC 9112 6.3). */
enum {
    AW__RBODY_NONE,    /* no body: HEAD, 1xx, 204, 304, or Content-Length: 0 */
    AW__RBODY_LENGTH,  /* Content-Length bytes */
    AW__RBODY_CHUNKED, /* chunked coding */
    AW__RBODY_CLOSE,   /* everything until the server closes */
};

/*
 * One response head being parsed. The request parser's state comes first,
 * so llhttp's field callbacks, its header table and its body decoder serve
 * responses too; the rest is what only a response has.
 */
struct aw__rparse {
    struct aw__hparse hp;            /* must stay first */
    int code;                        /* the status code, once the head is complete */
    uint32_t reason_off, reason_len; /* the reason phrase, from hp.base */
    uint8_t body;                    /* AW__RBODY_* */
    bool head_request;               /* answers a HEAD: no body, whatever the head says */
};

/*
 * Prepares `rp` for a response head starting at `base`, with `fields` (room
 * for `cap`) as its first header table. cfg->max_head_bytes and
 * max_headers bound the head; max_body_bytes, max_chunk_ext_bytes and
 * max_trailer_bytes the body. Call aw__hparse_release(&rp->hp) when done.
 */
AW__HIDDEN void aw__rparse_begin(struct aw__rparse *rp, const aw_http_config_t *cfg,
                                 struct aw__hfield *fields, uint32_t cap, const char *base,
                                 bool head_request);

/*
 * Feeds head bytes [data, data+len), continuing those fed before in the
 * same buffer (move it, and the base pointer rp->hp.base follows). Returns
 * AW__HP_MORE (needs more bytes), AW__HP_HEAD (complete; rp->body says how
 * the body is framed) or AW__HP_DONE (complete, no body), with *used set to
 * the bytes consumed; or AW_EPROTO (malformed or ambiguous), AW_EMSGSIZE
 * (over a limit, a Content-Length over max_body_bytes included) or
 * AW_ENOMEM, with rp->hp.reason saying why.
 */
AW__HIDDEN int aw__rparse_head(struct aw__rparse *rp, const char *data, size_t len, size_t *used);

/*
 * Decodes body bytes framed by Content-Length or chunked, as
 * aw__hparse_body() does (framing lines are consumed only once complete).
 * Returns AW__HP_MORE or AW__HP_DONE, or AW_EPROTO / AW_EMSGSIZE.
 */
AW__HIDDEN int aw__rparse_body(struct aw__rparse *rp, const char *data, size_t len, size_t *used,
                               char *out, size_t out_cap, size_t *produced);

/*
 * Writes `len` bytes of `request` (a complete request, head and body) to
 * `fd`, a connected non-blocking socket the caller owns, and reads one
 * response with the default limits (a response to HEAD when `head`).
 * Bytes the peer sends after the response are left unread or dropped.
 * From a task. Returns 0 with *out set to a new response, or a negative
 * code as aw_fetch() does. The fd stays open in every case.
 */
AW__HIDDEN int aw__client_exchange(int fd, const char *request, size_t len, bool head,
                                   aw_response_t **out);

#endif
