"""Oversight's HTTP API: thin routes over the handlers. Every auditor-facing read is itself recorded."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field, field_validator

from tongpin.oversight import handlers
from tongpin.oversight.consumers import ledger_repository, statistics_repository
from tongpin.oversight.domain import items as item_domain
from tongpin.oversight.domain import statistics
from tongpin.oversight.domain.periods import Period, PeriodError, parse_period
from tongpin.oversight.repository import (
    AuditQueryRepository,
    ItemRepository,
    LedgerRepository,
    RejectedRepository,
    StatisticsRepository,
)
from tongpin.oversight.settings import OversightSettings
from tongpin.shared.auth import Principal, Public, Roles
from tongpin.shared.edge import MAX_OFFSET, MAX_SEQ, MAX_VERSION
from tongpin.shared.events import OversightStatus
from tongpin.shared.problems import Invalid, NotFound, Problem
from tongpin.shared.runtime import ServiceRuntime

router = APIRouter()

MAX_PAGE = 200


def _runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


def _threshold(request: Request) -> int:
    settings = _runtime(request).settings
    return settings.suppression_threshold if isinstance(settings, OversightSettings) else statistics.DEFAULT_THRESHOLD


_QUERY_NAMES: dict[int, frozenset[str]] = {}


def _declared_query(dependant: Dependant) -> frozenset[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _declared_query(sub)
    return frozenset(names)


def _query_names(request: Request) -> frozenset[str]:
    """The query parameters the matched route declares."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return frozenset()
    names = _QUERY_NAMES.get(id(route))
    if names is None:
        names = _QUERY_NAMES[id(route)] = _declared_query(route.dependant)
    return names


class RecordedRoles(Roles):
    """Admit the roles, refuse parameters the route does not take, and record the query before it is answered."""

    async def __call__(self, request: Request) -> Principal:
        principal = await super().__call__(request)
        pairs = request.query_params.multi_items()
        known = _query_names(request)
        unknown = list(dict.fromkeys(name for name, _ in pairs if name not in known))
        if unknown:
            raise Problem(422, f"invalid input: {', '.join(repr(n) for n in unknown)}", title="Unprocessable Content",
                          errors=[{"field": name, "reason": "is not a parameter of this endpoint"} for name in unknown])
        await handlers.record_query(
            audit=AuditQueryRepository(_runtime(request).db), principal=principal, method=request.method,
            path=request.url.path, query=pairs,
        )
        return principal


AuditRead = Annotated[Principal, Depends(RecordedRoles("auditor", "admin"))]
ItemsRead = Annotated[Principal, Depends(RecordedRoles("auditor", "admin", "centre_coordinator"))]
StatisticsRead = Annotated[Principal, Depends(RecordedRoles("auditor", "admin", "committee_member"))]
ItemsWrite = Annotated[Principal, Depends(Roles("centre_coordinator", "admin"))]
Anyone = Annotated[None, Depends(Public())]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"page size, at most {MAX_PAGE}")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]


def _period(value: str, param: str = "period") -> Period:
    try:
        return parse_period(value, param=param)
    except PeriodError as exc:
        raise Invalid(exc.param, exc.reason) from exc


def _items(request: Request) -> ItemRepository:
    return ItemRepository(_runtime(request).db)


def _ledger(request: Request) -> LedgerRepository:
    return ledger_repository(_runtime(request))


def _stats(request: Request) -> StatisticsRepository:
    return statistics_repository(_runtime(request))


Items = Annotated[ItemRepository, Depends(_items)]
Ledger = Annotated[LedgerRepository, Depends(_ledger)]
Stats = Annotated[StatisticsRepository, Depends(_stats)]


# --- schemas -------------------------------------------------------------------------------------


class ItemRead(BaseModel):
    id: str
    concern_id: str
    channel_kind: str
    category: str
    unit: str | None
    status: str
    public_summary: str | None
    opened_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    version: int


class ItemPublicRead(BaseModel):
    id: str
    status: str
    public_summary: str | None
    opened_at: datetime
    updated_at: datetime
    closed_at: datetime | None


class ItemUpdate(BaseModel):
    version: int = Field(ge=1, le=MAX_VERSION)
    status: OversightStatus | None = None
    public_summary: str | None = Field(default=None, max_length=item_domain.SUMMARY_MAX)


class ItemPage(BaseModel):
    items: list[ItemRead]
    limit: int
    offset: int


class LedgerRecordRead(BaseModel):
    seq: int
    prev_hash: str
    hash: str
    entry: dict[str, Any]
    appended_at: datetime


class LedgerPage(BaseModel):
    items: list[LedgerRecordRead]
    limit: int
    next_after_seq: int | None


class ChainCheck(BaseModel):
    ok: bool
    verified: int
    first_broken_seq: int | None
    reason: str | None
    head_hash: str


class DigestRead(BaseModel):
    date: str
    seq: int
    hash: str
    count: int
    added: int
    final: bool


class RejectedRead(BaseModel):
    event_id: str
    reason: str
    event: dict[str, Any]
    recorded_at: datetime


class RejectedPage(BaseModel):
    items: list[RejectedRead]
    limit: int
    offset: int


class AuditQueryRead(BaseModel):
    at: datetime
    who: str
    roles: list[str]
    method: str
    path: str
    query: dict[str, str]

    @field_validator("query", mode="before")
    @classmethod
    def _from_pairs(cls, value: Any) -> Any:
        # Stored as [{"name", "value"}] pairs: parameter names are data, never database keys.
        if isinstance(value, list):
            return {pair["name"]: pair["value"] for pair in value}
        return value


class AuditQueryPage(BaseModel):
    items: list[AuditQueryRead]
    limit: int
    offset: int


class FoundResolvedRead(BaseModel):
    period: str
    found: int | None = Field(description="items found in the period (null: hidden, fewer than the threshold)")
    resolved: int | None
    not_substantiated: int | None
    suppression: dict[str, int]


class CalendarRead(BaseModel):
    time_zone: str = Field(description="the bureau's time zone: every day and month a figure counts in is a date there")
    utc_offset: str
    now: datetime
    today: date
    month: str
    year: str
    first_month_with_data: str | None
    last_month_with_data: str | None


def _item_read(doc: dict[str, Any]) -> ItemRead:
    return ItemRead.model_validate({**doc, "id": doc["_id"]})


# --- public --------------------------------------------------------------------------------------


@router.get("/public/oversight", tags=["public"], summary="Oversight items found and resolved in a period",
            description="The bureau's figures only (never which units had an item), with the same suppression "
                        "as the auditors' report.")
async def public_found_resolved(request: Request, stats: Stats, _: Anyone, period: str) -> FoundResolvedRead:
    figures = await handlers.found_and_resolved(stats=stats, period=_period(period), threshold=_threshold(request))
    return FoundResolvedRead.model_validate(figures)


@router.get("/public/items/{item_id}", tags=["public"], summary="The public status and summary of one item")
async def public_item(item_id: str, items: Items, _: Anyone) -> ItemPublicRead:
    doc = await items.get(item_id)
    if doc is None:
        raise NotFound("oversight item", item_id)
    return ItemPublicRead.model_validate({**doc, "id": doc["_id"]})


# --- items ---------------------------------------------------------------------------------------


@router.get("/items", tags=["items"], summary="Oversight items, page by page")
async def list_items(
    request: Request, items: Items, _: ItemsRead, limit: Limit = 50, offset: Offset = 0,
    status: OversightStatus | None = None, period: str | None = None,
) -> ItemPage:
    start = end = None
    if period is not None:
        start, end = _period(period).utc_bounds(_runtime(request).settings.bureau_zone)
    docs = await items.page(offset=offset, limit=limit, status=status, start=start, end=end)
    return ItemPage(items=[_item_read(d) for d in docs], limit=limit, offset=offset)


@router.get("/items/{item_id}", tags=["items"], summary="One oversight item")
async def get_item(item_id: str, items: Items, _: ItemsRead) -> ItemRead:
    doc = await items.get(item_id)
    if doc is None:
        raise NotFound("oversight item", item_id)
    return _item_read(doc)


@router.patch("/items/{item_id}", tags=["items"], summary="Change an item's public status or summary",
              description="An item follows the counselling case opened from its concern; staff may still move it, "
                          "add the public summary (once, to an item the case's resolution closed) or mark it not "
                          "substantiated. A change the table does not allow is a 409 whose `allowed` lists the "
                          "changes allowed from the current status.\n\n" + item_domain.state_machine_markdown())
async def update_item(item_id: str, body: ItemUpdate, request: Request, items: Items, _: ItemsWrite) -> ItemRead:
    doc = await handlers.change_item(
        items=items, item_id=item_id, version=body.version, status=body.status, public_summary=body.public_summary,
        correlationid=request.state.correlation_id, traceparent=request.state.traceparent,
    )
    _runtime(request).notify_outbox()
    return _item_read(doc)


# --- ledger --------------------------------------------------------------------------------------


@router.get("/ledger", tags=["ledger"], summary="Ledger records in sequence order, page by page")
async def list_ledger(
    ledger: Ledger, _: AuditRead, limit: Limit = 50, after_seq: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
    type: Annotated[str | None, Query(max_length=128, pattern=r"^[a-z][a-z0-9_.]*$")] = None,
) -> LedgerPage:
    docs = await ledger.page(after_seq=after_seq, limit=limit, event_type=type)
    records = [LedgerRecordRead.model_validate(d) for d in docs]
    return LedgerPage(items=records, limit=limit, next_after_seq=records[-1].seq if len(records) == limit else None)


@router.get("/ledger/count", tags=["ledger"], summary="How many records the ledger holds")
async def ledger_count(ledger: Ledger, _: AuditRead) -> dict[str, int]:
    return {"entries": await ledger.count()}


@router.get("/ledger/verify", tags=["ledger"], summary="Verify the hash chain; names the first broken record")
async def verify_ledger(
    ledger: Ledger, _: AuditRead,
    anchor_seq: Annotated[int | None, Query(ge=1, le=MAX_SEQ, description="seq of a digest kept outside")] = None,
    anchor_hash: Annotated[str | None, Query(pattern=r"^[0-9a-f]{64}$")] = None,
) -> ChainCheck:
    if (anchor_seq is None) != (anchor_hash is None):
        missing = "anchor_hash" if anchor_hash is None else "anchor_seq"
        raise Invalid(missing, "give anchor_seq and anchor_hash together")
    anchors = {anchor_seq: anchor_hash} if anchor_seq is not None and anchor_hash is not None else None
    return ChainCheck.model_validate(await handlers.verify_ledger(ledger=ledger, anchors=anchors))


@router.get("/ledger/digest", tags=["ledger"], summary="The chain head at the end of a day, to keep outside")
async def ledger_digest(request: Request, ledger: Ledger, _: AuditRead, date: date) -> DigestRead:
    zone = _runtime(request).settings.bureau_zone
    return DigestRead.model_validate(await handlers.daily_digest(ledger=ledger, day=date, zone=zone))


# --- statistics ----------------------------------------------------------------------------------


STATISTICS_DOC = (
    "Months are calendar months in the bureau's time zone (`GET /statistics/calendar`). Each figure counts a "
    "fact in the month of its own business time: concerns and chatter when the concern was raised, cases when "
    "opened, resolutions when resolved, talks when booked or held, escalations when raised or decided, items "
    "when found or closed. Breakdowns add up to their totals, months to the year, units to the bureau "
    "(`unit` omitted or `*`); every breakdown by category uses the decision after the last staff override. "
    "A unit or period without data is a zero report; an unknown unit is 422. Counts below the threshold are "
    "hidden (null, named in `suppressed`), and so are enough other counts that none can be worked out from the "
    "totals, the other cells or the other units' reports (complementary suppression, decided for the period "
    "over all units at once)."
)


@router.get("/statistics/calendar", tags=["statistics"], summary="The bureau's time zone, today and its months",
            response_model=CalendarRead)
async def get_calendar(request: Request, stats: Stats, _: StatisticsRead) -> CalendarRead:
    settings = _runtime(request).settings
    return CalendarRead.model_validate(await handlers.calendar(
        stats=stats, zone_name=settings.bureau_time_zone, zone=settings.bureau_zone))


@router.get("/statistics", tags=["statistics"], summary="Report of a period (YYYY, YYYY-Qn, YYYY-MM) and unit",
            description=STATISTICS_DOC)
async def get_statistics(
    request: Request, stats: Stats, _: StatisticsRead, period: str, unit: str | None = None,
) -> dict[str, Any]:
    scope = await handlers.check_unit(stats=stats, unit=unit)
    return await handlers.statistics_report(stats=stats, period=_period(period), unit=scope,
                                            threshold=_threshold(request))


@router.get("/statistics.csv", tags=["statistics"], summary="The report as CSV (every table, or one)",
            response_class=Response, description=STATISTICS_DOC)
async def get_statistics_csv(
    request: Request, stats: Stats, _: StatisticsRead, period: str, unit: str | None = None,
    table: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    scope = await handlers.check_unit(stats=stats, unit=unit)
    figures = await handlers.statistics_report(stats=stats, period=_period(period), unit=scope,
                                               threshold=_threshold(request))
    rows = statistics.report_rows(figures)
    if table is not None:
        rows = [row for row in rows if row["metric"].startswith(f"{table}.")]
        if not rows:
            raise Invalid("table", f"no table {table!r} in the report")
    body = statistics.to_csv(rows, columns=("metric", "value"))
    name = f"oversight-{figures['period']['key']}-{'all' if scope == statistics.ALL_UNITS else scope}.csv"
    return Response(body.encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{name}"'})


@router.get("/statistics/units", tags=["statistics"], summary="Units that statistics can be asked for")
async def list_units(stats: Stats, _: StatisticsRead) -> dict[str, list[str]]:
    return {"units": await stats.units()}


# --- audit trail ---------------------------------------------------------------------------------


@router.get("/rejected", tags=["audit"], summary="Events refused, with the reason")
async def list_rejected(request: Request, _: AuditRead, limit: Limit = 50, offset: Offset = 0) -> RejectedPage:
    docs = await RejectedRepository(_runtime(request).db).page(offset=offset, limit=limit)
    return RejectedPage(items=[RejectedRead.model_validate({**d, "event_id": d["_id"]}) for d in docs],
                        limit=limit, offset=offset)


@router.get("/audit/queries", tags=["audit"], summary="Who queried oversight, what and when")
async def list_audit_queries(request: Request, _: AuditRead, limit: Limit = 50, offset: Offset = 0) -> AuditQueryPage:
    docs = await AuditQueryRepository(_runtime(request).db).page(offset=offset, limit=limit)
    return AuditQueryPage(items=[AuditQueryRead.model_validate(d) for d in docs], limit=limit, offset=offset)
