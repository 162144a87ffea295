# SPDX-License-Identifier: MIT
"""Request smuggling and parser-ambiguity vectors (../shared/research/http-hardening.md sections
4 and 5; RFC 9112 6.1, 6.3, 11.2). Each bad request gets ONE error response with the right
status, then the connection is closed, and the valid request pipelined behind it
(rawhttp.SMUGGLED, target /echo/smuggled) is never answered."""
import pytest

from rawhttp import (SMUGGLED, assert_one_error, assert_one_response_or_error, exchange, parse)

H = b"Host: x\r\n"


def post(fields, body=b"", version=b"HTTP/1.1", target=b"/echo"):
    """A POST with the given raw field lines (bytes, each ending in CRLF) and raw body."""
    host = H if version == b"HTTP/1.1" else b"Connection: keep-alive\r\n"
    return b"POST " + target + b" " + version + b"\r\n" + host + fields + b"\r\n" + body


# ---- Content-Length and Transfer-Encoding -------------------------------------------------------

@pytest.mark.parametrize("fields,body,statuses", [
    (b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n", (400,)),
    (b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n", b"0\r\n\r\n", (400,)),
    (b"Content-Length: 0\r\nTransfer-Encoding: chunked\r\n", b"5\r\nhello\r\n0\r\n\r\n", (400,)),
    (b"Transfer-Encoding: chunked\r\nContent-Length: 40\r\n", b"0\r\n\r\n", (400,)),
    (b"Content-Length: 5\r\nTransfer-Encoding: identity\r\n", b"hello", (400, 501)),
])
def test_content_length_with_transfer_encoding(echo, fields, body, statuses):
    # RFC 9112 6.1: reject, or use TE alone; either way MUST close after responding.
    # The echo contract / hardening anchor: 400 and close (501 for a non-chunked coding).
    assert_one_error(echo, post(fields, body), statuses)


@pytest.mark.parametrize("fields", [
    b"Content-Length: 5\r\nContent-Length: 6\r\n",
    b"Content-Length: 6\r\nContent-Length: 5\r\n",
    b"Content-Length: 0\r\nContent-Length: 5\r\n",
    b"Content-Length: 0, 5\r\n",
    b"Content-Length: 5, 0\r\n",
    b"Content-Length: 5,6\r\n",
    b"Content-Length: 5, 5, 6\r\n",
    b"Content-Length: 5\r\ncontent-length: 50\r\n",
])
def test_differing_content_lengths(echo, fields):
    assert_one_error(echo, post(fields, b"hello"), (400,))


@pytest.mark.parametrize("fields", [
    b"Content-Length: 5\r\nContent-Length: 5\r\n",
    b"Content-Length: 5, 5\r\n",
])
def test_identical_duplicate_content_length(echo, fields):
    # RFC 9110 8.6: MAY reject, or use the single value.
    assert_one_response_or_error(echo, post(fields, b"hello"),
                                 lambda r: r.json()["body_length"] == 5 or pytest.fail(r))


@pytest.mark.parametrize("value", [
    b"+5", b"-1", b"-5", b"0x5", b"5.0", b"5e0", b"1 0", b"5 5", b"", b" ", b"\xa05", b"5\xa0",
    b"4\x005", b"5\x00", b"\x0b5", b"five", b"5a", b"a", b"_5", b"5_", b"1_0",
    b"18446744073709551621",            # 2**64 + 5
    b"99999999999999999999999999999",
    b'"5"', b"5;", b"5,", b",5",
])
def test_invalid_content_length(echo, value):
    # RFC 9110 8.6, 9112 6.3 (5): not 1*DIGIT -> 400 and close (413 allowed for a huge number).
    allowed = (400, 413) if value.isdigit() else (400,)
    assert_one_error(echo, post(b"Content-Length: " + value + b"\r\n", b"hello"), allowed)


def test_content_length_leading_zeros_valid(echo):
    data, closed = exchange(echo, post(b"Content-Length: 005\r\n", b"hello") + SMUGGLED)
    rs = parse(data)
    assert [r.status for r in rs] == [200, 200], data[:500]
    assert rs[0].json()["body_length"] == 5


def test_content_length_too_short_rest_is_next_request(echo):
    # Sanity: the framing is the Content-Length; what follows is the next request.
    data, _ = exchange(echo, post(b"Content-Length: 2\r\n", b"he") + SMUGGLED)
    rs = parse(data)
    assert [r.status for r in rs] == [200, 200]


@pytest.mark.parametrize("te,statuses", [
    (b"Transfer-Encoding: chunked, identity\r\n", (400,)),
    (b"Transfer-Encoding: chunked, chunked\r\n", (400,)),
    (b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", (400,)),
    (b"Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n", (400, 501)),
    (b"Transfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n", (400, 501)),
    (b"Transfer-Encoding: identity\r\n", (400, 501)),
    (b"Transfer-Encoding: xchunked\r\n", (400, 501)),
    (b"Transfer-Encoding: chunkedx\r\n", (400, 501)),
    (b"Transfer-Encoding: chunk\r\n", (400, 501)),
    (b"Transfer-Encoding: \"chunked\"\r\n", (400, 501)),
    (b"Transfer-Encoding: chunked;q=1\r\n", (400, 501)),
    (b"Transfer-Encoding: \x0bchunked\r\n", (400,)),
    (b"Transfer-Encoding: chunked\x0b\r\n", (400,)),
    (b"Transfer-Encoding: \x0cchunked\r\n", (400,)),
    (b"Transfer-Encoding: \xa0chunked\r\n", (400, 501)),
    (b"Transfer-Encoding: chunked\xa0\r\n", (400, 501)),
    (b"Transfer-Encoding: ch\x00unked\r\n", (400,)),
    (b"Transfer-Encoding : chunked\r\n", (400,)),
    (b"Transfer-Encoding\t: chunked\r\n", (400,)),
    (b" Transfer-Encoding: chunked\r\n", (400,)),
    (b"Transfer-Encoding:\r\n chunked\r\n", (400,)),
    (b"Transfer-Encoding: \r\n\tchunked\r\n", (400,)),
    (b"Transfer-Encoding: identity\r\n , chunked\r\n", (400, 501)),
    (b"Transfer-\r\nEncoding: chunked\r\n", (400,)),
    (b"Transfer_Encoding: chunked\r\nTransfer-Encoding: chunked, x\r\n", (400, 501)),
    (b"Transfer-Encoding: \r\n", (400, 501)),
    (b"Transfer-Encoding: ,\r\n", (400, 501)),
])
def test_transfer_encoding_obfuscation(echo, te, statuses):
    # chunked not last or not exactly once: 400 (RFC 9112 6.3 (4)); unknown coding: 501
    # (RFC 9112 6.1 SHOULD); space before the colon: 400 (RFC 9112 5.1 MUST); obs-fold: 400.
    body = b"5\r\nhello\r\n0\r\n\r\n"
    assert_one_error(echo, post(te, body), statuses)


@pytest.mark.parametrize("te", [b"gzip, chunked", b"deflate, chunked", b"compress,chunked",
                                b"gzip\r\nTransfer-Encoding: chunked", b"x-custom, chunked", b"gzip"])
def test_unimplemented_coding_before_chunked_501(echo, te):
    body = b"5\r\nhello\r\n0\r\n\r\n"
    assert_one_error(echo, post(b"Transfer-Encoding: " + te + b"\r\n", body), (501,))


@pytest.mark.parametrize("te", [b"CHUNKED", b"Chunked", b",chunked", b"chunked,", b" , chunked , "])
def test_transfer_encoding_chunked_variants_valid(echo, te):
    # Case-insensitive coding; empty list elements are ignored (RFC 9110 5.6.1, rejecting is safe).
    req = post(b"Transfer-Encoding: " + te + b"\r\n", b"5\r\nhello\r\n0\r\n\r\n")
    assert_one_response_or_error(echo, req, lambda r: r.json()["body_length"] == 5 or pytest.fail(r))


@pytest.mark.parametrize("body", [b"0\r\n\r\n", b"5\r\nhello\r\n0\r\n\r\n"])
def test_transfer_encoding_in_http10(echo, body):
    # RFC 9112 6.1: a server MUST treat TE in an HTTP/1.0 request as faulty framing and close.
    assert_one_error(echo, post(b"Transfer-Encoding: chunked\r\n", body, version=b"HTTP/1.0"),
                     (400,))


def test_transfer_encoding_in_http10_with_content_length(echo):
    req = post(b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", b"0\r\n\r\n",
               version=b"HTTP/1.0")
    assert_one_error(echo, req, (400,))


# ---- field syntax -----------------------------------------------------------------------------------

@pytest.mark.parametrize("fields", [
    b"X-A: a\r\n b\r\n",
    b"X-A: a\r\n\tb\r\n",
    b"X-A:\r\n b\r\n",
    b"X-A: a\r\n \r\n",
    b"Content-Length: 5\r\n \r\n",
    b"Host2: y\r\n Content-Length: 5\r\n",
])
def test_obs_fold_rejected(echo, fields):
    # RFC 9112 5.2: 400, or unfold; the server documents rejection.
    assert_one_error(echo, post(fields + b"Content-Length: 5\r\n", b"hello")
                     if b"Content-Length" not in fields else post(fields, b"hello"), (400,))


@pytest.mark.parametrize("request_bytes", [
    b"GET /echo HTTP/1.1\r\n Host: x\r\n\r\n",
    b"GET /echo HTTP/1.1\r\n\tHost: x\r\n\r\n",
    b"GET /echo HTTP/1.1\r\n X: y\r\nHost: x\r\n\r\n",
])
def test_whitespace_line_after_request_line(echo, request_bytes):
    # RFC 9112 2.2: 400, or ignore the line (then Host is missing in the first case: 400 too).
    assert_one_error(echo, request_bytes, (400,))


@pytest.mark.parametrize("field", [
    b"X-Test : v", b"X-Test\t: v", b"Host : x", b"Content-Length : 0", b"Connection : close",
    b"X-Test  : v", b"Expect : 100-continue", b"Content-Type : text/plain",
])
def test_whitespace_before_colon(echo, field):
    # RFC 9112 5.1: "A server MUST reject ... with a response status code of 400".
    assert_one_error(echo, b"GET /echo HTTP/1.1\r\nHost: x\r\n" + field + b"\r\n\r\n", (400,))


@pytest.mark.parametrize("request_bytes", [
    # bare CR as a line end inside the head
    b"GET /echo HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n",
    b"GET /echo HTTP/1.1\r\nHost: x\r\nX: a\rContent-Length: 5\r\n\r\nhello",
    b"GET /echo HTTP/1.1\r\nHost: x\r\n\rContent-Length: 5\r\n\r\nhello",
    b"GET /echo HTTP/1.1\r\nHost: x\r\nX: a\r\r\n\r\n",
    b"GET /echo HTTP/1.1\rHost: x\r\n\r\n",
    b"GET /echo\r HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /echo HTTP/1.1\r\r\nHost: x\r\n\r\n",
    # "\r\n\rX" as the end of the head (garden #30; accepted by llhttp 8.1.0)
    b"GET /echo HTTP/1.1\r\nHost: x\r\n\rX",
    b"GET /echo HTTP/1.1\r\nHost: x\r\n\rX\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\rXhello",
    b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\r\n",
    b"GET /echo HTTP/1.1\r\nHost: x\r\n\r",
])
def test_bare_cr_in_head(echo, request_bytes):
    # RFC 9112 2.2: a bare CR MUST be considered invalid (or replaced by SP inside a value).
    assert_one_error(echo, request_bytes, (400,))


@pytest.mark.parametrize("request_bytes", [
    b"GET /echo HTTP/1.1\nHost: x\n\n",
    b"GET /echo HTTP/1.1\r\nHost: x\n\r\n",
    b"GET /echo HTTP/1.1\r\nHost: x\r\n\n",
])
def test_bare_lf_in_head(echo, request_bytes):
    # RFC 9112 2.2: a recipient MAY accept a bare LF as a line end; either way, consistently.
    assert_one_response_or_error(echo, request_bytes,
                                 lambda r: r.json()["target"] == "/echo" or pytest.fail(r))


@pytest.mark.parametrize("value", [
    b"a\x00b", b"\x00", b"a\x01b", b"a\x08", b"a\x1bb", b"a\x7fb", b"a\x0bb", b"a\x0cb", b"\x1f",
])
@pytest.mark.parametrize("name", [b"X-Test", b"Host", b"User-Agent"])
def test_nul_and_ctl_in_field_value(echo, name, value):
    fields = (b"Host: x\r\n" if name != b"Host" else b"") + name + b": " + value + b"\r\n"
    assert_one_error(echo, b"GET /echo HTTP/1.1\r\n" + fields + b"\r\n", (400,))


def test_htab_and_obs_text_in_field_value_valid(echo):
    data, _ = exchange(echo, b"GET /echo HTTP/1.1\r\nHost: x\r\nX-A: a\tb\r\nX-B: caf\xc3\xa9\xff\r\n"
                             b"Connection: close\r\n\r\n")
    rs = parse(data)
    assert [r.status for r in rs] == [200], data[:300]


@pytest.mark.parametrize("line", [
    b"X Y: z", b"\"X\": z", b"X\x00: z", b"X\x00Y: z", b"\xc3\xa9: z", b"X\xff: z", b": z",
    b"NoColon", b"X(Y): z", b"X@Y: z", b"X/Y: z", b"X[Y]: z", b"X{Y}: z", b"X=Y: z", b"X,Y: z",
    b"X;Y: z", b"X\\Y: z", b"X?Y: z", b"X<Y>: z", b"X\x7f: z", b"X\x01: z", b"X\tY: z",
    b"Content-Length\x00: 5", b"Transfer-Encoding\x0b: chunked",
])
def test_invalid_field_name(echo, line):
    # RFC 9110 5.1 (field-name = token), RFC 9112 5: 400.
    assert_one_error(echo, b"GET /echo HTTP/1.1\r\nHost: x\r\n" + line + b"\r\n\r\n", (400,))


# ---- chunked framing --------------------------------------------------------------------------------

CHUNKED = b"Transfer-Encoding: chunked\r\n"


@pytest.mark.parametrize("body", [
    # bare CR in chunk lines (garden #31; "5\r\r" ends a chunk-size line in llhttp 8.1.0)
    b"5\r\rhello\r\n0\r\n\r\n",
    b"5\r\r\nhello\r\n0\r\n\r\n",
    b"5;a=b\r\rhello\r\n0\r\n\r\n",
    b"5;a=b\rX\r\nhello\r\n0\r\n\r\n",
    b"5\r\nhello\r\r0\r\n\r\n",
    b"5\r\nhello\r\n0\r\r\n",
    b"5\r\nhello\r\n0\r\n\r\r\n",
    b"5\r\nhello\r\n0\r\nX: a\rb\r\n\r\n",
    b"5\r\nhello\r\n0\r\nX: a\r\r\n",
    b"0\r\r\n\r\n",
    b"0\r\n\r\rX",
    # bare LF in chunk framing (never allowed: RFC 9112 7.1)
    b"5\nhello\r\n0\r\n\r\n",
    b"5\r\nhello\n0\r\n\r\n",
    b"5\r\nhello\r\n0\n\r\n",
    b"5\r\nhello\r\n0\r\n\n",
    b"5\r\nhello\r\n0\n\n",
    b"5;a=b\nhello\r\n0\r\n\r\n",
    b"5\r\nhello\r\n0\r\nX: y\n\r\n",
    b"0\n\n",
])
def test_bare_cr_or_lf_in_chunked_framing(echo, body):
    assert_one_error(echo, post(CHUNKED, body), (400,))


@pytest.mark.parametrize("size", [
    b"0x5", b" 5", b"5 ", b"5\t", b"xyz", b"-5", b"+5", b"5g", b"0_5", b"0_2e", b"5\x00", b"",
    b"5 5", b"\x0b5", b"5,", b"5.0", b"\xa05", b";a=b",
    b"10000000000000005",          # 2**64 + 5
    b"fffffffffffffffff",
])
def test_bad_chunk_size(echo, size):
    # RFC 9112 7.1: chunk-size = 1*HEXDIG; 400 (413 for a huge but valid size).
    allowed = (400, 413) if size.isalnum() and len(size) > 8 else (400,)
    assert_one_error(echo, post(CHUNKED, size + b"\r\nhello\r\n0\r\n\r\n"), allowed)


@pytest.mark.parametrize("body", [
    b"5\r\nhelloXX\r\n0\r\n\r\n",          # data longer than its size
    b"5\r\nhello0\r\n\r\n",                # missing CRLF after the data
    b"5\r\nhel\r\n0\r\n\r\n",              # data shorter than its size
    b"3\r\nhello\r\n0\r\n\r\n",
    b"5\r\nhello\r\n\r\n0\r\n\r\n",         # an empty size line
    b"5\r\nhello\r\nX\r\n\r\n",
])
def test_chunk_data_not_matching_size(echo, body):
    assert_one_error(echo, post(CHUNKED, body), (400,))


@pytest.mark.parametrize("trailer", [
    b"GET /echo/smuggled HTTP/1.1\r\nHost: x\r\n\r\n",   # last chunk followed by a request line
    b"NoColon\r\n\r\n",
    b"X Y: z\r\n\r\n",
    b"X : z\r\n\r\n",
    b"X: a\x00b\r\n\r\n",
    b" X: y\r\n\r\n",
    b"X: a\r\n b\r\n\r\n",
])
def test_invalid_trailer_section(echo, trailer):
    assert_one_error(echo, post(CHUNKED, b"5\r\nhello\r\n0\r\n" + trailer), (400,))


@pytest.mark.parametrize("trailer", [
    b"Content-Length: 100\r\n", b"Transfer-Encoding: chunked\r\n", b"Host: evil\r\n",
    b"Connection: close\r\n",
])
def test_framing_fields_in_trailers_ignored(echo, trailer):
    # RFC 9110 6.5.1: framing fields in trailers are never used for framing (a client MUST NOT
    # send them, so 400 and close is fine too); whatever follows is the next request.
    req = post(CHUNKED, b"5\r\nhello\r\n0\r\n" + trailer + b"\r\n")
    middle = b"GET /echo/smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
    data, closed = exchange(echo, req + middle + b"GET /echo/last HTTP/1.1\r\nHost: x\r\n"
                                                  b"Connection: close\r\n\r\n")
    rs = parse(data)
    if rs and rs[0].status == 400:
        assert len(rs) == 1 and closed, data[:600]
        return
    assert [r.status for r in rs] == [200, 200, 200], data[:600]
    assert rs[0].json()["body_length"] == 5
    assert rs[1].json()["target"] == "/echo/smuggled"


# ---- request line ------------------------------------------------------------------------------------

@pytest.mark.parametrize("request_bytes", [b"GET /echo\r\n\r\n", b"GET /echo\r\nHost: x\r\n\r\n"])
def test_http09_rejected(echo, request_bytes):
    assert_one_error(echo, request_bytes, (400, 505))


@pytest.mark.parametrize("version", [b"HTTP/2.0", b"HTTP/3.0", b"HTTP/2", b"HTTP/9.9"])
def test_unsupported_major_version_505(echo, version):
    # RFC 9110 15.6.6 / 2.5.
    assert_one_error(echo, b"GET /echo " + version + b"\r\nHost: x\r\n\r\n", (505, 400))


def test_http2_preface_rejected(echo):
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    assert_one_error(echo, preface, (400, 505))


def test_http_1_2(echo):
    # The brief: 505; RFC 9110 2.5 would let a server answer as HTTP/1.1. Either way consistent.
    data, closed = exchange(echo, b"GET /echo HTTP/1.2\r\nHost: x\r\n\r\n" + SMUGGLED)
    rs = parse(data)
    assert rs, data
    if rs[0].status == 505:
        assert len(rs) == 1 and closed, data[:400]
    else:
        assert [r.status for r in rs] == [200, 200], data[:400]


@pytest.mark.parametrize("line", [
    b"GET /echo http/1.1", b"GET /echo HTTP/1.10", b"GET /echo HTTP/01.1", b"GET /echo HTTP/1",
    b"GET /echo HTTP/11", b"GET /echo HTTP/1.1 ", b"GET /echo HTTP/1.1 x", b"GET /echo HTTP/ 1.1",
    b"GET /echo HTTP/1.x", b"GET /echo FOO/1.1", b"GE(T /echo HTTP/1.1", b"GET/echo HTTP/1.1",
    b"GET /echo x HTTP/1.1", b" GET /echo HTTP/1.1", b"GET /echo HTTP/1.1\x00", b"\x00GET /echo HTTP/1.1",
    b"GET", b"GET /echo", b"/echo HTTP/1.1", b"G\xc3\x89T /echo HTTP/1.1",
])
def test_malformed_request_line(echo, line):
    assert_one_error(echo, line + b"\r\nHost: x\r\n\r\n", (400, 505))


@pytest.mark.parametrize("target", [
    b"/echo#frag", b"/echo/#", b"#", b"/echo/a b", b"/echo/\xff", b"/echo/\xc3\xa9", b"/echo/\x80",
    b"/echo/\x00", b"/echo/\x01", b"/echo/\x7f", b"/echo/\t", b"echo", b"*/echo", b"?q",
])
def test_invalid_target_bytes(echo, target):
    assert_one_error(echo, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n", (400,))


def test_asterisk_target_outside_options(echo):
    assert_one_error(echo, b"GET * HTTP/1.1\r\nHost: x\r\n\r\n", (400,))


# ---- Host --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fields", [
    b"",                                   # missing
    b"Host: x\r\nHost: x\r\n",             # duplicated (identical)
    b"Host: x\r\nHost: y\r\n",
    b"Host: x, y\r\n",
    b"Host: a b\r\n",
    b"Host: user@h\r\n",
    b"Host: h:80x\r\n",
    b"Host: h:-1\r\n",
    b"Host: h:80:80\r\n",
    b"Host: [::1\r\n",
    b"Host: [::1]x\r\n",
    b"Host: h/path\r\n",
    b"Host: h?q\r\n",
    b"Host: h#f\r\n",
    b"Host: \"h\"\r\n",
    b"Host: h\\x\r\n",
])
def test_invalid_or_missing_host(echo, fields):
    # RFC 9112 3.2: 400 for a missing, duplicated or invalid Host in HTTP/1.1.
    assert_one_error(echo, b"GET /echo HTTP/1.1\r\n" + fields + b"\r\n", (400,))


@pytest.mark.parametrize("host", [b"x", b"x:8080", b"127.0.0.1", b"[::1]", b"[::1]:80",
                                  b"a-b.example.com", b"EXAMPLE.com:1"])
def test_valid_host(echo, host):
    data, closed = exchange(echo, b"GET /echo HTTP/1.1\r\nHost: " + host +
                            b"\r\nConnection: close\r\n\r\n")
    assert [r.status for r in parse(data)] == [200]


@pytest.mark.parametrize("target", [
    b"http://user@x/echo", b"http://user:pw@x/echo", b"http://@x/echo", b"http:///echo",
    b"http://x@/echo", b"http://", b"http://a b/echo",
])
def test_absolute_form_with_userinfo_or_bad_authority(echo, target):
    # RFC 9110 4.2.4: userinfo is invalid in http(s) URIs; RFC 9112 3.2.2.
    assert_one_error(echo, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n", (400,))


def test_absolute_form_without_host_header(echo):
    # RFC 9112 3.2: a server MUST respond 400 to an HTTP/1.1 request without Host, whatever
    # the form of the target.
    assert_one_error(echo, b"GET http://x/echo HTTP/1.1\r\n\r\n", (400,))


def test_http10_without_host_is_fine(echo):
    data, closed = exchange(echo, b"GET /echo HTTP/1.0\r\n\r\n")
    assert [r.status for r in parse(data)] == [200] and closed


# ---- what is pipelined behind ---------------------------------------------------------------------

def test_requests_after_connection_close_not_run(echo):
    reqs = (b"GET /echo/1 HTTP/1.1\r\nHost: x\r\n\r\n"
            b"POST /echo/2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
            b"GET /echo/3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            + SMUGGLED + b"GET /echo/5 HTTP/1.1\r\nHost: x\r\n\r\n")
    data, closed = exchange(echo, reqs)
    rs = parse(data)
    assert [r.json()["target"] for r in rs] == ["/echo/1", "/echo/2", "/echo/3"], data[:1500]
    assert "close" in rs[2].tokens("connection")
    assert closed


def test_garbage_after_connection_close_not_parsed(echo):
    # RFC 9112 9.6: ignore what follows; answering 400 to the garbage is wrong (garden #45).
    data, closed = exchange(echo, b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                                  b"\x00\xff garbage \r\n\r\n")
    rs = parse(data)
    assert [r.status for r in rs] == [200], data[:600]
    assert closed


def test_http10_request_without_keep_alive_ends_the_connection(echo):
    data, closed = exchange(echo, b"GET /echo/1 HTTP/1.0\r\n\r\n" + SMUGGLED)
    assert [r.json()["target"] for r in parse(data)] == ["/echo/1"] and closed


@pytest.mark.parametrize("bad", [
    post(b"Content-Length: 5\r\nContent-Length: 6\r\n", b"hello!"),
    post(CHUNKED, b"5\r\nhelloXX\r\n0\r\n\r\n"),
    b"GET /echo HTTP/1.1\r\nHost: x\r\nX : y\r\n\r\n",
])
def test_good_requests_before_a_bad_one_answered_then_nothing(echo, bad):
    good = b"GET /echo/1 HTTP/1.1\r\nHost: x\r\n\r\n"
    good2 = b"GET /echo/2 HTTP/1.1\r\nHost: x\r\n\r\n"
    data, closed = exchange(echo, good + good2 + bad + SMUGGLED)
    rs = parse(data)
    assert [r.status for r in rs] == [200, 200, 400], data[:1500]
    assert b"smuggled" not in data and closed


# ---- the same vectors cut at every byte boundary ------------------------------------------------

@pytest.mark.parametrize("request_bytes", [
    b"GET /echo HTTP/1.1\r\nHost: x\r\n\rX",
    b"GET /echo HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n",
    post(CHUNKED, b"5\r\rhello\r\n0\r\n\r\n"),
    post(CHUNKED, b"5;a=b\r\rhello\r\n0\r\n\r\n"),
    post(CHUNKED, b"5\r\nhello\r\r0\r\n\r\n"),
    post(CHUNKED, b"5\r\nhello\r\n0\r\n\r\r\n"),
    post(CHUNKED, b"5\nhello\r\n0\r\n\r\n"),
    post(CHUNKED, b"5\r\nhello\r\n0\r\nX: y\n\r\n"),
    post(CHUNKED, b"5\r\nhelloXX\r\n0\r\n\r\n"),
    post(b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n"),
])
def test_bad_framing_split_at_every_boundary(echo, request_bytes):
    # Reads that end inside a CRLF must not hide a bare CR or LF from the checks.
    whole = request_bytes + SMUGGLED
    start = max(0, request_bytes.find(b"\r\n\r\n") - 12)
    for i in range(start, len(request_bytes) + 1):
        data, closed = exchange(echo, None, pieces=[whole[:i], whole[i:]], gap=0.004, timeout=3)
        ctx = f"split at {i}: {whole[:i]!r} | {whole[i:]!r}\ngot {data[:300]!r}"
        rs = parse(data)
        assert len(rs) == 1 and rs[0].status == 400 and closed, ctx
