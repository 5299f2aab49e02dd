"""Counselling's HTTP API: thin routes that validate, call one handler and map the result."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Header, Query, Request, Response
from fastapi.responses import HTMLResponse

from tongpin.counselling.context import CounsellingContext
from tongpin.counselling.domain.access import BREAK_GLASS_ROLES, visible_cases
from tongpin.counselling.domain.case import CaseState
from tongpin.counselling.domain.escalation import EscalationMaterial
from tongpin.counselling.domain.sealed import can_read_note
from tongpin.counselling.handlers import access, broadcasts, cases, common, escalations, notes, staff, talks, targets
from tongpin.counselling.schemas import (
    AssignmentCreate,
    AvailabilityUpdate,
    BreakGlassCreate,
    BreakGlassPage,
    BreakGlassRead,
    BreakGlassSummary,
    BroadcastCreate,
    BroadcastPage,
    BroadcastRead,
    CasePage,
    CaseRead,
    CaseSummary,
    CodeListRead,
    CodeListsRead,
    CodeRead,
    ConcernRead,
    DecisionCreate,
    DecisionDone,
    EscalationCreate,
    EscalationItem,
    EscalationPage,
    EscalationRead,
    FeedbackCreate,
    MeRead,
    NoteCreate,
    NoteMeta,
    NoteRead,
    NoteReadRecord,
    NotificationPage,
    NotificationRead,
    ReopenCreate,
    ReplyCreate,
    ReplyCreated,
    ResolutionCreate,
    StaffCreate,
    StaffPage,
    StaffRead,
    StaffUpdate,
    TalkCancel,
    TalkCreate,
    TalkHeldCreate,
    TalkUpdate,
    TokenRead,
)
from tongpin.shared import clock
from tongpin.shared.auth import ALL_ROLES, STAFF_ROLES, Principal, Public, Roles
from tongpin.shared.codes import CODE_LISTS
from tongpin.shared.edge import MAX_OFFSET, MAX_VERSION
from tongpin.shared.events import Id
from tongpin.shared.problems import Invalid, NotFound

router = APIRouter()

CaseWorker = Annotated[Principal, Depends(Roles("political_worker", "psychologist", "centre_coordinator"))]
Coordinator = Annotated[Principal, Depends(Roles("centre_coordinator"))]
Admin = Annotated[Principal, Depends(Roles("admin"))]
DirectoryReader = Annotated[Principal, Depends(Roles("admin", "centre_coordinator"))]
Availability = Annotated[Principal, Depends(Roles("admin", "centre_coordinator"))]
NoteWriter = Annotated[Principal, Depends(Roles("psychologist", "political_worker", "centre_coordinator"))]
NoteAuditor = Annotated[Principal, Depends(Roles("psychologist", "political_worker", "centre_coordinator",
                                                 "admin", "auditor"))]
Committee = Annotated[Principal, Depends(Roles("committee_member"))]
Board = Annotated[Principal, Depends(Roles("committee_member", "centre_coordinator"))]
MaterialReader = Annotated[Principal, Depends(Roles("committee_member", "political_worker", "psychologist",
                                                    "centre_coordinator"))]
Broadcaster = Annotated[Principal, Depends(Roles("committee_member", "centre_coordinator"))]
GlassBreaker = Annotated[Principal, Depends(Roles(*sorted(BREAK_GLASS_ROLES)))]
FigureReader = Annotated[Principal, Depends(Roles("auditor", "committee_member", "centre_coordinator", "admin"))]
AnyStaff = Annotated[Principal, Depends(Roles(*STAFF_ROLES))]
AnyCaller = Annotated[Principal, Depends(Roles(*ALL_ROLES))]
Open = Annotated[None, Depends(Public())]
IfMatch = Annotated[str | None, Header(alias="If-Match", description="the case version read")]
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]


def _ctx(request: Request) -> CounsellingContext:
    ctx: CounsellingContext = request.app.state.counselling
    return ctx


async def _workable(request: Request, case_id: str, principal: Principal) -> dict[str, Any]:
    """The case, if the caller may open and work it; 403 (with the way to break the glass) otherwise."""
    ctx = _ctx(request)
    return await access.case_for(repo=ctx.cases, staff=ctx.staff, notes=ctx.notes, case_id=case_id, by=principal)


async def _visible(request: Request, principal: Principal, query: dict[str, Any]) -> dict[str, Any]:
    """A case query narrowed to the cases the caller may open."""
    ctx = _ctx(request)
    visible = visible_cases(staff_id=principal.subject, roles=principal.roles,
                            unit=await access.staff_unit(staff=ctx.staff, by=principal))
    return query if visible is None else {"$and": [query, visible]} if query else visible


def _trace(request: Request) -> common.Trace:
    return common.Trace(correlationid=request.state.correlation_id, traceparent=request.state.traceparent)


def _version(body_version: int | None, if_match: str | None) -> int:
    """The version the caller read: the body field, or the If-Match header (3, "3" or W/"3")."""
    if body_version is not None:
        return body_version
    if if_match:
        raw = if_match.strip().removeprefix("W/").strip('"')
        if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_VERSION:
            return int(raw)
        raise Invalid("If-Match", "must be the case version, e.g. \"3\"")
    raise Invalid("version", "send the case version you read (a version field or an If-Match header)")


def _published(request: Request, response: Response, version: int) -> None:
    request.app.state.runtime.notify_outbox()
    response.headers["ETag"] = f'"{version}"'


async def _case_read(ctx: CounsellingContext, case_id: str) -> CaseRead:
    doc = await ctx.cases.get_case(case_id)
    if doc is None:
        raise NotFound("case", case_id)
    concerns = {c["_id"]: c for c in await ctx.cases.concerns(doc["concern_ids"])}
    views = []
    for concern_id in doc["concern_ids"]:
        c = concerns.get(concern_id, {})
        raised = c.get("raised") or {}
        decision = c.get("decision") or c.get("crisis") or {}
        views.append(ConcernRead(
            concern_id=concern_id, channel_id=raised.get("channel_id") or decision.get("channel_id"),
            channel_kind=raised.get("channel_kind") or decision.get("channel_kind"),
            anonymous=bool(raised.get("anonymous")),
            author_member_id=None if raised.get("anonymous") else raised.get("author_member_id"),
            sent_at=raised.get("sent_at"), text=c.get("text"),
        ))
    talks = sorted(doc.get("talks", {}).values(), key=lambda t: t["scheduled_for"])
    return CaseRead.model_validate({**doc, "case_id": doc["_id"], "concerns": views, "talks": talks})


# --- auth ---------------------------------------------------------------------------------------------


@router.post("/auth/token", response_model=TokenRead, tags=["auth"], responses={429: {"description": "throttled"}})
async def issue_token(
    request: Request, _: Open, username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1024)],
) -> TokenRead:
    """OAuth2 password flow: a short-lived bearer token for a staff member."""
    ctx = _ctx(request)
    result = await staff.login(staff=ctx.staff, hasher=ctx.hasher, throttle=ctx.throttle, issuer=ctx.issuer,
                           username=username, password=password,
                           client=request.client.host if request.client else None)
    return TokenRead(access_token=result.token, expires_in=int(ctx.issuer.ttl.total_seconds()),
                     roles=result.staff["roles"], name=result.staff["name"], staff_id=result.staff["_id"])


@router.get("/auth/jwks", tags=["auth"])
async def jwks(request: Request, response: Response, _: Open) -> dict[str, Any]:
    """The public keys that verify staff tokens."""
    response.headers["cache-control"] = "public, max-age=300"
    return _ctx(request).issuer.jwks()


@router.get("/auth/me", response_model=MeRead, tags=["auth"])
async def me(principal: AnyStaff) -> MeRead:
    """Who the bearer token says the caller is."""
    return MeRead(staff_id=principal.subject, roles=sorted(principal.roles), name=principal.name, kind=principal.kind)


@router.get("/codes", response_model=CodeListsRead, tags=["codes"])
async def code_lists(response: Response, _: AnyCaller) -> CodeListsRead:
    """The closed lists of outcome, decision and reason codes, with Chinese and English labels."""
    response.headers["cache-control"] = "private, max-age=300"
    return CodeListsRead(lists=[
        CodeListRead(name=c.name, zh=c.zh, en=c.en, fields=list(c.fields),
                     codes=[CodeRead(code=x.code, zh=x.zh, en=x.en) for x in c.codes])
        for c in CODE_LISTS
    ])


# --- staff directory -------------------------------------------------------------------------------------


def _staff_read(doc: dict[str, Any]) -> StaffRead:
    return StaffRead.model_validate({**doc, "staff_id": doc["_id"]})


@router.post("/staff", status_code=201, response_model=StaffRead, tags=["staff"])
async def create_staff(body: StaffCreate, request: Request, _: Admin) -> StaffRead:
    """Add a staff account."""
    ctx = _ctx(request)
    doc = await staff.create_staff(staff=ctx.staff, hasher=ctx.hasher, username=body.username, name=body.name,
                               password=body.password, roles=list(body.roles), skills=body.skills, unit=body.unit,
                               on_call=body.on_call, staff_id=body.staff_id, trace=_trace(request))
    request.app.state.runtime.notify_outbox()
    return _staff_read(doc)


@router.get("/staff", response_model=StaffPage, tags=["staff"])
async def list_staff(
    request: Request, _: DirectoryReader, role: str | None = None, limit: Limit = 50, offset: Offset = 0
) -> StaffPage:
    """The staff directory."""
    docs, total = await _ctx(request).staff.page(query={"roles": role} if role else {}, limit=limit, offset=offset)
    return StaffPage(items=[_staff_read(d) for d in docs], total=total, limit=limit, offset=offset)


@router.get("/staff/{staff_id}", response_model=StaffRead, tags=["staff"])
async def get_staff(staff_id: str, request: Request, _: DirectoryReader) -> StaffRead:
    """One staff member."""
    doc = await _ctx(request).staff.get(staff_id)
    if doc is None:
        raise NotFound("staff member", staff_id)
    return _staff_read(doc)


@router.patch("/staff/{staff_id}", response_model=StaffRead, tags=["staff"])
async def update_staff(staff_id: str, body: StaffUpdate, request: Request, _: Admin) -> StaffRead:
    """Change roles, skills, name, password or whether the account is active."""
    ctx = _ctx(request)
    changes = body.model_dump(exclude_unset=True, exclude={"version"})
    doc = await staff.update_staff(staff=ctx.staff, hasher=ctx.hasher, staff_id=staff_id, changes=changes,
                               version=body.version, trace=_trace(request))
    request.app.state.runtime.notify_outbox()
    return _staff_read(doc)


@router.put("/staff/{staff_id}/availability", response_model=StaffRead, tags=["staff"])
async def set_availability(staff_id: str, body: AvailabilityUpdate, request: Request, _: Availability) -> StaffRead:
    """Availability, leave and on-call (the coordinator may set these)."""
    ctx = _ctx(request)
    changes = body.model_dump(exclude_unset=True, exclude={"version"})
    doc = await staff.update_staff(staff=ctx.staff, hasher=ctx.hasher, staff_id=staff_id, changes=changes,
                               version=body.version, trace=_trace(request))
    request.app.state.runtime.notify_outbox()
    return _staff_read(doc)


# --- cases ----------------------------------------------------------------------------------------------


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
    docs, total = await _ctx(request).cases.list_cases(query=await _visible(request, principal, query), limit=limit,
                                                       offset=offset)
    return CasePage(items=[CaseSummary.model_validate({**d, "case_id": d["_id"]}) for d in docs], total=total,
                    limit=limit, offset=offset)


@router.get("/cases/overdue", response_model=CasePage, tags=["sla"])
async def overdue_cases(request: Request, principal: CaseWorker, limit: Limit = 50, offset: Offset = 0) -> CasePage:
    """Live cases past a time target (those the caller may open)."""
    query = await _visible(request, principal, targets.overdue_query(clock.now()))
    docs, total = await _ctx(request).cases.list_cases(query=query, limit=limit, offset=offset)
    return CasePage(items=[CaseSummary.model_validate({**d, "case_id": d["_id"], "overdue": True}) for d in docs],
                    total=total, limit=limit, offset=offset)


@router.get("/sla/summary", tags=["sla"])
async def sla_summary(request: Request, _: FigureReader) -> dict[str, Any]:
    """How often the first-response and resolution targets were met, overall and per severity."""
    ctx = _ctx(request)
    return await targets.sla_figures(repo=ctx.cases, targets=ctx.targets, now=clock.now())


@router.get("/cases/{case_id}", response_model=CaseRead, tags=["cases"])
async def get_case(case_id: str, request: Request, response: Response, principal: CaseWorker) -> CaseRead:
    """A case with its concerns' text, the dialogue and the talks (for its assignee, team and coordinator)."""
    await _workable(request, case_id, principal)
    case = await _case_read(_ctx(request), case_id)
    response.headers["ETag"] = f'"{case.version}"'
    return case


@router.post("/cases/{case_id}/assign", response_model=CaseRead, tags=["cases"])
async def assign(
    case_id: str, body: AssignmentCreate, request: Request, response: Response, principal: Coordinator,
    if_match: IfMatch = None,
) -> CaseRead:
    """Assign or reassign the case."""
    ctx = _ctx(request)
    mutation = await cases.assign_case(repo=ctx.cases, staff=ctx.staff, feed=ctx.feed, case_id=case_id,
                                   version=_version(body.version, if_match), assignee_id=body.assignee_id,
                                   by=principal, trace=_trace(request), webhook=ctx.webhook)
    _published(request, response, mutation.case.version)
    return await _case_read(ctx, case_id)


@router.post("/cases/{case_id}/replies", status_code=201, response_model=ReplyCreated, tags=["dialogue"])
async def post_reply(
    case_id: str, body: ReplyCreate, request: Request, response: Response, principal: CaseWorker,
    if_match: IfMatch = None,
) -> ReplyCreated:
    """Answer online; intake delivers the reply into the concern's channel or the submitter's thread."""
    await _workable(request, case_id, principal)
    ctx = _ctx(request)
    mutation, reply_id = await cases.reply(repo=ctx.cases, case_id=case_id, version=_version(body.version, if_match),
                                       text=body.text, channel_id=body.channel_id, by=principal,
                                       trace=_trace(request))
    _published(request, response, mutation.case.version)
    return ReplyCreated(reply_id=reply_id, case=await _case_read(ctx, case_id))


@router.post("/cases/{case_id}/talks", status_code=201, response_model=CaseRead, tags=["talks"])
async def schedule_talk(
    case_id: str, body: TalkCreate, request: Request, response: Response, principal: CaseWorker,
    if_match: IfMatch = None,
) -> CaseRead:
    """Schedule an offline talk (约谈)."""
    await _workable(request, case_id, principal)
    ctx = _ctx(request)
    mutation, _ = await talks.schedule_talk(
        repo=ctx.cases, case_id=case_id, version=_version(body.version, if_match), scheduled_for=body.scheduled_for,
        place=body.place, participants=body.participants, staff_ids=body.staff_ids, by=principal,
        trace=_trace(request),
    )
    _published(request, response, mutation.case.version)
    return await _case_read(ctx, case_id)


@router.patch("/cases/{case_id}/talks/{talk_id}", response_model=CaseRead, tags=["talks"])
async def reschedule_talk(
    case_id: str, talk_id: str, body: TalkUpdate, request: Request, response: Response, principal: CaseWorker,
    if_match: IfMatch = None,
) -> CaseRead:
    """Reschedule a pending talk, or change its place or participants."""
    await _workable(request, case_id, principal)
    ctx = _ctx(request)
    mutation = await talks.reschedule_talk(
        repo=ctx.cases, case_id=case_id, talk_id=talk_id, version=_version(body.version, if_match),
        scheduled_for=body.scheduled_for, place=body.place, participants=body.participants,
        staff_ids=body.staff_ids, trace=_trace(request),
    )
    _published(request, response, mutation.case.version)
    return await _case_read(ctx, case_id)


@router.post("/cases/{case_id}/talks/{talk_id}/cancel", response_model=CaseRead, tags=["talks"])
async def cancel_talk(
    case_id: str, talk_id: str, body: TalkCancel, request: Request, response: Response, principal: CaseWorker,
    if_match: IfMatch = None,
) -> CaseRead:
    """Call off a pending talk."""
    await _workable(request, case_id, principal)
    ctx = _ctx(request)
    mutation = await talks.cancel_talk(repo=ctx.cases, case_id=case_id, talk_id=talk_id,
                                   version=_version(body.version, if_match), reason_code=body.reason_code,
                                   trace=_trace(request))
    _published(request, response, mutation.case.version)
    return await _case_read(ctx, case_id)


@router.post("/cases/{case_id}/talks/{talk_id}/held", response_model=CaseRead, tags=["talks"])
async def talk_held(
    case_id: str, talk_id: str, body: TalkHeldCreate, request: Request, response: Response, principal: CaseWorker,
    if_match: IfMatch = None,
) -> CaseRead:
    """Record that the talk was held, and its outcome."""
    await _workable(request, case_id, principal)
    ctx = _ctx(request)
    mutation = await talks.record_talk_held(repo=ctx.cases, case_id=case_id, talk_id=talk_id,
                                        version=_version(body.version, if_match), outcome_code=body.outcome_code,
                                        trace=_trace(request))
    _published(request, response, mutation.case.version)
    return await _case_read(ctx, case_id)


@router.post("/cases/{case_id}/resolve", response_model=CaseRead, tags=["cases"])
async def resolve(
    case_id: str, body: ResolutionCreate, request: Request, response: Response, principal: CaseWorker,
    if_match: IfMatch = None,
) -> CaseRead:
    """Resolve the case: answered_online, resolved_offline or by_committee, with an outcome code."""
    await _workable(request, case_id, principal)
    ctx = _ctx(request)
    mutation = await cases.resolve_case(repo=ctx.cases, case_id=case_id, version=_version(body.version, if_match),
                                    method=body.method, outcome_code=body.outcome_code, trace=_trace(request))
    _published(request, response, mutation.case.version)
    return await _case_read(ctx, case_id)


@router.post("/cases/{case_id}/reopen", response_model=CaseRead, tags=["cases"])
async def reopen(
    case_id: str, body: ReopenCreate, request: Request, response: Response, principal: CaseWorker,
    if_match: IfMatch = None,
) -> CaseRead:
    """Reopen a resolved case when the problem comes back."""
    await _workable(request, case_id, principal)
    ctx = _ctx(request)
    mutation = await cases.reopen_case(repo=ctx.cases, case_id=case_id, version=_version(body.version, if_match),
                                   reason_code=body.reason_code, trace=_trace(request))
    _published(request, response, mutation.case.version)
    return await _case_read(ctx, case_id)


@router.post("/cases/{case_id}/feedback", response_model=CaseRead, tags=["cases"])
async def feedback(
    case_id: str, body: FeedbackCreate, request: Request, response: Response, principal: CaseWorker,
    if_match: IfMatch = None,
) -> CaseRead:
    """Record the helped person's feedback."""
    await _workable(request, case_id, principal)
    ctx = _ctx(request)
    mutation = await cases.record_feedback(repo=ctx.cases, case_id=case_id, version=_version(body.version, if_match),
                                       rating=body.rating, comment=body.comment, by=principal, trace=_trace(request))
    _published(request, response, mutation.case.version)
    return await _case_read(ctx, case_id)


# --- break the glass -------------------------------------------------------------------------------------


@router.post("/cases/{case_id}/break-glass", response_model=CaseRead, tags=["cases"])
async def break_glass(case_id: str, body: BreakGlassCreate, request: Request, principal: GlassBreaker) -> CaseRead:
    """Read a case one may not open, stating why: recorded, told to the coordinators, counted for auditors."""
    ctx = _ctx(request)
    await access.break_glass(repo=ctx.cases, glass=ctx.glass, staff=ctx.staff, feed=ctx.feed, case_id=case_id,
                        reason=body.reason, by=principal, webhook=ctx.webhook)
    return await _case_read(ctx, case_id)


@router.get("/break-glass", response_model=BreakGlassPage, tags=["cases"])
async def break_glass_reads(request: Request, _: Coordinator, limit: Limit = 50, offset: Offset = 0) -> BreakGlassPage:
    """Every read through the glass: who, which case, when and why (the coordinator reviews them)."""
    docs, total = await _ctx(request).glass.page(limit=limit, offset=offset)
    return BreakGlassPage(items=[BreakGlassRead.model_validate(d) for d in docs], total=total, limit=limit,
                          offset=offset)


@router.get("/break-glass/summary", response_model=BreakGlassSummary, tags=["cases"])
async def break_glass_summary(request: Request, _: FigureReader) -> BreakGlassSummary:
    """How many reads went through the glass, per month: counts only."""
    return BreakGlassSummary.model_validate(await access.break_glass_summary(glass=_ctx(request).glass))


# --- sealed notes -------------------------------------------------------------------------------------------


@router.post("/cases/{case_id}/notes", status_code=201, response_model=NoteMeta, tags=["notes"])
async def write_note(case_id: str, body: NoteCreate, request: Request, principal: NoteWriter) -> NoteMeta:
    """Write a sealed note (encrypted at rest, readable only by the author's role group)."""
    await _workable(request, case_id, principal)
    ctx = _ctx(request)
    doc = await notes.write_note(repo=ctx.cases, notes=ctx.notes, keyring=ctx.keyring, case_id=case_id, text=body.text,
                             by=principal)
    return NoteMeta.model_validate({**doc, "note_id": doc["_id"], "readable": True})


@router.get("/cases/{case_id}/notes", response_model=list[NoteMeta], tags=["notes"])
async def list_notes(case_id: str, request: Request, principal: NoteWriter) -> list[NoteMeta]:
    """The case's notes (no content), each saying whether the caller may open it."""
    await _workable(request, case_id, principal)
    docs = await _ctx(request).notes.for_case(case_id)
    return [NoteMeta.model_validate({**d, "note_id": d["_id"], "readable": can_read_note(
        reader_roles=principal.roles, note_author_group=d["author_group"])}) for d in docs]


@router.get("/cases/{case_id}/notes/{note_id}", response_model=NoteRead, tags=["notes"])
async def read_note(case_id: str, note_id: str, request: Request, principal: NoteWriter) -> NoteRead:
    """Open one note; the read is recorded (who, when, which note), a refusal is logged."""
    await _workable(request, case_id, principal)
    ctx = _ctx(request)
    doc = await notes.read_note(notes=ctx.notes, keyring=ctx.keyring, case_id=case_id, note_id=note_id, by=principal)
    return NoteRead.model_validate({**doc, "note_id": doc["_id"], "readable": True})


@router.get("/cases/{case_id}/notes/{note_id}/reads", response_model=list[NoteReadRecord], tags=["notes"])
async def note_reads(case_id: str, note_id: str, request: Request, principal: NoteAuditor) -> list[NoteReadRecord]:
    """Who opened the note and when (no content); case workers only on cases they may open."""
    if not principal.has_any(("admin", "auditor")):
        await _workable(request, case_id, principal)
    ctx = _ctx(request)
    doc = await ctx.notes.get(note_id)
    if doc is None or doc["case_id"] != case_id:
        raise NotFound("note", note_id)
    return [NoteReadRecord.model_validate(r) for r in await ctx.notes.reads_of(note_id)]


# --- escalation ------------------------------------------------------------------------------------------------


@router.post("/cases/{case_id}/escalations", status_code=201, response_model=EscalationRead, tags=["escalation"])
async def escalate(
    case_id: str, body: EscalationCreate, request: Request, response: Response, principal: CaseWorker,
    if_match: IfMatch = None,
) -> EscalationRead:
    """Put the case before the committee with its written material (上报党委)."""
    await _workable(request, case_id, principal)
    ctx = _ctx(request)
    material = EscalationMaterial.model_validate(body.model_dump(exclude={"version"}))
    mutation, escalation_id = await escalations.escalate(
        repo=ctx.cases, staff=ctx.staff, feed=ctx.feed, case_id=case_id, version=_version(body.version, if_match),
        material=material, by=principal, trace=_trace(request), webhook=ctx.webhook,
    )
    _published(request, response, mutation.case.version)
    return await _escalation_read(ctx, escalation_id)


async def _material_for(request: Request, escalation_id: str, principal: Principal) -> None:
    """The committee reads every escalation; case workers only those of cases they may open."""
    if principal.has_any(("committee_member",)):
        return
    doc, _ = await escalations.escalation_of(repo=_ctx(request).cases, escalation_id=escalation_id)
    await _workable(request, doc["_id"], principal)


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
    docs = await _ctx(request).cases.find_cases({"escalation_ids": {"$exists": True, "$ne": []}},
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
    return await _escalation_read(_ctx(request), escalation_id)


@router.get("/escalations/{escalation_id}/material.html", response_class=HTMLResponse, tags=["escalation"])
async def material_html(
    escalation_id: str, request: Request, principal: MaterialReader, lang: Literal["zh", "en"] = "zh"
) -> HTMLResponse:
    """The written material as a printable document."""
    await _material_for(request, escalation_id, principal)
    doc, entry = await escalations.escalation_of(repo=_ctx(request).cases, escalation_id=escalation_id)
    return HTMLResponse(escalations.material_html(case_doc=doc, entry=entry, lang=lang))


@router.post("/escalations/{escalation_id}/decision", response_model=EscalationRead, tags=["escalation"])
async def record_decision(
    escalation_id: str, body: DecisionCreate, request: Request, response: Response, principal: Committee,
    if_match: IfMatch = None,
) -> EscalationRead:
    """Record the committee's decision: what, who acts, by when."""
    ctx = _ctx(request)
    mutation = await escalations.decide(
        repo=ctx.cases, feed=ctx.feed, escalation_id=escalation_id, version=_version(body.version, if_match),
        decision_code=body.decision_code, decided=body.decided, actor_kind=body.actor_kind, actor_id=body.actor_id,
        due_by=body.due_by, by=principal, trace=_trace(request), webhook=ctx.webhook,
    )
    _published(request, response, mutation.case.version)
    return await _escalation_read(ctx, escalation_id)


@router.post("/escalations/{escalation_id}/done", response_model=EscalationRead, tags=["escalation"])
async def decision_done(
    escalation_id: str, body: DecisionDone, request: Request, response: Response, principal: MaterialReader,
    if_match: IfMatch = None,
) -> EscalationRead:
    """The decision has been carried out."""
    await _material_for(request, escalation_id, principal)
    ctx = _ctx(request)
    mutation = await escalations.complete_decision(repo=ctx.cases, escalation_id=escalation_id,
                                         version=_version(body.version, if_match), trace=_trace(request))
    _published(request, response, mutation.case.version)
    return await _escalation_read(ctx, escalation_id)


# --- broadcasts -------------------------------------------------------------------------------------------------


async def _broadcast_read(ctx: CounsellingContext, doc: dict[str, Any]) -> BroadcastRead:
    figures = await broadcasts.broadcast_figures(broadcasts=ctx.broadcasts, doc=doc)
    return BroadcastRead.model_validate({**doc, "broadcast_id": doc["_id"], "figures": figures})


@router.post("/broadcasts", status_code=201, response_model=BroadcastRead, tags=["broadcasts"])
async def compose_broadcast(body: BroadcastCreate, request: Request, principal: Broadcaster) -> BroadcastRead:
    """Compose an education task or notice for chosen channels."""
    ctx = _ctx(request)
    doc = await broadcasts.compose_broadcast(broadcasts=ctx.broadcasts, title=body.title, text=body.text,
                                    channel_ids=list(dict.fromkeys(body.channel_ids)), by=principal,
                                    trace=_trace(request))
    request.app.state.runtime.notify_outbox()
    return await _broadcast_read(ctx, doc)


@router.get("/broadcasts", response_model=BroadcastPage, tags=["broadcasts"])
async def list_broadcasts(request: Request, _: Broadcaster, limit: Limit = 50, offset: Offset = 0) -> BroadcastPage:
    """Broadcasts, newest first, with their delivery figures."""
    ctx = _ctx(request)
    docs, total = await ctx.broadcasts.page(limit=limit, offset=offset)
    return BroadcastPage(items=[await _broadcast_read(ctx, d) for d in docs], total=total, limit=limit,
                         offset=offset)


@router.get("/broadcasts/{broadcast_id}", response_model=BroadcastRead, tags=["broadcasts"])
async def get_broadcast(broadcast_id: str, request: Request, _: Broadcaster) -> BroadcastRead:
    """One broadcast with its delivery figures per channel."""
    ctx = _ctx(request)
    doc = await ctx.broadcasts.get(broadcast_id)
    if doc is None:
        raise NotFound("broadcast", broadcast_id)
    return await _broadcast_read(ctx, doc)


# --- notifications ------------------------------------------------------------------------------------------------


@router.get("/notifications", response_model=NotificationPage, tags=["notifications"])
async def notifications(
    request: Request, principal: AnyStaff, unread: bool = False, limit: Limit = 50, offset: Offset = 0
) -> NotificationPage:
    """The caller's feed: new assignments, crises, overdue cases, talk reminders, decisions."""
    feed = _ctx(request).feed
    docs, total = await feed.for_staff(principal.subject, unread_only=unread, limit=limit, offset=offset)
    _, unread_total = await feed.for_staff(principal.subject, unread_only=True, limit=1, offset=0)
    return NotificationPage(items=[NotificationRead.model_validate({**d, "notification_id": d["_id"]}) for d in docs],
                            total=total, unread=unread_total, limit=limit, offset=offset)


@router.post("/notifications/{notification_id}/read", response_model=NotificationRead, tags=["notifications"])
async def mark_read(notification_id: str, request: Request, principal: AnyStaff) -> NotificationRead:
    """Mark one of the caller's notifications read."""
    doc = await _ctx(request).feed.mark_read(notification_id, staff_id=principal.subject, at=clock.now())
    if doc is None:
        raise NotFound("notification", notification_id)
    return NotificationRead.model_validate({**doc, "notification_id": doc["_id"]})
