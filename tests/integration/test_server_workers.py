# SPDX-License-Identifier: MIT
"""--workers N: a supervisor, SO_REUSEPORT workers on one port, restarts, boot failures."""
import os
import re
import signal
import socket
import subprocess
import time

import httpx

from conftest import program
from server_util import children, exits_within, read_all, send_request, wait_for


def test_workers_share_one_port_and_supervisor_prints_it_once(start_server):
    srv = start_server("echo", "--workers", "3")
    pids = wait_for(lambda: len(children(srv.proc.pid)) == 3 and children(srv.proc.pid))
    with httpx.Client(base_url=srv.url) as c:
        for _ in range(10):
            assert c.get("/plaintext", headers={"Connection": "close"}).status_code == 200
    rc, err = srv.stop()
    assert rc == 0
    assert srv.proc.stdout.read() == b""  # only the supervisor's single line, already read
    for pid in pids:
        assert re.search(rf"worker \d \(pid {pid}\) exited with status 0", err), err


def test_killed_worker_is_restarted_and_serving_goes_on(start_server):
    srv = start_server("echo", "--workers", "2")
    first = wait_for(lambda: len(children(srv.proc.pid)) == 2 and children(srv.proc.pid))
    victim = first[0]
    os.kill(victim, signal.SIGKILL)
    # The other worker keeps answering while the victim waits out its back-off (0.5 s).
    time.sleep(0.05)
    with httpx.Client(base_url=srv.url) as c:
        for _ in range(10):
            assert c.get("/plaintext", headers={"Connection": "close"}).status_code == 200
    now = wait_for(lambda: (lambda p: len(p) == 2 and victim not in p and p)(
        children(srv.proc.pid)))
    assert first[1] in now
    replacement = [p for p in now if p != first[1]][0]
    with httpx.Client(base_url=srv.url) as c:
        for _ in range(10):
            assert c.get("/plaintext", headers={"Connection": "close"}).status_code == 200
    rc, err = srv.stop()
    assert rc == 0
    assert re.search(rf"worker \d \(pid {victim}\) was killed by signal 9 \(Killed\) after \d+ ms; "
                     r"restarting it in 500 ms", err), err
    assert f"serving on port {srv.port} (pid {replacement})" in err


def test_worker_dying_again_backs_off(start_server):
    srv = start_server("echo", "--workers", "2")
    pids = wait_for(lambda: len(children(srv.proc.pid)) == 2 and children(srv.proc.pid))
    os.kill(pids[0], signal.SIGKILL)
    second = wait_for(lambda: (lambda p: len(p) == 2 and pids[0] not in p and p)(
        children(srv.proc.pid)))
    replacement = [p for p in second if p != pids[1]][0]
    os.kill(replacement, signal.SIGKILL)
    wait_for(lambda: (lambda p: len(p) == 2 and replacement not in p)(children(srv.proc.pid)),
             timeout=4)
    rc, err = srv.stop()
    assert rc == 0
    assert "restarting it in 500 ms" in err and "restarting it in 1000 ms" in err, err


def test_port_taken_fails_fast_with_status_1():
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    try:
        p = subprocess.run([program("echo"), "--host", "127.0.0.1", "--port", str(port),
                            "--workers", "2"], capture_output=True, timeout=10)
    finally:
        blocker.close()
    assert p.returncode == 1
    assert p.stdout == b""
    assert f"cannot listen on 127.0.0.1:{port}" in p.stderr.decode()


def test_ctrl_c_to_the_process_group_stops_gracefully():
    """A terminal's Ctrl-C reaches supervisor and workers; workers must see one stop, not two."""
    proc = subprocess.Popen([program("echo"), "--host", "127.0.0.1", "--port", "0",
                             "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        port = int(re.search(rb":(\d+)", proc.stdout.readline()).group(1))

        class S:
            pass
        srv = S()
        srv.port = port
        socks = [send_request(srv, "/sleep?ms=800") for _ in range(4)]
        time.sleep(0.3)
        os.killpg(proc.pid, signal.SIGINT)
        for s in socks:
            (status, headers, body), = read_all(s)
            assert status == 200 and body == b"Hello, World!"
            assert headers["connection"] == "close"
        rc, took = exits_within(proc, 5)
        err = proc.stderr.read().decode()
        assert rc == 0, err
        assert "stopping now" not in err, err
        assert "Sanitizer" not in err and "runtime error" not in err, err
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
