"""Response bodies of the audit trail: events refused and the queries made of oversight."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, field_validator


class RejectedRead(BaseModel):
    event_id: str
    reason: str
    event: dict[str, Any]
    recorded_at: datetime


class RejectedPage(BaseModel):
    items: list[RejectedRead]
    limit: int
    offset: int


class AuditQueryRead(BaseModel):
    at: datetime
    who: str
    roles: list[str]
    method: str
    path: str
    query: dict[str, str]

    @field_validator("query", mode="before")
    @classmethod
    def _from_pairs(cls, value: Any) -> Any:
        # Stored as [{"name", "value"}] pairs: parameter names are data, never database keys.
        if isinstance(value, list):
            return {pair["name"]: pair["value"] for pair in value}
        return value


class AuditQueryPage(BaseModel):
    items: list[AuditQueryRead]
    limit: int
    offset: int
