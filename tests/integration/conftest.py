# SPDX-License-Identifier: MIT
"""Fixtures that start real server processes on 127.0.0.1 and talk to them.

AW_BUILD_DIR selects the build whose programs are tested (default: build/),
so the same tests run against the ASan+UBSan build in CI.
"""
import os
import re
import signal
import socket
import subprocess
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("AW_BUILD_DIR", os.path.join(ROOT, "build"))


def program(name):
    path = os.path.join(BUILD, "bin", name)
    if not os.path.exists(path):
        pytest.fail(f"{path} is not built")
    return path


class Server:
    """A server process started with --port 0; its port is read from stdout."""

    def __init__(self, name, *args, env=None):
        self.name = name
        self.args = [program(name), "--host", "127.0.0.1", "--port", "0", *args]
        full_env = dict(os.environ)
        full_env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        if env:
            full_env.update(env)
        self.proc = subprocess.Popen(
            self.args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env
        )
        line = self.proc.stdout.readline().decode()
        m = re.search(r"listening on http://[^:]+:(\d+)", line)
        if not m:
            err = self.proc.stderr.read().decode() if self.proc.poll() is not None else ""
            self.proc.kill()
            raise RuntimeError(f"{name} did not start: {line!r} {err}")
        self.port = int(m.group(1))
        self.url = f"http://127.0.0.1:{self.port}"
        self.stderr_text = None

    def connect(self, timeout=5.0):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=15.0):
        """SIGTERM, wait, and return (exit status, stderr). Kills on timeout."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.stderr_text is None:
            self.stderr_text = self.proc.stderr.read().decode(errors="replace")
        return self.proc.returncode, self.stderr_text


@pytest.fixture
def start_server():
    """Returns a function that starts a server; every server is stopped after the test.

    The test fails if a server exits non-zero or a sanitizer reported anything.
    """
    servers = []

    def start(name="echo", *args, env=None):
        s = Server(name, *args, env=env)
        servers.append(s)
        return s

    yield start
    for s in servers:
        rc, err = s.stop()
        assert "Sanitizer" not in err and "runtime error" not in err, err
        assert rc == 0, f"{s.name} exited with {rc}: {err[-2000:]}"


@pytest.fixture
def echo(start_server):
    return start_server("echo")


def send_raw(server, data, timeout=5.0, shut=False):
    """Sends bytes on a new connection and reads until the server closes (or timeout)."""
    s = server.connect(timeout)
    try:
        s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks)
    finally:
        s.close()


def parse_responses(data):
    """Splits a byte stream into (status, headers dict lower-cased, body) responses."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            raise AssertionError(f"incomplete response: {data[:200]!r}")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ")[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            headers.setdefault(k.strip().lower().decode(), v.strip().decode())
        if "content-length" in headers:
            n = int(headers["content-length"])
            body, data = rest[:n], rest[n:]
        elif headers.get("transfer-encoding") == "chunked":
            body = b""
            while True:
                size_line, _, rest = rest.partition(b"\r\n")
                size = int(size_line.split(b";")[0], 16)
                if size == 0:
                    _, _, rest = rest.partition(b"\r\n")
                    break
                body += rest[:size]
                rest = rest[size + 2:]
            data = rest
        else:
            body, data = rest, b""
        out.append((status, headers, body))
    return out


@pytest.fixture
def items(start_server):
    """The items example (FastAPI's first steps, examples/items) on a free port, with a
    1000-byte body limit so that the 413 path is reachable with small requests."""
    return start_server("items", "--max-body-bytes", "1000", "--log-level", "warning")


# ---- the burger shop (examples/burgers) ----------------------------------------------------------

class Shop:
    """The burger shop on a free port with its own order book (--db).

    Unlike Server, its stderr goes to a file, so it can be read while the shop runs (a failing
    test gets it attached to its report) and a chatty shop can never block on a full pipe.
    """

    def __init__(self, db, log, *args, env=None):
        self.db = db
        self.log = log
        self.args = [program("burgers"), "--host", "127.0.0.1", "--port", "0", "--db", db, *args]
        full_env = dict(os.environ)
        full_env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        if env:
            full_env.update(env)
        self.killed = False
        with open(log, "ab") as err:
            self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=err,
                                         env=full_env)
        line = self.proc.stdout.readline().decode()
        m = re.search(r"listening on http://[^:]+:(\d+)", line)
        if not m:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"burgers {self.args[1:]} did not start: {line!r}\n{self.stderr()}")
        self.port = int(m.group(1))
        self.url = f"http://127.0.0.1:{self.port}"

    @property
    def pid(self):
        return self.proc.pid

    def stderr(self):
        with open(self.log, "rb") as f:
            return f.read().decode(errors="replace")

    def kill9(self):
        """SIGKILL, and reap it: until then the shop's pid is a zombie that looks alive."""
        self.killed = True
        self.proc.kill()
        self.proc.wait()

    def stop(self, timeout=15.0):
        """SIGTERM and wait; returns the exit status (killed on timeout: then -9)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        return self.proc.returncode


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing test that started shops gets their stderr in its report."""
    outcome = yield
    rep = outcome.get_result()
    shops = getattr(item, "aw_shops", None)
    if rep.failed and shops:
        for i, s in enumerate(shops):
            rep.sections.append((f"burgers #{i} (pid {s.pid}) stderr", s.stderr()[-20000:]))


@pytest.fixture
def start_shop(request, tmp_path):
    """Returns start(*server_args, cook_ms=100, db=None, env=None, log_level="warning") that
    starts the shop (AW_BUILD_DIR's build/bin/burgers) with --db in this test's temporary
    directory unless `db` is given. Every shop is stopped after the test, which fails if one
    exits non-zero (one stopped with kill9() excepted) or a sanitizer said anything."""
    shops = []
    request.node.aw_shops = shops

    def start(*args, cook_ms=100, db=None, env=None, log_level="warning"):
        db = db or str(tmp_path / "burgers.db")
        log = str(tmp_path / f"burgers-{len(shops)}.stderr")
        s = Shop(db, log, "--cook-ms", str(cook_ms), "--log-level", log_level, *args, env=env)
        shops.append(s)
        return s

    yield start
    problems = []
    for i, s in enumerate(shops):
        rc = s.stop()
        err = s.stderr()
        if "Sanitizer" in err or "runtime error" in err:
            problems.append(f"burgers #{i} (pid {s.pid}): sanitizer report:\n{err[-20000:]}")
        elif rc != 0 and not s.killed:
            problems.append(f"burgers #{i} (pid {s.pid}) exited with {rc}:\n{err[-4000:]}")
    assert not problems, "\n\n".join(problems)
