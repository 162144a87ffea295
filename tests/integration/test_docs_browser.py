# SPDX-License-Identifier: MIT
"""/openapi.json checked by a real OpenAPI 3.1 validator, and /docs opened in headless
Chromium: every route renders and "Try it out" runs a call. Both for the items example
and the burger shop. Skipped (with the reason) only where the tools are not installed."""
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOLS = os.path.join(ROOT, "tests", "tools")
NODE_MODULES = os.path.join(ROOT, "web", "node_modules")


def need_node(*packages):
    if not shutil.which("node"):
        pytest.skip("node is not installed (scripts/install-web-deps.sh)")
    for p in packages:
        if not os.path.isdir(os.path.join(NODE_MODULES, p)):
            pytest.skip(f"web/node_modules/{p} is missing (scripts/install-web-deps.sh)")


def run_tool(script, *args, timeout=120):
    r = subprocess.run(["node", os.path.join(TOOLS, script), *args], capture_output=True,
                       text=True, timeout=timeout)
    assert r.returncode == 0, f"{script} failed:\n{r.stdout}\n{r.stderr}"
    return r.stdout


def test_items_openapi_validates(items):
    need_node("@readme/openapi-parser")
    run_tool("validate-openapi.mjs", items.url + "/openapi.json")


def test_items_docs_render_and_try_it_out(items):
    need_node("playwright-core")
    if not os.path.exists("/usr/bin/chromium"):
        pytest.skip("Debian's chromium is not installed")
    out = run_tool("docs-browser.mjs", items.url,
                   "--expect", "GET /", "--expect", "GET /items/{item_id}",
                   "--expect", "PUT /items/{item_id}",
                   "--try", "GET /items/{item_id}", "--param", "item_id=5", "--try-status", "200")
    assert "GET /items/{item_id}" in out


@pytest.fixture
def shop(start_server, tmp_path):
    return start_server("burgers", "--db", str(tmp_path / "shop.db"), "--cook-ms", "10",
                        "--log-level", "warning")


def test_shop_openapi_validates(shop):
    need_node("@readme/openapi-parser")
    run_tool("validate-openapi.mjs", shop.url + "/openapi.json")


def test_shop_docs_show_every_endpoint(shop):
    need_node("playwright-core")
    if not os.path.exists("/usr/bin/chromium"):
        pytest.skip("Debian's chromium is not installed")
    ops = ["GET /burgers", "POST /orders", "GET /orders", "GET /orders/{ticket}",
           "GET /orders/{ticket}/wait", "GET /orders/{ticket}/events",
           "POST /orders/{ticket}/pickup", "POST /counter/orders", "POST /mansion/clean",
           "GET /kitchen"]
    args = []
    for op in ops:
        args += ["--expect", op]
    run_tool("docs-browser.mjs", shop.url, *args, "--try", "GET /burgers", "--try-status", "200")
