"""Decisions over HTTP: the risk-first queue, one decision, overrides and their export."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from tongpin.shared.events import Category, ChannelKind, Id, Route, Severity
from tongpin.shared.problems import NotFound
from tongpin.triage.api.dependencies import ConcernId, Exporter, Limit, Offset, Overrider, Runtime, Staff
from tongpin.triage.handlers import overrides
from tongpin.triage.repository import DecisionRepository, StaffRepository
from tongpin.triage.schemas.decisions import DecisionPage, DecisionRead, OverrideCreate

router = APIRouter(tags=["queue"])


@router.get("/queue", summary="The triage queue: highest severity first, then oldest")
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


@router.get("/decisions/{concern_id}", summary="One decision with its reasons and overrides")
async def get_decision(concern_id: ConcernId, runtime: Runtime, principal: Staff) -> DecisionRead:
    doc = await DecisionRepository(runtime.db).get(concern_id)
    if doc is None:
        raise NotFound("decision", concern_id)
    return DecisionRead.from_doc(doc, viewer=principal)


@router.post("/decisions/{concern_id}/overrides", summary="Override a decision, with a reason")
async def override_decision(
    concern_id: ConcernId, body: OverrideCreate, request: Request, runtime: Runtime, principal: Overrider,
) -> DecisionRead:
    doc = await overrides.override_decision(
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


@router.get("/overrides/export", summary="Every override as CSV or JSON: where rules and people disagree")
async def export_overrides(
    runtime: Runtime, _: Exporter, format: Literal["csv", "json"] = "csv", since: datetime | None = None,
) -> StreamingResponse:
    repo = DecisionRepository(runtime.db)

    async def rows() -> AsyncIterator[dict[str, Any]]:
        offset = 0
        while True:
            batch = overrides.overrides_as_rows(await repo.overrides(since=since, limit=200, offset=offset))
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
