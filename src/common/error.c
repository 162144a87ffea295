/* SPDX-License-Identifier: MIT */
/* Messages and names for the AW_E* codes. */
#include "awaitress/error.h"

const char *aw_strerror(int err) {
    switch (err) {
#define AW__ERR_MSG(name, value, msg)                                          \
    case (value):                                                              \
        return msg;
        AW_ERRNO_MAP(AW__ERR_MSG)
#undef AW__ERR_MSG
    case 0:
        return "success";
    default:
        return "unknown error";
    }
}

const char *aw_err_name(int err) {
    switch (err) {
#define AW__ERR_NAME(name, value, msg)                                         \
    case (value):                                                              \
        return #name;
        AW_ERRNO_MAP(AW__ERR_NAME)
#undef AW__ERR_NAME
    case 0:
        return "OK";
    default:
        return "UNKNOWN";
    }
}
