/* SPDX-License-Identifier: MIT */
/*
 * Awaitable fd I/O: try the system call first; on EAGAIN, wait for the fd's
 * edge and try again.
 *
 * DESIGN
 * An fd is added to epoll once, edge-triggered, for input and output, the
 * first time a task waits on it (fd_arm is the only caller of epoll_ctl for
 * fds). An edge that comes while nobody waits is dropped on purpose: every
 * wait follows a system call that returned EAGAIN, so data that arrived
 * before the wait is found by the call, and data that arrives after it makes
 * a new edge. A table indexed by fd number holds the one reader and one
 * writer each fd may have.
 */
#include <assert.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "loop_internal.h"

static struct aw__fdrec *fdrec(aw_loop_t *loop, int fd) {
    if ((size_t)fd >= loop->nfds) {
        size_t n = loop->nfds ? loop->nfds : 64;
        while (n <= (size_t)fd)
            n *= 2;
        struct aw__fdrec *fds = realloc(loop->fds, n * sizeof(*fds));
        if (!fds)
            return NULL;
        memset(fds + loop->nfds, 0, (n - loop->nfds) * sizeof(*fds));
        loop->fds = fds;
        loop->nfds = n;
    }
    return &loop->fds[fd];
}

void aw__fds_free(aw_loop_t *loop) {
    free(loop->fds);
    loop->fds = NULL;
    loop->nfds = 0;
}

static int fd_arm(aw_loop_t *loop, int fd, struct aw__fdrec *rec) {
    if (rec->registered)
        return 0;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                             .data.u64 = (uint64_t)fd};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        /* EEXIST: the same file is still registered through this number (it
         * was closed with close() instead of aw_close() and the number came
         * back via dup); take over the registration. */
        if (errno != EEXIST || epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
            return -errno;
    }
    rec->registered = 1;
    return 0;
}

void aw__fd_event(aw_loop_t *loop, int fd, uint32_t events) {
    if ((size_t)fd >= loop->nfds)
        return;
    struct aw__fdrec *rec = &loop->fds[fd];
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        /* Remember an edge nobody takes now: no task waits (or the one that
         * did was already woken for another reason), and no watch is armed. */
        rec->pending_in = !rec->watch_cb &&
                          !(rec->reader && rec->reader->state == AW__TASK_WAITING);
        if (rec->reader) {
            aw__wake(rec->reader, 0);
        } else if (rec->watch_cb) {
            void (*cb)(void *) = rec->watch_cb;
            rec->watch_cb = NULL; /* one shot: the callback re-arms if it wants */
            cb(rec->watch_data);
            rec = &loop->fds[fd]; /* the callback may have grown the table */
        }
    }
    if (rec->writer && (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)))
        aw__wake(rec->writer, 0);
}

/* Waits for the next edge on `fd`: only right after a call returned EAGAIN. */
int aw__wait_edge(int fd, int events) {
    aw_task_t *t = aw_task_current();
    assert(t && "aw_wait_fd() outside a task");
    assert(events & (AW_READABLE | AW_WRITABLE));
    if (fd < 0)
        return AW_EBADF;
    aw_loop_t *loop = t->loop;
    struct aw__fdrec *rec = fdrec(loop, fd);
    if (!rec)
        return AW_ENOMEM;
    if (((events & AW_READABLE) && rec->reader) || ((events & AW_WRITABLE) && rec->writer))
        return AW_EBUSY;
    int rc = fd_arm(loop, fd, rec);
    if (rc == AW_EPERM)
        return 0; /* regular files cannot be polled: they are always ready */
    if (rc < 0)
        return rc;
    if (events & AW_READABLE)
        rec->reader = t;
    if (events & AW_WRITABLE)
        rec->writer = t;
    rc = aw__suspend(0, 0);
    /* The table may have moved while we slept: look the slot up again. */
    rec = &loop->fds[fd];
    if (rec->reader == t)
        rec->reader = NULL;
    if (rec->writer == t)
        rec->writer = NULL;
    return rc;
}

bool aw__fd_take_pending(aw_loop_t *loop, int fd) {
    if ((size_t)fd >= loop->nfds)
        return false;
    bool pending = loop->fds[fd].pending_in;
    loop->fds[fd].pending_in = 0;
    return pending;
}

void aw__fd_mark_pending(aw_loop_t *loop, int fd) {
    if ((size_t)fd < loop->nfds)
        loop->fds[fd].pending_in = 1;
}

int aw__fd_watch(aw_loop_t *loop, int fd, void (*cb)(void *data), void *data) {
    struct aw__fdrec *rec = fdrec(loop, fd);
    if (!rec)
        return AW_ENOMEM;
    int rc = fd_arm(loop, fd, rec);
    if (rc < 0)
        return rc;
    rec->watch_cb = cb;
    rec->watch_data = data;
    return 0;
}

int aw_wait_fd(int fd, int events) {
    /* Callers may wait with data already pending, which makes no new edge:
     * look first. The I/O calls below skip this, as they just saw EAGAIN. */
    struct pollfd p = {.fd = fd, .events = (short)(((events & AW_READABLE) ? POLLIN : 0) |
                                                   ((events & AW_WRITABLE) ? POLLOUT : 0))};
    if (fd >= 0 && poll(&p, 1, 0) == 1 && !(p.revents & POLLNVAL))
        return aw__check_interrupt();
    return aw__wait_edge(fd, events);
}

ssize_t aw_read(int fd, void *buf, size_t len) {
    for (;;) {
        ssize_t n = read(fd, buf, len);
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN)
            return -errno;
        int rc = aw__wait_edge(fd, AW_READABLE);
        if (rc < 0)
            return rc;
    }
}

ssize_t aw_write(int fd, const void *buf, size_t len) {
    const char *p = buf;
    size_t left = len;
    while (left) {
        ssize_t n = write(fd, p, left);
        if (n >= 0) {
            p += n;
            left -= (size_t)n;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN)
            return -errno;
        int rc = aw__wait_edge(fd, AW_WRITABLE);
        if (rc < 0)
            return rc;
    }
    return (ssize_t)len;
}

int aw_accept(int listen_fd, struct sockaddr *addr, socklen_t *addrlen) {
    for (;;) {
        int fd = accept4(listen_fd, addr, addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0)
            return fd;
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno != EAGAIN)
            return -errno;
        int rc = aw__wait_edge(listen_fd, AW_READABLE);
        if (rc < 0)
            return rc;
    }
}

int aw_connect(int fd, const struct sockaddr *addr, socklen_t addrlen) {
    if (connect(fd, addr, addrlen) == 0)
        return 0;
    if (errno != EINPROGRESS && errno != EINTR)
        return -errno;
    int rc = aw__wait_edge(fd, AW_WRITABLE);
    if (rc < 0)
        return rc;
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return -errno;
    return -err;
}

int aw_close(int fd) {
    aw_loop_t *loop = aw__loop_home();
    if (loop && fd >= 0 && (size_t)fd < loop->nfds) {
        struct aw__fdrec *rec = &loop->fds[fd];
        if (rec->registered)
            epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL); /* a dup may keep it alive */
        if (rec->reader)
            aw__wake(rec->reader, AW_EBADF);
        if (rec->writer)
            aw__wake(rec->writer, AW_EBADF);
        memset(rec, 0, sizeof(*rec));
    }
    return close(fd) < 0 ? -errno : 0;
}
