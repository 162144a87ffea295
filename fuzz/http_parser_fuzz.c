/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for src/http/parser.c: the input's first byte picks how
 * the rest is cut into reads, so the fuzzer explores fragmentation as well
 * as content. Every input must end in a verdict (complete, needs more, or
 * an error status in 400..505) without a crash or sanitizer report, and the
 * verdict must not depend on how the input was cut.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/http/http_internal.h"

static int run_with(struct aw__hparse *hpp, const char *data, size_t len, size_t step) {
#define hp (*hpp)
    static aw_http_config_t cfg;
    static struct aw__hfield fields[AW__HTTP_FIELDS_INLINE];
    aw_http_config_init(&cfg);
    aw__hparse_begin(&hp, &cfg, fields, AW__HTTP_FIELDS_INLINE, data);
    size_t pos = 0, avail = 0;
    int rc = AW__HP_MORE;
    char out[4096];
    for (;;) {
        size_t used = 0, produced = 0;
        if (!hp.headers_done)
            rc = aw__hparse_head(&hp, data + pos, avail - pos, &used);
        else
            rc = aw__hparse_body(&hp, data + pos, avail - pos, &used, out, sizeof(out), &produced);
        if (rc < 0) {
            if (-rc < 400 || -rc > 505)
                abort();
            return rc;
        }
        pos += used;
        if (rc == AW__HP_DONE)
            return rc;
        if (used == 0 && produced == 0) {
            if (avail == len)
                break;
            avail = avail + step < len ? avail + step : len;
        }
    }
    return rc;
#undef hp
}

static int run(const char *data, size_t len, size_t step) {
    struct aw__hparse hp;
    int rc = run_with(&hp, data, len, step);
    aw__hparse_release(&hp);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2)
        return 0;
    size_t step = data[0] % 17 + 1;
    /* A private copy: the parser reads its input as one contiguous buffer. */
    char *buf = malloc(size - 1);
    memcpy(buf, data + 1, size - 1);
    int whole = run(buf, size - 1, size - 1);
    int cut = run(buf, size - 1, step);
    /* Cutting differently must not change an error into success or back. */
    if ((whole < 0) != (cut < 0) && whole != AW__HP_MORE && cut != AW__HP_MORE)
        abort();
    free(buf);
    return 0;
}
