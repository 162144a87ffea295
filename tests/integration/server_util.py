# SPDX-License-Identifier: MIT
"""Helpers for the server-layer tests: worker processes, requests in flight, waiting."""
import os
import socket
import time

from conftest import parse_responses


def children(pid):
    """The pids whose parent is `pid` (read from /proc, so no pgrep is needed)."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        fields = stat[stat.rindex(b")") + 2:].split()
        if int(fields[1]) == pid and fields[0] != b"Z":
            out.append(int(name))
    return sorted(out)


def wait_for(predicate, timeout=3.0, interval=0.02):
    """Polls predicate() until it returns something truthy; returns it, or fails."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {predicate}")
        time.sleep(interval)


def send_request(server, target, method="GET", timeout=5.0):
    """Opens a connection and sends one request; returns the socket (read it with read_all)."""
    s = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    s.sendall(f"{method} {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return s


def read_all(sock):
    """Reads until the server closes the connection; returns the parsed responses."""
    chunks = []
    try:
        while True:
            b = sock.recv(65536)
            if not b:
                break
            chunks.append(b)
    except (ConnectionResetError, socket.timeout):
        pass
    finally:
        sock.close()
    return parse_responses(b"".join(chunks)) if chunks else []


def exits_within(proc, seconds):
    """Waits for the process to exit; returns (exit status, seconds it took)."""
    t0 = time.monotonic()
    rc = proc.wait(timeout=seconds)
    return rc, time.monotonic() - t0
