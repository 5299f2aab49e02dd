"""Response bodies of the reading list."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from tongpin.shared.events import ChannelKind, ReadingTarget, Severity


class ReadRead(BaseModel):
    staff_id: str
    name: str = ""
    at: datetime


class ReadingItemRead(BaseModel):
    concern_id: str
    channel_id: str
    channel_kind: ChannelKind
    unit: str | None
    category: str
    severity: Severity
    crisis: bool
    target: ReadingTarget
    text: str | None = Field(description="what the person wrote; null once retention has removed it")
    sent_at: datetime | None
    received_at: datetime
    due_at: datetime
    status: Literal["unread", "read"]
    overdue: bool = Field(description="unread and past its reading target")
    reads: list[ReadRead]
    first_read_at: datetime | None
    within_target: bool | None


class ReadingPage(BaseModel):
    items: list[ReadingItemRead]
    total: int
    limit: int
    offset: int
    counts: dict[str, int] = Field(description="unread, overdue and read on the whole list (within the filters)")
