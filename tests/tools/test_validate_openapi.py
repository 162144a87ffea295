# SPDX-License-Identifier: MIT
"""Self-test of validate-openapi.mjs: it accepts a good OpenAPI 3.1 document and
rejects each broken one in openapi-samples/ for the right reason, from a file
and from a URL. Run: python3 -m pytest -q tests/tools"""
import http.server
import pathlib
import shutil
import subprocess
import threading

import pytest

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
TOOL = HERE / "validate-openapi.mjs"
SAMPLES = HERE / "openapi-samples"

# Each broken sample, and what the report must say about it.
BAD = {
    "bad-path-param-undeclared.json": "missing path parameter(s) for `{item_id}`",
    "bad-path-param-not-in-template.json": "no corresponding `{user_id}` in the path string",
    "bad-path-param-optional.json": '"required": false',
    "bad-ref-missing.json": 'Missing $ref pointer "#/components/schemas/Itme"',
    "bad-no-responses.json": "[awaitress] PUT /items/{item_id}: no responses declared",
    "bad-response-no-description.json": "required property 'description'",
    "bad-operation-id-duplicate.json": "is duplicated and must be made unique",
    "bad-schema-type.json": "[schema] #/components/schemas/Item/properties/price/type",
    "bad-openapi-3.0.json": '[openapi] "openapi" is "3.0.3", not 3.1.x',
    "bad-same-template.json": 'paths "/items/{item_id}" and "/items/{id}" are the same template',
    "bad-param-in-body.json": "(query, header, path, cookie)",
    "bad-info-no-title.json": "required property 'title'",
}


@pytest.fixture(scope="session", autouse=True)
def node_tools():
    if not shutil.which("node"):
        pytest.fail("node is missing: run scripts/install-web-deps.sh")
    if not (ROOT / "web/node_modules/@readme/openapi-parser").is_dir():
        pytest.fail("web/node_modules is missing: run scripts/install-web-deps.sh")


def validate(source, *flags):
    p = subprocess.run(["node", str(TOOL), str(source), *flags], capture_output=True,
                       text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def test_every_bad_sample_is_listed():
    on_disk = {p.name for p in SAMPLES.glob("bad-*.json")}
    assert on_disk == set(BAD)


def test_good_document_is_valid():
    rc, out = validate(SAMPLES / "good-items.json")
    assert rc == 0, out
    assert "valid OpenAPI 3.1.0 (Items 1.0.0): 2 path(s), 3 operation(s)" in out


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_document_is_rejected(name):
    rc, out = validate(SAMPLES / name)
    assert rc == 1, out
    assert "INVALID" in out
    assert BAD[name] in out, out


def test_missing_responses_is_a_project_rule_only():
    # OpenAPI 3.1 made an operation's `responses` optional; the project's rule does not.
    rc, out = validate(SAMPLES / "bad-no-responses.json", "--spec-only")
    assert rc == 0, out


def test_usage_and_unreadable_input():
    assert validate(SAMPLES / "nope.json")[0] == 1
    assert validate(SAMPLES / "good-items.json", "--strict")[0] == 2
    p = subprocess.run(["node", str(TOOL)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "usage" in p.stderr


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        name = self.path.lstrip("/")
        path = SAMPLES / name.replace("html/", "")
        if "/" in name.replace("html/", "") or not path.is_file():
            self.send_error(404)
            return
        body = path.read_bytes()
        self.send_response(200)
        kind = "text/html" if name.startswith("html/") else "application/json"
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def base_url():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_from_url(base_url):
    rc, out = validate(f"{base_url}/good-items.json")
    assert rc == 0, out
    rc, out = validate(f"{base_url}/bad-ref-missing.json")
    assert rc == 1 and BAD["bad-ref-missing.json"] in out, out
    rc, out = validate(f"{base_url}/absent.json")
    assert rc == 1 and "HTTP 404" in out, out
    rc, out = validate(f"{base_url}/html/good-items.json")
    assert rc == 1 and "not application/json" in out, out
