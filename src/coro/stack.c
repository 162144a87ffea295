/* SPDX-License-Identifier: MIT */
/*
 * Coroutine stacks: guard pages for every stack where the kernel allows it
 * cheaply, a per-thread cache for reuse, and the stack-overflow report.
 *
 * DESIGN
 * A guard page made with mprotect() needs its own kernel mapping (VMA) beside
 * the stack's, so such a stack costs two of the vm.max_map_count mappings a
 * process may hold (65,530 by default): about 32,000 guarded coroutines at
 * most. Two schemes get past that:
 *
 * - Linux 6.13 and later install guard pages in the page tables
 *   (madvise MADV_GUARD_INSTALL) without splitting the mapping. Stacks are
 *   then carved from slabs of 64 (one mapping each), every one with a real
 *   guard page: 100,000 coroutines cost ~1,600 mappings. This is the default
 *   whenever the kernel supports it.
 * - Older kernels fall back to separate mappings with an mprotect()ed guard
 *   for the first `guard_budget` stacks (a quarter of vm.max_map_count: half
 *   the mappings, leaving the rest to malloc, libraries and sanitizers), then
 *   to unguarded slab stacks. An overflow there runs into the stack below
 *   without faulting, so each has a canary word just under its low end,
 *   checked when its coroutine switches out and when the stack is released:
 *   a report after the fact, not a fault at the first bad write. The canary
 *   sits in the top 16 bytes of the stack below, which that stack never uses
 *   (a spare page under the slab holds the lowest one's): a canary at the
 *   stack's own low end would cost every coroutine a second page of memory.
 *
 * A frame larger than a page can jump over any guard page; that is the one
 * case neither scheme catches. Stacks never move between threads: the cache
 * and the slab lists are thread-local and need no locks. Only the counters
 * are shared.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "coro_internal.h"

#if defined(AW__ASAN)
#include <sanitizer/asan_interface.h>
#endif

#define SLAB_STACKS 64
#define CANARY_BASE 0x5AFE57ACC0DEC0DEull
#define SLAB_RESERVE 16 /* top bytes of a slab stack: the canary of the stack above */
#define ALTSTACK_SIZE (64 * 1024)
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* Linux 6.13; older headers lack it */
#endif
#define PIDFD_SELF_PROCESS (-10001) /* Linux 6.14: "this process" without an fd */

struct aw__slab {
    char *map;
    size_t stack_size;
    uint64_t free_mask; /* bit i set: stack i is free */
    bool guarded;       /* every stack has a page-table guard */
    bool kept;          /* empty, and counted in tl_empty_slabs */
    unsigned nfree;
    struct aw__slab *next, *prev; /* in the thread's list of slabs with free stacks */
    int listed;
    /* Every slab of the thread, full ones too: a full slab is otherwise only
     * known to its stacks, which leak checkers do not scan. */
    struct aw__slab *all_next, *all_prev;
};

/* A free stack in the cache keeps this record at its top. */
struct cached {
    struct cached *next;
    struct aw__stack s;
    size_t size;
};

static size_t g_stack_size = 64 * 1024;
static size_t g_guard_budget; /* 0: not yet derived from vm.max_map_count */
static size_t g_cache_max = 512;
static size_t g_page;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static bool g_madvise_guards; /* decided once, in process_init */
static bool g_pidfd_self;     /* process_madvise() takes PIDFD_SELF_PROCESS */
static atomic_size_t g_guarded_live; /* stacks with a mapping of their own */
static atomic_size_t g_slab_live;

static _Thread_local struct cached *tl_cache;
static _Thread_local size_t tl_cache_len;
static _Thread_local struct aw__slab *tl_slabs;
static _Thread_local struct aw__slab *tl_all_slabs;
/* Empty slabs kept rather than unmapped: a server whose task count swings
 * around a multiple of 64 would otherwise map and unmap a slab, and fault
 * its pages in again, over and over. */
#define EMPTY_SLABS_KEPT 2
static _Thread_local unsigned tl_empty_slabs;
static _Thread_local int tl_ready;
static _Thread_local void *tl_altstack;

static pthread_key_t g_thread_key;
static struct sigaction g_old_segv, g_old_bus;

static void process_init(void);

/* Settings derived from the system are computed once, before any thread uses them. */
static void ensure_init(void) {
    pthread_once(&g_once, process_init);
}

static size_t page_size(void) {
    return g_page;
}

static size_t default_guard_budget(void) {
    size_t max_maps = 65530;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
    if (f) {
        unsigned long v;
        if (fscanf(f, "%lu", &v) == 1 && v > 0)
            max_maps = v;
        fclose(f);
    }
    return max_maps / 4;
}

int aw_coro_configure(const aw_coro_config_t *config) {
    ensure_init();
    size_t ps = page_size();
    if (config->stack_size) {
        if (config->stack_size < 16 * 1024)
            return AW_EINVAL;
        g_stack_size = (config->stack_size + ps - 1) / ps * ps;
    }
    if (config->guard_budget)
        g_guard_budget = config->guard_budget;
    if (config->cache_max)
        g_cache_max = config->cache_max;
    return 0;
}

void aw_coro_get_config(aw_coro_config_t *config) {
    ensure_init();
    config->stack_size = g_stack_size;
    config->guard_budget = g_guard_budget;
    config->cache_max = g_cache_max;
}

void aw__stack_counts(size_t *mapped, size_t *slab) {
    *mapped = atomic_load(&g_guarded_live);
    *slab = atomic_load(&g_slab_live);
}

bool aw__stack_madvise_guards(void) {
    ensure_init();
    return g_madvise_guards;
}

/* Can this kernel put guard pages in the page tables? Tried on a scratch mapping. */
static bool probe_madvise_guards(void) {
    const char *env = getenv("AW_STACK_GUARDS");
    if (env && strcmp(env, "mprotect") == 0)
        return false; /* forced fallback, for tests and old-kernel comparisons */
    size_t ps = (size_t)sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, 2 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return false;
    bool ok = madvise(m, ps, MADV_GUARD_INSTALL) == 0;
    if (ok) {
        /* Trust the guard only if touching it fails: an emulator (qemu-user)
         * may accept the advice and do nothing. A write() from the guard
         * page makes the kernel touch it for us, without a signal. */
        int fds[2];
        ok = false;
        if (pipe2(fds, O_CLOEXEC) == 0) {
            ok = write(fds[1], m, 1) < 0 && errno == EFAULT;
            close(fds[0]);
            close(fds[1]);
        }
    }
#if defined(SYS_process_madvise)
    struct iovec iov = {m + ps, ps};
    g_pidfd_self = ok && syscall(SYS_process_madvise, PIDFD_SELF_PROCESS, &iov, (size_t)1,
                                 MADV_GUARD_INSTALL, 0u) == (long)ps;
#endif
    munmap(m, 2 * ps);
    return ok;
}

static uint64_t canary_for(const struct aw__stack *s) {
    return CANARY_BASE ^ (uint64_t)(uintptr_t)s->lo;
}

/* Only unguarded stacks carry a canary; below a guarded one is its guard page. */
void aw__stack_arm_canary(const struct aw__stack *s) {
    if (!s->guarded)
        ((uint64_t *)(void *)s->lo)[-1] = canary_for(s);
}

int aw__stack_canary_ok(const struct aw__stack *s) {
    return s->guarded || ((const uint64_t *)(const void *)s->lo)[-1] == canary_for(s);
}

/* A spare page below the stacks holds the lowest stack's canary. */
static size_t slab_bytes(const struct aw__slab *sl) {
    return page_size() + sl->stack_size * SLAB_STACKS;
}

static void slab_link(struct aw__slab *sl) {
    sl->prev = NULL;
    sl->next = tl_slabs;
    if (tl_slabs)
        tl_slabs->prev = sl;
    tl_slabs = sl;
    sl->listed = 1;
}

static void slab_unlink(struct aw__slab *sl) {
    if (sl->prev)
        sl->prev->next = sl->next;
    else
        tl_slabs = sl->next;
    if (sl->next)
        sl->next->prev = sl->prev;
    sl->listed = 0;
}

/*
 * Puts a page-table guard at the bottom of each stack region of the slab:
 * one process_madvise() call for all 64 where the kernel takes it (half
 * the cost of 64 madvise() calls), else one madvise() per stack.
 */
static int install_guards(struct aw__slab *sl) {
    struct iovec iov[SLAB_STACKS];
    for (unsigned i = 0; i < SLAB_STACKS; i++) {
        iov[i].iov_base = sl->map + page_size() + (size_t)i * sl->stack_size;
        iov[i].iov_len = page_size();
    }
#if defined(SYS_pidfd_open) && defined(SYS_process_madvise)
    /* Without PIDFD_SELF, a pidfd per slab rather than a cached one: a cached
     * fd would show up in the program's fd counts and go stale across fork(). */
    int pidfd = g_pidfd_self ? PIDFD_SELF_PROCESS : (int)syscall(SYS_pidfd_open, getpid(), 0);
    if (pidfd != -1) {
        long done = syscall(SYS_process_madvise, pidfd, iov, (size_t)SLAB_STACKS,
                            MADV_GUARD_INSTALL, 0u);
        if (!g_pidfd_self)
            close(pidfd);
        if (done == (long)(SLAB_STACKS * page_size()))
            return 0;
    }
#endif
    for (unsigned i = 0; i < SLAB_STACKS; i++)
        if (madvise(iov[i].iov_base, page_size(), MADV_GUARD_INSTALL) != 0)
            return -errno;
    return 0;
}

static int slab_take(struct aw__stack *s) {
    struct aw__slab *sl = tl_slabs;
    if (!sl) {
        sl = calloc(1, sizeof(*sl));
        if (!sl)
            return AW_ENOMEM;
        sl->stack_size = g_stack_size;
        sl->map = mmap(NULL, slab_bytes(sl), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
        if (sl->map == MAP_FAILED) {
            free(sl);
            return AW_ENOMEM;
        }
        sl->free_mask = ~0ull;
        sl->nfree = SLAB_STACKS;
        sl->all_next = tl_all_slabs;
        if (tl_all_slabs)
            tl_all_slabs->all_prev = sl;
        tl_all_slabs = sl;
        sl->guarded = g_madvise_guards && install_guards(sl) == 0;
        slab_link(sl);
    }
    unsigned i = (unsigned)__builtin_ctzll(sl->free_mask);
    if (sl->kept) { /* an empty slab in use again */
        tl_empty_slabs--;
        sl->kept = 0;
    }
    sl->free_mask &= ~(1ull << i);
    if (--sl->nfree == 0)
        slab_unlink(sl);
    char *region = sl->map + page_size() + (size_t)i * sl->stack_size;
    s->slab = sl;
    s->guarded = sl->guarded;
    if (sl->guarded) {
        s->lo = region + page_size();
        s->hi = region + sl->stack_size;
    } else {
        s->lo = region;
        s->hi = region + sl->stack_size - SLAB_RESERVE;
    }
    atomic_fetch_add_explicit(&g_slab_live, 1, memory_order_relaxed);
    aw__stack_arm_canary(s);
    return 0;
}

static void slab_give(struct aw__stack *s) {
    struct aw__slab *sl = s->slab;
    unsigned i = (unsigned)((size_t)(s->lo - sl->map - page_size()) / sl->stack_size);
    /* (For guarded slabs lo is one page into region i, which divides the same.) */
    sl->free_mask |= 1ull << i;
    sl->nfree++;
    atomic_fetch_sub_explicit(&g_slab_live, 1, memory_order_relaxed);
    if (sl->nfree == SLAB_STACKS && tl_empty_slabs < EMPTY_SLABS_KEPT &&
        sl->stack_size == g_stack_size) {
        tl_empty_slabs++;
        sl->kept = 1;
        if (!sl->listed)
            slab_link(sl);
        return;
    }
    if (sl->nfree == SLAB_STACKS) {
        if (sl->listed)
            slab_unlink(sl);
        if (sl->all_prev)
            sl->all_prev->all_next = sl->all_next;
        else
            tl_all_slabs = sl->all_next;
        if (sl->all_next)
            sl->all_next->all_prev = sl->all_prev;
        munmap(sl->map, slab_bytes(sl));
        free(sl);
    } else if (!sl->listed) {
        slab_link(sl);
    }
}

static size_t stack_size_of(const struct aw__stack *s) {
    return s->slab ? s->slab->stack_size : (size_t)(s->hi - s->lo) + page_size();
}

static void release(struct aw__stack *s) {
    if (s->slab) {
        slab_give(s);
    } else {
        munmap(s->lo - page_size(), stack_size_of(s));
        atomic_fetch_sub_explicit(&g_guarded_live, 1, memory_order_relaxed);
    }
}

int aw__stack_get(struct aw__stack *s) {
    while (tl_cache) {
        struct cached *c = tl_cache;
        tl_cache = c->next;
        tl_cache_len--;
        *s = c->s;
        if (c->size == g_stack_size)
            return 0; /* its canary, if it has one, was checked when it was put */
        release(s); /* the configured size changed since it was cached */
    }
    if (g_madvise_guards)
        return slab_take(s);
    size_t ps = page_size();
    size_t n = atomic_fetch_add_explicit(&g_guarded_live, 1, memory_order_relaxed);
    if (n < g_guard_budget) {
        char *map = mmap(NULL, g_stack_size, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
        if (map != MAP_FAILED && mprotect(map, ps, PROT_NONE) == 0) {
            s->lo = map + ps;
            s->hi = map + g_stack_size;
            s->slab = NULL;
            s->guarded = 1;
            return 0;
        }
        if (map != MAP_FAILED)
            munmap(map, g_stack_size);
        /* The kernel refused a guarded stack (most likely the mapping
         * limit, which other code may be using too): fall back to a slab. */
    }
    atomic_fetch_sub_explicit(&g_guarded_live, 1, memory_order_relaxed);
    return slab_take(s);
}

void aw__stack_put(struct aw__stack *s) {
    if (!aw__stack_canary_ok(s))
        return; /* the caller reports; never recycle a smashed stack */
#if defined(AW__ASAN)
    /* Frames that never returned leave poisoned redzones behind. */
    ASAN_UNPOISON_MEMORY_REGION(s->lo, (size_t)(s->hi - s->lo));
#endif
    if (tl_cache_len < g_cache_max) {
        struct cached *c = (struct cached *)(void *)(s->hi - sizeof(struct cached));
        c->s = *s;
        c->size = stack_size_of(s);
        c->next = tl_cache;
        tl_cache = c;
        tl_cache_len++;
        return;
    }
    release(s);
}

static void thread_exit(void *unused) {
    (void)unused;
    while (tl_cache) {
        struct cached *c = tl_cache;
        tl_cache = c->next;
        struct aw__stack s = c->s;
        release(&s);
    }
    tl_cache_len = 0;
    if (tl_altstack) {
        stack_t ss = {.ss_flags = SS_DISABLE};
        sigaltstack(&ss, NULL);
        free(tl_altstack);
        tl_altstack = NULL;
    }
}

/* Formats `v` in decimal into the end of buf; returns the first digit. */
static char *fmt_u64(char *end, uint64_t v) {
    *--end = '\0';
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return end;
}

/* Async-signal-safe: called from the fault handler. */
_Noreturn void aw__coro_overflow(const aw_coro_t *c, const char *how) {
    char num[24];
    const char *parts[] = {"awaitress: coroutine stack overflow in coroutine #",
                           fmt_u64(num + sizeof(num), c->id),
                           c->name ? " (" : "",
                           c->name ? c->name : "",
                           c->name ? ")" : "",
                           ": ",
                           how,
                           "\n"};
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        ssize_t rc = write(STDERR_FILENO, parts[i], strlen(parts[i]));
        (void)rc;
    }
    abort();
}

static void chain(int sig, siginfo_t *si, void *uctx, const struct sigaction *old) {
    if (old->sa_flags & SA_SIGINFO) {
        if (old->sa_sigaction) {
            old->sa_sigaction(sig, si, uctx);
            return;
        }
    } else if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
        old->sa_handler(sig);
        return;
    }
    /* Default action: restore it and return, so the faulting access repeats
     * and the kernel delivers the signal to the default disposition. */
    sigaction(sig, old, NULL);
}

static void on_fault(int sig, siginfo_t *si, void *uctx) {
    aw_coro_t *c = aw_coro_current();
    if (c && c->stack.guarded) {
        char *addr = si->si_addr;
        char *guard = c->stack.lo - page_size();
        if (addr >= guard && addr < c->stack.lo)
            aw__coro_overflow(c, "hit the guard page");
    }
    chain(sig, si, uctx, sig == SIGBUS ? &g_old_bus : &g_old_segv);
}

static void process_init(void) {
    g_page = (size_t)sysconf(_SC_PAGESIZE);
    if (!g_guard_budget)
        g_guard_budget = default_guard_budget();
    g_madvise_guards = probe_madvise_guards();
    pthread_key_create(&g_thread_key, thread_exit);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &g_old_segv);
    sigaction(SIGBUS, &sa, &g_old_bus);
}

void aw__stack_thread_init(void) {
    if (tl_ready)
        return;
    tl_ready = 1;
    ensure_init();
    /* Setting a value makes the key's destructor run when this thread exits. */
    pthread_setspecific(g_thread_key, &tl_ready);
    stack_t old;
    if (sigaltstack(NULL, &old) == 0 && !(old.ss_flags & SS_DISABLE) && old.ss_size >= ALTSTACK_SIZE)
        return; /* someone (a sanitizer, the program) already gave this thread one */
    void *mem = malloc(ALTSTACK_SIZE);
    if (!mem)
        return; /* overflow reports then degrade to a plain SIGSEGV */
    stack_t ss = {.ss_sp = mem, .ss_size = ALTSTACK_SIZE, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) == 0)
        tl_altstack = mem;
    else
        free(mem);
}
