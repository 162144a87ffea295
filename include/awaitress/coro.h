/* SPDX-License-Identifier: MIT */
/* Stackful coroutines: the bottom layer under tasks, the loop and every handler. */
#ifndef AWAITRESS_CORO_H
#define AWAITRESS_CORO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "awaitress/error.h"

/*
 * A coroutine is a function with its own stack that can pause (aw_coro_yield)
 * and be continued (aw_coro_resume) where it paused. Most programs never use
 * this layer directly: aw_async() in loop.h wraps a coroutine in a task that
 * the event loop schedules. Use it for generators, or to build another
 * scheduler.
 *
 * Stacks are mmap'd, 64 KiB of address space by default, and cost memory only
 * for the pages a coroutine touches. Each has a guard page under it; a stack
 * overflow then faults and is reported as "coroutine stack overflow" with
 * the coroutine's id and name before the process aborts. On Linux 6.13 and
 * later the guard pages live in the page tables (MADV_GUARD_INSTALL), so
 * stacks come 64 to a kernel mapping and a million coroutines fit under the
 * default vm.max_map_count (65,530). On older kernels a guard page costs a
 * mapping of its own, so past a budget (a quarter of vm.max_map_count)
 * stacks come from unguarded slabs, protected by a canary word under the
 * stack that is checked every time the coroutine switches out and when it
 * is freed: a report after the fact instead of a fault. See docs/design.md.
 *
 * A coroutine belongs to the thread that created it: resume, yield and free
 * it on that thread only.
 */

typedef struct aw_coro aw_coro_t;

/* A coroutine body. Its return value becomes the coroutine's result. */
typedef void *(*aw_coro_fn)(void *arg);

/* Process-wide stack settings. Zero fields keep their current value. */
typedef struct aw_coro_config {
    size_t stack_size;   /* address space per stack, guard page included [64 KiB] */
    size_t guard_budget; /* stacks that may have a guard page [vm.max_map_count / 4] */
    size_t cache_max;    /* free stacks kept per thread for reuse [512] */
} aw_coro_config_t;

/*
 * Changes the stack settings for coroutines created from now on. stack_size is
 * rounded up to whole pages and must be at least 16 KiB. Returns 0, or
 * AW_EINVAL for a stack size too small. Call it before any thread creates
 * coroutines; it is not synchronized with them.
 */
AW_API int aw_coro_configure(const aw_coro_config_t *config);

/* Copies the settings in force into *config. */
AW_API void aw_coro_get_config(aw_coro_config_t *config);

/*
 * Creates a suspended coroutine that will run fn(arg) when first resumed.
 * Returns a new coroutine (free it with aw_coro_free), or NULL when no stack
 * could be had (out of memory or of address space). `arg` is borrowed.
 */
AW_API aw_coro_t *aw_coro_new(aw_coro_fn fn, void *arg);

/*
 * Runs `c` until it yields or returns, then returns to the caller. Resuming a
 * finished or running coroutine is a programming error (assert). May be
 * called from inside another coroutine, which then waits as a caller would.
 */
AW_API void aw_coro_resume(aw_coro_t *c);

/*
 * Pauses the running coroutine and returns to whoever resumed it. Must be
 * called from inside a coroutine (assert).
 */
AW_API void aw_coro_yield(void);

/* Returns the coroutine running on this thread, or NULL on a thread's own stack. */
AW_API aw_coro_t *aw_coro_current(void);

/* Returns true once the coroutine's function has returned. */
AW_API bool aw_coro_done(const aw_coro_t *c);

/* Returns what the function returned; NULL while it has not finished. */
AW_API void *aw_coro_result(const aw_coro_t *c);

/* Returns the coroutine's id: unique in the process, never 0. */
AW_API uint64_t aw_coro_id(const aw_coro_t *c);

/*
 * Names the coroutine for overflow reports and logs. `name` is borrowed and
 * must outlive the coroutine (a string literal is typical). NULL clears it.
 */
AW_API void aw_coro_set_name(aw_coro_t *c, const char *name);

/* Returns the name given by aw_coro_set_name(), or NULL. */
AW_API const char *aw_coro_name(const aw_coro_t *c);

/*
 * Frees a coroutine that has finished or was never resumed; its stack goes
 * back to the thread's cache. Freeing one that is paused inside its function
 * is allowed but skips whatever that function would still have done. NULL is
 * a no-op.
 */
AW_API void aw_coro_free(aw_coro_t *c);

/* Returns the name of the context-switch backend compiled in: "x86_64", "aarch64" or "ucontext". */
AW_API const char *aw_coro_backend(void);

#endif
