# SPDX-License-Identifier: MIT
"""Limits and timeouts of examples/echo (../shared/echo-contract.md "Limits"), with the
defaults, and with small timeouts given as options; concurrency limits and 10,000 open
connections."""
import hashlib
import resource
import selectors
import socket
import time

import pytest

from rawhttp import Conn, assert_one_error, exchange, parse, show

MIB = 1024 * 1024
TOO_LARGE_HEAD = (431, 400)  # the contract accepts 400 for the header limits


def get(target=b"/echo", fields=b"", close=True):
    return (b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n" + fields +
            (b"Connection: close\r\n" if close else b"") + b"\r\n")


def only(server, request, timeout=10.0):
    data, closed = exchange(server, request, timeout)
    rs = parse(data)
    assert len(rs) == 1, f"sent {show(request)}\ngot {show(data)}"
    assert closed
    return rs[0]


# ---- request target -------------------------------------------------------------------------------

def test_target_4000_bytes_accepted(echo):
    target = b"/echo/" + b"a" * (4000 - 6 - 4) + b"?q=1"
    assert len(target) == 4000
    r = only(echo, get(target))
    assert r.status == 200 and r.json()["target"] == target.decode()


def test_target_64k_gets_414(echo):
    target = b"/echo/" + b"a" * (64 * 1024 - 6)
    assert_one_error(echo, get(target, close=False), (414,))


# ---- header section --------------------------------------------------------------------------------

def fields_of(n, total_line_bytes):
    """n field lines (each ending in CRLF) of total_line_bytes bytes together."""
    base = total_line_bytes // n
    out = []
    for i in range(n):
        size = base + (1 if i < total_line_bytes % n else 0)
        name = b"X-F%03d: " % i
        out.append(name + b"v" * (size - len(name) - 2) + b"\r\n")
    blob = b"".join(out)
    assert len(blob) == total_line_bytes
    return blob


def test_header_section_6k_50_fields_2k_line_accepted(echo):
    start = b"GET /echo/h HTTP/1.1\r\n"
    host = b"Host: x\r\n"
    long_line = b"X-Long: " + b"L" * (2048 - 8 - 2) + b"\r\n"
    assert len(long_line) == 2048
    rest = 6 * 1024 - len(start) - len(host) - len(long_line) - 2
    head = start + host + long_line + fields_of(48, rest) + b"\r\n"
    assert len(head) == 6 * 1024 and head.count(b"\r\n") == 1 + 50 + 1
    data, closed = exchange(echo, head + get(b"/echo/after"))
    rs = parse(data)
    assert [r.status for r in rs] == [200, 200], data[:300]
    assert len(rs[0].json()["headers"]) == 50


def test_50_short_fields_accepted(echo):
    r = only(echo, get(fields=fields_of(49, 49 * 20)))
    assert r.status == 200


@pytest.mark.parametrize("size", [2048, 4096])
def test_single_long_field_line_accepted(echo, size):
    line = b"Cookie: " + b"c" * (size - 10) + b"\r\n"
    assert len(line) == size
    assert only(echo, get(fields=line)).status == 200


def test_field_of_64k_refused(echo):
    assert_one_error(echo, get(fields=b"X-Big: " + b"a" * 65536 + b"\r\n", close=False),
                     TOO_LARGE_HEAD)


def test_header_section_of_128k_refused(echo):
    assert_one_error(echo, get(fields=fields_of(128, 128 * 1024), close=False), TOO_LARGE_HEAD)


def test_10000_fields_refused(echo):
    fields = b"".join(b"X-%d: v\r\n" % i for i in range(10000))
    assert_one_error(echo, get(fields=fields, close=False), TOO_LARGE_HEAD)


def test_10000_tiny_fields_refused(echo):
    assert_one_error(echo, get(fields=b"a:\r\n" * 10000, close=False), TOO_LARGE_HEAD)


def test_field_name_of_16k_refused(echo):
    assert_one_error(echo, get(fields=b"X" * 16384 + b": v\r\n", close=False), TOO_LARGE_HEAD)


# ---- chunk extensions and trailers ------------------------------------------------------------------

CHUNKED_POST = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"


def test_a_few_short_chunk_extensions_accepted(echo):
    body = b"".join(b"1;n%d=v%d;m=\"q\"\r\nx\r\n" % (i, i) for i in range(20)) + b"0;end=1\r\n\r\n"
    r = only(echo, CHUNKED_POST.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n") + body)
    assert r.status == 200 and r.json()["body_length"] == 20


def test_one_mib_chunk_extension_refused(echo):
    body = b"1;a=" + b"b" * MIB + b"\r\nx\r\n0\r\n\r\n"
    assert_one_error(echo, CHUNKED_POST + body, (400, 413, 431), timeout=10)


def test_many_chunks_each_with_extensions_bounded(echo):
    # RFC 9112 7.1.1: limit the total length of chunk extensions in a request.
    one = b"1;" + b"e" * 1000 + b"\r\nx\r\n"
    body = one * 1024 + b"0\r\n\r\n"  # 1 MiB of extensions, 1 KiB of data
    assert_one_error(echo, CHUNKED_POST + body, (400, 413, 431), timeout=10)


def test_a_few_short_trailers_accepted(echo):
    body = b"3\r\nabc\r\n0\r\nX-A: 1\r\nX-B: 2\r\nX-C: three\r\n\r\n"
    r = only(echo, CHUNKED_POST.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n") + body)
    assert r.status == 200 and r.json()["body_length"] == 3


@pytest.mark.parametrize("shape", ["one field", "many fields"])
def test_one_mib_of_trailers_refused(echo, shape):
    if shape == "one field":
        trailers = b"X-T: " + b"t" * MIB + b"\r\n"
    else:
        trailers = b"".join(b"X-T%d: " % i + b"t" * 1000 + b"\r\n" for i in range(1050))
    body = b"3\r\nabc\r\n0\r\n" + trailers + b"\r\n"
    assert_one_error(echo, CHUNKED_POST + body, (431, 400, 413), timeout=10)


# ---- body size ----------------------------------------------------------------------------------------

def test_body_of_exactly_1_mib_content_length(echo):
    body = bytes(range(256)) * (MIB // 256)
    req = (b"POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n"
           % len(body) + body)
    r = only(echo, req)
    assert r.status == 200
    assert r.json()["body_length"] == MIB
    assert r.json()["body_sha256"] == hashlib.sha256(body).hexdigest()


def test_body_of_1_mib_plus_one_content_length_413(echo):
    body = b"z" * (MIB + 1)
    req = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    assert_one_error(echo, req, (413,), timeout=10)


def chunked_body(n, chunk=64 * 1024):
    out = []
    while n:
        k = min(n, chunk)
        out.append(b"%x\r\n" % k + b"c" * k + b"\r\n")
        n -= k
    return b"".join(out) + b"0\r\n\r\n"


def test_body_of_exactly_1_mib_chunked(echo):
    req = (b"POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
           + chunked_body(MIB))
    r = only(echo, req)
    assert r.status == 200 and r.json()["body_length"] == MIB


@pytest.mark.parametrize("chunk", [64 * 1024, MIB + 1, 1000])
def test_body_of_1_mib_plus_one_chunked_413(echo, chunk):
    req = CHUNKED_POST + chunked_body(MIB + 1, chunk)
    assert_one_error(echo, req, (413,), timeout=10)


def test_huge_content_length_413_at_once(echo):
    with Conn(echo) as c:
        c.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000000\r\n\r\nabc")
        r = c.response(timeout=3)
        assert r is not None and r.status == 413
        assert c.closed_within(3)[0]


# ---- timeouts -----------------------------------------------------------------------------------------

SLACK = 2.5  # seconds allowed beyond a 1 s timeout (ASan builds, loaded machines)


def wait_close(c, limit):
    """Returns (seconds until the server closed, bytes received) or fails after `limit`."""
    t0 = time.monotonic()
    closed, data = c.closed_within(limit)
    assert closed, f"not closed within {limit} s; got {data[:200]!r}"
    return time.monotonic() - t0, data


@pytest.mark.parametrize("partial", [
    b"GET /echo HTTP/1.1\r\nHost:",
    b"GET /echo HTTP/1.1\r\nHost: x\r\n",
    b"GET /ec",
    b"G",
])
def test_header_timeout_client_stops_mid_head(start_server, partial):
    srv = start_server("echo", "--header-timeout", "1")
    with Conn(srv) as c:
        c.send(partial)
        t, data = wait_close(c, 1 + SLACK + 2)
    assert 0.7 <= t <= 1 + SLACK, f"closed after {t:.2f} s"
    rs = parse(data)
    assert len(rs) <= 1 and all(r.status == 408 for r in rs), data[:300]


def test_header_timeout_silent_connection_closed(start_server):
    srv = start_server("echo", "--header-timeout", "1")
    with Conn(srv) as c:
        t, data = wait_close(c, 1 + SLACK + 2)
    assert 0.7 <= t <= 1 + SLACK, f"closed after {t:.2f} s"
    assert data == b"" or parse(data)[0].status == 408


def test_header_timeout_slow_client_completing_in_time_served(start_server):
    srv = start_server("echo", "--header-timeout", "1")
    head = b"GET /echo/slow HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nConnection: close\r\n\r\n"
    pieces = [head[i:i + 8] for i in range(0, len(head), 8)]
    gap = 0.6 / len(pieces)
    data, closed = exchange(srv, None, pieces=pieces, gap=gap, timeout=5)
    rs = parse(data)
    assert [r.status for r in rs] == [200], data[:300]


def test_header_timeout_bounds_the_whole_head_not_each_read(start_server):
    # slowloris: one byte every 0.25 s never lets a per-read timer fire; the header timeout is
    # "to receive a request head" (--help) and must end the connection (408 or close).
    srv = start_server("echo", "--header-timeout", "1")
    head = b"GET /echo HTTP/1.1\r\nHost: x\r\n" + b"X-A: " + b"a" * 100
    with Conn(srv) as c:
        t0 = time.monotonic()
        closed = False
        for b in head:
            try:
                c.send(bytes([b]))
            except OSError:
                closed = True
                break
            if c.wait_data(0.25):
                closed = True
                break
            if time.monotonic() - t0 > 1 + SLACK + 1:
                break
        t = time.monotonic() - t0
        if closed:
            data = c.closed_within(2)[1]
    assert closed, f"a client trickling its head was still connected after {t:.1f} s (timeout 1 s)"
    assert t <= 1 + SLACK, f"closed only after {t:.2f} s"
    rs = parse(data) if data else []
    assert all(r.status == 408 for r in rs)


def test_keep_alive_idle_timeout(start_server):
    srv = start_server("echo", "--timeout-keep-alive", "1")
    with Conn(srv) as c:
        c.send(get(close=False))
        assert c.response().status == 200
        t, data = wait_close(c, 1 + SLACK + 2)
    assert 0.7 <= t <= 1 + SLACK, f"idle keep-alive connection closed after {t:.2f} s"
    assert data == b""


def test_keep_alive_timer_restarts_with_each_request(start_server):
    srv = start_server("echo", "--timeout-keep-alive", "1")
    with Conn(srv) as c:
        for i in range(5):  # 5 x 0.5 s > the 1 s timeout
            c.send(get(b"/echo/%d" % i, close=False))
            r = c.response(timeout=3)
            assert r is not None and r.status == 200, f"request {i} not answered"
            time.sleep(0.5)


def test_default_keep_alive_at_least_3s(echo):
    with Conn(echo) as c:
        c.send(get(close=False))
        assert c.response().status == 200
        time.sleep(3)
        c.send(get(b"/echo/again", close=False))
        r = c.response(timeout=3)
        assert r is not None and r.json()["target"] == "/echo/again"


@pytest.mark.parametrize("head,sent", [
    (b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n", b"abc"),
    (b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n", b""),
    (b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", b"a\r\nabc"),
    (b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", b"3\r\nabc\r\n"),
])
def test_body_timeout_stalled_body_408(start_server, head, sent):
    srv = start_server("echo", "--body-timeout", "1")
    with Conn(srv) as c:
        c.send(head + sent)
        t, data = wait_close(c, 1 + SLACK + 2)
    rs = parse(data)
    assert [r.status for r in rs] == [408], data[:300]
    assert 0.7 <= t <= 1 + SLACK, f"closed after {t:.2f} s"


def test_body_timeout_slow_body_within_timeout_served(start_server):
    srv = start_server("echo", "--body-timeout", "1")
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nConnection: close\r\n\r\n"
    data, closed = exchange(srv, None, pieces=[head, b"ab", b"cd", b"ef"], gap=0.4, timeout=5)
    rs = parse(data)
    assert [r.status for r in rs] == [200] and rs[0].json()["body_length"] == 6


# ---- connections -------------------------------------------------------------------------------------

def test_limit_concurrency_waits_then_serves(start_server):
    srv = start_server("echo", "--limit-concurrency", "2")
    a, b = Conn(srv), Conn(srv)
    try:
        for c in (a, b):
            c.send(get(close=False))
            assert c.response(timeout=3).status == 200
        with Conn(srv) as third:
            third.send(get(b"/echo/third"))
            assert not third.wait_data(1.0), f"a third connection was served: {third.buf[:100]!r}"
            a.close()
            r = third.response(timeout=3)
            assert r is not None and r.json()["target"] == "/echo/third"
        b.send(get(b"/echo/b", close=False))
        assert b.response(timeout=3).json()["target"] == "/echo/b"
    finally:
        a.close()
        b.close()


def test_256_connections_idle_and_half_sent_while_others_served(echo):
    conns = []
    try:
        for i in range(200):
            conns.append(Conn(echo))
        for i in range(50):
            c = Conn(echo)
            c.send(b"GET /echo/half HTTP/1.1\r\nHost: x\r\nX-A: ")
            conns.append(c)
        t0 = time.monotonic()
        for i in range(6):
            r = only(echo, get(b"/echo/%d" % i), timeout=3)
            assert r.status == 200
        assert time.monotonic() - t0 < 2
        for c in conns[:5] + conns[200:205]:
            c.send(b"1\r\n\r\n" if c in conns[200:] else get(b"/echo/late", close=False))
            r = c.response(timeout=3)
            assert r is not None and r.status == 200
    finally:
        for c in conns:
            c.close()


def test_10000_concurrent_connections(start_server):
    N = 10000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = N + 1000
    if hard != resource.RLIM_INFINITY and hard < want:
        pytest.fail(f"RLIMIT_NOFILE hard limit {hard} < {want}: cannot hold {N} connections")
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    socks = []
    sel = selectors.DefaultSelector()
    t_start = time.monotonic()
    try:
        # The server inherits the raised limit.
        srv = start_server("echo", "--header-timeout", "60", "--log-level", "warning")
        with open(f"/proc/{srv.proc.pid}/limits") as f:
            line = next(x for x in f if x.startswith("Max open files"))
        assert int(line.split()[3]) >= want, line
        for i in range(N):
            s = socket.socket()
            s.setblocking(True)
            s.settimeout(5)
            s.connect(("127.0.0.1", srv.port))
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            socks.append(s)
        t_open = time.monotonic() - t_start
        time.sleep(0.5)
        # None was closed by the server.
        for i, s in enumerate(socks):
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ, i)
        early = sel.select(timeout=0)
        assert not early, f"{len(early)} of {N} connections got data or EOF before any request"
        # A request on each connection, all answered.
        sample = list(range(N))  # every connection, not only a sample: it is cheap
        req = b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n"
        for i in sample:
            socks[i].send(req)
        bufs = {i: b"" for i in sample}
        done = set()
        deadline = time.monotonic() + 15
        while len(done) < len(sample) and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=1):
                i = key.data
                try:
                    b = socks[i].recv(65536)
                except BlockingIOError:
                    continue
                assert i in bufs, f"connection {i} got {b[:100]!r} without a request"
                assert b, f"connection {i} closed before answering"
                bufs[i] += b
                try:
                    rs = parse(bufs[i])
                except AssertionError:
                    continue
                if rs:
                    assert rs[0].status == 200
                    done.add(i)
                    sel.unregister(socks[i])
        missing = sorted(set(sample) - done)
        assert not missing, (f"{len(missing)} of {len(sample)} requests unanswered (opened {N} in "
                             f"{t_open:.1f} s): connections {missing[:10]}, received "
                             f"{[bufs[i][:80] for i in missing[:3]]}")
    finally:
        sel.close()
        for s in socks:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert time.monotonic() - t_start < 30
