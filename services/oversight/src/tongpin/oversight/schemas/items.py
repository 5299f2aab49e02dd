"""Request and response bodies of oversight items, as staff and as the public see them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from tongpin.oversight.domain import items as item_domain
from tongpin.shared.edge import MAX_VERSION
from tongpin.shared.events import OversightStatus


class ItemRead(BaseModel):
    id: str
    concern_id: str
    channel_kind: str
    category: str
    unit: str | None
    status: str
    public_summary: str | None
    opened_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    version: int


class ItemPublicRead(BaseModel):
    id: str
    status: str
    public_summary: str | None
    opened_at: datetime
    updated_at: datetime
    closed_at: datetime | None


class ItemUpdate(BaseModel):
    version: int = Field(ge=1, le=MAX_VERSION)
    status: OversightStatus | None = None
    public_summary: str | None = Field(default=None, max_length=item_domain.SUMMARY_MAX)


class ItemPage(BaseModel):
    items: list[ItemRead]
    limit: int
    offset: int
