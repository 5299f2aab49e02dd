"""Cases, their concerns and dialogue, and the commands on them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from tongpin.counselling.schemas.common import Strict, Text, Version
from tongpin.counselling.schemas.talks import TalkRead
from tongpin.shared.codes import ReopenReason, ResolutionOutcome
from tongpin.shared.events import Category, ChannelKind, Id, ResolutionMethod, Severity


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

