"""Property tests: the invariants that must hold for any text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tongpin.intake.domain.messages import TextError, validate_text
from tongpin.intake.domain.receipts import hash_receipt, new_receipt_code, normalise_receipt
from tongpin.intake.domain.signing import sign, verify
from tongpin.intake.domain.wecom import WeComCrypto, split_utf8

pytestmark = pytest.mark.unit

# Any Unicode text without lone surrogates (those cannot be UTF-8).
TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=3000)
CRYPTO = WeComCrypto(
    token="QDG6eK", encoding_aes_key="jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", receive_id="wx5823bf96d3bd56c7"
)


@settings(max_examples=200)
@given(text=TEXT, max_bytes=st.integers(min_value=4, max_value=2048))
def test_split_pieces_fit_and_join_back_exactly(text: str, max_bytes: int) -> None:
    pieces = split_utf8(text, max_bytes=max_bytes)
    assert "".join(pieces) == text
    assert all(0 < len(p.encode("utf-8")) <= max_bytes for p in pieces)


@settings(max_examples=100)
@given(text=TEXT)
def test_wecom_round_trip_is_exact(text: str) -> None:
    assert CRYPTO.decrypt(CRYPTO.encrypt(text)) == text


@settings(max_examples=200)
@given(text=TEXT)
def test_validate_text_never_alters(text: str) -> None:
    try:
        result = validate_text(text)
    except TextError:
        return
    assert result == text
    assert validate_text(text.encode("utf-8")) == text


@settings(max_examples=50)
@given(body=st.binary(max_size=2000), timestamp=st.integers(min_value=0, max_value=2**40))
def test_signed_bodies_verify(body: bytes, timestamp: int) -> None:
    header = sign(body=body, secret=b"s3cret", timestamp=timestamp)
    assert verify(header=header, body=body, secret=b"s3cret", now=timestamp) == timestamp


@settings(max_examples=50)
@given(st.data())
def test_receipt_codes_survive_retyping(data: st.DataObject) -> None:
    code = new_receipt_code()
    retyped = "".join(
        data.draw(st.sampled_from([ch, ch.lower(), f" {ch}", f"{ch}-"])) for ch in normalise_receipt(code)
    )
    pepper = b"0123456789abcdef"
    assert hash_receipt(retyped, pepper=pepper) == hash_receipt(code, pepper=pepper)
