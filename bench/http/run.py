# SPDX-License-Identifier: MIT
"""make bench-http: awaitress's echo example against the ceiling, nginx, h2o and
FastAPI (uvicorn + uvloop + httptools) on this machine.

Every server runs pinned to CPU 0 with one worker; wrk and this script's own
clients run on CPU 1. Timed cases run in interleaved rounds (A B C A B C) and
report medians. Then the deterministic figures: user-space instructions per
request under callgrind and system calls per request under strace, each from
two runs with different request counts (the difference over the difference,
so start-up and shut-down cancel out). All traffic goes to 127.0.0.1; every
run is bounded; every server started here is stopped by PID, even on errors.

    /usr/bin/python3 bench/http/run.py [--build DIR] [--rounds N] [--duration S]
                                       [--only SECTIONS]
"""
import argparse
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import loadgen  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SERVER_CPU = 0
CLIENT_CPU = 1 if (os.cpu_count() or 1) > 1 else 0
NOFILE = 65536
CLK_TCK = os.sysconf("SC_CLK_TCK")
CONNS = 256
DEPTH = 16
WAIT_CONNS = 10000
IDLE_CONNS = 10000

SECTIONS = ("timed", "wait10k", "idle10k", "callgrind", "strace", "perf")


def log(msg):
    print("# " + msg, flush=True)


# ---- processes -----------------------------------------------------------------------------------

def _raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = NOFILE
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _pinned(cpu):
    def pre():
        os.sched_setaffinity(0, {cpu})
        _raise_nofile()
    return pre


def children(pid):
    """Direct children of pid (all its threads')."""
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def tree(pid):
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        if os.path.exists(f"/proc/{p}"):
            pids.append(p)
            todo += children(p)
    return pids


def cpu_ticks(pids):
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except OSError:
            pass
    return total


def status_kib(pids, key):
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith(key + ":"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total


def reset_peak(pids):
    """Resets VmHWM (needs root); False if the kernel refused."""
    ok = True
    for p in pids:
        try:
            with open(f"/proc/{p}/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            ok = False
    return ok


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One server process (and its children), pinned to CPU 0."""

    running = []  # everything started and not yet stopped: stopped at exit

    def __init__(self, name, argv, port, scratch, wrap=None, cwd=None):
        self.name, self.argv, self.port, self.scratch, self.cwd = name, argv, port, scratch, cwd
        self.wrap = wrap or []
        self.proc = None
        self.logpath = os.path.join(scratch, f"{name}.log")

    def start(self, timeout=60.0):
        logf = open(self.logpath, "ab")
        self.proc = subprocess.Popen(self.wrap + self.argv, stdin=subprocess.DEVNULL,
                                     stdout=logf, stderr=logf, cwd=self.cwd,
                                     preexec_fn=_pinned(SERVER_CPU), start_new_session=True)
        logf.close()
        Server.running.append(self)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: {self.tail()}")
            try:
                if loadgen.one_request(self.port):  # exactly one request: counts cancel out
                    return self
                raise RuntimeError(f"{self.name}: /plaintext did not answer 200")
            except (ConnectionRefusedError, socket.timeout, ConnectionResetError):
                time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not answer within {timeout:.0f} s: {self.tail()}")

    def pid(self):
        """The server's own PID (under strace: strace's child)."""
        if self.wrap and self.wrap[0] == "strace":
            kids = children(self.proc.pid)
            return kids[0] if kids else self.proc.pid
        return self.proc.pid

    def pids(self):
        return tree(self.pid())

    def tail(self, n=600):
        try:
            with open(self.logpath, "rb") as f:
                return f.read()[-n:].decode(errors="replace").strip()
        except OSError:
            return ""

    def stop(self, timeout=60.0):
        if not self.proc or self.proc.poll() is not None:
            if self in Server.running:
                Server.running.remove(self)
            return
        pids = tree(self.proc.pid)
        try:
            os.kill(self.pid(), signal.SIGTERM)
            self.proc.wait(timeout)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        if self.proc.poll() is None:
            log(f"{self.name} ignored SIGTERM; killing it")
            self.proc.kill()
            self.proc.wait(10)
        for p in pids:  # children left behind (nginx's worker)
            try:
                if p != self.proc.pid and os.path.exists(f"/proc/{p}"):
                    os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self in Server.running:
            Server.running.remove(self)


def stop_all():
    for s in list(Server.running):
        try:
            s.stop(timeout=10)
        except Exception as e:  # keep stopping the others
            log(f"stopping {s.name}: {e}")


# ---- the servers ---------------------------------------------------------------------------------

class Setup:
    def __init__(self, build, scratch):
        self.build = build
        self.scratch = scratch
        with open(os.path.join(scratch, "plaintext.txt"), "w") as f:
            f.write("Hello, World!")
        with open(os.path.join(scratch, "json.json"), "w") as f:
            f.write('{"message":"Hello, World!"}')

    def _conf(self, name, template, **subst):
        with open(os.path.join(HERE, template)) as f:
            text = f.read()
        for k, v in subst.items():
            text = text.replace(f"@{k}@", v)
        path = os.path.join(self.scratch, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def make(self, name, wrap=None, single=False):
        """A Server (not started). single: nginx without its master process."""
        port = free_port()
        d = self.scratch
        if name == "ceiling":
            argv = [os.path.join(self.build, "bin", "ceiling"), "--port", str(port)]
        elif name == "awaitress":
            argv = [os.path.join(self.build, "bin", "echo"), "--port", str(port),
                    "--log-level", "warning", "--limit-concurrency", "20000",
                    "--backlog", "4096"]
        elif name == "nginx":
            ndir = os.path.join(d, f"nginx-{port}")
            os.makedirs(ndir, exist_ok=True)
            conf = self._conf(f"nginx-{port}.conf", "nginx.conf", PORT=str(port), DIR=ndir,
                              MASTER="off" if single else "on")
            argv = ["nginx", "-c", conf, "-p", ndir, "-e", "stderr"]
        elif name == "h2o":
            conf = self._conf(f"h2o-{port}.conf", "h2o.conf", PORT=str(port), DIR=d)
            argv = ["h2o", "-c", conf]
        elif name == "fastapi":
            argv = ["/usr/bin/python3", "-m", "uvicorn", "fastapi_app:app", "--host",
                    "127.0.0.1", "--port", str(port), "--loop", "uvloop", "--http",
                    "httptools", "--workers", "1", "--log-level", "warning",
                    "--no-access-log", "--backlog", "4096"]
            return Server(name, argv, port, d, wrap, cwd=HERE)
        else:
            raise ValueError(name)
        return Server(name, argv, port, d, wrap)


# ---- wrk -----------------------------------------------------------------------------------------

REPORT_LUA = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRKRESULT %d %d %.0f %d %d %d %d %d\\n", summary.requests,
    summary.duration, latency:percentile(99.0), e.connect, e.read, e.write, e.status,
    e.timeout))
end
"""

PIPELINE_LUA = """
init = function(args)
  local r = {}
  for i = 1, %d do r[i] = wrk.format(nil, wrk.path) end
  req = table.concat(r)
end
request = function() return req end
""" % DEPTH


def wrk(port, path, conns, duration, script, timeout_s=5):
    argv = ["wrk", "-t1", f"-c{conns}", f"-d{duration}s", f"--timeout={timeout_s}s", "-s",
            script, f"http://127.0.0.1:{port}{path}"]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60,
                       preexec_fn=_pinned(CLIENT_CPU))
    m = re.search(r"WRKRESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)", p.stdout)
    if p.returncode != 0 or not m:
        raise RuntimeError(f"wrk failed ({p.returncode}): {p.stdout[-500:]} {p.stderr[-500:]}")
    req, dur_us, p99_us, *errs = (int(x) for x in m.groups())
    # Under pipelining wrk times whole batches and its coordinated-omission
    # correction assumes one request per batch: its p99 there often comes out
    # as 0 (no rank reached). That is reported as missing, not as 0.
    return {"requests": req, "rps": req / (dur_us / 1e6),
            "p99_ms": p99_us / 1000.0 if p99_us else float("nan"),
            "errors": dict(zip(("connect", "read", "write", "status", "timeout"), errs))}


def measured(server, port, path, conns, duration, script, timeout_s=5, rss_base=None):
    """One wrk run with the server's CPU time and peak RSS around it."""
    pids = server.pids()
    peak_ok = reset_peak(pids)
    rss0 = status_kib(pids, "VmRSS")
    t0 = cpu_ticks(pids)
    r = wrk(port, path, conns, duration, script, timeout_s)
    pids = server.pids()
    t1 = cpu_ticks(pids)
    # Without clear_refs (not root) VmHWM is the lifetime peak: the RSS at the end is the
    # fallback, an underestimate for the 10k cases.
    peak = status_kib(pids, "VmHWM") if peak_ok else max(rss0, status_kib(pids, "VmRSS"))
    r["peak_rss_kib"] = peak
    r["rss0_kib"] = rss0 if rss_base is None else rss_base
    r["cpu_us_per_req"] = (t1 - t0) / CLK_TCK * 1e6 / max(r["requests"], 1)
    return r


def errs_text(r):
    bad = {k: v for k, v in r["errors"].items() if v}
    return f" errors {bad}" if bad else ""


# ---- sections ------------------------------------------------------------------------------------

TIMED_CASES = [  # (case, path, script kind, servers)
    ("plaintext", "/plaintext", "plain", ["ceiling", "awaitress", "nginx", "h2o", "fastapi"]),
    ("pipelined", "/plaintext", "pipe", ["ceiling", "awaitress", "nginx", "h2o", "fastapi"]),
    ("json", "/json", "plain", ["awaitress", "nginx", "h2o", "fastapi"]),
]


def run_timed(setup, scripts, rounds, duration, results):
    names = ["ceiling", "awaitress", "nginx", "h2o", "fastapi"]
    servers = {n: setup.make(n).start() for n in names}
    try:
        for n, s in servers.items():  # warm up: first connections, lazy allocations, caches
            wrk(s.port, "/plaintext", CONNS, 1, scripts["plain"])
        for rnd in range(1, rounds + 1):
            for case, path, kind, who in TIMED_CASES:
                for n in who:
                    s = servers[n]
                    r = measured(s, s.port, path, CONNS, duration, scripts[kind])
                    results.setdefault((case, n), []).append(r)
                    log(f"round {rnd}/{rounds} {case:9s} {n:9s} {r['rps']:>10.0f} req/s  "
                        f"p99 {r['p99_ms']:7.2f} ms  peak {r['peak_rss_kib'] / 1024:6.1f} MiB  "
                        f"cpu {r['cpu_us_per_req']:6.2f} us/req{errs_text(r)}")
    finally:
        for s in servers.values():
            s.stop()


def run_wait10k(setup, scripts, rounds, duration, results):
    for rnd in range(1, rounds + 1):
        for n in ("awaitress", "nginx", "fastapi"):
            s = setup.make(n).start()
            try:
                loadgen.drive(s.port, "/sleep?ms=1", 64, 1, 2)  # warm the sleep path a little
                time.sleep(0.2)
                rss0 = status_kib(s.pids(), "VmRSS")
                r = measured(s, s.port, "/sleep?ms=100", WAIT_CONNS, duration, scripts["plain"],
                             timeout_s=10, rss_base=rss0)
            finally:
                s.stop()
            r["kib_per_conn"] = (r["peak_rss_kib"] - rss0) / WAIT_CONNS
            results.setdefault(("wait10k", n), []).append(r)
            log(f"round {rnd}/{rounds} wait10k   {n:9s} {r['rps']:>10.0f} req/s  "
                f"p99 {r['p99_ms']:7.2f} ms  peak {r['peak_rss_kib'] / 1024:6.1f} MiB "
                f"({r['kib_per_conn']:.2f} KiB/conn over {rss0} KiB)  "
                f"cpu {r['cpu_us_per_req']:6.2f} us/req{errs_text(r)}")


def run_idle10k(setup, rounds, results):
    for rnd in range(1, rounds + 1):
        for n in ("awaitress", "nginx"):
            s = setup.make(n).start()
            socks = []
            try:
                time.sleep(0.2)
                rss0 = status_kib(s.pids(), "VmRSS")
                t0 = time.monotonic()
                socks = loadgen.hold(s.port, "/plaintext", IDLE_CONNS)
                took = time.monotonic() - t0
                time.sleep(1.0)  # let the server settle: idle timers armed, tasks gone
                rss1 = status_kib(s.pids(), "VmRSS")
                alive = loadgen.one_request(s.port)
            finally:
                for so in socks:
                    so.close()
                s.stop()
            per = (rss1 - rss0) / IDLE_CONNS
            results.setdefault(("idle10k", n), []).append({"kib_per_conn": per, "rss0": rss0,
                                                           "rss1": rss1})
            log(f"round {rnd}/{rounds} idle10k   {n:9s} {per:.2f} KiB/conn "
                f"(VmRSS {rss0} -> {rss1} KiB; 10k answered in {took:.1f} s; "
                f"still serving: {alive})")


def callgrind_total(path):
    with open(path) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError(f"no totals in {path}")


COUNTED_CASES = [("plaintext", 1, 20, 100), ("pipelined", DEPTH, 5, 25)]  # depth, rounds lo/hi


def measure_counted(setup, tool, n, case, depth, rounds, tries=3):
    """One counted run: (requests, total, per-call counts). Retried: a server stopped while
    valgrind is still starting up or writing can leave no totals behind."""
    for attempt in range(1, tries + 1):
        out = os.path.join(setup.scratch, f"{tool}-{n}-{case}-{rounds}-{attempt}.out")
        if tool == "callgrind":
            wrap = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                    "--dump-instr=no", "--collect-jumps=no"]
        else:
            wrap = ["strace", "-f", "-c", "-o", out, "--"]
        s = setup.make(n, wrap=wrap, single=True)
        s.start(timeout=120)
        try:
            reqs = loadgen.drive(s.port, "/plaintext", CONNS, depth, rounds)
        finally:
            s.stop(timeout=120)
        try:
            if tool == "callgrind":
                return (reqs, callgrind_total(out), None)
            calls = parse_strace(out)
            return (reqs, calls.pop("total"), calls)
        except (RuntimeError, KeyError, OSError) as e:
            if attempt == tries:
                raise
            log(f"{tool} {n} {case}: {e}; trying again")


def run_counted(setup, tool, results, servers=("ceiling", "awaitress", "nginx")):
    """Instructions (callgrind) or system calls (strace) per request, by difference."""
    for case, depth, lo, hi in COUNTED_CASES:
        for n in servers:
            vals = {}
            for rounds in (lo, hi):
                vals[rounds] = measure_counted(setup, tool, n, case, depth, rounds)
            (r1, c1, b1), (r2, c2, b2) = vals[lo], vals[hi]
            per = (c2 - c1) / (r2 - r1)
            entry = {"per_request": per}
            if tool == "strace":
                entry["by_call"] = {k: (b2.get(k, 0) - b1.get(k, 0)) / (r2 - r1)
                                    for k in set(b1) | set(b2)}
                top = sorted(entry["by_call"].items(), key=lambda kv: -kv[1])
                detail = ", ".join(f"{k} {v:.3f}" for k, v in top if v >= 0.005)
                log(f"syscalls  {case:9s} {n:9s} {per:8.3f} per request ({detail})")
            else:
                log(f"callgrind {case:9s} {n:9s} {per:8.0f} instructions per request "
                    f"({c1} at {r1} requests, {c2} at {r2})")
            results[(tool, case, n)] = entry


PERF_EVENTS = ["raw_syscalls:sys_enter"] + [
    f"syscalls:sys_enter_{c}" for c in ("epoll_wait", "read", "recvfrom", "write", "writev",
                                        "epoll_ctl")]


def run_perf(setup, scripts, duration, results, servers=("ceiling", "awaitress", "nginx")):
    """System calls per request under real wrk load, counted by kernel tracepoints (strace's
    ptrace slows the server so much that each epoll_wait finds far more events)."""
    for case, kind in (("plaintext", "plain"), ("pipelined", "pipe")):
        for n in servers:
            s = setup.make(n, single=True).start()
            perf = None
            try:
                out = os.path.join(setup.scratch, f"perf-{n}-{case}.csv")
                perf = subprocess.Popen(["perf", "stat", "-x,", "-o", out, "-e",
                                         ",".join(PERF_EVENTS), "-p", str(s.pid())],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        preexec_fn=_pinned(CLIENT_CPU))
                time.sleep(0.3)
                r = wrk(s.port, "/plaintext", CONNS, duration, scripts[kind])
                perf.send_signal(signal.SIGINT)
                perf.wait(30)
            finally:
                if perf and perf.poll() is None:
                    perf.kill()
                s.stop()
            counts = {}
            with open(out) as f:
                for line in f:
                    parts = line.strip().split(",")
                    if len(parts) > 2 and parts[0].isdigit():
                        counts[parts[2].split(":")[-1].replace("sys_enter_", "")] = int(parts[0])
            total = counts.pop("sys_enter", None)
            if total is None:
                log(f"perf: no counts for {n} {case} (tracepoints unavailable?)")
                continue
            per = total / r["requests"]
            detail = ", ".join(f"{k} {v / r['requests']:.3f}" for k, v in
                               sorted(counts.items(), key=lambda kv: -kv[1]) if v)
            log(f"syscalls under wrk {case:9s} {n:9s} {per:8.3f} per request at "
                f"{r['rps']:.0f} req/s ({detail})")
            results[("perf", case, n)] = {"per_request": per}


def parse_strace(path):
    calls = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 5 and re.match(r"^\d+\.\d+$", parts[0]) and parts[3].isdigit():
                calls[parts[-1]] = int(parts[3])
    if "total" not in calls:
        raise RuntimeError(f"no strace summary in {path}")
    return calls


# ---- report --------------------------------------------------------------------------------------

def med(rs, key):
    vals = [r[key] for r in rs if r[key] == r[key]]  # NaN: not measured
    return statistics.median(vals) if vals else float("nan")


def verdict(ok):
    return "met" if ok else "MISSED"


def figure(name, v, op=None, target=None):
    """Prints `name: value` (n/a for None); with a target, its verdict on a comment line first."""
    if v is None:
        print(f"{name}: n/a")
        return
    text = f"{v:.0f}" if abs(v) >= 1000 else f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"
    if op:
        ok = v >= target if op == ">=" else v <= target
        print(f"# {name}: target {op} {target}: {verdict(ok)}")
    print(f"{name}: {text}")


def report(results, rounds, wait_rounds):
    print()
    log(f"medians of {rounds} rounds ({wait_rounds} for wait10k and idle10k); rps = requests/s, p99 in ms, peak RSS in KiB, "
        "cpu = server utime+stime per request in us")
    rows = []
    for case in ("plaintext", "pipelined", "json", "wait10k"):
        for n in ("ceiling", "awaitress", "nginx", "h2o", "fastapi"):
            rs = results.get((case, n))
            if not rs:
                continue
            vals = {k: med(rs, k) for k in ("rps", "p99_ms", "peak_rss_kib", "cpu_us_per_req")}
            print(f"{case}.{n}.rps: {vals['rps']:.0f}")
            p99 = "n/a" if vals["p99_ms"] != vals["p99_ms"] else f"{vals['p99_ms']:.2f}"
            print(f"{case}.{n}.p99_ms: {p99}")
            print(f"{case}.{n}.peak_rss_kib: {vals['peak_rss_kib']:.0f}")
            print(f"{case}.{n}.cpu_us_per_req: {vals['cpu_us_per_req']:.2f}")
            extra = ""
            if case == "wait10k":
                vals["kpc"] = med(rs, "kib_per_conn")
                print(f"{case}.{n}.rss_kib_per_conn: {vals['kpc']:.2f}")
                extra = f"{vals['kpc']:.2f}"
            rows.append((case, n, vals, extra))
    for n in ("awaitress", "nginx"):
        rs = results.get(("idle10k", n))
        if rs:
            print(f"idle10k.{n}.rss_kib_per_conn: {med(rs, 'kib_per_conn'):.2f}")
    for tool, unit in (("callgrind", "instr_per_request"), ("strace", "syscalls_per_request"),
                       ("perf", "syscalls_under_load_per_request")):
        for case, *_ in COUNTED_CASES:
            for n in ("ceiling", "awaitress", "nginx"):
                e = results.get((tool, case, n))
                if e:
                    fmt = ".0f" if tool == "callgrind" else ".3f"
                    print(f"{case}.{n}.{unit}: {e['per_request']:{fmt}}")

    # The table for the README.
    print()
    print("| case | server | requests/s | p99 ms | peak RSS MiB | CPU us/request | RSS KiB/conn |")
    print("|---|---|---|---|---|---|---|")
    for case, n, v, extra in rows:
        p99 = "-" if v["p99_ms"] != v["p99_ms"] else f"{v['p99_ms']:.2f}"
        print(f"| {case} | {n} | {v['rps']:,.0f} | {p99} | "
              f"{v['peak_rss_kib'] / 1024:.1f} | {v['cpu_us_per_req']:.2f} | {extra} |")
    for n in ("awaitress", "nginx"):
        rs = results.get(("idle10k", n))
        if rs:
            print(f"| idle10k | {n} | | | | | {med(rs, 'kib_per_conn'):.2f} |")
    print()
    print("| per request | server | plaintext keep-alive | pipelined x16 |")
    print("|---|---|---|---|")
    for tool, label, fmt in (("callgrind", "user-space instructions", ".0f"),
                             ("strace", "system calls (strace -c)", ".3f"),
                             ("perf", "system calls under wrk (perf)", ".3f")):
        for n in ("ceiling", "awaitress", "nginx"):
            a, b = results.get((tool, "plaintext", n)), results.get((tool, "pipelined", n))
            if a or b:
                cell = [format(x["per_request"], fmt) if x else "" for x in (a, b)]
                print(f"| {label} | {n} | {cell[0]} | {cell[1]} |")
    print()

    def paired(case, a, b, key="rps"):
        """Median over rounds of a/b within each round: the two ran minutes apart at most,
        so slow drifts of this machine cancel (ratios of medians are noisier)."""
        ra, rb = results.get((case, a)), results.get((case, b))
        if not ra or not rb:
            return None
        vals = [x[key] / y[key] for x, y in zip(ra, rb) if y[key]]
        return statistics.median(vals) if vals else None

    def ratio(a, b):
        return a / b if a is not None and b else None

    def cnt(tool, case, n):
        e = results.get((tool, case, n))
        return e["per_request"] if e else None

    log("ratios of requests/s and CPU are medians of per-round ratios (same round, same minute)")
    extra_lines = [
        ("json_rps_vs_nginx", paired("json", "awaitress", "nginx"), ">=", 1.0),
        ("pipelined_rps_vs_nginx", paired("pipelined", "awaitress", "nginx"), ">=", 5.0),
        ("pipelined_instr_per_request", cnt("callgrind", "pipelined", "awaitress"), None, None),
        ("plaintext_syscalls_per_request", cnt("strace", "plaintext", "awaitress"), None, None),
    ]
    w = results.get(("wait10k", "awaitress"))
    idle = results.get(("idle10k", "awaitress"))
    summary = [
        ("pipelined_vs_ceiling", paired("pipelined", "awaitress", "ceiling"), ">=", 0.85),
        ("plaintext_rps_vs_nginx", paired("plaintext", "awaitress", "nginx"), ">=", 1.0),
        ("plaintext_instr_per_request", cnt("callgrind", "plaintext", "awaitress"), None, None),
        ("plaintext_instr_vs_nginx", ratio(cnt("callgrind", "plaintext", "awaitress"),
                                           cnt("callgrind", "plaintext", "nginx")), "<=", 0.5),
        ("pipelined_instr_vs_nginx", ratio(cnt("callgrind", "pipelined", "awaitress"),
                                           cnt("callgrind", "pipelined", "nginx")), "<=", 0.5),
        ("pipelined_syscalls_per_request", cnt("strace", "pipelined", "awaitress"), "<=", 0.2),
        ("plaintext_cpu_vs_nginx", paired("plaintext", "awaitress", "nginx", "cpu_us_per_req"),
         None, None),
        ("wait10k_rps", med(w, "rps") if w else None, ">=", 85000),
        ("wait10k_p99_ms", med(w, "p99_ms") if w else None, "<=", 150),
        ("wait10k_rss_kib_per_conn", med(w, "kib_per_conn") if w else None, "<=", 8),
        ("idle10k_rss_kib_per_conn", med(idle, "kib_per_conn") if idle else None, "<=", 2),
    ]

    for item in extra_lines + summary:
        figure(*item)


# ---- main ----------------------------------------------------------------------------------------

def provenance(build):
    """Which code: the build folder, the echo binary's age, and the tree's commit and state."""
    echo = os.path.join(build, "bin", "echo")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.path.getmtime(echo)))
    def git(*a):
        try:
            p = subprocess.run(["git", "-C", ROOT, *a], capture_output=True, text=True,
                               timeout=10)
            return p.stdout.strip()
        except Exception:
            return ""
    head = git("rev-parse", "--short", "HEAD") or "?"
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", "src", "include",
                "examples")
    return (f"{echo} (built {when}) from {head}"
            + (" with uncommitted changes in src/include/examples" if dirty else ""))


def versions():
    def out(argv):
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            return (p.stdout + p.stderr).strip().splitlines()[0]
        except Exception:
            return "?"
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    log(f"cpu: {model}, {os.cpu_count()} online; servers on CPU {SERVER_CPU}, "
        f"clients on CPU {CLIENT_CPU}; kernel {os.uname().release}")
    log(f"{out(['nginx', '-v'])}; {out(['h2o', '--version'])}; {out(['wrk', '-v'])}")
    log("uvicorn " + out(["/usr/bin/python3", "-c",
                          "import uvicorn, fastapi, uvloop; print(uvicorn.__version__, "
                          "'fastapi', fastapi.__version__, 'uvloop', uvloop.__version__)"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=5, help="rounds of plaintext, pipelined, json")
    ap.add_argument("--duration", type=int, default=3, help="seconds per wrk run")
    ap.add_argument("--wait-rounds", type=int, default=3, help="rounds of wait10k and idle10k")
    ap.add_argument("--wait-duration", type=int, default=8,
                    help="seconds per wrk run of the 10,000-connection case (connecting is in it)")
    ap.add_argument("--only", default=",".join(SECTIONS),
                    help="comma-separated subset of " + ",".join(SECTIONS))
    args = ap.parse_args()
    only = set(args.only.split(","))
    if only - set(SECTIONS):
        ap.error(f"unknown sections: {only - set(SECTIONS)}")
    for tool in ("wrk", "nginx", "h2o", "valgrind", "strace"):
        if not shutil.which(tool):
            sys.exit(f"bench-http: {tool} is missing (bash bench/http/install.sh)")
    for prog in ("echo", "ceiling"):
        if not os.access(os.path.join(args.build, "bin", prog), os.X_OK):
            sys.exit(f"bench-http: {args.build}/bin/{prog} is missing (make build)")

    os.sched_setaffinity(0, {CLIENT_CPU})
    _raise_nofile()

    def on_signal(sig, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)

    scratch = tempfile.mkdtemp(prefix="bench-http-")
    os.chmod(scratch, 0o755)  # nginx's and h2o's workers run as nobody
    t0 = time.monotonic()
    results = {}
    try:
        print(f"# awaitress bench-http: {args.rounds} rounds of {args.duration} s wrk runs, "
              f"{CONNS} connections (pipelined: {DEPTH} deep), wrk -t1; {args.wait_rounds} "
              f"rounds of wait10k ({args.wait_duration} s) and idle10k", flush=True)
        log(f"measuring {provenance(args.build)}")
        versions()
        setup = Setup(args.build, scratch)
        scripts = {}
        for kind, text in (("plain", REPORT_LUA), ("pipe", PIPELINE_LUA + REPORT_LUA)):
            scripts[kind] = os.path.join(scratch, f"{kind}.lua")
            with open(scripts[kind], "w") as f:
                f.write(text)
        if "timed" in only:
            run_timed(setup, scripts, args.rounds, args.duration, results)
        if "wait10k" in only:
            run_wait10k(setup, scripts, args.wait_rounds, args.wait_duration, results)
        if "idle10k" in only:
            run_idle10k(setup, args.wait_rounds, results)
        if "callgrind" in only:
            run_counted(setup, "callgrind", results)
        if "strace" in only:
            run_counted(setup, "strace", results)
        if "perf" in only and shutil.which("perf"):
            run_perf(setup, scripts, 3, results)
        log(f"measured in {time.monotonic() - t0:.0f} s")
        report(results, args.rounds, args.wait_rounds)
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        stop_all()
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
