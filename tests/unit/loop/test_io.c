/* SPDX-License-Identifier: MIT */
/* Tests for src/loop/io.c: awaitable read/write/accept/connect, deadlines, cancel, close. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../../src/loop/loop_internal.h"
#include "../test.h"

#define I2P(i) ((void *)(intptr_t)(i))
#define P2I(p) ((int)(intptr_t)(p))

static void nonblocking_pair(int sv[2]) {
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

struct pipe_io {
    int fd;
    size_t total;
    unsigned sum;
};

static void *writer(void *arg) {
    struct pipe_io *io = arg;
    char buf[4096];
    size_t sent = 0;
    while (sent < io->total) {
        size_t n = io->total - sent < sizeof(buf) ? io->total - sent : sizeof(buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)((sent + i) % 251);
        ASSERT_EQ(aw_write(io->fd, buf, n), (ssize_t)n);
        sent += n;
    }
    aw_close(io->fd);
    return NULL;
}

static void *reader(void *arg) {
    struct pipe_io *io = arg;
    char buf[1000];
    size_t got = 0;
    for (;;) {
        ssize_t n = aw_read(io->fd, buf, sizeof(buf));
        ASSERT_GE(n, 0);
        if (n == 0)
            break;
        for (ssize_t i = 0; i < n; i++)
            ASSERT_EQ((unsigned char)buf[i], (got + (size_t)i) % 251);
        got += (size_t)n;
        if (got % 7 == 0)
            aw_yield();
    }
    io->total = got;
    aw_close(io->fd);
    return NULL;
}

static void *stream_main(void *arg) {
    (void)arg;
    int sv[2];
    nonblocking_pair(sv);
    /* Much more than the socket buffers hold: both sides must wait. */
    struct pipe_io w = {sv[0], 8 << 20, 0}, r = {sv[1], 0, 0};
    aw_task_t *t[2] = {aw_async(writer, &w), aw_async(reader, &r)};
    ASSERT_EQ(aw_gather(t, 2, NULL), 0);
    ASSERT_EQ(r.total, (size_t)8 << 20);
    return NULL;
}

TEST(read_write_stream_with_backpressure) {
    ASSERT_EQ(aw_run(stream_main, NULL, NULL), 0);
}

static void *read_one(void *arg) {
    char c;
    return I2P((int)aw_read(P2I(arg), &c, 1));
}

static void *await_one_task(void *arg) {
    return aw_await(arg);
}

static void *cancel_read_main(void *arg) {
    (void)arg;
    int sv[2];
    nonblocking_pair(sv);
    aw_task_t *t = aw_async(read_one, I2P(sv[0]));
    aw_sleep_ms(5);
    aw_cancel(t);
    void *r;
    ASSERT_EQ(aw_await_status(t, &r), AW_ECANCELED);
    ASSERT_EQ(P2I(r), AW_ECANCELED);
    /* The fd is free again for another reader, and data still flows. */
    ASSERT_EQ(write(sv[1], "x", 1), 1);
    t = aw_async(read_one, I2P(sv[0]));
    ASSERT_EQ(P2I(aw_await(t)), 1);
    aw_close(sv[0]);
    aw_close(sv[1]);
    return NULL;
}

TEST(cancel_at_fd_wait) {
    ASSERT_EQ(aw_run(cancel_read_main, NULL, NULL), 0);
}

static void *deadline_read_main(void *arg) {
    (void)arg;
    int sv[2];
    nonblocking_pair(sv);
    char c;
    aw_deadline_t d;
    uint64_t start = aw_now_ns();
    aw_deadline_enter(&d, 20);
    ASSERT_EQ(aw_read(sv[0], &c, 1), AW_ETIMEDOUT);
    ASSERT_TRUE(aw_deadline_exit(&d));
    ASSERT_GE((aw_now_ns() - start) / 1000000, 19);
    aw_close(sv[0]);
    aw_close(sv[1]);
    return NULL;
}

TEST(deadline_on_read) {
    ASSERT_EQ(aw_run(deadline_read_main, NULL, NULL), 0);
}

static void *two_readers_main(void *arg) {
    (void)arg;
    int sv[2];
    nonblocking_pair(sv);
    aw_task_t *t = aw_async(read_one, I2P(sv[0]));
    aw_sleep_ms(1);
    ASSERT_EQ(aw_wait_fd(sv[0], AW_READABLE), AW_EBUSY);
    /* Closing wakes the waiter with EBADF. */
    aw_close(sv[0]);
    ASSERT_EQ(P2I(aw_await(t)), AW_EBADF);
    aw_close(sv[1]);
    return NULL;
}

TEST(second_reader_is_refused_and_close_wakes_waiter) {
    ASSERT_EQ(aw_run(two_readers_main, NULL, NULL), 0);
}

struct server {
    int lfd;
    int clients;
};

static void *echo_conn(void *arg) {
    int fd = P2I(arg);
    char buf[256];
    ssize_t n;
    while ((n = aw_read(fd, buf, sizeof(buf))) > 0)
        ASSERT_EQ(aw_write(fd, buf, (size_t)n), n);
    aw_close(fd);
    return NULL;
}

static void *acceptor(void *arg) {
    struct server *s = arg;
    aw_group_t g;
    aw_group_init(&g);
    for (int i = 0; i < s->clients; i++) {
        int fd = aw_accept(s->lfd, NULL, NULL);
        ASSERT_GE(fd, 0);
        ASSERT_TRUE(fcntl(fd, F_GETFL) & O_NONBLOCK);
        aw_group_spawn(&g, echo_conn, I2P(fd));
    }
    return I2P(aw_group_wait(&g));
}

static void *client(void *arg) {
    struct sockaddr_in *addr = arg;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ASSERT_EQ(aw_connect(fd, (struct sockaddr *)addr, sizeof(*addr)), 0);
    char msg[64], back[64];
    int len = snprintf(msg, sizeof(msg), "hello from task %llu",
                       (unsigned long long)aw_task_id(aw_task_current()));
    ASSERT_EQ(aw_write(fd, msg, (size_t)len), len);
    int got = 0;
    while (got < len) {
        ssize_t n = aw_read(fd, back + got, sizeof(back) - (size_t)got);
        ASSERT_GT(n, 0);
        got += (int)n;
    }
    ASSERT_EQ(memcmp(msg, back, (size_t)len), 0);
    aw_close(fd);
    return NULL;
}

static void *tcp_main(void *arg) {
    (void)arg;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(addr);
    ASSERT_EQ(bind(lfd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    ASSERT_EQ(listen(lfd, 128), 0);
    getsockname(lfd, (struct sockaddr *)&addr, &len);
    enum { N = 50 };
    struct server s = {lfd, N};
    aw_task_t *srv = aw_async(acceptor, &s);
    aw_task_t *cs[N];
    for (int i = 0; i < N; i++)
        cs[i] = aw_async(client, &addr);
    ASSERT_EQ(aw_gather(cs, N, NULL), 0);
    ASSERT_EQ(P2I(aw_await(srv)), 0);
    aw_close(lfd);
    return NULL;
}

TEST(accept_connect_echo_on_loopback) {
    ASSERT_EQ(aw_run(tcp_main, NULL, NULL), 0);
}

static void *refused_main(void *arg) {
    (void)arg;
    /* Bind a port, close it: connecting there is refused. */
    int tmp = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(addr);
    bind(tmp, (struct sockaddr *)&addr, sizeof(addr));
    getsockname(tmp, (struct sockaddr *)&addr, &len);
    close(tmp);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ASSERT_EQ(aw_connect(fd, (struct sockaddr *)&addr, sizeof(addr)), AW_ECONNREFUSED);
    aw_close(fd);
    return NULL;
}

TEST(connect_refused_is_reported) {
    ASSERT_EQ(aw_run(refused_main, NULL, NULL), 0);
}

static void *regular_file_main(void *arg) {
    (void)arg;
    char path[] = "/tmp/aw-io-XXXXXX";
    int fd = mkstemp(path);
    unlink(path);
    ASSERT_EQ(aw_write(fd, "abc", 3), 3);
    lseek(fd, 0, SEEK_SET);
    ASSERT_EQ(aw_wait_fd(fd, AW_READABLE), 0); /* files are always ready */
    char buf[4];
    ASSERT_EQ(aw_read(fd, buf, sizeof(buf)), 3);
    ASSERT_EQ(aw_read(-1, buf, 1), AW_EBADF);
    aw_close(fd);
    return NULL;
}

TEST(regular_files_and_bad_fds) {
    ASSERT_EQ(aw_run(regular_file_main, NULL, NULL), 0);
}

/* ---- regressions ---- */

static void *feed_later(void *arg) {
    aw_sleep_ms(2);
    ASSERT_EQ(write(P2I(arg), "a", 1), 1);
    return NULL;
}

static void *read_one_bounded(void *arg) {
    char c;
    aw_deadline_t d;
    aw_deadline_enter(&d, 2000);
    ssize_t n = aw_read(P2I(arg), &c, 1);
    aw_deadline_exit(&d);
    return I2P((int)n);
}

static int read_in_fresh_run(aw_loop_t *loop, int sv[2]) {
    aw_task_t *r = aw_loop_spawn(loop, read_one_bounded, I2P(sv[0]));
    aw_detach(aw_loop_spawn(loop, feed_later, I2P(sv[1])));
    aw_loop_run(loop);
    ASSERT_TRUE(aw_task_done(r));
    /* Reap it from a task: a finished, unawaited task keeps its stack. */
    int n = 0;
    aw_task_t *reaper = aw_loop_spawn(loop, await_one_task, r);
    aw_loop_run(loop);
    n = P2I(reaper->result);
    aw_detach(reaper);
    return n;
}

TEST(close_between_runs_forgets_the_fd) {
    aw_loop_t *loop = aw_loop_new();
    int sv[2];
    nonblocking_pair(sv);
    ASSERT_EQ(read_in_fresh_run(loop, sv), 1); /* sv[0] is now registered */
    int fd = sv[0];
    aw_close(sv[0]); /* outside aw_loop_run */
    aw_close(sv[1]);
    nonblocking_pair(sv);
    ASSERT_EQ(sv[0], fd); /* the number came back */
    /* Without the loop forgetting fd, this read would time out. */
    ASSERT_EQ(read_in_fresh_run(loop, sv), 1);
    aw_close(sv[0]);
    aw_close(sv[1]);
    ASSERT_EQ(aw_loop_free(loop), 0);
}

static void *wait_pending_main(void *arg) {
    (void)arg;
    int sv[2];
    nonblocking_pair(sv);
    ASSERT_EQ(write(sv[1], "ab", 2), 2);
    char c;
    ASSERT_EQ(aw_read(sv[0], &c, 1), 1);
    /* One byte is still pending: no new edge will come, yet it is readable. */
    aw_deadline_t d;
    aw_deadline_enter(&d, 1000);
    ASSERT_EQ(aw_wait_fd(sv[0], AW_READABLE), 0);
    ASSERT_FALSE(aw_deadline_exit(&d));
    aw_close(sv[0]);
    aw_close(sv[1]);
    return NULL;
}

TEST(wait_fd_returns_when_data_is_already_pending) {
    ASSERT_EQ(aw_run(wait_pending_main, NULL, NULL), 0);
}
