# SPDX-License-Identifier: MIT
"""The header timeout bounds the whole request head, however slowly it trickles in."""
import time


def test_trickling_head_is_cut_at_the_header_timeout(start_server):
    srv = start_server("echo", "--header-timeout", "1")
    s = srv.connect(timeout=5)
    head = b"GET /plaintext HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
    start = time.monotonic()
    answer = b""
    try:
        for byte in head:
            try:
                s.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                break
            time.sleep(0.2)  # each byte well within the timeout, the whole head not
            s.setblocking(False)
            try:
                answer += s.recv(4096)
            except BlockingIOError:
                pass
            finally:
                s.setblocking(True)
            if answer or time.monotonic() - start > 4:
                break
        s.settimeout(3)
        try:
            while True:
                b = s.recv(4096)
                if not b:
                    break
                answer += b
        except (TimeoutError, ConnectionResetError):
            pass
    finally:
        s.close()
    took = time.monotonic() - start
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:80]
    assert took < 2.5, f"cut after {took:.2f} s, expected about 1 s"
