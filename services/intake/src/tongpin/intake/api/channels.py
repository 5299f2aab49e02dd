"""Channels, membership, the roster and members over HTTP."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import ValidationError

from tongpin.intake.api.dependencies import (
    AggregateReader,
    ChannelAdmin,
    Channels,
    Limit,
    MemberReader,
    Members,
    Memberships,
    Offset,
    RosterAdmin,
    TraceIds,
    runtime_of,
    settings_of,
)
from tongpin.intake.domain.roster import parse_roster_csv, validate_rows
from tongpin.intake.handlers import channels as handlers
from tongpin.intake.handlers import roster
from tongpin.intake.handlers.common import Trace, aware, business_now
from tongpin.intake.schemas.channels import (
    ChannelCreate,
    ChannelPage,
    ChannelRead,
    ChannelUpdate,
    DeliveryConfig,
    JoinCreate,
    LeaveCreate,
    MemberPage,
    MemberRead,
    MembershipRead,
    ParticipationRead,
    RosterReportRead,
    RosterUpsert,
    RowErrorRead,
)
from tongpin.shared.events import ChannelKind, Id, MemberKind
from tongpin.shared.logging import get_logger
from tongpin.shared.problems import Invalid, NotFound, Problem

log = get_logger(__name__)
router = APIRouter()

MAX_CSV_BYTES = 20 * 1024 * 1024


def _part(value: Any) -> ParticipationRead:
    return ParticipationRead(joined=value.joined, headcount=value.headcount, ratio=value.ratio, percent=value.percent)


def _channel(doc: dict[str, Any], **extra: Any) -> ChannelRead:
    try:
        return ChannelRead.model_validate({**doc, "id": doc["_id"], **extra})
    except ValidationError:
        # A channel stored by an older version with a field set to null: shown with defaults rather
        # than failing the whole list; the next valid update repairs it.
        log.warning("channel.stored_invalid", channel_id=doc["_id"])
        repaired = {"name": doc["_id"], "external_group_id": "", "delivery": DeliveryConfig().model_dump()}
        return ChannelRead.model_validate({**doc, **{k: v for k, v in repaired.items() if doc.get(k) is None},
                                           "id": doc["_id"], **extra})


@router.post("/channels", status_code=201, response_model=ChannelRead, tags=["channels"],
             summary="Register a channel bound to its external group")
async def create_channel(body: ChannelCreate, channels: Channels, _: ChannelAdmin) -> ChannelRead:
    """Register a channel; 409 when the id or the external group is taken."""
    document = body.model_dump(mode="json", exclude={"id"}) | {"_id": body.id}
    return _channel(await handlers.create_channel(channels=channels, document=document))


@router.patch("/channels/{channel_id}", response_model=ChannelRead, tags=["channels"], summary="Change a channel")
async def update_channel(channel_id: str, body: ChannelUpdate, channels: Channels, _: ChannelAdmin) -> ChannelRead:
    """Change a channel's name, group, unit or delivery; optimistic concurrency on version."""
    changes = body.model_dump(mode="json", exclude_unset=True, exclude={"version"})
    return _channel(await handlers.update_channel(channels=channels, channel_id=channel_id, version=body.version,
                                                  changes=changes))


@router.get("/channels", response_model=ChannelPage, tags=["channels"],
            summary="Channels with participation at a date")
async def list_channels(
    channels: Channels, members: Members, memberships: Memberships, _: AggregateReader,
    at: datetime | None = Query(default=None, description="the moment to measure; default now"),
    kind: ChannelKind | None = None,
) -> ChannelPage:
    """Every channel with its joined count at a date, and participation per channel kind."""
    moment = aware(at) if at else business_now()
    per_kind = await handlers.participation_at(members=members, memberships=memberships, at=moment)
    items = []
    for doc in await channels.listing(kind=kind):
        own = await handlers.participation_at(members=members, memberships=memberships, at=moment,
                                              channel_id=doc["_id"])
        mine = own[doc["kind"]]
        items.append(_channel(doc, members_joined=mine.joined, participation=_part(mine)))
    return ChannelPage(at=moment, items=items, participation={k: _part(v) for k, v in per_kind.items()})


@router.get("/participation", response_model=dict[str, ParticipationRead], tags=["channels"],
            summary="Participation per channel kind at a date")
async def get_participation(
    members: Members, memberships: Memberships, _: AggregateReader,
    at: datetime | None = Query(default=None, description="the moment to measure; default now"),
) -> dict[str, ParticipationRead]:
    """Members joined / roster headcount, per channel kind, at a moment (past dates work)."""
    moment = aware(at) if at else business_now()
    result = await handlers.participation_at(members=members, memberships=memberships, at=moment)
    return {k: _part(v) for k, v in result.items()}


def _membership(doc: dict[str, Any], changed: bool) -> MembershipRead:
    return MembershipRead.model_validate({**doc, "changed": changed})


@router.post("/channels/{channel_id}/joins", response_model=MembershipRead, status_code=201, tags=["membership"],
             summary="A member joined the channel")
async def join(channel_id: str, body: JoinCreate, response: Response, request: Request, channels: Channels,
               members: Members, memberships: Memberships, trace: TraceIds, _: RosterAdmin) -> MembershipRead:
    """Record a join with its real time; announces member.joined (200 and no event when already in)."""
    doc, changed = await handlers.join_channel(
        channels=channels, members=members, memberships=memberships, channel_id=channel_id,
        member_id=body.member_id, member_external_id=body.member_external_id, joined_at=body.joined_at, trace=trace,
        bureau_unit=settings_of(request).bureau_unit)
    if changed:
        runtime_of(request).notify_outbox()
    else:
        response.status_code = 200
    return _membership(doc, changed)


@router.post("/channels/{channel_id}/leaves", response_model=MembershipRead, tags=["membership"],
             summary="A member left the channel")
async def leave(channel_id: str, body: LeaveCreate, request: Request, channels: Channels, members: Members,
                memberships: Memberships, trace: TraceIds, _: RosterAdmin) -> MembershipRead:
    """Record a leave with its real time; announces member.left (no event when not in the channel)."""
    doc, changed = await handlers.leave_channel(
        channels=channels, members=members, memberships=memberships, channel_id=channel_id,
        member_id=body.member_id, member_external_id=body.member_external_id, left_at=body.left_at, trace=trace,
        bureau_unit=settings_of(request).bureau_unit)
    if doc is None:
        raise NotFound("membership", f"{body.member_id or body.member_external_id}@{channel_id}")
    if changed:
        runtime_of(request).notify_outbox()
    return _membership(doc, changed)


async def _import(request: Request, members: Members, rows: Any, errors: Any, trace: Trace) -> Any:
    report = await roster.upsert_roster(members=members, rows=rows, errors=errors, trace=trace,
                                          bureau_unit=settings_of(request).bureau_unit,
                                          zone=settings_of(request).bureau_zone)
    runtime_of(request).notify_outbox()
    return RosterReportRead(created=report.created, updated=report.updated, unchanged=report.unchanged,
                            rejected=[RowErrorRead(**r) for r in roster.report_rows(report.rejected)])


@router.post("/roster", response_model=RosterReportRead, tags=["roster"], summary="Bulk upsert the roster (JSON)")
async def upsert_roster(body: RosterUpsert, request: Request, members: Members, trace: TraceIds,
                        _: RosterAdmin) -> RosterReportRead:
    """Idempotent bulk upsert; bad rows are reported with row, field and reason and never block good ones."""
    rows, errors = validate_rows(body.rows, known_officer_ids=await members.officer_external_ids())
    return await _import(request, members, rows, errors, trace)


@router.post("/roster/csv", response_model=RosterReportRead, tags=["roster"], summary="Upload a roster CSV",
             responses={413: {"description": "too large"}},
             openapi_extra={"requestBody": {"required": True, "content": {"text/csv": {"schema": {
                 "type": "string", "format": "binary"}}}}})
async def upload_roster_csv(request: Request, members: Members, trace: TraceIds, _: RosterAdmin) -> RosterReportRead:
    """A UTF-8 CSV (English or Chinese headers, header row 1) as the request body; per-row report."""
    data = await request.body()
    if len(data) > MAX_CSV_BYTES:
        raise Problem(413, f"the CSV is over {MAX_CSV_BYTES} bytes")
    if not data.strip():
        raise Invalid("body", "the CSV is empty")
    rows, errors = parse_roster_csv(data, known_officer_ids=await members.officer_external_ids())
    return await _import(request, members, rows, errors, trace)


def _member(doc: dict[str, Any]) -> MemberRead:
    return MemberRead.model_validate({**doc, "id": doc["_id"]})


@router.get("/members", response_model=MemberPage, tags=["roster"], summary="List members")
async def list_members(members: Members, _: MemberReader, limit: Limit = 50, offset: Offset = 0,
                       member_kind: MemberKind | None = None, unit: Id | None = None,
                       active: bool | None = None) -> MemberPage:
    """Roster members, filtered by kind, unit and whether they are on the roster now."""
    query: dict[str, Any] = {}
    if member_kind:
        query["member_kind"] = member_kind
    if unit:
        query["unit"] = unit
    if active is not None:
        query["active"] = active
    docs, total = await members.page(query=query, limit=limit, offset=offset)
    return MemberPage(items=[_member(d) for d in docs], total=total, limit=limit, offset=offset)


@router.get("/members/{member_id}", response_model=MemberRead, tags=["roster"], summary="One member")
async def get_member(member_id: str, members: Members, _: MemberReader) -> MemberRead:
    """One member of the roster."""
    doc = await members.get(member_id)
    if doc is None:
        raise NotFound("member", member_id)
    return _member(doc)
