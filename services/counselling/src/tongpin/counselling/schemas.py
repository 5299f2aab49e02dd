"""HTTP schemas of counselling's API: XCreate, XRead, XUpdate, XPage."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from tongpin.counselling.domain.escalation import ActionsText, BackgroundText, DecisionText, RequestText, SubjectText
from tongpin.counselling.domain.roles import role_set_problem
from tongpin.shared.codes import CommitteeDecision, ReopenReason, ResolutionOutcome, TalkCancelReason, TalkOutcome
from tongpin.shared.edge import MAX_VERSION
from tongpin.shared.events import MAX_TEXT, Category, ChannelKind, Code, Id, ResolutionMethod, Severity, StaffRole

Version = Annotated[int, Field(ge=1, le=MAX_VERSION, description="the case version read; or send it as If-Match")]
RecordVersion = Annotated[int, Field(ge=1, le=MAX_VERSION, description="the record version read (409 if it moved)")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT, pattern=r"\S")]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"\S")]
Username = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.@\-]{2,64}$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- auth and staff ---------------------------------------------------------------------------------


class TokenRead(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int
    roles: list[str]
    name: str
    staff_id: str


class MeRead(BaseModel):
    staff_id: str
    roles: list[str]
    name: str
    kind: str


def _combinable(roles: list[str] | None) -> list[str] | None:
    problem = role_set_problem(roles) if roles is not None else None
    if problem:
        raise ValueError(problem)
    return roles


class StaffCreate(Strict):
    username: Username
    name: ShortText
    password: Annotated[str, StringConstraints(min_length=8, max_length=1024)]
    roles: Annotated[list[StaffRole], Field(min_length=1)]
    skills: list[Code] = []
    unit: Id | None = None
    on_call: bool = False
    staff_id: Id | None = None

    _roles_combine = field_validator("roles")(_combinable)


class StaffUpdate(Strict):
    name: ShortText | None = None
    password: Annotated[str, StringConstraints(min_length=8, max_length=1024)] | None = None
    roles: Annotated[list[StaffRole], Field(min_length=1)] | None = None
    skills: list[Code] | None = None
    unit: Id | None = None
    active: bool | None = None
    version: RecordVersion | None = None

    _roles_combine = field_validator("roles")(_combinable)


class AvailabilityUpdate(Strict):
    on_leave: bool | None = None
    leave_until: AwareDatetime | None = None
    on_call: bool | None = None
    available: bool | None = None
    version: RecordVersion | None = None


class StaffRead(BaseModel):
    model_config = ConfigDict(extra="ignore")

    staff_id: str
    username: str
    name: str
    roles: list[str]
    skills: list[str] = []
    unit: str | None = None
    active: bool = True
    on_leave: bool = False
    leave_until: datetime | None = None
    on_call: bool = False
    available: bool = True
    version: int = 1
    updated_at: datetime | None = None


class StaffPage(BaseModel):
    items: list[StaffRead]
    total: int
    limit: int
    offset: int


# --- cases --------------------------------------------------------------------------------------------


class ConcernRead(BaseModel):
    concern_id: str
    channel_id: str | None = None
    channel_kind: str | None = None
    anonymous: bool = False
    author_member_id: str | None = None
    sent_at: datetime | None = None
    text: str | None = None


class ReplyRead(BaseModel):
    model_config = ConfigDict(extra="ignore")

    reply_id: str
    staff_id: str
    staff_name: str = ""
    text: str
    channel_id: str | None = None
    at: datetime


class TalkRead(BaseModel):
    model_config = ConfigDict(extra="ignore")

    talk_id: str
    scheduled_for: datetime
    place: str
    participants: list[str] = []
    staff_ids: list[str] = []
    status: str
    outcome_code: str | None = None
    held_at: datetime | None = None
    cancelled_at: datetime | None = None


class CaseSummary(BaseModel):
    model_config = ConfigDict(extra="ignore")

    case_id: str
    state: str
    version: int
    channel_kind: ChannelKind
    category: Category
    severity: Severity
    crisis: bool = False
    unit: str | None = None
    subject_officer_id: str | None = None
    concern_ids: list[str]
    assignee_id: str | None = None
    assignee_role: str | None = None
    opened_at: datetime
    updated_at: datetime | None = None
    first_response_due: datetime | None = None
    resolution_due: datetime | None = None
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    resolution_method: str | None = None
    outcome_code: str | None = None
    pending_talk_id: str | None = None
    pending_talk_for: datetime | None = None
    escalation_ids: list[str] = []
    decision_code: str | None = None
    decision_due_by: datetime | None = None
    reopen_count: int = 0
    reopen_reason_code: str | None = None
    overdue: bool = False


class CaseRead(CaseSummary):
    concerns: list[ConcernRead] = []
    dialogue: list[ReplyRead] = []
    talks: list[TalkRead] = []
    feedback: list[dict[str, Any]] = []


class CasePage(BaseModel):
    items: list[CaseSummary]
    total: int
    limit: int
    offset: int


class AssignmentCreate(Strict):
    assignee_id: Id
    version: Version | None = None


class ReplyCreate(Strict):
    text: Text
    channel_id: Id | None = Field(default=None, description="where to post it; default: the concern's own channel")
    version: Version | None = None


class ReplyCreated(BaseModel):
    reply_id: str
    case: CaseRead


class TalkCreate(Strict):
    scheduled_for: AwareDatetime
    place: ShortText
    participants: Annotated[list[ShortText], Field(max_length=20)] = []
    staff_ids: Annotated[list[Id], Field(max_length=20)] = []
    version: Version | None = None


class TalkUpdate(Strict):
    scheduled_for: AwareDatetime | None = None
    place: ShortText | None = None
    participants: Annotated[list[ShortText], Field(max_length=20)] | None = None
    staff_ids: Annotated[list[Id], Field(max_length=20)] | None = None
    version: Version | None = None


class TalkCancel(Strict):
    reason_code: TalkCancelReason | None = None
    version: Version | None = None


class TalkHeldCreate(Strict):
    outcome_code: TalkOutcome
    version: Version | None = None


class ResolutionCreate(Strict):
    method: ResolutionMethod
    outcome_code: ResolutionOutcome
    version: Version | None = None


class ReopenCreate(Strict):
    reason_code: ReopenReason
    version: Version | None = None


class FeedbackCreate(Strict):
    rating: Annotated[int, Field(ge=1, le=5)]
    comment: Text | None = None
    version: Version | None = None


class BreakGlassCreate(Strict):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=1000, pattern=r"\S")] = Field(
        description="why the case must be read; recorded and reviewed by the coordinator")


class BreakGlassRead(BaseModel):
    model_config = ConfigDict(extra="ignore")

    case_id: str
    staff_id: str
    roles: list[str]
    reason: str
    at: datetime


class BreakGlassPage(BaseModel):
    items: list[BreakGlassRead]
    total: int
    limit: int
    offset: int


class MonthCount(BaseModel):
    month: str
    reads: int


class BreakGlassSummary(BaseModel):
    total: int
    by_month: list[MonthCount]


# --- notes ------------------------------------------------------------------------------------------------


class NoteCreate(Strict):
    text: Text


class NoteMeta(BaseModel):
    model_config = ConfigDict(extra="ignore")

    note_id: str
    case_id: str
    author_id: str
    author_group: str
    created_at: datetime
    readable: bool = False


class NoteRead(NoteMeta):
    text: str


class NoteReadRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    reader_id: str
    reader_roles: list[str]
    at: datetime


# --- escalations -------------------------------------------------------------------------------------------


class EscalationCreate(Strict):
    subject: SubjectText
    background: BackgroundText
    actions_taken: ActionsText
    decision_requested: RequestText
    version: Version | None = None


class DecisionCreate(Strict):
    decision_code: CommitteeDecision
    decided: DecisionText
    actor_kind: Literal["staff", "body"]
    actor_id: Id
    due_by: AwareDatetime | None = None
    version: Version | None = None


class DecisionDone(Strict):
    version: Version | None = None


class EscalationItem(BaseModel):
    escalation_id: str
    case_id: str
    case_state: str
    case_version: int
    category: str
    severity: str
    unit: str | None = None
    subject: str
    prepared_at: datetime
    decision_code: str | None = None
    due_by: datetime | None = None
    done_at: datetime | None = None
    decision_overdue: bool = False
    status: str


class EscalationRead(EscalationItem):
    material: dict[str, str]
    decision: dict[str, Any] | None = None


class EscalationPage(BaseModel):
    items: list[EscalationItem]
    total: int
    limit: int
    offset: int


# --- broadcasts and notifications ------------------------------------------------------------------------


class BroadcastCreate(Strict):
    title: ShortText
    text: Text
    channel_ids: Annotated[list[Id], Field(min_length=1, max_length=50)]


class DeliveryFigures(BaseModel):
    channels: int
    delivered: int
    failed: int
    pending: int
    per_channel: list[dict[str, Any]]


class BroadcastRead(BaseModel):
    broadcast_id: str
    title: str
    text: str
    channel_ids: list[str]
    requested_by: str
    requested_at: datetime
    figures: DeliveryFigures


class BroadcastPage(BaseModel):
    items: list[BroadcastRead]
    total: int
    limit: int
    offset: int


class NotificationRead(BaseModel):
    model_config = ConfigDict(extra="ignore")

    notification_id: str
    staff_id: str
    kind: str
    case_id: str | None = None
    details: dict[str, Any] = {}
    created_at: datetime
    read_at: datetime | None = None


class NotificationPage(BaseModel):
    items: list[NotificationRead]
    total: int
    unread: int | None = None
    limit: int
    offset: int


# --- closed code lists --------------------------------------------------------------------------------------


class CodeRead(BaseModel):
    code: str
    zh: str
    en: str


class CodeListRead(BaseModel):
    name: str = Field(description="the list: talk_outcome, resolution_outcome, committee_decision, reopen_reason, "
                                  "talk_cancel_reason")
    zh: str
    en: str
    fields: list[str] = Field(description="the event and request fields that take a code of this list")
    codes: list[CodeRead]


class CodeListsRead(BaseModel):
    lists: list[CodeListRead]
