# SPDX-License-Identifier: MIT
"""The fetch example (aw_fetch, the HTTP client) against the echo server and raw Python servers."""
import json
import os
import socket
import subprocess
import threading
import time

from conftest import program


def fetch(*args, timeout=20):
    """Runs build/bin/fetch; returns (exit status, stdout bytes, stderr text)."""
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    p = subprocess.run([program("fetch"), *args], capture_output=True, timeout=timeout, env=env)
    err = p.stderr.decode(errors="replace")
    assert "Sanitizer" not in err and "runtime error" not in err, err
    return p.returncode, p.stdout, err


class RawServer:
    """Answers each connection with canned bytes after reading a request head, then closes
    (or, with reply=None, never answers)."""

    def __init__(self, reply):
        self.reply = reply
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self.requests = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            with conn:
                conn.settimeout(5)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                self.requests.append(data)
                if self.reply is None:
                    self.stop.wait(10)
                    continue
                conn.sendall(self.reply)

    def close(self):
        self.stop.set()
        self.thread.join()
        self.sock.close()


def test_get_with_headers_printed(echo):
    rc, out, _ = fetch("-i", f"{echo.url}/echo/a?b=1")
    assert rc == 0
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 200 OK"
    assert "Content-Type: application/json" in lines
    report = json.loads(body)
    assert report["method"] == "GET" and report["target"] == "/echo/a?b=1"
    assert ["User-Agent", "awaitress/0.1"] in report["headers"]


def test_post_body_and_header(echo):
    rc, out, _ = fetch("-d", "hello world", "-H", "X-Thing: 42", f"{echo.url}/echo")
    assert rc == 0
    report = json.loads(out)
    assert report["method"] == "POST" and report["body_length"] == 11
    assert ["X-Thing", "42"] in report["headers"]


def test_put_and_head(echo):
    rc, out, _ = fetch("-X", "PUT", "-d", "x" * 100000, f"{echo.url}/echo")
    assert rc == 0 and json.loads(out)["body_length"] == 100000
    rc, out, _ = fetch("-I", f"{echo.url}/echo")
    assert rc == 0
    assert out.startswith(b"HTTP/1.1 200 OK\r\n") and out.endswith(b"\r\n\r\n")


def test_fail_on_error_status(echo):
    rc, out, _ = fetch(f"{echo.url}/missing")
    assert rc == 0
    rc, _, _ = fetch("-f", f"{echo.url}/missing")
    assert rc == 22


def test_chunked_with_trailers_and_http10():
    srv = RawServer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 1\r\n\r\n")
    try:
        rc, out, _ = fetch(srv.url)
        assert (rc, out) == (0, b"hello world")
    finally:
        srv.close()
    srv = RawServer(b"HTTP/1.0 200 OK\r\n\r\nuntil the end")
    try:
        rc, out, _ = fetch("-i", srv.url)
        assert rc == 0
        assert out == b"HTTP/1.0 200 OK\r\n\r\nuntil the end"
        assert srv.requests[0].startswith(b"GET / HTTP/1.1\r\nHost: 127.0.0.1:")
    finally:
        srv.close()


def test_malformed_response_is_an_error():
    srv = RawServer(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd")
    try:
        rc, out, err = fetch(srv.url)
        assert rc == 1 and out == b""
        assert "protocol error" in err
    finally:
        srv.close()


def test_timeout_refused_and_https():
    srv = RawServer(None)
    try:
        start = time.monotonic()
        rc, _, err = fetch("-t", "300", srv.url)
        assert rc == 1 and "timed out" in err
        assert time.monotonic() - start < 5
    finally:
        srv.close()
    s = socket.socket()
    s.bind(("127.0.0.1", 0))  # bound, not listening: refused
    try:
        rc, _, err = fetch(f"http://127.0.0.1:{s.getsockname()[1]}/")
        assert rc == 1 and "connection refused" in err
    finally:
        s.close()
    rc, _, err = fetch("https://127.0.0.1/")
    assert rc == 1 and "https is not supported" in err
    rc, _, _ = fetch()
    assert rc == 2
