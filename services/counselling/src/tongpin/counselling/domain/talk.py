"""An offline talk (约谈) of a case: when and where, who takes part, and how it went."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Literal, get_args

TalkStatus = Literal["scheduled", "held", "cancelled"]
TALK_STATUSES: Final[tuple[TalkStatus, ...]] = get_args(TalkStatus)


@dataclass(kw_only=True)
class Talk:
    """One booking; the case that holds it decides every change (see Case.schedule_talk and the rest)."""

    talk_id: str
    scheduled_for: datetime
    place: str
    participants: list[str] = field(default_factory=list)
    staff_ids: list[str] = field(default_factory=list)
    status: TalkStatus = "scheduled"
    scheduled_by: str | None = None
    scheduled_at: datetime
    # The booked time its staff were last reminded of; a new time is reminded of again.
    reminded_for: datetime | None = None
    cancelled_at: datetime | None = None
    reason_code: str | None = None
    held_at: datetime | None = None
    outcome_code: str | None = None

    @property
    def needs_reminder(self) -> bool:
        """True while the talk is booked and its staff have not been reminded of its current time."""
        return self.status == "scheduled" and self.reminded_for != self.scheduled_for
