"""Response bodies of statistics: the public found-and-resolved figures and the bureau's calendar."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field


class FoundResolvedRead(BaseModel):
    period: str
    found: int | None = Field(description="items found in the period (null: hidden, fewer than the threshold)")
    resolved: int | None
    not_substantiated: int | None
    suppression: dict[str, int]


class CalendarRead(BaseModel):
    time_zone: str = Field(description="the bureau's time zone: every day and month a figure counts in is a date there")
    utc_offset: str
    now: datetime
    today: date
    month: str
    year: str
    first_month_with_data: str | None
    last_month_with_data: str | None
