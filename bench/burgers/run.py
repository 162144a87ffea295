#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The burger shop's benchmark (`make bench-burgers`): the story's figures, measured.

1. The rush: burger-rush sends 1,000 customers (one burger each) to a shop started with
   --cook-ms 1000 --ovens 1000 and one worker: concurrent mode (tickets) then parallel
   mode (the counter, 40 pool threads). Its `concurrent_*` / `parallel_*` lines are
   passed through.
2. The mansion: POST /mansion/clean with one cleaner on the loop thread against two
   cleaners on the pool (the machine's 2 cores, so this shop is not pinned); medians of
   several interleaved runs.
3. The lesson: while the mansion is cleaned, a customer looks at a ticket every 5 ms;
   the p99 of that look, with the cleaning on the pool and then (wrongly) on the loop.

Servers and load stay on 127.0.0.1, every run is bounded, and the shop is stopped by
PID. Prints one `name: value` line per figure.
"""
import argparse
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time


def start_shop(build, db, *args, cpu=None):
    pin = ["taskset", "-c", str(cpu)] if cpu is not None else []
    p = subprocess.Popen([*pin, os.path.join(build, "bin", "burgers"), "--host", "127.0.0.1",
                          "--port", "0", "--db", db, "--log-level", "warning", *args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = p.stdout.readline().decode()
    m = re.search(r":(\d+)\s*$", line.strip())
    if not m:
        p.kill()
        sys.exit(f"the shop did not start: {line!r} {p.stderr.read().decode()}")
    return p, int(m.group(1))


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=40)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def request(port, method, path, body=None, timeout=120):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    c.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, json.loads(data) if data else None


def rush(build, customers, svg):
    with tempfile.TemporaryDirectory() as d:
        # The shop (loop and pool) on CPU 0, the customers on CPU 1.
        shop, port = start_shop(build, os.path.join(d, "shop.db"), "--cook-ms", "1000",
                                "--ovens", "1000", cpu=0)
        try:
            cmd = ["taskset", "-c", "1", os.path.join(build, "bin", "burger-rush"),
                   f"http://127.0.0.1:{port}",
                   "--customers", str(customers), "--burgers-each", "1", "--mode", "both",
                   "--timeout-s", "120"]
            if svg:
                cmd += ["--svg", svg]
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
            if out.returncode != 0:
                sys.exit(f"burger-rush failed: {out.stdout}\n{out.stderr}")
            return [l for l in out.stdout.splitlines()
                    if re.match(r"^(concurrent|parallel)_\w+: ", l)]
        finally:
            stop(shop)


def mansion(port, rooms, cleaners, where):
    status, body = request(port, "POST",
                           f"/mansion/clean?rooms={rooms}&cleaners={cleaners}&where={where}")
    assert status == 200, body
    return body["elapsed_ms"]


def probe_during(port, ticket, work):
    """Runs work() while looking at a ticket every 5 ms; returns the looks' latencies (ms)."""
    lat = []
    done = threading.Event()

    def look():
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while not done.is_set():
            t0 = time.perf_counter()
            c.request("GET", f"/orders/{ticket}")
            r = c.getresponse()
            r.read()
            lat.append((time.perf_counter() - t0) * 1000)
            time.sleep(0.005)
        c.close()

    t = threading.Thread(target=look)
    t.start()
    time.sleep(0.05)
    work()
    done.set()
    t.join()
    return lat


def p99(xs):
    xs = sorted(xs)
    return xs[max(0, int(round(0.99 * len(xs))) - 1)] if xs else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--customers", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--rooms", type=int, default=256)
    ap.add_argument("--svg", default="")
    ap.add_argument("--only", default="rush,mansion,lesson")
    a = ap.parse_args()
    only = set(a.only.split(","))

    if "rush" in only:
        for line in rush(a.build, a.customers, a.svg):
            print(line, flush=True)

    if only & {"mansion", "lesson"}:
        with tempfile.TemporaryDirectory() as d:
            shop, port = start_shop(a.build, os.path.join(d, "shop.db"), "--cook-ms", "10")
            try:
                if "mansion" in only:
                    loop_ms, pool_ms = [], []
                    mansion(port, 4, 1, "loop")  # warm up: pool threads, page faults
                    mansion(port, 4, 2, "pool")
                    for _ in range(a.rounds):  # interleaved, so drift hits both alike
                        loop_ms.append(mansion(port, a.rooms, 1, "loop"))
                        pool_ms.append(mansion(port, a.rooms, 2, "pool"))
                    lm, pm = statistics.median(loop_ms), statistics.median(pool_ms)
                    print(f"mansion_rooms: {a.rooms}")
                    print(f"mansion_one_cleaner_on_loop_ms: {lm:.1f}")
                    print(f"mansion_two_cleaners_on_pool_ms: {pm:.1f}")
                    print(f"mansion_speedup: {lm / pm:.2f}", flush=True)
                if "lesson" in only:
                    status, order = request(port, "POST", "/orders",
                                            {"customer": "Probe", "burgers": 1})
                    assert status == 201, order
                    ticket = order["ticket"]
                    on_pool = probe_during(port, ticket,
                                           lambda: mansion(port, a.rooms, 2, "pool"))
                    on_loop = probe_during(port, ticket,
                                           lambda: mansion(port, a.rooms, 1, "loop"))
                    print(f"ticket_look_p99_ms_while_cleaning_on_pool: {p99(on_pool):.2f}")
                    print(f"ticket_look_p99_ms_while_cleaning_on_loop: {p99(on_loop):.2f}")
                    print(f"ticket_looks_on_pool: {len(on_pool)}")
                    print(f"ticket_looks_on_loop: {len(on_loop)}", flush=True)
            finally:
                stop(shop)


if __name__ == "__main__":
    main()
