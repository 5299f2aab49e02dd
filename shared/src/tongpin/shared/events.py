"""The event catalogue: every cross-service event type, versioned. The only shared contract.

Only three types carry text that people wrote (``concern.raised``, ``reply.requested``,
``broadcast.requested``). Every other type carries ids, codes, flags, numbers and times only: its
string fields are constrained to identifier or code patterns, which the contract tests check.

Every event oversight counts names the ``unit`` the counted thing belongs to and the business time it
happened (its ``*_at`` field, read from the publisher's clock: ``tongpin.shared.clock``). ``unit`` stays
optional in the schema so an older publisher's event still parses, but oversight refuses a counted
event without one (reason ``missing_unit``) instead of counting it under no unit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from tongpin.shared.codes import CommitteeDecision, ReopenReason, ResolutionOutcome, TalkOutcome
from tongpin.shared.envelope import CloudEvent
from tongpin.shared.tracing import current_traceparent

SERVICES = ("intake", "triage", "counselling", "oversight")

# Identifiers and codes: never free text. Outcome, decision and reason codes are closed lists (codes.py).
Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$")]
Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
# Text that people wrote; only the three text-carrying event types may use it.
MAX_TEXT = 5000
Text = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT)]

ChannelKind = Literal["officers", "families", "supervision"]
MemberKind = Literal["officer", "auxiliary", "family", "supervisor"]
Category = Literal[
    "housing", "marriage_family", "workload_leave", "pay_benefits", "career", "health",
    "mental_distress", "interpersonal", "conduct", "service_complaint", "suggestion", "praise", "other",
]
Severity = Literal["low", "medium", "high", "critical"]
RiskFlag = Literal["self_harm", "violence", "domestic_violence", "corruption", "substance", "urgent_hardship"]
Route = Literal["answer_online", "psych_support", "committee", "oversight", "dismiss"]
StaffRole = Literal[
    "political_worker", "psychologist", "centre_coordinator", "committee_member", "auditor", "admin",
]
ResolutionMethod = Literal["answered_online", "resolved_offline", "by_committee"]
OversightStatus = Literal["received", "under_review", "in_progress", "resolved", "not_substantiated", "reopened"]
Origin = Literal["channel", "wecom", "public_form", "api"]

CATEGORIES: tuple[str, ...] = Category.__args__  # type: ignore[attr-defined]
SEVERITIES: tuple[str, ...] = Severity.__args__  # type: ignore[attr-defined]
RISK_FLAGS: tuple[str, ...] = RiskFlag.__args__  # type: ignore[attr-defined]
CHANNEL_KINDS: tuple[str, ...] = ChannelKind.__args__  # type: ignore[attr-defined]


class EventData(BaseModel):
    """Payload of one event type. Subclasses name their type, version, publisher and whether they carry text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_type: ClassVar[str]
    version: ClassVar[int] = 1
    publisher: ClassVar[str]
    carries_text: ClassVar[bool] = False

    @classmethod
    def routing_key(cls) -> str:
        return f"{cls.event_type}.v{cls.version}"


# --- intake -------------------------------------------------------------------------------------


class ConcernRaised(EventData):
    event_type = "concern.raised"
    publisher = "intake"
    carries_text = True

    concern_id: Id
    channel_id: Id
    channel_kind: ChannelKind
    origin: Origin
    author_member_id: Id | None = None
    anonymous: bool = False
    about_officer_id: Id | None = None
    unit: Id | None = None
    text: Text
    sent_at: datetime
    has_receipt: bool = False
    attachment_count: int = Field(default=0, ge=0)


class MemberJoined(EventData):
    event_type = "member.joined"
    publisher = "intake"

    member_id: Id
    member_kind: MemberKind
    channel_id: Id
    channel_kind: ChannelKind
    unit: Id | None = None
    joined_at: datetime


class MemberLeft(EventData):
    event_type = "member.left"
    publisher = "intake"

    member_id: Id
    member_kind: MemberKind
    channel_id: Id
    channel_kind: ChannelKind
    unit: Id | None = None
    left_at: datetime


class RosterUpdated(EventData):
    """A person entered or left the roster that participation is measured against."""

    event_type = "roster.updated"
    publisher = "intake"

    member_id: Id
    member_kind: MemberKind
    channel_kind: ChannelKind
    unit: Id | None = None
    active: bool
    effective_at: datetime


class BroadcastDelivered(EventData):
    event_type = "broadcast.delivered"
    publisher = "intake"

    broadcast_id: Id
    channel_id: Id
    channel_kind: ChannelKind
    outcome: Literal["delivered", "failed"]
    attempts: int = Field(ge=1)
    unit: Id | None = None
    delivered_at: datetime


ReadingTarget = Literal["crisis", "high", "working_day"]


class _ReadingEntry(EventData):
    """What every reading-list event says of its message: ids, severity and times, never text or reader."""

    concern_id: Id
    channel_kind: ChannelKind
    unit: Id | None = None
    severity: Severity
    crisis: bool = False
    target: ReadingTarget
    received_at: datetime
    due_at: datetime


class ConcernRead(_ReadingEntry):
    """A member of staff read a message on the reading list for the first time (counts only: no text, no reader)."""

    event_type = "concern.read"
    publisher = "intake"

    read_at: datetime
    within_target: bool


class ReadingOverdue(_ReadingEntry):
    """A message on the reading list passed its reading target unread; the on-call staff are told."""

    event_type = "concern.reading_overdue"
    publisher = "intake"

    overdue_at: datetime


# --- triage -------------------------------------------------------------------------------------


class ConcernTriaged(EventData):
    event_type = "concern.triaged"
    publisher = "triage"

    concern_id: Id
    channel_id: Id
    channel_kind: ChannelKind
    unit: Id | None = None
    about_officer_id: Id | None = None
    category: Category
    severity: Severity
    flags: list[RiskFlag] = []
    route: Route
    assignee_role: StaffRole | None = None
    assignee_id: Id | None = None
    ruleset_version: int = Field(ge=1)
    # The judgment is the rule set and the model together: r<ruleset>-m<model> (r<ruleset> without a model).
    model_version: int | None = Field(default=None, ge=1)
    judgment_version: Id | None = None
    rule_ids: list[Id] = []
    crisis: bool = False
    # Chatter (greetings, acknowledgements, logistics, notices): no case and no place on the reading list.
    dismissed: bool = False
    overridden: bool = False
    theme_id: Id | None = None
    triaged_at: datetime
    # When the concern itself was sent: statistics count a concern in the month it was raised.
    raised_at: datetime | None = None


class ConcernMerged(EventData):
    event_type = "concern.merged"
    publisher = "triage"

    concern_id: Id
    primary_concern_id: Id
    about_officer_id: Id
    unit: Id | None = None
    merged_at: datetime


class EscalationRaised(EventData):
    """Crisis fast path: the on-call psychologist is assigned at once."""

    event_type = "escalation.raised"
    publisher = "triage"

    concern_id: Id
    channel_id: Id
    channel_kind: ChannelKind
    unit: Id | None = None
    about_officer_id: Id | None = None
    category: Category
    severity: Severity
    flags: list[RiskFlag] = []
    assignee_id: Id | None = None
    raised_at: datetime


# --- counselling --------------------------------------------------------------------------------


class StaffUpdated(EventData):
    """The staff directory changed: triage keeps its assignment pools from these."""

    event_type = "staff.updated"
    publisher = "counselling"

    staff_id: Id
    roles: list[StaffRole]
    active: bool = True
    on_leave: bool = False
    on_call: bool = False
    skills: list[Code] = []
    updated_at: datetime


class CaseOpened(EventData):
    event_type = "case.opened"
    publisher = "counselling"

    case_id: Id
    concern_id: Id
    channel_kind: ChannelKind
    unit: Id | None = None
    category: Category
    severity: Severity
    crisis: bool = False
    opened_at: datetime
    first_response_due: datetime | None = None
    resolution_due: datetime | None = None


class CaseAssigned(EventData):
    event_type = "case.assigned"
    publisher = "counselling"

    case_id: Id
    assignee_id: Id
    assignee_role: StaffRole
    assigned_by: Id | None = None
    unit: Id | None = None
    assigned_at: datetime


class ReplyRequested(EventData):
    event_type = "reply.requested"
    publisher = "counselling"
    carries_text = True

    reply_id: Id
    case_id: Id
    concern_id: Id
    channel_id: Id | None = None
    staff_id: Id
    text: Text
    requested_at: datetime


class CaseReplied(EventData):
    """Staff answered a case online (what they wrote travels only in reply.requested)."""

    event_type = "case.replied"
    publisher = "counselling"

    case_id: Id
    reply_id: Id
    first_response: bool
    unit: Id | None = None
    replied_at: datetime


class TalkScheduled(EventData):
    event_type = "talk.scheduled"
    publisher = "counselling"

    talk_id: Id
    case_id: Id
    unit: Id | None = None
    scheduled_for: datetime
    scheduled_at: datetime


class TalkHeld(EventData):
    event_type = "talk.held"
    publisher = "counselling"

    talk_id: Id
    case_id: Id
    outcome_code: TalkOutcome
    unit: Id | None = None
    held_at: datetime


class CaseEscalated(EventData):
    event_type = "case.escalated"
    publisher = "counselling"

    case_id: Id
    escalation_id: Id
    category: Category
    unit: Id | None = None
    escalated_at: datetime


class EscalationDecided(EventData):
    event_type = "escalation.decided"
    publisher = "counselling"

    escalation_id: Id
    case_id: Id
    decision_code: CommitteeDecision
    due_by: datetime | None = None
    unit: Id | None = None
    decided_at: datetime


class CaseResolved(EventData):
    event_type = "case.resolved"
    publisher = "counselling"

    case_id: Id
    concern_ids: list[Id] = []
    method: ResolutionMethod
    outcome_code: ResolutionOutcome
    channel_kind: ChannelKind
    unit: Id | None = None
    category: Category
    severity: Severity
    opened_at: datetime
    first_response_at: datetime | None = None
    first_response_met: bool | None = None
    resolution_met: bool | None = None
    resolved_at: datetime


class CaseReopened(EventData):
    event_type = "case.reopened"
    publisher = "counselling"

    case_id: Id
    reason_code: ReopenReason
    unit: Id | None = None
    reopened_at: datetime


class BroadcastRequested(EventData):
    event_type = "broadcast.requested"
    publisher = "counselling"
    carries_text = True

    broadcast_id: Id
    channel_ids: list[Id] = Field(min_length=1)
    title: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    text: Text
    requested_by: Id
    requested_at: datetime


# --- oversight ----------------------------------------------------------------------------------


class OversightItemOpened(EventData):
    event_type = "oversight.item.opened"
    publisher = "oversight"

    item_id: Id
    concern_id: Id
    channel_kind: ChannelKind
    category: Category
    unit: Id | None = None
    status: OversightStatus
    opened_at: datetime


class OversightItemUpdated(EventData):
    event_type = "oversight.item.updated"
    publisher = "oversight"

    item_id: Id
    concern_id: Id
    status: OversightStatus
    unit: Id | None = None
    changed_at: datetime


class OversightItemClosed(EventData):
    event_type = "oversight.item.closed"
    publisher = "oversight"

    item_id: Id
    concern_id: Id
    status: Literal["resolved", "not_substantiated"]
    unit: Id | None = None
    closed_at: datetime


CATALOGUE: dict[str, type[EventData]] = {
    cls.routing_key(): cls
    for cls in (
        ConcernRaised, MemberJoined, MemberLeft, RosterUpdated, BroadcastDelivered, ConcernRead, ReadingOverdue,
        ConcernTriaged, ConcernMerged, EscalationRaised,
        StaffUpdated, CaseOpened, CaseAssigned, ReplyRequested, CaseReplied, TalkScheduled, TalkHeld, CaseEscalated,
        EscalationDecided, CaseResolved, CaseReopened, BroadcastRequested,
        OversightItemOpened, OversightItemUpdated, OversightItemClosed,
    )
}

TEXT_CARRYING = frozenset(key for key, cls in CATALOGUE.items() if cls.carries_text)

# Which event types each service consumes; topology is declared from this table.
CONSUMES: dict[str, tuple[str, ...]] = {
    "intake": (
        ReplyRequested.routing_key(), BroadcastRequested.routing_key(),
        # Triage's decision (no text) puts a message on the reading list with its reading target.
        ConcernTriaged.routing_key(),
        OversightItemOpened.routing_key(), OversightItemUpdated.routing_key(),
        OversightItemClosed.routing_key(),
    ),
    "triage": (
        ConcernRaised.routing_key(), StaffUpdated.routing_key(), CaseAssigned.routing_key(),
        CaseResolved.routing_key(), CaseReopened.routing_key(),
        # case.opened links a case to the concern triage assigned, so load is counted once per case.
        CaseOpened.routing_key(),
        # Where each case stands, so the queue shows it, and handled items leave the open view.
        TalkScheduled.routing_key(), TalkHeld.routing_key(), CaseEscalated.routing_key(),
        EscalationDecided.routing_key(), OversightItemOpened.routing_key(), OversightItemUpdated.routing_key(),
        OversightItemClosed.routing_key(),
    ),
    "counselling": (
        ConcernRaised.routing_key(), ConcernTriaged.routing_key(), ConcernMerged.routing_key(),
        EscalationRaised.routing_key(), BroadcastDelivered.routing_key(),
        # An unread message past its reading target: the on-call staff are notified.
        ReadingOverdue.routing_key(),
    ),
    # Oversight binds every type except the three that carry text people wrote.
    "oversight": tuple(key for key in CATALOGUE if key not in TEXT_CARRYING),
}


def data_model(routing_key: str) -> type[EventData]:
    """The payload model for a routing key, or KeyError for an unknown type."""
    return CATALOGUE[routing_key]


def make_event(
    data: EventData,
    *,
    subject: str | None = None,
    correlationid: str | None = None,
    traceparent: str | None = None,
) -> CloudEvent:
    """Wrap a payload in its CloudEvents envelope."""
    return CloudEvent(
        source=f"tongpin/{data.publisher}",
        type=data.routing_key(),
        subject=subject,
        data=data.model_dump(mode="json"),
        correlationid=correlationid,
        # The span in progress when tracing (a request's or an event handler's), so the event continues it.
        traceparent=current_traceparent() or traceparent,
    )


def decode_data(event: CloudEvent) -> EventData:
    """Validate an envelope's data against its type's model (KeyError: unknown type; ValidationError: bad data)."""
    return data_model(event.type).model_validate(event.data)
