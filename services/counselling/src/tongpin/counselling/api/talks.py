"""Offline talks (约谈) on a case."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from tongpin.counselling.api.dependencies import (
    CaseWorker,
    IfMatch,
    case_read,
    context,
    published,
    trace,
    version,
    workable,
)
from tongpin.counselling.handlers import talks
from tongpin.counselling.schemas.cases import CaseRead
from tongpin.counselling.schemas.talks import TalkCancel, TalkCreate, TalkHeldCreate, TalkUpdate

router = APIRouter()


@router.post("/cases/{case_id}/talks", status_code=201, response_model=CaseRead, tags=["talks"])
async def schedule_talk(
    case_id: str, body: TalkCreate, request: Request, response: Response, principal: CaseWorker,
    if_match: IfMatch = None,
) -> CaseRead:
    """Schedule an offline talk (约谈)."""
    await workable(request, case_id, principal)
    ctx = context(request)
    mutation, _ = await talks.schedule_talk(
        repo=ctx.cases, case_id=case_id, version=version(body.version, if_match), scheduled_for=body.scheduled_for,
        place=body.place, participants=body.participants, staff_ids=body.staff_ids, by=principal,
        trace=trace(request),
    )
    published(request, response, mutation.case.version)
    return await case_read(ctx, case_id)


@router.patch("/cases/{case_id}/talks/{talk_id}", response_model=CaseRead, tags=["talks"])
async def reschedule_talk(
    case_id: str, talk_id: str, body: TalkUpdate, request: Request, response: Response, principal: CaseWorker,
    if_match: IfMatch = None,
) -> CaseRead:
    """Reschedule a pending talk, or change its place or participants."""
    await workable(request, case_id, principal)
    ctx = context(request)
    mutation = await talks.reschedule_talk(
        repo=ctx.cases, case_id=case_id, talk_id=talk_id, version=version(body.version, if_match),
        scheduled_for=body.scheduled_for, place=body.place, participants=body.participants,
        staff_ids=body.staff_ids, trace=trace(request),
    )
    published(request, response, mutation.case.version)
    return await case_read(ctx, case_id)


@router.post("/cases/{case_id}/talks/{talk_id}/cancel", response_model=CaseRead, tags=["talks"])
async def cancel_talk(
    case_id: str, talk_id: str, body: TalkCancel, request: Request, response: Response, principal: CaseWorker,
    if_match: IfMatch = None,
) -> CaseRead:
    """Call off a pending talk."""
    await workable(request, case_id, principal)
    ctx = context(request)
    mutation = await talks.cancel_talk(repo=ctx.cases, case_id=case_id, talk_id=talk_id,
                                   version=version(body.version, if_match), reason_code=body.reason_code,
                                   trace=trace(request))
    published(request, response, mutation.case.version)
    return await case_read(ctx, case_id)


@router.post("/cases/{case_id}/talks/{talk_id}/held", response_model=CaseRead, tags=["talks"])
async def talk_held(
    case_id: str, talk_id: str, body: TalkHeldCreate, request: Request, response: Response, principal: CaseWorker,
    if_match: IfMatch = None,
) -> CaseRead:
    """Record that the talk was held, and its outcome."""
    await workable(request, case_id, principal)
    ctx = context(request)
    mutation = await talks.record_talk_held(repo=ctx.cases, case_id=case_id, talk_id=talk_id,
                                        version=version(body.version, if_match), outcome_code=body.outcome_code,
                                        trace=trace(request))
    published(request, response, mutation.case.version)
    return await case_read(ctx, case_id)

