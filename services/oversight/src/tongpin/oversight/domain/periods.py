"""Reporting periods (year, quarter, month) and the local-date buckets an event counts in.

Every day, month and year is a date in the bureau's one time zone (``TONGPIN_BUREAU_TIME_ZONE``,
Asia/Shanghai by default), the same for every service and for the console, which asks oversight
which zone and which month it is (``GET /statistics/calendar``). Naive datetimes (PyMongo returns
BSON dates naive unless asked otherwise) are taken as UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")

PeriodKind = Literal["year", "quarter", "month"]

MIN_YEAR = 1970
MAX_YEAR = 9998

_PERIOD_RE = re.compile(r"^(?P<year>\d{4})(?:-(?:Q(?P<quarter>\d+)|(?P<month>\d+)))?$")


class PeriodError(ValueError):
    """A period parameter that is not YYYY, YYYY-Qn or YYYY-MM; names the parameter and why."""

    def __init__(self, param: str, reason: str) -> None:
        super().__init__(f"{param}: {reason}")
        self.param = param
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Period:
    """A calendar period in the bureau's local dates: ``start`` inclusive, ``end`` exclusive."""

    kind: PeriodKind
    start: date
    end: date
    key: str

    @property
    def last_day(self) -> date:
        """The last local date inside the period."""
        return self.end - timedelta(days=1)

    def contains(self, day: date) -> bool:
        """Whether a local date falls inside the period."""
        return self.start <= day < self.end

    def utc_bounds(self, zone: tzinfo = SHANGHAI) -> tuple[datetime, datetime]:
        """The period as a half-open UTC interval (local midnights converted to UTC)."""
        return local_midnight_utc(self.start, zone), local_midnight_utc(self.end, zone)


def local_midnight_utc(day: date, zone: tzinfo = SHANGHAI) -> datetime:
    """The instant a local date starts, in UTC."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def parse_period(text: str, *, param: str = "period") -> Period:
    """Parse "2026", "2026-Q1".."2026-Q4" or "2026-03" into a Period, or raise PeriodError."""
    match = _PERIOD_RE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise PeriodError(param, "expected a year (2026), a quarter (2026-Q1) or a month (2026-03)")
    year = int(match["year"])
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise PeriodError(param, f"year must be between {MIN_YEAR} and {MAX_YEAR}")
    if match["quarter"] is not None:
        quarter = int(match["quarter"])
        if not 1 <= quarter <= 4 or len(match["quarter"]) != 1:
            raise PeriodError(param, "quarter must be Q1, Q2, Q3 or Q4")
        return quarter_period(year=year, quarter=quarter)
    if match["month"] is not None:
        month = int(match["month"])
        if len(match["month"]) != 2 or not 1 <= month <= 12:
            raise PeriodError(param, "month must be two digits, 01 to 12")
        return month_period(year=year, month=month)
    return Period(kind="year", start=date(year, 1, 1), end=date(year + 1, 1, 1), key=f"{year:04d}")


def month_period(*, year: int, month: int) -> Period:
    """The Period for one calendar month."""
    start = date(year, month, 1)
    end = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return Period(kind="month", start=start, end=end, key=f"{year:04d}-{month:02d}")


def quarter_period(*, year: int, quarter: int) -> Period:
    """The Period for one calendar quarter."""
    first_month = 3 * (quarter - 1) + 1
    start = date(year, first_month, 1)
    end = date(year + 1, 1, 1) if quarter == 4 else date(year, first_month + 3, 1)
    return Period(kind="quarter", start=start, end=end, key=f"{year:04d}-Q{quarter}")


def local_date(at: datetime, zone: tzinfo = SHANGHAI) -> date:
    """The bureau's calendar date of an instant (naive datetimes are taken as UTC)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(zone).date()


def month_key(at: datetime, zone: tzinfo = SHANGHAI) -> str:
    """The month ("2026-03") an instant falls in, in the bureau's calendar."""
    day = local_date(at, zone)
    return f"{day.year:04d}-{day.month:02d}"


def bucket_keys(at: datetime, zone: tzinfo = SHANGHAI) -> dict[str, str]:
    """The day, month, quarter and year keys an event at this instant counts in (local dates)."""
    day = local_date(at, zone)
    return {
        "day": day.isoformat(),
        "month": f"{day.year:04d}-{day.month:02d}",
        "quarter": f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}",
        "year": f"{day.year:04d}",
    }


def months_of(period: Period) -> list[str]:
    """The month keys ("2026-01", ...) a period spans, in order."""
    keys: list[str] = []
    year, month = period.start.year, period.start.month
    while date(year, month, 1) < period.end:
        keys.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return keys
