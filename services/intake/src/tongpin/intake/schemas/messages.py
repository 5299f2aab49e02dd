"""Request and response bodies of messages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, HttpUrl

from tongpin.shared.events import MAX_TEXT, ChannelKind, Id, OversightStatus

TEXT_DOC = f"What the person wrote, 1 to {MAX_TEXT} characters (MAX_TEXT), valid UTF-8, stored byte-for-byte."


class AttachmentMeta(BaseModel):
    name: str = Field(min_length=1, max_length=255)
    content_type: str = Field(min_length=1, max_length=100)
    size_bytes: int = Field(ge=0, le=2**40)
    url: HttpUrl | None = None


class MessageCreate(BaseModel):
    channel_id: Id
    channel_kind: ChannelKind | None = Field(default=None, description="optional; must match the channel's kind")
    source_message_id: str = Field(min_length=1, max_length=256, description="the source's id; retries reuse it")
    author_member_id: Id | None = None
    author_external_id: str | None = Field(default=None, min_length=1, max_length=64)
    anonymous: bool = False
    about_officer_id: Id | None = Field(default=None, description="the officer the message is about, when known")
    text: str = Field(min_length=1, max_length=MAX_TEXT, description=TEXT_DOC)
    sent_at: datetime
    attachments: list[AttachmentMeta] = Field(default=[], max_length=20)


class MessageRead(BaseModel):
    id: str
    channel_id: str
    channel_kind: ChannelKind
    origin: str
    source_message_id: str
    author_member_id: str | None
    anonymous: bool
    about_officer_id: str | None
    unit: str | None
    text: str | None = Field(description="null once retention has deleted it")
    attachments: list[dict[str, Any]]
    sent_at: datetime
    received_at: datetime
    has_receipt: bool
    public_status: OversightStatus | None


class MessagePage(BaseModel):
    items: list[MessageRead]
    total: int
    limit: int
    offset: int


class PreviewRead(BaseModel):
    id: str
    preview: str | None = Field(description="the first characters of the text; null once retention removed it")
    truncated: bool


class PreviewPage(BaseModel):
    items: list[PreviewRead]
