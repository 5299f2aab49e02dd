"""Breaking the glass on a case one may not open, and the record of it."""

from __future__ import annotations

from fastapi import APIRouter, Request

from tongpin.counselling.api.dependencies import (
    Coordinator,
    FigureReader,
    GlassBreaker,
    Limit,
    Offset,
    case_read,
    context,
)
from tongpin.counselling.handlers import access
from tongpin.counselling.schemas.access import BreakGlassCreate, BreakGlassPage, BreakGlassRead, BreakGlassSummary
from tongpin.counselling.schemas.cases import CaseRead

router = APIRouter()


@router.post("/cases/{case_id}/break-glass", response_model=CaseRead, tags=["cases"])
async def break_glass(case_id: str, body: BreakGlassCreate, request: Request, principal: GlassBreaker) -> CaseRead:
    """Read a case one may not open, stating why: recorded, told to the coordinators, counted for auditors."""
    ctx = context(request)
    await access.break_glass(repo=ctx.cases, glass=ctx.glass, staff=ctx.staff, feed=ctx.feed, case_id=case_id,
                        reason=body.reason, by=principal, webhook=ctx.webhook)
    return await case_read(ctx, case_id)


@router.get("/break-glass", response_model=BreakGlassPage, tags=["cases"])
async def break_glass_reads(request: Request, _: Coordinator, limit: Limit = 50, offset: Offset = 0) -> BreakGlassPage:
    """Every read through the glass: who, which case, when and why (the coordinator reviews them)."""
    docs, total = await context(request).glass.page(limit=limit, offset=offset)
    return BreakGlassPage(items=[BreakGlassRead.model_validate(d) for d in docs], total=total, limit=limit,
                          offset=offset)


@router.get("/break-glass/summary", response_model=BreakGlassSummary, tags=["cases"])
async def break_glass_summary(request: Request, _: FigureReader) -> BreakGlassSummary:
    """How many reads went through the glass, per month: counts only."""
    return BreakGlassSummary.model_validate(await access.break_glass_summary(glass=context(request).glass))

