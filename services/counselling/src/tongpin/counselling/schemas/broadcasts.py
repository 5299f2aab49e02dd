"""Broadcasts and their delivery figures."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from tongpin.counselling.schemas.common import ShortText, Strict, Text
from tongpin.shared.events import Id


class BroadcastCreate(Strict):
    title: ShortText
    text: Text
    channel_ids: Annotated[list[Id], Field(min_length=1, max_length=50)]


class DeliveryFigures(BaseModel):
    channels: int
    delivered: int
    failed: int
    pending: int
    per_channel: list[dict[str, Any]]


class BroadcastRead(BaseModel):
    broadcast_id: str
    title: str
    text: str
    channel_ids: list[str]
    requested_by: str
    requested_at: datetime
    figures: DeliveryFigures


class BroadcastPage(BaseModel):
    items: list[BroadcastRead]
    total: int
    limit: int
    offset: int

