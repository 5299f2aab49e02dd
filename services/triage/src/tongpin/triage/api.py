"""Triage's HTTP API: the queue, decisions and overrides, rule sets, themes and the staff pool."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from tongpin.shared.auth import Principal, Roles
from tongpin.shared.edge import MAX_OFFSET, MAX_VERSION
from tongpin.shared.events import Category, ChannelKind, Id, RiskFlag, Route, Severity, StaffRole
from tongpin.shared.problems import NotFound
from tongpin.shared.runtime import ServiceRuntime
from tongpin.triage import handlers, judgments
from tongpin.triage.domain.routing import officer_visible
from tongpin.triage.repository import (
    DecisionRepository,
    ModelRepository,
    RuleSetRepository,
    StaffRepository,
    ThemeRepository,
)

Staff = Annotated[Principal, Depends(Roles("political_worker", "psychologist", "centre_coordinator", "admin"))]
Overrider = Annotated[Principal, Depends(Roles("political_worker", "psychologist", "centre_coordinator"))]
Exporter = Annotated[Principal, Depends(Roles("centre_coordinator", "admin"))]
RuleEditor = Annotated[Principal, Depends(Roles("centre_coordinator", "admin"))]
ThemeReader = Annotated[Principal, Depends(Roles("committee_member", "centre_coordinator", "admin"))]
ModelProposer = Annotated[Principal, Depends(Roles("centre_coordinator", "admin", "system"))]
ModelPublisher = Annotated[Principal, Depends(Roles("centre_coordinator"))]
# Roles that may read what people wrote (as in intake): they alone see the model's n-grams.
TEXT_READERS = frozenset({"political_worker", "psychologist", "centre_coordinator"})

Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
ConcernId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$")]
Version = Annotated[int, Path(ge=1, le=1_000_000)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]


def _runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


Runtime = Annotated[ServiceRuntime, Depends(_runtime)]


# --- schemas ----------------------------------------------------------------------------------


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


class RuleSetCreate(BaseModel):
    """A rule-set document, as JSON text (line numbers in errors refer to it) or as a JSON object."""

    model_config = ConfigDict(extra="forbid")

    document: str | dict[str, Any]

    @field_validator("document")
    @classmethod
    def _bounded(cls, value: str | dict[str, Any]) -> str | dict[str, Any]:
        size = len(value) if isinstance(value, str) else len(json.dumps(value, ensure_ascii=False))
        if size > 1_000_000:
            raise ValueError("the document is larger than 1,000,000 characters")
        if isinstance(value, str) and not value.strip():
            raise ValueError("the document is empty")
        return value

    def text(self) -> str:
        if isinstance(self.document, str):
            return self.document
        return json.dumps(self.document, ensure_ascii=False, indent=2)


class RuleSetRead(BaseModel):
    version: int
    name: str = ""
    description: str = ""
    status: Literal["draft", "published"]
    running: bool
    rule_count: int = 0
    created_at: datetime
    created_by: str
    published_at: datetime | None = None
    document: str | None = None


class RuleSetPage(BaseModel):
    items: list[RuleSetRead]
    running_version: int | None
    total: int
    limit: int
    offset: int


class RuleSetHeadRead(BaseModel):
    running_version: int
    previous_versions: list[int]
    changed_at: datetime
    changed_by: str


class ThemeRead(BaseModel):
    theme_id: str
    unit: str
    category: Category
    officer_count: int
    concern_count: int
    first_at: datetime
    last_at: datetime


class ThemePage(BaseModel):
    items: list[ThemeRead]
    total: int
    limit: int
    offset: int


class StaffRead(BaseModel):
    staff_id: str
    roles: list[str]
    active: bool
    on_leave: bool
    on_call: bool
    open_load: int


def _ruleset_read(doc: dict[str, Any], *, running: int | None, with_document: bool) -> RuleSetRead:
    return RuleSetRead(
        version=doc["_id"], name=doc.get("name", ""), description=doc.get("description", ""),
        status=doc.get("status", "draft"), running=doc["_id"] == running, rule_count=doc.get("rule_count", 0),
        created_at=doc["created_at"], created_by=doc.get("created_by", ""), published_at=doc.get("published_at"),
        document=doc.get("document") if with_document else None,
    )


def _head_read(head: dict[str, Any]) -> RuleSetHeadRead:
    return RuleSetHeadRead(running_version=head["version"], previous_versions=head.get("history", []),
                           changed_at=head["changed_at"], changed_by=head.get("changed_by", ""))


# --- decisions and the queue ------------------------------------------------------------------

decisions_router = APIRouter(tags=["queue"])


@decisions_router.get("/queue", summary="The triage queue: highest severity first, then oldest")
async def get_queue(
    runtime: Runtime, principal: Staff, limit: Limit = 50, offset: Offset = 0,
    status: Literal["open", "all"] = "open",
    category: Category | None = None, severity: Severity | None = None, route: Route | None = None,
    channel_kind: ChannelKind | None = None, unit: Annotated[Id | None, Query()] = None,
    assignee_id: Annotated[Id | None, Query()] = None, crisis: bool | None = None,
    theme_id: Annotated[Id | None, Query()] = None, include_dismissed: bool = False,
) -> DecisionPage:
    filters: dict[str, Any] = {}
    if status == "open":
        # Dismissed chatter never opens work; asking for it shows it beside the open items.
        filters.update({"$or": [{"open": True}, {"dismissed": True}]} if include_dismissed else {"open": True})
    if not include_dismissed:
        filters["dismissed"] = False
    for key, value in (("category", category), ("severity", severity), ("route", route),
                       ("channel_kind", channel_kind), ("unit", unit), ("assignee_id", assignee_id),
                       ("crisis", crisis), ("theme_id", theme_id)):
        if value is not None:
            filters[key] = value
    items, total = await DecisionRepository(runtime.db).queue(filters=filters, limit=limit, offset=offset)
    return DecisionPage(items=[DecisionRead.from_doc(d, viewer=principal) for d in items], total=total, limit=limit,
                        offset=offset)


@decisions_router.get("/decisions/{concern_id}", summary="One decision with its reasons and overrides")
async def get_decision(concern_id: ConcernId, runtime: Runtime, principal: Staff) -> DecisionRead:
    doc = await DecisionRepository(runtime.db).get(concern_id)
    if doc is None:
        raise NotFound("decision", concern_id)
    return DecisionRead.from_doc(doc, viewer=principal)


@decisions_router.post("/decisions/{concern_id}/overrides", summary="Override a decision, with a reason")
async def override_decision(
    concern_id: ConcernId, body: OverrideCreate, request: Request, runtime: Runtime, principal: Overrider,
) -> DecisionRead:
    doc = await handlers.override_decision(
        decisions=DecisionRepository(runtime.db), staff=StaffRepository(runtime.db), concern_id=concern_id,
        principal=principal, changes=body.model_dump(include={"category", "severity", "route", "assignee_id"}),
        reason=body.reason, expected_version=body.version,
        correlation_id=getattr(request.state, "correlation_id", None),
        traceparent=getattr(request.state, "traceparent", None),
    )
    runtime.notify_outbox()
    return DecisionRead.from_doc(doc, viewer=principal)


EXPORT_COLUMNS = (
    "concern_id", "overridden_at", "by", "channel_kind", "category_before", "category_after", "severity_before",
    "severity_after", "route_before", "route_after", "assignee_id_before", "assignee_id_after", "reason",
    "ruleset_version", "rule_ids",
)


@decisions_router.get("/overrides/export", summary="Every override as CSV or JSON: where rules and people disagree")
async def export_overrides(
    runtime: Runtime, _: Exporter, format: Literal["csv", "json"] = "csv", since: datetime | None = None,
) -> StreamingResponse:
    repo = DecisionRepository(runtime.db)

    async def rows() -> AsyncIterator[dict[str, Any]]:
        offset = 0
        while True:
            batch = handlers.overrides_as_rows(await repo.overrides(since=since, limit=200, offset=offset))
            for row in batch:
                yield row
            if len(batch) < 200:
                return
            offset += 200

    async def as_csv() -> AsyncIterator[str]:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        async for row in rows():
            writer.writerow(row)
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        yield buffer.getvalue()

    async def as_json() -> AsyncIterator[str]:
        yield "["
        first = True
        async for row in rows():
            yield ("" if first else ",") + json.dumps(row, ensure_ascii=False)
            first = False
        yield "]"

    if format == "json":
        return StreamingResponse(as_json(), media_type="application/json; charset=utf-8")
    return StreamingResponse(as_csv(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="triage-overrides.csv"'})


# --- rule sets --------------------------------------------------------------------------------

rulesets_router = APIRouter(prefix="/rulesets", tags=["rule sets"])


@rulesets_router.get("/current", summary="The running rule set")
async def current_ruleset(runtime: Runtime, _: Staff) -> RuleSetRead:
    repo = RuleSetRepository(runtime.db)
    head = await repo.head()
    if head is None:
        raise NotFound("rule set", "current")
    doc = await repo.get(head["version"])
    if doc is None:
        raise NotFound("rule set version", str(head["version"]))
    return _ruleset_read(doc, running=head["version"], with_document=True)


@rulesets_router.get("", summary="Stored rule-set versions, newest first")
async def list_rulesets(runtime: Runtime, _: Staff, limit: Limit = 50, offset: Offset = 0) -> RuleSetPage:
    repo = RuleSetRepository(runtime.db)
    head = await repo.head()
    running = head["version"] if head else None
    items, total = await repo.page(limit=limit, offset=offset)
    return RuleSetPage(items=[_ruleset_read(d, running=running, with_document=False) for d in items],
                       running_version=running, total=total, limit=limit, offset=offset)


@rulesets_router.get("/{version}", summary="One stored rule-set version")
async def get_ruleset(version: Version, runtime: Runtime, _: Staff) -> RuleSetRead:
    repo = RuleSetRepository(runtime.db)
    doc = await repo.get(version)
    if doc is None:
        raise NotFound("rule set version", str(version))
    head = await repo.head()
    return _ruleset_read(doc, running=head["version"] if head else None, with_document=True)


@rulesets_router.post("", status_code=201, summary="Store a validated draft as the next version (not yet running)")
async def create_ruleset(
    body: Annotated[RuleSetCreate, Body()], runtime: Runtime, principal: RuleEditor,
) -> RuleSetRead:
    repo = RuleSetRepository(runtime.db)
    doc = await judgments.create_ruleset_draft(rulesets=repo, document=body.text(), principal=principal)
    head = await repo.head()
    return _ruleset_read(doc, running=head["version"] if head else None, with_document=True)


@rulesets_router.post("/{version}/publish", summary="Make a stored version the running one")
async def publish_ruleset(version: Version, runtime: Runtime, principal: RuleEditor) -> RuleSetHeadRead:
    head = await judgments.publish_version(store=RuleSetRepository(runtime.db), kind="rule set", version=version,
                                           principal=principal)
    return _head_read(head)


@rulesets_router.post("/restore", summary="Restore the version that ran before the current one")
async def restore_ruleset(runtime: Runtime, principal: RuleEditor) -> RuleSetHeadRead:
    head = await judgments.restore_version(store=RuleSetRepository(runtime.db), kind="rule set", principal=principal)
    return _head_read(head)


# --- themes and the staff pool ----------------------------------------------------------------

themes_router = APIRouter(tags=["themes"])


@themes_router.get("/themes", summary="Themes: one category rising across many officers of a unit")
async def list_themes(
    runtime: Runtime, _: ThemeReader, limit: Limit = 50, offset: Offset = 0,
    unit: Annotated[Id | None, Query()] = None, category: Category | None = None,
) -> ThemePage:
    filters: dict[str, Any] = {}
    if unit is not None:
        filters["unit"] = unit
    if category is not None:
        filters["category"] = category
    items, total = await ThemeRepository(runtime.db).page(filters=filters, limit=limit, offset=offset)
    return ThemePage(items=[ThemeRead(theme_id=d["_id"], **{k: v for k, v in d.items() if k != "_id"})
                            for d in items], total=total, limit=limit, offset=offset)


@themes_router.get("/staff", summary="The assignment pool as triage sees it, with open load")
async def list_staff(runtime: Runtime, _: Exporter, limit: Limit = 50, offset: Offset = 0) -> list[StaffRead]:
    repo = StaffRepository(runtime.db)
    docs = await repo.page(limit=limit, offset=offset)
    load = await repo.open_load([d["_id"] for d in docs])
    return [StaffRead(staff_id=d["_id"], roles=d.get("roles", []), active=d.get("active", True),
                      on_leave=d.get("on_leave", False), on_call=d.get("on_call", False),
                      open_load=load.get(d["_id"], 0)) for d in docs]


# --- models -------------------------------------------------------------------------------------

models_router = APIRouter(prefix="/models", tags=["models"])


class ModelCreate(BaseModel):
    """A proposed model from the retraining command: its bytes, their checksum and its measured figures."""

    model_config = ConfigDict(extra="forbid")

    blob: str = Field(min_length=1, max_length=45_000_000, description="the model file, base64")
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    figures: dict[str, Any] = Field(default={}, description="figures per evaluation set, current beside proposed")
    note: Annotated[str, StringConstraints(max_length=2000)] = ""

    @field_validator("figures")
    @classmethod
    def _bounded(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value, ensure_ascii=False)) > 200_000:
            raise ValueError("figures are larger than 200,000 characters")
        return value


class ModelRead(BaseModel):
    version: int
    name: str = ""
    status: Literal["draft", "published", "discarded"]
    source: str = ""
    running: bool
    sha256: str
    size: int
    created_at: datetime
    created_by: str
    published_at: datetime | None = None
    discarded_at: datetime | None = None
    discarded_by: str | None = None
    note: str = ""
    trained_on: int | None = None
    features: int | None = None
    crisis_recall_target: float | None = None
    figures: dict[str, Any] = {}


class ModelPage(BaseModel):
    items: list[ModelRead]
    running_version: int | None
    total: int
    limit: int
    offset: int


class ModelHeadRead(BaseModel):
    running_version: int
    previous_versions: list[int]
    changed_at: datetime
    changed_by: str


def _model_read(doc: dict[str, Any], *, running: int | None) -> ModelRead:
    meta = doc.get("meta") or {}
    return ModelRead(
        version=doc["_id"], name=doc.get("name", ""), status=doc.get("status", "draft"), source=doc.get("source", ""),
        running=doc["_id"] == running, sha256=doc["sha256"], size=doc.get("size", 0), created_at=doc["created_at"],
        created_by=doc.get("created_by", ""), published_at=doc.get("published_at"),
        discarded_at=doc.get("discarded_at"), discarded_by=doc.get("discarded_by"), note=doc.get("note", ""),
        trained_on=meta.get("trained_on"), features=meta.get("features"),
        crisis_recall_target=meta.get("crisis_recall_target"), figures=doc.get("figures") or {},
    )


def _model_head_read(head: dict[str, Any]) -> ModelHeadRead:
    return ModelHeadRead(running_version=head["version"], previous_versions=head.get("history", []),
                         changed_at=head["changed_at"], changed_by=head.get("changed_by", ""))


@models_router.get("", summary="Stored model versions, newest first (figures beside each)")
async def list_models(runtime: Runtime, _: Staff, limit: Limit = 50, offset: Offset = 0) -> ModelPage:
    repo = ModelRepository(runtime.db)
    head = await repo.head()
    running = head["version"] if head else None
    items, total = await repo.page(limit=limit, offset=offset)
    return ModelPage(items=[_model_read(d, running=running) for d in items], running_version=running, total=total,
                     limit=limit, offset=offset)


@models_router.get("/current", summary="The running model")
async def current_model(runtime: Runtime, _: Staff) -> ModelRead:
    repo = ModelRepository(runtime.db)
    head = await repo.head()
    if head is None:
        raise NotFound("model", "current")
    doc = await repo.get(head["version"], bulky=False)
    if doc is None:
        raise NotFound("model version", str(head["version"]))
    return _model_read(doc, running=head["version"])


@models_router.get("/{version}", summary="One model version with its figures")
async def get_model(version: Version, runtime: Runtime, _: Staff) -> ModelRead:
    repo = ModelRepository(runtime.db)
    doc = await repo.get(version, bulky=False)
    if doc is None:
        raise NotFound("model version", str(version))
    head = await repo.head()
    return _model_read(doc, running=head["version"] if head else None)


@models_router.get("/{version}/blob", summary="A model's file (for the retraining command's side-by-side figures)",
                   response_class=Response, responses={200: {"content": {"application/octet-stream": {}}}})
async def model_blob(version: Version, runtime: Runtime, _: ModelProposer) -> Response:
    doc = await ModelRepository(runtime.db).get(version)
    if doc is None:
        raise NotFound("model version", str(version))
    return Response(content=bytes(doc["blob"]), media_type="application/octet-stream",
                    headers={"X-Model-SHA256": doc["sha256"]})


@models_router.post("", status_code=201, summary="Propose a retrained model (a draft: it runs only once published)")
async def propose_model(body: ModelCreate, runtime: Runtime, principal: ModelProposer) -> ModelRead:
    repo = ModelRepository(runtime.db)
    doc = await judgments.create_model_draft(models=repo, blob_base64=body.blob, sha256=body.sha256,
                                             figures=body.figures, note=body.note, principal=principal)
    head = await repo.head()
    return _model_read(doc, running=head["version"] if head else None)


@models_router.post("/{version}/publish", summary="Run a proposed model (centre coordinator)")
async def publish_model(version: Version, runtime: Runtime, principal: ModelPublisher) -> ModelHeadRead:
    head = await judgments.publish_version(store=ModelRepository(runtime.db), kind="model", version=version,
                                           principal=principal)
    return _model_head_read(head)


@models_router.post("/{version}/discard", summary="Set a proposed model aside for good (centre coordinator)")
async def discard_model(version: Version, runtime: Runtime, principal: ModelPublisher) -> ModelRead:
    repo = ModelRepository(runtime.db)
    doc = await judgments.discard_model(models=repo, version=version, principal=principal)
    head = await repo.head()
    return _model_read(doc, running=head["version"] if head else None)


@models_router.post("/restore", summary="Run the model that ran before the current one (centre coordinator)")
async def restore_model(runtime: Runtime, principal: ModelPublisher) -> ModelHeadRead:
    head = await judgments.restore_version(store=ModelRepository(runtime.db), kind="model", principal=principal)
    return _model_head_read(head)


def routers() -> list[APIRouter]:
    """Every router of the service, in the order the OpenAPI document lists them."""
    return [decisions_router, rulesets_router, models_router, themes_router]
