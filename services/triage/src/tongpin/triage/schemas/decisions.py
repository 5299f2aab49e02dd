"""Request and response bodies of decisions, the queue and overrides."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from tongpin.shared.auth import Principal
from tongpin.shared.edge import MAX_VERSION
from tongpin.shared.events import Category, ChannelKind, Id, RiskFlag, Route, Severity, StaffRole
from tongpin.triage.domain.routing import officer_visible

# Roles that may read what people wrote (as in intake): they alone see the model's n-grams.
TEXT_READERS = frozenset({"political_worker", "psychologist", "centre_coordinator"})

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]


class OverrideRead(BaseModel):
    by: str
    by_name: str = ""
    at: datetime
    reason: str
    before: dict[str, Any]
    after: dict[str, Any]
    version: int


class ModelEvidenceRead(BaseModel):
    model_version: int
    category: str
    category_probability: float
    crisis_probability: float
    crisis_threshold: float
    category_ngrams: list[str] = []
    crisis_ngrams: list[str] = []
    source: str


class DecisionRead(BaseModel):
    concern_id: str
    channel_id: str
    channel_kind: ChannelKind
    unit: str | None = None
    about_officer_id: str | None = None
    subject_officer_id: str | None = None
    category: Category
    severity: Severity
    flags: list[RiskFlag] = []
    route: Route
    assignee_role: StaffRole | None = None
    assignee_id: str | None = None
    ruleset_version: int
    model_version: int | None = None
    judgment_version: str | None = None
    rule_ids: list[str] = []
    reasons: list[str] = []
    model_evidence: ModelEvidenceRead | None = Field(
        default=None, description="the model's probabilities and strongest n-grams; only for roles that read messages")
    crisis: bool = False
    dismissed: bool = False
    merged_into: str | None = None
    theme_id: str | None = None
    overridden: bool = False
    open: bool = True
    case_id: str | None = None
    case_state: Literal["open", "talk_scheduled", "talk_held", "escalated", "decided", "resolved",
                        "reopened"] | None = Field(default=None, description="where the concern's case stands")
    oversight_status: str | None = Field(default=None, description="the public status of its oversight item")
    raised_at: datetime
    triaged_at: datetime
    version: int
    overrides: list[OverrideRead] = []
    officer_hidden: bool = Field(default=False, description=(
        "true when the officer ids are withheld: a risk flag is shown only with the officer to those who "
        "may open the case (the coordinator and the assignee)"))

    @classmethod
    def from_doc(cls, doc: dict[str, Any], *, viewer: Principal) -> DecisionRead:
        shown = {**doc, "concern_id": doc["_id"]}
        if not officer_visible(flags=doc.get("flags", ()), assignee_id=doc.get("assignee_id"),
                               staff_id=viewer.subject, roles=viewer.roles):
            shown.update(about_officer_id=None, subject_officer_id=None, officer_hidden=True)
        if not viewer.has_any(TEXT_READERS):
            shown["model_evidence"] = None
        return cls.model_validate(shown)


class DecisionPage(BaseModel):
    items: list[DecisionRead]
    total: int
    limit: int
    offset: int


class OverrideCreate(BaseModel):
    """A correction to a decision; at least one of category, severity, route, assignee_id, and a reason."""

    model_config = ConfigDict(extra="forbid")

    category: Category | None = None
    severity: Severity | None = None
    route: Route | None = None
    assignee_id: Id | None = None
    reason: Reason
    version: int | None = Field(default=None, ge=1, le=MAX_VERSION,
                                description="the decision version you saw (409 if it moved)")
