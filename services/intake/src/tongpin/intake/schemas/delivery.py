"""Response bodies of deliveries (replies and broadcasts posted back out)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel


class DeliveryRead(BaseModel):
    id: str
    kind: Literal["reply", "broadcast"]
    target: Literal["channel", "receipt"]
    channel_id: str | None
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: datetime | None
    attempt_log: list[dict[str, Any]]
    created_at: datetime
    finished_at: datetime | None


class DeliveryPage(BaseModel):
    items: list[DeliveryRead]
    total: int
    limit: int
    offset: int
