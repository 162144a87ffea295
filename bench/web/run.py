# SPDX-License-Identifier: MIT
"""make bench-web: what the web layer costs per request.

The same request, GET /search?number=42&name=awaitress (two validated query
params, routed among 100 routes, answered as JSON), to three servers:

    web      build/bin/bench-web-server --mode web (the web layer on the HTTP layer)
    raw      build/bin/bench-web-server --mode raw (the HTTP layer answering the same bytes)
    fastapi  bench/web/app_fastapi.py on uvicorn + uvloop + httptools, one worker

All three must answer byte-identical bodies (and web and raw identical heads,
Date aside) before anything is measured. Each server runs pinned to CPU 0,
wrk (-t1) to CPU 1; keep-alive and pipelined (16 deep) runs are interleaved
in rounds (raw web fastapi raw web fastapi ...) and medians are reported;
ratios are medians of per-round ratios. CPU per request is the server's
utime+stime from /proc over the run divided by the requests answered. The
callgrind section counts user-space instructions per request for web and
raw from two runs of different lengths (the difference over the
difference), a figure that repeats where requests/s do not.

The plumbing (pinning, wrk and its scripts, /proc accounting, callgrind
totals, the exact-count load generator) is bench/http/run.py's, imported.

    /usr/bin/python3 bench/web/run.py [--build DIR] [--rounds N] [--duration S]
                                      [--only SECTIONS]
"""
import argparse
import importlib.util
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# bench/http/run.py under another name (this file is run.py too).
_spec = importlib.util.spec_from_file_location("bench_http_run",
                                               os.path.join(ROOT, "bench", "http", "run.py"))
hr = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hr)
loadgen = hr.loadgen
log = hr.log

SEARCH = "/search?number=42&name=awaitress"
EXPECTED_BODY = b'{"number":42,"name":"awaitress"}'
NAMES = ("raw", "web", "fastapi")
CASES = (("keepalive", "plain"), ("pipelined", "pipe"))
SECTIONS = ("timed", "callgrind", "profile")
DEFAULT_SECTIONS = ("timed", "callgrind")
# Callgrind: pipelined requests by CG_CONNS connections, CG_ROUNDS batches each (two runs).
CG_CONNS = 64
CG_ROUNDS = (4, 20)


class BenchServer(hr.Server):
    """bench/http's Server, made ready by an answer to SEARCH (it has no /plaintext)."""

    def start(self, timeout=60.0):
        logf = open(self.logpath, "ab")
        self.proc = subprocess.Popen(self.wrap + self.argv, stdin=subprocess.DEVNULL,
                                     stdout=logf, stderr=logf, cwd=self.cwd,
                                     preexec_fn=hr._pinned(hr.SERVER_CPU),
                                     start_new_session=True)
        logf.close()
        hr.Server.running.append(self)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: "
                                   f"{self.tail()}")
            try:
                if loadgen.one_request(self.port, SEARCH):
                    return self
                raise RuntimeError(f"{self.name}: {SEARCH} did not answer 200")
            except (ConnectionRefusedError, socket.timeout, ConnectionResetError):
                time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not answer within {timeout:.0f} s: {self.tail()}")


def make(build, scratch, name, wrap=None):
    port = hr.free_port()
    if name in ("web", "raw"):
        argv = [os.path.join(build, "bin", "bench-web-server"), "--mode", name,
                "--port", str(port), "--log-level", "warning", "--limit-concurrency", "20000",
                "--backlog", "4096"]
        return BenchServer(name, argv, port, scratch, wrap)
    if name == "fastapi":
        argv = ["/usr/bin/python3", "-m", "uvicorn", "app_fastapi:app", "--host", "127.0.0.1",
                "--port", str(port), "--loop", "uvloop", "--http", "httptools", "--workers", "1",
                "--log-level", "warning", "--no-access-log", "--backlog", "4096"]
        return BenchServer(name, argv, port, scratch, wrap, cwd=HERE)
    raise ValueError(name)


# ---- the answers must be the same ----------------------------------------------------------------

def get(port, target):
    """One GET on a new connection: (status, [(lower-case name, value)], body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        buf = b""
        while not loadgen.count_responses(buf)[0]:
            data = s.recv(65536)
            if not data:
                break
            buf += data
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    headers = [(k.strip().lower().decode(), v.strip().decode())
               for k, _, v in (line.partition(b":") for line in lines[1:])]
    return int(lines[0].split()[1]), headers, body


def check(servers):
    """Same body from all three, same head from web and raw; web and fastapi validate."""
    answers = {n: get(s.port, SEARCH) for n, s in servers.items()}
    for n, (status, headers, body) in answers.items():
        if status != 200 or body != EXPECTED_BODY:
            raise RuntimeError(f"{n} answered {status} {body!r} to {SEARCH}, "
                               f"expected 200 {EXPECTED_BODY!r}")
        ctype = dict(headers).get("content-type")
        if ctype != "application/json":
            raise RuntimeError(f"{n}: Content-Type {ctype!r}")
    if "web" in answers and "raw" in answers:
        def nodate(h):
            return [kv for kv in h if kv[0] != "date"]
        if nodate(answers["web"][1]) != nodate(answers["raw"][1]):
            raise RuntimeError(f"web and raw heads differ: {answers['web'][1]} vs "
                               f"{answers['raw'][1]}")
    for n in ("web", "fastapi"):
        if n not in servers:
            continue
        for bad in ("/search?number=0&name=x", "/search?number=1001&name=x",
                    "/search?number=x&name=x", "/search?number=5",
                    "/search?number=5&name=" + "x" * 21):
            status = get(servers[n].port, bad)[0]
            if status != 422:
                raise RuntimeError(f"{n} answered {status} to {bad}, expected 422: "
                                   "not validating")
        status = get(servers[n].port, "/r98/items/7")[0]
        if status != 200:
            raise RuntimeError(f"{n}: filler route answered {status}")
    log(f"check: {', '.join(servers)} answer {EXPECTED_BODY.decode()} with "
        f"Content-Type application/json; web and raw heads identical (Date aside); "
        f"web and fastapi answer 422 to out-of-range, malformed, missing and too-long params")


# ---- sections ------------------------------------------------------------------------------------

def run_timed(servers, scripts, rounds, duration, results):
    for n, s in servers.items():  # warm up: first connections, lazy allocations, caches
        hr.wrk(s.port, SEARCH, hr.CONNS, 1, scripts["pipe"])
    for rnd in range(1, rounds + 1):
        for case, kind in CASES:
            for n, s in servers.items():
                r = hr.measured(s, s.port, SEARCH, hr.CONNS, duration, scripts[kind])
                results.setdefault((case, n), []).append(r)
                log(f"round {rnd}/{rounds} {case:9s} {n:8s} {r['rps']:>9.0f} req/s  "
                    f"cpu {r['cpu_us_per_req']:6.2f} us/req{hr.errs_text(r)}")


def count_instr(build, scratch, name, rounds, tries=3):
    """(requests, instructions) for one callgrind run of CG_CONNS x DEPTH x rounds requests."""
    for attempt in range(1, tries + 1):
        out = os.path.join(scratch, f"callgrind-{name}-{rounds}-{attempt}.out")
        wrap = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                "--dump-instr=no", "--collect-jumps=no"]
        s = make(build, scratch, name, wrap)
        s.start(timeout=120)
        try:
            reqs = loadgen.drive(s.port, SEARCH, CG_CONNS, hr.DEPTH, rounds)
        finally:
            s.stop(timeout=120)
        try:
            return reqs, hr.callgrind_total(out)
        except (RuntimeError, OSError) as e:
            if attempt == tries:
                raise
            log(f"callgrind {name}: {e}; trying again")


def run_callgrind(build, scratch, results):
    for n in ("raw", "web"):
        (r1, c1), (r2, c2) = (count_instr(build, scratch, n, k) for k in CG_ROUNDS)
        per = (c2 - c1) / (r2 - r1)
        results[("callgrind", n)] = per
        log(f"callgrind pipelined {n:4s} {per:8.0f} instructions per request "
            f"({c1} at {r1} requests, {c2} at {r2})")


def run_profile(build, scratch, scripts, duration):
    """perf record of the web server under pipelined wrk load; prints the top symbols."""
    if not shutil.which("perf"):
        log("profile: perf is missing")
        return
    s = make(build, scratch, "web").start()
    data = os.path.join(scratch, "perf.data")
    perf = None
    try:
        perf = subprocess.Popen(["perf", "record", "-q", "-F", "4999", "-o", data,
                                 "-p", str(s.pid())], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, preexec_fn=hr._pinned(hr.CLIENT_CPU))
        time.sleep(0.5)
        hr.wrk(s.port, SEARCH, hr.CONNS, duration, scripts["pipe"])
        perf.send_signal(signal.SIGINT)
        perf.wait(60)
    finally:
        if perf and perf.poll() is None:
            perf.kill()
        s.stop()
    for sort, limit in (("dso", "1"), ("dso,symbol", "0.7")):
        p = subprocess.run(["perf", "report", "-i", data, "--stdio", "--percent-limit", limit,
                            "--sort", sort], capture_output=True, text=True, timeout=120)
        log(f"profile of the web server under pipelined load, self time by {sort} "
            f"(above {limit}%):")
        for line in p.stdout.splitlines():
            if line.strip() and not line.startswith("#"):
                print("#   " + re.sub(r"( -)+$", "", " ".join(line.split())))


# ---- report --------------------------------------------------------------------------------------

def report(results, rounds):
    print()
    log(f"medians of {rounds} rounds; rps = requests/s, cpu = server utime+stime per request "
        "in us; ratios are medians of per-round ratios")
    for case, _ in CASES:
        for n in NAMES:
            rs = results.get((case, n))
            if rs:
                print(f"{case}.{n}.rps: {hr.med(rs, 'rps'):.0f}")
                print(f"{case}.{n}.cpu_us_per_req: {hr.med(rs, 'cpu_us_per_req'):.2f}")
    for n in ("raw", "web"):
        if ("callgrind", n) in results:
            print(f"pipelined.{n}.instr_per_req: {results[('callgrind', n)]:.0f}")

    def paired(case, a, b, key):
        ra, rb = results.get((case, a)), results.get((case, b))
        if not ra or not rb:
            return None
        vals = [x[key] / y[key] for x, y in zip(ra, rb) if y[key]]
        return statistics.median(vals) if vals else None

    line = hr.figure

    cg_web, cg_raw = results.get(("callgrind", "web")), results.get(("callgrind", "raw"))
    line("web_layer_instr_per_req", cg_web - cg_raw if cg_web and cg_raw else None)
    line("web_vs_raw_instr_ratio", cg_web / cg_raw if cg_web and cg_raw else None)
    line("web_vs_raw_keepalive_ratio", paired("keepalive", "web", "raw", "rps"))
    line("web_vs_fastapi_rps_ratio", paired("pipelined", "web", "fastapi", "rps"))
    line("web_vs_raw_ratio", paired("pipelined", "web", "raw", "rps"), ">=", 0.85)
    line("web_vs_fastapi_cpu_ratio",
         paired("pipelined", "fastapi", "web", "cpu_us_per_req"), ">=", 30)


# ---- main ----------------------------------------------------------------------------------------

def provenance(build):
    exe = os.path.join(build, "bin", "bench-web-server")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.path.getmtime(exe)))
    try:
        head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "src",
                                "include", "bench/web"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception:
        head, dirty = "?", ""
    return (f"{exe} (built {when}) from {head or '?'}"
            + (" with uncommitted changes in src/include/bench/web" if dirty else ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--duration", type=int, default=4, help="seconds per wrk run")
    ap.add_argument("--only", default=",".join(DEFAULT_SECTIONS),
                    help="comma-separated subset of " + ",".join(SECTIONS)
                    + " (profile: perf record of the web server, not run by default)")
    args = ap.parse_args()
    only = set(args.only.split(","))
    if only - set(SECTIONS):
        ap.error(f"unknown sections: {only - set(SECTIONS)}")
    for tool in ("wrk",) + (("valgrind",) if "callgrind" in only else ()):
        if not shutil.which(tool):
            sys.exit(f"bench-web: {tool} is missing (bash bench/http/install.sh)")
    if not os.access(os.path.join(args.build, "bin", "bench-web-server"), os.X_OK):
        sys.exit(f"bench-web: {args.build}/bin/bench-web-server is missing (make build)")

    os.sched_setaffinity(0, {hr.CLIENT_CPU})
    hr._raise_nofile()

    def on_signal(sig, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)

    scratch = tempfile.mkdtemp(prefix="bench-web-")
    t0 = time.monotonic()
    results = {}
    try:
        print(f"# awaitress bench-web: GET {SEARCH} (2 validated query params, 100 routes); "
              f"{args.rounds} rounds of {args.duration} s wrk runs, {hr.CONNS} connections "
              f"(pipelined: {hr.DEPTH} deep), wrk -t1", flush=True)
        log(f"measuring {provenance(args.build)}")
        hr.versions()
        scripts = {}
        for kind, text in (("plain", hr.REPORT_LUA), ("pipe", hr.PIPELINE_LUA + hr.REPORT_LUA)):
            scripts[kind] = os.path.join(scratch, f"{kind}.lua")
            with open(scripts[kind], "w") as f:
                f.write(text)
        servers = {}
        try:
            for n in NAMES:
                servers[n] = make(args.build, scratch, n).start()
            check(servers)
            if "timed" in only:
                run_timed(servers, scripts, args.rounds, args.duration, results)
        finally:
            for s in servers.values():
                s.stop()
        if "callgrind" in only:
            run_callgrind(args.build, scratch, results)
        if "profile" in only:
            run_profile(args.build, scratch, scripts, max(args.duration, 5))
        log(f"measured in {time.monotonic() - t0:.0f} s")
        if only & {"timed", "callgrind"}:
            report(results, args.rounds)
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        hr.stop_all()
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
