/* SPDX-License-Identifier: MIT */
/*
 * ceiling: the fastest HTTP/1.1 "server" this machine can run, for
 * `make bench-http` to measure the others against. One thread, level-
 * triggered epoll, one read per readiness event, and one write of canned
 * bytes (the same size as awaitress's /plaintext answer) per "\r\n\r\n"
 * seen: no parsing, no timers, no allocation per request. Pipelined requests
 * that arrive together are answered with one write.
 *
 *   ceiling [--port N]   (127.0.0.1; 0 picks a free port; prints "listening on ...")
 *
 * Not a server to use: it answers anything, bodies included, with 200.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 256
#define IN_BUF (64 * 1024)
#define OUT_COPIES 256 /* canned responses laid end to end: one write answers this many */

struct conn {
    uint32_t owed;  /* responses not yet written */
    uint32_t off;   /* bytes of the first owed response already written */
    uint8_t match;  /* how much of "\r\n\r\n" the previous read ended with */
    bool want_out;  /* EPOLLOUT is armed */
};

static char g_resp[256];
static size_t g_resp_len;
static char *g_out; /* OUT_COPIES responses */
static struct conn *g_conns;
static size_t g_nconns;
static int g_ep;
static volatile sig_atomic_t g_stop;

static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

static struct conn *conn_of(int fd) {
    if ((size_t)fd >= g_nconns) {
        size_t n = g_nconns ? g_nconns : 1024;
        while (n <= (size_t)fd)
            n *= 2;
        struct conn *c = realloc(g_conns, n * sizeof(*c));
        if (!c) {
            perror("ceiling: realloc");
            exit(1);
        }
        memset(c + g_nconns, 0, (n - g_nconns) * sizeof(*c));
        g_conns = c;
        g_nconns = n;
    }
    return &g_conns[fd];
}

static void conn_close(int fd) {
    memset(conn_of(fd), 0, sizeof(struct conn));
    close(fd); /* also leaves the epoll set */
}

/* Counts request ends ("\r\n\r\n") in buf, carrying a partial match across reads. */
static uint32_t count_ends(struct conn *c, const char *buf, size_t n) {
    static const char end[4] = {'\r', '\n', '\r', '\n'};
    uint32_t found = 0;
    uint8_t m = c->match;
    for (size_t i = 0; i < n; i++) {
        char ch = buf[i];
        if (ch == end[m]) {
            if (++m == 4) {
                found++;
                m = 0;
            }
        } else {
            m = ch == '\r' ? 1 : 0;
        }
    }
    c->match = m;
    return found;
}

/* Writes what the connection owes. Returns false if it must close. */
static bool flush(int fd, struct conn *c) {
    while (c->owed) {
        uint32_t batch = c->owed < OUT_COPIES ? c->owed : OUT_COPIES;
        size_t len = batch * g_resp_len - c->off;
        ssize_t w = write(fd, g_out + c->off, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                return false;
            if (!c->want_out) {
                struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.fd = fd};
                epoll_ctl(g_ep, EPOLL_CTL_MOD, fd, &ev);
                c->want_out = true;
            }
            return true;
        }
        size_t done = c->off + (size_t)w;
        c->owed -= (uint32_t)(done / g_resp_len);
        c->off = (uint32_t)(done % g_resp_len);
    }
    if (c->want_out) {
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        epoll_ctl(g_ep, EPOLL_CTL_MOD, fd, &ev);
        c->want_out = false;
    }
    return true;
}

static void on_readable(int fd, char *buf) {
    struct conn *c = conn_of(fd);
    ssize_t n = read(fd, buf, IN_BUF);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        conn_close(fd);
        return;
    }
    if (n > 0)
        c->owed += count_ends(c, buf, (size_t)n);
    /* While a write is stuck, answers wait for EPOLLOUT; level-triggered
     * epoll reports the rest of the input again anyway. */
    if (!c->want_out && !flush(fd, c))
        conn_close(fd);
}

static void accept_all(int lfd) {
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return; /* EAGAIN, or out of fds: try again on the next event */
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        memset(conn_of(fd), 0, sizeof(struct conn));
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        if (epoll_ctl(g_ep, EPOLL_CTL_ADD, fd, &ev) < 0)
            close(fd);
    }
}

int main(int argc, char **argv) {
    int port = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            port = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: %s [--port N]\n", argv[0]);
            return 2;
        }
    }

    /* The same bytes as awaitress's /plaintext answer, with the Date fixed at start. */
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    g_resp_len = (size_t)snprintf(g_resp, sizeof(g_resp),
                                  "HTTP/1.1 200 OK\r\nServer: ceiling\r\nDate: %s\r\n"
                                  "Content-Length: 13\r\nContent-Type: text/plain; charset=utf-8"
                                  "\r\n\r\nHello, World!",
                                  date);
    g_out = malloc(OUT_COPIES * g_resp_len);
    char *in = malloc(IN_BUF);
    if (!g_out || !in)
        return 1;
    for (int i = 0; i < OUT_COPIES; i++)
        memcpy(g_out + (size_t)i * g_resp_len, g_resp, g_resp_len);

    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t slen = sizeof(sin);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(lfd, 4096) < 0 ||
        getsockname(lfd, (struct sockaddr *)&sin, &slen) < 0) {
        perror("ceiling: listen");
        return 1;
    }
    g_ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.fd = lfd};
    if (g_ep < 0 || epoll_ctl(g_ep, EPOLL_CTL_ADD, lfd, &lev) < 0) {
        perror("ceiling: epoll");
        return 1;
    }
    printf("listening on http://127.0.0.1:%d\n", ntohs(sin.sin_port));
    fflush(stdout);

    struct epoll_event evs[MAX_EVENTS];
    while (!g_stop) {
        int n = epoll_wait(g_ep, evs, MAX_EVENTS, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd) {
                accept_all(lfd);
                continue;
            }
            uint32_t e = evs[i].events;
            struct conn *c = conn_of(fd);
            if (e & EPOLLOUT) {
                if (!flush(fd, c)) {
                    conn_close(fd);
                    continue;
                }
            }
            if (e & (EPOLLIN | EPOLLHUP | EPOLLERR))
                on_readable(fd, in);
        }
    }
    free(in);
    free(g_out);
    free(g_conns);
    return 0;
}
