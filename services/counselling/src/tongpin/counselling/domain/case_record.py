"""What a case holds: the fields every part of the aggregate reads and writes, its queries and bookkeeping.

The commands live beside it by concern (case_talks, case_escalations, and the lifecycle in case); `Case`
puts them together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tongpin.counselling.domain.case_events import CaseEvent
from tongpin.counselling.domain.case_rules import CaseState, IllegalTransition
from tongpin.counselling.domain.escalation import Escalation
from tongpin.counselling.domain.talk import Talk
from tongpin.shared.events import Category, ChannelKind, ResolutionMethod, Severity, StaffRole


@dataclass(kw_only=True)
class CaseRecord:
    """One subject's counselling case; every change bumps `version` and records events."""

    case_id: str
    channel_kind: ChannelKind
    category: Category
    severity: Severity
    opened_at: datetime
    concern_ids: list[str]
    subject_officer_id: str | None = None
    unit: str | None = None
    crisis: bool = False
    state: CaseState = "open"
    version: int = 1
    updated_at: datetime | None = None

    assignee_id: str | None = None
    assignee_role: StaffRole | None = None
    assigned_at: datetime | None = None

    first_response_due: datetime | None = None
    resolution_due: datetime | None = None
    first_response_at: datetime | None = None
    last_reply_at: datetime | None = None
    reply_count: int = 0

    pending_talk_id: str | None = None
    pending_talk_for: datetime | None = None
    # Where a cancelled talk returns the case to.
    state_before_talk: CaseState | None = None
    held_talk_ids: list[str] = field(default_factory=list)

    escalation_ids: list[str] = field(default_factory=list)
    escalated_at: datetime | None = None
    decision_code: str | None = None
    decision_due_by: datetime | None = None
    decided_at: datetime | None = None

    resolution_method: ResolutionMethod | None = None
    outcome_code: str | None = None
    resolved_at: datetime | None = None
    reopen_count: int = 0
    reopened_at: datetime | None = None
    reopen_reason_code: str | None = None

    # Every talk booked, by id: the case keeps their details as it keeps the pending one's id.
    talks: dict[str, Talk] = field(default_factory=dict)
    # Every escalation, by id: its written material, the committee's decision, and whether it was carried out.
    escalations: dict[str, Escalation] = field(default_factory=dict)

    pending_events: list[CaseEvent] = field(default_factory=list, repr=False, compare=False)

    # --- queries ------------------------------------------------------------------------------------

    @property
    def is_resolved(self) -> bool:
        """True while the case stands resolved."""
        return self.state == "resolved"

    @property
    def has_reply(self) -> bool:
        """True once staff have answered online at least once."""
        return self.first_response_at is not None

    @property
    def talks_held(self) -> int:
        """How many offline talks have taken place."""
        return len(self.held_talk_ids)

    @property
    def escalation_id(self) -> str | None:
        """The latest escalation, if any."""
        return self.escalation_ids[-1] if self.escalation_ids else None

    def pull_events(self) -> list[CaseEvent]:
        """Hand over the recorded events and forget them (the repository stores them in its outbox)."""
        events, self.pending_events = self.pending_events, []
        return events

    # --- internals ----------------------------------------------------------------------------------

    def _require(self, action: str, allowed: frozenset[CaseState]) -> None:
        if self.state not in allowed:
            raise IllegalTransition(self.state, action)

    def _changed(self, at: datetime, event: CaseEvent) -> None:
        self.version += 1
        self.updated_at = at
        self.pending_events.append(event)
