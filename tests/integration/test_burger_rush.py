# SPDX-License-Identifier: MIT
"""A small rush on the real shop: burger-rush's customers in both modes. Concurrent
customers (tickets) must all be served far sooner than parallel ones (the counter, held
on a pool of 4 threads here), and the tool must report every figure the issue names and
write a valid SVG timeline."""
import os
import re
import subprocess
import xml.dom.minidom

from conftest import program

NAMES = ["makespan_s", "counter_p50_ms", "counter_p99_ms", "burger_p50_ms", "burger_p99_ms",
         "throughput_per_s", "errors", "server_threads", "server_peak_rss_mib"]


def test_concurrent_beats_parallel(start_server, tmp_path):
    shop = start_server("burgers", "--db", str(tmp_path / "shop.db"), "--cook-ms", "100",
                        "--ovens", "1000", "--log-level", "warning",
                        env={"AW_POOL_SIZE": "4"})
    svg = tmp_path / "rush.svg"
    out = subprocess.run([program("burger-rush"), shop.url, "--customers", "40",
                          "--burgers-each", "1", "--mode", "both", "--svg", str(svg),
                          "--timeout-s", "60"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    figures = dict(re.findall(r"^(\w+): ([0-9.]+)$", out.stdout, re.M))
    for mode in ("concurrent", "parallel"):
        for name in NAMES:
            assert f"{mode}_{name}" in figures, f"missing {mode}_{name}:\n{out.stdout}"
        assert float(figures[f"{mode}_errors"]) == 0
    conc = float(figures["concurrent_makespan_s"])
    par = float(figures["parallel_makespan_s"])
    # 40 customers, 100 ms each: the kitchen cooks them all at once (~0.1 s); the counter,
    # 4 at a time, needs 10 rounds (~1 s).
    assert par >= 0.9, out.stdout
    assert conc * 4 < par, out.stdout
    assert float(figures["parallel_counter_p99_ms"]) >= 900
    assert float(figures["concurrent_counter_p99_ms"]) < float(figures["parallel_counter_p99_ms"])
    doc = xml.dom.minidom.parse(str(svg))
    assert doc.documentElement.tagName == "svg"
    assert len(doc.getElementsByTagName("rect")) >= 40
