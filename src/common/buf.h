/* SPDX-License-Identifier: MIT */
/*
 * A growing byte string for building messages (requests, pages, JSON, SSE
 * events): appends never fail loudly; an allocation failure sets `failed`,
 * later appends do nothing, and the builder checks once at the end.
 * Internal to the library.
 */
#ifndef AW_COMMON_BUF_H
#define AW_COMMON_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#ifndef AW__HIDDEN
#define AW__HIDDEN __attribute__((visibility("hidden")))
#endif

typedef struct aw__buf {
    char *p;       /* malloc'd unless `borrowed`; the owner frees it (also after a failure) */
    size_t len, cap;
    bool failed;   /* an allocation failed: the contents are incomplete */
    bool borrowed; /* p is the caller's first block (stack, request arena): never freed or
                      realloc'd here; growing past it moves the contents to the heap */
} aw__buf_t;

/* The slow path of aw__buf_put: grows (doubling from 256 bytes), then appends. */
AW__HIDDEN void aw__buf_grow_put(aw__buf_t *b, const void *s, size_t n);

/* Appends n bytes; room for one more byte (a NUL) is always kept. */
static inline void aw__buf_put(aw__buf_t *b, const void *s, size_t n) {
    if (b->len + n + 1 <= b->cap && !b->failed) {
        memcpy(b->p + b->len, s, n);
        b->len += n;
        return;
    }
    aw__buf_grow_put(b, s, n);
}

static inline void aw__buf_puts(aw__buf_t *b, const char *s) {
    aw__buf_put(b, s, strlen(s));
}

#endif
