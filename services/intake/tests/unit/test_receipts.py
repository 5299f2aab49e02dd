"""Anonymous receipt codes."""

from __future__ import annotations

import re

import pytest

from tongpin.intake.domain.receipts import (
    RECEIPT_ALPHABET,
    ReceiptCodeError,
    format_receipt,
    hash_receipt,
    is_receipt_code,
    new_receipt_code,
    normalise_receipt,
)

pytestmark = pytest.mark.unit

PEPPER = b"pepper-for-tests-0123456789"
GROUPED = re.compile(rf"^[{RECEIPT_ALPHABET}]{{4}}(-[{RECEIPT_ALPHABET}]{{4}}){{3}}$")


def test_new_codes_are_grouped_unambiguous_and_distinct() -> None:
    codes = {new_receipt_code() for _ in range(2000)}
    assert len(codes) == 2000
    for code in codes:
        assert GROUPED.match(code), code
        assert not set(code) & set("01ILO")


def test_alphabet_excludes_lookalikes() -> None:
    assert len(set(RECEIPT_ALPHABET)) == len(RECEIPT_ALPHABET) == 31
    assert not set(RECEIPT_ALPHABET) & set("01ILO")


@pytest.mark.parametrize(
    "typed",
    [
        "ABCD-EFGH-JKMN-PQRS",
        "abcd-efgh-jkmn-pqrs",
        "ABCDEFGHJKMNPQRS",
        " abcd efgh jkmn pqrs ",
        "ＡＢＣＤ－ＥＦＧＨ－ＪＫＭＮ－ＰＱＲＳ",  # typed with a Chinese IME in full-width mode
        "ABCD\u3000EFGH\u2014JKMN_PQRS",
    ],
)
def test_typed_variants_normalise_and_hash_the_same(typed: str) -> None:
    assert normalise_receipt(typed) == "ABCDEFGHJKMNPQRS"
    assert format_receipt(typed) == "ABCD-EFGH-JKMN-PQRS"
    assert hash_receipt(typed, pepper=PEPPER) == hash_receipt("ABCD-EFGH-JKMN-PQRS", pepper=PEPPER)


@pytest.mark.parametrize(
    "bad", ["", "ABCD-EFGH", "ABCD-EFGH-JKMN-PQRS-T", "ABCD-EFGH-JKMN-PQR0", "收据-码码-码码-码码"]
)
def test_malformed_codes_are_rejected(bad: str) -> None:
    assert not is_receipt_code(bad)
    with pytest.raises(ReceiptCodeError):
        hash_receipt(bad, pepper=PEPPER)


def test_hash_is_keyed_hex_and_does_not_contain_the_code() -> None:
    code = new_receipt_code()
    digest = hash_receipt(code, pepper=PEPPER)
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert normalise_receipt(code) not in digest.upper()
    assert hash_receipt(code, pepper=b"another-pepper-of-16+bytes") != digest
    assert hash_receipt(new_receipt_code(), pepper=PEPPER) != digest


def test_short_pepper_is_refused() -> None:
    with pytest.raises(ValueError):
        hash_receipt(new_receipt_code(), pepper=b"short")
