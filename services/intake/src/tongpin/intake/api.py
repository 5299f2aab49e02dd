"""Intake's HTTP API: thin routes that validate, call one handler and map the result."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError, model_validator

from tongpin.intake import handlers
from tongpin.intake.domain.messages import TextError
from tongpin.intake.domain.roster import MAX_ROWS, parse_roster_csv, validate_rows
from tongpin.intake.domain.wecom import (
    WeComCrypto,
    WeComCryptoError,
    WeComMessageError,
    WeComSignatureError,
    parse_message,
    to_message_input,
)
from tongpin.intake.repository import (
    ChannelRepository,
    DeliveryRepository,
    GuardRepository,
    MemberRepository,
    MembershipRepository,
    MessageRepository,
    ReceiptRepository,
)
from tongpin.intake.settings import IntakeSettings
from tongpin.shared.auth import Principal, Public, Roles
from tongpin.shared.edge import MAX_OFFSET, MAX_VERSION
from tongpin.shared.events import MAX_TEXT, ChannelKind, Id, MemberKind, OversightStatus
from tongpin.shared.logging import get_logger
from tongpin.shared.problems import Invalid, NotFound, Problem

log = get_logger(__name__)
router = APIRouter()

TEXT_DOC = f"What the person wrote, 1 to {MAX_TEXT} characters (MAX_TEXT), valid UTF-8, stored byte-for-byte."
MAX_CSV_BYTES = 20 * 1024 * 1024

Bridge = Annotated[Principal, Depends(Roles("system", "admin"))]
ChannelAdmin = Annotated[Principal, Depends(Roles("centre_coordinator", "admin"))]
RosterAdmin = Annotated[Principal, Depends(Roles("centre_coordinator", "admin", "system"))]
AggregateReader = Annotated[Principal, Depends(Roles(
    "political_worker", "psychologist", "centre_coordinator", "committee_member", "auditor", "admin"))]
MemberReader = Annotated[Principal, Depends(Roles("political_worker", "psychologist", "centre_coordinator", "admin"))]
MessageReader = Annotated[Principal, Depends(Roles("political_worker", "psychologist", "centre_coordinator"))]
DeliveryReader = Annotated[Principal, Depends(Roles("centre_coordinator", "admin"))]
Open = Annotated[None, Depends(Public())]
Limit = Annotated[int, Query(ge=1, le=200, description="page size, at most 200")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]


def _runtime(request: Request) -> Any:
    return request.app.state.runtime


def _settings(request: Request) -> IntakeSettings:
    return _runtime(request).settings


def _channels(request: Request) -> ChannelRepository:
    return ChannelRepository(_runtime(request).db)


def _members(request: Request) -> MemberRepository:
    return MemberRepository(_runtime(request).db)


def _memberships(request: Request) -> MembershipRepository:
    return MembershipRepository(_runtime(request).db)


def _messages(request: Request) -> MessageRepository:
    return MessageRepository(_runtime(request).db)


def _receipts(request: Request) -> ReceiptRepository:
    return ReceiptRepository(_runtime(request).db)


def _deliveries(request: Request) -> DeliveryRepository:
    return DeliveryRepository(_runtime(request).db)


def _guard(request: Request) -> GuardRepository:
    return GuardRepository(_runtime(request).db)


def _trace(request: Request) -> handlers.Trace:
    return handlers.Trace(request.state.correlation_id, request.state.traceparent)


def _client(request: Request) -> str:
    """The client's address: the connecting one, or what a trusted proxy saw (settings.trusted_proxies)."""
    return request.client.host[:64] if request.client else "unknown"


Channels = Annotated[ChannelRepository, Depends(_channels)]
Members = Annotated[MemberRepository, Depends(_members)]
Memberships = Annotated[MembershipRepository, Depends(_memberships)]
Messages = Annotated[MessageRepository, Depends(_messages)]
Receipts = Annotated[ReceiptRepository, Depends(_receipts)]
Deliveries = Annotated[DeliveryRepository, Depends(_deliveries)]
Guard = Annotated[GuardRepository, Depends(_guard)]
Settings = Annotated[IntakeSettings, Depends(_settings)]
TraceIds = Annotated[handlers.Trace, Depends(_trace)]
Client = Annotated[str, Depends(_client)]


# --- channels -----------------------------------------------------------------------------------


class DeliveryConfig(BaseModel):
    adapter: Literal["wecom_robot", "webhook", "none"] = Field(
        default="none", description="wecom_robot: the robot_webhook_url of TONGPIN_WECOM_APPS; webhook: url below, "
        "signed with HMAC using TONGPIN_WEBHOOK_SECRETS[channel id]")
    url: HttpUrl | None = None

    @model_validator(mode="after")
    def _url_for_webhook(self) -> DeliveryConfig:
        if self.adapter == "webhook" and self.url is None:
            raise ValueError("a webhook adapter needs a url")
        return self


class ChannelCreate(BaseModel):
    id: Id
    kind: ChannelKind
    name: str = Field(min_length=1, max_length=100)
    external_group_id: str = Field(min_length=1, max_length=128, description="the group's id in WeCom or the bridge")
    unit: Id | None = None
    delivery: DeliveryConfig = DeliveryConfig()


def _omit_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


class ChannelUpdate(BaseModel):
    """Only the fields sent change; name, group and delivery may be left out but never set to null."""

    model_config = ConfigDict(extra="forbid")

    # A None default that is never valid input: leaving a field out is allowed, sending null is not.
    version: int = Field(ge=1, le=MAX_VERSION, description="the version you read; 409 when it changed since")
    name: str = Field(default=None, min_length=1, max_length=100,  # type: ignore[assignment]
                      json_schema_extra=_omit_default)
    external_group_id: str = Field(default=None, min_length=1, max_length=128,  # type: ignore[assignment]
                                   json_schema_extra=_omit_default)
    unit: Id | None = Field(default=None, description="null clears the unit")
    delivery: DeliveryConfig = Field(default=None, json_schema_extra=_omit_default)  # type: ignore[assignment]


class ParticipationRead(BaseModel):
    joined: int
    headcount: int
    ratio: float | None = Field(description="joined / headcount, 4 decimal places; null with nobody on the roster")
    percent: float | None


class ChannelRead(BaseModel):
    id: str
    kind: ChannelKind
    name: str
    external_group_id: str
    unit: str | None
    delivery: DeliveryConfig
    version: int
    members_joined: int | None = Field(default=None, description="members in this channel at the date asked")
    participation: ParticipationRead | None = Field(
        default=None, description="this channel's joined members against its kind's roster headcount")


class ChannelPage(BaseModel):
    at: datetime
    items: list[ChannelRead]
    participation: dict[str, ParticipationRead] = Field(description="per channel kind, at the date asked")


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
    moment = handlers._aware(at) if at else handlers.business_now()
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
    moment = handlers._aware(at) if at else handlers.business_now()
    result = await handlers.participation_at(members=members, memberships=memberships, at=moment)
    return {k: _part(v) for k, v in result.items()}


# --- membership ---------------------------------------------------------------------------------


class JoinCreate(BaseModel):
    member_id: Id | None = None
    member_external_id: str | None = Field(default=None, min_length=1, max_length=64)
    joined_at: datetime = Field(description="when the member joined; the bridge may report a past time")


class LeaveCreate(BaseModel):
    member_id: Id | None = None
    member_external_id: str | None = Field(default=None, min_length=1, max_length=64)
    left_at: datetime


class MembershipRead(BaseModel):
    member_id: str
    channel_id: str
    channel_kind: ChannelKind
    in_channel: bool
    intervals: list[dict[str, datetime | None]]
    changed: bool


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
        bureau_unit=_settings(request).bureau_unit)
    if changed:
        _runtime(request).notify_outbox()
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
        bureau_unit=_settings(request).bureau_unit)
    if doc is None:
        raise NotFound("membership", f"{body.member_id or body.member_external_id}@{channel_id}")
    if changed:
        _runtime(request).notify_outbox()
    return _membership(doc, changed)


# --- roster -------------------------------------------------------------------------------------


class RosterUpsert(BaseModel):
    rows: list[dict[str, Any]] = Field(max_length=MAX_ROWS, description=(
        "roster rows: external_id, name, member_kind (officer/auxiliary/family/supervisor), unit, "
        "linked_officer_external_id, supervisor_kind, active, since"))


class RowErrorRead(BaseModel):
    row: int | None
    field: str | None
    reason: str


class RosterReportRead(BaseModel):
    created: list[str]
    updated: list[str]
    unchanged: list[str]
    rejected: list[RowErrorRead]


async def _import(request: Request, members: Members, rows: Any, errors: Any, trace: handlers.Trace) -> Any:
    report = await handlers.upsert_roster(members=members, rows=rows, errors=errors, trace=trace,
                                          bureau_unit=_settings(request).bureau_unit,
                                          zone=_settings(request).bureau_zone)
    _runtime(request).notify_outbox()
    return RosterReportRead(created=report.created, updated=report.updated, unchanged=report.unchanged,
                            rejected=[RowErrorRead(**r) for r in handlers.report_rows(report.rejected)])


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


class MemberRead(BaseModel):
    id: str
    external_id: str
    name: str
    member_kind: MemberKind
    channel_kind: ChannelKind
    unit: str | None
    linked_officer_id: str | None
    supervisor_kind: str | None
    active: bool
    roster_periods: list[dict[str, datetime | None]]
    version: int


class MemberPage(BaseModel):
    items: list[MemberRead]
    total: int
    limit: int
    offset: int


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


# --- messages -----------------------------------------------------------------------------------


class AttachmentMeta(BaseModel):
    name: str = Field(min_length=1, max_length=255)
    content_type: str = Field(min_length=1, max_length=100)
    size_bytes: int = Field(ge=0, le=2**40)
    url: HttpUrl | None = None


class MessageCreate(BaseModel):
    channel_id: Id
    channel_kind: ChannelKind | None = Field(default=None, description="optional; must match the channel's kind")
    source_message_id: str = Field(min_length=1, max_length=256, description="the source's id; retries reuse it")
    author_member_id: Id | None = None
    author_external_id: str | None = Field(default=None, min_length=1, max_length=64)
    anonymous: bool = False
    about_officer_id: Id | None = Field(default=None, description="the officer the message is about, when known")
    text: str = Field(min_length=1, max_length=MAX_TEXT, description=TEXT_DOC)
    sent_at: datetime
    attachments: list[AttachmentMeta] = Field(default=[], max_length=20)


class MessageRead(BaseModel):
    id: str
    channel_id: str
    channel_kind: ChannelKind
    origin: str
    source_message_id: str
    author_member_id: str | None
    anonymous: bool
    about_officer_id: str | None
    unit: str | None
    text: str | None = Field(description="null once retention has deleted it")
    attachments: list[dict[str, Any]]
    sent_at: datetime
    received_at: datetime
    has_receipt: bool
    public_status: OversightStatus | None


class MessagePage(BaseModel):
    items: list[MessageRead]
    total: int
    limit: int
    offset: int


def _message(doc: dict[str, Any]) -> MessageRead:
    return MessageRead.model_validate({
        "origin": "api", "anonymous": doc.get("author_member_id") is None, "about_officer_id": None, "unit": None,
        "attachments": [], "public_status": None, "received_at": doc.get("sent_at"),
        "author_member_id": None,
        **{k: v for k, v in doc.items() if v is not None or k in ("text", "author_member_id")},
        "id": doc["_id"], "has_receipt": bool(doc.get("receipt_id")),
    })


@router.post("/messages", status_code=201, response_model=MessageRead, tags=["messages"],
             summary="Accept one message from a channel bridge or another system",
             description="Idempotent on source_message_id: a retry of the same message returns the stored one "
                         "with 200; the same id with a different message (channel, author, text, time, "
                         f"attachments) is a 409 problem naming the id. {TEXT_DOC}")
async def post_message(body: MessageCreate, request: Request, response: Response, channels: Channels,
                       members: Members, messages: Messages, trace: TraceIds, _: Bridge) -> MessageRead:
    """Store a message as received and announce it as concern.raised."""
    doc, created = await handlers.post_message(
        channels=channels, members=members, messages=messages, channel_id=body.channel_id,
        channel_kind=body.channel_kind, source_message_id=body.source_message_id, text=body.text,
        sent_at=body.sent_at, author_member_id=body.author_member_id, author_external_id=body.author_external_id,
        anonymous=body.anonymous, about_officer_id=body.about_officer_id,
        attachments=[a.model_dump(mode="json") for a in body.attachments], origin="api", trace=trace,
        bureau_unit=_settings(request).bureau_unit,
    )
    if created:
        _runtime(request).notify_outbox()
    else:
        response.status_code = 200
    return _message(doc)


@router.get("/messages", response_model=MessagePage, tags=["messages"], summary="List messages")
async def list_messages(
    messages: Messages, _: MessageReader, limit: Limit = 50, offset: Offset = 0, channel_id: Id | None = None,
    channel_kind: ChannelKind | None = None, origin: Literal["channel", "wecom", "public_form", "api"] | None = None,
    author_member_id: Id | None = None, about_officer_id: Id | None = None,
    sent_from: datetime | None = None, sent_to: datetime | None = None,
) -> MessagePage:
    """Messages, newest first, with filters and bounded pages."""
    query: dict[str, Any] = {k: v for k, v in {
        "channel_id": channel_id, "channel_kind": channel_kind, "origin": origin,
        "author_member_id": author_member_id, "about_officer_id": about_officer_id}.items() if v is not None}
    sent: dict[str, Any] = {}
    if sent_from:
        sent["$gte"] = handlers._aware(sent_from)
    if sent_to:
        sent["$lt"] = handlers._aware(sent_to)
    if sent:
        query["sent_at"] = sent
    docs, total = await messages.page(query=query, limit=limit, offset=offset)
    return MessagePage(items=[_message(d) for d in docs], total=total, limit=limit, offset=offset)


class PreviewRead(BaseModel):
    id: str
    preview: str | None = Field(description="the first characters of the text; null once retention removed it")
    truncated: bool


class PreviewPage(BaseModel):
    items: list[PreviewRead]


PREVIEW_CHARS = 60
MessageIds = Annotated[str, Query(
    min_length=1, max_length=200 * 129, description="comma-separated message ids, at most 200",
    pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}(,[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}){0,199}$")]


@router.get("/messages/previews", response_model=PreviewPage, tags=["messages"],
            summary="Short previews of several messages (the triage queue shows them beside each decision)")
async def message_previews(ids: MessageIds, messages: Messages, _: MessageReader) -> PreviewPage:
    """The first characters of each message asked for; unknown ids are left out."""
    wanted = list(dict.fromkeys(ids.split(",")))
    found = {doc["_id"]: doc for doc in await messages.many(wanted)}
    items = []
    for message_id in wanted:
        doc = found.get(message_id)
        if doc is None:
            continue
        text = doc.get("text")
        items.append(PreviewRead(id=message_id, preview=None if text is None else text[:PREVIEW_CHARS],
                                 truncated=text is not None and len(text) > PREVIEW_CHARS))
    return PreviewPage(items=items)


@router.get("/messages/{message_id}", response_model=MessageRead, tags=["messages"], summary="One message")
async def get_message(message_id: str, messages: Messages, _: MessageReader) -> MessageRead:
    """One message as received."""
    doc = await messages.get(message_id)
    if doc is None:
        raise NotFound("message", message_id)
    return _message(doc)


# --- deliveries ---------------------------------------------------------------------------------


class DeliveryRead(BaseModel):
    id: str
    kind: Literal["reply", "broadcast"]
    target: Literal["channel", "receipt"]
    channel_id: str | None
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: datetime | None
    attempt_log: list[dict[str, Any]]
    created_at: datetime
    finished_at: datetime | None


class DeliveryPage(BaseModel):
    items: list[DeliveryRead]
    total: int
    limit: int
    offset: int


@router.get("/deliveries", response_model=DeliveryPage, tags=["delivery"], summary="Deliveries and their outcomes")
async def list_deliveries(deliveries: Deliveries, _: DeliveryReader, limit: Limit = 50, offset: Offset = 0,
                          status: Literal["pending", "delivered", "failed"] | None = None,
                          channel_id: Id | None = None) -> DeliveryPage:
    """Every reply and broadcast delivery with each attempt's outcome (no text)."""
    query = {k: v for k, v in {"status": status, "channel_id": channel_id}.items() if v is not None}
    docs, total = await deliveries.page(query=query, limit=limit, offset=offset)
    return DeliveryPage(items=[DeliveryRead.model_validate({**d, "id": d["_id"]}) for d in docs], total=total,
                        limit=limit, offset=offset)


# --- public form --------------------------------------------------------------------------------


class SubmissionCreate(BaseModel):
    channel_kind: Literal["families", "supervision"]
    channel_id: Id | None = Field(default=None, description="optional; default the first channel of the kind")
    text: str = Field(min_length=1, max_length=MAX_TEXT, description=TEXT_DOC)
    anonymous: bool = True
    contact: str | None = Field(default=None, max_length=200, description="kept only when not anonymous")


class SubmissionRead(BaseModel):
    concern_id: str
    receipt_code: str = Field(description="shown this once; only its keyed hash is stored")
    status: OversightStatus


class ReceiptLookup(BaseModel):
    receipt_code: str = Field(min_length=1, max_length=64)


class ReceiptMessageCreate(BaseModel):
    receipt_code: str = Field(min_length=1, max_length=64)
    text: str = Field(min_length=1, max_length=MAX_TEXT, description=TEXT_DOC)


class ThreadEntryRead(BaseModel):
    kind: Literal["submission", "reply", "status"]
    at: datetime
    text: str | None = None
    status: OversightStatus | None = None


class ThreadRead(BaseModel):
    status: OversightStatus
    channel_kind: ChannelKind
    created_at: datetime
    entries: list[ThreadEntryRead]


@router.post("/public/submissions", status_code=201, response_model=SubmissionRead, tags=["public"],
             responses={429: {"description": "throttled"}},
             summary="Public form (no login) for the families and supervision channels",
             description=f"Anonymous allowed. Rate limited per client and overall (429). {TEXT_DOC}")
async def submit(body: SubmissionCreate, request: Request, channels: Channels, messages: Messages,
                 receipts: Receipts, guard: Guard, settings: Settings, client: Client, trace: TraceIds,
                 _: Open) -> SubmissionRead:
    """Take a submission and return its receipt code once."""
    doc, code = await handlers.submit_public(
        channels=channels, messages=messages, receipts=receipts, guard=guard, settings=settings, client=client,
        channel_kind=body.channel_kind, channel_id=body.channel_id, text=body.text, anonymous=body.anonymous,
        contact=body.contact, about_officer_id=None, trace=trace)
    _runtime(request).notify_outbox()
    return SubmissionRead(concern_id=doc["_id"], receipt_code=code, status="received")


@router.post("/public/receipts/thread", response_model=ThreadRead, tags=["public"],
             responses={429: {"description": "throttled"}},
             summary="Read a receipt's status and replies",
             description="The code travels in the body, never the URL. Wrong codes answer 404 and lock the client "
                         "out for longer and longer (429 with Retry-After).")
async def read_thread(body: ReceiptLookup, request: Request, messages: Messages, receipts: Receipts,
                      deliveries: Deliveries, guard: Guard, settings: Settings, client: Client,
                      _: Open) -> ThreadRead:
    """The thread of a receipt code."""
    receipt = await handlers.open_receipt(receipts=receipts, guard=guard, settings=settings, client=client,
                                          code=body.receipt_code, now=handlers.now_utc())
    return ThreadRead.model_validate(await handlers.read_thread(receipt=receipt, messages=messages,
                                                                deliveries=deliveries))


@router.post("/public/receipts/messages", status_code=201, response_model=ThreadRead, tags=["public"],
             responses={429: {"description": "throttled"}},
             summary="Add a message to a receipt's thread", description=TEXT_DOC)
async def add_receipt_message(body: ReceiptMessageCreate, request: Request, messages: Messages, receipts: Receipts,
                              deliveries: Deliveries, guard: Guard, settings: Settings, client: Client,
                              trace: TraceIds, _: Open) -> ThreadRead:
    """A follow-up from the receipt holder; returns the thread."""
    receipt = await handlers.open_receipt(receipts=receipts, guard=guard, settings=settings, client=client,
                                          code=body.receipt_code, now=handlers.now_utc())
    await handlers.add_public_message(receipt=receipt, messages=messages, receipts=receipts, guard=guard,
                                      settings=settings, client=client, text=body.text, trace=trace)
    _runtime(request).notify_outbox()
    fresh = await receipts.get(receipt["_id"])
    assert fresh is not None
    return ThreadRead.model_validate(await handlers.read_thread(receipt=fresh, messages=messages,
                                                                deliveries=deliveries))


# --- WeCom --------------------------------------------------------------------------------------


def _wecom(settings: IntakeSettings, channel_id: str) -> WeComCrypto:
    app = settings.wecom_apps.get(channel_id)
    if app is None:
        raise NotFound("WeCom app for channel", channel_id)
    return WeComCrypto(token=app.token.get_secret_value(), encoding_aes_key=app.aes_key.get_secret_value(),
                       receive_id=app.corp_id)


SignatureParam = Annotated[str, Query(min_length=1, max_length=128)]


@router.get("/wecom/{channel_id}/callback", response_class=PlainTextResponse, tags=["wecom"],
            summary="WeCom URL verification (signed by WeCom, no login)")
async def wecom_verify(channel_id: str, settings: Settings, msg_signature: SignatureParam, timestamp: SignatureParam,
                       nonce: SignatureParam, echostr: Annotated[str, Query(min_length=1, max_length=4096)],
                       _: Open) -> PlainTextResponse:
    """Answer WeCom's URL check with the decrypted echostr."""
    crypto = _wecom(settings, channel_id)
    try:
        plain = crypto.verify_url(msg_signature=msg_signature, timestamp=timestamp, nonce=nonce, echostr=echostr)
    except WeComSignatureError:
        raise Problem(403, "msg_signature does not match") from None
    except WeComCryptoError as exc:
        raise Invalid("echostr", str(exc)) from None
    return PlainTextResponse(plain)


@router.post("/wecom/{channel_id}/callback", response_class=PlainTextResponse, tags=["wecom"],
             summary="WeCom encrypted message callback (signed by WeCom, no login)",
             description=f"Group text messages become messages of the channel. {TEXT_DOC}")
async def wecom_receive(channel_id: str, request: Request, settings: Settings, channels: Channels, members: Members,
                        messages: Messages, trace: TraceIds, msg_signature: SignatureParam,
                        timestamp: SignatureParam, nonce: SignatureParam, _: Open) -> PlainTextResponse:
    """Verify, decrypt and store one message; a wrong signature stores nothing."""
    crypto = _wecom(settings, channel_id)
    body = await request.body()
    try:
        inner = crypto.decrypt_message(msg_signature=msg_signature, timestamp=timestamp, nonce=nonce, xml_body=body)
        parsed = to_message_input(parse_message(inner))
    except WeComSignatureError:
        raise Problem(403, "msg_signature does not match") from None
    except (WeComCryptoError, WeComMessageError) as exc:
        raise Invalid("body", str(exc)) from None
    except TextError as exc:
        raise Invalid(exc.field, exc.reason) from None
    if parsed is None:
        return PlainTextResponse("success")  # events and non-text messages: acknowledged, nothing to store
    author = await members.by_external_id(parsed.author_external_id)
    if author is None:
        log.warning("wecom.unknown_sender", channel_id=channel_id)
    _doc, created = await handlers.post_message(
        channels=channels, members=members, messages=messages, channel_id=channel_id,
        source_message_id=parsed.source_message_id, text=parsed.text, sent_at=parsed.sent_at,
        author_member_id=author["_id"] if author else None, anonymous=author is None, origin="wecom", trace=trace,
        bureau_unit=settings.bureau_unit)
    if created:
        _runtime(request).notify_outbox()
    return PlainTextResponse("success")
