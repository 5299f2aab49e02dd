"""What a case records when it changes: ids, codes and times only (handlers turn them into catalogue events)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tongpin.shared.codes import CommitteeDecision, ReopenReason, ResolutionOutcome, TalkCancelReason, TalkOutcome
from tongpin.shared.events import Category, ChannelKind, ResolutionMethod, Severity, StaffRole


@dataclass(frozen=True, kw_only=True)
class CaseEvent:
    """Something that happened to a case."""

    case_id: str


@dataclass(frozen=True, kw_only=True)
class CaseOpened(CaseEvent):
    """A case was opened from a concern."""

    concern_id: str
    channel_kind: ChannelKind
    category: Category
    severity: Severity
    crisis: bool
    opened_at: datetime


@dataclass(frozen=True, kw_only=True)
class ConcernAttached(CaseEvent):
    """A related concern was attached to the case."""

    concern_id: str
    attached_at: datetime


@dataclass(frozen=True, kw_only=True)
class CaseAssigned(CaseEvent):
    """The case was given to a member of staff."""

    assignee_id: str
    assignee_role: StaffRole
    assigned_by: str | None
    assigned_at: datetime


@dataclass(frozen=True, kw_only=True)
class ReplyRecorded(CaseEvent):
    """Staff answered the subject online."""

    replied_at: datetime
    first_response: bool
    reply_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class TalkScheduled(CaseEvent):
    """An offline talk (约谈) was booked."""

    talk_id: str
    scheduled_for: datetime
    scheduled_at: datetime


@dataclass(frozen=True, kw_only=True)
class TalkCancelled(CaseEvent):
    """A booked talk was called off."""

    talk_id: str
    reason_code: TalkCancelReason | None
    cancelled_at: datetime


@dataclass(frozen=True, kw_only=True)
class TalkHeld(CaseEvent):
    """A booked talk took place."""

    talk_id: str
    outcome_code: TalkOutcome
    held_at: datetime


@dataclass(frozen=True, kw_only=True)
class CaseEscalated(CaseEvent):
    """The case was put before the Party committee."""

    escalation_id: str
    escalated_at: datetime


@dataclass(frozen=True, kw_only=True)
class EscalationDecided(CaseEvent):
    """The committee recorded its decision."""

    escalation_id: str
    decision_code: CommitteeDecision
    due_by: datetime | None
    decided_at: datetime


@dataclass(frozen=True, kw_only=True)
class CaseResolved(CaseEvent):
    """The case was resolved, and how."""

    method: ResolutionMethod
    outcome_code: ResolutionOutcome
    resolved_at: datetime


@dataclass(frozen=True, kw_only=True)
class CaseReopened(CaseEvent):
    """A resolved case was opened again."""

    reason_code: ReopenReason
    reopened_at: datetime
