"""Validation of text that people wrote: checked, never altered."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

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
    if "\x00" in text:
        raise TextError(field, "contains a NUL character, which cannot be stored")
    if is_blank(text):
        raise TextError(field, "has no visible characters")
    if len(text) > max_chars:
        raise TextError(field, f"is {len(text)} characters long; the limit is {max_chars}")
    return text


def to_stored_precision(moment: datetime) -> datetime:
    """A time as the database keeps it (UTC, whole milliseconds), so a first answer and a replay agree."""
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def message_fingerprint(
    *, channel_id: str, author_member_id: str | None, about_officer_id: str | None, text: str, sent_at: datetime,
    attachments: Sequence[Mapping[str, Any]],
) -> str:
    """What makes a message the same message: a retry under its source id must carry the same fingerprint.

    The author is the resolved member and the time the instant (milliseconds), so a retry naming the
    author by external id or writing the time in another zone is still the same message.
    """
    canonical = json.dumps({
        "channel_id": channel_id, "author_member_id": author_member_id, "about_officer_id": about_officer_id,
        "text": text, "sent_at": to_stored_precision(sent_at).isoformat(), "attachments": list(attachments),
    }, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
