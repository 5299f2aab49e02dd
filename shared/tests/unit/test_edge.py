"""What the edge refuses: NUL characters anywhere, integers beyond 8 bytes in JSON."""

from __future__ import annotations

import json

import pytest

from tongpin.shared.edge import BIG_REASON, NUL_REASON, unstorable_in_body, unstorable_in_target

pytestmark = pytest.mark.unit


def test_nul_in_json_is_found_with_its_field_and_an_escaped_backslash_is_not() -> None:
    body = json.dumps({"text": "好\u0000", "rows": [{"name": "ok"}, {"name": "a\u0000"}]}).encode()
    assert unstorable_in_body("application/json", body) == [("text", NUL_REASON), ("rows.1.name", NUL_REASON)]
    literal = json.dumps({"text": "a literal \\u0000 is six characters"}).encode()
    assert unstorable_in_body("application/json; charset=utf-8", literal) == []


def test_integers_beyond_eight_bytes_are_found_and_the_largest_is_allowed() -> None:
    assert unstorable_in_body("application/json", b'{"version": 18446744073709551616}') == [("version", BIG_REASON)]
    assert unstorable_in_body("application/json", b'{"n": -9223372036854775809}') == [("n", BIG_REASON)]
    assert unstorable_in_body("application/json", b'{"n": 9223372036854775807, "x": 1.2345678901234567890}') == []


def test_forms_other_bodies_paths_and_queries() -> None:
    assert unstorable_in_body("application/x-www-form-urlencoded", b"username=a%00b&password=x") == [
        ("username", NUL_REASON)]
    assert unstorable_in_body("text/csv", b"name\nab\x00") == [("body", NUL_REASON)]
    assert unstorable_in_body("application/json", b"not json \\u0000") == []
    assert unstorable_in_target({"path": "/cases/a\x00", "query_string": b""}) == [("path", NUL_REASON)]
    assert unstorable_in_target({"path": "/cases", "query_string": b"state=open%00&limit=1"}) == [
        ("state", NUL_REASON)]
    assert unstorable_in_target({"path": "/cases", "query_string": "state=已解决".encode()}) == []
