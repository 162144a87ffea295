/* SPDX-License-Identifier: MIT */
#include "buf.h"

#include <stdlib.h>

void aw__buf_grow_put(aw__buf_t *b, const void *s, size_t n) {
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) {
            if (cap > ((size_t)-1) / 2) {
                b->failed = true;
                return;
            }
            cap *= 2;
        }
        char *grown = b->borrowed ? malloc(cap) : realloc(b->p, cap);
        if (!grown) {
            b->failed = true;
            return;
        }
        if (b->borrowed && b->len)
            memcpy(grown, b->p, b->len);
        b->borrowed = false;
        b->p = grown;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
}
