"""What no request may carry into a service: NUL characters and integers beyond 8 bytes.

The database refuses both (a NUL inside a string, an integer over 2**63 - 1), so they are refused
here, before any route runs: a 422 problem naming the field, and nothing written. Routes also bound
each number they take (``MAX_OFFSET``, ``MAX_VERSION``, ``MAX_SEQ``) so their OpenAPI documents say so.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tongpin.shared.problems import problem_response

MAX_OFFSET = 1_000_000
MAX_VERSION = 1_000_000_000
MAX_SEQ = 2**53 - 1  # the largest integer every JSON client reads exactly
_INT64 = (-(2**63), 2**63 - 1)
_LONG_DIGITS = re.compile(rb"\d{19,}")
NUL_REASON = "contains a NUL character, which cannot be stored"
BIG_REASON = "is a number beyond 8-byte integers, which cannot be stored"


def _walk(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(field, reason) for every NUL-carrying string and out-of-range integer inside a JSON value."""
    if isinstance(value, str):
        if "\x00" in value:
            yield path or "body", NUL_REASON
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        if not _INT64[0] <= value <= _INT64[1]:
            yield path or "body", BIG_REASON
    elif isinstance(value, dict):
        for key, item in value.items():
            name = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                yield name.replace("\x00", "\\u0000"), NUL_REASON
            yield from _walk(item, name)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}.{index}" if path else str(index))


def _pairs(raw: bytes) -> list[tuple[str, str]]:
    return parse_qsl(raw.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="replace")


def unstorable_in_target(scope: Scope) -> list[tuple[str, str]]:
    """Problems in the path and the query string."""
    found = []
    if "\x00" in scope.get("path", ""):
        found.append(("path", NUL_REASON))
    for name, value in _pairs(scope.get("query_string", b"")):
        if "\x00" in name or "\x00" in value:
            found.append((name.replace("\x00", "\\u0000") or "query", NUL_REASON))
    return found


def unstorable_in_body(content_type: str, body: bytes) -> list[tuple[str, str]]:
    """Problems in a request body of this content type (JSON, a form, or anything else)."""
    if not body:
        return []
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/json" or kind.endswith("+json"):
        if b"\\u0000" not in body and not _LONG_DIGITS.search(body):
            return []
        try:
            document = json.loads(body)
        except ValueError:
            return []  # not JSON at all: the route's own validation answers
        return list(_walk(document, ""))
    if kind == "application/x-www-form-urlencoded":
        return [(name or "body", NUL_REASON) for name, value in _pairs(body) if "\x00" in name + value]
    # No route takes binary uploads: a NUL byte in any other body is text that cannot be stored.
    return [("body", NUL_REASON)] if b"\x00" in body else []


class UnstorableInputGuard:
    """ASGI middleware: refuses a request carrying what the database cannot store, before any route runs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        found = unstorable_in_target(scope)
        messages: list[Message] = []
        if not found and scope.get("method") in ("POST", "PUT", "PATCH", "DELETE"):
            body = bytearray()
            while True:
                message = await receive()
                messages.append(message)
                if message["type"] != "http.request":
                    break
                body += message.get("body", b"")
                if not message.get("more_body", False):
                    break
            headers = dict(scope.get("headers") or [])
            found = unstorable_in_body(headers.get(b"content-type", b"").decode("latin-1"), bytes(body))
        if found:
            fields = ", ".join(dict.fromkeys(field for field, _ in found))
            response = problem_response(422, f"invalid input: {fields}", title="Unprocessable Content",
                                        instance=scope.get("path"),
                                        errors=[{"field": field, "reason": reason} for field, reason in found])
            await response(scope, receive, send)
            return
        if not messages:
            await self.app(scope, receive, send)
            return

        async def replay() -> Message:
            if messages:
                return messages.pop(0)
            return await receive()

        await self.app(scope, replay, send)
