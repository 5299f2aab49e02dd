"""Time targets: cases past a target, and how often targets were met."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from tongpin.counselling.api.dependencies import CaseWorker, FigureReader, Limit, Offset, context, visible
from tongpin.counselling.handlers import targets
from tongpin.counselling.schemas.cases import CasePage, CaseSummary
from tongpin.shared import clock

router = APIRouter()


@router.get("/cases/overdue", response_model=CasePage, tags=["sla"])
async def overdue_cases(request: Request, principal: CaseWorker, limit: Limit = 50, offset: Offset = 0) -> CasePage:
    """Live cases past a time target (those the caller may open)."""
    query = await visible(request, principal, targets.overdue_query(clock.now()))
    docs, total = await context(request).cases.list_cases(query=query, limit=limit, offset=offset)
    return CasePage(items=[CaseSummary.model_validate({**d, "case_id": d["_id"], "overdue": True}) for d in docs],
                    total=total, limit=limit, offset=offset)


@router.get("/sla/summary", tags=["sla"])
async def sla_summary(request: Request, _: FigureReader) -> dict[str, Any]:
    """How often the first-response and resolution targets were met, overall and per severity."""
    ctx = context(request)
    return await targets.sla_figures(repo=ctx.cases, targets=ctx.targets, now=clock.now())

