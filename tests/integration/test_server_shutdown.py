# SPDX-License-Identifier: MIT
"""SIGTERM: requests in flight finish; a second signal stops at once; the readiness path."""
import signal
import time

import httpx
import pytest

from server_util import exits_within, read_all, send_request


@pytest.mark.parametrize("workers", ["1", "3"])
def test_graceful_stop_loses_no_request_in_flight(start_server, workers):
    srv = start_server("echo", "--workers", workers, "--graceful-timeout", "4")
    socks = [send_request(srv, "/sleep?ms=1000") for _ in range(6)]
    time.sleep(0.3)  # every request is being handled now
    t0 = time.monotonic()
    srv.signal(signal.SIGTERM)
    for s in socks:
        (status, headers, body), = read_all(s)
        assert status == 200 and body == b"Hello, World!"
        assert headers["connection"] == "close"
    rc, took = exits_within(srv.proc, 4)
    assert rc == 0
    assert time.monotonic() - t0 < 2.5  # the requests' own time, not the 4 s grace


def test_no_new_connection_is_accepted_while_draining(start_server):
    srv = start_server("echo", "--graceful-timeout", "4")
    busy = send_request(srv, "/sleep?ms=700")
    time.sleep(0.2)
    srv.signal(signal.SIGTERM)
    time.sleep(0.2)
    with pytest.raises(httpx.ConnectError):
        httpx.get(srv.url + "/plaintext", timeout=2)
    (status, _, _), = read_all(busy)
    assert status == 200
    assert exits_within(srv.proc, 3)[0] == 0


@pytest.mark.parametrize("workers", ["1", "2"])
def test_second_signal_stops_at_once(start_server, workers):
    srv = start_server("echo", "--workers", workers, "--graceful-timeout", "30")
    socks = [send_request(srv, "/sleep?ms=4000") for _ in range(4)]
    time.sleep(0.3)
    srv.signal(signal.SIGTERM)
    time.sleep(0.3)
    assert srv.proc.poll() is None  # draining: waiting for the sleepers
    srv.signal(signal.SIGTERM)
    rc, took = exits_within(srv.proc, 3)
    assert rc == 0
    assert took < 1.5
    for s in socks:
        for status, _, _ in read_all(s):
            assert status != 200  # cut short: no full answer, or an error status
    _, err = srv.stop()
    assert "again: stopping" in err, err


def test_sigquit_stops_at_once(start_server):
    srv = start_server("echo", "--graceful-timeout", "30")
    s = send_request(srv, "/sleep?ms=4000")
    time.sleep(0.3)
    srv.signal(signal.SIGQUIT)
    rc, took = exits_within(srv.proc, 3)
    assert rc == 0 and took < 1.5
    read_all(s)


def test_readiness_path_200_then_503_while_draining(start_server):
    srv = start_server("echo", "--readiness-path", "/ready", "--graceful-timeout", "4")
    with httpx.Client(base_url=srv.url) as c:
        r = c.get("/ready")
        assert r.status_code == 200 and r.text == "ready\n"
        assert r.headers["cache-control"] == "no-store"
        r = c.head("/ready")
        assert r.status_code == 200 and r.content == b""
        # Only GET and HEAD are the probe's; the rest reach the application.
        assert c.post("/ready").status_code == 404
        assert c.get("/ready/x").status_code == 404
    # A probe whose head is half sent when the stop begins: its connection is
    # busy, so it is answered, and the answer must say "draining".
    probe = srv.connect()
    probe.sendall(b"GET /ready HTTP/1.1\r\nHost: x\r\n")
    time.sleep(0.2)
    srv.signal(signal.SIGTERM)
    time.sleep(0.2)
    probe.sendall(b"\r\n")
    (status, headers, body), = read_all(probe)
    assert status == 503
    assert body == b"draining\n" and headers["connection"] == "close"
    assert exits_within(srv.proc, 3)[0] == 0


def test_drain_delay_keeps_accepting_with_connection_close(start_server):
    """With --drain-delay, a SIGTERM first keeps serving new connections, each answered with
    Connection: close and the readiness path with 503, then the worker drains and exits."""
    import signal as _signal
    import time as _time

    import httpx as _httpx

    srv = start_server("echo", "--drain-delay", "0.6", "--readiness-path", "/ready")
    with _httpx.Client(base_url=srv.url) as c:
        assert c.get("/ready").status_code == 200
    srv.signal(_signal.SIGTERM)
    _time.sleep(0.2)
    with _httpx.Client(base_url=srv.url) as c:  # a new connection, still accepted
        r = c.get("/plaintext")
        assert r.status_code == 200
        assert r.headers["connection"] == "close"
    with _httpx.Client(base_url=srv.url) as c:
        assert c.get("/ready").status_code == 503
    srv.proc.wait(timeout=5)
    rc, err = srv.stop()
    assert rc == 0, err
