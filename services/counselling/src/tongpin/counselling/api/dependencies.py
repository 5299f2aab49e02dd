"""What the rooms' routes receive: the roles each admits, the context, case access, versions, the trace."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request, Response

from tongpin.counselling.context import CounsellingContext
from tongpin.counselling.domain.access import BREAK_GLASS_ROLES, visible_cases
from tongpin.counselling.handlers import access, common
from tongpin.counselling.schemas.cases import CaseRead, ConcernRead
from tongpin.shared.auth import ALL_ROLES, STAFF_ROLES, Principal, Public, Roles
from tongpin.shared.edge import MAX_OFFSET, MAX_VERSION
from tongpin.shared.problems import Invalid, NotFound

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


def context(request: Request) -> CounsellingContext:
    """What the handlers are given, wired once in create_app."""
    ctx: CounsellingContext = request.app.state.counselling
    return ctx


async def workable(request: Request, case_id: str, principal: Principal) -> dict[str, Any]:
    """The case, if the caller may open and work it; 403 (with the way to break the glass) otherwise."""
    ctx = context(request)
    return await access.case_for(repo=ctx.cases, staff=ctx.staff, notes=ctx.notes, case_id=case_id, by=principal)


async def visible(request: Request, principal: Principal, query: dict[str, Any]) -> dict[str, Any]:
    """A case query narrowed to the cases the caller may open."""
    ctx = context(request)
    visible = visible_cases(staff_id=principal.subject, roles=principal.roles,
                            unit=await access.staff_unit(staff=ctx.staff, by=principal))
    return query if visible is None else {"$and": [query, visible]} if query else visible


def trace(request: Request) -> common.Trace:
    return common.Trace(correlationid=request.state.correlation_id, traceparent=request.state.traceparent)


def version(body_version: int | None, if_match: str | None) -> int:
    """The version the caller read: the body field, or the If-Match header (3, "3" or W/"3")."""
    if body_version is not None:
        return body_version
    if if_match:
        raw = if_match.strip().removeprefix("W/").strip('"')
        if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_VERSION:
            return int(raw)
        raise Invalid("If-Match", "must be the case version, e.g. \"3\"")
    raise Invalid("version", "send the case version you read (a version field or an If-Match header)")


def published(request: Request, response: Response, version: int) -> None:
    request.app.state.runtime.notify_outbox()
    response.headers["ETag"] = f'"{version}"'


async def case_read(ctx: CounsellingContext, case_id: str) -> CaseRead:
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

