"""Anonymous receipt codes: shown once to the raiser, stored only as a keyed hash."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata

# No 0/O, 1/I/L: nothing a person could misread when copying a code from paper.
RECEIPT_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
RECEIPT_LENGTH = 16
RECEIPT_GROUP = 4
MIN_PEPPER_BYTES = 16
_SEPARATORS = frozenset(" -_\t")


class ReceiptCodeError(ValueError):
    """The text cannot be a receipt code (wrong length or characters)."""


def new_receipt_code() -> str:
    """A fresh code of 16 characters (~79 bits), grouped like ABCD-EFGH-JKMN-PQRS."""
    raw = "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(RECEIPT_LENGTH))
    return format_receipt(raw)


def format_receipt(code: str) -> str:
    """A code in its display form: four dash-separated groups of four."""
    normal = normalise_receipt(code)
    return "-".join(normal[i : i + RECEIPT_GROUP] for i in range(0, RECEIPT_LENGTH, RECEIPT_GROUP))


def normalise_receipt(code: str) -> str:
    """The canonical form of a typed code: upper case, no dashes or spaces (full-width ones too)."""
    # NFKC folds full-width letters, digits, dashes and spaces typed on a Chinese keyboard.
    folded = unicodedata.normalize("NFKC", code).upper()
    folded = folded.replace("\u2010", "-").replace("\u2011", "-").replace("\u2013", "-").replace("\u2014", "-")
    normal = "".join(ch for ch in folded if ch not in _SEPARATORS)
    if len(normal) != RECEIPT_LENGTH:
        raise ReceiptCodeError(f"a receipt code has {RECEIPT_LENGTH} characters")
    if any(ch not in RECEIPT_ALPHABET for ch in normal):
        raise ReceiptCodeError("a receipt code contains only letters and digits without 0, 1, I, L, O")
    return normal


def is_receipt_code(code: str) -> bool:
    """True when the text normalises to a well-formed receipt code."""
    try:
        normalise_receipt(code)
    except ReceiptCodeError:
        return False
    return True


def hash_receipt(code: str, *, pepper: bytes) -> str:
    """The hex HMAC-SHA256 of the normalised code under a server-side pepper; this is what is stored."""
    if len(pepper) < MIN_PEPPER_BYTES:
        raise ValueError(f"pepper must be at least {MIN_PEPPER_BYTES} bytes")
    return hmac.new(pepper, normalise_receipt(code).encode("ascii"), hashlib.sha256).hexdigest()
