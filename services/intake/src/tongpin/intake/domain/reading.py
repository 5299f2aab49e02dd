"""The reading list: every message of the officers' and families' channels that is not chatter is read by a person.

Triage orders the queue; it does not replace reading. Each message that triage did not dismiss gets a
reading target from its severity — crisis candidates within minutes, high within half an hour, the rest
within one working day — and the list records who read it and when. A message read late still counts
as read; one unread past its target is overdue, and the on-call staff hear of it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

# The channels whose members are the force and its families: what they write is read by staff. The
# supervision channel's reports go to oversight, which follows them as items.
READ_CHANNELS = frozenset({"officers", "families"})


@dataclass(frozen=True)
class ReadingTargets:
    """How soon a message must be read, by how urgent triage judged it."""

    crisis_minutes: float = 5
    high_minutes: float = 30
    working_days: int = 1
    # Working days follow the bureau's calendar week (Monday to Friday) in its time zone.
    timezone: str = "Asia/Shanghai"

    def due(self, *, received_at: datetime, severity: str, crisis: bool) -> datetime:
        """When a message received at this moment must have been read."""
        if crisis or severity == "critical":
            return received_at + timedelta(minutes=self.crisis_minutes)
        if severity == "high":
            return received_at + timedelta(minutes=self.high_minutes)
        return add_working_days(received_at, self.working_days, ZoneInfo(self.timezone))

    def target_name(self, *, severity: str, crisis: bool) -> str:
        """The target's code, as oversight counts it."""
        if crisis or severity == "critical":
            return "crisis"
        return "high" if severity == "high" else "working_day"


def add_working_days(moment: datetime, days: int, zone: ZoneInfo) -> datetime:
    """The same local time ``days`` working days (Monday–Friday) later; from a weekend, count from Monday."""
    local = moment.astimezone(zone)
    while local.weekday() >= 5:  # a message sent at the weekend waits for Monday morning's start
        local = (local + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    remaining = days
    while remaining > 0:
        local += timedelta(days=1)
        if local.weekday() < 5:
            remaining -= 1
    return local.astimezone(moment.tzinfo) if moment.tzinfo else local


def needs_reading(*, channel_kind: str, dismissed: bool) -> bool:
    """Whether a judged message belongs on the reading list: everything of the two channels but chatter."""
    return channel_kind in READ_CHANNELS and not dismissed


def within_target(*, read_at: datetime, due_at: datetime) -> bool:
    return read_at <= due_at
