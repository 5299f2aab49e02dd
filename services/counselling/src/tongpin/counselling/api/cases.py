"""Cases: the list, one case, and the commands on it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from tongpin.counselling.api.dependencies import (
    CaseWorker,
    Coordinator,
    IfMatch,
    Limit,
    Offset,
    case_read,
    context,
    published,
    trace,
    version,
    visible,
    workable,
)
from tongpin.counselling.domain.case import CaseState
from tongpin.counselling.handlers import cases
from tongpin.counselling.schemas.cases import (
    AssignmentCreate,
    CasePage,
    CaseRead,
    CaseSummary,
    FeedbackCreate,
    ReopenCreate,
    ReplyCreate,
    ReplyCreated,
    ResolutionCreate,
)
from tongpin.shared.events import Id

router = APIRouter()


@router.get("/cases", response_model=CasePage, tags=["cases"])
async def list_cases(
    request: Request, principal: CaseWorker, state: CaseState | None = None, assignee_id: Id | None = None,
    mine: bool = False, crisis: bool | None = None, limit: Limit = 50, offset: Offset = 0,
) -> CasePage:
    """Cases, newest first; filter by state, assignee (or mine) and crisis."""
    query: dict[str, Any] = {}
    if state:
        query["state"] = state
    if mine:
        query["assignee_id"] = principal.subject
    elif assignee_id:
        query["assignee_id"] = assignee_id
    if crisis is not None:
        query["crisis"] = crisis
    docs, total = await context(request).cases.list_cases(query=await visible(request, principal, query), limit=limit,
                                                       offset=offset)
    return CasePage(items=[CaseSummary.model_validate({**d, "case_id": d["_id"]}) for d in docs], total=total,
                    limit=limit, offset=offset)


@router.get("/cases/{case_id}", response_model=CaseRead, tags=["cases"])
async def get_case(case_id: str, request: Request, response: Response, principal: CaseWorker) -> CaseRead:
    """A case with its concerns' text, the dialogue and the talks (for its assignee, team and coordinator)."""
    await workable(request, case_id, principal)
    case = await case_read(context(request), case_id)
    response.headers["ETag"] = f'"{case.version}"'
    return case


@router.post("/cases/{case_id}/assign", response_model=CaseRead, tags=["cases"])
async def assign(
    case_id: str, body: AssignmentCreate, request: Request, response: Response, principal: Coordinator,
    if_match: IfMatch = None,
) -> CaseRead:
    """Assign or reassign the case."""
    ctx = context(request)
    mutation = await cases.assign_case(repo=ctx.cases, staff=ctx.staff, feed=ctx.feed, case_id=case_id,
                                   version=version(body.version, if_match), assignee_id=body.assignee_id,
                                   by=principal, trace=trace(request), webhook=ctx.webhook)
    published(request, response, mutation.case.version)
    return await case_read(ctx, case_id)


@router.post("/cases/{case_id}/replies", status_code=201, response_model=ReplyCreated, tags=["dialogue"])
async def post_reply(
    case_id: str, body: ReplyCreate, request: Request, response: Response, principal: CaseWorker,
    if_match: IfMatch = None,
) -> ReplyCreated:
    """Answer online; intake delivers the reply into the concern's channel or the submitter's thread."""
    await workable(request, case_id, principal)
    ctx = context(request)
    mutation, reply_id = await cases.reply(repo=ctx.cases, case_id=case_id, version=version(body.version, if_match),
                                       text=body.text, channel_id=body.channel_id, by=principal,
                                       trace=trace(request))
    published(request, response, mutation.case.version)
    return ReplyCreated(reply_id=reply_id, case=await case_read(ctx, case_id))


@router.post("/cases/{case_id}/resolve", response_model=CaseRead, tags=["cases"])
async def resolve(
    case_id: str, body: ResolutionCreate, request: Request, response: Response, principal: CaseWorker,
    if_match: IfMatch = None,
) -> CaseRead:
    """Resolve the case: answered_online, resolved_offline or by_committee, with an outcome code."""
    await workable(request, case_id, principal)
    ctx = context(request)
    mutation = await cases.resolve_case(repo=ctx.cases, case_id=case_id, version=version(body.version, if_match),
                                    method=body.method, outcome_code=body.outcome_code, trace=trace(request))
    published(request, response, mutation.case.version)
    return await case_read(ctx, case_id)


@router.post("/cases/{case_id}/reopen", response_model=CaseRead, tags=["cases"])
async def reopen(
    case_id: str, body: ReopenCreate, request: Request, response: Response, principal: CaseWorker,
    if_match: IfMatch = None,
) -> CaseRead:
    """Reopen a resolved case when the problem comes back."""
    await workable(request, case_id, principal)
    ctx = context(request)
    mutation = await cases.reopen_case(repo=ctx.cases, case_id=case_id, version=version(body.version, if_match),
                                   reason_code=body.reason_code, trace=trace(request))
    published(request, response, mutation.case.version)
    return await case_read(ctx, case_id)


@router.post("/cases/{case_id}/feedback", response_model=CaseRead, tags=["cases"])
async def feedback(
    case_id: str, body: FeedbackCreate, request: Request, response: Response, principal: CaseWorker,
    if_match: IfMatch = None,
) -> CaseRead:
    """Record the helped person's feedback."""
    await workable(request, case_id, principal)
    ctx = context(request)
    mutation = await cases.record_feedback(repo=ctx.cases, case_id=case_id, version=version(body.version, if_match),
                                       rating=body.rating, comment=body.comment, by=principal, trace=trace(request))
    published(request, response, mutation.case.version)
    return await case_read(ctx, case_id)

