"""Escalation to the committee: material, the board, decisions."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from tongpin.counselling.api.dependencies import (
    Board,
    CaseWorker,
    Committee,
    IfMatch,
    Limit,
    MaterialReader,
    Offset,
    context,
    published,
    trace,
    version,
    workable,
)
from tongpin.counselling.context import CounsellingContext
from tongpin.counselling.domain.escalation import EscalationMaterial
from tongpin.counselling.handlers import escalations
from tongpin.counselling.schemas.escalations import (
    DecisionCreate,
    DecisionDone,
    EscalationCreate,
    EscalationItem,
    EscalationPage,
    EscalationRead,
)
from tongpin.shared import clock
from tongpin.shared.auth import Principal

router = APIRouter()


@router.post("/cases/{case_id}/escalations", status_code=201, response_model=EscalationRead, tags=["escalation"])
async def escalate(
    case_id: str, body: EscalationCreate, request: Request, response: Response, principal: CaseWorker,
    if_match: IfMatch = None,
) -> EscalationRead:
    """Put the case before the committee with its written material (上报党委)."""
    await workable(request, case_id, principal)
    ctx = context(request)
    material = EscalationMaterial.model_validate(body.model_dump(exclude={"version"}))
    mutation, escalation_id = await escalations.escalate(
        repo=ctx.cases, staff=ctx.staff, feed=ctx.feed, case_id=case_id, version=version(body.version, if_match),
        material=material, by=principal, trace=trace(request), webhook=ctx.webhook,
    )
    published(request, response, mutation.case.version)
    return await _escalation_read(ctx, escalation_id)


async def _material_for(request: Request, escalation_id: str, principal: Principal) -> None:
    """The committee reads every escalation; case workers only those of cases they may open."""
    if principal.has_any(("committee_member",)):
        return
    doc, _ = await escalations.escalation_of(repo=context(request).cases, escalation_id=escalation_id)
    await workable(request, doc["_id"], principal)


async def _escalation_read(ctx: CounsellingContext, escalation_id: str) -> EscalationRead:
    doc, entry = await escalations.escalation_of(repo=ctx.cases, escalation_id=escalation_id)
    item = escalations.escalation_board_item(case_doc=doc, entry=entry, now=clock.now())
    return EscalationRead.model_validate({**item, "material": entry["material"], "decision": entry.get("decision")})


@router.get("/escalations", response_model=EscalationPage, tags=["escalation"])
async def escalation_board(
    request: Request, _: Board, status: Literal["open", "decided", "done", "all"] = "open",
    overdue: bool | None = None, limit: Limit = 50, offset: Offset = 0,
) -> EscalationPage:
    """The committee's board: escalations awaiting a decision, decided ones being carried out, overdue flags."""
    now = clock.now()
    docs = await context(request).cases.find_cases({"escalation_ids": {"$exists": True, "$ne": []}},
                                                {"outbox": 0, "dialogue": 0})
    items = [escalations.escalation_board_item(case_doc=d, entry=e, now=now)
             for d in docs for e in d["escalations"].values()]
    items = [i for i in items if status == "all" or i["status"] == status]
    if overdue is not None:
        items = [i for i in items if i["decision_overdue"] == overdue]
    items.sort(key=lambda i: i["prepared_at"])
    return EscalationPage(items=[EscalationItem.model_validate(i) for i in items[offset:offset + limit]],
                          total=len(items), limit=limit, offset=offset)


@router.get("/escalations/{escalation_id}", response_model=EscalationRead, tags=["escalation"])
async def get_escalation(escalation_id: str, request: Request, principal: MaterialReader) -> EscalationRead:
    """One escalation: the written material and the decision."""
    await _material_for(request, escalation_id, principal)
    return await _escalation_read(context(request), escalation_id)


@router.get("/escalations/{escalation_id}/material.html", response_class=HTMLResponse, tags=["escalation"])
async def material_html(
    escalation_id: str, request: Request, principal: MaterialReader, lang: Literal["zh", "en"] = "zh"
) -> HTMLResponse:
    """The written material as a printable document."""
    await _material_for(request, escalation_id, principal)
    doc, entry = await escalations.escalation_of(repo=context(request).cases, escalation_id=escalation_id)
    return HTMLResponse(escalations.material_html(case_doc=doc, entry=entry, lang=lang))


@router.post("/escalations/{escalation_id}/decision", response_model=EscalationRead, tags=["escalation"])
async def record_decision(
    escalation_id: str, body: DecisionCreate, request: Request, response: Response, principal: Committee,
    if_match: IfMatch = None,
) -> EscalationRead:
    """Record the committee's decision: what, who acts, by when."""
    ctx = context(request)
    mutation = await escalations.decide(
        repo=ctx.cases, feed=ctx.feed, escalation_id=escalation_id, version=version(body.version, if_match),
        decision_code=body.decision_code, decided=body.decided, actor_kind=body.actor_kind, actor_id=body.actor_id,
        due_by=body.due_by, by=principal, trace=trace(request), webhook=ctx.webhook,
    )
    published(request, response, mutation.case.version)
    return await _escalation_read(ctx, escalation_id)


@router.post("/escalations/{escalation_id}/done", response_model=EscalationRead, tags=["escalation"])
async def decision_done(
    escalation_id: str, body: DecisionDone, request: Request, response: Response, principal: MaterialReader,
    if_match: IfMatch = None,
) -> EscalationRead:
    """The decision has been carried out."""
    await _material_for(request, escalation_id, principal)
    ctx = context(request)
    mutation = await escalations.complete_decision(repo=ctx.cases, escalation_id=escalation_id,
                                         version=version(body.version, if_match), trace=trace(request))
    published(request, response, mutation.case.version)
    return await _escalation_read(ctx, escalation_id)

