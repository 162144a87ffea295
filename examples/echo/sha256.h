/* SPDX-License-Identifier: MIT */
/* SHA-256 for the echo example. */
#ifndef ECHO_SHA256_H
#define ECHO_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256 {
    uint32_t h[8];
    uint64_t len;
    unsigned char buf[64];
    size_t fill;
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
/* Finishes and writes the digest as 64 hex digits and a NUL. */
void sha256_hex(struct sha256 *s, char out[65]);

#endif
