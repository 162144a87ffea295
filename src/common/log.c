/* SPDX-License-Identifier: MIT */
/* A small line logger: one write() per line, level filtered. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "awaitress/error.h"

static atomic_int g_level = AW_LOG_INFO;

void aw_log_set_level(int level) {
    atomic_store(&g_level, level);
}

int aw_log_level(void) {
    return atomic_load(&g_level);
}

int aw_log_level_parse(const char *name) {
    static const struct {
        const char *name;
        int level;
    } names[] = {{"debug", AW_LOG_DEBUG}, {"trace", AW_LOG_DEBUG},   {"info", AW_LOG_INFO},
                 {"warning", AW_LOG_WARN}, {"warn", AW_LOG_WARN},    {"error", AW_LOG_ERROR},
                 {"critical", AW_LOG_ERROR}, {"off", AW_LOG_OFF}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(name, names[i].name) == 0)
            return names[i].level;
    return -1;
}

void aw_log(int level, const char *fmt, ...) {
    static const char *const tags[] = {"DEBUG", "INFO", "WARNING", "ERROR"};
    if (level < atomic_load(&g_level) || level >= AW_LOG_OFF)
        return;
    char line[1024];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-7s [%d] ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, tags[level], (int)getpid());
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    ssize_t rc = write(STDERR_FILENO, line, len);
    (void)rc;
}
