# SPDX-License-Identifier: MIT
"""Raw-socket helpers for the HTTP/1.1 conformance, smuggling and limits tests.

A strict response parser that knows about 1xx, HEAD, 204/304 and chunked
framing, a connection wrapper that reads one response at a time, and the
"one error response, then closed, nothing behind it answered" assertion.
"""
import json
import re
import socket
import threading
import time

# A valid request pipelined behind a bad one: it must never be answered. (It asks for
# close, so that a server that wrongly answers it does not keep the test waiting.)
SMUGGLED = b"GET /echo/smuggled HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"

STATUS_LINE = re.compile(rb"HTTP/1\.[01] (\d{3}) [^\r\n]*")


def show(b, head=400, tail=120):
    """A byte string for a failure message, shortened in the middle when long."""
    if b is None or len(b) <= head + tail:
        return repr(b)
    return f"{b[:head]!r} ...[{len(b) - head - tail} bytes]... {b[-tail:]!r}"


class Response:
    def __init__(self, version, status, reason, headers, body, raw):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (lower-case name, value) as str
        self.body = body
        self.raw = raw

    def header(self, name):
        for k, v in self.headers:
            if k == name.lower():
                return v
        return None

    def header_all(self, name):
        return [v for k, v in self.headers if k == name.lower()]

    def tokens(self, name):
        return {t.strip().lower() for v in self.header_all(name) for t in v.split(",") if t.strip()}

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<{self.status} {self.headers} {self.body[:120]!r}>"


class Incomplete(Exception):
    pass


def parse_one(buf, method=b"GET"):
    """Parses one response at the start of buf. Returns (Response, bytes used).

    Raises Incomplete when more bytes are needed, AssertionError on a malformed response.
    """
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        if len(buf) > 65536:
            raise AssertionError(f"response head too long: {buf[:200]!r}")
        if buf and not b"HTTP/1.1 ".startswith(buf[:9]) and not buf.startswith(b"HTTP/1."):
            raise AssertionError(f"not an HTTP/1.x response: {buf[:200]!r}")
        raise Incomplete()
    head = buf[:end]
    lines = head.split(b"\r\n")
    m = STATUS_LINE.fullmatch(lines[0])
    assert m, f"bad status line {lines[0]!r} in {buf[:300]!r}"
    assert lines[0].startswith(b"HTTP/1.1 "), f"response version is not HTTP/1.1: {lines[0]!r}"
    status = int(m.group(1))
    headers = []
    for line in lines[1:]:
        k, sep, v = line.partition(b":")
        assert sep and k and k == k.strip(), f"bad response field line {line!r}"
        headers.append((k.decode().lower(), v.strip().decode("latin-1")))
    pos = end + 4
    r = Response(b"HTTP/1.1", status, lines[0][13:], headers, b"", None)
    if 100 <= status < 200 or status in (204, 304) or method == b"HEAD":
        r.raw = buf[:pos]
        return r, pos
    te = r.header("transfer-encoding")
    cl = r.header_all("content-length")
    if te is not None:
        assert te.lower() == "chunked", f"response transfer-encoding {te!r}"
        assert not cl, "response with both Content-Length and Transfer-Encoding"
        body = b""
        while True:
            nl = buf.find(b"\r\n", pos)
            if nl < 0:
                raise Incomplete()
            size = int(buf[pos:nl].split(b";")[0], 16)
            pos = nl + 2
            if size == 0:
                tend = buf.find(b"\r\n", pos)
                while tend >= 0 and tend != pos:  # skip trailer fields
                    pos = tend + 2
                    tend = buf.find(b"\r\n", pos)
                if tend < 0:
                    raise Incomplete()
                pos += 2
                break
            if len(buf) < pos + size + 2:
                raise Incomplete()
            body += buf[pos:pos + size]
            assert buf[pos + size:pos + size + 2] == b"\r\n", "bad chunk in response"
            pos += size + 2
        r.body = body
    elif cl:
        assert len(set(cl)) == 1, f"response with Content-Length {cl}"
        n = int(cl[0])
        if len(buf) < pos + n:
            raise Incomplete()
        r.body = buf[pos:pos + n]
        pos += n
    else:  # delimited by close: the caller passes the whole stream
        r.body = buf[pos:]
        pos = len(buf)
    r.raw = buf[:pos]
    return r, pos


def parse(data, methods=None):
    """Parses a whole byte stream (read until close) into responses, 1xx included.

    methods: request methods in order, so that responses to HEAD are known to have no body.
    """
    out = []
    final = 0
    while data:
        method = methods[final] if methods and final < len(methods) else b"GET"
        try:
            r, used = parse_one(data, method)
        except Incomplete:
            raise AssertionError(f"incomplete response at the end of the stream: {data[:300]!r}")
        out.append(r)
        if r.status >= 200:
            final += 1
        data = data[used:]
    return out


def finals(responses):
    return [r for r in responses if r.status >= 200]


class Conn:
    """One client connection with a read buffer."""

    def __init__(self, server, timeout=5.0):
        self.sock = server.connect(timeout)
        self.buf = b""
        self.eof = False

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        self.sock.settimeout(left)
        try:
            b = self.sock.recv(65536)
        except socket.timeout:
            return False
        except ConnectionResetError:
            self.eof = True
            return False
        if not b:
            self.eof = True
            return False
        self.buf += b
        return True

    def response(self, method=b"GET", timeout=5.0, skip_1xx=True):
        """Reads the next response (skipping 1xx unless told). Returns None at EOF or timeout."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                r, used = parse_one(self.buf, method)
                self.buf = self.buf[used:]
                if skip_1xx and r.status < 200:
                    continue
                return r
            except Incomplete:
                pass
            if self.eof or not self._fill(deadline):
                return None

    def wait_data(self, timeout):
        """True if any byte (or EOF) arrives within timeout; does not consume."""
        if self.buf or self.eof:
            return True
        return self._fill(time.monotonic() + timeout) or self.eof

    def closed_within(self, timeout):
        """Reads until EOF; returns (closed, bytes read meanwhile)."""
        deadline = time.monotonic() + timeout
        while not self.eof and self._fill(deadline):
            pass
        data, self.buf = self.buf, b""
        return self.eof, data

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def exchange(server, data, timeout=5.0, shut=False, pieces=None, gap=0.0):
    """Sends data on a new connection (from a thread, so that a server that answers and
    closes early does not block us) and reads until the server closes or timeout.

    pieces: optional list of byte strings sent one by one with `gap` seconds between them.
    Returns (bytes received, closed by the server).
    """
    s = server.connect(timeout)
    to_send = pieces if pieces is not None else [data]

    def sender():
        try:
            for i, p in enumerate(to_send):
                if i and gap:
                    time.sleep(gap)
                s.sendall(p)
            if shut:
                s.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    t = threading.Thread(target=sender, daemon=True)
    t.start()
    chunks = []
    closed = False
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not b:
                closed = True
                break
            chunks.append(b)
    finally:
        t.join(timeout=timeout)
        s.close()
    return b"".join(chunks), closed


def assert_one_error(server, request, statuses, tail=SMUGGLED, timeout=3.0):
    """The request (with a valid one pipelined behind it) gets exactly one response with one of
    `statuses`, then the server closes the connection; the pipelined request is never run."""
    data, closed = exchange(server, request + tail, timeout)
    ctx = f"\nsent: {show(request + tail)}\ngot:  {show(data, 600)}"
    rs = parse(data)
    assert len(rs) >= 1, "no response" + ctx
    assert rs[0].status in statuses, f"status {rs[0].status}, expected one of {statuses}" + ctx
    assert len(rs) == 1, f"{len(rs)} responses, expected exactly one" + ctx
    assert b"smuggled" not in data, "the pipelined request was run" + ctx
    assert closed, "connection not closed after the error" + ctx
    assert rs[0].header("date"), "no Date header" + ctx
    return rs[0]


def assert_one_response_or_error(server, request, ok_check, error_statuses=(400,), timeout=3.0):
    """For inputs the RFC lets a server either accept or reject: either one error response
    and close, or a correct answer to the request and then to the pipelined one."""
    data, closed = exchange(server, request + SMUGGLED, timeout, shut=False)
    ctx = f"\nsent: {show(request + SMUGGLED)}\ngot:  {show(data, 600)}"
    rs = parse(data)
    assert rs, "no response" + ctx
    if rs[0].status in error_statuses:
        assert len(rs) == 1 and closed, "error not followed by close" + ctx
        return rs[0]
    assert rs[0].status == 200, f"status {rs[0].status}" + ctx
    ok_check(rs[0])
    assert len(rs) == 2 and rs[1].status == 200, "pipelined request not answered" + ctx
    assert rs[1].json()["target"] == "/echo/smuggled", ctx
    return rs[0]
