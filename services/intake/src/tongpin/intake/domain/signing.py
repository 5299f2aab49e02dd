"""Outbound webhook signing: HMAC-SHA256 over ``"{timestamp}.{body}"``, sent as ``t=<ts>,v1=<hex>``."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Tongpin-Signature"
DEFAULT_TOLERANCE_SECONDS = 300


class SignatureError(ValueError):
    """A signature header is malformed, outside the time tolerance, or does not match."""


def _as_bytes(value: bytes | str) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def _digest(*, body: bytes | str, secret: bytes | str, timestamp: int) -> str:
    key = _as_bytes(secret)
    if not key:
        raise ValueError("signing secret must not be empty")
    message = f"{timestamp}.".encode("ascii") + _as_bytes(body)
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def sign(*, body: bytes | str, secret: bytes | str, timestamp: int) -> str:
    """The header value ``t=<timestamp>,v1=<hex HMAC-SHA256 of "{timestamp}.{body}">``."""
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or timestamp < 0:
        raise ValueError("timestamp must be a non-negative integer of Unix seconds")
    return f"t={timestamp},v1={_digest(body=body, secret=secret, timestamp=timestamp)}"


def parse_header(header: str) -> tuple[int, list[str]]:
    """Split a header value into its timestamp and its v1 signatures (several during secret rotation)."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise SignatureError("signature header is malformed")
        if key == "t":
            if timestamp is not None or not value.isascii() or not value.isdigit():
                raise SignatureError("signature header has a bad timestamp")
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value.lower())
        # Other schemes (v0, v2, ...) are ignored so senders can add one without breaking receivers.
    if timestamp is None:
        raise SignatureError("signature header has no timestamp")
    if not signatures:
        raise SignatureError("signature header has no v1 signature")
    return timestamp, signatures


def verify(
    *,
    header: str,
    body: bytes | str,
    secret: bytes | str,
    now: int,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> int:
    """Check a header against body and secret within tolerance of now; return its timestamp or raise SignatureError."""
    timestamp, signatures = parse_header(header)
    if abs(now - timestamp) > tolerance_seconds:
        raise SignatureError("signature timestamp is outside the tolerance")
    expected = _digest(body=body, secret=secret, timestamp=timestamp).encode("ascii")
    # Compare against every candidate so timing does not reveal which one matched.
    matched = False
    for candidate in signatures:
        matched |= hmac.compare_digest(expected, candidate.encode("utf-8"))
    if not matched:
        raise SignatureError("signature does not match")
    return timestamp
