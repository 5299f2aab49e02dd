"""Message text validation: checked, never altered."""

from __future__ import annotations

import pytest

from tongpin.intake.domain.messages import TextError, is_blank, validate_text
from tongpin.shared.events import MAX_TEXT

pytestmark = pytest.mark.unit

KEPT = [
    "我想反映一下：住房问题，已经拖了两年了！！（急）",
    "  前后有空格，也要原样保留  ",
    "\u3000全角空格开头，全角标点：，。；“引号”！？",
    "emoji 😀👮‍♀️🏳️‍🌈 and mixed 中文 English Русский العربية",
    "line one\r\nline two\n\ttabbed",
    "e\u0301 combining accent and ＡＢＣ full-width letters ①②③",
    "\ufeffBOM at the start is kept",
    "x",
]


@pytest.mark.parametrize("text", KEPT)
def test_valid_text_is_returned_exactly(text: str) -> None:
    assert validate_text(text) == text
    assert validate_text(text.encode("utf-8")) == text
    assert validate_text(text.encode("utf-8")).encode("utf-8") == text.encode("utf-8")


def test_limit_counts_characters_not_bytes() -> None:
    at_limit = "😀" * MAX_TEXT  # 4 bytes each; still MAX_TEXT characters
    assert validate_text(at_limit) == at_limit
    with pytest.raises(TextError) as info:
        validate_text("字" * (MAX_TEXT + 1))
    assert info.value.field == "text"
    assert str(MAX_TEXT) in info.value.reason


@pytest.mark.parametrize("blank", ["", " ", "\n\t", "\u3000\u3000", "\u200b", "\u200d\ufeff", "\x00"])
def test_empty_and_invisible_text_is_rejected(blank: str) -> None:
    assert is_blank(blank)
    with pytest.raises(TextError):
        validate_text(blank)


def test_invalid_utf8_names_the_offset() -> None:
    raw = "正常".encode() + b"\xff\xfe" + "尾".encode()
    with pytest.raises(TextError) as info:
        validate_text(raw, field="content")
    assert info.value.field == "content"
    assert "UTF-8" in info.value.reason
    assert "byte offset 6" in info.value.reason


def test_gbk_bytes_are_not_utf8() -> None:
    with pytest.raises(TextError):
        validate_text("民警家属".encode("gbk"))


def test_unpaired_surrogate_is_rejected() -> None:
    with pytest.raises(TextError, match="surrogate"):
        validate_text("bad \ud800 text")


def test_non_text_is_rejected() -> None:
    with pytest.raises(TextError):
        validate_text(123)  # type: ignore[arg-type]


def test_custom_limit_and_field() -> None:
    assert validate_text("标题", field="title", max_chars=2) == "标题"
    with pytest.raises(TextError) as info:
        validate_text("标题党", field="title", max_chars=2)
    assert info.value.field == "title"
    assert str(info.value) == "title: is 3 characters long; the limit is 2"


def test_a_message_fingerprint_sees_the_instant_and_the_content_not_their_spelling():
    from datetime import UTC, datetime, timedelta, timezone

    from tongpin.intake.domain.messages import message_fingerprint

    at = datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=UTC)
    base = {"channel_id": "officers-01", "author_member_id": "m-1", "about_officer_id": None, "text": "想调休",
            "sent_at": at, "attachments": []}
    same = message_fingerprint(**{**base, "sent_at": at.astimezone(timezone(timedelta(hours=8)))})
    assert message_fingerprint(**base) == same
    # Within the millisecond the database keeps, still the same; anything else is another message.
    assert message_fingerprint(**{**base, "sent_at": at.replace(microsecond=123999)}) == same
    for change in ({"text": "想调休。"}, {"author_member_id": "m-2"}, {"channel_id": "officers-02"},
                   {"about_officer_id": "m-9"}, {"sent_at": at + timedelta(milliseconds=1)},
                   {"attachments": [{"name": "a.png"}]}):
        assert message_fingerprint(**{**base, **change}) != same, change
