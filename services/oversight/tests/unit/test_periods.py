"""Period parsing and the local (Asia/Shanghai) buckets an event counts in."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from tongpin.oversight.domain.periods import PeriodError, bucket_keys, months_of, parse_period

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "kind", "start", "end"),
    [
        ("2026", "year", date(2026, 1, 1), date(2027, 1, 1)),
        ("2026-Q1", "quarter", date(2026, 1, 1), date(2026, 4, 1)),
        ("2026-Q4", "quarter", date(2026, 10, 1), date(2027, 1, 1)),
        ("2026-03", "month", date(2026, 3, 1), date(2026, 4, 1)),
        ("2026-12", "month", date(2026, 12, 1), date(2027, 1, 1)),
        ("2024-02", "month", date(2024, 2, 1), date(2024, 3, 1)),
    ],
)
def test_parse_valid(text: str, kind: str, start: date, end: date) -> None:
    period = parse_period(text)
    assert (period.kind, period.start, period.end, period.key) == (kind, start, end, text)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("2026-13", "month"), ("2026-00", "month"), ("2026-3", "month"), ("2026-Q5", "quarter"),
        ("2026-Q0", "quarter"), ("2026-Q01", "quarter"), ("abc", "expected"), ("", "expected"),
        ("2026-q1", "expected"), (" 2026", "expected"), ("2026-03-01", "expected"), ("0999", "year"),
    ],
)
def test_parse_invalid(text: str, fragment: str) -> None:
    with pytest.raises(PeriodError) as caught:
        parse_period(text, param="period")
    assert caught.value.param == "period"
    assert fragment in caught.value.reason


def test_period_helpers() -> None:
    march = parse_period("2026-03")
    assert march.last_day == date(2026, 3, 31)
    assert march.contains(date(2026, 3, 31)) and not march.contains(date(2026, 4, 1))
    assert march.utc_bounds() == (datetime(2026, 2, 28, 16, tzinfo=UTC), datetime(2026, 3, 31, 16, tzinfo=UTC))


def test_bucket_keys_use_shanghai_dates() -> None:
    # 16:30 UTC on 31 March is 00:30 on 1 April in Shanghai: it counts in April and Q2.
    assert bucket_keys(datetime(2026, 3, 31, 16, 30, tzinfo=UTC)) == {
        "day": "2026-04-01", "month": "2026-04", "quarter": "2026-Q2", "year": "2026",
    }
    assert bucket_keys(datetime(2026, 3, 31, 15, 59, tzinfo=UTC))["month"] == "2026-03"
    # Naive datetimes are UTC (what PyMongo returns by default).
    assert bucket_keys(datetime(2025, 12, 31, 16, 0))["year"] == "2026"


def test_months_of() -> None:
    assert months_of(parse_period("2026-Q4")) == ["2026-10", "2026-11", "2026-12"]
    assert months_of(parse_period("2026-02")) == ["2026-02"]
    year = months_of(parse_period("2026"))
    assert len(year) == 12 and year[0] == "2026-01" and year[-1] == "2026-12"
