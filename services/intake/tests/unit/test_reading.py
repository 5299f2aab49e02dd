"""Reading targets: minutes for crises, half an hour for high, one working day in the bureau's week otherwise."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tongpin.intake.domain.reading import ReadingTargets, add_working_days, needs_reading, within_target

pytestmark = pytest.mark.unit

BEIJING = ZoneInfo("Asia/Shanghai")
TARGETS = ReadingTargets()


def test_crisis_and_critical_are_due_in_minutes() -> None:
    at = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
    assert TARGETS.due(received_at=at, severity="high", crisis=True) == at + timedelta(minutes=5)
    assert TARGETS.due(received_at=at, severity="critical", crisis=False) == at + timedelta(minutes=5)
    assert TARGETS.target_name(severity="critical", crisis=False) == "crisis"


def test_high_is_due_in_half_an_hour() -> None:
    at = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
    assert TARGETS.due(received_at=at, severity="high", crisis=False) == at + timedelta(minutes=30)
    assert TARGETS.target_name(severity="high", crisis=False) == "high"


def test_a_weekday_message_is_due_the_next_working_day_at_the_same_time() -> None:
    tuesday = datetime(2026, 12, 1, 2, 30, tzinfo=UTC)  # 10:30 in Beijing
    assert TARGETS.due(received_at=tuesday, severity="low", crisis=False) == tuesday + timedelta(days=1)


def test_friday_evening_is_due_on_monday_in_the_bureau_time_zone() -> None:
    friday_evening = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)  # 18:00 Friday in Beijing
    due = TARGETS.due(received_at=friday_evening, severity="medium", crisis=False)
    assert due.astimezone(BEIJING).weekday() == 0 and due.astimezone(BEIJING).hour == 18


def test_a_weekend_message_counts_from_monday_morning() -> None:
    saturday = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
    due = add_working_days(saturday, 1, BEIJING).astimezone(BEIJING)
    assert (due.weekday(), due.hour) == (1, 9)


def test_only_non_chatter_from_officers_and_families_is_read() -> None:
    assert needs_reading(channel_kind="officers", dismissed=False)
    assert needs_reading(channel_kind="families", dismissed=False)
    assert not needs_reading(channel_kind="officers", dismissed=True)
    assert not needs_reading(channel_kind="supervision", dismissed=False)


def test_reading_on_the_due_moment_is_within_target() -> None:
    due = datetime(2026, 12, 1, tzinfo=UTC)
    assert within_target(read_at=due, due_at=due)
    assert not within_target(read_at=due + timedelta(seconds=1), due_at=due)
