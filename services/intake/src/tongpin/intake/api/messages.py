"""Messages over HTTP: accepting one from a bridge or system, listing and reading them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from tongpin.intake.api.dependencies import (
    Bridge,
    Channels,
    Limit,
    Members,
    MessageReader,
    Messages,
    Offset,
    TraceIds,
    runtime_of,
    settings_of,
)
from tongpin.intake.handlers import messages as handlers
from tongpin.intake.handlers.common import aware
from tongpin.intake.schemas.messages import (
    TEXT_DOC,
    MessageCreate,
    MessagePage,
    MessageRead,
    PreviewPage,
    PreviewRead,
)
from tongpin.shared.events import ChannelKind, Id
from tongpin.shared.problems import NotFound

router = APIRouter()


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
        bureau_unit=settings_of(request).bureau_unit,
    )
    if created:
        runtime_of(request).notify_outbox()
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
        sent["$gte"] = aware(sent_from)
    if sent_to:
        sent["$lt"] = aware(sent_to)
    if sent:
        query["sent_at"] = sent
    docs, total = await messages.page(query=query, limit=limit, offset=offset)
    return MessagePage(items=[_message(d) for d in docs], total=total, limit=limit, offset=offset)


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
