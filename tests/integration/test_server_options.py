# SPDX-License-Identifier: MIT
"""Command-line options: --help lists them, bad ones fail clearly with exit status 2."""
import subprocess

import httpx
import pytest

from conftest import program


def run(*args):
    return subprocess.run([program("echo"), *args], capture_output=True, timeout=10)


def test_help_lists_the_options():
    p = run("--help")
    assert p.returncode == 0
    out = p.stdout.decode()
    assert out.startswith("Usage: ")
    for opt in ["--host", "--port", "--workers", "--access-log[=FORMAT]", "--graceful-timeout",
                "--readiness-path", "--watchdog-ms", "--limit-concurrency", "--log-level"]:
        assert opt in out, opt
    assert p.stderr == b""


@pytest.mark.parametrize("args, says", [
    (["--workers", "0"], "--workers 0: expected a whole number from 1 to"),
    (["--workers", "many"], "--workers many: expected a whole number"),
    (["--port", "70000"], "--port 70000: expected a whole number from 0 to 65535"),
    (["--access-log=xml"], "--access-log xml: expected clf or json"),
    (["--readiness-path", "ready"], "--readiness-path ready: must start with /"),
    (["--watchdog-ms", "-1"], "--watchdog-ms -1: expected a whole number"),
    (["--graceful-timeout", "soon"], "--graceful-timeout soon: expected seconds"),
    (["--log-level", "loud"], "--log-level loud: expected debug, info"),
    (["--bogus"], "--bogus: unknown option"),
    (["--workers"], "--workers: needs a value"),
    (["--bogus=1"], "--bogus: unknown option"),
    (["stray"], "stray: unexpected argument"),
])
def test_bad_options_exit_2_with_a_clear_error(args, says):
    p = run(*args)
    assert p.returncode == 2
    err = p.stderr.decode()
    assert err.startswith("error: ") and says in err and "see --help" in err, err
    assert p.stdout == b""


def test_equals_form_is_accepted(start_server):
    srv = start_server("echo", "--workers=2", "--graceful-timeout=1.5", "--watchdog-ms=0",
                       "--readiness-path=/ready")
    assert httpx.get(srv.url + "/ready").text == "ready\n"
