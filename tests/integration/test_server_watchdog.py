# SPDX-License-Identifier: MIT
"""The loop watchdog: a handler that blocks the loop is named on stderr; awaiting is fine."""
import re

import httpx

BLOCKED = re.compile(r"event loop blocked for (\d+) ms while serving GET /block \(a blocking call "
                     r"in an async handler\? use aw_run_blocking\)")
UNBLOCKED = re.compile(r"event loop unblocked after (\d+) ms \(it was serving GET /block\)")


def test_blocking_handler_is_reported_with_its_route(start_server):
    srv = start_server("echo", "--watchdog-ms", "150")
    with httpx.Client(base_url=srv.url) as c:
        assert c.get("/block?ms=600").status_code == 200
        assert c.get("/plaintext").status_code == 200
    rc, err = srv.stop()
    assert rc == 0
    m = BLOCKED.search(err)
    assert m, err
    assert 150 <= int(m.group(1)) < 600
    m = UNBLOCKED.search(err)
    assert m, err
    assert 550 <= int(m.group(1)) < 1500
    assert len(BLOCKED.findall(err)) == 1  # one report per episode, not one per sample


def test_awaiting_handler_and_idle_loop_are_not_reported(start_server):
    srv = start_server("echo", "--watchdog-ms", "100")
    with httpx.Client(base_url=srv.url) as c:
        assert c.get("/sleep?ms=500").status_code == 200
    rc, err = srv.stop()
    assert rc == 0
    assert "event loop" not in err, err


def test_watchdog_off(start_server):
    srv = start_server("echo", "--watchdog-ms", "0")
    with httpx.Client(base_url=srv.url) as c:
        assert c.get("/block?ms=300").status_code == 200
    rc, err = srv.stop()
    assert rc == 0
    assert "event loop" not in err, err


def test_default_threshold_is_500_ms_in_workers_too(start_server):
    srv = start_server("echo", "--workers", "2")
    with httpx.Client(base_url=srv.url) as c:
        assert c.get("/block?ms=200").status_code == 200
        assert c.get("/block?ms=800").status_code == 200
    rc, err = srv.stop()
    assert rc == 0
    found = [int(ms) for ms in BLOCKED.findall(err)]
    assert len(found) == 1 and found[0] >= 500, err
