"""Escalations to the committee: written material, decisions, the board."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel

from tongpin.counselling.domain.escalation import ActionsText, BackgroundText, DecisionText, RequestText, SubjectText
from tongpin.counselling.schemas.common import Strict, Version
from tongpin.shared.codes import CommitteeDecision
from tongpin.shared.events import Id


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

