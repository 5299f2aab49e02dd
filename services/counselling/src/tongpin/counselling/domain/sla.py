"""Time targets (SLA) per severity: first response and resolution, and how often they were met."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final, Protocol

from tongpin.shared.events import SEVERITIES, Severity


@dataclass(frozen=True)
class Target:
    """How long staff have for the first response and for resolution."""

    first_response: timedelta
    resolution: timedelta


Targets = Mapping[str, Target]

DEFAULT_TARGETS: Final[Mapping[str, Target]] = {
    "critical": Target(first_response=timedelta(minutes=15), resolution=timedelta(days=3)),
    "high": Target(first_response=timedelta(hours=2), resolution=timedelta(days=7)),
    "medium": Target(first_response=timedelta(hours=24), resolution=timedelta(days=14)),
    "low": Target(first_response=timedelta(hours=72), resolution=timedelta(days=30)),
}

_DURATION: Final = re.compile(r"^(\d+)([mhd])$")
_UNITS: Final = {"m": "minutes", "h": "hours", "d": "days"}


class SlaSettingError(ValueError):
    """The targets setting is malformed."""


class SlaSubject(Protocol):
    """The case fields the targets are measured on."""

    @property
    def severity(self) -> Severity: ...
    @property
    def opened_at(self) -> datetime: ...
    @property
    def first_response_at(self) -> datetime | None: ...
    @property
    def resolved_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class DueDates:
    """When the first response and the resolution fall due."""

    first_response_due: datetime
    resolution_due: datetime


def _parse_duration(text: str) -> timedelta:
    match = _DURATION.fullmatch(text.strip())
    if not match:
        raise SlaSettingError(f"duration {text!r} must read like 15m, 2h or 3d")
    value = int(match.group(1))
    if value <= 0:
        raise SlaSettingError(f"duration {text!r} must be positive")
    return timedelta(**{_UNITS[match.group(2)]: value})


def targets_from_setting(setting: str, *, base: Targets = DEFAULT_TARGETS) -> dict[str, Target]:
    """Parse "critical=15m/3d,high=2h/7d" over the base targets (severities not named keep theirs)."""
    targets = dict(base)
    for raw in setting.split(","):
        item = raw.strip()
        if not item:
            continue
        severity, sep, spans = item.partition("=")
        severity = severity.strip()
        if not sep or severity not in SEVERITIES:
            raise SlaSettingError(f"entry {item!r} must read severity=first/resolution")
        first, slash, resolution = spans.partition("/")
        if not slash:
            raise SlaSettingError(f"entry {item!r} must give first response and resolution, e.g. 2h/7d")
        target = Target(first_response=_parse_duration(first), resolution=_parse_duration(resolution))
        if target.first_response > target.resolution:
            raise SlaSettingError(f"entry {item!r}: first response cannot be later than resolution")
        targets[severity] = target
    return targets


def due_dates(*, severity: Severity, opened_at: datetime, targets: Targets = DEFAULT_TARGETS) -> DueDates:
    """The due dates of a case opened at that time with that severity."""
    target = targets[severity]
    return DueDates(
        first_response_due=opened_at + target.first_response, resolution_due=opened_at + target.resolution
    )


def _met(done_at: datetime | None, due: datetime, now: datetime | None) -> bool | None:
    if done_at is not None:
        return done_at <= due
    # Not done yet: missed once the due time has passed, otherwise still open to meet.
    if now is not None and now > due:
        return False
    return None


def first_response_met(
    *, case: SlaSubject, targets: Targets = DEFAULT_TARGETS, now: datetime | None = None
) -> bool | None:
    """True/False once decided; None while no response has come and it is not yet due (or now unknown)."""
    due = due_dates(severity=case.severity, opened_at=case.opened_at, targets=targets)
    return _met(case.first_response_at, due.first_response_due, now)


def resolution_met(
    *, case: SlaSubject, targets: Targets = DEFAULT_TARGETS, now: datetime | None = None
) -> bool | None:
    """True/False once decided; None while the case is unresolved and not yet due (or now unknown)."""
    due = due_dates(severity=case.severity, opened_at=case.opened_at, targets=targets)
    return _met(case.resolved_at, due.resolution_due, now)


def is_overdue(*, case: SlaSubject, now: datetime, targets: Targets = DEFAULT_TARGETS) -> bool:
    """True when a target has passed with the work still undone (no first response, or unresolved)."""
    due = due_dates(severity=case.severity, opened_at=case.opened_at, targets=targets)
    if case.first_response_at is None and now > due.first_response_due:
        return True
    return case.resolved_at is None and now > due.resolution_due


@dataclass
class TargetTally:
    """How one target fared across cases: met, missed, or not yet decided."""

    met: int = 0
    missed: int = 0
    pending: int = 0

    @property
    def rate(self) -> float | None:
        """Share met among the decided ones; None when none is decided yet."""
        decided = self.met + self.missed
        return self.met / decided if decided else None

    def add(self, outcome: bool | None) -> None:
        """Count one case's outcome."""
        if outcome is None:
            self.pending += 1
        elif outcome:
            self.met += 1
        else:
            self.missed += 1


@dataclass
class SlaTally:
    """First-response and resolution tallies for a set of cases."""

    cases: int = 0
    overdue: int = 0
    first_response: TargetTally = field(default_factory=TargetTally)
    resolution: TargetTally = field(default_factory=TargetTally)


@dataclass
class SlaSummary:
    """Tallies over all cases and per severity."""

    overall: SlaTally = field(default_factory=SlaTally)
    by_severity: dict[str, SlaTally] = field(default_factory=lambda: {s: SlaTally() for s in SEVERITIES})


def summarise(*, cases: Iterable[SlaSubject], now: datetime, targets: Targets = DEFAULT_TARGETS) -> SlaSummary:
    """How often the targets were met across the cases, overall and per severity."""
    summary = SlaSummary()
    for case in cases:
        first = first_response_met(case=case, targets=targets, now=now)
        resolution = resolution_met(case=case, targets=targets, now=now)
        overdue = is_overdue(case=case, now=now, targets=targets)
        for tally in (summary.overall, summary.by_severity[case.severity]):
            tally.cases += 1
            tally.overdue += overdue
            tally.first_response.add(first)
            tally.resolution.add(resolution)
    return summary
