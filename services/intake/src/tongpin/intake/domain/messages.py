"""Validation of text that people wrote: checked, never altered."""

from __future__ import annotations

import unicodedata

from tongpin.shared.events import MAX_TEXT

# Characters that show nothing on their own: whitespace, controls and format marks (ZWSP, ZWJ, BOM).
_BLANK_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf"})


class TextError(ValueError):
    """A text field was rejected; names the field and says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def is_blank(text: str) -> bool:
    """True when the text has no visible character (only whitespace, controls or format marks)."""
    return all(ch.isspace() or unicodedata.category(ch) in _BLANK_CATEGORIES for ch in text)


def validate_text(raw: bytes | str, *, field: str = "text", max_chars: int = MAX_TEXT) -> str:
    """Return the text exactly as given, or raise TextError if it is not valid UTF-8, blank or too long."""
    if isinstance(raw, bytes | bytearray):
        try:
            text = bytes(raw).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise TextError(field, f"is not valid UTF-8 (byte offset {exc.start})") from None
    elif isinstance(raw, str):
        text = raw
        # A lone surrogate (e.g. from JSON "\ud800") cannot be stored as UTF-8.
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise TextError(field, f"contains an unpaired surrogate (character {exc.start})") from None
    else:
        raise TextError(field, "must be text")
    if not text:
        raise TextError(field, "is empty")
    if is_blank(text):
        raise TextError(field, "has no visible characters")
    if len(text) > max_chars:
        raise TextError(field, f"is {len(text)} characters long; the limit is {max_chars}")
    return text
