"""Request and response bodies of the public form and receipt threads."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from tongpin.intake.schemas.messages import TEXT_DOC
from tongpin.shared.events import MAX_TEXT, ChannelKind, Id, OversightStatus


class SubmissionCreate(BaseModel):
    channel_kind: Literal["families", "supervision"]
    channel_id: Id | None = Field(default=None, description="optional; default the first channel of the kind")
    text: str = Field(min_length=1, max_length=MAX_TEXT, description=TEXT_DOC)
    anonymous: bool = True
    contact: str | None = Field(default=None, max_length=200, description="kept only when not anonymous")


class SubmissionRead(BaseModel):
    concern_id: str
    receipt_code: str = Field(description="shown this once; only its keyed hash is stored")
    status: OversightStatus


class ReceiptLookup(BaseModel):
    receipt_code: str = Field(min_length=1, max_length=64)


class ReceiptMessageCreate(BaseModel):
    receipt_code: str = Field(min_length=1, max_length=64)
    text: str = Field(min_length=1, max_length=MAX_TEXT, description=TEXT_DOC)


class ThreadEntryRead(BaseModel):
    kind: Literal["submission", "reply", "status"]
    at: datetime
    text: str | None = None
    status: OversightStatus | None = None


class ThreadRead(BaseModel):
    status: OversightStatus
    channel_kind: ChannelKind
    created_at: datetime
    entries: list[ThreadEntryRead]
