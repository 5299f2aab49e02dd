"""SLA targets: due dates, met or missed, overdue, and the summary over many cases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from tongpin.counselling.domain.case import Case
from tongpin.counselling.domain.sla import (
    DEFAULT_TARGETS,
    SlaSettingError,
    Target,
    due_dates,
    first_response_met,
    is_overdue,
    resolution_met,
    summarise,
    targets_from_setting,
)
from tongpin.shared.events import Severity

pytestmark = pytest.mark.unit

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


@dataclass
class Facts:
    severity: Severity
    opened_at: datetime = T0
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None


def test_default_targets() -> None:
    assert DEFAULT_TARGETS["critical"] == Target(first_response=timedelta(minutes=15), resolution=timedelta(days=3))
    assert DEFAULT_TARGETS["high"] == Target(first_response=timedelta(hours=2), resolution=timedelta(days=7))
    assert DEFAULT_TARGETS["medium"] == Target(first_response=timedelta(hours=24), resolution=timedelta(days=14))
    assert DEFAULT_TARGETS["low"] == Target(first_response=timedelta(hours=72), resolution=timedelta(days=30))


def test_due_dates() -> None:
    due = due_dates(severity="critical", opened_at=T0)
    assert due.first_response_due == datetime(2025, 3, 1, 9, 15, tzinfo=UTC)
    assert due.resolution_due == datetime(2025, 3, 4, 9, 0, tzinfo=UTC)


def test_targets_from_setting_overlays_defaults() -> None:
    targets = targets_from_setting("critical=10m/2d, high=1h/5d")
    assert targets["critical"] == Target(first_response=timedelta(minutes=10), resolution=timedelta(days=2))
    assert targets["high"] == Target(first_response=timedelta(hours=1), resolution=timedelta(days=5))
    assert targets["low"] == DEFAULT_TARGETS["low"]
    assert due_dates(severity="critical", opened_at=T0, targets=targets).first_response_due == T0 + timedelta(
        minutes=10
    )
    assert targets_from_setting("") == dict(DEFAULT_TARGETS)


@pytest.mark.parametrize("bad", ["urgent=1h/2d", "critical=1h", "critical=1w/2d", "critical=0m/1d", "high=8d/1d"])
def test_bad_target_settings_are_refused(bad: str) -> None:
    with pytest.raises(SlaSettingError):
        targets_from_setting(bad)


def test_first_response_met_exactly_on_time_and_missed_one_second_late() -> None:
    due = T0 + timedelta(minutes=15)
    assert first_response_met(case=Facts("critical", first_response_at=due)) is True
    assert first_response_met(case=Facts("critical", first_response_at=due + timedelta(seconds=1))) is False


def test_undecided_targets_are_pending_until_due() -> None:
    case = Facts("high")
    assert first_response_met(case=case) is None
    assert first_response_met(case=case, now=T0 + timedelta(hours=1)) is None
    assert first_response_met(case=case, now=T0 + timedelta(hours=3)) is False
    assert resolution_met(case=case, now=T0 + timedelta(days=6)) is None
    assert resolution_met(case=case, now=T0 + timedelta(days=8)) is False
    assert resolution_met(case=Facts("high", resolved_at=T0 + timedelta(days=7))) is True


def test_is_overdue() -> None:
    now = T0 + timedelta(hours=3)
    assert is_overdue(case=Facts("high"), now=now)  # no first response after 2 h
    assert not is_overdue(case=Facts("high", first_response_at=T0 + timedelta(hours=1)), now=now)
    late = T0 + timedelta(days=8)
    assert is_overdue(case=Facts("high", first_response_at=T0 + timedelta(hours=1)), now=late)
    assert not is_overdue(
        case=Facts("high", first_response_at=T0 + timedelta(hours=1), resolved_at=T0 + timedelta(days=9)), now=late
    )
    assert not is_overdue(case=Facts("low"), now=now)


def test_the_case_aggregate_satisfies_the_sla_protocol() -> None:
    due = due_dates(severity="medium", opened_at=T0)
    case = Case.open(
        case_id="case-1", concern_id="c-1", channel_kind="families", category="health", severity="medium",
        opened_at=T0, first_response_due=due.first_response_due, resolution_due=due.resolution_due,
    )
    case.record_reply(at=T0 + timedelta(hours=2))
    assert first_response_met(case=case) is True
    assert not is_overdue(case=case, now=T0 + timedelta(days=1))
    assert is_overdue(case=case, now=T0 + timedelta(days=15))


def test_summary_counts_met_missed_and_pending() -> None:
    now = T0 + timedelta(days=10)
    cases = [
        # critical: responded on time, resolved on time
        Facts("critical", first_response_at=T0 + timedelta(minutes=5), resolved_at=T0 + timedelta(days=1)),
        # critical: responded late, resolved late
        Facts("critical", first_response_at=T0 + timedelta(hours=1), resolved_at=T0 + timedelta(days=5)),
        # critical: never answered, now far past both targets
        Facts("critical"),
        # medium: responded on time, unresolved but still within 14 days
        Facts("medium", first_response_at=T0 + timedelta(hours=3)),
        # low: opened recently, nothing due yet
        Facts("low", opened_at=now - timedelta(hours=1)),
    ]
    summary = summarise(cases=cases, now=now)
    overall = summary.overall
    assert overall.cases == 5
    assert overall.overdue == 1
    assert (overall.first_response.met, overall.first_response.missed, overall.first_response.pending) == (2, 2, 1)
    assert (overall.resolution.met, overall.resolution.missed, overall.resolution.pending) == (1, 2, 2)
    assert overall.first_response.rate == pytest.approx(0.5)
    assert overall.resolution.rate == pytest.approx(1 / 3)
    critical = summary.by_severity["critical"]
    assert (critical.cases, critical.first_response.met, critical.first_response.missed) == (3, 1, 2)
    assert summary.by_severity["high"].cases == 0
    assert summary.by_severity["high"].first_response.rate is None
    assert summary.by_severity["low"].first_response.pending == 1


def test_summary_of_nothing() -> None:
    summary = summarise(cases=[], now=T0)
    assert summary.overall.cases == 0
    assert summary.overall.resolution.rate is None
    assert set(summary.by_severity) == {"low", "medium", "high", "critical"}
