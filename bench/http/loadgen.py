# SPDX-License-Identifier: MIT
"""Exact-count HTTP/1.1 load for `make bench-http`, standard library only.

wrk runs for a time; the instruction and system-call counts need a known
number of requests instead (two runs, different counts, the difference
divided by the difference), and the idle case needs connections that answer
one request and then stay silent. Both are here.
"""
import errno
import selectors
import socket
import time

HOST = "127.0.0.1"


def count_responses(buf, pos=0):
    """Complete responses in buf from pos: returns (count, end of the last one).

    Knows Content-Length and (for nginx's echo module) chunked bodies that end
    in the usual "0\\r\\n\\r\\n"; enough for the servers measured here."""
    n = 0
    size = len(buf)
    while True:
        he = buf.find(b"\r\n\r\n", pos)
        if he < 0:
            return n, pos
        head = bytes(buf[pos:he]).lower()
        i = head.find(b"content-length:")
        if i >= 0:
            j = head.find(b"\r\n", i)
            end = he + 4 + int(head[i + 15:j if j >= 0 else len(head)])
        elif b"chunked" in head:
            t = buf.find(b"\r\n0\r\n\r\n", he + 2)
            if t < 0:
                return n, pos
            end = t + 7
        else:
            end = he + 4
        if end > size:
            return n, pos
        n += 1
        pos = end


class _Conn:
    __slots__ = ("sock", "buf", "pending", "rounds", "out", "connected")

    def __init__(self, sock, rounds):
        self.sock = sock
        self.buf = bytearray()
        self.pending = 0
        self.rounds = rounds
        self.out = b""
        self.connected = False


def _open(port, n, sel, rounds):
    conns = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        rc = s.connect_ex((HOST, port))
        if rc not in (0, errno.EINPROGRESS):
            s.close()
            raise OSError(rc, "connect: " + errno.errorcode.get(rc, str(rc)))
        c = _Conn(s, rounds)
        sel.register(s, selectors.EVENT_WRITE, c)
        conns.append(c)
    return conns


def _pump(sel, batch, depth, deadline, what, hold=False):
    """Runs connections until each has done its rounds. Returns responses received."""
    got = 0
    active = len(sel.get_map())
    while active:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"{what}: {active} connections unfinished, {got} responses")
        for key, ev in sel.select(min(left, 1.0)):
            c = key.data
            s = c.sock
            if ev & selectors.EVENT_WRITE:
                if not c.connected:
                    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        raise OSError(err, f"{what}: connect: {errno.errorcode.get(err, err)}")
                    c.connected = True
                    c.out = batch
                    c.pending = depth
                try:
                    sent = s.send(c.out)
                except BlockingIOError:
                    sent = 0
                c.out = c.out[sent:]
                if not c.out:
                    sel.modify(s, selectors.EVENT_READ, c)
                continue
            try:
                data = s.recv(262144)
            except (BlockingIOError, InterruptedError):
                continue
            if not data:
                raise ConnectionError(f"{what}: the server closed a connection mid-run")
            c.buf += data
            n, used = count_responses(c.buf)
            if n:
                del c.buf[:used]
                got += n
                c.pending -= n
            if c.pending < 0:
                raise ConnectionError(f"{what}: more responses than requests")
            if c.pending == 0:
                c.rounds -= 1
                if c.rounds > 0:
                    c.out = batch
                    c.pending = depth
                    try:
                        sent = s.send(c.out)
                    except BlockingIOError:
                        sent = 0
                    c.out = c.out[sent:]
                    if c.out:
                        sel.modify(s, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
                else:
                    sel.unregister(s)
                    if not hold:
                        s.close()
                    active -= 1
    return got


def drive(port, path, conns, depth, rounds, timeout=300.0):
    """conns connections each send `depth` pipelined GETs, await all their
    answers, and repeat `rounds` times, then close. Returns responses (always
    conns * depth * rounds; anything else raises)."""
    req = f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode()
    sel = selectors.DefaultSelector()
    try:
        _open(port, conns, sel, rounds)
        got = _pump(sel, req * depth, depth, time.monotonic() + timeout, "drive")
    finally:
        for key in list(sel.get_map().values()):
            key.fileobj.close()
        sel.close()
    return got


def hold(port, path, conns, timeout=120.0):
    """Opens conns connections, sends one GET on each and reads its answer.
    Returns the open sockets, now silent: the caller closes them."""
    req = f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode()
    sel = selectors.DefaultSelector()
    opened = []
    try:
        opened = _open(port, conns, sel, 1)
        _pump(sel, req, 1, time.monotonic() + timeout, "hold", hold=True)
    except BaseException:
        for c in opened:
            c.sock.close()
        raise
    finally:
        sel.close()
    return [c.sock for c in opened]


def one_request(port, path="/plaintext", timeout=2.0):
    """One GET on a new connection; True once a whole answer came back."""
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode())
        buf = bytearray()
        while True:
            data = s.recv(65536)
            if not data:
                return False
            buf += data
            if count_responses(buf)[0]:
                return buf.startswith(b"HTTP/1.1 200")
