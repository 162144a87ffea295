# SPDX-License-Identifier: MIT
"""HTTP/1.1 conformance of examples/echo against ../shared/echo-contract.md and RFC 9110/9112:
the endpoint table, the echo report, persistence, pipelining, chunked bodies in every
fragmentation, Expect: 100-continue and HEAD."""
import email.utils
import hashlib
import time

import httpx
import pytest

from rawhttp import SMUGGLED, Conn, exchange, finals, parse

CLOSE = b"Connection: close\r\n"


def one(server, request, methods=None, timeout=5.0):
    """Sends one request with Connection: close; returns (final response, all responses)."""
    data, closed = exchange(server, request, timeout)
    rs = parse(data, methods)
    fs = finals(rs)
    assert len(fs) == 1, f"sent {request!r}\ngot {data[:500]!r}"
    assert closed, f"not closed after Connection: close: {data[:300]!r}"
    return fs[0]


def req(method, target, extra=b"", body=None, version=b"HTTP/1.1"):
    h = b"Host: x\r\n" + extra + CLOSE
    if body is not None:
        h += b"Content-Length: %d\r\n" % len(body)
    return method + b" " + target + b" " + version + b"\r\n" + h + b"\r\n" + (body or b"")


# ---- the endpoint table ---------------------------------------------------------------------------

@pytest.mark.parametrize("target", [b"/echo", b"/echo/", b"/echo/x?y=1", b"/echo?q"])
@pytest.mark.parametrize("method", [b"GET", b"POST", b"PUT"])
def test_echo_methods_answer_200_with_report(echo, method, target):
    body = b"hello" if method != b"GET" else None
    r = one(echo, req(method, target, body=body))
    assert r.status == 200
    assert r.header("content-type").startswith("application/json")
    rep = r.json()
    assert rep["method"] == method.decode()
    assert rep["target"] == target.decode()
    assert rep["body_length"] == (5 if body else 0)


def test_head_on_echo_path_same_headers_no_body(echo):
    g = one(echo, req(b"GET", b"/echo/h"))
    data, closed = exchange(echo, req(b"HEAD", b"/echo/h"))
    head, sep, rest = data.partition(b"\r\n\r\n")
    assert sep and head.startswith(b"HTTP/1.1 200 "), data
    assert rest == b"", f"HEAD response carries a body: {rest!r}"
    h = parse(data, [b"HEAD"])[0]
    assert h.header("content-type") == g.header("content-type")
    # The representation differs only in "method", so the length differs by len("HEAD")-len("GET").
    assert int(h.header("content-length")) == int(g.header("content-length")) + 1


@pytest.mark.parametrize("method", [b"DELETE", b"PATCH", b"OPTIONS", b"TRACE"])
def test_known_methods_on_echo_path_405_with_allow(echo, method):
    r = one(echo, req(method, b"/echo/x"))
    assert r.status == 405
    allow = r.tokens("allow")
    assert allow and method.decode().lower() not in allow
    assert {"get", "head", "post", "put"} <= allow


@pytest.mark.parametrize("method", [b"FROBNICATE", b"get", b"Get", b"PROPFIND"])
def test_unknown_method_token_501(echo, method):
    data, closed = exchange(echo, req(method, b"/echo"))
    rs = parse(data)
    assert len(rs) == 1 and rs[0].status in (501, 405), f"{method!r}: {data[:300]!r}"
    assert closed


@pytest.mark.parametrize("method", [b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"OPTIONS"])
@pytest.mark.parametrize("target", [b"/", b"/echox", b"/ech", b"/x/echo", b"/ECHO", b"/missing?echo"])
def test_other_paths_404(echo, method, target):
    body = b"hello" if method == b"POST" else None
    r = one(echo, req(method, target, body=body), methods=[method])
    assert r.status == 404, f"{method!r} {target!r}: {r}"


def test_unknown_method_on_other_path_404_or_501(echo):
    # The contract's "any method on any other path: 404" meets "an unknown token: 501".
    r = one(echo, req(b"FROBNICATE", b"/nope"))
    assert r.status in (404, 501)


def test_404_with_body_discards_it_or_closes(echo):
    # The body of a request to an unknown path must not be read as the next request.
    body = b"GET /echo/inbody HTTP/1.1\r\nHost: x\r\n\r\n"
    bad = b"POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    data, closed = exchange(echo, bad + req(b"GET", b"/echo/after"))
    rs = parse(data)
    assert rs[0].status == 404
    assert b"inbody" not in data
    if len(rs) == 1:
        assert closed
    else:
        assert len(rs) == 2 and rs[1].json()["target"] == "/echo/after"


def test_options_asterisk(echo):
    r = one(echo, b"OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert r.status in (200, 204), r


def test_options_asterisk_keeps_connection(echo):
    data, closed = exchange(echo, b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n" + req(b"GET", b"/echo/n"))
    rs = parse(data)
    assert [r.status for r in rs][:1] in ([200], [204]) and len(rs) == 2, data
    assert rs[1].json()["target"] == "/echo/n"


@pytest.mark.parametrize("target", [b"example.com:443", b"127.0.0.1:22", b"[::1]:80"])
def test_connect_refused_never_a_tunnel(echo, target):
    tunnel = b"SSH-2.0-OpenSSH\r\n" + SMUGGLED
    data, closed = exchange(echo, b"CONNECT " + target + b" HTTP/1.1\r\nHost: " + target +
                            b"\r\n\r\n" + tunnel)
    rs = parse(data)
    assert rs and rs[0].status in (400, 405, 501), data[:300]
    assert len(rs) == 1 and closed, f"after a refused CONNECT: {data[:500]!r}"


# ---- the echo report ------------------------------------------------------------------------------

@pytest.mark.parametrize("target", [
    b"/echo/a%20b?q=1",
    b"/echo/../echo/./x",
    b"/echo/%2e%2e/%2F/x",
    b"/echo//double//slash",
    b"/echo?",
    b"/echo/x?a=b&c=%ZZ&d=%",
    b"/echo/~user;p=1,2/!$&'()*+=:@",
    b"/echo/x?q=/?:@",
    b"/echo/%00%FF",
])
def test_report_target_exactly_as_received(echo, target):
    r = one(echo, req(b"GET", target))
    assert r.status == 200
    assert r.json()["target"] == target.decode()


@pytest.mark.parametrize("target,path", [
    (b"http://x/echo/abs?q=1", "/echo/abs?q=1"),
    (b"http://x:8080/echo", "/echo"),
    (b"HTTP://X/echo/up", "/echo/up"),
    (b"http://127.0.0.1/echo?x=http://y/", "/echo?x=http://y/"),
])
def test_absolute_form_target(echo, target, path):
    r = one(echo, req(b"GET", target))
    assert r.status == 200, r
    assert r.json()["target"] in (target.decode(), path)


@pytest.mark.parametrize("target", [b"http://x", b"http://x/", b"http://x/echox", b"http://x/nope/echo"])
def test_absolute_form_other_paths_404(echo, target):
    assert one(echo, req(b"GET", target)).status == 404


def test_report_body_length_content_length(echo):
    body = bytes(range(256)) * 40
    r = one(echo, req(b"PUT", b"/echo/cl", body=body))
    assert r.json()["body_length"] == len(body)
    assert r.json()["body_sha256"] == hashlib.sha256(body).hexdigest()


def test_report_body_length_zero(echo):
    for extra in (b"", b"Content-Length: 0\r\n", b"Transfer-Encoding: chunked\r\n"):
        body = b"0\r\n\r\n" if b"chunked" in extra else b""
        r = one(echo, b"POST /echo HTTP/1.1\r\nHost: x\r\n" + extra + CLOSE + b"\r\n" + body)
        assert r.status == 200 and r.json()["body_length"] == 0, (extra, r)


def test_report_body_length_after_chunked_decoding(echo):
    chunks = [b"a" * 1, b"b" * 15, b"c" * 16, b"d" * 4096]
    wire = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    r = one(echo, b"POST /echo/ch HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n" + CLOSE +
            b"\r\n" + wire)
    assert r.status == 200
    assert r.json()["body_length"] == sum(map(len, chunks))
    assert r.json()["body_sha256"] == hashlib.sha256(b"".join(chunks)).hexdigest()


# ---- responses in general -------------------------------------------------------------------------

@pytest.mark.parametrize("request_bytes,status", [
    (b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n", 200),
    (b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n", 200),
    (b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", 404),
    (b"DELETE /echo HTTP/1.1\r\nHost: x\r\n\r\n", 405),
    (b"FROBNICATE /echo HTTP/1.1\r\nHost: x\r\n\r\n", 501),
    (b"GET /echo HTTP/1.1\r\n\r\n", 400),
    (b"GET /echo HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n", 400),
])
def test_date_header_on_every_response(echo, request_bytes, status):
    data, _ = exchange(echo, request_bytes.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
                       if b"Host" in request_bytes else request_bytes)
    r = parse(data)[0]
    assert r.status == status
    dates = r.header_all("date")
    assert len(dates) == 1, r.headers
    assert dates[0].endswith(" GMT")
    when = email.utils.parsedate_to_datetime(dates[0]).timestamp()
    assert abs(when - time.time()) < 5
    assert r.header("content-length") is not None or r.header("transfer-encoding") == "chunked"


def test_http10_closes_by_default(echo):
    data, closed = exchange(echo, b"GET /echo/10 HTTP/1.0\r\n\r\n" + SMUGGLED, timeout=3)
    rs = parse(data)
    assert closed, "HTTP/1.0 connection left open without keep-alive"
    assert len(rs) == 1 and rs[0].status == 200 and rs[0].json()["target"] == "/echo/10"
    assert "keep-alive" not in rs[0].tokens("connection")


def test_http10_keep_alive_when_requested(echo):
    with Conn(echo) as c:
        for i in range(3):
            c.send(b"GET /echo/%d HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" % i)
            r = c.response(timeout=3)
            assert r is not None and r.status == 200, f"request {i} not answered"
            assert r.json()["target"] == "/echo/%d" % i
            assert "keep-alive" in r.tokens("connection"), r.headers
            assert r.header("content-length") is not None
        c.send(b"GET /echo/last HTTP/1.0\r\n\r\n")
        r = c.response(timeout=3)
        assert r.status == 200
        closed, rest = c.closed_within(3)
        assert closed and rest == b""


def test_http10_post_keep_alive(echo):
    with Conn(echo) as c:
        c.send(b"POST /echo HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nabc")
        r = c.response()
        assert r.status == 200 and r.json()["body_length"] == 3
        assert "keep-alive" in r.tokens("connection")
        c.send(b"GET /echo/2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        assert c.response().json()["target"] == "/echo/2"


def test_http11_persistent_by_default(echo):
    with Conn(echo) as c:
        for i in range(3):
            c.send(b"GET /echo/%d HTTP/1.1\r\nHost: x\r\n\r\n" % i)
            r = c.response(timeout=3)
            assert r is not None and r.status == 200
            assert "close" not in r.tokens("connection")
            time.sleep(0.05)
        assert not c.closed_within(0.3)[0]


def test_http11_connection_close(echo):
    with Conn(echo) as c:
        c.send(b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        r = c.response()
        assert r.status == 200
        assert "close" in r.tokens("connection")
        closed, rest = c.closed_within(3)
        assert closed and rest == b""


def test_pipelined_mixed_requests_answered_in_order(echo):
    reqs = [
        (b"GET", b"GET /echo/1 HTTP/1.1\r\nHost: x\r\n\r\n"),
        (b"POST", b"POST /echo/2 HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nabcd"),
        (b"HEAD", b"HEAD /echo/3 HTTP/1.1\r\nHost: x\r\n\r\n"),
        (b"GET", b"GET /nope/4 HTTP/1.1\r\nHost: x\r\n\r\n"),
        (b"PUT", b"PUT /echo/5 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"3\r\nxyz\r\n0\r\n\r\n"),
        (b"DELETE", b"DELETE /echo/6 HTTP/1.1\r\nHost: x\r\n\r\n"),
        (b"GET", b"GET /echo/7 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    ]
    data, closed = exchange(echo, b"".join(r for _, r in reqs))
    rs = parse(data, [m for m, _ in reqs])
    assert [r.status for r in rs] == [200, 200, 200, 404, 200, 405, 200], data[:2000]
    assert rs[0].json()["target"] == "/echo/1"
    assert rs[1].json()["body_length"] == 4
    assert rs[2].body == b""
    assert rs[4].json()["body_length"] == 3 and rs[4].json()["method"] == "PUT"
    assert rs[6].json()["target"] == "/echo/7"
    assert closed


def test_pipelined_in_separate_writes(echo):
    with Conn(echo) as c:
        for i in range(10):
            c.send(b"GET /echo/%d HTTP/1.1\r\nHost: x\r\n\r\n" % i)
        for i in range(10):
            r = c.response()
            assert r is not None and r.json()["target"] == "/echo/%d" % i


@pytest.mark.parametrize("extra,body", [
    (b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n", None),
    (b"Connection: Upgrade\r\nUpgrade: h2c\r\n", b"hello"),
    (b"Connection: upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
     b"Sec-WebSocket-Version: 13\r\n", None),
])
def test_upgrade_ignored_answered_as_http11(echo, extra, body):
    method = b"POST" if body else b"GET"
    first = method + b" /echo/up HTTP/1.1\r\nHost: x\r\n" + extra
    if body:
        first += b"Content-Length: %d\r\n" % len(body)
    first += b"\r\n" + (body or b"")
    # HTTP/2 connection preface right behind: must be read as (bad) HTTP/1.1, never as h2.
    data, closed = exchange(echo, first + req(b"GET", b"/echo/next"))
    rs = parse(data)
    assert rs[0].status == 200, data[:300]
    assert rs[0].json()["body_length"] == (len(body) if body else 0)
    assert "upgrade" not in rs[0].tokens("connection") and rs[0].header("upgrade") is None
    assert len(rs) == 2 and rs[1].json()["target"] == "/echo/next", data[:800]


def test_httpx_client_basic_flow(echo):
    with httpx.Client(base_url=echo.url) as c:
        r = c.put("/echo/x?y=1", content=b"abc")
        assert r.status_code == 200 and r.json()["target"] == "/echo/x?y=1"
        r = c.post("/echo", content=iter([b"ab", b"cd", b"ef"]))  # sent chunked
        assert r.json()["body_length"] == 6
        r = c.options("/echo")
        assert r.status_code == 405 and "GET" in r.headers["allow"]
        assert c.head("/echo").content == b""


# ---- chunked request bodies -----------------------------------------------------------------------

CHUNKED_BODY = (b"5;name=value\r\nhello\r\n"
                b"1;q=\"quoted;str=x\"\r\n \r\n"
                b"A;flag;x=y\r\n0123456789\r\n"
                b"0;last=1\r\n"
                b"X-Trailer: one\r\nX-Other: two\r\n\r\n")
CHUNKED_DECODED = b"hello 0123456789"
CHUNKED_REQ = (b"POST /echo/chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
               b"Trailer: X-Trailer, X-Other\r\n\r\n" + CHUNKED_BODY)
NEXT_REQ = b"GET /echo/next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


def check_chunked_pair(data, closed, what):
    rs = parse(data)
    assert [r.status for r in rs] == [200, 200], f"{what}: got {data[:600]!r}"
    assert rs[0].json()["body_length"] == len(CHUNKED_DECODED), what
    assert rs[0].json()["body_sha256"] == hashlib.sha256(CHUNKED_DECODED).hexdigest(), what
    assert rs[1].json()["target"] == "/echo/next", what
    assert closed, what


def test_chunked_with_extensions_and_trailers(echo):
    data, closed = exchange(echo, CHUNKED_REQ + NEXT_REQ)
    check_chunked_pair(data, closed, "one write")


@pytest.mark.parametrize("line", [
    b"5;a=b;flag",          # a name without value after one with a value
    b"5;a=b;c=d;flag;e",
    b"5;q=\"x\\\"y\"",        # quoted-string with a quoted-pair
    b"5;q=\"a\\\\b\"",
    b"5 ;a=b",              # BWS before ';' (RFC 9112 7.1.1, RFC 9110 5.6.3: MUST be accepted)
    b"5; a=b",
    b"5;a = b",
    b"5\t;a=b",
    b"005;a=b",            # leading zeros are 1*HEXDIG
    b"5;A-Z_~!#$%&'*+.^`|=tok",
])
def test_chunk_extension_forms_accepted(echo, line):
    body = line + b"\r\nhello\r\n0\r\n\r\n"
    r = one(echo, b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n" + CLOSE +
            b"\r\n" + body)
    assert r.status == 200, f"chunk line {line!r} refused: {r}"
    assert r.json()["body_length"] == 5


def test_chunked_split_at_every_byte_boundary(echo):
    whole = CHUNKED_REQ + NEXT_REQ
    for i in range(1, len(whole)):
        data, closed = exchange(echo, None, pieces=[whole[:i], whole[i:]], gap=0.004)
        check_chunked_pair(data, closed, f"split at {i}: {whole[:i][-12:]!r} | {whole[i:][:12]!r}")


def test_chunked_split_in_three_at_sampled_boundaries(echo):
    whole = CHUNKED_REQ + NEXT_REQ
    body_start = CHUNKED_REQ.index(b"\r\n\r\n") + 4
    points = range(body_start - 3, body_start + len(CHUNKED_BODY) + 3)
    for i in points:
        for j in (i + 1, i + 2, i + 7):
            if j < len(whole):
                data, closed = exchange(echo, None, pieces=[whole[:i], whole[i:j], whole[j:]],
                                        gap=0.003)
                check_chunked_pair(data, closed, f"split at {i},{j}")


def test_chunked_one_byte_per_write(echo):
    whole = CHUNKED_REQ + NEXT_REQ
    data, closed = exchange(echo, None, pieces=[bytes([b]) for b in whole], gap=0.002, timeout=10)
    check_chunked_pair(data, closed, "byte by byte")


def test_content_length_body_one_byte_per_write(echo):
    body = b"0123456789" * 5
    whole = req(b"POST", b"/echo/cl", body=body)
    data, closed = exchange(echo, None, pieces=[bytes([b]) for b in whole], gap=0.001, timeout=10)
    rs = parse(data)
    assert len(rs) == 1 and rs[0].json()["body_length"] == 50 and closed


# ---- Expect: 100-continue ---------------------------------------------------------------------------

def test_expect_100_continue_before_body(echo):
    with Conn(echo) as c:
        c.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        r = c.response(timeout=3, skip_1xx=False)
        assert r is not None, "no 100 Continue before the body was sent"
        assert r.status == 100, r
        c.send(b"hello")
        r = c.response(timeout=3)
        assert r.status == 200 and r.json()["body_length"] == 5
        # still persistent
        c.send(b"GET /echo/after HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.response().json()["target"] == "/echo/after"


def test_expect_100_continue_chunked(echo):
    with Conn(echo) as c:
        c.send(b"PUT /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
               b"Expect: 100-Continue\r\n\r\n")
        r = c.response(timeout=3, skip_1xx=False)
        assert r is not None and r.status == 100
        c.send(b"3\r\nabc\r\n0\r\n\r\n")
        r = c.response(timeout=3)
        assert r.status == 200 and r.json()["body_length"] == 3


def test_expect_100_body_sent_without_waiting(echo):
    # A client may send the body without waiting for 100 (RFC 9110 10.1.1).
    data, closed = exchange(echo, b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                                  b"Expect: 100-continue\r\n\r\nhello" + req(b"GET", b"/echo/next"))
    rs = parse(data)
    assert [r.status for r in rs if r.status != 100] == [200, 200], data[:600]
    assert len(rs) <= 3 and (rs[0].status == 100 or rs[0].status == 200)
    assert finals(rs)[0].json()["body_length"] == 5 and closed


def test_expect_100_too_large_gets_413_at_once(echo):
    with Conn(echo) as c:
        t0 = time.monotonic()
        c.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1048577\r\n"
               b"Expect: 100-continue\r\n\r\n")
        r = c.response(timeout=3, skip_1xx=False)
        assert r is not None, "no answer without the body"
        assert r.status == 413, f"expected 413 without a 100 first, got {r}"
        assert time.monotonic() - t0 < 2
        closed, rest = c.closed_within(3)
        assert closed and rest == b""


def test_expect_100_on_404_path_no_body_read(echo):
    # The final status is known without the body: a 100 is optional, the 404 must come
    # without the client sending its body.
    with Conn(echo) as c:
        c.send(b"POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n"
               b"Expect: 100-continue\r\n\r\n")
        r = c.response(timeout=3)
        assert r is not None and r.status == 404


def test_expect_ignored_for_http10(echo):
    with Conn(echo) as c:
        c.send(b"POST /echo HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        assert not c.wait_data(0.5), f"HTTP/1.0 client got {c.buf!r} before sending its body"
        c.send(b"hello")
        closed, data = c.closed_within(3)
        rs = parse(data)
        assert [r.status for r in rs] == [200], data
        assert rs[0].json()["body_length"] == 5


def test_expect_100_then_client_sends_nothing_on_get(echo):
    # No body: nothing to continue; just the response.
    r = one(echo, b"GET /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n")
    assert r.status == 200


# ---- HEAD ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("target,status", [(b"/echo", 200), (b"/plaintext", 200), (b"/nope", 404)])
def test_head_has_no_body_pipelined(echo, target, status):
    data, closed = exchange(echo, b"HEAD " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n" +
                            req(b"GET", b"/echo/after"))
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 %d " % status), data[:300]
    assert b"\r\ncontent-length: " in head.lower() or status == 404
    assert rest.startswith(b"HTTP/1.1 200 "), f"HEAD response followed by body bytes: {rest[:100]!r}"
    rs = parse(data, [b"HEAD", b"GET"])
    assert len(rs) == 2 and rs[1].json()["target"] == "/echo/after"
