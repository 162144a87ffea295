# SPDX-License-Identifier: MIT
"""The echo example answers the contract's basic requests (httpx and raw sockets)."""
import hashlib
import json

import httpx

from conftest import parse_responses, send_raw


def test_plaintext_json_and_404(echo):
    with httpx.Client(base_url=echo.url) as c:
        r = c.get("/plaintext")
        assert r.status_code == 200
        assert r.text == "Hello, World!"
        assert r.headers["content-type"].startswith("text/plain")
        assert "date" in r.headers and r.headers["server"] == "awaitress"
        assert c.get("/json").json() == {"message": "Hello, World!"}
        r = c.get("/missing")
        assert r.status_code == 404


def test_echo_report_and_body_digest(echo):
    body = b"x" * 100000
    with httpx.Client(base_url=echo.url) as c:
        r = c.post("/echo/a%20b?q=1", content=body)
    assert r.status_code == 200
    report = r.json()
    assert report["method"] == "POST"
    assert report["target"] == "/echo/a%20b?q=1"
    assert report["body_length"] == len(body)
    assert report["body_sha256"] == hashlib.sha256(body).hexdigest()


def test_keep_alive_reuses_one_connection(echo):
    s = echo.connect()
    try:
        for i in range(5):
            s.sendall(b"GET /echo/%d HTTP/1.1\r\nHost: x\r\n\r\n" % i)
            data = b""
            while b"}\n" not in data:
                data += s.recv(65536)
            (status, headers, body), = parse_responses(data)
            assert status == 200
            assert json.loads(body)["target"] == "/echo/%d" % i
    finally:
        s.close()


def test_twenty_pipelined_requests_answered_in_order(echo):
    reqs = b"".join(b"GET /echo/%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(19))
    reqs += b"GET /echo/19 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    out = parse_responses(send_raw(echo, reqs))
    assert [json.loads(b)["target"] for _, _, b in out] == ["/echo/%d" % i for i in range(20)]
    assert out[-1][1]["connection"] == "close"


def test_head_has_headers_and_no_body(echo):
    out = send_raw(echo, b"HEAD /plaintext HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, _, rest = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"Content-Length: 13" in head
    assert rest == b""
