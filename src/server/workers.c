/* SPDX-License-Identifier: MIT */
/*
 * The supervisor: starts N worker processes on one port, restarts those that
 * die, and stops them all gracefully on SIGTERM/SIGINT.
 *
 * DESIGN
 * The supervisor is a single thread with no event loop: poll() on a
 * signalfd (SIGCHLD, SIGTERM, SIGINT, SIGQUIT) and on a pipe through which
 * workers report that they listen, with a timeout for the next restart or
 * the SIGKILL deadline. It never starts threads, so fork() is safe.
 *
 * The port: the supervisor binds a socket with SO_REUSEPORT but never
 * listens on it. A bound socket that does not listen takes no connections,
 * yet it holds the port (so port 0 resolves to one port for every worker,
 * and a restarted worker finds it free); each worker then binds the same
 * numeric address and listens with SO_REUSEPORT, and the kernel spreads
 * connections over the listening sockets. "listening on" is printed once
 * every worker listens, so a client reading it can connect at once.
 *
 * Restarts: a worker that dies while the supervisor is not stopping is
 * logged (status or signal) and restarted, at once if it lived 10 s or
 * more, else after a back-off from 500 ms doubling to 30 s. A worker that
 * dies before it listens during the first start (it could not bind, say)
 * makes the supervisor stop them all and exit 1.
 *
 * Stopping: the first SIGTERM or SIGINT is forwarded to the workers as
 * SIGTERM (graceful); a second one, or SIGQUIT, as SIGQUIT (at once: a
 * second SIGTERM could merge with a first one still pending). Workers
 * still alive graceful_timeout + 5 s after the first signal get SIGKILL.
 * Workers set PR_SET_PDEATHSIG, so they also stop if the supervisor is
 * killed.
 */
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../http/http_internal.h"
#include "server_internal.h"

#define QUICK_DEATH_MS 10000u /* a worker dying sooner is restarted with back-off */
#define BACKOFF_MIN_MS 500u
#define BACKOFF_MAX_MS 30000u
#define KILL_EXTRA_MS 5000u /* past the grace period, before SIGKILL */

uint32_t aw__restart_delay_ms(uint64_t lived_ms, uint32_t prev_ms) {
    if (lived_ms >= QUICK_DEATH_MS)
        return 0;
    if (prev_ms == 0)
        return BACKOFF_MIN_MS;
    return prev_ms >= BACKOFF_MAX_MS / 2 ? BACKOFF_MAX_MS : prev_ms * 2;
}

struct slot {
    pid_t pid;  /* 0: not running */
    bool ready; /* it reported that it listens */
    bool restart_pending;
    uint64_t started_ns;
    uint64_t restart_at_ns;
    uint32_t delay_ms; /* the back-off used for its last restart */
};

struct supervisor {
    const aw_server_options_t *o;
    aw_http_handler handler;
    void *data;
    char host[NI_MAXHOST]; /* the numeric address the workers bind */
    int port;
    int sigfd, reserve_fd, ready_r, ready_w;
    pid_t self;
    struct slot *slots;
    int n;
    int ready;      /* workers that reported they listen, during the first start */
    bool announced; /* "listening on" printed: the first start is over */
    bool failed;    /* the first start failed: exit 1 */
    int signals;    /* stop signals received */
    bool stopping;
    uint64_t kill_at_ns;
    bool killed;
};

/*
 * Binds host:port with SO_REUSEADDR and SO_REUSEPORT, without listen().
 * Returns the fd and fills numeric host and port, or a negative AW_E* code.
 */
static int reserve_port(const char *host, int port, char *numeric, size_t numeric_cap,
                        int *bound_port) {
    int fd = aw__tcp_bind(host, port, -1, true, false);
    if (fd < 0)
        return fd;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char serv[16];
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
        getnameinfo((struct sockaddr *)&ss, len, numeric, (socklen_t)numeric_cap, serv,
                    sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        close(fd);
        return AW_EADDRNOTAVAIL;
    }
    *bound_port = atoi(serv);
    return fd;
}

static int live_workers(const struct supervisor *s) {
    int live = 0;
    for (int i = 0; i < s->n; i++)
        live += s->slots[i].pid > 0;
    return live;
}

static void signal_workers(struct supervisor *s, int sig) {
    for (int i = 0; i < s->n; i++)
        if (s->slots[i].pid > 0)
            kill(s->slots[i].pid, sig);
}

/* The child's side of a fork: become worker `i`; never returns. */
static void run_child(struct supervisor *s, int i) {
    /* If the supervisor dies, stop gracefully; it may have died before this line. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != s->self)
        _exit(0);
    close(s->sigfd);
    close(s->reserve_fd);
    close(s->ready_r);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_UNBLOCK, &chld, NULL);
    aw_log(AW_LOG_DEBUG, "worker %d starting", i + 1);
    int rc = aw__worker_run(s->o, s->host, s->port, true, s->ready_w, s->handler, s->data);
    /* exit(), not a return: the program's main must not go on in a worker as well. */
    exit(rc);
}

static void spawn(struct supervisor *s, int i) {
    struct slot *w = &s->slots[i];
    w->restart_pending = false;
    w->ready = false;
    /* Nothing buffered may be written twice, once by each process. */
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0)
        run_child(s, i);
    int err = errno;
    uint64_t now = aw_now_ns();
    if (pid < 0) {
        w->delay_ms = aw__restart_delay_ms(0, w->delay_ms);
        aw_log(AW_LOG_ERROR, "cannot start worker %d: %s; retrying in %u ms", i + 1, strerror(err),
               w->delay_ms);
        w->restart_pending = true;
        w->restart_at_ns = now + (uint64_t)w->delay_ms * 1000000u;
        return;
    }
    w->pid = pid;
    w->started_ns = now;
}

static void describe(int status, char *out, size_t cap) {
    if (WIFEXITED(status))
        snprintf(out, cap, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(out, cap, "was killed by signal %d (%s)%s", WTERMSIG(status),
                 strsignal(WTERMSIG(status)), WCOREDUMP(status) ? ", core dumped" : "");
    else
        snprintf(out, cap, "ended with wait status %#x", (unsigned)status);
}

/*
 * Starts stopping on signal `sig` (0: our own decision, graceful): forwards
 * it (see DESIGN) and arms the SIGKILL deadline.
 */
static void stop_workers(struct supervisor *s, int sig) {
    uint64_t now = aw_now_ns();
    bool at_once = sig == SIGQUIT || (sig && s->signals > 0);
    if (sig)
        s->signals++;
    if (!s->stopping) {
        s->stopping = true;
        s->kill_at_ns = now + ((uint64_t)s->o->graceful_timeout_ms + KILL_EXTRA_MS) * 1000000u;
        for (int i = 0; i < s->n; i++)
            s->slots[i].restart_pending = false;
    }
    if (at_once) {
        uint64_t soon = now + (uint64_t)KILL_EXTRA_MS * 1000000u;
        if (soon < s->kill_at_ns)
            s->kill_at_ns = soon;
    }
    if (sig) {
        aw_log(at_once ? AW_LOG_WARN : AW_LOG_INFO, "received %s%s: stopping %d workers %s",
               strsignal(sig), at_once && sig != SIGQUIT ? " again" : "", live_workers(s),
               at_once ? "now" : "gracefully");
    }
    signal_workers(s, at_once ? SIGQUIT : SIGTERM);
}

static void reap(struct supervisor *s) {
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            return;
        int i = 0;
        while (i < s->n && s->slots[i].pid != pid)
            i++;
        if (i == s->n)
            continue; /* a child the program made before aw_serve */
        struct slot *w = &s->slots[i];
        w->pid = 0;
        char how[96];
        describe(status, how, sizeof(how));
        bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (s->stopping) {
            aw_log(clean ? AW_LOG_INFO : AW_LOG_WARN, "worker %d (pid %d) %s", i + 1, (int)pid,
                   how);
            continue;
        }
        if (!s->announced) {
            aw_log(AW_LOG_ERROR, "worker %d (pid %d) %s before it was ready; stopping", i + 1,
                   (int)pid, how);
            s->failed = true;
            stop_workers(s, 0);
            continue;
        }
        uint64_t now = aw_now_ns();
        uint64_t lived_ms = (now - w->started_ns) / 1000000u;
        w->delay_ms = aw__restart_delay_ms(lived_ms, w->delay_ms);
        w->restart_pending = true;
        w->restart_at_ns = now + (uint64_t)w->delay_ms * 1000000u;
        if (w->delay_ms)
            aw_log(AW_LOG_ERROR, "worker %d (pid %d) %s after %llu ms; restarting it in %u ms",
                   i + 1, (int)pid, how, (unsigned long long)lived_ms, w->delay_ms);
        else
            aw_log(AW_LOG_ERROR, "worker %d (pid %d) %s; restarting it", i + 1, (int)pid, how);
    }
}

static void read_ready(struct supervisor *s) {
    pid_t pid;
    /* Each report is one pid, written at once: a pipe keeps it whole. */
    while (read(s->ready_r, &pid, sizeof(pid)) == (ssize_t)sizeof(pid)) {
        int i = 0;
        while (i < s->n && s->slots[i].pid != pid)
            i++;
        if (i == s->n || s->slots[i].ready)
            continue; /* it died meanwhile */
        s->slots[i].ready = true;
        aw_log(AW_LOG_DEBUG, "worker %d (pid %d) listens", i + 1, (int)pid);
        if (!s->announced && ++s->ready == s->n && !s->stopping) {
            s->announced = true;
            aw__print_listening(s->o->host, s->port);
            aw_log(AW_LOG_INFO, "all %d workers listen", s->n);
        }
    }
}

static void read_signals(struct supervisor *s) {
    struct signalfd_siginfo si;
    while (read(s->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGCHLD)
            reap(s);
        else
            stop_workers(s, (int)si.ssi_signo);
    }
    /* SIGCHLDs merge, and one may be pending behind a stop signal: reap anyway. */
    reap(s);
}

/* Milliseconds until the next thing to do (a restart, the SIGKILL deadline), or -1. */
static int next_timeout_ms(const struct supervisor *s, uint64_t now) {
    uint64_t due = UINT64_MAX;
    for (int i = 0; i < s->n; i++)
        if (s->slots[i].restart_pending && s->slots[i].restart_at_ns < due)
            due = s->slots[i].restart_at_ns;
    if (s->stopping && !s->killed && s->kill_at_ns < due)
        due = s->kill_at_ns;
    if (due == UINT64_MAX)
        return -1;
    if (due <= now)
        return 0;
    uint64_t ms = (due - now + 999999u) / 1000000u;
    return ms > 3600000u ? 3600000 : (int)ms;
}

static void run(struct supervisor *s) {
    for (int i = 0; i < s->n && !s->stopping; i++)
        spawn(s, i);
    while (!s->stopping || live_workers(s) > 0) {
        struct pollfd pfd[2] = {{.fd = s->sigfd, .events = POLLIN},
                                {.fd = s->ready_r, .events = POLLIN}};
        int rc = poll(pfd, 2, next_timeout_ms(s, aw_now_ns()));
        if (rc < 0 && errno != EINTR) {
            aw_log(AW_LOG_ERROR, "supervisor: poll: %s; stopping", strerror(errno));
            stop_workers(s, 0);
        }
        if (rc > 0 && pfd[1].revents)
            read_ready(s);
        if (rc > 0 && pfd[0].revents)
            read_signals(s);
        uint64_t now = aw_now_ns();
        for (int i = 0; i < s->n && !s->stopping; i++)
            if (s->slots[i].restart_pending && s->slots[i].restart_at_ns <= now)
                spawn(s, i);
        if (s->stopping && !s->killed && now >= s->kill_at_ns && live_workers(s) > 0) {
            aw_log(AW_LOG_ERROR, "%d worker(s) still running %u ms after the stop; killing them",
                   live_workers(s), s->o->graceful_timeout_ms + KILL_EXTRA_MS);
            signal_workers(s, SIGKILL);
            s->killed = true;
        }
    }
}

int aw__supervise(const aw_server_options_t *o, aw_http_handler handler, void *data) {
    aw_log_set_level(o->log_level);
    int rc = 1;
    struct supervisor s = {.o = o,
                           .handler = handler,
                           .data = data,
                           .n = o->workers,
                           .sigfd = -1,
                           .reserve_fd = -1,
                           .ready_r = -1,
                           .ready_w = -1,
                           .self = getpid()};
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGQUIT);
    sigprocmask(SIG_BLOCK, &set, &old);
    s.slots = calloc((size_t)s.n, sizeof(*s.slots));
    s.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    int fds[2];
    if (!s.slots || s.sigfd < 0 || pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) {
        aw_log(AW_LOG_ERROR, "cannot start: out of memory or file descriptors");
        goto out;
    }
    s.ready_r = fds[0];
    s.ready_w = fds[1];
    s.reserve_fd = reserve_port(o->host, o->port, s.host, sizeof(s.host), &s.port);
    if (s.reserve_fd < 0) {
        aw_log(AW_LOG_ERROR, "cannot listen on %s:%d: %s", o->host, o->port,
               aw_strerror(s.reserve_fd));
        goto out;
    }
    aw_log(AW_LOG_INFO, "supervisor (pid %d) starting %d workers on %s port %d", (int)s.self, s.n,
           s.host, s.port);
    run(&s);
    rc = s.failed ? 1 : 0;
    aw_log(AW_LOG_INFO, "supervisor stopped");
out:
    if (s.reserve_fd >= 0)
        close(s.reserve_fd);
    if (s.ready_r >= 0) {
        close(s.ready_r);
        close(s.ready_w);
    }
    if (s.sigfd >= 0)
        close(s.sigfd);
    free(s.slots);
    sigprocmask(SIG_SETMASK, &old, NULL);
    return rc;
}
