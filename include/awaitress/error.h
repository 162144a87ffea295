/* SPDX-License-Identifier: MIT */
/* Error codes shared by every layer: negative values, equal to -errno where one exists. */
#ifndef AWAITRESS_ERROR_H
#define AWAITRESS_ERROR_H

#include <errno.h>

#if defined(__GNUC__)
#define AW_API __attribute__((visibility("default")))
#else
#define AW_API
#endif

/*
 * One list drives the enum, aw_strerror() and aw_err_name(). Each entry is
 * (name, value, message); values are -errno so that a failed syscall's
 * result can be passed on unchanged.
 */
#define AW_ERRNO_MAP(X)                                                        \
    X(ENOMEM, -ENOMEM, "out of memory")                                        \
    X(EINVAL, -EINVAL, "invalid argument")                                     \
    X(ECANCELED, -ECANCELED, "operation canceled")                             \
    X(ETIMEDOUT, -ETIMEDOUT, "operation timed out")                            \
    X(EAGAIN, -EAGAIN, "resource temporarily unavailable")                     \
    X(EPIPE, -EPIPE, "broken pipe or closed channel")                          \
    X(EBADF, -EBADF, "bad file descriptor")                                    \
    X(EBUSY, -EBUSY, "resource busy")                                          \
    X(EEXIST, -EEXIST, "already exists")                                       \
    X(ENOENT, -ENOENT, "no such file or directory")                            \
    X(EIO, -EIO, "i/o error")                                                  \
    X(EINTR, -EINTR, "interrupted")                                            \
    X(EPERM, -EPERM, "operation not permitted")                                \
    X(EACCES, -EACCES, "permission denied")                                    \
    X(EMFILE, -EMFILE, "too many open files")                                  \
    X(ENFILE, -ENFILE, "file table overflow")                                  \
    X(ENOSPC, -ENOSPC, "no space left on device")                              \
    X(ENOSYS, -ENOSYS, "function not implemented")                             \
    X(ECONNREFUSED, -ECONNREFUSED, "connection refused")                       \
    X(ECONNRESET, -ECONNRESET, "connection reset by peer")                     \
    X(ECONNABORTED, -ECONNABORTED, "connection aborted")                       \
    X(ENOTCONN, -ENOTCONN, "socket is not connected")                          \
    X(EADDRINUSE, -EADDRINUSE, "address already in use")                       \
    X(EADDRNOTAVAIL, -EADDRNOTAVAIL, "address not available")                  \
    X(EHOSTUNREACH, -EHOSTUNREACH, "host is unreachable")                      \
    X(ENETUNREACH, -ENETUNREACH, "network is unreachable")                     \
    X(EALREADY, -EALREADY, "operation already in progress")                    \
    X(ERANGE, -ERANGE, "result out of range")                                  \
    X(EOVERFLOW, -EOVERFLOW, "value too large")                                \
    X(E2BIG, -E2BIG, "argument list too long")                                 \
    X(EPROTO, -EPROTO, "protocol error")                                       \
    X(EMSGSIZE, -EMSGSIZE, "message too long")

enum aw_errno {
#define AW__ERR_ENUM(name, value, msg) AW_##name = (value),
    AW_ERRNO_MAP(AW__ERR_ENUM)
#undef AW__ERR_ENUM
};

/*
 * Returns a static, human-readable message for `err` (a negative AW_E* code or
 * any -errno). Never NULL; unknown codes give "unknown error". Any thread.
 */
AW_API const char *aw_strerror(int err);

/* Returns the code's name without prefix ("ECANCELED"), or "UNKNOWN". Any thread. */
AW_API const char *aw_err_name(int err);

/* ---- logging ---------------------------------------------------------------------------------- */

enum aw_log_level { AW_LOG_DEBUG, AW_LOG_INFO, AW_LOG_WARN, AW_LOG_ERROR, AW_LOG_OFF };

/* Sets the lowest level written (default AW_LOG_INFO). Any thread. */
AW_API void aw_log_set_level(int level);

/* Returns the level in force. */
AW_API int aw_log_level(void);

/* Parses "debug", "info", "warning"/"warn", "error", "critical" or "off"; -1 if unknown. */
AW_API int aw_log_level_parse(const char *name);

/*
 * Writes one line to stderr: time, level, pid, then the message, in a
 * single write() so lines from several processes do not interleave. Lines
 * longer than 1 KiB are cut. Any thread.
 */
AW_API void aw_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
