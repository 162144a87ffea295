# SPDX-License-Identifier: MIT
"""The web layer against FastAPI: the items example (FastAPI's "first steps"
tutorial, examples/items/main.c) as a real server process, spoken to over real
sockets.

Where FastAPI (0.100+, pydantic v2) defines an answer, it is asserted exactly:
bodies, error types, loc paths and messages. Where it does not (415, 413,
OPTIONS), the awaitress contract from include/awaitress/web.h is asserted.
"""
import json
import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from rawhttp import Conn, exchange, parse

JSON = {"Content-Type": "application/json"}

INT_PARSING_MSG = "Input should be a valid integer, unable to parse string as an integer"


def client(server):
    return httpx.Client(base_url=server.url, timeout=5.0)


def put_raw(server, target, body, content_type="application/json"):
    """A PUT with exactly these body bytes (httpx would re-encode a str)."""
    headers = {"Content-Type": content_type} if content_type else {}
    with client(server) as c:
        return c.put(target, content=body, headers=headers)


def detail(r):
    assert r.status_code == 422, f"status {r.status_code}: {r.text}"
    assert r.headers["content-type"] == "application/json", r.headers
    body = r.json()
    assert list(body) == ["detail"], body
    return body["detail"]


# ---- the three operations --------------------------------------------------------------------

def test_root(items):
    with client(items) as c:
        r = c.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"message": "Hello World"}


def test_read_item_with_q(items):
    with client(items) as c:
        r = c.get("/items/5?q=somequery")
    assert r.status_code == 200
    assert r.json() == {"item_id": 5, "q": "somequery"}


def test_read_item_without_q_is_null(items):
    with client(items) as c:
        r = c.get("/items/5")
    assert r.status_code == 200
    assert r.json() == {"item_id": 5, "q": None}
    assert r.content == b'{"item_id":5,"q":null}'


def test_read_item_query_decoding_and_last_value_wins(items):
    """Percent-decoding and '+' as space, like Starlette; a repeated scalar param takes the
    last value, as FastAPI's QueryParams.get() does."""
    with client(items) as c:
        r1 = c.get("/items/7?q=%C3%A9t%C3%A9+x%2By")
        r2 = c.get("/items/7?q=first&q=last")
        r3 = c.get("/items/-3")
    assert r1.json() == {"item_id": 7, "q": "été x+y"}
    assert r2.json() == {"item_id": 7, "q": "last"}
    assert r3.json() == {"item_id": -3, "q": None}


def test_read_item_int_parsing(items):
    with client(items) as c:
        r = c.get("/items/foo")
    d = detail(r)
    assert d[0] == {
        "type": "int_parsing",
        "loc": ["path", "item_id"],
        "msg": INT_PARSING_MSG,
        "input": "foo",
    }
    assert len(d) == 1, d


def test_update_item(items):
    with client(items) as c:
        r = c.put("/items/5", json={"name": "Foo", "price": 50.5})
    assert r.status_code == 200, r.text
    assert r.json() == {"item_name": "Foo", "item_id": 5}


def test_update_item_lax_coercions(items):
    """pydantic v2's lax mode: a numeric string is a float, "yes" a bool, null an absent
    Optional."""
    with client(items) as c:
        r1 = c.put("/items/5", json={"name": "a", "price": "12.5", "is_offer": "yes"})
        r2 = c.put("/items/6", json={"name": "b", "price": 3, "is_offer": None})
    assert r1.status_code == 200, r1.text
    assert r1.json() == {"item_name": "a", "item_id": 5}
    assert r2.status_code == 200, r2.text
    assert r2.json() == {"item_name": "b", "item_id": 6}


# ---- validation errors: collected, FastAPI's shape ---------------------------------------------

def test_body_errors_collected(items):
    body = {"price": "abc", "is_offer": "maybe"}
    with client(items) as c:
        r = c.put("/items/5", json=body)
    assert detail(r) == [
        {"type": "missing", "loc": ["body", "name"], "msg": "Field required", "input": body},
        {"type": "float_parsing", "loc": ["body", "price"],
         "msg": "Input should be a valid number, unable to parse string as a number",
         "input": "abc"},
        {"type": "bool_parsing", "loc": ["body", "is_offer"],
         "msg": "Input should be a valid boolean, unable to interpret input", "input": "maybe"},
    ]


def test_type_errors(items):
    with client(items) as c:
        r = c.put("/items/5", json={"name": None, "price": None})
    assert detail(r) == [
        {"type": "string_type", "loc": ["body", "name"], "msg": "Input should be a valid string",
         "input": None},
        {"type": "float_type", "loc": ["body", "price"], "msg": "Input should be a valid number",
         "input": None},
    ]


def test_path_and_body_errors_collected_together(items):
    """FastAPI validates path params and the body in one pass and reports both."""
    with client(items) as c:
        r = c.put("/items/foo", json={"name": 1})
    d = detail(r)
    assert [(e["type"], e["loc"], e["msg"]) for e in d] == [
        ("int_parsing", ["path", "item_id"], INT_PARSING_MSG),
        ("string_type", ["body", "name"], "Input should be a valid string"),
        ("missing", ["body", "price"], "Field required"),
    ], d
    assert d[0]["input"] == "foo" and d[1]["input"] == 1


def test_missing_field_input_is_the_body_as_sent(items):
    """pydantic v2 reports a missing field with the object it was looking in, as the client
    sent it: defaults of other fields (is_offer) must not appear in it."""
    with client(items) as c:
        r = c.put("/items/5", json={"name": "Foo"})
    assert detail(r) == [
        {"type": "missing", "loc": ["body", "price"], "msg": "Field required",
         "input": {"name": "Foo"}},
    ]


def test_body_absent(items):
    r = put_raw(items, "/items/5", b"")
    assert detail(r) == [
        {"type": "missing", "loc": ["body"], "msg": "Field required", "input": None},
    ]


@pytest.mark.parametrize("raw,value", [(b"[1]", [1]), (b'"x"', "x")])
def test_body_not_an_object(items, raw, value):
    r = put_raw(items, "/items/5", raw)
    assert detail(r) == [
        {"type": "model_attributes_type", "loc": ["body"],
         "msg": "Input should be a valid dictionary or object to extract fields from",
         "input": value},
    ]


MALFORMED = b'{"name":"Foo",\n "price": 5,,}'  # the second ',' is at offset 27: line 2, column 13


def test_json_invalid(items):
    r = put_raw(items, "/items/5", MALFORMED)
    d = detail(r)
    assert len(d) == 1, d
    e = d[0]
    assert e["type"] == "json_invalid", e
    assert e["msg"] == "JSON decode error", e
    assert e["input"] == {}, e
    assert e["loc"][0] == "body" and isinstance(e["loc"][1], int), e
    assert set(e) == {"type", "loc", "msg", "input", "ctx"}, e
    assert re.search(r"line 2\b.*column 13\b", e["ctx"]["error"]), e


def test_json_invalid_loc_is_the_offset_of_the_error(items):
    """FastAPI answers loc ["body", JSONDecodeError.pos]: the 0-based offset of the character
    where decoding failed (27 here, the second ','; json.loads gives the same)."""
    try:
        json.loads(MALFORMED)
    except json.JSONDecodeError as err:
        expected = err.pos
    assert expected == 27
    r = put_raw(items, "/items/5", MALFORMED)
    assert detail(r)[0]["loc"] == ["body", expected]


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", None])
def test_wrong_content_type_is_415(items, ctype):
    r = put_raw(items, "/items/5", b'{"name":"Foo","price":50.5}', content_type=ctype)
    assert r.status_code == 415, r.text
    d = r.json()["detail"]
    assert isinstance(d, str) and "application/json" in d, d


def test_json_content_type_with_charset_is_accepted(items):
    r = put_raw(items, "/items/5", b'{"name":"Foo","price":50.5}',
                content_type="application/json; charset=utf-8")
    assert r.status_code == 200, r.text
    assert r.json() == {"item_name": "Foo", "item_id": 5}


def test_body_over_the_limit_is_413(items):
    body = json.dumps({"name": "x" * 2000, "price": 1}).encode()
    req = (b"PUT /items/5 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Content-Length: %d\r\n\r\n" % len(body)) + body
    data, closed = exchange(items, req)
    rs = parse(data)
    assert len(rs) == 1 and rs[0].status == 413, data[:300]
    assert closed, "connection kept open after a 413 whose body was not read"


def test_body_just_under_the_limit_is_read(items):
    body = json.dumps({"name": "x" * (1000 - 30), "price": 1}).encode()
    assert len(body) <= 1000
    r = put_raw(items, "/items/5", body)
    assert r.status_code == 200, r.text
    assert r.json() == {"item_name": "x" * (1000 - 30), "item_id": 5}


# ---- methods, redirects, not found ---------------------------------------------------------------

def test_head_has_get_headers_and_no_body(items):
    with Conn(items) as c:
        c.send(b"HEAD /items/5?q=a HTTP/1.1\r\nHost: x\r\n\r\n"
               b"GET /items/5?q=a HTTP/1.1\r\nHost: x\r\n\r\n")
        head = c.response(b"HEAD")
        get = c.response(b"GET")
    assert head is not None and get is not None
    assert head.status == 200 and get.status == 200
    assert head.body == b""
    assert get.json() == {"item_id": 5, "q": "a"}

    def without_date(r):
        return sorted((k, v) for k, v in r.headers if k != "date")
    assert without_date(head) == without_date(get)
    assert head.header("content-length") == str(len(get.body))


def test_405_lists_allowed_methods(items):
    with client(items) as c:
        r = c.delete("/items/5")
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, HEAD, PUT, OPTIONS"
    assert r.json() == {"detail": "Method Not Allowed"}


def test_405_on_root(items):
    with client(items) as c:
        r = c.post("/", json={})
    assert r.status_code == 405
    assert r.json() == {"detail": "Method Not Allowed"}
    assert {m.strip() for m in r.headers["allow"].split(",")} == {"GET", "HEAD", "OPTIONS"}


def test_options_is_204_with_allow(items):
    with client(items) as c:
        r = c.options("/items/5")
    assert r.status_code == 204
    assert r.headers["allow"] == "GET, HEAD, PUT, OPTIONS"
    assert r.content == b""


def test_trailing_slash_redirects_with_query(items):
    with client(items) as c:
        r = c.get("/items/5/?q=a%20b&x=1")
        r0 = c.get("/items/5/")
    assert r.status_code == 307, r.text
    loc = urlsplit(r.headers["location"])
    assert loc.path == "/items/5", r.headers["location"]
    assert parse_qs(loc.query) == {"q": ["a b"], "x": ["1"]}, r.headers["location"]
    assert r0.status_code == 307
    assert urlsplit(r0.headers["location"]).path == "/items/5"
    assert urlsplit(r0.headers["location"]).query == ""


def test_redirect_is_followed_to_the_item(items):
    with httpx.Client(base_url=items.url, timeout=5.0, follow_redirects=True) as c:
        r = c.get("/items/5/?q=somequery")
    assert r.status_code == 200
    assert r.json() == {"item_id": 5, "q": "somequery"}


@pytest.mark.parametrize("path", ["/nope", "/items", "/items/5/extra", "/Items/5"])
def test_unknown_path_is_404(items, path):
    with client(items) as c:
        r = c.get(path)
    assert r.status_code == 404, (path, r.status_code, r.text)
    assert r.json() == {"detail": "Not Found"}


# ---- OpenAPI and docs --------------------------------------------------------------------------

def test_openapi(items):
    with client(items) as c:
        r = c.get("/openapi.json")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    doc = json.loads(r.content)
    assert doc["openapi"] == "3.1.0"
    assert doc["info"] == {"title": "FastAPI", "version": "0.1.0"}
    ops = {(path, m): op for path, item in doc["paths"].items() for m, op in item.items()}
    assert {k: op["operationId"] for k, op in ops.items()} == {
        ("/", "get"): "read_root__get",
        ("/items/{item_id}", "get"): "read_item_items__item_id__get",
        ("/items/{item_id}", "put"): "update_item_items__item_id__put",
    }
    assert ops[("/", "get")]["summary"] == "Read Root"
    assert "422" not in ops[("/", "get")]["responses"]  # no params, no body: nothing to fail
    ref = {"$ref": "#/components/schemas/HTTPValidationError"}
    for key in [("/items/{item_id}", "get"), ("/items/{item_id}", "put")]:
        r422 = ops[key]["responses"]["422"]
        assert r422["description"] == "Validation Error"
        assert r422["content"]["application/json"]["schema"] == ref, key
    schemas = doc["components"]["schemas"]
    assert {"HTTPValidationError", "ValidationError", "Item"} <= set(schemas)
    assert schemas["HTTPValidationError"]["properties"]["detail"]["items"] == {
        "$ref": "#/components/schemas/ValidationError"}
    assert schemas["Item"]["required"] == ["name", "price"]
    params = {p["name"]: p for p in ops[("/items/{item_id}", "get")]["parameters"]}
    assert params["item_id"]["in"] == "path" and params["item_id"]["required"] is True
    assert params["item_id"]["schema"]["type"] == "integer"
    assert params["q"]["in"] == "query" and params["q"]["required"] is False
    body = ops[("/items/{item_id}", "put")]["requestBody"]
    assert body["required"] is True
    assert body["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Item"}


def test_docs_is_html(items):
    with client(items) as c:
        r = c.get("/docs")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert b"<html" in r.content.lower()
    assert b"/openapi.json" in r.content
    assert b"swagger" in r.content.lower()


# ---- connections -----------------------------------------------------------------------------

def test_keep_alive_many_requests_on_one_connection(items):
    n = 300
    with Conn(items) as c:
        for i in range(n):
            if i % 3 == 2:
                body = json.dumps({"name": f"n{i}", "price": i + 0.5}).encode()
                c.send(b"PUT /items/%d HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       b"Content-Length: %d\r\n\r\n" % (i, len(body)) + body)
                expect = {"item_name": f"n{i}", "item_id": i}
            elif i % 3 == 1:
                c.send(b"GET /items/%d?q=k%d HTTP/1.1\r\nHost: x\r\n\r\n" % (i, i))
                expect = {"item_id": i, "q": f"k{i}"}
            else:
                c.send(b"GET /items/x%d HTTP/1.1\r\nHost: x\r\n\r\n" % i)
                expect = None
            r = c.response()
            assert r is not None, f"no response to request {i}: connection closed or timed out"
            assert r.header("connection") is None or r.header("connection").lower() != "close"
            if expect is None:
                assert r.status == 422 and r.json()["detail"][0]["input"] == f"x{i}", (i, r)
            else:
                assert r.status == 200 and r.json() == expect, (i, r)
        assert not c.eof


def test_pipelined_requests_answered_in_order(items):
    reqs, methods, checks = [], [], []
    for i in range(64):
        kind = i % 6
        if kind == 0:
            reqs.append(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            checks.append((200, {"message": "Hello World"}))
        elif kind == 1:
            reqs.append(b"GET /items/%d?q=p%d HTTP/1.1\r\nHost: x\r\n\r\n" % (i, i))
            checks.append((200, {"item_id": i, "q": f"p{i}"}))
        elif kind == 2:
            body = b'{"name":"n%d","price":%d.25}' % (i, i)
            reqs.append(b"PUT /items/%d HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        b"Content-Length: %d\r\n\r\n" % (i, len(body)) + body)
            checks.append((200, {"item_name": f"n{i}", "item_id": i}))
        elif kind == 3:
            reqs.append(b"HEAD /items/%d HTTP/1.1\r\nHost: x\r\n\r\n" % i)
            checks.append((200, None))
        elif kind == 4:
            reqs.append(b"GET /items/bad%d HTTP/1.1\r\nHost: x\r\n\r\n" % i)
            checks.append((422, [{"type": "int_parsing", "loc": ["path", "item_id"],
                                  "msg": INT_PARSING_MSG, "input": f"bad{i}"}]))
        else:
            reqs.append(b"DELETE /items/%d HTTP/1.1\r\nHost: x\r\n\r\n" % i)
            checks.append((405, {"detail": "Method Not Allowed"}))
        methods.append(reqs[-1].split(b" ", 1)[0])
    reqs.append(b"GET /items/999 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    methods.append(b"GET")
    checks.append((200, {"item_id": 999, "q": None}))
    data, closed = exchange(items, b"".join(reqs), timeout=10.0)
    rs = parse(data, methods)
    assert closed, "not closed after Connection: close"
    assert len(rs) == len(reqs), f"{len(rs)} responses to {len(reqs)} requests"
    for i, (r, (status, body)) in enumerate(zip(rs, checks)):
        assert r.status == status, (i, r)
        if methods[i] == b"HEAD":
            assert r.body == b"" and r.header("content-length") == str(
                len(b'{"item_id":%d,"q":null}' % i)), (i, r)
        elif status == 422:
            assert r.json() == {"detail": body}, (i, r)
        else:
            assert r.json() == body, (i, r)


def test_pipelined_in_odd_pieces(items):
    """The same pipeline split at awkward places (inside a head, inside a body)."""
    body = b'{"name":"Foo","price":50.5}'
    stream = (b"GET /items/1?q=a HTTP/1.1\r\nHost: x\r\n\r\n"
              b"PUT /items/2 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body) + body +
              b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    pieces = [stream[i:i + 7] for i in range(0, len(stream), 7)]
    data, closed = exchange(items, None, timeout=10.0, pieces=pieces, gap=0.002)
    rs = parse(data)
    assert [r.status for r in rs] == [200, 200, 200], data[:500]
    assert [r.json() for r in rs] == [{"item_id": 1, "q": "a"},
                                      {"item_name": "Foo", "item_id": 2},
                                      {"message": "Hello World"}]
    assert closed
