/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the client's response parser (aw__rparse_* in
 * src/http/parser.c), which reads what any server sends back to aw_fetch.
 * The input's first byte picks how the rest is cut into reads and whether
 * the response answers a HEAD; every input must end in a verdict without a
 * crash or sanitizer report, and the verdict must not depend on the cuts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/http/client_internal.h"

static int run(const char *data, size_t len, size_t step, bool head) {
    static aw_http_config_t cfg;
    static struct aw__hfield fields[AW__HTTP_FIELDS_INLINE];
    aw_http_config_init(&cfg);
    struct aw__rparse rp;
    aw__rparse_begin(&rp, &cfg, fields, AW__HTTP_FIELDS_INLINE, data, head);
    size_t pos = 0, avail = 0;
    int rc = AW__HP_MORE;
    bool in_body = false;
    char out[4096];
    for (;;) {
        size_t used = 0, produced = 0;
        if (!in_body) {
            rc = aw__rparse_head(&rp, data + pos, avail - pos, &used);
            if (rc == AW__HP_HEAD) {
                in_body = rp.body == AW__RBODY_LENGTH || rp.body == AW__RBODY_CHUNKED;
                if (!in_body)
                    rc = AW__HP_DONE;
            }
        } else {
            rc = aw__rparse_body(&rp, data + pos, avail - pos, &used, out, sizeof(out), &produced);
        }
        pos += used;
        if (rc < 0 || rc == AW__HP_DONE)
            break;
        if (used == 0 && produced == 0) {
            if (avail == len)
                break;
            avail = avail + step < len ? avail + step : len;
        }
    }
    aw__hparse_release(&rp.hp);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2)
        return 0;
    size_t step = data[0] % 17 + 1;
    bool head = data[0] & 0x80;
    char *buf = malloc(size - 1); /* exactly sized: a read past the input is a report */
    memcpy(buf, data + 1, size - 1);
    int whole = run(buf, size - 1, size - 1, head);
    int cut = run(buf, size - 1, step, head);
    if ((whole < 0) != (cut < 0) && whole != AW__HP_MORE && cut != AW__HP_MORE)
        abort();
    free(buf);
    return 0;
}
