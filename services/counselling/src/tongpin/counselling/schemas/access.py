"""Breaking the glass on a case one may not open."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from tongpin.counselling.schemas.common import Strict


class BreakGlassCreate(Strict):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=1000, pattern=r"\S")] = Field(
        description="why the case must be read; recorded and reviewed by the coordinator")


class BreakGlassRead(BaseModel):
    model_config = ConfigDict(extra="ignore")

    case_id: str
    staff_id: str
    roles: list[str]
    reason: str
    at: datetime


class BreakGlassPage(BaseModel):
    items: list[BreakGlassRead]
    total: int
    limit: int
    offset: int


class MonthCount(BaseModel):
    month: str
    reads: int


class BreakGlassSummary(BaseModel):
    total: int
    by_month: list[MonthCount]

