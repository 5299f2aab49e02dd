"""Outbound webhook signing."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from tongpin.intake.domain.signing import SignatureError, parse_header, sign, verify

pytestmark = pytest.mark.unit

SECRET = b"whsec_0123456789abcdef"
BODY = json.dumps({"channel": "families", "text": "通知：本周六家属开放日 🎉"}, ensure_ascii=False).encode()


def test_header_is_hmac_sha256_of_timestamp_dot_body() -> None:
    header = sign(body=BODY, secret=SECRET, timestamp=1_700_000_000)
    expected = hmac.new(SECRET, b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"


def test_str_and_bytes_give_the_same_signature() -> None:
    assert sign(body=BODY.decode(), secret=SECRET.decode(), timestamp=5) == sign(body=BODY, secret=SECRET, timestamp=5)


def test_verify_accepts_within_tolerance() -> None:
    header = sign(body=BODY, secret=SECRET, timestamp=1000)
    assert verify(header=header, body=BODY, secret=SECRET, now=1000) == 1000
    assert verify(header=header, body=BODY, secret=SECRET, now=1300, tolerance_seconds=300) == 1000
    assert verify(header=header, body=BODY, secret=SECRET, now=700, tolerance_seconds=300) == 1000


@pytest.mark.parametrize("now", [1301, 699])
def test_verify_refuses_old_and_future_timestamps(now: int) -> None:
    header = sign(body=BODY, secret=SECRET, timestamp=1000)
    with pytest.raises(SignatureError, match="tolerance"):
        verify(header=header, body=BODY, secret=SECRET, now=now, tolerance_seconds=300)


def test_verify_refuses_tampered_body_wrong_secret_and_swapped_timestamp() -> None:
    header = sign(body=BODY, secret=SECRET, timestamp=1000)
    with pytest.raises(SignatureError, match="does not match"):
        verify(header=header, body=BODY + b" ", secret=SECRET, now=1000)
    with pytest.raises(SignatureError, match="does not match"):
        verify(header=header, body=BODY, secret=b"another-secret", now=1000)
    forged = header.replace("t=1000", "t=1001")
    with pytest.raises(SignatureError, match="does not match"):
        verify(header=forged, body=BODY, secret=SECRET, now=1000)


def test_any_of_several_v1_signatures_may_match() -> None:
    good = sign(body=BODY, secret=SECRET, timestamp=1000).split(",")[1]
    header = f"t=1000,v1={'0' * 64},{good},v0=legacy"
    assert parse_header(header) == (1000, ["0" * 64, good.removeprefix("v1=")])
    assert verify(header=header, body=BODY, secret=SECRET, now=1000) == 1000


@pytest.mark.parametrize(
    "header",
    ["", "garbage", "t=abc,v1=00", "v1=00", "t=1000", "t=1000,t=1000,v1=00", "t=-5,v1=00", "t=１０００,v1=00"],
)
def test_malformed_headers_are_signature_errors(header: str) -> None:
    with pytest.raises(SignatureError):
        verify(header=header, body=BODY, secret=SECRET, now=1000)


def test_sign_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError):
        sign(body=BODY, secret=b"", timestamp=1)
    with pytest.raises(ValueError):
        sign(body=BODY, secret=SECRET, timestamp=-1)
