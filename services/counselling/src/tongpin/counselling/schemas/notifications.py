"""Each staff member's notification feed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class NotificationRead(BaseModel):
    model_config = ConfigDict(extra="ignore")

    notification_id: str
    staff_id: str
    kind: str
    case_id: str | None = None
    details: dict[str, Any] = {}
    created_at: datetime
    read_at: datetime | None = None


class NotificationPage(BaseModel):
    items: list[NotificationRead]
    total: int
    unread: int | None = None
    limit: int
    offset: int

